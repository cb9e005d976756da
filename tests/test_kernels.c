/* Every SIMD kernel against its scalar reference, on random inputs of awkward sizes (1, 3,
   31, 33, 4097, ...: below, across and just off every block width of the kernels), the
   streaming attention against a naive two-pass softmax in double, and the thread count
   against the logits of f32/f16/bf16 fixture models (bit-identical at 1, 2 and 3 threads).

   Tolerances. A SIMD kernel sums in another order than the scalar loop (lanes, tiles, FMA),
   so a dot product of length k may differ by a few ulp of sum |x_i w_i| per term:
   we allow 1e-6 * k^0.5 * sum|x_i w_i|. exp: 2 ulp (the polynomial's error), relative 3e-7,
   absolute FLT_MIN below 2 FLT_MIN (the SIMD exp flushes denormal results to 0).
   Activations: 2e-6 absolute on outputs up to 12. Attention vs double: 2e-6 absolute with
   |V| <= 1. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) {   /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / (1 << 23))) - 1.0f;
}

static const int64_t sizes[] = { 1, 3, 8, 15, 16, 31, 33, 257, 520, 4097 };

/* Weights in dtype dt, rounded to what that dtype can hold. */
static void *rand_weights(llm_dtype dt, int64_t n) {
    float *f = (float *)malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) f[i] = frand();
    void *w = malloc(llm_dtype_n_bytes(dt, n));
    llm_convert(dt, w, LLM_DTYPE_F32, f, n);
    free(f);
    return w;
}

/* One matmul shape, best kernels vs scalar; prints the worst relative error seen. */
static double check_matmul(llm_dtype dt, int64_t rows, int64_t k, int64_t n_tok) {
    void *w = rand_weights(dt, rows * k);
    float *x = (float *)malloc((size_t)(n_tok * k) * sizeof(float)), *wf = (float *)malloc((size_t)(rows * k) * sizeof(float));
    float *y = (float *)calloc((size_t)(n_tok * rows), sizeof(float)), *yr = (float *)calloc((size_t)(n_tok * rows), sizeof(float));
    float *scratch = (float *)malloc((size_t)k * sizeof(float));
    for (int64_t i = 0; i < n_tok * k; i++) x[i] = frand();
    llm_convert(LLM_DTYPE_F32, wf, dt, w, rows * k);
    llm__mm_args a = { .y = y, .ldy = rows, .x = x, .n_tok = n_tok, .k = k, .w = w };
#ifdef LLM__AVX512BF16
    /* bf16 prefill on pair dot products: activations rounded to bf16 (the reference gets
       them rounded the same way), the kernel reads its a->w as llm__matmul prepares it */
    void *act = malloc((size_t)n_tok * (2 * (size_t)k + 64));
    llm__bf16_mm bm = llm__bf16_prepare(NULL, x, n_tok, k, act, w, n_tok > 1);
    if (dt == LLM_DTYPE_BF16 && llm__kernels_best()->bf16_acts) a.w = &bm;
#endif
    llm__kernels_best()->matmul[dt](&a, 0, rows, scratch);
    a.y = yr, a.w = w;
#ifdef LLM__AVX512BF16
    float *xr = (float *)malloc((size_t)(n_tok * k) * sizeof(float));
    if (dt == LLM_DTYPE_BF16 && llm__kernels_best()->bf16_acts && n_tok > 1) {
        for (int64_t i = 0; i < n_tok * k; i++) xr[i] = llm__bf16_to_f32(llm__f32_to_bf16(x[i]));
        a.x = xr;
    }
#endif
    llm__kernels_scalar.matmul[dt](&a, 0, rows, scratch);
    double worst = 0;
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < rows; r++) {
            double mag = 0;
            for (int64_t i = 0; i < k; i++) mag += fabs((double)a.x[t * k + i] * wf[r * k + i]);
            double err = fabs((double)y[t * rows + r] - yr[t * rows + r]) / (sqrt((double)k) * mag + 1e-30);
            worst = err > worst ? err : worst;
        }
    CHECK(worst <= 1e-6);
#ifdef LLM__AVX512BF16
    free(act), free(xr);
#endif
    free(w); free(x); free(wf); free(y); free(yr); free(scratch);
    return worst;
}

static void test_matmul(void) {
    const llm_dtype dts[] = { LLM_DTYPE_F32, LLM_DTYPE_F16, LLM_DTYPE_BF16 };
    const int64_t toks[] = { 1, 2, 6, 7, 13 }, rows[] = { 1, 3, 17, 33 };
    printf("  kernels: %s vs scalar\n", llm__kernels_best()->name);
    for (int d = 0; d < 3; d++) {
        double worst = 0;
        for (int ki = 0; ki < LLM__COUNT(sizes); ki++)
            for (int ti = 0; ti < LLM__COUNT(toks); ti++)
                for (int ri = 0; ri < LLM__COUNT(rows); ri++) {
                    if (sizes[ki] * rows[ri] * toks[ti] > 600000) continue;   /* keep the test fast under ASan */
                    double e = check_matmul(dts[d], rows[ri], sizes[ki], toks[ti]);
                    worst = e > worst ? e : worst;
                }
        printf("  matmul %-4s worst |err| / (sqrt(k) sum|x w|) = %.2g\n", llm_dtype_get(dts[d])->name, worst);
    }
}

