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

typedef struct {
    const char *hostname;     /* check against SAN/CN (NULL: no check) */
    const char *ip;           /* check against IP SANs (NULL: no check) */
    int64_t at_time;          /* verify as of this Unix time (0: now) */
    int purpose_tls_server;   /* require the TLS server purpose */
    int partial_chain;        /* accept a chain that ends at any trusted certificate */
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

/* OpenSSL's text for an X509_V_ERR value. */
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
} netstack_fetch_result;

/* Connects to host:port (getaddrinfo, every address in turn), sends SNI `sni` (NULL: none), and
 * completes a handshake without verifying anything, within timeout_ms overall. */
void netstack_fetch_chain(const char *host, int port, const char *sni, int timeout_ms, netstack_fetch_result *result);

/* A raw loop that does what the original does: parse leaf and CA (PEM), new store, verify.
 * For benchmarks; returns X509_V_ERR or negative on input errors. */
int netstack_verify_original(const uint8_t *cert, size_t cert_len, const uint8_t *ca, size_t ca_len);

#ifdef __cplusplus
}
#endif
#endif
