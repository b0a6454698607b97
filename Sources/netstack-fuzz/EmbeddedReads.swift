import NIOCore
import NIOEmbedded

/// Bytes fed to an EmbeddedChannel as a peer's reads: of 1 to 64 bytes, or of the whole rest, in a
/// pattern from a seed byte of the input, while the channel stays active.
enum EmbeddedReads {
    static func feed(_ bytes: [UInt8], seed: UInt8, to channel: EmbeddedChannel, afterEach: () -> Void) {
        var state = UInt32(seed) &* 2_654_435_761 &+ 1
        var offset = 0
        while offset < bytes.count, channel.isActive {
            state = state &* 1_103_515_245 &+ 12345
            let pick = Int((state >> 16) & 0xFF)
            let size = pick >= 200 ? bytes.count - offset : 1 + pick % 64
            let end = min(bytes.count, offset + size)
            var buffer = channel.allocator.buffer(capacity: end - offset)
            buffer.writeBytes(bytes[offset..<end])
            _ = try? channel.writeInbound(buffer)
            offset = end
            afterEach()
        }
    }
}
