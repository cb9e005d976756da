/* ---- >>hparams: what config.json says about the network ----
   One struct describes every supported architecture: a family is a set of options on the
   generic transformer in 55_forward.c, not a copy of it. Both config forms are read: the
   transformers v5 form (rope settings under "rope_parameters", per layer type where layer
   types differ) and the v4 form most Hub models still use ("rope_theta", "rope_scaling").
   Shape legend used across the model files: T tokens in a batch, C = n_embd, H heads,
   Hkv kv heads, D head_dim, F = n_ff, V = n_vocab, L layers. */
#include "10_internal.h"

typedef enum {
    LLM__ROPE_DEFAULT, LLM__ROPE_LINEAR, LLM__ROPE_LLAMA3, LLM__ROPE_YARN, LLM__ROPE_DYNAMIC, LLM__ROPE_LONGROPE
} llm__rope_type;

typedef struct llm__rope_cfg {
    llm__rope_type type;
    double theta;                       /* base */
    double factor;                      /* linear / llama3 / yarn / dynamic scaling factor */
    double low_freq_factor, high_freq_factor;  /* llama3 */
    double orig_ctx;                    /* original_max_position_embeddings */
    double beta_fast, beta_slow;        /* yarn */
    double attn_factor;                 /* yarn / longrope cos-sin scale override (0 = from factor) */
    double mscale, mscale_all_dim;      /* yarn (DeepSeek): attention factor from two mscales */
    bool truncate;                      /* yarn: round the correction range to integers */
    float *short_factor, *long_factor;  /* longrope: [n_factors] per-frequency divisors, or NULL */
    int64_t n_factors;                  /* n_rot/2 when the config was read (a family may change n_rot later) */
} llm__rope_cfg;

typedef enum { LLM__NORM_RMS, LLM__NORM_LAYER } llm__norm_kind;
typedef enum { LLM__ROUTER_SOFTMAX, LLM__ROUTER_SIGMOID_GROUPED } llm__router_kind;

#define LLM__MAX_EOS 16

typedef struct llm__hparams {
    char arch[32];                      /* config model_type */
    int64_t n_vocab, n_embd, n_layers, n_heads, n_kv_heads, head_dim, n_ff, n_ctx_train;
    double norm_eps;
    bool tie_embeddings;
    llm__act act;                       /* feed-forward activation (gated: act(gate) * up) */
    int64_t n_rot;                      /* rotary dims per head (= head_dim unless partial) */
    bool rope_interleaved;              /* pairs (2i, 2i+1) instead of (i, i + n_rot/2) */
    llm__rope_cfg rope;                 /* rope of full-attention layers */
    llm__rope_cfg rope_local;           /* rope of sliding-window layers (= rope unless the config differs) */
    int64_t sliding_window;             /* window of sliding layers; 0 = none */
    float attn_scale;                   /* query scale, 1/sqrt(D) by default */
    float embed_scale;                  /* embeddings are multiplied by this (1 by default) */
    bool round_embed_scale;             /* ... after rounding it to the embedding's dtype (Gemma) */
    bool learned_pos;                   /* add learned position embeddings (GPT-2) */
    float norm_add_one;                 /* RMSNorm weight offset: 1 where checkpoints store w - 1 */
    uint8_t *layer_sliding;             /* [L] 1 = sliding-window attention */
    uint8_t *layer_rope;                /* [L] 1 = apply rope (0 = NoPE layer) */
    /* block structure */
    llm__norm_kind norm;                /* RMSNorm, or LayerNorm (with a bias where the checkpoint has one) */
    bool parallel_block;                /* x + attn(norm1(x)) + ffn(norm2(x)) (Phi, Cohere, GPT-NeoX) */
    float residual_scale;               /* block outputs are scaled before the residual add (Granite) */
    float attn_softcap, final_softcap;  /* Gemma 2: s -> cap * tanh(s / cap); 0 = off */
    float logit_scale;                  /* logits are multiplied by this (Cohere; Granite 1/logits_scaling) */
    bool qk_norm_full;                  /* OLMo 2: q/k norm over the whole projection, not per head */
    /* mixture of experts (n_experts = 0: dense feed-forward everywhere) */
    int64_t n_experts, n_experts_used;  /* E, K experts per token */
    int64_t n_ff_expert, n_ff_shared;   /* hidden width of a routed / the shared expert (0: none) */
    llm__router_kind router;
    bool moe_norm_topk;                 /* renormalise the top-k weights to sum to 1 */
    float routed_scale;                 /* routed_scaling_factor (DeepSeek) */
    int64_t n_group, topk_group;        /* DeepSeek V3 group-limited routing */
    uint8_t *layer_moe;                 /* [L] 1 = MoE feed-forward */
    /* multi-head latent attention (DeepSeek V2/V3); kv_lora_rank > 0 turns it on */
    int64_t q_lora_rank, kv_lora_rank;  /* 0 q_lora_rank: a plain q_proj */
    int64_t qk_nope_dim, qk_rope_dim, v_head_dim;
    llm_token bos;
    llm_token eos[LLM__MAX_EOS];
    int32_t n_eos;
} llm__hparams;

