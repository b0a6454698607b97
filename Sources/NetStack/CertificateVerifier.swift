import CNetStackSSL
import Foundation

/// The encoding of a certificate blob (`NetStack_CertType`).
public enum CertificateBlobType: Int32, Sendable {
    case pem = 0
    case der = 1
    case invalid = 2

    /// PEM when "-----BEGIN" occurs in the first 4 KiB, else DER.
    public static func detect<C: Collection>(_ data: C) -> CertificateBlobType where C.Element == UInt8 {
        let marker = Array("-----BEGIN".utf8)
        let prefix = Array(data.prefix(4096))
        guard prefix.count >= marker.count else { return .der }
        for i in 0...(prefix.count - marker.count) where prefix[i] == marker[0] {
            if Array(prefix[i..<(i + marker.count)]) == marker { return .pem }
        }
        return .der
    }
}

/// The purpose a chain is verified for (OpenSSL's X509_PURPOSE_*).
public enum CertificatePurpose: String, Sendable, CaseIterable {
    /// No purpose check.
    case any
    /// TLS server: extended key usage serverAuth when present (and, strict, required).
    case server
    /// TLS client: extended key usage clientAuth when present.
    case client
}

/// Options for `netstack verify`, `netstack.verify`, audits and `NetStack_VerifyCertificationEx`;
/// none of them changes what the documented function does.
public struct CertificateVerificationOptions: Sendable {
    /// Check the leaf against this DNS name (SAN, or CN when there are no DNS SANs; strict: no CN
    /// once a subjectAltName extension exists).
    public var hostname: String?
    /// Check the leaf against this IP address (IP SANs).
    public var ipAddress: String?
    /// Check the leaf against this e-mail address (rfc822Name SANs, else the subject's emailAddress).
    public var email: String?
    /// Verify as of this moment instead of now (nil: now).
    public var atTime: Date?
    /// What the leaf must be good for.
    public var purpose: CertificatePurpose = .any
    /// Most intermediates allowed between the leaf and the trust anchor (nil: OpenSSL's 100).
    public var maxDepth: Int?
    /// RFC 5280 structure checks (OpenSSL's X509_V_FLAG_X509_STRICT) plus the checks of
    /// `StrictCheck` (codes 2305801...2305826).
    public var strict = false
    /// Minimum security level 0...5 (OpenSSL's auth level; 2 refuses RSA/DSA/DH keys under 2048
    /// bits, EC keys under 224 bits and SHA-1/MD5 signatures). nil: no level check (OpenSSL's default).
    public var securityLevel: Int?
    /// Accept a chain that ends at any trusted certificate, not only at a self-signed root.
    public var partialChain = false
    /// Further untrusted intermediates (PEM or DER), apart from the certificate blob.
    public var untrusted: [UInt8]?
    /// CRLs (PEM or DER) checked for the whole chain.
    public var crls: [UInt8]?
    /// Path building with backtracking (RFC 4158): when a chain fails because of an untrusted
    /// intermediate, build again without it (at most once per untrusted certificate). OpenSSL
    /// alone follows one candidate per step; `documented` turns this off.
    public var pathBuilding = true
    /// RFC 5280 6.1.1 (c) user-initial-policy-set: the policies the caller accepts, as numeric
    /// OIDs (`anyPolicy` is 2.5.29.32.0). nil: {anyPolicy}. Policy processing (6.1.3-6.1.5) always
    /// runs, so a CA's requireExplicitPolicy, inhibitPolicyMapping and inhibitAnyPolicy count.
    public var initialPolicies: [String]?
    /// RFC 5280 6.1.1 (f) initial-explicit-policy: the path must be valid for a policy of
    /// `initialPolicies` (else 2305043).
    public var explicitPolicy = false
    /// RFC 5280 6.1.1 (e) initial-policy-mapping-inhibit: policy mappings are not followed.
    public var inhibitPolicyMapping = false
    /// RFC 5280 6.1.1 (g) initial-any-policy-inhibit: anyPolicy in a certificate matches nothing.
    public var inhibitAnyPolicy = false

    /// What `OH_NetStack_VerifyCertification` does: OpenSSL's verifier as the original calls it
    /// (no purpose, no strict checks, no backtracking, OpenSSL's default security level).
    public static var documented: CertificateVerificationOptions {
        var o = CertificateVerificationOptions()
        o.pathBuilding = false
        return o
    }

