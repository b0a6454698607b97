import CLuaBridge
import Foundation
import LuaHost
import NIOCore

/// The script's `options` table, read by running its init once in a VU of its own (id 0), as
/// k6 reads its options: the init therefore runs once more than there are VUs.
public enum ScriptOptions {
    /// Nesting and size limits for the table (a script cannot make the reader loop or grow).
    static let maxDepth = 16
    static let maxEntries = 100_000
    public static let initFailurePrefix = "the script's init failed"
    /// The error's message when `stopRequested` stopped the init.
    public static let initInterrupted = "interrupted while the script's init read the options"

    /// Whether `source` looks like a load script: a line that starts with `options =`,
    /// `_G.options =` or `_ENV.options =` (a global options table). Plain scripts run as before.
    public static func declaresOptions(_ source: String) -> Bool {
        source.split(separator: "\n", omittingEmptySubsequences: true).contains { line in
            var t = line.drop { $0 == " " || $0 == "\t" }
            for table in ["_G", "_ENV"] where t.hasPrefix(table) {
                let dot = t.dropFirst(table.count).drop { $0 == " " || $0 == "\t" }
                if dot.hasPrefix(".") { t = dot.dropFirst().drop { $0 == " " || $0 == "\t" } }
            }
            guard t.hasPrefix("options") else { return false }
            let rest = t.dropFirst("options".count).drop { $0 == " " || $0 == "\t" }
            return rest.hasPrefix("=") && !rest.hasPrefix("==")
        }
    }

    /// What the init left: the options (nil: none) and the names of the global functions (so a
    /// scenario's `exec` can be checked before any VU starts).
    public struct Probe {
        public let options: OptionValue?
        public let globalFunctions: Set<String>
    }

    /// Runs the init on `eventLoop` (blocking the caller) and returns what it left.
    /// `stopRequested` is asked every 100 ms while the init runs; once it says yes, the init is
    /// stopped (also Lua code that never returns) and this throws `initInterrupted`.
    public static func read(script: ScriptChunk, args: [String], hostOptions: ScriptHost.Options, on eventLoop: EventLoop,
                            errorSink: @escaping (String) -> Void, stopRequested: (() -> Bool)? = nil) throws -> Probe {
        let errors = ErrorReport(sink: errorSink)
        let context = RunContext(script: script, args: args, segment: .whole, totalVUs: 0, catalog: MetricCatalog(),
                                 hostOptions: hostOptions, errors: errors)
        let vu = VirtualUser(id: 0, scenario: Scenario(name: "options", executor: .perVUIterations(vus: 0, iterations: 0, maxDuration: .zero)),
                             context: context, eventLoop: eventLoop, metrics: LoopMetrics())
        let probe = eventLoop.submit { () -> Probe in
            defer { vu.stop() }
            if let failure = vu.startInit() {
                if failure == VirtualUser.initInterrupted { throw LoadOptionError(initInterrupted) }
                throw LoadOptionError("\(initFailurePrefix) (\(failure))")
            }
            guard let host = vu.host else { return Probe(options: nil, globalFunctions: []) }
            let functions = globalFunctions(host.vm)
            host.vm.pushGlobal("options")
            defer { netstack_pop(host.vm.L, 1) }
            if lua_type(host.vm.L, -1) == LUA_TNIL { return Probe(options: nil, globalFunctions: functions) }
            var budget = maxEntries
            return Probe(options: try convert(host.vm, depth: 0, path: "options", budget: &budget), globalFunctions: functions)
        }
        if let stop = stopRequested {
            let returned = DispatchSemaphore(value: 0)
            probe.whenComplete { _ in returned.signal() }
            var asked = false
            while returned.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
                if !asked && stop() {
                    asked = true
                    vu.requestInterrupt()
                }
                if asked { vu.nudgeIfStuck() }
            }
        }
        return try probe.wait()
    }

    /// The names of `_G`'s function values, read raw (no metamethods run), at most `maxEntries`.
    static func globalFunctions(_ vm: LuaVM) -> Set<String> {
        let L = vm.L
        var names: Set<String> = []
        var budget = maxEntries
        netstack_push_globals(L)
        lua_pushnil(L)
        while budget > 0, lua_next(L, -2) != 0 {
            budget -= 1
            if lua_type(L, -1) == LUA_TFUNCTION, lua_type(L, -2) == LUA_TSTRING, let k = vm.string(at: -2) { names.insert(k) }
            netstack_pop(L, 1)
        }
        // Stopped early: the key is still on the stack.
        netstack_pop(L, budget > 0 ? 1 : 2)
        return names
    }

    /// The value on top of the stack.
    static func convert(_ vm: LuaVM, depth: Int, path: String, budget: inout Int) throws -> OptionValue {
        let L = vm.L
        switch lua_type(L, -1) {
        case LUA_TSTRING: return .string(vm.string(at: -1) ?? "")
        case LUA_TNUMBER: return .number(vm.number(at: -1) ?? 0)
        case LUA_TBOOLEAN: return .bool(vm.boolean(at: -1))
        case LUA_TTABLE:
            guard depth < maxDepth else { throw LoadOptionError("\(path): nested deeper than \(maxDepth)") }
            var byName: [String: OptionValue] = [:]
            var byIndex: [Int: OptionValue] = [:]
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                budget -= 1
                guard budget > 0 else { netstack_pop(L, 2); throw LoadOptionError("options: more than \(maxEntries) entries") }
                let keyType = lua_type(L, -2)
                if keyType == LUA_TSTRING, let k = vm.string(at: -2) {
                    do { byName[k] = try convert(vm, depth: depth + 1, path: "\(path).\(k)", budget: &budget) } catch { netstack_pop(L, 2); throw error }
                } else if keyType == LUA_TNUMBER, let i = vm.integer(at: -2), i >= 1, i <= maxEntries {
                    do { byIndex[Int(i)] = try convert(vm, depth: depth + 1, path: "\(path)[\(i)]", budget: &budget) } catch { netstack_pop(L, 2); throw error }
                } else {
                    netstack_pop(L, 2)
                    throw LoadOptionError("\(path): keys must be names or list indexes")
                }
                netstack_pop(L, 1)
            }
            if byName.isEmpty {
                guard byIndex.isEmpty || byIndex.keys.max() == byIndex.count else {
                    throw LoadOptionError("\(path): a list with holes")
                }
                return .list(byIndex.keys.sorted().map { byIndex[$0]! })
            }
            guard byIndex.isEmpty else { throw LoadOptionError("\(path): mixes names and list entries") }
            return .table(byName)
        default:
            throw LoadOptionError("\(path): a \(vm.typeName(at: -1)) is not an option value")
        }
    }
}
