#include "ckernels.h"
#include <stdatomic.h>
#include <math.h>
#include <stdlib.h>
#include <immintrin.h>
#include <stdint.h>

/* exp(x) for x <= 0 (softmax weights): Cody–Waite reduction x = k·ln2 + r, |r| <= ln2/2, the
   degree-12 Taylor polynomial of e^r (truncation below 2e-16 relative; measured within 3.4e-16
   of libm over [-700, 0]), scaled by 2^k through the exponent bits; 0 below -708. */
static inline double softmax_exp(double x) {
    if (!(x > -708.0)) return 0.0;
    const double log2e = 1.4426950408889634, ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double k = floor(x * log2e + 0.5);
    double r = (x - k * ln2_hi) - k * ln2_lo;
    double p = 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    union { double d; long long i; } u;
    u.i = (long long)(k + 1023.0) << 52;
    return p * u.d;
}

/* The softmax and the list of contributing components, shared by both paths. */
static int softmax(int K, double *lp, double m, double *rr, int *kk) {
    double z = 0;
    for (int k = 0; k < K; k++) {
        double e = lp[k] == -INFINITY ? 0.0 : softmax_exp(lp[k] - m);
        lp[k] = e;
        z += e;
    }
    double iz = 1.0 / z;
    int nk = 0;
    for (int k = 0; k < K; k++) if (lp[k] != 0) { kk[nk] = k; rr[nk] = lp[k] * iz; nk++; }
    return nk;
}

static int row_generic(int K, int d, const double *y, const double *mu, const double *iv, const double *a,
                       const double *sh, const double *c, const unsigned char *allowed,
                       double *lp, double *rr, int *kk, double *out) {
    double m = -INFINITY;
    for (int k = 0; k < K; k++) {
        if (allowed && !allowed[k]) { lp[k] = -INFINITY; continue; }
        const double *muk = mu + (long)k * d, *ivk = iv + (long)k * d;
        double q0 = 0, q1 = 0, q2 = 0, q3 = 0;
        int j = 0;
        for (; j + 4 <= d; j += 4) {
            double d0 = y[j] - muk[j], d1 = y[j + 1] - muk[j + 1];
            double d2 = y[j + 2] - muk[j + 2], d3 = y[j + 3] - muk[j + 3];
            q0 += d0 * d0 * ivk[j]; q1 += d1 * d1 * ivk[j + 1]; q2 += d2 * d2 * ivk[j + 2]; q3 += d3 * d3 * ivk[j + 3];
        }
        double q = (q0 + q1) + (q2 + q3);
        for (; j < d; j++) { double df = y[j] - muk[j]; q += df * df * ivk[j]; }
        lp[k] = c[k] - 0.5 * q;
        if (lp[k] > m) m = lp[k];
    }
    if (m == -INFINITY) return 0;
    int nk = softmax(K, lp, m, rr, kk);
    for (int j = 0; j < d; j++) {
        double sa = 0, ss = 0;
        for (int q = 0; q < nk; q++) { long o = (long)kk[q] * d + j; sa += rr[q] * a[o]; ss += rr[q] * sh[o]; }
        out[j] = sa + ss * y[j];
    }
    return 1;
}

/* softmax_exp on four lanes: the same reduction and polynomial, 2^k built in the exponent bits
   (k + 1023 is an integer in [0, 2046] here), lanes at or below -708 (or -inf) set to 0. */
