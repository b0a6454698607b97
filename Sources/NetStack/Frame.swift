import COpenSSL
import NIOCore

/// An RFC 6455 opcode (§5.2). A struct over the 4-bit value rather than an enum, so a parsed
/// header keeps an unknown opcode as it came and the receiver can name it when it rejects it.
public struct FrameOpcode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let continuation = FrameOpcode(rawValue: 0x0)
    public static let text = FrameOpcode(rawValue: 0x1)
    public static let binary = FrameOpcode(rawValue: 0x2)
    public static let close = FrameOpcode(rawValue: 0x8)
    public static let ping = FrameOpcode(rawValue: 0x9)
    public static let pong = FrameOpcode(rawValue: 0xA)

    /// Control frames (close, ping, pong and the reserved 0xB-0xF) have the high bit set.
    public var isControl: Bool { rawValue & 0x8 != 0 }

    public var description: String {
        switch self {
        case .continuation: return "continuation"
        case .text: return "text"
        case .binary: return "binary"
        case .close: return "close"
        case .ping: return "ping"
        case .pong: return "pong"
        default: return "0x" + String(rawValue, radix: 16)
        }
    }
}

/// The header of one frame as it appeared on the wire.
package struct FrameHeader: Equatable {
    var fin: Bool
    /// RSV1..RSV3 as the three bits 0b100, 0b010, 0b001.
    var rsv: UInt8
    /// Unknown values are kept so the receiver can reject them precisely.
    var opcode: FrameOpcode
    var maskKey: UInt32?
    var payloadLength: Int
    var headerLength: Int
}

/// A violation found while parsing frame headers.
package enum FrameParseError: Error, Equatable {
    /// 64-bit length with the most significant bit set, or beyond what this process can address.
    case lengthOutOfRange
    /// A frame longer than the configured maximum; reported before its payload is buffered.
    case frameTooLarge(Int)
}

/// Frame header parsing, without I/O: given the readable bytes, either a header, a request for more
/// bytes, or an error.
///
/// Deliberately not enforced here (the receiver's state machine does it, knowing the role and the
/// negotiated extensions): masking direction, reserved bits, opcode validity, control-frame rules.
package enum FrameParser {
    package static func parseHeader(_ buffer: ByteBuffer, maxFrameSize: Int) throws -> FrameHeader? {
        // One access to the buffer's bytes for the whole header (each ByteBuffer read is an
        // exclusivity-checked access to its storage).
        try buffer.withUnsafeReadableBytes { try parseHeader($0, maxFrameSize: maxFrameSize) }
    }

    /// The header at the start of `bytes`; nil when more bytes are needed.
    package static func parseHeader(_ bytes: UnsafeRawBufferPointer, maxFrameSize: Int) throws -> FrameHeader? {
        let readable = bytes.count
        guard readable >= 2 else { return nil }
        let b0 = bytes[0]
        let b1 = bytes[1]
        let masked = b1 & 0x80 != 0
        var length = Int(b1 & 0x7F)
        var offset = 2
        if length == 126 {
            guard readable >= 4 else { return nil }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            offset = 4
        } else if length == 127 {
            guard readable >= 10 else { return nil }
            var l64: UInt64 = 0
            for i in 2..<10 { l64 = l64 << 8 | UInt64(bytes[i]) }
            if l64 & (1 << 63) != 0 || l64 > UInt64(Int.max / 2) { throw FrameParseError.lengthOutOfRange }
            length = Int(l64)
            offset = 10
        }
        if length > maxFrameSize { throw FrameParseError.frameTooLarge(length) }
        var key: UInt32? = nil
        if masked {
            guard readable >= offset + 4 else { return nil }
            // Little-endian load of the key bytes in wire order (what Masking expects).
            key = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
            offset += 4
        }
        return FrameHeader(fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 0x7, opcode: FrameOpcode(rawValue: b0 & 0x0F),
                           maskKey: key, payloadLength: length, headerLength: offset)
    }

    /// Bytes still missing from the frame that starts `buffer`: zero when it is complete or its
    /// length is invalid (the receiver reports that). Never more than the frame needs, so a caller
    /// can append exactly this many bytes without taking any of the next frame.
    package static func missingBytes(_ buffer: ByteBuffer) -> Int {
        let readable = buffer.readableBytes
        guard readable >= 2 else { return 2 - readable }
        let b1 = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self)!
        let lengthBytes = b1 & 0x7F == 126 ? 2 : (b1 & 0x7F == 127 ? 8 : 0)
        let headerLength = 2 + lengthBytes + (b1 & 0x80 != 0 ? 4 : 0)
        guard readable >= headerLength else { return headerLength - readable }
        guard let h = try? parseHeader(buffer, maxFrameSize: .max) else { return 0 }
        return max(0, h.headerLength + h.payloadLength - readable)
    }
}

