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

    /// Pushes the function `name`, loading the Lua code on first use; nil if it cannot load
    /// (a memory limit hit while loading), never raising.
    static func push(_ name: String, on vm: LuaVM) {
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
            // replaced by the script): the constructor, timers and three codes.
            lua_createtable(L, 0, 7)
            vm.pushFunction(NetStackModule.fnOHWebSocketClientConstructor)
            lua_setfield(L, -2, "OH_WebSocketClient_Constructor")
            vm.pushFunction(NetStackModule.fnSetTimeout)
            lua_setfield(L, -2, "setTimeout")
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
