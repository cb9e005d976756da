/* GGUF models through the generic transformer (54_gguf_model.c).
   1. Fixture models converted to GGUF by llm_convert_model (as llama.cpp's convert_hf_to_gguf.py
      does: llama.cpp tensor names and metadata; Llama's Wq/Wk rows permuted for ggml's
      interleaved rope; Qwen3-MoE experts stacked into ffn_*_exps; Gemma norms stored as
      1 + w; Llama 3 rope scaling as a rope_freqs table) give the same logits as
      the safetensors checkpoint (1e-4), in f32; in q8_0 (weights and, in the kernels, activations rounded to 8 bits) within 0.15.
      In q4_0 and q8_0 the matrices are regrouped at load (q4_0_r8, q8_0_r8: every one whose
      rows 8 divides, checked). With the reference kernels, regrouped and in place (llm_model_desc.no_repack)
      give the same bits; with the fast ones (the same 8-bit activations meeting the same
      weights in another order) within 1e-4, or, with experts, where a near tie of the
      router can go the other way and change what follows, within 0.05 (where only the
      regrouped formats have fast kernels, as on NEON, within 0.15, with experts 0.5:
      8-bit activations against exact ones).
   2. Real models from PyPI (tests/tools/fetch_models.sh; skipped when absent):
      SmolLM2-135M-Instruct Q4_1: the greedy continuation of a fixed prompt (ids) equals
      llama.cpp's (commit c392e5094, CPU, 1 thread) for 12 tokens, and the first logits are
      within 0.5 of llama.cpp's (both round activations to 8 bits, in different ways).
      Gemma 3 270M Q4_K_M: that llama.cpp predates Gemma 3, so the expected continuation
      is ours ("The capital of France is" -> " the capital of the country of France. It is",
      checked by reading the tokens); the fast kernels (8-bit activations) keep the tokens
      and stay within 0.5 of the reference kernels' logits. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

static uint64_t rng_state = 88172645463325252ull;
static float frand_test(void) {   /* xorshift64, uniform in [-1, 1) */
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1);
}

/* ---- HF fixture -> GGUF, with the library's converter (71_convert_gguf.c) ---- */

static void write_gguf(const char *dir, llm_dtype type, const char *out) {
    llm_convert_params p = { .src = dir, .gguf = out, .gguf_type = type };
    CHECK_OK(llm_convert_model(&p));
}

/* Logits of every position of a fixed prompt (with the reference kernels if reference_eval). */
static bool reference_eval;
static float *all_logits(const char *path, const llm_model_desc *md, const llm_token *ids, int64_t n, int64_t *out_vocab) {
    llm_model *m;
    llm_session *s;
    llm_session_desc d = { .n_ctx = 64, .n_threads = 2 };
    if (llm_model_load(path, md, &m)) { printf("  %s\n", llm_last_error()); return NULL; }
    CHECK_OK(llm_session_create(m, &d, &s));
    *out_vocab = llm_model_get_info(m)->n_vocab;
    float *lg = malloc((size_t)(n * *out_vocab) * sizeof(float));
    llm_set_reference_kernels(reference_eval);   /* after loading: the matrices keep the fast kernels' layout */
    CHECK_OK(llm_session_eval(s, ids, n, lg));
    llm_set_reference_kernels(false);
    llm_session_destroy(s);
    llm_model_free(m);
    return lg;
}

/* Every matrix of dtype dt the loader could regroup (rows, expert rows and fused parts in
   whole groups of 8) was, when the fast kernels take the regrouped form. */
static void check_all_regrouped(const llm_model *m, llm_dtype dt) {
    int64_t n = 0, bad = 0;
    llm_dtype r8 = llm__r8_of(dt);
    if (m->output->shape[0] % 8 == 0) { n += m->output->dtype == r8; bad += m->output->dtype == dt; }   /* tied or not */
    for (int64_t il = 0; il < m->hp.n_layers; il++) {
        const llm__layer *l = &m->layers[il];
        const llm_tensor *lm[] = { l->wq, l->wk, l->wv, l->wo, l->ffn.gate, l->ffn.up, l->ffn.down, l->shared.gate,
                                   l->experts ? l->experts[0].gate : NULL, l->experts ? l->experts[0].down : NULL };
        for (int i = 0; i < LLM__COUNT(lm); i++)
            if (lm[i] && lm[i]->shape[0] % 8 == 0) { n += lm[i]->dtype == r8; bad += lm[i]->dtype == dt; }
    }
    CHECK(n > 0);
    CHECK_EQ_INT((int)bad, 0);
}

