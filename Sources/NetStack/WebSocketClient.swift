import Synchronization
import NIOCore
import NIOPosix

/// What `onOpen` receives: the HTTP status of the upgrade (101) and its reason phrase, plus what
/// the server agreed to.
public struct WebSocketOpenResult: Sendable {
    public var code: UInt32
    public var reason: String
    /// The subprotocol the server chose, if any.
    public var protocolName: String?
    /// The agreed permessage-deflate parameters, if compression is on.
    public var compression: PerMessageDeflateParameters?
    /// All response headers, in order.
    public var headers: [WebSocketHeader]
    /// The URLs redirects led to, in order (empty without redirects; see `followRedirects`).
    public var redirects: [String] = []
}

/// What `onClose` receives.
///
/// `code` is the status of the first close frame received from the server; an empty close
/// payload is reported as 1000 (as the original does). When the client closed the connection
/// itself because the server broke the protocol, the code the client sent is reported. When the
/// connection ended without a close frame, 1006.
public struct WebSocketCloseResult: Sendable, Equatable {
    public var code: UInt32
    public var reason: String
    /// True when close frames went both ways before TCP ended.
    public var wasClean: Bool
}

/// One complete incoming message. `data` is valid after the callback returns (it is a
/// reference-counted buffer). A message of `ownStorageThreshold` bytes or more (16 KiB by default)
/// has storage of its own; a smaller one is a slice of the connection's read buffer (up to 1 MiB),
/// and keeping it keeps that whole buffer alive: to store many small messages, keep `bytes` or
/// `text` (copies).
public struct WebSocketMessage {
    public var kind: WebSocketMessageKind
    public var data: ByteBuffer

    public init(kind: WebSocketMessageKind, data: ByteBuffer) {
        self.kind = kind
        self.data = data
    }

    /// The payload as a String (text messages are already validated UTF-8).
    public var text: String { String(buffer: data) }
    public var bytes: [UInt8] { Array(data.readableBytesView) }
}

/// The life of a client. A client can connect again once it is closed.
public enum WebSocketClientState: UInt8, Sendable {
    case idle = 0, connecting, open, closing, closed, destroyed
}

/// A WebSocket client connection (RFC 6455 over SwiftNIO, `ws://` and `wss://`).
///
/// Threading: one `EventLoop` owns the connection. Callbacks run on that loop. `send`, `close`
/// and `destroy` may be called from any thread, including from inside a callback. Set the
/// callbacks before `connect`; they are read on the loop.
///
/// Events, exactly one terminal per connection attempt: a connection that never opened ends
/// with `onError` alone; once `onOpen` ran, it ends with `onClose` (an `onError` may come
/// first, e.g. for an oversized message or a protocol violation). After `destroy` returns,
/// no callback runs.
public final class WebSocketClient: @unchecked Sendable {
    public let eventLoop: EventLoop
    @exclusivity(unchecked) public var configuration: WebSocketClientConfiguration

    @exclusivity(unchecked) public var onOpen: ((WebSocketClient, WebSocketOpenResult) -> Void)?
    @exclusivity(unchecked) public var onMessage: ((WebSocketClient, WebSocketMessage) -> Void)? {
        didSet { onMessageVersion &+= 1 }
    }
    /// Changes whenever `onMessage` is set: the connection delivers a run of messages with the
    /// callback it read once, and reads it again only when this has changed.
    @exclusivity(unchecked) var onMessageVersion: UInt32 = 0

    /// During `onMessage`: the message's payload bytes when the connection lent them (a message
    /// of a run of whole messages), else nil: read them from `message.data` then. The C ABI and
    /// the Lua host read them from here. Valid during the callback only. The byte after them is
    /// the read buffer's too (the next frame's first byte, or room after the read), so it may hold
    /// a NUL during the callback (the C ABI's `onMessage` puts one there, as `NULTerminatedBytes`
    /// does for long messages).
    @inlinable @inline(__always)
    package func lentPayloadBytes(of message: borrowing WebSocketMessage) -> UnsafeRawBufferPointer? {
        guard let bytes = deliveringBytes, bytes.count == message.data.readableBytes else { return nil }
        return bytes
    }

