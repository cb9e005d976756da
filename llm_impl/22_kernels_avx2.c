/* ---- >>kernels_avx2: AVX2 + FMA + F16C versions of the scalar kernels ----
   Same contracts as 21_kernels_scalar.c. Two matmul shapes:
   - decode (one token): y[r] = dot(x, W[r]), memory-bound; 4 rows share each load of x and
     keep 2 accumulators each, so 8 FMA chains hide the FMA latency.
   - prefill (several tokens): a GEMM in the BLIS way. A panel of 16 weight rows x KC columns is
     widened to f32 and transposed once into P[KC][16] (32 KB); then a 6-token x 16-row
     tile of y lives in 12 registers while k runs: per k, 2 loads of P, 6 broadcasts of x,
     12 FMAs. Every output is summed in plain k order, whatever the tile it falls in, so
     results do not depend on how rows are split between threads.
   LLM_RUNTIME_DISPATCH compiles these with a target attribute (the rest of the build may be
   plain x86-64) and 24_kernels.c picks them after a CPUID check. */
#include "10_internal.h"

#ifdef LLM__AVX2
static LLM__AVX2_FN float llm__hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Load 8 weights of any float dtype as f32. */
static LLM__AVX2_FN __m256 llm__load8_f32(const float *p) { return _mm256_loadu_ps(p); }
static LLM__AVX2_FN __m256 llm__load8_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static LLM__AVX2_FN __m256 llm__load8_bf16(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
static inline float llm__id_f32(float v) { return v; }

static LLM__AVX2_FN float llm__dot_f32_avx2(const float *a, const float *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    if (i + 8 <= n) { acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0); i += 8; }
    float s = llm__hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- decode: nr <= 4 rows of W against one x; the same sum order for any nr ----
   The 4 rows come from the four quarters of the thread's range, so that the loads form four
   sequential streams far apart: the hardware prefetcher follows each one, and four misses are
   in flight instead of one. Four neighbouring rows look like a single stream to it, and one
   core then reads 15 GB/s instead of 28 (768-wide f16 rows, 100 MB, tests/bench/membw.c).
   The 8 accumulators are named variables (an array would live on the stack at -O2). */
#define LLM__MV_FMA16(r, LOAD)                                                                         \
    if (nr > r) {                                                                                      \
        a##r##0 = _mm256_fmadd_ps(x0, LOAD(w + r * step + i), a##r##0);                                \
        a##r##1 = _mm256_fmadd_ps(x1, LOAD(w + r * step + i + 8), a##r##1);                            \
    }
#define LLM__MV_FMA8(r, LOAD) if (nr > r) a##r##0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), LOAD(w + r * step + i), a##r##0);
#define LLM__MV_OUT(r, SCALAR)                                                                         \
    if (nr > r) {                                                                                      \
        float s = llm__hsum256(_mm256_add_ps(a##r##0, a##r##1));                                       \
        for (int64_t j = i; j < k; j++) s += x[j] * SCALAR(w[r * step + j]);                           \
        y[r * ystep] = s;                                                                              \
    }
/* NAME##_rows: y[r * ystep] = dot(x, w + r * step) for r < nr. */
#define LLM__MATVEC_AVX2(NAME, WT, LOAD, SCALAR)                                                       \
    static LLM__AVX2_FN LLM__INLINE void NAME##_rows(float *y, int64_t ystep, const float *x, const WT *w, int64_t step, \
                                                     int64_t k, int nr) {                              \
        __m256 z = _mm256_setzero_ps(), a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z; \
        int64_t i = 0;                                                                                 \
        for (; i + 16 <= k; i += 16) {                                                                 \
            __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);                       \
            LLM__MV_FMA16(0, LOAD) LLM__MV_FMA16(1, LOAD) LLM__MV_FMA16(2, LOAD) LLM__MV_FMA16(3, LOAD) \
        }                                                                                              \
        for (; i + 8 <= k; i += 8) { LLM__MV_FMA8(0, LOAD) LLM__MV_FMA8(1, LOAD) LLM__MV_FMA8(2, LOAD) LLM__MV_FMA8(3, LOAD) } \
        LLM__MV_OUT(0, SCALAR) LLM__MV_OUT(1, SCALAR) LLM__MV_OUT(2, SCALAR) LLM__MV_OUT(3, SCALAR)    \
    }                                                                                                  \
    static LLM__AVX2_FN void NAME(float *y, const float *x, const WT *w, int64_t k, int64_t r0, int64_t r1) { \
        int64_t q = (r1 - r0) / 4, r;                                                                  \
        for (r = r0; r < r0 + q; r++) NAME##_rows(y + r, q, x, w + r * k, q * k, k, 4);                \
        for (r = r0 + 4 * q; r < r1; r++) NAME##_rows(y + r, 0, x, w + r * k, 0, k, 1);                \
    }
LLM__MATVEC_AVX2(llm__matvec_f32_avx2, float, llm__load8_f32, llm__id_f32)
LLM__MATVEC_AVX2(llm__matvec_f16_avx2, uint16_t, llm__load8_f16, llm__f16_to_f32)
LLM__MATVEC_AVX2(llm__matvec_bf16_avx2, uint16_t, llm__load8_bf16, llm__bf16_to_f32)
#undef LLM__MATVEC_AVX2
#undef LLM__MV_FMA16
#undef LLM__MV_FMA8
#undef LLM__MV_OUT

/* ---- prefill: packing ---- */
#define LLM__MR 16     /* weight rows per panel: two 8-lane vectors */
#define LLM__NR 6      /* tokens per register tile: 6 x 2 accumulators + 2 weights + 1 broadcast */
#define LLM__KC 512    /* columns per packed panel: 16 x 512 floats = 32 KB (L1/L2); fewer
                          passes over y than 256 (prefill 1B f16 ~4% faster), more than 128
                          (~15% slower: y [T, n] is re-read per KC block) */

/* Transpose 8 rows of 8 floats in place (row c of the result = column c of the input). */
static LLM__AVX2_FN void llm__transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* P[p*16 + j] = W[j][p] as f32 for j < nr rows (W: row stride k), p < kc; rows >= nr are 0.
   The 16 rows are read a KB or so each, too little for the hardware prefetcher to ramp up:
   llm__panel_prefetch asks for them while the previous panel computes. */
#define LLM__PACK_AVX2(NAME, WT, LOAD, SCALAR)                                                         \
    static LLM__AVX2_FN void NAME(float *P, const WT *w, int64_t k, int nr, int64_t kc) {              \
        int64_t p = 0;                                                                                 \
        for (; p + 8 <= kc; p += 8)                                                                    \
            for (int h = 0; h < 2; h++) {                                                              \
                __m256 r[8];                                                                           \
                for (int j = 0; j < 8; j++) r[j] = h * 8 + j < nr ? LOAD(w + (h * 8 + j) * k + p) : _mm256_setzero_ps(); \
                llm__transpose8(r);                                                                    \
                for (int c = 0; c < 8; c++) _mm256_storeu_ps(P + (p + c) * LLM__MR + h * 8, r[c]);     \
            }                                                                                          \
        for (; p < kc; p++)                                                                            \
            for (int j = 0; j < LLM__MR; j++) P[p * LLM__MR + j] = j < nr ? SCALAR(w[j * k + p]) : 0.0f; \
    }
LLM__PACK_AVX2(llm__pack_f32_avx2, float, llm__load8_f32, llm__id_f32)
LLM__PACK_AVX2(llm__pack_f16_avx2, uint16_t, llm__load8_f16, llm__f16_to_f32)
LLM__PACK_AVX2(llm__pack_bf16_avx2, uint16_t, llm__load8_bf16, llm__bf16_to_f32)
#undef LLM__PACK_AVX2

/* ---- prefill: the register tile ----
   y[t][0..nr) (+)= sum_p P[p][0..nr) * x[t][p] for nt <= 6 tokens (x: row stride ldx, y: row
   stride ldy). add: continue the partial sums already in y (the previous KC block). The 12
   accumulators are named variables, not an array, so that they stay in registers; with nt a
   constant the `if (nt > j)` tests vanish. */
#define LLM__TILE_LOAD(j)                                                                              \
    if (nt > j) {                                                                                      \
        const float *src = y + j * ldy;                                                                \
        if (nr < LLM__MR) { memset(tmp, 0, sizeof tmp); memcpy(tmp, src, (size_t)nr * sizeof(float)); src = tmp; } \
        c##j##0 = add ? _mm256_loadu_ps(src) : _mm256_setzero_ps();                                    \
        c##j##1 = add ? _mm256_loadu_ps(src + 8) : _mm256_setzero_ps();                                \
    }
#define LLM__TILE_FMA(j)                                                                               \
    if (nt > j) {                                                                                      \
        __m256 b = _mm256_broadcast_ss(x + j * ldx + p);                                               \
        c##j##0 = _mm256_fmadd_ps(w0, b, c##j##0);                                                     \
        c##j##1 = _mm256_fmadd_ps(w1, b, c##j##1);                                                     \
    }
#define LLM__TILE_STORE(j)                                                                             \
    if (nt > j) {                                                                                      \
        float *dst = nr < LLM__MR ? tmp : y + j * ldy;                                                 \
        _mm256_storeu_ps(dst, c##j##0);                                                                \
        _mm256_storeu_ps(dst + 8, c##j##1);                                                            \
        if (nr < LLM__MR) memcpy(y + j * ldy, tmp, (size_t)nr * sizeof(float));                        \
    }
static LLM__AVX2_FN LLM__INLINE void llm__tile_avx2(const float *P, int64_t kc, const float *x, int64_t ldx, float *y,
                                                   int64_t ldy, int nt, int nr, bool add) {
    __m256 z = _mm256_setzero_ps(), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z,
           c41 = z, c50 = z, c51 = z;
    float tmp[LLM__MR];
    LLM__TILE_LOAD(0) LLM__TILE_LOAD(1) LLM__TILE_LOAD(2) LLM__TILE_LOAD(3) LLM__TILE_LOAD(4) LLM__TILE_LOAD(5)
    for (int64_t p = 0; p < kc; p++) {
        __m256 w0 = _mm256_loadu_ps(P + p * LLM__MR), w1 = _mm256_loadu_ps(P + p * LLM__MR + 8);
        LLM__TILE_FMA(0) LLM__TILE_FMA(1) LLM__TILE_FMA(2) LLM__TILE_FMA(3) LLM__TILE_FMA(4) LLM__TILE_FMA(5)
    }
    LLM__TILE_STORE(0) LLM__TILE_STORE(1) LLM__TILE_STORE(2) LLM__TILE_STORE(3) LLM__TILE_STORE(4) LLM__TILE_STORE(5)
}
#undef LLM__TILE_LOAD
#undef LLM__TILE_FMA
#undef LLM__TILE_STORE

/* Dispatch on the token count so that each tile width is compiled with its loops unrolled. */
static LLM__AVX2_FN void llm__tile_any_avx2(const float *P, int64_t kc, const float *x, int64_t ldx, float *y, int64_t ldy,
                                           int nt, int nr, bool add) {
    switch (nt) {
    case 6: llm__tile_avx2(P, kc, x, ldx, y, ldy, 6, nr, add); break;
    case 5: llm__tile_avx2(P, kc, x, ldx, y, ldy, 5, nr, add); break;
    case 4: llm__tile_avx2(P, kc, x, ldx, y, ldy, 4, nr, add); break;
    case 3: llm__tile_avx2(P, kc, x, ldx, y, ldy, 3, nr, add); break;
    case 2: llm__tile_avx2(P, kc, x, ldx, y, ldy, 2, nr, add); break;
    default: llm__tile_avx2(P, kc, x, ldx, y, ldy, 1, nr, add); break;
    }
}

/* Ask for the next tile's outputs (6 rows of y, ldy apart: no hardware prefetcher follows
   that) and the start of its 6 rows of x while this tile computes. */
static LLM__AVX2_FN LLM__INLINE void llm__tile_prefetch(const llm__mm_args *a, int64_t t, int64_t r, int64_t k0) {
    for (int64_t j = t; j < LLM__MIN(t + LLM__NR, a->n_tok); j++) {
        _mm_prefetch((const char *)(a->y + j * a->ldy + r), _MM_HINT_T0);
        _mm_prefetch((const char *)(a->y + j * a->ldy + r + LLM__MR - 1), _MM_HINT_T0);
        _mm_prefetch((const char *)(a->x + j * a->k + k0), _MM_HINT_T0);
    }
}

/* The next panel's weights (rows rows, row_bytes apart, kc_bytes each), asked for a few lines
   per tile during the panel's last 32 tiles. Asked for earlier, they are gone again by the
   time the packing reads them (the activations streaming through L2 evict them) and the
   packing waits on memory: a tenth of a 1B f16 prefill. More lines per tile fill the miss
   buffers, and the tile's own prefetches wait. */
#define LLM__PANEL_TILES 32
static LLM__AVX2_FN LLM__INLINE void llm__panel_prefetch(const void *next, int rows, int64_t row_bytes, int64_t kc_bytes,
                                                        int64_t tile, int64_t n_tiles) {
    int64_t L = LLM__MIN(n_tiles, LLM__PANEL_TILES), i = tile - (n_tiles - L);
    if (i < 0) return;
    int64_t per_row = (kc_bytes + 63) / 64, n = rows * per_row;
    for (int64_t l = n * i / L; l < n * (i + 1) / L; l++)
        _mm_prefetch((const char *)next + l / per_row * row_bytes + l % per_row * 64, _MM_HINT_T0);
}
#undef LLM__PANEL_TILES

/* The matmul kernels: one token -> matvec; more -> for each KC block of k, for each 16-row
   panel: pack it, run every token tile (prefetching the next tile's y and x). */
#define LLM__MATMUL_AVX2(NAME, WT, MATVEC, PACK)                                                       \
    static LLM__AVX2_FN void NAME(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {     \
        (void)scratch;                                                                                 \
        const WT *w = (const WT *)a->w;                                                                \
        int64_t k = a->k;                                                                              \
        if (a->n_tok == 1) { MATVEC(a->y, a->x, w, k, r0, r1); return; }                               \
        _Alignas(64) float P[LLM__KC * LLM__MR];                                                       \
        for (int64_t k0 = 0; k0 < k; k0 += LLM__KC) {                                                  \
            int64_t kc = LLM__MIN(LLM__KC, k - k0);                                                    \
            for (int64_t r = r0; r < r1; r += LLM__MR) {                                               \
                int nr = (int)LLM__MIN(LLM__MR, r1 - r);                                               \
                PACK(P, w + r * k + k0, k, nr, kc);                                                    \
                for (int64_t t = 0; t < a->n_tok; t += LLM__NR) {                                      \
                    llm__tile_prefetch(a, t + LLM__NR, r, k0);                                         \
                    llm__panel_prefetch(w + (r + LLM__MR) * k + k0, LLM__MR, k * (int64_t)sizeof(WT), kc * (int64_t)sizeof(WT), \
                                        t / LLM__NR, (a->n_tok + LLM__NR - 1) / LLM__NR);              \
                    llm__tile_any_avx2(P, kc, a->x + t * k + k0, k, a->y + t * a->ldy + r, a->ldy,     \
                                       (int)LLM__MIN(LLM__NR, a->n_tok - t), nr, k0 > 0);              \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }
LLM__MATMUL_AVX2(llm__matmul_f32_avx2, float, llm__matvec_f32_avx2, llm__pack_f32_avx2)
LLM__MATMUL_AVX2(llm__matmul_f16_avx2, uint16_t, llm__matvec_f16_avx2, llm__pack_f16_avx2)
LLM__MATMUL_AVX2(llm__matmul_bf16_avx2, uint16_t, llm__matvec_bf16_avx2, llm__pack_bf16_avx2)
#undef LLM__MATMUL_AVX2

static LLM__AVX2_FN void llm__axpy_f32_avx2(float *y, float alpha, const float *x, int64_t n) {
    __m256 va = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += alpha * x[i];
}
/* Scores: each query against the block's rows, 4 rows per pass (the block is in L1). */
static LLM__AVX2_FN void llm__dots_f32_avx2(float *S, int64_t lds, const float *const *q, int nq, const float *K, int64_t k, int64_t n) {
    for (int g = 0; g < nq; g++) llm__matvec_f32_avx2(S + g * lds, q[g], K, k, 0, n);
}

/* Weighted sums: 16 outputs of 4 queries stay in 8 registers while j runs; per row j, 2 loads
   of V serve 8 FMAs. Each output is a chain of FMAs in j order, as in llm__axpy_f32_avx2. */
#define LLM__AX_LOAD(g) if (ng > g) { y##g##0 = _mm256_loadu_ps(out[g] + i); y##g##1 = _mm256_loadu_ps(out[g] + i + 8); }
#define LLM__AX_FMA(g)                                                                                 \
    if (ng > g) {                                                                                      \
        __m256 a = _mm256_broadcast_ss(A + g * lda + j);                                               \
        y##g##0 = _mm256_fmadd_ps(a, v0, y##g##0);                                                     \
        y##g##1 = _mm256_fmadd_ps(a, v1, y##g##1);                                                     \
    }
#define LLM__AX_STORE(g) if (ng > g) { _mm256_storeu_ps(out[g] + i, y##g##0); _mm256_storeu_ps(out[g] + i + 8, y##g##1); }
static LLM__AVX2_FN LLM__INLINE void llm__axpys16_avx2(float *const *out, int ng, const float *A, int64_t lda, const float *V,
                                                      int64_t n, int64_t d, int64_t i) {
    __m256 z = _mm256_setzero_ps(), y00 = z, y01 = z, y10 = z, y11 = z, y20 = z, y21 = z, y30 = z, y31 = z;
    LLM__AX_LOAD(0) LLM__AX_LOAD(1) LLM__AX_LOAD(2) LLM__AX_LOAD(3)
    for (int64_t j = 0; j < n; j++) {
        __m256 v0 = _mm256_loadu_ps(V + j * d + i), v1 = _mm256_loadu_ps(V + j * d + i + 8);
        LLM__AX_FMA(0) LLM__AX_FMA(1) LLM__AX_FMA(2) LLM__AX_FMA(3)
    }
    LLM__AX_STORE(0) LLM__AX_STORE(1) LLM__AX_STORE(2) LLM__AX_STORE(3)
}
#undef LLM__AX_LOAD
#undef LLM__AX_FMA
#undef LLM__AX_STORE

static LLM__AVX2_FN void llm__axpys_f32_avx2(float *const *out, int nq, const float *A, int64_t lda, const float *V, int64_t n, int64_t d) {
    for (int g0 = 0; g0 < nq; g0 += 4) {
        int ng = nq - g0 < 4 ? nq - g0 : 4;
        const float *Ag = A + g0 * lda;
        int64_t i = 0;
        for (; i + 16 <= d; i += 16) switch (ng) {   /* each query count compiled with its tests folded */
            case 4: llm__axpys16_avx2(out + g0, 4, Ag, lda, V, n, d, i); break;
            case 3: llm__axpys16_avx2(out + g0, 3, Ag, lda, V, n, d, i); break;
            case 2: llm__axpys16_avx2(out + g0, 2, Ag, lda, V, n, d, i); break;
            default: llm__axpys16_avx2(out + g0, 1, Ag, lda, V, n, d, i); break;
            }
        for (int g = 0; i < d && g < ng; g++)
            for (int64_t j = 0; j < n; j++) llm__axpy_f32_avx2(out[g0 + g] + i, Ag[g * lda + j], V + j * d + i, d - i);
    }
}

static LLM__AVX2_FN void llm__scale_f32_avx2(float *y, float sc, int64_t n) {
    __m256 vs = _mm256_set1_ps(sc);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(vs, _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] *= sc;
}

/* exp(x) for 8 lanes, within 2 ulp of expf (Cephes' expf): x = n ln2 + r with |r| <= ln2/2,
   exp(r) by a degree-6 polynomial, 2^n built in the exponent bits. Below ln(FLT_MIN) =
   -87.3365 the result is 0 (no denormals). */
static LLM__AVX2_FN __m256 llm__exp8_avx2(__m256 x) {
    __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.37f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

static LLM__AVX2_FN float llm__exp_sum_f32_avx2(float *x, int64_t n, float m) {
    __m256 vm = _mm256_set1_ps(m), acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = llm__exp8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = llm__hsum256(acc);
    for (; i < n; i++) sum += x[i] = expf(x[i] - m);
    return sum;
}

/* SiLU and tanh-GELU in 8 lanes (the others fall back to the scalar loop):
   silu(g) = g / (1 + exp(-g)); gelu_tanh(g) = g * sigmoid(2u), u = sqrt(2/pi) (g + 0.044715 g^3),
   since 0.5 (1 + tanh(u)) = sigmoid(2u). */
static LLM__AVX2_FN void llm__act_mul_avx2(llm__act act, float *y, const float *gate, int64_t n) {
    if (act != LLM__ACT_SILU && act != LLM__ACT_GELU_TANH) { llm__act_mul_scalar(act, y, gate, n); return; }
    __m256 one = _mm256_set1_ps(1.0f), c1 = _mm256_set1_ps(-2.0f * 0.79788456080286536f), c3 = _mm256_set1_ps(0.044715f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate ? gate + i : y + i);
        __m256 z = act == LLM__ACT_SILU ? _mm256_sub_ps(_mm256_setzero_ps(), g)
                                        : _mm256_mul_ps(c1, _mm256_fmadd_ps(_mm256_mul_ps(c3, g), _mm256_mul_ps(g, g), g));
        __m256 a = _mm256_div_ps(g, _mm256_add_ps(one, llm__exp8_avx2(z)));
        _mm256_storeu_ps(y + i, gate ? _mm256_mul_ps(_mm256_loadu_ps(y + i), a) : a);
    }
    llm__act_mul_scalar(act, y + i, gate ? gate + i : NULL, n - i);
}
#endif
