import NetStack

/// Certificates from files and servers: parsing, inspection and verification.
enum CertificateFuzz {
    /// Input: byte 0 picks PEM or DER for the certificate and the CA; the rest is both.
    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 1 else { return }
        let certType: CertificateBlobType = input[0] & 1 == 0 ? .pem : .der
        let caType: CertificateBlobType = input[0] & 2 == 0 ? .pem : .der
        let blob = Array(input[1...])
        for info in CertificateInfo.parse(blob, type: certType) {
            _ = info.daysUntilExpiry()
            precondition(info.sha256Fingerprint.count == 64 || info.sha256Fingerprint.count == 95, "odd fingerprint \(info.sha256Fingerprint)")
        }
        let result = CertificateVerifier.verify(cert: blob, certType: certType, ca: blob, caType: caType)
        precondition(result.isValid == (result.code == 0))
        // The code is always one of the documented ones.
        precondition(result.code == 0 || (2_305_001...2_305_999).contains(result.code), "undocumented code \(result.code)")
    }
}
