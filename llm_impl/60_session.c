/* ---- >>session: creating sessions and feeding them tokens ----
   All memory a session needs is computed up front and taken in one allocation: the KV
   cache, the activations of one chunk and the per-thread scratch. Nothing is allocated
   per token. */
#include "10_internal.h"

/* Widest row each buffer must hold, over the model's options (MLA, fused qkv, experts). */
typedef struct llm__widths {
    int64_t q, k, v, qkv, att, ff, mm;
} llm__widths;

static llm__widths llm__session_widths(const llm_model *m) {
    const llm__hparams *hp = &m->hp;
    int64_t H = hp->n_heads, D = hp->head_dim, kv = hp->n_kv_heads * D;
    int64_t qb = H * (hp->qk_nope_dim + hp->qk_rope_dim), latent = hp->kv_lora_rank + hp->qk_rope_dim, hv = H * hp->v_head_dim;
    llm__widths w = { .q = LLM__MAX(H * D, qb), .k = LLM__MAX(kv, latent), .v = kv, .att = LLM__MAX(H * D, hv) };
    w.qkv = m->layers[0].wqkv ? H * D + 2 * kv : 0;
    w.ff = LLM__MAX(hp->n_ff, LLM__MAX(hp->n_ff_expert, hp->n_ff_shared));
    w.mm = LLM__MAX(LLM__MAX(hp->n_embd, w.ff), LLM__MAX(w.att, LLM__MAX(hp->q_lora_rank, hp->kv_lora_rank)));
    return w;
}

/* Floats one cached position takes in layer il, for keys and for values: Hkv*D each, or
   MLA's latent and rope key (and no values). */
static void llm__layer_cache_width(const llm__hparams *hp, int64_t il, int64_t *k, int64_t *v) {
    (void)il;
    *k = hp->kv_lora_rank ? hp->kv_lora_rank + hp->qk_rope_dim : hp->n_kv_heads * hp->head_dim;
    *v = hp->kv_lora_rank ? 0 : hp->n_kv_heads * hp->head_dim;
}

/* How layer il keeps its positions. A rotating session shows every layer [0, keep) and the
   last n_ctx - keep positions; a sliding-window layer sees its window. Either is stored as a
   ring when that takes fewer rows than n_ctx (window + n_batch - 1 rows past keep). */
static void llm__layer_cache_shape(const llm_session *s, int64_t il, int64_t keep, llm__kv *c) {
    const llm__hparams *hp = &s->m->hp;
    int64_t W = hp->layer_sliding[il] && hp->sliding_window ? hp->sliding_window : 0;
    *c = (llm__kv){ .n_slots = s->n_ctx };
    if (s->rotating) { c->keep = keep; c->window = s->n_ctx - keep; }
    if (W && (!c->window || W <= c->window)) { c->keep = 0; c->window = W; }
    int64_t ring = c->keep + c->window + s->n_batch - 1;
    if (c->window && (s->rotating || ring < s->n_ctx)) { c->ring = true; c->n_slots = ring; }
    c->n_f32 = s->kvf.bits_k ? LLM__MIN(s->kvf.quant_start, c->n_slots) : c->n_slots;
}

/* Carve the session's one block: every buffer, in floats (int32 buffers have the same size),
   each rounded up to a cache line. With block NULL only the total is computed. */
