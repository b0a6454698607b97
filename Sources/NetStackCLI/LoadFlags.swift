import ArgumentParser
import Foundation
import NetStackLoad

/// `netstack run`'s load-test options. Any of them (or an `options = {...}` table in the
/// script) makes the run a load run: VUs, iterations, metrics, a summary.
struct LoadFlags: ParsableArguments {
    @Option(name: [.customShort("u"), .long], parsing: .unconditional, help: "Virtual users: each runs the script in a Lua VM of its own (load run); the script's options keep their duration, iterations or stages.") var vus: Int?
    @Option(name: [.customShort("d"), .long], parsing: .unconditional, help: "How long VUs iterate: 30s, 5m, 1h30m (with --vus: constant VUs).") var duration: String?
    @Option(name: [.customShort("i"), .long], parsing: .unconditional, help: "Iterations shared by the VUs (shared iterations; --duration then caps the time).") var iterations: Int?
    @Option(name: .customLong("stage"), parsing: .unconditionalSingleValue, help: "A ramp stage DURATION:TARGET_VUS, e.g. 30s:100 (repeatable; ramping VUs from --vus, default 1; not with --duration or --iterations).")
    var stages: [String] = []
    @Option(parsing: .unconditional, help: "Event loops (threads) for the VUs (default: one per core).") var threads: Int?
    @Option(name: .customLong("threshold"), parsing: .unconditionalSingleValue, help: "A threshold: 'METRIC{tags}: EXPR' (ws_rtt: p(95)<50) or the metrics plugin's 'latency.p95<50' (repeatable). A failed one: exit 99.")
    var thresholds: [String] = []
    @Option(name: .customLong("tag"), parsing: .unconditionalSingleValue, help: "A tag NAME=VALUE on every sample of the run (k6's --tag; repeatable; over the options' tags of the same name, under a scenario's own).")
    var tags: [String] = []
    @Option(parsing: .unconditional, help: "The global function each iteration calls (default: main, else the bot).") var exec: String?
    @Option(parsing: .unconditional, help: "Run segment i of n of the whole plan (1-based), or auto (Slurm array), auto/n (Kubernetes indexed Job).")
    var segment: String?
    @Option(parsing: .unconditional, help: "Identifies the run across its segments in exports (default: made up).") var runID: String?
    @Option(parsing: .unconditional, help: "Start the VUs at this wall-clock time (ISO 8601, e.g. 2026-11-28T15:00:00Z, or Unix seconds); a segment that is ready later starts at once and is reported late.")
    var startAt: String?
    @Option(parsing: .unconditional, help: "Start the VUs when this file exists, or when this http:// or https:// URL answers 200 (a barrier shared by segments; asked at most every 250 ms; https verified against the system's trust store, SSL_CERT_FILE honoured).") var startBarrier: String?
    @Option(parsing: .unconditional, help: "How long to wait for --start-at or --start-barrier before failing (default 10m).") var startTimeout: String?
    @Option(parsing: .unconditional, help: "Write the summary with its histograms as JSON (mergeable with netstack merge); - prints it as one line on stdout (the table then goes to stderr).") var summaryExport: String?
    @Option(name: [.customShort("o"), .customLong("out")], parsing: .unconditionalSingleValue, help: "Per-interval samples: json=FILE (JSON lines) or csv=FILE (repeatable).")
    var outputs: [String] = []
    @Option(parsing: .unconditional, help: "Serve the metrics so far for Prometheus at http://HOST:PORT/metrics (labels run and segment; port 0 picks one).")
    var metricsAddr: String?
    @Flag(help: "Do not record the connection metrics (ws_*) per message and connection; iterations and the script's own metrics remain.")
    var noConnectionMetrics = false
    @Flag(name: .shortAndLong, help: "No live progress line on stderr.") var quiet = false
    @Flag(help: "Do not call the script's setup() (the VUs' data is then nil).") var noSetup = false
    @Flag(help: "Do not call the script's teardown().") var noTeardown = false
    @Option(parsing: .unconditional, help: "Write a self-contained HTML report here: charts over time of rates, latencies, errors and VUs, the thresholds and the summary.")
    var report: String?
    @Flag(help: "Do not print the end-of-run summary nor call the script's handleSummary (k6's --no-summary); --summary-export, --out and --report files are still written.")
    var noSummary = false
    @Flag(help: "Do not evaluate thresholds (k6's --no-thresholds): those of the options table and of --threshold are dropped, so the run cannot end 99 or be aborted by one.")
    var noThresholds = false
    @Flag(name: .customLong("no-summary-histograms"), help: "No terminal histogram under each trend metric in the summary.")
    var noSummaryHistograms = false
    @Option(parsing: .unconditional, help: "The trend columns of the summary, comma-separated: avg, min, med, max, count, p(N) (default avg,min,med,p(90),p(95),p(99),max).")
    var summaryTrendStats: String?

