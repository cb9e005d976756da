/* llm_convert_model: fixtures converted to MLX directories load back and compute what they
   should: a bf16 cast gives the llama_bf16 fixture's reference logits (computed by
   transformers from the same rounded weights), a 4-bit quantization stores exactly the
   bytes llm_mlx_quantize (bit-exact with mlx) gives and keeps the logits near the float ones;
   whole models (mixed recipes too) hash like mlx_lm's; -d gives mlx's dequantized values;
   a small shard limit gives mlx_lm's shard files and index. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

#include <unistd.h>

static void rm_dir(const char *dir) {
    const char *files[] = { "model.safetensors", "config.json", "generation_config.json" };
    for (int i = 0; i < 3; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        remove(p);
    }
    rmdir(dir);
}

static void test_cast_bf16(void) {
    char dir[] = "/tmp/llm_conv_XXXXXX", src[1024];
    CHECK(mkdtemp(dir));
    snprintf(src, sizeof src, "%sllama", fixture("models/dev/"));
    llm_convert_params p = { .src = src, .dst = dir, .set_dtype = true, .dtype = LLM_DTYPE_BF16 };
    CHECK_OK(llm_convert_model(&p));
    double e = ref_logits_err(dir, "llama_bf16");
    printf("  llama -> bf16: max |logits - llama_bf16 ref| %.3g\n", e);
    CHECK(e <= 1e-4);
    rm_dir(dir);
}

static void test_quantize_4bit(void) {
    char dir[] = "/tmp/llm_conv_XXXXXX", src[1024], p1[1100], p2[1100];
    CHECK(mkdtemp(dir));
    snprintf(src, sizeof src, "%sllama", fixture("models/dev/"));
    llm_convert_params p = { .src = src, .dst = dir, .quantize = true, .bits = 4, .group_size = 64 };
    CHECK_OK(llm_convert_model(&p));
    snprintf(p1, sizeof p1, "%s/model.safetensors", src);
    snprintf(p2, sizeof p2, "%s/model.safetensors", dir);
    llm_safetensors *a = NULL, *b = NULL;
    CHECK_OK(llm_safetensors_open(p1, &a));
    CHECK_OK(llm_safetensors_open(p2, &b));
    const char *name = "model.layers.1.mlp.gate_proj";   /* [160, 64] */
    char n[256];
    snprintf(n, sizeof n, "%s.weight", name);
    const llm_tensor *w = a ? llm_safetensors_find(a, n) : NULL, *qw = b ? llm_safetensors_find(b, n) : NULL;
    snprintf(n, sizeof n, "%s.scales", name);
    const llm_tensor *qs = b ? llm_safetensors_find(b, n) : NULL;
    CHECK(w && qw && qs && qw->dtype == LLM_DTYPE_U32 && qs->dtype == LLM_DTYPE_F32);
    if (w && qw && qs) {
        size_t wb = llm_mlx_weight_bytes(160, 64, 4);
        void *ew = malloc(wb), *es = malloc(64 * 160 / 64 * 4), *eb = malloc(64 * 160 / 64 * 4);
        CHECK_OK(llm_mlx_quantize((const float *)w->data, 160, 64, 4, 64, LLM_DTYPE_F32, ew, es, eb));
        CHECK(qw->n_bytes == wb && !memcmp(qw->data, ew, wb) && !memcmp(qs->data, es, qs->n_bytes));
        free(ew); free(es); free(eb);
    }
    /* norms stay, and so do matrices whose rows the group size does not divide (as in mlx_lm) */
    CHECK(b && !llm_safetensors_find(b, "model.norm.scales") && !llm_safetensors_find(b, "model.layers.1.mlp.down_proj.scales"));
    llm_safetensors_close(a);
    llm_safetensors_close(b);
    double e = ref_logits_err(dir, "llama");
    printf("  llama -> 4-bit g64: max |logits - float ref| %.3g\n", e);
    CHECK(e <= 1.2);
    rm_dir(dir);
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const llm_tensor *const *)a)->name, (*(const llm_tensor *const *)b)->name);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ULL;
    return h;
}

/* Our quantized fixtures equal mlx_lm's quantize_model (mlx 0.32.4, mlx-lm): FNV-1a 64 over
   every tensor in name order (name bytes, then data bytes), computed there from
   tree_flatten(model.parameters()) after quantize_model(model, config, group_size, bits). */
