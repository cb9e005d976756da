/* ---- >>kernels_mlx: matmul with MLX-quantized weights ----
   y[t*ldy + r] = dot(x[t], W[r]) where W is an MLX-quantized matrix (08_api_quant.h has the
   layout): per group of G inputs, w = s*q + b, so a group's share of a dot product is
     sum_i x_i (s q_i + b) = s * dot(x, q) + b * sum(x)
   and the integers q are never turned into floats one by one.
   Two paths, chosen by llm__matmul_mlx:
   - the reference (all bit widths and the fp modes): f32 activations, one row unpacked into
     scratch, then the formula above per group in float. Equal to dequantize + f32 dot up to
     float rounding; the tests use it as the oracle.
   - AVX2, every affine bit width (4-bit: cols % 64 == 0): activations are rounded to int8
     once per call (one f32 scale per 32 values, as llama.cpp's q8_0), so dot(x, q) becomes
     an integer dot product (maddubs/madd). This computes dot(x~, W) exactly up to f32
     rounding, where x~ is x rounded to that int8 grid: error per element <= 1/254 of its
     block's max |x|. Tolerance vs the reference (checked by the tests):
       |y - y_ref| <= sum_blocks (max|x_blk| / 254) * sum|w_blk|   (+ float rounding)
     4-bit is the tuned one (64 weights per load, 4 tokens per unpacked chunk in prefill);
     8-bit and the 2/3/5/6-bit unpacker are straightforward.
   Not here: quantizing (33_mlx_quant.c) and checking tensors (llm__mlx_qmat_init, there). */
#include "10_internal.h"
#include "08_api_quant.h"

/* A quantized matrix W [rows, cols] as the model binds it: views of the three tensors. */
typedef struct llm__qmat {
    const uint8_t *w;         /* [rows, cols*bits/8] packed q, little-endian bit stream per row */
    const void *scales;       /* [rows, cols/group_size] in sdtype */
    const void *biases;       /* [rows, cols/group_size] in sdtype; NULL for the fp modes */
    int64_t rows, cols;
    int bits, group_size;
    llm_dtype sdtype;         /* f32/f16/bf16 (affine) or u8 (fp modes) */
    int fp_mode;              /* -1: affine, else an llm_mlx_fp_mode */
} llm__qmat;

/* ---- unpacking ---- */

/* Element i of a packed row: bits i*b .. i*b+b-1 of its little-endian bytes. Reads the
   second byte only when the element straddles it, so never past the row. */
static inline unsigned llm__mlx_get(const uint8_t *row, int64_t i, int bits) {
    int64_t bit = i * bits;
    unsigned v = row[bit >> 3] >> (bit & 7);
    if ((bit & 7) + bits > 8) v |= (unsigned)row[(bit >> 3) + 1] << (8 - (bit & 7));
    return v & ((1u << bits) - 1);
}

