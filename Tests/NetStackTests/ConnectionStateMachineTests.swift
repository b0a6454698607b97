import NIOCore
@testable import NetStack
import XCTest

/// The connection's life as a value: every transition and the actions it asks for, with no I/O,
/// no clock and no callbacks (the timers are events the test fires).
final class ConnectionStateMachineTests: XCTestCase {
    typealias Machine = ConnectionStateMachine

    func open() -> Machine {
        var m = Machine()
        XCTAssertTrue(m.transportConnected())
        XCTAssertEqual(m.upgraded(), [.cancelConnectTimer, .setClientState(.open), .startKeepalive])
        return m
    }

    let closing: [Machine.Action] = [.setClientState(.closing), .stopKeepalive, .armCloseTimer]
    let boom = WebSocketError(.protocolError, "reserved opcode 3")

    func head(_ status: String) -> UpgradeResponseHead {
        let text = "HTTP/1.1 \(status)\r\nContent-Length: 9\r\n\r\n"
        guard case .head(let h, _) = text.utf8.withContiguousStorageIfAvailable({ UpgradeResponseHead.parse(UnsafeRawBufferPointer($0), maxSize: 4096) })! else {
            fatalError("test head does not parse")
        }
        return h
    }

    /// The terminal events among `actions`: callbacks that end the connection.
    func terminals(_ actions: [Machine.Action]) -> [Machine.Action] {
        actions.filter {
            switch $0 {
            case .reportError(_, terminal: true), .reportClose: return true
            default: return false
            }
        }
    }

    // MARK: Before the upgrade

    func testAFreshConnectionNeitherSendsNorReceives() {
        let m = Machine()
        XCTAssertFalse(m.canSend)
        XCTAssertFalse(m.isReceiving)
        XCTAssertFalse(m.answersPings)
        XCTAssertFalse(m.isClosed)
    }

    func testAConnectFailureIsTheTerminalErrorAndReleasesAtOnce() {
        var m = Machine()
        let e = WebSocketError(.connectionError, "could not connect to 127.0.0.1:1: connection refused")
        XCTAssertEqual(m.failBeforeOpen(e), [.cancelConnectTimer, .setClientState(.closed), .reportError(e, terminal: true), .release])
        XCTAssertTrue(m.isClosed)
        XCTAssertEqual(m.failBeforeOpen(e), [], "a second failure reports nothing")
        XCTAssertFalse(m.transportConnected(), "a channel that connects late is closed, not upgraded")
    }

    func testAFailureDuringTheUpgradeReleasesWhenTheChannelGoesInactive() {
        var m = Machine()
        XCTAssertTrue(m.transportConnected())
        XCTAssertTrue(m.isUpgrading)
        let e = WebSocketError(.protocolError, "handshake failed: bad Sec-WebSocket-Accept")
        XCTAssertEqual(m.upgradeFailed(e), [.cancelConnectTimer, .setClientState(.closed), .reportError(e, terminal: true), .closeChannel])
        XCTAssertEqual(m.transportClosed(), [.release], "no second terminal event")
    }

    func testAFollowedRedirectEndsTheAttemptWithoutAnyEvent() {
        var m = Machine()
        XCTAssertEqual(m.redirected(), [], "only an upgrading connection is redirected")
        XCTAssertTrue(m.transportConnected())
        XCTAssertEqual(m.redirected(), [.cancelConnectTimer, .closeChannel, .release], "no report, the client's state untouched")
        XCTAssertTrue(m.isClosed)
        XCTAssertEqual(m.transportClosed(), [.release])
        XCTAssertEqual(m.connectTimerFired(timeout: "1 s"), [], "nothing more from this attempt")
    }

    func testTheServerClosingDuringTheUpgradeIsClosedByPeer() {
        var m = Machine()
        _ = m.transportConnected()
        let actions = m.transportClosed()
        XCTAssertEqual(terminals(actions), [.reportError(WebSocketError(.connectionClosedByPeer, "server closed the connection during the opening handshake"), terminal: true)])
        XCTAssertEqual(actions.last, .release)
    }

