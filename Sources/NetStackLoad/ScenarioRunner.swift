import Atomics
import Dispatch
import LuaHost
import NIOCore

/// Runs one scenario's executor for this segment, on the run's control loop: decides when each
/// VU starts an iteration, ramps, dispatches arrivals, and stops (graceful stop, then interrupt).
final class ScenarioRunner {
    let scenario: Scenario
    let segment: Segment
    /// The first VU id of the scenario's block minus one (ids are offset + k + 1).
    let vuOffset: Int
    unowned let run: LoadRun
    let control: EventLoop

    /// This segment's VUs, by rank (scenario-local index k = segment.index-1 + rank·count).
    @exclusivity(unchecked) private(set) var vus: [VirtualUser] = []
    @exclusivity(unchecked) private var busy: [Bool] = []
    /// VUs running an iteration (or being initialised for one), kept so that nothing per
    /// iteration scans every VU.
    @exclusivity(unchecked) private(set) var busyCount = 0
    /// Arrival-rate scenarios: VUs that are free, most recently freed last.
    @exclusivity(unchecked) private var free: [Int] = []
    /// Per-VU iterations: VUs that ran all of theirs.
    @exclusivity(unchecked) private var vusDone = 0
    @exclusivity(unchecked) private var active: [Bool] = []
    @exclusivity(unchecked) private var done: [Int] = []
    @exclusivity(unchecked) private var starting = 0
    /// Shared iterations left for this segment.
    @exclusivity(unchecked) private var remaining = 0
    /// Uptime nanoseconds: the scenario's start, the end of its schedule, its hard stop.
    @exclusivity(unchecked) private(set) var startedAt: UInt64 = 0
    @exclusivity(unchecked) private var endAt: UInt64 = 0
    @exclusivity(unchecked) private(set) var finished = false
    @exclusivity(unchecked) private var stopping = false {
        didSet {
            if stopping {
                stopSignal.store(true, ordering: .relaxed)
                for vu in vus { vu.windingDown.store(true, ordering: .relaxed) }
            }
        }
    }
    /// `stopping`, for VUs that run their iterations on their own loop (`launch`).
    private let stopSignal = ManagedAtomic<Bool>(false)
    @exclusivity(unchecked) private var ticker: RepeatedTask?
    @exclusivity(unchecked) private var nextArrival = 0
    @exclusivity(unchecked) private(set) var dropped = 0

    init(scenario: Scenario, segment: Segment, vuOffset: Int, run: LoadRun) {
        self.scenario = scenario
        self.segment = segment
        self.vuOffset = vuOffset
        self.run = run
        self.control = run.control
    }

    /// VUs this segment initialises before the start (arrival-rate: the pre-allocated ones).
    var initialVUs: Int {
        switch scenario.executor {
        case .constantArrivalRate(_, _, _, let pre, _), .rampingArrivalRate(_, _, _, let pre, _): return segment.share(of: pre)
        default: return segment.share(of: scenario.executor.maxVUs)
        }
    }

    var maxVUs: Int { segment.share(of: scenario.executor.maxVUs) }

    /// The VU of rank `vus.count` (made, not yet started).
    func makeVU() -> VirtualUser {
        let rank = vus.count
        let k = segment.index - 1 + rank * segment.count
        let vu = run.makeVU(id: vuOffset + k + 1, scenario: scenario)
        vus.append(vu)
        busy.append(false)
        free.append(vus.count - 1)
        active.append(false)
        done.append(0)
        return vu
    }

    /// VUs running an iteration or held active by the executor.
    var activeCount: Int {
        switch scenario.executor {
        case .constantArrivalRate, .rampingArrivalRate: return busyCount
        default: return zip(active, busy).filter { $0 || $1 }.count
        }
    }

    private func setBusy(_ r: Int, _ value: Bool) {
        guard busy[r] != value else { return }
        let was = counted(r)
        busy[r] = value
        busyCount += value ? 1 : -1
        if !value { free.append(r) }
        if counted(r) != was { run.activeVUsChanged(by: value ? 1 : -1) }
    }

