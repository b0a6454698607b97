import Foundation
import NIOCore
import NIOPosix
import NetStack
import CMallocInfo

#if canImport(Glibc)
import Glibc
#endif

/// `idle URL N SIZE CONNS`: memory per idle connection, measured inside the process.
///
/// Opens CONNS/10 connections (all at once, as `conns` does), one echo of SIZE bytes each, waits
/// until every echo is back and the loops are quiet, and measures; then opens the rest up to CONNS
/// the same way and measures again. The difference ÷ the connections added is the cost of one idle
/// connection, without the fixed costs (loops, pools, the runtime). Three measures:
/// - heap: bytes malloc holds for the program (glibc `mallinfo2`: in-use chunks of every arena
///   plus mmapped blocks), what idle connections keep;
/// - rss: resident memory as the kernel counts it (`/proc/self/statm`), which also holds what the
///   connect burst freed but malloc kept;
/// - trimmed: rss after `malloc_trim(0)` hands malloc's free pages back.
/// Prints one `IDLE` line on stdout; closes everything and exits (with WSBENCH_IDLE_HOLD set, exits
/// without closing: under heaptrack, what is not freed at the end is then what idle connections hold).
enum IdleMemory {
    struct Sample {
        var heap: Int
        var rss: Int
        var trimmed: Int
    }

    /// Heap and RSS as they are, then RSS after `malloc_trim`.
    static func sample() -> Sample {
        let heap = netstack_heap_in_use()
        let rss = residentBytes()
        netstack_malloc_trim()
        return Sample(heap: Int(heap), rss: rss, trimmed: residentBytes())
    }

    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func peakResidentKiB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    final class Batch: @unchecked Sendable {
        let lock = NSLock()
        var echoed = 0
        var error: String?
        let done = DispatchSemaphore(value: 0)
        let expected: Int
        init(expected: Int) { self.expected = expected }
    }

    /// Opens `count` connections and returns once each has had its echo.
    static func open(_ count: Int, url: String, payload: [UInt8], configuration: WebSocketClientConfiguration,
                     group: EventLoopGroup, into clients: inout [WebSocketClient]) -> String? {
        let batch = Batch(expected: count)
        var fresh: [WebSocketClient] = []
        fresh.reserveCapacity(count)
        for _ in 0..<count {
            let client = WebSocketClient(configuration: configuration, eventLoop: group.next())
            client.onOpen = { c, _ in payload.withUnsafeBytes { try? c.send($0, kind: .text) } }
            client.onMessage = { _, _ in
                batch.lock.lock()
                batch.echoed += 1
                let all = batch.echoed == batch.expected
                batch.lock.unlock()
                if all { batch.done.signal() }
            }
            client.onError = { _, e in
                batch.lock.lock()
                if batch.error == nil { batch.error = "\(e)" }
                batch.lock.unlock()
                batch.done.signal()
            }
            fresh.append(client)
        }
        for c in fresh {
            do { try c.connect(to: url) } catch { return "connect: \(error)" }
        }
        batch.done.wait()
        clients += fresh
        return batch.error
    }

    /// Lets the loops finish what the burst left (timers, closes of the echo's tasks).
    static func settle(_ group: EventLoopGroup) {
        Thread.sleep(forTimeInterval: 0.5)
        for loop in group.makeIterator() { try? loop.submit {}.wait() }
    }

    static func run(url: String, connections: Int, size: Int, configuration: WebSocketClientConfiguration, group: EventLoopGroup) -> Never {
        guard connections >= 20 else { fail("idle: CONNS must be at least 20") }
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        var clients: [WebSocketClient] = []
        clients.reserveCapacity(connections)
        let first = connections / 10
        if let e = open(first, url: url, payload: payload, configuration: configuration, group: group, into: &clients) { fail(e) }
        settle(group)
        let before = sample()
        if let e = open(connections - first, url: url, payload: payload, configuration: configuration, group: group, into: &clients) { fail(e) }
        settle(group)
        let peak = peakResidentKiB()
        let after = sample()
        let added = Double(connections - first)
        let open = clients.filter { $0.state == .open }.count
        guard open == connections else { fail("idle: \(open) of \(connections) connections open at the end") }
        func perConnection(_ bytes: Int) -> String { String(format: "%.0f", Double(bytes) / added) }
        // The second batch started from the trimmed RSS (the first sample trims), so both RSS
        // figures are measured from there.
        print("IDLE client=netstack conns=\(connections) heap_per_conn=\(perConnection(after.heap - before.heap)) "
              + "rss_per_conn=\(perConnection(after.rss - before.trimmed)) trimmed_rss_per_conn=\(perConnection(after.trimmed - before.trimmed)) "
              + "peak_rss_kib=\(peak)")
        fflush(stdout)
        guard ProcessInfo.processInfo.environment["WSBENCH_IDLE_HOLD"] == nil else {
            // exit, not _exit: heaptrack writes its data at exit.
            exit(0)
        }
        for c in clients { try? c.close(code: 1000) }
        Thread.sleep(forTimeInterval: 0.2)
        // _exit, as main.swift explains: the loops are still closing connections.
        _exit(0)
    }
}
