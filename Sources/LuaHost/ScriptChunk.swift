import CLuaBridge
import Foundation
import NetStack

/// A script file read and compiled once for many VMs (a load run's VUs): each VM then loads the
/// compiled chunk instead of opening, reading and parsing the file (10,000 VUs of a 23 KB script
/// parsed it 10,000 times). Debug information is kept, so errors and tracebacks name the file and
/// line as they do when the file is loaded. As `luaL_loadfile`, a UTF-8 byte order mark and a
/// first line starting with `#` (a shebang) are skipped, the line kept for the numbering.
package struct ScriptChunk: Sendable {
    package let path: String
    /// Nil: each VM loads the file itself (unreadable now, or a precompiled binary script, which
    /// only the file loader's checks should see).
    let chunk: CompiledChunk?

    static let sizeLimit = 64 << 20

    package init(path: String) {
        self.path = path
        // A file that is not read here (over 64 MiB, a device, unreadable) goes to the file
        // loader, which reports it as before.
        guard case .success(var bytes) = BoundedFileRead.bytes(atPath: path, limit: ScriptChunk.sizeLimit),
              !bytes.starts(with: [0x1B, 0x4C, 0x75, 0x61]) else {
            chunk = nil
            return
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        if bytes.first == UInt8(ascii: "#") {
            let end = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            bytes.removeSubrange(0..<end)
        }
        chunk = CompiledChunk(name: "@" + path, source: bytes, strip: false)
    }
}

extension LuaVM {
    /// Runs `script` with `args` as `...`, as `runFile` runs its file. False (reported) if it
    /// failed to load or raised.
    func run(_ script: ScriptChunk, args: [String]) -> Bool {
        guard let chunk = script.chunk else { return runFile(script.path, args: args) }
        let status = chunk.load(into: L)
        guard status == LUA_OK else {
            reportTopError(context: script.path, status: status)
            return false
        }
        guard reserveArguments(args.count, context: script.path) else {
            netstack_pop(L, 1)
            return false
        }
        for a in args { pushString(a) }
        if options.instructionBudget > 0 { netstack_reset_instruction_budget(L) }
        let result = netstack_pcall_traceback(L, Int32(args.count), 0)
        if result == LUA_OK { return true }
        reportTopError(context: script.path, status: result)
        return false
    }
}
