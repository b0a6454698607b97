import Atomics
import CLuaBridge
import Dispatch
import LuaHost
import NIOCore

/// What every VU of a run shares (read-only after the start, or thread-safe).
final class RunContext: @unchecked Sendable {
    /// The script compiled once for every VU.
    let script: ScriptChunk
    let args: [String]
    let segment: Segment
    let totalVUs: Int
    let catalog: MetricCatalog
    /// The host options every VU starts from (URL, plugins, limits, error policy).
    let hostOptions: ScriptHost.Options
    let errors: ErrorReport
    let connectionMetrics: Bool
    /// The default memory limit of the VM that runs setup() and teardown() (VU id 0) when no
    /// --memory-limit was given (`DefaultMemoryLimit.script`); nil: the VUs' limit.
    let lifecycleMemoryLimit: Int?
    /// setup()'s value, set on the control loop before the first iteration starts (nil: the
    /// script has no setup, or it was not called). Each VU decodes its own copy.
    @exclusivity(unchecked) var setupData: SetupData?

    init(script: ScriptChunk, args: [String], segment: Segment, totalVUs: Int, catalog: MetricCatalog,
         hostOptions: ScriptHost.Options, errors: ErrorReport, connectionMetrics: Bool = true, lifecycleMemoryLimit: Int? = nil) {
        self.connectionMetrics = connectionMetrics
        self.lifecycleMemoryLimit = lifecycleMemoryLimit
        self.script = script
        self.args = args
        self.segment = segment
        self.totalVUs = totalVUs
        self.catalog = catalog
        self.hostOptions = hostOptions
        self.errors = errors
    }
}

/// One virtual user: its own VM running the script, on one event loop for its whole life.
/// Everything but `init` runs on that loop.
final class VirtualUser {
    /// 1 ... total VUs of the run (across scenarios and segments).
    let id: Int
    let scenario: Scenario
    let context: RunContext
    let eventLoop: EventLoop
    /// The loop's metrics store, touched only on that loop.
    private let metrics: LoopMetrics
    /// Made in `start`, on the VU's loop: resolving handles writes to the loop's store, which
    /// the loop may be using (a VU made during the run, for an arrival).
    @exclusivity(unchecked) private(set) var recorder: VUMetricsRecorder!
    @exclusivity(unchecked) var host: ScriptHost?
    @exclusivity(unchecked) var vuTableRef: Int32 = LUA_NOREF
    /// The `netstack.metrics.group` the VU is in (`::outer::inner`, k6's group tag), nil outside.
    @exclusivity(unchecked) var group: String? {
        // Connections made from now on record their ws_* metrics with this group tag.
        didSet { recorder?.group = group }
    }
    /// netstack.metrics.request marks (key → uptime nanoseconds).
    @exclusivity(unchecked) var pendingRequests: [String: UInt64] = [:]
    /// Uptime nanoseconds at which the VU's scenario started in this process (netstack.vu.elapsed).
    @exclusivity(unchecked) var scenarioStartedAt: UInt64 = 0
    /// Iterations this VU started (its `netstack.vu.iteration` counts from 1).
    @exclusivity(unchecked) private(set) var iterationsStarted = 0
    /// The function each iteration calls ("bot" for the bot connect), found after the init.
    @exclusivity(unchecked) private(set) var entry: String?
    /// Set before `start` on the one VU asked: its init then reads whether the script defines
    /// k6's `setup` and `teardown` (no other VM pays for the two names).
    @exclusivity(unchecked) var readsLifecycle = false
    /// Whether the script defines k6's `setup` and `teardown` (globals after the init; only read
    /// when `readsLifecycle`).
    @exclusivity(unchecked) private(set) var definesSetup = false
    @exclusivity(unchecked) private(set) var definesTeardown = false
    @exclusivity(unchecked) private(set) var definesHandleSummary = false
    /// This VU's copy of setup()'s value (a registry reference), made at its first iteration.
    @exclusivity(unchecked) private var dataRef: Int32 = LUA_NOREF
    /// The value setup() returned, as JSON text (a lifecycle VU's; nil: nil).
    @exclusivity(unchecked) var lifecycleValue: [UInt8]?
    /// What handleSummary() returned (a lifecycle VU's; nil: it did not return).
    @exclusivity(unchecked) var summaryOutputs: [(name: String, text: [UInt8])]?
    /// Set by the scenario (on its control loop) when the VU should finish its iteration and
    /// start nothing new: the schedule ended or a ramp took the VU off. `netstack.stopping()`.
    let windingDown = ManagedAtomic<Bool>(false)
    /// Set while the VU is to stop what its VM runs (`requestInterrupt`).
    private let interruptFlag = InterruptFlag()
    /// The VU's loop thread (`netstack_current_thread`), once the VU started there; 0 before.
    private let thread = ManagedAtomic<UInt>(0)

