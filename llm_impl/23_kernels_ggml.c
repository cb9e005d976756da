/* ---- >>kernels_ggml: matmul kernels for llama.cpp's block-quantized weights ----
   Same contract as the float kernels (21_kernels_scalar.c): y[t*ldy + r] = dot(x[t], W[r])
   for rows r in [r0, r1), scratch = k floats per thread, each output computed the same
   way whatever the row split; except that the SIMD kernels read a->w as a llm__q8_mm
   (weights + activations already quantized, below).

   Scalar references, one per ggml type: dequantize a weight row into the scratch (exactly,
   with llm_dequantize) and take f32 dot products. They are the oracle for the fast kernels.

   The fast kernels do what llama.cpp does: the activations are quantized to 8 bits on the
   fly - per block of 32 (a scale d per block, its sum of codes and d times that sum) or per
   super-block of 256 for the k-quants (a scale and bsums, the sums of each 16 values, which
   pay for the mins and offsets) - and each weight block meets them in integer dot products:
   _mm256_maddubs_epi16 (u8 x i8 -> pairs summed in i16) then _mm256_madd_epi16 (-> i32).
   Signed weights take the sign trick: |w| * (x with w's sign). The result differs from the
   exact reference by the 8-bit rounding of the activations (relative error about 1e-2 of
   |x| |w| / sqrt(k) per output; tests/test_ggml_kernels.c states the bound it checks).

   Two layouts. q4_0, q8_0, q4_K and q6_K matrices are regrouped at load, 8 rows
   interleaved (the *_r8 dtypes, below): one register then holds 4 quants of each of 8
   rows, the int32 lanes are rows, and a tile of 8 rows x up to 4 tokens needs no horizontal
   sum (AVX2; NEON for q4_0 and q8_0). The other formats, and matrices that keep the file's
   layout, run in register tiles of 4 weight rows x 3 tokens (the 32-element formats: each
   weight block decoded once per tile, as llamafile's tinyBLAS does) or one row and one
   token at a time (q5_K).

   llm__matmul (24_kernels.c) quantizes every token's activations once per matmul
   (llm__q8_prepare, threads splitting the tokens) into the shared part of its scratch; the
   kernels then get them through a->w (a llm__q8_mm). Tokens go in chunks whose activations
   stay in L2 while a thread's rows pass. */
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
LLM__MATMUL_DEQ(llm__matmul_mxfp4_scalar, LLM_DTYPE_MXFP4)
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

/* Store sub-block s's 6-bit scale and min (the inverse of llm__k4_scales; q starts zeroed). */
static void llm__q4_K_put_scale_min(uint8_t q[12], int s, uint8_t sc, uint8_t m) {
    if (s < 4) {
        q[s] = sc;
        q[s + 4] = m;
    } else {
        q[s + 4] = (uint8_t)((sc & 15) | (m & 15) << 4);
        q[s - 4] |= (uint8_t)((sc >> 4) << 6);
        q[s] |= (uint8_t)((m >> 4) << 6);
    }
}

/* q4_0_r8, q8_0_r8, q4_K_r8, q6_K_r8: rows regrouped by 8 so that one 32-byte load holds
   4 bytes of quants of each of the 8 rows. Their AVX2 kernels then keep one row per int32
   lane from the products to the output, with no horizontal sums, and read one vector of
   the 8 rows' scales at a time: about twice the speed of the formats in place. The model
   makes them at load (llm__repack, 51_model.c). Rows [8g, 8g + 8) take the place of rows
   8g..8g+7, one column of 8 blocks after another:
     q4_0 (144 bytes)   16: the 8 f16 d (row j at 2j); 128: for chunk c = 0..3, for row j:
                        bytes 4c..4c+3 of row j's 16 nibble bytes
     q8_0 (272 bytes)   16: d; 256: chunks c = 0..7 of the 32 quants, 8 rows each
     q4_K (1184 bytes)  16: d; 16: dmin; 64: the 6-bit scales [sub-block s][row j];
                        64: the mins, alike; 1024: chunks c = 0..31 of the 128 nibble bytes
     q6_K (1680 bytes)  16: d; 128: the int8 scales [group of 16][row j]; 1536: for half
                        h, for c = 0..7: the chunks of ql bytes 64h + 4c, 64h + 32 + 4c and
                        of qh bytes 32h + 4c (the order the kernel reads them)
   so a slice of whole groups (an expert of a stack, q/k/v of a fused matrix) is a view. */
static llm_dtype llm__r8_of(llm_dtype dt) {
    switch (dt) {
    case LLM_DTYPE_Q4_0: return LLM_DTYPE_Q4_0_R8;
    case LLM_DTYPE_Q8_0: return LLM_DTYPE_Q8_0_R8;
    case LLM_DTYPE_Q4_K: return LLM_DTYPE_Q4_K_R8;
    case LLM_DTYPE_Q6_K: return LLM_DTYPE_Q6_K_R8;
    default:             return LLM_DTYPE_COUNT;
    }
}
static bool llm__is_r8(llm_dtype dt) { return dt >= LLM_DTYPE_Q4_0_R8 && dt <= LLM_DTYPE_Q6_K_R8; }
static llm_dtype llm__r8_base(llm_dtype dt) {
    switch (dt) {
    case LLM_DTYPE_Q4_0_R8: return LLM_DTYPE_Q4_0;
    case LLM_DTYPE_Q8_0_R8: return LLM_DTYPE_Q8_0;
    case LLM_DTYPE_Q4_K_R8: return LLM_DTYPE_Q4_K;
    default:                return LLM_DTYPE_Q6_K;
    }
}

/* Where a base block's parts go: its f16 d at byte d_at, n_chunks 4-byte chunks of quants
   from byte quants, to byte `at` of the column, chunk c at slot c (q6_K: llm__r8_slot). */
