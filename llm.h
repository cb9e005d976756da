/* llm.h: generated from llm_impl/ - edit there, then run 'make llm.h'. */
/* ==== begin llm_impl/00_intro.h ==== */
/* llm.h - v0.1.0 - large language models in one C header: load, tokenize, generate - MIT

   (the tour is written at the end of this file's first version)
*/
/* ==== end llm_impl/00_intro.h ==== */
#ifndef LLM_H_INCLUDED
#define LLM_H_INCLUDED
/* ==== begin llm_impl/01_config.h ==== */
/* Platform detection and the user-facing configuration macros (see the table in the tour).
   Everything here may be defined by the user before including llm.h. */
#if defined(LLM_IMPLEMENTATION) && !defined(_WIN32) && !defined(_GNU_SOURCE)
/* mmap, pthreads, sysconf under -std=c11: include llm.h first in the implementation file */
#define _GNU_SOURCE 1
#endif
#ifndef LLM_API
#  ifdef LLM_STATIC
#    define LLM_API static
#  elif defined(LLM_SHARED) && defined(_WIN32)
#    ifdef LLM_BUILD
#      define LLM_API __declspec(dllexport)
#    else
#      define LLM_API __declspec(dllimport)
#    endif
#  elif defined(LLM_SHARED)
#    define LLM_API __attribute__((visibility("default")))
#  else
#    define LLM_API extern
#  endif
#endif

#ifndef LLM_MAX_DIMS
#define LLM_MAX_DIMS 4        /* tensors have at most this many dimensions */
#endif
#ifndef LLM_THREADS
#define LLM_THREADS 0         /* default pool size; 0 = number of online cores */
#endif
/* ==== end llm_impl/01_config.h ==== */
/* ==== begin llm_impl/02_api_core.h ==== */
/* ---- >>core: version, status codes, errors, allocator, logging ---- */
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LLM_VERSION_MAJOR 0
#define LLM_VERSION_MINOR 1
#define LLM_VERSION_PATCH 0
#define LLM_VERSION_STRING "0.1.0"

/* The library version as a string, e.g. "0.1.0". */
LLM_API const char *llm_version(void);

/* Every fallible function returns one of these. LLM_OK is 0. */
#define LLM_STATUS_LIST(X)                                               \
    X(OK,              "ok")                                             \
    X(ERR_NOMEM,       "out of memory")                                  \
    X(ERR_IO,          "file read/write failed")                         \
    X(ERR_FORMAT,      "malformed file")                                 \
    X(ERR_UNSUPPORTED, "unsupported architecture, dtype or feature")     \
    X(ERR_INVALID_ARG, "invalid argument")                               \
    X(ERR_CONTEXT_FULL,"context (kv cache) is full")                     \
    X(ERR_NOT_FOUND,   "not found")

typedef enum llm_status {
#define LLM__STATUS_ENUM(name, text) LLM_##name,
    LLM_STATUS_LIST(LLM__STATUS_ENUM)
#undef LLM__STATUS_ENUM
    LLM_STATUS_COUNT
} llm_status;

/* A short fixed description of a status code ("malformed file"). */
LLM_API const char *llm_status_str(llm_status status);

/* A human-readable message about the last failure on this thread, naming the file,
   tensor or field and what was expected vs. found. Valid until the next failing call
   on this thread. "" when nothing has failed yet. */
LLM_API const char *llm_last_error(void);

/* Memory hooks. A zeroed struct means the malloc-based default; set both functions or
   neither. Weights mapped from files never go through the allocator. */
typedef struct llm_allocator {
    void *(*alloc)(size_t bytes, size_t align, void *user);
    void  (*free)(void *ptr, void *user);
    void  *user;
} llm_allocator;

/* Log hook. The library logs events (what was loaded, how big), never errors it also
   returns. Default: WARN and ERROR to stderr. The callback must be thread-safe. */
typedef enum llm_log_level { LLM_LOG_ERROR, LLM_LOG_WARN, LLM_LOG_INFO, LLM_LOG_DEBUG } llm_log_level;
typedef void (*llm_log_fn)(llm_log_level level, const char *msg, void *user);
LLM_API void llm_set_log(llm_log_fn fn, void *user);   /* fn NULL: back to the default */

/* Use the scalar reference kernels everywhere (true) or the fastest this build has (false,
   the default). Global; call it before creating sessions. */
LLM_API void llm_set_reference_kernels(bool reference);

/* Token ids. */
typedef int32_t llm_token;

/* A persistent pool of worker threads (the caller's thread is worker 0). Sessions make
   their own unless given one; share one pool between sessions used from one thread.
   n_threads <= 0 means the number of online cores. Free with llm_pool_destroy(). */
typedef struct llm_pool llm_pool;
LLM_API llm_status llm_pool_create(int n_threads, llm_pool **out_pool);
LLM_API void       llm_pool_destroy(llm_pool *pool);
LLM_API int        llm_pool_n_threads(const llm_pool *pool);
/* ==== end llm_impl/02_api_core.h ==== */
/* ==== begin llm_impl/03_api_tensor.h ==== */
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
/* ==== end llm_impl/03_api_tensor.h ==== */
/* ==== begin llm_impl/04_api_model.h ==== */
/* ---- >>model: loading a model ----
   A model is the weights plus the hyperparameters of one architecture. It is read-only after
   loading and may be shared by sessions on several threads. Weights are used in place from
   the memory-mapped file where their dtype allows (f32, f16, bf16); compute is in f32. */
typedef struct llm_model llm_model;

typedef struct llm_model_desc {
    llm_allocator allocator;     /* zero = default */
    const char *config_file;     /* NULL = "config.json" next to the weights (e.g. "config.legacy.json") */
} llm_model_desc;

/* Load a model from `path`:
   - a Hugging Face / MLX directory (config.json + model.safetensors or a sharded index),
   - a .safetensors file or a model.safetensors.index.json (config.json next to it),
   - a llama2.c checkpoint (.bin, legacy v0 header).
   desc may be NULL. Free with llm_model_free(). Errors: LLM_ERR_IO, LLM_ERR_FORMAT (a bad
   file, a missing tensor or a shape mismatch, naming the file and the tensor),
   LLM_ERR_UNSUPPORTED (an unknown model_type: the message lists the supported ones). */
LLM_API llm_status llm_model_load(const char *path, const llm_model_desc *desc, llm_model **out_model);
LLM_API void       llm_model_free(llm_model *model);

/* What a program needs to know about a loaded model. Valid until llm_model_free(). */
typedef struct llm_model_info {
    const char *arch;            /* the config's model_type, e.g. "llama", "qwen3" */
    int64_t n_vocab;             /* V: rows of the output layer */
    int64_t n_embd;              /* C: width of the residual stream */
    int64_t n_layers;
    int64_t n_heads;             /* H: query heads */
    int64_t n_kv_heads;          /* Hkv: key/value heads (grouped-query attention when < H) */
    int64_t head_dim;            /* D */
    int64_t n_ff;                /* width of the feed-forward hidden layer */
    int64_t n_ctx_train;         /* max_position_embeddings (0 if unknown) */
    int64_t n_params;            /* number of weights */
    llm_token bos;               /* -1 if none */
    const llm_token *eos;        /* end-of-sequence ids (generation_config.json, else config.json) */
    int32_t n_eos;
    const char *path;            /* what llm_model_load was given */
} llm_model_info;

LLM_API const llm_model_info *llm_model_get_info(const llm_model *model);

/* The architectures this build supports, NULL-terminated ("llama", "mistral", ...). */
LLM_API const char *const *llm_architectures(void);
/* ==== end llm_impl/04_api_model.h ==== */
/* ==== begin llm_impl/05_api_text.h ==== */
/* (filled in below) */
/* ==== end llm_impl/05_api_text.h ==== */
/* ==== begin llm_impl/06_api_infer.h ==== */
/* ---- >>session: the KV cache and the forward pass ----
   A session holds one sequence's state: the KV cache, scratch buffers and a thread pool.
   Feed it tokens with llm_session_eval (a whole prompt at once, then one token at a time);
   positions continue from where the last call stopped. One thread at a time per session. */
typedef struct llm_session llm_session;

typedef struct llm_session_desc {
    int64_t n_ctx;               /* KV cache length in tokens; 0 = min(n_ctx_train, 4096) */
    int64_t n_batch;             /* tokens per forward chunk when evaluating a long prompt; 0 = 256 */
    int n_threads;               /* 0 = LLM_THREADS, which if 0 = online cores; ignored with pool */
    llm_pool *pool;              /* optional shared pool (borrowed) */
    llm_allocator allocator;     /* zero = the model's */
} llm_session_desc;

/* Create a session over a model (borrowed: keep the model alive). desc may be NULL.
   Free with llm_session_destroy(). */
LLM_API llm_status llm_session_create(const llm_model *model, const llm_session_desc *desc, llm_session **out_session);
LLM_API void       llm_session_destroy(llm_session *session);

/* Run n tokens through the model at positions n_past .. n_past+n-1 and append them to the
   cache. out_logits: NULL, or room for [n, n_vocab] floats to receive the logits of every
   position. The last position's logits are always kept (llm_session_logits).
   Errors: LLM_ERR_CONTEXT_FULL (n_past + n > n_ctx; nothing is changed),
   LLM_ERR_INVALID_ARG (a token id outside the vocabulary). */
LLM_API llm_status   llm_session_eval(llm_session *session, const llm_token *tokens, int64_t n, float *out_logits);
/* [n_vocab] logits of the last evaluated position; valid until the next eval. */
LLM_API const float *llm_session_logits(const llm_session *session);
LLM_API int64_t      llm_session_n_past(const llm_session *session);
LLM_API int64_t      llm_session_n_ctx(const llm_session *session);
/* The n_past tokens in the cache, in order; valid until the next eval or rewind. */
LLM_API const llm_token *llm_session_tokens(const llm_session *session);
LLM_API const llm_model *llm_session_model(const llm_session *session);
/* Forget everything after the first n_past tokens (0 = clear). */
LLM_API llm_status   llm_session_rewind(llm_session *session, int64_t n_past);
/* ==== end llm_impl/06_api_infer.h ==== */
/* ==== begin llm_impl/06_api_sample.h ==== */
/* ---- >>sample: logits processors, a seedable RNG, token selection, log-probabilities ----
   Two layers:
   1. llm_logits_*(): one processor over one logits row, in place. Filtered entries
      become -INFINITY. They follow Hugging Face transformers' processors (our reference
      fixture comes from them); compose them in any order you like.
   2. llm_sampler: the whole chain for one sequence, in mlx-lm's order and with mlx-lm's
      semantics (mlx_lm/sample_utils.py make_logits_processors + make_sampler; generate_step):
        logits -> logit bias -> repetition penalty -> presence penalty -> frequency penalty
               -> logprobs = log_softmax(processed logits)        (what is reported)
               -> temperature 0: argmax (ties -> lowest id); the filters are skipped
               -> else top-p -> min-p -> XTC -> top-k -> sample softmax(logits / temperature)
      Temperature comes last (mlx-lm applies it inside its categorical sampling), so the
      filters see the untempered distribution, unlike transformers where temperature is
      applied first. Where the two libraries differ:
        top-k   min_tokens_to_keep raises k in transformers; mlx-lm ignores it (chain: ignored).
                Exactly k tokens survive; ties at the k-th value go to the lowest ids
                (transformers would keep all tied tokens, mlx-lm keeps an arbitrary k).
        top-p   transformers always keeps min_tokens_to_keep tokens; mlx-lm does not
                (chain: 1). Both keep tokens whose cumulative probability in ascending order
                is > 1 - top_p, i.e. the smallest top set whose mass reaches top_p.
        min-p   both keep p >= min_p * p_max plus the min_tokens_to_keep most likely ones.
        penalties transformers penalises every token of the input; mlx-lm only the last
                context_size tokens (chain: context sizes, <= 0 meaning all of them).
   Shapes: V = vocabulary size (n); one row of V float logits per call. */

/* ---- random numbers: xoshiro256** (Blackman & Vigna), seeded through splitmix64 ----
   Same seed, same stream, on every platform. A plain struct: copy it to fork a stream. */
typedef struct llm_rng { uint64_t s[4]; } llm_rng;

LLM_API void     llm_rng_seed(llm_rng *rng, uint64_t seed);
LLM_API uint64_t llm_rng_next(llm_rng *rng);       /* 64 uniform random bits */
LLM_API double   llm_rng_uniform(llm_rng *rng);    /* uniform in [0, 1), 53 bits */

/* ---- single processors over one logits row (in place) ----
   x: [n] logits. NaN-free input gives NaN-free output. Token ids outside [0, n) in the
   lists below are ignored. Those returning llm_status need n-sized scratch memory and
   fail only with LLM_ERR_NOMEM; llm_sampler uses its own scratch and never allocates. */

/* x /= temperature (transformers' TemperatureLogitsWarper). temperature > 0. */
LLM_API void llm_logits_temperature(float *x, int64_t n, float temperature);

/* Keep the max(k, min_keep) largest logits, exactly (ties -> lowest ids). k <= 0 or
   k >= n: nothing is removed. */
LLM_API llm_status llm_logits_top_k(float *x, int64_t n, int64_t k, int64_t min_keep);

/* Nucleus filter: keep the smallest set of most likely tokens whose probability mass
   (softmax of x) reaches top_p, and at least min_keep tokens. No-op unless 0 < top_p < 1. */
LLM_API llm_status llm_logits_top_p(float *x, int64_t n, float top_p, int64_t min_keep);

/* Keep tokens with probability >= min_p * (probability of the most likely token), and
   at least the min_keep most likely ones. No-op when min_p <= 0. */
LLM_API llm_status llm_logits_min_p(float *x, int64_t n, float min_p, int64_t min_keep);

/* XTC, "exclude top choices" (mlx-lm apply_xtc without its coin flip, which the caller
   makes): of the tokens with probability > threshold, remove all but the least likely
   one; never remove the `n_protected` ids in `protected_ids` (EOS, newline). Nothing
   happens when fewer than two tokens are above the threshold. */
LLM_API void llm_logits_xtc(float *x, int64_t n, float threshold,
                            const llm_token *protected_ids, int64_t n_protected);

/* Penalties over the tokens in ctx[0..n_ctx) (pass the window you want, e.g. the last
   20 tokens). Each distinct token is penalised once, however often it occurs, except by
   the frequency penalty:
   repetition (CTRL paper, transformers/mlx-lm): x < 0 ? x * penalty : x / penalty;
   presence   (OpenAI, mlx-lm):                   x -= penalty;
   frequency  (OpenAI, mlx-lm):                   x -= penalty * count in ctx. */
LLM_API llm_status llm_logits_repetition_penalty(float *x, int64_t n, const llm_token *ctx, int64_t n_ctx, float penalty);
LLM_API llm_status llm_logits_presence_penalty(float *x, int64_t n, const llm_token *ctx, int64_t n_ctx, float penalty);
LLM_API llm_status llm_logits_frequency_penalty(float *x, int64_t n, const llm_token *ctx, int64_t n_ctx, float penalty);

/* x[token] += bias for each pair (repeated ids add up, as in mlx-lm). A bias of
   -INFINITY bans a token. */
typedef struct llm_logit_bias { llm_token token; float bias; } llm_logit_bias;
LLM_API void llm_logits_bias(float *x, int64_t n, const llm_logit_bias *bias, int64_t n_bias);

/* ---- llm_sampler: the chain, with per-sequence state ---- */

/* Zero-initialised params mean greedy decoding with no processors; context sizes <= 0
   mean the whole history. llm_sampler_default_params() gives mlx-lm's defaults (also
   greedy; context sizes 20, xtc_threshold 0.1, min_tokens_to_keep 1). A filter is off at
   its neutral value, as in mlx-lm. */
typedef struct llm_sampler_params {
    float     temperature;             /* <= 0: greedy argmax (filters skipped) */
    int32_t   top_k;                   /* 0: off; >= V: off */
    float     top_p;                   /* on when 0 < top_p < 1 */
    float     min_p;                   /* 0: off; else in (0, 1] */
    int32_t   min_tokens_to_keep;      /* min-p keeps at least this many; < 1 means 1 */
    float     xtc_probability;         /* chance per token that XTC runs; 0: off */
    float     xtc_threshold;           /* probability a token needs to be excluded */
    const llm_token *xtc_protected;    /* [n_xtc_protected] ids XTC never removes (EOS, "\n"); copied */
    int32_t   n_xtc_protected;
    float     repetition_penalty;      /* 0 or 1: off; > 1 discourages repeats */
    int32_t   repetition_context_size; /* last N tokens looked at; <= 0: all */
    float     presence_penalty;        /* 0: off */
    int32_t   presence_context_size;
    float     frequency_penalty;       /* 0: off */
    int32_t   frequency_context_size;
    const llm_logit_bias *logit_bias;  /* [n_logit_bias]; copied */
    int32_t   n_logit_bias;
    uint64_t  seed;                    /* the RNG seed; the library never picks one itself */
    int32_t   n_logprobs;              /* top-N alternatives llm_sampler_sample reports */
} llm_sampler_params;

LLM_API llm_sampler_params llm_sampler_default_params(void);

/* One token and its log-probability. */
typedef struct llm_token_logprob { llm_token token; float logprob; } llm_token_logprob;

/* A sampler for vocabularies of up to n_vocab tokens: params (copied, so the caller's
   arrays may go away), the RNG, the token history for the penalties and scratch memory
   (about 20 bytes x n_vocab), all allocated here once. alloc may be NULL.
   Free with llm_sampler_destroy(). Errors: LLM_ERR_INVALID_ARG (bad params, with the
   field named), LLM_ERR_NOMEM. One thread at a time per sampler. */
typedef struct llm_sampler llm_sampler;
LLM_API llm_status llm_sampler_create(const llm_sampler_params *params, int64_t n_vocab,
                                      const llm_allocator *alloc, llm_sampler **out_sampler);
LLM_API void       llm_sampler_destroy(llm_sampler *s);

/* Forget the history and reseed the RNG with params.seed: a new sequence. */
LLM_API void       llm_sampler_reset(llm_sampler *s);

/* Append a token to the history the penalties look at: push every prompt token, then
   each sampled token (llm_sampler_sample does not record its choice). Allocates only
   when a penalty looks at the whole history and that history outgrows its buffer.
   Errors: LLM_ERR_NOMEM. */
