#include "netstack_ssl.h"
#include "netstack_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* A TLS client handshake on memory BIOs: the caller moves the bytes (on an event loop), OpenSSL
 * only computes. Nothing is verified here (the chain is verified afterwards with the options the
 * caller wants); a certificate status request asks for a stapled OCSP response. */

struct netstack_handshake {
    SSL *ssl;
    BIO *in;    /* bytes from the server, written by feed */
    BIO *out;   /* bytes for the server, read by take_output */
    int done;
    char error[256];
};

/* One context for every handshake (SSL_new on it is thread-safe), made once. */
static SSL_CTX *context;
static CRYPTO_ONCE context_once = CRYPTO_ONCE_STATIC_INIT;
static void make_context(void) {
    context = SSL_CTX_new(TLS_client_method());
    if (context) SSL_CTX_set_verify(context, SSL_VERIFY_NONE, NULL);
}

netstack_handshake *netstack_handshake_new(const char *sni) {
    if (!CRYPTO_THREAD_run_once(&context_once, make_context) || !context) return NULL;
    netstack_handshake *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->ssl = SSL_new(context);
    h->in = BIO_new(BIO_s_mem());
    h->out = BIO_new(BIO_s_mem());
    if (!h->ssl || !h->in || !h->out) {
        if (h->ssl) SSL_free(h->ssl);
        BIO_free(h->in);
        BIO_free(h->out);
        free(h);
        return NULL;
    }
    BIO_set_mem_eof_return(h->in, -1);   /* empty input means "wait", not end of stream */
    SSL_set_bio(h->ssl, h->in, h->out);  /* the SSL owns both BIOs now */
    SSL_set_connect_state(h->ssl);
    if (sni && *sni) SSL_set_tlsext_host_name(h->ssl, sni);
    SSL_set_tlsext_status_type(h->ssl, TLSEXT_STATUSTYPE_ocsp);
    return h;
}

int netstack_handshake_feed(netstack_handshake *h, const uint8_t *data, size_t len) {
    if (h->done) return h->done > 0 ? 1 : -1;
    if (len > 0 && BIO_write(h->in, data, (int)len) != (int)len) {
        snprintf(h->error, sizeof h->error, "TLS handshake failed: out of memory");
        h->done = -1;
        return -1;
    }
    ERR_clear_error();
    int rc = SSL_do_handshake(h->ssl);
    if (rc == 1) {
        h->done = 1;
        return 1;
    }
    int e = SSL_get_error(h->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    unsigned long code = ERR_peek_last_error();
    char buf[200];
    if (code) ERR_error_string_n(code, buf, sizeof buf);
    else snprintf(buf, sizeof buf, "%s", "handshake failed");
    snprintf(h->error, sizeof h->error, "TLS handshake failed: %s", buf);
    ERR_clear_error();
    h->done = -1;
    return -1;
}

size_t netstack_handshake_pending(netstack_handshake *h) { return (size_t)BIO_ctrl_pending(h->out); }

size_t netstack_handshake_take_output(netstack_handshake *h, uint8_t *buffer, size_t capacity) {
    int n = BIO_read(h->out, buffer, (int)(capacity > 0x7fffffff ? 0x7fffffff : capacity));
    return n > 0 ? (size_t)n : 0;
}

const char *netstack_handshake_error(netstack_handshake *h) { return h->error; }

void netstack_handshake_result(netstack_handshake *h, netstack_fetch_result *r) {
    memset(r, 0, sizeof *r);
    if (h->done != 1) {
        snprintf(r->error, sizeof r->error, "%s", h->error[0] ? h->error : "TLS handshake not finished");
        return;
    }
    netstack_fill_fetch_result(h->ssl, r);
}

void netstack_handshake_free(netstack_handshake *h) {
    if (!h) return;
    SSL_free(h->ssl);
    free(h);
    ERR_clear_error();
}
