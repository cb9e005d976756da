/* ---- >>model: the weights of the generic transformer, and loading them ----
   A model is hyperparameters (50_hparams.c) plus one llm__layer per layer. Matrices stay
   where the file put them (llm_tensor views into the mapping, f32/f16/bf16 or a GGUF
   block type); the small 1-D parameters (norms, biases) are converted to f32 once, so the
   forward pass reads floats.
   Optional tensors (biases, q/k norms) are bound when the checkpoint has them: a family
   whose config says attention_bias gets its biases without a flag of its own. Fused
   matrices (Phi-3's qkv_proj) and stacked experts ([E, F, C]) become row views without a
   copy; only GPT-2's transposed Conv1D weights are copied (llm__bind_transposed says why). */
#include "10_internal.h"

/* One gated MLP: the dense feed-forward, a routed expert or the shared expert. */
typedef struct llm__mlp_w {
    const llm_tensor *gate, *up, *down;            /* [F, C] [F, C] [C, F]; gate NULL: down(act(up(h))) */
} llm__mlp_w;

typedef struct llm__layer {
    const float *attn_norm, *attn_norm_b;          /* [C] pre-attention norm (bias: LayerNorm); NULL: none (OLMo 2) */
    const llm_tensor *wq, *wk, *wv, *wo;           /* [H*D, C] [Hkv*D, C] [Hkv*D, C] [C, H*D] */
    const llm_tensor *wqkv;                        /* [H*3*D, C] q,k,v interleaved per head (GPT-NeoX), or NULL */
    const float *bq, *bk, *bv, *bo, *bqkv;         /* [H*D] [Hkv*D] [Hkv*D] [C] [H*3*D] or NULL */
    const float *q_norm, *k_norm;                  /* [D] per head, or [H*D] [Hkv*D] (qk_norm_full) or NULL */
    const float *post_attn_norm;                   /* [C] norm of the attention output (Gemma 2/3, OLMo 2) */
    const float *ffn_norm, *ffn_norm_b;            /* [C] pre-feed-forward norm; NULL: none */
    llm__mlp_w ffn;                                /* dense feed-forward (layers without experts) */
    const float *b_up, *b_down;                    /* [F] [C] or NULL */
    const float *post_ffn_norm;                    /* [C] norm of the feed-forward output */
    /* mixture of experts */
    const llm_tensor *router;                      /* [E, C] */
    const float *router_bias;                      /* [E] added to the scores for the choice only (DeepSeek V3) */
    llm__mlp_w *experts;                           /* [E] views, per-expert tensors or slices of a stacked [E, F, C] */
    llm__mlp_w shared;                             /* shared expert, or all NULL */
    const llm_tensor *shared_gate;                 /* [1, C] sigmoid gate of the shared expert (Qwen2-MoE), or NULL */
    /* multi-head latent attention */
    const llm_tensor *wq_a, *wq_b;                 /* [q_lora, C] [H*(nope+rope), q_lora] (no q_lora: wq) */
    const llm_tensor *wkv_a, *wkv_b;               /* [rank+rope, C] [H*(nope+v), rank] */
    const float *q_a_norm, *kv_a_norm;             /* [q_lora] [rank] */
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
    void **owned;                       /* blocks the model allocated (f32 vectors, views, transposes) */
    int64_t n_owned, cap_owned;
    bool repack;                        /* regroup q4_0/q8_0 matrices for the kernels (llm_model_desc.no_repack) */
    llm_pool *load_pool;                /* threads that regroup them, while loading */
    const llm_tensor *tok_embd;         /* [V, C] */
    const llm_tensor *pos_embd;         /* [n_ctx_train, C] learned positions (GPT-2), or NULL */
    const llm_tensor *output;           /* [V, C] (= tok_embd when tied) */
    const float *output_b;              /* [V] or NULL (Phi) */
    const float *out_norm, *out_norm_b; /* [C] */
    llm__layer *layers;                 /* [L] */
    float *inv_freq, *inv_freq_local;   /* [n_rot/2] rope frequencies: full / sliding layers */
    float rope_mscale, rope_mscale_local;
    const char *const *renames[2];      /* alternative tensor names: the family's, a wrapper's (llm__model_tensor) */
};

