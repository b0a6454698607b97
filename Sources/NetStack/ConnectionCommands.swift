/// What a client may ask of its current connection: the only way in from `WebSocketClient` to the
/// connection handler. Called on the connection's event loop only.
///
/// Ownership. The channel's pipeline (and, before the channel exists, the connect attempt and its
/// timer) owns the handler; the handler owns its client until the terminal event, so a client
/// nobody else holds still gets its callbacks. The client refers to the connection through these
/// commands, strongly but only until then: the handler's `finish` (every terminal event, and a
/// redirect's hop that ends) and the client's `destroy` clear the reference, so the client never
/// keeps a finished connection alive. (A weak reference did the same at a cost per message: an
/// atomic load per `send`, and a side table that sends every retain and release of the handler
/// down the runtime's slow path.)
protocol ConnectionCommands: AnyObject {
    /// Queues one message (its bytes are copied into the write batch before this returns).
    func sendMessage(_ bytes: UnsafeRawBufferPointer, kind: WebSocketMessageKind)
    /// Queues a ping (payload at most 125 bytes, checked by the client); `completion`, when
    /// given, gets the round trip or why there was none.
    func sendPing(_ payload: [UInt8], completion: WebSocketClient.PingCompletion?)
    /// Starts the close handshake with this code and reason (both checked by the client).
    func initiateClose(code: CloseCode, reason: String)
    /// `destroy`: no more callbacks; the connection is dropped now.
    func abandon()
}
