/* ---- >>quant: MLX quantization (mlx.core.quantize / dequantize) ----
   MLX "affine" quantization, as written by mlx_lm.convert -q: each row of a matrix
   W [rows, cols] is cut into groups of group_size (32, 64, 128) consecutive elements, and
   each element is stored as a bits-wide unsigned integer q (bits 2, 3, 4, 5, 6, 8) with
   w ~= scale * q + bias per group. Three tensors per matrix:
     <name>.weight  u32 [rows, cols*bits/32]   q packed LSB-first: element i of a row sits at
                                               bit i*bits of the row's little-endian bytes
     <name>.scales  f32/f16/bf16 [rows, cols/group_size]
     <name>.biases  same dtype and shape as scales
   Results are bit-exact with mlx (checked against 0.32.4): mlx quantizes an array of dtype T
   in f32 arithmetic and rounds scales and biases to T at the end, so llm_mlx_quantize of
   f32 values with scale_dtype T gives mlx's bytes for those values held in T (round them to
   T first, with llm_convert, to quantize a T matrix). Dequantizing gives mlx's values: it
   computes q*scale, then + bias, each rounded to T; we return those values as f32.
   The "mxfp4", "nvfp4" and "mxfp8" modes have no biases and u8 scales (below). */

/* Bytes of the packed weight for a [rows, cols] matrix: rows*cols*bits/8; 0 when the
   arguments are invalid or the size overflows. */
LLM_API size_t llm_mlx_weight_bytes(int64_t rows, int64_t cols, int bits);

/* Quantize w [rows, cols] (f32, row-major) the way mlx.core.quantize(w, group_size, bits)
   does (mode "affine").
     w           [in]  rows*cols floats
     bits        [in]  2, 3, 4, 5, 6 or 8
     group_size  [in]  32, 64 or 128; must divide cols
     scale_dtype [in]  LLM_DTYPE_F32, _F16 or _BF16: the dtype of scales and biases
     out_w       [out] llm_mlx_weight_bytes(rows, cols, bits) bytes (u32 words)
     out_scales  [out] rows*cols/group_size values of scale_dtype
     out_biases  [out] same
   Errors: LLM_ERR_INVALID_ARG (unsupported bits/group size/dtype, cols not a multiple of
   group_size), with the reason in llm_last_error(). NaN inputs quantize to q = 0.
   Thread-safe. */
LLM_API llm_status llm_mlx_quantize(const float *w, int64_t rows, int64_t cols, int bits, int group_size,
                                    llm_dtype scale_dtype, void *out_w, void *out_scales, void *out_biases);

/* Dequantize an affine-quantized matrix back to f32 [rows, cols] (the inverse layout of
   llm_mlx_quantize; equal to mlx.core.dequantize(...).astype(float32)).
   Errors: LLM_ERR_INVALID_ARG as for llm_mlx_quantize. Thread-safe. */
LLM_API llm_status llm_mlx_dequantize(const void *w, const void *scales, const void *biases, int64_t rows, int64_t cols,
                                      int bits, int group_size, llm_dtype scale_dtype, float *out);

/* The microscaling modes of mlx (no biases, one u8 scale per group):
     MXFP4  4-bit e2m1 values, 8 per u32 LSB-first, group 32, scale e8m0 (2^(s-127))
     NVFP4  4-bit e2m1 values, group 16, scale fp8 e4m3 (without mlx's optional global scale)
     MXFP8  8-bit e4m3 values, 4 per u32, group 32, scale e8m0 */
typedef enum llm_mlx_fp_mode { LLM_MLX_MXFP4, LLM_MLX_NVFP4, LLM_MLX_MXFP8 } llm_mlx_fp_mode;

/* Dequantize a matrix of one of those modes to f32 [rows, cols], equal to
   mlx.core.dequantize(w, scales, mode=..., dtype=float32).
     w      [in] u32 [rows, cols*bits/32]
     scales [in] u8 [rows, cols/group]
   Errors: LLM_ERR_INVALID_ARG (unknown mode, cols not a multiple of the group). */
LLM_API llm_status llm_mlx_dequantize_fp(llm_mlx_fp_mode mode, const void *w, const uint8_t *scales, int64_t rows,
                                         int64_t cols, float *out);

/* Quantize w [rows, cols] (f32, row-major) in one of those modes, byte for byte as
   mlx.core.quantize(w, mode="mxfp4"|"nvfp4"|"mxfp8") (mlx 0.32.4, CPU) does for a float32 w:
     out_w      [out] u32 [rows, cols*bits/32] (llm_mlx_weight_bytes(rows, cols, bits) bytes)
     out_scales [out] u8 [rows, cols/group]
   mxfp4/mxfp8: shared exponent e = round-half-even(log2(max|w| / M)) (M = 6 or 448), 0 for an
   all-zero group; values w / 2^e (mlx 0.32.4 rounds e up: older mlx rounded to nearest).
   nvfp4: scale e4m3(max|w| / 6), no global scale (mx.quantize's and mlx_lm.convert's
   default; the optional global_scale is not supported), so a group whose max is below about
   6 * 2^-10 loses precision in the e4m3 subnormals (0 below 6 * 2^-10 / 2) and one above
   6 * 448 saturates. fp4 values round to the nearest
   e2m1, ties toward the smaller magnitude (mlx's argmin), saturating at 6, tiny negatives
   to +0; fp8 values to the nearest e4m3, ties to even, saturating at 448. A NaN poisons its
   group's scale (see 33_mlx_quant.c for the exact bytes); dequantizing returns to within half
   a step of the format, relative to the group's scale.
   Errors: LLM_ERR_INVALID_ARG (unknown mode, cols not a multiple of the group). Thread-safe. */
LLM_API llm_status llm_mlx_quantize_fp(llm_mlx_fp_mode mode, const float *w, int64_t rows, int64_t cols, void *out_w,
                                       uint8_t *out_scales);
