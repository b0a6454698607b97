#ifndef NETSTACK_POLICY_H
#define NETSTACK_POLICY_H
/* Strict mode's RFC 5280 policy processing, in place of OpenSSL's for the paths where OpenSSL 3.0
 * leaks memory (netstack_policy.c says which and why). */
#include <openssl/x509_vfy.h>

/* Makes every verification context made from `store` use it (when X509_V_FLAG_POLICY_CHECK is
 * set; without it no policy check runs). Call once, when the store is made. */
void netstack_policy_install(X509_STORE *store);

#endif
