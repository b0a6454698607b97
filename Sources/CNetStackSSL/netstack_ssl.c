#include "netstack_ssl.h"
#include "netstack_strict.h"
#include "netstack_fetch.h"
#include "netstack_policy.h"

/* CRL checking for the whole chain, with RFC 5280's indirect CRLs, CRL issuers, reason partitions
 * (X509_V_FLAG_EXTENDED_CRL_SUPPORT) and delta CRLs (X509_V_FLAG_USE_DELTAS), which OpenSSL leaves
 * out unless asked: without them a valid path whose CRLs use them fails and a delta CRL is read
 * as a complete one. */
#define NETSTACK_CRL_FLAGS (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL | X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/ct.h>
#include <openssl/ssl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* ---- parsing ---------------------------------------------------------------------------- */

/* Appends the certificates (and CRLs, when crls != NULL) of a blob. Returns 0 on failure. */
static int parse_blob(const uint8_t *blob, size_t len, int type, STACK_OF(X509) *certs, STACK_OF(X509_CRL) *crls) {
    if (blob == NULL || len == 0) return 0;
    if (type == NETSTACK_BLOB_PEM) {
        BIO *bio = BIO_new_mem_buf(blob, (int)len);
        if (!bio) return 0;
        STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
        BIO_free(bio);
        if (!infos) return 0;
        for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
            X509_INFO *info = sk_X509_INFO_value(infos, i);
            if (info->x509) {
                X509_up_ref(info->x509);
                sk_X509_push(certs, info->x509);
            }
            if (info->crl && crls) {
                X509_CRL_up_ref(info->crl);
                sk_X509_CRL_push(crls, info->crl);
            }
        }
        sk_X509_INFO_pop_free(infos, X509_INFO_free);
        return sk_X509_num(certs) > 0 || (crls && sk_X509_CRL_num(crls) > 0);
    }
    if (type == NETSTACK_BLOB_DER) {
        const unsigned char *p = blob, *end = blob + len;
        while (p < end) {
            const unsigned char *start = p;
            X509 *x = d2i_X509(NULL, &p, (long)(end - p));
            if (x) {
                sk_X509_push(certs, x);
                continue;
            }
            p = start;
            X509_CRL *c = crls ? d2i_X509_CRL(NULL, &p, (long)(end - p)) : NULL;
            if (c) {
                sk_X509_CRL_push(crls, c);
                continue;
            }
            return 0;
        }
        return sk_X509_num(certs) > 0 || (crls && sk_X509_CRL_num(crls) > 0);
    }
    return 0;
}

static void set_result(netstack_verify_result *r, int error, const char *message) {
    r->error = error;
    r->depth = -1;
    snprintf(r->message, sizeof r->message, "%s", message);
    r->subject[0] = 0;
}

/* ---- verification ----------------------------------------------------------------------- */

static int effective_purpose(const netstack_verify_options *o) {
    if (o && (o->purpose == NETSTACK_PURPOSE_SERVER || o->purpose == NETSTACK_PURPOSE_CLIENT)) return o->purpose;
    return NETSTACK_PURPOSE_ANY;
}

/* The options (and CRLs given apart) applied to a verification context, again for each
 * path-building attempt. */
static void configure(X509_STORE_CTX *ctx, const netstack_verify_options *o, X509 *leaf, int purpose, int strict,
                      STACK_OF(X509_CRL) *crls, STACK_OF(ASN1_OBJECT) *policies) {
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    if (crls) {
        X509_STORE_CTX_set0_crls(ctx, crls);
        X509_VERIFY_PARAM_set_flags(param, NETSTACK_CRL_FLAGS);
    }
    /* RFC 5280 6.1 policy processing, always (OpenSSL skips it unless asked, so a CA's
     * requireExplicitPolicy, inhibitPolicyMapping and inhibitAnyPolicy were ignored): the
     * user-initial-policy-set is {anyPolicy} unless the options name one (OpenSSL's empty set
     * would fail every chain that requires an explicit policy). */
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_POLICY_CHECK);
    X509_VERIFY_PARAM_set1_policies(param, policies);
    if (o && o->explicit_policy) X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_EXPLICIT_POLICY);
    if (o && o->inhibit_policy_mapping) X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_INHIBIT_MAP);
    if (o && o->inhibit_any_policy) X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_INHIBIT_ANY);
    if (!o) return;
    if (o->hostname && *o->hostname) X509_VERIFY_PARAM_set1_host(param, o->hostname, 0);
    if (o->ip && *o->ip) X509_VERIFY_PARAM_set1_ip_asc(param, o->ip);
    if (o->email && *o->email) X509_VERIFY_PARAM_set1_email(param, o->email, 0);
    if (o->at_time || o->has_time) X509_VERIFY_PARAM_set_time(param, (time_t)o->at_time);
    if (purpose == NETSTACK_PURPOSE_SERVER) X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    if (purpose == NETSTACK_PURPOSE_CLIENT) X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    if (o->partial_chain) X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    if (o->max_depth >= 0) X509_VERIFY_PARAM_set_depth(param, o->max_depth);
    if (o->security_level >= 0) X509_VERIFY_PARAM_set_auth_level(param, o->security_level > 5 ? 5 : o->security_level);
    if (strict) {
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
        /* RFC 6125 6.4.4: no commonName fallback once a subjectAltName extension exists; BR
         * 7.1.2.7.12: a wildcard is the whole leftmost label ("w*.example.com" matches nothing). */
        unsigned int hostflags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;
        if (netstack_has_san(leaf)) hostflags |= X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
        X509_VERIFY_PARAM_set_hostflags(param, hostflags);
        X509_STORE_CTX_set_verify_cb(ctx, netstack_strict_verify_callback);
    }
}

