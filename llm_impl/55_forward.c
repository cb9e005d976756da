/* ---- >>forward: the blocks of the generic decoder-only transformer ----
   One forward pass over a chunk of T tokens at positions n_past .. n_past+T-1, for every
   architecture: each family is a set of options in llm__hparams and the tensors it binds.
   The recipe (Llama; "Attention Is All You Need" with the pre-norm, RoPE, SwiGLU and GQA
   changes; 58_transformer.c strings the blocks together):
       x = embed(tokens) * embed_scale (+ learned positions)       [T, C]
       for each layer:
           h = norm(x);  q, k, v = h Wq, h Wk, h Wv (+ biases)      [T, H*D], [T, Hkv*D]
           q, k = qk_norm(q, k);  q, k = rope(q, k, positions)
           cache k, v;  a = softmax(q k^T * scale + causal mask) v  [T, H*D]
           x = x + a Wo
           h = norm(x);  x = x + (act(h Wgate) * h Wup) Wdown       [T, F] -> [T, C]
       logits = norm(x) Wout                                       [T, V]
   Variations: post-norms (Gemma 2/3, OLMo 2), parallel blocks (Phi, Cohere, GPT-NeoX),
   soft-capping, multipliers (Granite), MoE feed-forward (56_moe.c), latent attention
   (57_mla.c). Each block is a function of the session's named buffers, so a backward pass
   can find every activation. */
#include "10_internal.h"

struct llm_session {
    const llm_model *m;
    llm_allocator alloc;
    llm_pool *pool;
    bool own_pool;
    int64_t n_ctx, n_batch, n_past;
    int n_threads;
    llm_token *tokens;             /* [cap_tokens] every token evaluated, in order */
    int64_t cap_tokens;
    llm__kv *kv;                   /* [L], pointing into block */
    llm__kv_fmt kvf;               /* f32 or quantized rows */
    bool rotating;                 /* positions may pass n_ctx: the cache drops the oldest */
    int64_t n_written;             /* highest position written + 1 since the cache was empty */
    float *attn_scratch;           /* [n_threads, llm__kv_scratch(D)] */
    /* which sequence each row of a chunk belongs to: this session's own positions, or one
       token from each of several sessions (llm_session_eval_batch) */
    int64_t *row_pos;              /* [B] position of row t */
    llm_session **row_seq;         /* [B] the session whose cache row t reads and extends */
    /* activations of the current chunk (B = n_batch rows) */
    float *x;                      /* [B, C] residual stream */
    float *h, *h2;                 /* [B, C] normalized input of attention / feed-forward */
    float *q, *k, *v;              /* [B, H*D] [B, Hkv*D] [B, Hkv*D] (MLA: [B, H*(nope+rope)] [B, rank+rope]) */
    float *qkv;                    /* [B, (H+2Hkv)*D] fused projection (GPT-NeoX) */
    float *att;                    /* [B, H*Dv] attention output, before Wo */
    float *attn_out, *ffn_out;     /* [B, C] block outputs before the residual add */
    float *gate, *up;              /* [B, F] (F: widest feed-forward of dense, expert and shared) */
    float *router;                 /* [B, E] router logits / scores */
    float *topk_w, *rows_w;        /* [B, K] routing weights; [B] weights of one expert's rows */
    int32_t *topk, *rows;          /* [B, K] chosen experts; [B] tokens of one expert */
    float *xe, *ye;                /* [B, C] one expert's gathered inputs / outputs */
    float *mla_qa;                 /* [B, q_lora_rank] */
    float *mla_q;                  /* [B, H*(rank+rope)] queries absorbed into the latent space */
    float *mla_lat;                /* [H, B, rank] attention output in the latent space */
    float *logits;                 /* [V] of the last position */
    float *scores;                 /* [n_threads, n_ctx] attention scores */
    float *mm_scratch;             /* [n_threads, mm_stride], then the activations quantized once per matmul (llm__matmul_scratch_bytes) */
    int64_t mm_stride;             /* widest matmul input */
    float *freq_buf;               /* [2, n_rot/2] rope frequencies that change with the length */
    const float *freq, *freq_local;/* [n_rot/2] this chunk's frequencies: full / sliding layers */
    float mscale, mscale_local;
    void *block;                   /* one allocation backing everything above */
};

