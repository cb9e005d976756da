/* ---- >>kvcache: where keys and values live, and attention over them ----
   One llm__kv per layer. Rows are [Hkv, n_slots, D]: a kv head's positions are contiguous,
   so attention streams them. Three options change where a position lives or how:
   - a ring (rotating cache, mlx-lm's RotatingKVCache; also bounded sliding-window layers):
     positions < keep stay in slots 0..keep-1, later ones cycle through the remaining
     slots. The ring has window + n_batch - 1 slots, so while a chunk of up to n_batch
     tokens is written, every position any of its queries may see is still there: each
     query attends exactly to [0, keep) and the last `window` positions up to itself.
   - quantized rows (--kv-bits): per group of `group` values an affine 8- or 4-bit code,
     x ~ scale * q + bias, with K and V widths chosen separately. Until the cache holds
     quantized_start positions rows stay f32 (mlx-lm's quantized_kv_start); the first
     chunk that crosses it converts the f32 rows and from then on everything is quantized.
   - MLA layers keep one latent row per position instead (57_mla.c), never quantized.
   Attention reads the visible positions as at most three slot ranges and runs one online
   softmax over them in blocks (dequantizing a block at a time when rows are quantized). */
#include "10_internal.h"

typedef struct llm__kv {             /* one layer's cache */
    float *k, *v;                    /* f32 rows [Hkv, n_slots, D] (MLA: k = [n_slots, A], v unused) */
    uint8_t *kq, *vq;                /* quantized rows [Hkv, n_slots, D * bits / 8] */
    float *kp, *vp;                  /* [Hkv, n_slots, 2 * D / group] scale, bias pairs */
    int64_t n_slots;                 /* rows per kv head */
    int64_t n_f32;                   /* rows of k/v (n_slots, or quantized_start when quantizing) */
    int64_t keep, window;            /* window > 0: a query sees [0, keep) and its last `window` positions */
    bool ring;                       /* positions >= keep cycle through slots keep..n_slots-1 */
} llm__kv;

typedef struct llm__kv_fmt {
    int bits_k, bits_v;              /* 0 (f32), 8 or 4 */
    int64_t group;                   /* values per scale/bias pair */
    int64_t quant_start;             /* positions held in f32 before quantizing */
    bool quantized;                  /* rows are read from kq/vq */
} llm__kv_fmt;

/* The slot of position pos. */
static inline int64_t llm__kv_slot(const llm__kv *c, int64_t pos) {
    if (!c->ring || pos < c->keep) return pos;
    return c->keep + (pos - c->keep) % (c->n_slots - c->keep);
}

/* ---- quantized rows ---- */

static size_t llm__kv_row_bytes(int bits, int64_t D) { return (size_t)(D * bits / 8); }

static void llm__kv_quantize_row(const float *x, int64_t D, int bits, int64_t group, uint8_t *q, float *sb) {
    int levels = (1 << bits) - 1;
    memset(q, 0, llm__kv_row_bytes(bits, D));
    for (int64_t g = 0; g < D / group; g++) {
        const float *xg = x + g * group;
        float lo = xg[0], hi = xg[0];
        for (int64_t i = 1; i < group; i++) { lo = xg[i] < lo ? xg[i] : lo; hi = xg[i] > hi ? xg[i] : hi; }
        float scale = (hi - lo) / (float)levels, inv = scale > 0 ? 1.0f / scale : 0.0f;
        sb[2 * g] = scale;
        sb[2 * g + 1] = lo;
        for (int64_t i = 0; i < group; i++) {
            int64_t j = g * group + i;
            int v = (int)lrintf((xg[i] - lo) * inv);
            v = v < 0 ? 0 : v > levels ? levels : v;
            if (bits == 8) q[j] = (uint8_t)v;
            else q[j / 2] |= (uint8_t)(v << (4 * (j & 1)));
        }
    }
}

static void llm__kv_dequantize_row(const uint8_t *q, const float *sb, int64_t D, int bits, int64_t group, float *x) {
    for (int64_t j = 0; j < D; j++) {
        int v = bits == 8 ? q[j] : (q[j / 2] >> (4 * (j & 1))) & 15;
        const float *p = sb + 2 * (j / group);
        x[j] = p[0] * (float)v + p[1];
    }
}

/* Store one kv head's key and value row of position pos. */
static void llm__kv_store(llm__kv *c, const llm__kv_fmt *f, int64_t kvh, int64_t pos, const float *k, const float *v, int64_t D) {
    int64_t row = kvh * c->n_slots + llm__kv_slot(c, pos);
    if (!f->quantized) {
        memcpy(c->k + (kvh * c->n_f32 + llm__kv_slot(c, pos)) * D, k, (size_t)D * sizeof(float));
        memcpy(c->v + (kvh * c->n_f32 + llm__kv_slot(c, pos)) * D, v, (size_t)D * sizeof(float));
        return;
    }
    int64_t ng = D / f->group;
    llm__kv_quantize_row(k, D, f->bits_k, f->group, c->kq + (size_t)row * llm__kv_row_bytes(f->bits_k, D), c->kp + row * 2 * ng);
    llm__kv_quantize_row(v, D, f->bits_v, f->group, c->vq + (size_t)row * llm__kv_row_bytes(f->bits_v, D), c->vp + row * 2 * ng);
}

