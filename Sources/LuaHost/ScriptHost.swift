import CLuaBridge
import Foundation
import NIOCore
import NIOPosix
import NetStack

/// Runs one script: owns its VM, the `netstack` module, the clients and timers it creates, and
/// decides when the run is over (no live connection or timer left, or `netstack.exit`).
public final class ScriptHost {
    public struct Options {
        public var vm = LuaVM.Options()
        /// URL for a bot-style script (globals onOpen/onMessage/onError/onClose, no client of its own).
        public var url: String?
        /// Starts the local echo server when a bot script gets no URL.
        public var startLocalServer: (() throws -> String)?
        /// JSON lines of events (`--json`): connection events, `print` output, script errors.
        public var events: ((String) -> Void)?
        /// Trace of every connection's handshake, messages and control frames (`-v`).
        public var trace: (@Sendable (String) -> Void)?
        /// Trace of every frame of every connection (`-vv`).
        public var frameTrace: (@Sendable (String) -> Void)?
        /// Host messages and uncaught errors (control characters shown as escapes: they may carry
        /// a server's text).
        public var log: (String) -> Void = { StandardError.line(TerminalText.sanitize($0)) }
        /// Plugins to load before the script (`--plugin`), in order.
        public var plugins: [String] = []
        /// `NAME.KEY=VALUE` plugin options (`--plugin-option`).
        public var pluginOptions: [String] = []
        /// Where plugins are found (also for `require` from the script).
        public var pluginPath = PluginSearchPath(entries: [])
        /// Withhold os.execute, io.popen and native code from plugins and the script.
        public var sandbox = false
        /// What an uncaught error in a callback (or timer, or plugin hook) does (`--on-error`).
        public var onError: ErrorPolicy = .exit
        /// The proxy of every client that sets none itself (`--proxy`, `--no-proxy`; by default
        /// the environment's, as curl reads it).
        public var proxy: WebSocketProxySetting = .environment
        /// Redirects every client follows unless its `followRedirects` option says otherwise (`-L`).
        public var followRedirects = 0
        /// Headers, subprotocols, TLS files and keepalive every client starts with.
        public var clientDefaults = ClientDefaults()
        /// Load runs: receives the measurements of the script's connections.
        package var observer: ScriptObserver?
        /// Load runs: adds to the `netstack` module (netstack.vu, netstack.metrics) before plugins load.
        package var install: ((ScriptHost) -> Void)?
        /// Load runs: where uncaught errors go (instead of `log` or `events`).
        package var onScriptError: ((String) -> Void)?
        /// Load runs: where a `--plugin` that cannot load is reported (instead of `log`), so that
        /// the same failure in every VU is printed once.
        package var onPluginLoadFailure: ((String) -> Void)?
        public init() {}
    }

    /// What happens after an uncaught error in a callback. Every policy reports the error and
    /// makes the status 1 (unless `netstack.exit` chose one).
    public enum ErrorPolicy: String, CaseIterable, Sendable {
        /// End the run now, as `lua` does: the connections are dropped.
        case exit
        /// Close the connection whose callback raised (1011, "script error") and go on.
        case close
        /// Go on as if nothing happened.
        case `continue`
    }

    /// Exit status when a --plugin plugin fails to load (the script does not run).
    public static let pluginLoadFailureStatus: Int32 = 3

    public let vm: LuaVM
    let options: Options
    var observer: ScriptObserver? { options.observer }
    var eventLoop: EventLoop { vm.eventLoop }
    let done: EventLoopPromise<Int32>
    @exclusivity(unchecked) var finished = false
    /// True once the run has ended (its status decided); Lua code still running (finalizers)
    /// cannot start timers or connections.
    var isFinished: Bool { finished }

    // Live handles.
    @exclusivity(unchecked) var clients: [Int: LuaClient] = [:]
    /// The client a method call found last: a script calls methods on one client in a row (a send
    /// loop), and the lookup in `clients` hashed the id for every call (about 100 instructions).
    /// Cleared when that client is forgotten.
    @exclusivity(unchecked) private var lastClient: LuaClient?

