/* Every fixture model against Hugging Face transformers: logits at every position of a
   24-token prompt, the 16-token greedy continuation through the KV cache, and the logits
   of every greedy step. Both config forms (v5 config.json, v4 config.legacy.json). */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

/* ref: another family's ref.safetensors; one_config: the fixture has no config.legacy.json
   (GPT-2 has no rope settings, so its config reads the same in both transformers forms);
   dir: the model's folder when it is not the fixture's (NULL). */
typedef struct { const char *family; double tol; const char *ref; bool one_config; const char *dir; } family;

#define F(name, tol) { name, tol, NULL, false, NULL }
static const family families[] = {
    F("llama", 1e-4), F("llama3_rope", 1e-4), F("mistral", 1e-4), F("qwen2", 1e-4), F("qwen3", 1e-4), F("smollm3", 1e-4),
    F("llama_bf16", 1e-4), F("llama_f16", 1e-4),
    /* The shards hold the f16-rounded weights of llama_f16 (stored as f32), while the
       fixture's ref.safetensors is llama's, computed from unrounded weights: the two differ
       by 0.037 in the logits. llama_f16's reference is the one that matches the shards. */
    { "llama_sharded", 1e-4, "llama_f16", false, NULL },
    F("gemma", 1e-4), F("gemma2", 1e-4), F("gemma3", 1e-4), F("phi3", 1e-4), F("phi", 1e-4), F("starcoder2", 1e-4),
    F("olmo2", 1e-4), F("granite", 1e-4), F("cohere", 1e-4), F("gpt_neox", 1e-4), { "gpt2", 1e-4, NULL, true, NULL },
    /* MoE and MLA reach the same 2e-6 as the dense families: routing is decided by margins
       far above f32 rounding on these fixtures, and absorbed MLA only reorders sums. */
    F("mixtral", 1e-4), F("qwen2_moe", 1e-4), F("qwen3_moe", 1e-4), F("deepseek_v3", 1e-4),
};
#undef F

static int argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return (int)best;
}

/* One family, one config file, at n_threads threads; prints the max errors. */
static void check_family(const family *f, const char *config, int n_threads, double *out_err) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", f->dir ? f->dir : fixture("models/dev/"));
    if (!f->dir) strncat(dir, f->family, sizeof dir - strlen(dir) - 1);
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

/* Reductions are per row in a fixed order: the thread count must not change a single bit
   (dense attention, and MoE routing + latent attention). */
static void test_thread_count_invariance(void) {
    static const family deepseek = { "deepseek_v3", 1e-4, NULL, false, NULL };
    const family *fams[] = { &families[0], &deepseek };
    for (int i = 0; i < 2; i++) {
        double e1 = -1, e2 = -2, e3 = -3;
        check_family(fams[i], "config.json", 1, &e1);
        check_family(fams[i], "config.json", 2, &e2);
        check_family(fams[i], "config.json", 3, &e3);
        CHECK(e1 == e2 && e2 == e3);
    }
}

static bool copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[4096];
    size_t n;
    bool ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b) fclose(b);
    return ok;
}

/* A temporary model folder (dir: 32 bytes) with tensors t[n] and a config.json: the text
   `config`, or (NULL) fixture family fam's. */
static bool temp_model_cfg(char *dir, const char *fam, const llm_tensor *t, int64_t n, const char *config) {
    char path[600], src[600];
    snprintf(dir, 32, "/tmp/llm_model_XXXXXX");
    if (!mkdtemp(dir)) return false;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(llm_safetensors_write(path, t, n, NULL, 0));
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(src, sizeof src, "%s/%s/config.json", fixture("models/dev"), fam);
    if (!config) return copy_file(src, path);
    FILE *f = fopen(path, "w");
    bool ok = f && fputs(config, f) >= 0;
    if (f) fclose(f);
    return ok;
}

static bool temp_model(char *dir, const char *fam, const llm_tensor *t, int64_t n) { return temp_model_cfg(dir, fam, t, n, NULL); }

static void temp_model_remove(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    remove(dir);
}

