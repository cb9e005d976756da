/* ---- >>convert-gguf: a Hugging Face / MLX directory -> one GGUF file (08_api_convert.h) ----
   The model is opened twice: llm_model_load gives the hyperparameters (every config form
   our loader reads), the safetensors reader the tensors as stored. Each tensor becomes rows
   of f32 (a cast, or mlx's dequantization), gets llama.cpp's name, layout and type, and is
   quantized with our ggml quantizers into a buffer the writer owns; llm_gguf_write then
   writes everything atomically. */
#include "10_internal.h"
#include "08_api_convert.h"

#ifndef LLM_NO_CJSON

/* ---- the file being assembled: metadata, tensors, and the memory they point to ---- */

typedef struct llm__gw {
    llm_gguf_kv *kv;
    int64_t n_kv, cap_kv;
    llm_tensor *t;
    int64_t n_t, cap_t;
    void **own;
    int64_t n_own, cap_own;
    bool oom;
    const char *arch;        /* llama.cpp's architecture name, the prefix of the hparam keys */
    cJSON *docs[4];          /* parsed JSON whose strings the metadata borrows */
    int n_docs;
} llm__gw;

static bool llm__gw_grow(void **p, int64_t *cap, int64_t n, size_t elem) {
    if (n < *cap) return true;
    int64_t c = *cap ? 2 * *cap : 64;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return false;
    *p = q, *cap = c;
    return true;
}

/* p, freed with the writer; NULL (a failed allocation) marks the writer out of memory. */
static void *llm__gw_own(llm__gw *w, void *p) {
    if (!p || !llm__gw_grow((void **)&w->own, &w->cap_own, w->n_own, sizeof *w->own)) {
        free(p);
        w->oom = true;
        return NULL;
    }
    return w->own[w->n_own++] = p;
}

