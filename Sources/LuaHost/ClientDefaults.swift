import NIOCore
import NetStack

/// What every client a script host makes starts with (`netstack run -H -s --ca --cert --key -k
/// --ping-interval`), so that a bot needs no rewriting for them. The script's own settings win:
/// its connect options replace these, and a header it adds replaces a default of the same name.
public struct ClientDefaults: Sendable {
    public var headers: [WebSocketHeader] = []
    /// Subprotocols offered (empty: none).
    public var protocols: [String] = []
    public var caFile: String?
    public var clientCertificateFile: String?
    public var clientKeyFile: String?
    /// Do not verify the server's certificate.
    public var insecure = false
    /// Keepalive pings (0: none).
    public var pingInterval: TimeAmount = .seconds(30)

    public init() {}

    /// `config` with these defaults.
    func apply(to config: inout WebSocketClientConfiguration) {
        config.pingInterval = pingInterval
        config.protocols = protocols
        config.tls.caFile = caFile
        config.tls.clientCertificateFile = clientCertificateFile
        config.tls.clientKeyFile = clientKeyFile
        config.tls.insecure = insecure
    }

    /// The default headers the script did not set itself (names compare case-insensitively),
    /// followed by the script's.
    func headers(beside own: [WebSocketHeader]) -> [WebSocketHeader] {
        guard !headers.isEmpty else { return own }
        let taken = Set(own.map { $0.name.lowercased() })
        return headers.filter { !taken.contains($0.name.lowercased()) } + own
    }
}
