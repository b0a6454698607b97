import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
@testable import NetStack
import XCTest

/// The per-loop window of opening connections: the queue alone on an EmbeddedEventLoop, then
/// connections on a real loop with a small window.
final class LoopConnectWindowTests: XCTestCase {
    func testStartsUpToTheLimitThenQueuesInOrder() {
        let loop = EmbeddedEventLoop()
        let window = LoopConnectWindow(eventLoop: loop, limit: 2)
        var started: [Int] = []
        for i in 0..<5 {
            let now = window.enter { started.append(i) }
            XCTAssertEqual(now, i < 2, "enter \(i)")
        }
        XCTAssertEqual(started, [0, 1])
        XCTAssertEqual(window.openingCount, 2)
        XCTAssertEqual(window.waitingCount, 3)

        window.leave()
        XCTAssertEqual(started, [0, 1], "the next starts in a task of its own, not inside leave")
        XCTAssertEqual(window.openingCount, 2, "its place is taken at once")
        loop.run()
        XCTAssertEqual(started, [0, 1, 2])

        window.leave()
        window.leave()
        loop.run()
        XCTAssertEqual(started, [0, 1, 2, 3, 4])
        XCTAssertEqual(window.waitingCount, 0)
        XCTAssertEqual(window.openingCount, 2)
        window.leave()
        window.leave()
        XCTAssertEqual(window.openingCount, 0)
        loop.run()
        XCTAssertEqual(started.count, 5)
    }

    func testAStartWithNothingToDoPassesItsPlaceOn() {
        let loop = EmbeddedEventLoop()
        let window = LoopConnectWindow(eventLoop: loop, limit: 1)
        var ran: [String] = []
        window.enter { ran.append("a") }
        window.enter { ran.append("stale"); window.leave() }   // destroyed while it waited
        window.enter { ran.append("c") }
        window.leave()
        loop.run()
        XCTAssertEqual(ran, ["a", "stale", "c"])
        XCTAssertEqual(window.openingCount, 1)
        XCTAssertEqual(window.waitingCount, 0)
    }

    func testZeroMeansNoLimit() {
        let loop = EmbeddedEventLoop()
        let window = LoopConnectWindow(eventLoop: loop, limit: 0)
        var n = 0
        for _ in 0..<5000 { XCTAssertTrue(window.enter { n += 1 }) }
        XCTAssertEqual(n, 5000)
        XCTAssertEqual(window.waitingCount, 0)
    }

    func testALongQueueKeepsItsOrder() {
        let loop = EmbeddedEventLoop()
        let window = LoopConnectWindow(eventLoop: loop, limit: 1)
        var order: [Int] = []
        window.enter {}
        for i in 0..<5000 { window.enter { order.append(i) } }
        for _ in 0..<5000 {
            window.leave()
            loop.run()
        }
        XCTAssertEqual(order, Array(0..<5000))
        XCTAssertEqual(window.waitingCount, 0)
        XCTAssertEqual(window.openingCount, 1)
    }

    /// One place: a connection that hangs in its upgrade holds it until its timeout; the one
    /// queued behind it then opens with a full timeout of its own (waiting did not count), one
    /// destroyed while it waited gives no event, a refused one fails, and every place comes back.
    func testConnectionsWaitForAPlaceAndGiveItBack() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        try loop.submit { LoopConnectWindow.forCurrentLoop(loop).limit = 1 }.wait()

        final class Log: @unchecked Sendable {
            let lock = NSLock()
            var lines: [String] = []
            func add(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
            var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
        }
        let log = Log()
        let done = DispatchGroup()
        func client(_ name: String, timeout: TimeAmount) -> WebSocketClient {
            var config = WebSocketClientConfiguration()
            config.connectTimeout = timeout
            let c = WebSocketClient(configuration: config, eventLoop: loop)
            c.onOpen = { c, _ in log.add("\(name) open"); try? c.close() }
            c.onError = { c, e in
                log.add("\(name) error \(e.code.rawValue)\(e.message.contains("timed out") ? " timed out" : "")")
                if c.state == .closed { done.leave() }
            }
            c.onClose = { _, _ in log.add("\(name) closed"); done.leave() }
            return c
        }
        let base = Servers.plain.url
        let hang = client("hang", timeout: .milliseconds(400))
        let echo = client("echo", timeout: .milliseconds(300))
        let gone = client("gone", timeout: .seconds(5))
        let refused = client("refused", timeout: .seconds(5))
        done.enter(); done.enter(); done.enter()
        try hang.connect(to: base + "/misbehave/hang")
        try echo.connect(to: base + "/echo")
        try gone.connect(to: base + "/echo")
        try refused.connect(to: "ws://127.0.0.1:1/")
        try loop.submit {
            XCTAssertEqual(LoopConnectWindow.forCurrentLoop(loop).openingCount, 1)
            XCTAssertEqual(LoopConnectWindow.forCurrentLoop(loop).waitingCount, 3)
        }.wait()
        gone.destroy()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        let lines = log.all
        XCTAssertEqual(lines.first, "hang error \(WebSocketErrCode.connectionError.rawValue) timed out", "\(lines)")
        // echo waited about 400 ms with a timeout of 300 ms, and still opened.
        XCTAssertTrue(lines.contains("echo open"), "\(lines)")
        XCTAssertTrue(lines.contains("echo closed"), "\(lines)")
        XCTAssertTrue(lines.contains("refused error \(WebSocketErrCode.connectionError.rawValue)"), "\(lines)")
        XCTAssertFalse(lines.contains { $0.hasPrefix("gone") }, "\(lines)")
        let counts = try loop.submit {
            (LoopConnectWindow.forCurrentLoop(loop).openingCount, LoopConnectWindow.forCurrentLoop(loop).waitingCount)
        }.wait()
        XCTAssertEqual(counts.0, 0)
        XCTAssertEqual(counts.1, 0)
    }
}
