#ifndef NETSTACK_COPENSSL_SHIM_H
#define NETSTACK_COPENSSL_SHIM_H
/* System OpenSSL (Debian libssl-dev). Macros Swift cannot import get static inline wrappers here. */
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* SHA-1 of `len` bytes into `out` (20 bytes); used for Sec-WebSocket-Accept. The low-level
 * functions, deprecated in OpenSSL 3 but present: EVP_Digest fetches the algorithm on every call,
 * which costs about six times the hash of a 60-byte key. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static inline void netstack_sha1(const void *data, size_t len, unsigned char *out) {
    SHA_CTX ctx;
    SHA1_Init(&ctx);
    SHA1_Update(&ctx, data, len);
    SHA1_Final(out, &ctx);
}
#pragma GCC diagnostic pop

/* SHA-256 of `len` bytes into `out` (32 bytes): identifies a script across a run's segments. */
static inline int netstack_sha256(const void *data, size_t len, unsigned char *out) {
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}
#endif
