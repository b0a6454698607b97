import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

/// `netstack audit --concurrency N` has N handshakes in flight: a local listener that accepts and
/// never answers counts the connections open at once.
final class AuditConcurrencyTests: XCTestCase {
    /// Accepts TCP connections, says nothing, and records the most open at once.
    final class SilentListener: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        private let counts = NIOLockedValueBox((open: 0, peak: 0, total: 0))
        var peak: Int { counts.withLockedValue { $0.peak } }
        var total: Int { counts.withLockedValue { $0.total } }

        func channelActive(context: ChannelHandlerContext) {
            counts.withLockedValue { c in
                c.open += 1
                c.total += 1
                c.peak = max(c.peak, c.open)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            counts.withLockedValue { $0.open -= 1 }
        }
    }

    func testAuditKeepsTheConcurrencyAskedFor() throws {
        let listener = SilentListener()
        let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .childChannelInitializer { $0.pipeline.addHandler(listener) }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let port = try XCTUnwrap(server.localAddress?.port)
        let targets = Array(repeating: "127.0.0.1:\(port)", count: 60)
        let r = try runNetstack(["audit", "--concurrency", "30", "--timeout", "1500", "--format", "json"] + targets, timeout: 60)
        XCTAssertEqual(r.status, 3, "every target timed out: ERROR: " + r.err)
        XCTAssertEqual(listener.total, 60, "one connection per target")
        XCTAssertGreaterThanOrEqual(listener.peak, 25, "handshakes in flight at once (asked for 30)")
        XCTAssertLessThanOrEqual(listener.peak, 30, "never more than asked for")
        let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let results = report?["targets"] as? [[String: Any]] ?? []
        XCTAssertEqual(results.count, 60)
        XCTAssertTrue("\(results.first?["findings"] ?? "")".contains("timed out"), "\(results.first ?? [:])")
    }

    /// Runs `netstack audit ARGS`, and once `listener` has a connection (a handshake that will not
    /// finish) sends `signal`; returns the status and output.
    func interruptedAudit(_ args: [String], listener: SilentListener, signal: Int32) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.buildDir + "/netstack")
        p.arguments = ["audit"] + args
        p.currentDirectoryURL = CLITests.root
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let before = listener.total
        try p.run()
        let deadline = Date().addingTimeInterval(20)
        while listener.total == before && Date() < deadline { usleep(10_000) }
        XCTAssertGreaterThan(listener.total, before, "the audit reached the silent server")
        kill(p.processIdentifier, signal)
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "ended by the signal, not by its handler")
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// SIGINT or SIGTERM in the middle of an audit: the targets checked so far are reported (in
    /// every format), the rest are counted as not checked, status 130; an interrupted segment's
    /// report still merges into place, and the merge ends 130 too.
    func testAnInterruptedAuditReportsWhatItChecked() throws {
        let listener = SilentListener()
        let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.pipeline.addHandler(listener) }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let silent = "127.0.0.1:\(try XCTUnwrap(server.localAddress?.port))"
        let targets = ["nosuch-1.pem", silent, "nosuch-2.pem"]
        for signal in [SIGINT, SIGTERM] {
            let r = try interruptedAudit(["--concurrency", "1", "--timeout", "60000", "--format", "json"] + targets, listener: listener, signal: signal)
            XCTAssertEqual(r.status, 130, r.err)
            XCTAssertTrue(r.err.contains("interrupted; 1 of 3 targets checked"), r.err)
            let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
            XCTAssertEqual(doc["interrupted"] as? Bool, true)
            XCTAssertEqual(doc["planned"] as? Int, 3)
            let listed = doc["targets"] as? [[String: Any]] ?? []
            XCTAssertEqual(listed.map { $0["target"] as? String }, ["nosuch-1.pem"])
            XCTAssertEqual(listed.first?["index"] as? Int, 1)
        }
        let table = try interruptedAudit(["--concurrency", "1", "--timeout", "60000"] + targets, listener: listener, signal: SIGINT)
        XCTAssertEqual(table.status, 130, table.err)
        XCTAssertTrue(table.out.contains("1 targets: 0 OK, 0 WARN, 0 FAIL, 1 ERROR\ninterrupted: 1 of 3 targets checked"), table.out)

        // Segment 1/2 checks targets 1 and 3; segment 2/2 checks 2 and is stopped at 4.
        let all = ["nosuch-1.pem", "nosuch-2.pem", "nosuch-3.pem", silent]
        let dir = NSTemporaryDirectory() + "netstack-audit-interrupted-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try runNetstack(["audit", "--format", "json", "--segment", "1/2", "--run-id", "i1"] + all)
        XCTAssertEqual(first.status, 3, first.err)
        try first.out.write(toFile: dir + "/1.json", atomically: true, encoding: .utf8)
        let second = try interruptedAudit(["--concurrency", "1", "--timeout", "60000", "--format", "json", "--segment", "2/2", "--run-id", "i1"] + all,
                                          listener: listener, signal: SIGINT)
        XCTAssertEqual(second.status, 130, second.err)
        try second.out.write(toFile: dir + "/2.json", atomically: true, encoding: .utf8)
        let merged = try runNetstack(["merge", dir, "--format", "json"])
        XCTAssertEqual(merged.status, 130, merged.err)
        XCTAssertTrue(merged.err.contains("an audit segment was interrupted"), merged.err)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(merged.out.utf8)) as? [String: Any], merged.out)
        let listed = doc["targets"] as? [[String: Any]] ?? []
        XCTAssertEqual(listed.map { $0["target"] as? String }, ["nosuch-1.pem", "nosuch-2.pem", "nosuch-3.pem"])
        XCTAssertTrue(listed.allSatisfy { $0["index"] == nil }, "segment places are not carried into the merged report")
    }

    /// Many targets (and many script arguments) reach Lua as arguments: the Lua stack must be
    /// grown for them first (10,000 targets used to write past it and hang). Script arguments stay at
    /// 3,000 here: ArgumentParser's parsing of positional arrays is quadratic in their count.
    func testTenThousandTargetsAndThousandsOfArguments() throws {
        let file = NSTemporaryDirectory() + "netstack-targets-\(getpid()).txt"
        try Array(repeating: "a b", count: 10_000).joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try runNetstack(["audit", "--targets", file, "--format", "csv"], timeout: 60)
        XCTAssertEqual(r.status, 3, r.err)
        XCTAssertEqual(r.out.split(separator: "\n").count, 10_001, "a header and one row per target")
        // --targets - reads them from standard input (comments and blank lines skipped).
        let piped = try runNetstack(["audit", "--targets", "-", "--format", "csv"], stdin: "# hosts\na b\n\nc d # the second\n", timeout: 60)
        XCTAssertEqual(piped.status, 3, piped.err)
        XCTAssertEqual(piped.out.split(separator: "\n").count, 3, piped.out)
        let script = NSTemporaryDirectory() + "netstack-args-\(getpid()).lua"
        try "print(select('#', ...), (select(3000, ...)))".write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let args = try runNetstack(["run", script, "--"] + (1...3_000).map(String.init), timeout: 60)
        XCTAssertEqual(args.status, 0, args.err)
        XCTAssertEqual(args.out, "3000\t3000\n")
    }
}
