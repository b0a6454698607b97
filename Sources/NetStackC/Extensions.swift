import CNetStackABI
import Foundation
import NIOCore
import NetStack

// netstack_ext.h: what the documented API cannot express.

private let versionString: UnsafeMutablePointer<CChar> = strdup(NetStackVersion.string)

@_cdecl("NetStack_Version")
public func NetStack_Version() -> UnsafePointer<CChar> { UnsafePointer(versionString) }

@_cdecl("NetStack_WebSocketClient_SendText")
public func NetStack_WebSocketClient_SendText(_ client: UnsafeMutablePointer<WebSocket>?, _ data: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
    sendMessage(client, data.map { UnsafeRawPointer($0) }, length, kind: .text)
}

@_cdecl("NetStack_WebSocketClient_SendBinary")
public func NetStack_WebSocketClient_SendBinary(_ client: UnsafeMutablePointer<WebSocket>?, _ data: UnsafeRawPointer?, _ length: Int) -> Int32 {
    sendMessage(client, data, length, kind: .binary)
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

@_cdecl("NetStack_WebSocketClient_SetBusyPoll")
public func NetStack_WebSocketClient_SetBusyPoll(_ client: UnsafeMutablePointer<WebSocket>?, _ microseconds: UInt32) -> Int32 {
    let (c, rc) = Registry.lookup(client)
    guard let c = c else { return rc }
    c.engine.configuration.busyPoll = .microseconds(Int64(microseconds))
    return 0
}

@_cdecl("NetStack_WebSocketClient_SetProxy")
public func NetStack_WebSocketClient_SetProxy(_ client: UnsafeMutablePointer<WebSocket>?, _ proxyURL: UnsafePointer<CChar>?) -> Int32 {
    let (c, rc) = Registry.lookup(client)
    guard let c = c else { return rc }
    guard let text = proxyURL.map({ String(cString: $0) }) else {
        c.engine.configuration.proxy = .environment
        return 0
    }
    if text.isEmpty {
        c.engine.configuration.proxy = .direct
        return 0
    }
    do {
        c.engine.configuration.proxy = .proxy(try WebSocketProxy(parsing: text))
        return 0
    } catch let e as WebSocketError {
        return e.code.rawValue
    } catch {
        return WebSocketErrCode.connectionParseURLError.rawValue
    }
}

@_cdecl("NetStack_WebSocketClient_SetFollowRedirects")
public func NetStack_WebSocketClient_SetFollowRedirects(_ client: UnsafeMutablePointer<WebSocket>?, _ maxRedirects: UInt32) -> Int32 {
    let (c, rc) = Registry.lookup(client)
    guard let c = c else { return rc }
    c.engine.configuration.followRedirects = Int(min(maxRedirects, 10))
    return 0
}

@_cdecl("NetStack_WebSocketClient_SetTLSControls")
public func NetStack_WebSocketClient_SetTLSControls(_ client: UnsafeMutablePointer<WebSocket>?, _ minVersion: UnsafePointer<CChar>?,
                                                    _ maxVersion: UnsafePointer<CChar>?, _ pins: UnsafePointer<CChar>?,
                                                    _ certFile: UnsafePointer<CChar>?, _ keyFile: UnsafePointer<CChar>?,
                                                    _ keyPassword: UnsafePointer<CChar>?) -> Int32 {
    let (c, rc) = Registry.lookup(client)
    guard let c = c else { return rc }
    var tls = c.engine.configuration.tls
    let failed = WebSocketErrCode.connectionError.rawValue
    if let v = minVersion.map({ String(cString: $0) }) {
        guard let parsed = WebSocketTLSVersion(rawValue: v) else { return failed }
        tls.minimumVersion = parsed
    }
    if let v = maxVersion.map({ String(cString: $0) }) {
        guard let parsed = WebSocketTLSVersion(rawValue: v) else { return failed }
        tls.maximumVersion = parsed
    }
    if let text = pins.map({ String(cString: $0) }) {
        let list = text.split(separator: ";").map { String($0) }
        guard (try? PublicKeyPins(list)) != nil else { return failed }
        tls.pinnedPublicKeys = list
    }
    if let f = certFile { tls.clientCertificateFile = String(cString: f) }
    if let f = keyFile { tls.clientKeyFile = String(cString: f) }
    if let p = keyPassword { tls.clientKeyPassword = String(cString: p) }
    c.engine.configuration.tls = tls
    return 0
}
