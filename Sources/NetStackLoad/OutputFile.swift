import Foundation

/// A file a run writes (`--out`, `--summary-export`, `--report`, a merge's export): opened where
/// the path points, created or truncated, so a FIFO, a device or a symbolic link's target is
/// written and never replaced by a new file (an atomic write renames a temporary file over the
/// path: as root it replaced /dev/full), and every write is checked, so a full disk is an error
/// with its reason instead of a silently short file.
public final class OutputFile {
    public let path: String
    private let fd: Int32
    /// The first write that failed, in words (later writes are skipped).
    public private(set) var failure: String?

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LoadOptionError("cannot create '\(path)': \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// Appends `bytes`; false (and `failure` set) when they could not all be written.
    @discardableResult
    public func write(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.withContiguousStorageIfAvailable { write(UnsafeRawBufferPointer($0)) } ?? Array(bytes).withUnsafeBytes { write($0) }
    }

    @discardableResult
    public func write(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    private func write(_ buffer: UnsafeRawBufferPointer) -> Bool {
        guard failure == nil else { return false }
        var offset = 0
        while offset < buffer.count {
            let n = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = "cannot write '\(path)': \(String(cString: strerror(errno)))"
                return false
            }
            offset += n
        }
        return true
    }

    /// Creates or truncates `path` and writes `bytes`; the error says why it could not.
    public static func write(_ bytes: some Collection<UInt8>, to path: String) throws {
        let file = try OutputFile(path: path)
        if !file.write(bytes) { throw LoadOptionError(file.failure!) }
    }
}
