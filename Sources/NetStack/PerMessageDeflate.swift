import CZlib
import NIOCore

/// permessage-deflate parameters (RFC 7692 §7.1), as offered or as agreed.
public struct PerMessageDeflateParameters: Equatable, Sendable {
    public var serverNoContextTakeover = false
    public var clientNoContextTakeover = false
    /// nil: not present. In an offer, `clientMaxWindowBits == 0` means the bare parameter (no value).
    public var serverMaxWindowBits: Int? = nil
    public var clientMaxWindowBits: Int? = nil

    public init() {}

    /// The extension header value for a client offer.
    public var offerHeaderValue: String {
        var s = "permessage-deflate"
        if serverNoContextTakeover { s += "; server_no_context_takeover" }
        if clientNoContextTakeover { s += "; client_no_context_takeover" }
        if let b = serverMaxWindowBits { s += "; server_max_window_bits=\(b)" }
        if let b = clientMaxWindowBits { s += b == 0 ? "; client_max_window_bits" : "; client_max_window_bits=\(b)" }
        return s
    }

    /// Parses one extension element's parameters (`name[=value]` pairs after the extension name).
    /// Unknown, duplicate or out-of-range parameters are errors (RFC 7692 §5).
    public static func parse(parameters: [(String, String?)], isServerResponse: Bool) throws -> PerMessageDeflateParameters {
        var p = PerMessageDeflateParameters()
        var seen = Set<String>()
        func fail(_ why: String) -> WebSocketError { WebSocketError(.protocolError, "permessage-deflate: \(why)") }
        for (rawName, value) in parameters {
            let name = rawName.lowercased()
            if !seen.insert(name).inserted { throw fail("duplicate parameter \(name)") }
            func bits(_ v: String?, allowEmpty: Bool) throws -> Int {
                guard let v = v else {
                    if allowEmpty { return 0 }
                    throw fail("\(name) needs a value")
                }
                let t = v.hasPrefix("\"") && v.hasSuffix("\"") && v.count >= 2 ? String(v.dropFirst().dropLast()) : v
                guard t.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(t), (8...15).contains(n), !t.hasPrefix("0") else {
                    throw fail("invalid \(name) value '\(v)'")
                }
                return n
            }
            switch name {
            case "server_no_context_takeover":
                if value != nil { throw fail("\(name) takes no value") }
                p.serverNoContextTakeover = true
            case "client_no_context_takeover":
                if value != nil { throw fail("\(name) takes no value") }
                p.clientNoContextTakeover = true
            case "server_max_window_bits":
                p.serverMaxWindowBits = try bits(value, allowEmpty: false)
            case "client_max_window_bits":
                p.clientMaxWindowBits = try bits(value, allowEmpty: !isServerResponse)
            default:
                throw fail("unknown parameter \(name)")
            }
        }
        return p
    }
}

