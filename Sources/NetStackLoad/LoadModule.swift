import CLuaBridge
import Dispatch
import Foundation
import LuaHost

/// The load-run part of the `netstack` module, installed in every VU:
/// `netstack.vu` (id, iteration, scenario, total, segment, keep) and `netstack.metrics`
/// (counter, gauge, rate, trend, request, reply, check, group).
enum LoadModule {
    static let metricMetatable = "netstack.metric"
    /// Unanswered `request` marks a VU keeps at most.
    static let pendingRequestLimit = 10_000

    /// A function shared by every VU's VM, given the VU whose VM called it.
    private static func vuFunction(_ body: @escaping (LuaVM, VirtualUser) -> Int32) -> LuaFunction {
        LuaFunction.hosted { vm, host in
            guard let vu = host.owner as? VirtualUser else { return vm.raise("netstack: not a load run's VM") }
            return body(vm, vu)
        }
    }

    private static let fnElapsed = vuFunction { vm, vu in
        let start = vu.scenarioStartedAt
        lua_pushnumber(vm.L, start == 0 ? 0 : Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9)
        return 1
    }
    private static let fnKeep = LuaFunction.hosted { vm, host in
        guard host.keepClient(at: 1) else { return vm.argError(1, "keep", "live netstack client") }
        return 0
    }
    private static let fnDefine = MetricKind.allCases.map { kind in (kind, vuFunction { vm, vu in define(vm, vu, kind) }) }
    private static let fnRequest = vuFunction { vm, vu in
        guard let key = requestKey(vm) else { return vm.argError(1, "request", "string or number key") }
        if vu.pendingRequests[key] == nil && vu.pendingRequests.count >= pendingRequestLimit {
            lua_pushboolean(vm.L, 0)
            return 1
        }
        vu.pendingRequests[key] = DispatchTime.now().uptimeNanoseconds
        lua_pushboolean(vm.L, 1)
        return 1
    }
    private static let fnReply = vuFunction { vm, vu in
        guard let key = requestKey(vm) else { return vm.argError(1, "reply", "string or number key") }
        guard let start = vu.pendingRequests.removeValue(forKey: key) else {
            lua_pushnil(vm.L)
            return 1
        }
        let ms = Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e6
        vu.recorder.loop.add(vu.recorder.handles.rtt, ms)
        lua_pushnumber(vm.L, ms)
        return 1
    }
    /// The group functions of `groupChunk`: the VU's group path, read and set.
    private static let fnGetGroup = vuFunction { vm, vu in
        if let g = vu.group { vm.pushString(g) } else { lua_pushnil(vm.L) }
        return 1
    }
    private static let fnSetGroup = vuFunction { vm, vu in
        vu.group = vm.type(at: 1) == LUA_TSTRING ? vm.string(at: 1) : nil
        return 0
    }
    private static let fnGroupNameIsValid = LuaFunction.hosted { vm, _ in
        lua_pushboolean(vm.L, vm.type(at: 1) == LUA_TSTRING && (vm.string(at: 1).map(SeriesName.isValidTagText) ?? false) ? 1 : 0)
        return 1
    }
    private static let fnAdd = vuFunction { vm, vu in record(vm, vu, "add") }
    private static let fnSet = vuFunction { vm, vu in record(vm, vu, "set") }

    static func install(_ host: ScriptHost, _ vu: VirtualUser) {
        let vm = host.vm
        host.owner = vu
        let L = vm.L
        vm.pushGlobal("netstack")
        guard lua_type(L, -1) == LUA_TTABLE else { netstack_pop(L, 1); return }

        // netstack.vu
        lua_createtable(L, 0, 8)
        lua_pushinteger(L, Int64(vu.id)); lua_setfield(L, -2, "id")
        lua_pushinteger(L, 0); lua_setfield(L, -2, "iteration")
        lua_pushinteger(L, Int64(vu.context.totalVUs)); lua_setfield(L, -2, "total")
        vm.pushString(vu.scenario.name); lua_setfield(L, -2, "scenario")
        vm.pushString(vu.context.segment.description); lua_setfield(L, -2, "segment")
        vm.setFunction("elapsed", fnElapsed)
        vm.setFunction("keep", fnKeep)
        lua_pushvalue(L, -1)
        vu.vuTableRef = vm.ref()
        lua_setfield(L, -2, "vu")

        // netstack.metrics
        metricsTable.push(on: vm)
        lua_setfield(L, -2, "metrics")
        netstack_pop(L, 1)
        if !vu.scenario.env.isEmpty { installEnvironment(vm, vu.scenario.env) }
    }

