import Foundation
import XCTest

/// The `netstack` executable as a process: exit codes, JSON output, pipes.
final class CLITests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// Where the tested products are: .build/debug, or the build a sanitizer run made
    /// (scripts/sanitize sets NETSTACK_BUILD_DIR).
    static let buildDir = ProcessInfo.processInfo.environment["NETSTACK_BUILD_DIR"] ?? root.appendingPathComponent(".build/debug").path
    /// The sanitizer the tested products were built with (scripts/sanitize), if any.
    static let sanitizer = ProcessInfo.processInfo.environment["NETSTACK_SANITIZER"]
    /// How much longer work takes in the tested build: ThreadSanitizer runs code 5-15 times
    /// slower, so time limits meant to catch hangs are that much longer there.
    static let slowdown: Double = sanitizer == "thread" ? 8 : sanitizer == "address" ? 2 : 1

    func netstack(_ args: [String], stdin: String? = nil, timeout: Double = 20) throws -> (status: Int32, out: String, err: String) {
        try runNetstack(args, stdin: stdin, timeout: timeout)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    func testRunBotWithoutURLUsesTheBuiltInServer() throws {
        let r = try netstack(["run", "examples/echo-bot.lua"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("built-in local echo server"), r.err)
        XCTAssertTrue(r.out.contains("message (text, 8 bytes): hello #3"), r.out)
        XCTAssertTrue(r.out.contains("close: 1000 bye"), r.out)
    }

    func testSigintClosesWith1001AndASecondOneExitsAtOnce() throws {
        let binary = Self.buildDir + "/netstack"
        func start(_ url: String) throws -> (Process, Pipe) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["run", "examples/chat-bot.lua", "--url", url, "--", "1000000"]
            p.currentDirectoryURL = Self.root
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            // Until the bot says it is connected (a fixed wait was too short for a sanitizer build
            // on a loaded machine: the signal came before the handlers were installed).
            var said = Data()
            let deadline = Date().addingTimeInterval(10 * Self.slowdown)
            while !String(decoding: said, as: UTF8.self).contains("connected: "), p.isRunning, Date() < deadline {
                said += err.fileHandleForReading.availableData
            }
            XCTAssertTrue(String(decoding: said, as: UTF8.self).contains("connected: "), "not connected: \(String(decoding: said, as: UTF8.self))")
            return (p, out)
        }
        // SIGTERM (a service manager stopping the bot) is taken as a SIGINT: closed with 1001, 130.
        for (signal, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            let (p, out) = try start(Servers.plain.url + "/echo")
            kill(p.processIdentifier, signal)
            let deadline = Date().addingTimeInterval(10)
            while p.isRunning && Date() < deadline { usleep(10_000) }
            XCTAssertFalse(p.isRunning, name)
            XCTAssertEqual(p.terminationStatus, 130, name)
            XCTAssertEqual(p.terminationReason, .exit, name)
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertTrue(text.contains("closed\t1001"), "closed with 1001 on \(name): \(text.suffix(200))")
        }

        // A server that never answers the close: the second SIGINT ends the run at once.
        let (p2, _) = try start(Servers.plain.url + "/misbehave/no-close-reply")
        kill(p2.processIdentifier, SIGINT)
        usleep(200_000)
        XCTAssertTrue(p2.isRunning, "waiting for the close reply")
        kill(p2.processIdentifier, SIGINT)
        let d2 = Date().addingTimeInterval(3)
        while p2.isRunning && Date() < d2 { usleep(10_000) }
        XCTAssertFalse(p2.isRunning)
        XCTAssertEqual(p2.terminationStatus, 130)
    }

    func testRunJSONLinesOfEvents() throws {
        let r = try netstack(["run", "--json", "examples/echo-bot.lua", "--url", Servers.plain.url + "/echo", "--", "1"])
        XCTAssertEqual(r.status, 0, r.err)
        let events = try r.out.split(separator: "\n").map { line -> [String: Any] in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
        }
        XCTAssertEqual(events.map { $0["event"] as? String }, ["open", "print", "message", "print", "close", "print", "exit"])
        XCTAssertEqual(events[2]["data"] as? String, "hello #1")
        XCTAssertEqual(events[4]["code"] as? Int, 1000)
        XCTAssertEqual(events[6]["status"] as? Int, 0)
        XCTAssertNil(events[1]["hex"], "a UTF-8 line has its text only")
        // A printed line that is not UTF-8 keeps its bytes in hex beside the repaired text.
        let latin1 = try netstack(["run", "--json", "-"], stdin: "print('caf\\233', 1)")
        XCTAssertEqual(latin1.status, 0, latin1.err)
        let line = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(latin1.out.split(separator: "\n")[0].utf8)) as? [String: Any])
        XCTAssertEqual(line["text"] as? String, "caf\u{FFFD}\t1")
        XCTAssertEqual(line["hex"] as? String, "636166e90931")
        let broken = NSTemporaryDirectory() + "json-error-\(getpid()).lua"
        try "netstack.setTimeout(function() error('boom') end, 1)".write(toFile: broken, atomically: true, encoding: .utf8)
        let e = try netstack(["run", "--json", broken])
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(e.out.contains("\"event\":\"script_error\""), e.out)
        XCTAssertTrue(e.out.contains("boom"), e.out)
    }

    func testRunExitCodes() throws {
        XCTAssertEqual(try netstack(["run", "no-such-script.lua"]).status, 2)
        let broken = NSTemporaryDirectory() + "broken-\(getpid()).lua"
        try "this is not lua".write(toFile: broken, atomically: true, encoding: .utf8)
        let r = try netstack(["run", broken])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("syntax error") || r.err.contains("near"), r.err)
        let exit5 = NSTemporaryDirectory() + "exit5-\(getpid()).lua"
        try "netstack.exit(5)".write(toFile: exit5, atomically: true, encoding: .utf8)
        XCTAssertEqual(try netstack(["run", exit5]).status, 5)
    }

    func testVerifyExitCodesAndJSON() throws {
        let lab = CertificateLab.shared
        let ok = try netstack(["verify", lab.path("leaf+inter"), "--ca", lab.path("root")])
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertTrue(ok.out.hasPrefix("0 success"), ok.out)
        let expired = try netstack(["verify", lab.path("expired+inter"), "--ca", lab.path("root"), "--json"])
        XCTAssertEqual(expired.status, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(expired.out.utf8)) as? [String: Any])
        XCTAssertEqual(object["code"] as? Int, 2_305_010)
        XCTAssertEqual(object["meaning"] as? String, "certificate expired")
        let der = try netstack(["verify", lab.path("leaf.der"), "--ca", lab.path("inter+root"), "--hostname", "leaf.test"])
        XCTAssertEqual(der.status, 0, der.out)
        let garbage = try netstack(["verify", lab.path("garbage"), "--ca", lab.path("root")])
        XCTAssertEqual(garbage.status, 1)
        XCTAssertTrue(garbage.out.hasPrefix("2305069"), garbage.out)
        XCTAssertEqual(try netstack(["verify", "/no/such/file"]).status, 2)
        // - reads standard input (for the certificate or one of the other files), as openssl verify does.
        let leafPEM = try String(contentsOfFile: lab.path("leaf+inter"), encoding: .utf8)
        let piped = try netstack(["verify", "-", "--ca", lab.path("root")], stdin: leafPEM)
        XCTAssertEqual(piped.status, 0, piped.err)
        XCTAssertTrue(piped.out.hasPrefix("0 success"), piped.out)
        let pipedCA = try netstack(["verify", lab.path("leaf+inter"), "--ca", "-"], stdin: try String(contentsOfFile: lab.path("root"), encoding: .utf8))
        XCTAssertEqual(pipedCA.status, 0, pipedCA.err)
        XCTAssertEqual(try netstack(["verify", "-", "--ca", "-"], stdin: leafPEM).status, 64)
        let empty = try netstack(["verify", "-"], stdin: "")
        XCTAssertEqual(empty.status, 1)
        XCTAssertTrue(empty.out.hasPrefix("2305069"), empty.out)
    }

    func testConnectAsAPipeWithJSONEvents() throws {
        let r = try netstack(["connect", Servers.plain.url + "/echo", "--json", "--wait", "0.5"], stdin: "one\ntwo\n")
        XCTAssertEqual(r.status, 0, r.err)
        let events = try r.out.split(separator: "\n").map { line -> [String: Any] in
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
        }
        XCTAssertEqual(events.map { $0["event"] as? String }, ["open", "message", "message", "close"])
        XCTAssertEqual(events[1]["data"] as? String, "one")
        XCTAssertEqual(events[2]["data"] as? String, "two")
        XCTAssertEqual(events[3]["code"] as? Int, 1000)
    }

    /// Every status a command's --help names is the one it exits with: bad options 64, an unusable URL 2.
    func testHelpNamesTheUsageStatusesCommandsExitWith() throws {
        let help = try netstack(["--help"])
        XCTAssertTrue(help.out.contains("64 bad") && help.out.contains("2 invalid input"), help.out)
        XCTAssertEqual(try netstack(["connect", "--no-such-flag", Servers.plain.url]).status, 64)
        XCTAssertEqual(try netstack(["connect", "not a url"], stdin: "").status, 2)
        let connectHelp = try netstack(["connect", "--help"])
        // Help text is wrapped to the terminal: compare it with its line breaks as spaces.
        let words = connectHelp.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(words.contains("64 for bad options"), connectHelp.out)
    }

    func testMisnamedHandlersAreNamedNotIgnored() throws {
        let script = NSTemporaryDirectory() + "typo-\(getpid()).lua"
        try "function onopen(c) print('never') end\n".write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let r = try netstack(["run", script, "--url", Servers.plain.url + "/echo"])
        XCTAssertEqual(r.status, 2, r.err)
        XCTAssertTrue(r.err.contains("defines 'onopen' but not 'onOpen'"), r.err)
        try "function on_close() end\nnetstack.setTimeout(function() print('timer') end, 5)\n".write(toFile: script, atomically: true, encoding: .utf8)
        let busy = try netstack(["run", script])
        XCTAssertEqual(busy.status, 0, "a script with other work still runs it: \(busy.err)")
        XCTAssertEqual(busy.out, "timer\n")
        XCTAssertTrue(busy.err.contains("defines 'on_close' but not 'onClose'"), busy.err)
    }

    /// A global the host calls (main, a handler; in load runs also setup and teardown) set to
    /// a value that is not a function is refused with status 2, in plain and load runs alike,
    /// instead of being skipped without a word.
    func testEntryPointsThatAreNotFunctionsAreRefused() throws {
        let script = NSTemporaryDirectory() + "entry-\(getpid()).lua"
        defer { try? FileManager.default.removeItem(atPath: script) }
        let url = Servers.plain.url + "/echo"
        let cases: [(source: String, name: String, type: String, plain: Int32, load: Int32)] = [
            ("main = 5", "main", "number", 2, 2),
            ("function onOpen(c) print('opened') c:close() end\nonMessage = 'x'", "onMessage", "string", 2, 2),
            ("onClose = {}", "onClose", "table", 2, 2),
            // setup and teardown are a load run's only: a plain run does not call them.
            ("setup = 5\nfunction main() print('main ran') end", "setup", "number", 0, 2),
            ("teardown = true\nfunction main() print('main ran') end", "teardown", "boolean", 0, 2),
        ]
        for c in cases {
            try (c.source + "\n").write(toFile: script, atomically: true, encoding: .utf8)
            let words = "the global '\(c.name)' is a \(c.type), not a function"
            let plain = try netstack(["run", script, "--url", url])
            XCTAssertEqual(plain.status, c.plain, "\(c.source): \(plain.err)")
            XCTAssertEqual(plain.err.contains(words), c.plain == 2, "\(c.source): \(plain.err)")
            if c.plain == 2 { XCTAssertFalse(plain.out.contains("opened") || plain.out.contains("ran"), plain.out) }
            let load = try netstack(["run", script, "--url", url, "--vus", "2", "--iterations", "4", "--quiet"])
            XCTAssertEqual(load.status, c.load, "\(c.source): \(load.err)")
            XCTAssertTrue(load.err.contains(words), "\(c.source): \(load.err)")
            XCTAssertEqual(load.err.components(separatedBy: words).count, 2, "said once: \(load.err)")
            XCTAssertFalse(load.out.contains("ran") || load.out.contains("opened"), "no iteration runs: \(load.out)")
        }
        // With --exec, main and the handlers are not called, so a data global named main is fine.
        try "main = { room = 'lobby' }\nfunction other() print('other ran', main.room) end\n".write(toFile: script, atomically: true, encoding: .utf8)
        let exec = try netstack(["run", script, "--url", url, "--vus", "1", "--iterations", "1", "--exec", "other", "--quiet"])
        XCTAssertEqual(exec.status, 0, exec.err)
        XCTAssertTrue(exec.out.hasPrefix("other ran\tlobby\n"), exec.out)
        // nil and functions are what they were: a global set back to nil is no entry point.
        try "main = 5\nmain = nil\nfunction onOpen(c) print('opened') c:close() end\n".write(toFile: script, atomically: true, encoding: .utf8)
        let fine = try netstack(["run", script, "--url", url])
        XCTAssertEqual(fine.status, 0, fine.err)
        XCTAssertEqual(fine.out, "opened\n")
    }

    /// A reader that goes away (`| head -c 1`) leaves stderr a pipe without a reader: the next
    /// diagnostic fails with EPIPE (SwiftNIO ignores SIGPIPE), and Foundation's FileHandle.write
    /// trapped on that (exit 132, SIGILL). The lost lines are dropped; the status is the run's own.
    func testAStderrPipeWithoutAReaderEndsWithTheRunsOwnStatus() throws {
        let binary = CLITests.buildDir + "/netstack"
        let url = Servers.plain.url + "/echo"
        func piped(_ command: String) throws -> Int32 {
            // head reads the first byte and exits; the later lines (a second on) find no reader.
            try runNetstack(["-c", "{ \(command); } 2>&1 | head -c 1 >/dev/null; exit ${PIPESTATUS[0]}"],
                            timeout: 30 * Self.slowdown, executable: "/bin/bash").status
        }
        XCTAssertEqual(try piped("echo hi | '\(binary)' connect -w 1 \(url)"), 0, "connect: 'closed 1000' after the reader left")
        let script = NSTemporaryDirectory() + "late-error-\(getpid()).lua"
        defer { try? FileManager.default.removeItem(atPath: script) }
        try "io.stderr:write('first\\n')\nnetstack.setTimeout(function() error('late') end, 1000)\n".write(toFile: script, atomically: true, encoding: .utf8)
        let unpiped = try runNetstack(["run", script], timeout: 30 * Self.slowdown)
        XCTAssertTrue(unpiped.err.contains("late"), unpiped.err)
        XCTAssertEqual(try piped("'\(binary)' run '\(script)'"), unpiped.status, "run: the script's error message after the reader left")
    }

    /// Standard input closed at the start (`<&-`) handed fd 0 to the first descriptor opened (an
    /// event loop's), and `verify -` read that and waited for ever; closed streams are /dev/null.
    /// A tuning variable that is not a whole number is not used silently: netstack warns, once
    /// per variable, and the command runs with the default.
    func testTuningVariablesThatDoNotParseAreWarnedAbout() throws {
        let bad = try runNetstack(["--version"], env: ["NETSTACK_MAX_OPENING": "1k", "NETSTACK_BUSY_POLL_US": "-5"])
        XCTAssertEqual(bad.status, 0, bad.err)
        XCTAssertTrue(bad.err.contains("netstack: warning: NETSTACK_MAX_OPENING=\"1k\" is not a whole number >= 0; the default 1024 is used"), bad.err)
        XCTAssertTrue(bad.err.contains("netstack: warning: NETSTACK_BUSY_POLL_US=\"-5\" is not a whole number >= 0; the default 50 is used"), bad.err)
        let good = try runNetstack(["--version"], env: ["NETSTACK_MAX_OPENING": "0", "NETSTACK_BUSY_POLL_US": "20"])
        XCTAssertEqual(good.err, "")
    }

    func testClosedStandardStreamsActAsTheNullDevice() throws {
        let binary = CLITests.buildDir + "/netstack"
        func sh(_ command: String) throws -> (status: Int32, out: String, err: String) {
            try runNetstack(["-c", command], timeout: 20 * Self.slowdown, executable: "/bin/sh")
        }
        for cmd in ["verify -", "merge -"] {
            let null = try sh("exec '\(binary)' \(cmd) </dev/null")
            let closed = try sh("exec '\(binary)' \(cmd) <&-")
            XCTAssertEqual(closed.status, null.status, "\(cmd) <&-: \(closed.err)")
            XCTAssertEqual(closed.err, null.err, cmd)
        }
        let url = Servers.plain.url + "/echo"
        let quiet = try sh("exec '\(binary)' connect -x hi -w 0.2 \(url) >&- 2>&-")
        XCTAssertEqual(quiet.status, 0, "connect with standard output and error closed")
    }

    /// A header argument whose bytes are not UTF-8 (Latin-1 "café") is refused by `run` (64, its
    /// bad client flags) and `connect` (2, a header that cannot be used, as a CR/LF in it is):
    /// Swift reads it with U+FFFD in place of the byte, which would go on the wire.
    /// A real U+FFFD, given as UTF-8, is sent as it is. (Process takes Swift strings, so a shell
    /// passes the bytes.)
    func testHeaderArgumentsThatAreNotUTF8AreRefused() throws {
        let binary = CLITests.buildDir + "/netstack"
        let url = Servers.plain.url + "/echo"
        func shell(_ command: String) throws -> (status: Int32, out: String, err: String) {
            try runNetstack(["-c", command], executable: "/bin/sh")
        }
        for (cmd, status) in [("connect -x hi -w 0.2 \(url)", Int32(2)), ("run examples/hello-bot.lua --url \(url)", 64)] {
            let latin1 = try shell("exec '\(binary)' \(cmd) -H \"$(printf 'X-A: caf\\351')\"")
            XCTAssertEqual(latin1.status, status, cmd + ": " + latin1.err)
            XCTAssertTrue(latin1.err.contains("is not valid UTF-8 (its bytes would be sent altered)"), latin1.err)
            XCTAssertFalse(latin1.out.contains("connected"), latin1.out)
            let joined = try shell("exec '\(binary)' \(cmd) \"--header=$(printf 'X-A: caf\\351')\"")
            XCTAssertEqual(joined.status, status, cmd + ": " + joined.err)
        }
        let replacement = try shell("exec '\(binary)' connect -v -x hi -w 0.2 -H \"$(printf 'X-A: caf\\357\\277\\275')\" \(url)")
        XCTAssertEqual(replacement.status, 0, replacement.err)
        XCTAssertTrue(replacement.err.contains("> X-A: caf\u{FFFD}"), replacement.err)
    }

    /// A script's arguments reach `arg` and `...` as the bytes given, as lua.c gives them, also
    /// bytes that are not UTF-8 (Swift reads them with U+FFFD in their place): a Latin-1 file
    /// name stays the name of the file. Plain and load runs.
    func testScriptArgumentsKeepTheirBytes() throws {
        let script = NSTemporaryDirectory() + "argbytes-\(getpid()).lua"
        try "local v = ...\nfunction main() print(#arg[1], arg[1]:byte(1, -1)) print(#arg[2], #v, v == arg[1]) end\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let binary = CLITests.buildDir + "/netstack"
        let latin1 = "\"$(printf 'caf\\351')\"", replacement = "\"$(printf '\\357\\277\\275')\""
        // After --, right after the script (as lua.c takes them), and between options.
        for words in ["--vus 1 --quiet -- \(latin1) \(replacement)", "\(latin1) \(replacement)",
                      "\(latin1) --vus 1 \(replacement) --quiet", "--quiet \(latin1) -- \(replacement)"] {
            let r = try runNetstack(["-c", "exec '\(binary)' run '\(script)' \(words)"], executable: "/bin/sh")
            XCTAssertEqual(r.status, 0, words + ": " + r.err)
            XCTAssertTrue(r.out.hasPrefix("4\t99\t97\t102\t233\n3\t4\ttrue\n"), words + ": " + r.out)
        }
    }

    /// `netstack run SCRIPT a b` gives the script `a` and `b`, as `lua SCRIPT a b` does; words that
    /// start with `-` are netstack's options unless they come after `--`.
    func testScriptArgumentsWithoutTheSeparator() throws {
        let script = NSTemporaryDirectory() + "args-\(getpid()).lua"
        try "print(#arg, ...)".write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        let cases: [([String], Int32, String)] = [
            ([script, "a", "b"], 0, "2\ta\tb\n"),
            ([script, "a", "-v", "b"], 0, "2\ta\tb\n"),
            ([script, "a", "--", "-x", "--vus"], 0, "3\ta\t-x\t--vus\n"),
            ([script, "--", "-5"], 0, "1\t-5\n"),
            ([script], 0, "0\n"),
            ([script, "a", "-x"], 64, ""),
        ]
        for (args, status, out) in cases {
            let r = try runNetstack(["run"] + args)
            XCTAssertEqual(r.status, status, "\(args): \(r.err)")
            XCTAssertEqual(r.out, out, "\(args)")
        }
        let stdin = try runNetstack(["run", "-", "a", "b"], stdin: "print(arg[0], ...)")
        XCTAssertEqual(stdin.out, "-\ta\tb\n", stdin.err)
    }

    /// wscat's spellings: -x TEXT -w SECONDS -s PROTOCOL -H 'Name: value' -k.
    func testConnectTakesWscatFlags() throws {
        let r = try netstack(["connect", "-x", "first", "-x", "second", "-w", "2", "-s", "chat", "-H", "X-Test: 1", "--json",
                              Servers.plain.url + "/echo?protocol=chat"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("\"protocol\":\"chat\""), r.out)
        XCTAssertTrue(r.out.contains("\"data\":\"first\"") && r.out.contains("\"data\":\"second\""), r.out)
        let tls = Servers.tls.url.replacingOccurrences(of: "127.0.0.1", with: "localhost") + "/echo"
        let k = try netstack(["connect", "-k", "-x", "insecure", tls])
        XCTAssertEqual(k.status, 0, k.err)
        XCTAssertTrue(k.out.contains("insecure"), k.out)
        XCTAssertTrue(k.err.contains("--insecure: the server certificate is not verified"), k.err)
        XCTAssertEqual(try netstack(["connect", "--no-check", "-x", "x", tls]).status, 0)
        XCTAssertEqual(try netstack(["connect", "-w", "-1", "-x", "x", tls]).status, 64)
    }

    /// wscat's -P: the server's pings and the pongs to our pings are shown (stderr, or JSON
    /// events), and pings are still answered; without -P nothing of them is shown.
    func testConnectShowsPingsAndPongsWithP() throws {
        let pinged = try netstack(["connect", "-P", Servers.plain.url + "/misbehave/ping", "-w", "0.5"], stdin: "")
        XCTAssertEqual(pinged.status, 0, pinged.err)
        XCTAssertTrue(pinged.err.contains("< ping: are you there"), pinged.err)
        XCTAssertEqual(pinged.out, "pong:are you there\n", "the ping was answered")
        let quiet = try netstack(["connect", Servers.plain.url + "/misbehave/ping", "-w", "0.5"], stdin: "")
        XCTAssertFalse(quiet.err.contains("< ping"), quiet.err)
        let json = try netstack(["connect", "-P", "--json", "--slash", Servers.plain.url + "/echo", "-w", "0.5"], stdin: "/ping hello\n")
        XCTAssertEqual(json.status, 0, json.err)
        XCTAssertTrue(json.out.contains("{\"event\":\"pong\",\"data\":\"hello\",\"length\":5}"), json.out)
    }

    /// More of wscat's: -c URL, -o ORIGIN, --auth USER:PASSWORD (Basic authentication).
    func testConnectTakesWscatURLOriginAndAuth() throws {
        let r = try netstack(["connect", "-c", Servers.plain.url + "/headers", "-o", "http://origin.test", "--auth", "alice:s3:cret", "-w", "0.3"], stdin: "")
        XCTAssertEqual(r.status, 0, r.err)
        let seen = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((r.out.split(separator: "\n").first ?? "").utf8)) as? [String: String], r.out)
        XCTAssertEqual(seen["Origin"], "http://origin.test")
        XCTAssertEqual(seen["Authorization"], "Basic " + Data("alice:s3:cret".utf8).base64EncodedString())
        for (args, message) in [(["connect", "-w", "0.1"], "a URL is needed"),
                                (["connect", "ws://127.0.0.1:1/", "-c", "ws://127.0.0.1:2/"], "give the URL once"),
                                (["connect", "-c", "ws://127.0.0.1:1/", "--auth", "nocolon"], "--auth: expected USER:PASSWORD"),
                                (["connect", "-c", "ws://127.0.0.1:1/", "-o", ""], "--origin")] {
            let bad = try netstack(args)
            XCTAssertEqual(bad.status, 64, "\(args): \(bad.err)")
            XCTAssertTrue(bad.err.contains(message), "\(args): \(bad.err)")
        }
    }

    func testVerboseTracesHandshakeMessagesAndClose() throws {
        let r = try netstack(["connect", "-v", "--no-compression", Servers.plain.url + "/echo", "--wait", "0.3"], stdin: "hi\n")
        XCTAssertEqual(r.status, 0, r.err)
        for expected in ["> GET /echo HTTP/1.1", "> Sec-WebSocket-Version: 13", "< HTTP/1.1 101 Switching Protocols",
                         "> text message, 2 bytes", "< text message, 2 bytes", "> close 1000", "< close 1000"] {
            XCTAssertTrue(r.err.contains(expected), "missing '\(expected)' in:\n\(r.err)")
        }
        let run = try netstack(["run", "-v", "examples/echo-bot.lua", "--url", Servers.plain.url + "/echo", "--", "1"])
        XCTAssertEqual(run.status, 0)
        XCTAssertTrue(run.err.contains("[client 1] > text message, 8 bytes"), run.err)
    }

    func testConnectFailuresExitNonZeroWithTheReason() throws {
        let refused = try netstack(["connect", "ws://127.0.0.1:1/"], stdin: "")
        XCTAssertEqual(refused.status, 4, "connect stage")
        XCTAssertTrue(refused.err.contains("refused"), refused.err)
        let badURL = try netstack(["connect", "ws://bad host/"], stdin: "")
        XCTAssertEqual(badURL.status, 2)
        XCTAssertTrue(badURL.err.contains("invalid URL"), badURL.err)
        let rejected = try netstack(["connect", Servers.plain.url + "/status?code=404", "--json"], stdin: "")
        XCTAssertEqual(rejected.status, 6, "upgrade stage")
        XCTAssertTrue(rejected.out.contains("\"stage\":\"upgrade\""), rejected.out)
        XCTAssertTrue(rejected.out.contains("\"errorCode\":1003"), rejected.out)
        XCTAssertTrue(rejected.out.contains("404"), rejected.out)
    }

    /// The collector mode: generational by default, incremental on request, anything else refused.
    func testGarbageCollectorOption() throws {
        let script = NSTemporaryDirectory() + "gc-mode-\(getpid()).lua"
        // collectgarbage(mode) returns the mode that was in effect.
        try "print(collectgarbage('incremental'))".write(toFile: script, atomically: true, encoding: .utf8)
        XCTAssertEqual(try runNetstack(["run", script]).out, "generational\n")
        try "print(collectgarbage('generational'))".write(toFile: script, atomically: true, encoding: .utf8)
        XCTAssertEqual(try runNetstack(["run", script, "--gc", "incremental"]).out, "incremental\n")
        let bad = try runNetstack(["run", script, "--gc", "fast"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--gc: expected generational or incremental, got 'fast'"), bad.err)
    }

    /// Thousands of clients in one script, with the shell's soft open-file limit at 256:
    /// `netstack run` raises it to the hard limit.
    func testThousandsOfClientsAboveTheSoftFileLimit() throws {
        let binary = Self.buildDir + "/netstack"
        let r = try runNetstack(["-c", "ulimit -Sn 256 && exec \"$0\" run Tests/LuaScripts/many_clients.lua -- \"$1\" 2000 \"$2\"",
                                 binary, Servers.plain.url, String(Int(10_000 * Self.slowdown))], timeout: 60 * Self.slowdown, executable: "/bin/bash")
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(r.out, "2000 clients open at once, 2000 echoed, 2000 closed\n", r.err)
    }
}

/// Runs the built `netstack` executable.
func runNetstack(_ args: [String], stdin: String? = nil, timeout: Double = 20, env: [String: String] = [:],
                 cwd: URL? = nil, executable: String? = nil) throws -> (status: Int32, out: String, err: String) {
    let binary = executable ?? CLITests.buildDir + "/netstack"
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        throw CLITests.Failure("\(binary) is missing: run `swift build` first (scripts/test does)")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = args
    p.currentDirectoryURL = cwd ?? CLITests.root
    if !env.isEmpty {
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
    }
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    try p.run()
    if let s = stdin { inp.fileHandleForWriting.write(s.data(using: .utf8)!) }
    try inp.fileHandleForWriting.close()
    let outData = LockedData(), errData = LockedData()
    let t1 = Thread { outData.append(out.fileHandleForReading.readDataToEndOfFile()) }
    let t2 = Thread { errData.append(err.fileHandleForReading.readDataToEndOfFile()) }
    t1.start(); t2.start()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning {
        p.terminate()
        // What it printed so far says where it stopped.
        let readers = Date().addingTimeInterval(2)
        while (!t1.isFinished || !t2.isFinished) && Date() < readers { usleep(1000) }
        let tail = { (d: LockedData) in String(String(decoding: d.data, as: UTF8.self).suffix(1500)) }
        throw CLITests.Failure("netstack \(args) did not finish in \(timeout) s; stdout so far: \(tail(outData)); stderr so far: \(tail(errData))")
    }
    while !t1.isFinished || !t2.isFinished { usleep(1000) }
    return (p.terminationStatus, String(decoding: outData.data, as: UTF8.self), String(decoding: errData.data, as: UTF8.self))
}

