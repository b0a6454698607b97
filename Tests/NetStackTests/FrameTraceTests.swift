import Foundation
@testable import NetStack
import XCTest

/// The `-vv` frame lines as values, and `run -vv` / `connect -vv` printing them.
final class FrameTraceTests: XCTestCase {
    func line(sent: Bool = false, fin: Bool = true, rsv: UInt8 = 0, _ opcode: FrameOpcode, masked: Bool = false, _ payload: [UInt8]) -> String {
        payload.withUnsafeBytes { FrameTrace.line(sent: sent, fin: fin, rsv: rsv, opcode: opcode, masked: masked, payload: $0) }
    }

    func testLines() {
        XCTAssertEqual(line(.text, Array("hello world".utf8)), "< FIN text 11 bytes \"hello world\"")
        XCTAssertEqual(line(sent: true, .text, masked: true, Array("a\"b\\c\n\t\r\u{1}".utf8)), "> FIN text 9 bytes masked \"a\\\"b\\\\c\\n\\t\\r\\x01\"")
        XCTAssertEqual(line(.text, Array("héllo €".utf8)), "< FIN text 10 bytes \"héllo €\"", "valid UTF-8 shown as it is")
        XCTAssertEqual(line(.text, [0x41, 0xC3]), "< FIN text 2 bytes \"A\\xc3\"", "a cut sequence escaped")
        XCTAssertEqual(line(.text, Array("\u{1B}[2J\u{85}".utf8)), "< FIN text 6 bytes \"\\x1b[2J\\xc2\\x85\"", "escape sequences and C1 controls escaped")
        XCTAssertEqual(line(fin: false, .binary, [0, 1, 0xFF]), "<     binary 3 bytes 0001ff")
        XCTAssertEqual(line(rsv: 0b100, .text, [0xCA, 0x48]), "< FIN RSV1 text 2 bytes ca48", "compressed payloads as hex")
        XCTAssertEqual(line(rsv: 0b011, .binary, []), "< FIN RSV2 RSV3 binary 0 bytes")
        XCTAssertEqual(line(.close, [0x03, 0xE8] + Array("bye".utf8)), "< FIN close 5 bytes 03e8 \"bye\"")
        XCTAssertEqual(line(.close, [0x03, 0xE8]), "< FIN close 2 bytes 03e8")
        XCTAssertEqual(line(FrameOpcode(rawValue: 0xB), [7]), "< FIN 0xb 1 bytes 07")
        XCTAssertEqual(line(.continuation, Array("more".utf8)), "< FIN continuation 4 bytes \"more\"")
        let long = [UInt8](repeating: 0x61, count: 100)
        XCTAssertEqual(line(.text, long), "< FIN text 100 bytes \"" + String(repeating: "a", count: 48) + "\"...(100 bytes)")
        XCTAssertEqual(line(.binary, [UInt8](repeating: 0xAB, count: 60)), "< FIN binary 60 bytes " + String(repeating: "ab", count: 48) + "...")
    }

    func testRunAndConnectPrintFrames() throws {
        let script = NSTemporaryDirectory() + "frames-\(getpid()).lua"
        defer { try? FileManager.default.removeItem(atPath: script) }
        try """
        function onOpen(c) netstack.OH_WebSocketClient_Send(c, "hi") end
        function onMessage(c) netstack.OH_WebSocketClient_Close(c, { code = 1000, reason = "bye" }) end
        function onClose() end
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let url = Servers.plain.url + "/echo?deflate=0"
        let r = try runNetstack(["run", script, "--url", url, "-vv"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("[client 1] > FIN text 2 bytes masked \"hi\""), r.err)
        XCTAssertTrue(r.err.contains("[client 1] < FIN text 2 bytes \"hi\""), r.err)
        XCTAssertTrue(r.err.contains("[client 1] > FIN close 5 bytes masked 03e8 \"bye\""), r.err)
        XCTAssertTrue(r.err.contains("[client 1] < FIN close 5 bytes 03e8 \"bye\""), r.err)
        let one = try runNetstack(["run", script, "--url", url, "-v"])
        XCTAssertFalse(one.err.contains("FIN"), "-v traces messages, not frames: " + one.err)
        XCTAssertTrue(one.err.contains("> text message, 2 bytes"), one.err)

        let c = try runNetstack(["connect", url, "-x", "yo", "-w", "0.5", "-vv"])
        XCTAssertTrue(c.err.contains("> FIN text 2 bytes masked \"yo\""), c.err)
        XCTAssertTrue(c.err.contains("< FIN text 2 bytes \"yo\""), c.err)
    }
}

/// `connect`'s hex dump of binary messages on a terminal, as a value.
final class HexDumpTests: XCTestCase {
    func testLines() {
        XCTAssertEqual(HexDump.lines(Array("Hello".utf8) + [0, 0xFF]),
                       ["00000000  48 65 6c 6c 6f 00 ff                              |Hello..|"])
        let twenty = (0..<20).map { UInt8($0 + 0x41) }
        XCTAssertEqual(HexDump.lines(twenty), [
            "00000000  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|",
            "00000010  51 52 53 54                                       |QRST|",
        ])
        let big = [UInt8](repeating: 0x2E, count: 300)
        let lines = HexDump.lines(big)
        XCTAssertEqual(lines.count, 17)
        XCTAssertEqual(lines.last, "… 44 more bytes")
        XCTAssertEqual(HexDump.lines([]), [])
    }
}
