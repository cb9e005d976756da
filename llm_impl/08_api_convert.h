/* ---- >>convert: Hugging Face / MLX directory -> MLX directory (mlx_lm.convert) ----
   Reads a model directory (safetensors, one file or shards) and writes another in the layout
   mlx_lm.convert writes: model.safetensors, config.json and the tokenizer files. With
   quantize, every weight matrix mlx_lm would quantize (a 2-D or stacked 3-D "*.weight" in a
   float dtype whose rows the group size divides, norms excepted) becomes MLX affine
   tensors (.weight u32, .scales, .biases; 08_api_quant.h), bit-exact with mlx: the values
   are first rounded to the output dtype, scales and biases are stored in it. config.json
   gets "quantization" and "quantization_config" {"group_size", "bits", "mode": "affine"}.
   Per-expert MoE weights "<p>.experts.<e>.<w>.weight" are stacked into
   "<p>.switch_mlp.<w>.weight" [E, rows, cols] as mlx_lm's models do (Mixtral's w1/w2/w3
   become gate_proj/down_proj/up_proj). The output tensors equal mlx_lm's byte for byte
   (test_convert checks llama, qwen3, gemma3, qwen2_moe, mixtral).
   Each file is written atomically (temporary file + rename); dst is created if missing. */
typedef struct llm_convert_params {
    const char *src;         /* model directory (or a .safetensors file inside one) */
    const char *dst;         /* output directory */
    bool quantize;           /* -q */
    int bits;                /* 2, 3, 4, 5, 6, 8; 0: 4 */
    int group_size;          /* 32, 64, 128; 0: 64 */
    bool set_dtype;          /* cast float tensors to dtype (else each keeps its own) */
    llm_dtype dtype;         /* LLM_DTYPE_F32, _F16 or _BF16 */
} llm_convert_params;

/* Errors: LLM_ERR_IO (reading or writing), LLM_ERR_FORMAT (the source), LLM_ERR_INVALID_ARG
   (parameters), LLM_ERR_NOMEM; the reason in llm_last_error(). */
LLM_API llm_status llm_convert_model(const llm_convert_params *p);