    func testTheConnectTimeoutFailsAConnectionThatIsNotOpen() {
        for connected in [false, true] {
            var m = Machine()
            if connected { _ = m.transportConnected() }
            let actions = m.connectTimerFired(timeout: "5 s")
            XCTAssertEqual(terminals(actions), [.reportError(WebSocketError(.connectionError, "timed out after 5 s (connecting, TLS and upgrade)"), terminal: true)])
            XCTAssertEqual(actions.last, .closeChannel)
        }
        var m = open()
        XCTAssertEqual(m.connectTimerFired(timeout: "5 s"), [], "an open connection ignores a late connect timer")
    }

    func testARejectionWithItsWholeBodyIsReportedAtOnce() {
        var m = Machine()
        _ = m.transportConnected()
        let actions = m.rejected(head("403 Forbidden"), body: ByteBuffer(string: "forbidden"), wanted: 9)
        XCTAssertEqual(terminals(actions), [.reportError(WebSocketError(.connectionError, "server rejected the upgrade: HTTP/1.1 403 Forbidden; body: forbidden"), terminal: true)])
        XCTAssertEqual(actions.last, .closeChannel)
    }

    func testARejectionWaitsForItsBodyThenReports() {
        var m = Machine()
        _ = m.transportConnected()
        XCTAssertEqual(m.rejected(head("503 Service Unavailable"), body: ByteBuffer(string: "go"), wanted: 9), [])
        XCTAssertTrue(m.isRejected)
        var more = ByteBuffer(string: " away")
        XCTAssertEqual(m.rejectionBody(&more), [])
        more = ByteBuffer(string: "!!")
        XCTAssertEqual(terminals(m.rejectionBody(&more)),
                       [.reportError(WebSocketError(.connectionError, "server rejected the upgrade: HTTP/1.1 503 Service Unavailable; body: go away!!"), terminal: true)])
        XCTAssertTrue(m.isClosed)
    }

    func testARejectionWhoseBodyNeverCompletesIsReportedByTheTimerOrTheEnd() {
        var byTimer = Machine()
        _ = byTimer.transportConnected()
        _ = byTimer.rejected(head("401 Unauthorized"), body: ByteBuffer(), wanted: 9)
        XCTAssertEqual(terminals(byTimer.connectTimerFired(timeout: "5 s")),
                       [.reportError(WebSocketError(.connectionError, "server rejected the upgrade: HTTP/1.1 401 Unauthorized"), terminal: true)])
        var byEnd = Machine()
        _ = byEnd.transportConnected()
        _ = byEnd.rejected(head("401 Unauthorized"), body: ByteBuffer(string: "no"), wanted: 9)
        let actions = byEnd.transportClosed()
        XCTAssertEqual(terminals(actions),
                       [.reportError(WebSocketError(.connectionError, "server rejected the upgrade: HTTP/1.1 401 Unauthorized; body: no"), terminal: true)])
        XCTAssertEqual(actions.last, .release)
    }

    func testATransportErrorBeforeTheUpgradeIsTheTerminalError() {
        var m = Machine()
        let tls = WebSocketError(WebSocketErrCode(rawValue: 2_305_010), "TLS certificate verification failed: expired")
        let actions = m.transportError(tls)
        XCTAssertEqual(terminals(actions), [.reportError(tls, terminal: true)])
        XCTAssertEqual(actions.last, .closeChannel)
        XCTAssertEqual(m.transportClosed(), [.release])
    }

    func testUpgradedOnlyFromUpgrading() {
        var m = Machine()
        XCTAssertEqual(m.upgraded(), [], "no upgrade before the transport is up")
        m = open()
        XCTAssertTrue(m.canSend)
        XCTAssertTrue(m.isReceiving)
        XCTAssertTrue(m.answersPings)
        XCTAssertEqual(m.upgraded(), [])
    }

    // MARK: The close handshake

