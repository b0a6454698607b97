import Foundation

/// `--summary-export FILE`: the run's metrics with their histograms, so that summaries of
/// segments can be merged later (`netstack merge`), plus what identifies the run.
public struct SummaryExport: Codable, Equatable, Sendable {
    public static let currentVersion = 1
    public var version = SummaryExport.currentVersion
    /// Identifies one run across its segments (`--run-id`, else made up at the start).
    public var runID: String
    /// The script's file name and the SHA-256 of its bytes (segments of one run ran the same script).
    public var script: String
    public var scriptSHA256: String
    public var segment: String
    /// Wall-clock start (seconds since 1970) and duration (seconds).
    public var startedAt: Double
    public var duration: Double
    public var status: Int32
    /// Seconds the segment started after --start-at (absent: on time, or no --start-at).
    public var lateBy: Double?
    public var thresholds: [ExportedThreshold]
    public var metrics: MetricSet

    public struct ExportedThreshold: Codable, Equatable, Sendable {
        public var target: String
        public var expression: String
        public var abortOnFail: Bool
        public var passed: Bool
        public var actual: Double?
    }

    public init(runID: String, script: String, scriptSHA256: String, segment: Segment, startedAt: Double, duration: Double,
                status: Int32, thresholds: [ThresholdResult], metrics: MetricSet) {
        self.runID = runID
        self.script = script
        self.scriptSHA256 = scriptSHA256
        self.segment = segment.description
        self.startedAt = startedAt
        self.duration = duration
        self.status = status
        self.thresholds = thresholds.map {
            ExportedThreshold(target: $0.threshold.target, expression: $0.threshold.expression, abortOnFail: $0.threshold.abortOnFail,
                              passed: $0.passed, actual: $0.actual.flatMap { $0.isFinite ? $0 : nil })
        }
        self.metrics = metrics
    }

    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(self)
    }

    /// Decodes an export; its trend histograms are charged to `budget` when one is given.
    /// Decoding checks the histograms' entries; `check()` checks the rest.
    public static func decode(_ data: Data, budget: HistogramBudget? = nil) throws -> SummaryExport {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        if let budget { d.userInfo[HistogramBudget.key] = budget }
        return try d.decode(SummaryExport.self, from: data)
    }

    /// A decoding error in words: where in the file, and what was wrong.
    public static func describe(_ error: Error) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().drop(while: { $0 == "." }).description
        }
        switch error as? DecodingError {
        case .dataCorrupted(let c)?:
            return c.codingPath.isEmpty ? "not JSON, or a number out of range: \(c.underlyingError.map { "\($0)" } ?? c.debugDescription)"
                : "\(path(c.codingPath)): \(c.debugDescription)"
        case .keyNotFound(let key, let c)?:
            return "\(path(c.codingPath + [key])) is missing"
        case .typeMismatch(let type, let c)?:
            return "\(path(c.codingPath)) is not \(type == Double.self || type == UInt64.self || type == Int32.self || type == Int64.self ? "a number that fits (\(type))" : "a \(type)")"
        case .valueNotFound(let type, let c)?:
            return "\(path(c.codingPath)) is null, not a \(type)"
        default:
            return "\(error)"
        }
    }
}
