import CNetStackSSL
import Foundation

/// An OCSP response (RFC 6960) for a certificate of a chain (the leaf when stapled), checked: the responder's signature against the
/// chain and the trust store, the answer for the leaf, its validity window (5 minutes of skew).
public struct OCSPStatus: Sendable, Equatable {
    public enum Status: String, Sendable {
        case good, revoked, unknown
        /// Unparsable, an error status, an untrusted signature, no answer for the leaf, or
        /// outside its thisUpdate/nextUpdate window.
        case invalid
    }

    public var status: Status
    /// Why, in words ("good", "revoked: keyCompromise", "responder signature not trusted", ...).
    public var reason: String
    public var thisUpdate: Date?
    public var nextUpdate: Date?
    public var revokedAt: Date?

    /// Checks `response` (DER) for certificate `index` of `chain` (DER, leaf first; 0, the leaf,
    /// for a stapled response).
    public static func check(response: [UInt8], chain: [[UInt8]], index: Int = 0, store: CertificateStore) -> OCSPStatus {
        var out = netstack_ocsp_result()
        response.withUnsafeBufferPointer { r in
            DERChain.withPointers(chain) { pointers, lengths, count in
                netstack_ocsp_check_at(r.baseAddress, r.count, pointers, lengths, count, index, store.pointer, &out)
            }
        }
        func date(_ t: Int64) -> Date? { t == 0 ? nil : Date(timeIntervalSince1970: Double(t)) }
        let status: Status = switch out.status {
        case Int32(NETSTACK_OCSP_GOOD): .good
        case Int32(NETSTACK_OCSP_REVOKED): .revoked
        case Int32(NETSTACK_OCSP_UNKNOWN): .unknown
        default: .invalid
        }
        return OCSPStatus(status: status, reason: out.reasonText, thisUpdate: date(out.this_update), nextUpdate: date(out.next_update),
                          revokedAt: date(out.revoked_at))
    }
}

extension netstack_ocsp_result {
    /// The C side's reason, as text.
    var reasonText: String {
        var copy = self
        return withUnsafeBytes(of: &copy.reason) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }
}
