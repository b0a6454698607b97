#include "netstack_strict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

const char *netstack_strict_error_string(int error) {
    switch (error) {
    case NETSTACK_STRICT_LEAF_IS_CA: return "end-entity certificate is a CA (basicConstraints cA TRUE)";
    case NETSTACK_STRICT_LEAF_NO_SAN: return "TLS server certificate without subjectAltName";
    case NETSTACK_STRICT_LEAF_EKU: return "TLS server certificate without extendedKeyUsage serverAuth (or with anyExtendedKeyUsage)";
    case NETSTACK_STRICT_LEAF_KEY_USAGE: return "end-entity key usage not allowed for its key or role";
    case NETSTACK_STRICT_KEY_USAGE_EMPTY: return "keyUsage extension with no bit set";
    case NETSTACK_STRICT_DUPLICATE_EXTENSION: return "an extension appears more than once";
    case NETSTACK_STRICT_CN_NOT_IN_SAN: return "subject commonName is not one of the subjectAltName entries";
    case NETSTACK_STRICT_NAME_CONSTRAINTS_BUDGET: return "name constraints too complex to check (budget exceeded)";
    case NETSTACK_STRICT_SERIAL: return "serial number not positive or longer than 20 octets";
    case NETSTACK_STRICT_TIME_ENCODING: return "validity time not encoded as RFC 5280 requires";
    case NETSTACK_STRICT_VALIDITY_ORDER: return "notBefore is after notAfter";
    case NETSTACK_STRICT_LEAF_VALIDITY_TOO_LONG: return "TLS server certificate valid for more than 398 days";
    case NETSTACK_STRICT_NAME_CONSTRAINTS_NOT_CRITICAL: return "nameConstraints extension not marked critical";
    case NETSTACK_STRICT_CHAIN_BUDGET: return "too many certificates given (budget 256 untrusted)";
    case NETSTACK_STRICT_LEAF_NAME_CONSTRAINTS: return "nameConstraints in an end-entity certificate";
    case NETSTACK_STRICT_DNS_NAME_SYNTAX: return "subjectAltName dNSName not in the preferred name syntax";
    case NETSTACK_STRICT_WILDCARD_TOO_BROAD: return "wildcard directly under a top-level domain";
    case NETSTACK_STRICT_KEY_NOT_ALLOWED: return "public key not allowed for TLS (RSA of 2048 bits or more, a multiple of 8, or ECDSA P-256, P-384 or P-521)";
    case NETSTACK_STRICT_CRL_EXTENSIONS: return "CRL without cRLNumber or authorityKeyIdentifier";
    case NETSTACK_STRICT_EXTENSION_CONTENT: return "extension content malformed (does not decode, or an empty list where one or more entries are required)";
    case NETSTACK_STRICT_AKI_WITHOUT_KEY_ID: return "authorityKeyIdentifier without keyIdentifier";
    case NETSTACK_STRICT_POLICY_NOT_CRITICAL: return "policyConstraints or inhibitAnyPolicy extension not marked critical";
    case NETSTACK_STRICT_EMAIL_SYNTAX: return "subjectAltName rfc822Name is not a mailbox (local-part@domain)";
    case NETSTACK_STRICT_LEAF_EKU_CRITICAL: return "TLS server certificate with extendedKeyUsage marked critical";
    case NETSTACK_STRICT_ROOT_EKU: return "root certificate with extendedKeyUsage";
    case NETSTACK_STRICT_AKI_FIELDS: return "authorityKeyIdentifier with authorityCertIssuer or authorityCertSerialNumber, or a root's keyIdentifier that is not its subjectKeyIdentifier";
    default: return NULL;
    }
}

int netstack_has_san(X509 *x) { return X509_get_ext_by_NID(x, NID_subject_alt_name, -1) >= 0; }

/* ---- single-certificate rules ------------------------------------------------------------- */

/* RFC 5280 4.2: "A certificate MUST NOT include more than one instance of a particular
 * extension." The OIDs are sorted and neighbours compared (n log n for any count). */
static int compare_objects(const void *a, const void *b) {
    return OBJ_cmp(*(const ASN1_OBJECT *const *)a, *(const ASN1_OBJECT *const *)b);
}

