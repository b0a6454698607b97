import CLuaBridge
import NetStack
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
        /// Where `memoryLimit` comes from when the user did not set it, said with the error
        /// ("the default: ..."); nil: it was set.
        public var memoryLimitOrigin: String?
        /// A limit shared with other states (a load run's VUs together), besides `memoryLimit`.
        public var memoryPool: LuaMemoryPool?
        /// VM instructions one callback (or the main chunk) may run before it is stopped (0: unlimited).
        public var instructionBudget: Int = 0
        /// Lua's generational collector (the default here, with a major multiplier of 200 instead
        /// of Lua's 100) or its incremental one. Generational suits event handlers, whose messages
        /// die young; the multiplier took the Lua bench client's CPU on 64 KiB messages down a
        /// further 28 % (netstack_set_gc_mode).
        public var generationalGC = true
        /// coroutine, io, os, math, utf8 and debug opened on first use (netstack_lazy_libs.c):
        /// about 10 KiB less per state, for load runs' thousands of VMs.
        public var lazyLibraries = false
        /// The script's arguments as the command line gave them, bytes and all: Swift reads
        /// `argv` with U+FFFD in place of bytes that are not UTF-8, and `arg` (and `...`) get
        /// these bytes instead, as lua.c gives them (`ArgumentBytes`). Empty: the strings.
        public var argumentBytes: [[UInt8]] = []
        public init() {}
    }

    /// The state Lua code is running on right now: the main state, or a coroutine's thread while a
    /// Swift function called from that coroutine runs. Every stack operation uses this, never the
    /// main state directly (a coroutine has a stack of its own).
    @exclusivity(unchecked) package var L: OpaquePointer
    /// The state created for the script (host calls start here; its stack holds the message handler).
    let mainState: OpaquePointer
    public let eventLoop: EventLoop
    let options: Options
    /// Swift functions made for this state alone (kept for the state's lifetime); shared ones
    /// (`LuaFunction` statics) live for the process.
    @exclusivity(unchecked) private var boxes: [LuaFunction] = []
    /// The host running a script in this state: what shared functions work on.
    package weak var host: ScriptHost?
    /// Uncaught errors reported so far (callbacks and chunks).
    @exclusivity(unchecked) public private(set) var errorCount = 0
    @exclusivity(unchecked) package var errorSink: (String) -> Void = { StandardError.line($0) }

    public init(eventLoop: EventLoop, options: Options = .init()) throws {
        guard let L = options.lazyLibraries ? netstack_newstate_lazy(options.memoryLimit) : netstack_newstate(options.memoryLimit) else { throw LuaHostError("cannot create a Lua state") }
        self.L = L
        self.mainState = L
        self.eventLoop = eventLoop
        self.options = options
        if options.instructionBudget > 0 { netstack_set_instruction_budget(L, Int64(options.instructionBudget)) }
        netstack_set_gc_mode(L, options.generationalGC ? 1 : 0)
        if let pool = options.memoryPool { netstack_set_memory_pool(L, pool.pointer) }
        netstack_install_msghandler(L)
        netstack_set_owner(L, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Bytes the state holds now (what its memory limit and pool count).
    package var memoryUsed: Int { isClosed ? 0 : Int(netstack_memory_used(mainState)) }

    /// True once the state is closed: every entry from Swift (timers, connection events, finished
    /// background work) checks this first and does nothing.
    @exclusivity(unchecked) public private(set) var isClosed = false
    /// Set when Lua code of this VM was stopped from outside (`stopWhenBusy`): its protected call
    /// returned the interruption, which is not an error. The host clears it once it has acted.
    @exclusivity(unchecked) package var interruptUnwound = false

    /// Lets another thread stop this VM's Lua code when it never gives the thread back: while
    /// `flag` is set, a signal to the VM's thread (`netstack_vm_interrupt_thread`) unwinds the
    /// code running there. The VM keeps `flag` until its state is closed.
    package func stopWhenBusy(flag: InterruptFlag) {
        _ = netstack_vm_interrupt_install()
        interruptFlag = flag
        netstack_set_interrupt_flag(mainState, flag.pointer)
    }
    private var interruptFlag: InterruptFlag?

    /// After an interruption: the hook the VM runs with again (its instruction budget, or none).
    package func interruptHandled() {
        guard !isClosed else { return }
        netstack_restore_hook(mainState)
        interruptUnwound = false
    }

    /// Closes the Lua state (finalizers run now) and drops the Swift functions, whose closures may
    /// hold their owner. Called on the VM's loop; nothing may use the state afterwards.
    func close() {
        guard !isClosed else { return }
        // Finalizers run inside lua_close and may call Swift functions: those see a closing VM.
        closing = true
        L = mainState
        netstack_close(mainState)
        isClosed = true
        boxes.removeAll()
        interruptFlag = nil
    }

    /// True from the start of `close` on: Swift functions called by finalizers then refuse work
    /// that would outlive the state (timers, connections).
    @exclusivity(unchecked) private(set) var closing = false

    deinit {
        guard !isClosed else { return }
        if eventLoop.inEventLoop {
            close()
        } else {
            // The state belongs to its loop: finalizers may call back into the host, which is
            // confined there. Close it there; the boxes stay alive until then.
            let state = mainState
            let boxes = self.boxes, flag = interruptFlag, pool = options.memoryPool
            netstack_set_owner(state, nil)
            eventLoop.execute {
                netstack_close(state)   // gives the state's share back to the pool, kept alive until then
                _ = boxes
                _ = flag
                _ = pool
            }
        }
    }

    // MARK: Calling into Lua

    /// Calls the function below `nargs` arguments in protected mode. On error, reports the
    /// message with its traceback through the error policy and returns false.
    @discardableResult
    package func call(nargs: Int32, nresults: Int32 = 0, context: String) -> Bool {
        guard !isClosed else { return false }
        if options.instructionBudget > 0 { netstack_reset_instruction_budget(L) }
        // Host calls on the main state use the handler at its index 1; a call made while a
        // coroutine runs (a Swift function that calls back into Lua) pushes a handler of its own.
        let status = L == mainState ? netstack_pcall_base(L, nargs, nresults) : netstack_pcall_traceback(L, nargs, nresults)
        if status == LUA_OK { return true }
        reportTopError(context: context, status: status)
        return false
    }

    /// Calls the function below `nargs` arguments as an entry point (a plain run's `main`, a load
    /// run's iteration function): in a coroutine of its own, so it may wait (`netstack.connect`,
    /// `sleep`, `receive`, `select`) as a function started with `netstack.spawn` does; what it
    /// waits for resumes it. True when it returned or waits; on an error before its first wait,
    /// reports it (as `call` does) and returns false. An error after a wait is raised in what
    /// resumed it and reported under `context` too.
    @discardableResult
    package func callEntry(nargs: Int32, context: String) -> Bool {
        guard !isClosed else { return false }
        if options.instructionBudget > 0 { netstack_reset_instruction_budget(L) }
        entryContext = context
        let status = netstack_resume_entry(L, nargs)
        if status == LUA_OK || status == LUA_YIELD { return true }
        reportTopError(context: context, status: status)
        return false
    }

    /// The entry point an entry thread runs (for its errors after a wait).
    private var entryContext = "main"

    func reportTopError(context: String, status: Int32) {
        // os.exit unwinding the script: the exit is requested, nothing to report.
        if netstack_is_exit_unwind(L, -1) != 0 { return netstack_pop(L, 1) }
        // Stopped from outside (a load run ending a VU's iteration that never returned): nothing
        // to report; the host ends the iteration as interrupted.
        if netstack_is_interrupt_unwind(L, -1) != 0 {
            interruptUnwound = true
            return netstack_pop(L, 1)
        }
        let message = string(at: -1) ?? "(error object is a \(typeName(at: -1)) value)"
        netstack_pop(L, 1)
        reportError(context: context, message: message, outOfMemory: status == LUA_ERRMEM)
    }

    /// How Lua/coroutines.lua starts the error of a spawned function it raises again (with the
    /// function's own traceback after it).
    static let spawnedErrorPrefix = "in a function started with netstack.spawn: "
    /// The same for an entry thread (`callEntry`) that raised after it waited.
    static let entryErrorPrefix = "in the entry point, after it waited: "

    /// Reports an uncaught error through the error policy (counted; makes the run's status 1).
    package func reportError(context: String, message: String, outOfMemory: Bool = false) {
        var message = message
        var context = context
        // An error of a function started with netstack.spawn is raised again in whatever resumed
        // it (a client's callback, a timer); it is reported as the spawned function's own.
        if message.hasPrefix(Self.spawnedErrorPrefix) {
            message.removeFirst(Self.spawnedErrorPrefix.count)
            context = "a function started with netstack.spawn"
        } else if message.hasPrefix(Self.entryErrorPrefix) {
            message.removeFirst(Self.entryErrorPrefix.count)
            context = entryContext
        }
        message = explainingMemory(message, outOfMemory: outOfMemory)
        if host?.vuMode != true, let hint = Self.loadRunHint(for: message) {
            let end = message.firstIndex(of: "\n") ?? message.endIndex
            message.insert(contentsOf: hint, at: end)
        }
        errorCount += 1
        errorSink("netstack: error in \(context): \(message)")
    }

    /// `message` with what ran out when it is Lua's "not enough memory": the state's limit
    /// refusing an allocation, or the system refusing one below the limit (the process's own
    /// limits, other users of its memory). Reads and clears the state's "limit hit" mark.
    package func explainingMemory(_ message: String, outOfMemory: Bool) -> String {
        let hit = netstack_memory_limit_hit(L)
        if hit != 0, outOfMemory || message.contains("not enough memory") {
            if hit == 2, let pool = options.memoryPool {
                return "memory limit of \(pool.limit) bytes (\(pool.origin)) exceeded: " + message
            }
            let origin = options.memoryLimitOrigin.map { " (\($0))" } ?? ""
            return "memory limit of \(options.memoryLimit) bytes\(origin) exceeded: " + message
        }
        if outOfMemory {
            return "the system refused memory to the script (its state held \(netstack_memory_used(L)) bytes): " + message
        }
        return message
    }

    /// For an error that indexed a missing `netstack.vu` or `netstack.metrics` outside a load run
    /// (they exist only in one): how to start one.
    static func loadRunHint(for message: String) -> String? {
        let firstLine = message.prefix { $0 != "\n" }
        for field in ["vu", "metrics"] where firstLine.contains("attempt to index a nil value (field '\(field)')") {
            return " (netstack.\(field) exists only in load runs: run with --vus 1, or give the script an `options = { ... }` line)"
        }
        return nil
    }

    /// Runs a chunk of Lua source with `args` as `...`; false (reported) if it failed to compile
    /// or raised.
    @discardableResult
    package func runString(_ code: String, name: String, args: [String] = []) -> Bool {
        var code = code
        let status = code.withUTF8 { buf in
            luaL_loadbufferx(L, UnsafeRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self), buf.count, name, "t")
        }
        let context = name.hasPrefix("=") ? String(name.dropFirst()) : name
        guard status == LUA_OK else {
            reportTopError(context: context, status: status)
            return false
        }
        guard reserveArguments(args.count, context: context) else {
            netstack_pop(L, 1)
            return false
        }
        for (i, a) in args.enumerated() { pushArgument(a, at: i) }
        return call(nargs: Int32(args.count), context: context)
    }

    /// Room on the Lua stack for `count` arguments (and the error handler a call pushes): the
    /// stack is only guaranteed LUA_MINSTACK (20) free slots, and pushing past them writes out of
    /// bounds. False (reported) when Lua cannot grow it that far (about a million slots).
    func reserveArguments(_ count: Int, context: String) -> Bool {
        guard count > 0 else { return true }
        guard count < 900_000, lua_checkstack(L, Int32(count + 8)) != 0 else {
            errorCount += 1
            errorSink("netstack: error in \(context): too many arguments (\(count))")
            return false
        }
        return true
    }

    /// Runs a script file with `args` as `...`. Returns false if it failed to load or raised.
    func runFile(_ path: String, args: [String]) -> Bool {
        guard reserveArguments(args.count, context: path) else { return false }
        for (i, a) in args.enumerated() { pushArgument(a, at: i) }
        if options.instructionBudget > 0 { netstack_reset_instruction_budget(L) }
        let status = netstack_dofile(L, path, Int32(args.count))
        if status == LUA_OK { return true }
        reportTopError(context: path, status: status)
        return false
    }

    // MARK: Registering Swift functions

    /// Pushes a Lua function backed by `body`, made for this state. `body` returns the number of
    /// results it pushed, or -1 after pushing an error message (raised by the C trampoline).
    package func pushFunction(_ body: @escaping (LuaVM) -> Int32) {
        let box = LuaFunction(body, shared: false)
        boxes.append(box)
        netstack_push_swift_function(L, swiftDispatch, Unmanaged.passUnretained(box).toOpaque())
    }

    /// Pushes a function shared by every state (a `static let`, made once per process): it costs
    /// no Swift allocation per state.
    package func pushFunction(_ function: LuaFunction) {
        precondition(function.isShared, "pushFunction(LuaFunction) takes shared functions only")
        netstack_push_swift_function(L, swiftDispatch, Unmanaged.passUnretained(function).toOpaque())
    }

    /// `table[name] = function` for the table on top of the stack (a shared function).
    package func setFunction(_ name: String, _ function: LuaFunction) {
        pushFunction(function)
        lua_setfield(L, -2, name)
    }

    /// `table[name] = function` for the table on top of the stack.
    package func setFunction(_ name: String, _ body: @escaping (LuaVM) -> Int32) {
        pushFunction(body)
        lua_setfield(L, -2, name)
    }

    // MARK: Stack helpers (none of these raise)

    package func pushString(_ s: String) {
        var s = s
        s.withUTF8 { buf in _ = lua_pushlstring(L, buf.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, buf.count) }
    }

    /// Script argument `i` (0-based), which is `a` as Swift read it: the bytes the command line
    /// gave for it (`Options.argumentBytes`), where those are what Swift read as `a`.
    func pushArgument(_ a: String, at i: Int) {
        let raw = options.argumentBytes
        if i < raw.count, a.contains("\u{FFFD}"), String(decoding: raw[i], as: UTF8.self) == a {
            raw[i].withUnsafeBytes { _ = lua_pushlstring(L, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
        } else {
            pushString(a)
        }
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

    /// Makes the stack hold at least `n` values (missing arguments become nil), so that what a
    /// function pushes lands above slot `n`. Extra arguments stay: a Swift function leaves its
    /// arguments (`call` checks it in debug builds).
    package func ensureArgumentSlots(_ n: Int32) {
        if lua_gettop(L) < n { lua_settop(L, n) }
    }

    package func type(at i: Int32) -> Int32 { lua_type(L, i) }
    var top: Int32 { lua_gettop(L) }

    package func string(at i: Int32) -> String? {
        guard lua_type(L, i) == LUA_TSTRING else { return nil }
        var len = 0
        guard let p = lua_tolstring(L, i, &len) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
    }

    /// The string at `i` when its bytes are valid UTF-8; nil for other bytes and other types.
    /// For text that goes on the wire as it is (header names and values), where `string(at:)`
    /// would put U+FFFD in place of the bytes.
    package func utf8String(at i: Int32) -> String? {
        guard let b = bytes(at: i), UTF8Validator.isValid(b) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    /// The raw bytes of a string argument, valid while it stays on the stack.
    package func bytes(at i: Int32) -> UnsafeRawBufferPointer? {
        guard lua_type(L, i) == LUA_TSTRING else { return nil }
        var len = 0
        guard let p = lua_tolstring(L, i, &len) else { return nil }
        return UnsafeRawBufferPointer(start: p, count: len)
    }

    /// The bytes of a message argument: a string, or a number converted as Lua converts numbers
    /// where strings are expected (`luaL_checklstring`'s rule: 42 is "42", 1.5 is "1.5"). The slot
    /// then holds the string; valid while it stays on the stack. (Hosted functions run with the
    /// memory limit suspended, so the conversion cannot raise here.)
    package func messageBytes(at i: Int32) -> UnsafeRawBufferPointer? {
        let t = lua_type(L, i)
        guard t == LUA_TSTRING || t == LUA_TNUMBER else { return nil }
        var len = 0
        guard let p = lua_tolstring(L, i, &len) else { return nil }
        return UnsafeRawBufferPointer(start: p, count: len)
    }

    package func integer(at i: Int32) -> Int64? {
        var isNum: Int32 = 0
        let v = lua_tointegerx(L, i, &isNum)
        return isNum != 0 ? v : nil
    }

    package func number(at i: Int32) -> Double? {
        var isNum: Int32 = 0
        let v = lua_tonumberx(L, i, &isNum)
        return isNum != 0 ? v : nil
    }

    package func boolean(at i: Int32) -> Bool { lua_toboolean(L, i) != 0 }

    /// Pushes `t[key]` without metamethods (never raises).
    package func rawField(_ tableIndex: Int32, _ key: String) {
        let t = lua_absindex(L, tableIndex)
        pushString(key)
        lua_rawget(L, t)
    }

    /// Pushes an error message and returns -1, for `return vm.raise(...)` in Swift functions.
    package func raise(_ message: String) -> Int32 {
        pushString(message)
        return -1
    }

    package func typeName(at i: Int32) -> String { String(cString: lua_typename(L, lua_type(L, i))) }

    /// "bad argument #n to 'name' (expected, got type)" raised from Lua.
    package func argError(_ n: Int32, _ function: String, _ expected: String) -> Int32 {
        raise("bad argument #\(n) to '\(function)' (\(expected) expected, got \(typeName(at: n)))")
    }

    // References are dropped by host code that may run after the state closed (a connection's
    // last event, a timer cancelled at the end): on a closed VM these do nothing.
    package func ref() -> Int32 { isClosed ? LUA_NOREF : netstack_ref(L) }
    package func unref(_ r: Int32) { if !isClosed { netstack_unref(L, r) } }
    package func pushRef(_ r: Int32) { netstack_getregistry_ref(L, r) }

    /// Pushes the global `name` without running metamethods of `_G` (script code may have set
    /// them; an `__index` that raises must not unwind through Swift frames). Never raises.
    package func pushGlobal(_ name: String) {
        netstack_push_globals(L)
        rawField(-1, name)
        netstack_remove(L, -2)
    }

    /// `_G[name] = value on top` without metamethods (pops the value). Never raises.
    package func setGlobal(_ name: String) {
        netstack_push_globals(L)
        pushString(name)
        lua_rotate(L, -3, -1)  // globals, name, value
        lua_rawset(L, -3)
        netstack_pop(L, 1)
    }
}

/// A Swift function exposed to Lua; the light userdata upvalue of its Lua closure points here
/// (unretained). It finds its VM through the state (`netstack_owner`), so one `LuaFunction` can
/// serve every VM: the modules' functions are `static let`s, made once per process.
package final class LuaFunction {
    let body: (LuaVM) -> Int32
    /// True for shared functions: pinned (never freed), so no Lua closure outlives its function.
    let isShared: Bool

    fileprivate init(_ body: @escaping (LuaVM) -> Int32, shared: Bool) {
        self.body = body
        self.isShared = shared
        if shared { _ = Unmanaged.passRetained(self) }
    }

    /// A function shared by every VM (define it as a `static let`).
    package static func shared(_ body: @escaping (LuaVM) -> Int32) -> LuaFunction {
        LuaFunction(body, shared: true)
    }

    /// A shared function that works on the VM's host; raises when the host is gone.
    package static func hosted(_ body: @escaping (LuaVM, ScriptHost) -> Int32) -> LuaFunction {
        shared { vm in
            guard let host = vm.host else { return vm.raise("netstack: the script's host is gone") }
            return body(vm, host)
        }
    }
}

extension LuaVM {
    /// Runs `body` with the VM owning `L` working on `L` (a coroutine's state, perhaps), for
    /// entries from C. With no VM (it is closed) a message is pushed and -1 returned.
    static func entered(from L: OpaquePointer?, _ body: (LuaVM) -> Int32) -> Int32 {
        guard let L = L, let owner = netstack_owner(L) else {
            if let L = L { lua_pushstring(L, "netstack: the script's VM is closed") }
            return -1
        }
        let vm = Unmanaged<LuaVM>.fromOpaque(owner).takeUnretainedValue()
        let saved = vm.L
        vm.L = L
        defer { vm.L = saved }
        return body(vm)
    }
}

/// Every Lua call of a Swift function lands here with the calling thread's state `L`, which may
/// be a coroutine: the VM works on that state for the call's duration.
private let swiftDispatch: netstack_swift_fn = { L, context in
    let box = Unmanaged<LuaFunction>.fromOpaque(context!).takeUnretainedValue()
    return LuaVM.entered(from: L) { vm in call(box, vm) }
}

/// A Swift function's call; debug builds check that it left the stack balanced.
private func call(_ box: LuaFunction, _ vm: LuaVM) -> Int32 {
    #if DEBUG
    let L = vm.L
    let before = lua_gettop(L)
    let n = box.body(vm)
    // A Swift function leaves its arguments and pushes exactly what it returns (or one message).
    assert(lua_gettop(L) >= before + (n < 0 ? 1 : n), "Lua stack unbalanced by a Swift function (\(before) -> \(lua_gettop(L)), returned \(n))")
    return n
    #else
    return box.body(vm)
    #endif
}

public struct LuaHostError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