static size_t llm__session_carve(llm_session *s, char *block) {
    const llm__hparams *hp = &s->m->hp;
    llm__widths w = llm__session_widths(s->m);
    int64_t B = s->n_batch, C = hp->n_embd, E = hp->n_experts, K = hp->n_experts_used, H = hp->n_heads, L = hp->n_layers;
    int64_t cache = 0, ck, cv, mla = hp->kv_lora_rank ? B * H * (hp->kv_lora_rank + hp->qk_rope_dim) : 0;
    int64_t qbytes = 0, D = hp->head_dim, ng = s->kvf.group ? D / s->kvf.group : 0;
    for (int64_t il = 0; il < L; il++) {
        llm__layer_cache_width(hp, il, &ck, &cv);
        llm__kv *c = &s->kv[il];
        cache += c->n_f32 * (ck + cv);
        if (s->kvf.bits_k)      /* codes in bytes, counted here as floats: 4 per float, rounded up */
            qbytes += c->n_slots * hp->n_kv_heads * ((int64_t)llm__kv_row_bytes(s->kvf.bits_k, D) + (int64_t)llm__kv_row_bytes(s->kvf.bits_v, D) + 3) / 4
                      + c->n_slots * hp->n_kv_heads * 4 * ng;
    }
    struct { void *slot; int64_t n; } bufs[] = {
        { &s->x, B * C }, { &s->h, B * C }, { &s->h2, B * C }, { &s->q, B * w.q }, { &s->k, B * w.k }, { &s->v, B * w.v },
        { &s->qkv, B * w.qkv }, { &s->att, B * w.att }, { &s->attn_out, B * C }, { &s->ffn_out, B * C }, { &s->gate, B * w.ff },
        { &s->up, B * w.ff }, { &s->router, B * LLM__MAX(E, 1) }, { &s->topk_w, B * K }, { &s->rows_w, E ? B : 0 },
        { &s->topk, B * K }, { &s->rows, E ? B : 0 }, { &s->xe, E ? B * C : 0 }, { &s->ye, E ? B * C : 0 },
        { &s->mla_qa, B * hp->q_lora_rank }, { &s->mla_q, mla }, { &s->mla_lat, B * H * hp->kv_lora_rank },
        { &s->logits, hp->n_vocab }, { &s->scores, s->n_threads * s->n_ctx }, { &s->mm_scratch, (int64_t)(llm__matmul_scratch_bytes(s->n_threads, B, w.mm) + 3) / 4 },
        { &s->freq_buf, hp->n_rot }, { &s->row_pos, 2 * B }, { &s->attn_scratch, s->n_threads * llm__kv_scratch(LLM__MAX(D, 1)) },
        { &s->kv[0].k, cache }, { &s->kv[0].kq, qbytes },
    };
    size_t total = 0;
    for (int i = 0; i < LLM__COUNT(bufs); i++) {
        if (block) *(float **)bufs[i].slot = (float *)(block + total);
        total += ((size_t)bufs[i].n * sizeof(float) + 63) / 64 * 64;
    }
    s->mm_stride = w.mm;
    float *at = s->kv[0].k, *qat = (float *)s->kv[0].kq;
    for (int64_t il = 0; block && il < L; il++) {      /* per layer: k [.., n_f32, ..] then v; codes likewise */
        llm__layer_cache_width(hp, il, &ck, &cv);
        llm__kv *c = &s->kv[il];
        c->k = at;
        c->v = cv ? at + c->n_f32 * ck : NULL;
        at += c->n_f32 * (ck + cv);
        if (!s->kvf.bits_k) continue;
        int64_t rows = c->n_slots * hp->n_kv_heads;
        c->kp = qat;
        c->vp = qat + rows * 2 * ng;
        c->kq = (uint8_t *)(qat + rows * 4 * ng);
        c->vq = c->kq + (size_t)rows * llm__kv_row_bytes(s->kvf.bits_k, D);
        qat += rows * 4 * ng + (rows * ((int64_t)llm__kv_row_bytes(s->kvf.bits_k, D) + (int64_t)llm__kv_row_bytes(s->kvf.bits_v, D)) + 3) / 4;
    }
    return total;
}