/* CRLs signed with a digest under the security level's bits (OpenSSL checks certificate
 * signatures, not CRL ones): MD5 from level 1, SHA-1 from level 2. X509_V_ERR_CA_MD_TOO_WEAK or 0. */
static int weak_crl_digest(STACK_OF(X509_CRL) *crls, int level) {
    if (level < 0) level = 1;
    for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
        int md = NID_undef, pk = NID_undef;
        if (!OBJ_find_sigid_algs(X509_CRL_get_signature_nid(sk_X509_CRL_value(crls, i)), &md, &pk)) continue;
        if ((md == NID_md5 || md == NID_md4 || md == NID_md2) && level >= 1) return X509_V_ERR_CA_MD_TOO_WEAK;
        if (md == NID_sha1 && level >= 2) return X509_V_ERR_CA_MD_TOO_WEAK;
    }
    return X509_V_OK;
}

/* The user-initial-policy-set of the options: their numeric OIDs (commas between), or
 * {anyPolicy}. NULL when one is not a numeric OID or memory runs out. */
static STACK_OF(ASN1_OBJECT) *initial_policies(const netstack_verify_options *o) {
    STACK_OF(ASN1_OBJECT) *set = sk_ASN1_OBJECT_new_null();
    if (set == NULL) return NULL;
    if (o == NULL || o->policies == NULL) {
        ASN1_OBJECT *any = OBJ_nid2obj(NID_any_policy);
        if (sk_ASN1_OBJECT_push(set, any)) return set;
        sk_ASN1_OBJECT_free(set);
        return NULL;
    }
    const char *p = o->policies;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char oid[128];
        ASN1_OBJECT *obj = NULL;
        if (len > 0 && len < sizeof oid) {
            memcpy(oid, p, len);
            oid[len] = 0;
            obj = OBJ_txt2obj(oid, 1);
        }
        if (obj == NULL || !sk_ASN1_OBJECT_push(set, obj)) {
            ASN1_OBJECT_free(obj);
            sk_ASN1_OBJECT_pop_free(set, ASN1_OBJECT_free);
            return NULL;
        }
        if (!end) break;
        p = end + 1;
    }
    if (sk_ASN1_OBJECT_num(set) == 0) {
        sk_ASN1_OBJECT_free(set);
        return NULL;
    }
    return set;
}

/* Verifies `leaf` with `untrusted` (plus the options' extra intermediates and CRLs) against
 * `store`. result->crl_checked is set when the options bring CRLs. */