LLM_API llm_status llm_sampler_accept(llm_sampler *s, llm_token token);

/* Choose the next token from one row of logits, as described at the top of this part.
     s            [in]  the sampler (its RNG advances)
     logits       [in]  [n_vocab] raw model logits, not modified; NaN counts as -inf
     n_vocab      [in]  <= the n_vocab the sampler was created for
     out_token    [out] the chosen id
     out_logprob  [out, optional] its log-probability under log_softmax(processed logits):
                        after bias and penalties, before filters and temperature (what
                        mlx-lm's generate_step returns; equals the raw model's when no
                        bias or penalty is set)
     out_top      [out, optional] room for params.n_logprobs entries: the
                        min(n_logprobs, n_vocab) most likely tokens under that same
                        distribution, by decreasing logprob (ties -> lowest id)
   Errors: LLM_ERR_INVALID_ARG when n_vocab is too large or every logit is -inf/NaN
   after the processors. Never allocates. */
LLM_API llm_status llm_sampler_sample(llm_sampler *s, const float *logits, int64_t n_vocab,
                                      llm_token *out_token, float *out_logprob,
                                      llm_token_logprob *out_top);
/* ==== end llm_impl/06_api_sample.h ==== */
/* ==== begin llm_impl/07_api_files.h ==== */
/* ---- >>files: safetensors reading and writing ----
   Reading maps the file(s) read-only; tensors are views into the mapping and stay valid
   until llm_safetensors_close(). Every header is validated before any tensor is handed
   out: offsets inside the file, sorted and non-overlapping, byte length == dtype size x
   shape, known dtypes. */
typedef struct llm_safetensors llm_safetensors;

/* Open `path`: one .safetensors file, a sharded model's model.safetensors.index.json,
   or a directory holding either. Free with llm_safetensors_close().
   Errors: LLM_ERR_IO (cannot open/map), LLM_ERR_FORMAT (bad header, with details),
   LLM_ERR_NOMEM. */
LLM_API llm_status llm_safetensors_open(const char *path, llm_safetensors **out_st);
LLM_API void       llm_safetensors_close(llm_safetensors *st);

LLM_API int64_t           llm_safetensors_n_tensors(const llm_safetensors *st);
/* i-th tensor (in file order, shard by shard); valid until close. */
LLM_API const llm_tensor *llm_safetensors_tensor(const llm_safetensors *st, int64_t i);
/* Tensor by name, or NULL. */
LLM_API const llm_tensor *llm_safetensors_find(const llm_safetensors *st, const char *name);
/* A "__metadata__" string of the (first) file, or NULL. */
LLM_API const char       *llm_safetensors_metadata(const llm_safetensors *st, const char *key);

/* Write tensors to `path` atomically (a temp file in the same folder, then rename):
   a killed process never leaves a half-written file under `path`.
   meta: n_meta key/value pairs for "__metadata__" (meta[2*i] = key, meta[2*i+1] = value).
   Tensors are written in the order given, back to back after an 8-byte aligned header. */
LLM_API llm_status llm_safetensors_write(const char *path, const llm_tensor *tensors, int64_t n_tensors,
                                         const char *const *meta, int64_t n_meta);
/* ==== end llm_impl/07_api_files.h ==== */
/* ==== begin llm_impl/09_api_end.h ==== */
#ifdef __cplusplus
}
#endif
/* ==== end llm_impl/09_api_end.h ==== */
#endif /* LLM_H_INCLUDED */

/* ======================================================================
   API ends here; the implementation follows. You can stop reading.     
   ====================================================================== */

#ifdef LLM_IMPLEMENTATION
#ifndef LLM_IMPLEMENTATION_INCLUDED
#define LLM_IMPLEMENTATION_INCLUDED
/* ==== begin llm_impl/10_internal.h ==== */
/* ---- >>internal: includes, private macros, helpers shared by all parts ----
   The implementation starts here. Private names are llm__x (functions, types) and
   LLM__X (macros); they are not part of the API and may change. */
/* #include "01_config.h" (already above) */
/* #include "02_api_core.h" (already above) */
/* #include "03_api_tensor.h" (already above) */
/* #include "04_api_model.h" (already above) */
/* #include "05_api_text.h" (already above) */
/* #include "06_api_infer.h" (already above) */
/* #include "07_api_files.h" (already above) */
/* #include "09_api_end.h" (already above) */

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef LLM_NO_THREADS
#include <pthread.h>
#include <stdatomic.h>
#endif
#ifndef LLM_NO_CJSON
#include <cjson/cJSON.h>
#endif
#if defined(__AVX2__) && defined(__FMA__) && !defined(LLM_NO_SIMD) && !defined(LLM_NO_AVX2)
#define LLM__AVX2 1
#include <immintrin.h>
#endif

#ifndef LLM_ASSERT
#define LLM_ASSERT(x) assert(x)      /* programmer errors only, never file contents */
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LLM_PRIVATE static __attribute__((unused))
#define LLM__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LLM_PRIVATE static
#define LLM__PRINTF(a, b)
#endif

#define LLM__MIN(a, b) ((a) < (b) ? (a) : (b))
#define LLM__MAX(a, b) ((a) > (b) ? (a) : (b))
#define LLM__COUNT(arr) ((int64_t)(sizeof(arr) / sizeof((arr)[0])))
#define LLM__ALIGN 64                /* kernels like cache-line aligned buffers */
/* ==== end llm_impl/10_internal.h ==== */
/* ==== begin llm_impl/11_base.c ==== */
/* ---- >>base: errors, allocation, logging, files ----
   The pieces every other part uses: the thread-local error message (llm__fail), the
   allocator wrappers, the log hook, read-only file mappings, whole-file reads and atomic
   writes (temp file + rename). Nothing here knows about models. */
/* #include "10_internal.h" (already above) */

LLM_API const char *llm_version(void) { return LLM_VERSION_STRING; }

LLM_API const char *llm_status_str(llm_status status) {
    static const char *const text[] = {
#define LLM__STATUS_TEXT(name, str) str,
        LLM_STATUS_LIST(LLM__STATUS_TEXT)
#undef LLM__STATUS_TEXT
    };
    return (unsigned)status < (unsigned)LLM_STATUS_COUNT ? text[status] : "unknown status";
}

/* ---- errors ---- */

static _Thread_local char llm__error_msg[1024];

LLM_API const char *llm_last_error(void) { return llm__error_msg; }

/* Record why something failed and return the status, so error exits are one line:
   `return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has %d dims", path, name, n);` */
LLM_PRIVATE llm_status llm__fail(llm_status status, const char *fmt, ...) LLM__PRINTF(2, 3);
LLM_PRIVATE llm_status llm__fail(llm_status status, const char *fmt, ...) {
#ifdef LLM_NO_ERROR_STRINGS
    (void)fmt;
    snprintf(llm__error_msg, sizeof llm__error_msg, "%s", llm_status_str(status));
#else
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(llm__error_msg, sizeof llm__error_msg, fmt, ap);
    va_end(ap);
#endif
    return status;
}

/* ---- logging ---- */

static void llm__log_default(llm_log_level level, const char *msg, void *user) {
    static const char *const names[] = { "error", "warn", "info", "debug" };
    (void)user;
#ifndef LLM_NO_STDIO
    if (level <= LLM_LOG_WARN) fprintf(stderr, "llm: %s: %s\n", names[level], msg);
#else
    (void)level; (void)msg; (void)names;
#endif
}

static llm_log_fn llm__log_fn = llm__log_default;
static void *llm__log_user;

LLM_API void llm_set_log(llm_log_fn fn, void *user) {
    llm__log_fn = fn ? fn : llm__log_default;
    llm__log_user = fn ? user : NULL;
}

LLM_PRIVATE void llm__log(llm_log_level level, const char *fmt, ...) LLM__PRINTF(2, 3);
LLM_PRIVATE void llm__log(llm_log_level level, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    llm__log_fn(level, msg, llm__log_user);
}

/* ---- allocation ----
   Objects keep the llm_allocator they were created with and pass it to their children.
   A NULL or zeroed allocator means aligned malloc. All sizes go through llm__alloc, which
   returns NULL on overflowed (SIZE_MAX) requests as well as on exhaustion. */

LLM_PRIVATE void *llm__alloc(const llm_allocator *a, size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes > SIZE_MAX - LLM__ALIGN) return NULL;
    if (a && a->alloc) return a->alloc(bytes, LLM__ALIGN, a->user);
    return aligned_alloc(LLM__ALIGN, (bytes + LLM__ALIGN - 1) / LLM__ALIGN * LLM__ALIGN);
}

LLM_PRIVATE void *llm__calloc(const llm_allocator *a, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = llm__alloc(a, n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

LLM_PRIVATE void llm__free(const llm_allocator *a, void *p) {
    if (!p) return;
    if (a && a->free) a->free(p, a->user);
    else free(p);
}

LLM_PRIVATE char *llm__strdup(const llm_allocator *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = (char *)llm__alloc(a, n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Checked size arithmetic for anything derived from file contents. */
LLM_PRIVATE bool llm__mul_ok(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return false;
    *out = a * b;
    return true;
}

/* ---- paths ---- */

/* dir + "/" + name into buf; false if it does not fit. */
LLM_PRIVATE bool llm__path_join(char *buf, size_t cap, const char *dir, const char *name) {
    int n = snprintf(buf, cap, "%s%s%s", dir, (dir[0] && dir[strlen(dir) - 1] != '/') ? "/" : "", name);
    return n >= 0 && (size_t)n < cap;
}

/* The directory part of path ("." if none) into buf. */
LLM_PRIVATE void llm__path_dir(char *buf, size_t cap, const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) { snprintf(buf, cap, "."); return; }
    size_t n = (size_t)(slash - path);
    if (n == 0) n = 1;                                 /* "/file" -> "/" */
    snprintf(buf, cap, "%.*s", (int)LLM__MIN(n, cap - 1), path);
}

LLM_PRIVATE bool llm__is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

LLM_PRIVATE bool llm__file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

LLM_PRIVATE bool llm__ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* ---- read-only file mappings ---- */

typedef struct llm__mapping {
    const uint8_t *data;
    size_t size;
} llm__mapping;

/* Map a whole file read-only. An empty file maps to size 0 and data NULL. */
LLM_PRIVATE llm_status llm__map_file(const char *path, llm__mapping *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return llm__fail(LLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return llm__fail(LLM_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return llm__fail(LLM_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        }
        out->data = (const uint8_t *)p;
        out->size = (size_t)st.st_size;
    }
    close(fd);
    return LLM_OK;
}

LLM_PRIVATE void llm__unmap(llm__mapping *m) {
    if (m->data) munmap((void *)m->data, m->size);
    memset(m, 0, sizeof *m);
}

/* Read a whole file into a NUL-terminated buffer (for JSON and other small text files).
   Free with llm__free(a, *out). */
LLM_PRIVATE llm_status llm__read_file(const llm_allocator *a, const char *path, char **out, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (!f) return llm__fail(LLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = (char *)llm__alloc(a, ncap + 1);
            if (!nb) { llm__free(a, buf); fclose(f); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory reading file", path); }
            if (buf) memcpy(nb, buf, len);
            llm__free(a, buf);
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    bool err = ferror(f) != 0;
    fclose(f);
    if (err) { llm__free(a, buf); return llm__fail(LLM_ERR_IO, "%s: read error", path); }
    buf[len] = 0;
    *out = buf;
    if (out_len) *out_len = len;
    return LLM_OK;
}

/* ---- atomic writes ----
   Write to "<path>.tmp.<pid>" in the same directory, fsync, rename over path. A killed
   process leaves at most a stray temp file, never a truncated `path`. */

typedef struct llm__atomic_file {
    FILE *f;
    char tmp[4096];
    const char *path;
} llm__atomic_file;

LLM_PRIVATE llm_status llm__atomic_open(llm__atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    af->path = path;
    if (snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof af->tmp)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", path);
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return llm__fail(LLM_ERR_IO, "%s: cannot create: %s", af->tmp, strerror(errno));
    return LLM_OK;
}

LLM_PRIVATE llm_status llm__atomic_write(llm__atomic_file *af, const void *data, size_t n) {
    if (n && fwrite(data, 1, n, af->f) != n)
        return llm__fail(LLM_ERR_IO, "%s: write failed: %s", af->tmp, strerror(errno));
    return LLM_OK;
}

/* Finish (ok) or abandon (!ok) the file. Returns the first error. */
LLM_PRIVATE llm_status llm__atomic_close(llm__atomic_file *af, bool ok) {
    if (!af->f) return LLM_ERR_IO;
    bool flushed = fflush(af->f) == 0 && fsync(fileno(af->f)) == 0;
    bool closed = fclose(af->f) == 0;
    af->f = NULL;
    if (ok && (!flushed || !closed)) {
        ok = false;
        llm__fail(LLM_ERR_IO, "%s: write failed: %s", af->tmp, strerror(errno));
    }
    if (ok && rename(af->tmp, af->path) != 0) {
        llm__fail(LLM_ERR_IO, "%s: cannot rename into place: %s", af->path, strerror(errno));
        ok = false;
    }
    if (!ok) { remove(af->tmp); return LLM_ERR_IO; }
    return LLM_OK;
}
/* ==== end llm_impl/11_base.c ==== */
/* ==== begin llm_impl/12_threads.c ==== */
/* ---- >>threads: a small persistent pool ----
   One primitive: llm__parallel_for(pool, fn, ctx) runs fn(ctx, ith, nth) for ith = 0..nth-1,
   ith = 0 on the calling thread, and returns when all are done. Work is split the ggml way:
   each task derives its own slice (rows of a matmul, heads of attention) from ith/nth.
   Workers spin briefly between calls (a decode step issues a few hundred calls, too many for
   a sleep/wake each), then sleep on a condition variable so an idle pool costs nothing.
   No allocation and no thread creation per call. LLM_NO_THREADS runs everything inline. */
/* #include "10_internal.h" (already above) */

typedef void (*llm__task_fn)(void *ctx, int ith, int nth);

#ifndef LLM_NO_THREADS
struct llm_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint generation;        /* bumped once per parallel_for */
    atomic_int n_done;             /* workers finished with the current generation */
    atomic_bool stop;
    llm__task_fn fn;               /* the current task, published before generation++ */
    void *ctx;
    struct llm__worker_arg *args;  /* one per worker thread */
};

typedef struct llm__worker_arg { llm_pool *pool; int ith; } llm__worker_arg;

static inline void llm__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void *llm__worker(void *arg_) {
    llm__worker_arg *arg = (llm__worker_arg *)arg_;
    llm_pool *p = arg->pool;
    int ith = arg->ith;
    unsigned seen = 0;
    for (;;) {
        /* spin for the next generation, then sleep */
        for (int spin = 0; spin < 20000 && atomic_load_explicit(&p->generation, memory_order_acquire) == seen; spin++)
            llm__cpu_relax();
        if (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        p->fn(p->ctx, ith, p->n_threads);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_acq_rel);
    }
    return NULL;
}

static int llm__online_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)LLM__MIN(n, 256) : 1;
}

LLM_API llm_status llm_pool_create(int n_threads, llm_pool **out_pool) {
    if (n_threads <= 0) n_threads = LLM_THREADS > 0 ? LLM_THREADS : llm__online_cores();
    if (n_threads > 1024) return llm__fail(LLM_ERR_INVALID_ARG, "thread pool: %d threads is too many", n_threads);
    llm_pool *p = (llm_pool *)calloc(1, sizeof *p);
    llm__worker_arg *args = (llm__worker_arg *)calloc((size_t)n_threads, sizeof *args);
    if (p) p->threads = (pthread_t *)calloc((size_t)n_threads, sizeof *p->threads);
    if (!p || !args || !p->threads) {
        if (p) free(p->threads);
        free(p); free(args);
        return llm__fail(LLM_ERR_NOMEM, "thread pool: out of memory");
    }
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->args = args;
    for (int i = 1; i < n_threads; i++) {
        args[i].pool = p;
        args[i].ith = i;
        if (pthread_create(&p->threads[i], NULL, llm__worker, &args[i]) != 0) {
            p->n_threads = i;               /* join the ones that started */
            llm_pool_destroy(p);
            return llm__fail(LLM_ERR_NOMEM, "thread pool: cannot start thread %d", i);
        }
    }
    *out_pool = p;
    return LLM_OK;
}

LLM_API void llm_pool_destroy(llm_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p->args);
    free(p);
}

LLM_API int llm_pool_n_threads(const llm_pool *p) { return p ? p->n_threads : 1; }

LLM_PRIVATE void llm__parallel_for(llm_pool *p, llm__task_fn fn, void *ctx) {
    if (!p || p->n_threads == 1) { fn(ctx, 0, 1); return; }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n_threads);
    while (atomic_load_explicit(&p->n_done, memory_order_acquire) != p->n_threads - 1) llm__cpu_relax();
}
#else  /* LLM_NO_THREADS */
struct llm_pool { int n_threads; };
LLM_API llm_status llm_pool_create(int n_threads, llm_pool **out_pool) {
    (void)n_threads;
    llm_pool *p = (llm_pool *)calloc(1, sizeof *p);
    if (!p) return llm__fail(LLM_ERR_NOMEM, "thread pool: out of memory");
    p->n_threads = 1;
    *out_pool = p;
    return LLM_OK;
}
LLM_API void llm_pool_destroy(llm_pool *p) { free(p); }
LLM_API int llm_pool_n_threads(const llm_pool *p) { (void)p; return 1; }
LLM_PRIVATE void llm__parallel_for(llm_pool *p, llm__task_fn fn, void *ctx) { (void)p; fn(ctx, 0, 1); }
#endif

/* The slice [*lo, *hi) of n items that task ith of nth owns (contiguous, balanced). */
static inline void llm__split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    *lo = n * ith / nth;
    *hi = n * (ith + 1) / nth;
}
/* ==== end llm_impl/12_threads.c ==== */
/* ==== begin llm_impl/13_json.c ==== */
/* ---- >>json: reading JSON files with cJSON ----
   Config files, tokenizer files and safetensors headers are JSON. These helpers parse with
   a clear error (file, line, column) and read typed fields with defaults, so that a parser
   of a config reads as a list of fields. */
/* #include "10_internal.h" (already above) */

