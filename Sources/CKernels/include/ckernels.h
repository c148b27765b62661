// Hot kernels written in C so they can use AVX2/FMA when the CPU has them (chosen once at run
// time; the portable build stays SSE2), with a portable fallback of the same arithmetic.
#ifndef DODE_CKERNELS_H
#define DODE_CKERNELS_H

/// Rows of the exact Gaussian-mixture posterior mean (see MixtureDenoiser.swift):
///   lp_k = c_k − ½ Σ_j (y_j − μ_kj)²·iv_kj   (components with allowed[k] == 0 skipped)
///   r = softmax(lp),  out_j = Σ_k r_k·a_kj + y_j·Σ_k r_k·sh_kj
/// R consecutive rows (y and out are R×d; allowed, when given, is R×K); `lp` holds 4·K doubles.
/// `stream` != 0 writes `out` with non-temporal stores (for outputs larger than the caches).
/// Returns 0 when a row has no allowed component or memory runs out.
int dode_gmm_rows(int R, int K, int d, const double *y, const double *mu, const double *iv, const double *a,
                  const double *sh, const double *c, const unsigned char *allowed,
                  double *lp, double *rr, int *kk, double *out, int stream);

/// The CPU's spin-wait hint (PAUSE on x86; nothing elsewhere), for polling loops.
static inline void dode_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/// y = x·σ(x) (SiLU) for n Float32 values; x and y may be the same array.
void dode_silu_f32(const float *x, float *y, long n);

/// Activation kinds of dode_act_f32 and the fused GroupNorm.
enum { DODE_ACT_NONE = 0, DODE_ACT_SILU = 1, DODE_ACT_MISH = 2, DODE_ACT_GELU = 3, DODE_ACT_RELU = 4 };

/// y = act(x) for n Float32 values (x and y may be the same array): SiLU, Mish x·tanh(softplus x)
/// (softplus = x above 20, as PyTorch), GELU 0.5·x·(1 + erf(x/√2)) (exact form), ReLU.
void dode_act_f32(const float *x, float *y, long n, int act);

/// Row-wise softmax of a rows×cols Float32 matrix with row stride ld, in place (max subtracted,
/// sums in Float64).
void dode_softmax_rows_f32(float *s, long rows, long cols, long ld);

// U-Net kernels (conv.c). Activations of n images are channel-major: [C][n][H][W].

/// im2col of a k×k convolution with stride and top/left padding (bottom/right padding is
/// implied by Ho, Wo):
/// col[(c·k + ky)·k + kx][b·Ho·Wo + oy·Wo + ox] = x[c][b][oy·s + ky − pt][ox·s + kx − pl]
/// or 0 outside the image. The row index matches PyTorch's weight layout [Cout][Cin][k][k].
void dode_im2col_f32(const float *x, long C, long n, long H, long W, long k, long stride, long pt, long pl,
                     long Ho, long Wo, float *col);

/// y[c][b][·] = bias[c] + tb[b·ldt + c] (either may be NULL): the initial value of an sgemm with β = 1.
void dode_fill_bias_f32(float *y, long C, long n, long HW, const float *bias, const float *tb, long ldt);

/// GroupNorm over [C][n][HW] with G groups (PyTorch's: biased variance, statistics per image and
/// group, here accumulated in Float64), affine gamma/beta (NULL = 1/0), then optionally
/// ·(1 + scale[b·ldss + c]) + shift[b·ldss + c] (diffusers' scale-shift time conditioning), then act.
void dode_group_norm_f32(const float *x, float *y, long C, long n, long HW, long G, float eps,
                         const float *gamma, const float *beta, const float *scale, const float *shift, long ldss,
                         int act);

/// Nearest-neighbour 2× upsampling of `planes` H×W planes into 2H×2W planes.
void dode_upsample2_f32(const float *x, long planes, long H, long W, float *y);

/// 2×2 average pooling with stride 2 (floor of odd sizes) of `planes` H×W planes.
void dode_avgpool2_f32(const float *x, long planes, long H, long W, float *y);

/// Exact sums of doubles (exact_sum.c): an accumulator is DODE_EXACT_WORDS int64 words,
/// zero-initialised. Limb words are plain integers, so accumulators of different processes
/// add exactly (e.g. MPI_Allreduce with MPI_SUM on int64) after dode_exact_normalize.
#define DODE_EXACT_LIMBS 68
#define DODE_EXACT_WORDS (DODE_EXACT_LIMBS + 4)
#include <stdint.h>
/// Adds n doubles exactly.
void dode_exact_add(int64_t *acc, const double *v, long n);
/// Adds another accumulator exactly.
void dode_exact_merge(int64_t *acc, const int64_t *other);
/// Carries every limb into 32-bit digits (a canonical form: equal sums give equal words).
void dode_exact_normalize(int64_t *acc);
/// The sum rounded to the nearest double (NaN if a NaN or both infinities were added).
double dode_exact_value(const int64_t *acc);
/// out[i] = Σ_j a[i][j]·b[i][j] for rows×cols arrays, in an order fixed by cols.
void dode_row_dots_f64(const double *a, const double *b, long rows, long cols, double *out);

/// The interrupt request (Ctrl-C): set by a signal handler, polled by long loops.
void dode_interrupt_request(void);
/// 1 when an interrupt is pending.
int dode_interrupt_pending(void);
/// Clears the request and returns 1 when one was pending.
int dode_interrupt_take(void);
/// Clears any pending request.
void dode_interrupt_clear(void);

/// 1 when the AVX2/FMA path is in use.
int dode_kernels_avx2(void);
#endif
