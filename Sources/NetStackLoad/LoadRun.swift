import Dispatch
import Foundation
import LuaHost
import NIOCore
import NIOPosix
import NetStack

/// A load run: the plan's scenarios over VUs spread across one event loop per thread, metrics
/// collected per loop each interval and merged, then the summary and the thresholds' verdict.
public final class LoadRun {
    public struct Settings {
        /// The script, compiled once for every VU.
        public var script: ScriptChunk
        public var args: [String] = []
        public var plan: LoadPlan
        /// Event loops for the VUs (default: one per core).
        public var threads = System.coreCount
        public var hostOptions = ScriptHost.Options()
        /// The default memory limit of setup() and teardown()'s VM when no --memory-limit was
        /// given (`DefaultMemoryLimit.script`); nil: the VUs' limit.
        public var lifecycleMemoryLimit: Int?
        /// How often metrics are collected (live view, --out, abort-on-fail thresholds).
        public var interval = LoadDuration.milliseconds(1000)
        /// Called on the control loop after each interval with that interval's set and the totals so far.
        public var onInterval: ((_ interval: MetricSet, _ total: MetricSet, _ progress: Progress) -> Void)?
        /// A common start (segments): the wall-clock time, and/or a barrier (a file whose
        /// appearance, or a URL whose 200, starts the run); waiting for either ends with a
        /// failure after `startTimeout`.
        public var startAt: Date?
        public var barrier: StartBarrier?
        public var startTimeout = LoadDuration.milliseconds(600_000)
        /// The connection metrics (ws_*) recorded per message and connection; off, only the
        /// iteration metrics and the script's own remain (the bench measures their cost).
        public var connectionMetrics = true
        /// Whether the script's `setup()` and `teardown()` are called (k6's --no-setup, --no-teardown).
        public var runSetup = true
        public var runTeardown = true
        /// Whether the script's `handleSummary(data)` is called at the end (k6's; off with --no-summary).
        public var runHandleSummary = true
        /// The run's id, for handleSummary's data.
        public var runID: String?
        /// Where script errors are printed (each distinct one once).
        public var errorSink: (String) -> Void = { StandardError.line($0) }
        public init(script: ScriptChunk, plan: LoadPlan) {
            self.script = script
            self.plan = plan
        }

        public init(scriptPath: String, plan: LoadPlan) {
            self.init(script: ScriptChunk(path: scriptPath), plan: plan)
        }
    }

    /// The live view's numbers.
    public struct Progress: Sendable {
        public var elapsed: Double
        public var planned: Double
        public var activeVUs: Int
        public var maxVUs: Int
        public var iterations: Int
        public var stopping: Bool
    }

    /// How a run ended.
    public struct Outcome {
        public var metrics: MetricSet
        public var thresholds: [ThresholdResult]
        /// The exit status (see `LoadRun.status`).
        public var status: Int32
        public var errors: [(message: String, count: Int)]
        public var duration: Double
        public var interrupted: Bool
        public var initFailure: String?
        /// setup() failed, timed out or was stopped: nothing iterated.
        public var setupFailure: String?
        /// Wall clock at the start (seconds since 1970), and how late it was after --start-at.
        public var startedAt: Double
        public var lateBy: Double
        /// What the script's handleSummary(data) returned, output by output (nil: it is not
        /// defined, or it was not called); `summaryHandlerFailed`: it raised, returned something
        /// else than outputs, or did not end within teardownTimeout (reported as a script error).
        public var summaryOutputs: [(name: String, text: [UInt8])]?
        public var summaryHandlerFailed = false
    }

    let settings: Settings
    let group: MultiThreadedEventLoopGroup
    let controlGroup: MultiThreadedEventLoopGroup
    let control: EventLoop
    let loops: [EventLoop]
    let loopMetrics: [LoopMetrics]
    let controlMetrics = LoopMetrics()
    let context: RunContext
    @exclusivity(unchecked) private var runners: [ScenarioRunner] = []
    @exclusivity(unchecked) private var nextLoop = 0
    @exclusivity(unchecked) private var total = MetricSet()
    @exclusivity(unchecked) private var exitCode: Int32?
    @exclusivity(unchecked) private var interrupts = 0
    @exclusivity(unchecked) private var startedAt: UInt64 = 0
    @exclusivity(unchecked) private var collector: RepeatedTask?
    @exclusivity(unchecked) private var abortedByThreshold = false
    private let finished: EventLoopPromise<Void>
    private let errors: ErrorReport

