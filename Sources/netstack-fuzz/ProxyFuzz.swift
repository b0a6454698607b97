import NetStack

/// What a proxy or a redirecting server controls: proxy URLs and no_proxy lists (from users and
/// the environment), a SOCKS5 proxy's answers in arbitrary read splits, and a redirect's Location.
enum ProxyFuzz {
    /// Input: a proxy URL, then (after a NUL) a no_proxy list, then (after a NUL) a host.
    static func configuration(_ input: UnsafeRawBufferPointer) {
        let parts = input.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if let proxy = try? WebSocketProxy(parsing: parts[0]) {
            precondition((1...65535).contains(proxy.port), "port \(proxy.port) from \(parts[0])")
            precondition(!proxy.host.isEmpty, "empty host from \(parts[0])")
            precondition(!proxy.description.contains("\r") && !proxy.description.contains("\n"), "CR/LF in \(proxy.description)")
            precondition((proxy.username?.utf8.count ?? 0) <= 255 && (proxy.password?.utf8.count ?? 0) <= 255)
        }
        if parts.count > 1 {
            let list = NoProxyList(parsing: parts[1])
            if parts.count > 2 { _ = list.matches(host: parts[2]) }
        }
    }

    /// Input: byte 0 picks the proxy (credentials or not) and the read split; the rest is what the
    /// proxy answers. The handshake must end (established, failed or waiting) without consuming
    /// more than it was given.
    static func socks5(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 1 else { return }
        let seed = input[0]
        let proxy = WebSocketProxy(kind: .socks5h, host: "p", port: 1080,
                                   username: seed & 1 != 0 ? "user" : nil, password: seed & 1 != 0 ? "pass" : nil)
        var handshake = SOCKS5Handshake(proxy: proxy, target: .name("target.example", port: 443), targetText: "target.example:443")
        let bytes = Array(input[1...])
        var buffered: [UInt8] = []
        var offset = 0
        let step = max(1, Int(seed >> 1) % 16)
        while offset < bytes.count {
            let end = min(bytes.count, offset + step)
            buffered += bytes[offset..<end]
            offset = end
            var progressing = true
            while progressing {
                let result = buffered.withUnsafeBytes { handshake.receive($0) }
                switch result {
                case .needMore:
                    progressing = false
                case .send(_, let consumed):
                    precondition(consumed > 0 && consumed <= buffered.count, "consumed \(consumed) of \(buffered.count)")
                    buffered.removeFirst(consumed)
                case .established(let consumed):
                    precondition(consumed <= buffered.count, "consumed \(consumed) of \(buffered.count)")
                    return
                case .failed(let e):
                    precondition(e.code == .connectionError && e.message.hasPrefix("proxy ") || e.message.hasPrefix("target unreachable"), e.message)
                    return
                }
            }
        }
        _ = handshake.closed()
    }

    /// Input: an HTTP response head with a redirect. The next URL must parse again, and never go
    /// from wss to ws.
    static func redirect(_ input: UnsafeRawBufferPointer) {
        guard case .head(let head, _) = UpgradeResponseHead.parse(input, maxSize: 64 * 1024) else { return }
        for base in ["wss://a.example:8443/chat/room?x=1", "ws://10.0.0.1/"] {
            let current = try! WebSocketURL(parsing: base)
            switch Redirect.next(after: head, from: current, followed: 0, limit: 10) {
            case .follow(let url):
                precondition((try? WebSocketURL(parsing: url.description)) != nil, "\(url) does not parse again")
                precondition(!(current.isSecure && !url.isSecure), "wss to ws: \(url)")
            case .refuse(let e):
                precondition(e.code == .connectionError)
            }
        }
    }
}
