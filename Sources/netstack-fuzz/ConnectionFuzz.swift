import NIOCore
import NIOEmbedded
import NetStack

/// The real connection handler on an EmbeddedChannel: the request goes out, fuzz bytes come in
/// split into reads of varying size, then the channel closes. Checked on every input: at most one
/// open, exactly one terminal event (onClose, or onError on a connection that never opened), no
/// callback after it, and nothing delivered beyond the receive limit.
enum ConnectionFuzz {
    /// One loop for every input: the engine's per-loop timer queue is per thread.
    static let loop = EmbeddedEventLoop()

    /// Input: byte 0 = options (bit 0 permessage-deflate agreed, bit 1 a small receive limit,
    /// bit 2 the application closes after the first message, bit 3 it sends a message on open),
    /// byte 1 = seed of the read sizes, then the server's frames.
    static func frames(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 2 else { return }
        let flags = input[0]
        var response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n"
        if flags & 1 != 0 { response += "Sec-WebSocket-Extensions: permessage-deflate\r\n" }
        response += "\r\n"
        drive(head: response, body: UnsafeRawBufferPointer(rebasing: input[2...]), seed: input[1], flags: flags)
    }

    /// Input: byte 0 = seed of the read sizes, then the whole answer (`{ACCEPT}` is replaced by the
    /// right Sec-WebSocket-Accept value, so the corpus can reach the checks behind it).
    static func handshake(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 1 else { return }
        drive(head: nil, body: UnsafeRawBufferPointer(rebasing: input[1...]), seed: input[0], flags: 0)
    }

    final class Outcome {
        var opens = 0
        var terminals = 0
        var afterTerminal = 0
        var largest = 0
    }

    static func drive(head: String?, body: UnsafeRawBufferPointer, seed: UInt8, flags: UInt8) {
        var config = WebSocketClientConfiguration()
        config.compression = flags & 1 != 0
        config.pingInterval = .zero
        config.busyPoll = .zero
        if flags & 2 != 0 { config.maxReceiveSize = 1024 }
        let client = WebSocketClient(configuration: config, eventLoop: loop)
        let outcome = Outcome()
        client.onOpen = { c, _ in
            outcome.opens += 1
            if outcome.terminals > 0 { outcome.afterTerminal += 1 }
            if flags & 8 != 0 { try? c.send(text: "hello") }
        }
        client.onMessage = { c, m in
            if outcome.terminals > 0 { outcome.afterTerminal += 1 }
            outcome.largest = max(outcome.largest, m.data.readableBytes)
            if flags & 4 != 0 { try? c.close(code: 1000, reason: "enough") }
        }
        client.onError = { c, _ in
            if outcome.terminals > 0 { outcome.afterTerminal += 1 }
            if c.state == .closed { outcome.terminals += 1 }
        }
        client.onClose = { _, _ in
            if outcome.terminals > 0 { outcome.afterTerminal += 1 }
            outcome.terminals += 1
        }
        let channel = EmbeddedChannel(loop: loop)
        do {
            try client.connect(over: channel, to: "ws://fuzz.test/path")
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        } catch {
            fatalError("cannot set up the embedded connection: \(error)")
        }
        // The request's key gives the accept value.
        var request = ""
        while let out = try? channel.readOutbound(as: ByteBuffer.self) { request += String(buffer: out) }
        let key = request.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }
            .map { String($0.dropFirst("sec-websocket-key:".count)).trimmingCharacters(in: .whitespaces) } ?? ""
        let accept = ClientHandshake.acceptValue(forKey: key)
        var bytes: [UInt8] = []
        if let head = head { bytes += Array(head.replacingOccurrences(of: "{ACCEPT}", with: accept).utf8) }
        bytes += substituteAccept(Array(body), accept: accept, enabled: head == nil)
        EmbeddedReads.feed(bytes, seed: seed, to: channel) {
            while (try? channel.readOutbound(as: ByteBuffer.self)) != nil {}
        }
        loop.advanceTime(by: .seconds(60))
        _ = try? channel.close().wait()
        loop.run()
        _ = try? channel.finish()
        client.destroy()
        precondition(outcome.opens <= 1, "opened \(outcome.opens) times")
        precondition(outcome.terminals == 1, "\(outcome.terminals) terminal events")
        precondition(outcome.afterTerminal == 0, "\(outcome.afterTerminal) callbacks after the terminal event")
        precondition(outcome.largest <= config.maxReceiveSize, "a message of \(outcome.largest) bytes passed the limit of \(config.maxReceiveSize)")
    }

    /// `{ACCEPT}` in a fuzzed answer becomes the right accept value.
    static func substituteAccept(_ bytes: [UInt8], accept: String, enabled: Bool) -> [UInt8] {
        let marker = Array("{ACCEPT}".utf8)
        guard enabled, bytes.count >= marker.count else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 32)
        var i = 0
        while i < bytes.count {
            if i + marker.count <= bytes.count, bytes[i..<(i + marker.count)].elementsEqual(marker) {
                out += Array(accept.utf8)
                i += marker.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }
}
