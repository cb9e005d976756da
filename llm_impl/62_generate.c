/* ---- >>generate: the decoding loop, stop conditions and text streaming ----
   Per step: sample from the last logits, record the token for the penalties, check the
   end-of-sequence ids, turn the token into final text (streaming detokenizer), hold back
   text that could still become a stop string, hand the rest to the callback, then run the
   token through the model. Nothing is allocated per step. */
#include "10_internal.h"
#include <time.h>

static double llm__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    const llm_generate_params *p;
    char *pending;             /* final text not yet emitted: it may be the start of a stop string */
    size_t n_pending, cap;
    bool stopped_by_string;
} llm__stream;

/* Append text; emit what can no longer be part of a stop string. Returns the number of
   bytes that may be emitted from the front of pending now. */
static size_t llm__stream_push(llm__stream *st, const char *text, size_t len) {
    if (st->n_pending + len + 1 > st->cap) {
        size_t cap = LLM__MAX(st->cap * 2, st->n_pending + len + 256);
        char *p = (char *)realloc(st->pending, cap);
        if (!p) return SIZE_MAX;
        st->pending = p;
        st->cap = cap;
    }
    memcpy(st->pending + st->n_pending, text, len);
    st->n_pending += len;
    st->pending[st->n_pending] = 0;
    size_t safe = st->n_pending;
    for (int32_t i = 0; i < st->p->n_stop_strings; i++) {
        const char *stop = st->p->stop_strings[i];
        size_t m = strlen(stop);
        if (!m) continue;
        const char *hit = strstr(st->pending, stop);     /* text with NUL bytes ends the search early: fine */
        if (hit) { st->stopped_by_string = true; safe = LLM__MIN(safe, (size_t)(hit - st->pending)); continue; }
        /* the longest suffix of pending that is a proper prefix of stop must wait */
        for (size_t k = LLM__MIN(m - 1, st->n_pending); k > 0; k--)
            if (!memcmp(st->pending + st->n_pending - k, stop, k)) { safe = LLM__MIN(safe, st->n_pending - k); break; }
    }
    return safe;
}

static void llm__stream_consume(llm__stream *st, size_t n) {
    memmove(st->pending, st->pending + n, st->n_pending - n);
    st->n_pending -= n;
}

static bool llm__is_eos(const llm_model_info *info, const llm_generate_params *p, llm_token t) {
    for (int32_t i = 0; i < info->n_eos; i++) if (info->eos[i] == t) return true;
    for (int32_t i = 0; i < p->n_extra_eos; i++) if (p->extra_eos[i] == t) return true;
    return false;
}

/* Keep the longest common prefix of the session and the prompt (at least one prompt token
   is always evaluated, so there are fresh logits), then evaluate the rest. */
static llm_status llm__generate_prefill(llm_session *s, const llm_token *prompt, int64_t n, int64_t *out_evaluated) {
    const llm_token *have = llm_session_tokens(s);
    int64_t keep = 0, n_past = llm_session_n_past(s);
    while (keep < n_past && keep < n - 1 && have[keep] == prompt[keep]) keep++;
    llm_status st = llm_session_rewind(s, keep);
    if (!st) st = llm_session_eval(s, prompt + keep, n - keep, NULL);
    *out_evaluated = n - keep;
    return st;
}

typedef struct {
    llm_sampler *sampler;
    llm_detok *detok;
    llm_token_logprob *top;
    llm__stream stream;
} llm__gen_state;

static void llm__gen_state_free(llm__gen_state *g) {
    llm_sampler_destroy(g->sampler);
    if (g->detok) llm_detok_destroy(g->detok);
    free(g->top);
    free(g->stream.pending);
}

