/* llm_convert_model with params.gguf: fixture models written as GGUF files.
   - f16: llama_f16 (weights already f16 values) gives its reference logits;
   - q4_0 / q8_0: the matrices hold exactly llm_quantize's blocks (Wq/Wk permuted), the
     output matrix follows llama-quantize's rule, norms stay f32; logits stay near;
   - MLX 4-bit groups of 32 (f16 scales) become q4_1 blocks whose values are the MLX values
     bit for bit; other MLX widths are dequantized and quantized again;
   - tokenizer.json -> tokenizer.ggml.*: the GGUF tokenizer encodes the reference cases like
     the tokenizer.json one (llama3, qwen3: byte-level BPE; llama2: SentencePiece);
   - a GGUF re-typed (llama-quantize's job) equals the direct conversion;
   - llama-quantize's file types (Q4_K_M, ...): every tensor gets the type llama-quantize
     gives it (tables made with llama-quantize by tests/tools/gguf_mix_compare.py, where the
     bytes were identical too), on a synthetic 8-layer model whose rows fit k-quant blocks
     (dense and 8 experts) and on fixture models (rows of 64: the fallbacks); Q4_K_M logits;
   - every family we write gives transformers' logits from an f32 GGUF (gemma 1-3 included);
   - bad arguments are refused with a reason and leave no file behind (atomic writes);
   - the `gguf` Python package (llama.cpp's reader) reads the files back, names, types,
     shapes and values (tests/tools/gguf_py_check.py; skipped without python3 + gguf). */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static char tmp_dir[64];

static const char *tmp_path(const char *name) {
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp_dir, name);
    return p[k];
}

static llm_status to_gguf(const char *src, llm_dtype type, const char *out) {
    llm_convert_params p = { .src = src, .gguf = out, .gguf_type = type };
    return llm_convert_model(&p);
}

static void test_f16(void) {
    const char *out = tmp_path("f16.gguf");
    CHECK_OK(to_gguf(fixture("models/dev/llama_f16"), LLM_DTYPE_F16, out));
    llm_gguf *g = NULL;
    CHECK_OK(llm_gguf_open(out, &g));
    const llm_tensor *q = g ? llm_gguf_find_tensor(g, "blk.0.attn_q.weight") : NULL, *n = g ? llm_gguf_find_tensor(g, "blk.0.attn_norm.weight") : NULL;
    CHECK(q && q->dtype == LLM_DTYPE_F16 && n && n->dtype == LLM_DTYPE_F32);
    int64_t ft = -1;
    if (g) llm_gguf_get_int(g, "general.file_type", &ft);
    CHECK_EQ_INT(ft, 1);
    llm_gguf_close(g);
    double e = ref_logits_err(out, "llama_f16");
    printf("  llama_f16 -> GGUF f16: max |logits - ref| %.3g\n", e);
    CHECK(e <= 1e-3);
    remove(out);
}

/* blk.0.<name> of the GGUF holds llm_quantize(type) of the source's layer-0 tensor */
static void check_blocks(const llm_gguf *g, const llm_safetensors *src, const char *gname, const char *hfname, llm_dtype type) {
    const llm_tensor *t = llm_gguf_find_tensor(g, gname), *s = llm_safetensors_find(src, hfname);
    CHECK(t && s && t->dtype == type);
    if (!t || !s || t->dtype != type) return;
    int64_t n = llm_tensor_n_elems(s);
    void *want = malloc(llm_dtype_n_bytes(type, n));
    CHECK_OK(llm_quantize(type, (const float *)s->data, want, n));
    CHECK(t->n_bytes == llm_dtype_n_bytes(type, n) && !memcmp(t->data, want, t->n_bytes));
    free(want);
}