static const char *llm__gw_str(llm__gw *w, const char *fmt, ...) LLM__PRINTF(2, 3);
static const char *llm__gw_str(llm__gw *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n < 0 ? NULL : (char *)llm__gw_own(w, malloc((size_t)n + 1));
    if (!s) return "";
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void llm__gw_kv(llm__gw *w, llm_gguf_kv kv) {
    if (!llm__gw_grow((void **)&w->kv, &w->cap_kv, w->n_kv, sizeof *w->kv)) { w->oom = true; return; }
    w->kv[w->n_kv++] = kv;
}

/* "<arch>.<key>" */
static const char *llm__gw_key(llm__gw *w, const char *key) { return llm__gw_str(w, "%s.%s", w->arch, key); }

static void llm__gw_free(llm__gw *w) {
    for (int64_t i = 0; i < w->n_own; i++) free(w->own[i]);
    free(w->own);
    free(w->kv);
    free(w->t);
    for (int i = 0; i < w->n_docs; i++) cJSON_Delete(w->docs[i]);
}

/* ---- names: Hugging Face -> llama.cpp ---- */

/* Per-layer modules "model.layers.N.<hf>" -> "blk.N.<gguf>", the ".weight"/".bias" kept;
   an entry with families applies to those only and comes before the general one. Experts
   are stacked first (70_convert.c), into mlx_lm's switch_mlp names. */
static const char *const llm__gguf_layer_names[][3] = {
    { " gemma2 gemma3 ", "post_attention_layernorm", "post_attention_norm" },
    { " gemma2 gemma3 ", "pre_feedforward_layernorm", "ffn_norm" },
    { " gemma2 gemma3 ", "post_feedforward_layernorm", "post_ffw_norm" },
    { "", "input_layernorm", "attn_norm" }, { "", "post_attention_layernorm", "ffn_norm" },
    { "", "self_attn.q_proj", "attn_q" }, { "", "self_attn.k_proj", "attn_k" }, { "", "self_attn.v_proj", "attn_v" },
    { "", "self_attn.o_proj", "attn_output" }, { "", "self_attn.qkv_proj", "attn_qkv" },
    { "", "self_attn.q_norm", "attn_q_norm" }, { "", "self_attn.k_norm", "attn_k_norm" },
    { "", "mlp.gate_proj", "ffn_gate" }, { "", "mlp.up_proj", "ffn_up" }, { "", "mlp.down_proj", "ffn_down" },
    { "", "mlp.gate_up_proj", "ffn_up" },                   /* Phi-3: gate and up fused, as llama.cpp keeps them */
    { "", "mlp.gate", "ffn_gate_inp" }, { "", "block_sparse_moe.gate", "ffn_gate_inp" },
    { "", "mlp.shared_expert.gate_proj", "ffn_gate_shexp" }, { "", "mlp.shared_expert.up_proj", "ffn_up_shexp" },
    { "", "mlp.shared_expert.down_proj", "ffn_down_shexp" }, { "", "mlp.shared_expert_gate", "ffn_gate_inp_shexp" },
    { "", "mlp.switch_mlp.gate_proj", "ffn_gate_exps" }, { "", "mlp.switch_mlp.up_proj", "ffn_up_exps" },
    { "", "mlp.switch_mlp.down_proj", "ffn_down_exps" },
    { "", "block_sparse_moe.switch_mlp.gate_proj", "ffn_gate_exps" }, { "", "block_sparse_moe.switch_mlp.up_proj", "ffn_up_exps" },
    { "", "block_sparse_moe.switch_mlp.down_proj", "ffn_down_exps" },
};

/* config model_type -> llama.cpp architecture; permute: ggml ropes it on interleaved pairs,
   so convert_hf_to_gguf.py permutes the Wq/Wk rows (llama_model_rope_type). */
static const struct { const char *hf, *gguf; bool permute; } llm__gguf_archs_hf[] = {
    { "llama", "llama", true }, { "mistral", "llama", true }, { "mixtral", "llama", true },
    { "qwen2", "qwen2", false }, { "qwen3", "qwen3", false }, { "qwen2_moe", "qwen2moe", false }, { "qwen3_moe", "qwen3moe", false },
    { "gemma", "gemma", false }, { "gemma2", "gemma2", false }, { "gemma3", "gemma3", false },
    { "gemma3_text", "gemma3", false }, { "phi3", "phi3", false },
};

/* The llama.cpp name of a source tensor into out; false when it has none. */
static bool llm__gguf_name(const char *arch, const char *name, char *out, size_t cap) {
    static const char *const globals[][2] = {
        { "model.embed_tokens.weight", "token_embd.weight" }, { "model.norm.weight", "output_norm.weight" },
        { "lm_head.weight", "output.weight" },
    };
    for (int i = 0; i < LLM__COUNT(globals); i++)
        if (!strcmp(name, globals[i][0])) return snprintf(out, cap, "%s", globals[i][1]) > 0;
    int il = -1, used = 0;
    if (sscanf(name, "model.layers.%d.%n", &il, &used) != 1 || !used || il < 0) return false;
    const char *mod = name + used, *dot = strrchr(mod, '.');
    if (!dot || (strcmp(dot, ".weight") && strcmp(dot, ".bias"))) return false;
    char fam[40];
    snprintf(fam, sizeof fam, " %s ", arch);
    for (int k = 0; k < LLM__COUNT(llm__gguf_layer_names); k++) {
        const char *const *e = llm__gguf_layer_names[k];
        if ((*e[0] && !strstr(e[0], fam)) || strlen(e[1]) != (size_t)(dot - mod) || strncmp(mod, e[1], (size_t)(dot - mod))) continue;
        return snprintf(out, cap, "blk.%d.%s%s", il, e[2], dot) < (int)cap;
    }
    return false;
}

/* ---- MLX blocks that are already ggml blocks ----
   A group of 32 4-bit values w = scale * q + bias is a q4_1 block (d, m, qs[16]: q[j] in the
   low nibble of qs[j], q[j+16] in the high one) with d = scale, m = bias; an 8-bit group
   with bias = -128 * scale is a q8_0 block (d, qs[32] signed) with qs = q - 128. Exact when
   d and m are f16 values. */
static bool llm__gguf_f16_exact(float v) { return llm__f16_to_f32(llm__f32_to_f16(v)) == v || v != v; }

static bool llm__gguf_mlx_exact(const llm__convert_src *s, llm_dtype to) {
    const llm__qmat *q = &s->q;
    if (!s->mlx || q->fp_mode >= 0 || q->group_size != 32 || !((to == LLM_DTYPE_Q4_1 && q->bits == 4) || (to == LLM_DTYPE_Q8_0 && q->bits == 8)))
        return false;
    for (int64_t g = 0, ng = s->rows * s->cols / 32; g < ng; g++) {
        float sc = llm__mlx_param(q->scales, q->sdtype, g), bi = llm__mlx_param(q->biases, q->sdtype, g);
        if (!llm__gguf_f16_exact(sc) || !llm__gguf_f16_exact(bi) || (to == LLM_DTYPE_Q8_0 && bi != -128.0f * sc)) return false;
    }
    return true;
}

static void llm__gguf_mlx_blocks(const llm__convert_src *s, llm_dtype to, uint8_t *out) {
    const llm__qmat *q = &s->q;
    int64_t gpr = s->cols / 32, bb = llm_dtype_get(to)->block_bytes;
    for (int64_t g = 0; g < s->rows * gpr; g++) {
        const uint8_t *row = q->w + g / gpr * (s->cols * q->bits / 8);
        int64_t i0 = g % gpr * 32;
        uint8_t *b = out + g * bb;
        uint16_t d = llm__f32_to_f16(llm__mlx_param(q->scales, q->sdtype, g)), m = llm__f32_to_f16(llm__mlx_param(q->biases, q->sdtype, g));
        memcpy(b, &d, 2);
        if (to == LLM_DTYPE_Q4_1) {
            memcpy(b + 2, &m, 2);
            for (int j = 0; j < 16; j++) b[4 + j] = (uint8_t)(llm__mlx_get(row, i0 + j, 4) | llm__mlx_get(row, i0 + j + 16, 4) << 4);
        } else {
            for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)((int)llm__mlx_get(row, i0 + j, 8) - 128);
        }
    }
}

