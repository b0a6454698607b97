#ifndef NETSTACK_STRICT_H
#define NETSTACK_STRICT_H
/* Checks layered on OpenSSL's verifier in strict mode (RFC 5280 structure rules and the CA/Browser
 * Forum Baseline Requirements' TLS server profile), run on the chain OpenSSL built and accepted. */
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include "netstack_ssl.h"

/* Most untrusted certificates a verification takes (more: NETSTACK_STRICT_CHAIN_BUDGET). */
#define NETSTACK_UNTRUSTED_BUDGET 256

/* The leaf's own structure (and, for the server purpose, its DNS names' syntax), checked before
 * OpenSSL builds a chain so that its precise code wins over what OpenSSL makes of it. */
int netstack_strict_check_leaf(X509 *leaf, int purpose);

/* 0, or a NETSTACK_STRICT_* error with the depth of the certificate it is about. The leaf
 * (chain[0]) has passed netstack_strict_check_leaf: its structure and DNS names are not checked
 * again. */
int netstack_strict_check_chain(STACK_OF(X509) *chain, int purpose, int *depth);

/* 0, or NETSTACK_STRICT_CRL_EXTENSIONS when a CRL given apart (`crls`, may be NULL) or held by
 * the store lacks cRLNumber or authorityKeyIdentifier. */
int netstack_strict_check_crls(X509_STORE *store, STACK_OF(X509_CRL) *crls);

/* Verify callback for strict mode: a certificate is valid at its notAfter second (RFC 5280
 * 4.1.2.5: "notBefore through notAfter, inclusive"; OpenSSL says expired), and a name-constraint
 * check that OpenSSL gave up on (X509_V_ERR_UNSPECIFIED) becomes NETSTACK_STRICT_NAME_CONSTRAINTS_BUDGET. */
int netstack_strict_verify_callback(int ok, X509_STORE_CTX *ctx);

/* Whether the certificate has a subjectAltName extension. */
int netstack_has_san(X509 *x);

/* Text for a NETSTACK_STRICT_* value (NULL for others). */
const char *netstack_strict_error_string(int error);

#endif
