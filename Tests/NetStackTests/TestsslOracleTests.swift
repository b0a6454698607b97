import Foundation
import NetStackTestServer
import XCTest

/// `netstack audit` against testssl.sh (Debian's package) on local TLS servers started here: a
/// good chain, an expired certificate, a wrong host, a missing intermediate, a certificate
/// revoked in a CRL served over http, and a stapled OCSP response saying revoked. Both tools must
/// reach the same verdict on everything both check.
final class TestsslOracleTests: XCTestCase {
    struct Verdicts: Equatable, CustomStringConvertible {
        var trusted: Bool
        var hostMatches: Bool
        var expired: Bool
        var crlRevoked: Bool
        var stapled: Bool
        var stapleRevoked: Bool
        var description: String {
            "trusted=\(trusted) host=\(hostMatches) expired=\(expired) crlRevoked=\(crlRevoked) stapled=\(stapled) stapleRevoked=\(stapleRevoked)"
        }
    }

    func testAuditAgreesWithTestssl() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/testssl") else {
            let why = "testssl.sh is not installed: run scripts/bootstrap"
            if ProcessInfo.processInfo.environment["NETSTACK_REQUIRE_INTEROP"] == "1" { throw CLITests.Failure(why) }
            throw XCTSkip(why)
        }
        let lab = CertificateLab.shared
        let dir = NSTemporaryDirectory() + "netstack-testssl-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let http = try StaticHTTPServer(directory: dir)
        defer { http.stop() }
        let crlURL = http.url("inter.crl")
        func issue(_ name: String, san: String, crl: Bool = true, expired: Bool = false) throws -> (cert: String, key: String) {
            let ext = dir + "/\(name).ext"
            try ("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=\(san)\n"
                 + "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n" + (crl ? "crlDistributionPoints=URI:\(crlURL)\n" : ""))
                .write(toFile: ext, atomically: true, encoding: .utf8)
            try TestPKI.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir + "/\(name).key",
                                 "-out", dir + "/\(name).csr", "-subj", "/CN=localhost"])
            var args = ["ca", "-batch", "-config", lab.dir + "/inter.cnf", "-in", dir + "/\(name).csr", "-out", dir + "/\(name).pem",
                        "-extfile", ext, "-notext"]
            args += expired ? ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"] : ["-days", "90"]
            try TestPKI.openssl(args)
            return (dir + "/\(name).pem", dir + "/\(name).key")
        }
        let good = try issue("good", san: "DNS:localhost,IP:127.0.0.1")
        let expired = try issue("expired", san: "DNS:localhost,IP:127.0.0.1", expired: true)
        let wrongHost = try issue("wronghost", san: "DNS:other.example")
        let revoked = try issue("revoked", san: "DNS:localhost,IP:127.0.0.1")
        let stapleRevoked = try issue("staplerevoked", san: "DNS:localhost,IP:127.0.0.1", crl: false)
        for c in [revoked, stapleRevoked] { try TestPKI.openssl(["ca", "-config", lab.dir + "/inter.cnf", "-revoke", c.cert]) }
        try TestPKI.openssl(["ca", "-config", lab.dir + "/inter.cnf", "-gencrl", "-out", dir + "/inter.crl.pem"])
        try TestPKI.openssl(["crl", "-in", dir + "/inter.crl.pem", "-outform", "DER", "-out", dir + "/inter.crl"])
        func ocsp(_ c: (cert: String, key: String)) throws -> String {
            let out = c.cert + ".ocsp"
            try TestPKI.openssl(["ocsp", "-index", lab.dir + "/inter-db/index.txt", "-rsigner", lab.path("inter"), "-rkey", lab.dir + "/inter.key",
                                 "-CA", lab.path("inter"), "-issuer", lab.path("inter"), "-cert", c.cert, "-respout", out, "-ndays", "1"])
            return out
        }

        let inter = lab.path("inter")
        let cases: [(name: String, server: OpenSSLServer)] = [
            ("good chain, good staple", try OpenSSLServer(cert: good.cert, key: good.key, chain: inter, staple: try ocsp(good))),
            ("expired", try OpenSSLServer(cert: expired.cert, key: expired.key, chain: inter)),
            ("wrong host", try OpenSSLServer(cert: wrongHost.cert, key: wrongHost.key, chain: inter)),
            ("missing intermediate", try OpenSSLServer(cert: good.cert, key: good.key)),
            ("revoked (CRL served)", try OpenSSLServer(cert: revoked.cert, key: revoked.key, chain: inter)),
            ("revoked (stapled OCSP)", try OpenSSLServer(cert: stapleRevoked.cert, key: stapleRevoked.key, chain: inter, staple: try ocsp(stapleRevoked))),
        ]
        defer { cases.forEach { $0.server.stop() } }
        let targets = cases.map { "localhost:\($0.server.port)" }

        // netstack first, alone (it takes well under a second): each `openssl s_server` serves one
        // connection at a time, and testssl.sh sends each hundreds. Run beside testssl.sh, the audit
        // once did not finish within 60 s in a CI run (not reproduced in 60 runs beside it here,
        // 2.6 s at most); runNetstack's error now carries what the process printed so far.
        let auditStart = Date()
        let r = try runNetstack(["audit", "--ca", lab.path("root"), "--warn-days", "7", "--format", "json"] + targets, timeout: 60)
        print("netstack audit of the six servers: \(String(format: "%.1f", Date().timeIntervalSince(auditStart))) s")
        let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let results = try XCTUnwrap(report?["targets"] as? [[String: Any]], r.out + r.err)

        // Then testssl.sh, all six at once (each takes about half a minute).
        let group = DispatchGroup()
        final class Reports: @unchecked Sendable {
            private let lock = NSLock()
            private var byIndex: [Int: [String: (severity: String, finding: String)]] = [:]
            func set(_ i: Int, _ r: [String: (severity: String, finding: String)]) { lock.lock(); byIndex[i] = r; lock.unlock() }
            subscript(_ i: Int) -> [String: (severity: String, finding: String)]? { lock.lock(); defer { lock.unlock() }; return byIndex[i] }
        }
        let theirs = Reports()
        for (i, target) in targets.enumerated() {
            group.enter()
            Thread {
                defer { group.leave() }
                let json = dir + "/testssl-\(i).json"
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/testssl")
                p.arguments = ["--quiet", "--warnings", "off", "--color", "0", "-S", "--phone-out", "--add-ca", lab.path("root"),
                               "--jsonfile", json, target]
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try? p.run()
                p.waitUntilExit()
                let rows = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))) as? [[String: Any]] ?? []
                var byID: [String: (severity: String, finding: String)] = [:]
                for r in rows { if let id = r["id"] as? String { byID[id] = ("\(r["severity"] ?? "")", "\(r["finding"] ?? "")") } }
                theirs.set(i, byID)
            }.start()
        }

        XCTAssertEqual(group.wait(timeout: .now() + 300), .success, "testssl.sh finished")

        var table = "| server | netstack audit | testssl.sh |\n|---|---|---|\n"
        for (i, c) in cases.enumerated() {
            let mine = results[i]
            let findings = ((mine["findings"] as? [[String: Any]]) ?? []).map { "\($0["message"] ?? "")" }
            let crl = (mine["crl"] as? [[String: Any]]) ?? []
            let ours = Verdicts(trusted: (mine["verifyCode"] as? Int) == 0,
                                hostMatches: !findings.contains { $0.hasPrefix("hostname mismatch") },
                                expired: findings.contains { $0.hasPrefix("certificate expired") },
                                crlRevoked: crl.contains { $0["certificate"] as? Int == 1 && $0["status"] as? String == "revoked" },
                                stapled: (mine["ocspStaple"] as? String ?? "none") != "none",
                                stapleRevoked: mine["ocspStaple"] as? String == "revoked")
            let t = theirs[i] ?? [:]
            XCTAssertNotNil(t["cert_chain_of_trust"], "testssl.sh reported on \(c.name)")
            let other = Verdicts(trusted: t["cert_chain_of_trust"]?.severity == "OK",
                                 hostMatches: t["cert_trust"]?.finding.hasPrefix("Ok") ?? false,
                                 expired: t["cert_expirationStatus"]?.finding == "expired",
                                 crlRevoked: t["cert_crlRevoked"]?.finding == "revoked",
                                 stapled: t["OCSP_stapling"]?.finding == "offered",
                                 stapleRevoked: t["cert_ocspRevoked"]?.finding == "revoked")
            table += "| \(c.name) | \(ours) | \(other) |\n"
            XCTAssertEqual(ours, other, c.name)
        }
        print(table)
        // The cases differ where they should.
        XCTAssertEqual(results.first?["status"] as? String, "OK", "the good server: \(results.first ?? [:])")
        XCTAssertTrue(table.contains("trusted=false"), table)
    }
}
