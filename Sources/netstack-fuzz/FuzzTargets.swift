import Foundation
import NetStack

/// One fuzz target: a name, what it covers, and the function that takes one input.
struct FuzzTarget {
    let name: String
    let summary: String
    let run: (UnsafeRawBufferPointer) -> Void
}

enum FuzzTargets {
    static let all: [FuzzTarget] = [
        FuzzTarget(name: "frames", summary: "server bytes after a 101, through the real connection handler, in arbitrary read splits, with and without permessage-deflate",
                   run: ConnectionFuzz.frames),
        FuzzTarget(name: "handshake", summary: "the server's answer to the upgrade request, through the real handler, in arbitrary read splits",
                   run: ConnectionFuzz.handshake),
        FuzzTarget(name: "serve", summary: "a client's request head and frames through netstack serve's connection handler, in arbitrary read splits",
                   run: ServeFuzz.run),
        FuzzTarget(name: "url", summary: "URL parsing (ws/wss) and header validation", run: ParserFuzz.urlAndHeaders),
        FuzzTarget(name: "proxy-config", summary: "proxy URLs and no_proxy lists (users and the environment)", run: ProxyFuzz.configuration),
        FuzzTarget(name: "socks5", summary: "a SOCKS5 proxy's answers to the handshake, in arbitrary read splits", run: ProxyFuzz.socks5),
        FuzzTarget(name: "redirect", summary: "a redirect's status line and Location, resolved against the current URL", run: ProxyFuzz.redirect),
        FuzzTarget(name: "deflate-params", summary: "Sec-WebSocket-Extensions parsing and permessage-deflate parameters", run: ParserFuzz.extensions),
        FuzzTarget(name: "certificate", summary: "PEM/DER parsing, inspection and OH_NetStack_VerifyCertification's verifier (the input also as CA)",
                   run: CertificateFuzz.run),
        FuzzTarget(name: "revocation", summary: "OCSP responses (fetched or stapled) and CRLs from servers, checked against a fixed chain",
                   run: RevocationFuzz.run),
        FuzzTarget(name: "json", summary: "netstack.json.decode, and encode of what it decoded, in a Lua state", run: JSONFuzz.run),
        FuzzTarget(name: "cli", summary: "netstack's command-line parsing and validation (arguments split at NUL bytes), without running the command",
                   run: CommandLineFuzz.run),
        FuzzTarget(name: "lua-api", summary: "random call sequences of the Lua API (clients, sends, closes, timers, coroutines, json, certificates) from generated scripts, against a local server",
                   run: LuaAPIFuzz.run),
    ]

    /// The target named by NETSTACK_FUZZ_TARGET (libFuzzer runs one target per process).
    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["NETSTACK_FUZZ_TARGET"] ?? ""
        guard let t = all.first(where: { $0.name == name }) else {
            StandardError.write("netstack-fuzz: set NETSTACK_FUZZ_TARGET to one of: \(all.map(\.name).joined(separator: ", "))\n")
            exit(2)
        }
        return t
    }()
}
