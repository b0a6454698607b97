/// One stage of a ramp: over `duration`, move linearly to `target` (VUs, or iterations per time unit).
public struct Stage: Equatable, Sendable {
    public var duration: LoadDuration
    public var target: Int
    public init(duration: LoadDuration, target: Int) {
        self.duration = duration
        self.target = target
    }
}

/// How a scenario schedules iterations. The names (`constant-vus`, ...) are k6's.
public enum Executor: Equatable, Sendable {
    /// `vus` VUs loop over iterations for `duration`.
    case constantVUs(vus: Int, duration: LoadDuration)
    /// `iterations` in all, taken by `vus` VUs as each becomes free; `maxDuration` at most.
    case sharedIterations(vus: Int, iterations: Int, maxDuration: LoadDuration)
    /// Each of `vus` VUs runs `iterations`; `maxDuration` at most.
    case perVUIterations(vus: Int, iterations: Int, maxDuration: LoadDuration)
    /// The VU count moves linearly through `stages` from `startVUs`; VUs taken off finish their
    /// iteration within `gracefulRampDown`.
    case rampingVUs(startVUs: Int, stages: [Stage], gracefulRampDown: LoadDuration)
    /// `rate` iterations started per `timeUnit` for `duration`, whatever the VUs' speed (an open model).
    case constantArrivalRate(rate: Int, timeUnit: LoadDuration, duration: LoadDuration, preAllocatedVUs: Int, maxVUs: Int)
    /// The start rate moves linearly through `stages` (targets are iterations per `timeUnit`).
    case rampingArrivalRate(startRate: Int, timeUnit: LoadDuration, stages: [Stage], preAllocatedVUs: Int, maxVUs: Int)

    public var name: String {
        switch self {
        case .constantVUs: return "constant-vus"
        case .sharedIterations: return "shared-iterations"
        case .perVUIterations: return "per-vu-iterations"
        case .rampingVUs: return "ramping-vus"
        case .constantArrivalRate: return "constant-arrival-rate"
        case .rampingArrivalRate: return "ramping-arrival-rate"
        }
    }

    public static let names = ["constant-vus", "shared-iterations", "per-vu-iterations", "ramping-vus", "constant-arrival-rate", "ramping-arrival-rate"]

    /// The most VUs the scenario can use at once (its block of VU ids).
    public var maxVUs: Int {
        switch self {
        case .constantVUs(let v, _), .sharedIterations(let v, _, _), .perVUIterations(let v, _, _): return v
        case .rampingVUs(let start, let stages, _): return stages.map(\.target).reduce(start, Swift.max)
        case .constantArrivalRate(_, _, _, let pre, let max), .rampingArrivalRate(_, _, _, let pre, let max): return Swift.max(pre, max)
        }
    }

    /// How long the schedule itself runs (without the graceful stop); for iteration executors
    /// their maxDuration.
    public var duration: LoadDuration {
        switch self {
        case .constantVUs(_, let d), .constantArrivalRate(_, _, let d, _, _): return d
        case .sharedIterations(_, _, let d), .perVUIterations(_, _, let d): return d
        case .rampingVUs(_, let stages, _), .rampingArrivalRate(_, _, let stages, _, _):
            return stages.reduce(.zero) { $0 + $1.duration }
        }
    }
}

/// A named executor with its entry point and timing.
public struct Scenario: Equatable, Sendable {
    public var name: String
    public var executor: Executor
    /// The global function each iteration calls (nil: the script's default entry point).
    public var exec: String?
    /// When the scenario starts, from the start of the run.
    public var startTime: LoadDuration
    /// How long running iterations may go on after the schedule ends before their clients are
    /// closed (1001) and they count as interrupted.
    public var gracefulStop: LoadDuration
    /// Tags added to every sample of the scenario (besides `scenario=NAME`).
    public var tags: [String: String]
    /// k6's scenario `env`: what `os.getenv` returns for these names in the scenario's VUs.
    public var env: [String: String] = [:]

    public static let defaultGracefulStop = LoadDuration.milliseconds(30_000)
    public static let defaultMaxDuration = LoadDuration.milliseconds(600_000)
    /// VU and iteration counts are checked against this (10 million): larger ones are typos.
    public static let countLimit = 10_000_000

    public init(name: String, executor: Executor, exec: String? = nil, startTime: LoadDuration = .zero,
                gracefulStop: LoadDuration = Scenario.defaultGracefulStop, tags: [String: String] = [:]) {
        self.name = name
        self.executor = executor
        self.exec = exec
        self.startTime = startTime
        self.gracefulStop = gracefulStop
        self.tags = tags
    }

