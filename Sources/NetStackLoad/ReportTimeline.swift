import Foundation

/// What `--report` charts over time, taken from each interval's metrics as the run goes: per
/// second rates of every counter, med/p95/p99 of every trend, and every gauge's value. Bounded:
/// past `maxPoints` points, neighbours are merged in pairs (rates and gauges averaged, the median
/// averaged, p95 and p99 the larger of the two), so a long run keeps its whole span at a coarser
/// step.
public struct ReportTimeline: Sendable {
    public struct Point: Sendable, Equatable {
        /// Seconds since the run started, at the end of the interval.
        public var time: Double
        /// The interval's length in seconds (doubles when points merge).
        public var span: Double
        public var rates: [String: Double] = [:]
        /// Trend metric → (med, p95, p99), for intervals with samples.
        public var trends: [String: [Double]] = [:]
        public var gauges: [String: Double] = [:]
    }

    public static let maxPoints = 2000
    public private(set) var points: [Point] = []
    public private(set) var units: [String: MetricUnit] = [:]
    public private(set) var counters: Set<String> = []

    public init() {}

    public mutating func add(_ interval: MetricSet, time: Double, span: Double) {
        var p = Point(time: time, span: max(span, 1e-3))
        for metric in interval.metricNames {
            guard let v = interval.aggregate(metric) else { continue }
            let def = interval.definitions[metric] ?? BuiltinMetrics.definitions[metric] ?? MetricDefinition(kind: .counter)
            units[metric] = def.unit
            switch def.kind {
            case .counter:
                counters.insert(metric)
                p.rates[metric] = v.sum / p.span
            case .trend where v.count > 0:
                p.trends[metric] = [v.percentile(50), v.percentile(95), v.percentile(99)]
            case .gauge:
                p.gauges[metric] = v.value
            case .rate, .trend:
                break
            }
        }
        points.append(p)
        if points.count > Self.maxPoints { compact() }
    }

    /// Merges neighbours in pairs.
    mutating func compact() {
        var out: [Point] = []
        var i = 0
        while i < points.count {
            guard i + 1 < points.count else { out.append(points[i]); break }
            let a = points[i], b = points[i + 1]
            var m = Point(time: b.time, span: a.span + b.span)
            for k in Set(a.rates.keys).union(b.rates.keys) {
                m.rates[k] = ((a.rates[k] ?? 0) * a.span + (b.rates[k] ?? 0) * b.span) / m.span
            }
            for k in Set(a.gauges.keys).union(b.gauges.keys) {
                m.gauges[k] = [a.gauges[k], b.gauges[k]].compactMap { $0 }.reduce(0, +) / Double([a.gauges[k], b.gauges[k]].compactMap { $0 }.count)
            }
            for k in Set(a.trends.keys).union(b.trends.keys) {
                switch (a.trends[k], b.trends[k]) {
                case let (x?, y?): m.trends[k] = [(x[0] + y[0]) / 2, Swift.max(x[1], y[1]), Swift.max(x[2], y[2])]
                case let (x?, nil): m.trends[k] = x
                case let (nil, y?): m.trends[k] = y
                default: break
                }
            }
            out.append(m)
            i += 2
        }
        points = out
    }
}