    @exclusivity(unchecked) public var onError: ((WebSocketClient, WebSocketError) -> Void)?
    @exclusivity(unchecked) public var onClose: ((WebSocketClient, WebSocketCloseResult) -> Void)?
    /// Fires once the send queue drained after having gone over `writeHighWatermark`.
    @exclusivity(unchecked) public var onWritable: ((WebSocketClient) -> Void)?

    /// Anything the embedding layer wants to hang on the client (the C ABI and Lua host use it).
    @exclusivity(unchecked) public var userData: AnyObject?

    // Atomics stored in the object (Synchronization), not boxes of their own: three allocations
    // fewer per client.
    let stateAtomic = Atomic<UInt8>(WebSocketClientState.idle.rawValue)
    /// Payload bytes accepted by `send` and not yet handed to the channel.
    let queued = Atomic<Int>(0)
    /// Bytes the channel holds that the socket has not taken yet (updated on the loop).
    let socketBacklog = Atomic<Int>(0)
    /// Loop-confined: when the current connection's transport (TCP) connected, in
    /// `DispatchTime` uptime nanoseconds (0 before): a load run splits connect time from the
    /// TLS and upgrade handshake with it.
    @exclusivity(unchecked) public internal(set) var transportConnectedAt: UInt64 = 0
    /// Loop-confined: when the current connection's TLS handshake completed (0 before, and for ws).
    @exclusivity(unchecked) public internal(set) var tlsCompletedAt: UInt64 = 0
    /// Loop-confined: whether the current attempt is wss.
    @exclusivity(unchecked) var attemptIsSecure = false

    /// How far the current connection attempt got (read on the loop, in callbacks).
    public struct Progress: Sendable, Equatable {
        public var secure: Bool
        public var transportConnected: Bool
        public var tlsDone: Bool
        public init(secure: Bool, transportConnected: Bool, tlsDone: Bool) {
            self.secure = secure
            self.transportConnected = transportConnected
            self.tlsDone = tlsDone
        }
    }

    public var progress: Progress {
        Progress(secure: attemptIsSecure, transportConnected: transportConnectedAt != 0, tlsDone: tlsCompletedAt != 0)
    }
    /// Messages sent from other threads, waiting for the loop (`CrossThreadSends`).
    let crossThread = CrossThreadSends()

    /// Loop-confined: the current connection, held weakly (`ConnectionCommands` says who owns
    /// what); its `finish` and `destroy` also clear it.
    @exclusivity(unchecked) weak var connection: (any ConnectionCommands)?

    /// While `onMessage` runs for a message of a run of whole messages: the payload's bytes, read
    /// from the read buffer in the one access the run makes to its storage. Each further access
    /// (`withUnsafeReadableBytes` on the message) is a dynamic exclusivity check inside SwiftNIO's
    /// inlined code, about 78 instructions. Valid during that callback only. (Last of the stored
    /// properties: placed among the callbacks, it moved the atomics the sending thread and the
    /// loop both write, and the C ABI's sink ran 13 % slower.)
    @usableFromInline @exclusivity(unchecked) var deliveringBytes: UnsafeRawBufferPointer?

    /// Called once for a run of two or more whole messages of one read, before `onMessage`: it
    /// takes what it can with `run.next()`, and the connection delivers what it leaves to
    /// `onMessage`. The Lua host calls its script for a run in one protected call. Set before
    /// `connect`; loop-confined.
    @exclusivity(unchecked) package var onMessageRun: ((WebSocketClient, inout MessageRun) -> Void)?

    public init(configuration: WebSocketClientConfiguration = .init(), eventLoop: EventLoop? = nil) {
        self.configuration = configuration
        self.eventLoop = eventLoop ?? NetStackRuntime.eventLoopGroup.next()
    }

    public var state: WebSocketClientState { WebSocketClientState(rawValue: stateAtomic.load(ordering: .acquiring))! }

    /// Bytes waiting to be written: accepted by `send` and not yet taken by the socket.
    public var bufferedAmount: Int { queued.load(ordering: .relaxed) + socketBacklog.load(ordering: .relaxed) }

