import NetStackLoad
import XCTest

/// The memory a Lua state may allocate when no --memory-limit is given.
final class DefaultMemoryLimitTests: XCTestCase {
    private let gib: UInt64 = 1 << 30

    func testAScriptGetsHalfOfWhatTheProcessMayUse() {
        XCTAssertEqual(DefaultMemoryLimit.script(available: 24 * gib), 12 << 30)
        XCTAssertEqual(DefaultMemoryLimit.script(available: 3), 1)
        XCTAssertEqual(DefaultMemoryLimit.script(available: .max), Int(UInt64.max / 2), "a machine larger than Int still gives a number")
    }

    func testVUsShareTheHalfWithAFloorAndNeverGetMoreThanIt() {
        XCTAssertEqual(DefaultMemoryLimit.perVU(vus: 1, available: 24 * gib), 12 << 30, "one VU: the script's limit")
        XCTAssertEqual(DefaultMemoryLimit.perVU(vus: 0, available: 24 * gib), 12 << 30)
        XCTAssertEqual(DefaultMemoryLimit.perVU(vus: 12, available: 24 * gib), 1 << 30, "an equal share of the half")
        XCTAssertEqual(DefaultMemoryLimit.perVU(vus: 50_000, available: 24 * gib), DefaultMemoryLimit.vuFloor, "many VUs: the floor")
        XCTAssertEqual(DefaultMemoryLimit.vuFloor, 32 << 20)
        XCTAssertEqual(DefaultMemoryLimit.perVU(vus: 100, available: 16 << 20), 8 << 20, "a tiny machine: not above the half")
    }
}
