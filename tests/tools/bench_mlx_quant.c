/* bench_mlx_quant: decode (1 token) and prefill speed of the MLX 4-bit matmul, against a
   plain read of the same number of bytes. Build and run by hand:
     make llm.h && cc -O2 -march=native -std=c11 -I. -o /tmp/bench tests/tools/bench_mlx_quant.c \
        -lutf8proc -lzstd -lcjson -lpthread -lm && /tmp/bench [bits] [group] [threads] [copies] [decode|prefill]   or   /tmp/bench model [threads]
   or   /tmp/bench ggml q4_0|q8_0|q4_0_r8|... [threads] [tokens] [rows cols]   (llm__matmul with a GGUF block format)
   The matrix is [2048, 8192]; six copies are cycled so the weights come from memory, not L3.
   BENCH_MMAP=1 (ggml mode): the weights read from mapped files in /tmp, as a model's are. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include <time.h>

enum { MAX_COPIES = 6 };
static int ROWS = 2048, COLS = 8192;   /* ggml mode: [rows cols] after the token count */
static int COPIES = MAX_COPIES;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread: less disturbed than wall time on a shared machine. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct { const uint8_t *p; size_t n; uint64_t sum[64]; } read_task;

/* The memory bandwidth reference: sum 64-bit words, split between threads. */
static void read_worker(void *ctx, int ith, int nth) {
    read_task *t = ctx;
    int64_t lo, hi;
    llm__split((int64_t)(t->n / 32), ith, nth, &lo, &hi);
    __m256i acc = _mm256_setzero_si256();
    for (int64_t i = lo; i < hi; i++) acc = _mm256_add_epi64(acc, _mm256_loadu_si256((const __m256i *)(t->p + i * 32)));
    uint64_t v[4];
    _mm256_storeu_si256((__m256i *)v, acc);
    t->sum[ith] = v[0] + v[1] + v[2] + v[3];
}

/* The matmuls of one decode step of a Llama-3.2-1B-shaped model (16 layers, C 2048, F 8192,
   8 kv heads of 64, tied 128256-token head), 4-bit g64 bf16, random bytes: the weight
   traffic a token costs, without attention and norms. */
static int bench_model(int nth) {
    static const int64_t shapes[8][2] = { { 2048, 2048 }, { 512, 2048 }, { 512, 2048 }, { 2048, 2048 },
                                          { 8192, 2048 }, { 8192, 2048 }, { 2048, 8192 }, { 128256, 2048 } };
    enum { L = 16 };
    llm_pool *pool;
    if (llm_pool_create(nth, &pool)) return 1;
    llm__qmat q[L * 7 + 1];
    double bytes = 0;
    size_t scratch_n = 0;
    uint64_t s = 1;
    for (int i = 0; i < L * 7 + 1; i++) {
        int64_t r = shapes[i == L * 7 ? 7 : i % 7][0], c = shapes[i == L * 7 ? 7 : i % 7][1];
        size_t wb = (size_t)r * c / 2, sb = (size_t)r * c / 64 * 2;
        uint8_t *w = malloc(wb);
        uint16_t *sc = malloc(sb), *bi = malloc(sb);
        for (size_t j = 0; j < wb; j++) w[j] = (uint8_t)((s = s * 6364136223846793005ull + 1) >> 56);
        for (size_t j = 0; j < sb / 2; j++) { sc[j] = 0x3c00 | (j & 63); bi[j] = 0xbf80; }   /* bf16 ~ 0.008, -1 */
        q[i] = (llm__qmat){ w, sc, bi, r, c, 4, 64, LLM_DTYPE_BF16, -1 };
        bytes += wb + 2.0 * sb;
        scratch_n = LLM__MAX(scratch_n, llm__mlx_scratch_bytes(&q[i], 1, nth));
    }
    float *x = calloc(8192, sizeof *x), *y = malloc(128256 * sizeof *y);
    for (int i = 0; i < 8192; i++) x[i] = (float)(i % 17) - 8;
    void *scratch = malloc(scratch_n);
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now(), c0 = cpu_now();
        for (int i = 0; i < L * 7 + 1; i++) llm__matmul_mlx(pool, scratch, scratch_n, y, q[i].rows, x, 1, &q[i]);
        double t = now() - t0;
        printf("1B-shaped decode matmuls, %d threads: %.1f ms/token (%.1f tok/s upper bound), %.1f GB/s, calling thread cpu %.1f ms\n",
               nth, t * 1e3, 1 / t, bytes / t / 1e9, (cpu_now() - c0) * 1e3);
    }
    return 0;
}

