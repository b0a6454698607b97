import Foundation

/// A file's bytes, read up to a limit. Certificate files, CA bundles and CRLs are named by users,
/// and a name may be a folder, a device that never ends (`/dev/zero`) or a file of gigabytes:
/// each is refused with its reason instead of a read without end.
public enum BoundedFileRead {
    /// Certificates, bundles and CRLs: 64 MiB (a system CA bundle is about 200 KiB).
    public static let certificateLimit = 64 << 20

    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// Not readable (`reason` from the system, e.g. "Is a directory").
        case unreadable(path: String, reason: String)
        case tooLarge(path: String, limit: Int)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): return "cannot read \(Self.named(path)): \(reason)"
            case .tooLarge(let path, let limit): return "\(Self.named(path)) is larger than \(limit >> 20) MiB"
            }
        }

        /// `'path'`, or "standard input" for `-`.
        private static func named(_ path: String) -> String {
            path == "-" ? "standard input" : "'\(TerminalText.sanitize(path, keepNewlines: false))'"
        }
    }

    /// As `bytes(atPath:limit:)`, with `-` meaning standard input (as `openssl verify -` and
    /// `kubectl ... | netstack merge -` use it); failures then name "standard input".
    public static func bytes(atPathOrStandardInput path: String, limit: Int = certificateLimit) -> Result<[UInt8], Failure> {
        guard path == "-" else { return bytes(atPath: path, limit: limit) }
        return bytes(atPath: "/dev/stdin", limit: limit).mapError { failure in
            switch failure {
            case .unreadable(_, let reason): return .unreadable(path: path, reason: reason)
            case .tooLarge(_, let limit): return .tooLarge(path: path, limit: limit)
            }
        }
    }

    /// The bytes of `path`, at most `limit` of them (more is `.tooLarge`).
    public static func bytes(atPath path: String, limit: Int = certificateLimit) -> Result<[UInt8], Failure> {
        guard let file = fopen(path, "rb") else { return .failure(.unreadable(path: path, reason: String(cString: strerror(errno)))) }
        defer { fclose(file) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n == 0 { break }
            if out.count + n > limit { return .failure(.tooLarge(path: path, limit: limit)) }
            out.append(contentsOf: chunk[0..<n])
        }
        if ferror(file) != 0 { return .failure(.unreadable(path: path, reason: String(cString: strerror(errno)))) }
        return .success(out)
    }
}
