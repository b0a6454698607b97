import Histogram

/// The four kinds of metric (k6's): a counter sums, a gauge keeps the latest value, a rate
/// counts the share of true samples, a trend keeps the distribution.
public enum MetricKind: String, Codable, Sendable, CaseIterable {
    case counter, gauge, rate, trend
}

/// What a metric's numbers are, for display: time in milliseconds, bytes, or plain.
public enum MetricUnit: String, Codable, Sendable {
    case none, milliseconds = "ms", bytes
}

/// The mergeable state of one series (a metric with one set of tags). Merging two values gives
/// the value of the union of their samples: counts and sums add, extremes combine, histograms
/// add bucket by bucket (so percentiles of a merge are those of all samples, within the
/// histogram's precision: 3 significant digits).
public struct MetricValue: Equatable, Sendable {
    public private(set) var kind: MetricKind
    /// Counter: the sum. Gauge: the latest value. Rate: the true samples. Trend: the sum.
    public private(set) var sum: Double = 0
    /// Samples (counter adds, gauge sets, rate samples, trend samples).
    public private(set) var count: UInt64 = 0
    public private(set) var min: Double = .infinity
    public private(set) var max: Double = -.infinity
    /// Gauge: when the latest value was set (nanoseconds since 1970), so merges keep the newest.
    public private(set) var setAt: Int64 = 0
    /// Trend: samples × 1000 (three decimals kept), 3 significant digits; nil until the first
    /// sample (a histogram's counts take about 184 KiB, and a loop's interval starts every
    /// series afresh: only series that get samples pay for one).
    public private(set) var histogram: Histogram<UInt64>?

    /// Trend samples are recorded at a resolution of 1/1000 and must be 0 ... 1e12.
    public static let trendScale = 1000.0
    public static let trendLimit = 1e12

    public init(kind: MetricKind) {
        self.kind = kind
    }

    /// A gauge with the given state (additive merges).
    init(gauge value: Double, min: Double, max: Double, count: UInt64, at time: Int64) {
        self.init(kind: .gauge)
        sum = value
        self.min = min
        self.max = max
        self.count = count
        setAt = time
    }

    /// Trend histograms start out covering samples up to an hour (of milliseconds; about 184 KiB
    /// of counts each) and grow beyond that on their own. Growing is the library's slow path (its
    /// resize runs unspecialized generic code, about 700 instructions per counter: 21 million
    /// instructions, several milliseconds, each time a series first saw a larger value); sized
    /// once here, the counts are allocated in one pass instead.
    static let initialTrendRange: UInt64 = 3_600_000 * UInt64(trendScale)

    static func makeHistogram() -> Histogram<UInt64> {
        var h = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: initialTrendRange, numberOfSignificantValueDigits: .three)
        h.autoResize = true
        return h
    }

    /// Counter: add `v` (≥ 0). Gauge: set `v`. Rate: `v` ≠ 0 is a true sample. Trend: a sample.
    /// Out-of-range values are the caller's to refuse (see `MetricRegistry.check`).
    public mutating func add(_ v: Double, at time: Int64 = 0) {
        count &+= 1
        switch kind {
        case .counter:
            sum += v
        case .gauge:
            if time >= setAt { sum = v; setAt = time }
        case .rate:
            if v != 0 { sum += 1 }
            return
        case .trend:
            sum += v
            if histogram == nil { histogram = MetricValue.makeHistogram() }
            _ = histogram!.record(UInt64((v * MetricValue.trendScale).rounded()))
        }
        if v < min { min = v }
        if v > max { max = v }
    }

    /// Adds `other`'s samples (same kind).
    public mutating func merge(_ other: MetricValue) {
        precondition(other.kind == kind)
        count &+= other.count
        switch kind {
        case .counter, .rate, .trend: sum += other.sum
        case .gauge: if other.count > 0 && (count == other.count || other.setAt >= setAt) { sum = other.sum; setAt = other.setAt }
        }
        if other.min < min { min = other.min }
        if other.max > max { max = other.max }
        if kind == .trend, let theirs = other.histogram {
            // Shared until written (copy on write): the first merge into an empty value copies nothing.
            if histogram == nil { histogram = theirs } else { histogram!.add(theirs) }
        }
    }

    // MARK: Aggregates

    /// Counter: the sum; gauge: the value; rate: the share of true samples (0 with none);
    /// trend: the mean.
    public var value: Double {
        switch kind {
        case .counter, .gauge: return sum
        case .rate: return count == 0 ? 0 : sum / Double(count)
        case .trend: return count == 0 ? 0 : sum / Double(count)
        }
    }

    /// Trend percentile `p` (0 ... 100), from the histogram: within 0.1 % of the true value.
    public func percentile(_ p: Double) -> Double {
        guard let h = histogram, count > 0 else { return 0 }
        if p >= 100 { return max }
        if p <= 0 { return min }
        // Never report outside the exact extremes (the histogram's buckets have a width).
        let v = Double(h.valueAtPercentile(p)) / MetricValue.trendScale
        return Swift.min(Swift.max(v, min), max)
    }

    public var minimum: Double { count == 0 ? 0 : min }
    public var maximum: Double { count == 0 ? 0 : max }
}

