/// What a Lua state may allocate when `--memory-limit` is not given. A script that keeps what it
/// receives (or loops building a table) then ends with the script error "not enough memory"
/// instead of growing until the kernel's OOM killer ends the process, and perhaps others with it.
/// Node's heap limit is the same idea.
public enum DefaultMemoryLimit {
    /// Said with the error when a script's state hits `script(available:)`.
    public static let scriptOrigin = "the default: half of the memory this process may use; --memory-limit sets another, 0 none"
    /// Said with the error when the state of a command without `--memory-limit` (`audit`,
    /// `plugins list`, `info`, `check`) hits `script(available:)`.
    public static let commandOrigin = "the default: half of the memory this process may use"
    /// Said with the error when a VU hits `perVU(vus:available:)`.
    public static let vuOrigin = "the default for each VU: an equal share of half of the memory this process may use, at least 32 MiB; --memory-limit sets another, 0 none"

    /// Said with the error when the VUs of a load run together hit `allVUs(available:)`.
    public static let allVUsOrigin = "the default for all VUs together: half of the memory this process may use; --memory-limit sets a limit for each VU instead, 0 none"

    /// A load run's VUs get at least this much each, whatever their number.
    public static let vuFloor = 32 << 20

    /// One script's state (and a load run's setup and teardown): half of what the process may use.
    public static func script(available: UInt64) -> Int {
        Int(clamping: available / 2)
    }

    /// Each of `vus` VUs: an equal share of half of what the process may use, so that VUs that
    /// all keep data run out of their own memory before the machine does; at least `vuFloor`
    /// (the VUs together are bounded by `allVUs(available:)` whatever their number), and never
    /// more than `script(available:)`.
    public static func perVU(vus: Int, available: UInt64) -> Int {
        let half = script(available: available)
        guard vus > 1 else { return half }
        return min(half, max(vuFloor, half / vus))
    }

    /// All the Lua states of a load run together (VUs, setup and teardown), shared as a
    /// `LuaMemoryPool`: half of what the process may use, as one script gets. Without it,
    /// 50,000 VUs of 32 MiB each could take 1.6 TB.
    public static func allVUs(available: UInt64) -> Int {
        script(available: available)
    }
}
