import ArgumentParser
import CInterrupt
import Foundation
import NetStack
import NetStackTestServer
import NIOSSL

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the local ws/wss test server on 127.0.0.1.",
        discussion: """
        Paths pick the behaviour: /echo (default), /flood?n=N&size=S&binary=0|1, /sink?n=N, \
        /headers, /close?code=C&reason=R (sent as given, also a code or reason a client must refuse), /status?code=C, and /misbehave/KIND with KIND one of: \
        bad-accept, invalid-utf8, oversized, masked, drop, no-close-reply, slow-handshake, hang, \
        half-response, garbage, rsv, opcode, fragmented, ping, silent, zipbomb, bad-close-code, \
        big-control, unoffered-protocol, unoffered-extension, ping-flood, reject-hold, escape-status, deaf.
        An opening handshake that breaks RFC 6455 4.2.1 is refused with what is wrong: 400 (HTTP/1.0, \
        no Host, no Upgrade in Connection, a Sec-WebSocket-Key that is not 16 bytes in base64) or 426 \
        (a plain HTTP request; another Sec-WebSocket-Version, answered with 13); so is a status code that \
        is not three digits, or a query value the answer's head would carry (to, protocol) that holds a \
        control character. The server passes \
        Autobahn|Testsuite's fuzzing client (docs/conformance.md).
        Runs until interrupted: SIGINT or SIGTERM stop it with status 130. With --tls and no \
        --cert, the generated test CA, certificate and keys live in a new folder under $TMPDIR \
        that is removed when the server stops. Exit status: 1 when the port cannot be listened on; 2 for an \
        unreadable or unusable --cert/--key; 64 for bad options.
        """
    )

    @Option(parsing: .unconditional, help: "Port (0 picks a free one).") var port: Int = 8765
    @Flag(help: "Serve wss:// with a certificate generated now (its CA is named on stderr; removed when the server stops), or --cert/--key.") var tls = false
    @Option(parsing: .unconditional, help: "PEM certificate chain for wss.") var cert: String?
    @Option(parsing: .unconditional, help: "PEM private key for wss.") var key: String?
    @Option(parsing: .unconditional, help: "What / does: echo, flood, sink.") var mode: String = "echo"
    @Flag(help: "Refuse permessage-deflate.") var noCompression = false
    @Flag(name: .shortAndLong, help: "Log each connection to stderr.") var verbose = false

    static let modes = ["echo", "flood", "sink"]

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port: expected 0 to 65535, got \(port)") }
        guard Self.modes.contains(mode) else {
            throw ValidationError("--mode: expected one of \(Self.modes.joined(separator: ", ")), got '\(mode)'")
        }
        guard (cert == nil) == (key == nil) else { throw ValidationError("--cert and --key go together") }
    }

    func run() throws {
        // SIGINT or SIGTERM, from here on: the generated keys are removed, then status 130 (one
        // that arrives while the server starts is taken once it listens).
        guard netstack_interrupt_install() == 0 else {
            printErr("netstack serve: cannot install the SIGINT handler")
            throw ExitCode(1)
        }
        var config = LocalWebSocketServer.Configuration()
        // The keys --tls generates go when the server does, whichever way run() ends (a failed
        // start, or the signal below).
        var generated: TestPKI?
        defer { if let pki = generated { try? FileManager.default.removeItem(atPath: pki.directory) } }
        config.port = port
        config.compression = !noCompression
        config.defaultPath = "/" + mode
        config.verbose = verbose
        if let cert = cert, let key = key {
            config.tls = .init(certificatePath: cert, keyPath: key)
        } else if tls {
            let pki = try TestPKI.generate()
            generated = pki
            config.tls = .init(certificatePath: pki.serverCertificate, keyPath: pki.serverKey)
            printErr("netstack serve: generated a test CA at \(pki.caCertificate) (trust it with --ca)")
        }
        if let files = config.tls {
            for (what, path) in [("certificate", files.certificatePath), ("key", files.keyPath)] where !FileManager.default.isReadableFile(atPath: path) {
                printErr("netstack serve: cannot read the \(what) '\(path)'")
                throw ExitCode(2)
            }
        }
        let server = LocalWebSocketServer(configuration: config)
        do {
            try server.start()
        } catch let error as NIOSSLError {
            let why: String
            switch error {
            case .failedToLoadCertificate: why = "'\(cert ?? "")' holds no PEM certificate"
            case .failedToLoadPrivateKey: why = "'\(key ?? "")' is not a PEM private key, or not the certificate's"
            default: why = "\(error)"
            }
            printErr("netstack serve: cannot use the certificate '\(cert ?? "")' with the key '\(key ?? "")': \(why)")
            throw ExitCode(2)
        } catch {
            printErr("netstack serve: cannot listen on 127.0.0.1:\(port): \(ListenErrorText.describe(error))")
            throw ExitCode(1)
        }
        print("listening on \(server.url)")
        fflush(stdout)
        _ = netstack_interrupt_wait()
        throw ExitCode(130)
    }
}
