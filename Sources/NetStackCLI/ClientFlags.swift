import ArgumentParser
import Foundation
import LuaHost
import NIOCore
import NetStack

/// `run`'s settings for the clients a script's host makes (the bot's, and any the script
/// creates): what `connect` users type from habit. The script's own settings win (its connect
/// options; a header it adds replaces one of the same name).
struct ClientFlags: ParsableArguments {
    @Option(name: [.customShort("H"), .long], parsing: .unconditionalSingleValue, help: "Header 'Name: value' for every connection (repeatable).")
    var header: [String] = []
    @Option(name: [.customShort("s"), .long], parsing: .unconditionalSingleValue, help: "Subprotocol to offer (repeatable).") var subprotocol: [String] = []
    @Option(parsing: .unconditional, help: "CA file (PEM) to trust instead of the system store.") var ca: String?
    @Option(parsing: .unconditional, help: "Client certificate chain (PEM) for mutual TLS.") var cert: String?
    @Option(parsing: .unconditional, help: "Private key (PEM) of --cert.") var key: String?
    @Flag(name: [.customShort("k"), .customLong("insecure"), .customLong("no-check")],
          help: "Do not verify the server's certificate.") var insecure = false
    @Option(parsing: .unconditional, help: "Seconds between keepalive pings, at least 0.001 (0: none; default 30).") var pingInterval: Double?

    static let tokenBytes = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)

    func validate() throws {
        for h in header {
            guard let parsed = Connect.parseHeader(h) else { throw ValidationError("--header '\(h)' must look like 'Name: value'") }
            if ArgumentBytes.wasAltered(h) { throw ValidationError(ArgumentBytes.alteredHeader(h)) }
            do { try HeaderValidation.validate(parsed) } catch let e as WebSocketError { throw ValidationError("--header: \(e.message)") }
        }
        for p in subprotocol where p.isEmpty || !p.utf8.allSatisfy(Self.tokenBytes.contains) {
            throw ValidationError("--subprotocol '\(TerminalText.sanitize(p, keepNewlines: false))' is not an HTTP token")
        }
        if (cert == nil) != (key == nil) { throw ValidationError("--cert and --key go together") }
        for (flag, path) in [("--ca", ca), ("--cert", cert), ("--key", key)] {
            if let p = path, !FileManager.default.isReadableFile(atPath: p) { throw ValidationError("\(flag): cannot read '\(p)'") }
        }
        if let i = pingInterval { _ = try ClientFlags.pingInterval(seconds: i) }
    }

    /// `--ping-interval SECONDS` (on `run` and `connect`): 0 (no pings), or 0.001 (the engine's
    /// `minimumPingInterval`) to 2147483.
    static func pingInterval(seconds i: Double) throws -> TimeAmount {
        guard i == 0 || (i.isFinite && i >= 0.001 && i <= 2_147_483) else {
            throw ValidationError("--ping-interval: \(i) is not 0 (no pings) or a number of seconds from 0.001 to 2147483")
        }
        return .nanoseconds(Int64((i * 1e9).rounded()))
    }

    var defaults: ClientDefaults {
        var d = ClientDefaults()
        d.headers = header.compactMap(Connect.parseHeader)
        d.protocols = subprotocol
        d.caFile = ca
        d.clientCertificateFile = cert
        d.clientKeyFile = key
        d.insecure = insecure
        if let i = pingInterval, let t = try? Self.pingInterval(seconds: i) { d.pingInterval = t }
        return d
    }
}
