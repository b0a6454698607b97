import CLuaBridge
import Foundation

/// A table the host gives scripts (the netstack module, its json and metrics tables, the client's
/// methods), described once per process. `push(on:)` makes one for a VM: with all its entries, or
/// in a lazy VM (load runs' VUs, made by the thousand) as a lazy table whose entries are made
/// when first read (netstack_lazy_tables.c): a bot reads a handful of the module's entries.
package final class LuaModuleTable {
    package enum Value {
        case integer(Int64)
        case string(String)
        case function(LuaFunction)
        /// A table of its own (made lazily too in a lazy VM).
        case table(LuaModuleTable)
        /// Pushes exactly one value, without raising (a sentinel, a per-host value).
        case make((LuaVM) -> Void)
    }

    package let entries: [(name: String, value: Value)]
    private let spec: UnsafeMutablePointer<netstack_lazy_spec>

    package init(_ entries: [(String, Value)]) {
        self.entries = entries.map { (name: $0.0, value: $0.1) }
        let names = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: entries.count)
        for (i, entry) in entries.enumerated() { names[i] = UnsafePointer(strdup(entry.0)) }
        spec = .allocate(capacity: 1)
        spec.initialize(to: netstack_lazy_spec(count: Int32(entries.count), names: names, context: nil))
        // Described once per process: the spec and this object are never freed.
        spec.pointee.context = Unmanaged.passRetained(self).toOpaque()
        _ = LuaModuleTable.installCallback
    }

    private static let installCallback: Void = netstack_set_lazy_push(pushEntry)

    /// Pushes a new table with these entries (lazy in a lazy VM).
    package func push(on vm: LuaVM) {
        if vm.options.lazyLibraries, netstack_lazy_table_new(vm.L, spec) != 0 { return }
        lua_createtable(vm.L, 0, Int32(entries.count))
        for i in entries.indices {
            pushValue(i, on: vm)
            lua_setfield(vm.L, -2, spec.pointee.names[i])
        }
    }

    fileprivate func pushValue(_ i: Int, on vm: LuaVM) {
        let L = vm.L
        switch entries[i].value {
        case .integer(let n): lua_pushinteger(L, n)
        case .string(let s): vm.pushString(s)
        case .function(let f): vm.pushFunction(f)
        case .table(let t): t.push(on: vm)
        case .make(let body): body(vm)
        }
    }
}

/// Entry i of a lazy table, on the calling thread's state (a coroutine's, perhaps).
private let pushEntry: netstack_lazy_push_fn = { L, context, i in
    let table = Unmanaged<LuaModuleTable>.fromOpaque(context!).takeUnretainedValue()
    return LuaVM.entered(from: L) { vm in
        table.pushValue(Int(i), on: vm)
        return 0
    }
}
