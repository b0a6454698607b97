import NIOCore
import NIOPosix
import NIOSSL

/// Opens one connection's channel: TCP to the host (or to the proxy of its route), the proxy's
/// tunnel, TLS with the certificate check, then the handlers `install` adds (the upgrade and the
/// connection). Its only job is the pipeline below the WebSocket; what the connection does with
/// the outcome is the caller's.
struct ConnectionDialer {
    let eventLoop: EventLoop
    let url: WebSocketURL
    let tls: NIOSSLContextBox?
    /// SNI and the name the certificate must match, when not the URL's host.
    let serverName: String?
    let connectTimeout: TimeAmount
    let trace: (@Sendable (String) -> Void)?

    /// Reads start at 256 bytes and double (up to 1 MiB) each time a read fills the buffer: NIO
    /// keeps each channel's receive buffer, so the initial size is memory per idle connection.
    /// A typical 101 answer fits in 256 bytes; a longer one takes one more read. One value shared
    /// by every connection.
    private static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 256, initial: 256, maximum: 1024 * 1024)

    /// Connects through `tunnel` (nil: straight to the URL's host). `verified` gets the outcome of
    /// the certificate check (chain and pins) when TLS checks in a callback of ours; `install`
    /// adds the handlers that follow TLS; `completed` runs on the loop, never inside this call
    /// (the caller has not finished its own bookkeeping yet).
    func dial(through tunnel: ConnectionRoute.Tunnel?,
              verified: @escaping (CertificateVerificationResult) -> Void,
              install: @escaping (Channel) throws -> Void,
              completed: @escaping (Result<Channel, Error>) -> Void) {
        let url = self.url, tls = self.tls, trace = self.trace, timeout = connectTimeout
        let serverName = self.serverName ?? Self.serverName(for: url)
        // TCP_NODELAY is on by default in ClientBootstrap.
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                do {
                    // Set here, synchronously: a bootstrap's `channelOption` is applied through a
                    // chain of futures, per connection.
                    try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveAllocator)
                    switch tunnel {
                    case .http(let proxy):
                        try HTTPConnectTunnel.install(on: channel, proxy: proxy, target: url, deadline: .now() + timeout, trace: trace)
                    case .socks(let proxy, let target):
                        try channel.pipeline.syncOperations.addHandler(
                            SOCKS5TunnelHandler(proxy: proxy, target: target, targetText: "\(url.bracketedHost):\(url.port)", trace: trace))
                    case nil:
                        break
                    }
                    if let tls = tls {
                        try channel.pipeline.syncOperations.addHandler(Self.tlsHandler(tls, url: url, serverName: serverName, verified: verified))
                    }
                    try install(channel)
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let host = AbsoluteHostName.forLookup(tunnel?.proxy.host ?? url.host)
        let port = tunnel?.proxy.port ?? url.port
        let connected: EventLoopFuture<Channel>
        if let address = try? SocketAddress(ipAddress: host, port: port) {
            // An address needs no resolving: connect(host:port:) would still run getaddrinfo on
            // another thread and race two address families (about 1 KiB and a thread hop per
            // connection, which load runs' thousands of connections pay at once).
            connected = bootstrap.connect(to: address)
        } else {
            connected = bootstrap.connect(host: host, port: port)
        }
        // A bootstrap that fails at once (no descriptor left, a refused socket option) completes
        // inside this call: its outcome then waits for the next loop turn.
        let insideDial = LoopFlag(true)
        let loop = eventLoop
        connected.whenComplete { result in
            if insideDial.value {
                loop.execute { completed(result) }
            } else {
                completed(result)
            }
        }
        insideDial.value = false
    }

    /// The name sent (SNI) and checked for `url` when none is configured: nil for an IP literal,
    /// whose address is checked instead.
    static func serverName(for url: WebSocketURL) -> String? {
        url.hostIsIPLiteral ? nil : AbsoluteHostName.forTLS(url.host)
    }

    /// TLS to the URL's host. With a certificate store or pins, the check of
    /// `OH_NetStack_VerifyCertification` (and then the pins) runs in the verify callback and its
    /// outcome goes to `verified`, so a failed handshake can carry the same code.
    static func tlsHandler(_ tls: NIOSSLContextBox, url: WebSocketURL, serverName: String?,
                                   verified: @escaping (CertificateVerificationResult) -> Void) throws -> NIOSSLClientHandler {
        guard tls.verifiesInCallback else { return try NIOSSLClientHandler(context: tls.context, serverHostname: serverName) }
        // `serverName` is nil only for an IP literal without a configured name: then the address is checked.
        let options = CertificateVerificationOptions(hostname: serverName, ipAddress: serverName == nil ? url.host : nil)
        let store = tls.store, pins = tls.pins
        return try NIOSSLClientHandler(context: tls.context, serverHostname: serverName) { certificates, promise in
            var result = CertificateVerificationResult.valid
            if let store = store {
                let ders = certificates.compactMap { try? $0.toDERBytes() }
                result = CertificateVerifier.verify(presentedChain: ders, store: store, options: options)
            }
            if result.isValid, !pins.isEmpty {
                result = pins.check(leaf: certificates.first)
            }
            verified(result)
            promise.succeed(result.isValid ? .certificateVerified : .failed)
        }
    }
}
