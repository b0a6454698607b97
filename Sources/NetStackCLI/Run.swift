import ArgumentParser
import CInterrupt
import Foundation
import LuaHost
import NIOPosix
import NetStack
import NetStackLoad
import NetStackTestServer

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Lua script: a bot, an automation, an audit.",
        discussion: """
        A script that defines global onOpen/onMessage/onError/onClose (and optionally main(args)) \
        but creates no client is a bot: the host creates the client, wires the globals and \
        connects to --url. Without --url, the built-in local echo server is started and used. \
        main (and a load run's iteration function) may wait as a netstack.spawn function does: \
        netstack.connect, ws:receive, netstack.sleep.
        The run ends when no connection or timer is left, on netstack.exit(code), or (with the \
        default --on-error exit) after the first uncaught error in a callback. SIGINT (or SIGTERM) closes open \
        connections with 1001 and ends with 130; a second one exits at once with 130.
        Exit status, first that applies: the code given to netstack.exit or os.exit (0-255); 1 if any \
        error was raised in the script, a callback or a plugin hook; a plugin's status (metrics \
        thresholds: 99); 1 if a connection failed (an error before the open: DNS, refused, TLS, \
        rejected upgrade, timeout; or a close that was not clean: dropped without a close frame, \
        or closed by us for a protocol violation), unless a later connect of that client opened; \
        else 0. 2 for a missing script (or over 64 MiB from standard input with -), one that only defines misnamed handlers (onopen, \
        on_message: a warning names them), or one that sets main or a handler the host would call to a value that is \
        not a function (main = 5); 64 for bad options; 3 when a --plugin plugin cannot be \
        loaded (the script does not run); 130 after SIGINT or SIGTERM.
        Load runs (any option under "Load runs", or a script with a line starting `options =`, \
        `_G.options =` or `_ENV.options =`): \
        VUs each run the script in a VM of their own (docs/load-testing.md); a global setup() is \
        called once before them (its value is every iteration's second argument) and teardown() \
        once after them. Their exit status, first that applies: the code given to netstack.exit or \
        os.exit; 3 when a --plugin cannot be loaded in a VU's init; 2 when the script sets main, setup, \
        teardown or a handler to a value that is not a function; 1 when a VU's init failed \
        otherwise, or setup() raised or outlived setupTimeout; 130 after \
        SIGINT or SIGTERM (once: graceful stop; twice: stop now; the summary and output files are written either way); 99 when a \
        threshold failed (not in a --segment run: netstack merge judges those); 1 after script \
        errors (teardown's and its timeout too); a plugin's status (the largest a VU's plugins gave: a metrics-plugin threshold, 99); \
        1 when no threshold is defined and a connection failed; else 0; then 1 for a failed handleSummary() \
        when it was 0. 2 when an --out, --report, --summary-export or handleSummary() file cannot be \
        created (before the run) or written. 64 for bad options, \
        a malformed options table, an exec (--exec, options.scenarios.NAME.exec) naming no global function, \
        a threshold on a metric --no-connection-metrics turns off, or more VUs than this machine's memory \
        can hold (32 KiB each at least).
        """
    )

    @Argument(help: "The Lua script; - reads it from standard input.") var script: String
    @Option(parsing: .unconditional, help: "URL a bot script connects to.") var url: String?
    @Option(parsing: .unconditional, help: "Memory limit for the script, in bytes (suffixes k, m, g, also written kb or kib...: all powers of 1024; 0: no limit). Default: half of the memory this process may use (the cgroup's limit, ulimit -v and ulimit -d count); in a load run each VU gets an equal share of that half, at least 32 MiB, and all VUs together the half.") var memoryLimit: String?
    @Option(parsing: .unconditional, help: "Instructions one callback may run before it is stopped (0: no limit).") var instructionLimit: Int = 0
    @Option(name: [.customShort("e"), .customLong("env")], parsing: .unconditionalSingleValue,
            help: "NAME=VALUE: an environment variable for the run, as if it were set in the environment (proxy variables too); the script reads it with os.getenv (k6's -e and __ENV; repeatable).")
    var environment: [String] = []

    func validate() throws {
        if let m = memoryLimit, parseSize(m) == nil {
            throw ValidationError("--memory-limit: '\(m)' is not a size (a whole number of bytes, optionally with k, m or g, also written kb or kib...: powers of 1024; 0 means no limit)")
        }
        guard instructionLimit >= 0 else { throw ValidationError("--instruction-limit: expected 0 or more, got \(instructionLimit)") }
        guard gc == "generational" || gc == "incremental" else { throw ValidationError("--gc: expected generational or incremental, got '\(gc)'") }
        for e in environment {
            guard let eq = e.firstIndex(of: "="), eq != e.startIndex, !e.utf8.contains(0) else {
                throw ValidationError("--env: expected NAME=VALUE with a name, got '\(TerminalText.sanitize(e, keepNewlines: false))'")
            }
        }
        if let u = url {
            do { _ = try WebSocketURL(parsing: u) } catch { throw ValidationError("--url: \((error as? WebSocketError)?.message ?? "\(error)")") }
        }
    }
    @Option(parsing: .unconditional, help: "Lua's garbage collector: generational (default; messages die young) or incremental.") var gc: String = "generational"
    @Option(parsing: .unconditional, help: "After an uncaught error in a callback: exit (end the run now, the default), close (close that connection with 1011 and go on) or continue.")
    var onError: ScriptHost.ErrorPolicy = .exit
    @Flag(name: .shortAndLong, help: "Trace handshakes, messages and control frames to stderr; -vv also every frame (FIN, RSV, opcode, length, mask, a payload preview).")
    var verbose: Int
    @Flag(help: "Print JSON lines of events (open, message, error, close, print, script_error, exit) on stdout.") var json = false
    @OptionGroup(title: "Clients (the bot's and the script's; the script's own settings win)") var clientFlags: ClientFlags
    @OptionGroup(title: "Plugins") var pluginFlags: PluginFlags
    @OptionGroup(title: "Proxy") var proxyFlags: ProxyFlags
    @OptionGroup(title: "Redirects") var redirectFlags: RedirectFlags
    @OptionGroup(title: "Load runs") var load: LoadFlags
    @Argument(parsing: .remaining, help: "Arguments for the script: the words after it (as for lua, python and node), and everything after -- (for words that start with -).") var args: [String] = []

    func run() throws {
        // First, so that everything that reads the environment (proxies, NO_COLOR, the script) sees it.
        for e in environment {
            let eq = e.firstIndex(of: "=")!
            setenv(String(e[..<eq]), String(e[e.index(after: eq)...]), 1)
        }
        let chunk: ScriptChunk
        if script == "-" {
            // The script from standard input, as `lua -` and `k6 run -` read it.
            switch BoundedFileRead.bytes(atPath: "/dev/stdin", limit: ScriptChunk.sizeLimit) {
            case .success(let bytes): chunk = ScriptChunk(standardInput: bytes)
            case .failure(.tooLarge): printErr("netstack: cannot read the script from standard input: larger than \(ScriptChunk.sizeLimit >> 20) MiB"); throw ExitCode(2)
            case .failure(.unreadable(_, let reason)): printErr("netstack: cannot read the script from standard input: \(reason)"); throw ExitCode(2)
            }
        } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.isReadableFile(atPath: script),
                  FileManager.default.fileExists(atPath: script, isDirectory: &isDirectory), !isDirectory.boolValue else {
                printErr("netstack: cannot read script '\(TerminalText.sanitize(script, keepNewlines: false))'\(isDirectory.boolValue ? ": it is a folder" : "")")
                throw ExitCode(2)
            }
            chunk = ScriptChunk(path: script)
        }
        raiseOpenFileLimit()
        var options = ScriptHost.Options()
        options.url = url
        options.proxy = proxyFlags.setting
        options.clientDefaults = clientFlags.defaults
        if clientFlags.insecure { printErr("netstack: warning: --insecure: server certificates are not verified") }
        options.followRedirects = redirectFlags.followRedirects
        pluginFlags.apply(to: &options)
        if let m = memoryLimit {
            guard let bytes = parseSize(m) else { throw ValidationError("--memory-limit: '\(m)' is not a size") }
            options.vm.memoryLimit = bytes
        } else {
            options.vm.memoryLimit = DefaultMemoryLimit.script(available: VUMemoryCheck.availableBytes())
            options.vm.memoryLimitOrigin = DefaultMemoryLimit.scriptOrigin
        }
        options.vm.instructionBudget = instructionLimit
        options.onError = onError
        options.vm.generationalGC = gc == "generational"
        // `arg` gets the bytes given, as lua.c gives them (Swift read them as UTF-8, repaired).
        options.vm.argumentBytes = ArgumentBytes.trailing(args)
        if verbose >= 1 { options.trace = { printErr($0) } }
        if verbose >= 2 { options.frameTrace = { printErr($0) } }
        if json {
            let lock = NSLock()
            options.events = { line in
                lock.lock()
                print(line)
                fflush(stdout)
                lock.unlock()
            }
        }
        let declaresOptions = ScriptOptions.declaresOptions(String(decoding: chunk.bytes ?? [], as: UTF8.self))
        if load.any || declaresOptions {
            let code = try LoadRunner(script: chunk, declaresOptions: declaresOptions, args: args, flags: load, hostOptions: options,
                                  defaultMemoryLimit: memoryLimit == nil, json: json).run()
            if code != 0 { throw ExitCode(code) }
            return
        }
        let group = MultiThreadedEventLoopGroup.singleton
        // Without --url, a local echo server is made ready beforehand (binding a port takes
        // microseconds); it is used only if the script turns out to be a bot.
        var server: LocalWebSocketServer?
        if url == nil {
            var c = LocalWebSocketServer.Configuration()
            c.port = 0
            let s = LocalWebSocketServer(configuration: c, group: group)
            if (try? s.start()) != nil {
                server = s
                options.startLocalServer = { s.url + "/echo" }
            }
        }
        // The script's VM and its connections get a loop of their own (one VM, one loop); the local
        // server, TLS work and timers of the engine stay on the shared group.
        let scriptGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let host = try ScriptHost(eventLoop: scriptGroup.next(), options: options)
        // The handler is in place before the script starts (a SIGINT that arrived before a
        // dispatch source had registered was lost, and the second one then only asked the busy
        // script to stop). The second SIGINT exits from this thread, not from the script's loop:
        // that loop may be busy in Lua code that never returns.
        guard netstack_interrupt_install() == 0 else {
            printErr("netstack: cannot install the SIGINT handler")
            throw ExitCode(1)
        }
        let json = self.json
        watchInterrupts(first: { host.interrupt() }, second: {
            printErr("netstack: interrupted again; exiting now")
            if json { print("{\"event\":\"exit\",\"status\":130}") }
            fflush(stdout)
            _exit(130)
        })
        // The script read and compiled above (not read and parsed again by the file loader).
        let code = host.run(script: chunk, args: args)
        server?.stop()
        if json { print("{\"event\":\"exit\",\"status\":\(code)}") }
        if code != 0 { throw ExitCode(code) }
    }
}

extension ScriptHost.ErrorPolicy: ExpressibleByArgument {}

/// A byte count with an optional k, m or g suffix, also written kb/kib... (powers of 1024); nil
/// when it is not a non-negative whole number or does not fit 64 bits.
func parseSize(_ s: String) -> Int? {
    var digits = Substring(s.lowercased())
    // Units are powers of 1024, as systemd's and Docker's: "20m", "20mb" and "20mib" are alike.
    if digits.hasSuffix("ib") { digits = digits.dropLast(2) } else if digits.hasSuffix("b") { digits = digits.dropLast() }
    var multiplier = 1
    for (suffix, m) in [("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30)] where digits.hasSuffix(suffix) {
        digits = digits.dropLast()
        multiplier = m
    }
    guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits) else { return nil }
    let (bytes, overflow) = n.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : bytes
}
