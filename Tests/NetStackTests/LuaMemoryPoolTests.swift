import LuaHost
import NIOPosix
import XCTest

/// A limit shared by many Lua states (a load run's VUs together): what one state holds, the
/// others cannot take; what it frees or gives back when it closes, they can.
final class LuaMemoryPoolTests: XCTestCase {
    /// Runs `body` on a loop with two states sharing a pool of `limit` bytes, and the errors
    /// each reported.
    private func withTwoStates(limit: Int, _ body: @escaping (LuaMemoryPool, LuaVM, LuaVM) throws -> Void) throws -> [String] {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        return try loop.submit {
            let pool = LuaMemoryPool(limit: limit, origin: "the test's pool")
            var options = LuaVM.Options()
            options.memoryPool = pool
            let a = try LuaVM(eventLoop: loop, options: options)
            let b = try LuaVM(eventLoop: loop, options: options)
            var errors: [String] = []
            a.errorSink = { errors.append("a: " + $0) }
            b.errorSink = { errors.append("b: " + $0) }
            try body(pool, a, b)
            return errors
        }.wait()
    }

    func testStatesTogetherStayUnderThePool() throws {
        let keep = "keep = {} for i = 1, ... do keep[i] = ('x'):rep(1 << 20) .. i end"
        let errors = try withTwoStates(limit: 16 << 20) { pool, a, b in
            XCTAssertTrue(a.runString(keep, name: "=a", args: ["10"]))   // 10 MiB of 16
            XCTAssertLessThan(pool.available, 6 << 20)
            XCTAssertFalse(b.runString(keep, name: "=b", args: ["10"]))  // refused after about 6
            // What a state frees goes back: now b has room for its 10 MiB.
            XCTAssertTrue(a.runString("keep = nil collectgarbage()", name: "=free"))
            XCTAssertTrue(b.runString("keep = nil collectgarbage()", name: "=free"))
            XCTAssertGreaterThan(pool.available, 14 << 20)
            XCTAssertTrue(b.runString(keep, name: "=b2", args: ["10"]))
        }
        XCTAssertEqual(errors.count, 1, errors.joined(separator: "\n"))
        XCTAssertTrue(errors.first?.hasPrefix("b: netstack: error in b: memory limit of 16777216 bytes (the test's pool) exceeded: not enough memory") == true,
                      errors.joined(separator: "\n"))
    }

    func testAClosedStateGivesItsShareBack() throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let pool = LuaMemoryPool(limit: 64 << 20, origin: "the test's pool")
        let idle = try loop.submit { () -> Int in
            var options = LuaVM.Options()
            options.memoryPool = pool
            var vms: [LuaVM] = []
            for _ in 0..<8 { vms.append(try LuaVM(eventLoop: loop, options: options)) }
            let held = (64 << 20) - pool.available
            // Each state takes what it holds (its libraries) and at most 32 KiB more.
            let used = vms.reduce(0) { $0 + $1.memoryUsed }
            XCTAssertGreaterThanOrEqual(held, used)
            XCTAssertLessThanOrEqual(held, used + 8 * (32 << 10))
            XCTAssertTrue(vms[0].runString("t = {} for i = 1, 8 do t[i] = ('y'):rep(1 << 20) .. i end", name: "=grow"))
            XCTAssertGreaterThanOrEqual((64 << 20) - pool.available, held + (8 << 20))
            vms.removeAll()
            return pool.available
        }.wait()
        XCTAssertEqual(idle, 64 << 20, "every state's share is back once they are closed")
    }

    /// Allocations outside Lua code (a Swift function building a value) are never refused, so the
    /// pool may go below zero; the next return to Lua code raises the memory error.
    func testOverdrawnOutsideLuaCodeRaisesOnReturn() throws {
        let errors = try withTwoStates(limit: 4 << 20) { pool, a, _ in
            a.pushFunction { vm in
                vm.pushString(String(repeating: "z", count: 6 << 20))
                return 1
            }
            a.setGlobal("bigstring")
            XCTAssertFalse(a.runString("local s = bigstring() print('not reached', #s)", name: "=overdraw"))
            XCTAssertLessThan(pool.available, 4 << 20)
        }
        XCTAssertEqual(errors.count, 1, errors.joined(separator: "\n"))
        XCTAssertTrue(errors.first?.contains("memory limit of 4194304 bytes (the test's pool) exceeded: overdraw:1: not enough memory (the shared limit of 4096 KiB is reached)") == true,
                      errors.joined(separator: "\n"))
    }
}
