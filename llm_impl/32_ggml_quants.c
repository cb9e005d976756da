/* ---- >>quants: llama.cpp's block-quantized formats, scalar reference code ----
   Block layouts as in ggml (ggml-common.h), dequantization for every format we know and
   quantization for all of them, bit-identical to ggml's quantize_row_*_ref and to gguf-py's
   numpy port (gguf/quants.py), which the tests compare against. Not here: SIMD dot
   products (the kernels); importance-matrix (imatrix) weighted quantization.

   Exactness: every product and sum is its own statement, so no compiler fuses them into
   an FMA (clang contracts only within one expression; GCC not at all in ISO C mode, as
   our Makefile builds; with GCC -std=gnu* and FMA enabled add -ffp-contract=off).
   f16 fields are read and written with the round-to-nearest-even converters of 20_tensor.c.
   Blocks must be 2-byte aligned (4 for q8_K), as they are in GGUF files. */
#include "10_internal.h"
#include "07_api_gguf.h"

#define LLM__QK   32    /* elements per block of q4_0 .. q8_0 */
#define LLM__QK_K 256   /* elements per k-quant super-block */

/* Element j of a 32-block sits in nibble j / 16 of qs[j % 16]: low nibbles hold
   elements 0..15, high nibbles 16..31. The q5 formats keep bit 4 of element j in bit j
   of the little-endian u32 qh. */
typedef struct { uint16_t d; uint8_t qs[16]; } llm__block_q4_0;                    /* x = d * (q - 8) */
typedef struct { uint16_t d, m; uint8_t qs[16]; } llm__block_q4_1;                 /* x = d * q + m */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } llm__block_q5_0;     /* x = d * (q - 16) */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } llm__block_q5_1;  /* x = d * q + m */
typedef struct { uint16_t d; int8_t qs[32]; } llm__block_q8_0;                     /* x = d * q */

/* K-quants: a super-block of 256 elements in sub-blocks of 16 or 32, each with its own
   small integer scale (and min) multiplied by the f16 super-block d (and dmin). */
typedef struct {                 /* 16 x 16: x = d * (sc & 15) * q - dmin * (sc >> 4), q 2-bit */
    uint8_t scales[16], qs[64];
    uint16_t d, dmin;
} llm__block_q2_K;
typedef struct {                 /* 16 x 16: x = d * (sc - 32) * (q - (hmask bit ? 0 : 4)), sc 6-bit */
    uint8_t hmask[32], qs[64], scales[12];
    uint16_t d;
} llm__block_q3_K;
typedef struct {                 /* 8 x 32: x = d * sc * q - dmin * m, sc and m 6-bit, q 4-bit */
    uint16_t d, dmin;
    uint8_t scales[12], qs[128];
} llm__block_q4_K;
typedef struct {                 /* as q4_K with a fifth bit per element in qh */
    uint16_t d, dmin;
    uint8_t scales[12], qh[32], qs[128];
} llm__block_q5_K;
typedef struct {                 /* 16 x 16: x = d * sc * (q - 32), sc int8, q 6-bit */
    uint8_t ql[128], qh[64];
    int8_t scales[16];
    uint16_t d;
} llm__block_q6_K;
typedef struct {                 /* x = d * q; bsums (sums of 16 q) speed up dot products */
    float d;
    int8_t qs[256];
    int16_t bsums[16];
} llm__block_q8_K;

_Static_assert(sizeof(llm__block_q4_0) == 18 && sizeof(llm__block_q4_1) == 20 && sizeof(llm__block_q5_0) == 22 &&
               sizeof(llm__block_q5_1) == 24 && sizeof(llm__block_q8_0) == 34, "ggml block sizes");
_Static_assert(sizeof(llm__block_q2_K) == 84 && sizeof(llm__block_q3_K) == 110 && sizeof(llm__block_q4_K) == 144 &&
               sizeof(llm__block_q5_K) == 176 && sizeof(llm__block_q6_K) == 210 && sizeof(llm__block_q8_K) == 292,
               "ggml k-quant block sizes");

/* ---- dequantization: nb blocks from vx into y ---- */

static void llm__dequant_q4_0(const void *vx, float *y, int64_t nb) {
    const llm__block_q4_0 *x = (const llm__block_q4_0 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = llm__f16_to_f32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)((x[i].qs[j] & 15) - 8);
            y[j + 16] = d * (float)((x[i].qs[j] >> 4) - 8);
        }
    }
}

static void llm__dequant_q4_1(const void *vx, float *y, int64_t nb) {
    const llm__block_q4_1 *x = (const llm__block_q4_1 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = llm__f16_to_f32(x[i].d), m = llm__f16_to_f32(x[i].m);
        for (int j = 0; j < 32; j++) {
            float v = d * (float)((x[i].qs[j % 16] >> (4 * (j / 16))) & 15);
            y[j] = v + m;
        }
    }
}

