/* ---- >>transformer: a layer and a whole chunk, from the blocks of 55-57 ----
   Sequential block (most families; Gemma 2/3 and OLMo 2 also norm each block's output):
       x = x + post_norm(attn(norm(x))) * residual_scale
       x = x + post_norm(ffn(norm(x))) * residual_scale
   Parallel block (GPT-J style: Phi and Cohere share one norm, GPT-NeoX has two):
       x = x + attn(norm1(x)) + ffn(norm2(x)) */
#include "10_internal.h"

static void llm__attn_any(llm_session *s, int64_t il, const float *h, float *out, int64_t T) {
    if (s->m->hp.kv_lora_rank) llm__mla_block(s, il, h, out, T);
    else llm__attention_block(s, il, h, out, T);
}

static void llm__ffn_any(llm_session *s, int64_t il, const float *h, float *out, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    const llm__layer *l = &s->m->layers[il];
    if (hp->n_experts && hp->layer_moe[il]) llm__moe_block(s, l, h, out, T);
    else llm__mlp(s, out, h, T, &l->ffn, l->b_up, l->b_down);
}

/* x += scale * (post_norm ? post_norm(y) : y) over T rows. */
static void llm__residual(llm_session *s, float *y, int64_t T, const float *post_norm) {
    const llm__hparams *hp = &s->m->hp;
    if (post_norm) llm__norm_rows(s, y, y, T, post_norm, NULL);
    for (int64_t i = 0; i < T * hp->n_embd; i++) s->x[i] += hp->residual_scale * y[i];
}

static void llm__layer_forward(llm_session *s, int64_t il, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    const llm__layer *l = &s->m->layers[il];
    llm__norm_rows(s, s->h, s->x, T, l->attn_norm, l->attn_norm_b);
    llm__attn_any(s, il, s->h, s->attn_out, T);
    if (hp->parallel_block) {
        const float *hf = s->h;
        if (l->ffn_norm) { llm__norm_rows(s, s->h2, s->x, T, l->ffn_norm, l->ffn_norm_b); hf = s->h2; }
        llm__ffn_any(s, il, hf, s->ffn_out, T);
        for (int64_t i = 0; i < T * hp->n_embd; i++) s->x[i] += s->attn_out[i] + s->ffn_out[i];
        return;
    }
    llm__residual(s, s->attn_out, T, l->post_attn_norm);
    llm__norm_rows(s, s->h, s->x, T, l->ffn_norm, l->ffn_norm_b);
    llm__ffn_any(s, il, s->h, s->ffn_out, T);
    llm__residual(s, s->ffn_out, T, l->post_ffn_norm);
}

/* logits[n, V] = norm(x) Wout (+ bias), scaled (Cohere, Granite) and soft-capped (Gemma 2). */
static void llm__logits(llm_session *s, const float *x, int64_t n, float *logits) {
    const llm_model *m = s->m;
    const llm__hparams *hp = &m->hp;
    llm__norm_rows(s, s->h, x, n, m->out_norm, m->out_norm_b);
    llm__linear(s, logits, s->h, n, m->output, m->output_b);
    if (hp->logit_scale == 1.0f && hp->final_softcap <= 0) return;
    for (int64_t i = 0; i < n * hp->n_vocab; i++) {
        float z = logits[i] * hp->logit_scale;
        logits[i] = hp->final_softcap > 0 ? hp->final_softcap * tanhf(z / hp->final_softcap) : z;
    }
}

/* One chunk (T <= n_batch) through the whole network, at the positions and caches that
   s->row_pos / s->row_seq name. logits_all: [T, V] or NULL (then only the last row's logits
   are computed, into s->logits). */
static void llm__forward_chunk(llm_session *s, const llm_token *tokens, int64_t T, float *logits_all) {
    const llm_model *m = s->m;
    int64_t C = m->hp.n_embd, V = m->hp.n_vocab;
    llm__embed(s, tokens, T);
    for (int64_t il = 0; il < m->hp.n_layers; il++) llm__layer_forward(s, il, T);
    int64_t first = logits_all ? 0 : T - 1;
    llm__logits(s, s->x + first * C, T - first, logits_all ? logits_all : s->logits);
    if (logits_all) memcpy(s->logits, logits_all + (T - 1) * V, (size_t)V * sizeof(float));
}
