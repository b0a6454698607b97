import LuaHost

/// A Lua script made from fuzz bytes: a sequence of Lua API calls (the documented functions,
/// client methods, timers, coroutines, json, certificates, exit and errors, and what ends a load
/// run VM's lazy libraries and module tables or loads the plugin runtime: _G's and the module's
/// metatables, pairs, require) with arguments picked from values that scripts get wrong (nil,
/// NaN, huge numbers, long strings, bad URLs and headers, tables whose metamethods raise, clients
/// of other slots). Calls nest: a callback, a timer or a coroutine body is a block of further
/// calls. Most calls run under pcall; some raise uncaught, so
/// that every error policy is reached. The first byte picks the error policy and whether the VM
/// opens libraries lazily, as a load run's VMs do. The script ends itself after 2 ms (`ns.exit`), unless it
/// cleared that timer; the harness's watchdog covers that.
struct LuaFuzzProgram {
    private(set) var source = ""
    let errorPolicy: ScriptHost.ErrorPolicy
    /// As a load run's VMs: coroutine, io, os, math, utf8 and debug opened on first use.
    let lazyLibraries: Bool
    private var bytes: [UInt8]
    private var position = 0

    static let maxStatements = 48
    static let maxDepth = 3

    init(_ input: UnsafeRawBufferPointer, url: String) {
        bytes = Array(input)
        errorPolicy = ScriptHost.ErrorPolicy.allCases[Int(bytes.first ?? 0) % ScriptHost.ErrorPolicy.allCases.count]
        lazyLibraries = (Int(bytes.first ?? 0) / ScriptHost.ErrorPolicy.allCases.count) % 2 == 1
        position = 1
        source = Self.preamble(url: url)
        var count = 0
        while position < bytes.count, count < Self.maxStatements {
            source += statement(depth: 0)
            count += 1
        }
    }

    static func preamble(url: String) -> String {
        """
        local ns = require "netstack"
        local U = "\(url)"
        local C, K, T = {}, {}, {}
        local BIG = string.rep(string.rep("x", 1000), 70)
        local W = {}
        local EVIL = setmetatable({}, { __index = function() error("index") end,
            __tostring = function() error("tostring") end, __len = function() error("len") end,
            __eq = function() error("eq") end })
        print = function() end
        ns.setTimeout(function() ns.exit(0) end, 2)

        """
    }

    private mutating func next() -> Int {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return Int(bytes[position])
    }

    private mutating func pick(_ choices: [String]) -> String { choices[next() % choices.count] }

    private static let values = [
        "nil", "true", "false", "0", "-1", "1", "1000", "1e300", "-1e300", "0/0", "math.huge",
        "math.maxinteger", "math.mininteger", "2^53", "0.5", "\"\"", "\"abc\"", "\"\\0\"", "\"\\255\\254\"",
        "\"\\xC3\\x28\"", "BIG", "U .. \"/echo\"", "\"ws://\"", "\"http://x/\"", "{}", "{ code = 1000, reason = \"bye\" }",
        "{ code = 4999, reason = BIG }", "{ code = 1e300 }", "{ fieldName = \"X-A\", fieldValue = \"b\" }",
        "{ fieldName = \"Bad\\r\\nH\", fieldValue = \"v\" }", "{ binary = true }",
        "{ connectTimeout = 1, pingInterval = 1, pongTimeout = 1 }",
        "{ headers = { { fieldName = \"X-B\", fieldValue = \"1\" } }, protocols = { \"chat\" }, compression = false }",
        "{ maxReceiveSize = 10, maxSendQueue = 1, busyPoll = 0 }", "{ bogus = 1 }",
        "function() end", "EVIL", "C[1]", "C[2]", "coroutine.running()", "T[1]", "K[1]",
        "{ type = ns.NetStack_CERT_TYPE_PEM, data = \"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\" }",
        "{ type = 99, data = \"x\" }", "string.rep(\"\\0\", 300)",
    ]

    private static let urls = [
        "U .. \"/echo\"", "U .. \"/echo\"", "U .. \"/flood?n=3&size=100\"", "U .. \"/close?code=4000&reason=x\"",
        "U .. \"/misbehave/drop\"", "U .. \"/misbehave/garbage\"", "U .. \"/misbehave/ping\"",
        "U .. \"/misbehave/no-close-reply\"", "U .. \"/misbehave/oversized\"", "U .. \"/misbehave/bad-accept\"",
        "U .. \"/status?code=404\"", "\"ws://127.0.0.1:1/\"", "\"ws://\"", "\"wss://127.0.0.1:1/\"",
    ]

    private mutating func value() -> String { pick(Self.values) }
    private mutating func url() -> String { pick(Self.urls) }
    private mutating func client() -> String { "C[\(next() % 3 + 1)]" }
    private mutating func milliseconds() -> String { pick(["0", "0", "1", "1", "2", "0.5"]) + (next() % 16 == 0 ? " + " + value() : "") }

    /// A block of 0-3 statements, or nothing at the depth limit.
    private mutating func block(depth: Int) -> String {
        guard depth < Self.maxDepth else { return "" }
        var text = ""
        for _ in 0..<(next() % 4) { text += statement(depth: depth + 1) }
        return text
    }

