import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NetStack

/// A local WebSocket server (ws and wss, 127.0.0.1) for tests, examples and `netstack serve`.
///
/// Behaviour is picked by the request path, so one server serves every test:
///
/// | path | behaviour |
/// |---|---|
/// | `/`, `/echo` | echo every message with its type |
/// | `/flood?n=N&size=S&binary=0/1` | send N messages of S bytes, then close 1000 |
/// | `/sink?n=N` | count N messages, answer `done <n> <bytes>`, close 1000 |
/// | `/headers` | send the request headers as a JSON object, then echo |
/// | `/close?code=C&reason=R` | close with C/R right after the upgrade, as given (also a code or a reason over 123 bytes that a client must refuse) |
/// | `/status?code=C` | answer the upgrade with HTTP status C and a short body |
/// | `/redirect?to=URL&code=C` | answer with status C (default 302) and `Location: URL` (percent-decoded; without `to`, to itself: a loop) |
/// | `/misbehave/KIND` | scripted misbehaviour, see `Misbehaviour` |
///
/// Query `deflate=0` refuses permessage-deflate on any path; `protocol=NAME` answers with that
/// subprotocol whatever was offered. A `to` or `protocol` value with a control character (CR and
/// LF percent-encoded among them), or a `code` that is not three digits, is answered with 400.
public final class LocalWebSocketServer: @unchecked Sendable {
    public struct TLSFiles: Sendable {
        public var certificatePath: String
        public var keyPath: String
        public init(certificatePath: String, keyPath: String) {
            self.certificatePath = certificatePath
            self.keyPath = keyPath
        }
    }

    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 0
        public var tls: TLSFiles? = nil
        /// Accept permessage-deflate offers.
        public var compression = true
        /// What "/" does: "echo" (default), "flood", "sink", ...
        public var defaultPath = "/echo"
        /// Print one line per connection to stderr.
        public var verbose = false
        /// With TLS: require a client certificate issued by this CA (PEM file).
        public var clientCA: String? = nil
        public init() {}
    }

    public let configuration: Configuration
    private let group: EventLoopGroup
    private var channel: Channel?
    let stats = Stats()

    public init(configuration: Configuration = .init(), group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
    }

    /// The bound port (after `start`).
    public var port: Int { channel?.localAddress?.port ?? 0 }
    public var url: String { "\(configuration.tls == nil ? "ws" : "wss")://127.0.0.1:\(port)" }

    final class Stats: @unchecked Sendable {
        let lock = NIOLock()
        var connections = 0
        var lastCloseFromClient: (code: UInt16?, reason: String)?
        var lastMessageFromClient: [UInt8]?
        /// Open connections, so that `stop(dropConnections:)` can cut them.
        var children: [ObjectIdentifier: Channel] = [:]
    }

    /// The handler the server gives each connection, for driving one without a socket (the
    /// `serve` fuzz target).
    package static func connectionHandler(configuration: Configuration = .init()) -> ChannelHandler {
        ServerConnectionHandler(config: configuration, stats: Stats())
    }

    /// Connections accepted so far.
    public var connectionCount: Int { stats.lock.withLock { stats.connections } }
    /// The close code and reason of the last close frame a client sent (nil code = empty payload).
    public var lastClientClose: (code: UInt16?, reason: String)? { stats.lock.withLock { stats.lastCloseFromClient } }
    /// The last message a client sent, as text (nil before any).
    public var lastClientMessage: String? { stats.lock.withLock { stats.lastMessageFromClient.map { String(decoding: $0, as: UTF8.self) } } }

    @discardableResult
    public func start() throws -> Int {
        var sslContext: NIOSSLContext? = nil
        if let tls = configuration.tls {
            var c = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificatePath).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.keyPath, format: .pem)))
            c.minimumTLSVersion = .tlsv12
            if let clientCA = configuration.clientCA {
                c.certificateVerification = .noHostnameVerification
                c.trustRoots = .file(clientCA)
            }
            sslContext = try NIOSSLContext(configuration: c)
        }
        let config = configuration
        let stats = self.stats
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let id = ObjectIdentifier(channel)
                stats.lock.withLock { stats.children[id] = channel }
                channel.closeFuture.whenComplete { _ in stats.lock.withLock { stats.children[id] = nil } }
                do {
                    if let ctx = sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: ctx))
                    }
                    try channel.pipeline.syncOperations.addHandler(ServerConnectionHandler(config: config, stats: stats))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        channel = try bootstrap.bind(host: configuration.host, port: configuration.port).wait()
        return port
    }

    /// Stops listening; with `dropConnections`, also cuts every open connection (TCP closed
    /// without a close frame, as when a server process dies).
    public func stop(dropConnections: Bool = false) {
        try? channel?.close().wait()
        channel = nil
        if dropConnections {
            let children = stats.lock.withLock { Array(stats.children.values) }
            for c in children { try? c.close().wait() }
        }
    }

    deinit { try? channel?.close().wait() }
}

