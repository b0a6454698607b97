import CLuaBridge
import Foundation
import NIOCore
import NIOPosix
import NetStack

/// Certificate functions of the `netstack` module: the documented verification, plus verify with
/// options, inspect and fetchChain as Lua values.
enum CertificateModule {
    /// OH_NetStack_VerifyCertification (and its alias OH_NetStack_CertVerification).
    private static let fnDocumented = LuaFunction.shared { vm in
        vm.ensureArgumentSlots(2)  // blob() pushes above them
        // blob = { type = ns.NetStack_CERT_TYPE_PEM, data = "..." }; nil cert → invalid input.
        func blob(_ i: Int32) -> (type: CertificateBlobType, data: UnsafeRawBufferPointer?)? {
            guard vm.type(at: i) == LUA_TTABLE else { return nil }
            vm.rawField(i, "type")
            let t = vm.integer(at: -1).flatMap { CertificateBlobType(rawValue: Int32(truncatingIfNeeded: $0)) } ?? .invalid
            netstack_pop(vm.L, 1)
            vm.rawField(i, "data")   // stays on the stack while the bytes are used
            return (t, vm.bytes(at: -1))
        }
        guard let cert = blob(1) else {
            if vm.type(at: 1) > LUA_TNIL { return vm.argError(1, "OH_NetStack_VerifyCertification", "table {type, data} or nil") }
            lua_pushinteger(vm.L, Int64(CertificateVerifier.invalidInputCode))
            return 1
        }
        let ca = vm.type(at: 2) == LUA_TTABLE ? blob(2) : nil
        if vm.type(at: 2) > LUA_TNIL && ca == nil { return vm.argError(2, "OH_NetStack_VerifyCertification", "table {type, data} or nil") }
        let result: CertificateVerificationResult
        if let ca = ca {
            result = CertificateVerifier.verify(cert: cert.data, certType: cert.type, ca: ca.data ?? UnsafeRawBufferPointer(start: nil, count: 0), caType: ca.type,
                                                options: .documented)
        } else {
            result = CertificateVerifier.verify(cert: cert.data, certType: cert.type, ca: nil, options: .documented)
        }
        lua_pushinteger(vm.L, Int64(result.code))
        return 1
    }

    private static let fnCertMessage = LuaFunction.shared { vm in
        guard let code = vm.integer(at: 1) else { return vm.argError(1, "certMessage", "integer") }
        vm.pushString(CertificateVerifier.message(for: UInt32(truncatingIfNeeded: code)))
        return 1
    }

    /// The options `ns.verify` takes (lua-api.md).
    private static let verifyOptionNames: Set<String> = [
        "ca", "untrusted", "crls", "hostname", "ip", "email", "time", "purpose", "maxDepth", "securityLevel", "partialChain",
        "policies", "explicitPolicy", "inhibitPolicyMapping", "inhibitAnyPolicy", "strict", "certType", "caType",
    ]

