import Foundation
import NetStackTestServer
import XCTest

/// `netstack audit`'s verification knobs (those of `netstack verify`) and its opt-in OCSP
/// queries, against the certificate lab's files and servers.
final class AuditOptionsTests: XCTestCase {
    /// The JSON report's first target.
    func audit(_ args: [String]) throws -> (status: Int32, target: [String: Any], out: String) {
        let r = try runNetstack(["audit", "--lenient", "--no-crl-fetch", "--warn-days", "1", "--format", "json"] + args)
        let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let target = try XCTUnwrap((report?["targets"] as? [[String: Any]])?.first, r.out + r.err)
        return (r.status, target, r.out)
    }

    func findings(_ target: [String: Any]) -> String { "\(target["findings"] ?? "")" }

    func testAuditTakesVerifysKnobs() throws {
        let lab = CertificateLab.shared
        let root = lab.path("root"), chain = lab.path("leaf+inter")
        let plain = try audit(["--ca", root, chain])
        XCTAssertEqual(plain.target["verifyCode"] as? Int, 0, plain.out)
        XCTAssertEqual(plain.target["status"] as? String, "OK", plain.out)

        // --at: verification and expiry both as of that time.
        let past = try audit(["--ca", root, "--at", "0", chain])
        XCTAssertEqual(past.target["verifyCode"] as? Int, 2_305_009, past.out)
        XCTAssertTrue(findings(past.target).contains("not valid before"), past.out)
        let future = try audit(["--ca", root, "--at", "\(Int(Date().timeIntervalSince1970) + 400 * 86_400)", chain])
        XCTAssertEqual(future.target["verifyCode"] as? Int, 2_305_010, future.out)
        XCTAssertTrue(findings(future.target).contains("expired"), future.out)
        XCTAssertLessThan(future.target["daysLeft"] as? Int ?? 0, 0, future.out)

        XCTAssertEqual(try audit(["--ca", root, "--purpose", "client", chain]).target["verifyCode"] as? Int, 2_305_026)
        XCTAssertEqual(try audit(["--ca", root, "--purpose", "any", chain]).target["verifyCode"] as? Int, 0)
        XCTAssertEqual(try audit(["--ca", root, "--max-depth", "0", chain]).target["verifyCode"] as? Int, 2_305_022)
        XCTAssertEqual(try audit(["--ca", root, "--email", "someone@leaf.test", chain]).target["verifyCode"] as? Int, 2_305_063)
        let weak = try audit(["--ca", root, "--untrusted", lab.path("inter"), "--security-level", "2", lab.path("weak")])
        XCTAssertEqual(weak.target["verifyCode"] as? Int, 2_305_066, weak.out)

        // Intermediates given apart: trusted, and the incomplete chain is a finding.
        let alone = try audit(["--ca", root, lab.path("leaf")])
        XCTAssertEqual(alone.target["verifyCode"] as? Int, 2_305_020, alone.out)
        let helped = try audit(["--ca", root, "--untrusted", lab.path("inter"), lab.path("leaf")])
        XCTAssertEqual(helped.target["verifyCode"] as? Int, 0, helped.out)
        XCTAssertEqual(helped.target["status"] as? String, "WARN", helped.out)
        XCTAssertTrue(findings(helped.target).contains("chain incomplete"), helped.out)
        XCTAssertEqual(try audit(["--ca", root, "--untrusted", lab.path("inter.der"), lab.path("leaf")]).target["verifyCode"] as? Int, 0,
                       "a DER intermediate")

        XCTAssertEqual(try audit(["--ca", lab.path("inter"), lab.path("leaf")]).target["verifyCode"] as? Int, 2_305_002)
        XCTAssertEqual(try audit(["--ca", lab.path("inter"), "--partial-chain", lab.path("leaf")]).target["verifyCode"] as? Int, 0)

        let named = try audit(["--ca", root, "--hostname", "other.test", chain])
        XCTAssertEqual(named.target["status"] as? String, "FAIL", named.out)
        XCTAssertTrue(findings(named.target).contains("hostname mismatch: other.test"), named.out)
        XCTAssertEqual(try audit(["--ca", root, "--hostname", "leaf.test", chain]).target["status"] as? String, "OK")

        // RFC 5280 policy inputs: the lab's chain asserts no policy, so a required explicit
        // policy fails it; the inputs alone change nothing.
        let explicit = try audit(["--ca", root, "--explicit-policy", "--policy", "2.23.140.1.1", chain])
        XCTAssertEqual(explicit.target["verifyCode"] as? Int, 2_305_043, explicit.out)
        XCTAssertEqual(explicit.target["status"] as? String, "FAIL", explicit.out)
        XCTAssertEqual(try audit(["--ca", root, "--policy", "2.23.140.1.1", "--policy", "anyPolicy", "--inhibit-policy-mapping",
                                  "--inhibit-any-policy", chain]).target["verifyCode"] as? Int, 0)

        for bad in [["--at", "1e300"], ["--purpose", "mail"], ["--max-depth", "256"], ["--security-level", "6"], ["--hostname", "a,b"],
                    ["--untrusted", "/nonexistent/inter.pem"], ["--policy", "1.2.03"], ["--policy", "x"],
                    // The plugin's own options given with -P: refused as usage too, not as a WARN's 1.
                    ["-P", "audit.policies=1.2.03"], ["-P", "audit.maxDepth=300"], ["-P", "audit.bogus=1"]] {
            let r = try runNetstack(["audit", "--ca", root] + bad + [chain])
            XCTAssertEqual(r.status, 64, "\(bad): \(r.out) \(r.err)")
        }
    }

