/* ---- >>session: creating sessions and feeding them tokens ----
   All memory a session needs is computed up front and taken in one allocation: the KV
   cache, the activations of one chunk and the per-thread scratch. Nothing is allocated
   per token. */
#include "10_internal.h"

LLM_API llm_status llm_session_create(const llm_model *m, const llm_session_desc *desc, llm_session **out) {
    llm_session_desc d = desc ? *desc : (llm_session_desc){ 0 };
    const llm__hparams *hp = &m->hp;
    *out = NULL;
    if (d.n_ctx <= 0) d.n_ctx = hp->n_ctx_train > 0 ? LLM__MIN(hp->n_ctx_train, 4096) : 4096;
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

    int64_t B = s->n_batch, C = hp->n_embd, Dq = hp->n_heads * hp->head_dim, Dkv = hp->n_kv_heads * hp->head_dim;
    int64_t F = hp->n_ff, max_k = LLM__MAX(LLM__MAX(C, F), Dq);
    int64_t cache = hp->n_layers * Dkv * s->n_ctx;
    /* sizes in floats, each rounded up to a cache line */
    int64_t sizes[] = { cache, cache, B * C, B * C, B * Dq, B * Dkv, B * Dkv, B * Dq, B * C, B * F, B * F, hp->n_vocab,
                        s->n_threads * s->n_ctx, s->n_threads * max_k };
    float **slots[] = { &s->k_cache, &s->v_cache, &s->x, &s->h, &s->q, &s->k, &s->v, &s->att, &s->proj, &s->gate, &s->up,
                        &s->logits, &s->scores, &s->mm_scratch };
    size_t total = 0;
    for (int i = 0; i < LLM__COUNT(sizes); i++) total += ((size_t)sizes[i] * sizeof(float) + 63) / 64 * 64;
    s->tokens = (llm_token *)calloc((size_t)s->n_ctx, sizeof *s->tokens);
    s->block = s->tokens ? llm__alloc(&s->alloc, total) : NULL;
    if (!s->block) {
        llm_session_destroy(s);
        return llm__fail(LLM_ERR_NOMEM, "session: cannot allocate %zu bytes (n_ctx %lld)", total, (long long)d.n_ctx);
    }
    char *p = (char *)s->block;
    for (int i = 0; i < LLM__COUNT(sizes); i++) {
        *slots[i] = (float *)p;
        p += ((size_t)sizes[i] * sizeof(float) + 63) / 64 * 64;
    }
    memset(s->logits, 0, (size_t)hp->n_vocab * sizeof(float));
    *out = s;
    return LLM_OK;
}

LLM_API void llm_session_destroy(llm_session *s) {
    if (!s) return;
    if (s->own_pool) llm_pool_destroy(s->pool);
    llm__free(&s->alloc, s->block);
    free(s->tokens);
    free(s);
}

LLM_API llm_status llm_session_eval(llm_session *s, const llm_token *tokens, int64_t n, float *out_logits) {
    const llm__hparams *hp = &s->m->hp;
    if (n <= 0) return llm__fail(LLM_ERR_INVALID_ARG, "eval: no tokens");
    if (n > s->n_ctx - s->n_past)
        return llm__fail(LLM_ERR_CONTEXT_FULL, "eval: %lld tokens after %lld do not fit the context of %lld", (long long)n,
                         (long long)s->n_past, (long long)s->n_ctx);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return llm__fail(LLM_ERR_INVALID_ARG, "eval: token id %d is outside the vocabulary (0..%lld)", (int)tokens[i],
                             (long long)hp->n_vocab - 1);
    for (int64_t done = 0; done < n; done += s->n_batch) {
        int64_t T = LLM__MIN(s->n_batch, n - done);
        memcpy(s->tokens + s->n_past, tokens + done, (size_t)T * sizeof *tokens);
        llm__forward_chunk(s, tokens + done, T, out_logits ? out_logits + done * hp->n_vocab : NULL);
    }
    return LLM_OK;
}

LLM_API const float *llm_session_logits(const llm_session *s) { return s->logits; }
LLM_API int64_t llm_session_n_past(const llm_session *s) { return s->n_past; }
LLM_API int64_t llm_session_n_ctx(const llm_session *s) { return s->n_ctx; }
LLM_API const llm_token *llm_session_tokens(const llm_session *s) { return s->tokens; }
LLM_API const llm_model *llm_session_model(const llm_session *s) { return s->m; }

LLM_API llm_status llm_session_rewind(llm_session *s, int64_t n_past) {
    if (n_past < 0 || n_past > s->n_past)
        return llm__fail(LLM_ERR_INVALID_ARG, "rewind: %lld is outside 0..%lld", (long long)n_past, (long long)s->n_past);
    s->n_past = n_past;
    return LLM_OK;
}