    private static let fnVerify = LuaFunction.shared { vm in
        vm.ensureArgumentSlots(2)
        let cert: [UInt8]
        switch CertificateSource.bytes(vm, at: 1) {
        case .success(let b): cert = b
        case .failure(let why): return vm.raise("bad argument #1 to 'verify' (\(why.message))")
        }
        var options = CertificateVerificationOptions()
        var certType = cert.withUnsafeBytes(detectType)
        var caType = CertificateBlobType.pem
        var ca: [UInt8]? = nil
        var bad: String? = nil
        if vm.type(at: 2) == LUA_TTABLE {
            if let why = OptionTableKeys.problem(vm, table: 2, known: verifyOptionNames) {
                return vm.raise("bad argument #2 to 'verify' (\(why))")
            }
            func integer(_ name: String, _ range: ClosedRange<Int>) -> Int? {
                guard let n = vm.number(at: -1), n.rounded() == n, n >= Double(range.lowerBound), n <= Double(range.upperBound) else {
                    bad = "\(name): integer from \(range.lowerBound) to \(range.upperBound) expected"
                    return nil
                }
                return Int(n)
            }
            func text(_ name: String) -> String? {
                guard vm.type(at: -1) == LUA_TSTRING, let t = vm.string(at: -1) else { bad = "\(name): string expected"; return nil }
                return t
            }
            func flag(_ name: String) -> Bool {
                guard vm.type(at: -1) == LUA_TBOOLEAN else { bad = "\(name): boolean expected"; return false }
                return lua_toboolean(vm.L, -1) != 0
            }
            func encoding(_ name: String) -> CertificateBlobType? {
                switch vm.type(at: -1) == LUA_TSTRING ? vm.string(at: -1) : nil {
                case "pem": return .pem
                case "der": return .der
                default: bad = "\(name): \"pem\" or \"der\" expected"; return nil
                }
            }
            // `policies`: one OID as a string, or a list of them.
            func policyList() -> [String]? {
                var list: [String] = []
                if vm.type(at: -1) == LUA_TSTRING, let t = vm.string(at: -1) {
                    list = [t]
                } else if vm.type(at: -1) == LUA_TTABLE {
                    let n = Int(lua_rawlen(vm.L, -1))
                    guard n <= CertificateVerificationOptions.maxInitialPolicies else {
                        bad = "policies: at most \(CertificateVerificationOptions.maxInitialPolicies) expected"
                        return nil
                    }
                    for i in 0..<n {
                        lua_rawgeti(vm.L, -1, lua_Integer(i + 1))
                        let item = vm.type(at: -1) == LUA_TSTRING ? vm.string(at: -1) : nil
                        netstack_pop(vm.L, 1)
                        guard let oid = item else { bad = "policies: item \(i + 1) is not a string"; return nil }
                        list.append(oid)
                    }
                } else {
                    bad = "policies: an OID string or a list of them expected"
                    return nil
                }
                switch CertificateVerificationOptions.checkedPolicies(list) {
                case .success: return list
                case .failure(let why): bad = "policies: \(why)"; return nil
                }
            }
            func blob(_ name: String) -> [UInt8]? {
                switch CertificateSource.bytes(vm, at: vm.top) {
                case .success(let b): return b
                case .failure(let why): bad = "\(name): \(why.message)"; return nil
                }
            }
            for (key, apply) in [
                ("ca", { ca = blob("ca"); if let b = ca { caType = b.withUnsafeBytes(detectType) } }),
                ("hostname", { options.hostname = text("hostname") }),
                ("ip", { options.ipAddress = text("ip") }),
                ("email", { options.email = text("email") }),
                ("time", { let t = vm.number(at: -1)
                           if !(t.map(CertificateVerificationOptions.validTimeRange.contains) ?? false) {
                               bad = "time: Unix seconds from -62135596800 to 253402300799 expected"
                           }
                           options.atTime = t.map { Date(timeIntervalSince1970: $0) } }),
                ("purpose", { if let p = vm.string(at: -1).flatMap(CertificatePurpose.init(rawValue:)) { options.purpose = p }
                              else { bad = "purpose: \"any\", \"server\" or \"client\" expected" } }),
                ("maxDepth", { options.maxDepth = integer("maxDepth", CertificateVerificationOptions.depthRange) }),
                ("securityLevel", { options.securityLevel = integer("securityLevel", CertificateVerificationOptions.securityLevelRange) }),
                ("partialChain", { options.partialChain = flag("partialChain") }),
                ("policies", { options.initialPolicies = policyList() }),
                ("explicitPolicy", { options.explicitPolicy = flag("explicitPolicy") }),
                ("inhibitPolicyMapping", { options.inhibitPolicyMapping = flag("inhibitPolicyMapping") }),
                ("inhibitAnyPolicy", { options.inhibitAnyPolicy = flag("inhibitAnyPolicy") }),
                ("untrusted", { options.untrusted = blob("untrusted") }),
                ("crls", { options.crls = blob("crls") }),
                ("certType", { if let t = encoding("certType") { certType = t } }),
                ("caType", { if let t = encoding("caType") { caType = t } }),
            ] as [(String, () -> Void)] {
                vm.rawField(2, key)
                if vm.type(at: -1) > LUA_TNIL { apply() }
                netstack_pop(vm.L, 1)
            }
            // strict = true brings the audit defaults (server purpose, security level 2) for what
            // the table does not set itself.
            vm.rawField(2, "strict")
            if vm.type(at: -1) > LUA_TNIL, flag("strict") {
                options.strict = true
                netstack_pop(vm.L, 1)
                vm.rawField(2, "purpose")
                if vm.type(at: -1) == LUA_TNIL { options.purpose = .server }
                netstack_pop(vm.L, 1)
                vm.rawField(2, "securityLevel")
                if vm.type(at: -1) == LUA_TNIL { options.securityLevel = 2 }
            }
            netstack_pop(vm.L, 1)
        } else if vm.type(at: 2) > LUA_TNIL {
            return vm.argError(2, "verify", "options table or nil")
        }
        if bad == nil {
            bad = CertificateVerificationOptions.peerNameProblem(hostname: options.hostname, ipAddress: options.ipAddress,
                                                                 email: options.email, names: ("hostname", "ip", "email"))
        }
        if let b = bad { return vm.raise("bad argument #2 to 'verify' (\(b))") }
        let result = CertificateVerifier.verify(cert: cert, certType: certType, ca: ca, caType: caType, options: options)
        pushVerification(vm, result)
        return 1
    }