static int duplicate_extension(X509 *x) {
    int n = X509_get_ext_count(x);
    if (n < 2) return 0;
    const ASN1_OBJECT **objs = OPENSSL_malloc(sizeof *objs * (size_t)n);
    if (!objs) return 0;
    for (int i = 0; i < n; i++) objs[i] = X509_EXTENSION_get_object(X509_get_ext(x, i));
    qsort(objs, (size_t)n, sizeof *objs, compare_objects);
    int dup = 0;
    for (int i = 1; i < n && !dup; i++) dup = OBJ_cmp(objs[i - 1], objs[i]) == 0;
    OPENSSL_free(objs);
    return dup;
}

/* RFC 5280 4.1.2.2: positive, at most 20 octets (DER content, sign octet included). */
static int bad_serial(X509 *x) {
    const ASN1_INTEGER *s = X509_get0_serialNumber(x);
    if (ASN1_STRING_type(s) == V_ASN1_NEG_INTEGER) return 1;
    int len = ASN1_STRING_length(s);
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int zero = 1;
    for (int i = 0; i < len; i++) if (d[i]) { zero = 0; break; }
    if (zero) return 1;
    int encoded = len + ((d[0] & 0x80) ? 1 : 0);
    return encoded > 20;
}

/* RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; both in Z with seconds. */
static int bad_time(const ASN1_TIME *t) {
    int type = ASN1_STRING_type(t), len = ASN1_STRING_length(t);
    const unsigned char *d = ASN1_STRING_get0_data(t);
    struct tm tm;
    if (!ASN1_TIME_to_tm(t, &tm)) return 1;
    int year = tm.tm_year + 1900;
    if (type == V_ASN1_UTCTIME) return len != 13 || d[12] != 'Z';
    if (type == V_ASN1_GENERALIZEDTIME) return year < 2050 || len != 15 || d[14] != 'Z';
    return 1;
}

static int64_t seconds_of(const ASN1_TIME *t) {
    struct tm tm;
    if (!ASN1_TIME_to_tm(t, &tm)) return 0;
    return (int64_t)timegm(&tm);
}

/* The text BR 7.1.4.3 requires for an IP address SAN in a commonName: IPv4 as RFC 3986 3.2.2's
 * dotted decimal (no leading zeros), IPv6 as RFC 5952 4 (lowercase hex without leading zeros, the
 * longest run of two or more zero groups, the first of equal runs, as "::"). Returns the length
 * written to `out` (at least 40 bytes), 0 for an address of another length. */
static int canonical_ip_text(const ASN1_OCTET_STRING *ip, char *out) {
    const unsigned char *b = ASN1_STRING_get0_data(ip);
    int n = ASN1_STRING_length(ip);
    if (n == 4) return snprintf(out, 40, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    if (n != 16) return 0;
    unsigned g[8];
    for (int i = 0; i < 8; i++) g[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
    int best = -1, bestLen = 1;
    for (int i = 0; i < 8;) {
        if (g[i] != 0) { i++; continue; }
        int j = i;
        while (j < 8 && g[j] == 0) j++;
        if (j - i > bestLen) { best = i; bestLen = j - i; }
        i = j;
    }
    int len = 0;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            len += snprintf(out + len, 40 - (size_t)len, "::");
            i += bestLen - 1;
            continue;
        }
        if (i > 0 && i != best + bestLen) out[len++] = ':';
        len += snprintf(out + len, 40 - (size_t)len, "%x", g[i]);
    }
    return len;
}

/* BR 7.1.4.3: a commonName, when present, is a character-for-character copy of a dNSName SAN
 * (letter case included), or an IP address SAN in the text above ("127.000.000.001" or an
 * uppercase IPv6 address is not a copy). */
static int cn_not_in_san(X509 *x) {
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (!sans) return 0;   /* no SAN: NETSTACK_STRICT_LEAF_NO_SAN is the finding */
    X509_NAME *subject = X509_get_subject_name(x);
    int result = 0;
    for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) {
        ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
        unsigned char *utf8 = NULL;
        int ulen = ASN1_STRING_to_UTF8(&utf8, cn);
        if (ulen < 0) { result = 1; break; }
        int found = 0;
        for (int j = 0; j < sk_GENERAL_NAME_num(sans) && !found; j++) {
            GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, j);
            if (g->type == GEN_DNS) {
                ASN1_IA5STRING *d = g->d.dNSName;
                found = ASN1_STRING_length(d) == ulen && memcmp(ASN1_STRING_get0_data(d), utf8, (size_t)ulen) == 0;
            } else if (g->type == GEN_IPADD) {
                char text[40];
                int tlen = canonical_ip_text(g->d.iPAddress, text);
                found = tlen > 0 && tlen == ulen && memcmp(text, utf8, (size_t)ulen) == 0;
            }
        }
        OPENSSL_free(utf8);
        if (!found) { result = 1; break; }
    }
    GENERAL_NAMES_free(sans);
    return result;
}

