#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Diagnostics on standard error that never stop the process. Foundation's
/// `FileHandle.write(_:)` traps when the write fails, and it fails with EPIPE once the reader of a
/// pipe has gone (`netstack connect URL 2>&1 | head -1`: SwiftNIO ignores SIGPIPE, so the write
/// returns the error instead of the signal ending the process). Here a write that fails is given
/// up: the text is lost, as it would be on a closed terminal, and the run goes on to its own exit
/// status.
public enum StandardError {
    /// Writes `text` whole (retrying short writes and EINTR); drops what cannot be written.
    public static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            guard var p = bytes.baseAddress else { return }
            var left = bytes.count
            while left > 0 {
                let n = Glibc.write(2, p, left)
                if n > 0 {
                    p += n
                    left -= n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }

    /// `text` and a newline, in one write.
    public static func line(_ text: String) {
        write(text + "\n")
    }
}
