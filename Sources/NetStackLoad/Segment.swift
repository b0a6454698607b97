/// Which share of a run this process runs: segment `index` of `count` (1-based). Work is dealt
/// round-robin: of every scenario's VU slots numbered 0, 1, 2, ..., slot k belongs to segment
/// (k mod count) + 1. Iterations and arrivals follow the VUs: shared iteration j and arrival j
/// belong to the segment of VU slot (j mod VUs). So the union of all segments is exactly the
/// unsegmented run, no two segments share a VU id, an iteration or an arrival, and a segment
/// without VUs gets no work.
public struct Segment: Equatable, Hashable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public static let whole = Segment(uncheckedIndex: 1, count: 1)
    public static let maxCount = 100_000

    init(uncheckedIndex: Int, count: Int) {
        self.index = uncheckedIndex
        self.count = count
    }

    public init(index: Int, count: Int) throws {
        guard count >= 1, count <= Segment.maxCount else { throw LoadOptionError("--segment: the count must be from 1 to \(Segment.maxCount), got \(count)") }
        guard index >= 1, index <= count else { throw LoadOptionError("--segment: the index must be from 1 to \(count), got \(index)") }
        self.init(uncheckedIndex: index, count: count)
    }

    /// `i/n`; `auto` (Slurm's array variables); `auto/n` (Kubernetes' JOB_COMPLETION_INDEX, 0-based,
    /// with n segments; Slurm's variables when those are set).
    public init(parsing text: String, environment: [String: String]) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts[0] == "auto" {
            guard parts.count <= 2 else { throw LoadOptionError("--segment: '\(text)' is not i/n, auto or auto/n") }
            var given: Int?
            if parts.count == 2 {
                guard let n = Int(parts[1]) else { throw LoadOptionError("--segment: '\(parts[1])' is not a segment count") }
                given = n
            }
            self = try Segment.fromEnvironment(environment, count: given)
            return
        }
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw LoadOptionError("--segment: '\(text)' is not i/n (e.g. 2/4), auto or auto/n")
        }
        try self.init(index: i, count: n)
    }

    /// Slurm job arrays (SLURM_ARRAY_TASK_ID from SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT),
    /// else a Kubernetes Indexed Job (JOB_COMPLETION_INDEX from 0, with `count` given).
    public static func fromEnvironment(_ env: [String: String], count: Int?) throws -> Segment {
        if let id = env["SLURM_ARRAY_TASK_ID"].flatMap({ Int($0) }) {
            guard let n = env["SLURM_ARRAY_TASK_COUNT"].flatMap({ Int($0) }) else {
                throw LoadOptionError("--segment auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")
            }
            let min = env["SLURM_ARRAY_TASK_MIN"].flatMap { Int($0) } ?? 0
            if let c = count, c != n { throw LoadOptionError("--segment auto/\(c): the Slurm array has \(n) tasks") }
            // Arrays with a step (--array=0-9:2) are not contiguous: the index would skip numbers.
            if let step = env["SLURM_ARRAY_TASK_STEP"].flatMap({ Int($0) }), step != 1 {
                throw LoadOptionError("--segment auto: Slurm arrays with a step (\(step)) are not supported; use --array=1-N")
            }
            return try Segment(index: id - min + 1, count: n)
        }
        if let k = env["JOB_COMPLETION_INDEX"].flatMap({ Int($0) }) {
            guard let n = count else { throw LoadOptionError("--segment auto: JOB_COMPLETION_INDEX is set; give the count as auto/N (the Job's completions)") }
            return try Segment(index: k + 1, count: n)
        }
        throw LoadOptionError("--segment auto: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set")
    }

    /// How many of the numbers 0..<total belong to this segment.
    public func share(of total: Int) -> Int {
        guard total > 0 else { return 0 }
        return total / count + (total % count > index - 1 ? 1 : 0)
    }

    /// Whether number k (0-based) belongs to this segment.
    public func owns(_ k: Int) -> Bool { k % count == index - 1 }

    /// The numbers in 0..<total that belong to this segment, in order.
    public func members(of total: Int) -> StrideTo<Int> { stride(from: index - 1, to: Swift.max(total, index - 1), by: count) }

    public var description: String { "\(index)/\(count)" }
}
