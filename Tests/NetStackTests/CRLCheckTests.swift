import Foundation
import XCTest
@testable import NetStack

/// The CRL check of fetched CRLs (`CRLCheck.evaluate`, what `audit`, `ns.fetchChain` with
/// `crl = true` and the audit plugin report per certificate) on NIST PKITS paths: each CRL of a
/// test's message checked for its end-entity certificate, as if fetched from its distribution
/// point. RFC 5280 6.3 decides: a CRL that does not cover the certificate (issuing distribution
/// point scope, only some reasons), a delta CRL alone, a critical extension not understood, a
/// wrong signer or signature, or old dates make the CRL `invalid`; only a CRL that covers the
/// certificate says `good` or `revoked`.
final class CRLCheckTests: XCTestCase {
    /// The statuses of the end entity against each CRL of a PKITS test, with the reasons.
    func statuses(_ test: String) throws -> [(CRLStatus.Status, String)] {
        let dir = NSTemporaryDirectory() + "netstack-crlcheck-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (status, out) = try runTool("python3", ["Tests/CertCorpus/pkits/extract.py", dir, test], cwd: CLITests.root.path)
        XCTAssertEqual(status, 0, out)
        let folder = dir + "/" + test
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        func numbered(_ prefix: String, _ suffix: String) -> [String] {
            files.filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }
                .sorted { Int($0.dropFirst(prefix.count).dropLast(suffix.count))! < Int($1.dropFirst(prefix.count).dropLast(suffix.count))! }
        }
        let chain = try numbered("cert-", ".der").map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + $0))) }
        let store = try CertificateStore(caFile: folder + "/anchor.pem", caPath: nil)
        return try numbered("crl-", ".pem").map {
            let crl = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + $0)))
            let s = CRLCheck.evaluate(crl: crl, chain: chain, index: 0, store: store, url: "http://crl.test/\($0)")
            XCTAssertEqual(s.certificate, 1)
            return (s.status, s.reason)
        }
    }

    /// What an audit that fetched the end entity's CRL would conclude from the CRLs of the test:
    /// revoked when a CRL that covers it lists it, good when one covers it and none lists it,
    /// else invalid (with the reasons).
    func verdict(_ test: String) throws -> (CRLStatus.Status, String) {
        let all = try statuses(test)
        let reasons = all.map { "\($0.0.rawValue): \($0.1)" }.joined(separator: "; ")
        if all.contains(where: { $0.0 == .revoked }) { return (.revoked, reasons) }
        if all.contains(where: { $0.0 == .good }) { return (.good, reasons) }
        return (.invalid, reasons)
    }

    func check(_ test: String, _ expected: CRLStatus.Status, saying words: String? = nil, line: UInt = #line) throws {
        let (status, reasons) = try verdict(test)
        XCTAssertEqual(status, expected, "\(test): \(reasons)", line: line)
        if let words { XCTAssertTrue(reasons.contains(words), "\(test): \(reasons)", line: line) }
    }

    /// PKITS 4.4: the basic cases (listed, not listed, bad signature, another CA's CRL, old
    /// dates, serial numbers, a CRL signed with a separate key of the CA).
    func testBasicRevocation() throws {
        try check("InvalidRevokedEETest3", .revoked)
        try check("InvalidBadCRLSignatureTest4", .invalid, saying: "CRL signature failure")
        try check("InvalidBadCRLIssuerNameTest5", .invalid, saying: "CRL issued by another CA")
        try check("InvalidWrongCRLTest6", .invalid, saying: "CRL issued by another CA")
        try check("ValidTwoCRLsTest7", .good)
        try check("InvalidOldCRLnextUpdateTest11", .invalid, saying: "CRL expired")
        try check("Invalidpre2000CRLnextUpdateTest12", .invalid, saying: "CRL expired")
        try check("ValidNegativeSerialNumberTest14", .good)
        try check("InvalidNegativeSerialNumberTest15", .revoked)
        try check("ValidLongSerialNumberTest16", .good)
        try check("InvalidLongSerialNumberTest18", .revoked)
    }

    /// Critical extensions a CRL processor does not understand make the CRL unusable (RFC 5280
    /// 5.2 and 5.3): the old check read such a CRL's list anyway, and called a certificate it
    /// did not list good.
    func testCriticalExtensionsNotUnderstoodMakeTheCRLInvalid() throws {
        try check("InvalidUnknownCRLEntryExtensionTest8", .invalid, saying: "critical extension")
        try check("InvalidUnknownCRLExtensionTest9", .invalid, saying: "critical extension")
        try check("InvalidUnknownCRLExtensionTest10", .invalid, saying: "critical extension")
    }

    /// PKITS 4.14: a CRL whose issuing distribution point leaves the certificate out does not
    /// speak for it (the old check called these certificates good).
    func testIssuingDistributionPointScope() throws {
        try check("ValiddistributionPointTest1", .good)
        try check("InvaliddistributionPointTest2", .revoked)
        try check("InvaliddistributionPointTest3", .invalid, saying: "does not cover")
        try check("InvalidonlyContainsUserCertsCRLTest11", .invalid, saying: "does not cover")
        try check("InvalidonlyContainsCACertsCRLTest12", .invalid, saying: "does not cover")
        try check("ValidonlyContainsCACertsCRLTest13", .good)
        try check("InvalidonlyContainsAttributeCertsTest14", .invalid, saying: "does not cover")
        // One CRL that covers only some reasons cannot say good; it can say revoked.
        try check("InvalidonlySomeReasonsTest17", .invalid, saying: "only some revocation reasons")
        try check("InvalidonlySomeReasonsTest15", .revoked)
    }

    /// A CRL signed by another key of the CA (PKITS 4.4.19-20), and indirect CRLs (4.14.22-24):
    /// the signer's own path to the trust anchor is built and checked.
    func testCRLsSignedByAnotherKeyOrAnotherIssuer() throws {
        try check("ValidSeparateCertificateandCRLKeysTest19", .good)
        try check("InvalidSeparateCertificateandCRLKeysTest20", .revoked)
        try check("ValidIDPwithindirectCRLTest22", .good)
        try check("InvalidIDPwithindirectCRLTest23", .revoked)
        try check("ValidIDPwithindirectCRLTest24", .good)
    }

    /// PKITS 4.15.1: a delta CRL alone lists changes only, so it cannot say good.
    func testADeltaCRLAloneIsNotACompleteAnswer() throws {
        try check("InvaliddeltaCRLIndicatorNoBaseTest1", .invalid, saying: "delta CRL")
    }
}
