import Foundation
import NetStack
import NetStackTestServer
@testable import NetStackCLI
import XCTest

/// `netstack connect`: input lines and slash commands as values, the exit status of each failed
/// stage, and the wscat/websocat flags, as a pipe (ConnectTerminalTests drives a terminal).
final class ConnectCommandTests: XCTestCase {
    func testInputLines() {
        func parse(_ line: String, slash: Bool = true, binary: Bool = false, base64: Bool = false) -> ConnectInput {
            ConnectInput.parse(line, slash: slash, binary: binary, base64: base64)
        }
        XCTAssertEqual(parse("hello"), .message(text: "hello"))
        XCTAssertEqual(parse("/ping"), .ping([]))
        XCTAssertEqual(parse("/ping are you there"), .ping(Array("are you there".utf8)))
        if case .invalid = parse("/ping " + String(repeating: "x", count: 126)) {} else { XCTFail("a ping over 125 bytes") }
        XCTAssertEqual(parse("/close"), .close(code: 1000, reason: ""))
        XCTAssertEqual(parse("/close 4000 see you later"), .close(code: 4000, reason: "see you later"))
        if case .invalid(let why) = parse("/close 1005") { XCTAssertTrue(why.contains("not a close code"), why) } else { XCTFail("1005 cannot be sent") }
        if case .invalid = parse("/close abc") {} else { XCTFail("not a number") }
        if case .invalid = parse("/close 1000 " + String(repeating: "r", count: 124)) {} else { XCTFail("reason too long") }
        XCTAssertEqual(parse("/binary 00 ff 10"), .binary([0x00, 0xFF, 0x10]))
        XCTAssertEqual(parse("/binary 00ff10"), .binary([0x00, 0xFF, 0x10]))
        if case .invalid = parse("/binary 0f0") {} else { XCTFail("odd digits") }
        if case .invalid = parse("/binary zz") {} else { XCTFail("not hex") }
        XCTAssertEqual(parse("/quit"), .quit)
        XCTAssertEqual(parse("/help"), .help)
        if case .invalid(let why) = parse("/nope") { XCTAssertTrue(why.contains("//nope sends the text"), why) } else { XCTFail("unknown command") }
        XCTAssertEqual(parse("//ping"), .message(text: "/ping"), "a doubled slash sends the line")
        XCTAssertEqual(parse("/ping", slash: false), .message(text: "/ping"), "without slash commands every line is a message")
        XCTAssertEqual(parse("abc", binary: true), .binary(Array("abc".utf8)))
        XCTAssertEqual(parse("AAH/", binary: true, base64: true), .binary([0x00, 0x01, 0xFF]))
        if case .invalid = parse("not base64!", binary: true, base64: true) {} else { XCTFail("bad base64 is not sent") }
        XCTAssertEqual(parse("AAH/", base64: true), .message(text: "AAH/"), "--base64 decodes binary lines only")
    }

