/// A piecewise-linear target over time (ramping VUs): `start`, then each stage moves linearly
/// to its target over its duration. The target at time t is the interpolation rounded down.
public struct RampSchedule: Equatable, Sendable {
    public let start: Int
    public let stages: [Stage]

    public init(start: Int, stages: [Stage]) {
        self.start = start
        self.stages = stages
    }

    public var duration: LoadDuration { stages.reduce(.zero) { $0 + $1.duration } }

    /// The target `nanoseconds` after the start (the last stage's target after the end).
    public func target(at nanoseconds: Int64) -> Int {
        var from = start
        var t0: Int64 = 0
        for s in stages {
            let t1 = t0 + s.duration.nanoseconds
            if nanoseconds < t1 {
                let f = Double(nanoseconds - t0) / Double(s.duration.nanoseconds)
                let v = Double(from) + Double(s.target - from) * f
                return Int(v.rounded(.down))
            }
            from = s.target
            t0 = t1
        }
        return from
    }
}
