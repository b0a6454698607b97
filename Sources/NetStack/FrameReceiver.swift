import NIOCore

/// Kind of a data message.
public enum WebSocketMessageKind: Sendable, Equatable {
    case text
    case binary
}

/// The receiving half of the protocol, without I/O: frames in, events out.
///
/// It enforces, for the role it was made for: masking direction, reserved bits (RSV1 only with a
/// negotiated permessage-deflate and only on a message's first frame), known opcodes, control
/// frames at most 125 bytes and never fragmented, continuation order, UTF-8 of text messages
/// (checked as each fragment arrives, so bad text fails fast) and of close reasons, close codes,
/// and the message size limit (checked on frame headers, before payload is buffered, and on
/// inflated output, so a small compressed frame cannot expand past it).
package struct FrameReceiver {
    package enum Event {
        /// A whole message, as `onMessage` gets it (built here, so that it goes on to the callback
        /// borrowed, without a copy of its buffer).
        case message(WebSocketMessage)
        case ping(ByteBuffer)
        case pong(ByteBuffer)
        /// A valid close frame: code (nil when the payload was empty) and reason.
        case close(code: CloseCode?, reason: String)
        /// The peer broke the protocol: close with `closeCode` and report `error`.
        case failure(closeCode: CloseCode, error: WebSocketError)
    }

    /// What one call of `next` did.
    package enum Step {
        /// A frame (or a violation) produced an event.
        case event(Event)
        /// A frame was consumed without an event: a fragment of a message not yet complete.
        case consumed
        /// Nothing consumed: the next frame has not fully arrived.
        case needMore
    }

    let expectMaskedFrames: Bool
    let maxMessageSize: Int
    package var deflate: PerMessageDeflate?

    private var messageKind: WebSocketMessageKind? = nil
    private var messageCompressed = false
    private var assembled: ByteBuffer? = nil
    private var utf8 = UTF8Validator()
    /// Made where used, not stored (four function pointers per connection).
    private var allocator: ByteBufferAllocator { ByteBufferAllocator() }
    /// A whole message of at least this many bytes that arrives in one uncompressed frame in `next`
    /// is copied into storage of its own instead of being delivered as a slice of the caller's
    /// buffer. Payloads given to `completeFrame` are the caller's own and never copied; messages
    /// assembled from fragments or inflated always have their own storage.
    package var ownStorageFrom = Int.max
    /// Sees every whole frame (its header, and its payload unmasked) before it is handled: the
    /// frame trace. nil costs one check per frame.
    package var observeFrame: ((FrameHeader, ByteBuffer) -> Void)?
    /// UTF-8 progress through a text frame whose payload has only partly arrived, so invalid
    /// text fails before the rest of a large frame is read (Autobahn 6.4.3/6.4.4).
    private var partialText: (validated: Int, state: UTF8Validator)?

    /// Feeds the part of a text frame's payload not yet validated (the payload starts at
    /// `payloadAt` in `buffer`); a failure event when it cannot be UTF-8.
    private mutating func checkPartialText(_ h: FrameHeader, _ buffer: ByteBuffer, payloadAt: Int) -> Event? {
        let isText = (h.opcode == .text && h.rsv == 0 && messageKind == nil)
            || (h.opcode == .continuation && messageKind == .text && !messageCompressed && h.rsv == 0)
        guard isText else { return nil }
        let available = buffer.readableBytes - payloadAt
        var state = partialText?.state ?? (h.opcode == .continuation ? utf8 : UTF8Validator())
        let from = partialText?.validated ?? 0
        guard available > from else { return nil }
        let ok = buffer.withUnsafeReadableBytes { raw in
            let part = UnsafeRawBufferPointer(rebasing: raw[(payloadAt + from)..<(payloadAt + available)])
            guard let key = h.maskKey else { return state.feed(part) }
            // A client's frame (a server's receiver): unmasked a piece at a time into scratch
            // space, the key's phase following the payload offset.
            return withUnsafeTemporaryAllocation(byteCount: 1024, alignment: 8) { scratch in
                var offset = 0
                var phase = from & 3
                while offset < part.count {
                    let n = min(scratch.count, part.count - offset)
                    scratch.baseAddress!.copyMemory(from: part.baseAddress! + offset, byteCount: n)
                    phase = Masking.apply(key: key, to: scratch.baseAddress!, count: n, phase: phase)
                    guard state.feed(UnsafeRawBufferPointer(rebasing: scratch[0..<n])) else { return false }
                    offset += n
                }
                return true
            }
        }
        partialText = (available, state)
        if ok { return nil }
        partialText = nil
        messageKind = nil
        return fail(CloseCode.invalidPayload, "invalid UTF-8 in a text message")
    }

    package init(expectMaskedFrames: Bool, maxMessageSize: Int, deflate: PerMessageDeflate? = nil) {
        self.expectMaskedFrames = expectMaskedFrames
        self.maxMessageSize = maxMessageSize
        self.deflate = deflate
    }

    private func fail(_ close: CloseCode, _ message: String, code: WebSocketErrCode = .protocolError) -> Event {
        .failure(closeCode: close, error: WebSocketError(code, message))
    }

    /// For a frame whose header `next` accepted (it returned nil for want of payload bytes) and
    /// whose payload the caller collects on its own: checks the part that has arrived as `next`
    /// does (text fails as soon as it cannot be UTF-8). A failure event, or nil.
    package mutating func checkPartialPayload(_ header: FrameHeader, _ payload: ByteBuffer) -> Event? {
        checkPartialText(header, payload, payloadAt: 0)
    }

    /// Completes such a frame once its payload is whole: the checks and the step `next` would have
    /// given for the whole frame (`.event` or `.consumed`). The payload is delivered as it is, never copied.
    package mutating func completeFrame(_ header: FrameHeader, payload: ByteBuffer) -> Step {
        partialText = nil
        var payload = payload
        if let key = header.maskKey, header.payloadLength > 0 {
            payload.withUnsafeMutableReadableBytes { raw in
                _ = Masking.apply(key: key, to: raw.baseAddress!, count: raw.count)
            }
        }
        return Self.step(handle(header, payload, callerOwnsPayload: true))
    }

    /// Static: an instance method here would, in unoptimized builds, take a copy of the receiver
    /// (and so a second reference to the message being assembled) before `handle` runs, and every
    /// append would then copy the whole message.
    @inline(__always)
    private static func step(_ event: consuming Event?) -> Step {
        if let e = event { return .event(e) }
        return .consumed
    }

    private enum HeaderRead {
        case needMore, wrongMask, tooLarge(Int), badLength
        /// `validText`: for a whole unmasked single-frame text message in the buffer, whether its
        /// payload is UTF-8, checked while the bytes are at hand (one access to the buffer's
        /// storage per message instead of two); nil when not checked here.
        case header(FrameHeader, validText: Bool?)
    }

    /// Consumes at most one frame from `buffer`: its event, `.consumed` for a frame without one
    /// (a non-final fragment), or `.needMore` when the next frame has not fully arrived. After a
    /// failure event the receiver is not to be fed again.
    package mutating func next(from buffer: inout ByteBuffer) -> Step {
        // One access to the buffer's bytes for the mask bit and the header. The mask bit decides
        // before anything else whether this peer may send the frame.
        let expectMasked = expectMaskedFrames, limit = maxMessageSize
        let read: HeaderRead = buffer.withUnsafeReadableBytes { raw in
            guard raw.count >= 2 else { return .needMore }
            if (raw[1] & 0x80 != 0) != expectMasked { return .wrongMask }
            do {
                guard let h = try FrameParser.parseHeader(raw, maxFrameSize: limit) else { return .needMore }
                guard h.opcode == .text, h.fin, h.rsv == 0, h.maskKey == nil, raw.count - h.headerLength >= h.payloadLength else {
                    return .header(h, validText: nil)
                }
                let payload = UnsafeRawBufferPointer(rebasing: raw[h.headerLength..<(h.headerLength + h.payloadLength)])
                return .header(h, validText: UTF8Validator.isValid(payload))
            } catch FrameParseError.frameTooLarge(let n) {
                return .tooLarge(n)
            } catch {
                return .badLength
            }
        }
        let header: FrameHeader, validText: Bool?
        switch read {
        case .needMore:
            return .needMore
        case .wrongMask:
            return .event(fail(CloseCode.protocolError, expectMaskedFrames ? "unmasked frame from a client" : "masked frame from the server"))
        case .tooLarge(let n):
            return .event(fail(CloseCode.messageTooBig, "incoming frame of \(n) bytes exceeds the limit of \(maxMessageSize) bytes", code: .dataLengthExceeded))
        case .badLength:
            return .event(fail(CloseCode.protocolError, "invalid frame length"))
        case .header(let h, let valid):
            header = h
            validText = valid
        }
        guard buffer.readableBytes >= header.headerLength + header.payloadLength else {
            if let violation = headerViolation(header) { return .event(violation) }
            if let failure = checkPartialText(header, buffer, payloadAt: header.headerLength) {
                return .event(failure)
            }
            return .needMore
        }
        partialText = nil
        buffer.moveReaderIndex(forwardBy: header.headerLength)
        var payload = Self.takePayload(&buffer, length: header.payloadLength)
        if let key = header.maskKey, header.payloadLength > 0 {
            payload.withUnsafeMutableReadableBytes { raw in
                _ = Masking.apply(key: key, to: raw.baseAddress!, count: raw.count)
            }
        }
        return Self.step(handle(header, payload, callerOwnsPayload: false, validText: validText))
    }

    /// Finds, in one access to `buffer`'s bytes, the whole messages at its front that `next`
    /// would turn into `.message` events with nothing else to check or do: final, unmasked,
    /// uncompressed text or binary frames, complete in the buffer, within the size limit, below
    /// `ownStorageFrom`, text valid UTF-8, with no fragmented message in progress. Consumes
    /// nothing. It stops at the first frame that is anything else (a control frame, a fragment, a
    /// violation, a frame not yet whole), which `next` then handles. Only for a receiver of
    /// unmasked frames, without a frame observer; otherwise it finds nothing.
    package func scanWholeMessages(in buffer: ByteBuffer, into batch: inout WholeMessageBatch) {
        guard !expectMaskedFrames, messageKind == nil, observeFrame == nil else { return }
        let limit = min(maxMessageSize, ownStorageFrom - 1)
        buffer.withUnsafeReadableBytes { raw in
            var at = 0
            while !batch.isFull, raw.count - at >= 2 {
                let b0 = raw[at], b1 = raw[at + 1]
                // FIN, no RSV bits, text (0x1) or binary (0x2); mask bit clear.
                guard b0 == 0x81 || b0 == 0x82, b1 & 0x80 == 0 else { return }
                var length = Int(b1)
                var headerLength = 2
                if length == 126 {
                    guard raw.count - at >= 4 else { return }
                    length = Int(raw[at + 2]) << 8 | Int(raw[at + 3])
                    headerLength = 4
                } else if length == 127 {
                    guard raw.count - at >= 10 else { return }
                    var l64: UInt64 = 0
                    for i in 2..<10 { l64 = l64 << 8 | UInt64(raw[at + i]) }
                    guard l64 <= UInt64(max(limit, 0)) else { return }
                    length = Int(l64)
                    headerLength = 10
                }
                guard length <= limit, raw.count - at - headerLength >= length else { return }
                let start = at + headerLength
                if b0 == 0x81 {
                    guard UTF8Validator.isValid(UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])) else { return }
                }
                batch.append(headerLength: headerLength, payloadLength: length, kind: b0 == 0x81 ? .text : .binary)
                at = start + length
            }
        }
    }

    /// The whole messages `scanWholeMessages` found are being taken: a frame that was partly
    /// validated (`checkPartialText`) has now arrived whole.
    package mutating func takingWholeMessages() {
        partialText = nil
    }

    /// The next `length` bytes as a slice of `buffer`. For a payload long enough to be lent
    /// (`NULTerminatedBytes.minimumLength`) with a byte after it in the buffer, the slice's
    /// capacity covers that byte (its writer index stays at the payload's end), so the payload can
    /// be lent to C with a NUL after it without a copy.
    @inline(__always)
    static func takePayload(_ buffer: inout ByteBuffer, length: Int) -> ByteBuffer {
        let index = buffer.readerIndex
        defer { buffer.moveReaderIndex(forwardBy: length) }
        if length >= NULTerminatedBytes.minimumLength, buffer.writerIndex - index > length,
           var slice = buffer.getSlice(at: index, length: length + 1) {
            slice.moveWriterIndex(to: length)
            return slice
        }
        return buffer.getSlice(at: index, length: length)!
    }

    /// The rules a frame's header decides on its own, given the message in progress (RFC 6455
    /// §5.2, §5.4, §5.5): reserved bits, control frames, fragmentation order, opcodes. Checked as
    /// soon as the header has arrived, so a frame that breaks them fails before its payload is
    /// waited for (a server that declares a large payload cannot hold the failure back).
    @inline(__always)
    private func headerViolation(_ h: FrameHeader) -> Event? {
        let rsv1 = h.rsv & 0b100 != 0
        if h.rsv & 0b011 != 0 { return fail(CloseCode.protocolError, "reserved bits RSV2/RSV3 set") }
        switch h.opcode {
        case .close, .ping, .pong:
            if !h.fin { return fail(CloseCode.protocolError, "fragmented control frame") }
            if h.payloadLength > 125 { return fail(CloseCode.protocolError, "control frame payload over 125 bytes") }
            if rsv1 { return fail(CloseCode.protocolError, "RSV1 set on a control frame") }
        case .text, .binary:
            if messageKind != nil { return fail(CloseCode.protocolError, "new data frame while a fragmented message is open") }
            if rsv1 && deflate == nil { return fail(CloseCode.protocolError, "RSV1 set but no extension was negotiated") }
        case .continuation:
            guard messageKind != nil else { return fail(CloseCode.protocolError, "continuation frame without a message to continue") }
            if rsv1 { return fail(CloseCode.protocolError, "RSV1 set on a continuation frame") }
        default:
            return fail(CloseCode.protocolError, "unknown opcode \(h.opcode)")
        }
        return nil
    }

    private mutating func handle(_ h: FrameHeader, _ payload: consuming ByteBuffer, callerOwnsPayload: Bool, validText: Bool? = nil) -> Event? {
        if let observe = observeFrame { observe(h, payload) }
        if let violation = headerViolation(h) { return violation }
        let rsv1 = h.rsv & 0b100 != 0
        switch h.opcode {
        case .close, .ping, .pong:
            switch h.opcode {
            case .ping: return .ping(payload)
            case .pong: return .pong(payload)
            default: return parseClose(payload)
            }
        case .text, .binary:
            let kind: WebSocketMessageKind = h.opcode == .text ? .text : .binary
            if h.fin && !rsv1 {
                // The common case: a whole, uncompressed message in one frame.
                if kind == .text {
                    let ok = validText ?? payload.withUnsafeReadableBytes { UTF8Validator.isValid($0) }
                    if !ok { return fail(CloseCode.invalidPayload, "invalid UTF-8 in a text message") }
                }
                if !callerOwnsPayload, payload.readableBytes >= ownStorageFrom {
                    var own = allocator.buffer(capacity: payload.readableBytes)
                    own.writeImmutableBuffer(payload)
                    return .message(WebSocketMessage(kind: kind, data: own))
                }
                return .message(WebSocketMessage(kind: kind, data: payload))
            }
            messageKind = kind
            messageCompressed = rsv1
            utf8.reset()
            assembled = nil
            return appendFragment(payload, fin: h.fin)
        default:
            // Continuation (headerViolation refused every other opcode).
            return appendFragment(payload, fin: h.fin)
        }
    }

    /// The message so far (or a new buffer of `capacity`), left nil in its place.
    private mutating func takeAssembled(orNew capacity: Int) -> ByteBuffer {
        if let b = assembled {
            assembled = nil
            return b
        }
        return allocator.buffer(capacity: capacity)
    }

    private mutating func appendFragment(_ payload: ByteBuffer, fin: Bool) -> Event? {
        let kind = messageKind!
        let previous = assembled?.readableBytes ?? 0
        // The message so far is taken out of `assembled` while it grows: with a second reference
        // to its storage, every append would copy the whole message (copy on write), which made a
        // message sent in many small fragments quadratic (a compressed 40 MB message in 2,488
        // fragments took 15 s).
        if messageCompressed, let deflate = deflate {
            var out = takeAssembled(orNew: min(maxMessageSize, max(256, payload.readableBytes * 4)))
            do {
                try payload.withUnsafeReadableBytes { raw in
                    try deflate.decompress(raw, final: fin, into: &out, limit: maxMessageSize)
                }
            } catch PerMessageDeflate.InflateError.tooLarge {
                messageKind = nil
                assembled = nil
                return fail(CloseCode.messageTooBig, "inflated message exceeds the limit of \(maxMessageSize) bytes", code: .dataLengthExceeded)
            } catch {
                messageKind = nil
                assembled = nil
                return fail(CloseCode.invalidPayload, "permessage-deflate: corrupt compressed data (\(error))")
            }
            assembled = out
        } else {
            if previous + payload.readableBytes > maxMessageSize {
                messageKind = nil
                assembled = nil
                return fail(CloseCode.messageTooBig, "incoming message exceeds the limit of \(maxMessageSize) bytes", code: .dataLengthExceeded)
            }
            var b = takeAssembled(orNew: max(payload.readableBytes * 2, 256))
            var p = payload
            b.writeBuffer(&p)
            assembled = b
        }
        if kind == .text {
            let ok = assembled!.withUnsafeReadableBytes { raw -> Bool in
                utf8.feed(UnsafeRawBufferPointer(rebasing: raw[previous...]))
            }
            if !ok || (fin && !utf8.isComplete) {
                messageKind = nil
                assembled = nil
                return fail(CloseCode.invalidPayload, "invalid UTF-8 in a text message")
            }
        }
        guard fin else { return nil }
        let message = assembled!
        messageKind = nil
        assembled = nil
        return .message(WebSocketMessage(kind: kind, data: message))
    }

    private func parseClose(_ payload: ByteBuffer) -> Event {
        var p = payload
        if p.readableBytes == 0 { return .close(code: nil, reason: "") }
        if p.readableBytes == 1 { return fail(CloseCode.protocolError, "close frame with a 1-byte payload") }
        let code = CloseCode(rawValue: p.readInteger(as: UInt16.self)!)
        guard code.isValidOnWire else { return fail(CloseCode.protocolError, "invalid close code \(code)") }
        let ok = p.withUnsafeReadableBytes { UTF8Validator.isValid($0) }
        guard ok else { return fail(CloseCode.invalidPayload, "invalid UTF-8 in the close reason") }
        return .close(code: code, reason: p.readString(length: p.readableBytes) ?? "")
    }
}
