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
    double attn_factor;                 /* yarn mscale override (0 = from factor) */
} llm__rope_cfg;

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
    float norm_add_one;                 /* RMSNorm weight offset: 1 where checkpoints store w - 1 */
    uint8_t *layer_sliding;             /* [L] 1 = sliding-window attention */
    uint8_t *layer_rope;                /* [L] 1 = apply rope (0 = NoPE layer) */
    llm_token bos;
    llm_token eos[LLM__MAX_EOS];
    int32_t n_eos;
} llm__hparams;

static void llm__hparams_free(llm__hparams *hp) {
    free(hp->layer_sliding);
    free(hp->layer_rope);
    hp->layer_sliding = hp->layer_rope = NULL;
}

#ifndef LLM_NO_CJSON
static llm_status llm__rope_type_parse(const char *path, const char *name, llm__rope_type *out) {
    static const struct { const char *name; llm__rope_type type; } types[] = {
        { "default", LLM__ROPE_DEFAULT }, { "linear", LLM__ROPE_LINEAR }, { "llama3", LLM__ROPE_LLAMA3 },
        { "yarn", LLM__ROPE_YARN }, { "dynamic", LLM__ROPE_DYNAMIC }, { "longrope", LLM__ROPE_LONGROPE },
    };
    for (int i = 0; i < LLM__COUNT(types); i++)
        if (!strcmp(types[i].name, name)) { *out = types[i].type; return LLM_OK; }
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: rope type '%s' is not supported", path, name);
}

/* Read one rope description: `params` holds rope_type/type and its factors (v4 rope_scaling
   or v5 rope_parameters); theta comes from params or the fallback. */
static llm_status llm__rope_parse(const char *path, const cJSON *params, double theta, int64_t n_ctx_train, llm__rope_cfg *r) {
    memset(r, 0, sizeof *r);
    r->theta = llm__json_num(params, "rope_theta", theta);
    r->factor = llm__json_num(params, "factor", 1.0);
    r->low_freq_factor = llm__json_num(params, "low_freq_factor", 1.0);
    r->high_freq_factor = llm__json_num(params, "high_freq_factor", 4.0);
    r->orig_ctx = llm__json_num(params, "original_max_position_embeddings", (double)n_ctx_train);
    r->beta_fast = llm__json_num(params, "beta_fast", 32.0);
    r->beta_slow = llm__json_num(params, "beta_slow", 1.0);
    r->attn_factor = llm__json_num(params, "attention_factor", 0.0);
    const char *type = llm__json_str(params, "rope_type", llm__json_str(params, "type", "default"));
    return llm__rope_type_parse(path, type, &r->type);
}

/* Read a required positive integer field. */
static llm_status llm__cfg_int(const char *path, const cJSON *cfg, const char *key, int64_t *out) {
    int64_t v = llm__json_int(cfg, key, -1);
    if (v <= 0 || v > (1 << 30))
        return llm__fail(LLM_ERR_FORMAT, "%s: field \"%s\" is missing or not a positive integer", path, key);
    *out = v;
    return LLM_OK;
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

/* The v5 form keeps rope settings in rope_parameters, either directly or per layer type
   ({"full_attention": {...}, "sliding_attention": {...}}); the v4 form has rope_theta and
   rope_scaling at the top (and rope_local_base_freq for Gemma 3's sliding layers). */
static llm_status llm__cfg_rope(const char *path, const cJSON *cfg, llm__hparams *hp) {
    const cJSON *rp = llm__json_get(cfg, "rope_parameters");
    double theta = llm__json_num(cfg, "rope_theta", 10000.0);
    llm_status s;
    if (cJSON_IsObject(rp) && cJSON_IsObject(llm__json_get(rp, "full_attention"))) {
        s = llm__rope_parse(path, llm__json_get(rp, "full_attention"), theta, hp->n_ctx_train, &hp->rope);
        const cJSON *local = llm__json_get(rp, "sliding_attention");
        if (!s) s = llm__rope_parse(path, cJSON_IsObject(local) ? local : llm__json_get(rp, "full_attention"), theta, hp->n_ctx_train, &hp->rope_local);
        return s;
    }
    const cJSON *params = cJSON_IsObject(rp) ? rp : llm__json_get(cfg, "rope_scaling");
    s = llm__rope_parse(path, params, theta, hp->n_ctx_train, &hp->rope);
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

/* The fields every decoder-only transformer config has. Family quirks are applied after
   this by the architecture's own configure function (51_arch.c). */
static llm_status llm__hparams_parse(const char *path, const cJSON *cfg, llm__hparams *hp) {
    llm_status s;
    memset(hp, 0, sizeof *hp);
    hp->bos = -1;
    snprintf(hp->arch, sizeof hp->arch, "%s", llm__json_str(cfg, "model_type", ""));
    if ((s = llm__cfg_int(path, cfg, "vocab_size", &hp->n_vocab)) || (s = llm__cfg_int(path, cfg, "hidden_size", &hp->n_embd)) ||
        (s = llm__cfg_int(path, cfg, "num_hidden_layers", &hp->n_layers)) ||
        (s = llm__cfg_int(path, cfg, "num_attention_heads", &hp->n_heads)) ||
        (s = llm__cfg_int(path, cfg, "intermediate_size", &hp->n_ff)))
        return s;
    hp->n_kv_heads = llm__json_int(cfg, "num_key_value_heads", hp->n_heads);
    hp->head_dim = llm__json_int(cfg, "head_dim", hp->n_embd / hp->n_heads);
    if (hp->n_kv_heads <= 0 || hp->n_heads % hp->n_kv_heads || hp->head_dim <= 0 || hp->head_dim > 4096 || hp->head_dim % 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld heads, %lld kv heads and head_dim %lld do not fit together", path,
                         (long long)hp->n_heads, (long long)hp->n_kv_heads, (long long)hp->head_dim);
    hp->n_ctx_train = llm__json_int(cfg, "max_position_embeddings", 0);
    hp->norm_eps = llm__json_num(cfg, "rms_norm_eps", llm__json_num(cfg, "layer_norm_eps", 1e-5));
    hp->tie_embeddings = llm__json_bool(cfg, "tie_word_embeddings", false);
    hp->n_rot = hp->head_dim;
    if (llm__json_has(cfg, "partial_rotary_factor"))
        hp->n_rot = (int64_t)(hp->head_dim * llm__json_num(cfg, "partial_rotary_factor", 1.0)) / 2 * 2;
    hp->attn_scale = (float)(1.0 / sqrt((double)hp->head_dim));
    hp->embed_scale = 1.0f;
    const char *act = llm__json_str(cfg, "hidden_act", llm__json_str(cfg, "hidden_activation", "silu"));
    if ((s = llm__cfg_act(path, act, &hp->act))) return s;
    if ((s = llm__cfg_rope(path, cfg, hp))) return s;
    if ((s = llm__cfg_layers(path, cfg, hp))) return s;
    llm__cfg_eos(cfg, hp);
    return LLM_OK;
}
#endif
