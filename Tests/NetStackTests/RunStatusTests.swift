import Foundation
import NetStack
import XCTest

/// `netstack run` exit statuses as --help states them, and its option checks: CI gates on these.
final class RunStatusTests: XCTestCase {
    static let bot = NSTemporaryDirectory() + "status-bot-\(getpid()).lua"

    override class func setUp() {
        try? """
        function onOpen(c) c:send("hi") end
        function onMessage(c, data) print("message", data) end
        function onError(c, e) print("error", e.errorCode, e.errorMessage) end
        function onClose(c, r) print("closed", r.code) end
        """.write(toFile: bot, atomically: true, encoding: .utf8)
    }

    func testAFailedConnectionFailsTheRun() throws {
        // Refused.
        let refused = try runNetstack(["run", Self.bot, "--url", "ws://127.0.0.1:1/"])
        XCTAssertEqual(refused.status, 1, refused.out + refused.err)
        XCTAssertTrue(refused.out.contains("error\t1003"), refused.out)
        XCTAssertTrue(refused.err.contains("1 connection failed"), refused.err)
        // DNS.
        let dns = try runNetstack(["run", Self.bot, "--url", "ws://no-such-host.invalid/"])
        XCTAssertEqual(dns.status, 1, dns.out + dns.err)
        // TLS: the test server's certificate is not trusted here (2305xxx).
        let tls = try runNetstack(["run", Self.bot, "--url", Servers.tls.url + "/echo"], env: ["SSL_CERT_FILE": "/dev/null", "SSL_CERT_DIR": "/nonexistent"])
        XCTAssertEqual(tls.status, 1, tls.out + tls.err)
        XCTAssertTrue(tls.out.contains("error\t2305"), tls.out)
        // Dropped without a close frame.
        let drop = try runNetstack(["run", Self.bot, "--url", Servers.plain.url + "/misbehave/drop", "--json"])
        XCTAssertEqual(drop.status, 1, drop.out + drop.err)
        XCTAssertTrue(drop.out.contains("\"code\":1006"), drop.out)
        XCTAssertTrue(drop.out.contains("{\"event\":\"exit\",\"status\":1}"), drop.out)
        // A clean run still exits 0.
        let clean = try runNetstack(["run", "examples/echo-bot.lua", "--url", Servers.plain.url + "/echo"])
        XCTAssertEqual(clean.status, 0, clean.err)
    }

