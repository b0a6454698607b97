import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import NetStack
import NetStackTestServer

@main
struct NetStackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netstack",
        abstract: "Script WebSocket clients and audit certificates.",
        discussion: """
        Exit codes: 0 success; 1 a runtime failure (connection error, abnormal close, failed \
        verification); 2 bad usage or invalid input.
        """,
        version: NetStackVersion.string,
        subcommands: [Run.self, Serve.self, Connect.self, Verify.self, Audit.self, Plugins.self]
    )
}

func printErr(_ s: String) {
    FileHandle.standardError.write((s + "\n").data(using: .utf8)!)
}
