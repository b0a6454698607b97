import CNetStackSSL
import Foundation
import NIOCore

/// A certificate of a chain checked by asking its OCSP responder (RFC 6960).
public struct OCSPFetchStatus: Sendable, Equatable {
    public enum Status: String, Sendable {
        case good, revoked
        /// The responder does not know the certificate.
        case unknown
        /// Unparsable, an error status, an untrusted signature, no answer for the certificate,
        /// or outside its thisUpdate/nextUpdate window.
        case invalid
        /// No answer (DNS, refused, timeout, not 200, too large), or no request could be made
        /// (the issuer is not known).
        case unavailable
    }

    /// Position in the chain, 1 for the leaf.
    public var certificate: Int
    public var url: String
    public var status: Status
    public var reason: String
    public var nextUpdate: Date?
    public var revokedAt: Date?
}

/// OCSP for chains: each certificate below the anchor whose authority information access names
/// an http responder is asked there (the first http URL), by POST (RFC 6960 A.1) of a request in
/// the RFC 5019 profile (no nonce, so answers can be kept). Answers are kept per responder and
/// request for five minutes (at most 256), and concurrent asks for one certificate share a
/// request. The response is checked as a stapled one is (`OCSPStatus.check`).
public enum OCSPCheck {
    static let cache = FetchCache(lifetime: cacheSeconds)
    /// Most bytes read for one response.
    public static let maxBytes = 1 << 20
    /// How long an answer is reused.
    public static let cacheSeconds: TimeInterval = 300

    public static func check(chain ders: [[UInt8]], infos: [CertificateInfo], store: CertificateStore,
                             timeout: TimeAmount, on loop: EventLoop) -> EventLoopFuture<[OCSPFetchStatus]> {
        var futures: [EventLoopFuture<OCSPFetchStatus>] = []
        for (i, info) in infos.enumerated() where i < ders.count && !info.isSelfSigned {
            guard let url = info.ocspURLs.first(where: { $0.lowercased().hasPrefix("http://") }) else { continue }
            let status = { (s: OCSPFetchStatus.Status, reason: String) in
                OCSPFetchStatus(certificate: i + 1, url: url, status: s, reason: reason)
            }
            let request: [UInt8]
            switch makeRequest(chain: ders, index: i, store: store) {
            case .failure(let f):
                futures.append(loop.makeSucceededFuture(status(.unavailable, f.description)))
                continue
            case .success(let r): request = r
            }
            let key = url + " " + Hex.encode(request)
            let fetch = cache.fetch(key, on: loop) {
                HTTPFetch.post(url, body: request, contentType: "application/ocsp-request", timeout: timeout, maxBytes: maxBytes, on: loop)
            }
            futures.append(fetch.map { fetched -> OCSPFetchStatus in
                switch fetched {
                case .failure(let f): return status(.unavailable, f.description)
                case .success(let response): return evaluate(response: response, chain: ders, index: i, store: store, url: url)
                }
            })
        }
        return EventLoopFuture.whenAllSucceed(futures, on: loop)
    }

    /// The DER request for certificate `index` of `chain`.
    public static func makeRequest(chain: [[UInt8]], index: Int, store: CertificateStore) -> Result<[UInt8], HTTPFetch.Failure> {
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        var error = [CChar](repeating: 0, count: 160)
        let ok = DERChain.withPointers(chain) { pointers, lengths, count in
            netstack_ocsp_request(pointers, lengths, count, index, store.pointer, &out, &length, &error, error.count)
        }
        guard ok == 1, let bytes = out else {
            return .failure(.init(description: "no OCSP request: " + String(cString: error)))
        }
        defer { netstack_free(bytes) }
        return .success(Array(UnsafeBufferPointer(start: bytes, count: length)))
    }

    public static func evaluate(response: [UInt8], chain: [[UInt8]], index: Int, store: CertificateStore, url: String) -> OCSPFetchStatus {
        let checked = OCSPStatus.check(response: response, chain: chain, index: index, store: store)
        let status: OCSPFetchStatus.Status = switch checked.status {
        case .good: .good
        case .revoked: .revoked
        case .unknown: .unknown
        case .invalid: .invalid
        }
        return OCSPFetchStatus(certificate: index + 1, url: url, status: status, reason: checked.reason,
                               nextUpdate: checked.nextUpdate, revokedAt: checked.revokedAt)
    }
}
