import CLuaBridge
import NetStack

/// The coroutine style (`netstack.spawn`, `connect`, `sleep`, `select`; Lua/coroutines.lua):
/// module entries that load the Lua code into the VM the first time one of them is read, so a
/// script (or a load run's VU) that does not use them pays nothing.
enum CoroutineAPI {
    static let names = ["spawn", "connect", "sleep", "select"]

    /// coroutines.lua, compiled once per process.
    private static let chunk = CompiledChunk(name: "=coroutines.lua", source: PackageResources.coroutines_lua)
    private static let registryKey = "netstack.coroutines"

    static var entries: [(String, LuaModuleTable.Value)] {
        names.map { name in (name, .make({ vm in push(name, on: vm) })) }
    }

    /// A VM that makes every module entry at start (a plain run's) gets, for each name, a small
    /// Lua function that loads the code on its first call and then tail-calls the real one (a
    /// tail call from Lua, so the real one may still wait by yielding). Made once per VM from
    /// this factory: `make(name, resolve)`.
    private static let stubFactory = CompiledChunk(name: "=coroutines.lua", source: Array("""
        return function(name, resolve)
          local real
          return function(...)
            real = real or resolve(name)
            return real(...)
          end
        end
        """.utf8))

    /// `resolve(name)`: the real function (the code loaded on first use); raises when it
    /// cannot load.
    private static let fnResolve = LuaFunction.shared { vm in
        guard let name = vm.string(at: 1), names.contains(name) else { return vm.argError(1, "resolve", "name") }
        pushReal(name, on: vm)
        if lua_type(vm.L, -1) == LUA_TNIL {
            netstack_pop(vm.L, 1)
            vm.pushString("netstack.\(name): the coroutine functions could not be loaded (not enough memory?)")
            return -1
        }
        return 1
    }

    /// Pushes `netstack.NAME`: in a lazy VM the real function (read now, so load now), else the
    /// stub that loads on first call. Never raises (nil when it cannot load).
    static func push(_ name: String, on vm: LuaVM) {
        if vm.options.lazyLibraries { return pushReal(name, on: vm) }
        let L = vm.L
        guard stubFactory.load(into: L) == LUA_OK, lua_pcallk(L, 0, 1, 0, 0, nil) == LUA_OK else {
            netstack_pop(L, 1)
            lua_pushnil(L)
            return
        }
        vm.pushString(name)
        vm.pushFunction(fnResolve)
        if lua_pcallk(L, 2, 1, 0, 0, nil) != LUA_OK {
            netstack_pop(L, 1)
            lua_pushnil(L)
        }
    }

    /// Pushes the function `name`, loading the Lua code on first use; nil if it cannot load
    /// (a memory limit hit while loading), never raising.
    private static func pushReal(_ name: String, on vm: LuaVM) {
        let L = vm.L
        lua_getfield(L, netstack_registryindex(), registryKey)
        if lua_type(L, -1) != LUA_TTABLE {
            netstack_pop(L, 1)
            guard chunk.load(into: L) == LUA_OK else {
                netstack_pop(L, 1)
                lua_pushnil(L)
                return
            }
            // What it builds on, given directly (the module table may not be in place yet, or
            // replaced by the script): the constructor, timers, three codes, the exit marker, how a
            // spawned function's and an entry thread's errors start, the wait mark, the entry-thread
            // test, and how a connection it closed for a limit counts as failed.
            lua_createtable(L, 0, 13)
            vm.pushFunction(NetStackModule.fnOHWebSocketClientConstructor)
            lua_setfield(L, -2, "OH_WebSocketClient_Constructor")
            vm.pushFunction(NetStackModule.fnSetTimeout)
            lua_setfield(L, -2, "setTimeout")
            vm.pushFunction(NetStackModule.fnSetInterval)
            lua_setfield(L, -2, "setInterval")
            vm.pushFunction(NetStackModule.fnClearTimer)
            lua_setfield(L, -2, "clearTimer")
            lua_pushinteger(L, Int64(WebSocketErrCode.queueLengthExceeded.rawValue))
            lua_setfield(L, -2, "WEBSOCKET_QUEUE_LENGTH_EXCEEDED")
            lua_pushinteger(L, Int64(WebSocketErrCode.connectionError.rawValue))
            lua_setfield(L, -2, "WEBSOCKET_CONNECTION_ERROR")
            lua_pushinteger(L, Int64(WebSocketErrCode.noConnection.rawValue))
            lua_setfield(L, -2, "WEBSOCKET_NO_CONNECTION")
            netstack_push_exit_unwind(L)
            lua_setfield(L, -2, "EXIT_UNWIND")
            vm.pushString(LuaVM.spawnedErrorPrefix)
            lua_setfield(L, -2, "SPAWNED_ERROR_PREFIX")
            vm.pushString(LuaVM.entryErrorPrefix)
            lua_setfield(L, -2, "ENTRY_ERROR_PREFIX")
            netstack_push_wait_mark(L)
            lua_setfield(L, -2, "WAIT_MARK")
            netstack_push_is_entry_thread(L)
            lua_setfield(L, -2, "isEntryThread")
            vm.pushFunction(LuaClientBinding.fnMarkFailed)
            lua_setfield(L, -2, "markFailed")
            guard lua_pcallk(L, 1, 1, 0, 0, nil) == LUA_OK, lua_type(L, -1) == LUA_TTABLE else {
                netstack_pop(L, 1)
                lua_pushnil(L)
                return
            }
            // Loading may have made the module's other entries (a lazy VM makes every entry when
            // `debug` opens): one of them then loaded this code too and registered its table.
            // Its functions share their state with the entries already made: keep that one.
            lua_getfield(L, netstack_registryindex(), registryKey)
            if lua_type(L, -1) == LUA_TTABLE {
                netstack_remove(L, -2)
            } else {
                netstack_pop(L, 1)
                lua_pushvalue(L, -1)
                lua_setfield(L, netstack_registryindex(), registryKey)
            }
        }
        lua_getfield(L, -1, name)
        netstack_remove(L, -2)
    }
}
