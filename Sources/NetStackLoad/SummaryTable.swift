import Foundation
import NetStack

/// The end-of-run summary as text for an 80-column terminal: one block per metric (a line with
/// the count and rate, and for trends a second line with avg, min, med, p90, p95, p99, max (or the
/// chosen `TrendStat`s) and,
/// unless turned off, the distribution as a terminal histogram, `TrendChart`),
/// sub-metrics per scenario and tag indented under it, thresholds marked ✓ or ✗, then the
/// script errors.
public enum SummaryTable {
    public static func render(_ set: MetricSet, duration: Double, thresholds: [ThresholdResult],
                              errors: [(message: String, count: Int)] = [], header: String? = nil, histograms: Bool = true,
                              trendStats: [TrendStat] = TrendStat.defaults) -> String {
        var out = ""
        if let h = header { out += h + "\n" }
        out += String(format: "  duration %.1fs\n", duration)
        let byMetric = Dictionary(grouping: thresholds, by: { $0.threshold.metric })
        for metric in set.metricNames {
            let def = set.definitions[metric] ?? BuiltinMetrics.definitions[metric] ?? MetricDefinition(kind: .counter)
            guard let all = set.aggregate(metric) else { continue }
            out += line(metric, all, def, duration, indent: "  ", trendStats: trendStats)
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
                out += line(label, set.series[key]!, def, duration, indent: "    ", trendStats: trendStats)
            }
            for r in byMetric[metric] ?? [] { out += thresholdLine(r) }
        }
        for (metric, results) in byMetric.sorted(by: { $0.key < $1.key }) where set.aggregate(metric) == nil {
            out += "  \(metric) (no samples)\n"
            for r in results { out += thresholdLine(r) }
        }
        if !errors.isEmpty {
            out += "  script errors:\n"
            for e in errors { out += "    \(e.count)× \(clip(TerminalText.sanitize(e.message, keepNewlines: false), 70))\n" }
        }
        // Names, tags and errors may come from summary files made elsewhere (merge) or carry a
        // server's words: nothing in them reaches the terminal as a control character.
        return TerminalText.sanitize(out)
    }

    static func thresholdLine(_ r: ThresholdResult) -> String {
        let mark = r.passed ? "✓" : "✗"
        let target = r.threshold.tags.isEmpty ? "" : r.threshold.target + " "
        let actual = r.actual.map { " (\(number($0)))" } ?? ""
        let note = r.note.map { ": \($0)" } ?? ""
        return "    \(mark) \(target)\(r.threshold.expression)\(actual)\(note)\n"
    }

    static func line(_ name: String, _ v: MetricValue, _ def: MetricDefinition, _ duration: Double, indent: String,
                     trendStats: [TrendStat] = TrendStat.defaults) -> String {
        let label = clip(indent + name, 38).padding(toLength: 38, withPad: ".", startingAt: 0) + ": "
        let more = indent + "  "
        switch def.kind {
        case .counter:
            let rate = duration > 0 ? v.sum / duration : 0
            return wrapped(label, [("", format(v.sum, def.unit)), ("  ", format(rate, def.unit) + "/s")], continuation: more)
        case .gauge:
            return wrapped(label, [("", number(v.value)), ("  ", "min=" + number(v.minimum)), (" ", "max=" + number(v.maximum))], continuation: more)
        case .rate:
            // sum: the true samples, at most count (a merged file is checked; never trap here).
            let trues: UInt64 = !(v.sum > 0) ? 0 : v.sum >= Double(v.count) ? v.count : UInt64(v.sum)
            return wrapped(label, [("", String(format: "%.2f%%", v.value * 100)), ("  ", "✓ \(trues)"), ("  ", "✗ \(v.count - trues)")], continuation: more)
        case .trend:
            let fields = trendStats.map { stat in
                stat.label + "=" + (stat == .count ? String(v.count) : format(stat.value(of: v), def.unit, digits: 3))
            }
            return label + "count=\(v.count)\n"
                + wrapped(more, fields.enumerated().map { ($0.offset == 0 ? "" : " ", $0.element) }, continuation: more)
        }
    }

    /// The widest line the summary prints, in columns.
    static let width = 80

    /// `head` and then each part after its separator, continued on a new line that starts with
    /// `continuation` wherever a part would take the line past `width` columns (a part itself is
    /// never split). Ends with a newline.
    static func wrapped(_ head: String, _ parts: [(separator: String, text: String)], continuation: String) -> String {
        var out = ""
        var line = head
        var empty = true
        for part in parts {
            let joined = line + (empty ? "" : part.separator) + part.text
            if joined.count > width && !empty {
                out += line + "\n"
                line = continuation + part.text
            } else {
                line = joined
            }
            empty = false
        }
        return out + line + "\n"
    }

    static func clip(_ s: String, _ n: Int) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }

    /// 3-4 significant digits, with the unit: 1.23ms, 4.5s, 12.3kB. `digits: 3` keeps three
    /// (trend values: their histograms hold three, and seven of them then fit one line).
    static func format(_ v: Double, _ unit: MetricUnit, digits: Int = 4) -> String {
        scaled(v, unit, digits == 3 ? threeDigits : number)
    }

    /// With exactly `significant` significant digits, trailing zeros kept: 1.0005s, 998.20µs.
    static func format(_ v: Double, _ unit: MetricUnit, significant: Int) -> String {
        scaled(v, unit) { x in
            guard x.isFinite, x != 0, abs(x) < 1e15 else { return number(x) }
            let decimals = Swift.max(0, significant - 1 - Int(log10(abs(x)).rounded(.down)))
            return String(format: "%.\(decimals)f", x)
        }
    }

    /// `v` in the unit's scale that reads best (µs, ms or s; B, kB, MB or GB), written by `number`.
    private static func scaled(_ v: Double, _ unit: MetricUnit, _ number: (Double) -> String) -> String {
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

    /// Whole numbers as they are, others with three significant digits: 348, 18.1, 2.01, 0.123.
    static func threeDigits(_ v: Double) -> String {
        guard v.isFinite, abs(v) < 1e15, v != v.rounded() else { return number(v) }
        if abs(v) >= 100 { return String(format: "%.0f", v) }
        if abs(v) >= 10 { return wholeWhenZeros(String(format: "%.1f", v)) }
        if abs(v) >= 1 { return wholeWhenZeros(String(format: "%.2f", v)) }
        return wholeWhenZeros(String(format: "%.3f", v))
    }

    static func number(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        // Past 1e15 digits mean nothing (a line stays within 80 columns): 1.234e+300, inf.
        if abs(v) >= 1e15 || !v.isFinite { return String(format: "%.4g", v) }
        if abs(v) >= 100 { return wholeWhenZeros(String(format: "%.1f", v)) }
        if abs(v) >= 1 { return wholeWhenZeros(String(format: "%.2f", v)) }
        return wholeWhenZeros(String(format: "%.3f", v))
    }

    /// "15.0" as "15": a value that rounds to a whole number at the digits shown prints as a
    /// whole number does, so 15.0001 and 15 (a maximum and a percentile) read the same.
    static func wholeWhenZeros(_ s: String) -> String {
        guard let dot = s.firstIndex(of: "."), s[s.index(after: dot)...].allSatisfy({ $0 == "0" }) else { return s }
        let whole = String(s[..<dot])
        return whole == "-0" ? "0" : whole
    }
}
