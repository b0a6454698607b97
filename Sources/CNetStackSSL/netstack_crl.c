#include "netstack_ssl.h"

#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* A CRL fetched from a certificate's distribution point, checked for that certificate by
 * OpenSSL's RFC 5280 6.3 CRL processing (X509_verify_cert with X509_V_FLAG_CRL_CHECK for that
 * certificate alone, extended CRL support and delta CRLs on, as every verification here reads
 * CRLs): the CRL's scope (issuer, issuing distribution point: its names, onlyContainsUserCerts,
 * onlyContainsCACerts, onlyContainsAttributeCerts, onlySomeReasons, indirectCRL), its signer
 * (cRLSign key usage; for an indirect CRL or one signed with another key of the CA, a path of
 * its own to the same trust anchor), its signature, critical extensions of the CRL and of its
 * entries, thisUpdate (five minutes of skew) and nextUpdate, and the entry for the certificate.
 * Findings about the chain itself (expired, untrusted) are the verification's, not this check's:
 * they are let through so that the check reaches the CRL. A delta CRL alone (RFC 5280 5.2.4) is
 * refused: it lists changes to a complete CRL, so "not listed" says nothing. One CRL is checked,
 * so a CRL that covers only some revocation reasons cannot say "good", and the revocation of an
 * indirect CRL's own signer is not known. */
static int64_t unix_time(const ASN1_TIME *t) {
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) return 0;
    return (int64_t)timegm(&tm);
}

static void verdict(netstack_ocsp_result *out, int status, const char *what) {
    out->status = status;
    snprintf(out->reason, sizeof out->reason, "%s", what);
}

/* What the verification callback saw of the CRL check of the certificate at depth 0. */
typedef struct {
    int error;       /* the first CRL error at depth 0, 0 when none */
    int64_t now;
} crl_probe;

