/* ---- >>kernels_ggml: matmul kernels for llama.cpp's block-quantized weights ----
   Same contract as the float kernels (21_kernels_scalar.c): y[t*ldy + r] = dot(x[t], W[r])
   for rows r in [r0, r1), scratch = k floats per thread, each output computed the same
   way whatever the row split.

   Scalar references, one per ggml type: dequantize a weight row into the scratch (exactly,
   with llm_dequantize) and take f32 dot products. They are the oracle for the fast kernels.

   AVX2 kernels (q4_0, q4_1, q5_0, q5_1, q8_0, q4_K, q5_K, q6_K), as llama.cpp does it: the activations
   are quantized to 8 bits on the fly - per block of 32 (a scale d per block, and s = d *
   sum(q) for the formats with a min) or per super-block of 256 for the k-quants (a scale
   and bsums, the sums of each 16 values, which pay for the mins and offsets) - and each
   weight block meets them in integer dot products: _mm256_maddubs_epi16 (u8 x i8 -> pairs
   summed in i16) then _mm256_madd_epi16 (-> i32). Signed weights take the sign trick:
   |w| * (x with w's sign). The result differs from the exact reference by the 8-bit
   rounding of the activations (relative error about 1e-2 of |x| |w| / sqrt(k) per output;
   tests/test_ggml_kernels.c states the bound it checks).

   The scratch holds the quantized activations of a few tokens (4k bytes = 3 tokens of
   k int8 + scales). Several tokens (prefill) are done in tiles of LLM__QTILE rows: each
   tile of weights is read once from memory and met by every token, 3 at a time (the
   32-element formats decode each weight block once per group of 3). */
#include "10_internal.h"

/* Scalar reference: one dequantized row in scratch, dotted with every token. */
static void llm__matmul_deq_scalar(llm_dtype dtype, const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    size_t row_bytes = llm_dtype_n_bytes(dtype, a->k);
    for (int64_t r = r0; r < r1; r++) {
        (void)llm_dequantize(dtype, (const uint8_t *)a->w + (size_t)r * row_bytes, scratch, a->k);
        for (int64_t t = 0; t < a->n_tok; t++) a->y[t * a->ldy + r] = llm__dot_f32_scalar(a->x + t * a->k, scratch, a->k);
    }
}

#define LLM__MATMUL_DEQ(name, DT) \
    static void name(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { llm__matmul_deq_scalar(DT, a, r0, r1, s); }
LLM__MATMUL_DEQ(llm__matmul_q4_0_scalar, LLM_DTYPE_Q4_0)
LLM__MATMUL_DEQ(llm__matmul_q4_1_scalar, LLM_DTYPE_Q4_1)
LLM__MATMUL_DEQ(llm__matmul_q5_0_scalar, LLM_DTYPE_Q5_0)
LLM__MATMUL_DEQ(llm__matmul_q5_1_scalar, LLM_DTYPE_Q5_1)
LLM__MATMUL_DEQ(llm__matmul_q8_0_scalar, LLM_DTYPE_Q8_0)
LLM__MATMUL_DEQ(llm__matmul_q2_K_scalar, LLM_DTYPE_Q2_K)
LLM__MATMUL_DEQ(llm__matmul_q3_K_scalar, LLM_DTYPE_Q3_K)
LLM__MATMUL_DEQ(llm__matmul_q4_K_scalar, LLM_DTYPE_Q4_K)
LLM__MATMUL_DEQ(llm__matmul_q5_K_scalar, LLM_DTYPE_Q5_K)
LLM__MATMUL_DEQ(llm__matmul_q6_K_scalar, LLM_DTYPE_Q6_K)
LLM__MATMUL_DEQ(llm__matmul_q8_K_scalar, LLM_DTYPE_Q8_K)
#undef LLM__MATMUL_DEQ

/* The eight 6-bit scales and mins of a q4_K/q5_K block, packed in 12 bytes: for s < 4 the low
   6 bits of bytes s (scale) and s + 4 (min); for s >= 4 the nibbles of byte s + 4 (scale low,
   min high) plus the top 2 bits of bytes s - 4 (scale) and s (min). Also used by the
   quantizer and dequantizer in 32_ggml_quants.c. */
static inline void llm__k4_scales(const uint8_t q[12], uint8_t sc[8], uint8_t m[8]) {
    for (int s = 0; s < 4; s++) {
        sc[s] = q[s] & 63;
        m[s] = q[s + 4] & 63;
        sc[s + 4] = (uint8_t)((q[s + 8] & 15) | ((q[s] >> 6) << 4));
        m[s + 4] = (uint8_t)((q[s + 8] >> 4) | ((q[s + 4] >> 6) << 4));
    }
}

#ifdef LLM__AVX2
#define LLM__QTILE 32       /* weight rows per tile when several token groups share them */

/* One token's activations in 8 bits: x[i] ~ d[i / qk] * q[i]. qk 32: s[b] = d[b] * sum of
   block b's q. qk 256: bsums[g] = sum of q[16g .. 16g + 16). */
typedef struct llm__q8_act {
    const int8_t *q;
    const float *d, *s;
    const int16_t *bsums;
} llm__q8_act;

/* out[t] = dot(weight row w, token t) for the nt (<= LLM__QGROUP) tokens of a group. */
typedef void (*llm__qdot_fn)(const uint8_t *w, const llm__q8_act *x, int nt, int64_t k, float *out);

static inline float llm__hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline int32_t llm__hsum256_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* 32 floats times id, rounded to int8 at q (in order); returns the 4 vectors of int32 so
   the caller can sum them. */
static inline void llm__q8_store32(const float *x, __m256 id, int8_t *q, __m256i v[4]) {
    for (int j = 0; j < 4; j++) v[j] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * j), id), _MM_FROUND_TO_NEAREST_INT));
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));   /* undo the per-lane packing */
    _mm256_storeu_si256((__m256i *)q, p);
}

