/* ---- >>gguf_model: llama.cpp's GGUF model files on the generic transformer ----
   Hyperparameters come from the "<arch>.*" metadata (llama.block_count, ...), tensors keep
   llama.cpp's names (token_embd, blk.N.attn_q, ffn_gate_exps, ...) and are bound by the
   same data-driven binder as Hugging Face checkpoints (51_model.c), in place: weights stay
   in the mapping, block-quantized or not (23_kernels_ggml.c multiplies them).

   What llama.cpp's converter changed on the way, and how we follow it without a copy:
   - Llama-family Wq/Wk rows are permuted so that ggml's "normal" rope, on pairs (2i, 2i+1),
     applies: we rope interleaved pairs (rope_interleaved). Families ggml ropes NEOX-style
     (qwen2/3, gemma*, phi3) keep Hugging Face's rotate-half layout
     (llama_model_rope_type in llama.cpp's llama-model.cpp).
   - Gemma's RMSNorm weights are stored with the +1 already added: norm_add_one stays 0.
   - Llama 3 rope scaling is a tensor of per-frequency divisors (rope_freqs), Phi-3's
     LongRoPE two of them (rope_factors_short/long): both become longrope factors.
   - MoE experts are stacked [E, F, C] (ffn_gate_exps ...) and bound as row views. */
#include "10_internal.h"