    /// The live client with this id (nil when there is none, or it was forgotten).
    @inline(__always)
    func client(id: Int) -> LuaClient? {
        if let c = lastClient, c.id == id { return c }
        guard let c = clients[id] else { return nil }
        lastClient = c
        return c
    }
    @exclusivity(unchecked) var nextClientID = 1
    @exclusivity(unchecked) var clientsCreated = 0
    @exclusivity(unchecked) var timers: [Int: LuaTimer] = [:]
    /// The strings "text" and "binary", anchored once (pushed for every message).
    @exclusivity(unchecked) var textRef: Int32 = LUA_NOREF
    @exclusivity(unchecked) var binaryRef: Int32 = LUA_NOREF
    /// Asynchronous operations (fetchChain with a callback) still running.
    @exclusivity(unchecked) var pendingOperations = 0
    @exclusivity(unchecked) var nextTimerID = 1
    /// The built-in local server's URL while its notice is unsaid: said when a connection really
    /// dials it (a replaying plugin that intercepts the connect uses no network, and says nothing).
    @exclusivity(unchecked) var localServerNotice: String?
    @exclusivity(unchecked) var exitCode: Int32?
    @exclusivity(unchecked) private var interrupted = false

    // Load runs (a virtual user): the script's main chunk is its init, each iteration runs its
    // entry point until what the iteration started is idle. See ScriptHost+Iterations.swift.
    @exclusivity(unchecked) package internal(set) var vuMode = false
    /// The iteration that clients and timers created now belong to (0: the init, kept across
    /// iterations).
    @exclusivity(unchecked) var currentIteration = 0
    @exclusivity(unchecked) var iterationDone: ((IterationEnd) -> Void)?
    @exclusivity(unchecked) var iterationFailed = false

    public init(eventLoop: EventLoop, options: Options = .init()) throws {
        self.vm = try LuaVM(eventLoop: eventLoop, options: options.vm)
        self.options = options
        self.done = eventLoop.makePromise(of: Int32.self)
        vm.host = self
        vm.errorSink = options.log
        if let events = options.events {
            vm.errorSink = { events("{\"event\":\"script_error\",\"message\":\(JSONString.quote($0))}") }
        }
        if let sink = options.onScriptError { vm.errorSink = sink }
        vm.pushString("text")
        textRef = vm.ref()
        vm.pushString("binary")
        binaryRef = vm.ref()
        NetStackModule.install(into: self)
        options.install?(self)
        if options.events != nil { installJSONPrint() }
        do {
            if options.sandbox { try PluginRuntime.applySandbox(vm) }
            if options.plugins.isEmpty && options.pluginOptions.isEmpty {
                LazyPluginRuntime.install(into: vm)
            } else {
                _ = try pluginRuntime()
            }
        } catch {
            // The functions installed so far hold this host: closing the state drops them, or the
            // host and its state would keep each other alive.
            let vm = self.vm
            if eventLoop.inEventLoop { vm.close() } else { try? eventLoop.submit { vm.close() }.wait() }
            done.fail(error)
            throw error
        }
    }

    /// What runs this host, for shared functions of other modules (a load run's VirtualUser).
    package weak var owner: AnyObject?

    /// The plugin runtime (search, hooks, start and exit functions): loaded at start when
    /// `--plugin` or `--plugin-option` names any, else on first use (`LazyPluginRuntime`).
    @exclusivity(unchecked) private(set) var plugins: PluginRuntime?
    /// True once the host started the plugins (before the script): a runtime loaded later starts at once.
    @exclusivity(unchecked) private var pluginsStarted = false

    /// The plugin runtime, made on first call.
    func pluginRuntime() throws -> PluginRuntime {
        if let p = plugins { return p }
        let p = try PluginRuntime(host: self, search: options.pluginPath, plugins: options.plugins,
                                  options: options.pluginOptions, sandbox: options.sandbox, json: options.events != nil)
        plugins = p
        if pluginsStarted { _ = p.start(vm) }
        return p
    }

