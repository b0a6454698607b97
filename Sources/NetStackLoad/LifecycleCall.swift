import CLuaBridge
import LuaHost
import NIOCore

/// setup()'s value as every VU receives it: JSON text (nil: setup returned nil).
struct SetupData: Equatable {
    let json: [UInt8]?
}

/// k6's `setup()` and `teardown()`: one call of the script's global function of that name in a
/// VU of its own (id 0, scenario `setup` or `teardown`) on the run's first loop, within a time
/// limit. The function may wait, as an iteration may, and the call ends when what it started is
/// idle. setup's value goes to the VUs as JSON text; each VU makes its own copy.
final class LifecycleCall {
    enum Stage: String {
        case setup, teardown, handleSummary
    }

    enum Outcome: Equatable {
        /// It ran to the end (setup: with this value).
        case returned(SetupData)
        /// The script has no such global function.
        case notDefined
        /// Its init or the function raised (reported), or its value cannot go to the VUs.
        case failed
        /// Its time limit ended it (its clients closed with 1001).
        case timedOut
        /// Stopped by SIGINT.
        case interrupted
        /// It called `netstack.exit(code)`.
        case exit(Int32)
    }

    /// The largest value setup() may return, as JSON text (every VU decodes a copy).
    static let maxDataBytes = 64 << 20

    let stage: Stage
    let vu: VirtualUser
    let timeout: LoadDuration
    let control: EventLoop
    /// Control loop only.
    @exclusivity(unchecked) private var finished = false
    @exclusivity(unchecked) private var timedOut = false

    init(stage: Stage, tags: [String: String], timeout: LoadDuration, context: RunContext, eventLoop: EventLoop,
         metrics: LoopMetrics, control: EventLoop) {
        self.stage = stage
        self.timeout = timeout
        self.control = control
        let scenario = Scenario(name: stage.rawValue, executor: .perVUIterations(vus: 1, iterations: 1, maxDuration: timeout), tags: tags)
        vu = VirtualUser(id: 0, scenario: scenario, context: context, eventLoop: eventLoop, metrics: metrics)
        vu.readsLifecycle = true
    }

    /// On the control loop: makes the VU, calls the function (teardown's with `data`) and gives
    /// how it ended to `done`, on the control loop.
    func run(data: SetupData?, done: @escaping (Outcome) -> Void) {
        let vu = self.vu
        let stage = self.stage
        let call = vu.eventLoop.flatSubmit { () -> EventLoopFuture<Outcome> in
            if let failure = vu.startInit() {
                return vu.eventLoop.makeSucceededFuture(failure == VirtualUser.initInterrupted ? .interrupted : .failed)
            }
            if let code = vu.host?.requestedExit { return vu.eventLoop.makeSucceededFuture(.exit(code)) }
            let defined: Bool
            switch stage {
            case .setup: defined = vu.definesSetup
            case .teardown: defined = vu.definesTeardown
            case .handleSummary: defined = vu.definesHandleSummary
            }
            guard defined else { return vu.eventLoop.makeSucceededFuture(.notDefined) }
            let result = vu.eventLoop.makePromise(of: Outcome.self)
            vu.callLifecycle(stage.rawValue, data: data, keepValue: stage != .teardown) { end in
                switch end {
                case .completed: result.succeed(.returned(SetupData(json: vu.lifecycleValue)))
                case .failed: result.succeed(.failed)
                case .interrupted: result.succeed(.interrupted)
                case .exit(let code): result.succeed(.exit(code))
                }
            }
            return result.futureResult
        }.hop(to: control)
        let timer = control.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { [self] in
            guard !finished else { return }
            timedOut = true
            stop()
        }
        call.whenComplete { [self] result in
            finished = true
            timer.cancel()
            var outcome = (try? result.get()) ?? .failed
            if outcome == .interrupted && timedOut { outcome = .timedOut }
            done(outcome)
        }
    }

    /// On the control loop: stops the call (SIGINT, or its time is up), also Lua code of it that
    /// never gives its loop back.
    func stop() {
        guard !finished else { return }
        let vu = self.vu
        vu.requestInterrupt()
        vu.eventLoop.execute { vu.interrupt() }
        VirtualUser.nudgeWhileStuck([vu], on: control) { [weak self] _ in !(self?.finished ?? true) }
    }

    /// Ends the VU on its loop; the status its plugins' exit hooks give (0: none).
    func end() -> EventLoopFuture<Int32> {
        let vu = self.vu
        return vu.eventLoop.submit { vu.stop() }
    }

