#include "ckernels.h"
#include <math.h>
#include <immintrin.h>
#include "vector_math.h"
#include <stdlib.h>
#include <string.h>

/* SiLU x·σ(x) = x / (1 + e^{−x}) on Float32 arrays. The AVX2 path evaluates e^{−x} with
   exp256 (vector_math.h: about one Float32 ulp); the portable path calls expf. */
static void silu_generic(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
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
