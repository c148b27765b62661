#include "ckernels.h"
#include <math.h>
#include <stdlib.h>
#include <immintrin.h>

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

/* q_r += (y_r[j..j+3] − μ[j..j+3])²·iv[j..j+3] for the four rows r of a block. */
__attribute__((target("avx2,fma"), always_inline))
static inline void dist4(const double *y0, const double *y1, const double *y2, const double *y3, const double *muk,
                         const double *ivk, int j, __m256d *q0, __m256d *q1, __m256d *q2, __m256d *q3) {
    const __m256d mv = _mm256_loadu_pd(muk + j), iv = _mm256_loadu_pd(ivk + j);
    const __m256d e0 = _mm256_sub_pd(_mm256_loadu_pd(y0 + j), mv), e1 = _mm256_sub_pd(_mm256_loadu_pd(y1 + j), mv);
    const __m256d e2 = _mm256_sub_pd(_mm256_loadu_pd(y2 + j), mv), e3 = _mm256_sub_pd(_mm256_loadu_pd(y3 + j), mv);
    *q0 = _mm256_fmadd_pd(_mm256_mul_pd(e0, e0), iv, *q0);
    *q1 = _mm256_fmadd_pd(_mm256_mul_pd(e1, e1), iv, *q1);
    *q2 = _mm256_fmadd_pd(_mm256_mul_pd(e2, e2), iv, *q2);
    *q3 = _mm256_fmadd_pd(_mm256_mul_pd(e3, e3), iv, *q3);
}

/* Four rows at once: every parameter load (μ, 1/v, a, shrink) serves four samples, which halves
   the loads per flop. Every row of a batch goes through this kernel (see dode_gmm_rows), so a
   sample's result does not depend on its position or the batch size. */