    /// Loads the --plugin list and runs start functions; false when a plugin failed to load.
    func startPlugins() -> Bool {
        pluginsStarted = true
        let ok = plugins?.start(vm) ?? true
        pluginLoadFailed = !ok
        return ok
    }

    /// A `--plugin` could not load when the plugins started (the run then stops with
    /// `pluginLoadFailureStatus`).
    @exclusivity(unchecked) package private(set) var pluginLoadFailed = false

    /// Runs the plugins' exit functions (if the runtime was loaded); returns the final status.
    func exitPlugins(status: Int32) -> Int32 {
        plugins?.exit(vm, status: status) ?? status
    }

    /// With `--json`, `print` becomes a `{"event":"print","text":...}` line so stdout stays JSON.
    /// JSON text is UTF-8: a line whose bytes are not (a Latin-1 name, binary data) has U+FFFD in
    /// `text` and its exact bytes in `hex`.
    private func installJSONPrint() {
        let L = vm.L
        vm.pushGlobal("netstack")
        vm.setFunction("_emitPrint") { [weak self] vm in
            guard let bytes = vm.bytes(at: 1) else { return 0 }
            var event: [String: JSONValue] = ["event": .string("print"), "text": .string(String(decoding: bytes, as: UTF8.self))]
            if !UTF8Validator.isValid(bytes) { event["hex"] = .string(Hex.encode(bytes)) }
            self?.emit(event)
            return 0
        }
        netstack_pop(L, 1)
        let code = "local emit = netstack._emitPrint; netstack._emitPrint = nil; print = function(...) local t = table.pack(...); for i = 1, t.n do t[i] = tostring(t[i]) end; emit(table.concat(t, '\\t')) end"
        if luaL_loadstring(L, code) == LUA_OK { vm.call(nargs: 0, context: "json print") } else { netstack_pop(L, 1) }
    }

    enum JSONValue {
        case string(String)
        case int(Int64)
    }

    /// One JSON line on the event sink, keys in a fixed order (event, client, then the rest sorted).
    /// `fields` is built only with `--json` (events are emitted on every connection's open and close,
    /// and every message). Inlined, so that without `--json` the autoclosure is not even made: made,
    /// it retained and released what it captures (two pairs per message on the Lua flood).
    @inline(__always)
    func emit(_ fields: @autoclosure () -> [String: JSONValue]) {
        guard let sink = options.events else { return }
        emit(fields(), to: sink)
    }

    private func emit(_ fields: [String: JSONValue], to sink: (String) -> Void) {
        let order = ["event", "client"]
        let keys = order.filter { fields[$0] != nil } + fields.keys.filter { !order.contains($0) }.sorted()
        let body = keys.map { k -> String in
            switch fields[k]! {
            case .string(let s): return JSONString.quote(k) + ":" + JSONString.quote(s)
            case .int(let i): return JSONString.quote(k) + ":" + String(i)
            }
        }
        sink("{" + body.joined(separator: ",") + "}")
    }

    /// Runs `path` with `args` and waits until the run ends. Returns the exit status:
    /// `netstack.exit(n)` → n; an uncaught error → 1; a connection that failed (see
    /// `failedConnections`) → 1; else 0.
    public func run(path: String, args: [String]) -> Int32 {
        run(path: path, source: .file, args: args)
    }

    /// Runs Lua `source` (named `name` in messages) as the script.
    public func run(source: String, name: String, args: [String]) -> Int32 {
        run(path: name, source: .text(source), args: args)
    }

    /// Runs a script read beforehand (standard input: `netstack run -`).
    public func run(script: ScriptChunk, args: [String]) -> Int32 {
        run(path: script.argumentZero, source: .chunk(script), args: args)
    }

    /// Where `start` takes the script from.
    private enum Source {
        case file
        case text(String)
        case chunk(ScriptChunk)
    }

    private func run(path: String, source: Source, args: [String]) -> Int32 {
        let future = eventLoop.submit { [self] () -> Void in
            start(path: path, source: source, args: args)
        }
        do { try future.wait() } catch { return 1 }
        let status = (try? done.futureResult.wait()) ?? 1
        // A host runs one script. Close its Lua state on the loop (finalizers may call back into
        // the host) and drop the Swift functions: their closures hold the host, which would
        // otherwise never be freed.
        try? eventLoop.submit { [self] in vm.close() }.wait()
        return status
    }

