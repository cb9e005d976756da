/* ---- >>kernels_neon: AArch64 NEON versions of the scalar kernels ----
   Same contracts and the same two matmul shapes as 22_kernels_avx2.c, with 4-lane vectors:
   - decode: 4 rows share each load of x, 2 accumulators per row (8 FMA chains);
   - prefill: a 16-row panel widened and transposed once into P[KC][16], then a 4-token x
     16-row tile of y in 16 registers (of 32) while k runs: per k, 4 loads of P, and per
     token one broadcast of x and 4 FMAs.
   f16 widens with vcvt_f32_f16 (every AArch64 CPU has it); bf16 by a 16-bit shift. Every
   output is summed in plain k order whatever its tile: thread splits do not change bits. */
#include "10_internal.h"

#ifdef LLM__NEON
static inline float32x4_t llm__load4_f32(const float *p) { return vld1q_f32(p); }
static inline float32x4_t llm__load4_f16(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
static inline float32x4_t llm__load4_bf16(const uint16_t *p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }

static float llm__dot_f32_neon(const float *a, const float *b, int64_t n) {
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = acc0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
        acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    if (i + 4 <= n) { acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i)); i += 4; }
    float s = vaddvq_f32(vaddq_f32(acc0, acc1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- decode: nr <= 4 rows of W against one x; the same sum order for any nr ----
   As on AVX2, the 4 rows come from the four quarters of the range: four sequential streams
   far apart keep four misses in flight. */
#define LLM__MATVEC_NEON(NAME, WT, LOAD, SCALAR)                                                       \
    static LLM__INLINE void NAME##_rows(float *y, int64_t ystep, const float *x, const WT *w, int64_t step, int64_t k, \
                                        int nr) {                                                      \
        float32x4_t acc[4][2];                                                                         \
        for (int r = 0; r < nr; r++) acc[r][0] = acc[r][1] = vdupq_n_f32(0);                           \
        int64_t i = 0;                                                                                 \
        for (; i + 8 <= k; i += 8) {                                                                   \
            float32x4_t x0 = vld1q_f32(x + i), x1 = vld1q_f32(x + i + 4);                              \
            for (int r = 0; r < nr; r++) {                                                             \
                acc[r][0] = vfmaq_f32(acc[r][0], x0, LOAD(w + r * step + i));                          \
                acc[r][1] = vfmaq_f32(acc[r][1], x1, LOAD(w + r * step + i + 4));                      \
            }                                                                                          \
        }                                                                                              \
        for (; i + 4 <= k; i += 4)                                                                     \
            for (int r = 0; r < nr; r++) acc[r][0] = vfmaq_f32(acc[r][0], vld1q_f32(x + i), LOAD(w + r * step + i)); \
        for (int r = 0; r < nr; r++) {                                                                 \
            float s = vaddvq_f32(vaddq_f32(acc[r][0], acc[r][1]));                                     \
            for (int64_t j = i; j < k; j++) s += x[j] * SCALAR(w[r * step + j]);                       \
            y[r * ystep] = s;                                                                          \
        }                                                                                              \
    }                                                                                                  \
    static void NAME(float *y, const float *x, const WT *w, int64_t k, int64_t r0, int64_t r1) {       \
        int64_t q = (r1 - r0) / 4, r;                                                                  \
        for (r = r0; r < r0 + q; r++) NAME##_rows(y + r, q, x, w + r * k, q * k, k, 4);                \
        for (r = r0 + 4 * q; r < r1; r++) NAME##_rows(y + r, 0, x, w + r * k, 0, k, 1);                \
    }
static inline float llm__id_f32_neon(float v) { return v; }
LLM__MATVEC_NEON(llm__matvec_f32_neon, float, llm__load4_f32, llm__id_f32_neon)
LLM__MATVEC_NEON(llm__matvec_f16_neon, uint16_t, llm__load4_f16, llm__f16_to_f32)
LLM__MATVEC_NEON(llm__matvec_bf16_neon, uint16_t, llm__load4_bf16, llm__bf16_to_f32)
#undef LLM__MATVEC_NEON

/* ---- prefill ---- */
#define LLM__NMR 16    /* weight rows per panel: four 4-lane vectors */
#define LLM__NNR 4     /* tokens per register tile: 4 x 4 accumulators */
#define LLM__NKC 256   /* columns per packed panel: 16 KB */

/* P[p*16 + j] = W[j][p] as f32 for j < nr (W: row stride k), p < kc; rows >= nr are 0.
   Each 4x4 block is transposed by trn1/trn2 on 32-bit, then on 64-bit lanes. */
#define LLM__PACK_NEON(NAME, WT, LOAD, SCALAR)                                                         \
    static void NAME(float *P, const WT *w, int64_t k, int nr, int64_t kc) {                          \
        int64_t p = 0;                                                                                 \
        for (; p + 4 <= kc; p += 4)                                                                    \
            for (int h = 0; h < 4; h++) {                                                              \
                float32x4_t r[4];                                                                      \
                for (int j = 0; j < 4; j++) r[j] = h * 4 + j < nr ? LOAD(w + (h * 4 + j) * k + p) : vdupq_n_f32(0); \
                float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);                  \
                float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);                  \
                float64x2_t u0 = vreinterpretq_f64_f32(t0), u1 = vreinterpretq_f64_f32(t1);            \
                float64x2_t u2 = vreinterpretq_f64_f32(t2), u3 = vreinterpretq_f64_f32(t3);            \
                vst1q_f32(P + (p + 0) * LLM__NMR + h * 4, vreinterpretq_f32_f64(vtrn1q_f64(u0, u2)));  \
                vst1q_f32(P + (p + 1) * LLM__NMR + h * 4, vreinterpretq_f32_f64(vtrn1q_f64(u1, u3)));  \
                vst1q_f32(P + (p + 2) * LLM__NMR + h * 4, vreinterpretq_f32_f64(vtrn2q_f64(u0, u2)));  \
                vst1q_f32(P + (p + 3) * LLM__NMR + h * 4, vreinterpretq_f32_f64(vtrn2q_f64(u1, u3)));  \
            }                                                                                          \
        for (; p < kc; p++)                                                                            \
            for (int j = 0; j < LLM__NMR; j++) P[p * LLM__NMR + j] = j < nr ? SCALAR(w[j * k + p]) : 0.0f; \
    }