    public init(settings: Settings) {
        self.settings = settings
        let threads = max(1, settings.threads)
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        controlGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        control = controlGroup.next()
        let group = self.group
        loops = (0..<threads).map { _ in group.next() }
        let errors = ErrorReport(sink: settings.errorSink)
        self.errors = errors
        loopMetrics = loops.map { _ in
            LoopMetrics(onFirstOverflow: { series in errors.reportNoteOnce(key: "series overflow", LoadRun.overflowNote(series)) })
        }
        let totalVUs = settings.plan.scenarios.reduce(0) { $0 + $1.executor.maxVUs }
        context = RunContext(script: settings.script, args: settings.args, segment: settings.plan.segment,
                             totalVUs: totalVUs, catalog: MetricCatalog(), hostOptions: settings.hostOptions, errors: errors,
                             connectionMetrics: settings.connectionMetrics, lifecycleMemoryLimit: settings.lifecycleMemoryLimit)
        finished = control.makePromise(of: Void.self)
    }

    /// Set (under `lifecycle`) when `run` has shut the loops down: a late `interrupt` does nothing.
    private let lifecycle = NSLock()
    private var loopsShutDown = false

    /// Shuts the loops down from the thread that called `run` (never from a loop: the last
    /// reference to the run may be dropped on one, so `deinit` does not do it).
    private func shutDownLoops() {
        lifecycle.lock()
        loopsShutDown = true
        lifecycle.unlock()
        try? group.syncShutdownGracefully()
        try? controlGroup.syncShutdownGracefully()
    }

    // MARK: VUs

    /// A VU on the next loop (round-robin), not yet initialised. Its loop's metrics are the
    /// loop's own: a VU only ever touches its loop's store.
    func makeVU(id: Int, scenario: Scenario) -> VirtualUser {
        let i = nextLoop % loops.count
        nextLoop += 1
        return VirtualUser(id: id, scenario: scenario, context: context, eventLoop: loops[i], metrics: loopMetrics[i])
    }

    /// Initialises `vus` on their loops; `done(true)` on the control loop when all succeeded.
    /// A failed init stops the run (status 1) with its reason.
    func initialize(_ vus: [VirtualUser], done: @escaping (Bool) -> Void) {
        if vus.isEmpty { return done(true) }
        for vu in vus { initializing[ObjectIdentifier(vu)] = vu }
        // Once stopping now, an init that never returns is stopped like an iteration.
        if stoppingNow { interruptInits(vus) }
        let futures = vus.map { vu in
            vu.eventLoop.submit { vu.start() }.hop(to: control).always { [weak self] _ in self?.initializing[ObjectIdentifier(vu)] = nil }
        }
        EventLoopFuture.whenAllSucceed(futures, on: control).whenComplete { [weak self] result in
            guard let self = self else { return }
            let failure: String?
            switch result {
            case .success(let reasons):
                let failures = reasons.compactMap { $0 }
                failure = failures.first { $0 != VirtualUser.initInterrupted } ?? failures.first
            case .failure(let e): failure = "VU init failed: \(e)"
            }
            if let f = failure {
                // An init stopped from outside is the stop's doing, not the script's failure.
                if f != VirtualUser.initInterrupted {
                    self.initFailure = self.initFailure ?? f
                    self.stopNow()
                }
                done(false)
            } else {
                done(true)
            }
        }
    }

    /// Control loop: VUs whose init runs (or waits for its loop).
    @exclusivity(unchecked) private var initializing: [ObjectIdentifier: VirtualUser] = [:]
    /// Set by `stopNow`: inits started from then on are stopped as they start.
    @exclusivity(unchecked) private var stoppingNow = false

    /// Stops the inits of `vus` that have not returned: asks each VU to stop, and signals the
    /// loops of those still running Lua code until their init returned (a script that loops for
    /// ever in its main chunk).
    private func interruptInits(_ vus: [VirtualUser]) {
        let pending = vus.filter { initializing[ObjectIdentifier($0)] != nil }
        for vu in pending { vu.requestInterrupt() }
        VirtualUser.nudgeWhileStuck(pending, on: control) { [weak self] vu in self?.initializing[ObjectIdentifier(vu)] != nil }
    }

    @exclusivity(unchecked) private var initFailure: String?

    // MARK: Running

