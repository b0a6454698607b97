import Foundation
import NetStack
import XCTest

/// Connections through real proxies, started here on loopback: Debian's tinyproxy (HTTP CONNECT,
/// with and without Basic authentication) and pproxy from PyPI (SOCKS5, with and without
/// user/password). `scripts/bootstrap` installs both.
final class ProxyTests: XCTestCase {
    /// A proxy process on a free loopback port, with its log.
    final class ProxyProcess {
        let process = Process()
        let port: Int
        let log: String
        private let directory: String

        /// tinyproxy, with Basic authentication when `auth` is given.
        static func tinyproxy(auth: (String, String)? = nil) throws -> ProxyProcess {
            guard let binary = ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"].first(where: FileManager.default.isExecutableFile) else {
                return try unavailable("tinyproxy is not installed: run scripts/bootstrap")
            }
            return try ProxyProcess(binary: binary) { port, directory in
                var conf = "Port \(port)\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nLogLevel Connect\nLogFile \"\(directory)/log\"\n"
                if let (user, pass) = auth { conf += "BasicAuth \(user) \(pass)\n" }
                try conf.write(toFile: directory + "/tinyproxy.conf", atomically: true, encoding: .utf8)
                return ["-d", "-c", directory + "/tinyproxy.conf"]
            }
        }

        /// pproxy as a SOCKS5 server, with user/password when `auth` is given (`--auth 0`: pproxy
        /// otherwise lets an address that authenticated once in without credentials for 30 days).
        static func pproxy(auth: (String, String)? = nil) throws -> ProxyProcess {
            let env = ProcessInfo.processInfo.environment
            let python = env["NETSTACK_PYTHON"] ?? CLITests.root.path + "/.build-venv/bin/python"
            let binary = URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent("pproxy").path
            guard FileManager.default.isExecutableFile(atPath: binary) else {
                return try unavailable("no pproxy at \(binary): run scripts/bootstrap")
            }
            return try ProxyProcess(binary: binary) { port, _ in
                ["-v", "--auth", "0", "-l", "socks5://127.0.0.1:\(port)" + (auth.map { "#\($0.0):\($0.1)" } ?? "")]
            }
        }

        private static func unavailable(_ why: String) throws -> ProxyProcess {
            if ProcessInfo.processInfo.environment["NETSTACK_REQUIRE_INTEROP"] == "1" { throw CLITests.Failure(why) }
            throw XCTSkip(why)
        }

        private init(binary: String, arguments: (Int, String) throws -> [String]) throws {
            directory = NSTemporaryDirectory() + "netstack-proxy-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            port = try Self.freePort()
            log = directory + "/log"
            FileManager.default.createFile(atPath: log, contents: nil)
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = try arguments(port, directory)
            let output = FileHandle(forWritingAtPath: log)!
            output.seekToEndOfFile()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            // Ready when it accepts connections.
            let deadline = Date().addingTimeInterval(10)
            while !Self.accepts(port) {
                guard Date() < deadline, process.isRunning else {
                    stop()
                    throw CLITests.Failure("\(binary) did not listen on \(port): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                }
                usleep(20_000)
            }
        }

        var url: String { "127.0.0.1:\(port)" }
        var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        func stop() {
            if process.isRunning { process.terminate(); process.waitUntilExit() }
            try? FileManager.default.removeItem(atPath: directory)
        }

        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
            }
            guard bound else { throw CLITests.Failure("no free port") }
            return Int(UInt16(bigEndian: addr.sin_port))
        }