    /// Ends the run from outside (SIGINT): closes open connections with 1001; a second call ends
    /// at once.
    public func interrupt() {
        eventLoop.execute { [self] in
            if interrupted {
                finish(code: 130)
                return
            }
            interrupted = true
            exitCode = 130
            var any = false
            for c in clients.values where c.client.state == .open || c.client.state == .connecting {
                any = true
                if c.client.state == .open { try? c.client.close(code: 1001, reason: "interrupted") } else { c.client.destroy(); release(c) }
            }
            cancelTimers()
            if !any { finish(code: 130) } else { checkIdle() }
        }
    }

    /// True while the main chunk and `main` run: the run cannot end before they return.
    @exclusivity(unchecked) var starting = false

    /// The global `arg` table as lua.c makes it: the script at 0, its arguments from 1.
    func setArgTable(path: String, args: [String]) {
        let L = vm.L
        lua_createtable(L, Int32(args.count), 1)
        vm.pushString(path)
        lua_rawseti(L, -2, 0)
        for (i, a) in args.enumerated() {
            vm.pushArgument(a, at: i)
            lua_rawseti(L, -2, Int64(i + 1))
        }
        vm.setGlobal("arg")
    }

    private func start(path: String, source: Source, args: [String]) {
        starting = true
        defer { starting = false }
        setArgTable(path: path, args: args)
        let L = vm.L

        guard startPlugins() else { return finish(code: Self.pluginLoadFailureStatus) }
        if exitCode != nil { return finish(code: exitCode!) }
        let ran: Bool
        switch source {
        case .file:
            vm.prependScriptFolder(of: path)
            ran = vm.runFile(path, args: args)
        case .text(let text): ran = vm.runString(text, name: "=" + path, args: args)
        case .chunk(let chunk): ran = vm.run(chunk, args: args)
        }
        guard ran else { return finish(code: exitCode ?? 1) }
        if exitCode != nil { return finish(code: exitCode!) }
        if let wrong = nonFunctionGlobal(among: ["main"]) { return refuseEntryPoint(wrong) }
        // main(args), when defined.
        vm.pushGlobal("main")
        if lua_type(L, -1) == LUA_TFUNCTION {
            vm.pushGlobal("arg")
            if !vm.callEntry(nargs: 1, context: "main") { return finish(code: exitCode ?? 1) }
        } else {
            netstack_pop(L, 1)
        }
        if exitCode != nil { return finish(code: exitCode!) }
        if clientsCreated == 0, let wrong = nonFunctionGlobal(among: Self.handlerNames) { return refuseEntryPoint(wrong) }
        if clientsCreated == 0 && definesHandlers() {
            startBot()
        } else if clientsCreated == 0, let wrong = misspelledHandler() {
            // A bot whose handlers are misnamed would otherwise end at once with status 0.
            options.log("netstack: the script defines '\(wrong.defined)' but not '\(wrong.meant)': the handlers are onOpen, onMessage, onError and onClose (case matters)")
            if timers.isEmpty && liveClients == 0 && !vuMode { return finish(code: 2) }
        }
        starting = false
        checkIdle()
    }

    /// A global function named like a handler but not exactly (`onopen`, `on_message`, `OnClose`).
    func misspelledHandler() -> (defined: String, meant: String)? {
        let meant = ["onopen": "onOpen", "onmessage": "onMessage", "onerror": "onError", "onclose": "onClose"]
        let L = vm.L
        netstack_push_globals(L)
        lua_pushnil(L)
        var found: (defined: String, meant: String)?
        while found == nil, lua_next(L, -2) != 0 {
            if lua_type(L, -2) == LUA_TSTRING, lua_type(L, -1) == LUA_TFUNCTION, let name = vm.string(at: -2),
               let m = meant[name.lowercased().replacingOccurrences(of: "_", with: "")], m != name {
                found = (name, m)
            }
            netstack_pop(L, 1)  // the value; the key stays for lua_next
        }
        // Found: the loop stopped with the key still on the stack.
        netstack_pop(L, found == nil ? 1 : 2)
        return found
    }

