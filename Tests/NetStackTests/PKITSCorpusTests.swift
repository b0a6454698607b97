import Foundation
import XCTest

/// NIST PKITS (Tests/CertCorpus/pkits): every test path through `netstack verify` (default mode)
/// with the inputs PKITS gives, scored against PKITS's expected result. The two disagreements are
/// listed with their reasons in expected-differences.txt; run.py fails on any other and on a
/// listed one that now agrees.
final class PKITSCorpusTests: XCTestCase {
    struct Outcome: Decodable {
        let id: String
        let expected: String
        let code: Int?
        let agrees: Bool
    }

    func testPKITSAgreesExceptTheListedDifferences() throws {
        let report = NSTemporaryDirectory() + "netstack-pkits-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: report) }
        let (status, out) = try runTool("python3", ["Tests/CertCorpus/pkits/run.py", CLITests.buildDir + "/netstack", "--json", report],
                                        cwd: CLITests.root.path)
        print(out)
        XCTAssertEqual(status, 0, "netstack disagrees with PKITS beyond expected-differences.txt:\n\(out.suffix(6000))")
        let outcomes = try JSONDecoder().decode([Outcome].self, from: Data(contentsOf: URL(fileURLWithPath: report)))
        XCTAssertEqual(outcomes.count, 248, "every PKITS test of tests.tsv was run")
        XCTAssertFalse(outcomes.contains { $0.code == nil }, "every test gave a verdict")
        XCTAssertEqual(outcomes.filter(\.agrees).count, 246)
        // Policy constraints of the CAs (requireExplicitPolicy, inhibitPolicyMapping,
        // inhibitAnyPolicy) count without any option: OpenSSL alone ignores them.
        for section in ["4.9.", "4.11.", "4.12."] {
            let cases = outcomes.filter { $0.id.hasPrefix(section) }
            XCTAssertFalse(cases.isEmpty)
            XCTAssertTrue(cases.allSatisfy(\.agrees), "section \(section)")
        }
        XCTAssertEqual(outcomes.first { $0.id == "4.9.3" }?.code, 2305043, "Invalid RequireExplicitPolicy Test3: no explicit policy")
        XCTAssertEqual(outcomes.first { $0.id == "4.8.2.2" }?.code, 2305043, "--explicit-policy on a path without policies")
        // Delta CRLs and indirect CRLs (extended CRL support) are read as RFC 5280 says.
        XCTAssertTrue(outcomes.filter { $0.id.hasPrefix("4.15.") }.allSatisfy(\.agrees), "delta CRLs")
        XCTAssertEqual(outcomes.first { $0.id == "4.15.1" }?.code, 2305003, "a delta CRL without its base is no CRL")
        XCTAssertEqual(outcomes.first { $0.id == "4.14.22" }?.code, 0, "Valid IDP with indirectCRL Test22")
    }
}