    private static let fnInspect = LuaFunction.shared { vm in
        let data: [UInt8]
        switch CertificateSource.bytes(vm, at: 1) {
        case .success(let b): data = b
        case .failure(let why): return vm.raise("bad argument #1 to 'inspect' (\(why.message))")
        }
        var type = data.withUnsafeBytes(detectType)
        if vm.type(at: 2) > LUA_TNIL {
            switch vm.type(at: 2) == LUA_TSTRING ? vm.string(at: 2) : nil {
            case "pem": type = .pem
            case "der": type = .der
            default: return vm.argError(2, "inspect", "\"pem\", \"der\" or nil")
            }
        }
        let infos = CertificateInfo.parse(data, type: type)
        if infos.isEmpty {
            lua_pushnil(vm.L)
            vm.pushString("no certificate could be parsed")
            return 2
        }
        lua_createtable(vm.L, Int32(infos.count), 0)
        for (i, info) in infos.enumerated() {
            pushInfo(vm, info)
            lua_rawseti(vm.L, -2, Int64(i + 1))
        }
        return 1
    }

    private static let fnFetchChain = LuaFunction.hosted { vm, host in
        guard let hostName = vm.string(at: 1) else { return vm.argError(1, "fetchChain", "string") }
        var port = 443
        if vm.type(at: 2) > LUA_TNIL, vm.type(at: 2) != LUA_TTABLE, vm.type(at: 2) != LUA_TFUNCTION {
            guard let p = vm.integer(at: 2), (1...65535).contains(p) else { return vm.argError(2, "fetchChain", "port from 1 to 65535") }
            port = Int(p)
        }
        var serverName: String?, caFile: String?, caPath: String?
        var fetchCRLs = false, fetchOCSP = false
        var timeout = 10_000
        if vm.type(at: 3) == LUA_TTABLE {
            if let why = OptionTableKeys.problem(vm, table: 3, known: ["serverName", "caFile", "caPath", "crl", "ocsp", "timeout"]) {
                return vm.raise("bad argument #3 to 'fetchChain' (\(why))")
            }
            // Strings and booleans as the names say: a number or a "yes" would otherwise be read
            // as something else (`crl = "no"` is true to Lua). The first wrong one is reported.
            var bad: String? = nil
            func text(_ name: String) -> String? {
                vm.rawField(3, name)
                defer { netstack_pop(vm.L, 1) }
                guard vm.type(at: -1) == LUA_TSTRING else {
                    if vm.type(at: -1) != LUA_TNIL { bad = bad ?? "\(name): string expected" }
                    return nil
                }
                return vm.string(at: -1)
            }
            func flag(_ name: String) -> Bool {
                vm.rawField(3, name)
                defer { netstack_pop(vm.L, 1) }
                guard vm.type(at: -1) == LUA_TBOOLEAN else {
                    if vm.type(at: -1) != LUA_TNIL { bad = bad ?? "\(name): boolean expected" }
                    return false
                }
                return lua_toboolean(vm.L, -1) != 0
            }
            (serverName, caFile, caPath) = (text("serverName"), text("caFile"), text("caPath"))
            (fetchCRLs, fetchOCSP) = (flag("crl"), flag("ocsp"))
            if let bad { return vm.raise("bad argument #3 to 'fetchChain' (\(bad))") }
            vm.rawField(3, "timeout")
            if vm.type(at: -1) > LUA_TNIL {
                guard let t = vm.number(at: -1), t > 0, DurationArgument.milliseconds(t) != nil else {
                    netstack_pop(vm.L, 1)
                    return vm.raise("bad argument #3 to 'fetchChain' (timeout: \(DurationArgument.expected), above 0)")
                }
                timeout = Int(t.rounded(.up))
            }
            netstack_pop(vm.L, 1)
        }
        let callbackIndex: Int32? = vm.type(at: vm.top) == LUA_TFUNCTION ? vm.top : nil
        let fetch = { PresentedChain.fetch(host: hostName, port: port, serverName: serverName, timeoutMilliseconds: timeout, caFile: caFile, caPath: caPath) }
        guard let cb = callbackIndex else {
            if fetchCRLs { return vm.raise("bad argument #3 to 'fetchChain' (crl = true needs a callback)") }
            if fetchOCSP { return vm.raise("bad argument #3 to 'fetchChain' (ocsp = true needs a callback)") }
            return pushFetch(vm, fetch())
        }
        guard !host.isFinished, !vm.closing else { return vm.raise("fetchChain: the run has ended") }
        // Asynchronous: the handshake runs on the script's own event loop (no thread per fetch, so
        // as many run at once as the script starts); the callback runs there too.
        lua_pushvalue(vm.L, cb)
        let ref = vm.ref()
        host.pendingOperations += 1
        ChainFetcher.fetch(host: hostName, port: port, serverName: serverName, timeoutMilliseconds: timeout,
                           caFile: caFile, caPath: caPath, fetchCRLs: fetchCRLs, fetchOCSP: fetchOCSP, on: host.eventLoop).whenSuccess { result in
            host.pendingOperations -= 1
            // The run may have ended (netstack.exit) while the handshake ran.
            guard !vm.isClosed, !host.isFinished else { return }
            vm.pushRef(ref)
            vm.unref(ref)
            let n = pushFetch(vm, result)
            if !vm.call(nargs: n, context: "fetchChain callback") { host.callbackFailed(nil) }
            host.checkIdle()
        }
        return 0
    }