    /// Require the TLS server purpose.
    public var purposeTLSServer: Bool {
        get { purpose == .server }
        set { purpose = newValue ? .server : .any }
    }

    /// Validation times from years 1 to 9999 (outside that, no certificate can be valid).
    public static let validTimeRange: ClosedRange<Double> = -62_135_596_800 ... 253_402_300_799
    /// Allowed `maxDepth` values (absent: OpenSSL's default of 100).
    public static let depthRange: ClosedRange<Int> = 0 ... 255
    /// Allowed `securityLevel` values.
    public static let securityLevelRange: ClosedRange<Int> = 0 ... 5

    /// Why a peer name to check cannot be used (nil: it can), for the option named `option`: an
    /// empty name, a NUL or another control character, or an IP address that is neither
    /// dotted-decimal IPv4 nor IPv6. OpenSSL would otherwise drop such a name and check nothing.
    public static func peerNameProblem(hostname: String?, ipAddress: String?, email: String?,
                                       names: (hostname: String, ip: String, email: String)) -> String? {
        for (option, value) in [(names.hostname, hostname), (names.ip, ipAddress), (names.email, email)] {
            guard let v = value else { continue }
            if v.isEmpty { return "\(option): empty" }
            if v.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return "\(option): control characters in '\(v.debugDescription.dropFirst().dropLast())'" }
        }
        if let ip = ipAddress, !IPAddressSyntax.isIPv4(ip), !IPAddressSyntax.isIPv6(ip) {
            return "\(names.ip): '\(ip)' is not an IPv4 (dotted-decimal) or IPv6 address"
        }
        return nil
    }

    /// At most this many policies in `initialPolicies`.
    public static let maxInitialPolicies = 64

    /// The policy OIDs to hand to OpenSSL (`anyPolicy` written as 2.5.29.32.0), or why they
    /// cannot be used: an empty list, more than `maxInitialPolicies`, or an entry that is not a
    /// numeric OID (arcs of digits without leading zeros, the first 0-2, the second at most 39
    /// under 0 and 1, at most 100 bytes).
    public static func checkedPolicies(_ oids: [String]) -> Result<[String], PolicyListError> {
        guard !oids.isEmpty else { return .failure(.init("an empty policy list (leave it out for anyPolicy)")) }
        guard oids.count <= maxInitialPolicies else { return .failure(.init("\(oids.count) policies (at most \(maxInitialPolicies))")) }
        var out: [String] = []
        for oid in oids {
            if oid == "anyPolicy" { out.append("2.5.29.32.0"); continue }
            let arcs = oid.split(separator: ".", omittingEmptySubsequences: false)
            let wellFormed = oid.utf8.count <= 100 && arcs.count >= 2
                && arcs.allSatisfy { a in !a.isEmpty && a.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && (a == "0" || a.first != "0") && a.count <= 18 }
            guard wellFormed, let first = Int(arcs[0]), first <= 2, let second = Int(arcs[1]), first == 2 || second <= 39 else {
                return .failure(.init("'\(oid.debugDescription.dropFirst().dropLast())' is not a numeric OID (such as 2.23.140.1.2.1) or anyPolicy"))
            }
            out.append(oid)
        }
        return .success(out)
    }

    /// Why a policy list cannot be used.
    public struct PolicyListError: Error, Sendable, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    /// The defaults of `netstack audit` and `verify --strict`: strict, TLS server purpose,
    /// security level 2.
    public static var strictServer: CertificateVerificationOptions {
        var o = CertificateVerificationOptions(purposeTLSServer: true)
        o.strict = true
        o.securityLevel = 2
        return o
    }

    /// Whole seconds since 1970 for OpenSSL, clamped to `validTimeRange` (never traps).
    static func unixTime(_ d: Date) -> Int64 {
        let t = d.timeIntervalSince1970
        guard t.isFinite else { return t > 0 ? Int64(validTimeRange.upperBound) : Int64(validTimeRange.lowerBound) }
        return Int64(min(max(t, validTimeRange.lowerBound), validTimeRange.upperBound))
    }

    public init(hostname: String? = nil, ipAddress: String? = nil, atTime: Date? = nil, purposeTLSServer: Bool = false) {
        self.hostname = hostname
        self.ipAddress = ipAddress
        self.atTime = atTime
        self.purpose = purposeTLSServer ? .server : .any
    }
}