    init(id: Int, scenario: Scenario, context: RunContext, eventLoop: EventLoop, metrics: LoopMetrics) {
        self.id = id
        self.scenario = scenario
        self.context = context
        self.eventLoop = eventLoop
        self.metrics = metrics
    }

    /// Makes the VM and runs the init (on the loop). Returns nil on success, else why it failed
    /// (the error itself was reported).
    func start() -> String? {
        if let failure = startInit() { return failure }
        // os.exit or netstack.exit in the init: the first iteration ends the run with that status
        // (it runs nothing; the entry may not even be defined yet).
        if let host = host, host.requestedExit != nil {
            entry = "bot"
            return nil
        }
        if let wrong = host?.nonFunctionGlobal(among: scenario.exec == nil ? Self.entryPointNames : Self.lifecycleNames) {
            return ScriptHost.entryPointMessage(wrong)
        }
        guard let host = host, let e = host.iterationEntry(exec: scenario.exec) else {
            if let name = scenario.exec { return "scenario '\(scenario.name)': exec '\(name)' is not a global function" }
            return "nothing to iterate: define main(args), a bot (onOpen/onMessage/onError/onClose), or options.scenarios.NAME.exec"
        }
        entry = e
        return nil
    }

    /// The VM and the init only.
    func startInit() -> String? {
        let failure = makeVM()
        if failure == nil, readsLifecycle, let host = host {
            definesSetup = host.definesFunction("setup")
            definesTeardown = host.definesFunction("teardown")
            definesHandleSummary = host.definesFunction("handleSummary")
        }
        return failure
    }

    private func makeVM() -> String? {
        var tags = [("scenario", scenario.name)]
        for (k, v) in scenario.tags.sorted(by: { $0.key < $1.key }) where k != "scenario" { tags.append((k, v)) }
        recorder = VUMetricsRecorder(loop: metrics, tags: tags)
        var options = context.hostOptions
        options.vm.lazyLibraries = true
        if id == 0, let limit = context.lifecycleMemoryLimit {
            options.vm.memoryLimit = limit
            options.vm.memoryLimitOrigin = DefaultMemoryLimit.scriptOrigin
        }
        // --json: every VU numbers its clients from 1, so each event says which VU it is from.
        if let events = options.events {
            let prefix = "{\"vu\":\(id),"
            options.events = { line in events(line.hasPrefix("{") ? prefix + line.dropFirst() : line) }
        }
        if context.connectionMetrics { options.observer = recorder }
        let errors = context.errors
        let recorder: VUMetricsRecorder = self.recorder
        let vuID = id
        options.onScriptError = { message in
            recorder.loop.add(recorder.handles.scriptErrors, 1)
            errors.report(message, vu: vuID)
        }
        // The same --plugin fails the same way in every VU: said once.
        options.onPluginLoadFailure = { message in errors.reportNoteOnce(key: message, message) }
        options.install = { [unowned self] host in LoadModule.install(host, self) }
        let host: ScriptHost
        do {
            host = try ScriptHost(eventLoop: eventLoop, options: options)
        } catch {
            errors.report("netstack: VU \(id): \(error)", vu: id)
            return "\(error)"
        }
        self.host = host
        host.vm.stopWhenBusy(flag: interruptFlag)
        thread.store(UInt(netstack_current_thread()), ordering: .releasing)
        let windingDown = self.windingDown
        host.windingDown = { windingDown.load(ordering: .relaxed) }
        let ok = host.initVU(script: context.script, args: context.args)
        // Stopped from outside (`requestInterrupt`: the run stops now, or the VU's scenario ended
        // while an arrival's VU was made): not a failure of the script.
        if host.vm.interruptUnwound || interruptFlag.isSet {
            interruptFlag.clear()
            host.vm.interruptHandled()
            return Self.initInterrupted
        }
        if !ok && host.pluginLoadFailed { return Self.pluginLoadFailed }
        return ok ? nil : "the init failed"
    }

    /// What `start` and `startInit` return when the init was stopped from outside.
    static let initInterrupted = "interrupted"
    /// What they return when a `--plugin` could not load (the run's status is then 3, as a
    /// plain run's is).
    static let pluginLoadFailed = "a --plugin could not load"

    /// The globals a load run calls: set to anything but a function, the script cannot be used.
    /// With an `exec` function, `main` and the handlers are not called (nor checked).
    static let lifecycleNames = ["setup", "teardown"]
    static let entryPointNames = ["main"] + lifecycleNames + ScriptHost.handlerNames

