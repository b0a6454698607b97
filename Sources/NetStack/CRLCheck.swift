import CNetStackSSL
import Foundation
import NIOCore

/// A certificate of a chain checked against the CRL from its distribution point.
public struct CRLStatus: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Not listed in a valid CRL.
        case good
        case revoked
        /// The CRL does not parse, is from another CA, has a bad signature, or is expired or not
        /// yet valid.
        case invalid
        /// The CRL could not be fetched (DNS, refused, timeout, not 200, too large).
        case unavailable
    }

    /// Position in the chain, 1 for the leaf.
    public var certificate: Int
    public var url: String
    public var status: Status
    public var reason: String
    public var nextUpdate: Date?
}

/// CRL fetching for chains: each certificate below the anchor with an http distribution point
/// is checked against the CRL found there (the first http URL). CRLs are kept per URL for five
/// minutes (at most 256 of them), and concurrent fetches of one URL share a request.
public enum CRLCheck {
    static let cache = FetchCache(lifetime: cacheSeconds)
    /// Most bytes read for one CRL.
    public static let maxBytes = 16 << 20
    /// How long a fetched CRL is reused.
    public static let cacheSeconds: TimeInterval = 300

    public static func check(chain ders: [[UInt8]], infos: [CertificateInfo], store: CertificateStore,
                             timeout: TimeAmount, on loop: EventLoop) -> EventLoopFuture<[CRLStatus]> {
        var futures: [EventLoopFuture<CRLStatus>] = []
        for (i, info) in infos.enumerated() where i < ders.count && !info.isSelfSigned {
            guard let url = info.crlDistributionPoints.first(where: { $0.lowercased().hasPrefix("http://") }) else { continue }
            let fetch = cache.fetch(url, on: loop) { HTTPFetch.get(url, timeout: timeout, maxBytes: maxBytes, on: loop) }
            futures.append(fetch.map { fetched -> CRLStatus in
                switch fetched {
                case .failure(let f):
                    return CRLStatus(certificate: i + 1, url: url, status: .unavailable, reason: f.description, nextUpdate: nil)
                case .success(let crl):
                    return evaluate(crl: crl, chain: ders, index: i, store: store, url: url)
                }
            })
        }
        return EventLoopFuture.whenAllSucceed(futures, on: loop)
    }

    public static func evaluate(crl: [UInt8], chain: [[UInt8]], index: Int, store: CertificateStore, url: String) -> CRLStatus {
        var out = netstack_ocsp_result()
        crl.withUnsafeBufferPointer { c in
            DERChain.withPointers(chain) { pointers, lengths, count in
                netstack_crl_check(c.baseAddress, c.count, pointers, lengths, count, index, store.pointer, &out)
            }
        }
        let status: CRLStatus.Status = switch out.status {
        case Int32(NETSTACK_OCSP_GOOD): .good
        case Int32(NETSTACK_OCSP_REVOKED): .revoked
        default: .invalid
        }
        return CRLStatus(certificate: index + 1, url: url, status: status, reason: out.reasonText,
                         nextUpdate: out.next_update == 0 ? nil : Date(timeIntervalSince1970: Double(out.next_update)))
    }
}
