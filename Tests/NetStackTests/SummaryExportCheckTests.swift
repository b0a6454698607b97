import Foundation
import NetStackLoad
import XCTest

/// `netstack merge` reads exports written on other machines: each corrupt or hostile field is
/// refused with its reason (status 2), never a crash, a trap in arithmetic or an unbounded
/// allocation; and scripts that push built-in counters to 1e308 do not crash a run.
final class SummaryExportCheckTests: XCTestCase {
    private func export() throws -> SummaryExport {
        var set = MetricSet()
        set.definitions = BuiltinMetrics.definitions
        var trend = MetricValue(kind: .trend)
        for v in [0.5, 12.0, 300.0] { trend.add(v) }
        set.series["iteration_duration{scenario:a}"] = trend
        var counter = MetricValue(kind: .counter)
        counter.add(3)
        set.series["iterations{scenario:a}"] = counter
        var gauge = MetricValue(kind: .gauge)
        gauge.add(2, at: 1)
        set.series["vus"] = gauge
        return SummaryExport(runID: "r", script: "s.lua", scriptSHA256: String(repeating: "a", count: 64), segment: try Segment(index: 1, count: 1),
                             startedAt: 1_700_000_000, duration: 2, status: 0, thresholds: [], metrics: set)
    }

    /// The export as a JSON object, changed by `edit`, decoded and checked: the error's words.
    private func refusal(_ edit: (inout [String: Any]) -> Void, budget: HistogramBudget? = nil) throws -> String? {
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: try export().encoded()) as? [String: Any])
        edit(&object)
        let data = try JSONSerialization.data(withJSONObject: object)
        do {
            try SummaryExport.decode(data, budget: budget).check()
            return nil
        } catch let e as LoadOptionError {
            return e.message
        } catch {
            return SummaryExport.describe(error)
        }
    }

    private func series(_ key: String, _ edit: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
        { object in
            var metrics = object["metrics"] as! [String: Any]
            var all = metrics["series"] as! [String: Any]
            var one = all[key] as! [String: Any]
            edit(&one)
            all[key] = one
            metrics["series"] = all
            object["metrics"] = metrics
        }
    }

    func testHostileFieldsAreRefusedWithTheirReason() throws {
        XCTAssertNil(try refusal { _ in }, "the export as written is accepted")
        let trend = "iteration_duration{scenario:a}", counter = "iterations{scenario:a}"
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("duration is -1.0", { $0["duration"] = -1 }),
            ("duration is nan", { $0["duration"] = "nan" }),
            ("startedAt is inf", { $0["startedAt"] = "inf" }),
            ("status 300 is not an exit status", { $0["status"] = 300 }),
            ("a counter of the trend 'iteration_duration'", series(trend) { $0["kind"] = "counter"; $0["histogram"] = nil }),
            ("its metric is not defined", { o in
                var m = o["metrics"] as! [String: Any]; var s = m["series"] as! [String: Any]
                s["nobody_defined_this"] = s[counter]; m["series"] = s; o["metrics"] = m }),
            ("malformed tags", { o in
                var m = o["metrics"] as! [String: Any]; var s = m["series"] as! [String: Any]
                s["iterations{a:1,a:2}"] = s[counter]; m["series"] = s; o["metrics"] = m }),
            ("malformed tags", { o in
                var m = o["metrics"] as! [String: Any]; var s = m["series"] as! [String: Any]
                s["iterations{a:1,b}"] = s[counter]; m["series"] = s; o["metrics"] = m }),
            ("sum is nan", series(counter) { $0["sum"] = "nan" }),
            ("a counter adds numbers ≥ 0", series(counter) { $0["sum"] = -5 }),
            ("min -inf and max inf", series(trend) { $0["min"] = "-inf"; $0["max"] = "inf" }),
            ("trend samples are 0", series(trend) { $0["max"] = 1e13 }),
            ("a histogram value above", series(trend) { $0["histogram"] = [[UInt64(1) << 63, 3]] }),
            ("add up past 2^64", series(trend) { $0["histogram"] = [[5, UInt64(1) << 63], [6, (UInt64(1) << 63) + 3]] }),
            ("the count 0", series(trend) { $0["histogram"] = [[5, 0], [6, 3]] }),
            ("holds 4 samples, count says 3", series(trend) { $0["histogram"] = [[5, 4]] }),
            ("[value, count]", series(trend) { $0["histogram"] = [[5]] }),
        ]
        for (words, edit) in cases {
            let why = try refusal(edit)
            XCTAssertTrue(why?.contains(words) == true, "expected '\(words)', got \(why ?? "acceptance")")
        }
        // What runs write is accepted: tag values with spaces at their ends, and a counter whose
        // sum reached infinity (1e308 added twice).
        XCTAssertNil(try refusal { o in
            var m = o["metrics"] as! [String: Any]; var s = m["series"] as! [String: Any]
            s["iterations{room: lobby ,scenario:a}"] = s[counter]; m["series"] = s; o["metrics"] = m })
        XCTAssertNil(try refusal(series(counter) { $0["sum"] = "inf" }))
    }

    /// Histograms are sized for their largest value, and all of a merge's share one budget.
    func testHistogramsAreChargedToOneBudget() throws {
        let budget = HistogramBudget(limit: 1 << 20)
        var accepted = 0
        while try refusal({ _ in }, budget: budget) == nil { accepted += 1 }
        XCTAssertGreaterThan(accepted, 3, "small histograms take little (\(budget.used) bytes after \(accepted))")
        XCTAssertLessThanOrEqual(budget.used, budget.limit)
        XCTAssertTrue(try refusal({ _ in }, budget: budget)?.contains("need more than 1 MiB") == true)
    }

    func testMergeRefusesKindsThatDisagreeAndCountsThatOverflow() throws {
        var a = try export(), b = try export()
        b.metrics.definitions["iterations"] = MetricDefinition(kind: .gauge)
        b.metrics.series["iterations{scenario:a}"] = {
            var g = MetricValue(kind: .gauge); g.add(1, at: 1); return g
        }()
        a.segment = "1/2"; b.segment = "2/2"
        XCTAssertThrowsError(try SummaryMerge([a, b], names: ["a", "b"], allowPartial: false)) { error in
            XCTAssertTrue("\(error)".contains("'iterations' is a gauge in b, a counter in a"), "\(error)")
        }
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: try export().encoded()) as? [String: Any])
        series("iteration_duration{scenario:a}") { $0["count"] = UInt64.max; $0["histogram"] = [[5, UInt64.max]]; $0["sum"] = 1e10 }(&object)
        var huge = try SummaryExport.decode(try JSONSerialization.data(withJSONObject: object))
        try huge.check()
        var other = huge
        huge.segment = "1/2"; other.segment = "2/2"
        XCTAssertThrowsError(try SummaryMerge([huge, other], names: ["a", "b"], allowPartial: false)) { error in
            XCTAssertTrue("\(error)".contains("more than 2^64 samples"), "\(error)")
        }
    }

    /// End to end: the crash of 2026-11-30 (a series whose kind contradicts its metric's) and a
    /// run whose script adds 1e308 to built-in counters.
    func testMergeAndRunSurviveHostileNumbers() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("export-check-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: try export().encoded()) as? [String: Any])
        series("iteration_duration{scenario:a}") { $0["kind"] = "counter"; $0["histogram"] = nil }(&object)
        let bad = dir.appendingPathComponent("bad.json")
        try JSONSerialization.data(withJSONObject: object).write(to: bad)
        let merged = try runNetstack(["merge", bad.path])
        XCTAssertEqual(merged.status, 2, merged.err)
        XCTAssertTrue(merged.err.contains("is not a valid summary export"), merged.err)

        let script = dir.appendingPathComponent("huge.lua")
        try """
        local iterations = netstack.metrics.counter("iterations")
        local errors = netstack.metrics.counter("script_errors")
        local ok = netstack.metrics.rate("fine")
        function main() iterations:add(1e308); iterations:add(1e308); errors:add(1e308); ok:add(true) end
        """.write(to: script, atomically: true, encoding: .utf8)
        let export = dir.appendingPathComponent("huge.json")
        let run = try runNetstack(["run", script.path, "--vus", "2", "--iterations", "4", "--quiet", "--no-summary-histograms",
                                   "--summary-export", export.path])
        // The run's own status counts the errors it saw (none); the metric is the script's to fill.
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertTrue(run.out.contains("script_errors.......................: inf  inf/s"), run.out)
        // The counters' lines (infinite or 1e308 values) stay within 80 columns.
        XCTAssertFalse(run.out.split(separator: "\n").contains { (line: Substring) in line.hasPrefix("  script_errors") && line.count > 80 },
                       "80 columns: \(run.out)")
        // A merge judges from the metrics: the script errors it finds fail it.
        let again = try runNetstack(["merge", export.path, "--no-summary-histograms"])
        XCTAssertEqual(again.status, 1, again.err)
        XCTAssertTrue(again.out.contains("1.798e+308") || again.out.contains("inf"), again.out)
    }
}
