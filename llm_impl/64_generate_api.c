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