typedef struct { int d_at, quants, n_chunks, at; } llm__r8_layout;
static int llm__r8_slot(llm_dtype base, int c) {
    if (base != LLM_DTYPE_Q6_K) return c;
    if (c >= 32) return 3 * (c - 32) + 2;                  /* qh: half (c - 32) / 8 */
    return 3 * (8 * (c / 16) + c % 8) + (c % 16) / 8;      /* ql: half c / 16, first or second 32 bytes */
}
static llm__r8_layout llm__r8_layout_of(llm_dtype base) {
    switch (base) {
    case LLM_DTYPE_Q4_K: return (llm__r8_layout){ 0, 16, 32, 160 };
    case LLM_DTYPE_Q6_K: return (llm__r8_layout){ 208, 0, 48, 144 };
    default:             return (llm__r8_layout){ 0, 2, (llm__dtypes[base].block_bytes - 2) / 4, 16 };
    }
}

/* Row j's block `blk` of the base dtype into its place in a column of a group, or back. */
static void llm__r8_put(llm_dtype base, const uint8_t *blk, uint8_t *col, int j) {
    llm__r8_layout l = llm__r8_layout_of(base);
    memcpy(col + 2 * j, blk + l.d_at, 2);
    if (base == LLM_DTYPE_Q4_K) {
        uint8_t sc[8], m[8];
        memcpy(col + 16 + 2 * j, blk + 2, 2);
        llm__k4_scales(blk + 4, sc, m);
        for (int s = 0; s < 8; s++) col[32 + 8 * s + j] = sc[s], col[96 + 8 * s + j] = m[s];
    }
    if (base == LLM_DTYPE_Q6_K)
        for (int s = 0; s < 16; s++) col[16 + 8 * s + j] = blk[192 + s];
    for (int c = 0; c < l.n_chunks; c++) memcpy(col + l.at + 32 * llm__r8_slot(base, c) + 4 * j, blk + l.quants + 4 * c, 4);
}
static void llm__r8_get(llm_dtype base, const uint8_t *col, int j, uint8_t *blk) {
    llm__r8_layout l = llm__r8_layout_of(base);
    memcpy(blk + l.d_at, col + 2 * j, 2);
    if (base == LLM_DTYPE_Q4_K) {
        memcpy(blk + 2, col + 16 + 2 * j, 2);
        memset(blk + 4, 0, 12);
        for (int s = 0; s < 8; s++) llm__q4_K_put_scale_min(blk + 4, s, col[32 + 8 * s + j], col[96 + 8 * s + j]);
    }
    if (base == LLM_DTYPE_Q6_K)
        for (int s = 0; s < 16; s++) blk[192 + s] = col[16 + 8 * s + j];
    for (int c = 0; c < l.n_chunks; c++) memcpy(blk + l.quants + 4 * c, col + l.at + 32 * llm__r8_slot(base, c) + 4 * j, 4);
}

/* 8 rows of k weights of the base dtype -> one group. */
static void llm__r8_pack(llm_dtype base, const uint8_t *rows, uint8_t *group, int64_t k) {
    int64_t qk = llm__dtypes[base].block_elems;
    size_t bb = (size_t)llm__dtypes[base].block_bytes, row_bytes = (size_t)(k / qk) * bb;
    size_t col_bytes = 8 * (size_t)llm__dtypes[llm__r8_of(base)].block_bytes;
    for (int64_t b = 0; b < k / qk; b++, group += col_bytes)
        for (int j = 0; j < 8; j++) llm__r8_put(base, rows + (size_t)j * row_bytes + (size_t)b * bb, group, j);
}

/* Row r of a regrouped [rows, k] matrix, dequantized as the base format's blocks are. */
static void llm__r8_row_f32(llm_dtype dt, const uint8_t *w, int64_t k, int64_t r, float *out) {
    llm_dtype base = llm__r8_base(dt);
    int64_t qk = llm__dtypes[base].block_elems;
    size_t col_bytes = 8 * (size_t)llm__dtypes[dt].block_bytes;
    const uint8_t *group = w + (size_t)(r / 8) * (size_t)(k / qk) * col_bytes;
    for (int64_t b = 0; b < k / qk; b++) {
        uint8_t blk[210];
        llm__r8_get(base, group + (size_t)b * col_bytes, (int)(r % 8), blk);
        (void)llm_dequantize(base, blk, out + qk * b, qk);
    }
}

