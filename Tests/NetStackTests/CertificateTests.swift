import Foundation
import NetStack
import XCTest

/// Verification codes for a PKI made at test time, each checked against `openssl verify`.
final class CertificateTests: XCTestCase {
    var lab: CertificateLab { CertificateLab.shared }

    struct Case {
        var name: String
        var cert: String
        var certType: CertificateBlobType = .pem
        var ca: String
        var caType: CertificateBlobType = .pem
        var expected: UInt32
        /// openssl verify: leaf, untrusted, CAfile, CRL file.
        var openssl: (leaf: String, untrusted: String?, ca: String, crls: String?)?
    }

    func testEveryCaseGivesTheExactCodeAndAgreesWithOpenSSL() throws {
        let cases: [Case] = [
            Case(name: "valid chain", cert: "leaf+inter", ca: "root", expected: 0, openssl: ("leaf", "inter", "root", nil)),
            Case(name: "valid, DER leaf, CA blob with two certificates", cert: "leaf.der", certType: .der, ca: "inter+root", expected: 0, openssl: ("leaf", nil, "inter+root", nil)),
            Case(name: "DER trust anchor", cert: "inter", ca: "root.der", caType: .der, expected: 0, openssl: ("inter", nil, "root", nil)),
            Case(name: "several anchors", cert: "leaf+inter", ca: "root+other", expected: 0, openssl: ("leaf", "inter", "root+other", nil)),
            Case(name: "expired", cert: "expired+inter", ca: "root", expected: 2_305_010, openssl: ("expired", "inter", "root", nil)),
            Case(name: "not yet valid", cert: "notyet+inter", ca: "root", expected: 2_305_009, openssl: ("notyet", "inter", "root", nil)),
            Case(name: "self-signed leaf", cert: "self", ca: "root", expected: 2_305_018, openssl: ("self", nil, "root", nil)),
            Case(name: "wrong CA", cert: "leaf+inter", ca: "other", expected: 2_305_020, openssl: ("leaf", "inter", "other", nil)),
            Case(name: "missing intermediate", cert: "leaf", ca: "root", expected: 2_305_020, openssl: ("leaf", nil, "root", nil)),
            Case(name: "CA:FALSE issuer", cert: "undernotca+notca", ca: "root", expected: 2_305_024, openssl: ("undernotca", "notca", "root", nil)),
            Case(name: "tampered signature", cert: "tampered+inter", ca: "root", expected: 2_305_007, openssl: ("leaf.tampered", "inter", "root", nil)),
            Case(name: "valid with CRLs", cert: "leaf+inter", ca: "root+crls", expected: 0, openssl: ("leaf", "inter", "root", "crls")),
            Case(name: "revoked", cert: "revoked+inter", ca: "root+crls", expected: 2_305_023, openssl: ("revoked", "inter", "root", "crls")),
            Case(name: "CRL expired", cert: "leaf+inter", ca: "root+crls.expired", expected: 2_305_012, openssl: ("leaf", "inter", "root", "crls.expired")),
            Case(name: "CRL not yet valid", cert: "leaf+inter", ca: "root+crls.notyet", expected: 2_305_011, openssl: ("leaf", "inter", "root", "crls.notyet")),
            Case(name: "CRL bad signature", cert: "leaf+inter", ca: "root+crls.badsig", expected: 2_305_008, openssl: ("leaf", "inter", "root", "crls.badsig")),
            Case(name: "missing CRL with checking on", cert: "leaf+inter", ca: "root+intercrl", expected: 2_305_003, openssl: ("leaf", "inter", "root", "crl.inter")),
            Case(name: "garbage certificate", cert: "garbage", ca: "root", expected: CertificateVerifier.invalidInputCode),
            Case(name: "garbage CA", cert: "leaf", ca: "garbage", expected: CertificateVerifier.invalidInputCode),
            Case(name: "PEM read as DER", cert: "leaf", certType: .der, ca: "root", expected: CertificateVerifier.invalidInputCode),
            Case(name: "invalid type", cert: "leaf", certType: .invalid, ca: "root", expected: CertificateVerifier.invalidInputCode),
        ]
        for c in cases {
            let result = CertificateVerifier.verify(cert: lab.bytes(c.cert), certType: c.certType, ca: lab.bytes(c.ca), caType: c.caType)
            XCTAssertEqual(result.code, c.expected, "\(c.name): \(result)")
            if let o = c.openssl {
                let theirs = try lab.opensslVerify(leaf: o.leaf, untrusted: o.untrusted, ca: o.ca, crls: o.crls)
                XCTAssertEqual(CertificateVerifier.code(forOpenSSLError: Int32(theirs)), c.expected, "\(c.name): openssl verify says \(theirs)")
            }
            XCTAssertFalse(CertificateVerifier.message(for: result.code).isEmpty)
        }
    }

    func testEmptyAndNullInputs() {
        XCTAssertEqual(CertificateVerifier.verify(cert: nil, certType: .pem, ca: nil).code, CertificateVerifier.invalidInputCode)
        XCTAssertEqual(CertificateVerifier.verify(cert: [], certType: .pem, ca: nil).code, CertificateVerifier.invalidInputCode)
        XCTAssertEqual(CertificateVerifier.verify(cert: lab.bytes("leaf"), certType: .pem, ca: []).code, CertificateVerifier.invalidInputCode)
    }

