import Dispatch
import LuaHost

/// Records one VU's built-in measurements into its loop's metrics, tagged with its scenario.
/// Handles are resolved once, so the message path is an array update.
final class VUMetricsRecorder: ScriptObserver {
    let loop: LoopMetrics
    /// `scenario:NAME` plus the scenario's tags, as (name, value) pairs.
    let tags: [(String, String)]
    /// The built-in series' handles (shared with the loop's other VUs of the same tags).
    let handles: Handles

    /// The built-in series' handles for one set of tags, made once per loop and shared by the
    /// VUs of a scenario there (each VU made its fifteen series names: 7 % of starting 30,000 VUs).
    struct Handles {
        let attempts, sessions, connecting, connectTime, handshake, session, msgsOut, msgsIn, bytesOut, bytesIn: Int
        let iterations, iterationDuration, interrupted, scriptErrors, rtt: Int

        init(loop: LoopMetrics, tags: [(String, String)]) {
            func h(_ name: String, _ kind: MetricKind) -> Int { loop.handle(SeriesName.make(name, tags: tags), kind: kind) }
            attempts = h(BuiltinMetrics.connectAttempts, .counter)
            sessions = h(BuiltinMetrics.sessions, .counter)
            connecting = h(BuiltinMetrics.connecting, .trend)
            connectTime = h(BuiltinMetrics.connectTime, .trend)
            handshake = h(BuiltinMetrics.handshakeTime, .trend)
            session = h(BuiltinMetrics.sessionDuration, .trend)
            msgsOut = h(BuiltinMetrics.msgsSent, .counter)
            msgsIn = h(BuiltinMetrics.msgsReceived, .counter)
            bytesOut = h(BuiltinMetrics.bytesSent, .counter)
            bytesIn = h(BuiltinMetrics.bytesReceived, .counter)
            iterations = h(BuiltinMetrics.iterations, .counter)
            iterationDuration = h(BuiltinMetrics.iterationDuration, .trend)
            interrupted = h(BuiltinMetrics.interruptedIterations, .counter)
            scriptErrors = h(BuiltinMetrics.scriptErrors, .counter)
            rtt = h(BuiltinMetrics.rtt, .trend)
        }
    }

    init(loop: LoopMetrics, tags: [(String, String)]) {
        self.loop = loop
        self.tags = tags
        handles = Self.handles(loop, tags)
        sets = [(tags, handles)]
    }

    private static func handles(_ loop: LoopMetrics, _ tags: [(String, String)]) -> Handles {
        let key = SeriesName.make("", tags: tags)
        if let cached = loop.recorderHandles[key] { return cached }
        let made = Handles(loop: loop, tags: tags)
        loop.recorderHandles[key] = made
        return made
    }

    /// The VU's group path (k6's `group`) while one runs: a connection made then records its
    /// ws_* metrics tagged `group = path`, as k6 tags a WebSocket session opened in a group.
    @exclusivity(unchecked) var group: String?
    /// Bounds on the group sets a script's group names can make (a VU's, a loop's): past them a
    /// connection records without the group tag.
    static let maxGroupSets = 256
    static let maxLoopHandleSets = 4096
    /// Series sets, by `set`: 0 the VU's own tags; then one per group a connection was made in.
    @exclusivity(unchecked) private var sets: [(tags: [(String, String)], handles: Handles)]
    @exclusivity(unchecked) private var setOfGroup: [String: Int32] = [:]

    /// A series of `metric` with the tags of `set` and one more.
    func tagged(_ metric: String, _ kind: MetricKind, set: Int32, _ key: String, _ value: String) -> Int {
        loop.handle(SeriesName.make(metric, tags: sets[Int(set)].tags + [(key, value)]), kind: kind)
    }

    func connectStarted() -> Int32 {
        var set: Int32 = 0
        if let g = group {
            if let known = setOfGroup[g] {
                set = known
            } else if sets.count <= Self.maxGroupSets, loop.recorderHandles.count < Self.maxLoopHandleSets {
                let tags = self.tags.filter { $0.0 != "group" } + [("group", g)]
                set = Int32(sets.count)
                sets.append((tags, Self.handles(loop, tags)))
                setOfGroup[g] = set
            }
        }
        loop.add(sets[Int(set)].handles.attempts, 1)
        return set
    }

    func opened(set: Int32, connectNanos: UInt64, handshakeNanos: UInt64) {
        let h = sets[Int(set)].handles
        loop.add(h.sessions, 1)
        loop.add(h.connectTime, Double(connectNanos) / 1e6)
        loop.add(h.handshake, Double(handshakeNanos) / 1e6)
        loop.add(h.connecting, Double(connectNanos &+ handshakeNanos) / 1e6)
    }

    /// Series of the per-code counters this VU has used, by set and code: a connection's close
    /// then costs an integer lookup, not a series name built and hashed. Loop-confined, as the VU is.
    @exclusivity(unchecked) private var closesByCode: [Int64: Int] = [:]
    @exclusivity(unchecked) private var failuresByCode: [Int64: Int] = [:]
    @exclusivity(unchecked) private var errorsByCode: [Int64: Int] = [:]

    private static func key(_ set: Int32, _ code: Int64) -> Int64 { Int64(set) << 33 | code }

    func errorReported(set: Int32, code: Int32) {
        let k = Self.key(set, Int64(code))
        let h = errorsByCode[k] ?? tagged(BuiltinMetrics.errors, .counter, set: set, "code", String(code))
        errorsByCode[k] = h
        loop.add(h, 1)
    }

    func failedBeforeOpen(set: Int32, code: Int32) {
        let k = Self.key(set, Int64(code))
        let h = failuresByCode[k] ?? tagged(BuiltinMetrics.connectFailures, .counter, set: set, "code", String(code))
        failuresByCode[k] = h
        loop.add(h, 1)
    }

    func closed(set: Int32, code: UInt32, clean: Bool, sessionNanos: UInt64) {
        loop.add(sets[Int(set)].handles.session, Double(sessionNanos) / 1e6)
        let k = Self.key(set, Int64(code))
        let h = closesByCode[k] ?? tagged(BuiltinMetrics.closes, .counter, set: set, "code", String(code))
        closesByCode[k] = h
        loop.add(h, 1)
    }

    /// In `ws_session_duration`, and in `ws_closes` as `code:destroyed` (not a close code: the
    /// close handshake did not complete, and it is not a failure as 1006 is).
    func destroyedWhileOpen(set: Int32, sessionNanos: UInt64) {
        loop.add(sets[Int(set)].handles.session, Double(sessionNanos) / 1e6)
        let k = Self.key(set, 1 << 32)  // above every close code (UInt32)
        let h = closesByCode[k] ?? tagged(BuiltinMetrics.closes, .counter, set: set, "code", "destroyed")
        closesByCode[k] = h
        loop.add(h, 1)
    }

    func received(set: Int32, bytes: Int) {
        let h = sets[Int(set)].handles
        loop.add(h.msgsIn, 1)
        loop.add(h.bytesIn, Double(bytes))
    }

    func sent(set: Int32, bytes: Int) {
        let h = sets[Int(set)].handles
        loop.add(h.msgsOut, 1)
        loop.add(h.bytesOut, Double(bytes))
    }
}
