/// Bytes as `xxd`/`hexdump -C` lines for a terminal: offset, 16 bytes in hex (a gap after 8),
/// and the printable ASCII ("." for the rest), at most `limit` bytes, then a line saying how many
/// more there were.
///
///     00000000  48 65 6c 6c 6f 00 ff                              |Hello..|
public enum HexDump {
    public static func lines(_ bytes: [UInt8], limit: Int = 256) -> [String] {
        var out: [String] = []
        let shown = min(bytes.count, max(limit, 0))
        var offset = 0
        while offset < shown {
            let row = bytes[offset..<min(offset + 16, shown)]
            var hex = ""
            for (i, b) in row.enumerated() {
                if i == 8 { hex += " " }
                hex += Hex.encode([b]) + " "
            }
            let width = 16 * 3 + 2
            hex += String(repeating: " ", count: max(0, width - hex.count))
            let ascii = String(row.map { (0x20..<0x7F).contains($0) ? Character(Unicode.Scalar($0)) : "." })
            let position = String(offset, radix: 16)
            out.append(String(repeating: "0", count: max(0, 8 - position.count)) + position + "  " + hex + "|" + ascii + "|")
            offset += 16
        }
        if bytes.count > shown { out.append("… \(bytes.count - shown) more bytes") }
        return out
    }
}
