import NIOCore
import NIOEmbedded
@testable import NetStack
import XCTest

final class LoopBufferPoolTests: XCTestCase {
    func testThePoolIsBoundedInCountAndSize() {
        let loop = EmbeddedEventLoop()
        let pool = LoopBufferPool.forCurrentLoop(loop)
        while pool.take() != nil {}
        pool.give(ByteBuffer(repeating: 1, count: LoopBufferPool.maxCapacity * 2))
        XCTAssertEqual(pool.count, 0, "too large to keep")
        for _ in 0..<10 { pool.give(ByteBuffer(repeating: 1, count: 100)) }
        XCTAssertEqual(pool.count, LoopBufferPool.maxSpares)
        let b = pool.take()
        XCTAssertEqual(b?.readableBytes, 0, "given back cleared")
        XCTAssertGreaterThanOrEqual(b?.capacity ?? 0, 100, "with its storage")
        XCTAssertEqual(pool.count, LoopBufferPool.maxSpares - 1)
        while pool.take() != nil {}
    }
}