static void verify_core(X509 *leaf, STACK_OF(X509) *untrusted, X509_STORE *store,
                        const netstack_verify_options *o, netstack_verify_result *r) {
    STACK_OF(X509_CRL) *crls = NULL;
    if (o && o->untrusted && o->untrusted_len > 0) {
        if (!parse_blob(o->untrusted, o->untrusted_len, o->untrusted_type, untrusted, NULL)) {
            set_result(r, NETSTACK_VERIFY_BAD_INPUT, "cannot parse the untrusted intermediates");
            return;
        }
    }
    if (sk_X509_num(untrusted) > NETSTACK_UNTRUSTED_BUDGET) {
        set_result(r, NETSTACK_STRICT_CHAIN_BUDGET, netstack_strict_error_string(NETSTACK_STRICT_CHAIN_BUDGET));
        return;
    }
    if (o && o->crls && o->crls_len > 0) {
        STACK_OF(X509) *ignored = sk_X509_new_null();
        crls = sk_X509_CRL_new_null();
        int parsed = ignored && crls && parse_blob(o->crls, o->crls_len, o->crls_type, ignored, crls) && sk_X509_CRL_num(crls) > 0;
        if (ignored) sk_X509_pop_free(ignored, X509_free);
        if (!parsed) {
            if (crls) sk_X509_CRL_pop_free(crls, X509_CRL_free);
            set_result(r, NETSTACK_VERIFY_BAD_INPUT, "cannot parse the CRLs");
            return;
        }
    }
    STACK_OF(ASN1_OBJECT) *policies = initial_policies(o);
    if (policies == NULL) {
        if (crls) sk_X509_CRL_pop_free(crls, X509_CRL_free);
        set_result(r, NETSTACK_VERIFY_BAD_INPUT, "the initial policy set is not a list of numeric OIDs");
        return;
    }
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (!ctx || !X509_STORE_CTX_init(ctx, store, leaf, untrusted)) {
        if (ctx) X509_STORE_CTX_free(ctx);
        if (crls) sk_X509_CRL_pop_free(crls, X509_CRL_free);
        sk_ASN1_OBJECT_pop_free(policies, ASN1_OBJECT_free);
        set_result(r, NETSTACK_VERIFY_INTERNAL, "cannot set up verification");
        return;
    }
    int purpose = effective_purpose(o);
    int strict = o && o->strict;
    configure(ctx, o, leaf, purpose, strict, crls, policies);
    if (crls) r->crl_checked = 1;
    int err = X509_V_OK, depth = -1;
    X509 *about = NULL;
    char about_subject[256] = "";
    if (crls && (err = weak_crl_digest(crls, o->security_level)) != X509_V_OK) {
        set_result(r, err, "CRL signature digest algorithm too weak");
        X509_STORE_CTX_free(ctx);
        sk_ASN1_OBJECT_pop_free(policies, ASN1_OBJECT_free);
        sk_X509_CRL_pop_free(crls, X509_CRL_free);
        return;
    }
    if (strict && (err = netstack_strict_check_crls(store, crls)) != X509_V_OK) {
        set_result(r, err, netstack_strict_error_string(err));
        X509_STORE_CTX_free(ctx);
        sk_ASN1_OBJECT_pop_free(policies, ASN1_OBJECT_free);
        sk_X509_CRL_pop_free(crls, X509_CRL_free);
        return;
    }
    if (strict && (err = netstack_strict_check_leaf(leaf, purpose)) != X509_V_OK) {
        set_result(r, err, netstack_strict_error_string(err));
        r->depth = 0;
        X509_NAME_oneline(X509_get_subject_name(leaf), r->subject, sizeof r->subject);
        X509_STORE_CTX_free(ctx);
        sk_ASN1_OBJECT_pop_free(policies, ASN1_OBJECT_free);
        if (crls) sk_X509_CRL_pop_free(crls, X509_CRL_free);
        return;
    }
    /* Path building with backtracking (RFC 4158): OpenSSL follows one candidate issuer per step.
     * When a chain fails because of an untrusted intermediate (its signature, its issuer, its
     * validity...), that certificate is set aside and the chain built again, at most once per
     * untrusted certificate. The first failure is the one reported when no chain works. */
    STACK_OF(X509) *work = sk_X509_dup(untrusted);
    int first_err = X509_V_OK, first_depth = -1;
    for (int attempt = 0;; attempt++) {
        if (attempt > 0) {
            X509_STORE_CTX_cleanup(ctx);
            if (!X509_STORE_CTX_init(ctx, store, leaf, work)) { err = NETSTACK_VERIFY_INTERNAL; break; }
            configure(ctx, o, leaf, purpose, strict, crls, policies);
        } else {
            X509_STORE_CTX_set0_untrusted(ctx, work);
        }
        int ok = X509_verify_cert(ctx);
        err = X509_STORE_CTX_get_error(ctx);
        if (ok == 1) err = X509_V_OK;
        else if (err == X509_V_OK) err = X509_V_ERR_UNSPECIFIED;
        depth = err == X509_V_OK ? -1 : X509_STORE_CTX_get_error_depth(ctx);
        about = err == X509_V_OK ? NULL : X509_STORE_CTX_get_current_cert(ctx);
        if (err == X509_V_OK) break;
        if (attempt == 0) {
            first_err = err;
            first_depth = depth;
            if (about) X509_NAME_oneline(X509_get_subject_name(about), about_subject, sizeof about_subject);
        }
        /* Set aside the untrusted certificate the failure is about (or, for a missing issuer,
         * the top of the chain built so far), then try again. */
        X509 *culprit = NULL;
        STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
        if (depth >= 1 && about) culprit = about;
        else if (built && sk_X509_num(built) > 1 && (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT || err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY))
            culprit = sk_X509_value(built, sk_X509_num(built) - 1);
        int index = -1;
        for (int k = 0; culprit && k < sk_X509_num(work); k++) if (sk_X509_value(work, k) == culprit) { index = k; break; }
        if (index < 0 || !o || !o->path_building || attempt >= NETSTACK_UNTRUSTED_BUDGET) {
            err = first_err;
            depth = first_depth;
            about = NULL;
            break;
        }
        (void)sk_X509_delete(work, index);
    }
    if (err == X509_V_OK && strict) {
        STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
        err = chain ? netstack_strict_check_chain(chain, purpose, &depth) : X509_V_OK;
        if (err != X509_V_OK) about = sk_X509_value(chain, depth);
    }
    if (about) X509_NAME_oneline(X509_get_subject_name(about), about_subject, sizeof about_subject);
    r->error = err;
    r->depth = depth;
    const char *mine = netstack_strict_error_string(err);
    snprintf(r->message, sizeof r->message, "%s", mine ? mine : X509_verify_cert_error_string(err));
    snprintf(r->subject, sizeof r->subject, "%s", err != X509_V_OK ? about_subject : "");
    X509_STORE_CTX_free(ctx);
    sk_ASN1_OBJECT_pop_free(policies, ASN1_OBJECT_free);
    sk_X509_free(work);
    if (crls) sk_X509_CRL_pop_free(crls, X509_CRL_free);
}