    /// Runs one iteration; `done` gets how it ended (on the loop).
    func iterate(done: @escaping (IterationEnd) -> Void) {
        guard let host = host, let entry = entry, !host.vm.isClosed else { return done(.failed) }
        iterationsStarted += 1
        group = nil
        if vuTableRef != LUA_NOREF {
            host.vm.pushRef(vuTableRef)
            lua_pushinteger(host.vm.L, Int64(iterationsStarted))
            lua_setfield(host.vm.L, -2, "iteration")
            netstack_pop(host.vm.L, 1)
        }
        var data: Int32?
        if let setup = context.setupData, entry != "bot" {
            if dataRef == LUA_NOREF {
                guard let ref = decode(setup) else { return done(.failed) }
                dataRef = ref
            }
            data = dataRef
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let recorder: VUMetricsRecorder = self.recorder
        host.runIteration(iterationsStarted, entry: entry, data: data) { end in
            recorder.loop.add(recorder.handles.iterationDuration, Double(DispatchTime.now().uptimeNanoseconds &- started) / 1e6)
            switch end {
            case .completed: recorder.loop.add(recorder.handles.iterations, 1)
            case .interrupted: recorder.loop.add(recorder.handles.interrupted, 1)
            case .failed, .exit: break
            }
            done(end)
        }
    }

    var iterationRunning: Bool { host?.iterationRunning ?? false }

    /// Calls the script's global `name` (`setup` or `teardown`) as this VU's one iteration,
    /// with `data` (setup's value) as its second argument. `keepValue`: what the function
    /// returns is kept in `lifecycleValue` (a value JSON cannot carry is the call's error).
    func callLifecycle(_ name: String, data: SetupData?, keepValue: Bool, done: @escaping (IterationEnd) -> Void) {
        guard let host = host, !host.vm.isClosed else { return done(.failed) }
        var ref: Int32?
        if let d = data {
            guard let r = decode(d) else { return done(.failed) }
            ref = r
        }
        host.runIteration(1, entry: name, pushEntry: keepValue ? { vm in LifecycleCall.pushKeepingCall(vm, name) } : nil,
                          data: ref, done: done)
    }

    /// setup()'s value made in this VM (a registry reference; `LUA_REFNIL` for nil). Nil when
    /// it cannot be (reported as this VU's script error).
    private func decode(_ data: SetupData) -> Int32? {
        guard let host = host, let json = data.json else { return LUA_REFNIL }
        if let why = JSONModule.pushDecoded(host.vm, json) {
            host.vm.reportError(context: "setup data", message: "the value of setup() could not be made in VU \(id): \(why)")
            return nil
        }
        return host.vm.ref()
    }

    /// On the loop: ends the running iteration (its clients closed with 1001). Lua code of the
    /// VU that a signal stopped meanwhile (`requestInterrupt`) has unwound by now.
    func interrupt() {
        interruptFlag.clear()
        host?.interruptIteration()
        host?.vm.interruptHandled()
    }

    /// Lua code that never gives its loop back (`while true do end`: an iteration, or an init)
    /// cannot take an interrupt queued there. Every `nudgeInterval`, on `loop`, the loops of the
    /// VUs of `vus` still asked to stop (and `pending`) are signalled, which stops the Lua code
    /// running there; it ends when none is left.
    static let nudgeInterval: TimeAmount = .milliseconds(100)

    static func nudgeWhileStuck(_ vus: [VirtualUser], on loop: EventLoop, while pending: @escaping (VirtualUser) -> Bool = { _ in true }) {
        guard !vus.isEmpty else { return }
        loop.scheduleTask(in: nudgeInterval) {
            nudgeWhileStuck(vus.filter { pending($0) && $0.nudgeIfStuck() }, on: loop, while: pending)
        }
    }

    /// Any thread, before `interrupt` is queued on the VU's loop: marks the VU's Lua code as to
    /// be stopped, so that `nudgeIfStuck` can stop code that never gives the loop back.
    func requestInterrupt() {
        interruptFlag.set()
    }

    /// Control loop: when the VU's `interrupt` has still not run on its loop, signals the loop's
    /// thread so that the Lua code running there checks whether it is to stop. True while the
    /// interrupt is pending.
    @discardableResult
    func nudgeIfStuck() -> Bool {
        guard interruptFlag.isSet else { return false }
        let t = thread.load(ordering: .acquiring)
        if t != 0 { _ = netstack_vm_interrupt_thread(UInt(t)) }
        return true
    }

    /// Ends the VU (clients destroyed, state closed); returns its plugins' exit status (0: none).
    @discardableResult
    func stop() -> Int32 {
        var status: Int32 = 0
        if let h = host, !h.vm.isClosed { status = h.endVU() }
        host = nil
        return status
    }
}
