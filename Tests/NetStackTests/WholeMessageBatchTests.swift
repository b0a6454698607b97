import NIOCore
@testable import NetStack
import XCTest

/// `FrameReceiver.scanWholeMessages`: the runs of whole messages the connection delivers without
/// going through `next` frame by frame. No I/O.
final class WholeMessageBatchTests: XCTestCase {
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: UInt32? = nil, longLength: Bool = false) -> [UInt8] {
        TestFrames.frame(opcode, payload, fin: fin, rsv: rsv, mask: mask, longLength: longLength)
    }

    func scan(_ bytes: [UInt8], masked: Bool = false, max: Int = 1 << 20, ownStorageFrom: Int = .max) -> [String] {
        var r = FrameReceiver(expectMaskedFrames: masked, maxMessageSize: max)
        r.ownStorageFrom = ownStorageFrom
        var batch = WholeMessageBatch()
        r.scanWholeMessages(in: ByteBuffer(bytes: bytes), into: &batch)
        return (0..<batch.count).map { "\(batch[$0].kind):\(batch[$0].headerLength)+\(batch[$0].payloadLength)" }
    }

    func testRunsOfWholeMessagesAndWhereTheyStop() {
        let hi = Self.frame(1, Array("hi".utf8)), bin = Self.frame(2, [0, 1, 2])
        XCTAssertEqual(scan(hi + bin + hi), ["text:2+2", "binary:2+3", "text:2+2"])
        XCTAssertEqual(scan(Self.frame(1, Array(repeating: 0x61, count: 126)) + Self.frame(2, [], longLength: true)),
                       ["text:4+126", "binary:10+0"])
        // Anything else ends the run; what follows it is left to `next`.
        XCTAssertEqual(scan(hi + Self.frame(9, []) + hi), ["text:2+2"], "a ping")
        XCTAssertEqual(scan(hi + Self.frame(1, [0xC3]) + hi), ["text:2+2"], "invalid UTF-8")
        XCTAssertEqual(scan(hi + Self.frame(1, Array("ab".utf8), fin: false)), ["text:2+2"], "a fragment")
        XCTAssertEqual(scan(hi + Self.frame(0, Array("ab".utf8))), ["text:2+2"], "a continuation")
        XCTAssertEqual(scan(hi + Self.frame(1, Array("ab".utf8), rsv: 4)), ["text:2+2"], "RSV1")
        XCTAssertEqual(scan(hi + Self.frame(3, [])), ["text:2+2"], "an unknown opcode")
        XCTAssertEqual(scan(hi + Self.frame(1, Array("ab".utf8), mask: 0x01020304)), ["text:2+2"], "masked, from a server")
        XCTAssertEqual(scan(hi + Array(hi.dropLast())), ["text:2+2"], "not whole yet")
        XCTAssertEqual(scan(hi + [0x81]), ["text:2+2"], "a header not whole yet")
        XCTAssertEqual(scan(hi + Self.frame(2, Array(repeating: 0, count: 200))), ["text:2+2", "binary:4+200"])
        XCTAssertEqual(scan(hi + Self.frame(2, Array(repeating: 0, count: 200)), max: 199), ["text:2+2"], "over the limit")
        XCTAssertEqual(scan(hi + Self.frame(2, Array(repeating: 0, count: 200)), ownStorageFrom: 200), ["text:2+2"], "to be copied")
        XCTAssertEqual(scan(hi + [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]), ["text:2+2"], "a 64-bit length with its top bit set")
        // A server receiver (masked frames) has no runs.
        XCTAssertEqual(scan(Self.frame(1, Array("hi".utf8), mask: 7), masked: true), [])
        // At most `capacity` per scan.
        XCTAssertEqual(scan(Array((0..<40).map { _ in hi }.joined())).count, WholeMessageBatch.capacity)
    }

    func testNothingWhileAFragmentedMessageIsOpen() {
        var r = FrameReceiver(expectMaskedFrames: false, maxMessageSize: 1 << 20)
        var buffer = ByteBuffer(bytes: Self.frame(1, Array("a".utf8), fin: false) + Self.frame(9, []) + Self.frame(0, Array("b".utf8)))
        guard case .consumed = r.next(from: &buffer) else { return XCTFail("the first fragment") }
        var batch = WholeMessageBatch()
        r.scanWholeMessages(in: buffer, into: &batch)
        XCTAssertEqual(batch.count, 0)
    }

    /// Events as a string each, from `next` alone or (`scanning`) as the connection takes them:
    /// runs of whole messages first, `next` for the rest.
    static func events(_ bytes: [UInt8], max: Int, ownStorageFrom: Int, scanning: Bool) -> [String] {
        var r = FrameReceiver(expectMaskedFrames: false, maxMessageSize: max)
        r.ownStorageFrom = ownStorageFrom
        var buffer = ByteBuffer(bytes: bytes)
        var out: [String] = []
        func describe(_ m: WebSocketMessage) -> String { "\(m.kind):\(Array(m.data.readableBytesView))" }
        loop: while true {
            if scanning {
                var batch = WholeMessageBatch()
                r.scanWholeMessages(in: buffer, into: &batch)
                if batch.count > 0 {
                    r.takingWholeMessages()
                    for i in 0..<batch.count {
                        buffer.moveReaderIndex(forwardBy: batch[i].headerLength)
                        out.append(describe(WebSocketMessage(kind: batch[i].kind, data: FrameReceiver.takePayload(&buffer, length: batch[i].payloadLength))))
                    }
                    continue
                }
            }
            switch r.next(from: &buffer) {
            case .event(.message(let m)): out.append(describe(m))
            case .event(.ping(let p)): out.append("ping:\(p.readableBytes)")
            case .event(.pong(let p)): out.append("pong:\(p.readableBytes)")
            case .event(.close(let code, let reason)): out.append("close:\(code.map(String.init) ?? "-"):\(reason)")
            case .event(.failure(let code, let error)): out.append("fail:\(code):\(error.message)"); break loop
            case .consumed: continue
            case .needMore: break loop
            }
        }
        out.append("left:\(buffer.readableBytes)")
        return out
    }

    /// Random sequences of every kind of frame, valid and not, whole and cut: the connection's way
    /// (runs first) gives exactly the events of `next` alone, in the same order, and leaves the same bytes.
    func testScanningGivesTheEventsOfNextForRandomFrames() {
        var rng = SeededGenerator(seed: 0x5EED)
        for round in 0..<3_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1...24, using: &rng) {
                let n = [0, 1, 5, 125, 126, 127, 200, 300].randomElement(using: &rng)!
                let text = Array(repeating: UInt8(ascii: "x"), count: n)
                switch Int.random(in: 0..<14, using: &rng) {
                case 0...3: bytes += Self.frame(1, text)
                case 4, 5: bytes += Self.frame(2, (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })
                case 6: bytes += Self.frame(1, Array("é€😀".utf8).prefix(Int.random(in: 0...9, using: &rng)).map { $0 })
                case 7: bytes += Self.frame(9, Array(text.prefix(10)))
                case 8: bytes += Self.frame(10, [])
                case 9: bytes += Self.frame(1, text, fin: false) + Self.frame(0, text)
                case 10: bytes += Self.frame(1, Array(text.prefix(3)), longLength: true)
                case 11: bytes += Self.frame(2, Array(text.prefix(4)), rsv: UInt8.random(in: 0...7, using: &rng))
                case 12: bytes += Self.frame(1, Array(text.prefix(4)), mask: 0xA1B2C3D4)
                default: bytes += Self.frame(8, [0x03, 0xE8])
                }
            }
            if Bool.random(using: &rng) { bytes.removeLast(Int.random(in: 0...min(12, bytes.count), using: &rng)) }
            let max = [1 << 20, 200, 126].randomElement(using: &rng)!
            let own = [Int.max, 127, 300].randomElement(using: &rng)!
            XCTAssertEqual(Self.events(bytes, max: max, ownStorageFrom: own, scanning: true),
                           Self.events(bytes, max: max, ownStorageFrom: own, scanning: false), "round \(round)")
        }
    }
}

/// SplitMix64: reproducible random test input.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