void netstack_verify(const uint8_t *cert, size_t cert_len, int cert_type,
                     const uint8_t *ca, size_t ca_len, int ca_type,
                     const netstack_verify_options *options, netstack_verify_result *result) {
    memset(result, 0, sizeof *result);
    ERR_clear_error();
    STACK_OF(X509) *chain = sk_X509_new_null();
    STACK_OF(X509) *anchors = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    X509_STORE *store = NULL;
    if (!chain || !anchors || !crls) {
        set_result(result, NETSTACK_VERIFY_INTERNAL, "out of memory");
        goto done;
    }
    if (cert_type != NETSTACK_BLOB_PEM && cert_type != NETSTACK_BLOB_DER) {
        set_result(result, NETSTACK_VERIFY_BAD_INPUT, "unknown certificate type");
        goto done;
    }
    if (!parse_blob(cert, cert_len, cert_type, chain, NULL) || sk_X509_num(chain) == 0) {
        set_result(result, NETSTACK_VERIFY_BAD_INPUT, cert == NULL || cert_len == 0 ? "empty certificate data" : "cannot parse the certificate");
        goto done;
    }
    store = X509_STORE_new();
    if (!store) {
        set_result(result, NETSTACK_VERIFY_INTERNAL, "out of memory");
        goto done;
    }
    netstack_policy_install(store);
    if (ca != NULL) {
        if (ca_type != NETSTACK_BLOB_PEM && ca_type != NETSTACK_BLOB_DER) {
            set_result(result, NETSTACK_VERIFY_BAD_CA, "unknown CA certificate type");
            goto done;
        }
        if (!parse_blob(ca, ca_len, ca_type, anchors, crls) || sk_X509_num(anchors) == 0) {
            set_result(result, NETSTACK_VERIFY_BAD_CA, ca_len == 0 ? "empty CA data" : "cannot parse a CA certificate");
            goto done;
        }
        for (int i = 0; i < sk_X509_num(anchors); i++) X509_STORE_add_cert(store, sk_X509_value(anchors, i));
        for (int i = 0; i < sk_X509_CRL_num(crls); i++) X509_STORE_add_crl(store, sk_X509_CRL_value(crls, i));
        if (sk_X509_CRL_num(crls) > 0) {
            X509_STORE_set_flags(store, NETSTACK_CRL_FLAGS);
            result->crl_checked = 1;
        }
    } else {
        X509_STORE_set_default_paths(store);
    }
    {
        X509 *leaf = sk_X509_shift(chain);
        int crl = result->crl_checked;
        verify_core(leaf, chain, store, options, result);
        result->crl_checked |= crl;
        X509_free(leaf);
    }
done:
    if (store) X509_STORE_free(store);
    if (chain) sk_X509_pop_free(chain, X509_free);
    if (anchors) sk_X509_pop_free(anchors, X509_free);
    if (crls) sk_X509_CRL_pop_free(crls, X509_CRL_free);
    ERR_clear_error();
}

netstack_store *netstack_store_new(const char *ca_file, const char *ca_dir) {
    X509_STORE *store = X509_STORE_new();
    if (!store) return NULL;
    netstack_policy_install(store);
    int ok = (ca_file || ca_dir) ? X509_STORE_load_locations(store, ca_file, ca_dir) : X509_STORE_set_default_paths(store);
    ERR_clear_error();
    if (!ok) {
        X509_STORE_free(store);
        return NULL;
    }
    return (netstack_store *)store;
}

void netstack_store_free(netstack_store *store) { X509_STORE_free((X509_STORE *)store); }

void netstack_verify_der_chain_store(const uint8_t *const *certs, const size_t *lengths, size_t count,
                                     netstack_store *store, const netstack_verify_options *options,
                                     netstack_verify_result *result) {
    memset(result, 0, sizeof *result);
    ERR_clear_error();
    if (count == 0) {
        set_result(result, NETSTACK_VERIFY_BAD_INPUT, "the server presented no certificate");
        return;
    }
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509 *leaf = NULL;
    if (!chain) {
        set_result(result, NETSTACK_VERIFY_INTERNAL, "out of memory");
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const unsigned char *p = certs[i];
        X509 *x = d2i_X509(NULL, &p, (long)lengths[i]);
        if (!x) {
            set_result(result, NETSTACK_VERIFY_BAD_INPUT, "cannot parse a presented certificate");
            goto done;
        }
        if (i == 0) leaf = x; else sk_X509_push(chain, x);
    }
    verify_core(leaf, chain, (X509_STORE *)store, options, result);
done:
    if (leaf) X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
}

