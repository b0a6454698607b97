import NIOCore
import NIOConcurrencyHelpers
import NIOEmbedded
@testable import NetStack
import XCTest

/// The real connection handler on an EmbeddedChannel: bytes in, bytes out, byte for byte, on a
/// clock the test moves. No sockets.
final class ConnectionHandlerTests: XCTestCase {
    /// One loop for every test: the engine's timer queue and mask source are per thread.
    static let loop = EmbeddedEventLoop()
    var loop: EmbeddedEventLoop { Self.loop }

    final class Log {
        var events: [String] = []
    }

    struct Connection {
        let client: WebSocketClient
        let channel: EmbeddedChannel
        let log: Log
        let request: String
    }

    /// A client over an EmbeddedChannel, its request read; not answered yet.
    func connect(_ configure: (inout WebSocketClientConfiguration) -> Void = { _ in }) throws -> Connection {
        var config = WebSocketClientConfiguration()
        config.busyPoll = .zero
        config.userAgent = nil
        configure(&config)
        let client = WebSocketClient(configuration: config, eventLoop: loop)
        let log = Log()
        client.onOpen = { _, r in log.events.append("open \(r.code)") }
        client.onMessage = { _, m in log.events.append("message \(m.kind == .text ? "text" : "binary") \(String(buffer: m.data))") }
        client.onError = { _, e in log.events.append("error \(e.code.rawValue) \(e.message)") }
        client.onClose = { _, r in log.events.append("close \(r.code) \(r.reason) \(r.wasClean ? "clean" : "unclean")") }
        let channel = EmbeddedChannel(loop: loop)
        try client.connect(over: channel, to: "ws://example.test/chat?room=1")
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        return Connection(client: client, channel: channel, log: log, request: try outbound(channel).map { String(decoding: $0, as: UTF8.self) }.joined())
    }

    /// Connected and answered with a valid 101.
    func open(_ configure: (inout WebSocketClientConfiguration) -> Void = { _ in }) throws -> Connection {
        let c = try connect(configure)
        try c.channel.writeInbound(ByteBuffer(string: switching(c.request)))
        XCTAssertEqual(c.log.events, ["open 101"])
        c.log.events.removeAll()
        return c
    }

    func switching(_ request: String) -> String {
        let key = request.split(separator: "\r\n").first { $0.hasPrefix("Sec-WebSocket-Key: ") }!.dropFirst("Sec-WebSocket-Key: ".count)
        return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(ClientHandshake.acceptValue(forKey: String(key)))\r\n\r\n"
    }

    /// Everything written so far (after running what the loop has queued), one array per write.
    func outbound(_ channel: EmbeddedChannel) throws -> [[UInt8]] {
        loop.run()
        var writes: [[UInt8]] = []
        while let b = try channel.readOutbound(as: ByteBuffer.self) {
            if b.readableBytes > 0 { writes.append(Array(b.readableBytesView)) }
        }
        return writes
    }

    /// The client's frames in `bytes`, unmasked, as (first two header bytes, payload); fails when
    /// a frame is not masked or the bytes do not end at a frame boundary.
    func frames(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [(header: [UInt8], payload: [UInt8])] {
        var out: [(header: [UInt8], payload: [UInt8])] = []
        var i = 0
        while i < bytes.count {
            guard bytes.count - i >= 6, bytes[i + 1] & 0x80 != 0 else {
                XCTFail("not a masked frame at \(i): \(bytes[i...])", file: file, line: line)
                return out
            }
            let length = Int(bytes[i + 1] & 0x7F)
            XCTAssertLessThan(length, 126, "small frames only here", file: file, line: line)
            let key = Array(bytes[(i + 2)..<(i + 6)])
            guard bytes.count >= i + 6 + length else {
                XCTFail("frame cut short", file: file, line: line)
                return out
            }
            let payload = (0..<length).map { bytes[i + 6 + $0] ^ key[$0 % 4] }
            out.append((Array(bytes[i..<(i + 2)]), payload))
            i += 6 + length
        }
        return out
    }

    func written(_ c: Connection, file: StaticString = #filePath, line: UInt = #line) throws -> [(header: [UInt8], payload: [UInt8])] {
        frames(try outbound(c.channel).flatMap { $0 }, file: file, line: line)
    }

    func assertFrames(_ actual: [(header: [UInt8], payload: [UInt8])], _ expected: [([UInt8], [UInt8])],
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.map(\.header), expected.map(\.0), "headers", file: file, line: line)
        XCTAssertEqual(actual.map(\.payload), expected.map(\.1), "payloads", file: file, line: line)
    }

