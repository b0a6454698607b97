/* The SDK include path: <network/netstack/net_ssl_c.h>. */
#include "../../net_ssl_c.h"