static void test_same_as_mlx_lm(void) {
    static const struct { const char *family; int bits, group_size, n_tensors; uint64_t hash; const char *recipe, *mode; llm_dtype dt; } cases[] = {
        { "llama", 4, 64, 49, 0x10c6d03eebaba4a6ULL, NULL, NULL, LLM_DTYPE_F32 },
        { "qwen3", 8, 32, 57, 0x14a8d6e7de2626c0ULL, NULL, NULL, LLM_DTYPE_F32 },
        { "gemma3", 4, 32, 61, 0x0bf9df55d4919928ULL, NULL, NULL, LLM_DTYPE_F32 },
        { "qwen2_moe", 4, 64, 81, 0x135b8c7c2ee6bf5fULL, NULL, NULL, LLM_DTYPE_F32 },   /* experts stacked into switch_mlp */
        { "mixtral", 8, 32, 59, 0x2847210a83791888ULL, NULL, NULL, LLM_DTYPE_F32 },     /* w1/w2/w3 stacked and renamed */
        /* mixed recipes (convert.py's mixed_quant_predicate; tests/tools/mlx_convert_hash.py) */
        { "llama", 4, 32, 53, 0xeaa5c8529dfd5a32ULL, "mixed_3_6", NULL, LLM_DTYPE_F32 },
        { "qwen2_moe", 4, 64, 81, 0x909727df2c2f4e63ULL, "mixed_2_6", NULL, LLM_DTYPE_F32 },
        /* the fp modes (mlx_convert_hash.py --mode M [--dtype D], bits and group size 0: the mode's);
           a bf16/f16 model is quantized in that dtype's arithmetic */
        { "llama", 0, 0, 37, 0x2b11aab4c14b18f5ULL, NULL, "mxfp4", LLM_DTYPE_F32 },
        { "llama", 0, 0, 37, 0xf6fbf0d9a9815002ULL, NULL, "nvfp4", LLM_DTYPE_F32 },
        { "llama", 0, 0, 37, 0x84d5ad6eab677b55ULL, NULL, "mxfp8", LLM_DTYPE_F32 },
        { "qwen3", 0, 0, 41, 0x6480517aa78165c4ULL, NULL, "mxfp4", LLM_DTYPE_F32 },
        { "gemma3", 0, 0, 45, 0xd223fa33dbc4a48aULL, NULL, "nvfp4", LLM_DTYPE_F32 },
        { "qwen2_moe", 0, 0, 63, 0x4c36ea5777103aaaULL, NULL, "nvfp4", LLM_DTYPE_F32 },
        { "mixtral", 0, 0, 41, 0xedcd8f590d12e493ULL, NULL, "mxfp8", LLM_DTYPE_F32 },
        { "llama", 0, 0, 37, 0x3e4f271ad7d9ecb4ULL, NULL, "mxfp4", LLM_DTYPE_BF16 },
        { "llama", 0, 0, 37, 0xf7cb69ac6bc876fdULL, NULL, "nvfp4", LLM_DTYPE_BF16 },
        { "llama", 0, 0, 37, 0xca0faa32b8b117a5ULL, NULL, "mxfp8", LLM_DTYPE_BF16 },
        { "qwen3", 0, 0, 41, 0x22fdd8f0bdc52f0dULL, NULL, "mxfp8", LLM_DTYPE_F16 },
    };
    for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
        char dir[] = "/tmp/llm_conv_XXXXXX", src[1024], p2[1100];
        CHECK(mkdtemp(dir));
        snprintf(src, sizeof src, "%s%s", fixture("models/dev/"), cases[c].family);
        llm_convert_params p = { .src = src, .dst = dir, .quantize = true, .bits = cases[c].bits, .group_size = cases[c].group_size,
                                 .quant_predicate = cases[c].recipe, .q_mode = cases[c].mode,
                                 .set_dtype = cases[c].dt != LLM_DTYPE_F32, .dtype = cases[c].dt };   /* the fixtures are f32 */
        CHECK_OK(llm_convert_model(&p));
        snprintf(p2, sizeof p2, "%s/model.safetensors", dir);
        llm_safetensors *st = NULL;
        CHECK_OK(llm_safetensors_open(p2, &st));
        int64_t n = st ? llm_safetensors_n_tensors(st) : 0;
        const llm_tensor **t = (const llm_tensor **)malloc((size_t)(n + 1) * sizeof *t);
        for (int64_t i = 0; i < n; i++) t[i] = llm_safetensors_tensor(st, i);
        qsort(t, (size_t)n, sizeof *t, by_name);
        uint64_t h = 0xcbf29ce484222325ULL;
        for (int64_t i = 0; i < n; i++) h = fnv1a(fnv1a(h, t[i]->name, strlen(t[i]->name)), t[i]->data, t[i]->n_bytes);
        printf("  %-9s %-9s %-4s %d-bit g%d: %lld tensors, hash %016llx (mlx_lm %016llx)\n", cases[c].family,
               cases[c].recipe ? cases[c].recipe : cases[c].mode ? cases[c].mode : "", llm_dtype_get(cases[c].dt)->name, cases[c].bits,
               cases[c].group_size, (long long)n, (unsigned long long)h, (unsigned long long)cases[c].hash);
        CHECK_EQ_INT(n, cases[c].n_tensors);
        CHECK(h == cases[c].hash);
        free(t);
        llm_safetensors_close(st);
        CHECK(ref_logits_err(dir, cases[c].family) <= (cases[c].recipe ? 8.0 : 3.0));   /* loads back (stacked experts, per-module bits; 2-bit is coarse) */
        rm_dir(dir);
    }
}

