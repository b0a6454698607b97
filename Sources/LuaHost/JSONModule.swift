import CLuaBridge
import Foundation
import NetStack

/// `netstack.json`: encode and decode in Swift, straight between Lua values and bytes.
///
/// - `decode(text)`: objects → tables, arrays → sequences (`[]` an empty table marked by a
///   metatable, so that it encodes back as `[]`), `null` → `json.null` (a unique light userdata), integers that fit 64 bits → Lua integers, other numbers → floats (beyond the
///   double range → an error). Invalid JSON
///   (or nesting deeper than 512) → `nil, "message at byte N"`.
/// - `encode(value)`: a table with keys 1..n (n ≥ 1) and nothing else is an array; any other table
///   is an object (keys must be strings or numbers; numbers become strings); an empty table is
///   `{}`, `json.emptyArray` is `[]`. Whole floats below 10^15 are written as integers, `-0.0` as
///   `-0.0`, other floats in their shortest round-trip form. Strings must be valid UTF-8.
///   Functions, userdata, NaN and infinities, cycles and nesting deeper than 512 → `nil, message`.
package enum JSONModule {
    static let maxDepth = 512
    /// Light userdata sentinels: these addresses identify them. Constants, so that VMs made on
    /// several threads at once (a load run's VUs) read them without an access to a global var.
    static let nullSentinel = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    static let emptyArraySentinel = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    /// The registry name of the metatable `decode` gives the tables it makes from `[]`.
    static let emptyArrayMetatable = "netstack.json.emptyArray"

    private static let fnEncode = LuaFunction.shared { vm in
        // An explicit nil is null; no argument at all is a mistake (JSON.stringify() gives undefined).
        guard vm.top >= 1 else { return vm.argError(1, "json.encode", "value") }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        var encoder = Encoder(vm: vm)
        if let error = encoder.encode(index: 1, depth: 0, into: &out) {
            lua_pushnil(vm.L)
            vm.pushString("json.encode: " + error)
            return 2
        }
        out.withUnsafeBytes { vm.pushBytes($0) }
        return 1
    }

    private static let fnDecode = LuaFunction.shared { vm in
        guard let bytes = vm.bytes(at: 1) else { return vm.argError(1, "json.decode", "string") }
        var d = Decoder(vm: vm, bytes: bytes)
        let base = vm.top
        if let error = d.decodeDocument() {
            lua_settop(vm.L, base)
            lua_pushnil(vm.L)
            vm.pushString("json.decode: " + error)
            return 2
        }
        return 1
    }

    /// netstack.json.
    static let table = LuaModuleTable([
        ("null", .make { lua_pushlightuserdata($0.L, nullSentinel) }),
        ("emptyArray", .make { lua_pushlightuserdata($0.L, emptyArraySentinel) }),
        ("encode", .function(fnEncode)),
        ("decode", .function(fnDecode)),
    ])

    /// The value at stack `index` as JSON text, or why it cannot be (the message `encode` gives).
    /// Raises nothing: the caller runs inside a Swift function called from Lua, or outside Lua.
    package static func encode(_ vm: LuaVM, at index: Int32) -> Result<[UInt8], JSONTextError> {
        var out: [UInt8] = []
        var e = Encoder(vm: vm)
        if let error = e.encode(index: lua_absindex(vm.L, index), depth: 0, into: &out) { return .failure(JSONTextError(message: error)) }
        return .success(out)
    }

    /// Pushes the value the JSON text `bytes` stands for (as `decode` makes it); nil, or why
    /// the text is not JSON (then nothing is pushed).
    package static func pushDecoded(_ vm: LuaVM, _ bytes: [UInt8]) -> String? {
        let base = vm.top
        return bytes.withUnsafeBytes { raw in
            var d = Decoder(vm: vm, bytes: raw)
            if let error = d.decodeDocument() {
                lua_settop(vm.L, base)
                return error
            }
            return nil
        }
    }

    /// netstack.json.decode of `bytes`, then encode of the value it made, on `vm`'s stack (left
    /// as found). nil when the text is not JSON; else the encoded text, or nil with
    /// `encodeError` set when the decoded value cannot be encoded (which would be a bug: what
    /// decode makes, encode takes).
    package static func decodeThenEncode(_ vm: LuaVM, _ bytes: UnsafeRawBufferPointer) -> (decoded: Bool, encoded: [UInt8]?, encodeError: String?) {
        let base = vm.top
        defer { lua_settop(vm.L, base) }
        var d = Decoder(vm: vm, bytes: bytes)
        if d.decodeDocument() != nil { return (false, nil, nil) }
        var out: [UInt8] = []
        var e = Encoder(vm: vm)
        if let error = e.encode(index: -1, depth: 0, into: &out) { return (true, nil, error) }
        return (true, out, nil)
    }

    struct Encoder {
        let vm: LuaVM
        var visiting = Set<UnsafeRawPointer>()

        mutating func encode(index: Int32, depth: Int, into out: inout [UInt8]) -> String? {
            let L = vm.L
            let i = lua_absindex(L, index)
            switch lua_type(L, i) {
            case LUA_TNIL, LUA_TNONE:
                out += Array("null".utf8)
            case LUA_TBOOLEAN:
                out += Array((lua_toboolean(L, i) != 0 ? "true" : "false").utf8)
            case LUA_TNUMBER:
                if lua_isinteger(L, i) != 0 {
                    out += Array(String(lua_tointegerx(L, i, nil)).utf8)
                } else {
                    let d = lua_tonumberx(L, i, nil)
                    guard d.isFinite else { return "cannot encode \(d.isNaN ? "NaN" : d > 0 ? "infinity" : "-infinity") (JSON has no such number)" }
                    if d == 0, d.sign == .minus {
                        out += Array("-0.0".utf8)   // the sign kept, and decode gives the float back
                    } else if d == d.rounded(), abs(d) < 1e15 {
                        out += Array(String(Int64(d)).utf8)
                    } else {
                        out += Array("\(d)".utf8)
                    }
                }
            case LUA_TSTRING:
                guard let b = vm.bytes(at: i) else { return "unreadable string" }
                guard UTF8Validator.isValid(b) else { return "string is not valid UTF-8" }
                Self.appendString(b, into: &out)
            case LUA_TLIGHTUSERDATA:
                let p = lua_touserdata(L, i)
                if p == JSONModule.nullSentinel {
                    out += Array("null".utf8)
                } else if p == JSONModule.emptyArraySentinel {
                    out += Array("[]".utf8)
                } else {
                    return "cannot encode a light userdata"
                }
            case LUA_TTABLE:
                guard depth < JSONModule.maxDepth else { return "nesting deeper than \(JSONModule.maxDepth) (a cycle?)" }
                guard lua_checkstack(L, 4) != 0 else { return "stack overflow" }
                let identity = UnsafeRawPointer(lua_topointer(L, i)!)
                guard visiting.insert(identity).inserted else { return "cycle in table" }
                defer { visiting.remove(identity) }
                let n = Int(lua_rawlen(L, i))
                // Array when keys are exactly 1..n.
                var isArray = n > 0
                if isArray {
                    // n keys, each an integer from 1 to n: then they are 1..n. (A count alone took
                    // { 1, nil, 3, [10] = "x" }, whose border is 3, for [1,null,3] and lost "x".)
                    var count = 0
                    lua_pushnil(L)
                    while lua_next(L, i) != 0 {
                        netstack_pop(L, 1)
                        let k = lua_isinteger(L, -1) != 0 ? lua_tointegerx(L, -1, nil) : 0
                        count += 1
                        if k < 1 || k > n || count > n {
                            netstack_pop(L, 1)  // the key: the walk stops here
                            isArray = false
                            break
                        }
                    }
                    if isArray { isArray = count == n }
                }
                if isArray {
                    out.append(UInt8(ascii: "["))
                    for k in 1...n {
                        if k > 1 { out.append(UInt8(ascii: ",")) }
                        lua_rawgeti(L, i, Int64(k))
                        let e = encode(index: -1, depth: depth + 1, into: &out)
                        netstack_pop(L, 1)
                        if let e = e { return e }
                    }
                    out.append(UInt8(ascii: "]"))
                } else if n == 0, Self.isDecodedEmptyArray(L, i) {
                    out += Array("[]".utf8)
                } else {
                    out.append(UInt8(ascii: "{"))
                    var first = true
                    lua_pushnil(L)
                    while lua_next(L, i) != 0 {
                        let keyType = lua_type(L, -2)
                        var key: String
                        if keyType == LUA_TSTRING {
                            guard let kb = vm.bytes(at: -2), UTF8Validator.isValid(kb) else { netstack_pop(L, 2); return "key is not valid UTF-8" }
                            key = String(decoding: kb, as: UTF8.self)
                        } else if keyType == LUA_TNUMBER {
                            key = lua_isinteger(L, -2) != 0 ? String(lua_tointegerx(L, -2, nil)) : "\(lua_tonumberx(L, -2, nil))"
                            // { [1] = "a", ["1"] = "b" } would write the name "1" twice, and a
                            // reader keeps one of them (RFC 8259 §4): refused instead.
                            _ = key.withCString { lua_pushstring(L, $0) }
                            let clash = lua_rawget(L, i) != LUA_TNIL
                            netstack_pop(L, 1)
                            if clash {
                                netstack_pop(L, 2)
                                return "the key \"\(key)\" is both a number and a string in one table"
                            }
                        } else {
                            let type = vm.typeName(at: -2)
                            netstack_pop(L, 2)
                            return "cannot encode a \(type) key"
                        }
                        if !first { out.append(UInt8(ascii: ",")) }
                        first = false
                        var k = key
                        k.withUTF8 { Self.appendString(UnsafeRawBufferPointer($0), into: &out) }
                        out.append(UInt8(ascii: ":"))
                        if let e = encode(index: -1, depth: depth + 1, into: &out) { netstack_pop(L, 2); return e }
                        netstack_pop(L, 1)
                    }
                    out.append(UInt8(ascii: "}"))
                }
            default:
                return "cannot encode a \(vm.typeName(at: i))"
            }
            return nil
        }

        static let hex = Array("0123456789abcdef".utf8)

        /// A table `decode` made from `[]` and still empty: it has the empty-array metatable and
        /// no key.
        static func isDecodedEmptyArray(_ L: OpaquePointer, _ i: Int32) -> Bool {
            guard lua_getmetatable(L, i) != 0 else { return false }
            _ = lua_getfield(L, netstack_registryindex(), JSONModule.emptyArrayMetatable)
            let marked = lua_rawequal(L, -1, -2) != 0
            netstack_pop(L, 2)
            guard marked else { return false }
            lua_pushnil(L)
            guard lua_next(L, i) == 0 else { netstack_pop(L, 2); return false }
            return true
        }

        static func appendString(_ b: UnsafeRawBufferPointer, into out: inout [UInt8]) {
            out.append(UInt8(ascii: "\""))
            for c in b {
                switch c {
                case UInt8(ascii: "\""): out += [92, 34]
                case UInt8(ascii: "\\"): out += [92, 92]
                case 10: out += [92, UInt8(ascii: "n")]
                case 13: out += [92, UInt8(ascii: "r")]
                case 9: out += [92, UInt8(ascii: "t")]
                case 0..<0x20, 0x7F: out += [92, UInt8(ascii: "u"), 48, 48, hex[Int(c >> 4)], hex[Int(c & 15)]]
                default: out.append(c)
                }
            }
            out.append(UInt8(ascii: "\""))
        }
    }

    struct Decoder {
        let vm: LuaVM
        let bytes: UnsafeRawBufferPointer
        var pos = 0

        init(vm: LuaVM, bytes: UnsafeRawBufferPointer) {
            self.vm = vm
            self.bytes = bytes
        }

        mutating func decodeDocument() -> String? {
            skipSpace()
            if let e = value(depth: 0) { return e }
            skipSpace()
            if pos != bytes.count { return "unexpected data at byte \(pos + 1)" }
            return nil
        }

        mutating func skipSpace() {
            while pos < bytes.count, [32, 9, 10, 13].contains(bytes[pos]) { pos += 1 }
        }

        func fail(_ what: String) -> String { pos < bytes.count ? "\(what) at byte \(pos + 1)" : "\(what) at the end of the text" }

        mutating func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard pos + w.count <= bytes.count else { return false }
            for (k, c) in w.enumerated() where bytes[pos + k] != c { return false }
            pos += w.count
            return true
        }

        /// Pushes one value.
        mutating func value(depth: Int) -> String? {
            let L = vm.L
            guard depth <= JSONModule.maxDepth else { return fail("nesting deeper than \(JSONModule.maxDepth)") }
            guard lua_checkstack(L, 3) != 0 else { return fail("too deep") }
            guard pos < bytes.count else { return fail("expected a value") }
            switch bytes[pos] {
            case UInt8(ascii: "{"):
                pos += 1
                lua_createtable(L, 0, 4)
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return nil }
                while true {
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { return fail("expected a string key") }
                    if let e = string() { return e }
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { return fail("expected ':'") }
                    pos += 1
                    skipSpace()
                    if let e = value(depth: depth + 1) { return e }
                    lua_rawset(L, -3)
                    skipSpace()
                    guard pos < bytes.count else { return fail("unterminated object") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "}") { pos += 1; return nil }
                    return fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                pos += 1
                lua_createtable(L, 4, 0)
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
                    pos += 1
                    // Marked, so that it encodes back as [] (an empty table is {}).
                    luaL_newmetatable(L, JSONModule.emptyArrayMetatable)
                    lua_setmetatable(L, -2)
                    return nil
                }
                var n: Int64 = 0
                while true {
                    skipSpace()
                    if let e = value(depth: depth + 1) { return e }
                    n += 1
                    lua_rawseti(L, -2, n)
                    skipSpace()
                    guard pos < bytes.count else { return fail("unterminated array") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "]") { pos += 1; return nil }
                    return fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return string()
            case UInt8(ascii: "t"):
                guard literal("true") else { return fail("invalid literal") }
                lua_pushboolean(L, 1)
            case UInt8(ascii: "f"):
                guard literal("false") else { return fail("invalid literal") }
                lua_pushboolean(L, 0)
            case UInt8(ascii: "n"):
                guard literal("null") else { return fail("invalid literal") }
                lua_pushlightuserdata(L, JSONModule.nullSentinel)
            default:
                return number()
            }
            return nil
        }

        mutating func number() -> String? {
            let start = pos
            var isInteger = true
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 else { return fail("expected a value") }
            if bytes[pos] == 48 { pos += 1 } else { while pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 { pos += 1 } }
            if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
                isInteger = false
                pos += 1
                guard pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 else { return fail("expected a digit") }
                while pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 { pos += 1 }
            }
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
                isInteger = false
                pos += 1
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
                guard pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 else { return fail("expected a digit") }
                while pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 { pos += 1 }
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
            if isInteger, let v = Int64(text) {
                lua_pushinteger(vm.L, v)
            } else if let d = Double(text) {
                // 1e400 is valid JSON but no double: refused, as encode refuses infinities.
                guard d.isFinite else { pos = start; return fail("number out of range") }
                lua_pushnumber(vm.L, d)
            } else {
                return fail("invalid number")
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard pos + 4 <= bytes.count else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[pos]
                let d: UInt8
                switch c {
                case 48...57: d = c - 48
                case 97...102: d = c - 87
                case 65...70: d = c - 55
                default: return nil
                }
                v = v << 4 | UInt32(d)
                pos += 1
            }
            return v
        }

        /// Pushes a string (the opening quote is at `pos`).
        mutating func string() -> String? {
            pos += 1
            var out: [UInt8] = []
            var runStart = pos
            while true {
                guard pos < bytes.count else { return fail("unterminated string") }
                let c = bytes[pos]
                if c == UInt8(ascii: "\"") { break }
                if c < 0x20 { return fail("control character in string") }
                if c == UInt8(ascii: "\\") {
                    out += bytes[runStart..<pos]
                    pos += 1
                    guard pos < bytes.count else { return fail("unterminated escape") }
                    let e = bytes[pos]
                    pos += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(34)
                    case UInt8(ascii: "\\"): out.append(92)
                    case UInt8(ascii: "/"): out.append(47)
                    case UInt8(ascii: "b"): out.append(8)
                    case UInt8(ascii: "f"): out.append(12)
                    case UInt8(ascii: "n"): out.append(10)
                    case UInt8(ascii: "r"): out.append(13)
                    case UInt8(ascii: "t"): out.append(9)
                    case UInt8(ascii: "u"):
                        guard var u = hex4() else { return fail("invalid \\u escape") }
                        if (0xD800..<0xDC00).contains(u) {
                            guard literal("\\u"), let low = hex4(), (0xDC00..<0xE000).contains(low) else { return fail("unpaired surrogate") }
                            u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(u) {
                            return fail("unpaired surrogate")
                        }
                        out += Array(String(Unicode.Scalar(u)!).utf8)
                    default: return fail("invalid escape")
                    }
                    runStart = pos
                    continue
                }
                pos += 1
            }
            let run = UnsafeRawBufferPointer(rebasing: bytes[runStart..<pos])
            pos += 1
            if out.isEmpty {
                guard UTF8Validator.isValid(run) else { return fail("invalid UTF-8 in string") }
                vm.pushBytes(run)
            } else {
                out += run
                guard UTF8Validator.isValid(out) else { return fail("invalid UTF-8 in string") }
                out.withUnsafeBytes { vm.pushBytes($0) }
            }
            return nil
        }
    }
}

/// Why a value is not JSON text (`JSONModule.encode`).
package struct JSONTextError: Error {
    package let message: String
}
