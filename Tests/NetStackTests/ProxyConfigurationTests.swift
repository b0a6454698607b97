import NetStack
import XCTest

/// Proxy URLs, `no_proxy` lists and the environment's precedence, as values (no I/O).
final class ProxyConfigurationTests: XCTestCase {
    func testProxyURLsParseAsCurlWritesThem() throws {
        let p = try WebSocketProxy(parsing: "http://proxy.example:3128")
        XCTAssertEqual(p, WebSocketProxy(kind: .http, host: "proxy.example", port: 3128))
        XCTAssertEqual(try WebSocketProxy(parsing: "proxy.example").port, 1080, "curl's default port")
        XCTAssertEqual(try WebSocketProxy(parsing: "proxy.example:8080").kind, .http, "no scheme is HTTP")
        XCTAssertEqual(try WebSocketProxy(parsing: "HTTP://proxy.example:8080/").port, 8080, "scheme without case, a trailing slash")
        let socks = try WebSocketProxy(parsing: "socks5h://al%40ce:p%3Ass@[::1]:1081")
        XCTAssertEqual(socks, WebSocketProxy(kind: .socks5h, host: "::1", port: 1081, username: "al@ce", password: "p:ss"))
        XCTAssertEqual(socks.description, "socks5h://al@ce:***@[::1]:1081", "the password is hidden")
        XCTAssertEqual(try WebSocketProxy(parsing: "socks5://u@10.0.0.1:1").password, "", "a user without a password")
        XCTAssertEqual(try WebSocketProxy(parsing: "socks5://u:a:b@h:1").password, "a:b", "the first colon splits")
    }

    func testMalformedProxyURLsAreParseErrorsThatSayWhy() {
        let cases: [(String, String)] = [
            ("", "empty"),
            ("https://p:1", "https:// proxies"),
            ("socks4://p:1", "SOCKS4"),
            ("ftp://p:1", "unknown scheme"),
            ("http://p:0", "not 1-65535"),
            ("http://p:65536", "not 1-65535"),
            ("http://p:99999999999999999999", "not 1-65535"),
            ("http://p:", "not 1-65535"),
            ("http://p:1/path", "no path"),
            ("http://:1", "no host"),
            ("http://a b:1", "space"),
            ("http://@p:1", "empty user"),
            ("http://u:%zz@p:1", "percent-encoding"),
            ("http://[::1:1", "unclosed"),
            ("http://[p]:1", "IPv6"),
            ("http://p\r\nX: y:1", "control"),
            ("http://\(String(repeating: "u", count: 256)):x@p:1", "over 255"),
            // Found by the proxy-config fuzz target: a newline in a user name reached messages.
            ("p%0Aw@.", "control character"),
            ("socks5://u:p%00@h:1", "control character"),
            ("http://a%3Ab:c@h:1", "cannot contain ':'"),
            // A name that ends in a number reads as IPv4 to getaddrinfo: dotted decimal only.
            ("http://0x7f000001:3128", "invalid IPv4 address"),
            ("socks5://127.1:1080", "invalid IPv4 address"),
            ("http://proxy.0x10:1", "invalid IPv4 address"),
        ]
        for (text, why) in cases {
            XCTAssertThrowsError(try WebSocketProxy(parsing: text), text) { error in
                let e = error as? WebSocketError
                XCTAssertEqual(e?.code, .connectionParseURLError, text)
                XCTAssertTrue(e?.message.contains(why) == true, "\(text): \(e?.message ?? "")")
            }
        }
    }

