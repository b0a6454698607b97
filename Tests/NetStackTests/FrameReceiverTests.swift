import NIOCore
@testable import NetStack
import XCTest

/// The receiving state machine, fed bytes directly: no I/O.
final class FrameReceiverTests: XCTestCase {
    func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: UInt32? = nil) -> [UInt8] {
        TestFrames.frame(opcode, payload, fin: fin, rsv: rsv, mask: mask)
    }

    func events(_ bytes: [UInt8], masked: Bool = false, max: Int = 1 << 20, deflate: PerMessageDeflate? = nil) -> [String] {
        var r = FrameReceiver(expectMaskedFrames: masked, maxMessageSize: max, deflate: deflate)
        var buffer = ByteBuffer(bytes: bytes)
        var out: [String] = []
        loop: while true {
            let e: FrameReceiver.Event
            switch r.next(from: &buffer) {
            case .event(let event): e = event
            case .consumed: continue
            case .needMore: break loop
            }
            switch e {
            case .message(let m): out.append("\(m.kind == .text ? "text" : "binary"):\(String(buffer: m.data))")
            case .ping(let d): out.append("ping:\(String(buffer: d))")
            case .pong(let d): out.append("pong:\(String(buffer: d))")
            case .close(let c, let r): out.append("close:\(c.map(String.init) ?? "none"):\(r)")
            case .failure(let c, let e): out.append("fail:\(c):\(e.code.rawValue)"); return out
            }
        }
        if buffer.readableBytes > 0 { out.append("partial:\(buffer.readableBytes)") }
        return out
    }

    func testSingleFramesOfEachKind() {
        XCTAssertEqual(events(frame(1, Array("hi".utf8))), ["text:hi"])
        XCTAssertEqual(events(frame(2, [0x61, 0x62])), ["binary:ab"])
        XCTAssertEqual(events(frame(9, Array("p".utf8)) + frame(10, Array("q".utf8))), ["ping:p", "pong:q"])
        XCTAssertEqual(events(frame(8, [])), ["close:none:"])
        XCTAssertEqual(events(frame(8, [0x03, 0xE8] + Array("bye".utf8))), ["close:1000:bye"])
    }

    func testLengthEncodings() {
        let medium = [UInt8](repeating: 0x61, count: 300)
        let large = [UInt8](repeating: 0x62, count: 70_000)
        XCTAssertEqual(events(frame(2, medium)), ["binary:" + String(repeating: "a", count: 300)])
        XCTAssertEqual(events(frame(2, large)), ["binary:" + String(repeating: "b", count: 70_000)])
    }

    /// A message of `NULTerminatedBytes.minimumLength` bytes or more sliced from the read buffer keeps the byte after it
    /// (the next frame's first byte) within its capacity, so C gets it NUL-terminated without a
    /// copy; the byte is put back. Smaller messages, and the last frame of a read, with nothing
    /// after it, are not lent (the C ABI copies them).
    func testLargeMessagesLendTheByteAfterThemForANUL() {
        var r = FrameReceiver(expectMaskedFrames: false, maxMessageSize: 1 << 20)
        let big = NULTerminatedBytes.minimumLength
        let payloads: [[UInt8]] = [Array(repeating: 0x61, count: big), Array(repeating: 0x62, count: big + 500), Array("abc".utf8), Array(repeating: 0x63, count: big)]
        var buffer = ByteBuffer(bytes: frame(1, payloads[0]) + frame(2, payloads[1]) + frame(2, payloads[2]) + frame(2, payloads[3]))
        var messages: [ByteBuffer] = []
        var lent: [Bool] = []
        while case .event(let e) = r.next(from: &buffer) {
            guard case .message(let m) = e else { return XCTFail("\(e)") }
            messages.append(m.data)
            lent.append(NULTerminatedBytes.lend(m.data) { bytes, count in
                XCTAssertEqual(bytes[count], 0)
                XCTAssertEqual(strlen(bytes), count)
            })
        }
        XCTAssertEqual(lent, [true, true, false, false], "large ones followed by a byte; not the small one, not the last")
        // The borrowed bytes (the next frames' first bytes) were put back: every frame parsed.
        XCTAssertEqual(messages.map { Array($0.readableBytesView) }, payloads)
        XCTAssertEqual(buffer.readableBytes, 0)
    }

    /// Messages of `ownStorageFrom` bytes or more are copied out of the caller's buffer (so keeping
    /// one does not keep the buffer); smaller ones stay slices of it.
    func testLargeMessagesGetStorageOfTheirOwn() {
        var r = FrameReceiver(expectMaskedFrames: false, maxMessageSize: 1 << 20)
        r.ownStorageFrom = 1000
        let small = [UInt8](repeating: 0x73, count: 999), large = [UInt8](repeating: 0x6C, count: 1000)
        var buffer = ByteBuffer(bytes: frame(2, small) + frame(1, large) + frame(2, small))
        let whole = buffer.storageCapacity
        var got: [ByteBuffer] = []
        while case .event(let e) = r.next(from: &buffer) {
            guard case .message(let m) = e else { return XCTFail("unexpected \(e)") }
            got.append(m.data)
        }
        XCTAssertEqual(got.map { Array($0.readableBytesView) }, [small, large, small])
        XCTAssertEqual(got.map(\.storageCapacity), [whole, 1024, whole], "1000 bytes in an allocation of its own (a power of two)")
        // Int.max (the default): every whole frame is a slice.
        r.ownStorageFrom = .max
        buffer = ByteBuffer(bytes: frame(2, large))
        guard case .event(.message(let m)) = r.next(from: &buffer) else { return XCTFail() }
        let d = m.data
        XCTAssertEqual(d.storageCapacity, buffer.storageCapacity)
    }

    /// A frame whose header `next` accepted and whose payload the caller collected elsewhere gets
    /// the same checks and event as the whole frame, and its payload is delivered without a copy.
    func testCompleteFrameGivesTheEventOfTheWholeFrame() throws {
        var r = FrameReceiver(expectMaskedFrames: false, maxMessageSize: 1 << 20)
        r.ownStorageFrom = 10
        let payload = [UInt8](repeating: 0x62, count: 100)
        var buffer = ByteBuffer(bytes: Array(frame(2, payload).prefix(20)))
        guard case .needMore = r.next(from: &buffer) else { return XCTFail("a partial frame waits") }
        let h = try XCTUnwrap(try FrameParser.parseHeader(buffer, maxFrameSize: 1 << 20))
        let data = ByteBuffer(bytes: payload)
        let address = data.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        guard case .event(.message(let m)) = r.completeFrame(h, payload: data), m.kind == .binary else { return XCTFail() }
        let d = m.data
        XCTAssertEqual(Array(d.readableBytesView), payload)
        XCTAssertEqual(d.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }, address, "not copied")
        XCTAssertEqual(r.ownStorageFrom, 10)

        // Text is validated, and a data frame inside a fragmented message is refused, as by `next`.
        let bad = try XCTUnwrap(try FrameParser.parseHeader(ByteBuffer(bytes: frame(1, [0xC3, 0x28])), maxFrameSize: 1 << 20))
        guard case .event(.failure(1007, _)) = r.completeFrame(bad, payload: ByteBuffer(bytes: [0xC3, 0x28])) else { return XCTFail() }
        var r2 = FrameReceiver(expectMaskedFrames: false, maxMessageSize: 1 << 20)
        var first = ByteBuffer(bytes: frame(2, [1], fin: false))
        guard case .consumed = r2.next(from: &first) else { return XCTFail("a first fragment is consumed without an event") }
        guard case .event(.failure(1002, _)) = r2.completeFrame(h, payload: ByteBuffer(bytes: payload)) else { return XCTFail() }
    }

    func testPartialInputWaits() {
        let whole = frame(1, Array("hello".utf8))
        XCTAssertEqual(events(Array(whole.prefix(1))), ["partial:1"])
        XCTAssertEqual(events(Array(whole.prefix(4))), ["partial:4"])
    }

    /// The connection completes a frame split across reads by appending `missingBytes` at a time:
    /// from every prefix of every header form, that must reach exactly the frame, never into the next.
    func testMissingBytesCompletesAFrameWithoutTakingTheNext() {
        let next = frame(0x1, Array("next".utf8))
        for (payloadSize, mask) in [(0, nil), (5, nil), (125, nil), (126, nil), (300, UInt32(0x01020304)), (70_000, nil), (70_000, UInt32(7))] as [(Int, UInt32?)] {
            let f = frame(0x2, [UInt8](repeating: 0xAB, count: payloadSize), mask: mask)
            let stream = f + next
            for k in [1, 2, 3, 4, 9, 10, 13, f.count - 1] where k > 0 && k < f.count {
                var pending = ByteBuffer(bytes: stream[0..<k])
                var rest = ByteBuffer(bytes: stream[k...])
                var missing = FrameParser.missingBytes(pending)
                XCTAssertGreaterThan(missing, 0, "size \(payloadSize), prefix \(k)")
                while missing > 0, rest.readableBytes > 0 {
                    var part = rest.readSlice(length: min(missing, rest.readableBytes))!
                    pending.writeBuffer(&part)
                    missing = FrameParser.missingBytes(pending)
                }
                XCTAssertEqual(Array(pending.readableBytesView), f, "size \(payloadSize), prefix \(k)")
                XCTAssertEqual(Array(rest.readableBytesView), next)
            }
            XCTAssertEqual(FrameParser.missingBytes(ByteBuffer(bytes: f)), 0)
        }
        // A length with the top bit set is invalid: nothing more is asked for; the receiver reports it.
        XCTAssertEqual(FrameParser.missingBytes(ByteBuffer(bytes: [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1])), 0)
    }

    func testFragmentsAreJoinedAndControlFramesInterleave() {
        let bytes = frame(1, Array("Hel".utf8), fin: false) + frame(9, Array("x".utf8)) + frame(0, Array("lo, ".utf8), fin: false) + frame(0, Array("World".utf8))
        XCTAssertEqual(events(bytes), ["ping:x", "text:Hello, World"])
    }

    func testProtocolViolations() {
        XCTAssertEqual(events(frame(1, Array("x".utf8), rsv: 0b010)), ["fail:1002:1009"], "RSV2")
        XCTAssertEqual(events(frame(1, Array("x".utf8), rsv: 0b100)), ["fail:1002:1009"], "RSV1 without extension")
        XCTAssertEqual(events(frame(3, [])), ["fail:1002:1009"], "reserved opcode")
        XCTAssertEqual(events(frame(11, [])), ["fail:1002:1009"], "reserved control opcode")
        XCTAssertEqual(events(frame(9, [], fin: false)), ["fail:1002:1009"], "fragmented ping")
        XCTAssertEqual(events(frame(9, [UInt8](repeating: 0, count: 126))), ["fail:1002:1009"], "big ping")
        XCTAssertEqual(events(frame(0, Array("x".utf8))), ["fail:1002:1009"], "continuation without start")
        XCTAssertEqual(events(frame(1, [0x61], fin: false) + frame(1, [0x62])), ["fail:1002:1009"], "new message inside fragments")
        XCTAssertEqual(events(frame(8, [0x03])), ["fail:1002:1009"], "1-byte close")
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            XCTAssertEqual(events(frame(8, [UInt8(code >> 8), UInt8(code & 0xFF)])), ["fail:1002:1009"], "close code \(code)")
        }
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999] {
            XCTAssertEqual(events(frame(8, [UInt8(code >> 8), UInt8(code & 0xFF)])), ["close:\(code):"], "close code \(code)")
        }
    }

    /// Every rule a header decides alone fails as soon as the header is in, before the payload
    /// it declares: a server that announces 60,000 bytes cannot make the client wait for them.
    func testHeaderViolationsFailBeforeThePayloadArrives() {
        let big = [UInt8](repeating: 0x61, count: 60_000)
        let cases: [(String, [UInt8])] = [
            ("RSV2", frame(2, big, rsv: 0b010)),
            ("RSV1 without extension", frame(2, big, rsv: 0b100)),
            ("reserved opcode", frame(3, big)),
            ("fragmented close", frame(8, [0x03, 0xE8], fin: false)),
            ("control frame over 125 bytes", frame(9, big)),
            ("continuation without start", frame(0, big)),
        ]
        for (name, bytes) in cases {
            let header = Array(bytes.prefix(bytes[1] & 0x7F == 127 ? 10 : bytes[1] & 0x7F == 126 ? 4 : 2))
            XCTAssertEqual(events(header), ["fail:1002:1009"], name)
        }
        // The state counts too: a new message while fragments are open.
        XCTAssertEqual(events(frame(1, [0x61], fin: false) + Array(frame(2, big).prefix(4))), ["fail:1002:1009"])
        // A valid header still waits for its payload.
        XCTAssertEqual(events(Array(frame(2, big).prefix(4))), ["partial:4"])
    }

    func testMaskingDirectionIsEnforcedFromTheHeader() {
        // A masked frame from a server fails before its payload arrives.
        let masked = frame(1, Array("hello".utf8), mask: 0x0102_0304)
        XCTAssertEqual(events(Array(masked.prefix(2))), ["fail:1002:1009"])
        XCTAssertEqual(events(frame(1, Array("hi".utf8)), masked: true), ["fail:1002:1009"])
        XCTAssertEqual(events(masked, masked: true), ["text:hello"])
    }

    func testInvalidUTF8Closes1007AndFailsFastInFragments() {
        XCTAssertEqual(events(frame(1, [0xCE, 0xBA, 0xE1, 0xBD])), ["fail:1007:1009"])
        // The first fragment already holds an impossible byte: no need to wait for the rest.
        XCTAssertEqual(events(frame(1, [0x61, 0xFF], fin: false)), ["fail:1007:1009"])
        XCTAssertEqual(events(frame(8, [0x03, 0xE8, 0xFF])), ["fail:1007:1009"], "close reason")
        // A sequence split across fragments is fine.
        XCTAssertEqual(events(frame(1, [0xCE], fin: false) + frame(0, [0xBA])), ["text:κ"])
    }

    /// Inside one frame whose payload has only partly arrived (Autobahn 6.4.3, 6.4.4): text that
    /// cannot be UTF-8 fails at once, from a server's frames and from a client's masked ones (a
    /// server's receiver, `netstack serve`), the mask's phase following the payload's offset.
    func testInvalidUTF8FailsBeforeTheRestOfTheFrame() {
        let text = Array("κόσμε".utf8) + [0xF4, 0x90, 0x80, 0x80] + Array("edited".utf8)
        for mask in [nil, UInt32(0x3713_A5C1)] as [UInt32?] {
            let whole = frame(1, text, mask: mask)
            let header = whole.count - text.count
            // The valid start waits for more, wherever the read ends inside it.
            for cut in 1...11 { XCTAssertEqual(events(Array(whole.prefix(header + cut)), masked: mask != nil), ["partial:\(header + cut)"], "\(cut)") }
            // The first impossible byte fails the frame while the rest is still to come.
            XCTAssertEqual(events(Array(whole.prefix(header + 13)), masked: mask != nil), ["fail:1007:1009"], "mask \(String(describing: mask))")
        }
        // Fed a read at a time: the receiver validates what it has seen only once.
        let masked = frame(1, text, mask: 0x0102_0304)
        var r = FrameReceiver(expectMaskedFrames: true, maxMessageSize: 1 << 20)
        var buffer = ByteBuffer()
        var outcome = "waiting"
        for byte in masked where outcome == "waiting" {
            buffer.writeInteger(byte)
            if case .event(.failure(let code, _)) = r.next(from: &buffer) { outcome = "fail:\(code)" }
        }
        XCTAssertEqual(outcome, "fail:1007")
        XCTAssertEqual(buffer.readableBytes, masked.count - text.count + 12, "failed at the first byte after the valid prefix")
    }

    func testSizeLimitIsCheckedOnHeadersBeforeBuffering() {
        var header = ByteBuffer()
        header.writeInteger(UInt8(0x82))
        header.writeInteger(UInt8(127))
        header.writeInteger(UInt64(1 << 40))
        XCTAssertEqual(events(Array(header.readableBytesView), max: 1024), ["fail:1009:1012"])
        XCTAssertEqual(events(frame(2, [UInt8](repeating: 0, count: 600), fin: false) + frame(0, [UInt8](repeating: 0, count: 600)), max: 1000), ["fail:1009:1012"])
        var huge = ByteBuffer()
        huge.writeInteger(UInt8(0x82))
        huge.writeInteger(UInt8(127))
        huge.writeInteger(UInt64(1) << 63)
        XCTAssertEqual(events(Array(huge.readableBytesView)), ["fail:1002:1009"])
    }

    func testCompressedMessagesAndZipBombLimit() {
        var p = PerMessageDeflateParameters()
        p.clientMaxWindowBits = 15
        let server = PerMessageDeflate(agreed: p, isClient: false, compressionThreshold: 0)
        let text = Array(String(repeating: "hello compression ", count: 100).utf8)
        let compressed = text.withUnsafeBytes { server.compress($0, allocator: ByteBufferAllocator())! }
        let payload = Array(compressed.readableBytesView)
        XCTAssertLessThan(payload.count, text.count / 4)
        let client = PerMessageDeflate(agreed: p, isClient: true, compressionThreshold: 0)
        XCTAssertEqual(events(frame(1, payload, rsv: 0b100), deflate: client), ["text:" + String(decoding: text, as: UTF8.self)])
        // Split across fragments: RSV1 on the first frame only.
        let half = payload.count / 2
        let client2 = PerMessageDeflate(agreed: p, isClient: true, compressionThreshold: 0)
        XCTAssertEqual(events(frame(1, Array(payload[..<half]), fin: false, rsv: 0b100) + frame(0, Array(payload[half...])), deflate: client2),
                       ["text:" + String(decoding: text, as: UTF8.self)])
        // RSV1 on a continuation frame is an error.
        let client3 = PerMessageDeflate(agreed: p, isClient: true, compressionThreshold: 0)
        XCTAssertEqual(events(frame(1, Array(payload[..<half]), fin: false, rsv: 0b100) + frame(0, Array(payload[half...]), rsv: 0b100), deflate: client3), ["fail:1002:1009"])
        // 10 MiB of zeros compress to a few KiB; with a 1 MiB limit the receiver stops at the limit.
        let zeros = [UInt8](repeating: 0, count: 10 << 20)
        let bomb = zeros.withUnsafeBytes { server.compress($0, allocator: ByteBufferAllocator())! }
        let client4 = PerMessageDeflate(agreed: p, isClient: true, compressionThreshold: 0)
        XCTAssertEqual(events(frame(2, Array(bomb.readableBytesView), rsv: 0b100), max: 1 << 20, deflate: client4), ["fail:1009:1012"])
        // Corrupt data is 1007.
        let client5 = PerMessageDeflate(agreed: p, isClient: true, compressionThreshold: 0)
        XCTAssertEqual(events(frame(2, [0xFF, 0xFF, 0xFF, 0xFF], rsv: 0b100), deflate: client5), ["fail:1007:1009"])
    }

    /// RFC 7692 §7.2.3.4: a sender may end each message with a deflate block that has BFINAL set
    /// (the RFC's example carries one padding byte after it). Each such message is read, and the
    /// next starts a fresh stream, with or without the padding byte, also before a message flushed
    /// the usual way (7.2.3.1's "Hello").
    func testMessagesEndingInAFinalDeflateBlock() {
        var p = PerMessageDeflateParameters()
        p.clientMaxWindowBits = 15
        let final: [UInt8] = [0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
        let flushed: [UInt8] = [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
        let client = PerMessageDeflate(agreed: p, isClient: true, compressionThreshold: 0)
        let bytes = frame(1, final + [0x00], rsv: 0b100) + frame(1, final, rsv: 0b100) + frame(1, flushed, rsv: 0b100)
            + frame(1, Array(final.prefix(3)), fin: false, rsv: 0b100) + frame(0, Array(final.dropFirst(3)) + [0x00])
        XCTAssertEqual(events(bytes, deflate: client), ["text:Hello", "text:Hello", "text:Hello", "text:Hello"])
        // At the size limit exactly (40 "a", 6 bytes compressed with BFINAL, zlib level 9), the
        // final block still ends the message cleanly; one byte less is over the limit.
        let forty: [UInt8] = [0x4B, 0x4C, 0x24, 0x0E, 0x00, 0x00]
        let a40 = "text:" + String(repeating: "a", count: 40)
        let client2 = PerMessageDeflate(agreed: p, isClient: true, compressionThreshold: 0)
        XCTAssertEqual(events(frame(1, forty, rsv: 0b100) + frame(1, forty, rsv: 0b100) + frame(1, flushed, rsv: 0b100), max: 40, deflate: client2),
                       [a40, a40, "text:Hello"])
        let client3 = PerMessageDeflate(agreed: p, isClient: true, compressionThreshold: 0)
        XCTAssertEqual(events(frame(1, forty, rsv: 0b100), max: 39, deflate: client3), ["fail:1009:1012"])
    }

    func testContextTakeoverAcrossMessages() {
        var p = PerMessageDeflateParameters()
        p.clientMaxWindowBits = 15
        let server = PerMessageDeflate(agreed: p, isClient: false, compressionThreshold: 0)
        let client = PerMessageDeflate(agreed: p, isClient: true, compressionThreshold: 0)
        let msg = Array(String(repeating: "abcdefghij", count: 20).utf8)
        let first = msg.withUnsafeBytes { server.compress($0, allocator: ByteBufferAllocator())! }
        let second = msg.withUnsafeBytes { server.compress($0, allocator: ByteBufferAllocator())! }
        XCTAssertLessThan(second.readableBytes, first.readableBytes, "the second message refers back to the first")
        let bytes = frame(1, Array(first.readableBytesView), rsv: 0b100) + frame(1, Array(second.readableBytesView), rsv: 0b100)
        let s = String(decoding: msg, as: UTF8.self)
        XCTAssertEqual(events(bytes, deflate: client), ["text:" + s, "text:" + s])

        var q = p
        q.serverNoContextTakeover = true
        let server2 = PerMessageDeflate(agreed: q, isClient: false, compressionThreshold: 0)
        let a = msg.withUnsafeBytes { server2.compress($0, allocator: ByteBufferAllocator())! }
        let b = msg.withUnsafeBytes { server2.compress($0, allocator: ByteBufferAllocator())! }
        XCTAssertEqual(Array(a.readableBytesView), Array(b.readableBytesView), "no context takeover: each message stands alone")
    }

    func testMaskingRoundTripsAtEveryPhase() {
        let data = (0..<37).map { UInt8($0) }
        for phase in 0..<4 {
            var copy = data
            copy.withUnsafeMutableBytes { _ = Masking.apply(key: 0xA1B2_C3D4, to: $0.baseAddress!, count: $0.count, phase: phase) }
            XCTAssertNotEqual(copy, data)
            copy.withUnsafeMutableBytes { _ = Masking.apply(key: 0xA1B2_C3D4, to: $0.baseAddress!, count: $0.count, phase: phase) }
            XCTAssertEqual(copy, data)
        }
        // Byte-exact against the RFC 6455 §5.7 example: "Hello" masked with 37 fa 21 3d.
        var hello = Array("Hello".utf8)
        hello.withUnsafeMutableBytes { _ = Masking.apply(key: 0x3D21_FA37, to: $0.baseAddress!, count: 5) }
        XCTAssertEqual(hello, [0x7F, 0x9F, 0x4D, 0x51, 0x58])
    }

    func testMaskKeysAreFreshAcrossRefills() {
        let source = MaskKeySource()
        let keys = (0..<5000).map { _ in source.nextKey() }
        // 5000 random 32-bit keys: a handful of collisions at most (expected ~0.003).
        XCTAssertGreaterThan(Set(keys).count, 4990)
        XCTAssertNotEqual(keys[1023], keys[1024], "keys differ across a refill boundary")
    }

    /// The client's one-pass encoder (header and masked copy in one write) against the reference
    /// built field by field, at every length encoding and around the eight-byte masking stride,
    /// appended after bytes already in the buffer and with the reserved bit and fin varied.
    func testMaskedEncoderMatchesTheReferenceAtEveryLength() {
        let key: UInt32 = 0xA1B2_C3D4
        for n in [0, 1, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40, 125, 126, 127, 1000, 65_535, 65_536, 70_001] {
            let payload = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            for (fin, rsv1) in [(true, false), (false, true)] {
                var b = ByteBuffer(bytes: [0xEE, 0xEE, 0xEE])
                b.moveReaderIndex(forwardBy: 1)
                payload.withUnsafeBytes { FrameEncoder.writeFrame(into: &b, fin: fin, rsv1: rsv1, opcode: .binary, payload: $0, maskKey: key) }
                let expected = [0xEE, 0xEE] + frame(0x2, payload, fin: fin, rsv: rsv1 ? 4 : 0, mask: key)
                XCTAssertEqual(Array(b.readableBytesView), expected, "length \(n), fin \(fin)")
            }
        }
        var copied = [UInt8](repeating: 0, count: 37)
        let data = (0..<37).map { UInt8($0) }
        var applied = data
        applied.withUnsafeMutableBytes { _ = Masking.apply(key: key, to: $0.baseAddress!, count: $0.count) }
        data.withUnsafeBytes { src in copied.withUnsafeMutableBytes { Masking.copy(from: src.baseAddress!, to: $0.baseAddress!, count: 37, key: key) } }
        XCTAssertEqual(copied, applied)
    }

    /// `send(batch:)`'s encoder: one final masked frame per payload, in order, at every length
    /// encoding, each with a key of its own, appended after bytes already in the buffer; the bytes
    /// of each frame equal the reference frame with that frame's key.
    func testBatchEncoderWritesOneReferenceFramePerPayloadWithItsOwnKey() {
        let lengths = [0, 1, 7, 8, 9, 32, 125, 126, 127, 65_535, 65_536, 70_001]
        let payloads = lengths.map { n in (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ n) } }
        var b = ByteBuffer(bytes: [0xEE, 0xEE])
        b.moveReaderIndex(forwardBy: 1)
        let keys = MaskKeySource()
        withRawPointers(payloads) { raws in
            raws.withUnsafeBufferPointer { list in
                let size = FrameEncoder.maskedBatchSizes(list).frames
                XCTAssertEqual(size, zip(lengths, payloads).map { n, p in frame(0x1, p, mask: 1).count }.reduce(0, +))
                FrameEncoder.writeMaskedFrames(into: &b, opcode: .text, payloads: list, frameBytes: size, keys: keys)
            }
        }
        var bytes = Array(b.readableBytesView)
        XCTAssertEqual(bytes.removeFirst(), 0xEE)
        var seenKeys = Set<UInt32>()
        for (n, payload) in zip(lengths, payloads) {
            let keyAt = FrameEncoder.headerSize(payloadLength: n, masked: true) - 4
            guard bytes.count >= keyAt + 4 else { return XCTFail("frames end early at length \(n)") }
            let key = bytes[keyAt..<(keyAt + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            seenKeys.insert(key)
            let expected = frame(0x1, payload, mask: key)
            XCTAssertEqual(Array(bytes.prefix(expected.count)), expected, "length \(n)")
            bytes.removeFirst(min(expected.count, bytes.count))
        }
        XCTAssertEqual(bytes, [], "nothing after the last frame")
        XCTAssertGreaterThan(seenKeys.count, lengths.count - 2, "a key per frame (two equal random keys: once in 2^32)")
    }

    func testEncoderWritesRFCExampleBytes() {
        var b = ByteBuffer()
        Array("Hello".utf8).withUnsafeBytes { FrameEncoder.writeFrame(into: &b, opcode: .text, payload: $0, maskKey: 0x3D21_FA37) }
        XCTAssertEqual(Array(b.readableBytesView), [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        var u = ByteBuffer()
        Array("Hello".utf8).withUnsafeBytes { FrameEncoder.writeFrame(into: &u, opcode: .text, payload: $0, maskKey: nil) }
        XCTAssertEqual(Array(u.readableBytesView), [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
    }
}