static inline __m256 llm__absmax8(const float *x, int64_t n, __m256 m) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    return m;
}

/* Quantize one token (k floats) per block of 32 into q, d, s. */
static void llm__q8_quant32(const float *x, int64_t k, int8_t *q, float *d, float *s) {
    for (int64_t b = 0; b < k / 32; b++) {
        float amax = llm__hmax256(llm__absmax8(x + 32 * b, 32, _mm256_setzero_ps()));
        float db = amax / 127.0f;
        __m256i v[4];
        llm__q8_store32(x + 32 * b, _mm256_set1_ps(amax > 0 ? 127.0f / amax : 0.0f), q + 32 * b, v);
        d[b] = db;
        s[b] = db * (float)llm__hsum256_i32(_mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3])));
    }
}

/* Quantize one token per super-block of 256 into q, d, bsums. */
static void llm__q8_quant256(const float *x, int64_t k, int8_t *q, float *d, int16_t *bsums) {
    for (int64_t b = 0; b < k / 256; b++) {
        const float *xb = x + 256 * b;
        float amax = llm__hmax256(llm__absmax8(xb, 256, _mm256_setzero_ps()));
        __m256 id = _mm256_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
        d[b] = amax / 127.0f;
        for (int j = 0; j < 8; j++) {
            __m256i v[4];
            llm__q8_store32(xb + 32 * j, id, q + 256 * b + 32 * j, v);
            bsums[16 * b + 2 * j] = (int16_t)llm__hsum256_i32(_mm256_add_epi32(v[0], v[1]));
            bsums[16 * b + 2 * j + 1] = (int16_t)llm__hsum256_i32(_mm256_add_epi32(v[2], v[3]));
        }
    }
}

/* Bytes one quantized token takes in the scratch, and where its parts are. */
static size_t llm__q8_act_bytes(int64_t k, int qk) { return (size_t)k + (qk == 32 ? 8 * (size_t)k / 32 : 4 * (size_t)k / 256 + 2 * (size_t)k / 16); }

static llm__q8_act llm__q8_quantize(const float *x, int64_t k, int qk, uint8_t *mem) {
    llm__q8_act a = { (const int8_t *)mem, (const float *)(mem + k), NULL, NULL };
    if (qk == 32) {
        a.s = a.d + k / 32;
        llm__q8_quant32(x, k, (int8_t *)mem, (float *)a.d, (float *)a.s);
    } else {
        a.bsums = (const int16_t *)(a.d + k / 256);
        llm__q8_quant256(x, k, (int8_t *)mem, (float *)a.d, (int16_t *)a.bsums);
    }
    return a;
}

