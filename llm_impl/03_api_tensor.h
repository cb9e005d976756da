/* ---- >>tensor: dtypes and tensors ----
   A tensor is a typed, row-major view of memory: shape[0] is the outermost dimension,
   as in numpy, safetensors and Hugging Face (a Linear weight is [out, in]). Every dtype is
   stored in blocks: block_elems elements take block_bytes bytes (1 and 4 for f32; 32 and
   34 for a q8_0 block), so quantized types fit the same description. */
typedef enum llm_dtype {
    LLM_DTYPE_F32,
    LLM_DTYPE_F16,
    LLM_DTYPE_BF16,
    LLM_DTYPE_F64,
    LLM_DTYPE_I8,
    LLM_DTYPE_U8,
    LLM_DTYPE_I16,
    LLM_DTYPE_I32,
    LLM_DTYPE_I64,
    LLM_DTYPE_U32,
    LLM_DTYPE_BOOL,
    /* llama.cpp's block-quantized types (GGUF); layouts in the quantization part */
    LLM_DTYPE_Q4_0,
    LLM_DTYPE_Q4_1,
    LLM_DTYPE_Q5_0,
    LLM_DTYPE_Q5_1,
    LLM_DTYPE_Q8_0,
    LLM_DTYPE_Q2_K,
    LLM_DTYPE_Q3_K,
    LLM_DTYPE_Q4_K,
    LLM_DTYPE_Q5_K,
    LLM_DTYPE_Q6_K,
    LLM_DTYPE_Q8_K,
    LLM_DTYPE_MLX_AFFINE,   /* >>mlx-model: an MLX-quantized matrix; data is an llm__qmat (53_mlx_model.c), no flat layout */
    LLM_DTYPE_MXFP4,        /* GGUF type 39 (gpt-oss): 32 e2m1 values + an e8m0 exponent */
    LLM_DTYPE_Q4_0_R8,      /* q4_0, q8_0, q4_K and q6_K rows interleaved in groups of 8: made at load */
    LLM_DTYPE_Q8_0_R8,      /* for the AVX2 kernels (23_kernels_ggml.c) */
    LLM_DTYPE_Q4_K_R8,
    LLM_DTYPE_Q6_K_R8,
    LLM_DTYPE_COUNT
} llm_dtype;

typedef struct llm_dtype_info {
    const char *name;          /* "f32", "bf16", ... */
    const char *st_name;       /* safetensors spelling ("F32", "BF16"), NULL if none */
    int32_t     block_elems;   /* elements per block */
    int32_t     block_bytes;   /* bytes per block */
    bool        is_float;      /* usable as weights for the float kernels */
} llm_dtype_info;

/* Facts about a dtype; NULL for an out-of-range value. */
LLM_API const llm_dtype_info *llm_dtype_get(llm_dtype dtype);

typedef struct llm_tensor {
    const char *name;                 /* borrowed; valid as long as the owner */
    llm_dtype   dtype;
    int32_t     n_dims;               /* 0..LLM_MAX_DIMS (0 = scalar) */
    int64_t     shape[LLM_MAX_DIMS];  /* shape[0] outermost */
    void       *data;                 /* often a view into a memory-mapped file */
    size_t      n_bytes;
} llm_tensor;

/* Number of elements (product of the shape; 1 for a scalar). */
LLM_API int64_t llm_tensor_n_elems(const llm_tensor *t);

/* Bytes needed for n elements of dtype (n must be a multiple of the block size);
   0 when it is not or on overflow. */
LLM_API size_t llm_dtype_n_bytes(llm_dtype dtype, int64_t n);

/* Convert n elements between float types (f32, f16, bf16). Rounds to nearest even. */
LLM_API void llm_convert(llm_dtype to, void *dst, llm_dtype from, const void *src, int64_t n);