    func serverFrame(_ first: UInt8, _ payload: [UInt8]) -> ByteBuffer {
        switch payload.count {
        case ..<126: return ByteBuffer(bytes: [first, UInt8(payload.count)] + payload)
        case ..<65536: return ByteBuffer(bytes: [first, 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] + payload)
        default: return ByteBuffer(bytes: [first, 127] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) } + payload)
        }
    }

    // MARK: The upgrade

    func testTheRequestIsWrittenWhenTheChannelBecomesActive() throws {
        let c = try connect()
        let lines = c.request.components(separatedBy: "\r\n")
        XCTAssertEqual(Array(lines.prefix(5)), ["GET /chat?room=1 HTTP/1.1", "Host: example.test", "Upgrade: websocket", "Connection: Upgrade",
                                                lines[4]])
        XCTAssertTrue(lines[4].hasPrefix("Sec-WebSocket-Key: "))
        XCTAssertEqual(Data(base64Encoded: String(lines[4].dropFirst("Sec-WebSocket-Key: ".count)))?.count, 16, "a 16-byte nonce, base64")
        XCTAssertEqual(lines[5], "Sec-WebSocket-Version: 13")
        XCTAssertEqual(lines[6], "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
        XCTAssertTrue(c.request.hasSuffix("\r\n\r\n"))
        XCTAssertEqual(c.log.events, [], "nothing until the answer")
    }

    func testTheUpgradeHandlerLeavesThePipelineOnceAnswered() throws {
        let c = try connect()
        XCTAssertNoThrow(try c.channel.pipeline.syncOperations.handler(type: UpgradeHandler.self))
        try c.channel.writeInbound(ByteBuffer(string: switching(c.request)))
        XCTAssertThrowsError(try c.channel.pipeline.syncOperations.handler(type: UpgradeHandler.self))
        XCTAssertNoThrow(try c.channel.pipeline.syncOperations.handler(type: WebSocketConnectionHandler.self))
    }

    func testFramesInTheSameReadAsThe101AreDeliveredAfterOpen() throws {
        let c = try connect()
        var answer = ByteBuffer(string: switching(c.request))
        var text = serverFrame(0x81, Array("hi".utf8))
        answer.writeBuffer(&text)
        try c.channel.writeInbound(answer)
        XCTAssertEqual(c.log.events, ["open 101", "message text hi"])
    }

    func testTheAnswerSplitIntoOneByteReadsStillOpens() throws {
        let c = try connect()
        for byte in switching(c.request).utf8 { try c.channel.writeInbound(ByteBuffer(bytes: [byte])) }
        XCTAssertEqual(c.log.events, ["open 101"])
    }

    /// Interim answers (100 Continue, 103 Early Hints) before the 101 are read and skipped, in
    /// one read with the 101 and a frame or byte by byte; an endless series of them fails once
    /// they exceed the head's limit together.
    func testInterimAnswersBeforeThe101AreSkipped() throws {
        let interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        let c = try connect()
        var answer = ByteBuffer(string: interim + switching(c.request))
        var text = serverFrame(0x81, Array("hi".utf8))
        answer.writeBuffer(&text)
        try c.channel.writeInbound(answer)
        XCTAssertEqual(c.log.events, ["open 101", "message text hi"])

        let d = try connect()
        for byte in (interim + switching(d.request)).utf8 { try d.channel.writeInbound(ByteBuffer(bytes: [byte])) }
        XCTAssertEqual(d.log.events, ["open 101"])

        let e = try connect()
        let hundred = String(repeating: "HTTP/1.1 100 Continue\r\n\r\n", count: 1000)
        for _ in 0..<3 where e.log.events.isEmpty { try e.channel.writeInbound(ByteBuffer(string: hundred)) }
        loop.run()
        XCTAssertEqual(e.log.events.count, 1)
        XCTAssertTrue(e.log.events.first?.hasPrefix("error 1009 handshake failed: interim (1xx) responses larger than 65536 bytes") == true, "\(e.log.events)")
        XCTAssertFalse(e.channel.isActive)
    }

    func testAWrongAcceptValueFailsWith1009AndClosesTheChannel() throws {
        let c = try connect()
        try c.channel.writeInbound(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n"))
        loop.run()
        XCTAssertEqual(c.log.events.count, 1)
        XCTAssertTrue(c.log.events[0].hasPrefix("error 1009 "), c.log.events[0])
        XCTAssertFalse(c.channel.isActive)
        XCTAssertEqual(c.client.state, .closed)
    }

    func testARejectionIsReportedWithItsStatusLineAndBody() throws {
        let c = try connect()
        try c.channel.writeInbound(ByteBuffer(string: "HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\nno"))
        XCTAssertEqual(c.log.events, [], "waits for the promised body")
        try c.channel.writeInbound(ByteBuffer(string: " entry"))
        XCTAssertEqual(c.log.events, ["error 1003 server rejected the upgrade: HTTP/1.1 403 Forbidden; body: no entry"])
        loop.run()
        XCTAssertFalse(c.channel.isActive)
    }

    func testTheConnectTimeoutCoversTheUpgrade() throws {
        let c = try connect { $0.connectTimeout = .seconds(3) }
        loop.advanceTime(by: .milliseconds(2_999))
        XCTAssertEqual(c.log.events, [])
        loop.advanceTime(by: .milliseconds(1))
        XCTAssertEqual(c.log.events, ["error 1003 timed out after 3 s (connecting, TLS and upgrade)"])
        XCTAssertFalse(c.channel.isActive)
    }

    // MARK: Memory

    /// A connection holds its write batch only while it has bytes to write: once written, the
    /// buffer goes back to the loop's pool and the next batch (of any connection) reuses it.
    func testAConnectionGivesItsWriteBufferBackOnceWritten() throws {
        let c = try open()
        let pool = LoopBufferPool.forCurrentLoop(ConnectionHandlerTests.loop)
        while pool.take() != nil {}
        try c.client.send(text: "one")
        _ = try outbound(c.channel)
        XCTAssertEqual(pool.count, 1, "the written batch is back in the pool")
        try c.client.send(text: "two")
        XCTAssertEqual(pool.count, 0, "and taken for the next one")
        _ = try outbound(c.channel)
        XCTAssertEqual(pool.count, 1)
    }

    // MARK: Messages and control frames

    func testASendIsOneMaskedFrame() throws {
        let c = try open()
        try c.client.send(text: "hello")
        try c.client.send(binary: [1, 2, 3])
        assertFrames(try written(c), [([0x81, 0x85], Array("hello".utf8)), ([0x82, 0x83], [1, 2, 3])])
    }

    /// A batch is one masked frame per message, in order with the sends around it, all in the
    /// same write; an empty batch sends nothing.
    func testABatchIsOneFramePerMessageInOrderInOneWrite() throws {
        let c = try open()
        try c.client.send(text: "first")
        let parts: [[UInt8]] = [Array("a".utf8), [], Array("ccc".utf8)]
        try parts[0].withUnsafeBytes { a in try parts[1].withUnsafeBytes { b in try parts[2].withUnsafeBytes { d in
            try c.client.send(batch: [a, b, d], kind: .binary)
            try c.client.send(batch: [], kind: .text)
        } } }
        try c.client.send(text: "last")
        let writes = try outbound(c.channel)
        XCTAssertEqual(writes.count, 1, "one write for the sends of one loop turn")
        assertFrames(frames(writes.flatMap { $0 }), [([0x81, 0x85], Array("first".utf8)), ([0x82, 0x81], Array("a".utf8)),
                                                     ([0x82, 0x80], []), ([0x82, 0x83], Array("ccc".utf8)), ([0x81, 0x84], Array("last".utf8))])
        XCTAssertEqual(c.client.bufferedAmount, 0, "written: nothing counted as queued")
    }

    /// All or nothing: one message over `maxSendSize` (1012) or a batch over the queue's room
    /// (1013) sends none of the batch; a batch before the open is 1017.
    func testABatchIsCheckedAsAWhole() throws {
        let early = WebSocketClient(configuration: WebSocketClientConfiguration(), eventLoop: loop)
        try Array("x".utf8).withUnsafeBytes { x in
            XCTAssertThrowsError(try early.send(batch: [x], kind: .text)) { XCTAssertEqual(($0 as? WebSocketError)?.code, .noConnection) }
        }
        let c = try open { $0.maxSendSize = 8; $0.maxSendQueue = 20 }
        let eight = [UInt8](repeating: 0x61, count: 8)
        let nine = [UInt8](repeating: 0x62, count: 9)
        try eight.withUnsafeBytes { e in try nine.withUnsafeBytes { n in
            XCTAssertThrowsError(try c.client.send(batch: [e, n], kind: .text)) { XCTAssertEqual(($0 as? WebSocketError)?.code, .dataLengthExceeded) }
            XCTAssertThrowsError(try c.client.send(batch: [e, e, e], kind: .text)) { XCTAssertEqual(($0 as? WebSocketError)?.code, .queueLengthExceeded) }
            XCTAssertEqual(c.client.bufferedAmount, 0, "a refused batch counts nothing")
            try c.client.send(batch: [e, e], kind: .text)
        } }
        assertFrames(try written(c), [([0x81, 0x88], eight), ([0x81, 0x88], eight)])
    }

    /// With frame tracing on, a batch is traced message by message as single sends are.
    func testABatchIsTracedPerMessage() throws {
        let lines = NIOLockedValueBox<[String]>([])
        let c = try open { $0.frameTrace = { line in lines.withLockedValue { $0.append(line) } } }
        lines.withLockedValue { $0.removeAll() }
        try Array("ab".utf8).withUnsafeBytes { m in try c.client.send(batch: [m, m], kind: .text) }
        assertFrames(try written(c), [([0x81, 0x82], Array("ab".utf8)), ([0x81, 0x82], Array("ab".utf8))])
        XCTAssertEqual(lines.withLockedValue { $0.filter { $0.hasPrefix("> FIN text") }.count }, 2, "\(lines.withLockedValue { $0 })")
    }

    func testAPingIsAnsweredWithAPongWithItsPayload() throws {
        let c = try open()
        try c.channel.writeInbound(serverFrame(0x89, Array("are you there".utf8)))
        assertFrames(try written(c), [([0x8A, 0x8D], Array("are you there".utf8))])
        XCTAssertEqual(c.log.events, [], "pings are not messages")
    }

    func testAFragmentedMessageIsDeliveredWhole() throws {
        let c = try open()
        try c.channel.writeInbound(serverFrame(0x01, Array("frag".utf8)))
        try c.channel.writeInbound(serverFrame(0x89, []))  // a ping between fragments
        try c.channel.writeInbound(serverFrame(0x80, Array("ment".utf8)))
        XCTAssertEqual(c.log.events, ["message text fragment"])
        assertFrames(try written(c), [([0x8A, 0x80], [])])
    }

    /// Many messages in one read are delivered as a run (`WholeMessageBatch`): a callback that
    /// replaces `onMessage` within the run sends the rest to the new one, one that removes it stops
    /// the deliveries, and one that destroys the client ends them; a ping in the run is answered
    /// in its place.
    func testARunOfMessagesInOneReadHonoursWhatTheCallbacksChange() throws {
        let c = try open()
        var read = ByteBuffer()
        for i in 1...6 {
            var f = serverFrame(0x81, Array("m\(i)".utf8))
            read.writeBuffer(&f)
            if i == 3 {
                var ping = serverFrame(0x89, Array("p".utf8))
                read.writeBuffer(&ping)
            }
        }
        let log = c.log
        c.client.onMessage = { client, m in
            log.events.append("A \(String(buffer: m.data))")
            if String(buffer: m.data) == "m2" {
                client.onMessage = { client, m in
                    log.events.append("B \(String(buffer: m.data))")
                    if String(buffer: m.data) == "m4" { client.destroy() }
                }
            }
        }
        try c.channel.writeInbound(read)
        XCTAssertEqual(log.events, ["A m1", "A m2", "B m3", "B m4"])
        XCTAssertEqual(try written(c).first?.header, [0x8A, 0x81], "the ping between m3 and m4 was answered")

        let d = try open()
        let dlog = d.log
        d.client.onMessage = { client, m in
            dlog.events.append(String(buffer: m.data))
            if String(buffer: m.data) == "b" { client.onMessage = nil }
        }
        var two = serverFrame(0x81, Array("a".utf8))
        for text in ["b", "c", "d"] { var f = serverFrame(0x82, Array(text.utf8)); two.writeBuffer(&f) }
        try d.channel.writeInbound(two)
        XCTAssertEqual(dlog.events, ["a", "b"])
        // Reading went on: a close frame after the run is answered.
        try d.channel.writeInbound(serverFrame(0x88, [0x03, 0xE8]))
        XCTAssertEqual(try written(d).first?.header, [0x88, 0x82])
    }

    /// Messages of a run are lent to the callback as bytes of the read buffer (what the C ABI and
    /// the Lua host copy); each lent range is exactly its message, and nothing is lent outside a
    /// run (a message with storage of its own, a fragmented one) or after the callback.
    func testTheBytesLentDuringARunAreEachMessages() throws {
        let c = try open()
        var read = ByteBuffer()
        let texts = ["", "a", String(repeating: "x", count: 125), String(repeating: "é", count: 100), String(repeating: "z", count: 70_000)]
        for t in texts { var f = serverFrame(0x81, Array(t.utf8)); read.writeBuffer(&f) }
        var ping = serverFrame(0x89, [])
        read.writeBuffer(&ping)
        var after = serverFrame(0x82, [1, 2, 3])
        read.writeBuffer(&after)
        var first = serverFrame(0x01, Array("frag".utf8))
        read.writeBuffer(&first)
        var last = serverFrame(0x80, Array("ment".utf8))
        read.writeBuffer(&last)
        let log = c.log
        var lentAfterCallback: [Bool] = []
        var client: WebSocketClient?
        c.client.onMessage = { cl, m in
            client = cl
            let lent = cl.lentPayloadBytes(of: m).map { Array($0) }
            let data = Array(m.data.readableBytesView)
            log.events.append("\(m.data.readableBytes) \(lent == nil ? "copied" : (lent == data ? "lent" : "WRONG"))")
        }
        try c.channel.writeInbound(read)
        if let cl = client { lentAfterCallback.append(cl.deliveringBytes != nil) }
        // 70,000 bytes is over the size for a slice of the read buffer: it gets storage of its own
        // through `next`, as the fragmented message does; the scan after the ping finds a run again.
        XCTAssertEqual(log.events, ["0 lent", "1 lent", "125 lent", "200 lent", "70000 copied", "3 lent", "8 copied"])
        XCTAssertEqual(lentAfterCallback, [false])
    }

    /// The messages of a run share one value whose indices move from payload to payload: a
    /// message the callback keeps is a copy, and stays its own bytes after the run moved on and
    /// after the read buffer was written again.
    func testAMessageKeptFromARunKeepsItsBytes() throws {
        let c = try open()
        var read = ByteBuffer()
        let payloads: [[UInt8]] = [Array("first".utf8), [], [0, 1, 2, 255], Array(String(repeating: "q", count: 300).utf8)]
        for (i, p) in payloads.enumerated() { var f = serverFrame(i == 2 ? 0x82 : 0x81, p); read.writeBuffer(&f) }
        var kept: [WebSocketMessage] = []
        c.client.onMessage = { _, m in kept.append(m) }
        try c.channel.writeInbound(read)
        XCTAssertEqual(kept.map { Array($0.data.readableBytesView) }, payloads)
        XCTAssertEqual(kept.map(\.kind), [.text, .text, .binary, .text])
        XCTAssertEqual(kept.map(\.text), payloads.map { String(decoding: $0, as: UTF8.self) })
        // The next read, into a buffer that may reuse the storage: what was kept does not change.
        var again = ByteBuffer()
        for _ in 0..<4 { var f = serverFrame(0x81, Array("xxxxxxxx".utf8)); again.writeBuffer(&f) }
        try c.channel.writeInbound(again)
        XCTAssertEqual(kept.count, 8)
        XCTAssertEqual(kept.prefix(4).map { Array($0.data.readableBytesView) }, payloads)
        // A kept message is a value of its own: reading from it does not disturb the others.
        var first = kept[0]
        XCTAssertEqual(first.data.readString(length: 5), "first")
        XCTAssertEqual(kept[0].data.readableBytes, 5)
    }

    // MARK: The close handshake

    /// The pipeline owns the handler and the handler owns its client until the terminal event;
    /// the client only refers to its connection (weakly). A client nobody holds still gets its
    /// callbacks, and nothing outlives the connection.
    func testOwnershipRunsFromThePipelineToTheHandlerToTheClient() throws {
        weak var weakClient: WebSocketClient?
        weak var weakHandler: WebSocketConnectionHandler?
        let log = Log()
        var channel: EmbeddedChannel? = EmbeddedChannel(loop: loop)
        var request = ""
        do {
            var config = WebSocketClientConfiguration()
            config.busyPoll = .zero
            let client = WebSocketClient(configuration: config, eventLoop: loop)
            client.onOpen = { _, r in log.events.append("open \(r.code)") }
            client.onClose = { _, r in log.events.append("close \(r.code)") }
            try client.connect(over: channel!, to: "ws://example.test/")
            try channel!.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
            request = try outbound(channel!).map { String(decoding: $0, as: UTF8.self) }.joined()
            weakClient = client
            weakHandler = client.connection as? WebSocketConnectionHandler
        }
        XCTAssertNotNil(weakHandler)
        XCTAssertNotNil(weakClient, "nobody else holds the client: its connection keeps it until the end")
        try channel!.writeInbound(ByteBuffer(string: switching(request)))
        try channel!.writeInbound(serverFrame(0x88, [0x03, 0xE8]))
        try channel!.close().wait()
        XCTAssertEqual(log.events, ["open 101", "close 1000"])
        XCTAssertNil(weakClient, "released at its terminal event")
        channel = nil
        loop.run()
        XCTAssertNil(weakHandler, "the client never kept its connection alive")
    }

    /// The client holds its connection (strongly, for `send`'s speed) only until the connection
    /// ends: a client the application keeps does not keep a finished or destroyed connection.
    func testAKeptClientReleasesItsConnectionAtTheEndAndOnDestroy() throws {
        for ending in ["close", "destroy"] {
            weak var weakHandler: WebSocketConnectionHandler?
            var config = WebSocketClientConfiguration()
            config.busyPoll = .zero
            let client = WebSocketClient(configuration: config, eventLoop: loop)
            var channel: EmbeddedChannel? = EmbeddedChannel(loop: loop)
            try client.connect(over: channel!, to: "ws://example.test/")
            try channel!.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
            let request = try outbound(channel!).map { String(decoding: $0, as: UTF8.self) }.joined()
            try channel!.writeInbound(ByteBuffer(string: switching(request)))
            XCTAssertEqual(client.state, .open)
            weakHandler = client.connection as? WebSocketConnectionHandler
            XCTAssertNotNil(weakHandler)
            if ending == "close" {
                try channel!.writeInbound(serverFrame(0x88, [0x03, 0xE8]))
                try channel!.close().wait()
                XCTAssertEqual(client.state, .closed)
            } else {
                client.destroy()
            }
            XCTAssertNil(client.connection, "\(ending): the reference ends with the connection")
            _ = try? channel!.finish()
            channel = nil
            loop.run()
            XCTAssertNil(weakHandler, "\(ending): the kept client does not keep its connection alive")
            withExtendedLifetime(client) {}
        }
    }

    func testTheServersCloseIsEchoedAndTheCloseIsCleanWhenTCPEnds() throws {
        let c = try open()
        try c.channel.writeInbound(serverFrame(0x88, [0x03, 0xE8] + Array("bye".utf8)))
        assertFrames(try written(c), [([0x88, 0x82], [0x03, 0xE8])])
        XCTAssertEqual(c.client.state, .closing)
        try c.channel.writeInbound(serverFrame(0x81, Array("late".utf8)))
        XCTAssertEqual(c.log.events, [], "nothing is read after the server's close")
        try c.channel.close().wait()
        XCTAssertEqual(c.log.events, ["close 1000 bye clean"])
        XCTAssertEqual(c.client.state, .closed)
    }

    func testOurCloseReadsOnUntilTheServersClose() throws {
        let c = try open()
        try c.client.close(code: 4000, reason: "done")
        assertFrames(try written(c), [([0x88, 0x86], [0x0F, 0xA0] + Array("done".utf8))])
        XCTAssertThrowsError(try c.client.send(text: "after close"))
        try c.channel.writeInbound(serverFrame(0x81, Array("in flight".utf8)))
        try c.channel.writeInbound(serverFrame(0x88, [0x0F, 0xA0]))
        XCTAssertEqual(try written(c).count, 0, "the reply is not echoed")
        try c.channel.close().wait()
        XCTAssertEqual(c.log.events, ["message text in flight", "close 4000  clean"])
    }

    func testTheCloseTimeoutDropsAServerThatNeverAnswers() throws {
        let c = try open { $0.closeTimeout = .seconds(2) }
        try c.client.close(code: 1000, reason: "")
        _ = try written(c)
        loop.advanceTime(by: .seconds(2))
        XCTAssertFalse(c.channel.isActive)
        XCTAssertEqual(c.log.events, ["close 1006 connection closed without a close frame unclean"])
    }

    func testAProtocolErrorSendsClose1002AfterWhatWasSentThenCloses() throws {
        let c = try open()
        c.client.onMessage = { client, _ in try? client.send(text: "echo") }
        var read = serverFrame(0x81, Array("x".utf8))
        var bad = serverFrame(0x83, [])  // reserved opcode 3
        read.writeBuffer(&bad)
        try c.channel.writeInbound(read)
        assertFrames(try written(c), [([0x81, 0x84], Array("echo".utf8)), ([0x88, 0x82], [0x03, 0xEA])])
        XCTAssertFalse(c.channel.isActive)
        XCTAssertEqual(c.log.events.count, 2)
        XCTAssertTrue(c.log.events[0].hasPrefix("error 1009 "), c.log.events[0])
        XCTAssertTrue(c.log.events[1].hasPrefix("close 1002 "), c.log.events[1])
        XCTAssertTrue(c.log.events[1].hasSuffix(" unclean"), c.log.events[1])
    }

    func testDestroyInOnErrorStillWritesWhatWasAccepted() throws {
        let c = try open()
        c.client.onMessage = { client, _ in try? client.send(text: "echo") }
        c.client.onError = { client, e in
            c.log.events.append("error \(e.code.rawValue)")
            client.destroy()
        }
        var read = serverFrame(0x81, Array("x".utf8))
        var bad = serverFrame(0x81, [0xFF])  // invalid UTF-8
        read.writeBuffer(&bad)
        try c.channel.writeInbound(read)
        assertFrames(try written(c), [([0x81, 0x84], Array("echo".utf8)), ([0x88, 0x82], [0x03, 0xEF])])
        XCTAssertFalse(c.channel.isActive)
        XCTAssertEqual(c.log.events, ["error 1009"], "no onClose after destroy")
    }

    func testTCPEndingWithoutACloseFrameIs1006() throws {
        let c = try open()
        try c.channel.close().wait()
        XCTAssertEqual(c.log.events, ["close 1006 connection closed without a close frame unclean"])
    }

    // MARK: Keepalive

    func testKeepalivePingsWhenIdleAndDropsWithoutAPong() throws {
        let c = try open {
            $0.pingInterval = .seconds(1)
            $0.pongTimeout = .seconds(2)
        }
        loop.advanceTime(by: .seconds(1))
        assertFrames(try written(c), [([0x89, 0x80], [])])
        try c.channel.writeInbound(serverFrame(0x8A, []))
        loop.advanceTime(by: .seconds(1))
        assertFrames(try written(c), [([0x89, 0x80], [])])
        XCTAssertTrue(c.channel.isActive, "the pong came in time")
        loop.advanceTime(by: .seconds(2))
        XCTAssertFalse(c.channel.isActive)
        XCTAssertEqual(c.log.events, ["error 1003 keepalive: no pong within 2 s; dropping the connection",
                                      "close 1006 no pong within 2 s unclean"])
    }
}