/// The outcome of a verification: a value, never a thrown error.
public struct CertificateVerificationResult: Sendable, Equatable, CustomStringConvertible {
    /// 0, or a 2305xxx code (see `CertificateVerifier.code(forOpenSSLError:)`).
    public var code: UInt32
    /// The OpenSSL `X509_V_ERR_*` value (0 for success; negative for input errors).
    public var openSSLError: Int32
    /// Depth in the chain of the certificate the error is about (0 = leaf; nil when none).
    public var depth: Int?
    /// Subject of that certificate, in OpenSSL's one-line form.
    public var subject: String?
    /// OpenSSL's reason.
    public var reason: String
    /// Whether CRL checking was on (CRLs were given with the CA).
    public var crlChecked: Bool

    public var isValid: Bool { code == 0 }
    /// A successful verification.
    public static let valid = CertificateVerificationResult(code: 0, openSSLError: 0, depth: nil, subject: nil, reason: "ok", crlChecked: false)
    /// The documented meaning of `code`, or OpenSSL's reason for undocumented ones.
    public var meaning: String { CertificateVerifier.message(for: code) }

    public var description: String {
        var s = "\(code) (\(meaning))"
        if code != 0, reason != meaning { s += ": \(reason)" }
        if let d = depth, let subj = subject { s += " at depth \(d) [\(subj)]" }
        return s
    }
}

/// `OH_NetStack_VerifyCertification` and its relatives, on the system OpenSSL.
public enum CertificateVerifier {
    /// Returned for unparsable input, a wrong type, size 0 or NULL data (as the original's 69).
    public static let invalidInputCode: UInt32 = 2_305_069

    /// The documented codes and meanings.
    public static let documented: [(code: UInt32, meaning: String)] = [
        (0, "success"),
        (2_305_001, "unknown error"),
        (2_305_002, "cannot get the issuer certificate"),
        (2_305_003, "cannot get the CRL"),
        (2_305_004, "cannot decrypt the certificate signature"),
        (2_305_005, "cannot decrypt the CRL signature"),
        (2_305_006, "cannot decode the issuer public key"),
        (2_305_007, "certificate signature failure"),
        (2_305_008, "CRL signature failure"),
        (2_305_009, "certificate not yet valid"),
        (2_305_010, "certificate expired"),
        (2_305_011, "CRL not yet valid"),
        (2_305_012, "CRL expired"),
        (2_305_023, "certificate revoked"),
        (2_305_024, "CA is invalid"),
        (2_305_027, "certificate untrusted"),
    ]

    /// Codes of the checks layered on OpenSSL's verifier in strict mode (see `StrictCheck`).
    public static let strictCodes: [(code: UInt32, meaning: String)] = StrictCheck.allCases.map { ($0.code, $0.meaning) }

    /// Maps an OpenSSL verification error to the API's code: 0 stays 0; OpenSSL 3's
    /// `X509_V_ERR_INVALID_CA` (79) is 2305024 "CA is invalid"; OpenSSL 3's 24
    /// (`NO_ISSUER_PUBLIC_KEY`) is 2305006 "cannot decode the issuer public key", so that nothing but
    /// an invalid CA comes out as 2305024; every other error is 2305000 + n, so audits see the precise
    /// reason (2305018 self-signed leaf, 2305019 self-signed in chain, 2305020 issuer not found
    /// locally, 2305062 host name mismatch, ...). Input errors are 2305069.
    public static func code(forOpenSSLError e: Int32) -> UInt32 {
        switch e {
        case 0: return 0
        case 79: return 2_305_024
        case 24: return 2_305_006
        case Int32(NETSTACK_VERIFY_BAD_INPUT), Int32(NETSTACK_VERIFY_BAD_CA): return invalidInputCode
        case Int32(NETSTACK_VERIFY_INTERNAL): return 2_305_001
        case 1...999: return 2_305_000 + UInt32(e)
        default: return 2_305_001
        }
    }

    /// A human message for any code this API returns.
    public static func message(for code: UInt32) -> String {
        if let d = documented.first(where: { $0.code == code }) { return d.meaning }
        if code == invalidInputCode { return "invalid input: certificate data is NULL, empty, unparsable or of an unknown type" }
        if code == PublicKeyPins.mismatchCode { return PublicKeyPins.mismatchMeaning }
        if code > 2_305_000 && code < 2_306_000 {
            return String(cString: netstack_verify_error_string(Int32(code - 2_305_000)))
        }
        return "unknown code \(code)"
    }

