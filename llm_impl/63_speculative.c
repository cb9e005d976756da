/* ---- >>speculative: draft, verify several tokens in one pass, keep what the model agrees with ----
   Each round: the last chosen token t (not yet in the model's cache) and k guesses
   d0..dk-1 run through the model in one batch, giving the model's distribution after
   each of them. Guess j is kept while the model agrees; the first disagreement is
   replaced by a token of the model's own choosing, and if all k are kept the last row
   gives one more token for free.
   Agreement: at temperature 0, the model's argmax equals the guess (so the output is
   exactly plain greedy decoding). Above it, rejection sampling (Leviathan et al. 2023,
   Chen et al. 2023): keep d with probability min(1, p(d) / q(d)), else draw from
   normalize(max(0, p - q)); p is the model's distribution, q the drafter's (one-hot for
   prompt lookup). The accepted tokens are then distributed exactly as the model's.
   Guesses come from a draft model's session (kept in step with the model's tokens), or
   from prompt lookup: the continuation of the most recent earlier occurrence of the
   context's last n tokens. */
#include "10_internal.h"

typedef struct llm__spec {
    llm__gen *g;
    int64_t V;
    int32_t k;
    float *rows;                /* [k + 1, V] the model's logits for the batch */
    float *p, *q;               /* [V] the model's and the drafter's distributions */
    float *q_draft;             /* [k, V] the drafter's distribution for each guess */
    llm_sampler *draft_sampler; /* the drafter's own chain (same parameters) */
    llm_token *batch;           /* [k + 1] t, d0..dk-1 */
} llm__spec;

/* Bring the draft session to hold exactly `tokens` (prefix reuse), leaving its logits at the end. */
static llm_status llm__spec_sync_draft(llm_session *d, const llm_token *tokens, int64_t n) {
    const llm_token *have = llm_session_tokens(d);
    int64_t keep = 0, n_past = llm_session_n_past(d);
    while (keep < n_past && keep < n - 1 && have[keep] == tokens[keep]) keep++;
    llm_status st = llm_session_rewind(d, keep);
    return st ? st : llm_session_eval(d, tokens + keep, n - keep, NULL);
}

/* Guesses from the draft model; returns how many (<= k), with q_draft filled. */
static int32_t llm__spec_draft_model(llm__spec *sp, const llm_token *ctx, int64_t n_ctx) {
    llm_session *d = sp->g->p->draft;
    int32_t k = (int32_t)LLM__MIN(sp->k, llm_session_room(d) - (n_ctx - llm_session_n_past(d)) - 1);
    if (k <= 0 || llm__spec_sync_draft(d, ctx, n_ctx)) return 0;
    for (int32_t j = 0; j < k; j++) {
        float *q = sp->q_draft + (int64_t)j * sp->V;
        if (llm_sampler_probs(sp->draft_sampler, llm_session_logits(d), sp->V, q)) return j;
        llm_token t = llm_sample_probs(q, sp->V, llm_sampler_rng(sp->draft_sampler));
        sp->batch[1 + j] = t;
        if (j + 1 < k && llm_session_eval(d, &t, 1, NULL)) return j + 1;
    }
    return k;
}

/* Guesses by prompt lookup: find the latest earlier occurrence of the last n tokens. */
static int32_t llm__spec_lookup(llm__spec *sp, const llm_token *ctx, int64_t n_ctx) {
    for (int64_t n = LLM__MIN(sp->g->p->prompt_lookup, n_ctx - 1); n >= 1; n--) {
        const llm_token *tail = ctx + n_ctx - n;
        for (int64_t at = n_ctx - n - 1; at >= 0; at--) {
            if (memcmp(ctx + at, tail, (size_t)n * sizeof *ctx)) continue;
            int32_t k = (int32_t)LLM__MIN(sp->k, n_ctx - (at + n));
            for (int32_t j = 0; j < k; j++) {
                sp->batch[1 + j] = ctx[at + n + j];
                float *q = sp->q_draft + (int64_t)j * sp->V;          /* a deterministic guess: one-hot */
                memset(q, 0, (size_t)sp->V * sizeof *q);
                q[ctx[at + n + j]] = 1;
            }
            return k;
        }
    }
    return 0;
}

/* Decide guess j with the model's distribution p (row j). Returns the guess when kept,
   else a replacement token and sets *rejected. */
static llm_token llm__spec_judge(llm__spec *sp, llm_token guess, const float *q, bool *rejected) {
    llm_rng *rng = llm_sampler_rng(sp->g->sampler);
    float pg = sp->p[guess], qg = q[guess];
    if (qg > 0 && llm_rng_uniform(rng) * qg < pg) { *rejected = false; return guess; }   /* u < p/q */
    *rejected = true;
    double total = 0;
    for (int64_t i = 0; i < sp->V; i++) { sp->q[i] = LLM__MAX(sp->p[i] - q[i], 0.0f); total += sp->q[i]; }
    return total > 0 ? llm_sample_probs(sp->q, sp->V, rng) : llm_sample_probs(sp->p, sp->V, rng);
}

