/* ---- >>generate_api: llm_generate and llm_generate_text ---- */
#include "10_internal.h"

LLM_API llm_status llm_generate(llm_session *s, const llm_tokenizer *tok, const llm_token *prompt, int64_t n_prompt,
                                const llm_generate_params *params, llm_generate_result *out) {
    llm_generate_params p = params ? *params : (llm_generate_params){ 0 };
    llm__gen g;
    llm_status st = llm__gen_init(&g, s, tok, prompt, n_prompt, &p);
    double t0 = llm__now();
    if (!st) st = llm__generate_prefill(s, prompt, n_prompt, &g.r.n_prompt_evaluated);
    double t1 = llm__now();
    g.r.prompt_seconds = t1 - t0;
    if (!st) st = p.draft || p.prompt_lookup > 0 ? llm__generate_speculative(&g) : llm__generate_plain(&g);
    if (!st) llm__gen_finish(&g);
    g.r.gen_seconds = llm__now() - t1;
    if (out) *out = g.r;
    llm__gen_free(&g);
    return st;
}

typedef struct { char *buf; size_t len, cap; bool oom; } llm__text_sink;

static bool llm__collect_text(const llm_gen_token *t, void *user) {
    llm__text_sink *k = (llm__text_sink *)user;
    if (k->len + t->text_len + 1 > k->cap) {
        size_t cap = LLM__MAX(2 * k->cap, k->len + t->text_len + 256);
        char *b = (char *)realloc(k->buf, cap);
        if (!b) { k->oom = true; return false; }
        k->buf = b;
        k->cap = cap;
    }
    memcpy(k->buf + k->len, t->text, t->text_len);
    k->len += t->text_len;
    k->buf[k->len] = 0;
    return true;
}

LLM_API llm_status llm_generate_text(llm_session *s, const llm_tokenizer *tok, const llm_token *prompt, int64_t n_prompt,
                                     const llm_generate_params *params, char **out_text, llm_generate_result *out) {
    llm_generate_params p = params ? *params : (llm_generate_params){ 0 };
    llm__text_sink k = { (char *)calloc(1, 256), 0, 256, false };
    if (!k.buf) return llm__fail(LLM_ERR_NOMEM, "generate: out of memory");
    p.on_token = llm__collect_text;
    p.user = &k;
    llm_status st = llm_generate(s, tok, prompt, n_prompt, &p, out);
    if (!st && k.oom) st = llm__fail(LLM_ERR_NOMEM, "generate: out of memory");
    if (st) { free(k.buf); return st; }
    *out_text = k.buf;
    return LLM_OK;
}

/* Several sequences at once: each is prefilled on its own, then every step samples one
   token per live sequence and runs them all through one batched forward pass. */
LLM_API llm_status llm_generate_batch(llm_session *const *sessions, int64_t n, const llm_tokenizer *tok,
                                      const llm_token *const *prompts, const int64_t *n_prompts,
                                      const llm_generate_params *params, llm_generate_result *out) {
    if (n <= 0) return llm__fail(LLM_ERR_INVALID_ARG, "generate_batch: no sequences");
    int64_t V = llm_model_get_info(llm_session_model(sessions[0]))->n_vocab;
    llm__gen *g = (llm__gen *)calloc((size_t)n, sizeof *g);
    llm_session **live = (llm_session **)calloc((size_t)n, sizeof *live);
    llm_token *next = (llm_token *)calloc((size_t)n, sizeof *next);
    float *logits = (float *)malloc((size_t)(n * V) * sizeof *logits);
    bool *done = (bool *)calloc((size_t)n, sizeof *done);
    llm_status st = g && live && next && logits && done ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "generate_batch: out of memory");
    for (int64_t i = 0; i < n && !st; i++) {
        if (params[i].draft || params[i].prompt_lookup) st = llm__fail(LLM_ERR_UNSUPPORTED, "generate_batch: no speculative decoding");
        double t0 = llm__now();
        if (!st) st = llm__gen_init(&g[i], sessions[i], tok, prompts[i], n_prompts[i], &params[i]);
        if (!st) st = llm__generate_prefill(sessions[i], prompts[i], n_prompts[i], &g[i].r.n_prompt_evaluated);
        g[i].r.prompt_seconds = llm__now() - t0;
        done[i] = params[i].max_tokens > 0 && g[i].r.n_generated >= params[i].max_tokens;
    }
    double t1 = llm__now();
    while (!st) {
        int64_t k = 0;
        for (int64_t i = 0; i < n && !st; i++) {
            if (done[i]) continue;
            float logprob = 0;
            st = llm_sampler_sample(g[i].sampler, llm_session_logits(sessions[i]), V, &next[k], &logprob, g[i].top);
            if (!st && !llm__gen_take(&g[i], next[k], logprob)) done[i] = true;
            else if (!st) live[k++] = sessions[i];
        }
        if (st || k == 0) break;
        st = llm_session_eval_batch(live, next, k, logits);
    }
    for (int64_t i = 0; i < n && g; i++) {
        if (!st) llm__gen_finish(&g[i]);
        g[i].r.gen_seconds = llm__now() - t1;
        if (out) out[i] = g[i].r;
        llm__gen_free(&g[i]);
    }
    free(g); free(live); free(next); free(logits); free(done);
    return st;
}
