import CLuaBridge
import Foundation
import NIOCore
import NetStack

/// The client userdata: creation, lookup, event dispatch into Lua, and the object methods.
enum LuaClientBinding {
    enum Resolved {
        case client(LuaClient)
        case code(WebSocketErrCode)
        case raise
    }

    /// The client argument of an OH_* function: nil → WEBSOCKET_CLIENT_NULL, a destroyed client →
    /// WEBSOCKET_CLIENT_NOT_CREATED, anything else that is not a client → a Lua error.
    static func resolve(_ vm: LuaVM, _ host: ScriptHost, _ index: Int32, _ function: String) -> Resolved {
        if vm.type(at: index) <= LUA_TNIL { return .code(.clientNull) }
        guard isClientUserdata(vm, index) else {
            _ = vm.argError(index, function, "netstack client")
            return .raise
        }
        guard let c = clientFromUserdata(vm, host, index), !c.destroyed else { return .code(.clientNotCreated) }
        return .client(c)
    }

    static func isClientUserdata(_ vm: LuaVM, _ index: Int32) -> Bool {
        luaL_testudata(vm.L, index, NetStackModule.clientMetatable) != nil
    }

    static func clientFromUserdata(_ vm: LuaVM, _ host: ScriptHost, _ index: Int32) -> LuaClient? {
        guard let p = luaL_testudata(vm.L, index, NetStackModule.clientMetatable) else { return nil }
        let id = p.load(as: Int.self)
        return host.client(id: id)
    }

    static func pushNewUserdata(_ c: LuaClient, host: ScriptHost) {
        let L = host.vm.L
        let p = lua_newuserdatauv(L, MemoryLayout<Int>.size, 0)!
        p.storeBytes(of: c.id, as: Int.self)
        luaL_setmetatable(L, NetStackModule.clientMetatable)
        lua_getfield(L, netstack_registryindex(), NetStackModule.weakClientsKey)
        lua_pushvalue(L, -2)
        lua_rawseti(L, -2, Int64(c.id))
        netstack_pop(L, 1)
    }

    /// Pushes the script's object for `c` (nil if it was collected).
    static func pushUserdata(_ c: LuaClient, host: ScriptHost) {
        let L = host.vm.L
        if c.selfRef != LUA_NOREF {
            // Live clients hold a strong reference: one registry index, no string lookup.
            netstack_getregistry_ref(L, c.selfRef)
            return
        }
        lua_getfield(L, netstack_registryindex(), NetStackModule.weakClientsKey)
        lua_rawgeti(L, -1, Int64(c.id))
        netstack_remove(L, -2)
    }

    // MARK: Events

