/* RFC 5280 6.1 policy processing (strict mode's X509_V_FLAG_POLICY_CHECK) without OpenSSL 3.0's
 * policy-cache leak.
 *
 * OpenSSL builds a policy cache for every certificate below the trust anchor (pcy_cache.c,
 * policy_cache_new). When a certificate has a policyConstraints extension but its
 * certificatePolicies is absent, empty or names a policy twice, that function returns before
 * freeing the decoded policyConstraints: about 42 bytes lost per certificate object, so a strict
 * client that keeps connecting to a server presenting such an intermediate grows without bound.
 *
 * Such a certificate has no valid policies, so the valid_policy_tree of any path through it is
 * empty (RFC 5280 6.1.3 (d), (e)), and the outcome of policy processing depends only on the
 * explicit_policy counter and on which certificates carry invalid policy extensions. For those
 * paths the check below computes that outcome from the extensions, following OpenSSL's tree_init
 * step for step, without letting OpenSSL build a cache; every other path goes to OpenSSL's own
 * check unchanged. */
#include "netstack_policy.h"

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* What OpenSSL's policy cache would hold for a certificate. */
typedef struct {
    int invalid;        /* EXFLAG_INVALID_POLICY: a policy extension that does not decode or is inconsistent */
    int no_policies;    /* no valid policy data: certificatePolicies absent, empty or repeating a policy */
    long explicit_skip; /* requireExplicitPolicy, -1 when absent */
    int leaks;          /* building the cache would leak the decoded policyConstraints */
} policy_facts;

/* A non-negative INTEGER as OpenSSL's cache reads it; 0 for a negative one. */
static int read_skip(long *out, const ASN1_INTEGER *value) {
    if (value == NULL) return 1;
    if (ASN1_STRING_type(value) == V_ASN1_NEG_INTEGER) return 0;
    *out = ASN1_INTEGER_get(value);
    return 1;
}

/* certificatePolicies: 1 with at least one policy and none twice, 0 when empty, -1 when a policy
 * (anyPolicy included) appears twice. */
static int policies_shape(CERTIFICATEPOLICIES *policies) {
    int n = sk_POLICYINFO_num(policies);
    if (n <= 0) return 0;
    for (int i = 0; i < n; i++) {
        const ASN1_OBJECT *a = sk_POLICYINFO_value(policies, i)->policyid;
        for (int j = i + 1; j < n; j++)
            if (OBJ_cmp(a, sk_POLICYINFO_value(policies, j)->policyid) == 0) return -1;
    }
    return 1;
}

/* policyMappings is valid when it has entries and none maps to or from anyPolicy. */
static int mappings_valid(POLICY_MAPPINGS *maps) {
    if (sk_POLICY_MAPPING_num(maps) <= 0) return 0;
    for (int i = 0; i < sk_POLICY_MAPPING_num(maps); i++) {
        POLICY_MAPPING *m = sk_POLICY_MAPPING_value(maps, i);
        if (OBJ_obj2nid(m->issuerDomainPolicy) == NID_any_policy || OBJ_obj2nid(m->subjectDomainPolicy) == NID_any_policy) return 0;
    }
    return 1;
}

/* The same decisions, in the same order, as policy_cache_new in OpenSSL 3.0's pcy_cache.c. */
static policy_facts facts_of(X509 *x) {
    policy_facts f = { 0, 1, -1, 0 };
    int crit = -1;
    long ignored = -1;
    POLICY_CONSTRAINTS *pcons = X509_get_ext_d2i(x, NID_policy_constraints, &crit, NULL);
    if (pcons == NULL) {
        if (crit != -1) { f.invalid = 1; return f; }
    } else if ((pcons->requireExplicitPolicy == NULL && pcons->inhibitPolicyMapping == NULL)
               || !read_skip(&f.explicit_skip, pcons->requireExplicitPolicy)
               || !read_skip(&ignored, pcons->inhibitPolicyMapping)) {
        POLICY_CONSTRAINTS_free(pcons);
        f.explicit_skip = -1;
        f.invalid = 1;
        return f;
    }
    CERTIFICATEPOLICIES *policies = X509_get_ext_d2i(x, NID_certificate_policies, &crit, NULL);
    if (policies == NULL) {
        if (crit != -1) f.invalid = 1;
        else f.leaks = pcons != NULL;
        POLICY_CONSTRAINTS_free(pcons);
        return f;
    }
    int shape = policies_shape(policies);
    sk_POLICYINFO_pop_free(policies, POLICYINFO_free);
    if (shape <= 0) {
        f.invalid = shape < 0;
        f.leaks = pcons != NULL;
        POLICY_CONSTRAINTS_free(pcons);
        return f;
    }
    POLICY_CONSTRAINTS_free(pcons);
    f.no_policies = 0;
    POLICY_MAPPINGS *maps = X509_get_ext_d2i(x, NID_policy_mappings, &crit, NULL);
    if (maps == NULL ? crit != -1 : !mappings_valid(maps)) f.invalid = 1;
    sk_POLICY_MAPPING_pop_free(maps, POLICY_MAPPING_free);
    if (f.invalid) return f;
    ASN1_INTEGER *inhibit = X509_get_ext_d2i(x, NID_inhibit_any_policy, &crit, NULL);
    if (inhibit == NULL ? crit != -1 : !read_skip(&ignored, inhibit)) f.invalid = 1;
    ASN1_INTEGER_free(inhibit);
    return f;
}

