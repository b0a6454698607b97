import CNetStackSSL
import Foundation

/// A certificate parsed into plain values, for audits.
public struct CertificateInfo: Sendable, Equatable {
    public var version: Int = 0
    /// RFC 2253 strings, and the attributes in order as "SN=value".
    public var subject = ""
    public var issuer = ""
    public var subjectAttributes: [String] = []
    public var issuerAttributes: [String] = []
    /// Serial number in upper-case hex.
    public var serial = ""
    public var notBefore: Date = .distantPast
    public var notAfter: Date = .distantPast
    public var dnsNames: [String] = []
    public var ipAddresses: [String] = []
    public var emails: [String] = []
    public var uris: [String] = []
    /// "RSA", "EC", "Ed25519", ...; bits; curve name for EC keys.
    public var keyType = ""
    public var keyBits = 0
    public var keyCurve: String?
    /// Signature algorithm, long name (e.g. "ecdsa-with-SHA256", "sha256WithRSAEncryption").
    public var signatureAlgorithm = ""
    /// Colon-separated upper-case hex.
    public var sha256Fingerprint = ""
    public var sha1Fingerprint = ""
    public var isCA = false
    public var pathLength: Int?
    public var keyUsage: [String] = []
    public var extendedKeyUsage: [String] = []
    public var ocspURLs: [String] = []
    public var caIssuersURLs: [String] = []
    public var crlDistributionPoints: [String] = []
    public var isSelfSigned = false
    /// Signed certificate timestamps embedded in the certificate (RFC 6962 3.3).
    public var embeddedSCTs = 0
    /// The TLS feature extension asks for status_request (RFC 7633, "OCSP must-staple").
    public var mustStaple = false
    /// The certificate itself, DER.
    public var der: [UInt8] = []

