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
    if (st) { keep = 0; st = llm_session_rewind(s, 0); }    /* a ring dropped what we would keep: start over */
    if (!st) st = llm_session_eval(s, prompt + keep, n - keep, NULL);
    *out_evaluated = n - keep;
    return st;
}

/* Everything one generation call carries around. */
typedef struct llm__gen {
    llm_session *s;
    const llm_generate_params *p;
    const llm_model_info *info;
    llm_sampler *sampler;
    llm_detok *detok;
    llm_token_logprob *top;         /* [n_logprobs] or NULL */
    llm__stream stream;
    llm_generate_result r;
} llm__gen;

static void llm__gen_free(llm__gen *g) {
    llm_sampler_destroy(g->sampler);
    if (g->detok) llm_detok_destroy(g->detok);
    free(g->top);
    free(g->stream.pending);
}

static llm_status llm__gen_init(llm__gen *g, llm_session *s, const llm_tokenizer *tok, const llm_token *prompt, int64_t n_prompt,
                                const llm_generate_params *p) {
    memset(g, 0, sizeof *g);
    g->s = s;
    g->p = p;
    g->stream.p = p;
    g->info = llm_model_get_info(llm_session_model(s));
    g->r.n_prompt = n_prompt;
    g->r.stop = LLM_STOP_MAX_TOKENS;
    if (n_prompt <= 0) return llm__fail(LLM_ERR_INVALID_ARG, "generate: empty prompt");
    llm_status st = llm_sampler_create(&p->sampler, g->info->n_vocab, NULL, &g->sampler);
    if (!st && tok) st = llm_detok_create(tok, !p->keep_special_text, &g->detok);
    if (!st && g->detok) {   /* prime with the prompt's last token: the text continues it (no stray leading space) */
        const char *text;
        size_t len;
        st = llm_detok_push(g->detok, prompt[n_prompt - 1], &text, &len);
    }
    if (!st && p->sampler.n_logprobs > 0 && !(g->top = (llm_token_logprob *)calloc((size_t)p->sampler.n_logprobs, sizeof *g->top)))
        st = llm__fail(LLM_ERR_NOMEM, "generate: out of memory");
    for (int64_t i = 0; i < n_prompt && !st; i++) st = llm_sampler_accept(g->sampler, prompt[i]);
    return st;
}

/* One chosen token: record it for the penalties, check end of sequence, stream its text,
   ask the callback. Returns false when generation ends here (g->r.stop says why). The
   token is not yet in the session. */
static bool llm__gen_take(llm__gen *g, llm_token tok, float logprob) {
    const llm_generate_params *p = g->p;
    if (llm_sampler_accept(g->sampler, tok) != LLM_OK) { g->r.stop = LLM_STOP_CALLBACK; return false; }
    g->r.n_generated++;
    if (llm__is_eos(g->info, p, tok)) { g->r.stop = LLM_STOP_EOS; return false; }
    const char *text = NULL;
    size_t len = 0, emit = 0;
    if (g->detok && llm_detok_push(g->detok, tok, &text, &len) == LLM_OK) {
        emit = llm__stream_push(&g->stream, text, len);
        if (emit == SIZE_MAX) emit = 0;
    }
    llm_gen_token ev = { tok, logprob, g->top, g->top ? p->sampler.n_logprobs : 0, g->stream.pending, emit };
    bool go_on = p->on_token ? p->on_token(&ev, p->user) : true;
    if (g->stream.pending) llm__stream_consume(&g->stream, emit);
    if (g->stream.stopped_by_string) { g->r.stop = LLM_STOP_STRING; return false; }
    if (!go_on) { g->r.stop = LLM_STOP_CALLBACK; return false; }
    if (p->max_tokens > 0 && g->r.n_generated >= p->max_tokens) { g->r.stop = LLM_STOP_MAX_TOKENS; return false; }
    if (llm_session_room(g->s) <= 0) { g->r.stop = LLM_STOP_CONTEXT; return false; }
    return true;
}

/* After the last token: whatever the detokenizer still holds (unless a stop string ended it). */
static void llm__gen_finish(llm__gen *g) {
    const char *text;
    size_t len;
    if (!g->detok || g->r.stop == LLM_STOP_STRING || llm_detok_flush(g->detok, &text, &len) != LLM_OK || !len) return;
    size_t emit = llm__stream_push(&g->stream, text, len);
    if (emit != SIZE_MAX && emit && g->p->on_token) {
        llm_gen_token ev = { -1, 0, NULL, 0, g->stream.pending, emit };
        g->p->on_token(&ev, g->p->user);
    }
}

/* The plain loop: sample from the last logits, take the token, run it through the model. */
static llm_status llm__generate_plain(llm__gen *g) {
    llm_status st = LLM_OK;
    if (g->p->max_tokens > 0 && g->r.n_generated >= g->p->max_tokens) return LLM_OK;
    while (!st) {
        llm_token t;
        float logprob = 0;
        if ((st = llm_sampler_sample(g->sampler, llm_session_logits(g->s), g->info->n_vocab, &t, &logprob, g->top))) break;
        if (!llm__gen_take(g, t, logprob)) break;
        st = llm_session_eval(g->s, &t, 1, NULL);
    }
    return st;
}

