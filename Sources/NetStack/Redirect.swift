/// Following a 3xx answer to the opening handshake (opt-in: `followRedirects`), as a value: which
/// URL comes next, or why not. No I/O.
///
/// Statuses 301, 302, 303, 307 and 308 with a `Location` are followed; the new URL may be
/// absolute (`ws`, `wss`, or `http`/`https`, read as `ws`/`wss`), scheme-relative (`//host/path`),
/// an absolute path or a relative one, resolved against the current URL; a fragment is dropped.
/// Never from wss to ws (nor from https to http). Every hop is a new handshake with a new key.
package enum Redirect {
    /// Most redirects a connection follows (the option's cap).
    static let maximum = 10

    package static func isRedirect(_ status: Int) -> Bool { [301, 302, 303, 307, 308].contains(status) }

    package enum Decision: Equatable {
        case follow(WebSocketURL)
        case refuse(WebSocketError)
    }

    /// The next URL after `head` (a redirect status) from `current`, with `followed` redirects
    /// already behind and at most `limit` allowed.
    package static func next(after head: UpgradeResponseHead, from current: WebSocketURL, followed: Int, limit: Int) -> Decision {
        func refuse(_ why: String) -> Decision {
            .refuse(WebSocketError(.connectionError, "redirect not followed: \(why) (\(head.statusLine))"))
        }
        guard followed < limit else { return refuse("more than \(limit) redirects") }
        guard var location = head.value(of: "location")?.trimmingCharacters(in: " \t"), !location.isEmpty else {
            return refuse("no Location header")
        }
        if let hash = location.firstIndex(of: "#") { location = String(location[..<hash]) }
        let lower = location.lowercased()
        let absolute: String
        if let scheme = ["ws://", "wss://", "http://", "https://"].first(where: { lower.hasPrefix($0) }) {
            let rest = location.dropFirst(scheme.count)
            absolute = (scheme == "http://" ? "ws://" : scheme == "https://" ? "wss://" : scheme) + rest
        } else if lower.contains("://") {
            return refuse("Location '\(TerminalText.sanitize(location))' is not a ws, wss, http or https URL")
        } else if location.hasPrefix("//") {
            absolute = "\(current.scheme):\(location)"
        } else if location.hasPrefix("/") {
            absolute = "\(current.scheme)://\(current.hostHeader)\(location)"
        } else {
            // Relative to the current path's directory (RFC 3986 §5.2.3), without the query.
            let path = current.requestTarget.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let directory = path[...(path.lastIndex(of: "/") ?? path.startIndex)]
            absolute = "\(current.scheme)://\(current.hostHeader)\(directory)\(location)"
        }
        let url: WebSocketURL
        do {
            url = try WebSocketURL(parsing: absolute)
        } catch let e as WebSocketError {
            return refuse("Location '\(TerminalText.sanitize(location))': \(e.message)")
        } catch {
            return refuse("Location '\(TerminalText.sanitize(location))': \(error)")
        }
        if current.isSecure && !url.isSecure {
            return refuse("from wss to ws ('\(url)')")
        }
        return .follow(url)
    }

    /// Headers for the next hop: all of them on the same host; to another host, none that carry
    /// credentials (`Authorization`, `Cookie`), as curl drops them without `--location-trusted`.
    package static func headers(_ headers: [WebSocketHeader], from: WebSocketURL, to: WebSocketURL) -> [WebSocketHeader] {
        if from.host.lowercased() == to.host.lowercased() && from.port == to.port { return headers }
        return headers.filter { h in
            let name = h.name.lowercased()
            return name != "authorization" && name != "cookie" && name != "proxy-authorization"
        }
    }
}
