import NIOCore
import NIOPosix

/// The timers of one event loop (the connections' connect, close and keepalive deadlines, and the
/// Lua host's `setTimeout` / `setInterval`), kept in a heap of our own behind a single task on the loop.
///
/// Why: every connection has two or three timers and nearly all of them are cancelled before they
/// fire. SwiftNIO removes a cancelled task from its queue with a linear search, so with thousands
/// of connections on a loop, opening and closing them costs O(n) each (quadratic in total). Here a
/// cancel is O(1) (the callback is dropped from its slot, found by index; its heap entry is
/// skipped when it comes due, and the heap is compacted when stale entries outnumber live ones),
/// an insert O(log n), and the loop's queue holds one task per loop. (The callbacks were in a
/// dictionary: with thousands of timers a removal rehashed its neighbours, about 1,300
/// instructions per cancel.)
///
/// Loop-confined: use it only from its loop's thread (`forCurrentLoop`).
package final class LoopTimers {
    /// A slot and the generation it had when the timer was scheduled: a slot is reused once its
    /// timer ran or was cancelled, with the next generation, so an old handle or heap entry never
    /// matches the new timer.
    package struct Handle: Hashable {
        fileprivate let slot: UInt32
        fileprivate let generation: UInt32
    }

    private struct Entry {
        var deadline: NIODeadline
        var slot: UInt32
        var generation: UInt32
    }

    private struct Slot {
        var generation: UInt32 = 0
        var body: (() -> Void)?
    }

    private let eventLoop: EventLoop
    @exclusivity(unchecked) private var heap: [Entry] = []
    /// Callbacks by slot (no hashing: a timer's slot is its index). Cancelled and fired slots go
    /// on `free` for reuse. A stale heap entry lives until its deadline or the next compaction,
    /// far fewer reuses of its slot than the 2^32 generations it would take to match again.
    @exclusivity(unchecked) private var slots: [Slot] = []
    @exclusivity(unchecked) private var free: [UInt32] = []
    @exclusivity(unchecked) private var live = 0
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
    package var count: Int { live }

    /// Runs `body` on the loop after `delay`, unless cancelled first.
    @discardableResult
    package func schedule(in delay: TimeAmount, _ body: @escaping () -> Void) -> Handle {
        let slot: UInt32
        if let reused = free.popLast() {
            slot = reused
        } else {
            slot = UInt32(slots.count)
            slots.append(Slot())
        }
        slots[Int(slot)].body = body
        live += 1
        let generation = slots[Int(slot)].generation
        // The loop's clock, not the wall's: an EmbeddedEventLoop's time is virtual (with the wall
        // clock, an advanced embedded loop re-armed the same timer until real time caught up).
        let deadline = eventLoop.now + delay
        push(Entry(deadline: deadline, slot: slot, generation: generation))
        if armedDeadline == nil || deadline < armedDeadline! { arm(deadline) }
        return Handle(slot: slot, generation: generation)
    }

    /// The callback of a timer still pending, nil once it ran or was cancelled.
    private func pending(slot: UInt32, generation: UInt32) -> (() -> Void)? {
        guard Int(slot) < slots.count, slots[Int(slot)].generation == generation else { return nil }
        return slots[Int(slot)].body
    }

    /// Ends a pending timer: its slot goes back for reuse, with the next generation.
    private func release(_ slot: UInt32) {
        slots[Int(slot)].body = nil
        slots[Int(slot)].generation &+= 1
        free.append(slot)
        live -= 1
    }

    /// Cancels a timer; a timer that already ran or was cancelled is ignored.
    package func cancel(_ handle: Handle?) {
        guard let h = handle, pending(slot: h.slot, generation: h.generation) != nil else { return }
        release(h.slot)
        if live == 0 {
            heap.removeAll(keepingCapacity: heap.count < 1024)
            armed?.cancel()
            armed = nil
            armedDeadline = nil
        } else if heap.count > 2 * live + 1024 {
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
            if let body = pending(slot: top.slot, generation: top.generation) {
                release(top.slot)
                body()
            }
        }
        // Skip stale entries at the top, then wait for the next live one.
        while let top = heap.first, pending(slot: top.slot, generation: top.generation) == nil { popTop() }
        if let top = heap.first, armedDeadline == nil || top.deadline < armedDeadline! { arm(top.deadline) }
    }

    private func compact() {
        heap.removeAll { pending(slot: $0.slot, generation: $0.generation) == nil }
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