/* One sampled token: record it, stream its text. Returns false when generation ends. */
static bool llm__gen_emit(llm__gen_state *g, const llm_generate_params *p, llm_token tok, float logprob,
                          llm_generate_result *r) {
    const char *text = NULL;
    size_t len = 0, emit = 0;
    if (g->detok && llm_detok_push(g->detok, tok, &text, &len) == LLM_OK) {
        emit = llm__stream_push(&g->stream, text, len);
        if (emit == SIZE_MAX) emit = 0;
    }
    llm_gen_token ev = { tok, logprob, g->top, g->top ? p->sampler.n_logprobs : 0, g->stream.pending, emit };
    bool go_on = p->on_token ? p->on_token(&ev, p->user) : true;
    if (g->stream.pending) llm__stream_consume(&g->stream, emit);
    if (g->stream.stopped_by_string) { r->stop = LLM_STOP_STRING; return false; }
    if (!go_on) { r->stop = LLM_STOP_CALLBACK; return false; }
    return true;
}

LLM_API llm_status llm_generate(llm_session *s, const llm_tokenizer *tok, const llm_token *prompt, int64_t n_prompt,
                                const llm_generate_params *params, llm_generate_result *out) {
    llm_generate_params p = params ? *params : (llm_generate_params){ 0 };
    llm_generate_result r = { .n_prompt = n_prompt };
    const llm_model_info *info = llm_model_get_info(llm_session_model(s));
    llm__gen_state g = { .stream = { .p = &p } };
    if (n_prompt <= 0) return llm__fail(LLM_ERR_INVALID_ARG, "generate: empty prompt");
    llm_status st = llm_sampler_create(&p.sampler, info->n_vocab, NULL, &g.sampler);
    if (!st && tok) st = llm_detok_create(tok, !p.keep_special_text, &g.detok);
    if (!st && g.detok) {   /* prime with the prompt's last token: the text continues it (no stray leading space) */
        const char *text;
        size_t len;
        st = llm_detok_push(g.detok, prompt[n_prompt - 1], &text, &len);
    }
    if (!st && p.sampler.n_logprobs > 0 &&
        !(g.top = (llm_token_logprob *)calloc((size_t)p.sampler.n_logprobs, sizeof *g.top)))
        st = llm__fail(LLM_ERR_NOMEM, "generate: out of memory");
    for (int64_t i = 0; i < n_prompt && !st; i++) st = llm_sampler_accept(g.sampler, prompt[i]);
    double t0 = llm__now();
    if (!st) st = llm__generate_prefill(s, prompt, n_prompt, &r.n_prompt_evaluated);
    double t1 = llm__now();
    r.prompt_seconds = t1 - t0;
    r.stop = LLM_STOP_MAX_TOKENS;
    while (!st) {
        if (p.max_tokens > 0 && r.n_generated >= p.max_tokens) { r.stop = LLM_STOP_MAX_TOKENS; break; }
        llm_token t;
        float logprob = 0;
        if ((st = llm_sampler_sample(g.sampler, llm_session_logits(s), info->n_vocab, &t, &logprob, g.top))) break;
        if ((st = llm_sampler_accept(g.sampler, t))) break;
        r.n_generated++;
        if (llm__is_eos(info, &p, t)) { r.stop = LLM_STOP_EOS; break; }
        if (!llm__gen_emit(&g, &p, t, logprob, &r)) break;
        if (llm_session_n_past(s) >= llm_session_n_ctx(s)) { r.stop = LLM_STOP_CONTEXT; break; }
        if (p.max_tokens > 0 && r.n_generated >= p.max_tokens) break;   /* no need to run the last token */
        st = llm_session_eval(s, &t, 1, NULL);
    }
    if (!st && g.detok && r.stop != LLM_STOP_STRING) {   /* whatever the detokenizer still holds */
        const char *text;
        size_t len;
        if (llm_detok_flush(g.detok, &text, &len) == LLM_OK && len) {
            size_t emit = llm__stream_push(&g.stream, text, len);
            if (emit != SIZE_MAX && p.on_token && emit) {
                llm_gen_token ev = { -1, 0, NULL, 0, g.stream.pending, emit };
                p.on_token(&ev, p.user);
            }
        }
    }
    r.gen_seconds = llm__now() - t1;
    llm__gen_state_free(&g);
    if (out) *out = r;
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
