/// What a load run does: its scenarios, thresholds and segment. Made from the command line's
/// shortcuts and the script's `options` table; the command line wins.
public struct LoadPlan: Sendable {
    public var scenarios: [Scenario]
    public var thresholds: [Threshold]
    public var segment: Segment
    /// The trend columns of the summary (`--summary-trend-stats`, `options.summaryTrendStats`).
    public var summaryTrendStats: [TrendStat]
    /// k6's global tags (`options.tags`): also on the samples of setup() and teardown().
    public var globalTags: [String: String] = [:]
    /// How long setup() and teardown() may take (`options.setupTimeout`, `options.teardownTimeout`).
    public var setupTimeout = LoadPlan.defaultLifecycleTimeout
    public var teardownTimeout = LoadPlan.defaultLifecycleTimeout
    /// k6's default for both.
    public static let defaultLifecycleTimeout = LoadDuration.milliseconds(60_000)

    public init(scenarios: [Scenario], thresholds: [Threshold] = [], segment: Segment = .whole,
                summaryTrendStats: [TrendStat] = TrendStat.defaults) {
        self.scenarios = scenarios
        self.thresholds = thresholds
        self.segment = segment
        self.summaryTrendStats = summaryTrendStats
    }

    /// The longest scenario's end (start time + schedule), without graceful stops.
    public var plannedDuration: LoadDuration {
        scenarios.map { $0.startTime + $0.executor.duration }.max() ?? .zero
    }

    /// The command line's load options (nil: not given).
    public struct CommandLine: Sendable {
        public var vus: Int?
        public var duration: LoadDuration?
        public var iterations: Int?
        public var stages: [Stage] = []
        public var thresholds: [String] = []
        public var exec: String?
        public var segment: Segment = .whole
        public var summaryTrendStats: [TrendStat]?
        /// `--tag NAME=VALUE`: global tags, over the options' `tags` of the same names.
        public var tags: [String: String] = [:]
        public init() {}

        var hasShortcut: Bool { vus != nil || setsLength }
        /// A duration, an iteration count or stages: what decides how long the run lasts.
        var setsLength: Bool { duration != nil || iterations != nil || !stages.isEmpty }
    }

    /// The plan: scenarios from the command line's shortcuts if any, else the options'
    /// `scenarios`, else the options' shortcuts (vus, duration, iterations, stages), else one VU
    /// running one iteration. Thresholds: the options', with the command line's replacing those
    /// on the same series.
    public static func make(commandLine cli: CommandLine, options: OptionValue?) throws -> LoadPlan {
        var reader = try options.map { try OptionReader(path: "options", $0) }
        var scenarios: [Scenario]
        // The options' shortcuts, merged with the command line's as k6 merges them: `--vus`
        // replaces `vus` alone; a command-line `--duration`, `--iterations` or `--stage` sets the
        // run's length and replaces all three of the script's (and its scenarios).
        var fromOptions = CommandLine()
        if var r = reader {
            fromOptions.vus = try r.integer("vus", in: 0...Scenario.countLimit)
            fromOptions.duration = try r.duration("duration")
            fromOptions.iterations = try r.integer("iterations", in: 0...Scenario.countLimit)
            if let s = r.value("stages") { fromOptions.stages = try Stage.list(s, name: "options.stages") }
            reader = r
        }
        var shortcut = cli
        if !cli.setsLength {
            shortcut.duration = fromOptions.duration
            shortcut.iterations = fromOptions.iterations
            shortcut.stages = fromOptions.stages
        }
        if shortcut.vus == nil { shortcut.vus = fromOptions.vus }
        if cli.hasShortcut || reader?.fields["scenarios"] == nil {
            scenarios = [try shortcutScenario(shortcut)]
        } else {
            // A length given beside scenarios would be ignored: refused, as k6 refuses it.
            for (name, given) in [("duration", fromOptions.duration != nil), ("iterations", fromOptions.iterations != nil), ("stages", !fromOptions.stages.isEmpty)] where given {
                throw LoadOptionError("options.\(name) and options.scenarios together: each scenario sets its own length; move \(name) into the scenarios")
            }
            guard case .table(let named)? = reader!.value("scenarios"), !named.isEmpty else {
                throw LoadOptionError("options.scenarios: expected a table of NAME = {executor = ...}")
            }
            scenarios = try named.sorted { $0.key < $1.key }.map { try Scenario(name: $0.key, options: $0.value) }
        }
        if let exec = cli.exec { for i in scenarios.indices { scenarios[i].exec = exec } }
        // k6's global tags: on every scenario's samples, under the scenario's own tags.
        var global: [String: String] = [:]
        if var r = reader, let t = r.value("tags") {
            global = try Scenario.tags(t, path: "options.tags")
            reader = r
        }
        global.merge(cli.tags) { _, fromCLI in fromCLI }
        if !global.isEmpty {
            for i in scenarios.indices { scenarios[i].tags = global.merging(scenarios[i].tags) { _, own in own } }
        }
        var thresholds: [Threshold] = []
        if var r = reader, let t = r.value("thresholds") {
            thresholds = try Threshold.list(t)
            reader = r
        }
        let fromCLI = try cli.thresholds.map { try Threshold(commandLine: $0) }
        let replaced = Set(fromCLI.map(\.target))
        thresholds = thresholds.filter { !replaced.contains($0.target) } + fromCLI
        for t in thresholds { try t.checkAgainstBuiltins() }
        var trendStats = TrendStat.defaults
        if var r = reader, let v = r.value("summaryTrendStats") {
            guard case .list(let items) = v, !items.isEmpty else {
                throw LoadOptionError("options.summaryTrendStats: expected a list such as { \"avg\", \"p(95)\", \"max\" }")
            }
            trendStats = try items.map { item in
                guard case .string(let s) = item else { throw LoadOptionError("options.summaryTrendStats: expected strings such as \"p(95)\"") }
                do { return try TrendStat(parsing: s) } catch let e as LoadOptionError { throw LoadOptionError("options.summaryTrendStats: \(e.message)") }
            }
            reader = r
        }
        if let fromCLI = cli.summaryTrendStats { trendStats = fromCLI }
        var plan = LoadPlan(scenarios: scenarios, thresholds: thresholds, segment: cli.segment, summaryTrendStats: trendStats)
        plan.globalTags = global
        if var r = reader {
            plan.setupTimeout = try r.duration("setupTimeout") ?? defaultLifecycleTimeout
            plan.teardownTimeout = try r.duration("teardownTimeout") ?? defaultLifecycleTimeout
            for (key, d) in [("setupTimeout", plan.setupTimeout), ("teardownTimeout", plan.teardownTimeout)] where d == .zero {
                throw LoadOptionError("options.\(key): must be longer than 0s")
            }
            for key in ["vus", "duration", "iterations", "stages", "scenarios", "thresholds", "tags", "summaryTrendStats"] { _ = r.value(key) }
            try r.rejectUnknown()
        }
        return plan
    }