    /// A scenario's `env`: `os.getenv` answers its names first, then the process's environment.
    private static let environmentChunk = CompiledChunk(name: "=scenario env", source: Array("""
        local env = ...
        local getenv = os.getenv
        os.getenv = function(name)
          local v = env[name]
          if v ~= nil then return v end
          return getenv(name)
        end
        """.utf8))

    private static func installEnvironment(_ vm: LuaVM, _ env: [String: String]) {
        let L = vm.L
        guard environmentChunk.load(into: L) == LUA_OK else { netstack_pop(L, 1); return }
        lua_createtable(L, 0, Int32(env.count))
        for (k, v) in env {
            vm.pushString(v)
            lua_setfield(L, -2, k)
        }
        if lua_pcallk(L, 1, 0, 0, 0, nil) != LUA_OK { netstack_pop(L, 1) }
    }

    /// netstack.metrics.
    private static let metricsTable = LuaModuleTable(
        fnDefine.map { ($0.0.rawValue, .function($0.1)) }
        + [("request", .function(fnRequest)), ("reply", .function(fnReply)), ("check", .make(pushCheck)), ("group", .make(pushGroup))])

    /// `netstack.metrics.group(name, fn, ...)`, k6's `group`: runs `fn(...)` with the VU in the
    /// group `name` (nested: `::outer::inner`), so that the samples of the script's metrics and
    /// checks recorded meanwhile are tagged `group = path`; then records the time it took in the
    /// trend `group_duration` (tagged the same) and returns what `fn` returned, or raises what it
    /// raised. Lua code, so that `fn` may wait (`netstack.sleep`, `ws:receive`) and its errors never
    /// unwind through Swift frames.
    private static let groupChunk = CompiledChunk(name: "=netstack.metrics.group", source: Array("""
        local getGroup, setGroup, isValidName, defineTrend, now = ...
        local type, error, pcall = type, error, pcall
        local duration
        local function finish(parent, path, started, ok, ...)
          setGroup(parent)
          duration = duration or defineTrend("group_duration", "ms")
          duration:add((now() - started) * 1000, { group = path })
          if not ok then error((...), 0) end
          return ...
        end
        return function(name, fn, ...)
          if type(name) ~= "string" or not isValidName(name) then
            error("bad argument #1 to 'group' (a name: non-empty, at most 256 bytes, without { } , : or control characters)", 2)
          end
          if type(fn) ~= "function" then
            error("bad argument #2 to 'group' (function expected, got " .. type(fn) .. ")", 2)
          end
          local parent = getGroup()
          local path = (parent or "") .. "::" .. name
          if #path > 256 then error("group: the group path '" .. path .. "' is over 256 bytes", 2) end
          setGroup(path)
          return finish(parent, path, now(), pcall(fn, ...))
        end
        """.utf8))

    private static func pushGroup(_ vm: LuaVM) {
        let L = vm.L
        guard groupChunk.load(into: L) == LUA_OK else { netstack_pop(L, 1); lua_pushnil(L); return }
        vm.pushFunction(fnGetGroup)
        vm.pushFunction(fnSetGroup)
        vm.pushFunction(fnGroupNameIsValid)
        vm.pushFunction(fnDefine.first { $0.0 == .trend }!.1)
        vm.pushGlobal("netstack")
        if lua_type(L, -1) == LUA_TTABLE { lua_getfield(L, -1, "now"); netstack_remove(L, -2) }
        if lua_pcallk(L, 5, 1, 0, 0, nil) != LUA_OK {
            netstack_pop(L, 1)
            lua_pushnil(L)
        }
    }

