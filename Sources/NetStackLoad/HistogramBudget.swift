import Foundation

/// Memory that decoding trend histograms may take. `netstack merge` reads files written on other
/// machines: a file of many series, each naming a large value, would otherwise make it allocate
/// histograms without bound (each covers its largest value, 16 KiB or more). One budget is
/// shared by every file of a merge; decoding without one (in the decoder's `userInfo`) has no limit.
public final class HistogramBudget: @unchecked Sendable {
    public static let key = CodingUserInfoKey(rawValue: "netstack.histogramBudget")!
    /// `netstack merge`'s budget: 2 GiB of histogram counts.
    public static let mergeLimit = 2 << 30

    public let limit: Int
    public private(set) var used = 0

    public init(limit: Int) { self.limit = limit }

    /// Takes `bytes` from the budget; false (and nothing taken) when they do not fit.
    func charge(_ bytes: Int) -> Bool {
        guard bytes <= limit - used else { return false }
        used += bytes
        return true
    }
}