/* Defaults that make every option a no-op (a plain pre-norm Llama block). */
static void llm__hparams_init(llm__hparams *hp) {
    memset(hp, 0, sizeof *hp);
    hp->bos = -1;
    hp->embed_scale = hp->residual_scale = hp->logit_scale = hp->routed_scale = 1.0f;
    hp->n_group = hp->topk_group = 1;
}

static void llm__hparams_free(llm__hparams *hp) {
    if (hp->rope_local.short_factor != hp->rope.short_factor) free(hp->rope_local.short_factor);
    if (hp->rope_local.long_factor != hp->rope.long_factor) free(hp->rope_local.long_factor);
    free(hp->rope.short_factor);
    free(hp->rope.long_factor);
    free(hp->layer_sliding);
    free(hp->layer_rope);
    free(hp->layer_moe);
    hp->layer_sliding = hp->layer_rope = hp->layer_moe = NULL;
    hp->rope.short_factor = hp->rope.long_factor = hp->rope_local.short_factor = hp->rope_local.long_factor = NULL;
}

#ifndef LLM_NO_CJSON
static llm_status llm__rope_type_parse(const char *path, const char *name, llm__rope_type *out) {
    static const struct { const char *name; llm__rope_type type; } types[] = {
        { "default", LLM__ROPE_DEFAULT }, { "linear", LLM__ROPE_LINEAR }, { "llama3", LLM__ROPE_LLAMA3 },
        { "yarn", LLM__ROPE_YARN }, { "dynamic", LLM__ROPE_DYNAMIC }, { "longrope", LLM__ROPE_LONGROPE },
        { "su", LLM__ROPE_LONGROPE },   /* early Phi-3 configs' name for longrope */
    };
    for (int i = 0; i < LLM__COUNT(types); i++)
        if (!strcmp(types[i].name, name)) { *out = types[i].type; return LLM_OK; }
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: rope type '%s' is not supported", path, name);
}

/* longrope's per-frequency divisors: a list of n_rot/2 numbers. */
static llm_status llm__rope_factors(const char *path, const cJSON *params, const char *key, int64_t n_rot, float **out) {
    const cJSON *a = llm__json_get(params, key);
    if (!cJSON_IsArray(a)) return llm__fail(LLM_ERR_FORMAT, "%s: longrope needs a list \"%s\"", path, key);
    if (cJSON_GetArraySize(a) != n_rot / 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: \"%s\" has %d entries, expected %lld", path, key, cJSON_GetArraySize(a), (long long)n_rot / 2);
    float *f = (float *)malloc((size_t)(n_rot / 2) * sizeof *f + 1);
    if (!f) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    int64_t i = 0;
    for (const cJSON *x = a->child; x; x = x->next) f[i++] = cJSON_IsNumber(x) ? (float)x->valuedouble : 1.0f;
    *out = f;
    return LLM_OK;
}

