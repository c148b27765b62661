/* The vector kernels of the U-Net (conv.c), written once with GCC/clang vector types and
   compiled twice: with SFX = _avx2 and TARGET = target("avx2,fma") (VFMA is a fused
   multiply-add), and with SFX = _generic for any CPU (VFMA is a multiply then an add). Every
   output element is computed by the same sequence of operations wherever it falls (block
   remainders reuse the full-block code on duplicated rows whose results are dropped), so a
   result never depends on the batch, the chunking or the thread split. */

#define F(name) CAT(name, SFX)

/* ---- small helpers ---- */

TARGET static inline v8 F(load_n)(const float *p, long n) {
    if (n >= 8) return *(const v8u *)p;
    v8 v = {0, 0, 0, 0, 0, 0, 0, 0};
    for (long i = 0; i < n; i++) v[i] = p[i];
    return v;
}

TARGET static inline void F(store_n)(float *p, v8 v, long n) {
    if (n >= 8) { *(v8u *)p = v; return; }
    for (long i = 0; i < n; i++) p[i] = v[i];
}

TARGET static inline v8 F(splat)(float s) { return (v8){s, s, s, s, s, s, s, s}; }

#if DODE_IMPL_AVX2
TARGET static inline v8 F(vmax)(v8 a, v8 b) { return _mm256_max_ps(a, b); }
TARGET static inline v8 F(vexp)(v8 x) { return exp256(x); }
TARGET static inline v8 F(vexp2neg)(v8 x) { return exp2neg256(x); }
TARGET static inline v8 F(silu)(v8 x) { return silu256(x); }
#else
static inline v8 F(vmax)(v8 a, v8 b) {
    v8 r;
    for (int i = 0; i < 8; i++) r[i] = a[i] > b[i] ? a[i] : b[i];
    return r;
}
static inline v8 F(silu)(v8 x) {
    v8 r;
    for (int i = 0; i < 8; i++) r[i] = x[i] / (1.0f + expf(-x[i]));
    return r;
}
static inline v8 F(vexp)(v8 x) {
    v8 r;
    for (int i = 0; i < 8; i++) r[i] = expf(x[i]);
    return r;
}
static inline v8 F(vexp2neg)(v8 x) {
    v8 r;
    for (int i = 0; i < 8; i++) r[i] = exp2f(x[i]);
    return r;
}
#endif

/* ---- the 6×16 microkernel: c[r][0..15] += Σ_k a_r[k]·b[k·ldb + 0..15] ---- */

TARGET __attribute__((always_inline)) static inline void F(mkld)(long K, const float *const *a, const float *b,
                                                                 long ldb, v8 *c) {
    v8 c00 = c[0], c01 = c[1], c10 = c[2], c11 = c[3], c20 = c[4], c21 = c[5];
    v8 c30 = c[6], c31 = c[7], c40 = c[8], c41 = c[9], c50 = c[10], c51 = c[11];
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
    for (long k = 0; k < K; k++) {
        const v8 b0 = *(const v8u *)b, b1 = *(const v8u *)(b + 8);
        b += ldb;
        v8 t;
        t = F(splat)(a0[k]); c00 = VFMA(t, b0, c00); c01 = VFMA(t, b1, c01);
        t = F(splat)(a1[k]); c10 = VFMA(t, b0, c10); c11 = VFMA(t, b1, c11);
        t = F(splat)(a2[k]); c20 = VFMA(t, b0, c20); c21 = VFMA(t, b1, c21);
        t = F(splat)(a3[k]); c30 = VFMA(t, b0, c30); c31 = VFMA(t, b1, c31);
        t = F(splat)(a4[k]); c40 = VFMA(t, b0, c40); c41 = VFMA(t, b1, c41);
        t = F(splat)(a5[k]); c50 = VFMA(t, b0, c50); c51 = VFMA(t, b1, c51);
    }
    c[0] = c00; c[1] = c01; c[2] = c10; c[3] = c11; c[4] = c20; c[5] = c21;
    c[6] = c30; c[7] = c31; c[8] = c40; c[9] = c41; c[10] = c50; c[11] = c51;
}

/* Packed panels of 16. */
TARGET __attribute__((always_inline)) static inline void F(mk)(long K, const float *const *a, const float *b, v8 *c) {
    F(mkld)(K, a, b, 16, c);
}

/* The epilogue, in two parts: the vector added to every pixel of image b in channels co..co+7
   (bias + tb[b]), and the store of one pixel q (a flat index over n·Ho·Wo): y = conv + add,
   then with a residual y = (res + y) / oscale. */
TARGET static inline v8 F(epi_add)(const dode_conv_t *c, long b, long co) {
    const long nl = c->cout - co;
    v8 a = F(splat)(0.0f);
    if (c->bias) a = F(load_n)(c->bias + co, nl);
    if (c->tb) a = a + F(load_n)(c->tb + b * c->ldt + co, nl);
    return a;
}