    static func shortcutScenario(_ c: CommandLine) throws -> Scenario {
        // The shortcuts' own words for what would run nothing (k6 refuses these too).
        if c.stages.isEmpty {
            if c.vus == 0 { throw LoadOptionError("--vus 0 (or options.vus = 0) would run nothing: give 1 or more, or ramp from 0 with --stage") }
            if c.iterations == 0 { throw LoadOptionError("--iterations 0 (or options.iterations = 0) would run nothing: give 1 or more") }
            if c.duration == .zero { throw LoadOptionError("--duration 0s (or options.duration) would run nothing: give a duration above 0") }
        }
        if !c.stages.isEmpty {
            if !c.stages.contains(where: { $0.duration > .zero }) {
                throw LoadOptionError("--stage (or options.stages): the stages last 0 in all, which would run nothing: give a stage a duration above 0")
            }
            if c.vus == 0, c.stages.allSatisfy({ $0.target == 0 }) {
                throw LoadOptionError("--vus 0 (or options.vus = 0) with stages that all target 0 would run nothing: give a stage a target above 0")
            }
        }
        // The stages set the run's length: a duration or an iteration count beside them would be
        // ignored (k6 refuses these pairs as well).
        if !c.stages.isEmpty {
            for (name, given) in [("--duration (or options.duration)", c.duration != nil), ("--iterations (or options.iterations)", c.iterations != nil)] where given {
                throw LoadOptionError("--stage (or options.stages) and \(name) together: the stages set how long the run lasts; give one of them")
            }
        }
        let executor: Executor
        if !c.stages.isEmpty {
            executor = .rampingVUs(startVUs: c.vus ?? 1, stages: c.stages, gracefulRampDown: Scenario.defaultGracefulStop)
        } else if let n = c.iterations {
            executor = .sharedIterations(vus: c.vus ?? 1, iterations: n, maxDuration: c.duration ?? Scenario.defaultMaxDuration)
        } else if let d = c.duration {
            executor = .constantVUs(vus: c.vus ?? 1, duration: d)
        } else {
            executor = .perVUIterations(vus: c.vus ?? 1, iterations: 1, maxDuration: Scenario.defaultMaxDuration)
        }
        let s = Scenario(name: "default", executor: executor, exec: c.exec)
        try s.validate()
        return s
    }
}
