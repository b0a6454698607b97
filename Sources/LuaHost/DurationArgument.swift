import NIOCore

/// Durations that scripts give in milliseconds (timers, connect options): finite, not negative,
/// and at most `maxMilliseconds`, about 24.8 days (the largest delay browsers' timers take), so
/// that no value overflows when it becomes nanoseconds.
enum DurationArgument {
    static let maxMilliseconds: Double = 2_147_483_647

    /// The duration, or nil when `ms` is out of range (NaN, infinite, negative or too large).
    static func milliseconds(_ ms: Double) -> TimeAmount? {
        guard ms.isFinite, ms >= 0, ms <= maxMilliseconds else { return nil }
        return .nanoseconds(Int64((ms * 1_000_000).rounded()))
    }

    /// What the argument error says is expected.
    static let expected = "milliseconds from 0 to 2147483647"
}
