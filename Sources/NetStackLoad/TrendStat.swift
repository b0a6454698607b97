/// One column of a trend's line in the summary (k6's `summaryTrendStats`): `avg`, `min`, `med`,
/// `max`, `count`, or a percentile `p(N)` with N from 0 to 100 (`p(99.9)`).
public enum TrendStat: Equatable, Sendable {
    case avg, min, med, max, count
    case percentile(Double)

    /// The summary's columns unless chosen: avg, min, med, p90, p95, p99, max.
    public static let defaults: [TrendStat] = [.avg, .min, .med, .percentile(90), .percentile(95), .percentile(99), .max]

    public init(parsing text: String) throws {
        switch text {
        case "avg": self = .avg
        case "min": self = .min
        case "med": self = .med
        case "max": self = .max
        case "count": self = .count
        default:
            guard text.hasPrefix("p("), text.hasSuffix(")"), let p = Double(text.dropFirst(2).dropLast()),
                  p.isFinite, p >= 0, p <= 100, !text.contains(" ") else {
                throw LoadOptionError("trend stat '\(text)': one of avg, min, med, max, count or p(N) with N from 0 to 100")
            }
            self = .percentile(p)
        }
    }

    /// A comma-separated list, as `--summary-trend-stats` takes it: `avg,p(95),p(99.9)`.
    public static func list(_ text: String) throws -> [TrendStat] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
        guard !items.isEmpty, !items.contains(where: \.isEmpty) else {
            throw LoadOptionError("trend stats: a comma-separated list such as avg,p(95),max")
        }
        return try items.map { try TrendStat(parsing: $0) }
    }

    /// How the summary labels it: `p90`, `p99.9`.
    public var label: String {
        switch self {
        case .avg: return "avg"
        case .min: return "min"
        case .med: return "med"
        case .max: return "max"
        case .count: return "count"
        case .percentile(let p): return "p" + (p == p.rounded() ? String(Int(p)) : String(p))
        }
    }

    public func value(of v: MetricValue) -> Double {
        switch self {
        case .avg: return v.value
        case .min: return v.minimum
        case .med: return v.percentile(50)
        case .max: return v.maximum
        case .count: return Double(v.count)
        case .percentile(let p): return v.percentile(p)
        }
    }
}