/* The threaded matmul must give the same bits for any thread count and any row split. */
static void test_matmul_threads(void) {
    int64_t rows = 77, k = 300, n_tok = 9;
    void *w = rand_weights(LLM_DTYPE_F16, rows * k);
    float *x = (float *)malloc((size_t)(n_tok * k) * sizeof(float)), *scratch = (float *)malloc(3 * (size_t)k * sizeof(float));
    float *y[3];
    for (int64_t i = 0; i < n_tok * k; i++) x[i] = frand();
    llm_tensor t = { .dtype = LLM_DTYPE_F16, .n_dims = 2, .shape = { rows, k }, .data = w };
    for (int nth = 1; nth <= 3; nth++) {
        llm_pool *p = NULL;
        CHECK_OK(llm_pool_create(nth, &p));
        y[nth - 1] = (float *)malloc((size_t)(n_tok * rows) * sizeof(float));
        llm__matmul(p, scratch, y[nth - 1], rows, x, n_tok, &t);
        llm_pool_destroy(p);
    }
    CHECK(!memcmp(y[0], y[1], (size_t)(n_tok * rows) * sizeof(float)));
    CHECK(!memcmp(y[0], y[2], (size_t)(n_tok * rows) * sizeof(float)));
    /* one row at a time (the tail path) gives the bits of the 16-row panel */
    float *y1 = (float *)malloc((size_t)(n_tok * rows) * sizeof(float));
    llm__mm_args a = { .y = y1, .ldy = rows, .x = x, .n_tok = n_tok, .k = k, .w = w };
    for (int64_t r = 0; r < rows; r++) llm__k->matmul[LLM_DTYPE_F16](&a, r, r + 1, scratch);
    CHECK(!memcmp(y[0], y1, (size_t)(n_tok * rows) * sizeof(float)));
    for (int i = 0; i < 3; i++) free(y[i]);
    free(y1); free(w); free(x); free(scratch);
}

