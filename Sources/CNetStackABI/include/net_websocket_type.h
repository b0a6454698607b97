/*
 * NetStack WebSocket client: data structures (OpenHarmony NDK "Netstack" module, API level 11).
 * Source-compatible with the original header; compiles as C99, C11 and C++.
 */
#ifndef NET_WEBSOCKET_TYPE_H
#define NET_WEBSOCKET_TYPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct WebSocket;

/** Parameters for the connection closure received by the client. */
struct WebSocket_CloseResult {
    uint32_t code;          /**< Close code. */
    const char *reason;     /**< Close reason (valid during the callback only). */
};

/** Parameters for the closure initiated by the client. */
struct WebSocket_CloseOption {
    uint32_t code;          /**< Close code (0: 1000). */
    const char *reason;     /**< Close reason (NULL: ""). */
};

/** Parameters of an error received by the client. */
struct WebSocket_ErrorResult {
    uint32_t errorCode;           /**< Error code. */
    const char *errorMessage;     /**< Error message (valid during the callback only). */
};

/** Parameters of a successful connection. */
struct WebSocket_OpenResult {
    uint32_t code;          /**< HTTP status of the upgrade (101). */
    const char *reason;     /**< Its reason phrase (valid during the callback only). */
};

typedef void (*WebSocket_OnOpenCallback)(struct WebSocket *client, struct WebSocket_OpenResult openResult);
typedef void (*WebSocket_OnMessageCallback)(struct WebSocket *client, char *data, uint32_t length);
typedef void (*WebSocket_OnErrorCallback)(struct WebSocket *client, struct WebSocket_ErrorResult errorResult);
typedef void (*WebSocket_OnCloseCallback)(struct WebSocket *client, struct WebSocket_CloseResult closeResult);

/** Header linked list added to the client request. */
struct WebSocket_Header {
    const char *fieldName;          /**< Header field name. */
    const char *fieldValue;         /**< Header field content. */
    struct WebSocket_Header *next;  /**< Next header. */
};

/** Parameters for the connection between the client and the server. */
struct WebSocket_RequestOptions {
    struct WebSocket_Header *headers;   /**< Header list. */
};

/** WebSocket client structure. */
struct WebSocket {
    WebSocket_OnOpenCallback onOpen;
    WebSocket_OnMessageCallback onMessage;
    WebSocket_OnErrorCallback onError;
    WebSocket_OnCloseCallback onClose;
    struct WebSocket_RequestOptions requestOptions;
};

/** WebSocket error codes. */
typedef enum WebSocket_ErrCode {
    WEBSOCKET_OK = 0,
    E_BASE = 1000,
    WEBSOCKET_CLIENT_NULL = (E_BASE + 1),
    WEBSOCKET_CLIENT_NOT_CREATED = (E_BASE + 2),
    WEBSOCKET_CONNECTION_ERROR = (E_BASE + 3),
    WEBSOCKET_CONNECTION_PARSE_URL_ERROR = (E_BASE + 5),
    WEBSOCKET_CONNECTION_NO_MEMORY = (E_BASE + 6),
    WEBSOCKET_CONNECTION_CLOSED_BY_PEER = (E_BASE + 7),
    WEBSOCKET_DESTROYED = (E_BASE + 8),
    WEBSOCKET_PROTOCOL_ERROR = (E_BASE + 9),
    WEBSOCKET_SEND_NO_MEMORY = (E_BASE + 10),
    WEBSOCKET_SEND_DATA_NULL = (E_BASE + 11),
    WEBSOCKET_DATA_LENGTH_EXCEEDED = (E_BASE + 12),
    WEBSOCKET_QUEUE_LENGTH_EXCEEDED = (E_BASE + 13),
    WEBSOCKET_NO_CLIENT_CONTEXT = (E_BASE + 14),
    WEBSOCKET_NO_HEADER_CONTEXT = (E_BASE + 15),
    WEBSOCKET_HEADER_EXCEEDED = (E_BASE + 16),
    WEBSOCKET_NO_CONNECTION = (E_BASE + 17),
    WEBSOCKET_NO_CONNECTION_CONTEXT = (E_BASE + 18)
} WebSocket_ErrCode;

/* The SDK's spellings: the struct names used without `struct` (C++ style) work in C too. */
typedef struct WebSocket_CloseResult WebSocket_CloseResult;
typedef struct WebSocket_CloseOption WebSocket_CloseOption;
typedef struct WebSocket_ErrorResult WebSocket_ErrorResult;
typedef struct WebSocket_OpenResult WebSocket_OpenResult;
typedef struct WebSocket_Header WebSocket_Header;
typedef struct WebSocket_RequestOptions WebSocket_RequestOptions;
typedef struct WebSocket WebSocket;

#ifdef __cplusplus
}
#endif
#endif /* NET_WEBSOCKET_TYPE_H */
