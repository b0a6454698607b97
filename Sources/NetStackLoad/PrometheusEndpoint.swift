import Atomics
import NIOCore
import NIOHTTP1
import NIOPosix
import NetStack
import Prometheus

/// `--metrics-addr HOST:PORT`: the run's metrics so far in the Prometheus text format at
/// `GET /metrics`, for live scraping. Every series carries `run` and `segment` labels, so one
/// query over all segments' endpoints shows the whole run. Names: `netstack_` + the metric
/// (dots become `_`); counters end in `_total`; rates are `_ratio` gauges; trends are gauges
/// with a `quantile` label (0, 0.5, 0.9, 0.95, 0.99, 1) plus `_count` and `_sum` counters.
/// Updated once per collection interval from the merged totals (swift-prometheus renders them).
/// Scrapers are peers too: each connection gets one answer and is closed (`Connection: close`;
/// requests pipelined after the first are not answered), at most `maxConnections` are open at
/// once (more are closed when accepted), and each lives at most `connectionLifetime`. So
/// answers waiting for a client that does not read take at most `maxConnections` bodies.
public final class PrometheusEndpoint: @unchecked Sendable {
    public static let maxConnections = 32
    public static let connectionLifetime = TimeAmount.seconds(10)
    let registry = PrometheusCollectorRegistry()
    let runLabels: [(String, String)]
    private var counters: [String: (Counter, Double)] = [:]
    private var gauges: [String: Gauge] = [:]
    private var channel: Channel?
    public private(set) var boundAddress: String = ""

    static let quantiles: [(String, Double)] = [("0", 0), ("0.5", 50), ("0.9", 90), ("0.95", 95), ("0.99", 99), ("1", 100)]

    public init(run: String, segment: Segment) {
        runLabels = [("run", run), ("segment", segment.description)]
    }

    /// Listens on `address` (`HOST:PORT`, PORT 0 picks one; `boundAddress` says which).
    public func start(address: String, group: EventLoopGroup) throws {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw LoadOptionError("--metrics-addr: '\(address)' is not HOST:PORT")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        let registry = self.registry
        let open = ManagedAtomic(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard open.wrappingIncrementThenLoad(ordering: .relaxed) <= Self.maxConnections else {
                    open.wrappingDecrement(ordering: .relaxed)
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
                }
                let deadline = channel.eventLoop.scheduleTask(in: Self.connectionLifetime) { channel.close(promise: nil) }
                channel.closeFuture.whenComplete { _ in
                    deadline.cancel()
                    open.wrappingDecrement(ordering: .relaxed)
                }
                return channel.pipeline.configureHTTPServerPipeline(withPipeliningAssistance: false).flatMap {
                    channel.pipeline.addHandler(MetricsHTTPHandler(registry: registry))
                }
            }
        do {
            let ch = try bootstrap.bind(host: host, port: port).wait()
            channel = ch
            boundAddress = "\(host):\(ch.localAddress?.port ?? port)"
        } catch {
            throw LoadOptionError("--metrics-addr: cannot listen on \(address): \(ListenErrorText.describe(error))")
        }
    }

    public func stop() { try? channel?.close().wait() }

    static func promName(_ metric: String) -> String {
        "netstack_" + String(metric.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }

    static func labelName(_ tag: String) -> String {
        var s = String(tag.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
        if let f = s.first, f.isNumber { s = "_" + s }
        // `run`, `segment` and `quantile` are the endpoint's own.
        return ["run", "segment", "quantile"].contains(s) ? "tag_" + s : s
    }

    /// Sets every series from the run's totals (call from one thread: the run's control loop).
    public func update(_ total: MetricSet) {
        for (key, v) in total.series {
            let (metric, tags) = SeriesName.split(key)
            let labels = runLabels + tags.sorted { $0.key < $1.key }.map { (Self.labelName($0.key), $0.value) }
            let name = Self.promName(metric)
            switch v.kind {
            case .counter:
                counter(name + "_total", key, labels, to: v.sum)
            case .gauge:
                gauge(name, key, labels).set(v.value)
            case .rate:
                gauge(name + "_ratio", key, labels).set(v.value)
            case .trend:
                for (q, p) in Self.quantiles {
                    gauge(name, key + "|" + q, labels + [("quantile", q)]).set(p == 0 ? v.minimum : p == 100 ? v.maximum : v.percentile(p))
                }
                counter(name + "_count", key, labels, to: Double(v.count))
                counter(name + "_sum", key, labels, to: v.sum)
            }
        }
    }

    private func gauge(_ name: String, _ key: String, _ labels: [(String, String)]) -> Gauge {
        let id = name + "|" + key
        if let g = gauges[id] { return g }
        let g = registry.makeGauge(descriptor: Self.descriptor(name), labels: labels)
        gauges[id] = g
        return g
    }

    /// The series name as it is (no unit suffix, no HELP line).
    private static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: "")
    }

    /// Counters only go up: they are moved by the growth since the last update.
    private func counter(_ name: String, _ key: String, _ labels: [(String, String)], to value: Double) {
        let id = name + "|" + key
        let (c, last) = counters[id] ?? (registry.makeCounter(descriptor: Self.descriptor(name), labels: labels), 0)
        if value > last { c.increment(by: value - last) }
        counters[id] = (c, max(value, last))
    }
}

/// GET /metrics → the registry's text; anything else 404. One answer per connection, then close.
private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let registry: PrometheusCollectorRegistry
    private var path = ""
    private var answered = false

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .head(let head): path = head.method == .GET ? head.uri : ""
        case .body: break
        case .end:
            let found = path == "/metrics" || path.hasPrefix("/metrics?")
            let body: [UInt8] = found ? registry.emitToBuffer() : Array("not found: GET /metrics\n".utf8)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")
            headers.add(name: "Content-Length", value: String(body.count))
            headers.add(name: "Connection", value: "close")
            answered = true
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: found ? .ok : .notFound, headers: headers))), promise: nil)
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// A request the parser refused: no answer, the connection ends.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
