/* The KV cache variants against references: a rotating cache equals a full cache whose
   attention is masked to the same positions; bounded sliding-window layers equal
   transformers; quantized caches stay within a stated distance of the f32 cache; rewinds
   a ring cannot honour are refused. Tests poke llm__ internals (marked).
   Documented tolerance of the quantized cache (qwen3 fixture, 60 positions, logits of
   spread ~±4): 8-bit keys and values max |delta logit| 0.03, 4-bit 0.5; we allow 0.05 and 0.75. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

/* A pseudo-random token stream (no tokenizer needed). */
static void tokens(llm_token *t, int n, int V) {
    uint32_t x = 12345;
    for (int i = 0; i < n; i++) { x = x * 1664525u + 1013904223u; t[i] = (llm_token)(3 + (x >> 8) % (uint32_t)(V - 3)); }
}

/* Feed n tokens in chunks of `chunk`, keeping the logits of every position. */
static void feed(llm_session *s, const llm_token *t, int n, int chunk, float *logits, int V) {
    for (int i = 0; i < n; i += chunk) {
        int c = n - i < chunk ? n - i : chunk;
        CHECK_OK(llm_session_eval(s, t + i, c, logits + (size_t)i * V));
    }
}

/* Rotating (ring of max-kv-size 24, keep 4) vs a 128-slot cache masked the same way
   (internals: the reference gets keep/window without a ring). 100 tokens: the ring wraps 3 times. */
static void test_rotating_equals_masked(void) {
    llm_model *m = dev_model("llama");
    if (!m) return;
    enum { N = 100, V = 512 };
    static llm_token t[N];
    static float a[N * V], b[N * V];
    tokens(t, N, V);
    llm_session *ring = NULL, *ref = NULL;
    llm_session_desc rd = { .n_ctx = 24, .n_batch = 5, .rotating = true, .n_keep = 4, .n_threads = 2 };
    llm_session_desc fd = { .n_ctx = 128, .n_batch = 5, .n_threads = 2 };
    CHECK_OK(llm_session_create(m, &rd, &ring));
    CHECK_OK(llm_session_create(m, &fd, &ref));
    if (!ring || !ref) return;
    for (int64_t il = 0; il < llm_model_get_info(m)->n_layers; il++) {   /* internals: mask without a ring */
        ref->kv[il].keep = 4;
        ref->kv[il].window = 20;
        CHECK(ring->kv[il].ring && ring->kv[il].n_slots == 24 + 4);
    }
    feed(ring, t, N, 5, a, V);
    feed(ref, t, N, 5, b, V);
    double err = max_abs_diff(a, b, (long)N * V);
    printf("  rotating vs masked full cache: max |diff| %.3g over %d positions\n", err, N);
    CHECK(err <= 1e-5);
    CHECK_EQ_INT(llm_session_n_past(ring), N);
    /* a rewind within n_batch - 1 tokens is honoured, one further back is refused */
    CHECK_OK(llm_session_rewind(ring, N - 3));
    CHECK(llm_session_rewind(ring, 40) == LLM_ERR_INVALID_ARG);
    CHECK(strstr(llm_last_error(), "dropped"));
    CHECK_OK(llm_session_rewind(ring, 0));
    llm_session_destroy(ring);
    llm_session_destroy(ref);
    llm_model_free(m);
}

/* Mistral (sliding_window 8): with small chunks its layers keep a ring of 8 + 3 slots
   instead of 64, and still match transformers. */