__attribute__((target("avx2,fma")))
static int block4_avx2(int K, int d, const double *y, const double *mu, const double *iv, const double *a,
                       const double *sh, const double *c, const unsigned char *allowed,
                       double *lp, double *out) {
    const double *y0 = y, *y1 = y + d, *y2 = y + 2 * d, *y3 = y + 3 * d;
    double m[4] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY };
    int d4 = d & ~3;
    for (int k = 0; k < K; k++) {
        const double *muk = mu + (long)k * d, *ivk = iv + (long)k * d;
        /* Two accumulators per row (even and odd blocks of four): eight independent FMA chains
           keep both FMA pipes busy instead of waiting on one chain's latency. */
        __m256d q0 = _mm256_setzero_pd(), q1 = q0, q2 = q0, q3 = q0, p0 = q0, p1 = q0, p2 = q0, p3 = q0;
        int j = 0;
        for (; j + 8 <= d4; j += 8) {
            dist4(y0, y1, y2, y3, muk, ivk, j, &q0, &q1, &q2, &q3);
            dist4(y0, y1, y2, y3, muk, ivk, j + 4, &p0, &p1, &p2, &p3);
        }
        for (; j < d4; j += 4) dist4(y0, y1, y2, y3, muk, ivk, j, &q0, &q1, &q2, &q3);
        q0 = _mm256_add_pd(q0, p0); q1 = _mm256_add_pd(q1, p1); q2 = _mm256_add_pd(q2, p2); q3 = _mm256_add_pd(q3, p3);
        __m256d qs[4] = { q0, q1, q2, q3 };
        const double *ys[4] = { y0, y1, y2, y3 };
        for (int r = 0; r < 4; r++) {
            if (allowed && !allowed[r * K + k]) { lp[r * K + k] = -INFINITY; continue; }
            __m128d h = _mm_add_pd(_mm256_castpd256_pd128(qs[r]), _mm256_extractf128_pd(qs[r], 1));
            double q = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
            for (int j = d4; j < d; j++) { double df = ys[r][j] - muk[j]; q += df * df * ivk[j]; }
            double v = c[k] - 0.5 * q;
            lp[r * K + k] = v;
            if (v > m[r]) m[r] = v;
        }
    }
    for (int r = 0; r < 4; r++) if (m[r] == -INFINITY) return 0;
    /* The softmax of the four rows at once, one row per lane (softmax_exp's arithmetic). */
    {
        const __m256d mv = _mm256_setr_pd(m[0], m[1], m[2], m[3]);
        __m256d z = _mm256_setzero_pd();
        for (int k = 0; k < K; k++) {
            __m256d e = exp4_avx2(_mm256_sub_pd(_mm256_setr_pd(lp[k], lp[K + k], lp[2 * K + k], lp[3 * K + k]), mv));
            double t[4];
            _mm256_storeu_pd(t, e);
            lp[k] = t[0]; lp[K + k] = t[1]; lp[2 * K + k] = t[2]; lp[3 * K + k] = t[3];
            z = _mm256_add_pd(z, e);
        }
        double iz[4];
        _mm256_storeu_pd(iz, _mm256_div_pd(_mm256_set1_pd(1.0), z));
        for (int r = 0; r < 4; r++) for (int k = 0; k < K; k++) lp[r * K + k] *= iz[r];
    }
    double *o0 = out, *o1 = out + d, *o2 = out + 2 * d, *o3 = out + 3 * d;
    for (int j = 0; j < d4; j += 4) {
        __m256d A0 = _mm256_setzero_pd(), A1 = A0, A2 = A0, A3 = A0, S0 = A0, S1 = A0, S2 = A0, S3 = A0;
        for (int k = 0; k < K; k++) {
            long o = (long)k * d + j;
            __m256d av = _mm256_loadu_pd(a + o), sv = _mm256_loadu_pd(sh + o);
            __m256d w0 = _mm256_set1_pd(lp[k]), w1 = _mm256_set1_pd(lp[K + k]);
            __m256d w2 = _mm256_set1_pd(lp[2 * K + k]), w3 = _mm256_set1_pd(lp[3 * K + k]);
            A0 = _mm256_fmadd_pd(w0, av, A0); S0 = _mm256_fmadd_pd(w0, sv, S0);
            A1 = _mm256_fmadd_pd(w1, av, A1); S1 = _mm256_fmadd_pd(w1, sv, S1);
            A2 = _mm256_fmadd_pd(w2, av, A2); S2 = _mm256_fmadd_pd(w2, sv, S2);
            A3 = _mm256_fmadd_pd(w3, av, A3); S3 = _mm256_fmadd_pd(w3, sv, S3);
        }
        _mm256_storeu_pd(o0 + j, _mm256_fmadd_pd(S0, _mm256_loadu_pd(y0 + j), A0));
        _mm256_storeu_pd(o1 + j, _mm256_fmadd_pd(S1, _mm256_loadu_pd(y1 + j), A1));
        _mm256_storeu_pd(o2 + j, _mm256_fmadd_pd(S2, _mm256_loadu_pd(y2 + j), A2));
        _mm256_storeu_pd(o3 + j, _mm256_fmadd_pd(S3, _mm256_loadu_pd(y3 + j), A3));
    }
    for (int j = d4; j < d; j++) {
        for (int r = 0; r < 4; r++) {
            double sa = 0, ss = 0;
            for (int k = 0; k < K; k++) { sa += lp[r * K + k] * a[(long)k * d + j]; ss += lp[r * K + k] * sh[(long)k * d + j]; }
            out[r * d + j] = sa + ss * y[r * d + j];
        }
    }
    return 1;
}

/* 1 when the CPU has AVX2 and FMA (and DODE_NO_AVX2 does not force the portable path). */
static int use_avx2(void) {
    static int flag = -1;   /* a race only computes the same value twice */
    if (flag < 0) {
        const char *off = getenv("DODE_NO_AVX2");
        if (off && off[0] && off[0] != '0') flag = 0;
        else { __builtin_cpu_init(); flag = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
    }
    return flag;
}

int dode_kernels_avx2(void) { return use_avx2(); }


int dode_gmm_rows(int R, int K, int d, const double *y, const double *mu, const double *iv, const double *a,
                  const double *sh, const double *c, const unsigned char *allowed,
                  double *lp, double *rr, int *kk, double *out) {
    int r = 0;
    if (use_avx2()) {
        for (; r + 4 <= R; r += 4) {
            if (!block4_avx2(K, d, y + (long)r * d, mu, iv, a, sh, c, allowed ? allowed + (long)r * K : 0, lp, out + (long)r * d))
                return 0;
        }
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
            int ok = block4_avx2(K, d, y4, mu, iv, a, sh, c, m4, lp, y4 + 4 * d);
            if (ok) for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) out[(long)(r + i) * d + j] = y4[4 * d + i * d + j];
            free(y4); free(m4);
            return ok;
        }
        return 1;
    }
    for (; r < R; r++) {
        if (!row_generic(K, d, y + (long)r * d, mu, iv, a, sh, c, allowed ? allowed + (long)r * K : 0, lp, rr, kk, out + (long)r * d))
            return 0;
    }
    return 1;
}
