import NIOCore
import NIOEmbedded
@testable import NetStack
import XCTest

/// The SOCKS5 client handshake byte by byte (RFC 1928, RFC 1929), then its handler on an
/// EmbeddedChannel.
final class SOCKS5HandshakeTests: XCTestCase {
    private let plain = WebSocketProxy(kind: .socks5h, host: "p", port: 1080)
    private let withUser = WebSocketProxy(kind: .socks5h, host: "p", port: 1080, username: "bob", password: "pw")

    private func feed(_ h: inout SOCKS5Handshake, _ bytes: [UInt8]) -> SOCKS5Handshake.Step {
        bytes.withUnsafeBytes { h.receive($0) }
    }

    func testWithoutAuthenticationTheRequestNamesTheHost() {
        var h = SOCKS5Handshake(proxy: plain, target: .name("ex.org", port: 443), targetText: "ex.org:443")
        XCTAssertEqual(h.greeting, [5, 1, 0])
        XCTAssertEqual(feed(&h, [5]), .needMore)
        XCTAssertEqual(feed(&h, [5, 0]), .send([5, 1, 0, 3, 6] + Array("ex.org".utf8) + [1, 187], consumed: 2))
        XCTAssertEqual(feed(&h, [5, 0, 0, 1, 10, 0]), .needMore, "a reply with an IPv4 address is 10 bytes")
        XCTAssertEqual(feed(&h, [5, 0, 0, 1, 10, 0, 0, 1, 0x1F, 0x90, 0x81, 0x7E]), .established(consumed: 10),
                       "bytes after the reply are the target's")
    }

    func testUserAndPasswordAreSentWhenTheProxyAsks() {
        var h = SOCKS5Handshake(proxy: withUser, target: .address([127, 0, 0, 1], port: 80), targetText: "127.0.0.1:80")
        XCTAssertEqual(h.greeting, [5, 2, 0, 2])
        XCTAssertEqual(feed(&h, [5, 2]), .send([1, 3] + Array("bob".utf8) + [2] + Array("pw".utf8), consumed: 2))
        XCTAssertEqual(feed(&h, [1, 0]), .send([5, 1, 0, 1, 127, 0, 0, 1, 0, 80], consumed: 2))
        XCTAssertEqual(feed(&h, [5, 0, 0, 3, 2, 0x61, 0x62, 0, 80]), .established(consumed: 9), "a reply with a name")
    }

    func testAnIPv6TargetUsesAddressType4() {
        var h = SOCKS5Handshake(proxy: plain, target: .address(Array(repeating: 0, count: 15) + [1], port: 8080), targetText: "[::1]:8080")
        XCTAssertEqual(feed(&h, [5, 0]), .send([5, 1, 0, 4] + Array(repeating: 0, count: 15) + [1, 0x1F, 0x90], consumed: 2))
        XCTAssertEqual(feed(&h, [5, 0, 0, 4] + Array(repeating: 0, count: 18)), .established(consumed: 22))
    }

    private func failure(_ step: SOCKS5Handshake.Step) -> String {
        guard case .failed(let e) = step else { return "not a failure: \(step)" }
        XCTAssertEqual(e.code, .connectionError)
        return e.message
    }

    func testEveryFailureSaysWhichKindItIs() {
        var h = SOCKS5Handshake(proxy: withUser, target: .name("t", port: 1), targetText: "t:1")
        _ = feed(&h, [5, 2])
        XCTAssertTrue(failure(feed(&h, [1, 1])).hasPrefix("proxy authentication failed: user 'bob' rejected"))

        h = SOCKS5Handshake(proxy: plain, target: .name("t", port: 1), targetText: "t:1")
        XCTAssertTrue(failure(feed(&h, [5, 0xFF])).hasPrefix("proxy authentication failed: the SOCKS5 proxy requires authentication and no user"))
        h = SOCKS5Handshake(proxy: plain, target: .name("t", port: 1), targetText: "t:1")
        XCTAssertTrue(failure(feed(&h, [5, 2])).hasPrefix("proxy authentication failed"), "user/password chosen though not offered")
        h = SOCKS5Handshake(proxy: plain, target: .name("t", port: 1), targetText: "t:1")
        XCTAssertTrue(failure(feed(&h, [4, 0])).hasPrefix("proxy protocol error: not a SOCKS5 answer"))
        h = SOCKS5Handshake(proxy: plain, target: .name("t", port: 1), targetText: "t:1")
        XCTAssertTrue(failure(feed(&h, [5, 9])).hasPrefix("proxy protocol error"))

        let expected: [UInt8: String] = [1: "proxy refused", 2: "proxy refused", 3: "target unreachable through the proxy",
                                         4: "target unreachable through the proxy", 5: "target unreachable through the proxy",
                                         6: "target unreachable through the proxy", 7: "proxy refused", 8: "proxy refused"]
        for (reply, prefix) in expected {
            h = SOCKS5Handshake(proxy: plain, target: .name("t", port: 1), targetText: "t:1")
            _ = feed(&h, [5, 0])
            let message = failure(feed(&h, [5, reply, 0, 1, 0, 0, 0, 0, 0, 0]))
            XCTAssertTrue(message.hasPrefix(prefix) && message.contains("SOCKS5 reply \(reply)"), message)
        }
        h = SOCKS5Handshake(proxy: plain, target: .name("t", port: 1), targetText: "t:1")
        _ = feed(&h, [5, 0])
        XCTAssertTrue(failure(feed(&h, [5, 0, 0, 9, 0])).hasPrefix("proxy protocol error: SOCKS5 reply with address type 9"))
    }