/* Scalar reference: each row unpacked into the scratch, then f32 dot products. */
static void llm__matmul_r8_scalar(llm_dtype dt, const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    for (int64_t r = r0; r < r1; r++) {
        llm__r8_row_f32(dt, (const uint8_t *)a->w, a->k, r, scratch);
        for (int64_t t = 0; t < a->n_tok; t++) a->y[t * a->ldy + r] = llm__dot_f32_scalar(a->x + t * a->k, scratch, a->k);
    }
}
static void llm__matmul_q4_0_r8_scalar(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { llm__matmul_r8_scalar(LLM_DTYPE_Q4_0_R8, a, r0, r1, s); }
static void llm__matmul_q8_0_r8_scalar(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { llm__matmul_r8_scalar(LLM_DTYPE_Q8_0_R8, a, r0, r1, s); }
static void llm__matmul_q4_K_r8_scalar(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { llm__matmul_r8_scalar(LLM_DTYPE_Q4_K_R8, a, r0, r1, s); }
static void llm__matmul_q6_K_r8_scalar(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { llm__matmul_r8_scalar(LLM_DTYPE_Q6_K_R8, a, r0, r1, s); }

/* One token's activations in 8 bits: x[i] ~ d[i / qk] * q[i]. qk 32: s[b] = d[b] * sum of
   block b's q, qsum[b] = that sum. qk 256: bsums[g] = sum of q[16g .. 16g + 16). */
typedef struct llm__q8_act {
    const int8_t *q;
    const float *d, *s;
    const int32_t *qsum;
    const int16_t *bsums;
} llm__q8_act;

/* Bytes one quantized token takes in the shared scratch (a whole number of cache lines):
   k int8, then qk 32: d[k/32], s[k/32], qsum[k/32]; qk 256: d[k/256], bsums[k/16]. */
LLM_PRIVATE size_t llm__q8_act_bytes(int64_t k, int qk) {
    size_t n = (size_t)k + (qk == 32 ? 12 * (size_t)k / 32 : 4 * (size_t)k / 256 + 2 * (size_t)k / 16);
    return (n + 63) / 64 * 64;
}

/* Token t's parts in the shared scratch. */
LLM_PRIVATE llm__q8_act llm__q8_token(const uint8_t *act, size_t act_bytes, int64_t t, int64_t k, int qk) {
    const uint8_t *p = act + (size_t)t * act_bytes;
    const float *d = (const float *)(p + k);
    llm__q8_act a = { (const int8_t *)p, d, NULL, NULL, NULL };
    if (qk == 32) a.s = d + k / 32, a.qsum = (const int32_t *)(d + 2 * (k / 32));
    else a.bsums = (const int16_t *)(d + k / 256);
    return a;
}

/* What the AVX2 kernels of the block formats get as a->w: the weights and every token's
   activations, quantized once per matmul by llm__q8_prepare. */
typedef struct llm__q8_mm {
    const uint8_t *w;         /* [n_rows] blocks */
    const uint8_t *act;       /* [n_tok] quantized tokens, act_bytes apart */
    size_t act_bytes;
} llm__q8_mm;

typedef struct {
    const float *x;
    int64_t n_tok, k;
    int qk;
    uint8_t *act;
    size_t act_bytes;
} llm__q8_prep_task;

/* The portable quantizers (the NEON kernels' activations): the same rounding as the AVX2
   ones (x * (127 / amax) to nearest even), one block of 32 at a time; returns its sum. */
LLM_PRIVATE int32_t llm__q8_block_scalar(const float *x, float id, int8_t *q) {
    int32_t sum = 0;
    for (int i = 0; i < 32; i++) sum += q[i] = (int8_t)nearbyintf(x[i] * id);
    return sum;
}
LLM_PRIVATE float llm__absmax_scalar(const float *x, int64_t n) {
    float m = 0;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    return m;
}
LLM_PRIVATE void llm__q8_quant32_scalar(const float *x, int64_t k, int8_t *q, float *d, float *s, int32_t *qsum) {
    for (int64_t b = 0; b < k / 32; b++) {
        float amax = llm__absmax_scalar(x + 32 * b, 32);
        d[b] = amax / 127.0f;
        qsum[b] = llm__q8_block_scalar(x + 32 * b, amax > 0 ? 127.0f / amax : 0.0f, q + 32 * b);
        s[b] = d[b] * (float)qsum[b];
    }
}
LLM_PRIVATE void llm__q8_quant256_scalar(const float *x, int64_t k, int8_t *q, float *d, int16_t *bsums) {
    for (int64_t b = 0; b < k / 256; b++) {
        float amax = llm__absmax_scalar(x + 256 * b, 256), id = amax > 0 ? 127.0f / amax : 0.0f;
        d[b] = amax / 127.0f;
        for (int j = 0; j < 8; j++) {
            int8_t *qj = q + 256 * b + 32 * j;
            llm__q8_block_scalar(x + 256 * b + 32 * j, id, qj);
            for (int h = 0; h < 2; h++) {
                int32_t sum = 0;
                for (int i = 0; i < 16; i++) sum += qj[16 * h + i];
                bsums[16 * b + 2 * j + h] = (int16_t)sum;
            }
        }
    }
}
#ifdef LLM__AVX2
static void llm__q8_quant32_avx2(const float *x, int64_t k, int8_t *q, float *d, float *s, int32_t *qsum);
static void llm__q8_quant256_avx2(const float *x, int64_t k, int8_t *q, float *d, int16_t *bsums);
#define LLM__Q8_QUANT(qk) llm__q8_quant##qk##_avx2
#else
#define LLM__Q8_QUANT(qk) llm__q8_quant##qk##_scalar
#endif

LLM_PRIVATE void llm__q8_prep_worker(void *ctx, int ith, int nth) {
    const llm__q8_prep_task *p = (const llm__q8_prep_task *)ctx;
    int64_t t0, t1;
    llm__split(p->n_tok, ith, nth, &t0, &t1);     /* tokens are independent: any split gives the same bytes */
    for (int64_t t = t0; t < t1; t++) {
        uint8_t *m = p->act + (size_t)t * p->act_bytes;
        float *d = (float *)(m + p->k);
        if (p->qk == 32) LLM__Q8_QUANT(32)(p->x + t * p->k, p->k, (int8_t *)m, d, d + p->k / 32, (int32_t *)(d + 2 * (p->k / 32)));
        else LLM__Q8_QUANT(256)(p->x + t * p->k, p->k, (int8_t *)m, d, (int16_t *)(d + p->k / 256));
    }
}

/* Quantize x [n_tok, k] per block of qk (32, or 256 for the k-quants) into act, which holds
   n_tok * llm__q8_act_bytes(k, qk) bytes; the result is the kernels' a->w. */
LLM_PRIVATE llm__q8_mm llm__q8_prepare(llm_pool *pool, const float *x, int64_t n_tok, int64_t k, int qk, void *act,
                                      const void *w) {
    llm__q8_prep_task p = { x, n_tok, k, qk, (uint8_t *)act, llm__q8_act_bytes(k, qk) };
    if (n_tok >= 4) llm__parallel_for(pool, llm__q8_prep_worker, &p);
    else llm__q8_prep_worker(&p, 0, 1);          /* decoding: not worth waking the pool */
    return (llm__q8_mm){ (const uint8_t *)w, p.act, p.act_bytes };
}

/* Token chunks whose quantized activations stay in L2 (256 KB) while the thread's rows pass
   (a multiple of 3 tokens, the in-place kernels' tile). */
LLM_PRIVATE int64_t llm__q8_chunk(size_t act_bytes) { return LLM__MAX(3, (int64_t)(((size_t)256 << 10) / act_bytes) / 3 * 3); }

/* The regrouped formats, with the tiles of a SIMD flavour: rows [r0, r1) (whole groups:
   llm__matmul deals 16-row panels) x tokens in tiles of up to 4 (3 for the k-quants, whose
   tiles need more registers), within token chunks. */
#define LLM__UNROLL _Pragma("GCC unroll 8")   /* unrolled loops keep acc[][] in registers, constants constant */
typedef void (*llm__r8_tile_fn)(llm_dtype dt, int rn, const uint8_t *g, const llm__q8_act *x, int64_t k, float *y, int64_t ldy);
#define LLM__BY_RN(rn, CALL) switch (rn) { case 4: CALL(4); break; case 3: CALL(3); break; case 2: CALL(2); break; default: CALL(1); break; }

LLM_PRIVATE void llm__matmul_r8(llm_dtype dt, llm__r8_tile_fn tile, const llm__mm_args *a, int64_t r0, int64_t r1) {
    const llm__q8_mm *m = (const llm__q8_mm *)a->w;
    int qk = (int)llm__dtypes[dt].block_elems, max_rn = qk == 32 ? 4 : 3;
    size_t group_bytes = 8 * llm_dtype_n_bytes(dt, a->k);
    int64_t chunk = llm__q8_chunk(m->act_bytes);
    for (int64_t tc = 0; tc < a->n_tok; tc += chunk) {
        int64_t te = LLM__MIN(tc + chunk, a->n_tok);
        for (int64_t r = r0; r < r1; r += 8)
            for (int64_t t = tc; t < te;) {
                int rn = (int)LLM__MIN(max_rn, te - t);
                llm__q8_act x[4];
                for (int j = 0; j < rn; j++) x[j] = llm__q8_token(m->act, m->act_bytes, t + j, a->k, qk);
                tile(dt, rn, m->w + (size_t)(r / 8) * group_bytes, x, a->k, a->y + t * a->ldy + r, a->ldy);
                t += rn;
            }
    }
}

#ifdef LLM__AVX2
LLM__AVX2_BEGIN

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

/* Quantize one token (k floats) per block of 32 into q, d, s, qsum. */
static void llm__q8_quant32_avx2(const float *x, int64_t k, int8_t *q, float *d, float *s, int32_t *qsum) {
    for (int64_t b = 0; b < k / 32; b++) {
        float amax = llm__hmax256(llm__absmax8(x + 32 * b, 32, _mm256_setzero_ps()));
        float db = amax / 127.0f;
        __m256i v[4];
        llm__q8_store32(x + 32 * b, _mm256_set1_ps(amax > 0 ? 127.0f / amax : 0.0f), q + 32 * b, v);
        d[b] = db;
        qsum[b] = llm__hsum256_i32(_mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3])));
        s[b] = db * (float)qsum[b];
    }
}

/* Quantize one token per super-block of 256 into q, d, bsums. */
static void llm__q8_quant256_avx2(const float *x, int64_t k, int8_t *q, float *d, int16_t *bsums) {
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

/* 16 bytes of nibbles -> 32 bytes: the low nibbles (elements 0..15), then the high ones. */
static inline __m256i llm__nibbles(const uint8_t *p) {
    __m128i t = _mm_loadu_si128((const __m128i *)p);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(15));
}

static inline float llm__f16(const uint8_t *p) { uint16_t h; memcpy(&h, p, 2); return _cvtsh_ss(h); }   /* F16C */

/* 32 bits (a little-endian u32 at p) -> 32 bytes: 16 where bit j is set, else 0. */
static inline __m256i llm__bit4s(const uint8_t *p) {
    uint32_t u;
    memcpy(&u, p, 4);
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((int64_t)0x8040201008040201ull);
    __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)u), spread), bit);   /* byte j keeps bit j % 8 of byte j / 8 */
    return _mm256_and_si256(_mm256_cmpeq_epi8(v, bit), _mm256_set1_epi8(16));
}

