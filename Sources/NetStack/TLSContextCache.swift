import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// A shareable NIOSSL client context.
final class NIOSSLContextBox: @unchecked Sendable {
    let context: NIOSSLContext
    init(_ context: NIOSSLContext) { self.context = context }
}

/// Client TLS contexts, built once per distinct set of options (loading a trust store costs
/// milliseconds; a bot opening thousands of connections should pay it once).
final class TLSContextCache: @unchecked Sendable {
    static let shared = TLSContextCache()
    private let lock = NIOLock()
    private var contexts: [WebSocketTLSOptions: NIOSSLContextBox] = [:]

    func context(for options: WebSocketTLSOptions) throws -> NIOSSLContextBox {
        try lock.withLock {
            if let c = contexts[options] { return c }
            let c = NIOSSLContextBox(try NIOSSLContext(configuration: Self.configuration(for: options)))
            contexts[options] = c
            return c
        }
    }

    /// Trust: `caFile`/`caPath` when given; else `SSL_CERT_FILE` / `SSL_CERT_DIR` when set (as
    /// OpenSSL honours them); else the system default store.
    static func configuration(for options: WebSocketTLSOptions) throws -> TLSConfiguration {
        var c = TLSConfiguration.makeClientConfiguration()
        c.minimumTLSVersion = .tlsv12
        if options.insecure {
            c.certificateVerification = .none
        } else {
            c.certificateVerification = .fullVerification
            let env = ProcessEnvironment.self
            if let file = options.caFile {
                c.trustRoots = .file(file)
                if let dir = options.caPath { c.additionalTrustRoots = [.file(dir)] }
            } else if let dir = options.caPath {
                c.trustRoots = .file(dir)
            } else if let file = env.get("SSL_CERT_FILE") {
                c.trustRoots = .file(file)
                if let dir = env.get("SSL_CERT_DIR") { c.additionalTrustRoots = [.file(dir)] }
            } else if let dir = env.get("SSL_CERT_DIR") {
                c.trustRoots = .file(dir)
            } else {
                c.trustRoots = .default
            }
        }
        if let cert = options.clientCertificateFile {
            guard let key = options.clientKeyFile else {
                throw WebSocketError(.connectionError, "clientCert given without clientKey")
            }
            c.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            c.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        } else if options.clientKeyFile != nil {
            throw WebSocketError(.connectionError, "clientKey given without clientCert")
        }
        return c
    }
}

enum ProcessEnvironment {
    static func get(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        let s = String(cString: v)
        return s.isEmpty ? nil : s
    }
}