/* RFC 1034 3.5 / RFC 5280 4.2.1.6 preferred name syntax, as BR 7.1.2.7.12 requires for TLS
 * server names: LDH labels of 1-63 octets not starting or ending with '-', at most 253 octets, no
 * trailing dot; one wildcard, as the whole leftmost label, with at least two labels after it.
 * Returns 0, NETSTACK_STRICT_DNS_NAME_SYNTAX or NETSTACK_STRICT_WILDCARD_TOO_BROAD. */
static int dns_name_error(const unsigned char *d, int n) {
    if (n < 1 || n > 253 || d[n - 1] == '.') return NETSTACK_STRICT_DNS_NAME_SYNTAX;
    int start = 0, labels = 0, wildcard = 0;
    if (n >= 2 && d[0] == '*' && d[1] == '.') { wildcard = 1; start = 2; }
    for (int i = start; i <= n; i++) {
        if (i == n || d[i] == '.') {
            int len = i - start;
            if (len < 1 || len > 63 || d[start] == '-' || d[i - 1] == '-') return NETSTACK_STRICT_DNS_NAME_SYNTAX;
            labels++;
            start = i + 1;
            continue;
        }
        unsigned char c = d[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return NETSTACK_STRICT_DNS_NAME_SYNTAX;
    }
    if (wildcard && labels < 2) return NETSTACK_STRICT_WILDCARD_TOO_BROAD;
    return 0;
}

/* The first error `check` finds among the subjectAltName entries of GEN_* `type` (0: none). */
static int san_entries_error(X509 *x, int type, int (*check)(const unsigned char *, int)) {
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (!sans) return 0;
    int e = 0;
    for (int j = 0; j < sk_GENERAL_NAME_num(sans) && !e; j++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, j);
        if (g->type == type) e = check(ASN1_STRING_get0_data(g->d.ia5), ASN1_STRING_length(g->d.ia5));
    }
    GENERAL_NAMES_free(sans);
    return e;
}

/* RFC 5280 4.2.1.6: an rfc822Name is a RFC 5321 4.1.2 Mailbox: a Dot-string (atoms of atext
 * joined by single dots) or a Quoted-string local part of at most 64 octets, "@", then a domain in
 * the preferred name syntax (no wildcard) or an address literal in brackets. ASCII only. */
static int atext(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int mailbox_error(const unsigned char *d, int n) {
    int i = 0;
    if (n > 0 && d[0] == '"') {
        for (i = 1; i < n && d[i] != '"'; i++) {
            if (d[i] == '\\') { if (++i >= n || d[i] < 32 || d[i] > 126) return 1; }
            else if (d[i] < 32 || d[i] > 126) return 1;
        }
        if (i >= n) return 1;
        i++;
    } else {
        int atom = 0;
        for (; i < n && d[i] != '@'; i++) {
            if (d[i] == '.') { if (atom == 0) return 1; atom = 0; }
            else if (atext(d[i])) atom++;
            else return 1;
        }
        if (atom == 0) return 1;
    }
    if (i > 64 || i >= n || d[i] != '@') return 1;
    const unsigned char *dom = d + i + 1;
    int m = n - i - 1;
    if (m >= 2 && dom[0] == '[') {
        if (dom[m - 1] != ']') return 1;
        for (int k = 1; k < m - 1; k++) if (dom[k] < 33 || dom[k] > 126 || dom[k] == '[' || dom[k] == ']' || dom[k] == '\\') return 1;
        return m < 3;
    }
    if (m >= 1 && dom[0] == '*') return 1;
    return dns_name_error(dom, m) != 0;
}

static int email_entry_error(const unsigned char *d, int n) {
    return mailbox_error(d, n) ? NETSTACK_STRICT_EMAIL_SYNTAX : 0;
}

/* RFC 5280 4.2: every extension OpenSSL knows must decode; the lists RFC 5280 types SIZE
 * (1..MAX) (subjectAltName, extendedKeyUsage, certificatePolicies, CRL distribution points,
 * authority and subject information access, the subtrees of nameConstraints, of which at least
 * one is present, 4.2.1.10) are not empty. Returns 0, NETSTACK_STRICT_EXTENSION_CONTENT or, for
 * an authorityKeyIdentifier without its keyIdentifier (4.2.1.1), NETSTACK_STRICT_AKI_WITHOUT_KEY_ID. */
static int extension_content_error(X509 *x) {
    int e = 0;
    for (int i = 0; i < X509_get_ext_count(x) && !e; i++) {
        X509_EXTENSION *ext = X509_get_ext(x, i);
        const X509V3_EXT_METHOD *method = X509V3_EXT_get(ext);
        if (!method) continue;
        void *value = X509V3_EXT_d2i(ext);
        if (!value) { e = NETSTACK_STRICT_EXTENSION_CONTENT; break; }
        switch (OBJ_obj2nid(X509_EXTENSION_get_object(ext))) {
        case NID_subject_alt_name: case NID_ext_key_usage: case NID_certificate_policies:
        case NID_crl_distribution_points: case NID_info_access: case NID_sinfo_access:
            if (OPENSSL_sk_num((const OPENSSL_STACK *)value) < 1) e = NETSTACK_STRICT_EXTENSION_CONTENT;
            break;
        case NID_name_constraints: {
            NAME_CONSTRAINTS *nc = value;
            if ((!nc->permittedSubtrees && !nc->excludedSubtrees)
                || (nc->permittedSubtrees && sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) < 1)
                || (nc->excludedSubtrees && sk_GENERAL_SUBTREE_num(nc->excludedSubtrees) < 1))
                e = NETSTACK_STRICT_EXTENSION_CONTENT;
            break;
        }
        case NID_authority_key_identifier:
            if (!((AUTHORITY_KEYID *)value)->keyid) e = NETSTACK_STRICT_AKI_WITHOUT_KEY_ID;
            break;
        default: break;
        }
        if (method->it) ASN1_item_free(value, ASN1_ITEM_ptr(method->it));
        else method->ext_free(value);
    }
    return e;
}