/* ---- rope frequencies ----
   inv_freq[i] = theta^(-2i/n_rot), then rescaled by the rope type's rule (formulas as in
   transformers' modeling_rope_utils.py). mscale scales cos/sin (YaRN, LongRoPE). Two types
   depend on how long the sequence has grown (seq_len = last position + 1 of the current
   forward call, as transformers' dynamic_rope_update computes it): dynamic NTK raises the
   base past the trained context, LongRoPE switches from short to long factors past the
   original context. 0 = not past either. One difference remains: transformers' dynamic
   rope keeps the largest base it has seen until the length drops below the trained
   context, so after a rewind that stays above it, it uses a longer length than we do. */
static double llm__yarn_mscale(double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * log(scale) + 1.0; }

static void llm__rope_yarn(const llm__rope_cfg *r, int64_t n_rot, float *inv_freq, float *mscale) {
    double d = (double)n_rot, base = r->theta;
    double lo = d * log(r->orig_ctx / (r->beta_fast * 2 * M_PI)) / (2 * log(base));
    double hi = d * log(r->orig_ctx / (r->beta_slow * 2 * M_PI)) / (2 * log(base));
    if (r->truncate) { lo = floor(lo); hi = ceil(hi); }
    lo = LLM__MAX(lo, 0);
    hi = LLM__MIN(hi, d - 1);
    if (lo == hi) hi += 0.001;
    for (int64_t i = 0; i < n_rot / 2; i++) {   /* ramp 0: extrapolate (keep), 1: interpolate (divide) */
        float ramp = (float)LLM__MIN(LLM__MAX(((double)i - lo) / (hi - lo), 0.0), 1.0), extrap = 1.0f - ramp;
        inv_freq[i] = inv_freq[i] / (float)r->factor * (1.0f - extrap) + inv_freq[i] * extrap;
    }
    double a = r->attn_factor;
    if (a <= 0) a = r->mscale && r->mscale_all_dim ? llm__yarn_mscale(r->factor, r->mscale) / llm__yarn_mscale(r->factor, r->mscale_all_dim)
                                                   : llm__yarn_mscale(r->factor, 1.0);
    *mscale = (float)a;
}