    /// `netstack run -` reads the script from standard input, as `lua -` and `k6 run -` do:
    /// named `stdin` in errors, `-` as `arg[0]`, a shebang line skipped, plain and load runs.
    func testTheScriptFromStandardInput() throws {
        let plain = try runNetstack(["run", "-", "--", "a", "b"], stdin: "#!/usr/bin/env netstack\nprint(arg[0], ...)\n")
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertEqual(plain.out, "-\ta\tb\n")
        let bot = try runNetstack(["run", "-", "--url", Servers.plain.url + "/echo"],
                                  stdin: "function onOpen(c) c:send('hi') end\nfunction onMessage(c, m) print('got', m) c:close() end\n")
        XCTAssertEqual(bot.status, 0, bot.err)
        XCTAssertEqual(bot.out, "got\thi\n")
        let raises = try runNetstack(["run", "-"], stdin: "local t\nprint(t.x)\n")
        XCTAssertEqual(raises.status, 1)
        XCTAssertTrue(raises.err.contains("stdin:2: attempt to index a nil value"), raises.err)
        // A load run from standard input: options read, VUs started from the same source.
        let export = NSTemporaryDirectory() + "stdin-export-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: export) }
        let source = "options = { vus = 3, iterations = 6 }\nfunction main() print('vu', netstack.vu.id) end\n"
        let load = try runNetstack(["run", "-", "--quiet", "--summary-export", export], stdin: source)
        XCTAssertEqual(load.status, 0, load.err)
        XCTAssertEqual(load.out.split(separator: "\n").filter { $0.hasPrefix("vu\t") }.count, 6, load.out)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: export))) as? [String: Any])
        XCTAssertEqual(summary["script"] as? String, "stdin")
        XCTAssertEqual(summary["scriptSHA256"] as? String, Digest.sha256Hex(Array(source.utf8)))
        let broken = try runNetstack(["run", "-", "--vus", "2", "--iterations", "2"], stdin: "x = (")
        XCTAssertEqual(broken.status, 1, broken.err)
        XCTAssertTrue(broken.err.contains("stdin:1: unexpected symbol"), broken.err)
        // Bounded, as script files are: an endless input is refused, not read without end.
        let endless = try runNetstack(["-c", "exec \"$0\" run - < /dev/zero", CLITests.buildDir + "/netstack"], timeout: 60, executable: "/bin/sh")
        XCTAssertEqual(endless.status, 2, endless.err)
        XCTAssertTrue(endless.err.contains("larger than 64 MiB"), endless.err)
    }

    /// `netstack.vu` and `netstack.metrics` exist only in load runs: a plain run may test for
    /// them (nil), and indexing them says how to start a load run. `_G.options` makes one.
    func testLoadRunOnlyTablesInAPlainRunAndTheOptionsThroughG() throws {
        let probe = try runNetstack(["run", "-"], stdin: "print(netstack.vu == nil, netstack.metrics == nil)\n")
        XCTAssertEqual(probe.status, 0, probe.err)
        XCTAssertEqual(probe.out, "true\ttrue\n")
        for (field, source) in [("metrics", "local n = netstack.metrics.counter('n')\n"), ("vu", "print(netstack.vu.id)\n")] {
            let plain = try runNetstack(["run", "-"], stdin: source)
            XCTAssertEqual(plain.status, 1, plain.err)
            XCTAssertTrue(plain.err.contains("stdin:1: attempt to index a nil value (field '\(field)') (netstack.\(field) exists only in load runs: run with --vus 1"),
                          plain.err)
            let load = try runNetstack(["run", "-", "--vus", "1", "--quiet"], stdin: source + "function main() end\n")
            XCTAssertEqual(load.status, 0, load.err)
        }
        // The user's own table of that name gets no hint inside a load run.
        let own = try runNetstack(["run", "-", "--vus", "1", "--quiet"], stdin: "function main() local s = {} print(s.vu.x) end\n")
        XCTAssertEqual(own.status, 1, own.err)
        XCTAssertTrue(own.err.contains("(field 'vu')"), own.err)
        XCTAssertFalse(own.err.contains("exists only in load runs"), own.err)
        let viaG = try runNetstack(["run", "-", "--quiet"], stdin: "_G.options = { vus = 2, iterations = 4 }\nfunction main() print('vu', netstack.vu.id) end\n")
        XCTAssertEqual(viaG.status, 0, viaG.err)
        XCTAssertEqual(viaG.out.split(separator: "\n").filter { $0.hasPrefix("vu\t") }.count, 4, viaG.out)
    }

    /// `require` finds modules beside the script wherever the run starts (k6 imports relative to
    /// the script; Lua's own path is relative to the working folder), in plain and load runs; the
    /// script's folder comes first.
    func testModulesBesideTheScriptAreFoundFromAnyFolder() throws {
        let dir = NSTemporaryDirectory() + "script-folder-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir + "/lib", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "return { greet = function() return 'hi from helper' end }".write(toFile: dir + "/helper.lua", atomically: true, encoding: .utf8)
        try "return { name = 'lib' }".write(toFile: dir + "/lib/init.lua", atomically: true, encoding: .utf8)
        try "local h, lib = require 'helper', require 'lib'\nprint(h.greet(), lib.name, package.path:sub(1, #'\(dir)/?.lua;') == '\(dir)/?.lua;')\n"
            .write(toFile: dir + "/plain.lua", atomically: true, encoding: .utf8)
        try "local h = require 'helper'\nfunction main() print(h.greet()) end\n".write(toFile: dir + "/load.lua", atomically: true, encoding: .utf8)
        let plain = try runNetstack(["run", dir + "/plain.lua"], cwd: URL(fileURLWithPath: "/"))
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertEqual(plain.out, "hi from helper\tlib\ttrue\n")
        let load = try runNetstack(["run", dir + "/load.lua", "--vus", "2", "--quiet"], cwd: URL(fileURLWithPath: "/"))
        XCTAssertEqual(load.status, 0, load.err)
        XCTAssertEqual(load.out.split(separator: "\n").filter { $0 == "hi from helper" }.count, 2, load.out)
        // From standard input there is no script folder: the working folder's ./?.lua applies.
        let stdin = try runNetstack(["run", "-"], stdin: "print(pcall(require, 'helper'))", cwd: URL(fileURLWithPath: "/"))
        XCTAssertTrue(stdin.out.hasPrefix("false"), stdin.out)
        let stdinHere = try runNetstack(["run", "-"], stdin: "print(require('helper').greet())", cwd: URL(fileURLWithPath: dir))
        XCTAssertEqual(stdinHere.out, "hi from helper\n", stdinHere.err)
    }

    /// Out of descriptors (a load test at `ulimit -n`): each connection that cannot get a socket
    /// fails with 1003 and the reason, the others work, and the run ends with status 1. The socket
    /// fails inside Connect; its error came back inside that call, before the host counted the
    /// client, and the run never ended.
    func testConnectionsBeyondTheDescriptorLimitFailAndTheRunEnds() throws {
        let script = NSTemporaryDirectory() + "emfile-\(getpid()).lua"
        try """
        local opened, failed, reason = 0, 0, nil
        for i = 1, 60 do
          local c = netstack.OH_WebSocketClient_Constructor(function(c) opened = opened + 1; c:close() end, nil,
            function(c, e) failed = failed + 1; reason = reason or (e.errorCode .. " " .. e.errorMessage) end,
            function(c, r) if opened + failed == 60 then print("opened", opened, "failed", failed, reason) end end)
          netstack.OH_WebSocketClient_Connect(c, "\(Servers.plain.url)/echo")
        end
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try runNetstack(["-c", "ulimit -n 40 && exec \"$0\" run \"$1\"", CLITests.buildDir + "/netstack", script],
                                timeout: 30, executable: "/bin/sh")
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.err.contains("connections failed"), r.err)
        XCTAssertTrue(r.out.contains("1003 could not connect") && r.out.contains("too many open files"), r.out)
        let fields = r.out.split(whereSeparator: { $0 == "\t" || $0 == "\n" })
        if let i = fields.firstIndex(of: "opened"), let opened = Int(fields[i + 1]), let failed = Int(fields[i + 3]) {
            XCTAssertGreaterThan(opened, 0, r.out)
            XCTAssertGreaterThan(failed, 0, r.out)
        }
    }

    /// Certificate files `serve` cannot use are bad input (2), with the file named.
    func testServeRefusesUnusableCertificates() throws {
        let garbage = NSTemporaryDirectory() + "serve-garbage-\(getpid()).pem"
        try "not a certificate".write(toFile: garbage, atomically: true, encoding: .utf8)
        defer { unlink(garbage) }
        let unreadable = try runNetstack(["serve", "--cert", "/nonexistent.pem", "--key", garbage, "--port", "0"])
        XCTAssertEqual(unreadable.status, 2, unreadable.err)
        XCTAssertTrue(unreadable.err.contains("cannot read the certificate '/nonexistent.pem'"), unreadable.err)
        let unusable = try runNetstack(["serve", "--cert", garbage, "--key", garbage, "--port", "0"])
        XCTAssertEqual(unusable.status, 2, unusable.err)
        XCTAssertTrue(unusable.err.contains("cannot use the certificate '\(garbage)' with the key '\(garbage)': '\(garbage)' holds no PEM certificate"), unusable.err)
    }

    /// `serve --tls` makes a CA and keys in a folder of its own; stopping the server (SIGINT or
    /// SIGTERM, status 130) removes it: each run left one in $TMPDIR, private keys included.
    func testServeRemovesTheKeysItGeneratedWhenStopped() throws {
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLITests.buildDir + "/netstack")
            p.arguments = ["serve", "--tls", "--port", "0"]
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            // "listening on wss://..." comes once the folder is made and the server is up.
            _ = out.fileHandleForReading.availableData
            let text = String(decoding: err.fileHandleForReading.availableData, as: UTF8.self)
            guard let range = text.range(of: #"/\S+/ca\.pem"#, options: .regularExpression) else {
                p.terminate(); return XCTFail("\(name): no CA named: \(text)")
            }
            let folder = (String(text[range]) as NSString).deletingLastPathComponent
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/server.key"), name)
            kill(p.processIdentifier, number)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .exit, name)
            XCTAssertEqual(p.terminationStatus, 130, name)
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder), "\(name): \(folder) is left behind")
        }
    }

    /// Failed clients that the script destroyed (a bot replacing failing connections) still fail
    /// the run; a client that failed and then reconnected does not, and a reconnect from onError or
    /// onClose keeps the run going (it ended with the first connection before).
    func testDestroyedFailedClientsStillFailTheRun() throws {
        let script = NSTemporaryDirectory() + "status-destroyed-\(getpid()).lua"
        try """
        local ns = require "netstack"
        local url = ...
        local left = 50
        local function launch()
          local c = ns.OH_WebSocketClient_Constructor(nil, nil, function(c)
            c:destroy()
            left = left - 1
            if left > 0 then launch() end
          end, nil)
          c:connect("ws://127.0.0.1:1/")
        end
        launch()
        collectgarbage()
        """.write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        let r = try runNetstack(["run", script])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("50 connections failed"), r.err)
        let reconnect = NSTemporaryDirectory() + "status-reconnect-\(getpid()).lua"
        try """
        local ns = require "netstack"
        local url = ...
        local c
        c = ns.OH_WebSocketClient_Constructor(function(c) c:close() end, nil, function(c)
          c:connect(url)
        end, nil)
        c:connect("ws://127.0.0.1:1/")
        """.write(toFile: reconnect, atomically: true, encoding: .utf8)
        defer { unlink(reconnect) }
        let ok = try runNetstack(["run", reconnect, "--", Servers.plain.url + "/echo"])
        XCTAssertEqual(ok.status, 0, ok.err)
        // Reconnecting from onClose keeps the run going too.
        try """
        local ns = require "netstack"
        local url = ...
        local opens = 0
        local c = ns.OH_WebSocketClient_Constructor(function(c) opens = opens + 1; c:close() end, nil, nil, function(c)
          if opens == 1 then assert(c:connect(url)) else print("opens " .. opens) end
        end)
        c:connect(url)
        """.write(toFile: reconnect, atomically: true, encoding: .utf8)
        let again = try runNetstack(["run", reconnect, "--", Servers.plain.url + "/echo"])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(again.out, "opens 2\n", again.err)
    }

    func testNetstackExitChoosesTheStatusAndRejectsWhatAShellCannotSee() throws {
        let script = NSTemporaryDirectory() + "status-exit-\(getpid()).lua"
        try "netstack.exit(2305020)".write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        let r = try runNetstack(["run", script])
        XCTAssertEqual(r.status, 1, "an error, not 2305020 truncated to 252")
        XCTAssertTrue(r.err.contains("exit status from 0 to 255"), r.err)
    }

    func testAnErrorInACallbackDoesNotHangTheRun() throws {
        let script = NSTemporaryDirectory() + "status-cb-\(getpid()).lua"
        try """
        function onOpen(c) c:send("x") end
        function onMessage(c, data) error("handler broke") end
        """.write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        let r = try runNetstack(["run", script, "--url", Servers.plain.url + "/echo"], timeout: 10)
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("handler broke"), r.err)
        let bad = try runNetstack(["run", script, "--on-error", "explode"])
        XCTAssertEqual(bad.status, 64, bad.err)
    }

    /// The second SIGINT exits even when the script's loop is busy in Lua code.
    func testSecondSigintStopsABusyScript() throws {
        let script = NSTemporaryDirectory() + "status-busy-\(getpid()).lua"
        try "print('busy'); io.stdout:flush(); while true do end".write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.buildDir + "/netstack")
        p.arguments = ["run", script]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        _ = out.fileHandleForReading.availableData  // "busy": the loop is running
        kill(p.processIdentifier, SIGINT)
        usleep(200_000)
        XCTAssertTrue(p.isRunning, "the first SIGINT waits for the script")
        kill(p.processIdentifier, SIGINT)
        let deadline = Date().addingTimeInterval(3)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        let stillRunning = p.isRunning
        if stillRunning { p.terminate(); p.waitUntilExit() }
        XCTAssertFalse(stillRunning, "still running 3 s after the second SIGINT")
        XCTAssertEqual(p.terminationStatus, 130)
    }

    func testNumbersAndFormsOnTheCommandLineAreChecked() throws {
        for bad in [["run", Self.bot, "--memory-limit", "99999999999999g"], ["run", Self.bot, "--memory-limit", "-5"],
                    ["run", Self.bot, "--memory-limit", "12q"], ["run", Self.bot, "--instruction-limit", "-1"],
                    ["serve", "--port", "70000"], ["serve", "--port", "-1"], ["serve", "--mode", "flod"],
                    ["verify", "x.pem", "--at", "1e300"],
                    // Malformed options that are not numbers are usage errors too.
                    ["run", Self.bot, "--url", "notaurl"], ["run", Self.bot, "--url", "ws://a:99999/"],
                    ["run", Self.bot, "-P", "x"], ["run", Self.bot, "--gc", "flod"],
                    ["connect", "ws://127.0.0.1:1/", "-H", "nocolon"], ["audit", "-P", "bad", "x"],
                    ["serve", "--cert", "x.pem", "--port", "0"]] {
            let r = try runNetstack(bad)
            XCTAssertEqual(r.status, 64, "\(bad): \(r.err)")
            XCTAssertTrue(r.err.contains("Error:"), "\(bad): \(r.err)")
        }
    }

    /// A value that starts with '-' is the option's value, as curl, wscat and k6 (pflag) take it:
    /// `--vus -5` is told why -5 is refused, not "Missing value for '--vus'", and `connect -x -1`
    /// sends "-1".
    func testValuesThatStartWithADashAreValues() throws {
        for (args, message) in [(["run", Self.bot, "--vus", "-5"], "--vus: expected 0 to 10000000, got -5"),
                                (["run", Self.bot, "--duration", "-1s"], "'-1s' is not a duration"),
                                (["serve", "--port", "-1"], "--port: expected 0 to 65535, got -1"),
                                (["connect", "ws://127.0.0.1:1/", "--close-code", "-1"], "--close-code")] {
            let r = try runNetstack(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
            XCTAssertFalse(r.err.contains("Missing value"), "\(args): \(r.err)")
        }
        let sent = try runNetstack(["connect", Servers.plain.url + "/echo", "-x", "-1", "-x", "--not-an-option", "-w", "0.3"])
        XCTAssertEqual(sent.status, 0, sent.err)
        XCTAssertEqual(sent.out.split(separator: "\n").map(String.init), ["-1", "--not-an-option"], sent.out)
    }

    /// `-e NAME=VALUE` (k6's `-e`): the script, every VU of a load run and the host itself (a proxy
    /// variable) see it; a value may hold '=' or be empty; a missing name is bad usage.
    func testEnvironmentOptionReachesTheScriptAndItsVUs() throws {
        let script = NSTemporaryDirectory() + "status-env-\(getpid()).lua"
        try """
        local function show() print(os.getenv("GREETING"), os.getenv("EMPTY") == "", os.getenv("PAIR"), netstack.vu and netstack.vu.id or 0) end
        if netstack.vu then main = show else show() end
        """.write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        let plain = try runNetstack(["run", "-e", "GREETING=hi", "--env", "EMPTY=", "-e", "PAIR=a=b", script], env: ["GREETING": "outer"])
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertEqual(plain.out, "hi\ttrue\ta=b\t0\n")
        let load = try runNetstack(["run", "-e", "GREETING=vu", "-e", "EMPTY=", "-e", "PAIR=p", script, "--vus", "2", "--iterations", "2", "--quiet", "--no-summary-histograms"])
        XCTAssertEqual(load.status, 0, load.err)
        XCTAssertEqual(load.out.split(separator: "\n").filter { $0.hasPrefix("vu\t") }.sorted(), ["vu\ttrue\tp\t1", "vu\ttrue\tp\t2"], load.out)
        // As if set in the environment: a proxy variable applies to the bot's connection.
        let proxied = try runNetstack(["run", Self.bot, "--url", Servers.plain.url + "/echo", "-e", "http_proxy=http://127.0.0.1:1", "-e", "no_proxy="])
        XCTAssertEqual(proxied.status, 1, proxied.out + proxied.err)
        XCTAssertTrue(proxied.out.contains("error"), proxied.out)
        for bad in ["=x", "NOVALUE"] {
            let r = try runNetstack(["run", "-e", bad, script])
            XCTAssertEqual(r.status, 64, bad + ": " + r.err)
            XCTAssertTrue(r.err.contains("--env: expected NAME=VALUE"), r.err)
        }
    }

    /// `--memory-limit` sizes are powers of 1024 however the unit is written (k, kb, KiB...).
    func testMemoryLimitUnitsArePowersOf1024() throws {
        let hog = NSTemporaryDirectory() + "status-hog-\(getpid()).lua"
        try "local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(64) .. i end".write(toFile: hog, atomically: true, encoding: .utf8)
        defer { unlink(hog) }
        for (size, bytes) in [("2m", 2_097_152), ("2MB", 2_097_152), ("2MiB", 2_097_152), ("2048kb", 2_097_152), ("3000000b", 3_000_000), ("3000000", 3_000_000)] {
            let r = try runNetstack(["run", hog, "--memory-limit", size])
            XCTAssertEqual(r.status, 1, size + ": " + r.err)
            XCTAssertTrue(r.err.contains("memory limit of \(bytes) bytes exceeded"), size + ": " + r.err)
        }
        for bad in ["2mbb", "mb", "2bm", "2 mb", "2kg"] {
            let r = try runNetstack(["run", hog, "--memory-limit", bad])
            XCTAssertEqual(r.status, 64, bad + ": " + r.err)
        }
    }

    /// Without `--memory-limit`, a script's state gets half of what the process may use, and an
    /// address-space limit (`ulimit -v`) counts: the script ends with the limit's error and
    /// status 1 instead of the system refusing Lua (or Swift) memory at some other place. The
    /// commands that run Lua of their own (`plugins check` here) get the same default.
    func testDefaultMemoryLimitCountsTheAddressSpaceLimit() throws {
        if let san = CLITests.sanitizer {
            throw XCTSkip("a \(san)-sanitized netstack reserves terabytes of address space for its shadow memory, so it cannot start under ulimit -v")
        }
        let dir = NSTemporaryDirectory() + "status-as-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let grow = "local t = {} for i = 1, 1e6 do t[i] = ('x'):rep(1 << 20) .. i end"
        try grow.write(toFile: dir + "/hog.lua", atomically: true, encoding: .utf8)
        try """
        return { name = "hog", version = "1.0.0", description = "keeps memory", api = 1,
                 setup = function() return {} end,
                 check = function() \(grow) return true, "never" end }
        """.write(toFile: dir + "/hogplugin.lua", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/plugins", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: dir + "/hogplugin.lua", toPath: dir + "/plugins/hog.lua")
        let kib = 1_600_000
        let expected = "memory limit of \(kib * 1024 / 2) bytes (the default: half of the memory this process may use"
        let binary = CLITests.buildDir + "/netstack"
        let run = try runNetstack(["-c", "ulimit -v \(kib) && exec \"$0\" run \"$1\"", binary, dir + "/hog.lua"],
                                  timeout: 120, executable: "/bin/bash")
        XCTAssertEqual(run.status, 1, run.out + run.err)
        XCTAssertTrue(run.err.contains(expected + "; --memory-limit sets another, 0 none) exceeded: not enough memory"), run.err)
        let check = try runNetstack(["-c", "ulimit -v \(kib) && exec \"$0\" plugins check hog --plugin-path \"$1\"", binary, dir + "/plugins"],
                                    timeout: 120, executable: "/bin/bash")
        XCTAssertEqual(check.status, 1, check.out + check.err)
        XCTAssertTrue((check.out + check.err).contains(expected + ") exceeded: not enough memory"), check.out + check.err)
    }

    /// VUs that each stay under their own default limit (32 MiB here) are still bounded together:
    /// 60 VUs keeping 20 MiB each need 1.2 GB, more than half of what `ulimit -v` lets the process
    /// have. Without the shared limit the run took it all (and with a few more VUs the system
    /// refused memory, or Swift's own allocations failed with status 134); with it, the VUs that
    /// come last get the limit's error and the run ends with 1.
    func testTheVUsOfALoadRunShareTheDefaultLimit() throws {
        if let san = CLITests.sanitizer {
            throw XCTSkip("a \(san)-sanitized netstack reserves terabytes of address space for its shadow memory, so it cannot start under ulimit -v")
        }
        let script = NSTemporaryDirectory() + "status-pool-\(getpid()).lua"
        try "keep = {} function main() for i = 1, 20 do keep[i] = ('x'):rep(1 << 20) .. i end end"
            .write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        let kib = 1_600_000
        let run = try runNetstack(["-c", "ulimit -v \(kib) && exec \"$0\" run \"$1\" --vus 60 --iterations 60 --quiet", CLITests.buildDir + "/netstack", script],
                                  timeout: 180, executable: "/bin/bash")
        XCTAssertEqual(run.status, 1, run.out + run.err)
        XCTAssertTrue(run.err.contains("memory limit of \(kib * 1024 / 2) bytes (the default for all VUs together: half of the memory this process may use; --memory-limit sets a limit for each VU instead, 0 none) exceeded"), run.err)
        XCTAssertFalse(run.err.contains("the system refused memory"), run.err)
        XCTAssertFalse(run.err.contains("memory limit of 33554432 bytes"), "no VU reached its own limit: \(run.err)")
        XCTAssertTrue(run.out.contains("script_errors"), run.out)
    }

    /// Files named on the command line may be folders, devices that never end or too large: each
    /// is refused with its reason and the documented status, never read without end (`audit
    /// /dev/zero` grew to gigabytes; an unusable --ca made the audit's setup fail with status 1,
    /// a WARN's).
    func testFoldersEndlessDevicesAndNonCertificatesAreRefused() throws {
        let folder = NSTemporaryDirectory() + "status-folder-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let garbage = NSTemporaryDirectory() + "status-garbage-\(getpid()).pem"
        try "not a certificate".write(toFile: garbage, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: folder); unlink(garbage) }

        let cases: [([String], Int32, String)] = [
            (["run", folder], 2, "cannot read script '\(folder)': it is a folder"),
            (["verify", "/dev/zero"], 2, "netstack verify: '/dev/zero' is larger than 64 MiB"),
            (["verify", folder], 2, "netstack verify: cannot read '\(folder)': Is a directory"),
            (["verify", garbage, "--ca", "/dev/zero"], 2, "'/dev/zero' is larger than 64 MiB"),
            (["audit", "--ca", "/dev/zero", "127.0.0.1:1"], 64, "netstack audit: --ca: '/dev/zero' is larger than 64 MiB"),
            (["audit", "--untrusted", garbage, "127.0.0.1:1"], 64, "netstack audit: --untrusted: '\(garbage)' holds no certificate"),
            (["audit", "--crl", folder, "127.0.0.1:1"], 64, "netstack audit: --crl: cannot read '\(folder)': Is a directory"),
            (["audit", "--ca", garbage, "127.0.0.1:1"], 64, "holds no certificate"),
            (["audit", "--targets", "/dev/zero"], 64, "netstack audit: --targets: '/dev/zero' is larger than 64 MiB"),
            (["audit", "--targets", folder], 64, "netstack audit: --targets: cannot read '\(folder)': Is a directory"),
        ]
        for (args, status, words) in cases {
            let r = try runNetstack(args, timeout: 60 * CLITests.slowdown)
            XCTAssertEqual(r.status, status, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains(words), "\(args): \(r.err)")
            XCTAssertFalse(r.err.contains("stack traceback"), "\(args): \(r.err)")
        }
        // Certificate files as audit targets: each its own ERROR row with the reason, status 3.
        let audit = try runNetstack(["audit", "--lenient", "--no-crl-fetch", "/dev/zero", folder, garbage], timeout: 60 * CLITests.slowdown)
        XCTAssertEqual(audit.status, 3, audit.out + audit.err)
        XCTAssertTrue(audit.out.contains("cannot read /dev/zero: larger than 64 MiB"), audit.out)
        XCTAssertTrue(audit.out.contains("cannot read \(folder): Is a directory"), audit.out)
        XCTAssertTrue(audit.out.contains("cannot parse: no certificate could be parsed"), audit.out)
    }

    /// A listening socket that cannot be opened is said in words (not SwiftNIO's `bind(descriptor:
    /// ptr:bytes:): ... (errno: 98)`), with the documented status 1.
    func testListeningFailuresAreWorded() throws {
        let busy = URL(string: Servers.plain.url)!.port!
        let serve = try runNetstack(["serve", "--port", "\(busy)"])
        XCTAssertEqual(serve.status, 1, serve.err)
        XCTAssertTrue(serve.err.contains("cannot listen on 127.0.0.1:\(busy): the address is already in use"), serve.err)
        let metrics = try runNetstack(["run", Self.bot, "--vus", "1", "--metrics-addr", "127.0.0.1:\(busy)"])
        XCTAssertEqual(metrics.status, 1, metrics.err)
        XCTAssertTrue(metrics.err.contains("--metrics-addr: cannot listen on 127.0.0.1:\(busy): the address is already in use"), metrics.err)
        let unknown = try runNetstack(["run", Self.bot, "--vus", "1", "--metrics-addr", "999.1.1.1:9464"])
        XCTAssertEqual(unknown.status, 1, unknown.err)
        XCTAssertTrue(unknown.err.contains("'999.1.1.1' is not an IP address or a host name that resolves"), unknown.err)
        XCTAssertFalse((serve.err + metrics.err + unknown.err).contains("errno"), serve.err + metrics.err + unknown.err)
    }
}
