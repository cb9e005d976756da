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

/* ---- kv_b in the forms files store it ----
   The code above reads Wuk_h and Wuv_h as rows of a float kv_b_proj [H (nope + Dv), rank].
   MLX files may hold it quantized instead, or split per head as mlx_lm's DeepseekV3 does:
   embed_q [H, rank, nope] (Wuk_h transposed) and unembed_out [H, Dv, rank] (Wuv_h), each
   float or quantized. These become one f32 kv_b owned by the model, the dequantized values
   exactly (mlx_lm re-quantizes the split of a quantized kv_b_proj; we keep the file's
   values), at 4 bytes per weight (DeepSeek-V3: 64 MiB per layer, 1/6 of its MoE layer at 4 bits). */

/* Head h of the stack "<prefix><part>.weight" [H, rows, cols]: a view, float or quantized. */
static llm_status llm__mla_head(llm_model *m, const char *prefix, const char *part, int64_t h, int64_t rows, int64_t cols,
                                const llm_tensor **out) {
    char name[512];
    snprintf(name, sizeof name, "%s%s.weight", prefix, part);
    const llm_tensor *t = llm__model_tensor(m, name);
    if (!t) return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%skv_b_proj.weight' is missing (and so is its split form '%s')", m->path, prefix, name);
    int64_t H = m->hp.n_heads;
    if (t->dtype == LLM_DTYPE_U32 && t->n_dims == 3 && t->shape[0] == H) return llm__bind_mlx_expert(m, name, t, h, rows, cols, out);
    if (t->n_dims != 3 || t->shape[0] != H || t->shape[1] != rows || t->shape[2] != cols || !llm__float_dtype(t->dtype))
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' should be a float or MLX-quantized [%lld, %lld, %lld]", m->path, name,
                         (long long)H, (long long)rows, (long long)cols);
    *out = llm__model_view(m, t, h, 0, rows);
    return *out ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
}

/* kv_b of layer il as f32 rows [H (nope + Dv), rank]: from a quantized kv_b_proj or from embed_q and unembed_out. */
static llm_status llm__mla_kv_b(llm_model *m, int64_t il) {
    const llm__hparams *hp = &m->hp;
    llm__layer *l = &m->layers[il];
    int64_t H = hp->n_heads, nope = hp->qk_nope_dim, Dv = hp->v_head_dim, R = hp->kv_lora_rank, per = nope + Dv;
    if (l->wkv_b && l->wkv_b->dtype != LLM_DTYPE_MLX_AFFINE) return LLM_OK;
    float *kv = (float *)llm__model_own(m, (size_t)(H * per * R + nope) * sizeof(float)), *tmp = kv + H * per * R;
    llm_tensor *t = (llm_tensor *)llm__model_own(m, sizeof *t);
    if (!kv || !t) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "model.layers.%lld.self_attn.", (long long)il);
    for (int64_t r = 0; l->wkv_b && r < H * per; r++) llm__mat_row_f32(l->wkv_b, r, kv + r * R);
    for (int64_t h = 0; !l->wkv_b && h < H; h++) {
        const llm_tensor *e, *u;
        llm_status s = llm__mla_head(m, prefix, "embed_q", h, R, nope, &e);
        if (!s) s = llm__mla_head(m, prefix, "unembed_out", h, Dv, R, &u);
        if (s) return s;
        for (int64_t r = 0; r < R; r++) {              /* embed_q row r holds column r of Wuk_h */
            llm__mat_row_f32(e, r, tmp);
            for (int64_t i = 0; i < nope; i++) kv[(h * per + i) * R + r] = tmp[i];
        }
        for (int64_t j = 0; j < Dv; j++) llm__mat_row_f32(u, j, kv + (h * per + nope + j) * R);
    }
    *t = (llm_tensor){ .name = "kv_b_proj", .dtype = LLM_DTYPE_F32, .n_dims = 2, .shape = { H * per, R }, .data = kv,
                       .n_bytes = (size_t)(H * per * R) * sizeof(float) };
    l->wkv_b = t;
    return LLM_OK;
}

/* After binding: every MLA layer's kv_b in the form the attention reads. */
LLM_PRIVATE llm_status llm__mla_bind(llm_model *m) {
    llm_status s = LLM_OK;
    for (int64_t il = 0; il < m->hp.n_layers && !s && m->hp.kv_lora_rank; il++) s = llm__mla_kv_b(m, il);
    return s;
}
