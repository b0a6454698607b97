/// Close status codes (RFC 6455 §7.4).
public enum CloseCode {
    public static let normal: UInt16 = 1000
    public static let goingAway: UInt16 = 1001
    public static let protocolError: UInt16 = 1002
    public static let unsupportedData: UInt16 = 1003
    public static let noStatusReceived: UInt16 = 1005
    public static let abnormal: UInt16 = 1006
    public static let invalidPayload: UInt16 = 1007
    public static let policyViolation: UInt16 = 1008
    public static let messageTooBig: UInt16 = 1009
    public static let mandatoryExtension: UInt16 = 1010
    public static let internalError: UInt16 = 1011

    /// The longest close reason in bytes: 125 bytes of control payload minus the 2-byte code.
    public static let maximumReasonLength = 123

    /// Codes that may appear in a close frame: 1000-1003, 1007-1011 and the application
    /// range 3000-4999. 1004-1006 and 1015 are reserved for local use and never sent.
    public static func isValidOnWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1011, 3000...4999: return true
        default: return false
        }
    }
}