extension MetricValue: Codable {
    enum CodingKeys: String, CodingKey { case kind, sum, count, min, max, setAt, histogram }

    /// A trend's histogram is written sparse: [[value, count], ...] of its non-empty buckets
    /// (scaled values), which restores the same buckets.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(sum, forKey: .sum)
        try c.encode(count, forKey: .count)
        if count > 0 && kind != .rate {
            try c.encode(min, forKey: .min)
            try c.encode(max, forKey: .max)
        }
        if kind == .gauge { try c.encode(setAt, forKey: .setAt) }
        if let h = histogram {
            try c.encode(h.recordedValues().map { [$0.value, $0.count] }, forKey: .histogram)
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.kind = try c.decode(MetricKind.self, forKey: .kind)
        sum = try c.decode(Double.self, forKey: .sum)
        count = try c.decode(UInt64.self, forKey: .count)
        min = try c.decodeIfPresent(Double.self, forKey: .min) ?? .infinity
        max = try c.decodeIfPresent(Double.self, forKey: .max) ?? -.infinity
        setAt = try c.decodeIfPresent(Int64.self, forKey: .setAt) ?? 0
        if kind == .trend {
            let pairs = try c.decodeIfPresent([[UInt64]].self, forKey: .histogram) ?? []
            func corrupt(_ why: String) -> DecodingError {
                DecodingError.dataCorruptedError(forKey: .histogram, in: c, debugDescription: why)
            }
            // Checked before anything is recorded: the file may come from another machine.
            let limit = UInt64(MetricValue.trendLimit * MetricValue.trendScale)
            var total: UInt64 = 0, largest: UInt64 = 0
            for p in pairs {
                guard p.count == 2 else { throw corrupt("a histogram entry is [value, count]") }
                guard p[0] <= limit else { throw corrupt("a histogram value above \(limit) (\(MetricValue.trendLimit) at a resolution of 1/1000)") }
                guard p[1] > 0 else { throw corrupt("a histogram entry with the count 0") }
                let (sum, overflow) = total.addingReportingOverflow(p[1])
                guard !overflow else { throw corrupt("the histogram's counts add up past 2^64") }
                total = sum
                largest = Swift.max(largest, p[0])
            }
            guard total == count else { throw corrupt("the histogram holds \(total) samples, count says \(count)") }
            // No samples, no histogram (as a value that never had one).
            if pairs.isEmpty { return }
            // Sized for its largest value, not for an hour: a merge may read thousands of series.
            var h = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: Swift.max(2, largest), numberOfSignificantValueDigits: .three)
            h.autoResize = true
            if let budget = decoder.userInfo[HistogramBudget.key] as? HistogramBudget, !budget.charge(h.estimatedFootprintInBytes) {
                throw corrupt("the trend histograms read so far need more than \(budget.limit >> 20) MiB")
            }
            for p in pairs { _ = h.record(p[0], count: p[1]) }
            histogram = h
        }
    }
}