static void test_bounded_sliding_window(void) {
    llm_model *m = dev_model("mistral");
    llm_safetensors *ref = NULL;
    char p[600];
    snprintf(p, sizeof p, "%s/ref.safetensors", fixture("models/dev/mistral"));
    CHECK_OK(llm_safetensors_open(p, &ref));
    if (!m || !ref) return;
    const llm_tensor *ids = llm_safetensors_find(ref, "input_ids"), *want = llm_safetensors_find(ref, "logits");
    const llm_tensor *g = llm_safetensors_find(ref, "greedy_ids"), *gl = llm_safetensors_find(ref, "greedy_logits");
    llm_session *s = NULL;
    llm_session_desc d = { .n_ctx = 64, .n_batch = 4 };
    CHECK_OK(llm_session_create(m, &d, &s));
    if (!s) return;
    CHECK(s->kv[0].ring && s->kv[0].n_slots == 11);             /* internals */
    int64_t T = ids->shape[0], V = want->shape[1];
    float *l = malloc((size_t)(T * V) * sizeof *l);
    CHECK_OK(llm_session_eval(s, ids->data, T, l));
    double err = max_abs_diff(l, want->data, (long)(T * V)), gerr = 0;
    for (int64_t i = 0; i < g->shape[0]; i++) {
        double e = max_abs_diff(llm_session_logits(s), (const float *)gl->data + i * V, (long)V);
        gerr = e > gerr ? e : gerr;
        llm_token tok = ((const int32_t *)g->data)[i];
        CHECK_OK(llm_session_eval(s, &tok, 1, NULL));
    }
    printf("  mistral with an 11-slot ring: prompt %.3g, greedy steps %.3g\n", err, gerr);
    CHECK(err <= 1e-4 && gerr <= 1e-4);
    free(l);
    llm_session_destroy(s);
    llm_safetensors_close(ref);
    llm_model_free(m);
}

/* Max |logits - f32 cache logits| over 60 positions for a cache option. */
static double quantized_error(llm_model *m, llm_session_desc d, const float *want, const llm_token *t, int n, float *got) {
    llm_session *s = NULL;
    CHECK_OK(llm_session_create(m, &d, &s));
    if (!s) return 1e9;
    feed(s, t, n, 7, got, 512);
    llm_session_destroy(s);
    return max_abs_diff(got, want, (long)n * 512);
}

static void test_quantized_cache(void) {
    llm_model *m = dev_model("qwen3");    /* head_dim 32: groups of 32 */
    if (!m) return;
    enum { N = 60, V = 512 };
    static llm_token t[N];
    static float want[N * V], got[N * V];
    tokens(t, N, V);
    llm_session *s = NULL;
    llm_session_desc base = { .n_ctx = 64 };
    CHECK_OK(llm_session_create(m, &base, &s));
    if (!s) return;
    feed(s, t, N, 7, want, V);
    llm_session_destroy(s);
    struct { const char *name; llm_session_desc d; double tol; } cases[] = {
        { "k8 v8", { .n_ctx = 64, .kv_bits_k = 8, .kv_bits_v = 8 }, 0.05 },
        { "k4 v4", { .n_ctx = 64, .kv_bits_k = 4, .kv_bits_v = 4 }, 0.75 },
        { "k8 v4", { .n_ctx = 64, .kv_bits_k = 8, .kv_bits_v = 4 }, 0.75 },
        { "k8 v8 group 16", { .n_ctx = 64, .kv_bits_k = 8, .kv_bits_v = 8, .kv_group_size = 16 }, 0.05 },
        { "k8 v8 from 30", { .n_ctx = 64, .kv_bits_k = 8, .kv_bits_v = 8, .quantized_kv_start = 30 }, 0.05 },
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        double e = quantized_error(m, cases[i].d, want, t, N, got);
        printf("  quantized cache %-15s max |logits - f32 cache| %.4f (allowed %.2f)\n", cases[i].name, e, cases[i].tol);
        CHECK(e <= cases[i].tol && e > 0);
    }
    /* before quantized_kv_start the cache is f32: the first 28 positions are identical */
    llm_session_desc d = { .n_ctx = 64, .kv_bits_k = 8, .kv_bits_v = 8, .quantized_kv_start = 30 };
    quantized_error(m, d, want, t, N, got);
    CHECK(max_abs_diff(got, want, 28L * V) == 0);
    /* quantized and rotating together (mlx-lm cannot): close to the f32 rotating cache */
    llm_session_desc rf = { .n_ctx = 24, .rotating = true }, rq = rf;
    rq.kv_bits_k = rq.kv_bits_v = 8;
    static float ring_f32[N * V];
    quantized_error(m, rf, want, t, N, ring_f32);
    double e = quantized_error(m, rq, ring_f32, t, N, got);
    printf("  quantized rotating cache vs f32 rotating: %.4f\n", e);
    CHECK(e <= 0.05);
    llm_session_desc bad = { .n_ctx = 64, .kv_bits_k = 3 };
    CHECK(llm_session_create(m, &bad, &s) == LLM_ERR_INVALID_ARG);
    llm_model_free(m);
}

int main(void) {
    RUN(test_rotating_equals_masked);
    RUN(test_bounded_sliding_window);
    RUN(test_quantized_cache);
    return TEST_MAIN_END();
}
