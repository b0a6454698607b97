/*
 * NetStack extensions beyond the documented OpenHarmony API (kept out of the documented headers so
 * those stay exactly the documented surface). Compiles as C99, C11 and C++.
 */
#ifndef NETSTACK_EXT_H
#define NETSTACK_EXT_H

#include "net_websocket_type.h"
#include "net_ssl_c_type.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The library version, e.g. "0.1.0" (static storage). */
const char *NetStack_Version(void);

/** Sends a TEXT message (the bytes must be valid UTF-8: else WEBSOCKET_PROTOCOL_ERROR). Codes as
 *  OH_WebSocketClient_Send. */
int NetStack_WebSocketClient_SendText(struct WebSocket *client, const char *data, size_t length);

/** Sends a BINARY message whatever the bytes are. Codes as OH_WebSocketClient_Send. */
int NetStack_WebSocketClient_SendBinary(struct WebSocket *client, const void *data, size_t length);

/** TLS options for the next Connect: trust anchors from a PEM file and/or a hashed directory (NULL:
 *  the system store), and `insecure` != 0 to skip certificate verification. */
int NetStack_WebSocketClient_SetTLSOptions(struct WebSocket *client, const char *caFile, const char *caPath, int insecure);

/** Timeouts for the next Connect, in milliseconds: connect (DNS + TCP + TLS + upgrade), keepalive
 *  ping interval (0 disables) and pong timeout. 0 for connectMs or pongTimeoutMs keeps the default. */
int NetStack_WebSocketClient_SetTimeouts(struct WebSocket *client, uint32_t connectMs, uint32_t pingIntervalMs, uint32_t pongTimeoutMs);

/** Busy polling for the next Connect: after each write the connection's loop polls for the answer
 *  for up to `microseconds` (at most 1000) instead of sleeping, backing off by itself when answers
 *  come later than that; 0 disables it. Default 50 (or NETSTACK_BUSY_POLL_US). */
int NetStack_WebSocketClient_SetBusyPoll(struct WebSocket *client, uint32_t microseconds);

/** Proxy for the next Connect: "http://[user:pass@]host[:port]" (HTTP CONNECT),
 *  "socks5://..." (target resolved locally) or "socks5h://..." (resolved by the proxy); "" for a
 *  direct connection whatever the environment says; NULL (the default) for the environment's
 *  proxy as curl reads it (https_proxy for wss, http_proxy for ws, all_proxy; no_proxy).
 *  0, or WEBSOCKET_CONNECTION_PARSE_URL_ERROR for a malformed URL (the setting is then unchanged).
 *  Proxy failures arrive as onError WEBSOCKET_CONNECTION_ERROR; the message begins with
 *  "proxy unreachable", "proxy refused", "proxy authentication failed",
 *  "target unreachable through the proxy" or "proxy protocol error". */
int NetStack_WebSocketClient_SetProxy(struct WebSocket *client, const char *proxyURL);

/** Redirects the next Connect follows (301, 302, 303, 307, 308 with a Location): 0, the default,
 *  makes a 3xx an error; at most 10 (larger values count as 10). Never from wss to ws; the
 *  Authorization and Cookie headers are not sent to another host. */
int NetStack_WebSocketClient_SetFollowRedirects(struct WebSocket *client, uint32_t maxRedirects);

/** TLS controls for the next Connect (NULL leaves a setting at its default):
 *  `minVersion` / `maxVersion` "1.0", "1.1", "1.2" or "1.3" (default 1.2 and 1.3);
 *  `pins` one or more "sha256//BASE64" public key pins separated by ';' (the certificate's
 *  SubjectPublicKeyInfo SHA-256, as curl's --pinnedpubkey; a mismatch is onError 2305900);
 *  `certFile` / `keyFile` a client certificate chain and its key (PEM), `keyPassword` for an
 *  encrypted key. 0, or WEBSOCKET_CONNECTION_ERROR for a version or pin that does not parse
 *  (nothing is changed then). */
int NetStack_WebSocketClient_SetTLSControls(struct WebSocket *client, const char *minVersion, const char *maxVersion,
                                            const char *pins, const char *certFile, const char *keyFile,
                                            const char *keyPassword);