    /// False while more than `writeHighWatermark` bytes wait to be written.
    public var isWritable: Bool { bufferedAmount <= configuration.writeHighWatermark }

    // MARK: Connect

    /// Starts connecting and returns at once; the outcome arrives as `onOpen` or `onError`.
    ///
    /// Synchronous errors: `WEBSOCKET_CONNECTION_PARSE_URL_ERROR` for a malformed URL,
    /// `WEBSOCKET_NO_HEADER_CONTEXT` for an invalid header, a malformed proxy (configured or from
    /// the environment) `WEBSOCKET_CONNECTION_PARSE_URL_ERROR` too, `WEBSOCKET_HEADER_EXCEEDED` over the
    /// header limits, `WEBSOCKET_CONNECTION_ERROR` when already connecting or connected,
    /// `WEBSOCKET_CLIENT_NOT_CREATED` after `destroy`.
    public func connect(to urlString: String, headers extraHeaders: [WebSocketHeader] = []) throws {
        let url = try WebSocketURL(parsing: urlString)
        let config = configuration
        let allHeaders = config.headers + extraHeaders
        try Self.validateHeaders(allHeaders, configuration: config)
        var protocols = config.protocols
        var plainHeaders: [WebSocketHeader] = []
        for h in allHeaders {
            if h.name.lowercased() == "sec-websocket-protocol" {
                protocols += h.value.split(separator: ",").map { $0.trimmingCharacters(in: " \t") }.filter { !$0.isEmpty }
            } else {
                plainHeaders.append(h)
            }
        }
        for p in protocols where p.isEmpty || !p.utf8.allSatisfy(HeaderValidation.isTokenByte) {
            throw WebSocketError(.noHeaderContext, "invalid subprotocol name '\(HeaderValidation.escaped(p))'")
        }
        let proxy = try config.proxy.proxy(for: url)
        let tlsContext: NIOSSLContextBox?
        if url.isSecure {
            do {
                tlsContext = try TLSContextCache.shared.context(for: config.tls)
            } catch {
                throw WebSocketError(.connectionError, "TLS configuration: \((error as? WebSocketError)?.message ?? "\(error)")")
            }
        } else {
            tlsContext = nil
        }

        // idle or closed -> connecting
        while true {
            let current = stateAtomic.load(ordering: .acquiring)
            switch WebSocketClientState(rawValue: current)! {
            case .destroyed:
                throw WebSocketError(.clientNotCreated, "client was destroyed")
            case .connecting, .open, .closing:
                throw WebSocketError(.connectionError, "client is already connecting or connected")
            case .idle, .closed:
                if stateAtomic.compareExchange(expected: current, desired: WebSocketClientState.connecting.rawValue, ordering: .acquiringAndReleasing).exchanged {
                    break
                }
                continue
            }
            break
        }
        queued.store(0, ordering: .relaxed)
        socketBacklog.store(0, ordering: .relaxed)
        let handshake = ClientHandshake(url: url, key: ClientHandshake.makeKey(), protocols: protocols,
                                        headers: plainHeaders,
                                        deflateOffer: config.compression ? Self.deflateOffer : nil,
                                        userAgent: config.userAgent)
        let start = { [self] in self.startAttempt(handshake, configuration: config, tls: tlsContext, proxy: proxy, redirects: []) }
        if eventLoop.inEventLoop { start() } else { eventLoop.execute(start) }
    }

    /// Runs a connection over `channel`, a channel the caller made and will activate (an
    /// EmbeddedChannel: tests and fuzzing drive the real handler byte by byte, without sockets).
    /// Plain ws only; on the caller's thread, which must be the loop's. The handshake request is
    /// written when the channel becomes active; the connect timeout runs from this call.
    package func connect(over channel: Channel, to urlString: String) throws {
        let url = try WebSocketURL(parsing: urlString)
        guard !url.isSecure else { throw WebSocketError(.connectionParseURLError, "connect(over:) takes ws:// only") }
        guard stateAtomic.compareExchange(expected: WebSocketClientState.idle.rawValue, desired: WebSocketClientState.connecting.rawValue,
                                          ordering: .acquiringAndReleasing).exchanged else {
            throw WebSocketError(.connectionError, "client is already connecting or connected")
        }
        let config = configuration
        let handshake = ClientHandshake(url: url, key: ClientHandshake.makeKey(), protocols: config.protocols, headers: config.headers,
                                        deflateOffer: config.compression ? Self.deflateOffer : nil, userAgent: config.userAgent)
        let handler = WebSocketConnectionHandler(client: self, handshake: handshake, configuration: config)
        self.connection = handler
        handler.armConnectTimer()
        try handler.install(on: channel)
    }

