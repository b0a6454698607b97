import Foundation
@testable import NetStack
import NetStackTestServer
import NIOPosix
import NIOSSL
import XCTest

/// wss against local servers with certificates made at test time.
final class TLSTests: XCTestCase {
    let pki = Servers.pki

    func echoOnce(_ url: String, configure: (inout WebSocketClientConfiguration) -> Void) -> EventRecorder {
        runClient(url, configure: configure, setup: { rec in
            rec.onOpen = { c in try! c.send(text: "secure") }
            rec.onMessage = { c, _ in try! c.close() }
        })
    }

    func testTrustedCertificateEchoes() {
        let r = echoOnce(Servers.tls.url + "/echo") { $0.tls.caFile = pki.caCertificate }
        XCTAssertEqual(r.messages, [Array("secure".utf8)])
        XCTAssertEqual(r.close?.0, 1000)
        // localhost is in the certificate too, and is sent as SNI.
        let named = echoOnce("wss://localhost:\(Servers.tls.port)/echo") { $0.tls.caFile = pki.caCertificate }
        XCTAssertEqual(named.messages, [Array("secure".utf8)])
        // An absolute name: `localhost.` resolves as localhost (RFC 6761), and SNI and the
        // certificate check take the name without its dot (RFC 6066 3).
        let absolute = echoOnce("wss://localhost.:\(Servers.tls.port)/echo") { $0.tls.caFile = pki.caCertificate }
        XCTAssertEqual(absolute.messages, [Array("secure".utf8)], "\(absolute.errors)")
    }

    func testUntrustedChainFailsUnlessInsecure() {
        let r = echoOnce(Servers.tls.url + "/echo") { _ in }
        // The verifier's code: 2305020, the issuer is not in the (system) trust store.
        XCTAssertEqual(r.errors.first?.0, 2_305_020)
        XCTAssertTrue(r.errors.first?.1.contains("TLS certificate verification failed") ?? false, "\(r.errors)")
        XCTAssertEqual(r.events.count, 1)
        let insecure = echoOnce(Servers.tls.url + "/echo") { $0.tls.insecure = true }
        XCTAssertEqual(insecure.messages, [Array("secure".utf8)])
    }

    func testWrongHostAndExpiredCertificatesFail() throws {
        let wrong = try pki.issue(name: "wronghost", subjectAltName: "DNS:example.com")
        let s1 = Servers.tlsServer(certificate: wrong.certificate, key: wrong.key)
        defer { s1.stop() }
        let r1 = echoOnce(s1.url + "/echo") { $0.tls.caFile = pki.caCertificate }
        XCTAssertEqual(r1.errors.first?.0, 2_305_064, "IP address mismatch: \(r1.errors)")
        let r1n = echoOnce("wss://localhost:\(s1.port)/echo") { $0.tls.caFile = pki.caCertificate }
        XCTAssertEqual(r1n.errors.first?.0, 2_305_062, "host name mismatch: \(r1n.errors)")
        XCTAssertTrue(r1n.errors.first?.1.contains("mismatch") ?? false, "\(r1n.errors)")
        // The SNI/verification name can be overridden to match.
        let r1b = echoOnce(s1.url + "/echo") {
            $0.tls.caFile = pki.caCertificate
            $0.tls.serverName = "example.com"
        }
        XCTAssertEqual(r1b.messages, [Array("secure".utf8)])

        let expired = try pki.issue(name: "expired", subjectAltName: "IP:127.0.0.1", days: -1)
        let s2 = Servers.tlsServer(certificate: expired.certificate, key: expired.key)
        defer { s2.stop() }
        let r2 = echoOnce(s2.url + "/echo") { $0.tls.caFile = pki.caCertificate }
        XCTAssertEqual(r2.errors.first?.0, 2_305_010, "expired: \(r2.errors)")
        XCTAssertTrue(r2.errors.first?.1.contains("expired") ?? false, "\(r2.errors)")
    }

    func testCADirectoryAndEnvironmentTrust() throws {
        let dir = pki.directory + "/cadir"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: dir + "/root.pem")
        try FileManager.default.copyItem(atPath: pki.caCertificate, toPath: dir + "/root.pem")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = ["rehash", dir]
        try p.run()
        p.waitUntilExit()
        let r = echoOnce(Servers.tls.url + "/echo") { $0.tls.caPath = dir }
        XCTAssertEqual(r.messages, [Array("secure".utf8)], "\(r.events)")

