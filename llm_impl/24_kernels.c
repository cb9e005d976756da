/* ---- >>kernels: the kernel table and the threaded matmul ----
   All model code calls kernels through llm__k, filled once at start-up: the AVX2 versions
   when the build targets AVX2+FMA (or, with LLM_RUNTIME_DISPATCH, when CPUID says the CPU has
   them), the NEON versions on AArch64, else the scalar references. llm_set_reference_kernels
   (true) forces the references at run time (debugging, and the tests that compare the two). */
#include "10_internal.h"

typedef struct llm__kernels {
    const char *name;                         /* "scalar", "avx2", "neon" */
    llm__matmul_fn matmul[LLM_DTYPE_COUNT];   /* NULL: no kernel for that weight dtype */
    bool matmul_q8[LLM_DTYPE_COUNT];          /* the kernel reads a->w as a llm__q8_mm (23_kernels_ggml.c) */
    bool bf16_acts;                           /* the BF16 kernel rounds prefill activations to bf16 and reads
                                                 a->w as a llm__bf16_mm (22_kernels_avx512.c) */
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*axpy_f32)(float *y, float alpha, const float *x, int64_t n);
    void (*dots_f32)(float *S, int64_t lds, const float *const *q, int nq, const float *K, int64_t k, int64_t n);
    void (*axpys_f32)(float *const *out, int nq, const float *A, int64_t lda, const float *V, int64_t n, int64_t d);
    void (*scale_f32)(float *y, float s, int64_t n);
    float (*exp_sum_f32)(float *x, int64_t n, float m);
    void (*act_mul)(llm__act act, float *y, const float *gate, int64_t n);
} llm__kernels;

static const llm__kernels llm__kernels_scalar = {
    .name = "scalar",
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_scalar, [LLM_DTYPE_F16] = llm__matmul_f16_scalar,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_scalar,
                [LLM_DTYPE_Q4_0] = llm__matmul_q4_0_scalar, [LLM_DTYPE_Q4_1] = llm__matmul_q4_1_scalar,
                [LLM_DTYPE_Q5_0] = llm__matmul_q5_0_scalar, [LLM_DTYPE_Q5_1] = llm__matmul_q5_1_scalar,
                [LLM_DTYPE_Q8_0] = llm__matmul_q8_0_scalar, [LLM_DTYPE_Q2_K] = llm__matmul_q2_K_scalar,
                [LLM_DTYPE_Q3_K] = llm__matmul_q3_K_scalar, [LLM_DTYPE_Q4_K] = llm__matmul_q4_K_scalar,
                [LLM_DTYPE_Q5_K] = llm__matmul_q5_K_scalar, [LLM_DTYPE_Q6_K] = llm__matmul_q6_K_scalar,
                [LLM_DTYPE_Q8_K] = llm__matmul_q8_K_scalar, [LLM_DTYPE_MXFP4] = llm__matmul_mxfp4_scalar,
                [LLM_DTYPE_Q4_0_R8] = llm__matmul_q4_0_r8_scalar,
                [LLM_DTYPE_Q8_0_R8] = llm__matmul_q8_0_r8_scalar,
                [LLM_DTYPE_Q4_K_R8] = llm__matmul_q4_K_r8_scalar,
                [LLM_DTYPE_Q6_K_R8] = llm__matmul_q6_K_r8_scalar },
    .dot_f32 = llm__dot_f32_scalar, .axpy_f32 = llm__axpy_f32_scalar, .scale_f32 = llm__scale_f32_scalar,
    .dots_f32 = llm__dots_f32_scalar, .axpys_f32 = llm__axpys_f32_scalar,
    .exp_sum_f32 = llm__exp_sum_f32_scalar, .act_mul = llm__act_mul_scalar,
};

