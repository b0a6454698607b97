import ArgumentParser
import NetStackCLI

/// The command line's parser: arguments (the input split at NUL bytes) go through the same parse
/// and validation as `netstack` itself, and through the messages it would print, without running
/// anything. Checked: a parse either gives a command or an error whose exit status is the
/// documented one (0 for --help and --version, 64 for usage errors).
enum CommandLineFuzz {
    static let documentedStatuses: Set<Int32> = [0, 64]

    static func run(_ input: UnsafeRawBufferPointer) {
        let args = input.split(separator: 0, maxSplits: 64, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        do {
            let command = try NetStackCommand.parseAsRoot(args)
            _ = String(describing: type(of: command))
        } catch {
            let status = NetStackCommand.exitCode(for: error).rawValue
            _ = NetStackCommand.fullMessage(for: error)
            precondition(documentedStatuses.contains(status), "exit status \(status) for \(args): \(NetStackCommand.message(for: error))")
        }
    }
}
