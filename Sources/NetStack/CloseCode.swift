/// A close status code (RFC 6455 §7.4): a struct over the 16-bit value, so codes are typed
/// through the engine while any value a peer sends can still be represented (and rejected).
public struct CloseCode: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt16) { self.rawValue = value }

    public static let normal: CloseCode = 1000
    public static let goingAway: CloseCode = 1001
    public static let protocolError: CloseCode = 1002
    public static let unsupportedData: CloseCode = 1003
    public static let noStatusReceived: CloseCode = 1005
    public static let abnormal: CloseCode = 1006
    public static let invalidPayload: CloseCode = 1007
    public static let policyViolation: CloseCode = 1008
    public static let messageTooBig: CloseCode = 1009
    public static let mandatoryExtension: CloseCode = 1010
    public static let internalError: CloseCode = 1011
    /// Registered with IANA after RFC 6455 (its WebSocket Close Code Number Registry): servers
    /// send them when restarting, overloaded, or as a gateway whose upstream failed.
    public static let serviceRestart: CloseCode = 1012
    public static let tryAgainLater: CloseCode = 1013
    public static let badGateway: CloseCode = 1014

    /// The longest close reason in bytes: 125 bytes of control payload minus the 2-byte code.
    public static let maximumReasonLength = 123

    /// Codes that may appear in a close frame: 1000-1003, 1007-1014 (IANA's registry; 1012-1014
    /// came after RFC 6455, and Autobahn's list of invalid codes no longer has them) and the
    /// application range 3000-4999. 1004-1006 and 1015 are reserved for local use and never
    /// sent; 1016-2999 are unassigned.
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    public var description: String { String(rawValue) }
}
