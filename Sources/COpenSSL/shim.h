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

/* SHA-1 of `len` bytes into `out` (20 bytes); used for Sec-WebSocket-Accept. */
static inline void netstack_sha1(const void *data, size_t len, unsigned char *out) {
    EVP_Digest(data, len, out, NULL, EVP_sha1(), NULL);
}
#endif