static void llm__rope_llama3(const llm__rope_cfg *r, int64_t n_rot, float *inv_freq) {
    double low_wavelen = r->orig_ctx / r->low_freq_factor, high_wavelen = r->orig_ctx / r->high_freq_factor;
    for (int64_t i = 0; i < n_rot / 2; i++) {   /* slow down low frequencies, keep high ones, blend between */
        double f = inv_freq[i], wavelen = 2 * M_PI / f;
        if (wavelen > low_wavelen) f = f / r->factor;
        else if (wavelen >= high_wavelen) {
            double smooth = (r->orig_ctx / wavelen - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
            f = (1 - smooth) * f / r->factor + smooth * f;
        }
        inv_freq[i] = (float)f;
    }
}

static void llm__rope_inv_freq(const llm__rope_cfg *r, int64_t n_rot, int64_t n_ctx_train, int64_t seq_len, float *inv_freq,
                               float *mscale) {
    int64_t half = n_rot / 2;
    double theta = r->theta;
    *mscale = 1.0f;
    if (r->type == LLM__ROPE_DYNAMIC && n_ctx_train > 0 && seq_len > n_ctx_train)   /* NTK-aware base growth */
        theta *= pow(r->factor * (double)seq_len / (double)n_ctx_train - (r->factor - 1), (double)n_rot / (double)(n_rot - 2));
    for (int64_t i = 0; i < half; i++) inv_freq[i] = 1.0f / powf((float)theta, (float)(2 * i) / (float)n_rot);
    switch (r->type) {
    case LLM__ROPE_DEFAULT:
    case LLM__ROPE_DYNAMIC:
        break;
    case LLM__ROPE_LINEAR:
        for (int64_t i = 0; i < half; i++) inv_freq[i] /= (float)r->factor;
        break;
    case LLM__ROPE_LLAMA3:
        llm__rope_llama3(r, n_rot, inv_freq);
        break;
    case LLM__ROPE_YARN:
        llm__rope_yarn(r, n_rot, inv_freq, mscale);
        break;
    case LLM__ROPE_LONGROPE: {  /* Phi-3: per-frequency divisors, short or long by sequence length */
        const float *ext = seq_len > r->orig_ctx ? r->long_factor : r->short_factor;
        for (int64_t i = 0; i < half; i++) inv_freq[i] /= i < r->n_factors ? ext[i] : 1.0f;
        double a = r->attn_factor;
        if (a <= 0) a = r->factor <= 1 ? 1.0 : sqrt(1 + log(r->factor) / log(r->orig_ctx));
        *mscale = (float)a;
        break;
    }
    }
}

/* Whether a rope's frequencies change with the sequence length (then the forward pass
   recomputes them per call). */
static bool llm__rope_dynamic(const llm__rope_cfg *r) { return r->type == LLM__ROPE_DYNAMIC || r->type == LLM__ROPE_LONGROPE; }

/* ---- binding tensors by name ---- */

static const llm_tensor *llm__model_find(const llm_model *m, const char *name) {
    if (m->st) return llm_safetensors_find(m->st, name);
    for (int64_t i = 0; i < m->n_views; i++) if (!strcmp(m->views[i].name, name)) return &m->views[i];
    return NULL;
}

/* By name, else under the names the model's rename rules give it: pairs (from, to), a
   name starting with `from` may be stored as `to` + the rest (GPT-2 without "transformer.",
   a multimodal checkpoint's language model under "language_model."). */
static const llm_tensor *llm__model_tensor(const llm_model *m, const char *name) {
    const llm_tensor *t = llm__model_find(m, name);
    for (int r = 0; r < 2 && !t; r++)
        for (const char *const *p = m->renames[r]; p && p[0] && !t; p += 2) {
            size_t n = strlen(p[0]);
            char alt[512];
            if (!strncmp(name, p[0], n) && (size_t)snprintf(alt, sizeof alt, "%s%s", p[1], name + n) < sizeof alt) t = llm__model_find(m, alt);
        }
    return t;
}

/* Zeroed memory owned by the model (freed with it). */
static void *llm__model_own_raw(llm_model *m, size_t bytes) {
    if (m->n_owned == m->cap_owned) {
        int64_t cap = m->cap_owned ? 2 * m->cap_owned : 64;
        void **p = (void **)realloc(m->owned, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        m->owned = p;
        m->cap_owned = cap;
    }
    void *v = llm__alloc(&m->alloc, bytes ? bytes : 1);
    if (v) m->owned[m->n_owned++] = v;
    return v;
}

static void *llm__model_own(llm_model *m, size_t bytes) {
    void *v = llm__model_own_raw(m, bytes);
    if (v) memset(v, 0, bytes);
    return v;
}

static bool llm__float_dtype(llm_dtype d) { return d == LLM_DTYPE_F32 || d == LLM_DTYPE_F16 || d == LLM_DTYPE_BF16; }

/* >>mlx-model: MLX-quantized matrices (packed u32 weights beside .scales/.biases), 53_mlx_model.c */
static llm_status llm__bind_mlx(llm_model *m, const char *name, const llm_tensor *w, int64_t rows, int64_t cols, const llm_tensor **out);
static llm_status llm__bind_mlx_expert(llm_model *m, const char *name, const llm_tensor *w, int64_t e, int64_t rows, int64_t cols,
                                       const llm_tensor **out);
static const llm_tensor *llm__mlx_rows(llm_model *m, const llm_tensor *t, int64_t row0, int64_t n_rows);

/* Matrices may be in any dtype with a matmul kernel (the float ones, GGUF's block types);
   the reference table is asked so that a forced switch to it finds every kernel. */
static bool llm__matmul_dtype(llm_dtype d) { return (unsigned)d < LLM_DTYPE_COUNT && llm__kernels_scalar.matmul[d]; }

/* A matrix [rows, cols] in a dtype the matmul kernels take; NULL (and LLM_OK) when absent and optional. */
static llm_status llm__bind_mat(llm_model *m, const char *name, int64_t rows, int64_t cols, bool required, const llm_tensor **out) {
    const llm_tensor *t = llm__model_tensor(m, name);
    *out = NULL;
    if (!t) return required ? llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing", m->path, name) : LLM_OK;
    if (t->dtype == LLM_DTYPE_U32) return llm__bind_mlx(m, name, t, rows, cols, out);   /* >>mlx-model */
    if (t->n_dims == 1 && rows == 1 && t->shape[0] == cols) {   /* a vector as the one-row matrix (GGUF's Qwen2-MoE shared gate) */
        llm_tensor *v = (llm_tensor *)llm__model_own(m, sizeof *v);
        if (!v) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
        *v = *t;
        v->n_dims = 2, v->shape[0] = 1, v->shape[1] = cols;
        t = v;
    }
    if (t->n_dims != 2 || t->shape[0] != rows || t->shape[1] != cols)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]", m->path, name,
                         (long long)t->shape[0], (long long)(t->n_dims > 1 ? t->shape[1] : 0), (long long)rows, (long long)cols);
    if (!llm__matmul_dtype(t->dtype))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, which no matmul kernel takes", m->path, name, llm__dtypes[t->dtype].name);
    *out = t;
    return LLM_OK;
}