/* BR 6.1.5 and 7.1.3.1: the keys of a TLS server certificate and of the CAs that issue it are RSA
 * (rsaEncryption, a modulus of at least 2048 bits and a multiple of 8) or ECDSA on P-256, P-384 or
 * P-521; DSA, EdDSA, RSA-PSS keys and other curves are not. */
static int key_not_allowed(X509 *x) {
    EVP_PKEY *key = X509_get0_pubkey(x);
    if (!key) return 1;
    int id = EVP_PKEY_get_base_id(key);
    if (id == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(key);
        return bits < 2048 || bits % 8 != 0;
    }
    if (id != EVP_PKEY_EC) return 1;
    char group[64];
    if (!EVP_PKEY_get_group_name(key, group, sizeof group, NULL)) return 1;
    return strcmp(group, "prime256v1") != 0 && strcmp(group, "secp384r1") != 0 && strcmp(group, "secp521r1") != 0;
}

/* BR 7.1.2.11.1 (and 7.1.2.1.3 for a root): authorityCertIssuer and authorityCertSerialNumber
 * MUST NOT be present. */
static int aki_names_issuer(X509 *x) {
    return X509_get0_authority_issuer(x) != NULL || X509_get0_authority_serial(x) != NULL;
}

/* BR 7.1.2.1.3: a root's keyIdentifier "MUST be identical to the subjectKeyIdentifier field". A
 * root whose authority key identifier names another key is not self-issued to OpenSSL, so its
 * own signature decides whether it is a root (checked only when the identifiers differ). */
static int root_aki_not_own_ski(X509 *x) {
    const ASN1_OCTET_STRING *akid = X509_get0_authority_key_id(x), *skid = X509_get0_subject_key_id(x);
    if (!akid || !skid || ASN1_OCTET_STRING_cmp(akid, skid) == 0) return 0;
    if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0) return 0;
    EVP_PKEY *key = X509_get0_pubkey(x);
    return key && X509_verify(x, key) == 1;
}

static int structure_error(X509 *x) {
    if (duplicate_extension(x)) return NETSTACK_STRICT_DUPLICATE_EXTENSION;
    int content = extension_content_error(x);
    if (content) return content;
    int email = san_entries_error(x, GEN_EMAIL, email_entry_error);
    if (email) return email;
    if (bad_serial(x)) return NETSTACK_STRICT_SERIAL;
    if (bad_time(X509_get0_notBefore(x)) || bad_time(X509_get0_notAfter(x))) return NETSTACK_STRICT_TIME_ENCODING;
    if (ASN1_TIME_compare(X509_get0_notBefore(x), X509_get0_notAfter(x)) > 0) return NETSTACK_STRICT_VALIDITY_ORDER;
    if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) && X509_get_key_usage(x) == 0) return NETSTACK_STRICT_KEY_USAGE_EMPTY;
    return 0;
}