/* The 5-bit value of element j of a q5 block. */
static inline int llm__q5(const uint8_t qs[16], const uint8_t qh[4], int j) {
    int lo = (qs[j % 16] >> (4 * (j / 16))) & 15;
    return lo | (((qh[j / 8] >> (j % 8)) & 1) << 4);
}

static void llm__dequant_q5_0(const void *vx, float *y, int64_t nb) {
    const llm__block_q5_0 *x = (const llm__block_q5_0 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = llm__f16_to_f32(x[i].d);
        for (int j = 0; j < 32; j++) y[j] = d * (float)(llm__q5(x[i].qs, x[i].qh, j) - 16);
    }
}

static void llm__dequant_q5_1(const void *vx, float *y, int64_t nb) {
    const llm__block_q5_1 *x = (const llm__block_q5_1 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = llm__f16_to_f32(x[i].d), m = llm__f16_to_f32(x[i].m);
        for (int j = 0; j < 32; j++) {
            float v = d * (float)llm__q5(x[i].qs, x[i].qh, j);
            y[j] = v + m;
        }
    }
}

static void llm__dequant_q8_0(const void *vx, float *y, int64_t nb) {
    const llm__block_q8_0 *x = (const llm__block_q8_0 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = llm__f16_to_f32(x[i].d);
        for (int j = 0; j < 32; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

/* In q2_K, q3_K and q6_K the 256 elements are two halves of 128; within a half, element
   k takes its low bits from byte k % 32 (of that half's 32 bytes) at shift 2 * (k / 32). */
static void llm__dequant_q2_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q2_K *x = (const llm__block_q2_K *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK_K) {
        float d = llm__f16_to_f32(x[i].d), dmin = llm__f16_to_f32(x[i].dmin);
        for (int j = 0; j < LLM__QK_K; j++) {
            int half = j / 128, k = j % 128, sc = x[i].scales[j / 16];
            int q = (x[i].qs[half * 32 + k % 32] >> (2 * (k / 32))) & 3;
            float dl = d * (float)(sc & 15), ml = dmin * (float)(sc >> 4);
            float v = dl * (float)q;
            y[j] = v - ml;
        }
    }
}

/* q3_K's sixteen 6-bit scales: low 4 bits of scale s in nibble s / 8 of scales[s % 8],
   high 2 bits at shift 2 * (s / 4) of scales[8 + s % 4]; stored plus 32. */
static inline int llm__q3_K_scale(const uint8_t sc[12], int s) {
    int lo = (sc[s % 8] >> (4 * (s / 8))) & 15, hi = (sc[8 + s % 4] >> (2 * (s / 4))) & 3;
    return (lo | hi << 4) - 32;
}

static void llm__dequant_q3_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q3_K *x = (const llm__block_q3_K *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK_K) {
        float d = llm__f16_to_f32(x[i].d);
        for (int j = 0; j < LLM__QK_K; j++) {
            int half = j / 128, k = j % 128;
            int lo = (x[i].qs[half * 32 + k % 32] >> (2 * (k / 32))) & 3;
            int high_set = (x[i].hmask[j % 32] >> (j / 32)) & 1;   /* set means no offset */
            float dl = d * (float)llm__q3_K_scale(x[i].scales, j / 16);
            y[j] = dl * (float)(lo - (high_set ? 0 : 4));
        }
    }
}

/* q4_K and q5_K: sub-block s (32 elements) uses nibble s % 2 of qs[32 * (s / 2) ..], and
   q5_K adds bit s of qh[j % 32] as bit 4. qh NULL means q4_K. */
static void llm__dequant_k4(const uint16_t *dd, const uint8_t *scales, const uint8_t *qh, const uint8_t *qs, float *y) {
    float d = llm__f16_to_f32(dd[0]), dmin = llm__f16_to_f32(dd[1]);
    uint8_t sc[8], m[8];
    llm__k4_scales(scales, sc, m);              /* 23_kernels_ggml.c */
    for (int s = 0; s < 8; s++) {
        float d1 = d * (float)sc[s], m1 = dmin * (float)m[s];
        for (int l = 0; l < 32; l++) {
            int q = (qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 15;
            if (qh) q |= ((qh[l] >> s) & 1) << 4;
            float v = d1 * (float)q;
            y[32 * s + l] = v - m1;
        }
    }
}

static void llm__dequant_q4_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q4_K *x = (const llm__block_q4_K *)vx;
    for (int64_t i = 0; i < nb; i++) llm__dequant_k4(&x[i].d, x[i].scales, NULL, x[i].qs, y + i * LLM__QK_K);
}

static void llm__dequant_q5_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q5_K *x = (const llm__block_q5_K *)vx;
    for (int64_t i = 0; i < nb; i++) llm__dequant_k4(&x[i].d, x[i].scales, x[i].qh, x[i].qs, y + i * LLM__QK_K);
}