/* The 32-element formats, one tile of RM weight rows x RN tokens: each weight block is
   decoded once per tile and met by the RN tokens (int8 dot products in registers).
     q4_0 (18 bytes): f16 d, 16 bytes of nibbles;                 w = d * (q - 8)
     q4_1 (20 bytes): f16 d, f16 m, 16 bytes of nibbles;          w = d * q + m
     q5_0 (22 bytes): f16 d, u32 qh (fifth bits), nibbles;        w = d * (q - 16)
     q5_1 (24 bytes): f16 d, f16 m, u32 qh, nibbles;              w = d * q + m
     q8_0 (34 bytes): f16 d, 32 int8;                             w = d * q
   All but q8_0 are w = d * u + c with unsigned codes u, so maddubs(u, x) needs no sign
   trick, and c (m, or -8d, -16d) meets s = d_x * sum of the token's block codes. q8_0
   takes the sign trick: |q| * (x with q's sign). The c terms of the RM rows share one FMA
   per token and block (the lanes of corr). Every output gets the same operations in the
   same order whatever RM, RN and the tile it falls in, so thread counts and batch sizes
   agree bitwise.
   Called with constants f, RM, RN: each caller gets its own unrolled copy. */
typedef enum { LLM__B32_Q4_0, LLM__B32_Q4_1, LLM__B32_Q5_0, LLM__B32_Q5_1, LLM__B32_Q8_0 } llm__b32;
#ifndef LLM__TILE_TOKS
#define LLM__TILE_ROWS 4
#define LLM__TILE_TOKS 3
#endif

