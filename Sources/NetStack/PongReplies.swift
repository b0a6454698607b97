import NIOCore

/// When a ping is answered. A value without I/O, for one connection.
///
/// Every ping is answered while the peer reads what we write. A peer that sends pings and stops
/// reading would otherwise grow our memory by a pong per ping: once the channel is not writable
/// (its high watermark is queued) or the unflushed writes hold `outboxLimit` bytes of pongs, only
/// the newest ping is kept, and answered when the channel drains (RFC 6455 §5.5.3 allows
/// answering only the most recent ping).
struct PongReplies {
    /// Pong bytes the unflushed writes may hold before pings are coalesced (one read of tiny pings).
    static let outboxLimit = 64 * 1024

    /// The payload of the newest ping not answered yet.
    private(set) var waiting: ByteBuffer?
    /// Pong bytes written since the last flush (a pong frame from us: payload, 2 header bytes and
    /// a 4-byte mask key).
    private(set) var bytesSinceFlush = 0

    /// A ping with `payload` arrived: the pong to write now, or nil when it waits (in place of
    /// any older one that waits).
    mutating func ping(_ payload: ByteBuffer, writable: Bool) -> ByteBuffer? {
        if waiting != nil || bytesSinceFlush >= Self.outboxLimit || !writable {
            waiting = payload
            return nil
        }
        bytesSinceFlush += payload.readableBytes + 6
        return payload
    }

    /// The writes were flushed: the budget starts again.
    mutating func flushed() {
        bytesSinceFlush = 0
    }

    /// The pong that waits, to write now that the channel is `writable`; nil when none waits or
    /// the channel still is not writable.
    mutating func takeWaiting(writable: Bool) -> ByteBuffer? {
        guard writable, let p = waiting else { return nil }
        waiting = nil
        bytesSinceFlush += p.readableBytes + 6
        return p
    }
}
