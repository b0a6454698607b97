/* The SDK include path: <network/netstack/net_websocket_type.h>. */
#include "../../net_websocket_type.h"
