import Foundation
import XCTest

/// A plugin whose manifest names a native module (Tests/NativePlugin/counter: init.lua with
/// `native = "counter"`, counter.c built here into counter.so): it loads with --plugin like a Lua
/// plugin, its hook is a C function, and --sandbox and a missing module are clear failures.
final class NativePluginTests: XCTestCase {
    func testNativeModulePluginLoadsWithHooks() throws {
        let dir = NSTemporaryDirectory() + "netstack-native-plugin-\(getpid())"
        let plugin = dir + "/counter"
        try FileManager.default.createDirectory(atPath: plugin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: CLITests.root.path + "/Tests/NativePlugin/counter/init.lua", toPath: plugin + "/init.lua")
        let (cc, ccOut) = try runTool("cc", ["-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-I/usr/include/lua5.4",
                                             CLITests.root.path + "/Tests/NativePlugin/counter/counter.c", "-o", plugin + "/counter.so"])
        XCTAssertEqual(cc, 0, ccOut)

        let r = try runNetstack(["run", "examples/echo-bot.lua", "--plugin-path", dir, "--plugin", "counter", "--", "3"], cwd: CLITests.root)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("counter: sent 3 messages, 24 bytes (Lua 5.4)"), "the C hook saw every send: " + r.err)
        XCTAssertTrue(r.out.contains("close: 1000 bye"), r.out)

        // From a script: require gives the plugin's exports, whose function is the C one.
        let script = dir + "/use.lua"
        try """
        local counter = netstack.plugins.load("counter")
        local c = netstack.OH_WebSocketClient_Constructor(function(c) c:send("abcd"); c:close(1000, "") end, function() end, function() end,
          function() local n, b = counter.totals(); print("totals", n, b) end)
        c:connect(arg[1])
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let s = try runNetstack(["run", script, "--plugin-path", dir, "--", Servers.plain.url + "/echo"])
        XCTAssertEqual(s.status, 0, s.err)
        XCTAssertTrue(s.out.contains("totals\t1\t4"), s.out + s.err)

        let info = try runNetstack(["plugins", "check", "counter", "--plugin-path", dir])
        XCTAssertEqual(info.status, 0, info.out + info.err)

        let sandboxed = try runNetstack(["run", "examples/echo-bot.lua", "--plugin-path", dir, "--plugin", "counter", "--sandbox"], cwd: CLITests.root)
        XCTAssertEqual(sandboxed.status, 3, sandboxed.err)
        XCTAssertTrue(sandboxed.err.contains("native module 'counter' not loaded: native code is disabled by --sandbox"), sandboxed.err)

        try FileManager.default.removeItem(atPath: plugin + "/counter.so")
        let missing = try runNetstack(["run", "examples/echo-bot.lua", "--plugin-path", dir, "--plugin", "counter"], cwd: CLITests.root)
        XCTAssertEqual(missing.status, 3, missing.err)
        XCTAssertTrue(missing.err.contains("cannot load native module") && missing.err.contains("counter.so"), missing.err)
    }
}
