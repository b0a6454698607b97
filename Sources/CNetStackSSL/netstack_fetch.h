#ifndef NETSTACK_FETCH_H
#define NETSTACK_FETCH_H
/* Shared by the blocking chain fetch (netstack_ssl.c) and the memory-BIO handshake. */
#include <openssl/ssl.h>
#include "netstack_ssl.h"

/* Fills `r` (zeroed) from a finished handshake: version, cipher, the presented chain as DER,
 * the stapled OCSP response. */
void netstack_fill_fetch_result(SSL *ssl, netstack_fetch_result *r);

#endif