TARGET static inline void F(epi_store)(const dode_conv_t *c, long q, long co, v8 v) {
    const long nl = c->cout - co;
    if (c->res) {
        v = F(load_n)(c->res + q * c->ldr + co, nl) + v;
        if (c->oscale != 1.0f) v = v / F(splat)(c->oscale);
    }
    F(store_n)(c->y + q * c->ldy + co, v, nl);
}

TARGET static inline void F(epilogue)(const dode_conv_t *c, long q, long b, long co, v8 v) {
    if (co >= c->cout) return;
    F(epi_store)(c, q, co, v + F(epi_add)(c, b, co));
}

/* ---- direct convolution (any k, stride, padding): positions [p0, p1) of n·Ho·Wo ----
   Each block of 6 positions takes, per tap, the address of each position's input pixel (a
   zero row outside the image). With fewer than 8 input channels the taps' values are first
   gathered into rows of k·k·cin (the same sums in the same order, one long microkernel call
   instead of k·k short ones). */

/* The input pixels under the windows of 6 positions starting at the flat position (b, oy, ox),
   which advance; rows past np repeat the last position. Returns a mask with bit r set when row
   r's window lies inside its image (the common case): tap t of that row is then base[r] + off[t].
   For the other rows tab[t][r] holds each tap's address or a zero row. */
TARGET static inline int F(window)(const dode_conv_t *c, long np, long *b, long *oy, long *ox,
                                   const float **base, const float *tab[][6], long *pb) {
    const long k = c->k, H = c->H, W = c->W, ldx = c->ldx, u = c->up, Ws = W >> u;
    int inside = 0;
    for (long r = 0; r < np; r++) {
        pb[r] = *b;
        const long iy = *oy * c->stride - c->pt, ix = *ox * c->stride - c->pl;
        if (!u && iy >= 0 && ix >= 0 && iy + k <= H && ix + k <= W) {
            inside |= 1 << r;
            base[r] = c->x + ((*b * H + iy) * W + ix) * ldx;
        } else {
            const float *zeros = c->scratch, *xb = c->x + *b * (H >> u) * Ws * ldx;
            for (long ky = 0; ky < k; ky++)
                for (long kx = 0; kx < k; kx++) {
                    const long y = iy + ky, x = ix + kx;
                    tab[ky * k + kx][r] = (y >= 0 && y < H && x >= 0 && x < W)
                                          ? xb + ((y >> u) * Ws + (x >> u)) * ldx : zeros;
                }
        }
        if (++*ox == c->Wo) { *ox = 0; if (++*oy == c->Ho) { *oy = 0; ++*b; } }
    }
    for (long r = np; r < 6; r++) {
        pb[r] = pb[np - 1];
        if (inside >> (np - 1) & 1) {
            inside |= 1 << r;
            base[r] = base[np - 1];
        } else {
            for (long t = 0; t < k * k; t++) tab[t][r] = tab[t][np - 1];
        }
    }
    return inside;
}

/* Row r's address for tap t. */
#define TAP(t, r) ((inside >> (r) & 1) ? base[r] + off[t] : tab[t][r])