static LLM__INLINE void llm__tile32(llm__b32 f, int RM, int RN, const uint8_t *w, size_t row_bytes, const llm__q8_act *x,
                                    int64_t k, float *y, int64_t ldy) {
    static const int bytes[] = { 18, 20, 22, 24, 34 };
    const bool q8 = f == LLM__B32_Q8_0;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[LLM__TILE_ROWS][4];
    __m128 corr[4];
    LLM__UNROLL for (int t = 0; t < RN; t++) {
        corr[t] = _mm_setzero_ps();
        LLM__UNROLL for (int r = 0; r < RM; r++) acc[r][t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < k / 32; b++) {
        __m256i q[LLM__TILE_ROWS];
        float d[LLM__TILE_ROWS], c[4] = { 0, 0, 0, 0 };
        LLM__UNROLL for (int r = 0; r < RM; r++) {
            const uint8_t *p = w + (size_t)r * row_bytes + (size_t)b * bytes[f];
            if (q8 && RN == 1)   /* decode: the next tile's row (+25% for q8_0; it slowed the 18-byte q4_0 blocks) */
                _mm_prefetch((const char *)p + LLM__TILE_ROWS * row_bytes + 512, _MM_HINT_T0);
            d[r] = llm__f16(p);
            switch (f) {
            case LLM__B32_Q4_0: q[r] = llm__nibbles(p + 2); c[r] = -8 * d[r]; break;
            case LLM__B32_Q4_1: q[r] = llm__nibbles(p + 4); c[r] = llm__f16(p + 2); break;
            case LLM__B32_Q5_0: q[r] = _mm256_or_si256(llm__nibbles(p + 6), llm__bit4s(p + 2)); c[r] = -16 * d[r]; break;
            case LLM__B32_Q5_1: q[r] = _mm256_or_si256(llm__nibbles(p + 8), llm__bit4s(p + 4)); c[r] = llm__f16(p + 2); break;
            default:            q[r] = _mm256_loadu_si256((const __m256i *)(p + 2)); break;
            }
        }
        __m128 cv = _mm_loadu_ps(c);
        LLM__UNROLL for (int t = 0; t < RN; t++) {
            float dx = x[t].d[b];
            LLM__UNROLL for (int r = 0; r < RM; r++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(x[t].q + 32 * b));
                __m256i p = q8 ? _mm256_maddubs_epi16(_mm256_sign_epi8(q[r], q[r]), _mm256_sign_epi8(xv, q[r]))
                               : _mm256_maddubs_epi16(q[r], xv);
                acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(d[r] * dx), _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones)), acc[r][t]);
            }
            if (!q8) corr[t] = _mm_fmadd_ps(cv, _mm_set1_ps(x[t].s[b]), corr[t]);
        }
    }
    LLM__UNROLL for (int t = 0; t < RN; t++) {
        float cs[4];
        _mm_storeu_ps(cs, corr[t]);
        for (int r = 0; r < RM; r++) y[t * ldy + r] = llm__hsum256(acc[r][t]) + cs[r];
    }
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
        LLM__UNROLL for (int s = 0; s < 8; s++) {
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
   bits at shift 2c of qh[32h ..]. The -32 is paid with bsums: sum (q - 32) x = sum q x - 32 sum x,
   all 16 scale x bsum products in one madd. Chunk g's two scales ([sc[2g] x8 | sc[2g+1] x8]
   as int16) come from one pshufb of the scales and a sign extension. */
static float llm__qdot1_q6_K(const uint8_t *w, const llm__q8_act *x, int64_t k) {
    const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++, w += 210) {
        const int8_t *xq = x->q + 256 * b;
        __m128i sc = _mm_loadu_si128((const __m128i *)(w + 192));
        __m256i corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc), _mm256_loadu_si256((const __m256i *)(x->bsums + 16 * b)));
        __m256i isum = _mm256_setzero_si256();
        LLM__UNROLL for (int h = 0; h < 2; h++) {
            __m256i qh = _mm256_loadu_si256((const __m256i *)(w + 128 + 32 * h));
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(w + 64 * h)), l1 = _mm256_loadu_si256((const __m256i *)(w + 64 * h + 32));
            __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
                _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30)),
            };
            LLM__UNROLL for (int c = 0; c < 4; c++) {
                int g = 8 * h + 2 * c;
                __m128i pick = _mm_set_epi8(g + 1, g + 1, g + 1, g + 1, g + 1, g + 1, g + 1, g + 1, g, g, g, g, g, g, g, g);
                __m256i scale = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, pick));
                __m256i p = _mm256_maddubs_epi16(q[c], _mm256_loadu_si256((const __m256i *)(xq + 128 * h + 32 * c)));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scale));
            }
        }
        __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(isum, _mm256_slli_epi32(corr, 5)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(llm__f16(w + 208) * x->d[b]), v, acc);
    }
    return llm__hsum256(acc);
}


/* The 32-element formats: rows [r0, r1) in tiles of 4 (then 1) x tokens in tiles of 3 (then
   2, 1), within token chunks. */