#ifndef LLM_NO_CJSON
/* Parse `len` bytes of JSON. `what` names the source in errors (a path). */
LLM_PRIVATE llm_status llm__json_parse(const char *text, size_t len, const char *what, cJSON **out) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!j) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        int line = 1, col = 1;
        for (size_t i = 0; i < at; i++) { if (text[i] == '\n') { line++; col = 1; } else col++; }
        return llm__fail(LLM_ERR_FORMAT, "%s: invalid JSON at line %d, column %d", what, line, col);
    }
    *out = j;
    return LLM_OK;
}

LLM_PRIVATE llm_status llm__json_load(const char *path, cJSON **out) {
    char *text = NULL;
    size_t len = 0;
    llm_status s = llm__read_file(NULL, path, &text, &len);
    if (s) return s;
    s = llm__json_parse(text, len, path, out);
    llm__free(NULL, text);
    return s;
}

LLM_PRIVATE const cJSON *llm__json_get(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

LLM_PRIVATE bool llm__json_has(const cJSON *obj, const char *key) {
    const cJSON *v = llm__json_get(obj, key);
    return v && !cJSON_IsNull(v);
}

LLM_PRIVATE double llm__json_num(const cJSON *obj, const char *key, double dflt) {
    const cJSON *v = llm__json_get(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

LLM_PRIVATE int64_t llm__json_int(const cJSON *obj, const char *key, int64_t dflt) {
    const cJSON *v = llm__json_get(obj, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= -9.0e15 && v->valuedouble <= 9.0e15)) return dflt;
    return (int64_t)v->valuedouble;
}

LLM_PRIVATE bool llm__json_bool(const cJSON *obj, const char *key, bool dflt) {
    const cJSON *v = llm__json_get(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

LLM_PRIVATE const char *llm__json_str(const cJSON *obj, const char *key, const char *dflt) {
    const cJSON *v = llm__json_get(obj, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}
#endif
/* ==== end llm_impl/13_json.c ==== */
/* ==== begin llm_impl/20_tensor.c ==== */
/* ---- >>tensor: dtype table and float conversions ----
   f16 and bf16 are converted with integer arithmetic (round to nearest even), so the scalar
   path needs no hardware support; the kernels use F16C/NEON where they can. */
/* #include "10_internal.h" (already above) */

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
/* ==== end llm_impl/20_tensor.c ==== */
/* ==== begin llm_impl/21_kernels_scalar.c ==== */
/* ---- >>kernels_scalar: the reference kernels ----
   Plain C, always compiled: the oracle the SIMD kernels are tested against, and the path
   used on CPUs without them. Same function order in every kernels file.

   matmul kernels compute, for rows r in [r0, r1) of a weight matrix W [n_rows, k] and
   tokens t < n_tok of activations x [n_tok, k]:  y[t*ldy + r] = dot(x[t], W[r]).
   Each output is reduced by one call in a fixed order, so the result does not depend on
   how rows are split between threads. */
/* #include "10_internal.h" (already above) */

typedef struct llm__mm_args {
    float *y;              /* [n_tok, ldy] output */
    int64_t ldy;
    const float *x;        /* [n_tok, k] activations */
    int64_t n_tok, k;
    const void *w;         /* [n_rows, k] weights in the kernel's dtype */
} llm__mm_args;

typedef void (*llm__matmul_fn)(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch);

/* dot(a, b) over n floats, accumulated left to right in float. */
static float llm__dot_f32_scalar(const float *a, const float *b, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void llm__matmul_f32_scalar(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    (void)scratch;
    const float *w = (const float *)a->w;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < a->n_tok; t++)
            a->y[t * a->ldy + r] = llm__dot_f32_scalar(a->x + t * a->k, w + r * a->k, a->k);
}

/* f16/bf16 weights: widen a row to f32 once (scratch, k floats), then dot it with every token. */
static void llm__matmul_f16_scalar(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const uint16_t *w = (const uint16_t *)a->w;
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t i = 0; i < a->k; i++) scratch[i] = llm__f16_to_f32(w[r * a->k + i]);
        for (int64_t t = 0; t < a->n_tok; t++) a->y[t * a->ldy + r] = llm__dot_f32_scalar(a->x + t * a->k, scratch, a->k);
    }
}

static void llm__matmul_bf16_scalar(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const uint16_t *w = (const uint16_t *)a->w;
    for (int64_t r = r0; r < r1; r++) {
        for (int64_t i = 0; i < a->k; i++) scratch[i] = llm__bf16_to_f32(w[r * a->k + i]);
        for (int64_t t = 0; t < a->n_tok; t++) a->y[t * a->ldy + r] = llm__dot_f32_scalar(a->x + t * a->k, scratch, a->k);
    }
}

/* y[i] += alpha * x[i] (attention: accumulate a value row weighted by its probability). */
static void llm__axpy_f32_scalar(float *y, float alpha, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}
/* ==== end llm_impl/21_kernels_scalar.c ==== */
/* ==== begin llm_impl/22_kernels_avx2.c ==== */
/* ---- >>kernels_avx2: AVX2 + FMA + F16C versions of the scalar kernels ----
   Same order and contracts as 21_kernels_scalar.c. Dot products keep 4 independent 8-lane
   accumulators (to hide FMA latency), then reduce them in a fixed order: results are
   bitwise stable run to run, and equal to the scalar path within float rounding. */
/* #include "10_internal.h" (already above) */

#ifdef LLM__AVX2
static inline float llm__hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Load 8 weights of any float dtype as f32. */
static inline __m256 llm__load8_f32(const float *p) { return _mm256_loadu_ps(p); }
static inline __m256 llm__load8_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline __m256 llm__load8_bf16(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

/* dot(x, w) for one weight row; the tail (n % 32) is finished in scalar. */
#define LLM__DOT_AVX2(NAME, WT, LOAD, SCALAR)                                                  \
    static float NAME(const float *x, const WT *w, int64_t n) {                               \
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;              \
        int64_t i = 0;                                                                         \
        for (; i + 32 <= n; i += 32) {                                                         \
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), LOAD(w + i), acc0);                 \
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), LOAD(w + i + 8), acc1);         \
            acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), LOAD(w + i + 16), acc2);       \
            acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), LOAD(w + i + 24), acc3);       \
        }                                                                                      \
        for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), LOAD(w + i), acc0); \
        float s = llm__hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3))); \
        for (; i < n; i++) s += x[i] * SCALAR(w[i]);                                           \
        return s;                                                                              \
    }
static inline float llm__id_f32(float v) { return v; }
LLM__DOT_AVX2(llm__dot_f32_avx2, float, llm__load8_f32, llm__id_f32)
LLM__DOT_AVX2(llm__dot_f16_avx2, uint16_t, llm__load8_f16, llm__f16_to_f32)
LLM__DOT_AVX2(llm__dot_bf16_avx2, uint16_t, llm__load8_bf16, llm__bf16_to_f32)
#undef LLM__DOT_AVX2

static void llm__matmul_f32_avx2(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    (void)scratch;
    const float *w = (const float *)a->w;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t t = 0; t < a->n_tok; t++)
            a->y[t * a->ldy + r] = llm__dot_f32_avx2(a->x + t * a->k, w + r * a->k, a->k);
}

/* One token: convert on the fly. Several: widen each row once, then reuse it. */
static void llm__matmul_f16_avx2(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const uint16_t *w = (const uint16_t *)a->w;
    for (int64_t r = r0; r < r1; r++) {
        const uint16_t *row = w + r * a->k;
        if (a->n_tok == 1) { a->y[r] = llm__dot_f16_avx2(a->x, row, a->k); continue; }
        int64_t i = 0;
        for (; i + 8 <= a->k; i += 8) _mm256_storeu_ps(scratch + i, llm__load8_f16(row + i));
        for (; i < a->k; i++) scratch[i] = llm__f16_to_f32(row[i]);
        for (int64_t t = 0; t < a->n_tok; t++) a->y[t * a->ldy + r] = llm__dot_f32_avx2(a->x + t * a->k, scratch, a->k);
    }
}

static void llm__matmul_bf16_avx2(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const uint16_t *w = (const uint16_t *)a->w;
    for (int64_t r = r0; r < r1; r++) {
        const uint16_t *row = w + r * a->k;
        if (a->n_tok == 1) { a->y[r] = llm__dot_bf16_avx2(a->x, row, a->k); continue; }
        int64_t i = 0;
        for (; i + 8 <= a->k; i += 8) _mm256_storeu_ps(scratch + i, llm__load8_bf16(row + i));
        for (; i < a->k; i++) scratch[i] = llm__bf16_to_f32(row[i]);
        for (int64_t t = 0; t < a->n_tok; t++) a->y[t * a->ldy + r] = llm__dot_f32_avx2(a->x + t * a->k, scratch, a->k);
    }
}

static void llm__axpy_f32_avx2(float *y, float alpha, const float *x, int64_t n) {
    __m256 va = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += alpha * x[i];
}
#endif
/* ==== end llm_impl/22_kernels_avx2.c ==== */
/* ==== begin llm_impl/24_kernels.c ==== */
/* ---- >>kernels: the kernel table and the threaded matmul ----
   All model code calls kernels through llm__k, filled once: with the AVX2 versions when the
   build targets AVX2+FMA, else the scalar references. llm_set_reference_kernels(true) forces
   the references at run time (debugging, and the tests that compare the two). */
/* #include "10_internal.h" (already above) */

typedef struct llm__kernels {
    llm__matmul_fn matmul[LLM_DTYPE_COUNT];   /* NULL: no kernel for that weight dtype */
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*axpy_f32)(float *y, float alpha, const float *x, int64_t n);
} llm__kernels;

static const llm__kernels llm__kernels_scalar = {
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_scalar, [LLM_DTYPE_F16] = llm__matmul_f16_scalar,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_scalar },
    .dot_f32 = llm__dot_f32_scalar,
    .axpy_f32 = llm__axpy_f32_scalar,
};

#ifdef LLM__AVX2
static const llm__kernels llm__kernels_best = {
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_avx2, [LLM_DTYPE_F16] = llm__matmul_f16_avx2,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_avx2 },
    .dot_f32 = llm__dot_f32_avx2,
    .axpy_f32 = llm__axpy_f32_avx2,
};
#else
#define llm__kernels_best llm__kernels_scalar
#endif

static const llm__kernels *llm__k = &llm__kernels_best;

/* Use the scalar reference kernels everywhere (true) or the fastest ones (false).
   Not thread-safe: call before creating sessions. */
LLM_API void llm_set_reference_kernels(bool reference) {
    llm__k = reference ? &llm__kernels_scalar : &llm__kernels_best;
}

/* ---- threaded matmul: y[T, n_out] = x[T, k] . W^T, rows of W split between threads ---- */

typedef struct {
    llm__mm_args args;
    llm__matmul_fn fn;
    int64_t n_rows;
    float *scratch;           /* [nth, k] */
    int64_t scratch_stride;
} llm__mm_task;

static void llm__mm_worker(void *ctx, int ith, int nth) {
    llm__mm_task *t = (llm__mm_task *)ctx;
    int64_t r0, r1;
    llm__split(t->n_rows, ith, nth, &r0, &r1);
    if (r0 < r1) t->fn(&t->args, r0, r1, t->scratch + ith * t->scratch_stride);
}

/* y[t*ldy + r] = dot(x[t], w[r]) for every token t < n_tok and row r of w ([n_rows, k]).
   scratch: n_threads * k floats. */
LLM_PRIVATE void llm__matmul(llm_pool *pool, float *scratch, float *y, int64_t ldy, const float *x, int64_t n_tok,
                             const llm_tensor *w) {
    llm__mm_task t = {
        .args = { .y = y, .ldy = ldy, .x = x, .n_tok = n_tok, .k = w->shape[1], .w = w->data },
        .fn = llm__k->matmul[w->dtype],
        .n_rows = w->shape[0],
        .scratch = scratch,
        .scratch_stride = w->shape[1],
    };
    LLM_ASSERT(t.fn && w->n_dims == 2);
    llm__parallel_for(pool, llm__mm_worker, &t);
}
/* ==== end llm_impl/24_kernels.c ==== */
/* ==== begin llm_impl/25_ops.c ==== */
/* ---- >>ops: norms, activations, rotary embeddings, softmax ----
   The small per-row operations of a transformer, in plain C (they are a few percent of the
   time next to the matmuls). Shapes: one row of n floats unless stated. Sums are taken in
   double where a row is reduced to one statistic, so long rows lose no precision. */
/* #include "10_internal.h" (already above) */

/* RMSNorm: out = x / sqrt(mean(x^2) + eps) * (w + add_one). Gemma stores w - 1, hence add_one. */
static void llm__rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps, float add_one) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * (w ? w[i] + add_one : 1.0f);
}

/* LayerNorm: out = (x - mean) / sqrt(var + eps) * w + b (w, b may be NULL). */
static void llm__layernorm(float *out, const float *x, const float *w, const float *b, int64_t n, float eps) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++) var += ((double)x[i] - mean) * ((double)x[i] - mean);
    float scale = (float)(1.0 / sqrt(var / (double)n + eps)), m = (float)mean;
    for (int64_t i = 0; i < n; i++) out[i] = (x[i] - m) * scale * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
}

typedef enum { LLM__ACT_SILU, LLM__ACT_GELU, LLM__ACT_GELU_TANH, LLM__ACT_RELU } llm__act;

static inline float llm__activate(llm__act act, float x) {
    switch (act) {
    case LLM__ACT_SILU:      return x / (1.0f + expf(-x));
    case LLM__ACT_GELU:      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case LLM__ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case LLM__ACT_RELU:      return x > 0 ? x : 0;
    }
    return x;
}

/* Softmax in place; returns nothing, the row sums to 1. */
static void llm__softmax(float *x, int64_t n) {
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) { x[i] = expf(x[i] - m); sum += x[i]; }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

/* Rotary position embedding of one head vector v[head_dim] at position pos.
   inv_freq[n_rot/2] are the per-pair frequencies; only the first n_rot dims rotate (partial
   rotary). Pairs are (i, i + n_rot/2) in Hugging Face's rotate_half layout, or (2i, 2i+1)
   when interleaved (the original Meta / llama2.c layout). mscale multiplies cos and sin
   (YaRN's attention factor; 1 otherwise). */
static void llm__rope(float *v, int64_t pos, const float *inv_freq, int64_t n_rot, bool interleaved, float mscale) {
    int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        float angle = (float)pos * inv_freq[i];
        float c = cosf(angle) * mscale, s = sinf(angle) * mscale;
        int64_t a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
        float x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x1 * c + x0 * s;
    }
}

/* ---- attention for one query row ----
   out[Dv] = softmax_j(q . K[j] * scale) V[j] over n cached positions (K: [n, Dk], V: [n, Dv],
   rows contiguous). softcap > 0 squashes scores as softcap * tanh(s / softcap) (Gemma 2).
   scratch: n floats. The caller picks the rows the mask allows (causal, sliding window). */
typedef struct llm__attn_params {
    float scale;
    float softcap;
} llm__attn_params;

static void llm__attend(float *out, const float *q, const float *K, const float *V, int64_t n, int64_t Dk, int64_t Dv,
                        const llm__attn_params *p, float *scratch) {
    for (int64_t j = 0; j < n; j++) {
        float sc = llm__k->dot_f32(q, K + j * Dk, Dk) * p->scale;
        scratch[j] = p->softcap > 0 ? p->softcap * tanhf(sc / p->softcap) : sc;
    }
    llm__softmax(scratch, n);
    memset(out, 0, (size_t)Dv * sizeof(float));
    for (int64_t j = 0; j < n; j++) llm__k->axpy_f32(out, scratch[j], V + j * Dv, Dv);
}
/* ==== end llm_impl/25_ops.c ==== */
/* ==== begin llm_impl/31_safetensors.c ==== */
/* ---- >>safetensors: validated mmap reader, sharded models, atomic writer ----
   Format: u64 little-endian header length N, N bytes of JSON
   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
   then the data region; offsets are relative to it. We accept a header only when every
   tensor has a known dtype, a shape of at most LLM_MAX_DIMS non-negative dims, and
   end - begin == bytes(dtype, shape), and the tensors tile the data region exactly
   (sorted by offset: no gap, no overlap, nothing past the end), as the reference
   implementation requires. Sharded models list their files in model.safetensors.index.json. */
/* #include "10_internal.h" (already above) */

#define LLM__ST_MAX_HEADER (100u << 20)   /* the reference implementation's limit */

typedef struct llm__st_file {
    char *path;
    llm__mapping map;
} llm__st_file;

struct llm_safetensors {
    llm__st_file *files;
    int n_files;
    llm_tensor *tensors;        /* all shards, file order */
    int64_t n_tensors;
    int64_t *by_name;           /* indices into tensors, sorted by name */
    char **names;               /* owned names (tensors[i].name points here) */
    cJSON *metadata;            /* first file's __metadata__, owned */
};

static llm_status llm__st_dtype(const char *s, llm_dtype *out) {
    for (int i = 0; i < LLM_DTYPE_COUNT; i++)
        if (llm__dtypes[i].st_name && strcmp(llm__dtypes[i].st_name, s) == 0) { *out = (llm_dtype)i; return LLM_OK; }
    return LLM_ERR_UNSUPPORTED;
}

typedef struct { uint64_t begin, end; int64_t idx; } llm__st_span;

