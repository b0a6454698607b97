/// The metrics every load run records without any plugin.
public enum BuiltinMetrics {
    public static let vus = "vus", vusMax = "vus_max"
    public static let iterations = "iterations", iterationDuration = "iteration_duration"
    public static let droppedIterations = "dropped_iterations", interruptedIterations = "interrupted_iterations"
    public static let scriptErrors = "script_errors"
    public static let connectAttempts = "ws_connect_attempts", sessions = "ws_sessions"
    public static let connectFailures = "ws_connect_failures", errors = "ws_errors"
    public static let connecting = "ws_connecting", connectTime = "ws_connect_time", handshakeTime = "ws_handshake_time"
    public static let sessionDuration = "ws_session_duration"
    public static let msgsSent = "ws_msgs_sent", msgsReceived = "ws_msgs_received"
    public static let bytesSent = "ws_bytes_sent", bytesReceived = "ws_bytes_received"
    public static let closes = "ws_closes", rtt = "ws_rtt"

    /// Name, definition and meaning (the load-testing guide's table is this list).
    public static let all: [(String, MetricDefinition, String)] = [
        (vus, .init(kind: .gauge, additive: true), "VUs running an iteration or waiting for one"),
        (vusMax, .init(kind: .gauge, additive: true), "VUs created (initialised)"),
        (iterations, .init(kind: .counter), "iterations completed (idle after their entry point)"),
        (iterationDuration, .init(kind: .trend, unit: .milliseconds), "time from an iteration's start to its end (completed, failed or interrupted)"),
        (droppedIterations, .init(kind: .counter), "arrival-rate iterations not started: no free VU"),
        (interruptedIterations, .init(kind: .counter), "iterations stopped by the graceful stop's end, a ramp-down or SIGINT"),
        (scriptErrors, .init(kind: .counter), "uncaught errors in iterations, callbacks and timers"),
        (connectAttempts, .init(kind: .counter), "connects accepted (connection attempts)"),
        (sessions, .init(kind: .counter), "connections opened (the upgrade succeeded)"),
        (connectFailures, .init(kind: .counter), "attempts that ended before the open; tag code (WebSocket_ErrCode)"),
        (errors, .init(kind: .counter), "onError events (before and after the open); tag code (WebSocket_ErrCode)"),
        (connecting, .init(kind: .trend, unit: .milliseconds), "connect accepted → open (DNS, TCP, TLS, upgrade)"),
        (connectTime, .init(kind: .trend, unit: .milliseconds), "connect accepted → TCP established"),
        (handshakeTime, .init(kind: .trend, unit: .milliseconds), "TCP established → open (TLS and the HTTP upgrade)"),
        (sessionDuration, .init(kind: .trend, unit: .milliseconds), "open → close"),
        (msgsSent, .init(kind: .counter), "messages accepted for sending"),
        (msgsReceived, .init(kind: .counter), "messages received"),
        (bytesSent, .init(kind: .counter, unit: .bytes), "payload bytes accepted for sending"),
        (bytesReceived, .init(kind: .counter, unit: .bytes), "payload bytes received"),
        (closes, .init(kind: .counter), "connections that ended after opening; tag code (1006: dropped)"),
        (rtt, .init(kind: .trend, unit: .milliseconds), "request → reply time the script marks (netstack.metrics.request/reply)"),
    ]

    /// What the connections record (`--no-connection-metrics` turns these off; `ws_rtt` stays).
    public static let connectionMetrics: Set<String> = [connectAttempts, sessions, connectFailures, errors, connecting, connectTime,
                                                        handshakeTime, sessionDuration, msgsSent, msgsReceived, bytesSent, bytesReceived, closes]

    public static let definitions: [String: MetricDefinition] = Dictionary(uniqueKeysWithValues: all.map { ($0.0, $0.1) })
}
