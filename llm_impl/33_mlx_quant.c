/* ---- >>mlx_quant: MLX affine quantize / dequantize, bit-exact with mlx ----
   The arithmetic follows mlx's CPU kernel step by step (mlx/backend/cpu/quantized.cpp,
   `quantize`; ops.cpp `affine_dequantize`), because bit-exactness depends on every rounding:
   - per group: the edge (min or max, whichever is larger in magnitude) is snapped onto the
     grid, so it is represented exactly: scale = edge / rint(edge / scale0), bias = edge.
     The scale is negative when the edge is the max (then q counts down from it).
   - q = clamp(rint((w - bias) / scale), 0, 2^bits - 1), rint = round half to even.
   - dequantized: q*scale, then + bias, each rounded to the scale dtype (mlx computes in it).
   Also here: the fp modes' dequantization and llm__mlx_qmat_init, the check a model binder
   runs on the three tensors of a quantized matrix. Kernels are in 27_kernels_mlx.c. */
#include "10_internal.h"
#include "08_api_quant.h"

/* The argument checks shared by quantize and dequantize; the message names the problem. */
static llm_status llm__mlx_check(const char *fn, int64_t rows, int64_t cols, int bits, int group_size, llm_dtype dt) {
    if (bits < 2 || bits > 8 || bits == 7)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: %d bits is not supported (2, 3, 4, 5, 6 or 8)", fn, bits);
    if (group_size != 32 && group_size != 64 && group_size != 128)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: group size %d is not supported (32, 64 or 128)", fn, group_size);
    if (rows < 0 || cols <= 0 || cols % group_size)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: a row of %lld elements is not a whole number of groups of %d", fn,
                         (long long)cols, group_size);
    if (dt != LLM_DTYPE_F32 && dt != LLM_DTYPE_F16 && dt != LLM_DTYPE_BF16)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: scales must be f32, f16 or bf16", fn);
    if (!llm_mlx_weight_bytes(rows, cols, bits)) return llm__fail(LLM_ERR_INVALID_ARG, "%s: matrix too large", fn);
    return LLM_OK;
}

LLM_API size_t llm_mlx_weight_bytes(int64_t rows, int64_t cols, int bits) {
    size_t n;
    if (rows < 0 || cols <= 0 || bits < 1 || bits > 8 || (cols * bits) % 32) return 0;
    return llm__mul_ok((size_t)rows, (size_t)cols, &n) && llm__mul_ok(n, (size_t)bits, &n) ? n / 8 : 0;
}

/* Store v as element i of an array of dtype dt (round to nearest even). */
static void llm__mlx_store(void *p, llm_dtype dt, int64_t i, float v) {
    if (dt == LLM_DTYPE_F16) ((uint16_t *)p)[i] = llm__f32_to_f16(v);
    else if (dt == LLM_DTYPE_BF16) ((uint16_t *)p)[i] = llm__f32_to_bf16(v);
    else ((float *)p)[i] = v;
}

/* One group of n values -> q[n], *scale, *bias (in f32, before the dtype rounding). The
   comparisons are written as std::max / std::min evaluate them, so NaNs fall the same way. */
static void llm__mlx_quantize_group(const float *w, int n, int bits, uint8_t *q, float *out_scale, float *out_bias) {
    const float n_bins = (float)((1 << bits) - 1), eps = 1e-7f;
    float w_min = INFINITY, w_max = -INFINITY;
    for (int j = 0; j < n; j++) {
        w_max = w_max < w[j] ? w[j] : w_max;
        w_min = w[j] < w_min ? w[j] : w_min;
    }
    bool mask = fabsf(w_min) > fabsf(w_max);
    float scale = (w_max - w_min) / n_bins;
    scale = scale < eps ? eps : scale;
    scale = mask ? scale : -scale;
    float edge = mask ? w_min : w_max, q0 = rintf(edge / scale), bias = 0;
    if (q0 != 0) {                      /* snap: the edge becomes exactly q0 steps from 0 */
        scale = edge / q0;
        bias = edge;
    }
    for (int j = 0; j < n; j++) {
        float v = rintf((w[j] - bias) / scale);
        v = v < 0.0f ? 0.0f : v;
        v = n_bins < v ? n_bins : v;
        q[j] = v == v ? (uint8_t)v : 0;  /* NaN only from non-finite input */
    }
    *out_scale = scale;
    *out_bias = bias;
}