/* A q4_0, q8_0, q4_K or q6_K matrix or stack whose slices (experts, fused parts) are whole
   groups of `slice_rows` rows, 8 dividing them, becomes q4_0_r8 ... q6_K_r8 (23_kernels_ggml.c)
   when the kernels in use read that faster: a copy the model owns, made once (by all cores);
   the file's pages are let go. */
typedef struct {
    llm_dtype base;
    const uint8_t *src;
    uint8_t *dst;
    int64_t n_groups, k;
    size_t src_group, dst_group;   /* bytes of 8 rows */
} llm__repack_task;

static void llm__repack_worker(void *ctx, int ith, int nth) {
    const llm__repack_task *r = (const llm__repack_task *)ctx;
    int64_t g0, g1;
    llm__split(r->n_groups, ith, nth, &g0, &g1);
    for (int64_t g = g0; g < g1; g++) llm__r8_pack(r->base, r->src + g * r->src_group, r->dst + g * r->dst_group, r->k);
}

static llm_status llm__repack(llm_model *m, const llm_tensor **t, int64_t slice_rows) {
    const llm_tensor *src = *t;
    llm_dtype r8 = llm__r8_of(src->dtype);
    if (!m->repack || r8 == LLM_DTYPE_COUNT || !llm__k->matmul_q8[r8] || slice_rows % 8) return LLM_OK;
    int64_t k = src->shape[src->n_dims - 1];
    llm__repack_task task = { src->dtype, (const uint8_t *)src->data, NULL, llm_tensor_n_elems(src) / k / 8, k,
                              8 * llm_dtype_n_bytes(src->dtype, k), 8 * llm_dtype_n_bytes(r8, k) };
    llm_tensor *v = (llm_tensor *)llm__model_own(m, sizeof *v);
    task.dst = (uint8_t *)llm__model_own_raw(m, (size_t)task.n_groups * task.dst_group);
    if (!v || !task.dst) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory regrouping '%s'", m->path, src->name);
    if (!m->load_pool && llm_pool_create(0, &m->load_pool)) m->load_pool = NULL;   /* no threads: one does it all */
    llm__parallel_for(m->load_pool, llm__repack_worker, &task);
    *v = *src;
    v->dtype = r8;
    v->data = task.dst;
    v->n_bytes = (size_t)task.n_groups * task.dst_group;
    llm__map_release(&m->bin, src->data, (size_t)task.n_groups * task.src_group);
    *t = v;
    return LLM_OK;
}