__attribute__((target("avx2,fma")))
static inline __m256d exp4_avx2(__m256d x) {
    const __m256d live = _mm256_cmp_pd(x, _mm256_set1_pd(-708.0), _CMP_GT_OQ);
    x = _mm256_max_pd(x, _mm256_set1_pd(-708.0));
    __m256d k = _mm256_floor_pd(_mm256_fmadd_pd(x, _mm256_set1_pd(1.4426950408889634), _mm256_set1_pd(0.5)));
    __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(6.93147180369123816490e-01), x);
    r = _mm256_fnmadd_pd(k, _mm256_set1_pd(1.90821492927058770002e-10), r);
    __m256d p = _mm256_set1_pd(1.0 / 479001600.0);
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 39916800.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 3628800.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 362880.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 40320.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 5040.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 720.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 120.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 24.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 6.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.5));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    const __m256d magic = _mm256_set1_pd(4503599627370496.0);   /* 2^52 */
    __m256i bits = _mm256_castpd_si256(_mm256_add_pd(_mm256_add_pd(k, _mm256_set1_pd(1023.0)), magic));
    __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(bits, 52));
    return _mm256_and_pd(_mm256_mul_pd(p, scale), live);
}

/* Stores four results; with `stream`, as non-temporal stores (p 16-byte aligned): a large output
   then goes to memory without first being read into the cache (no read-for-ownership), which
   cuts the memory traffic of a batch by a third. */
__attribute__((target("avx2,fma"), always_inline))
static inline void store4(double *p, __m256d v, int stream) {
    if (stream) {
        _mm_stream_pd(p, _mm256_castpd256_pd128(v));
        _mm_stream_pd(p + 2, _mm256_extractf128_pd(v, 1));
    } else {
        _mm256_storeu_pd(p, v);
    }
}

/* Rows this many blocks ahead are prefetched while a block computes: the hardware prefetchers
   alone leave the two cores waiting on memory when the batch is not cached (measured: 10-15%
   faster on a cold 10000×64 batch; 2 and 8 blocks ahead did about equally well). */
#define PREFETCH_BLOCKS 8

/* Prefetches part i of n of the `bytes` bytes at address `at`. The address may lie past the
   batch: a prefetch is a hint that never faults (and integer addresses keep the C defined). */
static inline void prefetch_share(uintptr_t at, long bytes, int i, int n) {
    for (long o = i * bytes / n; o < (i + 1) * bytes / n; o += 64)
        _mm_prefetch((const char *)(at + (uintptr_t)o), _MM_HINT_T0);
}

/* Σ of each of four vectors, as one vector: lane r holds the sum of v_r's lanes. */
__attribute__((target("avx2,fma"), always_inline))
static inline __m256d hsum4(__m256d v0, __m256d v1, __m256d v2, __m256d v3) {
    const __m256d t0 = _mm256_hadd_pd(v0, v1), t1 = _mm256_hadd_pd(v2, v3);
    return _mm256_add_pd(_mm256_permute2f128_pd(t0, t1, 0x20), _mm256_permute2f128_pd(t0, t1, 0x31));
}

/* One step of the distance pass: q + (y − μ)²·(1/v). */
__attribute__((target("avx2,fma"), always_inline))
static inline __m256d dstep(__m256d y, __m256d m, __m256d v, __m256d q) {
    const __m256d e = _mm256_sub_pd(y, m);
    return _mm256_fmadd_pd(_mm256_mul_pd(e, e), v, q);
}

/* lp_k for the four rows (one per lane) from their squared-distance sums: adds the scalar tail
   j ≥ d4, applies c_k and the class masks. */
__attribute__((target("avx2,fma"), always_inline))
static inline __m256d logp4(int K, int d, int k, __m256d q, const double *const ys[4], const double *muk,
                            const double *ivk, const double *c, const unsigned char *allowed) {
    const int d4 = d & ~3;
    if (d4 < d) {
        double e4[4];
        for (int r = 0; r < 4; r++) {
            double e = 0;
            for (int j = d4; j < d; j++) { const double df = ys[r][j] - muk[j]; e += df * df * ivk[j]; }
            e4[r] = e;
        }
        q = _mm256_add_pd(q, _mm256_loadu_pd(e4));
    }
    __m256d l = _mm256_fnmadd_pd(_mm256_set1_pd(0.5), q, _mm256_set1_pd(c[k]));
    if (allowed) {
        const __m256d off = _mm256_castsi256_pd(_mm256_setr_epi64x(
            allowed[k] ? 0 : -1, allowed[K + k] ? 0 : -1, allowed[2 * K + k] ? 0 : -1, allowed[3 * K + k] ? 0 : -1));
        l = _mm256_blendv_pd(l, _mm256_set1_pd(-INFINITY), off);
    }
    return l;
}