/* Pack n values of `bits` bits into out, LSB first (n*bits is a multiple of 8). */
static void llm__mlx_pack(const uint8_t *q, int n, int bits, uint8_t *out) {
    uint32_t acc = 0;
    int n_acc = 0;
    for (int j = 0; j < n; j++) {
        acc |= (uint32_t)q[j] << n_acc;
        for (n_acc += bits; n_acc >= 8; n_acc -= 8, acc >>= 8) *out++ = (uint8_t)acc;
    }
}

LLM_API llm_status llm_mlx_quantize(const float *w, int64_t rows, int64_t cols, int bits, int group_size,
                                    llm_dtype scale_dtype, void *out_w, void *out_scales, void *out_biases) {
    llm_status s = llm__mlx_check("llm_mlx_quantize", rows, cols, bits, group_size, scale_dtype);
    if (s) return s;
    int64_t n_groups = rows * (cols / group_size), group_bytes = group_size * bits / 8;
    uint8_t q[128];
    for (int64_t g = 0; g < n_groups; g++) {   /* groups never straddle rows: cols % group_size == 0 */
        float scale, bias;
        llm__mlx_quantize_group(w + g * group_size, group_size, bits, q, &scale, &bias);
        llm__mlx_pack(q, group_size, bits, (uint8_t *)out_w + g * group_bytes);
        llm__mlx_store(out_scales, scale_dtype, g, scale);
        llm__mlx_store(out_biases, scale_dtype, g, bias);
    }
    return LLM_OK;
}

/* q*scale + bias with mlx's roundings: each operation is rounded to dt. Computing in f32
   and rounding to f16/bf16 after each step gives the correctly rounded f16/bf16 result
   (f32 has more than 2p+2 bits for p = 11 and 8), which is what mlx computes. */
static inline float llm__mlx_affine(unsigned q, float scale, float bias, llm_dtype dt) {
    float t = (float)q * scale;
    if (dt == LLM_DTYPE_F16) return llm__f16_to_f32(llm__f32_to_f16(llm__f16_to_f32(llm__f32_to_f16(t)) + bias));
    if (dt == LLM_DTYPE_BF16) return llm__bf16_to_f32(llm__f32_to_bf16(llm__bf16_to_f32(llm__f32_to_bf16(t)) + bias));
    return t + bias;
}

LLM_API llm_status llm_mlx_dequantize(const void *w, const void *scales, const void *biases, int64_t rows, int64_t cols,
                                      int bits, int group_size, llm_dtype scale_dtype, float *out) {
    llm_status s = llm__mlx_check("llm_mlx_dequantize", rows, cols, bits, group_size, scale_dtype);
    if (s) return s;
    int64_t n_groups = rows * (cols / group_size), group_bytes = group_size * bits / 8;
    uint8_t q[128];
    for (int64_t g = 0; g < n_groups; g++) {
        float scale = llm__mlx_param(scales, scale_dtype, g), bias = llm__mlx_param(biases, scale_dtype, g);
        llm__mlx_unpack((const uint8_t *)w + g * group_bytes, group_size, bits, q);
        for (int j = 0; j < group_size; j++) out[g * group_size + j] = llm__mlx_affine(q[j], scale, bias, scale_dtype);
    }
    return LLM_OK;
}

/* Row r of a bound matrix as f32, the values mlx's dequantize gives: the embedding lookup
   of a quantized token table. out: q->cols floats. */
LLM_PRIVATE void llm__mlx_row_f32(const llm__qmat *q, int64_t r, float *out) {
    int64_t ng = q->cols / q->group_size;
    const uint8_t *row = q->w + r * (q->cols * q->bits / 8);
    if (q->fp_mode >= 0) {
        llm__mlx_fp_values(q, r, out);
        const uint8_t *sc = (const uint8_t *)q->scales + r * ng;
        for (int64_t i = 0; i < q->cols; i++) out[i] *= llm__mlx_fp_scale(q->fp_mode, sc[i / q->group_size]);
        return;
    }
    for (int64_t i = 0; i < q->cols; i++) {
        int64_t g = r * ng + i / q->group_size;
        out[i] = llm__mlx_affine(llm__mlx_get(row, i, q->bits), llm__mlx_param(q->scales, q->sdtype, g),
                                 llm__mlx_param(q->biases, q->sdtype, g), q->sdtype);
    }
}

