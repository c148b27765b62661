#include "ckernels.h"
#include <math.h>
#include <string.h>

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

void dode_group_norm_f32(const float *x, float *y, long C, long n, long HW, long G, float eps,
                         const float *gamma, const float *beta, const float *scale, const float *shift, long ldss,
                         int act) {
    const long cg = C / G;
    const double count = (double)(cg * HW);
    for (long b = 0; b < n; b++)
        for (long g = 0; g < G; g++) {
            double s = 0;
            for (long c = g * cg; c < (g + 1) * cg; c++) {
                const float *p = x + (c * n + b) * HW;
                for (long j = 0; j < HW; j++) s += p[j];
            }
            const double mean = s / count;
            double v = 0;
            for (long c = g * cg; c < (g + 1) * cg; c++) {
                const float *p = x + (c * n + b) * HW;
                for (long j = 0; j < HW; j++) { const double d = p[j] - mean; v += d * d; }
            }
            const double inv = 1.0 / sqrt(v / count + (double)eps);
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