/* Check and record the rotating and quantized cache options. */
static llm_status llm__session_cache_config(llm_session *s, const llm_session_desc *d) {
    const llm__hparams *hp = &s->m->hp;
    bool q = d->kv_bits_k || d->kv_bits_v;
    s->rotating = d->rotating;
    if ((q || d->rotating) && hp->kv_lora_rank)
        return llm__fail(LLM_ERR_UNSUPPORTED, "session: rotating and quantized caches are not supported for latent attention (%s)", hp->arch);
    if (d->rotating && hp->learned_pos)
        return llm__fail(LLM_ERR_UNSUPPORTED, "session: a rotating cache needs rotary positions (%s has learned ones)", hp->arch);
    if (d->rotating && (d->n_keep >= d->n_ctx || d->n_ctx <= 0))
        return llm__fail(LLM_ERR_INVALID_ARG, "session: a rotating cache needs n_ctx > n_keep (%lld, %d)", (long long)d->n_ctx, (int)d->n_keep);
    if (!q) return LLM_OK;
    int bk = d->kv_bits_k ? d->kv_bits_k : d->kv_bits_v, bv = d->kv_bits_v ? d->kv_bits_v : d->kv_bits_k;
    if ((bk != 4 && bk != 8) || (bv != 4 && bv != 8))
        return llm__fail(LLM_ERR_INVALID_ARG, "session: kv bits must be 4 or 8 (got %d and %d)", bk, bv);
    int64_t g = d->kv_group_size > 0 ? d->kv_group_size : 64;
    g = LLM__MIN(g, hp->head_dim);
    if (hp->head_dim % g || g % 2)
        return llm__fail(LLM_ERR_INVALID_ARG, "session: kv group size %lld does not divide head_dim %lld", (long long)g, (long long)hp->head_dim);
    s->kvf = (llm__kv_fmt){ .bits_k = bk, .bits_v = bv, .group = g, .quant_start = LLM__MAX(d->quantized_kv_start, 0) };
    s->kvf.quantized = s->kvf.quant_start == 0;
    return LLM_OK;
}

LLM_API llm_status llm_session_create(const llm_model *m, const llm_session_desc *desc, llm_session **out) {
    llm_session_desc d = desc ? *desc : (llm_session_desc){ 0 };
    const llm__hparams *hp = &m->hp;
    *out = NULL;
    if (d.n_ctx <= 0) d.n_ctx = hp->n_ctx_train > 0 ? LLM__MIN(hp->n_ctx_train, 4096) : 4096;
    if (hp->learned_pos && d.n_ctx > hp->n_ctx_train)
        return llm__fail(LLM_ERR_INVALID_ARG, "session: n_ctx %lld exceeds the %lld learned positions", (long long)d.n_ctx,
                         (long long)hp->n_ctx_train);
    if (d.n_batch <= 0) d.n_batch = 256;
    d.n_batch = LLM__MIN(d.n_batch, d.n_ctx);
    llm_session *s = (llm_session *)calloc(1, sizeof *s);
    if (!s) return llm__fail(LLM_ERR_NOMEM, "session: out of memory");
    s->m = m;
    s->alloc = d.allocator.alloc ? d.allocator : m->alloc;
    s->n_ctx = d.n_ctx;
    s->n_batch = d.n_batch;
    llm_status st = LLM_OK;
    if (d.pool) s->pool = d.pool;
    else if ((st = llm_pool_create(d.n_threads, &s->pool)) == LLM_OK) s->own_pool = true;
    if (st) { free(s); return st; }
    s->n_threads = llm_pool_n_threads(s->pool);
    if ((st = llm__session_cache_config(s, &d))) { llm_session_destroy(s); return st; }
    s->kv = (llm__kv *)calloc((size_t)hp->n_layers, sizeof *s->kv);
    for (int64_t il = 0; s->kv && il < hp->n_layers; il++)
        llm__layer_cache_shape(s, il, d.n_keep == 0 ? 4 : d.n_keep < 0 ? 0 : d.n_keep, &s->kv[il]);
    size_t total = s->kv ? llm__session_carve(s, NULL) : 0;
    s->cap_tokens = s->n_ctx;
    s->row_seq = (llm_session **)calloc((size_t)s->n_batch, sizeof *s->row_seq);
    s->tokens = (llm_token *)calloc((size_t)s->cap_tokens, sizeof *s->tokens);
    s->block = s->kv && s->tokens && s->row_seq ? llm__alloc(&s->alloc, total) : NULL;
    if (!s->block) {
        llm_session_destroy(s);
        return llm__fail(LLM_ERR_NOMEM, "session: cannot allocate %zu bytes (n_ctx %lld)", total, (long long)d.n_ctx);
    }
    llm__session_carve(s, (char *)s->block);
    memset(s->logits, 0, (size_t)hp->n_vocab * sizeof(float));
    llm__rope_prepare(s, 0);                 /* valid frequencies for callers of llm__forward_chunk too */
    *out = s;
    return LLM_OK;
}

