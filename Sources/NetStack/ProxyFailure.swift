/// The errors of a proxied connection, all `WEBSOCKET_CONNECTION_ERROR` (1003), told apart by how
/// their message begins (docs/lua-api.md, "Proxies" lists them):
/// `proxy unreachable`, `proxy refused`, `proxy authentication failed`,
/// `target unreachable through the proxy`, `proxy protocol error`.
enum ProxyFailure {
    /// `why` names the proxy's address (`ConnectionErrorText.describeConnectError`).
    static func unreachable(_ why: String) -> WebSocketError {
        WebSocketError(.connectionError, "proxy unreachable: \(why)")
    }

    static func refused(_ proxy: WebSocketProxy, target: String, _ why: String) -> WebSocketError {
        WebSocketError(.connectionError, "proxy refused the tunnel to \(target): \(why) (proxy \(proxy.endpoint))")
    }

    static func authentication(_ proxy: WebSocketProxy, _ why: String) -> WebSocketError {
        WebSocketError(.connectionError, "proxy authentication failed: \(why) (proxy \(proxy.endpoint))")
    }

    static func targetUnreachable(_ proxy: WebSocketProxy, target: String, _ why: String) -> WebSocketError {
        WebSocketError(.connectionError, "target unreachable through the proxy: \(target): \(why) (proxy \(proxy.endpoint))")
    }

    static func protocolError(_ proxy: WebSocketProxy, _ why: String) -> WebSocketError {
        WebSocketError(.connectionError, "proxy protocol error: \(why) (proxy \(proxy.endpoint))")
    }

    /// An HTTP CONNECT answer other than 2xx, by its status.
    static func httpStatus(_ proxy: WebSocketProxy, target: String, statusLine: String, code: Int) -> WebSocketError {
        switch code {
        case 401, 407:
            // 407 is the standard answer; tinyproxy answers 401 to wrong credentials.
            return authentication(proxy, proxy.username == nil ? "\(statusLine) (no user was given)" : statusLine)
        case 500, 502, 503, 504:
            // What proxies answer when they cannot connect: tinyproxy 500, squid 503, others 502 or 504.
            return targetUnreachable(proxy, target: target, statusLine)
        default:
            return refused(proxy, target: target, statusLine)
        }
    }

    /// A SOCKS5 reply other than success (RFC 1928 §6).
    static func socksReply(_ proxy: WebSocketProxy, target: String, reply: UInt8) -> WebSocketError {
        let text: String
        switch reply {
        case 1: text = "general SOCKS server failure"
        case 2: text = "connection not allowed by ruleset"
        case 3: text = "network unreachable"
        case 4: text = "host unreachable"
        case 5: text = "connection refused"
        case 6: text = "TTL expired"
        case 7: text = "command not supported"
        case 8: text = "address type not supported"
        default: text = "unassigned reply"
        }
        let why = "SOCKS5 reply \(reply) (\(text))"
        switch reply {
        case 3, 4, 5, 6: return targetUnreachable(proxy, target: target, why)
        default: return refused(proxy, target: target, why)
        }
    }
}