/* ---- which type each matrix gets: llama-quantize's rules (llama_tensor_get_type) ----
   A llama-quantize file type ("Q4_K_M") names a base block type for most matrices and gives
   a few more bits: the attention values (attn_v) and the feed-forward output (ffn_down) of
   some layers, the attention output, Phi-3's fused attn_qkv. A plain type (q4_0, q4_K) is
   the same rules with no such bumps. Every type keeps these: the output matrix (the token
   table when tied) q6_K (q8_0 stays q8_0; q8_0 also when its rows are not whole 256-blocks),
   models of 8 experts attn_v/attn_k q8_0, 70B-class models (80 layers, grouped KV heads)
   attn_v q5_K where it would be q3_K/q4_K. Which layers get a bump: */
enum { LLM__L_ALL = 1, LLM__L_FIRST2, LLM__L_FIRST4, LLM__L_EIGHTH, LLM__L_SIXTEENTH, LLM__L_MORE_BITS, LLM__L_GQA4 };

/* hi in the layers `when` selects, lo in the others (F32, the zero value: the base type) */
typedef struct llm__gguf_bump { llm_dtype hi; uint8_t when; llm_dtype lo; } llm__gguf_bump;

typedef struct llm__gguf_mix {
    const char *name;         /* llama-quantize's */
    uint32_t ftype;           /* general.file_type (llama_ftype) */
    llm_dtype base;
    llm__gguf_bump attn_v, ffn_down;
    llm_dtype attn_out, attn_out_moe8, attn_qkv;   /* F32: the base; moe8: models of 8 experts */
} llm__gguf_mix;

