import CLuaBridge
import Foundation
import NIOCore
import NetStack

/// The `netstack` Lua module: the documented functions and constants, the client object,
/// timers and utilities.
enum NetStackModule {
    /// The client userdata's metatable name, as a C string made once: a Swift string passed to
    /// `luaL_testudata` is converted (allocated, copied, freed) on every call, and every method
    /// call checks its `self` with it.
    static let clientMetatable: UnsafePointer<CChar> = UnsafePointer(strdup("netstack.client")!)
    static let weakClientsKey = "netstack.clients"

    static let fnOHWebSocketClientConstructor = LuaFunction.hosted { vm, host in
        for i: Int32 in 1...4 where vm.type(at: i) > LUA_TNIL && vm.type(at: i) != LUA_TFUNCTION {
            return vm.argError(i, "OH_WebSocketClient_Constructor", "function or nil")
        }
        var refs: [Int32] = []
        for i: Int32 in 1...4 {
            if vm.type(at: i) == LUA_TFUNCTION {
                lua_pushvalue(vm.L, i)
                refs.append(vm.ref())
            } else {
                refs.append(LUA_NOREF)
            }
        }
        let c = host.makeClient(callbacks: refs)
        LuaClientBinding.pushNewUserdata(c, host: host)
        return 1
    }

    private static let fnNow = LuaFunction.shared { vm in
        lua_pushnumber(vm.L, Double(DispatchTime.now().uptimeNanoseconds) / 1e9)
        return 1
    }

    static let fnSetTimeout = LuaFunction.hosted { vm, host in Timers.add(vm, host, repeats: false, "setTimeout") }

    static let fnSetInterval = LuaFunction.hosted { vm, host in Timers.add(vm, host, repeats: true, "setInterval") }

    static let fnClearTimer = LuaFunction.hosted { vm, host in
        guard let id = vm.integer(at: 1) else { return vm.argError(1, "clearTimer", "timer id") }
        if let t = host.timers.removeValue(forKey: Int(id)) {
            t.cancel()
            vm.unref(t.function)
            lua_pushboolean(vm.L, 1)
        } else {
            lua_pushboolean(vm.L, 0)
        }
        return 1
    }

    private static let fnExit = LuaFunction.hosted { vm, host in
        // An exit status is 0-255: anything else would reach the shell truncated (2305020 as 252).
        let code: Int32
        switch vm.type(at: 1) {
        case LUA_TNONE, LUA_TNIL: code = 0
        case LUA_TBOOLEAN: code = vm.boolean(at: 1) ? 0 : 1
        default:
            guard vm.type(at: 1) == LUA_TNUMBER, let n = vm.integer(at: 1), (0...255).contains(n) else {
                return vm.argError(1, "exit", "exit status from 0 to 255 (or a boolean)")
            }
            code = Int32(n)
        }
        host.requestExit(code)
        return 0
    }

    private static let fnStopping = LuaFunction.hosted { vm, host in
        lua_pushboolean(vm.L, host.isStopping ? 1 : 0)
        return 1
    }

    private static let fnLog = LuaFunction.hosted { vm, host in
        let level = vm.string(at: 1) ?? "info"
        let message: String
        if vm.top >= 2 {
            message = vm.string(at: 2) ?? (vm.number(at: 2).map { "\($0)" } ?? vm.typeName(at: 2))
        } else {
            message = ""
        }
        host.options.log("[\(level)] \(message)")
        return 0
    }

    private static let fn_gc = LuaFunction.hosted { vm, host in
        if let c = LuaClientBinding.clientFromUserdata(vm, host, 1) { LuaClientBinding.destroy(c, host: host) }
        return 0
    }

    private static let fn_close = LuaFunction.hosted { vm, host in
        if let c = LuaClientBinding.clientFromUserdata(vm, host, 1) { LuaClientBinding.destroy(c, host: host) }
        return 0
    }

    private static let fn_tostring = LuaFunction.hosted { vm, host in
        if let c = LuaClientBinding.clientFromUserdata(vm, host, 1) {
            vm.pushString("netstack.client #\(c.id) (\(c.client.state))")
        } else {
            vm.pushString("netstack.client (destroyed)")
        }
        return 1
    }

    private static let fnClientAddHeader = documentedClientFunction("OH_WebSocketClient_AddHeader") { vm, host, c in
        guard vm.type(at: 2) == LUA_TTABLE else { return vm.argError(2, "OH_WebSocketClient_AddHeader", "table {fieldName, fieldValue}") }
        let rc = LuaClientBinding.addHeader(c, vm: vm, tableIndex: 2)
        lua_pushinteger(vm.L, Int64(rc.rawValue))
        return 1
    }

