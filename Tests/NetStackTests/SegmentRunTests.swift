import Foundation
import NetStackLoad
import XCTest

/// Segments end to end: for each kind of scenario and several segment counts, the segments'
/// union (merged with `netstack merge`) does what the unsegmented run does.
final class SegmentRunTests: XCTestCase {
    private var files: [String] = []
    override func tearDown() {
        for f in files { try? FileManager.default.removeItem(atPath: f) }
        files = []
    }

    private func temp(_ suffix: String) -> String {
        let p = NSTemporaryDirectory() + "seg-\(getpid())-\(UUID().uuidString.prefix(8))\(suffix)"
        files.append(p)
        return p
    }

    /// Each iteration counts itself under its VU id and the quarter second it started in.
    static func script(_ scenario: String) -> String {
        """
        options = { scenarios = { s = \(scenario) } }
        local c = netstack.metrics.counter("by_vu")
        local w = netstack.metrics.counter("by_window")
        function main()
          c:add(1, {vu = netstack.vu.id})
          w:add(1, {window = math.floor(netstack.vu.elapsed() * 4)})
        end
        """
    }

    private func run(_ script: String, _ extra: [String]) throws -> SummaryExport {
        let export = temp(".json")
        let r = try runNetstack(["run", script, "--quiet", "--run-id", "t", "--summary-export", export] + extra, timeout: 30 * CLITests.slowdown)
        XCTAssertTrue([0, 99].contains(r.status), r.err)
        return try SummaryExport.decode(Data(contentsOf: URL(fileURLWithPath: export)))
    }

    private func merged(_ script: String, segments n: Int) throws -> (SummaryExport, Int32) {
        let dir = temp("")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for i in 1...n {
            let export = dir + "/\(i).json"
            let r = try runNetstack(["run", script, "--quiet", "--run-id", "t", "--segment", "\(i)/\(n)", "--summary-export", export], timeout: 30 * CLITests.slowdown)
            XCTAssertEqual(r.status, 0, r.err)
        }
        let out = temp(".json")
        let m = try runNetstack(["merge", dir, "--summary-export", out])
        return (try SummaryExport.decode(Data(contentsOf: URL(fileURLWithPath: out))), m.status)
    }

    private func byTag(_ s: SummaryExport, _ metric: String, _ tag: String) -> [Int: Double] {
        var out: [Int: Double] = [:]
        for (key, v) in s.metrics.series {
            let (m, tags) = SeriesName.split(key)
            if m == metric, let k = tags[tag].flatMap(Int.init) { out[k, default: 0] += v.sum }
        }
        return out
    }

    func testIterationExecutorsSplitExactly() throws {
        for scenario in ["{ executor = 'per-vu-iterations', vus = 5, iterations = 3 }",
                         "{ executor = 'shared-iterations', vus = 4, iterations = 23 }"] {
            let path = temp(".lua")
            try Self.script(scenario).write(toFile: path, atomically: true, encoding: .utf8)
            let whole = try run(path, [])
            for n in [2, 3] {
                let (m, status) = try merged(path, segments: n)
                XCTAssertEqual(status, 0)
                XCTAssertEqual(m.metrics.aggregate("iterations")?.sum, whole.metrics.aggregate("iterations")?.sum, "\(scenario) n=\(n)")
                if scenario.contains("per-vu") {
                    XCTAssertEqual(byTag(m, "by_vu", "vu"), byTag(whole, "by_vu", "vu"), "same VU ids, same counts: n=\(n)")
                } else {
                    XCTAssertTrue(Set(byTag(m, "by_vu", "vu").keys).isSubset(of: Set(1...4)), "no VU id outside the plan")
                }
            }
        }
    }

    func testVUExecutorsUseEveryVUIdOnce() throws {
        for scenario in ["{ executor = 'constant-vus', vus = 5, duration = '300ms' }",
                         "{ executor = 'ramping-vus', startVUs = 0, stages = { {duration = '400ms', target = 6}, {duration = '100ms', target = 0} } }"] {
            let path = temp(".lua")
            try Self.script(scenario).write(toFile: path, atomically: true, encoding: .utf8)
            let whole = try run(path, [])
            let (m, _) = try merged(path, segments: 3)
            XCTAssertEqual(Set(byTag(m, "by_vu", "vu").keys), Set(byTag(whole, "by_vu", "vu").keys), scenario)
            XCTAssertEqual(m.metrics.series["vus_max"]?.value, whole.metrics.series["vus_max"]?.value, "VUs add up across segments")
        }
    }