static llm_safetensors *open_fixture(const char *fam) {
    char src[600];
    llm_safetensors *st = NULL;
    snprintf(src, sizeof src, "%s/%s/model.safetensors", fixture("models/dev"), fam);
    CHECK_OK(llm_safetensors_open(src, &st));
    return st;
}

/* MLX (switch_mlp) and GGUF keep experts stacked as one [E, F, C] tensor per projection:
   rewrite a fixture's per-expert tensors that way and expect the same logits. */
static void check_stacked(const char *fam, const char *expert_fmt, const char *const names[3], const char *stack_fmt,
                          const char *const stacked[3]) {
    char dir[32];
    llm_safetensors *st = open_fixture(fam);
    if (!st) return;
    int64_t n = llm_safetensors_n_tensors(st), n_out = 0, n_flat = 0, E = 4, L = 2;
    llm_tensor *out = (llm_tensor *)calloc((size_t)(n + 3 * L), sizeof *out);
    char (*nm)[128] = calloc((size_t)(3 * L), sizeof *nm);
    for (int64_t i = 0; i < n; i++)
        if (!strstr(llm_safetensors_tensor(st, i)->name, ".experts.")) out[n_out++] = *llm_safetensors_tensor(st, i);
    n_flat = n_out;
    for (int64_t il = 0; il < L; il++)
        for (int j = 0; j < 3; j++) {
            char en[256], ep[128];
            snprintf(ep, sizeof ep, expert_fmt, (long long)il, 0LL);
            snprintf(en, sizeof en, "%s%s", ep, names[j]);
            const llm_tensor *t0 = llm_safetensors_find(st, en);
            CHECK(t0 != NULL);
            if (!t0) goto done;
            llm_tensor *t = &out[n_out++];
            *t = *t0;
            t->n_dims = 3, t->shape[0] = E, t->shape[1] = t0->shape[0], t->shape[2] = t0->shape[1];
            t->n_bytes = t0->n_bytes * (size_t)E;
            t->data = malloc(t->n_bytes);
            for (int64_t e = 0; e < E; e++) {
                snprintf(ep, sizeof ep, expert_fmt, (long long)il, (long long)e);
                snprintf(en, sizeof en, "%s%s", ep, names[j]);
                memcpy((char *)t->data + (size_t)e * t0->n_bytes, llm_safetensors_find(st, en)->data, t0->n_bytes);
            }
            snprintf(nm[il * 3 + j], sizeof nm[0], stack_fmt, (long long)il, stacked[j]);
            t->name = nm[il * 3 + j];
        }
    CHECK(temp_model(dir, fam, out, n_out));
    family f = { fam, 1e-4, fam, true, dir };
    check_family(&f, "config.json", 1, NULL);
    temp_model_remove(dir);
done:
    for (int64_t i = n_flat; i < n_out; i++) free(out[i].data);
    free(out);
    free(nm);
    llm_safetensors_close(st);
}

static void test_stacked_experts(void) {
    static const char *const hf[3] = { "gate_proj.weight", "up_proj.weight", "down_proj.weight" };
    static const char *const mixtral[3] = { "w1.weight", "w3.weight", "w2.weight" };
    check_stacked("qwen3_moe", "model.layers.%lld.mlp.experts.%lld.", hf, "model.layers.%lld.mlp.switch_mlp.%s", hf);
    check_stacked("mixtral", "model.layers.%lld.block_sparse_moe.experts.%lld.", mixtral, "model.layers.%lld.block_sparse_moe.switch_mlp.%s", hf);
}

/* openai-community/gpt2 was saved as GPT2Model: its names lack "transformer.". */
static void test_gpt2_bare_names(void) {
    char dir[32];
    llm_safetensors *st = open_fixture("gpt2");
    if (!st) return;
    int64_t n = llm_safetensors_n_tensors(st);
    llm_tensor *out = (llm_tensor *)calloc((size_t)n, sizeof *out);
    for (int64_t i = 0; i < n; i++) {
        out[i] = *llm_safetensors_tensor(st, i);
        if (!strncmp(out[i].name, "transformer.", 12)) out[i].name += 12;
    }
    CHECK(temp_model(dir, "gpt2", out, n));
    family f = { "gpt2", 1e-4, "gpt2", true, dir };
    check_family(&f, "config.json", 1, NULL);
    temp_model_remove(dir);
    free(out);
    llm_safetensors_close(st);
}