TARGET static void F(conv_direct)(const dode_conv_t *cp, long p0, long p1) {
    /* A local copy: the compiler then knows that stores to the output leave the fields alone. */
    const dode_conv_t cl = *cp, *c = &cl;
    const long k = c->k, taps = k * k, cin = c->cin, ncb = (c->cout + 15) / 16;
    const long HWo = c->Ho * c->Wo, ldx = c->ldx;
    const int gather = cin < 8;
    float *rows = c->scratch + 8;   /* gather: 6 rows of taps·cin */
    const float *tab[DODE_CONV_MAXTAPS][6], *base[6];
    long off[DODE_CONV_MAXTAPS], pb[6];
    for (long t = 0; t < taps; t++) off[t] = ((t / k) * c->W + t % k) * ldx;
    long b = p0 / HWo, rem = p0 - b * HWo, oy = rem / c->Wo, ox = rem - oy * c->Wo;
    if (c->x2) {
        /* A 1×1 convolution of the concatenation (x, x2): channels 0..cin1−1, then the rest,
           summed in that order as over a materialised concatenation. */
        const long c1 = c->cin1, c2 = cin - c1;
        for (long p = p0; p < p1; p += 6) {
            const long np = p1 - p < 6 ? p1 - p : 6;
            const float *a1[6], *a2[6];
            for (long r = 0; r < 6; r++) {
                const long q = p + (r < np ? r : np - 1);
                a1[r] = c->x + q * ldx;
                a2[r] = c->x2 + q * c->ldx2;
                pb[r] = r < np ? b : pb[np - 1];
                if (r < np && ++ox == c->Wo) { ox = 0; if (++oy == c->Ho) { oy = 0; b++; } }
            }
            for (long cb = 0; cb < ncb; cb++) {
                v8 acc[12];
                for (int i = 0; i < 12; i++) acc[i] = F(splat)(0.0f);
                const float *w = c->w + cb * cin * 16;
                F(mk)(c1, a1, w, acc);
                F(mk)(c2, a2, w + c1 * 16, acc);
                const long co = cb * 16;
                for (long r = 0; r < np; r++) {
                    F(epi_store)(c, p + r, co, acc[2 * r] + F(epi_add)(c, pb[r], co));
                    if (co + 8 < c->cout) F(epi_store)(c, p + r, co + 8, acc[2 * r + 1] + F(epi_add)(c, pb[r], co + 8));
                }
            }
        }
        return;
    }
    const int plain = k == 1 && c->stride == 1 && !c->pt && !c->pl && !c->up && c->H == c->Ho && c->W == c->Wo;
    for (long p = p0; p < p1; p += 6) {
        const long np = p1 - p < 6 ? p1 - p : 6;
        const int inside = F(window)(c, np, &b, &oy, &ox, base, tab, pb);
        if (plain && p + 18 <= p1) {
            /* 1×1: the input rows two blocks ahead (measured on 32 → 96 channels with cold
               caches: 55 → 62 GFLOP/s; prefetching the output lines as well lost). */
            const char *q = (const char *)(c->x + (p + 12) * ldx), *e = (const char *)(c->x + (p + 18) * ldx);
            for (; q < e; q += 64) __builtin_prefetch(q);
        }
        const float *a[6];
        if (gather) {
            const long K = taps * cin, run = k * cin;
            for (long r = 0; r < 6; r++) {
                float *row = rows + r * K;
                if ((inside >> r & 1) && ldx == cin) {
                    /* A window row of k pixels is k·cin contiguous values. */
                    for (long ky = 0; ky < k; ky++) {
                        const float *src = base[r] + off[ky * k];
                        float *dst = row + ky * run;
                        long i = 0;
                        for (; i + 8 <= run; i += 8) *(v8u *)(dst + i) = *(const v8u *)(src + i);
                        for (; i < run; i++) dst[i] = src[i];
                    }
                } else {
                    for (long t = 0; t < taps; t++) {
                        const float *src = TAP(t, r);
                        for (long ci = 0; ci < cin; ci++) row[t * cin + ci] = src[ci];
                    }
                }
                a[r] = row;
            }
        }
        for (long cb = 0; cb < ncb; cb++) {
            v8 acc[12];
            for (int i = 0; i < 12; i++) acc[i] = F(splat)(0.0f);
            const float *w = c->w + cb * taps * cin * 16;
            if (gather) {
                F(mk)(taps * cin, a, w, acc);
            } else {
                for (long t = 0; t < taps; t++) {
                    for (int r = 0; r < 6; r++) a[r] = TAP(t, r);
                    F(mk)(cin, a, w + t * cin * 16, acc);
                }
            }
            const long co = cb * 16;
            v8 add0 = F(epi_add)(c, pb[0], co), add1 = co + 8 < c->cout ? F(epi_add)(c, pb[0], co + 8) : add0;
            for (long r = 0; r < np; r++) {
                if (r > 0 && pb[r] != pb[r - 1]) {
                    add0 = F(epi_add)(c, pb[r], co);
                    if (co + 8 < c->cout) add1 = F(epi_add)(c, pb[r], co + 8);
                }
                F(epi_store)(c, p + r, co, acc[2 * r] + add0);
                if (co + 8 < c->cout) F(epi_store)(c, p + r, co + 8, acc[2 * r + 1] + add1);
            }
        }
    }
}

/* ---- direct convolution with few output channels (cout < 8): per position and output
   channel a dot product over taps × input channels, 8 input channels per lane step ---- */