    /// Tags from `options.tags` or a scenario's `tags`: names and values (strings, numbers or
    /// booleans) under the rules of every tag (non-empty, at most 256 bytes, without `{ } , :`
    /// or control characters), so a series name always parses back.
    static func tags(_ value: OptionValue, path: String) throws -> [String: String] {
        guard case .table(let fields) = value else { throw LoadOptionError("\(path): expected a table of NAME = value") }
        var tags: [String: String] = [:]
        for (k, v) in fields {
            guard SeriesName.isValidTagText(k) else {
                throw LoadOptionError("\(path): tag name '\(k)': non-empty, at most 256 bytes, without { } , : or control characters")
            }
            guard let text = Self.text(of: v) else { throw LoadOptionError("\(path).\(k): expected a string, number or boolean") }
            guard SeriesName.isValidTagText(text) else {
                throw LoadOptionError("\(path).\(k): '\(text)': non-empty, at most 256 bytes, without { } , : or control characters")
            }
            tags[k] = text
        }
        return tags
    }

    /// A string, number (whole numbers without a fraction) or boolean option as text; nil for
    /// anything else.
    static func text(of v: OptionValue) -> String? {
        switch v {
        case .string(let s): return s
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .bool(let b): return String(b)
        default: return nil
        }
    }

    /// A scenario's `env`: names (non-empty, without `=` or NUL) to strings (numbers and booleans
    /// written as text, as for tags).
    static func environment(_ value: OptionValue, path: String) throws -> [String: String] {
        guard case .table(let fields) = value else { throw LoadOptionError("\(path): expected a table of NAME = value") }
        var env: [String: String] = [:]
        for (k, v) in fields {
            guard !k.isEmpty, !k.contains("="), !k.utf8.contains(0) else {
                throw LoadOptionError("\(path): '\(k)' is not a variable name (non-empty, without = or NUL)")
            }
            guard let text = Self.text(of: v), !text.utf8.contains(0) else {
                throw LoadOptionError("\(path).\(k): expected a string (without NUL), number or boolean")
            }
            env[k] = text
        }
        return env
    }

