/// A run of whole messages from one read, lent to `WebSocketClient.onMessageRun`: the consumer
/// takes them one at a time with `next()`, which applies the checks the connection makes between
/// two messages (receiving has not ended, the client is still the connection's and not
/// destroyed). Valid only during that call: the bytes are the read buffer's. What the consumer
/// leaves, the connection delivers to `onMessage`, one message at a time.
package struct MessageRun {
    private let handler: WebSocketConnectionHandler
    private let client: WebSocketClient
    private let batch: WholeMessageBatch
    private let base: UnsafeRawPointer?
    private let start: Int
    /// The next message of the batch.
    private(set) var index = 0
    /// The buffer index after the messages taken.
    private(set) var at: Int

    init(handler: WebSocketConnectionHandler, client: WebSocketClient, batch: WholeMessageBatch, base: UnsafeRawPointer?, start: Int) {
        self.handler = handler
        self.client = client
        self.batch = batch
        self.base = base
        self.start = start
        self.at = start
    }

    /// The next message to deliver (its bytes valid during the consumer's call), or nil when the
    /// run has ended: no message left, or receiving ended (after a failure). Messages a
    /// destroyed client would get are skipped, as the connection skips them.
    package mutating func next() -> (kind: WebSocketMessageKind, bytes: UnsafeRawBufferPointer)? {
        while index < batch.count {
            if index > 0, !handler.isReceivingMessages { return nil }
            let m = batch[index]
            index &+= 1
            at &+= m.headerLength
            // In range: the scan found the whole frame in these bytes.
            let bytes = UnsafeRawBufferPointer(start: base.map { $0 + (at &- start) }, count: m.payloadLength)
            at &+= m.payloadLength
            guard handler.delivers(to: client) else { continue }
            return (m.kind, bytes)
        }
        return nil
    }
}
