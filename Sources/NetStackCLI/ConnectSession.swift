import Foundation
import NetStack

/// `netstack connect`'s output and outcome: events printed as text (markers and colour on a
/// terminal) or JSON lines, and the exit status the session earned.
final class ConnectSession: @unchecked Sendable {
    /// Exit statuses (`connect --help`): 0 when the connection ended with a close handshake that
    /// we started (any code) or that the server started with 1000 or 1001.
    static let normal: Int32 = 0, abnormal: Int32 = 1, unusable: Int32 = 2
    static func status(for stage: ConnectStage) -> Int32 {
        switch stage {
        case .resolve: return 3
        case .connect: return 4
        case .tls: return 5
        case .upgrade: return 6
        }
    }

    enum Style { case plain, received, info, error }

    let json: Bool
    let base64: Bool
    let colour: Bool
    let opened = DispatchSemaphore(value: 0)
    /// Set once by the terminal event (onClose, or onError without a connection); every later
    /// wait returns at once (a semaphore would be used up by the first).
    private let finished = NSCondition()
    private var isFinished = false
    private let lock = NSLock()
    private(set) var exitCode: Int32 = ConnectSession.abnormal
    /// Set (under `lock`) when the terminal event is printed.
    private var endPrinted = false
    /// `--jsonrpc`: requests made from input lines, and answers matched to them.
    private var rpc: JSONRPCInput?

    func enableJSONRPC() {
        lock.lock()
        rpc = JSONRPCInput()
        lock.unlock()
    }

    /// The JSON-RPC request for an input line (with `--jsonrpc`).
    func jsonRPCRequest(_ line: String) -> Result<String, ConnectInputError>? {
        lock.lock()
        defer { lock.unlock() }
        guard rpc != nil else { return nil }
        return rpc!.request(line)
    }

    private func jsonRPCMatch(_ text: String) -> (id: Int, method: String)? {
        lock.lock()
        defer { lock.unlock() }
        return rpc?.match(text)
    }

    /// Set when we sent a close (end of input, /close, /quit): any code we chose, answered, is a
    /// normal end.
    private var closeSent = false

    func closing() {
        lock.lock()
        closeSent = true
        lock.unlock()
    }
    let stdoutIsTerminal = isatty(STDOUT_FILENO) != 0
    /// The line editor's prompt while it waits for input: output on the terminal clears the
    /// prompt's line first and draws the prompt again after it.
    var prompt: String? {
        get { lock.lock(); defer { lock.unlock() }; return _prompt }
        set { lock.lock(); _prompt = newValue; lock.unlock() }
    }
    private var _prompt: String?
    let stderrIsTerminal = isatty(STDERR_FILENO) != 0

    init(json: Bool, base64: Bool, colour: Bool) {
        self.json = json
        self.base64 = base64
        self.colour = colour
    }

    /// A line on stderr whose control characters are our own colour codes (`text` was made safe
    /// before it was styled).
    private func errLine(_ text: String, _ style: Style) {
        let line = stderrIsTerminal ? styled(TerminalText.sanitize(text), style, terminal: true) : TerminalText.sanitize(text)
        StandardError.line(line)
    }

    /// `text` styled for a terminal: "< " before received messages, and colour when allowed.
    func styled(_ text: String, _ style: Style, terminal: Bool) -> String {
        guard terminal else { return text }
        let marked = style == .received ? "< " + text : text
        guard colour else { return marked }
        switch style {
        case .plain: return marked
        case .received: return "\u{1B}[36m" + marked + "\u{1B}[0m"
        case .info: return "\u{1B}[2m" + marked + "\u{1B}[0m"
        case .error: return "\u{1B}[31m" + marked + "\u{1B}[0m"
        }
    }

    /// An event: a JSON line, or `text` on stdout (received messages) or stderr (the rest).
    /// `ends`: this is the connection's terminal event (its close, or an error before the open).
    /// `unlessEnded`: not printed once the terminal event was (a line read just as the connection
    /// ended: the end, printed last, says why it was not sent).
    func emit(event: String, fields: [String: String], text: String, style: Style, ends: Bool = false, unlessEnded: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        if unlessEnded && endPrinted { return }
        if ends { endPrinted = true }
        if json {
            var parts = ["\"event\":\"\(event)\""]
            for (k, v) in fields.sorted(by: { $0.key < $1.key }) {
                parts.append("\"\(k)\":" + (Int(v) != nil && k != "data" ? v : JSONString.quote(v)))
            }
            print("{" + parts.joined(separator: ",") + "}")
        } else if let p = _prompt, stdoutIsTerminal {
            // Over the prompt's line, then the prompt again (what was typed stays in the editor).
            if style == .received {
                print("\r\u{1B}[K" + styled(text, style, terminal: true))
            } else {
                print("\r\u{1B}[K", terminator: "")
                fflush(stdout)
                errLine(text, style)
            }
            print(p, terminator: "")
        } else if style == .received {
            print(styled(text, style, terminal: stdoutIsTerminal))
        } else {
            errLine(text, style)
        }
        fflush(stdout)
    }

