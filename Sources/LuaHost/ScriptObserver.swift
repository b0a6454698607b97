/// What a load run measures of a script's connections, reported by the host on the VM's event
/// loop as it happens (never from another thread). Times are `DispatchTime` uptime nanoseconds.
package protocol ScriptObserver: AnyObject {
    /// `connect` was accepted (a connection attempt starts). Gives the series set the
    /// connection's measurements go to (`set` below), chosen now: in a load run, the VU's group.
    func connectStarted() -> Int32
    /// The upgrade succeeded: `connectNanos` from the attempt to TCP established, `handshakeNanos`
    /// from then to the open (TLS and the HTTP upgrade).
    func opened(set: Int32, connectNanos: UInt64, handshakeNanos: UInt64)
    /// The attempt ended before the open, with this `WebSocket_ErrCode`.
    func failedBeforeOpen(set: Int32, code: Int32)
    /// An `onError` event (before or after the open), with its `WebSocket_ErrCode`.
    func errorReported(set: Int32, code: Int32)
    /// An open connection ended: its close code (1006 when dropped), whether the close
    /// handshake completed, and how long it was open.
    func closed(set: Int32, code: UInt32, clean: Bool, sessionNanos: UInt64)
    /// The script destroyed an open (or closing) connection: it ended without completing a close
    /// handshake, after being open this long.
    func destroyedWhileOpen(set: Int32, sessionNanos: UInt64)
    /// A message arrived / was accepted for sending, with its payload size.
    func received(set: Int32, bytes: Int)
    func sent(set: Int32, bytes: Int)
}