/// Scripted ways of breaking the protocol, selected by `/misbehave/KIND`.
enum Misbehaviour: String {
    case badAccept = "bad-accept"            // 101 with a wrong Sec-WebSocket-Accept
    case invalidUTF8 = "invalid-utf8"        // a text frame that is not UTF-8
    case oversized                           // a binary message of ?size= bytes (default 2 MiB)
    case masked                              // a masked frame from the server
    case drop                                // send "bye", then drop TCP without a close frame
    case noCloseReply = "no-close-reply"     // never answer the client's close, never close TCP
    case slowHandshake = "slow-handshake"    // answer the upgrade after ?ms= (default 2000)
    case hang                                // accept TCP, never answer
    case halfResponse = "half-response"      // half a response head, then close
    case garbage                             // a non-HTTP answer
    case rsv                                 // a frame with RSV2 set
    case opcode                              // a frame with reserved opcode 0x3
    case textThenOpcode = "text-then-opcode" // text "hi" and a reserved-opcode frame in one write
    case fragmented                          // "Hello, " + ping + "World" as fragments
    case ping                                // ping "are you there"; report the pong as text
    case silent                              // echo, but never answer pings
    case zipbomb                             // a compressed message inflating to ?size= (default 80 MiB)
    case badCloseCode = "bad-close-code"     // a close frame with code 1005
    case bigControl = "big-control"          // a 126-byte ping
    case unofferedProtocol = "unoffered-protocol"  // choose a subprotocol that was not offered
    case unofferedExtension = "unoffered-extension" // enable an extension that was not offered
    case pingFlood = "ping-flood"            // pings as fast as TCP takes them for ?ms= (default 3000), never reading
    case rejectHold = "reject-hold"          // 403 without Content-Length, then hold the connection open
    case escapeStatus = "escape-status"      // a 403 whose status line carries terminal escape sequences
    case deaf                                // after the 101, stop reading: no close frame, no TLS close_notify, TCP held open
}

