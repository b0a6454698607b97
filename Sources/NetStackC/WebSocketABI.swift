import CNetStackABI
import Foundation
import NIOCore
import NetStack

// The documented C ABI. Clients are C structs allocated here; a registry maps each pointer to its
// Swift state, so a pointer that was not made by the constructor, or was destroyed, is recognised
// (1002) without being dereferenced.

/// Swift state behind one `struct WebSocket`.
final class CClient: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<WebSocket>
    let engine: WebSocketClient
    /// The header nodes AddHeader allocated: Destroy frees these and only these (the list in
    /// `requestOptions.headers` is public, and the program may link nodes of its own into it).
    /// Guarded by `lock`, with the struct at `pointer`: AddHeader, Connect's walk of the header list
    /// and Destroy's freeing take it, so the same client used from several threads at once (a
    /// Connect or AddHeader racing a Destroy, two AddHeaders) never reads freed memory or appends
    /// to the list twice at one place. Send and Close do not read the struct.
    var ownedHeaders: [UnsafeMutablePointer<WebSocket_Header>] = []
    /// Set by Destroy under `lock`: the struct is freed, so a call that looked the client up
    /// before Destroy took it out of the registry returns 1002 instead of reading it.
    var destroyed = false
    let lock = NSLock()
    init(pointer: UnsafeMutablePointer<WebSocket>, engine: WebSocketClient) {
        self.pointer = pointer
        self.engine = engine
    }
}

/// The storage onMessage lends to C when a message cannot be lent where it is with a NUL after it
/// (`NULTerminatedBytes`): a message shorter than 1 KiB outside a run of whole messages (a
/// fragmented one, one after a control frame), or one with no byte after it in its buffer.
/// NUL-terminated copies need a buffer each, and
/// allocating one per message was the C path's largest cost for small messages. One buffer of up
/// to `keptLimit` bytes is kept per client and reused; a larger message gets a buffer of its own
/// (freed after the callback), and so does a message delivered while the kept one is lent (a
/// callback that makes the loop deliver again). Used on the client's loop only.
///
/// Its state is `@exclusivity(unchecked)`: the runtime's access check on each of these properties
/// cost about 76 instructions per message (callgrind, C ABI flood of 32-byte messages), and every
/// access is a plain read or write on the client's loop, none spanning a call that could reach
/// another (`buffer(for:)` and `release` do not call out).
final class MessageScratch: @unchecked Sendable {
    static let keptLimit = 64 * 1024
    @exclusivity(unchecked) private var kept: UnsafeMutablePointer<CChar>?
    @exclusivity(unchecked) private var keptCapacity = 0
    @exclusivity(unchecked) private var lent = false

    func buffer(for count: Int) -> UnsafeMutablePointer<CChar> {
        let needed = count + 1
        guard !lent, needed <= Self.keptLimit else { return .allocate(capacity: needed) }
        if needed > keptCapacity {
            kept?.deallocate()
            keptCapacity = max(needed, min(Self.keptLimit, keptCapacity * 2), 256)
            kept = .allocate(capacity: keptCapacity)
        }
        lent = true
        return kept!
    }

    func release(_ buffer: UnsafeMutablePointer<CChar>) {
        if buffer == kept { lent = false } else { buffer.deallocate() }
    }

    deinit { kept?.deallocate() }
}

enum Registry {
    static let lock = NSLock()
    /// Read and written only under `lock`, so the runtime's exclusivity check on each access (two
    /// a `Send`, about 160 instructions) is left out.
    @exclusivity(unchecked) nonisolated(unsafe) static var clients: [UnsafeMutableRawPointer: CClient] = [:]

    static func lookup(_ p: UnsafeMutablePointer<WebSocket>?) -> (CClient?, Int32) {
        guard let p = p else { return (nil, Int32(WEBSOCKET_CLIENT_NULL.rawValue)) }
        lock.lock()
        defer { lock.unlock() }
        guard let c = clients[UnsafeMutableRawPointer(p)] else { return (nil, Int32(WEBSOCKET_CLIENT_NOT_CREATED.rawValue)) }
        return (c, 0)
    }
}

private func strdupOrNil(_ s: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
    guard let s = s else { return nil }
    return UnsafePointer(strdup(s))
}

/// Frees the header nodes AddHeader allocated (with the copies of name and value it made).
private func freeHeaders(_ nodes: [UnsafeMutablePointer<WebSocket_Header>]) {
    for node in nodes {
        free(UnsafeMutableRawPointer(mutating: node.pointee.fieldName))
        free(UnsafeMutableRawPointer(mutating: node.pointee.fieldValue))
        node.deallocate()
    }
}

