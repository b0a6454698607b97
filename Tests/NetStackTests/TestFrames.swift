import NIOCore
@testable import NetStack

/// Frames as a peer writes them, for the receiver's tests.
enum TestFrames {
    /// One frame: unmasked unless `mask`; `longLength` forces the 64-bit length form, which
    /// RFC 6455 does not require to be minimal.
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: UInt32? = nil, longLength: Bool = false) -> [UInt8] {
        var b = ByteBuffer()
        b.writeInteger(UInt8((fin ? 0x80 : 0) | (rsv << 4) | opcode))
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        if payload.count < 126 && !longLength {
            b.writeInteger(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF && !longLength {
            b.writeInteger(maskBit | 126)
            b.writeInteger(UInt16(payload.count))
        } else {
            b.writeInteger(maskBit | 127)
            b.writeInteger(UInt64(payload.count))
        }
        var p = payload
        if let key = mask {
            b.writeInteger(key, endianness: .little)
            p.withUnsafeMutableBytes { _ = Masking.apply(key: key, to: $0.baseAddress!, count: $0.count) }
        }
        b.writeBytes(p)
        return Array(b.readableBytesView)
    }
}
