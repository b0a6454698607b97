#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// Adaptive busy polling for one event loop.
///
/// After a connection writes, an answer usually follows: on a local or nearby peer within tens of
/// microseconds. A loop that goes to sleep in `epoll_wait` right after the write pays for the wake-up
/// when the answer comes, and on virtual machines that is most of a round trip (measured here:
/// p50 58 µs per loopback echo sleeping, 22 µs polling). So after a write the loop polls its own epoll
/// instance (a zero-timeout `poll` on SwiftNIO's selector descriptor, which is readable when any of
/// the loop's sockets, timers or wake-ups is) for up to the connection's `busyPoll` budget, and
/// returns to SwiftNIO as soon as anything is ready.
///
/// It adapts: a poll that ends without anything becoming ready is a miss, and after `k` misses in a
/// row the next `2^k - 1` requests (at most 1023) are skipped; one hit resets that. A peer that
/// answers slowly (a remote server, an idle bot) so costs one budget per 1024 writes at worst.
///
/// Off on machines with one usable core (polling would take the time the peer needs), when the
/// budget is zero, and on loops that never wait in epoll (then the descriptor is not found within
/// two seconds and nothing polls). While it polls, tasks submitted to the loop from other threads wait
/// (at most one budget).
///
/// Loop-confined: use it only from its loop's thread (`forCurrentLoop`).
final class LoopBusyPoll {
    /// The most one poll may take, whatever a configuration asks for.
    static let maximumBudget: TimeAmount = .milliseconds(1)

    private let eventLoop: EventLoop
    /// The loop's epoll descriptor, once the probe found it.
    private(set) var epollFD: CInt?
    private var scheduled = false
    /// The budget of the last poll.
    private(set) var budget: TimeAmount = .zero
    private var missesInARow = 0
    private var skip = 0

    /// Counters, for tests and diagnostics.
    struct Statistics: Equatable, Sendable {
        var polls = 0
        var hits = 0
        var misses = 0
        var skipped = 0
    }
    private(set) var statistics = Statistics()

    private init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// How long the probe samples the loop's thread for an epoll wait.
    static let probeTimeout: Double = 2

    private final class Slot {
        let poller: LoopBusyPoll?
        init(_ poller: LoopBusyPoll?) { self.poller = poller }
    }
    private static let perThread = ThreadSpecificVariable<Slot>()

    /// More than one core available to this process.
    static let multiCore = System.coreCount > 1

    /// The poller of the loop whose thread this is, or nil where busy polling cannot work. A new
    /// poller starts looking for the loop's epoll descriptor and polls once it is known.
    static func forCurrentLoop(_ eventLoop: EventLoop) -> LoopBusyPoll? {
        eventLoop.preconditionInEventLoop()
        if let slot = perThread.currentValue { return slot.poller }
        var poller: LoopBusyPoll?
        if multiCore, let thread = EpollDescriptorProbe.currentThread() {
            let p = LoopBusyPoll(eventLoop: eventLoop)
            poller = p
            let bound = NIOLoopBound(p, eventLoop: eventLoop)
            EpollDescriptorProbe.find(waitedOnBy: thread, timeout: probeTimeout) { fd in
                guard let fd = fd else { return }
                eventLoop.execute { bound.value.epollFD = fd }
            }
        }
        perThread.currentValue = Slot(poller)
        return poller
    }

    /// Asks the loop to poll for up to `budget` once the current tick's work is done.
    func request(budget: TimeAmount) {
        guard budget.nanoseconds > 0, !scheduled, epollFD != nil else { return }
        if skip > 0 {
            skip -= 1
            statistics.skipped += 1
            return
        }
        scheduled = true
        self.budget = min(budget, Self.maximumBudget)
        eventLoop.execute { [self] in self.poll() }
    }

    private func poll() {
        scheduled = false
        guard let epollFD = epollFD else { return }
        statistics.polls += 1
        var pfd = pollfd(fd: epollFD, events: Int16(POLLIN), revents: 0)
        let end = NIODeadline.now() + budget
        repeat {
            let ready = Glibc.poll(&pfd, 1, 0)
            if ready != 0 {
                // Ready (or the descriptor failed: stop polling and let the loop find out).
                statistics.hits += 1
                missesInARow = 0
                return
            }
        } while NIODeadline.now() < end
        statistics.misses += 1
        missesInARow += 1
        skip = (1 << min(missesInARow, 10)) - 1
    }
}
