/* ---- >>kernels_avx512: bf16 prefill on AVX512-BF16 pair dot products ----
   vdpbf16ps multiplies 32 pairs of bf16 and adds each pair into one of 16 f32 sums: twice
   the multiply-adds per instruction of an f32 FMA, and the weights need no widening. Prefill
   with bf16 weights is compute-bound, so there the activations are rounded to bf16 once per
   matmul (llm__bf16_prepare; llama.cpp does the same, and PyTorch and MLX run bf16 models
   in bf16 throughout: ~3 significant digits per activation, sums stay f32). Decoding keeps
   the exact f32 matvec of 22_kernels_avx2.c: it is memory-bound, rounding would buy nothing.

   The GEMM is the AVX2 one with pairs for elements: a panel of 32 weight rows x KC columns
   is packed as P[KC/2][32] dwords (a dword is a row's pair k, k+1 as it lies in memory, so
   packing is a plain 8x8 dword transpose), and a 32-row x 8-token tile of y lives in 16
   zmm registers: per pair, 2 loads of P, 8 broadcasts of x, 16 pair dot products.
   Each output is summed pair by pair in k order whatever the tile or thread it falls in. */
#include "10_internal.h"

#ifdef LLM__AVX512BF16
#define LLM__BMR 32     /* weight rows per panel: two 16-lane vectors */
#define LLM__BNR 8      /* tokens per tile: 8 x 2 accumulators */
#define LLM__BKC 512    /* columns per panel: 256 pairs x 32 rows x 4 bytes = 32 KB */

/* What the kernel gets as a->w (llm__matmul wraps the weights). */
typedef struct llm__bf16_mm {
    const uint16_t *w;        /* [n_rows, k] bf16 weights */
    const uint32_t *x;        /* [n_tok, ldx] the activations as pairs of bf16, zero-padded; NULL: decoding */
    int64_t ldx;
} llm__bf16_mm;

typedef struct {
    const float *x;
    int64_t n_tok, k, ldx;
    uint16_t *out;
} llm__bf16_prep_task;

static void llm__bf16_prep_worker(void *ctx, int ith, int nth) {
    const llm__bf16_prep_task *p = (const llm__bf16_prep_task *)ctx;
    int64_t t0, t1;
    llm__split(p->n_tok, ith, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
        const float *x = p->x + t * p->k;
        uint16_t *o = p->out + t * 2 * p->ldx;
        int64_t i = 0;
        for (; i + 16 <= p->k; i += 16)   /* round to nearest even, as llm__f32_to_bf16 */
            _mm256_storeu_si256((__m256i *)(o + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i)));
        for (; i < p->k; i++) o[i] = llm__f32_to_bf16(x[i]);
        for (; i < 2 * p->ldx; i++) o[i] = 0;
    }
}

/* The kernel's a->w for x [n_tok, k] and bf16 weights w. round: x rounded to bf16 into act
   (n_tok * (2 k + 64) bytes at most), the threads splitting the tokens; else (decoding, or
   llm_set_exact_bf16) the kernel runs the f32 one. */
LLM_PRIVATE llm__bf16_mm llm__bf16_prepare(llm_pool *pool, const float *x, int64_t n_tok, int64_t k, void *act,
                                          const void *w, bool round) {
    llm__bf16_mm m = { (const uint16_t *)w, NULL, (k + 31) / 32 * 16 };   /* rows of whole cache lines */
    if (round) {
        llm__bf16_prep_task p = { x, n_tok, k, m.ldx, (uint16_t *)act };
        llm__parallel_for(pool, llm__bf16_prep_worker, &p);
        m.x = (const uint32_t *)act;
    }
    return m;
}

/* P[q*32 + j] = pair q of row j (W: row stride k bf16) for q < (kc+1)/2, j < nr; rows >= nr,
   and the half pair past an odd kc, are 0. */
static void llm__pack_bf16_pairs(uint32_t *P, const uint16_t *w, int64_t k, int nr, int64_t kc) {
    int64_t q = 0;
    for (; q + 8 <= kc / 2; q += 8)
        for (int h = 0; h < 4; h++) {
            __m256 r[8];   /* float vectors only to reuse llm__transpose8: the bits just move */
            for (int j = 0; j < 8; j++)
                r[j] = h * 8 + j < nr ? _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(w + (h * 8 + j) * k + 2 * q)))
                                      : _mm256_setzero_ps();
            llm__transpose8(r);
            for (int c = 0; c < 8; c++) _mm256_storeu_si256((__m256i *)(P + (q + c) * LLM__BMR + h * 8), _mm256_castps_si256(r[c]));
        }
    for (; q < (kc + 1) / 2; q++)
        for (int j = 0; j < LLM__BMR; j++) {
            uint32_t lo = j < nr ? w[j * k + 2 * q] : 0, hi = j < nr && 2 * q + 1 < kc ? w[j * k + 2 * q + 1] : 0;
            P[q * LLM__BMR + j] = lo | hi << 16;
        }
}

/* y[t][0..nr) (+)= sum over pairs q < np of P[q][0..nr) . x[t][q], t < nt <= 8 (x: ldx
   pairs apart); masks keep a partial panel's stores inside its rows. */
#define LLM__BT_LOAD(j)                                                                                \
    if (nt > j) {                                                                                      \
        c##j##0 = add ? _mm512_maskz_loadu_ps(m0, y + j * ldy) : z;                                    \
        c##j##1 = add ? _mm512_maskz_loadu_ps(m1, y + j * ldy + 16) : z;                               \
    }
