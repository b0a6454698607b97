import Foundation

/// A pass/fail criterion over one metric (optionally tag-filtered), k6's syntax:
/// `p(95)<500`, `avg<=200`, `rate<0.01`, `count>100`, `value==0`, on `metric` or
/// `metric{tag:value}`. The command line also takes the metrics plugin's form
/// (`latency.p95<20`, `messages_in>=100`).
public struct Threshold: Equatable, Sendable {
    public enum Aggregate: Equatable, Sendable {
        case count, rate, value, avg, min, max, med
        case percentile(Double)
    }
    public enum Op: String, Sendable, CaseIterable {
        case le = "<=", ge = ">=", eq3 = "===", eq = "==", ne = "!=", lt = "<", gt = ">"
    }

    /// The series name it applies to, as written (`ws_rtt{scenario:chat}`).
    public let target: String
    public let metric: String
    public let tags: [String: String]
    public let aggregate: Aggregate?
    public let op: Op
    public let bound: Double
    /// The expression as written (`p(95)<500`), for the summary.
    public let expression: String
    public var abortOnFail = false
    public var delayAbortEval = LoadDuration.zero

    /// Metric names of the metrics plugin, accepted on the command line.
    static let pluginAliases: [String: (String, [String: String])] = [
        "latency": (BuiltinMetrics.rtt, [:]), "connections": (BuiltinMetrics.sessions, [:]),
        "connect_failures": (BuiltinMetrics.connectFailures, [:]), "messages_in": (BuiltinMetrics.msgsReceived, [:]),
        "bytes_in": (BuiltinMetrics.bytesReceived, [:]), "messages_out": (BuiltinMetrics.msgsSent, [:]),
        "bytes_out": (BuiltinMetrics.bytesSent, [:]), "closes": (BuiltinMetrics.closes, [:]),
        "closes_abnormal": (BuiltinMetrics.closes, ["code": "1006"]), "errors": (BuiltinMetrics.errors, [:]),
    ]

    /// `target` and an expression `AGG OP NUMBER` (AGG may be omitted: the kind's natural one).
    public init(target: String, expression: String) throws {
        let (metric, tags) = SeriesName.split(target.trimmingCharacters(in: .whitespaces))
        guard SeriesName.isValidMetricName(metric) else { throw LoadOptionError("threshold '\(target)': '\(metric)' is not a metric name") }
        let expr = expression.trimmingCharacters(in: .whitespaces)
        guard let (opRange, op) = Threshold.findOperator(expr) else {
            throw LoadOptionError("threshold '\(target): \(expression)': expected AGGREGATE OP NUMBER, e.g. p(95)<500 (operators < <= > >= == != )")
        }
        let lhs = expr[..<opRange.lowerBound].trimmingCharacters(in: .whitespaces)
        let rhs = expr[opRange.upperBound...].trimmingCharacters(in: .whitespaces)
        guard let bound = Double(rhs), bound.isFinite else { throw LoadOptionError("threshold '\(target): \(expression)': '\(rhs)' is not a number") }
        self.target = target.trimmingCharacters(in: .whitespaces)
        self.metric = metric
        self.tags = tags
        self.aggregate = lhs.isEmpty ? nil : try Threshold.parseAggregate(lhs, context: "\(target): \(expression)")
        self.op = op
        self.bound = bound
        self.expression = expr
    }

