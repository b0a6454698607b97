import Foundation
import LuaHost
import XCTest

/// The Lua host calls `onMessage` for a run of messages of one read inside one protected call
/// (`LuaMessageRun`): each message must still see what the callbacks before it did, errors are
/// reported one by one with the traceback a lone callback gets, and limits apply per message.
final class LuaMessageRunTests: XCTestCase {
    private func run(_ query: String, _ mode: String, configure: (inout ScriptHost.Options) -> Void = { _ in }) throws -> LuaHostTests.Outcome {
        try LuaHostTests.runScript("message_runs.lua", args: [Servers.plain.url + "/flood?" + query, mode], configure: configure)
    }

    func testEveryMessageOfARunArrivesWithItsKindAndLength() throws {
        let text = try run("n=500&size=7&binary=0", "count")
        XCTAssertEqual(text.status, 0, text.log.joined(separator: "\n"))
        XCTAssertTrue(text.stdout.contains("messages\t500\tbytes\t3500\ttext\t500\tbinary\t0\tclose\t1000\n"), text.stdout)
        let binary = try run("n=300&size=33&binary=1", "count")
        XCTAssertEqual(binary.status, 0, binary.log.joined(separator: "\n"))
        XCTAssertTrue(binary.stdout.contains("messages\t300\tbytes\t9900\ttext\t0\tbinary\t300\tclose\t1000\n"), binary.stdout)
    }

    /// Every third callback raises: each error is reported (with onMessage's own traceback, no
    /// frame of the host's), and the messages after it in the same read are still delivered.
    func testAnErrorEndsItsCallbackOnlyAndKeepsItsTraceback() throws {
        let o = try run("n=300&size=5&binary=0", "error") { $0.onError = .continue }
        XCTAssertEqual(o.status, 1)
        XCTAssertTrue(o.stdout.contains("messages\t300\tbytes\t1500"), o.stdout)
        let reports = o.log.filter { $0.contains("error in onMessage") }
        XCTAssertEqual(reports.count, 100, o.log.prefix(3).joined(separator: "\n"))
        for (i, r) in reports.enumerated() {
            XCTAssertTrue(r.contains("raised at message \((i + 1) * 3)"), r)
            let lines = r.split(separator: "\n")
            XCTAssertEqual(lines.last.map { $0.contains("message_runs.lua:15: in function <") }, true, r)
            XCTAssertFalse(r.contains("[C]: in ?"), r)
        }
    }

    func testDestroyExitAndCloseTakeEffectBeforeTheNextMessage() throws {
        let destroyed = try run("n=400&size=4&binary=0", "destroy")
        XCTAssertEqual(destroyed.status, 0, destroyed.log.joined(separator: "\n"))
        XCTAssertEqual(destroyed.stdout, "messages\t5\n")

        let exited = try run("n=400&size=4&binary=0", "exit")
        XCTAssertEqual(exited.status, 7, exited.log.joined(separator: "\n"))
        XCTAssertEqual(exited.stdout, "exit at\t3\n")

        // After our close, what the server sent before it saw the close frame is still delivered.
        let closed = try run("n=400&size=4&binary=0", "close")
        XCTAssertEqual(closed.status, 0, closed.log.joined(separator: "\n"))
        XCTAssertTrue(closed.stdout.hasPrefix("messages\t"), closed.stdout)
        XCTAssertTrue(closed.stdout.hasSuffix("close\t1000\n"), closed.stdout)
    }

    /// The instruction budget is each callback's, also inside a run: 300 callbacks of about
    /// 40,000 instructions pass a budget of 200,000; one that loops for ever is stopped alone.
    func testTheInstructionBudgetIsPerMessage() throws {
        let ok = try run("n=300&size=4&binary=0", "budget") { $0.vm.instructionBudget = 200_000 }
        XCTAssertEqual(ok.status, 0, ok.log.joined(separator: "\n"))
        XCTAssertTrue(ok.stdout.contains("messages\t300\t"), ok.stdout)

        let runaway = try run("n=300&size=4&binary=0", "runaway") { $0.vm.instructionBudget = 200_000; $0.onError = .continue }
        XCTAssertEqual(runaway.status, 1)
        XCTAssertTrue(runaway.stdout.contains("messages\t300\t"), runaway.stdout)
        XCTAssertEqual(runaway.log.filter { $0.contains("instruction budget exceeded") }.count, 1, runaway.log.joined(separator: "\n"))
    }
}

extension LoadRunTests {
    /// In a load run, every message of a run is counted (ws_msgs_received) and every error of a
    /// callback is one script error, for a client of the iteration and for one kept across
    /// iterations (whose messages go one at a time: it may end an iteration).
    func testMessageRunsInLoadRunsAreCountedOneByOne() throws {
        let s = try script("""
        options = { vus = 2, iterations = 4 }
        local kept
        local function flood(n, raise)
          local c = netstack.OH_WebSocketClient_Constructor(nil, function(c, data)
            netstack.metrics.counter("got"):add(1)
            if raise and #data == 3 then error("raised") end
          end)
          c:connect("\(Servers.plain.url)/flood?n=" .. n .. "&size=3&binary=0")
          return c
        end
        function main()
          if not kept then kept = netstack.vu.keep(flood(100, false)) or true end
          flood(200, netstack.vu.iteration == 1)
        end
        """)
        let r = try load(s, ["--on-error", "continue"])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertEqual(count(r.summary, "got"), 2 * 100 + 4 * 200, r.err)
        XCTAssertEqual(count(r.summary, "ws_msgs_received"), 2 * 100 + 4 * 200, r.err)
        XCTAssertEqual(count(r.summary, "script_errors"), 2 * 200, r.err)
    }
}
