/* Prompt cache files: saving a session and loading it into another gives bit-identical
   logits afterwards (plain, compressed, rotating, quantized, latent-attention caches); a
   cache from another model or another cache layout, or a damaged file, is refused. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

static void tokens(llm_token *t, int n, uint32_t seed) {
    for (int i = 0; i < n; i++) { seed = seed * 1664525u + 1013904223u; t[i] = (llm_token)(3 + (seed >> 8) % 500u); }
}

static const char *tmp(const char *name) {
    static char b[512];
    snprintf(b, sizeof b, "/tmp/llm_test_pc_%d_%s", (int)getpid(), name);
    return b;
}

/* Prefill 40 tokens, save, continue 12 more; load into a fresh session and continue the same:
   the logits after loading and after every continuation step must be identical. */
static void roundtrip(const char *family, llm_session_desc d, bool compress, const char *label) {
    llm_model *m = dev_model(family);
    if (!m) return;
    enum { P = 40, S = 12, V = 512 };
    llm_token t[P + S];
    static float a[S * V], b[S * V], la[V];
    tokens(t, P + S, 7);
    llm_session *s1 = NULL, *s2 = NULL;
    CHECK_OK(llm_session_create(m, &d, &s1));
    CHECK_OK(llm_session_create(m, &d, &s2));
    if (!s1 || !s2) { llm_model_free(m); return; }
    CHECK_OK(llm_session_eval(s1, t, P, NULL));
    memcpy(la, llm_session_logits(s1), sizeof la);
    const char *meta[] = { "tokenizer", "test" };
    const char *path = tmp("cache.safetensors");
    CHECK_OK(llm_session_save(s1, path, meta, 1, compress));
    for (int i = 0; i < S; i++) CHECK_OK(llm_session_eval(s1, t + P + i, 1, a + i * V));
    CHECK_OK(llm_session_load(s2, path));
    CHECK_EQ_INT(llm_session_n_past(s2), P);
    CHECK(memcmp(llm_session_logits(s2), la, sizeof la) == 0);
    CHECK(memcmp(llm_session_tokens(s2), t, P * sizeof(llm_token)) == 0);
    for (int i = 0; i < S; i++) CHECK_OK(llm_session_eval(s2, t + P + i, 1, b + i * V));
    CHECK(memcmp(a, b, sizeof a) == 0);
    char buf[64];
    CHECK_OK(llm_prompt_cache_metadata(path, "tokenizer", buf, sizeof buf));
    CHECK_STR(buf, "test");
    printf("  %-34s bit-identical after load\n", label);
    remove(path);
    llm_session_destroy(s1);
    llm_session_destroy(s2);
    llm_model_free(m);
}

static void test_roundtrips(void) {
    roundtrip("llama", (llm_session_desc){ .n_ctx = 64 }, false, "llama, f32");
    roundtrip("llama", (llm_session_desc){ .n_ctx = 64 }, true, "llama, f32, zstd");
    roundtrip("qwen3", (llm_session_desc){ .n_ctx = 24, .rotating = true, .n_batch = 8 }, false, "qwen3, rotating (wrapped)");
    roundtrip("qwen3", (llm_session_desc){ .n_ctx = 64, .kv_bits_k = 8, .kv_bits_v = 4 }, true, "qwen3, k8 v4 quantized, zstd");
    roundtrip("gemma2", (llm_session_desc){ .n_ctx = 64, .n_batch = 4 }, false, "gemma2, bounded sliding layers");
    roundtrip("deepseek_v3", (llm_session_desc){ .n_ctx = 64 }, false, "deepseek_v3, latent cache");
}

static void test_refusals(void) {
    llm_model *a = dev_model("llama"), *b = dev_model("qwen2");
    if (!a || !b) return;
    llm_token t[10];
    tokens(t, 10, 3);
    llm_session *sa = NULL, *sb = NULL, *sq = NULL;
    llm_session_desc d = { .n_ctx = 32 }, q = { .n_ctx = 32, .kv_bits_k = 8, .kv_bits_v = 8 };
    CHECK_OK(llm_session_create(a, &d, &sa));
    CHECK_OK(llm_session_create(b, &d, &sb));
    CHECK_OK(llm_session_create(a, &q, &sq));
    CHECK_OK(llm_session_eval(sa, t, 10, NULL));
    const char *path = tmp("refuse.safetensors");
    CHECK_OK(llm_session_save(sa, path, NULL, 0, false));
    CHECK(llm_session_load(sb, path) == LLM_ERR_INVALID_ARG);
    CHECK(strstr(llm_last_error(), "another model"));
    CHECK(llm_session_load(sq, path) == LLM_ERR_INVALID_ARG);
    CHECK(strstr(llm_last_error(), "cache layout"));
    CHECK_EQ_INT(llm_session_n_past(sq), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "head -c 900 %s > %s.cut", path, path);
    CHECK_EQ_INT(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.cut", path);
    CHECK(llm_session_load(sa, cmd) == LLM_ERR_FORMAT);
    remove(cmd);
    remove(path);
    llm_session_destroy(sa);
    llm_session_destroy(sb);
    llm_session_destroy(sq);
    llm_model_free(a);
    llm_model_free(b);
}

int main(void) {
    RUN(test_roundtrips);
    RUN(test_refusals);
    return TEST_MAIN_END();
}
