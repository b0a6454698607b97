import ArgumentParser
import Foundation
import NIOCore
import NetStack

struct Connect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Interactive session: each input line is sent; incoming messages are printed.",
        discussion: """
        Works as a pipe too: `echo hi | netstack connect ws://127.0.0.1:8765` sends one line, \
        waits up to --wait seconds for replies, closes with 1000 and exits; \
        `netstack connect -x hi -w 2 URL` does the same without standard input (wscat's flags). Exit status 0 after \
        a normal close, 1 on a connection error or abnormal close, 2 for a URL, header or proxy \
        that cannot be used, 64 for bad options.
        """
    )

    @Argument(help: "ws:// or wss:// URL.") var url: String
    @Option(name: [.customShort("H"), .long], parsing: .singleValue, help: "Extra header 'Name: value' (repeatable).") var header: [String] = []
    @Option(name: [.customShort("s"), .long], parsing: .singleValue, help: "Subprotocol to offer (repeatable).") var subprotocol: [String] = []
    @Option(name: [.customShort("x"), .customLong("execute")], parsing: .singleValue,
            help: "Send this message once connected, instead of reading standard input (repeatable; wscat's -x).") var execute: [String] = []
    @Flag(help: "Send lines as binary messages.") var binary = false
    @Option(help: "CA file (PEM) to trust instead of the system store.") var ca: String?
    @Option(help: "CA directory to trust instead of the system store.") var caPath: String?
    @Flag(name: [.customShort("k"), .customLong("insecure"), .customLong("no-check")],
          help: "Do not verify the server certificate (dangerous).") var insecure = false
    @Option(help: "Client certificate chain (PEM) for mutual TLS.") var cert: String?
    @Option(help: "Private key (PEM) of --cert.") var key: String?
    @Option(name: .customLong("pass"), help: "Password of an encrypted --key.") var keyPassword: String?
    @Option(name: .customLong("tls-min"), help: "Lowest TLS version: 1.0, 1.1, 1.2 (default) or 1.3.") var tlsMin: String?
    @Option(name: .customLong("tls-max"), help: "Highest TLS version: 1.0, 1.1, 1.2 or 1.3 (default).") var tlsMax: String?
    @Option(name: .customLong("pinnedpubkey"), parsing: .singleValue,
            help: "Accept only a server whose certificate's public key has this SHA-256 (sha256//BASE64; repeatable).") var pins: [String] = []
    @Flag(help: "Do not offer permessage-deflate.") var noCompression = false
    @Option(name: [.customShort("w"), .long], help: "After the last message (end of input, or -x), seconds to wait for replies before closing.") var wait: Double = 1.0
    @Flag(help: "Print events as JSON lines.") var json = false
    @Flag(name: .shortAndLong, help: "Trace the handshake, messages and control frames to stderr; -vv also every frame (FIN, RSV, opcode, length, mask, a payload preview).")
    var verbose: Int
    @OptionGroup(title: "Proxy") var proxyFlags: ProxyFlags
    @OptionGroup(title: "Redirects") var redirectFlags: RedirectFlags

    /// A `Name: value` argument as a header; nil without a colon.
    static func parseHeader(_ h: String) -> WebSocketHeader? {
        guard let colon = h.firstIndex(of: ":") else { return nil }
        return WebSocketHeader(String(h[..<colon]), h[h.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }

    func validate() throws {
        guard wait.isFinite, wait >= 0, wait <= 2_147_483 else { throw ValidationError("--wait: \(wait) is not a number of seconds from 0 to 2147483") }
        for h in header where Self.parseHeader(h) == nil { throw ValidationError("--header '\(h)' must look like 'Name: value'") }
        for (flag, v) in [("--tls-min", tlsMin), ("--tls-max", tlsMax)] where v != nil && WebSocketTLSVersion(rawValue: v!) == nil {
            throw ValidationError("\(flag): '\(v!)' is not 1.0, 1.1, 1.2 or 1.3")
        }
        do { _ = try PublicKeyPins(pins) } catch let e as WebSocketError { throw ValidationError("--pinnedpubkey: \(e.message)") }
        if (cert == nil) != (key == nil) { throw ValidationError("--cert and --key go together") }
    }

    func run() throws {
        var config = WebSocketClientConfiguration()
        config.protocols = subprotocol
        config.tls.caFile = ca
        config.tls.caPath = caPath
        config.tls.insecure = insecure
        config.tls.clientCertificateFile = cert
        config.tls.clientKeyFile = key
        config.tls.clientKeyPassword = keyPassword
        config.tls.minimumVersion = tlsMin.flatMap(WebSocketTLSVersion.init(rawValue:))
        config.tls.maximumVersion = tlsMax.flatMap(WebSocketTLSVersion.init(rawValue:))
        config.tls.pinnedPublicKeys = pins
        config.compression = !noCompression
        config.proxy = proxyFlags.setting
        config.followRedirects = redirectFlags.followRedirects
        if verbose >= 1 { config.trace = { line in printErr(line) } }
        if verbose >= 2 { config.frameTrace = { line in printErr(line) } }
        if insecure { printErr("netstack: warning: --insecure: the server certificate is not verified") }
        let headers = header.compactMap(Self.parseHeader)
        // The engine ends a connection at most closeTimeout after the close frame.
        let endWait = Double(config.closeTimeout.nanoseconds) / 1e9 + 10
        let session = Session(json: json, verbose: verbose >= 1)
        let client = WebSocketClient(configuration: config)
        session.wire(client)
        do {
            try client.connect(to: url, headers: headers)
        } catch let e as WebSocketError {
            session.emit(event: "error", fields: ["errorCode": "\(e.code.rawValue)", "errorMessage": e.message],
                         text: "error \(e.code.rawValue) (\(e.code.name)): \(e.message)", toStderr: true)
            throw ExitCode(2)
        }
        guard session.opened.wait(timeout: .now() + 3600) == .success, client.state == .open else {
            // Ended before or right after the open: its terminal event is printed (or being
            // printed on the loop); wait for it so that the output and the status are final.
            _ = session.waitUntilFinished(seconds: endWait)
            throw ExitCode(session.exitCode)
        }
        var executed = execute.makeIterator()
        while let line = execute.isEmpty ? readLine(strippingNewline: true) : executed.next() {
            if client.state != .open { break }
            do {
                if binary { try client.send(binary: Array(line.utf8)) } else { try client.send(text: line) }
            } catch let e as WebSocketError {
                session.emit(event: "error", fields: ["errorCode": "\(e.code.rawValue)", "errorMessage": e.message], text: "send failed: \(e)")
            }
        }
        if client.state == .open, !session.waitUntilFinished(seconds: wait) {
            try? client.close(code: 1000)
        }
        // Messages that arrive until the end are still printed.
        _ = session.waitUntilFinished(seconds: endWait)
        throw ExitCode(session.exitCode)
    }
}

/// Prints events as text or JSON lines and tracks how the session ended.
final class Session: @unchecked Sendable {
    let json: Bool
    let verbose: Bool
    let opened = DispatchSemaphore(value: 0)
    /// Set once by the terminal event (onClose, or onError without a connection); every later
    /// wait returns at once (a semaphore would be used up by the first).
    private let finished = NSCondition()
    private var isFinished = false
    private let lock = NSLock()
    private(set) var exitCode: Int32 = 1
    let stdoutIsTerminal = isatty(STDOUT_FILENO) != 0

    init(json: Bool, verbose: Bool) {
        self.json = json
        self.verbose = verbose
    }

    func emit(event: String, fields: [String: String], text: String, toStderr: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        if json {
            var parts = ["\"event\":\"\(event)\""]
            for (k, v) in fields.sorted(by: { $0.key < $1.key }) {
                parts.append("\"\(k)\":" + (Int(v) != nil && k != "data" ? v : JSONString.quote(v)))
            }
            print("{" + parts.joined(separator: ",") + "}")
        } else if toStderr {
            printErr(text)
        } else {
            print(text)
        }
        fflush(stdout)
    }

    /// Waits until the terminal event was printed; false when `seconds` passed first.
    func waitUntilFinished(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(max(0, seconds))
        finished.lock()
        defer { finished.unlock() }
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

    func wire(_ client: WebSocketClient) {
        client.onOpen = { [self] _, r in
            var fields = ["code": "\(r.code)", "reason": r.reason]
            if let p = r.protocolName { fields["protocol"] = p }
            if !r.redirects.isEmpty { fields["redirects"] = r.redirects.joined(separator: " ") }
            let via = r.redirects.isEmpty ? "" : ", after redirects to \(r.redirects.joined(separator: ", "))"
            emit(event: "open", fields: fields, text: "connected (\(r.code) \(r.reason)\(r.protocolName.map { ", protocol \($0)" } ?? "")\(via))", toStderr: true)
            opened.signal()
        }
        client.onMessage = { [self] _, m in
            let kind = m.kind == .text ? "text" : "binary"
            let data = m.kind == .text ? m.text : m.data.withUnsafeReadableBytes { Hex.encode($0) }
            // On a terminal, control characters in text are shown as escapes (a server must not
            // drive the terminal); into a pipe, text goes out as it came.
            emit(event: "message", fields: ["kind": kind, "length": "\(m.data.readableBytes)", "data": data],
                 text: m.kind == .text ? (stdoutIsTerminal ? TerminalText.sanitize(data) : data) : "[binary \(m.data.readableBytes) bytes] \(data)")
        }
        client.onError = { [self] c, e in
            emit(event: "error", fields: ["errorCode": "\(e.code.rawValue)", "errorMessage": e.message],
                 text: "error \(e.code.rawValue) (\(e.code.name)): \(e.message)", toStderr: true)
            if c.state == .closed {
                exitCode = 1
                opened.signal()
                finish()
            }
        }
        client.onClose = { [self] _, r in
            emit(event: "close", fields: ["code": "\(r.code)", "reason": r.reason],
                 text: "closed \(r.code)\(r.reason.isEmpty ? "" : " \(r.reason)")", toStderr: true)
            exitCode = (r.code == 1000 || r.code == 1001) ? 0 : 1
            opened.signal()
            finish()
        }
    }
}

