import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// HTTP on an event loop, for CRL distribution points (RFC 5280 4.2.1.13 names them with http
/// URLs; a GET), OCSP responders (RFC 6960 A.1; a POST) and a load run's start barrier: a 200
/// body of at most `maxBytes`, within `timeout`. No redirects. `https://` only where the caller
/// allows it (the barrier; never for CRLs and OCSP, which RFC 5280 and RFC 6960 fetch over
/// http), verified as `wss://` connections are with the default options: the system's trust
/// store (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured) and the URL's host name or address.
public enum HTTPFetch {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The body of `url`, or why not. The future never fails.
    /// `allowTLS`: `https://` URLs are fetched too.
    public static func get(_ url: String, timeout: TimeAmount, maxBytes: Int = 16 << 20, allowTLS: Bool = false,
                           on loop: EventLoop) -> EventLoopFuture<Result<[UInt8], Failure>> {
        request(url, post: nil, timeout: timeout, maxBytes: maxBytes, allowTLS: allowTLS, on: loop)
    }

    /// The body of the answer to a POST of `body` (with its content type) to `url`, or why not.
    public static func post(_ url: String, body: [UInt8], contentType: String, timeout: TimeAmount, maxBytes: Int = 16 << 20,
                            on loop: EventLoop) -> EventLoopFuture<Result<[UInt8], Failure>> {
        request(url, post: (body, contentType), timeout: timeout, maxBytes: maxBytes, allowTLS: false, on: loop)
    }

    private static func request(_ url: String, post: (body: [UInt8], contentType: String)?, timeout: TimeAmount, maxBytes: Int,
                                allowTLS: Bool, on loop: EventLoop) -> EventLoopFuture<Result<[UInt8], Failure>> {
        guard let target = Target(url, allowTLS: allowTLS) else {
            return loop.makeSucceededFuture(.failure(Failure(description: "not a usable \(allowTLS ? "http:// or https://" : "http://") URL: \(url)")))
        }
        let tls: NIOSSLContextBox?
        do {
            tls = target.tls ? try TLSContextCache.shared.context(for: WebSocketTLSOptions()) : nil
        } catch {
            return loop.makeSucceededFuture(.failure(Failure(description: "cannot set up TLS: \(error)")))
        }
        let promise = loop.makePromise(of: Result<[UInt8], Failure>.self)
        let handler = BodyCollector(maxBytes: maxBytes) { promise.succeed($0) }
        let deadline = loop.scheduleTask(in: timeout) { handler.fail("timed out after \(timeout.nanoseconds / 1_000_000) ms") }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = tls {
                        let url = target.webSocketURL
                        try channel.pipeline.syncOperations.addHandler(try ConnectionDialer.tlsHandler(tls, url: url, serverName: ConnectionDialer.serverName(for: url)) { result in
                            if !result.isValid { handler.certificateFailure = result }
                        })
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: target.host, port: target.port)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    handler.fail(ChainFetcher.describe(error, host: target.host, port: target.port))
                case .success(let channel):
                    var head = HTTPRequestHead(version: .http1_1, method: post == nil ? .GET : .POST, uri: target.path)
                    head.headers.add(name: "Host", value: target.hostHeader)
                    head.headers.add(name: "User-Agent", value: "netstack/\(NetStackVersion.string)")
                    head.headers.add(name: "Connection", value: "close")
                    if let post = post {
                        head.headers.add(name: "Content-Type", value: post.contentType)
                        head.headers.add(name: "Content-Length", value: String(post.body.count))
                    }
                    channel.write(HTTPClientRequestPart.head(head), promise: nil)
                    if let post = post {
                        channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(bytes: post.body))), promise: nil)
                    }
                    channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                }
            }
        return promise.futureResult
    }

    struct Target {
        var host: String
        var port: Int
        var path: String
        var hostHeader: String
        var tls: Bool
        /// The host and port as a `ws://` (`wss://` for https) URL: what TLS checks.
        var webSocketURL: WebSocketURL

        init?(_ url: String, allowTLS: Bool = false) {
            let lower = url.prefix(8).lowercased()
            if lower.hasPrefix("http://") {
                tls = false
            } else if allowTLS, lower.hasPrefix("https://") {
                tls = true
            } else {
                return nil
            }
            let rest = url.dropFirst(tls ? "https://".count : "http://".count)
            let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            var path = String(rest.dropFirst(authority.count).prefix { $0 != "#" })
            if path.isEmpty || path.first == "?" { path = "/" + path }
            guard !authority.isEmpty, !authority.contains("@"), path.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline }) else { return nil }
            var host = String(authority)
            var port = tls ? 443 : 80
            if host.hasPrefix("[") {
                guard let close = host.firstIndex(of: "]") else { return nil }
                let after = host[host.index(after: close)...]
                if after.hasPrefix(":") { guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }; port = p }
                else if !after.isEmpty { return nil }
                host = String(host[host.index(after: host.startIndex)..<close])
            } else if let colon = host.lastIndex(of: ":") {
                guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else { return nil }
                port = p
                host = String(host[..<colon])
            }
            guard !host.isEmpty else { return nil }
            // The host and port by the rules of connections' URLs: an address is spelled in
            // dotted decimal or in brackets, never as `0x7f000001` or `127.1` for getaddrinfo to
            // read (the URL may come from a certificate the server chose).
            guard let parsed = try? WebSocketURL(parsing: (tls ? "wss://" : "ws://") + authority + "/") else { return nil }
            self.webSocketURL = parsed
            self.host = host
            self.port = port
            self.path = path
            self.hostHeader = String(authority)
        }
    }
}

/// Collects a response body (200 only, bounded) and reports once. Loop-bound.
final class BodyCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private let maxBytes: Int
    private var report: ((Result<[UInt8], HTTPFetch.Failure>) -> Void)?
    private var context: ChannelHandlerContext?
    private var body: [UInt8] = []
    private var status: HTTPResponseStatus?

    init(maxBytes: Int, report: @escaping (Result<[UInt8], HTTPFetch.Failure>) -> Void) {
        self.maxBytes = maxBytes
        self.report = report
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failure(.init(description: "connection closed before the response ended")))
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
            guard head.status == .ok else {
                finish(.failure(.init(description: "HTTP \(head.status.code) \(head.status.reasonPhrase)")))
                context.close(promise: nil)
                return
            }
        case .body(var buffer):
            guard body.count + buffer.readableBytes <= maxBytes else {
                finish(.failure(.init(description: "response larger than \(maxBytes) bytes")))
                context.close(promise: nil)
                return
            }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            finish(.success(body))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(.init(description: "connection closed before the response ended")))
    }

    /// Set by the TLS handler's check when the server's certificate fails it: said instead of
    /// the handshake's own error.
    var certificateFailure: CertificateVerificationResult?

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let bad = certificateFailure {
            finish(.failure(.init(description: "TLS: the server's certificate failed verification: \(bad.code) \(bad.reason)")))
        } else {
            finish(.failure(.init(description: "\(error)")))
        }
        context.close(promise: nil)
    }

    func fail(_ message: String) {
        finish(.failure(.init(description: message)))
        context?.close(promise: nil)
    }

    private func finish(_ result: Result<[UInt8], HTTPFetch.Failure>) {
        guard let report = report else { return }
        self.report = nil
        report(result)
    }
}
