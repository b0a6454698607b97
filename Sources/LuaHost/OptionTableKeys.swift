import CLuaBridge

/// The keys of an options table a function takes (`ns.verify`'s, `ns.fetchChain`'s): a key it
/// does not know is refused, so a misspelt option (`hostName`, `crl` for `crls`) is an error
/// rather than a check silently left out.
enum OptionTableKeys {
    /// Why the table at `index` cannot be used (nil: every key is a string among `known`). Reads
    /// the keys raw, leaving the stack as it was.
    static func problem(_ vm: LuaVM, table index: Int32, known: Set<String>) -> String? {
        let L = vm.L
        let t = lua_absindex(L, index)
        lua_pushnil(L)
        while lua_next(L, t) != 0 {
            let keyType = lua_type(L, -2)
            let key = keyType == LUA_TSTRING ? vm.string(at: -2) : nil
            netstack_pop(L, 1)
            guard let name = key else {
                netstack_pop(L, 1)
                return "option names are strings, got a key of type \(String(cString: lua_typename(L, keyType)))"
            }
            if !known.contains(name) {
                netstack_pop(L, 1)
                let near = known.first { $0.lowercased() == name.lowercased() }
                    ?? known.first { $0.hasPrefix(name) || name.hasPrefix($0) }
                return "unknown option '\(name)'" + (near.map { ", did you mean '\($0)'?" } ?? "")
                    + "; the options are \(known.sorted().joined(separator: ", "))"
            }
        }
        return nil
    }
}
