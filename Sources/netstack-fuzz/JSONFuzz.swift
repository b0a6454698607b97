import LuaHost
import NIOPosix

/// netstack.json on untrusted text: decode never fails badly, what it decodes encodes, and the
/// encoding decodes and encodes again to as many bytes.
enum JSONFuzz {
    static let vm: LuaVM = {
        var options = LuaVM.Options()
        options.memoryLimit = 256 << 20
        return try! LuaVM(eventLoop: MultiThreadedEventLoopGroup.singleton.next(), options: options)
    }()

    static func run(_ input: UnsafeRawBufferPointer) {
        let first = JSONModule.decodeThenEncode(vm, input)
        guard first.decoded else { return }
        // Nesting at the limit decodes, and its encoding may then exceed the encoder's limit by
        // the wrapper; anything else must encode.
        guard let encoded = first.encoded else {
            precondition(first.encodeError?.contains("nesting") == true, "decoded but cannot encode: \(first.encodeError ?? "?")")
            return
        }
        let second = encoded.withUnsafeBytes { JSONModule.decodeThenEncode(vm, $0) }
        precondition(second.decoded, "our own encoding does not decode: \(String(decoding: encoded.prefix(200), as: UTF8.self))")
        // Object keys come out in table order, which may differ between two tables with the same
        // keys; the length may not.
        precondition(second.encoded?.count == encoded.count, "encode(decode(encode(x))) differs in length from encode(x)")
    }
}