TARGET static void F(conv_dot)(const dode_conv_t *cp, long p0, long p1) {
    /* A local copy: the compiler then knows that stores to the output leave the fields alone. */
    const dode_conv_t cl = *cp, *c = &cl;
    const long k = c->k, taps = k * k, cin = c->cin, cinp = (cin + 7) & ~7L, cout = c->cout;
    const long HWo = c->Ho * c->Wo, sx = c->stride * c->ldx;
    const float *tab[DODE_CONV_MAXTAPS][6], *base[6];
    long off[DODE_CONV_MAXTAPS], pb[6];
    for (long t = 0; t < taps; t++) off[t] = ((t / k) * c->W + t % k) * c->ldx;
    long b = p0 / HWo, rem = p0 - b * HWo, oy = rem / c->Wo, ox = rem - oy * c->Wo;
    for (long p = p0; p < p1; p += 6) {
        const long np = p1 - p < 6 ? p1 - p : 6;
        const long oy0 = oy, b0 = b;
        const int inside = F(window)(c, np, &b, &oy, &ox, base, tab, pb);
        /* Six windows inside the image on one output row: row r's taps are row 0's + r·stride
           pixels, and whole vectors of channels (no partial loads). */
        const int row = np == 6 && inside == 63 && (cin & 7) == 0
                        && (b == b0 && (oy == oy0 || (oy == oy0 + 1 && ox == 0)));
        float out[6][8];
        for (long co = 0; co < cout; co++) {
            v8 a0 = F(splat)(0.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
            const float *w = c->w + co * taps * cinp;
            for (long t = 0; t < taps; t++) {
                const float *wp = w + t * cinp;
                if (row) {
                    const float *x0 = base[0] + off[t];
                    for (long ci = 0; ci < cin; ci += 8) {
                        const v8 wv = *(const v8u *)(wp + ci);
                        const float *q = x0 + ci;
                        a0 = VFMA(*(const v8u *)q, wv, a0);
                        a1 = VFMA(*(const v8u *)(q + sx), wv, a1);
                        a2 = VFMA(*(const v8u *)(q + 2 * sx), wv, a2);
                        a3 = VFMA(*(const v8u *)(q + 3 * sx), wv, a3);
                        a4 = VFMA(*(const v8u *)(q + 4 * sx), wv, a4);
                        a5 = VFMA(*(const v8u *)(q + 5 * sx), wv, a5);
                    }
                } else {
                    const float *x0 = TAP(t, 0), *x1 = TAP(t, 1), *x2 = TAP(t, 2), *x3 = TAP(t, 3),
                                *x4 = TAP(t, 4), *x5 = TAP(t, 5);
                    for (long ci = 0; ci < cin; ci += 8) {
                        const v8 wv = *(const v8u *)(wp + ci);
                        const long nl = cin - ci;
                        a0 = VFMA(F(load_n)(x0 + ci, nl), wv, a0);
                        a1 = VFMA(F(load_n)(x1 + ci, nl), wv, a1);
                        a2 = VFMA(F(load_n)(x2 + ci, nl), wv, a2);
                        a3 = VFMA(F(load_n)(x3 + ci, nl), wv, a3);
                        a4 = VFMA(F(load_n)(x4 + ci, nl), wv, a4);
                        a5 = VFMA(F(load_n)(x5 + ci, nl), wv, a5);
                    }
                }
            }
            /* Fixed-order horizontal sums. */
            const v8 acc[6] = {a0, a1, a2, a3, a4, a5};
            for (int r = 0; r < 6; r++)
                out[r][co] = ((acc[r][0] + acc[r][4]) + (acc[r][2] + acc[r][6]))
                             + ((acc[r][1] + acc[r][5]) + (acc[r][3] + acc[r][7]));
        }
        for (long r = 0; r < np; r++) F(epilogue)(c, p + r, pb[r], 0, F(load_n)(out[r], cout));
    }
}

/* ---- Winograd F(4×4, 3×3), stride 1, padding 1 ---- */

/* B^T d for the 6-point transform (points 0, ±1, ±2, ∞). */
TARGET static inline void F(bt6)(const v8 *d, v8 *r) {
    const v8 four = F(splat)(4.0f), five = F(splat)(5.0f), two = F(splat)(2.0f);
    const v8 t1 = d[4] - four * d[2], t2 = d[3] - four * d[1];
    const v8 t3 = d[4] - d[2], t4 = two * (d[3] - d[1]);
    r[0] = VFMA(four, d[0], d[4] - five * d[2]);
    r[1] = t1 + t2;
    r[2] = t1 - t2;
    r[3] = t3 + t4;
    r[4] = t3 - t4;
    r[5] = VFMA(four, d[1], d[5] - five * d[3]);
}

/* A^T m: 6 → 4. */
TARGET static inline void F(at6)(const v8 *m, v8 *o) {
    const v8 a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
    o[0] = m[0] + a + c;
    o[1] = VFMA(F(splat)(2.0f), d, b);
    o[2] = VFMA(F(splat)(4.0f), c, a);
    o[3] = VFMA(F(splat)(8.0f), d, b) + m[5];
}

/* Input transform of one tile (top-left input corner iy0, ix0) into V[pt·vs + ch]. */
TARGET static void F(wino_in)(const dode_conv_t *c, const float *xb, long iy0, long ix0, float *V, long vs) {
    const long cin = c->cin, H = c->H, W = c->W, ldx = c->ldx, u = c->up, Ws = W >> u;
    const int inside = iy0 >= 0 && ix0 >= 0 && iy0 + 6 <= H && ix0 + 6 <= W;
    for (long ch = 0; ch < cin; ch += 8) {
        const long nl = cin - ch;
        v8 d[6][6], e[6][6];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) {
                const long iy = iy0 + i, ix = ix0 + j;
                if (inside || (iy >= 0 && iy < H && ix >= 0 && ix < W))
                    d[i][j] = F(load_n)(xb + ((iy >> u) * Ws + (ix >> u)) * ldx + ch, nl);
                else d[i][j] = F(splat)(0.0f);
            }
        for (int j = 0; j < 6; j++) {
            v8 col[6], out[6];
            for (int i = 0; i < 6; i++) col[i] = d[i][j];
            F(bt6)(col, out);
            for (int i = 0; i < 6; i++) e[i][j] = out[i];
        }
        for (int i = 0; i < 6; i++) {
            v8 out[6];
            F(bt6)(e[i], out);
            for (int j = 0; j < 6; j++) *(v8u *)(V + (i * 6 + j) * vs + ch) = out[j];
        }
    }
}