#ifdef LLM__AVX2
static const llm__kernels llm__kernels_avx2 = {
#ifdef LLM__AVX512BF16
    .name = "avx2+avx512bf16",
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_avx2, [LLM_DTYPE_F16] = llm__matmul_f16_avx2,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_avx512,
#else
    .name = "avx2",
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_avx2, [LLM_DTYPE_F16] = llm__matmul_f16_avx2,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_avx2,
#endif
                [LLM_DTYPE_Q4_0] = llm__matmul_q4_0_avx2, [LLM_DTYPE_Q4_1] = llm__matmul_q4_1_avx2,
                [LLM_DTYPE_Q5_0] = llm__matmul_q5_0_avx2, [LLM_DTYPE_Q5_1] = llm__matmul_q5_1_avx2,
                [LLM_DTYPE_Q8_0] = llm__matmul_q8_0_avx2, [LLM_DTYPE_Q2_K] = llm__matmul_q2_K_scalar,
                [LLM_DTYPE_Q3_K] = llm__matmul_q3_K_scalar, [LLM_DTYPE_Q4_K] = llm__matmul_q4_K_avx2,
                [LLM_DTYPE_Q5_K] = llm__matmul_q5_K_avx2, [LLM_DTYPE_Q6_K] = llm__matmul_q6_K_avx2,
                [LLM_DTYPE_Q8_K] = llm__matmul_q8_K_scalar, [LLM_DTYPE_MXFP4] = llm__matmul_mxfp4_scalar,
                [LLM_DTYPE_Q4_0_R8] = llm__matmul_q4_0_r8_avx2,
                [LLM_DTYPE_Q8_0_R8] = llm__matmul_q8_0_r8_avx2,
                [LLM_DTYPE_Q4_K_R8] = llm__matmul_q4_K_r8_avx2,
                [LLM_DTYPE_Q6_K_R8] = llm__matmul_q6_K_r8_avx2 },
    .matmul_q8 = { [LLM_DTYPE_Q4_0] = true, [LLM_DTYPE_Q4_0_R8] = true, [LLM_DTYPE_Q8_0_R8] = true, [LLM_DTYPE_Q4_K_R8] = true, [LLM_DTYPE_Q6_K_R8] = true, [LLM_DTYPE_Q4_1] = true, [LLM_DTYPE_Q5_0] = true, [LLM_DTYPE_Q5_1] = true,
                   [LLM_DTYPE_Q8_0] = true, [LLM_DTYPE_Q4_K] = true, [LLM_DTYPE_Q5_K] = true, [LLM_DTYPE_Q6_K] = true },
#ifdef LLM__AVX512BF16
    .bf16_acts = true,
#endif
    .dot_f32 = llm__dot_f32_avx2, .axpy_f32 = llm__axpy_f32_avx2, .scale_f32 = llm__scale_f32_avx2,
    .dots_f32 = llm__dots_f32_avx2, .axpys_f32 = llm__axpys_f32_avx2,
    .exp_sum_f32 = llm__exp_sum_f32_avx2, .act_mul = llm__act_mul_avx2,
};
#endif
#ifdef LLM__NEON
static const llm__kernels llm__kernels_neon = {
    .name = "neon",
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_neon, [LLM_DTYPE_F16] = llm__matmul_f16_neon,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_neon,
                [LLM_DTYPE_Q4_0] = llm__matmul_q4_0_scalar, [LLM_DTYPE_Q4_1] = llm__matmul_q4_1_scalar,
                [LLM_DTYPE_Q5_0] = llm__matmul_q5_0_scalar, [LLM_DTYPE_Q5_1] = llm__matmul_q5_1_scalar,
                [LLM_DTYPE_Q8_0] = llm__matmul_q8_0_scalar, [LLM_DTYPE_Q2_K] = llm__matmul_q2_K_scalar,
                [LLM_DTYPE_Q3_K] = llm__matmul_q3_K_scalar, [LLM_DTYPE_Q4_K] = llm__matmul_q4_K_scalar,
                [LLM_DTYPE_Q5_K] = llm__matmul_q5_K_scalar, [LLM_DTYPE_Q6_K] = llm__matmul_q6_K_scalar,
                [LLM_DTYPE_Q8_K] = llm__matmul_q8_K_scalar, [LLM_DTYPE_MXFP4] = llm__matmul_mxfp4_scalar,
                [LLM_DTYPE_Q4_0_R8] = llm__matmul_q4_0_r8_neon, [LLM_DTYPE_Q8_0_R8] = llm__matmul_q8_0_r8_neon,
                [LLM_DTYPE_Q4_K_R8] = llm__matmul_q4_K_r8_scalar,
                [LLM_DTYPE_Q6_K_R8] = llm__matmul_q6_K_r8_scalar },   /* NEON block kernels: regrouped q4_0 and q8_0 */
    .matmul_q8 = { [LLM_DTYPE_Q4_0_R8] = true, [LLM_DTYPE_Q8_0_R8] = true },
    .dot_f32 = llm__dot_f32_neon, .axpy_f32 = llm__axpy_f32_neon, .scale_f32 = llm__scale_f32_neon,
    .dots_f32 = llm__dots_f32_neon, .axpys_f32 = llm__axpys_f32_neon,
    .exp_sum_f32 = llm__exp_sum_f32_neon, .act_mul = llm__act_mul_neon,
};
#endif