    func testALocalCloseSendsItsFrameAndKeepsReadingForTheReply() {
        var m = open()
        XCTAssertEqual(m.close(code: 1000, reason: "bye"), [.writeClose(code: 1000, reason: "bye")] + closing + [.flush])
        XCTAssertFalse(m.canSend, "nothing may follow a close frame")
        XCTAssertFalse(m.answersPings)
        XCTAssertTrue(m.isReceiving, "the server's close (and what it sent before) is still read")
        XCTAssertEqual(m.close(code: 1000, reason: "again"), [], "one close frame only")
        XCTAssertEqual(m.receivedClose(code: 1000, reason: "ok"), [.flush], "the reply is not echoed")
        XCTAssertFalse(m.isReceiving)
        XCTAssertEqual(m.transportClosed(), [.setClientState(.closed), .reportClose(WebSocketCloseResult(code: 1000, reason: "ok", wasClean: true)), .release])
    }

    func testAPeerCloseIsEchoedWithItsCode() {
        var m = open()
        XCTAssertEqual(m.receivedClose(code: 4001, reason: "bye"), [.writeClose(code: 4001, reason: "")] + closing + [.flush])
        XCTAssertFalse(m.isReceiving)
        XCTAssertFalse(m.canSend)
        XCTAssertEqual(m.close(code: 1000, reason: ""), [], "a close after the peer's sends nothing")
        XCTAssertEqual(m.receivedClose(code: 1000, reason: ""), [])
        XCTAssertEqual(terminals(m.transportClosed()), [.reportClose(WebSocketCloseResult(code: 4001, reason: "bye", wasClean: true))])
    }

    func testAnEmptyCloseIsAnsweredWithAnEmptyClose() {
        var m = open()
        XCTAssertEqual(m.receivedClose(code: nil, reason: "").first, .writeClose(code: nil, reason: ""))
        XCTAssertEqual(terminals(m.transportClosed()), [.reportClose(WebSocketCloseResult(code: 1000, reason: "", wasClean: true))])
    }

    func testTCPEndingWithoutACloseFrameIs1006WithItsReason() {
        var quiet = open()
        XCTAssertEqual(terminals(quiet.transportClosed()),
                       [.reportClose(WebSocketCloseResult(code: 1006, reason: "connection closed without a close frame", wasClean: false))])
        var reset = open()
        XCTAssertEqual(reset.transportError(WebSocketError(.connectionError, "connection reset by peer")), [.closeChannel])
        XCTAssertEqual(reset.transportError(WebSocketError(.connectionError, "broken pipe")), [.closeChannel])
        XCTAssertEqual(terminals(reset.transportClosed()),
                       [.reportClose(WebSocketCloseResult(code: 1006, reason: "connection reset by peer", wasClean: false))], "the first error is the reason")
    }

    func testOurCloseWithoutAReplyIs1006() {
        var m = open()
        _ = m.close(code: 1000, reason: "")
        // The close timer closes the channel; TCP ends without the server's close frame.
        XCTAssertEqual(terminals(m.transportClosed()),
                       [.reportClose(WebSocketCloseResult(code: 1006, reason: "connection closed without a close frame", wasClean: false))])
    }

    // MARK: Failures

    func testAProtocolFailureSendsItsCodeBeforeReportingAndClosesAfterTheWrites() {
        var m = open()
        XCTAssertEqual(m.protocolFailure(closeCode: 1002, error: boom), [.writeClose(code: 1002, reason: ""), .reportError(boom, terminal: false)])
        XCTAssertFalse(m.canSend, "sends from onError are refused")
        XCTAssertFalse(m.isReceiving, "nothing more is parsed")
        XCTAssertEqual(m.failureReported(), closing + [.closeChannelAfterWrites])
        XCTAssertEqual(terminals(m.transportClosed()), [.reportClose(WebSocketCloseResult(code: 1002, reason: boom.message, wasClean: false))])
    }

    func testAClientDestroyedInOnErrorGetsNothingMore() {
        var m = open()
        _ = m.protocolFailure(closeCode: 1007, error: WebSocketError(.protocolError, "invalid UTF-8"))
        m.abandon()  // destroy() from onError
        XCTAssertEqual(m.failureReported(), [])
        XCTAssertEqual(m.transportClosed(), [.release])
    }

