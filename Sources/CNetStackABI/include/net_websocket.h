/*
 * NetStack WebSocket client: functions (OpenHarmony NDK "Netstack" module, API level 11).
 * Callbacks run on the library's event-loop thread; strings passed to them are valid during the
 * callback only. Send, Close and Destroy may be called from any thread, including callbacks.
 */
#ifndef NET_WEBSOCKET_H
#define NET_WEBSOCKET_H

#include "net_websocket_type.h"

#ifdef __cplusplus
extern "C" {
#endif

struct WebSocket *OH_WebSocketClient_Constructor(WebSocket_OnOpenCallback onOpen, WebSocket_OnMessageCallback onMessage,
                                                 WebSocket_OnErrorCallback onError, WebSocket_OnCloseCallback onclose);
int OH_WebSocketClient_AddHeader(struct WebSocket *client, struct WebSocket_Header header);
int OH_WebSocketClient_Connect(struct WebSocket *client, const char *url, struct WebSocket_RequestOptions options);
int OH_WebSocketClient_Send(struct WebSocket *client, char *data, size_t length);
int OH_WebSocketClient_Close(struct WebSocket *client, struct WebSocket_CloseOption options);
int OH_WebSocketClient_Destroy(struct WebSocket *client);

#ifdef __cplusplus
}
#endif
#endif /* NET_WEBSOCKET_H */