    /// The callbacks hold the host and the client strongly: the cycle host -> client -> callbacks ->
    /// host ends when the client is destroyed (destroy drops the callbacks), which the script or
    /// `finish` does for every client. Weak captures would cost a side-table reference count on
    /// every retain of either object, on every message (about a quarter of the Lua host's cost
    /// per small message).
    static func wire(_ c: LuaClient, host: ScriptHost) {
        let vm = host.vm
        c.client.onOpen = { [host, c] _, r in
            let L = vm.L
            host.emit(["event": .string("open"), "client": .int(Int64(c.id)), "code": .int(Int64(r.code)), "reason": .string(r.reason)])
            host.connectionOpened(c)
            if let o = host.observer {
                let now = DispatchTime.now().uptimeNanoseconds
                let tcp = c.client.transportConnectedAt == 0 ? now : c.client.transportConnectedAt
                o.opened(set: c.metricSet, connectNanos: tcp &- c.connectStartedAt, handshakeNanos: now &- tcp)
                c.openedAt = now
            }
            if let extra = dispatchPrologue(c, 0, host) {
                lua_createtable(L, 0, 3)
                lua_pushinteger(L, Int64(r.code)); lua_setfield(L, -2, "code")
                vm.pushString(r.reason); lua_setfield(L, -2, "reason")
                if let p = r.protocolName { vm.pushString(p); lua_setfield(L, -2, "protocol") }
                if !r.redirects.isEmpty {
                    lua_createtable(L, Int32(r.redirects.count), 0)
                    for (i, u) in r.redirects.enumerated() { vm.pushString(u); lua_rawseti(L, -2, Int64(i + 1)) }
                    lua_setfield(L, -2, "redirects")
                }
                if !vm.call(nargs: 2 + extra, context: "onOpen") { host.callbackFailed(c) }
            }
            host.checkIdle()
        }
        c.client.onMessage = { [host, c] client, m in
            let L = vm.L
            host.observer?.received(set: c.metricSet, bytes: m.data.readableBytes)
            host.emit(["event": .string("message"), "client": .int(Int64(c.id)), "kind": .string(m.kind == .text ? "text" : "binary"),
                       "length": .int(Int64(m.data.readableBytes)),
                       "data": .string(m.kind == .text ? m.text : m.data.withUnsafeReadableBytes { Hex.encode($0) })])
            if let extra = dispatchPrologue(c, 1, host) {
                if let raw = client.lentPayloadBytes(of: m) { vm.pushBytes(raw) } else { m.data.withUnsafeReadableBytes { vm.pushBytes($0) } }
                lua_pushinteger(L, Int64(m.data.readableBytes))
                netstack_getregistry_ref(L, m.kind == .text ? host.textRef : host.binaryRef)
                if !vm.call(nargs: 4 + extra, context: "onMessage") { host.callbackFailed(c) }
            }
            host.checkIdle()
        }
        c.client.onMessageRun = { [host, c] _, run in LuaMessageRun.consume(&run, c, host) }
        c.client.onError = { [host, c] client, e in
            let L = vm.L
            let terminal = client.state == .closed
            if terminal {
                host.connectionFailed(c)
                if c.openedAt == 0 { host.observer?.failedBeforeOpen(set: c.metricSet, code: Int32(e.code.rawValue)) }
            }
            host.observer?.errorReported(set: c.metricSet, code: Int32(e.code.rawValue))
            host.emit(["event": .string("error"), "client": .int(Int64(c.id)), "errorCode": .int(Int64(e.code.rawValue)), "errorMessage": .string(e.message)])
            if let extra = dispatchPrologue(c, 2, host) {
                lua_createtable(L, 0, 2)
                lua_pushinteger(L, Int64(e.code.rawValue)); lua_setfield(L, -2, "errorCode")
                vm.pushString(e.message); lua_setfield(L, -2, "errorMessage")
                if !vm.call(nargs: 2 + extra, context: "onError") { host.callbackFailed(c) }
            }
            if terminal { host.releaseUnlessReconnected(c) }
            host.checkIdle()
        }
        c.client.onClose = { [host, c] _, r in
            let L = vm.L
            if !r.wasClean { host.connectionFailed(c) }
            if let o = host.observer, c.openedAt != 0 {
                o.closed(set: c.metricSet, code: r.code, clean: r.wasClean, sessionNanos: DispatchTime.now().uptimeNanoseconds &- c.openedAt)
                c.openedAt = 0
            }
            host.emit(["event": .string("close"), "client": .int(Int64(c.id)), "code": .int(Int64(r.code)), "reason": .string(r.reason)])
            if let extra = dispatchPrologue(c, 3, host) {
                lua_createtable(L, 0, 2)
                lua_pushinteger(L, Int64(r.code)); lua_setfield(L, -2, "code")
                vm.pushString(r.reason); lua_setfield(L, -2, "reason")
                if !vm.call(nargs: 2 + extra, context: "onClose") { host.callbackFailed(c) }
            }
            host.releaseUnlessReconnected(c)
            host.checkIdle()
        }
    }

    static let eventNames = ["open", "message", "error", "close"]

