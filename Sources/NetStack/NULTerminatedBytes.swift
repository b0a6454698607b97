import NIOCore

/// Lends a buffer's readable bytes to C with a NUL after them, without copying, when the buffer's
/// storage holds a byte after its writer index (its "slack"). The receiver gives every message
/// that is a slice of the read buffer such a byte when the read has one after the payload
/// (`FrameReceiver`), and assembled messages usually have spare capacity.
///
/// The slack byte may be the first byte of the next frame in the same read buffer: it is saved,
/// set to 0 for the call and put back after it. That is only sound while nothing else reads the
/// storage during the call, which holds for messages on their connection's loop (the read buffer
/// is confined to it); hence `package`, for the C ABI's delivery, and not for buffers in general.
package enum NULTerminatedBytes {
    /// Buffers shorter than this are not lent: copying so few bytes into a kept buffer costs less
    /// than slicing for the slack byte and lending (callgrind on the C ABI's flood of 32-byte
    /// messages: about 70 instructions more per message to lend; for 64 KiB messages lending does
    /// a tenth of the copy's work).
    @inlinable package static var minimumLength: Int { 1024 }

    /// Calls `body` with a pointer to the readable bytes and their count, `pointer[count] == 0`,
    /// and returns true; returns false without calling it when the buffer is shorter than
    /// `minimumLength` or has no slack byte (copy then). Not generic, so that callers in other modules get it compiled for them.
    package static func lend(_ buffer: ByteBuffer, _ body: (UnsafeMutablePointer<CChar>, Int) -> Void) -> Bool {
        guard buffer.readableBytes >= minimumLength else { return false }
        let start = buffer.readerIndex, end = buffer.writerIndex
        guard end < buffer.capacity else { return false }
        buffer.withVeryUnsafeBytes { storage in
            // The storage is the slice's own range: [0, capacity) of this buffer.
            let base = UnsafeMutableRawPointer(mutating: storage.baseAddress!)
            let terminator = base + end
            let saved = terminator.load(as: UInt8.self)
            terminator.storeBytes(of: 0, as: UInt8.self)
            body((base + start).assumingMemoryBound(to: CChar.self), end - start)
            terminator.storeBytes(of: saved, as: UInt8.self)
        }
        return true
    }
}
