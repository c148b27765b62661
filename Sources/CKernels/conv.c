#include "ckernels.h"
#pragma clang diagnostic ignored "-Wpsabi"
#include <math.h>
#include <string.h>
#include <immintrin.h>
#include "vector_math.h"

/* Kernels of the U-Net (UNet2DModel.swift). Activations of a chunk of n images are stored
   image-major and channels-last, [n][H][W][C]: a convolution reads, for each output pixel, the
   C channels of each input pixel under its window as one contiguous run, so it needs no
   im2col matrix (the pixels' addresses go straight into the microkernel), and every image's
   result is computed by the same operations whatever else is in the batch.

   The vector code is in unet_impl.h, compiled twice: for AVX2/FMA (chosen at run time) and
   for any CPU. */

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));
typedef double v4d __attribute__((vector_size(32)));
typedef double v4du __attribute__((vector_size(32), aligned(8)));

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define DODE_CONV_MAXTAPS 49
#define WINO_GMAX 2

/* Micro-blocks of 6 tiles per Winograd group (measured: 2 for up to 16 channels, else 1). */
static inline long wino_group(long cin) {
    const long cinp = (cin + 7) & ~7L, g = (24 * 1024 / 4) / (36 * 6 * cinp);
    return g < 1 ? 1 : g > WINO_GMAX ? WINO_GMAX : g;
}

/* 2^x for x in [−125, 125] (clamped there; NaN propagates): x = k + r with k an integer and
   |r| ≤ ½, 2^r from a degree-6 polynomial (relative error 2e-9 in exact arithmetic, ~1e-7 in
   Float32), 2^k added to the exponent. exp2neg256 is the same for x ≤ 0. */
__attribute__((target("avx2,fma")))
static inline __m256 exp2p256(__m256 x) {
    const __m256 k = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 r = _mm256_sub_ps(x, k);
    __m256 p = _mm256_set1_ps(1.5353361959569156e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3398875016719103e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(9.61843691766262e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.5503323674201965e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(2.4022647738456726e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(6.931471824645996e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(k), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
}

__attribute__((target("avx2,fma")))
static inline __m256 exp2neg256(__m256 x) { return exp2p256(_mm256_max_ps(_mm256_set1_ps(-125.0f), x)); }

/* x·σ(x) = x / (1 + 2^(−x·log2 e)), the reciprocal from the 12-bit estimate and one Newton step
   (relative error ~1e-7, as a division's 6e-8). */
__attribute__((target("avx2,fma")))
static inline __m256 silu256(__m256 x) {
    __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(-1.44269504088896341f));
    t = _mm256_min_ps(_mm256_set1_ps(125.0f), _mm256_max_ps(_mm256_set1_ps(-125.0f), t));
    const __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), exp2p256(t));
    __m256 r = _mm256_rcp_ps(d);
    r = _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0f)));
    return _mm256_mul_ps(x, r);
}

#define SFX _avx2
#define TARGET __attribute__((target("avx2,fma")))
#define VFMA(a, b, c) ((v8)_mm256_fmadd_ps((a), (b), (c)))
#define VFMAD(a, b, c) ((v4d)_mm256_fmadd_pd((a), (b), (c)))
#define DODE_IMPL_AVX2 1
#include "unet_impl.h"
#undef SFX
#undef TARGET
#undef VFMA
#undef VFMAD
#undef DODE_IMPL_AVX2

#define SFX _generic
#define TARGET
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VFMAD(a, b, c) ((a) * (b) + (c))
#define DODE_IMPL_AVX2 0
#include "unet_impl.h"
#undef SFX
#undef TARGET
#undef VFMA
#undef VFMAD
#undef DODE_IMPL_AVX2

/* ---- weight packing ---- */

long dode_conv_packed_size(long cout, long cin, long k, int algo) {
    const long cinp = (cin + 7) & ~7L, ncb = (cout + 15) / 16;
    switch (algo) {
    case DODE_CONV_DIRECT: return ncb * 16 * k * k * cin;
    case DODE_CONV_DOT: return cout * k * k * cinp;
    case DODE_CONV_WINO: return 36 * ncb * 16 * cinp;
    default: return 0;
    }
}

/* G of F(4×4, 3×3) (points 0, ±1, ±2, ∞): U = G·g·Gᵀ, computed in Float64. */
static const double wino_g[6][3] = {
    {1.0 / 4, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0, 0, 1},
};

