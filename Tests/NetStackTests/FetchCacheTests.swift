import NIOCore
import NIOEmbedded
@testable import NetStack
import XCTest

/// The cache of fetched CRLs and OCSP answers: bounded in entries and bytes (servers choose the
/// sizes), shared fetches, failures not kept.
final class FetchCacheTests: XCTestCase {
    let loop = EmbeddedEventLoop()

    func fetch(_ cache: FetchCache, _ key: String, bytes: Int, starts: inout Int) -> [UInt8]? {
        var started = 0
        let f = cache.fetch(key, on: loop) {
            started += 1
            return loop.makeSucceededFuture(.success([UInt8](repeating: 7, count: bytes)))
        }
        starts += started
        return try? f.wait().get()
    }

    func testBoundsAndSharing() throws {
        let cache = FetchCache(lifetime: 300)
        var starts = 0
        for i in 0..<300 { _ = fetch(cache, "k\(i)", bytes: 10, starts: &starts) }
        XCTAssertEqual(starts, 300)
        XCTAssertEqual(cache.kept.entries, FetchCache.maxEntries, "at most 256 entries")
        _ = fetch(cache, "k299", bytes: 10, starts: &starts)
        XCTAssertEqual(starts, 300, "a kept answer is not fetched again")
        _ = fetch(cache, "k0", bytes: 10, starts: &starts)
        XCTAssertEqual(starts, 301, "the oldest went first")

        for i in 0..<5 { _ = fetch(cache, "big\(i)", bytes: 20 << 20, starts: &starts) }
        XCTAssertLessThanOrEqual(cache.kept.bytes, FetchCache.maxTotalBytes, "at most 64 MiB together")
        XCTAssertEqual(fetch(cache, "huge", bytes: (64 << 20) + 1, starts: &starts)?.count, (64 << 20) + 1, "used")
        let before = starts
        _ = fetch(cache, "huge", bytes: 1, starts: &starts)
        XCTAssertEqual(starts, before + 1, "a body over the budget is not kept")

        // Concurrent asks share one fetch; a failure is not kept.
        let promise = loop.makePromise(of: FetchCache.Outcome.self)
        var shared = 0
        let a = cache.fetch("slow", on: loop) { shared += 1; return promise.futureResult }
        let b = cache.fetch("slow", on: loop) { shared += 1; return promise.futureResult }
        promise.succeed(.failure(HTTPFetch.Failure(description: "HTTP 500")))
        XCTAssertEqual(shared, 1)
        if case .success = try a.wait() { XCTFail("failed") }
        if case .success = try b.wait() { XCTFail("failed") }
        var again = 0
        _ = fetch(cache, "slow", bytes: 1, starts: &again)
        XCTAssertEqual(again, 1, "failures are fetched again")
    }
}
