/// JSON string literals (RFC 8259): quotes, backslashes and control characters escaped.
public enum JSONString {
    public static func quote(_ s: String) -> String {
        var s = s
        return s.withUTF8 { quote(UnsafeRawBufferPointer($0)) }
    }

    /// The literal for UTF-8 `bytes` (one pass over bytes: multi-megabyte messages stay cheap).
    public static func quote(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 2)
        out.append(0x22)
        let digits = Array("0123456789abcdef".utf8)
        for b in bytes {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0..<0x20, 0x7F:
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, digits[Int(b >> 4)], digits[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(0x22)
        return String(decoding: out, as: UTF8.self)
    }
}