    func testAFailureWhileAwaitingTheCloseReplySendsNoSecondCloseFrame() {
        var m = open()
        _ = m.close(code: 1000, reason: "")
        XCTAssertEqual(m.protocolFailure(closeCode: 1002, error: boom), [.reportError(boom, terminal: false)])
        XCTAssertEqual(m.failureReported(), closing + [.closeChannelAfterWrites])
        XCTAssertFalse(m.isReceiving)
        XCTAssertEqual(m.receivedClose(code: 1000, reason: ""), [], "ignored after the failure")
        XCTAssertEqual(terminals(m.transportClosed()), [.reportClose(WebSocketCloseResult(code: 1002, reason: boom.message, wasClean: false))])
    }

    func testNoFailureAfterThePeersClose() {
        var m = open()
        _ = m.receivedClose(code: 1000, reason: "")
        XCTAssertEqual(m.protocolFailure(closeCode: 1002, error: boom), [])
    }

    func testAMissingPongReportsThenDropsTheConnectionWith1006() {
        var m = open()
        let e = WebSocketError(.connectionError, "keepalive: no pong within 2 s; dropping the connection")
        XCTAssertEqual(m.pongTimedOut(reason: "no pong within 2 s", error: e), [.reportError(e, terminal: false), .closeChannel])
        XCTAssertEqual(terminals(m.transportClosed()), [.reportClose(WebSocketCloseResult(code: 1006, reason: "no pong within 2 s", wasClean: false))])
        XCTAssertEqual(m.pongTimedOut(reason: "late", error: e), [], "nothing after the end")
    }

    // MARK: Destroy and the one terminal event

    func testAbandonEndsEveryStateWithoutACallback() {
        var machines: [Machine] = [Machine(), open()]
        var upgrading = Machine()
        _ = upgrading.transportConnected()
        machines.append(upgrading)
        var closingLocal = open()
        _ = closingLocal.close(code: 1000, reason: "")
        machines.append(closingLocal)
        for var m in machines {
            m.abandon()
            XCTAssertTrue(m.isClosed)
            XCTAssertFalse(m.canSend)
            XCTAssertFalse(m.isReceiving)
            XCTAssertEqual(terminals(m.transportClosed() + m.connectTimerFired(timeout: "1 s") + m.transportError(boom)), [])
            XCTAssertEqual(m.upgraded(), [])
        }
    }

    /// Every sequence of up to four events, from every state reachable in two: at most one
    /// terminal event, and none after `abandon`.
    func testNoSequenceOfEventsDeliversTwoTerminalEvents() {
        let events: [(String, (inout Machine) -> [Machine.Action])] = [
            ("connected", { m in _ = m.transportConnected(); return [] }),
            ("upgraded", { $0.upgraded() }),
            ("rejected", { $0.rejected(self.head("404 Not Found"), body: ByteBuffer(), wanted: 9) }),
            ("upgradeFailed", { $0.upgradeFailed(self.boom) }),
            ("connectTimer", { $0.connectTimerFired(timeout: "1 s") }),
            ("close", { $0.close(code: 1000, reason: "") }),
            ("receivedClose", { $0.receivedClose(code: 1000, reason: "") }),
            ("failure", { $0.protocolFailure(closeCode: 1002, error: self.boom) + $0.failureReported() }),
            ("pongTimeout", { $0.pongTimedOut(reason: "r", error: self.boom) }),
            ("transportError", { $0.transportError(self.boom) }),
            ("transportClosed", { $0.transportClosed() }),
        ]
        var sequences = 0
        func explore(_ m: Machine, _ path: [String], _ delivered: Int) {
            XCTAssertLessThanOrEqual(delivered, 1, "two terminal events after \(path)")
            sequences += 1
            guard path.count < 5 else { return }
            for (name, event) in events {
                var next = m
                let n = terminals(event(&next)).count
                explore(next, path + [name], delivered + n)
            }
            var abandoned = m
            abandoned.abandon()
            for (name, event) in events {
                var next = abandoned
                XCTAssertEqual(terminals(event(&next)), [], "a callback after abandon: \(path) abandon \(name)")
            }
        }
        explore(Machine(), [], 0)
        XCTAssertGreaterThan(sequences, 100_000)
    }
}
