import NIOCore
import Synchronization

/// Messages `send` accepted on a thread other than the connection's loop, waiting for the loop.
///
/// A program that sends from its own thread (the usual way in C) used to cost one task on the
/// loop per message: a buffer, a closure and a wake-up each. Now messages are appended to one
/// batch under a lock, and only the first message of a batch schedules a task; that task takes
/// the whole batch and frames every message in it, in order. The batch holds payload bytes the
/// send queue already counts, so `maxSendQueue` bounds it.
///
/// Each record is the message kind (one byte: 0 text, 1 binary), its length (eight bytes, host
/// order) and its payload. Stored in the client itself (about 40 bytes, no allocation until a
/// message is sent from another thread).
struct CrossThreadSends: ~Copyable, Sendable {
    /// Internal rather than private and nested: a private type inside this noncopyable struct
    /// broke the debug build of Swift 6.3.1 ("Global is external, but doesn't have external or
    /// weak linkage").
    struct Batch {
        var bytes: ByteBuffer?
        /// A task to drain the batch is on the loop's queue.
        var scheduled = false
    }

    private let batch = Mutex(Batch())
    /// Whether a batch waits: read without the lock by `send` on the loop, which drains first.
    private let pending = Atomic<Bool>(false)
    private static let recordHeader = 9

    var isPending: Bool { pending.load(ordering: .acquiring) }

    init() {}

    /// Appends one message; true when the caller must schedule `drain` (the batch was empty).
    func append(_ payload: UnsafeRawBufferPointer, kind: WebSocketMessageKind) -> Bool {
        batch.withLock { b in
            if b.bytes == nil { b.bytes = ByteBufferAllocator().buffer(capacity: max(256, payload.count + Self.recordHeader)) }
            b.bytes!.writeInteger(kind == .text ? UInt8(0) : UInt8(1))
            b.bytes!.writeInteger(UInt64(payload.count), endianness: .host)
            b.bytes!.writeBytes(payload)
            pending.store(true, ordering: .releasing)
            if b.scheduled { return false }
            b.scheduled = true
            return true
        }
    }

    /// Takes the batch (on the loop) and hands each message to `body` in the order they were sent.
    func drain(_ body: (UnsafeRawBufferPointer, WebSocketMessageKind) -> Void) {
        let taken: ByteBuffer? = batch.withLock { b in
            b.scheduled = false
            pending.store(false, ordering: .relaxed)
            defer { b.bytes = nil }
            return b.bytes
        }
        guard let records = taken else { return }
        records.withUnsafeReadableBytes { raw in
            var at = 0
            while at + Self.recordHeader <= raw.count {
                let kind: WebSocketMessageKind = raw[at] == 0 ? .text : .binary
                let length = Int(raw.loadUnaligned(fromByteOffset: at + 1, as: UInt64.self))
                let start = at + Self.recordHeader
                body(UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)]), kind)
                at = start + length
            }
        }
    }
}