/* Four rows at once: every parameter load serves four samples, and the distance pass takes two
   components per sweep so each load of y serves both. The per-row quantities after the
   distances (log-weights, softmax, responsibilities) are vectors with one row per lane; `w`
   holds them as w[4k + r].

   Every row of a batch goes through this kernel (see dode_gmm_rows), so a sample's result does
   not depend on its position or the batch size. */
__attribute__((target("avx2,fma")))
static int block4_avx2(int K, int d, const double *y, const double *mu, const double *iv, const double *a,
                       const double *sh, const double *c, const unsigned char *allowed,
                       double *w, double *out, int stream) {
    const double *y0 = y, *y1 = y + d, *y2 = y + 2 * d, *y3 = y + 3 * d;
    const double *const ys[4] = { y0, y1, y2, y3 };
    const int d4 = d & ~3;
    __m256d mx = _mm256_set1_pd(-INFINITY);
    int k = 0;
    /* Two components per sweep: eight independent FMA chains (4 rows × 2 components). */
    for (; k + 2 <= K; k += 2) {
        const double *mA = mu + (long)k * d, *vA = iv + (long)k * d, *mB = mA + d, *vB = vA + d;
        prefetch_share((uintptr_t)y + (uintptr_t)PREFETCH_BLOCKS * 32 * (uintptr_t)d, 32L * d, k / 2, K / 2);
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int j = 0; j < d4; j += 4) {
            const __m256d Y0 = _mm256_loadu_pd(y0 + j), Y1 = _mm256_loadu_pd(y1 + j);
            const __m256d Y2 = _mm256_loadu_pd(y2 + j), Y3 = _mm256_loadu_pd(y3 + j);
            const __m256d ma = _mm256_loadu_pd(mA + j), va = _mm256_loadu_pd(vA + j);
            const __m256d mb = _mm256_loadu_pd(mB + j), vb = _mm256_loadu_pd(vB + j);
            a0 = dstep(Y0, ma, va, a0); a1 = dstep(Y1, ma, va, a1);
            a2 = dstep(Y2, ma, va, a2); a3 = dstep(Y3, ma, va, a3);
            b0 = dstep(Y0, mb, vb, b0); b1 = dstep(Y1, mb, vb, b1);
            b2 = dstep(Y2, mb, vb, b2); b3 = dstep(Y3, mb, vb, b3);
        }
        const __m256d la = logp4(K, d, k, hsum4(a0, a1, a2, a3), ys, mA, vA, c, allowed);
        const __m256d lb = logp4(K, d, k + 1, hsum4(b0, b1, b2, b3), ys, mB, vB, c, allowed);
        _mm256_storeu_pd(w + 4 * k, la);
        _mm256_storeu_pd(w + 4 * k + 4, lb);
        mx = _mm256_max_pd(mx, _mm256_max_pd(la, lb));
    }
    if (k < K) {   /* an odd last component: two accumulators per row (even/odd blocks of four) */
        const double *mA = mu + (long)k * d, *vA = iv + (long)k * d;
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int j = 0;
        for (; j + 8 <= d4; j += 8) {
            const __m256d ma = _mm256_loadu_pd(mA + j), va = _mm256_loadu_pd(vA + j);
            const __m256d mb = _mm256_loadu_pd(mA + j + 4), vb = _mm256_loadu_pd(vA + j + 4);
            a0 = dstep(_mm256_loadu_pd(y0 + j), ma, va, a0);
            a1 = dstep(_mm256_loadu_pd(y1 + j), ma, va, a1);
            a2 = dstep(_mm256_loadu_pd(y2 + j), ma, va, a2);
            a3 = dstep(_mm256_loadu_pd(y3 + j), ma, va, a3);
            b0 = dstep(_mm256_loadu_pd(y0 + j + 4), mb, vb, b0);
            b1 = dstep(_mm256_loadu_pd(y1 + j + 4), mb, vb, b1);
            b2 = dstep(_mm256_loadu_pd(y2 + j + 4), mb, vb, b2);
            b3 = dstep(_mm256_loadu_pd(y3 + j + 4), mb, vb, b3);
        }
        for (; j < d4; j += 4) {
            const __m256d ma = _mm256_loadu_pd(mA + j), va = _mm256_loadu_pd(vA + j);
            a0 = dstep(_mm256_loadu_pd(y0 + j), ma, va, a0);
            a1 = dstep(_mm256_loadu_pd(y1 + j), ma, va, a1);
            a2 = dstep(_mm256_loadu_pd(y2 + j), ma, va, a2);
            a3 = dstep(_mm256_loadu_pd(y3 + j), ma, va, a3);
        }
        const __m256d la = logp4(K, d, k,
                                 hsum4(_mm256_add_pd(a0, b0), _mm256_add_pd(a1, b1), _mm256_add_pd(a2, b2),
                                       _mm256_add_pd(a3, b3)),
                                 ys, mA, vA, c, allowed);
        _mm256_storeu_pd(w + 4 * k, la);
        mx = _mm256_max_pd(mx, la);
    }
    /* A row whose components are all masked out has no posterior. */
    if (_mm256_movemask_pd(_mm256_cmp_pd(mx, _mm256_set1_pd(-INFINITY), _CMP_EQ_OQ))) return 0;
    /* The softmax (softmax_exp's arithmetic, one row per lane). */
    __m256d z = _mm256_setzero_pd();
    for (k = 0; k < K; k++) {
        const __m256d e = exp4_avx2(_mm256_sub_pd(_mm256_loadu_pd(w + 4 * k), mx));
        _mm256_storeu_pd(w + 4 * k, e);
        z = _mm256_add_pd(z, e);
    }
    const __m256d iz = _mm256_div_pd(_mm256_set1_pd(1.0), z);
    for (k = 0; k < K; k++) _mm256_storeu_pd(w + 4 * k, _mm256_mul_pd(_mm256_loadu_pd(w + 4 * k), iz));
    double *o0 = out, *o1 = out + d, *o2 = out + 2 * d, *o3 = out + 3 * d;
    /* out_j = Σ_k r_k·a_kj + y_j·Σ_k r_k·sh_kj. */
    for (int j = 0; j < d4; j += 4) {
        __m256d A0 = _mm256_setzero_pd(), A1 = A0, A2 = A0, A3 = A0, S0 = A0, S1 = A0, S2 = A0, S3 = A0;
        for (k = 0; k < K; k++) {
            const long o = (long)k * d + j;
            const __m256d av = _mm256_loadu_pd(a + o), sv = _mm256_loadu_pd(sh + o);
            const __m256d w0 = _mm256_broadcast_sd(w + 4 * k), w1 = _mm256_broadcast_sd(w + 4 * k + 1);
            const __m256d w2 = _mm256_broadcast_sd(w + 4 * k + 2), w3 = _mm256_broadcast_sd(w + 4 * k + 3);
            A0 = _mm256_fmadd_pd(w0, av, A0); S0 = _mm256_fmadd_pd(w0, sv, S0);
            A1 = _mm256_fmadd_pd(w1, av, A1); S1 = _mm256_fmadd_pd(w1, sv, S1);
            A2 = _mm256_fmadd_pd(w2, av, A2); S2 = _mm256_fmadd_pd(w2, sv, S2);
            A3 = _mm256_fmadd_pd(w3, av, A3); S3 = _mm256_fmadd_pd(w3, sv, S3);
        }
        store4(o0 + j, _mm256_fmadd_pd(S0, _mm256_loadu_pd(y0 + j), A0), stream);
        store4(o1 + j, _mm256_fmadd_pd(S1, _mm256_loadu_pd(y1 + j), A1), stream);
        store4(o2 + j, _mm256_fmadd_pd(S2, _mm256_loadu_pd(y2 + j), A2), stream);
        store4(o3 + j, _mm256_fmadd_pd(S3, _mm256_loadu_pd(y3 + j), A3), stream);
    }
    for (int j = d4; j < d; j++) {
        for (int r = 0; r < 4; r++) {
            double sa = 0, ss = 0;
            for (k = 0; k < K; k++) {
                sa += w[4 * k + r] * a[(long)k * d + j];
                ss += w[4 * k + r] * sh[(long)k * d + j];
            }
            out[r * d + j] = sa + ss * ys[r][j];
        }
    }
    return 1;
}

