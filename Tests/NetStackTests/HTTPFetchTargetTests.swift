@testable import NetStack
import NIOEmbedded
import XCTest

/// The URLs `HTTPFetch` asks (CRL distribution points and OCSP responders from certificates, the
/// start barrier): what is taken and what is refused before any connection. No I/O.
final class HTTPFetchTargetTests: XCTestCase {
    func testTakenURLs() throws {
        let t = try XCTUnwrap(HTTPFetch.Target("http://crl.example.com/ca.crl"))
        XCTAssertEqual(t.host, "crl.example.com")
        XCTAssertEqual(t.port, 80)
        XCTAssertEqual(t.path, "/ca.crl")
        let v6 = try XCTUnwrap(HTTPFetch.Target("HTTP://[::1]:8080?x=1"))
        XCTAssertEqual(v6.host, "::1")
        XCTAssertEqual(v6.port, 8080)
        XCTAssertEqual(v6.path, "/?x=1")
        XCTAssertEqual(v6.hostHeader, "[::1]:8080")
        XCTAssertEqual(HTTPFetch.Target("http://10.0.0.1:9/ocsp")?.host, "10.0.0.1")
    }

    /// A certificate chooses its URLs: hosts that getaddrinfo would read as another address
    /// (`0x7f000001`, `127.1`, `2130706433`) are refused, as in connections' URLs.
    func testRefusedURLs() {
        for url in ["https://h/x", "ldap://h/x", "http://", "http:///x", "http://u:p@h/x", "http://h:0/x", "http://h:65536/x",
                    "http://0x7f000001/x", "http://127.1/x", "http://2130706433/x", "http://a.0x10/x", "http://[::1/x",
                    "http://h/a b", "http://h\u{0}/x"] {
            XCTAssertNil(HTTPFetch.Target(url), url)
        }
    }

    func testARefusedURLFailsWithoutAConnection() throws {
        let loop = EmbeddedEventLoop()
        let r = try HTTPFetch.get("http://0x7f000001/crl", timeout: .seconds(1), on: loop).wait()
        guard case .failure(let f) = r else { return XCTFail("fetched \(r)") }
        XCTAssertEqual(f.description, "not a usable http:// URL: http://0x7f000001/crl")
    }
}
