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
        let key = SeriesName.make("", tags: tags)
        if let cached = loop.recorderHandles[key] {
            handles = cached
        } else {
            handles = Handles(loop: loop, tags: tags)
            loop.recorderHandles[key] = handles
        }
    }

    /// A series of `metric` with the VU's tags and one more.
    func tagged(_ metric: String, _ kind: MetricKind, _ key: String, _ value: String) -> Int {
        loop.handle(SeriesName.make(metric, tags: tags + [(key, value)]), kind: kind)
    }

    func connectStarted() { loop.add(handles.attempts, 1) }

    func opened(connectNanos: UInt64, handshakeNanos: UInt64) {
        loop.add(handles.sessions, 1)
        loop.add(handles.connectTime, Double(connectNanos) / 1e6)
        loop.add(handles.handshake, Double(handshakeNanos) / 1e6)
        loop.add(handles.connecting, Double(connectNanos &+ handshakeNanos) / 1e6)
    }

    /// Series of the per-code counters this VU has used, by code: a connection's close then
    /// costs an integer lookup, not a series name built and hashed. Loop-confined, as the VU is.
    @exclusivity(unchecked) private var closesByCode: [UInt32: Int] = [:]
    @exclusivity(unchecked) private var failuresByCode: [Int32: Int] = [:]
    @exclusivity(unchecked) private var errorsByCode: [Int32: Int] = [:]

    func errorReported(code: Int32) {
        let h = errorsByCode[code] ?? tagged(BuiltinMetrics.errors, .counter, "code", String(code))
        errorsByCode[code] = h
        loop.add(h, 1)
    }

    func failedBeforeOpen(code: Int32) {
        let h = failuresByCode[code] ?? tagged(BuiltinMetrics.connectFailures, .counter, "code", String(code))
        failuresByCode[code] = h
        loop.add(h, 1)
    }

    func closed(code: UInt32, clean: Bool, sessionNanos: UInt64) {
        loop.add(handles.session, Double(sessionNanos) / 1e6)
        let h = closesByCode[code] ?? tagged(BuiltinMetrics.closes, .counter, "code", String(code))
        closesByCode[code] = h
        loop.add(h, 1)
    }

    func received(bytes: Int) {
        loop.add(handles.msgsIn, 1)
        loop.add(handles.bytesIn, Double(bytes))
    }

    func sent(bytes: Int) {
        loop.add(handles.msgsOut, 1)
        loop.add(handles.bytesOut, Double(bytes))
    }
}
