/*
 * netstack-c-client.c - the shared bench kit's client contract (../shared/bench/README.md) through
 * the documented C ABI: libnetstack-c.so, every message through its onMessage callback, as a C
 * program using NetStack would. Built by scripts/bench; the kit's common.h gives the command line,
 * the clock, the percentiles and the RESULT line.
 *
 *   netstack-c-client MODE URL N SIZE [CONNS]      MODE = flood | echo | sink | conns
 *
 * Callbacks run on the library's event loop threads; the main thread waits for them to finish.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "common.h"
#include "net_websocket.h"
#include "netstack_ext.h"

static bench_args_t args;
static char *payload;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int finished, failed, opened;

/* flood and echo have one connection, whose callbacks all run on its loop thread: plain counters
 * (the main thread reads them after finish(), under the lock). conns counts on every loop. */
static unsigned long long received, received_bytes;
static atomic_ullong echoed;
static double t0, t1;
static double *rtts, sent_at;
static uint64_t sink_n, sink_bytes;

static void finish(int failure) {
    pthread_mutex_lock(&lock);
    finished = 1;
    if (failure) failed = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void send_payload(struct WebSocket *c) {
    if (OH_WebSocketClient_Send(c, payload, (size_t)args.size) != 0) {
        fprintf(stderr, "error: send failed\n");
        finish(1);
    }
}

static void on_open(struct WebSocket *c, struct WebSocket_OpenResult r) {
    (void)r;
    switch (args.mode) {
    case MODE_FLOOD: t0 = now_s(); break;
    case MODE_ECHO:
        t0 = now_s();
        sent_at = now_s();
        send_payload(c);
        break;
    case MODE_SINK:
        pthread_mutex_lock(&lock);
        t0 = now_s();
        opened = 1;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
        break;
    case MODE_CONNS: send_payload(c); break;
    }
}

static void on_message(struct WebSocket *c, char *data, uint32_t length) {
    switch (args.mode) {
    case MODE_FLOOD: {
        unsigned long long n = ++received;
        received_bytes += length;
        if (n == args.n) t1 = now_s();
        break;
    }
    case MODE_ECHO: {
        unsigned long long n = ++received;
        rtts[n - 1] = now_s() - sent_at;
        received_bytes += length;
        if (length != args.size) { fprintf(stderr, "error: echo of %u bytes\n", length); finish(1); return; }
        if (n < args.n) {
            sent_at = now_s();
            send_payload(c);
        } else {
            t1 = now_s();
            struct WebSocket_CloseOption close = { 1000, "" };
            OH_WebSocketClient_Close(c, close);
        }
        break;
    }
    case MODE_SINK: {
        unsigned long long n = 0, bytes = 0;
        if (sscanf(data, "done %llu %llu", &n, &bytes) == 2) {
            t1 = now_s();
            sink_n = n;
            sink_bytes = bytes;
        }
        break;
    }
    case MODE_CONNS:
        if (atomic_fetch_add(&echoed, 1) + 1 == (unsigned long long)args.conns) {
            t1 = now_s();
            finish(0);
        }
        break;
    }
}

static void on_error(struct WebSocket *c, struct WebSocket_ErrorResult e) {
    (void)c;
    fprintf(stderr, "error: %u %s\n", e.errorCode, e.errorMessage ? e.errorMessage : "");
    finish(1);
}

static void on_close(struct WebSocket *c, struct WebSocket_CloseResult r) {
    (void)c;
    if (args.mode == MODE_CONNS) return;
    if (r.code != 1000) fprintf(stderr, "error: closed with %u %s\n", r.code, r.reason ? r.reason : "");
    finish(r.code != 1000);
}

static struct WebSocket *make_client(void) {
    struct WebSocket *c = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    if (!c) die("constructor failed");
    const char *ca = getenv("WSBENCH_CA");
    if (args.tls && ca) NetStack_WebSocketClient_SetTLSOptions(c, ca, NULL, 0);
    return c;
}

static void wait_finished(void) {
    pthread_mutex_lock(&lock);
    while (!finished) pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv) {
    bench_parse_args(argc, argv, &args);
    payload = malloc(args.size + 1);
    memset(payload, 'x', args.size);
    payload[args.size] = 0;
    if (args.mode == MODE_ECHO) rtts = calloc(args.n ? args.n : 1, sizeof *rtts);
    struct WebSocket_RequestOptions none = { NULL };

    if (args.mode == MODE_CONNS) {
        struct WebSocket **clients = calloc((size_t)args.conns, sizeof *clients);
        t0 = now_s();
        for (int i = 0; i < args.conns; i++) {
            clients[i] = make_client();
            if (OH_WebSocketClient_Connect(clients[i], args.url, none) != 0) die("connect failed");
        }
        wait_finished();
        struct WebSocket_CloseOption close = { 1000, "" };
        for (int i = 0; i < args.conns; i++) OH_WebSocketClient_Close(clients[i], close);
        for (int i = 0; i < args.conns; i++) OH_WebSocketClient_Destroy(clients[i]);
        if (failed) return 1;
        print_result("netstack-c", &args, (uint64_t)args.conns, (uint64_t)args.conns * args.size, args.conns, t1 - t0, NULL, 0);
        return 0;
    }

    struct WebSocket *c = make_client();
    if (OH_WebSocketClient_Connect(c, args.url, none) != 0) die("connect failed");
    if (args.mode == MODE_SINK) {
        pthread_mutex_lock(&lock);
        while (!opened && !finished) pthread_cond_wait(&changed, &lock);
        pthread_mutex_unlock(&lock);
        for (uint64_t i = 0; i < args.n && !finished; i++) {
            int rc;
            /* The send queue is bounded: wait for it to drain when it is full. */
            while ((rc = OH_WebSocketClient_Send(c, payload, (size_t)args.size)) == WEBSOCKET_QUEUE_LENGTH_EXCEEDED) usleep(20);
            if (rc != 0) { fprintf(stderr, "error: send returned %d\n", rc); return 1; }
        }
    }
    wait_finished();
    OH_WebSocketClient_Destroy(c);
    if (failed) return 1;
    switch (args.mode) {
    case MODE_FLOOD:
        if (received != args.n) { fprintf(stderr, "error: %llu messages, expected %llu\n", (unsigned long long)received, (unsigned long long)args.n); return 1; }
        print_result("netstack-c", &args, received, received_bytes, 1, t1 - t0, NULL, 0);
        break;
    case MODE_ECHO:
        print_result("netstack-c", &args, received, received_bytes, 1, t1 - t0, rtts, (size_t)received);
        break;
    case MODE_SINK:
        print_result("netstack-c", &args, sink_n, sink_bytes, 1, t1 - t0, NULL, 0);
        break;
    }
    return 0;
}