        setenv("SSL_CERT_FILE", pki.caCertificate, 1)
        defer { unsetenv("SSL_CERT_FILE") }
        let env = echoOnce(Servers.tls.url + "/echo") { _ in }
        XCTAssertEqual(env.messages, [Array("secure".utf8)], "SSL_CERT_FILE is honoured: \(env.events)")
    }

    func testClientCertificate() throws {
        let client = try pki.issue(name: "client", subjectAltName: "DNS:client.test", extendedKeyUsage: "clientAuth")
        let server = try Servers.mutualTLSServer()
        defer { server.stop() }
        let with = echoOnce(server.url + "/echo") {
            $0.tls.caFile = pki.caCertificate
            $0.tls.clientCertificateFile = client.certificate
            $0.tls.clientKeyFile = client.key
        }
        XCTAssertEqual(with.messages, [Array("secure".utf8)], "\(with.events)")
        let without = echoOnce(server.url + "/echo") { $0.tls.caFile = pki.caCertificate }
        XCTAssertTrue(without.messages.isEmpty, "the server requires a client certificate: \(without.events)")
        XCTAssertNotNil(without.errors.first ?? without.close.map { (Int32($0.0), $0.1) })
        // A key without its certificate is a configuration error, reported synchronously.
        let lone = WebSocketClient()
        lone.configuration.tls.clientKeyFile = client.key
        XCTAssertThrowsError(try lone.connect(to: server.url)) { XCTAssertEqual(($0 as? WebSocketError)?.code, .connectionError) }
    }

    /// Over TLS the close timeout is the whole wait: the server's close_notify is not waited
    /// for on top of it (SwiftNIO SSL's default adds up to 5 s), after our close and after a
    /// protocol error alike.
    func testClosingOverTLSDoesNotWaitForTheServersCloseNotify() {
        let start = DispatchTime.now()
        let r = runClient(Servers.tls.url + "/misbehave/deaf", configure: {
            $0.tls.caFile = pki.caCertificate
            $0.closeTimeout = .milliseconds(300)
        }, setup: { rec in
            rec.onOpen = { c in try! c.close(code: 1000) }
        })
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        XCTAssertEqual(r.close?.0, 1006, "no close frame came back: \(r.events)")
        XCTAssertLessThan(elapsed, 3, "the close timeout, not 5 s more for TLS")
    }

    func testTLSFailuresAreWordedWithoutSourcePaths() {
        let alert = "Error: 268436526 error:1000042e:SSL routines:OPENSSL_internal:TLSV1_ALERT_PROTOCOL_VERSION at /src/ssl/tls_record.cc:491"
        XCTAssertEqual(ConnectionErrorText.tlsReason(alert), "the server sent the TLS alert 'protocol version' (TLSV1_ALERT_PROTOCOL_VERSION)")
        let mac = "Error: 268435595 error:1000008b:SSL routines:OPENSSL_internal:DECRYPTION_FAILED_OR_BAD_RECORD_MAC at /src/ssl/tls_record.cc:190"
        XCTAssertEqual(ConnectionErrorText.tlsReason(mac), "decryption failed or bad record mac (DECRYPTION_FAILED_OR_BAD_RECORD_MAC)")
        XCTAssertEqual(ConnectionErrorText.tlsReason("EOF during handshake"), "EOF during handshake")
        XCTAssertEqual(ConnectionErrorText.describeIOError(NIOSSLError.handshakeFailed(.syscallError)), "TLS handshake failed: the connection failed during TLS")
        XCTAssertEqual(ConnectionErrorText.describeIOError(NIOSSLError.uncleanShutdown), "TLS: the connection ended without a TLS close_notify")
    }

    func testLargeMessagesOverTLS() {
        let big = [UInt8](repeating: 0x5A, count: 2 << 20)
        let r = runClient(Servers.tls.url + "/echo", configure: { $0.tls.caFile = pki.caCertificate }, setup: { rec in
            rec.onOpen = { c in try! c.send(binary: big) }
            rec.onMessage = { c, _ in try! c.close() }
        })
        XCTAssertTrue(r.messages.first == big)
    }
}

/// Fetching a server's presented chain without WebSocket.
final class PresentedChainTests: XCTestCase {
    func testFetchValidUntrustedAndFailures() throws {
        let pki = Servers.pki
        let ok = try PresentedChain.fetch(host: "127.0.0.1", port: Servers.tls.port, caFile: pki.caCertificate).get()
        XCTAssertEqual(ok.certificates.count, 1)
        XCTAssertEqual(ok.certificates.first?.commonName, "server")
        XCTAssertEqual(ok.certificates.first?.ipAddresses, ["127.0.0.1"])
        XCTAssertTrue(ok.tlsVersion.hasPrefix("TLSv1."), ok.tlsVersion)
        XCTAssertFalse(ok.cipher.isEmpty)
        XCTAssertEqual(ok.verification.code, 0, "\(ok.verification)")

        let named = try PresentedChain.fetch(host: "localhost", port: Servers.tls.port, caFile: pki.caCertificate).get()
        XCTAssertEqual(named.verification.code, 0, "DNS SAN localhost")
        let absolute = try PresentedChain.fetch(host: "localhost.", port: Servers.tls.port, caFile: pki.caCertificate).get()
        XCTAssertEqual(absolute.verification.code, 0, "localhost. as localhost: \(absolute.verification)")
        let fetched = try ChainFetcher.fetch(host: "localhost.", port: Servers.tls.port, caFile: pki.caCertificate,
                                             on: MultiThreadedEventLoopGroup.singleton.next()).wait().get()
        XCTAssertEqual(fetched.verification.code, 0, "localhost. on the event loop: \(fetched.verification)")

        let untrusted = try PresentedChain.fetch(host: "127.0.0.1", port: Servers.tls.port).get()
        XCTAssertEqual(untrusted.verification.code, 2_305_020)

        switch PresentedChain.fetch(host: "127.0.0.1", port: 1, timeoutMilliseconds: 2000) {
        case .success: XCTFail("port 1 accepted a TLS handshake")
        case .failure(let f): XCTAssertTrue(f.description.contains("refused"), f.description)
        }
        switch PresentedChain.fetch(host: "no-such-host.invalid", port: 443, timeoutMilliseconds: 2000) {
        case .success: XCTFail("resolved an invalid name")
        case .failure(let f): XCTAssertTrue(f.description.contains("DNS"), f.description)
        }
        // A plain (non-TLS) server: the handshake fails with a reason.
        switch PresentedChain.fetch(host: "127.0.0.1", port: Servers.plain.port, timeoutMilliseconds: 2000) {
        case .success: XCTFail("a plain server cannot complete TLS")
        case .failure(let f): XCTAssertTrue(f.description.contains("TLS handshake"), f.description)
        }
    }
}