private func headers(from list: UnsafeMutablePointer<WebSocket_Header>?, into out: inout [WebSocketHeader]) -> Int32 {
    var h = list
    var count = 0
    while let cur = h {
        count += 1
        if count > 8192 { return Int32(WEBSOCKET_HEADER_EXCEEDED.rawValue) }
        guard let n = cur.pointee.fieldName, let v = cur.pointee.fieldValue, isUTF8(n), isUTF8(v) else {
            return Int32(WEBSOCKET_NO_HEADER_CONTEXT.rawValue)
        }
        out.append(WebSocketHeader(String(cString: n), String(cString: v)))
        h = cur.pointee.next
    }
    return 0
}

/// Whether a C string's bytes are valid UTF-8 (text that goes on the wire as it is).
func isUTF8(_ p: UnsafePointer<CChar>) -> Bool {
    UTF8Validator.isValid(UnsafeRawBufferPointer(start: p, count: strlen(p)))
}

/// Runs an engine call and turns its outcome into the documented code (0 on success).
func resultCode(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return 0
    } catch let e as WebSocketError {
        return e.code.rawValue
    } catch {
        return Int32(WEBSOCKET_CONNECTION_ERROR.rawValue)
    }
}

/// The send path of OH_WebSocketClient_Send (`kind` nil: TEXT when the bytes are valid UTF-8
/// without NUL, otherwise BINARY, as the original) and of the explicit extension senders (text
/// must be valid UTF-8, else WEBSOCKET_PROTOCOL_ERROR).
func sendMessage(_ client: UnsafeMutablePointer<WebSocket>?, _ data: UnsafeRawPointer?, _ length: Int, kind: WebSocketMessageKind?) -> Int32 {
    let (c, rc) = Registry.lookup(client)
    guard let c = c else { return rc }
    guard let data = data else { return Int32(WEBSOCKET_SEND_DATA_NULL.rawValue) }
    if length == 0 { return 0 }
    // size_t arrives as Int: SIZE_MAX and the like are negative here. Check the size before the
    // bytes are read at all (a wrong length must not make the library scan past the buffer).
    guard length > 0, length <= c.engine.configuration.maxSendSize else { return Int32(WEBSOCKET_DATA_LENGTH_EXCEEDED.rawValue) }
    let bytes = UnsafeRawBufferPointer(start: data, count: length)
    let chosen: WebSocketMessageKind
    switch kind {
    // memchr, not `contains`: the generic loop cost about 400 instructions for 32 bytes.
    case nil: chosen = (memchr(data, 0, length) == nil && UTF8Validator.isValid(bytes)) ? .text : .binary
    case .text?:
        guard UTF8Validator.isValid(bytes) else { return Int32(WEBSOCKET_PROTOCOL_ERROR.rawValue) }
        chosen = .text
    case .binary?: chosen = .binary
    }
    return resultCode { try c.engine.send(bytes, kind: chosen) }
}

/// What every client of the C ABI starts from (one storage, shared until a client's own settings
/// change it): onMessage lends the bytes for the duration of the call, so messages need no
/// storage of their own.
private let cClientConfiguration: WebSocketClientConfiguration = {
    var config = WebSocketClientConfiguration()
    config.ownStorageThreshold = .max
    return config
}()