/* Output transform of one tile's 8 channels co..co+7 (m[pt] at M + pt·ms) and the epilogue. */
TARGET static void F(wino_out)(const dode_conv_t *c, const float *M, long ms, long b, long oy0, long ox0, long co) {
    if (co >= c->cout) return;
    v8 e[4][6];
    for (int j = 0; j < 6; j++) {
        v8 col[6], out[4];
        for (int i = 0; i < 6; i++) col[i] = *(const v8u *)(M + (i * 6 + j) * ms);
        F(at6)(col, out);
        for (int i = 0; i < 4; i++) e[i][j] = out[i];
    }
    const v8 add = F(epi_add)(c, b, co);
    const int full = oy0 + 4 <= c->Ho && ox0 + 4 <= c->Wo;
    for (int i = 0; i < 4; i++) {
        const long oy = oy0 + i;
        if (oy >= c->Ho) break;
        v8 out[4];
        F(at6)(e[i], out);
        const long q0 = (b * c->Ho + oy) * c->Wo + ox0;
        if (full && co + 8 <= c->cout) {
            float *y = c->y + q0 * c->ldy + co;
            if (!c->res) {
                for (int j = 0; j < 4; j++) *(v8u *)(y + j * c->ldy) = out[j] + add;
            } else {
                const float *rp = c->res + q0 * c->ldr + co;
                for (int j = 0; j < 4; j++) {
                    v8 v = *(const v8u *)(rp + j * c->ldr) + (out[j] + add);
                    if (c->oscale != 1.0f) v = v / F(splat)(c->oscale);
                    *(v8u *)(y + j * c->ldy) = v;
                }
            }
            continue;
        }
        for (int j = 0; j < 4; j++) {
            if (ox0 + j >= c->Wo) break;
            F(epi_store)(c, q0 + j, co, out[j] + add);
        }
    }
}

/* Tile t (of `per` = th·tw per image, `tw` per tile row): its image *b, tile row *y and column
   *x, and its input transform into V (row stride vs). */
TARGET static inline void F(wino_tile)(const dode_conv_t *c, long t, long per, long tw, long *b, long *y, long *x,
                                       float *V, long vs) {
    *b = t / per;
    const long rem = t - *b * per;
    *y = rem / tw;
    *x = rem - *y * tw;
    F(wino_in)(c, c->x + *b * (c->H >> c->up) * (c->W >> c->up) * c->ldx, *y * 4 - 1, *x * 4 - 1, V, vs);
}

/* Micro-blocks [m0, m1) of 6 tiles (4×4 outputs each) over the n images, taken in groups of
   G micro-blocks so that each transformed filter panel U[pt] is read once per group (from L1)
   rather than once per micro-block. Scratch: cin zeros, V [36][6G][cinp], M [36][6G][16]. */
TARGET static void F(conv_wino)(const dode_conv_t *cp, long m0, long m1) {
    /* A local copy: the compiler then knows that stores to the output leave the fields alone. */
    const dode_conv_t cl = *cp, *c = &cl;
    const long cinp = (c->cin + 7) & ~7L, ncb = (c->cout + 15) / 16, G = wino_group(c->cin);
    const long th = (c->Ho + 3) / 4, tw = (c->Wo + 3) / 4, per = th * tw, T = c->n * per;
    const long R = 6 * G;                    /* tile rows of a group */
    float *V = c->scratch + cinp, *M = V + 36 * R * cinp;
    const long vs = R * cinp;
    long tb[6 * WINO_GMAX], ty[6 * WINO_GMAX], tx[6 * WINO_GMAX];
    const long parts = c->parts > 1 ? c->parts : 1;
    if (parts > 1) {
        /* Items (micro-block, part of the output channels); a micro-block's transformed tiles
           are reused by the consecutive items of the same block. */
        long last = -1;
        for (long i = m0; i < m1; i++) {
            const long mb = i / parts, part = i % parts, t0 = mb * 6;
            if (t0 >= T) break;
            const long nt = T - t0 < 6 ? T - t0 : 6;
            if (mb != last) {
                for (long r = 0; r < 6; r++)
                    F(wino_tile)(c, t0 + (r < nt ? r : nt - 1), per, tw, tb + r, ty + r, tx + r, V + r * cinp, vs);
                last = mb;
            }
            for (long cb = part * ncb / parts; cb < (part + 1) * ncb / parts; cb++) {
                const float *U = c->w + cb * cinp * 16;
                for (long pt = 0; pt < 36; pt++) {
                    v8 acc[12];
                    for (int k = 0; k < 12; k++) acc[k] = F(splat)(0.0f);
                    const float *a[6];
                    for (int r = 0; r < 6; r++) a[r] = V + pt * vs + r * cinp;
                    F(mk)(cinp, a, U + pt * ncb * cinp * 16, acc);
                    float *m = M + pt * R * 16;
                    for (int r = 0; r < 6; r++) {
                        *(v8u *)(m + r * 16) = acc[2 * r];
                        *(v8u *)(m + r * 16 + 8) = acc[2 * r + 1];
                    }
                }
                for (long r = 0; r < nt; r++) {
                    F(wino_out)(c, M + r * 16, R * 16, tb[r], ty[r] * 4, tx[r] * 4, cb * 16);
                    F(wino_out)(c, M + r * 16 + 8, R * 16, tb[r], ty[r] * 4, tx[r] * 4, cb * 16 + 8);
                }
            }
        }
        return;
    }
    for (long g0 = m0; g0 < m1; g0 += G) {
        const long t0 = g0 * 6;
        if (t0 >= T) break;
        const long gm = m1 - g0 < G ? m1 - g0 : G;        /* micro-blocks in this group */
        long nt = T - t0 < 6 * gm ? T - t0 : 6 * gm;      /* valid tiles */
        const long rows = (nt + 5) / 6 * 6;
        for (long r = 0; r < rows; r++)
            F(wino_tile)(c, t0 + (r < nt ? r : nt - 1), per, tw, tb + r, ty + r, tx + r, V + r * cinp, vs);
        for (long cb = 0; cb < ncb; cb++) {
            const float *U = c->w + cb * cinp * 16;
            for (long pt = 0; pt < 36; pt++) {
                const float *u = U + pt * ncb * cinp * 16;
                for (long r0 = 0; r0 < rows; r0 += 6) {
                    v8 acc[12];
                    for (int i = 0; i < 12; i++) acc[i] = F(splat)(0.0f);
                    const float *a[6];
                    for (int r = 0; r < 6; r++) a[r] = V + pt * vs + (r0 + r) * cinp;
                    F(mk)(cinp, a, u, acc);
                    float *m = M + (pt * R + r0) * 16;
                    for (int r = 0; r < 6; r++) {
                        *(v8u *)(m + r * 16) = acc[2 * r];
                        *(v8u *)(m + r * 16 + 8) = acc[2 * r + 1];
                    }
                }
            }
            for (long r = 0; r < nt; r++) {
                F(wino_out)(c, M + r * 16, R * 16, tb[r], ty[r] * 4, tx[r] * 4, cb * 16);
                F(wino_out)(c, M + r * 16 + 8, R * 16, tb[r], ty[r] * 4, tx[r] * 4, cb * 16 + 8);
            }
        }
    }
}