    /// Runs the plan to the end (blocking the caller). SIGINT: call `interrupt()` from another thread.
    public func run() -> Outcome {
        let begin = control.submit { [self] in prepare() }
        _ = try? begin.wait()
        try? finished.futureResult.wait()
        // Every VU ends on its own loop; then the last interval is collected.
        let vus = (try? control.submit { [self] in runners.flatMap(\.vus) }.wait()) ?? []
        let stopVUs = vus.map { vu in vu.eventLoop.submit { vu.stop() } }
        // A plugin's exit status (the metrics plugin's failed threshold: 99): the largest a VU gave.
        var pluginStatus = stopVUs.compactMap { try? $0.wait() }.max() ?? 0
        if let status = try? control.flatSubmit({ [self] in teardown() }).wait() { pluginStatus = max(pluginStatus, status) }
        _ = try? control.flatSubmit { [self] in collect() }.wait()
        let outcome = try! control.submit { [self] () -> Outcome in
            collector?.cancel()
            // Until the scenarios ended: teardown's time is not the run's (its rates stay true).
            let duration = startedAt == 0 ? 0 : Double((endedAt == 0 ? DispatchTime.now().uptimeNanoseconds : endedAt) &- startedAt) / 1e9
            let results = settings.plan.thresholds.map { $0.evaluate(total, duration: duration) }
            return Outcome(metrics: total, thresholds: results,
                           // A segment's thresholds see only its share: netstack merge judges them.
                           status: LoadRun.status(exit: exitCode, initFailure: initFailure != nil,
                                                  pluginLoadFailed: initFailure == VirtualUser.pluginLoadFailed,
                                                  scriptUnusable: initFailure?.hasPrefix(ScriptHost.entryPointMessagePrefix) == true,
                                                  interrupted: interrupts > 0,
                                                  thresholds: settings.plan.segment == .whole ? results : [], hasThresholds: !settings.plan.thresholds.isEmpty,
                                                  scriptErrors: errors.total, failedConnections: Self.failures(total),
                                                  pluginStatus: pluginStatus),
                           errors: errors.entries, duration: duration, interrupted: interrupts > 0, initFailure: initFailure,
                           setupFailure: setupFailure,
                           startedAt: startedAtWall == 0 ? Date().timeIntervalSince1970 : startedAtWall, lateBy: lateBy)
        }.wait()
        var finalOutcome = outcome
        if let (outputs, failed) = try? control.flatSubmit({ [self] in handleSummary(outcome) }).wait() {
            finalOutcome.summaryOutputs = outputs
            finalOutcome.summaryHandlerFailed = failed
        }
        shutDownLoops()
        return finalOutcome
    }

    /// Connections that failed: attempts that never opened plus connections dropped (1006) or
    /// failed by us for a protocol violation or a limit (1002, 1007, 1009).
    static func failures(_ set: MetricSet) -> Int {
        var n = (set.aggregate(BuiltinMetrics.connectFailures)?.sum ?? 0).saturatingCount
        for code in ["1006", "1002", "1007", "1009", "1011"] {
            n = n.saturatingAdd((set.aggregate(BuiltinMetrics.closes, tags: ["code": code])?.sum ?? 0).saturatingCount)
        }
        return n
    }

    /// The exit status of a load run, first that applies: `netstack.exit(n)` → n; 3 when a
    /// `--plugin` could not load in a VU's init (as in a plain run); 2 when the script set a
    /// global the run calls (`main`, `setup`, a handler...) to something other than a function
    /// (as in a plain run); 1 when a VU's init failed otherwise; 130 after SIGINT; 99 when a threshold failed; 1 after script errors; a
    /// plugin's status (the largest a VU's plugins gave); 1 when no threshold is defined and a
    /// connection failed; else 0.
    public static func status(exit: Int32?, initFailure: Bool, pluginLoadFailed: Bool = false, scriptUnusable: Bool = false, interrupted: Bool,
                              thresholds: [ThresholdResult], hasThresholds: Bool, scriptErrors: Int, failedConnections: Int,
                              pluginStatus: Int32 = 0) -> Int32 {
        if let e = exit { return e }
        if pluginLoadFailed { return ScriptHost.pluginLoadFailureStatus }
        if scriptUnusable { return 2 }
        if initFailure { return 1 }
        if interrupted { return 130 }
        if thresholds.contains(where: { !$0.passed }) { return 99 }
        if scriptErrors > 0 { return 1 }
        if pluginStatus != 0 { return pluginStatus }
        if !hasThresholds && failedConnections > 0 { return 1 }
        return 0
    }

