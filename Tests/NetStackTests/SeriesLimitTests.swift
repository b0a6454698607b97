import Foundation
import NetStackLoad
import XCTest

/// Metrics whose tags come from data (an id per message) must not grow a run's memory without
/// bound: trend histograms exist only for series with samples, and a loop's interval and the
/// run's totals keep a limited number of series, the rest going to `METRIC{overflow:true}`.
final class SeriesLimitTests: XCTestCase {
    func testATrendHasAHistogramOnlyOnceItHasSamples() throws {
        var fresh = MetricValue(kind: .trend)
        XCTAssertNil(fresh.histogram)
        XCTAssertEqual(fresh.percentile(95), 0)

        // Merging into an empty trend gives the same value as the one merged (and nothing when
        // the other is empty too).
        var sampled = MetricValue(kind: .trend)
        for v in [1.0, 2.5, 40, 7] { sampled.add(v) }
        XCTAssertNotNil(sampled.histogram)
        var merged = MetricValue(kind: .trend)
        merged.merge(MetricValue(kind: .trend))
        XCTAssertNil(merged.histogram)
        merged.merge(sampled)
        XCTAssertEqual(merged, sampled)
        // The merged value's histogram is its own once written to.
        merged.add(1000)
        XCTAssertEqual(sampled.count, 4)
        XCTAssertEqual(sampled.maximum, 40)
        XCTAssertEqual(merged.percentile(100), 1000)

        // An empty trend is written without a histogram and read back equal, also from files
        // that wrote an empty one.
        let data = try JSONEncoder().encode(fresh)
        XCTAssertFalse(String(decoding: data, as: UTF8.self).contains("histogram"))
        XCTAssertEqual(try JSONDecoder().decode(MetricValue.self, from: data), fresh)
        let older = Data(#"{"kind":"trend","sum":0,"count":0,"histogram":[]}"#.utf8)
        XCTAssertEqual(try JSONDecoder().decode(MetricValue.self, from: older), fresh)
        let back = try JSONDecoder().decode(MetricValue.self, from: JSONEncoder().encode(sampled))
        XCTAssertEqual(back.percentile(50), sampled.percentile(50))
        XCTAssertEqual(back.count, 4)
        fresh.add(3)
        XCTAssertEqual(fresh.percentile(50), 3)
    }

    func testALoopKeepsItsLimitsAndSaysSoOnce() {
        var first: [String] = []
        let loop = LoopMetrics(limits: SeriesLimits(series: 6, trendSeries: 3), onFirstOverflow: { first.append($0) })
        let trends = (1...5).map { loop.handle("lat{id:\($0)}", kind: .trend) }
        XCTAssertEqual(Set(trends[0..<3]).count, 3, "three trend series of their own")
        XCTAssertEqual(trends[3], trends[4], "the fourth and fifth share the overflow series")
        XCTAssertEqual(first, ["lat{id:4}"])
        XCTAssertEqual(loop.overflowed, 2)
        // Other kinds go on until the series limit (the overflow series counts as one).
        let a = loop.handle("hits{id:1}", kind: .counter)
        let b = loop.handle("hits{id:2}", kind: .counter)
        XCTAssertNotEqual(a, b)
        let c = loop.handle("hits{id:3}", kind: .counter)
        XCTAssertEqual(c, loop.handle("hits{id:4}", kind: .counter))
        XCTAssertEqual(loop.handle("lat{id:2}", kind: .trend), trends[1], "a known series keeps its handle")
        XCTAssertEqual(first.count, 1, "said once")

        for (i, h) in trends.enumerated() { loop.add(h, Double(i + 1)) }
        for h in [a, b, c] { loop.add(h, 1) }
        let set = loop.drain(definitions: ["lat": .init(kind: .trend), "hits": .init(kind: .counter)])
        XCTAssertEqual(set.series["lat{overflow:true}"]?.count, 2)
        XCTAssertEqual(set.series["lat{overflow:true}"]?.sum, 9)
        XCTAssertEqual(set.series["hits{overflow:true}"]?.sum, 1)
        XCTAssertEqual(set.aggregate("lat")?.count, 5, "no sample is lost")
        XCTAssertEqual(set.aggregate("hits")?.sum, 3)
        // A drained series starts its next interval without a histogram.
        let next = loop.drain(definitions: [:])
        XCTAssertTrue(next.series.isEmpty)
    }

    func testTheTotalsKeepTheLimitsAcrossLoops() {
        let defs: [String: MetricDefinition] = ["lat": .init(kind: .trend), "hits": .init(kind: .counter)]
        func interval(_ ids: ClosedRange<Int>) -> MetricSet {
            var s = MetricSet()
            s.definitions = defs
            for i in ids {
                var t = MetricValue(kind: .trend)
                t.add(Double(i))
                s.series["lat{id:\(i)}"] = t
                var c = MetricValue(kind: .counter)
                c.add(1)
                s.series["hits{id:\(i)}"] = c
            }
            return s
        }
        // The trend limit: two loops saw different ids, 3 + 3 trend series.
        var total = MetricSet()
        let trendLimit = SeriesLimits(series: 100, trendSeries: 4)
        XCTAssertEqual(total.merge(interval(1...3), within: trendLimit), 0)
        XCTAssertEqual(total.merge(interval(4...6), within: trendLimit), 2, "lat 5 and 6")
        XCTAssertEqual(total.series.values.filter { $0.kind == .trend }.count, 5, "four and the overflow series")
        XCTAssertEqual(total.series["lat{overflow:true}"]?.count, 2)
        XCTAssertEqual(total.series["hits{id:6}"]?.sum, 1, "counters are not trends")
        // Known series still merge where they are; new ones overflow.
        XCTAssertEqual(total.merge(interval(1...1), within: trendLimit), 0)
        XCTAssertEqual(total.series["lat{id:1}"]?.count, 2)
        XCTAssertEqual(total.merge(interval(7...7), within: trendLimit), 1)
        XCTAssertEqual(total.aggregate("lat")?.count, 8, "every sample is in the totals")
        XCTAssertEqual(total.aggregate("hits")?.sum, 8)

        // The series limit, in name order: hits 4 and 5 fit, then everything new overflows.
        var counted = MetricSet()
        let seriesLimit = SeriesLimits(series: 8, trendSeries: 100)
        XCTAssertEqual(counted.merge(interval(1...3), within: seriesLimit), 0)
        XCTAssertEqual(counted.merge(interval(4...6), within: seriesLimit), 4)
        XCTAssertEqual(Set(counted.series.keys).subtracting(interval(1...3).series.keys),
                       ["hits{id:4}", "hits{id:5}", "hits{overflow:true}", "lat{overflow:true}"])
        XCTAssertEqual(counted.series["lat{overflow:true}"]?.count, 3)
        XCTAssertEqual(counted.aggregate("hits")?.sum, 6)
    }

    /// The overflow series keeps the scenario (one per metric and scenario), so thresholds and
    /// sub-metrics of a scenario still count what overflowed; other tags are dropped.
    func testOverflowSeriesKeepTheirScenario() {
        XCTAssertEqual(SeriesLimits.overflowSeries(of: "lat{id:3,room:a,scenario:chat}"), "lat{overflow:true,scenario:chat}")
        XCTAssertEqual(SeriesLimits.overflowSeries(of: "lat{id:3}"), "lat{overflow:true}")
        XCTAssertEqual(SeriesLimits.overflowSeries(of: "lat"), "lat{overflow:true}")
        let loop = LoopMetrics(limits: SeriesLimits(series: 100, trendSeries: 1))
        let kept = loop.handle("lat{id:1,scenario:a}", kind: .trend)
        let a = loop.handle("lat{id:2,scenario:a}", kind: .trend)
        let b = loop.handle("lat{id:3,scenario:b}", kind: .trend)
        XCTAssertEqual(a, loop.handle("lat{id:4,scenario:a}", kind: .trend))
        XCTAssertEqual(Set([kept, a, b]).count, 3)
        for h in [kept, a, a, b] { loop.add(h, 1) }
        let set = loop.drain(definitions: ["lat": .init(kind: .trend)])
        XCTAssertEqual(set.series["lat{overflow:true,scenario:a}"]?.count, 2)
        XCTAssertEqual(set.series["lat{overflow:true,scenario:b}"]?.count, 1)
        XCTAssertEqual(set.aggregate("lat", tags: ["scenario": "a"])?.count, 3)
        // The totals fold the same way.
        var total = MetricSet()
        XCTAssertEqual(total.merge(set, within: SeriesLimits(series: 100, trendSeries: 1)), 2)
        XCTAssertEqual(total.aggregate("lat", tags: ["scenario": "b"])?.count, 1)
        XCTAssertEqual(total.aggregate("lat")?.count, 4)
    }
}
