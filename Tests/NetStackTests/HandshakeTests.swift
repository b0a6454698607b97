import NIOCore
@testable import NetStack
import XCTest

final class HandshakeTests: XCTestCase {
    /// Header names and the tokens `websocket` / `upgrade` compare without regard to ASCII case,
    /// byte for byte: other bytes (UTF-8 letters included) must be equal.
    func testNamesCompareWithoutASCIICase() {
        XCTAssertTrue(UpgradeResponseHead.sameName("SEC-WebSocket-Accept", "sec-websocket-accept"))
        XCTAssertTrue(UpgradeResponseHead.sameName("", ""))
        XCTAssertFalse(UpgradeResponseHead.sameName("Upgrade", "upgrades"))
        XCTAssertFalse(UpgradeResponseHead.sameName("Upgrafe", "upgrade"))
        XCTAssertFalse(UpgradeResponseHead.sameName("[pgrade", "{pgrade"), "only A-Z fold")
        XCTAssertFalse(UpgradeResponseHead.sameName("ÜPGRADE", "üpgrade"), "no Unicode folding")
        XCTAssertTrue(UpgradeResponseHead.sameName("ü", "ü"))
        let bridged = String(decoding: Array("WebSocket".utf8), as: UTF8.self)
        XCTAssertTrue(UpgradeResponseHead.sameName(bridged, "websocket"))
        let shouting = "HTTP/1.1 101 Switching Protocols\r\nUPGRADE: WEBSOCKET\r\nconnection: UPGRADE\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        XCTAssertNoThrow(try handshake().validate(XCTUnwrap(parse(shouting))))
    }

    /// `Connection` is a list (RFC 9110 §5.6.1, §7.6.1): "upgrade" is found as a whole element,
    /// whatever its case and the spaces and tabs around it.
    func testTheConnectionHeaderIsAList() throws {
        for yes in ["upgrade", "Upgrade", "keep-alive, Upgrade", "keep-alive,upgrade", " \tUPGRADE\t ", "a,,upgrade,", "upgrade,close"] {
            XCTAssertTrue(UpgradeResponseHead.listContains(yes, "upgrade"), yes)
        }
        for no in ["", ",", "upgrades", "keep-alive", "up grade", "upgrade-x, close", "x-upgrade", "üpgrade"] {
            XCTAssertFalse(UpgradeResponseHead.listContains(no, "upgrade"), no)
        }
        let withList = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        XCTAssertNoThrow(try handshake().validate(XCTUnwrap(parse(withList))))
        let without = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive, upgrades\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        XCTAssertThrowsError(try handshake().validate(XCTUnwrap(parse(without))))
        // Two subprotocol headers, even naming one offered, are refused.
        let twice = try XCTUnwrap(parse(good + "Sec-WebSocket-Protocol: chat\r\nsec-websocket-protocol: chat\r\n\r\n"))
        XCTAssertThrowsError(try handshake(protocols: ["chat"]).validate(twice)) { XCTAssertTrue("\($0)".contains("more than one Sec-WebSocket-Protocol")) }
    }

