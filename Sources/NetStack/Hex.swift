/// Lowercase hexadecimal text of bytes, built in one buffer (binary messages in `--json` output
/// and `connect` can be many megabytes).
public enum Hex {
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            digits.withUTF8Buffer { d in
                var i = 0
                for b in bytes {
                    out[i] = d[Int(b >> 4)]
                    out[i + 1] = d[Int(b & 0xF)]
                    i += 2
                }
            }
            return bytes.count * 2
        }
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { encode($0) }
    }

    /// The value of one hexadecimal digit (either case), or nil.
    public static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: return digit - 0x30
        case 0x41...0x46: return digit - 0x41 + 10
        case 0x61...0x66: return digit - 0x61 + 10
        default: return nil
        }
    }
}
