#ifndef NETSTACK_SSL_H
#define NETSTACK_SSL_H
/* Certificate verification and inspection on the system OpenSSL. Plain C types only, so the
 * Swift side never sees an OpenSSL type. */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { NETSTACK_BLOB_PEM = 0, NETSTACK_BLOB_DER = 1 };

/* Input problems, reported instead of an X509_V_ERR value. */
enum {
    NETSTACK_VERIFY_BAD_INPUT = -1,   /* cert blob unparsable, empty or of an unknown type */
    NETSTACK_VERIFY_BAD_CA = -2,      /* CA blob unparsable or holds no certificate */
    NETSTACK_VERIFY_INTERNAL = -3     /* OpenSSL failed to allocate or set up */
};

/* Purposes (X509_PURPOSE_*): none, TLS server, TLS client. */
enum { NETSTACK_PURPOSE_ANY = 0, NETSTACK_PURPOSE_SERVER = 1, NETSTACK_PURPOSE_CLIENT = 2 };

/* Errors of the checks layered on OpenSSL's verifier (netstack_strict.c), reported in
 * netstack_verify_result.error beside the X509_V_ERR_* values (which stay below 100). */
enum {
    NETSTACK_STRICT_LEAF_IS_CA = 801,          /* end-entity certificate with cA TRUE */
    NETSTACK_STRICT_LEAF_NO_SAN = 802,         /* TLS server leaf without subjectAltName */
    NETSTACK_STRICT_LEAF_EKU = 803,            /* TLS server leaf: EKU absent, without serverAuth, or anyEKU */
    NETSTACK_STRICT_LEAF_KEY_USAGE = 804,      /* leaf key usage wrong for its key or role */
    NETSTACK_STRICT_KEY_USAGE_EMPTY = 805,     /* keyUsage present with no bit set */
    NETSTACK_STRICT_DUPLICATE_EXTENSION = 806, /* an extension appears twice */
    NETSTACK_STRICT_CN_NOT_IN_SAN = 807,       /* leaf subject CN is not one of its SAN entries */
    NETSTACK_STRICT_NAME_CONSTRAINTS_BUDGET = 808, /* name-constraint checks over the budget */
    NETSTACK_STRICT_SERIAL = 809,              /* serial not positive or longer than 20 octets */
    NETSTACK_STRICT_TIME_ENCODING = 810,       /* validity not UTCTime through 2049 / GeneralizedTime from 2050 */
    NETSTACK_STRICT_VALIDITY_ORDER = 811,      /* notBefore after notAfter */
    NETSTACK_STRICT_LEAF_VALIDITY_TOO_LONG = 812, /* TLS server leaf valid for more than 398 days */
    NETSTACK_STRICT_NAME_CONSTRAINTS_NOT_CRITICAL = 813, /* nameConstraints extension not critical */
    NETSTACK_STRICT_CHAIN_BUDGET = 814,        /* more untrusted certificates than the budget */
    NETSTACK_STRICT_LEAF_NAME_CONSTRAINTS = 815, /* nameConstraints in an end-entity certificate */
    NETSTACK_STRICT_DNS_NAME_SYNTAX = 816,     /* a dNSName outside the preferred name syntax */
    NETSTACK_STRICT_WILDCARD_TOO_BROAD = 817,  /* a wildcard directly under a top-level domain */
    NETSTACK_STRICT_KEY_NOT_ALLOWED = 818,     /* TLS server chain: a key other than RSA (2048+ bits, a multiple of 8) or ECDSA P-256/384/521 */
    NETSTACK_STRICT_CRL_EXTENSIONS = 819,      /* a CRL given without cRLNumber or authorityKeyIdentifier */
    NETSTACK_STRICT_EXTENSION_CONTENT = 820,   /* an extension that does not decode, or an empty SIZE (1..MAX) list */
    NETSTACK_STRICT_AKI_WITHOUT_KEY_ID = 821,  /* authorityKeyIdentifier without keyIdentifier */
    NETSTACK_STRICT_POLICY_NOT_CRITICAL = 822, /* policyConstraints or inhibitAnyPolicy not critical */
    NETSTACK_STRICT_EMAIL_SYNTAX = 823,        /* an rfc822Name SAN that is not a mailbox */
    NETSTACK_STRICT_LEAF_EKU_CRITICAL = 824,   /* TLS server leaf with a critical extendedKeyUsage */
    NETSTACK_STRICT_ROOT_EKU = 825,            /* TLS server chain: a self-signed trust anchor with extendedKeyUsage */
    NETSTACK_STRICT_AKI_FIELDS = 826           /* TLS server chain: AKI with issuer/serial, or a root's AKI not its own SKI */
};