/* -d: a 4-bit model back to float: mlx's dequantized values in the scales' dtype, no
   "quantization" in config.json, and the same logits as the quantized model. */
static void test_dequantize(void) {
    char q[] = "/tmp/llm_conv_XXXXXX", d[] = "/tmp/llm_conv_XXXXXX", src[1024], p1[1100];
    CHECK(mkdtemp(q) && mkdtemp(d));
    snprintf(src, sizeof src, "%sllama", fixture("models/dev/"));
    llm_convert_params p = { .src = src, .dst = q, .quantize = true, .bits = 4, .group_size = 32, .set_dtype = true, .dtype = LLM_DTYPE_BF16 };
    CHECK_OK(llm_convert_model(&p));
    llm_convert_params pd = { .src = q, .dst = d, .dequantize = true };
    CHECK_OK(llm_convert_model(&pd));
    CHECK_EQ_INT(llm_convert_model(&(llm_convert_params){ .src = q, .dst = d, .quantize = true }), LLM_ERR_INVALID_ARG);   /* already quantized */
    CHECK(strstr(llm_last_error(), "already quantized") != NULL);
    snprintf(p1, sizeof p1, "%s/model.safetensors", q);
    llm_safetensors *a = NULL, *b = NULL;
    CHECK_OK(llm_safetensors_open(p1, &a));
    snprintf(p1, sizeof p1, "%s/model.safetensors", d);
    CHECK_OK(llm_safetensors_open(p1, &b));
    const llm_tensor *w = a ? llm_safetensors_find(a, "model.layers.0.mlp.up_proj.weight") : NULL,
                     *sc = a ? llm_safetensors_find(a, "model.layers.0.mlp.up_proj.scales") : NULL,
                     *bi = a ? llm_safetensors_find(a, "model.layers.0.mlp.up_proj.biases") : NULL,
                     *f = b ? llm_safetensors_find(b, "model.layers.0.mlp.up_proj.weight") : NULL;
    CHECK(w && sc && bi && f && f->dtype == LLM_DTYPE_BF16 && f->n_dims == 2 && f->shape[0] == 160 && f->shape[1] == 64);
    CHECK(b && !llm_safetensors_find(b, "model.layers.0.mlp.up_proj.scales"));
    if (w && sc && bi && f) {
        float want[160 * 64], got[160 * 64];
        CHECK_OK(llm_mlx_dequantize(w->data, sc->data, bi->data, 160, 64, 4, 32, LLM_DTYPE_BF16, want));
        llm_convert(LLM_DTYPE_F32, got, LLM_DTYPE_BF16, f->data, 160 * 64);
        CHECK(!memcmp(want, got, sizeof want));
    }
    llm_safetensors_close(a);
    llm_safetensors_close(b);
    char cp[1100], *text = NULL;
    size_t len = 0;
    snprintf(cp, sizeof cp, "%s/config.json", d);
    CHECK_OK(llm__read_file(NULL, cp, &text, &len));
    CHECK(text && !strstr(text, "quantization"));
    llm__free(NULL, text);
    double eq = ref_logits_err(q, "llama"), ed = ref_logits_err(d, "llama");
    printf("  llama 4-bit g32: max |logits - ref| %.3g quantized, %.3g dequantized\n", eq, ed);
    CHECK(fabs(eq - ed) <= 0.05);
    rm_dir(q);
    rm_dir(d);
}

