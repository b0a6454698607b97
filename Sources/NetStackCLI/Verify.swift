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
        --strict adds RFC 5280 structure checks and the CA/Browser Forum TLS server profile \
        (docs/certificates.md lists each check, its code and its source) and implies \
        --purpose server and --security-level 2 unless they are given.
        Prints the code and its meaning. Exit status: 0 only for code 0; 1 for any other code; \
        2 for unreadable files; 64 for bad options; 130 after SIGINT or SIGTERM.
        """
    )

    @Argument(help: "Certificate file (PEM or DER); - reads standard input.") var cert: String
    @Option(parsing: .unconditional, help: "Trust anchors (and CRLs), PEM or DER.") var ca: String?
    @Option(parsing: .unconditionalSingleValue, help: "Untrusted intermediates, PEM or DER, apart from CERT (repeatable).") var untrusted: [String] = []
    @Option(parsing: .unconditionalSingleValue, help: "CRLs, PEM or DER (repeatable); turns on CRL checks for the whole chain.") var crl: [String] = []
    @Option(parsing: .unconditional, help: "Also check this host name against the certificate.") var hostname: String?
    @Option(parsing: .unconditional, help: "Also check this IP address against the certificate.") var ip: String?
    @Option(parsing: .unconditional, help: "Also check this e-mail address against the certificate.") var email: String?
    @Option(parsing: .unconditional, help: "Verify as of this Unix time instead of now (0 is 1970-01-01T00:00:00Z).") var at: Double?
    @Option(parsing: .unconditional, help: "Purpose: any, server or client (default any; server with --strict).") var purpose: String?
    @Flag(help: "Require the TLS server purpose (same as --purpose server).") var purposeServer = false
    @Option(parsing: .unconditional, help: "Most intermediates between the certificate and the trust anchor (0-255; default 100).") var maxDepth: Int?
    @Option(parsing: .unconditional, help: "Minimum security level 0-5 (2: no RSA/DSA/DH under 2048 bits, EC under 224, SHA-1/MD5 signatures; default none, 2 with --strict).")
    var securityLevel: Int?
    @Flag(help: "Accept a chain that ends at any certificate of --ca, not only at a self-signed root.") var partialChain = false
    @OptionGroup(title: "Certificate policies (RFC 5280)") var policyInputs: PolicyInputOptions
    @Flag(help: "RFC 5280 structure checks and the CA/B Forum server profile (codes 2305801-2305826; see docs/certificates.md).") var strict = false
    @Flag(help: "Also print what the certificates contain.") var inspect = false
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        if ([cert] + [ca].compactMap { $0 } + untrusted + crl).filter({ $0 == "-" }).count > 1 {
            throw ValidationError("only one file may be - (standard input)")
        }
        if let t = at, !CertificateVerificationOptions.validTimeRange.contains(t) {
            throw ValidationError("--at: Unix seconds from -62135596800 to 253402300799 expected, got \(t)")
        }
        if let p = purpose, CertificatePurpose(rawValue: p) == nil {
            throw ValidationError("--purpose: any, server or client expected, got '\(p)'")
        }
        if let d = maxDepth, !CertificateVerificationOptions.depthRange.contains(d) {
            throw ValidationError("--max-depth: 0 to 255 expected, got \(d)")
        }
        if let l = securityLevel, !CertificateVerificationOptions.securityLevelRange.contains(l) {
            throw ValidationError("--security-level: 0 to 5 expected, got \(l)")
        }
        if let why = CertificateVerificationOptions.peerNameProblem(hostname: hostname, ipAddress: ip, email: email,
                                                                   names: ("--hostname", "--ip", "--email")) {
            throw ValidationError(why)
        }
    }

    func run() throws {
        try exitOnInterrupt("verify")
        func read(_ path: String) throws -> Data {
            // `-` is standard input, as `openssl verify` and `netstack run -` read it.
            switch BoundedFileRead.bytes(atPathOrStandardInput: path) {
            case .success(let bytes): return Data(bytes)
            case .failure(let failure):
                printErr("netstack verify: \(failure)")
                throw ExitCode(2)
            }
        }
        let certData = try read(cert)
        let caData = try ca.map(read)
        func type(_ d: Data) -> CertificateBlobType { CertificateBlobType.detect(d) }
        // Several files join into one blob: PEM files as they are; DER files are converted by
        // concatenation, which the DER parser reads as consecutive objects.
        func joined(_ paths: [String]) throws -> [UInt8]? {
            guard !paths.isEmpty else { return nil }
            let blobs = try paths.map { Array(try read($0)) }
            let pem = blobs.map { CertificateBlobType.detect($0) }
            if Set(pem).count > 1 {
                printErr("netstack verify: give either PEM or DER files to one option, not both")
                throw ExitCode(2)
            }
            return blobs.reduce(into: [UInt8]()) { acc, b in acc += b; if pem[0] == .pem { acc.append(0x0A) } }
        }
        var options = strict ? CertificateVerificationOptions.strictServer : CertificateVerificationOptions()
        options.hostname = hostname
        options.ipAddress = ip
        options.email = email
        options.atTime = at.map { Date(timeIntervalSince1970: $0) }
        if let p = purpose.flatMap(CertificatePurpose.init(rawValue:)) { options.purpose = p }
        if purposeServer { options.purpose = .server }
        if let d = maxDepth { options.maxDepth = d }
        if let l = securityLevel { options.securityLevel = l }
        options.partialChain = partialChain
        policyInputs.apply(to: &options)
        options.untrusted = try joined(untrusted)
        options.crls = try joined(crl)
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
            printText("\(result.code) \(result.meaning)")
            if !result.isValid {
                var detail = "  OpenSSL: \(result.reason)"
                if let d = result.depth { detail += " (depth \(d)\(result.subject.map { ", \($0)" } ?? ""))" }
                printText(detail)
            }
            for (i, c) in infos.enumerated() {
                printText("certificate \(i): \(c.subject)")
                printText("  issuer:     \(c.issuer)")
                printText("  valid:      \(c.notBefore) .. \(c.notAfter) (\(Int(c.daysUntilExpiry().rounded(.down))) days left)")
                if !c.dnsNames.isEmpty || !c.ipAddresses.isEmpty { printText("  names:      \((c.dnsNames + c.ipAddresses).joined(separator: ", "))") }
                printText("  key:        \(c.keyType) \(c.keyBits)\(c.keyCurve.map { " \($0)" } ?? ""), signed \(c.signatureAlgorithm)")
                printText("  sha256:     \(c.sha256Fingerprint)")
                printText("  CA:         \(c.isCA)\(c.isSelfSigned ? ", self-signed" : "")")
            }
        }
        if !result.isValid { throw ExitCode(1) }
    }
}
