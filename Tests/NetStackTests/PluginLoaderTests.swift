import Foundation
import XCTest

/// The plugin mechanism, through the CLI: search order, manifests, API versions, hook order and
/// propagation, failing hooks and loads, options, checks, native modules and the sandbox.
final class PluginLoaderTests: XCTestCase {
    static let fixtures = CLITests.root.appendingPathComponent("Tests/PluginFixtures").path
    var order: String { Self.fixtures + "/order" }
    var broken: String { Self.fixtures + "/broken" }

    /// An empty directory as the working directory, so ./plugins does not add the shipped ones.
    lazy var emptyDir: URL = {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("netstack-empty-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    func testHookOrderStopPropagationExportsAndOperationHooks() throws {
        let r = try runNetstack(["run", "Tests/PluginScripts/hooks.lua", "--plugin-path", order, "--plugin", "second"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        let expected = [
            "first.start",
            "first.before.open", "second.before.open",
            "first.before.send:hello:text", "first.after.send:hello:0",
            "first.before.send:drop:text", "second.stopped.send:drop",
            "first.before.send:secret:text", "first.after.send:secret:0",
            "first.after.open", "second.after.open",
            "first.before.message:hello", "second.before.message:hello", "script.message:hello",
            "first.after.message:hello", "second.after.message:hello",
            "first.before.message:secret", "second.before.message:secret",
            "first.before.close:1000", "script.close:1000",
            "received=hello",
            "exit hook saw status 0",
        ]
        XCTAssertEqual(lines, expected, r.out + r.err)
    }

    /// Without --plugin or --plugin-option the runtime is loaded on first use (a require that
    /// reaches its searcher, or netstack.plugins), and then behaves as if loaded at start: a
    /// plugin's start function runs at once, its exit function at the end.
    func testTheRuntimeLoadsOnFirstUse() throws {
        let script = NSTemporaryDirectory() + "plugin-lazy-\(getpid()).lua"
        try """
        collectgarbage(); collectgarbage()
        print("heap below 50 KiB", collectgarbage("count") < 50)
        print("loaded", rawget(netstack, "plugins") ~= nil, getmetatable(netstack) ~= nil)
        local f = require("first")
        print(f.tag, TRACE[1])
        print("loaded", rawget(netstack, "plugins") ~= nil, getmetatable(netstack) ~= nil)
        print(netstack.plugins.loaded()[1].name, select(2, pcall(require, "missing_mod")):match("module 'missing_mod' not found") ~= nil)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try runNetstack(["run", script, "--plugin-path", order], cwd: emptyDir)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "heap below 50 KiB\ttrue\nloaded\tfalse\ttrue\nfirst\tfirst.start\nloaded\ttrue\tfalse\nfirst\ttrue\nexit hook saw status 0\n")
        // netstack.plugins alone loads it too.
        try "print(type(netstack.plugins.available), rawget(netstack, 'plugins') ~= nil)".write(toFile: script, atomically: true, encoding: .utf8)
        let api = try runNetstack(["run", script, "--plugin-path", order], cwd: emptyDir)
        XCTAssertEqual(api.out, "function\ttrue\n", api.err)
    }

    func testPluginOptionsFromTheCommandLineAndErrors() throws {
        let script = NSTemporaryDirectory() + "plugin-options-\(getpid()).lua"
        try "print(require('first').tag)".write(toFile: script, atomically: true, encoding: .utf8)
        let ok = try runNetstack(["run", script, "--plugin-path", order, "-P", "first.tag=custom"])
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertEqual(ok.out, "custom\nexit hook saw status 0\n")
        let unknown = try runNetstack(["run", script, "--plugin-path", order, "--plugin", "first", "-P", "first.nope=1"])
        XCTAssertEqual(unknown.status, 3, unknown.err)
        XCTAssertTrue(unknown.err.contains("plugin 'first': unknown option 'nope' (--plugin-option; known: tag)"), unknown.err)
        let badSpec = try runNetstack(["run", script, "-P", "nodot"])
        XCTAssertEqual(badSpec.status, 64, "a usage error: " + badSpec.err)
        XCTAssertTrue(badSpec.err.contains("expected NAME.KEY=VALUE"), badSpec.err)
        // Options given from a script: netstack.plugins.load(name, options).
        try "local f = netstack.plugins.load('first', { tag = 'fromscript' }); print(f.tag); print(pcall(netstack.plugins.load, 'first', { tag = 'again' }))"
            .write(toFile: script, atomically: true, encoding: .utf8)
        let fromScript = try runNetstack(["run", script, "--plugin-path", order])
        XCTAssertEqual(fromScript.status, 0, fromScript.err)
        XCTAssertTrue(fromScript.out.hasPrefix("fromscript\nfalse\tplugin 'first': already loaded; options can only be given when it is first loaded\n"), fromScript.out)
    }

    func testLoadFailuresNameThePluginAndTheReason() throws {
        let script = NSTemporaryDirectory() + "plugin-noop-\(getpid()).lua"
        try "print('script ran')".write(toFile: script, atomically: true, encoding: .utf8)
        let cases: [(String, String)] = [
            ("badapi", "plugin 'badapi': needs host API version 2, this host provides 1"),
            ("noversion", "plugin 'noversion': manifest version must be a string like \"1.0.0\""),
            ("wrongname", "plugin 'wrongname': manifest name is 'othername', expected 'wrongname'"),
            ("raises", "plugin 'raises': raised while loading \(broken)/raises.lua: raises.lua:1: raises: broken at load time"),
            ("setupfails", "plugin 'setupfails': setup failed: setupfails/init.lua:6: attempt to index a nil value (local 't')"),
            ("needsmissing", "plugin 'needsmissing': requires 'absent', which failed: plugin 'absent': not found (searched: \(broken) (cli)"),
            ("cycle1", "plugin 'cycle1': requires 'cycle2', which failed: plugin 'cycle2': requires 'cycle1', which failed: plugin 'cycle1': circular requires (cycle2 -> cycle1)"),
            ("badexport", "plugin 'badexport': setup failed: "),
            ("nosuchplugin", "plugin 'nosuchplugin': not found (searched: \(broken) (cli)"),
        ]
        for (name, message) in cases {
            let r = try runNetstack(["run", script, "--plugin-path", broken, "--plugin", name], cwd: emptyDir)
            XCTAssertEqual(r.status, 3, "\(name): \(r.err)")
            XCTAssertTrue(r.err.contains(message), "\(name): expected «\(message)» in:\n\(r.err)")
            XCTAssertFalse(r.out.contains("script ran"), "the script does not run after a failed --plugin")
        }
        // Every failing plugin is reported, not only the first.
        let two = try runNetstack(["run", script, "--plugin-path", broken, "--plugin", "badapi", "--plugin", "raises"], cwd: emptyDir)
        XCTAssertEqual(two.status, 3)
        XCTAssertTrue(two.err.contains("plugin 'badapi'") && two.err.contains("plugin 'raises'"), two.err)
        // From a script, a failing plugin is a Lua error the script can catch; the script goes on.
        try """
        local ok, err = pcall(require, "badapi")
        print(ok, err)
        print(pcall(require, "setupfails"))
        print(require("first").tag)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let caught = try runNetstack(["run", script, "--plugin-path", broken, "--plugin-path", order], cwd: emptyDir)
        XCTAssertEqual(caught.status, 0, caught.err)
        XCTAssertTrue(caught.out.contains("false\tplugin 'badapi': needs host API version 2, this host provides 1\n"), caught.out)
        XCTAssertTrue(caught.out.contains("false\tplugin 'setupfails': setup failed"), caught.out)
        XCTAssertTrue(caught.out.contains("first\n"), caught.out)
    }

    func testFailingHookIsReportedAndTheRestGoesOn() throws {
        let script = NSTemporaryDirectory() + "plugin-boom-\(getpid()).lua"
        try """
        local got = {}
        function onOpen(c) c:send("a") c:send("b") end
        function onMessage(c, data) got[#got + 1] = data if #got == 2 then print("script got " .. table.concat(got, ",")) c:close() end end
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try runNetstack(["run", script, "--plugin-path", broken, "--plugin", "boom"], cwd: emptyDir)
        XCTAssertEqual(r.status, 1, "an error in a hook makes the run fail at the end: " + r.err)
        XCTAssertTrue(r.out.contains("script got a,b"), "the script's callback still runs: " + r.out)
        XCTAssertTrue(r.err.contains("netstack: error in plugin 'boom' (before message hook): boom/init.lua:4: boom on a"), r.err)
        XCTAssertTrue(r.err.contains("boom on b"), r.err)
        // An error in an after hook: reported, and the next after hook still runs.
        XCTAssertTrue(r.err.contains("netstack: error in plugin 'boom' (after message hook): boom/init.lua:5: after boom"), r.err)
        XCTAssertTrue(r.out.contains("second after hook saw a") && r.out.contains("second after hook saw b"), r.out)
        XCTAssertTrue(r.err.contains("stack traceback"), r.err)
    }

    func testSearchOrderShadowingListingInfoAndCheck() throws {
        let a = Self.fixtures + "/shadowA", b = Self.fixtures + "/shadowB"
        // NETSTACK_PLUGIN_PATH comes before ./plugins and the user directory; --plugin-path before both.
        let script = NSTemporaryDirectory() + "plugin-dup-\(getpid()).lua"
        try "print(require('dup').where)".write(toFile: script, atomically: true, encoding: .utf8)
        let envFirst = try runNetstack(["run", script], env: ["NETSTACK_PLUGIN_PATH": "\(a):\(b)"], cwd: emptyDir)
        XCTAssertEqual(envFirst.out, "A\n", envFirst.err)
        let cliFirst = try runNetstack(["run", script, "--plugin-path", b], env: ["NETSTACK_PLUGIN_PATH": a], cwd: emptyDir)
        XCTAssertEqual(cliFirst.out, "B\n", cliFirst.err)
        // ./plugins (project) before the user directory.
        let project = emptyDir.appendingPathComponent("proj")
        let home = emptyDir.appendingPathComponent("home")
        try? FileManager.default.createDirectory(at: project.appendingPathComponent("plugins"), withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(at: home.appendingPathComponent(".config/netstack/plugins"), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: project.appendingPathComponent("plugins/dup.lua").path)
        try? FileManager.default.removeItem(atPath: home.appendingPathComponent(".config/netstack/plugins/dup.lua").path)
        try FileManager.default.copyItem(atPath: b + "/dup.lua", toPath: project.appendingPathComponent("plugins/dup.lua").path)
        try FileManager.default.copyItem(atPath: a + "/dup.lua", toPath: home.appendingPathComponent(".config/netstack/plugins/dup.lua").path)
        let projectFirst = try runNetstack(["run", script], env: ["HOME": home.path, "XDG_CONFIG_HOME": ""], cwd: project)
        XCTAssertEqual(projectFirst.out, "B\n", projectFirst.err)
        let list = try runNetstack(["plugins", "--json"], env: ["HOME": home.path, "XDG_CONFIG_HOME": ""], cwd: project)
        XCTAssertEqual(list.status, 0, list.err)
        let entries = try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as! [[String: Any]]
        let dup = entries.first { $0["name"] as? String == "dup" }!
        XCTAssertEqual(dup["origin"] as? String, "project")
        XCTAssertEqual(dup["version"] as? String, "2.0.0")
        XCTAssertEqual(dup["status"] as? String, "ok")
        XCTAssertEqual((dup["shadowed"] as? [String])?.first?.hasSuffix(".config/netstack/plugins/dup.lua"), true)
        // The shipped plugins are listed as builtin.
        for name in ["audit", "metrics", "reconnect", "record"] {
            let e = entries.first { $0["name"] as? String == name }
            XCTAssertEqual(e?["origin"] as? String, "builtin", name)
            XCTAssertEqual(e?["status"] as? String, "ok", name)
        }
        // Table form and a broken plugin's status.
        let table = try runNetstack(["plugins", "--plugin-path", broken], cwd: emptyDir)
        XCTAssertTrue(table.out.contains("badapi"), table.out)
        XCTAssertTrue(table.out.contains("needs host API version 2, this host provides 1"), table.out)
        // check: exit status follows the plugin's health check.
        let bad = try runNetstack(["plugins", "check", "dup", "--plugin-path", a], cwd: emptyDir)
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.out, "dup: FAILED: A is never healthy\n")
        let good = try runNetstack(["plugins", "check", "dup", "--plugin-path", b], cwd: emptyDir)
        XCTAssertEqual(good.status, 0, good.err)
        XCTAssertEqual(good.out, "dup: ok: B is fine\n")
        let missing = try runNetstack(["plugins", "check", "nosuch"], cwd: emptyDir)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.out.contains("plugin 'nosuch': not found"), missing.out)
        let info = try runNetstack(["plugins", "info", "reconnect"], cwd: emptyDir)
        XCTAssertEqual(info.status, 0, info.err)
        XCTAssertTrue(info.out.contains("maxAttempts") && info.out.contains("(default: 10)"), info.out)
        // Text from a plugin's manifest reaches the terminal with its control bytes shown, not sent.
        let evil = emptyDir.path + "/evil-plugins"
        try FileManager.default.createDirectory(atPath: evil + "/evil", withIntermediateDirectories: true)
        try """
        return { name = "evil", version = "1.0.0", description = "bad\\27]0;title\\7 text", api = 1,
                 options = { x = { type = "string", default = "a\\27[2J", help = "h\\r" } }, setup = function() end }
        """.write(toFile: evil + "/evil/init.lua", atomically: true, encoding: .utf8)
        let shown = try runNetstack(["plugins", "info", "evil", "--plugin-path", evil], cwd: emptyDir)
        XCTAssertEqual(shown.status, 0, shown.err)
        XCTAssertFalse(shown.out.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, shown.out)
        XCTAssertTrue(shown.out.contains("bad\\x1b]0;title\\x07 text") && shown.out.contains("h\\x0d (default: a\\x1b[2J)"), shown.out)
    }

    func testNativeModuleLoadsAndSandboxWithholdsIt() throws {
        let script = NSTemporaryDirectory() + "plugin-cjson-\(getpid()).lua"
        try """
        local cjson = require "cjson"
        local t = cjson.decode('{"a":[1,2,3],"b":"x"}')
        print(#t.a, t.b, cjson.encode({ 5 }))
        print(type(os.execute), type(io.popen))
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try runNetstack(["run", script])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "3\tx\t[5]\nfunction\tfunction\n")

        let sandboxed = try runNetstack(["run", script, "--sandbox"])
        XCTAssertEqual(sandboxed.status, 1)
        XCTAssertTrue(sandboxed.err.contains("module 'cjson' not found"), sandboxed.err)
        XCTAssertTrue(sandboxed.err.contains("native module 'cjson' not loaded: native code is disabled by --sandbox"), sandboxed.err)

        try """
        print(os.execute, io.popen, package.loadlib, package.cpath)
        print(load(string.dump(function() end)))
        print(load("return 1 + 1")())
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let withheld = try runNetstack(["run", script, "--sandbox"])
        XCTAssertEqual(withheld.status, 0, withheld.err)
        XCTAssertEqual(withheld.out, "nil\tnil\tnil\t\nnil\tattempt to load a binary chunk (mode is 't')\n2\n")
    }
}