/* 16 bytes of nibbles -> 32 bytes: the low nibbles (elements 0..15), then the high ones. */
static inline __m256i llm__nibbles(const uint8_t *p) {
    __m128i t = _mm_loadu_si128((const __m128i *)p);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(15));
}

static inline float llm__f16(const uint8_t *p) { uint16_t h; memcpy(&h, p, 2); return llm__f16_to_f32(h); }

/* 32 bits (a little-endian u32 at p) -> 32 bytes: 16 where bit j is set, else 0. */
static inline __m256i llm__bit4s(const uint8_t *p) {
    uint32_t u;
    memcpy(&u, p, 4);
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((int64_t)0x8040201008040201ull);
    __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)u), spread), bit);   /* byte j keeps bit j % 8 of byte j / 8 */
    return _mm256_and_si256(_mm256_cmpeq_epi8(v, bit), _mm256_set1_epi8(16));
}

/* The 32-element formats, one loop: each weight block is decoded once and met by the nt
   tokens of a group (prefill), its signed codes made |q| once for the sign trick.
     q4_0 (18 bytes): f16 d, 16 bytes of nibbles;                 w = d * (q - 8)
     q4_1 (20 bytes): f16 d, f16 m, 16 bytes of nibbles;          w = d * q + m
     q5_0 (22 bytes): f16 d, u32 qh (fifth bits), nibbles;        w = d * (q - 16)
     q5_1 (24 bytes): f16 d, f16 m, u32 qh, nibbles;              w = d * q + m
     q8_0 (34 bytes): f16 d, 32 int8;                             w = d * q
   The formats with a min add m * s (s = d_x * sum of the token's block codes). Called with
   constant f and nt, so each caller gets its own unrolled copy. */
typedef enum { LLM__B32_Q4_0, LLM__B32_Q4_1, LLM__B32_Q5_0, LLM__B32_Q5_1, LLM__B32_Q8_0 } llm__b32;
#define LLM__QGROUP 3       /* tokens per group: 4k bytes of scratch hold 3 quantized rows */

static LLM__INLINE void llm__qdot32(llm__b32 f, const uint8_t *w, const llm__q8_act *x, int nt, int64_t k, float *out) {
    static const int bytes[] = { 18, 20, 22, 24, 34 };
    bool has_min = f == LLM__B32_Q4_1 || f == LLM__B32_Q5_1;
    __m256 acc[LLM__QGROUP];
    float mins[LLM__QGROUP];
    for (int t = 0; t < nt; t++) acc[t] = _mm256_setzero_ps(), mins[t] = 0;
    for (int64_t b = 0; b < k / 32; b++, w += bytes[f]) {
        __m256i q;
        switch (f) {
        case LLM__B32_Q4_0: q = _mm256_sub_epi8(llm__nibbles(w + 2), _mm256_set1_epi8(8)); break;
        case LLM__B32_Q4_1: q = llm__nibbles(w + 4); break;
        case LLM__B32_Q5_0: q = _mm256_sub_epi8(_mm256_or_si256(llm__nibbles(w + 6), llm__bit4s(w + 2)), _mm256_set1_epi8(16)); break;
        case LLM__B32_Q5_1: q = _mm256_or_si256(llm__nibbles(w + 8), llm__bit4s(w + 4)); break;
        default:            q = _mm256_loadu_si256((const __m256i *)(w + 2)); break;
        }
        __m256i uq = has_min ? q : _mm256_sign_epi8(q, q);
        float d = llm__f16(w), m = has_min ? llm__f16(w + 2) : 0.0f;
        for (int t = 0; t < nt; t++) {
            __m256i xq = _mm256_loadu_si256((const __m256i *)(x[t].q + 32 * b));
            if (!has_min) xq = _mm256_sign_epi8(xq, q);
            __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(uq, xq), _mm256_set1_epi16(1));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * x[t].d[b]), _mm256_cvtepi32_ps(p), acc[t]);
            if (has_min) mins[t] += m * x[t].s[b];
        }
    }
    for (int t = 0; t < nt; t++) out[t] = llm__hsum256(acc[t]) + mins[t];
}