    private func prepare() {
        var offset = 0
        for s in settings.plan.scenarios {
            runners.append(ScenarioRunner(scenario: s, segment: settings.plan.segment, vuOffset: offset, run: self))
            offset += s.executor.maxVUs
        }
        var vus: [VirtualUser] = []
        for r in runners {
            for _ in 0..<r.initialVUs { vus.append(r.makeVU()) }
        }
        vus.first?.readsLifecycle = true
        initialize(vus) { [self] ok in
            guard ok else { return }
            setup(knownBy: vus.first) { [self] in
                waitForStart { [self] in begin() }
            }
        }
    }

    // MARK: setup() and teardown()

    /// Control loop: the setup() or teardown() call running, which SIGINT stops.
    @exclusivity(unchecked) private var lifecycleRunning: LifecycleCall?
    @exclusivity(unchecked) private var setupFailure: String?
    /// Whether the script defines teardown (nil: not known yet, no VU has run the init).
    @exclusivity(unchecked) private var definesTeardown: Bool?

    private func lifecycleCall(_ stage: LifecycleCall.Stage) -> LifecycleCall {
        LifecycleCall(stage: stage, tags: settings.plan.globalTags,
                      timeout: stage == .setup ? settings.plan.setupTimeout : settings.plan.teardownTimeout,
                      context: context, eventLoop: loops[0], metrics: loopMetrics[0], control: control)
    }

    /// Calls the script's setup() (when it has one and it is not turned off), then `next`; its
    /// value becomes the VUs' data. A setup that fails, times out or is stopped stops the run
    /// before any iteration; `netstack.exit` in it ends the run with that status.
    /// `vu`: a VU whose init ran, which tells whether there is a setup (nil: none ran yet).
    private func setup(knownBy vu: VirtualUser?, then next: @escaping () -> Void) {
        if let vu = vu {
            definesTeardown = vu.definesTeardown
            definesHandleSummary = vu.definesHandleSummary
        }
        guard settings.runSetup, vu?.definesSetup != false else { return next() }
        let call = lifecycleCall(.setup)
        lifecycleRunning = call
        call.run(data: nil) { [self] outcome in
            lifecycleRunning = nil
            if outcome != .notDefined || definesTeardown == nil {
                definesTeardown = call.vu.definesTeardown
                definesHandleSummary = call.vu.definesHandleSummary
            }
            call.end().hop(to: control).whenComplete { [self] status in
                lifecyclePluginStatus = max(lifecyclePluginStatus, (try? status.get()) ?? 0)
                switch outcome {
                case .notDefined:
                    next()
                case .returned(let data):
                    context.setupData = data
                    next()
                case .failed:
                    setupFailure = "setup() failed"
                    initFailure = setupFailure
                    stopNow()
                case .timedOut:
                    errors.report("netstack: error in setup: it did not end within setupTimeout (\(settings.plan.setupTimeout)); its clients were closed with 1001", vu: 0)
                    setupFailure = "setup() did not end within \(settings.plan.setupTimeout)"
                    initFailure = setupFailure
                    stopNow()
                case .interrupted:
                    setupFailure = "setup() was interrupted"
                    stopNow()
                case .exit(let code):
                    setupFailure = "setup() called netstack.exit(\(code))"
                    exitRequested(code)
                }
            }
        }
    }

    /// The largest status the plugins of setup's and teardown's VUs gave.
    @exclusivity(unchecked) private var lifecyclePluginStatus: Int32 = 0

    /// Control loop, after every VU stopped: calls the script's teardown(args, data) when it has
    /// one, setup ran to its end (or there is none) and no second SIGINT came. Its errors and
    /// its timeout are the run's script errors. The future gives the plugins' status of the
    /// lifecycle VUs.
    private func teardown() -> EventLoopFuture<Int32> {
        guard settings.runTeardown, definesTeardown != false, startedAt != 0, setupFailure == nil, interrupts < 2 else {
            return control.makeSucceededFuture(lifecyclePluginStatus)
        }
        let call = lifecycleCall(.teardown)
        lifecycleRunning = call
        let done = control.makePromise(of: Int32.self)
        call.run(data: context.setupData) { [self] outcome in
            lifecycleRunning = nil
            if outcome == .timedOut {
                errors.report("netstack: error in teardown: it did not end within teardownTimeout (\(settings.plan.teardownTimeout)); its clients were closed with 1001", vu: 0)
            }
            if case .exit(let code) = outcome, exitCode == nil { exitCode = code }
            call.end().hop(to: control).whenComplete { [self] status in
                done.succeed(max(lifecyclePluginStatus, (try? status.get()) ?? 0))
            }
        }
        return done.futureResult
    }