#define LLM__T(x) LLM_DTYPE_##x
static const llm__gguf_mix llm__gguf_mixes[] = {
    { "Q2_K", 10, LLM__T(Q2_K), { LLM__T(Q4_K), LLM__L_GQA4, LLM__T(Q3_K) }, { LLM__T(Q3_K), LLM__L_ALL, 0 }, LLM__T(Q3_K), LLM__T(Q5_K), 0 },
    { "Q3_K_S", 11, LLM__T(Q3_K), { 0 }, { 0 }, 0, LLM__T(Q5_K), 0 },
    { "Q3_K_M", 12, LLM__T(Q3_K), { LLM__T(Q5_K), LLM__L_FIRST2, LLM__T(Q4_K) }, { LLM__T(Q5_K), LLM__L_SIXTEENTH, LLM__T(Q4_K) },
      LLM__T(Q4_K), LLM__T(Q5_K), LLM__T(Q4_K) },
    { "Q3_K_L", 13, LLM__T(Q3_K), { LLM__T(Q5_K), LLM__L_ALL, 0 }, { LLM__T(Q5_K), LLM__L_ALL, 0 }, LLM__T(Q5_K), 0, LLM__T(Q4_K) },
    { "Q4_K_S", 14, LLM__T(Q4_K), { LLM__T(Q5_K), LLM__L_FIRST4, 0 }, { LLM__T(Q5_K), LLM__L_EIGHTH, 0 }, 0, LLM__T(Q5_K), 0 },
    { "Q4_K_M", 15, LLM__T(Q4_K), { LLM__T(Q6_K), LLM__L_MORE_BITS, 0 }, { LLM__T(Q6_K), LLM__L_MORE_BITS, 0 }, 0, LLM__T(Q5_K), LLM__T(Q5_K) },
    { "Q5_K_S", 16, LLM__T(Q5_K), { 0 }, { 0 }, 0, 0, 0 },
    { "Q5_K_M", 17, LLM__T(Q5_K), { LLM__T(Q6_K), LLM__L_MORE_BITS, 0 }, { LLM__T(Q6_K), LLM__L_MORE_BITS, 0 }, 0, 0, LLM__T(Q6_K) },
    { "Q6_K", 18, LLM__T(Q6_K), { 0 }, { 0 }, 0, 0, 0 },
};
#undef LLM__T

/* The file type called `name` (any case), or NULL. */
static const llm__gguf_mix *llm__gguf_mix_find(const char *name) {
    for (int i = 0; name && i < LLM__COUNT(llm__gguf_mixes); i++) {
        const char *a = llm__gguf_mixes[i].name, *b = name;
        while (*a && (*a | 32) == (*b | 32)) a++, b++;
        if (!*a && !*b) return &llm__gguf_mixes[i];
    }
    return NULL;
}

/* What the rules need to know of the model. */
typedef struct llm__gguf_dims { int64_t n_layer, n_gqa, n_expert; bool is_70b; } llm__gguf_dims;

static llm__gguf_dims llm__gguf_dims_of(const char *arch, int64_t n_layer, int64_t n_head, int64_t n_head_kv, int64_t n_expert) {
    llm__gguf_dims d = { n_layer, n_head_kv > 0 ? n_head / n_head_kv : 0, n_expert, false };
    d.is_70b = n_layer == 80 && ((!strcmp(arch, "llama") && n_head != n_head_kv) || !strcmp(arch, "qwen2"));
    return d;
}

/* Whether layer il of n gets bump b's hi type. MORE_BITS: the first and last eighth and
   every third layer between them. */
static bool llm__gguf_layer_bumped(uint8_t when, int64_t il, const llm__gguf_dims *d) {
    int64_t n = d->n_layer;
    switch (when) {
    case LLM__L_ALL: return true;
    case LLM__L_FIRST2: return il < 2;
    case LLM__L_FIRST4: return il < 4;
    case LLM__L_EIGHTH: return il < n / 8;
    case LLM__L_SIXTEENTH: return il < n / 16;
    case LLM__L_MORE_BITS: return il < n / 8 || il >= 7 * n / 8 || (il - n / 8) % 3 == 2;
    case LLM__L_GQA4: return d->n_gqa >= 4;
    default: return false;
    }
}

static llm_dtype llm__gguf_bumped(const llm__gguf_bump *b, llm_dtype base, int64_t il, const llm__gguf_dims *d) {
    if (!b->when) return base;
    return llm__gguf_layer_bumped(b->when, il, d) ? b->hi : b->lo ? b->lo : base;
}

/* A type whose blocks do not divide the rows' length gives way as in llama-quantize; it
   takes iq4_nl for q2_K/q3_K, a type we do not write: q4_0 has its 4.5 bits per weight. */