static void test_block_types(void) {
    static const struct { llm_dtype type; double tol; } cases[] = { { LLM_DTYPE_Q8_0, 0.15 }, { LLM_DTYPE_Q4_0, 1.5 }, { LLM_DTYPE_Q4_K, 1.5 } };
    char srcp[1100];
    snprintf(srcp, sizeof srcp, "%s/model.safetensors", fixture("models/dev/llama"));
    llm_safetensors *src = NULL;
    CHECK_OK(llm_safetensors_open(srcp, &src));
    for (int c = 0; c < LLM__COUNT(cases) && src; c++) {
        llm_dtype ty = cases[c].type;
        const char *out = tmp_path("q.gguf");
        CHECK_OK(to_gguf(fixture("models/dev/llama"), ty, out));
        llm_gguf *g = NULL;
        CHECK_OK(llm_gguf_open(out, &g));
        if (!g) continue;
        bool k = ty == LLM_DTYPE_Q4_K;      /* rows of 64 or 160: not whole 256-blocks, so q5_0 (llama-quantize) */
        check_blocks(g, src, "blk.0.ffn_gate.weight", "model.layers.0.mlp.gate_proj.weight", k ? LLM_DTYPE_Q5_0 : ty);
        check_blocks(g, src, "token_embd.weight", "model.embed_tokens.weight", k ? LLM_DTYPE_Q5_0 : ty);
        /* llama-quantize: the output matrix q6_K, or q8_0 when its rows (64) are not 256-blocks */
        check_blocks(g, src, "output.weight", "lm_head.weight", LLM_DTYPE_Q8_0);
        const llm_tensor *n = llm_gguf_find_tensor(g, "output_norm.weight"), *q = llm_gguf_find_tensor(g, "blk.0.attn_q.weight");
        CHECK(n && n->dtype == LLM_DTYPE_F32 && q && q->dtype == (k ? LLM_DTYPE_Q5_0 : ty));
        llm_gguf_close(g);
        double e = ref_logits_err(out, "llama");
        printf("  llama -> GGUF %s: max |logits - f32 ref| %.3g\n", llm_dtype_get(ty)->name, e);
        CHECK(e <= cases[c].tol);
        remove(out);
    }
    llm_safetensors_close(src);
}

/* An MLX model quantized to 4 bits in groups of 32 with f16 scales -> q4_1 without loss. */
static void test_mlx_q4_1(void) {
    const char *mlx = tmp_path("mlx"), *out = tmp_path("q41.gguf");
    llm_convert_params p = { .src = fixture("models/dev/qwen3"), .dst = mlx, .quantize = true, .bits = 4, .group_size = 32,
                             .set_dtype = true, .dtype = LLM_DTYPE_F16 };
    CHECK_OK(llm_convert_model(&p));
    CHECK_OK(to_gguf(mlx, LLM_DTYPE_Q4_1, out));
    char sp[300];
    snprintf(sp, sizeof sp, "%s/model.safetensors", mlx);
    llm_safetensors *st = NULL;
    llm_gguf *g = NULL;
    CHECK_OK(llm_safetensors_open(sp, &st));
    CHECK_OK(llm_gguf_open(out, &g));
    static const char *const names[][2] = { { "model.layers.1.mlp.down_proj", "blk.1.ffn_down.weight" },
                                            { "model.layers.0.self_attn.q_proj", "blk.0.attn_q.weight" } };
    for (int i = 0; i < 2 && st && g; i++) {
        char n[200];
        snprintf(n, sizeof n, "%s.weight", names[i][0]);
        const llm_tensor *w = llm_safetensors_find(st, n);
        snprintf(n, sizeof n, "%s.scales", names[i][0]);
        const llm_tensor *sc = llm_safetensors_find(st, n);
        snprintf(n, sizeof n, "%s.biases", names[i][0]);
        const llm_tensor *bi = llm_safetensors_find(st, n), *t = llm_gguf_find_tensor(g, names[i][1]);
        CHECK(w && sc && bi && t && t->dtype == LLM_DTYPE_Q4_1);
        if (!w || !sc || !bi || !t) continue;
        int64_t rows = w->shape[0], cols = w->shape[1] * 8, ng = rows * cols / 32;
        float *s32 = malloc((size_t)ng * 4), *b32 = malloc((size_t)ng * 4), *want = malloc((size_t)(rows * cols) * 4), *got = malloc((size_t)(rows * cols) * 4);
        llm_convert(LLM_DTYPE_F32, s32, sc->dtype, sc->data, ng);     /* w = scale * q + bias, in f32 like ggml */
        llm_convert(LLM_DTYPE_F32, b32, bi->dtype, bi->data, ng);
        CHECK_OK(llm_mlx_dequantize(w->data, s32, b32, rows, cols, 4, 32, LLM_DTYPE_F32, want));
        CHECK_OK(llm_dequantize(LLM_DTYPE_Q4_1, t->data, got, rows * cols));
        CHECK(!memcmp(want, got, (size_t)(rows * cols) * 4));
        free(s32); free(b32); free(want); free(got);
    }
    llm_gguf_close(g);
    llm_safetensors_close(st);
    double e = ref_logits_err(out, "qwen3");
    printf("  qwen3 -> MLX 4-bit g32 f16 -> GGUF q4_1: max |logits - f32 ref| %.3g\n", e);
    CHECK(e <= 3.0);      /* 4-bit weights: the bound test_convert uses for MLX 4-bit models */
    double em = ref_logits_err(mlx, "qwen3");
    printf("  (the MLX model itself: %.3g)\n", em);
    CHECK(fabs(e - em) <= 0.1);   /* the same weights, the output matrix aside (q8_0) */
    /* 4-bit groups of 64 have no lossless ggml form: dequantized, then q4_0 */
    p.group_size = 64;
    CHECK_OK(llm_convert_model(&p));
    CHECK_OK(to_gguf(mlx, LLM_DTYPE_Q4_0, out));
    e = ref_logits_err(out, "qwen3");
    printf("  qwen3 -> MLX 4-bit g64 -> GGUF q4_0: max |logits - f32 ref| %.3g\n", e);
    CHECK(e <= 3.0);
    remove(out);
    const char *files[] = { "model.safetensors", "config.json", "generation_config.json" };
    for (int i = 0; i < 3; i++) { snprintf(sp, sizeof sp, "%s/%s", mlx, files[i]); remove(sp); }
    rmdir(mlx);
}