/* bits and group size of each fp mode */
static const struct { const char *name; int bits, group_size; } llm__mlx_fp_modes[] = {
    [LLM_MLX_MXFP4] = { "mxfp4", 4, 32 }, [LLM_MLX_NVFP4] = { "nvfp4", 4, 16 }, [LLM_MLX_MXFP8] = { "mxfp8", 8, 32 },
};

LLM_API llm_status llm_mlx_dequantize_fp(llm_mlx_fp_mode mode, const void *w, const uint8_t *scales, int64_t rows,
                                         int64_t cols, float *out) {
    if ((unsigned)mode >= (unsigned)LLM__COUNT(llm__mlx_fp_modes))
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_mlx_dequantize_fp: unknown mode %d", (int)mode);
    int G = llm__mlx_fp_modes[mode].group_size;
    if (rows < 0 || cols <= 0 || cols % G)
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_mlx_dequantize_fp: rows of %lld elements are not a multiple of %d",
                         (long long)cols, G);
    llm__qmat q = { .w = (const uint8_t *)w, .scales = scales, .rows = rows, .cols = cols,
                    .bits = llm__mlx_fp_modes[mode].bits, .group_size = G, .sdtype = LLM_DTYPE_U8, .fp_mode = (int)mode };
    for (int64_t r = 0; r < rows; r++) llm__mlx_row_f32(&q, r, out + r * cols);
    return LLM_OK;
}

/* ---- quantizing to the fp modes, as mx.quantize(w, mode=...) (mlx ops.cpp fp_quantize) ----
   mlx builds these from array ops evaluated in w's dtype dt, so each step below is
   rounded to dt (llm__mlx_round) where mlx's op is. Per group of G values (16 or 32):
     amax  = max |w| (NaN if any w is NaN);  s = amax / M, M = 6 (fp4) or 448 (fp8)
     mxfp4, mxfp8: e = s == 0 ? 0 : (int)ceil(log2(s)) (log2 in f32, whatever dt);
                   x = w / 2^e; scale byte e + 127 (e8m0; mlx clamps nothing: e < -127
                   wraps around the byte, and -128 gives 255, which decodes as inf)
     nvfp4:        scale byte = e4m3(s) (no global scale: mx.quantize's default);
                   x = w / e4m3value, in f32 from here on
     fp4 code of x: the first nearest of the e2m1 table {+0..+6, -0..-6} (argmin): ties go
                   to the smaller magnitude, |x| <= 0.25 gives +0, beyond 6 saturates;
                   NaN gives code 0
     fp8 code of x: e4m3 rounded to nearest even, |x| >= 464 (also inf, NaN) saturating to 448. */

static float llm__mlx_round(float v, llm_dtype dt) {
    if (dt == LLM_DTYPE_F16) return llm__f16_to_f32(llm__f32_to_f16(v));
    if (dt == LLM_DTYPE_BF16) return llm__bf16_to_f32(llm__f32_to_bf16(v));
    return v;
}

/* float -> int32 as x86's cvttss2si, which mlx's astype compiles to: out of range and NaN
   give INT32_MIN (C leaves them undefined). */
static int32_t llm__mlx_f2i(float v) {
    return v >= -2147483648.0f && v < 2147483648.0f ? (int32_t)v : INT32_MIN;
}

/* fp8 e4m3 of v, as mlx's ToFP8 (the inverse of llm__fp8_e4m3). */
static uint8_t llm__mlx_to_e4m3(float v) {
    uint32_t u = llm__f32_bits(v), sign = (u >> 24) & 0x80, a = u & 0x7fffffff;
    if (a >= 0x43e80000u) return (uint8_t)(sign | 0x7e);                    /* >= 464: saturate to 448 */
    if (a < 0x3c800000u) return (uint8_t)(sign | (uint8_t)rintf(llm__bits_f32(a) * 512.0f)); /* < 2^-6: k 2^-9 */
    /* normal: rebias the exponent (127 -> 7) and round the 23-bit mantissa to 3, ties to even */
    return (uint8_t)(sign | (((a - (120u << 23)) + 0x7ffffu + ((a >> 20) & 1)) >> 20));
}

