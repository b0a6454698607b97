import Foundation
import NetStack
import XCTest

/// The certificate conformance corpus (Tests/CertCorpus): generated here with Python's
/// `cryptography` (the venv scripts/bootstrap makes), run through `netstack verify --strict` and
/// `openssl verify` at its strictest, each scored against the verdict the standard requires.
final class CertificateCorpusTests: XCTestCase {
    struct Outcome: Decodable {
        let name: String
        let category: String
        let expect: String
        let netstack: String
        let netstack_detail: String
        let openssl: String
    }

    static func python() throws -> String {
        let env = ProcessInfo.processInfo.environment
        let python = env["NETSTACK_PYTHON"] ?? CLITests.root.path + "/.build-venv/bin/python"
        guard (try? runTool(python, ["-c", "import cryptography"]))?.0 == 0 else {
            let why = "no Python with `cryptography` at \(python): run scripts/bootstrap"
            if env["NETSTACK_REQUIRE_INTEROP"] == "1" { throw CLITests.Failure(why) }
            throw XCTSkip(why)
        }
        return python
    }

    func testCorpusAgreesWithTheStandardWhereverOpenSSLDoes() throws {
        let python = try Self.python()
        let dir = NSTemporaryDirectory() + "netstack-cert-corpus-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (genStatus, genOut) = try runTool(python, ["Tests/CertCorpus/generate.py", dir], cwd: CLITests.root.path)
        XCTAssertEqual(genStatus, 0, genOut)
        let report = dir + "/results.json"
        let (status, table) = try runTool(python, ["Tests/CertCorpus/run.py", CLITests.buildDir + "/netstack", dir, "--json", report], cwd: CLITests.root.path)
        print(table)
        XCTAssertEqual(status, 0, "netstack disagrees with the standard where openssl agrees:\n\(table)")
        let outcomes = try JSONDecoder().decode([Outcome].self, from: Data(contentsOf: URL(fileURLWithPath: report)))
        XCTAssertGreaterThanOrEqual(outcomes.count, 150, "the corpus has at least 150 cases")
        XCTAssertFalse(outcomes.contains { $0.netstack == "error" }, "every case gave a verdict")
        let ours = outcomes.filter { $0.netstack == $0.expect }.count
        let openssl = outcomes.filter { $0.openssl == $0.expect }.count
        XCTAssertGreaterThan(ours, openssl, "strict mode is stricter than OpenSSL's strictest where the standard says so")
        XCTAssertGreaterThanOrEqual(Double(ours) / Double(outcomes.count), 0.98, table)
        // Every strict check the chain can reach fires on at least one case, with its own code.
        let codes = Set(outcomes.compactMap { Int($0.netstack_detail.split(separator: " ").first ?? "") })
        for check in StrictCheck.allCases {
            XCTAssertTrue(codes.contains(Int(check.code)), "no corpus case gives \(check.code) (\(check.meaning))")
        }
        XCTAssertGreaterThanOrEqual(Set(outcomes.map(\.category)).count, 12, "categories")
    }

    func testVerifyCommandTakesEveryKnob() throws {
        let lab = CertificateLab.shared
        func verify(_ args: [String]) throws -> (Int32, [String: Any]) {
            let r = try runNetstack(["verify", "--json"] + args)
            let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any] ?? [:]
            return (r.status, object)
        }
        let root = lab.path("root")
        XCTAssertEqual(try verify([lab.path("leaf"), "--ca", root, "--untrusted", lab.path("inter")]).0, 0)
        XCTAssertEqual(try verify([lab.path("revoked"), "--ca", root, "--untrusted", lab.path("inter"), "--crl", lab.path("crl.inter"),
                                   "--crl", lab.path("crl.root")]).1["code"] as? Int, 2_305_023)
        XCTAssertEqual(try verify([lab.path("leaf+inter"), "--ca", root, "--email", "x@leaf.test"]).1["code"] as? Int, 2_305_063)
        XCTAssertEqual(try verify([lab.path("leaf+inter"), "--ca", root, "--purpose", "client"]).1["code"] as? Int, 2_305_026)
        XCTAssertEqual(try verify([lab.path("leaf+inter"), "--ca", root, "--max-depth", "0"]).1["code"] as? Int, 2_305_022)
        XCTAssertEqual(try verify([lab.path("leaf+inter"), "--ca", root, "--at", "0"]).1["code"] as? Int, 2_305_009)
        XCTAssertEqual(try verify([lab.path("weak"), "--ca", root, "--untrusted", lab.path("inter"), "--security-level", "2"]).1["code"] as? Int, 2_305_066)
        XCTAssertEqual(try verify([lab.path("leaf"), "--ca", lab.path("inter"), "--partial-chain"]).0, 0)
        let strict = try verify([lab.path("leaf+inter"), "--ca", root, "--strict"])
        XCTAssertEqual(strict.0, 1)
        XCTAssertEqual(strict.1["code"] as? Int, 2_305_807)
        XCTAssertEqual(strict.1["depth"] as? Int, 0)
        for bad in [["--purpose", "mail"], ["--max-depth", "101"], ["--security-level", "9"], ["--at", "1e300"]] {
            let r = try runNetstack(["verify", lab.path("leaf+inter")] + bad)
            XCTAssertEqual(r.status, 64, "\(bad): \(r.err)")
        }
    }
}
