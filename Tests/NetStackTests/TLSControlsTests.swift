import Foundation
import NetStack
import XCTest

/// TLS controls: public key pinning, version bounds, an encrypted client key.
final class TLSControlsTests: XCTestCase {
    private func shell(_ command: String) throws -> (Int32, String) {
        let (rc, out) = try runTool("sh", ["-c", command])
        return (rc, out.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The server certificate's pin, computed by the openssl command (independent of our code).
    private func serverPin() throws -> String {
        let (rc, out) = try shell("openssl x509 -in '\(Servers.pki.serverCertificate)' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64")
        XCTAssertEqual(rc, 0, out)
        return "sha256//" + out
    }

    private var tlsURL: String { Servers.tls.url.replacingOccurrences(of: "127.0.0.1", with: "localhost") + "/echo" }

    func testAPinnedPublicKeyIsRequiredWhenGiven() throws {
        let pin = try serverPin()
        let other = "sha256//" + Base64.encode([UInt8](repeating: 7, count: 32))
        let good = runClient(tlsURL, configure: {
            $0.tls.caFile = Servers.pki.caCertificate
            $0.tls.pinnedPublicKeys = [other, pin]
        }, setup: { rec in rec.onOpen = { c in try! c.close() } })
        XCTAssertEqual(good.close?.0, 1000, "one matching pin of two is enough: \(good.events)")

        let bad = runClient(tlsURL, configure: {
            $0.tls.caFile = Servers.pki.caCertificate
            $0.tls.pinnedPublicKeys = [other]
        })
        XCTAssertEqual(bad.errors.count, 1)
        XCTAssertEqual(bad.errors.first?.0, Int32(PublicKeyPins.mismatchCode), "its own code: \(bad.events)")
        XCTAssertTrue(bad.errors.first?.1.contains("matches none of the pinned") == true, "\(bad.events)")
        XCTAssertTrue(bad.errors.first?.1.contains(pin) == true, "the message names the server's pin: \(bad.events)")

        // With verification off the pin alone decides (as curl's -k with --pinnedpubkey).
        let insecurePinned = runClient(tlsURL, configure: { $0.tls.insecure = true; $0.tls.pinnedPublicKeys = [other] })
        XCTAssertEqual(insecurePinned.errors.first?.0, Int32(PublicKeyPins.mismatchCode))
        let insecureMatching = runClient(tlsURL, configure: { $0.tls.insecure = true; $0.tls.pinnedPublicKeys = [pin] },
                                         setup: { rec in rec.onOpen = { c in try! c.close() } })
        XCTAssertEqual(insecureMatching.close?.0, 1000)

        // A pin does not replace the chain check.
        let untrusted = runClient(tlsURL, configure: { $0.tls.pinnedPublicKeys = [pin] })
        XCTAssertNotEqual(untrusted.errors.first?.0, Int32(PublicKeyPins.mismatchCode))
        XCTAssertNil(untrusted.openResult, "the test CA is not trusted without caFile")

        XCTAssertThrowsError(try PublicKeyPins(["sha256//short"]))
        XCTAssertEqual(CertificateVerifier.message(for: PublicKeyPins.mismatchCode), PublicKeyPins.mismatchMeaning)
    }

    func testVersionBoundsAreOffered() throws {
        // openssl s_server speaking TLS 1.2 only (and HTTP/1.0 200 to any request).
        let port = try ProxyTests.ProxyProcess.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = ["s_server", "-quiet", "-tls1_2", "-cert", Servers.pki.serverCertificate, "-key", Servers.pki.serverKey,
                            "-accept", "127.0.0.1:\(port)", "-www"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        for _ in 0..<200 where !ProxyTests.ProxyProcess.accepts(port) { usleep(20_000) }
        let url = "wss://localhost:\(port)/"
        let tls12 = runClient(url, configure: { $0.tls.caFile = Servers.pki.caCertificate; $0.tls.maximumVersion = .tls1_2 })
        XCTAssertTrue(tls12.errors.first?.1.hasPrefix("server rejected the upgrade: HTTP/1.0 200") == true,
                      "TLS 1.2 agreed; the upgrade is what fails: \(tls12.events)")
        let tls13 = runClient(url, configure: { $0.tls.caFile = Servers.pki.caCertificate; $0.tls.minimumVersion = .tls1_3 })
        XCTAssertEqual(tls13.errors.first?.0, 1003)
        XCTAssertTrue(tls13.errors.first?.1.contains("TLS handshake failed: the server sent the TLS alert 'protocol version'") == true,
                      "no common version: \(tls13.events)")
        XCTAssertFalse(tls13.errors.first?.1.contains(".cc:") == true, "no source paths: \(tls13.events)")

        let client = WebSocketClient()
        client.configuration.tls.minimumVersion = .tls1_3
        client.configuration.tls.maximumVersion = .tls1_2
        XCTAssertThrowsError(try client.connect(to: url)) { XCTAssertTrue("\($0)".contains("minimum version 1.3 is above the maximum 1.2"), "\($0)") }
        client.destroy()
    }

    func testAnEncryptedClientKeyNeedsItsPassword() throws {
        let dir = NSTemporaryDirectory() + "enc-key-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (rc, out) = try shell("""
            cd '\(dir)' && openssl req -x509 -newkey rsa:2048 -nodes -keyout plain.key -out client.pem -days 2 -subj /CN=client 2>&1 &&
            openssl pkey -in plain.key -aes256 -passout pass:s3cret -out enc.key
            """)
        XCTAssertEqual(rc, 0, out)
        let right = runClient(tlsURL, configure: {
            $0.tls.caFile = Servers.pki.caCertificate
            $0.tls.clientCertificateFile = dir + "/client.pem"
            $0.tls.clientKeyFile = dir + "/enc.key"
            $0.tls.clientKeyPassword = "s3cret"
        }, setup: { rec in rec.onOpen = { c in try! c.close() } })
        XCTAssertEqual(right.close?.0, 1000, "\(right.events)")

        let client = WebSocketClient()
        client.configuration.tls.caFile = Servers.pki.caCertificate
        client.configuration.tls.clientCertificateFile = dir + "/client.pem"
        client.configuration.tls.clientKeyFile = dir + "/enc.key"
        client.configuration.tls.clientKeyPassword = "wrong"
        XCTAssertThrowsError(try client.connect(to: tlsURL)) { error in
            XCTAssertEqual((error as? WebSocketError)?.code, .connectionError)
            XCTAssertTrue("\(error)".contains("TLS configuration: cannot load the client key from \(dir)/enc.key: not readable, not a PEM private key, or the password is wrong"), "\(error)")
            XCTAssertFalse("\(error)".contains("1003: 1003"), "the code once: \(error)")
        }
        client.destroy()

        // Files that hold no certificate or key are named, in words (not SwiftNIO SSL's error names).
        for (cert, key, words) in [("/dev/null", dir + "/plain.key", "cannot load the client certificate from /dev/null: not readable, or no PEM certificate in it"),
                                   (dir + "/client.pem", "/dev/null", "cannot load the client key from /dev/null: not readable, not a PEM private key, or encrypted (clientKeyPassword)"),
                                   (dir + "/client.pem", dir + "/enc.key", "cannot load the client key from \(dir)/enc.key: not readable, not a PEM private key, or encrypted (clientKeyPassword)")] {
            let c = WebSocketClient()
            c.configuration.tls.clientCertificateFile = cert
            c.configuration.tls.clientKeyFile = key
            XCTAssertThrowsError(try c.connect(to: tlsURL)) { error in
                XCTAssertEqual("\(error)", "1003: TLS configuration: " + words)
            }
            c.destroy()
        }
    }

    func testLuaAndTheCLITakeTheControls() throws {
        let pin = try serverPin()
        let script = NSTemporaryDirectory() + "tls-\(UUID().uuidString).lua"
        try """
        local url, ca, pin = ...
        local function try(opts)
          local c = netstack.OH_WebSocketClient_Constructor(function(c) print("open") c:close() end, nil,
            function(c, err) print("error", err.errorCode) end, nil)
          opts.caFile = ca
          print(pcall(c.connect, c, url, opts))
        end
        try({ pinnedPublicKey = pin, tlsMinVersion = "1.2", tlsMaxVersion = "1.3" })
        try({ pinnedPublicKey = { "sha256//" .. string.rep("A", 43) .. "=" } })
        try({ pinnedPublicKey = "nonsense" })
        try({ tlsMinVersion = "1.4" })
        """.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let r = try runNetstack(["run", script, "--", tlsURL, Servers.pki.caCertificate, pin])
        XCTAssertTrue(r.out.contains("open\n"), r.out + r.err)
        XCTAssertTrue(r.out.contains("error\t\(PublicKeyPins.mismatchCode)\n"), r.out)
        XCTAssertTrue(r.out.contains("invalid public key pin 'nonsense'"), r.out)
        XCTAssertTrue(r.out.contains("invalid value for 'tlsMinVersion' (\"1.0\", \"1.1\", \"1.2\" or \"1.3\")"), r.out)

        var cli = try runNetstack(["connect", "--ca", Servers.pki.caCertificate, "--pinnedpubkey", pin, "--tls-min", "1.2", tlsURL], stdin: "pinned\n")
        XCTAssertEqual(cli.status, 0, cli.err)
        XCTAssertTrue(cli.out.contains("pinned"), cli.out)
        cli = try runNetstack(["connect", "--ca", Servers.pki.caCertificate, "--pinnedpubkey", "sha256//" + String(repeating: "A", count: 43) + "=", tlsURL], stdin: "")
        XCTAssertEqual(cli.status, 5, "a pin mismatch fails the TLS stage")
        XCTAssertTrue((cli.out + cli.err).contains("\(PublicKeyPins.mismatchCode)"), cli.out + cli.err)
        cli = try runNetstack(["connect", "--tls-min", "2.0", tlsURL], stdin: "")
        XCTAssertEqual(cli.status, 64, cli.err)
    }
}
