import Foundation
import XCTest

/// The Lua that netstack builds in (Sources/CLua): its changed string hash keeps strings and
/// table keys exact, it is the one the process runs (no system liblua), it is configured as
/// Debian's (compatibility functions, module paths), and it gives native modules the Lua API.
final class BuiltInLuaTests: XCTestCase {
    func testStringHashKeepsEveryKeyAtEveryLength() throws {
        let o = try LuaHostTests.runScript("string_keys.lua")
        XCTAssertEqual(o.status, 0, o.log.joined(separator: "\n"))
        XCTAssertTrue(o.stdout.contains("string keys ok: "), o.stdout + o.log.joined(separator: "\n"))
    }

    func testTheProcessRunsTheBuiltInLuaConfiguredAsDebians() throws {
        let script = """
        local maps = io.open("/proc/self/maps"):read("a")
        print("liblua mapped", maps:find("liblua", 1, true) ~= nil)
        print("pow", math.pow(2, 10))
        print("cpath", package.cpath)
        print("path", package.path)
        """
        let r = try runNetstack(["run", "-"], stdin: script)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("liblua mapped\tfalse"), r.out)
        XCTAssertTrue(r.out.contains("pow\t1024.0"), r.out)
        XCTAssertTrue(r.out.contains("/usr/share/lua/5.4/?.lua;"), r.out)
        #if arch(x86_64)
        XCTAssertTrue(r.out.contains("cpath\t/usr/local/lib/lua/5.4/?.so;/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;/usr/lib/lua/5.4/?.so;"), r.out)
        #endif
    }

    /// The API a native module needs is in the executable's dynamic symbol table; Lua's internals
    /// and Swift's symbols are not. (A sanitizer build's runtime exports its interceptors too:
    /// only these two kinds are checked for absence.)
    func testTheExecutableExportsTheLuaAPIOnly() throws {
        let (status, out) = try runTool("nm", ["-D", "--defined-only", CLITests.buildDir + "/netstack"])
        XCTAssertEqual(status, 0, out)
        let exported = out.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
        for name in ["lua_pushlstring", "lua_callk", "luaL_checklstring", "luaL_setfuncs", "luaopen_base"] {
            XCTAssertTrue(exported.contains(name), name + " not exported")
        }
        // lua_*, luaL_* and luaopen_* are the API; luaS_hash, luaV_execute, luai_... are internals.
        let internals = exported.filter { $0.hasPrefix("lua") && !$0.hasPrefix("lua_") && !$0.hasPrefix("luaL_") && !$0.hasPrefix("luaopen_") }
        XCTAssertEqual(internals, [], "Lua's internal functions are not exported")
        let swift = exported.filter { $0.hasPrefix("$s") || $0.hasPrefix("_$s") }
        XCTAssertEqual(Array(swift.prefix(5)), [], "no Swift symbol is exported")
    }
}
