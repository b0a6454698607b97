import Foundation
import XCTest

/// Every `--flag` the docs write in code spans is one that a `netstack` command's `--help` lists,
/// or a flag of another program the docs quote (scripts, sbatch, kubectl, valgrind, k6...): a
/// renamed or removed option cannot stay documented.
final class DocumentedFlagsTests: XCTestCase {
    /// Flags of other programs that the docs quote, by program.
    static let otherPrograms: [String: Set<String>] = [
        "scripts/bench, scripts/bench-vus": ["--workloads", "--rounds", "--peers", "--no-tls", "--out", "--only", "--client", "--conns", "--memory", "--lua"],
        "scripts/test, scripts/autobahn, scripts/fuzz, scripts/soak, scripts/install, scripts/bootstrap":
            ["--ci", "--server", "--all", "--list", "--bots", "--minutes", "--seconds", "--rss-tolerance", "--bundle-runtime", "--no-build", "--debug"],
        "swift, strip, objcopy, valgrind, pkg-config": ["--product", "--scratch-path", "--strip-debug", "--tool", "--error-exitcode", "--leak-check",
                                                       "--errors-for-leak-kinds", "--cflags", "--libs"],
        "sbatch, squeue, kubectl": ["--array", "--dependency", "--wrap", "--parsable", "--dry-run", "--for", "--tail", "--max-log-requests"],
        "k6, testssl.sh, chromium": ["--execution-segment", "--execution-segment-sequence", "--phone-out", "--dump-dom"],
    ]

    static func flags(in text: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: "(?<![\\w-])(--[a-z][a-z0-9-]+)")
        let range = NSRange(text.startIndex..., in: text)
        return Set(pattern.matches(in: text, range: range).compactMap { Range($0.range(at: 1), in: text).map { String(text[$0]) } })
    }

    func testEveryDocumentedFlagExists() throws {
        var help = ""
        for command in [["run"], ["connect"], ["verify"], ["audit"], ["merge"], ["serve"], ["plugins", "list"], ["plugins", "info"], ["plugins", "check"], []] {
            let r = try runNetstack(command + ["--help"])
            help += r.out + r.err
        }
        let known = Self.flags(in: help).union(Self.otherPrograms.values.joined())
        XCTAssertTrue(known.contains("--summary-export") && known.contains("--pinnedpubkey"), "the help texts were read")
        let root = CLITests.root
        var docs = ["README.md", "examples/README.md", "plugins/README.md"].map { root.appendingPathComponent($0) }
        for folder in ["docs", "plugins"] {
            let items = try FileManager.default.subpathsOfDirectory(atPath: root.appendingPathComponent(folder).path)
            docs += items.filter { $0.hasSuffix(".md") }.map { root.appendingPathComponent(folder).appendingPathComponent($0) }
        }
        var unknown: [String] = []
        for url in Set(docs) {
            let text = try String(contentsOf: url, encoding: .utf8)
            let spans = text.components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
            for flag in spans.flatMap({ Self.flags(in: $0) }) where !known.contains(flag) {
                unknown.append("\(url.lastPathComponent): \(flag)")
            }
        }
        XCTAssertEqual(unknown.sorted(), [], "flags in the docs that no --help lists (or add another program's flag to otherPrograms)")
    }
}
