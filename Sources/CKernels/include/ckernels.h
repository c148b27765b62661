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

// U-Net kernels (conv.c). Activations of n images are image-major and channels-last:
// [n][H][W][C] (a pixel's channels are contiguous; `ld` is the distance between pixels).

/// Convolution algorithms: im2col-free direct convolution (output channels in vectors of 16),
/// the same with few output channels (a dot product per output, cout ≤ 8), and Winograd
/// F(4×4, 3×3) for 3×3 stride-1 convolutions with padding 1.
enum { DODE_CONV_DIRECT = 0, DODE_CONV_DOT = 1, DODE_CONV_WINO = 2 };

/// One convolution y = conv(x, w) + bias (+ tb per image) [then y = (res + y) / oscale].
typedef struct {
    const float *x;          ///< input [n][H][W][ldx], channels 0..cin−1 used
    long n, H, W, cin, ldx;
    const float *w;          ///< weights packed by dode_conv_pack for the algorithm
    long cout, k, stride, pt, pl, Ho, Wo;   ///< pt, pl: top and left padding (bottom/right implied by Ho, Wo)
    const float *bias;       ///< [cout] or NULL
    const float *tb;         ///< per-image additive [n][ldt] (the time embedding's projection) or NULL
    long ldt;
    const float *res;        ///< residual [n·Ho·Wo][ldr] or NULL
    long ldr;
    float oscale;            ///< with a residual: y = (res + conv) / oscale
    float *y;                ///< output [n][Ho][Wo][ldy]
    long ldy;
    float *scratch;          ///< dode_conv_scratch(cin, algo) floats, private to the calling thread
    int up;                  ///< 1: x holds (H/2)×(W/2) images, read as their nearest 2× upsampling (H, W even)
    const float *x2;         ///< 1×1 direct convolutions only: input channels cin1..cin−1 come from x2
    long ldx2, cin1;         ///< (pixel stride ldx2), channels 0..cin1−1 from x (a concatenation, unmaterialised)
    long parts;              ///< Winograd: work items split each tile block's output channels into this many
                             ///< parts (≥ 1; more parallelism for a single small image, same bits)
} dode_conv_t;

/// Floats of the packed weights of a [cout][cin][k][k] convolution for `algo`.
long dode_conv_packed_size(long cout, long cin, long k, int algo);
/// Packs PyTorch-layout weights [cout][cin][k][k] for `algo` (Winograd: the filter transform,
/// computed in Float64).
void dode_conv_pack(const float *w, long cout, long cin, long k, int algo, float *out);
/// Number of work items of a convolution (position blocks, positions or tile blocks); any split
/// of 0..<work into ranges gives the same bits.
long dode_conv_work(const dode_conv_t *c, int algo);
/// Scratch floats one thread needs for a k×k convolution with `cin` input channels.
long dode_conv_scratch(long cin, long k, int algo);
/// Runs work items [w0, w1). Returns 0 (and does nothing) when `algo` does not apply to the shape.
int dode_conv(const dode_conv_t *c, int algo, long w0, long w1);

/// GroupNorm of n images [HW][C] (pixel stride ldx → ldy, in place allowed) with G groups
/// (PyTorch's: biased variance per image and group, here accumulated in Float64), affine
/// gamma/beta (NULL = 1/0), then optionally ·(1 + scale[b·ldss + c]) + shift[b·ldss + c]
/// (diffusers' scale-shift time conditioning), then the activation. With x2, channels c1..C−1
/// come from x2 (pixel stride ldx2): the GroupNorm of a concatenation, without building it.
/// `work`: dode_group_norm_work(C) doubles.
void dode_group_norm_nhwc(const float *x, long ldx, long c1, const float *x2, long ldx2, float *y, long ldy, long n,
                          long HW, long C, long G, float eps, const float *gamma, const float *beta, const float *scale,
                          const float *shift, long ldss, int act, double *work);
long dode_group_norm_work(long C);

/// Scratch floats of dode_attention for L positions and head size dh.
long dode_attention_scratch(long L, long dh);
/// One image and head of softmax(scale·q·kᵀ)·v for query rows [r0, r1): q, k, v are L rows with
/// stride ld (dh values each), o rows with stride ldo. Softmax sums: Float32 over runs of 64, Float64 across.
void dode_attention(const float *q, const float *k, const float *v, long ld, long L, long dh, float scale,
                    float *o, long ldo, long r0, long r1, float *scratch);

/// Packs a linear layer's weight [fout][fin] as Wᵀ [fin][⌈fout/8⌉·8] for dode_linear_rows.
void dode_linear_pack(const float *w, long fout, long fin, float *wt);
/// y[r][o] = bias[o] + Σ_i x[r][i]·W[o][i] for `rows` rows, each row computed on its own.
void dode_linear_rows(const float *x, long rows, long fin, const float *wt, const float *bias, long fout, float *y);

/// NCHW → [n][HW][C] (optionally 2x − 1) and back.
void dode_nchw_to_nhwc(const float *x, long n, long C, long HW, int centre, float *y);
void dode_nhwc_to_nchw(const float *x, long n, long C, long HW, float *y);
/// y[p] = (a[p][0..ca), b[p][0..cb)) for `pixels` pixels.
void dode_concat_nhwc(const float *a, long ca, const float *b, long cb, long pixels, float *y);
/// Nearest-neighbour 2× upsampling of n images H×W×C.
void dode_upsample2_nhwc(const float *x, long n, long H, long W, long C, float *y);
/// 2×2 average pooling with stride 2 (floor of odd sizes) of n images H×W×C.
void dode_avgpool2_nhwc(const float *x, long n, long H, long W, long C, float *y);

/// Forces the portable kernels (on = 0) or restores run-time detection (on = 1); for tests that
/// compare both paths in one process. DODE_NO_AVX2=1 in the environment forces the portable path.
void dode_kernels_set_avx2(int on);

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
