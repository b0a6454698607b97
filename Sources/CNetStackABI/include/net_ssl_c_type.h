/* NetStack certificate verification: data structures (OpenHarmony NDK, API level 11). */
#ifndef NET_SSL_C_TYPE_H
#define NET_SSL_C_TYPE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Certificate type. */
enum NetStack_CertType {
    NetStack_CERT_TYPE_PEM = 0,     /**< PEM certificate. */
    NetStack_CERT_TYPE_DER = 1,     /**< DER certificate. */
    NetStack_CERT_TYPE_INVALID      /**< Invalid certificate. */
};

/* The shipped SDK's spellings. */
#define NETSTACK_CERT_TYPE_PEM NetStack_CERT_TYPE_PEM
#define NETSTACK_CERT_TYPE_DER NetStack_CERT_TYPE_DER
#define NETSTACK_CERT_TYPE_INVALID NetStack_CERT_TYPE_INVALID

/** Certificate data. */
struct NetStack_CertBlob {
    enum NetStack_CertType type;    /**< Certificate type. */
    uint32_t size;                  /**< Content length. */
    uint8_t *data;                  /**< Content. */
};

typedef enum NetStack_CertType NetStack_CertType;
typedef struct NetStack_CertBlob NetStack_CertBlob;

#ifdef __cplusplus
}
#endif
#endif /* NET_SSL_C_TYPE_H */
