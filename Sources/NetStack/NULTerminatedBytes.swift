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
    /// Calls `body` with a pointer to the readable bytes, `pointer[count] == 0`, and returns its
    /// result; returns nil without calling it when the buffer has no slack byte (copy then).
    package static func lend<R>(_ buffer: ByteBuffer, _ body: (UnsafeMutablePointer<CChar>, Int) throws -> R) rethrows -> R? {
        let start = buffer.readerIndex, end = buffer.writerIndex
        guard end < buffer.capacity else { return nil }
        return try buffer.withVeryUnsafeBytes { storage -> R in
            // The storage is the slice's own range: [0, capacity) of this buffer.
            let base = UnsafeMutableRawPointer(mutating: storage.baseAddress!)
            let terminator = base + end
            let saved = terminator.load(as: UInt8.self)
            terminator.storeBytes(of: 0, as: UInt8.self)
            defer { terminator.storeBytes(of: saved, as: UInt8.self) }
            return try body((base + start).assumingMemoryBound(to: CChar.self), end - start)
        }
    }
}
