import Foundation

/// Script errors of all VUs: each distinct message (its first line) is printed once, with its
/// traceback, and counted; the summary lists the counts.
public final class ErrorReport: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var notesGiven: Set<String> = []
    private var order: [String] = []
    private let sink: (String) -> Void
    /// Distinct messages kept at most; later ones are only counted.
    public static let distinctLimit = 100
    private(set) var uncounted = 0

    public init(sink: @escaping (String) -> Void) { self.sink = sink }
    var noteSink: (String) -> Void { sink }

    func report(_ message: String, vu: Int) {
        let key = message.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? message
        lock.lock()
        let first = counts[key] == nil
        if first && counts.count >= ErrorReport.distinctLimit {
            uncounted += 1
            lock.unlock()
            return
        }
        counts[key, default: 0] += 1
        if first { order.append(key) }
        lock.unlock()
        if first { sink("\(message) (VU \(vu); later occurrences are counted in the summary)") }
    }

    /// Each distinct message with how often it occurred, in the order first seen.
    public var entries: [(message: String, count: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return order.map { ($0, counts[$0]!) }
    }

    public var total: Int {
        lock.lock()
        defer { lock.unlock() }
        return counts.values.reduce(0, +) + uncounted
    }
}

extension ErrorReport {
    /// A host note (not a script error, not counted).
    func reportNote(_ message: String) { sinkNote(message) }

    /// A host note given once per run for `key`, whichever thread asks first.
    func reportNoteOnce(key: String, _ message: @autoclosure () -> String) {
        lock.lock()
        let first = notesGiven.insert(key).inserted
        lock.unlock()
        if first { sinkNote(message()) }
    }
    private func sinkNote(_ message: String) { noteSink(message) }
}