    // MARK: Keeping setup's value

    /// Pushes a function that calls the global `name` with its arguments and keeps the first
    /// value it returns in the VU's `lifecycleValue`, as JSON text. Nil when it cannot be made
    /// (no memory): the call then fails as a function that is missing.
    /// For `handleSummary`: a function that calls it with the summary data alone (k6's
    /// `handleSummary(data)`) and keeps its outputs in the VU's `summaryOutputs`.
    static func pushKeepingCall(_ vm: LuaVM, _ name: String) {
        let L = vm.L
        let summary = name == Stage.handleSummary.rawValue
        guard (summary ? summaryChunk : keepingChunk).load(into: L) == LUA_OK else { netstack_pop(L, 1); lua_pushnil(L); return }
        vm.pushGlobal(name)
        vm.pushFunction(summary ? fnKeepOutputs : fnKeep)
        if lua_pcallk(L, 2, 1, 0, 0, nil) != LUA_OK {
            netstack_pop(L, 1)
            lua_pushnil(L)
        }
    }

    /// Lua, so that the script's function may wait (yield) on its way; compiled once per process.
    /// It is a frame of setup's tracebacks, so it keeps its line and says what it is.
    private static let keepingChunk = CompiledChunk(name: "=[netstack: calls setup]", source: Array("""
        local setup, keep = ...
        return function(...) return keep((setup(...))) end
        """.utf8), strip: false)

    private static let summaryChunk = CompiledChunk(name: "=[netstack: calls handleSummary]", source: Array("""
        local handleSummary, keep = ...
        return function(_, data) return keep((handleSummary(data))) end
        """.utf8), strip: false)

    /// The most text handleSummary() may return, over all its outputs.
    static let maxOutputBytes = 64 << 20

    /// handleSummary()'s value: nil (no output) or a table of output = text, where an output is
    /// `stdout`, `stderr` or a file's path; the outputs go to the VU's `summaryOutputs` in the
    /// order of their names.
    private static let fnKeepOutputs = LuaFunction.hosted { vm, host in
        guard let vu = host.owner as? VirtualUser else { return vm.raise("netstack: not a load run's VM") }
        let L = vm.L
        if vm.type(at: 1) <= LUA_TNIL {
            vu.summaryOutputs = []
            return 0
        }
        guard vm.type(at: 1) == LUA_TTABLE else {
            return vm.raise("handleSummary() must return a table of output = text (stdout, stderr or a file's path), not a \(vm.typeName(at: 1))")
        }
        var outputs: [(name: String, text: [UInt8])] = []
        var total = 0
        var problem: String?
        lua_pushnil(L)
        while lua_next(L, 1) != 0 {
            if problem == nil {
                if vm.type(at: -2) != LUA_TSTRING {
                    problem = "handleSummary()'s outputs are named by strings (stdout, stderr or a file's path), not by a \(vm.typeName(at: -2))"
                } else if let name = vm.string(at: -2), let text = vm.bytes(at: -1) {
                    total += text.count
                    if name.isEmpty || name.utf8.contains(0) {
                        problem = "handleSummary()'s output name '\(name)' is not stdout, stderr or a file's path"
                    } else if total > maxOutputBytes {
                        problem = "handleSummary() returned more than \(maxOutputBytes) bytes of text"
                    } else {
                        outputs.append((name, Array(text)))
                    }
                } else {
                    problem = "handleSummary()'s output '\(vm.string(at: -2) ?? "?")' is a \(vm.typeName(at: -1)), not text"
                }
            }
            netstack_pop(L, 1)
        }
        if let p = problem { return vm.raise(p) }
        vu.summaryOutputs = outputs.sorted { $0.name < $1.name }
        return 0
    }

    private static let fnKeep = LuaFunction.hosted { vm, host in
        guard let vu = host.owner as? VirtualUser else { return vm.raise("netstack: not a load run's VM") }
        if vm.type(at: 1) <= LUA_TNIL {
            vu.lifecycleValue = nil
            return 0
        }
        switch JSONModule.encode(vm, at: 1) {
        case .failure(let e):
            return vm.raise("the value setup() returned cannot go to the VUs as JSON: \(e.message)")
        case .success(let json):
            guard json.count <= maxDataBytes else {
                return vm.raise("the value setup() returned is \(json.count) bytes of JSON, more than the \(maxDataBytes) bytes the VUs may get")
            }
            vu.lifecycleValue = json
            return 0
        }
    }
}
