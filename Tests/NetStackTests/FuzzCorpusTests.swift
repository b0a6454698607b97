import Foundation
import XCTest

/// Every committed fuzz input, replayed through its target by a normal build of netstack-fuzz:
/// inputs that once found a bug keep passing, and each target's checks hold on its seeds.
final class FuzzCorpusTests: XCTestCase {
    func testEverySeedCorpusReplaysCleanly() throws {
        let binary = CLITests.buildDir + "/netstack-fuzz"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw CLITests.Failure("\(binary) is missing: run `swift build` first (scripts/test does)")
        }
        let list = try runNetstack(["--list"], executable: binary)
        XCTAssertEqual(list.status, 0, list.err)
        let targets = list.out.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
        XCTAssertGreaterThanOrEqual(targets.count, 6, list.out)
        for target in targets {
            let corpus = CLITests.root.appendingPathComponent("Tests/FuzzCorpus/\(target)").path
            let files = (try? FileManager.default.contentsOfDirectory(atPath: corpus)) ?? []
            XCTAssertGreaterThan(files.count, 0, "no seeds for \(target)")
            let r = try runNetstack([target, corpus], timeout: 120, executable: binary)
            XCTAssertEqual(r.status, 0, "\(target): \(r.err.suffix(2000))")
            XCTAssertTrue(r.out.contains("\(target): \(files.count) inputs replayed"), r.out)
        }
    }
}