/* Row r of a bound matrix as f32: float, GGUF blocks, regrouped or MLX-quantized. */
static void llm__mat_row_f32(const llm_tensor *w, int64_t r, float *out) {
    int64_t k = w->shape[w->n_dims - 1];
    if (w->dtype == LLM_DTYPE_MLX_AFFINE) llm__mlx_row_f32((const llm__qmat *)w->data, r, out);   /* >>mlx-model */
    else if (llm__is_r8(w->dtype)) llm__r8_row_f32(w->dtype, (const uint8_t *)w->data, k, r, out);
    else (void)llm_dequantize(w->dtype, (const uint8_t *)w->data + (size_t)r * llm_dtype_n_bytes(w->dtype, k), out, k);
}

/* A vector [n], converted to f32 and owned by the model. */
static llm_status llm__bind_vec(llm_model *m, const char *name, int64_t n, bool required, const float **out) {
    const llm_tensor *t = llm__model_tensor(m, name);
    *out = NULL;
    if (!t) return required ? llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing", m->path, name) : LLM_OK;
    if (t->n_dims != 1 || t->shape[0] != n)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has %d dims of which the first is %lld, expected [%lld]", m->path, name,
                         t->n_dims, (long long)(t->n_dims ? t->shape[0] : 0), (long long)n);
    if (!llm__float_dtype(t->dtype))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, not f32/f16/bf16", m->path, name, llm__dtypes[t->dtype].name);
    float *v = (float *)llm__model_own(m, (size_t)n * sizeof *v);
    if (!v) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    llm_convert(LLM_DTYPE_F32, v, t->dtype, t->data, n);
    *out = v;
    return LLM_OK;
}

/* A view of rows [row0, row0 + n_rows) of a matrix (or of matrix `index` of a stack
   [E, rows, cols]): the weights stay where they are, only the description is new. */
static const llm_tensor *llm__model_view(llm_model *m, const llm_tensor *t, int64_t index, int64_t row0, int64_t n_rows) {
    if (t->dtype == LLM_DTYPE_MLX_AFFINE) return llm__mlx_rows(m, t, row0, n_rows);   /* >>mlx-model (never a stack) */
    llm_tensor *v = (llm_tensor *)llm__model_own(m, sizeof *v);
    if (!v) return NULL;
    int64_t rows = t->shape[t->n_dims - 2], cols = t->shape[t->n_dims - 1];
    size_t row_bytes = llm_dtype_n_bytes(t->dtype, cols);
    v->name = t->name;
    v->dtype = t->dtype;
    v->n_dims = 2;
    v->shape[0] = n_rows;
    v->shape[1] = cols;
    v->data = (uint8_t *)t->data + ((size_t)index * (size_t)rows + (size_t)row0) * row_bytes;
    v->n_bytes = (size_t)n_rows * row_bytes;
    return v;
}

/* GPT-2's Conv1D keeps weights as [in, out]; the matmul kernels want rows of the output, so
   this is the one place a matrix is copied: transposed once into memory the model owns (in
   its own dtype). A strided kernel for every dtype would cost more than the copy does. */
static llm_status llm__bind_transposed(llm_model *m, const char *name, int64_t rows, int64_t cols, const llm_tensor **out) {
    const llm_tensor *t;
    llm_status s = llm__bind_mat(m, name, cols, rows, true, &t);
    if (s) return s;
    size_t es = llm__dtypes[t->dtype].block_bytes;
    llm_tensor *v = (llm_tensor *)llm__model_own(m, sizeof *v);
    uint8_t *d = (uint8_t *)llm__model_own(m, (size_t)(rows * cols) * es);
    if (!v || !d) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) memcpy(d + (size_t)(r * cols + c) * es, (const uint8_t *)t->data + (size_t)(c * rows + r) * es, es);
    *v = *t;
    v->shape[0] = rows;
    v->shape[1] = cols;
    v->data = d;
    *out = v;
    return LLM_OK;
}

