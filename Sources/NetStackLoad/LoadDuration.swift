import Foundation

/// A duration written as k6 writes them: `30s`, `5m`, `1h30m`, `250ms`, `1.5s`, `0` (units
/// `d`, `h`, `m`, `s`, `ms`, and Go's `us` / `µs` and `ns`, which k6 takes too; parts in any
/// order, summed). Kept in nanoseconds; at most 100 days, so
/// sums and rates never overflow.
public struct LoadDuration: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let nanoseconds: Int64

    public static let zero = LoadDuration(nanoseconds: 0)
    /// The largest duration accepted anywhere (100 days).
    public static let max = LoadDuration(nanoseconds: 100 * 86_400 * 1_000_000_000)

    public init(nanoseconds: Int64) {
        self.nanoseconds = Swift.min(Swift.max(nanoseconds, 0), 100 * 86_400 * 1_000_000_000)
    }

    public static func seconds(_ s: Double) -> LoadDuration { LoadDuration(nanoseconds: Int64((s * 1e9).rounded())) }
    public static func milliseconds(_ ms: Int64) -> LoadDuration { LoadDuration(nanoseconds: ms * 1_000_000) }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public static func < (a: LoadDuration, b: LoadDuration) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: LoadDuration, b: LoadDuration) -> LoadDuration { LoadDuration(nanoseconds: a.nanoseconds + b.nanoseconds) }

    /// Parses `text`; the error says what was expected.
    public init(parsing text: String) throws {
        let s = text.trimmingCharacters(in: .whitespaces)
        if s == "0" { self = .zero; return }
        var total = 0.0
        var rest = Substring(s)
        guard !rest.isEmpty else { throw LoadOptionError("empty duration (expected e.g. 30s, 5m, 1h30m, 250ms)") }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number), value.isFinite else {
                throw LoadOptionError("'\(text)' is not a duration (expected e.g. 30s, 5m, 1h30m, 250ms)")
            }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3  // U+00B5 and U+03BC, as Go takes both
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            case "d": scale = 86400e9
            case "":
                throw LoadOptionError("'\(text)': \(number) has no unit (d, h, m, s, ms, us, ns)")
            default:
                throw LoadOptionError("'\(text)': '\(unit)' is not a duration unit (d, h, m, s, ms, us, ns)")
            }
            total += value * scale
        }
        guard total <= Double(LoadDuration.max.nanoseconds) else { throw LoadOptionError("'\(text)' is longer than 100 days") }
        self.init(nanoseconds: Int64(total.rounded()))
    }

    /// `1m30s`, `250ms`, `0s`.
    public var description: String {
        var ns = nanoseconds
        if ns == 0 { return "0s" }
        if ns < 1_000_000_000 { return ns % 1_000_000 == 0 ? "\(ns / 1_000_000)ms" : String(format: "%.3fms", Double(ns) / 1e6) }
        var parts = ""
        let h = ns / 3_600_000_000_000
        if h > 0 { parts += "\(h)h"; ns -= h * 3_600_000_000_000 }
        let m = ns / 60_000_000_000
        if m > 0 { parts += "\(m)m"; ns -= m * 60_000_000_000 }
        if ns > 0 {
            let s = Double(ns) / 1e9
            parts += s == s.rounded() ? "\(Int(s))s" : String(format: "%.3gs", s)
        }
        return parts
    }
}

/// A bad load option (from the command line or the script's `options` table): the message
/// names the option and what was expected.
public struct LoadOptionError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
