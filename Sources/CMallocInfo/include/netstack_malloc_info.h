#ifndef NETSTACK_MALLOC_INFO_H
#define NETSTACK_MALLOC_INFO_H
#include <stddef.h>

/// Bytes malloc holds for the program: in-use chunks of every arena plus mmapped blocks
/// (glibc mallinfo2's uordblks + hblkhd). For memory measurements in benchmarks.
size_t netstack_heap_in_use(void);

/// Hands malloc's free pages back to the kernel (glibc malloc_trim(0)).
void netstack_malloc_trim(void);

#endif
