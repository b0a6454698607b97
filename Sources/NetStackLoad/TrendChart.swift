import Foundation
/// A trend's distribution as a terminal histogram for the end-of-run summary: `rows` buckets
/// between the smallest and the largest sample (logarithmic when they are a factor of 8 or more
/// apart, else even), each a bar of up to `barWidth` cells scaled to the fullest bucket, with its
/// count and share. Counts come from the trend's HDR histogram (3 significant digits).
///
///       1.02ms … 2.05ms │████████████████████▌ 1,204 (60.2%)
public enum TrendChart {
    public static func render(_ v: MetricValue, unit: MetricUnit, rows: Int = 8, barWidth: Int = 32, indent: String = "      ") -> [String] {
        guard let h = v.histogram, v.count > 0, rows > 0 else { return [] }
        let lo = v.minimum, hi = v.maximum
        let scale = MetricValue.trendScale
        guard hi > lo else {
            return [indent + "all \(v.count) samples at " + SummaryTable.format(lo, unit)]
        }
        // No more rows than the histogram has buckets between the extremes (its three digits:
        // samples of 1.00315s and 1.00328s share one bucket, and rows finer than that would place
        // them by the bucket, not by their values).
        let top = UInt64((hi * scale).rounded())
        // The last row ends at the end of the top sample's bucket.
        let end = h.highestEquivalentForValue(top)
        let buckets = (end - h.lowestEquivalentForValue(UInt64((lo * scale).rounded())) + 1) / Swift.max(1, h.sizeOfEquivalentRangeForValue(top))
        let rows = Swift.min(rows, Int(Swift.min(buckets, UInt64(Int.max))))
        guard rows > 1 else {
            let edges = distinctEdgeTexts([lo, hi], unit: unit)
            return [indent + "all \(v.count) samples from \(edges[0]) to \(edges[1])"]
        }
        let logarithmic = lo > 0 && hi / lo >= 8
        let edges: [Double] = (0...rows).map { i in
            let f = Double(i) / Double(rows)
            return logarithmic ? lo * pow(hi / lo, f) : lo + (hi - lo) * f
        }
        // Rows are half-open [edge, next edge) (the last one closed), with each inner edge moved to
        // the start of the HDR bucket holding it, so that every sample is counted exactly once.
        var starts: [UInt64] = [0]
        for i in 1..<rows {
            starts.append(Swift.max(starts[i - 1], h.lowestEquivalentForValue(UInt64((edges[i] * scale).rounded()))))
        }
        var counts: [UInt64] = []
        for i in 0..<rows {
            let upper = i == rows - 1 ? end : starts[i + 1]
            counts.append(i == rows - 1 ? h.count(within: starts[i]...upper) : (upper > starts[i] ? h.count(within: starts[i]...(upper - 1)) : 0))
        }
        let fullest = max(counts.max() ?? 1, 1)
        let total = max(v.count, 1)
        let edgeTexts = distinctEdgeTexts(edges, unit: unit)
        let labels = (0..<rows).map { edgeTexts[$0] + " … " + edgeTexts[$0 + 1] }
        let labelWidth = labels.map(\.count).max() ?? 0
        return (0..<rows).map { i in
            let cells = Double(counts[i]) / Double(fullest) * Double(barWidth)
            let label = String(repeating: " ", count: labelWidth - labels[i].count) + labels[i]
            let share = String(format: "%.1f%%", Double(counts[i]) / Double(total) * 100)
            return indent + label + " │" + bar(cells) + " \(grouped(counts[i])) (\(share))"
        }
    }

    /// The edges as the summary writes values, or, when two neighbours would read the same (samples
    /// within a narrow range: 1.0004s and 1.0009s are both "1s" there), with as many significant
    /// digits as it takes to tell every neighbour apart (at most 9).
    static func distinctEdgeTexts(_ edges: [Double], unit: MetricUnit) -> [String] {
        func distinct(_ texts: [String]) -> Bool { zip(texts, texts.dropFirst()).allSatisfy { $0 != $1 } }
        let usual = edges.map { SummaryTable.format($0, unit) }
        if distinct(usual) { return usual }
        var texts = usual
        for significant in 4...9 {
            texts = edges.map { SummaryTable.format($0, unit, significant: significant) }
            if distinct(texts) { break }
        }
        return texts
    }

    /// Whole blocks, then one of ▏▎▍▌▋▊▉ for the rest (eighths).
    static func bar(_ cells: Double) -> String {
        let eighths = Int((cells * 8).rounded())
        let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"][eighths % 8]
        return String(repeating: "█", count: eighths / 8) + partial
    }

    /// 1234567 → "1,234,567".
    static func grouped(_ n: UInt64) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(d)
        }
        return out
    }
}
