import Foundation
import NetStackLoad
import XCTest

/// `netstack run` as a load run, end to end: exact iteration counts per executor, VU isolation,
/// thresholds and exit 99, graceful and immediate stops, usage errors.
final class LoadRunTests: XCTestCase {
    private var files: [String] = []

    override func tearDown() {
        for f in files { unlink(f) }
        files = []
    }

    func script(_ source: String) throws -> String {
        let path = NSTemporaryDirectory() + "load-\(getpid())-\(files.count)-\(UUID().uuidString.prefix(8)).lua"
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        files.append(path)
        return path
    }

    private func exportPath() -> String {
        let p = NSTemporaryDirectory() + "load-\(getpid())-\(UUID().uuidString.prefix(8)).json"
        files.append(p)
        return p
    }

    /// Starts a five-minute run of `script` with `--metrics-addr 127.0.0.1:0` and `args`; returns
    /// the process (the caller ends it) and the endpoint's HOST:PORT, read from stderr.
    private func startWithMetricsEndpoint(_ script: String, _ args: [String]) throws -> (Process, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.buildDir + "/netstack")
        p.arguments = ["run", script, "--duration", "5m", "--quiet", "--metrics-addr", "127.0.0.1:0"] + args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        var text = ""
        let deadline = Date().addingTimeInterval(10 * CLITests.slowdown)
        while !text.contains("/metrics") && Date() < deadline {
            text += String(decoding: err.fileHandleForReading.availableData, as: UTF8.self)
        }
        guard let r = text.range(of: "http://"), let end = text[r.upperBound...].range(of: "/metrics") else {
            p.terminate()
            throw CLITests.Failure("no metrics address in: \(text)")
        }
        return (p, String(text[r.upperBound..<end.lowerBound]))
    }

    /// Runs and returns the status, output and the decoded summary export.
    func load(_ path: String, _ args: [String], timeout: Double = 30) throws -> (status: Int32, out: String, err: String, summary: SummaryExport?) {
        let export = exportPath()
        let r = try runNetstack(["run", path, "--quiet", "--summary-export", export] + args, timeout: timeout * CLITests.slowdown)
        let summary = (try? Data(contentsOf: URL(fileURLWithPath: export))).flatMap { try? SummaryExport.decode($0) }
        return (r.status, r.out, r.err, summary)
    }

    func count(_ s: SummaryExport?, _ metric: String, _ tags: [String: String] = [:]) -> Double {
        s?.metrics.aggregate(metric, tags: tags)?.sum ?? -1
    }

    /// The VU ids that ran and how many iterations each counted.
    private func perVU(_ s: SummaryExport?) -> [Int: Double] {
        var out: [Int: Double] = [:]
        for (key, v) in s?.metrics.series ?? [:] {
            let (m, tags) = SeriesName.split(key)
            if m == "per_vu", let id = tags["vu"].flatMap(Int.init) { out[id, default: 0] += v.sum }
        }
        return out
    }

    static let counting = """
    local c = netstack.metrics.counter("per_vu")
    function main() c:add(1, {vu = netstack.vu.id}) end
    """

    /// Constant VUs run their iterations back to back on their own loops: iterations that end
    /// inside their own start (an empty `main`) run hundreds of thousands of times without
    /// growing the stack, every VU runs them, the counts add up, and the run ends at its duration.
    func testConstantVUsWithInstantIterationsRunUntilTheDurationAndCountEveryOne() throws {
        let s = try script("options = { scenarios = { a = { executor = 'constant-vus', vus = 3, duration = '1s' } } }\n" + Self.counting)
        let r = try load(s, ["--threads", "2"])
        XCTAssertEqual(r.status, 0, r.err)
        let vus = perVU(r.summary)
        XCTAssertEqual(Set(vus.keys), [1, 2, 3])
        XCTAssertTrue(vus.values.allSatisfy { $0 > 1000 }, "\(vus)")
        XCTAssertEqual(count(r.summary, "iterations"), vus.values.reduce(0, +))
    }

    func testPerVUIterationsRunExactlyThatManyOnEveryVU() throws {
        let s = try script("options = { scenarios = { each = { executor = 'per-vu-iterations', vus = 4, iterations = 3 } } }\n" + Self.counting)
        let r = try load(s, ["--threads", "2"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(perVU(r.summary), [1: 3, 2: 3, 3: 3, 4: 3])
        XCTAssertEqual(count(r.summary, "iterations"), 12)
        XCTAssertTrue(r.out.contains("iterations"), r.out)
    }

    func testSharedIterationsAreEachTakenOnce() throws {
        let s = try script(Self.counting)
        let r = try load(s, ["--vus", "5", "--iterations", "37"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(count(r.summary, "iterations"), 37)
        XCTAssertEqual(perVU(r.summary).values.reduce(0, +), 37)
        XCTAssertTrue(Set(perVU(r.summary).keys).isSubset(of: [1, 2, 3, 4, 5]))
    }

    func testConstantArrivalRateStartsEveryScheduledIterationOrCountsItDropped() throws {
        // 20 iterations in 1 s. With one VU and 300 ms iterations most cannot start: dropped.
        let s = try script("""
        options = { scenarios = {
          quick = { executor = 'constant-arrival-rate', rate = 20, timeUnit = '1s', duration = '1s', preAllocatedVUs = 2, maxVUs = 4 },
          slow = { executor = 'constant-arrival-rate', rate = 20, timeUnit = '1s', duration = '1s', preAllocatedVUs = 1, maxVUs = 1, exec = 'slow' },
        } }
        function main() end
        function slow() netstack.setTimeout(function() end, 300) end
        """)
        let r = try load(s, [])
        XCTAssertEqual(r.status, 0, r.err)
        // Quick iterations find a free VU (a loaded machine may still drop one now and then).
        let quickDropped = max(0, count(r.summary, "dropped_iterations", ["scenario": "quick"]))
        XCTAssertEqual(count(r.summary, "iterations", ["scenario": "quick"]) + quickDropped, 20)
        XCTAssertLessThanOrEqual(quickDropped, 2)
        let slowDone = count(r.summary, "iterations", ["scenario": "slow"])
        let slowDropped = count(r.summary, "dropped_iterations", ["scenario": "slow"])
        XCTAssertEqual(slowDone + slowDropped, 20, "every arrival is started or counted as dropped")
        XCTAssertGreaterThanOrEqual(slowDropped, 10)
    }

    func testRampingVUsUseOnlyTheVUsTheStagesAllow() throws {
        let out = exportPath()
        let s = try script(Self.counting.replacingOccurrences(of: "function main() c:add(1, {vu = netstack.vu.id}) end",
                                                               with: "function main() c:add(1, {vu = netstack.vu.id}); netstack.setTimeout(function() end, 20) end"))
        let r = try load(s, ["--vus", "0", "--stage", "500ms:3", "--stage", "500ms:3", "--stage", "300ms:0", "--out", "json=\(out)"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(Set(perVU(r.summary).keys), [1, 2, 3])
        let samples = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        XCTAssertFalse(samples.isEmpty)
        let vus = samples.filter { $0.contains("\"metric\":\"vus\"") }
        XCTAssertFalse(vus.isEmpty, "the interval samples carry the vus gauge")
        XCTAssertFalse(vus.contains { $0.contains("\"value\":4") }, "never more than 3 VUs")
        XCTAssertEqual(r.summary?.metrics.aggregate("vus")?.maximum, 3, "the peak is in the gauge")
    }

    /// A ramp that ends between two samples of the `vus` gauge still shows its peak as the
    /// gauge's max (it showed only the count at each second: here, 0).
    func testTheVUsGaugeKeepsThePeakOfARampShorterThanAnInterval() throws {
        let s = try script("function main() netstack.setTimeout(function() end, 20) end")
        let r = try load(s, ["--vus", "0", "--stage", "200ms:4", "--stage", "200ms:4", "--stage", "100ms:0"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.summary?.metrics.aggregate("vus")?.maximum, 4, r.out)
        XCTAssertEqual(r.summary?.metrics.aggregate("vus")?.value, 0, "the value is the count at the end")
    }

    /// VUs load the script compiled once for the run (not the file, read and parsed per VU), and
    /// it behaves as the file does: a shebang line and a byte order mark are skipped, and errors
    /// and tracebacks name the file and the line.
    func testVUsRunTheScriptCompiledOnceWithItsFileAndLines() throws {
        let s = try script("\u{FEFF}#!/usr/bin/env netstack\n" + LoadRunTests.counting + """

        function fails()
          error("fails on line 5")
        end
        """)
        let ok = try load(s, ["--vus", "3", "--iterations", "9"])
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertEqual(perVU(ok.summary).values.reduce(0, +), 9)
        let failing = try load(s, ["--vus", "2", "--iterations", "2", "--exec", "fails"])
        XCTAssertEqual(failing.status, 1, failing.err)
        XCTAssertTrue(failing.err.contains("\(s):5: fails on line 5"), failing.err)
        XCTAssertTrue(failing.err.contains("\(s):5: in function"), "the traceback keeps the lines: \(failing.err)")
        let broken = try script("function main(\n  x = \n")
        let syntax = try load(broken, ["--vus", "1"])
        XCTAssertEqual(syntax.status, 1, syntax.err)
        XCTAssertTrue(syntax.err.contains("\(broken):2: ')' expected near '='"), syntax.err)
    }

    func testVUsAreIsolatedAndARaisingVUDoesNotStopTheOthers() throws {
        // Per-VU iterations: VU 2 surely runs a second iteration (shared ones could all go elsewhere).
        let s = try script("""
        options = { scenarios = { each = { executor = 'per-vu-iterations', vus = 3, iterations = 4 } } }
        local c = netstack.metrics.counter("per_vu")
        mine = 0
        function main()
          mine = mine + 1
          c:add(1, {vu = netstack.vu.id})
          if mine ~= netstack.vu.iteration then error("globals are shared: " .. mine) end
          if netstack.vu.id == 2 and netstack.vu.iteration == 2 then error("vu two fails once") end
        end
        """)
        let r = try load(s, ["--threads", "2"])
        XCTAssertEqual(r.status, 1, "a script error makes the status 1: \(r.err)")
        XCTAssertEqual(count(r.summary, "script_errors"), 1)
        XCTAssertEqual(count(r.summary, "iterations"), 11, "12 started, one failed")
        XCTAssertEqual(perVU(r.summary).values.reduce(0, +), 12)
        XCTAssertFalse(r.err.contains("globals are shared"), r.err)
        XCTAssertEqual(r.err.components(separatedBy: "vu two fails once").count - 1, 1, "reported once: \(r.err)")
        XCTAssertTrue(r.err.contains("stack traceback"), r.err)
        XCTAssertTrue(r.out.contains("1× netstack: error in main"), r.out)
    }

    /// Without --memory-limit each VU gets `DefaultMemoryLimit.perVU`: a VU whose script keeps
    /// allocating ends with "not enough memory", said with where the limit comes from, and the
    /// other VUs finish (before, it grew until the machine's memory ran out).
    func testAVUThatKeepsAllocatingHitsItsDefaultShare() throws {
        let s = try script("""
        options = { scenarios = { each = { executor = 'per-vu-iterations', vus = 600, iterations = 1 } } }
        function main()
          if netstack.vu.id == 7 then local t = {} for i = 1, 1e10 do t[i] = i end end
        end
        """)
        let r = try load(s, ["--threads", "2"], timeout: 120)
        let limit = DefaultMemoryLimit.perVU(vus: 600, available: VUMemoryCheck.availableBytes())
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertEqual(count(r.summary, "script_errors"), 1)
        XCTAssertEqual(count(r.summary, "iterations"), 599)
        XCTAssertTrue(r.err.contains("memory limit of \(limit) bytes (the default for each VU: an equal share of half of the memory"), r.err)
        XCTAssertTrue(r.err.contains("not enough memory"), r.err)
    }

    /// VUs printing at once on both threads: every line arrives whole. Lua's own print writes
    /// each argument, tab and newline separately, so lines of two threads were cut into each other.
    func testLinesPrintedByVUsAtOnceNeverInterleave() throws {
        let script = NSTemporaryDirectory() + "print-lines-\(getpid()).lua"
        defer { try? FileManager.default.removeItem(atPath: script) }
        try """
        local long = string.rep("x", 3000)
        function main() for i = 1, 5 do print(long, netstack.vu.id, i) end end
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try load(script, ["--vus", "8", "--iterations", "400", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.err)
        // The summary follows the printed lines on stdout.
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).filter { $0.contains("xxxxxxxx") }
        let whole = try NSRegularExpression(pattern: "^x{3000}\t[1-8]\t[1-5]$")
        let cut = lines.filter { whole.firstMatch(in: String($0), range: NSRange($0.startIndex..., in: $0)) == nil }
        XCTAssertEqual(cut.count, 0, "cut lines, e.g. \(cut.first.map { String($0.suffix(40)) } ?? "")")
        XCTAssertEqual(lines.count, 2000)
    }

    /// os.exit in a VU stops the run as netstack.exit does, with the summary and its export
    /// written; before, it ended the process at once, with neither.
    func testOSExitInAVUStopsTheRunWithItsSummary() throws {
        let s = try script("""
        local c = netstack.metrics.counter("per_vu")
        function main()
          c:add(1, {vu = netstack.vu.id})
          if netstack.vu.id == 1 and netstack.vu.iteration == 3 then os.exit(7) end
        end
        """)
        let r = try load(s, ["--vus", "2", "--duration", "20s"])
        XCTAssertEqual(r.status, 7, r.err)
        XCTAssertNotNil(r.summary, "the summary export is written")
        XCTAssertTrue(r.out.contains("iterations"), r.out)
        XCTAssertFalse(r.err.contains("error in"), "an exit is not a script error: \(r.err)")
        XCTAssertEqual(r.summary?.metrics.aggregate("script_errors")?.sum ?? 0, 0)
        // In the init: no iteration runs, the status is the exit's.
        let i = try script("os.exit(6)\nfunction main() error('an iteration ran') end")
        let ri = try load(i, ["--vus", "2", "--iterations", "4"])
        XCTAssertEqual(ri.status, 6, ri.err)
        XCTAssertNotNil(ri.summary)
        XCTAssertFalse(ri.err.contains("an iteration ran"), ri.err)
    }

    func testAFailedThresholdExits99AndAPassingOneZero() throws {
        let s = try script("function main() end")
        let fail = try load(s, ["--vus", "2", "--iterations", "4", "--threshold", "iterations: count>100"])
        XCTAssertEqual(fail.status, 99, fail.err)
        XCTAssertTrue(fail.out.contains("✗ count>100 (4)"), fail.out)
        XCTAssertEqual(fail.summary?.thresholds.first?.passed, false)
        let pass = try load(s, ["--vus", "2", "--iterations", "4", "--threshold", "iterations: count==4"])
        XCTAssertEqual(pass.status, 0, pass.err)
        XCTAssertTrue(pass.out.contains("✓ count==4"), pass.out)
    }

    /// k6's `group`: the script's samples and checks inside are tagged with the group's path
    /// (`::outer::inner`), `group_duration` times each group, the function's values come back and
    /// its error goes through; thresholds name groups as k6 writes them; the export merges.
    func testGroupsTagTheirSamplesAndTimeThemselves() throws {
        let s = try script("""
            options = { thresholds = { ["group_duration{group:::login}"] = { "p(95)<60000" }, ["checks{group:::login::inner}"] = { "rate==1" } } }
            local hits = netstack.metrics.counter("hits")
            function main()
              local r = netstack.metrics.group("login", function(a, b)
                hits:add(1)
                netstack.sleep(5)
                netstack.metrics.group("inner", function()
                  netstack.metrics.check(1, { ["is one"] = function(v) return v == 1 end })
                end)
                return a + b
              end, 2, 3)
              assert(r == 5)
              hits:add(1)
              local ok, err = pcall(netstack.metrics.group, "bad", function() error("boom") end)
              assert(not ok and err:find("boom"), err)
              hits:add(1)
              local ok2, err2 = pcall(netstack.metrics.group, "a:b", function() end)
              assert(not ok2 and err2:find("bad argument #1 to 'group'"), err2)
            end
            """)
        let r = try load(s, ["-u", "2", "-i", "4"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(count(r.summary, "hits", ["group": "::login", "scenario": "default"]), 4)
        XCTAssertEqual(count(r.summary, "hits", ["scenario": "default"]), 12, "all samples")
        XCTAssertEqual(r.summary?.metrics.aggregate("group_duration", tags: ["group": "::login"])?.count, 4)
        XCTAssertEqual(r.summary?.metrics.aggregate("group_duration", tags: ["group": "::login::inner"])?.count, 4)
        XCTAssertEqual(r.summary?.metrics.aggregate("group_duration", tags: ["group": "::bad"])?.count, 4, "timed although it raised")
        XCTAssertGreaterThanOrEqual(r.summary?.metrics.aggregate("group_duration", tags: ["group": "::login"])?.minimum ?? 0, 5)
        XCTAssertEqual(r.summary?.metrics.aggregate("checks", tags: ["group": "::login::inner", "check": "is one"])?.count, 4)
        XCTAssertEqual(r.summary?.thresholds.filter(\.passed).count, 2)
        let export = exportPath()
        XCTAssertEqual(try runNetstack(["run", s, "-u", "1", "-i", "1", "-q", "--summary-export", export]).status, 0)
        let merged = try runNetstack(["merge", export])
        XCTAssertEqual(merged.status, 0, merged.err)
        XCTAssertTrue(merged.out.contains("{group:::login}"), merged.out)
    }

    /// k6 tags a WebSocket session opened in a group with the group: a connection made inside
    /// `netstack.metrics.group` records its ws_* metrics (attempts, sessions, times, messages,
    /// bytes, closes) with `group`, one made outside without; thresholds can name them.
    func testConnectionsMadeInAGroupCarryItsTag() throws {
        let s = try script("""
            options = { thresholds = { ["ws_msgs_received{group:::login}"] = { "count==3" } } }
            local url = "\(Servers.plain.url)/echo"
            function main()
              netstack.metrics.group("login", function()
                local ws = assert(netstack.connect(url))
                ws:send("in"); assert(ws:receive(5000) == "in")
                ws:close(); ws:receive(5000)
              end)
              local ws = assert(netstack.connect(url))
              ws:send("out!"); assert(ws:receive(5000) == "out!")
              ws:close(); ws:receive(5000)
            end
            """)
        let r = try load(s, ["-u", "1", "-i", "3"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let login = ["group": "::login"]
        for metric in ["ws_connect_attempts", "ws_sessions", "ws_msgs_sent", "ws_msgs_received"] {
            XCTAssertEqual(count(r.summary, metric, login), 3, metric)
            XCTAssertEqual(count(r.summary, metric), 6, metric + ": all connections")
        }
        XCTAssertEqual(count(r.summary, "ws_bytes_received", login), 6)
        XCTAssertEqual(count(r.summary, "ws_bytes_received"), 18)
        XCTAssertEqual(count(r.summary, "ws_closes", ["group": "::login", "code": "1000"]), 3)
        XCTAssertEqual(r.summary?.metrics.aggregate("ws_connecting", tags: login)?.count, 3)
        XCTAssertEqual(r.summary?.metrics.aggregate("ws_session_duration", tags: login)?.count, 3)
        XCTAssertEqual(count(r.summary, "iterations", login), -1, "iterations are not the group's")
        XCTAssertEqual(r.summary?.thresholds.first?.passed, true)
    }

    /// k6's scenario `env`: `os.getenv` in that scenario's VUs (their init included) answers
    /// its names first; other scenarios and other names see the process's environment.
    func testScenarioEnvIsWhatItsVUsRead() throws {
        let s = try script("""
            options = { scenarios = {
              a = { executor = "per-vu-iterations", vus = 1, iterations = 1, env = { TARGET = "alpha", N = 5, FLAG = true } },
              b = { executor = "per-vu-iterations", vus = 1, iterations = 1, exec = "other" },
            } }
            local atInit = os.getenv("TARGET")
            function main() print("a", atInit, os.getenv("TARGET"), os.getenv("N"), os.getenv("FLAG"), os.getenv("OUTSIDE")) end
            function other() print("b", atInit, os.getenv("TARGET"), os.getenv("OUTSIDE")) end
            """)
        let r = try runNetstack(["run", s, "-q", "--no-summary"], env: ["TARGET": "process", "OUTSIDE": "o"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(Set(r.out.split(separator: "\n").map(String.init)), ["a\talpha\talpha\t5\ttrue\to", "b\tprocess\tprocess\to"])
        let bad = try script("options = { scenarios = { a = { executor = \"per-vu-iterations\", env = { [\"A=B\"] = \"x\" } } } }\nfunction main() end")
        let refused = try runNetstack(["run", bad])
        XCTAssertEqual(refused.status, 64, refused.err)
        XCTAssertTrue(refused.err.contains("scenarios.a.env: 'A=B' is not a variable name"), refused.err)
    }

    /// k6's --no-thresholds and --no-summary: the options table's and the command line's
    /// thresholds are dropped (no 99, none in the export); no summary on stdout, the export still
    /// written.
    func testNoThresholdsAndNoSummary() throws {
        let s = try script("options = { thresholds = { iterations = { \"count>100\" } } }\nfunction main() end")
        let judged = try load(s, ["--vus", "2", "--iterations", "4"])
        XCTAssertEqual(judged.status, 99, judged.err)
        let skipped = try load(s, ["--vus", "2", "--iterations", "4", "--no-thresholds", "--threshold", "iterations: count>200"])
        XCTAssertEqual(skipped.status, 0, skipped.err)
        XCTAssertFalse(skipped.out.contains("count>"), skipped.out)
        XCTAssertEqual(skipped.summary?.thresholds.count, 0)
        XCTAssertTrue(skipped.out.contains("iterations..........................: 4 "), skipped.out)
        let quiet = try load(s, ["--vus", "2", "--iterations", "4", "--no-summary"])
        XCTAssertEqual(quiet.status, 99, quiet.err)
        XCTAssertEqual(quiet.out, "", "no summary on stdout")
        XCTAssertEqual(quiet.summary.map { count($0, "iterations") }, 4)
    }

    /// k6's short flags: -u (VUs), -d (duration), -i (iterations), -o (output), -q (quiet).
    func testK6ShortFlags() throws {
        let s = try script("function main() end")
        let jsonl = exportPath() + ".jsonl"
        defer { unlink(jsonl) }
        let r = try runNetstack(["run", s, "-u", "3", "-i", "6", "-d", "20s", "-q", "-o", "json=\(jsonl)"], timeout: 30 * CLITests.slowdown)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("iterations..........................: 6 "), r.out)
        XCTAssertTrue(r.out.contains("vus_max.............................: 3 "), r.out)
        XCTAssertFalse(r.err.contains("\r"), "no live line with -q")
        XCTAssertTrue(((try? String(contentsOfFile: jsonl, encoding: .utf8)) ?? "").contains("\"iterations\""), "-o json= wrote samples")
        let timed = try runNetstack(["run", s, "-u", "2", "-d", "1s", "-q"], timeout: 30 * CLITests.slowdown)
        XCTAssertEqual(timed.status, 0, timed.err)
        XCTAssertTrue(timed.out.contains("vus_max.............................: 2 "), timed.out)
    }

    /// `--tag NAME=VALUE` (k6's): on every sample, over `options.tags` of the same name; a tag
    /// that could not be read back from a series name is bad usage.
    func testTagFlagTagsEverySample() throws {
        let s = try script("options = { tags = { env = \"staging\", team = \"a\" } }\nfunction main() netstack.metrics.counter(\"hits\"):add(1) end")
        let r = try load(s, ["-u", "1", "-i", "2", "--tag", "env=prod", "--tag", "run=42"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(count(r.summary, "hits", ["env": "prod", "run": "42", "scenario": "default", "team": "a"]), 2)
        XCTAssertEqual(count(r.summary, "iterations", ["env": "prod", "run": "42", "scenario": "default", "team": "a"]), 2)
        for bad in ["novalue", "=x", "a=", "a:b=c", "a=b,c"] {
            let refused = try runNetstack(["run", s, "--tag", bad])
            XCTAssertEqual(refused.status, 64, bad + ": " + refused.err)
            XCTAssertTrue(refused.err.contains("--tag"), refused.err)
        }
    }

    /// A metric the script defines and never records is judged on zero samples, as k6 does: an
    /// error counter that stayed at 0 passes `count==0` (it failed with "no metric was defined",
    /// status 99), a rate without samples is 0. The export carries the definition to `merge`.
    func testThresholdsOnMetricsDefinedButNeverRecordedJudgeZero() throws {
        let s = try script("""
        options = { vus = 2, iterations = 4, thresholds = {
          bad_replies = { "count==0" }, login_time = { "p(95)<10", "max==0" }, reply_ok = { "rate==0" },
        } }
        local bad = netstack.metrics.counter("bad_replies")
        local t = netstack.metrics.trend("login_time")
        local ok = netstack.metrics.rate("reply_ok")
        function main() end
        """)
        let pass = try load(s, [])
        XCTAssertEqual(pass.status, 0, pass.out + pass.err)
        XCTAssertTrue(pass.out.contains("bad_replies (no samples)\n    ✓ count==0 (0)"), pass.out)
        XCTAssertTrue(pass.out.contains("✓ p(95)<10 (0)") && pass.out.contains("✓ max==0 (0)"), pass.out)
        XCTAssertTrue(pass.out.contains("✓ rate==0 (0)"), pass.out)
        XCTAssertEqual(pass.summary?.metrics.definitions["bad_replies"]?.kind, .counter)
        XCTAssertEqual(pass.summary?.metrics.definitions["reply_ok"]?.kind, .rate)
        // A threshold that needs samples fails on none, with the value it saw.
        let fail = try load(s, ["--threshold", "bad_replies: count>0"])
        XCTAssertEqual(fail.status, 99, fail.out + fail.err)
        XCTAssertTrue(fail.out.contains("✗ count>0 (0)"), fail.out)
        // A metric nobody defined still fails, with the reason.
        let undefined = try load(s, ["--threshold", "no_such_metric: count==0"])
        XCTAssertEqual(undefined.status, 99, undefined.out + undefined.err)
        XCTAssertTrue(undefined.out.contains("no metric 'no_such_metric' was defined"), undefined.out)
        // checks is defined by the first check call: its threshold says so when none ran.
        let checks = try load(s, ["--threshold", "checks: rate>0.9"])
        XCTAssertEqual(checks.status, 99, checks.out + checks.err)
        XCTAssertTrue(checks.out.contains("no metric 'checks' was defined (the first netstack.metrics.check call defines it, and none ran)"), checks.out)
    }

    /// A bot against the local server: the built-in connection metrics add up.
    func testBotMetricsCountEveryConnectionAndMessage() throws {
        let s = try script("""
        function onOpen(c) c:send("a"); c:send("bb") end
        n = 0
        function onMessage(c) n = n + 1; if n % 2 == 0 then c:close() end end
        """)
        let r = try load(s, ["--vus", "3", "--iterations", "9", "--threshold", "ws_connecting: p(95)<5000"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(count(r.summary, "ws_connect_attempts"), 9)
        XCTAssertEqual(count(r.summary, "ws_sessions"), 9)
        XCTAssertEqual(count(r.summary, "ws_msgs_sent"), 18)
        XCTAssertEqual(count(r.summary, "ws_msgs_received"), 18)
        XCTAssertEqual(count(r.summary, "ws_bytes_sent"), 27)
        XCTAssertEqual(count(r.summary, "ws_closes", ["code": "1000"]), 9)
        XCTAssertEqual(r.summary?.metrics.aggregate("ws_connecting")?.count, 9)
    }

    /// The coroutine style works in VUs: each iteration's spawned function connects, waits for
    /// its echo and closes, and the iteration lasts until it has; an error in one is a script
    /// error with the function's traceback. (Loading the coroutine code in a VU opened `debug`,
    /// which made the module's other entries from a second copy of that code: `connect` then
    /// never saw the coroutines `spawn` had made, and failed in every VU.)
    func testTheCoroutineStyleRunsInVUs() throws {
        let s = try script("""
        options = { scenarios = { each = { executor = "per-vu-iterations", vus = 3, iterations = 2 } } }
        local url = "\(Servers.plain.url)/echo"
        local ok = netstack.metrics.counter("echoed")
        function main()
          netstack.spawn(function()
            local ws = assert(netstack.connect(url))
            ws:send("vu" .. netstack.vu.id)
            local data = ws:receive(5000)
            if data == "vu" .. netstack.vu.id then ok:add() end
            netstack.sleep(20)
            ws:close()
            -- The close handshake finishes before the raise (raised at once, it raced the server's
            -- close frame: ws_closes then counted 5 code 1000 now and then).
            ws:receive(5000)
            if netstack.vu.iteration == 2 and netstack.vu.id == 1 then error("raised in a spawned function") end
          end)
        end
        """)
        let r = try load(s, [])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertEqual(count(r.summary, "echoed"), 6, r.err)
        XCTAssertEqual(count(r.summary, "iterations"), 5, "the failed one is not completed")
        XCTAssertEqual(r.summary?.metrics.aggregate("iteration_duration")?.count, 6)
        XCTAssertEqual(count(r.summary, "ws_sessions"), 6)
        XCTAssertEqual(count(r.summary, "ws_closes", ["code": "1000"]), 6)
        XCTAssertEqual(count(r.summary, "script_errors"), 1)
        XCTAssertFalse(r.err.contains("must be called inside a function started with netstack.spawn"), r.err)
        XCTAssertTrue(r.err.contains("raised in a spawned function"), r.err)
        XCTAssertTrue(r.err.contains("error in a function started with netstack.spawn: "), r.err)
        XCTAssertTrue(r.err.contains("stack traceback"), r.err)
    }

    /// An iteration function may wait itself, as k6's default function does, without
    /// `netstack.spawn`: it runs in a coroutine of its own. Its iteration lasts until it has
    /// returned and what it started is idle; an error before or after its first wait is a
    /// script error of that function, with its traceback, and a `coroutine.yield` of its own is
    /// an error that says how to wait.
    func testAnIterationFunctionWaitsWithoutSpawn() throws {
        let s = try script("""
        options = { scenarios = {
          talk = { executor = "per-vu-iterations", vus = 2, iterations = 3, exec = "talk" },
          odd = { executor = "shared-iterations", vus = 1, iterations = 2, exec = "odd", startTime = "300ms" },
        } }
        local url = "\(Servers.plain.url)/echo"
        local echoed = netstack.metrics.counter("echoed")
        function talk()
          local ws <close> = assert(netstack.connect(url))
          ws:send("vu" .. netstack.vu.id .. "." .. netstack.vu.iteration)
          local data = ws:receive(5000)
          netstack.sleep(10)
          if data == "vu" .. netstack.vu.id .. "." .. netstack.vu.iteration then echoed:add() end
          if netstack.vu.id == 2 and netstack.vu.iteration == 3 then error("raised after a wait") end
        end
        function odd()
          if netstack.vu.iteration == 1 then coroutine.yield() end
          error("raised before any wait")
        end
        """)
        let r = try load(s, [], timeout: 20)
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertEqual(count(r.summary, "echoed"), 6, r.err)
        XCTAssertEqual(count(r.summary, "iterations", ["scenario": "talk"]), 5, "the failed one is not completed")
        XCTAssertEqual(count(r.summary, "ws_sessions"), 6)
        XCTAssertEqual(count(r.summary, "script_errors"), 3)
        XCTAssertFalse(r.err.contains("must be called inside a function started with netstack.spawn"), r.err)
        XCTAssertTrue(r.err.contains("netstack: error in talk: "), r.err)
        XCTAssertTrue(r.err.contains("raised after a wait"), r.err)
        XCTAssertTrue(r.err.contains("in function 'talk'"), "the function's own traceback: \(r.err)")
        XCTAssertTrue(r.err.contains("netstack: error in odd: the function yielded by itself"), r.err)
        XCTAssertTrue(r.err.contains("netstack: error in odd: ") && r.err.contains("raised before any wait"), r.err)
    }

    /// `netstack.metrics.check` is k6's `check`: every entry is a sample of the rate `checks`
    /// tagged with its name (and the call's tags), the result says whether all passed, and
    /// thresholds judge it as any rate, per check too.
    func testChecksAreOneRateTaggedByName() throws {
        let s = try script("""
        options = {
          scenarios = { each = { executor = "per-vu-iterations", vus = 2, iterations = 3 } },
          thresholds = { checks = { "rate>0.6" }, ["checks{check:is long}"] = { "rate>0.7" } },
        }
        local check = netstack.metrics.check
        local results = netstack.metrics.counter("all_passed")
        function main()
          local n = netstack.vu.iteration
          local ok = check("reply" .. string.rep("!", n), {
            ["is reply"] = function(v) return v:sub(1, 5) == "reply" end,
            ["is long"] = function(v) return #v > 6 end,
            ["even"] = n % 2 == 0,
          }, { room = "lobby" })
          if ok then results:add() end
          assert(check(nil, {}) == true)
          assert(not pcall(check, 1, 5) and not pcall(check, 1, { true }) and not pcall(check, 1, { a = true }, "t"))
          assert(select(2, pcall(check, 1, { bad = function() error("raised in a check") end })):find("raised in a check"))
        end
        """)
        let r = try load(s, [])
        XCTAssertEqual(r.status, 99, r.err + r.out)
        // Iterations 1, 2, 3 of each VU: "is long" passes for 2 and 3, "even" for 2 only.
        XCTAssertEqual(count(r.summary, "all_passed"), 2)
        XCTAssertEqual(r.summary?.metrics.aggregate("checks")?.count, 18, "3 checks x 6 iterations; the raising check adds none")
        XCTAssertTrue(r.out.range(of: #"\{check:is reply,room:lobby\}\.+: 100\.00%  ✓ 6  ✗ 0"#, options: .regularExpression) != nil, r.out)
        XCTAssertTrue(r.out.range(of: #"\{check:even,room:lobby\}\.+: 33\.33%  ✓ 2  ✗ 4"#, options: .regularExpression) != nil, r.out)
        XCTAssertTrue(r.out.contains("✓ rate>0.6 (0.667)"), r.out)
        XCTAssertTrue(r.out.contains("✗ checks{check:is long} rate>0.7 (0.667)"), r.out)
    }

    /// `netstack.vu.keep` takes a coroutine-style `ws` as it takes a client: one connection serves
    /// every iteration of the VU (it held the first iteration open until the run's end).
    func testAKeptCoroutineClientServesEveryIteration() throws {
        let s = try script("""
        local url = "\(Servers.plain.url)/echo"
        local echoed = netstack.metrics.counter("echoed")
        local ws
        function main()
          netstack.spawn(function()
            if not ws then
              ws = assert(netstack.connect(url))
              netstack.vu.keep(ws)
            end
            ws:send("it" .. netstack.vu.iteration)
            if ws:receive(5000) == "it" .. netstack.vu.iteration then echoed:add() end
          end)
          assert(not pcall(netstack.vu.keep, setmetatable({}, { __name = "other" })))
          assert(not pcall(netstack.vu.keep, {}))
        end
        """)
        let r = try load(s, ["--vus", "2", "--iterations", "6"], timeout: 20)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(count(r.summary, "iterations"), 6)
        XCTAssertEqual(count(r.summary, "echoed"), 6)
        XCTAssertLessThanOrEqual(count(r.summary, "ws_sessions"), 2, "one connection per VU")
        // Still open when the run ends: the run closes them with 1001, and they count there.
        XCTAssertEqual(count(r.summary, "ws_closes", ["code": "1001"]), count(r.summary, "ws_sessions"))
        XCTAssertEqual(Double(r.summary?.metrics.aggregate("ws_session_duration")?.count ?? 0), count(r.summary, "ws_sessions"))
    }

    /// Every opened session ends once in `ws_closes` and `ws_session_duration`, also when the end
    /// of the graceful stop closes it with 1001 and the VU ends before the server's close reply
    /// came (those sessions went uncounted: 9 of 10 closes in some runs).
    func testSessionsTheEndOfTheRunInterruptsCountInTheCloses() throws {
        let s = try script("""
        options = { scenarios = { s = { executor = "constant-vus", vus = 12, duration = "300ms", gracefulStop = "0s" } } }
        function main()
          local c = netstack.OH_WebSocketClient_Constructor()
          netstack.OH_WebSocketClient_Connect(c, "\(Servers.plain.url)/echo")
        end
        """)
        for _ in 0..<3 {
            let r = try load(s, [])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(count(r.summary, "ws_sessions"), 12, r.out)
            XCTAssertEqual(count(r.summary, "interrupted_iterations"), 12, r.out)
            XCTAssertEqual(count(r.summary, "ws_closes", ["code": "1001"]), 12, r.out)
            XCTAssertEqual(r.summary?.metrics.aggregate("ws_session_duration")?.count, 12, r.out)
        }
    }

    /// A session the script destroys while open (in `onOpen`, or a `<close>` variable's end) counts
    /// in `ws_closes` as `code:destroyed` and in `ws_session_duration`, and is not a failed
    /// connection (status 0): it was in neither metric, so sessions and closes did not add up.
    func testSessionsTheScriptDestroysCountAsDropped() throws {
        let s = try script("""
        function main()
          if netstack.vu.iteration % 2 == 0 then
            local ws <close> = netstack.connect("\(Servers.plain.url)/echo")
            ws:send("x")
            assert(ws:receive() == "x")
          else
            local c = netstack.OH_WebSocketClient_Constructor(function(client) netstack.OH_WebSocketClient_Destroy(client) end)
            netstack.OH_WebSocketClient_Connect(c, "\(Servers.plain.url)/echo")
          end
        end
        """)
        let r = try load(s, ["--vus", "2", "--iterations", "8"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(count(r.summary, "ws_sessions"), 8, r.out)
        XCTAssertEqual(count(r.summary, "ws_closes", ["code": "destroyed"]), 8, r.out)
        XCTAssertEqual(r.summary?.metrics.aggregate("ws_session_duration")?.count, 8, r.out)
    }

    /// `netstack.stopping()` turns true in a VU once its scenario's time is up (or a ramp takes it
    /// off), so an iteration that runs until then (a timer loop, the reconnect plugin) ends
    /// within the graceful stop instead of being interrupted at its end (30 s later).
    func testStoppingTellsVUsTheirScenarioEnded() throws {
        let s = try script("""
        function main()
          local id
          id = netstack.setInterval(function()
            if netstack.stopping() then netstack.clearTimer(id) end
          end, 10)
        end
        """)
        let started = Date()
        let constant = try load(s, ["--vus", "2", "--duration", "300ms"])
        XCTAssertEqual(constant.status, 0, constant.err)
        XCTAssertEqual(count(constant.summary, "iterations"), 2)
        XCTAssertLessThanOrEqual(count(constant.summary, "interrupted_iterations"), 0, "none (no series)")
        XCTAssertLessThan(Date().timeIntervalSince(started), 20 * CLITests.slowdown, "ended at the schedule, not after the 30 s graceful stop")
        let ramp = try load(s, ["--vus", "2", "--stage", "300ms:2", "--stage", "10ms:0"])
        XCTAssertEqual(ramp.status, 0, ramp.err)
        XCTAssertEqual(count(ramp.summary, "iterations"), 2)
        XCTAssertLessThanOrEqual(count(ramp.summary, "interrupted_iterations"), 0, "none (no series)")
    }

    /// A VU of the reconnect plugin that waits out a backoff when its scenario ends stops waiting
    /// (the wait checks `netstack.stopping()` every 250 ms): its iteration completes at once. It
    /// sat out the whole backoff (here 20 s) and was interrupted at the end of the graceful stop.
    func testAReconnectBackoffEndsWithTheScenario() throws {
        let s = try script("function onOpen(c) end")
        let started = Date()
        let r = try load(s, ["--vus", "2", "--duration", "500ms", "--url", Servers.plain.url + "/misbehave/drop",
                             "--plugin", "reconnect", "-P", "reconnect.initialDelay=20000", "-P", "reconnect.jitter=0", "-P", "reconnect.quiet=true"],
                     timeout: 40)
        XCTAssertEqual(count(r.summary, "iterations"), 2, r.out + r.err)
        XCTAssertLessThanOrEqual(count(r.summary, "interrupted_iterations"), 0, "none (no series)")
        XCTAssertGreaterThanOrEqual(count(r.summary, "ws_sessions"), 2, r.out)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10 * CLITests.slowdown, "did not sit out the 20 s backoff")
    }

    /// A `--plugin` whose setup fails in every VU is reported once (it was printed once per VU)
    /// and the run exits 3, as a plain run does (it exited 1, as for a failing script init).
    func testAPluginThatCannotLoadIsReportedOnceAndExits3() throws {
        let dir = NSTemporaryDirectory() + "load-plugins-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
        return { name = "failing", version = "1.0", api = 1, setup = function() error("no token given", 0) end }
        """.write(toFile: dir + "/failing.lua", atomically: true, encoding: .utf8)
        let s = try script("function main() end")
        let r = try load(s, ["--vus", "4", "--plugin-path", dir, "--plugin", "failing"])
        XCTAssertEqual(r.status, 3, r.err)
        XCTAssertEqual(r.err.components(separatedBy: "plugin 'failing': setup failed: no token given").count - 1, 1, r.err)
        XCTAssertTrue(r.err.contains("a VU could not start: a --plugin could not load"), r.err)
        // Two failing plugins: each said once, every one tried.
        let both = try load(s, ["--vus", "3", "--plugin-path", dir, "--plugin", "absent", "--plugin", "failing"])
        XCTAssertEqual(both.status, 3, both.err)
        XCTAssertEqual(both.err.components(separatedBy: "plugin 'absent': not found").count - 1, 1, both.err)
        XCTAssertEqual(both.err.components(separatedBy: "plugin 'failing': setup failed").count - 1, 1, both.err)
    }

    /// `--no-connection-metrics`: the connections record nothing (no `ws_*` series but `ws_rtt`,
    /// which the script marks), iterations are still counted; a threshold on a metric it turns off
    /// is refused before the run (it would judge no samples and pass).
    func testNoConnectionMetricsRecordsNoConnectionSeriesAndRefusesTheirThresholds() throws {
        let s = try script("""
        function onOpen(c) netstack.metrics.request("k"); c:send("x") end
        function onMessage(c) netstack.metrics.reply("k"); c:close() end
        """)
        let r = try load(s, ["--vus", "2", "--iterations", "4", "--no-connection-metrics", "--threshold", "ws_rtt: count==4"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(count(r.summary, "iterations"), 4)
        XCTAssertEqual(r.summary?.metrics.aggregate("ws_rtt")?.count, 4)
        let recorded = Set(r.summary?.metrics.series.keys.map { SeriesName.split($0).metric } ?? [])
        XCTAssertTrue(recorded.isDisjoint(with: BuiltinMetrics.connectionMetrics), "\(recorded)")
        for t in ["ws_connecting: p(95)<500", "errors==0", "ws_closes{code:1006}: count==0"] {
            let refused = try load(s, ["--vus", "1", "--no-connection-metrics", "--threshold", t])
            XCTAssertEqual(refused.status, 64, t + ": " + refused.err)
            XCTAssertTrue(refused.err.contains("--no-connection-metrics turns"), refused.err)
        }
    }

    /// `--json` in a load run: every VU numbers its clients from 1, so each event names its VU.
    func testJSONEventsNameTheirVU() throws {
        let s = try script("""
        function onOpen(c) c:send("x") end
        function onMessage(c, d) print("got", d) c:close() end
        """)
        let r = try runNetstack(["run", s, "--vus", "3", "--json", "--quiet"])
        XCTAssertEqual(r.status, 0, r.err)
        let events = r.out.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let perVU = events.filter { $0["event"] as? String != "summary" && $0["event"] as? String != "exit" }
        XCTAssertEqual(perVU.count, 12, r.out)
        XCTAssertEqual(Set(perVU.compactMap { $0["vu"] as? Int }), [1, 2, 3], r.out)
        XCTAssertTrue(perVU.allSatisfy { $0["vu"] is Int }, r.out)
        for vu in 1...3 {
            XCTAssertEqual(perVU.filter { $0["vu"] as? Int == vu }.compactMap { $0["event"] as? String }, ["open", "message", "print", "close"], r.out)
        }
    }

    func testFailedConnectionsMakeTheStatus1WithoutThresholds() throws {
        let s = try script("function onOpen(c) c:close() end")
        let r = try load(s, ["--vus", "2", "--iterations", "2", "--url", "ws://127.0.0.1:1/"])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertEqual(count(r.summary, "ws_connect_failures"), 2)
        let judged = try load(s, ["--vus", "2", "--iterations", "2", "--url", "ws://127.0.0.1:1/", "--threshold", "ws_connect_failures: count<5"])
        XCTAssertEqual(judged.status, 0, "with thresholds, failures are theirs to judge: \(judged.err)")
    }

    /// `ws_errors` counts every `onError` event by code, before the open (a refused connect) and
    /// after it (a server that breaks the protocol); the metrics plugin's `errors` names it on
    /// the command line (it was "no metric 'errors' was defined", status 99 whatever happened).
    func testErrorsAreCountedByCodeBeforeAndAfterTheOpen() throws {
        let s = try script("""
        options = { scenarios = { each = { executor = "per-vu-iterations", vus = 2, iterations = 2 } } }
        function main()
          local c = netstack.OH_WebSocketClient_Constructor(nil, nil, function() end)
          local url = netstack.vu.id == 1 and "ws://127.0.0.1:1/" or "\(Servers.plain.url)/misbehave/invalid-utf8"
          netstack.OH_WebSocketClient_Connect(c, url)
        end
        """)
        let r = try load(s, ["--threshold", "errors==4", "--threshold", "ws_errors{code:1003}: count==2"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(count(r.summary, "ws_errors"), 4, r.out)
        XCTAssertEqual(count(r.summary, "ws_errors", ["code": "1003"]), 2, r.out)
        XCTAssertEqual(count(r.summary, "ws_connect_failures"), 2, r.out)
        XCTAssertEqual(count(r.summary, "ws_sessions"), 2, r.out)
        let clean = try load(try script("function onOpen(c) c:close() end"), ["--vus", "1", "--iterations", "2", "--threshold", "errors==0"])
        XCTAssertEqual(clean.status, 0, clean.out + clean.err)
        XCTAssertTrue(clean.out.contains("✓ ==0 (0)"), clean.out)
    }

    func testTwoSigintsStopNowAndTheSummaryIsStillPrinted() throws {
        let s = try script("function main() netstack.setTimeout(function() end, 60000); if netstack.vu.id == 1 then io.stdout:write('started\\n'); io.stdout:flush() end end")
        let r = try twoSigints(s, vus: 3)
        XCTAssertEqual(r.status, 130)
        XCTAssertTrue(r.out.contains("interrupted_iterations..") && r.out.contains(": 3 "), r.out)
    }

    /// Iterations whose Lua code never gives the loop back (`while true do end`) are stopped by
    /// the second SIGINT too.
    func testTwoSigintsStopIterationsThatNeverReturn() throws {
        let s = try script("function main() if netstack.vu.id == 1 then io.stdout:write('started\\n'); io.stdout:flush() end; while true do end end")
        let r = try twoSigints(s, vus: 2)
        XCTAssertEqual(r.status, 130)
        XCTAssertTrue(r.out.contains("interrupted_iterations..") && r.out.contains(": 2 "), r.out)
    }

    /// A VU whose init (the main chunk) never returns is stopped by the second SIGINT, and the
    /// summary is printed; it needed a third SIGINT, which exits at once without one.
    func testTwoSigintsStopAnInitThatNeverReturns() throws {
        let s = try script("if netstack.vu.id == 1 then io.stdout:write('started\\n'); io.stdout:flush(); while true do end end\nfunction main() end")
        let r = try twoSigints(s, vus: 2)
        XCTAssertEqual(r.status, 130)
        XCTAssertTrue(r.out.contains("netstack load run:") && r.out.contains("vus_max"), r.out)
    }

    /// The init that reads the options (before any VU) is stopped by the first SIGINT: status 130.
    func testASigintStopsTheInitThatReadsTheOptions() throws {
        let s = try script("options = { vus = 1 }\nio.stdout:write('started\\n'); io.stdout:flush()\nwhile true do end")
        let (p, _, err) = try startedRun(["run", s, "--quiet"])
        kill(p.processIdentifier, SIGINT)
        XCTAssertTrue(ends(p, within: 10), "still running after a SIGINT")
        XCTAssertEqual(p.terminationStatus, 130)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("interrupted while the script's init read the options"), text)
    }

    /// A SIGINT while segments wait for their common start ends the wait at once: no iteration,
    /// a duration of about 0, `teardown` called (setup ran), status 130. Before, the run ended and
    /// a later tick of the wait started the scenarios anyway: the summary said a duration of
    /// 18446744073.7 s, and whether teardown ran depended on the tick.
    func testASigintWhileWaitingForTheStartStopsTheRunBeforeItsFirstIteration() throws {
        let s = try script("""
        options = { vus = 1, iterations = 1 }
        function setup() io.stdout:write('started\\n'); io.stdout:flush() end
        function main() print('ITERATION') end
        function teardown() print('TEARDOWN') end
        """)
        let barrier = NSTemporaryDirectory() + "netstack-no-such-barrier-\(getpid())"
        let (p, out, _) = try startedRun(["run", s, "--start-barrier", barrier, "--start-timeout", "5m"])
        usleep(useconds_t(1_000_000 * CLITests.slowdown))   // setup has returned: the run waits for the file
        kill(p.processIdentifier, SIGINT)
        XCTAssertTrue(ends(p, within: 10), "still waiting for the barrier after a SIGINT")
        XCTAssertEqual(p.terminationStatus, 130)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("TEARDOWN") && !text.contains("ITERATION"), text)
        let duration = text.split(separator: "\n").first { $0.hasPrefix("  duration ") }
            .flatMap { Double($0.dropFirst("  duration ".count).dropLast()) }
        XCTAssertNotNil(duration, text)
        XCTAssertLessThan(duration ?? .infinity, 5, text)
    }

    /// `netstack ARGS`, once its script has written its first output ("started").
    func startedRun(_ args: [String]) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.buildDir + "/netstack")
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        _ = out.fileHandleForReading.availableData
        return (p, out, err)
    }

    /// Waits up to `seconds` (times the slowdown) for `p` to end; terminates it if it has not.
    func ends(_ p: Process, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds * CLITests.slowdown)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        let ended = !p.isRunning
        if !ended { p.terminate() }
        p.waitUntilExit()
        return ended
    }

    /// Runs `script` with `--vus vus --duration 5m` until it prints "started", then sends SIGINT,
    /// waits for the graceful stop's note and sends the second; fails when it still runs 20 s later.
    private func twoSigints(_ script: String, vus: Int) throws -> (status: Int32, out: String) {
        let (p, out, err) = try startedRun(["run", script, "--vus", "\(vus)", "--duration", "5m", "--quiet"])
        kill(p.processIdentifier, SIGINT)
        // Two SIGINTs sent before the process runs again are one (signals do not queue): the
        // second goes once the first was seen.
        var seen = ""
        let seenDeadline = Date().addingTimeInterval(10 * CLITests.slowdown)
        while !seen.contains("stopping gracefully") && Date() < seenDeadline {
            seen += String(decoding: err.fileHandleForReading.availableData, as: UTF8.self)
        }
        XCTAssertTrue(p.isRunning, "the first SIGINT waits for the running iterations (graceful stop: 30 s)")
        kill(p.processIdentifier, SIGINT)
        XCTAssertTrue(ends(p, within: 20), "still running after the second SIGINT")
        return (p.terminationStatus, String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    /// An iteration whose Lua code never gives its loop back cannot take the interrupt queued
    /// there at the end of the graceful stop: it is stopped by a signal to its thread, whatever
    /// the script does to hold on (a pcall around the loop, coroutines, a timer). Before, such a
    /// run never ended.
    func testIterationsThatNeverReturnAreStoppedAtTheEndOfTheGracefulStop() throws {
        let bodies = [
            "while true do end",
            "while true do pcall(function() while true do end end) end",
            "while true do xpcall(function() while true do end end, function(e) return e end) end",
            "netstack.spawn(function() while true do end end)",
            "local g = coroutine.wrap(function() while true do end end); g()",
            "local co = coroutine.create(function() while true do end end); while true do coroutine.resume(co) end",
            "while true do pcall(coroutine.wrap(function() while true do end end)) end",
            "netstack.setTimeout(function() while true do end end, 10)",
        ]
        for body in bodies {
            let s = try script("""
            options = { scenarios = { s = { executor = "constant-vus", vus = 2, duration = "300ms", gracefulStop = "200ms" } } }
            function main() \(body) end
            """)
            let r = try load(s, ["--threads", "1"])
            XCTAssertEqual(r.status, 0, body + ": " + r.err)
            XCTAssertEqual(count(r.summary, "interrupted_iterations"), 2, body)
            XCTAssertEqual(count(r.summary, "script_errors"), -1, body + ": no script error")
            XCTAssertFalse(r.err.contains("error"), body + ": " + r.err)
        }
        // The Lua code of a VU that is not being stopped is left alone; the VM keeps working
        // after its iteration was stopped (the next one runs normally).
        let s = try script("""
        options = { scenarios = {
          busy = { executor = "constant-vus", vus = 1, duration = "300ms", gracefulStop = "100ms", exec = "spin" },
          calm = { executor = "per-vu-iterations", vus = 1, iterations = 3, exec = "work" } } }
        local n = 0
        function spin() while true do end end
        function work() n = n + 1; netstack.setTimeout(function() end, 50) end
        """)
        let r = try load(s, ["--threads", "2"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(count(r.summary, "interrupted_iterations", ["scenario": "busy"]), 1)
        XCTAssertEqual(count(r.summary, "iterations", ["scenario": "calm"]), 3)
    }

    /// One VU, one iteration; `heap` is the Lua heap after the init, `say(...)` prints a line
    /// that `said` returns.
    static let oneVUProbe = """
    options = { scenarios = { a = { executor = "per-vu-iterations", vus = 1, iterations = 1 } } }
    collectgarbage(); collectgarbage()
    local heap = collectgarbage("count")
    local function say(...) print("L:", ...) end

    """

    private func said(_ out: String) -> [String] {
        out.split(separator: "\n").filter { $0.hasPrefix("L:") }.map { String($0.dropFirst(3)) }
    }

    /// A VU's VM opens coroutine, io, os, math, utf8 and debug on first use; nothing a script
    /// does tells the difference, except the memory (and rawget before first use).
    func testVUsOpenRarelyUsedLibrariesOnFirstUse() throws {
        let path = try script(Self.oneVUProbe + """
        function main()
          say("heap below 30 KiB", heap < 30)
          say("before", rawget(_G, "math"), rawget(_G, "os"))
          say(math.floor(2.5), rawget(_G, "math") == math, package.loaded.math == math)
          local u = require "utf8"; say("utf8", u == utf8, rawget(_G, "utf8") == u, utf8.char(72))
          local seen = {}; for k in pairs(_G) do seen[k] = true end
          say("pairs", seen.io, seen.os, seen.coroutine, seen.debug, getmetatable(_G))
          setmetatable(_G, { __index = function(_, k) error("undefined global " .. k, 2) end })
          say(type(os.time()), (select(2, pcall(function() return undefined_x end)):gsub("^.-: ", "")))
          say(type(debug.getinfo(1, "S").short_src), coroutine.isyieldable(), io.write ~= nil)
          say(pcall(setmetatable, _G, 5))
        end
        """)
        let r = try load(path, [])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = said(r.out)
        XCTAssertEqual(lines, [
            "heap below 30 KiB\ttrue",
            "before\tnil\tnil",
            "2\ttrue\ttrue",
            "utf8\ttrue\ttrue\tH",
            "pairs\ttrue\ttrue\ttrue\ttrue\tnil",
            "number\tundefined global undefined_x",
            "string\ttrue\ttrue",  // main runs in a coroutine of its own: it may wait
            "false\tbad argument #2 to 'setmetatable' (nil or table expected, got number)",
        ], r.out + r.err)
    }

    /// A VU's netstack module (and its json and metrics tables, and the client's methods) makes
    /// an entry when it is first read; pairs, getmetatable and debug see the whole table.
    func testVUsMakeModuleEntriesOnFirstRead() throws {
        let path = try script(Self.oneVUProbe + """
        function main()
          say("heap below 20 KiB", heap < 20)
          say("before", rawget(netstack, "now"), rawget(netstack, "WEBSOCKET_OK"))
          say(type(netstack.now), rawget(netstack, "now") == netstack.now, netstack.WEBSOCKET_OK, netstack.nothing)
          netstack.exit = nil; netstack.now = nil; netstack.mine = 5
          say("removed", netstack.exit, netstack.now, netstack.mine)
          say("coroutine", coroutine.wrap(function() return type(netstack.setTimeout) end)())
          say("json", netstack.json.decode("[1]")[1], netstack.json.null == netstack.json.null, getmetatable(netstack.json))
          local n, seen = 0, {}
          for k in pairs(netstack) do n = n + 1; seen[k] = true end
          say("pairs", n, seen.OH_WebSocketClient_Send, seen.verify, seen.exit, seen.mine)
          local c = netstack.OH_WebSocketClient_Constructor()
          say("methods", type(c.send), type(c.bufferedAmount))
          netstack.metrics.counter("hits"):add(2)
          say("plugins", type(netstack.plugins))
          local d = require("debug")
          say("debug", d.getmetatable(netstack.metrics), rawget(netstack.metrics, "trend") ~= nil)
        end
        """)
        let r = try load(path, [])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = said(r.out)
        XCTAssertEqual(lines, [
            "heap below 20 KiB\ttrue",
            "before\tnil\tnil",
            "function\ttrue\t0\tnil",
            "removed\tnil\tnil\t5",
            "coroutine\tfunction",
            "json\t1\ttrue\tnil",
            "pairs\t53\ttrue\ttrue\tnil\ttrue",
            "methods\tfunction\tfunction",
            "plugins\ttable",
            "debug\tnil\ttrue",
        ], r.out + r.err)
        XCTAssertTrue(r.out.contains("hits") && r.out.contains(": 2 "), r.out)
    }

    func testBadLoadOptionsAreUsageErrors() throws {
        let s = try script("function main() end")
        for bad in [["--vus", "-1"], ["--duration", "5x"], ["--stage", "10s"], ["--threshold", "ws_rtt p95"], ["--segment", "5/4"],
                    ["--out", "xml=f"], ["--threads", "0"], ["--iterations", "99999999999"], ["--exec", ""], ["--start-barrier", ""], ["--iterations", "1", "--stage", "1s:2"]] {
            let r = try runNetstack(["run", s] + bad)
            XCTAssertEqual(r.status, 64, "\(bad): \(r.err)")
        }
        let typo = try script("options = { scenarios = { a = { executor = 'constant-vus', vus = 1, duraton = '1s' } } }\nfunction main() end")
        let r = try runNetstack(["run", typo])
        XCTAssertEqual(r.status, 64, r.err)
        XCTAssertTrue(r.err.contains("scenarios.a.duraton: unknown option"), r.err)
        // An exec that names no global function, from the command line or the options table, is
        // refused before any VU starts; one that names a function runs.
        let two = try script("function main() end\nfunction other() print('other ran') end\nnotAFunction = 1")
        for name in ["nope", "notAFunction"] {
            let e = try runNetstack(["run", two, "--vus", "1", "--iterations", "1", "--exec", name])
            XCTAssertEqual(e.status, 64, e.err)
            XCTAssertTrue(e.err.contains("scenario 'default': exec '\(name)' is not a global function"), e.err)
            XCTAssertFalse(e.out.contains("iterations"), e.out)
        }
        let other = try runNetstack(["run", two, "--vus", "1", "--iterations", "1", "--exec", "other", "--quiet"])
        XCTAssertEqual(other.status, 0, other.err)
        XCTAssertTrue(other.out.contains("other ran"), other.out)
        let inOptions = try script("options = { scenarios = { a = { executor = 'shared-iterations', vus = 1, iterations = 1, exec = 'nope' } } }\nfunction main() end")
        let o = try runNetstack(["run", inOptions])
        XCTAssertEqual(o.status, 64, o.err)
        XCTAssertTrue(o.err.contains("scenario 'a': exec 'nope' is not a global function"), o.err)
        XCTAssertEqual(try runNetstack(["run", inOptions, "--exec", "main", "--quiet"]).status, 0)
        let nothing = try script("x = 1")
        let n = try runNetstack(["run", nothing, "--vus", "1"])
        XCTAssertEqual(n.status, 1, n.err)
        XCTAssertTrue(n.err.contains("nothing to iterate"), n.err)
    }

    func testCustomMetricsRefuseBadValuesAndNames() throws {
        let s = try script("""
        local t = netstack.metrics.trend("lat", "ms")
        local ok1 = pcall(function() t:add(-1) end)
        local ok2 = pcall(function() t:add(0/0) end)
        local ok3 = pcall(function() netstack.metrics.counter("lat") end)
        local ok4 = pcall(function() netstack.metrics.counter("9bad") end)
        local ok5 = pcall(function() t:add(1, {["a:b"] = 1}) end)
        local ok6 = pcall(function() netstack.metrics.trend("badunit", 5) end)
        local k6time = netstack.metrics.trend("k6time", true)    -- k6's new Trend(name, isTime)
        local k6plain = netstack.metrics.trend("k6plain", false)
        local r = netstack.metrics.rate("ok")
        function main()
          r:add(not (ok1 or ok2 or ok3 or ok4 or ok5 or ok6))
          k6time:add(3); k6plain:add(4)
          t:add(12.5, {kind = "x"})
          local g = netstack.metrics.gauge("depth"); g:set(netstack.vu.id)
        end
        """)
        let r = try load(s, ["--vus", "2", "--iterations", "2", "--threshold", "ok: rate==1", "--threshold", "lat{kind:x}: max==12.5"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(r.summary?.metrics.aggregate("lat")?.count, 2)
        XCTAssertEqual(r.summary?.metrics.definitions["k6time"]?.unit, .milliseconds)
        XCTAssertEqual(r.summary?.metrics.definitions["k6plain"]?.unit, MetricUnit.none)
    }

    /// --metrics-addr: the totals so far in the Prometheus text format, labelled with run and segment.
    func testPrometheusEndpointServesTheRunsMetrics() throws {
        let s = try script(Self.counting + "\nfunction main() c:add(1, {vu = netstack.vu.id}); netstack.setTimeout(function() end, 50) end")
        let (p, address) = try startWithMetricsEndpoint(s, ["--vus", "2", "--run-id", "prom", "--segment", "2/3"])
        defer { if p.isRunning { p.terminate() }; p.waitUntilExit() }
        let url = "http://\(address)/metrics"
        // The totals appear after the first collection (each second): scrape until they do.
        var body = ""
        let scrapeDeadline = Date().addingTimeInterval(15 * CLITests.slowdown)
        while !body.contains("netstack_iterations_total") && Date() < scrapeDeadline {
            usleep(300_000)
            let fetch = Process()
            fetch.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            fetch.arguments = ["python3", "-c", "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())", url]
            let out = Pipe()
            fetch.standardOutput = out
            fetch.standardError = Pipe()
            try fetch.run()
            body = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            fetch.waitUntilExit()
        }
        XCTAssertTrue(body.contains("# TYPE netstack_iterations_total counter"), body)
        XCTAssertTrue(body.contains("netstack_iterations_total{run=\"prom\",segment=\"2/3\",scenario=\"default\"}"), body)
        XCTAssertTrue(body.contains("netstack_iteration_duration{run=\"prom\",segment=\"2/3\",scenario=\"default\",quantile=\"0.95\"}"), body)
        XCTAssertTrue(body.contains("netstack_per_vu_total{run=\"prom\",segment=\"2/3\",scenario=\"default\",vu=\"2\"}"), "segment 2 of 3 runs VU 2: \(body)")
    }

    /// Output files are written where the path points (a symbolic link's target, a device) and
    /// every write is checked: a full disk is status 2 with the reason, not a short file and 0.
    /// (The report was written atomically, by renaming a new file over the path: as root, that
    /// replaced /dev/full with a regular file.)
    func testOutputFilesAreWrittenInPlaceAndFailuresFailTheRun() throws {
        let s = try script("function main() end")
        let target = exportPath(), link = exportPath()
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let linked = try runNetstack(["run", s, "--iterations", "1", "--quiet", "--report", link])
        XCTAssertEqual(linked.status, 0, linked.err)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), target, "the link is kept")
        XCTAssertTrue(try String(contentsOfFile: target, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
        let missing = NSTemporaryDirectory() + "no-such-dir-\(getpid())/x"
        for flag in [["--report", missing], ["--summary-export", missing], ["--out", "json=" + missing]] {
            let r = try runNetstack(["run", s, "--iterations", "1", "--quiet"] + flag)
            XCTAssertEqual(r.status, 2, "\(flag): \(r.err)")
            XCTAssertTrue(r.err.contains("cannot create '\(missing)': No such file or directory"), r.err)
            XCTAssertFalse(r.out.contains("netstack load run"), "\(flag): refused before the run, not after it: \(r.out)")
        }
        // /dev/full: every write fails with ENOSPC (a character device in any Linux container).
        var st = stat()
        guard stat("/dev/full", &st) == 0, (st.st_mode & S_IFMT) == S_IFCHR else { return XCTFail("/dev/full is not a device here") }
        for flag in [["--report", "/dev/full"], ["--summary-export", "/dev/full"], ["--out", "json=/dev/full"], ["--out", "csv=/dev/full"]] {
            let r = try runNetstack(["run", s, "--iterations", "1", "--quiet"] + flag)
            XCTAssertEqual(r.status, 2, "\(flag): \(r.err)")
            XCTAssertTrue(r.err.contains("cannot write '/dev/full': No space left on device"), r.err)
        }
        XCTAssertTrue(stat("/dev/full", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR, "/dev/full is still a device")
    }

    /// Scrapers are peers: 2,000 pipelined requests get one answer and the connection closes
    /// (they grew the process by 2.5 GB before), connections past 32 are closed when accepted,
    /// and the endpoint answers again once they are gone.
    func testPrometheusEndpointBoundsWhatScrapersCanQueue() throws {
        let s = try script("function main() netstack.setTimeout(function() end, 50) end")
        let (p, address) = try startWithMetricsEndpoint(s, ["--vus", "1"])
        defer { if p.isRunning { p.terminate() }; p.waitUntilExit() }
        let probe = """
        import socket, sys, time, urllib.request
        host, port = sys.argv[1].rsplit(":", 1); port = int(port)
        s = socket.create_connection((host, port))
        try: s.sendall(b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" * 2000)
        except OSError: pass
        data = b""
        s.settimeout(10)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                data += chunk
        except OSError: pass
        print("answers", data.count(b"HTTP/1.1 200"))
        time.sleep(0.5)
        conns = [socket.create_connection((host, port)) for _ in range(40)]
        time.sleep(2)
        closed = 0
        for c in conns:
            c.settimeout(0.05)
            try:
                if c.recv(1) == b"": closed += 1
            except socket.timeout: pass
            except OSError: closed += 1
        print("closed", closed)
        for c in conns: c.close()
        time.sleep(0.5)
        print("scrape", urllib.request.urlopen("http://%s/metrics" % sys.argv[1], timeout=5).status)
        """
        let (_, report) = try runTool("python3", ["-c", probe, address])
        XCTAssertTrue(report.contains("answers 1\n"), report)
        XCTAssertTrue(report.contains("closed 8\n") || report.contains("closed 9\n"), "40 connections, 32 kept: \(report)")
        XCTAssertTrue(report.contains("scrape 200"), report)
    }

    /// One SIGINT: no new iterations, the running ones finish (not interrupted), the summary, 130.
    func testOneSigintLetsRunningIterationsFinish() throws {
        let s = try script("function main() netstack.setTimeout(function() end, 1500); if netstack.vu.id == 1 and netstack.vu.iteration == 1 then io.stdout:write('started\\n'); io.stdout:flush() end end")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.buildDir + "/netstack")
        p.arguments = ["run", s, "--vus", "3", "--duration", "5m", "--quiet"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        _ = out.fileHandleForReading.availableData  // "started": the first iterations run
        kill(p.processIdentifier, SIGINT)
        let deadline = Date().addingTimeInterval(10 * CLITests.slowdown)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        let still = p.isRunning
        if still { p.terminate() }
        p.waitUntilExit()
        XCTAssertFalse(still)
        XCTAssertEqual(p.terminationStatus, 130)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        // Every iteration that had started completed: none interrupted, all counted.
        XCTAssertTrue(text.contains("iterations..........................: "), text)
        XCTAssertFalse(text.contains("interrupted_iterations"), "the running iterations finished: \(text)")
        XCTAssertFalse(text.contains("script_errors"), text)
    }

    /// SIGTERM (Kubernetes deleting a segment's pod, Slurm's time limit) counts as a SIGINT: the
    /// graceful stop, the summary, 130, and the summary export written. It used to end the
    /// process at once, leaving the export empty (the file is created before the run).
    func testSigtermStopsGracefullyAndWritesTheSummaryExport() throws {
        let s = try script("function main() netstack.setTimeout(function() end, 300); if netstack.vu.id == 1 and netstack.vu.iteration == 1 then io.stdout:write('started\\n'); io.stdout:flush() end end")
        let export = exportPath()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.buildDir + "/netstack")
        p.arguments = ["run", s, "--vus", "2", "--duration", "5m", "--quiet", "--summary-export", export]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        _ = out.fileHandleForReading.availableData  // "started"
        kill(p.processIdentifier, SIGTERM)
        XCTAssertTrue(ends(p, within: 10), "still running after a SIGTERM")
        XCTAssertEqual(p.terminationStatus, 130)
        XCTAssertEqual(p.terminationReason, .exit, "ended by its own exit, not by the signal")
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text.contains("iterations..........................: "), text)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: export))) as? [String: Any])
        XCTAssertEqual(json["status"] as? Int, 130)
        XCTAssertNotNil(((json["metrics"] as? [String: Any])?["definitions"] as? [String: Any])?["iterations"], "\(json)")
    }

    /// abortOnFail stops the run as soon as the threshold fails (here after 1 s, not 5 min).
    func testAbortOnFailStopsTheRun() throws {
        let s = try script("""
        options = { thresholds = { script_errors = { { threshold = "count==0", abortOnFail = true } } } }
        function main() netstack.setTimeout(function() error("bad reply") end, 50) end
        """)
        let t0 = Date()
        let r = try load(s, ["--vus", "2", "--duration", "5m"], timeout: 40)
        XCTAssertEqual(r.status, 99, r.err)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 35 * CLITests.slowdown, "stopped long before 5 minutes")
        XCTAssertTrue(r.err.contains("abortOnFail"), r.err)
    }

    func testCSVOutputHasOneRowPerSeriesPerInterval() throws {
        let csv = exportPath()
        let s = try script(Self.counting + "\nfunction main() c:add(1, {vu = netstack.vu.id}); netstack.setTimeout(function() end, 100) end")
        let r = try load(s, ["--vus", "2", "--duration", "2500ms", "--out", "csv=\(csv)"])
        XCTAssertEqual(r.status, 0, r.err)
        let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.first, "time,metric,tags,type,count,value,min,avg,med,p90,p95,p99,max")
        let iterationRows = rows.filter { $0.split(separator: ",")[1] == "iterations" }
        XCTAssertGreaterThanOrEqual(iterationRows.count, 2, "one row per interval: \(rows)")
        let summed = iterationRows.compactMap { Double($0.split(separator: ",")[5]) }.reduce(0, +)
        XCTAssertEqual(summed, count(r.summary, "iterations"), "the intervals add up to the total")
    }

    /// The CSV tags column splits back into the tags it was made from, whatever the values hold:
    /// `%`, `;` and `=` are percent-encoded, a quote quotes the field (RFC 4180).
    func testCSVTagsSplitBackIntoTheirPairs() throws {
        let csv = exportPath()
        let s = try script("""
        options = { iterations = 1 }
        local c = netstack.metrics.counter("odd")
        function main() c:add(1, { q = "a=b;c", p = "50%", w = 'say "hi"' }) end
        """)
        let r = try load(s, ["--out", "csv=\(csv)"])
        XCTAssertEqual(r.status, 0, r.err)
        let text = try String(contentsOfFile: csv, encoding: .utf8)
        let row = try XCTUnwrap(text.split(separator: "\n").first { $0.contains(",odd,") }, text)
        XCTAssertTrue(row.contains(",odd,\"p=50%25;q=a%3Db%3Bc;scenario=default;w=say \"\"hi\"\"\",counter,1,1,"), String(row))
    }

    /// Tags made from data (an id per iteration) once grew a run by about 370 KB per distinct
    /// tag (20,000 ids: 7.4 GB and 22 s). Past the series limits they now share the overflow
    /// series, no sample is lost, and the run says so once.
    func testTagsMadeFromDataKeepTheRunBounded() throws {
        let s = try script("""
        options = { vus = 1, iterations = 5000 }
        local t = netstack.metrics.trend("lat", "ms")
        local i = 0
        function main()
          i = i + 1
          t:add(i % 100, { id = tostring(i) })
          if i == 5000 then
            local f = io.open("/proc/self/status")
            if f then print("peak " .. f:read("a"):match("VmHWM:%s+(%d+)")); f:close() end
          end
        end
        """)
        // The overflow series keeps the scenario: a threshold on the scenario sees every sample.
        let r = try load(s, ["--threads", "1", "--threshold", "lat{scenario:default}: count==5000"], timeout: 120)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let notes = r.err.components(separatedBy: "recorded as METRIC{overflow:true,scenario:NAME}").count - 1
        XCTAssertEqual(notes, 1, r.err)
        let lat = r.summary?.metrics.series.filter { $0.key.hasPrefix("lat{") } ?? [:]
        XCTAssertLessThanOrEqual(lat.count, SeriesLimits.run.trendSeries + 1)
        XCTAssertEqual(lat["lat{overflow:true,scenario:default}"].map { $0.count + UInt64(lat.count - 1) }, 5000, "\(lat.keys.sorted().suffix(3))")
        XCTAssertEqual(r.summary?.metrics.aggregate("lat")?.count, 5000)
        if let line = r.out.split(separator: "\n").first(where: { $0.hasPrefix("peak ") }), let kb = Int(line.dropFirst(5)) {
            XCTAssertLessThan(kb, 600_000, "peak RSS in KiB")
        } else if FileManager.default.fileExists(atPath: "/proc/self/status") {
            XCTFail("no peak in: \(r.out.suffix(500))")
        }
    }

    /// A plan of more VUs than the machine's memory can hold (32 KiB each at least) is refused
    /// before any VU starts. Before, 1,000,000 VUs allocated for minutes (9 GB after 30 s) on
    /// their way to exhausting the machine.
    func testMoreVUsThanTheMemoryHoldsAreRefusedAtOnce() throws {
        let s = try script("function main() end")
        let huge = Int(VUMemoryCheck.availableBytes() / UInt64(VUMemoryCheck.bytesPerVU)) + 1
        let r = try load(s, ["--vus", "\(huge)", "--duration", "1s"], timeout: 20)
        XCTAssertEqual(r.status, 64, r.err)
        XCTAssertTrue(r.err.contains("\(huge) VUs need at least") && r.err.contains("--segment"), r.err)
        XCTAssertNil(r.summary)
        let options = try script("options = { scenarios = { a = { executor = \"constant-arrival-rate\", rate = 1, duration = \"1s\", preAllocatedVUs = \(huge) } } }\nfunction main() end")
        XCTAssertEqual(try load(options, []).status, 64)
    }
}
