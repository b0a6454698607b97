import Foundation
import NIOCore
import NIOPosix
import NetStackTestServer
import XCTest
@testable import NetStack

/// Busy polling after writes: finding SwiftNIO's epoll descriptor, engaging on a real connection,
/// backing off when nothing answers, and staying off where it should.
final class LoopBusyPollTests: XCTestCase {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    override func tearDown() { try? group.syncShutdownGracefully() }

    func stats(_ loop: EventLoop) throws -> LoopBusyPoll.Statistics? {
        try loop.submit { LoopBusyPoll.forCurrentLoop(loop)?.statistics }.wait()
    }

    /// Fails when a SwiftNIO update moves the selector's descriptor: busy polling would then be off.
    func testFindsTheEpollDescriptorOfNIOLoops() throws {
        let loop = group.next()
        let fd = try loop.submit { LoopBusyPoll.epollDescriptor(of: loop) }.wait()
        let found = try XCTUnwrap(fd, "SwiftNIO's selector descriptor not found by reflection")
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(found)")
        XCTAssertEqual(target, "anon_inode:[eventpoll]")
        // Another loop has another epoll instance.
        let other = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? other.syncShutdownGracefully() }
        let otherLoop = other.next()
        let fd2 = try otherLoop.submit { LoopBusyPoll.epollDescriptor(of: otherLoop) }.wait()
        XCTAssertNotNil(fd2)
        XCTAssertNotEqual(fd2, found)
    }

    func testNotFoundOnAClosedLoop() throws {
        let closed = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = closed.next()
        try closed.syncShutdownGracefully()
        XCTAssertNil(LoopBusyPoll.epollDescriptor(of: loop))
    }

    func testEngagesAfterWritesToALocalPeerAndNotWhenDisabled() throws {
        let loop = group.next()
        func echo(_ rounds: Int, busyPoll: TimeAmount) {
            var config = WebSocketClientConfiguration()
            config.busyPoll = busyPoll
            let client = WebSocketClient(configuration: config, eventLoop: loop)
            let rec = EventRecorder()
            var left = rounds
            rec.onOpen = { c in try! c.send(text: "ping") }
            rec.onMessage = { c, _ in
                left -= 1
                if left == 0 { try! c.close() } else { try! c.send(text: "ping") }
            }
            rec.attach(client)
            try! client.connect(to: Servers.plain.url + "/echo")
            rec.waitForTerminal()
            XCTAssertEqual(rec.messages.count, rounds)
        }
        echo(200, busyPoll: .microseconds(200))
        let after = try stats(loop)
        guard LoopBusyPoll.multiCore else {
            XCTAssertNil(after, "one core: no busy polling")
            return
        }
        let s = try XCTUnwrap(after)
        // 200 echoes + the upgrade request: each write asks for a poll (skipped ones included).
        XCTAssertGreaterThanOrEqual(s.polls + s.skipped, 200)
        XCTAssertGreaterThan(s.hits, 0, "no poll saw the local server's answer: \(s)")
        echo(50, busyPoll: .zero)
        XCTAssertEqual(try stats(loop), s, "busyPoll = 0 must not poll")
    }

    /// With nothing ever ready, each miss doubles the number of requests skipped before the next poll.
    func testBacksOffExponentiallyWhileNothingAnswers() throws {
        try XCTSkipUnless(LoopBusyPoll.multiCore, "busy polling is off on one core")
        let loop = group.next()
        for _ in 0..<10 {
            try loop.submit { LoopBusyPoll.forCurrentLoop(loop)!.request(budget: .microseconds(20)) }.wait()
            try loop.submit {}.wait()   // the poll runs as a task after the request's
        }
        // Requests 1, 3 and 7 poll and miss; 2, 4-6 and 8-10 are skipped.
        XCTAssertEqual(try stats(loop), LoopBusyPoll.Statistics(polls: 3, hits: 0, misses: 3, skipped: 7))
    }

    func testTheBudgetIsCapped() throws {
        try XCTSkipUnless(LoopBusyPoll.multiCore, "busy polling is off on one core")
        let loop = group.next()
        try loop.submit { LoopBusyPoll.forCurrentLoop(loop)!.request(budget: .seconds(5)) }.wait()
        try loop.submit {}.wait()
        let budget = try loop.submit { LoopBusyPoll.forCurrentLoop(loop)!.budget }.wait()
        XCTAssertEqual(budget, LoopBusyPoll.maximumBudget)
        XCTAssertEqual(try stats(loop)?.misses, 1)
    }
}