/* ---- GroupNorm (+ scale-shift, activation) of one image [HW][C] ----
   Per-channel sums of (x − shift) and its square over the pixels in Float64 (shift = the
   group's first value, against cancellation), taken in stripes of 16 channels so that the
   accumulators stay in registers; then per group, in channel order. */

TARGET static inline void F(sums16)(const float *x, long ld, long HW, long nl, const double *shift, double *s1,
                                    double *s2) {
    const v4d z = {0, 0, 0, 0};
    v4d a0 = z, a1 = z, a2 = z, a3 = z, q0 = z, q1 = z, q2 = z, q3 = z;
    const v4d h0 = *(const v4du *)shift, h1 = *(const v4du *)(shift + 4), h2 = *(const v4du *)(shift + 8),
              h3 = *(const v4du *)(shift + 12);
    for (long p = 0; p < HW; p++) {
        const v8 u = F(load_n)(x + p * ld, nl), w = F(load_n)(x + p * ld + 8, nl - 8);
        const v4d d0 = __builtin_convertvector(__builtin_shufflevector(u, u, 0, 1, 2, 3), v4d) - h0;
        const v4d d1 = __builtin_convertvector(__builtin_shufflevector(u, u, 4, 5, 6, 7), v4d) - h1;
        const v4d d2 = __builtin_convertvector(__builtin_shufflevector(w, w, 0, 1, 2, 3), v4d) - h2;
        const v4d d3 = __builtin_convertvector(__builtin_shufflevector(w, w, 4, 5, 6, 7), v4d) - h3;
        a0 += d0; a1 += d1; a2 += d2; a3 += d3;
        q0 = VFMAD(d0, d0, q0); q1 = VFMAD(d1, d1, q1); q2 = VFMAD(d2, d2, q2); q3 = VFMAD(d3, d3, q3);
    }
    *(v4du *)s1 = a0; *(v4du *)(s1 + 4) = a1; *(v4du *)(s1 + 8) = a2; *(v4du *)(s1 + 12) = a3;
    *(v4du *)s2 = q0; *(v4du *)(s2 + 4) = q1; *(v4du *)(s2 + 8) = q2; *(v4du *)(s2 + 12) = q3;
}

