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

    /// The host as written before a port: an IPv6 literal in brackets.
    public var bracketedHost: String { host.contains(":") ? "[\(host)]" : host }

    /// The value of the HTTP `Host` header.
    public var hostHeader: String {
        let defaultPort = isSecure ? 443 : 80
        return (hasExplicitPort || port != defaultPort) ? "\(bracketedHost):\(port)" : bracketedHost
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
        // Every byte is printable ASCII from here on: the rest works on bytes (Character-level
        // String operations cost tens of thousands of instructions per URL).
        func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        func firstIndex(of b: UInt8, in r: Range<Int>) -> Int? { r.first { bytes[$0] == b } }
        let n = bytes.count
        guard let schemeEnd = (0..<max(0, n - 2)).first(where: { bytes[$0] == 0x3A && bytes[$0 + 1] == 0x2F && bytes[$0 + 2] == 0x2F }) else {
            throw fail("missing scheme (expected ws:// or wss://)")
        }
        let scheme = text(0..<schemeEnd).lowercased()
        switch scheme {
        case "ws": isSecure = false
        case "wss": isSecure = true
        default: throw fail("unsupported scheme '\(scheme)' (expected ws or wss)")
        }
        let restStart = schemeEnd + 3
        if firstIndex(of: 0x23, in: restStart..<n) != nil { throw fail("fragments (#...) are not allowed in WebSocket URLs") }
        let authorityEnd = (restStart..<n).first { bytes[$0] == 0x2F || bytes[$0] == 0x3F } ?? n
        let authority = restStart..<authorityEnd
        if firstIndex(of: 0x40, in: authority) != nil { throw fail("user information (user@host) is not supported") }
        if authority.isEmpty { throw fail("missing host") }

        var hostRange: Range<Int>
        var portRange: Range<Int>? = nil
        if bytes[authority.lowerBound] == 0x5B {  // [
            guard let close = firstIndex(of: 0x5D, in: authority) else { throw fail("unterminated IPv6 literal") }
            hostRange = (authority.lowerBound + 1)..<close
            let after = (close + 1)..<authority.upperBound
            if !after.isEmpty {
                guard bytes[after.lowerBound] == 0x3A else { throw fail("unexpected characters after IPv6 literal") }
                portRange = (after.lowerBound + 1)..<after.upperBound
            }
            guard IPAddressSyntax.isIPv6(text(hostRange)) else { throw fail("invalid IPv6 literal '\(text(hostRange))'") }
            hostIsIPLiteral = true
        } else {
            if let colon = firstIndex(of: 0x3A, in: authority) {
                hostRange = authority.lowerBound..<colon
                portRange = (colon + 1)..<authority.upperBound
            } else {
                hostRange = authority
            }
            if hostRange.isEmpty { throw fail("missing host") }
            // `127.0.0.1.` is 127.0.0.1, as URL parsers (WHATWG) read it; a name keeps its dot.
            if bytes[hostRange.upperBound - 1] == 0x2E, IPAddressSyntax.isIPv4(bytes: bytes[hostRange.lowerBound..<(hostRange.upperBound - 1)]) {
                hostRange = hostRange.lowerBound..<(hostRange.upperBound - 1)
            }
            let hostBytes = bytes[hostRange]
            if let problem = IPAddressSyntax.hostProblem(bytes: hostBytes, text: { text(hostRange) }) { throw fail(problem) }
            hostIsIPLiteral = IPAddressSyntax.isIPv4(bytes: hostBytes)
        }
        host = text(hostRange)
        // RFC 3986 3.2.3: `port = *DIGIT`; an empty port (`ws://host:/`) is the scheme's default.
        if let portRange = portRange, !portRange.isEmpty {
            var p = 0
            let digits = bytes[portRange]
            guard digits.count <= 5, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw fail("invalid port '\(text(portRange))' (expected 1-65535)")
            }
            for d in digits { p = p * 10 + Int(d - 0x30) }
            guard (1...65535).contains(p) else { throw fail("invalid port '\(text(portRange))' (expected 1-65535)") }
            port = p
            hasExplicitPort = true
        } else {
            port = isSecure ? 443 : 80
            hasExplicitPort = false
        }
        if authorityEnd == n {
            requestTarget = "/"
        } else if bytes[authorityEnd] == 0x3F {
            requestTarget = "/" + text(authorityEnd..<n)
        } else {
            requestTarget = text(authorityEnd..<n)
        }
    }
}