static int llm__st_span_cmp(const void *a, const void *b) {
    const llm__st_span *x = (const llm__st_span *)a, *y = (const llm__st_span *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Parse one tensor entry of the header into t (name not set). */
static llm_status llm__st_parse_entry(const char *path, const cJSON *e, const uint8_t *data, uint64_t data_size,
                                      llm_tensor *t, llm__st_span *span) {
    const char *name = e->string;
    const cJSON *dt = llm__json_get(e, "dtype"), *shape = llm__json_get(e, "shape");
    const cJSON *offs = llm__json_get(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' needs dtype, shape and data_offsets [begin, end]", path, name);
    if (llm__st_dtype(dt->valuestring, &t->dtype))
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", path, name, dt->valuestring);
    int n_dims = cJSON_GetArraySize(shape);
    if (n_dims > LLM_MAX_DIMS)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has %d dims (at most %d)", path, name, n_dims, LLM_MAX_DIMS);
    t->n_dims = n_dims;
    size_t n_elems = 1;
    for (int i = 0; i < n_dims; i++) {
        const cJSON *d = cJSON_GetArrayItem(shape, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 9.0e15 || d->valuedouble != (double)(int64_t)d->valuedouble)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has a bad shape entry", path, name);
        t->shape[i] = (int64_t)d->valuedouble;
        if (!llm__mul_ok(n_elems, (size_t)t->shape[i], &n_elems) || n_elems > (size_t)INT64_MAX)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has a shape whose size overflows", path, name);
    }
    const cJSON *b = cJSON_GetArrayItem(offs, 0), *en = cJSON_GetArrayItem(offs, 1);
    if (!cJSON_IsNumber(b) || !cJSON_IsNumber(en) || b->valuedouble < 0 || en->valuedouble < b->valuedouble ||
        en->valuedouble > (double)data_size)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has data_offsets outside the file's %llu data bytes",
                         path, name, (unsigned long long)data_size);
    span->begin = (uint64_t)b->valuedouble;
    span->end = (uint64_t)en->valuedouble;
    size_t want = llm_dtype_n_bytes(t->dtype, (int64_t)n_elems);
    if ((n_elems && !want) || span->end - span->begin != want)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is %s %s with %zu elements = %zu bytes, but data_offsets span %llu bytes",
                         path, name, dt->valuestring, n_dims ? "array" : "scalar", n_elems, want,
                         (unsigned long long)(span->end - span->begin));
    t->data = (void *)(data + span->begin);
    t->n_bytes = want;
    return LLM_OK;
}

/* Map one file and append its tensors (names owned by st). */
static llm_status llm__st_open_file(llm_safetensors *st, const char *path) {
    llm__st_file *f = &st->files[st->n_files];
    llm_status s = llm__map_file(path, &f->map);
    if (s) return s;
    f->path = llm__strdup(NULL, path);
    st->n_files++;
    if (!f->path) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (f->map.size < 8) return llm__fail(LLM_ERR_FORMAT, "%s: file too short for a safetensors header (%zu bytes)", path, f->map.size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f->map.data[i];
    if (hlen > f->map.size - 8)
        return llm__fail(LLM_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                         (unsigned long long)hlen, f->map.size);
    if (hlen > LLM__ST_MAX_HEADER) return llm__fail(LLM_ERR_FORMAT, "%s: header of %llu bytes is too large", path, (unsigned long long)hlen);
    const uint8_t *data = f->map.data + 8 + hlen;
    uint64_t data_size = f->map.size - 8 - hlen;

    cJSON *hdr = NULL;
    s = llm__json_parse((const char *)f->map.data + 8, (size_t)hlen, path, &hdr);
    if (s) return s;
    if (!cJSON_IsObject(hdr)) { cJSON_Delete(hdr); return llm__fail(LLM_ERR_FORMAT, "%s: header is not a JSON object", path); }

    int64_t n_new = 0;
    for (const cJSON *e = hdr->child; e; e = e->next) n_new += strcmp(e->string, "__metadata__") != 0;
    llm_tensor *nt = (llm_tensor *)realloc(st->tensors, (size_t)(st->n_tensors + n_new) * sizeof *nt + 1);
    char **nn = (char **)realloc(st->names, (size_t)(st->n_tensors + n_new) * sizeof *nn + 1);
    llm__st_span *spans = (llm__st_span *)calloc((size_t)n_new + 1, sizeof *spans);
    if (nt) st->tensors = nt;
    if (nn) st->names = nn;
    if (!nt || !nn || !spans) { free(spans); cJSON_Delete(hdr); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); }

    int64_t k = 0;
    for (const cJSON *e = hdr->child; e && !s; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) s = llm__fail(LLM_ERR_FORMAT, "%s: __metadata__ is not an object", path);
            else if (!st->metadata) st->metadata = cJSON_Duplicate(e, true);
            continue;
        }
        llm_tensor *t = &st->tensors[st->n_tensors];
        memset(t, 0, sizeof *t);
        s = llm__st_parse_entry(path, e, data, data_size, t, &spans[k]);
        if (s) break;
        st->names[st->n_tensors] = llm__strdup(NULL, e->string);
        if (!st->names[st->n_tensors]) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); break; }
        t->name = st->names[st->n_tensors];
        spans[k].idx = st->n_tensors++;
        k++;
    }
    if (!s) {   /* the tensors must tile the data region exactly */
        qsort(spans, (size_t)k, sizeof *spans, llm__st_span_cmp);
        uint64_t at = 0;
        for (int64_t i = 0; i < k && !s; i++) {
            if (spans[i].begin != at)
                s = llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' at data offset %llu %s the previous tensor (which ends at %llu)",
                              path, st->tensors[spans[i].idx].name, (unsigned long long)spans[i].begin,
                              spans[i].begin < at ? "overlaps" : "leaves a gap after", (unsigned long long)at);
            at = spans[i].end;
        }
        if (!s && at != data_size)
            s = llm__fail(LLM_ERR_FORMAT, "%s: tensors cover %llu of the %llu data bytes", path,
                          (unsigned long long)at, (unsigned long long)data_size);
    }
    free(spans);
    cJSON_Delete(hdr);
    return s;
}

static const llm_safetensors *llm__st_sort_ctx;   /* qsort has no context argument */
static int llm__st_name_cmp(const void *a, const void *b) {
    return strcmp(llm__st_sort_ctx->tensors[*(const int64_t *)a].name, llm__st_sort_ctx->tensors[*(const int64_t *)b].name);
}

static llm_status llm__st_index(llm_safetensors *st) {
    st->by_name = (int64_t *)malloc((size_t)st->n_tensors * sizeof *st->by_name + 1);
    if (!st->by_name) return llm__fail(LLM_ERR_NOMEM, "safetensors: out of memory");
    for (int64_t i = 0; i < st->n_tensors; i++) st->by_name[i] = i;
    llm__st_sort_ctx = st;
    qsort(st->by_name, (size_t)st->n_tensors, sizeof *st->by_name, llm__st_name_cmp);
    for (int64_t i = 1; i < st->n_tensors; i++)
        if (strcmp(st->tensors[st->by_name[i]].name, st->tensors[st->by_name[i - 1]].name) == 0)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' appears twice", st->files[0].path, st->tensors[st->by_name[i]].name);
    return LLM_OK;
}

/* Open the shards listed by an index file, then check every listed tensor is where the
   index says. */
static llm_status llm__st_open_index(llm_safetensors *st, const char *index_path) {
    cJSON *idx = NULL;
    llm_status s = llm__json_load(index_path, &idx);
    if (s) return s;
    const cJSON *map = llm__json_get(idx, "weight_map");
    char dir[4096], path[4096];
    llm__path_dir(dir, sizeof dir, index_path);
    if (!cJSON_IsObject(map)) s = llm__fail(LLM_ERR_FORMAT, "%s: no \"weight_map\" object", index_path);
    int n_files = 0;
    for (const cJSON *e = map ? map->child : NULL; e && !s; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !llm__ends_with(e->valuestring, ".safetensors")) {
            s = llm__fail(LLM_ERR_FORMAT, "%s: weight_map entry '%s' does not name a .safetensors file in the same folder", index_path, e->string);
            break;
        }
        n_files++;
    }
    if (!s) {
        st->files = (llm__st_file *)calloc((size_t)n_files + 1, sizeof *st->files);
        if (!st->files) s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", index_path);
    }
    for (const cJSON *e = map ? map->child : NULL; e && !s; e = e->next) {
        bool seen = false;
        for (int i = 0; i < st->n_files && !seen; i++) seen = strcmp(strrchr(st->files[i].path, '/') + 1, e->valuestring) == 0;
        if (seen) continue;
        if (!llm__path_join(path, sizeof path, dir, e->valuestring)) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", index_path);
        else s = llm__st_open_file(st, path);
    }
    if (!s) s = llm__st_index(st);
    for (const cJSON *e = map ? map->child : NULL; e && !s; e = e->next) {
        const llm_tensor *t = llm_safetensors_find(st, e->string);
        if (!t) s = llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is listed in the index but missing from %s", index_path, e->string, e->valuestring);
    }
    cJSON_Delete(idx);
    return s;
}

LLM_API llm_status llm_safetensors_open(const char *path, llm_safetensors **out_st) {
    char buf[4096];
    llm_safetensors *st = (llm_safetensors *)calloc(1, sizeof *st);
    if (!st) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    llm_status s;
    if (llm__is_dir(path)) {
        if (llm__path_join(buf, sizeof buf, path, "model.safetensors.index.json") && llm__file_exists(buf)) path = buf;
        else if (llm__path_join(buf, sizeof buf, path, "model.safetensors") && llm__file_exists(buf)) path = buf;
        else { free(st); return llm__fail(LLM_ERR_NOT_FOUND, "%s: no model.safetensors or model.safetensors.index.json", path); }
    }
    if (llm__ends_with(path, ".json")) {
        s = llm__st_open_index(st, path);
    } else {
        st->files = (llm__st_file *)calloc(1, sizeof *st->files);
        s = st->files ? llm__st_open_file(st, path) : llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
        if (!s) s = llm__st_index(st);
    }
    if (s) { llm_safetensors_close(st); return s; }
    *out_st = st;
    return LLM_OK;
}

LLM_API void llm_safetensors_close(llm_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n_files; i++) { llm__unmap(&st->files[i].map); free(st->files[i].path); }
    for (int64_t i = 0; i < st->n_tensors; i++) free(st->names[i]);
    free(st->files); free(st->tensors); free(st->names); free(st->by_name);
    cJSON_Delete(st->metadata);
    free(st);
}

LLM_API int64_t llm_safetensors_n_tensors(const llm_safetensors *st) { return st->n_tensors; }

LLM_API const llm_tensor *llm_safetensors_tensor(const llm_safetensors *st, int64_t i) {
    return i >= 0 && i < st->n_tensors ? &st->tensors[i] : NULL;
}

LLM_API const llm_tensor *llm_safetensors_find(const llm_safetensors *st, const char *name) {
    int64_t lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        int c = strcmp(st->tensors[st->by_name[mid]].name, name);
        if (c == 0) return &st->tensors[st->by_name[mid]];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

LLM_API const char *llm_safetensors_metadata(const llm_safetensors *st, const char *key) {
    return llm__json_str(st->metadata, key, NULL);
}

LLM_API llm_status llm_safetensors_write(const char *path, const llm_tensor *tensors, int64_t n_tensors,
                                         const char *const *meta, int64_t n_meta) {
    cJSON *hdr = cJSON_CreateObject();
    if (!hdr) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(hdr, "__metadata__");
        for (int64_t i = 0; m && i < n_meta; i++) cJSON_AddStringToObject(m, meta[2 * i], meta[2 * i + 1]);
    }
    size_t off = 0;
    for (int64_t i = 0; i < n_tensors; i++) {
        const llm_tensor *t = &tensors[i];
        size_t want = llm_dtype_n_bytes(t->dtype, llm_tensor_n_elems(t));
        if (!llm_dtype_get(t->dtype) || !llm__dtypes[t->dtype].st_name) {
            cJSON_Delete(hdr);
            return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s': dtype has no safetensors form", path, t->name ? t->name : "?");
        }
        if (want != t->n_bytes || !t->name) {
            cJSON_Delete(hdr);
            return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor '%s' has %zu bytes, its shape needs %zu", path,
                             t->name ? t->name : "?", t->n_bytes, want);
        }
        cJSON *e = cJSON_AddObjectToObject(hdr, t->name);
        double shape[LLM_MAX_DIMS], offs[2] = { (double)off, (double)(off + t->n_bytes) };
        for (int d = 0; d < t->n_dims; d++) shape[d] = (double)t->shape[d];
        if (e) {
            cJSON_AddStringToObject(e, "dtype", llm__dtypes[t->dtype].st_name);
            cJSON_AddItemToObject(e, "shape", cJSON_CreateDoubleArray(shape, t->n_dims));
            cJSON_AddItemToObject(e, "data_offsets", cJSON_CreateDoubleArray(offs, 2));
        }
        off += t->n_bytes;
    }
    char *json = cJSON_PrintUnformatted(hdr);
    cJSON_Delete(hdr);
    if (!json) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    llm__atomic_file af;
    llm_status s = llm__atomic_open(&af, path);
    if (!s) s = llm__atomic_write(&af, len8, 8);
    if (!s) s = llm__atomic_write(&af, json, jlen);
    if (!s) s = llm__atomic_write(&af, "        ", hlen - jlen);
    for (int64_t i = 0; i < n_tensors && !s; i++) s = llm__atomic_write(&af, tensors[i].data, tensors[i].n_bytes);
    free(json);
    if (af.f) { llm_status c = llm__atomic_close(&af, s == LLM_OK); if (!s) s = c; }
    return s;
}
/* ==== end llm_impl/31_safetensors.c ==== */
/* ==== begin llm_impl/50_hparams.c ==== */
/* ---- >>hparams: what config.json says about the network ----
   One struct describes every supported architecture: a family is a set of options on the
   generic transformer in 55_forward.c, not a copy of it. Both config forms are read: the
   transformers v5 form (rope settings under "rope_parameters", per layer type where layer
   types differ) and the v4 form most Hub models still use ("rope_theta", "rope_scaling").
   Shape legend used across the model files: T tokens in a batch, C = n_embd, H heads,
   Hkv kv heads, D head_dim, F = n_ff, V = n_vocab, L layers. */
/* #include "10_internal.h" (already above) */

typedef enum {
    LLM__ROPE_DEFAULT, LLM__ROPE_LINEAR, LLM__ROPE_LLAMA3, LLM__ROPE_YARN, LLM__ROPE_DYNAMIC, LLM__ROPE_LONGROPE
} llm__rope_type;

typedef struct llm__rope_cfg {
    llm__rope_type type;
    double theta;                       /* base */
    double factor;                      /* linear / llama3 / yarn / dynamic scaling factor */
    double low_freq_factor, high_freq_factor;  /* llama3 */
    double orig_ctx;                    /* original_max_position_embeddings */
    double beta_fast, beta_slow;        /* yarn */
    double attn_factor;                 /* yarn mscale override (0 = from factor) */
} llm__rope_cfg;

#define LLM__MAX_EOS 16

typedef struct llm__hparams {
    char arch[32];                      /* config model_type */
    int64_t n_vocab, n_embd, n_layers, n_heads, n_kv_heads, head_dim, n_ff, n_ctx_train;
    double norm_eps;
    bool tie_embeddings;
    llm__act act;                       /* feed-forward activation (gated: act(gate) * up) */
    int64_t n_rot;                      /* rotary dims per head (= head_dim unless partial) */
    bool rope_interleaved;              /* pairs (2i, 2i+1) instead of (i, i + n_rot/2) */
    llm__rope_cfg rope;                 /* rope of full-attention layers */
    llm__rope_cfg rope_local;           /* rope of sliding-window layers (= rope unless the config differs) */
    int64_t sliding_window;             /* window of sliding layers; 0 = none */
    float attn_scale;                   /* query scale, 1/sqrt(D) by default */
    float embed_scale;                  /* embeddings are multiplied by this (1 by default) */
    float norm_add_one;                 /* RMSNorm weight offset: 1 where checkpoints store w - 1 */
    uint8_t *layer_sliding;             /* [L] 1 = sliding-window attention */
    uint8_t *layer_rope;                /* [L] 1 = apply rope (0 = NoPE layer) */
    llm_token bos;
    llm_token eos[LLM__MAX_EOS];
    int32_t n_eos;
} llm__hparams;

static void llm__hparams_free(llm__hparams *hp) {
    free(hp->layer_sliding);
    free(hp->layer_rope);
    hp->layer_sliding = hp->layer_rope = NULL;
}

#ifndef LLM_NO_CJSON
static llm_status llm__rope_type_parse(const char *path, const char *name, llm__rope_type *out) {
    static const struct { const char *name; llm__rope_type type; } types[] = {
        { "default", LLM__ROPE_DEFAULT }, { "linear", LLM__ROPE_LINEAR }, { "llama3", LLM__ROPE_LLAMA3 },
        { "yarn", LLM__ROPE_YARN }, { "dynamic", LLM__ROPE_DYNAMIC }, { "longrope", LLM__ROPE_LONGROPE },
    };
    for (int i = 0; i < LLM__COUNT(types); i++)
        if (!strcmp(types[i].name, name)) { *out = types[i].type; return LLM_OK; }
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: rope type '%s' is not supported", path, name);
}

/* Read one rope description: `params` holds rope_type/type and its factors (v4 rope_scaling
   or v5 rope_parameters); theta comes from params or the fallback. */
static llm_status llm__rope_parse(const char *path, const cJSON *params, double theta, int64_t n_ctx_train, llm__rope_cfg *r) {
    memset(r, 0, sizeof *r);
    r->theta = llm__json_num(params, "rope_theta", theta);
    r->factor = llm__json_num(params, "factor", 1.0);
    r->low_freq_factor = llm__json_num(params, "low_freq_factor", 1.0);
    r->high_freq_factor = llm__json_num(params, "high_freq_factor", 4.0);
    r->orig_ctx = llm__json_num(params, "original_max_position_embeddings", (double)n_ctx_train);
    r->beta_fast = llm__json_num(params, "beta_fast", 32.0);
    r->beta_slow = llm__json_num(params, "beta_slow", 1.0);
    r->attn_factor = llm__json_num(params, "attention_factor", 0.0);
    const char *type = llm__json_str(params, "rope_type", llm__json_str(params, "type", "default"));
    return llm__rope_type_parse(path, type, &r->type);
}

/* Read a required positive integer field. */
static llm_status llm__cfg_int(const char *path, const cJSON *cfg, const char *key, int64_t *out) {
    int64_t v = llm__json_int(cfg, key, -1);
    if (v <= 0 || v > (1 << 30))
        return llm__fail(LLM_ERR_FORMAT, "%s: field \"%s\" is missing or not a positive integer", path, key);
    *out = v;
    return LLM_OK;
}

/* eos_token_id may be an int or a list of ints. */
static void llm__cfg_eos(const cJSON *cfg, llm__hparams *hp) {
    const cJSON *e = llm__json_get(cfg, "eos_token_id");
    if (cJSON_IsNumber(e)) { hp->eos[0] = (llm_token)e->valuedouble; hp->n_eos = 1; }
    if (cJSON_IsArray(e)) {
        hp->n_eos = 0;
        for (const cJSON *x = e->child; x && hp->n_eos < LLM__MAX_EOS; x = x->next)
            if (cJSON_IsNumber(x)) hp->eos[hp->n_eos++] = (llm_token)x->valuedouble;
    }
    if (cJSON_IsNumber(llm__json_get(cfg, "bos_token_id"))) hp->bos = (llm_token)llm__json_int(cfg, "bos_token_id", -1);
}

