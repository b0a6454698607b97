import COpenSSL
import NIOCore

/// One HTTP header field added to the opening handshake.
public struct WebSocketHeader: Hashable, Sendable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Validation of user-supplied handshake headers.
public enum HeaderValidation {
    /// Headers the engine writes itself; a user header with one of these names is rejected
    /// (`Sec-WebSocket-Protocol` is allowed: it adds to the subprotocol offer).
    public static let reserved: Set<String> = [
        "host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
        "sec-websocket-extensions", "sec-websocket-accept", "content-length", "transfer-encoding",
    ]

    /// RFC 7230 token characters.
    static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }

    /// Checks one header: the name is a non-empty token, the value has no CR, LF, NUL or other
    /// control bytes (except tab), and the name is not reserved.
    /// Errors carry `WEBSOCKET_NO_HEADER_CONTEXT` (1015, "header is abnormal").
    public static func validate(_ h: WebSocketHeader) throws {
        func fail(_ why: String) -> WebSocketError { WebSocketError(.noHeaderContext, "invalid header: \(why)") }
        if h.name.isEmpty { throw fail("empty name") }
        for c in h.name.utf8 where !isTokenByte(c) {
            if c == 0x0D || c == 0x0A || c == 0 { throw fail("CR, LF or NUL in the name '\(escaped(h.name))' (header injection)") }
            throw fail("name '\(escaped(h.name))' is not an HTTP token")
        }
        for c in h.value.utf8 where (c < 0x20 && c != 0x09) || c == 0x7F {
            if c == 0x0D || c == 0x0A || c == 0 {
                throw fail("CR, LF or NUL in the value of '\(h.name)' (header injection)")
            }
            throw fail("control character in the value of '\(h.name)'")
        }
        if reserved.contains(h.name.lowercased()) {
            throw fail("'\(h.name)' is set by the WebSocket handshake and cannot be overridden")
        }
    }

    static func escaped(_ s: String) -> String {
        s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\x" + String($0.value, radix: 16) : String($0) }.joined()
    }
}