/* q6_K: within a half of 128, element k has its low 4 bits in nibble k / 64 of
   ql[64 * half + k % 64] and its high 2 bits at shift 2 * (k / 32) of qh[32 * half + k % 32]. */
static void llm__dequant_q6_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q6_K *x = (const llm__block_q6_K *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK_K) {
        float d = llm__f16_to_f32(x[i].d);
        for (int j = 0; j < LLM__QK_K; j++) {
            int half = j / 128, k = j % 128;
            int lo = (x[i].ql[64 * half + k % 64] >> (4 * (k / 64))) & 15;
            int hi = (x[i].qh[32 * half + k % 32] >> (2 * (k / 32))) & 3;
            float ds = d * (float)x[i].scales[j / 16];
            y[j] = ds * (float)((lo | hi << 4) - 32);
        }
    }
}

static void llm__dequant_q8_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q8_K *x = (const llm__block_q8_K *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK_K)
        for (int j = 0; j < LLM__QK_K; j++) y[j] = x[i].d * (float)x[i].qs[j];
}

/* ---- quantization: nb blocks of x into vy ----
   The rounding follows the references exactly: q8_0 rounds half away from zero; the
   4- and 5-bit formats truncate x * id + offset and clamp; the scale d is computed in
   f32 and only then stored as f16 (so id = 1 / d uses the unrounded d). */

/* The element of largest magnitude, with its sign (the first one on ties). */
static float llm__signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
    return max;
}

static void llm__min_max(const float *x, int n, float *out_min, float *out_max) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < n; j++) { lo = x[j] < lo ? x[j] : lo; hi = x[j] > hi ? x[j] : hi; }
    *out_min = lo;
    *out_max = hi;
}

/* trunc(x * id + offset) clamped to [0, hi] (NaN gives 0). */
static inline int llm__q_trunc(float x, float id, float offset, int hi) {
    float v = x * id;
    v = v + offset;
    return v >= 0.0f ? (v < (float)hi ? (int)v : hi) : 0;
}