/* The v5 form keeps rope settings in rope_parameters, either directly or per layer type
   ({"full_attention": {...}, "sliding_attention": {...}}); the v4 form has rope_theta and
   rope_scaling at the top (and rope_local_base_freq for Gemma 3's sliding layers). */
static llm_status llm__cfg_rope(const char *path, const cJSON *cfg, llm__hparams *hp) {
    const cJSON *rp = llm__json_get(cfg, "rope_parameters");
    double theta = llm__json_num(cfg, "rope_theta", 10000.0);
    llm_status s;
    if (cJSON_IsObject(rp) && cJSON_IsObject(llm__json_get(rp, "full_attention"))) {
        s = llm__rope_parse(path, llm__json_get(rp, "full_attention"), theta, hp->n_ctx_train, &hp->rope);
        const cJSON *local = llm__json_get(rp, "sliding_attention");
        if (!s) s = llm__rope_parse(path, cJSON_IsObject(local) ? local : llm__json_get(rp, "full_attention"), theta, hp->n_ctx_train, &hp->rope_local);
        return s;
    }
    const cJSON *params = cJSON_IsObject(rp) ? rp : llm__json_get(cfg, "rope_scaling");
    s = llm__rope_parse(path, params, theta, hp->n_ctx_train, &hp->rope);
    hp->rope_local = hp->rope;
    if (llm__json_has(cfg, "rope_local_base_freq")) {           /* v4 Gemma 3: sliding layers use plain rope */
        memset(&hp->rope_local, 0, sizeof hp->rope_local);
        hp->rope_local.factor = 1.0;
        hp->rope_local.theta = llm__json_num(cfg, "rope_local_base_freq", 10000.0);
    }
    return s;
}

/* Which layers use a sliding window and which skip rope. layer_types (v5) names each
   layer; otherwise a sliding_window applies to every layer unless use_sliding_window is
   false (Qwen2). SmolLM3 lists its NoPE layers in no_rope_layers. */
static llm_status llm__cfg_layers(const char *path, const cJSON *cfg, llm__hparams *hp) {
    int64_t L = hp->n_layers;
    hp->layer_sliding = (uint8_t *)calloc((size_t)L, 1);
    hp->layer_rope = (uint8_t *)malloc((size_t)L);
    if (!hp->layer_sliding || !hp->layer_rope) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    memset(hp->layer_rope, 1, (size_t)L);
    hp->sliding_window = llm__json_int(cfg, "sliding_window", 0);
    if (hp->sliding_window < 0) hp->sliding_window = 0;
    bool use_sliding = llm__json_bool(cfg, "use_sliding_window", true) && hp->sliding_window > 0;
    const cJSON *types = llm__json_get(cfg, "layer_types");
    if (cJSON_IsArray(types)) {
        if (cJSON_GetArraySize(types) != L)
            return llm__fail(LLM_ERR_FORMAT, "%s: layer_types has %d entries for %lld layers", path, cJSON_GetArraySize(types), (long long)L);
        int64_t i = 0;
        for (const cJSON *t = types->child; t; t = t->next, i++)
            hp->layer_sliding[i] = use_sliding && cJSON_IsString(t) && !strcmp(t->valuestring, "sliding_attention");
    } else if (use_sliding) {
        memset(hp->layer_sliding, 1, (size_t)L);
    }
    const cJSON *nope = llm__json_get(cfg, "no_rope_layers");
    int64_t interval = llm__json_int(cfg, "no_rope_layer_interval", 0);
    if (cJSON_IsArray(nope)) {
        if (cJSON_GetArraySize(nope) != L)
            return llm__fail(LLM_ERR_FORMAT, "%s: no_rope_layers has %d entries for %lld layers", path, cJSON_GetArraySize(nope), (long long)L);
        int64_t i = 0;
        for (const cJSON *t = nope->child; t; t = t->next, i++) hp->layer_rope[i] = cJSON_IsNumber(t) && t->valuedouble != 0;
    } else if (interval > 0) {
        for (int64_t i = 0; i < L; i++) hp->layer_rope[i] = (i + 1) % interval != 0;
    }
    return LLM_OK;
}

static llm_status llm__cfg_act(const char *path, const char *name, llm__act *out) {
    static const struct { const char *name; llm__act act; } acts[] = {
        { "silu", LLM__ACT_SILU }, { "swish", LLM__ACT_SILU }, { "gelu", LLM__ACT_GELU },
        { "gelu_pytorch_tanh", LLM__ACT_GELU_TANH }, { "gelu_new", LLM__ACT_GELU_TANH },
        { "gelu_fast", LLM__ACT_GELU_TANH }, { "relu", LLM__ACT_RELU },
    };
    for (int i = 0; i < LLM__COUNT(acts); i++)
        if (!strcmp(acts[i].name, name)) { *out = acts[i].act; return LLM_OK; }
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: activation '%s' is not supported", path, name);
}

/* The fields every decoder-only transformer config has. Family quirks are applied after
   this by the architecture's own configure function (51_arch.c). */
static llm_status llm__hparams_parse(const char *path, const cJSON *cfg, llm__hparams *hp) {
    llm_status s;
    memset(hp, 0, sizeof *hp);
    hp->bos = -1;
    snprintf(hp->arch, sizeof hp->arch, "%s", llm__json_str(cfg, "model_type", ""));
    if ((s = llm__cfg_int(path, cfg, "vocab_size", &hp->n_vocab)) || (s = llm__cfg_int(path, cfg, "hidden_size", &hp->n_embd)) ||
        (s = llm__cfg_int(path, cfg, "num_hidden_layers", &hp->n_layers)) ||
        (s = llm__cfg_int(path, cfg, "num_attention_heads", &hp->n_heads)) ||
        (s = llm__cfg_int(path, cfg, "intermediate_size", &hp->n_ff)))
        return s;
    hp->n_kv_heads = llm__json_int(cfg, "num_key_value_heads", hp->n_heads);
    hp->head_dim = llm__json_int(cfg, "head_dim", hp->n_embd / hp->n_heads);
    if (hp->n_kv_heads <= 0 || hp->n_heads % hp->n_kv_heads || hp->head_dim <= 0 || hp->head_dim > 4096 || hp->head_dim % 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld heads, %lld kv heads and head_dim %lld do not fit together", path,
                         (long long)hp->n_heads, (long long)hp->n_kv_heads, (long long)hp->head_dim);
    hp->n_ctx_train = llm__json_int(cfg, "max_position_embeddings", 0);
    hp->norm_eps = llm__json_num(cfg, "rms_norm_eps", llm__json_num(cfg, "layer_norm_eps", 1e-5));
    hp->tie_embeddings = llm__json_bool(cfg, "tie_word_embeddings", false);
    hp->n_rot = hp->head_dim;
    if (llm__json_has(cfg, "partial_rotary_factor"))
        hp->n_rot = (int64_t)(hp->head_dim * llm__json_num(cfg, "partial_rotary_factor", 1.0)) / 2 * 2;
    hp->attn_scale = (float)(1.0 / sqrt((double)hp->head_dim));
    hp->embed_scale = 1.0f;
    const char *act = llm__json_str(cfg, "hidden_act", llm__json_str(cfg, "hidden_activation", "silu"));
    if ((s = llm__cfg_act(path, act, &hp->act))) return s;
    if ((s = llm__cfg_rope(path, cfg, hp))) return s;
    if ((s = llm__cfg_layers(path, cfg, hp))) return s;
    llm__cfg_eos(cfg, hp);
    return LLM_OK;
}
#endif
/* ==== end llm_impl/50_hparams.c ==== */
/* ==== begin llm_impl/51_model.c ==== */
/* ---- >>model: the weights of the generic transformer, and loading them ----
   A model is hyperparameters (50_hparams.c) plus one llm__layer per layer. Matrices stay
   where the file put them (llm_tensor views into the mapping, f32/f16/bf16); the small 1-D
   parameters (norms, biases) are converted to f32 once, so the forward pass reads floats.
   Optional tensors (biases, q/k norms) are bound when the checkpoint has them: a family
   whose config says attention_bias gets its biases without a flag of its own. */
/* #include "10_internal.h" (already above) */

typedef struct llm__layer {
    const float *attn_norm, *attn_norm_b;          /* [C] pre-attention norm (bias: LayerNorm) */
    const llm_tensor *wq, *wk, *wv, *wo;           /* [H*D, C] [Hkv*D, C] [Hkv*D, C] [C, H*D] */
    const float *bq, *bk, *bv, *bo;                /* [H*D] [Hkv*D] [Hkv*D] [C] or NULL */
    const float *q_norm, *k_norm;                  /* [D] per-head RMSNorm (Qwen3) or NULL */
    const float *ffn_norm, *ffn_norm_b;            /* [C] pre-feed-forward norm */
    const llm_tensor *w_gate, *w_up, *w_down;      /* [F, C] [F, C] [C, F] (gate NULL: plain MLP) */
    const float *b_up, *b_down;                    /* [F] [C] or NULL */
} llm__layer;

struct llm_model {
    llm_allocator alloc;
    llm__hparams hp;
    llm_model_info info;
    char *path;
    llm_safetensors *st;                /* the weights (HF / MLX directories) */
    llm__mapping bin;                   /* or a llama2.c checkpoint */
    llm_tensor *views;                  /* [n_views] tensors the loader described itself */
    int64_t n_views;
    float **owned;                      /* f32 copies of 1-D parameters, freed with the model */
    int64_t n_owned, cap_owned;
    const llm_tensor *tok_embd;         /* [V, C] */
    const llm_tensor *output;           /* [V, C] (= tok_embd when tied) */
    const float *out_norm, *out_norm_b; /* [C] */
    llm__layer *layers;                 /* [L] */
    float *inv_freq, *inv_freq_local;   /* [n_rot/2] rope frequencies: full / sliding layers */
    float rope_mscale, rope_mscale_local;
    char lookup_err[256];               /* scratch for tensor names */
};

/* ---- rope frequencies ----
   inv_freq[i] = theta^(-2i/n_rot), then rescaled by the rope type's rule (formulas as in
   transformers' modeling_rope_utils.py). mscale scales cos/sin (YaRN). */
static llm_status llm__rope_inv_freq(const llm__rope_cfg *r, int64_t n_rot, float *inv_freq, float *mscale) {
    int64_t half = n_rot / 2;
    *mscale = 1.0f;
    for (int64_t i = 0; i < half; i++) inv_freq[i] = 1.0f / powf((float)r->theta, (float)(2 * i) / (float)n_rot);
    switch (r->type) {
    case LLM__ROPE_DEFAULT:
    case LLM__ROPE_DYNAMIC:     /* dynamic NTK equals default up to the original context */
        break;
    case LLM__ROPE_LINEAR:
        for (int64_t i = 0; i < half; i++) inv_freq[i] /= (float)r->factor;
        break;
    case LLM__ROPE_LLAMA3: {    /* Llama 3.1: slow down low frequencies, keep high ones, blend between */
        double low_wavelen = r->orig_ctx / r->low_freq_factor, high_wavelen = r->orig_ctx / r->high_freq_factor;
        for (int64_t i = 0; i < half; i++) {
            double f = inv_freq[i], wavelen = 2 * M_PI / f;
            if (wavelen > low_wavelen) f = f / r->factor;
            else if (wavelen >= high_wavelen) {
                double smooth = (r->orig_ctx / wavelen - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
                f = (1 - smooth) * f / r->factor + smooth * f;
            }
            inv_freq[i] = (float)f;
        }
        break;
    }
    case LLM__ROPE_YARN: {     /* YaRN: interpolate low frequencies, extrapolate high ones, ramp between */
        double d = (double)n_rot, base = r->theta;
        double lo = floor(d * log(r->orig_ctx / (r->beta_fast * 2 * M_PI)) / (2 * log(base)));
        double hi = ceil(d * log(r->orig_ctx / (r->beta_slow * 2 * M_PI)) / (2 * log(base)));
        lo = LLM__MAX(lo, 0);
        hi = LLM__MIN(hi, d - 1);
        if (lo == hi) hi += 0.001;
        for (int64_t i = 0; i < half; i++) {
            double ramp = LLM__MIN(LLM__MAX(((double)i - lo) / (hi - lo), 0.0), 1.0), extrap = 1 - ramp;
            inv_freq[i] = (float)(inv_freq[i] / r->factor * (1 - extrap) + inv_freq[i] * extrap);
        }
        *mscale = (float)(r->attn_factor > 0 ? r->attn_factor : r->factor > 1 ? 0.1 * log(r->factor) + 1.0 : 1.0);
        break;
    }
    case LLM__ROPE_LONGROPE:
        return llm__fail(LLM_ERR_UNSUPPORTED, "rope type 'longrope' is not supported yet");
    }
    return LLM_OK;
}

/* ---- binding tensors by name ---- */

static const llm_tensor *llm__model_tensor(const llm_model *m, const char *name) {
    if (m->st) return llm_safetensors_find(m->st, name);
    for (int64_t i = 0; i < m->n_views; i++) if (!strcmp(m->views[i].name, name)) return &m->views[i];
    return NULL;
}

/* A matrix [rows, cols] in a float dtype; NULL (and LLM_OK) when absent and optional. */
static llm_status llm__bind_mat(llm_model *m, const char *name, int64_t rows, int64_t cols, bool required, const llm_tensor **out) {
    const llm_tensor *t = llm__model_tensor(m, name);
    *out = NULL;
    if (!t) return required ? llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing", m->path, name) : LLM_OK;
    if (t->n_dims != 2 || t->shape[0] != rows || t->shape[1] != cols)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]", m->path, name,
                         (long long)t->shape[0], (long long)(t->n_dims > 1 ? t->shape[1] : 0), (long long)rows, (long long)cols);
    if (t->dtype != LLM_DTYPE_F32 && t->dtype != LLM_DTYPE_F16 && t->dtype != LLM_DTYPE_BF16)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, not f32/f16/bf16", m->path, name, llm__dtypes[t->dtype].name);
    *out = t;
    return LLM_OK;
}

/* A vector [n], converted to f32 and owned by the model. */
static llm_status llm__bind_vec(llm_model *m, const char *name, int64_t n, bool required, const float **out) {
    const llm_tensor *t = llm__model_tensor(m, name);
    *out = NULL;
    if (!t) return required ? llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing", m->path, name) : LLM_OK;
    if (t->n_dims != 1 || t->shape[0] != n)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has %d dims of which the first is %lld, expected [%lld]", m->path, name,
                         t->n_dims, (long long)(t->n_dims ? t->shape[0] : 0), (long long)n);
    if (t->dtype != LLM_DTYPE_F32 && t->dtype != LLM_DTYPE_F16 && t->dtype != LLM_DTYPE_BF16)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, not f32/f16/bf16", m->path, name, llm__dtypes[t->dtype].name);
    if (m->n_owned == m->cap_owned) {
        int64_t cap = m->cap_owned ? 2 * m->cap_owned : 64;
        float **p = (float **)realloc(m->owned, (size_t)cap * sizeof *p);
        if (!p) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
        m->owned = p;
        m->cap_owned = cap;
    }
    float *v = (float *)llm__alloc(&m->alloc, (size_t)n * sizeof *v);
    if (!v) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    llm_convert(LLM_DTYPE_F32, v, t->dtype, t->data, n);
    m->owned[m->n_owned++] = v;
    *out = v;
    return LLM_OK;
}

/* Hugging Face names of the Llama family (Llama, Mistral, Qwen2/3, SmolLM3, ...). */
static llm_status llm__bind_hf_layer(llm_model *m, int64_t il) {
    const llm__hparams *hp = &m->hp;
    llm__layer *l = &m->layers[il];
    int64_t C = hp->n_embd, q = hp->n_heads * hp->head_dim, kv = hp->n_kv_heads * hp->head_dim, F = hp->n_ff, D = hp->head_dim;
    char n[256];
    llm_status s = LLM_OK;
#define LLM__NAME(suffix) (snprintf(n, sizeof n, "model.layers.%lld.%s", (long long)il, suffix), n)
    if (!s) s = llm__bind_vec(m, LLM__NAME("input_layernorm.weight"), C, true, &l->attn_norm);
    if (!s) s = llm__bind_mat(m, LLM__NAME("self_attn.q_proj.weight"), q, C, true, &l->wq);
    if (!s) s = llm__bind_mat(m, LLM__NAME("self_attn.k_proj.weight"), kv, C, true, &l->wk);
    if (!s) s = llm__bind_mat(m, LLM__NAME("self_attn.v_proj.weight"), kv, C, true, &l->wv);
    if (!s) s = llm__bind_mat(m, LLM__NAME("self_attn.o_proj.weight"), C, q, true, &l->wo);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.q_proj.bias"), q, false, &l->bq);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.k_proj.bias"), kv, false, &l->bk);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.v_proj.bias"), kv, false, &l->bv);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.o_proj.bias"), C, false, &l->bo);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.q_norm.weight"), D, false, &l->q_norm);
    if (!s) s = llm__bind_vec(m, LLM__NAME("self_attn.k_norm.weight"), D, false, &l->k_norm);
    if (!s) s = llm__bind_vec(m, LLM__NAME("post_attention_layernorm.weight"), C, true, &l->ffn_norm);
    if (!s) s = llm__bind_mat(m, LLM__NAME("mlp.gate_proj.weight"), F, C, true, &l->w_gate);
    if (!s) s = llm__bind_mat(m, LLM__NAME("mlp.up_proj.weight"), F, C, true, &l->w_up);
    if (!s) s = llm__bind_mat(m, LLM__NAME("mlp.down_proj.weight"), C, F, true, &l->w_down);
    if (!s) s = llm__bind_vec(m, LLM__NAME("mlp.up_proj.bias"), F, false, &l->b_up);
    if (!s) s = llm__bind_vec(m, LLM__NAME("mlp.down_proj.bias"), C, false, &l->b_down);
#undef LLM__NAME
    return s;
}

