import ArgumentParser
import Foundation
import NetStack

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a certificate as OH_NetStack_VerifyCertification does, and say why it fails.",
        discussion: """
        CERT and CA are PEM or DER files (detected from the content). The first certificate of CERT \
        is verified; further certificates in it are untrusted intermediates. CA holds the trust \
        anchors and optionally CRLs (which turn CRL checking on for the whole chain); without --ca \
        the system store is used (SSL_CERT_FILE / SSL_CERT_DIR honoured).
        Prints the code and its meaning. Exit status: 0 only for code 0; 1 for any other code; \
        2 for unreadable files or bad options.
        """
    )

    @Argument(help: "Certificate file (PEM or DER).") var cert: String
    @Option(help: "Trust anchors (and CRLs), PEM or DER.") var ca: String?
    @Option(help: "Also check this host name against the certificate.") var hostname: String?
    @Option(help: "Also check this IP address against the certificate.") var ip: String?
    @Option(help: "Verify as of this Unix time instead of now.") var at: Double?
    @Flag(help: "Require the TLS server purpose.") var purposeServer = false
    @Flag(help: "Also print what the certificates contain.") var inspect = false
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        if let t = at, !CertificateVerificationOptions.validTimeRange.contains(t) {
            throw ValidationError("--at: Unix seconds from -62135596800 to 253402300799 expected, got \(t)")
        }
    }

    func run() throws {
        guard let certData = FileManager.default.contents(atPath: cert) else {
            printErr("netstack verify: cannot read '\(cert)'")
            throw ExitCode(2)
        }
        var caData: Data?
        if let ca = ca {
            guard let d = FileManager.default.contents(atPath: ca) else {
                printErr("netstack verify: cannot read '\(ca)'")
                throw ExitCode(2)
            }
            caData = d
        }
        func type(_ d: Data) -> CertificateBlobType {
            String(decoding: d.prefix(4096), as: UTF8.self).contains("-----BEGIN") ? .pem : .der
        }
        let options = CertificateVerificationOptions(hostname: hostname, ipAddress: ip,
                                                     atTime: at.map { Date(timeIntervalSince1970: $0) }, purposeTLSServer: purposeServer)
        let result = CertificateVerifier.verify(cert: Array(certData), certType: type(certData),
                                                ca: caData.map(Array.init), caType: caData.map(type) ?? .pem, options: options)
        let infos = inspect ? CertificateInfo.parse(Array(certData), type: type(certData)) : []
        if json {
            var fields = ["\"code\":\(result.code)", "\"ok\":\(result.isValid)", "\"meaning\":\(JSONString.quote(result.meaning))",
                          "\"reason\":\(JSONString.quote(result.reason))"]
            if let d = result.depth { fields.append("\"depth\":\(d)") }
            if let s = result.subject { fields.append("\"subject\":\(JSONString.quote(s))") }
            if inspect {
                let certs = infos.map { c in
                    "{\"subject\":\(JSONString.quote(c.subject)),\"issuer\":\(JSONString.quote(c.issuer)),\"serial\":\(JSONString.quote(c.serial)),\"notAfter\":\(Int(c.notAfter.timeIntervalSince1970)),\"dns\":[\(c.dnsNames.map(JSONString.quote).joined(separator: ","))],\"key\":\(JSONString.quote("\(c.keyType) \(c.keyBits)")),\"sha256\":\(JSONString.quote(c.sha256Fingerprint))}"
                }
                fields.append("\"certificates\":[\(certs.joined(separator: ","))]")
            }
            print("{" + fields.joined(separator: ",") + "}")
        } else {
            print("\(result.code) \(result.meaning)")
            if !result.isValid {
                var detail = "  OpenSSL: \(result.reason)"
                if let d = result.depth { detail += " (depth \(d)\(result.subject.map { ", \($0)" } ?? ""))" }
                print(detail)
            }
            for (i, c) in infos.enumerated() {
                print("certificate \(i): \(c.subject)")
                print("  issuer:     \(c.issuer)")
                print("  valid:      \(c.notBefore) .. \(c.notAfter) (\(Int(c.daysUntilExpiry().rounded(.down))) days left)")
                if !c.dnsNames.isEmpty || !c.ipAddresses.isEmpty { print("  names:      \((c.dnsNames + c.ipAddresses).joined(separator: ", "))") }
                print("  key:        \(c.keyType) \(c.keyBits)\(c.keyCurve.map { " \($0)" } ?? ""), signed \(c.signatureAlgorithm)")
                print("  sha256:     \(c.sha256Fingerprint)")
                print("  CA:         \(c.isCA)\(c.isSelfSigned ? ", self-signed" : "")")
            }
        }
        if !result.isValid { throw ExitCode(1) }
    }
}
