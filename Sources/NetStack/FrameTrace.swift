/// One line per frame for `-vv` (`WebSocketClientConfiguration.frameTrace`), as the frame was on
/// the wire: direction ("> " sent, "< " received), FIN, the RSV bits set, opcode, payload length,
/// whether it was masked, and a preview of the payload as sent (unmasked; still compressed for
/// a message with RSV1): text as an escaped quoted string, other payloads as hex, at most
/// `previewBytes` of it.
///
///     < FIN text 11 bytes "hello world"
///     > FIN RSV1 binary 1400 bytes masked 789c2a49...(1400)
///     < FIN close 7 bytes 03e8 "bye"
public enum FrameTrace {
    public static let previewBytes = 48

    public static func line(sent: Bool, fin: Bool, rsv: UInt8, opcode: FrameOpcode, masked: Bool,
                            payload: UnsafeRawBufferPointer) -> String {
        var out = sent ? "> " : "< "
        out += fin ? "FIN " : "    "
        if rsv & 0b100 != 0 { out += "RSV1 " }
        if rsv & 0b010 != 0 { out += "RSV2 " }
        if rsv & 0b001 != 0 { out += "RSV3 " }
        out += "\(opcode) \(payload.count) bytes"
        if masked { out += " masked" }
        guard payload.count > 0 else { return out }
        let compressed = rsv & 0b100 != 0
        if opcode == .close, payload.count >= 2 {
            out += " " + hex(UnsafeRawBufferPointer(rebasing: payload[0..<2]))
            if payload.count > 2 { out += " " + quoted(UnsafeRawBufferPointer(rebasing: payload[2...]), total: payload.count - 2) }
        } else if !compressed && (opcode == .text || (opcode == .continuation && isMostlyText(payload))) {
            out += " " + quoted(payload, total: payload.count)
        } else {
            let shown = UnsafeRawBufferPointer(rebasing: payload[0..<min(payload.count, previewBytes)])
            out += " " + hex(shown) + (payload.count > previewBytes ? "..." : "")
        }
        return out
    }

    static func hex(_ bytes: UnsafeRawBufferPointer) -> String { Hex.encode(bytes) }

    /// The bytes as a double-quoted string: printable ASCII and valid UTF-8 as they are, `"` and
    /// `\` escaped, \n \r \t, other control bytes and invalid UTF-8 as \xNN; cut at `previewBytes`
    /// with "..." when longer.
    static func quoted(_ bytes: UnsafeRawBufferPointer, total: Int) -> String {
        let shown = Array(bytes.prefix(previewBytes))
        var out = "\""
        var i = 0
        while i < shown.count {
            let b = shown[i]
            switch b {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                // A whole multi-byte UTF-8 sequence that is not a control character stays as it is.
                let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0
                if length > 0, i + length <= shown.count,
                   let s = String(validating: shown[i..<(i + length)], as: UTF8.self),
                   let scalar = s.unicodeScalars.first, !TerminalText.isControl(scalar, keepNewlines: false) {
                    out += s
                    i += length
                    continue
                }
                out += "\\x" + Hex.encode([b])
            }
            i += 1
        }
        out += "\""
        if total > shown.count { out += "...(\(total) bytes)" }
        return out
    }

    /// A continuation of a text message cannot be told from one of a binary message by its
    /// header; printable bytes are shown as text.
    static func isMostlyText(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.prefix(previewBytes).allSatisfy { $0 >= 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
    }
}