static llm_status llm__bind_hf(llm_model *m) {
    const llm__hparams *hp = &m->hp;
    llm_status s = llm__bind_mat(m, "model.embed_tokens.weight", hp->n_vocab, hp->n_embd, true, &m->tok_embd);
    if (!s) s = llm__bind_vec(m, "model.norm.weight", hp->n_embd, true, &m->out_norm);
    if (!s) s = llm__bind_mat(m, "lm_head.weight", hp->n_vocab, hp->n_embd, !hp->tie_embeddings, &m->output);
    if (!s && !m->output) m->output = m->tok_embd;
    for (int64_t il = 0; il < hp->n_layers && !s; il++) s = llm__bind_hf_layer(m, il);
    return s;
}
/* ==== end llm_impl/51_model.c ==== */
/* ==== begin llm_impl/52_load.c ==== */
/* ---- >>load: the architecture table and llm_model_load ----
   One place lists the supported architectures. An entry is a model_type plus, where the
   family differs from Llama, a configure function (hyperparameter quirks) and a bind
   function (tensor names). */
/* #include "10_internal.h" (already above) */

typedef struct llm__arch {
    const char *name;                                                     /* config model_type */
    llm_status (*configure)(llm__hparams *hp, const cJSON *cfg, const char *path);   /* NULL: none */
    llm_status (*bind)(llm_model *m);                                     /* NULL: llm__bind_hf */
} llm__arch;

static const llm__arch llm__archs[] = {
    { "llama",   NULL, NULL },     /* incl. Llama 3.1+ rope scaling (rope_type "llama3") */
    { "mistral", NULL, NULL },     /* sliding_window on every layer */
    { "qwen2",   NULL, NULL },     /* q/k/v biases (bound because the checkpoint has them) */
    { "qwen3",   NULL, NULL },     /* per-head q/k RMSNorm, explicit head_dim */
    { "smollm3", NULL, NULL },     /* NoPE layers (no_rope_layers) */
};

LLM_API const char *const *llm_architectures(void) {
    static const char *names[LLM__COUNT(llm__archs) + 1];
    for (int i = 0; i < LLM__COUNT(llm__archs); i++) names[i] = llm__archs[i].name;
    return names;
}

static const llm__arch *llm__arch_find(const char *name) {
    for (int i = 0; i < LLM__COUNT(llm__archs); i++) if (!strcmp(llm__archs[i].name, name)) return &llm__archs[i];
    return NULL;
}

static llm_status llm__arch_unsupported(const char *path, const char *name) {
    char list[512] = "";
    for (int i = 0; i < LLM__COUNT(llm__archs); i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", llm__archs[i].name);
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (supported: %s)", path, name, list);
}

LLM_API void llm_model_free(llm_model *m) {
    if (!m) return;
    for (int64_t i = 0; i < m->n_owned; i++) llm__free(&m->alloc, m->owned[i]);
    free(m->owned);
    free(m->views);
    free(m->layers);
    free(m->inv_freq);
    free(m->inv_freq_local);
    free(m->path);
    llm__hparams_free(&m->hp);
    llm_safetensors_close(m->st);
    llm__unmap(&m->bin);
    free(m);
}

/* Rope tables and the public info block, once the weights are bound. */
static llm_status llm__model_finish(llm_model *m) {
    llm__hparams *hp = &m->hp;
    m->inv_freq = (float *)malloc((size_t)hp->n_rot / 2 * sizeof(float) + 1);
    m->inv_freq_local = (float *)malloc((size_t)hp->n_rot / 2 * sizeof(float) + 1);
    if (!m->inv_freq || !m->inv_freq_local) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    llm_status s = llm__rope_inv_freq(&hp->rope, hp->n_rot, m->inv_freq, &m->rope_mscale);
    if (!s) s = llm__rope_inv_freq(&hp->rope_local, hp->n_rot, m->inv_freq_local, &m->rope_mscale_local);
    if (s) return llm__fail(s, "%s: %s", m->path, llm_last_error());
    llm_model_info *in = &m->info;
    in->arch = hp->arch;
    in->n_vocab = hp->n_vocab;
    in->n_embd = hp->n_embd;
    in->n_layers = hp->n_layers;
    in->n_heads = hp->n_heads;
    in->n_kv_heads = hp->n_kv_heads;
    in->head_dim = hp->head_dim;
    in->n_ff = hp->n_ff;
    in->n_ctx_train = hp->n_ctx_train;
    in->bos = hp->bos;
    in->eos = hp->eos;
    in->n_eos = hp->n_eos;
    in->path = m->path;
    for (int64_t i = 0; m->st && i < llm_safetensors_n_tensors(m->st); i++) in->n_params += llm_tensor_n_elems(llm_safetensors_tensor(m->st, i));
    for (int64_t i = 0; i < m->n_views; i++) in->n_params += llm_tensor_n_elems(&m->views[i]);
    return LLM_OK;
}

static llm_status llm__model_new(const char *path, const llm_model_desc *desc, llm_model **out) {
    llm_model *m = (llm_model *)calloc(1, sizeof *m);
    if (!m) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (desc) m->alloc = desc->allocator;
    LLM_ASSERT(!m->alloc.alloc == !m->alloc.free);
    m->path = llm__strdup(NULL, path);
    if (!m->path) { free(m); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); }
    *out = m;
    return LLM_OK;
}

static llm_status llm__model_alloc_layers(llm_model *m) {
    m->layers = (llm__layer *)calloc((size_t)m->hp.n_layers, sizeof *m->layers);
    return m->layers ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
}

#ifndef LLM_NO_CJSON
/* generation_config.json, when present, has the final say on bos/eos. */
static void llm__read_generation_config(const char *dir, llm__hparams *hp) {
    char p[4096];
    cJSON *g = NULL;
    if (!llm__path_join(p, sizeof p, dir, "generation_config.json") || !llm__file_exists(p)) return;
    if (llm__json_load(p, &g) == LLM_OK) llm__cfg_eos(g, hp);
    cJSON_Delete(g);
}

/* A Hugging Face / MLX directory, or a weights file inside one. */
static llm_status llm__load_hf(llm_model *m, const char *path, const llm_model_desc *desc) {
    char dir[4096], cfg_path[4096];
    if (llm__is_dir(path)) snprintf(dir, sizeof dir, "%s", path);
    else llm__path_dir(dir, sizeof dir, path);
    const char *cfg_name = desc && desc->config_file ? desc->config_file : "config.json";
    if (!llm__path_join(cfg_path, sizeof cfg_path, dir, cfg_name)) return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", path);
    cJSON *cfg = NULL;
    llm_status s = llm__json_load(cfg_path, &cfg);
    if (s) return s;
    s = llm__hparams_parse(cfg_path, cfg, &m->hp);
    const llm__arch *arch = s ? NULL : llm__arch_find(m->hp.arch);
    if (!s && !arch) s = llm__arch_unsupported(cfg_path, m->hp.arch);
    if (!s && arch->configure) s = arch->configure(&m->hp, cfg, cfg_path);
    cJSON_Delete(cfg);
    if (s) return s;
    llm__read_generation_config(dir, &m->hp);
    if ((s = llm_safetensors_open(path, &m->st))) return s;
    if ((s = llm__model_alloc_layers(m))) return s;
    return arch->bind ? arch->bind(m) : llm__bind_hf(m);
}
#endif
/* ==== end llm_impl/52_load.c ==== */
/* ==== begin llm_impl/53_llama2c.c ==== */
/* ---- >>llama2c: karpathy's llama2.c checkpoints (legacy v0 .bin) ----
   Layout (run.c): 7 int32 - dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size
   (negative: a separate classifier follows), seq_len - then f32 arrays: token embedding
   [V, C]; per-layer stacks of rms_att [L, C], wq [L, C, C], wk [L, kv, C], wv [L, kv, C],
   wo [L, C, C], rms_ffn [L, C], w1 [L, F, C], w2 [L, C, F], w3 [L, F, C]; rms_final [C];
   two unused rope tables [seq_len, D/2] each; then the classifier [V, C] if not shared.
   We describe each slice as a tensor named the Hugging Face way (w1 = gate, w3 = up,
   w2 = down), so the same binder serves both. Rope pairs are interleaved (2i, 2i+1). */
/* #include "10_internal.h" (already above) */

typedef struct {
    llm_model *m;
    const float *at;            /* next unread weight */
    char *names;                /* storage for the synthesized names, 64 bytes each */
} llm__l2c;

/* Describe the next rows*cols floats (cols 0: a vector) as tensor `name`. */
static void llm__l2c_take(llm__l2c *c, const char *name, int64_t rows, int64_t cols) {
    llm_tensor *t = &c->m->views[c->m->n_views];
    char *n = c->names + 64 * c->m->n_views++;
    snprintf(n, 64, "%s", name);
    t->name = n;
    t->dtype = LLM_DTYPE_F32;
    t->n_dims = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->data = (void *)c->at;
    t->n_bytes = (size_t)(rows * (cols ? cols : 1)) * sizeof(float);
    c->at += rows * (cols ? cols : 1);
}

/* The per-layer stack `what` of shape [L, rows, cols]. */
static void llm__l2c_stack(llm__l2c *c, const char *what, int64_t L, int64_t rows, int64_t cols) {
    char name[64];
    for (int64_t il = 0; il < L; il++) {
        snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)il, what);
        llm__l2c_take(c, name, rows, cols);
    }
}

static llm_status llm__load_llama2c(llm_model *m, const char *path) {
    llm_status s = llm__map_file(path, &m->bin);
    if (s) return s;
    int32_t h[7];
    if (m->bin.size < sizeof h) return llm__fail(LLM_ERR_FORMAT, "%s: too short for a llama2.c header", path);
    memcpy(h, m->bin.data, sizeof h);
    llm__hparams *hp = &m->hp;
    bool shared = h[5] > 0;
    int64_t C = h[0], F = h[1], L = h[2], H = h[3], Hkv = h[4], V = shared ? h[5] : -(int64_t)h[5], T = h[6];
    if (C <= 0 || F <= 0 || L <= 0 || H <= 0 || Hkv <= 0 || V <= 0 || T <= 0 || C % H || H % Hkv || (C / H) % 2 ||
        C > 65536 || F > 1 << 20 || L > 4096 || V > 1 << 24 || T > 1 << 24)
        return llm__fail(LLM_ERR_FORMAT, "%s: implausible llama2.c header (dim %lld, hidden %lld, layers %lld, heads %lld/%lld, vocab %lld, seq_len %lld)",
                         path, (long long)C, (long long)F, (long long)L, (long long)H, (long long)Hkv, (long long)V, (long long)T);
    int64_t D = C / H, kv = Hkv * D;
    int64_t n_floats = V * C + L * (2 * C + 2 * C * C + 2 * kv * C + 3 * C * F) + C + T * D + (shared ? 0 : V * C);
    if ((uint64_t)n_floats * 4 + sizeof h > m->bin.size)
        return llm__fail(LLM_ERR_FORMAT, "%s: file has %zu bytes, the header describes %lld", path, m->bin.size,
                         (long long)(n_floats * 4 + (int64_t)sizeof h));
    memset(hp, 0, sizeof *hp);
    snprintf(hp->arch, sizeof hp->arch, "llama");
    hp->n_vocab = V; hp->n_embd = C; hp->n_layers = L; hp->n_heads = H; hp->n_kv_heads = Hkv; hp->head_dim = D;
    hp->n_ff = F; hp->n_ctx_train = T; hp->norm_eps = 1e-5; hp->act = LLM__ACT_SILU; hp->tie_embeddings = shared;
    hp->n_rot = D; hp->rope_interleaved = true; hp->attn_scale = (float)(1.0 / sqrt((double)D)); hp->embed_scale = 1;
    hp->rope.theta = 10000; hp->rope.factor = 1; hp->rope_local = hp->rope;
    hp->bos = 1; hp->eos[0] = 2; hp->n_eos = 1;
    hp->layer_sliding = (uint8_t *)calloc((size_t)L, 1);
    hp->layer_rope = (uint8_t *)malloc((size_t)L);
    int64_t n_views = 3 + 9 * L + 1;
    m->views = (llm_tensor *)calloc((size_t)n_views, sizeof *m->views + 64);
    if (!hp->layer_sliding || !hp->layer_rope || !m->views) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    memset(hp->layer_rope, 1, (size_t)L);
    llm__l2c c = { m, (const float *)(m->bin.data + sizeof h), (char *)(m->views + n_views) };
    llm__l2c_take(&c, "model.embed_tokens.weight", V, C);
    llm__l2c_stack(&c, "input_layernorm.weight", L, C, 0);
    llm__l2c_stack(&c, "self_attn.q_proj.weight", L, C, C);
    llm__l2c_stack(&c, "self_attn.k_proj.weight", L, kv, C);
    llm__l2c_stack(&c, "self_attn.v_proj.weight", L, kv, C);
    llm__l2c_stack(&c, "self_attn.o_proj.weight", L, C, C);
    llm__l2c_stack(&c, "post_attention_layernorm.weight", L, C, 0);
    llm__l2c_stack(&c, "mlp.gate_proj.weight", L, F, C);
    llm__l2c_stack(&c, "mlp.down_proj.weight", L, C, F);
    llm__l2c_stack(&c, "mlp.up_proj.weight", L, F, C);
    llm__l2c_take(&c, "model.norm.weight", C, 0);
    c.at += T * D;                                  /* skip freq_cis_real and freq_cis_imag */
    if (!shared) llm__l2c_take(&c, "lm_head.weight", V, C);
    if ((s = llm__model_alloc_layers(m))) return s;
    return llm__bind_hf(m);
}
/* ==== end llm_impl/53_llama2c.c ==== */
/* ==== begin llm_impl/55_forward.c ==== */
/* ---- >>forward: the generic decoder-only transformer ----
   One forward pass over a chunk of T tokens at positions n_past .. n_past+T-1, for every
   architecture: each family is a set of options in llm__hparams and the tensors it binds.
   The recipe (Llama; "Attention Is All You Need" with the pre-norm, RoPE, SwiGLU and GQA
   changes):
       x = embed(tokens) * embed_scale                            [T, C]
       for each layer:
           h = norm(x);  q, k, v = h Wq, h Wk, h Wv (+ biases)     [T, H*D], [T, Hkv*D]
           q, k = qk_norm(q, k);  q, k = rope(q, k, positions)
           cache k, v;  a = softmax(q k^T * scale + causal mask) v [T, H*D]
           x = x + a Wo
           h = norm(x);  x = x + (act(h Wgate) * h Wup) Wdown      [T, F] -> [T, C]
       logits = norm(x) Wout                                      [T, V]
   Each block is a function of the session's named buffers, so a backward pass can find
   every activation. */
/* #include "10_internal.h" (already above) */

struct llm_session {
    const llm_model *m;
    llm_allocator alloc;
    llm_pool *pool;
    bool own_pool;
    int64_t n_ctx, n_batch, n_past;
    int n_threads;
    llm_token *tokens;             /* [n_ctx] the tokens in the cache, in order */
    float *k_cache, *v_cache;      /* [L, Hkv, n_ctx, D] */
    /* activations of the current chunk (B = n_batch rows) */
    float *x;                      /* [B, C] residual stream */
    float *h;                      /* [B, C] normalized input of a block */
    float *q, *k, *v;              /* [B, H*D], [B, Hkv*D], [B, Hkv*D] */
    float *att;                    /* [B, H*D] attention output, before Wo */
    float *proj;                   /* [B, C] output of Wo / Wdown before the residual add */
    float *gate, *up;              /* [B, F] */
    float *logits;                 /* [V] of the last position */
    float *scores;                 /* [n_threads, n_ctx] attention scores */
    float *mm_scratch;             /* [n_threads, max(C, F, H*D)] */
    void *block;                   /* one allocation backing everything above */
};

/* out[t] = norm(x[t]) with the model's norm: RMSNorm, or LayerNorm when a bias exists. */
static void llm__norm_rows(const llm_session *s, float *out, const float *x, int64_t T, const float *w, const float *b) {
    const llm__hparams *hp = &s->m->hp;
    for (int64_t t = 0; t < T; t++) {
        if (b) llm__layernorm(out + t * hp->n_embd, x + t * hp->n_embd, w, b, hp->n_embd, (float)hp->norm_eps);
        else llm__rmsnorm(out + t * hp->n_embd, x + t * hp->n_embd, w, hp->n_embd, (float)hp->norm_eps, hp->norm_add_one);
    }
}

/* y[t] (+)= x[t] W^T + bias for t < T. */
static void llm__linear(llm_session *s, float *y, const float *x, int64_t T, const llm_tensor *w, const float *bias) {
    llm__matmul(s->pool, s->mm_scratch, y, w->shape[0], x, T, w);
    if (bias)
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < w->shape[0]; i++) y[t * w->shape[0] + i] += bias[i];
}

/* Per-head norm (Qwen3's q_norm/k_norm) and rope, then append k and v to the cache. */
static void llm__qk_prepare(llm_session *s, int64_t il, int64_t T) {
    const llm_model *m = s->m;
    const llm__hparams *hp = &m->hp;
    const llm__layer *l = &m->layers[il];
    int64_t D = hp->head_dim, H = hp->n_heads, Hkv = hp->n_kv_heads;
    bool sliding = hp->layer_sliding[il];
    const float *inv_freq = sliding ? m->inv_freq_local : m->inv_freq;
    float mscale = sliding ? m->rope_mscale_local : m->rope_mscale;
    for (int64_t t = 0; t < T; t++) {
        int64_t pos = s->n_past + t;
        for (int64_t h = 0; h < H; h++) {
            float *qh = s->q + (t * H + h) * D;
            if (l->q_norm) llm__rmsnorm(qh, qh, l->q_norm, D, (float)hp->norm_eps, hp->norm_add_one);
            if (hp->layer_rope[il]) llm__rope(qh, pos, inv_freq, hp->n_rot, hp->rope_interleaved, mscale);
        }
        for (int64_t h = 0; h < Hkv; h++) {
            float *kh = s->k + (t * Hkv + h) * D;
            if (l->k_norm) llm__rmsnorm(kh, kh, l->k_norm, D, (float)hp->norm_eps, hp->norm_add_one);
            if (hp->layer_rope[il]) llm__rope(kh, pos, inv_freq, hp->n_rot, hp->rope_interleaved, mscale);
            size_t at = (size_t)(((il * Hkv + h) * s->n_ctx + pos) * D);
            memcpy(s->k_cache + at, kh, (size_t)D * sizeof(float));
            memcpy(s->v_cache + at, s->v + (t * Hkv + h) * D, (size_t)D * sizeof(float));
        }
    }
}

typedef struct { llm_session *s; int64_t il, T; } llm__attn_task;

