import Glibc
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
    /// The records of a batch, in memory of their own (`realloc`): appending is a capacity check
    /// and a copy. A `ByteBuffer` cost a dynamic exclusivity check on its storage for each call
    /// into SwiftNIO's inlined code (about 80 instructions) and a generic slice of its writable
    /// bytes; an array's `append(contentsOf:)` about 80 instructions each.
    private struct Records {
        var base: UnsafeMutableRawPointer?
        var count = 0
        var capacity = 0
    }

    /// The waiting messages; empty when none wait. The first message of a batch starts it and its
    /// sender schedules the drain, which takes it: one task per batch.
    private let batch = Mutex(Records())
    /// Whether a batch waits: read without the lock by `send` on the loop, which drains first.
    private let pending = Atomic<Bool>(false)
    private static let recordHeader = 9

    var isPending: Bool { pending.load(ordering: .acquiring) }

    init() {}

    /// Appends one message; true when the caller must schedule `drain` (the batch was empty).
    func append(_ payload: UnsafeRawBufferPointer, kind: WebSocketMessageKind) -> Bool {
        batch.withLock { records in
            let first = records.count == 0
            let n = payload.count
            let end = records.count + Self.recordHeader + n
            if end > records.capacity {
                let capacity = max(256, end, records.capacity * 2)
                guard let grown = realloc(records.base, capacity) else { fatalError("out of memory for \(capacity) bytes of queued sends") }
                records.base = grown
                records.capacity = capacity
            }
            let at = records.base! + records.count
            at.storeBytes(of: kind == .text ? UInt8(0) : UInt8(1), as: UInt8.self)
            (at + 1).storeBytes(of: UInt64(n), as: UInt64.self)
            if let source = payload.baseAddress, n > 0 { (at + Self.recordHeader).copyMemory(from: source, byteCount: n) }
            records.count = end
            pending.store(true, ordering: .releasing)
            return first
        }
    }

    /// Takes the batch (on the loop) and hands each message to `body` in the order they were sent.
    func drain(_ body: (UnsafeRawBufferPointer, WebSocketMessageKind) -> Void) {
        let taken: Records = batch.withLock { records in
            pending.store(false, ordering: .relaxed)
            defer { records = Records() }
            return records
        }
        guard let base = taken.base else { return }
        defer { free(base) }
        let raw = UnsafeRawBufferPointer(start: base, count: taken.count)
        var at = 0
        while at + Self.recordHeader <= raw.count {
            let kind: WebSocketMessageKind = raw[at] == 0 ? .text : .binary
            let length = Int(raw.loadUnaligned(fromByteOffset: at + 1, as: UInt64.self))
            let start = at + Self.recordHeader
            body(UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)]), kind)
            at = start + length
        }
    }

    /// Records nobody drained (the client went away first) are freed with it.
    deinit {
        batch.withLock { records in
            free(records.base)
            records = Records()
        }
    }
}
