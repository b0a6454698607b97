// The bench client of shared/bench: `netstack-wsbench MODE URL N SIZE [CONNS]`.
// Engine only (no Lua). Prints one RESULT line on stdout; diagnostics go to stderr.
// Besides the kit's modes, `idle URL N SIZE CONNS` measures memory per idle connection (IdleMemory.swift)
// and `nio-conns URL N SIZE CONNS` is conns on bare NIO channels, the floor under ours (NIOFloorConns.swift).
// NETSTACK_WSBENCH_FLOOR=1 makes the kit's `conns` mode run `nio-conns`, so the floor can stand in
// any runner of the kit's command line (compare.sh --client, scripts/bench-ab).
// Event loops: one per core for conns and idle, one otherwise; NETSTACK_WSBENCH_THREADS=T sets T
// (conns on one loop measures the cost per connection without the second core).
import Foundation
import NIOCore
import NIOPosix
import NetStack

func fail(_ message: String) -> Never {
    StandardError.write("netstack-wsbench: \(message)\n")
    _exit(1)
}

let args = CommandLine.arguments
guard args.count >= 5, let n = Int(args[3]), let size = Int(args[4]) else {
    fail("usage: netstack-wsbench flood|echo|sink|conns|nio-conns|idle URL N SIZE [CONNS]")
}
let mode = args[1] == "conns" && ProcessInfo.processInfo.environment["NETSTACK_WSBENCH_FLOOR"] == "1" ? "nio-conns" : args[1]
let url = args[2]
let conns = args.count > 5 ? Int(args[5]) ?? 1 : 1

var configuration = WebSocketClientConfiguration()
if let ca = ProcessInfo.processInfo.environment["WSBENCH_CA"] { configuration.tls.caFile = ca }
configuration.maxSendQueue = 256 * 1024 * 1024

@inline(__always) func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

struct Outcome {
    var n = 0
    var bytes = 0
    var seconds = 0.0
    var rtts: [UInt64] = []
    var error: String?
}

let done = DispatchSemaphore(value: 0)
var outcome = Outcome()
let loopThreads = ProcessInfo.processInfo.environment["NETSTACK_WSBENCH_THREADS"].flatMap { Int($0) }.map { max(1, min($0, 64)) }
    ?? (mode == "conns" || mode == "nio-conns" || mode == "idle" ? System.coreCount : 1)
let loopGroup = MultiThreadedEventLoopGroup(numberOfThreads: loopThreads)

func finishRun() { done.signal() }

/// The counters of one run, touched only on the client's loop. Properties of a class rather than
/// captured locals: captured variables get a dynamic exclusivity check on every access, which on
/// the per-message path costs as much as the engine's own work for small messages.
final class RunState {
    @exclusivity(unchecked) var t0: UInt64 = 0
    @exclusivity(unchecked) var received = 0
    @exclusivity(unchecked) var bytes = 0
    @exclusivity(unchecked) var sent = 0
    @exclusivity(unchecked) var sendStart: UInt64 = 0
    @exclusivity(unchecked) var rtts = [UInt64]()
}

func runSingle() {
    let client = WebSocketClient(configuration: configuration, eventLoop: loopGroup.next())
    let state = RunState()
    let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
    if mode == "echo" { state.rtts.reserveCapacity(n) }

    // sink sends batches of up to `sinkBatch` messages (`send(batch:)`: one check and one framing
    // pass per batch); NETSTACK_WSBENCH_SINK_BATCH=1 sends one message per `send` call instead.
    let sinkBatch = ProcessInfo.processInfo.environment["NETSTACK_WSBENCH_SINK_BATCH"].flatMap { Int($0) }.map { max(1, $0) } ?? 256
    func pumpSink(_ c: WebSocketClient) {
        payload.withUnsafeBytes { raw in
            let batch = [UnsafeRawBufferPointer](repeating: raw, count: sinkBatch)
            while state.sent < n && c.isWritable {
                do {
                    if sinkBatch == 1 {
                        try c.send(raw, kind: .text)
                        state.sent += 1
                    } else {
                        let k = min(sinkBatch, n - state.sent)
                        try c.send(batch: k == sinkBatch ? batch : Array(batch[..<k]), kind: .text)
                        state.sent += k
                    }
                } catch { outcome.error = "send: \(error)"; c.destroy(); finishRun(); return }
            }
        }
    }

    var opened = false
    client.onOpen = { c, _ in
        opened = true
        state.t0 = now()
        switch mode {
        case "echo":
            state.sendStart = now()
            payload.withUnsafeBytes { try? c.send($0, kind: .text) }
        case "sink":
            pumpSink(c)
        default: break
        }
    }
    client.onWritable = { c in if mode == "sink" { pumpSink(c) } }
    // One closure per mode, chosen once: a `switch` on the mode's string in the callback compared
    // strings for every message (about 45 instructions a message on flood32, an eighth of the total).
    switch mode {
    case "flood":
        client.onMessage = { _, message in
            state.received += 1
            state.bytes += message.data.readableBytes
            if state.received == n { outcome.seconds = Double(now() - state.t0) / 1e9 }
        }
    case "echo":
        client.onMessage = { c, message in
            let t = now()
            state.rtts.append(t - state.sendStart)
            state.received += 1
            state.bytes += message.data.readableBytes
            if message.data.readableBytes != size || message.kind != .text { outcome.error = "bad echo" }
            if state.received == n {
                outcome.seconds = Double(t - state.t0) / 1e9
                try? c.close(code: 1000)
            } else {
                state.sendStart = now()
                payload.withUnsafeBytes { try? c.send($0, kind: .text) }
            }
        }
    default:
        client.onMessage = { _, message in
            outcome.seconds = Double(now() - state.t0) / 1e9
            let parts = message.text.split(separator: " ")
            if parts.count == 3, parts[0] == "done" {
                state.received = Int(parts[1]) ?? -1
                state.bytes = Int(parts[2]) ?? -1
            } else {
                outcome.error = "unexpected sink reply '\(message.text)'"
            }
        }
    }
    client.onError = { _, error in
        if outcome.error == nil { outcome.error = "\(error)" }
        // Before the open, an error is the only terminal event (no onClose follows).
        if !opened { finishRun() }
    }
    client.onClose = { _, result in
        outcome.n = state.received
        outcome.bytes = state.bytes
        outcome.rtts = state.rtts
        if mode != "echo" && result.code != 1000 && outcome.error == nil { outcome.error = "closed with \(result.code) \(result.reason)" }
        finishRun()
    }
    do { try client.connect(to: url) } catch { fail("connect: \(error)") }
    _ = client
}