    /// Arrival rates: the merged run starts the same iterations, in the same quarter seconds (±1).
    func testArrivalRatesSumToTheWholeRate() throws {
        for scenario in ["{ executor = 'constant-arrival-rate', rate = 20, timeUnit = '1s', duration = '1s', preAllocatedVUs = 3 }",
                         "{ executor = 'ramping-arrival-rate', startRate = 0, timeUnit = '1s', preAllocatedVUs = 3, stages = { {duration = '1s', target = 40} } }"] {
            let path = temp(".lua")
            try Self.script(scenario).write(toFile: path, atomically: true, encoding: .utf8)
            let whole = try run(path, [])
            XCTAssertEqual(whole.metrics.aggregate("iterations")?.sum, 20, scenario)
            for n in [2, 4] {
                let (m, _) = try merged(path, segments: n)
                XCTAssertEqual(m.metrics.aggregate("iterations")?.sum, 20, "\(scenario) n=\(n)")
                let a = byTag(m, "by_window", "window"), b = byTag(whole, "by_window", "window")
                for w in 0...4 { XCTAssertEqual(a[w] ?? 0, b[w] ?? 0, accuracy: 1, "window \(w): \(a) vs \(b)") }
            }
        }
    }

    func testMergeRefusesWhatIsNotOneRun() throws {
        let path = temp(".lua")
        try Self.script("{ executor = 'per-vu-iterations', vus = 2, iterations = 1 }").write(toFile: path, atomically: true, encoding: .utf8)
        let other = temp(".lua")
        try (Self.script("{ executor = 'per-vu-iterations', vus = 2, iterations = 1 }") + "\n-- other").write(toFile: other, atomically: true, encoding: .utf8)
        func seg(_ script: String, _ s: String, run id: String = "t") throws -> String {
            let e = temp(".json")
            _ = try runNetstack(["run", script, "--quiet", "--run-id", id, "--segment", s, "--summary-export", e])
            return e
        }
        let one = try seg(path, "1/2"), two = try seg(path, "2/2")
        let cases: [([String], String)] = [
            ([one, try seg(path, "2/2", run: "u")], "from run"),
            ([one, try seg(other, "2/2")], "different script"),
            ([one, try seg(path, "2/3")], "others are of"),
            ([one, one], "given twice"),
            ([one], "missing"),
        ]
        for (inputs, message) in cases {
            let r = try runNetstack(["merge"] + inputs)
            XCTAssertEqual(r.status, 2, r.err)
            XCTAssertTrue(r.err.contains(message), "\(message): \(r.err)")
        }
        let ok = try runNetstack(["merge", one, two])
        XCTAssertEqual(ok.status, 0, ok.err)
        // - is standard input (kubectl logs piped in), beside files; once at most.
        let piped = try runNetstack(["merge", "-", two], stdin: try String(contentsOfFile: one, encoding: .utf8))
        XCTAssertEqual(piped.status, 0, piped.err)
        XCTAssertEqual(piped.out, ok.out.replacingOccurrences(of: one, with: "-"))
        XCTAssertEqual(try runNetstack(["merge", "-", "-"], stdin: "").status, 64)
        let partial = try runNetstack(["merge", one, "--allow-partial"])
        XCTAssertEqual(partial.status, 0, partial.err)
        XCTAssertTrue(partial.out.contains("PARTIAL: segments 1/2 only"), partial.out)
        let garbage = temp(".json")
        try "{}".write(toFile: garbage, atomically: true, encoding: .utf8)
        XCTAssertEqual(try runNetstack(["merge", garbage]).status, 2)
    }

    /// Thresholds: each segment alone fails (it sees a quarter), the merge passes: one verdict.
    func testThresholdsAreJudgedOnTheMergedRun() throws {
        let path = temp(".lua")
        try Self.script("{ executor = 'per-vu-iterations', vus = 4, iterations = 5 }").write(toFile: path, atomically: true, encoding: .utf8)
        let dir = temp("")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for i in 1...4 {
            let r = try runNetstack(["run", path, "--quiet", "--run-id", "t", "--segment", "\(i)/4", "--threshold", "iterations: count==20",
                                     "--summary-export", dir + "/\(i).json"])
            XCTAssertEqual(r.status, 0, "a segment's thresholds do not decide its status: \(r.err)")
        }
        let pass = try runNetstack(["merge", dir])
        XCTAssertEqual(pass.status, 0, pass.out)
        XCTAssertTrue(pass.out.contains("✓ count==20 (20)"), pass.out)
        for i in 1...4 {
            _ = try runNetstack(["run", path, "--quiet", "--run-id", "t", "--segment", "\(i)/4", "--threshold", "iterations: count>20",
                                 "--summary-export", dir + "/\(i).json"])
        }
        XCTAssertEqual(try runNetstack(["merge", dir]).status, 99)
    }

