/// How many distinct series a store of metrics keeps (tags made from data, such as an id per
/// message, would otherwise grow it without bound): at most `series` in all, and of them at most
/// `trendSeries` trends (each trend series with samples holds a histogram of about 184 KiB).
/// Past either, samples go to the series `METRIC{overflow:true,scenario:NAME}`, one per metric and
/// scenario, which is made even beyond the limits (custom metrics are limited too:
/// `MetricCatalog.customLimit`; scenarios are few, named in the plan).
public struct SeriesLimits: Sendable, Equatable {
    public var series: Int
    public var trendSeries: Int
    public init(series: Int, trendSeries: Int) {
        self.series = series
        self.trendSeries = trendSeries
    }

    /// Each event loop's interval and the run's totals.
    public static let run = SeriesLimits(series: 20_000, trendSeries: 1_000)

    /// The series that takes the samples of `series` past the limits: its metric with the tag
    /// `overflow:true` and its `scenario` tag, if it has one (so a threshold or sub-metric of a
    /// scenario still counts them); its other tags are dropped.
    public static func overflowSeries(of series: String) -> String {
        let (metric, tags) = SeriesName.split(series)
        var kept = [("overflow", "true")]
        if let scenario = tags["scenario"] { kept.append(("scenario", scenario)) }
        return SeriesName.make(metric, tags: kept)
    }

    /// Whether a series new to a store that holds `series` series, `trendSeries` of them trends,
    /// goes to its overflow series instead.
    func overflows(kind: MetricKind, series: Int, trendSeries: Int) -> Bool {
        series >= self.series || (kind == .trend && trendSeries >= self.trendSeries)
    }
}