/* out[t] = norm(x[t]) over n columns: RMSNorm (Gemma: w + 1) or LayerNorm (bias optional).
   No weight and no bias: no norm (OLMo 2 has none before its blocks). In place is fine. */
static void llm__norm_n(const llm__hparams *hp, float *out, const float *x, int64_t T, int64_t n, const float *w, const float *b) {
    for (int64_t t = 0; t < T; t++) {
        if (!w && !b) memmove(out + t * n, x + t * n, (size_t)n * sizeof(float));
        else if (hp->norm == LLM__NORM_LAYER) llm__layernorm(out + t * n, x + t * n, w, b, n, (float)hp->norm_eps);
        else llm__rmsnorm(out + t * n, x + t * n, w, n, (float)hp->norm_eps, hp->norm_add_one);
    }
}

static void llm__norm_rows(const llm_session *s, float *out, const float *x, int64_t T, const float *w, const float *b) {
    llm__norm_n(&s->m->hp, out, x, T, s->m->hp.n_embd, w, b);
}

/* y[t] = x[t] W^T + bias for t < T. */
static void llm__linear(llm_session *s, float *y, const float *x, int64_t T, const llm_tensor *w, const float *bias) {
    llm__matmul(s->pool, s->mm_scratch, y, w->shape[0], x, T, w);
    if (bias)
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < w->shape[0]; i++) y[t * w->shape[0] + i] += bias[i];
}

/* The rope frequencies of one evaluation call that ends at position end - 1: the model's,
   or recomputed where they depend on how long the sequence has grown (dynamic NTK,
   LongRoPE; 51_model.c). As in transformers, one call (a whole prompt, even when it is
   split into chunks) uses one set; keys already cached keep the rotation they got. */
static void llm__rope_prepare(llm_session *s, int64_t end) {
    const llm_model *m = s->m;
    const llm__hparams *hp = &m->hp;
    int64_t half = hp->n_rot / 2;
    s->freq = m->inv_freq, s->mscale = m->rope_mscale;
    s->freq_local = m->inv_freq_local, s->mscale_local = m->rope_mscale_local;
    if (llm__rope_dynamic(&hp->rope)) {
        llm__rope_inv_freq(&hp->rope, hp->n_rot, hp->n_ctx_train, end, s->freq_buf, &s->mscale);
        s->freq = s->freq_buf;
    }
    if (llm__rope_dynamic(&hp->rope_local)) {
        llm__rope_inv_freq(&hp->rope_local, hp->n_rot, hp->n_ctx_train, end, s->freq_buf + half, &s->mscale_local);
        s->freq_local = s->freq_buf + half;
    }
}

/* GPT-NeoX: the fused projection is [T, H, 3, D]; spread it into q, k, v [T, H*D]. */
static void llm__split_qkv_per_head(llm_session *s, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    int64_t H = hp->n_heads, D = hp->head_dim;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) {
            const float *src = s->qkv + (t * H + h) * 3 * D;
            memcpy(s->q + (t * H + h) * D, src, (size_t)D * sizeof(float));
            memcpy(s->k + (t * H + h) * D, src + D, (size_t)D * sizeof(float));
            memcpy(s->v + (t * H + h) * D, src + 2 * D, (size_t)D * sizeof(float));
        }
}

typedef struct { llm_session *s; int64_t il, T; } llm__layer_task;

/* Rows [lo, hi) of llm__qk_prepare: per-head q/k norms, rope (angles computed once per row,
   in the thread's attention scratch, which is free until attention runs), cache k and v. */
static void llm__qk_rows(llm_session *s, int64_t il, int64_t lo, int64_t hi, float *cs) {
    const llm_model *m = s->m;
    const llm__hparams *hp = &m->hp;
    const llm__layer *l = &m->layers[il];
    int64_t D = hp->head_dim, H = hp->n_heads, Hkv = hp->n_kv_heads;
    bool sliding = hp->layer_sliding[il], rope = hp->layer_rope[il];
    const float *qn = hp->qk_norm_full ? NULL : l->q_norm, *kn = hp->qk_norm_full ? NULL : l->k_norm;
    for (int64_t t = lo; t < hi; t++) {
        int64_t pos = s->row_pos[t];
        llm_session *seq = s->row_seq[t];
        if (rope) llm__rope_table(cs, pos, sliding ? s->freq_local : s->freq, hp->n_rot, sliding ? s->mscale_local : s->mscale);
        for (int64_t h = 0; h < H; h++) {
            float *qh = s->q + (t * H + h) * D;
            if (qn) llm__rmsnorm(qh, qh, qn, D, (float)hp->norm_eps, hp->norm_add_one);
            if (rope) llm__rope_apply(qh, cs, hp->n_rot, hp->rope_interleaved);
        }
        for (int64_t h = 0; h < Hkv; h++) {
            float *kh = s->k + (t * Hkv + h) * D;
            if (kn) llm__rmsnorm(kh, kh, kn, D, (float)hp->norm_eps, hp->norm_add_one);
            if (rope) llm__rope_apply(kh, cs, hp->n_rot, hp->rope_interleaved);
            llm__kv_store(&seq->kv[il], &seq->kvf, h, pos, kh, s->v + (t * Hkv + h) * D, D);
        }
    }
}

