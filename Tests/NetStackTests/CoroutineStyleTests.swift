import Foundation
import XCTest

/// The coroutine style of the Lua API (netstack.spawn, connect, receive, sleep, select), run as
/// scripts against the local server.
final class CoroutineStyleTests: XCTestCase {
    private func run(_ lua: String, args: [String] = [], extra: [String] = [], timeout: Double = 30) throws -> (status: Int32, out: String, err: String) {
        let script = NSTemporaryDirectory() + "coroutine-\(UUID().uuidString).lua"
        try lua.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        return try runNetstack(["run", script] + extra + ["--"] + args, timeout: timeout)
    }

    func testAConversationReadsTopToBottom() throws {
        let r = try run("""
        local url = ...
        netstack.spawn(function(tag)
          local ws, err, code = netstack.connect(url, { protocols = { "chat" } })
          assert(ws, err)
          print(tag, "open", ws:openResult().code, ws:state())
          for i = 1, 3 do ws:send("m" .. i) end
          for i = 1, 3 do print(tag, ws:receive(2000)) end
          ws:send(string.char(0, 255), { binary = true })
          local data, kind = ws:receive()
          print(tag, #data, kind)
          print(tag, ws:receive(30))
          assert(ws:close(1000, "bye"))
          print(tag, ws:receive())
          print(tag, ws:receive())
        end, "A")
        print("main goes on")
        """, args: [Servers.plain.url + "/echo"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, """
        main goes on
        A\topen\t101\topen
        A\tm1\ttext
        A\tm2\ttext
        A\tm3\ttext
        A\t2\tbinary
        A\tnil\ttimeout
        A\tnil\tclosed\t1000\tbye
        A\tnil\tclosed\t1000\tbye

        """)
    }

    func testFailuresComeBackAsNilMessageCode() throws {
        let r = try run("""
        local url = ...
        netstack.spawn(function()
          print(netstack.connect("ws://127.0.0.1:1/"))
          print(netstack.connect("not a url"))
          print(netstack.connect(url .. "/status?code=403"))
          local ws = assert(netstack.connect(url .. "/close?code=4001&reason=gone"))
          print(ws:receive())
        end)
        """, args: [Servers.plain.url])
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, r.out + r.err)
        XCTAssertTrue(lines[0].hasPrefix("nil\tcould not connect to 127.0.0.1:1") && lines[0].hasSuffix("\t1003"), lines[0])
        XCTAssertTrue(lines[1].hasPrefix("nil\tinvalid URL") && lines[1].hasSuffix("\t1005"), lines[1])
        XCTAssertTrue(lines[2].hasPrefix("nil\tserver rejected the upgrade: HTTP/1.1 403") && lines[2].hasSuffix("\t1003"), lines[2])
        XCTAssertEqual(lines[3], "nil\tclosed\t4001\tgone")
        XCTAssertEqual(r.status, 1, "failed connections make the status 1, as in the callback style")
    }

