import Foundation
import NetStack
import NetStackTestServer
import XCTest

/// `netstack run`'s client flags (-H, -s, --ca, --cert/--key, -k, --ping-interval) on a bot
/// that sets none of them itself, against local servers; the script's own settings win.
final class RunClientFlagsTests: XCTestCase {
    /// A bot printing the open's subprotocol and the first message, then closing.
    static let bot = """
    function onOpen(c, r) print("open " .. r.code .. " " .. tostring(r.protocol)) end
    function onMessage(c, data) print("message " .. data); netstack.OH_WebSocketClient_Close(c, { code = 1000, reason = "done" }) end
    function onError(c, e) print("error " .. e.errorCode .. " " .. e.errorMessage) end
    function onClose(c, r) print("close " .. r.code) end
    """

    func script(_ name: String, _ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "\(name)-\(getpid()).lua"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testHeadersAndSubprotocolsReachTheServer() throws {
        let bot = try script("flags-bot", Self.bot)
        let r = try runNetstack(["run", bot, "--url", Servers.plain.url + "/headers", "-H", "X-Token: abc 123", "--header", "X-Team:  blue",
                                 "-s", "chat.v2", "--subprotocol", "chat.v1"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("open 101 chat.v2"), r.out)
        XCTAssertTrue(r.out.contains("\"x-token\":\"abc 123\"") || r.out.contains("\"X-Token\":\"abc 123\""), r.out)
        XCTAssertTrue(r.out.contains("\"x-team\":\"blue\"") || r.out.contains("\"X-Team\":\"blue\""), r.out)
        XCTAssertTrue(r.out.lowercased().contains("\"sec-websocket-protocol\":\"chat.v2, chat.v1\""), r.out)

        // The script's own header of the same name replaces the flag's; its own protocols win.
        let own = try script("flags-own", """
        local ns = require "netstack"
        local c = ns.OH_WebSocketClient_Constructor(function(c, r) print("open " .. tostring(r.protocol)) end,
          function(c, data) print("message " .. data); ns.OH_WebSocketClient_Close(c, { code = 1000, reason = "" }) end,
          function(c, e) print("error " .. e.errorCode) end, function(c, r) end)
        ns.OH_WebSocketClient_AddHeader(c, { fieldName = "x-token", fieldValue = "mine" })
        c:connect(arg[1], { protocols = { "own.v1" } })
        """)
        let o = try runNetstack(["run", own, "-H", "X-Token: flag", "-H", "X-Other: kept", "-s", "chat.v2", "--", Servers.plain.url + "/headers"])
        XCTAssertEqual(o.status, 0, o.err)
        XCTAssertTrue(o.out.contains("open own.v1"), o.out)
        XCTAssertTrue(o.out.lowercased().contains("\"x-token\":\"mine\""), o.out)
        XCTAssertFalse(o.out.contains("flag"), o.out)
        XCTAssertTrue(o.out.lowercased().contains("\"x-other\":\"kept\""), o.out)
    }

    func testTLSFlags() throws {
        let pki = Servers.pki
        let bot = try script("flags-tls", Self.bot + "\nfunction onOpen(c) netstack.OH_WebSocketClient_Send(c, 'secure') end\n")
        // Without --ca the test CA is unknown: the bot fails (exit 1) with a 2305xxx code.
        let untrusted = try runNetstack(["run", bot, "--url", Servers.tls.url + "/echo"], env: ["SSL_CERT_FILE": "/nonexistent"])
        XCTAssertEqual(untrusted.status, 1, untrusted.out)
        XCTAssertTrue(untrusted.out.contains("error 2305"), untrusted.out)
        let trusted = try runNetstack(["run", bot, "--url", Servers.tls.url + "/echo", "--ca", pki.caCertificate], env: ["SSL_CERT_FILE": "/nonexistent"])
        XCTAssertEqual(trusted.status, 0, trusted.out + trusted.err)
        XCTAssertTrue(trusted.out.contains("message secure"), trusted.out)
        let insecure = try runNetstack(["run", bot, "--url", Servers.tls.url + "/echo", "-k"], env: ["SSL_CERT_FILE": "/nonexistent"])
        XCTAssertEqual(insecure.status, 0, insecure.out + insecure.err)
        XCTAssertTrue(insecure.err.contains("warning: --insecure"), insecure.err)

        // Mutual TLS: a server that requires a client certificate.
        let client = try pki.issue(name: "run-client", subjectAltName: "DNS:client.test", extendedKeyUsage: "clientAuth")
        let server = try Servers.mutualTLSServer()
        defer { server.stop() }
        let mutual = try runNetstack(["run", bot, "--url", server.url + "/echo", "--ca", pki.caCertificate, "--cert", client.certificate, "--key", client.key])
        XCTAssertEqual(mutual.status, 0, mutual.out + mutual.err)
        XCTAssertTrue(mutual.out.contains("message secure"), mutual.out)
        let refused = try runNetstack(["run", bot, "--url", server.url + "/echo", "--ca", pki.caCertificate])
        XCTAssertEqual(refused.status, 1, refused.out)
    }

    func testPingIntervalAndBadValues() throws {
        // A bot that stays open for a second; the trace (-v) shows the keepalive pings.
        let bot = try script("flags-ping", """
        function onOpen(c) netstack.setTimeout(function() netstack.OH_WebSocketClient_Close(c, { code = 1000, reason = "" }) end, 1000) end
        function onMessage() end
        function onClose() end
        """)
        let pinging = try runNetstack(["run", bot, "-v", "--ping-interval", "0.2"])
        XCTAssertEqual(pinging.status, 0, pinging.err)
        let pings = pinging.err.components(separatedBy: "> ping, 0 bytes").count - 1
        XCTAssertGreaterThanOrEqual(pings, 2, pinging.err)
        let quiet = try runNetstack(["run", bot, "-v", "--ping-interval", "0"])
        XCTAssertEqual(quiet.status, 0, quiet.err)
        XCTAssertFalse(quiet.err.contains("> ping"), quiet.err)
        for bad in [["-H", "no colon"], ["-H", "Bad Name: x"], ["-H", "Sec-WebSocket-Key: x"], ["-s", "a b"], ["--cert", "/nonexistent"],
                    ["--ca", "/nonexistent/ca.pem"], ["--ping-interval", "-1"], ["--ping-interval", "1e300"], ["--ping-interval", "0.0001"], ["--cert", Servers.pki.caCertificate]] {
            let r = try runNetstack(["run", "examples/echo-bot.lua"] + bad, cwd: CLITests.root)
            XCTAssertEqual(r.status, 64, "\(bad): \(r.err)")
        }
    }
}
