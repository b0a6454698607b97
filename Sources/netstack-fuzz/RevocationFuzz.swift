import Foundation
import NetStack

/// Revocation answers from servers: an OCSP response (from a responder, or stapled) and a CRL
/// (from a distribution point), checked against a fixed chain (a root and two leaves it issued,
/// one of them revoked; made with the openssl CLI, valid until 2125). Input: byte 0 picks OCSP or
/// CRL (bit 0), the leaf (bit 1) and whether the root is sent in the chain (bit 2); the rest is
/// the answer (a fetched and a stapled OCSP response go through the same check). Checked: the
/// verdict is a documented status with a reason; "revoked" carries its time for OCSP; a request
/// can always be made for the fixed chain.
enum RevocationFuzz {
    static let rootPEM = """
-----BEGIN CERTIFICATE-----
MIIBkDCCATWgAwIBAgIUXiOzQB2LWmhs5jX/X1nUKpduNjEwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJRnV6eiBSb290MCAXDTI2MTEyOTE1MzgwMFoYDzIxMjYxMTA1
MTUzODAwWjAUMRIwEAYDVQQDDAlGdXp6IFJvb3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATQAZnFhHpUpQpXn+VhFNIzvDPISiyjLrj55149JBWSU3fkRKcochN1
fSnVLutFiUwVccWt+MaaAwf1WauuuV2Eo2MwYTAdBgNVHQ4EFgQUVgetXRmzfrQt
SfxqwwrGm5poTHowHwYDVR0jBBgwFoAUVgetXRmzfrQtSfxqwwrGm5poTHowDwYD
VR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwIDSQAwRgIh
ALB+Y7zWshtXT3bRKNiXnpT2ra5QF8YByZpH1iTM5SW6AiEA7djG8ZMZH1+VFe8F
AjExS1D48te8PMiSYvtF54uiniE=
-----END CERTIFICATE-----
"""
    static let leafPEMs = ["""
-----BEGIN CERTIFICATE-----
MIIB/DCCAaGgAwIBAgICEAAwCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJRnV6eiBS
b290MCAXDTI2MTEyOTE1MzgwMFoYDzIxMjYxMTA1MTUzODAwWjAPMQ0wCwYDVQQD
DARnb29kMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElX3Xj3gtsbI9pyy+LHIt
i4o0P019YcIqLZELwlZ85AHmblpuZ/O/7DEiW7cumclQ/1JTBIFIGZmCOOwL5sgQ
ZqOB5TCB4jAJBgNVHRMEAjAAMAsGA1UdDwQEAwIHgDATBgNVHSUEDDAKBggrBgEF
BQcDATAUBgNVHREEDTALgglmdXp6LnRlc3QwLwYIKwYBBQUHAQEEIzAhMB8GCCsG
AQUFBzABhhNodHRwOi8vMTI3LjAuMC4xOjEvMCwGA1UdHwQlMCMwIaAfoB2GG2h0
dHA6Ly8xMjcuMC4wLjE6MS9yb290LmNybDAdBgNVHQ4EFgQUQQ7my5UBhfmM7WmA
B/YkNhfuV20wHwYDVR0jBBgwFoAUVgetXRmzfrQtSfxqwwrGm5poTHowCgYIKoZI
zj0EAwIDSQAwRgIhAP71KCTr7QebN2ZkoxkWPOaMXoJ09n4lDAD36W4QrSMdAiEA
wvacw+bOH6vfCxMvTYwA0ahBDHeqDMgjTIpPBQnZPUc=
-----END CERTIFICATE-----
""", """
-----BEGIN CERTIFICATE-----
MIIB/jCCAaSgAwIBAgICEAEwCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJRnV6eiBS
b290MCAXDTI2MTEyOTE1MzgwMFoYDzIxMjYxMTA1MTUzODAwWjASMRAwDgYDVQQD
DAdyZXZva2VkMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEziYhBTTFNiTbzuI/
xKxXqm0ROPU6dEdN/wk4xVS6GZdMBzJJOLWhYY0DIUiSudiSN3zI5nfNntxlGCup
u3i4fqOB5TCB4jAJBgNVHRMEAjAAMAsGA1UdDwQEAwIHgDATBgNVHSUEDDAKBggr
BgEFBQcDATAUBgNVHREEDTALgglmdXp6LnRlc3QwLwYIKwYBBQUHAQEEIzAhMB8G
CCsGAQUFBzABhhNodHRwOi8vMTI3LjAuMC4xOjEvMCwGA1UdHwQlMCMwIaAfoB2G
G2h0dHA6Ly8xMjcuMC4wLjE6MS9yb290LmNybDAdBgNVHQ4EFgQUY6/bMWsewtZa
5xtSFZIzNGbZZV4wHwYDVR0jBBgwFoAUVgetXRmzfrQtSfxqwwrGm5poTHowCgYI
KoZIzj0EAwIDSAAwRQIgTGqW1KrX8iX1MFUg2Z+Ugt6aPf9w3nOZaGsrHpJ1yJgC
IQCBGmWZRtU4XF+Xz0Am2fnZiOr9g7MVYy6nypdd449J2Q==
-----END CERTIFICATE-----
"""]

    static func der(_ pem: String) -> [UInt8] {
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        return Array(Data(base64Encoded: body)!)
    }

    static let root = der(rootPEM)
    static let leaves = leafPEMs.map(der)
    static let store: CertificateStore = {
        let path = NSTemporaryDirectory() + "netstack-fuzz-root-\(getpid()).pem"
        _ = FileManager.default.createFile(atPath: path, contents: Data(rootPEM.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let s = try CertificateStore(caFile: path, caPath: nil)
            // The fixed chain always yields a request.
            guard case .success(let request) = OCSPCheck.makeRequest(chain: [der(leafPEMs[0])], index: 0, store: s), !request.isEmpty else {
                fatalError("revocation: no OCSP request for the fixed chain")
            }
            return s
        } catch {
            fatalError("revocation: cannot load the fixed root: \(error)")
        }
    }()

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 1 else { return }
        let flags = input[0]
        let answer = Array(input[1...])
        var chain = [leaves[Int(flags >> 1) & 1]]
        if flags & 4 != 0 { chain.append(root) }
        if flags & 1 == 0 {
            let s = OCSPCheck.evaluate(response: answer, chain: chain, index: 0, store: store, url: "http://fuzz/")
            precondition(!s.reason.isEmpty, "OCSP verdict without a reason")
            precondition(s.status != .revoked || s.revokedAt != nil, "revoked without a time")
            precondition(s.status != .unavailable, "an answer was given")
        } else {
            let c = CRLCheck.evaluate(crl: answer, chain: chain, index: 0, store: store, url: "http://fuzz/")
            precondition(!c.reason.isEmpty, "CRL verdict without a reason")
            precondition(c.status != .unavailable, "a CRL was given")
        }
    }
}
