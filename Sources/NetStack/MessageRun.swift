/// A run of whole messages from one read, lent to `WebSocketClient.onMessageRun`: the consumer
/// takes them one at a time with `next()`, which applies the checks the connection makes between
/// two messages (receiving has not ended, the client is still the connection's and not
/// destroyed) and steps through the run as the connection's own loop does (`step(over:...)`).
/// Valid only during that call: the bytes are the read buffer's. What the consumer leaves, the
/// connection delivers to `onMessage`, one message at a time.
package struct MessageRun {
    private let handler: WebSocketConnectionHandler
    private let client: WebSocketClient
    /// The batch's entries (`WholeMessageBatch.withEntries`), valid while the run is lent.
    private let entries: UnsafeBufferPointer<UInt64>
    private let base: UnsafeRawPointer?
    private let start: Int
    /// The next message of the batch.
    private(set) var index = 0
    /// The buffer index after the messages taken.
    private(set) var at: Int

    init(handler: WebSocketConnectionHandler, client: WebSocketClient, entries: UnsafeBufferPointer<UInt64>, base: UnsafeRawPointer?, start: Int) {
        self.handler = handler
        self.client = client
        self.entries = entries
        self.base = base
        self.start = start
        self.at = start
    }

    /// The next message to deliver (its bytes valid during the consumer's call), or nil when the
    /// run has ended: no message left, or receiving ended (after a failure). Messages a
    /// destroyed client would get are skipped, as the connection skips them.
    package mutating func next() -> (kind: WebSocketMessageKind, bytes: UnsafeRawBufferPointer)? {
        while index < entries.count {
            if index > 0, !handler.isReceivingMessages { return nil }
            let m = Self.step(over: entries[index], at: &at, base: base, start: start)
            index &+= 1
            if handler.delivers(to: client) { return m }
        }
        return nil
    }

    /// One message of a run: its kind and payload, for the entry of a `WholeMessageBatch` whose
    /// frame begins at buffer index `at`, which moves past the frame. `base` is the buffer's
    /// bytes from index `start`. The connection's own loop over a run steps with this too.
    @inline(__always)
    static func step(over entry: UInt64, at: inout Int, base: UnsafeRawPointer?, start: Int)
        -> (kind: WebSocketMessageKind, bytes: UnsafeRawBufferPointer) {
        let m = WholeMessageBatch.decode(entry)
        at &+= m.headerLength
        // In range: the scan found the whole frame in these bytes.
        let bytes = UnsafeRawBufferPointer(start: base.map { $0 + (at &- start) }, count: m.payloadLength)
        at &+= m.payloadLength
        return (m.kind, bytes)
    }
}