LLM__PACK_NEON(llm__pack_f32_neon, float, llm__load4_f32, llm__id_f32_neon)
LLM__PACK_NEON(llm__pack_f16_neon, uint16_t, llm__load4_f16, llm__f16_to_f32)
LLM__PACK_NEON(llm__pack_bf16_neon, uint16_t, llm__load4_bf16, llm__bf16_to_f32)
#undef LLM__PACK_NEON

/* y[t][0..nr) (+)= sum_p P[p][0..nr) * x[t][p] for nt <= 4 tokens; add: continue y's sums.
   32 registers: the 16 accumulators stay in registers as an array once nt is a constant. */
static LLM__INLINE void llm__tile_neon(const float *P, int64_t kc, const float *x, int64_t ldx, float *y, int64_t ldy,
                                       int nt, int nr, bool add) {
    float32x4_t c[LLM__NNR][4];
    float tmp[LLM__NMR];
    for (int t = 0; t < nt; t++) {
        const float *src = y + t * ldy;
        if (add && nr < LLM__NMR) { memset(tmp, 0, sizeof tmp); memcpy(tmp, src, (size_t)nr * sizeof(float)); src = tmp; }
        for (int v = 0; v < 4; v++) c[t][v] = add ? vld1q_f32(src + 4 * v) : vdupq_n_f32(0);
    }
    for (int64_t p = 0; p < kc; p++) {
        float32x4_t w0 = vld1q_f32(P + p * LLM__NMR), w1 = vld1q_f32(P + p * LLM__NMR + 4);
        float32x4_t w2 = vld1q_f32(P + p * LLM__NMR + 8), w3 = vld1q_f32(P + p * LLM__NMR + 12);
        for (int t = 0; t < nt; t++) {
            float32x4_t b = vdupq_n_f32(x[t * ldx + p]);
            c[t][0] = vfmaq_f32(c[t][0], w0, b);
            c[t][1] = vfmaq_f32(c[t][1], w1, b);
            c[t][2] = vfmaq_f32(c[t][2], w2, b);
            c[t][3] = vfmaq_f32(c[t][3], w3, b);
        }
    }
    for (int t = 0; t < nt; t++) {
        float *dst = nr < LLM__NMR ? tmp : y + t * ldy;
        for (int v = 0; v < 4; v++) vst1q_f32(dst + 4 * v, c[t][v]);
        if (nr < LLM__NMR) memcpy(y + t * ldy, tmp, (size_t)nr * sizeof(float));
    }
}

