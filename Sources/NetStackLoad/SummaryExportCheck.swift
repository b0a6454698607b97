/// What `netstack merge` accepts from a summary file. Exports come from other machines and can be
/// corrupt or hostile; everything the merge, the thresholds and the summary table rely on is
/// checked here once, with the reason in words, so that a bad file is refused (status 2) instead
/// of crashing the merge or skewing its verdict. (Histogram entries are checked as they are
/// decoded: `MetricValue.init(from:)`.)
extension SummaryExport {
    /// Series in one file (a run's totals keep at most 20,000 (`SeriesLimits.run`), and more go to
    /// overflow series; this allows for files written by other builds).
    public static let maxSeries = 200_000

    public func check() throws {
        func bad(_ why: String) -> LoadOptionError { LoadOptionError(why) }
        guard startedAt.isFinite, startedAt >= 0 else { throw bad("startedAt is \(startedAt)") }
        guard duration.isFinite, duration >= 0 else { throw bad("duration is \(duration)") }
        if let late = lateBy, !(late.isFinite && late >= 0) { throw bad("lateBy is \(late)") }
        guard (0...255).contains(status) else { throw bad("status \(status) is not an exit status (0-255)") }
        try metrics.check()
    }

    /// Samples in all series: merges add them, so their total must fit 64 bits.
    public var samples: UInt64? {
        var total: UInt64 = 0
        for v in metrics.series.values {
            let (sum, overflow) = total.addingReportingOverflow(v.count)
            if overflow { return nil }
            total = sum
        }
        return total
    }
}

extension MetricSet {
    public func check() throws {
        func bad(_ series: String, _ why: String) -> LoadOptionError {
            LoadOptionError("series \(String(series.prefix(80)).debugDescription): \(why)")
        }
        guard series.count <= SummaryExport.maxSeries else {
            throw LoadOptionError("\(series.count) series (at most \(SummaryExport.maxSeries))")
        }
        for name in definitions.keys where !SeriesName.isValidMetricName(name) {
            throw LoadOptionError("a definition of \(String(name.prefix(80)).debugDescription), which is not a metric name")
        }
        for (key, value) in series {
            let metric = SeriesName.split(key).metric
            guard SeriesName.isValidMetricName(metric) else { throw bad(key, "not a metric name") }
            guard SeriesName.hasWellFormedTags(key) else { throw bad(key, "malformed tags (metric{name:value,...}, each name once)") }
            guard let definition = definitions[metric] else { throw bad(key, "its metric is not defined") }
            guard definition.kind == value.kind else { throw bad(key, "a \(value.kind) of the \(definition.kind) '\(metric)'") }
            if let why = value.problem { throw bad(key, why) }
        }
    }
}

extension MetricValue {
    /// Why these numbers cannot come from a run, or nil.
    var problem: String? {
        // A counter's sum of finite numbers may reach infinity (1e308 added twice); nothing else.
        guard sum.isFinite || (kind == .counter && sum == .infinity) else { return "sum is \(sum)" }
        if count == 0 {
            guard sum == 0 else { return "sum \(sum) without samples" }
            return nil
        }
        if kind != .rate {
            guard min.isFinite, max.isFinite, min <= max else { return "min \(min) and max \(max)" }
        }
        switch kind {
        case .counter:
            guard sum >= 0, min >= 0 else { return "a counter adds numbers ≥ 0 (sum \(sum), min \(min))" }
        case .rate:
            guard sum >= 0, sum <= Double(count), sum == sum.rounded() else { return "\(sum) true samples of \(count)" }
        case .trend:
            guard min >= 0, max <= MetricValue.trendLimit, sum >= 0 else {
                return "trend samples are 0 ... \(MetricValue.trendLimit) (min \(min), max \(max), sum \(sum))"
            }
        case .gauge:
            break
        }
        return nil
    }
}

extension SeriesName {
    /// `metric` alone, or `metric{name:value,...}` with each part a valid tag name and value and
    /// each name once (what `make` writes; `split` would silently drop a part without a colon or
    /// a repeated name).
    static func hasWellFormedTags(_ key: String) -> Bool {
        guard let open = key.firstIndex(of: "{") else { return !key.contains("}") }
        guard key.hasSuffix("}"), key.index(after: open) < key.endIndex else { return false }
        let inner = key[key.index(after: open)..<key.index(before: key.endIndex)]
        var names = Set<String>()
        for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
            guard let colon = part.firstIndex(of: ":") else { return false }
            let name = String(part[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(part[part.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            guard isValidTagText(name), isValidTagValue(value), names.insert(name).inserted else { return false }
        }
        return true
    }
}
