import Foundation
import NIOCore

/// Why a listening socket could not be opened, in words (`netstack serve --port`, `--metrics-addr`):
/// not SwiftNIO's descriptions such as `bind(descriptor:ptr:bytes:): Address already in use)
/// (errno: 98)`.
public enum ListenErrorText {
    public static func describe(_ error: Error) -> String {
        if let e = error as? IOError {
            switch e.errnoCode {
            case EADDRINUSE: return "the address is already in use (another process listens there)"
            case EACCES: return "permission denied (ports below 1024 need privileges)"
            case EADDRNOTAVAIL: return "not an address of this machine"
            case EAFNOSUPPORT: return "this address family is not supported here"
            default: return ConnectionErrorText.describeIOError(e)
            }
        }
        if let e = error as? SocketAddressError.UnknownHost {
            return "'\(e.host)' is not an IP address or a host name that resolves"
        }
        if error is SocketAddressError { return "not a usable address (\(error))" }
        return "\(error)"
    }
}
