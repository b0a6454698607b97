/// The stage a connection attempt failed in, for exit statuses and reports: name resolution, the
/// TCP connection (or the proxy's tunnel), the TLS handshake (certificate verification
/// included), or the WebSocket upgrade (a non-101 answer, a handshake violation, the server
/// closing during the handshake).
public enum ConnectStage: String, Sendable, CaseIterable {
    case resolve, connect, tls, upgrade

    /// The stage of `error`, reported before an open, from how far the attempt got.
    public static func of(_ error: WebSocketError, progress: WebSocketClient.Progress) -> ConnectStage {
        if (2_305_000...2_305_999).contains(Int(error.code.rawValue)) { return .tls }
        if !progress.transportConnected {
            return error.message.hasPrefix("DNS lookup") ? .resolve : .connect
        }
        if progress.secure && !progress.tlsDone { return .tls }
        return .upgrade
    }
}