/// Raw deflate/inflate streams for permessage-deflate. One instance per connection, confined to
/// its event loop. Owns two zlib streams and frees them in `deinit`.
package final class PerMessageDeflate {
    private var deflater = z_stream()
    private var inflater = z_stream()
    private var deflaterReady = false
    private var inflaterReady = false
    /// Reset our compressor after each message (we were told `<our role>_no_context_takeover`).
    let resetDeflaterPerMessage: Bool
    /// Reset the decompressor after each message (the peer promised no context takeover).
    let resetInflaterPerMessage: Bool
    /// Window bits for our compressor; nil means "send uncompressed" (zlib cannot honour 8).
    let deflateWindowBits: Int32?
    /// Messages smaller than this are sent uncompressed (allowed: compression is per message).
    let compressionThreshold: Int

    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    /// - Parameters: `isClient` picks which half of the agreed parameters is ours.
    package init(agreed p: PerMessageDeflateParameters, isClient: Bool, compressionThreshold: Int) {
        let ourBits = isClient ? p.clientMaxWindowBits : p.serverMaxWindowBits
        resetDeflaterPerMessage = isClient ? p.clientNoContextTakeover : p.serverNoContextTakeover
        resetInflaterPerMessage = isClient ? p.serverNoContextTakeover : p.clientNoContextTakeover
        if let b = ourBits, b != 0 {
            deflateWindowBits = b >= 9 ? Int32(b) : nil
        } else {
            deflateWindowBits = 15
        }
        self.compressionThreshold = compressionThreshold
    }

    deinit {
        if deflaterReady { deflateEnd(&deflater) }
        if inflaterReady { inflateEnd(&inflater) }
    }

    package var canCompress: Bool { deflateWindowBits != nil }

    /// Compresses one whole message; the result has the 00 00 FF FF tail removed (RFC 7692 §7.2.1).
    package func compress(_ input: UnsafeRawBufferPointer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard let bits = deflateWindowBits else { return nil }
        if !deflaterReady {
            guard netstack_deflateInit2(&deflater, Z_DEFAULT_COMPRESSION, -bits, 8) == Z_OK else { return nil }
            deflaterReady = true
        }
        var out = allocator.buffer(capacity: Int(deflateBound(&deflater, uLong(input.count))) + 16)
        deflater.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
        deflater.avail_in = uInt(input.count)
        while true {
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: 4096) { raw in
                deflater.next_out = raw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                deflater.avail_out = uInt(raw.count)
                _ = deflate(&deflater, Z_SYNC_FLUSH)
                return raw.count - Int(deflater.avail_out)
            }
            // With Z_SYNC_FLUSH, room left over means all input is consumed and flushed.
            if deflater.avail_out != 0 { break }
        }
        deflater.next_in = nil
        if resetDeflaterPerMessage { deflateReset(&deflater) }
        // Strip the sync-flush tail.
        if out.readableBytes >= 4 {
            out.moveWriterIndex(to: out.writerIndex - 4)
        }
        if out.readableBytes == 0 { out.writeInteger(UInt8(0)) }
        return out
    }

    enum InflateError: Error { case corrupt(String), tooLarge }

    /// Inflates `input` appending to `output`, failing once `output` would exceed `limit` bytes.
    /// Call with `final: true` on the last frame of the message (adds the sync tail).
    package func decompress(_ input: UnsafeRawBufferPointer, final: Bool, into output: inout ByteBuffer, limit: Int) throws {
        if !inflaterReady {
            guard netstack_inflateInit2(&inflater, -15) == Z_OK else { throw InflateError.corrupt("inflateInit2 failed") }
            inflaterReady = true
        }
        if !streamEnded { try feed(input, into: &output, limit: limit) }
        if final {
            if !streamEnded {
                try Self.tail.withUnsafeBytes { try feed($0, into: &output, limit: limit) }
                if resetInflaterPerMessage { inflateReset(&inflater) }
            }
            streamEnded = false
        }
    }

    /// A deflate block with BFINAL set ended the stream inside the current message (RFC 7692
    /// §7.2.3.4 allows senders to flush that way). The inflater is reset for the next message,
    /// which starts a fresh stream; what is left of this one (the padding byte the RFC's example
    /// carries, the sync tail we append) is not fed: a reset inflater would read it as the start
    /// of a stored block and fail on the next message.
    private var streamEnded = false

    private func endStream() {
        inflateReset(&inflater)
        streamEnded = true
    }

    private func feed(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer, limit: Int) throws {
        guard input.count > 0 else { return }
        inflater.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress)
        inflater.avail_in = uInt(input.count)
        defer { inflater.next_in = nil; inflater.avail_in = 0 }
        while true {
            let room = limit - output.readableBytes
            if room <= 0 {
                // One more byte of output means the limit is exceeded; probe with a tiny buffer.
                var probe: UInt8 = 0
                var rc: Int32 = Z_OK
                let produced = withUnsafeMutablePointer(to: &probe) { p -> Int in
                    inflater.next_out = p
                    inflater.avail_out = 1
                    rc = inflate(&inflater, Z_SYNC_FLUSH)
                    return 1 - Int(inflater.avail_out)
                }
                if rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR {
                    throw InflateError.corrupt(Self.message(inflater))
                }
                if produced > 0 { throw InflateError.tooLarge }
                if rc == Z_STREAM_END { endStream(); return }
                if inflater.avail_in == 0 { return }
                continue
            }
            let chunk = min(room, max(4096, min(input.count * 4, 256 * 1024)))
            var rc: Int32 = Z_OK
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: chunk) { raw in
                let n = min(raw.count, room)
                inflater.next_out = raw.baseAddress!.assumingMemoryBound(to: Bytef.self)
                inflater.avail_out = uInt(n)
                rc = inflate(&inflater, Z_SYNC_FLUSH)
                return n - Int(inflater.avail_out)
            }
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                if inflater.avail_in == 0 && inflater.avail_out != 0 { return }
                if rc == Z_BUF_ERROR && inflater.avail_in == 0 { return }
            case Z_STREAM_END:
                endStream()
                return
            default:
                throw InflateError.corrupt(Self.message(inflater))
            }
        }
    }

    private static func message(_ s: z_stream) -> String {
        if let m = s.msg { return String(cString: m) }
        return "invalid deflate data"
    }
}