    private static let fnClientConnect = documentedClientFunction("OH_WebSocketClient_Connect") { vm, host, c in
        guard let url = vm.string(at: 2) else {
            if vm.type(at: 2) == LUA_TNIL {
                lua_pushinteger(vm.L, Int64(WebSocketErrCode.connectionParseURLError.rawValue))
                return 1
            }
            return vm.argError(2, "OH_WebSocketClient_Connect", "string")
        }
        switch LuaClientBinding.connect(c, host: host, url: url, optionsIndex: 3) {
        case .failure(.raise(let message)): return vm.raise(message)
        case .failure(.code(let e)):
            lua_pushinteger(vm.L, Int64(e.code.rawValue))
            return 1
        case .success:
            lua_pushinteger(vm.L, 0)
            return 1
        }
    }

    private static let fnClientSend = documentedClientFunction("OH_WebSocketClient_Send") { vm, host, c in
        if vm.type(at: 2) <= LUA_TNIL {
            lua_pushinteger(vm.L, Int64(WebSocketErrCode.sendDataNull.rawValue))
            return 1
        }
        guard var bytes = vm.messageBytes(at: 2) else { return vm.argError(2, "OH_WebSocketClient_Send", "string") }
        if vm.type(at: 3) > LUA_TNIL {
            guard let n = vm.integer(at: 3), n >= 0 else { return vm.argError(3, "OH_WebSocketClient_Send", "non-negative integer") }
            guard n <= bytes.count else { return vm.raise("bad argument #3 to 'OH_WebSocketClient_Send' (length \(n) exceeds the data's \(bytes.count) bytes)") }
            bytes = UnsafeRawBufferPointer(rebasing: bytes[0..<Int(n)])
        }
        if bytes.count == 0 {
            lua_pushinteger(vm.L, 0)
            return 1
        }
        // As the C ABI: TEXT when the bytes are valid UTF-8 without NUL, else BINARY.
        let kind: WebSocketMessageKind = (!bytes.contains(0) && UTF8Validator.isValid(bytes)) ? .text : .binary
        let rc: WebSocketErrCode
        do { try c.client.send(bytes, kind: kind); rc = .ok } catch let e as WebSocketError { rc = e.code } catch { rc = .connectionError }
        if rc == .ok { host.observer?.sent(set: c.metricSet, bytes: bytes.count) }
        lua_pushinteger(vm.L, Int64(rc.rawValue))
        return 1
    }

    private static let fnClientClose = documentedClientFunction("OH_WebSocketClient_Close") { vm, host, c in
        var code: Int64 = 0
        var reason = ""
        if vm.type(at: 2) == LUA_TTABLE {
            // Another field (a misspelt `Code`) would close with 1000 without a word: it raises.
            if let why = OptionTableKeys.problem(vm, table: 2, known: ["code", "reason"]) {
                return vm.raise("bad argument #2 to 'OH_WebSocketClient_Close' (\(why))")
            }
            // code: nil (1000) or an integer-valued number; reason: nil or a string. Anything
            // else (1e300, 1000.5, "abc", true) is WEBSOCKET_PROTOCOL_ERROR, as an invalid code.
            vm.rawField(2, "code")
            let codeType = vm.type(at: -1)
            let given = codeType == LUA_TNUMBER ? vm.integer(at: -1) : nil
            netstack_pop(vm.L, 1)
            vm.rawField(2, "reason")
            let reasonType = vm.type(at: -1)
            // The reason goes on the wire as UTF-8 (RFC 6455 §5.5.1): other bytes are refused.
            let reasonIsText = reasonType != LUA_TSTRING || vm.utf8String(at: -1) != nil
            reason = vm.string(at: -1) ?? ""
            netstack_pop(vm.L, 1)
            if (codeType != LUA_TNIL && given == nil) || (reasonType != LUA_TNIL && reasonType != LUA_TSTRING) || !reasonIsText {
                lua_pushinteger(vm.L, Int64(WebSocketErrCode.protocolError.rawValue))
                return 1
            }
            code = given ?? 0
        } else if vm.type(at: 2) > LUA_TNIL {
            return vm.argError(2, "OH_WebSocketClient_Close", "table {code, reason} or nil")
        }
        let rc = LuaClientBinding.close(c, code: code, reason: reason)
        lua_pushinteger(vm.L, Int64(rc.rawValue))
        return 1
    }

    private static let fnClientDestroy = documentedClientFunction("OH_WebSocketClient_Destroy") { vm, host, c in
        LuaClientBinding.destroy(c, host: host)
        lua_pushinteger(vm.L, 0)
        return 1
    }