    func testStartAtAndBarrier() throws {
        let path = temp(".lua")
        try Self.script("{ executor = 'per-vu-iterations', vus = 1, iterations = 1 }").write(toFile: path, atomically: true, encoding: .utf8)
        let t0 = Date()
        let at = String(Int(Date().timeIntervalSince1970) + 2)
        let r = try runNetstack(["run", path, "--quiet", "--start-at", at])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertGreaterThan(Date().timeIntervalSince(t0), 0.9, "waited for --start-at")
        let late = try runNetstack(["run", path, "--quiet", "--start-at", "2020-01-01T00:00:00Z", "--segment", "1/1"])
        XCTAssertEqual(late.status, 0, late.err)
        XCTAssertTrue(late.err.contains("after --start-at"), late.err)
        let barrier = temp(".go")
        let missing = try runNetstack(["run", path, "--quiet", "--start-barrier", barrier, "--start-timeout", "300ms"])
        XCTAssertEqual(missing.status, 1, missing.err)
        XCTAssertTrue(missing.err.contains("did not appear"), missing.err)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { _ = FileManager.default.createFile(atPath: barrier, contents: nil) }
        let waited = try runNetstack(["run", path, "--quiet", "--start-barrier", barrier, "--start-timeout", "20s"])
        XCTAssertEqual(waited.status, 0, waited.err)
        XCTAssertEqual(try runNetstack(["run", path, "--start-at", "tomorrow"]).status, 64)
    }