/* 1 when the CPU has AVX2 and FMA (and DODE_NO_AVX2 does not force the portable path). */
static int detect_avx2(void) {
    const char *off = getenv("DODE_NO_AVX2");
    if (off && off[0] && off[0] != '0') return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int avx2_flag = -1;   /* -1: not yet detected; read and written atomically */

static int use_avx2(void) {
    /* Computed once; threads that race to compute it store the same value (atomically). */
    int flag = __atomic_load_n(&avx2_flag, __ATOMIC_RELAXED);
    if (flag < 0) {
        flag = detect_avx2();
        __atomic_store_n(&avx2_flag, flag, __ATOMIC_RELAXED);
    }
    return flag;
}

void dode_kernels_set_avx2(int on) { __atomic_store_n(&avx2_flag, on ? detect_avx2() : 0, __ATOMIC_RELAXED); }

int dode_kernels_avx2(void) { return use_avx2(); }


int dode_gmm_rows(int R, int K, int d, const double *y, const double *mu, const double *iv, const double *a,
                  const double *sh, const double *c, const unsigned char *allowed,
                  double *lp, double *rr, int *kk, double *out, int stream) {
    int r = 0;
    /* Streaming needs whole 16-byte aligned groups of four on every row; otherwise partial lines
       would mix streamed and cached stores, which is slower than plain stores. */
    stream = stream && (d & 3) == 0 && ((uintptr_t)out & 15) == 0;
    if (use_avx2()) {
        for (; r + 4 <= R; r += 4) {
            if (!block4_avx2(K, d, y + (long)r * d, mu, iv, a, sh, c, allowed ? allowed + (long)r * K : 0, lp,
                             out + (long)r * d, stream)) {
                if (stream) _mm_sfence();
                return 0;
            }
        }
        if (stream) _mm_sfence();   /* order the streamed stores before the caller's later writes */
        if (r < R) {
            /* The last 1–3 rows go through the same 4-row kernel (padded by repeating the last
               row), so every sample gets bit-identical arithmetic whatever the batch size. */
            int n = R - r;
            double *y4 = malloc(sizeof(double) * 8 * (size_t)d);
            unsigned char *m4 = allowed ? malloc((size_t)4 * K) : 0;
            if (!y4 || (allowed && !m4)) { free(y4); free(m4); return 0; }
            for (int i = 0; i < 4; i++) {
                int src = r + (i < n ? i : n - 1);
                for (int j = 0; j < d; j++) y4[i * d + j] = y[(long)src * d + j];
                if (m4) for (int k = 0; k < K; k++) m4[i * K + k] = allowed[(long)src * K + k];
            }
            int ok = block4_avx2(K, d, y4, mu, iv, a, sh, c, m4, lp, y4 + 4 * d, 0);
            if (ok)
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < d; j++) out[(long)(r + i) * d + j] = y4[4 * d + i * d + j];
            free(y4); free(m4);
            return ok;
        }
        return 1;
    }
    for (; r < R; r++) {
        if (!row_generic(K, d, y + (long)r * d, mu, iv, a, sh, c, allowed ? allowed + (long)r * K : 0, lp, rr, kk,
                         out + (long)r * d))
            return 0;
    }
    return 1;
}