    func testAcceptValueMatchesRFCExample() {
        XCTAssertEqual(ClientHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    func testKeysAreRandom16ByteValues() {
        let a = ClientHandshake.makeKey(), b = ClientHandshake.makeKey()
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(Base64.decode(a)?.count, 16)
    }

    func handshake(protocols: [String] = [], deflate: Bool = true) throws -> ClientHandshake {
        ClientHandshake(url: try WebSocketURL(parsing: "ws://example.com:8080/chat?x=1"), key: "dGhlIHNhbXBsZSBub25jZQ==",
                        protocols: protocols, headers: [WebSocketHeader("X-Token", "t")],
                        deflateOffer: deflate ? WebSocketClient.deflateOffer : nil, userAgent: "UA")
    }

    func testRequestBytes() throws {
        var b = ByteBuffer()
        try handshake(protocols: ["chat", "superchat"]).writeRequest(into: &b)
        XCTAssertEqual(String(buffer: b), """
        GET /chat?x=1 HTTP/1.1\r
        Host: example.com:8080\r
        Upgrade: websocket\r
        Connection: Upgrade\r
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
        Sec-WebSocket-Version: 13\r
        Sec-WebSocket-Protocol: chat, superchat\r
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r
        X-Token: t\r
        User-Agent: UA\r
        \r

        """)
    }

    func parse(_ text: String) -> UpgradeResponseHead? {
        let bytes = Array(text.utf8)
        guard case .head(let h, _) = bytes.withUnsafeBytes({ UpgradeResponseHead.parse($0, maxSize: 1 << 16) }) else { return nil }
        return h
    }

    let good = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"

    func testValidResponse() throws {
        let head = try XCTUnwrap(parse(good + "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n\r\n"))
        let agreement = try handshake(protocols: ["chat"]).validate(head)
        XCTAssertEqual(agreement.statusCode, 101)
        XCTAssertEqual(agreement.reason, "Switching Protocols")
        XCTAssertEqual(agreement.protocolName, "chat")
        XCTAssertEqual(agreement.deflate?.serverNoContextTakeover, true)
        XCTAssertEqual(agreement.deflate?.clientMaxWindowBits, 10)
    }

    func testInvalidResponses() throws {
        let cases: [(String, String)] = [
            ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong=\r\n\r\n", "Sec-WebSocket-Accept"),
            ("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", "Upgrade"),
            ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", "Connection"),
            (good + "Sec-WebSocket-Protocol: other\r\n\r\n", "not offered"),
            (good + "Sec-WebSocket-Extensions: x-foo\r\n\r\n", "x-foo"),
            (good + "Sec-WebSocket-Extensions: permessage-deflate; bogus\r\n\r\n", "unknown parameter"),
            (good + "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n\r\n", "invalid"),
            (good + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_no_context_takeover\r\n\r\n", "duplicate"),
            (good + "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n\r\n", "twice"),
        ]
        for (text, expected) in cases {
            let head = try XCTUnwrap(parse(text))
            XCTAssertThrowsError(try handshake(protocols: ["chat"]).validate(head)) { error in
                let e = error as! WebSocketError
                XCTAssertEqual(e.code, .protocolError)
                XCTAssertTrue(e.message.contains(expected), "\(e.message) should mention \(expected)")
            }
        }
        // Deflate not offered: the server may not enable it.
        let head = try XCTUnwrap(parse(good + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"))
        XCTAssertThrowsError(try handshake(deflate: false).validate(head))
    }

    func parseResult(_ bytes: [UInt8]) -> UpgradeResponseHead.ParseResult {
        bytes.withUnsafeBytes { UpgradeResponseHead.parse($0, maxSize: 1 << 16) }
    }

    /// Lines may end at a bare LF (RFC 9112 §2.2); the head ends at the first empty line whatever
    /// its ending, and `consumed` stops there (frames may follow in the same read).
    func testResponseHeadLineEndings() throws {
        let frame: [UInt8] = [0x81, 0x02, 0x68, 0x69]
        for head in [
            "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\r\n",
            "HTTP/1.1 101 OK\nUpgrade: websocket\n\n",
            "HTTP/1.1 101 OK\r\nUpgrade: websocket\n\r\n",
            "HTTP/1.1 101 OK\nUpgrade: websocket\r\n\n",
        ] {
            guard case .head(let h, let consumed) = parseResult(Array(head.utf8) + frame) else { return XCTFail("no head in \(head.debugDescription)") }
            XCTAssertEqual(consumed, head.utf8.count, head.debugDescription)
            XCTAssertEqual(h.statusLine, "HTTP/1.1 101 OK")
            XCTAssertEqual(h.headers.map { "\($0.name)=\($0.value)" }, ["Upgrade=websocket"], head.debugDescription)
        }
        // Parsing again after more bytes arrived (at least the last is new) finds a terminator
        // that straddles the old end.
        for head in ["HTTP/1.1 101 OK\r\nA: b\r\n\r\n", "HTTP/1.1 101 OK\nA: b\n\n"] {
            let bytes = Array(head.utf8)
            for searched in 0..<bytes.count {
                let r = bytes.withUnsafeBytes { UpgradeResponseHead.parse($0, maxSize: 1 << 16, searched: searched) }
                guard case .head(_, let consumed) = r, consumed == bytes.count else { return XCTFail("\(head.debugDescription) after \(searched)") }
            }
        }
        guard case .needMore = parseResult(Array("HTTP/1.1 101 OK\nUpgrade: websocket\n".utf8)) else { return XCTFail("not complete yet") }
        guard case .needMore = parseResult(Array("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\r".utf8)) else { return XCTFail("not complete yet") }
    }

    /// A line starting with a space or tab continues the header before it (obs-fold), joined
    /// with one space; a fold with nothing before it, control characters (NUL, DEL, a bare CR)
    /// and a line without a name are malformed.
    func testFoldedAndMalformedHeaderLines() throws {
        let folded = try XCTUnwrap(parse("HTTP/1.1 101 OK\r\nX-A: one\r\n  two\r\n\tthree \r\nX-B: b\r\n\r\n"))
        XCTAssertEqual(folded.headers.map { "\($0.name)=\($0.value)" }, ["X-A=one two three", "X-B=b"])
        for bad in ["HTTP/1.1 101 OK\r\n folded first\r\n\r\n", "HTTP/1.1 101 OK\r\nX-A: a\u{0}b\r\n\r\n",
                    "HTTP/1.1 101 OK\r\nX-A: a\u{7F}\r\n\r\n", "HTTP/1.1 101 OK\r\nX-A: a\rb\r\n\r\n",
                    "HTTP/1.1 101 OK\r\n: nameless\r\n\r\n", "HTTP/1.1 101 OK\r\nno colon\r\n\r\n"] {
            guard case .invalid(let why) = parseResult(Array(bad.utf8)) else { XCTFail("accepted \(bad.debugDescription)"); continue }
            XCTAssertTrue(why.hasPrefix("malformed header line"), why)
            XCTAssertFalse(why.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "shown escaped: \(why.debugDescription)")
        }
        // The status line keeps what it carries (its reason is shown, escaped, where it is printed).
        XCTAssertEqual(parse("HTTP/1.1 403 No\u{1B}[2J\r\n\r\n")?.reason, "No\u{1B}[2J")
    }

    /// The version is "HTTP/1." and one digit (RFC 9112 §2.3). A 101 must be HTTP/1.1 (an
    /// upgrade does not exist in HTTP/1.0); a refusal from an HTTP/1.0 server is still read.
    func testStatusLineVersions() throws {
        let http10 = try XCTUnwrap(parse("HTTP/1.0" + good.dropFirst("HTTP/1.1".count) + "\r\n"))
        XCTAssertEqual(http10.minorVersion, 0)
        XCTAssertThrowsError(try handshake().validate(http10)) { error in
            XCTAssertTrue((error as! WebSocketError).message.contains("must be HTTP/1.1"), "\(error)")
        }
        XCTAssertEqual(try handshake().validate(try XCTUnwrap(parse(good + "\r\n"))).statusCode, 101)
        XCTAssertEqual(parse("HTTP/1.0 403 Forbidden\r\n\r\n")?.statusCode, 403)
        for bad in ["HTTP/1.10 101 Switching Protocols\r\n\r\n", "HTTP/1.x 101 OK\r\n\r\n", "HTTP/1. 101 OK\r\n\r\n",
                    "HTTP/2.0 101 OK\r\n\r\n", "HTTP/1.1  101 OK\r\n\r\n"] {
            guard case .invalid(let why) = parseResult(Array(bad.utf8)) else { XCTFail("accepted \(bad.debugDescription)"); continue }
            XCTAssertTrue(why.hasPrefix("malformed status line"), why)
        }
    }

    /// Whitespace between a field name and its colon (RFC 9112 §5.1) fails a 101 naming the line,
    /// not as the header it hides being missing; a refusal with such a line is still read.
    func testWhitespaceBeforeAColonIsNamed() throws {
        for line in ["Upgrade : websocket", "Upgrade\t: websocket", "X-Extra : 1"] {
            let head = try XCTUnwrap(parse("HTTP/1.1 101 Switching Protocols\r\n\(line)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"))
            XCTAssertThrowsError(try handshake().validate(head)) { error in
                XCTAssertTrue((error as! WebSocketError).message.contains("whitespace before the colon"), "\(error)")
            }
        }
        XCTAssertEqual(parse("HTTP/1.1 403 Forbidden\r\nUpgrade : websocket\r\n\r\n")?.statusCode, 403)
    }

    func testMoreThanOneAcceptHeaderIsRefused() throws {
        let head = try XCTUnwrap(parse(good + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"))
        XCTAssertThrowsError(try handshake().validate(head)) { error in
            XCTAssertTrue((error as! WebSocketError).message.contains("more than one Sec-WebSocket-Accept"), "\(error)")
        }
    }

    func testHeaderValidation() {
        XCTAssertNoThrow(try HeaderValidation.validate(WebSocketHeader("X-Token", "a b\tc")))
        XCTAssertNoThrow(try HeaderValidation.validate(WebSocketHeader("Sec-WebSocket-Protocol", "chat")))
        let bad: [(String, String)] = [
            ("", "v"), ("X Token", "v"), ("X-Token\r\nEvil", "v"), ("X-Token", "v\r\nEvil: 1"), ("X-Token", "v\n"),
            ("X-Token", "a\u{0}b"), ("Host", "evil"), ("sec-websocket-key", "k"), ("Upgrade", "h2c"),
            ("Connection", "close"), ("Content-Length", "5"), ("Sec-WebSocket-Extensions", "x"), ("Sec-WebSocket-Version", "8"),
        ]
        for (n, v) in bad {
            XCTAssertThrowsError(try HeaderValidation.validate(WebSocketHeader(n, v)), "\(n): \(v)") { error in
                XCTAssertEqual((error as? WebSocketError)?.code, .noHeaderContext)
            }
        }
    }

    func testHeaderLimits() {
        var config = WebSocketClientConfiguration()
        config.maxHeaderCount = 3
        XCTAssertThrowsError(try WebSocketClient.validateHeaders((0..<4).map { WebSocketHeader("X-\($0)", "v") }, configuration: config)) {
            XCTAssertEqual(($0 as? WebSocketError)?.code, .headerExceeded)
        }
        config.maxHeaderCount = 100
        config.maxHeaderBytes = 100
        XCTAssertThrowsError(try WebSocketClient.validateHeaders([WebSocketHeader("X-Big", String(repeating: "v", count: 200))], configuration: config)) {
            XCTAssertEqual(($0 as? WebSocketError)?.code, .headerExceeded)
        }
    }

    func testDeflateParameterParsing() throws {
        let offer = try PerMessageDeflateParameters.parse(parameters: [("client_max_window_bits", nil)], isServerResponse: false)
        XCTAssertEqual(offer.clientMaxWindowBits, 0)
        XCTAssertThrowsError(try PerMessageDeflateParameters.parse(parameters: [("client_max_window_bits", nil)], isServerResponse: true))
        let quoted = try PerMessageDeflateParameters.parse(parameters: [("server_max_window_bits", "\"12\"")], isServerResponse: true)
        XCTAssertEqual(quoted.serverMaxWindowBits, 12)
        XCTAssertThrowsError(try PerMessageDeflateParameters.parse(parameters: [("server_max_window_bits", "16")], isServerResponse: true))
        XCTAssertThrowsError(try PerMessageDeflateParameters.parse(parameters: [("server_no_context_takeover", "1")], isServerResponse: true))
        let elements = ExtensionHeader.parse("permessage-deflate; client_max_window_bits=\"10\", x-other")
        XCTAssertEqual(elements.map(\.name), ["permessage-deflate", "x-other"])
        XCTAssertEqual(elements[0].parameters.first?.1, "10")
    }
}