/* The first n elements of a packed row (or group) as bytes. */
static void llm__mlx_unpack(const uint8_t *row, int64_t n, int bits, uint8_t *q) {
    if (bits == 8) { memcpy(q, row, (size_t)n); return; }
    if (bits == 4) {              /* the common case, two per byte */
        for (int64_t i = 0; i < n; i += 2) {
            q[i] = row[i >> 1] & 15;
            q[i + 1] = row[i >> 1] >> 4;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) q[i] = (uint8_t)llm__mlx_get(row, i, bits);
}

/* Scale or bias number i of an f32/f16/bf16 array. */
static inline float llm__mlx_param(const void *p, llm_dtype dt, int64_t i) {
    switch (dt) {
    case LLM_DTYPE_F16:  return llm__f16_to_f32(((const uint16_t *)p)[i]);
    case LLM_DTYPE_BF16: return llm__bf16_to_f32(((const uint16_t *)p)[i]);
    default:             return ((const float *)p)[i];
    }
}

/* fp4 e2m1 values (mlx FP4_LUT) and fp8 e4m3 the way mlx's FromFP8 decodes it: the low 7
   bits shifted into an f16 (exponent bias 15 instead of 7, so x 2^8). No NaN code. */
static const float llm__fp4_e2m1[16] = { 0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                                         -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f };
static inline float llm__fp8_e4m3(uint8_t x) {
    float v = llm__f16_to_f32((uint16_t)((x & 127) << 7)) * 256.0f;
    return x & 128 ? -v : v;
}

/* The scale of fp-mode group i: e8m0 2^(s-127) (s = 255 gives inf, as mlx), or e4m3. */
static inline float llm__mlx_fp_scale(int fp_mode, uint8_t s) {
    return fp_mode == LLM_MLX_NVFP4 ? llm__fp8_e4m3(s) : ldexpf(1.0f, (int)s - 127);
}

/* Row r of an fp-mode matrix as unscaled element values (cols floats). */
static void llm__mlx_fp_values(const llm__qmat *q, int64_t r, float *out) {
    const uint8_t *row = q->w + r * (q->cols * q->bits / 8);
    if (q->bits == 8) {
        for (int64_t i = 0; i < q->cols; i++) out[i] = llm__fp8_e4m3(row[i]);
    } else {
        for (int64_t i = 0; i < q->cols; i++) out[i] = llm__fp4_e2m1[llm__mlx_get(row, i, 4)];
    }
}

/* ---- the reference kernel ----
   a->w is a llm__mlx_mm (below). scratch: cols floats. Per output, groups are summed left
   to right, and within a group dot(x, q) and sum(x) left to right. */
typedef struct llm__mlx_mm {
    const llm__qmat *q;
    const int8_t *xq;         /* AVX2 path: [n_tok, k] activations rounded to int8 */
    const float *xd;          /* [n_tok, k/8] their scales (layout: llm__mlx_quantize_x) */
    const float *xs;          /* [n_tok, k/G] their sums per weight group */
} llm__mlx_mm;

static void llm__matmul_mlx_scalar(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const llm__qmat *q = ((const llm__mlx_mm *)a->w)->q;
    int64_t k = a->k, G = q->group_size, ng = k / G;
    uint8_t *qs = (uint8_t *)scratch;            /* affine: k bytes of q; fp: k float values */
    for (int64_t r = r0; r < r1; r++) {
        if (q->fp_mode < 0) llm__mlx_unpack(q->w + r * (k * q->bits / 8), k, q->bits, qs);
        else llm__mlx_fp_values(q, r, scratch);
        for (int64_t t = 0; t < a->n_tok; t++) {
            const float *x = a->x + t * k;
            float acc = 0;
            for (int64_t g = 0; g < ng; g++) {
                float dot = 0, sum = 0;
                if (q->fp_mode < 0) {
                    for (int64_t i = g * G; i < (g + 1) * G; i++) { dot += x[i] * (float)qs[i]; sum += x[i]; }
                    acc += llm__mlx_param(q->scales, q->sdtype, r * ng + g) * dot +
                           llm__mlx_param(q->biases, q->sdtype, r * ng + g) * sum;
                } else {
                    for (int64_t i = g * G; i < (g + 1) * G; i++) dot += x[i] * scratch[i];
                    acc += llm__mlx_fp_scale(q->fp_mode, ((const uint8_t *)q->scales)[r * ng + g]) * dot;
                }
            }
            a->y[t * a->ldy + r] = acc;
        }
    }
}

/* ---- AVX2: int8 activations, every affine bit width ---- */

#define LLM__MLX_ROWS 8       /* rows per block in llm__matmul_mlx_avx2 */

/* Round x [n_tok, k] to int8 in blocks of 32: xd = max|x|/127, xq = round(x/xd), and
   xs[t, g] = sum of xd*xq over weight group g (G elements), so the bias term uses the same
   rounded activations as the dot product. Per token: k bytes of xq, k/8 floats of xd.
   bits 8: natural order, one xd per block.
   bits 2, 3, 5, 6: one xd per block; elements 8-15 and 16-23 swapped (llm__mlx_unpack32).
   bits 4: in the order the 4-bit kernel unpacks 32 bytes (64 weights) of a row: low nibbles
   (the even elements of both 32-blocks) first, then high nibbles; and xd as 8 floats per
   64, [xd0 x4, xd1 x4], matching the int32 lanes the two 128-bit halves reduce to. */
typedef struct {
    const float *x;           /* [n_tok, k] */
    int64_t n_tok, k, G;
    int bits;
    int8_t *xq;
    float *xd, *xs;
} llm__mlx_xtask;

static void llm__mlx_quantize_x(void *ctx, int ith, int nth) {
    const llm__mlx_xtask *a = (const llm__mlx_xtask *)ctx;
    const float *x = a->x;
    int64_t k = a->k, G = a->G, t0, t1;
    int bits = a->bits;
    int8_t *xq = a->xq;
    float *xd = a->xd, *xs = a->xs;
    llm__split(a->n_tok, ith, nth, &t0, &t1);     /* tokens are independent: split them */
    for (int64_t t = t0; t < t1; t++) {
        for (int64_t j = 0; j < k / 32; j++) {
            const float *xb = x + t * k + j * 32;
            int8_t *qb = xq + t * k + (bits == 4 ? (j & ~1) * 32 + (j & 1) * 16 : j * 32);
            static const uint8_t swap8[4] = { 0, 16, 8, 24 };   /* 2/3/5/6 bits: runs of 8 in llm__mlx_unpack32's order */
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = LLM__MAX(amax, fabsf(xb[i]));
            float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
            int isum = 0;
            for (int i = 0; i < 32; i++) {
                float f = nearbyintf(xb[i] * id);
                int v = f >= -127.0f && f <= 127.0f ? (int)f : 0;   /* only NaN/inf activations fail this */
                qb[bits == 4 ? (i & 1) * 32 + (i >> 1) : bits == 8 ? i : swap8[i >> 3] + (i & 7)] = (int8_t)v;
                isum += v;
            }
            if (bits == 4) for (int i = 0; i < 4; i++) xd[t * (k / 8) + (j & ~1) * 4 + (j & 1) * 4 + i] = d;
            else xd[t * (k / 8) + j] = d;
            if (j % (G / 32) == 0) xs[t * (k / G) + j / (G / 32)] = 0;
            xs[t * (k / G) + j / (G / 32)] += d * (float)isum;
        }
    }
}

#ifdef LLM__AVX2
LLM__AVX2_BEGIN
/* One token's share of 64 weights: lo/hi are the unpacked low and high nibbles of 32 bytes
   of a row; xq the token's 64 int8 activations in the matching order. An int32 per pair of
   16-element runs (lanes 0-3 from the first 32-block, 4-7 from the second), times xd. */
static inline __m256 llm__mlx_q4_dot64(__m256i lo, __m256i hi, const int8_t *xq, const float *xd) {
    __m256i x0 = _mm256_loadu_si256((const __m256i *)xq), x1 = _mm256_loadu_si256((const __m256i *)(xq + 32));
#ifdef LLM__AVX512VNNI   /* the same int32 sums in two instructions */
    __m256i p = _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), lo, x0), hi, x1);
