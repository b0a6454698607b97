import NIOCore

/// The life of one client connection as a value: where it is (connecting, upgrading, open,
/// closing and who started it, closed) and, for each event, the actions the connection must take.
///
/// It owns two rules and nothing else does:
/// - **Exactly one terminal event.** Before the upgrade the terminal event is an error
///   (`reportError` with `terminal`), after it a close (`reportClose`); either moves the machine to
///   `closed`, after which no event produces another callback. `abandon` (destroy) moves there
///   without any.
/// - **The close handshake** (RFC 6455 §5.5.1, §7): a received close is echoed unless ours went
///   first; after our close frame input is still read until the peer's arrives; a protocol failure
///   sends its close code once and stops reading; the close result (code, reason, clean or not)
///   is computed here from what happened.
///
/// No I/O, no clock, no callbacks: the handler (`WebSocketConnectionHandler`) feeds events in and
/// carries out the actions in order. Events that run a callback (`reportError`, `reportClose`, and
/// `onOpen` after `upgraded`) can re-enter the connection (a script that closes or destroys its
/// client in the callback); what depends on that is a separate event (`failureReported`), so each
/// event's actions are decided from the state it finds.
///
/// Not here: frame parsing (`FrameReceiver`), the outbox, pong coalescing and the read buffers
/// (per message, on the hot path), and the timers themselves (the handler arms them when told).
struct ConnectionStateMachine {
    enum State {
        /// TCP (and TLS) not established yet.
        case connecting
        /// The upgrade request is written; waiting for the 101 response.
        case upgrading
        /// The server answered with another status; collecting up to `wanted` bytes of its body
        /// for the error message. Boxed (`indirect`): it is rare, and an open connection should not
        /// carry its size.
        indirect case rejected(Rejection)
        case open(Open)
        /// A close frame went out (ours, our echo of the peer's, or the one a failure sends).
        /// Boxed, as `rejected`: an open connection should not carry its size.
        indirect case closing(Closing)
        /// The terminal event was delivered, or the client was abandoned.
        case closed
    }

    struct Rejection {
        var head: UpgradeResponseHead
        var body: ByteBuffer
        var wanted: Int
    }

    struct Open {
        /// Why the transport went away, when it did without a close handshake (error text).
        var lostReason: String?
    }

    /// Who started the close handshake.
    enum Initiator: Equatable {
        /// `close()` was called.
        case local
        /// The peer's close frame arrived first; ours is the echo.
        case remote
        /// The peer broke the protocol (or a limit); our close frame carries the failure's code.
        case failure
    }

    struct CloseFrame: Equatable {
        var code: CloseCode
        var reason: String
    }

    struct Closing {
        var initiator: Initiator
        /// The peer's close frame, once it arrived.
        var received: CloseFrame?
        /// The failure that closes the connection (code sent, message reported).
        var failure: CloseFrame?
        var lostReason: String?
    }

    enum Action: Equatable {
        /// Queue a close frame (no code: an empty close, the echo of an empty one).
        case writeClose(code: CloseCode?, reason: String)
        /// Write what is queued now.
        case flush
        case closeChannel
        /// Hand what is queued to the channel, then close it (accepted writes are written).
        case closeChannelAfterWrites
        case cancelConnectTimer
        case startKeepalive
        case stopKeepalive
        /// Close the channel if the peer's close does not end TCP within the close timeout.
        case armCloseTimer
        case setClientState(WebSocketClientState)
        /// `onError`. Terminal before the upgrade; after it, the close that follows is terminal.
        case reportError(WebSocketError, terminal: Bool)
        /// `onClose`, the terminal event of an upgraded connection.
        case reportClose(WebSocketCloseResult)
        /// Nothing more will happen: drop timers, buffers and the client.
        case release
    }

    private(set) var state: State = .connecting

    // MARK: Questions asked per message (no allocation, no actions)

    /// Application messages and pings may be sent: open, and no close frame sent yet.
    var canSend: Bool {
        if case .open = state { return true }
        return false
    }

    /// Frames are parsed: open, or closing after our own close frame until the peer's arrives.
    /// After the peer's close or a failure, input is ignored.
    var isReceiving: Bool {
        switch state {
        case .open: return true
        case .closing(let c): return c.initiator == .local && c.received == nil && c.failure == nil
        default: return false
        }
    }

    /// Pings are answered until our close frame is sent (nothing may follow it, §5.5.1).
    var answersPings: Bool { canSend }

    var isUpgrading: Bool {
        if case .upgrading = state { return true }
        return false
    }