/* ---- weight tables ----
   A family's weights are described by data, not code: each entry names a tensor (after
   the layer prefix), its shape in symbols resolved per model, and the llm__layer slot it
   fills. Other loaders (GGUF) can map their own names onto the same slots. */
typedef enum {
    LLM__DIM_NONE, LLM__DIM_C, LLM__DIM_Q, LLM__DIM_KV, LLM__DIM_QKV, LLM__DIM_HD, LLM__DIM_F, LLM__DIM_F2, LLM__DIM_FS,
    LLM__DIM_E, LLM__DIM_SG, LLM__DIM_QA, LLM__DIM_QB, LLM__DIM_QP, LLM__DIM_KVA, LLM__DIM_KVR, LLM__DIM_KVB, LLM__DIM_OV
} llm__dim;

/* Sizes of each symbol. A symbol that is 0 in a model (no shared expert, no q_lora) makes
   its entries absent: they are skipped, not looked up. */

static int64_t llm__dim_size(const llm__hparams *hp, llm__dim d) {
    int64_t H = hp->n_heads, D = hp->head_dim, Q = H * D, KV = hp->n_kv_heads * D;
    switch (d) {
    case LLM__DIM_NONE: return 0;
    case LLM__DIM_C:    return hp->n_embd;
    case LLM__DIM_Q:    return Q;
    case LLM__DIM_KV:   return KV;
    case LLM__DIM_QKV:  return Q + 2 * KV;
    case LLM__DIM_HD:   return D;
    case LLM__DIM_F:    return hp->n_ff;
    case LLM__DIM_F2:   return 2 * hp->n_ff;
    case LLM__DIM_FS:   return hp->n_ff_shared;
    case LLM__DIM_E:    return hp->n_experts;
    case LLM__DIM_SG:   return hp->n_ff_shared ? 1 : 0;      /* the shared expert's gate */
    case LLM__DIM_QA:   return hp->q_lora_rank;
    case LLM__DIM_QB:   return H * (hp->qk_nope_dim + hp->qk_rope_dim);
    case LLM__DIM_QP:   return hp->q_lora_rank ? 0 : H * (hp->qk_nope_dim + hp->qk_rope_dim);   /* MLA without q_lora */
    case LLM__DIM_KVA:  return hp->kv_lora_rank + hp->qk_rope_dim;
    case LLM__DIM_KVR:  return hp->kv_lora_rank;
    case LLM__DIM_KVB:  return H * (hp->qk_nope_dim + hp->v_head_dim);
    case LLM__DIM_OV:   return H * hp->v_head_dim;
    }
    return 0;
}

enum { LLM__W_REQUIRED, LLM__W_OPTIONAL, LLM__W_DENSE, LLM__W_MOE };   /* when an entry must be present */

typedef struct llm__wspec {
    const char *name;            /* NULL ends a table */
    uint8_t when;                /* LLM__W_*: DENSE / MOE entries are required in those layers only */
    uint8_t rows, cols;          /* llm__dim; cols NONE: a vector [rows] */
    bool transposed;             /* stored [cols, rows] (Conv1D) */
    uint16_t slot[3];            /* offsetof(llm__layer, ...) of each part */
    uint8_t part[3];             /* rows of each part: a fused matrix is split into row views (Phi-3 qkv_proj) */
} llm__wspec;

#define LLM__WMAT(name, when, slot, r, c) { name, when, r, c, false, { offsetof(llm__layer, slot) }, { r } }
#define LLM__WVEC(name, when, slot, n)    { name, when, n, LLM__DIM_NONE, false, { offsetof(llm__layer, slot) }, { n } }
#define LLM__WEND                         { NULL, 0, 0, 0, false, { 0 }, { 0 } }