    /// Whether the script defines handleSummary (nil: not known yet).
    @exclusivity(unchecked) private var definesHandleSummary: Bool?

    /// Control loop, at the very end: calls the script's handleSummary(data) when it has one, it
    /// is not turned off, the VUs' init worked and no second SIGINT came, with the summary as
    /// `SummaryData` shapes it, in a VU of its own (scenario `handleSummary`), within
    /// teardownTimeout. The future gives its outputs (nil: not called) and whether it failed.
    private func handleSummary(_ outcome: Outcome) -> EventLoopFuture<([(name: String, text: [UInt8])]?, Bool)> {
        guard settings.runHandleSummary, definesHandleSummary == true, initFailure == nil || setupFailure != nil, interrupts < 2 else {
            return control.makeSucceededFuture((nil, false))
        }
        let data = SummaryData.json(outcome.metrics, .init(duration: outcome.duration, thresholds: outcome.thresholds,
                                                            trendStats: settings.plan.summaryTrendStats, status: outcome.status,
                                                            runID: settings.runID, stdoutIsTTY: isatty(1) == 1, stderrIsTTY: isatty(2) == 1))
        let call = LifecycleCall(stage: .handleSummary, tags: settings.plan.globalTags, timeout: settings.plan.teardownTimeout,
                                 context: context, eventLoop: loops[0], metrics: loopMetrics[0], control: control)
        lifecycleRunning = call
        let done = control.makePromise(of: ([(name: String, text: [UInt8])]?, Bool).self)
        call.run(data: SetupData(json: data)) { [self] result in
            lifecycleRunning = nil
            if result == .timedOut {
                errors.report("netstack: error in handleSummary: it did not end within teardownTimeout (\(settings.plan.teardownTimeout))", vu: 0)
            }
            let outputs: [(name: String, text: [UInt8])]?
            switch result {
            case .returned, .exit: outputs = call.vu.summaryOutputs
            default: outputs = nil
            }
            call.end().whenComplete { _ in done.succeed((outputs, result != .notDefined && outputs == nil)) }
        }
        return done.futureResult
    }

    /// A common start for segments: `startAt` (wall clock), then the barrier, within
    /// `startTimeout`. A start that is already past is taken at once and reported as late.
    ///
    /// The wait looks every 20 ms at what can end it (the deadline, the file, the answer of the
    /// URL's request); an interrupt ends it at once, also one that came before it (during setup).
    /// A URL is asked at most every 250 ms, one request at a time.
    private func waitForStart(_ go: @escaping () -> Void) {
        startWaiter = go
        let deadline = Date().addingTimeInterval(settings.startTimeout.seconds)
        var opened = false
        var inFlight = false
        var lastRequest = DispatchTime(uptimeNanoseconds: 0)
        var lastAnswer: String?
        func barrier() {
            // Started already (an interrupt starts the run at once, to stop it as a run) or failed.
            guard startWaiter != nil else { return }
            // An interrupt that came before the wait (during setup) ends it too.
            guard let gate = settings.barrier, interrupts == 0 else { return startWaiting() }
            switch gate {
            case .file(let file):
                if FileManager.default.fileExists(atPath: file) { return startWaiting() }
            case .url(let url):
                if opened { return startWaiting() }
                let now = DispatchTime.now()
                if !inFlight, now.uptimeNanoseconds &- lastRequest.uptimeNanoseconds >= UInt64(StartBarrier.urlPollMilliseconds) * 1_000_000 {
                    inFlight = true
                    lastRequest = now
                    let left = Int64(max(0.001, deadline.timeIntervalSinceNow) * 1000)
                    HTTPFetch.get(url, timeout: .milliseconds(min(StartBarrier.urlRequestMilliseconds, left)),
                                  maxBytes: StartBarrier.urlMaxBytes, allowTLS: true, on: control).whenSuccess { result in
                        inFlight = false
                        switch result {
                        case .success: opened = true
                        case .failure(let f): lastAnswer = f.description
                        }
                    }
                }
            }
            guard Date() < deadline else {
                startWaiter = nil
                startFailure = gate.timedOut(after: settings.startTimeout, lastAnswer: lastAnswer)
                initFailure = startFailure
                stopNow()
                return
            }
            control.scheduleTask(in: .milliseconds(StartBarrier.filePollMilliseconds)) { barrier() }
        }
        if let at = settings.startAt {
            let wait = at.timeIntervalSinceNow
            if wait > 0 {
                guard wait <= settings.startTimeout.seconds else {
                    startWaiter = nil
                    startFailure = "--start-at is \(Int(wait)) s away, more than the start timeout (\(settings.startTimeout))"
                    initFailure = startFailure
                    stopNow()
                    return
                }
                control.scheduleTask(in: .nanoseconds(Int64(wait * 1e9))) { barrier() }
                return
            }
            lateBy = -wait
            errors.reportNote("netstack: started " + String(format: "%.3f", -wait) + " s after --start-at (segment \(settings.plan.segment) was late)")
        }
        barrier()
    }