    /// The module's entries: the documented functions and constants, then ours.
    static let table = LuaModuleTable(
        WebSocketErrCode.all.map { ($0.name, .integer(Int64($0.code.rawValue))) }
        + [("NetStack_CERT_TYPE_PEM", 0), ("NetStack_CERT_TYPE_DER", 1), ("NetStack_CERT_TYPE_INVALID", 2),
           ("NETSTACK_CERT_TYPE_PEM", 0), ("NETSTACK_CERT_TYPE_DER", 1), ("NETSTACK_CERT_TYPE_INVALID", 2)]
            .map { ($0.0, .integer(Int64($0.1))) }
        + [
            ("VERSION", .string(NetStackVersion.string)),
            ("OH_WebSocketClient_Constructor", .function(fnOHWebSocketClientConstructor)),
            ("OH_WebSocketClient_AddHeader", .function(fnClientAddHeader)),
            ("OH_WebSocketClient_Connect", .function(fnClientConnect)),
            ("OH_WebSocketClient_Send", .function(fnClientSend)),
            ("OH_WebSocketClient_Close", .function(fnClientClose)),
            ("OH_WebSocketClient_Destroy", .function(fnClientDestroy)),
        ]
        + CertificateModule.entries
        + [
            ("json", .table(JSONModule.table)),
            // Utilities.
            ("now", .function(fnNow)),
            ("setTimeout", .function(fnSetTimeout)),
            ("setInterval", .function(fnSetInterval)),
            ("clearTimer", .function(fnClearTimer)),
            // JavaScript's names, for scripts ported from k6 or a browser (one id space for both).
            ("clearTimeout", .function(fnClearTimer)),
            ("clearInterval", .function(fnClearTimer)),
            ("exit", .function(fnExit)),
            ("stopping", .function(fnStopping)),
            ("log", .function(fnLog)),
        ]
        + CoroutineAPI.entries)

    static func install(into host: ScriptHost) {
        let vm = host.vm
        let L = vm.L
        installClientMetatable(host)
        // os.exit ends the run as netstack.exit does (netstack_lua_bridge.h).
        vm.pushFunction(fnExit)
        netstack_set_host_exit(L)
        table.push(on: vm)

        // package.loaded.netstack = module; global netstack = module.
        lua_pushvalue(L, -1)
        vm.setGlobal("netstack")
        vm.pushGlobal("package")
        vm.rawField(-1, "loaded")
        lua_pushvalue(L, -3)
        lua_setfield(L, -2, "netstack")
        netstack_pop(L, 3)
    }

    /// An OH_* function whose first argument is the client: nil gives WEBSOCKET_CLIENT_NULL, a
    /// destroyed client WEBSOCKET_CLIENT_NOT_CREATED, a non-client raises; `body` sees a live client.
    private static func documentedClientFunction(_ name: String, _ body: @escaping (LuaVM, ScriptHost, LuaClient) -> Int32) -> LuaFunction {
        LuaFunction.hosted { vm, host in
            switch LuaClientBinding.resolve(vm, host, 1, name) {
            case .raise: return -1
            case .code(let code):
                lua_pushinteger(vm.L, Int64(code.rawValue))
                return 1
            case .client(let c): return body(vm, host, c)
            }
        }
    }

    private static func installClientMetatable(_ host: ScriptHost) {
        let vm = host.vm
        let L = vm.L
        // Weak id -> userdata table, so callbacks can push the script's object without keeping it alive.
        lua_createtable(L, 0, 0)
        lua_createtable(L, 0, 1)
        vm.pushString("v")
        lua_setfield(L, -2, "__mode")
        lua_setmetatable(L, -2)
        lua_setfield(L, netstack_registryindex(), weakClientsKey)

        luaL_newmetatable(L, clientMetatable)
        LuaClientBinding.methods.push(on: vm)
        lua_setfield(L, -2, "__index")
        vm.setFunction("__gc", fn_gc)
        vm.setFunction("__close", fn_close)
        vm.setFunction("__tostring", fn_tostring)
        netstack_pop(L, 1)
    }
}

enum Timers {
    static func add(_ vm: LuaVM, _ host: ScriptHost, repeats: Bool, _ name: String) -> Int32 {
        guard vm.type(at: 1) == LUA_TFUNCTION else { return vm.argError(1, name, "function") }
        guard let ms = vm.number(at: 2), let delay = DurationArgument.milliseconds(ms) else {
            return vm.argError(2, name, DurationArgument.expected)
        }
        // A finalizer run while the script ends, or a callback after netstack.exit, gets no timer:
        // it could only fire after the state is gone.
        guard !host.isFinished, !vm.closing else { return vm.raise("\(name): the run has ended") }
        lua_pushvalue(vm.L, 1)
        let ref = vm.ref()
        let id = host.nextTimerID
        host.nextTimerID += 1
        let timer = LuaTimer(function: ref, repeats: repeats, timers: LoopTimers.forCurrentLoop(host.eventLoop))
        timer.iteration = host.currentIteration
        // An interval's next run is armed before its callback runs (which may clear it), at least
        // 1 ms after this one.
        let interval = max(delay, .milliseconds(1))
        weak let weakHost = host
        func fire() {
            guard let host = weakHost, !host.vm.isClosed, let t = host.timers[id] else { return }
            if t.repeats {
                t.handle = t.timers.schedule(in: interval, fire)
            } else {
                host.timers[id] = nil
            }
            host.vm.pushRef(t.function)
            if !host.vm.call(nargs: 0, context: "\(name) callback") { host.callbackFailed(nil) }
            if !t.repeats { host.vm.unref(t.function) }
            host.checkIdle()
        }
        timer.handle = timer.timers.schedule(in: delay, fire)
        host.timers[id] = timer
        lua_pushinteger(vm.L, Int64(id))
        return 1
    }
}