static int leaf_error(X509 *x, int purpose) {
    uint32_t flags = X509_get_extension_flags(x);
    if ((flags & EXFLAG_BCONS) && (flags & EXFLAG_CA)) return NETSTACK_STRICT_LEAF_IS_CA;
    if (X509_get_ext_by_NID(x, NID_name_constraints, -1) >= 0) return NETSTACK_STRICT_LEAF_NAME_CONSTRAINTS;
    uint32_t ku = X509_get_key_usage(x);
    if ((flags & EXFLAG_KUSAGE) && (ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN))) return NETSTACK_STRICT_LEAF_KEY_USAGE;
    if (purpose != NETSTACK_PURPOSE_SERVER) return 0;
    if (!netstack_has_san(x)) return NETSTACK_STRICT_LEAF_NO_SAN;
    if (!(flags & EXFLAG_XKUSAGE)) return NETSTACK_STRICT_LEAF_EKU;
    uint32_t xku = X509_get_extended_key_usage(x);
    if (!(xku & XKU_SSL_SERVER) || (xku & XKU_ANYEKU)) return NETSTACK_STRICT_LEAF_EKU;
    int eku = X509_get_ext_by_NID(x, NID_ext_key_usage, -1);
    if (eku >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, eku))) return NETSTACK_STRICT_LEAF_EKU_CRITICAL;
    if (flags & EXFLAG_KUSAGE) {
        /* BR 7.1.2.7.11: RSA keys sign and/or encipher; EC keys sign (keyAgreement allowed),
         * never encipher. */
        EVP_PKEY *key = X509_get0_pubkey(x);
        int id = key ? EVP_PKEY_get_base_id(key) : 0;
        if (id == EVP_PKEY_EC && (ku & KU_KEY_ENCIPHERMENT)) return NETSTACK_STRICT_LEAF_KEY_USAGE;
        if (!(ku & (KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT))) return NETSTACK_STRICT_LEAF_KEY_USAGE;
    }
    if (cn_not_in_san(x)) return NETSTACK_STRICT_CN_NOT_IN_SAN;
    /* BR 6.3.2: issued on or after 2020-09-01, at most 398 days (the period counts both ends). */
    int64_t nb = seconds_of(X509_get0_notBefore(x)), na = seconds_of(X509_get0_notAfter(x));
    if (nb >= 1598918400 && na - nb + 1 > 398LL * 86400) return NETSTACK_STRICT_LEAF_VALIDITY_TOO_LONG;
    return 0;
}

/* (An intermediate without basicConstraints cA, or whose AKI differs from its issuer's SKI, never
 * gets here: X509_V_FLAG_X509_STRICT reports the first as X509_V_ERR_INVALID_CA and chain
 * building does not take the second as an issuer.) */
static int issuer_error(X509 *x) {
    static const struct { int nid, error; } must_be_critical[] = {
        { NID_name_constraints, NETSTACK_STRICT_NAME_CONSTRAINTS_NOT_CRITICAL },
        { NID_policy_constraints, NETSTACK_STRICT_POLICY_NOT_CRITICAL },
        { NID_inhibit_any_policy, NETSTACK_STRICT_POLICY_NOT_CRITICAL },
    };
    for (size_t k = 0; k < sizeof must_be_critical / sizeof must_be_critical[0]; k++) {
        int at = X509_get_ext_by_NID(x, must_be_critical[k].nid, -1);
        if (at >= 0 && !X509_EXTENSION_get_critical(X509_get_ext(x, at))) return must_be_critical[k].error;
    }
    return 0;
}

int netstack_strict_check_leaf(X509 *leaf, int purpose) {
    int e = structure_error(leaf);
    if (!e && purpose == NETSTACK_PURPOSE_SERVER) e = san_entries_error(leaf, GEN_DNS, dns_name_error);
    return e;
}

