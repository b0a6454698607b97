import Foundation

/// A parsed `ws://` or `wss://` URL.
///
/// Parsing is strict on purpose: anything a server could read two ways is rejected with
/// `WEBSOCKET_CONNECTION_PARSE_URL_ERROR` instead of being "repaired". Path and query are kept
/// byte for byte (no percent-decoding or normalisation); a fragment is an error (RFC 6455 §3).
public struct WebSocketURL: Hashable, Sendable, CustomStringConvertible {
    /// URLs longer than this are rejected (the original rejects 8196 and more characters).
    public static let maximumLength = 8192

    public var isSecure: Bool
    /// Host as written, without brackets for IPv6 literals.
    public var host: String
    public var port: Int
    /// Path plus query exactly as given ("/" when the URL has none).
    public var requestTarget: String
    /// True when `host` is an IPv4 or IPv6 literal (no SNI is sent for those).
    public var hostIsIPLiteral: Bool
    /// Whether the port was written explicitly (then it goes into the Host header).
    public var hasExplicitPort: Bool

    public var scheme: String { isSecure ? "wss" : "ws" }

    /// The value of the HTTP `Host` header.
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        let defaultPort = isSecure ? 443 : 80
        return (hasExplicitPort || port != defaultPort) ? "\(h):\(port)" : h
    }

    public var description: String { "\(scheme)://\(hostHeader)\(requestTarget)" }

    public init(parsing string: String) throws {
        func fail(_ why: String) -> WebSocketError {
            WebSocketError(.connectionParseURLError, "invalid URL: \(why)")
        }
        let bytes = Array(string.utf8)
        if bytes.isEmpty { throw fail("empty") }
        if bytes.count > Self.maximumLength {
            throw fail("\(bytes.count) bytes, over the limit of \(Self.maximumLength)")
        }
        for b in bytes where b <= 0x20 || b >= 0x7F {
            if b >= 0x7F { throw fail("non-ASCII byte 0x\(String(b, radix: 16)); percent-encode it") }
            throw fail(b == 0x20 ? "contains a space" : "contains a control character")
        }
        guard let schemeEnd = string.range(of: "://") else {
            throw fail("missing scheme (expected ws:// or wss://)")
        }
        let scheme = string[..<schemeEnd.lowerBound].lowercased()
        switch scheme {
        case "ws": isSecure = false
        case "wss": isSecure = true
        default: throw fail("unsupported scheme '\(scheme)' (expected ws or wss)")
        }
        var rest = string[schemeEnd.upperBound...]
        if rest.contains("#") { throw fail("fragments (#...) are not allowed in WebSocket URLs") }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        rest = rest[authorityEnd...]
        if authority.contains("@") { throw fail("user information (user@host) is not supported") }
        if authority.isEmpty { throw fail("missing host") }

        var hostPart: Substring
        var portPart: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("unterminated IPv6 literal") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected characters after IPv6 literal") }
                portPart = after.dropFirst()
            }
            guard IPAddressSyntax.isIPv6(hostPart) else { throw fail("invalid IPv6 literal '\(hostPart)'") }
            hostIsIPLiteral = true
        } else {
            if let colon = authority.firstIndex(of: ":") {
                hostPart = authority[..<colon]
                portPart = authority[authority.index(after: colon)...]
            } else {
                hostPart = authority
            }
            if hostPart.isEmpty { throw fail("missing host") }
            if IPAddressSyntax.isIPv4(hostPart) {
                hostIsIPLiteral = true
            } else {
                hostIsIPLiteral = false
                guard IPAddressSyntax.isHostName(hostPart) else { throw fail("invalid host name '\(hostPart)'") }
                if hostPart.allSatisfy({ $0.isNumber || $0 == "." }) {
                    throw fail("invalid IPv4 address '\(hostPart)'")
                }
            }
        }
        host = String(hostPart)
        if let portPart = portPart {
            guard !portPart.isEmpty, portPart.count <= 5, portPart.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let p = Int(portPart), (1...65535).contains(p) else {
                throw fail("invalid port '\(portPart)' (expected 1-65535)")
            }
            port = p
            hasExplicitPort = true
        } else {
            port = isSecure ? 443 : 80
            hasExplicitPort = false
        }
        if rest.isEmpty {
            requestTarget = "/"
        } else if rest.hasPrefix("?") {
            requestTarget = "/" + rest
        } else {
            requestTarget = String(rest)
        }
    }
}

/// Syntax checks for host names and IP literals (no resolution).
enum IPAddressSyntax {
    static func isIPv4<S: StringProtocol>(_ s: S) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(p), v <= 255 else {
                return false
            }
            if p.count > 1 && p.hasPrefix("0") { return false }  // no octal-looking forms
        }
        return true
    }

    static func isIPv6<S: StringProtocol>(_ s: S) -> Bool {
        // Zone identifiers (%eth0) are not accepted.
        var str = String(s)
        if str.isEmpty || str.contains("%") { return false }
        var groupsBudget = 8
        if let lastColon = str.lastIndex(of: ":"), str[lastColon...].contains(".") {
            let v4 = str[str.index(after: lastColon)...]
            guard isIPv4(v4) else { return false }
            str = String(str[...lastColon]) + "0:0"
            groupsBudget = 8
        }
        let doubleColonCount = str.components(separatedBy: "::").count - 1
        if doubleColonCount > 1 { return false }
        let halves = doubleColonCount == 1 ? str.components(separatedBy: "::") : [str]
        var total = 0
        for half in halves where !half.isEmpty {
            let groups = half.split(separator: ":", omittingEmptySubsequences: false)
            for g in groups {
                guard !g.isEmpty, g.count <= 4, g.allSatisfy({ $0.isHexDigit }) else { return false }
            }
            total += groups.count
        }
        return doubleColonCount == 1 ? total < groupsBudget : total == groupsBudget
    }

    static func isHostName<S: StringProtocol>(_ s: S) -> Bool {
        guard s.utf8.count <= 253 else { return false }
        var h = Substring(s)
        if h.hasSuffix(".") { h = h.dropLast() }
        if h.isEmpty { return false }
        for label in h.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63 else { return false }
            for c in label.utf8 {
                let ok = (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
                if !ok { return false }
            }
            if label.hasPrefix("-") || label.hasSuffix("-") { return false }
        }
        return true
    }
}