#else
    __m256i p = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, x0), _mm256_maddubs_epi16(hi, x1)),   /* <= 2*3810 */
                                  _mm256_set1_epi16(1));
#endif
    return _mm256_mul_ps(_mm256_cvtepi32_ps(p), _mm256_loadu_ps(xd));
}

/* Chunk c of token j into accumulator acc<j><h> (h: a for even chunks, b for odd ones, two
   chains to hide the FMA latency): acc += scale * dot64. */
#define LLM__MLX_Q4_TOKEN(j, h) \
    acc##j##h = _mm256_fmadd_ps(llm__mlx_q4_dot64(lo, hi, xq + (j) * k + c * 64, xd + (j) * (k / 8) + c * 8), s, acc##j##h)
#define LLM__MLX_Q4_CHUNK(h)                                                                                       \
    do {                                                                                                           \
        __m256 s = G == 32 ? _mm256_set_m128(_mm_set1_ps(sc[2 * c + 1]), _mm_set1_ps(sc[2 * c]))  /* 2 groups */  \
                           : _mm256_broadcast_ss(sc + (c >> shift));                                              \
        _mm_prefetch((const char *)w + c * 32 + 4096, _MM_HINT_T0);   /* 4 KB ahead: decode +20% vs 768 B */       \
        __m256i v = _mm256_loadu_si256((const __m256i *)(w + c * 32));                                             \
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);                 \
        LLM__MLX_Q4_TOKEN(0, h);                                                                                   \
        if (nt == 4) { LLM__MLX_Q4_TOKEN(1, h); LLM__MLX_Q4_TOKEN(2, h); LLM__MLX_Q4_TOKEN(3, h); }              \
    } while (0)