/* Names of a family: the layer prefix (printf pattern of the layer index), the global
   tensors, the per-layer table, and where MoE experts live: per expert (expert pattern of
   the expert index + gate/up/down names) or stacked [E, F, C] (MLX switch_mlp). */
typedef struct llm__names {
    const char *layer;
    const char *embed, *pos_embed, *out_norm, *out_norm_b, *output, *output_b;
    const llm__wspec *w[6];      /* tables, each ended by a NULL name */
    const char *expert;          /* e.g. "mlp.experts.%lld." */
    const char *expert_w[3];     /* gate, up, down after the expert prefix */
    const char *stacked[3];      /* gate, up, down stacks after the layer prefix */
    const char *const *renames;  /* alternative names (llm__model_tensor), NULL-terminated pairs */
} llm__names;

static llm_status llm__bind_entry(llm_model *m, const llm__wspec *w, const char *name, bool moe_layer, llm__layer *l) {
    const llm__hparams *hp = &m->hp;
    bool required = w->when == LLM__W_REQUIRED || (w->when == LLM__W_DENSE && !moe_layer) || (w->when == LLM__W_MOE && moe_layer);
    if ((w->when == LLM__W_DENSE && moe_layer) || (w->when == LLM__W_MOE && !moe_layer)) return LLM_OK;
    int64_t rows = llm__dim_size(hp, (llm__dim)w->rows), cols = llm__dim_size(hp, (llm__dim)w->cols);
    if (!rows || (w->cols && !cols)) return LLM_OK;
    if (!cols) {   /* a vector, possibly fused (GPT-2's c_attn bias): parts point into it */
        const float *v;
        llm_status s = llm__bind_vec(m, name, rows, required, &v);
        for (int64_t i = 0, at = 0; i < 3 && v && w->part[i]; at += llm__dim_size(hp, (llm__dim)w->part[i]), i++)
            *(const float **)((char *)l + w->slot[i]) = v + at;
        return s;
    }
    const llm_tensor *t;
    llm_status s = w->transposed ? llm__bind_transposed(m, name, rows, cols, &t) : llm__bind_mat(m, name, rows, cols, required, &t);
    if (s || !t) return s;
    int64_t slice_rows = rows;   /* the fused parts must be whole groups too */
    for (int i = 0; i < 3 && w->part[1] && w->part[i]; i++) slice_rows = llm__dim_size(hp, (llm__dim)w->part[i]) % 8 ? 1 : slice_rows;
    if ((s = llm__repack(m, &t, slice_rows))) return s;
    if (!w->part[1]) { *(const llm_tensor **)((char *)l + w->slot[0]) = t; return LLM_OK; }
    for (int64_t i = 0, row0 = 0; i < 3 && w->part[i]; row0 += llm__dim_size(hp, (llm__dim)w->part[i]), i++) {
        const llm_tensor *v = llm__model_view(m, t, 0, row0, llm__dim_size(hp, (llm__dim)w->part[i]));
        if (!v) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
        *(const llm_tensor **)((char *)l + w->slot[i]) = v;
    }
    return LLM_OK;
}