    /// Whether the global `name` is a function (read raw: no metamethod of `_G` runs).
    package func definesFunction(_ name: String) -> Bool {
        vm.pushGlobal(name)
        defer { netstack_pop(vm.L, 1) }
        return lua_type(vm.L, -1) == LUA_TFUNCTION
    }

    /// The globals a bot's client is made from.
    package static let handlerNames = ["onOpen", "onMessage", "onError", "onClose"]

    /// The first of `names` whose global is set to something other than a function (read raw),
    /// with its type name. The host calls these globals, so such a value is a mistake in the
    /// script (`setup = 5`, `onMessage = "x"`) that would otherwise be skipped without a word.
    package func nonFunctionGlobal(among names: [String]) -> (name: String, type: String)? {
        for name in names {
            vm.pushGlobal(name)
            defer { netstack_pop(vm.L, 1) }
            let t = lua_type(vm.L, -1)
            if t != LUA_TNIL && t != LUA_TFUNCTION { return (name, vm.typeName(at: -1)) }
        }
        return nil
    }

    /// The words for `nonFunctionGlobal`'s finding (without the `netstack: ` prefix).
    package static func entryPointMessage(_ wrong: (name: String, type: String)) -> String {
        entryPointMessagePrefix + "\(wrong.name)' is a \(wrong.type), not a function: the host calls it (define function \(wrong.name)(...) or use another name)"
    }

    package static let entryPointMessagePrefix = "the global '"

    /// Ends a plain run whose script set an entry point or handler to a non-function: status 2.
    private func refuseEntryPoint(_ wrong: (name: String, type: String)) {
        options.log("netstack: " + Self.entryPointMessage(wrong))
        finish(code: 2)
    }

    func definesHandlers() -> Bool {
        for name in Self.handlerNames {
            vm.pushGlobal(name)
            let isFunction = lua_type(vm.L, -1) == LUA_TFUNCTION
            netstack_pop(vm.L, 1)
            if isFunction { return true }
        }
        return false
    }

    /// Bot style: the host creates the client from the global handlers and connects it.
    /// Ends a start that cannot go on: the run (plain) or the iteration (load run).
    func abortStart(_ code: Int32) {
        if vuMode { iterationFailed = true } else { finish(code: code) }
    }

    func startBot() {
        var url = options.url
        if url == nil {
            guard let startServer = options.startLocalServer else {
                options.log("netstack: the script defines handlers but no --url was given")
                return abortStart( 2)
            }
            do {
                url = try startServer()
                localServerNotice = url
            } catch {
                options.log("netstack: cannot start the local server: \(error)")
                return abortStart( 1)
            }
        }
        let L = vm.L
        var refs: [Int32] = []
        for name in ["onOpen", "onMessage", "onError", "onClose"] {
            vm.pushGlobal(name)
            refs.append(lua_type(L, -1) == LUA_TFUNCTION ? vm.ref() : { netstack_pop(L, 1); return LUA_NOREF }())
        }
        let c = makeClient(callbacks: refs)
        // client:connect(url) through the methods table, so plugins' connect hooks see it.
        lua_getfield(L, netstack_registryindex(), NetStackModule.clientMetatable)
        vm.rawField(-1, "__index")
        if vm.type(at: -1) == LUA_TTABLE { netstack_getfield_protected(L, -1, "connect") } else { lua_pushnil(L) }
        netstack_remove(L, -2)
        netstack_remove(L, -2)
        guard vm.type(at: -1) == LUA_TFUNCTION else {
            netstack_pop(L, 1)
            options.log("netstack: the client methods table was replaced; cannot connect the bot")
            return abortStart( 1)
        }
        LuaClientBinding.pushNewUserdata(c, host: self)
        vm.pushString(url!)
        guard vm.call(nargs: 2, nresults: 2, context: "connect") else { return abortStart( 1) }
        if vm.type(at: -2) <= LUA_TNIL {
            options.log("netstack: cannot connect to \(url!): \(vm.string(at: -1) ?? "?")")
            netstack_pop(L, 2)
            return abortStart( 1)
        }
        netstack_pop(L, 2)
    }

