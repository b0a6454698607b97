import CNetStackSSL
import Foundation
import NIOCore
import NIOPosix

/// Fetches a server's presented chain on an event loop: NIO resolves and connects, OpenSSL
/// computes the handshake on memory BIOs (`netstack_handshake_*`), so that as many fetches run at
/// once as the caller starts, with no thread per fetch. OpenSSL rather than NIOSSL because the
/// audit needs what NIOSSL does not expose: the negotiated cipher and the stapled OCSP response.
public enum ChainFetcher {
    /// Stores loaded from CA files (or the system store), shared by fetches: an audit of many
    /// targets loads its anchors once.
    private static let stores = StoreByFile()

    /// Connects to `host:port`, shakes hands (SNI `serverName`, or `host` when it is a name, and a
    /// status request) and verifies the chain against `caFile`/`caPath` or the system store; with
    /// `fetchCRLs`, each certificate is also checked against the CRL of its distribution point
    /// (`CRLCheck`), and with `fetchOCSP` by asking its OCSP responder (`OCSPCheck`), both within
    /// the same timeout and at once. The future never fails: DNS, refused, timeout and handshake
    /// failures are `Failure` values.
    public static func fetch(host: String, port: Int, serverName: String? = nil, timeoutMilliseconds: Int = 10_000,
                             caFile: String? = nil, caPath: String? = nil, fetchCRLs: Bool = false, fetchOCSP: Bool = false,
                             on loop: EventLoop) -> EventLoopFuture<Result<PresentedChain, PresentedChain.Failure>> {
        let chain = fetchChain(host: host, port: port, serverName: serverName, timeoutMilliseconds: timeoutMilliseconds,
                               caFile: caFile, caPath: caPath, on: loop)
        guard fetchCRLs || fetchOCSP else { return chain }
        return chain.flatMap { result in
            guard case .success(var presented) = result, let store = try? stores.store(caFile: caFile, caPath: caPath) else {
                return loop.makeSucceededFuture(result)
            }
            let ders = presented.certificates.map(\.der)
            let timeout = TimeAmount.milliseconds(Int64(max(timeoutMilliseconds, 1)))
            let crls = fetchCRLs ? CRLCheck.check(chain: ders, infos: presented.certificates, store: store, timeout: timeout, on: loop).map(Optional.some)
                                 : loop.makeSucceededFuture(nil)
            let ocsp = fetchOCSP ? OCSPCheck.check(chain: ders, infos: presented.certificates, store: store, timeout: timeout, on: loop).map(Optional.some)
                                 : loop.makeSucceededFuture(nil)
            return crls.and(ocsp).map { crl, ocsp in
                presented.crlStatus = crl
                presented.ocspFetched = ocsp
                return .success(presented)
            }
        }
    }

    private static func fetchChain(host: String, port: Int, serverName: String?, timeoutMilliseconds: Int,
                                   caFile: String?, caPath: String?,
                                   on loop: EventLoop) -> EventLoopFuture<Result<PresentedChain, PresentedChain.Failure>> {
        let promise = loop.makePromise(of: Result<PresentedChain, PresentedChain.Failure>.self)
        guard (1...65535).contains(port) else {
            promise.succeed(.failure(.init(description: "port \(port) out of range")))
            return promise.futureResult
        }
        if let problem = IPAddressSyntax.hostProblem(host) {
            promise.succeed(.failure(.init(description: problem)))
            return promise.futureResult
        }
        let sni = PresentedChain.sniName(host: host, serverName: serverName)
        guard let handshake = sni.map({ $0.withCString { netstack_handshake_new($0) } }) ?? netstack_handshake_new(nil) else {
            promise.succeed(.failure(.init(description: "cannot create a TLS session")))
            return promise.futureResult
        }
        let timeout = TimeAmount.milliseconds(Int64(max(timeoutMilliseconds, 1)))
        let handler = MemoryHandshakeHandler(handshake: handshake) { outcome in
            switch outcome {
            case .success(var r):
                promise.succeed(PresentedChain.make(from: &r, host: host, port: port, serverName: serverName) {
                    try stores.store(caFile: caFile, caPath: caPath)
                })
            case .failure(let message):
                promise.succeed(.failure(.init(description: message)))
            }
        }
        let deadline = loop.scheduleTask(in: timeout) {
            handler.fail("connection to \(host):\(port) timed out")
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in channel.pipeline.addHandler(handler) }
            .connect(host: AbsoluteHostName.forLookup(host), port: port)
            .whenFailure { error in handler.fail(describe(error, host: host, port: port)) }
        return promise.futureResult
    }

