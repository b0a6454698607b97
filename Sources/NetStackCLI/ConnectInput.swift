import Foundation
import NetStack

/// What one input line of `netstack connect` asks for. With slash commands on (a terminal, or
/// `--slash`), a line starting with "/" is a command; "//..." sends the line without its first
/// slash. Without them every line is a message.
enum ConnectInput: Equatable {
    /// A message: text, or binary (`-b`; with `--base64` the line is decoded first).
    case message(text: String)
    case binary([UInt8])
    /// `/ping [data]`: a ping whose round trip is printed.
    case ping([UInt8])
    /// `/close [code [reason]]`.
    case close(code: UInt16, reason: String)
    /// `/quit`: close with 1000 and end.
    case quit
    case help
    /// A command that cannot be carried out: the message says why (nothing is sent).
    case invalid(String)

    static let helpText = """
    /ping [data]            send a ping; its round trip is printed
    /close [code [reason]]  close (default 1000)
    /binary HEX             send a binary message (hex digits, spaces allowed)
    /quit                   close with 1000 and exit
    //text                  send "/text"
    """

    static func parse(_ line: String, slash: Bool, binary: Bool, base64: Bool) -> ConnectInput {
        if slash, line.hasPrefix("/") {
            if line.hasPrefix("//") { return data(String(line.dropFirst()), binary: binary, base64: base64) }
            let parts = line.dropFirst().split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            let name = parts.first.map(String.init) ?? ""
            let rest = parts.count > 1 ? String(parts[1]) : ""
            switch name {
            case "ping":
                let payload = Array(rest.utf8)
                guard payload.count <= 125 else { return .invalid("/ping: at most 125 bytes of data") }
                return .ping(payload)
            case "close":
                let args = rest.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
                guard let first = args.first else { return .close(code: 1000, reason: "") }
                guard let code = UInt16(first), CloseCode(rawValue: code).isValidOnWire else {
                    return .invalid("/close: '\(first)' is not a close code (1000-1003, 1007-1014, 3000-4999)")
                }
                let reason = args.count > 1 ? String(args[1]) : ""
                guard reason.utf8.count <= CloseCode.maximumReasonLength else { return .invalid("/close: the reason is over \(CloseCode.maximumReasonLength) bytes") }
                return .close(code: code, reason: reason)
            case "binary":
                guard let bytes = hexBytes(rest) else { return .invalid("/binary: hex digits expected (an even number; spaces allowed)") }
                return .binary(bytes)
            case "quit", "exit": return .quit
            case "help", "?": return .help
            default: return .invalid("unknown command /\(name) (/help lists them; //\(name) sends the text)")
            }
        }
        return data(line, binary: binary, base64: base64)
    }

    private static func data(_ line: String, binary: Bool, base64: Bool) -> ConnectInput {
        guard binary else { return .message(text: line) }
        if base64 {
            guard let d = Data(base64Encoded: line.trimmingCharacters(in: .whitespaces)) else { return .invalid("not base64: the line was not sent") }
            return .binary(Array(d))
        }
        return .binary(Array(line.utf8))
    }

    /// "0a ff 10" or "0aff10"; nil for odd digit counts or other characters.
    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = text.unicodeScalars.filter { $0 != " " }
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var high: UInt8?
        for u in digits {
            guard u.isASCII, let v = UInt8(String(u), radix: 16) else { return nil }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return out
    }
}