    /// Verifies the first certificate of `cert` against `ca` (nil: the system store). Further
    /// certificates in `cert` are untrusted intermediates; CRLs in `ca` turn CRL checking on.
    public static func verify(cert: UnsafeRawBufferPointer?, certType: CertificateBlobType,
                              ca: UnsafeRawBufferPointer?, caType: CertificateBlobType = .pem,
                              options: CertificateVerificationOptions = .init()) -> CertificateVerificationResult {
        var result = netstack_verify_result()
        let c = cert?.baseAddress?.assumingMemoryBound(to: UInt8.self)
        // Trust anchors are parsed once per distinct CA blob (and once for the system store); an
        // audit verifying many certificates against one CA pays for the store once.
        guard let (store, crlChecked) = StoreCache.shared.store(for: ca, type: caType) else {
            return CertificateVerificationResult(code: invalidInputCode, openSSLError: Int32(NETSTACK_VERIFY_BAD_CA), depth: nil, subject: nil,
                                                 reason: ca == nil ? "cannot load the system trust store" : "cannot parse a CA certificate", crlChecked: false)
        }
        withCOptions(options) { opts in
            netstack_verify_with_store(c, cert?.count ?? 0, certType.rawValue, store.pointer, crlChecked ? 1 : 0, opts, &result)
        }
        return convert(result)
    }

    public static func verify(cert: [UInt8], certType: CertificateBlobType, ca: [UInt8]?, caType: CertificateBlobType = .pem,
                              options: CertificateVerificationOptions = .init()) -> CertificateVerificationResult {
        cert.withUnsafeBytes { c in
            if let ca = ca {
                return ca.withUnsafeBytes { a in verify(cert: c, certType: certType, ca: a, caType: caType, options: options) }
            }
            return verify(cert: c, certType: certType, ca: nil, options: options)
        }
    }

    /// Verifies a chain as a TLS server presented it (DER, leaf first) with the trust of `store`.
    public static func verify(presentedChain ders: [[UInt8]], store: CertificateStore,
                              options: CertificateVerificationOptions) -> CertificateVerificationResult {
        var result = netstack_verify_result()
        withCOptions(options) { opts in
            DERChain.withPointers(ders) { pointers, lengths, count in
                netstack_verify_der_chain_store(pointers, lengths, count, store.pointer, opts, &result)
            }
        }
        return convert(result)
    }

    private static func withCOptions(_ o: CertificateVerificationOptions, _ body: (UnsafePointer<netstack_verify_options>) -> Void) {
        var opts = netstack_verify_options()
        opts.at_time = o.atTime.map { CertificateVerificationOptions.unixTime($0) } ?? 0
        opts.has_time = o.atTime == nil ? 0 : 1
        opts.purpose = switch o.purpose {
        case .any: Int32(NETSTACK_PURPOSE_ANY)
        case .server: Int32(NETSTACK_PURPOSE_SERVER)
        case .client: Int32(NETSTACK_PURPOSE_CLIENT)
        }
        opts.partial_chain = o.partialChain ? 1 : 0
        opts.path_building = o.pathBuilding ? 1 : 0
        opts.max_depth = o.maxDepth.map { Int32(min(max($0, 0), CertificateVerificationOptions.depthRange.upperBound)) } ?? -1
        opts.strict = o.strict ? 1 : 0
        opts.security_level = o.securityLevel.map { Int32(min(max($0, 0), 5)) } ?? -1
        opts.explicit_policy = o.explicitPolicy ? 1 : 0
        opts.inhibit_policy_mapping = o.inhibitPolicyMapping ? 1 : 0
        opts.inhibit_any_policy = o.inhibitAnyPolicy ? 1 : 0
        // A list that does not check out goes to C empty, which refuses it (bad input).
        let policies = o.initialPolicies.map { list in
            (try? CertificateVerificationOptions.checkedPolicies(list).get())?.joined(separator: ",") ?? ""
        }
        func blobType(_ b: [UInt8]) -> Int32 { CertificateBlobType.detect(b).rawValue }
        let untrusted = o.untrusted ?? []
        let crls = o.crls ?? []
        opts.untrusted_type = blobType(untrusted)
        opts.crls_type = blobType(crls)
        untrusted.withUnsafeBufferPointer { u in
            crls.withUnsafeBufferPointer { c in
                opts.untrusted = o.untrusted == nil ? nil : u.baseAddress
                opts.untrusted_len = o.untrusted == nil ? 0 : u.count
                opts.crls = o.crls == nil ? nil : c.baseAddress
                opts.crls_len = o.crls == nil ? 0 : c.count
                withOptionalCString(o.hostname) { host in
                    withOptionalCString(o.ipAddress) { ip in
                        withOptionalCString(o.email) { email in
                            withOptionalCString(policies) { policyList in
                                opts.hostname = host
                                opts.ip = ip
                                opts.email = email
                                opts.policies = policyList
                                withUnsafePointer(to: &opts) { body($0) }
                            }
                        }
                    }
                }
            }
        }
    }

