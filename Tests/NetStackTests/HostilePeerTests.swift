import Foundation
import NetStack
import XCTest

/// Servers that misbehave on purpose, against the engine and the CLI: each case gets exactly the
/// documented outcome, bounded memory and no lost data.
final class HostilePeerTests: XCTestCase {
    static func residentBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        return (Int(s.split(separator: " ")[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// A server that sends pings as fast as TCP takes them and never reads: each ping used to
    /// queue a pong outside any limit (1 GiB of pings grew the client by 1.1 GB in 7 s).
    func testPingFloodWithoutReadingKeepsMemoryBounded() {
        let before = Self.residentBytes()
        var peak = before
        let sampler = DispatchSource.makeTimerSource()
        let lock = NSLock()
        sampler.schedule(deadline: .now(), repeating: .milliseconds(50))
        sampler.setEventHandler { let r = Self.residentBytes(); lock.withLock { peak = max(peak, r) } }
        sampler.resume()
        // The server stops after 3 s, but the pings already in the two sockets' buffers (several
        // MB on loopback, a million pings) are still read and answered first: a sanitized debug
        // build needed more than 15 s for that, so the wait is generous (it is not a speed goal).
        let r = runClient(Servers.plain.url + "/misbehave/ping-flood?ms=3000", timeout: 90) { $0.pingInterval = .zero }
        sampler.cancel()
        let grown = lock.withLock { peak } - before
        XCTAssertEqual(r.terminalCount, 1, "\(r.events.suffix(3))")
        XCTAssertLessThan(grown, 64 << 20, "the client grew by \(grown >> 20) MiB under a ping flood")
    }

    /// A message `send` accepted goes out even when the next frame of the same read breaks the
    /// protocol and the client is destroyed in onError (the echo used to be dropped with the
    /// connection).
    func testAnAcceptedSendIsWrittenWhenTheClientIsDestroyedInOnError() throws {
        let server = Servers.plain
        let client = WebSocketClient(configuration: WebSocketClientConfiguration())
        let errored = DispatchSemaphore(value: 0)
        let marker = "echo-\(UUID().uuidString.prefix(8)):"
        client.onMessage = { c, m in try? c.send(text: marker + String(decoding: m.bytes, as: UTF8.self)) }
        client.onError = { c, _ in
            c.destroy()
            errored.signal()
        }
        try client.connect(to: server.url + "/misbehave/text-then-opcode")
        XCTAssertEqual(errored.wait(timeout: .now() + 10), .success, "no onError")
        let deadline = Date() + 5
        while server.lastClientMessage != marker + "hi" && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(server.lastClientMessage, marker + "hi")
        // ... and the close frame after it: 1002 for the reserved opcode.
        while server.lastClientClose?.code != 1002 && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(server.lastClientClose?.code, 1002)
    }

    /// A non-101 answer without Content-Length, held open, was reported as "timed out".
    func testRejectionHeldOpenReportsTheStatusLine() {
        let r = runClient(Servers.plain.url + "/misbehave/reject-hold", timeout: 10) { $0.connectTimeout = .seconds(2) }
        XCTAssertEqual(r.errors.count, 1)
        let message = r.errors.first?.1 ?? ""
        XCTAssertTrue(message.contains("HTTP/1.1 403 Forbidden"), message)
        XCTAssertFalse(message.contains("timed out"), message)
        XCTAssertEqual(r.errors.first?.0, WebSocketErrCode.connectionError.rawValue)
    }

    /// `connect` printed the server's status line raw: a server could drive the user's terminal.
    func testConnectShowsEscapeSequencesFromTheServerAsText() throws {
        let r = try runNetstack(["connect", Servers.plain.url + "/misbehave/escape-status"], stdin: "")
        XCTAssertEqual(r.status, 6, "refused upgrade")
        XCTAssertFalse(r.err.contains("\u{1b}"), "raw ESC on stderr: \(r.err.debugDescription)")
        XCTAssertFalse(r.err.contains("\u{07}"), "raw BEL on stderr: \(r.err.debugDescription)")
        XCTAssertTrue(r.err.contains("\\x1b[31mForbidden"), r.err)
    }

    /// A connection that fails right after the open: `connect` used to wait 15 s more (the end
    /// was taken by its first wait) or exit before printing the close (a race with the open).
    func testConnectEndsAtOnceAndPrintsTheCloseWhenTheServerFailsRightAfterTheOpen() throws {
        for _ in 0..<6 {
            let start = Date()
            let r = try runNetstack(["connect", Servers.plain.url + "/misbehave/rsv"], stdin: "hello\n", timeout: 30)
            XCTAssertEqual(r.status, 1, r.err)
            XCTAssertTrue(r.err.hasSuffix("closed 1002 reserved bits RSV2/RSV3 set\n"), "status \(r.status) after \(Date().timeIntervalSince(start)) s, stderr \(r.err.debugDescription), stdout \(r.out.debugDescription)")
            XCTAssertLessThan(Date().timeIntervalSince(start), 5 * CLITests.slowdown, r.err)
        }
    }

    /// `connect` with stdin at its end exited before a 16 MiB binary message was printed.
    func testConnectPrintsALargeBinaryMessageBeforeItExits() throws {
        let size = 16 << 20
        let r = try runNetstack(["connect", Servers.plain.url + "/flood?n=1&size=\(size)&binary=1"], stdin: "", timeout: 60)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.hasPrefix("[binary \(size) bytes] 6162636465"), String(r.out.prefix(80)))
        XCTAssertEqual(r.out.utf8.count, "[binary \(size) bytes] ".utf8.count + 2 * size + 1)
    }

    /// `run --json` formatted binary messages one byte at a time (10 s for 4 MiB, blocking the script).
    func testRunJSONCarriesALargeBinaryMessage() throws {
        let script = NSTemporaryDirectory() + "json-binary-\(getpid()).lua"
        try "function onMessage(c, data, n) io.stderr:write('got ', n, '\\n') end".write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        let size = 4 << 20
        let r = try runNetstack(["run", script, "--json", "--url", Servers.plain.url + "/flood?n=1&size=\(size)&binary=1"], timeout: 60)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("got \(size)"), r.err)
        let line = r.out.split(separator: "\n").first { $0.contains("\"event\":\"message\"") } ?? ""
        XCTAssertTrue(line.contains("\"data\":\"6162636465"), String(line.prefix(120)))
        XCTAssertEqual(line.count, "{\"event\":\"message\",\"client\":1,\"data\":\"\",\"kind\":\"binary\",\"length\":\(size)}".count + 2 * size)
    }

    /// `Tests/HostilePeers/hostile_peers.py`: servers on raw sockets that answer the handshake
    /// and send frames as no WebSocket library would (interim answers, bare LF, folded and
    /// control-character header lines, rule-breaking frame headers with large declared payloads,
    /// deflate streams ended with BFINAL or sent in thousands of fragments, broken TLS records,
    /// TLS without close_notify), each against `netstack connect`: its exit status, its words, no
    /// source paths, and a bound on the time it takes.
    func testRawSocketMisbehaviours() throws {
        let script = CLITests.root.appendingPathComponent("Tests/HostilePeers/hostile_peers.py").path
        // Sanitizer builds are several times slower: the time bounds stretch for them.
        let slowdown = ProcessInfo.processInfo.environment["NETSTACK_SANITIZER"] == nil ? "1" : "4"
        let (status, output) = try runTool("python3", [script, CLITests.buildDir + "/netstack"], env: ["NETSTACK_HOSTILE_SLOWDOWN": slowdown])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains(" ok, 0 failed"), output)
    }

    /// `Tests/HostilePeers/hostile_clients.py`: clients of `netstack serve` that send without
    /// reading (echoes and pongs were queued without bound: 570 MB in 8 s) and request URLs with
    /// numbers out of range (negative counts and sizes, sizes of 100 TB, window bits of 99, which
    /// crashed the server).
    func testHostileClientsAgainstServe() throws {
        let script = CLITests.root.appendingPathComponent("Tests/HostilePeers/hostile_clients.py").path
        let sanitized = ProcessInfo.processInfo.environment["NETSTACK_SANITIZER"] != nil
        let (status, output) = try runTool("python3", [script, CLITests.buildDir + "/netstack"],
                                           env: ["NETSTACK_HOSTILE_RSS_MB": sanitized ? "384" : "64"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("hostile clients: 0 failed"), output)
    }
}