    /// A command-line threshold: `METRIC{tags}: EXPR`, `METRIC{tags}.AGG OP N` or `METRIC OP N`.
    public init(commandLine text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces)
        // k6 form: the metric, a colon outside the braces, the expression.
        var depth = 0
        for (i, ch) in zip(t.indices, t) {
            if ch == "{" { depth += 1 } else if ch == "}" { depth -= 1 } else if ch == ":" && depth == 0 {
                try self.init(target: Threshold.resolveAlias(String(t[..<i])), expression: String(t[t.index(after: i)...]))
                return
            }
        }
        guard let (opRange, _) = Threshold.findOperator(t) else {
            throw LoadOptionError("--threshold '\(text)': expected METRIC: EXPR (ws_rtt: p(95)<50) or METRIC.AGG OP NUMBER (latency.p95<50)")
        }
        var left = String(t[..<opRange.lowerBound]).trimmingCharacters(in: .whitespaces)
        var agg = ""
        // METRIC{tags}.AGG: the aggregate follows the last dot after the braces.
        let afterBraces = left.lastIndex(of: "}").map { left.index(after: $0) } ?? left.startIndex
        if let dot = left[afterBraces...].lastIndex(of: "."), Threshold.isAggregateName(String(left[left.index(after: dot)...])) {
            agg = String(left[left.index(after: dot)...])
            left = String(left[..<dot])
        }
        try self.init(target: Threshold.resolveAlias(left), expression: agg + String(t[opRange.lowerBound...]))
    }

    static func resolveAlias(_ target: String) -> String {
        let (metric, tags) = SeriesName.split(target.trimmingCharacters(in: .whitespaces))
        guard let (real, extra) = pluginAliases[metric] else { return target }
        return SeriesName.make(real, tags: (tags.merging(extra) { a, _ in a }).map { ($0.key, $0.value) })
    }

    static func isAggregateName(_ s: String) -> Bool { (try? parseAggregate(s, context: "")) != nil }

    static func parseAggregate(_ s: String, context: String) throws -> Aggregate {
        switch s {
        case "count": return .count
        case "rate": return .rate
        case "value": return .value
        case "avg", "mean": return .avg
        case "min": return .min
        case "max": return .max
        case "med", "p50": return .med
        default: break
        }
        var number: Substring?
        if s.hasPrefix("p("), s.hasSuffix(")") { number = s.dropFirst(2).dropLast() } else if s.hasPrefix("p") { number = s.dropFirst() }
        if let n = number, let p = Double(n), p >= 0, p <= 100 { return .percentile(p) }
        throw LoadOptionError("threshold '\(context)': '\(s)' is not an aggregate (count, rate, value, avg, min, max, med, p(N))")
    }

    static func findOperator(_ s: String) -> (Range<String.Index>, Op)? {
        var best: (Range<String.Index>, Op)?
        for op in Op.allCases {
            if let r = s.range(of: op.rawValue), best == nil || r.lowerBound < best!.0.lowerBound || (r.lowerBound == best!.0.lowerBound && op.rawValue.count > best!.1.rawValue.count) {
                best = (r, op)
            }
        }
        return best
    }

    /// The aggregate a threshold without one takes: count, value, rate or avg by kind.
    static func naturalAggregate(_ kind: MetricKind) -> Aggregate {
        switch kind {
        case .counter: return .count
        case .gauge: return .value
        case .rate: return .rate
        case .trend: return .avg
        }
    }

    /// The aggregate's value over `v`, a metric of `kind`, or nil when it does not apply to that
    /// kind (a percentile of a counter). One table for the evaluation and the check up front.
    static func value(_ agg: Aggregate, of v: MetricValue, kind: MetricKind, duration: Double) -> Double? {
        switch (agg, kind) {
        case (.count, .counter): return v.sum
        case (.count, _): return Double(v.count)
        case (.rate, .counter): return duration > 0 ? v.sum / duration : 0
        case (.rate, .rate): return v.value
        case (.value, .gauge): return v.value
        case (.avg, .trend): return v.value
        case (.min, .trend), (.min, .gauge): return v.minimum
        case (.max, .trend), (.max, .gauge): return v.maximum
        case (.med, .trend): return v.percentile(50)
        case (.percentile(let p), .trend): return v.percentile(p)
        default: return nil
        }
    }

    /// Refuses, before a run, a threshold whose aggregate cannot apply to its metric when the
    /// metric's kind is known then (a built-in metric; a script's own metrics are only defined
    /// while it runs, and are judged at the end).
    public func checkAgainstBuiltins() throws {
        guard let def = BuiltinMetrics.definitions[metric], let agg = aggregate else { return }
        guard Threshold.value(agg, of: MetricValue(kind: def.kind), kind: def.kind, duration: 1) == nil else { return }
        let takes: String
        switch def.kind {
        case .counter: takes = "count, rate"
        case .gauge: takes = "value, min, max, count"
        case .rate: takes = "rate, count"
        case .trend: takes = "avg, min, max, med, p(N), count"
        }
        throw LoadOptionError("threshold '\(target): \(expression)': '\(metric)' is a \(def.kind.rawValue), which takes \(takes)")
    }

    /// Evaluates over the run's metrics; `duration` (seconds) gives counters' rate.
    public func evaluate(_ set: MetricSet, duration: Double) -> ThresholdResult {
        guard let def = set.definitions[metric] ?? BuiltinMetrics.definitions[metric] else {
            let hint: String
            switch metric {
            case "checks": hint = " (the first netstack.metrics.check call defines it, and none ran)"
            case "group_duration": hint = " (the first netstack.metrics.group call defines it, and none ran)"
            default: hint = ""
            }
            return ThresholdResult(threshold: self, actual: nil, passed: false, note: "no metric '\(metric)' was defined" + hint)
        }
        let v = set.aggregate(metric, tags: tags) ?? MetricValue(kind: def.kind)
        guard let actual = Threshold.value(aggregate ?? Threshold.naturalAggregate(def.kind), of: v, kind: def.kind, duration: duration) else {
            return ThresholdResult(threshold: self, actual: nil, passed: false, note: "'\(expression)' does not apply to a \(def.kind.rawValue)")
        }
        let passed: Bool
        switch op {
        case .lt: passed = actual < bound
        case .le: passed = actual <= bound
        case .gt: passed = actual > bound
        case .ge: passed = actual >= bound
        case .eq, .eq3: passed = actual == bound
        case .ne: passed = actual != bound
        }
        return ThresholdResult(threshold: self, actual: actual, passed: passed, note: nil)
    }
}

