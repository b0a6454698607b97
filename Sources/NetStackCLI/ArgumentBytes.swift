import Foundation
import NetStack

/// What the process's arguments were as bytes. Swift decodes `argv` as UTF-8 and puts U+FFFD in
/// place of bytes that are not, so a parsed value no longer says what was given; a value that
/// goes on the wire as it is (a header) must not be sent altered.
enum ArgumentBytes {
    /// Whether `value`, as parsed, came from an argument whose bytes are not valid UTF-8: the
    /// argument itself (`-H VALUE`) or its end (`--header=VALUE`, `-HVALUE`).
    static func wasAltered(_ value: String) -> Bool {
        guard value.contains("\u{FFFD}") else { return false }
        for i in 0..<Int(CommandLine.argc) {
            guard let p = CommandLine.unsafeArgv[i] else { continue }
            let raw = UnsafeRawBufferPointer(start: p, count: strlen(p))
            if !UTF8Validator.isValid(raw), String(decoding: raw, as: UTF8.self).hasSuffix(value) { return true }
        }
        return false
    }

    /// The refusal of a `--header` whose bytes are not UTF-8 (`run` and `connect`).
    static func alteredHeader(_ h: String) -> String {
        "--header '\(TerminalText.sanitize(h, keepNewlines: false))' is not valid UTF-8 (its bytes would be sent altered)"
    }

    /// The bytes of the arguments that Swift read as `values`, found in order from the end of the
    /// command line (the script's arguments come after its name, between options or after `--`);
    /// empty when they are all valid UTF-8 or cannot be found.
    static func trailing(_ values: [String]) -> [[UInt8]] {
        let argc = Int(CommandLine.argc)
        guard !values.isEmpty, values.count < argc, values.contains(where: { $0.contains("\u{FFFD}") }) else { return [] }
        var out: [[UInt8]] = []
        var k = values.count - 1
        var i = argc - 1
        while k >= 0, i > 0 {
            if let p = CommandLine.unsafeArgv[i] {
                let raw = [UInt8](UnsafeRawBufferPointer(start: p, count: strlen(p)))
                if String(decoding: raw, as: UTF8.self) == values[k] {
                    out.append(raw)
                    k -= 1
                }
            }
            i -= 1
        }
        return k < 0 ? out.reversed() : []
    }
}
