#include "ckernels.h"
#include <math.h>
#include <string.h>
#include <stdint.h>

/* An exact accumulator for sums of doubles (a "long accumulator", Kulisch style): the sum is
   kept as the integer V = sum · 2^1074 in DODE_EXACT_LIMBS signed 64-bit limbs of 32-bit
   digits (limb i weighs 2^(32 i)). Adding a double splits its 53-bit significand over three
   limbs; nothing is rounded, so the result does not depend on the order of the additions, on
   how the terms are split into batches, threads or processes, or on the order in which partial
   accumulators are merged. Non-finite terms are counted in three extra words (NaN, +inf, -inf).
   Limbs can absorb 2^30 additions before a carry pass is needed; word DODE_EXACT_PENDING counts them. */

enum { NAN_W = DODE_EXACT_LIMBS, PINF_W = DODE_EXACT_LIMBS + 1, NINF_W = DODE_EXACT_LIMBS + 2,
       PENDING_W = DODE_EXACT_LIMBS + 3 };

void dode_exact_normalize(int64_t *acc) {
    for (int i = 0; i < DODE_EXACT_LIMBS - 1; i++) {
        const int64_t c = acc[i] >> 32;            /* floor division by 2^32 */
        acc[i] -= c * ((int64_t)1 << 32);
        acc[i + 1] += c;
    }
    acc[PENDING_W] = 0;
}

static inline void add_one(int64_t *acc, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    const int neg = (int)(bits >> 63);
    const unsigned e = (unsigned)((bits >> 52) & 0x7FF);
    uint64_t m = bits & ((UINT64_C(1) << 52) - 1);
    if (e == 0x7FF) {
        if (m) acc[NAN_W]++; else if (neg) acc[NINF_W]++; else acc[PINF_W]++;
        return;
    }
    unsigned p = 0;
    if (e) { m |= UINT64_C(1) << 52; p = e - 1; }
    if (!m) return;
    const unsigned i = p >> 5, o = p & 31;
    const unsigned __int128 w = (unsigned __int128)m << o;
    const int64_t d0 = (int64_t)(uint64_t)(w & 0xFFFFFFFFu);
    const int64_t d1 = (int64_t)(uint64_t)((w >> 32) & 0xFFFFFFFFu);
    const int64_t d2 = (int64_t)(uint64_t)(w >> 64);
    if (neg) { acc[i] -= d0; acc[i + 1] -= d1; acc[i + 2] -= d2; }
    else { acc[i] += d0; acc[i + 1] += d1; acc[i + 2] += d2; }
}

void dode_exact_add(int64_t *acc, const double *v, long n) {
    for (long j = 0; j < n; j++) {
        add_one(acc, v[j]);
        if (++acc[PENDING_W] >= ((int64_t)1 << 30)) dode_exact_normalize(acc);
    }
}

void dode_exact_merge(int64_t *acc, const int64_t *other) {
    int64_t tmp[DODE_EXACT_WORDS];
    memcpy(tmp, other, sizeof tmp);
    dode_exact_normalize(tmp);
    dode_exact_normalize(acc);
    for (int i = 0; i < DODE_EXACT_LIMBS + 3; i++) acc[i] += tmp[i];
    dode_exact_normalize(acc);
}

double dode_exact_value(const int64_t *acc_in) {
    int64_t a[DODE_EXACT_WORDS];
    memcpy(a, acc_in, sizeof a);
    if (a[NAN_W] || (a[PINF_W] && a[NINF_W])) return NAN;
    if (a[PINF_W]) return INFINITY;
    if (a[NINF_W]) return -INFINITY;
    dode_exact_normalize(a);
    int neg = a[DODE_EXACT_LIMBS - 1] < 0;
    if (neg) {
        for (int i = 0; i < DODE_EXACT_LIMBS; i++) a[i] = -a[i];
        dode_exact_normalize(a);
    }
    int t = DODE_EXACT_LIMBS - 1;
    while (t >= 0 && a[t] == 0) t--;
    if (t < 0) return 0.0;
    /* The top three limbs as a 128-bit integer W (< 2^127), the rest as a sticky bit. */
    const int lo = t >= 2 ? t - 2 : 0;
    unsigned __int128 W = 0;
    for (int i = t; i >= lo; i--) W = (W << 32) | (uint64_t)a[i];
    int sticky = 0;
    for (int i = 0; i < lo; i++) sticky |= a[i] != 0;
    int L = 0;
    for (unsigned __int128 q = W; q; q >>= 1) L++;
    const int s = L > 64 ? L - 64 : 0;
    uint64_t u = (uint64_t)(W >> s);
    if (s && (W & (((unsigned __int128)1 << s) - 1))) sticky = 1;
    /* With 64 significant bits and 53 kept, bit 0 as a sticky bit makes the conversion round
       to nearest-even exactly as the exact value would (outside the subnormal range). */
    if (L >= 64) u |= (uint64_t)sticky;
    const double r = ldexp((double)u, 32 * lo + s - 1074);
    return neg ? -r : r;
}

/* Σ_j a_ij·b_ij for each row i of two rows×cols arrays, each row summed in a fixed order that
   depends on `cols` only (so a row's value never depends on the batch it is part of). */
void dode_row_dots_f64(const double *a, const double *b, long rows, long cols, double *out) {
    for (long r = 0; r < rows; r++) {
        const double *p = a + r * cols, *q = b + r * cols;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        long j = 0;
        for (; j + 4 <= cols; j += 4) {
            s0 += p[j] * q[j]; s1 += p[j + 1] * q[j + 1]; s2 += p[j + 2] * q[j + 2]; s3 += p[j + 3] * q[j + 3];
        }
        for (; j < cols; j++) s0 += p[j] * q[j];
        out[r] = (s0 + s1) + (s2 + s3);
    }
}
