import CLuaBridge

/// Stands in for the plugin runtime when no `--plugin` or `--plugin-option` was given, so a VM
/// that never uses plugins does not carry the runtime (about half of a fresh VM's Lua heap: it
/// matters when a load run has thousands of VMs). The first `require` that reaches the plugin
/// searcher's place, or the first read of `netstack.plugins`, loads the real runtime; from then on
/// everything is as if it had been loaded at start. The stand-ins are in C
/// (netstack_plugin_stub.c).
enum LazyPluginRuntime {
    /// The stand-ins' loader: makes the host's runtime (once) and returns its searcher.
    private static let loader = LuaFunction.hosted { vm, host in
        do {
            vm.pushRef(try host.pluginRuntime().searcherRef)
            return 1
        } catch {
            return vm.raise("\(error)")
        }
    }

    /// Installs the stand-ins into the VM of a host.
    static func install(into vm: LuaVM) {
        vm.pushFunction(loader)
        netstack_install_plugin_stub(vm.L)
    }
}