#define LLM__MATMUL_B32(name, F, DT)                                                                            \
    static void name(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {                        \
        const llm__q8_mm *m = (const llm__q8_mm *)a->w;                                                      \
        size_t row_bytes = llm_dtype_n_bytes(DT, a->k);                                                      \
        int64_t chunk = llm__q8_chunk(m->act_bytes);                                                         \
        (void)scratch;                                                                                       \
        for (int64_t tc = 0; tc < a->n_tok; tc += chunk) {                                                  \
            int64_t te = LLM__MIN(tc + chunk, a->n_tok);                                                     \
            for (int64_t r = r0; r < r1;) {                                                                  \
                int rm = r1 - r >= LLM__TILE_ROWS ? LLM__TILE_ROWS : 1;                                      \
                const uint8_t *w = m->w + (size_t)r * row_bytes;                                             \
                for (int64_t t = tc; t < te;) {                                                              \
                    int rn = (int)LLM__MIN(LLM__TILE_TOKS, te - t);                                          \
                    llm__q8_act x[LLM__TILE_TOKS];                                                           \
                    for (int j = 0; j < rn; j++) x[j] = llm__q8_token(m->act, m->act_bytes, t + j, a->k, 32); \
                    float *y = a->y + t * a->ldy + r;                                                        \
                    switch (rm * 4 + rn) {                                                                   \
                    case 4 * 4 + 3: llm__tile32(F, 4, 3, w, row_bytes, x, a->k, y, a->ldy); break;          \
                    case 4 * 4 + 2: llm__tile32(F, 4, 2, w, row_bytes, x, a->k, y, a->ldy); break;          \
                    case 4 * 4 + 1: llm__tile32(F, 4, 1, w, row_bytes, x, a->k, y, a->ldy); break;          \
                    case 1 * 4 + 3: llm__tile32(F, 1, 3, w, row_bytes, x, a->k, y, a->ldy); break;          \
                    case 1 * 4 + 2: llm__tile32(F, 1, 2, w, row_bytes, x, a->k, y, a->ldy); break;          \
                    default:        llm__tile32(F, 1, 1, w, row_bytes, x, a->k, y, a->ldy); break;          \
                    }                                                                                        \
                    t += rn;                                                                                 \
                }                                                                                            \
                r += rm;                                                                                     \
            }                                                                                                \
        }                                                                                                    \
    }
LLM__MATMUL_B32(llm__matmul_q4_0_avx2, LLM__B32_Q4_0, LLM_DTYPE_Q4_0)
LLM__MATMUL_B32(llm__matmul_q4_1_avx2, LLM__B32_Q4_1, LLM_DTYPE_Q4_1)
LLM__MATMUL_B32(llm__matmul_q5_0_avx2, LLM__B32_Q5_0, LLM_DTYPE_Q5_0)
LLM__MATMUL_B32(llm__matmul_q5_1_avx2, LLM__B32_Q5_1, LLM_DTYPE_Q5_1)
LLM__MATMUL_B32(llm__matmul_q8_0_avx2, LLM__B32_Q8_0, LLM_DTYPE_Q8_0)
#undef LLM__MATMUL_B32

/* q4_0_r8 / q8_0_r8, one group of 8 rows x RN tokens. Per block and token, lane j of the
   int32 sums is row j's dot product: 4-byte chunks of the 8 rows meet the token's matching
   4 bytes, broadcast (maddubs multiplies and adds pairs, madd the pairs of pairs).
   q4_0's codes are unsigned (w = d (u - 8)): 8 products stay within int16
   (8 x 2 x 15 x 127 < 2^15) before one madd, and the -8 is paid in integers, 8 qsum.
   q8_0's are signed: |w| meets x with w's sign, each product pair can reach 2 x 128 x 127,
   so each chunk has its own madd. Every output gets the same operations whatever RN, so
   batch sizes agree bitwise. */
static LLM__INLINE void llm__tile_r8(bool q8, int RN, const uint8_t *g, const llm__q8_act *x, int64_t k, float *y, int64_t ldy) {
    const __m256i m4 = _mm256_set1_epi8(15);
#ifndef LLM__AVX512VNNI
    const __m256i ones = _mm256_set1_epi16(1);
#endif
    const int n_chunks = q8 ? 8 : 4;
    __m256 acc[4];
    LLM__UNROLL for (int t = 0; t < RN; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < k / 32; b++, g += q8 ? 272 : 144) {
        __m256i sum[4];   /* q4_0: int16 pairs (int32 with VNNI); q8_0: int32 */
        LLM__UNROLL for (int t = 0; t < RN; t++) sum[t] = _mm256_setzero_si256();
        LLM__UNROLL for (int c = 0; c < n_chunks; c++) {
            __m256i raw = _mm256_loadu_si256((const __m256i *)(g + 16 + 32 * c));
            if (q8) {
                __m256i mag = _mm256_sign_epi8(raw, raw);
                LLM__UNROLL for (int t = 0; t < RN; t++) {
                    int32_t xc;
                    memcpy(&xc, x[t].q + 32 * b + 4 * c, 4);
#ifdef LLM__AVX512VNNI
                    sum[t] = _mm256_dpbusd_epi32(sum[t], mag, _mm256_sign_epi8(_mm256_set1_epi32(xc), raw));
#else
                    __m256i p = _mm256_maddubs_epi16(mag, _mm256_sign_epi8(_mm256_set1_epi32(xc), raw));
                    sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(p, ones));
#endif
                }
                continue;
            }
            __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
            LLM__UNROLL for (int t = 0; t < RN; t++) {
                int32_t xl, xh;   /* elements 4c.. (low nibbles) and 16 + 4c.. (high) */
                memcpy(&xl, x[t].q + 32 * b + 4 * c, 4);
                memcpy(&xh, x[t].q + 32 * b + 16 + 4 * c, 4);
#ifdef LLM__AVX512VNNI
                sum[t] = _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(sum[t], lo, _mm256_set1_epi32(xl)), hi, _mm256_set1_epi32(xh));
#else
                sum[t] = _mm256_add_epi16(sum[t], _mm256_maddubs_epi16(lo, _mm256_set1_epi32(xl)));
                sum[t] = _mm256_add_epi16(sum[t], _mm256_maddubs_epi16(hi, _mm256_set1_epi32(xh)));
#endif
            }
        }
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g));
        LLM__UNROLL for (int t = 0; t < RN; t++) {
#ifdef LLM__AVX512VNNI
            __m256i dot = q8 ? sum[t] : _mm256_sub_epi32(sum[t], _mm256_set1_epi32(8 * x[t].qsum[b]));
#else
            __m256i dot = q8 ? sum[t] : _mm256_sub_epi32(_mm256_madd_epi16(sum[t], ones), _mm256_set1_epi32(8 * x[t].qsum[b]));
#endif
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(x[t].d[b])), _mm256_cvtepi32_ps(dot), acc[t]);
        }
    }
    LLM__UNROLL for (int t = 0; t < RN; t++) _mm256_storeu_ps(y + t * ldy, acc[t]);
}


