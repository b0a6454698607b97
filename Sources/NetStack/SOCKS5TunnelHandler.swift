import NIOCore

/// A SOCKS5 tunnel in front of the connection: runs `SOCKS5Handshake` once the TCP connection to
/// the proxy is up, holds `channelActive` back from TLS and the upgrade until the proxy reports
/// the target connected, then passes on any bytes that came with that reply and leaves the
/// pipeline. Failures reach the connection as `WebSocketError`s, and the channel closes.
final class SOCKS5TunnelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Most a proxy's handshake answers take (a reply with a 255-byte name is 262 bytes).
    private static let maxPending = 1024

    private var handshake: SOCKS5Handshake
    private let proxy: WebSocketProxy
    private let trace: (@Sendable (String) -> Void)?
    private var received: ByteBuffer?
    private var finished = false

    init(proxy: WebSocketProxy, target: SOCKS5Handshake.Target, targetText: String, trace: (@Sendable (String) -> Void)?) {
        self.proxy = proxy
        self.handshake = SOCKS5Handshake(proxy: proxy, target: target, targetText: targetText)
        self.trace = trace
        trace?("* SOCKS5 CONNECT \(targetText) through \(proxy)")
    }

    func channelActive(context: ChannelHandlerContext) {
        // Held back until the tunnel is up.
        write(handshake.greeting, context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return context.fireChannelRead(data) }
        var buffer = unwrapInboundIn(data)
        if received == nil { received = buffer } else { received!.writeBuffer(&buffer) }
        while !finished {
            let step = received!.withUnsafeReadableBytes { handshake.receive($0) }
            switch step {
            case .needMore:
                if received!.readableBytes > Self.maxPending {
                    fail(context, ProxyFailure.protocolError(proxy, "SOCKS5 answer over \(Self.maxPending) bytes"))
                }
                return
            case .send(let bytes, let consumed):
                received!.moveReaderIndex(forwardBy: consumed)
                write(bytes, context)
            case .established(let consumed):
                received!.moveReaderIndex(forwardBy: consumed)
                finished = true
                trace?("* SOCKS5 tunnel up")
                let rest = received!
                received = nil
                context.fireChannelActive()
                if rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            case .failed(let error):
                fail(context, error)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished {
            finished = true
            context.fireErrorCaught(handshake.closed())
        }
        context.fireChannelInactive()
    }

    private func fail(_ context: ChannelHandlerContext, _ error: WebSocketError) {
        finished = true
        received = nil
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private func write(_ bytes: [UInt8], _ context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: bytes.count)
        out.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }
}
