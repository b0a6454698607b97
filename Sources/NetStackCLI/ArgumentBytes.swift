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
}