static void llm__qk_worker(void *ctx, int ith, int nth) {
    const llm__layer_task *a = (const llm__layer_task *)ctx;
    int64_t lo, hi;
    llm__split(a->T, ith, nth, &lo, &hi);
    llm__qk_rows(a->s, a->il, lo, hi, a->s->attn_scratch + (int64_t)ith * llm__kv_scratch(a->s->m->hp.head_dim));
}

/* q/k norms (per head: Qwen3, Gemma 3; over all heads: OLMo 2) and rope, then append k and v
   to the cache (rows of a chunk hold distinct positions, so distinct cache slots: threads
   take rows; a single row is not worth a dispatch). */
static void llm__qk_prepare(llm_session *s, int64_t il, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    const llm__layer *l = &s->m->layers[il];
    if (hp->qk_norm_full) {
        llm__norm_n(hp, s->q, s->q, T, hp->n_heads * hp->head_dim, l->q_norm, NULL);
        llm__norm_n(hp, s->k, s->k, T, hp->n_kv_heads * hp->head_dim, l->k_norm, NULL);
    }
    llm__layer_task task = { s, il, T };
    if (T > 1) llm__parallel_for(s->pool, llm__qk_worker, &task);
    else llm__qk_worker(&task, 0, 1);
}

/* First cached position token pos may attend to: 0, or the start of its sliding window. */
static int64_t llm__attn_start(const llm__hparams *hp, int64_t il, int64_t pos) {
    return hp->layer_sliding[il] && hp->sliding_window ? LLM__MAX(0, pos - hp->sliding_window + 1) : 0;
}

#define LLM__ATT_TQ 4   /* consecutive rows of a chunk whose queries go through the cache together */

/* A group of queries that read the same f32 slots of one cache (slot0 on). */
typedef struct {
    llm__attn_q qs[LLM__ATT_MAXQ];
    int nq;
    const llm__kv *c;
    int64_t slot0;
} llm__attn_group;

static void llm__attn_flush(llm__attn_group *g, int64_t kvh, int64_t D, const llm__attn_params *p, float *scratch) {
    if (g->nq) llm__kv_attend_shared(g->qs, g->nq, g->c, kvh, D, g->slot0, p, scratch);
    g->nq = 0;
}

/* The queries of rows [t0, t0 + LLM__ATT_TQ) for the query heads of kv head kvh (GQA: query
   head h reads kv head h / (H / Hkv), with no copy of K or V). Those that see one f32 slot
   range from the same first slot of the same cache (the heads of a row; consecutive
   positions, causal) share one pass over it; the others (ring, quantized rows) go alone.
   Either way each query gets the same result. */
