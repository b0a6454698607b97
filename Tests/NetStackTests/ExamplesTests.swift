import Foundation
import XCTest

/// Every example, run as documented in examples/README.md, against the local server.
final class ExamplesTests: XCTestCase {
    func testEchoBot() throws {
        let r = try runNetstack(["run", "examples/echo-bot.lua", "--url", Servers.plain.url + "/echo", "--", "2"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "open: 101 Switching Protocols\nmessage (text, 8 bytes): hello #1\nmessage (text, 8 bytes): hello #2\nclose: 1000 bye\n")
    }

    /// The README's bot is examples/hello-bot.lua, byte for byte, and runs as shown.
    func testReadmeBotIsTheExampleFile() throws {
        let readme = try String(contentsOf: CLITests.root.appendingPathComponent("README.md"), encoding: .utf8)
        let file = try String(contentsOf: CLITests.root.appendingPathComponent("examples/hello-bot.lua"), encoding: .utf8)
        XCTAssertTrue(readme.contains("```lua\n" + file + "```"), "README's bot block differs from examples/hello-bot.lua")
        let r = try runNetstack(["run", "examples/hello-bot.lua"], cwd: CLITests.root)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "hello\nclosed\t1000\n")
    }

    func testLoadTest() throws {
        let r = try runNetstack(["run", "examples/load-test.lua", "--url", Servers.plain.url + "/echo", "--quiet"], timeout: 30 * CLITests.slowdown)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("iterations..........................: 24 "), r.out)
        XCTAssertTrue(r.out.contains("ws_msgs_received....................: 72 "), r.out)
        XCTAssertTrue(r.out.contains("✓ rate==1 (1)"), r.out)
        let override = try runNetstack(["run", "examples/load-test.lua", "--url", Servers.plain.url + "/echo", "--quiet", "--vus", "2", "--iterations", "5"])
        XCTAssertEqual(override.status, 0, override.err)
        XCTAssertTrue(override.out.contains("iterations..........................: 5 "), override.out)
    }

    func testChatBot() throws {
        let r = try runNetstack(["run", "examples/chat-bot.lua", "--url", Servers.plain.url + "/echo", "--", "3"])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "heard join")
        XCTAssertEqual(lines.filter { $0 == "heard say: heartbeat at T" }.count, 3, r.out)
        XCTAssertEqual(lines.last, "closed\t1000\tbye")
    }

    /// automation.lua (callbacks) and automation-coroutine.lua (the same steps top to bottom) agree.
    func testAutomationPassesAndFails() throws {
        for script in ["examples/automation.lua", "examples/automation-coroutine.lua"] {
            let ok = try runNetstack(["run", script, "--", "examples/automation-commands.txt", Servers.plain.url + "/echo"])
            XCTAssertEqual(ok.status, 0, script + ": " + ok.out + ok.err)
            XCTAssertTrue(ok.out.contains("ok      {\"cmd\":\"status\"}"), ok.out)
            XCTAssertTrue(ok.out.contains("4 of 4 steps, 0 failed"), script + ": " + ok.out)
            let bad = NSTemporaryDirectory() + "bad-steps-\(getpid()).txt"
            try "send hello\nexpect goodbye\n".write(toFile: bad, atomically: true, encoding: .utf8)
            let failing = try runNetstack(["run", script, "--", bad, Servers.plain.url + "/echo"])
            XCTAssertEqual(failing.status, 1, script + ": " + failing.out)
            XCTAssertTrue(failing.out.contains("FAILED  expected \"goodbye\", got \"hello\""), failing.out)
            let refused = try runNetstack(["run", script, "--", "examples/automation-commands.txt", "ws://127.0.0.1:1/"])
            XCTAssertEqual(refused.status, 2, script + ": " + refused.out + refused.err)
            XCTAssertTrue(refused.out.contains("error 1003: could not connect to 127.0.0.1:1"), refused.out)
        }
    }

    func testCertAudit() throws {
        let lab = CertificateLab.shared
        // --lenient: the lab's leaf is trusted but not strict-conformant (its CN is not a SAN).
        let files = try runNetstack(["run", "examples/cert-audit.lua", "--", "--ca", lab.path("root"), "--warn-days", "7", "--lenient",
                                     lab.path("leaf+inter"), lab.path("expired+inter")])
        XCTAssertEqual(files.status, 2, "an expired certificate fails the audit: " + files.out + files.err)
        XCTAssertTrue(files.out.contains("2 targets: 1 OK, 0 WARN, 1 FAIL, 0 ERROR"), files.out)
        XCTAssertTrue(files.out.contains("certificate expired"), files.out)
        XCTAssertTrue(files.out.contains("attention: \(lab.path("expired+inter")) (FAIL)"), files.out)
        let server = try runNetstack(["run", "examples/cert-audit.lua", "--", "--ca", Servers.pki.caCertificate, "--warn-days", "7",
                                      "127.0.0.1:\(Servers.tls.port)"])
        XCTAssertEqual(server.status, 0, server.out + server.err)
        XCTAssertTrue(server.out.contains("1 targets: 1 OK"), server.out)
        let strict = try runNetstack(["run", "examples/cert-audit.lua", "--", "--ca", lab.path("root"), "--warn-days", "7", lab.path("leaf+inter")])
        XCTAssertEqual(strict.status, 2, "strict by default: " + strict.out)
        XCTAssertTrue(strict.out.contains("not conformant (strict RFC 5280 / CA/B Forum): 2305807"), strict.out)
    }
}
