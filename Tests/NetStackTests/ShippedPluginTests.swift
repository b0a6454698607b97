import Foundation
import NetStackTestServer
import XCTest

/// The plugins in plugins/, against the local servers.
final class ShippedPluginTests: XCTestCase {
    /// Runs netstack in the background; `wait()` returns its result.
    final class Background {
        private var result: Result<(status: Int32, out: String, err: String), Error>?
        private let done = DispatchSemaphore(value: 0)
        init(_ args: [String], env: [String: String] = [:], timeout: Double = 30) {
            Thread {
                self.result = Result { try runNetstack(args, timeout: timeout, env: env) }
                self.done.signal()
            }.start()
        }
        func wait() throws -> (status: Int32, out: String, err: String) {
            done.wait()
            return try result!.get()
        }
    }

    func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    // MARK: reconnect

    func testReconnectAgainstAServerThatDropsAndComesBack() throws {
        let first = LocalWebSocketServer(configuration: .init())
        let port = try first.start()
        let run = Background(["run", "Tests/PluginScripts/reconnect.lua", "--url", "ws://127.0.0.1:\(port)/echo", "--plugin", "reconnect",
                              "-P", "reconnect.initialDelay=100", "-P", "reconnect.maxDelay=400", "-P", "reconnect.jitter=0.1"])
        XCTAssertTrue(waitUntil(10) { first.connectionCount == 1 }, "the bot connects")
        usleep(300_000)
        // The server dies: listener and connection gone (no close frame).
        first.stop(dropConnections: true)
        let downFor = 1.2
        usleep(UInt32(downFor * 1_000_000))
        var c = LocalWebSocketServer.Configuration()
        c.port = port
        let second = LocalWebSocketServer(configuration: c)
        try second.start()
        defer { second.stop() }
        let r = try run.wait()
        XCTAssertEqual(r.status, 0, r.out + r.err)
        // Failed attempts reach the script as onError (1003, connection refused).
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.filter { $0 != "error 1003" }, [
            "open 1 reconnects 0", "echo hello 1", "close 1006", "open 2 reconnects 1", "echo hello 2", "close 1000",
        ], r.out + r.err)
        XCTAssertTrue((2...7).contains(lines.filter { $0 == "error 1003" }.count), r.out)
        XCTAssertEqual(second.connectionCount, 1)
        // The attempts while the server was down: refused, with growing delays, capped, and
        // far from a busy loop (100 + 200 + 400 + 400 ms ≈ 1.1 s of waiting: 4-6 attempts).
        let attempts = r.err.split(separator: "\n").filter { $0.contains("[info] reconnect: client 1:") }
        let delays = attempts.compactMap { line -> Int? in
            guard let range = line.range(of: "attempt \\d+ in (\\d+) ms", options: .regularExpression) else { return nil }
            return Int(line[range].split(separator: " ")[3])
        }
        XCTAssertTrue((3...8).contains(delays.count), "attempts: \(attempts)")
        XCTAssertTrue(attempts.dropFirst().contains { $0.contains("connection refused") }, r.err)
        XCTAssertTrue(delays.allSatisfy { $0 >= 90 && $0 <= 440 }, "delays within [initial*(1-jitter), max*(1+jitter)]: \(delays)")
        XCTAssertTrue(delays.count >= 3 && delays[1] > delays[0] && delays[2] > delays[1], "exponential: \(delays)")
    }

    func testReconnectWithTheCoroutineStyle() throws {
        // Each connection sends "bye" and drops; maxAttempts=2 gives three connections.
        let r = try runNetstack(["run", "Tests/PluginScripts/reconnect-coroutines.lua", "--plugin", "reconnect",
                                 "-P", "reconnect.initialDelay=20", "-P", "reconnect.maxAttempts=2", "-P", "reconnect.jitter=0",
                                 "--", Servers.plain.url + "/misbehave/drop"])
        XCTAssertEqual(r.status, 1, "giving up fails the run: " + r.err)
        XCTAssertEqual(r.out.split(separator: "\n").map(String.init), [
            "bye text nil, nil closed 1006, bye text nil, nil closed 1006, bye text nil, nil closed 1006",
            "after giving up\tnil\tclosed\t1006\ttrue",
            "state\tclosed\t2\tfalse",
        ], r.out + r.err)
        XCTAssertTrue(r.err.contains("giving up after 2 attempts"), r.err)
    }

    func testReconnectGivesUpAfterMaxAttempts() throws {
        // A port nothing listens on.
        let s = LocalWebSocketServer(configuration: .init())
        let port = try s.start()
        s.stop()
        let started = Date()
        let r = try runNetstack(["run", "Tests/PluginScripts/reconnect.lua", "--url", "ws://127.0.0.1:\(port)/echo", "--plugin", "reconnect",
                                 "-P", "reconnect.initialDelay=50", "-P", "reconnect.maxAttempts=3", "-P", "reconnect.jitter=0"])
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(r.status, 1, "giving up fails the run: " + r.err)
        XCTAssertEqual(r.out, "error 1003\nerror 1003\nerror 1003\nerror 1003\n")
        XCTAssertTrue(r.err.contains("giving up after 3 attempts"), r.err)
        XCTAssertTrue(r.err.contains("attempt 1 in 50 ms") && r.err.contains("attempt 2 in 100 ms") && r.err.contains("attempt 3 in 200 ms"), r.err)
        XCTAssertGreaterThan(elapsed, 0.35, "the backoff really waits")
    }

    func testReconnectGivesUpOnAFlappingServer() throws {
        // The server accepts and closes at once: such connections are not stable, so they count
        // as failed attempts, and the attempt limit ends the loop.
        let r = try runNetstack(["run", "Tests/PluginScripts/reconnect.lua", "--url", Servers.plain.url + "/close?code=4001&reason=later",
                                 "--plugin", "reconnect", "-P", "reconnect.initialDelay=50", "-P", "reconnect.maxAttempts=2"])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertEqual(r.out, "open 1 reconnects 0\nclose 4001\nopen 2 reconnects 1\nclose 4001\nopen 3 reconnects 2\nclose 4001\n", r.err)
        XCTAssertTrue(r.err.contains("giving up after 2 attempts"), r.err)
        let check = try runNetstack(["plugins", "check", "reconnect", "-P", "reconnect.initialDelay=500", "-P", "reconnect.maxDelay=100"])
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.out.contains("maxDelay (100 ms) is below initialDelay (500 ms)"), check.out)
        let bad = try runNetstack(["run", "Tests/PluginScripts/reconnect.lua", "--plugin", "reconnect", "-P", "reconnect.jitter=2"])
        XCTAssertEqual(bad.status, 3)
        XCTAssertTrue(bad.err.contains("plugin 'reconnect': option 'jitter': must be within 0..1 (--plugin-option)"), bad.err)
    }

    // MARK: metrics

    func testMetricsMatchTheTrafficSent() throws {
        let r = try runNetstack(["run", "Tests/PluginScripts/metrics.lua", "--url", Servers.plain.url + "/echo", "--json",
                                 "--plugin", "metrics", "-P", "metrics.thresholds=messages_out==6,errors==0,latency.p99<5000"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let line = r.out.split(separator: "\n").first { $0.contains("\"event\":\"metrics\"") }
        let object = try JSONSerialization.jsonObject(with: Data((line ?? "{}").utf8)) as! [String: Any]
        let m = try XCTUnwrap(object["metrics"] as? [String: Any], r.out)
        let bytes = 1 + 10 + 100 + 1000 + 10000 + 100000
        XCTAssertEqual(m["messages_out"] as? Int, 6)
        XCTAssertEqual(m["messages_in"] as? Int, 6)
        XCTAssertEqual(m["bytes_out"] as? Int, bytes)
        XCTAssertEqual(m["bytes_in"] as? Int, bytes)
        XCTAssertEqual(m["connections"] as? Int, 1)
        XCTAssertEqual(m["errors"] as? Int, 0)
        XCTAssertEqual(m["closes"] as? Int, 1)
        XCTAssertEqual((m["closesByCode"] as? [String: Int])?["1000"], 1)
        let latency = try XCTUnwrap(m["latency"] as? [String: Double])
        XCTAssertEqual(latency["count"], 6)
        XCTAssertGreaterThan(latency["min"]!, 0)
        XCTAssertLessThanOrEqual(latency["min"]!, latency["p50"]!)
        XCTAssertLessThanOrEqual(latency["p50"]!, latency["p99"]!)
        XCTAssertLessThanOrEqual(latency["p99"]!, latency["max"]!)
        let thresholds = try XCTUnwrap(m["thresholds"] as? [[String: Any]])
        XCTAssertEqual(thresholds.count, 3)
        XCTAssertTrue(thresholds.allSatisfy { $0["ok"] as? Bool == true }, "\(thresholds)")
    }

    func testMetricsThresholdFailureAndErrorsByCode() throws {
        let file = NSTemporaryDirectory() + "metrics-\(getpid()).json"
        let r = try runNetstack(["run", "Tests/PluginScripts/metrics.lua", "--url", Servers.plain.url + "/misbehave/invalid-utf8",
                                 "--plugin", "metrics", "-P", "metrics.thresholds=errors==0", "-P", "metrics.file=\(file)"])
        XCTAssertEqual(r.status, 99, "a failed threshold exits 99: " + r.err)
        XCTAssertTrue(r.err.contains("threshold FAILED   errors==0 (value 1)"), r.err)
        XCTAssertTrue(r.err.contains("1 of 1 thresholds failed"), r.err)
        XCTAssertTrue(r.err.contains("closes             1 (1007x1)"), r.err)
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as! [String: Any]
        XCTAssertEqual(saved["errors"] as? Int, 1)
        XCTAssertEqual((saved["errorsByCode"] as? [String: Int])?.values.reduce(0, +), 1, "\(saved)")
        let bad = try runNetstack(["run", "Tests/PluginScripts/metrics.lua", "--plugin", "metrics", "-P", "metrics.thresholds=latency.p42<1"])
        XCTAssertEqual(bad.status, 3)
        XCTAssertTrue(bad.err.contains("unknown metric 'latency.p42'"), bad.err)
    }

    // MARK: record / replay / check

    func testRecordReplayRoundTripAndRegression() throws {
        let file = NSTemporaryDirectory() + "session-\(getpid()).jsonl"
        let recorded = try runNetstack(["run", "Tests/PluginScripts/chat.lua", "--url", Servers.plain.url + "/echo",
                                        "--plugin", "record", "-P", "record.file=\(file)"])
        XCTAssertEqual(recorded.status, 0, recorded.err)
        let expectedOutput = "open 101\ngot text 11 login alice\ngot text 14 subscribe news\ngot binary 4 \nclose 1000 done\n"
        XCTAssertEqual(recorded.out, expectedOutput)
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        let events = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let kinds = events.map { "\($0["dir"] ?? "-") \($0["type"]!)" }
        XCTAssertEqual(kinds, ["- session", "out connect", "in open", "out send", "in message", "out send", "out send",
                               "in message", "in message", "out disconnect", "in close"])
        XCTAssertEqual(events[6]["hex"] as? String, "000102ff")
        XCTAssertEqual(events[7]["data"] as? String, "subscribe news")
        let times = events.compactMap { $0["t"] as? Double }
        XCTAssertEqual(times, times.sorted(), "times grow")

        // Replay: no server at all (the URL points nowhere); the bot sees the same session.
        let replayed = try runNetstack(["run", "Tests/PluginScripts/chat.lua", "--url", "ws://127.0.0.1:1/nowhere",
                                        "--plugin", "record", "-P", "record.mode=replay", "-P", "record.file=\(file)"])
        XCTAssertEqual(replayed.status, 0, replayed.err)
        XCTAssertEqual(replayed.out, expectedOutput)
        XCTAssertTrue(replayed.err.contains("3 bot message(s) checked, 0 mismatch(es)"), replayed.err)
        // Without --url the replay still uses no network, and does not claim the local server.
        let offline = try runNetstack(["run", "Tests/PluginScripts/chat.lua",
                                       "--plugin", "record", "-P", "record.mode=replay", "-P", "record.file=\(file)"])
        XCTAssertEqual(offline.status, 0, offline.err)
        XCTAssertEqual(offline.out, expectedOutput)
        XCTAssertFalse(offline.err.contains("local echo server"), offline.err)

        // A regression: the bot subscribes to another topic.
        let regressed = try runNetstack(["run", "Tests/PluginScripts/chat.lua", "--url", "ws://127.0.0.1:1/nowhere",
                                         "--plugin", "record", "-P", "record.mode=replay", "-P", "record.file=\(file)", "-P", "record.timeout=300"],
                                        env: ["CHAT_TOPIC": "sports"])
        XCTAssertEqual(regressed.status, 1)
        XCTAssertTrue(regressed.err.contains("send #2 differs: expected text \"subscribe news\" (14 bytes), got text \"subscribe sports\" (16 bytes)"), regressed.err)

        // Check mode: live server, outgoing messages compared.
        let checked = try runNetstack(["run", "Tests/PluginScripts/chat.lua", "--url", Servers.plain.url + "/echo",
                                       "--plugin", "record", "-P", "record.mode=check", "-P", "record.file=\(file)"],
                                      env: ["CHAT_TOPIC": "sports"])
        XCTAssertEqual(checked.status, 1)
        XCTAssertTrue(checked.err.contains("check against \(file): 3 sent, 1 mismatch(es)"), checked.err)
        let clean = try runNetstack(["run", "Tests/PluginScripts/chat.lua", "--url", Servers.plain.url + "/echo",
                                     "--plugin", "record", "-P", "record.mode=check", "-P", "record.file=\(file)"])
        XCTAssertEqual(clean.status, 0, clean.err)

        // A bot that stops sending: the replay times out instead of hanging.
        let silent = NSTemporaryDirectory() + "silent-\(getpid()).lua"
        try "function onOpen(c) end".write(toFile: silent, atomically: true, encoding: .utf8)
        let timedOut = try runNetstack(["run", silent, "--url", "ws://127.0.0.1:1/", "--plugin", "record", "-P", "record.mode=replay",
                                        "-P", "record.file=\(file)", "-P", "record.timeout=200"])
        XCTAssertEqual(timedOut.status, 1)
        XCTAssertTrue(timedOut.err.contains("timed out after 200 ms waiting for text \"login alice\""), timedOut.err)
    }

    // MARK: audit

    func testAuditOfLocalTLSServers() throws {
        let pki = Servers.pki
        let good = try pki.issue(name: "audit-good", subjectAltName: "DNS:localhost,IP:127.0.0.1", days: 200)
        let soon = try pki.issue(name: "audit-soon", subjectAltName: "IP:127.0.0.1", days: 10)
        let expired = try pki.issue(name: "audit-expired", subjectAltName: "IP:127.0.0.1", days: -1)
        let wrongHost = try pki.issue(name: "audit-wronghost", subjectAltName: "DNS:other.example", days: 200)
        let weak = try pki.issue(name: "audit-weak", subjectAltName: "IP:127.0.0.1", days: 200, keyType: "rsa:1024")
        let sha1 = try pki.issue(name: "audit-sha1", subjectAltName: "IP:127.0.0.1", days: 200, digest: "sha1")
        let servers = [good, soon, expired, wrongHost, weak, sha1].map { Servers.tlsServer(certificate: $0.certificate, key: $0.key) }
        defer { servers.forEach { $0.stop() } }
        let closed = LocalWebSocketServer(configuration: .init())
        let closedPort = try closed.start()
        closed.stop()
        let targets = ["localhost:\(servers[0].port)", "127.0.0.1:\(servers[1].port)", "127.0.0.1:\(servers[2].port)",
                       "127.0.0.1:\(servers[3].port)", "127.0.0.1:\(servers[4].port)", "127.0.0.1:\(servers[5].port)",
                       "127.0.0.1:\(closedPort)"]
        let r = try runNetstack(["audit", "--ca", pki.caCertificate, "--format", "json"] + targets)
        XCTAssertEqual(r.status, 2, "a FAIL is the worst finding: " + r.out + r.err)
        let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        let results = try XCTUnwrap(report["targets"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["target"] as? String }, targets, "results in the order given")
        func findings(_ i: Int, info: Bool = false) -> String {
            ((results[i]["findings"] as? [[String: Any]]) ?? []).filter { info || $0["severity"] as? String != "INFO" }
                .map { "\($0["severity"]!): \($0["message"]!)" }.joined(separator: "; ")
        }
        XCTAssertEqual(results.map { $0["status"] as? String }, ["OK", "WARN", "FAIL", "FAIL", "FAIL", "FAIL", "ERROR"],
                       (0..<results.count).map { findings($0) }.joined(separator: "\n"))
        XCTAssertEqual(findings(0), "", "a conformant chain passes the strict verification too")
        XCTAssertTrue(findings(0, info: true).contains("INFO: no embedded SCTs"), findings(0, info: true))
        XCTAssertTrue(findings(0, info: true).contains("INFO: no OCSP staple"), findings(0, info: true))
        XCTAssertEqual(results[0]["strictCode"] as? Int, 0)
        XCTAssertEqual(results[0]["ocspStaple"] as? String, "none")
        XCTAssertTrue((results[0]["tlsVersion"] as? String ?? "").hasPrefix("TLSv1."), "\(results[0])")
        XCTAssertFalse((results[0]["cipher"] as? String ?? "").isEmpty, "\(results[0])")
        XCTAssertTrue(findings(1).contains("WARN: certificate expires in 9 days") || findings(1).contains("WARN: certificate expires in 10 days"), findings(1))
        XCTAssertTrue(findings(2).contains("FAIL: certificate expired"), findings(2))
        XCTAssertTrue(findings(3).contains("FAIL: hostname mismatch: 127.0.0.1 not in [other.example, audit-wronghost]"), findings(3))
        XCTAssertTrue(findings(4).contains("FAIL: certificate: weak key, RSA key of 1024 bits (< 2048)"), findings(4))
        XCTAssertTrue(findings(5).contains("FAIL: certificate: weak signature sha1WithRSAEncryption") || findings(5).contains("weak signature ecdsa-with-SHA1"), findings(5))
        XCTAssertTrue(findings(6).contains("ERROR: could not connect"), findings(6))
        XCTAssertEqual(report["worst"] as? String, "FAIL")
        XCTAssertEqual((report["counts"] as? [String: Int]) ?? [:], ["OK": 1, "WARN": 1, "FAIL": 4, "ERROR": 1])

        // Exit status by the worst finding.
        let okOnly = try runNetstack(["audit", "--ca", pki.caCertificate, targets[0]])
        XCTAssertEqual(okOnly.status, 0, okOnly.out + okOnly.err)
        XCTAssertTrue(okOnly.out.contains("1 targets: 1 OK, 0 WARN, 0 FAIL, 0 ERROR"), okOnly.out)
        let warnOnly = try runNetstack(["audit", "--ca", pki.caCertificate, targets[1], targets[0]])
        XCTAssertEqual(warnOnly.status, 1, warnOnly.out)
        let unreachable = try runNetstack(["audit", "--ca", pki.caCertificate, targets[6], targets[1]])
        XCTAssertEqual(unreachable.status, 3, unreachable.out)
        // Without --ca the test CA is not trusted.
        let untrusted = try runNetstack(["audit", targets[0]], env: ["SSL_CERT_FILE": CertificateLab.shared.path("root")])
        XCTAssertEqual(untrusted.status, 2)
        XCTAssertTrue(untrusted.out.contains("untrusted: 2305020"), untrusted.out)

        // CSV: a header and one quoted row per target.
        let csv = try runNetstack(["audit", "--ca", pki.caCertificate, "--format", "csv", targets[3]])
        let rows = csv.out.split(separator: "\n")
        XCTAssertEqual(rows.count, 2, csv.out)
        XCTAssertTrue(rows[0].hasPrefix("status,target,host,port,subject"), csv.out)
        XCTAssertTrue(rows[1].hasPrefix("FAIL,127.0.0.1:\(servers[3].port),127.0.0.1,\(servers[3].port),CN=audit-wronghost"), csv.out)

        // The progress bar (on by default only on a terminal for more than 3 targets): drawn at
        // the start and at the end (and at most ten times a second between), then cleared.
        let progress = try runNetstack(["audit", "--ca", pki.caCertificate, "--progress", "on", targets[0], targets[1]])
        XCTAssertTrue(progress.err.hasPrefix("\r\u{1B}[Kaudit [" + String(repeating: "-", count: 30) + "] 0/2, 0 running"), progress.err.debugDescription)
        XCTAssertTrue(progress.err.contains("\r\u{1B}[Kaudit [" + String(repeating: "#", count: 30) + "] 2/2, 0 running\r\u{1B}[K"),
                      progress.err.debugDescription)
        XCTAssertFalse(okOnly.err.contains("audit ["), "no progress bar when stderr is not a terminal")

        // Usage errors.
        XCTAssertEqual(try runNetstack(["audit"]).status, 64)
        XCTAssertEqual(try runNetstack(["audit", "--format", "xml", "x"]).status, 64)
    }

    /// Bad targets are ERROR rows (status 3), never a script error: an IPv6 target with a port out
    /// of range used to reach fetchChain, which raised and ended the audit with status 1.
    func testAuditReportsBadTargetsAsErrors() throws {
        let targets = ["[::1]:99999", "[::1]:0", "127.0.0.1:70000", "127.0.0.1:99999999999999999999999", "host:abc", "a b"]
        let r = try runNetstack(["audit", "--format", "json"] + targets)
        XCTAssertEqual(r.status, 3, r.out + r.err)
        XCTAssertFalse(r.err.contains("stack traceback"), r.err)
        let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        let results = try XCTUnwrap(report["targets"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["status"] as? String }, Array(repeating: "ERROR", count: targets.count), r.out)
    }

    /// A netstack copied away from its shipped plugins (no `share/netstack/plugins` beside it, no
    /// checkout above it) cannot audit: one line that says why and what to do, status 3, not a
    /// Lua traceback of `require` and status 1. `--plugin-path` to the plugins makes it work.
    func testAuditWithoutItsPluginSaysSo() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lone-netstack-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = dir.appendingPathComponent("netstack").path
        try FileManager.default.copyItem(atPath: CLITests.buildDir + "/netstack", toPath: binary)
        let env = ["HOME": dir.path, "XDG_CONFIG_HOME": dir.path + "/config", "NETSTACK_PLUGIN_PATH": ""]
        let lone = try runNetstack(["audit", "x:99999"], env: env, cwd: dir, executable: binary)
        XCTAssertEqual(lone.status, 3, lone.err)
        XCTAssertTrue(lone.err.contains("netstack audit: the 'audit' plugin is not found"), lone.err)
        XCTAssertTrue(lone.err.contains("--plugin-path"), lone.err)
        XCTAssertFalse(lone.err.contains("traceback"), lone.err)
        XCTAssertEqual(lone.out, "", "no report without the plugin")
        let pointed = try runNetstack(["audit", "--plugin-path", CLITests.root.path + "/plugins", "x:99999"], env: env, cwd: dir, executable: binary)
        XCTAssertEqual(pointed.status, 3, pointed.err)
        XCTAssertTrue(pointed.out.contains("1 targets: 0 OK, 0 WARN, 0 FAIL, 1 ERROR"), pointed.out + pointed.err)
        XCTAssertFalse(pointed.err.contains("not found"), pointed.err)
    }

    /// Certificate names are text from whoever made the certificate (any server audited): escape
    /// sequences in them are shown as \x1b, never sent to the terminal, in the audit's table and
    /// CSV and in `verify`'s text; JSON keeps them, escaped as JSON does.
    /// Files the plugins write: one that cannot be created stops the run before it starts (3);
    /// one that cannot be written in full (a full disk: /dev/full) is reported and makes the
    /// status 2, as an --out file does, never a traceback or a silent 0.
    func testPluginFilesThatCannotBeWrittenAreReported() throws {
        let bot = "examples/hello-bot.lua"
        let url = Servers.plain.url + "/echo"
        let missing = try runNetstack(["run", bot, "--url", url, "--plugin", "metrics", "-P", "metrics.file=/nonexistent/m.json"])
        XCTAssertEqual(missing.status, 3, missing.err)
        XCTAssertTrue(missing.err.contains("cannot write /nonexistent/m.json: No such file or directory"), missing.err)
        guard FileManager.default.fileExists(atPath: "/dev/full") else { return }
        let metrics = try runNetstack(["run", bot, "--url", url, "--plugin", "metrics", "-P", "metrics.file=/dev/full"])
        XCTAssertEqual(metrics.status, 2, metrics.err)
        XCTAssertTrue(metrics.err.contains("cannot write /dev/full: No space left on device"), metrics.err)
        XCTAssertFalse(metrics.err.contains("stack traceback"), metrics.err)
        let record = try runNetstack(["run", bot, "--url", url, "--plugin", "record", "-P", "record.file=/dev/full"])
        XCTAssertEqual(record.status, 2, record.err)
        XCTAssertTrue(record.err.contains("cannot write /dev/full: No space left on device (the recording is incomplete)"), record.err)
        // Replaying a file that is not a recording (a device that never ends) stops at the line
        // limit instead of reading without end.
        let endless = try runNetstack(["run", bot, "--url", url, "--plugin", "record", "-P", "record.mode=replay", "-P", "record.file=/dev/zero"],
                                      timeout: 120 * CLITests.slowdown)
        XCTAssertEqual(endless.status, 3, endless.err)
        XCTAssertTrue(endless.err.contains("/dev/zero: a line longer than 512 MiB: not a recording"), endless.err)
    }

    /// A new folder under the temporary directory (the caller removes it).
    private func scratchFolder(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "\(name)-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// In a load run every VU has its own record (and metrics) instance: `{vu}` in the file name gives each its
    /// own recording, which each VU then checks against; VUs that would record into one file are
    /// refused (they overwrote each other: one VU's events and a stray tail of the other's).
    func testPluginFilesInALoadRunAreOnePerVU() throws {
        let dir = try scratchFolder("vu-recording")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bot = dir + "/bot.lua"
        try """
        function onOpen(c) c:send("hello from " .. netstack.vu.id) end
        function onMessage(c) c:close() end
        """.write(toFile: bot, atomically: true, encoding: .utf8)
        let url = Servers.plain.url + "/echo"
        /// A load run of `vus` VUs of the bot with `plugin` and its `-P` options.
        func loadRun(_ vus: Int, _ plugin: String, _ options: String...) throws -> (status: Int32, out: String, err: String) {
            try runNetstack(["run", bot, "--quiet", "--vus", "\(vus)", "--url", url, "--plugin", plugin] + options.flatMap { ["-P", $0] })
        }
        // A plugin that cannot be set up stops the run as in a plain run (3), said once, not per VU.
        let shared = try loadRun(3, "record", "record.file=\(dir)/one.jsonl")
        XCTAssertEqual(shared.status, 3, shared.err)
        XCTAssertEqual(shared.err.components(separatedBy: "3 VUs would all record to \(dir)/one.jsonl: put {vu} in the name").count - 1, 1, shared.err)
        let recorded = try loadRun(3, "record", "record.file=\(dir)/vu-{vu}.jsonl")
        XCTAssertEqual(recorded.status, 0, recorded.err)
        for id in 1...3 {
            let lines = try String(contentsOfFile: "\(dir)/vu-\(id).jsonl", encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(lines.filter { $0.contains("\"type\":\"session\"") }.count, 1, "VU \(id)")
            XCTAssertEqual(lines.filter { $0.contains("hello from \(id)") }.count, 2, "VU \(id): its send and its echo")
            XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") }, "VU \(id): whole lines")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/vu-0.jsonl"))
        let checked = try loadRun(3, "record", "record.mode=check", "record.file=\(dir)/vu-{vu}.jsonl")
        XCTAssertEqual(checked.status, 0, checked.err)
        XCTAssertEqual(checked.err.components(separatedBy: "1 sent, 0 mismatch(es)").count - 1, 3, checked.err)
        // Replay: each VU plays its own recording (no network: --url is the local server's, unused);
        // one recording played to every VU finds the other VUs' sends different.
        let replayed = try loadRun(3, "record", "record.mode=replay", "record.file=\(dir)/vu-{vu}.jsonl")
        XCTAssertEqual(replayed.status, 0, replayed.err)
        XCTAssertEqual(replayed.err.components(separatedBy: "1 bot message(s) checked, 0 mismatch(es)").count - 1, 3, replayed.err)
        let oneForAll = try loadRun(3, "record", "record.mode=replay", "record.file=\(dir)/vu-1.jsonl")
        XCTAssertEqual(oneForAll.status, 1, oneForAll.err)
        XCTAssertEqual(oneForAll.err.components(separatedBy: "send #1 differs: expected text \"hello from 1\"").count - 1, 2, oneForAll.err)
        // The metrics plugin's file follows the same rule.
        let oneFile = try loadRun(2, "metrics", "metrics.file=\(dir)/m.json")
        XCTAssertEqual(oneFile.status, 3, oneFile.err)
        XCTAssertTrue(oneFile.err.contains("2 VUs would all write \(dir)/m.json: put {vu} in the name"), oneFile.err)
        let perVU = try loadRun(2, "metrics", "metrics.file=\(dir)/m-{vu}.json")
        XCTAssertEqual(perVU.status, 0, perVU.err)
        for id in 1...2 {
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/m-\(id).json"))) as? [String: Any]
            XCTAssertNotNil(summary, "VU \(id)")
        }
        // A VU's failed metrics threshold is the run's status (it printed FAILED and exited 0).
        let failing = try loadRun(2, "metrics", "metrics.thresholds=connections>5")
        XCTAssertEqual(failing.status, 99, failing.err)
        XCTAssertTrue(failing.out.contains("threshold FAILED") || failing.err.contains("threshold FAILED"), failing.out + failing.err)
        let passing = try loadRun(2, "metrics", "metrics.thresholds=connections>0")
        XCTAssertEqual(passing.status, 0, passing.err)
    }

    /// `plugins check` calls a plugin's check without its setup: checking the record plugin
    /// truncated the recording it named, and checking metrics wrote its summary file.
    func testAHealthCheckDoesNotSetThePluginUp() throws {
        let dir = try scratchFolder("health-check")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let recording = dir + "/kept.jsonl"
        try "{\"type\":\"session\",\"version\":1}\n".write(toFile: recording, atomically: true, encoding: .utf8)
        let r = try runNetstack(["plugins", "check", "record", "-P", "record.file=\(recording)"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("will record to \(recording) (it exists: a run replaces it)"), r.out)
        XCTAssertEqual(try String(contentsOfFile: recording, encoding: .utf8), "{\"type\":\"session\",\"version\":1}\n")
        XCTAssertFalse(r.err.contains("recorded to"), r.err)
        let fresh = try runNetstack(["plugins", "check", "record", "-P", "record.file=\(dir)/new.jsonl"])
        XCTAssertEqual(fresh.status, 0, fresh.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/new.jsonl"), "the writability test leaves no file")
        let unwritable = try runNetstack(["plugins", "check", "record", "-P", "record.file=\(dir)/no/such/folder.jsonl"])
        XCTAssertEqual(unwritable.status, 1, unwritable.out)
        let metrics = try runNetstack(["plugins", "check", "metrics", "-P", "metrics.file=\(dir)/m.json"])
        XCTAssertEqual(metrics.status, 0, metrics.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m.json"))
        XCTAssertFalse(metrics.out.contains("connections"), metrics.out)
    }

    /// Recordings are read in chunks: lines longer than a chunk (1 MiB) come back whole.
    func testRecordingsWithLongLinesReplay() throws {
        let dir = try scratchFolder("long-recording")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = dir + "/bot.lua"
        try """
        function onOpen(c) c:send(string.rep("a", 3000000)) c:send("short") end
        local n = 0
        function onMessage(c, data) n = n + 1 if n == 2 then c:close() end end
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let file = dir + "/rec.jsonl"
        let recorded = try runNetstack(["run", script, "--url", Servers.plain.url + "/echo", "--plugin", "record", "-P", "record.file=" + file])
        XCTAssertEqual(recorded.status, 0, recorded.err)
        let check = try runNetstack(["run", script, "--url", Servers.plain.url + "/echo", "--plugin", "record", "-P", "record.mode=check", "-P", "record.file=" + file])
        XCTAssertEqual(check.status, 0, check.err)
        XCTAssertTrue(check.err.contains("2 sent, 0 mismatch(es)"), check.err)
        // The long line was read whole: a bot that differs in its last byte is caught.
        try String(contentsOfFile: script, encoding: .utf8).replacingOccurrences(of: "string.rep(\"a\", 3000000)", with: "string.rep(\"a\", 2999999) .. \"b\"")
            .write(toFile: script, atomically: true, encoding: .utf8)
        let differs = try runNetstack(["run", script, "--url", Servers.plain.url + "/echo", "--plugin", "record", "-P", "record.mode=check", "-P", "record.file=" + file])
        XCTAssertEqual(differs.status, 1, differs.err)
        XCTAssertTrue(differs.err.contains("2 sent, 1 mismatch(es)"), differs.err)
    }

    func testCertificateNamesCannotInjectTerminalEscapes() throws {
        let dir = NSTemporaryDirectory() + "escape-cert-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (rc, out) = try runTool("sh", ["-c", """
            cd '\(dir)' && openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -days 30 \
              -subj "/CN=$(printf 'evil\\033[31mRED\\033]0;title\\007x')" \
              -addext "subjectAltName=DNS:$(printf 'a\\033[2Jb').example" 2>&1
            """])
        XCTAssertEqual(rc, 0, out)
        let cert = dir + "/c.pem"
        for format in ["table", "csv"] {
            let r = try runNetstack(["audit", "--lenient", "--no-crl-fetch", "--format", format, cert])
            XCTAssertFalse(r.out.contains("\u{1B}") || r.out.contains("\u{07}"), "\(format): \(r.out)")
            XCTAssertTrue(r.out.contains("evil\\x1b[31mRED") || r.out.contains("evil\\1B[31mRED"), "\(format): \(r.out)")
        }
        let verify = try runNetstack(["verify", "--inspect", cert])
        XCTAssertFalse(verify.out.contains("\u{1B}") || verify.out.contains("\u{07}"), verify.out)
        XCTAssertTrue(verify.out.contains("names:      a\\x1b[2Jb.example"), verify.out)
        let json = try runNetstack(["verify", "--inspect", "--json", cert])
        XCTAssertTrue(json.out.contains("a\\u001b[2Jb.example"), json.out)
    }

    func testAuditWithCRLFindsARevokedCertificate() throws {
        let lab = CertificateLab.shared
        let revoked = Servers.tlsServer(certificate: lab.path("revoked+inter"), key: lab.dir + "/revoked.key")
        let fine = Servers.tlsServer(certificate: lab.path("leaf+inter"), key: lab.dir + "/leaf.key")
        defer { revoked.stop(); fine.stop() }
        // --lenient: the lab's leaf is trusted but not conformant (its CN is not among its SANs).
        let r = try runNetstack(["audit", "--ca", lab.path("root"), "--lenient", "--no-crl-fetch", "--warn-days", "7", "--crl", lab.path("crl.inter"), "--crl", lab.path("crl.root"), "--format", "json",
                                 "127.0.0.1:\(revoked.port)", "127.0.0.1:\(fine.port)"])
        XCTAssertEqual(r.status, 2, r.out + r.err)
        let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        let results = try XCTUnwrap(report["targets"] as? [[String: Any]])
        XCTAssertEqual(results[0]["status"] as? String, "FAIL")
        XCTAssertEqual(results[0]["crlChecked"] as? Bool, true)
        XCTAssertTrue("\(results[0]["findings"]!)".contains("revoked (CRL)"), "\(results[0])")
        XCTAssertEqual(results[1]["status"] as? String, "OK", "\(results[1])")
    }

    /// Strict conformance, the chain as presented, and the Prometheus format.
    func testAuditStrictChainFindingsAndPrometheus() throws {
        let lab = CertificateLab.shared
        // The lab's leaf is trusted but not conformant (its CN is not among its SANs).
        let leaf = Servers.tlsServer(certificate: lab.path("leaf+inter"), key: lab.dir + "/leaf.key")
        // A chain sent twice over and out of order: inter, leaf... is not possible for TLS (the
        // leaf comes first), so a file target carries it.
        let twisted = NSTemporaryDirectory() + "netstack-audit-twisted-\(getpid()).pem"
        let parts = try ["leaf", "root", "inter", "inter"].map { try String(contentsOfFile: lab.path($0), encoding: .utf8) }
        try parts.joined().write(toFile: twisted, atomically: true, encoding: .utf8)
        defer { leaf.stop(); try? FileManager.default.removeItem(atPath: twisted) }
        let target = "127.0.0.1:\(leaf.port)"
        let strict = try runNetstack(["audit", "--ca", lab.path("root"), "--format", "json", target, twisted])
        XCTAssertEqual(strict.status, 2, strict.out + strict.err)
        let report = try JSONSerialization.jsonObject(with: Data(strict.out.utf8)) as! [String: Any]
        let results = try XCTUnwrap(report["targets"] as? [[String: Any]])
        let first = "\(results[0]["findings"]!)"
        XCTAssertTrue(first.contains("not conformant (strict RFC 5280 / CA/B Forum): 2305807"), first)
        XCTAssertEqual(results[0]["strictCode"] as? Int, 2_305_807)
        let second = "\(results[1]["findings"]!)"
        XCTAssertTrue(second.contains("chain order: certificate 2 (root CA) is not the issuer of certificate 1 (leaf)"), second)
        XCTAssertTrue(second.contains("chain: certificate 4 repeats certificate 3"), second)
        // (--no-crl-fetch: the lab's distribution point, crl.leaf.test, does not resolve.)
        let lenient = try runNetstack(["audit", "--ca", lab.path("root"), "--lenient", "--no-crl-fetch", "--warn-days", "1", target])
        XCTAssertEqual(lenient.status, 0, "--lenient: a trusted chain is OK: " + lenient.out + lenient.err)

        let prom = try runNetstack(["audit", "--ca", lab.path("root"), "--lenient", "--no-crl-fetch", "--warn-days", "1", "--format", "prometheus", target])
        XCTAssertEqual(prom.status, 0, prom.err)
        for line in ["# TYPE netstack_audit_status gauge", "netstack_audit_status{target=\"\(target)\",status=\"OK\"} 1",
                     "netstack_audit_verify_code{target=\"\(target)\"} 0", "netstack_audit_embedded_scts{target=\"\(target)\"} 0",
                     "netstack_audit_ocsp_staple{target=\"\(target)\",status=\"none\"} 1",
                     "netstack_audit_findings{target=\"\(target)\",severity=\"FAIL\"} 0", "netstack_audit_exit_status 0"] {
            XCTAssertTrue(prom.out.contains(line), "missing \(line) in:\n\(prom.out)")
        }
        XCTAssertTrue(prom.out.contains("netstack_audit_days_left{target=\"\(target)\"} 2"), prom.out)
    }

    /// OCSP stapling, served by `openssl s_server -status_file` with responses made by
    /// `openssl ocsp` from the lab's CA database: good, revoked, and a must-staple certificate
    /// served without one.
    func testAuditChecksStapledOCSPResponses() throws {
        let lab = CertificateLab.shared
        func response(for cert: String) throws -> String {
            let out = lab.dir + "/ocsp-\(cert).der"
            try TestPKI.openssl(["ocsp", "-index", lab.dir + "/inter-db/index.txt", "-rsigner", lab.path("inter"), "-rkey", lab.dir + "/inter.key",
                                 "-CA", lab.path("inter"), "-issuer", lab.path("inter"), "-cert", lab.path(cert), "-respout", out, "-ndays", "1"])
            return out
        }
        func serve(_ cert: String, staple: String?) throws -> OpenSSLServer {
            try OpenSSLServer(cert: lab.path(cert), key: lab.dir + "/\(cert).key", chain: lab.path("inter"), staple: staple)
        }
        let good = try serve("leaf", staple: try response(for: "leaf"))
        let revoked = try serve("revoked", staple: try response(for: "revoked"))
        let mustStaple = try serve("muststaple", staple: nil)
        defer { [good, revoked, mustStaple].forEach { $0.stop() } }
        let targets = [good, revoked, mustStaple].map { "127.0.0.1:\($0.port)" }
        let r = try runNetstack(["audit", "--ca", lab.path("root"), "--lenient", "--no-crl-fetch", "--warn-days", "1", "--format", "json"] + targets)
        let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        let results = try XCTUnwrap(report["targets"] as? [[String: Any]], r.out + r.err)
        XCTAssertEqual(results.map { $0["ocspStaple"] as? String }, ["good", "revoked", "none"], r.out)
        XCTAssertEqual(results.map { $0["status"] as? String }, ["OK", "FAIL", "FAIL"], r.out)
        XCTAssertTrue("\(results[0]["findings"]!)".contains("stapled OCSP response: good"), "\(results[0])")
        XCTAssertTrue("\(results[1]["findings"]!)".contains("revoked (stapled OCSP response"), "\(results[1])")
        XCTAssertTrue("\(results[2]["findings"]!)".contains("must-staple certificate, but no OCSP response stapled"), "\(results[2])")
    }

    /// CRLs fetched from the distribution points: certificates issued here by the lab's
    /// intermediate with http://127.0.0.1:PORT/ distribution points, the CRL served by Python's
    /// http.server: one certificate good, one revoked, one whose CRL URL answers 404.
    func testAuditFetchesCRLsFromDistributionPoints() throws {
        let lab = CertificateLab.shared
        let dir = NSTemporaryDirectory() + "netstack-crl-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let http = try StaticHTTPServer(directory: dir)
        defer { http.stop() }
        let httpPort = http.port
        func issue(_ name: String, crlPath: String) throws -> String {
            try lab.issueServerLeaf(name, in: dir, extra: "crlDistributionPoints=URI:http://127.0.0.1:\(httpPort)/\(crlPath)")
        }
        let good = try issue("crl-good", crlPath: "inter.crl")
        let revoked = try issue("crl-revoked", crlPath: "inter.crl")
        let missing = try issue("crl-missing", crlPath: "nothing-here.crl")
        try TestPKI.openssl(["ca", "-config", lab.dir + "/inter.cnf", "-revoke", revoked])
        try TestPKI.openssl(["ca", "-config", lab.dir + "/inter.cnf", "-gencrl", "-out", dir + "/inter.crl.pem"])
        try TestPKI.openssl(["crl", "-in", dir + "/inter.crl.pem", "-outform", "DER", "-out", dir + "/inter.crl"])
        let servers = try [good, revoked, missing].map {
            try OpenSSLServer(cert: $0, key: $0.replacingOccurrences(of: ".pem", with: ".key"), chain: lab.path("inter"))
        }
        defer { servers.forEach { $0.stop() } }
        let targets = servers.map { "127.0.0.1:\($0.port)" }
        let r = try runNetstack(["audit", "--ca", lab.path("root"), "--lenient", "--warn-days", "1", "--format", "json"] + targets)
        let report = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        let results = try XCTUnwrap(report["targets"] as? [[String: Any]], r.out + r.err)
        XCTAssertEqual(results.map { $0["status"] as? String }, ["OK", "FAIL", "WARN"], r.out)
        func crl(_ i: Int) -> [String] { ((results[i]["crl"] as? [[String: Any]]) ?? []).map { "\($0["certificate"]!) \($0["status"]!)" } }
        XCTAssertEqual(crl(0), ["1 good"])
        XCTAssertEqual(crl(1), ["1 revoked"])
        XCTAssertEqual(crl(2), ["1 unavailable"])
        XCTAssertTrue("\(results[1]["findings"]!)".contains("certificate revoked (CRL from http://127.0.0.1:\(httpPort)/inter.crl)"), "\(results[1])")
        XCTAssertTrue("\(results[2]["findings"]!)".contains("not fetched: HTTP 404"), "\(results[2])")
        let skipped = try runNetstack(["audit", "--ca", lab.path("root"), "--lenient", "--no-crl-fetch", "--warn-days", "1", targets[1]])
        XCTAssertEqual(skipped.status, 0, "--no-crl-fetch: " + skipped.out)
    }
}
