import CLuaBridge
import Foundation
import NetStack

/// Where plugins are looked up, in order: the first folder holding a plugin wins.
public struct PluginSearchPath {
    public struct Entry: Equatable {
        public var directory: String
        /// "cli" (--plugin-path), "env" (NETSTACK_PLUGIN_PATH), "project" (./plugins),
        /// "user" (~/.config/netstack/plugins) or "builtin" (shipped with netstack).
        public var origin: String
        public init(directory: String, origin: String) {
            self.directory = directory
            self.origin = origin
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// Whether a folder of the path holds plugin `name` (`NAME/init.lua` or `NAME.lua`, where
    /// plugins.lua looks for it).
    public func holds(_ name: String) -> Bool {
        entries.contains { e in
            [e.directory + "/" + name + "/init.lua", e.directory + "/" + name + ".lua"].contains { FileManager.default.isReadableFile(atPath: $0) }
        }
    }

    /// The folders as plugins.lua's "not found" message lists them: `DIR (origin), ...`.
    public var described: String {
        entries.isEmpty ? "no plugin folder exists" : entries.map { "\($0.directory) (\($0.origin))" }.joined(separator: ", ")
    }

    /// The standard path: `extra` (--plugin-path), `NETSTACK_PLUGIN_PATH` (colon-separated), the
    /// current directory's `plugins/`, the user directory (`$XDG_CONFIG_HOME/netstack/plugins`,
    /// else `~/.config/netstack/plugins`), and the plugins shipped next to the executable.
    /// Folders that do not exist are kept out; a folder reached twice is listed once.
    public static func standard(extra: [String] = [], environment: [String: String] = ProcessInfo.processInfo.environment,
                                currentDirectory: String = FileManager.default.currentDirectoryPath,
                                executable: String? = nil) -> PluginSearchPath {
        var list: [Entry] = []
        for d in extra { list.append(Entry(directory: d, origin: "cli")) }
        for d in (environment["NETSTACK_PLUGIN_PATH"] ?? "").split(separator: ":") where !d.isEmpty {
            list.append(Entry(directory: String(d), origin: "env"))
        }
        list.append(Entry(directory: currentDirectory + "/plugins", origin: "project"))
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            list.append(Entry(directory: xdg + "/netstack/plugins", origin: "user"))
        } else if let home = environment["HOME"], !home.isEmpty {
            list.append(Entry(directory: home + "/.config/netstack/plugins", origin: "user"))
        }
        if let builtin = builtinDirectory(executable: executable) {
            list.append(Entry(directory: builtin, origin: "builtin"))
        }
        var seen = Set<String>()
        var result: [Entry] = []
        for e in list {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: e.directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                // A folder named explicitly is kept so that "not found" messages list it.
                if e.origin == "cli" || e.origin == "env" { result.append(e) }
                continue
            }
            let real = URL(fileURLWithPath: e.directory).resolvingSymlinksInPath().path
            if seen.insert(real).inserted { result.append(Entry(directory: real, origin: e.origin)) }
        }
        return PluginSearchPath(entries: result)
    }

    /// The shipped plugins: `<prefix>/share/netstack/plugins` for an installed binary, or the
    /// checkout's `plugins/` for one built in `.build`.
    static func builtinDirectory(executable: String?) -> String? {
        let exe = executable ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).resolvingSymlinksInPath().deletingLastPathComponent()
        let installed = dir.deletingLastPathComponent().appendingPathComponent("share/netstack/plugins").path
        if FileManager.default.fileExists(atPath: installed) { return installed }
        for _ in 0..<4 {
            dir = dir.deletingLastPathComponent()
            let candidate = dir.appendingPathComponent("plugins").path
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path),
               FileManager.default.fileExists(atPath: candidate) {
                return candidate
            }
        }
        return nil
    }
}

/// Installs the plugin runtime (Lua/plugins.lua) into a script's VM and keeps its entry points.
final class PluginRuntime {
    static let apiVersion = 1

    private var startRef: Int32 = LUA_NOREF
    private var exitRef: Int32 = LUA_NOREF
    private(set) var dispatchRef: Int32 = LUA_NOREF
    /// The `require` searcher that finds plugins (the runtime has put it in package.searchers).
    private(set) var searcherRef: Int32 = LUA_NOREF
    /// Bit i set once a plugin hooks event i (open, message, error, close): that event then goes
    /// through `dispatch`; the others still go straight to the script's callbacks.
    private(set) var hookedEvents: UInt8 = 0
    /// The event names, anchored (pushed for every dispatched event).
    private(set) var eventNameRefs: [Int32] = []

    @inline(__always)
    func isHooked(_ event: Int) -> Bool { hookedEvents & (1 << UInt8(event)) != 0 }

    /// Applies --sandbox: no os.execute, io.popen, package.loadlib or native modules, and only
    /// text chunks (precompiled bytecode can break the VM).
    static func applySandbox(_ vm: LuaVM) throws {
        let code = """
        os.execute = nil; io.popen = nil; package.loadlib = nil; package.cpath = ""
        package.searchers[3] = function(name) return "\\n\\tnative module '" .. name .. "' not loaded: native code is disabled by --sandbox" end
        package.searchers[4] = nil
        local load0, loadfile0 = load, loadfile
        load = function(chunk, name, mode, env) return load0(chunk, name, "t", env) end
        loadfile = function(file, mode, env) return loadfile0(file, "t", env) end
        dofile = function(file) local f = assert(loadfile0(file, "t")); return f() end
        """
        guard vm.runString(code, name: "=sandbox") else { throw LuaHostError("cannot apply the sandbox") }
    }

