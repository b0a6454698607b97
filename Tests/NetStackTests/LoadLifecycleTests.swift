import Foundation
import NetStackLoad
import XCTest

/// k6's `setup()` and `teardown()` in a load run: called once each around the VUs, setup's value
/// given to every iteration as JSON, their failures, time limits, stops and flags.
extension LoadRunTests {
    /// setup() may wait (it talks to the server); its value reaches every iteration of every VU
    /// as a copy of its own (integers stay integers, json.null stays null) and teardown gets the
    /// value as setup made it. Both run once, as VU 0 of scenarios "setup" and "teardown", whose
    /// connections are tagged so.
    func testSetupValueReachesEveryIterationAndTeardown() throws {
        let s = try script("""
        options = { scenarios = {
          a = { executor = "per-vu-iterations", vus = 2, iterations = 2 },
          b = { executor = "shared-iterations", vus = 1, iterations = 3, exec = "other" },
        } }
        local url = "\(Servers.plain.url)/echo"
        local good = netstack.metrics.counter("good")
        function setup(args)
          assert(netstack.vu.id == 0 and netstack.vu.scenario == "setup", netstack.vu.scenario)
          local ws <close> = assert(netstack.connect(url))
          ws:send("token-" .. args[1])
          local token = ws:receive(5000)
          return { token = token, n = 3, half = 0.5, list = { "x", "y" }, nested = { deep = { true } }, none = netstack.json.null }
        end
        local function check(data)
          return data.token == "token-abc" and math.type(data.n) == "integer" and math.type(data.half) == "float"
            and data.list[2] == "y" and data.nested.deep[1] == true and data.none == netstack.json.null
        end
        function main(args, data)
          if check(data) and data.n == 3 + (netstack.vu.iteration - 1) then good:add() end
          data.n = data.n + 1
        end
        function other(args, data)
          if check(data) then good:add() end
        end
        function teardown(args, data)
          assert(netstack.vu.id == 0 and netstack.vu.scenario == "teardown")
          print("teardown", args[1], data.token, data.n, check(data))
        end
        """)
        let r = try load(s, ["--", "abc"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(count(r.summary, "good"), 7, r.err)
        XCTAssertEqual(count(r.summary, "iterations"), 7, "setup and teardown are no iterations")
        XCTAssertEqual(r.out.components(separatedBy: "teardown\tabc\ttoken-abc\t3\ttrue\n").count - 1, 1, r.out)
        XCTAssertEqual(count(r.summary, "ws_sessions", ["scenario": "setup"]), 1, r.out)
        XCTAssertEqual(count(r.summary, "ws_sessions"), 1, r.out)
    }

    /// A setup that raises, returns what JSON cannot carry, outlives setupTimeout or calls
    /// netstack.exit stops the run before any iteration, and teardown is not called.
    func testSetupFailuresStopTheRunBeforeAnyIteration() throws {
        let cases: [(body: String, status: Int32, says: [String])] = [
            ("netstack.sleep(10); error('no token')", 1, ["netstack: error in setup: ", "no token", "setup() failed; no iteration ran"]),
            ("return { f = print }", 1, ["cannot go to the VUs as JSON: cannot encode a function"]),
            ("return { t = setmetatable({}, { __index = function() end }), cycle = _G }", 1, ["cannot go to the VUs as JSON"]),
            ("netstack.sleep(60000)", 1, ["it did not end within setupTimeout (300ms)", "setup() did not end within 300ms"]),
            ("while true do end", 1, ["setup() did not end within 300ms"]),
            ("netstack.sleep(10); netstack.exit(3)", 3, ["setup() called netstack.exit(3)"]),
        ]
        for c in cases {
            let s = try script("""
            options = { vus = 2, iterations = 4, setupTimeout = "300ms" }
            function setup() \(c.body) end
            function main() print("iterated") end
            function teardown() print("teardown") end
            """)
            let started = Date()
            let r = try load(s, [])
            XCTAssertEqual(r.status, c.status, c.body + ": " + r.err)
            for text in c.says { XCTAssertTrue(r.err.contains(text), c.body + ": " + r.err) }
            XCTAssertFalse(r.out.contains("iterated") || r.out.contains("teardown"), c.body + ": " + r.out)
            XCTAssertLessThan(Date().timeIntervalSince(started), 15 * CLITests.slowdown, c.body)
        }
    }

    /// teardown's error and its timeout are the run's script errors (status 1); a failed
    /// threshold still says 99; netstack.exit in teardown gives the status; --no-setup and --no-teardown call neither (the VUs get nil).
    func testTeardownErrorsTimeoutsAndTheFlagsThatTurnThemOff() throws {
        let s = try script("""
        options = { vus = 2, iterations = 2, teardownTimeout = "300ms", thresholds = { iterations = { arg[1] == "threshold" and "count>5" or "count>0" } } }
        function setup() return 7 end
        function main(args, data) print("data", data) end
        function teardown(args, data)
          print("teardown", data)
          if args[1] == "raise" then error("teardown raised") elseif args[1] == "slow" then netstack.sleep(60000)
          elseif args[1] == "exit" then netstack.exit(5) end
        end
        """)
        let raised = try load(s, ["--", "raise"])
        XCTAssertEqual(raised.status, 1, raised.err)
        XCTAssertTrue(raised.err.contains("netstack: error in teardown: ") && raised.err.contains("teardown raised"), raised.err)
        XCTAssertEqual(count(raised.summary, "script_errors"), 1, raised.err)
        let slow = try load(s, ["--", "slow"])
        XCTAssertEqual(slow.status, 1, slow.err)
        XCTAssertTrue(slow.err.contains("did not end within teardownTimeout (300ms)"), slow.err)
        let threshold = try load(s, ["--", "threshold"])
        XCTAssertEqual(threshold.status, 99, threshold.err)
        XCTAssertTrue(threshold.out.contains("teardown\t7\n"), threshold.out)
        let exited = try load(s, ["--", "exit"])
        XCTAssertEqual(exited.status, 5, exited.err)
        let fine = try load(s, [])
        XCTAssertEqual(fine.status, 0, fine.err)
        XCTAssertEqual(fine.out.components(separatedBy: "data\t7\n").count - 1, 2, fine.out)
        let off = try load(s, ["--no-setup", "--no-teardown"])
        XCTAssertEqual(off.status, 0, off.err)
        XCTAssertEqual(off.out.components(separatedBy: "data\tnil\n").count - 1, 2, off.out)
        XCTAssertFalse(off.out.contains("teardown"), off.out)
        // A script without them runs as before, its iteration function called with one argument.
        let plain = try load(try script("options = { vus = 1, iterations = 1 }\nfunction main(...) print('args', select('#', ...)) end"), [])
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertTrue(plain.out.contains("args\t1\n"), plain.out)
    }

    /// k6's handleSummary(data): called once at the end with the summary as k6 shapes it
    /// (metrics by name with type, contains, values and thresholds; sub-metrics a threshold names;
    /// state; options) plus netstack's status; its outputs replace the table on stdout and go to
    /// stderr and files; the export is still written.
    func testHandleSummaryGetsK6sDataAndItsOutputsReplaceTheTable() throws {
        let file = NSTemporaryDirectory() + "netstack-hs-\(getpid()).txt"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let s = try script("""
        options = { vus = 2, iterations = 4, summaryTrendStats = { "avg", "p(99.9)", "count" },
                    thresholds = { hits = { "count>=4" }, ["hits{kind:a}"] = { "count>100" } } }
        local hits = netstack.metrics.counter("hits")
        function main() hits:add(1, { kind = "a" }) end
        function handleSummary(data)
          assert(netstack.vu.id == 0 and netstack.vu.scenario == "handleSummary", netstack.vu.scenario)
          local m = data.metrics
          local it = m.iteration_duration
          return {
            stdout = ("mine: %s %s %d %s %s %s %s %s %d\\n"):format(m.hits.type, m.hits.contains, m.hits.values.count,
              tostring(m.hits.thresholds["count>=4"].ok), tostring(m["hits{kind:a}"].thresholds["count>100"].ok),
              it.contains, math.type(it.values.count), tostring(it.values["p(99.9)"] ~= nil and it.values.med == nil),
              data.netstack.status),
            stderr = "to stderr\\n",
            ["\(file)"] = tostring(data.state.testRunDurationMs > 0) .. " " .. data.options.summaryTrendStats[2],
          }
        end
        """)
        let r = try load(s, [])
        XCTAssertEqual(r.status, 99, "the sub-metric's threshold failed: \(r.err)")
        XCTAssertEqual(r.out, "mine: counter default 4 true false time integer true 99\n", "the outputs replace the table")
        XCTAssertTrue(r.err.contains("to stderr\n"), r.err)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "true p(99.9)")
        XCTAssertEqual(count(r.summary, "hits"), 4, "the export is still written")
        XCTAssertEqual(count(r.summary, "iterations"), 4, "handleSummary is no iteration")
        // --no-summary does not call it (k6's rule).
        try? FileManager.default.removeItem(atPath: file)
        let off = try load(s, ["--no-summary"])
        XCTAssertEqual(off.out, "")
        XCTAssertFalse(FileManager.default.fileExists(atPath: file))
    }

    /// `data.root_group` is k6's tree of groups and checks: the root (name and path ""), groups
    /// (also one without checks, and a nested group's parent) and each check's passes and fails,
    /// summed over its series (its other tags), sorted by name.
    func testHandleSummaryRootGroupHasTheGroupsAndChecks() throws {
        let s = try script("""
        options = { vus = 2, iterations = 4 }
        local check, group = netstack.metrics.check, netstack.metrics.group
        function main()
          check(1, { ["is one"] = function(v) return v == 1 end })
          group("login", function()
            check(netstack.vu.iteration, { ["first"] = function(v) return v == 1 end }, { kind = "k" .. netstack.vu.id })
            group("inner", function() end)
          end)
          group("outer", function() group("deep", function() check(0, { zero = true }) end) end)
        end
        local function describe(g, out)
          out[#out + 1] = ("[%s|%s]"):format(g.name, g.path)
          for _, c in ipairs(g.checks) do out[#out + 1] = ("%s=%s:%d/%d"):format(c.name, c.path, c.passes, c.fails) end
          for _, sub in ipairs(g.groups) do describe(sub, out) end
          return out
        end
        function handleSummary(data) return { stdout = table.concat(describe(data.root_group, {}), " ") .. "\\n" } end
        """)
        let r = try load(s, [])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "[|] is one=::is one:4/0 [login|::login] first=::login::first:2/2 [inner|::login::inner] "
                       + "[outer|::outer] [deep|::outer::deep] zero=::outer::deep::zero:4/0\n")
    }