    /// Installs into the module table on top of the stack.
    /// The netstack module's certificate functions.
    static let entries: [(String, LuaModuleTable.Value)] = [
        ("OH_NetStack_VerifyCertification", .function(fnDocumented)),
        ("OH_NetStack_CertVerification", .function(fnDocumented)),
        ("certMessage", .function(fnCertMessage)),
        // ns.verify(cert, { ca =, untrusted =, crls =, certType =, caType =, hostname =, ip =, email =, time =,
        //                   purpose = "any"|"server"|"client", maxDepth =, securityLevel =, partialChain =, strict = })
        ("verify", .function(fnVerify)),
        // ns.inspect(data [, "pem"|"der"]) -> { cert, ... }
        ("inspect", .function(fnInspect)),
        // ns.fetchChain(host, port [, options] [, callback])
        ("fetchChain", .function(fnFetchChain)),
    ]

    static func detectType(_ data: UnsafeRawBufferPointer) -> CertificateBlobType {
        CertificateBlobType.detect(data)
    }

    static func pushVerification(_ vm: LuaVM, _ r: CertificateVerificationResult) {
        let L = vm.L
        lua_createtable(L, 0, 7)
        lua_pushinteger(L, Int64(r.code)); lua_setfield(L, -2, "code")
        lua_pushboolean(L, r.isValid ? 1 : 0); lua_setfield(L, -2, "ok")
        vm.pushString(r.meaning); lua_setfield(L, -2, "meaning")
        vm.pushString(r.reason); lua_setfield(L, -2, "reason")
        lua_pushinteger(L, Int64(r.openSSLError)); lua_setfield(L, -2, "opensslError")
        if let d = r.depth { lua_pushinteger(L, Int64(d)); lua_setfield(L, -2, "depth") }
        if let s = r.subject { vm.pushString(s); lua_setfield(L, -2, "subject") }
        lua_pushboolean(L, r.crlChecked ? 1 : 0); lua_setfield(L, -2, "crlChecked")
    }

