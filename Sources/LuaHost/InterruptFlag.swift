import CLuaBridge

/// Whether a VM's Lua code is to be stopped from outside (`LuaVM.stopWhenBusy`): set from any
/// thread, read by the VM's hook on the VM's thread. Shared by whoever sets it and the VM, which
/// keeps it until its state is closed (finalizers run Lua code while it closes).
package final class InterruptFlag: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Int32>

    package init() {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: 0)
    }

    deinit { pointer.deallocate() }

    package func set() { netstack_flag_store(pointer, 1) }
    package func clear() { netstack_flag_store(pointer, 0) }
    package var isSet: Bool { netstack_flag_load(pointer) != 0 }
}
