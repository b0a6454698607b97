import NIOCore
import NIOPosix
import XCTest
@testable import NetStack

/// The per-loop timer queue behind connect, close and keepalive deadlines.
final class LoopTimersTests: XCTestCase {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    override func tearDown() { try? group.syncShutdownGracefully() }

    func testFiresInDeadlineOrderAndSkipsCancelled() throws {
        let loop = group.next()
        let fired = try loop.submit { () -> EventLoopFuture<[Int]> in
            let timers = LoopTimers.forCurrentLoop(loop)
            var order: [Int] = []
            let promise = loop.makePromise(of: [Int].self)
            timers.schedule(in: .milliseconds(30)) { order.append(3) }
            let cancelled = timers.schedule(in: .milliseconds(10)) { order.append(99) }
            timers.schedule(in: .milliseconds(20)) { order.append(2) }
            // An earlier timer added later re-arms the queue.
            timers.schedule(in: .milliseconds(5)) { order.append(1) }
            timers.cancel(cancelled)
            timers.cancel(cancelled)   // twice: ignored
            timers.schedule(in: .milliseconds(40)) { promise.succeed(order) }
            return promise.futureResult
        }.flatMap { $0 }.wait()
        XCTAssertEqual(fired, [1, 2, 3])
    }

    func testManyCancelledTimersAreCompactedAndLiveOnesStillFire() throws {
        let loop = group.next()
        let result = try loop.submit { () -> EventLoopFuture<(Int, Int)> in
            let timers = LoopTimers.forCurrentLoop(loop)
            let promise = loop.makePromise(of: (Int, Int).self)
            var ran = 0
            // 20,000 connections' worth of timers, all but 10 cancelled (as when they close).
            var handles: [LoopTimers.Handle] = []
            for i in 0..<20_000 {
                let h = timers.schedule(in: .seconds(30 + Int64(i % 7))) { ran += 1 }
                handles.append(h)
            }
            for h in handles.dropLast(10) { timers.cancel(h) }
            let live = timers.count
            for _ in 0..<10 { timers.schedule(in: .milliseconds(1)) { ran += 1 } }
            timers.schedule(in: .milliseconds(20)) { promise.succeed((live, ran)) }
            return promise.futureResult
        }.flatMap { $0 }.wait()
        XCTAssertEqual(result.0, 10)
        XCTAssertEqual(result.1, 10, "the short timers ran; the long ones did not")
    }

    /// A cancelled timer's slot is reused by the next one: the old heap entry (due first) does not
    /// run the new callback early, and the old handle does not cancel the new timer.
    func testAReusedSlotBelongsToItsNewTimerOnly() throws {
        let loop = group.next()
        let (log, live) = try loop.submit { () -> EventLoopFuture<([String], Int)> in
            let timers = LoopTimers.forCurrentLoop(loop)
            let promise = loop.makePromise(of: ([String], Int).self)
            var log: [String] = []
            let old = timers.schedule(in: .milliseconds(5)) { log.append("old") }
            timers.cancel(old)
            let new = timers.schedule(in: .milliseconds(40)) { log.append("new") }
            timers.cancel(old)
            let live = timers.count
            timers.schedule(in: .milliseconds(20)) { log.append("mid") }
            timers.schedule(in: .milliseconds(80)) { promise.succeed((log, live)) }
            _ = new
            return promise.futureResult
        }.flatMap { $0 }.wait()
        XCTAssertEqual(log, ["mid", "new"])
        XCTAssertEqual(live, 1)
    }

    func testATimerCanScheduleAnother() throws {
        let loop = group.next()
        let n = try loop.submit { () -> EventLoopFuture<Int> in
            let timers = LoopTimers.forCurrentLoop(loop)
            let promise = loop.makePromise(of: Int.self)
            var count = 0
            func again() {
                count += 1
                if count == 5 { promise.succeed(count) } else { timers.schedule(in: .milliseconds(1), again) }
            }
            timers.schedule(in: .milliseconds(1), again)
            return promise.futureResult
        }.flatMap { $0 }.wait()
        XCTAssertEqual(n, 5)
    }
}