    // MARK: Clients

    /// What every client of this host starts from, made once: the clients share its storage
    /// (configurations are copy on write) instead of holding a copy each.
    private lazy var baseClientConfiguration: WebSocketClientConfiguration = {
        var config = WebSocketClientConfiguration()
        options.clientDefaults.apply(to: &config)
        // Lua strings are made from the bytes during the callback: a copy of our own would be a second one.
        config.ownStorageThreshold = .max
        config.proxy = options.proxy
        config.followRedirects = options.followRedirects
        return config
    }()

    func makeClient(callbacks: [Int32]) -> LuaClient {
        let id = nextClientID
        nextClientID += 1
        clientsCreated += 1
        var config = baseClientConfiguration
        if let trace = options.trace { config.trace = { trace("[client \(id)] " + $0) } }
        if let trace = options.frameTrace { config.frameTrace = { trace("[client \(id)] " + $0) } }
        let client = WebSocketClient(configuration: config, eventLoop: eventLoop)
        let c = LuaClient(id: id, client: client, callbacks: callbacks)
        c.iteration = currentIteration
        clients[id] = c
        LuaClientBinding.wire(c, host: self)
        return c
    }

    /// While connecting or connected, the registry holds the client's userdata so a script that
    /// drops its reference keeps its connection (as luv keeps live handles).
    /// Clients connecting or connected (kept as a count: checked after every callback).
    @exclusivity(unchecked) var liveClients = 0

    func anchor(_ c: LuaClient) {
        if !c.live { liveClients += 1 }
        c.live = true
        if c.selfRef == LUA_NOREF {
            LuaClientBinding.pushUserdata(c, host: self)
            c.selfRef = vm.ref()
        }
    }

    /// After the terminal event or destroy.
    func release(_ c: LuaClient) {
        if c.live { liveClients -= 1 }
        c.live = false
        if c.selfRef != LUA_NOREF {
            vm.unref(c.selfRef)
            c.selfRef = LUA_NOREF
        }
    }

    /// After a terminal event's callback: a client the callback connected again stays anchored
    /// (and live) for its new connection.
    func releaseUnlessReconnected(_ c: LuaClient) {
        switch c.client.state {
        case .connecting, .open, .closing: return
        default: release(c)
        }
    }

    func forget(_ c: LuaClient) {
        release(c)
        for r in c.callbacks { vm.unref(r) }
        c.callbacks = [LUA_NOREF, LUA_NOREF, LUA_NOREF, LUA_NOREF]
        clients[c.id] = nil
        if lastClient === c { lastClient = nil }
        if failedConnections.remove(c.id) != nil { failedAndDestroyed += 1 }
    }

    // MARK: Timers

    func cancelTimers() {
        for t in timers.values { t.cancel(); vm.unref(t.function) }
        timers.removeAll()
    }

    // MARK: Failures

    /// Clients whose latest connection failed: an error before the open (DNS, refused, TLS,
    /// rejected upgrade, timeout) or a close that was not clean (dropped without a close frame,
    /// or failed by us for a protocol violation or limit). A later open of the same client (a
    /// reconnect) takes it off. Only clients that still exist are kept (a destroyed client cannot
    /// reconnect: it is counted in `failedAndDestroyed`), so a long run that replaces failing
    /// clients does not grow this set.
    @exclusivity(unchecked) private(set) var failedConnections: Set<Int> = []
    @exclusivity(unchecked) private(set) var failedAndDestroyed = 0
    /// Clients whose last connection failed, destroyed or not. Non-zero at the end → status 1.
    var failedClientCount: Int { failedConnections.count + failedAndDestroyed }

    func connectionOpened(_ c: LuaClient) { failedConnections.remove(c.id) }
    func connectionFailed(_ c: LuaClient) { failedConnections.insert(c.id) }

