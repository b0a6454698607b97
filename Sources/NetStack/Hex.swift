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
}