    /// Starts the next hop of a redirect, on the loop; the client stays `connecting`.
    func followRedirect(to url: WebSocketURL, tls: NIOSSLContextBox?, proxy: WebSocketProxy?, handshake previous: ClientHandshake,
                        configuration config: WebSocketClientConfiguration, redirects: [String]) {
        guard !isDestroyed else { return }
        let handshake = ClientHandshake(url: url, key: ClientHandshake.makeKey(), protocols: previous.protocols,
                                        headers: Redirect.headers(previous.headers, from: previous.url, to: url),
                                        deflateOffer: previous.deflateOffer, userAgent: previous.userAgent)
        startAttempt(handshake, configuration: config, tls: tls, proxy: proxy, redirects: redirects)
    }

    /// One connection attempt (the first, or a redirect's next hop), on the loop.
    private func startAttempt(_ handshake: ClientHandshake, configuration config: WebSocketClientConfiguration,
                              tls: NIOSSLContextBox?, proxy: WebSocketProxy?, redirects: [String]) {
        transportConnectedAt = 0
        tlsCompletedAt = 0
        attemptIsSecure = handshake.url.isSecure
        let handler = WebSocketConnectionHandler(client: self, handshake: handshake, configuration: config, redirects: redirects)
        connection = handler
        handler.start(tls: tls, proxy: proxy)
    }

    static let deflateOffer: PerMessageDeflateParameters = {
        var p = PerMessageDeflateParameters()
        p.clientMaxWindowBits = 0
        return p
    }()

    static func validateHeaders(_ headers: [WebSocketHeader], configuration: WebSocketClientConfiguration) throws {
        if headers.count > configuration.maxHeaderCount {
            throw WebSocketError(.headerExceeded, "\(headers.count) headers, over the limit of \(configuration.maxHeaderCount)")
        }
        var total = 0
        for h in headers {
            try HeaderValidation.validate(h)
            total += h.name.utf8.count + h.value.utf8.count + 4
        }
        if total > configuration.maxHeaderBytes {
            throw WebSocketError(.headerExceeded, "headers take \(total) bytes, over the limit of \(configuration.maxHeaderBytes)")
        }
    }

    // MARK: Send

    private func checkSendable(_ count: Int) throws { try checkSendable(count, queueing: count) }

    /// `count`: the largest message; `queueing`: the bytes all of them add to the send queue.
    private func checkSendable(_ count: Int, queueing: Int) throws {
        let s = stateAtomic.load(ordering: .acquiring)
        guard s == WebSocketClientState.open.rawValue else {
            if s == WebSocketClientState.destroyed.rawValue { throw WebSocketError(.clientNotCreated, "client was destroyed") }
            throw WebSocketError(.noConnection, "not connected (\(WebSocketClientState(rawValue: s)!))")
        }
        if count > configuration.maxSendSize {
            throw WebSocketError(.dataLengthExceeded, "message of \(count) bytes exceeds the limit of \(configuration.maxSendSize) bytes")
        }
        let q = bufferedAmount
        if q + queueing > configuration.maxSendQueue {
            throw WebSocketError(.queueLengthExceeded, "send queue holds \(q) bytes; \(queueing) more would exceed the limit of \(configuration.maxSendQueue)")
        }
    }

