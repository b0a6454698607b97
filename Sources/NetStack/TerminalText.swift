/// Text from a peer made safe to show on a terminal: control characters (C0 other than newline
/// and tab, DEL, and the C1 range U+0080-U+009F) become visible escapes such as `\x1b`, so a
/// server cannot move the cursor, retitle the window or hide output with escape sequences in a
/// status line, header, close reason or message.
public enum TerminalText {
    public static func sanitize(_ s: String, keepNewlines: Bool = true) -> String {
        if !s.unicodeScalars.contains(where: { isControl($0, keepNewlines: keepNewlines) }) { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if isControl(u, keepNewlines: keepNewlines) {
                let hex = String(u.value, radix: 16)
                let text = u.value < 0x100 ? "\\x" + (hex.count < 2 ? "0" : "") + hex : "\\u{\(hex)}"
                out.append(contentsOf: text.unicodeScalars)
            } else {
                out.append(u)
            }
        }
        return String(out)
    }

    static func isControl(_ u: Unicode.Scalar, keepNewlines: Bool) -> Bool {
        switch u.value {
        case 0x0A, 0x09: return !keepNewlines
        case 0..<0x20, 0x7F, 0x80...0x9F: return true
        default: return false
        }
    }
}