/* Gemma 3 as its multimodal checkpoints store it: the language model's config nested in
   text_config listing only what differs from transformers' defaults (the rope bases, norm
   eps and activation come from the defaults here), tensors under "language_model.". */
static void test_gemma3_multimodal(void) {
    static const char config[] =
        "{\"model_type\": \"gemma3\", \"text_config\": {\"model_type\": \"gemma3_text\", \"hidden_size\": 64,"
        " \"intermediate_size\": 160, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
        " \"head_dim\": 16, \"vocab_size\": 512, \"query_pre_attn_scalar\": 16, \"sliding_window\": 8, \"max_position_embeddings\": 1024,"
        " \"layer_types\": [\"sliding_attention\", \"full_attention\"], \"tie_word_embeddings\": false},"
        " \"vision_config\": {\"model_type\": \"siglip_vision_model\"}}";
    char dir[32];
    llm_safetensors *st = open_fixture("gemma3");
    if (!st) return;
    int64_t n = llm_safetensors_n_tensors(st);
    llm_tensor *out = (llm_tensor *)calloc((size_t)n, sizeof *out);
    char (*names)[160] = calloc((size_t)n, sizeof *names);
    for (int64_t i = 0; i < n; i++) {
        out[i] = *llm_safetensors_tensor(st, i);
        snprintf(names[i], sizeof names[0], "language_model.%s", out[i].name);
        out[i].name = names[i];
    }
    CHECK(temp_model_cfg(dir, "gemma3", out, n, config));
    family f = { "gemma3", 1e-4, "gemma3", true, dir };
    check_family(&f, "config.json", 1, NULL);
    temp_model_remove(dir);
    free(out);
    free(names);
    llm_safetensors_close(st);
}

/* Logits of the fixture prompt for the model in dir. */
static float *prompt_logits(const char *dir, const llm_tensor *ids) {
    llm_model *m = NULL;
    llm_session *s = NULL;
    float *logits = NULL;
    CHECK_OK(llm_model_load(dir, NULL, &m));
    llm_session_desc sd = { .n_ctx = 32, .n_threads = 1 };
    if (m) CHECK_OK(llm_session_create(m, &sd, &s));
    if (s) {
        logits = (float *)malloc((size_t)(ids->shape[0] * llm_model_get_info(m)->n_vocab) * sizeof(float));
        CHECK_OK(llm_session_eval(s, (const llm_token *)ids->data, ids->shape[0], logits));
    }
    llm_session_destroy(s);
    llm_model_free(m);
    return logits;
}

/* bf16 weights must give what the same (bf16-rounded) values give in f32: exercises views
   of fused and stacked bf16 tensors, the 2-byte transpose (GPT-2) and MLA's row widening. */