netstack_store *netstack_store_from_blob(const uint8_t *ca, size_t ca_len, int ca_type, int *crl_checked) {
    *crl_checked = 0;
    if (ca_type != NETSTACK_BLOB_PEM && ca_type != NETSTACK_BLOB_DER) return NULL;
    STACK_OF(X509) *anchors = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    X509_STORE *store = NULL;
    if (anchors && crls && parse_blob(ca, ca_len, ca_type, anchors, crls) && sk_X509_num(anchors) > 0) {
        store = X509_STORE_new();
        if (store) {
            netstack_policy_install(store);
            for (int i = 0; i < sk_X509_num(anchors); i++) X509_STORE_add_cert(store, sk_X509_value(anchors, i));
            for (int i = 0; i < sk_X509_CRL_num(crls); i++) X509_STORE_add_crl(store, sk_X509_CRL_value(crls, i));
            if (sk_X509_CRL_num(crls) > 0) {
                X509_STORE_set_flags(store, NETSTACK_CRL_FLAGS);
                *crl_checked = 1;
            }
        }
    }
    if (anchors) sk_X509_pop_free(anchors, X509_free);
    if (crls) sk_X509_CRL_pop_free(crls, X509_CRL_free);
    ERR_clear_error();
    return (netstack_store *)store;
}

void netstack_verify_with_store(const uint8_t *cert, size_t cert_len, int cert_type, netstack_store *store,
                                int crl_checked, const netstack_verify_options *options, netstack_verify_result *result) {
    memset(result, 0, sizeof *result);
    ERR_clear_error();
    if (cert_type != NETSTACK_BLOB_PEM && cert_type != NETSTACK_BLOB_DER) {
        set_result(result, NETSTACK_VERIFY_BAD_INPUT, "unknown certificate type");
        return;
    }
    STACK_OF(X509) *chain = sk_X509_new_null();
    if (!chain) {
        set_result(result, NETSTACK_VERIFY_INTERNAL, "out of memory");
        return;
    }
    if (!parse_blob(cert, cert_len, cert_type, chain, NULL) || sk_X509_num(chain) == 0) {
        set_result(result, NETSTACK_VERIFY_BAD_INPUT, cert == NULL || cert_len == 0 ? "empty certificate data" : "cannot parse the certificate");
    } else {
        X509 *leaf = sk_X509_shift(chain);
        verify_core(leaf, chain, (X509_STORE *)store, options, result);
        X509_free(leaf);
    }
    result->crl_checked |= crl_checked;
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
}

void netstack_sha256(const uint8_t *data, size_t len, uint8_t *out) {
    unsigned int n = 0;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

const char *netstack_verify_error_string(int error) {
    const char *mine = netstack_strict_error_string(error);
    return mine ? mine : X509_verify_cert_error_string(error);
}

int netstack_verify_original(const uint8_t *cert, size_t cert_len, const uint8_t *ca, size_t ca_len) {
    BIO *b = BIO_new_mem_buf(cert, (int)cert_len);
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!leaf) return -1;
    b = BIO_new_mem_buf(ca, (int)ca_len);
    X509 *root = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!root) { X509_free(leaf); return -2; }
    X509_STORE *store = X509_STORE_new();
    X509_STORE_add_cert(store, root);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, NULL);
    int ok = X509_verify_cert(ctx);
    int err = ok == 1 ? 0 : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(root);
    X509_free(leaf);
    return err;
}

/* ---- splitting and inspection ----------------------------------------------------------- */

size_t netstack_split_certificates(const uint8_t *blob, size_t len, int type, uint8_t ***out_ders, size_t **out_lengths) {
    *out_ders = NULL;
    *out_lengths = NULL;
    STACK_OF(X509) *certs = sk_X509_new_null();
    if (!certs) return 0;
    if (!parse_blob(blob, len, type, certs, NULL)) {
        sk_X509_pop_free(certs, X509_free);
        ERR_clear_error();
        return 0;
    }
    size_t n = (size_t)sk_X509_num(certs);
    uint8_t **ders = calloc(n, sizeof *ders);
    size_t *lens = calloc(n, sizeof *lens);
    for (size_t i = 0; ders && lens && i < n; i++) {
        unsigned char *buf = NULL;
        int l = i2d_X509(sk_X509_value(certs, (int)i), &buf);
        ders[i] = buf;
        lens[i] = l > 0 ? (size_t)l : 0;
    }
    sk_X509_pop_free(certs, X509_free);
    *out_ders = ders;
    *out_lengths = lens;
    ERR_clear_error();
    return ders && lens ? n : 0;
}

void netstack_free(void *p) { free(p); }

