import Foundation
@testable import NetStackLoad
import XCTest

/// The end-of-run summary as text: every line fits 80 columns, whatever the values.
final class SummaryTableTests: XCTestCase {
    func trend(_ values: [Double]) -> MetricValue {
        var v = MetricValue(kind: .trend)
        for x in values { v.add(x) }
        return v
    }

    func assertFits(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        for row in text.split(separator: "\n") {
            XCTAssertLessThanOrEqual(row.count, SummaryTable.width, "too wide: \(row)\n\(text)", file: file, line: line)
        }
    }

    /// The trend columns may be chosen, as k6's summaryTrendStats: in the order given, p(N) shown
    /// as pN, count as the whole number; a bad list names what is allowed.
    func testChosenTrendStatsAreTheColumnsInTheirOrder() throws {
        var set = MetricSet()
        set.definitions["t"] = MetricDefinition(kind: .trend, unit: .milliseconds)
        set.series["t"] = trend((1...1000).map(Double.init))
        let stats = try TrendStat.list("p(99.9),count,avg,p(0),p(100)")
        let lines = SummaryTable.render(set, duration: 1, thresholds: [], histograms: false, trendStats: stats).split(separator: "\n")
        XCTAssertEqual(lines.count, 3, lines.joined(separator: "\n"))
        XCTAssertEqual(lines[2], "    p99.9=999ms count=1000 avg=500ms p0=1ms p100=1s")
        XCTAssertEqual(try TrendStat.list("avg,min,med,max"), [.avg, .min, .med, .max])
        XCTAssertEqual(TrendStat.defaults.map(\.label), ["avg", "min", "med", "p90", "p95", "p99", "max"])
        for bad in ["", "avg,", "p(101)", "p(-1)", "p50", "p(x)", "mean", "p( 5)", "p(nan)"] {
            XCTAssertThrowsError(try TrendStat.list(bad), bad)
        }
        // From the options, and the command line's list wins.
        let options = OptionValue.table(["summaryTrendStats": .list([.string("avg"), .string("p(99)")])])
        XCTAssertEqual(try LoadPlan.make(commandLine: .init(), options: options).summaryTrendStats, [.avg, .percentile(99)])
        var cli = LoadPlan.CommandLine()
        cli.summaryTrendStats = [.max]
        XCTAssertEqual(try LoadPlan.make(commandLine: cli, options: options).summaryTrendStats, [.max])
        XCTAssertEqual(try LoadPlan.make(commandLine: .init(), options: nil).summaryTrendStats, TrendStat.defaults)
        XCTAssertThrowsError(try LoadPlan.make(commandLine: .init(), options: .table(["summaryTrendStats": .string("avg")])))
        XCTAssertThrowsError(try LoadPlan.make(commandLine: .init(), options: .table(["summaryTrendStats": .list([.string("p(200)")])])))
    }

