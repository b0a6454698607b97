import Foundation
import NetStack

/// `--report FILE.html`: one self-contained HTML file (inline CSS and SVG, no script, nothing
/// fetched) with charts over time of the rates, the latencies (med, p95, p99 of every trend), the
/// errors and the VUs, then the thresholds and the summary table.
public enum HTMLReport {
    public struct Run {
        public var script: String
        public var runID: String
        public var startedAt: Date
        public var duration: Double
        public var status: Int32
        public var summary: String
        public var thresholds: [ThresholdResult]
        public init(script: String, runID: String, startedAt: Date, duration: Double, status: Int32, summary: String, thresholds: [ThresholdResult]) {
            self.script = script
            self.runID = runID
            self.startedAt = startedAt
            self.duration = duration
            self.status = status
            self.summary = summary
            self.thresholds = thresholds
        }
    }

    /// Counters charted as errors (per second); every other counter is a rate.
    static let errorCounters: Set<String> = [BuiltinMetrics.connectFailures, BuiltinMetrics.errors, BuiltinMetrics.scriptErrors,
                                             BuiltinMetrics.droppedIterations, BuiltinMetrics.interruptedIterations]
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

    public static func render(_ run: Run, timeline: ReportTimeline) -> String {
        let points = timeline.points
        func series(_ value: (ReportTimeline.Point) -> Double?) -> [(Double, Double)] {
            points.compactMap { p in value(p).map { (p.time, $0) } }
        }
        var body = ""
        let stamp = ISO8601DateFormatter().string(from: run.startedAt)
        body += "<h1>netstack load run: \(escape(run.script))</h1>\n"
        body += "<p class=\"meta\">run <code>\(escape(run.runID))</code> · started \(stamp) · \(String(format: "%.1f", run.duration)) s · "
        body += "exit status <b class=\"\(run.status == 0 ? "pass" : "fail")\">\(run.status)</b></p>\n"

        let counters = timeline.counters.subtracting(errorCounters)
        let bytes = counters.filter { timeline.units[$0] == .bytes }.sorted()
        let rates = counters.subtracting(bytes).sorted()
        body += section("rates", "Rates (per second)", [chart("rates", unit: "/s",
                        rates.map { name in (name, series { $0.rates[name] ?? 0 }) })])
        if !bytes.isEmpty {
            body += section("throughput", "Throughput (bytes per second)", [chart("throughput", unit: "B/s",
                            bytes.map { name in (name, series { $0.rates[name] ?? 0 }) })])
        }
        let trends = Set(points.flatMap { $0.trends.keys }).sorted()
        var latency: [String] = []
        for name in trends {
            let unit = timeline.units[name] == .milliseconds ? "ms" : ""
            latency.append("<h3>\(escape(name))</h3>\n" + chart("trend-\(name)", unit: unit, [
                ("med", series { $0.trends[name]?[0] }), ("p95", series { $0.trends[name]?[1] }), ("p99", series { $0.trends[name]?[2] }),
            ]))
        }
        body += section("latency", "Latency and other trends (med, p95, p99)", latency.isEmpty ? ["<p class=\"none\">no trend samples</p>"] : latency)
        // Every error counter is drawn, at 0 when the run had none of it.
        let errors = errorCounters.sorted()
        body += section("errors", "Errors (per second)", [chart("errors", unit: "/s", errors.map { name in (name, series { $0.rates[name] ?? 0 }) })])
        let gauges = Set(points.flatMap { $0.gauges.keys }).sorted()
        body += section("vus", "VUs and other gauges", [chart("gauges", unit: "", gauges.map { name in (name, series { $0.gauges[name] }) })])

        if !run.thresholds.isEmpty {
            var rows = "<table><tr><th>metric</th><th>threshold</th><th>value</th><th></th></tr>\n"
            for r in run.thresholds {
                rows += "<tr><td>\(escape(r.threshold.target))</td><td><code>\(escape(r.threshold.expression))</code></td>"
                rows += "<td>\(r.actual.map { SummaryTable.number($0) } ?? "-")</td>"
                rows += "<td class=\"\(r.passed ? "pass" : "fail")\">\(r.passed ? "✓ pass" : "✗ fail")</td></tr>\n"
            }
            body += section("thresholds", "Thresholds", [rows + "</table>"])
        }
        body += section("summary", "Summary", ["<pre>\(escape(run.summary))</pre>"])
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="generator" content="netstack \(escape(NetStackVersion.string))">
        <title>netstack report: \(escape(run.script))</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 860px; color: #222; }
        h1 { font-size: 1.4em; } h2 { font-size: 1.15em; border-bottom: 1px solid #ddd; } h3 { font-size: 1em; margin: 1em 0 0; }
        .meta { color: #555; } .pass { color: #2a7d2a; } .fail { color: #c0392b; } .none { color: #888; }
        svg.chart { display: block; background: #fafafa; border: 1px solid #eee; }
        svg.chart text { font: 11px sans-serif; fill: #555; }
        svg.chart .grid { stroke: #e4e4e4; } svg.chart .series { fill: none; stroke-width: 1.6; }
        pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 12px; }
        .legend { margin: 4px 0 12px; font-size: 12px; } .legend span { margin-right: 12px; white-space: nowrap; }
        .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
        table { border-collapse: collapse; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
        </style>
        </head>
        <body>
        \(body)</body>
        </html>

        """
    }

    static func section(_ id: String, _ title: String, _ parts: [String]) -> String {
        "<section id=\"\(id)\">\n<h2>\(escape(title))</h2>\n" + parts.joined(separator: "\n") + "\n</section>\n"
    }

    /// A line chart as inline SVG: time on x (seconds), values on y from 0, a polyline per series
    /// (class "series", data-series its name), grid lines with labels, a legend.
    static func chart(_ id: String, unit: String, _ series: [(String, [(Double, Double)])]) -> String {
        let width = 820.0, height = 220.0, left = 72.0, right = 16.0, top = 12.0, bottom = 24.0
        let all = series.flatMap { $0.1 }
        guard !all.isEmpty else { return "<p class=\"none\">no samples</p>" }
        let maxT = max(all.map(\.0).max() ?? 1, 1e-3)
        var maxV = all.map(\.1).filter(\.isFinite).max() ?? 1
        if maxV <= 0 { maxV = 1 }
        maxV = niceCeiling(maxV)
        func x(_ t: Double) -> Double { left + t / maxT * (width - left - right) }
        func y(_ v: Double) -> Double { top + (1 - min(max(v, 0), maxV) / maxV) * (height - top - bottom) }
        var svg = "<svg class=\"chart\" data-chart=\"\(escape(id))\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">\n"
        for i in 0...4 {
            let v = maxV * Double(i) / 4
            svg += "<line class=\"grid\" x1=\"\(f(left))\" y1=\"\(f(y(v)))\" x2=\"\(f(width - right))\" y2=\"\(f(y(v)))\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y(v) + 4))\" text-anchor=\"end\">\(escape(SummaryTable.number(v)))\(escape(unit))</text>\n"
        }
        for i in 0...5 {
            let t = maxT * Double(i) / 5
            svg += "<text x=\"\(f(x(t)))\" y=\"\(f(height - bottom + 16))\" text-anchor=\"middle\">\(escape(SummaryTable.number(t)))s</text>\n"
        }
        var legend = "<div class=\"legend\">"
        for (i, (name, values)) in series.enumerated() {
            let colour = palette[i % palette.count]
            let pts = values.filter { $0.1.isFinite }.map { "\(f(x($0.0))),\(f(y($0.1)))" }.joined(separator: " ")
            svg += "<polyline class=\"series\" data-series=\"\(escape(name))\" stroke=\"\(colour)\" points=\"\(pts)\"/>\n"
            legend += "<span><i style=\"background:\(colour)\"></i>\(escape(name))</span> "
        }
        return svg + "</svg>\n" + legend + "</div>"
    }

    /// 1, 2 or 5 times a power of ten, at least `v`.
    static func niceCeiling(_ v: Double) -> Double {
        let p = pow(10, floor(log10(v)))
        for m in [1.0, 2.0, 5.0, 10.0] where m * p >= v { return m * p }
        return 10 * p
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
