/* ---- >>model: the weights of the generic transformer, and loading them ----
   A model is hyperparameters (50_hparams.c) plus one llm__layer per layer. Matrices stay
   where the file put them (llm_tensor views into the mapping, f32/f16/bf16); the small 1-D
   parameters (norms, biases) are converted to f32 once, so the forward pass reads floats.
   Optional tensors (biases, q/k norms) are bound when the checkpoint has them: a family
   whose config says attention_bias gets its biases without a flag of its own. */
#include "10_internal.h"

typedef struct llm__layer {
    const float *attn_norm, *attn_norm_b;          /* [C] pre-attention norm (bias: LayerNorm) */
    const llm_tensor *wq, *wk, *wv, *wo;           /* [H*D, C] [Hkv*D, C] [Hkv*D, C] [C, H*D] */
    const float *bq, *bk, *bv, *bo;                /* [H*D] [Hkv*D] [Hkv*D] [C] or NULL */
    const float *q_norm, *k_norm;                  /* [D] per-head RMSNorm (Qwen3) or NULL */
    const float *ffn_norm, *ffn_norm_b;            /* [C] pre-feed-forward norm */
    const llm_tensor *w_gate, *w_up, *w_down;      /* [F, C] [F, C] [C, F] (gate NULL: plain MLP) */
    const float *b_up, *b_down;                    /* [F] [C] or NULL */
} llm__layer;

struct llm_model {
    llm_allocator alloc;
    llm__hparams hp;
    llm_model_info info;
    char *path;
    llm_safetensors *st;                /* the weights (HF / MLX directories) */
    llm__mapping bin;                   /* or a llama2.c checkpoint */
    llm_tensor *views;                  /* [n_views] tensors the loader described itself */
    int64_t n_views;
    float **owned;                      /* f32 copies of 1-D parameters, freed with the model */
    int64_t n_owned, cap_owned;
    const llm_tensor *tok_embd;         /* [V, C] */
    const llm_tensor *output;           /* [V, C] (= tok_embd when tied) */
    const float *out_norm, *out_norm_b; /* [C] */
    llm__layer *layers;                 /* [L] */
    float *inv_freq, *inv_freq_local;   /* [n_rot/2] rope frequencies: full / sliding layers */
    float rope_mscale, rope_mscale_local;
    char lookup_err[256];               /* scratch for tensor names */
};

/* ---- rope frequencies ----
   inv_freq[i] = theta^(-2i/n_rot), then rescaled by the rope type's rule (formulas as in
   transformers' modeling_rope_utils.py). mscale scales cos/sin (YaRN). */
static llm_status llm__rope_inv_freq(const llm__rope_cfg *r, int64_t n_rot, float *inv_freq, float *mscale) {
    int64_t half = n_rot / 2;
    *mscale = 1.0f;
    for (int64_t i = 0; i < half; i++) inv_freq[i] = 1.0f / powf((float)r->theta, (float)(2 * i) / (float)n_rot);
    switch (r->type) {
    case LLM__ROPE_DEFAULT:
    case LLM__ROPE_DYNAMIC:     /* dynamic NTK equals default up to the original context */
        break;
    case LLM__ROPE_LINEAR:
        for (int64_t i = 0; i < half; i++) inv_freq[i] /= (float)r->factor;
        break;
    case LLM__ROPE_LLAMA3: {    /* Llama 3.1: slow down low frequencies, keep high ones, blend between */
        double low_wavelen = r->orig_ctx / r->low_freq_factor, high_wavelen = r->orig_ctx / r->high_freq_factor;
        for (int64_t i = 0; i < half; i++) {
            double f = inv_freq[i], wavelen = 2 * M_PI / f;
            if (wavelen > low_wavelen) f = f / r->factor;
            else if (wavelen >= high_wavelen) {
                double smooth = (r->orig_ctx / wavelen - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
                f = (1 - smooth) * f / r->factor + smooth * f;
            }
            inv_freq[i] = (float)f;
        }
        break;
    }
    case LLM__ROPE_YARN: {     /* YaRN: interpolate low frequencies, extrapolate high ones, ramp between */
        double d = (double)n_rot, base = r->theta;
        double lo = floor(d * log(r->orig_ctx / (r->beta_fast * 2 * M_PI)) / (2 * log(base)));
        double hi = ceil(d * log(r->orig_ctx / (r->beta_slow * 2 * M_PI)) / (2 * log(base)));
        lo = LLM__MAX(lo, 0);
        hi = LLM__MIN(hi, d - 1);
        if (lo == hi) hi += 0.001;
        for (int64_t i = 0; i < half; i++) {
            double ramp = LLM__MIN(LLM__MAX(((double)i - lo) / (hi - lo), 0.0), 1.0), extrap = 1 - ramp;
            inv_freq[i] = (float)(inv_freq[i] / r->factor * (1 - extrap) + inv_freq[i] * extrap);
        }
        *mscale = (float)(r->attn_factor > 0 ? r->attn_factor : r->factor > 1 ? 0.1 * log(r->factor) + 1.0 : 1.0);
        break;
    }
    case LLM__ROPE_LONGROPE:
        return llm__fail(LLM_ERR_UNSUPPORTED, "rope type 'longrope' is not supported yet");
    }
    return LLM_OK;
}

/* ---- binding tensors by name ---- */

static const llm_tensor *llm__model_tensor(const llm_model *m, const char *name) {
    if (m->st) return llm_safetensors_find(m->st, name);
    for (int64_t i = 0; i < m->n_views; i++) if (!strcmp(m->views[i].name, name)) return &m->views[i];
    return NULL;
}

/* A matrix [rows, cols] in a float dtype; NULL (and LLM_OK) when absent and optional. */
static llm_status llm__bind_mat(llm_model *m, const char *name, int64_t rows, int64_t cols, bool required, const llm_tensor **out) {
    const llm_tensor *t = llm__model_tensor(m, name);
    *out = NULL;
    if (!t) return required ? llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing", m->path, name) : LLM_OK;
    if (t->n_dims != 2 || t->shape[0] != rows || t->shape[1] != cols)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]", m->path, name,
                         (long long)t->shape[0], (long long)(t->n_dims > 1 ? t->shape[1] : 0), (long long)rows, (long long)cols);
    if (t->dtype != LLM_DTYPE_F32 && t->dtype != LLM_DTYPE_F16 && t->dtype != LLM_DTYPE_BF16)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, not f32/f16/bf16", m->path, name, llm__dtypes[t->dtype].name);
    *out = t;
    return LLM_OK;
}

