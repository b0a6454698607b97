@testable import LuaHost
import NetStack
import XCTest

/// The stage a failed attempt is reported in (connect's exit statuses), and the client defaults'
/// header merge (run's -H), as values.
final class ConnectStageTests: XCTestCase {
    func testStageFromProgress() {
        let none = WebSocketClient.Progress(secure: true, transportConnected: false, tlsDone: false)
        let tcp = WebSocketClient.Progress(secure: true, transportConnected: true, tlsDone: false)
        let tls = WebSocketClient.Progress(secure: true, transportConnected: true, tlsDone: true)
        let plain = WebSocketClient.Progress(secure: false, transportConnected: true, tlsDone: false)
        XCTAssertEqual(ConnectStage.of(WebSocketError(.connectionError, "DNS lookup failed for 'x'"), progress: none), .resolve)
        XCTAssertEqual(ConnectStage.of(WebSocketError(.connectionError, "could not connect to x:1: connection refused"), progress: none), .connect)
        XCTAssertEqual(ConnectStage.of(WebSocketError(.connectionError, "timed out after 10 s (connecting, TLS and upgrade)"), progress: none), .connect)
        XCTAssertEqual(ConnectStage.of(WebSocketError(.connectionError, "proxy unreachable: ..."), progress: none), .connect)
        XCTAssertEqual(ConnectStage.of(WebSocketError(WebSocketErrCode(rawValue: 2_305_010), "expired"), progress: tcp), .tls)
        XCTAssertEqual(ConnectStage.of(WebSocketError(WebSocketErrCode(rawValue: 2_305_900), "pin"), progress: tcp), .tls)
        XCTAssertEqual(ConnectStage.of(WebSocketError(.connectionClosedByPeer, "closed"), progress: tcp), .tls, "closed during the TLS handshake")
        XCTAssertEqual(ConnectStage.of(WebSocketError(.connectionError, "timed out after 10 s (connecting, TLS and upgrade)"), progress: tls), .upgrade)
        XCTAssertEqual(ConnectStage.of(WebSocketError(.protocolError, "wrong Sec-WebSocket-Accept"), progress: tls), .upgrade)
        XCTAssertEqual(ConnectStage.of(WebSocketError(.connectionError, "server rejected the upgrade: HTTP/1.1 404"), progress: plain), .upgrade)
    }

    func testDefaultHeadersGiveWayToTheScripts() {
        var d = ClientDefaults()
        d.headers = [WebSocketHeader("X-Token", "flag"), WebSocketHeader("X-Other", "kept")]
        let merged = d.headers(beside: [WebSocketHeader("x-token", "mine")])
        XCTAssertEqual(merged, [WebSocketHeader("X-Other", "kept"), WebSocketHeader("x-token", "mine")])
        XCTAssertEqual(ClientDefaults().headers(beside: [WebSocketHeader("A", "1")]), [WebSocketHeader("A", "1")])
    }
}
