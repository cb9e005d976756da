/* MLX-quantized models (mlx_lm.convert -q layout): a fixture is quantized here with our
   quantizer (bit-exact with mlx.core.quantize, see test_mlx_quant.c) into a temporary
   directory, as mlx_lm writes it: every Linear/Embedding weight whose row length the group
   size divides becomes <name>.weight u32 + .scales + .biases, and config.json gets a
   "quantization" block. Then the model is loaded and its logits compared with
   - the same model with every quantized matrix dequantized to f32 (what mlx computes with
     the quantized model, up to summation order): the binding is exact;
   - the float model's transformers reference: the error quantization itself makes. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

typedef struct qrecipe {
    int bits, group_size;
    llm_dtype sdtype;        /* dtype of scales and biases */
    bool dequantized;        /* write the dequantized f32 weights instead (the exact reference) */
    const char *skip;        /* a module name part left in float (a mixed recipe's `false`), or NULL */
    bool mla_split;          /* DeepSeek: kv_b_proj split per head as mlx_lm does (embed_q, unembed_out) */
} qrecipe;

static bool quantizable(const llm_tensor *t, const qrecipe *r) {
    size_t n = strlen(t->name);
    return t->n_dims == 2 && t->dtype == LLM_DTYPE_F32 && n > 7 && !strcmp(t->name + n - 7, ".weight") &&
           t->shape[1] % r->group_size == 0 && !strstr(t->name, "norm") && !(r->skip && strstr(t->name, r->skip));
}

/* out[] gets the tensors of t quantized by r (1 or 3 of them, names and data malloc'ed). */
static int64_t quantize_tensor(const llm_tensor *t, const qrecipe *r, llm_tensor *out) {
    out[0] = *t;
    out[0].name = strdup(t->name);
    out[0].data = malloc(t->n_bytes);
    if (!quantizable(t, r)) { memcpy(out[0].data, t->data, t->n_bytes); return 1; }
    int64_t rows = t->shape[0], cols = t->shape[1], ng = rows * (cols / r->group_size);
    size_t wb = llm_mlx_weight_bytes(rows, cols, r->bits), pb = llm_dtype_n_bytes(r->sdtype, ng);
    void *w = malloc(wb), *sc = malloc(pb), *bi = malloc(pb);
    CHECK_OK(llm_mlx_quantize((const float *)t->data, rows, cols, r->bits, r->group_size, r->sdtype, w, sc, bi));
    if (r->dequantized) {
        CHECK_OK(llm_mlx_dequantize(w, sc, bi, rows, cols, r->bits, r->group_size, r->sdtype, (float *)out[0].data));
        free(w); free(sc); free(bi);
        return 1;
    }
    free(out[0].data);
    free((void *)out[0].name);
    char base[512];
    snprintf(base, sizeof base, "%.*s", (int)strlen(t->name) - 7, t->name);
    const char *suffix[3] = { "weight", "scales", "biases" };
    void *data[3] = { w, sc, bi };
    for (int i = 0; i < 3; i++) {
        char n[600];
        snprintf(n, sizeof n, "%s.%s", base, suffix[i]);
        out[i] = (llm_tensor){ .name = strdup(n), .dtype = i ? r->sdtype : LLM_DTYPE_U32, .n_dims = 2,
                               .shape = { rows, i ? cols / r->group_size : cols * r->bits / 32 }, .data = data[i],
                               .n_bytes = i ? pb : wb };
    }
    return 3;
}

/* mlx_lm's DeepseekV3.sanitize: kv_b_proj [H (nope + Dv), R] -> embed_q [H, R, nope] (each
   head's Wuk transposed) and unembed_out [H, Dv, R], quantized like any matrix (as [H rows, cols]
   stacks) where the group size divides their rows. */
