/* ---- >>attention: one query row against the KV cache, in one streaming pass ----
   out[Dv] = softmax_j(q . K[j] * scale) V[j] over n cached positions (K: [n, Dk], V: [n, Dv],
   rows contiguous; GQA callers point K and V at the shared kv head, no copy). softcap > 0
   squashes scores as softcap * tanh(s / softcap) (Gemma 2).
   Online softmax (Milakov & Gimelshein 2018, as in FlashAttention): keys are taken in blocks
   of up to LLM__ATT_BLOCK; each block's scores are exponentiated against the running max m,
   and when a block raises m, the sum l and the output so far are rescaled by exp(m_old -
   m_new). No [n] or [T, T] score buffer: memory is one block, and K and V are read once.
   scratch: at least min(n, LLM__ATT_BLOCK) floats (the block's scores). The caller picks the
   rows the mask allows (causal, sliding window). The result does not depend on threads. */
#include "10_internal.h"

#define LLM__ATT_BLOCK 64

typedef struct llm__attn_params {
    float scale;
    float softcap;
} llm__attn_params;

/* Running state of one online softmax: the max so far and the sum of exp(score - max). */
typedef struct llm__attn_acc { float m, l; } llm__attn_acc;

/* Fold n more rows into out[Dv] (unnormalized) and acc. */
static void llm__attend_rows(llm__attn_acc *acc, float *out, const float *q, const float *K, const float *V, int64_t n,
                             int64_t Dk, int64_t Dv, const llm__attn_params *p, float *scratch) {
    const llm__kernels *k = llm__k;
    for (int64_t j0 = 0; j0 < n; j0 += LLM__ATT_BLOCK) {
        int64_t nb = LLM__MIN(LLM__ATT_BLOCK, n - j0);
        float bmax = -INFINITY;
        for (int64_t j = 0; j < nb; j++) {
            float sc = k->dot_f32(q, K + (j0 + j) * Dk, Dk) * p->scale;
            if (p->softcap > 0) sc = p->softcap * tanhf(sc / p->softcap);
            scratch[j] = sc;
            bmax = sc > bmax ? sc : bmax;
        }
        if (bmax > acc->m) {   /* a new maximum: rescale what was summed against the old one */
            float alpha = expf(acc->m - bmax);   /* 0 on the first block (m = -inf) */
            k->scale_f32(out, alpha, Dv);
            acc->l *= alpha;
            acc->m = bmax;
        }
        acc->l += k->exp_sum_f32(scratch, nb, acc->m);
        for (int64_t j = 0; j < nb; j++) k->axpy_f32(out, scratch[j], V + (j0 + j) * Dv, Dv);
    }
}

static void llm__attend(float *out, const float *q, const float *K, const float *V, int64_t n, int64_t Dk, int64_t Dv,
                        const llm__attn_params *p, float *scratch) {
    llm__attn_acc acc = { -INFINITY, 0 };
    memset(out, 0, (size_t)Dv * sizeof(float));
    llm__attend_rows(&acc, out, q, K, V, n, Dk, Dv, p, scratch);
    llm__k->scale_f32(out, 1.0f / acc.l, Dv);
}