/* Read one rope description: `params` holds rope_type/type and its factors (v4 rope_scaling
   or v5 rope_parameters); theta comes from params or the fallback; the original context
   from params or the config's top level (Phi-3 keeps it there). */
static llm_status llm__rope_parse(const char *path, const cJSON *cfg, const cJSON *params, double theta, const llm__hparams *hp,
                                  llm__rope_cfg *r) {
    memset(r, 0, sizeof *r);
    r->theta = llm__json_num(params, "rope_theta", theta);
    r->factor = llm__json_num(params, "factor", 1.0);
    r->low_freq_factor = llm__json_num(params, "low_freq_factor", 1.0);
    r->high_freq_factor = llm__json_num(params, "high_freq_factor", 4.0);
    double orig = llm__json_num(cfg, "original_max_position_embeddings", (double)hp->n_ctx_train);
    r->orig_ctx = llm__json_num(params, "original_max_position_embeddings", orig);
    r->beta_fast = llm__json_num(params, "beta_fast", 32.0);
    r->beta_slow = llm__json_num(params, "beta_slow", 1.0);
    r->attn_factor = llm__json_num(params, "attention_factor", 0.0);
    r->mscale = llm__json_num(params, "mscale", 0.0);
    r->mscale_all_dim = llm__json_num(params, "mscale_all_dim", 0.0);
    r->truncate = llm__json_bool(params, "truncate", true);
    const char *type = llm__json_str(params, "rope_type", llm__json_str(params, "type", "default"));
    llm_status s = llm__rope_type_parse(path, type, &r->type);
    if (!s && (r->type == LLM__ROPE_YARN || r->type == LLM__ROPE_LONGROPE) && !llm__json_has(params, "factor") && r->orig_ctx > 0)
        r->factor = (double)hp->n_ctx_train / r->orig_ctx;
    if (!s && r->type == LLM__ROPE_LONGROPE) s = llm__rope_factors(path, params, "short_factor", hp->n_rot, &r->short_factor);
    if (!s && r->type == LLM__ROPE_LONGROPE) s = llm__rope_factors(path, params, "long_factor", hp->n_rot, &r->long_factor);
    r->n_factors = hp->n_rot / 2;
    return s;
}

/* eos_token_id may be an int or a list of ints. */
static void llm__cfg_eos(const cJSON *cfg, llm__hparams *hp) {
    const cJSON *e = llm__json_get(cfg, "eos_token_id");
    if (cJSON_IsNumber(e)) { hp->eos[0] = (llm_token)e->valuedouble; hp->n_eos = 1; }
    if (cJSON_IsArray(e)) {
        hp->n_eos = 0;
        for (const cJSON *x = e->child; x && hp->n_eos < LLM__MAX_EOS; x = x->next)
            if (cJSON_IsNumber(x)) hp->eos[hp->n_eos++] = (llm_token)x->valuedouble;
    }
    if (cJSON_IsNumber(llm__json_get(cfg, "bos_token_id"))) hp->bos = (llm_token)llm__json_int(cfg, "bos_token_id", -1);
}

/* Rotary dims per head: partial_rotary_factor (v5: inside rope_parameters; v4: top level),
   or GPT-NeoX's v4 rotary_pct. */
static void llm__cfg_n_rot(const cJSON *cfg, llm__hparams *hp) {
    const cJSON *rp = llm__json_get(cfg, "rope_parameters");
    if (cJSON_IsObject(llm__json_get(rp, "full_attention"))) rp = llm__json_get(rp, "full_attention");
    double f = llm__json_num(cfg, "partial_rotary_factor", llm__json_num(cfg, "rotary_pct", 1.0));
    f = llm__json_num(rp, "partial_rotary_factor", f);
    hp->n_rot = (int64_t)((double)hp->head_dim * f) / 2 * 2;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim) hp->n_rot = hp->head_dim;
}

