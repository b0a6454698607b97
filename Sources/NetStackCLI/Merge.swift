import ArgumentParser
import Foundation
import NetStack
import NetStackLoad

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge the summaries of a run's segments (--summary-export files) into one verdict.",
        discussion: """
        Counts add, histograms merge (percentiles of the whole run, not averages of percentiles), \
        VU gauges add, and the thresholds are evaluated once over the merged metrics. Refused: \
        files of different runs (--run-id) or scripts, different segment counts, a segment given \
        twice, and missing segments (unless --allow-partial; the summary then says which it holds).
        Audit reports (netstack audit --format json --segment i/n) merge into one report in the \
        targets' original order, printed as --format (table, json, csv), with the worst status as \
        the exit status (0 OK, 1 WARN, 2 FAIL, 3 ERROR).
        Exit status of load runs: what one unsegmented run would have had (99 when a threshold failed, 1 after \
        script errors or, without thresholds, failed connections; 130 if a segment was \
        interrupted; a segment's netstack.exit status); 2 for unreadable or refused files; 64 for \
        bad options; 130 also after SIGINT or SIGTERM.
        """
    )

    @Argument(help: "Summary files (one export, or JSON lines such as kubectl logs of the segments), or folders whose *.json and *.jsonl files are read; - reads standard input. At most 1 GiB each.") var inputs: [String]
    @Flag(help: "Merge even when segments are missing (the summary names the ones present).") var allowPartial = false
    @Option(parsing: .unconditional, help: "Write the merged summary (with histograms) here.") var summaryExport: String?
    @Flag(help: "Print the merged summary as JSON instead of the table.") var json = false
    @Flag(name: .customLong("no-summary-histograms"), help: "No terminal histogram under each trend metric in the summary.")
    var noSummaryHistograms = false
    @Option(parsing: .unconditional, help: "The trend columns of the summary, comma-separated: avg, min, med, max, count, p(N) (default avg,min,med,p(90),p(95),p(99),max).")
    var summaryTrendStats: String?
    @Option(parsing: .unconditional, help: "Audit reports: the merged report's format, table (default), json or csv.") var format: String?

    func validate() throws {
        if let t = summaryTrendStats {
            do { _ = try TrendStat.list(t) } catch let e as LoadOptionError { throw ValidationError("--summary-trend-stats: \(e.message)") }
        }
    }

    private var trendStats: [TrendStat] { summaryTrendStats.flatMap { try? TrendStat.list($0) } ?? TrendStat.defaults }

    /// The most read of one input: a summary export with the run's every histogram is well under
    /// this (the histograms of all files share a 2 GiB budget once parsed).
    static let fileLimit = 1 << 30

    func run() throws {
        try exitOnInterrupt("merge")
        var files: [String] = []
        if inputs.filter({ $0 == "-" }).count > 1 {
            printErr("netstack merge: - (standard input) may be given once")
            throw ExitCode(64)
        }
        for input in inputs {
            // - is standard input: `kubectl logs -l job-name=... | netstack merge -`.
            if input == "-" { files.append(input); continue }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else {
                printErr("netstack merge: no such file or folder '\(input)'")
                throw ExitCode(2)
            }
            if isDir.boolValue {
                let names = ((try? FileManager.default.contentsOfDirectory(atPath: input)) ?? []).filter { $0.hasSuffix(".json") || $0.hasSuffix(".jsonl") }.sorted()
                files += names.map { (input as NSString).appendingPathComponent($0) }
            } else {
                files.append(input)
            }
        }
        guard !files.isEmpty else {
            printErr("netstack merge: no summary files found")
            throw ExitCode(2)
        }
        if let fmt = format, !["table", "json", "csv"].contains(fmt) {
            printErr("netstack merge: --format must be table, json or csv")
            throw ExitCode(64)
        }
        // Each file is read up to a bound (a file named by mistake, /dev/zero, a log without end,
        // is refused instead of read until memory runs out).
        let contents = try files.map { f -> Data in
            switch BoundedFileRead.bytes(atPathOrStandardInput: f, limit: Self.fileLimit) {
            case .success(let bytes): return Data(bytes)
            case .failure(let failure):
                printErr("netstack merge: \(failure)")
                throw ExitCode(2)
            }
        }
        // `netstack audit --format json --segment i/n` reports merge into one audit report.
        if let first = contents.first, AuditMerge.isAuditReport(first) {
            do {
                let merged = try AuditMerge(contents, names: files, allowPartial: allowPartial)
                if merged.isPartial { printErr("netstack merge: PARTIAL audit: segments \(merged.segments) only") }
                if merged.wasInterrupted { printErr("netstack merge: an audit segment was interrupted; its unchecked targets are missing") }
                let status = try AuditMerge.render(merged.results, format: format ?? (json ? "json" : "table"))
                if merged.wasInterrupted { throw ExitCode(130) }
                if status != 0 { throw ExitCode(status) }
                return
            } catch let e as LoadOptionError {
                printErr("netstack \(e.message)")
                throw ExitCode(2)
            }
        }
        var exports: [SummaryExport] = []
        var names: [String] = []
        // One budget for the histograms of every file (they come from other machines).
        let budget = HistogramBudget(limit: HistogramBudget.mergeLimit)
        func accept(_ e: SummaryExport, _ name: String) throws {
            do { try e.check() } catch let error as LoadOptionError {
                printErr("netstack merge: '\(name)' is not a valid summary export: \(error.message)")
                throw ExitCode(2)
            }
            exports.append(e)
            names.append(name)
        }
        for (f, data) in zip(files, contents) {
            let whole: Error
            do {
                try accept(try SummaryExport.decode(data, budget: budget), f)
                continue
            } catch let e as ExitCode { throw e } catch { whole = error }
            // JSON lines (kubectl logs of a Job's pods): every line that starts with { and is an
            // export; other lines (tables, messages) are skipped.
            var found = 0
            for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() where line.hasPrefix("{") {
                if let e = try? SummaryExport.decode(Data(line.utf8), budget: budget) {
                    try accept(e, "\(f):\(n + 1)")
                    found += 1
                }
            }
            if found == 0 {
                printErr("netstack merge: '\(f)' holds no netstack summary export (\(data.isEmpty ? "empty" : SummaryExport.describe(whole)))")
                throw ExitCode(2)
            }
        }
        let result: SummaryMerge
        do { result = try SummaryMerge(exports, names: names, allowPartial: allowPartial) } catch let e as LoadOptionError {
            printErr("netstack \(e.message)")
            throw ExitCode(2)
        }
        let m = result.merged
        if json {
            print(String(decoding: try m.encoded(), as: UTF8.self))
        } else {
            let partial = result.isPartial ? " PARTIAL: segments \(m.segment) only" : ""
            for e in exports where (e.lateBy ?? 0) > 0 {
                printErr("netstack merge: segment \(e.segment) started " + String(format: "%.3f", e.lateBy!) + " s after --start-at")
            }
            print(SummaryTable.render(m.metrics, duration: m.duration, thresholds: result.thresholds,
                                      header: "netstack merge: run \(m.runID), \(m.script), \(result.segments.count) of \(result.count) segments\(partial)",
                                      histograms: !noSummaryHistograms, trendStats: trendStats),
                  terminator: "")
        }
        if let path = summaryExport {
            do { try OutputFile.write(try m.encoded(), to: path) } catch {
                printErr("netstack merge: --summary-export: \((error as? LoadOptionError)?.message ?? "\(error)")")
                throw ExitCode(2)
            }
        }
        if m.status != 0 { throw ExitCode(m.status) }
    }
}