    /// A handleSummary that raises, returns something other than outputs, outlives
    /// teardownTimeout or names a file that cannot be written: reported, the default table
    /// printed instead (for the first three), and the status says so (1, or 2 for the file).
    func testHandleSummaryFailuresFallBackToTheTable() throws {
        let cases: [(body: String, status: Int32, says: String, table: Bool)] = [
            ("error('no summary')", 1, "no summary", true),
            ("return 5", 1, "must return a table of output = text", true),
            ("return { stdout = {} }", 1, "output 'stdout' is a table, not text", true),
            ("return { [1] = 'x' }", 1, "named by strings", true),
            ("netstack.sleep(60000)", 1, "did not end within teardownTimeout (300ms)", true),
            ("return { ['/nonexistent-dir/x/y'] = 'text' }", 2, "handleSummary: cannot create '/nonexistent-dir/x/y'", false),
            ("return nil", 0, "", false),
        ]
        for c in cases {
            let s = try script("""
            options = { vus = 1, iterations = 1, teardownTimeout = "300ms" }
            function main() end
            function handleSummary(data) \(c.body) end
            """)
            let r = try load(s, [])
            XCTAssertEqual(r.status, c.status, c.body + ": " + r.err)
            XCTAssertTrue(c.says.isEmpty || r.err.contains(c.says), c.body + ": " + r.err)
            XCTAssertEqual(r.out.contains("iterations"), c.table, c.body + ": " + r.out)
            XCTAssertEqual(r.err.contains("handleSummary() failed; the default summary follows"), c.table, c.body + ": " + r.err)
        }
    }

