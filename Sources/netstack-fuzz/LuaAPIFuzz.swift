import Foundation
import NetStack
import LuaHost
import NIOCore
import NIOPosix
import NetStackTestServer

/// The Lua API as scripts use it, and misuse it: each input becomes a script (`LuaFuzzProgram`)
/// of API calls with odd arguments, nested in callbacks, timers and coroutines, run by a real
/// ScriptHost against a local server. Checked on every input: the run ends (a watchdog interrupts
/// it after 300 ms, twice), its status is 0-255, and the process's descriptors come back (no
/// connection outlives its run).
enum LuaAPIFuzz {
    static let server: LocalWebSocketServer = {
        let s = LocalWebSocketServer(configuration: .init(), group: MultiThreadedEventLoopGroup.singleton)
        do { try s.start() } catch { fatalError("lua-api: cannot start the local server: \(error)") }
        return s
    }()
    /// One loop for every run (a script's VM is confined to its loop).
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    static var baselineDescriptors = -1
    static var runs = 0
    /// NETSTACK_FUZZ_SHOW=1 prints each script, what the host logs and the status (replays).
    static let show = ProcessInfo.processInfo.environment["NETSTACK_FUZZ_SHOW"] != nil

    static func run(_ input: UnsafeRawBufferPointer) {
        let program = LuaFuzzProgram(input, url: server.url)
        var options = ScriptHost.Options()
        options.vm.memoryLimit = 64 << 20
        options.vm.instructionBudget = 1_000_000
        options.onError = program.errorPolicy
        options.vm.lazyLibraries = program.lazyLibraries
        options.log = show ? { StandardError.write("log: " + $0 + "\n") } : { _ in }
        if show { StandardError.write("--- script:\n" + program.source) }
        options.sandbox = true
        let loop = group.next()
        let host: ScriptHost
        do { host = try ScriptHost(eventLoop: loop, options: options) } catch {
            fatalError("lua-api: cannot make a host: \(error)")
        }
        let first = loop.scheduleTask(in: .milliseconds(300)) { host.interrupt() }
        let second = loop.scheduleTask(in: .milliseconds(600)) { host.interrupt() }
        let status = host.run(source: program.source, name: "fuzz", args: [])
        first.cancel()
        second.cancel()
        if show { StandardError.write("--- status \(status)\n") }
        precondition((0...255).contains(status), "status \(status)")
        runs += 1
        if baselineDescriptors < 0 { baselineDescriptors = openDescriptors() }
        if runs % 64 == 0 { checkDescriptors() }
    }

    /// Descriptors close asynchronously (the server's side after the client's): a growth that
    /// stays after a pause is a leak.
    static func checkDescriptors() {
        for _ in 0..<40 {
            if openDescriptors() <= baselineDescriptors + 16 { return }
            usleep(50_000)
        }
        preconditionFailure("descriptors grew from \(baselineDescriptors) to \(openDescriptors())")
    }

    static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }
}