final class ServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let config: LocalWebSocketServer.Configuration
    private let stats: LocalWebSocketServer.Stats
    private var head = ByteBuffer()
    private var open = false
    private var path = "/"
    private var query: [String: String] = [:]
    private var receiver = FrameReceiver(expectMaskedFrames: true, maxMessageSize: 64 * 1024 * 1024)
    private var deflate: PerMessageDeflate?
    private var pending: ByteBuffer?
    private var misbehaviour: Misbehaviour?
    private var sinkCount = 0
    private var sinkBytes = 0
    private var sinkTarget = 0
    private var closed = false
    private var requestHeaders: [(String, String)] = []
    /// How much of `head` has been searched for its end.
    private var headSearched = 0

    init(config: LocalWebSocketServer.Configuration, stats: LocalWebSocketServer.Stats) {
        self.config = config
        self.stats = stats
    }

    /// Numbers in the query are clamped (a request must not crash the server or make it allocate
    /// without bound): sizes to 0 ... 256 MiB, times to 0 ... 1 h, counts to 0 and more.
    static let sizes = 0...(256 << 20)
    static let times = 0...3_600_000

    private func number(_ name: String, _ fallback: Int, in range: ClosedRange<Int>) -> Int {
        min(max(query[name].flatMap { Int($0) } ?? fallback, range.lowerBound), range.upperBound)
    }

    func channelActive(context: ChannelHandlerContext) {
        stats.lock.withLock { stats.connections += 1 }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if !open {
            head.writeBuffer(&buffer)
            readRequest(context: context)
            return
        }
        if closed {
            awaitCloseReply(context: context, &buffer)
            return
        }
        if pending == nil || pending!.readableBytes == 0 {
            processFrames(context: context, &buffer)
            if buffer.readableBytes > 0 { pending = buffer } else { pending = nil }
        } else {
            pending!.writeBuffer(&buffer)
            var acc = pending!
            pending = nil
            processFrames(context: context, &acc)
            if acc.readableBytes > 0 { pending = acc }
        }
        // A close frame the client sent at the same time as ours may be in this read already.
        if closed, closeReply != nil, pending != nil {
            var none = ByteBuffer()
            awaitCloseReply(context: context, &none)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    /// A client that sends without reading what it is sent (echoes, pongs) is not read again
    /// until that has drained below the write buffer's low watermark: a connection holds at most
    /// about the high watermark (64 KiB) plus what one read brought in, however much it is sent.
    private var heldRead = false

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable { context.read() } else { heldRead = true }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && heldRead {
            heldRead = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    // MARK: Handshake

    private func readRequest(context: ChannelHandlerContext) {
        // A TLS ClientHello on the plain port (a wss client): close at once, a TLS abort for it.
        if head.readableBytes > 0, head.getInteger(at: head.readerIndex, as: UInt8.self) == 0x16 {
            context.close(promise: nil)
            return
        }
        // The end of the head, found in the bytes (a head need not be UTF-8: its length in bytes
        // is what is consumed) and searched only where the last read added to it.
        let from = max(0, headSearched - 3)
        let endOfHead = head.withUnsafeReadableBytes { raw -> Int? in
            var i = from
            while i + 3 < raw.count {
                if raw[i] == 13, raw[i + 1] == 10, raw[i + 2] == 13, raw[i + 3] == 10 { return i }
                i += 1
            }
            return nil
        }
        guard let end = endOfHead else {
            headSearched = head.readableBytes
            if head.readableBytes > 64 * 1024 { context.close(promise: nil) }
            return
        }
        let text = head.withUnsafeReadableBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[..<end]), as: UTF8.self) }
        head.moveReaderIndex(forwardBy: end + 4)
        let lines = text.components(separatedBy: "\r\n")
        let requestLine = lines.first ?? ""
        let parts = requestLine.split(separator: " ")
        guard parts.count == 3, parts[0] == "GET" else { return respondPlain(context, 400, "Bad Request", "expected GET") }
        var target = String(parts[1])
        if target == "/" || target.hasPrefix("/?") { target = config.defaultPath + target.dropFirst() }
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            for pair in target[target.index(after: q)...].split(separator: "&") {
                // Empty sides kept: `?=x` or `?a&=` has a pair with an empty name.
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[String(kv[0])] = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            }
        } else {
            path = target
        }
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            requestHeaders.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        func header(_ name: String) -> String? { requestHeaders.first(where: { $0.0.lowercased() == name })?.1 }
        if path.hasPrefix("/misbehave/") {
            guard let m = Misbehaviour(rawValue: String(path.dropFirst("/misbehave/".count))) else {
                return respondPlain(context, 404, "Not Found", "unknown misbehaviour")
            }
            misbehaviour = m
        }
        if config.verbose {
            StandardError.line("serve: \(context.remoteAddress?.description ?? "?") GET \(target)")
        }
        // Query values that go into the answer's head: a control character (CR and LF
        // percent-encoded among them) would end the header line and write headers of the
        // requester's choosing; a status must be three digits.
        for name in ["to", "protocol"] {
            if let v = query[name], v.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
                return respondPlain(context, 400, "Bad Request", "the query value '\(name)' holds a control character")
            }
        }
        if path == "/redirect" || path == "/status" {
            var code: Int? = path == "/redirect" ? 302 : 403
            if let v = query["code"] { code = v.utf8.count == 3 ? Int(v).flatMap { (100...999).contains($0) ? $0 : nil } : nil }
            guard let code else { return respondPlain(context, 400, "Bad Request", "code: a status of three digits expected") }
            if path == "/redirect" {
                return respondPlain(context, code, "Redirect", "moved", headers: "Location: \(query["to"] ?? target)\r\n")
            }
            return respondPlain(context, code, code == 404 ? "Not Found" : "Forbidden", "rejected by the test server")
        }
        // What a client's opening handshake must hold (RFC 6455 §4.2.1), each refused with what is
        // wrong; a plain HTTP request gets 426, and another protocol version 426 naming ours (§4.4).
        func hasToken(_ value: String?, _ token: String) -> Bool {
            value.map { UpgradeResponseHead.listContains($0, token) } ?? false
        }
        guard hasToken(header("upgrade"), "websocket") else {
            return respondPlain(context, 426, "Upgrade Required", "this is a WebSocket server", headers: "Upgrade: websocket\r\n")
        }
        guard parts[2].hasPrefix("HTTP/1."), let minor = Int(parts[2].dropFirst("HTTP/1.".count)), minor >= 1 else {
            return respondPlain(context, 400, "Bad Request", "the opening handshake needs HTTP/1.1 or later, not \(parts[2])")
        }
        guard header("host") != nil else { return respondPlain(context, 400, "Bad Request", "missing Host header") }
        guard hasToken(header("connection"), "upgrade") else {
            return respondPlain(context, 400, "Bad Request", "the Connection header must include Upgrade")
        }
        guard header("sec-websocket-version") == "13" else {
            return respondPlain(context, 426, "Upgrade Required", "WebSocket version 13 only", headers: "Sec-WebSocket-Version: 13\r\n")
        }
        guard let key = header("sec-websocket-key"), Data(base64Encoded: key)?.count == 16 else {
            return respondPlain(context, 400, "Bad Request", "Sec-WebSocket-Key must be 16 bytes in base64")
        }
        switch misbehaviour {
        case .hang: return
        case .rejectHold:
            var b = context.channel.allocator.buffer(capacity: 64)
            b.writeString("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nnot you")
            context.writeAndFlush(wrapOutboundOut(b), promise: nil)
            return
        case .escapeStatus:
            var b = context.channel.allocator.buffer(capacity: 64)
            b.writeString("HTTP/1.1 403 \u{1b}]0;owned\u{07}\u{1b}[2J\u{1b}[31mForbidden\r\nContent-Length: 0\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(b)).whenComplete { _ in context.close(promise: nil) }
            return
        case .garbage:
            var b = context.channel.allocator.buffer(capacity: 64)
            b.writeString("SSH-2.0-OpenSSH_9.2\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(b)).whenComplete { _ in context.close(promise: nil) }
            return
        case .halfResponse:
            var b = context.channel.allocator.buffer(capacity: 64)
            b.writeString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")
            context.writeAndFlush(wrapOutboundOut(b)).whenComplete { _ in context.close(promise: nil) }
            return
        default: break
        }

        var response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        let accept = misbehaviour == .badAccept ? "dGhlIHNhbXBsZSBub25jZQ==" : ClientHandshake.acceptValue(forKey: key)
        response += "Sec-WebSocket-Accept: \(accept)\r\n"
        if let forced = query["protocol"] {
            response += "Sec-WebSocket-Protocol: \(forced)\r\n"
        } else if misbehaviour == .unofferedProtocol {
            response += "Sec-WebSocket-Protocol: never-offered\r\n"
        } else if let offered = header("sec-websocket-protocol") {
            let first = offered.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if !first.isEmpty { response += "Sec-WebSocket-Protocol: \(first)\r\n" }
        }
        if misbehaviour == .unofferedExtension {
            response += "Sec-WebSocket-Extensions: x-unknown-extension\r\n"
        } else if config.compression, query["deflate"] != "0", let ext = header("sec-websocket-extensions"),
                  let offer = ExtensionHeader.parse(ext).first(where: { $0.name.lowercased() == "permessage-deflate" }) {
            var agreed = PerMessageDeflateParameters()
            let offered = (try? PerMessageDeflateParameters.parse(parameters: offer.parameters, isServerResponse: false)) ?? PerMessageDeflateParameters()
            agreed.serverNoContextTakeover = offered.serverNoContextTakeover || query["server_no_context_takeover"] != nil
            agreed.clientNoContextTakeover = offered.clientNoContextTakeover || query["client_no_context_takeover"] != nil
            if query["client_max_window_bits"] != nil, offered.clientMaxWindowBits != nil { agreed.clientMaxWindowBits = number("client_max_window_bits", 15, in: 8...15) }
            if query["server_max_window_bits"] != nil { agreed.serverMaxWindowBits = number("server_max_window_bits", 15, in: 8...15) }
            var value = "permessage-deflate"
            if agreed.serverNoContextTakeover { value += "; server_no_context_takeover" }
            if agreed.clientNoContextTakeover { value += "; client_no_context_takeover" }
            if let b = agreed.serverMaxWindowBits { value += "; server_max_window_bits=\(b)" }
            if let b = agreed.clientMaxWindowBits { value += "; client_max_window_bits=\(b)" }
            response += "Sec-WebSocket-Extensions: \(value)\r\n"
            let pmd = PerMessageDeflate(agreed: agreed, isClient: false, compressionThreshold: 0)
            deflate = pmd
            receiver.deflate = pmd
        }
        response += "\r\n"
        var out = context.channel.allocator.buffer(capacity: response.utf8.count)
        out.writeString(response)
        if misbehaviour == .slowHandshake {
            let ms = Int64(number("ms", 2000, in: Self.times))
            context.eventLoop.scheduleTask(in: .milliseconds(ms)) { [self] in
                context.writeAndFlush(self.wrapOutboundOut(out), promise: nil)
                self.didOpen(context: context)
            }
            return
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        didOpen(context: context)
    }

    private func respondPlain(_ context: ChannelHandlerContext, _ code: Int, _ reason: String, _ body: String, headers: String = "") {
        var b = context.channel.allocator.buffer(capacity: 128)
        b.writeString("HTTP/1.1 \(code) \(reason)\r\n\(headers)Content-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        context.writeAndFlush(wrapOutboundOut(b)).whenComplete { _ in context.close(promise: nil) }
    }

    private func didOpen(context: ChannelHandlerContext) {
        open = true
        let leftover = head
        head = ByteBuffer()
        switch path {
        case "/flood": startFlood(context: context)
        case "/sink": sinkTarget = number("n", 0, in: 0...Int.max)
        case "/headers":
            var json = "{"
            json += requestHeaders.map { JSONString.quote($0.0) + ":" + JSONString.quote($0.1) }.joined(separator: ",")
            json += "}"
            sendMessage(context, .text, Array(json.utf8))
        case "/close":
            let code = UInt16(query["code"] ?? "1000") ?? 1000
            sendClose(context, code: code, reason: query["reason"] ?? "")
        default: break
        }
        if let m = misbehaviour { misbehave(m, context: context) }
        context.flush()
        if leftover.readableBytes > 0 {
            var l = leftover
            processFrames(context: context, &l)
            if l.readableBytes > 0 { pending = l }
        }
    }

    private func misbehave(_ m: Misbehaviour, context: ChannelHandlerContext) {
        let alloc = context.channel.allocator
        func raw(_ bytes: [UInt8]) {
            var b = alloc.buffer(capacity: bytes.count)
            b.writeBytes(bytes)
            context.writeAndFlush(wrapOutboundOut(b), promise: nil)
        }
        switch m {
        case .invalidUTF8: raw([0x81, 0x04, 0xCE, 0xBA, 0xE1, 0xBD])   // truncated sequence
        case .oversized:
            let size = number("size", 2 * 1024 * 1024, in: Self.sizes)
            sendMessage(context, .binary, [UInt8](repeating: 0x61, count: size), allowCompression: false)
        case .masked: raw([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2])
        case .drop:
            sendMessage(context, .text, Array("bye".utf8))
            context.writeAndFlush(wrapOutboundOut(alloc.buffer(capacity: 0))).whenComplete { _ in context.close(promise: nil) }
        case .rsv: raw([0xA1, 0x02, 0x68, 0x69])
        case .opcode: raw([0x83, 0x02, 0x68, 0x69])
        case .textThenOpcode: raw([0x81, 0x02, 0x68, 0x69, 0x83, 0x02, 0x68, 0x69])
        case .fragmented:
            raw([0x01, 0x07] + Array("Hello, ".utf8) + [0x89, 0x02, 0x68, 0x69] + [0x80, 0x05] + Array("World".utf8))
        case .ping: raw([0x89, 0x0D] + Array("are you there".utf8))
        case .zipbomb:
            guard let deflate = deflate else {
                sendMessage(context, .text, Array("zipbomb needs permessage-deflate".utf8))
                return
            }
            let size = number("size", 80 * 1024 * 1024, in: Self.sizes)
            let zeros = [UInt8](repeating: 0, count: size)
            let compressed = zeros.withUnsafeBytes { deflate.compress($0, allocator: alloc) }!
            var b = alloc.buffer(capacity: compressed.readableBytes + 16)
            FrameEncoder.writeFrame(into: &b, rsv1: true, opcode: .binary, payload: compressed, maskKey: nil)
            context.writeAndFlush(wrapOutboundOut(b), promise: nil)
        case .badCloseCode: raw([0x88, 0x02, 0x03, 0xED])
        case .deaf:
            // Nothing more is read (so nothing is answered, not even a TLS close_notify) until the
            // client ends the connection; a read already under way is dropped.
            closed = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        case .pingFlood:
            // Stop reading: the client's pongs pile up in its socket and then in its own memory,
            // unless it bounds them.
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            let end = NIODeadline.now() + .milliseconds(Int64(number("ms", 3000, in: Self.times)))
            let ping: [UInt8] = [0x89, 0x04] + Array("ping".utf8)
            let batch = [UInt8]((0..<16384).flatMap { _ in ping })
            func pump() {
                guard NIODeadline.now() < end, context.channel.isActive else {
                    context.close(promise: nil)
                    return
                }
                var b = alloc.buffer(capacity: batch.count)
                b.writeBytes(batch)
                context.writeAndFlush(wrapOutboundOut(b)).whenComplete { _ in pump() }
            }
            // Closed at the deadline also when a write never completes: a client that stopped
            // reading (its pongs cannot go out either) would otherwise hold the flood open for ever.
            context.eventLoop.scheduleTask(deadline: end) { context.close(promise: nil) }
            pump()
        case .bigControl: raw([0x89, 0x7E, 0x00, 0x7E] + [UInt8](repeating: 0x61, count: 126))
        default: break
        }
    }

    // MARK: Frames

    private func processFrames(context: ChannelHandlerContext, _ buffer: inout ByteBuffer) {
        while !closed {
            let event: FrameReceiver.Event
            switch receiver.next(from: &buffer) {
            case .event(let e): event = e
            case .consumed: continue
            case .needMore: return
            }
            switch event {
            case .message(let message):
                let kind = message.kind
                var data = message.data
                if path == "/sink" {
                    sinkCount += 1
                    sinkBytes += data.readableBytes
                    if sinkCount == sinkTarget {
                        sendMessage(context, .text, Array("done \(sinkCount) \(sinkBytes)".utf8))
                        sendClose(context, code: 1000, reason: "")
                    }
                } else {
                    let bytes = data.readBytes(length: data.readableBytes) ?? []
                    stats.lock.withLock { stats.lastMessageFromClient = bytes }
                    sendMessage(context, kind == .text ? .text : .binary, bytes)
                }
            case .ping(var payload):
                if misbehaviour == .silent { continue }
                writeFrame(context, .pong, payload.readBytes(length: payload.readableBytes) ?? [])
            case .pong(var payload):
                if misbehaviour == .ping {
                    let text = "pong:" + (payload.readString(length: payload.readableBytes) ?? "")
                    sendMessage(context, .text, Array(text.utf8))
                }
            case .close(let code, let reason):
                stats.lock.withLock { stats.lastCloseFromClient = (code?.rawValue, reason) }
                if misbehaviour == .noCloseReply { closed = true; return }
                var payload: [UInt8] = []
                if let code = code?.rawValue { payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8) }
                closed = true
                var b = context.channel.allocator.buffer(capacity: 4)
                FrameEncoder.writeFrame(into: &b, opcode: .close, payload: ByteBuffer(bytes: payload), maskKey: nil)
                context.writeAndFlush(wrapOutboundOut(b)).whenComplete { _ in context.close(promise: nil) }
                return
            case .failure(let closeCode, _):
                sendClose(context, code: closeCode.rawValue, reason: "")
                return
            }
        }
    }

    private func writeFrame(_ context: ChannelHandlerContext, _ opcode: FrameOpcode, _ payload: [UInt8], rsv1: Bool = false) {
        var b = context.channel.allocator.buffer(capacity: payload.count + 10)
        payload.withUnsafeBytes { FrameEncoder.writeFrame(into: &b, rsv1: rsv1, opcode: opcode, payload: $0, maskKey: nil) }
        context.write(wrapOutboundOut(b), promise: nil)
    }

    private func sendMessage(_ context: ChannelHandlerContext, _ opcode: FrameOpcode, _ payload: [UInt8], allowCompression: Bool = true) {
        if allowCompression, let deflate = deflate,
           let compressed = payload.withUnsafeBytes({ deflate.compress($0, allocator: context.channel.allocator) }) {
            var b = context.channel.allocator.buffer(capacity: compressed.readableBytes + 10)
            FrameEncoder.writeFrame(into: &b, rsv1: true, opcode: opcode, payload: compressed, maskKey: nil)
            context.write(wrapOutboundOut(b), promise: nil)
        } else {
            writeFrame(context, opcode, payload)
        }
    }

    private func sendClose(_ context: ChannelHandlerContext, code: UInt16, reason: String) {
        writeFrame(context, .close, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
        context.flush()
        closed = true
        // The server ends TCP after the close handshake (RFC 6455 §7.1.1): when the client's close
        // frame arrives (awaitCloseReply, reading on where the receiver stopped, so compressed
        // messages on the way still inflate; they are dropped, up to 1 MiB each), or after a
        // grace period for it.
        closeReply = FrameReceiver(expectMaskedFrames: true, maxMessageSize: 1 << 20, deflate: receiver.deflate)
        context.eventLoop.scheduleTask(in: .milliseconds(500)) { context.close(promise: nil) }
    }

    /// After our close frame: reads on, from a frame boundary, for the client's close, and ends
    /// TCP when it comes; what comes before it is dropped. Where the stream is not at a frame
    /// boundary (our close answered a broken frame, which may still be arriving) the frames read
    /// make no sense, and the grace period ends the connection.
    private var closeReply: FrameReceiver?
    private var closeReplyBytes: ByteBuffer?

    private func awaitCloseReply(context: ChannelHandlerContext, _ buffer: inout ByteBuffer) {
        guard var receiver = closeReply else { return }
        var bytes: ByteBuffer
        if var earlier = closeReplyBytes ?? pending.flatMap({ $0.readableBytes > 0 ? $0 : nil }) {
            earlier.writeBuffer(&buffer)
            bytes = earlier
        } else {
            bytes = buffer
        }
        pending = nil
        closeReplyBytes = nil
        closeReply = nil
        while true {
            switch receiver.next(from: &bytes) {
            case .event(.close):
                context.close(promise: nil)
                return
            case .event(.failure):
                return
            case .event, .consumed:
                continue
            case .needMore:
                closeReply = receiver
                closeReplyBytes = bytes.readableBytes > 0 ? bytes : nil
                return
            }
        }
    }

    private func startFlood(context: ChannelHandlerContext) {
        let n = number("n", 10, in: 0...Int.max)
        let size = number("size", 32, in: Self.sizes)
        let binary = query["binary"] == "1"
        // "abc...zabc..." filled in place (a closure per byte made 16 MiB take seconds in debug builds).
        var payload = [UInt8](repeating: 0, count: max(0, size))
        payload.withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = UInt8(ascii: "a") &+ UInt8(truncatingIfNeeded: i % 26) }
        }
        var remaining = n
        func writeBatch() {
            guard !closed else { return }
            let batch = min(remaining, max(1, 1_000_000 / (size + 14)))
            var b = context.channel.allocator.buffer(capacity: batch * (size + 14))
            for _ in 0..<batch {
                payload.withUnsafeBytes { FrameEncoder.writeFrame(into: &b, opcode: binary ? .binary : .text, payload: $0, maskKey: nil) }
            }
            remaining -= batch
            context.writeAndFlush(wrapOutboundOut(b)).whenComplete { _ in
                if remaining > 0 { writeBatch() } else { self.sendClose(context, code: 1000, reason: "") }
            }
        }
        if n == 0 { sendClose(context, code: 1000, reason: "") } else { writeBatch() }
    }
}
