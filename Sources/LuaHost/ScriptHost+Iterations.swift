import CLuaBridge
import Foundation
import NetStack

/// How an iteration of a virtual user ended.
package enum IterationEnd: Equatable, Sendable {
    /// What it started became idle: no client of its own connecting or open, no timer of its own.
    case completed
    /// An uncaught error (reported), or its entry point could not run.
    case failed
    /// Stopped from outside (the end of the graceful stop, or a ramp-down): its clients were
    /// closed with 1001.
    case interrupted
    /// The script called `netstack.exit(code)`: the load run stops.
    case exit(Int32)
}

/// A load run's virtual user: one VM whose main chunk is the init (run once) and whose
/// iterations each run the entry point until idle. Everything here runs on the VM's loop.
extension ScriptHost {
    /// Runs the main chunk once, as the VU's init: globals, options, and connections it makes
    /// are kept across iterations. False (reported) when it raised.
    package func initVU(script: ScriptChunk, args: [String]) -> Bool {
        vuMode = true
        starting = true
        defer { starting = false }
        setArgTable(path: script.argumentZero, args: args)
        guard startPlugins() else { return false }
        // os.exit in the init unwinds it: not a failure, the run stops at the first iteration.
        guard vm.run(script, args: args) || exitCode != nil else { return false }
        // What compiling and running the init left behind is garbage: collected now, a VM of
        // thousands starts at its live size (peak RSS per VM-only VU: 38.1 -> 33.2 KiB).
        netstack_gc_collect(vm.mainState)
        return true
    }

    /// What an iteration runs, checked once after the init: `exec` (a global function), else
    /// `main`, else the bot (global onOpen/onMessage/onError/onClose). Nil when there is none.
    package func iterationEntry(exec: String?) -> String? {
        if let name = exec {
            vm.pushGlobal(name)
            defer { netstack_pop(vm.L, 1) }
            return lua_type(vm.L, -1) == LUA_TFUNCTION ? name : nil
        }
        vm.pushGlobal("main")
        let hasMain = lua_type(vm.L, -1) == LUA_TFUNCTION
        netstack_pop(vm.L, 1)
        if hasMain { return "main" }
        return definesHandlers() ? "bot" : nil
    }

    /// Starts iteration `number` (1, 2, ...): calls `entry` (a function name, or "bot") and,
    /// for `main` in a script that defines handlers, connects the bot when `main` made no client.
    /// `done` runs once, on the loop, when the iteration ends.
    ///
    /// `pushEntry` pushes the function to call instead of the global `entry` (which then only
    /// names it in error reports). With `data` (a registry reference; `LUA_REFNIL`: nil) the
    /// function is called as `f(arg, data)`, else as `f(arg)`.
    package func runIteration(_ number: Int, entry: String, pushEntry: ((LuaVM) -> Void)? = nil, data: Int32? = nil,
                              done: @escaping (IterationEnd) -> Void) {
        precondition(vuMode && iterationDone == nil)
        currentIteration = number
        iterationDone = done
        iterationFailed = false
        starting = true
        let createdBefore = clientsCreated
        if entry != "bot" && exitCode == nil {
            if let push = pushEntry { push(vm) } else { vm.pushGlobal(entry) }
            if lua_type(vm.L, -1) == LUA_TFUNCTION {
                vm.pushGlobal("arg")
                if let ref = data {
                    if ref == LUA_REFNIL { lua_pushnil(vm.L) } else { vm.pushRef(ref) }
                }
                if !vm.callEntry(nargs: data == nil ? 1 : 2, context: entry) && !vm.interruptUnwound { iterationFailed = true }
            } else {
                netstack_pop(vm.L, 1)
                vm.reportError(context: "iteration", message: "'\(entry)' is not a function any more")
                iterationFailed = true
            }
        }
        if !iterationFailed && exitCode == nil && !vm.interruptUnwound && (entry == "bot" || entry == "main") && clientsCreated == createdBefore && definesHandlers() {
            startBot()
        }
        starting = false
        checkIterationIdle()
    }