static void test_vector_kernels(void) {
    const llm__kernels *b = llm__kernels_best(), *s = &llm__kernels_scalar;
    for (int ki = 0; ki < LLM__COUNT(sizes); ki++) {
        int64_t n = sizes[ki];
        float *x = (float *)malloc((size_t)n * sizeof(float)), *y = (float *)malloc((size_t)n * sizeof(float));
        float *y1 = (float *)malloc((size_t)n * sizeof(float)), *y2 = (float *)malloc((size_t)n * sizeof(float));
        double mag = 0;
        for (int64_t i = 0; i < n; i++) { x[i] = frand(); y[i] = frand(); mag += fabs((double)x[i] * y[i]); }
        CHECK_NEAR(b->dot_f32(x, y, n), s->dot_f32(x, y, n), 1e-6 * sqrt((double)n) * mag);
        memcpy(y1, y, (size_t)n * sizeof(float)); memcpy(y2, y, (size_t)n * sizeof(float));
        b->axpy_f32(y1, 0.37f, x, n); s->axpy_f32(y2, 0.37f, x, n);
        CHECK(max_abs_diff(y1, y2, (long)n) <= 1e-6);
        b->scale_f32(y1, -1.5f, n); s->scale_f32(y2, -1.5f, n);
        CHECK(max_abs_diff(y1, y2, (long)n) <= 1e-6);
        /* the attention halves for 6 queries: 5 rows of n, then n rows of 37 (or of 3) weighted
           by 6 rows of n; a query in a pass of 6 and alone must get the same bits */
        int64_t d = n % 2 ? 37 : 3, nr = LLM__MIN(n, 5);
        float *m = (float *)malloc((size_t)(n * d + 6 * n) * sizeof(float)), *A = m + n * d;
        for (int64_t i = 0; i < n * d + 6 * n; i++) m[i] = frand();
        const float *qs[6] = { x, y, A, A + n, A + 2 * n, A + 3 * n };
        float o1[6][37], o2[6][37], alone[37], *op1[6], *op2[6], *opa = alone, s1[6][5], s2[6][5], s3[5];
        b->dots_f32(s1[0], 5, qs, 6, m, n, nr); s->dots_f32(s2[0], 5, qs, 6, m, n, nr);
        for (int g = 0; g < 6; g++) {
            for (int64_t j = 0; j < nr; j++) CHECK_NEAR(s1[g][j], s2[g][j], 1e-6 * sqrt((double)n) * n);
            b->dots_f32(s3, 5, qs + g, 1, m, n, nr);
            CHECK(!memcmp(s3, s1[g], (size_t)nr * sizeof(float)));
            for (int64_t i = 0; i < d; i++) o1[g][i] = o2[g][i] = frand();
            op1[g] = o1[g], op2[g] = o2[g];
        }
        memcpy(alone, o1[4], sizeof alone);
        b->axpys_f32(op1, 6, A, n, m, n, d); s->axpys_f32(op2, 6, A, n, m, n, d);
        for (int g = 0; g < 6; g++) CHECK(max_abs_diff(o1[g], o2[g], (long)d) <= 1e-6 * sqrt((double)n) * n);
        b->axpys_f32(&opa, 1, A + 4 * n, n, m, n, d);
        CHECK(!memcmp(alone, o1[4], (size_t)d * sizeof(float)));
        free(m);
        /* exp over a wide range, including underflow to 0 */
        for (int64_t i = 0; i < n; i++) y1[i] = y2[i] = x[i] * 100.0f;
        double sb = b->exp_sum_f32(y1, n, 20.0f), ss = s->exp_sum_f32(y2, n, 20.0f), worst = 0;
        for (int64_t i = 0; i < n; i++) {   /* relative error; near and below FLT_MIN absolute */
            double e = y2[i] < 2 * FLT_MIN ? (fabs((double)y1[i] - y2[i]) <= FLT_MIN ? 0 : 1) : fabs((double)y1[i] - y2[i]) / y2[i];
            worst = e > worst ? e : worst;
        }
        CHECK(worst <= 3e-7);
        if (worst > 3e-7) printf("  exp n %lld: worst relative error %.3g\n", (long long)n, worst);
        CHECK_NEAR(sb, ss, 1e-6 * ss);
        const llm__act acts[] = { LLM__ACT_SILU, LLM__ACT_GELU_TANH, LLM__ACT_GELU, LLM__ACT_RELU };
        for (int a = 0; a < 4; a++) {
            for (int64_t i = 0; i < n; i++) { y1[i] = y2[i] = y[i]; x[i] = frand() * 12.0f; }
            b->act_mul(acts[a], y1, a == 3 ? NULL : x, n);
            s->act_mul(acts[a], y2, a == 3 ? NULL : x, n);
            CHECK(max_abs_diff(y1, y2, (long)n) <= 2e-6 * 12.0);
        }
        free(x); free(y); free(y1); free(y2);
    }
}

/* Naive attention in double: scores, softmax over all of them, weighted sum. */
static void attend_naive(double *out, const float *q, const float *K, const float *V, int64_t n, int64_t Dk, int64_t Dv,
                         const llm__attn_params *p) {
    double *s = (double *)malloc((size_t)n * sizeof(double)), m = -INFINITY, sum = 0;
    for (int64_t j = 0; j < n; j++) {
        double d = 0;
        for (int64_t i = 0; i < Dk; i++) d += (double)q[i] * K[j * Dk + i];
        d *= p->scale;
        s[j] = p->softcap > 0 ? p->softcap * tanh(d / p->softcap) : d;
        m = s[j] > m ? s[j] : m;
    }
    for (int64_t j = 0; j < n; j++) sum += s[j] = exp(s[j] - m);
    for (int64_t i = 0; i < Dv; i++) {
        out[i] = 0;
        for (int64_t j = 0; j < n; j++) out[i] += s[j] / sum * V[j * Dv + i];
    }
    free(s);
}

static void test_attention(void) {
    const int64_t ns[] = { 1, 3, 63, 64, 65, 200 }, dims[][2] = { { 64, 64 }, { 96, 64 }, { 33, 7 } };
    const llm__attn_params ps[] = { { 0.125f, 0 }, { 0.3f, 5.0f } };   /* plain; Gemma-2-style softcap */
    for (int ref = 0; ref < 2; ref++) {
        llm_set_reference_kernels(ref);
        for (int ni = 0; ni < LLM__COUNT(ns); ni++)
            for (int di = 0; di < LLM__COUNT(dims); di++)
                for (int pi = 0; pi < 2; pi++) {
                    int64_t n = ns[ni], Dk = dims[di][0], Dv = dims[di][1];
                    float *q = (float *)malloc((size_t)Dk * sizeof(float)), *K = (float *)malloc((size_t)(n * Dk) * sizeof(float));
                    float *V = (float *)malloc((size_t)(n * Dv) * sizeof(float)), *out = (float *)malloc((size_t)Dv * sizeof(float));
                    float scratch[LLM__ATT_BLOCK];
                    double *want = (double *)malloc((size_t)Dv * sizeof(double)), err = 0;
                    for (int64_t i = 0; i < Dk; i++) q[i] = frand() * 3.0f;
                    for (int64_t i = 0; i < n * Dk; i++) K[i] = frand();
                    for (int64_t i = 0; i < n * Dv; i++) V[i] = frand();
                    llm__attend(out, q, K, V, n, Dk, Dv, &ps[pi], scratch);
                    attend_naive(want, q, K, V, n, Dk, Dv, &ps[pi]);
                    for (int64_t i = 0; i < Dv; i++) err = fmax(err, fabs(out[i] - want[i]));
                    CHECK(err <= 2e-6);
                    if (err > 2e-6) printf("  n %lld Dk %lld Dv %lld softcap %g: err %.3g\n", (long long)n, (long long)Dk, (long long)Dv, ps[pi].softcap, err);
                    free(q); free(K); free(V); free(out); free(want);
                }
    }
    llm_set_reference_kernels(false);
}

