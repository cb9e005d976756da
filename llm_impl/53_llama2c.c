/* ---- >>llama2c: karpathy's llama2.c checkpoints (legacy v0 .bin) ----
   Layout (run.c): 7 int32 - dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size
   (negative: a separate classifier follows), seq_len - then f32 arrays: token embedding
   [V, C]; per-layer stacks of rms_att [L, C], wq [L, C, C], wk [L, kv, C], wv [L, kv, C],
   wo [L, C, C], rms_ffn [L, C], w1 [L, F, C], w2 [L, C, F], w3 [L, F, C]; rms_final [C];
   two unused rope tables [seq_len, D/2] each; then the classifier [V, C] if not shared.
   We describe each slice as a tensor named the Hugging Face way (w1 = gate, w3 = up,
   w2 = down), so the same binder serves both. Rope pairs are interleaved (2i, 2i+1). */
#include "10_internal.h"

typedef struct {
    llm_model *m;
    const float *at;            /* next unread weight */
    char *names;                /* storage for the synthesized names, 64 bytes each */
} llm__l2c;

/* Describe the next rows*cols floats (cols 0: a vector) as tensor `name`. */
static void llm__l2c_take(llm__l2c *c, const char *name, int64_t rows, int64_t cols) {
    llm_tensor *t = &c->m->views[c->m->n_views];
    char *n = c->names + 64 * c->m->n_views++;
    snprintf(n, 64, "%s", name);
    t->name = n;
    t->dtype = LLM_DTYPE_F32;
    t->n_dims = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->data = (void *)c->at;
    t->n_bytes = (size_t)(rows * (cols ? cols : 1)) * sizeof(float);
    c->at += rows * (cols ? cols : 1);
}

/* The per-layer stack `what` of shape [L, rows, cols]. */
static void llm__l2c_stack(llm__l2c *c, const char *what, int64_t L, int64_t rows, int64_t cols) {
    char name[64];
    for (int64_t il = 0; il < L; il++) {
        snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)il, what);
        llm__l2c_take(c, name, rows, cols);
    }
}

static llm_status llm__load_llama2c(llm_model *m, const char *path) {
    llm_status s = llm__map_file(path, &m->bin);
    if (s) return s;
    int32_t h[7];
    if (m->bin.size < sizeof h) return llm__fail(LLM_ERR_FORMAT, "%s: too short for a llama2.c header", path);
    memcpy(h, m->bin.data, sizeof h);
    llm__hparams *hp = &m->hp;
    bool shared = h[5] > 0;
    int64_t C = h[0], F = h[1], L = h[2], H = h[3], Hkv = h[4], V = shared ? h[5] : -(int64_t)h[5], T = h[6];
    if (C <= 0 || F <= 0 || L <= 0 || H <= 0 || Hkv <= 0 || V <= 0 || T <= 0 || C % H || H % Hkv || (C / H) % 2 ||
        C > 65536 || F > 1 << 20 || L > 4096 || V > 1 << 24 || T > 1 << 24)
        return llm__fail(LLM_ERR_FORMAT, "%s: implausible llama2.c header (dim %lld, hidden %lld, layers %lld, heads %lld/%lld, vocab %lld, seq_len %lld)",
                         path, (long long)C, (long long)F, (long long)L, (long long)H, (long long)Hkv, (long long)V, (long long)T);
    int64_t D = C / H, kv = Hkv * D;
    int64_t n_floats = V * C + L * (2 * C + 2 * C * C + 2 * kv * C + 3 * C * F) + C + T * D + (shared ? 0 : V * C);
    if ((uint64_t)n_floats * 4 + sizeof h > m->bin.size)
        return llm__fail(LLM_ERR_FORMAT, "%s: file has %zu bytes, the header describes %lld", path, m->bin.size,
                         (long long)(n_floats * 4 + (int64_t)sizeof h));
    llm__hparams_init(hp);
    snprintf(hp->arch, sizeof hp->arch, "llama");
    hp->n_vocab = V; hp->n_embd = C; hp->n_layers = L; hp->n_heads = H; hp->n_kv_heads = Hkv; hp->head_dim = D;
    hp->n_ff = F; hp->n_ctx_train = T; hp->norm_eps = 1e-5; hp->act = LLM__ACT_SILU; hp->tie_embeddings = shared;
    hp->n_rot = D; hp->rope_interleaved = true; hp->attn_scale = (float)(1.0 / sqrt((double)D)); hp->embed_scale = 1;
    hp->rope.theta = 10000; hp->rope.factor = 1; hp->rope_local = hp->rope;
    hp->bos = 1; hp->eos[0] = 2; hp->n_eos = 1;
    hp->layer_sliding = (uint8_t *)calloc((size_t)L, 1);
    hp->layer_rope = (uint8_t *)malloc((size_t)L);
    int64_t n_views = 3 + 9 * L + 1;
    m->views = (llm_tensor *)calloc((size_t)n_views, sizeof *m->views + 64);
    if (!hp->layer_sliding || !hp->layer_rope || !m->views) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    memset(hp->layer_rope, 1, (size_t)L);
    llm__l2c c = { m, (const float *)(m->bin.data + sizeof h), (char *)(m->views + n_views) };
    llm__l2c_take(&c, "model.embed_tokens.weight", V, C);
    llm__l2c_stack(&c, "input_layernorm.weight", L, C, 0);
    llm__l2c_stack(&c, "self_attn.q_proj.weight", L, C, C);
    llm__l2c_stack(&c, "self_attn.k_proj.weight", L, kv, C);
    llm__l2c_stack(&c, "self_attn.v_proj.weight", L, kv, C);
    llm__l2c_stack(&c, "self_attn.o_proj.weight", L, C, C);
    llm__l2c_stack(&c, "post_attention_layernorm.weight", L, C, 0);
    llm__l2c_stack(&c, "mlp.gate_proj.weight", L, F, C);
    llm__l2c_stack(&c, "mlp.down_proj.weight", L, C, F);
    llm__l2c_stack(&c, "mlp.up_proj.weight", L, F, C);
    llm__l2c_take(&c, "model.norm.weight", C, 0);
    c.at += T * D;                                  /* skip freq_cis_real and freq_cis_imag */
    if (!shared) llm__l2c_take(&c, "lm_head.weight", V, C);
    if ((s = llm__model_alloc_layers(m))) return s;
    return llm__bind_hf(m);
}
