/* ---- >>kernels_scalar: the reference kernels ----
   Plain C, always compiled: the oracle the SIMD kernels are tested against, and the path
   used on CPUs without them. Same function order in every kernels file.

   matmul kernels compute, for rows r in [r0, r1) of a weight matrix W [n_rows, k] and
   tokens t < n_tok of activations x [n_tok, k]:  y[t*ldy + r] = dot(x[t], W[r]).
   Each output is reduced by one call in a fixed order, so the result does not depend on
   how rows are split between threads. */
#include "10_internal.h"

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