    /// What starts the scenarios while the run waits for its start (`--start-at`,
    /// `--start-barrier`); nil before and after. A SIGINT takes it at once, so the run starts and
    /// stops as one interrupted before its first iteration (no iteration, a duration of about 0,
    /// `teardown` still called since `setup` ran) instead of ending while a tick of the wait is
    /// still to come and would start it.
    @exclusivity(unchecked) private var startWaiter: (() -> Void)?

    /// Starts the scenarios that wait for their start, once.
    private func startWaiting() {
        guard let start = startWaiter else { return }
        startWaiter = nil
        start()
    }
    @exclusivity(unchecked) private var startFailure: String?
    /// Seconds this process started after --start-at (0: on time or no --start-at).
    @exclusivity(unchecked) private(set) var lateBy: Double = 0
    @exclusivity(unchecked) private(set) var startedAtWall: Double = 0

    private func begin() {
        startedAtWall = Date().timeIntervalSince1970
        startedAt = DispatchTime.now().uptimeNanoseconds
        collector = control.scheduleRepeatedTask(initialDelay: .nanoseconds(settings.interval.nanoseconds),
                                                 delay: .nanoseconds(settings.interval.nanoseconds)) { [weak self] _ in _ = self?.collect() }
        for r in runners {
            control.scheduleTask(in: .nanoseconds(r.scenario.startTime.nanoseconds)) { [weak self, r] in
                guard let self = self, self.interrupts == 0, self.exitCode == nil, !self.abortedByThreshold else {
                    r.interruptAll()
                    return
                }
                r.start()
            }
        }
        if runners.isEmpty { end() }
    }

    @exclusivity(unchecked) private var ended = false

    /// Uptime nanoseconds at which the scenarios ended (0: not yet).
    @exclusivity(unchecked) private var endedAt: UInt64 = 0

    private func end() {
        guard !ended else { return }
        ended = true
        endedAt = DispatchTime.now().uptimeNanoseconds
        finished.succeed(())
    }

    func scenarioFinished(_ r: ScenarioRunner) {
        if runners.allSatisfy(\.finished) { end() }
    }

    func exitRequested(_ code: Int32) {
        if exitCode == nil { exitCode = code }
        stopNow()
    }

    /// Control loop: the VUs active over every scenario (`ScenarioRunner.activeCount`, summed),
    /// kept as each VU starts and stops counting, and the most since the last interval.
    @exclusivity(unchecked) private var activeVUsNow = 0
    @exclusivity(unchecked) private var activeVUsPeak = 0

    func activeVUsChanged(by delta: Int) {
        activeVUsNow += delta
        if activeVUsNow > activeVUsPeak { activeVUsPeak = activeVUsNow }
    }

    func droppedIteration(_ scenario: Scenario) {
        let h = controlMetrics.handle(SeriesName.make(BuiltinMetrics.droppedIterations, tags: [("scenario", scenario.name)]), kind: .counter)
        controlMetrics.add(h, 1)
    }

    /// Stops every scenario now: running iterations are interrupted (1001).
    func stopNow() {
        if !stoppingNow {
            stoppingNow = true
            interruptInits(Array(initializing.values))
        }
        for r in runners { r.interruptAll() }
        if runners.isEmpty || runners.allSatisfy(\.finished) { end() }
    }

