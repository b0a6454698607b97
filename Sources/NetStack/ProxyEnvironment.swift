#if canImport(Glibc)
import Glibc
#endif

/// Which proxy a connection uses. The default reads the environment as curl does.
public enum WebSocketProxySetting: Hashable, Sendable {
    /// `https_proxy`/`HTTPS_PROXY` for wss, `http_proxy` (lowercase only, as curl) for ws, then
    /// `all_proxy`/`ALL_PROXY`; none when `no_proxy`/`NO_PROXY` matches the host.
    case environment
    /// No proxy, whatever the environment says.
    case direct
    /// This proxy, except for hosts that `bypass` matches (an empty list: always).
    case proxy(WebSocketProxy, bypass: NoProxyList = NoProxyList())
}

/// A `no_proxy` list as curl reads it: comma- or space-separated entries; `*` alone matches every
/// host; a name matches itself and its subdomains (a leading dot changes nothing: `example.com`
/// and `.example.com` both match `a.example.com` and `example.com`); an IP address matches itself,
/// and `10.0.0.0/8` or `fd00::/8` match the addresses inside. Names compare without case; ports
/// are not part of an entry.
public struct NoProxyList: Hashable, Sendable {
    private enum Entry: Hashable, Sendable {
        case all
        case name(String)
        case network([UInt8], prefix: Int)
    }
    private var entries: [Entry] = []

    public init() {}

    public init(parsing text: String) {
        for raw in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }) {
            var item = raw.lowercased()
            if item == "*" { entries.append(.all); continue }
            if item.hasPrefix("[") && item.hasSuffix("]") { item = String(item.dropFirst().dropLast()) }
            // "address/prefix"; "/", "/8" or "a/" have an empty side (the split keeps it).
            let parts = item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            if let address = IPAddressBytes.parse(String(parts[0])) {
                var prefix = address.count * 8
                if parts.count == 2 {
                    guard let p = Int(parts[1]), p >= 0, p <= prefix else { continue }
                    prefix = p
                }
                entries.append(.network(address, prefix: prefix))
                continue
            }
            while item.hasPrefix(".") { item.removeFirst() }
            while item.hasSuffix(".") { item.removeLast() }
            if !item.isEmpty { entries.append(.name(item)) }
        }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Whether a connection to `host` goes direct.
    public func matches(host: String) -> Bool {
        if entries.isEmpty { return false }
        var name = host.lowercased()
        while name.hasSuffix(".") { name.removeLast() }
        let address = IPAddressBytes.parse(name)
        for entry in entries {
            switch entry {
            case .all:
                return true
            case .name(let n):
                if address == nil, name == n || name.hasSuffix("." + n) { return true }
            case .network(let net, let prefix):
                if let a = address, a.count == net.count, IPAddressBytes.samePrefix(a, net, bits: prefix) { return true }
            }
        }
        return false
    }
}

/// The proxy variables of an environment, read as curl reads them.
public struct ProxyEnvironment: Sendable {
    public var httpProxy: String?
    public var httpsProxy: String?
    public var allProxy: String?
    public var noProxy: NoProxyList

    /// From a dictionary of variables (tests, and the process environment below).
    public init(variables: [String: String]) {
        func first(_ names: String...) -> String? {
            for n in names { if let v = variables[n], !v.isEmpty { return v } }
            return nil
        }
        httpProxy = first("http_proxy")
        httpsProxy = first("https_proxy", "HTTPS_PROXY")
        allProxy = first("all_proxy", "ALL_PROXY")
        noProxy = NoProxyList(parsing: first("no_proxy", "NO_PROXY") ?? "")
    }

    /// The process's environment, read once (the variables are read at the first connection).
    public static let current: ProxyEnvironment = {
        var variables: [String: String] = [:]
        for name in ["http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"] {
            if let v = getenv(name) { variables[name] = String(cString: v) }
        }
        return ProxyEnvironment(variables: variables)
    }()

    /// The proxy for `url`, or nil for a direct connection. A malformed variable is an error
    /// (`WEBSOCKET_CONNECTION_PARSE_URL_ERROR`) naming the variable, not a silent direct connection.
    public func proxy(for url: WebSocketURL) throws -> WebSocketProxy? {
        let chosen: (name: String, value: String)?
        if url.isSecure, let v = httpsProxy {
            chosen = ("https_proxy", v)
        } else if !url.isSecure, let v = httpProxy {
            chosen = ("http_proxy", v)
        } else if let v = allProxy {
            chosen = ("all_proxy", v)
        } else {
            chosen = nil
        }
        guard let (name, value) = chosen, !noProxy.matches(host: url.host) else { return nil }
        do {
            return try WebSocketProxy(parsing: value)
        } catch let e as WebSocketError {
            throw WebSocketError(e.code, "\(e.message) (from \(name))")
        }
    }
}

extension WebSocketProxySetting {
    /// The proxy this setting gives `url`, or nil for a direct connection.
    public func proxy(for url: WebSocketURL, environment: @autoclosure () -> ProxyEnvironment = ProxyEnvironment.current) throws -> WebSocketProxy? {
        switch self {
        case .direct: return nil
        case .environment: return try environment().proxy(for: url)
        case .proxy(let p, let bypass): return bypass.matches(host: url.host) ? nil : p
        }
    }
}

/// IPv4 and IPv6 addresses as bytes, for `no_proxy` networks.
enum IPAddressBytes {
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    static func samePrefix(_ a: [UInt8], _ b: [UInt8], bits: Int) -> Bool {
        var left = bits
        for i in 0..<a.count where left > 0 {
            let take = min(8, left)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - take))
            if a[i] & mask != b[i] & mask { return false }
            left -= take
        }
        return true
    }
}
