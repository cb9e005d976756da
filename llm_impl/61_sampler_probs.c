/* ---- >>sampler_probs: the distribution itself, for speculative decoding ----
   Rejection sampling needs the probabilities the sampler would draw from, not one draw:
   the same processors and filters as llm_sampler_sample, then softmax(x / temperature)
   over the survivors (one-hot on the argmax at temperature 0). */
#include "10_internal.h"

LLM_API llm_status llm_sampler_probs(llm_sampler *s, const float *logits, int64_t n_vocab, float *probs) {
    llm__row r;
    float m;
    llm_status st = llm__sampler_begin(s, logits, n_vocab, &r, &m);
    if (st) return st;
    if (s->p.temperature <= 0) {
        memset(probs, 0, (size_t)n_vocab * sizeof *probs);
        probs[llm__find_f32(r.x, n_vocab, m)] = 1;
        return LLM_OK;
    }
    llm__sampler_filter(s, &r, llm__row_exp(&r, &m));
    llm__exp_live(probs, r.x, llm__max_f32(r.x, n_vocab), 1.0f / s->p.temperature, n_vocab);
    llm__sync_e(r.x, probs, n_vocab);
    float inv = (float)(1.0 / llm__sum_f32(probs, n_vocab));
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
