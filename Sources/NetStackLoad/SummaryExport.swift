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

    public static func decode(_ data: Data) throws -> SummaryExport {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try d.decode(SummaryExport.self, from: data)
    }
}