/* Llama's Wq/Wk rows are permuted block for block: the q4_1 GGUF computes what the MLX model does. */
static void test_mlx_q4_1_llama(void) {
    const char *mlx = tmp_path("mlxl"), *out = tmp_path("q41l.gguf");
    llm_convert_params p = { .src = fixture("models/dev/llama"), .dst = mlx, .quantize = true, .bits = 4, .group_size = 32,
                             .set_dtype = true, .dtype = LLM_DTYPE_F16 };
    CHECK_OK(llm_convert_model(&p));
    CHECK_OK(to_gguf(mlx, LLM_DTYPE_Q4_1, out));
    double e = ref_logits_err(out, "llama"), em = ref_logits_err(mlx, "llama");
    printf("  llama -> MLX 4-bit g32 f16 -> GGUF q4_1: max |logits - f32 ref| %.3g (MLX model %.3g)\n", e, em);
    CHECK(fabs(e - em) <= 0.1);
    remove(out);
    char sp[300];
    const char *files[] = { "model.safetensors", "config.json", "generation_config.json" };
    for (int i = 0; i < 3; i++) { snprintf(sp, sizeof sp, "%s/%s", mlx, files[i]); remove(sp); }
    rmdir(mlx);
}

/* GGUF -> GGUF (llama-quantize): an f32 GGUF re-typed to q4_0 equals converting to q4_0
   directly, tensor for tensor and key for key (file_type aside). */
static void test_requantize(void) {
    const char *f32 = tmp_path("rq32.gguf"), *direct = tmp_path("rqd.gguf"), *re = tmp_path("rqr.gguf");
    CHECK_OK(to_gguf(fixture("models/dev/llama"), LLM_DTYPE_F32, f32));
    CHECK_OK(to_gguf(fixture("models/dev/llama"), LLM_DTYPE_Q4_0, direct));
    CHECK_OK(to_gguf(f32, LLM_DTYPE_Q4_0, re));
    llm_gguf *a = NULL, *b = NULL;
    CHECK_OK(llm_gguf_open(direct, &a));
    CHECK_OK(llm_gguf_open(re, &b));
    if (a && b) {
        CHECK_EQ_INT(llm_gguf_n_tensors(a), llm_gguf_n_tensors(b));
        CHECK_EQ_INT(llm_gguf_n_kv(a), llm_gguf_n_kv(b));
        int same = 0;
        for (int64_t i = 0; i < llm_gguf_n_tensors(a); i++) {
            const llm_tensor *x = llm_gguf_tensor(a, i), *y = llm_gguf_find_tensor(b, x->name);
            same += y && x->dtype == y->dtype && x->n_bytes == y->n_bytes && !memcmp(x->data, y->data, x->n_bytes);
        }
        CHECK_EQ_INT(same, llm_gguf_n_tensors(a));
        int64_t ft = -1;
        llm_gguf_get_int(b, "general.file_type", &ft);
        CHECK_EQ_INT(ft, 2);
    }
    llm_gguf_close(a);
    llm_gguf_close(b);
    remove(f32);
    remove(direct);
    remove(re);
}

/* ---- llama-quantize's file types ---- */