    /// The C client's wording for connection failures.
    static func describe(_ error: Error, host: String, port: Int) -> String {
        if let e = error as? NIOConnectionError {
            guard let first = e.connectionErrors.first else { return "DNS lookup failed for '\(host)'" }
            return describe(first.error, host: host, port: port)
        }
        if case ChannelError.connectTimeout = error { return "connection to \(host):\(port) timed out" }
        if let io = error as? IOError { return "could not connect to \(host):\(port): \(String(cString: strerror(io.errnoCode)))" }
        return "could not connect to \(host):\(port): \(error)"
    }
}

/// Feeds what the server sends to the memory-BIO handshake and sends what it produces; reports
/// once (done, failed, closed or timed out) and then closes the channel. Loop-bound.
final class MemoryHandshakeHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Outcome {
        case success(netstack_fetch_result)
        case failure(String)
    }

    private let handshake: OpaquePointer
    private var report: ((Outcome) -> Void)?
    private var context: ChannelHandlerContext?

    init(handshake: OpaquePointer, report: @escaping (Outcome) -> Void) {
        self.handshake = handshake
        self.report = report
    }

    deinit { netstack_handshake_free(handshake) }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failure("connection closed before the TLS handshake finished"))
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        step(context, nil, 0)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { step(context, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure("TLS handshake failed: connection closed by the server"))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(.failure("TLS handshake failed: \(error)"))
        context.close(promise: nil)
    }

    /// From the deadline or a failed connect: report and close.
    func fail(_ message: String) {
        finish(.failure(message))
        context?.close(promise: nil)
    }

    private func step(_ context: ChannelHandlerContext, _ bytes: UnsafePointer<UInt8>?, _ count: Int) {
        guard report != nil else { return }
        let rc = netstack_handshake_feed(handshake, bytes, count)
        var wrote = false
        while case let pending = netstack_handshake_pending(handshake), pending > 0 {
            var out = context.channel.allocator.buffer(capacity: pending)
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { p in
                netstack_handshake_take_output(handshake, p.baseAddress?.assumingMemoryBound(to: UInt8.self), p.count)
            }
            context.write(wrapOutboundOut(out), promise: nil)
            wrote = true
        }
        if wrote { context.flush() }
        if rc == 1 {
            var r = netstack_fetch_result()
            netstack_handshake_result(handshake, &r)
            finish(.success(r))
            context.close(promise: nil)
        } else if rc < 0 {
            finish(.failure(String(cString: netstack_handshake_error(handshake))))
            context.close(promise: nil)
        }
    }

    private func finish(_ outcome: Outcome) {
        guard let report = report else {
            if case .success(var r) = outcome {
                netstack_free_ders(r.ders, r.lengths, r.count)
                netstack_free(r.staple)
                r.count = 0
            }
            return
        }
        self.report = nil
        report(outcome)
    }
}

/// Stores from CA files or the system store (keyed by the paths and, for the system store,
/// SSL_CERT_FILE / SSL_CERT_DIR), kept for the process.
final class StoreByFile: @unchecked Sendable {
    private let lock = NSLock()
    private var stores: [String: CertificateStore] = [:]

    func store(caFile: String?, caPath: String?) throws -> CertificateStore {
        let key = caFile == nil && caPath == nil ? StoreCache.systemStoreKey : "file:\(caFile ?? ""):\(caPath ?? "")"
        lock.lock()
        defer { lock.unlock() }
        if let s = stores[key] { return s }
        let s = try CertificateStore(caFile: caFile, caPath: caPath)
        if stores.count >= 32 { stores.removeAll() }
        stores[key] = s
        return s
    }
}