/// Syntax checks for host names and IP literals (no resolution).
enum IPAddressSyntax {
    static func isIPv4<S: StringProtocol>(_ s: S) -> Bool { isIPv4(bytes: Array(s.utf8)[...]) }

    /// Four decimal octets 0-255, no leading zeros (no octal-looking forms).
    static func isIPv4(bytes: ArraySlice<UInt8>) -> Bool {
        var parts = 0, value = 0, digits = 0, leadingZero = false
        for b in bytes {
            if b == 0x2E {
                guard digits > 0 else { return false }
                parts += 1
                value = 0; digits = 0; leadingZero = false
                continue
            }
            guard b >= 0x30 && b <= 0x39, digits < 3 else { return false }
            if digits == 1 && leadingZero { return false }
            if digits == 0 && b == 0x30 { leadingZero = true }
            value = value * 10 + Int(b - 0x30)
            digits += 1
            if value > 255 { return false }
        }
        return digits > 0 && parts == 3
    }

    /// WHATWG URL's "ends in a number": the last label (before one trailing dot) is decimal
    /// digits, or `0x` followed by hex digits (none too), so the host reads as an IPv4 address.
    static func endsInANumber(bytes: ArraySlice<UInt8>) -> Bool {
        var h = bytes
        if h.last == 0x2E { h = h.dropLast() }
        let label = h[((h.lastIndex(of: 0x2E)).map { $0 + 1 } ?? h.startIndex)...]
        guard !label.isEmpty else { return false }
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        if label.allSatisfy(isDigit) { return true }
        guard label.count >= 2, label.first == 0x30, label.dropFirst().first == 0x78 || label.dropFirst().first == 0x58 else { return false }
        return label.dropFirst(2).allSatisfy { isDigit($0) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) }
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

    static func isHostName<S: StringProtocol>(_ s: S) -> Bool { isHostName(bytes: Array(s.utf8)[...]) }

    /// Why `host` (a name, dotted-decimal IPv4 or an IPv6 literal without brackets) cannot be
    /// handed to the resolver, or nil when it can: the rules of WebSocket URLs' hosts, so that
    /// `getaddrinfo` never reads `0x7f000001` or `127.1` as an address.
    static func hostProblem(_ host: String) -> String? {
        if host.utf8.contains(0x3A) { return isIPv6(host) ? nil : "invalid IPv6 address '\(host)'" }
        return hostProblem(bytes: Array(host.utf8)[...], text: { host })
    }

    /// The same for a name or IPv4 address (no IPv6 literal); `text` spells it for the message.
    static func hostProblem(bytes: ArraySlice<UInt8>, text: () -> String) -> String? {
        if bytes.isEmpty { return "missing host" }
        if isIPv4(bytes: bytes) { return nil }
        guard isHostName(bytes: bytes) else { return "invalid host name '\(text())'" }
        // A name whose last label is a number is an IPv4 address to URL parsers (WHATWG) and to
        // getaddrinfo (`0x7f000001`, `127.1`): only the dotted-decimal form is taken.
        if endsInANumber(bytes: bytes) { return "invalid IPv4 address '\(text())' (four decimal numbers 0-255 expected)" }
        return nil
    }

    /// Labels of letters, digits, '-' and '_' (1-63 bytes, no '-' at either end), 253 bytes at
    /// most, one trailing dot allowed.
    static func isHostName(bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count <= 253 else { return false }
        var h = bytes
        if h.last == 0x2E { h = h.dropLast() }
        if h.isEmpty { return false }
        var labelLength = 0
        var previous: UInt8 = 0x2E
        for c in h {
            if c == 0x2E {
                guard labelLength > 0, previous != 0x2D else { return false }
                labelLength = 0
            } else {
                let ok = (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x5F
                guard ok, !(labelLength == 0 && c == 0x2D) else { return false }
                labelLength += 1
                if labelLength > 63 { return false }
            }
            previous = c
        }
        return labelLength > 0 && previous != 0x2D
    }
}
