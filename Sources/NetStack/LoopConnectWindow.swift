import NIOCore
import NIOPosix

/// How many of one event loop's connections may be opening at once (from dialing to open or
/// failure); the rest wait in order and start as places free up.
///
/// Why: a connection that is opening holds more than an open one (SwiftNIO's bootstrap futures
/// and its connect-timeout task, the upgrade handler, TLS handshake state), and when thousands
/// open at the same instant all of that is alive together and leaves the heap fragmented for as
/// long as the connections live. SwiftNIO also cancels each connect-timeout task with a linear
/// search of the loop's queue, so its cost grows with the number opening at once. RFC 6455
/// section 4.1 asks clients to limit simultaneous pending connections for the same reason.
///
/// The limit is per loop: `NETSTACK_MAX_OPENING` from the environment (a whole number; 0 means no
/// limit), else `defaultLimit`. A connection's connect timeout runs from when it gets its place.
///
/// Loop-confined: use it only from its loop's thread (`forCurrentLoop`).
package final class LoopConnectWindow {
    private let eventLoop: EventLoop
    /// At most this many opening at once; 0: no limit. Changing it affects later `enter`s.
    @exclusivity(unchecked) package var limit: Int
    @exclusivity(unchecked) private var opening = 0
    @exclusivity(unchecked) private var waiting = CircularBuffer<() -> Void>()

    /// Connections of one loop that may be opening at once, unless the environment says otherwise.
    package static let defaultLimit = 1024

    /// `NETSTACK_MAX_OPENING`, or `defaultLimit` when it is unset or not a whole number ≥ 0.
    package static let processLimit: Int = {
        TuningEnvironment.wholeNumber("NETSTACK_MAX_OPENING") ?? defaultLimit
    }()

    /// A window of its own (tests); connections use `forCurrentLoop`.
    package init(eventLoop: EventLoop, limit: Int) {
        self.eventLoop = eventLoop
        self.limit = limit
    }

    private static let perThread = ThreadSpecificVariable<LoopConnectWindow>()

    /// The window of the loop whose thread this is.
    package static func forCurrentLoop(_ eventLoop: EventLoop) -> LoopConnectWindow {
        eventLoop.preconditionInEventLoop()
        return perThread.currentValue(orMake: { LoopConnectWindow(eventLoop: eventLoop, limit: processLimit) })
    }

    /// Connections holding a place (for tests).
    package var openingCount: Int { opening }
    /// Connections waiting for a place (for tests).
    package var waitingCount: Int { waiting.count }

    /// Runs `start` now when a place is free (and returns true), or later, on the loop, when one
    /// frees up (false). Whoever it runs for holds a place until it calls `leave()`, which it must
    /// do exactly once, also when it has nothing left to do by the time `start` runs.
    @discardableResult
    package func enter(_ start: @escaping () -> Void) -> Bool {
        if limit <= 0 || opening < limit {
            opening += 1
            start()
            return true
        }
        waiting.append(start)
        return false
    }

    /// Gives a place back; the next waiting start (if any) gets it, in a task of its own.
    package func leave() {
        opening -= 1
        guard limit <= 0 || opening < limit, let next = waiting.popFirst() else { return }
        opening += 1
        eventLoop.execute(next)
    }
}