/* The v5 form keeps rope settings in rope_parameters, either directly or per layer type
   ({"full_attention": {...}, "sliding_attention": {...}}); the v4 form has rope_theta and
   rope_scaling at the top (rope_local_base_freq for Gemma 3's sliding layers,
   rotary_emb_base for GPT-NeoX). */
static llm_status llm__cfg_rope(const char *path, const cJSON *cfg, llm__hparams *hp) {
    const cJSON *rp = llm__json_get(cfg, "rope_parameters");
    double theta = llm__json_num(cfg, "rope_theta", llm__json_num(cfg, "rotary_emb_base", 10000.0));
    llm_status s;
    llm__cfg_n_rot(cfg, hp);
    if (cJSON_IsObject(rp) && cJSON_IsObject(llm__json_get(rp, "full_attention"))) {
        const cJSON *full = llm__json_get(rp, "full_attention"), *local = llm__json_get(rp, "sliding_attention");
        s = llm__rope_parse(path, cfg, full, theta, hp, &hp->rope);
        if (!s) s = llm__rope_parse(path, cfg, cJSON_IsObject(local) ? local : full, theta, hp, &hp->rope_local);
        return s;
    }
    const cJSON *params = cJSON_IsObject(rp) ? rp : llm__json_get(cfg, "rope_scaling");
    s = llm__rope_parse(path, cfg, params, theta, hp, &hp->rope);
    hp->rope_local = hp->rope;
    if (llm__json_has(cfg, "rope_local_base_freq")) {           /* v4 Gemma 3: sliding layers use plain rope */
        memset(&hp->rope_local, 0, sizeof hp->rope_local);
        hp->rope_local.factor = 1.0;
        hp->rope_local.theta = llm__json_num(cfg, "rope_local_base_freq", 10000.0);
    }
    return s;
}

/* Which layers use a sliding window and which skip rope. layer_types (v5) names each
   layer; otherwise a sliding_window applies to every layer unless use_sliding_window is
   false (Qwen2). SmolLM3 lists its NoPE layers in no_rope_layers. */
static llm_status llm__cfg_layers(const char *path, const cJSON *cfg, llm__hparams *hp) {
    int64_t L = hp->n_layers;
    hp->layer_sliding = (uint8_t *)calloc((size_t)L, 1);
    hp->layer_rope = (uint8_t *)malloc((size_t)L);
    if (!hp->layer_sliding || !hp->layer_rope) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    memset(hp->layer_rope, 1, (size_t)L);
    hp->sliding_window = llm__json_int(cfg, "sliding_window", 0);
    if (hp->sliding_window < 0) hp->sliding_window = 0;
    bool use_sliding = llm__json_bool(cfg, "use_sliding_window", true) && hp->sliding_window > 0;
    const cJSON *types = llm__json_get(cfg, "layer_types");
    if (cJSON_IsArray(types)) {
        if (cJSON_GetArraySize(types) != L)
            return llm__fail(LLM_ERR_FORMAT, "%s: layer_types has %d entries for %lld layers", path, cJSON_GetArraySize(types), (long long)L);
        int64_t i = 0;
        for (const cJSON *t = types->child; t; t = t->next, i++)
            hp->layer_sliding[i] = use_sliding && cJSON_IsString(t) && !strcmp(t->valuestring, "sliding_attention");
    } else if (use_sliding) {
        memset(hp->layer_sliding, 1, (size_t)L);
    }
    const cJSON *nope = llm__json_get(cfg, "no_rope_layers");
    int64_t interval = llm__json_int(cfg, "no_rope_layer_interval", 0);
    if (cJSON_IsArray(nope)) {
        if (cJSON_GetArraySize(nope) != L)
            return llm__fail(LLM_ERR_FORMAT, "%s: no_rope_layers has %d entries for %lld layers", path, cJSON_GetArraySize(nope), (long long)L);
        int64_t i = 0;
        for (const cJSON *t = nope->child; t; t = t->next, i++) hp->layer_rope[i] = cJSON_IsNumber(t) && t->valuedouble != 0;
    } else if (interval > 0) {
        for (int64_t i = 0; i < L; i++) hp->layer_rope[i] = (i + 1) % interval != 0;
    }
    return LLM_OK;
}