/* Attention for the (token, head) pairs this thread owns: scores against every cached key
   the causal (and sliding-window) mask allows, softmax, weighted sum of values. GQA: query
   head h reads kv head h / (H / Hkv), with no copy of K or V. */
static void llm__attn_worker(void *ctx, int ith, int nth) {
    llm__attn_task *a = (llm__attn_task *)ctx;
    llm_session *s = a->s;
    const llm__hparams *hp = &s->m->hp;
    int64_t D = hp->head_dim, H = hp->n_heads, Hkv = hp->n_kv_heads, group = H / Hkv;
    float *scores = s->scores + (int64_t)ith * s->n_ctx;
    llm__attn_params params = { .scale = hp->attn_scale, .softcap = 0 };
    int64_t lo, hi;
    llm__split(a->T * H, ith, nth, &lo, &hi);
    for (int64_t idx = lo; idx < hi; idx++) {
        int64_t t = idx / H, h = idx % H, kvh = h / group, pos = s->n_past + t;
        int64_t start = hp->layer_sliding[a->il] && hp->sliding_window ? LLM__MAX(0, pos - hp->sliding_window + 1) : 0;
        const float *K = s->k_cache + ((a->il * Hkv + kvh) * s->n_ctx + start) * D;
        const float *V = s->v_cache + ((a->il * Hkv + kvh) * s->n_ctx + start) * D;
        llm__attend(s->att + (t * H + h) * D, s->q + (t * H + h) * D, K, V, pos - start + 1, D, D, &params, scores);
    }
}

static void llm__attention_block(llm_session *s, int64_t il, int64_t T) {
    const llm__layer *l = &s->m->layers[il];
    const llm__hparams *hp = &s->m->hp;
    llm__norm_rows(s, s->h, s->x, T, l->attn_norm, l->attn_norm_b);
    llm__linear(s, s->q, s->h, T, l->wq, l->bq);
    llm__linear(s, s->k, s->h, T, l->wk, l->bk);
    llm__linear(s, s->v, s->h, T, l->wv, l->bv);
    llm__qk_prepare(s, il, T);
    llm__attn_task task = { s, il, T };
    llm__parallel_for(s->pool, llm__attn_worker, &task);
    llm__linear(s, s->proj, s->att, T, l->wo, l->bo);
    for (int64_t i = 0; i < T * hp->n_embd; i++) s->x[i] += s->proj[i];
}

/* Gated MLP: down(act(gate(h)) * up(h)); without a gate: down(act(up(h))). */
static void llm__ffn_block(llm_session *s, int64_t il, int64_t T) {
    const llm__layer *l = &s->m->layers[il];
    const llm__hparams *hp = &s->m->hp;
    int64_t F = hp->n_ff;
    llm__norm_rows(s, s->h, s->x, T, l->ffn_norm, l->ffn_norm_b);
    llm__linear(s, s->up, s->h, T, l->w_up, l->b_up);
    if (l->w_gate) {
        llm__linear(s, s->gate, s->h, T, l->w_gate, NULL);
        for (int64_t i = 0; i < T * F; i++) s->up[i] *= llm__activate(hp->act, s->gate[i]);
    } else {
        for (int64_t i = 0; i < T * F; i++) s->up[i] = llm__activate(hp->act, s->up[i]);
    }
    llm__linear(s, s->proj, s->up, T, l->w_down, l->b_down);
    for (int64_t i = 0; i < T * hp->n_embd; i++) s->x[i] += s->proj[i];
}

/* x[t] = embedding row of tokens[t], widened to f32 and scaled. */
static void llm__embed(llm_session *s, const llm_token *tokens, int64_t T) {
    const llm_model *m = s->m;
    int64_t C = m->hp.n_embd;
    size_t row_bytes = llm_dtype_n_bytes(m->tok_embd->dtype, C);
    for (int64_t t = 0; t < T; t++) {
        const uint8_t *row = (const uint8_t *)m->tok_embd->data + (size_t)tokens[t] * row_bytes;
        llm_convert(LLM_DTYPE_F32, s->x + t * C, m->tok_embd->dtype, row, C);
        if (m->hp.embed_scale != 1.0f)
            for (int64_t i = 0; i < C; i++) s->x[t * C + i] *= m->hp.embed_scale;
    }
}

/* One chunk (T <= n_batch) through the whole network. logits_all: [T, V] or NULL (then only
   the last position's logits are computed, into s->logits). */
static void llm__forward_chunk(llm_session *s, const llm_token *tokens, int64_t T, float *logits_all) {
    const llm_model *m = s->m;
    int64_t C = m->hp.n_embd;
    llm__embed(s, tokens, T);
    for (int64_t il = 0; il < m->hp.n_layers; il++) {
        llm__attention_block(s, il, T);
        llm__ffn_block(s, il, T);
    }
    int64_t first = logits_all ? 0 : T - 1;
    llm__norm_rows(s, s->h, s->x + first * C, T - first, m->out_norm, m->out_norm_b);
    llm__matmul(s->pool, s->mm_scratch, logits_all ? logits_all : s->logits, m->hp.n_vocab, s->h, T - first, m->output);
    if (logits_all) memcpy(s->logits, logits_all + (T - 1) * m->hp.n_vocab, (size_t)m->hp.n_vocab * sizeof(float));
    s->n_past += T;
}
/* ==== end llm_impl/55_forward.c ==== */
/* ==== begin llm_impl/59_model_open.c ==== */
/* ---- >>model_open: llm_model_load picks the loader by what `path` is ---- */
/* #include "10_internal.h" (already above) */

LLM_API llm_status llm_model_load(const char *path, const llm_model_desc *desc, llm_model **out_model) {
    llm_model *m = NULL;
    *out_model = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return llm__fail(LLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    llm_status s = llm__model_new(path, desc, &m);
    if (s) return s;
    if (llm__ends_with(path, ".bin") && llm__file_exists(path)) {
        s = llm__load_llama2c(m, path);
    } else {
#ifndef LLM_NO_CJSON
        s = llm__load_hf(m, path, desc);
#else
        s = llm__fail(LLM_ERR_UNSUPPORTED, "%s: Hugging Face models need cJSON (built with LLM_NO_CJSON)", path);
#endif
    }
    if (!s) s = llm__model_finish(m);
    if (s) { llm_model_free(m); return s; }
    llm__log(LLM_LOG_INFO, "loaded %s: arch %s, %lld layers, %lld params", path, m->hp.arch, (long long)m->hp.n_layers,
             (long long)m->info.n_params);
    *out_model = m;
    return LLM_OK;
}

LLM_API const llm_model_info *llm_model_get_info(const llm_model *m) { return &m->info; }
/* ==== end llm_impl/59_model_open.c ==== */
/* ==== begin llm_impl/60_session.c ==== */
/* ---- >>session: creating sessions and feeding them tokens ----
   All memory a session needs is computed up front and taken in one allocation: the KV
   cache, the activations of one chunk and the per-thread scratch. Nothing is allocated
   per token. */
/* #include "10_internal.h" (already above) */

LLM_API llm_status llm_session_create(const llm_model *m, const llm_session_desc *desc, llm_session **out) {
    llm_session_desc d = desc ? *desc : (llm_session_desc){ 0 };
    const llm__hparams *hp = &m->hp;
    *out = NULL;
    if (d.n_ctx <= 0) d.n_ctx = hp->n_ctx_train > 0 ? LLM__MIN(hp->n_ctx_train, 4096) : 4096;
    if (d.n_batch <= 0) d.n_batch = 256;
    d.n_batch = LLM__MIN(d.n_batch, d.n_ctx);
    llm_session *s = (llm_session *)calloc(1, sizeof *s);
    if (!s) return llm__fail(LLM_ERR_NOMEM, "session: out of memory");
    s->m = m;
    s->alloc = d.allocator.alloc ? d.allocator : m->alloc;
    s->n_ctx = d.n_ctx;
    s->n_batch = d.n_batch;
    llm_status st = LLM_OK;
    if (d.pool) s->pool = d.pool;
    else if ((st = llm_pool_create(d.n_threads, &s->pool)) == LLM_OK) s->own_pool = true;
    if (st) { free(s); return st; }
    s->n_threads = llm_pool_n_threads(s->pool);

    int64_t B = s->n_batch, C = hp->n_embd, Dq = hp->n_heads * hp->head_dim, Dkv = hp->n_kv_heads * hp->head_dim;
    int64_t F = hp->n_ff, max_k = LLM__MAX(LLM__MAX(C, F), Dq);
    int64_t cache = hp->n_layers * Dkv * s->n_ctx;
    /* sizes in floats, each rounded up to a cache line */
    int64_t sizes[] = { cache, cache, B * C, B * C, B * Dq, B * Dkv, B * Dkv, B * Dq, B * C, B * F, B * F, hp->n_vocab,
                        s->n_threads * s->n_ctx, s->n_threads * max_k };
    float **slots[] = { &s->k_cache, &s->v_cache, &s->x, &s->h, &s->q, &s->k, &s->v, &s->att, &s->proj, &s->gate, &s->up,
                        &s->logits, &s->scores, &s->mm_scratch };
    size_t total = 0;
    for (int i = 0; i < LLM__COUNT(sizes); i++) total += ((size_t)sizes[i] * sizeof(float) + 63) / 64 * 64;
    s->tokens = (llm_token *)calloc((size_t)s->n_ctx, sizeof *s->tokens);
    s->block = s->tokens ? llm__alloc(&s->alloc, total) : NULL;
    if (!s->block) {
        llm_session_destroy(s);
        return llm__fail(LLM_ERR_NOMEM, "session: cannot allocate %zu bytes (n_ctx %lld)", total, (long long)d.n_ctx);
    }
    char *p = (char *)s->block;
    for (int i = 0; i < LLM__COUNT(sizes); i++) {
        *slots[i] = (float *)p;
        p += ((size_t)sizes[i] * sizeof(float) + 63) / 64 * 64;
    }
    memset(s->logits, 0, (size_t)hp->n_vocab * sizeof(float));
    *out = s;
    return LLM_OK;
}

LLM_API void llm_session_destroy(llm_session *s) {
    if (!s) return;
    if (s->own_pool) llm_pool_destroy(s->pool);
    llm__free(&s->alloc, s->block);
    free(s->tokens);
    free(s);
}

LLM_API llm_status llm_session_eval(llm_session *s, const llm_token *tokens, int64_t n, float *out_logits) {
    const llm__hparams *hp = &s->m->hp;
    if (n <= 0) return llm__fail(LLM_ERR_INVALID_ARG, "eval: no tokens");
    if (n > s->n_ctx - s->n_past)
        return llm__fail(LLM_ERR_CONTEXT_FULL, "eval: %lld tokens after %lld do not fit the context of %lld", (long long)n,
                         (long long)s->n_past, (long long)s->n_ctx);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return llm__fail(LLM_ERR_INVALID_ARG, "eval: token id %d is outside the vocabulary (0..%lld)", (int)tokens[i],
                             (long long)hp->n_vocab - 1);
    for (int64_t done = 0; done < n; done += s->n_batch) {
        int64_t T = LLM__MIN(s->n_batch, n - done);
        memcpy(s->tokens + s->n_past, tokens + done, (size_t)T * sizeof *tokens);
        llm__forward_chunk(s, tokens + done, T, out_logits ? out_logits + done * hp->n_vocab : NULL);
    }
    return LLM_OK;
}

LLM_API const float *llm_session_logits(const llm_session *s) { return s->logits; }
LLM_API int64_t llm_session_n_past(const llm_session *s) { return s->n_past; }
LLM_API int64_t llm_session_n_ctx(const llm_session *s) { return s->n_ctx; }
LLM_API const llm_token *llm_session_tokens(const llm_session *s) { return s->tokens; }
LLM_API const llm_model *llm_session_model(const llm_session *s) { return s->m; }

LLM_API llm_status llm_session_rewind(llm_session *s, int64_t n_past) {
    if (n_past < 0 || n_past > s->n_past)
        return llm__fail(LLM_ERR_INVALID_ARG, "rewind: %lld is outside 0..%lld", (long long)n_past, (long long)s->n_past);
    s->n_past = n_past;
    return LLM_OK;
}
/* ==== end llm_impl/60_session.c ==== */
/* ==== begin llm_impl/61_sampler.c ==== */
/* ---- >>sampler: logits processors, RNG, token selection ----
   Here: the xoshiro256** RNG, each logits processor over one row, and llm_sampler, which
   chains them the way mlx-lm's generate_step does (order and semantics: 06_api_sample.h).
   Not here: the generation loop (it calls llm_sampler_accept/llm_sampler_sample).
   Speed: a sample is a few linear passes over the V logits. Nothing sorts the whole
   vocabulary unless a filter really needs most of it: top-k, min_tokens_to_keep and the
   top-N report select with a size-m heap, and top-p grows its candidate set (256, 1024,
   ...) until the set holds the required mass.
   References: mlx_lm/sample_utils.py and generate.py (ml-explore/mlx-lm); transformers'
   generation/logits_process.py; xoshiro256** from https://prng.di.unimi.it/. */
/* #include "10_internal.h" (already above) */
/* #include "06_api_sample.h" (already above) */

/* ---- >>rng: xoshiro256**, seeded with splitmix64 so that any seed (0 too) is good ---- */

static uint64_t llm__rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

LLM_API void llm_rng_seed(llm_rng *rng, uint64_t seed) {
    for (int i = 0; i < 4; i++) {                  /* splitmix64 spreads the seed's bits */
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        rng->s[i] = z ^ (z >> 31);
    }
}

LLM_API uint64_t llm_rng_next(llm_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = llm__rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = llm__rotl64(s[3], 45);
    return result;
}

LLM_API double llm_rng_uniform(llm_rng *rng) {
    return (double)(llm_rng_next(rng) >> 11) * 0x1.0p-53;   /* the top 53 bits */
}

/* ---- ranking keys ----
   A token's rank as one uint64: the float's bits made order-preserving in the high half,
   ~id in the low half. A larger key means a larger logit, and among equal logits a lower
   id, so every ordering in this file is total and deterministic, and sorting needs no
   comparison context (C11 qsort has none). */

static uint64_t llm__rank_key(float v, int64_t id) {
    uint32_t u;
    memcpy(&u, &v, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);   /* negatives reversed below positives */
    return ((uint64_t)u << 32) | (uint32_t)(UINT32_MAX - (uint32_t)id);
}

static int64_t llm__key_id(uint64_t key) { return (int64_t)(UINT32_MAX - (uint32_t)key); }

static int llm__key_cmp_desc(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x < y) - (x > y);
}

static void llm__heap_sift_down(uint64_t *h, int64_t m, int64_t i) {   /* min-heap */
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, c = i;
        if (l < m && h[l] < h[c]) c = l;
        if (r < m && h[r] < h[c]) c = r;
        if (c == i) return;
        uint64_t t = h[i]; h[i] = h[c]; h[c] = t;
        i = c;
    }
}

/* The m highest-ranked tokens of x[n], as keys sorted best first into keys[0..m).
   Returns min(m, n). keys: [n] scratch. A min-heap of the best m seen so far costs
   O(n + m log m log(n/m)) for logits in random order; for m close to n a full sort is
   as cheap and simpler. */
static int64_t llm__top_keys(const float *x, int64_t n, int64_t m, uint64_t *keys) {
    if (m > n) m = n;
    if (m <= 0) return 0;
    int64_t n_sorted = m;
    if (m > n / 8) {
        for (int64_t i = 0; i < n; i++) keys[i] = llm__rank_key(x[i], i);
        n_sorted = n;
    } else {
        for (int64_t i = 0; i < m; i++) keys[i] = llm__rank_key(x[i], i);
        for (int64_t i = m / 2 - 1; i >= 0; i--) llm__heap_sift_down(keys, m, i);
        for (int64_t i = m; i < n; i++) {
            uint64_t k = llm__rank_key(x[i], i);
            if (k > keys[0]) { keys[0] = k; llm__heap_sift_down(keys, m, 0); }
        }
    }
    qsort(keys, (size_t)n_sorted, sizeof *keys, llm__key_cmp_desc);
    return m;
}

/* Remove (-inf) every token ranked below `last_kept`. */
static void llm__keep_from(float *x, int64_t n, uint64_t last_kept) {
    for (int64_t i = 0; i < n; i++)
        if (llm__rank_key(x[i], i) < last_kept) x[i] = -INFINITY;
}

/* max(x) and sum(exp(x - max)) (accumulated in double: V can be 256k terms). */
static void llm__max_sumexp(const float *x, int64_t n, float *out_max, double *out_sum) {
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    double sum = 0;
    if (m > -INFINITY)
        for (int64_t i = 0; i < n; i++) sum += (double)expf(x[i] - m);
    *out_max = m;
    *out_sum = sum;
}

/* ---- >>processors: the filters, each over one row, scratch passed in ---- */

static void llm__top_k(float *x, int64_t n, int64_t k, uint64_t *keys) {
    if (k <= 0 || k >= n) return;
    llm__top_keys(x, n, k, keys);
    llm__keep_from(x, n, keys[k - 1]);
}

/* transformers' rule: sort ascending, keep tokens whose cumulative probability is
   > 1 - top_p. Counted from the top instead, token j survives iff the mass of the tokens
   ranked above it is < top_p, so only the head of the ranking is ever sorted. */
static void llm__top_p(float *x, int64_t n, float top_p, int64_t min_keep, uint64_t *keys) {
    if (!(top_p > 0 && top_p < 1)) return;
    float m;
    double sum;
    llm__max_sumexp(x, n, &m, &sum);
    if (!(m > -INFINITY)) return;
    double target = (double)top_p * sum;
    for (int64_t want = 256;; want *= 4) {
        int64_t got = llm__top_keys(x, n, want, keys);
        double above = 0;
        for (int64_t j = 0; j < got; j++) {
            if (j >= min_keep && above >= target) {
                llm__keep_from(x, n, keys[j - 1]);
                return;
            }
            above += (double)expf(x[llm__key_id(keys[j])] - m);
        }
        if (got == n) return;                      /* every token is needed */
    }
}

