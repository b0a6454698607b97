/* The documented headers; the functions are implemented in Swift (NetStackC, @_cdecl). */
#include "net_websocket.h"
#include "net_ssl_c.h"
#include "netstack_ext.h"
