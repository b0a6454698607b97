import Foundation
import NIOCore

/// Fetched bodies by key (a CRL's URL; an OCSP responder's URL and request), each kept for
/// `lifetime` seconds: at most 256 of them and `maxTotalBytes` together (the oldest go first; a
/// body larger than that is used but not kept), so servers cannot grow the cache without bound.
/// Concurrent fetches of one key share a request. Failures are not kept.
final class FetchCache: @unchecked Sendable {
    typealias Outcome = Result<[UInt8], HTTPFetch.Failure>

    static let maxEntries = 256
    static let maxTotalBytes = 64 << 20

    private let lifetime: TimeInterval
    private let lock = NSLock()
    private var entries: [String: (bytes: [UInt8], expires: Date)] = [:]
    /// Keys in the order they were kept (oldest first).
    private var order: [String] = []
    private(set) var totalBytes = 0
    private var inFlight: [String: EventLoopFuture<Outcome>] = [:]

    init(lifetime: TimeInterval) { self.lifetime = lifetime }

    /// The kept body for `key`, the fetch in flight for it, or a new fetch by `start`.
    func fetch(_ key: String, on loop: EventLoop, start: () -> EventLoopFuture<Outcome>) -> EventLoopFuture<Outcome> {
        lock.lock()
        if let e = entries[key], e.expires > Date() {
            lock.unlock()
            return loop.makeSucceededFuture(.success(e.bytes))
        }
        if let pending = inFlight[key] {
            lock.unlock()
            return pending.hop(to: loop)
        }
        let future = start()
        inFlight[key] = future
        lock.unlock()
        future.whenSuccess { [self] result in
            lock.lock()
            inFlight[key] = nil
            if case .success(let bytes) = result, bytes.count <= Self.maxTotalBytes {
                keep(key, bytes)
            }
            lock.unlock()
        }
        return future
    }

    /// Adds an entry, evicting the oldest until both bounds hold. Called with the lock held.
    private func keep(_ key: String, _ bytes: [UInt8]) {
        if let old = entries.removeValue(forKey: key) {
            totalBytes -= old.bytes.count
            order.removeAll { $0 == key }
        }
        while !order.isEmpty && (entries.count >= Self.maxEntries || totalBytes + bytes.count > Self.maxTotalBytes) {
            let oldest = order.removeFirst()
            if let e = entries.removeValue(forKey: oldest) { totalBytes -= e.bytes.count }
        }
        entries[key] = (bytes, Date().addingTimeInterval(lifetime))
        order.append(key)
        totalBytes += bytes.count
    }

    /// What is kept, for tests: entries and bytes.
    var kept: (entries: Int, bytes: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (entries.count, totalBytes)
    }
}
