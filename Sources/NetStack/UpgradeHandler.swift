import NIOCore

/// The opening handshake (RFC 6455 §4.1) as a handler of its own: it writes the upgrade request
/// when the channel becomes active, reads the response head, checks it (`ClientHandshake`), and
/// tells the connection what came back as a user inbound event (`Outcome`); interim answers (1xx
/// other than 101) before it are skipped. Then it leaves the
/// pipeline; bytes that followed a 101 in the same read (frames) are passed on to the connection.
///
/// It decides nothing about the connection's life: timeouts, the terminal event and closing the
/// channel belong to `WebSocketConnectionHandler` and its state machine.
final class UpgradeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What the server answered.
    enum Outcome {
        /// 101 with a valid handshake.
        case switched(UpgradeResponseHead, ClientHandshake.Agreement)
        /// Another status: the body bytes that came with the head, and how many the error message
        /// should wait for (what Content-Length promises, at most 256).
        case refused(UpgradeResponseHead, body: ByteBuffer, wanted: Int)
        /// Not HTTP, too large, or a 101 that does not validate.
        case failed(WebSocketError)
    }

    /// The most a response head may take.
    static let maxHeadSize = 64 * 1024
    /// The most of a refusal's body that goes into the error message.
    static let maxBodyInMessage = 256

    private let handshake: ClientHandshake
    private let trace: (@Sendable (String) -> Void)?
    @exclusivity(unchecked) private var received: ByteBuffer?
    @exclusivity(unchecked) private var answered = false
    /// Bytes of interim (1xx other than 101) heads skipped so far.
    @exclusivity(unchecked) private var interimBytes = 0

    init(handshake: ClientHandshake, trace: (@Sendable (String) -> Void)?) {
        self.handshake = handshake
        self.trace = trace
    }

    func channelActive(context: ChannelHandlerContext) {
        var request = context.channel.allocator.buffer(capacity: 512)
        handshake.writeRequest(into: &request)
        if let trace = trace {
            for line in String(buffer: request).split(separator: "\r\n") { trace("> \(line)") }
        }
        // No busy poll for the 101 (LoopBusyPoll): connections open in crowds, and spinning for
        // each one's answer took the CPU a local server needed (conns about 8 % slower on 2 cores).
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return context.fireChannelRead(data) }
        var buffer = unwrapInboundIn(data)
        var searched = 0
        if received == nil {
            received = buffer
        } else {
            searched = received!.readableBytes
            received!.writeBuffer(&buffer)
        }
        while true {
            let parsed = received!.withUnsafeReadableBytes { UpgradeResponseHead.parse($0, maxSize: Self.maxHeadSize, searched: searched) }
            searched = 0
            guard case .head(let head, let consumed) = parsed, head.isInterim else {
                if interimBytes > 0, case .needMore = parsed, interimBytes + received!.readableBytes > Self.maxHeadSize {
                    return finish(context, .failed(Self.tooManyInterim), rest: nil)
                }
                answer(context, parsed)
                return
            }
            // An interim response (100 Continue, 103 Early Hints...) may come before the real
            // one; a client must be able to read and skip it (RFC 9110 §15.2). They count
            // against the head's limit together, so a server cannot keep the handshake going with
            // an endless series of them.
            received!.moveReaderIndex(forwardBy: consumed)
            interimBytes += consumed
            traceHead(head)
            if interimBytes > Self.maxHeadSize { return finish(context, .failed(Self.tooManyInterim), rest: nil) }
        }
    }

    private static let tooManyInterim = WebSocketError(.protocolError, "handshake failed: interim (1xx) responses larger than \(maxHeadSize) bytes together")

    private func traceHead(_ head: UpgradeResponseHead) {
        guard let trace = trace else { return }
        trace("< \(head.statusLine)")
        for h in head.headers { trace("< \(h.name): \(h.value)") }
    }

    private func answer(_ context: ChannelHandlerContext, _ parsed: UpgradeResponseHead.ParseResult) {
        switch parsed {
        case .needMore:
            return
        case .invalid(let why):
            finish(context, .failed(WebSocketError(.protocolError, "handshake failed: \(why)")), rest: nil)
        case .head(let head, let consumed):
            received!.moveReaderIndex(forwardBy: consumed)
            let rest = received!
            received = nil
            traceHead(head)
            guard head.statusCode == 101 else {
                finish(context, .refused(head, body: rest, wanted: Self.bodyWanted(head)), rest: nil)
                return
            }
            do {
                finish(context, .switched(head, try handshake.validate(head)), rest: rest)
            } catch let error as WebSocketError {
                finish(context, .failed(error), rest: nil)
            } catch {
                finish(context, .failed(WebSocketError(.protocolError, "handshake failed: \(error)")), rest: nil)
            }
        }
    }

    /// Bytes of a refusal's body worth waiting for: as many as Content-Length promises, at most
    /// `maxBodyInMessage` (a server that holds the connection open short of them is reported at the
    /// connect timeout, with its status line); without Content-Length, none beyond what came with
    /// the head.
    static func bodyWanted(_ head: UpgradeResponseHead) -> Int {
        let length = head.value(of: "content-length").flatMap { Int($0.trimmingCharacters(in: " ")) } ?? 0
        return min(maxBodyInMessage, max(0, length))
    }

    /// Reports the outcome, passes on `rest` (frames after a 101), and leaves the pipeline. A
    /// refusal's later body bytes reach the connection directly once this handler is gone.
    private func finish(_ context: ChannelHandlerContext, _ outcome: Outcome, rest: ByteBuffer?) {
        answered = true
        context.fireUserInboundEventTriggered(outcome)
        if let rest = rest, rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
