/* ---- >>ops: norms, rotary embeddings, softmax ----
   The small per-row operations of a transformer, in plain C (they are a few percent of the
   time next to the matmuls; activations are kernels, llm__k->act_mul). Shapes: one row of n floats unless stated. Sums are taken in
   double where a row is reduced to one statistic, so long rows lose no precision. */
#include "10_internal.h"

/* RMSNorm: out = x / sqrt(mean(x^2) + eps) * (w + add_one). Gemma stores w - 1, hence add_one. */
static void llm__rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps, float add_one) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * (w ? w[i] + add_one : 1.0f);
}

/* LayerNorm: out = (x - mean) / sqrt(var + eps) * w + b (w, b may be NULL). */
static void llm__layernorm(float *out, const float *x, const float *w, const float *b, int64_t n, float eps) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++) var += ((double)x[i] - mean) * ((double)x[i] - mean);
    float scale = (float)(1.0 / sqrt(var / (double)n + eps)), m = (float)mean;
    for (int64_t i = 0; i < n; i++) out[i] = (x[i] - m) * scale * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
}

/* Softmax in place; returns nothing, the row sums to 1. */
static void llm__softmax(float *x, int64_t n) {
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) { x[i] = expf(x[i] - m); sum += x[i]; }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

/* Rotary position embedding of one head vector v[head_dim] at position pos.
   inv_freq[n_rot/2] are the per-pair frequencies; only the first n_rot dims rotate (partial
   rotary). Pairs are (i, i + n_rot/2) in Hugging Face's rotate_half layout, or (2i, 2i+1)
   when interleaved (the original Meta / llama2.c layout). mscale multiplies cos and sin
   (YaRN's attention factor; 1 otherwise). Every head of a position turns by the same
   angles: llm__rope_table computes them once, cs = [cos x n_rot/2, sin x n_rot/2], and
   llm__rope_apply rotates a head with them (llm__rope: both, for one head). */
static void llm__rope_table(float *cs, int64_t pos, const float *inv_freq, int64_t n_rot, float mscale) {
    int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        float angle = (float)pos * inv_freq[i];
        cs[i] = cosf(angle) * mscale;
        cs[half + i] = sinf(angle) * mscale;
    }
}

/* Turn the pair (v[a], v[b]) by the angle whose cos and sin are c, s. */
static inline void llm__rope_pair(float *v, int64_t a, int64_t b, float c, float s) {
    float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x1 * c + x0 * s;
}

static void llm__rope_apply(float *v, const float *cs, int64_t n_rot, bool interleaved) {
    int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++)
        llm__rope_pair(v, interleaved ? 2 * i : i, interleaved ? 2 * i + 1 : i + half, cs[i], cs[half + i]);
}

static void llm__rope(float *v, int64_t pos, const float *inv_freq, int64_t n_rot, bool interleaved, float mscale) {
    int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {   /* one pair at a time: no table buffer needed */
        float cs[2];
        llm__rope_table(cs, pos, inv_freq + i, 2, mscale);
        llm__rope_pair(v, interleaved ? 2 * i : i, interleaved ? 2 * i + 1 : i + half, cs[0], cs[1]);
    }
}