void netstack_free_ders(uint8_t **ders, size_t *lengths, size_t count) {
    if (ders) for (size_t i = 0; i < count; i++) OPENSSL_free(ders[i]);
    free(ders);
    free(lengths);
}

typedef struct { char *buf; size_t len, cap; } sbuf;

static void sb_add(sbuf *s, const char *text, size_t n) {
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        while (cap < s->len + n + 1) cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb) return;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, n);
    s->len += n;
    s->buf[s->len] = 0;
}

/* key=value line; newlines and backslashes in the value are escaped. */
static void line(sbuf *s, const char *key, const char *value, size_t vlen) {
    sb_add(s, key, strlen(key));
    sb_add(s, "=", 1);
    for (size_t i = 0; i < vlen; i++) {
        /* Escaped: newline (ends a line), backslash, and NUL (the text is read as a C string;
         * a name with an embedded NUL must not cut off the lines after it). */
        if (value[i] == '\n') sb_add(s, "\\n", 2);
        else if (value[i] == '\0') sb_add(s, "\\0", 2);
        else if (value[i] == '\\') sb_add(s, "\\\\", 2);
        else sb_add(s, value + i, 1);
    }
    sb_add(s, "\n", 1);
}

static void line_str(sbuf *s, const char *key, const char *value) { line(s, key, value, strlen(value)); }

static void line_bio(sbuf *s, const char *key, BIO *bio) {
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    line(s, key, data ? data : "", n > 0 ? (size_t)n : 0);
    (void)BIO_reset(bio);
}

static void name_lines(sbuf *s, const char *key, const char *attr_key, X509_NAME *name, BIO *bio) {
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    line_bio(s, key, bio);
    for (int i = 0; i < X509_NAME_entry_count(name); i++) {
        X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : "?";
        unsigned char *utf8 = NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        if (n >= 0) {
            BIO_printf(bio, "%s=%.*s", sn, n, utf8);
            line_bio(s, attr_key, bio);
            OPENSSL_free(utf8);
        }
    }
}

static void time_lines(sbuf *s, const char *key, const ASN1_TIME *t) {
    struct tm tm;
    char buf[64], ukey[64];
    if (t && ASN1_TIME_to_tm(t, &tm)) {
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        line_str(s, key, buf);
        snprintf(ukey, sizeof ukey, "%s_unix", key);
        snprintf(buf, sizeof buf, "%lld", (long long)timegm(&tm));
        line_str(s, ukey, buf);
    }
}

static void general_names(sbuf *s, GENERAL_NAMES *names, const char *prefix, BIO *bio) {
    char key[64];
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type == GEN_DNS || g->type == GEN_EMAIL || g->type == GEN_URI) {
            const char *kind = g->type == GEN_DNS ? "dns" : g->type == GEN_EMAIL ? "email" : "uri";
            snprintf(key, sizeof key, "%s.%s", prefix, kind);
            ASN1_IA5STRING *v = g->d.ia5;
            line(s, key, (const char *)ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
        } else if (g->type == GEN_IPADD) {
            snprintf(key, sizeof key, "%s.ip", prefix);
            const unsigned char *p = ASN1_STRING_get0_data(g->d.ip);
            int n = ASN1_STRING_length(g->d.ip);
            char buf[64];
            if (n == 4) snprintf(buf, sizeof buf, "%d.%d.%d.%d", p[0], p[1], p[2], p[3]);
            else if (n == 16) {
                size_t o = 0;
                for (int k = 0; k < 16; k += 2) o += (size_t)snprintf(buf + o, sizeof buf - o, k ? ":%x" : "%x", (p[k] << 8) | p[k + 1]);
            } else snprintf(buf, sizeof buf, "?");
            line_str(s, key, buf);
        }
    }
    (void)bio;
}