/* One packed 4-bit row against NT = 1 or 4 tokens (activations [NT, k], xd [NT, k/8],
   xs [NT, ng]): out[j*ldo] = sum over 64-chunks of scale * dot64 + bias . xs. Each chunk is
   loaded and unpacked once for all NT tokens, and every token gets the same operations in
   the same order whatever NT is, so prefill and decode agree bitwise. cols % 64 == 0.
   A macro so that each NT compiles to its own loop. */
#define LLM__MLX_Q4_ROW(NAME, NT)                                                                                  \
    static void NAME(const uint8_t *w, const float *sc, const float *bi, const int8_t *xq, const float *xd,       \
                     const float *xs, int64_t k, int64_t G, float *out, int64_t ldo) {                             \
        const int nt = NT;                                                                                         \
        const __m256i m4 = _mm256_set1_epi8(15);                                                                   \
        __m256 acc0a = _mm256_setzero_ps(), acc1a = acc0a, acc2a = acc0a, acc3a = acc0a;                           \
        __m256 acc0b = acc0a, acc1b = acc0a, acc2b = acc0a, acc3b = acc0a;                                         \
        int shift = G == 64 ? 0 : 1;          /* chunk c is in group c >> shift (G = 64, 128) */                  \
        int64_t c = 0;                                                                                             \
        for (; c + 2 <= k / 64; c++) {                                                                             \
            LLM__MLX_Q4_CHUNK(a);                                                                                  \
            c++;                                                                                                   \
            LLM__MLX_Q4_CHUNK(b);                                                                                  \
        }                                                                                                          \
        if (c < k / 64) LLM__MLX_Q4_CHUNK(a);                                                                      \
        __m256 acc[4] = { _mm256_add_ps(acc0a, acc0b), _mm256_add_ps(acc1a, acc1b), _mm256_add_ps(acc2a, acc2b),   \
                          _mm256_add_ps(acc3a, acc3b) };                                                           \
        for (int j = 0; j < nt; j++) out[j * ldo] = llm__hsum256(acc[j]) + llm__dot_f32_avx2(bi, xs + j * (k / G), k / G); \
    }
LLM__MLX_Q4_ROW(llm__mlx_row_q4_avx2, 1)
LLM__MLX_Q4_ROW(llm__mlx_row4_q4_avx2, 4)
#undef LLM__MLX_Q4_ROW
#undef LLM__MLX_Q4_CHUNK
#undef LLM__MLX_Q4_TOKEN

/* 8-bit: q*x does not fit maddubs (255*127*2 overflows int16), so the kernel uses q - 128
   (in [-128, 127]) and the caller folds the rest into the bias: s*q + b = s*(q-128) + (b + 128 s).
   maddubs(|q-128|, x * sign(q-128)) is then exact: at most 2*128*127 per pair. */
static float llm__mlx_row_q8_avx2(const uint8_t *w, const float *sc, const float *bi, const int8_t *xq,
                                  const float *xd, const float *xs, int64_t k, int64_t G) {
    const __m256i m128 = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    for (int64_t g = 0; g < k / G; g++) {
        __m256 accg = _mm256_setzero_ps();
        for (int64_t j = 0; j < G / 32; j++, w += 32, xq += 32, xd++) {
            __m256i qs = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)w), m128);
            __m256i x = _mm256_loadu_si256((const __m256i *)xq);
            __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(qs), _mm256_sign_epi8(x, qs)), ones);
            accg = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_broadcast_ss(xd), accg);
        }
        if (g & 1) acc1 = _mm256_fmadd_ps(accg, _mm256_set1_ps(sc[g]), acc1);
        else acc0 = _mm256_fmadd_ps(accg, _mm256_set1_ps(sc[g]), acc0);
    }
    return llm__hsum256(_mm256_add_ps(acc0, acc1)) + llm__dot_f32_avx2(bi, xs, k / G);
}

