import Foundation
import NetStack
import XCTest

/// The engine against a third-party server: Python `websockets`, with and without compression.
final class InteropTests: XCTestCase {
    final class PythonServer {
        let process = Process()
        let stdin = Pipe()
        let port: Int

        init(compression: Bool) throws {
            let env = ProcessInfo.processInfo.environment
            let python = env["NETSTACK_PYTHON"] ?? FileManager.default.currentDirectoryPath + "/.build-venv/bin/python"
            guard FileManager.default.isExecutableFile(atPath: python) else {
                if env["NETSTACK_REQUIRE_INTEROP"] == "1" { throw Failure("no Python venv at \(python): run scripts/bootstrap") }
                throw XCTSkip("no Python venv with websockets at \(python) (scripts/bootstrap makes it)")
            }
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Interop/websockets_echo_server.py").path
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [script] + (compression ? [] : ["--no-compression"])
            let out = Pipe()
            process.standardOutput = out
            process.standardInput = stdin
            try process.run()
            var line = Data()
            while true {
                let byte = out.fileHandleForReading.readData(ofLength: 1)
                if byte.isEmpty || byte == Data("\n".utf8) { break }
                line += byte
            }
            let text = String(decoding: line, as: UTF8.self)
            guard text.hasPrefix("PORT "), let p = Int(text.dropFirst(5)) else { throw Failure("python server said '\(text)'") }
            port = p
        }

        func stop() {
            try? stdin.fileHandleForWriting.close()
            process.waitUntilExit()
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    func testEchoAgainstPythonWebsockets() throws {
        for compression in [true, false] {
            let server = try PythonServer(compression: compression)
            defer { server.stop() }
            let text = String(repeating: "interop κόσμε ", count: 2000)
            let binary = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
            let r = runClient("ws://127.0.0.1:\(server.port)/", setup: { rec in
                var n = 0
                rec.onOpen = { c in try! c.send(text: text) }
                rec.onMessage = { c, _ in
                    n += 1
                    switch n {
                    case 1: try! c.send(binary: binary)
                    case 2: try! c.send(text: "small")
                    default: try! c.close(code: 1000, reason: "done")
                    }
                }
            })
            XCTAssertEqual(r.openResult?.compression != nil, compression, "deflate negotiated with compression=\(compression)")
            XCTAssertEqual(r.events.compactMap { e -> WebSocketMessageKind? in if case .message(let k, _) = e { return k } else { return nil } },
                           [.text, .binary, .text])
            XCTAssertEqual(r.messages, [Array(text.utf8), binary, Array("small".utf8)])
            XCTAssertEqual(r.close?.0, 1000)
            XCTAssertEqual(r.close?.1, "done")

            let closing = runClient("ws://127.0.0.1:\(server.port)/close")
            XCTAssertEqual(closing.close?.0, 4000)
            XCTAssertEqual(closing.close?.1, "python bye")
        }
    }
}