LLM_API void llm_session_destroy(llm_session *s) {
    if (!s) return;
    if (s->own_pool) llm_pool_destroy(s->pool);
    llm__free(&s->alloc, s->block);
    free(s->tokens);
    free(s->row_seq);
    free(s->kv);
    free(s);
}

/* Room in the token history for n more (a rotating session's history outgrows n_ctx). */
static llm_status llm__session_reserve_tokens(llm_session *s, int64_t n) {
    if (s->n_past + n <= s->cap_tokens) return LLM_OK;
    int64_t cap = LLM__MAX(2 * s->cap_tokens, s->n_past + n);
    llm_token *t = (llm_token *)realloc(s->tokens, (size_t)cap * sizeof *t);
    if (!t) return llm__fail(LLM_ERR_NOMEM, "eval: out of memory for the token history");
    s->tokens = t;
    s->cap_tokens = cap;
    return LLM_OK;
}

/* The chunk about to be written crosses quantized_kv_start: quantize what is cached. */
static void llm__session_maybe_quantize(llm_session *s, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    if (!s->kvf.bits_k || s->kvf.quantized || s->n_past + T <= s->kvf.quant_start) return;
    for (int64_t il = 0; il < hp->n_layers; il++)
        llm__kv_convert(&s->kv[il], &s->kvf, hp->n_kv_heads, hp->head_dim, LLM__MIN(s->n_past, s->kv[il].n_slots));
    s->kvf.quantized = true;
}

LLM_API llm_status llm_session_eval(llm_session *s, const llm_token *tokens, int64_t n, float *out_logits) {
    const llm__hparams *hp = &s->m->hp;
    if (n <= 0) return llm__fail(LLM_ERR_INVALID_ARG, "eval: no tokens");
    if (!s->rotating && n > s->n_ctx - s->n_past)
        return llm__fail(LLM_ERR_CONTEXT_FULL, "eval: %lld tokens after %lld do not fit the context of %lld", (long long)n,
                         (long long)s->n_past, (long long)s->n_ctx);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return llm__fail(LLM_ERR_INVALID_ARG, "eval: token id %d is outside the vocabulary (0..%lld)", (int)tokens[i],
                             (long long)hp->n_vocab - 1);
    llm_status st = llm__session_reserve_tokens(s, n);
    if (st) return st;
    llm__rope_prepare(s, s->n_past + n);
    for (int64_t done = 0; done < n; done += s->n_batch) {
        int64_t T = LLM__MIN(s->n_batch, n - done);
        memcpy(s->tokens + s->n_past, tokens + done, (size_t)T * sizeof *tokens);
        llm__session_maybe_quantize(s, T);
        for (int64_t t = 0; t < T; t++) { s->row_pos[t] = s->n_past + t; s->row_seq[t] = s; }
        llm__forward_chunk(s, tokens + done, T, out_logits ? out_logits + done * hp->n_vocab : NULL);
        s->n_past += T;
        s->n_written = LLM__MAX(s->n_written, s->n_past);
    }
    return LLM_OK;
}

/* Sessions that can share one forward pass: the same model, the same cache layout, rope
   that does not depend on the length (dynamic NTK / longrope would differ per sequence). */
