import NIOCore
import NIOEmbedded
import NetStackTestServer

/// `netstack serve`'s connection handler on an EmbeddedChannel: what a client sends (the rest of
/// the request line after `GET /echo?`, the headers, then frames) comes in split into reads of
/// varying size, and the grace timers run out. The path stays `/echo`, so the fuzzer reaches the
/// query, the head and the frames, never the paths that send without end (`/flood`). Checked: no
/// crash, and what the server writes stays within what an echo of the input can be.
enum ServeFuzz {
    static let loop = EmbeddedEventLoop()

    /// Input: byte 0 = seed of the read sizes, then the bytes after `GET /echo?`.
    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 1 else { return }
        let channel = EmbeddedChannel(handler: LocalWebSocketServer.connectionHandler(), loop: loop)
        _ = try? channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        let bytes = Array("GET /echo?".utf8) + Array(input[1...])
        var written = 0
        func drain() {
            while let out = try? channel.readOutbound(as: ByteBuffer.self) { written += out.readableBytes }
        }
        EmbeddedReads.feed(bytes, seed: input[0], to: channel, afterEach: drain)
        loop.advanceTime(by: .seconds(5))
        drain()
        _ = try? channel.close().wait()
        loop.run()
        _ = try? channel.finish()
        // The 101 (or an error page), then echoes and pongs of what came in, and a close: an
        // echo of a compressed message may inflate, up to the server's 64 MiB message limit.
        precondition(written <= 4096 + 64 * bytes.count + (64 << 20), "the server wrote \(written) bytes for \(bytes.count) in")
    }
}
