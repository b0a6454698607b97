import NetStack
import XCTest

final class URLTests: XCTestCase {
    func testDefaultPortsAndPath() throws {
        let u = try WebSocketURL(parsing: "ws://example.com")
        XCTAssertEqual(u.port, 80)
        XCTAssertEqual(u.requestTarget, "/")
        XCTAssertEqual(u.hostHeader, "example.com")
        let s = try WebSocketURL(parsing: "WSS://Example.com/chat")
        XCTAssertTrue(s.isSecure)
        XCTAssertEqual(s.port, 443)
        XCTAssertEqual(s.requestTarget, "/chat")
    }

    func testPathAndQueryAreKeptExactly() throws {
        let u = try WebSocketURL(parsing: "ws://h:8080/a%20b/../c?x=1&y=%2F&z")
        XCTAssertEqual(u.requestTarget, "/a%20b/../c?x=1&y=%2F&z")
        XCTAssertEqual(u.hostHeader, "h:8080")
        XCTAssertEqual(try WebSocketURL(parsing: "ws://h?q=1").requestTarget, "/?q=1")
    }

    func testIPLiterals() throws {
        let v6 = try WebSocketURL(parsing: "ws://[::1]:9001/x")
        XCTAssertEqual(v6.host, "::1")
        XCTAssertEqual(v6.port, 9001)
        XCTAssertTrue(v6.hostIsIPLiteral)
        XCTAssertEqual(v6.hostHeader, "[::1]:9001")
        XCTAssertTrue(try WebSocketURL(parsing: "ws://[2001:db8::ff00:42:8329]/").hostIsIPLiteral)
        XCTAssertTrue(try WebSocketURL(parsing: "ws://[::ffff:192.0.2.1]/").hostIsIPLiteral)
        let v4 = try WebSocketURL(parsing: "wss://127.0.0.1/")
        XCTAssertTrue(v4.hostIsIPLiteral)
        XCTAssertEqual(v4.port, 443)
    }

    func testAnEmptyPortIsTheDefault() throws {
        // RFC 3986 3.2.3: port = *DIGIT; empty means the scheme's default (WHATWG URL agrees).
        let u = try WebSocketURL(parsing: "ws://host:/chat")
        XCTAssertEqual(u.port, 80)
        XCTAssertEqual(u.hostHeader, "host")
        XCTAssertEqual(u.requestTarget, "/chat")
        XCTAssertEqual(try WebSocketURL(parsing: "wss://[::1]:").port, 443)
    }

    func testMalformedURLsAreParseErrors() {
        let bad = [
            "", "example.com", "http://example.com", "ws:/x", "ws://", "ws://:80/", "ws://host:0/",
            "ws://host:65536/", "ws://host:8a/", "ws://[::1/", "ws://[::1]x/",
            "ws://[1:2:3:4:5:6:7:8:9]/", "ws://[::1::2]/", "ws://user@host/", "ws://host/#frag",
            "ws://ho st/", "ws://host/\u{7}", "ws://-bad-.com/", "ws://300.1.1.1/", "ws://héllo/",
            "ws://a..b/", "ws://1.2.3/",
        ]
        for s in bad {
            XCTAssertThrowsError(try WebSocketURL(parsing: s), "\(s) should be rejected") { error in
                XCTAssertEqual((error as? WebSocketError)?.code, .connectionParseURLError, s)
            }
        }
    }

    /// A host whose last label is a number reads as IPv4 to getaddrinfo and to WHATWG URL parsers
    /// (`0x7f000001` and `127.1` are 127.0.0.1 there): only four decimal numbers are taken, so a
    /// name never connects to an address it does not spell.
    func testHostsThatEndInANumberMustBeDottedDecimal() throws {
        for s in ["ws://2130706433/", "ws://0x7f000001/", "ws://0x7f.1/", "ws://127.1/", "ws://0177.0.0.1/",
                  "ws://127.0.0.01/", "ws://a.0x10/", "ws://a.0X1f/", "ws://a.0x/", "ws://example.42/",
                  "ws://1.2.3.4.5/", "ws://0/", "ws://127.1./", "ws://0x7f000001./"] {
            XCTAssertThrowsError(try WebSocketURL(parsing: s), "\(s) should be rejected") { error in
                XCTAssertEqual((error as? WebSocketError)?.code, .connectionParseURLError, s)
                XCTAssertTrue("\(error)".contains("invalid IPv4 address"), "\(s): \(error)")
            }
        }
        // Names whose last label is not a number stay names.
        for s in ["ws://1e1/", "ws://0x7g/", "ws://a.0xg/", "ws://x0x1/", "ws://example.com./", "ws://42.example/"] {
            let url = try WebSocketURL(parsing: s)
            XCTAssertFalse(url.hostIsIPLiteral, s)
        }
        XCTAssertTrue(try WebSocketURL(parsing: "ws://10.0.0.255:8/").hostIsIPLiteral)
        // One trailing dot after four decimal numbers is dropped, as WHATWG's IPv4 parser does.
        let dotted = try WebSocketURL(parsing: "ws://127.0.0.1.:8080/x")
        XCTAssertEqual(dotted.host, "127.0.0.1")
        XCTAssertTrue(dotted.hostIsIPLiteral)
        XCTAssertEqual(dotted.port, 8080)
        XCTAssertThrowsError(try WebSocketURL(parsing: "ws://127.0.0.1../"))
    }

    func testOverlongURLIsRejected() {
        let long = "ws://h/" + String(repeating: "a", count: WebSocketURL.maximumLength)
        XCTAssertThrowsError(try WebSocketURL(parsing: long)) { error in
            XCTAssertEqual((error as? WebSocketError)?.code, .connectionParseURLError)
            XCTAssertTrue("\(error)".contains("over the limit"))
        }
        let fits = "ws://h/" + String(repeating: "a", count: WebSocketURL.maximumLength - 7)
        XCTAssertNoThrow(try WebSocketURL(parsing: fits))
    }
}
