/* ---- >>kernels_avx2: AVX2 + FMA + F16C versions of the scalar kernels ----
   Same order and contracts as 21_kernels_scalar.c. Dot products keep 4 independent 8-lane
   accumulators (to hide FMA latency), then reduce them in a fixed order: results are
   bitwise stable run to run, and equal to the scalar path within float rounding. */
#include "10_internal.h"

#ifdef LLM__AVX2
static inline float llm__hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Load 8 weights of any float dtype as f32. */
static inline __m256 llm__load8_f32(const float *p) { return _mm256_loadu_ps(p); }
static inline __m256 llm__load8_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline __m256 llm__load8_bf16(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

/* dot(x, w) for one weight row; the tail (n % 32) is finished in scalar. */
#define LLM__DOT_AVX2(NAME, WT, LOAD, SCALAR)                                                  \
    static float NAME(const float *x, const WT *w, int64_t n) {                               \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;              \
        int64_t i = 0;                                                                         \
        for (; i + 32 <= n; i += 32) {                                                         \
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), LOAD(w + i), acc0);                 \
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), LOAD(w + i + 8), acc1);         \
            acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), LOAD(w + i + 16), acc2);       \
            acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), LOAD(w + i + 24), acc3);       \
        }                                                                                      \
        for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), LOAD(w + i), acc0); \
        float s = llm__hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3))); \
        for (; i < n; i++) s += x[i] * SCALAR(w[i]);                                           \
        return s;                                                                              \
    }
static inline float llm__id_f32(float v) { return v; }
LLM__DOT_AVX2(llm__dot_f32_avx2, float, llm__load8_f32, llm__id_f32)
LLM__DOT_AVX2(llm__dot_f16_avx2, uint16_t, llm__load8_f16, llm__f16_to_f32)
LLM__DOT_AVX2(llm__dot_bf16_avx2, uint16_t, llm__load8_bf16, llm__bf16_to_f32)
#undef LLM__DOT_AVX2

static void llm__matmul_f32_avx2(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    (void)scratch;
    const float *w = (const float *)a->w;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < a->n_tok; t++)
            a->y[t * a->ldy + r] = llm__dot_f32_avx2(a->x + t * a->k, w + r * a->k, a->k);
}

/* One token: convert on the fly. Several: widen each row once, then reuse it. */
static void llm__matmul_f16_avx2(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const uint16_t *w = (const uint16_t *)a->w;
    for (int64_t r = r0; r < r1; r++) {
        const uint16_t *row = w + r * a->k;
        if (a->n_tok == 1) { a->y[r] = llm__dot_f16_avx2(a->x, row, a->k); continue; }
        int64_t i = 0;
        for (; i + 8 <= a->k; i += 8) _mm256_storeu_ps(scratch + i, llm__load8_f16(row + i));
        for (; i < a->k; i++) scratch[i] = llm__f16_to_f32(row[i]);
        for (int64_t t = 0; t < a->n_tok; t++) a->y[t * a->ldy + r] = llm__dot_f32_avx2(a->x + t * a->k, scratch, a->k);
    }
}

static void llm__matmul_bf16_avx2(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const uint16_t *w = (const uint16_t *)a->w;
    for (int64_t r = r0; r < r1; r++) {
        const uint16_t *row = w + r * a->k;
        if (a->n_tok == 1) { a->y[r] = llm__dot_bf16_avx2(a->x, row, a->k); continue; }
        int64_t i = 0;
        for (; i + 8 <= a->k; i += 8) _mm256_storeu_ps(scratch + i, llm__load8_bf16(row + i));
        for (; i < a->k; i++) scratch[i] = llm__bf16_to_f32(row[i]);
        for (int64_t t = 0; t < a->n_tok; t++) a->y[t * a->ldy + r] = llm__dot_f32_avx2(a->x + t * a->k, scratch, a->k);
    }
}

static void llm__axpy_f32_avx2(float *y, float alpha, const float *x, int64_t n) {
    __m256 va = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += alpha * x[i];
}
#endif