    /// Trends in microseconds with four digits each (the widest values the format makes) used to
    /// reach 81-86 columns, more on an indented sub-metric: the fields now continue on a second line.
    func testTrendLinesWrapAt80Columns() {
        var set = MetricSet()
        set.definitions["ws_rtt"] = MetricDefinition(kind: .trend, unit: .milliseconds)
        set.series["ws_rtt{scenario:a}"] = trend([0.1234, 0.2345, 0.5678, 0.8765, 0.9123, 0.9456, 0.9876])
        set.series["ws_rtt{scenario:b}"] = trend([0.4321, 0.5432, 0.6543, 0.7654])
        let text = SummaryTable.render(set, duration: 10, thresholds: [], histograms: false)
        assertFits(text)
        // Nothing is lost: each of the seven fields is there, for the metric and both sub-metrics.
        for field in ["avg=", "min=", "med=", "p90=", "p95=", "p99=", "max="] {
            XCTAssertEqual(text.components(separatedBy: field).count - 1, 3, "\(field) in\n\(text)")
        }
        // A line that fits is unchanged: one line of fields.
        var narrow = MetricSet()
        narrow.definitions["t"] = MetricDefinition(kind: .trend, unit: .milliseconds)
        narrow.series["t"] = trend([1, 2, 3])
        let lines = SummaryTable.render(narrow, duration: 1, thresholds: [], histograms: false).split(separator: "\n")
        XCTAssertEqual(lines.count, 3, lines.joined(separator: "\n"))
        XCTAssertTrue(lines[2].hasPrefix("    avg=2ms min=1ms med=2ms p90=3ms"), String(lines[2]))
        // Three significant digits (what the histogram holds): seven fields then fit one line.
        var ms = MetricSet()
        ms.definitions["t"] = MetricDefinition(kind: .trend, unit: .milliseconds)
        ms.series["t"] = trend([16.75, 18.11, 19.46, 0.3473])
        let row = SummaryTable.render(ms, duration: 1, thresholds: [], histograms: false).split(separator: "\n")
        XCTAssertEqual(row.count, 3, row.joined(separator: "\n"))
        XCTAssertTrue(row[2].contains("min=347µs"), String(row[2]))
        XCTAssertTrue(row[2].contains("max=19.5ms"), String(row[2]))
        XCTAssertEqual(SummaryTable.threeDigits(2.0149), "2.01")
        XCTAssertEqual(SummaryTable.threeDigits(0.12345), "0.123")
        XCTAssertEqual(SummaryTable.threeDigits(517.9), "518")
        XCTAssertEqual(SummaryTable.threeDigits(42), "42")
        // A value that rounds to a whole number at the digits shown reads as one: an exact
        // maximum of 15.0001 beside a percentile of 15 both print 15 (was "15.0" and "15").
        XCTAssertEqual(SummaryTable.threeDigits(15.0001), "15")
        XCTAssertEqual(SummaryTable.threeDigits(14.97), "15")
        XCTAssertEqual(SummaryTable.threeDigits(1.0004), "1")
        XCTAssertEqual(SummaryTable.threeDigits(-0.0001), "0")
        XCTAssertEqual(SummaryTable.threeDigits(15.06), "15.1")
        XCTAssertEqual(SummaryTable.number(2.0001), "2")
        XCTAssertEqual(SummaryTable.number(2.5), "2.50")
        XCTAssertEqual(SummaryTable.format(0.0150001, .milliseconds, digits: 3), "15µs")
    }

    /// Gauges with the largest numbers that print in full (below 10^15) stay within 80 columns.
    func testHugeGaugesFit() {
        var set = MetricSet()
        set.definitions["depth"] = MetricDefinition(kind: .gauge)
        set.series["depth"] = MetricValue(gauge: 123_456_789_012_345.5, min: -123_456_789_012_345.5, max: 987_654_321_098_765, count: 3, at: 0)
        let text = SummaryTable.render(set, duration: 1, thresholds: [], histograms: false)
        assertFits(text)
        XCTAssertTrue(text.contains("min=-123456789012345.5"), text)
        XCTAssertTrue(text.contains("max=987654321098765"), text)
    }

    /// Script errors (and anything else in a summary file made elsewhere) never reach the
    /// terminal as control characters.
    func testControlCharactersAreShownAsEscapes() {
        var set = MetricSet()
        set.definitions["c"] = MetricDefinition(kind: .counter)
        set.series["c"] = { var v = MetricValue(kind: .counter); v.add(1); return v }()
        let text = SummaryTable.render(set, duration: 1, thresholds: [], errors: [(message: "got \u{1B}[2J\u{07}\nnext", count: 2)], histograms: false)
        XCTAssertFalse(text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, text)
        XCTAssertTrue(text.contains("2× got \\x1b[2J\\x07\\x0anext"), text)
    }

    func testWrappedKeepsPartsWhole() {
        let parts = (1...12).map { (separator: " ", text: String(repeating: "x", count: 9) + "\($0 % 10)") }
        let text = SummaryTable.wrapped("  ", parts, continuation: "  ")
        assertFits(text)
        XCTAssertEqual(text.split(separator: "\n").flatMap { $0.split(separator: " ") }.count, 12)
        XCTAssertTrue(text.hasSuffix("\n"))
        // A single part wider than the line is kept whole on its own line.
        XCTAssertEqual(SummaryTable.wrapped("a: ", [("", String(repeating: "y", count: 90))], continuation: "  "), "a: " + String(repeating: "y", count: 90) + "\n")
    }
}
