/* The matmul kernels for llama.cpp's block-quantized weights (23_kernels_ggml.c), against
   the exact reference: dequantize the weights (llm_dequantize) and take the dot product
   in double.
   - scalar kernels: within 1e-5 relative of the reference (they are dequantize + f32 dot);
   - fast kernels (activations rounded to 8 bits): each output within
     ||w_row||_2 * max|x| / 64, about 7 standard deviations of that rounding error
     (per element it is uniform in +-max|x_block| / 254);
   - results are identical with 1 and 3 threads (each output is computed one way);
   on awkward shapes: 1, 3, 33 rows; k = 256, 512, 4096; 1, 2, 5 and 9 tokens. Uses the
   internal llm__matmul and the kernel tables. q4_0_r8, q8_0_r8, q4_K_r8 and q6_K_r8 (regrouped
   by 8 rows at load) are checked the same way, plus: the layout round-trips, and the fast kernels give
   every token the same bits in a batch as alone. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) {   /* xorshift64, uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

static const llm_dtype qtypes[] = { LLM_DTYPE_Q4_0, LLM_DTYPE_Q4_1, LLM_DTYPE_Q5_0, LLM_DTYPE_Q5_1, LLM_DTYPE_Q8_0,
                                    LLM_DTYPE_Q2_K, LLM_DTYPE_Q3_K, LLM_DTYPE_Q4_K, LLM_DTYPE_Q5_K, LLM_DTYPE_Q6_K, LLM_DTYPE_Q8_K };

typedef struct {
    llm_tensor w;
    float *wf;          /* [rows, k] dequantized weights */
    float *x;           /* [n_tok, k] */
} problem;

static void problem_make(problem *p, llm_dtype dt, int64_t rows, int64_t k, int64_t n_tok) {
    float *src = malloc((size_t)(rows * k) * sizeof(float));
    for (int64_t i = 0; i < rows * k; i++) src[i] = frand() * (1 + (float)(i % 7));   /* uneven magnitudes */
    bool r8 = llm__is_r8(dt);
    llm_dtype qt = r8 ? llm__r8_base(dt) : dt;
    size_t bytes = llm_dtype_n_bytes(dt, rows * k);
    p->w = (llm_tensor){ .name = "w", .dtype = dt, .n_dims = 2, .shape = { rows, k }, .data = malloc(bytes), .n_bytes = bytes };
    p->wf = malloc((size_t)(rows * k) * sizeof(float));
    if (!r8) {
        CHECK_OK(llm_quantize(dt, src, p->w.data, rows * k));
        CHECK_OK(llm_dequantize(dt, p->w.data, p->wf, rows * k));
    } else {   /* quantize to the base format, regroup the rows as the loader does */
        size_t qbytes = llm_dtype_n_bytes(qt, rows * k), src_group = qbytes / (size_t)(rows / 8), group = bytes / (size_t)(rows / 8);
        uint8_t *q = malloc(qbytes);
        CHECK_OK(llm_quantize(qt, src, q, rows * k));
        CHECK_OK(llm_dequantize(qt, q, p->wf, rows * k));
        for (int64_t g = 0; g < rows / 8; g++) llm__r8_pack(qt, q + g * src_group, (uint8_t *)p->w.data + g * group, k);
        free(q);
    }
    p->x = malloc((size_t)(n_tok * k) * sizeof(float));
    for (int64_t i = 0; i < n_tok * k; i++) p->x[i] = frand() * 3;
    free(src);
}

static void problem_free(problem *p) { free(p->w.data); free(p->wf); free(p->x); }

/* Run the kernel table `k` on a pool of n_threads; y is [n_tok, rows]. */
static void run_kernel(const llm__kernels *k, int n_threads, const problem *p, int64_t n_tok, float *y) {
    llm_pool *pool;
    CHECK_OK(llm_pool_create(n_threads, &pool));
    float *scratch = malloc(llm__matmul_scratch_bytes(n_threads, n_tok, p->w.shape[1]));
    const llm__kernels *saved = llm__k;
    llm__k = k;
    llm__matmul(pool, scratch, y, p->w.shape[0], p->x, n_tok, &p->w);
    llm__k = saved;
    free(scratch);
    llm_pool_destroy(pool);
}

static int64_t n_checked;