    var isRejected: Bool {
        if case .rejected = state { return true }
        return false
    }

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    // MARK: Before the upgrade

    /// The transport is up. False when the connection already ended (abandoned, or failed while
    /// connecting): the channel is to be closed instead of upgraded.
    mutating func transportConnected() -> Bool {
        guard case .connecting = state else { return false }
        state = .upgrading
        return true
    }

    /// The connection failed before the upgrade: connecting, TLS, a malformed or refused answer,
    /// a timeout. Ignored after the terminal event.
    mutating func failBeforeOpen(_ error: WebSocketError) -> [Action] {
        let hadChannel: Bool
        switch state {
        case .connecting: hadChannel = false
        case .upgrading, .rejected: hadChannel = true
        case .open, .closing, .closed: return []
        }
        state = .closed
        var actions: [Action] = [.cancelConnectTimer, .setClientState(.closed), .reportError(error, terminal: true)]
        // A channel that was never active gets no channelInactive: release now.
        if !hadChannel { actions.append(.release) }
        return actions
    }

    /// The upgrade response was malformed or did not validate (RFC 6455 §4.1): the terminal
    /// error, and the channel closes.
    mutating func upgradeFailed(_ error: WebSocketError) -> [Action] {
        failBeforeOpen(error) + [.closeChannel]
    }

    /// The server answered the upgrade with `head`, not 101; `body` came with it and `wanted`
    /// bytes of body are awaited for the message (what Content-Length promises, at most 256).
    mutating func rejected(_ head: UpgradeResponseHead, body: ByteBuffer, wanted: Int) -> [Action] {
        guard case .upgrading = state else { return [] }
        if body.readableBytes >= wanted { return reportRejection(head, body: body) }
        state = .rejected(Rejection(head: head, body: body, wanted: wanted))
        return []
    }

    /// The answer was a redirect that will be followed by a new connection: this one ends with
    /// no event and the client stays connecting (the next hop's machine delivers the terminal event).
    mutating func redirected() -> [Action] {
        guard case .upgrading = state else { return [] }
        state = .closed
        return [.cancelConnectTimer, .closeChannel, .release]
    }

    /// More of a rejection's body.
    mutating func rejectionBody(_ more: inout ByteBuffer) -> [Action] {
        guard case .rejected(var r) = state else { return [] }
        state = .upgrading  // while the rejection is rebuilt (no copy-on-write of the body)
        r.body.writeBuffer(&more)
        if r.body.readableBytes >= r.wanted { return reportRejection(r.head, body: r.body) }
        state = .rejected(r)
        return []
    }

    private mutating func reportRejection(_ head: UpgradeResponseHead, body: ByteBuffer) -> [Action] {
        var message = "server rejected the upgrade: \(head.statusLine)"
        if body.readableBytes > 0 {
            let preview = body.withUnsafeReadableBytes { UpgradeResponseHead.preview($0, limit: 200) }
            message += "; body: \(preview)"
        }
        return failBeforeOpen(WebSocketError(.connectionError, message)) + [.closeChannel]
    }

    /// The 101 response was valid: open. The handler calls `onOpen` after these actions.
    mutating func upgraded() -> [Action] {
        guard case .upgrading = state else { return [] }
        state = .open(Open())
        return [.cancelConnectTimer, .setClientState(.open), .startKeepalive]
    }

    /// The connect timeout (connecting, TLS and upgrade together) fired.
    mutating func connectTimerFired(timeout: String) -> [Action] {
        switch state {
        case .rejected(let r):
            // The answer was not 101 and its body never completed: the status line is the news.
            return reportRejection(r.head, body: r.body)
        case .connecting, .upgrading:
            return failBeforeOpen(WebSocketError(.connectionError, "timed out after \(timeout) (connecting, TLS and upgrade)")) + [.closeChannel]
        case .open, .closing, .closed:
            return []
        }
    }

    // MARK: Open

    /// `close(code, reason)` from the application.
    mutating func close(code: CloseCode, reason: String) -> [Action] {
        guard case .open(let o) = state else { return [] }
        state = .closing(Closing(initiator: .local, lostReason: o.lostReason))
        return [.writeClose(code: code, reason: reason)] + Self.enteringClosing + [.flush]
    }