public struct ThresholdResult: Sendable {
    public let threshold: Threshold
    /// The aggregate's value (nil when it could not be computed: see `note`).
    public let actual: Double?
    public let passed: Bool
    public let note: String?
}

extension Threshold {
    /// From the script's `options.thresholds`: `{ metric = {"p(95)<500", {threshold = "rate<0.01",
    /// abortOnFail = true, delayAbortEval = "10s"}} }` (a single string is also accepted).
    static func list(_ value: OptionValue) throws -> [Threshold] {
        guard case .table(let byMetric) = value else {
            if case .list(let l) = value, l.isEmpty { return [] }
            throw LoadOptionError("thresholds: expected a table of metric = {expressions}")
        }
        var out: [Threshold] = []
        for (target, v) in byMetric.sorted(by: { $0.key < $1.key }) {
            let items: [OptionValue]
            switch v {
            case .string: items = [v]
            case .list(let l): items = l
            default: throw LoadOptionError("thresholds.\(target): expected a list of expressions")
            }
            for item in items {
                switch item {
                case .string(let e): out.append(try Threshold(target: target, expression: e))
                case .table:
                    var r = try OptionReader(path: "thresholds.\(target)", item)
                    guard let e = try r.string("threshold") else { throw LoadOptionError("thresholds.\(target): missing 'threshold'") }
                    var t = try Threshold(target: target, expression: e)
                    if case .bool(let b)? = r.value("abortOnFail") { t.abortOnFail = b }
                    t.delayAbortEval = try r.duration("delayAbortEval") ?? .zero
                    try r.rejectUnknown()
                    out.append(t)
                default: throw LoadOptionError("thresholds.\(target): expected strings or {threshold = ...} tables")
                }
            }
        }
        return out
    }
}

extension Threshold {
    /// `options.thresholds` parsing, for tests.
    public static func listForTesting(_ value: OptionValue) throws -> [Threshold] { try list(value) }
}
