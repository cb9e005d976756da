/* ---- >>tensor: dtype table and float conversions ----
   f16 and bf16 are converted with integer arithmetic (round to nearest even), so the scalar
   path needs no hardware support; the kernels use F16C/NEON where they can. */
#include "10_internal.h"

static const llm_dtype_info llm__dtypes[LLM_DTYPE_COUNT] = {
    [LLM_DTYPE_F32]  = { "f32",  "F32",  1, 4, true  },
    [LLM_DTYPE_F16]  = { "f16",  "F16",  1, 2, true  },
    [LLM_DTYPE_BF16] = { "bf16", "BF16", 1, 2, true  },
    [LLM_DTYPE_F64]  = { "f64",  "F64",  1, 8, false },
    [LLM_DTYPE_I8]   = { "i8",   "I8",   1, 1, false },
    [LLM_DTYPE_U8]   = { "u8",   "U8",   1, 1, false },
    [LLM_DTYPE_I16]  = { "i16",  "I16",  1, 2, false },
    [LLM_DTYPE_I32]  = { "i32",  "I32",  1, 4, false },
    [LLM_DTYPE_I64]  = { "i64",  "I64",  1, 8, false },
    [LLM_DTYPE_U32]  = { "u32",  "U32",  1, 4, false },
    [LLM_DTYPE_BOOL] = { "bool", "BOOL", 1, 1, false },
    [LLM_DTYPE_Q4_0] = { "q4_0", NULL,  32,  18, false },
    [LLM_DTYPE_Q4_1] = { "q4_1", NULL,  32,  20, false },
    [LLM_DTYPE_Q5_0] = { "q5_0", NULL,  32,  22, false },
    [LLM_DTYPE_Q5_1] = { "q5_1", NULL,  32,  24, false },
    [LLM_DTYPE_Q8_0] = { "q8_0", NULL,  32,  34, false },
    [LLM_DTYPE_Q2_K] = { "q2_K", NULL, 256,  84, false },
    [LLM_DTYPE_Q3_K] = { "q3_K", NULL, 256, 110, false },
    [LLM_DTYPE_Q4_K] = { "q4_K", NULL, 256, 144, false },
    [LLM_DTYPE_Q5_K] = { "q5_K", NULL, 256, 176, false },
    [LLM_DTYPE_Q6_K] = { "q6_K", NULL, 256, 210, false },
    [LLM_DTYPE_Q8_K] = { "q8_K", NULL, 256, 292, false },
    [LLM_DTYPE_MLX_AFFINE] = { "mlx", NULL, 1, 0, false },   /* bytes 0: not a flat array (an llm__qmat) */
    [LLM_DTYPE_MXFP4] = { "mxfp4", NULL, 32, 17, false },
    [LLM_DTYPE_Q4_0_R8] = { "q4_0_r8", NULL, 32, 18, false },  /* 8 rows take the bytes of 8 q4_0 rows */
    [LLM_DTYPE_Q8_0_R8] = { "q8_0_r8", NULL, 32, 34, false },
    [LLM_DTYPE_Q4_K_R8] = { "q4_K_r8", NULL, 256, 148, false },   /* scales and mins a byte each: 32 more per 8 rows */
    [LLM_DTYPE_Q6_K_R8] = { "q6_K_r8", NULL, 256, 210, false },
};

LLM_API const llm_dtype_info *llm_dtype_get(llm_dtype dtype) {
    return (unsigned)dtype < (unsigned)LLM_DTYPE_COUNT ? &llm__dtypes[dtype] : NULL;
}

LLM_API size_t llm_dtype_n_bytes(llm_dtype dtype, int64_t n) {
    const llm_dtype_info *d = llm_dtype_get(dtype);
    if (!d || n < 0 || n % d->block_elems) return 0;
    size_t bytes;
    return llm__mul_ok((size_t)(n / d->block_elems), (size_t)d->block_bytes, &bytes) ? bytes : 0;
}

LLM_API int64_t llm_tensor_n_elems(const llm_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++) n *= t->shape[i];
    return n;
}

static inline uint32_t llm__f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float llm__bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float llm__bf16_to_f32(uint16_t h) { return llm__bits_f32((uint32_t)h << 16); }

static inline uint16_t llm__f32_to_bf16(float f) {
    uint32_t u = llm__f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);   /* quiet NaN */
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static inline float llm__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return llm__bits_f32(sign | 0x7f800000 | (man << 13));      /* inf/NaN */
    if (exp == 0) {                                                              /* subnormal */
        float f = (float)man * (1.0f / 16777216.0f);                             /* man * 2^-24 */
        return sign ? -f : f;
    }
    return llm__bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline uint16_t llm__f32_to_f16(float f) {
    uint32_t u = llm__f32_bits(f), sign = (u >> 16) & 0x8000;
    uint32_t a = u & 0x7fffffff;
    if (a > 0x7f800000) return (uint16_t)(sign | 0x7e00);                        /* NaN */
    if (a >= 0x477ff000) return (uint16_t)(sign | 0x7c00);                       /* overflow -> inf */
    if (a < 0x38800000) {                                                        /* subnormal or 0 */
        /* scale into the subnormal range; float addition rounds to nearest even */
        float r = llm__bits_f32(a) + 0.5f;
        return (uint16_t)(sign | (llm__f32_bits(r) - 0x3f000000u));
    }
    uint32_t rounded = a + 0xfff + ((a >> 13) & 1);
    return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13));
}

LLM_API void llm_convert(llm_dtype to, void *dst, llm_dtype from, const void *src, int64_t n) {
    LLM_ASSERT((to == LLM_DTYPE_F32 || to == LLM_DTYPE_F16 || to == LLM_DTYPE_BF16) &&
               (from == LLM_DTYPE_F32 || from == LLM_DTYPE_F16 || from == LLM_DTYPE_BF16));
    for (int64_t i = 0; i < n; i++) {
        float v;
        switch (from) {
        case LLM_DTYPE_F16:  v = llm__f16_to_f32(((const uint16_t *)src)[i]); break;
        case LLM_DTYPE_BF16: v = llm__bf16_to_f32(((const uint16_t *)src)[i]); break;
        default:             v = ((const float *)src)[i]; break;
        }
        switch (to) {
        case LLM_DTYPE_F16:  ((uint16_t *)dst)[i] = llm__f32_to_f16(v); break;
        case LLM_DTYPE_BF16: ((uint16_t *)dst)[i] = llm__f32_to_bf16(v); break;
        default:             ((float *)dst)[i] = v; break;
        }
    }
}
