import Foundation
@testable import NetStackLoad
import XCTest

/// `run --report FILE.html`: the timeline and the HTML as values, and a load run's report
/// rendered by headless Chromium with its charts present.
final class HTMLReportTests: XCTestCase {
    func interval(msgs: Double, rtt: [Double], errors: Double = 0) -> MetricSet {
        var set = MetricSet()
        var sent = MetricValue(kind: .counter)
        sent.add(msgs)
        set.series[BuiltinMetrics.msgsSent] = sent
        var failures = MetricValue(kind: .counter)
        failures.add(errors)
        set.series[BuiltinMetrics.connectFailures] = failures
        var trend = MetricValue(kind: .trend)
        for v in rtt { trend.add(v) }
        set.series[BuiltinMetrics.rtt] = trend
        return set
    }

    func testTimelineRatesPercentilesAndCompaction() {
        var t = ReportTimeline()
        t.add(interval(msgs: 100, rtt: [1, 2, 3, 4, 100]), time: 1, span: 1)
        t.add(interval(msgs: 50, rtt: [], errors: 2), time: 1.5, span: 0.5)
        XCTAssertEqual(t.points.count, 2)
        XCTAssertEqual(t.points[0].rates[BuiltinMetrics.msgsSent], 100)
        XCTAssertEqual(t.points[1].rates[BuiltinMetrics.msgsSent], 100, "50 in half a second")
        XCTAssertEqual(t.points[1].rates[BuiltinMetrics.connectFailures], 4)
        XCTAssertEqual(t.points[0].trends[BuiltinMetrics.rtt]?[0] ?? 0, 3, accuracy: 0.01)
        XCTAssertEqual(t.points[0].trends[BuiltinMetrics.rtt]?[2] ?? 0, 100, accuracy: 0.1)
        XCTAssertNil(t.points[1].trends[BuiltinMetrics.rtt], "no samples, no point")
        // Bounded: past maxPoints, pairs merge (rates weighted by span, p99 the larger).
        var long = ReportTimeline()
        for i in 1...(ReportTimeline.maxPoints + 1) { long.add(interval(msgs: Double(i % 2 == 0 ? 10 : 30), rtt: [Double(i)]), time: Double(i), span: 1) }
        XCTAssertLessThanOrEqual(long.points.count, ReportTimeline.maxPoints)
        XCTAssertEqual(long.points[0].rates[BuiltinMetrics.msgsSent], 20)
        XCTAssertEqual(long.points[0].span, 2)
        XCTAssertEqual(long.points[0].trends[BuiltinMetrics.rtt]?[2] ?? 0, 2, accuracy: 0.01)
    }

    func testHTMLIsSelfContainedAndEscaped() {
        var t = ReportTimeline()
        t.add(interval(msgs: 100, rtt: [1, 2]), time: 1, span: 1)
        t.add(interval(msgs: 80, rtt: [3], errors: 1), time: 2, span: 1)
        let html = HTMLReport.render(.init(script: "<bot>.lua", runID: "r1", startedAt: Date(timeIntervalSince1970: 0), duration: 2, status: 99,
                                           summary: "a & b", thresholds: []), timeline: t)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(html.contains("&lt;bot&gt;.lua") && !html.contains("<bot>"), "escaped")
        XCTAssertTrue(html.contains("<pre>a &amp; b</pre>"))
        XCTAssertTrue(html.contains("data-chart=\"rates\"") && html.contains("data-series=\"ws_msgs_sent\""))
        XCTAssertTrue(html.contains("data-chart=\"errors\"") && html.contains("data-series=\"ws_connect_failures\""))
        XCTAssertTrue(html.contains("data-series=\"ws_errors\""), "drawn at 0 when there were none")
        XCTAssertTrue(html.contains("data-chart=\"trend-ws_rtt\""))
        XCTAssertTrue(html.contains("class=\"fail\">99<"), "the exit status")
        XCTAssertFalse(html.contains("<script") || html.contains("http://") && !html.contains("xmlns=\"http://www.w3.org/2000/svg\""), "nothing fetched, nothing run")
        XCTAssertEqual(HTMLReport.niceCeiling(3.2), 5)
        XCTAssertEqual(HTMLReport.niceCeiling(120), 200)
    }

    /// A real load run's report, rendered by headless Chromium: the DOM after parsing has every
    /// chart with its lines, the thresholds and the summary.
    func testLoadRunReportRendersInChromium() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            let why = "chromium is not installed: scripts/bootstrap installs it"
            if ProcessInfo.processInfo.environment["NETSTACK_REQUIRE_INTEROP"] == "1" { throw CLITests.Failure(why) }
            throw XCTSkip(why)
        }
        let dir = NSTemporaryDirectory() + "netstack-report-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let report = dir + "/report.html"
        let r = try runNetstack(["run", "scripts/bench-vus/vus.lua", "--vus", "3", "--duration", "2500ms", "--quiet", "--report", report,
                                 "--threshold", "iteration_duration: p(95)<10000", "--", "echo", "3", "100"], timeout: 60, cwd: CLITests.root)
        XCTAssertEqual(r.status, 0, r.err)
        let (status, dom) = try runTool(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + report])
        XCTAssertEqual(status, 0, String(dom.suffix(2000)))
        for chart in ["rates", "throughput", "errors", "gauges", "trend-ws_connect_time", "trend-ws_session_duration", "iteration_duration"] {
            XCTAssertTrue(dom.contains("data-chart=\"\(chart)\"") || dom.contains("data-chart=\"trend-\(chart)\""), "chart \(chart)")
        }
        // Lines with at least two points (the run had several intervals).
        let lines = dom.components(separatedBy: "<polyline").dropFirst().filter { part in
            guard let r = part.range(of: "points=\""), let end = part[r.upperBound...].firstIndex(of: "\"") else { return false }
            return part[r.upperBound..<end].split(separator: " ").count >= 2
        }
        XCTAssertGreaterThanOrEqual(lines.count, 10, "lines drawn")
        XCTAssertTrue(dom.contains("data-series=\"ws_connect_failures\"") && dom.contains("ws_msgs_sent") && dom.contains("p(95)&lt;10000") && dom.contains("✓ pass"), "thresholds")
        XCTAssertTrue(dom.contains("iteration_duration....") , "the summary table")
        let png = dir + "/report.png"
        let (shot, shotOut) = try runTool(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--screenshot=" + png, "--window-size=900,1400", "file://" + report])
        XCTAssertEqual(shot, 0, String(shotOut.suffix(1000)))
        let size = (try? FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0
        XCTAssertGreaterThan(size, 20_000, "a screenshot with charts in it")
    }
}
