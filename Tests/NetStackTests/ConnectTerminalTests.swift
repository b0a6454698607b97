import Foundation
import XCTest

/// `netstack connect` on a pseudo-terminal (Tests/ConnectTerminal/drive.py): the prompt, line
/// editing and history (the up arrow recalls the last line; the history file keeps the lines
/// across sessions), slash commands on by default, "<" markers, and colour on or off (NO_COLOR).
final class ConnectTerminalTests: XCTestCase {
    struct Run: Decodable {
        let status: Int?
        let transcript: String
    }

    func drive(_ history: String, noColor: Bool) throws -> Run {
        var args = ["Tests/ConnectTerminal/drive.py", CLITests.buildDir + "/netstack", Servers.plain.url + "/echo", history]
        if noColor { args.append("nocolor") }
        let (status, out) = try runTool("python3", args, cwd: CLITests.root.path)
        XCTAssertEqual(status, 0, out)
        let json = out.split(separator: "\n").last.map(String.init) ?? ""
        return try JSONDecoder().decode(Run.self, from: Data(json.utf8))
    }

    func testPromptHistorySlashCommandsAndColour() throws {
        let history = NSTemporaryDirectory() + "netstack-history-\(getpid())"
        try? FileManager.default.removeItem(atPath: history)
        defer { try? FileManager.default.removeItem(atPath: history) }

        let colour = try drive(history, noColor: false)
        XCTAssertEqual(colour.status, 0, colour.transcript)
        XCTAssertTrue(colour.transcript.contains("> "), "a prompt")
        XCTAssertTrue(colour.transcript.contains("\u{1B}[36m< hello\u{1B}[0m"), "the echo, marked and coloured: \(colour.transcript.debugDescription)")
        XCTAssertTrue(colour.transcript.contains("00000000  48 69 00 ff") && colour.transcript.contains("|Hi..|"),
                      "binary as a hex dump: \(colour.transcript.debugDescription)")
        XCTAssertEqual(colour.transcript.components(separatedBy: "pong after").count - 1, 2,
                       "/ping, then the up arrow and Enter sent it again: \(colour.transcript.debugDescription)")
        XCTAssertTrue(colour.transcript.contains("closed 1000"), colour.transcript)
        let saved = try String(contentsOfFile: history, encoding: .utf8)
        XCTAssertTrue(saved.contains("hello") && saved.contains("/ping") && saved.contains("/quit"), saved)

        let plain = try drive(history, noColor: true)
        XCTAssertEqual(plain.status, 0, plain.transcript)
        XCTAssertTrue(plain.transcript.contains("< hello"), plain.transcript)
        XCTAssertFalse(plain.transcript.contains("\u{1B}[36m") || plain.transcript.contains("\u{1B}[2m"), "NO_COLOR: \(plain.transcript.debugDescription)")
        let again = try String(contentsOfFile: history, encoding: .utf8)
        XCTAssertEqual(again.components(separatedBy: "hello").count - 1, 2, "the second session added to the same history: \(again)")
    }
}