/* mixed_3_6 on 2 layers: layer 1 is one of the favoured ones, so its v_proj and down_proj
   get 6 bits, as lm_head; config.json records every module. A bad recipe is refused. */
static void test_mixed_config(void) {
    char dir[] = "/tmp/llm_conv_XXXXXX", src[1024], cp[1100];
    CHECK(mkdtemp(dir));
    snprintf(src, sizeof src, "%sllama", fixture("models/dev/"));
    llm_convert_params p = { .src = src, .dst = dir, .quantize = true, .group_size = 32, .quant_predicate = "mixed_3_7" };
    CHECK_EQ_INT(llm_convert_model(&p), LLM_ERR_INVALID_ARG);
    CHECK(strstr(llm_last_error(), "mixed_3_7") != NULL);
    p.quant_predicate = "mixed_3_6";
    CHECK_OK(llm_convert_model(&p));
    snprintf(cp, sizeof cp, "%s/config.json", dir);
    cJSON *cfg = NULL;
    CHECK_OK(llm__json_load(cp, &cfg));
    const cJSON *q = llm__json_get(cfg, "quantization");
    CHECK_EQ_INT(llm__json_int(llm__json_get(q, "lm_head"), "bits", 0), 6);
    CHECK_EQ_INT(llm__json_int(llm__json_get(q, "model.layers.1.self_attn.v_proj"), "bits", 0), 6);
    CHECK_EQ_INT(llm__json_int(llm__json_get(q, "model.layers.0.self_attn.v_proj"), "bits", 0), 3);
    CHECK_EQ_INT(llm__json_int(llm__json_get(q, "model.embed_tokens"), "bits", 0), 3);
    CHECK(cJSON_GetArraySize(q) == 3 + 16 && cJSON_GetArraySize(llm__json_get(cfg, "quantization_config")) == 3 + 16);
    cJSON_Delete(cfg);
    CHECK(ref_logits_err(dir, "llama") <= 3.0);    /* loads with its per-module bits */
    rm_dir(dir);
}

/* The logits of the model at path over the prompt of models/dev/llama (n_out floats). */
static void llama_prompt_logits(const char *path, float *out, size_t n_out) {
    char refp[1024];
    snprintf(refp, sizeof refp, "%sllama/ref.safetensors", fixture("models/dev/"));
    llm_safetensors *ref = NULL;
    llm_model *m = NULL;
    llm_session *s = NULL;
    memset(out, 0, n_out * sizeof *out);
    CHECK_OK(llm_safetensors_open(refp, &ref));
    CHECK_OK(llm_model_load(path, NULL, &m));
    llm_session_desc sd = { .n_ctx = 64, .n_threads = 2 };
    if (m) CHECK_OK(llm_session_create(m, &sd, &s));
    const llm_tensor *ids = ref ? llm_safetensors_find(ref, "input_ids") : NULL;
    if (s && ids && (size_t)ids->shape[0] * 512 <= n_out) CHECK_OK(llm_session_eval(s, (const llm_token *)ids->data, ids->shape[0], out));
    llm_session_destroy(s);
    llm_model_free(m);
    llm_safetensors_close(ref);
}

/* q_mode "mxfp4": u8 scales and no biases, the mode in config.json, and the quantized model
   (the fp4 kernels) computes what the same model dequantized to f32 computes. Bits or a
   group size other than the mode's, a mixed recipe and an unknown mode are refused. */