    private static func withOptionalCString(_ s: String?, _ body: (UnsafePointer<CChar>?) -> Void) {
        if let s = s { s.withCString { body($0) } } else { body(nil) }
    }

    private static func convert(_ r: netstack_verify_result) -> CertificateVerificationResult {
        var r = r
        let reason = withUnsafeBytes(of: &r.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let subject = withUnsafeBytes(of: &r.subject) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        return CertificateVerificationResult(code: code(forOpenSSLError: r.error), openSSLError: r.error,
                                             depth: r.depth >= 0 ? Int(r.depth) : nil,
                                             subject: subject.isEmpty ? nil : subject, reason: reason,
                                             crlChecked: r.crl_checked != 0)
    }
}

/// Stores built from CA blobs, keyed by the blob's SHA-256 and type (at most 32, least recently
/// used dropped), plus the system store keyed by SSL_CERT_FILE / SSL_CERT_DIR.
final class StoreCache: @unchecked Sendable {
    static let shared = StoreCache()
    private let lock = NSLock()
    private var entries: [[UInt8]: (store: CertificateStore, crl: Bool, used: UInt64)] = [:]
    private var clock: UInt64 = 0

    /// The system store's identity: the variables OpenSSL reads it from.
    static var systemStoreKey: String {
        "system:\(ProcessEnvironment.get("SSL_CERT_FILE") ?? ""):\(ProcessEnvironment.get("SSL_CERT_DIR") ?? "")"
    }

    func store(for ca: UnsafeRawBufferPointer?, type: CertificateBlobType) -> (CertificateStore, Bool)? {
        var key: [UInt8]
        if let ca = ca {
            key = [UInt8](repeating: 0, count: 33)
            key.withUnsafeMutableBufferPointer { out in
                netstack_sha256(ca.baseAddress?.assumingMemoryBound(to: UInt8.self), ca.count, out.baseAddress)
            }
            key[32] = UInt8(truncatingIfNeeded: type.rawValue)
        } else {
            key = Array(Self.systemStoreKey.utf8)
        }
        lock.lock()
        defer { lock.unlock() }
        clock += 1
        if let e = entries[key] {
            entries[key]!.used = clock
            return (e.store, e.crl)
        }
        let made: (CertificateStore, Bool)?
        if let ca = ca {
            guard ca.count > 0, type != .invalid else { return nil }
            var crl: Int32 = 0
            guard let p = netstack_store_from_blob(ca.baseAddress?.assumingMemoryBound(to: UInt8.self), ca.count, type.rawValue, &crl) else { return nil }
            made = (CertificateStore(taking: p), crl != 0)
        } else {
            made = (try? CertificateStore(caFile: nil, caPath: nil)).map { ($0, false) }
        }
        guard let m = made else { return nil }
        if entries.count >= 32, let oldest = entries.min(by: { $0.value.used < $1.value.used })?.key {
            entries[oldest] = nil
        }
        entries[key] = (m.0, m.1, clock)
        return m
    }
}

/// A trust store (OpenSSL X509_STORE) loaded once and shared by connections; thread-safe for
/// verification. Owns the store and frees it in `deinit`.
public final class CertificateStore: @unchecked Sendable {
    let pointer: OpaquePointer

    /// From a CA file and/or directory; both nil means the system default (SSL_CERT_FILE /
    /// SSL_CERT_DIR honoured).
    public init(caFile: String?, caPath: String?) throws {
        guard let p = netstack_store_new(caFile, caPath) else {
            throw WebSocketError(.connectionError, "cannot load trust anchors from \(caFile ?? caPath ?? "the system store")")
        }
        pointer = p
    }

    /// Takes ownership of a store made by the C module.
    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { netstack_store_free(pointer) }
}