    /// A barrier URL: the run starts at the first 200 (the file appearing in the served folder
    /// turns 404 into 200), fails with the last answer when none comes in time, and refuses
    /// URLs it could never ask.
    func testBarrierURLStartsTheRunAtTheFirst200() throws {
        let path = temp(".lua")
        try Self.script("{ executor = 'per-vu-iterations', vus = 1, iterations = 1 }").write(toFile: path, atomically: true, encoding: .utf8)
        let dir = temp("")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let http = try StaticHTTPServer(directory: dir)
        defer { http.stop() }
        let missing = try runNetstack(["run", path, "--quiet", "--start-barrier", http.url("go"), "--start-timeout", "700ms"])
        XCTAssertEqual(missing.status, 1, missing.err)
        XCTAssertTrue(missing.err.contains("the barrier URL '\(http.url("go"))' did not answer 200 within"), missing.err)
        XCTAssertTrue(missing.err.contains("(last answer: HTTP 404"), missing.err)
        let t0 = Date()
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.0) { _ = FileManager.default.createFile(atPath: dir + "/go", contents: Data("go".utf8)) }
        let waited = try runNetstack(["run", path, "--quiet", "--start-barrier", http.url("go"), "--start-timeout", "30s"], timeout: 60 * CLITests.slowdown)
        XCTAssertEqual(waited.status, 0, waited.err)
        XCTAssertGreaterThan(Date().timeIntervalSince(t0), 0.9, "started only once the URL answered 200")
        let port = try ProxyTests.ProxyProcess.freePort()
        let refused = try runNetstack(["run", path, "--quiet", "--start-barrier", "HTTP://127.0.0.1:\(port)/go", "--start-timeout", "400ms"])
        XCTAssertEqual(refused.status, 1, refused.err)
        XCTAssertTrue(refused.err.contains("did not answer 200 within") && refused.err.contains("last answer:"), refused.err)
        for bad in ["https://user@127.0.0.1/go", "http://user@127.0.0.1/go", "http://0x7f000001/go", "http://127.0.0.1:0/go", "http://", "http://h/a b"] {
            let r = try runNetstack(["run", path, "--quiet", "--start-barrier", bad])
            XCTAssertEqual(r.status, 64, bad + ": " + r.err)
            XCTAssertTrue(r.err.contains("--start-barrier"), r.err)
        }
    }

    /// An https barrier (a coordinator with TLS, an object store's signed URL): the certificate
    /// is verified as a wss:// server's is (the system's trust store, `SSL_CERT_FILE` honoured,
    /// the address checked), and a certificate that fails is the last answer, never a start.
    func testHTTPSBarrierIsVerifiedAndStartsTheRun() throws {
        let path = temp(".lua")
        try Self.script("{ executor = 'per-vu-iterations', vus = 1, iterations = 1 }").write(toFile: path, atomically: true, encoding: .utf8)
        let dir = temp("")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let https = try StaticHTTPServer(directory: dir, certificate: Servers.pki.serverCertificate, key: Servers.pki.serverKey)
        defer { https.stop() }
        let url = https.url("go")
        _ = FileManager.default.createFile(atPath: dir + "/go", contents: Data("go".utf8))
        // The test CA is not in the system's store: the barrier never opens.
        let untrusted = try runNetstack(["run", path, "--quiet", "--start-barrier", url, "--start-timeout", "1500ms"])
        XCTAssertEqual(untrusted.status, 1, untrusted.err)
        XCTAssertTrue(untrusted.err.contains("the barrier URL '\(url)' did not answer 200 within"), untrusted.err)
        XCTAssertTrue(untrusted.err.contains("last answer: TLS: the server's certificate failed verification: 2305"), untrusted.err)
        // Trusted through SSL_CERT_FILE: a 404 until the file appears, then the run starts.
        try FileManager.default.removeItem(atPath: dir + "/go")
        let t0 = Date()
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.0) { _ = FileManager.default.createFile(atPath: dir + "/go", contents: Data("go".utf8)) }
        let waited = try runNetstack(["run", path, "--quiet", "--start-barrier", url, "--start-timeout", "30s"],
                                     timeout: 60 * CLITests.slowdown, env: ["SSL_CERT_FILE": Servers.pki.caCertificate])
        XCTAssertEqual(waited.status, 0, waited.err)
        XCTAssertGreaterThan(Date().timeIntervalSince(t0), 0.9, "started only once the URL answered 200")
        // A certificate of the trusted CA for another name only: the address is checked.
        let other = try Servers.pki.issue(name: "barrier-other", subjectAltName: "DNS:other.example")
        let otherServer = try StaticHTTPServer(directory: dir, certificate: other.certificate, key: other.key)
        defer { otherServer.stop() }
        let wrongName = try runNetstack(["run", path, "--quiet", "--start-barrier", otherServer.url("go"), "--start-timeout", "1500ms"],
                                        env: ["SSL_CERT_FILE": Servers.pki.caCertificate])
        XCTAssertEqual(wrongName.status, 1, wrongName.err)
        XCTAssertTrue(wrongName.err.contains("last answer: TLS: the server's certificate failed verification: 2305"), wrongName.err)
    }

    /// Audit segments: each checks its share of the targets; merged, the report lists every
    /// target once, in the original order, with the worst status.
    func testAuditSegmentsMergeIntoOneReport() throws {
        let targets = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "nosuch-1.pem", "127.0.0.1:4", "nosuch-2.pem", "127.0.0.1:5"]
        let dir = temp("")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for i in 1...3 {
            let r = try runNetstack(["audit"] + targets + ["--timeout", "1000", "--format", "json", "--segment", "\(i)/3", "--run-id", "a1"])
            XCTAssertEqual(r.status, 3, r.err)
            try r.out.write(toFile: dir + "/\(i).json", atomically: true, encoding: .utf8)
            let doc = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
            XCTAssertEqual((doc["targets"] as! [[String: Any]]).map { $0["target"] as! String },
                           stride(from: i - 1, to: targets.count, by: 3).map { targets[$0] })
        }
        let merged = try runNetstack(["merge", dir, "--format", "json"])
        XCTAssertEqual(merged.status, 3, merged.err)
        let doc = try JSONSerialization.jsonObject(with: Data(merged.out.utf8)) as! [String: Any]
        XCTAssertEqual((doc["targets"] as! [[String: Any]]).map { $0["target"] as! String }, targets)
        XCTAssertEqual((doc["counts"] as! [String: Any])["ERROR"] as? Int, targets.count)
        let table = try runNetstack(["merge", dir])
        XCTAssertTrue(table.out.contains("7 targets: 0 OK, 0 WARN, 0 FAIL, 7 ERROR"), table.out)
        try FileManager.default.removeItem(atPath: dir + "/2.json")
        XCTAssertEqual(try runNetstack(["merge", dir]).status, 2, "a missing audit segment is refused")
    }
}
