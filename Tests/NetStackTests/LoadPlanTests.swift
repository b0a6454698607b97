import Foundation
import Histogram
import NetStackLoad
import XCTest

/// The load run's values without I/O: durations, executors from options, segments, ramp and
/// arrival schedules, histogram merges, thresholds, the summary export.
final class LoadPlanTests: XCTestCase {
    func testDurationsParseAndRefuse() throws {
        XCTAssertEqual(try LoadDuration(parsing: "30s").nanoseconds, 30_000_000_000)
        XCTAssertEqual(try LoadDuration(parsing: "1h30m").nanoseconds, 5_400_000_000_000)
        XCTAssertEqual(try LoadDuration(parsing: "250ms").nanoseconds, 250_000_000)
        XCTAssertEqual(try LoadDuration(parsing: "1.5s").nanoseconds, 1_500_000_000)
        XCTAssertEqual(try LoadDuration(parsing: "0").nanoseconds, 0)
        // Go's small units, which k6 takes: 1500us, 1500µs (U+00B5 and U+03BC), 2ns.
        XCTAssertEqual(try LoadDuration(parsing: "1500us").nanoseconds, 1_500_000)
        XCTAssertEqual(try LoadDuration(parsing: "1500\u{B5}s").nanoseconds, 1_500_000)
        XCTAssertEqual(try LoadDuration(parsing: "1s500\u{3BC}s2ns").nanoseconds, 1_000_500_002)
        XCTAssertEqual(try LoadDuration(parsing: "2d1h").nanoseconds, 176_400_000_000_000)
        func words(_ text: String) -> String {
            do { return "\(try LoadDuration(parsing: text))" } catch { return (error as? LoadOptionError)?.message ?? "\(error)" }
        }
        XCTAssertEqual(words("1m1"), "'1m1': 1 has no unit (d, h, m, s, ms, us, ns)")
        XCTAssertEqual(words("5ks"), "'5ks': 'ks' is not a duration unit (d, h, m, s, ms, us, ns)")
        for bad in ["", "5", "5x", "s", "-1s", "1e400s", "101d", "nan s"] {
            XCTAssertThrowsError(try LoadDuration(parsing: bad), bad)
        }
        XCTAssertEqual(LoadDuration.seconds(90).description, "1m30s")
    }

    func testALoadScriptIsOneThatAssignsTheGlobalOptions() {
        for source in ["options = { vus = 2 }", "  options={}", "\toptions\t= {}", "_G.options = {}",
                       "_ENV.options = { vus = 1 }", "_G . options={}", "print(1)\noptions = {}\n"] {
            XCTAssertTrue(ScriptOptions.declaresOptions(source), source)
        }
        for source in ["local options = {}", "if options == nil then end", "myoptions = {}", "options.vus = 2",
                       "-- options = {}", "_G.optionsx = {}", "_G.options == 1", "t.options = {}", "_Goptions = {}"] {
            XCTAssertFalse(ScriptOptions.declaresOptions(source), source)
        }
    }

