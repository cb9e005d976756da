/* Every fixture model against Hugging Face transformers: logits at every position of a
   24-token prompt, the 16-token greedy continuation through the KV cache, and the logits
   of every greedy step. Both config forms (v5 config.json, v4 config.legacy.json). */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

/* ref: another family's ref.safetensors; one_config: the fixture has no config.legacy.json
   (GPT-2 has no rope settings, so its config reads the same in both transformers forms). */
typedef struct { const char *family; double tol; const char *ref; bool one_config; } family;

static const family families[] = {
    { "llama", 1e-4, NULL }, { "llama3_rope", 1e-4, NULL }, { "mistral", 1e-4, NULL }, { "qwen2", 1e-4, NULL }, { "qwen3", 1e-4, NULL },
    { "smollm3", 1e-4, NULL }, { "llama_bf16", 1e-4, NULL }, { "llama_f16", 1e-4, NULL },
    /* The shards hold the f16-rounded weights of llama_f16 (stored as f32), while the
       fixture's ref.safetensors is llama's, computed from unrounded weights: the two differ
       by 0.037 in the logits. llama_f16's reference is the one that matches the shards. */
    { "llama_sharded", 1e-4, "llama_f16" },
    { "gemma", 1e-4, NULL }, { "gemma2", 1e-4, NULL }, { "gemma3", 1e-4, NULL }, { "phi3", 1e-4, NULL }, { "phi", 1e-4, NULL },
    { "starcoder2", 1e-4, NULL }, { "olmo2", 1e-4, NULL }, { "granite", 1e-4, NULL }, { "cohere", 1e-4, NULL },
    { "gpt_neox", 1e-4, NULL }, { "gpt2", 1e-4, NULL, true },
    { "mixtral", 1e-4, NULL }, { "qwen2_moe", 1e-4, NULL }, { "qwen3_moe", 1e-4, NULL }, { "deepseek_v3", 1e-4, NULL },
};

static int argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return (int)best;
}

/* One family, one config file, at n_threads threads; prints the max errors. */
static void check_family(const family *f, const char *config, int n_threads, double *out_err) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", fixture("models/dev/"));
    strncat(dir, f->family, sizeof dir - strlen(dir) - 1);
    llm_safetensors *ref = NULL;
    llm_model *m = NULL;
    llm_session *s = NULL;
    char refp[600], refdir[512];
    snprintf(refdir, sizeof refdir, "%s%s", fixture("models/dev/"), f->ref ? f->ref : "");
    snprintf(refp, sizeof refp, "%s/ref.safetensors", f->ref ? refdir : dir);
    CHECK_OK(llm_safetensors_open(refp, &ref));
    llm_model_desc md = { .config_file = config };
    CHECK_OK(llm_model_load(dir, &md, &m));
    if (!ref || !m) goto done;
    const llm_tensor *ids = llm_safetensors_find(ref, "input_ids"), *want = llm_safetensors_find(ref, "logits");
    const llm_tensor *gids = llm_safetensors_find(ref, "greedy_ids"), *glog = llm_safetensors_find(ref, "greedy_logits");
    int64_t T = ids->shape[0], V = llm_model_get_info(m)->n_vocab;
    CHECK_EQ_INT(want->shape[1], V);
    llm_session_desc sd = { .n_ctx = 64, .n_threads = n_threads, .n_batch = 7 };   /* odd chunks: exercise chunking */
    CHECK_OK(llm_session_create(m, &sd, &s));
    float *logits = (float *)malloc((size_t)(T * V) * sizeof(float));
    CHECK_OK(llm_session_eval(s, (const llm_token *)ids->data, T, logits));
    double err = max_abs_diff(logits, (const float *)want->data, (long)(T * V));
    free(logits);
    CHECK(err <= f->tol);
    double gerr = 0;
    if (gids) {   /* greedy through the cache, one token at a time */
        const int32_t *g = (const int32_t *)gids->data;
        for (int64_t i = 0; i < gids->shape[0]; i++) {
            const float *l = llm_session_logits(s);
            double e = max_abs_diff(l, (const float *)glog->data + i * V, (long)V);
            gerr = e > gerr ? e : gerr;
            int tok = argmax(l, V);
            CHECK_EQ_INT(tok, g[i]);
            if (tok != g[i]) break;
            llm_token t = tok;
            CHECK_OK(llm_session_eval(s, &t, 1, NULL));
        }
        CHECK(gerr <= f->tol);
    }
    printf("  %-14s %-18s threads %d: max |logits - ref| %.3g, greedy steps %.3g\n", f->family, config, n_threads, err, gerr);
    if (out_err) *out_err = err;
done:
    llm_session_destroy(s);
    llm_model_free(m);
    llm_safetensors_close(ref);
}

static void test_families(void) {
    for (int i = 0; i < (int)(sizeof families / sizeof families[0]); i++) {
        check_family(&families[i], "config.json", 2, NULL);
        if (!families[i].one_config) check_family(&families[i], "config.legacy.json", 1, NULL);
    }
}

/* Reductions are per row in a fixed order: the thread count must not change a single bit. */
static void test_thread_count_invariance(void) {
    double e1 = -1, e2 = -2, e3 = -3;
    check_family(&families[0], "config.json", 1, &e1);
    check_family(&families[0], "config.json", 2, &e2);
    check_family(&families[0], "config.json", 3, &e3);
    CHECK(e1 == e2 && e2 == e3);
}

static void test_errors(void) {
    llm_model *m = NULL;
    CHECK(llm_model_load(fixture("models/dev/does-not-exist"), NULL, &m) != LLM_OK);
    CHECK(m == NULL);
    llm_model_desc md = { .config_file = "generation_config.json" };   /* a config missing every field */
    CHECK(llm_model_load(fixture("models/dev/llama"), &md, &m) == LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), "generation_config.json") && strstr(llm_last_error(), "vocab_size"));
}

int main(void) {
    RUN(test_families);
    RUN(test_thread_count_invariance);
    RUN(test_errors);
    return TEST_MAIN_END();
}