    func testWaitingOutsideASpawnedFunctionIsAClearError() throws {
        let r = try run("""
        local url = ...
        print(pcall(netstack.sleep, 10))
        print(pcall(netstack.connect, url))
        print(pcall(netstack.spawn, 42))
        local co = coroutine.wrap(function() return pcall(netstack.sleep, 1) end)
        print(co())
        netstack.spawn(function()
          print(pcall(netstack.sleep, -1))
          print(pcall(netstack.sleep))
          print(pcall(netstack.sleep, 0/0))
          local ws = assert(netstack.connect(url))
          print(pcall(ws.receive, ws, "soon"))
          netstack.spawn(function() print(ws:receive()) end)
          print(pcall(ws.receive, ws))
          ws:send("one")
          netstack.sleep(300)
          ws:close()
        end)
        local c = netstack.OH_WebSocketClient_Constructor(function(c)
          print(pcall(netstack.sleep, 1))
          c:close()
        end, nil, nil, nil)
        c:connect(url)
        """, args: [Servers.plain.url + "/echo"])
        XCTAssertEqual(r.status, 0, r.err + r.out)
        let text = r.out
        XCTAssertEqual(text.components(separatedBy: "waits, so it must be called inside a function started with netstack.spawn").count - 1, 4,
                       "main chunk (sleep, connect), a plain coroutine and a callback: \(text)")
        XCTAssertTrue(text.contains("false\tbad argument #1 to 'spawn' (function expected, got number)"), text)
        // A bad sleep names sleep itself (it was setTimeout's "bad argument #2", an implementation detail).
        XCTAssertTrue(text.contains("bad argument #1 to 'sleep' (milliseconds from 0 to 2147483647 expected, got -1)"), text)
        XCTAssertTrue(text.contains("bad argument #1 to 'sleep' (milliseconds from 0 to 2147483647 expected, got nil)"), text)
        XCTAssertTrue(text.contains("bad argument #1 to 'sleep' (milliseconds from 0 to 2147483647 expected, got nan)")
                      || text.contains("got -nan)"), text)
        XCTAssertFalse(text.contains("setTimeout"), text)
        XCTAssertTrue(text.contains("ws:receive: timeout must be milliseconds"), text)
        XCTAssertTrue(text.contains("another coroutine is already waiting on this client"), text)
        XCTAssertTrue(text.contains("one\ttext"), text)
    }