    /// `netstack.metrics.check(value, checks [, tags])`, k6's `check`: each entry of `checks`
    /// (name = function of `value`, or a value) is one sample of the rate metric `checks`, tagged
    /// `check = name` (and `tags`); true when every one passed. Lua code (a check calls the
    /// script's functions, whose errors must not unwind through Swift frames), compiled once per
    /// process; made in a VM when the script first reads it.
    private static let checkChunk = CompiledChunk(name: "=netstack.metrics.check", source: Array("""
        local defineRate = ...
        local type, pairs, error, tostring = type, pairs, error, tostring
        local checks
        return function(value, sets, tags)
          if type(sets) ~= "table" then
            error("bad argument #2 to 'check' (table of checks expected, got " .. type(sets) .. ")", 2)
          end
          if tags ~= nil and type(tags) ~= "table" then
            error("bad argument #3 to 'check' (table of tags expected, got " .. type(tags) .. ")", 2)
          end
          checks = checks or defineRate("checks")
          local all = true
          for name, test in pairs(sets) do
            if type(name) ~= "string" then
              error("bad argument #2 to 'check' (check names are strings, got " .. type(name) .. " " .. tostring(name) .. ")", 2)
            end
            local ok = test
            if type(test) == "function" then ok = test(value) end
            ok = ok and true or false
            local t = { check = name }
            if tags then for k, v in pairs(tags) do if k ~= "check" then t[k] = v end end end
            checks:add(ok, t)
            all = all and ok
          end
          return all
        end
        """.utf8))

    private static func pushCheck(_ vm: LuaVM) {
        let L = vm.L
        guard checkChunk.load(into: L) == LUA_OK else { netstack_pop(L, 1); lua_pushnil(L); return }
        vm.pushFunction(fnDefine.first { $0.0 == .rate }!.1)
        if lua_pcallk(L, 1, 1, 0, 0, nil) != LUA_OK {
            netstack_pop(L, 1)
            lua_pushnil(L)
        }
    }

    /// Pushes the metatable of metric objects ({name = ..., kind = ...} with add/set methods),
    /// made on first use.
    private static func pushMetricMetatable(_ vm: LuaVM) {
        let L = vm.L
        if luaL_newmetatable(L, metricMetatable) != 0 {
            lua_createtable(L, 0, 2)
            vm.setFunction("add", fnAdd)
            vm.setFunction("set", fnSet)
            lua_setfield(L, -2, "__index")
        }
    }

    private static func requestKey(_ vm: LuaVM) -> String? {
        switch vm.type(at: 1) {
        case LUA_TSTRING: return "s" + (vm.string(at: 1) ?? "")
        case LUA_TNUMBER: return "n" + String(vm.number(at: 1) ?? 0)
        default: return nil
        }
    }

    /// `netstack.metrics.counter(name [, unit])`: `unit` is "ms" (time) or "bytes" for display.
    private static func define(_ vm: LuaVM, _ vu: VirtualUser, _ kind: MetricKind) -> Int32 {
        guard let name = vm.string(at: 1), vm.type(at: 1) == LUA_TSTRING else { return vm.argError(1, kind.rawValue, "metric name") }
        var unit = MetricUnit.none
        if vm.type(at: 2) == LUA_TBOOLEAN {
            // k6's `new Trend(name, true)`: its second argument says whether values are times.
            unit = lua_toboolean(vm.L, 2) != 0 ? .milliseconds : .none
        } else if vm.type(at: 2) > LUA_TNIL {
            guard vm.type(at: 2) == LUA_TSTRING, let u = vm.string(at: 2).flatMap(MetricUnit.init(rawValue:)) else {
                return vm.argError(2, kind.rawValue, "unit \"ms\", \"bytes\", \"none\" or a boolean (true: \"ms\", as k6's isTime)")
            }
            unit = u
        }
        do {
            _ = try vu.context.catalog.define(name, kind: kind, unit: unit)
        } catch {
            return vm.raise("netstack.metrics.\(kind.rawValue): \(error)")
        }
        let L = vm.L
        lua_createtable(L, 0, 2)
        vm.pushString(name); lua_setfield(L, -2, "name")
        vm.pushString(kind.rawValue); lua_setfield(L, -2, "kind")
        pushMetricMetatable(vm)
        lua_setmetatable(L, -2)
        return 1
    }