    func testNoProxyMatchesNamesSuffixesAndNetworks() {
        let list = NoProxyList(parsing: "example.com, .internal.test,10.0.0.0/8 ::1 fd00::/8,[2001:db8::1],192.168.1.7")
        for host in ["example.com", "a.example.com", "A.B.EXAMPLE.COM", "example.com.", "x.internal.test", "internal.test",
                     "10.1.2.3", "::1", "fd12::5", "2001:db8::1", "192.168.1.7"] {
            XCTAssertTrue(list.matches(host: host), host)
        }
        for host in ["notexample.com", "example.org", "11.0.0.1", "::2", "fe80::1", "192.168.1.8", "internal.testing"] {
            XCTAssertFalse(list.matches(host: host), host)
        }
        XCTAssertTrue(NoProxyList(parsing: "*").matches(host: "anything"))
        XCTAssertFalse(NoProxyList(parsing: "").matches(host: "anything"))
        XCTAssertFalse(NoProxyList(parsing: "10.0.0.0/8").matches(host: "10.example"), "networks match addresses only")
        XCTAssertFalse(NoProxyList(parsing: "10.0.0.0/99").matches(host: "10.0.0.1"), "a bad prefix is ignored")
        // Found by the proxy-config fuzz target: an entry that is only a slash crashed the parser.
        for odd in ["/", "//", "/8", "10.0.0.1/", "a/b", "[]", "[", ",,,", "/,*"] {
            _ = NoProxyList(parsing: odd).matches(host: "10.0.0.1")
        }
        XCTAssertTrue(NoProxyList(parsing: "/,*").matches(host: "x"), "entries after a bad one still count")
    }

    func testTheEnvironmentIsReadAsCurlReadsIt() throws {
        let ws = try WebSocketURL(parsing: "ws://host.example/"), wss = try WebSocketURL(parsing: "wss://host.example/")
        let env = ProxyEnvironment(variables: ["http_proxy": "http://h:1", "https_proxy": "socks5h://s:2", "all_proxy": "http://a:3"])
        XCTAssertEqual(try env.proxy(for: ws)?.host, "h", "ws takes http_proxy")
        XCTAssertEqual(try env.proxy(for: wss)?.host, "s", "wss takes https_proxy")
        let fallback = ProxyEnvironment(variables: ["ALL_PROXY": "http://a:3", "HTTP_PROXY": "http://upper:4"])
        XCTAssertEqual(try fallback.proxy(for: ws)?.host, "a", "HTTP_PROXY (upper case) is ignored, as curl does; all_proxy is next")
        XCTAssertEqual(try fallback.proxy(for: wss)?.host, "a")
        XCTAssertEqual(try ProxyEnvironment(variables: ["HTTPS_PROXY": "http://u:5"]).proxy(for: wss)?.host, "u", "HTTPS_PROXY counts")
        XCTAssertEqual(try ProxyEnvironment(variables: ["https_proxy": "http://l:6", "HTTPS_PROXY": "http://u:5"]).proxy(for: wss)?.host, "l",
                       "lower case first")
        XCTAssertNil(try ProxyEnvironment(variables: [:]).proxy(for: ws))
        let bypass = ProxyEnvironment(variables: ["all_proxy": "http://a:3", "NO_PROXY": "example"])
        XCTAssertNil(try bypass.proxy(for: ws), "no_proxy matches the host's domain")
        XCTAssertThrowsError(try ProxyEnvironment(variables: ["https_proxy": "gopher://x"]).proxy(for: wss)) { error in
            XCTAssertTrue("\(error)".contains("(from https_proxy)"), "\(error)")
        }
    }

    func testASettingChoosesBetweenDirectExplicitAndTheEnvironment() throws {
        let url = try WebSocketURL(parsing: "ws://10.1.1.1:9/")
        let env = ProxyEnvironment(variables: ["http_proxy": "http://env:1"])
        let explicit = WebSocketProxy(kind: .socks5, host: "mine", port: 2)
        XCTAssertEqual(try WebSocketProxySetting.environment.proxy(for: url, environment: env)?.host, "env")
        XCTAssertNil(try WebSocketProxySetting.direct.proxy(for: url, environment: env))
        XCTAssertEqual(try WebSocketProxySetting.proxy(explicit).proxy(for: url, environment: env), explicit)
        XCTAssertNil(try WebSocketProxySetting.proxy(explicit, bypass: NoProxyList(parsing: "10.0.0.0/8")).proxy(for: url, environment: env))
    }
}
