/* ---- >>kernels: the kernel table and the threaded matmul ----
   All model code calls kernels through llm__k, filled once: with the AVX2 versions when the
   build targets AVX2+FMA, else the scalar references. llm_set_reference_kernels(true) forces
   the references at run time (debugging, and the tests that compare the two). */
#include "10_internal.h"

typedef struct llm__kernels {
    llm__matmul_fn matmul[LLM_DTYPE_COUNT];   /* NULL: no kernel for that weight dtype */
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*axpy_f32)(float *y, float alpha, const float *x, int64_t n);
} llm__kernels;

static const llm__kernels llm__kernels_scalar = {
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_scalar, [LLM_DTYPE_F16] = llm__matmul_f16_scalar,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_scalar },
    .dot_f32 = llm__dot_f32_scalar,
    .axpy_f32 = llm__axpy_f32_scalar,
};

#ifdef LLM__AVX2
static const llm__kernels llm__kernels_best = {
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_avx2, [LLM_DTYPE_F16] = llm__matmul_f16_avx2,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_avx2 },
    .dot_f32 = llm__dot_f32_avx2,
    .axpy_f32 = llm__axpy_f32_avx2,
};
#else
#define llm__kernels_best llm__kernels_scalar
#endif

static const llm__kernels *llm__k = &llm__kernels_best;

/* Use the scalar reference kernels everywhere (true) or the fastest ones (false).
   Not thread-safe: call before creating sessions. */
LLM_API void llm_set_reference_kernels(bool reference) {
    llm__k = reference ? &llm__kernels_scalar : &llm__kernels_best;
}

/* ---- threaded matmul: y[T, n_out] = x[T, k] . W^T, rows of W split between threads ---- */

typedef struct {
    llm__mm_args args;
    llm__matmul_fn fn;
    int64_t n_rows;
    float *scratch;           /* [nth, k] */
    int64_t scratch_stride;
} llm__mm_task;

static void llm__mm_worker(void *ctx, int ith, int nth) {
    llm__mm_task *t = (llm__mm_task *)ctx;
    int64_t r0, r1;
    llm__split(t->n_rows, ith, nth, &r0, &r1);
    if (r0 < r1) t->fn(&t->args, r0, r1, t->scratch + ith * t->scratch_stride);
}

/* >>mlx-model: MLX-quantized matrices have their own kernel (27_kernels_mlx.c) */
typedef struct llm__qmat llm__qmat;
LLM_PRIVATE void llm__matmul_mlx(llm_pool *pool, void *scratch, size_t scratch_bytes, float *y, int64_t ldy,
                                 const float *x, int64_t n_tok, const llm__qmat *q);

/* y[t*ldy + r] = dot(x[t], w[r]) for every token t < n_tok and row r of w ([n_rows, k]).
   scratch: n_threads * k floats. */
LLM_PRIVATE void llm__matmul(llm_pool *pool, float *scratch, float *y, int64_t ldy, const float *x, int64_t n_tok,
                             const llm_tensor *w) {
    if (w->dtype == LLM_DTYPE_MLX_AFFINE) {   /* >>mlx-model: scratch holds n_threads * k floats, enough for it */
        size_t bytes = (size_t)llm_pool_n_threads(pool) * (size_t)w->shape[1] * sizeof(float);
        llm__matmul_mlx(pool, scratch, bytes, y, ldy, x, n_tok, (const llm__qmat *)w->data);
        return;
    }
    llm__mm_task t = {
        .args = { .y = y, .ldy = ldy, .x = x, .n_tok = n_tok, .k = w->shape[1], .w = w->data },
        .fn = llm__k->matmul[w->dtype],
        .n_rows = w->shape[0],
        .scratch = scratch,
        .scratch_stride = w->shape[1],
    };
    LLM_ASSERT(t.fn && w->n_dims == 2);
    llm__parallel_for(pool, llm__mm_worker, &t);
}