/* 8 u8 (the 8 rows' scale of a sub-block) -> 16 int16, each twice: the madd factors of
   the row pairs of int16 sums. */
static inline __m256i llm__dup8_u8(const uint8_t *p) {
    __m128i v = _mm_loadl_epi64((const __m128i *)p);
    return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v));
}

/* q4_K_r8, one group of 8 rows x RN tokens: per sub-block pair (2i, 2i+1) the low nibbles
   of 8 chunks give sub-block 2i, the high ones 2i + 1, each summed in int16 (8 products,
   as q4_0) and scaled in a madd by the 8 rows' 6-bit scales. The mins meet the token's
   sums of 16 (bsums) in one madd per sub-block. */
static LLM__INLINE void llm__tile_q4_K_r8(int RN, const uint8_t *g, const llm__q8_act *x, int64_t k, float *y, int64_t ldy) {
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256 acc[4];
    LLM__UNROLL for (int t = 0; t < RN; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++, g += 1184) {
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g)), dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(g + 16)));
        __m256i isum[4];
        LLM__UNROLL for (int t = 0; t < RN; t++) {
            __m256i msum = _mm256_setzero_si256();
            for (int s = 0; s < 8; s++) {
                int32_t pair;   /* the two sums of 16 of sub-block s */
                memcpy(&pair, x[t].bsums + 16 * b + 2 * s, 4);
                msum = _mm256_add_epi32(msum, _mm256_madd_epi16(llm__dup8_u8(g + 96 + 8 * s), _mm256_set1_epi32(pair)));
            }
            acc[t] = _mm256_fnmadd_ps(_mm256_mul_ps(dmin, _mm256_set1_ps(x[t].d[b])), _mm256_cvtepi32_ps(msum), acc[t]);
            isum[t] = _mm256_setzero_si256();
        }
        LLM__UNROLL for (int i = 0; i < 4; i++) {
            __m256i lo16[4], hi16[4];
            LLM__UNROLL for (int t = 0; t < RN; t++) lo16[t] = hi16[t] = _mm256_setzero_si256();
            LLM__UNROLL for (int c = 0; c < 8; c++) {
                __m256i raw = _mm256_loadu_si256((const __m256i *)(g + 160 + 32 * (8 * i + c)));
                __m256i lo = _mm256_and_si256(raw, m4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
                LLM__UNROLL for (int t = 0; t < RN; t++) {
                    int32_t xl, xh;   /* elements 64i + 4c.. (low nibbles) and 64i + 32 + 4c.. (high) */
                    memcpy(&xl, x[t].q + 256 * b + 64 * i + 4 * c, 4);
                    memcpy(&xh, x[t].q + 256 * b + 64 * i + 32 + 4 * c, 4);
                    lo16[t] = _mm256_add_epi16(lo16[t], _mm256_maddubs_epi16(lo, _mm256_set1_epi32(xl)));
                    hi16[t] = _mm256_add_epi16(hi16[t], _mm256_maddubs_epi16(hi, _mm256_set1_epi32(xh)));
                }
            }
            __m256i sl = llm__dup8_u8(g + 32 + 16 * i), sh = llm__dup8_u8(g + 40 + 16 * i);
            LLM__UNROLL for (int t = 0; t < RN; t++)
                isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(lo16[t], sl), _mm256_madd_epi16(hi16[t], sh)));
        }
        LLM__UNROLL for (int t = 0; t < RN; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(x[t].d[b])), _mm256_cvtepi32_ps(isum[t]), acc[t]);
    }
    LLM__UNROLL for (int t = 0; t < RN; t++) _mm256_storeu_ps(y + t * ldy, acc[t]);
}

/* 16 int8 (sub-blocks 2p and 2p + 1 of the 8 rows, 8 bytes each) -> per row j the int16
   pair (scale of 2p, scale of 2p + 1): the madd factors against a token's pair of bsums. */
static inline __m256i llm__pair8_i8(const uint8_t *p) {
    return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)p), _mm_loadl_epi64((const __m128i *)(p + 8))));
}
static inline __m256i llm__dup8_i8(const uint8_t *p) {
    __m128i v = _mm_loadl_epi64((const __m128i *)p);
    return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(v, v));
}

/* q6_K_r8, one group of 8 rows x RN tokens. Chunk c of half h holds elements 4c.. of the
   half's four quarters: the low and high nibbles of ql bytes 4c.. (quarters 0, 2) and
   32 + 4c.. (1, 3), with bit pairs 0, 1, 2, 3 of the qh bytes. A maddubs of 6-bit codes
   reaches 2 x 63 x 127, so two (chunks c, c + 1: one group of 16) are summed in int16 and
   scaled by the group's int8 scales (madd).
   The -32 of the codes is paid with the bsums, in one madd per pair of groups. */
