import Foundation
import LuaHost
import NIOPosix
import XCTest

/// The rules of the Lua boundary under scripts that push on them: coroutines, finalizers at the
/// end of a run, globals with metamethods, numbers out of range, errors in callbacks.
final class LuaBoundaryTests: XCTestCase {
    func run(_ name: String, args: [String] = [], configure: (inout ScriptHost.Options) -> Void = { _ in }) throws -> LuaHostTests.Outcome {
        try LuaHostTests.runScript(name, args: args, configure: configure)
    }

    /// Random calls of every function and method (`call_fuzz.lua`): each returns or raises, and in
    /// this debug build each Swift function leaves the stack balanced (found: the certificate
    /// functions dropped extra arguments, then raised below the stack they were given).
    func testRandomCallsNeverStopTheProcess() throws {
        let o = try run("call_fuzz.lua", args: [Servers.plain.url])
        XCTAssertEqual(o.status, 0, o.log.joined(separator: "\n"))
        XCTAssertTrue(o.stdout.contains("call fuzz ok: 7500 calls"), o.stdout + o.log.joined(separator: "\n"))
    }

    /// Every Swift function used the main state's stack, whatever thread called it: inside a
    /// coroutine now() returned a function and 100,000 calls wrote past the coroutine's stack.
    func testSwiftFunctionsWorkInsideCoroutines() throws {
        let o = try run("coroutines.lua", args: [Servers.plain.url])
        XCTAssertEqual(o.status, 0, o.log.joined(separator: "\n"))
        XCTAssertTrue(o.stdout.contains("coroutines ok"), o.stdout + o.log.joined(separator: "\n"))
    }

    /// A finalizer run while the state closes set a timer that fired on the freed state.
    func testFinalizersAtTheEndCannotStartTimersOrConnections() throws {
        let o = try run("finalizer_timer.lua", args: [Servers.plain.url])
        XCTAssertEqual(o.status, 0, o.log.joined(separator: "\n"))
        XCTAssertTrue(o.stdout.contains("main done"), o.stdout)
        XCTAssertTrue(o.stdout.contains("timer at close:\tfalse"), o.stdout)
        XCTAssertTrue(o.stdout.contains("the run has ended"), o.stdout)
        XCTAssertTrue(o.stdout.contains("connect at close:\t1003"), o.stdout)
        usleep(100_000)  // past the 5 ms the timer asked for
        XCTAssertFalse(o.stdout.contains("fired after the end"), o.stdout)
        XCTAssertFalse(o.stdout.contains("opened after the end"), o.stdout)
    }

    /// The host read the handlers with lua_getglobal, which runs `_G`'s __index: an __index that
    /// raises unwound through Swift frames.
    func testGlobalsWithRaisingMetamethodsAreReadRaw() throws {
        let o = try run("hostile_globals.lua") { $0.url = Servers.plain.url + "/echo" }
        XCTAssertEqual(o.status, 0, o.log.joined(separator: "\n"))
        XCTAssertTrue(o.stdout.contains("hostile globals ok 1000"), o.stdout + o.log.joined(separator: "\n"))
    }

    func testNumbersFromScriptsAreChecked() throws {
        let o = try run("bad_numbers.lua", args: [Servers.plain.url])
        XCTAssertEqual(o.status, 0, o.log.joined(separator: "\n"))
        XCTAssertTrue(o.stdout.contains("bad numbers ok"), o.stdout + o.log.joined(separator: "\n"))
    }

    /// By default an uncaught error in a callback ends the run with status 1 (it used to leave
    /// the run going until Ctrl-C).
    func testAnErrorInACallbackEndsTheRunByDefault() throws {
        let started = Date()
        let o = try run("errors.lua")
        XCTAssertEqual(o.status, 1)
        XCTAssertFalse(o.stdout.contains("still running"), "the run ended at the first error")
        XCTAssertTrue(o.log.joined().contains("attempt to index a nil value"), o.log.joined(separator: "\n"))
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testOnErrorCloseClosesThatConnectionWith1011() throws {
        let script = NSTemporaryDirectory() + "on-error-close-\(getpid()).lua"
        try """
        function onOpen(c) c:send("x") end
        function onMessage(c, data) error("handler broke") end
        function onClose(c, r) print("closed", r.code, r.reason) end
        """.write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        var options = ScriptHost.Options()
        let lines = LockedLines()
        options.log = { lines.append($0) }
        options.url = Servers.plain.url + "/echo"
        options.onError = .close
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let host = try ScriptHost(eventLoop: group.next(), options: options)
        let (status, out) = captureStdout { host.run(path: script, args: []) }
        XCTAssertEqual(status, 1, lines.all.joined(separator: "\n"))
        XCTAssertTrue(out.contains("closed\t1011\tscript error"), out)
    }
}
