import Foundation
import NIOCore
import NIOPosix
import NetStack
import NetStackTestServer
import XCTest

/// Records a client's events and signals its terminal event.
final class EventRecorder: @unchecked Sendable {
    enum Event: Equatable {
        case open(code: UInt32, reason: String, protocolName: String?)
        case message(WebSocketMessageKind, [UInt8])
        case error(code: Int32, message: String)
        case close(code: UInt32, reason: String)
    }

    private let lock = NSLock()
    private var _events: [Event] = []
    let terminal = DispatchSemaphore(value: 0)
    let opened = DispatchSemaphore(value: 0)
    var onOpen: ((WebSocketClient) -> Void)?
    var onMessage: ((WebSocketClient, WebSocketMessage) -> Void)?
    var openResult: WebSocketOpenResult?

    var events: [Event] { lock.withLock { _events } }

    private func add(_ e: Event) { lock.withLock { _events.append(e) } }

    func attach(_ client: WebSocketClient) {
        client.onOpen = { [self] c, r in
            lock.withLock { openResult = r }
            add(.open(code: r.code, reason: r.reason, protocolName: r.protocolName))
            opened.signal()
            onOpen?(c)
        }
        client.onMessage = { [self] c, m in
            add(.message(m.kind, m.bytes))
            onMessage?(c, m)
        }
        client.onError = { [self] c, e in
            add(.error(code: e.code.rawValue, message: e.message))
            if c.state == .closed { terminal.signal() }
        }
        client.onClose = { [self] _, r in
            add(.close(code: r.code, reason: r.reason))
            terminal.signal()
        }
    }

    func waitForTerminal(seconds: Double = 10, file: StaticString = #filePath, line: UInt = #line) {
        if terminal.wait(timeout: .now() + seconds) != .success {
            XCTFail("no terminal event within \(seconds) s; events: \(events)", file: file, line: line)
        }
    }

    func waitForOpen(seconds: Double = 10, file: StaticString = #filePath, line: UInt = #line) {
        if opened.wait(timeout: .now() + seconds) != .success {
            XCTFail("not opened within \(seconds) s; events: \(events)", file: file, line: line)
        }
    }

    var messages: [[UInt8]] { events.compactMap { if case .message(_, let b) = $0 { return b } else { return nil } } }
    var errors: [(Int32, String)] { events.compactMap { if case .error(let c, let m) = $0 { return (c, m) } else { return nil } } }
    var close: (UInt32, String)? {
        for e in events { if case .close(let c, let r) = e { return (c, r) } }
        return nil
    }
    var terminalCount: Int {
        events.filter { if case .close = $0 { return true } else { return false } }.count
    }
}

extension NSLock {
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// One plain and one TLS server for the whole test run, plus the PKI behind it.
enum Servers {
    static let plain: LocalWebSocketServer = {
        let s = LocalWebSocketServer()
        try! s.start()
        return s
    }()

    static let pki: TestPKI = {
        let pki = try! TestPKI.generate()
        TemporaryFolders.removeAtExit(pki.directory)
        return pki
    }()

    static let tls: LocalWebSocketServer = {
        var c = LocalWebSocketServer.Configuration()
        c.tls = .init(certificatePath: pki.serverCertificate, keyPath: pki.serverKey)
        let s = LocalWebSocketServer(configuration: c)
        try! s.start()
        return s
    }()

    /// A wss server that requires a client certificate issued by the test CA (stop it when done).
    static func mutualTLSServer() throws -> LocalWebSocketServer {
        var c = LocalWebSocketServer.Configuration()
        c.tls = .init(certificatePath: pki.serverCertificate, keyPath: pki.serverKey)
        c.clientCA = pki.caCertificate
        let server = LocalWebSocketServer(configuration: c)
        try server.start()
        return server
    }

    static func tlsServer(certificate: String, key: String) -> LocalWebSocketServer {
        var c = LocalWebSocketServer.Configuration()
        c.tls = .init(certificatePath: certificate, keyPath: key)
        let s = LocalWebSocketServer(configuration: c)
        try! s.start()
        return s
    }
}

/// Connects a client with `configure` applied, records everything until the terminal event.
@discardableResult
func runClient(_ url: String, timeout: Double = 10, headers: [WebSocketHeader] = [],
               configure: (inout WebSocketClientConfiguration) -> Void = { _ in },
               setup: (EventRecorder) -> Void = { _ in },
               file: StaticString = #filePath, line: UInt = #line) -> EventRecorder {
    var config = WebSocketClientConfiguration()
    configure(&config)
    let client = WebSocketClient(configuration: config)
    let recorder = EventRecorder()
    setup(recorder)
    recorder.attach(client)
    do {
        try client.connect(to: url, headers: headers)
    } catch {
        XCTFail("connect threw \(error)", file: file, line: line)
        return recorder
    }
    recorder.waitForTerminal(seconds: timeout, file: file, line: line)
    return recorder
}

/// Runs `tool` (found on PATH) with `args`; its status and its standard output and error together.
func runTool(_ tool: String, _ args: [String], env: [String: String] = [:], cwd: String? = nil) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [tool] + args
    if let cwd = cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    var e = ProcessInfo.processInfo.environment
    for (k, v) in env { e[k] = v }
    p.environment = e
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Folders of keys and certificates the test process made, removed when it exits (a static
/// fixture has no tear-down of its own).
enum TemporaryFolders {
    nonisolated(unsafe) private static var paths: [String] = []
    private static let lock = NSLock()

    static func removeAtExit(_ path: String) {
        lock.lock()
        defer { lock.unlock() }
        if paths.isEmpty {
            atexit {
                TemporaryFolders.lock.lock()
                defer { TemporaryFolders.lock.unlock() }
                for p in TemporaryFolders.paths { try? FileManager.default.removeItem(atPath: p) }
            }
        }
        paths.append(path)
    }
}