/* log softmax(row)[tok]: the model's own log-probability of a token. */
static float llm__row_logprob(const float *row, int64_t V, llm_token tok) {
    float m = row[0];
    for (int64_t i = 1; i < V; i++) m = row[i] > m ? row[i] : m;
    double z = 0;
    for (int64_t i = 0; i < V; i++) z += exp((double)row[i] - m);
    return row[tok] - m - (float)log(z);
}

/* Take the token chosen at batch row j. On a stop, forget the batch past what was taken. */
static bool llm__spec_take(llm__spec *sp, int64_t n_past, int32_t j, llm_token next) {
    if (llm__gen_take(sp->g, next, llm__row_logprob(sp->rows + (int64_t)j * sp->V, sp->V, next))) return true;
    llm_session_rewind(sp->g->s, n_past + 1 + j);
    return false;
}

/* One round; returns false when generation ends. *t: the pending token, in and out. */
static bool llm__spec_round(llm__spec *sp, llm_token *t, llm_status *st) {
    llm__gen *g = sp->g;
    llm_session *s = g->s;
    llm_rng *rng = llm_sampler_rng(g->sampler);
    int64_t n_past = llm_session_n_past(s);
    llm_token *full = (llm_token *)malloc((size_t)(n_past + 1) * sizeof *full);   /* the context, t included */
    if (!full) { *st = llm__fail(LLM_ERR_NOMEM, "generate: out of memory"); return false; }
    memcpy(full, llm_session_tokens(s), (size_t)n_past * sizeof *full);
    full[n_past] = *t;
    int32_t k = g->p->draft ? llm__spec_draft_model(sp, full, n_past + 1) : llm__spec_lookup(sp, full, n_past + 1);
    free(full);
    k = (int32_t)LLM__MAX(0, LLM__MIN(k, llm_session_room(s) - 1));
    sp->batch[0] = *t;
    if ((*st = llm_session_eval(s, sp->batch, 1 + k, sp->rows))) return false;
    g->r.n_drafted += k;
    for (int32_t j = 0; j < k; j++) {
        if ((*st = llm_sampler_probs(g->sampler, sp->rows + (int64_t)j * sp->V, sp->V, sp->p))) return false;
        bool rejected;
        llm_token next = llm__spec_judge(sp, sp->batch[1 + j], sp->q_draft + (int64_t)j * sp->V, &rejected);
        if (!llm__spec_take(sp, n_past, j, next)) return false;
        if (rejected) {                                  /* forget the guesses from j on */
            *t = next;
            return !(*st = llm_session_rewind(s, n_past + 1 + j));
        }
        g->r.n_accepted++;
    }
    /* every guess was kept: the last row gives one more token */
    if ((*st = llm_sampler_probs(g->sampler, sp->rows + (int64_t)k * sp->V, sp->V, sp->p))) return false;
    *t = llm_sample_probs(sp->p, sp->V, rng);
    return llm__spec_take(sp, n_past, k, *t);
}

static void llm__spec_free(llm__spec *sp) {
    free(sp->rows); free(sp->p); free(sp->q); free(sp->q_draft); free(sp->batch);
    llm_sampler_destroy(sp->draft_sampler);
}

/* The speculative loop: the first token from the prompt's logits, then rounds. */
static llm_status llm__generate_speculative(llm__gen *g) {
    const llm_generate_params *p = g->p;
    llm__spec sp = { .g = g, .V = g->info->n_vocab, .k = p->n_draft > 0 ? p->n_draft : 3 };
    if (p->draft && llm_model_get_info(llm_session_model(p->draft))->n_vocab < sp.V)
        return llm__fail(LLM_ERR_INVALID_ARG, "generate: the draft model's vocabulary is smaller than the model's");
    size_t V = (size_t)sp.V, k = (size_t)sp.k;
    sp.rows = (float *)malloc((k + 1) * V * sizeof(float));
    sp.p = (float *)malloc(V * sizeof(float));
    sp.q = (float *)malloc(V * sizeof(float));
    sp.q_draft = (float *)malloc(k * V * sizeof(float));
    sp.batch = (llm_token *)malloc((k + 1) * sizeof(llm_token));
    llm_status st = sp.rows && sp.p && sp.q && sp.q_draft && sp.batch ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "generate: out of memory");
    if (!st && p->draft) st = llm_sampler_create(&p->sampler, sp.V, NULL, &sp.draft_sampler);
    llm_token t;
    float logprob = 0;
    if (!st && p->max_tokens > 0 && g->r.n_generated >= p->max_tokens) { llm__spec_free(&sp); return LLM_OK; }
    if (!st) st = llm_sampler_sample(g->sampler, llm_session_logits(g->s), sp.V, &t, &logprob, g->top);
    if (!st && llm__gen_take(g, t, logprob))
        while (llm__spec_round(&sp, &t, &st)) {}
    llm__spec_free(&sp);
    return st;
}
