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
