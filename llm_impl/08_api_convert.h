/* ---- >>convert: Hugging Face / MLX directory -> MLX directory (mlx_lm.convert) ----
   Reads a model directory (safetensors, one file or shards) and writes another in the layout
   mlx_lm.convert writes: model.safetensors, config.json and the tokenizer files. With
   quantize, every weight matrix mlx_lm would quantize (a 2-D or stacked 3-D "*.weight" in a
   float dtype whose rows the group size divides, norms excepted) becomes MLX affine
   tensors (.weight u32, .scales, .biases; 08_api_quant.h), bit-exact with mlx: the values
   are first rounded to the output dtype, scales and biases are stored in it. In the fp
   modes (q_mode "mxfp4", "nvfp4", "mxfp8") the matrices become .weight u32 and u8 .scales
   (no biases), quantized in the output dtype's arithmetic as mlx does. config.json gets
   "quantization" and "quantization_config" {"group_size", "bits", "mode"}.
   Per-expert MoE weights "<p>.experts.<e>.<w>.weight" are stacked into
   "<p>.switch_mlp.<w>.weight" [E, rows, cols] as mlx_lm's models do (Mixtral's w1/w2/w3
   become gate_proj/down_proj/up_proj). The output tensors equal mlx_lm's byte for byte
   (test_convert checks llama, qwen3, gemma3, qwen2_moe, mixtral).
   Each file is written atomically (temporary file + rename); dst is created if missing. */
typedef struct llm_convert_params {
    const char *src;         /* model directory (or a .safetensors file inside one) */
    const char *dst;         /* output directory */
    bool quantize;           /* -q (an MLX-quantized source is refused, as mlx_lm does) */
    bool dequantize;         /* -d: MLX-quantized matrices back to float (the scales' dtype, or dtype);
                                config.json loses "quantization" */
    int bits;                /* 2, 3, 4, 5, 6, 8; 0: the mode's (affine: 4) */
    int group_size;          /* 32, 64, 128; 0: the mode's (affine: 64) */
    const char *q_mode;      /* NULL or "affine"; "mxfp4", "nvfp4", "mxfp8": mlx's microscaling modes, which
                                fix bits and group size (4/32, 4/16, 8/32; others are refused, as mlx
                                does) and take no mixed recipe. MLX output only (not gguf) */
    bool set_dtype;          /* cast float tensors to dtype (else each keeps its own) */
    llm_dtype dtype;         /* LLM_DTYPE_F32, _F16 or _BF16 */
    const char *quant_predicate;   /* NULL, or mlx_lm's mixed recipes "mixed_2_6", "mixed_3_4", "mixed_3_6",
                                      "mixed_4_6": most matrices at the low bits, lm_head and some layers'
                                      v_proj/down_proj at the high ones (config.json records each) */
    size_t max_shard_bytes;  /* 0: 5 GiB (mlx_lm); larger outputs are written as model-0000i-of-0000N
                                .safetensors shards with model.safetensors.index.json, as mlx_lm names them */
    /* GGUF output (71_convert_gguf.c): with gguf set, one llama.cpp file is written there
       instead of the MLX directory (dst, quantize, bits, group_size and dtype unused) */
    const char *gguf;        /* output .gguf path, or NULL */
    llm_dtype gguf_type;     /* type of the weight matrices: f32 (the zero value), f16, bf16, q4_0,
                                q4_1, q5_0, q5_1, q8_0, q2_K..q6_K */
    const char *gguf_mix;    /* NULL, or one of llama-quantize's file types by name, any case:
                                "Q4_K_M", "Q4_K_S", "Q5_K_M", "Q5_K_S", "Q3_K_S", "Q3_K_M", "Q3_K_L",
                                "Q2_K", "Q6_K"; then gguf_type is unused (see the types below) */
    /* optional progress report, called after each tensor: done of total */
    void (*progress)(void *user, int64_t done, int64_t total);
    void *progress_user;
} llm_convert_params;

/* ---- >>convert-gguf: the same sources -> one GGUF file, as llama.cpp's convert_hf_to_gguf.py
   (then llama-quantize for the block types) writes it, for the families our GGUF loader
   runs: llama (also mistral, mixtral), qwen2, qwen3, qwen3moe, gemma, gemma2, gemma3, phi3.
   - names: llama.cpp's (token_embd, blk.N.attn_q, ffn_gate_exps, ...); Llama's Wq/Wk rows
     permuted for ggml's interleaved rope; Gemma norms stored as 1 + w; Llama 3 rope scaling
     as a rope_freqs tensor, Phi-3 LongRoPE as rope_factors_short/long.
   - types: 1-D tensors, norms and MoE routers f32; the matrices gguf_type, or with gguf_mix
     the type llama-quantize's rules (llama_tensor_get_type) give each: the mix's base type
     (q4_K for Q4_K_M) and more bits for attn_v and ffn_down in some layers, for attn_output
     and attn_qkv, as the mix says. Under both: the output matrix (the token table when
     tied) of a block type other than q8_0 is q6_K (q8_0 when its rows are not whole
     256-blocks); with 8 experts attn_v and attn_k are q8_0. A matrix whose rows the blocks
     do not divide takes llama-quantize's fallback: q4_K -> q5_0, q5_K -> q5_1, q6_K -> q8_0,
     q2_K/q3_K -> q4_0 (llama-quantize: iq4_nl, which we do not write), else f16.
     general.file_type is llama-quantize's (15 for Q4_K_M). Types and bytes equal
     llama-quantize's, tensor for tensor, for every mix on SmolLM2-135M, the fixture models
     and synthetic 8-layer ones (tests/tools/gguf_mix_compare.py), iq4_nl aside.
   - from an MLX model: matrices are dequantized and quantized to their type, except 4-bit
     groups of 32 into q4_1 and 8-bit groups of 32 whose biases are -128 * scale into q8_0,
     which are copied block for block (no loss) when every scale and bias is an f16 value.
   - metadata: general.*, <arch>.* hyperparameters (Gemma 2/3 layers that slide in another
     pattern than llama.cpp assumes: a per-layer <arch>.attention.sliding_window_pattern),
     and, from tokenizer.json and
     tokenizer_config.json when present, tokenizer.ggml.* (72_convert_gguf_meta.c).
   - src may be a .gguf file: its metadata is copied and its tensors re-typed by the same
     rules, as llama-quantize does (byte-identical with it, see above).
   The tensors are assembled in memory (about the output's size), then written atomically. */

/* Errors: LLM_ERR_IO (reading or writing), LLM_ERR_FORMAT (the source), LLM_ERR_INVALID_ARG
   (parameters), LLM_ERR_NOMEM; the reason in llm_last_error(). */
LLM_API llm_status llm_convert_model(const llm_convert_params *p);
