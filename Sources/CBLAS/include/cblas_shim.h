// OpenBLAS (Debian libopenblas-dev) for matrix products.
#ifndef DODE_CBLAS_SHIM_H
#define DODE_CBLAS_SHIM_H
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
/// Allocator policy for tensor buffers (glibc mallopt).
void dode_tune_allocator(void);
#endif