/* q4_K (144 bytes: f16 d, f16 dmin, 12 bytes of scales, 128 of nibbles) and q5_K (176:
   the same with qh[32] before the nibbles). Sub-block s of 32 elements: nibble s % 2 of
   qs[32 * (s / 2) ..], fifth bit s of qh[..]; w = d * sc[s] * q - dmin * m[s]. */
static inline float llm__qdot_k4(const uint8_t *w, const llm__q8_act *x, int64_t k, bool q5) {
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    size_t bytes = q5 ? 176 : 144;
    for (int64_t b = 0; b < k / 256; b++, w += bytes) {
        uint8_t sc[8], m[8];
        llm__k4_scales(w + 4, sc, m);
        const uint8_t *qs = w + (q5 ? 48 : 16);
        const int8_t *xq = x->q + 256 * b;
        const int16_t *bs = x->bsums + 16 * b;
        __m256i isum = _mm256_setzero_si256(), qh = q5 ? _mm256_loadu_si256((const __m256i *)(w + 16)) : _mm256_setzero_si256();
        int32_t msum = 0;
        for (int s = 0; s < 8; s++) {
            __m256i raw = _mm256_loadu_si256((const __m256i *)(qs + 32 * (s / 2)));
            __m256i q = _mm256_and_si256(s % 2 ? _mm256_srli_epi16(raw, 4) : raw, _mm256_set1_epi8(15));
            if (q5) {
                __m256i bit = _mm256_set1_epi8((char)(1 << s));
                q = _mm256_or_si256(q, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit), bit), _mm256_set1_epi8(16)));
            }
            __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)(xq + 32 * s)));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, _mm256_set1_epi16(sc[s])));
            msum += m[s] * (bs[2 * s] + bs[2 * s + 1]);
        }
        float dx = x->d[b];
        acc = _mm256_fmadd_ps(_mm256_set1_ps(llm__f16(w) * dx), _mm256_cvtepi32_ps(isum), acc);
        mins += llm__f16(w + 2) * dx * (float)msum;
    }
    return llm__hsum256(acc) - mins;
}


/* q6_K (210 bytes: ql[128], qh[64], int8 scales[16], f16 d): w = d * sc[j / 16] * (q - 32).
   In half h, chunk c of 32: low 4 bits in nibble c / 2 of ql[64h + 32(c % 2) ..], high 2
   bits at shift 2c of qh[32h ..]. The -32 is paid with bsums: sum (q - 32) x = sum q x - 32 sum x. */
static float llm__qdot1_q6_K(const uint8_t *w, const llm__q8_act *x, int64_t k) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++, w += 210) {
        const int8_t *sc = (const int8_t *)(w + 192), *xq = x->q + 256 * b;
        const int16_t *bs = x->bsums + 16 * b;
        __m256i isum = _mm256_setzero_si256();
        int32_t corr = 0;
        for (int h = 0; h < 2; h++) {
            __m256i qh = _mm256_loadu_si256((const __m256i *)(w + 128 + 32 * h));
            for (int c = 0; c < 4; c++) {
                __m256i lo = _mm256_loadu_si256((const __m256i *)(w + 64 * h + 32 * (c % 2)));
                lo = _mm256_and_si256(c / 2 ? _mm256_srli_epi16(lo, 4) : lo, _mm256_set1_epi8(15));
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), _mm256_set1_epi8(3));
                __m256i q = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
                int g = 8 * h + 2 * c;
                __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
                __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)(xq + 128 * h + 32 * c)));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scale));
                corr += sc[g] * bs[g] + sc[g + 1] * bs[g + 1];
            }
        }
        __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(isum, _mm256_set_epi32(0, 0, 0, 0, 0, 0, 0, 32 * corr)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(llm__f16(w + 208) * x->d[b]), v, acc);
    }
    return llm__hsum256(acc);
}

/* The driver: rows in tiles, tokens in groups that fit the scratch; each group is quantized
   once per tile (once in all when every token fits, as in decoding). */