/* The model gguf_mix_compare.py --synthetic [--experts E] writes: llama, 8 layers of 4-row
   matrices with rows of 256, 8 heads on 2 KV heads; the expert stacks [E, 4, 256]. */
static void write_synthetic(const char *path, int experts) {
    static const char *const mats[] = { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down" };
    llm_gguf_kv kv[10];
    int nkv = 0;
    kv[nkv++] = llm_gguf_kv_str("general.architecture", "llama");
    static const char *const keys[] = { "llama.block_count", "llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
                                        "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.dimension_count" };
    static const uint32_t vals[] = { 8, 64, 256, 256, 8, 2, 32 };
    for (int i = 0; i < 7; i++) kv[nkv++] = llm_gguf_kv_u32(keys[i], vals[i]);
    kv[nkv++] = llm_gguf_kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (experts) kv[nkv++] = llm_gguf_kv_u32("llama.expert_count", (uint32_t)experts);
    llm_tensor t[100];
    char names[100][48];
    float *data[100];
    int n = 0;
    for (int il = -1; il < 9; il++)
        for (int k = 0; k < (il < 0 || il == 8 ? 1 : 9); k++) {
            bool vec = il >= 0 && il < 8 && k >= 7, exps = experts && il >= 0 && il < 8 && k >= 4 && k < 7;
            int64_t e = exps ? experts : 1, rows = il < 0 || il == 8 ? 32 : vec ? 1 : 4;
            if (il < 0) snprintf(names[n], sizeof names[n], "token_embd.weight");
            else if (il == 8) snprintf(names[n], sizeof names[n], "output.weight");
            else snprintf(names[n], sizeof names[n], "blk.%d.%s%s.weight", il, k < 7 ? mats[k] : k == 7 ? "attn_norm" : "ffn_norm", exps ? "_exps" : "");
            data[n] = (float *)malloc((size_t)(e * rows * 256) * sizeof(float));
            for (int64_t i = 0; i < e * rows * 256; i++) data[n][i] = vec ? 1.0f : 0.1f * sinf(0.37f * (float)i + (float)n);
            t[n] = (llm_tensor){ .name = names[n], .dtype = LLM_DTYPE_F32, .n_dims = vec ? 1 : exps ? 3 : 2, .data = data[n],
                                 .n_bytes = (size_t)(e * rows * 256) * sizeof(float) };
            int64_t shape[3] = { vec ? 256 : exps ? e : rows, exps ? rows : 256, 256 };
            memcpy(t[n].shape, shape, sizeof shape);
            n++;
        }
    CHECK_OK(llm_gguf_write(path, kv, nkv, t, n));
    for (int i = 0; i < n; i++) free(data[i]);
}

/* The types llama-quantize gave the synthetic model: token_embd and output, then per layer
   attn_k attn_output attn_q attn_v ffn_down ffn_gate ffn_up (_exps with experts); '2'..'6'
   q2_K..q6_K, '0' q4_0, '8' q8_0. */
static const struct { const char *mix; llm_dtype type; int ftype; const char *dense, *moe8; } mix_cases[] = {
    { "Q2_K", 0, 10, "26 2324322 2324322 2324322 2324322 2324322 2324322 2324322 2324322",
                     "26 8528322 8528322 8528322 8528322 8528322 8528322 8528322 8528322" },
    { "q3_k_s", 0, 11, "36 3333333 3333333 3333333 3333333 3333333 3333333 3333333 3333333",
                       "36 8538333 8538333 8538333 8538333 8538333 8538333 8538333 8538333" },
    { "Q3_K_M", 0, 12, "36 3435433 3435433 3434433 3434433 3434433 3434433 3434433 3434433",
                       "36 8538433 8538433 8538433 8538433 8538433 8538433 8538433 8538433" },
    { "Q3_K_L", 0, 13, "36 3535533 3535533 3535533 3535533 3535533 3535533 3535533 3535533",
                       "36 8338533 8338533 8338533 8338533 8338533 8338533 8338533 8338533" },
    { "Q4_K_S", 0, 14, "46 4445544 4445444 4445444 4445444 4444444 4444444 4444444 4444444",
                       "46 8548544 8548444 8548444 8548444 8548444 8548444 8548444 8548444" },
    { "Q4_K_M", 0, 15, "46 4446644 4444444 4444444 4446644 4444444 4444444 4446644 4446644",
                       "46 8548644 8548444 8548444 8548644 8548444 8548444 8548644 8548644" },
    { "Q5_K_S", 0, 16, "56 5555555 5555555 5555555 5555555 5555555 5555555 5555555 5555555",
                       "56 8558555 8558555 8558555 8558555 8558555 8558555 8558555 8558555" },
    { "Q5_K_M", 0, 17, "56 5556655 5555555 5555555 5556655 5555555 5555555 5556655 5556655",
                       "56 8558655 8558555 8558555 8558655 8558555 8558555 8558655 8558655" },
    { "Q6_K", 0, 18, "66 6666666 6666666 6666666 6666666 6666666 6666666 6666666 6666666",
                     "66 8668666 8668666 8668666 8668666 8668666 8668666 8668666 8668666" },
    { NULL, LLM_DTYPE_Q4_0, 2, "06 0000000 0000000 0000000 0000000 0000000 0000000 0000000 0000000",
                               "06 8008000 8008000 8008000 8008000 8008000 8008000 8008000 8008000" },
    { NULL, LLM_DTYPE_Q8_0, 7, "88 8888888 8888888 8888888 8888888 8888888 8888888 8888888 8888888",
                               "88 8888888 8888888 8888888 8888888 8888888 8888888 8888888 8888888" },
};

static llm_dtype mix_code(char c) {
    switch (c) {
    case '0': return LLM_DTYPE_Q4_0;
    case '2': return LLM_DTYPE_Q2_K;
    case '3': return LLM_DTYPE_Q3_K;
    case '4': return LLM_DTYPE_Q4_K;
    case '5': return LLM_DTYPE_Q5_K;
    case '6': return LLM_DTYPE_Q6_K;
    case '8': return LLM_DTYPE_Q8_0;
    default: return LLM_DTYPE_COUNT;
    }
}

/* `want` (a mix_cases string) against the types in the file at path */
static void check_mix_types(const char *path, const char *want, bool moe, int ftype) {
    static const char *const mats[] = { "attn_k", "attn_output", "attn_q", "attn_v", "ffn_down", "ffn_gate", "ffn_up" };
    llm_gguf *g = NULL;
    CHECK_OK(llm_gguf_open(path, &g));
    if (!g) return;
    int bad = 0;
    for (int i = 0, k = 0; want[i]; i++) {
        if (want[i] == ' ') continue;
        char name[64];
        if (k < 2) snprintf(name, sizeof name, "%s.weight", k ? "output" : "token_embd");
        else snprintf(name, sizeof name, "blk.%d.%s%s.weight", (k - 2) / 7, mats[(k - 2) % 7], moe && (k - 2) % 7 >= 4 ? "_exps" : "");
        k++;
        const llm_tensor *t = llm_gguf_find_tensor(g, name);
        if (!t || t->dtype != mix_code(want[i])) {
            if (!bad++) printf("  %s: %s is %s, llama-quantize: %c\n", path, name, t ? llm_dtype_get(t->dtype)->name : "missing", want[i]);
        }
    }
    CHECK_EQ_INT(bad, 0);
    int64_t ft = -1;
    llm_gguf_get_int(g, "general.file_type", &ft);
    CHECK_EQ_INT(ft, ftype);
    llm_gguf_close(g);
}

static void test_mix_synthetic(void) {
    const char *src[2] = { tmp_path("syn.gguf"), tmp_path("syn_moe.gguf") }, *out = tmp_path("mix.gguf");
    write_synthetic(src[0], 0);
    write_synthetic(src[1], 8);
    for (int c = 0; c < LLM__COUNT(mix_cases); c++)
        for (int moe = 0; moe < 2; moe++) {
            llm_convert_params p = { .src = src[moe], .gguf = out, .gguf_type = mix_cases[c].type, .gguf_mix = mix_cases[c].mix };
            CHECK_OK(llm_convert_model(&p));
            check_mix_types(out, moe ? mix_cases[c].moe8 : mix_cases[c].dense, moe, mix_cases[c].ftype);
        }
    remove(src[0]);
    remove(src[1]);
    remove(out);
}

/* Fixture models (rows of 64, 160, 80: every k-quant falls back) written straight from
   safetensors with a file type: each tensor's type as llama-quantize chose it from our
   f16 GGUF of the model (its iq4_nl is our q4_0), the rest f32; the logits stay near. */
static void test_mix_fixtures(void) {
    static const struct { const char *model, *mix; double tol; const char *types; } cases[] = {
        { "llama", "Q4_K_M", 1.5, "output=q8_0 token_embd=q5_0 0.attn_k=q5_0 0.attn_output=q5_0 0.attn_q=q5_0 0.attn_v=q5_0 "
          "0.ffn_down=q5_0 0.ffn_gate=q5_0 0.ffn_up=q5_0 1.attn_k=q5_0 1.attn_output=q5_0 1.attn_q=q5_0 1.attn_v=q8_0 "
          "1.ffn_down=q8_0 1.ffn_gate=q5_0 1.ffn_up=q5_0" },
        { "phi3", "Q4_K_M", 1.5, "output=q8_0 token_embd=q5_0 0.attn_output=q5_0 0.attn_qkv=q5_1 0.ffn_down=q5_0 0.ffn_up=q5_0 "
          "1.attn_output=q5_0 1.attn_qkv=q5_1 1.ffn_down=q8_0 1.ffn_up=q5_0" },
        { "qwen2_moe", "Q3_K_M", 3.0, "output=q8_0 token_embd=q4_0 0.attn_k=q4_0 0.attn_output=q5_0 0.attn_q=q4_0 0.attn_v=q5_1 "
          "0.ffn_down_exps=f16 0.ffn_down_shexp=q5_0 0.ffn_gate_exps=q4_0 0.ffn_gate_shexp=q4_0 0.ffn_up_exps=q4_0 0.ffn_up_shexp=q4_0 "
          "1.attn_k=q4_0 1.attn_output=q5_0 1.attn_q=q4_0 1.attn_v=q5_1 1.ffn_down_exps=f16 1.ffn_down_shexp=q5_0 1.ffn_gate_exps=q4_0 "
          "1.ffn_gate_shexp=q4_0 1.ffn_up_exps=q4_0 1.ffn_up_shexp=q4_0" },
    };
    for (int c = 0; c < LLM__COUNT(cases); c++) {
        char dir[256], *types = strdup(cases[c].types);
        snprintf(dir, sizeof dir, "models/dev/%s", cases[c].model);
        const char *out = tmp_path("mixfx.gguf");
        llm_convert_params p = { .src = fixture(dir), .gguf = out, .gguf_mix = cases[c].mix };
        CHECK_OK(llm_convert_model(&p));
        llm_gguf *g = NULL;
        CHECK_OK(llm_gguf_open(out, &g));
        int n_listed = 0, bad = 0;
        for (char *tok = strtok(types, " "); tok && g; tok = strtok(NULL, " "), n_listed++) {
            char name[80], *eq = strchr(tok, '=');
            *eq = 0;
            snprintf(name, sizeof name, "%s%s.weight", isdigit((unsigned char)tok[0]) ? "blk." : "", tok);
            const llm_tensor *t = llm_gguf_find_tensor(g, name);
            if (!t || strcmp(llm_dtype_get(t->dtype)->name, eq + 1)) bad++, printf("  %s %s: %s is not %s\n", cases[c].model, cases[c].mix, name, eq + 1);
        }
        int n_quant = 0;
        for (int64_t i = 0; g && i < llm_gguf_n_tensors(g); i++) n_quant += llm_gguf_tensor(g, i)->dtype != LLM_DTYPE_F32;
        CHECK_EQ_INT(bad, 0);
        CHECK_EQ_INT(n_quant, n_listed);                  /* and all the others f32 */
        llm_gguf_close(g);
        free(types);
        double e = ref_logits_err(out, cases[c].model);
        printf("  %s -> GGUF %s: max |logits - f32 ref| %.3g\n", cases[c].model, cases[c].mix, e);
        CHECK(e <= cases[c].tol);
        remove(out);
    }
}

/* Every family we write, as f32: transformers' logits (gemma's norms + 1, gemma2's soft
   caps, gemma3's sliding and global layers with two rope bases and its layer pattern,
   Llama 3 rope_freqs, ...). Not mistral: llama.cpp's llama architecture has no sliding
   window, and the fixture's (8) is shorter than its prompt. */
static void test_families(void) {
    static const char *const families[] = { "llama", "llama3_rope", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
                                            "gemma", "gemma2", "gemma3", "phi3" };
    for (int c = 0; c < LLM__COUNT(families); c++) {
        char dir[256];
        snprintf(dir, sizeof dir, "models/dev/%s", families[c]);
        const char *out = tmp_path("fam.gguf");
        CHECK_OK(to_gguf(fixture(dir), LLM_DTYPE_F32, out));
        double e = ref_logits_err(out, families[c]);
        printf("  %-11s -> GGUF f32: max |logits - ref| %.3g\n", families[c], e);
        CHECK(e <= 1e-4);
        remove(out);
    }
}

/* A model directory of the dev model `model` with the real tokenizer `tok` (links). */
static const char *with_tokenizer(const char *model, const char *tok) {
    const char *dir = tmp_path("tokmodel");
    static const char *const from_model[] = { "config.json", "model.safetensors" }, *const from_tok[] = { "tokenizer.json", "tokenizer_config.json" };
    char a[PATH_MAX + 100], b[300], m[PATH_MAX], t[PATH_MAX];
    mkdir(dir, 0700);
    CHECK(realpath(fixture(model), m) && realpath(fixture(tok), t));    /* links from /tmp need absolute targets */
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/%s", m, from_model[i]);
        snprintf(b, sizeof b, "%s/%s", dir, from_model[i]);
        CHECK(symlink(a, b) == 0);
        snprintf(a, sizeof a, "%s/%s", t, from_tok[i]);
        snprintf(b, sizeof b, "%s/%s", dir, from_tok[i]);
        if (access(a, R_OK) == 0) CHECK(symlink(a, b) == 0);
    }
    return dir;
}