#define LLM__R LLM__W_REQUIRED
#define LLM__O LLM__W_OPTIONAL
#define LLM__D LLM__W_DENSE
#define LLM__M LLM__W_MOE
static const llm__wspec llm__gguf_w_attn[] = {   /* q/k/v/o, optional biases and per-head q/k norms */
    LLM__WMAT("attn_q.weight", LLM__R, wq, LLM__DIM_Q, LLM__DIM_C), LLM__WMAT("attn_k.weight", LLM__R, wk, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("attn_v.weight", LLM__R, wv, LLM__DIM_KV, LLM__DIM_C), LLM__WMAT("attn_output.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    LLM__WVEC("attn_q.bias", LLM__O, bq, LLM__DIM_Q), LLM__WVEC("attn_k.bias", LLM__O, bk, LLM__DIM_KV),
    LLM__WVEC("attn_v.bias", LLM__O, bv, LLM__DIM_KV), LLM__WVEC("attn_output.bias", LLM__O, bo, LLM__DIM_C),
    LLM__WVEC("attn_q_norm.weight", LLM__O, q_norm, LLM__DIM_HD), LLM__WVEC("attn_k_norm.weight", LLM__O, k_norm, LLM__DIM_HD),
    LLM__WEND,
};
static const llm__wspec llm__gguf_w_norms[] = {  /* pre-norms; Gemma 2/3 add norms after each block */
    LLM__WVEC("attn_norm.weight", LLM__R, attn_norm, LLM__DIM_C), LLM__WVEC("ffn_norm.weight", LLM__R, ffn_norm, LLM__DIM_C),
    LLM__WVEC("post_attention_norm.weight", LLM__O, post_attn_norm, LLM__DIM_C),
    LLM__WVEC("post_ffw_norm.weight", LLM__O, post_ffn_norm, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__gguf_w_mlp[] = {    /* dense gated MLP, and the router of MoE layers */
    LLM__WMAT("ffn_gate.weight", LLM__D, ffn.gate, LLM__DIM_F, LLM__DIM_C), LLM__WMAT("ffn_up.weight", LLM__D, ffn.up, LLM__DIM_F, LLM__DIM_C),
    LLM__WMAT("ffn_down.weight", LLM__D, ffn.down, LLM__DIM_C, LLM__DIM_F),
    LLM__WMAT("ffn_gate_inp.weight", LLM__M, router, LLM__DIM_E, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__gguf_w_shexp[] = {  /* Qwen2-MoE's shared expert; its gate is a vector [C] */
    LLM__WMAT("ffn_gate_shexp.weight", LLM__M, shared.gate, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("ffn_up_shexp.weight", LLM__M, shared.up, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("ffn_down_shexp.weight", LLM__M, shared.down, LLM__DIM_C, LLM__DIM_FS),
    LLM__WMAT("ffn_gate_inp_shexp.weight", LLM__M, shared_gate, LLM__DIM_SG, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__gguf_w_phi3[] = {   /* fused qkv and gate|up, split into row views */
    { "attn_qkv.weight", LLM__R, LLM__DIM_QKV, LLM__DIM_C, false,
      { offsetof(llm__layer, wq), offsetof(llm__layer, wk), offsetof(llm__layer, wv) }, { LLM__DIM_Q, LLM__DIM_KV, LLM__DIM_KV } },
    LLM__WMAT("attn_output.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    { "ffn_up.weight", LLM__R, LLM__DIM_F2, LLM__DIM_C, false,
      { offsetof(llm__layer, ffn.gate), offsetof(llm__layer, ffn.up) }, { LLM__DIM_F, LLM__DIM_F } },
    LLM__WMAT("ffn_down.weight", LLM__R, ffn.down, LLM__DIM_C, LLM__DIM_F),
    LLM__WEND,
};
#undef LLM__R
#undef LLM__O
#undef LLM__D
#undef LLM__M

/* GGUF stacks each layer's experts (ffn_gate_exps [E, F, C]); the per-expert pattern is
   only the binder's probe for the other layout and never matches. */
#define LLM__GGUF_GLOBALS .layer = "blk.%lld.", .embed = "token_embd.weight", .out_norm = "output_norm.weight", .output = "output.weight", \
    .expert = "ffn_expert.%lld.", .expert_w = { "gate", "up", "down" },                                                       \
    .stacked = { "ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight" }
static const llm__names llm__gguf_names = { LLM__GGUF_GLOBALS, .w = { llm__gguf_w_attn, llm__gguf_w_norms, llm__gguf_w_mlp } };
static const llm__names llm__gguf_names_shexp = { LLM__GGUF_GLOBALS, .w = { llm__gguf_w_attn, llm__gguf_w_norms, llm__gguf_w_mlp, llm__gguf_w_shexp } };
static const llm__names llm__gguf_names_phi3 = { LLM__GGUF_GLOBALS, .w = { llm__gguf_w_phi3, llm__gguf_w_norms } };
#undef LLM__GGUF_GLOBALS

typedef struct llm__gguf_ctx {
    const llm_gguf *g;
    const char *path, *arch;
} llm__gguf_ctx;

/* "<arch>.<key>" as an integer: a scalar, or an array of per-layer values that must all be
   equal (the generic transformer has one value for all layers). */
static llm_status llm__gguf_hp_int(const llm__gguf_ctx *c, const char *key, bool required, int64_t *out) {
    char k[160];
    snprintf(k, sizeof k, "%s.%s", c->arch, key);
    const llm_gguf_kv *kv = llm_gguf_find_kv(c->g, k);
    if (!kv) return required ? llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is missing", c->path, k) : LLM_OK;
    if (kv->type != LLM_GGUF_ARRAY) {
        llm_status s = llm_gguf_get_int(c->g, k, out);
        return s ? llm__fail(s, "%s: metadata '%s' is not an integer", c->path, k) : LLM_OK;
    }
    int64_t first = 0, v = 0;
    for (int64_t i = 0; i < kv->n; i++) {
        if (llm_gguf_arr_int(kv, i, &v)) return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is not an integer array", c->path, k);
        if (i == 0) first = v;
        if (v != first) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: '%s' differs between layers", c->path, k);
    }
    if (kv->n == 0) return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is an empty array", c->path, k);
    *out = first;
    return LLM_OK;
}

static float llm__gguf_hp_f32(const llm__gguf_ctx *c, const char *key, float dflt) {
    char k[160];
    snprintf(k, sizeof k, "%s.%s", c->arch, key);
    llm_gguf_get_f32(c->g, k, &dflt);   /* absent or mistyped: the default */
    return dflt;
}

/* A per-frequency factor tensor [n_rot/2] as longrope factors (owned by hp, freed with it). */
static llm_status llm__gguf_factors(const llm__gguf_ctx *c, const char *name, int64_t n_rot, float **out) {
    const llm_tensor *t = llm_gguf_find_tensor(c->g, name);
    if (!t) return LLM_OK;
    if (t->dtype != LLM_DTYPE_F32 || llm_tensor_n_elems(t) != n_rot / 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: '%s' should be %lld f32 values", c->path, name, (long long)n_rot / 2);
    *out = (float *)malloc((size_t)(n_rot / 2) * sizeof(float) + 1);
    if (!*out) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    memcpy(*out, t->data, (size_t)(n_rot / 2) * sizeof(float));
    return LLM_OK;
}

/* rope.freq_base, rope.scaling.* and the factor tensors. */
static llm_status llm__gguf_rope(const llm__gguf_ctx *c, llm__hparams *hp) {
    llm__rope_cfg *r = &hp->rope;
    char k[160];
    const char *type = "none";
    snprintf(k, sizeof k, "%s.rope.scaling.type", c->arch);
    llm_gguf_get_str(c->g, k, &type);
    r->theta = llm__gguf_hp_f32(c, "rope.freq_base", 10000.0f);
    r->factor = llm__gguf_hp_f32(c, "rope.scaling.factor", 1.0f);
    r->orig_ctx = (double)hp->n_ctx_train;
    int64_t orig = 0;
    llm_status s = llm__gguf_hp_int(c, "rope.scaling.original_context_length", false, &orig);
    if (s) return s;
    if (orig > 0) r->orig_ctx = (double)orig;
    r->beta_fast = 32.0, r->beta_slow = 1.0, r->truncate = true;
    r->attn_factor = llm__gguf_hp_f32(c, "rope.scaling.attn_factor", 0.0f);
    if (!strcmp(type, "linear")) r->type = LLM__ROPE_LINEAR;
    else if (!strcmp(type, "yarn")) r->type = LLM__ROPE_YARN;
    else if (strcmp(type, "none")) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: rope scaling '%s' is not supported", c->path, type);
    if (r->factor <= 0) r->factor = 1.0;
    /* Llama 3: one table of divisors, no extra scale; Phi-3 LongRoPE: short and long tables */
    bool llama3 = llm_gguf_find_tensor(c->g, "rope_freqs.weight") != NULL;
    if ((s = llm__gguf_factors(c, llama3 ? "rope_freqs.weight" : "rope_factors_short.weight", hp->n_rot, &r->short_factor)) ||
        (s = llm__gguf_factors(c, llama3 ? "rope_freqs.weight" : "rope_factors_long.weight", hp->n_rot, &r->long_factor)))
        return s;
    if (!r->short_factor != !r->long_factor)
        return llm__fail(LLM_ERR_FORMAT, "%s: only one of rope_factors_short/long is present", c->path);
    if (r->short_factor) r->type = LLM__ROPE_LONGROPE;
    if (llama3) r->attn_factor = 1.0, r->factor = 1.0;
    r->n_factors = hp->n_rot / 2;
    hp->rope_local = *r;
    return LLM_OK;
}

/* ---- families: what the metadata leaves implicit ---- */

/* Gemma: approximate GELU, embeddings times sqrt(C) (llama.cpp does not round it to the
   weights' dtype), norms with the +1 stored. Gemma 2 slides every other layer, Gemma 3
   all but every 6th, whose local rope is plain with base 10000. The 27B models scale the
   queries by 1/sqrt(C/H) instead of 1/sqrt(D), as llama.cpp decides by size. */
static llm_status llm__gguf_gemma(const llm__gguf_ctx *c, llm__hparams *hp) {
    int version = !strcmp(c->arch, "gemma2") ? 2 : !strcmp(c->arch, "gemma3") ? 3 : 1;
    hp->act = LLM__ACT_GELU_TANH;
    hp->embed_scale = sqrtf((float)hp->n_embd);
    if (version == 1) return LLM_OK;
    hp->attn_softcap = llm__gguf_hp_f32(c, "attn_logit_softcapping", 0.0f);
    hp->final_softcap = llm__gguf_hp_f32(c, "final_logit_softcapping", 0.0f);
    if ((version == 2 && hp->n_layers == 46) || (version == 3 && hp->n_layers == 62))
        hp->attn_scale = (float)(1.0 / sqrt((double)hp->n_embd / (double)hp->n_heads));
    llm_status s = llm__gguf_hp_int(c, "attention.sliding_window", false, &hp->sliding_window);
    if (s) return s;
    for (int64_t il = 0; il < hp->n_layers && hp->sliding_window > 0; il++)
        hp->layer_sliding[il] = version == 2 ? il % 2 == 0 : (il + 1) % 6 != 0;
    char k[160];                  /* another pattern, per layer (llm convert writes it then) */
    snprintf(k, sizeof k, "%s.attention.sliding_window_pattern", c->arch);
    const llm_gguf_kv *pat = llm_gguf_find_kv(c->g, k);
    if (pat && (pat->type != LLM_GGUF_ARRAY || pat->arr_type != LLM_GGUF_BOOL || pat->n != hp->n_layers))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: '%s' is not one bool per layer", c->path, k);
    for (int64_t il = 0; pat && il < hp->n_layers && hp->sliding_window > 0; il++) hp->layer_sliding[il] = ((const uint8_t *)pat->v.arr)[il] != 0;
    if (version == 3) {
        memset(&hp->rope_local, 0, sizeof hp->rope_local);
        hp->rope_local.theta = 10000.0, hp->rope_local.factor = 1.0;
    }
    return LLM_OK;
}

/* Qwen2-MoE: a shared expert beside the routed ones; the chosen weights are not renormalised. */
static llm_status llm__gguf_qwen2moe(const llm__gguf_ctx *c, llm__hparams *hp) {
    hp->moe_norm_topk = false;
    llm_status s = llm__gguf_hp_int(c, "expert_shared_feed_forward_length", false, &hp->n_ff_shared);
    if (!s && (hp->n_ff_shared < 0 || hp->n_ff_shared > (1 << 30)))
        return llm__fail(LLM_ERR_FORMAT, "%s: shared expert width %lld is implausible", c->path, (long long)hp->n_ff_shared);
    return s;
}

typedef struct llm__gguf_arch {
    const char *name;                 /* general.architecture */
    bool interleaved;                 /* ggml's "normal" rope: the converter permuted Wq/Wk */
    const llm__names *names;
    llm_status (*configure)(const llm__gguf_ctx *c, llm__hparams *hp);   /* NULL: none */
} llm__gguf_arch;

static const llm__gguf_arch llm__gguf_archs[] = {
    { "llama",    true,  &llm__gguf_names,      NULL },   /* also Mistral, Mixtral (experts), SmolLM */
    { "qwen2",    false, &llm__gguf_names,      NULL },
    { "qwen3",    false, &llm__gguf_names,      NULL },
    { "qwen2moe", false, &llm__gguf_names_shexp, llm__gguf_qwen2moe },
    { "qwen3moe", false, &llm__gguf_names,      NULL },
    { "gemma",    false, &llm__gguf_names,      llm__gguf_gemma },
    { "gemma2",   false, &llm__gguf_names,      llm__gguf_gemma },
    { "gemma3",   false, &llm__gguf_names,      llm__gguf_gemma },
    { "phi3",     false, &llm__gguf_names_phi3, NULL },
};

/* The shapes every family has, then MoE. */
static llm_status llm__gguf_hparams(const llm__gguf_ctx *c, llm__hparams *hp) {
    llm_status s;
    llm__hparams_init(hp);
    snprintf(hp->arch, sizeof hp->arch, "%s", c->arch);
    if ((s = llm__gguf_hp_int(c, "embedding_length", true, &hp->n_embd)) || (s = llm__gguf_hp_int(c, "block_count", true, &hp->n_layers)) ||
        (s = llm__gguf_hp_int(c, "attention.head_count", true, &hp->n_heads)) || (s = llm__gguf_hp_int(c, "feed_forward_length", true, &hp->n_ff)))
        return s;
    if (hp->n_embd <= 0 || hp->n_embd > 1 << 20 || hp->n_layers <= 0 || hp->n_layers > 4096 || hp->n_heads <= 0 || hp->n_heads > 4096)
        return llm__fail(LLM_ERR_FORMAT, "%s: implausible sizes (embedding %lld, %lld blocks, %lld heads)", c->path, (long long)hp->n_embd,
                         (long long)hp->n_layers, (long long)hp->n_heads);
    hp->n_kv_heads = hp->n_heads, hp->head_dim = hp->n_embd / hp->n_heads;
    int64_t vdim = 0;
    if ((s = llm__gguf_hp_int(c, "attention.head_count_kv", false, &hp->n_kv_heads)) ||
        (s = llm__gguf_hp_int(c, "attention.key_length", false, &hp->head_dim)) || (s = llm__gguf_hp_int(c, "attention.value_length", false, &vdim)) ||
        (s = llm__gguf_hp_int(c, "context_length", false, &hp->n_ctx_train)))
        return s;
    if (hp->n_kv_heads <= 0 || hp->n_heads % hp->n_kv_heads || hp->head_dim <= 0 || hp->head_dim > 4096 || hp->head_dim % 2 ||
        (vdim && vdim != hp->head_dim) || hp->n_ff <= 0 || hp->n_ff > (1 << 30))
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld heads, %lld kv heads, head dims %lld/%lld and %lld ff do not fit together", c->path,
                         (long long)hp->n_heads, (long long)hp->n_kv_heads, (long long)hp->head_dim, (long long)vdim, (long long)hp->n_ff);
    hp->n_rot = hp->head_dim;
    if ((s = llm__gguf_hp_int(c, "rope.dimension_count", false, &hp->n_rot))) return s;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: rope.dimension_count %lld does not fit head dim %lld", c->path, (long long)hp->n_rot, (long long)hp->head_dim);
    hp->norm_eps = llm__gguf_hp_f32(c, "attention.layer_norm_rms_epsilon", 1e-5f);
    hp->attn_scale = (float)(1.0 / sqrt((double)hp->head_dim));
    hp->act = LLM__ACT_SILU;
    hp->layer_sliding = (uint8_t *)calloc((size_t)hp->n_layers, 1);
    hp->layer_rope = (uint8_t *)malloc((size_t)hp->n_layers);
    hp->layer_moe = (uint8_t *)calloc((size_t)hp->n_layers, 1);
    if (!hp->layer_sliding || !hp->layer_rope || !hp->layer_moe) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    memset(hp->layer_rope, 1, (size_t)hp->n_layers);
    if ((s = llm__gguf_hp_int(c, "expert_count", false, &hp->n_experts)) || (s = llm__gguf_hp_int(c, "expert_used_count", false, &hp->n_experts_used)))
        return s;
    if (hp->n_experts > 0) {
        hp->n_ff_expert = hp->n_ff;
        if ((s = llm__gguf_hp_int(c, "expert_feed_forward_length", false, &hp->n_ff_expert))) return s;
        if (hp->n_experts > 4096 || hp->n_experts_used <= 0 || hp->n_experts_used > hp->n_experts || hp->n_ff_expert <= 0 || hp->n_ff_expert > (1 << 30))
            return llm__fail(LLM_ERR_FORMAT, "%s: %lld experts (%lld per token, width %lld) do not fit together", c->path,
                             (long long)hp->n_experts, (long long)hp->n_experts_used, (long long)hp->n_ff_expert);
        hp->moe_norm_topk = true;              /* Mixtral and Qwen3-MoE renormalise the chosen weights */
        memset(hp->layer_moe, 1, (size_t)hp->n_layers);
    } else {
        hp->n_experts = 0;
    }
    return llm__gguf_rope(c, hp);
}

/* bos and the end tokens (eos, end of turn, end of message) from the tokenizer metadata. */
static void llm__gguf_special(const llm_gguf *g, llm__hparams *hp) {
    static const char *const ends[] = { "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id" };
    int64_t v = -1;
    if (!llm_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &v) && v >= 0 && v <= INT32_MAX) hp->bos = (llm_token)v;
    for (int i = 0; i < LLM__COUNT(ends); i++) {
        v = -1;
        if (llm_gguf_get_int(g, ends[i], &v) || v < 0 || v > INT32_MAX) continue;
        bool seen = false;
        for (int j = 0; j < hp->n_eos; j++) seen |= hp->eos[j] == (llm_token)v;
        if (!seen && hp->n_eos < LLM__MAX_EOS) hp->eos[hp->n_eos++] = (llm_token)v;
    }
}

/* The file's tensors as the model's views (names copied: the llm_gguf is closed after
   loading, the mapping stays). */
static llm_status llm__gguf_views(llm_model *m, const llm_gguf *g) {
    int64_t n = llm_gguf_n_tensors(g);
    size_t names = 0;
    for (int64_t i = 0; i < n; i++) names += strlen(llm_gguf_tensor(g, i)->name) + 1;
    m->views = (llm_tensor *)calloc(1, (size_t)n * sizeof *m->views + names);
    if (!m->views) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    char *at = (char *)(m->views + n);
    for (int64_t i = 0; i < n; i++) {
        m->views[i] = *llm_gguf_tensor(g, i);
        size_t len = strlen(m->views[i].name) + 1;
        memcpy(at, m->views[i].name, len);
        m->views[i].name = at;
        at += len;
    }
    m->n_views = n;
    return LLM_OK;
}

static llm_status llm__gguf_load_model(llm_model *m, const char *path, const llm_gguf *g) {
    llm__gguf_ctx c = { g, path, "" };
    llm_status s = llm_gguf_get_str(g, "general.architecture", &c.arch);
    if (s) return llm__fail(LLM_ERR_FORMAT, "%s: general.architecture is missing", path);
    const llm__gguf_arch *arch = NULL;
    for (int i = 0; i < LLM__COUNT(llm__gguf_archs); i++) if (!strcmp(llm__gguf_archs[i].name, c.arch)) arch = &llm__gguf_archs[i];
    if (!arch) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: GGUF architecture '%s' is not supported", path, c.arch);
    if ((s = llm__gguf_hparams(&c, &m->hp))) return s;
    m->hp.rope_interleaved = arch->interleaved;
    if (arch->configure && (s = arch->configure(&c, &m->hp))) return s;
    llm__gguf_special(g, &m->hp);
    const llm_tensor *emb = llm_gguf_find_tensor(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2) return llm__fail(LLM_ERR_FORMAT, "%s: token_embd.weight is missing or not a matrix", path);
    m->hp.n_vocab = emb->shape[0];
    m->hp.tie_embeddings = !llm_gguf_find_tensor(g, "output.weight");
    if ((s = llm__gguf_views(m, g)) || (s = llm__model_alloc_layers(m))) return s;
    return llm__bind_names(m, arch->names);
}

/* A .gguf file: mapped once; the reader validates it and describes its tensors. */
static llm_status llm__load_gguf(llm_model *m, const char *path) {
    llm_gguf *g;
    llm_status s = llm__map_file(path, &m->bin);
    if (s) return s;
    if ((s = llm_gguf_open_memory(m->bin.data, m->bin.size, path, &g))) return s;
    s = llm__gguf_load_model(m, path, g);
    llm_gguf_close(g);
    return s;
}