void dode_conv_pack(const float *w, long cout, long cin, long k, int algo, float *out) {
    const long taps = k * k, cinp = (cin + 7) & ~7L, ncb = (cout + 15) / 16;
    memset(out, 0, sizeof(float) * dode_conv_packed_size(cout, cin, k, algo));
    if (algo == DODE_CONV_DIRECT) {
        /* [cb][tap][ci][16] */
        for (long co = 0; co < cout; co++)
            for (long ci = 0; ci < cin; ci++)
                for (long t = 0; t < taps; t++)
                    out[(((co / 16) * taps + t) * cin + ci) * 16 + co % 16] = w[(co * cin + ci) * taps + t];
    } else if (algo == DODE_CONV_DOT) {
        /* [co][tap][cinp] */
        for (long co = 0; co < cout; co++)
            for (long ci = 0; ci < cin; ci++)
                for (long t = 0; t < taps; t++) out[(co * taps + t) * cinp + ci] = w[(co * cin + ci) * taps + t];
    } else if (algo == DODE_CONV_WINO && k == 3) {
        /* [pt][cb][ci][16], pt = 6·i + j of U = G·g·Gᵀ */
        for (long co = 0; co < cout; co++)
            for (long ci = 0; ci < cin; ci++) {
                const float *g = w + (co * cin + ci) * 9;
                double tmp[6][3];
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 3; j++)
                        tmp[i][j] = wino_g[i][0] * g[0 * 3 + j] + wino_g[i][1] * g[1 * 3 + j]
                                    + wino_g[i][2] * g[2 * 3 + j];
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 6; j++) {
                        const double u = tmp[i][0] * wino_g[j][0] + tmp[i][1] * wino_g[j][1] + tmp[i][2] * wino_g[j][2];
                        out[(((long)(i * 6 + j) * ncb + co / 16) * cinp + ci) * 16 + co % 16] = (float)u;
                    }
            }
    }
}

/* ---- convolution ---- */

long dode_conv_work(const dode_conv_t *c, int algo) {
    switch (algo) {
    case DODE_CONV_DIRECT: return (c->n * c->Ho * c->Wo + 5) / 6;
    case DODE_CONV_DOT: return c->n * c->Ho * c->Wo;
    case DODE_CONV_WINO: return (c->n * ((c->Ho + 3) / 4) * ((c->Wo + 3) / 4) + 5) / 6 * (c->parts > 1 ? c->parts : 1);
    default: return 0;
    }
}

long dode_conv_scratch(long cin, long k, int algo) {
    const long cinp = (cin + 7) & ~7L;
    if (algo == DODE_CONV_WINO) return cinp + 36 * 6 * wino_group(cin) * (cinp + 16);
    if (algo == DODE_CONV_DIRECT && cin < 8) return 8 + 6 * k * k * cin;
    return cinp;
}

int dode_conv(const dode_conv_t *c, int algo, long w0, long w1) {
    if (c->k * c->k > DODE_CONV_MAXTAPS) return 0;
    if (c->up && ((c->H | c->W) & 1)) return 0;
    if (c->x2 && (algo != DODE_CONV_DIRECT || c->k != 1 || c->stride != 1 || c->pt || c->pl || c->up || c->Ho != c->H
                  || c->Wo != c->W || c->cin1 < 1 || c->cin1 >= c->cin)) return 0;
    const int fast = dode_kernels_avx2();
    memset(c->scratch, 0, sizeof(float) * ((c->cin + 7) & ~7L));   /* the zero row of padded taps */
    switch (algo) {
    case DODE_CONV_DIRECT: {
        const long P = c->n * c->Ho * c->Wo, p0 = w0 * 6, p1 = w1 * 6 < P ? w1 * 6 : P;
        if (fast) conv_direct_avx2(c, p0, p1); else conv_direct_generic(c, p0, p1);
        return 1;
    }
    case DODE_CONV_DOT:
        if (c->cout > 8) return 0;
        if (fast) conv_dot_avx2(c, w0, w1); else conv_dot_generic(c, w0, w1);
        return 1;
    case DODE_CONV_WINO:
        if (c->k != 3 || c->stride != 1 || c->pt != 1 || c->pl != 1 || c->Ho != c->H || c->Wo != c->W) return 0;
        if (fast) conv_wino_avx2(c, w0, w1); else conv_wino_generic(c, w0, w1);
        return 1;
    default:
        return 0;
    }
}

/* ---- GroupNorm, attention, linear rows ---- */

long dode_group_norm_work(long C) { return 4 * (((C + 15) & ~15L) + 16); }

