// Autobahn|Testsuite client (fuzzingserver mode): runs every case and echoes each message back
// with its type. Server URL from AUTOBAHN_URL (default ws://127.0.0.1:9001), agent name from
// AUTOBAHN_AGENT (default netstack). Optional AUTOBAHN_CASE_FILTER: a comma-separated list of
// case numbers (1-based indexes) to run instead of all.
import Foundation
import NIOCore
import NIOPosix
import NetStack

let env = ProcessInfo.processInfo.environment
let base = env["AUTOBAHN_URL"] ?? "ws://127.0.0.1:9001"
let agent = env["AUTOBAHN_AGENT"] ?? "netstack"
let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()

var configuration = WebSocketClientConfiguration()
configuration.maxSendSize = 64 * 1024 * 1024
configuration.maxReceiveSize = 64 * 1024 * 1024
configuration.pingInterval = .zero
configuration.compressionThreshold = 0
configuration.closeTimeout = .seconds(2)

/// Runs one connection to completion; `onText` sees text messages when given, else messages are echoed.
func run(_ url: String, onText: ((String) -> Void)? = nil) {
    let done = DispatchSemaphore(value: 0)
    let client = WebSocketClient(configuration: configuration, eventLoop: loop)
    client.onMessage = { c, m in
        if let onText = onText {
            onText(m.text)
        } else {
            try? c.send(m.data, kind: m.kind)
        }
    }
    client.onError = { c, e in
        if onText != nil { StandardError.write("autobahn: \(url): \(e)\n") }
        // A connection that never opened ends with onError alone.
        if c.state == .closed { done.signal() }
    }
    client.onClose = { _, _ in done.signal() }
    do {
        try client.connect(to: url)
    } catch {
        StandardError.write("autobahn: \(error)\n")
        exit(2)
    }
    done.wait()
    client.destroy()
}

var count = 0
run("\(base)/getCaseCount") { count = Int($0) ?? 0 }
guard count > 0 else {
    StandardError.write("autobahn: no cases reported by \(base)\n")
    exit(2)
}
var cases = Array(1...count)
if let filter = env["AUTOBAHN_CASE_FILTER"], !filter.isEmpty {
    cases = filter.split(separator: ",").compactMap { Int($0) }
}
StandardError.write("autobahn: \(count) cases\n")
for i in cases {
    run("\(base)/runCase?case=\(i)&agent=\(agent)")
}
run("\(base)/updateReports?agent=\(agent)") { _ in }
StandardError.write("autobahn: done\n")
