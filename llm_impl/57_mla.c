/* ---- >>mla: multi-head latent attention (DeepSeek V2/V3, arXiv:2405.04434) ----
   Keys and values of all heads come from one compressed latent c = norm(h Wkv_a)[:rank]
   per token, plus one rope key kr shared by the heads:
       k_h = [Wuk_h c, kr],  v_h = Wuv_h c        (Wuk_h [nope, rank], Wuv_h [v, rank]: rows of kv_b)
   The cache holds only [c, kr] per token (rank + rope floats instead of 2 H D). The
   up-projections are absorbed into the query and the output instead of expanding every
   cached row:
       q_h . k_h,j = (Wuk_h^T q_nope_h) . c_j + q_rope_h . kr_j
       out_h = Wuv_h (sum_j p_j c_j)
   so attention runs in the latent space: one dot of rank + rope per cached token and head.
   Layout note: transformers rotates DeepSeek's interleaved pairs and writes them back
   de-interleaved; the dot products (all that attention sees) are the same. */
#include "10_internal.h"

/* Row r of w as f32: in place for f32 weights, else widened into tmp. */
static const float *llm__row_f32(const llm_tensor *w, int64_t r, float *tmp) {
    int64_t cols = w->shape[1];
    const uint8_t *row = (const uint8_t *)w->data + (size_t)r * llm_dtype_n_bytes(w->dtype, cols);
    if (w->dtype == LLM_DTYPE_F32) return (const float *)row;
    llm_convert(LLM_DTYPE_F32, tmp, w->dtype, row, cols);
    return tmp;
}

typedef struct { llm_session *s; int64_t il, T; } llm__mla_task;

/* Per (token, head): absorbed query [Wuk_h^T q_nope, rope(q_rope)], then attention over the
   cached latent rows; the weighted latent goes to mla_lat[h, t]. */
static void llm__mla_worker(void *ctx, int ith, int nth) {
    llm__mla_task *a = (llm__mla_task *)ctx;
    llm_session *s = a->s;
    const llm__hparams *hp = &s->m->hp;
    const llm__layer *l = &s->m->layers[a->il];
    int64_t H = hp->n_heads, nope = hp->qk_nope_dim, rope = hp->qk_rope_dim, R = hp->kv_lora_rank, A = R + rope;
    int64_t QK = nope + rope, per_head = nope + hp->v_head_dim;
    float *scores = s->scores + (int64_t)ith * s->n_ctx, *tmp = s->mm_scratch + (int64_t)ith * s->mm_stride;
    int64_t lo, hi;
    llm__split(a->T * H, ith, nth, &lo, &hi);
    for (int64_t idx = lo; idx < hi; idx++) {
        int64_t t = idx / H, h = idx % H, pos = s->row_pos[t];
        const float *q = s->q + (t * H + h) * QK;
        float *qa = s->mla_q + (t * H + h) * A, *lat = s->mla_lat + (h * a->T + t) * R;
        memset(qa, 0, (size_t)R * sizeof(float));
        for (int64_t i = 0; i < nope; i++) llm__k->axpy_f32(qa, q[i], llm__row_f32(l->wkv_b, h * per_head + i, tmp), R);
        memcpy(qa + R, q + nope, (size_t)rope * sizeof(float));
        llm__rope(qa + R, pos, s->freq, rope, hp->rope_interleaved, s->mscale);
        const float *cache = s->row_seq[t]->kv[a->il].k;
        for (int64_t j = 0; j <= pos; j++) scores[j] = llm__k->dot_f32(qa, cache + j * A, A) * hp->attn_scale;
        llm__softmax(scores, pos + 1);
        memset(lat, 0, (size_t)R * sizeof(float));
        for (int64_t j = 0; j <= pos; j++) llm__k->axpy_f32(lat, scores[j], cache + j * A, R);
    }
}

/* Queries [T, H*(nope+rope)]: h Wq, or through the low-rank q_a -> norm -> q_b. */
static void llm__mla_queries(llm_session *s, const llm__layer *l, const float *h, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    if (!l->wq_a) { llm__linear(s, s->q, h, T, l->wq, NULL); return; }
    llm__linear(s, s->mla_qa, h, T, l->wq_a, NULL);
    llm__norm_n(hp, s->mla_qa, s->mla_qa, T, hp->q_lora_rank, l->q_a_norm, NULL);
    llm__linear(s, s->q, s->mla_qa, T, l->wq_b, NULL);
}

/* out[T, C] = MLA(h) Wo. */
static void llm__mla_block(llm_session *s, int64_t il, const float *h, float *out, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    const llm__layer *l = &s->m->layers[il];
    int64_t H = hp->n_heads, nope = hp->qk_nope_dim, rope = hp->qk_rope_dim, R = hp->kv_lora_rank, A = R + rope, Dv = hp->v_head_dim;
    llm__mla_queries(s, l, h, T);
    llm__linear(s, s->k, h, T, l->wkv_a, NULL);            /* [T, rank + rope]: latent and rope key */
    for (int64_t t = 0; t < T; t++) {
        float *row = s->row_seq[t]->kv[il].k + s->row_pos[t] * A;
        llm__norm_n(hp, row, s->k + t * A, 1, R, l->kv_a_norm, NULL);
        memcpy(row + R, s->k + t * A + R, (size_t)rope * sizeof(float));
        llm__rope(row + R, s->row_pos[t], s->freq, rope, hp->rope_interleaved, s->mscale);
    }
    llm__mla_task task = { s, il, T };
    llm__parallel_for(s->pool, llm__mla_worker, &task);
    for (int64_t hh = 0; hh < H; hh++) {                    /* att[:, h] = lat[h] Wuv_h^T: a view of kv_b's rows */
        llm_tensor wuv = *l->wkv_b;
        size_t row_bytes = llm_dtype_n_bytes(wuv.dtype, R);
        wuv.shape[0] = Dv;
        wuv.data = (uint8_t *)l->wkv_b->data + (size_t)(hh * (nope + Dv) + nope) * row_bytes;
        llm__matmul(s->pool, s->mm_scratch, s->att + hh * Dv, H * Dv, s->mla_lat + hh * T * R, T, &wuv);
    }
    llm__linear(s, out, s->att, T, l->wo, l->bo);
}
