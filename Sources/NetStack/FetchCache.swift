import Foundation
import NIOCore

/// Fetched bodies by key (a CRL's URL; an OCSP responder's URL and request), each kept for
/// `lifetime` seconds, at most 256 of them; concurrent fetches of one key share a request.
/// Failures are not kept.
final class FetchCache: @unchecked Sendable {
    typealias Outcome = Result<[UInt8], HTTPFetch.Failure>

    private let lifetime: TimeInterval
    private let lock = NSLock()
    private var entries: [String: (bytes: [UInt8], expires: Date)] = [:]
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
            if case .success(let bytes) = result {
                if entries.count >= 256 { entries.removeAll() }
                entries[key] = (bytes, Date().addingTimeInterval(lifetime))
            }
            lock.unlock()
        }
        return future
    }
}