char *netstack_inspect(const uint8_t *der, size_t len) {
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x) { ERR_clear_error(); return NULL; }
    sbuf s = {0};
    BIO *bio = BIO_new(BIO_s_mem());
    char buf[256];

    snprintf(buf, sizeof buf, "%ld", X509_get_version(x) + 1);
    line_str(&s, "version", buf);
    name_lines(&s, "subject", "subject.attr", X509_get_subject_name(x), bio);
    name_lines(&s, "issuer", "issuer.attr", X509_get_issuer_name(x), bio);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    if (bn) {
        char *hex = BN_bn2hex(bn);
        if (hex) { line_str(&s, "serial", hex); OPENSSL_free(hex); }
        BN_free(bn);
    }
    time_lines(&s, "not_before", X509_get0_notBefore(x));
    time_lines(&s, "not_after", X509_get0_notAfter(x));

    GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    general_names(&s, san, "san", bio);
    if (san) GENERAL_NAMES_free(san);

    EVP_PKEY *key = X509_get0_pubkey(x);
    if (key) {
        int id = EVP_PKEY_get_base_id(key);
        const char *type = id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC" : id == EVP_PKEY_ED25519 ? "Ed25519"
                         : id == EVP_PKEY_ED448 ? "Ed448" : id == EVP_PKEY_DSA ? "DSA" : OBJ_nid2sn(id);
        line_str(&s, "key.type", type ? type : "unknown");
        snprintf(buf, sizeof buf, "%d", EVP_PKEY_get_bits(key));
        line_str(&s, "key.bits", buf);
        if (id == EVP_PKEY_EC) {
            char curve[80];
            size_t clen = 0;
            if (EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, &clen)) line_str(&s, "key.curve", curve);
        }
    }
    int sig = X509_get_signature_nid(x);
    line_str(&s, "signature", sig != NID_undef ? OBJ_nid2ln(sig) : "unknown");

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[EVP_MAX_MD_SIZE * 3 + 1];
    /* Fingerprints over the DER as given (what d2i consumed), not a re-encoding: X509_digest
     * re-encodes, which fails for some certificates that parse, and would leave them without one. */
    size_t consumed = (size_t)(p - der);
    if (EVP_Digest(der, consumed, md, &mdlen, EVP_sha256(), NULL)) {
        for (unsigned int i = 0; i < mdlen; i++) snprintf(hex + i * 3, 4, i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
        line_str(&s, "sha256", hex);
    }
    if (EVP_Digest(der, consumed, md, &mdlen, EVP_sha1(), NULL)) {
        for (unsigned int i = 0; i < mdlen; i++) snprintf(hex + i * 3, 4, i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
        line_str(&s, "sha1", hex);
    }

    BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
    line_str(&s, "ca", bc && bc->ca ? "true" : "false");
    if (bc && bc->pathlen) {
        snprintf(buf, sizeof buf, "%ld", ASN1_INTEGER_get(bc->pathlen));
        line_str(&s, "pathlen", buf);
    }
    if (bc) BASIC_CONSTRAINTS_free(bc);

    uint32_t ku = X509_get_key_usage(x);
    if (ku != UINT32_MAX) {
        static const struct { uint32_t bit; const char *name; } kus[] = {
            {KU_DIGITAL_SIGNATURE, "digitalSignature"}, {KU_NON_REPUDIATION, "nonRepudiation"},
            {KU_KEY_ENCIPHERMENT, "keyEncipherment"}, {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
            {KU_KEY_AGREEMENT, "keyAgreement"}, {KU_KEY_CERT_SIGN, "keyCertSign"}, {KU_CRL_SIGN, "cRLSign"},
            {KU_ENCIPHER_ONLY, "encipherOnly"}, {KU_DECIPHER_ONLY, "decipherOnly"}};
        for (size_t i = 0; i < sizeof kus / sizeof kus[0]; i++) if (ku & kus[i].bit) line_str(&s, "key_usage", kus[i].name);
    }
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++) {
        ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
        int nid = OBJ_obj2nid(o);
        if (nid != NID_undef) line_str(&s, "ext_key_usage", OBJ_nid2sn(nid));
        else { OBJ_obj2txt(buf, sizeof buf, o, 1); line_str(&s, "ext_key_usage", buf); }
    }
    if (eku) sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);

    AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
    for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
        ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
        int nid = OBJ_obj2nid(ad->method);
        if (ad->location->type == GEN_URI) {
            ASN1_IA5STRING *u = ad->location->d.uniformResourceIdentifier;
            line(&s, nid == NID_ad_OCSP ? "ocsp" : nid == NID_ad_ca_issuers ? "ca_issuers" : "aia_other",
                 (const char *)ASN1_STRING_get0_data(u), (size_t)ASN1_STRING_length(u));
        }
    }
    if (aia) AUTHORITY_INFO_ACCESS_free(aia);

    CRL_DIST_POINTS *cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
    for (int i = 0; cdp && i < sk_DIST_POINT_num(cdp); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(cdp, i);
        if (dp->distpoint && dp->distpoint->type == 0) general_names(&s, dp->distpoint->name.fullname, "crl", bio);
    }
    if (cdp) CRL_DIST_POINTS_free(cdp);

    line_str(&s, "self_signed", X509_self_signed(x, 0) == 1 ? "true" : "false");

    /* Embedded signed certificate timestamps (RFC 6962 3.3), counted. */
    STACK_OF(SCT) *scts = X509_get_ext_d2i(x, NID_ct_precert_scts, NULL, NULL);
    snprintf(buf, sizeof buf, "%d", scts ? sk_SCT_num(scts) : 0);
    line_str(&s, "scts", buf);
    if (scts) SCT_LIST_free(scts);

    /* TLS feature extension (RFC 7633) with status_request (5): "must staple". */
    int must_staple = 0;
    ASN1_OBJECT *tlsfeature = OBJ_txt2obj("1.3.6.1.5.5.7.1.24", 1);
    int tf = tlsfeature ? X509_get_ext_by_OBJ(x, tlsfeature, -1) : -1;
    if (tf >= 0) {
        ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(x, tf));
        const unsigned char *q = ASN1_STRING_get0_data(v);
        ASN1_SEQUENCE_ANY *features = d2i_ASN1_SEQUENCE_ANY(NULL, &q, ASN1_STRING_length(v));
        for (int i = 0; features && i < sk_ASN1_TYPE_num(features); i++) {
            ASN1_TYPE *t = sk_ASN1_TYPE_value(features, i);
            if (t->type == V_ASN1_INTEGER && ASN1_INTEGER_get(t->value.integer) == 5) must_staple = 1;
        }
        if (features) sk_ASN1_TYPE_pop_free(features, ASN1_TYPE_free);
    }
    ASN1_OBJECT_free(tlsfeature);
    line_str(&s, "must_staple", must_staple ? "true" : "false");

    BIO_free(bio);
    X509_free(x);
    ERR_clear_error();
    if (!s.buf) sb_add(&s, "", 0);
    return s.buf;
}

