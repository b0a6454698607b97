import ArgumentParser
import CInterrupt
import Foundation
import NIOCore
import NetStack

struct Connect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Interactive session: each input line is sent; incoming messages are printed.",
        discussion: """
        Works as a pipe too: `echo hi | netstack connect ws://127.0.0.1:8765` sends one line, \
        waits up to --wait seconds for replies, closes (--close-code, default 1000) and exits; \
        `netstack connect -x hi -w 2 URL` does the same without standard input (wscat's flags); \
        -n keeps the connection open after the input ends, until the server closes it. \
        A message is at most 4 MiB; an input line longer than 8 MiB + 64 KiB (room for \
        /binary's hex and base64) is skipped to its end and reported, never held whole.
        On a terminal, input has line editing and history (libedit, when installed; history in \
        NETSTACK_HISTORY, default ~/.netstack_history, empty for none), and (or with --slash) \
        lines starting with / are commands: /ping [data] (the \
        round trip is printed), /close [code [reason]], /binary HEX, /quit, /help; //text sends \
        "/text". Received messages are marked "<" on a terminal, in colour unless NO_COLOR is \
        set or --no-color is given; binary messages are shown as a hex dump on a terminal and as \
        one line of hex into a pipe (--base64: as base64, and -b lines are decoded from base64 \
        before sending). With --jsonrpc a line `METHOD [PARAMS]` \
        is sent as a JSON-RPC 2.0 request with the next id (PARAMS: a JSON array or object as it \
        is, anything else wrapped in an array), and answers are shown as "[#ID METHOD] ...".
        Exit status: 0 after a close handshake we started (any code) or the server started with \
        1000 or 1001; 1 after an abnormal end (dropped, closed by the server with another code, \
        a protocol error); 130 after SIGINT or SIGTERM (the connection is closed first, with \
        --close-code; a second signal exits at once); 2 for a URL, header, \
        file or proxy that cannot be used; 3 when the host name did not resolve; 4 when the TCP \
        connection (or the proxy's tunnel) failed, or the attempt timed out before it; 5 when TLS failed (certificate \
        verification included); 6 when the server refused the upgrade or broke the handshake; \
        64 for bad options.
        """
    )

    @Argument(help: ArgumentHelp("ws:// or wss:// URL (or give it with -c).", valueName: "url")) var urlArgument: String?
    @Option(name: [.customShort("c"), .customLong("connect")], parsing: .unconditional, help: "The URL, as wscat's -c takes it (instead of the argument).")
    var connectURL: String?
    @Option(name: [.customShort("o"), .customLong("origin")], parsing: .unconditional, help: "Send this Origin header (wscat's -o).") var origin: String?
    @Flag(name: [.customShort("P"), .customLong("show-ping-pong")], help: "Show the pings and pongs the server sends, on stderr (wscat's -P; pings are still answered).")
    var showPingPong = false
    @Option(parsing: .unconditional, help: "USER:PASSWORD: send them as HTTP Basic authentication (an Authorization header; wscat's --auth).") var auth: String?
    /// The URL from the argument or -c (validate() makes sure there is exactly one).
    var url: String { connectURL ?? urlArgument ?? "" }
    @Option(name: [.customShort("H"), .long], parsing: .unconditionalSingleValue, help: "Extra header 'Name: value' (repeatable).") var header: [String] = []
    @Option(name: [.customShort("s"), .long], parsing: .unconditionalSingleValue, help: "Subprotocol to offer (repeatable).") var subprotocol: [String] = []
    @Option(name: [.customShort("x"), .customLong("execute")], parsing: .unconditionalSingleValue,
            help: "Send this message once connected, instead of reading standard input (repeatable; wscat's -x).") var execute: [String] = []
    @Flag(name: [.customShort("b"), .long], help: "Send lines as binary messages.") var binary = false
    @Flag(name: [.customShort("t"), .long], help: "Send lines as text messages (the default).") var text = false
    @Flag(help: "Show binary messages as base64, and decode -b lines from base64 before sending.") var base64 = false
    @Flag(help: "Send each line 'METHOD [PARAMS]' as a JSON-RPC 2.0 request with the next id; answers are shown with the id and method they answer.")
    var jsonrpc = false
    @Option(name: [.long, .customLong("cacert")], parsing: .unconditional, help: "CA file (PEM) to trust instead of the system store (also --cacert, as curl).") var ca: String?
    @Option(parsing: .unconditional, help: "CA directory to trust instead of the system store.") var caPath: String?
    @Flag(name: [.customShort("k"), .customLong("insecure"), .customLong("no-check")],
          help: "Do not verify the server's certificate.") var insecure = false
    @Option(parsing: .unconditional, help: "Client certificate chain (PEM) for mutual TLS.") var cert: String?
    @Option(parsing: .unconditional, help: "Private key (PEM) of --cert.") var key: String?
    @Option(name: .customLong("pass"), parsing: .unconditional, help: "Password of an encrypted --key.") var keyPassword: String?
    @Option(name: .customLong("tls-min"), parsing: .unconditional, help: "Lowest TLS version: 1.0, 1.1, 1.2 (default) or 1.3.") var tlsMin: String?
    @Option(name: .customLong("tls-max"), parsing: .unconditional, help: "Highest TLS version: 1.0, 1.1, 1.2 or 1.3 (default).") var tlsMax: String?
    @Option(name: .customLong("pinnedpubkey"), parsing: .unconditionalSingleValue,
            help: "Accept the server only if its public key's SHA-256 is this 'sha256//BASE64' (repeatable; curl's --pinnedpubkey).") var pins: [String] = []
    @Flag(help: "Do not offer permessage-deflate.") var noCompression = false
    @Option(parsing: .unconditional, help: "Seconds between keepalive pings, at least 0.001 (0: none; default 30).") var pingInterval: Double?
    @Option(parsing: .unconditional, help: "Seconds for connecting: TCP, a proxy's tunnel, TLS and the upgrade together (default 10).")
    var connectTimeout: Double?
    @Option(parsing: .unconditional, help: "Seconds to wait for the server's close frame after ours before dropping the connection (default 5).")
    var closeTimeout: Double?
    @Option(name: [.customShort("w"), .long], parsing: .unconditional, help: "After the last message (end of input, or -x), seconds to wait for replies before closing.") var wait: Double = 1.0
    @Flag(name: [.customShort("n"), .customLong("no-close")], help: "Do not close when the input ends: wait until the server closes.") var noClose = false
    @Option(parsing: .unconditional, help: "Close code sent when the input ends (1000-1003, 1007-1014, 3000-4999).") var closeCode: UInt16 = 1000
    @Option(parsing: .unconditional, help: "Close reason sent when the input ends (at most 123 bytes).") var closeReason: String = ""
    @Flag(inversion: .prefixedNo, help: "Slash commands (/ping, /close, /binary, /quit, /help); default: on when standard input is a terminal.")
    var slash: Bool?
    @Flag(help: "No colour (also when NO_COLOR is set).") var noColor = false
    @Flag(help: "Print events as JSON lines.") var json = false
    @Flag(name: .shortAndLong, help: "Trace the handshake, messages and control frames to stderr; -vv also every frame (FIN, RSV, opcode, length, mask, a payload preview).")
    var verbose: Int
    @OptionGroup(title: "Proxy") var proxyFlags: ProxyFlags
    @OptionGroup(title: "Redirects") var redirectFlags: RedirectFlags

    /// As a header that cannot be used (CR/LF, a reserved name): 1015 and status 2.
    private func refuseAlteredHeaders() throws {
        for h in header where ArgumentBytes.wasAltered(h) {
            printErr("error 1015 (WEBSOCKET_NO_HEADER_CONTEXT): invalid header: " + ArgumentBytes.alteredHeader(h))
            throw ExitCode(2)
        }
    }

    /// A `Name: value` argument as a header; nil without a colon.
    static func parseHeader(_ h: String) -> WebSocketHeader? {
        guard let colon = h.firstIndex(of: ":") else { return nil }
        return WebSocketHeader(String(h[..<colon]), h[h.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }

    func validate() throws {
        switch (urlArgument, connectURL) {
        case (nil, nil): throw ValidationError("a URL is needed: netstack connect URL (or -c URL)")
        case (.some, .some): throw ValidationError("give the URL once: as the argument or with -c")
        default: break
        }
        if let a = auth, !a.contains(":") { throw ValidationError("--auth: expected USER:PASSWORD") }
        if let o = origin, o.isEmpty || o.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw ValidationError("--origin: a non-empty value without control characters")
        }
        guard wait.isFinite, wait >= 0, wait <= 2_147_483 else { throw ValidationError("--wait: \(wait) is not a number of seconds from 0 to 2147483") }
        if let i = pingInterval { _ = try ClientFlags.pingInterval(seconds: i) }
        for (flag, v) in [("--connect-timeout", connectTimeout), ("--close-timeout", closeTimeout)] {
            if let t = v, !(t.isFinite && t >= 0.001 && t <= 2_147_483) {
                throw ValidationError("\(flag): \(t) is not a number of seconds from 0.001 to 2147483")
            }
        }
        for h in header where Self.parseHeader(h) == nil { throw ValidationError("--header '\(h)' must look like 'Name: value'") }
        for (flag, v) in [("--tls-min", tlsMin), ("--tls-max", tlsMax)] where v != nil && WebSocketTLSVersion(rawValue: v!) == nil {
            throw ValidationError("\(flag): '\(v!)' is not 1.0, 1.1, 1.2 or 1.3")
        }
        do { _ = try PublicKeyPins(pins) } catch let e as WebSocketError { throw ValidationError("--pinnedpubkey: \(e.message)") }
        if (cert == nil) != (key == nil) { throw ValidationError("--cert and --key go together") }
        if binary && text { throw ValidationError("-b and -t: choose one") }
        guard CloseCode(rawValue: closeCode).isValidOnWire else {
            throw ValidationError("--close-code: \(closeCode) cannot be sent (1000-1003, 1007-1014, 3000-4999)")
        }
        guard closeReason.utf8.count <= CloseCode.maximumReasonLength else {
            throw ValidationError("--close-reason: at most \(CloseCode.maximumReasonLength) bytes")
        }
    }

    func run() throws {
        try refuseAlteredHeaders()
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
        if let i = pingInterval, let t = try? ClientFlags.pingInterval(seconds: i) { config.pingInterval = t }
        if let t = connectTimeout { config.connectTimeout = .nanoseconds(Int64((t * 1e9).rounded())) }
        if let t = closeTimeout { config.closeTimeout = .nanoseconds(Int64((t * 1e9).rounded())) }
        config.proxy = proxyFlags.setting
        config.followRedirects = redirectFlags.followRedirects
        if verbose >= 1 { config.trace = { line in printErr(line) } }
        if verbose >= 2 { config.frameTrace = { line in printErr(line) } }
        if insecure { printErr("netstack: warning: --insecure: the server certificate is not verified") }
        var headers = header.compactMap(Self.parseHeader)
        if let o = origin { headers.append(WebSocketHeader("Origin", o)) }
        if let a = auth { headers.append(WebSocketHeader("Authorization", "Basic " + Base64.encode(Array(a.utf8)))) }
        // The engine ends a connection at most closeTimeout after the close frame.
        let endWait = Double(config.closeTimeout.nanoseconds) / 1e9 + 10
        let stdinIsTerminal = isatty(STDIN_FILENO) != 0
        let colour = !noColor && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
        let session = ConnectSession(json: json, base64: base64, colour: colour)
        if jsonrpc { session.enableJSONRPC() }
        if showPingPong { config.controlFrames = { [session] frame in session.controlFrame(frame) } }
        let client = WebSocketClient(configuration: config)
        session.wire(client)
        // SIGINT (Ctrl-C) or SIGTERM: the close handshake with --close-code, then 130 (from this
        // thread, which may be blocked reading input); a second one exits at once.
        guard netstack_interrupt_install() == 0 else {
            printErr("netstack connect: cannot install the SIGINT handler")
            throw ExitCode(1)
        }
        let (code, reason) = (UInt32(closeCode), closeReason)
        watchInterrupts(first: {
            session.closing()
            guard (try? client.close(code: code, reason: reason)) != nil else { Self.exitInterrupted() }
            // Waited for on a thread of its own: the watcher goes on to count the second signal.
            Thread {
                _ = session.waitUntilFinished(seconds: endWait)
                Self.exitInterrupted()
            }.start()
        }, second: { Self.exitInterrupted() })
        do {
            try client.connect(to: url, headers: headers)
        } catch let e as WebSocketError {
            session.emit(event: "error", fields: ["errorCode": "\(e.code.rawValue)", "errorMessage": e.message],
                         text: "error \(e.code.rawValue) (\(e.code.name)): \(e.message)", style: .error)
            throw ExitCode(ConnectSession.unusable)
        }
        guard session.opened.wait(timeout: .now() + 3600) == .success, client.state == .open else {
            // Ended before or right after the open: its terminal event is printed (or being
            // printed on the loop); wait for it so that the output and the status are final.
            _ = session.waitUntilFinished(seconds: endWait)
            throw ExitCode(Self.status(session))
        }
        let slashCommands = slash ?? (stdinIsTerminal && execute.isEmpty)
        // On a terminal: line editing and history (libedit, when it can be loaded), a "> " prompt.
        let editor = stdinIsTerminal && session.stdoutIsTerminal && !json && execute.isEmpty ? LineEditor.make() : nil
        if editor != nil { session.prompt = "> " }
        // Input lines are read up to twice the send limit (room for /binary's hex and base64),
        // so input without newlines cannot grow memory without end; a longer line is skipped.
        let sendLimit = config.maxSendSize
        let input = BoundedLineReader(limit: sendLimit > (Int.max - 65_536) / 2 ? Int.max : sendLimit * 2 + 65_536)
        func nextLine() -> String? {
            if let e = editor { return e.readLine(prompt: "> ") }
            while true {
                switch input.next() {
                case nil: return nil
                case .line(let line)?: return line
                case .tooLong(let bytes)?:
                    if client.state != .open { return nil }
                    let message = "a line of \(bytes) bytes exceeds the input limit of \(input.limit) bytes: not sent"
                    session.emit(event: "error", fields: ["errorCode": "\(WebSocketErrCode.dataLengthExceeded.rawValue)", "errorMessage": message],
                                 text: "send failed: \(WebSocketErrCode.dataLengthExceeded.rawValue): \(message)", style: .error)
                }
            }
        }
        var executed = execute.makeIterator()
        var quit = false
        while !quit, let line = execute.isEmpty ? nextLine() : executed.next() {
            if client.state != .open { break }
            switch ConnectInput.parse(line, slash: slashCommands, binary: binary, base64: base64) {
            case .message(let text):
                switch session.jsonRPCRequest(text) {
                case nil: send(client, session) { try client.send(text: text) }
                case .success(let request)?: send(client, session) { try client.send(text: request) }
                case .failure(let e)?: session.note(e.message, style: .error)
                }
            case .binary(let bytes): send(client, session) { try client.send(binary: bytes) }
            case .ping(let data):
                send(client, session) {
                    try client.ping(data, onPong: { result in
                        switch result {
                        case .success(let rtt): session.note("pong after \(String(format: "%.3f", Double(rtt.nanoseconds) / 1e6)) ms")
                        case .failure(let e): session.note("no pong: \(e.message)", style: .error)
                        }
                    })
                }
            case .close(let code, let reason):
                session.closing()
                send(client, session) { try client.close(code: UInt32(code), reason: reason) }
                quit = true
            case .quit:
                session.closing()
                send(client, session) { try client.close(code: 1000) }
                quit = true
            case .help: session.note(ConnectInput.helpText)
            case .invalid(let why): session.note(why, style: .error)
            }
        }
        session.prompt = nil
        if quit {
            _ = session.waitUntilFinished(seconds: endWait)
            throw ExitCode(Self.status(session))
        }
        if noClose {
            // Until the server ends it (or SIGINT).
            _ = session.waitUntilFinished(seconds: .infinity)
        } else if client.state == .open, !session.waitUntilFinished(seconds: wait) {
            session.closing()
            try? client.close(code: UInt32(closeCode), reason: closeReason)
        }
        // Messages that arrive until the end are still printed.
        _ = session.waitUntilFinished(seconds: endWait)
        throw ExitCode(Self.status(session))
    }

    /// The session's status, or 130 once SIGINT or SIGTERM arrived (the connection ended
    /// because of it, and the watcher may not have exited yet).
    private static func status(_ session: ConnectSession) -> Int32 {
        netstack_interrupt_count() > 0 ? 130 : session.exitCode
    }

    private static func exitInterrupted() -> Never {
        fflush(stdout)
        _exit(130)
    }

    private func send(_ client: WebSocketClient, _ session: ConnectSession, _ body: () throws -> Void) {
        do { try body() } catch let e as WebSocketError {
            // A line read just as the connection ended is not reported after that end (which
            // stays the last line and says why nothing more was sent).
            session.emit(event: "error", fields: ["errorCode": "\(e.code.rawValue)", "errorMessage": e.message], text: "send failed: \(e)", style: .error,
                         unlessEnded: e.code == .noConnection)
        } catch {}
    }
}
