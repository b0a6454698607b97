import NIOSSL

/// Certificate pinning by public key: the SHA-256 of the server certificate's
/// SubjectPublicKeyInfo (DER), written as curl's `--pinnedpubkey` and HPKP write it,
/// `sha256//BASE64` (the prefix may be left out). The connection is accepted when the leaf's key
/// matches any pin; the chain is still verified unless `insecure` is set (then the pin alone
/// decides, as curl does). A mismatch fails the handshake with `mismatchCode`.
public struct PublicKeyPins: Hashable, Sendable {
    /// The failure's code, in the 2305xxx range of certificate errors but outside OpenSSL's
    /// (`2305000 + X509_V_ERR_*`, which end below 2305100): "pinned public key mismatch".
    public static let mismatchCode: UInt32 = 2_305_900
    public static let mismatchMeaning = "the server's public key matches none of the pinned SPKI SHA-256 hashes"

    /// The 32-byte digests.
    public private(set) var digests: [[UInt8]]

    public init(_ pins: [String]) throws {
        digests = try pins.map { pin in
            var text = Substring(pin.trimmingCharacters(in: " "))
            if text.lowercased().hasPrefix("sha256//") { text = text.dropFirst(8) }
            guard text.utf8.count == 44, let bytes = Base64.decode(String(text)), bytes.count == 32 else {
                throw WebSocketError(.connectionError, "invalid public key pin '\(pin)': expected sha256// and the base64 of a SHA-256 digest (44 characters)")
            }
            return bytes
        }
    }

    public var isEmpty: Bool { digests.isEmpty }

    /// The pin of a SubjectPublicKeyInfo (DER): `sha256//` and the base64 of its digest.
    public static func pin(ofSPKI spki: [UInt8]) -> String { "sha256//" + Base64.encode(Digest.sha256(spki)) }

    public func matches(spki: [UInt8]) -> Bool {
        let digest = Digest.sha256(spki)
        return digests.contains(digest)
    }
}

extension PublicKeyPins {
    /// The pin check of a handshake: valid when the leaf's public key matches a pin, else the
    /// failure with `mismatchCode`, naming the key the server presented.
    func check(leaf: NIOSSLCertificate?) -> CertificateVerificationResult {
        guard let spki = try? leaf?.extractPublicKey().toSPKIBytes() else {
            return CertificateVerificationResult(code: Self.mismatchCode, openSSLError: 0, depth: 0, subject: nil,
                                                 reason: "the server presented no readable public key", crlChecked: false)
        }
        if matches(spki: spki) { return .valid }
        return CertificateVerificationResult(code: Self.mismatchCode, openSSLError: 0, depth: 0, subject: nil,
                                             reason: "\(Self.mismatchMeaning); the server's is \(Self.pin(ofSPKI: spki))",
                                             crlChecked: false)
    }
}
