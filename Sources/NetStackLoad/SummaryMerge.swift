import Foundation

/// `netstack merge`: the summaries of a run's segments become the summary of the whole run.
/// Counts add, histograms merge bucket by bucket (percentiles of the whole, not averages of
/// percentiles), VU gauges add, thresholds are evaluated once over the merged metrics.
public struct SummaryMerge {
    public let merged: SummaryExport
    public let thresholds: [ThresholdResult]
    /// Segments present, and the count they were cut into.
    public let segments: [Int]
    public let count: Int
    public var isPartial: Bool { segments.count < count }

    /// Merges `exports` (each read from a file named in `names`, for messages). Refuses
    /// exports of different runs or scripts, different segment counts, a segment given twice,
    /// and missing segments unless `allowPartial`.
    public init(_ exports: [SummaryExport], names: [String], allowPartial: Bool) throws {
        guard let first = exports.first else { throw LoadOptionError("merge: no summaries given") }
        var segments: [Int: String] = [:]
        var count = 0
        for (e, name) in zip(exports, names) {
            guard e.version == SummaryExport.currentVersion else {
                throw LoadOptionError("merge: \(name) is format version \(e.version); this netstack reads \(SummaryExport.currentVersion)")
            }
            guard e.runID == first.runID else {
                throw LoadOptionError("merge: \(name) is from run '\(e.runID)', \(names[0]) from run '\(first.runID)' (give every segment the same --run-id)")
            }
            guard e.scriptSHA256 == first.scriptSHA256 else {
                throw LoadOptionError("merge: \(name) ran a different script (\(e.script), SHA-256 \(e.scriptSHA256.prefix(12))…) than \(names[0]) (\(first.script), \(first.scriptSHA256.prefix(12))…)")
            }
            let parts = e.segment.split(separator: "/")
            guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 1, i <= n else {
                throw LoadOptionError("merge: \(name) has no valid segment ('\(e.segment)')")
            }
            if count == 0 { count = n }
            guard n == count else { throw LoadOptionError("merge: \(name) is segment \(e.segment), others are of \(count)") }
            if let other = segments[i] { throw LoadOptionError("merge: segment \(i)/\(n) is given twice (\(other) and \(name))") }
            segments[i] = name
            guard Set(e.thresholds.map { $0.target + " " + $0.expression }) == Set(first.thresholds.map { $0.target + " " + $0.expression }) else {
                throw LoadOptionError("merge: \(name) has other thresholds than \(names[0])")
            }
        }
        let missing = (1...count).filter { segments[$0] == nil }
        if !missing.isEmpty && !allowPartial {
            throw LoadOptionError("merge: segments \(missing.map { "\($0)/\(count)" }.joined(separator: ", ")) are missing (--allow-partial merges what is there)")
        }
        // Each file was checked on its own (`SummaryExport.check`); together, a metric has one kind
        // and the samples fit 64 bits (merging adds counts).
        var kinds: [String: (MetricKind, String)] = [:]
        var samples: UInt64 = 0
        for (e, name) in zip(exports, names) {
            for (metric, d) in e.metrics.definitions {
                if let (kind, other) = kinds[metric], kind != d.kind {
                    throw LoadOptionError("merge: '\(metric)' is a \(d.kind) in \(name), a \(kind) in \(other)")
                }
                kinds[metric] = kinds[metric] ?? (d.kind, name)
            }
            guard let n = e.samples, case let (sum, false) = samples.addingReportingOverflow(n) else {
                throw LoadOptionError("merge: more than 2^64 samples in all")
            }
            samples = sum
        }
        var metrics = MetricSet()
        for e in exports { metrics.merge(e.metrics, acrossSegments: true) }
        let start = exports.map(\.startedAt).min()!
        let end = exports.map { $0.startedAt + $0.duration }.max()!
        let duration = end - start
        let thresholds = try first.thresholds.map { t -> Threshold in
            var th = try Threshold(target: t.target, expression: t.expression)
            th.abortOnFail = t.abortOnFail
            return th
        }
        let results = thresholds.map { $0.evaluate(metrics, duration: duration) }
        // The status one machine would have had: a status other than 0, 1, 99 and 130 came from
        // netstack.exit and wins; then 130 (interrupted), 99 (thresholds), 1 (script errors, or
        // failed connections without thresholds).
        let statuses = exports.map(\.status)
        let status: Int32
        if let chosen = statuses.first(where: { ![0, 1, 99, 130].contains($0) }) {
            status = chosen
        } else {
            status = LoadRun.status(exit: nil, initFailure: false, interrupted: statuses.contains(130), thresholds: results,
                                    hasThresholds: !thresholds.isEmpty,
                                    scriptErrors: (metrics.aggregate(BuiltinMetrics.scriptErrors)?.sum ?? 0).saturatingCount,
                                    failedConnections: LoadRun.failures(metrics))
        }
        // A segment that failed on its own (a VU that could not start) fails the whole.
        let finalStatus = status == 0 && statuses.contains(1) ? 1 : status
        var merged = SummaryExport(runID: first.runID, script: first.script, scriptSHA256: first.scriptSHA256,
                                   segment: Segment.whole, startedAt: start, duration: duration, status: finalStatus,
                                   thresholds: results, metrics: metrics)
        // A partial merge names the segments it holds (and cannot be mistaken for a whole run).
        if !missing.isEmpty { merged.segment = segments.keys.sorted().map(String.init).joined(separator: ",") + "/\(count)" }
        self.merged = merged
        self.thresholds = results
        self.segments = segments.keys.sorted()
        self.count = count
    }
}
