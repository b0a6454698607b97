import Foundation
@testable import NetStack
import XCTest

/// Redirects of the opening handshake: the decision as a value, then end to end.
final class RedirectTests: XCTestCase {
    private func head(_ status: Int, _ location: String?) -> UpgradeResponseHead {
        UpgradeResponseHead(statusLine: "HTTP/1.1 \(status) Moved", statusCode: status, minorVersion: 1, reason: "Moved",
                            headers: location.map { [WebSocketHeader("Location", $0)] } ?? [])
    }

    private func next(_ location: String?, from: String, status: Int = 302, followed: Int = 0, limit: Int = 10) throws -> String {
        switch Redirect.next(after: head(status, location), from: try WebSocketURL(parsing: from), followed: followed, limit: limit) {
        case .follow(let url): return url.description
        case .refuse(let e): return "refused: " + e.message
        }
    }

    func testLocationsResolveAgainstTheCurrentURL() throws {
        let base = "wss://a.example:8443/chat/room?x=1"
        XCTAssertEqual(try next("wss://b.example/ws", from: base), "wss://b.example/ws")
        XCTAssertEqual(try next("https://b.example/ws", from: base), "wss://b.example/ws", "https is wss")
        XCTAssertEqual(try next("//c.example/x", from: base), "wss://c.example/x", "scheme-relative")
        XCTAssertEqual(try next("/other?y=2", from: base), "wss://a.example:8443/other?y=2", "absolute path")
        XCTAssertEqual(try next("lobby", from: base), "wss://a.example:8443/chat/lobby", "relative to the directory")
        XCTAssertEqual(try next("/x#frag", from: base), "wss://a.example:8443/x", "a fragment is dropped")
        XCTAssertEqual(try next("ws://plain.example/", from: "ws://a.example/"), "ws://plain.example/")
        XCTAssertEqual(try next("wss://up.example/", from: "ws://a.example/"), "wss://up.example/", "ws to wss is fine")
    }

    func testRedirectsThatMayNotBeFollowedSayWhy() throws {
        XCTAssertTrue(try next("ws://down.example/", from: "wss://a.example/").hasPrefix("refused: redirect not followed: from wss to ws"))
        XCTAssertTrue(try next("http://down.example/", from: "wss://a.example/").contains("from wss to ws"))
        XCTAssertTrue(try next(nil, from: "ws://a.example/").contains("no Location header"))
        XCTAssertTrue(try next("ftp://x/", from: "ws://a.example/").contains("is not a ws, wss, http or https URL"))
        XCTAssertTrue(try next("/a b", from: "ws://a.example/").contains("Location '/a b'"))
        XCTAssertTrue(try next("/x", from: "ws://a.example/", followed: 3, limit: 3).contains("more than 3 redirects"))
        XCTAssertTrue(Redirect.isRedirect(307) && Redirect.isRedirect(308) && !Redirect.isRedirect(300) && !Redirect.isRedirect(304))
    }

    func testCredentialsStayOnTheirHost() throws {
        let headers = [WebSocketHeader("Authorization", "Bearer t"), WebSocketHeader("Cookie", "s=1"), WebSocketHeader("X-App", "1")]
        let a = try WebSocketURL(parsing: "ws://a.example/"), a2 = try WebSocketURL(parsing: "ws://A.example/other")
        let b = try WebSocketURL(parsing: "ws://b.example/"), a3 = try WebSocketURL(parsing: "ws://a.example:81/")
        XCTAssertEqual(Redirect.headers(headers, from: a, to: a2).count, 3)
        XCTAssertEqual(Redirect.headers(headers, from: a, to: b).map(\.name), ["X-App"])
        XCTAssertEqual(Redirect.headers(headers, from: a, to: a3).map(\.name), ["X-App"], "another port is another origin")
    }

