import NetStack

/// Parsers of text that comes from users and servers: URLs, headers, extension offers.
enum ParserFuzz {
    /// Input: a URL, then (after a NUL) a header line "Name: value".
    static func urlAndHeaders(_ input: UnsafeRawBufferPointer) {
        let parts = input.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        let url = String(decoding: parts[0], as: UTF8.self)
        if let parsed = try? WebSocketURL(parsing: url) {
            precondition((1...65535).contains(parsed.port), "port \(parsed.port) out of range for \(url)")
            precondition(!parsed.host.isEmpty, "empty host from \(url)")
            // What we print (in messages, the Host header) must parse again.
            precondition((try? WebSocketURL(parsing: parsed.description)) != nil, "\(url) -> \(parsed.description) does not parse again")
        }
        if parts.count > 1 {
            let line = String(decoding: parts[1], as: UTF8.self)
            let colon = line.firstIndex(of: ":") ?? line.endIndex
            let header = WebSocketHeader(String(line[..<colon]), colon < line.endIndex ? String(line[line.index(after: colon)...]) : "")
            if (try? HeaderValidation.validate(header)) != nil {
                for b in Array(header.name.utf8) + Array(header.value.utf8) {
                    precondition(b != 13 && b != 10 && b != 0, "a header with CR, LF or NUL was accepted")
                }
            }
        }
    }

    static func extensions(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        for element in ExtensionHeader.parse(text) {
            _ = try? PerMessageDeflateParameters.parse(parameters: element.parameters, isServerResponse: true)
            _ = try? PerMessageDeflateParameters.parse(parameters: element.parameters, isServerResponse: false)
        }
    }
}