static LLM__INLINE void llm__tile_q6_K_r8(int RN, const uint8_t *g, const llm__q8_act *x, int64_t k, float *y, int64_t ldy) {
    const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
    __m256 acc[4];
    LLM__UNROLL for (int t = 0; t < RN; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++, g += 1680) {
        __m256i isum[4];
        LLM__UNROLL for (int t = 0; t < RN; t++) {
            __m256i corr = _mm256_setzero_si256();
            for (int p = 0; p < 8; p++) {
                int32_t pair;
                memcpy(&pair, x[t].bsums + 16 * b + 2 * p, 4);
                corr = _mm256_add_epi32(corr, _mm256_madd_epi16(llm__pair8_i8(g + 16 + 16 * p), _mm256_set1_epi32(pair)));
            }
            isum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));
        }
        LLM__UNROLL for (int h = 0; h < 2; h++)
            for (int c = 0; c < 8; c += 2) {   /* chunks c, c + 1: the same groups, int16 sums of two maddubs */
                __m256i sum[4][4];
                LLM__UNROLL for (int cc = 0; cc < 2; cc++) {
                    const uint8_t *q = g + 144 + 96 * (8 * h + c + cc);
                    __m256i la = _mm256_loadu_si256((const __m256i *)q), lb = _mm256_loadu_si256((const __m256i *)(q + 32));
                    __m256i hb = _mm256_loadu_si256((const __m256i *)(q + 64));
                    __m256i v[4] = {
                        _mm256_or_si256(_mm256_and_si256(la, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30)),
                        _mm256_or_si256(_mm256_and_si256(lb, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30)),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), m4), _mm256_and_si256(hb, m30)),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), m4), _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30)),
                    };
                    LLM__UNROLL for (int qq = 0; qq < 4; qq++)
                        LLM__UNROLL for (int t = 0; t < RN; t++) {
                            int32_t xc;   /* elements 128h + 32qq + 4(c + cc).. */
                            memcpy(&xc, x[t].q + 256 * b + 128 * h + 32 * qq + 4 * (c + cc), 4);
                            __m256i p = _mm256_maddubs_epi16(v[qq], _mm256_set1_epi32(xc));
                            sum[qq][t] = cc ? _mm256_add_epi16(sum[qq][t], p) : p;
                        }
                }
                LLM__UNROLL for (int qq = 0; qq < 4; qq++) {
                    __m256i sc = llm__dup8_i8(g + 16 + 8 * (8 * h + 2 * qq + c / 4));   /* the group of 16 */
                    LLM__UNROLL for (int t = 0; t < RN; t++) isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(sum[qq][t], sc));
                }
            }
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g));
        LLM__UNROLL for (int t = 0; t < RN; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(x[t].d[b])), _mm256_cvtepi32_ps(isum[t]), acc[t]);
    }
    LLM__UNROLL for (int t = 0; t < RN; t++) _mm256_storeu_ps(y + t * ldy, acc[t]);
}

/* Each regrouped format's tile, compiled for each token count. */
static void llm__r8_tile_avx2(llm_dtype dt, int rn, const uint8_t *g, const llm__q8_act *x, int64_t k, float *y, int64_t ldy) {
#define LLM__T4_0(n) llm__tile_r8(false, n, g, x, k, y, ldy)
#define LLM__T8_0(n) llm__tile_r8(true, n, g, x, k, y, ldy)
#define LLM__T4_K(n) llm__tile_q4_K_r8(n, g, x, k, y, ldy)
#define LLM__T6_K(n) llm__tile_q6_K_r8(n, g, x, k, y, ldy)
    switch (dt) {
    case LLM_DTYPE_Q4_0_R8: LLM__BY_RN(rn, LLM__T4_0) break;
    case LLM_DTYPE_Q8_0_R8: LLM__BY_RN(rn, LLM__T8_0) break;
    case LLM_DTYPE_Q4_K_R8: LLM__BY_RN(rn, LLM__T4_K) break;
    default:                LLM__BY_RN(rn, LLM__T6_K) break;
    }
#undef LLM__T4_0
#undef LLM__T8_0
#undef LLM__T4_K
#undef LLM__T6_K
}
#define LLM__MATMUL_R8(name, DT) \
    static void name(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { (void)s; llm__matmul_r8(DT, llm__r8_tile_avx2, a, r0, r1); }
LLM__MATMUL_R8(llm__matmul_q4_0_r8_avx2, LLM_DTYPE_Q4_0_R8)
LLM__MATMUL_R8(llm__matmul_q8_0_r8_avx2, LLM_DTYPE_Q8_0_R8)
LLM__MATMUL_R8(llm__matmul_q4_K_r8_avx2, LLM_DTYPE_Q4_K_R8)
LLM__MATMUL_R8(llm__matmul_q6_K_r8_avx2, LLM_DTYPE_Q6_K_R8)
#undef LLM__MATMUL_R8


/* The k-quants: one row and one token at a time, within token chunks. */
static void llm__matmul_k_avx2(const llm__mm_args *a, int64_t r0, int64_t r1, llm_dtype dt) {
    const llm__q8_mm *m = (const llm__q8_mm *)a->w;
    size_t row_bytes = llm_dtype_n_bytes(dt, a->k);
    int64_t chunk = llm__q8_chunk(m->act_bytes);
    for (int64_t tc = 0; tc < a->n_tok; tc += chunk)
        for (int64_t r = r0; r < r1; r++) {
            const uint8_t *w = m->w + (size_t)r * row_bytes;
            for (int64_t t = tc; t < LLM__MIN(tc + chunk, a->n_tok); t++) {
                llm__q8_act x = llm__q8_token(m->act, m->act_bytes, t, a->k, 256);
                a->y[t * a->ldy + r] = dt == LLM_DTYPE_Q6_K ? llm__qdot1_q6_K(w, &x, a->k) : llm__qdot_k4(w, &x, a->k, dt == LLM_DTYPE_Q5_K);
            }
        }
}

#define LLM__MATMUL_K(name, DT) \
    static void name(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { (void)s; llm__matmul_k_avx2(a, r0, r1, DT); }
LLM__MATMUL_K(llm__matmul_q4_K_avx2, LLM_DTYPE_Q4_K)
LLM__MATMUL_K(llm__matmul_q5_K_avx2, LLM_DTYPE_Q5_K)
LLM__MATMUL_K(llm__matmul_q6_K_avx2, LLM_DTYPE_Q6_K)
#undef LLM__MATMUL_K
LLM__AVX2_END
#endif