    func testFollowedRedirectsEndInOneOpenWithTheChain() throws {
        let base = Servers.plain.url
        let r = runClient(base + "/redirect?to=/redirect%3Fto%3D/echo%26code%3D307", configure: { $0.followRedirects = 10 }, setup: { rec in
            rec.onOpen = { c in try! c.send(text: "after") }
            rec.onMessage = { c, _ in try! c.close() }
        })
        XCTAssertEqual(r.openResult?.redirects, [base + "/redirect?to=/echo&code=307", base + "/echo"])
        XCTAssertEqual(r.messages, [Array("after".utf8)])
        XCTAssertEqual(r.close?.0, 1000)
        XCTAssertTrue(r.errors.isEmpty, "\(r.events)")
    }

    func testRedirectsAreErrorsUnlessFollowedAndLoopsStopAtTheLimit() throws {
        let off = runClient(Servers.plain.url + "/redirect?to=/echo")
        XCTAssertEqual(off.errors.map(\.0), [1003])
        XCTAssertTrue(off.errors.first?.1.hasPrefix("server rejected the upgrade: HTTP/1.1 302") == true, "\(off.events)")
        let loop = runClient(Servers.plain.url + "/redirect", configure: { $0.followRedirects = 3 })
        XCTAssertEqual(loop.errors.count, 1, "one terminal event after the hops: \(loop.events)")
        XCTAssertTrue(loop.errors.first?.1.contains("more than 3 redirects") == true, "\(loop.events)")
        XCTAssertNil(loop.close)
        let capped = runClient(Servers.plain.url + "/redirect", configure: { $0.followRedirects = 1_000 })
        XCTAssertTrue(capped.errors.first?.1.contains("more than 10 redirects") == true, "at most 10: \(capped.events)")
    }

    func testNeverFromWssToWsEndToEnd() throws {
        let down = Servers.plain.url + "/echo"
        let r = runClient(Servers.tls.url.replacingOccurrences(of: "127.0.0.1", with: "localhost") + "/redirect?to=" + down,
                          configure: { $0.followRedirects = 10; $0.tls.caFile = Servers.pki.caCertificate })
        XCTAssertEqual(r.errors.count, 1)
        XCTAssertTrue(r.errors.first?.1.contains("from wss to ws") == true, "\(r.events)")
        XCTAssertNil(r.openResult)
    }

    func testLuaAndTheCLIFollowWhenAsked() throws {
        let script = NSTemporaryDirectory() + "redirect-\(UUID().uuidString).lua"
        try """
        local url = ...
        local c = netstack.OH_WebSocketClient_Constructor(
          function(c, r) print("open", r.code, #r.redirects, r.redirects[1]) c:close() end, nil,
          function(c, err) print("error", err.errorCode) end, nil)
        assert(c:connect(url, { followRedirects = true }))
        local d = netstack.OH_WebSocketClient_Constructor(nil, nil, function(c, err) print("plain", err.errorCode) end, nil)
        assert(d:connect(url))
        print(pcall(function() return c:connect(url, { followRedirects = 11 }) end))
        """.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let r = try runNetstack(["run", script, "--", Servers.plain.url + "/redirect?to=/echo"])
        XCTAssertTrue(r.out.contains("open\t101\t1\t\(Servers.plain.url)/echo"), r.out + r.err)
        XCTAssertTrue(r.out.contains("plain\t1003"), r.out)
        XCTAssertTrue(r.out.contains("invalid value for 'followRedirects' (true, false or a whole number from 0 to 10)"), r.out)

        var cli = try runNetstack(["connect", "-L", Servers.plain.url + "/redirect?to=/echo"], stdin: "via cli\n")
        XCTAssertEqual(cli.status, 0, cli.err)
        XCTAssertTrue(cli.out.contains("via cli"), cli.out)
        cli = try runNetstack(["connect", Servers.plain.url + "/redirect?to=/echo"], stdin: "x\n")
        XCTAssertEqual(cli.status, 6, "not followed without -L: the upgrade was refused")
        cli = try runNetstack(["connect", "-L", "--max-redirs", "11", Servers.plain.url + "/echo"], stdin: "")
        XCTAssertEqual(cli.status, 64, cli.err)
    }
}
