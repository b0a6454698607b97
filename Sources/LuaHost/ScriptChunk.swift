import CLuaBridge
import Foundation
import NetStack

/// A script file read and compiled once for many VMs (a load run's VUs): each VM then loads the
/// compiled chunk instead of opening, reading and parsing the file (10,000 VUs of a 23 KB script
/// parsed it 10,000 times). Debug information is kept, so errors and tracebacks name the file and
/// line as they do when the file is loaded. As `luaL_loadfile`, a UTF-8 byte order mark and a
/// first line starting with `#` (a shebang) are skipped, the line kept for the numbering.
public struct ScriptChunk: Sendable {
    /// The script's name in messages: its path, or `stdin` for standard input.
    public let path: String
    /// Read from standard input (`netstack run -`).
    public let isStandardInput: Bool
    /// Nil: each VM loads the file itself (unreadable now, or a precompiled binary script, which
    /// only the file loader's checks should see).
    let chunk: CompiledChunk?
    /// The script's bytes as read (nil for a file not read here), for its digest and for
    /// `ScriptOptions.declaresOptions`.
    public let bytes: [UInt8]?

    public static let sizeLimit = 64 << 20

    public init(path: String) {
        self.path = path
        isStandardInput = false
        // A file that is not read here (over 64 MiB, a device, unreadable) goes to the file
        // loader, which reports it as before.
        guard case .success(let bytes) = BoundedFileRead.bytes(atPath: path, limit: ScriptChunk.sizeLimit),
              !bytes.starts(with: [0x1B, 0x4C, 0x75, 0x61]) else {
            chunk = nil
            bytes = nil
            return
        }
        self.bytes = bytes
        chunk = CompiledChunk(name: "@" + path, source: Self.withoutPreamble(bytes), strip: false)
    }

    /// A script read from standard input (`netstack run -`): named `stdin` in messages, as
    /// `lua -` names it, with `-` as `arg[0]`. Text only: a precompiled chunk is refused when loaded.
    public init(standardInput source: [UInt8]) {
        path = "stdin"
        isStandardInput = true
        bytes = source
        chunk = CompiledChunk(name: "=stdin", source: Self.withoutPreamble(source), strip: false)
    }

    /// The bytes as Lua's file loader sees them: without a UTF-8 byte order mark, and without a
    /// first line that starts with `#` (a shebang), its newline kept for the line numbers.
    static func withoutPreamble(_ source: [UInt8]) -> [UInt8] {
        var bytes = source
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        if bytes.first == UInt8(ascii: "#") {
            let end = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            bytes.removeSubrange(0..<end)
        }
        return bytes
    }

    /// `arg[0]`: the path, or `-` as `lua -` gives it.
    public var argumentZero: String { isStandardInput ? "-" : path }
}

extension LuaVM {
    /// Runs `script` with `args` as `...`, as `runFile` runs its file. False (reported) if it
    /// failed to load or raised. A script file's folder comes first on `package.path`.
    func run(_ script: ScriptChunk, args: [String]) -> Bool {
        if !script.isStandardInput { prependScriptFolder(of: script.path) }
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
        for (i, a) in args.enumerated() { pushArgument(a, at: i) }
        if options.instructionBudget > 0 { netstack_reset_instruction_budget(L) }
        let result = netstack_pcall_traceback(L, Int32(args.count), 0)
        if result == LUA_OK { return true }
        reportTopError(context: script.path, status: result)
        return false
    }
}

extension LuaVM {
    /// `require "helper"` finds `helper.lua` beside the script wherever the run started, as a
    /// k6 script imports its neighbours and Python puts the script's folder first on its path:
    /// `DIR/?.lua;DIR/?/init.lua;` goes before `package.path`. A folder whose name holds `;` or
    /// `?` (which the path syntax cannot hold) is left out.
    func prependScriptFolder(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        let folder = dir.isEmpty ? "." : dir
        guard !folder.contains(";"), !folder.contains("?") else { return }
        pushGlobal("package")
        defer { netstack_pop(L, 1) }
        guard lua_type(L, -1) == LUA_TTABLE else { return }
        rawField(-1, "path")
        let current = string(at: -1) ?? ""
        netstack_pop(L, 1)
        pushString("\(folder)/?.lua;\(folder)/?/init.lua;" + current)
        lua_setfield(L, -2, "path")
    }
}
