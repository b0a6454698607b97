import Foundation
import XCTest

/// The record plugin's field rules: a session with dynamic fields (examples/chat-bot.lua sends a
/// timestamp in every heartbeat) replays and checks once those fields are ignored or normalized,
/// and JSON messages compare as JSON values.
final class RecordRulesTests: XCTestCase {
    func testTheChatExampleReplaysWithFieldRules() throws {
        let dir = NSTemporaryDirectory() + "netstack-record-rules-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/chat.jsonl"
        func run(_ extra: [String], mode: String = "replay") throws -> (status: Int32, out: String, err: String) {
            try runNetstack(["run", "examples/chat-bot.lua", "--plugin", "record", "-P", "record.mode=\(mode)", "-P", "record.file=\(file)"] + extra,
                            cwd: CLITests.root)
        }
        let recorded = try run([], mode: "record")
        XCTAssertEqual(recorded.status, 0, recorded.err)

        let strict = try run([])
        XCTAssertEqual(strict.status, 1, "the heartbeats' timestamps differ: " + strict.err)
        XCTAssertTrue(strict.err.contains("send #2 differs"), strict.err)
        XCTAssertFalse(strict.err.contains("send #1 differs"), "the join message is the same JSON whatever its key order: " + strict.err)

        let normalized = try run(["-P", "record.normalize=%d+%.%d+"])
        XCTAssertEqual(normalized.status, 0, normalized.err)
        XCTAssertTrue(normalized.err.contains("4 bot message(s) checked, 0 mismatch(es)"), normalized.err)
        XCTAssertTrue(normalized.out.contains("closed\t1000\tbye"), normalized.out)

        let ignored = try run(["-P", "record.ignore=text"])
        XCTAssertEqual(ignored.status, 0, ignored.err)
        let byPath = try run(["-P", "record.ignore=text.nothing,type"])
        XCTAssertEqual(byPath.status, 1, "ignoring other fields does not hide the timestamps: " + byPath.err)

        let rules = dir + "/rules.json"
        try #"{"ignore": ["nonce"], "normalize": ["heartbeat at [%d.]+"]}"#.write(toFile: rules, atomically: true, encoding: .utf8)
        let fromFile = try run(["-P", "record.rules=\(rules)"])
        XCTAssertEqual(fromFile.status, 0, fromFile.err)

        // Check mode (live, against the built-in server) uses the same rules.
        let checked = try run(["-P", "record.normalize=%d+%.%d+"], mode: "check")
        XCTAssertEqual(checked.status, 0, checked.err)
        XCTAssertTrue(checked.err.contains("0 mismatch(es)"), checked.err)

        let badPattern = try run(["-P", "record.normalize=%"])
        XCTAssertNotEqual(badPattern.status, 0)
        XCTAssertTrue(badPattern.err.contains("bad Lua pattern '%'"), badPattern.err)
        try "[1, 2]".write(toFile: rules, atomically: true, encoding: .utf8)
        let badRules = try run(["-P", "record.rules=\(rules)"])
        XCTAssertNotEqual(badRules.status, 0)
        XCTAssertTrue(badRules.err.contains("not a JSON object"), badRules.err)
        try #"{"ignored": ["text"]}"#.write(toFile: rules, atomically: true, encoding: .utf8)
        let misspelled = try run(["-P", "record.rules=\(rules)"])
        XCTAssertTrue(misspelled.err.contains("unknown key 'ignored'"), misspelled.err)
    }
}
