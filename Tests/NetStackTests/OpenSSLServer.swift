import Foundation
import XCTest

/// `openssl s_server` on a free loopback port: a certificate, its key, optionally a chain and a
/// stapled OCSP response (`-status_file`). Stopped by `stop()`.
final class OpenSSLServer {
    let port: Int
    private let process = Process()

    init(cert: String, key: String, chain: String? = nil, staple: String? = nil) throws {
        port = try ProxyTests.ProxyProcess.freePort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", cert, "-key", key, "-quiet"]
            + (chain.map { ["-cert_chain", $0] } ?? []) + (staple.map { ["-status_file", $0] } ?? [])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try Self.waitForListener(port)
    }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    /// Waits (up to 5 s) until something accepts connections on `port`.
    static func waitForListener(_ port: Int) throws {
        let deadline = Date().addingTimeInterval(5)
        while !ProxyTests.ProxyProcess.accepts(port) {
            guard Date() < deadline else { throw CLITests.Failure("nothing listens on \(port)") }
            usleep(20_000)
        }
    }
}