    /// From a `scenarios.NAME` table of the script's options.
    public init(name: String, options value: OptionValue) throws {
        var r = try OptionReader(path: "scenarios.\(name)", value)
        let limit = 0...Scenario.countLimit
        guard let kind = try r.string("executor") else {
            throw LoadOptionError("scenarios.\(name).executor: missing (one of \(Executor.names.joined(separator: ", ")))")
        }
        // Unknown keys first: a typo (duraton) is reported as itself, not as a missing option.
        let common: Set<String> = ["executor", "exec", "startTime", "gracefulStop", "tags", "env"]
        let specific: [String: Set<String>] = [
            "constant-vus": ["vus", "duration"], "shared-iterations": ["vus", "iterations", "maxDuration"],
            "per-vu-iterations": ["vus", "iterations", "maxDuration"], "ramping-vus": ["startVUs", "stages", "gracefulRampDown"],
            "constant-arrival-rate": ["rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"],
            "ramping-arrival-rate": ["startRate", "timeUnit", "stages", "preAllocatedVUs", "maxVUs"],
        ]
        if let allowed = specific[kind].map({ $0.union(common) }), let bad = r.fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw LoadOptionError("scenarios.\(name).\(bad): unknown option for \(kind) (\(allowed.sorted().joined(separator: ", ")))")
        }
        let maxDuration = try r.duration("maxDuration") ?? Scenario.defaultMaxDuration
        func stages() throws -> [Stage] {
            guard let v = r.value("stages") else { throw LoadOptionError("\(r.name("stages")): missing") }
            return try Stage.list(v, name: r.name("stages"))
        }
        func require(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let n = try r.integer(key, in: range) else { throw LoadOptionError("\(r.name(key)): missing") }
            return n
        }
        let executor: Executor
        switch kind {
        case "constant-vus":
            guard let d = try r.duration("duration") else { throw LoadOptionError("\(r.name("duration")): missing") }
            executor = .constantVUs(vus: try r.integer("vus", in: limit) ?? 1, duration: d)
        case "shared-iterations":
            executor = .sharedIterations(vus: try r.integer("vus", in: limit) ?? 1, iterations: try r.integer("iterations", in: limit) ?? 1, maxDuration: maxDuration)
        case "per-vu-iterations":
            executor = .perVUIterations(vus: try r.integer("vus", in: limit) ?? 1, iterations: try r.integer("iterations", in: limit) ?? 1, maxDuration: maxDuration)
        case "ramping-vus":
            executor = .rampingVUs(startVUs: try r.integer("startVUs", in: limit) ?? 1, stages: try stages(),
                                   gracefulRampDown: try r.duration("gracefulRampDown") ?? Scenario.defaultGracefulStop)
        case "constant-arrival-rate":
            guard let d = try r.duration("duration") else { throw LoadOptionError("\(r.name("duration")): missing") }
            let pre = try require("preAllocatedVUs", limit)
            executor = .constantArrivalRate(rate: try require("rate", limit), timeUnit: try r.duration("timeUnit") ?? .milliseconds(1000),
                                            duration: d, preAllocatedVUs: pre, maxVUs: try r.integer("maxVUs", in: limit) ?? pre)
        case "ramping-arrival-rate":
            let pre = try require("preAllocatedVUs", limit)
            executor = .rampingArrivalRate(startRate: try r.integer("startRate", in: limit) ?? 0, timeUnit: try r.duration("timeUnit") ?? .milliseconds(1000),
                                           stages: try stages(), preAllocatedVUs: pre, maxVUs: try r.integer("maxVUs", in: limit) ?? pre)
        default:
            throw LoadOptionError("scenarios.\(name).executor: '\(kind)' is not an executor (one of \(Executor.names.joined(separator: ", ")))")
        }
        var tags: [String: String] = [:]
        if let t = r.value("tags") { tags = try Self.tags(t, path: r.name("tags")) }
        self.init(name: name, executor: executor, exec: try r.string("exec"),
                  startTime: try r.duration("startTime") ?? .zero,
                  gracefulStop: try r.duration("gracefulStop") ?? Scenario.defaultGracefulStop, tags: tags)
        if let e = r.value("env") { env = try Self.environment(e, path: r.name("env")) }
        _ = r.value("maxDuration")
        try r.rejectUnknown()
        try validate()
    }

    /// Checks what the types alone do not: a time unit above zero, maxVUs ≥ preAllocatedVUs, an
    /// exec name, and (as k6 does) no executor that would run nothing: constant VUs need a VU and
    /// a duration above 0, iterations need a VU and an iteration, stages need a duration above 0
    /// in all, and a ramp of VUs a start or a target above 0.
    public func validate() throws {
        let p = "scenarios.\(name)"
        switch executor {
        case .constantVUs(let vus, let duration):
            guard vus > 0 else { throw LoadOptionError("\(p).vus: 0 VUs would run nothing (1 or more)") }
            guard duration > .zero else { throw LoadOptionError("\(p).duration: 0 would run nothing (above 0, e.g. 30s)") }
        case .sharedIterations(let vus, let iterations, let cap), .perVUIterations(let vus, let iterations, let cap):
            guard vus > 0 else { throw LoadOptionError("\(p).vus: 0 VUs would run nothing (1 or more)") }
            guard iterations > 0 else { throw LoadOptionError("\(p).iterations: 0 would run nothing (1 or more)") }
            guard cap > .zero else { throw LoadOptionError("\(p).maxDuration: 0 would run nothing (above 0)") }
        default: break
        }
        switch executor {
        case .constantArrivalRate(_, let unit, _, let pre, let max), .rampingArrivalRate(_, let unit, _, let pre, let max):
            guard unit.nanoseconds > 0 else { throw LoadOptionError("\(p).timeUnit: must be above 0") }
            guard max >= pre else { throw LoadOptionError("\(p).maxVUs: \(max) is below preAllocatedVUs (\(pre))") }
            guard max > 0 else { throw LoadOptionError("\(p): an arrival-rate scenario needs at least one VU (preAllocatedVUs)") }
        default: break
        }
        switch executor {
        case .rampingVUs(_, let stages, _), .rampingArrivalRate(_, _, let stages, _, _):
            guard !stages.isEmpty else { throw LoadOptionError("\(p).stages: at least one stage is needed") }
            guard stages.contains(where: { $0.duration > .zero }) else {
                throw LoadOptionError("\(p).stages: they last 0 in all, which would run nothing (give a stage a duration above 0)")
            }
        default: break
        }
        // A ramp of VUs that never has one (k6 refuses it too; an arrival rate may ramp through 0).
        if case .rampingVUs(let start, let stages, _) = executor, start == 0, stages.allSatisfy({ $0.target == 0 }) {
            throw LoadOptionError("\(p): startVUs and every stage's target are 0, which would run nothing (a target above 0 is needed)")
        }
        if let e = exec, e.isEmpty { throw LoadOptionError("\(p).exec: empty function name") }
    }
}

extension Stage {
    /// From a list of `{duration = "30s", target = 100}` tables.
    static func list(_ v: OptionValue, name: String) throws -> [Stage] {
        guard case .list(let items) = v else { throw LoadOptionError("\(name): expected a list of {duration, target} tables") }
        return try items.enumerated().map { i, item in
            var r = try OptionReader(path: "\(name)[\(i + 1)]", item)
            guard let d = try r.duration("duration") else { throw LoadOptionError("\(r.name("duration")): missing") }
            guard let t = try r.integer("target", in: 0...Scenario.countLimit) else { throw LoadOptionError("\(r.name("target")): missing") }
            try r.rejectUnknown()
            return Stage(duration: d, target: t)
        }
    }

    /// `30s:100` (the command line's `--stage`).
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let target = Int(parts[1]), (0...Scenario.countLimit).contains(target) else {
            throw LoadOptionError("--stage: '\(text)' is not DURATION:TARGET (e.g. 30s:100)")
        }
        self.init(duration: try LoadDuration(parsing: String(parts[0])), target: target)
    }
}