    func testScenariosFromOptionsAndTheirErrors() throws {
        let options = OptionValue.table(["scenarios": .table([
            "ramp": .table(["executor": .string("ramping-vus"), "startVUs": .number(0),
                            "stages": .list([.table(["duration": .string("10s"), "target": .number(100)])])]),
            "rate": .table(["executor": .string("constant-arrival-rate"), "rate": .number(20), "duration": .string("1m"),
                            "preAllocatedVUs": .number(5), "maxVUs": .number(10), "exec": .string("chat")]),
        ])])
        let plan = try LoadPlan.make(commandLine: .init(), options: options)
        XCTAssertEqual(plan.scenarios.map(\.name), ["ramp", "rate"])
        XCTAssertEqual(plan.scenarios[0].executor, .rampingVUs(startVUs: 0, stages: [Stage(duration: .seconds(10), target: 100)], gracefulRampDown: .seconds(30)))
        XCTAssertEqual(plan.scenarios[1].exec, "chat")
        XCTAssertEqual(plan.scenarios[1].executor.maxVUs, 10)
        // Errors name the option.
        let cases: [(OptionValue, String)] = [
            (.table(["scenarios": .table(["x": .table(["executor": .string("constant-vuz")])])]), "scenarios.x.executor"),
            (.table(["scenarios": .table(["x": .table(["executor": .string("constant-vus"), "vus": .number(1)])])]), "scenarios.x.duration: missing"),
            (.table(["scenarios": .table(["x": .table(["executor": .string("per-vu-iterations"), "vus": .number(1.5)])])]), "scenarios.x.vus"),
            (.table(["scenarios": .table(["x": .table(["executor": .string("per-vu-iterations"), "vu": .number(1)])])]), "scenarios.x.vu: unknown option"),
            (.table(["scenarios": .table(["x": .table(["executor": .string("constant-arrival-rate"), "rate": .number(1), "duration": .string("1s"),
                                                        "preAllocatedVUs": .number(5), "maxVUs": .number(2)])])]), "maxVUs"),
            (.table(["vus": .number(-1)]), "options.vus"),
            (.table(["duraton": .string("1s")]), "options.duraton: unknown option"),
            // Executors that would run nothing are refused, as k6 refuses them.
            (.table(["scenarios": .table(["x": .table(["executor": .string("constant-vus"), "vus": .number(0), "duration": .string("1s")])])]),
             "scenarios.x.vus: 0 VUs would run nothing"),
            (.table(["scenarios": .table(["x": .table(["executor": .string("constant-vus"), "vus": .number(2), "duration": .string("0s")])])]),
             "scenarios.x.duration: 0 would run nothing"),
            (.table(["scenarios": .table(["x": .table(["executor": .string("per-vu-iterations"), "vus": .number(2), "iterations": .number(0)])])]),
             "scenarios.x.iterations: 0 would run nothing"),
            (.table(["scenarios": .table(["x": .table(["executor": .string("shared-iterations"), "vus": .number(0), "iterations": .number(5)])])]),
             "scenarios.x.vus: 0 VUs would run nothing"),
            (.table(["scenarios": .table(["x": .table(["executor": .string("shared-iterations"), "iterations": .number(5), "maxDuration": .string("0s")])])]),
             "scenarios.x.maxDuration: 0 would run nothing"),
            (.table(["vus": .number(0)]), "--vus 0 (or options.vus = 0) would run nothing"),
            // A ramp that never has a VU, and stages that take no time.
            (.table(["scenarios": .table(["x": .table(["executor": .string("ramping-vus"), "startVUs": .number(0),
                                                     "stages": .list([.table(["duration": .string("10s"), "target": .number(0)])])])])]),
             "scenarios.x: startVUs and every stage's target are 0, which would run nothing"),
            (.table(["vus": .number(0), "stages": .list([.table(["duration": .string("10s"), "target": .number(0)])])]),
             "--vus 0 (or options.vus = 0) with stages that all target 0 would run nothing"),
            (.table(["stages": .list([.table(["duration": .string("0s"), "target": .number(5)]), .table(["duration": .number(0), "target": .number(0)])])]),
             "--stage (or options.stages): the stages last 0 in all, which would run nothing"),
            (.table(["scenarios": .table(["x": .table(["executor": .string("ramping-arrival-rate"), "preAllocatedVUs": .number(2),
                                                     "stages": .list([.table(["duration": .string("0s"), "target": .number(5)])])])])]),
             "scenarios.x.stages: they last 0 in all"),
            // A threshold that cannot apply to a built-in metric is refused before the run.
            (.table(["thresholds": .table(["iterations": .list([.string("p(95)<10")])])]),
             "threshold 'iterations: p(95)<10': 'iterations' is a counter, which takes count, rate"),
            (.table(["thresholds": .table(["ws_connecting{scenario:a}": .list([.string("value>1")])])]),
             "'ws_connecting' is a trend, which takes avg, min, max, med, p(N), count"),
            (.table(["iterations": .number(0)]), "--iterations 0 (or options.iterations = 0) would run nothing"),
            (.table(["duration": .string("0s"), "vus": .number(3)]), "--duration 0s (or options.duration) would run nothing"),
        ]
        // A whole number is shown as written (the value arrives as a double: it read "-1.0").
        for (value, expected) in [(-1.0, "got -1"), (1.5, "got 1.5"), (2e7, "got 20000000")] {
            XCTAssertThrowsError(try LoadPlan.make(commandLine: .init(), options: .table(["vus": .number(value)]))) { e in
                XCTAssertTrue("\(e)".hasSuffix("expected a whole number from 0 to 10000000, " + expected), "\(e)")
            }
        }
        for (value, expected) in cases {
            XCTAssertThrowsError(try LoadPlan.make(commandLine: .init(), options: value)) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(e) should mention \(expected)")
            }
        }
    }

    /// k6's global `options.tags` go on every scenario, under the scenario's own tags; tags that
    /// would break a series name (`{ } , :`, control characters, empty) are refused with the
    /// option's path (a scenario's `tags = { ["a:b"] = "x,y}" }` once made `c{a:b:x,y},scenario:s}`).
    func testGlobalTagsGoUnderTheScenariosAndBadTagsAreRefused() throws {
        let options = OptionValue.table([
            "tags": .table(["env": .string("staging"), "build": .number(42), "canary": .bool(true)]),
            "scenarios": .table([
                "a": .table(["executor": .string("per-vu-iterations"), "tags": .table(["env": .string("prod")])]),
                "b": .table(["executor": .string("per-vu-iterations")]),
            ]),
        ])
        let plan = try LoadPlan.make(commandLine: .init(), options: options)
        XCTAssertEqual(plan.scenarios.map(\.tags), [["env": "prod", "build": "42", "canary": "true"], ["env": "staging", "build": "42", "canary": "true"]])
        let shortcut = try LoadPlan.make(commandLine: .init(), options: .table(["vus": .number(2), "tags": .table(["env": .string("x")])]))
        XCTAssertEqual(shortcut.scenarios.map(\.tags), [["env": "x"]])
        let bad: [(OptionValue, String)] = [
            (.table(["tags": .table(["a:b": .string("x")])]), "options.tags: tag name 'a:b'"),
            (.table(["tags": .table(["a": .string("x,y}")])]), "options.tags.a: 'x,y}'"),
            (.table(["tags": .table(["a": .string("")])]), "options.tags.a: ''"),
            (.table(["tags": .string("env")]), "options.tags: expected a table"),
            (.table(["tags": .table(["a": .table([:])])]), "options.tags.a: expected a string, number or boolean"),
            (.table(["scenarios": .table(["s": .table(["executor": .string("per-vu-iterations"), "tags": .table(["k": .string("new\nline")])])])]),
             "scenarios.s.tags.k:"),
        ]
        for (value, expected) in bad {
            XCTAssertThrowsError(try LoadPlan.make(commandLine: .init(), options: value)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should contain \(expected)")
            }
        }
    }

    /// k6's setupTimeout and teardownTimeout: 60 s unless the options say otherwise; 0 and
    /// what is no duration are refused with the option's name. Global tags are kept for setup's
    /// and teardown's samples.
    func testLifecycleTimeoutsDefaultToAMinute() throws {
        let plain = try LoadPlan.make(commandLine: .init(), options: .table(["vus": .number(1)]))
        XCTAssertEqual(plain.setupTimeout, .milliseconds(60_000))
        XCTAssertEqual(plain.teardownTimeout, .milliseconds(60_000))
        let set = try LoadPlan.make(commandLine: .init(), options: .table(["setupTimeout": .string("2m"), "teardownTimeout": .number(1500),
                                                                           "tags": .table(["env": .string("ci")])]))
        XCTAssertEqual(set.setupTimeout, .milliseconds(120_000))
        XCTAssertEqual(set.teardownTimeout, .milliseconds(1500))
        XCTAssertEqual(set.globalTags, ["env": "ci"])
        let bad: [(OptionValue, String)] = [
            (.table(["setupTimeout": .string("0s")]), "options.setupTimeout: must be longer than 0s"),
            (.table(["teardownTimeout": .string("soon")]), "options.teardownTimeout:"),
            (.table(["setupTimeOut": .string("1s")]), "setupTimeOut"),
        ]
        for (value, expected) in bad {
            XCTAssertThrowsError(try LoadPlan.make(commandLine: .init(), options: value)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should contain \(expected)")
            }
        }
    }

    func testTheCommandLineWinsAndShortcutsPickTheExecutor() throws {
        let options = OptionValue.table(["vus": .number(50), "duration": .string("1m"),
                                         "thresholds": .table(["ws_rtt": .list([.string("p(95)<100")])])])
        var cli = LoadPlan.CommandLine()
        cli.vus = 3
        cli.iterations = 12
        cli.thresholds = ["ws_rtt: p(95)<50"]
        let plan = try LoadPlan.make(commandLine: cli, options: options)
        XCTAssertEqual(plan.scenarios[0].executor, .sharedIterations(vus: 3, iterations: 12, maxDuration: Scenario.defaultMaxDuration))
        XCTAssertEqual(plan.thresholds.map(\.expression), ["p(95)<50"], "the command line's threshold replaces the script's on the same metric")
        let fromOptions = try LoadPlan.make(commandLine: .init(), options: options)
        XCTAssertEqual(fromOptions.scenarios[0].executor, .constantVUs(vus: 50, duration: .seconds(60)))
        var ramp = LoadPlan.CommandLine()
        ramp.stages = [try Stage(parsing: "30s:100")]
        XCTAssertEqual(try LoadPlan.make(commandLine: ramp, options: nil).scenarios[0].executor,
                       .rampingVUs(startVUs: 1, stages: [Stage(duration: .seconds(30), target: 100)], gracefulRampDown: .seconds(30)))
        var only = LoadPlan.CommandLine()
        only.vus = 7
        XCTAssertEqual(try LoadPlan.make(commandLine: only, options: nil).scenarios[0].executor,
                       .perVUIterations(vus: 7, iterations: 1, maxDuration: Scenario.defaultMaxDuration))
        // --vus 0 is the start of a ramp, and nothing alone.
        var zero = LoadPlan.CommandLine()
        zero.vus = 0
        XCTAssertThrowsError(try LoadPlan.make(commandLine: zero, options: nil))
        zero.stages = [try Stage(parsing: "30s:10")]
        XCTAssertEqual(try LoadPlan.make(commandLine: zero, options: nil).scenarios[0].executor,
                       .rampingVUs(startVUs: 0, stages: [Stage(duration: .seconds(30), target: 10)], gracefulRampDown: .seconds(30)))
    }

    /// The command line and the options merge as k6 merges them, and a shortcut that would be
    /// ignored is refused (before, `--stage` silently dropped `--iterations`, and `--vus` dropped
    /// the script's duration).
    func testShortcutsMergeAsK6MergesThemAndConflictsAreRefused() throws {
        let options = OptionValue.table(["vus": .number(10), "duration": .string("30s")])
        var vus = LoadPlan.CommandLine()
        vus.vus = 100
        XCTAssertEqual(try LoadPlan.make(commandLine: vus, options: options).scenarios[0].executor,
                       .constantVUs(vus: 100, duration: .seconds(30)), "--vus keeps the script's duration")
        var iterations = LoadPlan.CommandLine()
        iterations.iterations = 5
        XCTAssertEqual(try LoadPlan.make(commandLine: iterations, options: options).scenarios[0].executor,
                       .sharedIterations(vus: 10, iterations: 5, maxDuration: Scenario.defaultMaxDuration),
                       "--iterations replaces the script's duration and keeps its vus")
        var ramp = LoadPlan.CommandLine()
        ramp.stages = [try Stage(parsing: "10s:4")]
        XCTAssertEqual(try LoadPlan.make(commandLine: ramp, options: options).scenarios[0].executor,
                       .rampingVUs(startVUs: 10, stages: [Stage(duration: .seconds(10), target: 4)], gracefulRampDown: .seconds(30)))
        // Conflicts in one place.
        func refused(_ cli: LoadPlan.CommandLine, _ options: OptionValue?, _ words: String, line: UInt = #line) {
            XCTAssertThrowsError(try LoadPlan.make(commandLine: cli, options: options), line: line) { e in
                XCTAssertTrue("\(e)".contains(words), "\(e)", line: line)
            }
        }
        var both = ramp
        both.iterations = 1
        refused(both, nil, "--stage (or options.stages) and --iterations (or options.iterations) together")
        both = ramp
        both.duration = .seconds(5)
        refused(both, nil, "--stage (or options.stages) and --duration (or options.duration) together")
        let stagesAndIterations = OptionValue.table(["iterations": .number(3), "stages": .list([.table(["duration": .string("5s"), "target": .number(2)])])])
        refused(.init(), stagesAndIterations, "and --iterations (or options.iterations) together")
        let scenarios = OptionValue.table(["duration": .string("1m"),
                                           "scenarios": .table(["a": .table(["executor": .string("constant-vus"), "vus": .number(1), "duration": .string("5s")])])])
        refused(.init(), scenarios, "options.duration and options.scenarios together")
        // The command line's length replaces the script's: no conflict across the two.
        XCTAssertEqual(try LoadPlan.make(commandLine: iterations, options: stagesAndIterations).scenarios[0].executor,
                       .sharedIterations(vus: 1, iterations: 5, maxDuration: Scenario.defaultMaxDuration))
        XCTAssertEqual(try LoadPlan.make(commandLine: iterations, options: scenarios).scenarios[0].executor,
                       .sharedIterations(vus: 1, iterations: 5, maxDuration: Scenario.defaultMaxDuration))
    }

    func testSegmentsDealEveryNumberToExactlyOneSegment() throws {
        for n in [1, 2, 3, 4, 7] {
            for total in [0, 1, 5, 10, 101] {
                var seen: [Int] = []
                for i in 1...n {
                    let s = try Segment(index: i, count: n)
                    let members = Array(s.members(of: total))
                    XCTAssertEqual(members.count, s.share(of: total))
                    seen += members
                }
                XCTAssertEqual(seen.sorted(), Array(0..<total), "n=\(n) total=\(total)")
            }
        }
        XCTAssertEqual(try Segment(parsing: "2/4", environment: [:]), try Segment(index: 2, count: 4))
        XCTAssertEqual(try Segment(parsing: "auto", environment: ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"]),
                       try Segment(index: 3, count: 4))
        XCTAssertEqual(try Segment(parsing: "auto/4", environment: ["JOB_COMPLETION_INDEX": "0"]), try Segment(index: 1, count: 4))
        for bad in ["0/4", "5/4", "1/0", "a/b", "auto", "2"] {
            XCTAssertThrowsError(try Segment(parsing: bad, environment: [:]), bad)
        }
    }

    /// Ramping VUs: the target at every millisecond, and segments whose active VUs add up to it.
    func testRampTargetsAndTheirSegmentsAddUp() throws {
        let ramp = RampSchedule(start: 0, stages: [Stage(duration: .seconds(10), target: 100), Stage(duration: .seconds(5), target: 100),
                                                   Stage(duration: .seconds(2), target: 0)])
        XCTAssertEqual(ramp.target(at: 0), 0)
        XCTAssertEqual(ramp.target(at: 5_000_000_000), 50)
        XCTAssertEqual(ramp.target(at: 9_999_999_999), 99)
        XCTAssertEqual(ramp.target(at: 10_000_000_000), 100)
        XCTAssertEqual(ramp.target(at: 16_000_000_000), 50)
        XCTAssertEqual(ramp.target(at: 20_000_000_000), 0)
        let segments = try (1...3).map { try Segment(index: $0, count: 3) }
        var previous = 0
        for ms in stride(from: Int64(0), through: 17_000, by: 1) {
            let t = ramp.target(at: ms * 1_000_000)
            XCTAssertLessThanOrEqual(abs(t - previous), 1, "the target moves one VU at a time at \(ms) ms")
            previous = t
            XCTAssertEqual(segments.map { $0.share(of: t) }.reduce(0, +), t)
        }
    }

    /// Arrival rates: ⌈∫r⌉ iterations at the right times; segments take disjoint ones summing to all.
    func testArrivalSchedulesStartTheRightIterationsAtTheRightTimes() throws {
        let constant = ArrivalSchedule(rate: 10, timeUnit: .seconds(1), duration: .seconds(2))
        XCTAssertEqual(constant.totalArrivals, 20)
        XCTAssertEqual((0..<20).map { constant.start(of: $0)! }, (0..<20).map { Int64($0) * 100_000_000 })
        XCTAssertNil(constant.start(of: 20))
        // 0 → 100/s over 10 s: 500 iterations; the k-th at √(k/5) s.
        let ramp = ArrivalSchedule(startRate: 0, timeUnit: .seconds(1), stages: [Stage(duration: .seconds(10), target: 100)])
        XCTAssertEqual(ramp.totalArrivals, 500)
        for k in [1, 20, 125, 499] {
            XCTAssertEqual(Double(ramp.start(of: k)!) / 1e9, (Double(k) / 5).squareRoot(), accuracy: 1e-6)
        }
        XCTAssertNil(ramp.start(of: 500))
        let perMinute = ArrivalSchedule(rate: 3, timeUnit: .seconds(60), duration: .seconds(60))
        XCTAssertEqual(perMinute.totalArrivals, 3)
        for n in [2, 3, 5] {
            var all: [Int64] = []
            for i in 1...n {
                let s = try Segment(index: i, count: n)
                all += s.members(of: ramp.totalArrivals).map { ramp.start(of: $0)! }
            }
            XCTAssertEqual(all.sorted(), (0..<500).map { ramp.start(of: $0)! })
        }
    }

    /// Shared iterations split in proportion to VUs: the segments' counts sum to the whole.
    func testSharedIterationsSplitExactly() throws {
        for (vus, iterations) in [(10, 100), (3, 10), (1, 7), (7, 3), (4, 0)] {
            for n in [1, 2, 3, 4] {
                var sum = 0
                for i in 1...n {
                    let s = try Segment(index: i, count: n)
                    sum += (iterations / vus) * s.share(of: vus) + s.share(of: iterations % vus)
                }
                XCTAssertEqual(sum, iterations, "vus \(vus) iterations \(iterations) n \(n)")
            }
        }
    }

    /// Merging per-loop values gives the distribution of all samples (within 3 significant digits).
    func testMergedHistogramsEqualTheHistogramOfAllSamples() {
        var parts = (0..<4).map { _ in MetricValue(kind: .trend) }
        var all = MetricValue(kind: .trend)
        var samples: [Double] = []
        var g = SystemRandomNumberGenerator()
        for i in 0..<20_000 {
            let v = Double(UInt64.random(in: 0...5_000_000, using: &g)) / 1000 * (i % 3 == 0 ? 10 : 1)
            samples.append(v)
            parts[i % 4].add(v)
            all.add(v)
        }
        var merged = MetricValue(kind: .trend)
        for p in parts { merged.merge(p) }
        XCTAssertEqual(merged.count, all.count)
        XCTAssertEqual(merged.sum, all.sum, accuracy: 1e-6 * all.sum)
        samples.sort()
        for p in [50.0, 90, 95, 99, 99.9] {
            XCTAssertEqual(merged.percentile(p), all.percentile(p), "p\(p)")
            let exact = samples[min(samples.count - 1, Int((p / 100 * Double(samples.count)).rounded(.up)) - 1)]
            XCTAssertEqual(merged.percentile(p), exact, accuracy: max(0.002, exact * 0.001), "p\(p) against the sorted samples")
        }
        XCTAssertEqual(merged.minimum, samples.first!)
        XCTAssertEqual(merged.maximum, samples.last!)
    }

    func testThresholdsParseEvaluateAndAcceptThePluginSyntax() throws {
        var set = MetricSet()
        set.definitions = BuiltinMetrics.definitions
        var rtt = MetricValue(kind: .trend)
        for v in 1...100 { rtt.add(Double(v)) }
        set.series["ws_rtt{scenario:a}"] = rtt
        var closes = MetricValue(kind: .counter)
        closes.add(3)
        set.series["ws_closes{code:1006,scenario:a}"] = closes
        func check(_ text: String, _ passes: Bool, _ line: UInt = #line) throws {
            let r = try Threshold(commandLine: text).evaluate(set, duration: 10)
            XCTAssertEqual(r.passed, passes, "\(text): \(r.actual.map { "\($0)" } ?? r.note ?? "")", line: line)
        }
        try check("ws_rtt: p(95)<96", true)
        try check("ws_rtt: p(95)<95", false)
        try check("ws_rtt{scenario:a}: max<=100", true)
        try check("ws_rtt{scenario:b}: count==0", true)
        try check("latency.p99<100", true)
        try check("latency.mean>50", true)
        try check("closes_abnormal==0", false)
        try check("ws_closes{code:1006}: rate<=0.3", true)
        try check("nosuch: count==0", false)
        for bad in ["ws_rtt p95", "ws_rtt: p(101)<3", "ws_rtt: avg<abc", "ws_rtt: median<3", "9x: count>1"] {
            XCTAssertThrowsError(try Threshold(commandLine: bad), bad)
        }
        let table = try Threshold.listForTesting(.table(["ws_rtt": .list([.string("p(99)<200"), .table(["threshold": .string("avg<1"), "abortOnFail": .bool(true)])])]))
        XCTAssertEqual(table.map(\.abortOnFail), [false, true])
    }

    func testSummaryExportRoundTripsAndMergesLikeTheSamples() throws {
        var a = MetricSet(), b = MetricSet()
        a.definitions = BuiltinMetrics.definitions
        b.definitions = BuiltinMetrics.definitions
        var ta = MetricValue(kind: .trend), tb = MetricValue(kind: .trend), both = MetricValue(kind: .trend)
        for v in stride(from: 0.5, to: 400, by: 0.7) { ta.add(v); both.add(v) }
        for v in stride(from: 100.0, to: 2000, by: 3.1) { tb.add(v); both.add(v) }
        a.series["ws_connecting{scenario:x}"] = ta
        b.series["ws_connecting{scenario:x}"] = tb
        var ca = MetricValue(kind: .counter); ca.add(5)
        a.series["iterations{scenario:x}"] = ca
        var ga = MetricValue(kind: .gauge); ga.add(10, at: 1)
        var gb = MetricValue(kind: .gauge); gb.add(7, at: 2)
        a.series["vus"] = ga
        b.series["vus"] = gb
        let export = SummaryExport(runID: "r1", script: "s.lua", scriptSHA256: String(repeating: "a", count: 64), segment: try Segment(index: 1, count: 2),
                                   startedAt: 1, duration: 2, status: 0, thresholds: [], metrics: a)
        let decoded = try SummaryExport.decode(try export.encoded())
        XCTAssertEqual(decoded, export)
        var merged = decoded.metrics
        merged.merge(b, acrossSegments: true)
        let m = merged.series["ws_connecting{scenario:x}"]!
        XCTAssertEqual(m.count, both.count)
        for p in [50.0, 95, 99] { XCTAssertEqual(m.percentile(p), both.percentile(p)) }
        XCTAssertEqual(merged.series["vus"]!.value, 17, "VUs of segments running at the same time add up")
        // A corrupt histogram is refused.
        var json = String(decoding: try export.encoded(), as: UTF8.self)
        json = json.replacingOccurrences(of: "\"count\":\(ta.count)", with: "\"count\":\(ta.count + 1)")
        XCTAssertThrowsError(try SummaryExport.decode(Data(json.utf8)))
    }

    func testTheVUsOfAPlanAreCheckedAgainstTheMemory() throws {
        XCTAssertNil(VUMemoryCheck.problem(vus: 1000, available: 1 << 30))
        XCTAssertNil(VUMemoryCheck.problem(vus: 32768, available: 1 << 30), "exactly 1 GiB")
        let why = try XCTUnwrap(VUMemoryCheck.problem(vus: 32769, available: 1 << 30))
        XCTAssertTrue(why.hasPrefix("32769 VUs need at least 1.0 GiB"), why)
        XCTAssertNotNil(VUMemoryCheck.problem(vus: Int.max, available: UInt64.max), "no overflow")
        XCTAssertGreaterThan(VUMemoryCheck.availableBytes(), 0)
        // A segment counts its share only.
        var cli = LoadPlan.CommandLine()
        cli.vus = 10_000_000
        cli.duration = .seconds(1)
        var plan = try LoadPlan.make(commandLine: cli, options: nil)
        XCTAssertEqual(plan.vusInThisProcess, 10_000_000)
        plan.segment = try Segment(index: 3, count: 1000)
        XCTAssertEqual(plan.vusInThisProcess, 10_000)
    }
}
