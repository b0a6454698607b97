import Dispatch
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// The connection: handshake, frames, close handshake, keepalive and timers, for one client.
///
/// Confined to the client's event loop. It sits last in the pipeline (after TLS, if any), reads
/// raw bytes and writes raw bytes: frames are parsed in place from the read buffer and outgoing
/// frames are batched into one buffer that is written once per loop tick (or at the end of a
/// read burst), so a burst of small messages costs one system call.
final class WebSocketConnectionHandler: ChannelInboundHandler, ConnectionCommands {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Strong while the connection lives, so a client nobody else holds stays alive until its
    /// terminal event; released then. The client holds this handler only weakly
    /// (`ConnectionCommands`).
    @exclusivity(unchecked) private var client: WebSocketClient?
    /// What only the opening handshake needs: dropped once the connection is open, so an open
    /// connection does not carry it.
    private final class Upgrade {
        let handshake: ClientHandshake
        /// SNI and the name the certificate must match, when not the URL's host.
        let serverName: String?
        /// The outcome of the certificate check of a wss handshake.
        var tlsVerification: CertificateVerificationResult?
        /// For a redirect's next hop: the configuration, and the URLs followed so far.
        let configuration: WebSocketClientConfiguration
        let redirects: [String]
        init(_ handshake: ClientHandshake, configuration: WebSocketClientConfiguration, redirects: [String]) {
            self.handshake = handshake
            self.serverName = configuration.tls.serverName
            self.configuration = configuration
            self.redirects = redirects
        }
    }
    @exclusivity(unchecked) private var upgrade: Upgrade?
    /// The client's configuration at connect (a reference: configurations share their storage
    /// until changed).
    private let config: WebSocketClientConfiguration
    private let eventLoop: EventLoop
    /// Where the connection is, and what each event makes it do (the close handshake and the
    /// one terminal event live there).
    @exclusivity(unchecked) private var machine = ConnectionStateMachine()
    @exclusivity(unchecked) private var context: ChannelHandlerContext?
    @exclusivity(unchecked) private(set) var channel: Channel?

    @exclusivity(unchecked) private var receiver: FrameReceiver
    @exclusivity(unchecked) private var deflate: PerMessageDeflate?
    /// Bytes of an incomplete frame.
    @exclusivity(unchecked) private var inbound: ByteBuffer?
    /// A large message frame that a read ended inside: its accepted header, and its payload so far
    /// in a buffer of exactly the payload's size, which becomes the message's storage.
    @exclusivity(unchecked) private var pendingPayload: PendingPayload?
    /// Boxed: only a connection in the middle of a large frame has one, and an idle connection
    /// should not carry its size.
    private final class PendingPayload {
        let header: FrameHeader
        var data: ByteBuffer
        init(_ header: FrameHeader, _ data: ByteBuffer) {
            self.header = header
            self.data = data
        }
    }
    @exclusivity(unchecked) private var outbox: ByteBuffer?
    @exclusivity(unchecked) private var flushScheduled = false
    @exclusivity(unchecked) private var inRead = false
    @exclusivity(unchecked) private var aboveHighWatermark = false
    /// Made where used, not stored: a stored allocator is four function pointers per connection.
    private var allocator: ByteBufferAllocator { ByteBufferAllocator() }
    private let masks: MaskKeySource

    /// Spare buffers shared by the loop's connections (outbox, partial frames).
    private lazy var buffers = LoopBufferPool.forCurrentLoop(eventLoop)
    /// The loop's shared timer queue (cheap cancels; see LoopTimers).
    private lazy var timers = LoopTimers.forCurrentLoop(eventLoop)
    /// Polls briefly for the answer after each write (see LoopBusyPoll).
    private lazy var busyPoll = LoopBusyPoll.forCurrentLoop(eventLoop)
    @exclusivity(unchecked) private var connectTimer: LoopTimers.Handle?
    /// Where this connection stands in the loop's window of opening connections.
    private enum OpeningPlace: UInt8 { case none, waiting, holding }
    @exclusivity(unchecked) private var openingPlace = OpeningPlace.none
    @exclusivity(unchecked) private var closeTimer: LoopTimers.Handle?
    @exclusivity(unchecked) private var pingTimer: LoopTimers.Handle?
    @exclusivity(unchecked) private var pongDeadline: LoopTimers.Handle?