/* The first chunk past quant_start: quantize the f32 rows held so far (n_rows slots per head). */
static void llm__kv_convert(llm__kv *c, llm__kv_fmt *f, int64_t Hkv, int64_t D, int64_t n_rows) {
    int64_t ng = D / f->group;
    for (int64_t h = 0; h < Hkv; h++)
        for (int64_t r = 0; r < n_rows; r++) {
            int64_t row = h * c->n_slots + r;
            llm__kv_quantize_row(c->k + (h * c->n_f32 + r) * D, D, f->bits_k, f->group,
                                 c->kq + (size_t)row * llm__kv_row_bytes(f->bits_k, D), c->kp + row * 2 * ng);
            llm__kv_quantize_row(c->v + (h * c->n_f32 + r) * D, D, f->bits_v, f->group,
                                 c->vq + (size_t)row * llm__kv_row_bytes(f->bits_v, D), c->vp + row * 2 * ng);
        }
}

/* ---- what a query sees ---- */

typedef struct { int64_t slot, n; } llm__kv_span;

/* The positions a query at pos sees, as slot ranges, oldest first: [lo, pos] without a
   ring; with one, the kept positions [0, keep) and the last `window` positions. */
static int llm__kv_spans(const llm__kv *c, int64_t lo, int64_t pos, llm__kv_span out[3]) {
    if (!c->window) { out[0] = (llm__kv_span){ lo, pos - lo + 1 }; return 1; }
    int n = 0;
    int64_t sinks = LLM__MIN(c->keep, pos + 1);
    if (sinks > 0) out[n++] = (llm__kv_span){ 0, sinks };
    lo = LLM__MAX(LLM__MAX(lo, c->keep), pos - c->window + 1);
    if (lo > pos) return n;
    int64_t s0 = llm__kv_slot(c, lo), s1 = llm__kv_slot(c, pos);
    if (s0 <= s1) out[n++] = (llm__kv_span){ s0, s1 - s0 + 1 };     /* always so without a ring */
    else {                                                            /* wrapped around the ring */
        out[n++] = (llm__kv_span){ s0, c->n_slots - s0 };
        out[n++] = (llm__kv_span){ c->keep, s1 - c->keep + 1 };
    }
    return n;
}

#define LLM__KV_BLOCK 64

/* Scratch floats one thread needs for llm__kv_attend(_shared): scores, and a dequantized block. */
static int64_t llm__kv_scratch(int64_t D) { return LLM__ATT_MAXQ * LLM__ATT_BLOCK + 2 * LLM__KV_BLOCK * D; }

/* out[D] = attention of query q (kv head kvh) over the visible positions: one online softmax
   across all spans, f32 rows read in place, quantized rows dequantized a block at a time. */
static void llm__kv_attend(float *out, const float *q, const llm__kv *c, const llm__kv_fmt *f, int64_t kvh, int64_t D,
                           const llm__kv_span *spans, int n_spans, const llm__attn_params *p, float *scratch) {
    float *sc = scratch, *kb = scratch + LLM__ATT_MAXQ * LLM__ATT_BLOCK, *vb = kb + LLM__KV_BLOCK * D;
    llm__attn_q one = { .q = q, .out = out };
    int64_t ng = D / (f->group ? f->group : 1);
    llm__attn_begin(&one, 1, D);
    for (int i = 0; i < n_spans; i++) {
        if (!f->quantized) {
            const float *K = c->k + (kvh * c->n_f32 + spans[i].slot) * D, *V = c->v + (kvh * c->n_f32 + spans[i].slot) * D;
            one.n = spans[i].n;
            llm__attend_rows(&one, 1, K, V, spans[i].n, D, D, p, sc);
            continue;
        }
        for (int64_t j0 = 0; j0 < spans[i].n; j0 += LLM__KV_BLOCK) {
            int64_t nb = LLM__MIN(LLM__KV_BLOCK, spans[i].n - j0), row = kvh * c->n_slots + spans[i].slot + j0;
            for (int64_t j = 0; j < nb; j++) {
                llm__kv_dequantize_row(c->kq + (size_t)(row + j) * llm__kv_row_bytes(f->bits_k, D), c->kp + (row + j) * 2 * ng, D,
                                       f->bits_k, f->group, kb + j * D);
                llm__kv_dequantize_row(c->vq + (size_t)(row + j) * llm__kv_row_bytes(f->bits_v, D), c->vp + (row + j) * 2 * ng, D,
                                       f->bits_v, f->group, vb + j * D);
            }
            one.n = nb;
            llm__attend_rows(&one, 1, kb, vb, nb, D, D, p, sc);
        }
    }
    llm__attn_finish(&one, 1, D);
}

/* Queries of kv head kvh that all see f32 slots [slot, slot + qs[g].n): one pass over the
   rows serves them all (each result is the bits llm__kv_attend gives it). */
static void llm__kv_attend_shared(llm__attn_q *qs, int nq, const llm__kv *c, int64_t kvh, int64_t D, int64_t slot,
                                  const llm__attn_params *p, float *scratch) {
    int64_t n = 0;
    for (int g = 0; g < nq; g++) n = LLM__MAX(n, qs[g].n);
    const float *K = c->k + (kvh * c->n_f32 + slot) * D, *V = c->v + (kvh * c->n_f32 + slot) * D;
    llm__attn_begin(qs, nq, D);
    llm__attend_rows(qs, nq, K, V, n, D, D, p, scratch);
    llm__attn_finish(qs, nq, D);
}