/* Queries sharing a pass over the rows, each seeing its own prefix of them (causal prefill:
   consecutive positions; more than 4 queries, rows past 64), get the bits they get alone. */
static void test_attention_shared(void) {
    enum { NQ = 7, N = 150, D = 40 };
    const llm__attn_params ps[] = { { 0.125f, 0 }, { 0.3f, 5.0f } };
    float *K = (float *)malloc(N * D * sizeof(float)), *V = (float *)malloc(N * D * sizeof(float));
    float q[NQ][D], out[NQ][D], alone[D], *scratch = (float *)malloc(NQ * LLM__ATT_BLOCK * sizeof(float));
    for (int i = 0; i < N * D; i++) K[i] = frand(), V[i] = frand();
    for (int g = 0; g < NQ; g++)
        for (int i = 0; i < D; i++) q[g][i] = frand() * 3.0f;
    for (int ref = 0; ref < 2; ref++)
        for (int pi = 0; pi < 2; pi++) {
            llm_set_reference_kernels(ref);
            llm__attn_q qs[NQ];
            for (int g = 0; g < NQ; g++) qs[g] = (llm__attn_q){ .q = q[g], .out = out[g], .n = N - 30 * (g % 4) - g };
            llm__attn_begin(qs, NQ, D);
            llm__attend_rows(qs, NQ, K, V, N, D, D, &ps[pi], scratch);
            llm__attn_finish(qs, NQ, D);
            for (int g = 0; g < NQ; g++) {
                llm__attend(alone, q[g], K, V, qs[g].n, D, D, &ps[pi], scratch);
                CHECK(!memcmp(alone, out[g], sizeof alone));
            }
        }
    llm_set_reference_kernels(false);
    free(K); free(V); free(scratch);
}

/* Logits of a fixture's prompt at 1, 2 and 3 threads (prompt in odd chunks, then decode
   steps) must be the same bits. */
static void test_models_threads(void) {
    const char *families[] = { "llama", "llama_f16", "llama_bf16", "mistral" };   /* mistral: sliding window */
    for (int f = 0; f < LLM__COUNT(families); f++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s%s", fixture("models/dev/"), families[f]);
        llm_model *m = NULL;
        if (llm_model_load(dir, NULL, &m) != LLM_OK) { printf("  %s: not loadable here (%s)\n", families[f], llm_last_error()); continue; }
        int64_t V = llm_model_get_info(m)->n_vocab, T = 20;
        llm_token toks[22];
        for (int i = 0; i < 22; i++) toks[i] = (llm_token)((i * 37 + 5) % V);
        float *logits[3];
        for (int nth = 1; nth <= 3; nth++) {
            llm_session *s = NULL;
            llm_session_desc sd = { .n_ctx = 32, .n_batch = 6, .n_threads = nth };
            logits[nth - 1] = (float *)malloc((size_t)((T + 2) * V) * sizeof(float));
            CHECK_OK(llm_session_create(m, &sd, &s));
            CHECK_OK(llm_session_eval(s, toks, T, logits[nth - 1]));
            for (int i = 0; i < 2; i++) {
                CHECK_OK(llm_session_eval(s, toks + T + i, 1, NULL));
                memcpy(logits[nth - 1] + (T + i) * V, llm_session_logits(s), (size_t)V * sizeof(float));
            }
            llm_session_destroy(s);
        }
        CHECK(!memcmp(logits[0], logits[1], (size_t)((T + 2) * V) * sizeof(float)));
        CHECK(!memcmp(logits[0], logits[2], (size_t)((T + 2) * V) * sizeof(float)));
        for (int i = 0; i < 3; i++) free(logits[i]);
        llm_model_free(m);
    }
}

int main(void) {
    RUN(test_matmul);
    RUN(test_matmul_threads);
    RUN(test_vector_kernels);
    RUN(test_attention);
    RUN(test_attention_shared);
    RUN(test_models_threads);
    return TEST_MAIN_END();
}