    /// After an uncaught error in a callback of `client` (nil: a timer or other callback).
    func callbackFailed(_ client: LuaClient?) {
        // The run is ending (netstack.exit, or os.exit unwinding the callback), or the VU's
        // iteration is being stopped from outside.
        if exitCode != nil || vm.interruptUnwound { return }
        switch options.onError {
        case .exit:
            if vuMode { iterationFailed = true; return }
            if exitCode == nil { exitCode = 1 }
        case .close:
            if let c = client, c.client.state == .open { try? c.client.close(code: 1011, reason: "script error") }
        case .continue:
            break
        }
    }

    // MARK: Ending

    func requestExit(_ code: Int32) {
        exitCode = code
    }

    var exitRequested: Bool { exitCode != nil }

    /// True once the run is ending (`exit`, SIGINT, or finished), or, in a load run's VU, once
    /// `windingDown` says so: plugins stop reconnecting.
    var isStopping: Bool { exitCode != nil || interrupted || finished || windingDown?() == true }
    /// A load run's VU: whether it should finish its iteration and start nothing new (its
    /// scenario's schedule ended, or a ramp took it off). Read on the VU's loop.
    @exclusivity(unchecked) package var windingDown: (() -> Bool)?

    /// After every callback: end the run on `exit`, or when nothing is left to wait for.
    func checkIdle() {
        if finished || starting { return }
        if vuMode { return checkIterationIdle() }
        if let code = exitCode, !interrupted {
            return finish(code: code)
        }
        if liveClients == 0 && timers.isEmpty && pendingOperations == 0 {
            finish(code: exitCode ?? (vm.errorCount > 0 ? 1 : 0))
        }
    }

    func finish(code: Int32) {
        if finished { return }
        finished = true
        var code = exitPlugins(status: code)
        // A run whose connections failed is not a success, unless the script chose its status
        // (netstack.exit) or a plugin did (metrics thresholds).
        if code == 0, exitCode == nil, failedClientCount > 0 {
            let n = failedClientCount
            options.log("netstack: \(n) connection\(n == 1 ? "" : "s") failed; exit status 1")
            code = 1
        }
        cancelTimers()
        for c in Array(clients.values) {
            c.client.destroy()
            forget(c)
        }
        done.succeed(code)
    }
}

/// A client created by the script.
final class LuaClient {
    let id: Int
    let client: WebSocketClient
    /// Registry refs: onOpen, onMessage, onError, onClose (LUA_NOREF when absent).
    @exclusivity(unchecked) var callbacks: [Int32]
    @exclusivity(unchecked) var selfRef: Int32 = LUA_NOREF
    @exclusivity(unchecked) var live = false
    @exclusivity(unchecked) var destroyed = false
    @exclusivity(unchecked) var headers: [WebSocketHeader] = []
    /// Load runs: the iteration that owns the client (0: kept across iterations).
    @exclusivity(unchecked) var iteration = 0
    /// Uptime nanoseconds: when the latest connect was accepted, and when it opened (0: not open).
    @exclusivity(unchecked) var connectStartedAt: UInt64 = 0
    @exclusivity(unchecked) var openedAt: UInt64 = 0
    /// The observer's series set of the latest connect (`ScriptObserver.connectStarted`).
    @exclusivity(unchecked) var metricSet: Int32 = 0

    init(id: Int, client: WebSocketClient, callbacks: [Int32]) {
        self.id = id
        self.client = client
        self.callbacks = callbacks
    }
}

final class LuaTimer {
    let function: Int32
    let repeats: Bool
    /// Load runs: the iteration that owns the timer (0: kept across iterations).
    @exclusivity(unchecked) var iteration = 0
    /// On the loop's `LoopTimers`: a cancel is O(1) (SwiftNIO's scheduled tasks are removed by a
    /// linear search, which made ending a run with 20,000 pending timers take 12 s).
    let timers: LoopTimers
    @exclusivity(unchecked) var handle: LoopTimers.Handle?
    init(function: Int32, repeats: Bool, timers: LoopTimers) {
        self.function = function
        self.repeats = repeats
        self.timers = timers
    }
    func cancel() {
        timers.cancel(handle)
        handle = nil
    }
}