static void check_bf16(const char *fam) {
    char dir16[32], dir32[32], refp[600];
    llm_safetensors *st = open_fixture(fam), *ref = NULL;
    snprintf(refp, sizeof refp, "%s/%s/ref.safetensors", fixture("models/dev"), fam);
    CHECK_OK(llm_safetensors_open(refp, &ref));
    if (!st || !ref) { llm_safetensors_close(st); llm_safetensors_close(ref); return; }
    int64_t n = llm_safetensors_n_tensors(st), V = 512, T = llm_safetensors_find(ref, "input_ids")->shape[0];
    llm_tensor *b = (llm_tensor *)calloc((size_t)n, sizeof *b), *f = (llm_tensor *)calloc((size_t)n, sizeof *f);
    for (int64_t i = 0; i < n; i++) {
        const llm_tensor *t = llm_safetensors_tensor(st, i);
        int64_t ne = llm_tensor_n_elems(t);
        b[i] = *t, f[i] = *t;
        b[i].dtype = LLM_DTYPE_BF16, b[i].n_bytes = (size_t)ne * 2, b[i].data = malloc(b[i].n_bytes);
        f[i].data = malloc(f[i].n_bytes);
        llm_convert(LLM_DTYPE_BF16, b[i].data, LLM_DTYPE_F32, t->data, ne);
        llm_convert(LLM_DTYPE_F32, f[i].data, LLM_DTYPE_BF16, b[i].data, ne);
    }
    CHECK(temp_model(dir16, fam, b, n) && temp_model(dir32, fam, f, n));
    float *l16 = prompt_logits(dir16, llm_safetensors_find(ref, "input_ids"));
    float *l32 = prompt_logits(dir32, llm_safetensors_find(ref, "input_ids"));
    double err = l16 && l32 ? max_abs_diff(l16, l32, (long)(T * V)) : 1;
    printf("  %-14s bf16 vs f32 of the same values: max |logits diff| %.3g\n", fam, err);
    CHECK(err <= 1e-4);
    temp_model_remove(dir16);
    temp_model_remove(dir32);
    for (int64_t i = 0; i < n; i++) { free(b[i].data); free(f[i].data); }
    free(b), free(f), free(l16), free(l32);
    llm_safetensors_close(st);
    llm_safetensors_close(ref);
}

static void test_bf16_weights(void) {
    static const char *const fams[] = { "gpt2", "phi3", "gemma3", "deepseek_v3", "qwen2_moe" };
    for (int i = 0; i < (int)(sizeof fams / sizeof fams[0]); i++) check_bf16(fams[i]);
}

/* Rope scaling types no fixture model uses, against transformers' formulas
   (modeling_rope_utils.py, evaluated in float32 for n_rot 16, theta 1e4; the numbers below
   were computed in numpy from those formulas). Marked: tests llm__ internals. */
static void check_freq(const llm__rope_cfg *r, int64_t n_ctx_train, int64_t seq_len, const float want[8], double want_mscale) {
    float f[8], ms;
    llm__rope_inv_freq(r, 16, n_ctx_train, seq_len, f, &ms);
    for (int i = 0; i < 8; i++) CHECK_NEAR(f[i] / want[i], 1.0, 2e-6);
    CHECK_NEAR(ms, want_mscale, 1e-6);
}

static void test_rope_scaling(void) {
    llm__rope_cfg r = { .type = LLM__ROPE_LINEAR, .theta = 1e4, .factor = 4 };
    static const float linear[8] = { 0.25f, 0.079056941f, 0.0250000004f, 0.00790569466f, 0.00249999994f, 0.000790569466f, 0.000250000012f, 7.90569466e-05f };
    check_freq(&r, 128, 0, linear, 1.0);
    r = (llm__rope_cfg){ .type = LLM__ROPE_YARN, .theta = 1e4, .factor = 4, .orig_ctx = 32, .beta_fast = 32, .beta_slow = 1, .truncate = true };
    static const float yarn[8] = { 1, 0.197642356f, 0.0250000004f, 0.00790569466f, 0.00249999994f, 0.000790569466f, 0.000250000012f, 7.90569466e-05f };
    check_freq(&r, 128, 0, yarn, 1.138629436111989);
    r.factor = 40, r.mscale = 1.0, r.mscale_all_dim = 0.707;      /* DeepSeek's two mscales */
    static const float yarn_ms[8] = { 1, 0.162066728f, 0.00249999994f, 0.000790569466f, 0.000250000012f, 7.90569466e-05f, 2.49999994e-05f, 7.90569447e-06f };
    check_freq(&r, 128, 0, yarn_ms, 1.0857263992561355);
    r = (llm__rope_cfg){ .type = LLM__ROPE_DYNAMIC, .theta = 1e4, .factor = 2 };
    static const float dyn[8] = { 1, 0.270296127f, 0.0730599985f, 0.0197478328f, 0.00533776265f, 0.00144277664f, 0.000389976922f, 0.000105409257f };
    static const float plain[8] = { 1, 0.316227764f, 0.1f, 0.0316227764f, 0.01f, 0.00316227764f, 0.001f, 0.000316227764f };
    check_freq(&r, 32, 64, dyn, 1.0);                                /* past the trained 32: base grows */
    check_freq(&r, 32, 32, plain, 1.0);                              /* within it: plain rope */
    float sf[8], lf[8];
    for (int i = 0; i < 8; i++) sf[i] = 1 + 0.1f * (float)i, lf[i] = 2 + 0.5f * (float)i;
    r = (llm__rope_cfg){ .type = LLM__ROPE_LONGROPE, .theta = 1e4, .factor = 4, .orig_ctx = 32, .short_factor = sf, .long_factor = lf, .n_factors = 8 };
    static const float lshort[8] = { 1, 0.287479758f, 0.0833333358f, 0.0243252143f, 0.00714285718f, 0.00210818532f, 0.000624999986f, 0.000186016332f };
    static const float llong[8] = { 0.5f, 0.126491114f, 0.0333333351f, 0.00903507881f, 0.00249999994f, 0.000702728401f, 0.000199999995f, 5.74959558e-05f };
    check_freq(&r, 128, 32, lshort, 1.1832159566199232);
    check_freq(&r, 128, 33, llong, 1.1832159566199232);
}