/* fp4 e2m1 code of x, mlx's argmin over the table; d: the dtype of the differences. */
static unsigned llm__mlx_to_e2m1(float x, llm_dtype d) {
    unsigned best = 0;
    float best_d = fabsf(llm__mlx_round(x - llm__fp4_e2m1[0], d));
    for (unsigned k = 1; k < 16; k++) {
        float dk = fabsf(llm__mlx_round(x - llm__fp4_e2m1[k], d));
        if (dk < best_d) best = k, best_d = dk;
    }
    return best;
}

/* One group of G values -> its scale byte and G codes (q, one per byte). */
static uint8_t llm__mlx_fp_group(llm_mlx_fp_mode mode, const float *w, int G, llm_dtype dt, uint8_t *q) {
    float amax = 0;
    bool nan = false;
    for (int j = 0; j < G; j++) {
        amax = fabsf(w[j]) > amax ? fabsf(w[j]) : amax;
        nan |= w[j] != w[j];
    }
    if (nan) amax = NAN;                /* mlx's max propagates NaN */
    float s = llm__mlx_round(amax / (mode == LLM_MLX_MXFP8 ? 448.0f : 6.0f), dt), div;
    uint8_t sbyte;
    if (mode == LLM_MLX_NVFP4) {
        sbyte = llm__mlx_to_e4m3(s);
        div = llm__fp8_e4m3(sbyte);
    } else {                            /* the exponent goes through int32 and back to dt, as mlx's where() */
        float e = s == 0 ? 0.0f : llm__mlx_round((float)llm__mlx_f2i(ceilf(log2f(s))), dt);
        div = llm__mlx_round(powf(2.0f, e), dt);
        sbyte = (uint8_t)llm__mlx_f2i(llm__mlx_round(e + 127.0f, dt));
    }
    for (int j = 0; j < G; j++) {
        float x = llm__mlx_round(w[j] / div, dt);
        q[j] = mode == LLM_MLX_MXFP8 ? llm__mlx_to_e4m3(x)
                                     : (uint8_t)llm__mlx_to_e2m1(x, mode == LLM_MLX_NVFP4 ? LLM_DTYPE_F32 : dt);
    }
    return sbyte;
}

/* llm_mlx_quantize_fp with the arithmetic of mlx for an array of dtype dt (f32, f16, bf16;
   w holds values of dt): llm_convert quantizes f16/bf16 models this way. */
LLM_PRIVATE llm_status llm__mlx_quantize_fp_dt(llm_mlx_fp_mode mode, const float *w, int64_t rows, int64_t cols,
                                               llm_dtype dt, void *out_w, uint8_t *out_scales) {
    if ((unsigned)mode >= (unsigned)LLM__COUNT(llm__mlx_fp_modes))
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_mlx_quantize_fp: unknown mode %d", (int)mode);
    int G = llm__mlx_fp_modes[mode].group_size, bits = llm__mlx_fp_modes[mode].bits;
    if (rows < 0 || cols <= 0 || cols % G || !llm_mlx_weight_bytes(rows, cols, bits))
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_mlx_quantize_fp: rows of %lld elements are not a multiple of %d",
                         (long long)cols, G);
    int64_t n_groups = rows * (cols / G);
    uint8_t q[32];
    for (int64_t g = 0; g < n_groups; g++) {
        out_scales[g] = llm__mlx_fp_group(mode, w + g * G, G, dt, q);
        llm__mlx_pack(q, G, bits, (uint8_t *)out_w + g * (G * bits / 8));
    }
    return LLM_OK;
}

LLM_API llm_status llm_mlx_quantize_fp(llm_mlx_fp_mode mode, const float *w, int64_t rows, int64_t cols, void *out_w,
                                       uint8_t *out_scales) {
    return llm__mlx_quantize_fp_dt(mode, w, rows, cols, LLM_DTYPE_F32, out_w, out_scales);
}