static void llm__tile_any_neon(const float *P, int64_t kc, const float *x, int64_t ldx, float *y, int64_t ldy, int nt,
                               int nr, bool add) {
    switch (nt) {
    case 4: llm__tile_neon(P, kc, x, ldx, y, ldy, 4, nr, add); break;
    case 3: llm__tile_neon(P, kc, x, ldx, y, ldy, 3, nr, add); break;
    case 2: llm__tile_neon(P, kc, x, ldx, y, ldy, 2, nr, add); break;
    default: llm__tile_neon(P, kc, x, ldx, y, ldy, 1, nr, add); break;
    }
}

#define LLM__MATMUL_NEON(NAME, WT, MATVEC, PACK)                                                       \
    static void NAME(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {                  \
        (void)scratch;                                                                                 \
        const WT *w = (const WT *)a->w;                                                                \
        int64_t k = a->k;                                                                              \
        if (a->n_tok == 1) { MATVEC(a->y, a->x, w, k, r0, r1); return; }                               \
        _Alignas(64) float P[LLM__NKC * LLM__NMR];                                                     \
        for (int64_t k0 = 0; k0 < k; k0 += LLM__NKC) {                                                 \
            int64_t kc = LLM__MIN(LLM__NKC, k - k0);                                                   \
            for (int64_t r = r0; r < r1; r += LLM__NMR) {                                              \
                int nr = (int)LLM__MIN(LLM__NMR, r1 - r);                                              \
                PACK(P, w + r * k + k0, k, nr, kc);                                                    \
                for (int64_t t = 0; t < a->n_tok; t += LLM__NNR)                                       \
                    llm__tile_any_neon(P, kc, a->x + t * k + k0, k, a->y + t * a->ldy + r, a->ldy,     \
                                       (int)LLM__MIN(LLM__NNR, a->n_tok - t), nr, k0 > 0);             \
            }                                                                                          \
        }                                                                                              \
    }
LLM__MATMUL_NEON(llm__matmul_f32_neon, float, llm__matvec_f32_neon, llm__pack_f32_neon)
LLM__MATMUL_NEON(llm__matmul_f16_neon, uint16_t, llm__matvec_f16_neon, llm__pack_f16_neon)
LLM__MATMUL_NEON(llm__matmul_bf16_neon, uint16_t, llm__matvec_bf16_neon, llm__pack_bf16_neon)
#undef LLM__MATMUL_NEON

static void llm__axpy_f32_neon(float *y, float alpha, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), alpha));
    for (; i < n; i++) y[i] += alpha * x[i];
}

static void llm__dots_f32_neon(float *S, int64_t lds, const float *const *q, int nq, const float *K, int64_t k, int64_t n) {
    for (int g = 0; g < nq; g++) llm__matvec_f32_neon(S + g * lds, q[g], K, k, 0, n);
}