    /// `metric:add(value [, tags])` (counter, rate, trend) and `metric:set(value [, tags])` (gauge).
    private static func record(_ vm: LuaVM, _ vu: VirtualUser, _ method: String) -> Int32 {
        let L = vm.L
        guard vm.type(at: 1) == LUA_TTABLE else { return vm.argError(1, method, "metric") }
        vm.rawField(1, "name")
        let name = vm.string(at: -1)
        netstack_pop(L, 1)
        vm.rawField(1, "kind")
        let kind = vm.string(at: -1).flatMap(MetricKind.init(rawValue:))
        netstack_pop(L, 1)
        guard let name = name, let kind = kind else { return vm.argError(1, method, "metric") }
        guard (method == "set") == (kind == .gauge) else {
            return vm.raise("\(name) is a \(kind.rawValue): use \(kind == .gauge ? "set" : "add")")
        }
        let value: Double
        switch (kind, vm.type(at: 2)) {
        case (.rate, LUA_TBOOLEAN): value = vm.boolean(at: 2) ? 1 : 0
        case (.rate, LUA_TNIL), (.rate, LUA_TNONE): return vm.argError(2, method, "boolean or number")
        case (.counter, LUA_TNONE), (.counter, LUA_TNIL): value = 1
        default:
            guard vm.type(at: 2) == LUA_TNUMBER, let v = vm.number(at: 2) else { return vm.argError(2, method, "number") }
            value = v
        }
        switch kind {
        case .counter:
            guard value.isFinite, value >= 0 else { return vm.raise("\(name): a counter adds a finite number ≥ 0, got \(value)") }
        case .trend:
            guard value.isFinite, value >= 0, value <= MetricValue.trendLimit else {
                return vm.raise("\(name): a trend sample is a number from 0 to 1e12, got \(value)")
            }
        case .gauge, .rate:
            guard value.isFinite else { return vm.raise("\(name): a finite number is needed, got \(value)") }
        }
        var tags = vu.recorder.tags
        if let g = vu.group {
            tags.removeAll { $0.0 == "group" }
            tags.append(("group", g))
        }
        if vm.type(at: 3) == LUA_TTABLE {
            lua_pushnil(L)
            while lua_next(L, 3) != 0 {
                guard lua_type(L, -2) == LUA_TSTRING, let k = vm.string(at: -2), SeriesName.isValidTagText(k) else {
                    netstack_pop(L, 2)
                    return vm.raise("\(name): tag names are non-empty strings without { } , : or control characters")
                }
                var v: String?
                switch lua_type(L, -1) {
                case LUA_TSTRING: v = vm.string(at: -1)
                case LUA_TNUMBER:
                    let n = vm.number(at: -1) ?? 0
                    v = n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
                case LUA_TBOOLEAN: v = vm.boolean(at: -1) ? "true" : "false"
                default: v = nil
                }
                netstack_pop(L, 1)
                guard let tv = v, k == "group" ? SeriesName.isValidTagValue(tv) : SeriesName.isValidTagText(tv) else {
                    netstack_pop(L, 1)
                    return vm.raise("\(name): tag '\(k)' needs a string, number or boolean value without { } , : or control characters")
                }
                tags.removeAll { $0.0 == k }
                tags.append((k, tv))
            }
        } else if vm.type(at: 3) > LUA_TNIL {
            return vm.argError(3, method, "table of tags")
        }
        let loop = vu.recorder.loop
        let h = loop.handle(SeriesName.make(name, tags: tags), kind: kind)
        if kind == .gauge {
            loop.set(h, value, at: Int64(Date().timeIntervalSince1970 * 1e9))
        } else {
            loop.add(h, value)
        }
        return 0
    }
}