static void llm__quant_q8_0(const float *x, void *vy, int64_t nb) {
    llm__block_q8_0 *y = (llm__block_q8_0 *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = LLM__MAX(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = llm__f32_to_f16(d);
        for (int j = 0; j < 32; j++) {
            float v = x[j] * id;   /* |v| <= 127 unless x holds inf or NaN */
            y[i].qs[j] = (int8_t)(v == v ? roundf(LLM__MAX(-127.0f, LLM__MIN(127.0f, v))) : 0.0f);
        }
    }
}

static void llm__quant_q4_0(const float *x, void *vy, int64_t nb) {
    llm__block_q4_0 *y = (llm__block_q4_0 *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK) {
        float d = llm__signed_absmax(x, 32) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = llm__f32_to_f16(d);
        for (int j = 0; j < 16; j++)
            y[i].qs[j] = (uint8_t)(llm__q_trunc(x[j], id, 8.5f, 15) | llm__q_trunc(x[j + 16], id, 8.5f, 15) << 4);
    }
}

static void llm__quant_q4_1(const float *x, void *vy, int64_t nb) {
    llm__block_q4_1 *y = (llm__block_q4_1 *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK) {
        float min, max;
        llm__min_max(x, 32, &min, &max);
        float d = (max - min) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = llm__f32_to_f16(d);
        y[i].m = llm__f32_to_f16(min);
        for (int j = 0; j < 16; j++)
            y[i].qs[j] = (uint8_t)(llm__q_trunc(x[j] - min, id, 0.5f, 15) | llm__q_trunc(x[j + 16] - min, id, 0.5f, 15) << 4);
    }
}

/* Pack 32 5-bit values: low nibbles as in q4, bit 4 of q[j] into bit j of qh. */
static void llm__pack_q5(const int q[32], uint8_t qs[16], uint8_t qh[4]) {
    memset(qh, 0, 4);
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
    for (int j = 0; j < 32; j++) qh[j / 8] |= (uint8_t)((q[j] >> 4) << (j % 8));
}

static void llm__quant_q5_0(const float *x, void *vy, int64_t nb) {
    llm__block_q5_0 *y = (llm__block_q5_0 *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK) {
        float d = llm__signed_absmax(x, 32) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int q[32];
        for (int j = 0; j < 32; j++) q[j] = llm__q_trunc(x[j], id, 16.5f, 31);
        y[i].d = llm__f32_to_f16(d);
        llm__pack_q5(q, y[i].qs, y[i].qh);
    }
}

static void llm__quant_q5_1(const float *x, void *vy, int64_t nb) {
    llm__block_q5_1 *y = (llm__block_q5_1 *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK) {
        float min, max;
        llm__min_max(x, 32, &min, &max);
        float d = (max - min) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int q[32];
        for (int j = 0; j < 32; j++) q[j] = llm__q_trunc(x[j] - min, id, 0.5f, 31);
        y[i].d = llm__f32_to_f16(d);
        y[i].m = llm__f32_to_f16(min);
        llm__pack_q5(q, y[i].qs, y[i].qh);
    }
}

/* ---- k-quant quantization ----
   ggml's reference search (quantize_row_q*_K_ref in ggml-quants.c): fit each sub-block's
   scale (and min) over a few candidate grids, quantize those scales to 4, 6 or 8 bits
   against one f16 scale per super-block, then round every element again against its
   final scale. The float operations are the reference's, in its order, so the bytes are
   identical to it (built without FMA contraction). Sub-blocks whose final scale is 0 keep
   the codes of the fit, as in the reference. */

/* Round half to even, as ggml's nearest_int (which is only used for |x| < 2^22). */
static inline int llm__nearest_int(float x) {
    if (!(fabsf(x) <= 4194303.0f)) return x > 0 ? 4194303 : -4194303;
    return (int)rintf(x);
}

static inline int llm__clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The affine fit x ~ scale * L + min of q2_K, q4_K and q5_K (ggml's make_qkx2_quants):
   n elements, codes 0..nmax, nstep + 1 stretched grids of nmax + rmin + 0.1 k levels,
   weighted squared (or, with mad, absolute) error. */
typedef struct { int n, nmax, nstep; float rmin; bool mad; } llm__kfit;
static const llm__kfit llm__kfit_q2 = { 16, 3, 15, -0.5f, true };
static const llm__kfit llm__kfit_q4 = { 32, 15, 20, -1.0f, false };
static const llm__kfit llm__kfit_q5 = { 32, 31, 15, -0.5f, false };

static float llm__kfit_error(const llm__kfit *f, const float *x, const float *w, const uint8_t *L, float scale, float min) {
    float err = 0;
    for (int i = 0; i < f->n; i++) {
        float diff = scale * (float)L[i];
        diff = diff + min;
        diff = diff - x[i];
        diff = f->mad ? fabsf(diff) : diff * diff;
        float wd = w[i] * diff;
        err += wd;
    }
    return err;
}

/* Codes of x - min on a grid of iscale, with their weighted least-squares sums. */
static void llm__kfit_grid(const llm__kfit *f, const float *x, const float *w, float min, float iscale, uint8_t *L,
                           float *sum_l, float *sum_l2, float *sum_xl) {
    *sum_l = *sum_l2 = *sum_xl = 0;
    for (int i = 0; i < f->n; i++) {
        int l = llm__clamp_int(llm__nearest_int(iscale * (x[i] - min)), 0, f->nmax);
        L[i] = (uint8_t)l;
        float wl = w[i] * (float)l, wll = wl * (float)l, wlx = wl * x[i];
        *sum_l += wl;
        *sum_l2 += wll;
        *sum_xl += wlx;
    }
}

/* Fit L[0..n) in [0, nmax] and min <= 0: the full-range grid first, then the stretched
   grids with their least-squares scale and min. Returns scale; *out_min = -min. */
static float llm__kfit_run(const llm__kfit *f, const float *x, const float *w, uint8_t *L, float *out_min) {
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < f->n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        float wx = w[i] * x[i];
        sum_x += wx;
    }
    if (min > 0) min = 0;
    if (max == min) { memset(L, 0, (size_t)f->n); *out_min = -min; return 0.0f; }
    float iscale = (float)f->nmax / (max - min), scale = 1 / iscale;
    for (int i = 0; i < f->n; i++) L[i] = (uint8_t)llm__clamp_int(llm__nearest_int(iscale * (x[i] - min)), 0, f->nmax);
    float best = llm__kfit_error(f, x, w, L, scale, min);
    for (int k = 0; k <= f->nstep; k++) {
        float levels = 0.1f * (float)k;
        levels = f->rmin + levels;
        levels = levels + (float)f->nmax;
        uint8_t Lk[32];
        float sum_l, sum_l2, sum_xl;
        llm__kfit_grid(f, x, w, min, levels / (max - min), Lk, &sum_l, &sum_l2, &sum_xl);
        float a = sum_w * sum_l2, b = sum_l * sum_l, D = a - b;
        if (!(D > 0)) continue;
        a = sum_w * sum_xl; b = sum_x * sum_l;
        float this_scale = (a - b) / D;
        a = sum_l2 * sum_x; b = sum_l * sum_xl;
        float this_min = (a - b) / D;
        if (this_min > 0) { this_min = 0; this_scale = sum_xl / sum_l2; }
        float err = llm__kfit_error(f, x, w, Lk, this_scale, this_min);
        if (err < best) { memcpy(L, Lk, (size_t)f->n); best = err; scale = this_scale; min = this_min; }
    }
    *out_min = -min;
    return scale;
}

/* q2_K: 16 sub-blocks of 16, 2-bit codes, 4-bit scale and min per sub-block. */
static void llm__quant_q2_K(const float *x, void *vy, int64_t nb) {
    llm__block_q2_K *y = (llm__block_q2_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        uint8_t L[LLM__QK_K];
        float scales[16], mins[16], max_scale = 0, max_min = 0, w[16];
        for (int s = 0; s < 16; s++) {
            for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * s + l]);
            scales[s] = llm__kfit_run(&llm__kfit_q2, x + 16 * s, w, L + 16 * s, &mins[s]);
            if (scales[s] > max_scale) max_scale = scales[s];
            if (mins[s] > max_min) max_min = mins[s];
        }
        memset(y[i].scales, 0, 16);
        float inv = max_scale > 0 ? 15.0f / max_scale : 0.0f, inv_min = max_min > 0 ? 15.0f / max_min : 0.0f;
        for (int s = 0; s < 16 && max_scale > 0; s++) y[i].scales[s] = (uint8_t)llm__nearest_int(inv * scales[s]);
        for (int s = 0; s < 16 && max_min > 0; s++) y[i].scales[s] |= (uint8_t)((unsigned)llm__nearest_int(inv_min * mins[s]) << 4);
        y[i].d = llm__f32_to_f16(max_scale > 0 ? max_scale / 15.0f : 0.0f);
        y[i].dmin = llm__f32_to_f16(max_min > 0 ? max_min / 15.0f : 0.0f);
        for (int s = 0; s < 16; s++) {
            float d = llm__f16_to_f32(y[i].d) * (float)(y[i].scales[s] & 15);
            if (!d) continue;
            float dm = llm__f16_to_f32(y[i].dmin) * (float)(y[i].scales[s] >> 4);
            for (int l = 0; l < 16; l++) L[16 * s + l] = (uint8_t)llm__clamp_int(llm__nearest_int((x[16 * s + l] + dm) / d), 0, 3);
        }
        for (int half = 0; half < 2; half++)   /* the layout of llm__dequant_q2_K */
            for (int l = 0; l < 32; l++) {
                const uint8_t *Lh = L + 128 * half + l;
                y[i].qs[32 * half + l] = (uint8_t)(Lh[0] | Lh[32] << 2 | Lh[64] << 4 | Lh[96] << 6);
            }
    }
}

