#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// A TLS protocol version, for `WebSocketTLSOptions.minimumVersion` / `maximumVersion`.
public enum WebSocketTLSVersion: String, Hashable, Sendable, CaseIterable {
    case tls1_0 = "1.0", tls1_1 = "1.1", tls1_2 = "1.2", tls1_3 = "1.3"
}

/// TLS options for `wss://` connections.
public struct WebSocketTLSOptions: Hashable, Sendable {
    /// PEM file of trust anchors to use instead of the system store.
    public var caFile: String?
    /// Directory of PEM trust anchors (OpenSSL hashed-directory layout) instead of the system store.
    public var caPath: String?
    /// Client certificate chain (PEM) and private key (PEM) for mutual TLS.
    public var clientCertificateFile: String?
    public var clientKeyFile: String?
    /// Skip chain and host name verification. Off by default; the CLI warns when it is on.
    public var insecure: Bool = false
    /// Name sent in SNI and checked against the certificate, instead of the URL's host.
    public var serverName: String?
    /// Password of an encrypted `clientKeyFile` (PEM, PKCS#8 or traditional).
    public var clientKeyPassword: String?
    /// Lowest and highest TLS versions offered: default 1.2 and the highest the library knows (1.3).
    public var minimumVersion: WebSocketTLSVersion?
    public var maximumVersion: WebSocketTLSVersion?
    /// Public keys the server's certificate must have (`PublicKeyPins`); empty: no pinning.
    public var pinnedPublicKeys: [String] = []

    public init(caFile: String? = nil, caPath: String? = nil, clientCertificateFile: String? = nil,
                clientKeyFile: String? = nil, insecure: Bool = false, serverName: String? = nil) {
        self.caFile = caFile
        self.caPath = caPath
        self.clientCertificateFile = clientCertificateFile
        self.clientKeyFile = clientKeyFile
        self.insecure = insecure
        self.serverName = serverName
    }
}

/// Everything a connection can be tuned with. All defaults are usable as they are.
public struct WebSocketClientConfiguration: Sendable {
    /// The values, shared by copies until one of them changes (copy on write): a client and each of
    /// its connections hold a configuration, and thousands of clients made from one configuration
    /// share one storage instead of a copy each (memory per idle connection, docs/performance.md).
    /// Its fields are written only through `uniqueStorage()`, by a mutating setter of the one
    /// configuration that holds it, so no two accesses can overlap: they skip the runtime's
    /// exclusivity check, which on `send`'s path (the limits read per message) cost more than the
    /// read itself.
    private final class Storage: @unchecked Sendable {
        @exclusivity(unchecked) var headers: [WebSocketHeader] = []
        @exclusivity(unchecked) var protocols: [String] = []
        @exclusivity(unchecked) var connectTimeout: TimeAmount = .seconds(10)
        @exclusivity(unchecked) var closeTimeout: TimeAmount = .seconds(5)
        @exclusivity(unchecked) var pingInterval: TimeAmount = .seconds(30)
        @exclusivity(unchecked) var pongTimeout: TimeAmount = .seconds(30)
        @exclusivity(unchecked) var maxSendSize: Int = 4 * 1024 * 1024
        @exclusivity(unchecked) var maxReceiveSize: Int = 64 * 1024 * 1024
        @exclusivity(unchecked) var maxSendQueue: Int = 64 * 1024 * 1024
        @exclusivity(unchecked) var writeHighWatermark: Int = 1024 * 1024
        @exclusivity(unchecked) var maxHeaderCount: Int = 8192
        @exclusivity(unchecked) var maxHeaderBytes: Int = 64 * 1024
        @exclusivity(unchecked) var compression: Bool = true
        @exclusivity(unchecked) var compressionThreshold: Int = 64
        @exclusivity(unchecked) var userAgent: String? = "NetStack/\(NetStackVersion.string)"
        @exclusivity(unchecked) var tls: WebSocketTLSOptions = WebSocketTLSOptions()
        @exclusivity(unchecked) var proxy: WebSocketProxySetting = .environment
        @exclusivity(unchecked) var followRedirects: Int = 0
        @exclusivity(unchecked) var busyPoll: TimeAmount = WebSocketClientConfiguration.defaultBusyPoll
        @exclusivity(unchecked) var ownStorageThreshold: Int = 16 * 1024
        @exclusivity(unchecked) var trace: (@Sendable (String) -> Void)?
        @exclusivity(unchecked) var frameTrace: (@Sendable (String) -> Void)?
        @exclusivity(unchecked) var controlFrames: (@Sendable (ControlFrameSeen) -> Void)?