/* The routed experts of one layer: per-expert tensors, else slices of stacked ones. */
static llm_status llm__bind_experts(llm_model *m, const llm__names *nm, const char *prefix, llm__layer *l) {
    const llm__hparams *hp = &m->hp;
    int64_t E = hp->n_experts, F = hp->n_ff_expert, C = hp->n_embd;
    char n[512], ep[256];
    l->experts = (llm__mlp_w *)llm__model_own(m, (size_t)E * sizeof *l->experts);
    if (!l->experts) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    snprintf(ep, sizeof ep, nm->expert, 0LL);
    snprintf(n, sizeof n, "%s%s%s", prefix, ep, nm->expert_w[0]);
    bool stacked = !llm__model_tensor(m, n) && nm->stacked[0];
    for (int j = 0; j < 3; j++) {
        int64_t rows = j == 2 ? C : F, cols = j == 2 ? F : C;
        const llm_tensor *st = NULL;
        if (stacked) {
            snprintf(n, sizeof n, "%s%s", prefix, nm->stacked[j]);
            st = llm__model_tensor(m, n);
            if (!st) return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing (and so are per-expert tensors)", m->path, n);
            bool packed = st->dtype == LLM_DTYPE_U32;         /* >>mlx-model: quantized stack, checked per expert */
            if (st->n_dims != 3 || st->shape[0] != E || st->shape[1] != rows || (!packed && (st->shape[2] != cols || !llm__matmul_dtype(st->dtype))))
                return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is not a stack [%lld, %lld, %lld]", m->path, n, (long long)E,
                                 (long long)rows, (long long)cols);
            llm_status s = llm__repack(m, &st, rows);
            if (s) return s;
        }
        for (int64_t e = 0; e < E; e++) {
            const llm_tensor **slot = j == 0 ? &l->experts[e].gate : j == 1 ? &l->experts[e].up : &l->experts[e].down;
            llm_status s = LLM_OK;
            if (st && st->dtype == LLM_DTYPE_U32) {
                s = llm__bind_mlx_expert(m, n, st, e, rows, cols, slot);   /* >>mlx-model */
            } else if (st) {
                if (!(*slot = llm__model_view(m, st, e, 0, rows))) s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
            } else {
                snprintf(ep, sizeof ep, nm->expert, (long long)e);
                char en[512];
                snprintf(en, sizeof en, "%s%s%s", prefix, ep, nm->expert_w[j]);
                s = llm__bind_mat(m, en, rows, cols, true, slot);
                if (!s) s = llm__repack(m, slot, rows);
            }
            if (s) return s;
        }
    }
    return LLM_OK;
}

static llm_status llm__bind_names(llm_model *m, const llm__names *nm) {
    const llm__hparams *hp = &m->hp;
    int64_t C = hp->n_embd, V = hp->n_vocab;
    m->renames[0] = nm->renames;
    if (!nm->expert) m->hp.n_experts = 0;   /* expert counts in the config of a family without experts mean nothing */
    llm_status s = llm__bind_mat(m, nm->embed, V, C, true, &m->tok_embd);
    if (!s && nm->pos_embed) s = llm__bind_mat(m, nm->pos_embed, hp->n_ctx_train, C, true, &m->pos_embd);
    if (!s) s = llm__bind_vec(m, nm->out_norm, C, true, &m->out_norm);
    if (!s && nm->out_norm_b) s = llm__bind_vec(m, nm->out_norm_b, C, false, &m->out_norm_b);
    if (!s) s = llm__bind_mat(m, nm->output, V, C, !hp->tie_embeddings, &m->output);
    if (!s && m->output) s = llm__repack(m, &m->output, V);
    if (!s && nm->output_b) s = llm__bind_vec(m, nm->output_b, V, false, &m->output_b);
    if (!s && !m->output && !(s = llm__repack(m, &m->tok_embd, V))) m->output = m->tok_embd;   /* tied: rows for the embedding too */
    for (int64_t il = 0; il < hp->n_layers && !s; il++) {
        char prefix[256], n[512];
        bool moe = hp->n_experts && hp->layer_moe[il];
        snprintf(prefix, sizeof prefix, nm->layer, (long long)il);
        for (int i = 0; i < LLM__COUNT(nm->w) && nm->w[i]; i++)
            for (const llm__wspec *w = nm->w[i]; w->name && !s; w++) {
                snprintf(n, sizeof n, "%s%s", prefix, w->name);
                s = llm__bind_entry(m, w, n, moe, &m->layers[il]);
            }
        if (!s && moe) s = llm__bind_experts(m, nm, prefix, &m->layers[il]);
    }
    return s;
}
