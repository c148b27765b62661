#include <malloc.h>
#include "cblas_shim.h"

/* Keep large freed blocks in the heap instead of unmapping them (see Storage.swift). */
void dode_tune_allocator(void) {
    mallopt(M_MMAP_THRESHOLD, 512 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
