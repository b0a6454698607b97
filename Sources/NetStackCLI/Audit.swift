import ArgumentParser
import Foundation
import NetStack
import NetStackLoad

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Audit the certificates of TLS servers and certificate files (the audit plugin).",
        discussion: """
        TARGET is host, host:port, [IPv6]:port or a PEM/DER certificate file. Each server's \
        presented chain is fetched (concurrently) and checked: trust (system store or --ca), \
        hostname/SAN match, strict conformance (RFC 5280 structure and the CA/B Forum server \
        profile; --lenient skips it), expiry of every certificate (WARN within --warn-days), weak \
        keys (RSA/DSA < --min-rsa-bits, EC < 224), SHA-1/MD5 signatures, the chain as presented \
        (order, duplicates), the stapled OCSP response (revoked: FAIL; missing for a must-staple \
        certificate: FAIL), TLS below 1.2, embedded SCTs, revocation from the CRLs at the \
        certificates' http distribution points (fetched within --timeout, kept five minutes; \
        --no-crl-fetch skips it), from --crl files, and with --ocsp from each certificate's OCSP \
        responder (http, within --timeout, answers kept five minutes).
        The verification knobs are verify's: --untrusted, --at (also the time expiry is judged \
        at), --purpose (default server), --max-depth, --security-level, --partial-chain, \
        --hostname, --email.
        Exit status (Nagios style): 0 all OK, 1 a WARN, 2 a FAIL, 3 a target could not be \
        checked (and no FAIL), or the audit plugin is not found (a netstack copied away from \
        its share/netstack/plugins: give the folder with --plugin-path); 64 for bad usage; \
        130 after SIGINT or SIGTERM, which start no new target and report the targets checked \
        so far ("interrupted: N of M targets checked"; in JSON "interrupted": true, "planned": M \
        and each target's "index" in the list, so that merge still orders segments); a second \
        one exits at once.
        """
    )

    @Argument(help: "Targets.") var targets: [String] = []
    @Option(name: .customLong("targets"), parsing: .unconditional, help: "A file with one target per line (# comments); - reads standard input.") var targetsFile: String?
    @Option(parsing: .unconditional, help: "PEM file of trusted CAs (default: the system store).") var ca: String?
    @Option(parsing: .unconditionalSingleValue, help: "PEM CRL file (repeatable); turns on revocation checks.") var crl: [String] = []
    @Option(parsing: .unconditionalSingleValue, help: "Intermediates (PEM or DER) to build chains with, apart from what servers send (repeatable); an incomplete chain is then a WARN.")
    var untrusted: [String] = []
    @Option(parsing: .unconditional, help: "Verify and judge expiry as of this Unix time instead of now.") var at: Double?
    @Option(parsing: .unconditional, help: "Purpose the leaf must allow: any, server or client.") var purpose: String = "server"
    @Option(parsing: .unconditional, help: "Most intermediates between a leaf and its trust anchor (0-255; default 100).") var maxDepth: Int?
    @Option(parsing: .unconditional, help: "Minimum security level 0-5 for the trust verdict (the strict check uses 2 unless this is given).") var securityLevel: Int?
    @Flag(help: "Accept a chain that ends at any certificate of --ca, not only at a self-signed root.") var partialChain = false
    @OptionGroup(title: "Certificate policies (RFC 5280)") var policyInputs: PolicyInputOptions
    @Option(parsing: .unconditional, help: "Check this name (and send it as SNI) instead of each target's host; for files, the name to check.") var hostname: String?
    @Option(parsing: .unconditional, help: "Also check this e-mail address against each leaf.") var email: String?
    @Flag(name: .customLong("ocsp"), help: "Ask each certificate's OCSP responder (http, within --timeout).") var fetchOCSP = false
    @Option(parsing: .unconditional, help: "Warn when a certificate expires within this many days.") var warnDays: Double = 30
    @Option(parsing: .unconditional, help: "Minimum RSA/DSA key size.") var minRsaBits: Int = 2048
    @Option(parsing: .unconditional, help: "Targets checked at once.") var concurrency: Int = 8
    @Option(parsing: .unconditional, help: "Connect + handshake timeout per target, in ms.") var timeout: Int = 5000
    @Option(parsing: .unconditional, help: "Report format: table, json, csv or prometheus (text exposition format).") var format: String = "table"
    @Flag(name: .customLong("no-crl-fetch"), help: "Do not fetch CRLs from the certificates' distribution points.") var noCRLFetch = false
    @Flag(help: "Skip the strict verification (a chain OpenSSL trusts is then never FAIL for conformance alone).") var lenient = false
    @Option(parsing: .unconditional, help: "Progress line on stderr: auto, on, off.") var progress: String = "auto"
    @Option(parsing: .unconditional, help: "Audit segment i of n of the targets (1-based; auto, auto/n as for run); merge the JSON reports with netstack merge.")
    var segment: String?
    @Option(parsing: .unconditional, help: "Run id written into the JSON report (segments of one audit share it).") var runID: String?
    @OptionGroup(title: "Plugins") var flags: PluginFlags

    func validate() throws {
        if let t = at, !CertificateVerificationOptions.validTimeRange.contains(t) {
            throw ValidationError("--at: Unix seconds from -62135596800 to 253402300799 expected, got \(t)")
        }
        if CertificatePurpose(rawValue: purpose) == nil {
            throw ValidationError("--purpose: any, server or client expected, got '\(purpose)'")
        }
        if let d = maxDepth, !CertificateVerificationOptions.depthRange.contains(d) {
            throw ValidationError("--max-depth: 0 to 255 expected, got \(d)")
        }
        if let l = securityLevel, !CertificateVerificationOptions.securityLevelRange.contains(l) {
            throw ValidationError("--security-level: 0 to 5 expected, got \(l)")
        }
        for (name, value) in [("--hostname", hostname), ("--email", email)] {
            if let v = value, v.isEmpty || v.contains(",") || v.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                throw ValidationError("\(name): a name without commas or control characters expected")
            }
        }
        for path in untrusted + crl + [ca].compactMap({ $0 }) {
            if path.contains(",") { throw ValidationError("file names with commas are not supported: '\(path)'") }
            if !FileManager.default.isReadableFile(atPath: path) { throw ValidationError("cannot read '\(path)'") }
        }
    }

    func run() throws {
        raiseOpenFileLimit()
        try checkFiles()
        var list = targets
        if let file = targetsFile {
            let bytes: [UInt8]
            switch BoundedFileRead.bytes(atPathOrStandardInput: file) {
            case .success(let b): bytes = b
            case .failure(let failure):
                printErr("netstack audit: --targets: \(failure)")
                throw ExitCode(64)
            }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                printErr("netstack audit: --targets: '\(TerminalText.sanitize(file, keepNewlines: false))' is not UTF-8 text")
                throw ExitCode(64)
            }
            for line in text.split(whereSeparator: \.isNewline) {
                let t = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                if !t.isEmpty { list.append(t) }
            }
        }
        guard !list.isEmpty else {
            printErr("netstack audit: no targets (give host[:port] or files, or --targets FILE)")
            throw ExitCode(64)
        }
        guard ["table", "json", "csv", "prometheus"].contains(format) else {
            printErr("netstack audit: --format must be table, json, csv or prometheus")
            throw ExitCode(64)
        }
        var seg = Segment.whole
        if let s = segment {
            do { seg = try Segment(parsing: s, environment: ProcessInfo.processInfo.environment) } catch let e as LoadOptionError {
                printErr("netstack audit: \(e.message)")
                throw ExitCode(64)
            }
            // Target k (in list order) belongs to segment (k mod n) + 1.
            list = seg.members(of: list.count).map { list[$0] }
        }
        var f = flags
        var options = ["audit.warnDays=\(warnDays)", "audit.minRSABits=\(minRsaBits)", "audit.concurrency=\(concurrency)",
                       "audit.timeout=\(timeout)", "audit.format=\(format)", "audit.progress=\(progress)",
                       "audit.strict=\(!lenient)", "audit.fetchCRL=\(!noCRLFetch)"]
        if let ca = ca { options.append("audit.ca=\(ca)") }
        if !crl.isEmpty { options.append("audit.crl=\(crl.joined(separator: ","))") }
        if !untrusted.isEmpty { options.append("audit.untrusted=\(untrusted.joined(separator: ","))") }
        if let t = at { options.append("audit.at=\(t)") }
        options.append("audit.purpose=\(purpose)")
        if let d = maxDepth { options.append("audit.maxDepth=\(d)") }
        if let l = securityLevel { options.append("audit.securityLevel=\(l)") }
        if partialChain { options.append("audit.partialChain=true") }
        options += policyInputs.auditPluginOptions
        if let h = hostname { options.append("audit.hostname=\(h)") }
        if let e = email { options.append("audit.email=\(e)") }
        if fetchOCSP { options.append("audit.fetchOCSP=true") }
        if segment != nil { options.append("audit.segment=\(seg)") }
        if let id = runID { options.append("audit.run=\(id)") }
        f.pluginOptions = options + f.pluginOptions
        try requirePlugin("audit", for: "audit", flags: f)
        try runInternalScript(Self.source, name: "audit", args: list, flags: f, interruptible: true)
    }

    /// The --ca, --untrusted and --crl files are read here first (as the audit will), so that
    /// one that cannot be used is a usage error (64) with its reason, never a read without end
    /// or a failure of the audit's setup (a WARN's status).
    func checkFiles() throws {
        for (flag, paths, needsCertificate) in [("--ca", [ca].compactMap { $0 }, true), ("--untrusted", untrusted, true), ("--crl", crl, false)] {
            for path in paths {
                switch BoundedFileRead.bytes(atPath: path) {
                case .failure(let failure):
                    printErr("netstack audit: \(flag): \(failure)")
                    throw ExitCode(64)
                case .success(let bytes):
                    if needsCertificate && CertificateInfo.parse(bytes, type: CertificateBlobType.detect(bytes)).isEmpty {
                        printErr("netstack audit: \(flag): '\(TerminalText.sanitize(path, keepNewlines: false))' holds no certificate")
                        throw ExitCode(64)
                    }
                }
            }
        }
    }

    /// A `-P audit.NAME=VALUE` the plugin refuses is bad usage (64), not a script error (1, a
    /// WARN's status to a monitoring system).
    static let source = """
    local ok, audit = pcall(require, "audit")
    if not ok then
      if tostring(audit):find("(--plugin-option", 1, true) then
        io.stderr:write("netstack audit: ", tostring(audit), "\\n")
        os.exit(64)
      end
      error(audit, 0)
    end
    audit.run({ ... })
    """
}