static int is_crl_error(int e) {
    switch (e) {
    case X509_V_ERR_CERT_REVOKED:
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* Every finding is let through (return 1) so that the check goes on to the CRL; the first CRL
 * error about the certificate itself is kept. A CRL whose thisUpdate is at most five minutes
 * ahead is taken (clock skew between the CA and here). */
static int crl_probe_callback(int ok, X509_STORE_CTX *ctx) {
    if (ok) return 1;
    crl_probe *probe = X509_STORE_CTX_get_app_data(ctx);
    if (!probe) {
        /* The path of the signer of an indirect CRL (or of a CRL signed with another key of the
         * CA), checked by OpenSSL in a context of its own: strict, but the signer's own
         * revocation is not known from the one CRL fetched. */
        X509_STORE_CTX *parent = X509_STORE_CTX_get0_parent_ctx(ctx);
        return parent && X509_STORE_CTX_get_app_data(parent) && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL;
    }
    int e = X509_STORE_CTX_get_error(ctx);
    if (X509_STORE_CTX_get_error_depth(ctx) != 0 || !is_crl_error(e)) return 1;
    if (e == X509_V_ERR_CRL_NOT_YET_VALID) {
        X509_CRL *crl = X509_STORE_CTX_get0_current_crl(ctx);
        if (crl && unix_time(X509_CRL_get0_lastUpdate(crl)) <= probe->now + 300) return 1;
    }
    if (!probe->error) probe->error = e;
    return 1;
}

static const char *crl_error_text(int e) {
    switch (e) {
    case X509_V_ERR_UNABLE_TO_GET_CRL:
        return "the CRL does not cover this certificate (RFC 5280 6.3.3: it covers only some revocation reasons, or its issuer or scope leaves the certificate out)";
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER: return "the CRL's signer was not found";
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE: return "CRL signature failure";
    case X509_V_ERR_CRL_NOT_YET_VALID: return "CRL not yet valid (thisUpdate in the future)";
    case X509_V_ERR_CRL_HAS_EXPIRED: return "CRL expired (nextUpdate passed)";
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD: return "the CRL's thisUpdate is malformed";
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD: return "the CRL's nextUpdate is malformed";
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN: return "the CRL's signer may not sign CRLs (key usage without cRLSign)";
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION: return "the CRL or one of its entries has a critical extension that is not understood";
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
        return "the CRL does not cover this certificate (RFC 5280 6.3.3: its issuing distribution point names other distribution points or other kinds of certificate)";
    case X509_V_ERR_CRL_PATH_VALIDATION_ERROR: return "the CRL's signer does not chain to the certificate's trust anchor";
    default: return X509_verify_cert_error_string(e);
    }
}

void netstack_crl_check(const uint8_t *data, size_t len, const uint8_t *const *ders, const size_t *lengths, size_t count,
                        size_t index, netstack_store *store, netstack_ocsp_result *out) {
    memset(out, 0, sizeof *out);
    ERR_clear_error();
    X509_CRL *crl = NULL;
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    STACK_OF(X509) *chain = sk_X509_new_null();
    if (!chain || index >= count || !data || len == 0 || len > LONG_MAX) { verdict(out, NETSTACK_OCSP_INVALID, "no CRL or no certificate"); goto done; }
    for (size_t i = 0; i < count; i++) {
        const unsigned char *p = ders[i];
        X509 *x = d2i_X509(NULL, &p, (long)lengths[i]);
        if (!x) { verdict(out, NETSTACK_OCSP_INVALID, "cannot parse a presented certificate"); goto done; }
        if (!sk_X509_push(chain, x)) { X509_free(x); verdict(out, NETSTACK_OCSP_INVALID, "out of memory"); goto done; }
    }
    const unsigned char *p = data;
    crl = d2i_X509_CRL(NULL, &p, (long)len);
    if (!crl && len <= INT_MAX) {
        BIO *bio = BIO_new_mem_buf(data, (int)len);
        crl = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
    }
    if (!crl) { verdict(out, NETSTACK_OCSP_INVALID, "cannot parse the CRL"); goto done; }
    out->this_update = unix_time(X509_CRL_get0_lastUpdate(crl));
    out->next_update = unix_time(X509_CRL_get0_nextUpdate(crl));
    if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0) {
        verdict(out, NETSTACK_OCSP_INVALID, "a delta CRL (RFC 5280 5.2.4): it lists changes to a complete CRL, which is needed to tell");
        goto done;
    }
    X509 *cert = sk_X509_value(chain, (int)index);
    /* Named apart from the other ways a CRL can miss the certificate: the usual mistake. */
    ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, NULL, NULL);
    int indirect = idp && idp->indirectCRL;
    ISSUING_DIST_POINT_free(idp);
    if (!indirect && X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) != 0) {
        verdict(out, NETSTACK_OCSP_INVALID, "CRL issued by another CA");
        goto done;
    }
    ctx = X509_STORE_CTX_new();
    crls = sk_X509_CRL_new_null();
    if (!ctx || !crls || !sk_X509_CRL_push(crls, crl)) {
        verdict(out, NETSTACK_OCSP_INVALID, "out of memory");
        goto done;
    }
    X509_CRL_up_ref(crl);
    if (!X509_STORE_CTX_init(ctx, (X509_STORE *)store, cert, chain)) { verdict(out, NETSTACK_OCSP_INVALID, "out of memory"); goto done; }
    crl_probe probe = { 0, (int64_t)time(NULL) };
    X509_STORE_CTX_set_app_data(ctx, &probe);
    X509_STORE_CTX_set0_crls(ctx, crls);
    X509_STORE_CTX_set_verify_cb(ctx, crl_probe_callback);
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS);
    int verified = X509_verify_cert(ctx);
    /* The path OpenSSL built (from the presented certificates, then the store) must hold the
     * certificate's issuer: without one, the check ran against the certificate itself. */
    STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(ctx);
    if (!path || sk_X509_num(path) < 2) {
        verdict(out, NETSTACK_OCSP_INVALID, "issuer of the certificate not found");
    } else if (probe.error == X509_V_ERR_CERT_REVOKED) {
        X509_REVOKED *entry = NULL;
        if (X509_CRL_get0_by_cert(crl, &entry, cert) == 1 && entry) out->revoked_at = unix_time(X509_REVOKED_get0_revocationDate(entry));
        verdict(out, NETSTACK_OCSP_REVOKED, "revoked");
    } else if (probe.error) {
        verdict(out, NETSTACK_OCSP_INVALID, crl_error_text(probe.error));
    } else if (verified <= 0) {
        verdict(out, NETSTACK_OCSP_INVALID, "the CRL could not be checked (OpenSSL stopped the verification)");
    } else {
        verdict(out, NETSTACK_OCSP_GOOD, "not revoked");
    }
done:
    X509_STORE_CTX_free(ctx);
    if (crls) sk_X509_CRL_pop_free(crls, X509_CRL_free);
    X509_CRL_free(crl);
    if (chain) sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
}
