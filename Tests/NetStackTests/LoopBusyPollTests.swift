import Foundation
import NIOCore
import NIOPosix
import NetStackTestServer
import XCTest
@testable import NetStack

/// Busy polling after writes: finding the loop's epoll descriptor, engaging on a real connection,
/// backing off when nothing answers, and staying off where it should.
final class LoopBusyPollTests: XCTestCase {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    override func tearDown() { try? group.syncShutdownGracefully() }

    func stats(_ loop: EventLoop) throws -> LoopBusyPoll.Statistics? {
        try loop.submit { LoopBusyPoll.forCurrentLoop(loop)?.statistics }.wait()
    }

    /// The poller of `loop`, once it knows the loop's epoll descriptor.
    func readyPoller(_ loop: EventLoop) throws -> LoopBusyPoll {
        let deadline = Date().addingTimeInterval(LoopBusyPoll.probeTimeout + 1)
        while Date() < deadline {
            if try loop.submit({ LoopBusyPoll.forCurrentLoop(loop)?.epollFD != nil }).wait() {
                return try loop.submit { LoopBusyPoll.forCurrentLoop(loop)! }.wait()
            }
            usleep(1000)
        }
        throw CLITests.Failure("the loop's epoll descriptor was not found")
    }

    /// Fails when SwiftNIO's loops stop waiting in epoll (or Linux stops telling): busy polling
    /// would then be off.
    func testFindsTheEpollDescriptorOfNIOLoops() throws {
        let loop = group.next()
        let thread = try XCTUnwrap(try loop.submit { EpollDescriptorProbe.currentThread() }.wait())
        let found = try XCTUnwrap(EpollDescriptorProbe.descriptor(waitedOnBy: thread, timeout: 2), "no epoll wait seen on \(thread)")
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(found)")
        XCTAssertEqual(target, "anon_inode:[eventpoll]")
        // Another loop has another epoll instance.
        let other = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? other.syncShutdownGracefully() }
        let otherThread = try XCTUnwrap(try other.next().submit { EpollDescriptorProbe.currentThread() }.wait())
        XCTAssertNotEqual(otherThread, thread)
        let fd2 = try XCTUnwrap(EpollDescriptorProbe.descriptor(waitedOnBy: otherThread, timeout: 2))
        XCTAssertNotEqual(fd2, found)
        // The poller finds the same one by itself.
        if LoopBusyPoll.multiCore { XCTAssertEqual(try readyPoller(loop).epollFD, found) }
    }

    func testNotFoundForAThreadThatEnded() throws {
        let closed = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let thread = try XCTUnwrap(try closed.next().submit { EpollDescriptorProbe.currentThread() }.wait())
        try closed.syncShutdownGracefully()
        XCTAssertNil(EpollDescriptorProbe.descriptor(waitedOnBy: thread, timeout: 0.2))
    }

    func testReadsOnlyEpollWaitsFromSyscallLines() {
        #if arch(x86_64)
        XCTAssertEqual(EpollDescriptorProbe.waitedDescriptor(syscallLine: "232 0x5 0x7f6828000ba0 0x3ff 0x7d0 0x0 0x0 0x7f 0x7f"), 5)
        XCTAssertEqual(EpollDescriptorProbe.waitedDescriptor(syscallLine: "281 0x1a 0x1 0x2 0x3 0x0 0x0 0x7f 0x7f"), 26)
        #endif
        XCTAssertEqual(EpollDescriptorProbe.waitedDescriptor(syscallLine: "441 0x7 0x1 0x2 0x3 0x0 0x0 0x7f 0x7f"), 7)
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: "running"))
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: "0 0x4 0x5 0x2000 0x0 0x0 0x0 0x7f 0x7f"))   // read
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: "-1 0x7ffe 0x7f"))
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: "441 zz"))
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: "441"))
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: "441 0xffffffffffffffff"))
        // As read from the file: the line ends in a newline; only the first line counts.
        XCTAssertEqual(EpollDescriptorProbe.waitedDescriptor(syscallLine: "441 0x1f\n"), 31)
        XCTAssertEqual(EpollDescriptorProbe.waitedDescriptor(syscallLine: "441 0x7fffffff 0x1"), CInt.max)
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: "441 0x80000000 0x1"))
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: "441 0x\n0x5"))
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: "441\n0x5"))
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: "4410 0x5 0x1"))
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: "441 0x5g 0x1"))
        XCTAssertNil(EpollDescriptorProbe.waitedDescriptor(syscallLine: ""))
    }

    /// A loop that never waits in epoll is sampled about 1,150 times in the probe's two seconds,
    /// not 4,000: 500 µs apart for the first 100 ms, then 2 ms.
    func testTheProbeSamplesLessOftenAfterItsFirstTenthOfASecond() {
        XCTAssertEqual(EpollDescriptorProbe.pause(afterSamples: 0), 500)
        XCTAssertEqual(EpollDescriptorProbe.pause(afterSamples: 199), 500)
        XCTAssertEqual(EpollDescriptorProbe.pause(afterSamples: 200), 2000)
        let samples = (0..<4000).reduce((0, 0)) { acc, k in acc.0 >= 2_000_000 ? acc : (acc.0 + Int(EpollDescriptorProbe.pause(afterSamples: k)), acc.1 + 1) }.1
        XCTAssertEqual(samples, 1150)
    }

    func testEngagesAfterWritesToALocalPeerAndNotWhenDisabled() throws {
        let loop = group.next()
        if LoopBusyPoll.multiCore { _ = try readyPoller(loop) }
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
        // The largest budget (1 ms): with 200 µs, a build under AddressSanitizer on a loaded
        // machine answered too slowly for any poll to see the answer (7 polls, 0 hits), and the
        // test failed though polling had engaged.
        echo(200, busyPoll: LoopBusyPoll.maximumBudget)
        let after = try stats(loop)
        guard LoopBusyPoll.multiCore else {
            XCTAssertNil(after, "one core: no busy polling")
            return
        }
        let s = try XCTUnwrap(after)
        // 200 sends and the close frame: each write asks for a poll (skipped ones included); the
        // upgrade request does not.
        XCTAssertGreaterThanOrEqual(s.polls + s.skipped, 200)
        XCTAssertGreaterThan(s.hits, 0, "no poll saw the local server's answer: \(s)")
        echo(50, busyPoll: .zero)
        XCTAssertEqual(try stats(loop), s, "busyPoll = 0 must not poll")
    }

    /// With nothing ever ready, each miss doubles the number of requests skipped before the next poll.
    func testBacksOffExponentiallyWhileNothingAnswers() throws {
        try XCTSkipUnless(LoopBusyPoll.multiCore, "busy polling is off on one core")
        let loop = group.next()
        _ = try readyPoller(loop)
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
        _ = try readyPoller(loop)
        try loop.submit { LoopBusyPoll.forCurrentLoop(loop)!.request(budget: .seconds(5)) }.wait()
        try loop.submit {}.wait()
        let budget = try loop.submit { LoopBusyPoll.forCurrentLoop(loop)!.budget }.wait()
        XCTAssertEqual(budget, LoopBusyPoll.maximumBudget)
        XCTAssertEqual(try stats(loop)?.misses, 1)
    }
}
