import NIOCore
import NIOPosix

/// Cleared buffers shared by the connections of one event loop: the write batch (outbox) and the
/// buffer that keeps a frame a read ended inside. A connection takes one when it needs it and gives
/// it back once the bytes are handed over, so an idle connection holds neither (it held 0.5-4 KiB
/// before), while a busy one reuses the same storage without allocating.
///
/// Bounded: at most `maxSpares` buffers of at most `maxCapacity` bytes each; others are dropped.
/// A given buffer whose storage is still referenced (the socket has not taken it yet, or a
/// delivered message is a slice of it) is not reused: clearing it gives fresh storage.
///
/// Loop-confined: use it only from its loop's thread (`forCurrentLoop`).
final class LoopBufferPool {
    static let maxSpares = 4
    static let maxCapacity = 256 * 1024

    @exclusivity(unchecked) private var spares: [ByteBuffer] = []

    private static let perThread = ThreadSpecificVariable<LoopBufferPool>()

    /// The pool of the loop whose thread this is.
    static func forCurrentLoop(_ eventLoop: EventLoop) -> LoopBufferPool {
        eventLoop.preconditionInEventLoop()
        return perThread.currentValue(orMake: { LoopBufferPool() })
    }

    /// A cleared buffer, or nil when none is spare.
    @inline(__always)
    func take() -> ByteBuffer? { spares.popLast() }

    /// Keeps `buffer` for reuse when there is room and it is not too large.
    func give(_ buffer: ByteBuffer) {
        guard spares.count < Self.maxSpares, buffer.capacity <= Self.maxCapacity else { return }
        var b = buffer
        b.clear()
        spares.append(b)
    }

    /// Buffers kept (for tests).
    var count: Int { spares.count }
}
