/* ---- >>kernels_scalar: the reference kernels ----
   Plain C, always compiled: the oracle the SIMD kernels are tested against, and the path
   used on CPUs without them. Same function order in every kernels file.

   matmul kernels compute, for rows r in [r0, r1) of a weight matrix W [n_rows, k] and
   tokens t < n_tok of activations x [n_tok, k]:  y[t*ldy + r] = dot(x[t], W[r]).
   Each output is reduced by one call in a fixed order, so the result does not depend on
   how rows are split between threads. */
#include "10_internal.h"

/* Which SIMD kernels this build compiles. 10_internal.h sets LLM__AVX2 when the whole build
   targets AVX2+FMA (-march=native, -mavx2 -mfma -mf16c). LLM_RUNTIME_DISPATCH keeps the build
   portable (plain x86-64) and compiles the AVX2 kernels alone for that target; 24_kernels.c
   picks them at start-up after a CPUID check. LLM__AVX2_FN marks those functions. */
#if !defined(LLM__AVX2) && defined(LLM_RUNTIME_DISPATCH) && defined(__x86_64__) && \
    (defined(__GNUC__) || defined(__clang__)) && !defined(LLM_NO_SIMD) && !defined(LLM_NO_AVX2)
#define LLM__AVX2 1
#define LLM__AVX2_RUNTIME 1
#include <immintrin.h>
#define LLM__AVX2_FN __attribute__((target("avx2,fma,f16c")))
#else
#define LLM__AVX2_FN
#endif
/* A whole section of AVX2 code (23_kernels_ggml.c, 27_kernels_mlx.c) takes the same target,
   helpers included, between LLM__AVX2_BEGIN and LLM__AVX2_END. */
#if defined(LLM__AVX2_RUNTIME) && defined(__clang__)
#define LLM__AVX2_BEGIN _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c\"))), apply_to = function)")
#define LLM__AVX2_END _Pragma("clang attribute pop")
#elif defined(LLM__AVX2_RUNTIME)
#define LLM__AVX2_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c\")")
#define LLM__AVX2_END _Pragma("GCC pop_options")
#else
#define LLM__AVX2_BEGIN
#define LLM__AVX2_END
#endif
/* AVX512-BF16 (Zen 4, Sapphire Rapids and later) when the whole build targets it
   (-march=native on such a CPU): bf16 prefill on pair dot products (22_kernels_avx512.c).
   LLM_NO_AVX512 leaves it out: bf16 prefill then keeps f32 activations. */
#if defined(LLM__AVX2) && !defined(LLM__AVX2_RUNTIME) && defined(__AVX512F__) && defined(__AVX512BF16__) && \
    !defined(LLM_NO_AVX512)
#define LLM__AVX512BF16 1
#endif
/* AVX512-VNNI (same CPUs, and Ice Lake): vpdpbusd does maddubs + madd + add in one
   instruction, without the int16 intermediate; the integer kernels use it where present. */
#if defined(LLM__AVX2) && !defined(LLM__AVX2_RUNTIME) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && \
    !defined(LLM_NO_AVX512)
#define LLM__AVX512VNNI 1
#endif
#if defined(__aarch64__) && !defined(LLM_NO_SIMD) && !defined(LLM_NO_NEON)
#define LLM__NEON 1
#include <arm_neon.h>
#endif
#if defined(__GNUC__) || defined(__clang__)
#define LLM__INLINE inline __attribute__((always_inline))   /* kernel bodies specialised per call */
#else
#define LLM__INLINE inline
#endif

typedef struct llm__mm_args {
    float *y;              /* [n_tok, ldy] output */
    int64_t ldy;
    const float *x;        /* [n_tok, k] activations */
    int64_t n_tok, k;
    const void *w;         /* [n_rows, k] weights in the kernel's dtype */
} llm__mm_args;

typedef void (*llm__matmul_fn)(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch);

/* dot(a, b) over n floats, accumulated left to right in float. */
static float llm__dot_f32_scalar(const float *a, const float *b, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void llm__matmul_f32_scalar(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    (void)scratch;
    const float *w = (const float *)a->w;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < a->n_tok; t++)
            a->y[t * a->ldy + r] = llm__dot_f32_scalar(a->x + t * a->k, w + r * a->k, a->k);
}

/* f16/bf16 weights: widen a row to f32 once (scratch, k floats), then dot it with every token. */
static void llm__matmul_f16_scalar(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const uint16_t *w = (const uint16_t *)a->w;
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t i = 0; i < a->k; i++) scratch[i] = llm__f16_to_f32(w[r * a->k + i]);
        for (int64_t t = 0; t < a->n_tok; t++) a->y[t * a->ldy + r] = llm__dot_f32_scalar(a->x + t * a->k, scratch, a->k);
    }
}

static void llm__matmul_bf16_scalar(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const uint16_t *w = (const uint16_t *)a->w;
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t i = 0; i < a->k; i++) scratch[i] = llm__bf16_to_f32(w[r * a->k + i]);
        for (int64_t t = 0; t < a->n_tok; t++) a->y[t * a->ldy + r] = llm__dot_f32_scalar(a->x + t * a->k, scratch, a->k);
    }
}

/* y[i] += alpha * x[i] (attention: accumulate a value row weighted by its probability). */
static void llm__axpy_f32_scalar(float *y, float alpha, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

/* Attention's two halves over a block of n cached rows, for nq queries at once (the query
   heads of one kv head, consecutive positions): scores S[g*lds + j] = dot(q[g], K[j]) (K: [n, k]),
   and the weighted sums out[g][0..d) += sum_j A[g*lda + j] V[j] (V: [n, d]). The SIMD
   versions share each load of K and V between queries; every output is computed by the
   same operations, in the same order, whatever nq is. */
static void llm__dots_f32_scalar(float *S, int64_t lds, const float *const *q, int nq, const float *K, int64_t k, int64_t n) {
    for (int g = 0; g < nq; g++)
        for (int64_t j = 0; j < n; j++) S[g * lds + j] = llm__dot_f32_scalar(q[g], K + j * k, k);
}

static void llm__axpys_f32_scalar(float *const *out, int nq, const float *A, int64_t lda, const float *V, int64_t n, int64_t d) {
    for (int g = 0; g < nq; g++)
        for (int64_t j = 0; j < n; j++) llm__axpy_f32_scalar(out[g], A[g * lda + j], V + j * d, d);
}

/* y[i] *= s. */
static void llm__scale_f32_scalar(float *y, float s, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] *= s;
}

/* x[i] = exp(x[i] - m); returns the sum of the results (softmax numerators). */
static float llm__exp_sum_f32_scalar(float *x, int64_t n, float m) {
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i] = expf(x[i] - m);
    return sum;
}

/* ---- activations ---- */
typedef enum { LLM__ACT_SILU, LLM__ACT_GELU, LLM__ACT_GELU_TANH, LLM__ACT_RELU } llm__act;

static inline float llm__activate(llm__act act, float x) {
    switch (act) {
    case LLM__ACT_SILU:      return x / (1.0f + expf(-x));
    case LLM__ACT_GELU:      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case LLM__ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case LLM__ACT_RELU:      return x > 0 ? x : 0;
    }
    return x;
}

/* The gated MLP's middle step in one pass: y[i] *= act(gate[i]) (gate NULL: y[i] = act(y[i])). */
static void llm__act_mul_scalar(llm__act act, float *y, const float *gate, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = gate ? y[i] * llm__activate(act, gate[i]) : llm__activate(act, y[i]);
}