/* Reports an error through the context's verify callback, as OpenSSL's verifier does. */
static int report(X509_STORE_CTX *ctx, X509 *x, int depth, int error) {
    if (depth >= 0) X509_STORE_CTX_set_error_depth(ctx, depth);
    X509_STORE_CTX_set_current_cert(ctx, x);
    X509_STORE_CTX_set_error(ctx, error);
    X509_STORE_CTX_verify_cb cb = X509_STORE_CTX_get_verify_cb(ctx);
    return cb ? cb(0, ctx) : 0;
}

/* OpenSSL's own check_policy (static in x509_vfy.c): what a context takes from a store that
 * sets none. */
static X509_STORE_CTX_check_policy_fn openssl_check_policy = NULL;
static CRYPTO_ONCE openssl_check_policy_once = CRYPTO_ONCE_STATIC_INIT;

static void find_openssl_check_policy(void) {
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (store && ctx && X509_STORE_CTX_init(ctx, store, NULL, NULL)) openssl_check_policy = X509_STORE_CTX_get_check_policy(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
}

/* The path's policy outcome when a certificate below the anchor has no valid policies: OpenSSL's
 * tree_init with an empty tree (X509_PCY_TREE_EMPTY), then check_policy's reporting. */
static int check_empty_tree(X509_STORE_CTX *ctx, STACK_OF(X509) *chain, const policy_facts *facts, int n) {
    unsigned long flags = X509_VERIFY_PARAM_get_flags(X509_STORE_CTX_get0_param(ctx));
    long explicit_policy = (flags & X509_V_FLAG_EXPLICIT_POLICY) ? 0 : n + 1;
    int empty = 0, invalid = 0;
    for (int i = n - 1; i >= 0 && (explicit_policy > 0 || !empty); i--) {
        if (facts[i].invalid) { invalid = 1; break; }
        if (facts[i].no_policies) empty = 1;
        if (explicit_policy > 0) {
            if (!(X509_get_extension_flags(sk_X509_value(chain, i)) & EXFLAG_SI)) explicit_policy--;
            if (facts[i].explicit_skip >= 0 && facts[i].explicit_skip < explicit_policy) explicit_policy = facts[i].explicit_skip;
        }
    }
    if (invalid) {
        for (int i = 0; i < n; i++)
            if (facts[i].invalid && !report(ctx, sk_X509_value(chain, i), i, X509_V_ERR_INVALID_POLICY_EXTENSION)) return 0;
        return 1;
    }
    if (explicit_policy == 0) return report(ctx, NULL, -1, X509_V_ERR_NO_EXPLICIT_POLICY);
    if (flags & X509_V_FLAG_NOTIFY_POLICY) {
        X509_STORE_CTX_set_current_cert(ctx, NULL);
        X509_STORE_CTX_verify_cb cb = X509_STORE_CTX_get_verify_cb(ctx);
        if (cb && !cb(2, ctx)) return 0;
    }
    return 1;
}

static int openssl_check(X509_STORE_CTX *ctx) {
    if (openssl_check_policy == NULL) return report(ctx, NULL, -1, X509_V_ERR_OUT_OF_MEM);
    return openssl_check_policy(ctx);
}

static int netstack_check_policy(X509_STORE_CTX *ctx) {
    CRYPTO_THREAD_run_once(&openssl_check_policy_once, find_openssl_check_policy);
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    int n = sk_X509_num(chain) - 1; /* RFC 5280 paths leave out the trust anchor */
    /* A CRL issuer's path (a context with a parent) and a lone anchor: OpenSSL checks nothing. */
    if (X509_STORE_CTX_get0_parent_ctx(ctx) != NULL || n <= 0) return openssl_check(ctx);
    policy_facts *facts = OPENSSL_malloc(sizeof(policy_facts) * (size_t)n);
    if (facts == NULL) return report(ctx, NULL, -1, X509_V_ERR_OUT_OF_MEM);
    int leaks = 0;
    for (int i = 0; i < n; i++) {
        X509 *x = sk_X509_value(chain, i);
        X509_check_purpose(x, -1, 0); /* computes EXFLAG_SI, as tree_init does */
        facts[i] = facts_of(x);
        leaks |= facts[i].leaks;
    }
    int ok = leaks ? check_empty_tree(ctx, chain, facts, n) : openssl_check(ctx);
    OPENSSL_free(facts);
    return ok;
}

void netstack_policy_install(X509_STORE *store) {
    if (store) X509_STORE_set_check_policy(store, netstack_check_policy);
}
