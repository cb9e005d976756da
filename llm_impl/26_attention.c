/* ---- >>attention: query rows against the KV cache, in one streaming pass ----
   out[Dv] = softmax_j(q . K[j] * scale) V[j] over n cached positions (K: [n, Dk], V: [n, Dv],
   rows contiguous; GQA callers point K and V at the shared kv head, no copy). softcap > 0
   squashes scores as softcap * tanh(s / softcap) (Gemma 2).
   Online softmax (Milakov & Gimelshein 2018, as in FlashAttention): keys are taken in blocks
   of up to LLM__ATT_BLOCK; each block's scores are exponentiated against the running max m,
   and when a block raises m, the sum l and the output so far are rescaled by exp(m_old -
   m_new). No [n] or [T, T] score buffer: memory is one block, and K and V are read once.
   Several queries that read the same rows (the query heads of one kv head, consecutive
   positions) go through them in one pass, sharing the loads; each gets the same bits as
   alone. The caller picks the rows the mask allows (causal, sliding window). */
#include "10_internal.h"

#define LLM__ATT_BLOCK 64
#define LLM__ATT_MAXQ 16    /* queries folded into one pass: e.g. 4 positions x a GQA group of 4 */

typedef struct llm__attn_params {
    float scale;
    float softcap;
} llm__attn_params;

/* Running state of one online softmax: the max so far and the sum of exp(score - max). */
typedef struct llm__attn_acc { float m, l; } llm__attn_acc;

/* One query of a pass: it sees the first n of the rows the pass reads (causal prefill: the
   queries of consecutive positions see one row more each). out is unnormalized until
   llm__attn_finish. */
typedef struct llm__attn_q {
    const float *q;     /* [Dk] */
    float *out;         /* [Dv] */
    int64_t n;
    llm__attn_acc acc;
} llm__attn_q;

static void llm__attn_begin(llm__attn_q *qs, int nq, int64_t Dv) {
    for (int g = 0; g < nq; g++) {
        qs[g].acc = (llm__attn_acc){ -INFINITY, 0 };
        memset(qs[g].out, 0, (size_t)Dv * sizeof(float));
    }
}

static void llm__attn_finish(llm__attn_q *qs, int nq, int64_t Dv) {
    for (int g = 0; g < nq; g++) llm__k->scale_f32(qs[g].out, 1.0f / qs[g].acc.l, Dv);
}

/* One query's block scores s[0..nb) -> softmax numerators against its running max, for the
   n <= nb rows it sees; the others become 0, so the shared weighted sum adds nothing for
   them (an FMA with 0 leaves the sum as it was: the result is the same as alone). */
static void llm__attn_probs(llm__attn_q *qq, float *s, int64_t n, int64_t nb, int64_t Dv, const llm__attn_params *p) {
    float bmax = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        float sc = s[j] * p->scale;
        if (p->softcap > 0) sc = p->softcap * tanhf(sc / p->softcap);
        s[j] = sc;
        bmax = sc > bmax ? sc : bmax;
    }
    if (n > 0 && bmax > qq->acc.m) {   /* a new maximum: rescale what was summed against the old one */
        float alpha = expf(qq->acc.m - bmax);   /* 0 on the first block (m = -inf) */
        llm__k->scale_f32(qq->out, alpha, Dv);
        qq->acc.l *= alpha;
        qq->acc.m = bmax;
    }
    if (n > 0) qq->acc.l += llm__k->exp_sum_f32(s, n, qq->acc.m);
    for (int64_t j = n; j < nb; j++) s[j] = 0;
}

/* Fold rows [0, n) of K [n, Dk] and V [n, Dv] into nq <= LLM__ATT_MAXQ queries, each limited
   to its own qs[g].n <= n rows; one load of a block of K and V serves them all.
   scratch: nq * LLM__ATT_BLOCK floats. */
static void llm__attend_rows(llm__attn_q *qs, int nq, const float *K, const float *V, int64_t n, int64_t Dk, int64_t Dv,
                             const llm__attn_params *p, float *scratch) {
    const float *qp[LLM__ATT_MAXQ];
    float *op[LLM__ATT_MAXQ];
    LLM_ASSERT(nq <= LLM__ATT_MAXQ);
    for (int g = 0; g < nq; g++) qp[g] = qs[g].q, op[g] = qs[g].out;
    for (int64_t j0 = 0; j0 < n; j0 += LLM__ATT_BLOCK) {
        int64_t nb = LLM__MIN(LLM__ATT_BLOCK, n - j0);
        llm__k->dots_f32(scratch, LLM__ATT_BLOCK, qp, nq, K + j0 * Dk, Dk, nb);
        for (int g = 0; g < nq; g++)
            llm__attn_probs(&qs[g], scratch + g * LLM__ATT_BLOCK, LLM__MAX(0, LLM__MIN(nb, qs[g].n - j0)), nb, Dv, p);
        llm__k->axpys_f32(op, nq, scratch, LLM__ATT_BLOCK, V + j0 * Dv, nb, Dv);
    }
}

/* One query over all n rows. scratch: LLM__ATT_BLOCK floats. */
LLM_PRIVATE void llm__attend(float *out, const float *q, const float *K, const float *V, int64_t n, int64_t Dk, int64_t Dv,
                             const llm__attn_params *p, float *scratch) {
    llm__attn_q one = { .q = q, .out = out, .n = n };
    llm__attn_begin(&one, 1, Dv);
    llm__attend_rows(&one, 1, K, V, n, Dk, Dv, p, scratch);
    llm__attn_finish(&one, 1, Dv);
}
