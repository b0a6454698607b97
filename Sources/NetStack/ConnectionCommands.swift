/// What a client may ask of its current connection: the only way in from `WebSocketClient` to the
/// connection handler. Called on the connection's event loop only.
///
/// Ownership runs one way. The channel's pipeline (and, before the channel exists, the connect
/// attempt and its timer) owns the handler; the handler owns its client until the terminal event,
/// so a client nobody else holds still gets its callbacks; the client refers to the connection
/// weakly, through these commands, and never keeps it alive. (The weak reference has a price per
/// `send`: an atomic load, and the side table it gives the handler makes the handler's retains
/// and releases take the runtime's slow path; docs/performance.md measures it.)
protocol ConnectionCommands: AnyObject {
    /// Queues one message (its bytes are copied into the write batch before this returns).
    func sendMessage(_ bytes: UnsafeRawBufferPointer, kind: WebSocketMessageKind)
    /// Queues several messages of one kind, in order, framed into the write batch in one pass
    /// (`payloadBytes` is the sum of their lengths, already counted in the client's `queued`;
    /// `frameBytes` what their masked frames take, `FrameEncoder.maskedBatchSizes`).
    func sendMessages(_ messages: UnsafeBufferPointer<UnsafeRawBufferPointer>, kind: WebSocketMessageKind, payloadBytes: Int, frameBytes: Int)
    /// Queues a ping (payload at most 125 bytes, checked by the client); `completion`, when
    /// given, gets the round trip or why there was none.
    func sendPing(_ payload: [UInt8], completion: WebSocketClient.PingCompletion?)
    /// Starts the close handshake with this code and reason (both checked by the client).
    func initiateClose(code: CloseCode, reason: String)
    /// `destroy`: no more callbacks; the connection is dropped now.
    func abandon()
}