        init() {}

        init(copying other: Storage) {
            headers = other.headers
            protocols = other.protocols
            connectTimeout = other.connectTimeout
            closeTimeout = other.closeTimeout
            pingInterval = other.pingInterval
            pongTimeout = other.pongTimeout
            maxSendSize = other.maxSendSize
            maxReceiveSize = other.maxReceiveSize
            maxSendQueue = other.maxSendQueue
            writeHighWatermark = other.writeHighWatermark
            maxHeaderCount = other.maxHeaderCount
            maxHeaderBytes = other.maxHeaderBytes
            compression = other.compression
            compressionThreshold = other.compressionThreshold
            userAgent = other.userAgent
            tls = other.tls
            proxy = other.proxy
            followRedirects = other.followRedirects
            busyPoll = other.busyPoll
            ownStorageThreshold = other.ownStorageThreshold
            trace = other.trace
            frameTrace = other.frameTrace
            controlFrames = other.controlFrames
        }
    }

    /// The defaults, one storage for every configuration made with `init()` until it changes.
    private static let defaultStorage = Storage()
    private var storage = WebSocketClientConfiguration.defaultStorage

    private mutating func uniqueStorage() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = Storage(copying: storage) }
        return storage
    }

    /// Whether two configurations share one storage (tests: copies share until one changes).
    package func sharesStorage(with other: WebSocketClientConfiguration) -> Bool { storage === other.storage }

    /// Extra handshake headers (validated at connect; see `HeaderValidation`).
    public var headers: [WebSocketHeader] {
        get { storage.headers }
        set { uniqueStorage().headers = newValue }
    }
    /// Subprotocols to offer, in order of preference.
    public var protocols: [String] {
        get { storage.protocols }
        set { uniqueStorage().protocols = newValue }
    }
    /// Time allowed for DNS, TCP, TLS and the HTTP upgrade together. Default 10 s.
    public var connectTimeout: TimeAmount {
        get { storage.connectTimeout }
        set { uniqueStorage().connectTimeout = newValue }
    }
    /// The shortest keepalive interval used (1 ms): a shorter one would spend the connection on
    /// pings. The command line and the Lua API refuse shorter ones.
    public static let minimumPingInterval: TimeAmount = .milliseconds(1)
    /// After a close frame was sent or received, how long to wait for the TCP connection to end
    /// before dropping it. Default 5 s.
    public var closeTimeout: TimeAmount {
        get { storage.closeTimeout }
        set { uniqueStorage().closeTimeout = newValue }
    }
    /// Automatic ping interval; zero disables keepalive. Default 30 s, like the original.
    /// Intervals above zero and below `minimumPingInterval` count as that minimum.
    public var pingInterval: TimeAmount {
        get { storage.pingInterval }
        set { uniqueStorage().pingInterval = newValue }
    }
    /// How long a ping may go unanswered before the connection is dropped (onError 1003, onClose 1006).
    public var pongTimeout: TimeAmount {
        get { storage.pongTimeout }
        set { uniqueStorage().pongTimeout = newValue }
    }
    /// Largest message `send` accepts (`WEBSOCKET_DATA_LENGTH_EXCEEDED` above). Default 4 MiB, as the original.
    public var maxSendSize: Int {
        get { storage.maxSendSize }
        set { uniqueStorage().maxSendSize = newValue }
    }
    /// Largest incoming message, after reassembly and decompression. Larger ones end the
    /// connection: onError 1012, close 1009. Default 64 MiB.
    public var maxReceiveSize: Int {
        get { storage.maxReceiveSize }
        set { uniqueStorage().maxReceiveSize = newValue }
    }
    /// Bytes that may wait to be written before `send` fails with `WEBSOCKET_QUEUE_LENGTH_EXCEEDED`.
    /// Default 64 MiB.
    public var maxSendQueue: Int {
        get { storage.maxSendQueue }
        set { uniqueStorage().maxSendQueue = newValue }
    }
    /// Above this many queued bytes the client reports itself not writable; `onWritable` fires
    /// once the queue drains below a quarter of it. Default 1 MiB.
    public var writeHighWatermark: Int {
        get { storage.writeHighWatermark }
        set { uniqueStorage().writeHighWatermark = newValue }
    }
    /// Limits on handshake headers (`WEBSOCKET_HEADER_EXCEEDED` above): count and total bytes.
    public var maxHeaderCount: Int {
        get { storage.maxHeaderCount }
        set { uniqueStorage().maxHeaderCount = newValue }
    }
    public var maxHeaderBytes: Int {
        get { storage.maxHeaderBytes }
        set { uniqueStorage().maxHeaderBytes = newValue }
    }
    /// Offer permessage-deflate (RFC 7692). Default on.
    public var compression: Bool {
        get { storage.compression }
        set { uniqueStorage().compression = newValue }
    }
    /// Messages shorter than this go out uncompressed even when deflate was agreed. Default 64 bytes.
    public var compressionThreshold: Int {
        get { storage.compressionThreshold }
        set { uniqueStorage().compressionThreshold = newValue }
    }
    /// The `User-Agent` sent unless a header sets one; nil sends none.
    public var userAgent: String? {
        get { storage.userAgent }
        set { uniqueStorage().userAgent = newValue }
    }
    public var tls: WebSocketTLSOptions {
        get { storage.tls }
        set { uniqueStorage().tls = newValue }
    }
    /// The proxy to go through: by default the one the environment names, as curl reads it
    /// (`WebSocketProxySetting`); `.direct` ignores the environment.
    public var proxy: WebSocketProxySetting {
        get { storage.proxy }
        set { uniqueStorage().proxy = newValue }
    }
    /// How many redirects (301, 302, 303, 307, 308 with a Location) the opening handshake follows:
    /// 0, the default, reports a 3xx as an error; at most 10 are followed whatever is set. Never
    /// from wss to ws; credentials (`Authorization`, `Cookie`) are not sent to another host. The
    /// URLs followed are in `WebSocketOpenResult.redirects`. See `Redirect`.
    public var followRedirects: Int {
        get { storage.followRedirects }
        set { uniqueStorage().followRedirects = newValue }
    }
    /// After each write the connection's loop polls for the answer for up to this long instead of
    /// sleeping in the kernel, which cuts round trips to nearby peers by half or more; it backs off
    /// by itself when answers take longer (see docs/engine.md, "Busy polling"). Zero disables it;
    /// at most 1 ms is used. Default 50 µs, or `NETSTACK_BUSY_POLL_US` from the environment. It never
    /// polls on a machine with a single usable core.
    public var busyPoll: TimeAmount {
        get { storage.busyPoll }
        set { uniqueStorage().busyPoll = newValue }
    }
    /// Incoming messages of at least this many bytes arrive in storage of their own, so keeping one
    /// keeps only its own bytes alive. Smaller ones are slices of the connection's read buffer
    /// (which grows to 1 MiB while reads fill it): no copy, but a kept slice keeps that whole buffer
    /// alive. Default 16 KiB; 0 gives every message its own storage, `Int.max` none (the Lua host
    /// and the C ABI, which copy or lend the bytes during the callback, use `Int.max`).
    /// See docs/engine.md, "Message storage".
    public var ownStorageThreshold: Int {
        get { storage.ownStorageThreshold }
        set { uniqueStorage().ownStorageThreshold = newValue }
    }
    /// Called on the connection's loop with one line per handshake step, message and control
    /// frame, in both directions ("> " out, "< " in). nil (the default) costs nothing.
    public var trace: (@Sendable (String) -> Void)? {
        get { storage.trace }
        set { uniqueStorage().trace = newValue }
    }
    /// Called on the connection's loop with one line per frame sent or received after the
    /// upgrade (`FrameTrace`: direction, FIN, RSV bits, opcode, length, mask, a payload preview);
    /// `-vv` on the command line. nil (the default) costs nothing.
    public var frameTrace: (@Sendable (String) -> Void)? {
        get { storage.frameTrace }
        set { uniqueStorage().frameTrace = newValue }
    }
    /// Called on the connection's loop for each ping and pong received after the upgrade, with
    /// its payload (pings are still answered by the engine); `connect -P` shows them. nil (the
    /// default) costs nothing.
    public var controlFrames: (@Sendable (ControlFrameSeen) -> Void)? {
        get { storage.controlFrames }
        set { uniqueStorage().controlFrames = newValue }
    }

    public init() {}

    /// 50 µs unless `NETSTACK_BUSY_POLL_US` (a whole number of microseconds, 0 to disable) says otherwise.
    public static let defaultBusyPoll: TimeAmount = {
        .microseconds(Int64(TuningEnvironment.wholeNumber("NETSTACK_BUSY_POLL_US") ?? 50))
    }()
}

public enum NetStackVersion {
    public static let string = "0.1.0"
}

/// A ping or pong the peer sent (`WebSocketClientConfiguration.controlFrames`).
public enum ControlFrameSeen: Sendable, Equatable {
    case ping([UInt8])
    case pong([UInt8])
}
