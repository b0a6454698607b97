import Foundation
@testable import NetStackLoad
import XCTest

/// The summary's terminal histograms (`TrendChart`) as values, and in a load run's summary.
final class TrendChartTests: XCTestCase {
    func trend(_ samples: [(Double, Int)]) -> MetricValue {
        var v = MetricValue(kind: .trend)
        for (value, n) in samples { for _ in 0..<n { v.add(value) } }
        return v
    }

    /// The count at the end of a row ("... 10 (10.0%)").
    func counts(_ rows: [String]) -> [Int] {
        rows.map { row in
            let parts = row.split(separator: " ")
            return Int(parts[parts.count - 2].replacingOccurrences(of: ",", with: "")) ?? -1
        }
    }

    func testLogarithmicBucketsCountEverySample() {
        let v = trend([(1, 10), (2, 10), (100, 80)])
        let rows = TrendChart.render(v, unit: .milliseconds)
        XCTAssertEqual(rows.count, 8)
        XCTAssertEqual(counts(rows), [10, 10, 0, 0, 0, 0, 0, 80], rows.joined(separator: "\n"))
        XCTAssertTrue(rows[0].contains("1ms … 1.78ms"), rows[0])
        XCTAssertTrue(rows[7].contains("56.23ms … 100ms"), rows[7])
        XCTAssertTrue(rows[7].contains("│" + String(repeating: "█", count: 32) + " 80 (80.0%)"), "the fullest bucket fills the bar: \(rows[7])")
        XCTAssertTrue(rows[0].contains("│████ 10 (10.0%)"), "a bucket an eighth as full: \(rows[0])")
        XCTAssertTrue(rows.allSatisfy { $0.count <= 80 }, "fits 80 columns")
    }

    func testEvenBucketsPartialBarsAndEdgeCases() {
        let v = trend([(10, 3), (11, 1), (12, 2), (17, 6)])
        let rows = TrendChart.render(v, unit: .milliseconds, rows: 7, barWidth: 10)
        XCTAssertEqual(counts(rows), [3, 1, 2, 0, 0, 0, 6], rows.joined(separator: "\n"))
        XCTAssertTrue(rows[0].contains("│█████ 3 (25.0%)"), rows[0])
        XCTAssertTrue(rows[1].contains("│█▋ 1 (8.3%)"), "10/6 cells: one block and five eighths: \(rows[1])")
        XCTAssertEqual(TrendChart.render(trend([(5, 4)]), unit: .milliseconds), ["      all 4 samples at 5ms"])
        XCTAssertEqual(TrendChart.render(MetricValue(kind: .trend), unit: .milliseconds), [])
        XCTAssertEqual(TrendChart.grouped(1_234_567), "1,234,567")
        XCTAssertEqual(TrendChart.grouped(999), "999")
    }

    func testEdgesOfANarrowRangeAreWrittenWithTheDigitsThatTellThemApart() {
        // Sessions of about a second: with the summary's usual digits every edge reads "1s".
        let v = trend([(1000.4, 2), (1001.2, 1), (1003.9, 1)])
        let rows = TrendChart.render(v, unit: .milliseconds)
        let labels = rows.map { String($0.split(separator: "│")[0]).trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(Set(labels).count, 8, rows.joined(separator: "\n"))
        XCTAssertEqual(labels[0], "1.0004s … 1.0008s", rows.joined(separator: "\n"))
        XCTAssertTrue(labels[7].hasSuffix("… 1.0039s"), rows.joined(separator: "\n"))
        // Rows this narrow are finer than the histogram's three digits: 1001.2 may count a row up.
        let n = counts(rows)
        XCTAssertEqual([n[0], n.reduce(0, +), n[7]], [2, 4, 1], rows.joined(separator: "\n"))
        // Samples within one of the histogram's buckets get one line, not rows finer than it
        // can place them; two buckets apart, two rows.
        XCTAssertEqual(TrendChart.render(trend([(1000.40, 1), (1000.41, 1)]), unit: .milliseconds),
                       ["      all 2 samples from 1.00040s to 1.00041s"])
        XCTAssertEqual(TrendChart.render(trend([(1000.0, 1), (1000.6, 1)]), unit: .milliseconds).count, 2)
        // Edges that already differ keep the usual digits.
        XCTAssertTrue(TrendChart.render(trend([(1, 10), (2, 10)]), unit: .milliseconds)[0].contains("1ms … 1.12ms"))
        XCTAssertEqual(SummaryTable.format(0.99825, .milliseconds, significant: 5), "998.25µs")
        XCTAssertEqual(SummaryTable.format(2_000_000, .bytes, significant: 4), "2.000MB")
    }

    func testMergedTrendsChartTheUnionOfTheirSamples() {
        var a = trend([(1, 10), (2, 10)])
        let b = trend([(100, 80)])
        a.merge(b)
        XCTAssertEqual(counts(TrendChart.render(a, unit: .milliseconds)), [10, 10, 0, 0, 0, 0, 0, 80])
    }

    func testLoadRunSummaryShowsHistograms() throws {
        let r = try runNetstack(["run", "scripts/bench-vus/vus.lua", "--vus", "2", "--quiet", "--", "echo", "2", "20"], cwd: CLITests.root)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("ws_connect_time"), r.out)
        XCTAssertTrue(r.out.contains(" │█"), "a histogram under the trends: \(r.out)")
        let off = try runNetstack(["run", "scripts/bench-vus/vus.lua", "--vus", "2", "--quiet", "--no-summary-histograms", "--", "echo", "2", "20"], cwd: CLITests.root)
        XCTAssertEqual(off.status, 0, off.err)
        XCTAssertFalse(off.out.contains("│"), off.out)
    }
}