int netstack_strict_check_chain(STACK_OF(X509) *chain, int purpose, int *depth) {
    int n = sk_X509_num(chain);
    /* The trust anchor (last) is trusted as given; everything below it is checked. A chain of
     * one is a certificate trusted directly: only its structure is checked. */
    int last = n > 1 ? n - 2 : 0;
    for (int i = 0; i <= last; i++) {
        X509 *x = sk_X509_value(chain, i);
        int e = i > 0 ? structure_error(x) : 0;
        if (!e && i == 0 && n > 1) e = leaf_error(x, purpose);
        if (!e && i > 0) e = issuer_error(x);
        if (!e && n > 1 && purpose == NETSTACK_PURPOSE_SERVER && key_not_allowed(x)) e = NETSTACK_STRICT_KEY_NOT_ALLOWED;
        if (!e && n > 1 && purpose == NETSTACK_PURPOSE_SERVER && (aki_names_issuer(x) || root_aki_not_own_ski(x))) e = NETSTACK_STRICT_AKI_FIELDS;
        if (e) { *depth = i; return e; }
    }
    /* The anchor is trusted as given, but its extensions must still be well-formed and, for a TLS
     * server chain, its key one the Baseline Requirements allow (6.1.5) and, for a root, no
     * extendedKeyUsage (7.1.2.1.2) and an authority key identifier that is its own subject key
     * identifier (7.1.2.1.3). A root's authorityCertIssuer and authorityCertSerialNumber are not
     * checked here: five roots of Mozilla's store (2026) predate the rule and carry them. */
    if (n > 1) {
        X509 *anchor = sk_X509_value(chain, n - 1);
        int e = extension_content_error(anchor);
        if (!e && purpose == NETSTACK_PURPOSE_SERVER && key_not_allowed(anchor)) e = NETSTACK_STRICT_KEY_NOT_ALLOWED;
        if (!e && purpose == NETSTACK_PURPOSE_SERVER && (X509_get_extension_flags(anchor) & EXFLAG_SS)
            && X509_get_ext_by_NID(anchor, NID_ext_key_usage, -1) >= 0) e = NETSTACK_STRICT_ROOT_EKU;
        if (!e && purpose == NETSTACK_PURPOSE_SERVER && root_aki_not_own_ski(anchor)) e = NETSTACK_STRICT_AKI_FIELDS;
        if (e) { *depth = n - 1; return e; }
    }
    return 0;
}

/* RFC 5280 5.2.1 and 5.2.3: conforming CRL issuers MUST include the authority key identifier and
 * the CRL number. */
static int crl_lacks_extensions(X509_CRL *c) {
    return X509_CRL_get_ext_by_NID(c, NID_crl_number, -1) < 0 || X509_CRL_get_ext_by_NID(c, NID_authority_key_identifier, -1) < 0;
}

int netstack_strict_check_crls(X509_STORE *store, STACK_OF(X509_CRL) *crls) {
    for (int i = 0; crls && i < sk_X509_CRL_num(crls); i++)
        if (crl_lacks_extensions(sk_X509_CRL_value(crls, i))) return NETSTACK_STRICT_CRL_EXTENSIONS;
    int e = 0;
    if (store && X509_STORE_lock(store)) {
        STACK_OF(X509_OBJECT) *objects = X509_STORE_get0_objects(store);
        for (int i = 0; objects && i < sk_X509_OBJECT_num(objects) && !e; i++) {
            X509_CRL *c = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objects, i));
            if (c && crl_lacks_extensions(c)) e = NETSTACK_STRICT_CRL_EXTENSIONS;
        }
        X509_STORE_unlock(store);
    }
    return e;
}

int netstack_strict_verify_callback(int ok, X509_STORE_CTX *ctx) {
    if (ok) return ok;
    int err = X509_STORE_CTX_get_error(ctx);
    X509 *current = X509_STORE_CTX_get_current_cert(ctx);
    if (err == X509_V_ERR_CERT_HAS_EXPIRED && current) {
        X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
        time_t t = (X509_VERIFY_PARAM_get_flags(param) & X509_V_FLAG_USE_CHECK_TIME) ? X509_VERIFY_PARAM_get_time(param) : time(NULL);
        if (ASN1_TIME_cmp_time_t(X509_get0_notAfter(current), t) == 0) {
            X509_STORE_CTX_set_error(ctx, X509_V_OK);
            return 1;
        }
    }
    if (err == X509_V_ERR_UNSPECIFIED) {
        STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
        int d = X509_STORE_CTX_get_error_depth(ctx);
        for (int j = d + 1; chain && j < sk_X509_num(chain); j++) {
            if (X509_get_ext_by_NID(sk_X509_value(chain, j), NID_name_constraints, -1) >= 0) {
                X509_STORE_CTX_set_error(ctx, NETSTACK_STRICT_NAME_CONSTRAINTS_BUDGET);
                return 0;
            }
        }
    }
    return ok;
}
