/* The SDK include path: <network/netstack/net_websocket.h>. */
#include "../../net_websocket.h"