@_cdecl("OH_WebSocketClient_Constructor")
public func OH_WebSocketClient_Constructor(_ onOpen: WebSocket_OnOpenCallback?, _ onMessage: WebSocket_OnMessageCallback?,
                                           _ onError: WebSocket_OnErrorCallback?, _ onClose: WebSocket_OnCloseCallback?) -> UnsafeMutablePointer<WebSocket>? {
    let p = UnsafeMutablePointer<WebSocket>.allocate(capacity: 1)
    p.initialize(to: WebSocket(onOpen: onOpen, onMessage: onMessage, onError: onError, onClose: onClose,
                               requestOptions: WebSocket_RequestOptions(headers: nil)))
    let engine = WebSocketClient(configuration: cClientConfiguration)
    let c = CClient(pointer: p, engine: engine)
    // Callbacks read the function pointers from the struct at call time (the caller may change them).
    engine.onOpen = { _, r in
        guard let f = p.pointee.onOpen else { return }
        r.reason.withCString { f(p, WebSocket_OpenResult(code: r.code, reason: $0)) }
    }
    let scratch = MessageScratch()
    engine.onMessage = { client, m in
        guard let f = p.pointee.onMessage else { return }
        // A message of a run of whole messages, of any length, where it is in the read buffer,
        // with a NUL in the byte after it: that byte is the read buffer's too (the next frame's
        // first byte, or room after the read), saved and put back after the call, which is sound
        // for the reason `NULTerminatedBytes` gives. Written out here rather than called: a call
        // and a closure per message cost about 20 instructions.
        if let lent = client.lentPayloadBytes(of: m), let start = lent.baseAddress {
            let bytes = UnsafeMutableRawPointer(mutating: start)
            let terminator = bytes + lent.count
            let saved = terminator.load(as: UInt8.self)
            terminator.storeBytes(of: 0, as: UInt8.self)
            f(p, bytes.assumingMemoryBound(to: CChar.self), UInt32(truncatingIfNeeded: lent.count))
            terminator.storeBytes(of: saved, as: UInt8.self)
            return
        }
        let n = m.data.readableBytes
        // Other long messages the same way when their buffer has a byte after them.
        if n >= NULTerminatedBytes.minimumLength,
           NULTerminatedBytes.lend(m.data, { bytes, count in f(p, bytes, UInt32(truncatingIfNeeded: count)) }) { return }
        // Otherwise a NUL-terminated copy, valid during the callback only, in storage kept across messages.
        let buf = scratch.buffer(for: n)
        defer { scratch.release(buf) }
        if n > 0 {
            m.data.withUnsafeReadableBytes { UnsafeMutableRawPointer(buf).copyMemory(from: $0.baseAddress!, byteCount: n) }
        }
        buf[n] = 0
        f(p, buf, UInt32(truncatingIfNeeded: n))
    }
    engine.onError = { _, e in
        guard let f = p.pointee.onError else { return }
        e.message.withCString { f(p, WebSocket_ErrorResult(errorCode: UInt32(bitPattern: e.code.rawValue), errorMessage: $0)) }
    }
    engine.onClose = { _, r in
        guard let f = p.pointee.onClose else { return }
        r.reason.withCString { f(p, WebSocket_CloseResult(code: r.code, reason: $0)) }
    }
    Registry.lock.lock()
    Registry.clients[UnsafeMutableRawPointer(p)] = c
    Registry.lock.unlock()
    return p
}

@_cdecl("OH_WebSocketClient_AddHeader")
public func OH_WebSocketClient_AddHeader(_ client: UnsafeMutablePointer<WebSocket>?, _ header: WebSocket_Header) -> Int32 {
    let (c, rc) = Registry.lookup(client)
    guard let c = c else { return rc }
    // Text as it is: bytes that are not UTF-8 are refused, never sent altered (String(cString:)
    // would put U+FFFD in their place).
    guard let name = header.fieldName, let value = header.fieldValue, isUTF8(name), isUTF8(value) else {
        return Int32(WEBSOCKET_NO_HEADER_CONTEXT.rawValue)
    }
    do {
        try HeaderValidation.validate(WebSocketHeader(String(cString: name), String(cString: value)))
    } catch let e as WebSocketError {
        return e.code.rawValue
    } catch {
        return Int32(WEBSOCKET_NO_HEADER_CONTEXT.rawValue)
    }
    c.lock.lock()
    defer { c.lock.unlock() }
    if c.destroyed { return Int32(WEBSOCKET_CLIENT_NOT_CREATED.rawValue) }
    var count = 0
    var tail = c.pointer.pointee.requestOptions.headers
    // Bounded walk: a list the program made cyclic ends here with 1016 instead of looping.
    while let t = tail, t.pointee.next != nil, count < 8191 { tail = t.pointee.next; count += 1 }
    if count >= 8191 { return Int32(WEBSOCKET_HEADER_EXCEEDED.rawValue) }
    let node = UnsafeMutablePointer<WebSocket_Header>.allocate(capacity: 1)
    node.initialize(to: WebSocket_Header(fieldName: strdupOrNil(name), fieldValue: strdupOrNil(value), next: nil))
    if let t = tail { t.pointee.next = node } else { c.pointer.pointee.requestOptions.headers = node }
    c.ownedHeaders.append(node)
    return 0
}