    private func setActive(_ r: Int, _ value: Bool) {
        let was = counted(r)
        active[r] = value
        if counted(r) != was { run.activeVUsChanged(by: value ? 1 : -1) }
    }

    /// Whether VU `r` counts in `activeCount`.
    private func counted(_ r: Int) -> Bool {
        switch scenario.executor {
        case .constantArrivalRate, .rampingArrivalRate: return busy[r]
        default: return active[r] || busy[r]
        }
    }

    // MARK: Running

    func start() {
        startedAt = DispatchTime.now().uptimeNanoseconds
        endAt = startedAt &+ UInt64(scenario.executor.duration.nanoseconds)
        switch scenario.executor {
        case .constantVUs, .perVUIterations:
            for r in vus.indices { setActive(r, true); next(r) }
        case .sharedIterations(let v, let iterations, _):
            // Iteration j goes to the segment of VU slot (j mod v): segments get work in
            // proportion to their VUs, and the union is exactly `iterations`.
            remaining = v == 0 ? 0 : (iterations / v) * segment.share(of: v) + segment.share(of: iterations % v)
            for r in vus.indices { setActive(r, true); next(r) }
        case .rampingVUs:
            tick()
            ticker = control.scheduleRepeatedTask(initialDelay: .milliseconds(10), delay: .milliseconds(10)) { [weak self] _ in self?.tick() }
        case .constantArrivalRate, .rampingArrivalRate:
            nextArrival = nextOwnedArrival(from: 0)
            scheduleArrivals()
        }
        control.scheduleTask(in: .nanoseconds(Int64(endAt &- startedAt))) { [weak self] in self?.scheduleEnded() }
        checkDone()
    }

    private var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Whether VU `r` should start another iteration now.
    private func wants(_ r: Int) -> Bool {
        guard !stopping, now < endAt, active[r] else { return false }
        switch scenario.executor {
        case .perVUIterations(_, let m, _): return done[r] < m
        case .sharedIterations:
            guard remaining > 0 else { return false }
            remaining -= 1
            return true
        default: return true
        }
    }

    private func next(_ r: Int) {
        guard !busy[r], wants(r) else { return }
        launch(r)
    }

    /// Starts VU `r` on its loop. Where whether it goes on depends on nothing but itself (constant
    /// VUs: the clock and the stop; per-VU iterations: also its own count), the VU runs its
    /// iterations back to back on its loop and reports to the control loop once, when it stops:
    /// two cross-thread wake-ups per iteration saved. Otherwise it reports after each iteration.
    private func launch(_ r: Int) {
        setBusy(r, true)
        let vu = vus[r]
        let started = startedAt
        let budget: Int
        switch scenario.executor {
        case .constantVUs: budget = Int.max
        case .perVUIterations(_, let m, _): budget = m - done[r]
        default: budget = 1
        }
        let local = LocalIterations(vu: vu, budget: budget, endAt: endAt, stopSignal: stopSignal) { [control] n, end in
            control.execute { [weak self] in self?.iterationsEnded(r, n, end) }
        }
        vu.eventLoop.execute {
            vu.scenarioStartedAt = started
            local.next()
        }
    }

    /// VU `r` ran `count` iterations since `launch`; `end` is how the last one ended.
    private func iterationsEnded(_ r: Int, _ count: Int, _ end: IterationEnd) {
        setBusy(r, false)
        done[r] += count
        if case .perVUIterations(_, let m, _) = scenario.executor, done[r] == m { vusDone += 1 }
        if case .exit(let code) = end { run.exitRequested(code) }
        switch scenario.executor {
        case .constantArrivalRate, .rampingArrivalRate: break
        default: next(r)
        }
        checkDone()
    }

    // MARK: Ramping VUs

