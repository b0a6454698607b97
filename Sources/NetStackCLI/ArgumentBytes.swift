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

    /// The bytes of the last `values.count` arguments, when those are `values` as Swift read them
    /// (the script's arguments after `--` are the command line's last); else empty.
    static func trailing(_ values: [String]) -> [[UInt8]] {
        let argc = Int(CommandLine.argc)
        guard !values.isEmpty, values.count < argc, values.contains(where: { $0.contains("\u{FFFD}") }) else { return [] }
        var out: [[UInt8]] = []
        for (k, i) in ((argc - values.count)..<argc).enumerated() {
            guard let p = CommandLine.unsafeArgv[i] else { return [] }
            let raw = [UInt8](UnsafeRawBufferPointer(start: p, count: strlen(p)))
            guard String(decoding: raw, as: UTF8.self) == values[k] else { return [] }
            out.append(raw)
        }
        return out
    }
}
