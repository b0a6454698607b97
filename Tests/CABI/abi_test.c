/* The documented C ABI exercised from C (compiled as C99 and as C++ by the test suite).
 * usage: abi_test WS_BASE_URL WSS_BASE_URL WSS_EXPIRED_URL CERT_DIR
 * Prints one line per check and "N passed, M failed"; exit status 0 only when all pass. */
#define _POSIX_C_SOURCE 200809L
#include "net_websocket.h"
#include "net_ssl_c.h"
#include "netstack_ext.h"

#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static int passed, failed;
#define CHECK(cond, what) do { if (cond) { passed++; printf("ok - %s\n", what); } else { failed++; printf("not ok - %s (line %d)\n", what, __LINE__); } } while (0)

/* Event record, written on the library's thread under `lock`, read here after wait_for took the
 * lock (which orders the callback's writes before the reads that follow). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int opened, closes, errors, messages;
static volatile uint32_t open_code, close_code, error_code;
static char open_reason[64], close_reason[128], error_message[512], last_message[256];
static volatile uint32_t last_length;
static volatile int destroy_in_message;
/* Every message: is data[length] the NUL the API promises, and (in a burst) is it the next one in
 * order ("m000", "m001", ...; a NUL borrowed from the next frame and not put back would break it). */
static volatile int nul_missing, burst_expected = -1, burst_wrong;
static volatile uint32_t burst_size;

static void on_open(struct WebSocket *c, WebSocket_OpenResult r) {
    (void)c;
    pthread_mutex_lock(&lock);
    open_code = r.code;
    snprintf(open_reason, sizeof open_reason, "%s", r.reason);
    opened++;
    pthread_mutex_unlock(&lock);
}
static void on_message(struct WebSocket *c, char *data, uint32_t length) {
    pthread_mutex_lock(&lock);
    memcpy(last_message, data, length < sizeof last_message - 1 ? length + 1 : sizeof last_message - 1);
    if (data[length] != 0) nul_missing++;
    if (burst_expected >= 0) {
        char want[16];
        snprintf(want, sizeof want, "m%03d", burst_expected);
        if (length != burst_size || memcmp(data, want, 4) != 0 || (length > 4 && data[length - 1] != 'x')) burst_wrong++;
        burst_expected++;
    }
    last_length = length;
    messages++;
    int destroy = destroy_in_message;
    pthread_mutex_unlock(&lock);
    if (destroy) OH_WebSocketClient_Destroy(c);
}
static void on_error(struct WebSocket *c, WebSocket_ErrorResult r) {
    (void)c;
    pthread_mutex_lock(&lock);
    error_code = r.errorCode;
    snprintf(error_message, sizeof error_message, "%s", r.errorMessage);
    errors++;
    pthread_mutex_unlock(&lock);
}
static void on_close(struct WebSocket *c, WebSocket_CloseResult r) {
    (void)c;
    pthread_mutex_lock(&lock);
    close_code = r.code;
    snprintf(close_reason, sizeof close_reason, "%s", r.reason);
    closes++;
    pthread_mutex_unlock(&lock);
}

static int counter_value(volatile int *counter) {
    pthread_mutex_lock(&lock);
    int v = *counter;
    pthread_mutex_unlock(&lock);
    return v;
}

static int wait_for(volatile int *counter, int target) {
    for (int i = 0; i < 1000 && counter_value(counter) < target; i++) sleep_ms(10);
    return counter_value(counter) >= target;
}

static void reset(void) {
    pthread_mutex_lock(&lock);
    opened = closes = errors = messages = 0;
    open_code = close_code = error_code = 0;
    last_length = 0;
    pthread_mutex_unlock(&lock);
}

/* 300 messages of `size` bytes sent at once and echoed: most echoes share a read with the next
 * frame; from 1 KiB on, that frame's first byte holds the NUL during the callback and must be put
 * back. `before` = messages so far. */
