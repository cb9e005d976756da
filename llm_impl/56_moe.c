/* ---- >>moe: mixture-of-experts feed-forward ----
   A router scores E experts per token, the K best run, their outputs are summed with the
   routing weights; a shared expert (Qwen2-MoE, DeepSeek) runs on every token. Only chosen
   experts are computed: tokens are grouped by expert and each expert's matmuls run once
   over its tokens. Routing rules (transformers' modeling files):
     softmax (Mixtral, Qwen MoE): p = softmax(logits); top-k of p; renormalised to sum 1
       when norm_topk_prob (Mixtral always, Qwen2-MoE not).
     sigmoid grouped (DeepSeek V3): s = sigmoid(logits); choose by s + bias within the
       topk_group groups whose two best experts score highest; weights are s (without the
       bias), renormalised, times routed_scaling_factor.
   Not here: capacity limits, token dropping, the auxiliary loss (training only). */
#include "10_internal.h"

static float llm__sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* DeepSeek V3 group limit: a bitmask of the topk_group groups with the highest sum of
   their two best choice scores. */
static uint64_t llm__route_groups(const llm__hparams *hp, const float *score, const float *bias) {
    int64_t per = hp->n_experts / hp->n_group;
    float gs[64];
    for (int64_t g = 0; g < hp->n_group; g++) {
        float b1 = -INFINITY, b2 = -INFINITY;
        for (int64_t e = g * per; e < (g + 1) * per; e++) {
            float c = score[e] + (bias ? bias[e] : 0);
            if (c > b1) { b2 = b1; b1 = c; } else if (c > b2) b2 = c;
        }
        gs[g] = b1 + b2;
    }
    uint64_t mask = 0;
    for (int64_t k = 0; k < hp->topk_group; k++) {
        int64_t best = -1;
        for (int64_t g = 0; g < hp->n_group; g++)
            if (!(mask >> g & 1) && (best < 0 || gs[g] > gs[best])) best = g;
        mask |= 1ull << best;
    }
    return mask;
}

/* One token: logits[E] (overwritten with scores) -> idx[K], w[K]. */
static void llm__route_token(const llm__hparams *hp, const float *bias, float *logits, int32_t *idx, float *w) {
    int64_t E = hp->n_experts, K = hp->n_experts_used, per = E / hp->n_group;
    bool sigmoid = hp->router == LLM__ROUTER_SIGMOID_GROUPED;
    uint64_t groups = ~0ull;
    if (sigmoid) {
        for (int64_t e = 0; e < E; e++) logits[e] = llm__sigmoid(logits[e]);
        if (hp->n_group > 1) groups = llm__route_groups(hp, logits, bias);
    } else {
        llm__softmax(logits, E);
        bias = NULL;
    }
    double sum = 0;
    for (int64_t k = 0; k < K; k++) {   /* K passes of argmax: K is small */
        int64_t best = -1;
        for (int64_t e = 0; e < E; e++) {
            bool taken = !(groups >> (e / per) & 1);
            for (int64_t j = 0; j < k && !taken; j++) taken = idx[j] == e;
            if (!taken && (best < 0 || logits[e] + (bias ? bias[e] : 0) > logits[best] + (bias ? bias[best] : 0))) best = e;
        }
        idx[k] = (int32_t)best;
        w[k] = logits[best];
        sum += w[k];
    }
    float norm = hp->moe_norm_topk ? (float)(1.0 / (sum + (sigmoid ? 1e-20 : 0))) : 1.0f;
    for (int64_t k = 0; k < K; k++) w[k] *= norm * hp->routed_scale;
}

/* out[T, C] = sum over chosen experts of weight * expert(h) (+ the shared expert). */
static void llm__moe_block(llm_session *s, const llm__layer *l, const float *h, float *out, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    int64_t E = hp->n_experts, K = hp->n_experts_used, C = hp->n_embd;
    llm__linear(s, s->router, h, T, l->router, NULL);
    for (int64_t t = 0; t < T; t++) llm__route_token(hp, l->router_bias, s->router + t * E, s->topk + t * K, s->topk_w + t * K);
    memset(out, 0, (size_t)(T * C) * sizeof(float));
    for (int64_t e = 0; e < E; e++) {
        int64_t n = 0;                   /* gather the tokens routed to e */
        for (int64_t i = 0; i < T * K; i++)
            if (s->topk[i] == e) {
                s->rows[n] = (int32_t)(i / K);
                s->rows_w[n] = s->topk_w[i];
                memcpy(s->xe + n * C, h + (i / K) * C, (size_t)C * sizeof(float));
                n++;
            }
        if (!n) continue;
        llm__mlp(s, s->ye, s->xe, n, &l->experts[e], NULL, NULL);
        for (int64_t r = 0; r < n; r++) llm__k->axpy_f32(out + s->rows[r] * C, s->rows_w[r], s->ye + r * C, C);
    }
    if (!l->shared.up) return;
    llm__mlp(s, s->ye, h, T, &l->shared, NULL, NULL);
    if (l->shared_gate) llm__linear(s, s->router, h, T, l->shared_gate, NULL);   /* [T, 1] */
    for (int64_t t = 0; t < T; t++) llm__k->axpy_f32(out + t * C, l->shared_gate ? llm__sigmoid(s->router[t]) : 1.0f, s->ye + t * C, C);
}