static void check_one(llm_dtype dt, int64_t rows, int64_t k, int64_t n_tok) {
    problem p;
    problem_make(&p, dt, rows, k, n_tok);
    size_t ny = (size_t)(rows * n_tok);
    float *ys = malloc(ny * sizeof(float)), *yb = malloc(ny * sizeof(float)), *yb3 = malloc(ny * sizeof(float));
    run_kernel(&llm__kernels_scalar, 1, &p, n_tok, ys);
    run_kernel(llm__kernels_best(), 1, &p, n_tok, yb);
    run_kernel(llm__kernels_best(), 3, &p, n_tok, yb3);
    int bad = 0;
    for (int64_t t = 0; t < n_tok; t++) {
        double xmax = 0;
        for (int64_t i = 0; i < k; i++) xmax = fmax(xmax, fabs(p.x[t * k + i]));
        for (int64_t r = 0; r < rows; r++) {
            double ref = 0, wn = 0, mag = 0;
            for (int64_t i = 0; i < k; i++) {
                ref += (double)p.x[t * k + i] * p.wf[r * k + i];
                wn += (double)p.wf[r * k + i] * p.wf[r * k + i];
                mag += fabs((double)p.x[t * k + i] * p.wf[r * k + i]);
            }
            float s = ys[t * rows + r], b = yb[t * rows + r];
            if (fabs(s - ref) > 1e-5 * mag + 1e-6 || fabs(b - ref) > sqrt(wn) * xmax / 64 || b != yb3[t * rows + r]) {
                if (bad++ < 3)
                    printf("  %s rows %lld k %lld tok %lld: out [%lld,%lld] ref %.6g scalar %.6g fast %.6g (3 threads %.6g)\n",
                           llm_dtype_get(dt)->name, (long long)rows, (long long)k, (long long)n_tok, (long long)t, (long long)r, ref, s, b,
                           yb3[t * rows + r]);
            }
            n_checked++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    free(ys); free(yb); free(yb3);
    problem_free(&p);
}

static void test_every_type_awkward_shapes(void) {
    static const int64_t rows[] = { 1, 3, 33 }, ks[] = { 256, 512 }, toks[] = { 1, 2, 5, 9 };
    for (int d = 0; d < LLM__COUNT(qtypes); d++) {
        CHECK(llm__kernels_scalar.matmul[qtypes[d]] && llm__kernels_best()->matmul[qtypes[d]]);
        for (int r = 0; r < LLM__COUNT(rows); r++)
            for (int kk = 0; kk < LLM__COUNT(ks); kk++)
                for (int t = 0; t < LLM__COUNT(toks); t++) check_one(qtypes[d], rows[r], ks[kk], toks[t]);
    }
}

/* A long row (k = 4096) where the int32 block sums and the float accumulation grow. */
static void test_long_rows(void) {
    for (int d = 0; d < LLM__COUNT(qtypes); d++) check_one(qtypes[d], 5, 4096, 4);
    printf("  %lld outputs checked\n", (long long)n_checked);
}

/* q4_0_r8 ... q6_K_r8: the layout gives back every block; the kernels pass check_one
   on whole groups of rows; a batch gives each token the bits it gets alone (decode = prefill). */
static void check_r8(llm_dtype dt) {
    llm_dtype base = llm__r8_base(dt);
    int64_t qk = llm__dtypes[base].block_elems, bb = llm__dtypes[base].block_bytes, k = 3 * qk;
    uint8_t rows[8 * 3 * 210], group[8 * 3 * 210], blk[210];
    for (size_t i = 0; i < sizeof rows; i++) rows[i] = (uint8_t)(frand() * 128 + 128);
    llm__r8_pack(base, rows, group, k);
    for (int j = 0; j < 8; j++)
        for (int b = 0; b < 3; b++) {
            llm__r8_get(base, group + 8 * llm__dtypes[dt].block_bytes * b, j, blk);
            CHECK(!memcmp(blk, rows + 3 * bb * j + bb * b, (size_t)bb));
        }
    static const int64_t nrows[] = { 8, 24, 40 }, ks[] = { 1, 3, 8 }, toks[] = { 1, 2, 3, 4, 5, 9 };
    for (int r = 0; r < LLM__COUNT(nrows); r++)
        for (int kk = 0; kk < LLM__COUNT(ks); kk++)
            for (int t = 0; t < LLM__COUNT(toks); t++) check_one(dt, nrows[r], ks[kk] * qk, toks[t]);
    check_one(dt, 16, 4096, 7);
    problem p;
    problem_make(&p, dt, 24, 512, 9);
    float yb[9 * 24], y1[24];
    run_kernel(llm__kernels_best(), 2, &p, 9, yb);
    const float *x = p.x;
    for (int t = 0; t < 9; t++) {
        p.x = (float *)x + t * 512;
        run_kernel(llm__kernels_best(), 1, &p, 1, y1);
        CHECK(!memcmp(y1, yb + t * 24, sizeof y1));
    }
    p.x = (float *)x;
    problem_free(&p);
}
static void test_r8(void) { check_r8(LLM_DTYPE_Q4_0_R8); check_r8(LLM_DTYPE_Q8_0_R8); check_r8(LLM_DTYPE_Q4_K_R8); check_r8(LLM_DTYPE_Q6_K_R8); }

/* Large activations and all-zero ones: the 8-bit scale must not overflow or divide by 0. */
static void test_extreme_activations(void) {
    static const llm_dtype fast[] = { LLM_DTYPE_Q4_0, LLM_DTYPE_Q4_1, LLM_DTYPE_Q5_0, LLM_DTYPE_Q5_1, LLM_DTYPE_Q8_0, LLM_DTYPE_Q4_K,
                                      LLM_DTYPE_Q5_K, LLM_DTYPE_Q6_K, LLM_DTYPE_Q4_0_R8, LLM_DTYPE_Q8_0_R8, LLM_DTYPE_Q4_K_R8, LLM_DTYPE_Q6_K_R8 };
    for (int d = 0; d < LLM__COUNT(fast); d++) {
        problem p;
        problem_make(&p, fast[d], 8, 512, 2);
        for (int64_t i = 0; i < 512; i++) { p.x[i] = 0; p.x[512 + i] = (i % 3 ? -1e4f : 3e4f); }
        float y[16];
        run_kernel(llm__kernels_best(), 1, &p, 2, y);
        for (int r = 0; r < 8; r++) {
            CHECK(y[r] == 0);
            double ref = 0, wn = 0;
            for (int64_t i = 0; i < 512; i++) { ref += (double)p.x[512 + i] * p.wf[r * 512 + i]; wn += (double)p.wf[r * 512 + i] * p.wf[r * 512 + i]; }
            CHECK(fabs(y[8 + r] - ref) <= sqrt(wn) * 3e4 / 64);
        }
        problem_free(&p);
    }
}

int main(void) {
    RUN(test_every_type_awkward_shapes);
    RUN(test_long_rows);
    RUN(test_r8);
    RUN(test_extreme_activations);
    return TEST_MAIN_END();
}