#ifdef LLM__AVX2_RUNTIME
/* CPUID leaf 1: FMA (ecx 12), OSXSAVE (27), AVX (28), F16C (29); leaf 7: AVX2 (ebx 5); and
   XGETBV: the OS saves the ymm registers (bits 1, 2). */
static bool llm__cpu_has_avx2(void) {
    unsigned a, b, c, d, lo, hi;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c >> 12 & 1) || !(c >> 27 & 1) || !(c >> 28 & 1) || !(c >> 29 & 1)) return false;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return false;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    return b >> 5 & 1;
}
#endif

/* The fastest kernels this build and this CPU support. */
static const llm__kernels *llm__kernels_best(void) {
#if defined(LLM__AVX2_RUNTIME)
    static int has = -1;   /* racy but idempotent: every thread computes the same answer */
    if (has < 0) has = llm__cpu_has_avx2();
    return has ? &llm__kernels_avx2 : &llm__kernels_scalar;
#elif defined(LLM__AVX2)
    return &llm__kernels_avx2;
#elif defined(LLM__NEON)
    return &llm__kernels_neon;
#else
    return &llm__kernels_scalar;
#endif
}

/* The table in use: the best one known at compile time, or chosen before main() by CPUID. */
#if defined(LLM__AVX2) && !defined(LLM__AVX2_RUNTIME)
static const llm__kernels *llm__k = &llm__kernels_avx2;
#elif defined(LLM__NEON)
static const llm__kernels *llm__k = &llm__kernels_neon;
#else
static const llm__kernels *llm__k = &llm__kernels_scalar;
#endif
#ifdef LLM__AVX2_RUNTIME
__attribute__((constructor)) static void llm__kernels_init(void) { llm__k = llm__kernels_best(); }
#endif

/* Use the scalar reference kernels everywhere (true) or the fastest ones (false).
   Not thread-safe: call before creating sessions. */
LLM_API void llm_set_reference_kernels(bool reference) {
    llm__k = reference ? &llm__kernels_scalar : llm__kernels_best();
}

static bool llm__bf16_exact = false;
LLM_API void llm_set_exact_bf16(bool exact) { llm__bf16_exact = exact; }

/* ---- threaded matmul: y[T, n_out] = x[T, k] . W^T, rows of W split between threads ----
   The scratch has two parts: k floats per thread (the reference kernels unpack a row
   there), then, shared, every token's activations in the form the kernel reads (int8 for
   the block formats and MLX's affine ones: quantized once per matmul, not once per thread
   or per tile). llm__matmul_scratch_bytes says how much. */

typedef struct {
    llm__mm_args args;
    llm__matmul_fn fn;
    int64_t n_rows;
    float *scratch;           /* [nth, k] */
    int64_t scratch_stride;
    int64_t chunk;            /* decoding: panels per claim (0: a fixed share per thread) */
    atomic_llong next;        /* the next panel to claim */
} llm__mm_task;

/* Rows go in whole 16-row panels (the AVX2 GEMM packs 16 rows at a time, the regrouped
   formats need groups of 8). Prefill gives each thread one share: a second range would
   read the activations again. Decoding reads only the weights, so threads claim chunks of
   panels until none is left: one slowed down (a busy core, a small core) takes fewer.
   Either way a row is computed the same way by whichever thread. */
