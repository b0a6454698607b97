import Atomics
import Dispatch
import LuaHost
import NIOCore

/// The iterations one VU runs on its own loop between two reports to the control loop
/// (`ScenarioRunner.launch`). Confined to the VU's loop.
final class LocalIterations: @unchecked Sendable {
    let vu: VirtualUser
    let budget: Int
    let endAt: UInt64
    let stopSignal: ManagedAtomic<Bool>
    let report: (Int, IterationEnd) -> Void
    var count = 0

    init(vu: VirtualUser, budget: Int, endAt: UInt64, stopSignal: ManagedAtomic<Bool>, report: @escaping (Int, IterationEnd) -> Void) {
        self.vu = vu
        self.budget = budget
        self.endAt = endAt
        self.stopSignal = stopSignal
        self.report = report
    }

    func next() {
        vu.iterate { [self] end in
            count += 1
            if case .exit = end { return report(count, end) }
            if count < budget && !stopSignal.load(ordering: .relaxed) && DispatchTime.now().uptimeNanoseconds < endAt {
                // Not from inside the iteration's end (an iteration can end within its own
                // start): the next one is a new task on this loop.
                vu.eventLoop.execute { self.next() }
            } else {
                report(count, end)
            }
        }
    }
}