    /// plugins.lua, compiled once per process (the runtime's own errors then name no line).
    private static let chunk = CompiledChunk(name: "=plugins.lua", source: PackageResources.plugins_lua)

    init(host: ScriptHost, search: PluginSearchPath, plugins: [String], options: [String], sandbox: Bool, json: Bool) throws {
        let vm = host.vm
        let L = vm.L
        let status = Self.chunk.load(into: L)
        guard status == LUA_OK else {
            let message = vm.string(at: -1) ?? "?"
            netstack_pop(L, 1)
            throw LuaHostError("plugin runtime: \(message)")
        }
        // host: the runtime's private functions.
        lua_createtable(L, 0, 8)
        vm.setFunction("reportError") { vm in
            host.vm.reportError(context: vm.string(at: 1) ?? "plugin", message: vm.string(at: 2) ?? "?")
            return 0
        }
        vm.setFunction("explain") { vm in
            let message = vm.string(at: 1) ?? "?"
            vm.pushString(host.vm.explainingMemory(message, outOfMemory: message == "not enough memory"))
            return 1
        }
        vm.setFunction("enableHooks") { [weak self] vm in
            if let i = vm.integer(at: 1), (0...3).contains(i) { self?.hookedEvents |= 1 << UInt8(i) }
            return 0
        }
        vm.setFunction("classify") { vm in
            guard let bytes = vm.bytes(at: 1) else { return vm.argError(1, "classify", "string") }
            vm.pushString(!bytes.contains(0) && UTF8Validator.isValid(bytes) ? "text" : "binary")
            return 1
        }
        vm.setFunction("isatty") { vm in
            lua_pushboolean(vm.L, isatty(Int32(vm.integer(at: 1) ?? 1)) != 0 ? 1 : 0)
            return 1
        }
        vm.setFunction("log") { vm in
            host.options.log(vm.string(at: 1) ?? "")
            return 0
        }
        vm.setFunction("loadFailed") { vm in
            (host.options.onPluginLoadFailure ?? host.options.log)(vm.string(at: 1) ?? "")
            return 0
        }
        vm.setFunction("listdir") { vm in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: vm.string(at: 1) ?? "")) ?? []
            lua_createtable(vm.L, Int32(names.count), 0)
            for (i, n) in names.sorted().enumerated() {
                vm.pushString(n)
                lua_rawseti(vm.L, -2, Int64(i + 1))
            }
            return 1
        }
        vm.setFunction("callbackOf") { vm in
            guard let c = LuaClientBinding.clientFromUserdata(vm, host, 1), let i = vm.integer(at: 2), (0...3).contains(i),
                  c.callbacks[Int(i)] != LUA_NOREF, !c.destroyed else {
                lua_pushnil(vm.L)
                return 1
            }
            vm.pushRef(c.callbacks[Int(i)])
            return 1
        }
        lua_getfield(L, netstack_registryindex(), NetStackModule.clientMetatable)
        lua_getfield(L, -1, "__index")
        netstack_remove(L, -2)
        lua_setfield(L, -2, "clientMethods")

        // config
        lua_createtable(L, 0, 6)
        lua_createtable(L, Int32(search.entries.count), 0)
        for (i, e) in search.entries.enumerated() {
            lua_createtable(L, 0, 2)
            vm.pushString(e.directory); lua_setfield(L, -2, "dir")
            vm.pushString(e.origin); lua_setfield(L, -2, "origin")
            lua_rawseti(L, -2, Int64(i + 1))
        }
        lua_setfield(L, -2, "path")
        vm.pushStringList(plugins); lua_setfield(L, -2, "plugins")
        vm.pushStringList(options); lua_setfield(L, -2, "options")
        lua_pushboolean(L, sandbox ? 1 : 0); lua_setfield(L, -2, "sandbox")
        lua_pushboolean(L, json ? 1 : 0); lua_setfield(L, -2, "json")
        lua_pushinteger(L, Int64(Self.apiVersion)); lua_setfield(L, -2, "apiVersion")

        guard vm.call(nargs: 2, nresults: 1, context: "plugin runtime") else {
            throw LuaHostError("the plugin runtime failed to start (see above)")
        }
        lua_getfield(L, -1, "start"); startRef = vm.ref()
        lua_getfield(L, -1, "exit"); exitRef = vm.ref()
        lua_getfield(L, -1, "dispatch"); dispatchRef = vm.ref()
        lua_getfield(L, -1, "searcher"); searcherRef = vm.ref()
        netstack_pop(L, 1)
        for name in LuaClientBinding.eventNames {
            vm.pushString(name)
            eventNameRefs.append(vm.ref())
        }
    }

    /// Loads the --plugin list and runs start functions; false when a plugin failed to load.
    func start(_ vm: LuaVM) -> Bool {
        vm.pushRef(startRef)
        guard vm.call(nargs: 0, nresults: 1, context: "plugins") else { return false }
        let ok = vm.boolean(at: -1)
        netstack_pop(vm.L, 1)
        return ok
    }

    /// Runs the plugins' exit functions; returns the final status.
    func exit(_ vm: LuaVM, status: Int32) -> Int32 {
        vm.pushRef(exitRef)
        lua_pushinteger(vm.L, Int64(status))
        guard vm.call(nargs: 1, nresults: 1, context: "plugins at exit") else { return status == 0 ? 1 : status }
        let result = vm.integer(at: -1).map { Int32(truncatingIfNeeded: $0) } ?? status
        netstack_pop(vm.L, 1)
        return result
    }
}
