/// The client side of a SOCKS5 handshake (RFC 1928, with RFC 1929 user/password authentication)
/// as a value: the greeting to send first, then bytes in and a step out. No I/O.
///
/// SwiftNIO's `NIOSOCKS` client offers no authentication and keeps its message codecs internal,
/// so this is written here; it is about a hundred lines and tested byte by byte
/// (`SOCKS5HandshakeTests`).
package struct SOCKS5Handshake {
    /// Where the proxy should connect.
    package enum Target: Equatable {
        /// A host name the proxy resolves (socks5h).
        case name(String, port: Int)
        /// An IPv4 (4 bytes) or IPv6 (16 bytes) address.
        case address([UInt8], port: Int)
    }

    package enum Step: Equatable {
        /// Wait for more bytes.
        case needMore
        /// Send these bytes; `consumed` input bytes were used.
        case send([UInt8], consumed: Int)
        /// The tunnel is up; `consumed` input bytes were the proxy's; the rest belong to the target.
        case established(consumed: Int)
        case failed(WebSocketError)
    }

    private enum State { case methodSelection, authentication, reply, done }

    private let proxy: WebSocketProxy
    private let target: Target
    private let targetText: String
    private var state = State.methodSelection

    package init(proxy: WebSocketProxy, target: Target, targetText: String) {
        self.proxy = proxy
        self.target = target
        self.targetText = targetText
    }

    /// The greeting: no authentication, plus user/password when the proxy URL has a user.
    package var greeting: [UInt8] { proxy.username == nil ? [5, 1, 0] : [5, 2, 0, 2] }

    package mutating func receive(_ input: UnsafeRawBufferPointer) -> Step {
        switch state {
        case .methodSelection:
            guard input.count >= 2 else { return .needMore }
            guard input[0] == 5 else { return fail(ProxyFailure.protocolError(proxy, "not a SOCKS5 answer (version byte \(input[0]))")) }
            switch input[1] {
            case 0:
                state = .reply
                return .send(request, consumed: 2)
            case 2 where proxy.username != nil:
                state = .authentication
                let user = Array((proxy.username ?? "").utf8), pass = Array((proxy.password ?? "").utf8)
                return .send([1, UInt8(user.count)] + user + [UInt8(pass.count)] + pass, consumed: 2)
            case 0xFF, 2:
                return fail(ProxyFailure.authentication(proxy, proxy.username == nil
                    ? "the SOCKS5 proxy requires authentication and no user was given"
                    : "the SOCKS5 proxy accepts none of the offered methods"))
            default:
                return fail(ProxyFailure.protocolError(proxy, "SOCKS5 proxy chose method \(input[1]), which was not offered"))
            }
        case .authentication:
            guard input.count >= 2 else { return .needMore }
            guard input[0] == 1 else { return fail(ProxyFailure.protocolError(proxy, "bad SOCKS5 authentication answer (version byte \(input[0]))")) }
            guard input[1] == 0 else {
                return fail(ProxyFailure.authentication(proxy, "user '\(proxy.username ?? "")' rejected by the SOCKS5 proxy (status \(input[1]))"))
            }
            state = .reply
            return .send(request, consumed: 2)
        case .reply:
            guard input.count >= 5 else { return .needMore }
            guard input[0] == 5 else { return fail(ProxyFailure.protocolError(proxy, "not a SOCKS5 reply (version byte \(input[0]))")) }
            guard input[1] == 0 else { return fail(ProxyFailure.socksReply(proxy, target: targetText, reply: input[1])) }
            let addressLength: Int
            switch input[3] {
            case 1: addressLength = 4
            case 4: addressLength = 16
            case 3: addressLength = 1 + Int(input[4])
            default: return fail(ProxyFailure.protocolError(proxy, "SOCKS5 reply with address type \(input[3])"))
            }
            let length = 4 + addressLength + 2
            guard input.count >= length else { return .needMore }
            state = .done
            return .established(consumed: length)
        case .done:
            return .established(consumed: 0)
        }
    }

    /// What it means that the proxy closed the connection now. RFC 1929 has a proxy close after a
    /// failure status, and some proxies close without any: during authentication that is a
    /// rejection; after the request, the proxy could not reach the target.
    package mutating func closed() -> WebSocketError {
        let stage = state
        state = .done
        switch stage {
        case .methodSelection:
            return ProxyFailure.protocolError(proxy, "the proxy closed the connection after the SOCKS5 greeting"
                + (proxy.username == nil ? " (it may require a user and password)" : ""))
        case .authentication:
            return ProxyFailure.authentication(proxy, "the SOCKS5 proxy closed the connection after user '\(proxy.username ?? "")' was sent")
        case .reply:
            return ProxyFailure.targetUnreachable(proxy, target: targetText, "the SOCKS5 proxy closed the connection without replying to CONNECT")
        case .done:
            return ProxyFailure.protocolError(proxy, "the proxy closed the connection")
        }
    }

    private mutating func fail(_ error: WebSocketError) -> Step {
        state = .done
        return .failed(error)
    }

    /// CONNECT to the target.
    private var request: [UInt8] {
        switch target {
        case .name(let host, let port):
            let name = Array(host.utf8.prefix(255))
            return [5, 1, 0, 3, UInt8(name.count)] + name + [UInt8(port >> 8), UInt8(port & 0xFF)]
        case .address(let bytes, let port):
            return [5, 1, 0, bytes.count == 4 ? 1 : 4] + bytes + [UInt8(port >> 8), UInt8(port & 0xFF)]
        }
    }
}