static int64_t split_kv_b(const llm_tensor *t, const qrecipe *r, llm_tensor *out) {
    const int64_t H = 4, nope = 16, Dv = 16, R = t->shape[1], per = nope + Dv;   /* the fixture's sizes */
    CHECK(t->shape[0] == H * per);
    char base[512];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(t->name) - strlen("kv_b_proj.weight")), t->name);
    float *eq = malloc((size_t)(H * R * nope) * sizeof(float)), *uo = malloc((size_t)(H * Dv * R) * sizeof(float));
    const float *kv = (const float *)t->data;
    for (int64_t h = 0; h < H; h++) {
        for (int64_t i = 0; i < nope; i++)
            for (int64_t c = 0; c < R; c++) eq[(h * R + c) * nope + i] = kv[(h * per + i) * R + c];
        memcpy(uo + h * Dv * R, kv + (h * per + nope) * R, (size_t)(Dv * R) * sizeof(float));
    }
    char n1[600], n2[600];
    snprintf(n1, sizeof n1, "%sembed_q.weight", base);
    snprintf(n2, sizeof n2, "%sunembed_out.weight", base);
    llm_tensor parts[2] = { { .name = n1, .dtype = LLM_DTYPE_F32, .n_dims = 2, .shape = { H * R, nope }, .data = eq, .n_bytes = (size_t)(H * R * nope) * 4 },
                            { .name = n2, .dtype = LLM_DTYPE_F32, .n_dims = 2, .shape = { H * Dv, R }, .data = uo, .n_bytes = (size_t)(H * Dv * R) * 4 } };
    int64_t k = 0;
    for (int i = 0; i < 2; i++) {
        int64_t got = quantize_tensor(&parts[i], r, out + k);
        for (int64_t j = k; j < k + got; j++) {   /* back to stacks [H, rows / H, ...] */
            out[j].n_dims = 3, out[j].shape[2] = out[j].shape[1], out[j].shape[1] = out[j].shape[0] / H, out[j].shape[0] = H;
        }
        k += got;
    }
    free(eq);
    free(uo);
    return k;
}

/* dir <- the fixture family quantized by r. */
static void write_quantized(const char *family, const qrecipe *r, const char *dir) {
    char src[1024], p[1100];
    snprintf(src, sizeof src, "%s%s/model.safetensors", fixture("models/dev/"), family);
    llm_safetensors *st = NULL;
    CHECK_OK(llm_safetensors_open(src, &st));
    if (!st) return;
    int64_t n = llm_safetensors_n_tensors(st), k = 0;
    llm_tensor *out = (llm_tensor *)calloc((size_t)(3 * n), sizeof *out);
    for (int64_t i = 0; i < n; i++) {
        const llm_tensor *t = llm_safetensors_tensor(st, i);
        k += r->mla_split && strstr(t->name, "kv_b_proj.weight") ? split_kv_b(t, r, out + k) : quantize_tensor(t, r, out + k);
    }
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    CHECK_OK(llm_safetensors_write(p, out, k, NULL, 0));
    for (int64_t i = 0; i < k; i++) { free((void *)out[i].name); free(out[i].data); }
    free(out);
    llm_safetensors_close(st);
    cJSON *cfg = NULL;   /* config.json + the block mlx_lm writes */
    snprintf(src, sizeof src, "%s%s/config.json", fixture("models/dev/"), family);
    CHECK_OK(llm__json_load(src, &cfg));
    if (!r->dequantized) {
        cJSON *q = cJSON_AddObjectToObject(cfg, "quantization");
        cJSON_AddNumberToObject(q, "group_size", r->group_size);
        cJSON_AddNumberToObject(q, "bits", r->bits);
        cJSON_AddStringToObject(q, "mode", "affine");
    }
    char *text = cJSON_PrintUnformatted(cfg);
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "wb");
    CHECK(f && text);
    if (f) { fputs(text, f); fclose(f); }
    free(text);
    cJSON_Delete(cfg);
}

static int argmax(const float *x, int64_t n) {
    int best = 0;
    for (int64_t i = 1; i < n; i++) if (x[i] > x[best]) best = (int)i;
    return best;
}

/* Logits of the fixture's prompt [T, V] and the first n_greedy greedy ids of the model in dir. */
static float *run_model(const char *dir, const llm_tensor *ids, int n_greedy, int *greedy) {
    llm_model *m = NULL;
    llm_session *s = NULL;
    CHECK_OK(llm_model_load(dir, NULL, &m));
    if (!m) return NULL;
    int64_t T = ids->shape[0], V = llm_model_get_info(m)->n_vocab;
    llm_session_desc sd = { .n_ctx = 64, .n_threads = 2, .n_batch = 7 };
    CHECK_OK(llm_session_create(m, &sd, &s));
    float *logits = (float *)malloc((size_t)(T * V) * sizeof(float));
    CHECK_OK(llm_session_eval(s, (const llm_token *)ids->data, T, logits));
    for (int i = 0; i < n_greedy; i++) {
        llm_token t = greedy[i] = argmax(llm_session_logits(s), V);
        CHECK_OK(llm_session_eval(s, &t, 1, NULL));
    }
    llm_session_destroy(s);
    llm_model_free(m);
    return logits;
}

typedef struct qcase {
    const char *family;
    qrecipe r;
    double tol_float;        /* max |logits - float reference| with the fast kernels (quantization error) */
    double tol_fast;         /* max |fast - dequantized|: 0.1, more where a router's top-k flips (MoE) */
} qcase;