static llm_status llm__cfg_act(const char *path, const char *name, llm__act *out) {
    static const struct { const char *name; llm__act act; } acts[] = {
        { "silu", LLM__ACT_SILU }, { "swish", LLM__ACT_SILU }, { "gelu", LLM__ACT_GELU },
        { "gelu_pytorch_tanh", LLM__ACT_GELU_TANH }, { "gelu_new", LLM__ACT_GELU_TANH },
        { "gelu_fast", LLM__ACT_GELU_TANH }, { "relu", LLM__ACT_RELU },
    };
    for (int i = 0; i < LLM__COUNT(acts); i++)
        if (!strcmp(acts[i].name, name)) { *out = acts[i].act; return LLM_OK; }
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: activation '%s' is not supported", path, name);
}

/* An integer under the first of several names (configs of different eras spell them
   differently: hidden_size / n_embd); dflt when none is present. */
static int64_t llm__cfg_alias(const cJSON *cfg, const char *const *keys, int64_t dflt) {
    for (; *keys; keys++)
        if (cJSON_IsNumber(llm__json_get(cfg, *keys))) return llm__json_int(cfg, *keys, dflt);
    return dflt;
}

static llm_status llm__cfg_required(const char *path, const cJSON *cfg, const char *const *keys, int64_t *out) {
    int64_t v = llm__cfg_alias(cfg, keys, -1);
    if (v <= 0 || v > (1 << 30))
        return llm__fail(LLM_ERR_FORMAT, "%s: field \"%s\" is missing or not a positive integer", path, keys[0]);
    *out = v;
    return LLM_OK;
}

/* Mixture of experts: which layers route, how many experts and how wide. Layer il is sparse
   unless it is one of the first_k_dense_replace (DeepSeek) or listed in mlp_only_layers,
   and (il + 1) is a multiple of decoder_sparse_step (Qwen MoE). */
static llm_status llm__cfg_moe(const char *path, const cJSON *cfg, llm__hparams *hp) {
    static const char *const experts[] = { "num_experts", "num_local_experts", "n_routed_experts", NULL };
    static const char *const ff[] = { "moe_intermediate_size", "intermediate_size", NULL };
    hp->n_experts = llm__cfg_alias(cfg, experts, 0);
    hp->layer_moe = (uint8_t *)calloc((size_t)hp->n_layers, 1);
    if (!hp->layer_moe) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (hp->n_experts <= 0) { hp->n_experts = 0; return LLM_OK; }
    hp->n_experts_used = llm__json_int(cfg, "num_experts_per_tok", 2);
    if (hp->n_experts > 4096 || hp->n_experts_used <= 0 || hp->n_experts_used > hp->n_experts)
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld experts with %lld per token do not fit together", path,
                         (long long)hp->n_experts, (long long)hp->n_experts_used);
    hp->n_ff_expert = llm__cfg_alias(cfg, ff, hp->n_ff);
    hp->n_ff_shared = llm__json_int(cfg, "shared_expert_intermediate_size", hp->n_ff_expert * llm__json_int(cfg, "n_shared_experts", 0));
    if (hp->n_ff_expert <= 0 || hp->n_ff_expert > (1 << 30) || hp->n_ff_shared < 0 || hp->n_ff_shared > (1 << 30))
        return llm__fail(LLM_ERR_FORMAT, "%s: expert widths %lld / %lld are not plausible", path, (long long)hp->n_ff_expert,
                         (long long)hp->n_ff_shared);
    hp->moe_norm_topk = llm__json_bool(cfg, "norm_topk_prob", true);
    hp->routed_scale = (float)llm__json_num(cfg, "routed_scaling_factor", 1.0);
    int64_t first_dense = llm__json_int(cfg, "first_k_dense_replace", 0), step = llm__json_int(cfg, "decoder_sparse_step", 1);
    for (int64_t il = 0; il < hp->n_layers; il++) hp->layer_moe[il] = il >= first_dense && (il + 1) % LLM__MAX(step, 1) == 0;
    const cJSON *dense = llm__json_get(cfg, "mlp_only_layers");
    for (const cJSON *x = cJSON_IsArray(dense) ? dense->child : NULL; x; x = x->next)
        if (cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble < (double)hp->n_layers) hp->layer_moe[(int64_t)x->valuedouble] = 0;
    return LLM_OK;
}

