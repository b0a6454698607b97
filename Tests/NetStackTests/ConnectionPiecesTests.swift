import NIOCore
@testable import NetStack
import XCTest

/// The values the connection handler consults, without I/O: the route to the host (direct or a
/// proxy's tunnel), the ledger of pings awaiting pongs, and when pings are answered.
final class ConnectionPiecesTests: XCTestCase {
    private func url(_ s: String) throws -> WebSocketURL { try WebSocketURL(parsing: s) }

    // MARK: ConnectionRoute

    func testTheRouteFollowsTheProxyKindAndTheHost() throws {
        let http = WebSocketProxy(kind: .http, host: "proxy", port: 3128)
        let socks = WebSocketProxy(kind: .socks5, host: "proxy")
        let socksH = WebSocketProxy(kind: .socks5h, host: "proxy")

        XCTAssertEqual(ConnectionRoute.plan(for: try url("ws://ex.org/x"), through: nil), .direct)
        XCTAssertEqual(ConnectionRoute.plan(for: try url("wss://ex.org/x"), through: http), .tunnel(.http(http)))
        XCTAssertEqual(ConnectionRoute.plan(for: try url("ws://ex.org:81/x"), through: socksH),
                       .tunnel(.socks(socksH, .name("ex.org", port: 81))), "socks5h hands the name to the proxy")
        XCTAssertEqual(ConnectionRoute.plan(for: try url("wss://ex.org/x"), through: socks),
                       .resolveThenTunnel(socks, host: "ex.org", port: 443), "socks5 resolves the name here first")
        for proxy in [socks, socksH] {
            XCTAssertEqual(ConnectionRoute.plan(for: try url("ws://10.1.2.3:8080/"), through: proxy),
                           .tunnel(.socks(proxy, .address([10, 1, 2, 3], port: 8080))), "an address is sent as one")
            XCTAssertEqual(ConnectionRoute.plan(for: try url("ws://[::1]:9/"), through: proxy),
                           .tunnel(.socks(proxy, .address([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], port: 9))))
        }
        XCTAssertEqual(ConnectionRoute.Tunnel.http(http).proxy, http)
    }

    func testASOCKS5NameOver255BytesIsRefusedBeforeAnyConnection() throws {
        let socksH = WebSocketProxy(kind: .socks5h, host: "proxy")
        // The URL parser refuses names over 253 bytes (a DNS name's limit); a URL value can still be
        // given one, and a SOCKS5 request cannot carry it (one length byte).
        XCTAssertThrowsError(try url("ws://" + Array(repeating: String(repeating: "a", count: 63), count: 5).joined(separator: ".") + "/"))
        var target = try url("ws://ex.org/")
        target.host = String(repeating: "a", count: 256)
        XCTAssertEqual(ConnectionRoute.plan(for: { var t = target; t.host = String(repeating: "a", count: 255); return t }(), through: socksH),
                       .tunnel(.socks(socksH, .name(String(repeating: "a", count: 255), port: 80))), "255 bytes fit")
        guard case .refused(let error) = ConnectionRoute.plan(for: target, through: socksH) else {
            return XCTFail("expected a refusal")
        }
        XCTAssertEqual(error.code, .connectionError)
        XCTAssertTrue(error.message.contains("over 255 bytes"), error.message)
        XCTAssertTrue(error.message.contains("proxy"), error.message)
    }

    func testAResolvedNameBecomesTheTunnelsAddress() throws {
        let socks = WebSocketProxy(kind: .socks5, host: "proxy")
        XCTAssertEqual(ConnectionRoute.resolved(try SocketAddress(ipAddress: "192.0.2.7", port: 1), through: socks, host: "h", port: 443),
                       .success(.socks(socks, .address([192, 0, 2, 7], port: 443))), "the URL's port, not the address's")
        XCTAssertEqual(ConnectionRoute.resolved(try SocketAddress(ipAddress: "2001:db8::5", port: 1), through: socks, host: "h", port: 80),
                       .success(.socks(socks, .address([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5], port: 80))))
        let unix = try SocketAddress(unixDomainSocketPath: "/tmp/x")
        guard case .failure(let error) = ConnectionRoute.resolved(unix, through: socks, host: "h", port: 80) else {
            return XCTFail("a Unix socket is no IP address")
        }
        XCTAssertEqual(error.message, "DNS lookup for 'h' gave no IP address")
    }

    // MARK: PingLedger

    /// Each completion records what it was given into `log`.
    private final class Log: @unchecked Sendable {
        var lines: [String] = []
        func completion(_ name: String) -> WebSocketClient.PingCompletion {
            { [self] result in
                switch result {
                case .success(let t): lines.append("\(name) \(t.nanoseconds)")
                case .failure(let e): lines.append("\(name) \(e.code.rawValue) \(e.message)")
                }
            }
        }
    }

    private func bytes(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }

    func testAPongAnswersItsPingAndEveryOneBeforeIt() {
        let log = Log()
        var ledger = PingLedger(limit: 8)
        XCTAssertTrue(ledger.isEmpty)
        for (i, name) in ["a", "b", "c"].enumerated() {
            XCTAssertNil(ledger.sent(Array(name.utf8), at: UInt64(100 * (i + 1)), completion: log.completion(name)))
        }
        XCTAssertEqual(ledger.count, 3)
        XCTAssertTrue(ledger.pong(bytes("zzz"), at: 1_000).isEmpty, "an unsolicited pong answers nothing")
        XCTAssertEqual(ledger.count, 3)
        for p in ledger.pong(bytes("b"), at: 1_000) { p.run() }
        XCTAssertEqual(log.lines, ["a 900", "b 800"], "oldest first, each with its own round trip")
        XCTAssertEqual(ledger.count, 1)
        for p in ledger.pong(bytes("b"), at: 2_000) { p.run() }
        XCTAssertEqual(log.lines.count, 2, "a pong answers a ping once")
        for p in ledger.pong(bytes("c"), at: 2_000) { p.run() }
        XCTAssertEqual(log.lines.last, "c 1700")
        XCTAssertTrue(ledger.isEmpty)
    }

    func testEqualPayloadsAreAnsweredOldestFirst() {
        let log = Log()
        var ledger = PingLedger(limit: 8)
        XCTAssertNil(ledger.sent([], at: 10, completion: log.completion("first")))
        XCTAssertNil(ledger.sent([], at: 20, completion: log.completion("second")))
        for p in ledger.pong(ByteBuffer(), at: 50) { p.run() }
        XCTAssertEqual(log.lines, ["first 40"])
        for p in ledger.pong(ByteBuffer(), at: 60) { p.run() }
        XCTAssertEqual(log.lines, ["first 40", "second 40"])
    }

    func testThePingOverTheLimitFailsAtOnceAndTheOthersFailWhenTheConnectionEnds() {
        let log = Log()
        var ledger = PingLedger(limit: 2)
        XCTAssertNil(ledger.sent([1], at: 0, completion: log.completion("1")))
        XCTAssertNil(ledger.sent([2], at: 0, completion: log.completion("2")))
        guard let refused = ledger.sent([3], at: 0, completion: log.completion("3")) else { return XCTFail("the third must be refused") }
        XCTAssertEqual(log.lines, [], "reported by whoever runs it")
        refused.run()
        XCTAssertEqual(log.lines, ["3 1013 2 pings already await their pong"])
        XCTAssertEqual(ledger.count, 2, "the refused ping is not recorded")
        let ended = ledger.connectionEnded()
        XCTAssertTrue(ledger.isEmpty)
        for p in ended { p.run() }
        XCTAssertEqual(Array(log.lines.dropFirst()), ["1 1017 the connection ended before the pong", "2 1017 the connection ended before the pong"])
        XCTAssertTrue(ledger.connectionEnded().isEmpty, "nothing fails twice")
    }

    func testForgettingDropsThePingsWithoutAReport() {
        let log = Log()
        var ledger = PingLedger()
        XCTAssertEqual(ledger.limit, WebSocketClient.maxPingsAwaitingPong)
        XCTAssertNil(ledger.sent([1], at: 0, completion: log.completion("1")))
        ledger.forget()
        XCTAssertTrue(ledger.isEmpty)
        XCTAssertTrue(ledger.connectionEnded().isEmpty)
        XCTAssertEqual(log.lines, [])
    }

    // MARK: PongReplies

    func testPingsAreAnsweredAtOnceWhileThePeerReads() {
        var replies = PongReplies()
        XCTAssertEqual(replies.ping(bytes("p1"), writable: true), bytes("p1"))
        XCTAssertEqual(replies.ping(bytes("p2"), writable: true), bytes("p2"))
        XCTAssertEqual(replies.bytesSinceFlush, 16, "two pong frames of 2 + 6 bytes")
        XCTAssertNil(replies.waiting)
        replies.flushed()
        XCTAssertEqual(replies.bytesSinceFlush, 0)
    }

    func testOnlyTheNewestPingWaitsWhileTheChannelIsFull() {
        var replies = PongReplies()
        XCTAssertNil(replies.ping(bytes("old"), writable: false))
        XCTAssertNil(replies.ping(bytes("new"), writable: false), "the newer replaces it")
        XCTAssertNil(replies.ping(bytes("newest"), writable: true), "while one waits, the next waits too (order)")
        XCTAssertEqual(replies.waiting, bytes("newest"))
        XCTAssertNil(replies.takeWaiting(writable: false), "not while the channel is still full")
        XCTAssertEqual(replies.takeWaiting(writable: true), bytes("newest"))
        XCTAssertNil(replies.waiting)
        XCTAssertNil(replies.takeWaiting(writable: true), "once")
        XCTAssertEqual(replies.bytesSinceFlush, 12)
    }

    func testABurstOfPingsIsCoalescedOnceItsPongsFillTheBudget() {
        var replies = PongReplies()
        let payload = ByteBuffer(repeating: 7, count: 125)
        var answered = 0
        for _ in 0..<2_000 where replies.ping(payload, writable: true) != nil { answered += 1 }
        // Each pong is 131 bytes: answered until 64 KiB of them are unflushed, then one waits.
        XCTAssertEqual(answered, (PongReplies.outboxLimit + 130) / 131)
        XCTAssertNotNil(replies.waiting)
        XCTAssertLessThanOrEqual(replies.bytesSinceFlush, PongReplies.outboxLimit + 131)
        replies.flushed()
        XCTAssertEqual(replies.takeWaiting(writable: true), payload, "answered after the flush")
        XCTAssertEqual(replies.ping(payload, writable: true), payload, "and the budget is back")
    }
}