/* out[g] += sum_j A[g][j] V[j]: 16 outputs of one query at a time stay in 4 registers while j runs. */
static void llm__axpys_f32_neon(float *const *out, int nq, const float *A, int64_t lda, const float *V, int64_t n, int64_t d) {
    for (int g = 0; g < nq; g++) {
        float *y = out[g];
        const float *a = A + g * lda;
        int64_t i = 0;
        for (; i + 16 <= d; i += 16) {
            float32x4_t y0 = vld1q_f32(y + i), y1 = vld1q_f32(y + i + 4), y2 = vld1q_f32(y + i + 8), y3 = vld1q_f32(y + i + 12);
            for (int64_t j = 0; j < n; j++) {
                const float *vj = V + j * d + i;
                y0 = vfmaq_n_f32(y0, vld1q_f32(vj), a[j]);
                y1 = vfmaq_n_f32(y1, vld1q_f32(vj + 4), a[j]);
                y2 = vfmaq_n_f32(y2, vld1q_f32(vj + 8), a[j]);
                y3 = vfmaq_n_f32(y3, vld1q_f32(vj + 12), a[j]);
            }
            vst1q_f32(y + i, y0); vst1q_f32(y + i + 4, y1); vst1q_f32(y + i + 8, y2); vst1q_f32(y + i + 12, y3);
        }
        for (int64_t j = 0; i < d && j < n; j++) llm__axpy_f32_neon(y + i, a[j], V + j * d + i, d - i);
    }
}

static void llm__scale_f32_neon(float *y, float s, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(y + i), s));
    for (; i < n; i++) y[i] *= s;
}

/* exp(x) for 4 lanes: the same range reduction and polynomial as llm__exp8_avx2. */
static float32x4_t llm__exp4_neon(float32x4_t x) {
    uint32x4_t tiny = vcltq_f32(x, vdupq_n_f32(-87.33654f));
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.33654f)), vdupq_n_f32(88.37f));
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    float32x4_t v = vmulq_f32(p, vreinterpretq_f32_s32(e));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), tiny));
}

static float llm__exp_sum_f32_neon(float *x, int64_t n, float m) {
    float32x4_t acc = vdupq_n_f32(0), vm = vdupq_n_f32(m);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t e = llm__exp4_neon(vsubq_f32(vld1q_f32(x + i), vm));
        vst1q_f32(x + i, e);
        acc = vaddq_f32(acc, e);
    }
    float sum = vaddvq_f32(acc);
    for (; i < n; i++) sum += x[i] = expf(x[i] - m);
    return sum;
}

/* SiLU and tanh-GELU as in llm__act_mul_avx2; the others fall back to the scalar loop. */
static void llm__act_mul_neon(llm__act act, float *y, const float *gate, int64_t n) {
    if (act != LLM__ACT_SILU && act != LLM__ACT_GELU_TANH) { llm__act_mul_scalar(act, y, gate, n); return; }
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t g = vld1q_f32(gate ? gate + i : y + i);
        float32x4_t z = act == LLM__ACT_SILU ? vnegq_f32(g)
                        : vmulq_n_f32(vfmaq_f32(g, vmulq_n_f32(g, 0.044715f), vmulq_f32(g, g)), -2.0f * 0.79788456080286536f);
        float32x4_t a = vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), llm__exp4_neon(z)));
        vst1q_f32(y + i, gate ? vmulq_f32(vld1q_f32(y + i), a) : a);
    }
    llm__act_mul_scalar(act, y + i, gate ? gate + i : NULL, n - i);
}
/* ---- regrouped block formats (23_kernels_ggml.c): q4_0_r8, q8_0_r8 ----
   A 32-byte chunk holds 4 bytes of each of 8 rows: two 16-byte halves of 4 rows, each
   a 4-lane int32 dot product with the token's 4 bytes (sdot where the CPU has it, else
   widening multiplies and pairwise adds: |w x| <= 128 x 127, a pair fits in int16). The
   codes are made signed first (q4_0: u - 8), so no offset is left to pay. */