static llm_dtype llm__gguf_fallback(llm_dtype t, int64_t cols) {
    if (cols % llm_dtype_get(t)->block_elems == 0) return t;
    switch (t) {
    case LLM_DTYPE_Q2_K: case LLM_DTYPE_Q3_K: t = LLM_DTYPE_Q4_0; break;
    case LLM_DTYPE_Q4_K: t = LLM_DTYPE_Q5_0; break;
    case LLM_DTYPE_Q5_K: t = LLM_DTYPE_Q5_1; break;
    case LLM_DTYPE_Q6_K: t = LLM_DTYPE_Q8_0; break;
    default: return LLM_DTYPE_F16;
    }
    return cols % llm_dtype_get(t)->block_elems ? LLM_DTYPE_F16 : t;
}

/* The type of matrix `name` (llama.cpp's name, blk.N.*) under mix m for a model of dims d,
   its rows of `cols` values; tied: the token table is also the output matrix. */
static llm_dtype llm__gguf_mix_type(const llm__gguf_mix *m, const llm__gguf_dims *d, bool tied, const char *name, int64_t cols) {
    llm_dtype to = m->base;
    int64_t il = strncmp(name, "blk.", 4) ? -1 : (int64_t)strtoll(name + 4, NULL, 10);   /* saturates: no overflow */
    bool moe8 = d->n_expert == 8;
    if (!strcmp(name, "output.weight") || (tied && !strcmp(name, "token_embd.weight"))) {
        if (cols % llm_dtype_get(to)->block_elems) to = LLM_DTYPE_Q8_0;
        else if (to != LLM_DTYPE_Q8_0) to = LLM_DTYPE_Q6_K;
    } else if (strstr(name, "attn_v.weight")) {
        to = llm__gguf_bumped(&m->attn_v, to, il, d);
        if (d->is_70b && (to == LLM_DTYPE_Q3_K || to == LLM_DTYPE_Q4_K)) to = LLM_DTYPE_Q5_K;
        if (moe8) to = LLM_DTYPE_Q8_0;
    } else if (strstr(name, "attn_k.weight")) {
        if (moe8) to = LLM_DTYPE_Q8_0;
    } else if (strstr(name, "ffn_down")) {                        /* also ffn_down_exps, ffn_down_shexp */
        to = llm__gguf_bumped(&m->ffn_down, to, il, d);
    } else if (strstr(name, "attn_output.weight")) {
        llm_dtype o = moe8 ? m->attn_out_moe8 : m->attn_out;
        if (o) to = o;
    } else if (strstr(name, "attn_qkv.weight") && m->attn_qkv) {
        to = m->attn_qkv;
    }
    return llm__gguf_fallback(to, cols);
}

/* ---- one output tensor ---- */

typedef struct llm__gconv {
    const llm_convert_params *p;
    const char *path;          /* the source, for messages */
    const llm__hparams *hp;
    llm__gguf_mix mix;         /* the file type (a plain type: no bumps) */
    llm__gguf_dims dims;
    bool permute, tied;
    llm__gw w;
    int64_t n_requant;         /* MLX matrices dequantized and quantized again */
} llm__gconv;