static void llm__matmul_q8_avx2(const llm__mm_args *a, int64_t r0, int64_t r1, uint8_t *scratch, llm_dtype wt, int qk,
                                llm__qdot_fn dot) {
    size_t row_bytes = llm_dtype_n_bytes(wt, a->k), act_bytes = llm__q8_act_bytes(a->k, qk);
    int64_t group = LLM__QGROUP, tile = a->n_tok <= group ? r1 - r0 : LLM__QTILE;
    llm__q8_act act[LLM__QGROUP];
    float out[LLM__QGROUP];
    LLM_ASSERT(act_bytes * LLM__QGROUP <= 4 * (size_t)a->k);
    for (int64_t rt = r0; rt < r1; rt += tile)
        for (int64_t t0 = 0; t0 < a->n_tok; t0 += group) {
            int64_t nt = LLM__MIN(group, a->n_tok - t0);
            for (int64_t t = 0; t < nt; t++) act[t] = llm__q8_quantize(a->x + (t0 + t) * a->k, a->k, qk, scratch + (size_t)t * act_bytes);
            for (int64_t r = rt; r < LLM__MIN(rt + tile, r1); r++) {
                const uint8_t *w = (const uint8_t *)a->w + (size_t)r * row_bytes;
                dot(w, act, (int)nt, a->k, out);
                for (int64_t t = 0; t < nt; t++) a->y[(t0 + t) * a->ldy + r] = out[t];
            }
        }
}

/* Each format's dot for a group: the 32-element formats specialised per group size, the
   k-quants one token at a time. */
#define LLM__QDOT32(name, F)                                                                              \
    static void name(const uint8_t *w, const llm__q8_act *x, int nt, int64_t k, float *out) {            \
        if (nt == 1) llm__qdot32(F, w, x, 1, k, out);                                                  \
        else if (nt == 2) llm__qdot32(F, w, x, 2, k, out);                                             \
        else llm__qdot32(F, w, x, LLM__QGROUP, k, out);                                                \
    }
LLM__QDOT32(llm__qdot_q4_0, LLM__B32_Q4_0)
LLM__QDOT32(llm__qdot_q4_1, LLM__B32_Q4_1)
LLM__QDOT32(llm__qdot_q5_0, LLM__B32_Q5_0)
LLM__QDOT32(llm__qdot_q5_1, LLM__B32_Q5_1)
LLM__QDOT32(llm__qdot_q8_0, LLM__B32_Q8_0)
#undef LLM__QDOT32
static void llm__qdot_q4_K(const uint8_t *w, const llm__q8_act *x, int nt, int64_t k, float *out) {
    for (int t = 0; t < nt; t++) out[t] = llm__qdot_k4(w, &x[t], k, false);
}
static void llm__qdot_q5_K(const uint8_t *w, const llm__q8_act *x, int nt, int64_t k, float *out) {
    for (int t = 0; t < nt; t++) out[t] = llm__qdot_k4(w, &x[t], k, true);
}
static void llm__qdot_q6_K(const uint8_t *w, const llm__q8_act *x, int nt, int64_t k, float *out) {
    for (int t = 0; t < nt; t++) out[t] = llm__qdot1_q6_K(w, &x[t], k);
}

#define LLM__MATMUL_Q8(name, DT, QK, DOT) \
    static void name(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { llm__matmul_q8_avx2(a, r0, r1, (uint8_t *)s, DT, QK, DOT); }
LLM__MATMUL_Q8(llm__matmul_q4_0_avx2, LLM_DTYPE_Q4_0, 32, llm__qdot_q4_0)
LLM__MATMUL_Q8(llm__matmul_q4_1_avx2, LLM_DTYPE_Q4_1, 32, llm__qdot_q4_1)
LLM__MATMUL_Q8(llm__matmul_q5_0_avx2, LLM_DTYPE_Q5_0, 32, llm__qdot_q5_0)
LLM__MATMUL_Q8(llm__matmul_q5_1_avx2, LLM_DTYPE_Q5_1, 32, llm__qdot_q5_1)
LLM__MATMUL_Q8(llm__matmul_q8_0_avx2, LLM_DTYPE_Q8_0, 32, llm__qdot_q8_0)
LLM__MATMUL_Q8(llm__matmul_q4_K_avx2, LLM_DTYPE_Q4_K, 256, llm__qdot_q4_K)
LLM__MATMUL_Q8(llm__matmul_q5_K_avx2, LLM_DTYPE_Q5_K, 256, llm__qdot_q5_K)
LLM__MATMUL_Q8(llm__matmul_q6_K_avx2, LLM_DTYPE_Q6_K, 256, llm__qdot_q6_K)
#undef LLM__MATMUL_Q8
#endif