/* With the reference kernels the quantized model computes what its dequantized f32 copy
   does: to f32 rounding when scales are f32; f16/bf16 scales differ a little because the
   kernels take scale * q + bias in f32 where dequantizing rounds each step to the dtype (as
   mlx's dequantize does; mlx's own quantized matmul does not round either). The fast
   kernels round activations to 8 bits. */
static void check_case(const qcase *c) {
    char tmpl[] = "/tmp/llm_mlx_XXXXXX", dq[] = "/tmp/llm_mlxdq_XXXXXX", refp[1024];
    CHECK(mkdtemp(tmpl) && mkdtemp(dq));
    qrecipe rd = c->r;
    rd.dequantized = true;
    write_quantized(c->family, &c->r, tmpl);
    write_quantized(c->family, &rd, dq);
    snprintf(refp, sizeof refp, "%s%s/ref.safetensors", fixture("models/dev/"), c->family);
    llm_safetensors *ref = NULL;
    CHECK_OK(llm_safetensors_open(refp, &ref));
    const llm_tensor *ids = llm_safetensors_find(ref, "input_ids"), *want = llm_safetensors_find(ref, "logits");
    const int32_t *gref = (const int32_t *)llm_safetensors_find(ref, "greedy_ids")->data;
    int gq[4] = { 0 }, gd[4] = { 0 }, gf[4] = { 0 };
    llm_set_reference_kernels(true);
    float *lq = run_model(tmpl, ids, 4, gq), *ld = run_model(dq, ids, 4, gd);
    llm_set_reference_kernels(false);
    float *lf = run_model(tmpl, ids, 4, gf);
    long n = (long)(want->n_bytes / sizeof(float));
    if (lq && ld && lf) {
        double e_exact = max_abs_diff(lq, ld, n), e_fast = max_abs_diff(lf, ld, n);
        double e_float = max_abs_diff(lf, (const float *)want->data, n);
        int same = 0;
        while (same < 4 && gf[same] == gref[same]) same++;
        printf("  %-10s %d-bit g%-3d %-4s: |q - dequantized| %.2g (fast kernels %.2g), |q - float ref| %.3g, "
               "greedy = float ref for %d/4\n", c->family, c->r.bits, c->r.group_size, llm_dtype_get(c->r.sdtype)->name,
               e_exact, e_fast, e_float, same);
        CHECK(e_exact <= (c->r.sdtype == LLM_DTYPE_F32 ? 1e-4 : 5e-2));
        CHECK(e_fast <= c->tol_fast);
        CHECK(e_float <= c->tol_float);
        for (int i = 0; i < 4; i++) CHECK_EQ_INT(gq[i], gd[i]);
    }
    free(lq);
    free(ld);
    free(lf);
    llm_safetensors_close(ref);
    const char *files[] = { "model.safetensors", "config.json" };
    for (int i = 0; i < 2; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/%s", tmpl, files[i]); remove(p);
        snprintf(p, sizeof p, "%s/%s", dq, files[i]); remove(p);
    }
    rmdir(tmpl);
    rmdir(dq);
}

/* Float-reference tolerances are what these random-weight fixtures show (their logits are
   far more sensitive than a trained model's): 8-bit 0.04-0.1, 4-bit ~1. */
static void test_quantized_families(void) {
    static const qcase cases[] = {
        { "llama", { 8, 64, LLM_DTYPE_F32, false, NULL, false }, 0.1, 0.1 },
        { "llama", { 4, 32, LLM_DTYPE_BF16, false, NULL, false }, 1.2, 0.1 },
        { "qwen3", { 4, 64, LLM_DTYPE_F32, false, NULL, false }, 2.0, 0.1 },
        { "gemma3", { 8, 64, LLM_DTYPE_BF16, false, NULL, false }, 0.15, 0.1 },
        { "mixtral", { 4, 32, LLM_DTYPE_F32, false, NULL, false }, 3.0, 0.1 },
        { "qwen2_moe", { 4, 64, LLM_DTYPE_F16, false, "mlp.gate.", false }, 2.0, 1.0 },
        { "phi3", { 8, 64, LLM_DTYPE_F32, false, NULL, false }, 0.1, 0.1 },
        { "deepseek_v3", { 8, 32, LLM_DTYPE_F16, false, NULL, false }, 0.2, 0.5 },   /* kv_b_proj quantized */
        { "deepseek_v3", { 8, 32, LLM_DTYPE_F32, false, NULL, true }, 0.2, 0.5 },   /* split: embed_q float, unembed_out quantized */
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) check_case(&cases[i]);
}

int main(void) {
    RUN(test_quantized_families);
    return TEST_MAIN_END();
}