/* 2, 3, 5 and 6 bits. Element e of a 32-element block (4*bits bytes) lies in the 16-bit
   window at byte (e*bits)/8, from bit (e*bits)%8. Per 8 elements: pshufb those windows into
   16-bit lanes, shift each element to the top with a multiply by 2^(16 - bits - shift) (AVX2
   has no per-lane 16-bit shift), then down by 16 - bits. Constants for one bit width: */
typedef struct { __m256i shuf, mul; __m128i down; int bits; } llm__mlx_unpacker;

static llm__mlx_unpacker llm__mlx_unpacker_init(int bits) {
    llm__mlx_unpacker u;
    uint8_t shuf[32];
    int16_t mul[16];
    for (int e = 0; e < 16; e++) {
        int bit = (e & 7) * bits;
        shuf[2 * e] = (uint8_t)(bit >> 3);
        shuf[2 * e + 1] = (uint8_t)((bit >> 3) + 1);
        mul[e] = (int16_t)(1 << (16 - bits - (bit & 7)));
    }
    u.shuf = _mm256_loadu_si256((const __m256i *)shuf);
    u.mul = _mm256_loadu_si256((const __m256i *)mul);
    u.down = _mm_cvtsi32_si128(16 - bits);
    u.bits = bits;
    return u;
}

/* 32 elements at p as bytes, in the order [0-7, 16-23, 8-15, 24-31] (packus works per
   128-bit half). Reads 3*bits + 16 bytes from p. */
static inline __m256i llm__mlx_unpack32(const uint8_t *p, const llm__mlx_unpacker *u) {
    int b = u->bits;
    __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
                                         _mm_loadu_si128((const __m128i *)(p + b)), 1);             /* 0-7 | 8-15 */
    __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p + 2 * b))),
                                         _mm_loadu_si128((const __m128i *)(p + 3 * b)), 1);         /* 16-23 | 24-31 */
    lo = _mm256_srl_epi16(_mm256_mullo_epi16(_mm256_shuffle_epi8(lo, u->shuf), u->mul), u->down);
    hi = _mm256_srl_epi16(_mm256_mullo_epi16(_mm256_shuffle_epi8(hi, u->shuf), u->mul), u->down);
    return _mm256_packus_epi16(lo, hi);
}

/* A row of 2/3/5/6-bit weights against one token: q <= 63, so maddubs(q, x) cannot
   saturate (2*63*127 per pair). end: the end of the matrix; a block whose 16-byte loads would
   pass it is copied into a padded buffer first. */
static float llm__mlx_row_qn_avx2(const uint8_t *w, const uint8_t *end, const llm__mlx_unpacker *u, const float *sc,
                                  const float *bi, const int8_t *xq, const float *xd, const float *xs, int64_t k, int64_t G) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    for (int64_t g = 0; g < k / G; g++) {
        __m256 accg = _mm256_setzero_ps();
        for (int64_t j = 0; j < G / 32; j++, w += 4 * u->bits, xq += 32, xd++) {
            uint8_t pad[48];
            const uint8_t *p = w;
            if (end - w < 3 * u->bits + 16) {        /* only the matrix's last block or two */
                memset(pad, 0, sizeof pad);
                p = (const uint8_t *)memcpy(pad, w, (size_t)(4 * u->bits));
            }
            __m256i xv = _mm256_loadu_si256((const __m256i *)xq);
            __m256i prod = _mm256_madd_epi16(_mm256_maddubs_epi16(llm__mlx_unpack32(p, u), xv), ones);
            accg = _mm256_fmadd_ps(_mm256_cvtepi32_ps(prod), _mm256_broadcast_ss(xd), accg);
        }
        if (g & 1) acc1 = _mm256_fmadd_ps(accg, _mm256_set1_ps(sc[g]), acc1);
        else acc0 = _mm256_fmadd_ps(accg, _mm256_set1_ps(sc[g]), acc0);
    }
    return llm__hsum256(_mm256_add_ps(acc0, acc1)) + llm__dot_f32_avx2(bi, xs, k / G);
}