    func testSystemStoreIsUsedWithoutCA() {
        // Our private root is in no system store: the issuer cannot be found locally.
        let r = CertificateVerifier.verify(cert: lab.bytes("leaf+inter"), certType: .pem, ca: nil)
        XCTAssertEqual(r.code, 2_305_020, "\(r)")
        setenv("SSL_CERT_FILE", lab.path("root"), 1)
        defer { setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt", 1) }
        let dirBackup = getenv("SSL_CERT_DIR").map { String(cString: $0) }
        unsetenv("SSL_CERT_DIR")
        defer { if let d = dirBackup { setenv("SSL_CERT_DIR", d, 1) } }
        XCTAssertEqual(CertificateVerifier.verify(cert: lab.bytes("leaf+inter"), certType: .pem, ca: nil).code, 0, "SSL_CERT_FILE honoured")
    }

    func testAuditOptions() {
        func verify(_ o: CertificateVerificationOptions) -> UInt32 {
            CertificateVerifier.verify(cert: lab.bytes("leaf+inter"), certType: .pem, ca: lab.bytes("root"), options: o).code
        }
        XCTAssertEqual(verify(.init(hostname: "leaf.test")), 0)
        XCTAssertEqual(verify(.init(hostname: "other.test")), 2_305_062)
        XCTAssertEqual(verify(.init(ipAddress: "127.0.0.1")), 0)
        XCTAssertEqual(verify(.init(ipAddress: "10.0.0.1")), 2_305_064)
        XCTAssertEqual(verify(.init(atTime: Date(timeIntervalSince1970: 4_102_444_800))), 2_305_010, "in 2100 it has expired")
        XCTAssertEqual(verify(.init(atTime: Date(timeIntervalSince1970: 946_684_800))), 2_305_009, "in 2000 it was not yet valid")
        XCTAssertEqual(verify(.init(purposeTLSServer: true)), 0)
        // The options do not change the documented function's behaviour.
        XCTAssertEqual(verify(.init()), 0)
    }

    func testCodeMapping() {
        XCTAssertEqual(CertificateVerifier.code(forOpenSSLError: 0), 0)
        XCTAssertEqual(CertificateVerifier.code(forOpenSSLError: 79), 2_305_024, "OpenSSL 3 INVALID_CA")
        XCTAssertEqual(CertificateVerifier.code(forOpenSSLError: 24), 2_305_006, "NO_ISSUER_PUBLIC_KEY is not 'CA is invalid'")
        for e in Int32(1)...Int32(94) where e != 79 {
            XCTAssertNotEqual(CertificateVerifier.code(forOpenSSLError: e), 2_305_024, "only INVALID_CA is 2305024 (\(e))")
        }
        XCTAssertEqual(CertificateVerifier.code(forOpenSSLError: 10), 2_305_010)
        XCTAssertEqual(CertificateVerifier.message(for: 2_305_010), "certificate expired")
        XCTAssertTrue(CertificateVerifier.message(for: 2_305_062).lowercased().contains("hostname"), CertificateVerifier.message(for: 2_305_062))
        for (code, meaning) in CertificateVerifier.documented { XCTAssertEqual(CertificateVerifier.message(for: code), meaning) }
    }

    func testInspection() throws {
        let leaf = try XCTUnwrap(CertificateInfo.parse(lab.bytes("leaf"), type: .pem).first)
        XCTAssertEqual(leaf.commonName, "leaf")
        XCTAssertEqual(leaf.subject, "CN=leaf")
        XCTAssertEqual(leaf.issuer, "CN=inter")
        XCTAssertEqual(leaf.version, 3)
        XCTAssertEqual(leaf.dnsNames, ["leaf.test"])
        XCTAssertEqual(leaf.ipAddresses, ["127.0.0.1"])
        XCTAssertEqual(leaf.keyType, "EC")
        XCTAssertEqual(leaf.keyBits, 256)
        XCTAssertEqual(leaf.keyCurve, "prime256v1")
        XCTAssertEqual(leaf.signatureAlgorithm, "ecdsa-with-SHA256")
        XCTAssertFalse(leaf.isCA)
        XCTAssertEqual(leaf.keyUsage, ["digitalSignature"])
        XCTAssertEqual(leaf.extendedKeyUsage, ["serverAuth"])
        XCTAssertEqual(leaf.ocspURLs, ["http://ocsp.leaf.test"])
        XCTAssertEqual(leaf.caIssuersURLs, ["http://ca.leaf.test/inter.crt"])
        XCTAssertEqual(leaf.crlDistributionPoints, ["http://crl.leaf.test/inter.crl"])
        XCTAssertFalse(leaf.isSelfSigned)
        XCTAssertGreaterThan(leaf.daysUntilExpiry(), 29)
        XCTAssertLessThan(leaf.daysUntilExpiry(), 31)
        // Fingerprints agree with the openssl CLI.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = ["x509", "-in", lab.path("leaf"), "-noout", "-fingerprint", "-sha256"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertTrue(text.contains(leaf.sha256Fingerprint), "\(text) vs \(leaf.sha256Fingerprint)")
        XCTAssertEqual(leaf.sha1Fingerprint.count, 59)

        let chain = CertificateInfo.parse(lab.bytes("leaf+inter"), type: .pem)
        XCTAssertEqual(chain.map(\.commonName), ["leaf", "inter"])
        let root = try XCTUnwrap(CertificateInfo.parse(lab.bytes("root.der"), type: .der).first)
        XCTAssertTrue(root.isCA)
        XCTAssertTrue(root.isSelfSigned)
        XCTAssertEqual(root.subjectAttributes, ["C=XX", "O=NetStack Tests", "CN=root CA"])
        let weak = try XCTUnwrap(CertificateInfo.parse(lab.bytes("weak"), type: .pem).first)
        XCTAssertEqual(weak.keyType, "RSA")
        XCTAssertEqual(weak.keyBits, 1024)
        XCTAssertTrue(CertificateInfo.parse(lab.bytes("garbage"), type: .pem).isEmpty)
        XCTAssertNil(CertificateInfo(der: [1, 2, 3]))
    }
}