/* A 6-bit code for v * inv, as the reference computes it (through uint8_t). */
static uint8_t llm__code6(float v, float inv) {
    uint8_t c = (uint8_t)llm__nearest_int(inv * v);
    return c < 63 ? c : 63;
}

/* The shared part of q4_K and q5_K: 8 sub-blocks of 32 with 6-bit scales and mins
   (weights: |x| plus the sub-block's rms); L gets the codes 0..nmax. */
static void llm__quant_k4(const llm__kfit *f, const float *x, uint16_t *d_out, uint16_t *dmin_out, uint8_t packed[12], uint8_t L[256]) {
    float scales[8], mins[8], max_scale = 0, max_min = 0, w[32];
    for (int s = 0; s < 8; s++) {
        const float *xs = x + 32 * s;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) { float sq = xs[l] * xs[l]; sum_x2 += sq; }
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
        scales[s] = llm__kfit_run(f, xs, w, L + 32 * s, &mins[s]);
        if (scales[s] > max_scale) max_scale = scales[s];
        if (mins[s] > max_min) max_min = mins[s];
    }
    float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f, inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    for (int s = 0; s < 8; s++) llm__q4_K_put_scale_min(packed, s, llm__code6(scales[s], inv_scale), llm__code6(mins[s], inv_min));
    *d_out = llm__f32_to_f16(max_scale / 63.0f);
    *dmin_out = llm__f32_to_f16(max_min / 63.0f);
    uint8_t sc[8], m[8];
    llm__k4_scales(packed, sc, m);
    for (int s = 0; s < 8; s++) {
        float d = llm__f16_to_f32(*d_out) * (float)sc[s];
        if (!d) continue;
        float dm = llm__f16_to_f32(*dmin_out) * (float)m[s];
        for (int l = 0; l < 32; l++) L[32 * s + l] = (uint8_t)llm__clamp_int(llm__nearest_int((x[32 * s + l] + dm) / d), 0, f->nmax);
    }
}

static void llm__quant_q4_K(const float *x, void *vy, int64_t nb) {
    llm__block_q4_K *y = (llm__block_q4_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        uint8_t L[LLM__QK_K];
        llm__quant_k4(&llm__kfit_q4, x, &y[i].d, &y[i].dmin, y[i].scales, L);
        for (int s = 0; s < 8; s += 2)
            for (int l = 0; l < 32; l++) y[i].qs[16 * s + l] = (uint8_t)(L[32 * s + l] | L[32 * s + 32 + l] << 4);
    }
}