    /// Pushes the callback and the client object, and returns how many more arguments than
    /// (client, ...) the call takes; nil when there is nothing to run. An event a plugin hooks
    /// goes through the plugin runtime's dispatcher: (event, callback or nil, client, ...).
    private static func dispatchPrologue(_ c: LuaClient, _ which: Int, _ host: ScriptHost) -> Int32? {
        guard !c.destroyed, !host.vm.isClosed else { return nil }
        let ref = c.callbacks[which]
        if let plugins = host.plugins, plugins.isHooked(which) {
            host.vm.pushRef(plugins.dispatchRef)
            host.vm.pushRef(plugins.eventNameRefs[which])
            if ref != LUA_NOREF { host.vm.pushRef(ref) } else { lua_pushnil(host.vm.L) }
            pushUserdata(c, host: host)
            return 2
        }
        guard ref != LUA_NOREF else { return nil }
        host.vm.pushRef(ref)
        pushUserdata(c, host: host)
        return 0
    }

    // MARK: Operations shared by the OH_* functions and the methods

    static func addHeader(_ c: LuaClient, vm: LuaVM, tableIndex: Int32) -> WebSocketErrCode {
        // Text as it is: bytes that are not UTF-8 are refused (1015), never sent altered.
        vm.rawField(tableIndex, "fieldName")
        let name = vm.utf8String(at: -1)
        netstack_pop(vm.L, 1)
        vm.rawField(tableIndex, "fieldValue")
        let value = vm.utf8String(at: -1)
        netstack_pop(vm.L, 1)
        guard let n = name, let v = value else { return .noHeaderContext }
        return addHeader(c, WebSocketHeader(n, v))
    }

    static func addHeader(_ c: LuaClient, _ h: WebSocketHeader) -> WebSocketErrCode {
        do { try HeaderValidation.validate(h) } catch let e as WebSocketError { return e.code } catch { return .noHeaderContext }
        if c.headers.count >= c.client.configuration.maxHeaderCount { return .headerExceeded }
        c.headers.append(h)
        return .ok
    }

    enum ConnectFailure: Error {
        case raise(String)
        case code(WebSocketError)
    }

    static let optionNames: Set<String> = [
        "headers", "protocols", "caFile", "caPath", "clientCert", "clientKey", "insecure", "serverName",
        "connectTimeout", "maxSendSize", "maxReceiveSize", "maxSendQueue", "compression", "pingInterval", "pongTimeout",
        "busyPoll", "proxy", "followRedirects", "tlsMinVersion", "tlsMaxVersion", "pinnedPublicKey", "clientKeyPassword",
    ]

