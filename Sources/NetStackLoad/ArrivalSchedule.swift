import Foundation

/// When the iterations of an arrival-rate scenario start (an open model). The rate r(t), in
/// iterations per `timeUnit`, starts at `startRate` and moves linearly through the stages.
/// Iteration j (0, 1, 2, ...) starts at the first instant t where ∫₀ᵗ r > j, if that is before
/// the end: a constant rate R per second for D seconds starts ⌈R·D⌉ iterations, at 0, 1/R, 2/R, ...
public struct ArrivalSchedule: Equatable, Sendable {
    public let startRate: Int
    public let timeUnit: LoadDuration
    public let stages: [Stage]

    public init(startRate: Int, timeUnit: LoadDuration, stages: [Stage]) {
        self.startRate = startRate
        self.timeUnit = timeUnit
        self.stages = stages
    }

    public init(rate: Int, timeUnit: LoadDuration, duration: LoadDuration) {
        self.init(startRate: rate, timeUnit: timeUnit, stages: [Stage(duration: duration, target: rate)])
    }

    public var duration: LoadDuration { stages.reduce(.zero) { $0 + $1.duration } }

    /// Iterations started over the whole schedule: ⌈∫ r⌉ (computed in exact integers).
    public var totalArrivals: Int {
        // ∫ over a stage of length d from a to b (per unit u) = (a+b)·d / (2u).
        var twiceArea: Double = 0
        var from = startRate
        for s in stages {
            twiceArea += Double(from + s.target) * Double(s.duration.nanoseconds) / Double(timeUnit.nanoseconds)
            from = s.target
        }
        let area = twiceArea / 2
        let n = area.rounded(.up)
        // Float error can put an exact whole area a hair above it.
        return abs(area - area.rounded()) < 1e-9 ? Int(area.rounded()) : Int(n)
    }

    /// The start of iteration `j`, in nanoseconds from the schedule's start (nil after the end).
    public func start(of j: Int) -> Int64? {
        let target = Double(j)
        var integral = 0.0
        var from = Double(startRate)
        var t0: Int64 = 0
        let unit = Double(timeUnit.nanoseconds)
        for s in stages {
            let d = Double(s.duration.nanoseconds)
            let to = Double(s.target)
            let area = (from + to) * d / (2 * unit)
            if integral + area > target + 1e-9 {
                // Solve a·τ + (b-a)·τ²/(2d) = x (τ in ns, rates per ns), the smallest τ ≥ 0.
                let x = target - integral
                let a = from / unit, b = to / unit
                var tau: Double
                if abs(b - a) < 1e-18 {
                    tau = x / a
                } else {
                    let k = (b - a) / d
                    let disc = max(0, a * a + 2 * k * x)
                    tau = (-a + disc.squareRoot()) / k
                }
                if !tau.isFinite || tau < 0 { tau = 0 }
                return t0 + Int64(min(tau.rounded(.down), d))
            }
            integral += area
            from = to
            t0 += s.duration.nanoseconds
        }
        return nil
    }
}