/* ---- fetching a server's chain ---------------------------------------------------------- */

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be readable (events POLLIN) or writable (POLLOUT) until the deadline. */
static int wait_fd(int fd, short events, long long deadline) {
    long long left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {fd, events, 0};
    int r = poll(&p, 1, (int)left);
    return r > 0;
}

static int connect_with_deadline(const char *host, int port, long long deadline, char *err, size_t errlen) {
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, portstr, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "DNS lookup failed for '%s': %s", host, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    snprintf(err, errlen, "could not connect to %s:%d", host, port);
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) continue;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        int r = connect(fd, a->ai_addr, a->ai_addrlen);
        if (r == 0) break;
        if (errno == EINPROGRESS) {
            if (wait_fd(fd, POLLOUT, deadline)) {
                int soerr = 0;
                socklen_t len = sizeof soerr;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
                if (soerr == 0) break;
                snprintf(err, errlen, "could not connect to %s:%d: %s", host, port, strerror(soerr));
            } else {
                snprintf(err, errlen, "connection to %s:%d timed out", host, port);
            }
        } else {
            snprintf(err, errlen, "could not connect to %s:%d: %s", host, port, strerror(errno));
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* What a finished handshake presented: version, cipher, the chain (DER, leaf first), the staple. */
void netstack_fill_fetch_result(SSL *ssl, netstack_fetch_result *r) {
    r->ok = 1;
    snprintf(r->version, sizeof r->version, "%s", SSL_get_version(ssl));
    snprintf(r->cipher, sizeof r->cipher, "%s", SSL_get_cipher_name(ssl));
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    size_t n = chain ? (size_t)sk_X509_num(chain) : 0;
    r->ders = calloc(n ? n : 1, sizeof *r->ders);
    r->lengths = calloc(n ? n : 1, sizeof *r->lengths);
    for (size_t i = 0; r->ders && r->lengths && i < n; i++) {
        unsigned char *buf = NULL;
        int l = i2d_X509(sk_X509_value(chain, (int)i), &buf);
        r->ders[i] = buf;
        r->lengths[i] = l > 0 ? (size_t)l : 0;
    }
    r->count = r->ders && r->lengths ? n : 0;
    const unsigned char *staple = NULL;
    long staple_len = SSL_get_tlsext_status_ocsp_resp(ssl, &staple);
    if (staple && staple_len > 0 && (r->staple = malloc((size_t)staple_len)) != NULL) {
        memcpy(r->staple, staple, (size_t)staple_len);
        r->staple_len = (size_t)staple_len;
    }
}

void netstack_fetch_chain(const char *host, int port, const char *sni, int timeout_ms, netstack_fetch_result *r) {
    memset(r, 0, sizeof *r);
    long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
    int fd = connect_with_deadline(host, port, deadline, r->error, sizeof r->error);
    if (fd < 0) return;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    if (!ssl) {
        snprintf(r->error, sizeof r->error, "cannot create a TLS session");
        goto done;
    }
    SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    if (sni && *sni) SSL_set_tlsext_host_name(ssl, sni);
    SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
    SSL_set_fd(ssl, fd);
    for (;;) {
        ERR_clear_error();
        int rc = SSL_connect(ssl);
        if (rc == 1) break;
        int e = SSL_get_error(ssl, rc);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0) {
            unsigned long code = ERR_peek_last_error();
            char buf[200];
            if (code) ERR_error_string_n(code, buf, sizeof buf);
            else snprintf(buf, sizeof buf, "%s", e == SSL_ERROR_SYSCALL ? "connection closed by the server" : "handshake failed");
            snprintf(r->error, sizeof r->error, "TLS handshake failed: %s", buf);
            goto done;
        }
        if (!wait_fd(fd, ev, deadline)) {
            snprintf(r->error, sizeof r->error, "TLS handshake timed out");
            goto done;
        }
    }
    netstack_fill_fetch_result(ssl, r);
    SSL_shutdown(ssl);
done:
    if (ssl) SSL_free(ssl);
    if (ctx) SSL_CTX_free(ctx);
    close(fd);
    ERR_clear_error();
}
