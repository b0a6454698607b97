import CLuaBridge
import Foundation
import NIOCore
import NIOPosix

/// One Lua 5.4 state, confined to one event loop.
///
/// Every entry into Lua goes through `call`, a protected call with a traceback handler; Swift
/// functions exposed to Lua return a status to a C trampoline, which raises on their behalf, so
/// no Lua error ever unwinds a Swift frame. Memory and instruction limits are enforced by the C
/// allocator and a count hook.
public final class LuaVM {
    public struct Options {
        /// Bytes the script may allocate (0: unlimited).
        public var memoryLimit: Int = 0
        /// VM instructions one callback (or the main chunk) may run before it is stopped (0: unlimited).
        public var instructionBudget: Int = 0
        /// Lua's generational collector (the default here) or its incremental one. Generational
        /// suits event handlers, whose messages die young: the Lua bench client spent 15% less
        /// CPU on 64 KiB messages with it.
        public var generationalGC = true
        public init() {}
    }

    let L: OpaquePointer
    public let eventLoop: EventLoop
    let options: Options
    /// Boxes behind the Swift functions registered in this state (kept for the state's lifetime).
    private var boxes: [SwiftFunctionBox] = []
    /// Uncaught errors reported so far (callbacks and chunks).
    public private(set) var errorCount = 0
    var errorSink: (String) -> Void = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }

    public init(eventLoop: EventLoop, options: Options = .init()) throws {
        guard let L = netstack_newstate(options.memoryLimit) else { throw LuaHostError("cannot create a Lua state") }
        self.L = L
        self.eventLoop = eventLoop
        self.options = options
        if options.instructionBudget > 0 { netstack_set_instruction_budget(L, Int64(options.instructionBudget)) }
        netstack_set_gc_mode(L, options.generationalGC ? 1 : 0)
        netstack_install_msghandler(L)
    }

    private var closed = false

    /// Closes the Lua state (finalizers run now, on the calling thread) and drops the Swift
    /// functions, whose closures may hold their owner. Nothing may use the VM afterwards.
    func close() {
        guard !closed else { return }
        closed = true
        netstack_close(L)
        boxes.removeAll()
    }

    deinit { close() }

    // MARK: Calling into Lua

    /// Calls the function below `nargs` arguments in protected mode. On error, reports the
    /// message with its traceback through the error policy and returns false.
    @discardableResult
    func call(nargs: Int32, nresults: Int32 = 0, context: String) -> Bool {
        if options.instructionBudget > 0 { netstack_reset_instruction_budget(L) }
        // Host calls start from the base of the main stack, where the handler sits at index 1.
        let status = netstack_pcall_base(L, nargs, nresults)
        if status == LUA_OK { return true }
        reportTopError(context: context, status: status)
        return false
    }

    func reportTopError(context: String, status: Int32) {
        let message = string(at: -1) ?? "(error object is a \(typeName(at: -1)) value)"
        netstack_pop(L, 1)
        reportError(context: context, message: message, outOfMemory: status == LUA_ERRMEM)
    }

    /// Reports an uncaught error through the error policy (counted; makes the run's status 1).
    func reportError(context: String, message: String, outOfMemory: Bool = false) {
        var message = message
        if outOfMemory || netstack_memory_limit_hit(L) != 0 {
            message = "memory limit of \(options.memoryLimit) bytes exceeded: " + message
        }
        errorCount += 1
        errorSink("netstack: error in \(context): \(message)")
    }

    /// Runs a chunk of Lua source with `args` as `...`; false (reported) if it failed to compile
    /// or raised.
    @discardableResult
    func runString(_ code: String, name: String, args: [String] = []) -> Bool {
        var code = code
        let status = code.withUTF8 { buf in
            luaL_loadbufferx(L, UnsafeRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self), buf.count, name, "t")
        }
        let context = name.hasPrefix("=") ? String(name.dropFirst()) : name
        guard status == LUA_OK else {
            reportTopError(context: context, status: status)
            return false
        }
        for a in args { pushString(a) }
        return call(nargs: Int32(args.count), context: context)
    }

    /// Runs a script file with `args` as `...`. Returns false if it failed to load or raised.
    func runFile(_ path: String, args: [String]) -> Bool {
        for a in args { pushString(a) }
        if options.instructionBudget > 0 { netstack_reset_instruction_budget(L) }
        let status = netstack_dofile(L, path, Int32(args.count))
        if status == LUA_OK { return true }
        reportTopError(context: path, status: status)
        return false
    }

    // MARK: Registering Swift functions

    /// Pushes a Lua function backed by `body`. `body` returns the number of results it pushed,
    /// or -1 after pushing an error message (raised by the C trampoline).
    func pushFunction(_ body: @escaping (LuaVM) -> Int32) {
        let box = SwiftFunctionBox(vm: self, body: body)
        boxes.append(box)
        netstack_push_swift_function(L, swiftDispatch, Unmanaged.passUnretained(box).toOpaque())
    }

    /// `table[name] = function` for the table on top of the stack.
    func setFunction(_ name: String, _ body: @escaping (LuaVM) -> Int32) {
        pushFunction(body)
        lua_setfield(L, -2, name)
    }

    // MARK: Stack helpers (none of these raise)

    func pushString(_ s: String) {
        var s = s
        s.withUTF8 { buf in _ = lua_pushlstring(L, buf.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, buf.count) }
    }

    func pushStringList(_ list: [String]) {
        lua_createtable(L, Int32(list.count), 0)
        for (i, s) in list.enumerated() {
            pushString(s)
            lua_rawseti(L, -2, Int64(i + 1))
        }
    }

    func pushBytes(_ p: UnsafeRawBufferPointer) {
        _ = lua_pushlstring(L, p.baseAddress?.assumingMemoryBound(to: CChar.self), p.count)
    }

    func type(at i: Int32) -> Int32 { lua_type(L, i) }
    var top: Int32 { lua_gettop(L) }

    func string(at i: Int32) -> String? {
        guard lua_type(L, i) == LUA_TSTRING else { return nil }
        var len = 0
        guard let p = lua_tolstring(L, i, &len) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
    }

    /// The raw bytes of a string argument, valid while it stays on the stack.
    func bytes(at i: Int32) -> UnsafeRawBufferPointer? {
        guard lua_type(L, i) == LUA_TSTRING else { return nil }
        var len = 0
        guard let p = lua_tolstring(L, i, &len) else { return nil }
        return UnsafeRawBufferPointer(start: p, count: len)
    }

    func integer(at i: Int32) -> Int64? {
        var isNum: Int32 = 0
        let v = lua_tointegerx(L, i, &isNum)
        return isNum != 0 ? v : nil
    }

    func number(at i: Int32) -> Double? {
        var isNum: Int32 = 0
        let v = lua_tonumberx(L, i, &isNum)
        return isNum != 0 ? v : nil
    }

    func boolean(at i: Int32) -> Bool { lua_toboolean(L, i) != 0 }

    /// Pushes `t[key]` without metamethods (never raises).
    func rawField(_ tableIndex: Int32, _ key: String) {
        let t = lua_absindex(L, tableIndex)
        pushString(key)
        lua_rawget(L, t)
    }

    /// Pushes an error message and returns -1, for `return vm.raise(...)` in Swift functions.
    func raise(_ message: String) -> Int32 {
        pushString(message)
        return -1
    }

    func typeName(at i: Int32) -> String { String(cString: lua_typename(L, lua_type(L, i))) }

    /// "bad argument #n to 'name' (expected, got type)" raised from Lua.
    func argError(_ n: Int32, _ function: String, _ expected: String) -> Int32 {
        raise("bad argument #\(n) to '\(function)' (\(expected) expected, got \(typeName(at: n)))")
    }

    func ref() -> Int32 { netstack_ref(L) }
    func unref(_ r: Int32) { netstack_unref(L, r) }
    func pushRef(_ r: Int32) { netstack_getregistry_ref(L, r) }
}

/// Owns one Swift closure exposed to Lua; the light userdata upvalue points here (unretained:
/// the VM's `boxes` array keeps it alive as long as the state).
final class SwiftFunctionBox {
    unowned let vm: LuaVM
    let body: (LuaVM) -> Int32
    init(vm: LuaVM, body: @escaping (LuaVM) -> Int32) {
        self.vm = vm
        self.body = body
    }
}

private let swiftDispatch: netstack_swift_fn = { _, context in
    let box = Unmanaged<SwiftFunctionBox>.fromOpaque(context!).takeUnretainedValue()
    return box.body(box.vm)
}

public struct LuaHostError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