    func testSleepsInterleaveInTimeOrderAndSelectWaitsOnSeveralClients() throws {
        let r = try run("""
        local url = ...
        local order = {}
        for _, spec in ipairs({ { "slow", 120 }, { "fast", 20 }, { "mid", 60 } }) do
          netstack.spawn(function(name, ms) netstack.sleep(ms); order[#order + 1] = name end, spec[1], spec[2])
        end
        netstack.spawn(function()
          netstack.sleep(200)
          print(table.concat(order, " "))
          local a = assert(netstack.connect(url))
          local b = assert(netstack.connect(url))
          print(netstack.select({ a, b }, 30))
          b:send("to b")
          local who, data, kind = netstack.select({ a, b }, 2000)
          print(who == b, data, kind)
          a:send("to a")
          who, data = netstack.select({ a, b })
          print(who == a, data)
          a:close(); b:close()
          print(select(3, netstack.select({ a })))
          print(pcall(netstack.select, {}))
          print(pcall(netstack.select, { "x" }, 1))
        end)
        """, args: [Servers.plain.url + "/echo"])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.prefix(4)), ["fast mid slow", "nil\ttimeout", "true\tto b\ttext", "true\tto a"], r.out)
        XCTAssertEqual(lines[4], "closed\t1000\t", "a closed client is news for select: \(r.out)")
        XCTAssertTrue(lines[5].contains("no clients and no timeout"), r.out)
        XCTAssertTrue(lines[6].contains("entry 1 is not a client from netstack.connect"), r.out)
    }

    /// Destroying a client ends its connection without callbacks: a coroutine waiting on it (in
    /// receive or select, with no timeout) wakes with "closed" 1006 "destroyed" instead of waiting
    /// for ever, and later receives say the same; a to-be-closed ws does too. One waiting for a
    /// pong gets 1017, as when the connection ends.
    func testDestroyWakesWhoWaitsOnTheClient() throws {
        let r = try run("""
        local url, silent = ...
        local a = nil
        netstack.spawn(function()
          local s = assert(netstack.connect(silent))
          netstack.spawn(function() netstack.sleep(30); s:destroy() end)
          print("ping", s:ping("x"))
        end)
        netstack.spawn(function()
          a = assert(netstack.connect(url))
          print("receive", a:receive())
          print("again", a:receive(10))
        end)
        netstack.spawn(function()
          local b = assert(netstack.connect(url))
          local c = assert(netstack.connect(url))
          netstack.spawn(function() netstack.sleep(50); c:destroy() end)
          local who, data, what, code, reason = netstack.select({ b, c })
          print("select", who == c, data, what, code, reason, c:state())
          b:close()
          do
            local d <close> = assert(netstack.connect(url))
            saved = d
          end
          print("closed by <close>", saved:receive())
          netstack.sleep(50)
          a:destroy()
        end)
        """, args: [Servers.plain.url + "/echo", Servers.plain.url + "/misbehave/silent"], timeout: 20)
        XCTAssertEqual(r.status, 0, r.err)
        var lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("ping\tnil\tthe connection was destroyed before the pong came\t1017"), r.out)
        lines.removeAll { $0.hasPrefix("ping") }
        XCTAssertEqual(lines, ["select\ttrue\tnil\tclosed\t1006\tdestroyed\tdestroyed",
                               "closed by <close>\tnil\tclosed\t1006\tdestroyed",
                               "receive\tnil\tclosed\t1006\tdestroyed",
                               "again\tnil\tclosed\t1006\tdestroyed"], r.out)
    }

    /// `main` may wait itself (it runs in a coroutine of its own); the run goes on until what it
    /// waits for is done. An error after its first wait is reported as main's, with main's
    /// traceback; a `coroutine.yield` of its own says how to wait instead.
    func testMainWaitsWithoutSpawn() throws {
        let ok = try run("""
        function main(args)
          local ws <close> = assert(netstack.connect(args[1]))
          ws:send("hi")
          print(ws:receive(2000))
          netstack.sleep(20)
          print(coroutine.isyieldable(), select(2, coroutine.running()))
          ws:close(1000, "done")
          print(ws:receive())
        end
        print("the main chunk ends first")
        """, args: [Servers.plain.url + "/echo"])
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertEqual(ok.out, "the main chunk ends first\nhi\ttext\ntrue\tfalse\nnil\tclosed\t1000\tdone\n")
        let late = try run("""
        function main() netstack.sleep(5) local t = nil; return t.field end
        """)
        XCTAssertEqual(late.status, 1, late.err)
        XCTAssertTrue(late.err.hasPrefix("netstack: error in main: "), late.err)
        XCTAssertTrue(late.err.contains("attempt to index a nil value (local 't')"), late.err)
        XCTAssertTrue(late.err.contains("in function 'main'"), late.err)
        XCTAssertFalse(late.err.contains("netstack.spawn"), late.err)
        let yielded = try run("function main() coroutine.yield(1) print('never') end")
        XCTAssertEqual(yielded.status, 1)
        XCTAssertEqual(yielded.out, "")
        XCTAssertTrue(yielded.err.contains("netstack: error in main: the function yielded by itself"), yielded.err)
        let exited = try run("function main() netstack.sleep(5) os.exit(7) end")
        XCTAssertEqual(exited.status, 7, exited.err)
        XCTAssertEqual(exited.err, "")
    }

    /// A plain run makes every module entry at start, but the coroutine code loads only when one
    /// of its functions is first called (it was loaded into every plain run: about 16 KiB).
    func testTheCodeLoadsOnFirstCall() throws {
        let r = try run("""
        local registry = debug.getregistry()
        local spawn, sleep = netstack.spawn, netstack.sleep
        print(type(spawn), registry["netstack.coroutines"] == nil)
        spawn(function() sleep(1) print("slept", registry["netstack.coroutines"] ~= nil) end)
        print(netstack.spawn == spawn, pcall(netstack.sleep, 1))
        """)
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, r.out)
        XCTAssertEqual(lines.first, "function\ttrue")
        XCTAssertTrue(lines[1].hasPrefix("true\tfalse\t") && lines[1].contains("must be called inside a function started with netstack.spawn"), r.out)
        XCTAssertEqual(lines.last, "slept\ttrue")
    }

    func testCallbacksAndCoroutinesShareOneScript() throws {
        let r = try run("""
        local url = ...
        local c = netstack.OH_WebSocketClient_Constructor(
          function(c) c:send("callback") end,
          function(c, data) print("callback got", data) c:close() end, nil, nil)
        c:connect(url)
        netstack.spawn(function()
          local ws = assert(netstack.connect(url))
          ws:send("coroutine")
          print("coroutine got", ws:receive())
          ws:close()
          ws:receive()
        end)
        """, args: [Servers.plain.url + "/echo"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("callback got\tcallback\n"), r.out)
        XCTAssertTrue(r.out.contains("coroutine got\tcoroutine\ttext\n"), r.out)
    }

    func testAnErrorInASpawnedFunctionIsAScriptErrorWithItsTraceback() throws {
        let r = try run("""
        local url = ...
        netstack.spawn(function()
          local ws = assert(netstack.connect(url))
          ws:send("x")
          ws:receive()
          local t = nil
          return t.field
        end)
        """, args: [Servers.plain.url + "/echo"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("attempt to index a nil value (local 't')"), r.err)
        XCTAssertTrue(r.err.contains(".lua:7: in function"), "the coroutine's own traceback: \(r.err)")
        // Labelled as the spawned function's, not as the callback that resumed it (onMessage
        // here), with one traceback: the function's, none of the frames that resumed it.
        XCTAssertTrue(r.err.contains("netstack: error in a function started with netstack.spawn: "), r.err)
        XCTAssertFalse(r.err.contains("error in onMessage"), r.err)
        XCTAssertEqual(r.err.components(separatedBy: "stack traceback:").count - 1, 1, r.err)
        XCTAssertFalse(r.err.contains("in upvalue '?'"), r.err)

        // Resumed by a timer, by a ping's answer, and at once by spawn itself (under the script's
        // pcall): the same label; an error object that is not a string is named by its type.
        let others = try run("""
        local url = ...
        local ok, e = pcall(netstack.spawn, function() error("at once") end)
        print(ok, (e:gsub("\\n.*", "")))
        netstack.spawn(function() netstack.sleep(10); error({ code = 7 }) end)
        netstack.spawn(function()
          local ws = assert(netstack.connect(url))
          ws:ping("p")
          error("after the pong")
        end)
        """, args: [Servers.plain.url + "/echo"], extra: ["--on-error", "close"])
        XCTAssertEqual(others.status, 1, others.err)
        XCTAssertTrue(others.out.contains("false\tin a function started with netstack.spawn: "), others.out)
        XCTAssertTrue(others.err.contains("error in a function started with netstack.spawn: (error object is a table value)"), others.err)
        XCTAssertTrue(others.err.contains("error in a function started with netstack.spawn: "), others.err)
        XCTAssertTrue(others.err.contains("after the pong"), others.err)
        XCTAssertFalse(others.err.contains("error in ping callback") || others.err.contains("error in timer"), others.err)
        XCTAssertEqual(others.err.components(separatedBy: "stack traceback:").count - 1, 2, others.err)

        let yielded = try run("netstack.spawn(function() coroutine.yield(1) end)")
        XCTAssertEqual(yielded.status, 1)
        XCTAssertTrue(yielded.err.contains("the function yielded by itself"), yielded.err)
    }

    func testAClientThatIsNotReadIsBoundedAndSaysSo() throws {
        // 24 MiB arrive while the script sleeps; the receive queue holds at most 16 MiB.
        let r = try run("""
        local url = ...
        netstack.spawn(function()
          local ws = assert(netstack.connect(url, { maxReceiveSize = 1048576 }))
          netstack.sleep(1500)
          local n, last = 0
          while true do
            local data, why, code = ws:receive(5000)
            if not data then print(n, why, code) break end
            n = n + 1
          end
          print(ws:receive())
        end)
        """, args: [Servers.plain.url + "/flood?n=384&size=65536&binary=1"], timeout: 60)
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, r.out + r.err)
        let first = lines.first?.split(separator: "\t").map(String.init) ?? []
        XCTAssertEqual(first.count, 3, r.out)
        XCTAssertLessThanOrEqual(Int(first[0]) ?? 999, 256, "at most 16 MiB were kept")
        XCTAssertTrue(first[1].hasPrefix("receive queue over 16777216 bytes"), r.out)
        XCTAssertEqual(first[2], "1013")
        // Closed with 1008 by the client, or with 1000 by the server when its flood ended first.
        XCTAssertTrue(lines[1].hasPrefix("nil\tclosed\t1008") || lines[1].hasPrefix("nil\tclosed\t1000"), r.out)
        // Messages were dropped: the run failed (it ended with 0 although the docs count a
        // connection closed for a limit as failed).
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("1 connection failed"), r.err)
    }
}
