import ArgumentParser
import NetStack

/// `-L/--location` and `--max-redirs N` (curl's spellings), shared by `run` and `connect`.
struct RedirectFlags: ParsableArguments {
    @Flag(name: [.customShort("L"), .customLong("location")],
          help: "Follow redirects (301, 302, 303, 307, 308) of the opening handshake; never from wss to ws.") var location = false
    @Option(name: .customLong("max-redirs"), parsing: .unconditional, help: "With -L: the most redirects followed, 0-10.") var maxRedirects: Int = 10

    func validate() throws {
        guard (0...10).contains(maxRedirects) else { throw ValidationError("--max-redirs: \(maxRedirects) is not 0-10") }
    }

    /// `WebSocketClientConfiguration.followRedirects`.
    var followRedirects: Int { location ? maxRedirects : 0 }
}
