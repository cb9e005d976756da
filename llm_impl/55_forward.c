/* ---- >>forward: the generic decoder-only transformer ----
   One forward pass over a chunk of T tokens at positions n_past .. n_past+T-1, for every
   architecture: each family is a set of options in llm__hparams and the tensors it binds.
   The recipe (Llama; "Attention Is All You Need" with the pre-norm, RoPE, SwiGLU and GQA
   changes):
       x = embed(tokens) * embed_scale                            [T, C]
       for each layer:
           h = norm(x);  q, k, v = h Wq, h Wk, h Wv (+ biases)     [T, H*D], [T, Hkv*D]
           q, k = qk_norm(q, k);  q, k = rope(q, k, positions)
           cache k, v;  a = softmax(q k^T * scale + causal mask) v [T, H*D]
           x = x + a Wo
           h = norm(x);  x = x + (act(h Wgate) * h Wup) Wdown      [T, F] -> [T, C]
       logits = norm(x) Wout                                      [T, V]
   Each block is a function of the session's named buffers, so a backward pass can find
   every activation. */
#include "10_internal.h"

struct llm_session {
    const llm_model *m;
    llm_allocator alloc;
    llm_pool *pool;
    bool own_pool;
    int64_t n_ctx, n_batch, n_past;
    int n_threads;
    float *k_cache, *v_cache;      /* [L, Hkv, n_ctx, D] */
    /* activations of the current chunk (B = n_batch rows) */
    float *x;                      /* [B, C] residual stream */
    float *h;                      /* [B, C] normalized input of a block */
    float *q, *k, *v;              /* [B, H*D], [B, Hkv*D], [B, Hkv*D] */
    float *att;                    /* [B, H*D] attention output, before Wo */
    float *proj;                   /* [B, C] output of Wo / Wdown before the residual add */
    float *gate, *up;              /* [B, F] */
    float *logits;                 /* [V] of the last position */
    float *scores;                 /* [n_threads, n_ctx] attention scores */
    float *mm_scratch;             /* [n_threads, max(C, F, H*D)] */
    void *block;                   /* one allocation backing everything above */
};

/* out[t] = norm(x[t]) with the model's norm: RMSNorm, or LayerNorm when a bias exists. */
static void llm__norm_rows(const llm_session *s, float *out, const float *x, int64_t T, const float *w, const float *b) {
    const llm__hparams *hp = &s->m->hp;
    for (int64_t t = 0; t < T; t++) {
        if (b) llm__layernorm(out + t * hp->n_embd, x + t * hp->n_embd, w, b, hp->n_embd, (float)hp->norm_eps);
        else llm__rmsnorm(out + t * hp->n_embd, x + t * hp->n_embd, w, hp->n_embd, (float)hp->norm_eps, hp->norm_add_one);
    }
}

/* y[t] (+)= x[t] W^T + bias for t < T. */
static void llm__linear(llm_session *s, float *y, const float *x, int64_t T, const llm_tensor *w, const float *bias) {
    llm__matmul(s->pool, s->mm_scratch, y, w->shape[0], x, T, w);
    if (bias)
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < w->shape[0]; i++) y[t * w->shape[0] + i] += bias[i];
}

/* Per-head norm (Qwen3's q_norm/k_norm) and rope, then append k and v to the cache. */
static void llm__qk_prepare(llm_session *s, int64_t il, int64_t T) {
    const llm_model *m = s->m;
    const llm__hparams *hp = &m->hp;
    const llm__layer *l = &m->layers[il];
    int64_t D = hp->head_dim, H = hp->n_heads, Hkv = hp->n_kv_heads;
    bool sliding = hp->layer_sliding[il];
    const float *inv_freq = sliding ? m->inv_freq_local : m->inv_freq;
    float mscale = sliding ? m->rope_mscale_local : m->rope_mscale;
    for (int64_t t = 0; t < T; t++) {
        int64_t pos = s->n_past + t;
        for (int64_t h = 0; h < H; h++) {
            float *qh = s->q + (t * H + h) * D;
            if (l->q_norm) llm__rmsnorm(qh, qh, l->q_norm, D, (float)hp->norm_eps, hp->norm_add_one);
            if (hp->layer_rope[il]) llm__rope(qh, pos, inv_freq, hp->n_rot, hp->rope_interleaved, mscale);
        }
        for (int64_t h = 0; h < Hkv; h++) {
            float *kh = s->k + (t * Hkv + h) * D;
            if (l->k_norm) llm__rmsnorm(kh, kh, l->k_norm, D, (float)hp->norm_eps, hp->norm_add_one);
            if (hp->layer_rope[il]) llm__rope(kh, pos, inv_freq, hp->n_rot, hp->rope_interleaved, mscale);
            size_t at = (size_t)(((il * Hkv + h) * s->n_ctx + pos) * D);
            memcpy(s->k_cache + at, kh, (size_t)D * sizeof(float));
            memcpy(s->v_cache + at, s->v + (t * Hkv + h) * D, (size_t)D * sizeof(float));
        }
    }
}

typedef struct { llm_session *s; int64_t il, T; } llm__attn_task;

