import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// A shareable NIOSSL client context and the trust store its connections verify against.
final class NIOSSLContextBox: @unchecked Sendable {
    let context: NIOSSLContext
    /// nil when verification is off (`insecure`).
    let store: CertificateStore?
    /// Public keys the leaf must have (empty: no pinning).
    let pins: PublicKeyPins
    init(_ context: NIOSSLContext, store: CertificateStore?, pins: PublicKeyPins) {
        self.context = context
        self.store = store
        self.pins = pins
    }

    /// Whether connections check the peer in a callback of ours (the chain, pins or both).
    var verifiesInCallback: Bool { store != nil || !pins.isEmpty }
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
            let store = options.insecure ? nil : try CertificateStore(caFile: options.caFile, caPath: options.caPath)
            let pins = try PublicKeyPins(options.pinnedPublicKeys)
            let c = NIOSSLContextBox(try NIOSSLContext(configuration: Self.configuration(for: options)), store: store, pins: pins)
            contexts[key] = c
            return c
        }
    }

    /// The chain and the host name are checked by `CertificateVerifier` (the same OpenSSL verifier as
    /// `OH_NetStack_VerifyCertification`) in a custom verification callback, so failures carry the
    /// 2305xxx codes; BoringSSL's own chain check is replaced. Trust: `caFile`/`caPath` when given,
    /// else the system store (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured, as OpenSSL does).
    static func configuration(for options: WebSocketTLSOptions) throws -> TLSConfiguration {
        var c = TLSConfiguration.makeClientConfiguration()
        // When the connection closes the channel (after `closeTimeout`, a failure or a timeout),
        // our close_notify is sent but the server's is not waited for: SwiftNIO SSL's default
        // would add up to 5 s to every such close, on top of the waits the configuration documents.
        c.shutdownTimeout = .zero
        c.minimumTLSVersion = version(options.minimumVersion ?? .tls1_2)
        if let max = options.maximumVersion {
            if let min = options.minimumVersion, WebSocketTLSVersion.allCases.firstIndex(of: min)! > WebSocketTLSVersion.allCases.firstIndex(of: max)! {
                throw WebSocketError(.connectionError, "TLS minimum version \(min.rawValue) is above the maximum \(max.rawValue)")
            }
            c.maximumTLSVersion = version(max)
        }
        if options.insecure && options.pinnedPublicKeys.isEmpty {
            c.certificateVerification = .none
        } else {
            c.certificateVerification = .noHostnameVerification
            c.trustRoots = .certificates([])
        }
        if let cert = options.clientCertificateFile {
            guard let key = options.clientKeyFile else {
                throw WebSocketError(.connectionError, "clientCert given without clientKey")
            }
            let chain = (try? NIOSSLCertificate.fromPEMFile(cert)) ?? []
            guard !chain.isEmpty else {
                throw WebSocketError(.connectionError, "cannot load the client certificate from \(cert): not readable, or no PEM certificate in it")
            }
            c.certificateChain = chain.map { .certificate($0) }
            do {
                if let password = options.clientKeyPassword {
                    let bytes = Array(password.utf8)
                    c.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem, passphraseCallback: { (setter: NIOSSLPassphraseSetter<[UInt8]>) in
                        setter(bytes)
                    }))
                } else {
                    c.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                }
            } catch {
                let why = options.clientKeyPassword == nil ? "not readable, not a PEM private key, or encrypted (clientKeyPassword)" : "not readable, not a PEM private key, or the password is wrong"
                throw WebSocketError(.connectionError, "cannot load the client key from \(key): \(why)")
            }
        } else if options.clientKeyFile != nil {
            throw WebSocketError(.connectionError, "clientKey given without clientCert")
        }
        return c
    }

    private static func version(_ v: WebSocketTLSVersion) -> TLSVersion {
        switch v {
        case .tls1_0: return .tlsv1
        case .tls1_1: return .tlsv11
        case .tls1_2: return .tlsv12
        case .tls1_3: return .tlsv13
        }
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