/* The fields every decoder-only transformer config has. Family quirks are applied after
   this by the architecture's own configure function (52_load.c). */
static llm_status llm__hparams_parse(const char *path, const cJSON *cfg, llm__hparams *hp) {
    static const char *const vocab[] = { "vocab_size", NULL }, *const embd[] = { "hidden_size", "n_embd", NULL };
    static const char *const layers[] = { "num_hidden_layers", "n_layer", NULL }, *const heads[] = { "num_attention_heads", "n_head", NULL };
    static const char *const ff[] = { "intermediate_size", "n_inner", NULL };
    static const char *const ctx[] = { "max_position_embeddings", "n_positions", NULL };
    llm_status s;
    llm__hparams_init(hp);
    snprintf(hp->arch, sizeof hp->arch, "%s", llm__json_str(cfg, "model_type", ""));
    if ((s = llm__cfg_required(path, cfg, vocab, &hp->n_vocab)) || (s = llm__cfg_required(path, cfg, embd, &hp->n_embd)) ||
        (s = llm__cfg_required(path, cfg, layers, &hp->n_layers)) || (s = llm__cfg_required(path, cfg, heads, &hp->n_heads)))
        return s;
    hp->n_ff = llm__cfg_alias(cfg, ff, 4 * hp->n_embd);              /* GPT-2: n_inner null = 4 C */
    hp->n_kv_heads = llm__json_int(cfg, "num_key_value_heads", hp->n_heads);
    hp->head_dim = llm__json_int(cfg, "head_dim", hp->n_embd / hp->n_heads);
    if (hp->n_kv_heads <= 0 || hp->n_heads % hp->n_kv_heads || hp->head_dim <= 0 || hp->head_dim > 4096 || hp->head_dim % 2 ||
        hp->n_ff <= 0 || hp->n_ff > (1 << 30))
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld heads, %lld kv heads, head_dim %lld and %lld ff do not fit together", path,
                         (long long)hp->n_heads, (long long)hp->n_kv_heads, (long long)hp->head_dim, (long long)hp->n_ff);
    hp->n_ctx_train = llm__cfg_alias(cfg, ctx, 0);
    hp->norm_eps = llm__json_num(cfg, "rms_norm_eps", llm__json_num(cfg, "layer_norm_eps", 1e-5));
    hp->norm_eps = llm__json_num(cfg, "layer_norm_epsilon", llm__json_num(cfg, "norm_epsilon", hp->norm_eps));
    hp->tie_embeddings = llm__json_bool(cfg, "tie_word_embeddings", false);
    hp->attn_scale = (float)(1.0 / sqrt((double)hp->head_dim));
    const char *act = llm__json_str(cfg, "hidden_act", llm__json_str(cfg, "hidden_activation", llm__json_str(cfg, "activation_function", "silu")));
    if ((s = llm__cfg_act(path, act, &hp->act))) return s;
    if ((s = llm__cfg_rope(path, cfg, hp))) return s;
    if ((s = llm__cfg_layers(path, cfg, hp))) return s;
    if ((s = llm__cfg_moe(path, cfg, hp))) return s;
    llm__cfg_eos(cfg, hp);
    return LLM_OK;
}
#endif