    /// Parses one DER certificate; nil if it is not one.
    public init?(der: [UInt8]) {
        guard let text = der.withUnsafeBufferPointer({ netstack_inspect($0.baseAddress, $0.count) }) else { return nil }
        defer { free(text) }
        self.der = der
        for line in String(cString: text).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq])
            let value = Self.unescape(line[line.index(after: eq)...])
            switch key {
            case "version": version = Int(value) ?? 0
            case "subject": subject = value
            case "issuer": issuer = value
            case "subject.attr": subjectAttributes.append(value)
            case "issuer.attr": issuerAttributes.append(value)
            case "serial": serial = value
            case "not_before_unix": notBefore = Date(timeIntervalSince1970: Double(value) ?? 0)
            case "not_after_unix": notAfter = Date(timeIntervalSince1970: Double(value) ?? 0)
            case "san.dns": dnsNames.append(value)
            case "san.ip": ipAddresses.append(value)
            case "san.email": emails.append(value)
            case "san.uri": uris.append(value)
            case "key.type": keyType = value
            case "key.bits": keyBits = Int(value) ?? 0
            case "key.curve": keyCurve = value
            case "signature": signatureAlgorithm = value
            case "sha256": sha256Fingerprint = value
            case "sha1": sha1Fingerprint = value
            case "ca": isCA = value == "true"
            case "pathlen": pathLength = Int(value)
            case "key_usage": keyUsage.append(value)
            case "ext_key_usage": extendedKeyUsage.append(value)
            case "ocsp": ocspURLs.append(value)
            case "ca_issuers": caIssuersURLs.append(value)
            case "crl.uri": crlDistributionPoints.append(value)
            case "self_signed": isSelfSigned = value == "true"
            case "scts": embeddedSCTs = Int(value) ?? 0
            case "must_staple": mustStaple = value == "true"
            default: break
            }
        }
    }

    /// A value of netstack_inspect's output: `\n`, `\0` and `\\` stand for newline, NUL and backslash.
    static func unescape(_ s: Substring) -> String {
        guard s.contains("\\") else { return String(s) }
        var out = String.UnicodeScalarView()
        var escaped = false
        for c in s.unicodeScalars {
            if escaped {
                out.append(c == "n" ? "\n" : c == "0" ? "\u{0}" : c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return String(out)
    }

    /// Every certificate of a PEM or DER blob, in order (empty if none parses).
    public static func parse(_ blob: [UInt8], type: CertificateBlobType) -> [CertificateInfo] {
        var ders: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?
        var lengths: UnsafeMutablePointer<Int>?
        let n = blob.withUnsafeBufferPointer { netstack_split_certificates($0.baseAddress, $0.count, type.rawValue, &ders, &lengths) }
        defer { netstack_free_ders(ders, lengths, n) }
        guard n > 0, let ders = ders, let lengths = lengths else { return [] }
        return (0..<n).compactMap { i in
            guard let p = ders[i] else { return nil }
            return CertificateInfo(der: Array(UnsafeBufferPointer(start: p, count: lengths[i])))
        }
    }

    /// The subject's common name, if any.
    public var commonName: String? {
        subjectAttributes.last(where: { $0.hasPrefix("CN=") }).map { String($0.dropFirst(3)) }
    }

    /// Days from `date` until `notAfter` (negative once expired).
    public func daysUntilExpiry(from date: Date = Date()) -> Double { notAfter.timeIntervalSince(date) / 86400 }
}

/// What a TLS server presented in a handshake, for audits: fetched without speaking WebSocket.
public struct PresentedChain: Sendable {
    public var host: String
    public var port: Int
    public var tlsVersion: String
    public var cipher: String
    /// Leaf first, as presented.
    public var certificates: [CertificateInfo]
    /// The presented chain checked with the same verifier as wss (host name or IP included).
    public var verification: CertificateVerificationResult
    /// The stapled OCSP response, checked (nil: the server stapled none).
    public var stapledOCSP: OCSPStatus?
    /// Each certificate against the CRL of its distribution point (nil: not asked for).
    public var crlStatus: [CRLStatus]?
    /// Each certificate as its OCSP responder answered (nil: not asked for).
    public var ocspFetched: [OCSPFetchStatus]?

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Connects, shakes hands (sending `serverName`, or `host` when it is a name, as SNI) and
    /// verifies against `caFile`/`caPath` or the system store. Blocking; errors (DNS, refused,
    /// timeout, handshake failure) are `Failure` values with a message.
    public static func fetch(host: String, port: Int = 443, serverName: String? = nil, timeoutMilliseconds: Int = 10_000,
                             caFile: String? = nil, caPath: String? = nil) -> Result<PresentedChain, Failure> {
        if let problem = IPAddressSyntax.hostProblem(host) { return .failure(Failure(description: problem)) }
        let sni = sniName(host: host, serverName: serverName)
        var r = netstack_fetch_result()
        if let sni = sni {
            sni.withCString { netstack_fetch_chain(AbsoluteHostName.forLookup(host), Int32(port), $0, Int32(timeoutMilliseconds), &r) }
        } else {
            netstack_fetch_chain(AbsoluteHostName.forLookup(host), Int32(port), nil, Int32(timeoutMilliseconds), &r)
        }
        return make(from: &r, host: host, port: port, serverName: serverName) {
            try CertificateStore(caFile: caFile, caPath: caPath)
        }
    }

    /// The SNI sent: `serverName`, or `host` when it is a name (never an IP literal).
    static func sniName(host: String, serverName: String?) -> String? {
        serverName ?? (IPAddressSyntax.isIPv4(host) || IPAddressSyntax.isIPv6(host) ? nil : AbsoluteHostName.forTLS(host))
    }

    /// The chain of a finished handshake (`r` from netstack_fetch_chain or a memory-BIO handshake),
    /// verified with the store `store` gives (host name or IP checked), its staple checked. Frees
    /// what `r` holds.
    static func make(from r: inout netstack_fetch_result, host: String, port: Int, serverName: String?,
                     store: () throws -> CertificateStore) -> Result<PresentedChain, Failure> {
        let isIP = IPAddressSyntax.isIPv4(host) || IPAddressSyntax.isIPv6(host)
        defer {
            netstack_free_ders(r.ders, r.lengths, r.count)
            netstack_free(r.staple)
            r.ders = nil
            r.lengths = nil
            r.staple = nil
            r.count = 0
        }
        guard r.ok == 1 else {
            let message = withUnsafeBytes(of: &r.error) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            return .failure(Failure(description: message))
        }
        var ders: [[UInt8]] = []
        for i in 0..<r.count {
            if let p = r.ders[i] { ders.append(Array(UnsafeBufferPointer(start: p, count: r.lengths[i]))) }
        }
        let version = withUnsafeBytes(of: &r.version) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let cipher = withUnsafeBytes(of: &r.cipher) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let verification: CertificateVerificationResult
        var staple: OCSPStatus?
        do {
            let store = try store()
            let options = CertificateVerificationOptions(hostname: serverName ?? (isIP ? nil : AbsoluteHostName.forTLS(host)), ipAddress: serverName == nil && isIP ? host : nil)
            verification = CertificateVerifier.verify(presentedChain: ders, store: store, options: options)
            if let p = r.staple, r.staple_len > 0 {
                staple = OCSPStatus.check(response: Array(UnsafeBufferPointer(start: p, count: r.staple_len)), chain: ders, store: store)
            }
        } catch {
            return .failure(Failure(description: "\(error)"))
        }
        return .success(PresentedChain(host: host, port: port, tlsVersion: version, cipher: cipher,
                                       certificates: ders.compactMap { CertificateInfo(der: $0) }, verification: verification,
                                       stapledOCSP: staple, crlStatus: nil, ocspFetched: nil))
    }
}