/// XOR masking (RFC 6455 §5.3), eight bytes at a time.
package enum Masking {
    /// Applies `key` (bytes in wire order, loaded little-endian) to `count` bytes at `p`,
    /// starting at key phase `phase` (0...3). Returns the phase after the last byte.
    @inline(__always)
    @discardableResult
    package static func apply(key: UInt32, to p: UnsafeMutableRawPointer, count: Int, phase: Int = 0) -> Int {
        let rotated = phase == 0 ? key : (key >> UInt32(8 * phase)) | (key << UInt32(32 - 8 * phase))
        let wide = UInt64(rotated) | (UInt64(rotated) << 32)
        var i = 0
        while i + 8 <= count {
            let v = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            p.storeBytes(of: v ^ wide, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        var k = rotated
        while i < count {
            let v = p.load(fromByteOffset: i, as: UInt8.self)
            p.storeBytes(of: v ^ UInt8(truncatingIfNeeded: k), toByteOffset: i, as: UInt8.self)
            k = (k >> 8) | (k << 24)
            i += 1
        }
        return (phase + count) & 3
    }

    /// Copies `count` bytes from `source` to `destination` masked with `key` (phase 0) in one
    /// pass: what `apply` does after a copy, without reading the bytes twice.
    @inline(__always)
    package static func copy(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int, key: UInt32) {
        let wide = UInt64(key) | (UInt64(key) << 32)
        var i = 0
        // Sixteen bytes a turn, then eight: `count` is a buffer's length, so `i + 16` cannot overflow.
        while i &+ 16 <= count {
            let a = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let b = source.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
            destination.storeBytes(of: a ^ wide, toByteOffset: i, as: UInt64.self)
            destination.storeBytes(of: b ^ wide, toByteOffset: i &+ 8, as: UInt64.self)
            i &+= 16
        }
        if i &+ 8 <= count {
            destination.storeBytes(of: source.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ wide, toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        var k = key
        while i < count {
            destination.storeBytes(of: source.load(fromByteOffset: i, as: UInt8.self) ^ UInt8(truncatingIfNeeded: k), toByteOffset: i, as: UInt8.self)
            k = (k >> 8) | (k << 24)
            i += 1
        }
    }
}

/// Masking keys from the system CSPRNG, fetched 4 KiB at a time so that a fresh key per frame
/// costs a load, not a system call. Confined to one event loop (one per connection handler or
/// per loop); not thread-safe. Its two fields are touched only by `nextKey` and `refill`, which
/// never overlap (one thread, no callbacks), so they skip the runtime's exclusivity check: one key
/// per outgoing frame would otherwise pay two.
package final class MaskKeySource {
    @exclusivity(unchecked) private var keys = [UInt32](repeating: 0, count: 1024)
    @exclusivity(unchecked) private var next = 1024

    @inline(__always)
    package func nextKey() -> UInt32 {
        if next == keys.count { refill() }
        defer { next += 1 }
        return keys[next]
    }

    private func refill() {
        keys.withUnsafeMutableBytes { SystemEntropy.fill($0) }
        next = 0
    }
}

/// Bytes from OpenSSL's CSPRNG (seeded from the kernel): one call fills a whole buffer, where
/// Swift's `SystemRandomNumberGenerator` makes one system call per 8 bytes.
package enum SystemEntropy {
    package static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        if RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) != 1 {
            // OpenSSL could not seed (practically impossible on Linux): the system generator instead.
            var rng = SystemRandomNumberGenerator()
            for i in 0..<buffer.count { buffer[i] = UInt8.random(in: 0...255, using: &rng) }
        }
    }

}

/// Frame encoding into a ByteBuffer.
package enum FrameEncoder {
    /// Bytes a frame header takes for this payload length, with or without a mask.
    @inline(__always)
    package static func headerSize(payloadLength n: Int, masked: Bool) -> Int {
        (n < 126 ? 2 : (n <= 0xFFFF ? 4 : 10)) + (masked ? 4 : 0)
    }

    /// Stores a frame header at `p` (`headerSize` bytes) and returns its size.
    @inline(__always)
    private static func storeHeader(at p: UnsafeMutableRawPointer, fin: Bool, rsv1: Bool, opcode: FrameOpcode,
                                    payloadLength n: Int, maskKey: UInt32?) -> Int {
        p.storeBytes(of: (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode.rawValue, as: UInt8.self)
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        var at: Int
        if n < 126 {
            p.storeBytes(of: maskBit | UInt8(n), toByteOffset: 1, as: UInt8.self)
            at = 2
        } else if n <= 0xFFFF {
            p.storeBytes(of: maskBit | 126, toByteOffset: 1, as: UInt8.self)
            p.storeBytes(of: UInt16(n).bigEndian, toByteOffset: 2, as: UInt16.self)
            at = 4
        } else {
            p.storeBytes(of: maskBit | 127, toByteOffset: 1, as: UInt8.self)
            p.storeBytes(of: UInt64(n).bigEndian, toByteOffset: 2, as: UInt64.self)
            at = 10
        }
        if let key = maskKey {
            p.storeBytes(of: key.littleEndian, toByteOffset: at, as: UInt32.self)
            at += 4
        }
        return at
    }

    /// Appends one complete frame: header and payload (masked with `maskKey` when given, as a
    /// client's frames are) written in one pass into the buffer's spare capacity. One call into
    /// the buffer per frame rather than one per field and a second pass to mask: each call into
    /// ByteBuffer pays its storage's checks, and on a burst of small messages they were most of
    /// the cost of sending one.
    package static func writeFrame(into buffer: inout ByteBuffer, fin: Bool = true, rsv1: Bool = false,
                           opcode: FrameOpcode, payload: UnsafeRawBufferPointer, maskKey: UInt32?) {
        let n = payload.count
        let total = headerSize(payloadLength: n, masked: maskKey != nil) + n
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            let p = out.baseAddress!
            let at = storeHeader(at: p, fin: fin, rsv1: rsv1, opcode: opcode, payloadLength: n, maskKey: maskKey)
            guard n > 0 else { return total }
            if let key = maskKey {
                Masking.copy(from: payload.baseAddress!, to: p + at, count: n, key: key)
            } else {
                (p + at).copyMemory(from: payload.baseAddress!, byteCount: n)
            }
            return total
        }
    }

    /// What a batch of masked frames needs, in one pass: the payload bytes, the largest payload,
    /// and the bytes the frames take on the wire, headers included.
    package static func maskedBatchSizes(_ payloads: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> (payload: Int, largest: Int, frames: Int) {
        var payload = 0, largest = 0, headers = 0
        for p in payloads {
            payload += p.count
            largest = max(largest, p.count)
            headers += headerSize(payloadLength: p.count, masked: true)
        }
        return (payload, largest, payload + headers)
    }

    /// Appends one final, masked frame per payload, each with its own key from `keys`, in one
    /// pass over the buffer's spare capacity (`frameBytes` = `maskedBatchSizes(payloads).frames`): the
    /// write batch of `send(batch:)`, without a call into the buffer per frame.
    package static func writeMaskedFrames(into buffer: inout ByteBuffer, opcode: FrameOpcode,
                                          payloads: UnsafeBufferPointer<UnsafeRawBufferPointer>,
                                          frameBytes: Int, keys: MaskKeySource) {
        guard frameBytes > 0 else { return }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: frameBytes) { out in
            var p = out.baseAddress!
            for payload in payloads {
                let n = payload.count
                let key = keys.nextKey()
                p += storeHeader(at: p, fin: true, rsv1: false, opcode: opcode, payloadLength: n, maskKey: key)
                if n > 0 { Masking.copy(from: payload.baseAddress!, to: p, count: n, key: key) }
                p += n
            }
            return frameBytes
        }
    }

    package static func writeFrame(into buffer: inout ByteBuffer, fin: Bool = true, rsv1: Bool = false,
                           opcode: FrameOpcode, payload: ByteBuffer, maskKey: UInt32?) {
        payload.withUnsafeReadableBytes { raw in
            writeFrame(into: &buffer, fin: fin, rsv1: rsv1, opcode: opcode, payload: raw, maskKey: maskKey)
        }
    }
}