@_cdecl("OH_WebSocketClient_Connect")
public func OH_WebSocketClient_Connect(_ client: UnsafeMutablePointer<WebSocket>?, _ url: UnsafePointer<CChar>?,
                                       _ options: WebSocket_RequestOptions) -> Int32 {
    let (c, rc) = Registry.lookup(client)
    guard let c = c else { return rc }
    guard let url = url else { return Int32(WEBSOCKET_CONNECTION_PARSE_URL_ERROR.rawValue) }
    // The client's AddHeader list first, then the headers given to Connect.
    var list: [WebSocketHeader] = []
    c.lock.lock()
    let r1 = c.destroyed ? Int32(WEBSOCKET_CLIENT_NOT_CREATED.rawValue) : headers(from: c.pointer.pointee.requestOptions.headers, into: &list)
    c.lock.unlock()
    if r1 != 0 { return r1 }
    let r2 = headers(from: options.headers, into: &list)
    if r2 != 0 { return r2 }
    return resultCode { try c.engine.connect(to: String(cString: url), headers: list) }
}

@_cdecl("OH_WebSocketClient_Send")
public func OH_WebSocketClient_Send(_ client: UnsafeMutablePointer<WebSocket>?, _ data: UnsafeMutablePointer<CChar>?, _ length: Int) -> Int32 {
    sendMessage(client, data.map { UnsafeRawPointer($0) }, length, kind: nil)
}

@_cdecl("OH_WebSocketClient_Close")
public func OH_WebSocketClient_Close(_ client: UnsafeMutablePointer<WebSocket>?, _ options: WebSocket_CloseOption) -> Int32 {
    let (c, rc) = Registry.lookup(client)
    guard let c = c else { return rc }
    // The reason goes on the wire as UTF-8 (RFC 6455 §5.5.1): other bytes are refused, never
    // replaced (String(cString:) would send U+FFFD in their place).
    if let p = options.reason, !isUTF8(p) {
        return Int32(WEBSOCKET_PROTOCOL_ERROR.rawValue)
    }
    let reason = options.reason.map { String(cString: $0) } ?? ""
    return resultCode { try c.engine.close(code: options.code, reason: reason) }
}

@_cdecl("OH_WebSocketClient_Destroy")
public func OH_WebSocketClient_Destroy(_ client: UnsafeMutablePointer<WebSocket>?) -> Int32 {
    guard let client = client else { return Int32(WEBSOCKET_CLIENT_NULL.rawValue) }
    Registry.lock.lock()
    let c = Registry.clients.removeValue(forKey: UnsafeMutableRawPointer(client))
    Registry.lock.unlock()
    guard let c = c else { return Int32(WEBSOCKET_CLIENT_NOT_CREATED.rawValue) }
    // After this returns no callback runs (from another thread it waits for the loop).
    c.engine.destroy()
    c.lock.lock()
    c.destroyed = true
    freeHeaders(c.ownedHeaders)
    c.ownedHeaders = []
    c.pointer.deinitialize(count: 1)
    c.pointer.deallocate()
    c.lock.unlock()
    return 0
}

private func verify(_ cert: UnsafePointer<NetStack_CertBlob>?, _ ca: UnsafePointer<NetStack_CertBlob>?) -> UInt32 {
    guard let cert = cert, let data = cert.pointee.data, cert.pointee.size > 0 else { return CertificateVerifier.invalidInputCode }
    let type = CertificateBlobType(rawValue: Int32(cert.pointee.type.rawValue)) ?? .invalid
    let certBytes = UnsafeRawBufferPointer(start: data, count: Int(cert.pointee.size))
    if let ca = ca {
        let caType = CertificateBlobType(rawValue: Int32(ca.pointee.type.rawValue)) ?? .invalid
        guard let caData = ca.pointee.data, ca.pointee.size > 0 else { return CertificateVerifier.invalidInputCode }
        return CertificateVerifier.verify(cert: certBytes, certType: type, ca: UnsafeRawBufferPointer(start: caData, count: Int(ca.pointee.size)), caType: caType,
                                          options: .documented).code
    }
    return CertificateVerifier.verify(cert: certBytes, certType: type, ca: nil, options: .documented).code
}

@_cdecl("OH_NetStack_VerifyCertification")
public func OH_NetStack_VerifyCertification(_ cert: UnsafePointer<NetStack_CertBlob>?, _ caCert: UnsafePointer<NetStack_CertBlob>?) -> UInt32 {
    verify(cert, caCert)
}

@_cdecl("OH_NetStack_CertVerification")
public func OH_NetStack_CertVerification(_ cert: UnsafePointer<NetStack_CertBlob>?, _ caCert: UnsafePointer<NetStack_CertBlob>?) -> UInt32 {
    verify(cert, caCert)
}
