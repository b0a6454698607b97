#include "netstack_ssl.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* A CRL fetched from a certificate's distribution point, checked for that certificate (RFC 5280
 * 6.3, simplified to a complete CRL from the certificate's issuer): the issuer names match, the
 * issuer's key signed it, thisUpdate has come (five minutes of skew) and nextUpdate has not
 * passed, then the serial number is looked up. */

static int64_t unix_time(const ASN1_TIME *t) {
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) return 0;
    return (int64_t)timegm(&tm);
}

static void verdict(netstack_ocsp_result *out, int status, const char *what) {
    out->status = status;
    snprintf(out->reason, sizeof out->reason, "%s", what);
}

void netstack_crl_check(const uint8_t *data, size_t len, const uint8_t *const *ders, const size_t *lengths, size_t count,
                        size_t index, netstack_store *store, netstack_ocsp_result *out) {
    memset(out, 0, sizeof *out);
    ERR_clear_error();
    X509_CRL *crl = NULL;
    X509 *issuer = NULL;
    STACK_OF(X509) *chain = sk_X509_new_null();
    if (!chain || index >= count || !data || len == 0) { verdict(out, NETSTACK_OCSP_INVALID, "no CRL or no certificate"); goto done; }
    for (size_t i = 0; i < count; i++) {
        const unsigned char *p = ders[i];
        X509 *x = d2i_X509(NULL, &p, (long)lengths[i]);
        if (!x) { verdict(out, NETSTACK_OCSP_INVALID, "cannot parse a presented certificate"); goto done; }
        sk_X509_push(chain, x);
    }
    const unsigned char *p = data;
    crl = d2i_X509_CRL(NULL, &p, (long)len);
    if (!crl) {
        BIO *bio = BIO_new_mem_buf(data, (int)len);
        crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
    }
    if (!crl) { verdict(out, NETSTACK_OCSP_INVALID, "cannot parse the CRL"); goto done; }
    X509 *cert = sk_X509_value(chain, (int)index);
    for (int i = 0; i < sk_X509_num(chain) && !issuer; i++) {
        X509 *c = sk_X509_value(chain, i);
        if (i != (int)index && X509_check_issued(c, cert) == X509_V_OK) { issuer = c; X509_up_ref(c); }
    }
    if (!issuer) {
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        if (ctx && X509_STORE_CTX_init(ctx, (X509_STORE *)store, cert, chain) && X509_STORE_CTX_get1_issuer(&issuer, ctx, cert) != 1) issuer = NULL;
        X509_STORE_CTX_free(ctx);
    }
    if (!issuer) { verdict(out, NETSTACK_OCSP_INVALID, "issuer of the certificate not found"); goto done; }
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
        verdict(out, NETSTACK_OCSP_INVALID, "CRL issued by another CA");
        goto done;
    }
    EVP_PKEY *key = X509_get0_pubkey(issuer);
    if (!key || X509_CRL_verify(crl, key) != 1) { verdict(out, NETSTACK_OCSP_INVALID, "CRL signature failure"); goto done; }
    out->this_update = unix_time(X509_CRL_get0_lastUpdate(crl));
    out->next_update = unix_time(X509_CRL_get0_nextUpdate(crl));
    time_t now = time(NULL);
    if (out->this_update > (int64_t)now + 300) { verdict(out, NETSTACK_OCSP_INVALID, "CRL not yet valid (thisUpdate in the future)"); goto done; }
    if (out->next_update != 0 && out->next_update < (int64_t)now) { verdict(out, NETSTACK_OCSP_INVALID, "CRL expired (nextUpdate passed)"); goto done; }
    X509_REVOKED *entry = NULL;
    if (X509_CRL_get0_by_cert(crl, &entry, cert) == 1 && entry) {
        out->revoked_at = unix_time(X509_REVOKED_get0_revocationDate(entry));
        verdict(out, NETSTACK_OCSP_REVOKED, "revoked");
    } else {
        verdict(out, NETSTACK_OCSP_GOOD, "not revoked");
    }
done:
    X509_free(issuer);
    X509_CRL_free(crl);
    if (chain) sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
}
