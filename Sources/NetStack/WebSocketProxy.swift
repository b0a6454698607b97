/// A proxy a connection goes through: HTTP CONNECT or SOCKS5, written as curl writes it.
///
/// `http://[user:pass@]host[:port]` tunnels with HTTP CONNECT (Basic authentication when a user is
/// given); `socks5://` speaks SOCKS5 (RFC 1928) with the target's address resolved here, and
/// `socks5h://` hands the host name to the proxy to resolve; both authenticate with user and
/// password (RFC 1929) when a user is given. A string without a scheme is an HTTP proxy, and a
/// missing port is 1080, as in curl. User and password are percent-decoded. The tunnel carries
/// ws and wss alike: TLS, SNI and the certificate check are end to end with the real host.
///
/// Not supported (a parse error says so): `https://` proxies (TLS to the proxy itself), SOCKS4.
public struct WebSocketProxy: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        /// HTTP CONNECT.
        case http
        /// SOCKS5, the target's address resolved locally.
        case socks5
        /// SOCKS5, the target's host name resolved by the proxy.
        case socks5h
    }

    /// Ports as curl assumes them when the proxy string has none.
    public static let defaultPort = 1080
    /// RFC 1929 caps user and password at 255 bytes each; the same cap holds for HTTP here.
    public static let maximumCredentialLength = 255

    public var kind: Kind
    /// Host as written, without brackets for IPv6 literals.
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?

    public init(kind: Kind, host: String, port: Int = WebSocketProxy.defaultPort, username: String? = nil, password: String? = nil) {
        self.kind = kind
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// The proxy as a URL, the password hidden (for messages and logs).
    public var description: String {
        let user = username.map { "\($0):***@" } ?? ""
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return "\(kind.rawValue)://\(user)\(bracketed):\(port)"
    }

    /// "host:port" of the proxy, bracketed for IPv6, as in error messages.
    var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses a proxy URL. Errors are `WEBSOCKET_CONNECTION_PARSE_URL_ERROR` with the reason.
    public init(parsing string: String) throws {
        func fail(_ why: String) -> WebSocketError {
            WebSocketError(.connectionParseURLError, "invalid proxy URL: \(why)")
        }
        if string.isEmpty { throw fail("empty") }
        if string.utf8.count > WebSocketURL.maximumLength { throw fail("over \(WebSocketURL.maximumLength) bytes") }
        if string.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) {
            throw fail("contains a space, a control character or a non-ASCII byte")
        }
        var rest = Substring(string)
        if let range = rest.range(of: "://") {
            let scheme = rest[..<range.lowerBound].lowercased()
            switch scheme {
            case "http": kind = .http
            case "socks5": kind = .socks5
            case "socks5h": kind = .socks5h
            case "https": throw fail("https:// proxies (TLS to the proxy) are not supported; use http://")
            case "socks4", "socks4a": throw fail("SOCKS4 is not supported; use socks5:// or socks5h://")
            default: throw fail("unknown scheme '\(scheme)' (expected http://, socks5:// or socks5h://)")
            }
            rest = rest[range.upperBound...]
        } else {
            kind = .http
        }
        // A trailing "/" (curl accepts "http://proxy:3128/") and nothing after it.
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...] == "/" else { throw fail("a proxy URL has no path") }
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = Self.percentDecoded(parts[0]) else { throw fail("bad percent-encoding in the user name") }
            guard let pass = parts.count > 1 ? Self.percentDecoded(parts[1]) : "" else { throw fail("bad percent-encoding in the password") }
            if user.isEmpty { throw fail("empty user name before '@'") }
            // RFC 7617 §2: no control characters in either (and none reach logs or messages).
            if (user + pass).unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw fail("a control character in the user name or password")
            }
            if kind == .http, user.contains(":") { throw fail("a user name for HTTP Basic authentication cannot contain ':' (RFC 7617)") }
            if user.utf8.count > Self.maximumCredentialLength || pass.utf8.count > Self.maximumCredentialLength {
                throw fail("user name or password over \(Self.maximumCredentialLength) bytes")
            }
            username = user
            password = pass
        } else {
            username = nil
            password = nil
        }
        // Host and port, the same rules as a WebSocket URL's authority.
        let hostPart: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw fail("unclosed '[' in the host") }
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected text after ']'") }
                portText = after.dropFirst()
            }
            guard hostPart.contains(":") else { throw fail("brackets hold an IPv6 address only") }
        } else if let colon = rest.lastIndex(of: ":") {
            hostPart = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            hostPart = rest
        }
        if hostPart.isEmpty { throw fail("no host") }
        // The host goes into a CONNECT line or a SOCKS request: letters, digits, '-', '.', '_' and
        // an IPv6 literal's ':' only.
        let allowed = hostPart.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x3A || b == 0x25
        }
        if !allowed { throw fail("invalid character in the host '\(hostPart)'") }
        // As in a WebSocket URL: a name that ends in a number is an IPv4 address to getaddrinfo
        // (`0x7f000001`, `127.1`), so only the dotted-decimal form is taken.
        let hostBytes = Array(hostPart.utf8)[...]
        if !hostPart.contains(":"), IPAddressSyntax.endsInANumber(bytes: hostBytes), !IPAddressSyntax.isIPv4(bytes: hostBytes) {
            throw fail("invalid IPv4 address '\(hostPart)' (four decimal numbers 0-255 expected)")
        }
        host = String(hostPart)
        if let p = portText {
            guard !p.isEmpty, p.utf8.count <= 5, p.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(p), n >= 1, n <= 65535 else {
                throw fail("port '\(p)' is not 1-65535")
            }
            port = n
        } else {
            port = Self.defaultPort
        }
    }

    private static func percentDecoded(_ s: Substring) -> String? {
        var out: [UInt8] = []
        var bytes = s.utf8.makeIterator()
        while let b = bytes.next() {
            guard b == 0x25 else { out.append(b); continue }
            guard let h = bytes.next(), let l = bytes.next(), let hi = Hex.value(h), let lo = Hex.value(l) else { return nil }
            out.append(hi << 4 | lo)
        }
        return String(validating: out, as: UTF8.self)
    }
}