static void check_repack(const char *dir, const llm_token *ids, int64_t n, llm_dtype dt) {
    if (!llm__kernels_best()->matmul_q8[llm__r8_of(dt)]) return;   /* no fast kernel: nothing is regrouped */
    char q4[256];
    snprintf(q4, sizeof q4, "/tmp/llm_test_gguf_r8_%d.gguf", (int)getpid());
    write_gguf(dir, dt, q4);
    llm_model *m;
    CHECK_OK(llm_model_load(q4, NULL, &m));
    check_all_regrouped(m, dt);
    double tol = m->hp.n_experts ? 0.05 : 1e-4;
    if (!llm__kernels_best()->matmul_q8[dt]) tol = m->hp.n_experts ? 0.5 : 0.15;   /* in place: exact f32 dots (NEON) */
    llm_model_free(m);
    llm_model_desc keep = { .no_repack = true };
    int64_t V = 0, V2 = 0, V3, V4;
    float *rg = all_logits(q4, NULL, ids, n, &V), *kept = all_logits(q4, &keep, ids, n, &V2);
    reference_eval = true;
    float *rg_ref = all_logits(q4, NULL, ids, n, &V3), *kept_ref = all_logits(q4, &keep, ids, n, &V4);
    reference_eval = false;
    CHECK(rg && kept && rg_ref && kept_ref && V == V2 && V == V3 && V == V4);
    if (rg && kept && rg_ref && kept_ref && V == V2 && V == V3 && V == V4) {
        CHECK(!memcmp(rg_ref, kept_ref, (size_t)(n * V) * sizeof(float)));
        double d = max_abs_diff(rg, kept, (long)(n * V));
        printf("  %s regrouped vs in place: max |diff| %.3g\n", llm_dtype_get(dt)->name, d);
        CHECK(d <= tol);
    }
    free(rg); free(kept); free(rg_ref); free(kept_ref);
    remove(q4);
}

static void check_fixture(const char *family) {
    static const llm_token ids[] = { 1, 17, 300, 45, 2, 99, 511, 0, 256, 7, 8, 9 };
    const char *dir = fixture(family);
    char f32[256], q8[256];
    snprintf(f32, sizeof f32, "/tmp/llm_test_gguf_%d.gguf", (int)getpid());
    snprintf(q8, sizeof q8, "/tmp/llm_test_gguf_q8_%d.gguf", (int)getpid());
    write_gguf(dir, LLM_DTYPE_F32, f32);
    write_gguf(dir, LLM_DTYPE_Q8_0, q8);
    int64_t V = 0, V2 = 0, V3 = 0, n = LLM__COUNT(ids);
    float *ref = all_logits(dir, NULL, ids, n, &V), *got = all_logits(f32, NULL, ids, n, &V2), *gq = all_logits(q8, NULL, ids, n, &V3);
    CHECK(ref && got && gq && V == V2 && V == V3);
    if (ref && got && gq && V == V2 && V == V3) {
        double d = max_abs_diff(ref, got, (long)(n * V)), dq = max_abs_diff(ref, gq, (long)(n * V));
        printf("  %s: f32 GGUF max |diff| %.3g, q8_0 GGUF %.3g\n", family, d, dq);
        CHECK(d <= 1e-4);
        CHECK(dq <= 0.15);
    }
    free(ref); free(got); free(gq);
    remove(f32);
    remove(q8);
    check_repack(dir, ids, n, LLM_DTYPE_Q4_0);
    check_repack(dir, ids, n, LLM_DTYPE_Q8_0);
}

static void test_fixture_llama(void) { check_fixture("models/dev/llama"); }
static void test_fixture_qwen3(void) { check_fixture("models/dev/qwen3"); }
static void test_fixture_qwen3_moe(void) { check_fixture("models/dev/qwen3_moe"); }
static void test_fixture_qwen2_moe(void) { check_fixture("models/dev/qwen2_moe"); }   /* + shared expert and its gate */
static void test_fixture_llama3_rope(void) { check_fixture("models/dev/llama3_rope"); }
static void test_fixture_gemma2(void) { check_fixture("models/dev/gemma2"); }
static void test_fixture_phi3(void) { check_fixture("models/dev/phi3"); }
static void test_fixture_qwen2(void) { check_fixture("models/dev/qwen2"); }       /* q/k/v biases */
static void test_fixture_gemma(void) { check_fixture("models/dev/gemma"); }
/* not gemma3: the fixture alternates sliding and full layers, a GGUF "gemma3" has the fixed
   5:1 pattern of the real models (llama.cpp writes no per-layer pattern) */
