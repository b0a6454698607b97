import CLuaBridge
import NetStack

/// The Lua host's consumer of runs of whole messages (`WebSocketClient.onMessageRun`): the
/// script's `onMessage` is called for each message of the run inside one protected call
/// (`netstack_push_message_run_caller`), with the callback, the client and the two kinds pushed
/// once, instead of a protected call and three registry lookups per message.
///
/// It stops, leaving the rest of the run to the connection's per-message delivery (and so to the
/// binding's `onMessage`, which does everything per message), whenever something between two
/// messages would need the host: a callback raised, the script destroyed the client, asked to
/// exit or was stopped, or the client is not the current iteration's. Runs with a plugin
/// hooking messages, or with `--json` events, are left whole to `onMessage`.
enum LuaMessageRun {
    static func consume(_ run: inout MessageRun, _ c: LuaClient, _ host: ScriptHost) {
        guard host.options.events == nil, !(host.plugins?.isHooked(1) ?? false) else { return }
        let vm = host.vm
        guard c.callbacks[1] != LUA_NOREF, deliverable(c, host) else { return }
        let L = vm.L
        withUnsafeMutablePointer(to: &run) { runPointer in
            var state = State(run: runPointer, client: Unmanaged.passUnretained(c), host: Unmanaged.passUnretained(host))
            withUnsafeMutablePointer(to: &state) { statePointer in
                var call = netstack_message_run(next: next, context: UnsafeMutableRawPointer(statePointer),
                                                reset_budget: vm.options.instructionBudget > 0 ? 1 : 0)
                withUnsafeMutablePointer(to: &call) { callPointer in
                    netstack_push_message_run_caller(L)
                    vm.pushRef(c.callbacks[1])
                    LuaClientBinding.pushUserdata(c, host: host)
                    netstack_getregistry_ref(L, host.textRef)
                    netstack_getregistry_ref(L, host.binaryRef)
                    lua_pushlightuserdata(L, UnsafeMutableRawPointer(callPointer))
                    if !vm.call(nargs: 5, context: "onMessage") { host.callbackFailed(c) }
                }
            }
        }
        host.checkIdle()
    }

    /// What `next` reads: the run, and the client and host, to stop where the host is needed
    /// (unretained: both outlive the call, and a retain and release of each per message were
    /// slow ones, the objects having weak references).
    private struct State {
        let run: UnsafeMutablePointer<MessageRun>
        let client: Unmanaged<LuaClient>
        let host: Unmanaged<ScriptHost>
    }

    /// Whether the next message may be delivered inside the protected call: nothing the host
    /// does after a callback (`checkIdle`, `callbackFailed`) would act now. The client is live
    /// (it is receiving), so a plain run is not idle; a VU's iteration is not idle while a live
    /// client of its own remains.
    @inline(__always)
    private static func deliverable(_ c: LuaClient, _ host: ScriptHost) -> Bool {
        guard !c.destroyed, !host.vm.isClosed, host.exitCode == nil, !host.finished, !host.vm.interruptUnwound else { return false }
        return !host.vuMode || (host.iterationDone != nil && c.iteration == host.currentIteration && c.iteration != 0)
    }

    private static let next: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UnsafeRawPointer?>?,
                                             UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int32>?) -> Int32 = { context, data, length, binary in
        let state = context.unsafelyUnwrapped.assumingMemoryBound(to: State.self)
        return state.pointee.client._withUnsafeGuaranteedRef { c in
            state.pointee.host._withUnsafeGuaranteedRef { host in
                guard deliverable(c, host), let m = state.pointee.run.pointee.next() else { return 0 }
                host.observer?.received(set: c.metricSet, bytes: m.bytes.count)
                data.unsafelyUnwrapped.pointee = m.bytes.baseAddress
                length.unsafelyUnwrapped.pointee = m.bytes.count
                binary.unsafelyUnwrapped.pointee = m.kind == .binary ? 1 : 0
                return 1
            }
        }
    }
}