    /// The peer's close frame (`code` nil for an empty one). Reading stops after it.
    mutating func receivedClose(code: CloseCode?, reason: String) -> [Action] {
        let frame = CloseFrame(code: code ?? CloseCode.normal, reason: reason)
        switch state {
        case .open(let o):
            state = .closing(Closing(initiator: .remote, received: frame, lostReason: o.lostReason))
            // Echo the status code (an empty close is answered with an empty close).
            return [.writeClose(code: code, reason: "")] + Self.enteringClosing + [.flush]
        case .closing(var c) where c.received == nil && c.failure == nil:
            c.received = frame
            state = .closing(c)
            return [.flush]
        default:
            return []
        }
    }

    /// The peer broke the protocol or a limit: `closeCode` goes into our close frame (unless one
    /// was sent), then the error is reported. Reading stops. Follow with `failureReported` once
    /// `onError` returned.
    mutating func protocolFailure(closeCode: CloseCode, error: WebSocketError) -> [Action] {
        let failure = CloseFrame(code: closeCode, reason: error.message)
        switch state {
        case .open(let o):
            state = .closing(Closing(initiator: .failure, failure: failure, lostReason: o.lostReason))
            // Queued before onError runs, behind what was sent before: a client destroyed in
            // onError still writes both, and sends from onError are refused.
            return [.writeClose(code: closeCode, reason: ""), .reportError(error, terminal: false)]
        case .closing(var c) where c.received == nil && c.failure == nil:
            c.failure = failure
            state = .closing(c)
            return [.reportError(error, terminal: false)]
        default:
            return []
        }
    }

    /// `onError` of a protocol failure returned: unless the client was abandoned in it, the
    /// connection closes after what is queued is written.
    mutating func failureReported() -> [Action] {
        guard case .closing = state else { return [] }
        return Self.enteringClosing + [.closeChannelAfterWrites]
    }

    /// No pong came within the pong timeout after a keepalive ping: report, drop TCP. The close
    /// that follows reports 1006 with `reason`.
    mutating func pongTimedOut(reason: String, error: WebSocketError) -> [Action] {
        switch state {
        case .open(var o):
            o.lostReason = reason
            state = .open(o)
        case .closing(var c):
            c.lostReason = reason
            state = .closing(c)
        default:
            return []
        }
        return [.reportError(error, terminal: false), .closeChannel]
    }

    private static let enteringClosing: [Action] = [.setClientState(.closing), .stopKeepalive, .armCloseTimer]

    // MARK: The transport

    /// A transport error (I/O, TLS). Before the upgrade it is the terminal error; after it, the
    /// first one becomes the reason of the 1006 close. The channel closes either way.
    mutating func transportError(_ error: WebSocketError) -> [Action] {
        switch state {
        case .connecting, .upgrading, .rejected:
            return failBeforeOpen(error) + [.closeChannel]
        case .open(var o):
            if o.lostReason == nil { o.lostReason = error.message }
            state = .open(o)
        case .closing(var c):
            if c.lostReason == nil { c.lostReason = error.message }
            state = .closing(c)
        case .closed:
            break
        }
        return [.closeChannel]
    }

    /// TCP ended (the channel went inactive): the terminal event if none was delivered, then release.
    mutating func transportClosed() -> [Action] {
        switch state {
        case .connecting, .upgrading:
            return failBeforeOpen(WebSocketError(.connectionClosedByPeer, "server closed the connection during the opening handshake")) + [.release]
        case .rejected(let r):
            return reportRejection(r.head, body: r.body) + [.release]
        case .open(let o):
            state = .closed
            return [.setClientState(.closed),
                    .reportClose(WebSocketCloseResult(code: UInt32(CloseCode.abnormal.rawValue),
                                                      reason: o.lostReason ?? Self.noCloseFrame, wasClean: false)),
                    .release]
        case .closing(let c):
            state = .closed
            return [.setClientState(.closed), .reportClose(Self.result(of: c)), .release]
        case .closed:
            return [.release]
        }
    }

    /// The close result: the peer's close (clean: ours was sent too), else our failure's code,
    /// else 1006 with why the transport went away.
    static func result(of c: Closing) -> WebSocketCloseResult {
        if let r = c.received {
            return WebSocketCloseResult(code: UInt32(r.code.rawValue), reason: r.reason, wasClean: true)
        }
        if let f = c.failure {
            return WebSocketCloseResult(code: UInt32(f.code.rawValue), reason: f.reason, wasClean: false)
        }
        return WebSocketCloseResult(code: UInt32(CloseCode.abnormal.rawValue), reason: c.lostReason ?? noCloseFrame, wasClean: false)
    }

    static let noCloseFrame = "connection closed without a close frame"

    /// `destroy`: no more callbacks. The handler drops the connection itself.
    mutating func abandon() {
        state = .closed
    }
}
