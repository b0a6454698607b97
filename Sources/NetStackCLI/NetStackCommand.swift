import ArgumentParser
import CInterrupt
import Foundation
import NIOCore
import NIOPosix
import NetStack
import NetStackTestServer

/// The `netstack` command line: its subcommands parse here (a library, so that the parser can be
/// fuzzed and tested without a process); Sources/netstack/main.swift runs it.
public struct NetStackCommand: ParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "netstack",
        abstract: "Script WebSocket clients and audit certificates.",
        discussion: """
        Exit codes shared by every command: 0 success; 1 a runtime failure (connection error, \
        abnormal close, failed verification); 2 invalid input (a URL, a file or a script that \
        cannot be used); 64 bad usage (an unknown option or a value that does not parse); 130 \
        after SIGINT. In between, per command: connect 3 resolve, 4 connect, 5 TLS, 6 upgrade; \
        audit 1 WARN, 2 FAIL, 3 ERROR (Nagios); run 3 a plugin that cannot load, 99 a failed \
        threshold. Each command's --help lists its own; docs/exit-status.md has the whole table.
        """,
        version: NetStackVersion.string,
        subcommands: [Run.self, Serve.self, Connect.self, Verify.self, Audit.self, Plugins.self, Merge.self]
    )

    /// Warns on stderr about each tuning variable of the environment that holds something other
    /// than a whole number (`NETSTACK_MAX_OPENING=abc`): its default is used, and a typo should not
    /// go unnoticed.
    public static func warnAboutTheEnvironment() {
        for line in TuningEnvironment.problems() { printErr("netstack: warning: " + line) }
    }
}

/// A line on stderr. Control characters other than newline and tab are shown as escapes: messages
/// carry text from servers (status lines, headers, close reasons) and from scripts.
func printErr(_ s: String) {
    StandardError.line(TerminalText.sanitize(s))
}

/// A line on stdout shown the same way: certificate names and other text from servers and files
/// (a subject or DNS name may carry escape sequences that clear the screen or retitle it).
func printText(_ s: String) {
    print(TerminalText.sanitize(s))
}

/// Raises the soft limit on open files to the hard limit, so a script can hold thousands of
/// connections on systems whose soft limit is 1024 (as shells and servers such as nginx do).
func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = min(limit.rlim_max, 1 << 20)
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// For commands with nothing to wind down (`verify`, `merge`): SIGINT or SIGTERM exits with 130,
/// as the shared rule says, instead of ending the process by the signal.
func exitOnInterrupt(_ command: String) throws {
    guard netstack_interrupt_install() == 0 else {
        printErr("netstack \(command): cannot install the SIGINT handler")
        throw ExitCode(1)
    }
    watchInterrupts(first: { fflush(stdout); _exit(130) }, second: {})
}

/// On a thread of its own (named "sigint"): `first` after the first SIGINT, `second` after the
/// second. It acts on the count, not the wake-ups: two SIGINTs may arrive before it first reads.
/// The handler must be installed (`netstack_interrupt_install`); a third SIGINT exits in it.
func watchInterrupts(first: @escaping () -> Void, second: @escaping () -> Void) {
    let watcher = Thread {
        let initial = netstack_interrupt_wait()
        guard initial >= 1 else { return }
        first()
        var count = initial
        while count < 2 {
            count = netstack_interrupt_wait()
            guard count >= 1 else { return }
        }
        second()
    }
    watcher.name = "sigint"
    watcher.start()
}
