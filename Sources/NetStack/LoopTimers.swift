import NIOCore
import NIOPosix

/// The timers of one event loop (the connections' connect, close and keepalive deadlines, and the
/// Lua host's `setTimeout` / `setInterval`), kept in a heap of our own behind a single task on the loop.
///
/// Why: every connection has two or three timers and nearly all of them are cancelled before they
/// fire. SwiftNIO removes a cancelled task from its queue with a linear search, so with thousands
/// of connections on a loop, opening and closing them costs O(n) each (quadratic in total). Here a
/// cancel is O(1) (the callback is dropped; its heap entry is skipped when it comes due, and the
/// heap is compacted when stale entries outnumber live ones), an insert O(log n), and the loop's
/// queue holds one task per loop.
///
/// Loop-confined: use it only from its loop's thread (`forCurrentLoop`).
package final class LoopTimers {
    package struct Handle: Hashable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        var deadline: NIODeadline
        var id: UInt64
    }

    private let eventLoop: EventLoop
    @exclusivity(unchecked) private var heap: [Entry] = []
    @exclusivity(unchecked) private var callbacks: [UInt64: () -> Void] = [:]
    @exclusivity(unchecked) private var nextID: UInt64 = 1
    @exclusivity(unchecked) private var armed: Scheduled<Void>?
    @exclusivity(unchecked) private var armedDeadline: NIODeadline?

    private init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    private static let perThread = ThreadSpecificVariable<LoopTimers>()

    /// The timers of the loop whose thread this is.
    package static func forCurrentLoop(_ eventLoop: EventLoop) -> LoopTimers {
        eventLoop.preconditionInEventLoop()
        return perThread.currentValue(orMake: { LoopTimers(eventLoop: eventLoop) })
    }

    /// Live timers (for tests).
    package var count: Int { callbacks.count }

    /// Runs `body` on the loop after `delay`, unless cancelled first.
    @discardableResult
    package func schedule(in delay: TimeAmount, _ body: @escaping () -> Void) -> Handle {
        let id = nextID
        nextID &+= 1
        // The loop's clock, not the wall's: an EmbeddedEventLoop's time is virtual (with the wall
        // clock, an advanced embedded loop re-armed the same timer until real time caught up).
        let deadline = eventLoop.now + delay
        callbacks[id] = body
        push(Entry(deadline: deadline, id: id))
        if armedDeadline == nil || deadline < armedDeadline! { arm(deadline) }
        return Handle(id: id)
    }

    /// Cancels a timer; a timer that already ran or was cancelled is ignored.
    package func cancel(_ handle: Handle?) {
        guard let h = handle, callbacks.removeValue(forKey: h.id) != nil else { return }
        if callbacks.isEmpty {
            heap.removeAll(keepingCapacity: heap.count < 1024)
            armed?.cancel()
            armed = nil
            armedDeadline = nil
        } else if heap.count > 2 * callbacks.count + 1024 {
            compact()
        }
    }

    private func arm(_ deadline: NIODeadline) {
        armed?.cancel()
        armedDeadline = deadline
        armed = eventLoop.scheduleTask(deadline: deadline) { [self] in
            self.armed = nil
            self.armedDeadline = nil
            self.fire()
        }
    }

    private func fire() {
        let now = eventLoop.now
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let body = callbacks.removeValue(forKey: top.id) { body() }
        }
        // Skip stale entries at the top, then wait for the next live one.
        while let top = heap.first, callbacks[top.id] == nil { popTop() }
        if let top = heap.first, armedDeadline == nil || top.deadline < armedDeadline! { arm(top.deadline) }
    }

    private func compact() {
        heap.removeAll { callbacks[$0.id] == nil }
        // Rebuild the heap property bottom-up.
        var i = heap.count / 2 - 1
        while i >= 0 {
            siftDown(i)
            i -= 1
        }
    }

    // MARK: Binary heap on deadline

    private func push(_ e: Entry) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if heap[parent].deadline <= heap[i].deadline { break }
            heap.swapAt(parent, i)
            i = parent
        }
    }

    private func popTop() {
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
    }

    private func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < n && heap[l].deadline < heap[smallest].deadline { smallest = l }
            if r < n && heap[r].deadline < heap[smallest].deadline { smallest = r }
            if smallest == i { return }
            heap.swapAt(i, smallest)
            i = smallest
        }
    }
}
