#include "ckernels.h"
#include <math.h>
#include <string.h>
#include <immintrin.h>

/* Kernels of the U-Net (UNet2DModel.swift). Activations of a chunk of n images are stored
   channel-major, [C][n][H][W]: a convolution is then one sgemm W[Cout][K] x col[K][n*Ho*Wo]
   whose result is already in that layout, and concatenating skip connections along the
   channels is concatenating buffers. */

void dode_im2col_f32(const float *x, long C, long n, long H, long W, long k, long stride, long pt, long pl,
                     long Ho, long Wo, float *col) {
    const long N = n * Ho * Wo;
    for (long c = 0; c < C; c++)
        for (long ky = 0; ky < k; ky++)
            for (long kx = 0; kx < k; kx++) {
                float *row = col + ((c * k + ky) * k + kx) * N;
                for (long b = 0; b < n; b++) {
                    const float *img = x + (c * n + b) * H * W;
                    float *r = row + b * Ho * Wo;
                    for (long oy = 0; oy < Ho; oy++) {
                        const long iy = oy * stride + ky - pt;
                        float *ro = r + oy * Wo;
                        if (iy < 0 || iy >= H) { memset(ro, 0, sizeof(float) * Wo); continue; }
                        const float *src = img + iy * W;
                        if (stride == 1) {
                            long lo = pl - kx, hi = W + pl - kx;      /* ox with 0 <= ox + kx - pl < W */
                            if (lo < 0) lo = 0;
                            if (hi > Wo) hi = Wo;
                            if (lo > Wo) lo = Wo;
                            if (hi < lo) hi = lo;
                            if (lo > 0) memset(ro, 0, sizeof(float) * lo);
                            if (hi > lo) memcpy(ro + lo, src + lo + kx - pl, sizeof(float) * (hi - lo));
                            if (hi < Wo) memset(ro + hi, 0, sizeof(float) * (Wo - hi));
                        } else {
                            for (long ox = 0; ox < Wo; ox++) {
                                const long ix = ox * stride + kx - pl;
                                ro[ox] = (ix >= 0 && ix < W) ? src[ix] : 0.0f;
                            }
                        }
                    }
                }
            }
}

void dode_fill_bias_f32(float *y, long C, long n, long HW, const float *bias, const float *tb, long ldt) {
    for (long c = 0; c < C; c++)
        for (long b = 0; b < n; b++) {
            const float v = (bias ? bias[c] : 0.0f) + (tb ? tb[b * ldt + c] : 0.0f);
            float *p = y + (c * n + b) * HW;
            for (long j = 0; j < HW; j++) p[j] = v;
        }
}

/* Σ (x − c) and Σ (x − c)² over n floats, in Float64 (c, the group's first value, keeps the
   one-pass variance free of cancellation for data far from 0). */
static void shifted_sums_generic(const float *p, long n, double c, double *s1, double *s2) {
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    long j = 0;
    for (; j + 4 <= n; j += 4) {
        double d0 = p[j] - c, d1 = p[j + 1] - c, d2 = p[j + 2] - c, d3 = p[j + 3] - c;
        a0 += d0; a1 += d1; a2 += d2; a3 += d3;
        b0 += d0 * d0; b1 += d1 * d1; b2 += d2 * d2; b3 += d3 * d3;
    }
    for (; j < n; j++) { double d = p[j] - c; a0 += d; b0 += d * d; }
    *s1 += (a0 + a1) + (a2 + a3);
    *s2 += (b0 + b1) + (b2 + b3);
}

__attribute__((target("avx2,fma")))
static void shifted_sums_avx2(const float *p, long n, double c, double *s1, double *s2) {
    const __m256d cv = _mm256_set1_pd(c);
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
    long j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v = _mm256_loadu_ps(p + j);
        __m256d lo = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), cv);
        __m256d hi = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), cv);
        a0 = _mm256_add_pd(a0, lo); a1 = _mm256_add_pd(a1, hi);
        b0 = _mm256_fmadd_pd(lo, lo, b0); b1 = _mm256_fmadd_pd(hi, hi, b1);
    }
    double t1[4], t2[4];
    _mm256_storeu_pd(t1, _mm256_add_pd(a0, a1));
    _mm256_storeu_pd(t2, _mm256_add_pd(b0, b1));
    double r1 = (t1[0] + t1[1]) + (t1[2] + t1[3]), r2 = (t2[0] + t2[1]) + (t2[2] + t2[3]);
    for (; j < n; j++) { double d = p[j] - c; r1 += d; r2 += d * d; }
    *s1 += r1;
    *s2 += r2;
}

void dode_group_norm_f32(const float *x, float *y, long C, long n, long HW, long G, float eps,
                         const float *gamma, const float *beta, const float *scale, const float *shift, long ldss,
                         int act) {
    const long cg = C / G;
    const double count = (double)(cg * HW);
    const int fast = dode_kernels_avx2();
    for (long b = 0; b < n; b++)
        for (long g = 0; g < G; g++) {
            const double c0 = x[(g * cg * n + b) * HW];
            double s1 = 0, s2 = 0;
            for (long c = g * cg; c < (g + 1) * cg; c++) {
                const float *p = x + (c * n + b) * HW;
                if (fast) shifted_sums_avx2(p, HW, c0, &s1, &s2); else shifted_sums_generic(p, HW, c0, &s1, &s2);
            }
            const double dm = s1 / count;
            const double mean = c0 + dm;
            double var = s2 / count - dm * dm;
            if (var < 0) var = 0;
            const double inv = 1.0 / sqrt(var + (double)eps);
            for (long c = g * cg; c < (g + 1) * cg; c++) {
                double a = (gamma ? gamma[c] : 1.0) * inv;
                double off = (beta ? beta[c] : 0.0) - mean * a;
                if (scale) {
                    const double sc = 1.0 + scale[b * ldss + c];
                    a *= sc;
                    off = off * sc + shift[b * ldss + c];
                }
                const float af = (float)a, bf = (float)off;
                const float *p = x + (c * n + b) * HW;
                float *q = y + (c * n + b) * HW;
                for (long j = 0; j < HW; j++) q[j] = p[j] * af + bf;
                if (act) dode_act_f32(q, q, HW, act);
            }
        }
}

void dode_upsample2_f32(const float *x, long planes, long H, long W, float *y) {
    for (long p = 0; p < planes; p++) {
        const float *s = x + p * H * W;
        float *d = y + p * 4 * H * W;
        for (long i = 0; i < H; i++) {
            float *r0 = d + (2 * i) * 2 * W, *r1 = r0 + 2 * W;
            for (long j = 0; j < W; j++) { const float v = s[i * W + j]; r0[2 * j] = v; r0[2 * j + 1] = v; }
            memcpy(r1, r0, sizeof(float) * 2 * W);
        }
    }
}

void dode_avgpool2_f32(const float *x, long planes, long H, long W, float *y) {
    const long Ho = H / 2, Wo = W / 2;
    for (long p = 0; p < planes; p++) {
        const float *s = x + p * H * W;
        float *d = y + p * Ho * Wo;
        for (long i = 0; i < Ho; i++)
            for (long j = 0; j < Wo; j++) {
                const float *a = s + (2 * i) * W + 2 * j;
                d[i * Wo + j] = (a[0] + a[1] + a[W] + a[W + 1]) / 4.0f;
            }
    }
}
