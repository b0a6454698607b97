import CNetStackABI
import Foundation
import NIOCore
import NetStack

// netstack_ext.h: what the documented API cannot express.

private let versionString: UnsafeMutablePointer<CChar> = strdup(NetStackVersion.string)

@_cdecl("NetStack_Version")
public func NetStack_Version() -> UnsafePointer<CChar> { UnsafePointer(versionString) }

private func send(_ client: UnsafeMutablePointer<WebSocket>?, _ data: UnsafeRawPointer?, _ length: Int, _ kind: WebSocketMessageKind) -> Int32 {
    let (c, rc) = Registry.lookup(client)
    guard let c = c else { return rc }
    guard let data = data else { return Int32(WEBSOCKET_SEND_DATA_NULL.rawValue) }
    if length == 0 { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data, count: length)
    if kind == .text && !UTF8Validator.isValid(bytes) { return Int32(WEBSOCKET_PROTOCOL_ERROR.rawValue) }
    do {
        try c.engine.send(bytes, kind: kind)
        return 0
    } catch let e as WebSocketError {
        return e.code.rawValue
    } catch {
        return Int32(WEBSOCKET_CONNECTION_ERROR.rawValue)
    }
}

@_cdecl("NetStack_WebSocketClient_SendText")
public func NetStack_WebSocketClient_SendText(_ client: UnsafeMutablePointer<WebSocket>?, _ data: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
    send(client, data.map { UnsafeRawPointer($0) }, length, .text)
}

@_cdecl("NetStack_WebSocketClient_SendBinary")
public func NetStack_WebSocketClient_SendBinary(_ client: UnsafeMutablePointer<WebSocket>?, _ data: UnsafeRawPointer?, _ length: Int) -> Int32 {
    send(client, data, length, .binary)
}

@_cdecl("NetStack_WebSocketClient_SetTLSOptions")
public func NetStack_WebSocketClient_SetTLSOptions(_ client: UnsafeMutablePointer<WebSocket>?, _ caFile: UnsafePointer<CChar>?,
                                                   _ caPath: UnsafePointer<CChar>?, _ insecure: Int32) -> Int32 {
    let (c, rc) = Registry.lookup(client)
    guard let c = c else { return rc }
    c.engine.configuration.tls.caFile = caFile.map { String(cString: $0) }
    c.engine.configuration.tls.caPath = caPath.map { String(cString: $0) }
    c.engine.configuration.tls.insecure = insecure != 0
    return 0
}

@_cdecl("NetStack_WebSocketClient_SetTimeouts")
public func NetStack_WebSocketClient_SetTimeouts(_ client: UnsafeMutablePointer<WebSocket>?, _ connectMs: UInt32,
                                                 _ pingIntervalMs: UInt32, _ pongTimeoutMs: UInt32) -> Int32 {
    let (c, rc) = Registry.lookup(client)
    guard let c = c else { return rc }
    if connectMs > 0 { c.engine.configuration.connectTimeout = .milliseconds(Int64(connectMs)) }
    c.engine.configuration.pingInterval = .milliseconds(Int64(pingIntervalMs))
    if pongTimeoutMs > 0 { c.engine.configuration.pongTimeout = .milliseconds(Int64(pongTimeoutMs)) }
    return 0
}