    /// Sends one message. Text must be valid UTF-8 (the caller's promise for `.text`; `send(text:)`
    /// always is). Errors: 1017 not connected, 1012 over `maxSendSize`, 1013 queue full,
    /// 1002 destroyed.
    public func send(_ bytes: UnsafeRawBufferPointer, kind: WebSocketMessageKind) throws {
        try checkSendable(bytes.count)
        queued.wrappingAdd(bytes.count, ordering: .relaxed)
        if eventLoop.inEventLoop {
            // Messages from other threads that are still waiting go first: one thread's
            // messages keep their order even when it moves onto the loop.
            if crossThread.isPending { drainCrossThreadSends() }
            if let connection = connection {
                connection.sendMessage(bytes, kind: kind)
            } else {
                queued.wrappingSubtract(bytes.count, ordering: .relaxed)
            }
        } else if crossThread.append(bytes, kind: kind) {
            eventLoop.execute { [self] in self.drainCrossThreadSends() }
        }
    }

    /// Sends several messages of one kind, in order, as if by one `send` each, but checked and
    /// framed together: one check of the state and the send queue, one write batch, one pass that
    /// frames and masks them (each frame with its own masking key). For bursts of small messages,
    /// where the per-call work of `send` costs more than framing a message. All or nothing: when
    /// one message is over `maxSendSize` (1012), or all of them would not fit the send queue
    /// (1013), none is sent. The bytes are copied before this returns. Errors as `send`.
    public func send(batch messages: [UnsafeRawBufferPointer], kind: WebSocketMessageKind) throws {
        guard !messages.isEmpty else { return }
        try messages.withUnsafeBufferPointer { list in
            // One pass for the checks and the size of the frames (the handler reserves that once).
            let sizes = FrameEncoder.maskedBatchSizes(list)
            try checkSendable(sizes.largest, queueing: sizes.payload)
            queued.wrappingAdd(sizes.payload, ordering: .relaxed)
            if eventLoop.inEventLoop {
                if crossThread.isPending { drainCrossThreadSends() }
                if let connection = connection {
                    connection.sendMessages(list, kind: kind, payloadBytes: sizes.payload, frameBytes: sizes.frames)
                } else {
                    queued.wrappingSubtract(sizes.payload, ordering: .relaxed)
                }
            } else {
                var schedule = false
                for m in list where crossThread.append(m, kind: kind) { schedule = true }
                if schedule { eventLoop.execute { [self] in self.drainCrossThreadSends() } }
            }
        }
    }

    /// On the loop: frames every message other threads sent since the last drain, in order. The
    /// connection is loaded once per batch (a weak load per message would cost more than framing
    /// it); a connection that ends meanwhile drops the rest itself (`sendMessage` checks).
    private func drainCrossThreadSends() {
        let connection = self.connection
        crossThread.drain { payload, kind in
            if let connection = connection {
                connection.sendMessage(payload, kind: kind)
            } else {
                self.queued.wrappingSubtract(payload.count, ordering: .relaxed)
            }
        }
    }

    public func send(text: String) throws {
        var t = text
        try t.withUTF8 { try send(UnsafeRawBufferPointer($0), kind: .text) }
    }

    public func send(binary: [UInt8]) throws {
        try binary.withUnsafeBytes { try send($0, kind: .binary) }
    }

    public func send(_ buffer: ByteBuffer, kind: WebSocketMessageKind) throws {
        try buffer.withUnsafeReadableBytes { try send($0, kind: kind) }
    }

    /// What `ping(_:onPong:)` reports, on the loop: the round-trip time, or why none came.
    public typealias PingCompletion = (Result<TimeAmount, WebSocketError>) -> Void

    /// Pings awaiting their pong per connection; another `ping` with `onPong` then fails with
    /// `WEBSOCKET_QUEUE_LENGTH_EXCEEDED` through `onPong`.
    public static let maxPingsAwaitingPong = 32

    /// Sends a ping with up to 125 bytes of payload. With `onPong`, the round trip is measured:
    /// `onPong` runs once, on the loop, with the time from the write to the first pong carrying the
    /// same payload (a pong also answers the pings sent before it, which then get their own
    /// times: RFC 6455 §5.5.3 lets a peer answer only the latest), or with an error when the
    /// connection ends first (1017), or when `maxPingsAwaitingPong` pings already wait (1013).
    /// No `onPong` runs after `destroy`.
    public func ping(_ payload: [UInt8] = [], onPong: PingCompletion? = nil) throws {
        guard payload.count <= 125 else { throw WebSocketError(.dataLengthExceeded, "ping payload over 125 bytes") }
        try checkSendable(0)
        let work = { [self] in
            if let connection = self.connection {
                connection.sendPing(payload, completion: onPong)
            } else if !self.isDestroyed {
                onPong?(.failure(WebSocketError(.noConnection, "not connected")))
            }
        }
        if eventLoop.inEventLoop { work() } else { eventLoop.execute(work) }
    }

