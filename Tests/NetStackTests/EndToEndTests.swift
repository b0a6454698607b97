import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import NetStack
import NetStackTestServer
import XCTest

/// The engine against the local server: every behaviour and error path over real sockets.
final class EndToEndTests: XCTestCase {
    var base: String { Servers.plain.url }

    func testEchoTextAndBinaryThenNormalClose() {
        let r = runClient(base + "/echo", setup: { rec in
            var step = 0
            rec.onOpen = { c in try! c.send(text: "hello κόσμε") }
            rec.onMessage = { c, m in
                step += 1
                if step == 1 { try! c.send(binary: [0, 1, 2, 255]) } else { try! c.close(code: 1000, reason: "done") }
            }
        })
        XCTAssertEqual(r.events.first, .open(code: 101, reason: "Switching Protocols", protocolName: nil))
        XCTAssertEqual(r.events.dropFirst().first, .message(.text, Array("hello κόσμε".utf8)))
        XCTAssertEqual(r.events.dropFirst(2).first, .message(.binary, [0, 1, 2, 255]))
        XCTAssertEqual(r.close?.0, 1000)
        XCTAssertEqual(r.terminalCount, 1)
        XCTAssertEqual(Servers.plain.lastClientClose?.code, 1000)
        XCTAssertEqual(Servers.plain.lastClientClose?.reason, "done")
    }