static bool llm__ends(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The type of tensor `name`: vectors, norms and routers f32, float files as they are. */
static llm_dtype llm__gguf_pick(const llm__gconv *c, const char *name, const llm__convert_src *s) {
    if (s->n_dims < 2 || strstr(name, "ffn_gate_inp") || llm__ends(name, "norm.weight")) return LLM_DTYPE_F32;
    if (llm__is_float(c->mix.base)) return c->mix.base;
    return llm__gguf_mix_type(&c->mix, &c->dims, c->tied, name, s->cols);
}

/* convert_hf_to_gguf.py's LlamaModel.permute on whole rows (any row layout): per head of
   D rows, row (j, i) (half j, index i) moves to 2i + j. */
static llm_status llm__gguf_permute(uint8_t *data, int64_t rows, size_t row_bytes, int64_t n_head, const char *name) {
    int64_t D = n_head > 0 ? rows / n_head : 0;
    if (D <= 0 || D % 2 || rows % n_head) return llm__fail(LLM_ERR_FORMAT, "'%s': %lld rows do not split into %lld heads", name, (long long)rows, (long long)n_head);
    uint8_t *tmp = (uint8_t *)malloc((size_t)rows * row_bytes);
    if (!tmp) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (int64_t h = 0; h < n_head; h++)
        for (int64_t j = 0; j < 2; j++)
            for (int64_t i = 0; i < D / 2; i++)
                memcpy(tmp + (size_t)(h * D + 2 * i + j) * row_bytes, data + (size_t)(h * D + j * D / 2 + i) * row_bytes, row_bytes);
    memcpy(data, tmp, (size_t)rows * row_bytes);
    free(tmp);
    return LLM_OK;
}

/* f32 rows of s -> out in type `to`, 64 rows at a time; Gemma's norms get their 1. */
static llm_status llm__gguf_quantize(const llm__gconv *c, const char *name, const llm__convert_src *s, llm_dtype to, uint8_t *out) {
    int64_t chunk = LLM__MAX(1, LLM__MIN(s->rows, 64));
    float *f = (float *)malloc((size_t)(chunk * s->cols) * sizeof *f + 1);
    if (!f) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    bool add_one = c->hp->norm_add_one != 0 && llm__ends(name, "norm.weight");
    llm_status st = LLM_OK;
    for (int64_t r0 = 0; r0 < s->rows && !st; r0 += chunk) {
        int64_t n = LLM__MIN(chunk, s->rows - r0);
        llm__convert_src_rows(s, r0, n, f);
        for (int64_t i = 0; add_one && i < n * s->cols; i++) f[i] += c->hp->norm_add_one;
        st = llm_quantize(to, f, out + llm_dtype_n_bytes(to, r0 * s->cols), n * s->cols);
    }
    free(f);
    return st;
}

static llm_status llm__gw_tensor(llm__gw *w, const char *name, llm_dtype dt, int n_dims, const int64_t *shape, void *data, size_t n_bytes) {
    const char *nm = llm__gw_str(w, "%s", name);
    if (w->oom || !llm__gw_grow((void **)&w->t, &w->cap_t, w->n_t, sizeof *w->t)) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    llm_tensor *t = &w->t[w->n_t++];
    *t = (llm_tensor){ .name = nm, .dtype = dt, .n_dims = n_dims, .data = data, .n_bytes = n_bytes };
    memcpy(t->shape, shape, sizeof t->shape);
    return LLM_OK;
}

/* The tensor `name` from source s, in the type llama.cpp would give it. */
static llm_status llm__gguf_emit(llm__gconv *c, const char *name, const llm__convert_src *s) {
    llm_dtype to = llm__gguf_pick(c, name, s);
    size_t nb = llm_dtype_n_bytes(to, s->rows * s->cols);
    uint8_t *out = (uint8_t *)llm__gw_own(&c->w, malloc(nb + 1));
    if (!out) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    llm_status st = LLM_OK;
    if (llm__gguf_mlx_exact(s, to)) {
        llm__gguf_mlx_blocks(s, to, out);
    } else {
        if (s->mlx && !llm__is_float(to)) {
            c->n_requant++;
            llm__log(LLM_LOG_INFO, "%s: '%s': MLX %d-bit g%d dequantized and quantized again to %s", c->path, s->t->name, s->q.bits,
                     s->q.group_size, llm_dtype_get(to)->name);
        }
        st = llm__gguf_quantize(c, name, s, to, out);
    }
    bool q = strstr(name, ".attn_q.") != NULL, k = strstr(name, ".attn_k.") != NULL;
    if (!st && c->permute && (q || k)) st = llm__gguf_permute(out, s->shape[0], nb / (size_t)s->shape[0], q ? c->hp->n_heads : c->hp->n_kv_heads, name);
    return st ? st : llm__gw_tensor(&c->w, name, to, s->n_dims, s->shape, out, nb);
}

/* ---- the tensors ---- */

/* Source tensor t (expert 0 of a stack stands for the stack) into the file. */
static llm_status llm__gguf_one(llm__gconv *c, llm_safetensors *st, const cJSON *cfg, const llm_tensor *t) {
    char stacked[600], fmt[600], name[640];
    void *owned[2] = { NULL, NULL };
    int64_t n_owned = 0;
    llm_tensor stack;
    llm_status s = LLM_OK;
    int64_t E = llm__convert_expert0(st, t, stacked, sizeof stacked, fmt, sizeof fmt);
    if (E) {
        s = llm__convert_stack(st, t, E, stacked, fmt, &stack, owned, &n_owned);
        for (int64_t i = 0; i < n_owned; i++) llm__gw_own(&c->w, owned[i]);
        if (s || c->w.oom) return s ? s : llm__fail(LLM_ERR_NOMEM, "out of memory");
        t = &stack;
    }
    if (!llm__gguf_name(c->w.arch, t->name, name, sizeof name))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has no llama.cpp name in architecture %s", c->path, t->name, c->w.arch);
    llm__convert_src src;
    if ((s = llm__convert_src_init(c->path, st, cfg, t, &src))) return s;
    return llm__gguf_emit(c, name, &src);
}

/* A per-frequency f32 table [n] as tensor `name` (rope_freqs, rope_factors_*). */
static llm_status llm__gguf_table(llm__gconv *c, const char *name, const float *v, int64_t n) {
    float *d = (float *)llm__gw_own(&c->w, malloc((size_t)n * sizeof *d + 1));
    if (!d) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    memcpy(d, v, (size_t)n * sizeof *d);
    int64_t shape[LLM_MAX_DIMS] = { n };
    return llm__gw_tensor(&c->w, name, LLM_DTYPE_F32, 1, shape, d, (size_t)n * sizeof *d);
}

/* Rope scaling that llama.cpp keeps in tensors: Llama 3's divisors (default inverse
   frequencies / scaled ones, as convert_hf_to_gguf.py's generate_extra_tensors) and
   Phi-3 LongRoPE's short and long factors. */
static llm_status llm__gguf_rope_tensors(llm__gconv *c) {
    const llm__hparams *hp = c->hp;
    int64_t half = hp->n_rot / 2;
    if (hp->rope.type == LLM__ROPE_LONGROPE && hp->rope.short_factor && hp->rope.long_factor && hp->rope.n_factors == half) {
        llm_status s = llm__gguf_table(c, "rope_factors_short.weight", hp->rope.short_factor, half);
        return s ? s : llm__gguf_table(c, "rope_factors_long.weight", hp->rope.long_factor, half);
    }
    if (hp->rope.type != LLM__ROPE_LLAMA3) return LLM_OK;
    float *base = (float *)malloc((size_t)half * 2 * sizeof *base + 1), ms;
    if (!base) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    llm__rope_cfg plain = hp->rope;
    plain.type = LLM__ROPE_DEFAULT;
    llm__rope_inv_freq(&plain, hp->n_rot, hp->n_ctx_train, 0, base, &ms);
    llm__rope_inv_freq(&hp->rope, hp->n_rot, hp->n_ctx_train, 0, base + half, &ms);
    for (int64_t i = 0; i < half; i++) base[i] /= base[half + i];
    llm_status s = llm__gguf_table(c, "rope_freqs.weight", base, half);
    free(base);
    return s;
}

static llm_status llm__gguf_tensors(llm__gconv *c, llm_safetensors *st, const cJSON *cfg) {
    int64_t n = llm_safetensors_n_tensors(st);
    llm_status s = LLM_OK;
    for (int64_t i = 0; i < n && !s; i++) {
        const llm_tensor *t = llm_safetensors_tensor(st, i);
        if (llm__convert_is_expert(t->name) && !strstr(t->name, ".experts.0.")) continue;   /* in expert 0's stack */
        if (llm__convert_is_qparam(st, t->name) || llm__ends(t->name, "rotary_emb.inv_freq")) continue;
        s = llm__gguf_one(c, st, cfg, t);
        if (!s && c->p->progress) c->p->progress(c->p->progress_user, i + 1, n);
    }
    if (!s) s = llm__gguf_rope_tensors(c);
    if (!s && c->n_requant)
        llm__log(LLM_LOG_WARN, "%s: %lld MLX-quantized matrices were dequantized and quantized again (not lossless; "
                 "only 4-bit and 8-bit groups of 32 with f16 scales map to q4_1 / q8_0 as they are)", c->path, (long long)c->n_requant);
    return s;
}
#endif