TARGET static void F(group_norm)(const float *x, long ldx, long c1, const float *x2, long ldx2, float *y, long ldy,
                                 long HW, long C, long G, float eps, const float *gamma, const float *beta,
                                 const float *scale, const float *shift, int act, double *work) {
    const long cg = C / G, Cq = ((C + 15) & ~15L) + 16;
    double *s1 = work, *s2 = work + Cq, *sh = work + 2 * Cq;
    float *af = (float *)(work + 3 * Cq), *bf = af + Cq;
    for (long c = 0; c < Cq; c++) {
        const long f = (c / cg) * cg;   /* the group's first channel */
        sh[c] = c >= C ? 0 : f < c1 ? x[f] : x2[f - c1];
    }
    /* Stripes of 16 over each source (a stripe's lanes past its source are overwritten by the
       next source's stripes or lie past C). */
    for (long c = 0; c < c1; c += 16) F(sums16)(x + c, ldx, HW, c1 - c, sh + c, s1 + c, s2 + c);
    for (long c = c1; c < C; c += 16) F(sums16)(x2 + (c - c1), ldx2, HW, C - c, sh + c, s1 + c, s2 + c);
    const double count = (double)(cg * HW);
    for (long g = 0; g < G; g++) {
        double t1 = 0, t2 = 0;
        for (long c = g * cg; c < (g + 1) * cg; c++) { t1 += s1[c]; t2 += s2[c]; }
        const double dm = t1 / count, mean = sh[g * cg] + dm;
        double var = t2 / count - dm * dm;
        if (var < 0) var = 0;
        const double inv = 1.0 / sqrt(var + (double)eps);
        for (long c = g * cg; c < (g + 1) * cg; c++) {
            double a = (gamma ? gamma[c] : 1.0) * inv;
            double off = (beta ? beta[c] : 0.0) - mean * a;
            if (scale) {
                const double s = 1.0 + scale[c];
                a *= s;
                off = off * s + shift[c];
            }
            af[c] = (float)a;
            bf[c] = (float)off;
        }
    }
    for (long c = C; c < Cq; c++) { af[c] = 0; bf[c] = 0; }
    const v8 zero = F(splat)(0.0f);
    /* Stripes of 8 channels over x (0..c1−1), then over x2 (c1..C−1). */
    for (long c = 0, second = 0; c < C; c += 8) {
        if (!second && c >= c1) { second = 1; c = c1; }
        const long nl = (second ? C : c1) - c;
        const float *src = second ? x2 + (c - c1) : x + c;   /* channel c of each pixel */
        const long lds = second ? ldx2 : ldx;
        const v8 av = *(const v8u *)(af + c), bv = *(const v8u *)(bf + c);
        long p = 0;
        if (nl >= 8 && act == DODE_ACT_SILU) {
            /* Four pixels per step: four independent exponential chains in flight. */
            for (; p + 4 <= HW; p += 4) {
                const float *xp = src + p * lds;
                float *yp = y + p * ldy + c;
                const v8 v0 = VFMA(*(const v8u *)xp, av, bv), v1 = VFMA(*(const v8u *)(xp + lds), av, bv);
                const v8 v2 = VFMA(*(const v8u *)(xp + 2 * lds), av, bv),
                         v3 = VFMA(*(const v8u *)(xp + 3 * lds), av, bv);
                *(v8u *)yp = F(silu)(v0);
                *(v8u *)(yp + ldy) = F(silu)(v1);
                *(v8u *)(yp + 2 * ldy) = F(silu)(v2);
                *(v8u *)(yp + 3 * ldy) = F(silu)(v3);
            }
        }
        for (; p < HW; p++) {
            v8 v = VFMA(F(load_n)(src + p * lds, nl), av, bv);
            if (act == DODE_ACT_SILU) v = F(silu)(v);
            else if (act == DODE_ACT_RELU) v = F(vmax)(v, zero);
            F(store_n)(y + p * ldy + c, v, nl);
        }
    }
    if (act != DODE_ACT_NONE && act != DODE_ACT_SILU && act != DODE_ACT_RELU)
        for (long p = 0; p < HW; p++) dode_act_f32(y + p * ldy, y + p * ldy, C, act);
}

/* ---- attention of one image and head, query rows [r0, r1) ----
   q, k, v: rows of L positions with stride ld (the head's dh values at q[i·ld + 0..dh−1]);
   o: output rows with stride ldo. Scratch: K packed [⌈L/16⌉][dh][16], V packed [⌈dh/16⌉][L][16],
   S [6][⌈L/16⌉·16]. S = scale·q·kᵀ, softmax per row (sums in Float32 over runs of 64 weights,
   in Float64 across runs), o = S·v. */