    /// The client's socket has TCP_NODELAY and nothing else set: SO_DEBUG (which an option at the
    /// wrong level once set) needs CAP_NET_ADMIN, and without it every connection failed.
    func testClientSocketOptions() {
        var nodelay = -1
        var debug = -1
        let r = runClient(base + "/echo", setup: { rec in
            rec.onOpen = { c in
                let options = (c.connection as? WebSocketConnectionHandler)?.channel?.syncOptions
                nodelay = (try? options?.getOption(ChannelOptions.tcpOption(.tcp_nodelay))) ?? -1
                debug = (try? options?.getOption(ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: SO_DEBUG)))) ?? -1
                try! c.close()
            }
        })
        XCTAssertEqual(r.close?.0, 1000)
        XCTAssertEqual(nodelay, 1)
        XCTAssertEqual(debug, 0)
    }

    func testLargeMessagesWithAndWithoutCompression() {
        for deflate in [true, false] {
            let big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
            let r = runClient(base + "/echo" + (deflate ? "" : "?deflate=0"), setup: { rec in
                rec.onOpen = { c in try! c.send(binary: big) }
                rec.onMessage = { c, _ in try! c.close() }
            })
            XCTAssertEqual(r.messages.first?.count, big.count)
            XCTAssertTrue(r.messages.first == big, "payload differs (deflate \(deflate))")
            XCTAssertEqual(r.close?.0, 1000)
        }
    }

    func testCompressionIsNegotiatedAndUsedBothWays() {
        var agreed: PerMessageDeflateParameters?
        let text = String(repeating: "compress me please ", count: 500)
        let r = runClient(base + "/echo?server_no_context_takeover=1&client_no_context_takeover=1", setup: { rec in
            var count = 0
            rec.onOpen = { c in try! c.send(text: text) }
            rec.onMessage = { c, _ in
                count += 1
                if count < 3 { try! c.send(text: text) } else { try! c.close() }
            }
        })
        agreed = r.openResult?.compression
        XCTAssertNotNil(agreed)
        XCTAssertEqual(agreed?.serverNoContextTakeover, true)
        XCTAssertEqual(agreed?.clientNoContextTakeover, true)
        XCTAssertEqual(r.messages.count, 3)
        XCTAssertTrue(r.messages.allSatisfy { $0 == Array(text.utf8) })

        let off = runClient(base + "/echo", configure: { $0.compression = false }, setup: { rec in
            rec.onOpen = { c in try! c.close() }
        })
        XCTAssertNil(off.openResult?.compression)
    }

    func testServerWindowBitsAndClientWindowBits() {
        for bits in [9, 12, 15] {
            let text = String(repeating: "window bits \(bits) ", count: 300)
            let r = runClient(base + "/echo?server_max_window_bits=\(bits)&client_max_window_bits=\(bits)", setup: { rec in
                var n = 0
                rec.onOpen = { c in try! c.send(text: text) }
                rec.onMessage = { c, _ in n += 1; if n < 2 { try! c.send(text: text) } else { try! c.close() } }
            })
            XCTAssertEqual(r.openResult?.compression?.serverMaxWindowBits, bits)
            XCTAssertEqual(r.messages, [Array(text.utf8), Array(text.utf8)])
        }
    }

    func testSubprotocolOfferAndChoice() {
        let r = runClient(base + "/echo", configure: { $0.protocols = ["chat.v2", "chat.v1"] }, setup: { rec in
            rec.onOpen = { c in try! c.close() }
        })
        XCTAssertEqual(r.events.first, .open(code: 101, reason: "Switching Protocols", protocolName: "chat.v2"))
        // Offered through a plain header, as C callers do.
        let h = runClient(base + "/echo", headers: [WebSocketHeader("Sec-WebSocket-Protocol", "mqtt")], setup: { rec in
            rec.onOpen = { c in try! c.close() }
        })
        XCTAssertEqual(h.openResult?.protocolName, "mqtt")
        let bad = runClient(base + "/misbehave/unoffered-protocol", configure: { $0.protocols = ["a"] })
        XCTAssertEqual(bad.errors.first?.0, WebSocketErrCode.protocolError.rawValue)
        XCTAssertNil(bad.close)
    }

    func testCustomHeadersReachTheServer() throws {
        let r = runClient(base + "/headers", headers: [WebSocketHeader("X-Per-Connect", "2")],
                          configure: { $0.headers = [WebSocketHeader("X-Per-Client", "1"), WebSocketHeader("User-Agent", "bot/1")] },
                          setup: { rec in rec.onMessage = { c, _ in try! c.close() } })
        let json = try XCTUnwrap(r.messages.first)
        let object = try JSONSerialization.jsonObject(with: Data(json)) as? [String: String]
        XCTAssertEqual(object?["X-Per-Client"], "1")
        XCTAssertEqual(object?["X-Per-Connect"], "2")
        XCTAssertEqual(object?["User-Agent"], "bot/1")
    }

    func testInvalidHeadersAreRejectedSynchronously() {
        let client = WebSocketClient()
        XCTAssertThrowsError(try client.connect(to: base, headers: [WebSocketHeader("X-A", "1\r\nX-Injected: 1")])) {
            XCTAssertEqual(($0 as? WebSocketError)?.code, .noHeaderContext)
        }
        XCTAssertThrowsError(try client.connect(to: base, headers: [WebSocketHeader("Sec-WebSocket-Key", "x")])) {
            XCTAssertEqual(($0 as? WebSocketError)?.code, .noHeaderContext)
        }
        XCTAssertThrowsError(try client.connect(to: base, headers: (0..<9000).map { WebSocketHeader("X-\($0)", "v") })) {
            XCTAssertEqual(($0 as? WebSocketError)?.code, .headerExceeded)
        }
        XCTAssertThrowsError(try client.connect(to: "ws://[::1")) {
            XCTAssertEqual(($0 as? WebSocketError)?.code, .connectionParseURLError)
        }
        XCTAssertEqual(client.state, .idle)
    }

    func testIPv6Loopback() throws {
        var c = LocalWebSocketServer.Configuration()
        c.host = "::1"
        let server = LocalWebSocketServer(configuration: c)
        do { try server.start() } catch {
            throw XCTSkip("no IPv6 loopback on this machine: \(error)")
        }
        defer { server.stop() }
        let r = runClient("ws://[::1]:\(server.port)/echo", setup: { rec in
            rec.onOpen = { c in try! c.send(text: "v6") }
            rec.onMessage = { c, _ in try! c.close() }
        })
        XCTAssertEqual(r.messages, [Array("v6".utf8)])
    }

    // MARK: Errors before open

    func testConnectionRefusedDNSAndTimeouts() {
        let refused = runClient("ws://127.0.0.1:1/")
        XCTAssertEqual(refused.errors.first?.0, WebSocketErrCode.connectionError.rawValue)
        XCTAssertTrue(refused.errors.first?.1.contains("refused") ?? false, "\(refused.errors)")
        XCTAssertEqual(refused.events.count, 1, "onError alone")

        let dns = runClient("ws://no-such-host.invalid/")
        XCTAssertEqual(dns.errors.first?.0, WebSocketErrCode.connectionError.rawValue)
        XCTAssertTrue(dns.errors.first?.1.contains("DNS") ?? false, "\(dns.errors)")

        let hang = runClient(base + "/misbehave/hang", configure: { $0.connectTimeout = .milliseconds(300) })
        XCTAssertEqual(hang.errors.first?.0, WebSocketErrCode.connectionError.rawValue)
        XCTAssertTrue(hang.errors.first?.1.contains("timed out") ?? false, "\(hang.errors)")
        XCTAssertEqual(hang.events.count, 1)

        let slow = runClient(base + "/misbehave/slow-handshake?ms=2000", configure: { $0.connectTimeout = .milliseconds(300) })
        XCTAssertTrue(slow.errors.first?.1.contains("timed out") ?? false)
        let slowOK = runClient(base + "/misbehave/slow-handshake?ms=100", setup: { rec in rec.onOpen = { c in try! c.close() } })
        XCTAssertEqual(slowOK.close?.0, 1000)
    }

    func testUpgradeFailuresCarryTheReason() {
        let rejected = runClient(base + "/status?code=403")
        XCTAssertEqual(rejected.errors.first?.0, WebSocketErrCode.connectionError.rawValue)
        XCTAssertTrue(rejected.errors.first?.1.contains("HTTP/1.1 403 Forbidden") ?? false)
        XCTAssertTrue(rejected.errors.first?.1.contains("rejected by the test server") ?? false, "body preview")

        let accept = runClient(base + "/misbehave/bad-accept")
        XCTAssertEqual(accept.errors.first?.0, WebSocketErrCode.protocolError.rawValue)
        XCTAssertTrue(accept.errors.first?.1.contains("Sec-WebSocket-Accept") ?? false)

        let garbage = runClient(base + "/misbehave/garbage")
        XCTAssertEqual(garbage.errors.first?.0, WebSocketErrCode.protocolError.rawValue)

        let half = runClient(base + "/misbehave/half-response")
        XCTAssertEqual(half.errors.first?.0, WebSocketErrCode.connectionClosedByPeer.rawValue)

        let ext = runClient(base + "/misbehave/unoffered-extension")
        XCTAssertEqual(ext.errors.first?.0, WebSocketErrCode.protocolError.rawValue)
        for r in [rejected, accept, garbage, half, ext] {
            XCTAssertEqual(r.events.count, 1, "exactly one terminal event: \(r.events)")
        }
    }

    // MARK: Errors after open

    func expectFailure(_ path: String, closeCode: UInt32, errorCode: WebSocketErrCode, mentioning: String,
                       configure: (inout WebSocketClientConfiguration) -> Void = { _ in }, line: UInt = #line) {
        let r = runClient(base + path, configure: configure)
        XCTAssertEqual(r.errors.first?.0, errorCode.rawValue, "\(r.events)", line: line)
        XCTAssertTrue(r.errors.first?.1.contains(mentioning) ?? false, "\(r.errors)", line: line)
        XCTAssertEqual(r.close?.0, closeCode, "\(r.events)", line: line)
        XCTAssertEqual(r.terminalCount, 1, line: line)
        if case .close = r.events.last {} else { XCTFail("onClose must come last: \(r.events)", line: line) }
    }

    func testProtocolViolationsFromTheServer() {
        expectFailure("/misbehave/invalid-utf8", closeCode: 1007, errorCode: .protocolError, mentioning: "UTF-8")
        expectFailure("/misbehave/masked", closeCode: 1002, errorCode: .protocolError, mentioning: "masked")
        expectFailure("/misbehave/rsv", closeCode: 1002, errorCode: .protocolError, mentioning: "RSV")
        expectFailure("/misbehave/opcode", closeCode: 1002, errorCode: .protocolError, mentioning: "opcode")
        expectFailure("/misbehave/bad-close-code", closeCode: 1002, errorCode: .protocolError, mentioning: "close code")
        expectFailure("/misbehave/big-control", closeCode: 1002, errorCode: .protocolError, mentioning: "125")
    }

    func testIncomingSizeLimitAndZipBomb() {
        expectFailure("/misbehave/oversized?size=300000", closeCode: 1009, errorCode: .dataLengthExceeded, mentioning: "limit",
                      configure: { $0.maxReceiveSize = 256 * 1024 })
        expectFailure("/misbehave/zipbomb?size=20000000", closeCode: 1009, errorCode: .dataLengthExceeded, mentioning: "inflated",
                      configure: { $0.maxReceiveSize = 4 << 20 })
        let ok = runClient(base + "/misbehave/oversized?size=300000", setup: { rec in rec.onMessage = { c, _ in try! c.close() } })
        XCTAssertEqual(ok.messages.first?.count, 300000)
    }

    func testFragmentsAndPingsFromTheServer() {
        let r = runClient(base + "/misbehave/fragmented", setup: { rec in rec.onMessage = { c, _ in try! c.close() } })
        XCTAssertEqual(r.messages, [Array("Hello, World".utf8)])
        let p = runClient(base + "/misbehave/ping", setup: { rec in rec.onMessage = { c, _ in try! c.close() } })
        XCTAssertEqual(p.messages, [Array("pong:are you there".utf8)], "ping answered with a pong carrying its payload")
    }

    func testServerInitiatedCloseAndAbruptDrop() {
        let r = runClient(base + "/close?code=4001&reason=server%20bye")
        XCTAssertEqual(r.close?.0, 4001)
        XCTAssertEqual(r.close?.1, "server bye")
        let d = runClient(base + "/misbehave/drop")
        XCTAssertEqual(d.messages, [Array("bye".utf8)])
        XCTAssertEqual(d.close?.0, 1006)
        XCTAssertEqual(d.terminalCount, 1)
    }

    /// 1012 (service restart), 1013 (try again later) and 1014 (bad gateway) are registered close
    /// codes: a server that restarts says so with a clean close, not a protocol error (they failed
    /// the connection with 1002 "invalid close code"). The client may send them too.
    func testRegisteredCloseCodesAfterRFC6455AreCleanCloses() {
        for code: UInt16 in [1012, 1013, 1014] {
            let r = runClient(base + "/close?code=\(code)&reason=later")
            XCTAssertEqual(r.close?.0, UInt32(code))
            XCTAssertEqual(r.close?.1, "later")
            XCTAssertTrue(r.errors.isEmpty, "\(code): \(r.errors)")
            XCTAssertEqual(r.terminalCount, 1)
            let ours = runClient(base + "/echo", setup: { rec in
                rec.onOpen = { c in
                    do { try c.close(code: UInt32(code), reason: "bye") } catch { XCTFail("close(\(code)): \(error)") }
                }
            })
            XCTAssertEqual(ours.close?.0, UInt32(code), "the echo server answers with the code it got")
        }
    }

    func testCloseTimeoutWhenTheServerNeverAnswers() {
        let start = DispatchTime.now()
        let r = runClient(base + "/misbehave/no-close-reply", configure: { $0.closeTimeout = .milliseconds(300) }, setup: { rec in
            rec.onOpen = { c in try! c.close(code: 1000) }
        })
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        XCTAssertEqual(r.close?.0, 1006, "no close frame came back")
        XCTAssertLessThan(elapsed, 5, "bounded by the close timeout")
    }

    func testKeepalivePongTimeout() {
        let r = runClient(base + "/misbehave/silent", configure: {
            $0.pingInterval = .milliseconds(100)
            $0.pongTimeout = .milliseconds(200)
        })
        XCTAssertEqual(r.errors.first?.0, WebSocketErrCode.connectionError.rawValue)
        XCTAssertTrue(r.errors.first?.1.contains("pong") ?? false)
        XCTAssertEqual(r.close?.0, 1006)
        // With answers, keepalive keeps the connection up.
        let ok = runClient(base + "/echo", configure: {
            $0.pingInterval = .milliseconds(50)
            $0.pongTimeout = .milliseconds(200)
        }, setup: { rec in
            rec.onOpen = { c in c.eventLoop.scheduleTask(in: .milliseconds(600)) { try? c.close() } }
        })
        XCTAssertEqual(ok.close?.0, 1000)
        XCTAssertTrue(ok.errors.isEmpty)
    }

    /// An interval above zero counts as at least `minimumPingInterval` (1 ms): one of 1 ns would
    /// send a ping on every loop turn. Over 300 ms that is at most about 300 pings.
    func testAPingIntervalBelowTheMinimumCountsAsTheMinimum() {
        let pings = NIOLockedValueBox(0)
        let r = runClient(base + "/echo", configure: {
            $0.pingInterval = .nanoseconds(1)
            $0.frameTrace = { line in if line.hasPrefix("> FIN ping") { pings.withLockedValue { $0 += 1 } } }
        }, setup: { rec in
            rec.onOpen = { c in c.eventLoop.scheduleTask(in: .milliseconds(300)) { try? c.close() } }
        })
        XCTAssertEqual(r.close?.0, 1000)
        let sent = pings.withLockedValue { $0 }
        XCTAssertGreaterThan(sent, 0, "keepalive still pings")
        XCTAssertLessThanOrEqual(sent, 400, "no more than one ping a millisecond")
    }

    // MARK: Send and close contract

    func testSendAndCloseErrorCodes() throws {
        var config = WebSocketClientConfiguration()
        config.maxSendSize = 1000
        config.maxSendQueue = 1500
        let client = WebSocketClient(configuration: config)
        let rec = EventRecorder()
        rec.attach(client)
        XCTAssertThrowsError(try client.send(text: "early")) { XCTAssertEqual(($0 as? WebSocketError)?.code, .noConnection) }
        XCTAssertThrowsError(try client.close()) { XCTAssertEqual(($0 as? WebSocketError)?.code, .noConnection) }
        try client.connect(to: base + "/misbehave/hang")
        XCTAssertThrowsError(try client.connect(to: base)) { XCTAssertEqual(($0 as? WebSocketError)?.code, .connectionError) }
        XCTAssertThrowsError(try client.send(text: "connecting")) { XCTAssertEqual(($0 as? WebSocketError)?.code, .noConnection) }
        client.destroy()

        let c2 = WebSocketClient(configuration: config)
        let rec2 = EventRecorder()
        rec2.attach(c2)
        try c2.connect(to: base + "/echo")
        rec2.waitForOpen()
        XCTAssertThrowsError(try c2.send(binary: [UInt8](repeating: 0, count: 1001))) { XCTAssertEqual(($0 as? WebSocketError)?.code, .dataLengthExceeded) }
        XCTAssertThrowsError(try c2.close(code: 1005)) { XCTAssertEqual(($0 as? WebSocketError)?.code, .protocolError) }
        XCTAssertThrowsError(try c2.close(code: 2000)) { XCTAssertEqual(($0 as? WebSocketError)?.code, .protocolError) }
        XCTAssertThrowsError(try c2.close(code: 1000, reason: String(repeating: "r", count: 124))) { XCTAssertEqual(($0 as? WebSocketError)?.code, .dataLengthExceeded) }
        // Queue bound: from another thread, sends pile up faster than the loop drains them.
        let filler = [UInt8](repeating: 1, count: 1000)
        var sawQueueFull = false
        try c2.eventLoop.submit {
            // On the loop nothing is written until this task returns, so the queue fills.
            try c2.send(binary: filler)
            do { try c2.send(binary: filler) } catch let e as WebSocketError { sawQueueFull = e.code == .queueLengthExceeded }
        }.wait()
        XCTAssertTrue(sawQueueFull)
        try c2.close(code: 0, reason: "")   // 0 means 1000
        XCTAssertNoThrow(try c2.close(), "closing twice is fine")
        rec2.waitForTerminal()
        XCTAssertEqual(rec2.close?.0, 1000)
        XCTAssertThrowsError(try c2.send(text: "late")) { XCTAssertEqual(($0 as? WebSocketError)?.code, .noConnection) }
        c2.destroy()
        XCTAssertThrowsError(try c2.send(text: "destroyed")) { XCTAssertEqual(($0 as? WebSocketError)?.code, .clientNotCreated) }
        XCTAssertThrowsError(try c2.connect(to: base)) { XCTAssertEqual(($0 as? WebSocketError)?.code, .clientNotCreated) }
    }

    func testReconnectAfterClose() throws {
        let client = WebSocketClient()
        for round in 0..<3 {
            let rec = EventRecorder()
            rec.attach(client)
            rec.onOpen = { c in try! c.send(text: "round \(round)") }
            rec.onMessage = { c, _ in try! c.close() }
            try client.connect(to: base + "/echo")
            rec.waitForTerminal()
            XCTAssertEqual(rec.messages, [Array("round \(round)".utf8)])
        }
    }

    /// Kept messages of `ownStorageThreshold` bytes or more hold only storage of their own: binary
    /// ones exactly their size here (64 KiB, a power of two), text ones at most twice it (what
    /// allocations in powers of two promise in general). With `Int.max` they are slices of
    /// read buffers and hold those (1 MiB each once reads grew, measured here).
    func testLargeMessagesArriveInStorageOfTheirOwn() throws {
        let size = 65536, n = 64
        for (binary, threshold) in [(true, 16 * 1024), (false, 16 * 1024), (true, Int.max)] {
            var config = WebSocketClientConfiguration()
            config.compression = false
            config.ownStorageThreshold = threshold
            let client = WebSocketClient(configuration: config)
            let lock = NSLock()
            var kept: [WebSocketMessage] = []
            let done = DispatchSemaphore(value: 0)
            client.onMessage = { _, m in lock.withLock { kept.append(m) } }
            client.onClose = { _, _ in done.signal() }
            try client.connect(to: base + "/flood?n=\(n)&size=\(size)&binary=\(binary ? 1 : 0)")
            XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
            client.destroy()
            let messages = lock.withLock { kept }
            let what = "binary \(binary), threshold \(threshold)"
            XCTAssertEqual(messages.count, n, what)
            XCTAssertTrue(messages.allSatisfy { $0.data.readableBytes == size && $0.kind == (binary ? .binary : .text) }, what)
            let expected = (0..<size).map { UInt8(ascii: "a") + UInt8($0 % 26) }
            XCTAssertTrue(messages.allSatisfy { m in
                m.data.withUnsafeReadableBytes { got in expected.withUnsafeBytes { memcmp(got.baseAddress!, $0.baseAddress!, size) == 0 } }
            }, "content, \(what)")
            let largest = messages.map(\.data.storageCapacity).max() ?? 0
            switch (binary, threshold) {
            case (true, Int.max): XCTAssertGreaterThan(largest, 2 * size, "slices keep a larger read buffer")
            case (true, _): XCTAssertEqual(largest, size, "each kept binary message holds exactly its bytes")
            default: XCTAssertLessThanOrEqual(largest, 2 * size, "each kept text message holds storage of its own")
            }
        }
    }

    func testDestroyStopsCallbacksFromAnyThreadAndInsideCallbacks() throws {
        // From another thread while a flood is arriving.
        let client = WebSocketClient()
        let counter = ManagedCounter()
        client.onMessage = { _, _ in counter.increment() }
        client.onClose = { _, _ in counter.closed() }
        try client.connect(to: base + "/flood?n=100000&size=16")
        while counter.value == 0 { usleep(1000) }
        client.destroy()
        let after = counter.value
        usleep(200_000)
        XCTAssertEqual(counter.value, after, "no message callback after destroy returned")
        XCTAssertEqual(counter.closes, 0, "no onClose after destroy")

        // From inside the client's own callbacks.
        for where_ in ["open", "message", "close"] {
            let c = WebSocketClient()
            let done = DispatchSemaphore(value: 0)
            c.onOpen = { c, _ in if where_ == "open" { c.destroy(); done.signal() } else { try! c.send(text: "x") } }
            c.onMessage = { c, _ in if where_ == "message" { c.destroy(); done.signal() } else { try! c.close() } }
            c.onClose = { c, _ in if where_ == "close" { c.destroy(); done.signal() } }
            try c.connect(to: base + "/echo")
            XCTAssertEqual(done.wait(timeout: .now() + 5), .success, where_)
            XCTAssertEqual(c.state, .destroyed)
        }
    }

    func testManyClientsAtOnce() throws {
        let n = 300
        let group = DispatchGroup()
        let counter = ManagedCounter()
        var clients: [WebSocketClient] = []
        for i in 0..<n {
            let c = WebSocketClient()
            group.enter()
            c.onOpen = { c, _ in try! c.send(text: "client \(i)") }
            c.onMessage = { c, m in if m.text == "client \(i)" { counter.increment() }; try! c.close() }
            c.onClose = { _, _ in group.leave() }
            c.onError = { c, _ in if c.state == .closed { group.leave() } }
            clients.append(c)
        }
        for c in clients { try c.connect(to: base + "/echo") }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(counter.value, n)
    }

    func testSendFromManyThreadsKeepsEveryMessage() throws {
        let client = WebSocketClient()
        let rec = EventRecorder()
        rec.attach(client)
        try client.connect(to: base + "/echo")
        rec.waitForOpen()
        let threads = 4, each = 200
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<each { try! client.send(text: "\(t):\(i)") }
        }
        let deadline = Date().addingTimeInterval(10)
        while rec.messages.count < threads * each && Date() < deadline { usleep(10_000) }
        try client.close()
        rec.waitForTerminal()
        let got = rec.messages.map { String(decoding: $0, as: UTF8.self) }
        XCTAssertEqual(got.count, threads * each)
        for t in 0..<threads {
            let mine = got.filter { $0.hasPrefix("\(t):") }
            XCTAssertEqual(mine, (0..<each).map { "\(t):\($0)" }, "per-thread order kept")
        }
    }
}

final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var _value = 0
    private var _closes = 0
    var value: Int { lock.withLock { _value } }
    var closes: Int { lock.withLock { _closes } }
    func increment() { lock.withLock { _value += 1 } }
    func closed() { lock.withLock { _closes += 1 } }
}
