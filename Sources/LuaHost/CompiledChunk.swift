import CLuaBridge

/// A Lua chunk the host loads into many VMs (a load run has thousands), compiled once per
/// process to a stripped binary chunk: each VM then loads it without parsing and without line
/// information. Falls back to the source when compiling failed, so that the VM reports the
/// error itself.
package struct CompiledChunk {
    let name: String
    let source: [UInt8]
    let binary: [UInt8]?

    /// `strip: false` keeps the debug information (line numbers in errors and tracebacks).
    package init(name: String, source: [UInt8], strip: Bool = true) {
        self.name = name
        self.source = source
        self.binary = Self.compile(name: name, source: source, strip: strip)
    }

    /// Pushes the chunk as a function on `L`'s stack; returns lua_load's status (on error the
    /// message is pushed instead).
    package func load(into L: OpaquePointer) -> Int32 {
        let (bytes, mode) = binary.map { ($0, "b") } ?? (source, "t")
        return bytes.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { luaL_loadbufferx(L, $0.baseAddress, $0.count, name, mode) }
        }
    }

    private static func compile(name: String, source: [UInt8], strip: Bool) -> [UInt8]? {
        guard let L = luaL_newstate() else { return nil }
        defer { lua_close(L) }
        let status = source.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { luaL_loadbufferx(L, $0.baseAddress, $0.count, name, "t") }
        }
        guard status == LUA_OK else { return nil }
        final class Sink { var bytes: [UInt8] = [] }
        let sink = Sink()
        let rc = lua_dump(L, { _, p, n, ud in
            guard let p = p, let ud = ud else { return 1 }
            Unmanaged<Sink>.fromOpaque(ud).takeUnretainedValue().bytes.append(contentsOf: UnsafeRawBufferPointer(start: p, count: n))
            return 0
        }, Unmanaged.passUnretained(sink).toOpaque(), strip ? 1 : 0)
        return rc == 0 ? sink.bytes : nil
    }
}