    /// SIGINT during setup stops it and the run (130, no iteration, no teardown); the first
    /// SIGINT during the scenarios still lets teardown run.
    func testSigintDuringSetupStopsTheRunAndDuringTheScenariosKeepsTeardown() throws {
        let inSetup = try script("""
        options = { vus = 1, duration = "5m" }
        function setup() io.stdout:write("started\\n"); io.stdout:flush(); netstack.sleep(60000) end
        function main() print("iterated") end
        function teardown() print("teardown") end
        """)
        let (p, out, err) = try startedRun(["run", inSetup, "--quiet"])
        kill(p.processIdentifier, SIGINT)
        XCTAssertTrue(ends(p, within: 10), "still running after a SIGINT in setup")
        XCTAssertEqual(p.terminationStatus, 130)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertFalse(text.contains("iterated") || text.contains("teardown"), text)
        // The note says what this SIGINT does: setup stops at once, with no graceful stop.
        let said = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(said.contains("netstack: stopping setup(); the run ends with no iteration\n"), said)
        XCTAssertFalse(said.contains("gracefully"), said)

        let inScenario = try script("""
        options = { scenarios = { s = { executor = "constant-vus", vus = 1, duration = "5m", gracefulStop = "200ms" } } }
        function setup() return "d" end
        function main(args, data)
          if netstack.vu.iteration == 1 then io.stdout:write("started\\n"); io.stdout:flush() end
          netstack.sleep(60000)
        end
        function teardown(args, data) print("teardown", data) end
        """)
        let (q, out2, err2) = try startedRun(["run", inScenario, "--quiet"])
        kill(q.processIdentifier, SIGINT)
        XCTAssertTrue(ends(q, within: 10), "still running after the graceful stop")
        XCTAssertEqual(q.terminationStatus, 130)
        let text2 = String(decoding: out2.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(text2.contains("teardown\td\n"), text2)
        let said2 = String(decoding: err2.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(said2.contains("netstack: stopping gracefully (a second SIGINT or SIGTERM stops now)\n"), said2)
    }
}