/// The opening handshake, client side: building the request and checking the response (RFC 6455 §4).
package final class ClientHandshake: Sendable {
    let url: WebSocketURL
    let key: String
    let protocols: [String]
    let headers: [WebSocketHeader]
    let deflateOffer: PerMessageDeflateParameters?
    let userAgent: String?

    /// A class (immutable): the connection and its upgrade handler share one while connecting,
    /// instead of a copy each.
    package init(url: WebSocketURL, key: String, protocols: [String], headers: [WebSocketHeader],
                 deflateOffer: PerMessageDeflateParameters?, userAgent: String?) {
        self.url = url
        self.key = key
        self.protocols = protocols
        self.headers = headers
        self.deflateOffer = deflateOffer
        self.userAgent = userAgent
    }

    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// 16 random bytes, base64: from the thread's buffered CSPRNG output (the same source as
    /// the masking keys), not a CSPRNG call per handshake.
    static func makeKey() -> String {
        let source = MaskKeySource.forCurrentThread()
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<4 {
            let k = source.nextKey()
            bytes[4 * i] = UInt8(truncatingIfNeeded: k)
            bytes[4 * i + 1] = UInt8(truncatingIfNeeded: k >> 8)
            bytes[4 * i + 2] = UInt8(truncatingIfNeeded: k >> 16)
            bytes[4 * i + 3] = UInt8(truncatingIfNeeded: k >> 24)
        }
        return Base64.encode(bytes)
    }

    package static func acceptValue(forKey key: String) -> String {
        // The key and the GUID hashed from one stack buffer (no joined string, no arrays).
        var key = key
        return key.withUTF8 { k in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: k.count + 36 + 20) { buffer in
                let input = UnsafeMutableBufferPointer(rebasing: buffer[0..<(k.count + 36)])
                _ = input.initialize(fromContentsOf: k)
                var guid = guid
                guid.withUTF8 { g in _ = UnsafeMutableBufferPointer(rebasing: input[k.count...]).initialize(fromContentsOf: g) }
                let digest = UnsafeMutableBufferPointer(rebasing: buffer[(k.count + 36)...])
                netstack_sha1(input.baseAddress, input.count, digest.baseAddress)
                return Base64.encode(UnsafeBufferPointer(digest))
            }
        }
    }

    func writeRequest(into buffer: inout ByteBuffer) {
        // Piece by piece: no intermediate strings.
        buffer.writeStaticString("GET ")
        buffer.writeString(url.requestTarget)
        buffer.writeStaticString(" HTTP/1.1\r\nHost: ")
        let bracket = url.host.utf8.contains(0x3A)
        if bracket { buffer.writeStaticString("[") }
        buffer.writeString(url.host)
        if bracket { buffer.writeStaticString("]") }
        if url.hasExplicitPort || url.port != (url.isSecure ? 443 : 80) {
            buffer.writeStaticString(":")
            buffer.writeString(String(url.port))
        }
        buffer.writeStaticString("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ")
        buffer.writeString(key)
        buffer.writeStaticString("\r\nSec-WebSocket-Version: 13\r\n")
        if !protocols.isEmpty {
            buffer.writeStaticString("Sec-WebSocket-Protocol: ")
            buffer.writeString(protocols.joined(separator: ", "))
            buffer.writeStaticString("\r\n")
        }
        if let offer = deflateOffer {
            buffer.writeStaticString("Sec-WebSocket-Extensions: ")
            buffer.writeString(offer.offerHeaderValue)
            buffer.writeStaticString("\r\n")
        }
        var hasUserAgent = false
        for h in headers {
            if UpgradeResponseHead.sameName(h.name, "user-agent") { hasUserAgent = true }
            buffer.writeString(h.name)
            buffer.writeStaticString(": ")
            buffer.writeString(h.value)
            buffer.writeStaticString("\r\n")
        }
        if !hasUserAgent, let ua = userAgent {
            buffer.writeStaticString("User-Agent: ")
            buffer.writeString(ua)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    /// What a 101 response agreed to.
    struct Agreement {
        var statusCode: Int
        var reason: String
        var protocolName: String?
        var deflate: PerMessageDeflateParameters?
        var headers: [WebSocketHeader]
    }

    /// Checks a parsed 101 response. Errors carry `WEBSOCKET_PROTOCOL_ERROR` and say what was wrong.
    func validate(_ response: UpgradeResponseHead) throws -> Agreement {
        func fail(_ why: String) -> WebSocketError {
            WebSocketError(.protocolError, "handshake failed: \(why) (\(response.statusLine))")
        }
        guard response.statusCode == 101 else { throw fail("status is not 101") }
        // An upgrade exists only in HTTP/1.1 (RFC 6455 §4.1 and §4.2.2, RFC 9110 §7.8).
        guard response.minorVersion == 1 else { throw fail("a 101 answer must be HTTP/1.1") }
        // No whitespace between a field name and its colon (RFC 9112 §5.1): such a line would
        // otherwise be a header of another name, and the failure would name a missing header.
        if let bad = response.headers.first(where: { $0.name.utf8.last == 0x20 || $0.name.utf8.last == 0x09 }) {
            throw fail("malformed header line '\(bad.name): \(bad.value)' (whitespace before the colon)")
        }
        // The headers checked here, found in one pass (names compare ASCII case-insensitively).
        var upgrade: String?, connection: String?
        var accept: String?, accepts = 0, chosenProtocol: String?, protocolHeaders = 0
        var extensions: [String] = []
        for h in response.headers {
            if UpgradeResponseHead.sameName(h.name, "upgrade") {
                if upgrade == nil { upgrade = h.value }
            } else if UpgradeResponseHead.sameName(h.name, "connection") {
                if connection == nil { connection = h.value }
            } else if UpgradeResponseHead.sameName(h.name, "sec-websocket-accept") {
                if accepts == 0 { accept = h.value }
                accepts += 1
            } else if UpgradeResponseHead.sameName(h.name, "sec-websocket-protocol") {
                if protocolHeaders == 0 { chosenProtocol = h.value }
                protocolHeaders += 1
            } else if UpgradeResponseHead.sameName(h.name, "sec-websocket-extensions") {
                extensions.append(h.value)
            }
        }
        guard let upgrade = upgrade, UpgradeResponseHead.sameName(upgrade, "websocket") else {
            throw fail("missing or wrong Upgrade header")
        }
        guard let connection = connection, UpgradeResponseHead.listContains(connection, "upgrade") else {
            throw fail("missing or wrong Connection header")
        }
        guard let accept = accept else { throw fail("missing Sec-WebSocket-Accept") }
        guard accepts == 1 else { throw fail("more than one Sec-WebSocket-Accept header") }
        let expected = Self.acceptValue(forKey: key)
        // Header values arrive trimmed (UpgradeResponseHead.parse).
        guard accept == expected else {
            throw fail("Sec-WebSocket-Accept is '\(accept)', expected '\(expected)'")
        }
        var chosen: String? = nil
        if protocolHeaders > 1 { throw fail("more than one Sec-WebSocket-Protocol header") }
        if let name = chosenProtocol {
            guard protocols.contains(name) else { throw fail("server chose subprotocol '\(name)', which was not offered") }
            chosen = name
        }
        var deflate: PerMessageDeflateParameters? = nil
        for value in extensions {
            for element in ExtensionHeader.parse(value) {
                guard element.name.lowercased() == "permessage-deflate", let offer = deflateOffer else {
                    throw fail("server enabled extension '\(element.name)', which was not offered")
                }
                if deflate != nil { throw fail("permessage-deflate enabled twice") }
                let agreed = try PerMessageDeflateParameters.parse(parameters: element.parameters, isServerResponse: true)
                if offer.clientMaxWindowBits == nil, agreed.clientMaxWindowBits != nil {
                    throw fail("server set client_max_window_bits, which was not offered")
                }
                deflate = agreed
            }
        }
        return Agreement(statusCode: response.statusCode, reason: response.reason, protocolName: chosen,
                         deflate: deflate, headers: response.headers)
    }
}

/// A parsed HTTP/1.1 response head.
package struct UpgradeResponseHead {
    package var statusLine: String
    package var statusCode: Int
    /// The x of "HTTP/1.x" (a 101 must be HTTP/1.1: an upgrade is an HTTP/1.1 mechanism).
    var minorVersion: Int
    var reason: String
    var headers: [WebSocketHeader]

    /// An interim answer (1xx other than 101 Switching Protocols), to be skipped.
    var isInterim: Bool { statusCode >= 100 && statusCode < 200 && statusCode != 101 }

    /// `name` is lowercase; header names compare ASCII case-insensitively.
    func value(of name: String) -> String? { headers.first(where: { Self.sameName($0.name, name) })?.value }

    /// Whether the comma-separated list `value` (a header's value, as `Connection: keep-alive,
    /// Upgrade`) has an element equal to `lowercased`, ASCII case-insensitively, with the spaces
    /// and tabs around each element ignored (RFC 9110 §5.6.1). On the bytes: no substrings.
    package static func listContains(_ value: String, _ lowercased: String) -> Bool {
        var value = value, token = lowercased
        return value.withUTF8 { v in
            token.withUTF8 { t in
                var start = 0
                while start <= v.count {
                    var end = start
                    while end < v.count && v[end] != UInt8(ascii: ",") { end += 1 }
                    var a = start, b = end
                    while a < b && (v[a] == 0x20 || v[a] == 0x09) { a += 1 }
                    while b > a && (v[b - 1] == 0x20 || v[b - 1] == 0x09) { b -= 1 }
                    if equalsLowercased(UnsafeBufferPointer(rebasing: v[a..<b]), t) { return true }
                    start = end + 1
                }
                return false
            }
        }
    }

    /// ASCII case-insensitive equality with a name already in lower case, on the UTF-8 bytes of
    /// both strings (`withUTF8` gives contiguous bytes, copying only a bridged string); iterating
    /// two `utf8` views in a `zip` cost about 6,000 instructions per handshake check (callgrind).
    static func sameName(_ a: String, _ lowercased: String) -> Bool {
        guard a.utf8.count == lowercased.utf8.count else { return false }
        var a = a, b = lowercased
        return a.withUTF8 { x in b.withUTF8 { y in equalsLowercased(x, y) } }
    }

    /// Whether `bytes` equal `lowercased` with ASCII A-Z folded to a-z (no other folding).
    @inline(__always)
    static func equalsLowercased(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercased: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == lowercased.count else { return false }
        for i in 0..<bytes.count {
            let c = bytes[i]
            if ((c >= 0x41 && c <= 0x5A) ? c | 0x20 : c) != lowercased[i] { return false }
        }
        return true
    }

    package enum ParseResult {
        case needMore
        case head(UpgradeResponseHead, consumed: Int)
        case invalid(String)
    }

    /// Parses a response head from the start of `bytes`. Lines end at CRLF, or at a bare LF
    /// (RFC 9112 §2.2 lets a recipient accept one; servers that send them exist); the head ends at
    /// the first empty line. A header line that starts with a space or tab continues the one
    /// before (obs-fold, replaced by one space as RFC 9112 §5.2 asks of user agents). Control
    /// characters other than tab (NUL, a bare CR, DEL...) make a header line malformed; the
    /// status line is kept as it came (its reason is shown, escaped, in errors).
    /// `searched`: how many bytes at the start are known to hold no end of the head (a caller
    /// that appends reads and parses again passes what it had before), so a head that arrives a
    /// byte at a time is scanned once, not once per read.
    package static func parse(_ bytes: UnsafeRawBufferPointer, maxSize: Int, searched: Int = 0) -> ParseResult {
        let n = bytes.count
        // `end`: where the last line's content ends; `consumed`: just past the empty line.
        var end = -1, consumed = 0
        // The terminator is at most three bytes: start two before the new bytes.
        var i = max(0, min(searched, n) - 2)
        while i < n {
            if bytes[i] == 10 {
                if i + 1 < n && bytes[i + 1] == 10 { end = i; consumed = i + 2; break }
                if i + 2 < n && bytes[i + 1] == 13 && bytes[i + 2] == 10 { end = i; consumed = i + 3; break }
            }
            i += 1
        }
        if end < 0 {
            if n > maxSize { return .invalid("response head larger than \(maxSize) bytes") }
            if n >= 5 && !(bytes[0] == UInt8(ascii: "H") && bytes[1] == UInt8(ascii: "T")) {
                return .invalid("not an HTTP response: \(preview(bytes))")
            }
            return .needMore
        }
        if consumed > maxSize { return .invalid("response head larger than \(maxSize) bytes") }
        // The work is on bytes (Character-level splitting and trimming cost ~100k instructions
        // per handshake); strings are made only for the parts kept.
        func text(_ lo: Int, _ hi: Int) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[lo..<hi]), as: UTF8.self) }
        func hasControl(_ lo: Int, _ hi: Int) -> Bool {
            for j in lo..<hi where (bytes[j] < 0x20 && bytes[j] != 0x09) || bytes[j] == 0x7F { return true }
            return false
        }
        var lines: [(Int, Int)] = []
        var lineStart = 0
        i = 0
        while i <= end {
            if i == end || bytes[i] == 10 {
                lines.append((lineStart, i > lineStart && bytes[i - 1] == 13 ? i - 1 : i))
                lineStart = i + 1
            }
            i += 1
        }
        let (statusStart, statusEnd) = lines[0]
        let statusLine = text(statusStart, statusEnd)
        // "HTTP/1." DIGIT SP 3DIGIT [SP reason] (RFC 9112 §2.3, §4)
        var firstSpace = statusStart
        while firstSpace < statusEnd && bytes[firstSpace] != 0x20 { firstSpace += 1 }
        let codeStart = firstSpace + 1
        let codeEnd = min(statusEnd, codeStart + 3)
        guard firstSpace - statusStart == 8, text(statusStart, statusStart + 7) == "HTTP/1.",
              bytes[statusStart + 7] >= 0x30 && bytes[statusStart + 7] <= 0x39, codeEnd - codeStart == 3,
              (codeEnd == statusEnd || bytes[codeEnd] == 0x20),
              (codeStart..<codeEnd).allSatisfy({ bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }) else {
            return .invalid("malformed status line '\(statusLine)'")
        }
        let code = (codeStart..<codeEnd).reduce(0) { $0 * 10 + Int(bytes[$1] - 0x30) }
        let reason = codeEnd < statusEnd ? text(codeEnd + 1, statusEnd) : ""
        var headers: [WebSocketHeader] = []
        headers.reserveCapacity(lines.count - 1)
        func trimmed(_ lo: Int, _ hi: Int) -> (Int, Int) {
            var lo = lo, hi = hi
            while lo < hi && (bytes[lo] == 0x20 || bytes[lo] == 0x09) { lo += 1 }
            while hi > lo && (bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09) { hi -= 1 }
            return (lo, hi)
        }
        for (lo, hi) in lines.dropFirst() where hi > lo {
            guard !hasControl(lo, hi) else { return .invalid("malformed header line '\(TerminalText.sanitize(text(lo, hi), keepNewlines: false))' (a control character)") }
            if bytes[lo] == 0x20 || bytes[lo] == 0x09 {
                guard let last = headers.popLast() else { return .invalid("malformed header line '\(text(lo, hi))'") }
                let (vlo, vhi) = trimmed(lo, hi)
                let joined = last.value.isEmpty ? text(vlo, vhi) : vlo < vhi ? last.value + " " + text(vlo, vhi) : last.value
                headers.append(WebSocketHeader(last.name, joined))
                continue
            }
            var colon = lo
            while colon < hi && bytes[colon] != 0x3A { colon += 1 }
            guard colon < hi, colon > lo else { return .invalid("malformed header line '\(text(lo, hi))'") }
            let (vlo, vhi) = trimmed(colon + 1, hi)
            headers.append(WebSocketHeader(text(lo, colon), text(vlo, vhi)))
        }
        return .head(UpgradeResponseHead(statusLine: statusLine, statusCode: code, minorVersion: Int(bytes[statusStart + 7] - 0x30),
                                         reason: reason, headers: headers), consumed: consumed)
    }

    static func preview(_ bytes: UnsafeRawBufferPointer, limit: Int = 64) -> String {
        let slice = bytes.prefix(limit)
        return String(decoding: slice.map { ($0 >= 0x20 && $0 < 0x7F) ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
    }
}

/// `Sec-WebSocket-Extensions` parsing (RFC 6455 §9.1): comma-separated elements, each a name
/// followed by `; param[=value]` pairs. Quoted values are unquoted.
package enum ExtensionHeader {
    package struct Element { package var name: String; package var parameters: [(String, String?)] }

    package static func parse(_ value: String) -> [Element] {
        value.split(separator: ",").compactMap { raw in
            let parts = raw.split(separator: ";").map { $0.trimmingCharacters(in: " \t") }
            guard let name = parts.first, !name.isEmpty else { return nil }
            let params: [(String, String?)] = parts.dropFirst().map { p in
                if let eq = p.firstIndex(of: "=") {
                    var v = p[p.index(after: eq)...].trimmingCharacters(in: " \t")
                    if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
                    return (p[..<eq].trimmingCharacters(in: " \t"), v)
                }
                return (p, nil)
            }
            return Element(name: name, parameters: params)
        }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        if set.utf8.allSatisfy({ $0 < 0x80 }) {
            // ASCII set: trim on bytes (no grapheme breaking).
            let u = Array(utf8)
            let chars = Set(set.utf8)
            var lo = 0, hi = u.count
            while lo < hi && chars.contains(u[lo]) { lo += 1 }
            while hi > lo && chars.contains(u[hi - 1]) { hi -= 1 }
            return lo == 0 && hi == u.count ? self : String(decoding: u[lo..<hi], as: UTF8.self)
        }
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}

/// Base64 (RFC 4648) without Foundation.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let b = Array(bytes)
        let count = (b.count + 2) / 3 * 4
        return String(unsafeUninitializedCapacity: count) { out in
            alphabet.withUnsafeBufferPointer { a in
                var i = 0, o = 0
                while i + 2 < b.count {
                    let v = UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2])
                    out[o] = a[Int(v >> 18 & 63)]; out[o + 1] = a[Int(v >> 12 & 63)]
                    out[o + 2] = a[Int(v >> 6 & 63)]; out[o + 3] = a[Int(v & 63)]
                    i += 3; o += 4
                }
                let rest = b.count - i
                if rest > 0 {
                    let v = UInt32(b[i]) << 16 | (rest == 2 ? UInt32(b[i + 1]) << 8 : 0)
                    out[o] = a[Int(v >> 18 & 63)]; out[o + 1] = a[Int(v >> 12 & 63)]
                    out[o + 2] = rest == 2 ? a[Int(v >> 6 & 63)] : UInt8(ascii: "=")
                    out[o + 3] = UInt8(ascii: "=")
                }
            }
            return count
        }
    }

    public static func decode(_ string: String) -> [UInt8]? {
        var lookup = [Int](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { lookup[Int(c)] = i }
        var out = [UInt8]()
        var acc = 0, bits = 0
        for c in string.utf8 {
            if c == UInt8(ascii: "=") { break }
            if c == 10 || c == 13 || c == 32 { continue }
            let v = lookup[Int(c)]
            if v < 0 { return nil }
            acc = (acc << 6) | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((acc >> bits) & 0xFF))
            }
        }
        return out
    }
}