/* An unknown model_type names itself and every supported one. */
static void test_unsupported_arch(void) {
    char tmp[] = "/tmp/llm_arch_XXXXXX", path[600];
    CHECK(mkdtemp(tmp) != NULL);
    snprintf(path, sizeof path, "%s/config.json", tmp);
    FILE *f = fopen(path, "w");
    if (f) { fputs("{\"model_type\": \"frobnicator\", \"vocab_size\": 8, \"hidden_size\": 8, \"num_hidden_layers\": 1, "
                   "\"num_attention_heads\": 2, \"intermediate_size\": 8}", f); fclose(f); }
    llm_model *m = NULL;
    CHECK(llm_model_load(tmp, NULL, &m) == LLM_ERR_UNSUPPORTED);
    CHECK(strstr(llm_last_error(), "frobnicator") != NULL);
    int n = 0;
    for (const char *const *a = llm_architectures(); *a; a++, n++) CHECK(strstr(llm_last_error(), *a) != NULL);
    CHECK_EQ_INT(n, 21);   /* 20 families + the Gemma 3 multimodal wrapper */
    remove(path);
    remove(tmp);
}

static void test_errors(void) {
    llm_model *m = NULL;
    CHECK(llm_model_load(fixture("models/dev/does-not-exist"), NULL, &m) != LLM_OK);
    CHECK(m == NULL);
    llm_model_desc md = { .config_file = "generation_config.json" };   /* a config missing every field */
    CHECK(llm_model_load(fixture("models/dev/llama"), &md, &m) == LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), "generation_config.json") && strstr(llm_last_error(), "vocab_size"));
}

/* The fast bf16 prefill (activations rounded to bf16, on AVX512-BF16 CPUs; elsewhere this
   is the exact path again): logits within 2% of their range (|ref| <= 2.9 here) of the f32
   reference, the same greedy continuation. The kernel itself is checked exactly against the
   scalar one on rounded activations (test_kernels). */
static void test_bf16_fast(void) {
    static const family fast = { "llama_bf16", 0.06, NULL, false, NULL };
    llm_set_exact_bf16(false);
    check_family(&fast, "config.json", 2, NULL);
    llm_set_exact_bf16(true);
}

int main(void) {
    llm_set_exact_bf16(true);   /* exact f32 arithmetic: what the 1e-4 tolerances assume */
    RUN(test_families);
    RUN(test_thread_count_invariance);
    RUN(test_stacked_experts);
    RUN(test_rope_scaling);
    RUN(test_gpt2_bare_names);
    RUN(test_bf16_weights);
    RUN(test_bf16_fast);
    RUN(test_gemma3_multimodal);
    RUN(test_unsupported_arch);
    RUN(test_errors);
    return TEST_MAIN_END();
}