static void rm_tokmodel(const char *dir) {
    static const char *const files[] = { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json" };
    char p[300];
    for (int i = 0; i < 4; i++) { snprintf(p, sizeof p, "%s/%s", dir, files[i]); remove(p); }
    rmdir(dir);
}

/* The GGUF's tokenizer encodes tok's reference cases (add_special true and false) as HF does. */
static void check_vocab(const char *model, const char *tok, const char *want_model, const char *want_pre, int allowed) {
    const char *dir = with_tokenizer(model, tok), *out = tmp_path("tok.gguf");
    CHECK_OK(to_gguf(dir, LLM_DTYPE_F16, out));
    llm_gguf *g = NULL;
    const char *gm = "", *gp = "";
    char m[32] = "", pre[32] = "";
    CHECK_OK(llm_gguf_open(out, &g));
    if (g) { llm_gguf_get_str(g, "tokenizer.ggml.model", &gm); llm_gguf_get_str(g, "tokenizer.ggml.pre", &gp); }
    snprintf(m, sizeof m, "%s", gm);
    snprintf(pre, sizeof pre, "%s", gp);
    llm_gguf_close(g);
    CHECK_STR(m, want_model);
    CHECK_STR(pre, want_pre);
    char cp[1200];
    snprintf(cp, sizeof cp, "%s/cases.json", fixture(tok));
    cJSON *cases = NULL;
    llm_tokenizer *t = NULL;
    CHECK_OK(llm__json_load(cp, &cases));
    CHECK_OK(llm_tokenizer_load(out, &t));
    int n = 0, bad = 0;
    for (const cJSON *c = cases && t ? llm__json_get(cases, "cases")->child : NULL; c; c = c->next)
        for (int sp = 0; sp < 2; sp++) {
            const char *text = llm__json_str(c, "text", "");
            const cJSON *want = llm__json_get(c, sp ? "ids_with_special" : "ids");
            llm_token ids[4096];
            int64_t k = 0;
            CHECK_OK(llm_tokenize(t, text, strlen(text), sp, ids, 4096, &k));
            bool same = k == cJSON_GetArraySize(want);
            int64_t i = 0;
            for (const cJSON *e = want ? want->child : NULL; e && same; e = e->next, i++) same = ids[i] == (llm_token)e->valuedouble;
            if (!same && getenv("VERBOSE")) printf("    differs: '%.60s' (special %d)\n", text, sp);
            n++, bad += !same;
        }
    printf("  %s tokenizer via GGUF (%s, pre %s): %d of %d encodings as HF\n", tok, m, pre, n - bad, n);
    CHECK(n > 0 && bad == allowed);
    llm_tokenizer_free(t);
    cJSON_Delete(cases);
    remove(out);
    rm_tokmodel(dir);
}

static void test_vocab_llama3(void) { check_vocab("models/dev/llama", "tokenizers/llama3", "gpt2", "llama-bpe", 0); }
/* Qwen's NFC normalizer has no GGUF key (llama.cpp does not normalize either): the one
   text not in NFC ("combining e + U+0301"), with and without specials, differs */
static void test_vocab_qwen3(void) { check_vocab("models/dev/qwen3", "tokenizers/qwen3", "gpt2", "qwen2", 2); }
static void test_vocab_llama2(void) { check_vocab("models/dev/llama", "tokenizers/llama2", "llama", "", 0); }

static bool dir_empty(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n == 0;
}

/* Refused with a reason, and nothing written (not even a temporary file). */
static void test_bad_args(void) {
    const char *out = tmp_path("bad.gguf"), *llama = fixture("models/dev/llama");
    CHECK_EQ_INT(to_gguf(llama, LLM_DTYPE_Q8_K, out), LLM_ERR_INVALID_ARG);
    CHECK(strstr(llm_last_error(), "q8_K") != NULL);
    CHECK_EQ_INT(to_gguf(llama, LLM_DTYPE_MLX_AFFINE, out), LLM_ERR_INVALID_ARG);
    CHECK_EQ_INT(to_gguf(llama, (llm_dtype)1000, out), LLM_ERR_INVALID_ARG);
    CHECK_EQ_INT(to_gguf(llama, LLM_DTYPE_F16, tmp_dir), LLM_ERR_INVALID_ARG);      /* a directory */
    CHECK_EQ_INT(to_gguf(fixture("models/dev/gpt2"), LLM_DTYPE_F16, out), LLM_ERR_UNSUPPORTED);
    CHECK(strstr(llm_last_error(), "gpt2") != NULL);
    CHECK(to_gguf(tmp_path("missing"), LLM_DTYPE_F16, out) != LLM_OK);
    llm_convert_params p = { .gguf = out };
    CHECK_EQ_INT(llm_convert_model(&p), LLM_ERR_INVALID_ARG);
    llm_convert_params mix = { .src = llama, .gguf = out, .gguf_mix = "Q4_K_X" };          /* not a llama-quantize type */
    CHECK_EQ_INT(llm_convert_model(&mix), LLM_ERR_INVALID_ARG);
    CHECK(strstr(llm_last_error(), "Q4_K_X") != NULL);
    CHECK(to_gguf(llama, LLM_DTYPE_F16, "/nonexistent-dir/x.gguf") != LLM_OK);          /* cannot write */
    CHECK(dir_empty(tmp_dir));
}

/* llama.cpp's own reader (gguf-py) on our files: tests/tools/gguf_py_check.py */
static void test_gguf_py(void) {
    if (system("python3 -c 'import gguf, numpy' >/dev/null 2>&1") != 0) SKIP("python3 with the gguf and numpy packages not found");
    static const struct { const char *model, *tok; llm_dtype type; } cases[] = {
        /* one vocabulary only: gguf-py reads big ones slowly (a 128k one with its merges: 25 s) */
        { "models/dev/llama", "tokenizers/llama2", LLM_DTYPE_Q4_0 }, { "models/dev/qwen3", "", LLM_DTYPE_Q8_0 },
        { "models/dev/gemma2", "", LLM_DTYPE_F16 }, { "models/dev/qwen3_moe", "", LLM_DTYPE_F32 },
    };
    for (int c = 0; c < LLM__COUNT(cases); c++) {
        const char *dir = *cases[c].tok ? with_tokenizer(cases[c].model, cases[c].tok) : fixture(cases[c].model), *out = tmp_path("py.gguf");
        CHECK_OK(to_gguf(dir, cases[c].type, out));
        char cmd[3000];
        snprintf(cmd, sizeof cmd, "python3 tests/tools/gguf_py_check.py '%s' '%s'", out, fixture(cases[c].model));
        int rc = system(cmd);
        printf("  gguf-py on %s %s: exit %d\n", cases[c].model, llm_dtype_get(cases[c].type)->name, rc);
        CHECK(rc == 0);
        remove(out);
        if (*cases[c].tok) rm_tokmodel(dir);
    }
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/llm_cvg_XXXXXX");
    if (!mkdtemp(tmp_dir)) return 1;
    RUN(test_f16);
    RUN(test_block_types);
    RUN(test_mlx_q4_1);
    RUN(test_mlx_q4_1_llama);
    RUN(test_requantize);
    RUN(test_mix_synthetic);
    RUN(test_mix_fixtures);
    RUN(test_families);
    RUN(test_vocab_llama3);
    RUN(test_vocab_qwen3);
    RUN(test_vocab_llama2);
    RUN(test_bad_args);
    RUN(test_gguf_py);
    rmdir(tmp_dir);
    return TEST_MAIN_END();
}
