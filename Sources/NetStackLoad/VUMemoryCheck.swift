import Foundation

/// Whether this machine can hold a plan's VUs at all. A VU is a Lua VM of its own: a plan of
/// millions of them would allocate for minutes and then exhaust the machine's memory. Such a
/// plan is refused before any VU starts, with the numbers and what to do instead.
public enum VUMemoryCheck {
    /// The least a VU takes: its VM and one idle connection (30.9 KiB measured,
    /// docs/performance.md). Scripts that keep data take more; this is a floor, not an estimate.
    public static let bytesPerVU = 32 * 1024

    /// Why `vus` VUs cannot fit in `available` bytes, or nil when they can.
    public static func problem(vus: Int, available: UInt64) -> String? {
        let (need, overflow) = UInt64(max(0, vus)).multipliedReportingOverflow(by: UInt64(bytesPerVU))
        guard overflow || need > available else { return nil }
        func gib(_ bytes: UInt64) -> String { String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
        let needText = overflow ? "more than 16 EiB" : "at least \(gib(need))"
        return "\(vus) VUs need \(needText) (\(bytesPerVU / 1024) KiB each at least: a VM and an idle connection), "
            + "more than the \(gib(available)) this process may use: run fewer VUs, or split the run over machines "
            + "with --segment (docs/distributed.md)"
    }

    /// The memory this process may use: the machine's, or the lowest limit set on it when that is
    /// lower: its cgroup's (a container, a Kubernetes pod, a Slurm job) or its resource limits
    /// on address space and data (`ulimit -v`, `ulimit -d`, `prlimit --as`, `--data`).
    public static func availableBytes() -> UInt64 {
        var available = ProcessInfo.processInfo.physicalMemory
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let limit = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 {
                available = min(available, limit)
            }
        }
        for resource in [RLIMIT_AS, RLIMIT_DATA] {
            var limit = rlimit()
            if getrlimit(Int32(resource.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max, limit.rlim_cur > 0 {
                available = min(available, UInt64(limit.rlim_cur))
            }
        }
        return available
    }
}

extension LoadPlan {
    /// The VUs this process may create (its segment's share of every scenario's maximum).
    public var vusInThisProcess: Int {
        scenarios.reduce(0) { $0.saturatingAdd(segment.share(of: $1.executor.maxVUs)) }
    }
}
