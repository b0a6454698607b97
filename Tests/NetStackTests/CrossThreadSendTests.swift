import Foundation
import NIOCore
@testable import NetStack
import NetStackTestServer
import XCTest

/// `send` from threads other than the connection's loop: messages are batched for the loop and
/// keep each thread's order.
final class CrossThreadSendTests: XCTestCase {
    func testABatchKeepsOrderAndKindsAndSchedulesOneDrain() {
        let sends = CrossThreadSends()
        XCTAssertFalse(sends.isPending)
        let first = Array("a".utf8).withUnsafeBytes { sends.append($0, kind: .text) }
        let second = [UInt8]([0, 1, 2]).withUnsafeBytes { sends.append($0, kind: .binary) }
        let third = [UInt8]().withUnsafeBytes { sends.append($0, kind: .text) }
        XCTAssertEqual([first, second, third], [true, false, false], "only the first message of a batch schedules a drain")
        XCTAssertTrue(sends.isPending)
        var drained: [(WebSocketMessageKind, [UInt8])] = []
        sends.drain { drained.append(($1, Array($0))) }
        XCTAssertEqual(drained.map(\.0), [.text, .binary, .text])
        XCTAssertEqual(drained.map(\.1), [Array("a".utf8), [0, 1, 2], []])
        XCTAssertFalse(sends.isPending)
        sends.drain { _, _ in XCTFail("an empty batch hands nothing over") }
        let again = Array("b".utf8).withUnsafeBytes { sends.append($0, kind: .text) }
        XCTAssertTrue(again, "after a drain the next message schedules one again")
    }

    /// The batch grows as records arrive (from 256 bytes, past a single large message), gives
    /// every byte back in order, and a batch nobody drained goes away with its sends.
    func testABatchGrowsAndGivesEveryByteBack() {
        let sends = CrossThreadSends()
        var sent: [(WebSocketMessageKind, [UInt8])] = []
        for i in 0..<1_000 {
            let payload = (0..<(i * 37 % 700)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            let kind: WebSocketMessageKind = i % 3 == 0 ? .binary : .text
            _ = payload.withUnsafeBytes { sends.append($0, kind: kind) }
            sent.append((kind, payload))
        }
        let large = [UInt8](repeating: 0xAB, count: 300_000)
        _ = large.withUnsafeBytes { sends.append($0, kind: .binary) }
        sent.append((.binary, large))
        var drained: [(WebSocketMessageKind, [UInt8])] = []
        sends.drain { drained.append(($1, Array($0))) }
        XCTAssertEqual(drained.count, sent.count)
        XCTAssertEqual(drained.map(\.0), sent.map(\.0))
        XCTAssertTrue(zip(drained, sent).allSatisfy { $0.1 == $1.1 }, "every payload, byte for byte")
        do {
            let undrained = CrossThreadSends()
            _ = large.withUnsafeBytes { undrained.append($0, kind: .binary) }
            XCTAssertTrue(undrained.isPending)
        }
    }

    /// Four threads send at once (one of them in batches, and the loop itself, from onMessage):
    /// every message is echoed once, and each sender's messages come back in the order it sent them.
    func testMessagesFromManyThreadsArriveInEachSendersOrder() {
        let threads = 4, perThread = 2_000
        let client = WebSocketClient()
        let recorder = EventRecorder()
        let lock = NSLock()
        var echoed: [String] = []
        let allEchoed = DispatchSemaphore(value: 0)
        let loopSends = 200
        var loopSent = 0
        recorder.onMessage = { c, m in
            let text = m.text
            var done = false
            lock.withLock {
                echoed.append(text)
                done = echoed.count == threads * perThread + loopSends
            }
            // The loop sends too, interleaved with the other threads' batches.
            if loopSent < loopSends, text.hasPrefix("t0:") {
                try? c.send(text: "loop:\(loopSent)")
                loopSent += 1
            }
            if done { allEchoed.signal() }
        }
        recorder.attach(client)
        XCTAssertNoThrow(try client.connect(to: Servers.plain.url + "/echo?deflate=0"))
        recorder.waitForOpen()
        let senders = (0..<threads).map { t in
            Thread {
                // Thread 1 sends its messages ten at a time with send(batch:).
                let step = t == 1 ? 10 : 1
                for i in stride(from: 0, to: perThread, by: step) {
                    while true {
                        do {
                            if step == 1 {
                                try client.send(text: "t\(t):\(i)")
                            } else {
                                let texts = (i..<(i + step)).map { Array("t\(t):\($0)".utf8) }
                                try withRawPointers(texts) { try client.send(batch: $0, kind: .text) }
                            }
                            break
                        } catch let e as WebSocketError where e.code == .queueLengthExceeded {
                            usleep(100)
                        } catch {
                            XCTFail("send: \(error)")
                            return
                        }
                    }
                }
            }
        }
        senders.forEach { $0.start() }
        XCTAssertEqual(allEchoed.wait(timeout: .now() + 30), .success, "echoes: \(lock.withLock { echoed.count })")
        let got = lock.withLock { echoed }
        for t in 0..<threads {
            let mine = got.filter { $0.hasPrefix("t\(t):") }
            XCTAssertEqual(mine, (0..<perThread).map { "t\(t):\($0)" }, "thread \(t)'s messages, once each and in order")
        }
        XCTAssertEqual(got.filter { $0.hasPrefix("loop:") }, (0..<loopSends).map { "loop:\($0)" })
        try? client.close()
        recorder.waitForTerminal()
        XCTAssertEqual(recorder.close?.0, 1000)
        XCTAssertEqual(client.bufferedAmount, 0)
    }
}

/// Raw pointers to every array's bytes, valid inside `body`.
func withRawPointers<R>(_ arrays: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
    func nest(_ i: Int, _ acc: [UnsafeRawBufferPointer]) throws -> R {
        guard i < arrays.count else { return try body(acc) }
        return try arrays[i].withUnsafeBytes { try nest(i + 1, acc + [$0]) }
    }
    return try nest(0, [])
}