    /// SIGINT: the first stops starting iterations and gives running ones their graceful stop;
    /// the second interrupts them now. During setup() or teardown(), any SIGINT stops that call
    /// at once (setup's stop then ends the run). Any thread; `note` gets, on the control loop,
    /// what the signal does, as one line for the user.
    public func interrupt(note: (@Sendable (String) -> Void)? = nil) {
        lifecycle.lock()
        defer { lifecycle.unlock() }
        guard !loopsShutDown else { return }
        control.execute { [self] in
            interrupts += 1
            if let call = lifecycleRunning {
                note?(call.stage == .setup ? "stopping setup(); the run ends with no iteration" : "stopping teardown()")
                call.stop()
                return
            }
            startWaiting()
            if interrupts == 1 {
                note?("stopping gracefully (a second SIGINT or SIGTERM stops now)")
                for r in runners { r.stop(grace: r.scenario.gracefulStop) }
            } else {
                note?("stopping now")
                stopNow()
            }
        }
    }

    // MARK: Metrics

    /// Said once when series first go to an overflow series (on a loop, or in the totals, which
    /// collect every loop's series).
    static func overflowNote(_ series: String?) -> String {
        let limits = SeriesLimits.run
        let which = series.map { "series '\(String($0.prefix(120)))' and later new ones" } ?? "new series"
        return "netstack: more than \(limits.series) series or \(limits.trendSeries) trend series (each distinct set of tags is one): "
            + "\(which) are recorded as METRIC{overflow:true,scenario:NAME} (one per metric and scenario)"
    }

    /// Collects every loop's interval (on its loop) and merges it into the totals (on the control loop).
    @discardableResult
    private func collect() -> EventLoopFuture<Void> {
        let defs = context.catalog.all
        let futures = zip(loops, loopMetrics).map { loop, m in loop.submit { m.drain(definitions: defs) } }
        return EventLoopFuture.whenAllSucceed(futures, on: control).map { [self] sets in
            var interval = MetricSet()
            for set in sets { interval.merge(set) }
            merged(interval, definitions: defs)
        }
    }

    private func merged(_ collected: MetricSet, definitions defs: [String: MetricDefinition]) {
        var interval = collected
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let active = runners.reduce(0) { $0 + $1.activeCount }
        let created = runners.reduce(0) { $0 + $1.vus.count }
        // The most active VUs since the last interval, then the count now (the gauge's value): a
        // ramp shorter than an interval still shows its peak as `vus` max. (Not the fewest: while
        // a scenario starts its VUs one by one, the count passes through 0.)
        let vusHandle = controlMetrics.handle(BuiltinMetrics.vus, kind: .gauge)
        if activeVUsPeak > active { controlMetrics.set(vusHandle, Double(activeVUsPeak), at: now) }
        activeVUsPeak = active
        controlMetrics.set(vusHandle, Double(active), at: now)
        controlMetrics.set(controlMetrics.handle(BuiltinMetrics.vusMax, kind: .gauge), Double(created), at: now)
        interval.merge(controlMetrics.drain(definitions: defs))
        // A metric the script defined but never recorded is still the script's: its thresholds
        // judge zero samples (an error counter that stayed at 0 passes `count==0`), and the
        // export carries its definition to `netstack merge`.
        for (name, d) in defs where total.definitions[name] == nil && BuiltinMetrics.definitions[name] == nil {
            total.definitions[name] = d
        }
        if total.merge(interval, within: .run) > 0 {
            errors.reportNoteOnce(key: "series overflow", LoadRun.overflowNote(nil))
        }
        let elapsed = startedAt == 0 ? 0 : Double(DispatchTime.now().uptimeNanoseconds &- startedAt) / 1e9
        let progress = Progress(elapsed: elapsed, planned: settings.plan.plannedDuration.seconds, activeVUs: active, maxVUs: created,
                                iterations: (total.aggregate(BuiltinMetrics.iterations)?.sum ?? 0).saturatingCount, stopping: interrupts > 0)
        settings.onInterval?(interval, total, progress)
        // Thresholds marked abortOnFail stop the run as soon as they fail.
        if !abortedByThreshold, settings.plan.thresholds.contains(where: { $0.abortOnFail && elapsed >= $0.delayAbortEval.seconds && !$0.evaluate(total, duration: elapsed).passed }) {
            abortedByThreshold = true
            errors.reportNote("netstack: a threshold with abortOnFail failed; stopping the run")
            stopNow()
        }
    }
}