    /// Applies the options table at `optionsIndex` (nil allowed) and connects.
    static func connect(_ c: LuaClient, host: ScriptHost, url: String, optionsIndex: Int32) -> Result<Void, ConnectFailure> {
        let vm = host.vm
        // A finalizer run while the state closes, or code after the run ended, gets no connection:
        // its events could only arrive after the state is gone.
        if host.isFinished || vm.closing {
            return .failure(.code(WebSocketError(.connectionError, "the run has ended; no new connections")))
        }
        let L = vm.L
        var config = c.client.configuration
        var headers = c.headers
        if vm.type(at: optionsIndex) > LUA_TNIL {
            guard vm.type(at: optionsIndex) == LUA_TTABLE else { return .failure(.raise("connect options must be a table, got \(vm.typeName(at: optionsIndex))")) }
            let t = lua_absindex(L, optionsIndex)
            lua_pushnil(L)
            while lua_next(L, t) != 0 {
                // Pops the value after each entry, leaving the key for lua_next; on an early return
                // the key stays too (the caller raises, which discards the stack).
                defer { netstack_pop(L, 1) }
                guard let key = vm.string(at: -2) else { return .failure(.raise("connect options: keys must be strings")) }
                guard optionNames.contains(key) else {
                    return .failure(.raise("connect options: unknown option '\(key)' (known: \(optionNames.sorted().joined(separator: ", ")))"))
                }
                func str() -> String? { vm.string(at: -1) }
                func ms() -> TimeAmount? { vm.number(at: -1).flatMap(DurationArgument.milliseconds) }
                func int() -> Int? { vm.integer(at: -1).flatMap { $0 > 0 ? Int($0) : nil } }
                var bad = false
                switch key {
                case "headers":
                    guard vm.type(at: -1) == LUA_TTABLE else { bad = true; break }
                    let n = lua_rawlen(L, -1)
                    if n > 0 {
                        for i in 1...n {
                            lua_rawgeti(L, -1, Int64(i))
                            if vm.type(at: -1) == LUA_TTABLE {
                                vm.rawField(-1, "fieldName"); let name = vm.string(at: -1); let nameIsText = vm.utf8String(at: -1) != nil; netstack_pop(L, 1)
                                vm.rawField(-1, "fieldValue"); let value = vm.string(at: -1); let valueIsText = vm.utf8String(at: -1) != nil; netstack_pop(L, 1)
                                if let name = name, let value = value {
                                    // Bytes that are not UTF-8 are an invalid header (1015), as in addHeader.
                                    guard nameIsText && valueIsText else {
                                        return .failure(.code(WebSocketError(.noHeaderContext, "header '\(name)': not valid UTF-8")))
                                    }
                                    headers.append(WebSocketHeader(name, value))
                                } else { bad = true }
                            } else { bad = true }
                            netstack_pop(L, 1)
                        }
                    }
                case "protocols":
                    guard vm.type(at: -1) == LUA_TTABLE else { bad = true; break }
                    var list: [String] = []
                    let n = lua_rawlen(L, -1)
                    if n > 0 {
                        for i in 1...n {
                            lua_rawgeti(L, -1, Int64(i))
                            if let s = vm.string(at: -1) { list.append(s) } else { bad = true }
                            netstack_pop(L, 1)
                        }
                    }
                    config.protocols = list
                case "caFile": if let s = str() { config.tls.caFile = s } else { bad = true }
                case "caPath": if let s = str() { config.tls.caPath = s } else { bad = true }
                case "clientCert": if let s = str() { config.tls.clientCertificateFile = s } else { bad = true }
                case "clientKey": if let s = str() { config.tls.clientKeyFile = s } else { bad = true }
                case "serverName": if let s = str() { config.tls.serverName = s } else { bad = true }
                case "insecure": config.tls.insecure = vm.boolean(at: -1)
                case "compression": config.compression = vm.boolean(at: -1)
                case "connectTimeout": if let t = ms(), t.nanoseconds > 0 { config.connectTimeout = t } else { bad = true }
                case "pingInterval":
                    if let t = ms(), t.nanoseconds == 0 || t >= WebSocketClientConfiguration.minimumPingInterval { config.pingInterval = t } else { bad = true }
                case "pongTimeout": if let t = ms() { config.pongTimeout = t } else { bad = true }
                case "busyPoll": if let t = ms() { config.busyPoll = t } else { bad = true }
                case "tlsMinVersion", "tlsMaxVersion":
                    if let v = str().flatMap(WebSocketTLSVersion.init(rawValue:)) {
                        if key == "tlsMinVersion" { config.tls.minimumVersion = v } else { config.tls.maximumVersion = v }
                    } else { bad = true }
                case "pinnedPublicKey":
                    // One pin or a list of pins ("sha256//BASE64").
                    var pins: [String] = []
                    if vm.type(at: -1) == LUA_TSTRING, let s = str() {
                        pins = [s]
                    } else if vm.type(at: -1) == LUA_TTABLE {
                        let n = lua_rawlen(L, -1)
                        if n > 0 {
                            for i in 1...n {
                                lua_rawgeti(L, -1, Int64(i))
                                if vm.type(at: -1) == LUA_TSTRING, let s = vm.string(at: -1) { pins.append(s) } else { bad = true }
                                netstack_pop(L, 1)
                            }
                        }
                    } else { bad = true }
                    if !bad {
                        do { _ = try PublicKeyPins(pins) } catch let e as WebSocketError { return .failure(.raise("connect options: \(e.message)")) } catch {}
                        config.tls.pinnedPublicKeys = pins
                    }
                case "clientKeyPassword": if let s = str() { config.tls.clientKeyPassword = s } else { bad = true }
                case "followRedirects":
                    // true: up to 10; a whole number from 0 to 10; false or 0: none.
                    if vm.type(at: -1) == LUA_TBOOLEAN {
                        config.followRedirects = vm.boolean(at: -1) ? 10 : 0
                    } else if let n = vm.integer(at: -1), n >= 0, n <= 10 {
                        config.followRedirects = Int(n)
                    } else { bad = true }
                case "proxy":
                    // A proxy URL; false or "" for none (the environment ignored too).
                    if vm.type(at: -1) == LUA_TBOOLEAN, !vm.boolean(at: -1) {
                        config.proxy = .direct
                    } else if let s = str(), vm.type(at: -1) == LUA_TSTRING {
                        if s.isEmpty {
                            config.proxy = .direct
                        } else {
                            do { config.proxy = .proxy(try WebSocketProxy(parsing: s)) } catch let e as WebSocketError { return .failure(.code(e)) } catch { bad = true }
                        }
                    } else { bad = true }
                case "maxSendSize": if let n = int() { config.maxSendSize = n } else { bad = true }
                case "maxReceiveSize": if let n = int() { config.maxReceiveSize = n } else { bad = true }
                case "maxSendQueue": if let n = int() { config.maxSendQueue = n } else { bad = true }
                default: break
                }
                if bad {
                    let expected = key == "pingInterval" ? " (0, or milliseconds from 1 to 2147483647)"
                        : ["connectTimeout", "pongTimeout", "busyPoll"].contains(key) ? " (\(DurationArgument.expected))"
                        : key == "followRedirects" ? " (true, false or a whole number from 0 to 10)"
                        : key.hasPrefix("tlsM") ? " (\"1.0\", \"1.1\", \"1.2\" or \"1.3\")"
                        : key == "pinnedPublicKey" ? " (a pin \"sha256//BASE64\" or a list of them)" : ""
                    return .failure(.raise("connect options: invalid value for '\(key)'\(expected)"))
                }
            }
        }
        c.client.configuration = config
        do {
            try c.client.connect(to: url, headers: host.options.clientDefaults.headers(beside: headers))
        } catch let e as WebSocketError {
            return .failure(.code(e))
        } catch {
            return .failure(.code(WebSocketError(.connectionError, "\(error)")))
        }
        if let local = host.localServerNotice, local == url {
            host.localServerNotice = nil
            host.options.log("netstack: no --url given; using the built-in local echo server at \(local)")
        }
        host.anchor(c)
        if let o = host.observer {
            c.connectStartedAt = DispatchTime.now().uptimeNanoseconds
            c.openedAt = 0
            c.metricSet = o.connectStarted()
        }
        return .success(())
    }

