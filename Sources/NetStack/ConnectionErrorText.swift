import NIOCore
import NIOPosix
import NIOSSL

/// The words of the connection's errors: timeouts, connect failures and I/O errors, as they
/// appear in `onError` messages and close reasons.
enum ConnectionErrorText {

    static func describe(_ t: TimeAmount) -> String {
        let ms = t.nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }

    static func describeConnectError(_ error: Error, url: WebSocketURL) -> String {
        describeConnectError(error, host: url.host, port: url.port)
    }

    static func describeConnectError(_ error: Error, host: String, port: Int) -> String {
        let target = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        if let e = error as? NIOConnectionError {
            if e.connectionErrors.isEmpty, e.dnsAError != nil || e.dnsAAAAError != nil {
                return "DNS lookup failed for '\(host)': \(e.dnsAError ?? e.dnsAAAAError!)"
            }
            if let first = e.connectionErrors.first {
                return "could not connect to \(target) (\(first.target)): \(describeIOError(first.error))"
            }
            return "could not connect to \(target): \(e)"
        }
        if let e = error as? ChannelError, case .connectTimeout(let t) = e {
            return "connection to \(target) timed out after \(describe(t))"
        }
        return "could not connect to \(target): \(describeIOError(error))"
    }

    static func describeIOError(_ error: Error) -> String {
        if let e = error as? IOError {
            switch e.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ECONNRESET: return "connection reset by peer"
            case ETIMEDOUT: return "connection timed out"
            case ENETUNREACH: return "network unreachable"
            case EHOSTUNREACH: return "host unreachable"
            case EMFILE: return "too many open files (the process's descriptor limit, ulimit -n)"
            case ENFILE: return "too many open files in the system"
            default: return "\(e)"
            }
        }
        if let e = error as? NIOSSLError {
            return "TLS: \(e)"
        }
        if let e = error as? BoringSSLError {
            return "TLS: \(e)"
        }
        if let e = error as? NIOSSLExtraError {
            if e == .failedToValidateHostname { return "TLS: the certificate does not match the host name (\(e))" }
            return "TLS: \(e)"
        }
        return "\(error)"
    }
}