/* Attention for the (token, head) pairs this thread owns: scores against every cached key
   the causal (and sliding-window) mask allows, softmax, weighted sum of values. GQA: query
   head h reads kv head h / (H / Hkv), with no copy of K or V. */
static void llm__attn_worker(void *ctx, int ith, int nth) {
    llm__attn_task *a = (llm__attn_task *)ctx;
    llm_session *s = a->s;
    const llm__hparams *hp = &s->m->hp;
    int64_t D = hp->head_dim, H = hp->n_heads, Hkv = hp->n_kv_heads, group = H / Hkv;
    float *scores = s->scores + (int64_t)ith * s->n_ctx;
    llm__attn_params params = { .scale = hp->attn_scale, .softcap = 0 };
    int64_t lo, hi;
    llm__split(a->T * H, ith, nth, &lo, &hi);
    for (int64_t idx = lo; idx < hi; idx++) {
        int64_t t = idx / H, h = idx % H, kvh = h / group, pos = s->n_past + t;
        int64_t start = hp->layer_sliding[a->il] && hp->sliding_window ? LLM__MAX(0, pos - hp->sliding_window + 1) : 0;
        const float *K = s->k_cache + ((a->il * Hkv + kvh) * s->n_ctx + start) * D;
        const float *V = s->v_cache + ((a->il * Hkv + kvh) * s->n_ctx + start) * D;
        llm__attend(s->att + (t * H + h) * D, s->q + (t * H + h) * D, K, V, pos - start + 1, D, D, &params, scores);
    }
}

static void llm__attention_block(llm_session *s, int64_t il, int64_t T) {
    const llm__layer *l = &s->m->layers[il];
    const llm__hparams *hp = &s->m->hp;
    llm__norm_rows(s, s->h, s->x, T, l->attn_norm, l->attn_norm_b);
    llm__linear(s, s->q, s->h, T, l->wq, l->bq);
    llm__linear(s, s->k, s->h, T, l->wk, l->bk);
    llm__linear(s, s->v, s->h, T, l->wv, l->bv);
    llm__qk_prepare(s, il, T);
    llm__attn_task task = { s, il, T };
    llm__parallel_for(s->pool, llm__attn_worker, &task);
    llm__linear(s, s->proj, s->att, T, l->wo, l->bo);
    for (int64_t i = 0; i < T * hp->n_embd; i++) s->x[i] += s->proj[i];
}

/* Gated MLP: down(act(gate(h)) * up(h)); without a gate: down(act(up(h))). */
static void llm__ffn_block(llm_session *s, int64_t il, int64_t T) {
    const llm__layer *l = &s->m->layers[il];
    const llm__hparams *hp = &s->m->hp;
    int64_t F = hp->n_ff;
    llm__norm_rows(s, s->h, s->x, T, l->ffn_norm, l->ffn_norm_b);
    llm__linear(s, s->up, s->h, T, l->w_up, l->b_up);
    if (l->w_gate) llm__linear(s, s->gate, s->h, T, l->w_gate, NULL);
    llm__k->act_mul(hp->act, s->up, l->w_gate ? s->gate : NULL, T * F);
    llm__linear(s, s->proj, s->up, T, l->w_down, l->b_down);
    for (int64_t i = 0; i < T * hp->n_embd; i++) s->x[i] += s->proj[i];
}

/* x[t] = embedding row of tokens[t], widened to f32 and scaled. */
static void llm__embed(llm_session *s, const llm_token *tokens, int64_t T) {
    const llm_model *m = s->m;
    int64_t C = m->hp.n_embd;
    size_t row_bytes = llm_dtype_n_bytes(m->tok_embd->dtype, C);
    for (int64_t t = 0; t < T; t++) {
        const uint8_t *row = (const uint8_t *)m->tok_embd->data + (size_t)tokens[t] * row_bytes;
        llm_convert(LLM_DTYPE_F32, s->x + t * C, m->tok_embd->dtype, row, C);
        if (m->hp.embed_scale != 1.0f)
            for (int64_t i = 0; i < C; i++) s->x[t * C + i] *= m->hp.embed_scale;
    }
}

/* One chunk (T <= n_batch) through the whole network. logits_all: [T, V] or NULL (then only
   the last position's logits are computed, into s->logits). */
static void llm__forward_chunk(llm_session *s, const llm_token *tokens, int64_t T, float *logits_all) {
    const llm_model *m = s->m;
    int64_t C = m->hp.n_embd;
    llm__embed(s, tokens, T);
    for (int64_t il = 0; il < m->hp.n_layers; il++) {
        llm__attention_block(s, il, T);
        llm__ffn_block(s, il, T);
    }
    int64_t first = logits_all ? 0 : T - 1;
    llm__norm_rows(s, s->h, s->x + first * C, T - first, m->out_norm, m->out_norm_b);
    llm__matmul(s->pool, s->mm_scratch, logits_all ? logits_all : s->logits, m->hp.n_vocab, s->h, T - first, m->output);
    if (logits_all) memcpy(s->logits, logits_all + (T - 1) * m->hp.n_vocab, (size_t)m->hp.n_vocab * sizeof(float));
    s->n_past += T;
}