    static func close(_ c: LuaClient, code: Int64, reason: String) -> WebSocketErrCode {
        guard code >= 0, code <= Int64(UInt32.max) else { return .protocolError }
        do { try c.client.close(code: UInt32(code), reason: reason); return .ok } catch let e as WebSocketError { return e.code } catch { return .connectionError }
    }

    static func destroy(_ c: LuaClient, host: ScriptHost) {
        guard !c.destroyed else { return }
        c.destroyed = true
        // A session the script ends by destroying it (also a `<close>` variable's end) ends now.
        if let o = host.observer, c.openedAt != 0 {
            o.destroyedWhileOpen(set: c.metricSet, sessionNanos: DispatchTime.now().uptimeNanoseconds &- c.openedAt)
            c.openedAt = 0
        }
        c.client.destroy()
        host.forget(c)
        // No checkIdle here: destroy runs inside Lua code; the dispatcher checks after the callback.
    }

    // MARK: Methods (c:connect(...), ...): true on success, else nil, message, code

    private static func fail(_ vm: LuaVM, _ e: WebSocketError) -> Int32 {
        lua_pushnil(vm.L)
        vm.pushString(e.message)
        lua_pushinteger(vm.L, Int64(e.code.rawValue))
        return 3
    }
    private static func ok(_ vm: LuaVM) -> Int32 { lua_pushboolean(vm.L, 1); return 1 }
    /// The method's client: nil when argument 1 is not a client, .some(nil) when it was destroyed.
    private static func selfClient(_ vm: LuaVM, _ host: ScriptHost) -> LuaClient?? {
        // One check of the userdata's metatable (it was two: is it a client, then which).
        guard let p = luaL_testudata(vm.L, 1, NetStackModule.clientMetatable) else { return .none }
        guard let c = host.client(id: p.load(as: Int.self)), !c.destroyed else { return .some(nil) }
        return .some(c)
    }
    private static let destroyedError = WebSocketError(.clientNotCreated, "client was destroyed")

