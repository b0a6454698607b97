/// Whole messages found at the front of a read buffer by one look at its bytes
/// (`FrameReceiver.scanWholeMessages`): each a final, unmasked, uncompressed text or binary frame
/// whose payload has fully arrived and, for text, is valid UTF-8. Taking them from the buffer needs
/// no further check, so a read of many small messages pays one access to the buffer's storage
/// (an exclusivity-checked call into SwiftNIO) instead of one per message.
package struct WholeMessageBatch {
    /// At most this many per scan: the rest of the buffer is scanned again after they are delivered.
    package static let capacity = 32

    /// Each entry: payload length (bits 0-47), header length (bits 48-55), binary (bit 56).
    private var entries = InlineArray<32, UInt64>(repeating: 0)
    package private(set) var count = 0

    package init() {}

    package var isFull: Bool { count == Self.capacity }

    mutating func append(headerLength: Int, payloadLength: Int, kind: WebSocketMessageKind) {
        entries[count] = UInt64(truncatingIfNeeded: payloadLength) | UInt64(truncatingIfNeeded: headerLength) << 48
            | (kind == .binary ? 1 << 56 : 0)
        count += 1
    }

    /// Read through a span: `entries[i]` copied all 256 bytes of the array for each entry read.
    @inline(__always)
    package subscript(i: Int) -> (headerLength: Int, payloadLength: Int, kind: WebSocketMessageKind) {
        Self.decode(entries.span[i])
    }

    /// Entry `i` as stored (`decode` reads it), through a span as the subscript reads.
    @inline(__always)
    func entry(_ i: Int) -> UInt64 { entries.span[i] }

    /// The entries found, as a buffer valid during `body`: for readers that keep their place
    /// between calls (`MessageRun`). A stored copy of the batch read by index was copied whole
    /// (256 bytes) for each entry read.
    @inline(__always)
    func withEntries<R>(_ body: (UnsafeBufferPointer<UInt64>) -> R) -> R {
        entries.span.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[..<count])) }
    }

    @inline(__always)
    static func decode(_ e: UInt64) -> (headerLength: Int, payloadLength: Int, kind: WebSocketMessageKind) {
        (Int(truncatingIfNeeded: (e >> 48) & 0xFF), Int(truncatingIfNeeded: e & 0xFFFF_FFFF_FFFF), e >> 56 & 1 == 1 ? .binary : .text)
    }
}
