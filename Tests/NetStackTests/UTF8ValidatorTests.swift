import NetStack
import XCTest

final class UTF8ValidatorTests: XCTestCase {
    func valid(_ bytes: [UInt8]) -> Bool { UTF8Validator.isValid(bytes) }

    func testAcceptsValidText() {
        XCTAssertTrue(valid([]))
        XCTAssertTrue(valid(Array("hello, world — κόσμε 𝄞 ✓".utf8)))
        XCTAssertTrue(valid([0xF4, 0x8F, 0xBF, 0xBF]))         // U+10FFFF
        XCTAssertTrue(valid([0xED, 0x9F, 0xBF]))               // U+D7FF
        XCTAssertTrue(valid(Array(String(repeating: "abcdefgh", count: 100).utf8)))
    }

    func testRejectsInvalidSequences() {
        let cases: [[UInt8]] = [
            [0x80], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],  // overlong, surrogate
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xCE],            // > U+10FFFF, truncated
            Array("abcdefgh".utf8) + [0xE1, 0xBD],
        ]
        for c in cases { XCTAssertFalse(valid(c), "\(c)") }
    }

    func testFailsFastAcrossPieces() {
        var v = UTF8Validator()
        XCTAssertTrue(([0xCE, 0xBA, 0xE1] as [UInt8]).withUnsafeBytes { v.feed($0) })
        XCTAssertFalse(v.isComplete)
        XCTAssertTrue(([0xBD, 0xB9] as [UInt8]).withUnsafeBytes { v.feed($0) })
        XCTAssertTrue(v.isComplete)
        // A byte that can never be valid is reported before the message ends.
        XCTAssertFalse(([0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCE, 0xBC, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80] as [UInt8]).withUnsafeBytes { v.feed($0) })
    }

    func testEveryTwoByteSplitAgreesWithWholeCheck() {
        let text = Array("κόσμε 𝄞 a€".utf8)
        for split in 0...text.count {
            var v = UTF8Validator()
            let a = text[..<split].withUnsafeBytes { v.feed($0) }
            let b = text[split...].withUnsafeBytes { v.feed($0) }
            XCTAssertTrue(a && b && v.isComplete, "split at \(split)")
        }
    }
}