static void test_fixture_mixtral(void) { check_fixture("models/dev/mixtral"); }   /* llama with w1/w2/w3 experts */

/* A random llama (C 256, so that the 256-element k-quants fit) written twice: matrices in
   `dt`, and the same weights dequantized to f32. q4_K and q6_K are regrouped at load: the
   reference kernels give the same bits either way and match the f32 file within 1e-4; the
   fast ones agree with the layout in place within 1e-4 and with f32 within 0.15. */
static void write_random_llama(const char *path, const char *path_f32, llm_dtype dt) {
    enum { C = 256, F = 512, V = 96, KV = 128 };
    static const char *names[] = { "output.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
                                   "blk.0.attn_output.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight",
                                   "token_embd.weight", "output_norm.weight", "blk.0.attn_norm.weight", "blk.0.ffn_norm.weight" };
    static const int64_t shapes[][2] = { { V, C }, { C, C }, { KV, C }, { KV, C }, { C, C }, { F, C }, { F, C }, { C, F },
                                         { V, C }, { C, 0 }, { C, 0 }, { C, 0 } };
    llm_tensor t[12], tf[12];
    for (int i = 0; i < 12; i++) {
        int64_t n = shapes[i][0] * (shapes[i][1] ? shapes[i][1] : 1);
        float *f = malloc((size_t)n * sizeof *f);
        for (int64_t j = 0; j < n; j++) f[j] = i >= 9 ? 1.0f + 0.1f * frand_test() : frand_test() * (i == 8 ? 1.0f : 0.15f);
        llm_dtype d = i < 8 ? dt : LLM_DTYPE_F32;
        size_t bytes = llm_dtype_n_bytes(d, n);
        tf[i] = t[i] = (llm_tensor){ .name = names[i], .dtype = d, .n_dims = shapes[i][1] ? 2 : 1,
                                     .shape = { shapes[i][0], shapes[i][1] }, .data = malloc(bytes), .n_bytes = bytes };
        CHECK_OK(llm_quantize(d, f, t[i].data, n));
        CHECK_OK(llm_dequantize(d, t[i].data, f, n));
        tf[i].dtype = LLM_DTYPE_F32, tf[i].data = f, tf[i].n_bytes = (size_t)n * sizeof *f;
    }
    llm_gguf_kv kv[] = { llm_gguf_kv_str("general.architecture", "llama"), llm_gguf_kv_u32("llama.embedding_length", C),
                         llm_gguf_kv_u32("llama.block_count", 1), llm_gguf_kv_u32("llama.attention.head_count", 4),
                         llm_gguf_kv_u32("llama.attention.head_count_kv", 2), llm_gguf_kv_u32("llama.feed_forward_length", F),
                         llm_gguf_kv_u32("llama.context_length", 128), llm_gguf_kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f) };
    CHECK_OK(llm_gguf_write(path, kv, LLM__COUNT(kv), t, 12));
    CHECK_OK(llm_gguf_write(path_f32, kv, LLM__COUNT(kv), tf, 12));
    for (int i = 0; i < 12; i++) { free(t[i].data); free(tf[i].data); }
}

