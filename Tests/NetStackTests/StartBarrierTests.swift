import NetStackLoad
import XCTest

/// `--start-barrier`'s value: which values are files, which are URLs, which are refused, and what
/// a wait that timed out says. No I/O.
final class StartBarrierTests: XCTestCase {
    func testFilesAndURLs() throws {
        XCTAssertEqual(try StartBarrier(parsing: "/shared/go"), .file("/shared/go"))
        XCTAssertEqual(try StartBarrier(parsing: "go"), .file("go"))
        XCTAssertEqual(try StartBarrier(parsing: "ftp://h/x"), .file("ftp://h/x"), "only http:// and https:// are URLs")
        XCTAssertEqual(try StartBarrier(parsing: "http://coordinator:8080/go"), .url("http://coordinator:8080/go"))
        XCTAssertEqual(try StartBarrier(parsing: "HTTP://10.0.0.1/go?run=7"), .url("HTTP://10.0.0.1/go?run=7"))
        XCTAssertEqual(try StartBarrier(parsing: "http://[::1]:9000"), .url("http://[::1]:9000"))
        XCTAssertEqual(try StartBarrier(parsing: "https://bucket.example/go?X-Sig=ab%2F"), .url("https://bucket.example/go?X-Sig=ab%2F"))
        XCTAssertEqual(try StartBarrier(parsing: "HTTPS://10.0.0.1:8443/go"), .url("HTTPS://10.0.0.1:8443/go"))
    }

    func testRefusedValuesSayWhy() {
        let cases: [(String, String)] = [
            ("", "empty path"),
            ("https://", "is not a usable https URL"),
            ("https://user@h/go", "is not a usable https URL"),
            ("HTTPS://0x7f000001/go", "is not a usable https URL"),
            ("http://", "is not a usable http URL"),
            ("http://user:pw@h/go", "is not a usable http URL"),
            ("http://h/go#x", "is not a usable http URL"),
            ("http://h:0/go", "is not a usable http URL"),
            ("http://h:65536/go", "is not a usable http URL"),
            ("http://0x7f000001/go", "is not a usable http URL"),
            ("http://127.1/go", "is not a usable http URL"),
            ("http://h/a b", "is not a usable http URL"),
            ("http://[::1/go", "is not a usable http URL"),
        ]
        for (value, expected) in cases {
            XCTAssertThrowsError(try StartBarrier(parsing: value), value) { error in
                XCTAssertTrue((error as? LoadOptionError)?.message.contains(expected) ?? false, "\(value): \(error)")
            }
        }
    }

    func testTimeoutMessagesNameTheBarrierAndTheLastAnswer() throws {
        let timeout = try LoadDuration(parsing: "10m")
        XCTAssertEqual(StartBarrier.file("/s/go").timedOut(after: timeout, lastAnswer: nil),
                       "the barrier file '/s/go' did not appear within \(timeout)")
        XCTAssertEqual(StartBarrier.url("http://h/go").timedOut(after: timeout, lastAnswer: "HTTP 404 Not Found"),
                       "the barrier URL 'http://h/go' did not answer 200 within \(timeout) (last answer: HTTP 404 Not Found)")
        XCTAssertEqual(StartBarrier.url("http://h/go").timedOut(after: timeout, lastAnswer: nil),
                       "the barrier URL 'http://h/go' did not answer 200 within \(timeout)")
    }
}
