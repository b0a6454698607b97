#define _GNU_SOURCE
#include "netstack_malloc_info.h"
#include <malloc.h>

size_t netstack_heap_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

void netstack_malloc_trim(void) {
    malloc_trim(0);
}