static void check_random(llm_dtype dt) {
    static const llm_token ids[] = { 1, 17, 30, 45, 2, 95, 51, 0 };
    char q[256], f[256];
    snprintf(q, sizeof q, "/tmp/llm_test_gguf_rq_%d.gguf", (int)getpid());
    snprintf(f, sizeof f, "/tmp/llm_test_gguf_rf_%d.gguf", (int)getpid());
    write_random_llama(q, f, dt);
    int64_t n = LLM__COUNT(ids), V[6];
    llm_model *m;
    CHECK_OK(llm_model_load(q, NULL, &m));
    if (llm__kernels_best()->matmul_q8[llm__r8_of(dt)]) check_all_regrouped(m, dt);
    llm_model_free(m);
    llm_model_desc keep = { .no_repack = true };
    float *fast = all_logits(q, NULL, ids, n, &V[0]), *fast_kept = all_logits(q, &keep, ids, n, &V[1]), *f32 = all_logits(f, NULL, ids, n, &V[2]);
    reference_eval = true;
    float *ref = all_logits(q, NULL, ids, n, &V[3]), *ref_kept = all_logits(q, &keep, ids, n, &V[4]), *f32_ref = all_logits(f, NULL, ids, n, &V[5]);
    reference_eval = false;
    long nv = (long)(n * V[0]);
    CHECK(fast && fast_kept && f32 && ref && ref_kept && f32_ref);
    if (fast && fast_kept && f32 && ref && ref_kept && f32_ref) {
        printf("  %s: reference vs f32 %.3g, fast regrouped vs in place %.3g, fast vs f32 %.3g\n", llm_dtype_get(dt)->name, max_abs_diff(ref, f32_ref, nv),
               max_abs_diff(fast, fast_kept, nv), max_abs_diff(fast, f32, nv));
        CHECK(!memcmp(ref, ref_kept, (size_t)nv * sizeof(float)));
        CHECK(max_abs_diff(ref, f32_ref, nv) <= 1e-4);
        CHECK(max_abs_diff(fast, fast_kept, nv) <= 1e-4);
        CHECK(max_abs_diff(fast, f32, nv) <= 0.2);
    }
    free(fast); free(fast_kept); free(f32); free(ref); free(ref_kept); free(f32_ref);
    remove(q);
    remove(f);
}
static void test_random_k_quants(void) { check_random(LLM_DTYPE_Q4_K); check_random(LLM_DTYPE_Q6_K); }

/* Files that are not models we can run: a clear status and message, nothing loaded. */
static void test_bad_files(void) {
    char path[256];
    snprintf(path, sizeof path, "/tmp/llm_test_gguf_bad_%d.gguf", (int)getpid());
    llm_gguf_kv kv[3] = { llm_gguf_kv_str("general.architecture", "mamba") };
    llm_model *m = (llm_model *)1;
    CHECK_OK(llm_gguf_write(path, kv, 1, NULL, 0));
    CHECK_EQ_INT(llm_model_load(path, NULL, &m), LLM_ERR_UNSUPPORTED);
    CHECK(m == NULL && strstr(llm_last_error(), "mamba"));
    kv[0] = llm_gguf_kv_str("general.architecture", "llama");
    CHECK_OK(llm_gguf_write(path, kv, 1, NULL, 0));
    CHECK_EQ_INT(llm_model_load(path, NULL, &m), LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), "llama.embedding_length") != NULL);
    /* sizes that do not fit together, then a missing tensor */
    static const uint32_t heads_kv[2] = { 3, 3 };
    kv[1] = llm_gguf_kv_u32("llama.embedding_length", 64);
    kv[2] = llm_gguf_kv_arr("llama.attention.head_count_kv", LLM_GGUF_U32, 2, heads_kv);
    llm_gguf_kv more[8] = { kv[0], kv[1], kv[2], llm_gguf_kv_u32("llama.block_count", 2), llm_gguf_kv_u32("llama.attention.head_count", 4),
                            llm_gguf_kv_u32("llama.feed_forward_length", 128) };
    CHECK_OK(llm_gguf_write(path, more, 6, NULL, 0));
    CHECK_EQ_INT(llm_model_load(path, NULL, &m), LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), "kv heads") != NULL);
    static const uint32_t heads_kv2[2] = { 2, 2 };
    more[2] = llm_gguf_kv_arr("llama.attention.head_count_kv", LLM_GGUF_U32, 2, heads_kv2);
    CHECK_OK(llm_gguf_write(path, more, 6, NULL, 0));
    CHECK_EQ_INT(llm_model_load(path, NULL, &m), LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), "token_embd.weight") != NULL);
    remove(path);
}

/* ---- real models ---- */

static const char *model_path(const char *file) {
    static char p[4096];
    const char *cache = getenv("LLM_MODEL_CACHE"), *home = getenv("HOME");
    if (cache && *cache) snprintf(p, sizeof p, "%s/%s", cache, file);
    else snprintf(p, sizeof p, "%s/.cache/llm.h/models/%s", home ? home : ".", file);
    return access(p, R_OK) == 0 ? p : NULL;
}