static llm_status llm__batch_check(llm_session *const *ss, int64_t n) {
    const llm_session *lead = ss[0];
    const llm__hparams *hp = &lead->m->hp;
    if (n > lead->n_batch) return llm__fail(LLM_ERR_INVALID_ARG, "eval_batch: %lld sessions, the first has n_batch %lld", (long long)n, (long long)lead->n_batch);
    if (llm__rope_dynamic(&hp->rope) || llm__rope_dynamic(&hp->rope_local))
        return llm__fail(LLM_ERR_UNSUPPORTED, "eval_batch: %s's rope depends on the sequence length", hp->arch);
    for (int64_t i = 0; i < n; i++) {
        const llm_session *s = ss[i];
        if (s->m != lead->m || s->kvf.bits_k != lead->kvf.bits_k || s->kvf.bits_v != lead->kvf.bits_v || s->kvf.group != lead->kvf.group)
            return llm__fail(LLM_ERR_INVALID_ARG, "eval_batch: session %lld has another model or cache format", (long long)i);
        for (int64_t j = 0; j < i; j++)
            if (ss[j] == s) return llm__fail(LLM_ERR_INVALID_ARG, "eval_batch: session %lld appears twice", (long long)i);
        if (llm_session_room(s) < 1) return llm__fail(LLM_ERR_CONTEXT_FULL, "eval_batch: session %lld is full", (long long)i);
        if (ss[i]->n_past + 1 > s->cap_tokens && llm__session_reserve_tokens(ss[i], 1)) return LLM_ERR_NOMEM;
    }
    return LLM_OK;
}

LLM_API llm_status llm_session_eval_batch(llm_session *const *ss, const llm_token *tokens, int64_t n, float *logits) {
    if (n <= 0) return llm__fail(LLM_ERR_INVALID_ARG, "eval_batch: no sessions");
    llm_session *lead = ss[0];
    int64_t V = lead->m->hp.n_vocab;
    llm_status st = llm__batch_check(ss, n);
    for (int64_t i = 0; i < n && !st; i++)
        if (tokens[i] < 0 || tokens[i] >= V) st = llm__fail(LLM_ERR_INVALID_ARG, "eval_batch: token id %d is outside the vocabulary", (int)tokens[i]);
    if (st) return st;
    llm__rope_prepare(lead, 0);
    for (int64_t i = 0; i < n; i++) {
        llm__session_maybe_quantize(ss[i], 1);
        lead->row_pos[i] = ss[i]->n_past;
        lead->row_seq[i] = ss[i];
    }
    llm__forward_chunk(lead, tokens, n, logits);
    for (int64_t i = 0; i < n; i++) {
        llm_session *s = ss[i];
        memcpy(s->logits, logits + i * V, (size_t)V * sizeof(float));
        s->tokens[s->n_past++] = tokens[i];
        s->n_written = LLM__MAX(s->n_written, s->n_past);
    }
    return LLM_OK;
}

LLM_API const float *llm_session_logits(const llm_session *s) { return s->logits; }
LLM_API int64_t llm_session_n_past(const llm_session *s) { return s->n_past; }
LLM_API int64_t llm_session_n_ctx(const llm_session *s) { return s->n_ctx; }
LLM_API int64_t llm_session_room(const llm_session *s) { return s->rotating ? INT64_MAX : s->n_ctx - s->n_past; }
LLM_API const llm_token *llm_session_tokens(const llm_session *s) { return s->tokens; }
LLM_API const llm_model *llm_session_model(const llm_session *s) { return s->m; }

/* Can layer c still show every position a query at n_past needs after rewinding there?
   Its ring holds the last n_slots - keep positions written. */
static bool llm__kv_rewind_ok(const llm__kv *c, int64_t n_past, int64_t n_written) {
    if (!c->ring || n_past == 0) return true;
    int64_t oldest = n_written - (c->n_slots - c->keep);        /* oldest position still in the ring */
    return LLM__MAX(c->keep, n_past - c->window) >= oldest;
}

LLM_API llm_status llm_session_rewind(llm_session *s, int64_t n_past) {
    if (n_past < 0 || n_past > s->n_past)
        return llm__fail(LLM_ERR_INVALID_ARG, "rewind: %lld is outside 0..%lld", (long long)n_past, (long long)s->n_past);
    for (int64_t il = 0; il < s->m->hp.n_layers; il++)
        if (!llm__kv_rewind_ok(&s->kv[il], n_past, s->n_written))
            return llm__fail(LLM_ERR_INVALID_ARG, "rewind: position %lld has been dropped from layer %lld's cache (ring of %lld)",
                             (long long)n_past, (long long)il, (long long)s->kv[il].n_slots);
    s->n_past = n_past;
    if (n_past == 0) {
        s->n_written = 0;
        s->kvf.quantized = s->kvf.bits_k && s->kvf.quant_start == 0;
    }
    return LLM_OK;
}