/* A vector [n], converted to f32 and owned by the model. */
static llm_status llm__bind_vec(llm_model *m, const char *name, int64_t n, bool required, const float **out) {
    const llm_tensor *t = llm__model_tensor(m, name);
    *out = NULL;
    if (!t) return required ? llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing", m->path, name) : LLM_OK;
    if (t->n_dims != 1 || t->shape[0] != n)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has %d dims of which the first is %lld, expected [%lld]", m->path, name,
                         t->n_dims, (long long)(t->n_dims ? t->shape[0] : 0), (long long)n);
    if (t->dtype != LLM_DTYPE_F32 && t->dtype != LLM_DTYPE_F16 && t->dtype != LLM_DTYPE_BF16)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, not f32/f16/bf16", m->path, name, llm__dtypes[t->dtype].name);
    if (m->n_owned == m->cap_owned) {
        int64_t cap = m->cap_owned ? 2 * m->cap_owned : 64;
        float **p = (float **)realloc(m->owned, (size_t)cap * sizeof *p);
        if (!p) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
        m->owned = p;
        m->cap_owned = cap;
    }
    float *v = (float *)llm__alloc(&m->alloc, (size_t)n * sizeof *v);
    if (!v) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    llm_convert(LLM_DTYPE_F32, v, t->dtype, t->data, n);
    m->owned[m->n_owned++] = v;
    *out = v;
    return LLM_OK;
}

/* Hugging Face names of the Llama family (Llama, Mistral, Qwen2/3, SmolLM3, ...). */
static llm_status llm__bind_hf_layer(llm_model *m, int64_t il) {
    const llm__hparams *hp = &m->hp;
    llm__layer *l = &m->layers[il];
    int64_t C = hp->n_embd, q = hp->n_heads * hp->head_dim, kv = hp->n_kv_heads * hp->head_dim, F = hp->n_ff, D = hp->head_dim;
    char n[256];
    llm_status s = LLM_OK;
#define LLM__NAME(suffix) (snprintf(n, sizeof n, "model.layers.%lld.%s", (long long)il, suffix), n)
    if (!s) s = llm__bind_vec(m, LLM__NAME("input_layernorm.weight"), C, true, &l->attn_norm);
    if (!s) s = llm__bind_mat(m, LLM__NAME("self_attn.q_proj.weight"), q, C, true, &l->wq);
    if (!s) s = llm__bind_mat(m, LLM__NAME("self_attn.k_proj.weight"), kv, C, true, &l->wk);
    if (!s) s = llm__bind_mat(m, LLM__NAME("self_attn.v_proj.weight"), kv, C, true, &l->wv);
    if (!s) s = llm__bind_mat(m, LLM__NAME("self_attn.o_proj.weight"), C, q, true, &l->wo);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.q_proj.bias"), q, false, &l->bq);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.k_proj.bias"), kv, false, &l->bk);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.v_proj.bias"), kv, false, &l->bv);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.o_proj.bias"), C, false, &l->bo);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.q_norm.weight"), D, false, &l->q_norm);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.k_norm.weight"), D, false, &l->k_norm);
    if (!s) s = llm__bind_vec(m, LLM__NAME("post_attention_layernorm.weight"), C, true, &l->ffn_norm);
    if (!s) s = llm__bind_mat(m, LLM__NAME("mlp.gate_proj.weight"), F, C, true, &l->w_gate);
    if (!s) s = llm__bind_mat(m, LLM__NAME("mlp.up_proj.weight"), F, C, true, &l->w_up);
    if (!s) s = llm__bind_mat(m, LLM__NAME("mlp.down_proj.weight"), C, F, true, &l->w_down);
    if (!s) s = llm__bind_vec(m, LLM__NAME("mlp.up_proj.bias"), F, false, &l->b_up);
    if (!s) s = llm__bind_vec(m, LLM__NAME("mlp.down_proj.bias"), C, false, &l->b_down);
#undef LLM__NAME
    return s;
}

static llm_status llm__bind_hf(llm_model *m) {
    const llm__hparams *hp = &m->hp;
    llm_status s = llm__bind_mat(m, "model.embed_tokens.weight", hp->n_vocab, hp->n_embd, true, &m->tok_embd);
    if (!s) s = llm__bind_vec(m, "model.norm.weight", hp->n_embd, true, &m->out_norm);
    if (!s) s = llm__bind_mat(m, "lm_head.weight", hp->n_vocab, hp->n_embd, !hp->tie_embeddings, &m->output);
    if (!s && !m->output) m->output = m->tok_embd;
    for (int64_t il = 0; il < hp->n_layers && !s; il++) s = llm__bind_hf_layer(m, il);
    return s;
}
