// The MPI C API for Swift (Debian's libopenmpi-dev or libmpich-dev, found through the
// `mpi` pkg-config alternative): MPI_COMM_WORLD, the datatypes and the operations are macros
// whose types differ between Open MPI (pointers) and MPICH (integers), so dode calls MPI only
// through these small functions on MPI_COMM_WORLD. Every function returns an MPI error code
// (MPI_SUCCESS = 0) once dode_mpi_init has set MPI_ERRORS_RETURN.
#ifndef DODE_CMPI_H
#define DODE_CMPI_H
#include <mpi.h>
#include <stdint.h>
#include <string.h>

static inline int dode_mpi_is_initialized(void) { int f = 0; MPI_Initialized(&f); return f; }
static inline int dode_mpi_is_finalized(void) { int f = 0; MPI_Finalized(&f); return f; }

/// MPI_Init_thread with MPI_THREAD_FUNNELED (only the main thread calls MPI; dode's worker
/// threads never do); errors return instead of aborting.
static inline int dode_mpi_init(int *provided) {
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, provided);
    if (rc == MPI_SUCCESS) MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return rc;
}
static inline int dode_mpi_finalize(void) { return MPI_Finalize(); }
static inline int dode_mpi_rank(int *r) { return MPI_Comm_rank(MPI_COMM_WORLD, r); }
static inline int dode_mpi_size(int *n) { return MPI_Comm_size(MPI_COMM_WORLD, n); }

/// Number of ranks on this rank's node (shared-memory neighbours).
static inline int dode_mpi_local_size(int *n) {
    MPI_Comm local;
    int rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    if (rc != MPI_SUCCESS) return rc;
    rc = MPI_Comm_size(local, n);
    MPI_Comm_free(&local);
    return rc;
}

static inline int dode_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

static inline int dode_mpi_allreduce_sum_i64(int64_t *p, int n) {
    return MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
}

/// op: 0 sum, 1 max, 2 min.
static inline int dode_mpi_allreduce_f64(double *p, int n, int op) {
    MPI_Op o = op == 1 ? MPI_MAX : (op == 2 ? MPI_MIN : MPI_SUM);
    return MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_DOUBLE, o, MPI_COMM_WORLD);
}

static inline int dode_mpi_bcast(void *p, int bytes, int root) {
    return MPI_Bcast(p, bytes, MPI_BYTE, root, MPI_COMM_WORLD);
}

static inline int dode_mpi_allgather_i64(int64_t v, int64_t *out) {
    return MPI_Allgather(&v, 1, MPI_INT64_T, out, 1, MPI_INT64_T, MPI_COMM_WORLD);
}

static inline int dode_mpi_allgatherv(const void *send, int bytes, void *recv, const int *counts, const int *displs) {
    return MPI_Allgatherv(send, bytes, MPI_BYTE, recv, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
}

static inline int dode_mpi_gatherv(const void *send, int bytes, void *recv, const int *counts, const int *displs,
                                   int root) {
    return MPI_Gatherv(send, bytes, MPI_BYTE, recv, counts, displs, MPI_BYTE, root, MPI_COMM_WORLD);
}

static inline int dode_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

/// The library's version string ("Open MPI v4.1.4, ...", "MPICH Version: 4.0.2 ...").
static inline void dode_mpi_library(char *buf, int cap) {
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len);
    if (len >= cap) len = cap - 1;
    if (len < 0) len = 0;
    memcpy(buf, v, (size_t)len);
    buf[len] = 0;
}

static inline void dode_mpi_error_string(int code, char *buf, int cap) {
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, s, &len) != MPI_SUCCESS) len = 0;
    if (len >= cap) len = cap - 1;
    memcpy(buf, s, (size_t)len);
    buf[len] = 0;
}
#endif
