#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The engine's tuning variables in the environment: `NETSTACK_MAX_OPENING` (connections of a
/// loop opening at once) and `NETSTACK_BUSY_POLL_US` (busy polling after a write). A value that
/// is not a whole number ≥ 0 is not used: the default is.
public enum TuningEnvironment {
    /// The variables and their defaults, as the docs name them.
    static let variables: [(name: String, defaultText: String)] = [
        ("NETSTACK_MAX_OPENING", String(LoopConnectWindow.defaultLimit)),
        ("NETSTACK_BUSY_POLL_US", "50"),
    ]

    /// The whole number ≥ 0 that `name` holds; nil when it is unset or holds something else.
    static func wholeNumber(_ name: String) -> Int? {
        guard let text = getenv(name).map({ String(cString: $0) }), let n = Int(text), n >= 0 else { return nil }
        return n
    }

    /// One line for each variable that is set to something other than a whole number ≥ 0,
    /// saying that its default is used instead.
    public static func problems() -> [String] {
        variables.compactMap { v in
            guard let raw = getenv(v.name).map({ String(cString: $0) }), wholeNumber(v.name) == nil else { return nil }
            return "\(v.name)=\(raw.debugDescription) is not a whole number >= 0; the default \(v.defaultText) is used"
        }
    }
}
