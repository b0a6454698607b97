import NetStack

/// Certificates from files and servers: parsing, inspection and verification.
enum CertificateFuzz {
    /// Input: byte 0 picks PEM or DER for the certificate and the CA (bits 0-1) and the options of
    /// a second verification (bit 2 strict with the server purpose and a host name, bit 3 the blob
    /// again as untrusted intermediates, bit 4 as CRLs, bit 5 partial chains, bit 6 security level
    /// 2 and a maximum depth of 3, bit 7 RFC 5280's policy inputs: an initial set of two policies,
    /// explicit policy, both inhibits); the rest is every blob.
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
        var options = CertificateVerificationOptions()
        let flags = input[0]
        if flags & 4 != 0 {
            options = .strictServer
            options.hostname = "www.example.com"
        }
        if flags & 8 != 0 { options.untrusted = blob }
        if flags & 16 != 0 { options.crls = blob }
        options.partialChain = flags & 32 != 0
        if flags & 64 != 0 {
            options.securityLevel = 2
            options.maxDepth = 3
        }
        if flags & 128 != 0 {
            options.initialPolicies = ["2.23.140.1.2.1", "2.16.840.1.101.3.2.1.48.1"]
            options.explicitPolicy = true
            options.inhibitPolicyMapping = true
            options.inhibitAnyPolicy = true
        }
        let second = CertificateVerifier.verify(cert: blob, certType: certType, ca: blob, caType: caType, options: options)
        precondition(second.isValid == (second.code == 0))
        precondition(second.code == 0 || (2_305_001...2_305_999).contains(second.code), "undocumented code \(second.code)")
        precondition(second.code < 2_305_800 || StrictCheck(rawValue: Int32(second.code - 2_305_000)) != nil || second.code == PublicKeyPins.mismatchCode,
                     "unknown strict code \(second.code)")
    }
}