typedef struct {
    const char *hostname;     /* check against SAN/CN (NULL: no check) */
    const char *ip;           /* check against IP SANs (NULL: no check) */
    const char *email;        /* check against rfc822Name SANs / emailAddress (NULL: no check) */
    int64_t at_time;          /* verify as of this Unix time (0: now, unless has_time) */
    int has_time;             /* at_time is used even when 0 (1970-01-01T00:00:00Z) */
    int partial_chain;        /* accept a chain that ends at any trusted certificate */
    int purpose;              /* NETSTACK_PURPOSE_* (0: none) */
    int max_depth;            /* intermediates allowed below the anchor (< 0: OpenSSL's 100) */
    int strict;               /* X509_V_FLAG_X509_STRICT plus the NETSTACK_STRICT_* checks */
    int security_level;       /* minimum security level 0..5 (< 0: no check, OpenSSL's default) */
    const uint8_t *untrusted; /* further untrusted intermediates (PEM or DER blob; NULL: none) */
    size_t untrusted_len;
    int untrusted_type;
    const uint8_t *crls;      /* CRLs to check against (turn CRL checking on for the chain) */
    size_t crls_len;
    int crls_type;
    int path_building;        /* set aside a failing untrusted intermediate and build again */
    const char *policies;     /* RFC 5280 6.1.1 (c) user-initial-policy-set: numeric OIDs separated by
                                 commas (NULL: {anyPolicy}) */
    int explicit_policy;      /* 6.1.1 (f) initial-explicit-policy */
    int inhibit_policy_mapping; /* 6.1.1 (e) initial-policy-mapping-inhibit */
    int inhibit_any_policy;   /* 6.1.1 (g) initial-any-policy-inhibit */
} netstack_verify_options;

typedef struct {
    int error;                /* X509_V_OK (0), an X509_V_ERR_* value, or a NETSTACK_VERIFY_* value */
    int depth;                /* depth of the certificate the error is about (-1: none) */
    int crl_checked;          /* CRL checking was on */
    char message[256];        /* OpenSSL's reason */
    char subject[256];        /* subject of the certificate at `depth` */
} netstack_verify_result;

/* Verifies the first certificate of `cert` (PEM: further certificates are untrusted intermediates;
 * DER: one or more concatenated certificates) against the certificates and CRLs of `ca`, or against
 * the system store (SSL_CERT_FILE / SSL_CERT_DIR honoured) when `ca` is NULL. CRLs in `ca` turn on
 * CRL checking for the whole chain. */
void netstack_verify(const uint8_t *cert, size_t cert_len, int cert_type,
                     const uint8_t *ca, size_t ca_len, int ca_type,
                     const netstack_verify_options *options, netstack_verify_result *result);

/* A shared trust store (thread-safe for verification): from ca_file and/or ca_dir, or the system
 * default (SSL_CERT_FILE / SSL_CERT_DIR honoured) when both are NULL. NULL on failure. */
typedef struct netstack_store netstack_store;
netstack_store *netstack_store_new(const char *ca_file, const char *ca_dir);
void netstack_store_free(netstack_store *store);
void netstack_verify_der_chain_store(const uint8_t *const *certs, const size_t *lengths, size_t count,
                                     netstack_store *store, const netstack_verify_options *options,
                                     netstack_verify_result *result);

/* A store from a CA blob (certificates and CRLs; CRLs set CRL checking for the chain, reported in
 * *crl_checked). NULL when the blob holds no certificate or does not parse. */
netstack_store *netstack_store_from_blob(const uint8_t *ca, size_t ca_len, int ca_type, int *crl_checked);

/* netstack_verify with a prepared store (from netstack_store_new or netstack_store_from_blob). */
void netstack_verify_with_store(const uint8_t *cert, size_t cert_len, int cert_type, netstack_store *store,
                                int crl_checked, const netstack_verify_options *options, netstack_verify_result *result);

/* SHA-256 of a buffer (32 bytes into out). */
void netstack_sha256(const uint8_t *data, size_t len, uint8_t *out);

/* OpenSSL's text for an X509_V_ERR value, or ours for a NETSTACK_STRICT_* value. */
const char *netstack_verify_error_string(int error);

/* Certificates in a blob, as DER. Returns the count (0 on parse failure); *out_ders is an array of
 * malloc'ed buffers with lengths in *out_lengths; free with netstack_free_ders. */
size_t netstack_split_certificates(const uint8_t *blob, size_t len, int type,
                                   uint8_t ***out_ders, size_t **out_lengths);
void netstack_free_ders(uint8_t **ders, size_t *lengths, size_t count);

