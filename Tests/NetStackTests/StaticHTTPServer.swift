import Foundation

/// Python's `http.server` serving a directory on a free loopback port (CRLs for the audit tests).
final class StaticHTTPServer {
    let port: Int
    private let process = Process()

    init(directory: String) throws {
        port = try ProxyTests.ProxyProcess.freePort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", directory]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try OpenSSLServer.waitForListener(port)
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }
}
