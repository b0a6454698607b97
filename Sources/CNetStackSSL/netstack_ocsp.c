#include "netstack_ssl.h"

#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

/* An OCSP response (RFC 6960) for one certificate of a presented chain: a stapled one for the
 * leaf (RFC 6066 8), or one fetched from a certificate's responder. The responder's signature is checked against the chain and the
 * store (the issuer itself, or a responder it delegated with id-kp-OCSPSigning), then the
 * response's validity window (five minutes of clock skew allowed). */

static int64_t unix_time(const ASN1_GENERALIZEDTIME *t) {
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) return 0;
    return (int64_t)timegm(&tm);
}

static void invalid(netstack_ocsp_result *out, const char *what) {
    out->status = NETSTACK_OCSP_INVALID;
    unsigned long e = ERR_peek_last_error();
    if (e) {
        char buf[120];
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(out->reason, sizeof out->reason, "%s (%s)", what, buf);
    } else {
        snprintf(out->reason, sizeof out->reason, "%s", what);
    }
}

/* The issuer of chain certificate `index`: another presented certificate that issued it, else
 * one from the store. */
static X509 *find_issuer(int index, STACK_OF(X509) *chain, X509_STORE *store) {
    X509 *leaf = sk_X509_value(chain, index);
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        if (i != index && X509_check_issued(c, leaf) == X509_V_OK) { X509_up_ref(c); return c; }
    }
    X509 *issuer = NULL;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (ctx && X509_STORE_CTX_init(ctx, store, leaf, chain)) {
        if (X509_STORE_CTX_get1_issuer(&issuer, ctx, leaf) != 1) issuer = NULL;
    }
    X509_STORE_CTX_free(ctx);
    return issuer;
}

/* The presented certificates as a stack, or NULL if one does not parse. */
static STACK_OF(X509) *parse_chain(const uint8_t *const *ders, const size_t *lengths, size_t count) {
    STACK_OF(X509) *chain = sk_X509_new_null();
    if (!chain) return NULL;
    for (size_t i = 0; i < count; i++) {
        const unsigned char *p = ders[i];
        X509 *x = d2i_X509(NULL, &p, (long)lengths[i]);
        if (!x || !sk_X509_push(chain, x)) {
            X509_free(x);
            sk_X509_pop_free(chain, X509_free);
            return NULL;
        }
    }
    return chain;
}

void netstack_ocsp_check_at(const uint8_t *response, size_t len, const uint8_t *const *ders, const size_t *lengths, size_t count,
                            size_t index, netstack_store *store, netstack_ocsp_result *out) {
    memset(out, 0, sizeof *out);
    ERR_clear_error();
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *basic = NULL;
    OCSP_CERTID *id = NULL;
    X509 *issuer = NULL;
    STACK_OF(X509) *chain = NULL;
    if (index >= count || count > INT_MAX || !response || len == 0 || len > LONG_MAX) { invalid(out, "no response or no such certificate"); goto done; }
    chain = parse_chain(ders, lengths, count);
    if (!chain) { invalid(out, "cannot parse a presented certificate"); goto done; }
    const unsigned char *p = response;
    resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    if (!resp) { invalid(out, "cannot parse the OCSP response"); goto done; }
    int rs = OCSP_response_status(resp);
    if (rs != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        char what[120];
        snprintf(what, sizeof what, "responder status %s", OCSP_response_status_str(rs));
        invalid(out, what);
        goto done;
    }
    basic = OCSP_response_get1_basic(resp);
    if (!basic) { invalid(out, "not a basic OCSP response"); goto done; }
    if (OCSP_basic_verify(basic, chain, (X509_STORE *)store, 0) <= 0) { invalid(out, "responder signature not trusted"); goto done; }
    X509 *leaf = sk_X509_value(chain, (int)index);
    issuer = find_issuer((int)index, chain, (X509_STORE *)store);
    if (!issuer) { invalid(out, "issuer of the certificate not found"); goto done; }
    id = OCSP_cert_to_id(NULL, leaf, issuer);
    int status = -1, reason = -1;
    ASN1_GENERALIZEDTIME *revoked = NULL, *this_update = NULL, *next_update = NULL;
    if (!id || !OCSP_resp_find_status(basic, id, &status, &reason, &revoked, &this_update, &next_update)) {
        invalid(out, "no answer for this certificate in the response");
        goto done;
    }
    out->this_update = unix_time(this_update);
    out->next_update = unix_time(next_update);
    out->revoked_at = unix_time(revoked);
    if (!OCSP_check_validity(this_update, next_update, 300, -1)) {
        invalid(out, "response outside its validity window (thisUpdate/nextUpdate)");
        goto done;
    }
    switch (status) {
    case V_OCSP_CERTSTATUS_GOOD: out->status = NETSTACK_OCSP_GOOD; snprintf(out->reason, sizeof out->reason, "good"); break;
    case V_OCSP_CERTSTATUS_REVOKED:
        out->status = NETSTACK_OCSP_REVOKED;
        snprintf(out->reason, sizeof out->reason, "revoked%s%s", reason >= 0 ? ": " : "", reason >= 0 ? OCSP_crl_reason_str(reason) : "");
        break;
    default: out->status = NETSTACK_OCSP_UNKNOWN; snprintf(out->reason, sizeof out->reason, "unknown to the responder"); break;
    }
done:
    OCSP_CERTID_free(id);
    X509_free(issuer);
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    if (chain) sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
}

int netstack_ocsp_request(const uint8_t *const *ders, const size_t *lengths, size_t count, size_t index, netstack_store *store,
                          uint8_t **out, size_t *out_len, char *error, size_t error_size) {
    *out = NULL;
    *out_len = 0;
    int ok = 0;
    ERR_clear_error();
    OCSP_REQUEST *req = NULL;
    X509 *issuer = NULL;
    STACK_OF(X509) *chain = NULL;
    if (index >= count || count > INT_MAX) { snprintf(error, error_size, "no such certificate"); goto done; }
    chain = parse_chain(ders, lengths, count);
    if (!chain) { snprintf(error, error_size, "cannot parse a presented certificate"); goto done; }
    issuer = find_issuer((int)index, chain, (X509_STORE *)store);
    if (!issuer) { snprintf(error, error_size, "issuer of the certificate not found"); goto done; }
    /* RFC 5019: SHA-1 CertID, one certificate, no nonce (responses are then cacheable). */
    OCSP_CERTID *id = OCSP_cert_to_id(NULL, sk_X509_value(chain, (int)index), issuer);
    req = OCSP_REQUEST_new();
    if (!id || !req || !OCSP_request_add0_id(req, id)) {
        OCSP_CERTID_free(id);
        snprintf(error, error_size, "cannot build the OCSP request");
        goto done;
    }
    unsigned char *der = NULL;
    int n = i2d_OCSP_REQUEST(req, &der);
    if (n <= 0) { snprintf(error, error_size, "cannot encode the OCSP request"); goto done; }
    *out = malloc((size_t)n);
    if (*out) {
        memcpy(*out, der, (size_t)n);
        *out_len = (size_t)n;
        ok = 1;
    } else {
        snprintf(error, error_size, "out of memory");
    }
    OPENSSL_free(der);
done:
    OCSP_REQUEST_free(req);
    X509_free(issuer);
    if (chain) sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return ok;
}
