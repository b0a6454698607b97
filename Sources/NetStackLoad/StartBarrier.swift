import NetStack

/// What a segment waits for before its VUs start (`--start-barrier`): a file that appears (on a
/// volume the segments share), or an `http://` or `https://` URL that answers 200 (any
/// coordinator the segments can reach, or an object store's signed URL, for machines that share
/// no volume).
public enum StartBarrier: Sendable, Equatable, CustomStringConvertible {
    case file(String)
    case url(String)

    /// How often a file is looked for.
    public static let filePollMilliseconds: Int64 = 20
    /// How long after the start of one request the next one starts: at most 4 requests a second
    /// per segment, so a hundred segments waiting on one coordinator send it 400 a second.
    public static let urlPollMilliseconds: Int64 = 250
    /// The longest one request may take before it counts as not answered.
    public static let urlRequestMilliseconds: Int64 = 2000
    /// The largest 200 body read (the body is not used; a larger one counts as no answer).
    public static let urlMaxBytes = 1 << 20

    /// `value` as given to `--start-barrier`: an `http://` or `https://` URL (the scheme in any
    /// case), else a file path. A URL whose host, port or form the URL rules of connections
    /// refuse (user information, a fragment, bytes outside printable ASCII) is refused.
    public init(parsing value: String) throws(LoadOptionError) {
        guard !value.isEmpty else { throw LoadOptionError("empty path") }
        let lower = value.prefix(8).lowercased()
        let tls = lower.hasPrefix("https://")
        guard tls || lower.hasPrefix("http://") else {
            self = .file(value)
            return
        }
        do {
            _ = try WebSocketURL(parsing: (tls ? "wss://" : "ws://") + value.dropFirst(tls ? "https://".count : "http://".count))
        } catch let e as WebSocketError {
            let why = e.message.hasPrefix("invalid URL: ") ? String(e.message.dropFirst("invalid URL: ".count)) : e.message
            throw LoadOptionError("'\(value)' is not a usable \(tls ? "https" : "http") URL: \(why)")
        } catch {
            throw LoadOptionError("'\(value)' is not a usable \(tls ? "https" : "http") URL")
        }
        self = .url(value)
    }

    public var description: String {
        switch self {
        case .file(let path): return "the barrier file '\(path)'"
        case .url(let url): return "the barrier URL '\(url)'"
        }
    }

    /// What waiting past the timeout says, with the last answer of a URL.
    public func timedOut(after timeout: LoadDuration, lastAnswer: String?) -> String {
        switch self {
        case .file: return "\(self) did not appear within \(timeout)"
        case .url: return "\(self) did not answer 200 within \(timeout)" + (lastAnswer.map { " (last answer: \($0))" } ?? "")
        }
    }
}
