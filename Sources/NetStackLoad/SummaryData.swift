import Foundation

/// The value a script's `handleSummary(data)` gets, shaped as k6 shapes it: `metrics` by name
/// (type, what the values contain, the values the summary shows, the thresholds on the metric),
/// sub-metrics that thresholds name (`ws_connecting{scenario:ramp}`) under their own key,
/// `state`, `options`, `root_group` (groups and checks), and netstack's own part (`netstack.status`, `netstack.runID`).
public enum SummaryData {
    public struct Run {
        public var duration: Double
        public var thresholds: [ThresholdResult]
        public var trendStats: [TrendStat]
        public var status: Int32
        public var runID: String?
        public var stdoutIsTTY: Bool
        public var stderrIsTTY: Bool

        public init(duration: Double, thresholds: [ThresholdResult], trendStats: [TrendStat], status: Int32,
                    runID: String?, stdoutIsTTY: Bool, stderrIsTTY: Bool) {
            self.duration = duration
            self.thresholds = thresholds
            self.trendStats = trendStats
            self.status = status
            self.runID = runID
            self.stdoutIsTTY = stdoutIsTTY
            self.stderrIsTTY = stderrIsTTY
        }
    }

    /// The data as JSON text.
    public static func json(_ set: MetricSet, _ run: Run) -> [UInt8] {
        let object = self.object(set, run)
        return (try? [UInt8](JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))) ?? Array("{}".utf8)
    }

    static func object(_ set: MetricSet, _ run: Run) -> [String: Any] {
        var metrics: [String: Any] = [:]
        let byTarget = Dictionary(grouping: run.thresholds, by: { $0.threshold.tags.isEmpty ? $0.threshold.metric : $0.threshold.target })
        for metric in set.metricNames {
            guard let all = set.aggregate(metric) else { continue }
            let def = set.definitions[metric] ?? BuiltinMetrics.definitions[metric] ?? MetricDefinition(kind: all.kind)
            metrics[metric] = entry(all, def, run, thresholds: byTarget[metric] ?? [])
        }
        // Sub-metrics exist in the data as k6 has them: those a threshold names.
        for result in run.thresholds where !result.threshold.tags.isEmpty {
            let target = result.threshold.target
            guard metrics[target] == nil, let value = set.aggregate(result.threshold.metric, tags: result.threshold.tags) else { continue }
            let metric = result.threshold.metric
            let def = set.definitions[metric] ?? BuiltinMetrics.definitions[metric] ?? MetricDefinition(kind: value.kind)
            metrics[target] = entry(value, def, run, thresholds: byTarget[target] ?? [])
        }
        var netstack: [String: Any] = ["status": Int(run.status)]
        if let id = run.runID { netstack["runID"] = id }
        return [
            "metrics": metrics,
            "state": ["testRunDurationMs": number(run.duration * 1000), "isStdOutTTY": run.stdoutIsTTY, "isStdErrTTY": run.stderrIsTTY],
            "options": ["summaryTrendStats": run.trendStats.map(key)],
            "netstack": netstack,
            "root_group": rootGroup(set),
        ]
    }

    /// k6's `root_group`: the groups the run entered (those `group_duration` or a check's `group`
    /// tag names, and their parents) as a tree from the root (`name` and `path` ""), each with the
    /// passes and fails of the checks made in it, sorted by name. k6's `id` hashes are left out.
    static func rootGroup(_ set: MetricSet) -> [String: Any] {
        var checks: [String: [String: (passes: UInt64, fails: UInt64)]] = [:]
        var paths: Set<String> = [""]
        for (key, v) in set.series {
            let (metric, tags) = SeriesName.split(key)
            if metric == "group_duration", let path = tags["group"] {
                paths.insert(path)
            } else if metric == "checks", let name = tags["check"] {
                let path = tags["group"] ?? ""
                paths.insert(path)
                let passes = passes(of: v)
                let old = checks[path, default: [:]][name] ?? (0, 0)
                checks[path, default: [:]][name] = (old.passes + passes, old.fails + (v.count - passes))
            }
        }
        // A nested group's parents are groups too (`::a::b` is in `::a`).
        for path in paths {
            var p = path
            while let cut = p.range(of: "::", options: .backwards) {
                p = String(p[..<cut.lowerBound])
                paths.insert(p)
            }
        }
        var children: [String: [String]] = [:]
        for path in paths where !path.isEmpty {
            let cut = path.range(of: "::", options: .backwards)
            children[cut.map { String(path[..<$0.lowerBound]) } ?? "", default: []].append(path)
        }
        func node(_ path: String) -> [String: Any] {
            let name = path.range(of: "::", options: .backwards).map { String(path[$0.upperBound...]) } ?? path
            let mine = checks[path] ?? [:]
            return [
                "name": name, "path": path,
                "groups": (children[path] ?? []).sorted().map(node),
                "checks": mine.keys.sorted().map { check -> [String: Any] in
                    let counts = mine[check]!
                    return ["name": check, "path": path + "::" + check,
                            "passes": Int(clamping: counts.passes), "fails": Int(clamping: counts.fails)]
                },
            ]
        }
        return node("")
    }

    /// A rate's true samples.
    private static func passes(of v: MetricValue) -> UInt64 {
        !(v.sum > 0) ? 0 : v.sum >= Double(v.count) ? v.count : UInt64(v.sum)
    }

    /// k6's names of a trend's values: `avg`, `med`, `p(90)`, `p(99.9)`.
    static func key(_ stat: TrendStat) -> String {
        if case .percentile = stat { return "p(" + stat.label.dropFirst() + ")" }
        return stat.label
    }

    private static func entry(_ v: MetricValue, _ def: MetricDefinition, _ run: Run, thresholds: [ThresholdResult]) -> [String: Any] {
        var values: [String: Any] = [:]
        switch def.kind {
        case .counter:
            values["count"] = number(v.sum)
            values["rate"] = number(run.duration > 0 ? v.sum / run.duration : 0)
        case .gauge:
            values["value"] = number(v.value)
            values["min"] = number(v.minimum)
            values["max"] = number(v.maximum)
        case .rate:
            let trues = passes(of: v)
            values["rate"] = number(v.value)
            values["passes"] = Int(clamping: trues)
            values["fails"] = Int(clamping: v.count - trues)
        case .trend:
            for stat in run.trendStats {
                values[key(stat)] = stat == .count ? Int(clamping: v.count) : number(stat.value(of: v))
            }
        }
        var out: [String: Any] = [
            "type": def.kind.rawValue,
            "contains": def.unit == .milliseconds ? "time" : def.unit == .bytes ? "data" : "default",
            "values": values,
        ]
        if !thresholds.isEmpty {
            var marks: [String: Any] = [:]
            for r in thresholds { marks[r.threshold.expression] = ["ok": r.passed] }
            out["thresholds"] = marks
        }
        return out
    }

    /// A JSON number: whole values as integers, NaN and infinities (no samples) as null.
    private static func number(_ d: Double) -> Any {
        guard d.isFinite else { return NSNull() }
        if d == d.rounded(), abs(d) < 9.0e15 { return Int(d) }
        return d
    }
}