/* n scales or biases of dtype dt as f32 (8 at a time). */
static void llm__mlx_params_f32(float *dst, const void *src, llm_dtype dt, int64_t n) {
    int64_t i = 0;
    if (dt == LLM_DTYPE_F16) for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, llm__load8_f16((const uint16_t *)src + i));
    if (dt == LLM_DTYPE_BF16) for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, llm__load8_bf16((const uint16_t *)src + i));
    for (; i < n; i++) dst[i] = llm__mlx_param(src, dt, i);
}

/* Rows [r0, r1) x every token, LLM__MLX_ROWS rows at a time: their weights (16 KB for a
   4-bit row of 8192) stay in L2 while every token passes, and each token's activations stay
   in L1 across the block. scratch: the block's scales and biases as f32 (2*ROWS*ng floats). */
static void llm__matmul_mlx_avx2(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const llm__mlx_mm *mm = (const llm__mlx_mm *)a->w;
    const llm__qmat *q = mm->q;
    int64_t k = a->k, G = q->group_size, ng = k / G, row_bytes = k * q->bits / 8;
    const uint8_t *end = q->w + q->rows * row_bytes;
    llm__mlx_unpacker u = llm__mlx_unpacker_init(q->bits == 4 || q->bits == 8 ? 2 : q->bits);
    for (int64_t rb = r0; rb < r1; rb += LLM__MLX_ROWS) {
        int64_t nr = LLM__MIN(LLM__MLX_ROWS, r1 - rb);
        float *sc = scratch, *bi = scratch + nr * ng;          /* [nr, ng] each */
        llm__mlx_params_f32(sc, (const uint8_t *)q->scales + rb * ng * llm__dtypes[q->sdtype].block_bytes, q->sdtype, nr * ng);
        llm__mlx_params_f32(bi, (const uint8_t *)q->biases + rb * ng * llm__dtypes[q->sdtype].block_bytes, q->sdtype, nr * ng);
        if (q->bits == 8) for (int64_t i = 0; i < nr * ng; i++) bi[i] += 128.0f * sc[i];   /* see llm__mlx_row_q8_avx2 */
        for (int64_t t = 0; t < a->n_tok;) {
            int nt = q->bits == 4 && t + 4 <= a->n_tok ? 4 : 1;
            const int8_t *xq = mm->xq + t * k;
            const float *xd = mm->xd + t * (k / 8), *xs = mm->xs + t * ng;
            for (int64_t i = 0; i < nr; i++) {
                const uint8_t *w = q->w + (rb + i) * row_bytes;
                float *y = a->y + t * a->ldy + rb + i;
                if (nt == 4) llm__mlx_row4_q4_avx2(w, sc + i * ng, bi + i * ng, xq, xd, xs, k, G, y, a->ldy);
                else if (q->bits == 4) llm__mlx_row_q4_avx2(w, sc + i * ng, bi + i * ng, xq, xd, xs, k, G, y, a->ldy);
                else if (q->bits == 8) *y = llm__mlx_row_q8_avx2(w, sc + i * ng, bi + i * ng, xq, xd, xs, k, G);
                else *y = llm__mlx_row_qn_avx2(w, end, &u, sc + i * ng, bi + i * ng, xq, xd, xs, k, G);
            }
            t += nt;
        }
    }
}
LLM__AVX2_END
#endif

/* ---- the threaded entry point ---- */

/* Which path computes q: the int8 one needs AVX2 and affine weights (4-bit: cols % 64 == 0),
   and is off while llm_set_reference_kernels(true) is in force. */