/* Greedy continuation of prompt: n_gen ids into out; first_logits gets the first 8 logits. */
static void greedy(const char *path, const llm_token *prompt, int64_t n, int n_gen, llm_token *out, float *first_logits) {
    llm_model *m;
    llm_session *s;
    llm_session_desc d = { .n_ctx = 128, .n_threads = 2 };
    CHECK_OK(llm_model_load(path, NULL, &m));
    CHECK_OK(llm_session_create(m, &d, &s));
    int64_t V = llm_model_get_info(m)->n_vocab;
    llm_token cur[64];
    memcpy(cur, prompt, (size_t)n * sizeof *cur);
    for (int g = 0; g < n_gen; g++) {
        CHECK_OK(llm_session_eval(s, g ? &out[g - 1] : cur, g ? 1 : n, NULL));
        const float *lg = llm_session_logits(s);
        int64_t best = 0;
        for (int64_t i = 1; i < V; i++) best = lg[i] > lg[best] ? i : best;
        if (!g) memcpy(first_logits, lg, 8 * sizeof(float));
        out[g] = (llm_token)best;
    }
    llm_session_destroy(s);
    llm_model_free(m);
}

static void check_greedy(const char *path, const llm_token *prompt, int64_t n, const llm_token *want, int n_gen, const float *want_logits,
                         double tol) {
    llm_token got[32];
    float lg[8];
    greedy(path, prompt, n, n_gen, got, lg);
    for (int g = 0; g < n_gen; g++) CHECK_EQ_INT(got[g], want[g]);
    for (int i = 0; i < 8; i++) CHECK_NEAR(lg[i], want_logits[i], tol);
}

static void test_smollm2_q4_1(void) {
    const char *path = model_path("SmolLM2-135M-Instruct.Q4_1.gguf");
    if (!path) SKIP("SmolLM2-135M-Instruct.Q4_1.gguf not in the model cache (tests/tools/fetch_models.sh)");
    static const llm_token prompt[] = { 1, 9690, 2, 19, 253, 1345, 30, 216, 3563, 28 };
    static const llm_token want[] = { 216, 34, 32, 34, 35, 29, 32, 33, 29, 34, 34, 68 };             /* llama.cpp */
    static const float want_logits[] = { 18.51668f, 16.65178f, 22.26607f, 13.51544f, 14.04621f, 14.29827f, 11.17822f, 14.29725f };
    /* llama.cpp rounds every activation to 8 bits, as the AVX2 kernels do; elsewhere (NEON) only
       the regrouped q8_0 embedding's are, the q4_1 matrices' dots are exact */
    check_greedy(path, prompt, LLM__COUNT(prompt), want, LLM__COUNT(want), want_logits, llm__kernels_best()->matmul_q8[LLM_DTYPE_Q4_1] ? 0.5 : 1.0);
}

static void test_gemma3_q4_k_m(void) {
    const char *path = model_path("gemma-3-270m-q4_k_m.gguf");
    if (!path) SKIP("gemma-3-270m-q4_k_m.gguf not in the model cache (tests/tools/fetch_models.sh)");
    static const llm_token prompt[] = { 2, 818, 5279, 529, 7001, 563 };       /* <bos>The capital of France is */
    static const llm_token want[] = { 506, 5279, 529, 506, 2891, 529, 7001, 236761, 1030, 563 };
    /* first logits with the reference kernels (exact dequantization, f32 dots) */
    static const float want_logits[] = { -19.28012f, 8.29805f, -7.97305f, -19.24446f, -8.48948f, -16.87738f, -13.88264f, -18.22673f };
    check_greedy(path, prompt, LLM__COUNT(prompt), want, LLM__COUNT(want), want_logits, 0.5);   /* 8-bit activations */
    llm_set_reference_kernels(true);
    check_greedy(path, prompt, LLM__COUNT(prompt), want, 2, want_logits, 1e-3);
    llm_set_reference_kernels(false);
}

int main(void) {
    RUN(test_fixture_llama);
    RUN(test_fixture_qwen3);
    RUN(test_fixture_qwen3_moe);
    RUN(test_fixture_qwen2_moe);
    RUN(test_fixture_llama3_rope);
    RUN(test_fixture_gemma2);
    RUN(test_fixture_phi3);
    RUN(test_fixture_qwen2);
    RUN(test_fixture_gemma);
    RUN(test_fixture_mixtral);
    RUN(test_random_k_quants);
    RUN(test_bad_files);
    RUN(test_smollm2_q4_1);
    RUN(test_gemma3_q4_k_m);
    return TEST_MAIN_END();
}