    func testJSONRPCRequestsAndMatching() throws {
        var rpc = JSONRPCInput()
        XCTAssertEqual(try rpc.request("add [1, 2]").get(), #"{"jsonrpc":"2.0","id":1,"method":"add","params":[1, 2]}"#)
        XCTAssertEqual(try rpc.request("get {\"key\": \"a\"}").get(), #"{"jsonrpc":"2.0","id":2,"method":"get","params":{"key": "a"}}"#)
        XCTAssertEqual(try rpc.request("ping").get(), #"{"jsonrpc":"2.0","id":3,"method":"ping","params":[]}"#)
        XCTAssertEqual(try rpc.request("echo 42").get(), #"{"jsonrpc":"2.0","id":4,"method":"echo","params":[42]}"#)
        XCTAssertEqual(try rpc.request("say hello \"world\"").get(), #"{"jsonrpc":"2.0","id":5,"method":"say","params":["hello \"world\""]}"#)
        if case .failure = rpc.request("   ") {} else { XCTFail("no method") }
        XCTAssertEqual(rpc.match(#"{"jsonrpc":"2.0","id":2,"result":"x"}"#)?.method, "get")
        XCTAssertNil(rpc.match(#"{"jsonrpc":"2.0","id":2,"result":"x"}"#), "answered once")
        XCTAssertNil(rpc.match(#"{"jsonrpc":"2.0","id":99,"result":"x"}"#), "not ours")
        XCTAssertNil(rpc.match(#"{"jsonrpc":"2.0","method":"notify"}"#), "a notification")
        XCTAssertNil(rpc.match("not json"))
        XCTAssertEqual(rpc.pending.count, 4)

        // Through the echo server: each request comes back with its id, matched to its method.
        let r = try runNetstack(["connect", "--jsonrpc", Servers.plain.url + "/echo"], stdin: "add [1, 2]\nping\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out.split(separator: "\n").map(String.init),
                       [#"[#1 add] {"jsonrpc":"2.0","id":1,"method":"add","params":[1, 2]}"#, #"[#2 ping] {"jsonrpc":"2.0","id":2,"method":"ping","params":[]}"#])
        let j = try runNetstack(["connect", "--jsonrpc", "--json", Servers.plain.url + "/echo"], stdin: "add [1]\n")
        XCTAssertTrue(j.out.contains(#""rpcId":1"#) && j.out.contains(#""rpcMethod":"add""#), j.out)
    }

    func testExitStatusPerStage() throws {
        func connect(_ url: String, _ extra: [String] = [], stdin: String = "") throws -> (status: Int32, out: String, err: String) {
            try runNetstack(["connect", url, "-w", "0.3"] + extra, stdin: stdin, env: ["SSL_CERT_FILE": "/nonexistent"])
        }
        let ok = try connect(Servers.plain.url + "/echo", stdin: "hi\n")
        XCTAssertEqual(ok.status, 0, ok.err)
        let resolve = try connect("ws://nonexistent.invalid/")
        XCTAssertEqual(resolve.status, 3, resolve.err)
        XCTAssertTrue(resolve.err.contains("in resolve: DNS lookup failed for 'nonexistent.invalid': "), resolve.err)
        // The resolver's words, once, without the library's type name or a second host and port.
        XCTAssertFalse(resolve.err.contains("SocketAddressError"), resolve.err)
        XCTAssertEqual(resolve.err.components(separatedBy: "nonexistent.invalid").count - 1, 1, resolve.err)
        let refused = try connect("ws://127.0.0.1:1/")
        XCTAssertEqual(refused.status, 4, refused.err)
        XCTAssertTrue(refused.err.contains("in connect:"), refused.err)
        let untrusted = try connect(Servers.tls.url + "/echo", ["--json"])
        XCTAssertEqual(untrusted.status, 5, untrusted.out)
        XCTAssertTrue(untrusted.out.contains("\"stage\":\"tls\"") && untrusted.out.contains("\"errorCode\":2305"), untrusted.out)
        let notTLS = try connect(Servers.plain.url.replacingOccurrences(of: "ws://", with: "wss://") + "/echo")
        XCTAssertEqual(notTLS.status, 5, "a TLS handshake with a plain server: " + notTLS.err)
        let rejected = try connect(Servers.plain.url + "/status?code=403")
        XCTAssertEqual(rejected.status, 6, rejected.err)
        let badAccept = try connect(Servers.plain.url + "/misbehave/bad-accept")
        XCTAssertEqual(badAccept.status, 6, badAccept.err)
        let dropped = try connect(Servers.plain.url + "/misbehave/drop", ["-n"])
        XCTAssertEqual(dropped.status, 1, "dropped without a close frame: " + dropped.err)
        let serverCode = try connect(Servers.plain.url + "/close?code=4001&reason=gone", ["-n"])
        XCTAssertEqual(serverCode.status, 1, "the server closed with 4001: " + serverCode.err)
        XCTAssertTrue(serverCode.err.contains("closed 4001 gone"), serverCode.err)
        let serverNormal = try connect(Servers.plain.url + "/close?code=1000", ["-n"])
        XCTAssertEqual(serverNormal.status, 0, serverNormal.err)
        let ourCode = try connect(Servers.plain.url + "/echo", ["--close-code", "4000", "--close-reason", "done"], stdin: "x\n")
        XCTAssertEqual(ourCode.status, 0, "a close we started with 4000: " + ourCode.err)
        XCTAssertTrue(ourCode.err.contains("closed 4000"), ourCode.err)
        let badURL = try connect("http://x/")
        XCTAssertEqual(badURL.status, 2, badURL.err)
        // --connect-timeout: a server that accepts TCP and never answers the upgrade.
        let started = Date()
        let slow = try connect(Servers.plain.url + "/misbehave/hang", ["--connect-timeout", "0.5"])
        XCTAssertEqual(slow.status, 6, "timed out in the upgrade stage: " + slow.err)
        XCTAssertTrue(slow.err.contains("in upgrade: timed out after 500 ms"), slow.err)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5 * CLITests.slowdown, "0.5 s, not the default 10 s")
        // --close-timeout: a server that never answers our close frame.
        let closeStarted = Date()
        let noReply = try connect(Servers.plain.url + "/misbehave/no-close-reply", ["--close-timeout", "0.3"], stdin: "x\n")
        XCTAssertLessThan(Date().timeIntervalSince(closeStarted), 4 * CLITests.slowdown, "0.3 s, not the default 5 s: " + noReply.err)
        // --cacert (curl's name) is --ca.
        let viaCacert = try connect(Servers.tls.url + "/echo", ["--cacert", Servers.pki.caCertificate], stdin: "hi\n")
        XCTAssertEqual(viaCacert.status, 0, viaCacert.err)
        for bad in [["--close-code", "1005"], ["--close-code", "70000"], ["--close-reason", String(repeating: "r", count: 124)], ["-b", "-t"],
                    ["--ping-interval", "-1"], ["--ping-interval", "0.0005"], ["--connect-timeout", "0"], ["--connect-timeout", "nan"], ["--close-timeout", "1e300"]] {
            XCTAssertEqual(try connect(Servers.plain.url + "/echo", bad).status, 64, "\(bad)")
        }
    }

    func testSlashCommandsAndFlagsThroughAPipe() throws {
        let input = "hello\n/ping abc\n/binary 00ff\n//slash\n/nope\n/help\n/close 4002 bye now\nnot sent\n"
        let r = try runNetstack(["connect", Servers.plain.url + "/echo", "--slash"], stdin: input)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out.split(separator: "\n").map(String.init), ["hello", "[binary 2 bytes] 00ff", "/slash"], "into a pipe: no markers, no colour")
        XCTAssertTrue(r.err.range(of: #"pong after \d+\.\d{3} ms"#, options: .regularExpression) != nil, r.err)
        XCTAssertTrue(r.err.contains("unknown command /nope"), r.err)
        XCTAssertTrue(r.err.contains("/binary HEX"), "help: " + r.err)
        XCTAssertTrue(r.err.contains("closed 4002"), r.err)
        XCTAssertFalse(r.err.contains("\u{1B}["), "no colour into a pipe")
        // Without --slash (standard input not a terminal) the lines are messages.
        let plain = try runNetstack(["connect", Servers.plain.url + "/echo"], stdin: "/ping\n")
        XCTAssertEqual(plain.out, "/ping\n", plain.err)

        let b64 = try runNetstack(["connect", Servers.plain.url + "/echo", "-b", "--base64"], stdin: "AAH/\nnot base64!\n")
        XCTAssertEqual(b64.status, 0, b64.err)
        XCTAssertEqual(b64.out, "[binary 3 bytes, base64] AAH/\n", b64.err)
        XCTAssertTrue(b64.err.contains("not base64"), b64.err)
        let json = try runNetstack(["connect", Servers.plain.url + "/echo", "-b", "--base64", "--json"], stdin: "AAH/\n")
        XCTAssertTrue(json.out.contains("\"data\":\"AAH/\"") && json.out.contains("\"encoding\":\"base64\""), json.out)

        // -n: the input ends, the connection stays until the server ends it ("bye", then dropped).
        let stay = try runNetstack(["connect", "-n", Servers.plain.url + "/misbehave/drop"], stdin: "")
        XCTAssertTrue(stay.out.contains("bye"), stay.out + stay.err)
        let pings = try runNetstack(["connect", "-v", "--ping-interval", "0.2", "-w", "1", "-x", "x", Servers.plain.url + "/echo"])
        XCTAssertGreaterThanOrEqual(pings.err.components(separatedBy: "> ping, 0 bytes").count - 1, 2, pings.err)
    }

    /// Input lines are bounded: a line over the limit is skipped to its end and reported; the
    /// lines around it are whole, whatever the read sizes.
    func testInputLinesAreBounded() throws {
        for chunk in [1, 3, 4, 7, 65_536] {
            var fds: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&fds), 0)
            let input: [UInt8] = Array("short\r\n".utf8) + [UInt8](repeating: 0x78, count: 100) + Array("\nok\n\n".utf8) + [0xFF, 0x41] + Array("\nlast".utf8)
            XCTAssertEqual(input.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }, input.count)
            close(fds[1])
            let reader = BoundedLineReader(fd: fds[0], limit: 10, chunk: chunk)
            var lines: [BoundedLineReader.Line] = []
            while let l = reader.next() { lines.append(l) }
            close(fds[0])
            XCTAssertEqual(lines, [.line("short"), .tooLong(bytes: 100), .line("ok"), .line(""), .line("\u{FFFD}A"), .line("last")], "chunk \(chunk)")
        }
        // End to end: 20 MB without a newline (more than twice the 4 MiB send limit), then a line.
        let long = String(repeating: "a", count: 20_000_000)
        let r = try runNetstack(["connect", Servers.plain.url + "/echo"], stdin: long + "\nhello\n", timeout: 60 * CLITests.slowdown)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("send failed: 1012: a line of 20000000 bytes exceeds the input limit of 8454144 bytes: not sent"), r.err)
        XCTAssertEqual(r.out, "hello\n", r.err)
    }

    /// SIGINT or SIGTERM while the session waits for input: the close handshake (--close-code),
    /// then status 130; against a server that never answers the close, a second one exits at once.
    func testAnInterruptClosesTheConnectionAndExits130() throws {
        func start(_ url: String, _ extra: [String] = []) throws -> (Process, Pipe, Pipe) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLITests.buildDir + "/netstack")
            p.arguments = ["connect", "--json"] + extra + [url]
            let input = Pipe(), out = Pipe()
            p.standardInput = input
            p.standardOutput = out
            p.standardError = Pipe()
            try p.run()
            // Until the open is printed (the input stays open: the session waits for lines).
            var seen = Data()
            let deadline = Date().addingTimeInterval(10 * CLITests.slowdown)
            while !String(decoding: seen, as: UTF8.self).contains("\"event\":\"open\""), Date() < deadline {
                seen += out.fileHandleForReading.availableData
            }
            XCTAssertTrue(String(decoding: seen, as: UTF8.self).contains("\"open\""), "no open event")
            return (p, input, out)
        }
        func ends(_ p: Process, within seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds * CLITests.slowdown)
            while p.isRunning && Date() < deadline { usleep(10_000) }
            return !p.isRunning
        }
        for (signal, name, extra, code) in [(SIGINT, "SIGINT", [String](), 1000), (SIGTERM, "SIGTERM", ["--close-code", "4001"], 4001)] {
            let (p, input, out) = try start(Servers.plain.url + "/echo", extra)
            kill(p.processIdentifier, signal)
            XCTAssertTrue(ends(p, within: 10), name)
            XCTAssertEqual(p.terminationReason, .exit, name)
            XCTAssertEqual(p.terminationStatus, 130, name)
            let rest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertTrue(rest.contains("{\"event\":\"close\",\"code\":\(code),"), "\(name): \(rest)")
            try input.fileHandleForWriting.close()
        }
        let (p, input, _) = try start(Servers.plain.url + "/misbehave/no-close-reply", ["--close-timeout", "30"])
        kill(p.processIdentifier, SIGINT)
        usleep(300_000)
        XCTAssertTrue(p.isRunning, "waiting for the close reply")
        kill(p.processIdentifier, SIGINT)
        XCTAssertTrue(ends(p, within: 3), "still running after the second SIGINT")
        XCTAssertEqual(p.terminationStatus, 130)
        try input.fileHandleForWriting.close()
    }

    /// `verify` and `merge` waiting on standard input exit with 130 on SIGINT or SIGTERM (not by
    /// the signal).
    func testVerifyAndMergeExit130WhenInterrupted() throws {
        for (command, signal) in [("verify", SIGINT), ("merge", SIGTERM)] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLITests.buildDir + "/netstack")
            p.arguments = [command, "-"]
            let input = Pipe()
            p.standardInput = input
            p.standardOutput = Pipe()
            p.standardError = Pipe()
            try p.run()
            usleep(500_000)
            kill(p.processIdentifier, signal)
            let deadline = Date().addingTimeInterval(10)
            while p.isRunning && Date() < deadline { usleep(10_000) }
            XCTAssertFalse(p.isRunning, command)
            XCTAssertEqual(p.terminationReason, .exit, command)
            XCTAssertEqual(p.terminationStatus, 130, command)
            try input.fileHandleForWriting.close()
        }
    }
}
