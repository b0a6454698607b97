/* The documented C API used on one set of clients from four threads at once, as a program that
 * hands clients between threads does: constructs replacing clients that other threads are
 * using, Destroy racing AddHeader, Connect, Send and Close on the same client (a client another
 * thread destroyed answers 1002), callbacks that send and destroy. Every call must return a
 * documented code and the process must not crash. Usage: threads_test ws://HOST:PORT
 * (the local echo server). */
#define _DEFAULT_SOURCE
#include "net_websocket.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 16
#define THREADS 4
#define OPS 12000

static struct WebSocket *slots[SLOTS];
static pthread_mutex_t slotLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t countLock = PTHREAD_MUTEX_INITIALIZER;
static long calls, destroyedSeen, unexpected;
static char urls[5][256];

static struct WebSocket *take(int k, struct WebSocket *put, int swap) {
    pthread_mutex_lock(&slotLock);
    struct WebSocket *c = slots[k];
    if (swap) slots[k] = put;
    pthread_mutex_unlock(&slotLock);
    return c;
}

static void count(const char *what, int rc) {
    pthread_mutex_lock(&countLock);
    calls++;
    if (rc == 1002) destroyedSeen++;
    /* documented outcomes of these calls on a client that may be connecting, open, closed or destroyed */
    if (!(rc == 0 || rc == 1002 || rc == 1003 || rc == 1005 || rc == 1013 || rc == 1016 || rc == 1017)) {
        unexpected++;
        if (unexpected <= 5) printf("unexpected: %s returned %d\n", what, rc);
    }
    pthread_mutex_unlock(&countLock);
}

static void onOpen(struct WebSocket *c, struct WebSocket_OpenResult r) { (void)r; static char hi[] = "hi"; OH_WebSocketClient_Send(c, hi, 2); }
static void onMessage(struct WebSocket *c, char *d, uint32_t l) {
    (void)d; (void)l;
    int r = rand() % 8;
    if (r == 0) { struct WebSocket_CloseOption o = { 1000, "done" }; OH_WebSocketClient_Close(c, o); }
    if (r == 1) OH_WebSocketClient_Destroy(c);  /* the slot still names it: later calls get 1002 */
}
static void onError(struct WebSocket *c, struct WebSocket_ErrorResult e) { (void)c; (void)e; }
static void onClose(struct WebSocket *c, struct WebSocket_CloseResult r) { (void)c; (void)r; }

static void *worker(void *arg) {
    unsigned seed = (unsigned)(size_t)arg;
    for (int i = 0; i < OPS; i++) {
        int k = rand_r(&seed) % SLOTS;
        struct WebSocket *c = take(k, NULL, 0);
        switch (rand_r(&seed) % 9) {
        case 0: {
            struct WebSocket *n = OH_WebSocketClient_Constructor(onOpen, onMessage, onError, onClose);
            struct WebSocket *old = take(k, n, 1);
            if (old) count("Destroy", OH_WebSocketClient_Destroy(old));
            break;
        }
        case 1:
            if (c) {
                struct WebSocket_RequestOptions o;
                memset(&o, 0, sizeof o);
                count("Connect", OH_WebSocketClient_Connect(c, urls[rand_r(&seed) % 5], o));
            }
            break;
        case 2: if (c) { static char hello[] = "hello"; count("Send", OH_WebSocketClient_Send(c, hello, 5)); } break;
        case 3: if (c) { struct WebSocket_CloseOption o = { 1000, "bye" }; count("Close", OH_WebSocketClient_Close(c, o)); } break;
        case 4: case 6: /* long header lists: Connect walks them while others append and Destroy frees them */
            if (c) { struct WebSocket_Header h = { "X-A", "b", NULL }; count("AddHeader", OH_WebSocketClient_AddHeader(c, h)); }
            break;
        case 5: { struct WebSocket *old = take(k, NULL, 1); if (old) count("Destroy", OH_WebSocketClient_Destroy(old)); break; }
        default: usleep(20); break;
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: threads_test ws://HOST:PORT\n"); return 2; }
    snprintf(urls[0], sizeof urls[0], "%s/echo", argv[1]);
    snprintf(urls[1], sizeof urls[1], "%s/misbehave/drop", argv[1]);
    snprintf(urls[2], sizeof urls[2], "%s/flood?n=20&size=5", argv[1]);
    snprintf(urls[3], sizeof urls[3], "ws://127.0.0.1:1/");
    snprintf(urls[4], sizeof urls[4], "not a url");
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(size_t)(i + 1));
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    for (int k = 0; k < SLOTS; k++) {
        struct WebSocket *c = take(k, NULL, 1);
        if (c) count("Destroy", OH_WebSocketClient_Destroy(c));
    }
    printf("%ld calls, %ld on clients another thread had destroyed (1002), %ld unexpected codes\n", calls, destroyedSeen, unexpected);
    return unexpected == 0 ? 0 : 1;
}
