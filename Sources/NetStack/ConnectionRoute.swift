import NIOCore

/// How a connection reaches the URL's host: straight, or through a proxy's tunnel. Decided from
/// the URL and the proxy alone (no I/O), except that `socks5://` resolves the target's name
/// first, here, as curl does (`socks5h://` leaves that to the proxy).
enum ConnectionRoute: Equatable {
    /// TCP to the URL's host.
    case direct
    /// TCP to the proxy, then its tunnel to the URL's host.
    case tunnel(Tunnel)
    /// `socks5://` to a host name: resolve it (`resolved(_:_:)`), then tunnel to the address.
    case resolveThenTunnel(WebSocketProxy, host: String, port: Int)
    /// The proxy cannot carry this target (the connection fails with this error).
    case refused(WebSocketError)

    /// What stands between the TCP connection and TLS or the upgrade.
    enum Tunnel: Equatable {
        case http(WebSocketProxy)
        case socks(WebSocketProxy, SOCKS5Handshake.Target)

        var proxy: WebSocketProxy {
            switch self { case .http(let p), .socks(let p, _): return p }
        }
    }

    static func plan(for url: WebSocketURL, through proxy: WebSocketProxy?) -> ConnectionRoute {
        guard let proxy = proxy else { return .direct }
        switch proxy.kind {
        case .http:
            return .tunnel(.http(proxy))
        case .socks5h where !url.hostIsIPLiteral:
            guard url.host.utf8.count <= 255 else {
                return .refused(ProxyFailure.refused(proxy, target: url.host, "a host name over 255 bytes does not fit a SOCKS5 request"))
            }
            return .tunnel(.socks(proxy, .name(url.host, port: url.port)))
        case .socks5, .socks5h:
            if url.hostIsIPLiteral, let bytes = IPAddressBytes.parse(url.host) {
                return .tunnel(.socks(proxy, .address(bytes, port: url.port)))
            }
            return .resolveThenTunnel(proxy, host: url.host, port: url.port)
        }
    }

    /// The tunnel of a `resolveThenTunnel` route once its host resolved to `address`.
    static func resolved(_ address: SocketAddress, through proxy: WebSocketProxy, host: String, port: Int) -> Result<Tunnel, WebSocketError> {
        let bytes: [UInt8]
        switch address {
        case .v4(let a): bytes = withUnsafeBytes(of: a.address.sin_addr) { Array($0) }
        case .v6(let a): bytes = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
        case .unixDomainSocket: return .failure(WebSocketError(.connectionError, "DNS lookup for '\(host)' gave no IP address"))
        }
        return .success(.socks(proxy, .address(bytes, port: port)))
    }
}
