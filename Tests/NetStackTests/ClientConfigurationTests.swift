import NIOCore
import NIOPosix
@testable import NetStack
import XCTest

/// `WebSocketClientConfiguration` is copy on write: copies share one storage until one of them
/// changes, and a change never shows through another copy (value semantics).
final class ClientConfigurationTests: XCTestCase {
    func testCopiesShareUntilOneChanges() {
        var base = WebSocketClientConfiguration()
        base.connectTimeout = .seconds(3)
        base.tls.caFile = "/ca.pem"
        var copy = base
        XCTAssertTrue(copy.sharesStorage(with: base))

        copy.connectTimeout = .seconds(7)
        XCTAssertFalse(copy.sharesStorage(with: base))
        XCTAssertEqual(base.connectTimeout, .seconds(3))
        XCTAssertEqual(copy.connectTimeout, .seconds(7))
        // What was not changed was carried over.
        XCTAssertEqual(copy.tls.caFile, "/ca.pem")

        var nested = base
        nested.tls.serverName = "example.test"
        nested.headers.append(WebSocketHeader("X-A", "1"))
        XCTAssertNil(base.tls.serverName)
        XCTAssertEqual(base.headers.count, 0)
        XCTAssertEqual(nested.tls.serverName, "example.test")
        XCTAssertEqual(nested.headers.map(\.name), ["X-A"])
    }

    func testDefaultsAreOneStorageUntilChanged() {
        let a = WebSocketClientConfiguration(), b = WebSocketClientConfiguration()
        XCTAssertTrue(a.sharesStorage(with: b))
        var c = WebSocketClientConfiguration()
        c.compression = false
        XCTAssertFalse(c.sharesStorage(with: a))
        XCTAssertTrue(a.compression)
        XCTAssertTrue(WebSocketClientConfiguration().compression)
    }

    func testAChangeAfterACopyCopies() {
        var config = WebSocketClientConfiguration()
        config.maxSendSize = 10
        let snapshot = config
        XCTAssertTrue(snapshot.sharesStorage(with: config))
        config.maxReceiveSize = 20
        XCTAssertFalse(config.sharesStorage(with: snapshot))
        XCTAssertEqual(snapshot.maxReceiveSize, WebSocketClientConfiguration().maxReceiveSize)
        XCTAssertEqual(config.maxReceiveSize, 20)
        XCTAssertEqual(snapshot.maxSendSize, 10)
        XCTAssertEqual(config.maxSendSize, 10)
        // Closures are carried over too.
        var traced = config
        traced.trace = { _ in }
        XCTAssertNil(config.trace)
        XCTAssertNotNil(traced.trace)
    }

    func testClientsMadeFromOneConfigurationShareIt() {
        var config = WebSocketClientConfiguration()
        config.pingInterval = .seconds(5)
        let group = MultiThreadedEventLoopGroup.singleton
        let clients = (0..<100).map { _ in WebSocketClient(configuration: config, eventLoop: group.next()) }
        XCTAssertTrue(clients.allSatisfy { $0.configuration.sharesStorage(with: config) })
        // Changing one client's configuration leaves the others and the original alone.
        clients[0].configuration.pingInterval = .seconds(9)
        XCTAssertEqual(clients[0].configuration.pingInterval, .seconds(9))
        XCTAssertEqual(clients[1].configuration.pingInterval, .seconds(5))
        XCTAssertEqual(config.pingInterval, .seconds(5))
        XCTAssertTrue(clients[1].configuration.sharesStorage(with: config))
        for c in clients { c.destroy() }
    }
}