static void llm__quant_q5_K(const float *x, void *vy, int64_t nb) {
    llm__block_q5_K *y = (llm__block_q5_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        uint8_t L[LLM__QK_K];
        llm__quant_k4(&llm__kfit_q5, x, &y[i].d, &y[i].dmin, y[i].scales, L);
        memset(y[i].qh, 0, 32);
        for (int s = 0; s < 8; s++)
            for (int l = 0; l < 32; l++) y[i].qh[l] |= (uint8_t)((L[32 * s + l] >> 4) << s);
        for (int s = 0; s < 8; s += 2)
            for (int l = 0; l < 32; l++) y[i].qs[16 * s + l] = (uint8_t)((L[32 * s + l] & 15) | (L[32 * s + 32 + l] & 15) << 4);
    }
}

/* q3_K's fit of x[0..16) ~ scale * l, l in [-4, 3] (ggml's make_q3_quants with rmse):
   round on the grid through the largest magnitude, then up to 5 passes that move single
   codes to their least-squares value while that improves sumlx^2 / suml2 (weights x^2).
   L gets l + 4. */
static float llm__q3_fit(const float *x, int8_t L[16]) {
    float amax = 0, max = 0, sumlx = 0, suml2 = 0;
    for (int i = 0; i < 16; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax < 1e-15f) { memset(L, 0, 16); return 0.0f; }
    float iscale = -4.0f / max;
    for (int i = 0; i < 16; i++) {
        int l = llm__clamp_int(llm__nearest_int(iscale * x[i]), -4, 3);
        L[i] = (int8_t)l;
        float w = x[i] * x[i], t = w * x[i], u = w * (float)l;
        t = t * (float)l;
        u = u * (float)l;
        sumlx += t;
        suml2 += u;
    }
    for (int pass = 0; pass < 5; pass++) {
        int n_changed = 0;
        for (int i = 0; i < 16; i++) {
            float w = x[i] * x[i], wx = w * x[i], t = wx * (float)L[i];
            float slx = sumlx - t;
            if (!(slx > 0)) continue;
            float u = w * (float)L[i];
            u = u * (float)L[i];
            float sl2 = suml2 - u, v = x[i] * sl2;
            int new_l = llm__clamp_int(llm__nearest_int(v / slx), -4, 3);
            if (new_l == L[i]) continue;
            t = wx * (float)new_l;
            slx = slx + t;
            u = w * (float)new_l;
            u = u * (float)new_l;
            sl2 = sl2 + u;
            float gain = slx * slx, cur = sumlx * sumlx;
            gain = gain * suml2;
            cur = cur * sl2;
            if (sl2 > 0 && gain > cur) { L[i] = (int8_t)new_l; sumlx = slx; suml2 = sl2; n_changed++; }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < 16; i++) L[i] = (int8_t)(L[i] + 4);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* q3_K: 16 sub-blocks of 16, 3-bit codes (2 low bits in qs, the third in hmask), signed
   6-bit scales. */
static void llm__quant_q3_K(const float *x, void *vy, int64_t nb) {
    llm__block_q3_K *y = (llm__block_q3_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        int8_t L[LLM__QK_K];
        float scales[16], max_scale = 0, amax = 0;
        for (int s = 0; s < 16; s++) {
            scales[s] = llm__q3_fit(x + 16 * s, L + 16 * s);
            if (fabsf(scales[s]) > amax) { amax = fabsf(scales[s]); max_scale = scales[s]; }
        }
        memset(y[i].scales, 0, 12);
        float iscale = max_scale != 0 ? -32.0f / max_scale : 0.0f;
        for (int s = 0; s < 16 && max_scale != 0; s++) {   /* the layout of llm__q3_K_scale */
            int l = llm__clamp_int((int8_t)llm__nearest_int(iscale * scales[s]), -32, 31) + 32;
            y[i].scales[s % 8] |= (uint8_t)((l & 15) << (4 * (s / 8)));
            y[i].scales[8 + s % 4] |= (uint8_t)((l >> 4) << (2 * (s / 4)));
        }
        y[i].d = llm__f32_to_f16(max_scale != 0 ? 1 / iscale : 0.0f);
        for (int s = 0; s < 16; s++) {
            float d = llm__f16_to_f32(y[i].d) * (float)llm__q3_K_scale(y[i].scales, s);
            if (!d) continue;
            for (int l = 0; l < 16; l++) L[16 * s + l] = (int8_t)(llm__clamp_int(llm__nearest_int(x[16 * s + l] / d), -4, 3) + 4);
        }
        memset(y[i].hmask, 0, 32);
        for (int j = 0; j < LLM__QK_K; j++)   /* a set bit means "no -4 offset" */
            if (L[j] > 3) { y[i].hmask[j % 32] |= (uint8_t)(1 << (j / 32)); L[j] = (int8_t)(L[j] - 4); }
        for (int half = 0; half < 2; half++)
            for (int l = 0; l < 32; l++) {
                const int8_t *Lh = L + 128 * half + l;
                y[i].qs[32 * half + l] = (uint8_t)(Lh[0] | Lh[32] << 2 | Lh[64] << 4 | Lh[96] << 6);
            }
    }
}

/* Weighted sums for x ~ scale * l, l = round(iscale * x) in [-32, 31], weights x^2;
   stores l + 32 into L when L is not NULL. */
static void llm__k6_sums(const float *x, float iscale, int8_t *L, float *sumlx, float *suml2) {
    *sumlx = *suml2 = 0;
    for (int i = 0; i < 16; i++) {
        int l = llm__clamp_int(llm__nearest_int(iscale * x[i]), -32, 31);
        if (L) L[i] = (int8_t)(l + 32);
        float w = x[i] * x[i], t = w * x[i], u = w * (float)l;
        t = t * (float)l;
        u = u * (float)l;
        *sumlx += t;
        *suml2 += u;
    }
}

/* Fit x[0..16) ~ scale * l with l in [-32, 31] (ggml's make_qx_quants, rmse_type 1):
   the grid through the largest magnitude, then 18 neighbouring grids, keeping the best
   least-squares scale. L gets l + 32. */
static float llm__k6_fit(const float *x, int8_t L[16]) {
    float amax = 0, max = 0;
    for (int i = 0; i < 16; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax < 1e-15f) { memset(L, 0, 16); return 0.0f; }
    float sumlx, suml2;
    llm__k6_sums(x, -32.0f / max, L, &sumlx, &suml2);
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int k = -9; k <= 9; k++) {
        if (k == 0) continue;
        float levels = 0.1f * (float)k;
        levels = 32.0f + levels;
        float iscale = -levels / max;
        llm__k6_sums(x, iscale, NULL, &sumlx, &suml2);
        float gain = sumlx * sumlx, cur = best * suml2;
        if (suml2 > 0 && gain > cur) {
            llm__k6_sums(x, iscale, L, &sumlx, &suml2);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

static void llm__quant_q6_K(const float *x, void *vy, int64_t nb) {
    llm__block_q6_K *y = (llm__block_q6_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        int8_t L[LLM__QK_K];
        float scales[16], max_scale = 0, max_abs = 0;
        for (int s = 0; s < 16; s++) {
            scales[s] = llm__k6_fit(x + 16 * s, L + 16 * s);
            if (fabsf(scales[s]) > max_abs) { max_abs = fabsf(scales[s]); max_scale = scales[s]; }
        }
        memset(&y[i], 0, sizeof y[i]);
        if (max_abs < 1e-15f) continue;   /* an all-zero block */
        float iscale = -128.0f / max_scale;
        y[i].d = llm__f32_to_f16(1 / iscale);
        for (int s = 0; s < 16; s++) y[i].scales[s] = (int8_t)LLM__MIN(127, llm__nearest_int(iscale * scales[s]));
        for (int s = 0; s < 16; s++) {   /* round again against the stored scales */
            float d = llm__f16_to_f32(y[i].d) * (float)y[i].scales[s];
            if (!d) continue;   /* keeps the fit's L, as the reference does */
            for (int l = 0; l < 16; l++) L[16 * s + l] = (int8_t)(llm__clamp_int(llm__nearest_int(x[16 * s + l] / d), -32, 31) + 32);
        }
        for (int half = 0; half < 2; half++) {   /* the layout of llm__dequant_q6_K */
            const int8_t *Lh = L + 128 * half;
            uint8_t *ql = y[i].ql + 64 * half, *qh = y[i].qh + 32 * half;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((Lh[l] & 15) | (Lh[l + 64] & 15) << 4);
                ql[l + 32] = (uint8_t)((Lh[l + 32] & 15) | (Lh[l + 96] & 15) << 4);
                qh[l] = (uint8_t)((Lh[l] >> 4) | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 | (Lh[l + 96] >> 4) << 6);
            }
        }
    }
}

/* q8_K (the activations' format in k-quant dot products): one f32 scale, codes in
   [-127, 127] through the largest magnitude, and the sums of each 16 codes. */
static void llm__quant_q8_K(const float *x, void *vy, int64_t nb) {
    llm__block_q8_K *y = (llm__block_q8_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        memset(&y[i], 0, sizeof y[i]);
        float max = llm__signed_absmax(x, LLM__QK_K);
        if (max == 0) continue;
        float iscale = -127.0f / max;
        for (int j = 0; j < LLM__QK_K; j++) y[i].qs[j] = (int8_t)LLM__MIN(127, llm__nearest_int(iscale * x[j]));
        for (int j = 0; j < LLM__QK_K; j++) y[i].bsums[j / 16] = (int16_t)(y[i].bsums[j / 16] + y[i].qs[j]);
        y[i].d = 1 / iscale;
    }
}

/* MXFP4 (GGUF type 39, as gpt-oss uses; the OCP microscaling format): 32 e2m1 values with
   a shared e8m0 exponent e, the nibbles ordered as q4_0's. ggml stores the e2m1 values
   doubled (kvalues_mxfp4) and halves the scale: x = kv[q] * 2^(e - 128) (both zero codes +0).
   Dequantization only: no quantizer, no matmul kernel. */
typedef struct { uint8_t e; uint8_t qs[16]; } llm__block_mxfp4;
static const int8_t llm__kvalues_mxfp4[16] = { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 };

static void llm__dequant_mxfp4(const void *vx, float *y, int64_t nb) {
    const llm__block_mxfp4 *x = (const llm__block_mxfp4 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = ldexpf(1.0f, (int)x[i].e - 128);          /* exact, subnormal for e < 2 */
        for (int j = 0; j < 16; j++) {
            y[j] = (float)llm__kvalues_mxfp4[x[i].qs[j] & 15] * d;
            y[j + 16] = (float)llm__kvalues_mxfp4[x[i].qs[j] >> 4] * d;
        }
    }
}

/* ---- public entry points ---- */

typedef void (*llm__dequant_fn)(const void *src, float *dst, int64_t n_blocks);
typedef void (*llm__quant_fn)(const float *src, void *dst, int64_t n_blocks);

static const struct { llm__dequant_fn dequant; llm__quant_fn quant; } llm__quants[LLM_DTYPE_COUNT] = {
    [LLM_DTYPE_Q4_0] = { llm__dequant_q4_0, llm__quant_q4_0 },
    [LLM_DTYPE_Q4_1] = { llm__dequant_q4_1, llm__quant_q4_1 },
    [LLM_DTYPE_Q5_0] = { llm__dequant_q5_0, llm__quant_q5_0 },
    [LLM_DTYPE_Q5_1] = { llm__dequant_q5_1, llm__quant_q5_1 },
    [LLM_DTYPE_Q8_0] = { llm__dequant_q8_0, llm__quant_q8_0 },
    [LLM_DTYPE_Q2_K] = { llm__dequant_q2_K, llm__quant_q2_K },
    [LLM_DTYPE_Q3_K] = { llm__dequant_q3_K, llm__quant_q3_K },
    [LLM_DTYPE_Q4_K] = { llm__dequant_q4_K, llm__quant_q4_K },
    [LLM_DTYPE_Q5_K] = { llm__dequant_q5_K, llm__quant_q5_K },
    [LLM_DTYPE_Q6_K] = { llm__dequant_q6_K, llm__quant_q6_K },
    [LLM_DTYPE_Q8_K] = { llm__dequant_q8_K, llm__quant_q8_K },
    [LLM_DTYPE_MXFP4] = { llm__dequant_mxfp4, NULL },
};

static bool llm__is_float(llm_dtype t) { return t == LLM_DTYPE_F32 || t == LLM_DTYPE_F16 || t == LLM_DTYPE_BF16; }

/* n whole blocks of a dtype that `fn` handles? Sets the error otherwise. */
static llm_status llm__quant_check(const char *who, llm_dtype dtype, int64_t n, bool supported) {
    const llm_dtype_info *di = llm_dtype_get(dtype);
    if (!di) return llm__fail(LLM_ERR_INVALID_ARG, "%s: unknown dtype %d", who, (int)dtype);
    if (!supported) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: dtype %s is not supported", who, di->name);
    if (n < 0 || n % di->block_elems)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: %lld elements are not whole %s blocks of %d", who, (long long)n, di->name, di->block_elems);
    return LLM_OK;
}

LLM_API llm_status llm_dequantize(llm_dtype dtype, const void *src, float *dst, int64_t n) {
    bool known = (unsigned)dtype < LLM_DTYPE_COUNT && (llm__is_float(dtype) || llm__quants[dtype].dequant);
    llm_status s = llm__quant_check("llm_dequantize", dtype, n, known);
    if (s) return s;
    if (llm__is_float(dtype)) llm_convert(LLM_DTYPE_F32, dst, dtype, src, n);
    else llm__quants[dtype].dequant(src, dst, n / llm__dtypes[dtype].block_elems);
    return LLM_OK;
}

LLM_API llm_status llm_quantize(llm_dtype dtype, const float *src, void *dst, int64_t n) {
    bool known = (unsigned)dtype < LLM_DTYPE_COUNT && (llm__is_float(dtype) || llm__quants[dtype].quant);
    llm_status s = llm__quant_check("llm_quantize", dtype, n, known);
    if (s) return s;
    if (llm__is_float(dtype)) llm_convert(dtype, dst, LLM_DTYPE_F32, src, n);
    else llm__quants[dtype].quant(src, dst, n / llm__dtypes[dtype].block_elems);
    return LLM_OK;
}