    var any: Bool {
        vus != nil || duration != nil || iterations != nil || !stages.isEmpty || threads != nil || !thresholds.isEmpty
            || exec != nil || segment != nil || summaryExport != nil || !outputs.isEmpty || runID != nil
            || startAt != nil || startBarrier != nil || metricsAddr != nil || report != nil || noSetup || noTeardown
            || noSummary || noThresholds || !tags.isEmpty
    }

    func validate() throws {
        _ = try commandLine()
        if let t = threads, !(1...256).contains(t) { throw ValidationError("--threads: expected 1 to 256, got \(t)") }
        for o in outputs { _ = try parseOutput(o) }
        if let a = metricsAddr {
            guard let colon = a.lastIndex(of: ":"), let port = Int(a[a.index(after: colon)...]), (0...65535).contains(port) else {
                throw ValidationError("--metrics-addr: '\(a)' is not HOST:PORT (e.g. 127.0.0.1:9464, :9464)")
            }
        }
        if let s = startAt, Self.parseTime(s) == nil {
            throw ValidationError("--start-at: '\(s)' is not a time (ISO 8601 with a zone, e.g. 2026-11-28T15:00:00Z, or Unix seconds)")
        }
        // An empty path can never exist, nor can a URL that cannot be asked answer: the run
        // would wait out --start-timeout (10 minutes).
        if let b = startBarrier {
            do { _ = try StartBarrier(parsing: b) } catch { throw ValidationError("--start-barrier: \(error.message)") }
        }
        if let t = startTimeout {
            do { _ = try LoadDuration(parsing: t) } catch let e as LoadOptionError { throw ValidationError("--start-timeout: \(e.message)") }
        }
        if let id = runID, id.isEmpty || id.utf8.count > 128 || id.unicodeScalars.contains(where: { $0.value < 32 }) {
            throw ValidationError("--run-id: 1 to 128 printable characters")
        }
    }

    /// The plan's command-line part; errors are usage errors.
    func commandLine() throws -> LoadPlan.CommandLine {
        var c = LoadPlan.CommandLine()
        do {
            if let v = vus {
                guard (0...Scenario.countLimit).contains(v) else { throw ValidationError("--vus: expected 0 to \(Scenario.countLimit), got \(v)") }
                c.vus = v
            }
            if let i = iterations {
                guard (0...Scenario.countLimit).contains(i) else { throw ValidationError("--iterations: expected 0 to \(Scenario.countLimit), got \(i)") }
                c.iterations = i
            }
            if let d = duration { c.duration = try LoadDuration(parsing: d) }
            c.stages = try stages.map { try Stage(parsing: $0) }
            c.thresholds = thresholds
            for t in tags {
                guard let eq = t.firstIndex(of: "=") else { throw ValidationError("--tag: expected NAME=VALUE, got '\(t)'") }
                let name = String(t[..<eq]), value = String(t[t.index(after: eq)...])
                guard SeriesName.isValidTagText(name), SeriesName.isValidTagText(value) else {
                    throw ValidationError("--tag: '\(t)': name and value non-empty, at most 256 bytes, without { } , : or control characters")
                }
                c.tags[name] = value
            }
            for t in thresholds { _ = try Threshold(commandLine: t) }
            if let e = exec {
                guard !e.isEmpty else { throw ValidationError("--exec: empty function name") }
                c.exec = e
            }
            if let s = segment { c.segment = try Segment(parsing: s, environment: ProcessInfo.processInfo.environment) }
            if let t = summaryTrendStats {
                do { c.summaryTrendStats = try TrendStat.list(t) } catch let e as LoadOptionError { throw ValidationError("--summary-trend-stats: \(e.message)") }
            }
        } catch let e as LoadOptionError {
            throw ValidationError(e.message)
        }
        return c
    }

    /// ISO 8601 (with a zone) or Unix seconds.
    static func parseTime(_ s: String) -> Date? {
        if let n = Double(s), n.isFinite, n > 0, n < 1e11 { return Date(timeIntervalSince1970: n) }
        let f = ISO8601DateFormatter()
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: s)
    }

    enum Output { case json(String), csv(String) }

    func parseOutput(_ spec: String) throws -> Output {
        if spec.hasPrefix("json="), spec.count > 5 { return .json(String(spec.dropFirst(5))) }
        if spec.hasPrefix("csv="), spec.count > 4 { return .csv(String(spec.dropFirst(4))) }
        throw ValidationError("--out '\(spec)': expected json=FILE or csv=FILE")
    }
}