#define LLM__BT_DOT(j)                                                                                 \
    if (nt > j) {                                                                                      \
        __m512bh b = (__m512bh)_mm512_set1_epi32((int)x[j * ldx + q]);                                 \
        c##j##0 = _mm512_dpbf16_ps(c##j##0, w0, b);                                                    \
        c##j##1 = _mm512_dpbf16_ps(c##j##1, w1, b);                                                    \
    }
#define LLM__BT_STORE(j)                                                                               \
    if (nt > j) {                                                                                      \
        _mm512_mask_storeu_ps(y + j * ldy, m0, c##j##0);                                               \
        _mm512_mask_storeu_ps(y + j * ldy + 16, m1, c##j##1);                                          \
    }
static LLM__INLINE void llm__tile_bf16_avx512(const uint32_t *P, int64_t np, const uint32_t *x, int64_t ldx, float *y,
                                             int64_t ldy, int nt, int nr, bool add) {
    __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1), m1 = (__mmask16)(nr <= 16 ? 0 : (1u << (nr - 16)) - 1);
    __m512 z = _mm512_setzero_ps(), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z,
           c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
    LLM__BT_LOAD(0) LLM__BT_LOAD(1) LLM__BT_LOAD(2) LLM__BT_LOAD(3) LLM__BT_LOAD(4) LLM__BT_LOAD(5) LLM__BT_LOAD(6) LLM__BT_LOAD(7)
    for (int64_t q = 0; q < np; q++) {
        __m512bh w0 = (__m512bh)_mm512_loadu_si512(P + q * LLM__BMR), w1 = (__m512bh)_mm512_loadu_si512(P + q * LLM__BMR + 16);
        LLM__BT_DOT(0) LLM__BT_DOT(1) LLM__BT_DOT(2) LLM__BT_DOT(3) LLM__BT_DOT(4) LLM__BT_DOT(5) LLM__BT_DOT(6) LLM__BT_DOT(7)
    }
    LLM__BT_STORE(0) LLM__BT_STORE(1) LLM__BT_STORE(2) LLM__BT_STORE(3) LLM__BT_STORE(4) LLM__BT_STORE(5) LLM__BT_STORE(6) LLM__BT_STORE(7)
}
#undef LLM__BT_LOAD
#undef LLM__BT_DOT
#undef LLM__BT_STORE

static void llm__tile_bf16_any(const uint32_t *P, int64_t np, const uint32_t *x, int64_t ldx, float *y, int64_t ldy, int nt,
                               int nr, bool add) {
    switch (nt) {
#define LLM__BT_CASE(n) case n: llm__tile_bf16_avx512(P, np, x, ldx, y, ldy, n, nr, add); break;
    LLM__BT_CASE(8) LLM__BT_CASE(7) LLM__BT_CASE(6) LLM__BT_CASE(5) LLM__BT_CASE(4) LLM__BT_CASE(3) LLM__BT_CASE(2)
    default: llm__tile_bf16_avx512(P, np, x, ldx, y, ldy, 1, nr, add); break;
#undef LLM__BT_CASE
    }
}

/* x not rounded -> the f32 kernel; else for each KC block, for each 32-row panel: pack it,
   run every token tile, asking for the next tile's y and x and the next panel's weights. */
static void llm__matmul_bf16_avx512(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const llm__bf16_mm *m = (const llm__bf16_mm *)a->w;
    int64_t k = a->k, n_tiles = (a->n_tok + LLM__BNR - 1) / LLM__BNR;
    if (!m->x) {   /* decoding, or exact */
        llm__mm_args f32 = *a;
        f32.w = m->w;
        llm__matmul_bf16_avx2(&f32, r0, r1, scratch);
        return;
    }
    _Alignas(64) uint32_t P[LLM__BKC / 2 * LLM__BMR];
    for (int64_t k0 = 0; k0 < k; k0 += LLM__BKC) {
        int64_t kc = LLM__MIN(LLM__BKC, k - k0);
        for (int64_t r = r0; r < r1; r += LLM__BMR) {
            int nr = (int)LLM__MIN(LLM__BMR, r1 - r);
            llm__pack_bf16_pairs(P, m->w + r * k + k0, k, nr, kc);
            for (int64_t t = 0; t < a->n_tok; t += LLM__BNR) {
                for (int64_t j = t + LLM__BNR; j < LLM__MIN(t + 2 * LLM__BNR, a->n_tok); j++) {
                    _mm_prefetch((const char *)(a->y + j * a->ldy + r), _MM_HINT_T0);
                    _mm_prefetch((const char *)(a->y + j * a->ldy + r + LLM__BMR - 1), _MM_HINT_T0);
                    _mm_prefetch((const char *)(m->x + j * m->ldx + k0 / 2), _MM_HINT_T0);
                }
                llm__panel_prefetch(m->w + (r + LLM__BMR) * k + k0, LLM__BMR, k * 2, kc * 2, t / LLM__BNR, n_tiles);
                llm__tile_bf16_any(P, (kc + 1) / 2, m->x + t * m->ldx + k0 / 2, m->ldx, a->y + t * a->ldy + r, a->ldy,
                                   (int)LLM__MIN(LLM__BNR, a->n_tok - t), nr, k0 > 0);
            }
        }
    }
}
#undef LLM__BMR
#undef LLM__BNR
#undef LLM__BKC
#endif