    static func pushStrings(_ vm: LuaVM, _ list: [String], _ key: String) {
        lua_createtable(vm.L, Int32(list.count), 0)
        for (i, s) in list.enumerated() {
            vm.pushString(s)
            lua_rawseti(vm.L, -2, Int64(i + 1))
        }
        lua_setfield(vm.L, -2, key)
    }

    static func pushInfo(_ vm: LuaVM, _ c: CertificateInfo) {
        let L = vm.L
        lua_createtable(L, 0, 32)
        func str(_ k: String, _ v: String) { vm.pushString(v); lua_setfield(L, -2, k) }
        func num(_ k: String, _ v: Double) { lua_pushnumber(L, v); lua_setfield(L, -2, k) }
        func int(_ k: String, _ v: Int) { lua_pushinteger(L, Int64(v)); lua_setfield(L, -2, k) }
        func bool(_ k: String, _ v: Bool) { lua_pushboolean(L, v ? 1 : 0); lua_setfield(L, -2, k) }
        int("version", c.version)
        str("subject", c.subject); str("issuer", c.issuer)
        pushStrings(vm, c.subjectAttributes, "subjectAttributes")
        pushStrings(vm, c.issuerAttributes, "issuerAttributes")
        if let cn = c.commonName { str("commonName", cn) }
        str("serial", c.serial)
        int("notBefore", Int(c.notBefore.timeIntervalSince1970.rounded(.down)))
        int("notAfter", Int(c.notAfter.timeIntervalSince1970.rounded(.down)))
        // Whole days (negative once expired) and the exact seconds.
        let secondsLeft = c.notAfter.timeIntervalSinceNow.rounded(.down)
        int("daysLeft", Int((secondsLeft / 86_400).rounded(.down)))
        int("secondsLeft", Int(secondsLeft))
        pushStrings(vm, c.dnsNames, "dns")
        pushStrings(vm, c.ipAddresses, "ip")
        pushStrings(vm, c.emails, "email")
        pushStrings(vm, c.uris, "uri")
        str("keyType", c.keyType); int("keyBits", c.keyBits)
        if let curve = c.keyCurve { str("keyCurve", curve) }
        str("signatureAlgorithm", c.signatureAlgorithm)
        str("sha256", c.sha256Fingerprint); str("sha1", c.sha1Fingerprint)
        bool("isCA", c.isCA)
        if let p = c.pathLength { int("pathLength", p) }
        pushStrings(vm, c.keyUsage, "keyUsage")
        pushStrings(vm, c.extendedKeyUsage, "extendedKeyUsage")
        pushStrings(vm, c.ocspURLs, "ocsp")
        pushStrings(vm, c.caIssuersURLs, "caIssuers")
        int("scts", c.embeddedSCTs)
        bool("mustStaple", c.mustStaple)
        pushStrings(vm, c.crlDistributionPoints, "crl")
        bool("selfSigned", c.isSelfSigned)
        c.der.withUnsafeBytes { vm.pushBytes($0) }
        lua_setfield(L, -2, "der")
        str("pem", "-----BEGIN CERTIFICATE-----\n" + Data(c.der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            + "\n-----END CERTIFICATE-----\n")
    }

    static func pushFetch(_ vm: LuaVM, _ r: Result<PresentedChain, PresentedChain.Failure>) -> Int32 {
        switch r {
        case .failure(let f):
            lua_pushnil(vm.L)
            vm.pushString(f.description)
            return 2
        case .success(let chain):
            let L = vm.L
            lua_createtable(L, 0, 6)
            vm.pushString(chain.host); lua_setfield(L, -2, "host")
            lua_pushinteger(L, Int64(chain.port)); lua_setfield(L, -2, "port")
            vm.pushString(chain.tlsVersion); lua_setfield(L, -2, "tlsVersion")
            vm.pushString(chain.cipher); lua_setfield(L, -2, "cipher")
            lua_createtable(L, Int32(chain.certificates.count), 0)
            for (i, c) in chain.certificates.enumerated() {
                pushInfo(vm, c)
                lua_rawseti(L, -2, Int64(i + 1))
            }
            lua_setfield(L, -2, "certificates")
            pushVerification(vm, chain.verification)
            lua_setfield(L, -2, "verification")
            if let o = chain.stapledOCSP {
                lua_createtable(L, 0, 5)
                vm.pushString(o.status.rawValue); lua_setfield(L, -2, "status")
                vm.pushString(o.reason); lua_setfield(L, -2, "reason")
                for (key, date) in [("thisUpdate", o.thisUpdate), ("nextUpdate", o.nextUpdate), ("revokedAt", o.revokedAt)] {
                    if let d = date { lua_pushinteger(L, Int64(d.timeIntervalSince1970)); lua_setfield(L, -2, key) }
                }
                lua_setfield(L, -2, "ocsp")
            }
            // Per certificate, fetched: { certificate, url, status, reason, nextUpdate [, revokedAt] }.
            func pushRevocations(_ rows: [(Int, String, String, String, Date?, Date?)], as key: String) {
                lua_createtable(L, Int32(rows.count), 0)
                for (i, r) in rows.enumerated() {
                    lua_createtable(L, 0, 6)
                    lua_pushinteger(L, Int64(r.0)); lua_setfield(L, -2, "certificate")
                    vm.pushString(r.1); lua_setfield(L, -2, "url")
                    vm.pushString(r.2); lua_setfield(L, -2, "status")
                    vm.pushString(r.3); lua_setfield(L, -2, "reason")
                    if let d = r.4 { lua_pushinteger(L, Int64(d.timeIntervalSince1970)); lua_setfield(L, -2, "nextUpdate") }
                    if let d = r.5 { lua_pushinteger(L, Int64(d.timeIntervalSince1970)); lua_setfield(L, -2, "revokedAt") }
                    lua_rawseti(L, -2, Int64(i + 1))
                }
                lua_setfield(L, -2, key)
            }
            if let list = chain.crlStatus {
                pushRevocations(list.map { ($0.certificate, $0.url, $0.status.rawValue, $0.reason, $0.nextUpdate, nil) }, as: "crl")
            }
            if let list = chain.ocspFetched {
                pushRevocations(list.map { ($0.certificate, $0.url, $0.status.rawValue, $0.reason, $0.nextUpdate, $0.revokedAt) }, as: "ocspFetched")
            }
            return 1
        }
    }
}
