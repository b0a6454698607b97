import ArgumentParser
import NetStack

/// RFC 5280 6.1.1's policy inputs on the command line (`verify`, `audit`): the
/// user-initial-policy-set and the three initial flags.
struct PolicyInputOptions: ParsableArguments {
    @Option(name: .customLong("policy"), parsing: .unconditionalSingleValue,
            help: "A certificate policy accepted, as a numeric OID or anyPolicy (repeatable; RFC 5280's user-initial-policy-set; default anyPolicy).")
    var policies: [String] = []
    @Flag(help: "The path must be valid for one of the --policy policies (RFC 5280's initial-explicit-policy; with --policy 2.23.140.1.1: extended validation).")
    var explicitPolicy = false
    @Flag(help: "Do not follow policy mappings (RFC 5280's initial-policy-mapping-inhibit).") var inhibitPolicyMapping = false
    @Flag(help: "anyPolicy in a certificate matches no policy (RFC 5280's initial-any-policy-inhibit).") var inhibitAnyPolicy = false

    func validate() throws {
        if !policies.isEmpty, case .failure(let why) = CertificateVerificationOptions.checkedPolicies(policies) {
            throw ValidationError("--policy: \(why)")
        }
    }

    /// Sets the inputs on verification options.
    func apply(to options: inout CertificateVerificationOptions) {
        options.initialPolicies = policies.isEmpty ? nil : policies
        options.explicitPolicy = explicitPolicy
        options.inhibitPolicyMapping = inhibitPolicyMapping
        options.inhibitAnyPolicy = inhibitAnyPolicy
    }

    /// The same as options of the audit plugin (`-P audit.NAME=VALUE`).
    var auditPluginOptions: [String] {
        var out: [String] = []
        if !policies.isEmpty { out.append("audit.policies=\(policies.joined(separator: ","))") }
        if explicitPolicy { out.append("audit.explicitPolicy=true") }
        if inhibitPolicyMapping { out.append("audit.inhibitPolicyMapping=true") }
        if inhibitAnyPolicy { out.append("audit.inhibitAnyPolicy=true") }
        return out
    }
}