    /// A line of our own (a pong's round trip, a command's error, help) on stderr; a JSON
    /// `note` event with --json.
    func note(_ text: String, style: Style = .info) {
        emit(event: "note", fields: ["text": text], text: text, style: style)
    }

    /// Waits until the terminal event was printed; false when `seconds` passed first.
    func waitUntilFinished(seconds: Double) -> Bool {
        finished.lock()
        defer { finished.unlock() }
        guard seconds.isFinite else {
            // No deadline (NSCondition cannot wait until Date.distantFuture).
            while !isFinished { finished.wait() }
            return true
        }
        let deadline = Date().addingTimeInterval(max(0, seconds))
        while !isFinished {
            if !finished.wait(until: deadline) { return isFinished }
        }
        return true
    }

    private func finish() {
        finished.lock()
        isFinished = true
        finished.broadcast()
        finished.unlock()
    }

    /// A ping or pong from the server (`-P`): on stderr as "< ping: DATA" (text as text when it
    /// is printable UTF-8, else hex), or a JSON `ping`/`pong` event with `length` and `data`.
    func controlFrame(_ frame: ControlFrameSeen) {
        let (name, payload): (String, [UInt8])
        switch frame {
        case .ping(let p): (name, payload) = ("ping", p)
        case .pong(let p): (name, payload) = ("pong", p)
        }
        let asText = UTF8Validator.isValid(payload) && !payload.contains(where: { $0 < 0x20 || $0 == 0x7F })
        let data = asText ? String(decoding: payload, as: UTF8.self) : Hex.encode(payload)
        let shown = payload.isEmpty ? "< \(name)" : "< \(name): " + (asText ? data : "[hex] " + data)
        emit(event: name, fields: ["length": "\(payload.count)", "data": data], text: shown, style: .info)
    }

    func wire(_ client: WebSocketClient) {
        client.onOpen = { [self] _, r in
            var fields = ["code": "\(r.code)", "reason": r.reason]
            if let p = r.protocolName { fields["protocol"] = p }
            if !r.redirects.isEmpty { fields["redirects"] = r.redirects.joined(separator: " ") }
            let via = r.redirects.isEmpty ? "" : ", after redirects to \(r.redirects.joined(separator: ", "))"
            emit(event: "open", fields: fields, text: "connected (\(r.code)\(r.reason.isEmpty ? "" : " " + r.reason)\(r.protocolName.map { ", protocol \($0)" } ?? "")\(via))", style: .info)
            opened.signal()
        }
        client.onMessage = { [self] _, m in
            let kind = m.kind == .text ? "text" : "binary"
            let data = m.kind == .text ? m.text : m.data.withUnsafeReadableBytes { base64 ? Data($0).base64EncodedString() : Hex.encode($0) }
            // On a terminal, control characters in text are shown as escapes (a server must not
            // drive the terminal); into a pipe, text goes out as it came.
            // Binary on a terminal: a hex dump (hexdump -C style) unless --base64; into a pipe, one line.
            let dump = m.kind == .binary && stdoutIsTerminal && !base64 && !json
            let shown = m.kind == .text ? (stdoutIsTerminal ? TerminalText.sanitize(data) : data)
                : dump ? "[binary \(m.data.readableBytes) bytes]\n" + HexDump.lines(m.data.readableBytesView.map { $0 }).joined(separator: "\n")
                : "[binary \(m.data.readableBytes) bytes\(base64 ? ", base64" : "")] \(data)"
            var fields = ["kind": kind, "length": "\(m.data.readableBytes)", "data": data]
            if base64 && m.kind == .binary { fields["encoding"] = "base64" }
            var text = shown
            if m.kind == .text, let answer = jsonRPCMatch(data) {
                fields["rpcId"] = "\(answer.id)"
                fields["rpcMethod"] = answer.method
                text = "[#\(answer.id) \(TerminalText.sanitize(answer.method, keepNewlines: false))] " + shown
            }
            emit(event: "message", fields: fields, text: text, style: .received)
        }
        client.onError = { [self] c, e in
            let beforeOpen = c.state == .closed
            var fields = ["errorCode": "\(e.code.rawValue)", "errorMessage": e.message]
            var stage: ConnectStage?
            if beforeOpen {
                stage = ConnectStage.of(e, progress: c.progress)
                fields["stage"] = stage!.rawValue
            }
            emit(event: "error", fields: fields,
                 text: "error \(e.code.rawValue) (\(e.code.name))\(stage.map { " in \($0.rawValue)" } ?? ""): \(e.message)", style: .error,
                 ends: beforeOpen)
            if let stage = stage {
                exitCode = Self.status(for: stage)
                opened.signal()
                finish()
            }
        }
        client.onClose = { [self] _, r in
            emit(event: "close", fields: ["code": "\(r.code)", "reason": r.reason],
                 text: "closed \(r.code)\(r.reason.isEmpty ? "" : " \(r.reason)")", style: .info, ends: true)
            lock.lock()
            let ours = closeSent
            lock.unlock()
            exitCode = (r.wasClean && (ours || r.code == 1000 || r.code == 1001)) ? Self.normal : Self.abnormal
            opened.signal()
            finish()
        }
    }
}
