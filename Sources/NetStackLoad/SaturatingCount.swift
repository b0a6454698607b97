extension Double {
    /// A metric's sum as a count (statuses, progress lines, the summary's ✓/✗): NaN and negative
    /// values are 0, and values past `Int.max` are `Int.max`, where `Int(_:)` would trap. A
    /// script may add up to 1e308 to any counter, built-in names included, and sums of finite
    /// values can reach infinity.
    var saturatingCount: Int {
        guard self > 0 else { return 0 }
        return self < 9.2e18 ? Int(self) : Int.max
    }
}

extension Int {
    /// `self + other`, or `Int.max` where that would overflow (both are counts, so ≥ 0).
    func saturatingAdd(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? Int.max : sum
    }
}
