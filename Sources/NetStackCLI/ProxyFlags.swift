import ArgumentParser
import NetStack

/// `--proxy URL` and `--no-proxy`, shared by `run` and `connect`.
struct ProxyFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Proxy for every connection: http://[user:pass@]host[:port] (HTTP CONNECT), socks5://... (the target resolved here) or socks5h://... (resolved by the proxy). Default: from https_proxy, http_proxy, all_proxy as curl reads them; no_proxy applies to both.",
        valueName: "url")) var proxy: String?
    @Flag(help: "Connect directly, ignoring --proxy and the proxy environment variables.") var noProxy = false

    func validate() throws {
        if let p = proxy {
            do { _ = try WebSocketProxy(parsing: p) } catch let e as WebSocketError { throw ValidationError("--proxy: \(e.message)") }
        }
    }

    /// The setting the flags give (the environment's when neither is used).
    var setting: WebSocketProxySetting {
        if noProxy { return .direct }
        if let p = proxy, let parsed = try? WebSocketProxy(parsing: p) {
            return .proxy(parsed, bypass: ProxyEnvironment.current.noProxy)
        }
        return .environment
    }
}