    // MARK: Close and destroy

    /// Starts the closing handshake. `code` 0 means 1000. Valid codes: 1000-1003, 1007-1014,
    /// 3000-4999 (else `WEBSOCKET_PROTOCOL_ERROR`); the reason is at most 123 bytes of UTF-8
    /// (else `WEBSOCKET_DATA_LENGTH_EXCEEDED`). Before the connection is open: 1017. Closing an
    /// already closing connection does nothing and succeeds.
    public func close(code: UInt32 = UInt32(CloseCode.normal.rawValue), reason: String = "") throws {
        let code = code == 0 ? UInt32(CloseCode.normal.rawValue) : code
        guard code <= UInt32(UInt16.max), CloseCode(rawValue: UInt16(code)).isValidOnWire else {
            throw WebSocketError(.protocolError, "invalid close code \(code) (use 1000-1003, 1007-1014 or 3000-4999)")
        }
        if reason.utf8.count > CloseCode.maximumReasonLength {
            throw WebSocketError(.dataLengthExceeded, "close reason of \(reason.utf8.count) bytes exceeds \(CloseCode.maximumReasonLength)")
        }
        // The state is closing from here on, also when the close itself runs later on the loop
        // (a call from another thread): a Send after this Close returns 1017 instead of being
        // accepted and then dropped, since no data frame may follow a close frame (RFC 6455 §5.5.1).
        while true {
            let s = WebSocketClientState(rawValue: stateAtomic.load(ordering: .acquiring))!
            switch s {
            case .destroyed: throw WebSocketError(.clientNotCreated, "client was destroyed")
            case .idle, .connecting, .closed: throw WebSocketError(.noConnection, "not connected (\(s))")
            case .closing: return
            case .open: break
            }
            if stateAtomic.compareExchange(expected: s.rawValue, desired: WebSocketClientState.closing.rawValue,
                                           ordering: .acquiringAndReleasing).exchanged { break }
        }
        let work: @Sendable () -> Void = { [self] in self.connection?.initiateClose(code: CloseCode(rawValue: UInt16(code)), reason: reason) }
        if eventLoop.inEventLoop { work() } else { eventLoop.execute(work) }
    }

    /// Drops the connection (if any) without callbacks and releases it. Idempotent. After it
    /// returns, no callback of this client runs; calls other than `destroy` fail with 1002.
    /// From a thread other than the loop's, it waits for the loop to acknowledge.
    public func destroy() {
        let previous = stateAtomic.exchange(WebSocketClientState.destroyed.rawValue, ordering: .acquiringAndReleasing)
        if previous == WebSocketClientState.destroyed.rawValue { return }
        let work = { [self] in
            self.connection?.abandon()
            self.connection = nil
            self.onOpen = nil
            self.onMessage = nil
            self.onMessageRun = nil
            self.onError = nil
            self.onClose = nil
            self.onWritable = nil
        }
        if eventLoop.inEventLoop {
            work()
        } else {
            try? eventLoop.submit(work).wait()
        }
    }

    var isDestroyed: Bool { stateAtomic.load(ordering: .acquiring) == WebSocketClientState.destroyed.rawValue }

    /// Moves state unless destroyed. Loop-only.
    func transition(to s: WebSocketClientState) {
        while true {
            let current = stateAtomic.load(ordering: .acquiring)
            if current == WebSocketClientState.destroyed.rawValue { return }
            if stateAtomic.compareExchange(expected: current, desired: s.rawValue, ordering: .acquiringAndReleasing).exchanged { return }
        }
    }
}

/// Process-wide event loops for clients created without an explicit loop.
public enum NetStackRuntime {
    public static let eventLoopGroup: MultiThreadedEventLoopGroup = MultiThreadedEventLoopGroup.singleton
}
