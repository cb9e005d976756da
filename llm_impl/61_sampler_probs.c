/* ---- >>sampler_probs: the distribution itself, for speculative decoding ----
   Rejection sampling needs the probabilities the sampler would draw from, not one draw:
   the same processors and filters as llm_sampler_sample, then softmax(x / temperature)
   over the survivors (one-hot on the argmax at temperature 0). */
#include "10_internal.h"

LLM_API llm_status llm_sampler_probs(llm_sampler *s, const float *logits, int64_t n_vocab, float *probs) {
    if (n_vocab <= 0 || n_vocab > s->n_vocab)
        return llm__fail(LLM_ERR_INVALID_ARG, "sampler: row of %lld logits, sampler made for 1..%lld",
                         (long long)n_vocab, (long long)s->n_vocab);
    llm__sampler_process(s, logits, n_vocab);
    llm__row r = { s->work, s->weight, s->keys, n_vocab };
    float m = llm__max_f32(r.x, n_vocab);
    if (m == -INFINITY) return llm__fail(LLM_ERR_INVALID_ARG, "sampler: every logit is -inf or NaN");
    if (s->p.temperature <= 0) {
        memset(probs, 0, (size_t)n_vocab * sizeof *probs);
        probs[llm__find_f32(r.x, n_vocab, m)] = 1;
        return LLM_OK;
    }
    double sum = llm__row_exp(&r, &m);
    const llm_sampler_params *p = &s->p;           /* the chain of llm__sampler_choose, without the draw */
    llm__top_p(&r, sum, p->top_p, 1);
    llm__min_p(&r, p->min_p, LLM__MAX(p->min_tokens_to_keep, 1));
    if (p->xtc_probability > 0 && llm_rng_uniform(&s->rng) < p->xtc_probability)
        llm__xtc(&r, p->xtc_threshold, p->xtc_protected, p->n_xtc_protected);
    llm__top_k(&r, p->top_k);
    llm__exp_live(probs, r.x, llm__max_f32(r.x, n_vocab), 1.0f / p->temperature, n_vocab);
    llm__sync_e(r.x, probs, n_vocab);
    double total = llm__sum_f32(probs, n_vocab);
    float inv = (float)(1.0 / total);
    for (int64_t i = 0; i < n_vocab; i++) probs[i] *= inv;
    return LLM_OK;
}

LLM_API llm_rng *llm_sampler_rng(llm_sampler *s) { return &s->rng; }

LLM_API llm_token llm_sample_probs(const float *probs, int64_t n, llm_rng *rng) {
    double total = 0;
    for (int64_t i = 0; i < n; i++) total += probs[i];
    double u = llm_rng_uniform(rng) * total, acc = 0;
    int64_t last = 0;
    for (int64_t i = 0; i < n; i++) {
        if (probs[i] <= 0) continue;
        acc += probs[i];
        last = i;
        if (u < acc) return (llm_token)i;
    }
    return (llm_token)last;                        /* u rounded up to the total */
}
