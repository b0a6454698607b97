/// The documented `WebSocket_ErrCode` values (OpenHarmony NetStack, API level 11).
///
/// A struct over an integer rather than an enum, so that codes pass through the C and Lua
/// boundaries unchanged and new values can be added without breaking switches.
public struct WebSocketErrCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let ok = WebSocketErrCode(rawValue: 0)
    public static let base = WebSocketErrCode(rawValue: 1000)
    public static let clientNull = WebSocketErrCode(rawValue: 1001)
    public static let clientNotCreated = WebSocketErrCode(rawValue: 1002)
    public static let connectionError = WebSocketErrCode(rawValue: 1003)
    public static let connectionParseURLError = WebSocketErrCode(rawValue: 1005)
    public static let connectionNoMemory = WebSocketErrCode(rawValue: 1006)
    public static let connectionClosedByPeer = WebSocketErrCode(rawValue: 1007)
    public static let destroyed = WebSocketErrCode(rawValue: 1008)
    public static let protocolError = WebSocketErrCode(rawValue: 1009)
    public static let sendNoMemory = WebSocketErrCode(rawValue: 1010)
    public static let sendDataNull = WebSocketErrCode(rawValue: 1011)
    public static let dataLengthExceeded = WebSocketErrCode(rawValue: 1012)
    public static let queueLengthExceeded = WebSocketErrCode(rawValue: 1013)
    public static let noClientContext = WebSocketErrCode(rawValue: 1014)
    public static let noHeaderContext = WebSocketErrCode(rawValue: 1015)
    public static let headerExceeded = WebSocketErrCode(rawValue: 1016)
    public static let noConnection = WebSocketErrCode(rawValue: 1017)
    public static let noConnectionContext = WebSocketErrCode(rawValue: 1018)

    /// Every documented code with its C name, in numeric order.
    public static let all: [(name: String, code: WebSocketErrCode)] = [
        ("WEBSOCKET_OK", .ok), ("E_BASE", .base),
        ("WEBSOCKET_CLIENT_NULL", .clientNull), ("WEBSOCKET_CLIENT_NOT_CREATED", .clientNotCreated),
        ("WEBSOCKET_CONNECTION_ERROR", .connectionError),
        ("WEBSOCKET_CONNECTION_PARSE_URL_ERROR", .connectionParseURLError),
        ("WEBSOCKET_CONNECTION_NO_MEMORY", .connectionNoMemory),
        ("WEBSOCKET_CONNECTION_CLOSED_BY_PEER", .connectionClosedByPeer),
        ("WEBSOCKET_DESTROYED", .destroyed), ("WEBSOCKET_PROTOCOL_ERROR", .protocolError),
        ("WEBSOCKET_SEND_NO_MEMORY", .sendNoMemory), ("WEBSOCKET_SEND_DATA_NULL", .sendDataNull),
        ("WEBSOCKET_DATA_LENGTH_EXCEEDED", .dataLengthExceeded),
        ("WEBSOCKET_QUEUE_LENGTH_EXCEEDED", .queueLengthExceeded),
        ("WEBSOCKET_NO_CLIENT_CONTEXT", .noClientContext), ("WEBSOCKET_NO_HEADER_CONTEXT", .noHeaderContext),
        ("WEBSOCKET_HEADER_EXCEEDED", .headerExceeded), ("WEBSOCKET_NO_CONNECTION", .noConnection),
        ("WEBSOCKET_NO_CONNECTION_CONTEXT", .noConnectionContext),
    ]

    /// The C name of the code (`WEBSOCKET_...`), or the number for codes outside the table.
    public var name: String {
        Self.all.first(where: { $0.code == self })?.name ?? String(rawValue)
    }

    /// The documented meaning, in a short sentence.
    public var meaning: String {
        switch self {
        case .ok: return "success"
        case .base: return "base error code"
        case .clientNull: return "client is NULL"
        case .clientNotCreated: return "client was not created by the constructor, or was destroyed"
        case .connectionError: return "error while connecting"
        case .connectionParseURLError: return "error parsing the connection parameters (URL)"
        case .connectionNoMemory: return "no memory for a connection context"
        case .connectionClosedByPeer: return "connection closed by the peer during initialization"
        case .destroyed: return "connection destroyed"
        case .protocolError: return "protocol error"
        case .sendNoMemory: return "no memory to send"
        case .sendDataNull: return "data to send is NULL"
        case .dataLengthExceeded: return "data length over the limit"
        case .queueLengthExceeded: return "send queue over the limit"
        case .noClientContext: return "client context is NULL"
        case .noHeaderContext: return "header is abnormal"
        case .headerExceeded: return "header over the limit"
        case .noConnection: return "client not connected"
        case .noConnectionContext: return "no connection context"
        default: return "unknown code \(rawValue)"
        }
    }

    public var description: String { "\(name) (\(rawValue))" }
}

/// An error from the engine: a documented code plus a message that says what happened.
public struct WebSocketError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: WebSocketErrCode
    public var message: String

    public init(_ code: WebSocketErrCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
