#include "ckernels.h"
#include <math.h>
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

/* SiLU x·σ(x) = x / (1 + e^{−x}) on Float32 arrays. The AVX2 path evaluates e^{−x} with a
   Cody–Waite reduction and a degree-6 polynomial (relative error below 2e-7, i.e. about one
   Float32 ulp), the argument clamped to ±87 where e^{±x} stays finite; the portable path calls
   expf. */
static void silu_generic(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
}

__attribute__((target("avx2,fma")))
static inline __m256 exp256(__m256 x) {
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 ln2hi = _mm256_set1_ps(0.693359375f), ln2lo = _mm256_set1_ps(-2.12194440e-4f);
    /* max/min return their second operand when one is NaN: x goes second so NaN propagates. */
    x = _mm256_min_ps(_mm256_set1_ps(87.0f), _mm256_max_ps(_mm256_set1_ps(-87.0f), x));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, ln2hi, x);
    r = _mm256_fnmadd_ps(k, ln2lo, r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

__attribute__((target("avx2,fma")))
static void silu_avx2(const float *x, float *y, long n) {
    long i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), v));
        _mm256_storeu_ps(y + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
    }
    if (i < n) {
        /* The tail goes through the same vector arithmetic (a padded copy), so an element's
           value never depends on where a chunk boundary or the array's end falls. */
        float in[8] = {0}, out[8];
        memcpy(in, x + i, sizeof(float) * (size_t)(n - i));
        __m256 v = _mm256_loadu_ps(in);
        __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), v));
        _mm256_storeu_ps(out, _mm256_div_ps(v, _mm256_add_ps(one, e)));
        memcpy(y + i, out, sizeof(float) * (size_t)(n - i));
    }
}

void dode_silu_f32(const float *x, float *y, long n) {
    if (dode_kernels_avx2()) silu_avx2(x, y, n); else silu_generic(x, y, n);
}

static inline float mish1(float v) {
    const float sp = v > 20.0f ? v : log1pf(expf(v));
    return v * tanhf(sp);
}

void dode_act_f32(const float *x, float *y, long n, int act) {
    switch (act) {
    case DODE_ACT_SILU: dode_silu_f32(x, y, n); break;
    case DODE_ACT_MISH: for (long i = 0; i < n; i++) y[i] = mish1(x[i]); break;
    case DODE_ACT_GELU:
        for (long i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        break;
    case DODE_ACT_RELU: for (long i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f; break;
    default: if (x != y) for (long i = 0; i < n; i++) y[i] = x[i]; break;
    }
}