/* mlx-lm's form: p_i < min_p * p_max  <=>  x_i < x_max + log(min_p). */
static void llm__min_p(float *x, int64_t n, float min_p, int64_t min_keep, uint64_t *keys) {
    if (!(min_p > 0)) return;
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    float cut = m + logf(min_p < 1 ? min_p : 1);
    uint64_t protect = UINT64_MAX;                 /* keys >= protect are kept regardless */
    if (min_keep > 1 && llm__top_keys(x, n, min_keep, keys) == min_keep) protect = keys[min_keep - 1];
    for (int64_t i = 0; i < n; i++)
        if (x[i] < cut && llm__rank_key(x[i], i) < protect) x[i] = -INFINITY;
}

static bool llm__token_in(int64_t id, const llm_token *ids, int64_t n_ids) {
    for (int64_t j = 0; j < n_ids; j++)
        if (ids[j] == id) return true;
    return false;
}

LLM_API void llm_logits_xtc(float *x, int64_t n, float threshold,
                            const llm_token *protected_ids, int64_t n_protected) {
    float m;
    double sum;
    llm__max_sumexp(x, n, &m, &sum);
    if (!(m > -INFINITY)) return;
    /* p_i > threshold  <=>  x_i > cut; find the least likely token above the cut */
    float cut = m + (float)log((double)threshold * sum), least = INFINITY;
    int64_t n_above = 0;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > cut) { n_above++; least = x[i] < least ? x[i] : least; }
    if (n_above < 2) return;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > least && !llm__token_in(i, protected_ids, n_protected)) x[i] = -INFINITY;
}

/* ---- penalties ----
   count: [n] int32 scratch, all zero on entry and on return. Counting first lets each
   distinct token be penalised once, in O(n_ctx). */
typedef enum { LLM__PENALTY_REPETITION, LLM__PENALTY_PRESENCE, LLM__PENALTY_FREQUENCY } llm__penalty;

static void llm__penalize(float *x, int64_t n, const llm_token *ctx, int64_t n_ctx,
                          llm__penalty kind, float penalty, int32_t *count) {
    for (int64_t j = 0; j < n_ctx; j++)
        if (ctx[j] >= 0 && ctx[j] < n) count[ctx[j]]++;
    for (int64_t j = 0; j < n_ctx; j++) {
        llm_token t = ctx[j];
        if (t < 0 || t >= n || count[t] == 0) continue;   /* out of range, or done */
        switch (kind) {
        case LLM__PENALTY_REPETITION: x[t] = x[t] < 0 ? x[t] * penalty : x[t] / penalty; break;
        case LLM__PENALTY_PRESENCE:   x[t] -= penalty; break;
        case LLM__PENALTY_FREQUENCY:  x[t] -= penalty * (float)count[t]; break;
        }
        count[t] = 0;
    }
}

/* ---- public single processors: the internal ones plus their own scratch ---- */

LLM_API void llm_logits_temperature(float *x, int64_t n, float temperature) {
    LLM_ASSERT(temperature > 0);
    for (int64_t i = 0; i < n; i++) x[i] /= temperature;   /* a division, as transformers */
}

LLM_API void llm_logits_bias(float *x, int64_t n, const llm_logit_bias *bias, int64_t n_bias) {
    for (int64_t j = 0; j < n_bias; j++)
        if (bias[j].token >= 0 && bias[j].token < n) x[bias[j].token] += bias[j].bias;
}

static llm_status llm__scratch(void **out, int64_t n, size_t elem) {
    *out = llm__calloc(NULL, (size_t)(n > 0 ? n : 1), elem);
    return *out ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "sampler: no memory for %lld scratch entries", (long long)n);
}

LLM_API llm_status llm_logits_top_k(float *x, int64_t n, int64_t k, int64_t min_keep) {
    void *keys;
    if (k <= 0 || LLM__MAX(k, min_keep) >= n) return LLM_OK;
    llm_status st = llm__scratch(&keys, n, sizeof(uint64_t));
    if (st) return st;
    llm__top_k(x, n, LLM__MAX(k, min_keep), (uint64_t *)keys);
    llm__free(NULL, keys);
    return LLM_OK;
}

LLM_API llm_status llm_logits_top_p(float *x, int64_t n, float top_p, int64_t min_keep) {
    void *keys;
    llm_status st = llm__scratch(&keys, n, sizeof(uint64_t));
    if (st) return st;
    llm__top_p(x, n, top_p, min_keep, (uint64_t *)keys);
    llm__free(NULL, keys);
    return LLM_OK;
}

LLM_API llm_status llm_logits_min_p(float *x, int64_t n, float min_p, int64_t min_keep) {
    void *keys;
    llm_status st = llm__scratch(&keys, n, sizeof(uint64_t));
    if (st) return st;
    llm__min_p(x, n, min_p, min_keep, (uint64_t *)keys);
    llm__free(NULL, keys);
    return LLM_OK;
}

static llm_status llm__penalty_public(float *x, int64_t n, const llm_token *ctx, int64_t n_ctx,
                                      llm__penalty kind, float penalty) {
    void *count;
    llm_status st = llm__scratch(&count, n, sizeof(int32_t));
    if (st) return st;
    llm__penalize(x, n, ctx, n_ctx, kind, penalty, (int32_t *)count);
    llm__free(NULL, count);
    return LLM_OK;
}

LLM_API llm_status llm_logits_repetition_penalty(float *x, int64_t n, const llm_token *ctx, int64_t n_ctx, float penalty) {
    return llm__penalty_public(x, n, ctx, n_ctx, LLM__PENALTY_REPETITION, penalty);
}
LLM_API llm_status llm_logits_presence_penalty(float *x, int64_t n, const llm_token *ctx, int64_t n_ctx, float penalty) {
    return llm__penalty_public(x, n, ctx, n_ctx, LLM__PENALTY_PRESENCE, penalty);
}
LLM_API llm_status llm_logits_frequency_penalty(float *x, int64_t n, const llm_token *ctx, int64_t n_ctx, float penalty) {
    return llm__penalty_public(x, n, ctx, n_ctx, LLM__PENALTY_FREQUENCY, penalty);
}

/* ---- >>llm_sampler: the chain with per-sequence state ---- */

struct llm_sampler {
    llm_allocator      alloc;
    llm_sampler_params p;         /* p.xtc_protected and p.logit_bias point at our copies */
    int64_t            n_vocab;   /* capacity: the largest row accepted */
    llm_rng            rng;
    float             *work;      /* [V] the row being processed */
    float             *weight;    /* [V] exp((x - max) / temperature) of the survivors */
    uint64_t          *keys;      /* [V] ranking scratch */
    int32_t           *count;     /* [V] penalty counts, zero between calls */
    llm_token         *hist;      /* [cap_hist] the history the penalties read */
    int64_t            n_hist, cap_hist;
    int64_t            need_hist; /* tokens the penalties look back: 0 none, -1 all */
};

LLM_API llm_sampler_params llm_sampler_default_params(void) {
    llm_sampler_params p;
    memset(&p, 0, sizeof p);
    p.min_tokens_to_keep = 1;           /* mlx-lm make_sampler / make_logits_processors */
    p.xtc_threshold = 0.1f;
    p.repetition_context_size = 20;
    p.presence_context_size = 20;
    p.frequency_context_size = 20;
    return p;
}

static bool llm__repetition_on(const llm_sampler_params *p) {
    return p->repetition_penalty != 0 && p->repetition_penalty != 1;
}

/* How far back the active penalties look: 0 = no history needed, -1 = all of it. */
static int64_t llm__history_need(const llm_sampler_params *p) {
    struct { bool on; int32_t size; } pen[3] = {
        { llm__repetition_on(p), p->repetition_context_size },
        { p->presence_penalty != 0, p->presence_context_size },
        { p->frequency_penalty != 0, p->frequency_context_size },
    };
    int64_t need = 0;
    for (int i = 0; i < 3; i++) {
        if (!pen[i].on) continue;
        if (pen[i].size <= 0) return -1;
        need = LLM__MAX(need, (int64_t)pen[i].size);
    }
    return need;
}

static llm_status llm__sampler_check(const llm_sampler_params *p, int64_t n_vocab) {
    const char *bad = NULL;
    if (n_vocab <= 0 || n_vocab > INT32_MAX) bad = "n_vocab (1..2^31-1)";
    else if (isnan(p->temperature)) bad = "temperature";
    else if (p->top_k < 0) bad = "top_k (>= 0)";
    else if (isnan(p->top_p)) bad = "top_p";
    else if (!(p->min_p >= 0 && p->min_p <= 1)) bad = "min_p (0..1)";
    else if (!(p->xtc_probability >= 0 && p->xtc_probability <= 1)) bad = "xtc_probability (0..1)";
    else if (p->xtc_probability > 0 && !(p->xtc_threshold >= 0 && p->xtc_threshold <= 0.5f)) bad = "xtc_threshold (0..0.5)";
    else if (p->n_xtc_protected < 0 || (p->n_xtc_protected > 0 && !p->xtc_protected)) bad = "xtc_protected";
    else if (!(p->repetition_penalty >= 0) || !isfinite(p->repetition_penalty)) bad = "repetition_penalty (>= 0)";
    else if (!isfinite(p->presence_penalty)) bad = "presence_penalty";
    else if (!isfinite(p->frequency_penalty)) bad = "frequency_penalty";
    else if (p->n_logit_bias < 0 || (p->n_logit_bias > 0 && !p->logit_bias)) bad = "logit_bias";
    else if (p->n_logprobs < 0) bad = "n_logprobs (>= 0)";
    return bad ? llm__fail(LLM_ERR_INVALID_ARG, "sampler params: bad %s", bad) : LLM_OK;
}

/* Everything sized by V and the copied lists live in one block; the history, which may
   grow, in its own. */
LLM_API llm_status llm_sampler_create(const llm_sampler_params *params, int64_t n_vocab,
                                      const llm_allocator *alloc, llm_sampler **out_sampler) {
    llm_status st = llm__sampler_check(params, n_vocab);
    if (st) return st;
    int64_t need = llm__history_need(params), cap = need > 0 ? 2 * need : need < 0 ? 1024 : 0;
    size_t v = (size_t)n_vocab, bytes = sizeof(llm_sampler) + v * (2 * sizeof(float) + sizeof(uint64_t) + sizeof(int32_t))
        + (size_t)params->n_xtc_protected * sizeof(llm_token) + (size_t)params->n_logit_bias * sizeof(llm_logit_bias);
    llm_sampler *s = (llm_sampler *)llm__calloc(alloc, 1, bytes);
    llm_token *hist = cap ? (llm_token *)llm__alloc(alloc, (size_t)cap * sizeof(llm_token)) : NULL;
    if (!s || (cap && !hist)) {
        llm__free(alloc, s);
        llm__free(alloc, hist);
        return llm__fail(LLM_ERR_NOMEM, "sampler: no memory for a vocabulary of %lld", (long long)n_vocab);
    }
    s->alloc = alloc ? *alloc : (llm_allocator){ 0 };
    s->p = *params;
    s->n_vocab = n_vocab;
    s->keys = (uint64_t *)(s + 1);              /* 8-byte members first keep alignment */
    s->work = (float *)(s->keys + v);
    s->weight = s->work + v;
    s->count = (int32_t *)(s->weight + v);
    llm_token *prot = (llm_token *)(s->count + v);
    llm_logit_bias *bias = (llm_logit_bias *)(prot + params->n_xtc_protected);
    if (params->n_xtc_protected) memcpy(prot, params->xtc_protected, (size_t)params->n_xtc_protected * sizeof *prot);
    if (params->n_logit_bias) memcpy(bias, params->logit_bias, (size_t)params->n_logit_bias * sizeof *bias);
    s->p.xtc_protected = prot;
    s->p.logit_bias = bias;
    s->hist = hist;
    s->cap_hist = cap;
    s->need_hist = need;
    llm_sampler_reset(s);
    *out_sampler = s;
    return LLM_OK;
}

LLM_API void llm_sampler_destroy(llm_sampler *s) {
    if (!s) return;
    llm_allocator a = s->alloc;
    llm__free(&a, s->hist);
    llm__free(&a, s);
}

LLM_API void llm_sampler_reset(llm_sampler *s) {
    s->n_hist = 0;
    llm_rng_seed(&s->rng, s->p.seed);
}

LLM_API llm_status llm_sampler_accept(llm_sampler *s, llm_token token) {
    if (s->need_hist == 0) return LLM_OK;
    if (s->n_hist == s->cap_hist) {
        if (s->need_hist > 0) {                 /* bounded: slide the last need_hist down */
            memmove(s->hist, s->hist + s->n_hist - s->need_hist, (size_t)s->need_hist * sizeof *s->hist);
            s->n_hist = s->need_hist;
        } else {                                /* the whole history: grow */
            llm_token *h = (llm_token *)llm__alloc(&s->alloc, (size_t)s->cap_hist * 2 * sizeof *h);
            if (!h) return llm__fail(LLM_ERR_NOMEM, "sampler: no memory for %lld history tokens", (long long)s->cap_hist * 2);
            memcpy(h, s->hist, (size_t)s->n_hist * sizeof *h);
            llm__free(&s->alloc, s->hist);
            s->hist = h;
            s->cap_hist *= 2;
        }
    }
    s->hist[s->n_hist++] = token;
    return LLM_OK;
}

/* The last `size` tokens of the history (all of it for size <= 0). */
static void llm__sampler_penalize(llm_sampler *s, int64_t n, llm__penalty kind, float penalty, int32_t size) {
    int64_t len = size > 0 ? LLM__MIN((int64_t)size, s->n_hist) : s->n_hist;
    llm__penalize(s->work, n, s->hist + s->n_hist - len, len, kind, penalty, s->count);
}

/* Copy the row and run mlx-lm's logits processors (bias, repetition, presence, frequency),
   then make it safe: NaN -> -inf, +inf -> FLT_MAX (so x - max stays defined). */
static void llm__sampler_process(llm_sampler *s, const float *logits, int64_t n) {
    const llm_sampler_params *p = &s->p;
    float *x = s->work;
    memcpy(x, logits, (size_t)n * sizeof *x);
    llm_logits_bias(x, n, p->logit_bias, p->n_logit_bias);
    if (llm__repetition_on(p))
        llm__sampler_penalize(s, n, LLM__PENALTY_REPETITION, p->repetition_penalty, p->repetition_context_size);
    if (p->presence_penalty != 0)
        llm__sampler_penalize(s, n, LLM__PENALTY_PRESENCE, p->presence_penalty, p->presence_context_size);
    if (p->frequency_penalty != 0)
        llm__sampler_penalize(s, n, LLM__PENALTY_FREQUENCY, p->frequency_penalty, p->frequency_context_size);
    for (int64_t i = 0; i < n; i++) {
        if (isnan(x[i])) x[i] = -INFINITY;
        else if (x[i] > FLT_MAX) x[i] = FLT_MAX;
    }
}

/* Draw from softmax(x / temperature) over the survivors: one uniform number, then walk
   the cumulative weights (inverse CDF), so one sample costs one random draw. */
static int64_t llm__sample_categorical(llm_sampler *s, int64_t n, float temperature) {
    const float *x = s->work;
    float m = -INFINITY, inv_t = 1.0f / temperature;   /* mlx-lm: logits * (1 / temp) */
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        s->weight[i] = x[i] > -INFINITY ? expf((x[i] - m) * inv_t) : 0.0f;
        total += s->weight[i];
    }
    double r = llm_rng_uniform(&s->rng) * total, acc = 0;
    int64_t last = -1;
    for (int64_t i = 0; i < n; i++) {
        if (s->weight[i] == 0) continue;
        last = i;
        acc += s->weight[i];
        if (r < acc) return i;
    }
    return last;                                /* r rounded up to the total */
}

/* mlx-lm's make_sampler chain: top-p -> min-p -> XTC -> top-k -> categorical. */
static int64_t llm__sampler_choose(llm_sampler *s, int64_t n) {
    const llm_sampler_params *p = &s->p;
    llm__top_p(s->work, n, p->top_p, 1, s->keys);
    llm__min_p(s->work, n, p->min_p, LLM__MAX(p->min_tokens_to_keep, 1), s->keys);
    if (p->xtc_probability > 0 && llm_rng_uniform(&s->rng) < p->xtc_probability)
        llm_logits_xtc(s->work, n, p->xtc_threshold, p->xtc_protected, p->n_xtc_protected);
    llm__top_k(s->work, n, p->top_k, s->keys);
    return llm__sample_categorical(s, n, p->temperature);
}

LLM_API llm_status llm_sampler_sample(llm_sampler *s, const float *logits, int64_t n_vocab,
                                      llm_token *out_token, float *out_logprob,
                                      llm_token_logprob *out_top) {
    if (n_vocab <= 0 || n_vocab > s->n_vocab)
        return llm__fail(LLM_ERR_INVALID_ARG, "sampler: row of %lld logits, sampler made for 1..%lld",
                         (long long)n_vocab, (long long)s->n_vocab);
    llm__sampler_process(s, logits, n_vocab);
    float m;
    double sum;
    llm__max_sumexp(s->work, n_vocab, &m, &sum);
    if (!(m > -INFINITY)) return llm__fail(LLM_ERR_INVALID_ARG, "sampler: every logit is -inf or NaN");
    float lse = m + (float)log(sum);            /* logprob_i = x_i - lse */
    if (out_top) {
        int64_t got = llm__top_keys(s->work, n_vocab, s->p.n_logprobs, s->keys);
        for (int64_t j = 0; j < got; j++) {
            int64_t id = llm__key_id(s->keys[j]);
            out_top[j] = (llm_token_logprob){ (llm_token)id, s->work[id] - lse };
        }
    }
    int64_t tok = 0;
    if (s->p.temperature > 0) {
        tok = llm__sampler_choose(s, n_vocab);
    } else {
        for (int64_t i = 1; i < n_vocab; i++)   /* argmax; '>' keeps the lowest id on ties */
            if (s->work[i] > s->work[tok]) tok = i;
    }
    *out_token = (llm_token)tok;
    if (out_logprob) *out_logprob = s->work[tok] - lse;   /* filters keep the chosen value */
    return LLM_OK;
}
/* ==== end llm_impl/61_sampler.c ==== */
#endif /* LLM_IMPLEMENTATION_INCLUDED */
#endif /* LLM_IMPLEMENTATION */
/* ==== begin llm_impl/99_footer.h ==== */
/*
------------------------------------------------------------------------------
MIT License

Copyright (c) 2026 the llm.h authors

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
Third-party libraries linked (not included): utf8proc (MIT), zstd (BSD), cJSON (MIT).
*/
/* ==== end llm_impl/99_footer.h ==== */