/** Purposes for NetStack_VerifyOptions.purpose (OpenSSL's X509_PURPOSE_*). */
enum NetStack_VerifyPurpose {
    NETSTACK_VERIFY_PURPOSE_ANY = 0,     /**< No purpose check. */
    NETSTACK_VERIFY_PURPOSE_SERVER = 1,  /**< TLS server (serverAuth). */
    NETSTACK_VERIFY_PURPOSE_CLIENT = 2   /**< TLS client (clientAuth). */
};

/** NetStack_VerifyOptions.flags. */
#define NETSTACK_VERIFY_STRICT 0x1u        /**< RFC 5280 structure checks and the CA/B Forum server profile (2305801...). */
#define NETSTACK_VERIFY_PARTIAL_CHAIN 0x2u /**< A chain may end at any certificate of caCert. */
#define NETSTACK_VERIFY_USE_TIME 0x4u      /**< Validate as of `time` (else now); time 0 is 1970-01-01T00:00:00Z. */
#define NETSTACK_VERIFY_EXPLICIT_POLICY 0x8u         /**< RFC 5280 initial-explicit-policy: the path must be valid for a policy of `policies`. */
#define NETSTACK_VERIFY_INHIBIT_POLICY_MAPPING 0x10u /**< RFC 5280 initial-policy-mapping-inhibit. */
#define NETSTACK_VERIFY_INHIBIT_ANY_POLICY 0x20u     /**< RFC 5280 initial-any-policy-inhibit. */

/** Options of NetStack_VerifyCertificationEx. Fill with NetStack_VerifyOptions_Init first, then
 *  set what you need; fields added later go at the end and are recognised by structSize. */
struct NetStack_VerifyOptions {
    uint32_t structSize;        /**< sizeof(struct NetStack_VerifyOptions) (set by Init). */
    uint32_t flags;             /**< NETSTACK_VERIFY_* bits. */
    int64_t time;               /**< Unix seconds, used with NETSTACK_VERIFY_USE_TIME (years 1 to 9999). */
    const char *hostname;       /**< DNS name the leaf must match (NULL: none; "" is an error). */
    const char *ipAddress;      /**< IPv4 (dotted-decimal) or IPv6 address the leaf must match (NULL: none; anything else is an error). */
    const char *email;          /**< E-mail address the leaf must match (NULL: none; "" is an error). */
    int32_t purpose;            /**< enum NetStack_VerifyPurpose. */
    int32_t maxDepth;           /**< Most intermediates below the anchor, 0-255 (-1: 100). */
    int32_t securityLevel;      /**< Minimum security level 0-5 (-1: no check, OpenSSL's default; 2 refuses
                                     RSA/DSA/DH < 2048 bits, EC < 224 bits, SHA-1/MD5 signatures). */
    const struct NetStack_CertBlob *untrusted; /**< Further untrusted intermediates (NULL: none). */
    const struct NetStack_CertBlob *crls;      /**< CRLs checked for the whole chain (NULL: none). */
    /* Added after the first release (recognised when structSize covers them): */
    const char *policies;       /**< RFC 5280 user-initial-policy-set: numeric OIDs (or anyPolicy) separated by
                                     commas, at most 64 (NULL: anyPolicy). */
};
typedef struct NetStack_VerifyOptions NetStack_VerifyOptions;

/** Sets every field to its default: structSize, no flags, no names, purpose any, maxDepth -1,
 *  securityLevel -1, no untrusted certificates or CRLs, policies NULL. */
void NetStack_VerifyOptions_Init(struct NetStack_VerifyOptions *options);

/** OH_NetStack_VerifyCertification with options: the same codes (0, 2305xxx), plus those of the
 *  strict checks (2305801...2305826) and OpenSSL's other reasons as 2305000 + X509_V_ERR_*
 *  (docs/certificates.md lists them). `options` NULL behaves as OH_NetStack_VerifyCertification.
 *  Invalid options (structSize smaller than the first release's, purpose, maxDepth or
 *  securityLevel out of range, time out of range) return 2305069 with the reason saying which.
 *  When `reason` is not NULL, up to reasonSize - 1 bytes of the reason (with the depth and subject
 *  of the certificate it is about) are written, NUL-terminated. `depth` (may be NULL) receives the
 *  depth of that certificate, or -1. Thread-safe. */
uint32_t NetStack_VerifyCertificationEx(const struct NetStack_CertBlob *cert, const struct NetStack_CertBlob *caCert,
                                        const struct NetStack_VerifyOptions *options,
                                        char *reason, size_t reasonSize, int32_t *depth);

#ifdef __cplusplus
}
#endif
#endif /* NETSTACK_EXT_H */