static void test_quantize_mxfp4(void) {
    char q[] = "/tmp/llm_conv_XXXXXX", d[] = "/tmp/llm_conv_XXXXXX", src[1024], path[1100];
    CHECK(mkdtemp(q) && mkdtemp(d));
    snprintf(src, sizeof src, "%sllama", fixture("models/dev/"));
    llm_convert_params p = { .src = src, .dst = q, .quantize = true, .q_mode = "mxfp4" };
    CHECK_OK(llm_convert_model(&p));
    snprintf(path, sizeof path, "%s/model.safetensors", q);
    llm_safetensors *st = NULL;
    CHECK_OK(llm_safetensors_open(path, &st));
    const llm_tensor *sc = st ? llm_safetensors_find(st, "model.layers.0.mlp.up_proj.scales") : NULL;
    CHECK(sc && sc->dtype == LLM_DTYPE_U8 && sc->shape[0] == 160 && sc->shape[1] == 64 / 32);
    CHECK(st && !llm_safetensors_find(st, "model.layers.0.mlp.up_proj.biases") && llm_safetensors_find(st, "model.embed_tokens.scales"));
    llm_safetensors_close(st);
    cJSON *cfg = NULL;
    snprintf(path, sizeof path, "%s/config.json", q);
    CHECK_OK(llm__json_load(path, &cfg));
    for (int i = 0; i < 2; i++) {
        const cJSON *qc = llm__json_get(cfg, i ? "quantization_config" : "quantization");
        CHECK(cJSON_GetArraySize(qc) == 3 && llm__json_int(qc, "group_size", 0) == 32 && llm__json_int(qc, "bits", 0) == 4);
        CHECK_STR(llm__json_str(qc, "mode", ""), "mxfp4");
    }
    cJSON_Delete(cfg);
    CHECK_OK(llm_convert_model(&(llm_convert_params){ .src = q, .dst = d, .dequantize = true, .set_dtype = true, .dtype = LLM_DTYPE_F32 }));
    static float lq[24 * 512], ld[24 * 512];
    llama_prompt_logits(q, lq, 24 * 512);
    llama_prompt_logits(d, ld, 24 * 512);
    double e = max_abs_diff(lq, ld, 24 * 512), eref = ref_logits_err(q, "llama");
    printf("  llama mxfp4: max |logits - dequantized model's| %.3g, |logits - float ref| %.3g\n", e, eref);
    CHECK(e <= 1e-3 && eref <= 3.0);
    static const llm_convert_params bad[] = {
        { .quantize = true, .q_mode = "mxfp4", .bits = 8 }, { .quantize = true, .q_mode = "nvfp4", .group_size = 32 },
        { .quantize = true, .q_mode = "mxfp8", .quant_predicate = "mixed_3_6" }, { .quantize = true, .q_mode = "fp4" },
    };
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        llm_convert_params b = bad[i];
        b.src = src, b.dst = d;
        CHECK_EQ_INT(llm_convert_model(&b), LLM_ERR_INVALID_ARG);
    }
    CHECK(strstr(llm_last_error(), "'fp4' is unknown") != NULL);
    rm_dir(q);
    rm_dir(d);
}

/* A small shard limit: model-0000i-of-0000N.safetensors + index, loading like one file. */
static void test_shards(void) {
    char dir[] = "/tmp/llm_conv_XXXXXX", src[1024], p1[1100];
    CHECK(mkdtemp(dir));
    snprintf(src, sizeof src, "%sllama", fixture("models/dev/"));
    llm_convert_params p = { .src = src, .dst = dir, .max_shard_bytes = 100000 };
    CHECK_OK(llm_convert_model(&p));
    int n = 0;
    for (int i = 1; i < 100; i++) {
        snprintf(p1, sizeof p1, "%s/model-%05d-of-", dir, i);
        char probe[1200];
        bool found = false;
        for (int k = 1; k < 100 && !found; k++) { snprintf(probe, sizeof probe, "%s%05d.safetensors", p1, k); found = access(probe, R_OK) == 0; }
        if (!found) break;
        n++;
    }
    snprintf(p1, sizeof p1, "%s/model.safetensors.index.json", dir);
    cJSON *idx = NULL;
    CHECK_OK(llm__json_load(p1, &idx));
    const cJSON *map = llm__json_get(idx, "weight_map"), *meta = llm__json_get(idx, "metadata");
    printf("  llama in shards of 100 kB: %d shards, %d tensors in the index, %.0f bytes, %.0f parameters\n", n,
           cJSON_GetArraySize(map), llm__json_num(meta, "total_size", 0), llm__json_num(meta, "total_parameters", 0));
    CHECK(n > 2 && cJSON_GetArraySize(map) == 21 && llm__json_num(meta, "total_size", 0) == 4 * llm__json_num(meta, "total_parameters", 0));
    CHECK(!strcmp(map->child->string, "lm_head.weight"));    /* sorted by name */
    cJSON_Delete(idx);
    CHECK(ref_logits_err(dir, "llama") <= 1e-4);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -r '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    llm_set_exact_bf16(true);   /* exact f32 arithmetic: what the 1e-4 tolerances assume */
    RUN(test_cast_bf16);
    RUN(test_quantize_4bit);
    RUN(test_same_as_mlx_lm);
    RUN(test_dequantize);
    RUN(test_mixed_config);
    RUN(test_quantize_mxfp4);
    RUN(test_shards);
    return TEST_MAIN_END();
}