    private static let methodAddHeader = LuaFunction.hosted { vm, host in
        guard let resolved = selfClient(vm, host) else { return vm.argError(1, "addHeader", "netstack client") }
        guard let c = resolved else { return fail(vm, destroyedError) }
        guard let name = vm.string(at: 2) else { return vm.argError(2, "addHeader", "string") }
        guard vm.type(at: 3) == LUA_TSTRING else { return vm.argError(3, "addHeader", "string") }
        // Text as it is: bytes that are not UTF-8 are refused (1015), never sent altered.
        guard vm.utf8String(at: 2) != nil, let value = vm.utf8String(at: 3) else {
            return fail(vm, WebSocketError(.noHeaderContext, "invalid header '\(name)': not valid UTF-8"))
        }
        let rc = addHeader(c, WebSocketHeader(name, value))
        return rc == .ok ? ok(vm) : fail(vm, WebSocketError(rc, "invalid header '\(name)': \(rc.meaning)"))
    }

    private static let methodConnect = LuaFunction.hosted { vm, host in
        guard let resolved = selfClient(vm, host) else { return vm.argError(1, "connect", "netstack client") }
        guard let c = resolved else { return fail(vm, destroyedError) }
        guard let url = vm.string(at: 2) else { return vm.argError(2, "connect", "string") }
        switch connect(c, host: host, url: url, optionsIndex: 3) {
        case .success: return ok(vm)
        case .failure(.raise(let m)): return vm.raise(m)
        case .failure(.code(let e)): return fail(vm, e)
        }
    }

    private static let sendOptionNames: Set<String> = ["binary"]

    private static let methodSend = LuaFunction.hosted { vm, host in
        guard let resolved = selfClient(vm, host) else { return vm.argError(1, "send", "netstack client") }
        guard let c = resolved else { return fail(vm, destroyedError) }
        guard let bytes = vm.messageBytes(at: 2) else { return vm.argError(2, "send", "string") }
        var binary = false
        if vm.type(at: 3) == LUA_TTABLE {
            if let why = OptionTableKeys.problem(vm, table: 3, known: sendOptionNames) { return vm.raise("bad argument #3 to 'send' (\(why))") }
            vm.rawField(3, "binary")
            binary = vm.boolean(at: -1)
            netstack_pop(vm.L, 1)
        } else if vm.type(at: 3) > LUA_TNIL {
            return vm.argError(3, "send", "table {binary = bool} or nil")
        }
        if !binary && !UTF8Validator.isValid(bytes) {
            return fail(vm, WebSocketError(.protocolError, "text message is not valid UTF-8 (send it with { binary = true })"))
        }
        do { try c.client.send(bytes, kind: binary ? .binary : .text) } catch let e as WebSocketError { return fail(vm, e) } catch {}
        host.observer?.sent(set: c.metricSet, bytes: bytes.count)
        return ok(vm)
    }

    private static let methodClose = LuaFunction.hosted { vm, host in
        guard let resolved = selfClient(vm, host) else { return vm.argError(1, "close", "netstack client") }
        guard let c = resolved else { return fail(vm, destroyedError) }
        let code = vm.type(at: 2) > LUA_TNIL ? (vm.integer(at: 2) ?? -1) : 1000
        // The reason goes on the wire as UTF-8 (RFC 6455 §5.5.1): other bytes are refused.
        if vm.type(at: 3) == LUA_TSTRING, vm.utf8String(at: 3) == nil {
            return fail(vm, WebSocketError(.protocolError, "close reason is not valid UTF-8"))
        }
        let reason = vm.string(at: 3) ?? ""
        do {
            guard code >= 0 && code <= 65535 else { throw WebSocketError(.protocolError, "invalid close code \(code)") }
            try c.client.close(code: UInt32(code), reason: reason)
        } catch let e as WebSocketError { return fail(vm, e) } catch {}
        return ok(vm)
    }