TARGET static void F(attention)(const float *q, const float *k, const float *v, long ld, long L, long dh, float scale,
                                float *o, long ldo, long r0, long r1, float *scratch) {
    const long nj = (L + 15) / 16, Lp = nj * 16, nd = (dh + 15) / 16;
    float *KP = scratch, *VP = KP + nj * dh * 16, *S = VP + nd * L * 16;
    for (long j = 0; j < nj * 16; j++) {
        float *dst = KP + (j / 16) * dh * 16 + j % 16;
        if (j < L) { const float *src = k + j * ld; for (long d = 0; d < dh; d++) dst[d * 16] = src[d]; }
        else for (long d = 0; d < dh; d++) dst[d * 16] = 0.0f;
    }
    /* v's rows serve directly as panels of 16 when dh is a multiple of 16; otherwise they are
       copied into zero-padded panels. */
    const int vdirect = dh % 16 == 0;
    if (!vdirect)
        for (long db = 0; db < nd; db++)
            for (long j = 0; j < L; j++)
                for (long dd = 0; dd < 16; dd++) {
                    const long d = db * 16 + dd;
                    VP[(db * L + j) * 16 + dd] = d < dh ? v[j * ld + d] : 0.0f;
                }
    /* Scores in log2 units (scale·log2 e folded into the one multiplication), so that the
       exponential is 2^x. */
    const v8 sc = F(splat)(scale * 1.44269504088896341f);
    for (long i0 = r0; i0 < r1; i0 += 6) {
        const long ni = r1 - i0 < 6 ? r1 - i0 : 6;
        const float *a[6];
        for (int r = 0; r < 6; r++) a[r] = q + (i0 + (r < ni ? r : ni - 1)) * ld;
        /* Scores and their row maxima (over the L real columns; a NaN reaches every output
           through its exponential anyway). */
        v8 m8[6];
        float mtail[6];
        for (int r = 0; r < 6; r++) { m8[r] = F(splat)(-INFINITY); mtail[r] = -INFINITY; }
        for (long jb = 0; jb < nj; jb++) {
            v8 acc[12];
            for (int i = 0; i < 12; i++) acc[i] = F(splat)(0.0f);
            F(mk)(dh, a, KP + jb * dh * 16, acc);
            const long valid = L - jb * 16;
            for (int r = 0; r < 6; r++) {
                const v8 s0 = acc[2 * r] * sc, s1 = acc[2 * r + 1] * sc;
                *(v8u *)(S + r * Lp + jb * 16) = s0;
                *(v8u *)(S + r * Lp + jb * 16 + 8) = s1;
                if (valid >= 16) m8[r] = F(vmax)(m8[r], F(vmax)(s0, s1));
                else for (long t = 0; t < valid; t++) mtail[r] = fmaxf(mtail[r], S[r * Lp + jb * 16 + t]);
            }
        }
        double inv[6];
        for (int r = 0; r < 6; r++) {
            float *s = S + r * Lp;
            float mx = mtail[r];
            for (int t = 0; t < 8; t++) mx = m8[r][t] > mx ? m8[r][t] : mx;
            const v8 mv = F(splat)(mx);
            /* Sums: Float32 over runs of 64 weights (each ≤ 1), the runs added in Float64. */
            double sum = 0;
            long j = 0;
            for (; j + 64 <= L; j += 64) {
                v8 acc0 = F(splat)(0.0f), acc1 = acc0;
                for (long jj = j; jj < j + 64; jj += 16) {   /* two independent chains per step */
                    const v8 e0 = F(vexp2neg)(*(v8u *)(s + jj) - mv), e1 = F(vexp2neg)(*(v8u *)(s + jj + 8) - mv);
                    *(v8u *)(s + jj) = e0;
                    *(v8u *)(s + jj + 8) = e1;
                    acc0 += e0;
                    acc1 += e1;
                }
                const v8 a = acc0 + acc1;
                sum += (double)(((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7])));
            }
            for (; j + 8 <= L; j += 8) {
                const v8 e = F(vexp2neg)(*(v8u *)(s + j) - mv);
                *(v8u *)(s + j) = e;
                sum += (double)(((e[0] + e[4]) + (e[2] + e[6])) + ((e[1] + e[5]) + (e[3] + e[7])));
            }
            for (; j < L; j++) { s[j] = exp2f(s[j] - mx); sum += (double)s[j]; }
            inv[r] = 1.0 / sum;
        }
        /* o = (e·v) / Σe: the normalisation is applied to the dh outputs, not the L weights. */
        for (int r = 0; r < 6; r++) a[r] = S + r * Lp;
        for (long db = 0; db < nd; db++) {
            v8 acc[12];
            for (int i = 0; i < 12; i++) acc[i] = F(splat)(0.0f);
            if (vdirect) F(mkld)(L, a, v + db * 16, ld, acc);
            else F(mk)(L, a, VP + db * L * 16, acc);
            for (long r = 0; r < ni; r++) {
                const v8 f = F(splat)((float)inv[r]);
                float *op = o + (i0 + r) * ldo + db * 16;
                const long n0 = dh - db * 16;
                F(store_n)(op, acc[2 * r] * f, n0);
                if (n0 > 8) F(store_n)(op + 8, acc[2 * r + 1] * f, n0 - 8);
            }
        }
    }
}

/* ---- rows of a linear layer: y[r][o] = bias[o] + Σ_i x[r][i]·wt[i][o] (wt = Wᵀ, [fin][foutp]) ---- */

TARGET static void F(linear_rows)(const float *x, long rows, long fin, const float *wt, long foutp, const float *bias,
                                  long fout, float *y) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * fin;
        for (long o = 0; o < fout; o += 8) {
            v8 acc = F(splat)(0.0f);
            for (long i = 0; i < fin; i++) acc = VFMA(F(splat)(xr[i]), *(const v8u *)(wt + i * foutp + o), acc);
            if (bias) acc = acc + F(load_n)(bias + o, fout - o);
            F(store_n)(y + r * fout + o, acc, fout - o);
        }
    }
}

#undef F
