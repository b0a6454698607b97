import Foundation

/// Python's `http.server` serving a directory on a free loopback port (CRLs for the audit tests),
/// over HTTPS with `certificate` and `key`.
final class StaticHTTPServer {
    let port: Int
    let scheme: String
    private let process = Process()

    init(directory: String, certificate: String? = nil, key: String? = nil) throws {
        port = try ProxyTests.ProxyProcess.freePort()
        scheme = certificate == nil ? "http" : "https"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        if let certificate = certificate, let key = key {
            let serve = """
            import functools, http.server, ssl, sys
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
            server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(sys.argv[3], sys.argv[4])
            server.socket = context.wrap_socket(server.socket, server_side=True)
            server.serve_forever()
            """
            process.arguments = ["python3", "-c", serve, "\(port)", directory, certificate, key]
        } else {
            process.arguments = ["python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", directory]
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try OpenSSLServer.waitForListener(port)
    }

    func url(_ path: String) -> String { "\(scheme)://127.0.0.1:\(port)/\(path)" }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }
}
