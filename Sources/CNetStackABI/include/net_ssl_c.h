/* NetStack certificate verification: functions (OpenHarmony NDK, API level 11). */
#ifndef NET_SSL_C_H
#define NET_SSL_C_H

#include "net_ssl_c_type.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Verifies a certificate chain: 0, or 2305001 ... 2305027 (and 2305000 + the OpenSSL error for
 *  undocumented reasons; 2305069 for NULL, empty or unparsable input). */
uint32_t OH_NetStack_VerifyCertification(const struct NetStack_CertBlob *cert, const struct NetStack_CertBlob *caCert);
/** The shipped SDK's spelling of the same function. */
uint32_t OH_NetStack_CertVerification(const struct NetStack_CertBlob *cert, const struct NetStack_CertBlob *caCert);

#ifdef __cplusplus
}
#endif
#endif /* NET_SSL_C_H */
