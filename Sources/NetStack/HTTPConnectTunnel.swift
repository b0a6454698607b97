import NIOCore
import NIOExtras
import NIOHTTP1

/// An HTTP CONNECT tunnel (RFC 9110 §9.3.6) in front of the connection, built from SwiftNIO's
/// pieces: NIOHTTP1's request encoder and response decoder and swift-nio-extras'
/// `NIOHTTP1ProxyConnectHandler`, which sends the CONNECT and reads the answer. Two small handlers
/// of ours sit beside it: one notes the answer's status line (the extras handler keeps it to
/// itself), and a gate holds `channelActive` back from TLS and the upgrade until the tunnel is up,
/// then takes the HTTP handlers out and lets the connection start. Failures reach the connection
/// as `WebSocketError`s (`ProxyFailure`).
enum HTTPConnectTunnel {
    /// Adds the tunnel's handlers to a channel that is not active yet (the bootstrap's initializer).
    static func install(on channel: Channel, proxy: WebSocketProxy, target url: WebSocketURL,
                        deadline: NIODeadline, trace: (@Sendable (String) -> Void)?) throws {
        var headers = HTTPHeaders()
        let target = "\(url.bracketedHost):\(url.port)"
        headers.add(name: "Host", value: target)
        if let user = proxy.username {
            headers.add(name: "Proxy-Authorization", value: "Basic " + Base64.encode(Array("\(user):\(proxy.password ?? "")".utf8)))
        }
        let established = channel.eventLoop.makePromise(of: Void.self)
        let encoder = HTTPRequestEncoder()
        let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
        let status = StatusRecorder()
        // The extras handler writes "host:port" as the request target; an IPv6 literal needs brackets.
        let connect = NIOHTTP1ProxyConnectHandler(targetHost: url.bracketedHost, targetPort: url.port, headers: headers,
                                                  deadline: deadline, promise: established)
        let gate = Gate(proxy: proxy, target: target, status: status, trace: trace)
        try channel.pipeline.syncOperations.addHandlers(encoder, decoder, status, connect, gate)
        trace?("* CONNECT \(target) through \(proxy)")
        established.futureResult.whenSuccess {
            // After the extras handler's read returns, the HTTP handlers leave (the decoder only
            // on a later tick: it finishes its own decode call first), and then the connection
            // starts: nothing of the tunnel's payload may pass through them.
            channel.eventLoop.execute {
                let pipeline = channel.pipeline.syncOperations
                let removed = [encoder, decoder, status].map { (handler: RemovableChannelHandler) -> EventLoopFuture<Void> in
                    let promise = channel.eventLoop.makePromise(of: Void.self)
                    pipeline.removeHandler(handler, promise: promise)
                    return promise.futureResult
                }
                EventLoopFuture.andAllSucceed(removed, on: channel.eventLoop).whenComplete { _ in gate.open() }
            }
        }
    }

    /// Notes the status line of the proxy's answer, for the error message.
    final class StatusRecorder: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias InboundOut = HTTPClientResponsePart
        private(set) var head: HTTPResponseHead?

        /// The answer's status line as the proxy's version, code and reason ("HTTP/1.0 407 ...").
        var statusLine: String? {
            head.map { "HTTP/\($0.version.major).\($0.version.minor) \($0.status.code) \($0.status.reasonPhrase)" }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let h) = unwrapInboundIn(data) { head = h }
            context.fireChannelRead(data)
        }
    }

    /// Holds `channelActive` back until the tunnel is up; turns the extras handler's errors into
    /// the connection's.
    final class Gate: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        private let proxy: WebSocketProxy
        private let target: String
        private let status: StatusRecorder
        private let trace: (@Sendable (String) -> Void)?
        private var context: ChannelHandlerContext?
        private var failed = false

        init(proxy: WebSocketProxy, target: String, status: StatusRecorder, trace: (@Sendable (String) -> Void)?) {
            self.proxy = proxy
            self.target = target
            self.status = status
            self.trace = trace
        }

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
        func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

        func channelActive(context: ChannelHandlerContext) {
            // Held: fired by `open()` once the proxy answered 2xx.
        }

        func open() {
            guard let context = context, !failed, context.channel.isActive else { return }
            if let line = status.statusLine { trace?("< \(line)") }
            context.fireChannelActive()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }

        /// Every error before the tunnel is up is the proxy's: the extras handler's, the HTTP
        /// decoder's (an answer that is not HTTP) or the socket's.
        func errorCaught(context: ChannelHandlerContext, error: Error) {
            guard !failed else { return }
            failed = true
            if let e = error as? NIOHTTP1ProxyConnectHandler.Error {
                context.fireErrorCaught(translate(e))
            } else if error is HTTPParserError {
                context.fireErrorCaught(ProxyFailure.protocolError(proxy, "the answer to CONNECT is not valid HTTP (\(error))"))
            } else {
                context.fireErrorCaught(ProxyFailure.protocolError(proxy, ConnectionErrorText.describeIOError(error)))
            }
            context.close(promise: nil)
        }

        private func translate(_ e: NIOHTTP1ProxyConnectHandler.Error) -> WebSocketError {
            if let head = status.head, let line = status.statusLine, !(200..<300).contains(Int(head.status.code)) {
                trace?("< \(line)")
                return ProxyFailure.httpStatus(proxy, target: target, statusLine: line, code: Int(head.status.code))
            }
            switch e {
            case .remoteConnectionClosed(), .channelUnexpectedlyInactive():
                return ProxyFailure.protocolError(proxy, "the proxy closed the connection before answering CONNECT")
            case .httpProxyHandshakeTimeout():
                return ProxyFailure.protocolError(proxy, "no answer to CONNECT in time")
            case .invalidProxyResponse():
                return ProxyFailure.protocolError(proxy, "the proxy's 2xx answer to CONNECT had a body")
            default:
                return ProxyFailure.protocolError(proxy, "\(e)")
            }
        }
    }
}
