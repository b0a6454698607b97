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

    /// The corpus, generated once for the class (removed when the class's tests end).
    static var corpusDir: String?
    static func corpus() throws -> String {
        if let dir = corpusDir { return dir }
        let python = try python()
        let dir = NSTemporaryDirectory() + "netstack-cert-corpus-\(getpid())"
        let (status, out) = try runTool(python, ["Tests/CertCorpus/generate.py", dir], cwd: CLITests.root.path)
        guard status == 0 else { throw CLITests.Failure("generate.py: \(out.suffix(2000))") }
        corpusDir = dir
        return dir
    }

    /// `run.py`'s scoring of the corpus (both tools on every case), made once for the class:
    /// its exit status, its table and the outcomes.
    static var scored: (status: Int32, table: String, outcomes: [Outcome])?
    static func score() throws -> (status: Int32, table: String, outcomes: [Outcome]) {
        if let s = scored { return s }
        let dir = try corpus()
        let report = dir + "/results.json"
        let (status, table) = try runTool(try python(), ["Tests/CertCorpus/run.py", CLITests.buildDir + "/netstack", dir, "--json", report],
                                          cwd: CLITests.root.path)
        let outcomes = (try? JSONDecoder().decode([Outcome].self, from: Data(contentsOf: URL(fileURLWithPath: report)))) ?? []
        scored = (status, table, outcomes)
        return scored!
    }

    override class func tearDown() {
        if let dir = corpusDir { try? FileManager.default.removeItem(atPath: dir) }
        corpusDir = nil
        scored = nil
        super.tearDown()
    }

    /// "NAME CODE" lines as a dictionary.
    static func codes(_ text: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let code = Int(parts[1]) { out[String(parts[0])] = code }
        }
        return out
    }

    func testCorpusAgreesWithTheStandardWhereverOpenSSLDoes() throws {
        let (status, table, outcomes) = try Self.score()
        print(table)
        XCTAssertEqual(status, 0, "netstack disagrees with the standard where openssl agrees:\n\(table)")
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

    /// Every case through Lua (`ns.verify` with `strict = true`) and through C
    /// (`NetStack_VerifyCertificationEx` with NETSTACK_VERIFY_STRICT, the server purpose and
    /// level 2) gives the code `netstack verify --strict` gives: every strict code and knob the
    /// corpus reaches is then produced from all three.
    func testLuaAndCGiveTheCLIsCodeOnEveryCase() throws {
        let dir = try Self.corpus()
        let manifest = try String(contentsOfFile: dir + "/manifest.tsv", encoding: .utf8)
        let lines = manifest.split(separator: "\n")
        XCTAssertGreaterThanOrEqual(lines.count, 150)
        // The CLI's codes, from run.py's scoring (it runs `netstack verify --strict` on every
        // case; its processes are started from Python: Foundation's Process objects started on
        // Dispatch worker threads are never freed, which LeakSanitizer reports).
        let (status, table, outcomes) = try Self.score()
        XCTAssertEqual(status, 0, String(table.suffix(2000)))
        var cli: [String: Int] = [:]
        for o in outcomes { cli[o.name] = Int(o.netstack_detail.split(separator: " ").first ?? "") ?? -1 }
        XCTAssertEqual(cli.count, lines.count)

        let lua = try runNetstack(["run", "Tests/CertCorpus/verify_corpus.lua", "--", dir], timeout: 120, cwd: CLITests.root)
        XCTAssertEqual(lua.status, 0, String(lua.err.suffix(2000)))
        let luaCodes = Self.codes(lua.out)

        let (compilers, common) = try CABITests.cBuilds("Tests/CertCorpus/verify_corpus.c")
        let binary = NSTemporaryDirectory() + "verify_corpus_\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: binary) }
        let (ccStatus, ccOut) = try runTool(compilers[0].0, compilers[0].1 + common + ["-o", binary], cwd: CLITests.root.path)
        XCTAssertEqual(ccStatus, 0, String(ccOut.suffix(2000)))
        let (cStatus, cOut) = try runTool(binary, [dir], cwd: CLITests.root.path)
        XCTAssertEqual(cStatus, 0, String(cOut.suffix(2000)))
        let cCodes = Self.codes(cOut)

        var differences: [String] = []
        for (name, code) in cli.sorted(by: { $0.key < $1.key }) {
            if luaCodes[name] != code || cCodes[name] != code {
                differences.append("\(name): CLI \(code), Lua \(luaCodes[name] ?? -1), C \(cCodes[name] ?? -1)")
            }
        }
        XCTAssertEqual(differences, [], "\(differences.count) cases differ")
        XCTAssertEqual(luaCodes.count, cli.count)
        XCTAssertEqual(cCodes.count, cli.count)
        // Every strict code reached from Lua and C too.
        for check in StrictCheck.allCases {
            XCTAssertTrue(Set(luaCodes.values).contains(Int(check.code)), "Lua never gives \(check.code)")
            XCTAssertTrue(Set(cCodes.values).contains(Int(check.code)), "C never gives \(check.code)")
        }
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
        XCTAssertEqual(try verify([lab.path("leaf+inter"), "--ca", root, "--max-depth", "255"]).1["code"] as? Int, 0)
        XCTAssertEqual(try verify([lab.path("leaf+inter"), "--ca", root, "--at", "0"]).1["code"] as? Int, 2_305_009)
        XCTAssertEqual(try verify([lab.path("weak"), "--ca", root, "--untrusted", lab.path("inter"), "--security-level", "2"]).1["code"] as? Int, 2_305_066)
        XCTAssertEqual(try verify([lab.path("leaf"), "--ca", lab.path("inter"), "--partial-chain"]).0, 0)
        let strict = try verify([lab.path("leaf+inter"), "--ca", root, "--strict"])
        XCTAssertEqual(strict.0, 1)
        XCTAssertEqual(strict.1["code"] as? Int, 2_305_807)
        XCTAssertEqual(strict.1["depth"] as? Int, 0)
        for bad in [["--purpose", "mail"], ["--max-depth", "256"], ["--security-level", "9"], ["--at", "1e300"],
                    ["--ip", "127.0.0.1.1"], ["--ip", "example.com"], ["--hostname", ""], ["--email", ""], ["--hostname", "a\tb"]] {
            let r = try runNetstack(["verify", lab.path("leaf+inter")] + bad)
            XCTAssertEqual(r.status, 64, "\(bad): \(r.err)")
        }
    }
}