    private mutating func callback(depth: Int) -> String {
        switch next() % 4 {
        case 0: return "nil"
        case 1: return value()
        default: return "function(cl, a, b, kind) \(block(depth: depth)) end"
        }
    }

    private mutating func statement(depth: Int) -> String {
        let call: String
        switch next() % 35 {
        case 0: call = "\(client()) = ns.OH_WebSocketClient_Constructor(\(callback(depth: depth)), \(callback(depth: depth)), \(callback(depth: depth)), \(callback(depth: depth)))"
        case 1: call = "ns.OH_WebSocketClient_AddHeader(\(client()), \(value()))"
        case 2: call = "ns.OH_WebSocketClient_Connect(\(client()), \(url()), \(value()))"
        case 3: call = "ns.OH_WebSocketClient_Send(\(client()), \(value()), \(value()))"
        case 4: call = "ns.OH_WebSocketClient_Close(\(client()), \(value()))"
        case 5: call = "ns.OH_WebSocketClient_Destroy(\(client()))"
        case 6: call = "\(client()):connect(\(url()), \(value()))"
        case 7: call = "\(client()):send(\(value()), \(value()))"
        case 8: call = "\(client()):close(\(value()), \(value()))"
        case 9: call = "\(client()):destroy()"
        case 10: let c = client(); call = "\(c):state(); \(c):bufferedAmount(); \(c):id(); tostring(\(c))"
        case 11: call = "\(client()):addHeader(\(value()), \(value()))"
        case 12: call = "T[#T + 1] = ns.setTimeout(function() \(block(depth: depth)) end, \(milliseconds()))"
        case 13: call = "T[#T + 1] = ns.setInterval(function() \(block(depth: depth)) end, \(milliseconds()))"
        case 14: call = "ns.\(["clearTimer", "clearTimeout", "clearInterval"][next() % 3])(T[\(next() % 4 + 1)] or \(value()))"
        case 15: call = "K[\(next() % 3 + 1)] = coroutine.wrap(function(...) \(block(depth: depth)) coroutine.yield() \(block(depth: depth)) end)"
        case 16: call = "K[\(next() % 3 + 1)]()"
        case 17: call = "coroutine.yield(\(value()))"
        case 18: call = "ns.json.encode(ns.json.decode(\(value())) or \(value()))"
        case 19: call = "ns.now(); ns.stopping()"
        case 20: call = "ns.log(\(value()), \(value()))"
        case 21: call = pick(["ns.exit", "os.exit"]) + "(\(value()))"
        case 22: call = "error(\(value()))"
        case 23: call = pick(["collectgarbage()", "collectgarbage(\"step\")", "collectgarbage(\"incremental\")"])
        case 24: call = "\(client()) = nil"
        case 25: call = pick(["ns.inspect", "ns.certMessage", "ns.OH_NetStack_VerifyCertification", "ns.verify"]) + "(\(value()), \(value()))"
        case 26: call = "do local x <close> = \(client()) end"
        case 27: call = "ns.fetchChain(\"127.0.0.1\", 1, { timeout = 5 }, function(r, e) \(block(depth: depth)) end)"
        case 28: call = "local m = getmetatable(\(client())); if type(m) == \"table\" then rawset(m, \(pick(["\"__gc\"", "\"__index\"", "\"__close\""])), nil) end"
        case 29: call = pick(["for k in pairs(_G) do end", "getmetatable(_G)", "setmetatable(_G, nil)", "rawget(_G, \"math\")",
                              "require(\"utf8\")", "require(\"debug\")", "package.loaded.math = nil", "math = nil",
                              "setmetatable(_G, { __index = function(_, k) error(k) end })", "ns.plugins.loaded()",
                              "require(\"nosuchmodule\")",
                              // the module's lazy tables (VU VMs): what makes them whole, and removals
                              "for k in pairs(ns) do end", "getmetatable(ns)", "setmetatable(ns, nil)", "rawget(ns, \"now\")",
                              "next(ns)", "ns.now = nil", "ns.json = nil", "ns.OH_WebSocketClient_Send = nil",
                              "for k in pairs(ns.json) do end", "setmetatable(ns.json, {})",
                              "require(\"debug\").getmetatable(ns)"])
        // The coroutine style: spawned functions that wait, and waits where they are not allowed.
        case 31: call = "ns.spawn(function() W[\(next() % 3 + 1)] = ns.connect(\(url()), \(value())) \(block(depth: depth)) end)"
        case 32: call = "ns.spawn(function() local w = W[\(next() % 3 + 1)]; if w then w:\(pick(["receive", "ping", "send", "close"]))(\(value()), \(value())) end \(block(depth: depth)) end)"
        case 33: call = "ns.spawn(function() ns.sleep(\(milliseconds())) \(block(depth: depth)) end)"
        case 34: call = pick(["ns.select({ W[1], W[2] }, \(value()))", "ns.sleep(\(value()))", "ns.connect(\(url()))",
                              "ns.spawn(\(value()))", "\(client()):ping(\(value()), \(value()))"])
        default: call = "local co = coroutine.create(function() \(block(depth: depth)) end); coroutine.resume(co); coroutine.close(co)"
        }
        // One nested call in eight raises uncaught (one in 32 of the main chunk's: an error there
        // ends the run).
        return next() % (depth == 0 ? 32 : 8) == 0 ? "do \(call) end\n" : "pcall(function() \(call) end)\n"
    }
}