    func testAProxyThatClosesIsReadByTheStageItClosedIn() {
        var h = SOCKS5Handshake(proxy: withUser, target: .name("t", port: 1), targetText: "t:1")
        XCTAssertTrue(h.closed().message.hasPrefix("proxy protocol error: the proxy closed the connection after the SOCKS5 greeting"))
        h = SOCKS5Handshake(proxy: withUser, target: .name("t", port: 1), targetText: "t:1")
        _ = feed(&h, [5, 2])
        XCTAssertTrue(h.closed().message.hasPrefix("proxy authentication failed"))
        h = SOCKS5Handshake(proxy: withUser, target: .name("t", port: 1), targetText: "t:1")
        _ = feed(&h, [5, 0])
        XCTAssertTrue(h.closed().message.hasPrefix("target unreachable through the proxy: t:1"))
    }

    /// Records what passes the tunnel handler inbound.
    final class Downstream: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var active = 0
        var reads: [[UInt8]] = []
        var errors: [Error] = []
        func channelActive(context: ChannelHandlerContext) { active += 1 }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { reads.append(Array(unwrapInboundIn(data).readableBytesView)) }
        func errorCaught(context: ChannelHandlerContext, error: Error) { errors.append(error) }
    }

    func testTheHandlerHoldsChannelActiveUntilTheTunnelIsUpThenLeaves() throws {
        let channel = EmbeddedChannel()
        let down = Downstream()
        let tunnel = SOCKS5TunnelHandler(proxy: withUser, target: .name("ex.org", port: 80), targetText: "ex.org:80", trace: nil)
        try channel.pipeline.syncOperations.addHandlers(tunnel, down)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        XCTAssertEqual(try channel.readOutbound(as: ByteBuffer.self).map { Array($0.readableBytesView) }, [5, 2, 0, 2])
        XCTAssertEqual(down.active, 0, "TLS and the upgrade wait")
        try channel.writeInbound(ByteBuffer(bytes: [5, 2]))
        XCTAssertEqual(try channel.readOutbound(as: ByteBuffer.self).map { Array($0.readableBytesView) }, [1, 3, 98, 111, 98, 2, 112, 119])
        // The auth answer and the reply in one read, split in the middle of the reply.
        try channel.writeInbound(ByteBuffer(bytes: [1, 0, 5, 0, 0]))
        let request = try channel.readOutbound(as: ByteBuffer.self).map { Array($0.readableBytesView) }
        XCTAssertEqual(request, [5, 1, 0, 3, 6] + Array("ex.org".utf8) + [0, 80])
        XCTAssertEqual(down.active, 0)
        try channel.writeInbound(ByteBuffer(bytes: [1, 1, 2, 3, 4, 0, 80, 0x48, 0x54]))
        XCTAssertEqual(down.active, 1)
        XCTAssertEqual(down.reads, [[0x48, 0x54]], "the target's first bytes pass on")
        XCTAssertThrowsError(try channel.pipeline.syncOperations.context(handlerType: SOCKS5TunnelHandler.self), "it left the pipeline")
        try channel.writeInbound(ByteBuffer(bytes: [1, 2]))
        XCTAssertEqual(down.reads.last, [1, 2])
        XCTAssertTrue(down.errors.isEmpty)
        _ = try channel.finish()
    }

    func testTheHandlerReportsAFailureAndClosesTheChannel() throws {
        let channel = EmbeddedChannel()
        let down = Downstream()
        try channel.pipeline.syncOperations.addHandlers(
            SOCKS5TunnelHandler(proxy: plain, target: .name("ex.org", port: 80), targetText: "ex.org:80", trace: nil), down)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(bytes: [5, 0]))
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(bytes: [5, 5, 0, 1, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(down.active, 0)
        XCTAssertEqual(down.errors.count, 1)
        XCTAssertTrue("\(down.errors.first!)".contains("target unreachable through the proxy: ex.org:80: SOCKS5 reply 5 (connection refused)"))
        XCTAssertFalse(channel.isActive, "closed")
    }
}