/* ---- binding a quantized matrix ---- */

/* The mode names of an mlx_lm config ("quantization": {"mode": ...}); NULL means affine.
   -1 for affine, else an llm_mlx_fp_mode; -2 if unknown. */
static int llm__mlx_mode(const char *mode) {
    if (!mode || !strcmp(mode, "affine")) return -1;
    for (int i = 0; i < LLM__COUNT(llm__mlx_fp_modes); i++)
        if (!strcmp(mode, llm__mlx_fp_modes[i].name)) return i;
    return -2;
}

/* Does t have n_dims == 2, this shape and one of the dtypes (dt2 may repeat dt1)? Also
   checks its byte count, for views not made by the safetensors reader. */
static bool llm__mlx_is(const llm_tensor *t, int64_t d0, int64_t d1, llm_dtype dt1, llm_dtype dt2, llm_dtype dt3) {
    return t->n_dims == 2 && t->shape[0] == d0 && t->shape[1] == d1 && (t->dtype == dt1 || t->dtype == dt2 || t->dtype == dt3) &&
           t->n_bytes / (size_t)d0 / (size_t)d1 >= (size_t)llm__dtypes[t->dtype].block_bytes;
}

/* Check the tensors <name>.weight/.scales/.biases (w, scales, biases; biases NULL in the fp
   modes) of a matrix that should be [rows, cols], quantized with `bits` and `group_size` in
   `mode` (NULL = "affine"), and fill *out with views of them. path and name go into the
   error messages. Errors: LLM_ERR_UNSUPPORTED (mode, bits or group size), LLM_ERR_FORMAT
   (shape or dtype of a tensor, missing biases). */
LLM_PRIVATE llm_status llm__mlx_qmat_init(const char *path, const char *name, const llm_tensor *w, const llm_tensor *scales,
                                          const llm_tensor *biases, const char *mode, int bits, int group_size,
                                          int64_t rows, int64_t cols, llm__qmat *out) {
    int fp = llm__mlx_mode(mode);
    if (fp == -2) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: '%s': quantization mode '%s' is not supported", path, name, mode);
    if (fp >= 0 && (bits != llm__mlx_fp_modes[fp].bits || group_size != llm__mlx_fp_modes[fp].group_size))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: '%s': mode %s needs bits %d and group size %d, not %d and %d", path, name,
                         mode, llm__mlx_fp_modes[fp].bits, llm__mlx_fp_modes[fp].group_size, bits, group_size);
    if (fp < 0 && (bits < 2 || bits > 8 || bits == 7))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: '%s': %d-bit quantization is not supported (2, 3, 4, 5, 6, 8)", path,
                         name, bits);
    if (fp < 0 && group_size != 32 && group_size != 64 && group_size != 128)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: '%s': group size %d is not supported (32, 64, 128)", path, name, group_size);
    if (rows <= 0 || cols <= 0 || cols > ((int64_t)1 << 40) || cols % group_size || (cols * bits) % 32)
        return llm__fail(LLM_ERR_FORMAT, "%s: '%s': rows of %lld elements do not split into groups of %d", path, name,
                         (long long)cols, group_size);
    if (!w || !scales)
        return llm__fail(LLM_ERR_FORMAT, "%s: '%s': the %s tensor is missing", path, name, w ? "scales" : "weight");
    if (!llm__mlx_is(w, rows, cols * bits / 32, LLM_DTYPE_U32, LLM_DTYPE_U32, LLM_DTYPE_U32))
        return llm__fail(LLM_ERR_FORMAT, "%s: '%s.weight' is %s [%lld, %lld], expected u32 [%lld, %lld] for %d-bit [%lld, %lld]",
                         path, name, llm__dtypes[w->dtype].name, (long long)w->shape[0],
                         (long long)(w->n_dims > 1 ? w->shape[1] : 0),
                         (long long)rows, (long long)(cols * bits / 32), bits, (long long)rows, (long long)cols);
    llm_dtype s1 = fp >= 0 ? LLM_DTYPE_U8 : LLM_DTYPE_F32, s2 = fp >= 0 ? LLM_DTYPE_U8 : LLM_DTYPE_F16,
              s3 = fp >= 0 ? LLM_DTYPE_U8 : LLM_DTYPE_BF16;
    if (!llm__mlx_is(scales, rows, cols / group_size, s1, s2, s3))
        return llm__fail(LLM_ERR_FORMAT, "%s: '%s.scales' is %s [%lld, %lld], expected %s [%lld, %lld] (group size %d)", path,
                         name, llm__dtypes[scales->dtype].name, (long long)scales->shape[0],
                         (long long)(scales->n_dims > 1 ? scales->shape[1] : 0), fp >= 0 ? "u8" : "f32/f16/bf16",
                         (long long)rows, (long long)(cols / group_size), group_size);
    if (fp < 0 && (!biases || !llm__mlx_is(biases, rows, cols / group_size, scales->dtype, scales->dtype, scales->dtype)))
        return llm__fail(LLM_ERR_FORMAT, "%s: '%s.biases' is %s, expected %s [%lld, %lld] like the scales", path, name,
                         biases ? "of another shape or dtype" : "missing", llm__dtypes[scales->dtype].name,
                         (long long)rows, (long long)(cols / group_size));
    if (fp >= 0 && biases) return llm__fail(LLM_ERR_FORMAT, "%s: '%s.biases': mode %s has no biases", path, name, mode);
    *out = (llm__qmat){ .w = (const uint8_t *)w->data, .scales = scales->data, .biases = fp < 0 ? biases->data : NULL,
                        .rows = rows, .cols = cols, .bits = bits, .group_size = group_size, .sdtype = scales->dtype,
                        .fp_mode = fp };
    return LLM_OK;
}

