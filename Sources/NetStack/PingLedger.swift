import NIOCore

/// Pings sent with an `onPong`, oldest first, until their pongs come (at most `limit` at once).
///
/// A value without I/O: the connection records each such ping when it is written and each pong
/// when it arrives, and runs the completions this gives back. A pong answers the ping with its
/// payload and every ping sent before it (RFC 6455 §5.5.3 lets a peer answer only the latest),
/// each with its own round trip.
struct PingLedger {
    typealias Completion = WebSocketClient.PingCompletion

    /// A completion to run, with what it reports.
    struct Settled {
        let completion: Completion
        let result: Result<TimeAmount, WebSocketError>
        func run() { completion(result) }
    }

    let limit: Int
    private var waiting: [(payload: [UInt8], sentAt: UInt64, completion: Completion)] = []

    init(limit: Int = WebSocketClient.maxPingsAwaitingPong) {
        self.limit = limit
    }

    var isEmpty: Bool { waiting.isEmpty }
    var count: Int { waiting.count }

    /// A ping with `payload` is written at `sentAt` (nanoseconds of a monotonic clock). Nil when
    /// it now waits for its pong; when `limit` pings already wait, the failure to report at once
    /// (the ping is then not to be written).
    mutating func sent(_ payload: [UInt8], at sentAt: UInt64, completion: @escaping Completion) -> Settled? {
        guard waiting.count < limit else {
            return Settled(completion: completion,
                           result: .failure(WebSocketError(.queueLengthExceeded, "\(limit) pings already await their pong")))
        }
        waiting.append((payload, sentAt, completion))
        return nil
    }

    /// A pong with `payload` arrived at `now`: the pings it answers, oldest first, with their
    /// round trips. A pong whose payload matches no waiting ping answers none (an unsolicited pong
    /// is a heartbeat, RFC 6455 §5.5.3).
    mutating func pong(_ payload: ByteBuffer, at now: UInt64) -> [Settled] {
        guard let i = waiting.firstIndex(where: { payload.readableBytesView.elementsEqual($0.payload) }) else { return [] }
        let answered = waiting[...i].map { Settled(completion: $0.completion, result: .success(.nanoseconds(Int64(now &- $0.sentAt)))) }
        waiting.removeFirst(i + 1)
        return answered
    }

    /// The connection ended: every waiting ping fails, oldest first, and none waits any more.
    mutating func connectionEnded() -> [Settled] {
        let failure = WebSocketError(.noConnection, "the connection ended before the pong")
        defer { waiting = [] }
        return waiting.map { Settled(completion: $0.completion, result: .failure(failure)) }
    }

    /// `destroy`: the waiting pings are dropped without a report.
    mutating func forget() {
        waiting = []
    }
}