        static func accepts(_ port: Int) -> Bool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
    }

    /// Echo one message through `proxy` and close; the recorder of the whole exchange.
    private func echo(_ url: String, proxy: String, file: StaticString = #filePath, line: UInt = #line) throws -> EventRecorder {
        let parsed = try WebSocketProxy(parsing: proxy)
        return runClient(url, configure: {
            $0.proxy = .proxy(parsed)
            $0.tls.caFile = Servers.pki.caCertificate
        }, setup: { rec in
            rec.onOpen = { c in try! c.send(text: "through") }
            rec.onMessage = { c, _ in try! c.close(code: 1000, reason: "done") }
        }, file: file, line: line)
    }

    private func assertEchoed(_ r: EventRecorder, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.messages, [Array("through".utf8)], what, file: file, line: line)
        XCTAssertEqual(r.close?.0, 1000, "\(what): \(r.events)", file: file, line: line)
    }

    func testWsAndWssGoThroughAnHTTPConnectProxyWithAndWithoutAuthentication() throws {
        let open = try ProxyProcess.tinyproxy()
        defer { open.stop() }
        let guarded = try ProxyProcess.tinyproxy(auth: ("alice", "s3cr3t"))
        defer { guarded.stop() }
        for target in [Servers.plain.url + "/echo", Servers.tls.url.replacingOccurrences(of: "127.0.0.1", with: "localhost") + "/echo"] {
            assertEchoed(try echo(target, proxy: "http://\(open.url)"), "\(target) through tinyproxy")
            assertEchoed(try echo(target, proxy: "http://alice:s3cr3t@\(guarded.url)"), "\(target) through tinyproxy with Basic auth")
        }
        // The proxy saw the tunnels (the IP for ws, the name for wss: TLS and SNI go end to end).
        XCTAssertTrue(open.logText.contains("CONNECT 127.0.0.1:\(Servers.plain.port)"), open.logText)
        XCTAssertTrue(open.logText.contains("CONNECT localhost:\(Servers.tls.port)"), open.logText)
        XCTAssertTrue(guarded.logText.contains("CONNECT localhost:\(Servers.tls.port)"), guarded.logText)
    }

    func testWsAndWssGoThroughASOCKS5ProxyWithAndWithoutAuthentication() throws {
        let open = try ProxyProcess.pproxy()
        defer { open.stop() }
        let guarded = try ProxyProcess.pproxy(auth: ("bob", "pw"))
        defer { guarded.stop() }
        let tlsByName = Servers.tls.url.replacingOccurrences(of: "127.0.0.1", with: "localhost") + "/echo"
        for target in [Servers.plain.url + "/echo", tlsByName] {
            for scheme in ["socks5", "socks5h"] {
                assertEchoed(try echo(target, proxy: "\(scheme)://\(open.url)"), "\(target) through \(scheme)")
                assertEchoed(try echo(target, proxy: "\(scheme)://bob:pw@\(guarded.url)"), "\(target) through \(scheme) with a user")
            }
        }
        // socks5h hands the proxy the name; socks5 resolves it here and hands over the address.
        XCTAssertTrue(open.logText.contains("-> localhost:\(Servers.tls.port)"), open.logText)
        XCTAssertTrue(open.logText.contains("-> 127.0.0.1:\(Servers.tls.port)"), open.logText)
    }

    private func failure(_ url: String, proxy: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try echo(url, proxy: proxy, file: file, line: line)
        XCTAssertNil(r.openResult, "never opened", file: file, line: line)
        XCTAssertNil(r.close, "no onClose", file: file, line: line)
        XCTAssertEqual(r.errors.count, 1, "one terminal onError: \(r.events)", file: file, line: line)
        XCTAssertEqual(r.errors.first?.0, 1003, file: file, line: line)
        return r.errors.first?.1 ?? ""
    }

    func testEachProxyFailureHasItsOwnMessage() throws {
        let target = Servers.plain.url + "/echo"
        let unused = try ProxyProcess.freePort()
        XCTAssertTrue(try failure(target, proxy: "http://127.0.0.1:\(unused)").hasPrefix("proxy unreachable: could not connect to 127.0.0.1:\(unused)"))
        XCTAssertTrue(try failure(target, proxy: "socks5h://127.0.0.1:\(unused)").hasPrefix("proxy unreachable"))

        let guarded = try ProxyProcess.tinyproxy(auth: ("alice", "s3cr3t"))
        defer { guarded.stop() }
        var m = try failure(target, proxy: "http://\(guarded.url)")
        XCTAssertTrue(m.hasPrefix("proxy authentication failed: HTTP/1.0 407"), m)
        XCTAssertTrue(m.contains("no user was given"), m)
        m = try failure(target, proxy: "http://alice:wrong@\(guarded.url)")
        XCTAssertTrue(m.hasPrefix("proxy authentication failed"), m)

        let open = try ProxyProcess.tinyproxy()
        defer { open.stop() }
        m = try failure("ws://127.0.0.1:\(unused)/", proxy: "http://\(open.url)")
        XCTAssertTrue(m.hasPrefix("target unreachable through the proxy: 127.0.0.1:\(unused): HTTP/1."), m)
        XCTAssertTrue(m.contains(" 500 "), "tinyproxy's answer when it cannot connect: \(m)")

        let socks = try ProxyProcess.pproxy(auth: ("bob", "pw"))
        defer { socks.stop() }
        m = try failure(target, proxy: "socks5h://bob:nope@\(socks.url)")
        XCTAssertTrue(m.hasPrefix("proxy authentication failed"), m)
        m = try failure(target, proxy: "socks5h://\(socks.url)")
        XCTAssertTrue(m.contains("may require a user and password") || m.hasPrefix("proxy authentication failed"), m)

        // A malformed proxy is refused at connect, like a malformed URL.
        let client = WebSocketClient()
        client.configuration.proxy = .environment
        XCTAssertThrowsError(try WebSocketProxy(parsing: "http://x:0")) { XCTAssertEqual(($0 as? WebSocketError)?.code, .connectionParseURLError) }
        client.destroy()
    }

    func testAProxyThatAnswersNonsenseIsAProtocolError() throws {
        for answer in ["SSH-2.0-OpenSSH_9.2\r\n\r\n", "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Fill: aaaaaaaa\r\n", count: 20_000)] {
            let listener = try LocalListener()
            defer { listener.close() }
            let server = Thread {
                let fd = accept(listener.fd, nil, nil)
                guard fd >= 0 else { return }
                var buffer = [UInt8](repeating: 0, count: 4096)
                _ = recv(fd, &buffer, buffer.count, 0)
                _ = answer.utf8CString.withUnsafeBytes { send(fd, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
                usleep(500_000)
                _ = Glibc.close(fd)
            }
            server.start()
            let m = try failure(Servers.plain.url + "/echo", proxy: "http://127.0.0.1:\(listener.port)")
            XCTAssertTrue(m.hasPrefix("proxy protocol error: the answer to CONNECT is not valid HTTP"), m)
        }
    }

    func testAStalledProxyEndsAtTheConnectTimeout() throws {
        // A listener that accepts and never answers.
        let silent = try LocalListener()
        defer { silent.close() }
        let started = Date()
        let r = runClient(Servers.plain.url + "/echo", configure: {
            $0.proxy = .proxy(WebSocketProxy(kind: .http, host: "127.0.0.1", port: silent.port))
            $0.connectTimeout = .milliseconds(500)
        })
        XCTAssertEqual(r.errors.count, 1)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertNil(r.close)
    }

    func testTheCLIReadsTheProxyFromFlagsAndFromTheEnvironment() throws {
        let tiny = try ProxyProcess.tinyproxy()
        defer { tiny.stop() }
        let target = Servers.plain.url + "/echo"
        var r = try runNetstack(["connect", "--proxy", "http://\(tiny.url)", target], stdin: "one\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("one"), r.out)
        XCTAssertEqual(tiny.logText.components(separatedBy: "CONNECT 127.0.0.1:\(Servers.plain.port)").count - 1, 1)

        r = try runNetstack(["connect", target], stdin: "two\n", env: ["http_proxy": "http://\(tiny.url)"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(tiny.logText.components(separatedBy: "CONNECT 127.0.0.1:\(Servers.plain.port)").count - 1, 2, "http_proxy used")

        for (args, env) in [(["connect", "--no-proxy", target], ["http_proxy": "http://\(tiny.url)"]),
                            (["connect", target], ["http_proxy": "http://\(tiny.url)", "no_proxy": "127.0.0.0/8"]),
                            (["connect", "--proxy", "http://\(tiny.url)", target], ["NO_PROXY": "127.0.0.1"]),
                            (["connect", target], ["HTTP_PROXY": "http://\(tiny.url)"])] {
            r = try runNetstack(args, stdin: "direct\n", env: env)
            XCTAssertEqual(r.status, 0, "\(args) \(env): \(r.err)")
        }
        XCTAssertEqual(tiny.logText.components(separatedBy: "CONNECT 127.0.0.1:\(Servers.plain.port)").count - 1, 2,
                       "--no-proxy, no_proxy and upper-case HTTP_PROXY went direct")

        r = try runNetstack(["connect", "--proxy", "gopher://x", target], stdin: "")
        XCTAssertEqual(r.status, 64, "a bad --proxy is a usage error, as other bad options: \(r.err)")
        XCTAssertTrue(r.err.contains("--proxy: invalid proxy URL: unknown scheme 'gopher'"), r.err)
        r = try runNetstack(["connect", target], stdin: "", env: ["http_proxy": "gopher://x"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("(from http_proxy)"), r.err)
    }

    func testALuaClientTakesAProxyPerConnection() throws {
        let socks = try ProxyProcess.pproxy()
        defer { socks.stop() }
        let script = NSTemporaryDirectory() + "proxy-\(UUID().uuidString).lua"
        try """
        local url, proxy = ...
        local function client(options)
          local c = netstack.OH_WebSocketClient_Constructor(
            function(c) c:send("via") end,
            function(c, data) print(data) c:close() end,
            function(c, err) print("error", err.errorCode, err.errorMessage) end,
            nil)
          assert(c:connect(url, options))
        end
        client({proxy = proxy})
        client({proxy = false})
        local bad = netstack.OH_WebSocketClient_Constructor()
        print("bad", bad:connect(url, {proxy = "ftp://x"}))
        bad:destroy()
        """.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let r = try runNetstack(["run", script, "--", Servers.plain.url + "/echo", "socks5h://\(socks.url)"])
        XCTAssertEqual(r.status, 0, r.err + r.out)
        XCTAssertEqual(r.out.components(separatedBy: "via").count - 1, 2, r.out)
        XCTAssertEqual(socks.logText.components(separatedBy: "-> 127.0.0.1:\(Servers.plain.port)").count - 1, 1,
                       "one client through the proxy, one direct: \(socks.logText)")
        XCTAssertTrue(r.out.contains("bad\tnil\tinvalid proxy URL: unknown scheme 'ftp'"), r.out)
        XCTAssertTrue(r.out.contains("\t1005\n"), r.out)
    }
}

/// A TCP listener that accepts and never answers.
final class LocalListener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw CLITests.Failure("listen failed") }
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}