    /// Ends the running iteration now (graceful stop expired, or a ramp-down): its open clients
    /// are closed with 1001, its connecting ones dropped, its timers cancelled.
    package func interruptIteration() {
        guard iterationDone != nil else { return }
        endIteration(.interrupted, closeCode: 1001, reason: "going away")
    }

    /// True while an iteration runs.
    package var iterationRunning: Bool { iterationDone != nil }

    /// Ends the VU: every client destroyed, timers cancelled, plugins' exit hooks, the state closed.
    /// Returns the status the VU's plugins' exit hooks give (0: none; the metrics plugin's failed
    /// threshold: 99).
    @discardableResult
    package func endVU() -> Int32 {
        if let done = iterationDone {
            iterationDone = nil
            done(.interrupted)
        }
        finished = true
        let pluginStatus = exitPlugins(status: 0)
        cancelTimers()
        // Sessions the end of the run cuts off: closed with 1001 by the interrupt whose close
        // reply has not come yet, or kept clients still open. They end here, with the code the
        // run closes them with, so every opened session counts once in the closes.
        if let o = observer {
            let now = DispatchTime.now().uptimeNanoseconds
            for c in clients.values where c.openedAt != 0 {
                o.closed(set: c.metricSet, code: 1001, clean: false, sessionNanos: now &- c.openedAt)
                c.openedAt = 0
            }
        }
        for c in Array(clients.values) {
            c.client.destroy()
            forget(c)
        }
        vm.close()
        done.succeed(0)
        return pluginStatus
    }

    /// After every callback in a VU: ends the iteration once what it started is idle.
    func checkIterationIdle() {
        guard iterationDone != nil, !starting else { return }
        if let code = exitCode { return endIteration(.exit(code), closeCode: 1001, reason: "going away") }
        // Its Lua code was stopped from outside: the stop it was stopped for ends it.
        if vm.interruptUnwound { return endIteration(.interrupted, closeCode: 1001, reason: "going away") }
        if iterationFailed { return endIteration(.failed, closeCode: 1011, reason: "script error") }
        let n = currentIteration
        if pendingOperations > 0 { return }
        for t in timers.values where t.iteration == n { return }
        for c in clients.values where c.iteration == n && c.live { return }
        endIteration(.completed, closeCode: 1000, reason: "")
    }

    private func endIteration(_ end: IterationEnd, closeCode: UInt32, reason: String) {
        guard let done = iterationDone else { return }
        let n = currentIteration
        iterationDone = nil
        currentIteration = 0
        for (id, t) in timers where t.iteration == n {
            t.cancel()
            vm.unref(t.function)
            timers[id] = nil
        }
        for c in Array(clients.values) where c.iteration == n && c.live {
            switch c.client.state {
            case .open: try? c.client.close(code: closeCode, reason: reason)
            case .connecting:
                c.client.destroy()
                release(c)
            default: break
            }
        }
        done(end)
    }

    /// Marks `client` as kept across iterations (it no longer holds its iteration open).
    func keep(_ c: LuaClient) { c.iteration = 0 }
}

extension ScriptHost {
    /// `netstack.vu.keep(client)`: the client at stack `index` outlives its iteration. False when
    /// the value is not a live client of this VM. A `ws` of the coroutine style
    /// (`netstack.connect`) stands for the client it wraps.
    package func keepClient(at index: Int32) -> Bool {
        let L = vm.L
        let i = lua_absindex(L, index)
        if lua_type(L, i) == LUA_TTABLE, lua_getmetatable(L, i) != 0 {
            lua_pushstring(L, "__name")
            lua_rawget(L, -2)
            let isWebSocket = vm.string(at: -1) == "netstack.websocket"
            netstack_pop(L, 2)
            guard isWebSocket else { return false }
            lua_pushstring(L, "client")
            lua_rawget(L, i)
            defer { netstack_pop(L, 1) }
            return keepClient(at: -1)
        }
        guard let c = LuaClientBinding.clientFromUserdata(vm, self, i), !c.destroyed else { return false }
        keep(c)
        return true
    }

    /// The status `netstack.exit` asked for, if it was called.
    package var requestedExit: Int32? { exitCode }
}
