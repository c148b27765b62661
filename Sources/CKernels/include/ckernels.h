// Hot kernels written in C so they can use AVX2/FMA when the CPU has them (chosen once at run
// time; the portable build stays SSE2), with a portable fallback of the same arithmetic.
#ifndef DODE_CKERNELS_H
#define DODE_CKERNELS_H

/// Rows of the exact Gaussian-mixture posterior mean (see MixtureDenoiser.swift):
///   lp_k = c_k − ½ Σ_j (y_j − μ_kj)²·iv_kj   (components with allowed[k] == 0 skipped)
///   r = softmax(lp),  out_j = Σ_k r_k·a_kj + y_j·Σ_k r_k·sh_kj
/// R consecutive rows (y and out are R×d; allowed, when given, is R×K); `lp` holds 4·K doubles.
int dode_gmm_rows(int R, int K, int d, const double *y, const double *mu, const double *iv, const double *a,
                  const double *sh, const double *c, const unsigned char *allowed,
                  double *lp, double *rr, int *kk, double *out);

/// y = x·σ(x) (SiLU) for n Float32 values; x and y may be the same array.
void dode_silu_f32(const float *x, float *y, long n);

/// 1 when the AVX2/FMA path is in use.
int dode_kernels_avx2(void);
#endif