static inline int32x4_t llm__dot4_neon(int32x4_t acc, int8x16_t w, int8x16_t x) {
#ifdef __ARM_FEATURE_DOTPROD
    return vdotq_s32(acc, w, x);
#else
    int16x8_t p = vpaddq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(x)), vmull_high_s8(w, x));
    return vpadalq_s16(acc, p);
#endif
}

static inline int8x16_t llm__bcast4_neon(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

/* One group of 8 rows x RN tokens; the same operations per output whatever RN. */
static LLM__INLINE void llm__tile_r8_neon(bool q8, int RN, const uint8_t *g, const llm__q8_act *x, int64_t k, float *y, int64_t ldy) {
    const int n_chunks = q8 ? 8 : 4;
    float32x4_t acc[4][2];
    LLM__UNROLL for (int t = 0; t < RN; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0);
    for (int64_t b = 0; b < k / 32; b++, g += q8 ? 272 : 144) {
        int32x4_t sum[4][2];
        LLM__UNROLL for (int t = 0; t < RN; t++) sum[t][0] = sum[t][1] = vdupq_n_s32(0);
        LLM__UNROLL for (int c = 0; c < n_chunks; c++)
            LLM__UNROLL for (int h = 0; h < 2; h++) {
                uint8x16_t raw = vld1q_u8(g + 16 + 32 * c + 16 * h);
                if (q8) {
                    LLM__UNROLL for (int t = 0; t < RN; t++)
                        sum[t][h] = llm__dot4_neon(sum[t][h], vreinterpretq_s8_u8(raw), llm__bcast4_neon(x[t].q + 32 * b + 4 * c));
                    continue;
                }
                int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(15))), vdupq_n_s8(8));
                int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), vdupq_n_s8(8));
                LLM__UNROLL for (int t = 0; t < RN; t++) {
                    sum[t][h] = llm__dot4_neon(sum[t][h], lo, llm__bcast4_neon(x[t].q + 32 * b + 4 * c));
                    sum[t][h] = llm__dot4_neon(sum[t][h], hi, llm__bcast4_neon(x[t].q + 32 * b + 16 + 4 * c));
                }
            }
        float32x4_t d[2] = { llm__load4_f16((const uint16_t *)g), llm__load4_f16((const uint16_t *)g + 4) };
        LLM__UNROLL for (int t = 0; t < RN; t++)
            LLM__UNROLL for (int h = 0; h < 2; h++)
                acc[t][h] = vfmaq_f32(acc[t][h], vcvtq_f32_s32(sum[t][h]), vmulq_n_f32(d[h], x[t].d[b]));
    }
    LLM__UNROLL for (int t = 0; t < RN; t++) { vst1q_f32(y + t * ldy, acc[t][0]); vst1q_f32(y + t * ldy + 4, acc[t][1]); }
}

static void llm__r8_tile_neon(llm_dtype dt, int rn, const uint8_t *g, const llm__q8_act *x, int64_t k, float *y, int64_t ldy) {
#define LLM__T4_0(n) llm__tile_r8_neon(false, n, g, x, k, y, ldy)
#define LLM__T8_0(n) llm__tile_r8_neon(true, n, g, x, k, y, ldy)
    if (dt == LLM_DTYPE_Q4_0_R8) { LLM__BY_RN(rn, LLM__T4_0) }
    else { LLM__BY_RN(rn, LLM__T8_0) }
#undef LLM__T4_0
#undef LLM__T8_0
}
static void llm__matmul_q4_0_r8_neon(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { (void)s; llm__matmul_r8(LLM_DTYPE_Q4_0_R8, llm__r8_tile_neon, a, r0, r1); }
static void llm__matmul_q8_0_r8_neon(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { (void)s; llm__matmul_r8(LLM_DTYPE_Q8_0_R8, llm__r8_tile_neon, a, r0, r1); }
#endif
