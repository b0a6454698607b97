import CLuaBridge

/// Stands in for the plugin runtime when no `--plugin` or `--plugin-option` was given, so a VM
/// that never uses plugins does not carry the runtime (about half of a fresh VM's Lua heap: it
/// matters when a load run has thousands of VMs). The first `require` that reaches the plugin
/// searcher's place, or the first read of `netstack.plugins`, loads the real runtime; from then on
/// everything is as if it had been loaded at start.
enum LazyPluginRuntime {
    /// Takes the loader (a host function that loads the runtime once and returns its searcher).
    private static let chunk = CompiledChunk(name: "=plugin stub", source: Array("""
        local loadRuntime = ...
        local ns = require "netstack"
        local searchers, remove, insert = package.searchers, table.remove, table.insert
        local getmeta, setmeta, rawget = getmetatable, setmetatable, rawget
        local stub, meta
        local function load()
          for i = #searchers, 1, -1 do if searchers[i] == stub then remove(searchers, i) end end
          if getmeta(ns) == meta then setmeta(ns, nil) end
          return loadRuntime()
        end
        function stub(name) return load()(name) end
        meta = { __index = function(t, k) if k == "plugins" then load() return rawget(t, k) end end }
        insert(searchers, 2, stub)
        setmeta(ns, meta)
        """.utf8))

    /// Installs the stand-in; `load` makes (once) and returns the runtime.
    static func install(into vm: LuaVM, load: @escaping () throws -> PluginRuntime) throws {
        guard chunk.load(into: vm.L) == LUA_OK else {
            let message = vm.string(at: -1) ?? "?"
            netstack_pop(vm.L, 1)
            throw LuaHostError("plugin runtime: \(message)")
        }
        vm.pushFunction { vm in
            do {
                let runtime = try load()
                vm.pushRef(runtime.searcherRef)
                return 1
            } catch {
                return vm.raise("\(error)")
            }
        }
        guard vm.call(nargs: 1, context: "plugin runtime") else { throw LuaHostError("the plugin runtime failed to start (see above)") }
    }
}
