import Foundation
import NetStackTestServer

/// A test PKI made at test time with the `openssl` CLI: root, intermediate, leaves good and bad,
/// CRLs fresh, expired, not yet valid and tampered. Nothing is committed.
final class CertificateLab {
    let dir: String
    private(set) var files: [String: String] = [:]

    static let shared: CertificateLab = try! CertificateLab()

    func path(_ name: String) -> String { files[name]! }

    /// A server leaf for 127.0.0.1 issued by the lab's intermediate into `dir` (DIR/NAME.pem and
    /// DIR/NAME.key), with `extra` extension lines (a CRL distribution point, an OCSP responder).
    func issueServerLeaf(_ name: String, in dir: String, extra: String) throws -> String {
        let ext = dir + "/\(name).ext"
        try ("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n" + extra + "\n")
            .write(toFile: ext, atomically: true, encoding: .utf8)
        try TestPKI.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir + "/\(name).key",
                             "-out", dir + "/\(name).csr", "-subj", "/CN=\(name)"])
        try TestPKI.openssl(["ca", "-batch", "-config", self.dir + "/inter.cnf", "-in", dir + "/\(name).csr", "-out", dir + "/\(name).pem",
                             "-extfile", ext, "-days", "30", "-notext"])
        return dir + "/\(name).pem"
    }
    func bytes(_ name: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path(name))!) }

    private func openssl(_ args: String...) throws { try TestPKI.openssl(args) }

    private func write(_ name: String, _ text: String) throws -> String {
        let p = "\(dir)/\(name)"
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    /// A CA with an `openssl ca` database, so it can revoke and issue CRLs with chosen dates.
    private func makeCADatabase(_ name: String) throws -> String {
        let db = "\(dir)/\(name)-db"
        try FileManager.default.createDirectory(atPath: db, withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: db + "/index.txt"))
        try "1000\n".write(toFile: db + "/serial", atomically: true, encoding: .utf8)
        try "1000\n".write(toFile: db + "/crlnumber", atomically: true, encoding: .utf8)
        return try write("\(name).cnf", """
        [ca]
        default_ca = this
        [this]
        database = \(db)/index.txt
        serial = \(db)/serial
        crlnumber = \(db)/crlnumber
        new_certs_dir = \(db)
        certificate = \(dir)/\(name).pem
        private_key = \(dir)/\(name).key
        default_md = sha256
        default_crl_days = 30
        policy = anything
        unique_subject = no
        copy_extensions = none
        [anything]
        commonName = supplied
        """)
    }

    private func ext(_ name: String, _ text: String) throws -> String { try write("\(name).ext", text) }

    /// Issues `name` from `issuer` (`<issuer>.cnf` database) with extensions and optional dates.
    private func issue(_ name: String, by issuer: String, extensions: String, start: String? = nil, end: String? = nil, key: String = "ec") throws {
        let keyPath = "\(dir)/\(name).key", csr = "\(dir)/\(name).csr", cert = "\(dir)/\(name).pem"
        if key == "rsa1024" {
            try openssl("req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", keyPath, "-out", csr, "-subj", "/CN=\(name)")
        } else {
            try openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", keyPath, "-out", csr, "-subj", "/CN=\(name)")
        }
        var args = ["ca", "-batch", "-config", "\(dir)/\(issuer).cnf", "-in", csr, "-out", cert, "-extfile", try ext(name, extensions), "-notext"]
        if let s = start { args += ["-startdate", s] }
        args += end.map { ["-enddate", $0] } ?? ["-days", "30"]
        try TestPKI.openssl(args)
        files[name] = cert
        files[name + ".key"] = keyPath
    }

    private func crl(_ name: String, by issuer: String, last: String? = nil, next: String? = nil) throws {
        var args = ["ca", "-config", "\(dir)/\(issuer).cnf", "-gencrl", "-out", "\(dir)/\(name).pem"]
        if let l = last { args += ["-crl_lastupdate", l] }
        if let n = next { args += ["-crl_nextupdate", n] }
        try TestPKI.openssl(args)
        files[name] = "\(dir)/\(name).pem"
    }

    private func der(_ name: String, from pem: String, kind: String = "x509") throws {
        try TestPKI.openssl([kind, "-in", path(pem), "-outform", "DER", "-out", "\(dir)/\(name).der"])
        files[name] = "\(dir)/\(name).der"
    }

    private func concat(_ name: String, _ parts: [String]) throws {
        let data = parts.map { try! String(contentsOfFile: path($0), encoding: .utf8) }.joined()
        files[name] = try write("\(name).pem", data)
    }

    /// Flips the last byte (inside the signature) of a DER file and writes it as PEM too.
    private func tamper(_ name: String, from pem: String, kind: String = "x509") throws {
        try der(name + ".orig", from: pem, kind: kind)
        var d = bytes(name + ".orig")
        d[d.count - 1] ^= 0x01
        let p = "\(dir)/\(name).der"
        try Data(d).write(to: URL(fileURLWithPath: p))
        files[name + ".der"] = p
        try TestPKI.openssl([kind, "-inform", "DER", "-in", p, "-out", "\(dir)/\(name).pem"])
        files[name] = "\(dir)/\(name).pem"
    }

    init() throws {
        dir = NSTemporaryDirectory() + "netstack-certlab-\(getpid())"
        TemporaryFolders.removeAtExit(dir)
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let caExt = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        let leafExt = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:leaf.test,IP:127.0.0.1\nauthorityInfoAccess=OCSP;URI:http://ocsp.leaf.test,caIssuers;URI:http://ca.leaf.test/inter.crt\ncrlDistributionPoints=URI:http://crl.leaf.test/inter.crl\n"

        // Roots (self-signed, with a database each).
        for root in ["root", "other"] {
            try openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", "\(dir)/\(root).key", "-out", "\(dir)/\(root).pem", "-days", "60",
                        "-subj", "/C=XX/O=NetStack Tests/CN=\(root) CA", "-addext", "basicConstraints=critical,CA:TRUE",
                        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
            files[root] = "\(dir)/\(root).pem"
            _ = try makeCADatabase(root)
        }
        try issue("inter", by: "root", extensions: caExt)
        _ = try makeCADatabase("inter")
        try issue("leaf", by: "inter", extensions: leafExt)
        try issue("expired", by: "inter", extensions: leafExt, start: "20200101000000Z", end: "20200201000000Z")
        try issue("notyet", by: "inter", extensions: leafExt, start: "20990101000000Z", end: "20991231000000Z")
        try issue("revoked", by: "inter", extensions: leafExt)
        try issue("weak", by: "inter", extensions: leafExt, key: "rsa1024")
        // RFC 7633 "must staple": the TLS feature extension with status_request.
        try issue("muststaple", by: "inter", extensions: leafExt + "tlsfeature=status_request\n")
        // An issuer with CA:FALSE, and a leaf under it.
        try issue("notca", by: "root", extensions: "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyCertSign,digitalSignature\n")
        _ = try makeCADatabase("notca")
        try issue("undernotca", by: "notca", extensions: leafExt)
        // Self-signed leaf.
        try openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(dir)/self.key",
                    "-out", "\(dir)/self.pem", "-days", "30", "-subj", "/CN=self", "-addext", "subjectAltName=DNS:self.test")
        files["self"] = "\(dir)/self.pem"

        try TestPKI.openssl(["ca", "-config", "\(dir)/inter.cnf", "-revoke", path("revoked")])
        try crl("crl.inter", by: "inter")
        try crl("crl.root", by: "root")
        try crl("crl.inter.expired", by: "inter", last: "20200101000000Z", next: "20200201000000Z")
        try crl("crl.inter.notyet", by: "inter", last: "20990101000000Z", next: "20991231000000Z")
        try tamper("crl.inter.badsig", from: "crl.inter", kind: "crl")
        try tamper("leaf.tampered", from: "leaf")

        try der("leaf.der", from: "leaf")
        try der("root.der", from: "root")
        try der("inter.der", from: "inter")
        try concat("leaf+inter", ["leaf", "inter"])
        try concat("revoked+inter", ["revoked", "inter"])
        try concat("expired+inter", ["expired", "inter"])
        try concat("notyet+inter", ["notyet", "inter"])
        try concat("tampered+inter", ["leaf.tampered", "inter"])
        try concat("undernotca+notca", ["undernotca", "notca"])
        try concat("root+crls", ["root", "crl.root", "crl.inter"])
        try concat("root+intercrl", ["root", "crl.inter"])
        try concat("root+crls.expired", ["root", "crl.root", "crl.inter.expired"])
        try concat("root+crls.notyet", ["root", "crl.root", "crl.inter.notyet"])
        try concat("root+crls.badsig", ["root", "crl.root", "crl.inter.badsig"])
        try concat("root+other", ["other", "root"])
        try concat("crls", ["crl.root", "crl.inter"])
        try concat("crls.expired", ["crl.root", "crl.inter.expired"])
        try concat("crls.notyet", ["crl.root", "crl.inter.notyet"])
        try concat("crls.badsig", ["crl.root", "crl.inter.badsig"])
        files["garbage"] = try write("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
        try concat("inter+root", ["inter", "root"])
    }

    /// What `openssl verify` says for the same inputs: 0, or the X509_V_ERR number.
    func opensslVerify(leaf: String, untrusted: String? = nil, ca: String, crls: String? = nil, extra: [String] = []) throws -> Int {
        var args = ["verify", "-CAfile", path(ca)]
        if let u = untrusted { args += ["-untrusted", path(u)] }
        if let c = crls { args += ["-crl_check_all", "-CRLfile", path(c)] }
        args += extra + [path(leaf)]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus == 0 { return 0 }
        // "error 10 at 0 depth lookup: certificate has expired"
        guard let r = text.range(of: #"error (\d+) at"#, options: .regularExpression) else { return -1 }
        return Int(text[r].split(separator: " ")[1]) ?? -1
    }
}