/* Inspection of one DER certificate: a text of "key=value" lines (values escaped: \n as \\n),
 * malloc'ed; NULL if unparsable. Keys are listed in netstack_ssl.c. */
char *netstack_inspect(const uint8_t *der, size_t len);

/* A TLS handshake (no WebSocket) that records what the server presented. */
typedef struct {
    int ok;                   /* 1: handshake done */
    char error[256];          /* why not */
    char version[32];         /* e.g. "TLSv1.3" */
    char cipher[64];          /* e.g. "TLS_AES_128_GCM_SHA256" */
    size_t count;             /* certificates presented, leaf first */
    uint8_t **ders;           /* malloc'ed DER buffers (free with netstack_free_ders) */
    size_t *lengths;
    uint8_t *staple;          /* the stapled OCSP response (malloc'ed; NULL: none), free with netstack_free */
    size_t staple_len;
} netstack_fetch_result;

/* free() for buffers this module hands out. */
void netstack_free(void *p);

enum { NETSTACK_OCSP_INVALID = -1, NETSTACK_OCSP_GOOD = 0, NETSTACK_OCSP_REVOKED = 1, NETSTACK_OCSP_UNKNOWN = 2 };

typedef struct {
    int status;               /* NETSTACK_OCSP_* */
    int64_t this_update;      /* Unix seconds (0: absent) */
    int64_t next_update;
    int64_t revoked_at;
    char reason[256];
} netstack_ocsp_result;

/* Checks an OCSP response for certificate `index` of `ders` (DER, leaf first; its issuer: another
 * of `ders`, else from `store`): responder signature against the chain and `store`, the answer
 * for that certificate, the validity window. */
void netstack_ocsp_check_at(const uint8_t *response, size_t len, const uint8_t *const *ders, const size_t *lengths, size_t count,
                            size_t index, netstack_store *store, netstack_ocsp_result *out);
/* An OCSP request (DER, RFC 5019 profile: SHA-1 CertID, no nonce) for certificate `index` of
 * `ders`. Returns 1 with *out malloc'ed (free with netstack_free), or 0 with `error`. */
int netstack_ocsp_request(const uint8_t *const *ders, const size_t *lengths, size_t count, size_t index, netstack_store *store,
                          uint8_t **out, size_t *out_len, char *error, size_t error_size);

/* Connects to host:port (getaddrinfo, every address in turn), sends SNI `sni` (NULL: none) and a
 * certificate status request, and completes a handshake without verifying anything, within
 * timeout_ms overall. */
void netstack_fetch_chain(const char *host, int port, const char *sni, int timeout_ms, netstack_fetch_result *result);

/* Checks certificate `index` of `ders` (DER, leaf first; more issuers from `store`) against a
 * CRL (DER or PEM) from its distribution point, by RFC 5280 6.3 (OpenSSL's CRL processing): the
 * CRL's scope and issuing distribution point, its signer and signature, critical extensions,
 * thisUpdate/nextUpdate, the entry. status GOOD (covered, not listed), REVOKED, or INVALID with
 * the reason (also a CRL that does not cover the certificate, and a delta CRL alone). */
void netstack_crl_check(const uint8_t *crl, size_t len, const uint8_t *const *ders, const size_t *lengths, size_t count,
                        size_t index, netstack_store *store, netstack_ocsp_result *out);

/* A TLS client handshake on memory BIOs, for an event loop that moves the bytes: `feed` gives it
 * what the server sent (nothing at first) and returns 1 when the handshake is done, 0 when it
 * waits for more, -1 on failure (netstack_handshake_error says why); after every call, send what
 * netstack_handshake_take_output yields. netstack_handshake_result fills a fetch result as
 * netstack_fetch_chain does. Not thread-safe per object; free with netstack_handshake_free. */
typedef struct netstack_handshake netstack_handshake;
netstack_handshake *netstack_handshake_new(const char *sni);
int netstack_handshake_feed(netstack_handshake *h, const uint8_t *data, size_t len);
size_t netstack_handshake_pending(netstack_handshake *h);
size_t netstack_handshake_take_output(netstack_handshake *h, uint8_t *buffer, size_t capacity);
const char *netstack_handshake_error(netstack_handshake *h);
void netstack_handshake_result(netstack_handshake *h, netstack_fetch_result *r);
void netstack_handshake_free(netstack_handshake *h);

/* A raw loop that does what the original does: parse leaf and CA (PEM), new store, verify.
 * For benchmarks; returns X509_V_ERR or negative on input errors. */
int netstack_verify_original(const uint8_t *cert, size_t cert_len, const uint8_t *ca, size_t ca_len);

#ifdef __cplusplus
}
#endif
#endif
