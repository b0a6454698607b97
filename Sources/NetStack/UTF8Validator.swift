/// Incremental UTF-8 validation (RFC 3629), fed in pieces as fragments and inflated chunks arrive.
///
/// Fails fast: the first byte that cannot start or continue a valid sequence is reported, even
/// when the message is not complete, so a connection sending bad text is closed with 1007 at once
/// (Autobahn 6.4.x). ASCII runs are checked 32 and then eight bytes at a time.
public struct UTF8Validator: Sendable {
    private var remaining: UInt8 = 0
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    public init() {}

    /// True when no multi-byte sequence is open (the text so far ends on a character boundary).
    @inlinable public var isComplete: Bool { remainingIsZero }
    @usableFromInline var remainingIsZero: Bool { remaining == 0 }

    public mutating func reset() { remaining = 0; lower = 0x80; upper = 0xBF }

    /// Validates the next piece; false as soon as the bytes cannot be valid UTF-8.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        while i < count {
            if remaining == 0 {
                // ASCII fast path: 32 bytes at a time (four words, one test), then 8.
                while i + 32 <= count {
                    let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                        | base.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
                        | base.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self)
                        | base.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    i += 32
                }
                while i + 8 <= count {
                    let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    i += 8
                }
                if i >= count { break }
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                if b < 0x80 { continue }
                switch b {
                case 0xC2...0xDF: remaining = 1
                case 0xE0: remaining = 2; lower = 0xA0
                case 0xE1...0xEC, 0xEE...0xEF: remaining = 2
                case 0xED: remaining = 2; upper = 0x9F
                case 0xF0: remaining = 3; lower = 0x90
                case 0xF1...0xF3: remaining = 3
                case 0xF4: remaining = 3; upper = 0x8F
                default: return false
                }
            } else {
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                if b < lower || b > upper { return false }
                lower = 0x80
                upper = 0xBF
                remaining -= 1
            }
        }
        return true
    }

    /// Whole-buffer check: valid UTF-8 that ends on a character boundary.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var v = UTF8Validator()
        return v.feed(bytes) && v.isComplete
    }

    public static func isValid<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        if let r = bytes.withContiguousStorageIfAvailable({ isValid(UnsafeRawBufferPointer($0)) }) { return r }
        return Array(bytes).withUnsafeBytes { isValid($0) }
    }
}