void dode_group_norm_nhwc(const float *x, long ldx, long c1, const float *x2, long ldx2, float *y, long ldy, long n,
                          long HW, long C, long G, float eps, const float *gamma, const float *beta, const float *scale,
                          const float *shift, long ldss, int act, double *work) {
    const int fast = dode_kernels_avx2();
    if (!x2) c1 = C;
    for (long b = 0; b < n; b++) {
        const float *sc = scale ? scale + b * ldss : 0, *sh = shift ? shift + b * ldss : 0;
        const float *xb = x + b * HW * ldx, *x2b = x2 ? x2 + b * HW * ldx2 : 0;
        if (fast) group_norm_avx2(xb, ldx, c1, x2b, ldx2, y + b * HW * ldy, ldy, HW, C, G, eps, gamma, beta, sc, sh,
                                  act, work);
        else group_norm_generic(xb, ldx, c1, x2b, ldx2, y + b * HW * ldy, ldy, HW, C, G, eps, gamma, beta, sc, sh,
                                act, work);
    }
}

long dode_attention_scratch(long L, long dh) {
    const long nj = (L + 15) / 16, nd = (dh + 15) / 16;
    return nj * dh * 16 + nd * L * 16 + 6 * nj * 16;
}

void dode_attention(const float *q, const float *k, const float *v, long ld, long L, long dh, float scale,
                    float *o, long ldo, long r0, long r1, float *scratch) {
    if (dode_kernels_avx2()) attention_avx2(q, k, v, ld, L, dh, scale, o, ldo, r0, r1, scratch);
    else attention_generic(q, k, v, ld, L, dh, scale, o, ldo, r0, r1, scratch);
}

void dode_linear_pack(const float *w, long fout, long fin, float *wt) {
    const long foutp = (fout + 7) & ~7L;
    memset(wt, 0, sizeof(float) * fin * foutp);
    for (long o = 0; o < fout; o++)
        for (long i = 0; i < fin; i++) wt[i * foutp + o] = w[o * fin + i];
}

void dode_linear_rows(const float *x, long rows, long fin, const float *wt, const float *bias, long fout, float *y) {
    const long foutp = (fout + 7) & ~7L;
    if (dode_kernels_avx2()) linear_rows_avx2(x, rows, fin, wt, foutp, bias, fout, y);
    else linear_rows_generic(x, rows, fin, wt, foutp, bias, fout, y);
}

/* ---- layout and resampling ---- */

void dode_nchw_to_nhwc(const float *x, long n, long C, long HW, int centre, float *y) {
    for (long b = 0; b < n; b++)
        for (long c = 0; c < C; c++) {
            const float *s = x + (b * C + c) * HW;
            float *d = y + b * HW * C + c;
            if (centre) for (long p = 0; p < HW; p++) d[p * C] = 2 * s[p] - 1;
            else for (long p = 0; p < HW; p++) d[p * C] = s[p];
        }
}

void dode_nhwc_to_nchw(const float *x, long n, long C, long HW, float *y) {
    for (long b = 0; b < n; b++)
        for (long c = 0; c < C; c++) {
            const float *s = x + b * HW * C + c;
            float *d = y + (b * C + c) * HW;
            for (long p = 0; p < HW; p++) d[p] = s[p * C];
        }
}

void dode_concat_nhwc(const float *a, long ca, const float *b, long cb, long pixels, float *y) {
    const long c = ca + cb;
    for (long p = 0; p < pixels; p++) {
        memcpy(y + p * c, a + p * ca, sizeof(float) * ca);
        memcpy(y + p * c + ca, b + p * cb, sizeof(float) * cb);
    }
}

void dode_upsample2_nhwc(const float *x, long n, long H, long W, long C, float *y) {
    for (long b = 0; b < n; b++)
        for (long i = 0; i < H; i++) {
            const float *s = x + (b * H + i) * W * C;
            float *r0 = y + (b * 2 * H + 2 * i) * 2 * W * C, *r1 = r0 + 2 * W * C;
            for (long j = 0; j < W; j++) {
                memcpy(r0 + (2 * j) * C, s + j * C, sizeof(float) * C);
                memcpy(r0 + (2 * j + 1) * C, s + j * C, sizeof(float) * C);
            }
            memcpy(r1, r0, sizeof(float) * 2 * W * C);
        }
}

void dode_avgpool2_nhwc(const float *x, long n, long H, long W, long C, float *y) {
    const long Ho = H / 2, Wo = W / 2;
    for (long b = 0; b < n; b++)
        for (long i = 0; i < Ho; i++)
            for (long j = 0; j < Wo; j++) {
                const float *a = x + ((b * H + 2 * i) * W + 2 * j) * C, *d = a + W * C;
                float *o = y + ((b * Ho + i) * Wo + j) * C;
                for (long c = 0; c < C; c++) o[c] = (a[c] + a[C + c] + d[c] + d[C + c]) / 4.0f;
            }
}
