import CNetStackABI
import Foundation
import NetStack

// netstack_ext.h: NetStack_VerifyOptions_Init and NetStack_VerifyCertificationEx.

/// The size of `NetStack_VerifyOptions` that `NetStack_VerifyOptions_Init` sets.
private let verifyOptionsSize = UInt32(MemoryLayout<NetStack_VerifyOptions>.size)
/// The size of its first release (up to `crls`); smaller structures are refused, and the fields
/// after it are read only when `structSize` covers them.
private let firstReleaseSize = UInt32(MemoryLayout<NetStack_VerifyOptions>.offset(of: \NetStack_VerifyOptions.policies)!)

@_cdecl("NetStack_VerifyOptions_Init")
public func NetStack_VerifyOptions_Init(_ options: UnsafeMutablePointer<NetStack_VerifyOptions>?) {
    guard let o = options else { return }
    o.pointee = NetStack_VerifyOptions()
    o.pointee.structSize = verifyOptionsSize
    o.pointee.maxDepth = -1
    o.pointee.securityLevel = -1
}

/// The options of a C caller as a value, or why they are invalid.
enum CVerifyOptions {
    static func make(_ o: NetStack_VerifyOptions) -> Result<CertificateVerificationOptions, CVerifyOptionError> {
        guard o.structSize >= firstReleaseSize else { return .failure(.init("structSize \(o.structSize): call NetStack_VerifyOptions_Init first")) }
        let known = NETSTACK_VERIFY_STRICT | NETSTACK_VERIFY_PARTIAL_CHAIN | NETSTACK_VERIFY_USE_TIME | NETSTACK_VERIFY_EXPLICIT_POLICY
            | NETSTACK_VERIFY_INHIBIT_POLICY_MAPPING | NETSTACK_VERIFY_INHIBIT_ANY_POLICY
        guard o.flags & ~known == 0 else { return .failure(.init("unknown flags 0x\(String(o.flags & ~known, radix: 16))")) }
        var v = CertificateVerificationOptions()
        switch o.purpose {
        case Int32(NETSTACK_VERIFY_PURPOSE_ANY.rawValue): v.purpose = .any
        case Int32(NETSTACK_VERIFY_PURPOSE_SERVER.rawValue): v.purpose = .server
        case Int32(NETSTACK_VERIFY_PURPOSE_CLIENT.rawValue): v.purpose = .client
        default: return .failure(.init("purpose \(o.purpose): 0 (any), 1 (server) or 2 (client) expected"))
        }
        if o.maxDepth != -1 {
            guard CertificateVerificationOptions.depthRange.contains(Int(o.maxDepth)) else { return .failure(.init("maxDepth \(o.maxDepth): -1 or 0 to 255 expected")) }
            v.maxDepth = Int(o.maxDepth)
        }
        if o.securityLevel != -1 {
            guard CertificateVerificationOptions.securityLevelRange.contains(Int(o.securityLevel)) else {
                return .failure(.init("securityLevel \(o.securityLevel): -1 or 0 to 5 expected"))
            }
            v.securityLevel = Int(o.securityLevel)
        }
        if o.flags & NETSTACK_VERIFY_USE_TIME != 0 {
            guard CertificateVerificationOptions.validTimeRange.contains(Double(o.time)) else {
                return .failure(.init("time \(o.time): Unix seconds from -62135596800 to 253402300799 expected"))
            }
            v.atTime = Date(timeIntervalSince1970: Double(o.time))
        }
        v.strict = o.flags & NETSTACK_VERIFY_STRICT != 0
        v.partialChain = o.flags & NETSTACK_VERIFY_PARTIAL_CHAIN != 0
        v.explicitPolicy = o.flags & NETSTACK_VERIFY_EXPLICIT_POLICY != 0
        v.inhibitPolicyMapping = o.flags & NETSTACK_VERIFY_INHIBIT_POLICY_MAPPING != 0
        v.inhibitAnyPolicy = o.flags & NETSTACK_VERIFY_INHIBIT_ANY_POLICY != 0
        if o.structSize >= verifyOptionsSize, let p = o.policies {
            let list = String(cString: p).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            switch CertificateVerificationOptions.checkedPolicies(list) {
            case .success: v.initialPolicies = list
            case .failure(let why): return .failure(.init("policies: \(why)"))
            }
        }
        v.hostname = o.hostname.map { String(cString: $0) }
        v.ipAddress = o.ipAddress.map { String(cString: $0) }
        v.email = o.email.map { String(cString: $0) }
        if let why = CertificateVerificationOptions.peerNameProblem(hostname: v.hostname, ipAddress: v.ipAddress, email: v.email,
                                                                   names: ("hostname", "ipAddress", "email")) {
            return .failure(.init(why))
        }
        switch blob(o.untrusted, "untrusted") {
        case .success(let b): v.untrusted = b
        case .failure(let e): return .failure(e)
        }
        switch blob(o.crls, "crls") {
        case .success(let b): v.crls = b
        case .failure(let e): return .failure(e)
        }
        return .success(v)
    }