static void llm__attn_unit(const llm__layer_task *a, int64_t t0, int64_t kvh, float *scratch) {
    llm_session *s = a->s;
    const llm__hparams *hp = &s->m->hp;
    int64_t D = hp->head_dim, H = hp->n_heads, group = H / hp->n_kv_heads;
    llm__attn_params params = { .scale = hp->attn_scale, .softcap = hp->attn_softcap };
    llm__attn_group g = { .nq = 0 };
    for (int64_t t = t0; t < LLM__MIN(t0 + LLM__ATT_TQ, a->T); t++) {
        const llm_session *seq = s->row_seq[t];
        const llm__kv *c = &seq->kv[a->il];
        llm__kv_span spans[3];
        int n = llm__kv_spans(c, llm__attn_start(hp, a->il, s->row_pos[t]), s->row_pos[t], spans);
        bool shared = n == 1 && !seq->kvf.quantized;
        if (shared && (g.c != c || g.slot0 != spans[0].slot)) {
            llm__attn_flush(&g, kvh, D, &params, scratch);
            g.c = c, g.slot0 = spans[0].slot;
        }
        for (int64_t h = kvh * group; h < (kvh + 1) * group; h++) {
            float *out = s->att + (t * H + h) * D;
            const float *q = s->q + (t * H + h) * D;
            if (!shared) { llm__kv_attend(out, q, c, &seq->kvf, kvh, D, spans, n, &params, scratch); continue; }
            if (g.nq == LLM__ATT_MAXQ) llm__attn_flush(&g, kvh, D, &params, scratch);
            g.qs[g.nq++] = (llm__attn_q){ .q = q, .out = out, .n = spans[0].n };
        }
    }
    llm__attn_flush(&g, kvh, D, &params, scratch);
}

/* Attention for the units (LLM__ATT_TQ rows x kv head) this thread owns, dealt round-robin:
   under a causal mask later rows cost more, so contiguous ranges would leave a thread idle. */
static void llm__attn_worker(void *ctx, int ith, int nth) {
    const llm__layer_task *a = (const llm__layer_task *)ctx;
    const llm__hparams *hp = &a->s->m->hp;
    int64_t Hkv = hp->n_kv_heads, n_units = (a->T + LLM__ATT_TQ - 1) / LLM__ATT_TQ * Hkv;
    float *scratch = a->s->attn_scratch + (int64_t)ith * llm__kv_scratch(hp->head_dim);
    for (int64_t u = ith; u < n_units; u += nth) llm__attn_unit(a, u / Hkv * LLM__ATT_TQ, u % Hkv, scratch);
}

/* out[T, C] = attention(h) Wo (+ bias). */
static void llm__attention_block(llm_session *s, int64_t il, const float *h, float *out, int64_t T) {
    const llm__layer *l = &s->m->layers[il];
    if (l->wqkv) {
        llm__linear(s, s->qkv, h, T, l->wqkv, l->bqkv);
        llm__split_qkv_per_head(s, T);
    } else {
        llm__linear(s, s->q, h, T, l->wq, l->bq);
        llm__linear(s, s->k, h, T, l->wk, l->bk);
        llm__linear(s, s->v, h, T, l->wv, l->bv);
    }
    llm__qk_prepare(s, il, T);
    llm__layer_task task = { s, il, T };
    llm__parallel_for(s->pool, llm__attn_worker, &task);
    llm__linear(s, out, s->att, T, l->wo, l->bo);
}

/* out[T, C] = gated MLP down(act(gate(h)) * up(h)); without a gate: down(act(up(h))).
   Used for the dense feed-forward, each routed expert and the shared expert. */
static void llm__mlp(llm_session *s, float *out, const float *h, int64_t T, const llm__mlp_w *w, const float *b_up, const float *b_down) {
    const llm__hparams *hp = &s->m->hp;
    int64_t F = w->up->shape[0];
    llm__linear(s, s->up, h, T, w->up, b_up);
    if (w->gate) llm__linear(s, s->gate, h, T, w->gate, NULL);
    llm__k->act_mul(hp->act, s->up, w->gate ? s->gate : NULL, T * F);
    llm__linear(s, out, s->up, T, w->down, b_down);
}

/* x[t] = embedding row of tokens[t], dequantized to f32 and scaled (+ the learned position row). */
static void llm__embed(llm_session *s, const llm_token *tokens, int64_t T) {
    const llm_model *m = s->m;
    int64_t C = m->hp.n_embd;
    for (int64_t t = 0; t < T; t++) {
        float *x = s->x + t * C;
        llm__mat_row_f32(m->tok_embd, tokens[t], x);
        if (m->hp.embed_scale != 1.0f)
            for (int64_t i = 0; i < C; i++) x[i] *= m->hp.embed_scale;
        if (m->pos_embd) {
            size_t pos_bytes = llm_dtype_n_bytes(m->pos_embd->dtype, C);
            llm_convert(LLM_DTYPE_F32, s->h, m->pos_embd->dtype, (const uint8_t *)m->pos_embd->data + (size_t)s->row_pos[t] * pos_bytes, C);
            for (int64_t i = 0; i < C; i++) x[i] += s->h[i];
        }
    }
}
