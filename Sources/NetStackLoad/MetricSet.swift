import Foundation

/// What a metric is: its kind and unit. Built-in metrics are defined up front; a script defines
/// its own with `netstack.metrics.counter(name)` and friends.
public struct MetricDefinition: Codable, Equatable, Sendable {
    public var kind: MetricKind
    public var unit: MetricUnit
    /// Built-in gauges that count something spread over loops and segments (vus): merging sums
    /// them instead of keeping the newest.
    public var additive: Bool
    public init(kind: MetricKind, unit: MetricUnit = .none, additive: Bool = false) {
        self.kind = kind
        self.unit = unit
        self.additive = additive
    }
}

/// Series names: `metric` or `metric{tag:value,tag2:value2}` (tags sorted by name), the form
/// thresholds and summaries use.
public enum SeriesName {
    public static func make(_ metric: String, tags: [(String, String)]) -> String {
        if tags.isEmpty { return metric }
        let sorted = tags.sorted { $0.0 < $1.0 }
        return metric + "{" + sorted.map { "\($0.0):\($0.1)" }.joined(separator: ",") + "}"
    }

    /// The metric name and tags of a series name (the inverse of `make`).
    public static func split(_ series: String) -> (metric: String, tags: [String: String]) {
        guard let open = series.firstIndex(of: "{"), series.hasSuffix("}") else { return (series, [:]) }
        let metric = String(series[..<open])
        let inner = series[series.index(after: open)..<series.index(before: series.endIndex)]
        var tags: [String: String] = [:]
        for part in inner.split(separator: ",") {
            if let colon = part.firstIndex(of: ":") {
                tags[String(part[..<colon]).trimmingCharacters(in: .whitespaces)] = String(part[part.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            }
        }
        return (metric, tags)
    }

    /// Metric names: a letter or `_`, then letters, digits, `_` or `.`; at most 128 bytes.
    public static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 128 else { return false }
        func letter(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 95 }
        return letter(first) && name.utf8.allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) || $0 == 46 }
    }

    /// Tag names and values: no `{`, `}`, `,` or `:` (they delimit series names), no control
    /// characters, at most 256 bytes.
    public static func isValidTagText(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 256 && !s.utf8.contains { $0 < 32 || $0 == 127 || $0 == 123 || $0 == 125 || $0 == 44 || $0 == 58 }
    }

    /// Tag values as series names carry them: `:` allowed (a series name's pair splits at its
    /// first colon), so that k6's group paths (`::login`) are values.
    public static func isValidTagValue(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 256 && !s.utf8.contains { $0 < 32 || $0 == 127 || $0 == 123 || $0 == 125 || $0 == 44 }
    }
}

/// The metrics of a run (or of a part of it: one loop's interval, one segment): definitions and
/// series. Merging two sets gives the set of the union of their samples.
public struct MetricSet: Codable, Equatable, Sendable {
    public var definitions: [String: MetricDefinition] = [:]
    public var series: [String: MetricValue] = [:]

    public init() {}

    /// Adds `other`'s samples. `acrossSegments`: the sets are parts of one run measured at the
    /// same time (segments), so additive gauges (vus) sum; otherwise `other` is later in time and
    /// a gauge takes its newest value.
    public mutating func merge(_ other: MetricSet, acrossSegments: Bool = false) {
        for (name, d) in other.definitions where definitions[name] == nil { definitions[name] = d }
        for (key, v) in other.series {
            if var mine = series[key] {
                let additive = acrossSegments && (definitions[SeriesName.split(key).metric]?.additive ?? false)
                if additive && v.kind == .gauge {
                    mine = MetricSet.addGauges(mine, v)
                } else {
                    mine.merge(v)
                }
                series[key] = mine
            } else {
                series[key] = v
            }
        }
    }

    /// `merge`, for a store that must stay within `limits` (the run's totals): a series new to
    /// this set goes to its metric's overflow series once the set holds as many series (or trend
    /// series) as the limits allow, taken in name order. Returns how many series went there.
    @discardableResult
    public mutating func merge(_ other: MetricSet, within limits: SeriesLimits) -> Int {
        for (name, d) in other.definitions where definitions[name] == nil { definitions[name] = d }
        var count = series.count
        var trends = series.values.reduce(0) { $0 + ($1.kind == .trend ? 1 : 0) }
        var folded = 0
        // In name order, so which series overflow does not depend on a dictionary's order.
        for key in other.series.keys.sorted() {
            let v = other.series[key]!
            var target = key
            if series[key] == nil && limits.overflows(kind: v.kind, series: count, trendSeries: trends) {
                target = SeriesLimits.overflowSeries(of: key)
                folded += 1
            }
            if var mine = series[target] {
                mine.merge(v)
                series[target] = mine
            } else {
                series[target] = v
                count += 1
                if v.kind == .trend { trends += 1 }
            }
        }
        return folded
    }

    /// Additive gauges (vus) of parts measured at the same time: values, minimums and maximums sum.
    static func addGauges(_ a: MetricValue, _ b: MetricValue) -> MetricValue {
        MetricValue(gauge: a.value + b.value, min: a.minimum + b.minimum, max: a.maximum + b.maximum,
                    count: a.count + b.count, at: max(a.setAt, b.setAt))
    }

    /// Every series of `metric` whose tags include all of `tags`, merged (nil when none).
    public func aggregate(_ metric: String, tags: [String: String] = [:]) -> MetricValue? {
        var out: MetricValue?
        let additive = definitions[metric]?.additive ?? false
        for (key, v) in series {
            let (m, t) = SeriesName.split(key)
            guard m == metric, tags.allSatisfy({ t[$0.key] == $0.value }) else { continue }
            if var o = out {
                if additive && v.kind == .gauge { o = MetricSet.addGauges(o, v) } else { o.merge(v) }
                out = o
            } else {
                out = v
            }
        }
        return out
    }

    /// The metrics that have at least one series, sorted by name.
    public var metricNames: [String] {
        Array(Set(series.keys.map { SeriesName.split($0).metric })).sorted()
    }
}
