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
    private struct Key: Hashable {
        var options: WebSocketTLSOptions
        var certFile: String?
        var certDir: String?
    }
    private var contexts: [Key: NIOSSLContextBox] = [:]

    func context(for options: WebSocketTLSOptions) throws -> NIOSSLContextBox {
        let key = Key(options: options, certFile: ProcessEnvironment.get("SSL_CERT_FILE"), certDir: ProcessEnvironment.get("SSL_CERT_DIR"))
        return try lock.withLock {
            if let c = contexts[key] { return c }
            let c = NIOSSLContextBox(try NIOSSLContext(configuration: Self.configuration(for: options)))
            contexts[key] = c
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
                if let dir = options.caPath { c.additionalTrustRoots = [.certificates(certificates(inDirectory: dir))] }
            } else if let dir = options.caPath {
                c.trustRoots = .file(dir)
            } else if let file = env.get("SSL_CERT_FILE") {
                c.trustRoots = .file(file)
                if let dir = env.get("SSL_CERT_DIR") { c.additionalTrustRoots = [.certificates(certificates(inDirectory: dir))] }
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

/// Every PEM certificate in the files of `dir` (unreadable or non-certificate files are skipped),
/// for when a directory must be combined with a CA file.
func certificates(inDirectory dir: String) -> [NIOSSLCertificate] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
    var seen = Set<String>()
    var out: [NIOSSLCertificate] = []
    for name in names.sorted() {
        let path = dir + "/" + name
        let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map { $0.hasPrefix("/") ? $0 : dir + "/" + $0 } ?? path
        guard seen.insert(resolved).inserted, let certs = try? NIOSSLCertificate.fromPEMFile(path) else { continue }
        out += certs
    }
    return out
}

enum ProcessEnvironment {
    static func get(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        let s = String(cString: v)
        return s.isEmpty ? nil : s
    }
}