func runConns() {
    let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
    final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var echoed = 0
        var closed = 0
        var t0: UInt64 = 0
        var clients: [WebSocketClient] = []
    }
    let shared = Shared()
    shared.t0 = now()
    for _ in 0..<conns {
        let client = WebSocketClient(configuration: configuration, eventLoop: loopGroup.next())
        client.onOpen = { c, _ in payload.withUnsafeBytes { try? c.send($0, kind: .text) } }
        client.onMessage = { c, m in
            shared.lock.lock()
            shared.echoed += 1
            let all = shared.echoed == conns
            if all { outcome.seconds = Double(now() - shared.t0) / 1e9; outcome.n = conns; outcome.bytes = conns * size }
            shared.lock.unlock()
            if all {
                for c in shared.clients { try? c.close(code: 1000) }
                finishRun()
            }
        }
        client.onError = { _, e in
            shared.lock.lock()
            if outcome.error == nil { outcome.error = "\(e)" }
            shared.lock.unlock()
            finishRun()
        }
        shared.clients.append(client)
    }
    for c in shared.clients {
        do { try c.connect(to: url) } catch { fail("connect: \(error)") }
    }
}

switch mode {
case "flood", "echo", "sink": runSingle()
case "conns": runConns()
case "nio-conns":
    // The floor of conns without the engine (NIOFloorConns.swift); ws://IPv4:PORT/PATH only.
    guard let u = URLComponents(string: url), u.scheme == "ws", let host = u.host, let port = u.port, size < 126 else {
        fail("nio-conns: needs ws://IPv4:PORT/PATH and SIZE below 126")
    }
    do {
        outcome.seconds = try NIOFloorConns.run(host: host, port: port, path: u.path.isEmpty ? "/" : u.path, size: size, conns: conns, group: loopGroup)
        outcome.n = conns
        outcome.bytes = conns * size
    } catch { fail("nio-conns: \(error)") }
    finishRun()
case "idle": IdleMemory.run(url: url, connections: conns, size: size, configuration: configuration, group: loopGroup)
default: fail("unknown mode \(mode)")
}
done.wait()
if let e = outcome.error { fail(e) }
let connsMode = mode == "conns" || mode == "nio-conns"
let expected = connsMode ? conns : n
if outcome.n != expected { fail("expected \(expected) messages, observed \(outcome.n)") }
var p50 = "-", p99 = "-"
if mode == "echo" {
    let sorted = outcome.rtts.sorted()
    func rank(_ p: Double) -> Double { Double(sorted[max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1)]) / 1000 }
    p50 = String(format: "%.1f", rank(0.50))
    p99 = String(format: "%.1f", rank(0.99))
}
let secs = outcome.seconds
let sizeOut = outcome.n > 0 ? (outcome.bytes % outcome.n == 0 ? "\(outcome.bytes / outcome.n)" : String(format: "%.2f", Double(outcome.bytes) / Double(outcome.n))) : "0"
print("RESULT client=\(mode == "nio-conns" ? "nio-floor" : "netstack") mode=\(connsMode ? "conns" : mode) n=\(outcome.n) size=\(sizeOut) conns=\(connsMode ? conns : 1) seconds=\(String(format: "%.6f", secs)) msgs_per_s=\(String(format: "%.1f", Double(outcome.n) / secs)) mb_per_s=\(String(format: "%.3f", Double(outcome.bytes) / secs / 1e6)) p50_us=\(p50) p99_us=\(p99)")
fflush(stdout)
// _exit, not exit: the event loops are still closing connections (conns closes all of them at the
// end), and exit's handlers (OpenSSL's cleanup among them) would free what those threads use
// (the mask keys come from OpenSSL's RAND_bytes). One conns run in about 80 crashed in libc at
// exit; this is the likely cause (its backtrace was cut off), and _exit removes it either way.
_exit(0)