    private static func blob(_ p: UnsafePointer<NetStack_CertBlob>?, _ name: String) -> Result<[UInt8]?, CVerifyOptionError> {
        guard let b = p?.pointee else { return .success(nil) }
        guard b.type == NetStack_CERT_TYPE_PEM || b.type == NetStack_CERT_TYPE_DER else { return .failure(.init("\(name): type PEM or DER expected")) }
        guard let d = b.data, b.size > 0 else { return .failure(.init("\(name): data and size expected")) }
        return .success(Array(UnsafeRawBufferPointer(start: d, count: Int(b.size))))
    }
}

struct CVerifyOptionError: Error {
    let message: String
    init(_ m: String) { message = "invalid options: " + m }
}

@_cdecl("NetStack_VerifyCertificationEx")
public func NetStack_VerifyCertificationEx(_ cert: UnsafePointer<NetStack_CertBlob>?, _ caCert: UnsafePointer<NetStack_CertBlob>?,
                                           _ options: UnsafePointer<NetStack_VerifyOptions>?,
                                           _ reason: UnsafeMutablePointer<CChar>?, _ reasonSize: Int,
                                           _ depth: UnsafeMutablePointer<Int32>?) -> UInt32 {
    func finish(_ code: UInt32, _ text: String, _ d: Int?) -> UInt32 {
        depth?.pointee = Int32(d ?? -1)
        if let r = reason, reasonSize > 0 {
            let bytes = Array(text.utf8.prefix(reasonSize - 1))
            bytes.withUnsafeBufferPointer { b in
                if let base = b.baseAddress { UnsafeMutableRawPointer(r).copyMemory(from: base, byteCount: bytes.count) }
            }
            r[bytes.count] = 0
        }
        return code
    }
    var verifyOptions = CertificateVerificationOptions.documented
    if let o = options?.pointee {
        switch CVerifyOptions.make(o) {
        case .success(let v): verifyOptions = v
        case .failure(let e): return finish(CertificateVerifier.invalidInputCode, e.message, nil)
        }
    }
    guard let c = cert?.pointee, let data = c.data, c.size > 0 else {
        return finish(CertificateVerifier.invalidInputCode, CertificateVerifier.message(for: CertificateVerifier.invalidInputCode), nil)
    }
    let type = CertificateBlobType(rawValue: Int32(c.type.rawValue)) ?? .invalid
    let certBytes = UnsafeRawBufferPointer(start: data, count: Int(c.size))
    let result: CertificateVerificationResult
    if let ca = caCert?.pointee {
        let caType = CertificateBlobType(rawValue: Int32(ca.type.rawValue)) ?? .invalid
        guard let caData = ca.data, ca.size > 0 else {
            return finish(CertificateVerifier.invalidInputCode, "invalid input: CA data is NULL or empty", nil)
        }
        result = CertificateVerifier.verify(cert: certBytes, certType: type, ca: UnsafeRawBufferPointer(start: caData, count: Int(ca.size)),
                                            caType: caType, options: verifyOptions)
    } else {
        result = CertificateVerifier.verify(cert: certBytes, certType: type, ca: nil, options: verifyOptions)
    }
    return finish(result.code, result.isValid ? "ok" : result.description, result.depth)
}