    /// For the coroutine layer: the client's connection counts as failed for the exit status (it
    /// closed the connection itself for a limit: a receive queue the script did not drain).
    static let fnMarkFailed = LuaFunction.hosted { vm, host in
        guard let resolved = selfClient(vm, host) else { return vm.argError(1, "markFailed", "netstack client") }
        if let c = resolved { host.connectionFailed(c) }
        return 0
    }

    private static let methodDestroy = LuaFunction.hosted { vm, host in
        guard let resolved = selfClient(vm, host) else { return vm.argError(1, "destroy", "netstack client") }
        if let c = resolved { destroy(c, host: host) }
        return ok(vm)
    }

    private static let methodState = LuaFunction.hosted { vm, host in
        guard let resolved = selfClient(vm, host) else { return vm.argError(1, "state", "netstack client") }
        vm.pushString(resolved.map { "\($0.client.state)" } ?? "destroyed")
        return 1
    }

    private static let methodId = LuaFunction.shared { vm in
        guard isClientUserdata(vm, 1), let p = luaL_testudata(vm.L, 1, NetStackModule.clientMetatable) else { return vm.argError(1, "id", "netstack client") }
        lua_pushinteger(vm.L, Int64(p.load(as: Int.self)))
        return 1
    }

    private static let methodBufferedAmount = LuaFunction.hosted { vm, host in
        guard let resolved = selfClient(vm, host) else { return vm.argError(1, "bufferedAmount", "netstack client") }
        lua_pushinteger(vm.L, Int64(resolved?.client.bufferedAmount ?? 0))
        return 1
    }

    /// c:ping([data [, callback]]): callback(rttMilliseconds) on the pong, callback(nil, message,
    /// code) when none came (the connection ended, too many pings waiting).
    private static let methodPing = LuaFunction.hosted { vm, host in
        guard let resolved = selfClient(vm, host) else { return vm.argError(1, "ping", "netstack client") }
        guard let c = resolved else { return fail(vm, destroyedError) }
        var payload: [UInt8] = []
        if vm.type(at: 2) > LUA_TNIL {
            guard vm.type(at: 2) == LUA_TSTRING, let bytes = vm.bytes(at: 2) else { return vm.argError(2, "ping", "string or nil") }
            payload = Array(bytes)
        }
        var callbackRef: Int32 = LUA_NOREF
        if vm.type(at: 3) > LUA_TNIL {
            guard vm.type(at: 3) == LUA_TFUNCTION else { return vm.argError(3, "ping", "function or nil") }
            lua_pushvalue(vm.L, 3)
            callbackRef = vm.ref()
        }
        let ref = callbackRef
        let completion: WebSocketClient.PingCompletion? = ref == LUA_NOREF ? nil : { [weak host] result in
            guard let host = host, !host.vm.isClosed else { return }
            let L = host.vm.L
            host.vm.pushRef(ref)
            host.vm.unref(ref)
            switch result {
            case .success(let rtt):
                lua_pushnumber(L, Double(rtt.nanoseconds) / 1e6)
                if !host.vm.call(nargs: 1, context: "ping callback") { host.callbackFailed(c) }
            case .failure(let e):
                lua_pushnil(L)
                host.vm.pushString(e.message)
                lua_pushinteger(L, Int64(e.code.rawValue))
                if !host.vm.call(nargs: 3, context: "ping callback") { host.callbackFailed(c) }
            }
            host.checkIdle()
        }
        do {
            try c.client.ping(payload, onPong: completion)
        } catch let e as WebSocketError {
            vm.unref(ref)
            return fail(vm, e)
        } catch {}
        return ok(vm)
    }

    /// The client object's methods.
    static let methods = LuaModuleTable([
        ("ping", .function(methodPing)),
        ("addHeader", .function(methodAddHeader)),
        ("connect", .function(methodConnect)),
        ("send", .function(methodSend)),
        ("close", .function(methodClose)),
        ("destroy", .function(methodDestroy)),
        ("state", .function(methodState)),
        ("id", .function(methodId)),
        ("bufferedAmount", .function(methodBufferedAmount)),
    ])
}
