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
            let value = String(line[line.index(after: eq)...]).replacingOccurrences(of: "\\n", with: "\n").replacingOccurrences(of: "\\\\", with: "\\")
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
            default: break
            }
        }
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
