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
    /// The waiting messages; nil when none wait. The first message of a batch creates it and its
    /// sender schedules the drain, which takes it: one task per batch.
    private let batch = Mutex<ByteBuffer?>(nil)
    /// Whether a batch waits: read without the lock by `send` on the loop, which drains first.
    private let pending = Atomic<Bool>(false)
    private static let recordHeader = 9

    var isPending: Bool { pending.load(ordering: .acquiring) }

    init() {}

    /// Appends one message; true when the caller must schedule `drain` (the batch was empty).
    func append(_ payload: UnsafeRawBufferPointer, kind: WebSocketMessageKind) -> Bool {
        batch.withLock { bytes in
            let first = bytes == nil
            if first { bytes = ByteBufferAllocator().buffer(capacity: max(256, payload.count + Self.recordHeader)) }
            bytes!.writeInteger(kind == .text ? UInt8(0) : UInt8(1))
            bytes!.writeInteger(UInt64(payload.count), endianness: .host)
            bytes!.writeBytes(payload)
            pending.store(true, ordering: .releasing)
            return first
        }
    }

    /// Takes the batch (on the loop) and hands each message to `body` in the order they were sent.
    func drain(_ body: (UnsafeRawBufferPointer, WebSocketMessageKind) -> Void) {
        let taken: ByteBuffer? = batch.withLock { bytes in
            pending.store(false, ordering: .relaxed)
            defer { bytes = nil }
            return bytes
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
