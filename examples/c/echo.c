/* An echo client on the documented C API.
 * Build: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig cc -std=c99 echo.c $(pkg-config --cflags --libs netstack) -o echo
 * Run:   ./echo ws://127.0.0.1:8765/echo "hello"        (start a server with: netstack serve) */
#define _POSIX_C_SOURCE 200809L
#include <network/netstack/net_websocket.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static volatile int done, status = 1;
static const char *text = "hello";

static void on_open(struct WebSocket *client, WebSocket_OpenResult r) {
    printf("open: %u %s\n", r.code, r.reason);
    OH_WebSocketClient_Send(client, (char *)text, strlen(text));
}

static void on_message(struct WebSocket *client, char *data, uint32_t length) {
    printf("message: %.*s\n", (int)length, data);
    struct WebSocket_CloseOption bye = { 1000, "bye" };
    OH_WebSocketClient_Close(client, bye);
}

static void on_error(struct WebSocket *client, WebSocket_ErrorResult r) {
    (void)client;
    fprintf(stderr, "error %u: %s\n", r.errorCode, r.errorMessage);
}

static void on_close(struct WebSocket *client, WebSocket_CloseResult r) {
    (void)client;
    printf("close: %u %s\n", r.code, r.reason);
    status = r.code == 1000 ? 0 : 1;
    done = 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: echo URL [TEXT]\n");
        return 2;
    }
    if (argc > 2) text = argv[2];
    struct WebSocket *client = OH_WebSocketClient_Constructor(on_open, on_message, on_error, on_close);
    struct WebSocket_RequestOptions options = { NULL };
    int rc = OH_WebSocketClient_Connect(client, argv[1], options);
    if (rc != WEBSOCKET_OK) {
        fprintf(stderr, "connect failed: %d\n", rc);
        return 1;
    }
    struct timespec tick = { 0, 10 * 1000 * 1000 };
    for (int i = 0; i < 1000 && !done; i++) nanosleep(&tick, NULL);  /* callbacks run on the library's thread */
    OH_WebSocketClient_Destroy(client);
    return done ? status : 1;
}
