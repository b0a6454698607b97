import Foundation

/// `--out json=FILE` and `--out csv=FILE`: one record per series per interval, with the
/// interval's own numbers (counters: what was added in it; trends: its distribution).
public final class IntervalWriter {
    public enum Format { case json, csv }
    let format: Format
    let file: OutputFile
    /// Why the file stopped being written (a full disk...), or nil.
    public var failure: String? { file.failure }

    public init(path: String, format: Format) throws {
        do { file = try OutputFile(path: path) } catch let e as LoadOptionError { throw LoadOptionError("--out: \(e.message)") }
        self.format = format
        if format == .csv {
            file.write("time,metric,tags,type,count,value,min,avg,med,p90,p95,p99,max\n")
        }
    }

    public func write(_ set: MetricSet, time: Double) {
        var out = ""
        for key in set.series.keys.sorted() {
            let v = set.series[key]!
            let (metric, tags) = SeriesName.split(key)
            switch format {
            case .json:
                var fields = ["\"time\":\(String(format: "%.3f", time))", "\"metric\":\(quote(metric))", "\"type\":\"\(v.kind.rawValue)\"",
                              "\"tags\":{" + tags.sorted { $0.key < $1.key }.map { "\(quote($0.key)):\(quote($0.value))" }.joined(separator: ",") + "}",
                              "\"count\":\(v.count)", "\"value\":\(num(v.value))"]
                if v.kind == .trend {
                    fields += ["\"min\":\(num(v.minimum))", "\"med\":\(num(v.percentile(50)))", "\"p90\":\(num(v.percentile(90)))",
                               "\"p95\":\(num(v.percentile(95)))", "\"p99\":\(num(v.percentile(99)))", "\"max\":\(num(v.maximum))"]
                }
                out += "{" + fields.joined(separator: ",") + "}\n"
            case .csv:
                let tagText = tags.sorted { $0.key < $1.key }.map { "\(tagPart($0.key))=\(tagPart($0.value))" }.joined(separator: ";")
                var row = [String(format: "%.3f", time), metric, csvField(tagText), v.kind.rawValue, String(v.count), num(v.value)]
                row += v.kind == .trend ? [num(v.minimum), num(v.value), num(v.percentile(50)), num(v.percentile(90)), num(v.percentile(95)), num(v.percentile(99)), num(v.maximum)]
                                        : ["", "", "", "", "", "", ""]
                out += row.joined(separator: ",") + "\n"
            }
        }
        if !out.isEmpty { file.write(out) }
    }

    func num(_ v: Double) -> String { v.isFinite ? (v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)) : "0" }

    func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out += u.value < 32 ? String(format: "\\u%04x", u.value) : String(u)
            }
        }
        return out + "\""
    }

    /// A tag's name or value in the CSV tags column (`k=v;k2=v2`): `%`, `;` and `=` percent-encoded,
    /// so a value that holds them still splits back into the pairs it was.
    func tagPart(_ s: String) -> String {
        guard s.contains(where: { $0 == "%" || $0 == ";" || $0 == "=" }) else { return s }
        return s.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: ";", with: "%3B").replacingOccurrences(of: "=", with: "%3D")
    }

    func csvField(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
}

/// The live view: on a terminal, one progress line rewritten in place; otherwise a plain line
/// every 10 seconds.
public final class LiveView {
    let tty: Bool
    let write: (String) -> Void
    private var lastPlain: Double = 0
    private var lastMessages: Double = 0
    private var lastTime: Double = 0

    public init(tty: Bool, write: @escaping (String) -> Void) {
        self.tty = tty
        self.write = write
    }

    public func update(_ interval: MetricSet, _ total: MetricSet, _ p: LoadRun.Progress) {
        let msgs = (interval.aggregate(BuiltinMetrics.msgsReceived)?.sum ?? 0) + (interval.aggregate(BuiltinMetrics.msgsSent)?.sum ?? 0)
        let dt = max(0.001, p.elapsed - lastTime)
        lastTime = p.elapsed
        let rate = msgs / dt
        let errors = ((total.aggregate(BuiltinMetrics.scriptErrors)?.sum ?? 0) + (total.aggregate(BuiltinMetrics.connectFailures)?.sum ?? 0)).saturatingCount
        let frac = p.planned > 0 ? min(1, p.elapsed / p.planned) : 0
        let width = 20
        let filled = Int(frac * Double(width))
        let bar = "[" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled) + "]"
        let state = p.stopping ? " stopping" : ""
        let text = "\(bar) \(p.elapsed.saturatingCount)s/\(p.planned.saturatingCount)s  vus \(p.activeVUs)/\(p.maxVUs)  iters \(p.iterations)  msg/s \(rate.saturatingCount)  errors \(errors)\(state)"
        if tty {
            write("\r" + text + "\u{1b}[K")
        } else if p.elapsed - lastPlain >= 10 {
            lastPlain = p.elapsed
            write(text + "\n")
        }
    }

    /// Ends the progress line (a terminal's cursor goes to a fresh line).
    public func finish() { if tty { write("\r\u{1b}[K") } }
}