static bool llm__mlx_fast(const llm__qmat *q) {
#ifdef LLM__AVX2
    return llm__k != &llm__kernels_scalar && q->fp_mode < 0 && (q->bits != 4 || q->cols % 64 == 0);
#else
    (void)q;
    return false;
#endif
}

/* Scratch bytes: per thread, and per token of the int8 activations (0 on the reference path). */
static size_t llm__mlx_thread_bytes(const llm__qmat *q, bool fast) {
    size_t b = fast ? 2 * LLM__MLX_ROWS * (size_t)(q->cols / q->group_size) * sizeof(float) : (size_t)q->cols * sizeof(float);
    return (b + LLM__ALIGN - 1) / LLM__ALIGN * LLM__ALIGN;
}
static size_t llm__mlx_token_bytes(const llm__qmat *q, bool fast) {
    return fast ? (size_t)q->cols + (size_t)(q->cols / 8 + q->cols / q->group_size) * sizeof(float) : 0;
}

/* Scratch that lets llm__matmul_mlx do n_tok tokens in one pass over the weights. */
LLM_PRIVATE size_t llm__mlx_scratch_bytes(const llm__qmat *q, int64_t n_tok, int n_threads) {
    bool fast = llm__mlx_fast(q);
    return (size_t)n_threads * llm__mlx_thread_bytes(q, fast) + (size_t)n_tok * llm__mlx_token_bytes(q, fast);
}

/* y[t*ldy + r] = dot(x[t], W[r]) for t < n_tok, r < q->rows; x is [n_tok, q->cols].
   scratch (float-aligned) must hold llm__mlx_scratch_bytes(q, 1, n_threads); with less than
   the bytes for all n_tok tokens, tokens go in tiles, each one more pass over the weights.
   Rows are split between threads; each output is reduced by one thread in a fixed order. */
LLM_PRIVATE void llm__matmul_mlx(llm_pool *pool, void *scratch, size_t scratch_bytes, float *y, int64_t ldy,
                                 const float *x, int64_t n_tok, const llm__qmat *q) {
    bool fast = llm__mlx_fast(q);
    int nth = llm_pool_n_threads(pool);
    size_t th = llm__mlx_thread_bytes(q, fast), tok = llm__mlx_token_bytes(q, fast);
    LLM_ASSERT(scratch_bytes >= llm__mlx_scratch_bytes(q, 1, nth));
    int64_t k = q->cols, tile = fast ? (int64_t)LLM__MIN((scratch_bytes - nth * th) / tok, (size_t)n_tok) : n_tok;
    llm__mlx_mm mm = { .q = q };
    if (fast) {                   /* after the per-thread parts: [tile, k/8] xd, [tile, k/G] xs, [tile, k] xq */
        mm.xd = (const float *)((uint8_t *)scratch + nth * th);
        mm.xs = mm.xd + tile * (k / 8);
        mm.xq = (const int8_t *)(mm.xs + tile * (k / q->group_size));
    }
    for (int64_t t0 = 0; t0 < n_tok; t0 += tile) {
        int64_t nt = LLM__MIN(tile, n_tok - t0);
        if (fast) {
            llm__mlx_xtask xt = { x + t0 * k, nt, k, q->group_size, q->bits, (int8_t *)mm.xq, (float *)mm.xd, (float *)mm.xs };
            if (nt >= 4) llm__parallel_for(pool, llm__mlx_quantize_x, &xt);
            else llm__mlx_quantize_x(&xt, 0, 1);     /* decode: not worth waking the pool */
        }
        llm__mm_task t = {
            .args = { .y = y + t0 * ldy, .ldy = ldy, .x = x + t0 * k, .n_tok = nt, .k = k, .w = &mm },
            .fn = llm__matmul_mlx_scalar,
            .n_rows = q->rows,
            .scratch = (float *)scratch,
            .scratch_stride = (int64_t)(th / sizeof(float)),
        };
#ifdef LLM__AVX2
        if (fast) t.fn = llm__matmul_mlx_avx2;
#endif
        llm__parallel_for(pool, llm__mm_worker, &t);
    }
}
