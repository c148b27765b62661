#include "ckernels.h"
#include <math.h>
#include <stdlib.h>
#include <immintrin.h>

/* The softmax and the list of contributing components, shared by both paths. */
static int softmax(int K, double *lp, double m, double *rr, int *kk) {
    double z = 0;
    for (int k = 0; k < K; k++) {
        double e = lp[k] == -INFINITY ? 0.0 : exp(lp[k] - m);
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
            double d0 = y[j] - muk[j], d1 = y[j + 1] - muk[j + 1], d2 = y[j + 2] - muk[j + 2], d3 = y[j + 3] - muk[j + 3];
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

__attribute__((target("avx2,fma")))
static int row_avx2(int K, int d, const double *y, const double *mu, const double *iv, const double *a,
                    const double *sh, const double *c, const unsigned char *allowed,
                    double *lp, double *rr, int *kk, double *out) {
    double m = -INFINITY;
    for (int k = 0; k < K; k++) {
        if (allowed && !allowed[k]) { lp[k] = -INFINITY; continue; }
        const double *muk = mu + (long)k * d, *ivk = iv + (long)k * d;
        __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
        int j = 0;
        for (; j + 8 <= d; j += 8) {
            __m256d d0 = _mm256_sub_pd(_mm256_loadu_pd(y + j), _mm256_loadu_pd(muk + j));
            __m256d d1 = _mm256_sub_pd(_mm256_loadu_pd(y + j + 4), _mm256_loadu_pd(muk + j + 4));
            acc0 = _mm256_fmadd_pd(_mm256_mul_pd(d0, d0), _mm256_loadu_pd(ivk + j), acc0);
            acc1 = _mm256_fmadd_pd(_mm256_mul_pd(d1, d1), _mm256_loadu_pd(ivk + j + 4), acc1);
        }
        for (; j + 4 <= d; j += 4) {
            __m256d d0 = _mm256_sub_pd(_mm256_loadu_pd(y + j), _mm256_loadu_pd(muk + j));
            acc0 = _mm256_fmadd_pd(_mm256_mul_pd(d0, d0), _mm256_loadu_pd(ivk + j), acc0);
        }
        __m256d s = _mm256_add_pd(acc0, acc1);
        __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
        double q = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
        for (; j < d; j++) { double df = y[j] - muk[j]; q += df * df * ivk[j]; }
        lp[k] = c[k] - 0.5 * q;
        if (lp[k] > m) m = lp[k];
    }
    if (m == -INFINITY) return 0;
    int nk = softmax(K, lp, m, rr, kk);
    int j = 0;
    for (; j + 8 <= d; j += 8) {
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, s0 = a0, s1 = a0;
        for (int q = 0; q < nk; q++) {
            long o = (long)kk[q] * d + j;
            __m256d w = _mm256_set1_pd(rr[q]);
            a0 = _mm256_fmadd_pd(w, _mm256_loadu_pd(a + o), a0);
            a1 = _mm256_fmadd_pd(w, _mm256_loadu_pd(a + o + 4), a1);
            s0 = _mm256_fmadd_pd(w, _mm256_loadu_pd(sh + o), s0);
            s1 = _mm256_fmadd_pd(w, _mm256_loadu_pd(sh + o + 4), s1);
        }
        _mm256_storeu_pd(out + j, _mm256_fmadd_pd(s0, _mm256_loadu_pd(y + j), a0));
        _mm256_storeu_pd(out + j + 4, _mm256_fmadd_pd(s1, _mm256_loadu_pd(y + j + 4), a1));
    }
    for (; j < d; j++) {
        double sa = 0, ss = 0;
        for (int q = 0; q < nk; q++) { long o = (long)kk[q] * d + j; sa += rr[q] * a[o]; ss += rr[q] * sh[o]; }
        out[j] = sa + ss * y[j];
    }
    return 1;
}

typedef int (*row_fn)(int, int, const double *, const double *, const double *, const double *,
                      const double *, const double *, const unsigned char *, double *, double *, int *, double *);

static row_fn choose(void) {
    const char *off = getenv("DODE_NO_AVX2");   /* force the portable path (tests, comparisons) */
    if (off && off[0] && off[0] != '0') return row_generic;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return row_avx2;
    return row_generic;
}

int dode_kernels_avx2(void) { return choose() == row_avx2; }

int dode_gmm_row(int K, int d, const double *y, const double *mu, const double *iv, const double *a,
                 const double *sh, const double *c, const unsigned char *allowed,
                 double *lp, double *rr, int *kk, double *out) {
    static row_fn fn = 0;
    if (!fn) fn = choose();   /* idempotent: a race only picks the same pointer twice */
    return fn(K, d, y, mu, iv, a, sh, c, allowed, lp, rr, kk, out);
}
