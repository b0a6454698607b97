import Foundation

/// The end-of-run summary as text for an 80-column terminal: one block per metric (a line with
/// the count and rate, and for trends a second line with avg, min, med, p90, p95, p99, max and,
/// unless turned off, the distribution as a terminal histogram, `TrendChart`),
/// sub-metrics per scenario and tag indented under it, thresholds marked ✓ or ✗, then the
/// script errors.
public enum SummaryTable {
    public static func render(_ set: MetricSet, duration: Double, thresholds: [ThresholdResult],
                              errors: [(message: String, count: Int)] = [], header: String? = nil, histograms: Bool = true) -> String {
        var out = ""
        if let h = header { out += h + "\n" }
        out += String(format: "  duration %.1fs\n", duration)
        let byMetric = Dictionary(grouping: thresholds, by: { $0.threshold.metric })
        for metric in set.metricNames {
            let def = set.definitions[metric] ?? BuiltinMetrics.definitions[metric] ?? MetricDefinition(kind: .counter)
            guard let all = set.aggregate(metric) else { continue }
            out += line(metric, all, def, duration, indent: "  ")
            if histograms, def.kind == .trend {
                for row in TrendChart.render(all, unit: def.unit) { out += row + "\n" }
            }
            let keys = set.series.keys.filter { SeriesName.split($0).metric == metric }.sorted()
            // Sub-metrics: each series whose tags go beyond the single-scenario default.
            let scenarios = Set(keys.compactMap { SeriesName.split($0).tags["scenario"] })
            for key in keys {
                let tags = SeriesName.split(key).tags
                let interesting = tags.filter { $0.key != "scenario" || scenarios.count > 1 }
                guard !interesting.isEmpty, keys.count > 1 || interesting.count > 0 && (scenarios.count > 1 || tags.count > 1) else { continue }
                let label = "{" + interesting.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",") + "}"
                out += line(label, set.series[key]!, def, duration, indent: "    ")
            }
            for r in byMetric[metric] ?? [] { out += thresholdLine(r) }
        }
        for (metric, results) in byMetric.sorted(by: { $0.key < $1.key }) where set.aggregate(metric) == nil {
            out += "  \(metric) (no samples)\n"
            for r in results { out += thresholdLine(r) }
        }
        if !errors.isEmpty {
            out += "  script errors:\n"
            for e in errors { out += "    \(e.count)× \(clip(e.message, 70))\n" }
        }
        return out
    }

    static func thresholdLine(_ r: ThresholdResult) -> String {
        let mark = r.passed ? "✓" : "✗"
        let target = r.threshold.tags.isEmpty ? "" : r.threshold.target + " "
        let actual = r.actual.map { " (\(number($0)))" } ?? ""
        let note = r.note.map { ": \($0)" } ?? ""
        return "    \(mark) \(target)\(r.threshold.expression)\(actual)\(note)\n"
    }

    static func line(_ name: String, _ v: MetricValue, _ def: MetricDefinition, _ duration: Double, indent: String) -> String {
        let label = clip(indent + name, 38).padding(toLength: 38, withPad: ".", startingAt: 0) + ": "
        switch def.kind {
        case .counter:
            let rate = duration > 0 ? v.sum / duration : 0
            return label + "\(format(v.sum, def.unit))  \(format(rate, def.unit))/s\n"
        case .gauge:
            return label + "\(number(v.value))  min=\(number(v.minimum)) max=\(number(v.maximum))\n"
        case .rate:
            // sum: the true samples, at most count (a merged file is checked; never trap here).
            let trues: UInt64 = !(v.sum > 0) ? 0 : v.sum >= Double(v.count) ? v.count : UInt64(v.sum)
            return label + String(format: "%.2f%%", v.value * 100) + "  ✓ \(trues)  ✗ \(v.count - trues)\n"
        case .trend:
            var s = label + "count=\(v.count)\n"
            s += indent + "  " + ["avg=" + format(v.value, def.unit), "min=" + format(v.minimum, def.unit), "med=" + format(v.percentile(50), def.unit),
                                  "p90=" + format(v.percentile(90), def.unit), "p95=" + format(v.percentile(95), def.unit),
                                  "p99=" + format(v.percentile(99), def.unit), "max=" + format(v.maximum, def.unit)].joined(separator: " ") + "\n"
            return s
        }
    }

    static func clip(_ s: String, _ n: Int) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }

    /// 3-4 significant digits, with the unit: 1.23ms, 4.5s, 12.3kB.
    static func format(_ v: Double, _ unit: MetricUnit) -> String {
        switch unit {
        case .milliseconds:
            if v >= 1000 { return number(v / 1000) + "s" }
            if v < 1 && v > 0 { return number(v * 1000) + "µs" }
            return number(v) + "ms"
        case .bytes:
            if v >= 1e9 { return number(v / 1e9) + "GB" }
            if v >= 1e6 { return number(v / 1e6) + "MB" }
            if v >= 1e3 { return number(v / 1e3) + "kB" }
            return number(v) + "B"
        case .none:
            return number(v)
        }
    }

    static func number(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        // Past 1e15 digits mean nothing (a line stays within 80 columns): 1.234e+300, inf.
        if abs(v) >= 1e15 || !v.isFinite { return String(format: "%.4g", v) }
        if abs(v) >= 100 { return String(format: "%.1f", v) }
        if abs(v) >= 1 { return String(format: "%.2f", v) }
        return String(format: "%.3f", v)
    }
}
