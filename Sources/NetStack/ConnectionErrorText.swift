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

    /// The resolver's own words (getaddrinfo's `gai_strerror`, e.g. "Name or service not known"),
    /// without the library's type name and the host and port the message already gives.
    static func describeDNSError(_ error: Error) -> String {
        if let e = error as? SocketAddressError.UnknownHost, !e.errorDescription.isEmpty { return e.errorDescription }
        return "\(error)"
    }

    static func describeConnectError(_ error: Error, host: String, port: Int) -> String {
        let target = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        if let e = error as? NIOConnectionError {
            if e.connectionErrors.isEmpty, e.dnsAError != nil || e.dnsAAAAError != nil {
                return "DNS lookup failed for '\(host)': \(describeDNSError(e.dnsAError ?? e.dnsAAAAError!))"
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
            switch e {
            case .handshakeFailed(let b): return "TLS handshake failed: \(describeTLS(b))"
            case .shutdownFailed(let b): return "TLS shutdown failed: \(describeTLS(b))"
            case .uncleanShutdown: return "TLS: the connection ended without a TLS close_notify"
            case .readInInvalidTLSState: return "TLS: data arrived after the TLS session ended"
            default: return "TLS: \(e)"
            }
        }
        if let e = error as? BoringSSLError {
            return "TLS: \(describeTLS(e))"
        }
        if let e = error as? NIOSSLExtraError {
            if e == .failedToValidateHostname { return "TLS: the certificate does not match the host name (\(e))" }
            return "TLS: \(e)"
        }
        return "\(error)"
    }

    /// BoringSSL's errors in words: the reason of each entry of its error stack, such as "the
    /// server sent the TLS alert 'protocol version' (TLSV1_ALERT_PROTOCOL_VERSION)" or "decryption
    /// failed or bad record mac (DECRYPTION_FAILED_OR_BAD_RECORD_MAC)". SwiftNIO SSL's own
    /// descriptions also carry the source path and line of BoringSSL's code that raised them.
    static func describeTLS(_ error: BoringSSLError) -> String {
        switch error {
        case .sslError(let stack), .unknownError(let stack), .invalidSNIName(let stack), .failedToSetALPN(let stack):
            let reasons = stack.map { tlsReason("\($0)") }
            var seen = Set<String>()
            let distinct = reasons.filter { seen.insert($0).inserted }
            return distinct.isEmpty ? "\(error)" : distinct.joined(separator: "; ")
        case .syscallError:
            return "the connection failed during TLS"
        case .zeroReturn:
            return "the server ended the TLS session"
        default:
            return "\(error)"
        }
    }

    /// One entry's reason, from its description ("Error: CODE error:HEX:LIB:FUNC:REASON at FILE:LINE",
    /// or a phrase of SwiftNIO SSL's own).
    static func tlsReason(_ description: String) -> String {
        guard let start = description.range(of: "error:") else { return description }
        var rest = description[start.upperBound...]
        if let at = rest.range(of: " at ") { rest = rest[..<at.lowerBound] }
        guard let name = rest.split(separator: ":").last.map(String.init), !name.isEmpty,
              name.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) else { return String(rest) }
        for prefix in ["TLSV1_ALERT_", "SSLV3_ALERT_", "TLSV13_ALERT_"] where name.hasPrefix(prefix) {
            let alert = name.dropFirst(prefix.count).lowercased().replacingOccurrences(of: "_", with: " ")
            return "the server sent the TLS alert '\(alert)' (\(name))"
        }
        return "\(name.lowercased().replacingOccurrences(of: "_", with: " ")) (\(name))"
    }
}