    /// `--ocsp` (and Lua's `fetchChain` with `ocsp = true`): certificates naming a responder run by
    /// `openssl ocsp` over the lab's CA database (one good, one revoked) and one naming a port
    /// where nothing listens.
    func testOCSPRespondersAskedByAuditAndLua() throws {
        let lab = CertificateLab.shared
        let dir = NSTemporaryDirectory() + "netstack-ocsp-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let responderPort = try ProxyTests.ProxyProcess.freePort()
        let deadPort = try ProxyTests.ProxyProcess.freePort()
        func issue(_ name: String, responder: Int) throws -> String {
            try lab.issueServerLeaf(name, in: dir, extra: "authorityInfoAccess=OCSP;URI:http://127.0.0.1:\(responder)/")
        }
        let good = try issue("ocsp-good", responder: responderPort)
        let revoked = try issue("ocsp-revoked", responder: responderPort)
        let silent = try issue("ocsp-silent", responder: deadPort)
        try TestPKI.openssl(["ca", "-config", lab.dir + "/inter.cnf", "-revoke", revoked, "-crl_reason", "keyCompromise"])
        let responder = Process()
        responder.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        responder.arguments = ["ocsp", "-index", lab.dir + "/inter-db/index.txt", "-port", "\(responderPort)", "-rsigner", lab.path("inter"),
                               "-rkey", lab.dir + "/inter.key", "-CA", lab.path("inter"), "-ndays", "1"]
        // Ready when it says so: a probe connection that sends nothing stalls this responder.
        let log = dir + "/responder.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        responder.standardOutput = logHandle
        responder.standardError = logHandle
        try responder.run()
        defer { responder.terminate(); responder.waitUntilExit() }
        let ready = Date().addingTimeInterval(10)
        while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("waiting for OCSP client connections") {
            guard Date() < ready, responder.isRunning else { throw CLITests.Failure("openssl ocsp did not start: " + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")) }
            usleep(20_000)
        }
        let servers = try [good, revoked, silent].map {
            try OpenSSLServer(cert: $0, key: $0.replacingOccurrences(of: ".pem", with: ".key"), chain: lab.path("inter"))
        }
        defer { servers.forEach { $0.stop() } }
        let targets = servers.map { "127.0.0.1:\($0.port)" }

        let r = try runNetstack(["audit", "--ca", lab.path("root"), "--lenient", "--no-crl-fetch", "--warn-days", "1", "--ocsp", "--timeout", "3000",
                                 "--concurrency", "1", "--format", "json"] + targets)
        let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let results = try XCTUnwrap(report?["targets"] as? [[String: Any]], r.out + r.err)
        XCTAssertEqual(results.map { $0["status"] as? String }, ["OK", "FAIL", "WARN"], results.map(findings).joined(separator: "\n"))
        func ocsp(_ i: Int) -> [String] { ((results[i]["ocsp"] as? [[String: Any]]) ?? []).map { "\($0["certificate"]!) \($0["status"]!)" } }
        XCTAssertEqual(ocsp(0), ["1 good"], findings(results[0]))
        XCTAssertEqual(ocsp(1), ["1 revoked"], findings(results[1]))
        XCTAssertEqual(ocsp(2), ["1 unavailable"], findings(results[2]))
        XCTAssertTrue(findings(results[1]).contains("certificate revoked (OCSP responder http://127.0.0.1:\(responderPort)/: revoked: keyCompromise"),
                      findings(results[1]))
        XCTAssertTrue(findings(results[2]).contains("not reached"), findings(results[2]))
        XCTAssertEqual(r.status, 2, "a FAIL: exit 2")

        // From Lua: fetchChain with ocsp = true (callback form); the blocking form refuses it.
        let script = NSTemporaryDirectory() + "ocsp-\(getpid()).lua"
        defer { try? FileManager.default.removeItem(atPath: script) }
        try """
        local ns = require "netstack"
        local port, ca = tonumber(arg[1]), arg[2]
        ns.fetchChain("127.0.0.1", port, { caFile = ca, ocsp = true, timeout = 3000 }, function(r, err)
          assert(r, err)
          local o = r.ocspFetched[1]
          print(#r.ocspFetched, o.certificate, o.status, o.reason, o.revokedAt ~= nil, o.nextUpdate ~= nil, o.url)
        end)
        local ok, why = pcall(ns.fetchChain, "127.0.0.1", port, { ocsp = true })
        print(ok, why)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let lua = try runNetstack(["run", script, "--", "\(servers[1].port)", lab.path("root")])
        XCTAssertEqual(lua.status, 0, lua.err)
        XCTAssertTrue(lua.out.contains("false\tbad argument #3 to 'fetchChain' (ocsp = true needs a callback)"), lua.out)
        XCTAssertTrue(lua.out.contains("1\t1\trevoked\trevoked: keyCompromise\ttrue\ttrue\thttp://127.0.0.1:\(responderPort)/"), lua.out)

        // Opt-in: without --ocsp no responder is asked and the revoked certificate passes.
        let without = try runNetstack(["audit", "--ca", lab.path("root"), "--lenient", "--no-crl-fetch", "--warn-days", "1", "--format", "json", targets[1]])
        XCTAssertEqual(without.status, 0, String(without.out.prefix(2000)))
        XCTAssertFalse(without.out.contains("\"ocsp\":["), without.out)
    }
}
