import Foundation
import NIOCore
import NetStack
import XCTest

/// `ping(_:onPong:)`: round trips measured, pings answered together, and the ones never answered.
final class PingTests: XCTestCase {
    private final class Results: @unchecked Sendable {
        let lock = NSLock()
        var values: [String] = []
        func add(_ s: String) { lock.withLock { values.append(s) } }
        var all: [String] { lock.withLock { values } }
    }

    private func describe(_ r: Result<TimeAmount, WebSocketError>) -> String {
        switch r {
        case .success(let t): return t.nanoseconds > 0 && t.nanoseconds < 5_000_000_000 ? "rtt" : "odd \(t)"
        case .failure(let e): return "\(e.code.rawValue) \(e.message)"
        }
    }

    func testTheRoundTripOfEachPingIsReported() {
        let results = Results()
        let r = runClient(Servers.plain.url + "/echo", setup: { rec in
            rec.onOpen = { c in
                for i in 0..<3 {
                    try! c.ping(Array("p\(i)".utf8)) { results.add("p\(i) " + self.describe($0)) }
                }
                try! c.ping([]) // no completion: nothing reported
                try! c.send(text: "after")
            }
            rec.onMessage = { c, _ in try! c.close() }
        })
        XCTAssertEqual(r.close?.0, 1000)
        XCTAssertEqual(results.all, ["p0 rtt", "p1 rtt", "p2 rtt"])
    }

    func testPingsThatGetNoPongFailWhenTheConnectionEnds() {
        let results = Results()
        let r = runClient(Servers.plain.url + "/misbehave/silent", configure: { $0.pingInterval = .zero }, setup: { rec in
            rec.onOpen = { c in
                for i in 0..<(WebSocketClient.maxPingsAwaitingPong + 1) {
                    try! c.ping([UInt8(i)]) { results.add("\(i) " + self.describe($0)) }
                }
                try! c.send(text: "x")
            }
            rec.onMessage = { c, _ in try! c.close() }
        })
        XCTAssertEqual(r.close?.0, 1000)
        // The failures come as the connection is released, just after onClose.
        for _ in 0..<100 where results.all.count < WebSocketClient.maxPingsAwaitingPong + 1 { usleep(10_000) }
        let all = results.all
        XCTAssertEqual(all.count, WebSocketClient.maxPingsAwaitingPong + 1, "\(all)")
        XCTAssertEqual(all.first, "\(WebSocketClient.maxPingsAwaitingPong) 1013 32 pings already await their pong", "the one over the limit, at once")
        XCTAssertEqual(all.dropFirst().filter { $0.hasSuffix("1017 the connection ended before the pong") }.count, WebSocketClient.maxPingsAwaitingPong)
    }

    func testNoPingCallbackRunsAfterDestroy() {
        let results = Results()
        let client = WebSocketClient()
        let opened = DispatchSemaphore(value: 0)
        client.onOpen = { _, _ in opened.signal() }
        try! client.connect(to: Servers.plain.url + "/misbehave/silent")
        XCTAssertEqual(opened.wait(timeout: .now() + 10), .success)
        try! client.ping([1]) { results.add(self.describe($0)) }
        client.destroy()
        usleep(200_000)
        XCTAssertEqual(results.all, [])
        XCTAssertThrowsError(try client.ping([1])) { XCTAssertEqual(($0 as? WebSocketError)?.code, .clientNotCreated) }
    }

    func testLuaGetsTheRoundTripInACallbackOrAsAReturnValue() throws {
        let script = NSTemporaryDirectory() + "ping-\(UUID().uuidString).lua"
        try """
        local url = ...
        local c = netstack.OH_WebSocketClient_Constructor(function(c)
          assert(c:ping("abc", function(rtt, err, code) print("callback", math.type(rtt), rtt > 0, err, code) c:close() end))
          print("long", c:ping(string.rep("x", 126)))
          print(pcall(c.ping, c, "x", 42))
        end, nil, nil, nil)
        c:connect(url .. "/echo")
        netstack.spawn(function()
          local ws = assert(netstack.connect(url .. "/echo"))
          print("coroutine", ws:ping("p") > 0)
          ws:close()
          print("closed", ws:ping())
          local silent = assert(netstack.connect(url .. "/misbehave/silent", { pingInterval = 0 }))
          print("silent", silent:ping("q", 100))
          silent:close()
        end)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let r = try runNetstack(["run", script, "--", Servers.plain.url])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("callback\tfloat\ttrue\tnil\tnil\n"), r.out)
        XCTAssertTrue(r.out.contains("long\tnil\tping payload over 125 bytes\t1012\n"), r.out)
        XCTAssertTrue(r.out.contains("bad argument #3 to 'ping' (function or nil expected"), r.out)
        XCTAssertTrue(r.out.contains("coroutine\ttrue\n"), r.out)
        XCTAssertTrue(r.out.contains("closed\tnil\tnot connected"), r.out)
        XCTAssertTrue(r.out.contains("silent\tnil\ttimeout\n"), r.out)
    }
}