static void llm__mm_worker(void *ctx, int ith, int nth) {
    llm__mm_task *t = (llm__mm_task *)ctx;
    int64_t n_panels = (t->n_rows + 15) / 16, p0, p1;
    float *scratch = t->scratch + ith * t->scratch_stride;
    if (!t->chunk) {
        llm__split(n_panels, ith, nth, &p0, &p1);
        if (p0 < p1) t->fn(&t->args, 16 * p0, LLM__MIN(16 * p1, t->n_rows), scratch);
        return;
    }
    while ((p0 = atomic_fetch_add_explicit(&t->next, t->chunk, memory_order_relaxed)) < n_panels)
        t->fn(&t->args, 16 * p0, LLM__MIN(16 * (p0 + t->chunk), t->n_rows), scratch);
}

/* Shared scratch bytes per token: at least what any kernel's quantized activations take
   (block formats 1.25 k + 64; MLX 1.5 k + 4 k / group + 64). */
static size_t llm__mm_token_bytes(int64_t k) { return 2 * (size_t)k + 128; }

/* Scratch bytes for llm__matmul of n_tok tokens of k inputs on n_threads threads. */
LLM_PRIVATE size_t llm__matmul_scratch_bytes(int n_threads, int64_t n_tok, int64_t k) {
    return (size_t)n_threads * (size_t)k * sizeof(float) + (size_t)n_tok * llm__mm_token_bytes(k);
}

/* >>mlx-model: MLX-quantized matrices have their own kernel (27_kernels_mlx.c) */
typedef struct llm__qmat llm__qmat;
LLM_PRIVATE void llm__matmul_mlx(llm_pool *pool, void *scratch, size_t scratch_bytes, float *y, int64_t ldy,
                                 const float *x, int64_t n_tok, const llm__qmat *q);

/* y[t*ldy + r] = dot(x[t], w[r]) for every token t < n_tok and row r of w ([n_rows, k]).
   scratch: llm__matmul_scratch_bytes(n_threads, n_tok, k) bytes, float-aligned (the float
   kernels use only the first n_threads * k floats). */
LLM_PRIVATE void llm__matmul(llm_pool *pool, float *scratch, float *y, int64_t ldy, const float *x, int64_t n_tok,
                             const llm_tensor *w) {
    int nth = llm_pool_n_threads(pool);
    int64_t k = w->shape[1];
    if (w->dtype == LLM_DTYPE_MLX_AFFINE) {   /* >>mlx-model */
        llm__matmul_mlx(pool, scratch, llm__matmul_scratch_bytes(nth, n_tok, k), y, ldy, x, n_tok, (const llm__qmat *)w->data);
        return;
    }
    llm__mm_task t = {
        .args = { .y = y, .ldy = ldy, .x = x, .n_tok = n_tok, .k = k, .w = w->data },
        .fn = llm__k->matmul[w->dtype],
        .n_rows = w->shape[0],
        .scratch = scratch,
        .scratch_stride = k,
        .chunk = n_tok < 4 && nth > 1 ? LLM__MAX(1, (w->shape[0] + 15) / 16 / (4 * nth)) : 0,   /* about 4 claims per thread */
    };
    atomic_init(&t.next, 0);
    LLM_ASSERT(t.fn && w->n_dims == 2);
#if defined(LLM__AVX2) || defined(LLM__NEON)
    llm__q8_mm q8;
    if (llm__k->matmul_q8[w->dtype]) {        /* the activations, once, after the per-thread part */
        q8 = llm__q8_prepare(pool, x, n_tok, k, (int)llm__dtypes[w->dtype].block_elems, scratch + nth * k, w->data);
        t.args.w = &q8;
    }
#endif
#ifdef LLM__AVX512BF16
    llm__bf16_mm bf;
    if (w->dtype == LLM_DTYPE_BF16 && llm__k->bf16_acts) {
        bf = llm__bf16_prepare(pool, x, n_tok, k, scratch + nth * k, w->data, n_tok > 1 && !llm__bf16_exact);
        t.args.w = &bf;
    }
#endif
    llm__parallel_for(pool, llm__mm_worker, &t);
}
