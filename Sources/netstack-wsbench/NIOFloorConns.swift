import Foundation
import NIOCore
import NIOPosix

/// `nio-conns URL N SIZE CONNS`: the conns workload without the engine, as a floor to measure the
/// engine against. Each connection is a bare NIO channel (ClientBootstrap, connected to the
/// resolved address as the engine connects) with one handler that writes a fixed upgrade request,
/// takes whatever arrives first as the 101 (nothing is parsed or checked), sends one masked text
/// frame of SIZE bytes and counts the next read as its echo. What is left of the engine's cost
/// per connection over this is ours; what this costs is NIO's and the kernel's.
enum NIOFloorConns {
    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let request: String
        let frame: [UInt8]
        let echoed: () -> Void
        var upgraded = false

        init(request: String, frame: [UInt8], echoed: @escaping () -> Void) {
            self.request = request
            self.frame = frame
            self.echoed = echoed
        }

        func channelActive(context: ChannelHandlerContext) {
            var b = context.channel.allocator.buffer(capacity: request.utf8.count)
            b.writeString(request)
            context.writeAndFlush(wrapOutboundOut(b), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if upgraded { return echoed() }
            upgraded = true
            var b = context.channel.allocator.buffer(capacity: frame.count)
            b.writeBytes(frame)
            context.writeAndFlush(wrapOutboundOut(b), promise: nil)
        }
    }

    /// Opens `conns` channels to `host:port` and returns the seconds until the last echo.
    static func run(host: String, port: Int, path: String, size: Int, conns: Int, group: EventLoopGroup) throws -> Double {
        let address = try SocketAddress(ipAddress: host, port: port)
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        precondition(size < 126, "nio-conns: SIZE must be below 126")
        let frame: [UInt8] = [0x81, 0x80 | UInt8(size), 0, 0, 0, 0] + [UInt8](repeating: UInt8(ascii: "x"), count: size)
        let lock = NSLock()
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var count = 0
        nonisolated(unsafe) var t1: UInt64 = 0
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<conns {
            _ = ClientBootstrap(group: group).channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(request: request, frame: frame) {
                        let last = lock.withLock { () -> Bool in
                            count += 1
                            if count == conns { t1 = DispatchTime.now().uptimeNanoseconds }
                            return count == conns
                        }
                        if last { done.signal() }
                    })
                }
            }.connect(to: address)
        }
        done.wait()
        return Double(t1 - t0) / 1e9
    }
}
