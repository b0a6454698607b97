import Foundation

/// The run's metric definitions, shared by every loop: built-ins, then the script's own as VUs
/// define them. Defining is rare (a VU's init); recording never touches this.
public final class MetricCatalog: @unchecked Sendable {
    private let lock = NSLock()
    private var definitions: [String: MetricDefinition]
    /// Custom metrics at most (a script that makes names from data would grow without bound).
    public static let customLimit = 1000

    public init() { definitions = BuiltinMetrics.definitions }

    /// Defines `name` as `kind`, or checks that it already is one; the error says why not.
    public func define(_ name: String, kind: MetricKind, unit: MetricUnit) throws -> MetricDefinition {
        guard SeriesName.isValidMetricName(name) else {
            throw LoadOptionError("metric name '\(name)': letters, digits, _ and . (not first), at most 128 bytes")
        }
        lock.lock()
        defer { lock.unlock() }
        if let d = definitions[name] {
            guard d.kind == kind else { throw LoadOptionError("metric '\(name)' is a \(d.kind.rawValue), not a \(kind.rawValue)") }
            return d
        }
        guard definitions.count < BuiltinMetrics.all.count + MetricCatalog.customLimit else {
            throw LoadOptionError("metric '\(name)': more than \(MetricCatalog.customLimit) custom metrics")
        }
        let d = MetricDefinition(kind: kind, unit: unit)
        definitions[name] = d
        return d
    }

    public var all: [String: MetricDefinition] {
        lock.lock()
        defer { lock.unlock() }
        return definitions
    }
}

/// One event loop's metrics for the current interval. Used only on its loop (no locks): the
/// VUs of that loop record here; the run collects (`drain`) on the loop once per interval and
/// merges the loops' sets.
public final class LoopMetrics {
    @exclusivity(unchecked) private var values: [MetricValue] = []
    @exclusivity(unchecked) private var names: [String] = []
    @exclusivity(unchecked) private var handles: [String: Int] = [:]
    @exclusivity(unchecked) private var touched: [Bool] = []
    @exclusivity(unchecked) private var trendSeries = 0
    /// Distinct series on this loop at most; past them, samples go to `METRIC{overflow:true,...}`
    /// (`SeriesLimits.overflowSeries`).
    public let limits: SeriesLimits
    /// Series that went to an overflow series instead of being made.
    @exclusivity(unchecked) public private(set) var overflowed = 0
    /// Called on the loop the first time a series goes to an overflow series, with its name.
    private let onFirstOverflow: ((String) -> Void)?
    /// The built-in series' handles by tag set (`VUMetricsRecorder`); handles never change.
    @exclusivity(unchecked) var recorderHandles: [String: VUMetricsRecorder.Handles] = [:]

    public init(limits: SeriesLimits = .run, onFirstOverflow: ((String) -> Void)? = nil) {
        self.limits = limits
        self.onFirstOverflow = onFirstOverflow
    }

    /// The handle of a series (made on first use).
    public func handle(_ series: String, kind: MetricKind) -> Int {
        if let h = handles[series] { return h }
        if limits.overflows(kind: kind, series: values.count, trendSeries: trendSeries) {
            overflowed += 1
            if overflowed == 1 { onFirstOverflow?(series) }
            let fallback = SeriesLimits.overflowSeries(of: series)
            if let h = handles[fallback] { return h }
            return make(fallback, kind: kind)
        }
        return make(series, kind: kind)
    }

    private func make(_ series: String, kind: MetricKind) -> Int {
        let h = values.count
        values.append(MetricValue(kind: kind))
        names.append(series)
        touched.append(false)
        handles[series] = h
        if kind == .trend { trendSeries += 1 }
        return h
    }

    @inline(__always)
    public func add(_ handle: Int, _ value: Double) {
        values[handle].add(value)
        touched[handle] = true
    }

    /// Gauges carry the time they were set (so merges keep the newest).
    public func set(_ handle: Int, _ value: Double, at time: Int64) {
        values[handle].add(value, at: time)
        touched[handle] = true
    }

    /// The interval's samples as a set (series with samples only), and a fresh interval.
    public func drain(definitions: [String: MetricDefinition]) -> MetricSet {
        var set = MetricSet()
        for h in values.indices where touched[h] {
            let name = names[h]
            set.series[name] = values[h]
            let metric = SeriesName.split(name).metric
            if set.definitions[metric] == nil { set.definitions[metric] = definitions[metric] }
            values[h] = MetricValue(kind: values[h].kind)
            touched[h] = false
        }
        return set
    }
}
