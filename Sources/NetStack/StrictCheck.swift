import CNetStackSSL

/// The checks `strict` verification layers on OpenSSL's verifier (beside OpenSSL's own
/// X509_V_FLAG_X509_STRICT checks, which keep their 2305000 + n codes), each with its code, its
/// reason and the rule it enforces. Implemented in `netstack_strict.c`; run on the chain OpenSSL
/// built and accepted, trust anchor excluded (but for its extensions' content, its key
/// a root's extendedKeyUsage and its own key identifier).
public enum StrictCheck: Int32, CaseIterable, Sendable {
    case leafIsCA = 801
    case leafWithoutSAN = 802
    case leafExtendedKeyUsage = 803
    case leafKeyUsage = 804
    case emptyKeyUsage = 805
    case duplicateExtension = 806
    case commonNameNotInSAN = 807
    case nameConstraintsBudget = 808
    case serialNumber = 809
    case timeEncoding = 810
    case validityOrder = 811
    case leafValidityTooLong = 812
    case nameConstraintsNotCritical = 813
    case chainBudget = 814
    case leafNameConstraints = 815
    case dnsNameSyntax = 816
    case wildcardTooBroad = 817
    case keyNotAllowed = 818
    case crlExtensions = 819
    case extensionContent = 820
    case authorityKeyIdentifierWithoutKeyID = 821
    case policyExtensionNotCritical = 822
    case emailSyntax = 823
    case leafExtendedKeyUsageCritical = 824
    case rootExtendedKeyUsage = 825
    case authorityKeyIdentifierFields = 826

    /// The API code: 2305000 + the C value.
    public var code: UInt32 { 2_305_000 + UInt32(rawValue) }

    /// The reason reported with the code.
    public var meaning: String { String(cString: netstack_verify_error_string(rawValue)) }

    /// Where the rule comes from.
    public var source: String {
        switch self {
        case .leafIsCA: return "RFC 5280 4.2.1.9; BR 7.1.2.7.8 (cA MUST be FALSE in a subscriber certificate)"
        case .leafWithoutSAN: return "BR 7.1.2.7.12 (subjectAltName MUST be present); RFC 6125 6.4.4"
        case .leafExtendedKeyUsage: return "BR 7.1.2.7.10 (id-kp-serverAuth MUST be present; anyExtendedKeyUsage MUST NOT)"
        case .leafKeyUsage: return "RFC 5280 4.2.1.3 (keyCertSign only with cA); BR 7.1.2.7.11 (no cRLSign/keyCertSign; EC keys never keyEncipherment)"
        case .emptyKeyUsage: return "RFC 5280 4.2.1.3 (at least one bit MUST be set)"
        case .duplicateExtension: return "RFC 5280 4.2 (no more than one instance of an extension)"
        case .commonNameNotInSAN: return "BR 7.1.4.3 (a commonName MUST be a character-for-character copy of a subjectAltName value; IP addresses as RFC 3986 3.2.2 / RFC 5952 4 write them)"
        case .nameConstraintsBudget: return "OpenSSL's limit of 2^20 name × constraint comparisons per certificate; reported instead of \"unknown\""
        case .serialNumber: return "RFC 5280 4.1.2.2 (positive, at most 20 octets)"
        case .timeEncoding: return "RFC 5280 4.1.2.5 (UTCTime through 2049, GeneralizedTime from 2050, Zulu with seconds)"
        case .validityOrder: return "RFC 5280 4.1.2.5 (notBefore through notAfter)"
        case .leafValidityTooLong: return "BR 6.3.2 (at most 398 days for certificates issued from 2020-09-01)"
        case .nameConstraintsNotCritical: return "RFC 5280 4.2.1.10 (nameConstraints MUST be critical)"
        case .chainBudget: return "a budget of 256 untrusted certificates per verification (hostile inputs)"
        case .dnsNameSyntax: return "RFC 5280 4.2.1.6 and RFC 1034 3.5 (preferred name syntax); BR 7.1.2.7.12 (no underscores)"
        case .wildcardTooBroad: return "BR 3.2.2.6 (no wildcard directly under a public suffix; only top-level domains are known here, not the Public Suffix List)"
        case .keyNotAllowed: return "BR 6.1.5 and 7.1.3.1 (RSA keys of at least 2048 bits, the modulus a multiple of 8, or ECDSA keys on P-256, P-384 or P-521, in the leaf, every CA and the trust anchor)"
        case .crlExtensions: return "RFC 5280 5.2.1 and 5.2.3 (a CRL MUST include authorityKeyIdentifier and cRLNumber)"
        case .extensionContent: return "RFC 5280 4.2 (extensions decode; SIZE (1..MAX) lists are not empty; nameConstraints has a subtree, 4.2.1.10), in every certificate including the trust anchor"
        case .authorityKeyIdentifierWithoutKeyID: return "RFC 5280 4.2.1.1 (keyIdentifier MUST be included), in every certificate including the trust anchor"
        case .policyExtensionNotCritical: return "RFC 5280 4.2.1.11 and 4.2.1.14 (policyConstraints and inhibitAnyPolicy MUST be critical)"
        case .emailSyntax: return "RFC 5280 4.2.1.6 and RFC 5321 4.1.2 (an rfc822Name is a Mailbox)"
        case .leafExtendedKeyUsageCritical: return "BR 7.1.2.7.6 (extKeyUsage in a subscriber certificate is not critical)"
        case .rootExtendedKeyUsage: return "BR 7.1.2.1.2 (extKeyUsage MUST NOT be present in a root CA certificate; self-signed trust anchors of TLS server chains)"
        case .authorityKeyIdentifierFields: return "BR 7.1.2.11.1 and 7.1.2.1.3 (authorityCertIssuer and authorityCertSerialNumber MUST NOT be present; a root's keyIdentifier MUST be identical to its subjectKeyIdentifier), in TLS server chains; in the trust anchor only the root's own key identifier"
        case .leafNameConstraints: return "RFC 5280 4.2.1.10 (used only in a CA certificate); BR 7.1.2.7.6 (MUST NOT in a subscriber certificate)"
        }
    }
}