    private func tick() {
        guard case .rampingVUs(let startVUs, let stages, let grace) = scenario.executor, !stopping else { return }
        let t = Int64(min(now &- startedAt, UInt64(Int64.max)))
        let target = segment.share(of: RampSchedule(start: startVUs, stages: stages).target(at: t))
        for r in vus.indices {
            let want = r < target && now < endAt
            if want && !active[r] {
                setActive(r, true)
                vus[r].windingDown.store(false, ordering: .relaxed)
                next(r)
            } else if !want && active[r] {
                setActive(r, false)
                vus[r].windingDown.store(true, ordering: .relaxed)
                if busy[r] {
                    let n = done[r]
                    control.scheduleTask(in: .nanoseconds(grace.nanoseconds)) { [weak self] in
                        guard let self = self, self.busy[r], !self.active[r], self.done[r] == n else { return }
                        let vu = self.vus[r]
                        vu.requestInterrupt()
                        vu.eventLoop.execute { vu.interrupt() }
                        VirtualUser.nudgeWhileStuck([vu], on: self.control)
                    }
                }
            }
        }
    }

    // MARK: Arrival rate

    private var arrivals: ArrivalSchedule? {
        switch scenario.executor {
        case .constantArrivalRate(let rate, let unit, let d, _, _): return ArrivalSchedule(rate: rate, timeUnit: unit, duration: d)
        case .rampingArrivalRate(let start, let unit, let stages, _, _): return ArrivalSchedule(startRate: start, timeUnit: unit, stages: stages)
        default: return nil
        }
    }

    private func scheduleArrivals() {
        guard let schedule = arrivals, !stopping else { return }
        while let t = schedule.start(of: nextArrival) {
            let due = startedAt &+ UInt64(t)
            if due > now {
                control.scheduleTask(in: .nanoseconds(Int64(due &- now))) { [weak self] in self?.scheduleArrivals() }
                return
            }
            nextArrival = nextOwnedArrival(from: nextArrival + 1)
            arrive()
        }
    }

    /// Arrival j belongs to the segment that owns VU slot (j mod maxVUs): segments get arrivals
    /// in proportion to their VUs (a segment without VUs gets none) and the union is every arrival.
    private func nextOwnedArrival(from j: Int) -> Int {
        let pool = Swift.max(1, scenario.executor.maxVUs)
        guard segment.share(of: pool) > 0, j < Int.max / 2 else { return Int.max / 2 }
        var k = j
        while !segment.owns(k % pool) { k += 1 }
        return k
    }

    private func arrive() {
        while let r = free.popLast() {
            if !busy[r] {
                launch(r)
                return
            }
        }
        guard vus.count < maxVUs else {
            dropped += 1
            run.droppedIteration(scenario)
            return
        }
        // A new VU: initialised on its loop, then it takes this iteration.
        let vu = makeVU()
        let r = vus.count - 1
        _ = free.popLast()
        setBusy(r, true)
        starting += 1
        run.initialize([vu]) { [weak self] ok in
            guard let self = self else { return }
            self.starting -= 1
            self.setBusy(r, false)
            if ok && !self.stopping {
                _ = self.free.popLast()
                self.launch(r)
            } else {
                self.checkDone()
            }
        }
    }

    // MARK: Stopping

    /// The schedule's end: no new iterations; running ones get the graceful stop.
    private func scheduleEnded() {
        stop(grace: scenario.gracefulStop)
    }

    /// Stops starting iterations; after `grace`, interrupts the running ones.
    func stop(grace: LoadDuration) {
        if !stopping {
            stopping = true
            ticker?.cancel()
        }
        control.scheduleTask(in: .nanoseconds(grace.nanoseconds)) { [weak self] in self?.interruptAll() }
        checkDone()
    }

    func interruptAll() {
        stopping = true
        ticker?.cancel()
        var asked: [VirtualUser] = []
        for r in vus.indices where busy[r] {
            let vu = vus[r]
            vu.requestInterrupt()
            asked.append(vu)
            vu.eventLoop.execute { vu.interrupt() }
        }
        VirtualUser.nudgeWhileStuck(asked, on: control)
        checkDone()
    }

    private func checkDone() {
        guard !finished, starting == 0, busyCount == 0 else { return }
        let over: Bool
        switch scenario.executor {
        case .perVUIterations(_, let m, _): over = stopping || now >= endAt || m == 0 || vusDone == vus.count
        case .sharedIterations: over = stopping || now >= endAt || remaining == 0
        default: over = stopping || now >= endAt
        }
        guard over else { return }
        finished = true
        stopping = true
        ticker?.cancel()
        run.scenarioFinished(self)
    }
}