    init(client: WebSocketClient, handshake: ClientHandshake, configuration: WebSocketClientConfiguration, redirects: [String] = []) {
        self.client = client
        self.upgrade = Upgrade(handshake, configuration: configuration, redirects: redirects)
        self.config = configuration
        self.eventLoop = client.eventLoop
        self.receiver = FrameReceiver(expectMaskedFrames: false, maxMessageSize: configuration.maxReceiveSize)
        if let f = configuration.frameTrace {
            receiver.observeFrame = { h, payload in
                payload.withUnsafeReadableBytes { f(FrameTrace.line(sent: false, fin: h.fin, rsv: h.rsv, opcode: h.opcode, masked: h.maskKey != nil, payload: $0)) }
            }
        }
        self.receiver.ownStorageFrom = configuration.ownStorageThreshold
        self.masks = MaskKeySource.forCurrentThread()
    }

    // MARK: Connecting

    /// Connects: straight to the URL's host, or through `proxy` (TCP to the proxy, then its
    /// tunnel, then TLS and the upgrade end to end with the URL's host).
    func start(tls: NIOSSLContextBox?, proxy: WebSocketProxy? = nil) {
        let url = upgrade!.handshake.url
        armConnectTimer()
        switch ConnectionRoute.plan(for: url, through: proxy) {
        case .direct:
            dial(url: url, tls: tls, tunnel: nil)
        case .tunnel(let tunnel):
            dial(url: url, tls: tls, tunnel: tunnel)
        case .refused(let error):
            run(machine.failBeforeOpen(error))
        case .resolveThenTunnel(let proxy, let host, let port):
            // On NIO's blocking-I/O pool.
            NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
                try SocketAddress.makeAddressResolvingHost(host, port: port)
            }.whenComplete { [self] result in
                guard !self.machine.isClosed else { return }
                switch result.mapError({ WebSocketError(.connectionError, "DNS lookup failed for '\(host)': \($0)") })
                    .flatMap({ ConnectionRoute.resolved($0, through: proxy, host: host, port: port) }) {
                case .success(let tunnel):
                    self.dial(url: url, tls: tls, tunnel: tunnel)
                case .failure(let error):
                    self.run(self.machine.failBeforeOpen(error))
                }
            }
        }
    }

    /// Dials once the loop's window of opening connections has a place (LoopConnectWindow). While
    /// it waits no connect timer runs: the timeout counts from when it dials.
    private func dial(url: WebSocketURL, tls: NIOSSLContextBox?, tunnel: ConnectionRoute.Tunnel?) {
        openingPlace = .waiting
        let window = LoopConnectWindow.forCurrentLoop(eventLoop)
        let now = window.enter { [self] in
            guard self.openingPlace == .waiting else {
                // Destroyed while it waited: the place goes to the next.
                window.leave()
                return
            }
            self.openingPlace = .holding
            if self.connectTimer == nil { self.armConnectTimer() }
            self.dialNow(url: url, tls: tls, tunnel: tunnel)
        }
        if !now {
            timers.cancel(connectTimer)
            connectTimer = nil
        }
    }

    /// Ends this connection's opening: gives its place in the window back (or stops waiting).
    private func leaveOpening() {
        if openingPlace == .holding { LoopConnectWindow.forCurrentLoop(eventLoop).leave() }
        openingPlace = .none
    }

    private func dialNow(url: WebSocketURL, tls: NIOSSLContextBox?, tunnel: ConnectionRoute.Tunnel?) {
        let dialer = ConnectionDialer(eventLoop: eventLoop, url: url, tls: tls, serverName: upgrade?.serverName,
                                      connectTimeout: config.connectTimeout, trace: config.trace)
        dialer.dial(through: tunnel,
                    verified: { [self] in self.upgrade?.tlsVerification = $0 },
                    install: { [self] in try self.install(on: $0) },
                    completed: { [self] in self.connectCompleted($0, url: url, proxy: tunnel?.proxy) })
    }

    private func connectCompleted(_ result: Result<Channel, Error>, url: WebSocketURL, proxy: WebSocketProxy?) {
        switch result {
        case .success(let channel):
            if machine.isClosed { channel.close(promise: nil) }
        case .failure(let error):
            if let proxy = proxy {
                run(machine.failBeforeOpen(ProxyFailure.unreachable(ConnectionErrorText.describeConnectError(error, host: proxy.host, port: proxy.port))))
            } else {
                run(machine.failBeforeOpen(WebSocketError(.connectionError, ConnectionErrorText.describeConnectError(error, url: url))))
            }
        }
    }

    /// Adds the upgrade and this handler to `channel`'s pipeline (after TLS, when there is TLS).
    func install(on channel: Channel) throws {
        guard let handshake = upgrade?.handshake else { throw ChannelError.ioOnClosedChannel }
        try channel.pipeline.syncOperations.addHandlers(
            UpgradeHandler(handshake: handshake, trace: config.trace), self)
    }

    /// The connect timeout covers connecting, TLS and the upgrade.
    func armConnectTimer() {
        let timeout = config.connectTimeout
        connectTimer = timers.schedule(in: timeout) { [self] in
            self.connectTimer = nil
            self.run(self.machine.connectTimerFired(timeout: ConnectionErrorText.describe(timeout)))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
    }

    func channelActive(context: ChannelHandlerContext) {
        // The upgrade request is written (UpgradeHandler) by the time this runs.
        guard machine.transportConnected() else { context.close(promise: nil); return }
        client?.transportConnectedAt = DispatchTime.now().uptimeNanoseconds
        context.fireChannelActive()
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        // After a close frame was received or the connection failed, input is ignored.
        guard machine.isReceiving else {
            if machine.isRejected { run(machine.rejectionBody(&buffer)) }
            return
        }
        inRead = true
        if let p = pendingPayload {
            pendingPayload = nil
            var part = buffer.readSlice(length: min(p.header.payloadLength - p.data.readableBytes, buffer.readableBytes))!
            p.data.writeBuffer(&part)
            if p.data.readableBytes < p.header.payloadLength {
                if let failure = receiver.checkPartialPayload(p.header, p.data) {
                    _ = handle(failure)
                } else {
                    pendingPayload = p
                }
                return
            }
            if case .event(let event) = receiver.completeFrame(p.header, payload: p.data), !handle(event) { return }
        }
        if var pending = inbound, pending.readableBytes > 0 {
            // A frame began in an earlier read: complete it with only the bytes it lacks.
            inbound = nil
            var missing = FrameParser.missingBytes(pending)
            while missing > 0, buffer.readableBytes > 0 {
                var part = buffer.readSlice(length: min(missing, buffer.readableBytes))!
                pending.writeBuffer(&part)
                missing = FrameParser.missingBytes(pending)
            }
            // A copy of the next byte (left in `buffer`) goes behind the completed frame, so that
            // its message can be lent with a NUL there (`NULTerminatedBytes`); dropped after.
            let lookahead = missing == 0 && pending.readableBytes >= NULTerminatedBytes.minimumLength
                ? buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) : nil
            if let byte = lookahead { pending.writeInteger(byte) }
            processFrames(&pending)
            if lookahead != nil { pending.moveWriterIndex(to: pending.writerIndex - 1) }
            if pending.readableBytes > 0 {
                // Still incomplete (this read ended first) or processing stopped.
                inbound = pending
                return
            }
            buffers.give(pending)
        }
        // The rest is parsed in place; small messages are slices of the read buffer.
        processFrames(&buffer)
        if buffer.readableBytes > 0 { keepPartialFrame(&buffer) }
    }

    /// The start of a frame that a read ended inside, copied out of the read buffer so SwiftNIO can
    /// reuse that for the next read. A message that will get storage of its own gets it here: its
    /// payload is collected alone in a buffer of its size (the receiver accepted the header when it
    /// asked for more bytes, and checks text as it arrives), so completing the frame completes the
    /// message without another copy. Anything else goes into the spare buffer, which is reused.
    private func keepPartialFrame(_ rest: inout ByteBuffer) {
        if let h = try? FrameParser.parseHeader(rest, maxFrameSize: config.maxReceiveSize),
           h.fin, h.rsv == 0, h.opcode == .text || h.opcode == .binary, h.maskKey == nil,
           h.payloadLength >= config.ownStorageThreshold, rest.readableBytes < h.headerLength + h.payloadLength {
            rest.moveReaderIndex(forwardBy: h.headerLength)
            var data = allocator.buffer(capacity: h.payloadLength)
            data.writeBuffer(&rest)
            pendingPayload = PendingPayload(h, data)
            inbound = nil
            return
        }
        var b = buffers.take() ?? allocator.buffer(capacity: max(4096, rest.readableBytes))
        b.writeBuffer(&rest)
        inbound = b
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inRead = false
        flushOutbox()
        context.fireChannelReadComplete()
    }

    /// What the server answered to the upgrade (`UpgradeHandler`).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            client?.tlsCompletedAt = DispatchTime.now().uptimeNanoseconds
        }
        guard let outcome = event as? UpgradeHandler.Outcome else { return context.fireUserInboundEventTriggered(event) }
        switch outcome {
        case .failed(let error):
            run(machine.upgradeFailed(error))
        case .refused(let head, let body, let wanted):
            if let upgrade = upgrade, upgrade.configuration.followRedirects > 0, Redirect.isRedirect(head.statusCode) {
                return follow(head, upgrade)
            }
            run(machine.rejected(head, body: body, wanted: wanted))
        case .switched(let head, let agreement):
            if let d = agreement.deflate {
                let pmd = PerMessageDeflate(agreed: d, isClient: true, compressionThreshold: config.compressionThreshold)
                deflate = pmd
                receiver.deflate = pmd
            }
            run(machine.upgraded())
            let redirects = upgrade?.redirects ?? []
            upgrade = nil
            var result = WebSocketOpenResult(code: UInt32(head.statusCode), reason: head.reason,
                                             protocolName: agreement.protocolName, compression: agreement.deflate,
                                             headers: agreement.headers)
            if !redirects.isEmpty { result.redirects = redirects }
            // Inside the read that brought the answer: what onOpen sends is batched until the
            // read completes. Frames that came with the answer follow as a read of their own
            // (also when onOpen closed the client: the server's close may be among them).
            inRead = true
            if let client = client, !client.isDestroyed { client.onOpen?(client, result) }
        }
    }

    /// A redirect with `followRedirects` on: this attempt ends without an event and the client
    /// connects to the next URL; a redirect that may not be followed is the terminal error.
    private func follow(_ head: UpgradeResponseHead, _ upgrade: Upgrade) {
        let current = upgrade.handshake.url
        let limit = min(upgrade.configuration.followRedirects, Redirect.maximum)
        switch Redirect.next(after: head, from: current, followed: upgrade.redirects.count, limit: limit) {
        case .refuse(let error):
            run(machine.upgradeFailed(error))
        case .follow(let url):
            config.trace?("* redirect \(head.statusCode) to \(url)")
            guard let client = client else { return }
            let configuration = upgrade.configuration
            let proxy: WebSocketProxy?
            let tls: NIOSSLContextBox?
            do {
                proxy = try configuration.proxy.proxy(for: url)
                tls = url.isSecure ? try TLSContextCache.shared.context(for: configuration.tls) : nil
            } catch let e as WebSocketError {
                return run(machine.upgradeFailed(WebSocketError(e.code, "redirect to \(url): \(e.message)")))
            } catch {
                return run(machine.upgradeFailed(WebSocketError(.connectionError, "redirect to \(url): TLS configuration: \(error)")))
            }
            run(machine.redirected())
            client.followRedirect(to: url, tls: tls, proxy: proxy, handshake: upgrade.handshake, configuration: configuration,
                                  redirects: upgrade.redirects + [url.description])
        }
    }

    private func processFrames(_ buffer: inout ByteBuffer) {
        while machine.isReceiving {
            // No frame begins in fewer than two bytes (what `next` would answer, without a look).
            if buffer.readableBytes < 2 { return }
            // Runs of whole messages are found in one look at the buffer and delivered from the
            // list (a read of flood32 holds thousands); anything else goes through `next`. A run
            // that did not fill the list ended at a frame that is not a whole message (or at the
            // end of the read): `next` takes that one, without a second look.
            var batch = WholeMessageBatch()
            receiver.scanWholeMessages(in: buffer, into: &batch)
            if batch.count > 0 {
                receiver.takingWholeMessages()
                deliver(batch, from: &buffer)
                if batch.isFull { continue }
                if !machine.isReceiving || buffer.readableBytes < 2 { return }
            }
            switch receiver.next(from: &buffer) {
            case .event(.message(let message)):
                // Matched here rather than in `handle`: the message goes from the parser to the
                // callback borrowed, without a copy of the event (a retain and a release per
                // message; 877 instructions a message on flood32 without this case, 811 with it).
                deliver(message)
            case .event(let event):
                if !handle(event) { return }
            case .consumed:
                continue
            case .needMore:
                return
            }
        }
    }

    /// The messages of `batch`, taken from the front of `buffer`, each as `deliver` would. The
    /// client and its callback are read once for the run (not a retain and a release of each per
    /// message), and again only when a callback has replaced `onMessage`.
    private func deliver(_ batch: WholeMessageBatch, from buffer: inout ByteBuffer) {
        guard let client = client else {
            for i in 0..<batch.count { buffer.moveReaderIndex(forwardBy: batch[i].headerLength + batch[i].payloadLength) }
            return
        }
        // The reader index moves once, when the run ends (the callbacks cannot see `buffer`).
        let start = buffer.readerIndex
        var at = start
        defer { buffer.moveReaderIndex(to: at) }
        // One access to the buffer's bytes for the run: each message's bytes are lent to the
        // callback from it (`WebSocketClient.lentPayloadBytes`), only with a byte of the buffer's
        // storage after them (the next frame's first byte, or room after the read), where the C
        // ABI puts its NUL during the callback.
        let capacity = buffer.capacity
        buffer.withUnsafeReadableBytes { raw in
            // A consumer of runs (the Lua host) takes what it can; the loop delivers the rest. A
            // lone message (an echo's answer) costs less as a callback of its own.
            var first = 0
            if batch.count > 1, let consume = client.onMessageRun, config.trace == nil {
                batch.withEntries { entries in
                    var run = MessageRun(handler: self, client: client, entries: entries, base: raw.baseAddress, start: start)
                    consume(client, &run)
                    first = run.index
                    at = run.at
                }
                if first == batch.count { return }
            }
            // Locals of the closure: captured from outside, the callback was retained for each call.
            var callback = client.onMessage
            var version = client.onMessageVersion
            // One message value for the run, over the read buffer: each message moves its indices
            // to its payload (a new slice per message was a retain and a release of the storage,
            // and building the slice). A callback that keeps the message keeps a copy of the
            // indices, so what it kept stays that message's bytes.
            var message = WebSocketMessage(kind: .binary, data: buffer)
            for i in first..<batch.count {
                // As in the loop of `processFrames`: once a callback has ended receiving, nothing more.
                if i > 0, !machine.isReceiving { return }
                let (kind, bytes) = MessageRun.step(over: batch.entry(i), at: &at, base: raw.baseAddress, start: start)
                message.kind = kind
                // The writer first: each payload lies after the one before.
                message.data.moveWriterIndex(to: at)
                message.data.moveReaderIndex(to: at &- bytes.count)
                if let trace = config.trace { trace("< \(message.kind) message, \(message.data.readableBytes) bytes") }
                guard delivers(to: client) else { continue }
                if client.onMessageVersion != version {
                    callback = client.onMessage
                    version = client.onMessageVersion
                }
                client.deliveringBytes = at < capacity ? bytes : nil
                callback?(client, message)
                client.deliveringBytes = nil
            }
        }
    }

    /// For `MessageRun`: whether messages are still delivered (receiving has not ended).
    var isReceivingMessages: Bool { machine.isReceiving }

    /// Whether `client` is still this connection's and not destroyed (for `MessageRun` too).
    func delivers(to client: WebSocketClient) -> Bool { self.client === client && !client.isDestroyed }

    /// A message to `onMessage`. Messages the server sent before it saw our close frame are
    /// delivered too (they are data, not noise); after a failure of ours nothing more is parsed.
    private func deliver(_ message: borrowing WebSocketMessage) {
        if let trace = config.trace { trace("< \(message.kind) message, \(message.data.readableBytes) bytes") }
        if let client = client, !client.isDestroyed, let cb = client.onMessage {
            cb(client, message)
        }
    }

    /// Acts on one event of the receiver; false when reading stops (a close frame or a failure).
    private func handle(_ event: FrameReceiver.Event) -> Bool {
        if let trace = config.trace { Self.trace(event, trace) }
        switch event {
        case .message(let message):
            deliver(message)
        case .ping(let payload):
            config.controlFrames?(.ping(Array(payload.readableBytesView)))
            if machine.answersPings { answerPing(payload) }
        case .pong(let payload):
            config.controlFrames?(.pong(Array(payload.readableBytesView)))
            timers.cancel(pongDeadline)
            pongDeadline = nil
            if !pings.isEmpty { pongArrived(payload) }
        case .close(let code, let reason):
            run(machine.receivedClose(code: code, reason: reason))
            return false
        case .failure(let closeCode, let error):
            // The close frame is queued before onError runs; what follows depends on whether
            // onError destroyed the client.
            run(machine.protocolFailure(closeCode: closeCode, error: error))
            run(machine.failureReported())
            return false
        }
        return true
    }

    private static func trace(_ event: FrameReceiver.Event, _ trace: (String) -> Void) {
        switch event {
        case .message(let m): trace("< \(m.kind) message, \(m.data.readableBytes) bytes")
        case .ping(let p): trace("< ping, \(p.readableBytes) bytes")
        case .pong(let p): trace("< pong, \(p.readableBytes) bytes")
        case .close(let code, let reason): trace("< close \(code.map(String.init) ?? "(no code)") \(reason)")
        case .failure(let code, let error): trace("! protocol failure, closing with \(code): \(error.message)")
        }
    }

    // MARK: Pings and pongs

    /// Pings sent with `onPong`, until their pongs come.
    @exclusivity(unchecked) private var pings = PingLedger()
    /// Which pings are answered now, and which wait for the channel to drain.
    @exclusivity(unchecked) private var pongs = PongReplies()

    private func answerPing(_ payload: ByteBuffer) {
        if let pong = pongs.ping(payload, writable: context?.channel.isWritable ?? true) { writeControl(.pong, pong) }
    }

    /// Writes the waiting pong once the channel takes writes again.
    private func sendWaitingPong() {
        guard let context = context, machine.answersPings,
              let pong = pongs.takeWaiting(writable: context.channel.isWritable) else { return }
        writeControl(.pong, pong)
    }

    private func pongArrived(_ payload: ByteBuffer) {
        // A completion may destroy the client: the ones after it then do not run.
        for p in pings.pong(payload, at: DispatchTime.now().uptimeNanoseconds) where client.map({ !$0.isDestroyed }) ?? false {
            p.run()
        }
    }

    // MARK: Writing

    @inline(__always)
    private func appendToOutbox(_ body: (inout ByteBuffer) -> Void) {
        if outbox == nil { outbox = buffers.take() ?? allocator.buffer(capacity: 512) }
        body(&outbox!)
        scheduleFlush()
    }

    private func scheduleFlush() {
        if inRead || flushScheduled { return }
        flushScheduled = true
        eventLoop.execute { [self] in
            self.flushScheduled = false
            self.flushOutbox()
        }
    }

    private func flushOutbox() {
        pongs.flushed()
        if pongs.waiting != nil { sendWaitingPong() }
        guard let context = context, let out = outbox, out.readableBytes > 0 else { return }
        let payload = payloadInOutbox
        payloadInOutbox = 0
        let size = out.readableBytes
        // Taken out before the write: writeAndFlush can re-enter this handler (a failed write
        // closes the channel and finishes the connection; a writability change), and whatever
        // that appends must go into a new outbox, not be cleared with this one.
        outbox = nil
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        busyPoll?.request(budget: config.busyPoll)
        // Once the socket took it (usually within writeAndFlush) our copy is the only reference
        // again: the loop's pool reuses its storage for the next batch of any connection.
        buffers.give(out)
        guard let client = client else { return }
        if payload > 0 { client.queued.wrappingSubtract(payload, ordering: .relaxed) }
        // Asking the channel costs dynamic casts; a small write onto an empty socket queue is taken
        // at once in practice, and if not, the channel's writability change reports it (below).
        if size >= 16 * 1024 || socketBacklogKnown > 0 || !context.channel.isWritable {
            updateSocketBacklog(context)
        } else if aboveHighWatermark, client.bufferedAmount <= config.writeHighWatermark / 4 {
            aboveHighWatermark = false
            if !client.isDestroyed, let cb = client.onWritable { cb(client) }
        }
    }

    /// The last socket backlog read from the channel.
    @exclusivity(unchecked) private var socketBacklogKnown = 0

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // Not flushed from here: this runs inside writeAndFlush when a write changes writability.
        if pongs.waiting != nil { scheduleFlush() }
        updateSocketBacklog(context)
        context.fireChannelWritabilityChanged()
    }

    /// Payload bytes from `send` in the outbox. They leave `queued` when handed to the channel;
    /// what the socket has not taken yet is tracked as `socketBacklog` (channel bytes, frame overhead
    /// included). `bufferedAmount` is the sum.
    @exclusivity(unchecked) private var payloadInOutbox = 0
    @exclusivity(unchecked) private var drainWatch = false

    private func updateSocketBacklog(_ context: ChannelHandlerContext) {
        guard let client = client else { return }
        let backlog = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        socketBacklogKnown = backlog
        client.socketBacklog.store(backlog, ordering: .relaxed)
        if backlog > 0 {
            // Learn when the socket drained: a zero-length write completes after everything before it.
            guard !drainWatch else { return }
            drainWatch = true
            let promise = eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: promise)
            promise.futureResult.whenComplete { [self] _ in
                self.drainWatch = false
                if let ctx = self.context, self.client != nil { self.updateSocketBacklog(ctx) }
            }
        } else if aboveHighWatermark, client.bufferedAmount <= config.writeHighWatermark / 4 {
            aboveHighWatermark = false
            if !client.isDestroyed, let cb = client.onWritable { cb(client) }
        }
    }

    func sendMessage(_ bytes: UnsafeRawBufferPointer, kind: WebSocketMessageKind) {
        guard machine.canSend else {
            client?.queued.wrappingSubtract(bytes.count, ordering: .relaxed)
            return
        }
        let opcode: FrameOpcode = kind == .text ? .text : .binary
        if let deflate = deflate, deflate.canCompress, bytes.count >= deflate.compressionThreshold,
           let compressed = deflate.compress(bytes, allocator: allocator) {
            config.trace?("> \(kind) message, \(bytes.count) bytes (deflated to \(compressed.readableBytes))")
            if let f = config.frameTrace {
                compressed.withUnsafeReadableBytes { f(FrameTrace.line(sent: true, fin: true, rsv: 0b100, opcode: opcode, masked: true, payload: $0)) }
            }
            let key = masks.nextKey()
            appendToOutbox { FrameEncoder.writeFrame(into: &$0, rsv1: true, opcode: opcode, payload: compressed, maskKey: key) }
        } else {
            config.trace?("> \(kind) message, \(bytes.count) bytes")
            config.frameTrace?(FrameTrace.line(sent: true, fin: true, rsv: 0, opcode: opcode, masked: true, payload: bytes))
            let key = masks.nextKey()
            appendToOutbox { FrameEncoder.writeFrame(into: &$0, opcode: opcode, payload: bytes, maskKey: key) }
        }
        accountPayload(bytes.count)
    }

    func sendMessages(_ messages: UnsafeBufferPointer<UnsafeRawBufferPointer>, kind: WebSocketMessageKind, payloadBytes: Int, frameBytes: Int) {
        guard machine.canSend else {
            client?.queued.wrappingSubtract(payloadBytes, ordering: .relaxed)
            return
        }
        // Compression and tracing decide per message: the single path does both.
        if deflate?.canCompress == true || config.trace != nil || config.frameTrace != nil {
            for m in messages { sendMessage(m, kind: kind) }
            return
        }
        let opcode: FrameOpcode = kind == .text ? .text : .binary
        appendToOutbox {
            FrameEncoder.writeMaskedFrames(into: &$0, opcode: opcode, payloads: messages, frameBytes: frameBytes, keys: masks)
        }
        accountPayload(payloadBytes)
    }

    private func accountPayload(_ n: Int) {
        payloadInOutbox += n
        if let client = client, client.bufferedAmount > config.writeHighWatermark {
            aboveHighWatermark = true
        }
    }

    func sendPing(_ payload: [UInt8], completion: WebSocketClient.PingCompletion?) {
        guard machine.canSend else {
            completion?(.failure(WebSocketError(.noConnection, "not connected (the connection is closing)")))
            return
        }
        if let completion = completion, let refused = pings.sent(payload, at: DispatchTime.now().uptimeNanoseconds, completion: completion) {
            return refused.run()
        }
        var b = allocator.buffer(capacity: payload.count)
        b.writeBytes(payload)
        writeControl(.ping, b)
    }

    private func writeControl(_ opcode: FrameOpcode, _ payload: ByteBuffer) {
        if let trace = config.trace {
            if opcode == .close, payload.readableBytes >= 2 {
                var p = payload
                let code = p.readInteger(as: UInt16.self)!
                trace("> close \(code) \(p.readString(length: p.readableBytes) ?? "")")
            } else {
                trace("> \(opcode), \(payload.readableBytes) bytes")
            }
        }
        if let f = config.frameTrace {
            payload.withUnsafeReadableBytes { f(FrameTrace.line(sent: true, fin: true, rsv: 0, opcode: opcode, masked: true, payload: $0)) }
        }
        let key = masks.nextKey()
        appendToOutbox { FrameEncoder.writeFrame(into: &$0, opcode: opcode, payload: payload, maskKey: key) }
    }

    // MARK: Closing

    func initiateClose(code: CloseCode, reason: String) {
        run(machine.close(code: code, reason: reason))
    }

    /// Carries out the state machine's actions, in order.
    private func run(_ actions: [ConnectionStateMachine.Action]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: ConnectionStateMachine.Action) {
        switch action {
        case .writeClose(let code, let reason):
            var payload = allocator.buffer(capacity: 2 + reason.utf8.count)
            if let code = code {
                payload.writeInteger(code.rawValue)
                payload.writeString(reason)
            }
            writeControl(.close, payload)
        case .flush:
            flushOutbox()
        case .closeChannel:
            channel?.close(promise: nil)
        case .closeChannelAfterWrites:
            if let written = handOverOutbox() {
                written.whenComplete { [weak channel] _ in channel?.close(promise: nil) }
            } else {
                channel?.close(promise: nil)
            }
        case .cancelConnectTimer:
            timers.cancel(connectTimer)
            connectTimer = nil
            leaveOpening()
        case .startKeepalive:
            startKeepalive()
        case .stopKeepalive:
            stopKeepalive()
        case .armCloseTimer:
            timers.cancel(closeTimer)
            closeTimer = timers.schedule(in: config.closeTimeout) { [self] in
                self.closeTimer = nil
                self.channel?.close(promise: nil)
            }
        case .setClientState(let state):
            client?.transition(to: state)
        case .reportError(let error, _):
            if let client = client, !client.isDestroyed, let cb = client.onError { cb(client, error) }
        case .reportClose(let result):
            if let client = client, !client.isDestroyed, let cb = client.onClose { cb(client, result) }
        case .release:
            finish()
        }
    }

    /// Writes `send` accepted are written: what waits in the outbox (messages sent from callbacks
    /// earlier in this read, a close frame) goes to the channel before it is closed. The write's
    /// future, or nil when there was nothing to write.
    private func handOverOutbox() -> EventLoopFuture<Void>? {
        guard let context = context, let out = outbox, out.readableBytes > 0 else { return nil }
        outbox = nil
        payloadInOutbox = 0
        return context.writeAndFlush(wrapOutboundOut(out))
    }

    // MARK: Keepalive

    private func startKeepalive() {
        guard config.pingInterval.nanoseconds > 0 else { return }
        let interval = max(config.pingInterval, WebSocketClientConfiguration.minimumPingInterval)
        pingTimer = timers.schedule(in: interval) { [self] in
            self.pingTimer = nil
            guard self.machine.canSend else { return }
            self.writeControl(.ping, ByteBuffer())
            if self.pongDeadline == nil, self.config.pongTimeout.nanoseconds > 0 {
                let timeout = self.config.pongTimeout
                self.pongDeadline = self.timers.schedule(in: timeout) { [self] in
                    self.pongDeadline = nil
                    let error = WebSocketError(.connectionError, "keepalive: no pong within \(ConnectionErrorText.describe(timeout)); dropping the connection")
                    self.run(self.machine.pongTimedOut(reason: "no pong within \(ConnectionErrorText.describe(timeout))", error: error))
                }
            }
            self.startKeepalive()
        }
    }

    private func stopKeepalive() {
        timers.cancel(pingTimer)
        pingTimer = nil
        timers.cancel(pongDeadline)
        pongDeadline = nil
    }

    // MARK: Ending

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let e = error as? WebSocketError {
            // A proxy tunnel's failure, already in the connection's words (`ProxyFailure`).
            run(machine.transportError(e))
        } else if let v = upgrade?.tlsVerification, !v.isValid {
            // The same code OH_NetStack_VerifyCertification gives for this chain.
            run(machine.transportError(WebSocketError(WebSocketErrCode(rawValue: Int32(v.code)), "TLS certificate verification failed: \(v)")))
        } else {
            run(machine.transportError(WebSocketError(.connectionError, ConnectionErrorText.describeIOError(error))))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(machine.transportClosed())
        context.fireChannelInactive()
    }

    private func finish() {
        if !pings.isEmpty {
            let failed = pings.connectionEnded()
            if let client = client, !client.isDestroyed {
                for p in failed { p.run() }
            }
        }
        cancelTimers()
        upgrade = nil
        inbound = nil
        pendingPayload = nil
        outbox = nil
        if let client = client {
            client.queued.store(0, ordering: .relaxed)
            client.socketBacklog.store(0, ordering: .relaxed)
            if client.connection === self { client.connection = nil }
        }
        client = nil
    }

    /// `destroy`: no more callbacks; drop the connection now.
    func abandon() {
        machine.abandon()
        client = nil
        pings.forget()
        cancelTimers()
        // Closed at once, not after the write: with the timers gone nothing would end a
        // connection whose peer stopped reading.
        _ = handOverOutbox()
        channel?.close(promise: nil)
    }

    /// Cancels and drops every scheduled task: each one's closure holds the handler, so keeping a
    /// cancelled task would keep the handler (and its buffers) alive for ever.
    private func cancelTimers() {
        timers.cancel(connectTimer)
        connectTimer = nil
        leaveOpening()
        timers.cancel(closeTimer)
        closeTimer = nil
        stopKeepalive()
    }
}