/* llm__matmul with a GGUF block format, [ROWS, COLS], n_tok tokens: best of many calls. */
static int bench_ggml(const char *type, int nth, int64_t n_tok) {
    llm_dtype dt = LLM_DTYPE_COUNT;
    for (int d = 0; d < LLM_DTYPE_COUNT; d++)
        if (llm_dtype_get((llm_dtype)d) && !strcmp(llm_dtype_get((llm_dtype)d)->name, type)) dt = (llm_dtype)d;
    llm_pool *pool;
    if (dt == LLM_DTYPE_COUNT || llm_pool_create(nth, &pool)) return 1;
    float *wf = malloc((size_t)ROWS * COLS * 4), *x = malloc((size_t)n_tok * COLS * 4), *y = malloc((size_t)n_tok * ROWS * 4);
    uint64_t s = 1;
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++) wf[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
    for (size_t i = 0; i < (size_t)n_tok * COLS; i++) x[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
    size_t wb = llm_dtype_n_bytes(dt, (int64_t)ROWS * COLS);
    llm_tensor t[MAX_COPIES];          /* cycled, so that decoding reads from memory, not L3 */
    for (int c = 0; c < MAX_COPIES; c++) {
        t[c] = (llm_tensor){ .name = "w", .dtype = dt, .n_dims = 2, .shape = { ROWS, COLS }, .data = malloc(wb), .n_bytes = wb };
        llm_dtype base = llm__is_r8(dt) ? llm__r8_base(dt) : dt;   /* q4_0_r8 ...: regrouped as at load */
        size_t bb = llm_dtype_n_bytes(base, (int64_t)ROWS * COLS);
        uint8_t *q = base == dt ? t[c].data : malloc(bb);
        if (llm_quantize(base, wf, q, (int64_t)ROWS * COLS)) return 1;
        for (int64_t g = 0; base != dt && g < ROWS / 8; g++) llm__r8_pack(base, q + g * (bb / (ROWS / 8)), (uint8_t *)t[c].data + g * (wb / (ROWS / 8)), COLS);
        if (base != dt) free(q);
        if (getenv("BENCH_MMAP")) {   /* the weights in a mapped file, as a loaded model has them */
            char path[64];
            snprintf(path, sizeof path, "/tmp/bench_w%d.bin", c);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(t[c].data, 1, wb, f) != wb || fclose(f)) return 1;
            llm__mapping map;
            if (llm__map_file(path, &map)) return 1;
            free(t[c].data);
            t[c].data = (void *)map.data;
        }
    }
    float *scratch = malloc(llm__matmul_scratch_bytes(nth, n_tok, COLS));
    double best = 1e9, best_cpu = 1e9, t_end = now() + 3;
    for (int i = 0; now() < t_end; i++) {
        double t0 = now(), c0 = cpu_now();
        llm__matmul(pool, scratch, y, ROWS, x, n_tok, &t[i % MAX_COPIES]);
        best = LLM__MIN(best, now() - t0);
        best_cpu = LLM__MIN(best_cpu, cpu_now() - c0);
    }
    printf("%s [%d, %d] x %lld tokens, %d threads: best %.3f ms = %.1f GFLOP/s, %.1f GB/s of weights; calling thread cpu %.3f ms\n",
           type, ROWS, COLS, (long long)n_tok, nth, best * 1e3, 2.0 * n_tok * ROWS * COLS / best / 1e9, wb / best / 1e9, best_cpu * 1e3);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "model")) return bench_model(argc > 2 ? atoi(argv[2]) : 1);
    if (argc > 6) { ROWS = atoi(argv[5]); COLS = atoi(argv[6]); }
    if (argc > 2 && !strcmp(argv[1], "ggml")) return bench_ggml(argv[2], argc > 3 ? atoi(argv[3]) : 1, argc > 4 ? atoi(argv[4]) : 1);
    int bits = argc > 1 ? atoi(argv[1]) : 4, gs = argc > 2 ? atoi(argv[2]) : 64, nth = argc > 3 ? atoi(argv[3]) : 1;
    llm_pool *pool;
    if (llm_pool_create(nth, &pool)) return 1;
    float *w = malloc((size_t)ROWS * COLS * 4), *x = malloc((size_t)64 * COLS * 4), *y = malloc((size_t)64 * ROWS * 4);
    uint64_t s = 1;
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++) w[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
    for (size_t i = 0; i < (size_t)64 * COLS; i++) x[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) / 16777216.0f - 0.5f;
    if (argc > 4) COPIES = LLM__MAX(1, LLM__MIN(MAX_COPIES, atoi(argv[4])));
    llm__qmat q[MAX_COPIES];
    size_t wb = llm_mlx_weight_bytes(ROWS, COLS, bits), sb = (size_t)ROWS * COLS / gs * 2;
    for (int c = 0; c < COPIES; c++) {
        uint8_t *qw = malloc(wb);
        uint16_t *sc = malloc(sb), *bi = malloc(sb);
        llm_mlx_quantize(w, ROWS, COLS, bits, gs, LLM_DTYPE_BF16, qw, sc, bi);
        q[c] = (llm__qmat){ qw, sc, bi, ROWS, COLS, bits, gs, LLM_DTYPE_BF16, -1 };
    }
    size_t scratch_n = llm__mlx_scratch_bytes(&q[0], 64, nth);
    void *scratch = malloc(scratch_n);
    double bytes = (double)wb + 2.0 * sb;
    uint8_t *big = malloc(wb * (COPIES + 1));
    memset(big, 1, wb * (COPIES + 1));
    if (argc > 5) {   /* best wall and cpu time of many calls: steadier on a busy machine */
        int n_tok = !strcmp(argv[5], "prefill") ? 64 : 1, iters = n_tok == 1 ? 400 : 20;
        double best = 1e9, best_cpu = 1e9, best_read = 1e9;
        for (int i = 0; i < iters; i++) {
            double t0 = now(), c0 = cpu_now();
            llm__matmul_mlx(pool, scratch, scratch_n, y, ROWS, x, n_tok, &q[i % COPIES]);
            best = LLM__MIN(best, now() - t0);
            best_cpu = LLM__MIN(best_cpu, cpu_now() - c0);
            read_task rt = { .p = big + (size_t)(i % COPIES) * wb, .n = (size_t)bytes / 32 * 32 };
            t0 = now();
            llm__parallel_for(pool, read_worker, &rt);
            best_read = LLM__MIN(best_read, now() - t0);
        }
        printf("bits %d g%d threads %d copies %d %s: best %.3f ms wall (%.1f GB/s), %.3f ms cpu of the calling thread; "
               "plain read of as many bytes: best %.3f ms (%.1f GB/s)\n", bits, gs, nth, COPIES, argv[5], best * 1e3,
               bytes / best / 1e9, best_cpu * 1e3, best_read * 1e3, bytes / best_read / 1e9);
        return 0;
    }
    for (int rep = 0; rep < 3; rep++) {
        read_task rt = { .p = big, .n = wb * COPIES };
        double t0 = now(), c0 = cpu_now();
        for (int i = 0; i < 5; i++) llm__parallel_for(pool, read_worker, &rt);
        double read_gbs = 5.0 * rt.n / (now() - t0) / 1e9, read_cpu_gbs = 5.0 * rt.n / (cpu_now() - c0) / 1e9;
        int n = 0;
        t0 = now();
        c0 = cpu_now();
        while (now() - t0 < 0.5) { llm__matmul_mlx(pool, scratch, scratch_n, y, ROWS, x, 1, &q[n % COPIES]); n++; }
        double dec = (now() - t0) / n, dec_cpu = (cpu_now() - c0) / n;
        if (nth == 1) printf("  decode per cpu second: %.1f GB/s; plain read per cpu second %.1f GB/s\n", bytes / dec_cpu / 1e9, read_cpu_gbs);
        int m = 0;
        t0 = now();
        while (now() - t0 < 0.5) { llm__matmul_mlx(pool, scratch, scratch_n, y, ROWS, x, 64, &q[m % COPIES]); m++; }
        double pre = (now() - t0) / m;
        printf("bits %d g%d threads %d: decode %.3f ms = %.1f GB/s (calling thread's cpu time %.3f ms; plain read %.1f GB/s); "
               "prefill 64 tok %.2f ms = %.1f GFLOP/s\n", bits, gs, nth, dec * 1e3, bytes / dec / 1e9, dec_cpu * 1e3, read_gbs,
               pre * 1e3, 2.0 * 64 * ROWS * COLS / pre / 1e9);
    }
    return 0;
}
