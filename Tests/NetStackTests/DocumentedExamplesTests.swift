import Foundation
import XCTest

/// The complete Lua examples of the docs, taken from the Markdown as written (only
/// `ws://127.0.0.1:8765` replaced by the test server's address) and run as the docs say: a doc
/// that drifts from the host fails here. Fragments (a table of options, one call) are not run.
final class DocumentedExamplesTests: XCTestCase {
    /// The `n`th (from 0) ```lua block of `doc`, its common indentation removed.
    static func block(_ doc: String, _ n: Int) throws -> String {
        let text = try String(contentsOf: CLITests.root.appendingPathComponent(doc), encoding: .utf8)
        let parts = text.components(separatedBy: "```lua\n")
        guard parts.count > n + 1, let body = parts[n + 1].components(separatedBy: "```").first else {
            throw CLITests.Failure("\(doc) has no lua block #\(n)")
        }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        let indent = lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .map { $0.prefix(while: { $0 == " " }).count }.min() ?? 0
        return lines.map { String($0.dropFirst(min(indent, $0.prefix(while: { $0 == " " }).count))) }
            .joined(separator: "\n")
            .replacingOccurrences(of: "ws://127.0.0.1:8765", with: Servers.plain.url)
    }

    func write(_ source: String, _ name: String, in dir: String? = nil) throws -> String {
        let folder = dir ?? NSTemporaryDirectory() + "netstack-doc-examples-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + name
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "netstack-doc-examples-\(getpid())")
    }

    /// lua-api.md, coroutine style: connect, send, receive with a timeout, close, then receive
    /// says closed with the code and reason.
    func testCoroutineStyleExample() throws {
        let script = try write(Self.block("docs/lua-api.md", 2), "coroutines.lua")
        let r = try runNetstack(["run", script])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "nil\tclosed\t1000\tbye\n")
    }

    /// load-testing.md's first example: a `main` that connects, sends, receives and sleeps,
    /// as the iteration of a load run.
    func testLoadRunIterationExample() throws {
        let script = try write(Self.block("docs/load-testing.md", 0), "iteration.lua")
        let r = try runNetstack(["run", script, "--vus", "2", "--iterations", "4", "--quiet"], timeout: 30 * CLITests.slowdown)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.contains("iterations..........................: 4 "), r.out)
        XCTAssertTrue(r.out.contains("ws_msgs_received....................: 4 "), r.out)
        XCTAssertTrue(r.out.contains("{code:1000}.......................: 4 "), r.out)
    }

    /// load-testing.md's handleSummary example, beside the iteration example: its line replaces
    /// the table on stdout and summary.json (k6's data, as JSON) lands in the working directory.
    func testHandleSummaryExample() throws {
        let dir = NSTemporaryDirectory() + "netstack-doc-examples-\(getpid())/summary"
        let script = try write(Self.block("docs/load-testing.md", 0) + "\n" + Self.block("docs/load-testing.md", 2), "summary.lua", in: dir)
        let r = try runNetstack(["run", script, "--vus", "1", "--iterations", "2", "--quiet"], timeout: 30 * CLITests.slowdown,
                                cwd: URL(fileURLWithPath: dir))
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.hasPrefix("p95 connect ") && r.out.hasSuffix(" ms, status 0\n") && !r.out.contains("iterations"), r.out)
        let data = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as? [String: Any]
        let metrics = data?["metrics"] as? [String: Any]
        let iterations = (metrics?["iterations"] as? [String: Any])?["values"] as? [String: Any]
        XCTAssertEqual(iterations?["count"] as? Int, 2, "\(String(describing: data))")
    }

    /// load-testing.md's checks example: options, request/reply timing and `check` with a
    /// function and a boolean. Its "under 1 ms" check depends on the machine, so the run ends
    /// 0 or 99 (the threshold), and every reply is the echo.
    func testChecksExample() throws {
        let script = try write(Self.block("docs/load-testing.md", 4), "checks.lua")
        let r = try runNetstack(["run", script, "--duration", "1s", "--quiet"], timeout: 40 * CLITests.slowdown)
        XCTAssertTrue([0, 99].contains(r.status), "status \(r.status): " + r.out + r.err)
        XCTAssertTrue(r.out.contains("{check:is the echo}...............: 100.00%"), r.out)
        XCTAssertTrue(r.out.contains("ws_rtt"), r.out)
        XCTAssertEqual(r.status == 99, r.out.contains("✗ rate>0.99"), r.out)
    }

    /// plugins.md's greeter, saved as plugins/greeter.lua beside a bot: its option, hook, export
    /// and exit log, and its health check both ways.
    func testGreeterPluginExample() throws {
        let dir = NSTemporaryDirectory() + "netstack-doc-examples-\(getpid())/greeter"
        try FileManager.default.createDirectory(atPath: dir + "/plugins", withIntermediateDirectories: true)
        _ = try write(Self.block("docs/plugins.md", 1), "greeter.lua", in: dir + "/plugins")
        _ = try write("""
            function onMessage(c, data) print("got", data, greeterReplies()) c:close(1000) end
            function onClose(c, r) print("closed", r.code) end
            """, "bot.lua", in: dir)
        let cwd = URL(fileURLWithPath: dir)
        let r = try runNetstack(["run", "bot.lua", "--url", Servers.plain.url + "/echo", "--plugin", "greeter", "-P", "greeter.text=yo"], cwd: cwd)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "got\tyo\t1\nclosed\t1000\n")
        XCTAssertTrue(r.err.contains("[info] greeter: replies: 1"), r.err)
        let healthy = try runNetstack(["plugins", "check", "greeter"], cwd: cwd)
        XCTAssertEqual(healthy.status, 0, healthy.out + healthy.err)
        XCTAssertTrue(healthy.out.contains("will send 'hello'"), healthy.out)
        let failing = try runNetstack(["plugins", "check", "greeter", "-P", "greeter.text="], cwd: cwd)
        XCTAssertEqual(failing.status, 1, failing.out + failing.err)
        XCTAssertTrue((failing.out + failing.err).contains("text is empty"), failing.out + failing.err)
    }
}
