import CLuaBridge

/// A memory limit shared by many Lua states on any threads: a load run's VUs together. Each VM
/// given the pool (`LuaVM.Options.memoryPool`) takes what its state allocates from it and gives
/// it back as it frees, so VUs that each stay under their own limit still cannot together take
/// more than the pool. A VM keeps its pool alive.
public final class LuaMemoryPool: @unchecked Sendable {
    let pointer: OpaquePointer
    /// The pool's size in bytes.
    public let limit: Int
    /// Said with the error when the pool refuses an allocation ("the default: ...").
    public let origin: String

    public init(limit: Int, origin: String) {
        // calloc of a 16-byte struct: failing here means the process is out of memory already.
        pointer = netstack_pool_new(limit)!
        self.limit = limit
        self.origin = origin
    }

    deinit { netstack_pool_free(pointer) }

    /// Bytes left (below zero after allocations outside Lua code went over the limit).
    public var available: Int { Int(netstack_pool_available(pointer)) }
}