#ifndef LLM_NO_CJSON
/* ---- which modules an mlx_lm config quantizes, and how ----
   config.json has "quantization": {"group_size": 64, "bits": 4, "mode": "affine", ...},
   where extra keys name modules with their own setting (mixed-precision recipes): an object
   {"group_size": .., "bits": .., "mode": ..} or false (left in float). As mlx.nn.quantize
   reads them: `true` or no entry takes the global values, an object's missing fields the
   defaults of its mode. mlx_lm also keeps modules unquantized when the checkpoint has no
   "<module>.scales": the binder checks that (the weight's dtype tells). */

/* mlx.nn.quantize's defaults (group size, bits) per mode */
static void llm__mlx_mode_defaults(const char *mode, int *group_size, int *bits) {
    int fp = llm__mlx_mode(mode);
    *group_size = fp >= 0 ? llm__mlx_fp_modes[fp].group_size : 64;
    *bits = fp >= 0 ? llm__mlx_fp_modes[fp].bits : 4;
}

/* Settings of one module (e.g. "model.layers.0.mlp.down_proj") under config (the parsed
   config.json). *out_quantized is false without a quantization section or when the module is
   excluded; out_mode points into config (valid while it is). The values are not checked
   here: llm__mlx_qmat_init rejects unsupported ones with the tensor's name. */
LLM_PRIVATE void llm__mlx_quant_params(const cJSON *config, const char *module, bool *out_quantized, int *out_bits,
                                       int *out_group_size, const char **out_mode) {
    const cJSON *q = llm__json_get(config, "quantization");
    if (!cJSON_IsObject(q)) {
        q = llm__json_get(config, "quantization_config");      /* mlx_lm writes both; HF methods have quant_method */
        if (!cJSON_IsObject(q) || llm__json_has(q, "quant_method")) q = NULL;
    }
    const cJSON *own = q ? llm__json_get(q, module) : NULL;
    *out_quantized = q && !cJSON_IsFalse(own);
    const cJSON *src = cJSON_IsObject(own) ? own : q;          /* an object overrides everything */
    *out_mode = llm__json_str(src, "mode", "affine");
    int gs, bits;
    llm__mlx_mode_defaults(*out_mode, &gs, &bits);
    *out_group_size = (int)LLM__MIN(LLM__MAX(llm__json_int(src, "group_size", gs), 0), 1 << 20);  /* (int) stays defined */
    *out_bits = (int)LLM__MIN(LLM__MAX(llm__json_int(src, "bits", bits), 0), 64);
}
#endif
