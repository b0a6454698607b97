import Foundation

/// A throwaway PKI made with the `openssl` CLI: a root CA and a server certificate for
/// 127.0.0.1 / localhost signed by it, plus variants the TLS tests need (expired, wrong host,
/// self-signed). Nothing is committed; every run makes its own keys.
public struct TestPKI: Sendable {
    public var directory: String
    public var caCertificate: String
    public var caKey: String
    public var serverCertificate: String
    public var serverKey: String

    /// Makes a CA and a valid server certificate under a new temporary directory.
    public static func generate(directory: String? = nil) throws -> TestPKI {
        let dir = directory ?? NSTemporaryDirectory() + "netstack-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let pki = TestPKI(directory: dir, caCertificate: dir + "/ca.pem", caKey: dir + "/ca.key",
                          serverCertificate: dir + "/server.pem", serverKey: dir + "/server.key")
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", pki.caKey, "-out", pki.caCertificate, "-days", "30",
                     "-subj", "/CN=NetStack Test Root CA",
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try pki.issue(name: "server", subjectAltName: "IP:127.0.0.1,DNS:localhost", days: 30)
        return pki
    }

    /// Issues `<name>.pem`/`<name>.key` signed by the CA. `days` may be negative for an already
    /// expired certificate (its validity then ended `-days` days ago).
    @discardableResult
    /// `keyType`: "ec" (P-256) or "rsa:BITS"; `digest`: the signature hash (e.g. "sha1"; nil:
    /// openssl's default, SHA-256).
    public func issue(name: String, subjectAltName: String, days: Int = 30, selfSigned: Bool = false,
                      extendedKeyUsage: String = "serverAuth", keyType: String = "ec", digest: String? = nil) throws -> (certificate: String, key: String) {
        let key = "\(directory)/\(name).key", cert = "\(directory)/\(name).pem", csr = "\(directory)/\(name).csr"
        let ext = "\(directory)/\(name).ext"
        // The CN is also a SAN (the CA/B Forum profile asks for it), and the key identifiers
        // RFC 5280 asks for are present, so that strict verification accepts a good certificate.
        let subjectKeyIDs = selfSigned ? "subjectKeyIdentifier=hash\n" : "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        try "subjectAltName=\(subjectAltName),DNS:\(name)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=\(extendedKeyUsage)\n\(subjectKeyIDs)"
            .write(toFile: ext, atomically: true, encoding: .utf8)
        let newKey = keyType == "ec" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-newkey", keyType]
        try TestPKI.openssl(["req", "-new"] + newKey + ["-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=\(name)"])
        if days < 0 {
            try makeExpired(cert: cert, key: key, csr: csr, ext: ext, selfSigned: selfSigned)
        } else {
            var args = ["x509", "-req", "-in", csr, "-out", cert, "-extfile", ext, "-days", "\(max(days, 1))"]
            if let d = digest { args.append("-" + d) }
            if selfSigned {
                args += ["-signkey", key]
            } else {
                args += ["-CA", caCertificate, "-CAkey", caKey, "-CAcreateserial"]
            }
            try TestPKI.openssl(args)
        }
        return (cert, key)
    }

    /// An expired certificate: signed with `openssl ca` and explicit past start/end dates.
    private func makeExpired(cert: String, key: String, csr: String, ext: String, selfSigned: Bool) throws {
        let db = "\(directory)/ca-db"
        try FileManager.default.createDirectory(atPath: db, withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: db + "/index.txt"))
        try "1000\n".write(toFile: db + "/serial", atomically: true, encoding: .utf8)
        let conf = """
        [ca]
        default_ca = test
        [test]
        database = \(db)/index.txt
        serial = \(db)/serial
        new_certs_dir = \(db)
        default_md = sha256
        policy = anything
        unique_subject = no
        copy_extensions = none
        [anything]
        commonName = supplied
        """
        try conf.write(toFile: db + "/ca.cnf", atomically: true, encoding: .utf8)
        var args = ["ca", "-batch", "-config", db + "/ca.cnf", "-in", csr, "-out", cert, "-extfile", ext,
                    "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-notext"]
        if selfSigned {
            args += ["-selfsign", "-keyfile", key]
        } else {
            args += ["-cert", caCertificate, "-keyfile", caKey]
        }
        try TestPKI.openssl(args)
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func openssl(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw Failure(description: "openssl \(args.joined(separator: " ")) failed: \(String(decoding: data, as: UTF8.self))")
        }
    }
}
