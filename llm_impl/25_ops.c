/* ---- >>ops: norms, activations, rotary embeddings, softmax ----
   The small per-row operations of a transformer, in plain C (they are a few percent of the
   time next to the matmuls). Shapes: one row of n floats unless stated. Sums are taken in
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

typedef enum { LLM__ACT_SILU, LLM__ACT_GELU, LLM__ACT_GELU_TANH, LLM__ACT_RELU } llm__act;

static inline float llm__activate(llm__act act, float x) {
    switch (act) {
    case LLM__ACT_SILU:      return x / (1.0f + expf(-x));
    case LLM__ACT_GELU:      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case LLM__ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case LLM__ACT_RELU:      return x > 0 ? x : 0;
    }
    return x;
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
   (YaRN's attention factor; 1 otherwise). */
static void llm__rope(float *v, int64_t pos, const float *inv_freq, int64_t n_rot, bool interleaved, float mscale) {
    int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        float angle = (float)pos * inv_freq[i];
        float c = cosf(angle) * mscale, s = sinf(angle) * mscale;
        int64_t a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
        float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x1 * c + x0 * s;
    }
}

/* ---- attention for one query row ----
   out[Dv] = softmax_j(q . K[j] * scale) V[j] over n cached positions (K: [n, Dk], V: [n, Dv],
   rows contiguous). softcap > 0 squashes scores as softcap * tanh(s / softcap) (Gemma 2).
   scratch: n floats. The caller picks the rows the mask allows (causal, sliding window). */
typedef struct llm__attn_params {
    float scale;
    float softcap;
} llm__attn_params;

static void llm__attend(float *out, const float *q, const float *K, const float *V, int64_t n, int64_t Dk, int64_t Dv,
                        const llm__attn_params *p, float *scratch) {
    for (int64_t j = 0; j < n; j++) {
        float sc = llm__k->dot_f32(q, K + j * Dk, Dk) * p->scale;
        scratch[j] = p->softcap > 0 ? p->softcap * tanhf(sc / p->softcap) : sc;
    }
    llm__softmax(scratch, n);
    memset(out, 0, (size_t)Dv * sizeof(float));
    for (int64_t j = 0; j < n; j++) llm__k->axpy_f32(out, scratch[j], V + j * Dv, Dv);
}
