import Foundation

/// The lines of a descriptor (standard input for `netstack connect`), each at most `limit` bytes.
/// A longer line is skipped to its end and reported as `.tooLong`, so that input without
/// newlines (`< /dev/zero`, a binary file) cannot grow memory without end. Lines end at "\n" or
/// "\r\n" (stripped); invalid UTF-8 is repaired as `readLine` repairs it; the last line may
/// lack its newline.
final class BoundedLineReader {
    enum Line: Equatable {
        case line(String)
        /// A line of `bytes` bytes (counted to its end), over the limit: nothing of it is kept.
        case tooLong(bytes: Int)
    }

    let limit: Int
    private let fd: Int32
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var atEOF = false

    init(fd: Int32 = STDIN_FILENO, limit: Int, chunk: Int = 65_536) {
        self.fd = fd
        self.limit = max(0, limit)
        buffer = [UInt8](repeating: 0, count: max(1, chunk))
    }

    /// The next line, or nil at the end of the input.
    func next() -> Line? {
        var line: [UInt8] = []
        var over = 0        // the bytes of a line past the limit, counted but not kept
        var sawBytes = false
        func take(_ range: Range<Int>) {
            guard !range.isEmpty else { return }
            sawBytes = true
            if over > 0 {
                over += range.count
            } else if line.count + range.count > limit {
                over = line.count + range.count
                line = []
            } else {
                line.append(contentsOf: buffer[range])
            }
        }
        while true {
            if start == end {
                if atEOF { break }
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { atEOF = true; break }
                start = 0
                end = n
            }
            if let newline = newlineIndex() {
                take(start..<newline)
                start = newline + 1
                return finish(line, over: over, newline: true)
            }
            take(start..<end)
            start = end
        }
        return sawBytes ? finish(line, over: over, newline: false) : nil
    }

    /// The first "\n" in `start..<end` (memchr: input may be hundreds of megabytes).
    private func newlineIndex() -> Int? {
        buffer.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, let hit = memchr(base + start, 0x0A, end - start) else { return nil }
            return base.distance(to: UnsafeRawPointer(hit))
        }
    }

    private func finish(_ line: [UInt8], over: Int, newline: Bool) -> Line {
        if over > 0 { return .tooLong(bytes: over) }
        var bytes = line[...]
        if newline, bytes.last == 0x0D { bytes = bytes.dropLast() }
        return .line(String(decoding: bytes, as: UTF8.self))
    }
}