static void burst(struct WebSocket *c, int before, uint32_t size, const char *what) {
    char label[96], m[2048];
    pthread_mutex_lock(&lock); burst_expected = 0; burst_wrong = 0; nul_missing = 0; burst_size = size; pthread_mutex_unlock(&lock);
    memset(m, 'x', sizeof m);
    for (int i = 0; i < 300; i++) {
        char head[8];
        snprintf(head, sizeof head, "m%03d", i);
        memcpy(m, head, 4);
        OH_WebSocketClient_Send(c, m, size);
    }
    snprintf(label, sizeof label, "%s: a burst of 300 arrives", what);
    CHECK(wait_for(&messages, before + 300), label);
    pthread_mutex_lock(&lock);
    snprintf(label, sizeof label, "%s: the burst is whole and in order", what);
    CHECK(burst_expected == 300 && burst_wrong == 0, label);
    snprintf(label, sizeof label, "%s: every message has its NUL at data[length]", what);
    CHECK(nul_missing == 0, label);
    burst_expected = -1;
    pthread_mutex_unlock(&lock);
}

static unsigned char *read_file(const char *dir, const char *name, uint32_t *size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = (unsigned char *)malloc(1 << 20);
    *size = (uint32_t)fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: abi_test WS WSS WSS_EXPIRED CERT_DIR\n"); return 2; }
    char url[512];
    struct WebSocket_RequestOptions no_options = { NULL };

    /* OpenHarmony's own C-API cases: NULL client, client not created. */
    struct WebSocket_Header h = { "X-A", "1", NULL };
    struct WebSocket_CloseOption close_default = { 0, NULL };
    CHECK(OH_WebSocketClient_Send(NULL, (char *)"x", 1) == WEBSOCKET_CLIENT_NULL, "Send(NULL client) = 1001");
    CHECK(OH_WebSocketClient_Connect(NULL, argv[1], no_options) == WEBSOCKET_CLIENT_NULL, "Connect(NULL client) = 1001");
    CHECK(OH_WebSocketClient_AddHeader(NULL, h) == WEBSOCKET_CLIENT_NULL, "AddHeader(NULL client) = 1001");
    CHECK(OH_WebSocketClient_Close(NULL, close_default) == WEBSOCKET_CLIENT_NULL, "Close(NULL client) = 1001");
    CHECK(OH_WebSocketClient_Destroy(NULL) == WEBSOCKET_CLIENT_NULL, "Destroy(NULL client) = 1001");
    struct WebSocket fake;
    memset(&fake, 0, sizeof fake);
    CHECK(OH_WebSocketClient_Send(&fake, (char *)"x", 1) == WEBSOCKET_CLIENT_NOT_CREATED, "Send(client not created) = 1002");
    CHECK(OH_WebSocketClient_Destroy(&fake) == WEBSOCKET_CLIENT_NOT_CREATED, "Destroy(client not created) = 1002");

    struct WebSocket *c = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    CHECK(c != NULL, "Constructor returns a client");
    CHECK(OH_WebSocketClient_Send(c, (char *)"early", 5) == WEBSOCKET_NO_CONNECTION, "Send before connect = 1017");
    CHECK(OH_WebSocketClient_Close(c, close_default) == WEBSOCKET_NO_CONNECTION, "Close before connect = 1017");
    CHECK(OH_WebSocketClient_AddHeader(c, h) == 0, "AddHeader = 0");
    CHECK(c->requestOptions.headers != NULL && strcmp(c->requestOptions.headers->fieldName, "X-A") == 0, "AddHeader appends to requestOptions.headers");
    struct WebSocket_Header evil = { "X-B", "1\r\nInjected: yes", NULL };
    CHECK(OH_WebSocketClient_AddHeader(c, evil) == WEBSOCKET_NO_HEADER_CONTEXT, "header injection = 1015");
    struct WebSocket_Header latin1 = { "X-C", "caf\xe9", NULL };
    CHECK(OH_WebSocketClient_AddHeader(c, latin1) == WEBSOCKET_NO_HEADER_CONTEXT, "a header value that is not UTF-8 = 1015");
    CHECK(OH_WebSocketClient_Connect(c, "http://not-websocket", no_options) == WEBSOCKET_CONNECTION_PARSE_URL_ERROR, "bad URL = 1005");

    reset();
    struct WebSocket_Header extra = { "X-Connect", "2", NULL };
    struct WebSocket_RequestOptions options = { &extra };
    snprintf(url, sizeof url, "%s/echo", argv[1]);
    CHECK(OH_WebSocketClient_Connect(c, url, options) == 0, "Connect = 0");
    CHECK(wait_for(&opened, 1) && open_code == 101 && strcmp(open_reason, "Switching Protocols") == 0, "onOpen 101 Switching Protocols");
    CHECK(OH_WebSocketClient_Send(c, NULL, 3) == WEBSOCKET_SEND_DATA_NULL, "Send(NULL data) = 1011");
    CHECK(OH_WebSocketClient_Send(c, (char *)"x", 0) == 0, "Send(length 0) = 0, nothing sent");
    CHECK(OH_WebSocketClient_Send(c, (char *)"hello", 5) == 0, "Send text = 0");
    CHECK(wait_for(&messages, 1) && last_length == 5 && strcmp(last_message, "hello") == 0, "text echoed, NUL-terminated");
    char bin[3] = { 'a', 0, 'b' };
    CHECK(OH_WebSocketClient_Send(c, bin, 3) == 0, "Send binary = 0");
    CHECK(wait_for(&messages, 2) && last_length == 3 && memcmp(last_message, bin, 3) == 0, "binary echoed with its NUL");
    burst(c, 2, 4, "compressed echoes");
    size_t big = 4 * 1024 * 1024 + 1;
    char *large = (char *)calloc(big, 1);
    CHECK(OH_WebSocketClient_Send(c, large, big) == WEBSOCKET_DATA_LENGTH_EXCEEDED, "Send over 4 MiB = 1012");
    free(large);
    CHECK(OH_WebSocketClient_Send(c, (char *)"tiny", SIZE_MAX) == WEBSOCKET_DATA_LENGTH_EXCEEDED, "Send with length SIZE_MAX = 1012, nothing read");
    CHECK(OH_WebSocketClient_Send(c, (char *)"tiny", (size_t)1 << 40) == WEBSOCKET_DATA_LENGTH_EXCEEDED, "Send with length 2^40 on a 5-byte buffer = 1012");
    /* A header node the program owns, linked into the public list: Destroy must leave it alone. */
    static struct WebSocket_Header mine = { "X-Mine", "1", NULL };
    struct WebSocket_Header *tail = c->requestOptions.headers;
    while (tail->next) tail = tail->next;
    tail->next = &mine;
    struct WebSocket_CloseOption not_utf8 = { 1000, "caf\xe9" };
    CHECK(OH_WebSocketClient_Close(c, not_utf8) == WEBSOCKET_PROTOCOL_ERROR, "Close with a reason that is not UTF-8 = 1009, nothing sent");
    CHECK(OH_WebSocketClient_Close(c, close_default) == 0, "Close(0, NULL) = 0");
    /* The close runs on the library's loop later; the client is closing from the call on, so no
       data frame is accepted after it (RFC 6455 5.5.1), where it would be taken and then dropped. */
    CHECK(OH_WebSocketClient_Send(c, (char *)"late", 4) == WEBSOCKET_NO_CONNECTION, "Send right after Close (another thread than the loop) = 1017");
    CHECK(OH_WebSocketClient_Close(c, close_default) == 0, "Close while closing = 0, nothing more sent");
    CHECK(wait_for(&closes, 1) && close_code == 1000, "onClose 1000");
    CHECK(counter_value(&errors) == 0, "no onError on a clean session");
    CHECK(OH_WebSocketClient_Destroy(c) == 0, "Destroy = 0 (a program-owned header node in the list is not freed)");
    CHECK(strcmp(mine.fieldName, "X-Mine") == 0, "the program's header node is intact after Destroy");
    CHECK(OH_WebSocketClient_Send(c, (char *)"x", 1) == WEBSOCKET_CLIENT_NOT_CREATED, "Send after Destroy = 1002");
    CHECK(OH_WebSocketClient_Destroy(c) == WEBSOCKET_CLIENT_NOT_CREATED, "Destroy twice = 1002");

    /* Uncompressed echoes: small messages are slices of the read buffer. */
    reset();
    c = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    snprintf(url, sizeof url, "%s/echo?deflate=0", argv[1]);
    OH_WebSocketClient_Connect(c, url, no_options);
    CHECK(wait_for(&opened, 1), "onOpen without permessage-deflate");
    burst(c, 0, 4, "plain echoes");
    burst(c, 300, 1500, "plain echoes of 1500 bytes");
    OH_WebSocketClient_Close(c, close_default);
    CHECK(wait_for(&closes, 1) && close_code == 1000, "plain echoes: onClose 1000");
    OH_WebSocketClient_Destroy(c);

    /* A refused connection: onError 1003 and no onClose. */
    reset();
    c = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    CHECK(OH_WebSocketClient_Connect(c, "ws://127.0.0.1:1/", no_options) == 0, "Connect to a closed port returns 0");
    CHECK(wait_for(&errors, 1) && error_code == WEBSOCKET_CONNECTION_ERROR && strstr(error_message, "refused"), "onError 1003 connection refused");
    sleep_ms(100);
    CHECK(counter_value(&closes) == 0 && counter_value(&opened) == 0, "no onOpen/onClose after a failed connect");
    OH_WebSocketClient_Destroy(c);

    /* Destroy from inside a callback: no callback after it. */
    reset();
    pthread_mutex_lock(&lock); destroy_in_message = 1; pthread_mutex_unlock(&lock);
    c = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    OH_WebSocketClient_Connect(c, url, no_options);
    wait_for(&opened, 1);
    OH_WebSocketClient_Send(c, (char *)"bye", 3);
    CHECK(wait_for(&messages, 1), "message before destroy");
    sleep_ms(200);
    CHECK(counter_value(&closes) == 0 && counter_value(&messages) == 1, "no callback after Destroy inside onMessage");
    pthread_mutex_lock(&lock); destroy_in_message = 0; pthread_mutex_unlock(&lock);

    /* wss: trusted through SSL_CERT_FILE (set by the test), and an expired certificate. */
    reset();
    c = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    snprintf(url, sizeof url, "%s/echo", argv[2]);
    CHECK(OH_WebSocketClient_Connect(c, url, no_options) == 0, "wss Connect = 0");
    CHECK(wait_for(&opened, 1) && open_code == 101, "wss onOpen");
    OH_WebSocketClient_Send(c, (char *)"secure", 6);
    CHECK(wait_for(&messages, 1) && strcmp(last_message, "secure") == 0, "wss echo");
    OH_WebSocketClient_Close(c, close_default);
    wait_for(&closes, 1);
    OH_WebSocketClient_Destroy(c);
    reset();
    c = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    snprintf(url, sizeof url, "%s/echo", argv[3]);
    OH_WebSocketClient_Connect(c, url, no_options);
    CHECK(wait_for(&errors, 1) && error_code == 2305010, "wss with an expired certificate: onError 2305010");
    OH_WebSocketClient_Destroy(c);

    /* Extensions (netstack_ext.h): explicit frame types, TLS options, timeouts, version. */
    CHECK(strlen(NetStack_Version()) > 0, "NetStack_Version");
    reset();
    c = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    CHECK(NetStack_WebSocketClient_SetTLSOptions(c, NULL, NULL, 1) == 0, "SetTLSOptions(insecure)");
    CHECK(NetStack_WebSocketClient_SetTimeouts(c, 2000, 0, 0) == 0, "SetTimeouts");
    CHECK(NetStack_WebSocketClient_SetBusyPoll(c, 0) == 0, "SetBusyPoll(0) disables busy polling");
    snprintf(url, sizeof url, "%s/echo", argv[3]);
    OH_WebSocketClient_Connect(c, url, no_options);
    CHECK(wait_for(&opened, 1), "insecure wss accepts the expired certificate");
    CHECK(NetStack_WebSocketClient_SendText(c, "\xff", 1) == WEBSOCKET_PROTOCOL_ERROR, "SendText refuses invalid UTF-8");
    CHECK(NetStack_WebSocketClient_SendBinary(c, "plain", 5) == 0, "SendBinary of text bytes");
    CHECK(wait_for(&messages, 1) && last_length == 5, "binary echo");
    CHECK(NetStack_WebSocketClient_SendText(c, "ok", 2) == 0, "SendText");
    CHECK(wait_for(&messages, 2) && strcmp(last_message, "ok") == 0, "text echo");
    OH_WebSocketClient_Close(c, close_default);
    wait_for(&closes, 1);
    OH_WebSocketClient_Destroy(c);
    CHECK(NetStack_WebSocketClient_SetTimeouts(c, 1, 1, 1) == WEBSOCKET_CLIENT_NOT_CREATED, "extensions check the client too");
    CHECK(NetStack_WebSocketClient_SetBusyPoll(c, 50) == WEBSOCKET_CLIENT_NOT_CREATED, "SetBusyPoll checks the client");
    CHECK(NetStack_WebSocketClient_SetProxy(c, "") == WEBSOCKET_CLIENT_NOT_CREATED, "SetProxy checks the client");

    /* Proxies: a malformed URL is refused; an unreachable proxy is the connection's error; "" is direct. */
    reset();
    c = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    CHECK(NetStack_WebSocketClient_SetProxy(c, "gopher://x") == WEBSOCKET_CONNECTION_PARSE_URL_ERROR, "SetProxy refuses a malformed URL");
    CHECK(NetStack_WebSocketClient_SetProxy(c, "http://127.0.0.1:1") == 0, "SetProxy(http://...)");
    snprintf(url, sizeof url, "%s/echo", argv[1]);
    OH_WebSocketClient_Connect(c, url, no_options);
    CHECK(wait_for(&errors, 1) && error_code == WEBSOCKET_CONNECTION_ERROR && strncmp(error_message, "proxy unreachable", 17) == 0,
          "through an unreachable proxy: onError 1003 \"proxy unreachable ...\"");
    CHECK(counter_value(&opened) == 0 && counter_value(&closes) == 0, "and no other event");
    reset();
    CHECK(NetStack_WebSocketClient_SetProxy(c, "") == 0, "SetProxy(\"\") goes direct");
    OH_WebSocketClient_Connect(c, url, no_options);
    CHECK(wait_for(&opened, 1), "direct again");
    OH_WebSocketClient_Close(c, close_default);
    wait_for(&closes, 1);
    OH_WebSocketClient_Destroy(c);

    /* Redirects: an error by default, followed once asked for. */
    reset();
    c = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    snprintf(url, sizeof url, "%s/redirect?to=/echo", argv[1]);
    OH_WebSocketClient_Connect(c, url, no_options);
    CHECK(wait_for(&errors, 1) && error_code == WEBSOCKET_CONNECTION_ERROR, "a redirect is an error by default");
    reset();
    CHECK(NetStack_WebSocketClient_SetFollowRedirects(c, 3) == 0, "SetFollowRedirects(3)");
    OH_WebSocketClient_Connect(c, url, no_options);
    CHECK(wait_for(&opened, 1) && open_code == 101 && counter_value(&errors) == 0, "the redirect followed: onOpen 101");
    OH_WebSocketClient_Close(c, close_default);
    wait_for(&closes, 1);
    OH_WebSocketClient_Destroy(c);
    CHECK(NetStack_WebSocketClient_SetFollowRedirects(c, 1) == WEBSOCKET_CLIENT_NOT_CREATED, "SetFollowRedirects checks the client");

    /* TLS controls: a pin that does not match is its own code. */
    reset();
    c = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    CHECK(NetStack_WebSocketClient_SetTLSControls(c, "1.4", NULL, NULL, NULL, NULL, NULL) == WEBSOCKET_CONNECTION_ERROR, "SetTLSControls refuses version 1.4");
    CHECK(NetStack_WebSocketClient_SetTLSControls(c, NULL, NULL, "sha256//short", NULL, NULL, NULL) == WEBSOCKET_CONNECTION_ERROR, "and a malformed pin");
    CHECK(NetStack_WebSocketClient_SetTLSControls(c, "1.2", "1.3", "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", NULL, NULL, NULL) == 0,
          "SetTLSControls(1.2, 1.3, a pin)");
    snprintf(url, sizeof url, "%s/echo", argv[2]);
    OH_WebSocketClient_Connect(c, url, no_options);
    CHECK(wait_for(&errors, 1) && error_code == 2305900, "a pin mismatch: onError 2305900");
    OH_WebSocketClient_Destroy(c);

    /* Certificate verification. */
    uint32_t n1 = 0, n2 = 0, n3 = 0, n4 = 0;
    unsigned char *leaf = read_file(argv[4], "leaf+inter.pem", &n1);
    unsigned char *root = read_file(argv[4], "root.pem", &n2);
    unsigned char *expired = read_file(argv[4], "expired+inter.pem", &n3);
    unsigned char *other = read_file(argv[4], "other.pem", &n4);
    CHECK(leaf && root && expired && other, "certificate files readable");
    struct NetStack_CertBlob cert = { NetStack_CERT_TYPE_PEM, n1, leaf };
    struct NetStack_CertBlob ca = { NetStack_CERT_TYPE_PEM, n2, root };
    struct NetStack_CertBlob old = { NETSTACK_CERT_TYPE_PEM, n3, expired };
    struct NetStack_CertBlob wrong = { NetStack_CERT_TYPE_PEM, n4, other };
    struct NetStack_CertBlob empty = { NetStack_CERT_TYPE_PEM, 0, NULL };
    CHECK(OH_NetStack_VerifyCertification(&cert, &ca) == 0, "valid chain = 0");
    CHECK(OH_NetStack_CertVerification(&cert, &ca) == 0, "the SDK spelling works too");
    CHECK(OH_NetStack_VerifyCertification(&old, &ca) == 2305010, "expired = 2305010");
    CHECK(OH_NetStack_VerifyCertification(&cert, &wrong) == 2305020, "untrusted = 2305020");
    CHECK(OH_NetStack_VerifyCertification(NULL, &ca) == 2305069, "NULL cert = 2305069");
    CHECK(OH_NetStack_VerifyCertification(&empty, NULL) == 2305069, "empty cert = 2305069");

    /* NetStack_VerifyCertificationEx: every option. */
    uint32_t n5 = 0, n6 = 0, n7 = 0, n8 = 0, n9 = 0;
    unsigned char *leafonly = read_file(argv[4], "leaf.pem", &n5);
    unsigned char *inter = read_file(argv[4], "inter.pem", &n6);
    unsigned char *revoked = read_file(argv[4], "revoked.pem", &n7);
    unsigned char *crlfile = read_file(argv[4], "root+crls.pem", &n8);
    unsigned char *weak = read_file(argv[4], "weak.pem", &n9);
    CHECK(leafonly && inter && revoked && crlfile && weak, "more certificate files readable");
    struct NetStack_CertBlob single = { NetStack_CERT_TYPE_PEM, n5, leafonly };
    struct NetStack_CertBlob inters = { NetStack_CERT_TYPE_PEM, n6, inter };
    struct NetStack_CertBlob gone = { NetStack_CERT_TYPE_PEM, n7, revoked };
    struct NetStack_CertBlob crls = { NetStack_CERT_TYPE_PEM, n8, crlfile };
    struct NetStack_CertBlob small = { NetStack_CERT_TYPE_PEM, n9, weak };
    struct NetStack_VerifyOptions vo;
    char why[256];
    int32_t depth = 99;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, NULL, why, sizeof why, &depth) == 0 && depth == -1 && strcmp(why, "ok") == 0,
          "Ex without options = the documented function");
    NetStack_VerifyOptions_Init(&vo);
    CHECK(vo.structSize == sizeof vo && vo.maxDepth == -1 && vo.securityLevel == -1 && vo.flags == 0, "Init sets the defaults");
    vo.hostname = "leaf.test";
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 0, "hostname that matches = 0");
    vo.hostname = "other.test";
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, why, sizeof why, &depth) == 2305062 && depth == 0 && strstr(why, "mismatch"),
          "hostname mismatch = 2305062 at depth 0 with a reason");
    NetStack_VerifyOptions_Init(&vo);
    vo.ipAddress = "127.0.0.1";
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 0, "IP address that matches = 0");
    NetStack_VerifyOptions_Init(&vo);
    vo.email = "someone@leaf.test";
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 2305063, "e-mail mismatch = 2305063");
    NetStack_VerifyOptions_Init(&vo);
    vo.purpose = NETSTACK_VERIFY_PURPOSE_CLIENT;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 2305026, "client purpose on a serverAuth leaf = 2305026");
    vo.purpose = NETSTACK_VERIFY_PURPOSE_SERVER;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 0, "server purpose = 0");
    NetStack_VerifyOptions_Init(&vo);
    vo.maxDepth = 0;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 2305022, "maxDepth 0 with an intermediate = 2305022");
    NetStack_VerifyOptions_Init(&vo);
    vo.flags = NETSTACK_VERIFY_USE_TIME;
    vo.time = 0;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 2305009, "time 0 is 1970: not yet valid = 2305009");
    NetStack_VerifyOptions_Init(&vo);
    vo.untrusted = &inters;
    CHECK(NetStack_VerifyCertificationEx(&single, &ca, &vo, NULL, 0, NULL) == 0, "intermediate given apart = 0");
    CHECK(NetStack_VerifyCertificationEx(&single, &ca, NULL, NULL, 0, NULL) == 2305020, "without it = 2305020");
    vo.crls = &crls;
    CHECK(NetStack_VerifyCertificationEx(&gone, &ca, &vo, NULL, 0, NULL) == 2305023, "revoked per the CRLs given = 2305023");
    CHECK(NetStack_VerifyCertificationEx(&single, &ca, &vo, NULL, 0, NULL) == 0, "not revoked per the CRLs = 0");
    NetStack_VerifyOptions_Init(&vo);
    vo.untrusted = &inters;
    vo.securityLevel = 2;
    CHECK(NetStack_VerifyCertificationEx(&small, &ca, &vo, NULL, 0, NULL) == 2305066, "RSA 1024 at security level 2 = 2305066");
    vo.securityLevel = 0;
    CHECK(NetStack_VerifyCertificationEx(&small, &ca, &vo, NULL, 0, NULL) == 0, "RSA 1024 at security level 0 = 0");
    NetStack_VerifyOptions_Init(&vo);
    vo.flags = NETSTACK_VERIFY_STRICT;
    vo.purpose = NETSTACK_VERIFY_PURPOSE_SERVER;
    uint32_t strict = NetStack_VerifyCertificationEx(&cert, &ca, &vo, why, sizeof why, &depth);
    CHECK(strict == 2305807 && depth == 0 && strstr(why, "commonName"), "strict: the lab leaf's CN is not among its SANs = 2305807");
    NetStack_VerifyOptions_Init(&vo);
    vo.flags = NETSTACK_VERIFY_PARTIAL_CHAIN;
    CHECK(NetStack_VerifyCertificationEx(&single, &inters, &vo, NULL, 0, NULL) == 0, "partial chain: the intermediate as anchor = 0");
    CHECK(NetStack_VerifyCertificationEx(&single, &inters, NULL, NULL, 0, NULL) == 2305002, "without partial chain = 2305002");
    /* RFC 5280 policy inputs: the lab's certificates assert no policy. */
    NetStack_VerifyOptions_Init(&vo);
    vo.flags = NETSTACK_VERIFY_EXPLICIT_POLICY;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 2305043, "explicit policy on a path without policies = 2305043");
    vo.flags = NETSTACK_VERIFY_INHIBIT_POLICY_MAPPING | NETSTACK_VERIFY_INHIBIT_ANY_POLICY;
    vo.policies = "2.23.140.1.2.1,anyPolicy";
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 0, "policies and inhibits without explicit policy = 0");
    vo.policies = "2.23.140.1.2.1,,1.2";
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, why, sizeof why, NULL) == 2305069 && strstr(why, "policies"), "an empty policy = 2305069, named");
    vo.policies = "";
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 2305069, "an empty policy list = 2305069");
    /* A structure of the first release (up to crls) is still taken, and its policies never read. */
    NetStack_VerifyOptions_Init(&vo);
    vo.structSize = (uint32_t)offsetof(struct NetStack_VerifyOptions, policies);
    vo.policies = "not read";
    vo.flags = NETSTACK_VERIFY_EXPLICIT_POLICY;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 2305043, "the first release's structSize = accepted");
    vo.flags = 0x40;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, why, sizeof why, NULL) == 2305069 && strstr(why, "flags"), "an unknown flag = 2305069");
    NetStack_VerifyOptions_Init(&vo);
    vo.purpose = 7;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, why, sizeof why, NULL) == 2305069 && strstr(why, "purpose"), "bad purpose = 2305069, named");
    NetStack_VerifyOptions_Init(&vo);
    vo.structSize = 4;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, why, 8, NULL) == 2305069 && strlen(why) == 7, "bad structSize = 2305069; reason truncated");
    NetStack_VerifyOptions_Init(&vo);
    vo.maxDepth = 256;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 2305069, "maxDepth 256 = 2305069");
    NetStack_VerifyOptions_Init(&vo);
    vo.maxDepth = 255;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 0, "maxDepth 255 = 0");
    NetStack_VerifyOptions_Init(&vo);
    vo.ipAddress = "127.0.0.1.1";
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, why, sizeof why, NULL) == 2305069 && strstr(why, "ipAddress"), "an address that is not one = 2305069, named");
    NetStack_VerifyOptions_Init(&vo);
    vo.hostname = "";
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, why, sizeof why, NULL) == 2305069 && strstr(why, "hostname: empty"), "empty hostname = 2305069");
    NetStack_VerifyOptions_Init(&vo);
    vo.flags = NETSTACK_VERIFY_USE_TIME;
    vo.time = INT64_MAX;
    CHECK(NetStack_VerifyCertificationEx(&cert, &ca, &vo, NULL, 0, NULL) == 2305069, "time beyond year 9999 = 2305069");
    CHECK(NetStack_VerifyCertificationEx(NULL, &ca, NULL, why, sizeof why, &depth) == 2305069 && depth == -1, "NULL cert = 2305069");
    free(leafonly); free(inter); free(revoked); free(crlfile); free(weak);
    free(leaf); free(root); free(expired); free(other);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
