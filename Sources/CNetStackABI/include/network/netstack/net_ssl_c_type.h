/* The SDK include path: <network/netstack/net_ssl_c_type.h>. */
#include "../../net_ssl_c_type.h"
