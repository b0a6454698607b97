import CLuaBridge
import Foundation
import NetStack

/// Where certificate bytes come from in the Lua certificate functions: a string is the data
/// itself (PEM or DER); `{ data = "..." }` says so explicitly; `{ path = "file" }` reads a file
/// (at most `maxFileBytes`). A string that is not certificate data but names a readable file is
/// refused with a message that says to pass `{ path = ... }`, instead of a verification code
/// for "unparsable" data.
enum CertificateSource {
    static let maxFileBytes = BoundedFileRead.certificateLimit

    struct Failure: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// The bytes of the value at `index`, or why not (the text of a "bad argument" message).
    static func bytes(_ vm: LuaVM, at index: Int32) -> Result<[UInt8], Failure> {
        switch vm.type(at: index) {
        case LUA_TSTRING:
            let data = Array(vm.bytes(at: index) ?? UnsafeRawBufferPointer(start: nil, count: 0))
            if looksLikePath(data) {
                let path = String(decoding: data, as: UTF8.self)
                return .failure(Failure("'\(TerminalText.sanitize(path, keepNewlines: false))' is a file name, not certificate data: pass { path = \"...\" } to read a file"))
            }
            return .success(data)
        case LUA_TTABLE:
            vm.rawField(index, "data")
            defer { netstack_pop(vm.L, 1) }
            if vm.type(at: -1) == LUA_TSTRING, let b = vm.bytes(at: -1) { return .success(Array(b)) }
            guard vm.type(at: -1) == LUA_TNIL else { return .failure(Failure("data: string expected")) }
            vm.rawField(index, "path")
            defer { netstack_pop(vm.L, 1) }
            guard let path = vm.string(at: -1) else { return .failure(Failure("{ data = string } or { path = string } expected")) }
            return read(path)
        default:
            return .failure(Failure("string (PEM or DER data), { data = ... } or { path = ... } expected, got \(vm.typeName(at: index))"))
        }
    }

    /// Not PEM, not DER (a SEQUENCE), short, one line, and a readable regular file of that name.
    static func looksLikePath(_ data: [UInt8]) -> Bool {
        guard !data.isEmpty, data.count <= 4096, data[0] != 0x30, !data.contains(0), !data.contains(0x0A) else { return false }
        let text = String(decoding: data, as: UTF8.self)
        guard !text.contains("-----BEGIN") else { return false }
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory) && !isDirectory.boolValue
            && FileManager.default.isReadableFile(atPath: text)
    }

    /// The file's bytes, at most `maxFileBytes`.
    static func read(_ path: String) -> Result<[UInt8], Failure> {
        BoundedFileRead.bytes(atPath: path, limit: maxFileBytes).mapError { Failure($0.description) }
    }
}
