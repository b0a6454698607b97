/// A host name written as an absolute name, with its trailing dot (RFC 1034 3.1: `example.com.`),
/// as the resolver and TLS take it. The URL, the Host header and what scripts see keep the name as
/// written.
enum AbsoluteHostName {
    /// The name given to getaddrinfo: `localhost.` as `localhost` (RFC 6761 6.3 makes it the
    /// loopback name, and /etc/hosts lists it without the dot); every other name as written.
    static func forLookup(_ host: String) -> String {
        host.count == 10 && host.lowercased() == "localhost." ? String(host.dropLast()) : host
    }

    /// The name sent as SNI and matched against the certificate: without one trailing dot
    /// (RFC 6066 3: the server name is sent "without a trailing dot"; a certificate's dNSName has
    /// none either).
    static func forTLS(_ host: String) -> String {
        host.count > 1 && host.hasSuffix(".") ? String(host.dropLast()) : host
    }
}
