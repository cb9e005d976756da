/* llm.h: generated from llm_impl/ - edit there, then run 'make llm.h'. */
/* ==== begin llm_impl/00_intro.h ==== */
/* llm.h - v0.1.0 - large language models on the CPU, in one C header - MIT license
   Generated from llm_impl/ - edit there, then run `make llm.h`.

   QUICK START
   -----------
   In exactly one C file:

       #define LLM_IMPLEMENTATION
       #include "llm.h"

       llm_model *model;   llm_tokenizer *tok;   llm_session *s;
       llm_model_load("stories260K.bin", NULL, &model);          // or a HF/MLX directory
       llm_tokenizer_load("tok512.bin", &tok);                    // or the same directory
       llm_session_create(model, NULL, &s);
       llm_token ids[64];  int64_t n;
       llm_tokenize(tok, "Once upon a time", 16, true, ids, 64, &n);
       char *text;
       llm_generate_params p = { .max_tokens = 100 };            // zero sampler = greedy
       llm_generate_text(s, tok, ids, n, &p, &text, NULL);
       puts(text);
       llm_free(text); llm_session_destroy(s); llm_tokenizer_free(tok); llm_model_free(model);

   Build: cc -O2 -march=native app.c -lutf8proc -lzstd -lcjson -lpthread -lm
   (examples/generate.c is the same program with error checks.)

   CONTENTS (grep for the anchors)
   --------
   >>core       status codes, llm_last_error, allocator and log hooks, thread pool
   >>tensor     dtypes (float and block-quantized) and tensor views
   >>model      llm_model_load and what a model tells about itself
   >>text       tokenizers and streaming detokenization
   >>chat       chat templates (a Jinja subset)
   >>session    the KV cache and the forward pass
   >>sample     logits processors and the sampler
   >>files      safetensors and GGUF, reading and writing
   >>generate   the decoding loop
   Implementation, in the order data flows: >>base >>threads >>json >>kernels >>ops
   >>safetensors >>gguf >>tokenizer >>jinja >>hparams >>model >>load >>forward >>session
   >>sample >>generate

   CONCEPTS
   --------
   Tensors. A tensor is a typed, row-major view: shape[0] is the outermost dimension, as
   in numpy and safetensors (a Linear weight is [out, in]). Every dtype is stored in
   blocks (1 element of 4 bytes for f32, 32 elements of 34 bytes for q8_0).

   Models. llm_model_load reads a Hugging Face or MLX directory (config.json +
   safetensors, sharded or not; MLX affine-quantized weights included), a llama2.c
   checkpoint, or a GGUF file (F32/F16/BF16 and the ggml block types). Weights are
   memory-mapped and used in place (GGUF q4_0/q8_0/q4_K/q6_K matrices excepted: they are
   regrouped once, 8 rows interleaved, for kernels twice as fast; llm_model_desc says how
   to keep them in place); activations are f32. One generic decoder-only
   transformer serves every architecture; a family is a set of options, listed by
   llm_architectures(). A model is immutable and may be shared between threads.

   Sessions. A session holds one sequence: its KV cache, scratch memory and a thread
   pool. llm_session_eval runs tokens and appends them; llm_session_rewind forgets the
   tail. The cache may rotate (bounded memory), store 8/4-bit rows, and be saved to a
   file (llm_session_save/load). llm_session_eval_batch decodes several sessions in one
   pass. One thread at a time per session.

   Tokenizers. tokenizer.json (BPE, Unigram, WordPiece with their normalizers,
   pre-tokenizers and decoders), SentencePiece tokenizer.model, llama2.c tokenizer.bin
   and GGUF vocabularies, matching Hugging Face tokenizers id for id.

   Sampling. llm_sampler applies mlx-lm's chain (penalties, top-p, min-p, XTC, top-k,
   temperature) with a seedable RNG per sequence; each processor is also a function.
   llm_generate adds stop strings, streaming text, speculative decoding (a draft model
   or prompt lookup) and batches (llm_generate_batch).

   Quantization. llm_mlx_quantize/dequantize are bit-exact with mlx; llm_quantize /
   llm_dequantize cover the ggml block types; llm_convert_model writes MLX models.

   Threads. Sessions make a pool of n_threads (0: all online cores) unless given one.
   The library never reads environment variables; the CLI maps LLM_THREADS and -t.

   Memory and ownership. Whoever creates, frees: each function that hands you something
   names its release function. Getters return borrowed pointers valid until the parent
   is freed. Text the library returns is freed with llm_free().

   Errors. Fallible functions return llm_status (LLM_OK = 0) and leave a message naming
   the file, tensor or field and the problem in llm_last_error() (thread-local). Asserts
   are only for programmer misuse, never for file contents.

   COMPILE-TIME OPTIONS (define before including llm.h)
   --------------------
   LLM_IMPLEMENTATION     emit the implementation in this file (include llm.h first here)
   LLM_STATIC             make every API function static
   LLM_SHARED, LLM_BUILD  visibility / dllexport for a shared library
   LLM_ASSERT(x)          invariant checks (default: assert)
   LLM_THREADS            default pool size (0: online cores)
   LLM_NO_THREADS         no pthreads: everything runs on the calling thread
   LLM_NO_SIMD, LLM_NO_AVX2  scalar kernels only / no AVX2 kernels
   LLM_NO_AVX512          no AVX512-BF16 prefill for bf16 weights (see llm_set_exact_bf16)
   LLM_NO_ERROR_STRINGS   llm_last_error gives only the status text
   LLM_NO_STDIO           no default stderr logging
   LLM_MAX_DIMS           tensor rank limit (4)
   LLM_RUNTIME_DISPATCH   compile AVX2 kernels with target attributes, pick them by CPUID
   LLM_JINJA_MAX_MEMORY, LLM_JINJA_MAX_OUTPUT, LLM_JINJA_MAX_STEPS   chat template limits

   RECENT CHANGES
   --------------
   0.1.0  first version: safetensors, GGUF, MLX quantization, llama2.c; 21 architectures;
          tokenizers and chat templates; sampling, caches, speculative and batched generation
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

/* Prefill with bf16 weights, on CPUs with AVX512-BF16: round the activations to bf16 and
   multiply pairs (false, the default: about 1.5x faster, as llama.cpp does; logits then
   differ from f32 arithmetic by ~1e-3 of their scale) or keep them f32 (true: exact, the
   speed of f16 weights). Elsewhere bf16 is always exact. Global; call before sessions. */
LLM_API void llm_set_exact_bf16(bool exact);

/* Free a buffer the library allocated for the caller (generated text, a rendered prompt). */
LLM_API void llm_free(void *ptr);

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
/* ==== end llm_impl/03_api_tensor.h ==== */
/* ==== begin llm_impl/04_api_model.h ==== */
/* ---- >>model: loading a model ----
   A model is the weights plus the hyperparameters of one architecture. It is read-only after
   loading and may be shared by sessions on several threads. Weights are used in place from
   the memory-mapped file (GGUF q4_0 matrices excepted: see no_repack); compute is in f32. */
typedef struct llm_model llm_model;

typedef struct llm_model_desc {
    llm_allocator allocator;     /* zero = default */
    const char *config_file;     /* NULL = "config.json" next to the weights (e.g. "config.legacy.json") */
    bool no_repack;              /* keep q4_0 matrices as the file has them: no copy in memory, slower kernels
                                    (by default they are regrouped at load for the AVX2 kernels) */
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
/* ---- >>text: tokenizers ----
   One tokenizer type reads the three common formats:
     - Hugging Face tokenizer.json (BPE, byte-level BPE, Unigram, WordPiece models with their
       normalizers, pre-tokenizers, post-processors, decoders and added tokens), plus
       tokenizer_config.json next to it for bos/eos;
     - SentencePiece tokenizer.model (BPE and Unigram);
     - llama2.c tokenizer.bin (encodes and decodes exactly like llama2.c's run.c);
     - a GGUF file's tokenizer.ggml.* metadata ("llama", "gpt2", "bert" vocabularies).
   Encoding matches Hugging Face `tokenizers` token for token. Text in and out is UTF-8.
   Invalid UTF-8 input is not rejected: each maximal invalid subsequence becomes U+FFFD,
   as Python's bytes.decode(errors="replace") does before HF sees the text (tokenizer.bin
   is the exception: it feeds raw bytes to byte fallback, as run.c does).
   A tokenizer is immutable after loading and may be shared between threads. */

typedef struct llm_tokenizer llm_tokenizer;

/* Load from `path`: a directory holding tokenizer.json (+ tokenizer_config.json),
   tokenizer.model, tokenizer.bin or llama2.c's tok*.bin (tried in that order), or the path
   of such a file or of a .gguf file.
   Free with llm_tokenizer_free(). Errors: LLM_ERR_IO, LLM_ERR_FORMAT (with the file and
   field), LLM_ERR_UNSUPPORTED (a model/normalizer/... type not implemented), LLM_ERR_NOMEM. */
LLM_API llm_status llm_tokenizer_load(const char *path, llm_tokenizer **out_tok);
LLM_API void       llm_tokenizer_free(llm_tokenizer *tok);

LLM_API int64_t    llm_tokenizer_n_vocab(const llm_tokenizer *tok);   /* largest id + 1 */
LLM_API llm_token  llm_tokenizer_bos(const llm_tokenizer *tok);       /* -1 if none */
LLM_API llm_token  llm_tokenizer_eos(const llm_tokenizer *tok);       /* -1 if none */
/* True for special added tokens (and SentencePiece control tokens): the ones
   skip_special drops. */
LLM_API bool       llm_tokenizer_is_special(const llm_tokenizer *tok, llm_token id);
/* The token's string as stored in the vocabulary ("Ġhello", "▁the", "<0x0A>", "<|eot_id|>"),
   NUL-terminated; NULL for an id out of range. Valid until the tokenizer is freed. */
LLM_API const char *llm_tokenizer_piece(const llm_tokenizer *tok, llm_token id);
/* The id of a token string (exact match of the vocabulary or an added token), -1 if none. */
LLM_API llm_token  llm_tokenizer_find(const llm_tokenizer *tok, const char *piece);

/* Encode `len` bytes of text. add_special applies the post-processor (BOS etc.) as HF's
   add_special_tokens=True does. Writes at most `cap` ids to `out`; *out_n = the number of
   ids the text needs (call with cap 0 to size, then again). */
LLM_API llm_status llm_tokenize(const llm_tokenizer *tok, const char *text, size_t len, bool add_special,
                                llm_token *out, int64_t cap, int64_t *out_n);

/* Decode ids as HF decode(ids, skip_special_tokens=skip_special). Returns the number of
   bytes of the text (excluding the NUL); writes at most cap bytes including a NUL when
   cap > 0 (the text is cut if it does not fit). Out-of-range ids are skipped. Returns -1
   when out of memory. */
LLM_API int64_t    llm_detokenize(const llm_tokenizer *tok, const llm_token *ids, int64_t n, bool skip_special,
                                  char *buf, int64_t cap);

/* Streaming detokenizer: feed generated ids one at a time and print what each push
   returns. A push returns only text that is final: it never splits a UTF-8 sequence (byte
   tokens <0xNN>, byte-level tokens) and resolves context such as a leading space that the
   decoder strips. The concatenation of all pushes and the final flush equals
   llm_detokenize() of the whole sequence. Create with llm_detok_create(), free with
   llm_detok_destroy(); the tokenizer must outlive it. Not thread-safe (one per stream). */
typedef struct llm_detok llm_detok;
LLM_API llm_status llm_detok_create(const llm_tokenizer *tok, bool skip_special, llm_detok **out_detok);
LLM_API void       llm_detok_destroy(llm_detok *d);
/* Push one id. *out_text (NUL-terminated, *out_len bytes, possibly "") is valid until the
   next call on d. */
LLM_API llm_status llm_detok_push(llm_detok *d, llm_token id, const char **out_text, size_t *out_len);
/* Emit whatever is still held back (an unfinished UTF-8 sequence becomes U+FFFD) and start
   a new stream. */
LLM_API llm_status llm_detok_flush(llm_detok *d, const char **out_text, size_t *out_len);
/* ==== end llm_impl/05_api_text.h ==== */
/* ==== begin llm_impl/06_api_chat.h ==== */
/* ---- >>chat: chat templates (the Jinja `chat_template` of tokenizer_config.json) ----
   Hugging Face models ship their prompt format as a Jinja2 template. llm.h renders it with
   its own interpreter of the Jinja subset these templates use, byte for byte as
   transformers' apply_chat_template(..., tokenize=False) does (same environment:
   trim_blocks, lstrip_blocks, loop controls, tojson as Python json.dumps,
   raise_exception, strftime_now).

       llm_chat_template *t;
       if (llm_chat_template_load("models/qwen3", NULL, &t)) die();
       char *prompt; size_t n;
       llm_chat_template_render(t, "[{\"role\":\"user\",\"content\":\"Hi\"}]", NULL, true, NULL, &prompt, &n);
       ...; llm_free(prompt); llm_chat_template_free(t);
*/
typedef struct llm_chat_template llm_chat_template;

/* Load a chat template. path: a model or tokenizer directory (chat_template.jinja and/or
   tokenizer_config.json), a tokenizer_config.json file, or a .gguf file
   (tokenizer.chat_template, named ones tokenizer.chat_template.<name>; bos/eos are the
   strings of its bos/eos token ids). A chat_template.jinja next to
   the config wins over the config's own template, as in transformers. name: NULL for
   the default template, or one of a named list ("tool_use", "rag").
   bos_token/eos_token come from the config (strings or {"content": ...} objects).
   Errors: LLM_ERR_IO, LLM_ERR_FORMAT (bad JSON, template syntax error with its line),
   LLM_ERR_NOT_FOUND (no template, or no template of that name).
   Free with llm_chat_template_free(). */
LLM_API llm_status llm_chat_template_load(const char *path, const char *name, llm_chat_template **out_template);

/* Compile a template from source. bos_token/eos_token may be NULL (then undefined in the
   template). Errors: LLM_ERR_FORMAT with the line of the syntax error. */
LLM_API llm_status llm_chat_template_parse(const char *source, const char *bos_token, const char *eos_token,
                                           llm_chat_template **out_template);

LLM_API void llm_chat_template_free(llm_chat_template *t);

/* The template's source text (valid until the template is freed). */
LLM_API const char *llm_chat_template_source(const llm_chat_template *t);

/* Render a conversation into a prompt.
     t                      [in]  the template; may be used from several threads at once
     messages_json          [in]  JSON array of {"role", "content", ...}; content may be a string
                                  or a list of parts; other keys (tool_calls, reasoning_content)
                                  are passed through
     tools_json             [in, optional] NULL or a JSON array of tool schemas (`tools` is
                                  none when NULL, as in transformers)
     add_generation_prompt  [in]  open an assistant turn at the end
     kwargs_json            [in, optional] NULL or a JSON object of extra variables,
                                  e.g. {"enable_thinking": false}
     out_text, out_len      [out] the prompt, NUL-terminated; free with llm_free()
   Errors: LLM_ERR_INVALID_ARG (bad JSON), LLM_ERR_FORMAT (the template failed: an
   undefined value used, a type error, raise_exception("...") whose text is the message,
   or a limit on output size, memory, steps or recursion). */
LLM_API llm_status llm_chat_template_render(const llm_chat_template *t, const char *messages_json, const char *tools_json,
                                            bool add_generation_prompt, const char *kwargs_json,
                                            char **out_text, size_t *out_len);

/* ==== end llm_impl/06_api_chat.h ==== */
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
    /* Rotating cache (mlx-lm --max-kv-size): the context never fills; once n_ctx positions
       are cached, each new one replaces the oldest after the first n_keep, and attention
       sees those n_keep plus the last n_ctx - n_keep positions. */
    bool rotating;
    int32_t n_keep;              /* positions a rotating cache never drops: 0 = 4, < 0 = none */
    /* Quantized cache (mlx-lm --kv-bits): keys and values stored as 8- or 4-bit affine codes
       with a scale and bias per group; K and V may differ. Not for latent-attention models. */
    int32_t kv_bits_k, kv_bits_v;   /* 0 = f32; 8 or 4 */
    int32_t kv_group_size;       /* values per scale/bias; 0 = 64 (at most head_dim) */
    int64_t quantized_kv_start;  /* keep f32 rows until the cache holds this many positions */
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
/* One token for each of n sessions in one forward pass: the weights are read once for all
   of them (batched decoding). The sessions must share the model and the cache format;
   n <= the first session's n_batch. logits: room for [n, n_vocab]; row i also becomes
   session i's llm_session_logits. The first session's scratch memory and threads do the work.
   Errors: LLM_ERR_INVALID_ARG (mismatched sessions), LLM_ERR_CONTEXT_FULL,
   LLM_ERR_UNSUPPORTED (rope that depends on the length). */
LLM_API llm_status   llm_session_eval_batch(llm_session *const *sessions, const llm_token *tokens, int64_t n, float *logits);
/* [n_vocab] logits of the last evaluated position; valid until the next eval. */
LLM_API const float *llm_session_logits(const llm_session *session);
LLM_API int64_t      llm_session_n_past(const llm_session *session);
LLM_API int64_t      llm_session_n_ctx(const llm_session *session);
/* Positions that still fit: n_ctx - n_past, or INT64_MAX for a rotating cache. */
LLM_API int64_t      llm_session_room(const llm_session *session);
/* The n_past tokens in the cache, in order; valid until the next eval or rewind. */
LLM_API const llm_token *llm_session_tokens(const llm_session *session);
LLM_API const llm_model *llm_session_model(const llm_session *session);
/* Forget everything after the first n_past tokens (0 = clear). A ring (a rotating cache, or a
   sliding-window layer's bounded cache) has already overwritten older positions: going back
   more than n_batch tokens from the furthest position written is refused
   (LLM_ERR_INVALID_ARG) unless n_past is 0; evaluate again from 0 then. */
LLM_API llm_status   llm_session_rewind(llm_session *session, int64_t n_past);

/* ---- prompt caches: a session's cache in a file ---- */

/* Save the session's tokens, cached keys/values and last logits to `path` (safetensors,
   written atomically; one zstd frame when compress). meta: n_meta extra key/value pairs
   (meta[2i] = key) stored with it, e.g. the tokenizer and chat template used. */
LLM_API llm_status llm_session_save(llm_session *session, const char *path, const char *const *meta, int64_t n_meta,
                                    bool compress);
/* Replace the session's state with a saved one. Refused with LLM_ERR_INVALID_ARG when the
   file was made by another model or with another cache layout (both named in the
   message), LLM_ERR_CONTEXT_FULL when it does not fit. On failure the session is empty. */
LLM_API llm_status llm_session_load(llm_session *session, const char *path);
/* Read one metadata string of a saved cache into buf (cap bytes). LLM_ERR_NOT_FOUND if absent. */
LLM_API llm_status llm_prompt_cache_metadata(const char *path, const char *key, char *buf, size_t cap);
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
LLM_API llm_status llm_logits_xtc(float *x, int64_t n, float threshold,
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
    float     temperature;             /* <= 0: greedy argmax (filters skipped); finite */
    int32_t   top_k;                   /* 0: off; >= V: off */
    float     top_p;                   /* on when 0 < top_p < 1 */
    float     min_p;                   /* 0: off; else in (0, 1] */
    int32_t   min_tokens_to_keep;      /* min-p keeps at least this many; < 1 means 1 */
    float     xtc_probability;         /* chance per token that XTC runs; 0: off */
    float     xtc_threshold;           /* probability a token needs to be excluded; 0..0.5 */
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
   each sampled token (llm_sampler_sample does not record its choice). Only the tokens
   the penalties can see are kept (none when no penalty is set); the buffer starts at
   1024 tokens at most and doubles when needed, up to twice the longest window.
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
   Sampling (temperature > 0) draws one random number per call, and one more when XTC is
   on; greedy draws none. The same seed, params, logits and accepted tokens give the same
   choices (in the same build: compilers may round the weights' last bits differently).
   Errors: LLM_ERR_INVALID_ARG when n_vocab is too large or every logit is -inf/NaN after
   the processors. Never allocates. */
LLM_API llm_status llm_sampler_sample(llm_sampler *s, const float *logits, int64_t n_vocab,
                                      llm_token *out_token, float *out_logprob,
                                      llm_token_logprob *out_top);

/* The distribution llm_sampler_sample would draw from for this row: after the processors
   and the filters, softmax(x / temperature) over the survivors; one-hot on the argmax at
   temperature 0. probs: [n_vocab]. XTC's coin is flipped (the RNG advances), the history
   is not changed. Errors: as llm_sampler_sample. (Speculative decoding uses it.) */
LLM_API llm_status llm_sampler_probs(llm_sampler *s, const float *logits, int64_t n_vocab, float *probs);
/* The sampler's RNG, to draw further numbers from the same seeded stream. */
LLM_API llm_rng   *llm_sampler_rng(llm_sampler *s);
/* Draw an index with probability probs[i] / sum(probs) (inverse CDF, one uniform number). */
LLM_API llm_token  llm_sample_probs(const float *probs, int64_t n, llm_rng *rng);
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
/* ==== begin llm_impl/07_api_gguf.h ==== */
/* ---- >>gguf: GGUF reading and writing, llama.cpp block quantization ----
   GGUF (llama.cpp's format, v2 and v3, little-endian): a header, typed key/value metadata
   ("general.architecture", "llama.block_count", "tokenizer.ggml.tokens", ...), tensor
   infos, then the aligned tensor data. Reading maps the file read-only; every header field
   is validated before anything is handed out (offsets and sizes inside the file, aligned,
   not overlapping, known types, rows a whole number of blocks).

   Shapes: GGUF stores dims innermost-first (ne[0] is the row length, ggml order); an
   llm_tensor's shape is outermost-first (numpy order). The reader and writer convert:
   GGUF ne = [4096, 11008] <-> llm_tensor shape = [11008, 4096] (a Linear weight [out, in]).

   Example (a tokenizer reading its vocabulary; error handling shortened):
       llm_gguf *g;
       if (llm_gguf_open(path, &g) != LLM_OK) return fail(llm_last_error());
       const llm_gguf_str *tokens;   // tokens[i].str, NUL-terminated, tokens[i].len bytes
       int64_t n_vocab, bos = -1;
       llm_gguf_get_arr(g, "tokenizer.ggml.tokens", LLM_GGUF_STRING, &n_vocab, (const void **)&tokens);
       llm_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &bos);      // stays -1 when absent
       const llm_tensor *emb = llm_gguf_find_tensor(g, "token_embd.weight");   // [n_vocab, n_embd]
       llm_gguf_close(g);   // tokens, emb and every string die here */

/* Metadata value types; the numbers are GGUF's own. */
typedef enum llm_gguf_type {
    LLM_GGUF_U8 = 0, LLM_GGUF_I8 = 1, LLM_GGUF_U16 = 2, LLM_GGUF_I16 = 3,
    LLM_GGUF_U32 = 4, LLM_GGUF_I32 = 5, LLM_GGUF_F32 = 6, LLM_GGUF_BOOL = 7,
    LLM_GGUF_STRING = 8, LLM_GGUF_ARRAY = 9, LLM_GGUF_U64 = 10, LLM_GGUF_I64 = 11,
    LLM_GGUF_F64 = 12,
    LLM_GGUF_TYPE_COUNT
} llm_gguf_type;

/* A string: `str` is NUL-terminated (the reader adds the NUL; GGUF strings may in principle
   hold a NUL, so `len` is the true length). The writer uses only the first `len` bytes. */
typedef struct llm_gguf_str {
    const char *str;
    uint64_t    len;
} llm_gguf_str;

/* One metadata entry. For arrays, `arr` points to n elements of arr_type, stored as the
   matching C type (uint8_t, int8_t, ... float, bool, uint64_t, int64_t, double) and
   suitably aligned; arrays of strings are n llm_gguf_str. Arrays of arrays are rejected. */
typedef struct llm_gguf_kv {
    const char   *key;
    llm_gguf_type type;
    llm_gguf_type arr_type;     /* element type when type == LLM_GGUF_ARRAY */
    int64_t       n;            /* element count for arrays, else 1 */
    union {
        uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
        uint64_t u64; int64_t i64; float f32; double f64; bool b;
        llm_gguf_str str;
        const void  *arr;
    } v;
} llm_gguf_kv;

typedef struct llm_gguf llm_gguf;

/* Open and validate a GGUF file. Free with llm_gguf_close(). Errors: LLM_ERR_IO (cannot
   open/map), LLM_ERR_FORMAT (malformed, with the file and the problem), LLM_ERR_UNSUPPORTED
   (GGUF v1, big-endian files, tensor types we cannot represent), LLM_ERR_NOMEM. */
LLM_API llm_status llm_gguf_open(const char *path, llm_gguf **out_gguf);
/* The same for a GGUF image in memory, which must stay unchanged until llm_gguf_close()
   (tensors point into it; 8-byte alignment keeps their elements aligned). `name` (may
   be NULL) stands for the file in error messages. */
LLM_API llm_status llm_gguf_open_memory(const void *data, size_t n_bytes, const char *name, llm_gguf **out_gguf);
LLM_API void       llm_gguf_close(llm_gguf *g);
LLM_API uint32_t   llm_gguf_version(const llm_gguf *g);
LLM_API uint32_t   llm_gguf_alignment(const llm_gguf *g);   /* general.alignment or 32 */

/* Metadata in file order: i in [0, llm_gguf_n_kv). Entries are valid until close and
   contiguous, so llm_gguf_write(path, llm_gguf_kv_at(g, 0), llm_gguf_n_kv(g), ...) copies
   them (likewise the tensors). */
LLM_API int64_t            llm_gguf_n_kv(const llm_gguf *g);
LLM_API const llm_gguf_kv *llm_gguf_kv_at(const llm_gguf *g, int64_t i);
/* The entry for `key`, or NULL. */
LLM_API const llm_gguf_kv *llm_gguf_find_kv(const llm_gguf *g, const char *key);

/* Typed getters by key. LLM_OK; LLM_ERR_NOT_FOUND when the key is absent (out untouched,
   so preset defaults survive); LLM_ERR_FORMAT when it has another type. get_int accepts
   every integer type whose value fits in int64_t; get_f32 accepts f32 and f64. */
LLM_API llm_status llm_gguf_get_int(const llm_gguf *g, const char *key, int64_t *out);
LLM_API llm_status llm_gguf_get_f32(const llm_gguf *g, const char *key, float *out);
LLM_API llm_status llm_gguf_get_bool(const llm_gguf *g, const char *key, bool *out);
LLM_API llm_status llm_gguf_get_str(const llm_gguf *g, const char *key, const char **out);
/* An array whose elements have type arr_type: *out_data points to *out_n elements (see
   llm_gguf_kv). E.g. tokens: llm_gguf_get_arr(g, "tokenizer.ggml.tokens", LLM_GGUF_STRING,
   &n, (const void **)&strs) gives n llm_gguf_str. */
LLM_API llm_status llm_gguf_get_arr(const llm_gguf *g, const char *key, llm_gguf_type arr_type,
                                    int64_t *out_n, const void **out_data);
/* Element i of an integer array (any integer element type) as int64_t: for per-layer
   hyperparameters such as head_count_kv, which some files store as an array. */
LLM_API llm_status llm_gguf_arr_int(const llm_gguf_kv *kv, int64_t i, int64_t *out);

/* Tensors in file order; views into the mapping, valid until close. */
LLM_API int64_t           llm_gguf_n_tensors(const llm_gguf *g);
LLM_API const llm_tensor *llm_gguf_tensor(const llm_gguf *g, int64_t i);
/* Tensor by name, or NULL. */
LLM_API const llm_tensor *llm_gguf_find_tensor(const llm_gguf *g, const char *name);
/* Tensor by name with a clear LLM_ERR_NOT_FOUND message naming the file when absent. */
LLM_API llm_status        llm_gguf_get_tensor(const llm_gguf *g, const char *name, const llm_tensor **out);

/* Write a GGUF v3 file atomically (temp file + rename). kvs are written in the order given
   (keys must be unique); tensors likewise, each padded to the alignment, which is the
   u32 "general.alignment" among kvs if present (a power of two, multiple of 8), else 32.
   Tensor shapes are in our order and converted to ggml order on the way out; a row
   (the last dim) must be a whole number of blocks. The reader gives back the same
   metadata and bytes. */
LLM_API llm_status llm_gguf_write(const char *path, const llm_gguf_kv *kvs, int64_t n_kv,
                                  const llm_tensor *tensors, int64_t n_tensors);

/* Helpers to build llm_gguf_kv values for llm_gguf_write (pointers are borrowed). */
LLM_API llm_gguf_kv llm_gguf_kv_u32(const char *key, uint32_t v);
LLM_API llm_gguf_kv llm_gguf_kv_i32(const char *key, int32_t v);
LLM_API llm_gguf_kv llm_gguf_kv_f32(const char *key, float v);
LLM_API llm_gguf_kv llm_gguf_kv_bool(const char *key, bool v);
LLM_API llm_gguf_kv llm_gguf_kv_str(const char *key, const char *v);
/* An array of n elements of arr_type at data (llm_gguf_str for strings). */
LLM_API llm_gguf_kv llm_gguf_kv_arr(const char *key, llm_gguf_type arr_type, int64_t n, const void *data);

/* ---- llama.cpp block quantization ----
   The q* dtypes are llama.cpp's: blocks of 32 (q4_0 q4_1 q5_0 q5_1 q8_0) or 256 (k-quants)
   elements with f16 scales; the exact layouts are described with the code. Results are
   bit-identical to the reference implementation (ggml, and gguf-py's numpy port).
   n must be a multiple of the dtype's block_elems; quantized data must be 2-byte aligned
   (4 for q8_K), as it is in GGUF files. */

/* dst[0..n) = the values of n elements of src (f32, f16, bf16 or any q* dtype).
   LLM_ERR_UNSUPPORTED for other dtypes, LLM_ERR_INVALID_ARG when n is not whole blocks. */
LLM_API llm_status llm_dequantize(llm_dtype dtype, const void *src, float *dst, int64_t n);
/* Quantize n floats into llm_dtype_n_bytes(dtype, n) bytes at dst: f32, f16, bf16 and
   every q* dtype, with ggml's reference algorithms (no importance matrix). The k-quants
   search for their scales and are slow (about 5M elements/s). LLM_ERR_UNSUPPORTED for
   other dtypes. */
LLM_API llm_status llm_quantize(llm_dtype dtype, const float *src, void *dst, int64_t n);
/* ==== end llm_impl/07_api_gguf.h ==== */
/* ==== begin llm_impl/08_api_convert.h ==== */
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
/* ==== end llm_impl/08_api_convert.h ==== */
/* ==== begin llm_impl/08_api_generate.h ==== */
/* ---- >>generate: the decoding loop ----
   llm_generate runs a prompt through a session and samples until an end-of-sequence token,
   a stop string, max_tokens, a full context, or the callback says stop. Text arrives
   through the callback as soon as it is final: never a split UTF-8 sequence, never any
   part of a stop string. The prompt may repeat what the session already holds (a chat
   history): the common prefix is kept and only the rest is evaluated. */
typedef enum llm_stop_reason {
    LLM_STOP_EOS,            /* an end-of-sequence token (not emitted as text) */
    LLM_STOP_MAX_TOKENS,
    LLM_STOP_STRING,         /* a stop string (not emitted; nothing after it either) */
    LLM_STOP_CALLBACK,       /* the callback returned false */
    LLM_STOP_CONTEXT         /* the context is full */
} llm_stop_reason;

/* One generated token, as the callback sees it. Pointers are valid during the call. */
typedef struct llm_gen_token {
    llm_token token;
    float logprob;                   /* log-probability (see llm_sampler_sample) */
    const llm_token_logprob *top;    /* [n_top] most likely alternatives, if asked for */
    int32_t n_top;
    const char *text;                /* the text that became final with this token */
    size_t text_len;                 /* may be 0 (a partial UTF-8 sequence, a held-back stop-string prefix) */
} llm_gen_token;

/* Return false to stop generating. */
typedef bool (*llm_gen_callback)(const llm_gen_token *tok, void *user);

typedef struct llm_generate_params {
    int64_t max_tokens;                  /* <= 0: until EOS or a full context */
    llm_sampler_params sampler;          /* zero: greedy */
    const llm_token *extra_eos;          /* [n_extra_eos] more ids that end generation */
    int32_t n_extra_eos;
    const char *const *stop_strings;     /* [n_stop_strings] */
    int32_t n_stop_strings;
    bool keep_special_text;              /* emit the text of special tokens (default: skip it) */
    llm_gen_callback on_token;           /* optional */
    void *user;
    /* Speculative decoding: cheap guesses checked by the model several at a time. At
       temperature 0 the output is identical to plain decoding; above it, rejection
       sampling keeps the model's own distribution. */
    llm_session *draft;                  /* a session of a smaller model with the same vocabulary */
    int32_t prompt_lookup;               /* > 0 (and no draft): guess by finding the last n-gram
                                            (n = prompt_lookup down to 1) earlier in the context */
    int32_t n_draft;                     /* tokens guessed per step; 0 = 3 */
} llm_generate_params;

typedef struct llm_generate_result {
    int64_t n_prompt;                    /* prompt tokens given */
    int64_t n_prompt_evaluated;          /* of which evaluated (the rest was in the cache) */
    int64_t n_generated;
    double prompt_seconds, gen_seconds;  /* wall time of the prompt and of the generation */
    int64_t n_drafted, n_accepted;       /* speculative decoding: guesses made and kept */
    llm_stop_reason stop;
} llm_generate_result;

/* Generate a continuation of `prompt` (ids, e.g. from llm_tokenize of a chat template's
   output). tok may be NULL (no text, no stop strings). out may be NULL.
   Errors: those of llm_session_eval and llm_sampler_create; LLM_ERR_NOMEM. */
LLM_API llm_status llm_generate(llm_session *session, const llm_tokenizer *tok, const llm_token *prompt, int64_t n_prompt,
                                const llm_generate_params *params, llm_generate_result *out);

/* The same, collecting the text: *out_text is NUL-terminated, free it with llm_free(). */
LLM_API llm_status llm_generate_text(llm_session *session, const llm_tokenizer *tok, const llm_token *prompt, int64_t n_prompt,
                                     const llm_generate_params *params, char **out_text, llm_generate_result *out);


/* Generate n continuations at once, each in its own session with its own parameters
   (sampler, seed, stops, callback), decoding all live sequences in one batched forward pass
   per step (see llm_session_eval_batch). At temperature 0 each result equals llm_generate on
   its own. params and out (optional) have n entries. No speculative decoding here. */
LLM_API llm_status llm_generate_batch(llm_session *const *sessions, int64_t n, const llm_tokenizer *tok,
                                      const llm_token *const *prompts, const int64_t *n_prompts,
                                      const llm_generate_params *params, llm_generate_result *out);
/* ==== end llm_impl/08_api_generate.h ==== */
/* ==== begin llm_impl/08_api_quant.h ==== */
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
/* ==== end llm_impl/08_api_quant.h ==== */
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
/* #include "06_api_chat.h" (already above) */
/* #include "06_api_infer.h" (already above) */
/* #include "06_api_sample.h" (already above) */
/* #include "07_api_files.h" (already above) */
/* #include "07_api_gguf.h" (already above) */
/* #include "08_api_generate.h" (already above) */
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
#ifndef LLM_NO_ZSTD
#include <zstd.h>
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

/* Large blocks (a session's activations and KV cache) ask for 2 MB pages where the kernel
   gives them on request (transparent huge pages in "madvise" mode): a prefill walks rows
   of [tokens, 8192] activations 32 KB apart, one 4 KB page each, and the TLB misses cost
   ~3% of a 1B prefill. */
static void llm__huge_pages(void *p, size_t bytes) {
#if defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (p && hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p, (void)bytes;
#endif
}

LLM_PRIVATE void *llm__alloc(const llm_allocator *a, size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes > SIZE_MAX - LLM__ALIGN) return NULL;
    if (a && a->alloc) return a->alloc(bytes, LLM__ALIGN, a->user);
    void *p = aligned_alloc(LLM__ALIGN, (bytes + LLM__ALIGN - 1) / LLM__ALIGN * LLM__ALIGN);
    llm__huge_pages(p, bytes);
    return p;
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

/* Blobs the library hands to the caller (generated text, rendered templates) come from
   malloc, whatever allocator the objects use, so one free works for all of them. */
LLM_API void llm_free(void *ptr) { free(ptr); }

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
    bool heap;                  /* data is a malloc'd copy (a decompressed file), not a mapping */
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
    if (m->heap) free((void *)m->data);
    else if (m->data) munmap((void *)m->data, m->size);
    memset(m, 0, sizeof *m);
}

/* The bytes [p, p + n) of a mapping were copied and will not be read again: their whole pages
   leave the resident set. Were they read after all, they would fault back in from the file,
   so this never changes what is read. Heap copies are left alone. */
LLM_PRIVATE void llm__map_release(const llm__mapping *m, const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    if (m->heap || !m->data || b < m->data || n > m->size || b - m->data > (ptrdiff_t)(m->size - n)) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo = ((uintptr_t)b + page - 1) / page * page, hi = ((uintptr_t)b + n) / page * page;
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Map a file, or, when it is one zstd frame (a compressed safetensors file), decompress it
   into memory. The decompressed size must be recorded in the frame and at most max_bytes. */
LLM_PRIVATE llm_status llm__map_file_zstd(const char *path, size_t max_bytes, llm__mapping *out) {
    llm_status s = llm__map_file(path, out);
    if (s || out->size < 4 || memcmp(out->data, "\x28\xb5\x2f\xfd", 4) != 0) return s;
#ifdef LLM_NO_ZSTD
    (void)max_bytes;
    llm__unmap(out);
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: zstd-compressed, and this build has LLM_NO_ZSTD", path);
#else
    unsigned long long n = ZSTD_getFrameContentSize(out->data, out->size);
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > max_bytes) {
        llm__unmap(out);
        return llm__fail(LLM_ERR_FORMAT, "%s: zstd frame without a usable content size", path);
    }
    void *buf = malloc((size_t)n + 1);
    size_t got = buf ? ZSTD_decompress(buf, (size_t)n, out->data, out->size) : 0;
    llm__unmap(out);
    if (!buf) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory decompressing %llu bytes", path, n);
    if (ZSTD_isError(got) || got != n) { free(buf); return llm__fail(LLM_ERR_FORMAT, "%s: corrupt zstd data", path); }
    *out = (llm__mapping){ (const uint8_t *)buf, (size_t)n, true };
    return LLM_OK;
#endif
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

/* Write src's bytes to dst as one zstd frame, atomically. */
LLM_PRIVATE llm_status llm__compress_file(const char *src, const char *dst) {
#ifdef LLM_NO_ZSTD
    (void)src;
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: compression needs zstd (built with LLM_NO_ZSTD)", dst);
#else
    llm__mapping m;
    llm_status s = llm__map_file(src, &m);
    if (s) return s;
    size_t cap = ZSTD_compressBound(m.size);
    void *buf = malloc(cap);
    size_t n = buf ? ZSTD_compress(buf, cap, m.data, m.size, 3) : 0;
    llm__unmap(&m);
    if (!buf || ZSTD_isError(n)) { free(buf); return llm__fail(LLM_ERR_NOMEM, "%s: compression failed", dst); }
    llm__atomic_file af;
    s = llm__atomic_open(&af, dst);
    if (!s) s = llm__atomic_write(&af, buf, n);
    if (af.f) { llm_status c = llm__atomic_close(&af, s == LLM_OK); if (!s) s = c; }
    free(buf);
    return s;
#endif
}
/* ==== end llm_impl/11_base.c ==== */
/* ==== begin llm_impl/12_threads.c ==== */
/* ---- >>threads: a small persistent pool ----
   One primitive: llm__parallel_for(pool, fn, ctx) runs fn(ctx, ith, nth) once for each ith =
   0..nth-1 (nth = the pool's size) and returns when all are done. Work is split the ggml
   way: each task derives its own slice (rows of a matmul, heads of attention) from ith/nth.
   Tasks are claimed, not assigned: the caller and the workers take the next ith from one
   atomic counter, so a worker the OS has not scheduled yet (a loaded machine, more threads
   than cores) delays nothing: the others run its task. Which thread runs a task never
   changes its result. The counter carries the call's generation in its high half, so a late
   worker can never claim a task of the next call with the previous call's function.
   Workers spin briefly between calls (a decode step issues ~10 calls per layer, too many for
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
    _Atomic uint64_t state;        /* generation << 32 | next task to claim */
    atomic_int n_done;             /* tasks finished in the current generation */
    atomic_int n_sleeping;         /* workers waiting on `wake` */
    atomic_bool stop;
    uint32_t generation;           /* the caller's copy */
    llm__task_fn fn;               /* the current call, published before its generation */
    void *ctx;
};

static inline void llm__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claim the next task of generation gen; false when that call has none left (or is over). */
static bool llm__claim(llm_pool *p, uint32_t gen, int *out_ith) {
    uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(s >> 32) != gen || (int)(uint32_t)s >= p->n_threads) return false;
        if (atomic_compare_exchange_weak_explicit(&p->state, &s, s + 1, memory_order_acq_rel, memory_order_acquire)) {
            *out_ith = (int)(uint32_t)s;
            return true;
        }
    }
}

/* Run tasks of generation gen until none is left. */
static void llm__run_tasks(llm_pool *p, uint32_t gen, llm__task_fn fn, void *ctx) {
    int ith;
    while (llm__claim(p, gen, &ith)) {
        fn(ctx, ith, p->n_threads);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
    }
}

static void *llm__worker(void *arg) {
    llm_pool *p = (llm_pool *)arg;
    uint32_t seen = 0;
#define LLM__GEN() ((uint32_t)(atomic_load(&p->state) >> 32))
    for (;;) {
        for (int spin = 0; spin < 20000 && LLM__GEN() == seen && !atomic_load(&p->stop); spin++) llm__cpu_relax();
        if (LLM__GEN() == seen && !atomic_load(&p->stop)) {
            atomic_fetch_add(&p->n_sleeping, 1);   /* seq_cst: pairs with the caller's check */
            pthread_mutex_lock(&p->mu);
            while (LLM__GEN() == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
            atomic_fetch_sub(&p->n_sleeping, 1);
        }
        if (atomic_load(&p->stop)) break;
        seen = LLM__GEN();
        llm__run_tasks(p, seen, p->fn, p->ctx);   /* fn, ctx may be a later call's: claim refuses then */
    }
#undef LLM__GEN
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
    if (p) p->threads = (pthread_t *)calloc((size_t)n_threads, sizeof *p->threads);
    if (!p || !p->threads) {
        free(p);
        return llm__fail(LLM_ERR_NOMEM, "thread pool: out of memory");
    }
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, llm__worker, p) != 0) {
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
    free(p);
}

LLM_API int llm_pool_n_threads(const llm_pool *p) { return p ? p->n_threads : 1; }

LLM_PRIVATE void llm__parallel_for(llm_pool *p, llm__task_fn fn, void *ctx) {
    if (!p || p->n_threads == 1) { fn(ctx, 0, 1); return; }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    uint32_t gen = ++p->generation;
    atomic_store(&p->state, (uint64_t)gen << 32);   /* seq_cst: publishes fn, ctx, n_done */
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    llm__run_tasks(p, gen, fn, ctx);
    /* wait for the tasks workers claimed; yield when that takes long (a worker preempted, or
       an emulator such as qemu-user that runs one thread while another spins) */
    for (int spin = 0; atomic_load_explicit(&p->n_done, memory_order_acquire) != p->n_threads; spin++)
        if (spin < 4096) llm__cpu_relax();
        else sched_yield();
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

/* Which SIMD kernels this build compiles. 10_internal.h sets LLM__AVX2 when the whole build
   targets AVX2+FMA (-march=native, -mavx2 -mfma -mf16c). LLM_RUNTIME_DISPATCH keeps the build
   portable (plain x86-64) and compiles the AVX2 kernels alone for that target; 24_kernels.c
   picks them at start-up after a CPUID check. LLM__AVX2_FN marks those functions. */
#if !defined(LLM__AVX2) && defined(LLM_RUNTIME_DISPATCH) && defined(__x86_64__) && \
    (defined(__GNUC__) || defined(__clang__)) && !defined(LLM_NO_SIMD) && !defined(LLM_NO_AVX2)
#define LLM__AVX2 1
#define LLM__AVX2_RUNTIME 1
#include <immintrin.h>
#define LLM__AVX2_FN __attribute__((target("avx2,fma,f16c")))
#else
#define LLM__AVX2_FN
#endif
/* A whole section of AVX2 code (23_kernels_ggml.c, 27_kernels_mlx.c) takes the same target,
   helpers included, between LLM__AVX2_BEGIN and LLM__AVX2_END. */
#if defined(LLM__AVX2_RUNTIME) && defined(__clang__)
#define LLM__AVX2_BEGIN _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c\"))), apply_to = function)")
#define LLM__AVX2_END _Pragma("clang attribute pop")
#elif defined(LLM__AVX2_RUNTIME)
#define LLM__AVX2_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c\")")
#define LLM__AVX2_END _Pragma("GCC pop_options")
#else
#define LLM__AVX2_BEGIN
#define LLM__AVX2_END
#endif
/* AVX512-BF16 (Zen 4, Sapphire Rapids and later) when the whole build targets it
   (-march=native on such a CPU): bf16 prefill on pair dot products (22_kernels_avx512.c).
   LLM_NO_AVX512 leaves it out: bf16 prefill then keeps f32 activations. */
#if defined(LLM__AVX2) && !defined(LLM__AVX2_RUNTIME) && defined(__AVX512F__) && defined(__AVX512BF16__) && \
    !defined(LLM_NO_AVX512)
#define LLM__AVX512BF16 1
#endif
/* AVX512-VNNI (same CPUs, and Ice Lake): vpdpbusd does maddubs + madd + add in one
   instruction, without the int16 intermediate; the integer kernels use it where present. */
#if defined(LLM__AVX2) && !defined(LLM__AVX2_RUNTIME) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && \
    !defined(LLM_NO_AVX512)
#define LLM__AVX512VNNI 1
#endif
#if defined(__aarch64__) && !defined(LLM_NO_SIMD) && !defined(LLM_NO_NEON)
#define LLM__NEON 1
#include <arm_neon.h>
#endif
#if defined(__GNUC__) || defined(__clang__)
#define LLM__INLINE inline __attribute__((always_inline))   /* kernel bodies specialised per call */
#else
#define LLM__INLINE inline
#endif

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

/* Attention's two halves over a block of n cached rows, for nq queries at once (the query
   heads of one kv head, consecutive positions): scores S[g*lds + j] = dot(q[g], K[j]) (K: [n, k]),
   and the weighted sums out[g][0..d) += sum_j A[g*lda + j] V[j] (V: [n, d]). The SIMD
   versions share each load of K and V between queries; every output is computed by the
   same operations, in the same order, whatever nq is. */
static void llm__dots_f32_scalar(float *S, int64_t lds, const float *const *q, int nq, const float *K, int64_t k, int64_t n) {
    for (int g = 0; g < nq; g++)
        for (int64_t j = 0; j < n; j++) S[g * lds + j] = llm__dot_f32_scalar(q[g], K + j * k, k);
}

static void llm__axpys_f32_scalar(float *const *out, int nq, const float *A, int64_t lda, const float *V, int64_t n, int64_t d) {
    for (int g = 0; g < nq; g++)
        for (int64_t j = 0; j < n; j++) llm__axpy_f32_scalar(out[g], A[g * lda + j], V + j * d, d);
}

/* y[i] *= s. */
static void llm__scale_f32_scalar(float *y, float s, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] *= s;
}

/* x[i] = exp(x[i] - m); returns the sum of the results (softmax numerators). */
static float llm__exp_sum_f32_scalar(float *x, int64_t n, float m) {
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i] = expf(x[i] - m);
    return sum;
}

/* ---- activations ---- */
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

/* The gated MLP's middle step in one pass: y[i] *= act(gate[i]) (gate NULL: y[i] = act(y[i])). */
static void llm__act_mul_scalar(llm__act act, float *y, const float *gate, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = gate ? y[i] * llm__activate(act, gate[i]) : llm__activate(act, y[i]);
}
/* ==== end llm_impl/21_kernels_scalar.c ==== */
/* ==== begin llm_impl/22_kernels_avx2.c ==== */
/* ---- >>kernels_avx2: AVX2 + FMA + F16C versions of the scalar kernels ----
   Same contracts as 21_kernels_scalar.c. Two matmul shapes:
   - decode (one token): y[r] = dot(x, W[r]), memory-bound; 4 rows share each load of x and
     keep 2 accumulators each, so 8 FMA chains hide the FMA latency.
   - prefill (several tokens): a GEMM in the BLIS way. A panel of 16 weight rows x KC columns is
     widened to f32 and transposed once into P[KC][16] (32 KB); then a 6-token x 16-row
     tile of y lives in 12 registers while k runs: per k, 2 loads of P, 6 broadcasts of x,
     12 FMAs. Every output is summed in plain k order, whatever the tile it falls in, so
     results do not depend on how rows are split between threads.
   LLM_RUNTIME_DISPATCH compiles these with a target attribute (the rest of the build may be
   plain x86-64) and 24_kernels.c picks them after a CPUID check. */
/* #include "10_internal.h" (already above) */

#ifdef LLM__AVX2
static LLM__AVX2_FN float llm__hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Load 8 weights of any float dtype as f32. */
static LLM__AVX2_FN __m256 llm__load8_f32(const float *p) { return _mm256_loadu_ps(p); }
static LLM__AVX2_FN __m256 llm__load8_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static LLM__AVX2_FN __m256 llm__load8_bf16(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
static inline float llm__id_f32(float v) { return v; }

static LLM__AVX2_FN float llm__dot_f32_avx2(const float *a, const float *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    if (i + 8 <= n) { acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0); i += 8; }
    float s = llm__hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- decode: nr <= 4 rows of W against one x; the same sum order for any nr ----
   The 4 rows come from the four quarters of the thread's range, so that the loads form four
   sequential streams far apart: the hardware prefetcher follows each one, and four misses are
   in flight instead of one. Four neighbouring rows look like a single stream to it, and one
   core then reads 15 GB/s instead of 28 (768-wide f16 rows, 100 MB, tests/bench/membw.c).
   The 8 accumulators are named variables (an array would live on the stack at -O2). */
#define LLM__MV_FMA16(r, LOAD)                                                                         \
    if (nr > r) {                                                                                      \
        a##r##0 = _mm256_fmadd_ps(x0, LOAD(w + r * step + i), a##r##0);                                \
        a##r##1 = _mm256_fmadd_ps(x1, LOAD(w + r * step + i + 8), a##r##1);                            \
    }
#define LLM__MV_FMA8(r, LOAD) if (nr > r) a##r##0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), LOAD(w + r * step + i), a##r##0);
#define LLM__MV_OUT(r, SCALAR)                                                                         \
    if (nr > r) {                                                                                      \
        float s = llm__hsum256(_mm256_add_ps(a##r##0, a##r##1));                                       \
        for (int64_t j = i; j < k; j++) s += x[j] * SCALAR(w[r * step + j]);                           \
        y[r * ystep] = s;                                                                              \
    }
/* NAME##_rows: y[r * ystep] = dot(x, w + r * step) for r < nr. */
#define LLM__MATVEC_AVX2(NAME, WT, LOAD, SCALAR)                                                       \
    static LLM__AVX2_FN LLM__INLINE void NAME##_rows(float *y, int64_t ystep, const float *x, const WT *w, int64_t step, \
                                                     int64_t k, int nr) {                              \
        __m256 z = _mm256_setzero_ps(), a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z; \
        int64_t i = 0;                                                                                 \
        for (; i + 16 <= k; i += 16) {                                                                 \
            __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);                       \
            LLM__MV_FMA16(0, LOAD) LLM__MV_FMA16(1, LOAD) LLM__MV_FMA16(2, LOAD) LLM__MV_FMA16(3, LOAD) \
        }                                                                                              \
        for (; i + 8 <= k; i += 8) { LLM__MV_FMA8(0, LOAD) LLM__MV_FMA8(1, LOAD) LLM__MV_FMA8(2, LOAD) LLM__MV_FMA8(3, LOAD) } \
        LLM__MV_OUT(0, SCALAR) LLM__MV_OUT(1, SCALAR) LLM__MV_OUT(2, SCALAR) LLM__MV_OUT(3, SCALAR)    \
    }                                                                                                  \
    static LLM__AVX2_FN void NAME(float *y, const float *x, const WT *w, int64_t k, int64_t r0, int64_t r1) { \
        int64_t q = (r1 - r0) / 4, r;                                                                  \
        for (r = r0; r < r0 + q; r++) NAME##_rows(y + r, q, x, w + r * k, q * k, k, 4);                \
        for (r = r0 + 4 * q; r < r1; r++) NAME##_rows(y + r, 0, x, w + r * k, 0, k, 1);                \
    }
LLM__MATVEC_AVX2(llm__matvec_f32_avx2, float, llm__load8_f32, llm__id_f32)
LLM__MATVEC_AVX2(llm__matvec_f16_avx2, uint16_t, llm__load8_f16, llm__f16_to_f32)
LLM__MATVEC_AVX2(llm__matvec_bf16_avx2, uint16_t, llm__load8_bf16, llm__bf16_to_f32)
#undef LLM__MATVEC_AVX2
#undef LLM__MV_FMA16
#undef LLM__MV_FMA8
#undef LLM__MV_OUT

/* ---- prefill: packing ---- */
#define LLM__MR 16     /* weight rows per panel: two 8-lane vectors */
#define LLM__NR 6      /* tokens per register tile: 6 x 2 accumulators + 2 weights + 1 broadcast */
#define LLM__KC 512    /* columns per packed panel: 16 x 512 floats = 32 KB (L1/L2); fewer
                          passes over y than 256 (prefill 1B f16 ~4% faster), more than 128
                          (~15% slower: y [T, n] is re-read per KC block) */

/* Transpose 8 rows of 8 floats in place (row c of the result = column c of the input). */
static LLM__AVX2_FN void llm__transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* P[p*16 + j] = W[j][p] as f32 for j < nr rows (W: row stride k), p < kc; rows >= nr are 0.
   The 16 rows are read a KB or so each, too little for the hardware prefetcher to ramp up:
   llm__panel_prefetch asks for them while the previous panel computes. */
#define LLM__PACK_AVX2(NAME, WT, LOAD, SCALAR)                                                         \
    static LLM__AVX2_FN void NAME(float *P, const WT *w, int64_t k, int nr, int64_t kc) {              \
        int64_t p = 0;                                                                                 \
        for (; p + 8 <= kc; p += 8)                                                                    \
            for (int h = 0; h < 2; h++) {                                                              \
                __m256 r[8];                                                                           \
                for (int j = 0; j < 8; j++) r[j] = h * 8 + j < nr ? LOAD(w + (h * 8 + j) * k + p) : _mm256_setzero_ps(); \
                llm__transpose8(r);                                                                    \
                for (int c = 0; c < 8; c++) _mm256_storeu_ps(P + (p + c) * LLM__MR + h * 8, r[c]);     \
            }                                                                                          \
        for (; p < kc; p++)                                                                            \
            for (int j = 0; j < LLM__MR; j++) P[p * LLM__MR + j] = j < nr ? SCALAR(w[j * k + p]) : 0.0f; \
    }
LLM__PACK_AVX2(llm__pack_f32_avx2, float, llm__load8_f32, llm__id_f32)
LLM__PACK_AVX2(llm__pack_f16_avx2, uint16_t, llm__load8_f16, llm__f16_to_f32)
LLM__PACK_AVX2(llm__pack_bf16_avx2, uint16_t, llm__load8_bf16, llm__bf16_to_f32)
#undef LLM__PACK_AVX2

/* ---- prefill: the register tile ----
   y[t][0..nr) (+)= sum_p P[p][0..nr) * x[t][p] for nt <= 6 tokens (x: row stride ldx, y: row
   stride ldy). add: continue the partial sums already in y (the previous KC block). The 12
   accumulators are named variables, not an array, so that they stay in registers; with nt a
   constant the `if (nt > j)` tests vanish. */
#define LLM__TILE_LOAD(j)                                                                              \
    if (nt > j) {                                                                                      \
        const float *src = y + j * ldy;                                                                \
        if (nr < LLM__MR) { memset(tmp, 0, sizeof tmp); memcpy(tmp, src, (size_t)nr * sizeof(float)); src = tmp; } \
        c##j##0 = add ? _mm256_loadu_ps(src) : _mm256_setzero_ps();                                    \
        c##j##1 = add ? _mm256_loadu_ps(src + 8) : _mm256_setzero_ps();                                \
    }
#define LLM__TILE_FMA(j)                                                                               \
    if (nt > j) {                                                                                      \
        __m256 b = _mm256_broadcast_ss(x + j * ldx + p);                                               \
        c##j##0 = _mm256_fmadd_ps(w0, b, c##j##0);                                                     \
        c##j##1 = _mm256_fmadd_ps(w1, b, c##j##1);                                                     \
    }
#define LLM__TILE_STORE(j)                                                                             \
    if (nt > j) {                                                                                      \
        float *dst = nr < LLM__MR ? tmp : y + j * ldy;                                                 \
        _mm256_storeu_ps(dst, c##j##0);                                                                \
        _mm256_storeu_ps(dst + 8, c##j##1);                                                            \
        if (nr < LLM__MR) memcpy(y + j * ldy, tmp, (size_t)nr * sizeof(float));                        \
    }
static LLM__AVX2_FN LLM__INLINE void llm__tile_avx2(const float *P, int64_t kc, const float *x, int64_t ldx, float *y,
                                                   int64_t ldy, int nt, int nr, bool add) {
    __m256 z = _mm256_setzero_ps(), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z,
           c41 = z, c50 = z, c51 = z;
    float tmp[LLM__MR];
    LLM__TILE_LOAD(0) LLM__TILE_LOAD(1) LLM__TILE_LOAD(2) LLM__TILE_LOAD(3) LLM__TILE_LOAD(4) LLM__TILE_LOAD(5)
    for (int64_t p = 0; p < kc; p++) {
        __m256 w0 = _mm256_loadu_ps(P + p * LLM__MR), w1 = _mm256_loadu_ps(P + p * LLM__MR + 8);
        LLM__TILE_FMA(0) LLM__TILE_FMA(1) LLM__TILE_FMA(2) LLM__TILE_FMA(3) LLM__TILE_FMA(4) LLM__TILE_FMA(5)
    }
    LLM__TILE_STORE(0) LLM__TILE_STORE(1) LLM__TILE_STORE(2) LLM__TILE_STORE(3) LLM__TILE_STORE(4) LLM__TILE_STORE(5)
}
#undef LLM__TILE_LOAD
#undef LLM__TILE_FMA
#undef LLM__TILE_STORE

/* Dispatch on the token count so that each tile width is compiled with its loops unrolled. */
static LLM__AVX2_FN void llm__tile_any_avx2(const float *P, int64_t kc, const float *x, int64_t ldx, float *y, int64_t ldy,
                                           int nt, int nr, bool add) {
    switch (nt) {
    case 6: llm__tile_avx2(P, kc, x, ldx, y, ldy, 6, nr, add); break;
    case 5: llm__tile_avx2(P, kc, x, ldx, y, ldy, 5, nr, add); break;
    case 4: llm__tile_avx2(P, kc, x, ldx, y, ldy, 4, nr, add); break;
    case 3: llm__tile_avx2(P, kc, x, ldx, y, ldy, 3, nr, add); break;
    case 2: llm__tile_avx2(P, kc, x, ldx, y, ldy, 2, nr, add); break;
    default: llm__tile_avx2(P, kc, x, ldx, y, ldy, 1, nr, add); break;
    }
}

/* Ask for the next tile's outputs (6 rows of y, ldy apart: no hardware prefetcher follows
   that) and the start of its 6 rows of x while this tile computes. */
static LLM__AVX2_FN LLM__INLINE void llm__tile_prefetch(const llm__mm_args *a, int64_t t, int64_t r, int64_t k0) {
    for (int64_t j = t; j < LLM__MIN(t + LLM__NR, a->n_tok); j++) {
        _mm_prefetch((const char *)(a->y + j * a->ldy + r), _MM_HINT_T0);
        _mm_prefetch((const char *)(a->y + j * a->ldy + r + LLM__MR - 1), _MM_HINT_T0);
        _mm_prefetch((const char *)(a->x + j * a->k + k0), _MM_HINT_T0);
    }
}

/* The next panel's weights (rows rows, row_bytes apart, kc_bytes each), asked for a few lines
   per tile during the panel's last 32 tiles. Asked for earlier, they are gone again by the
   time the packing reads them (the activations streaming through L2 evict them) and the
   packing waits on memory: a tenth of a 1B f16 prefill. More lines per tile fill the miss
   buffers, and the tile's own prefetches wait. */
#define LLM__PANEL_TILES 32
static LLM__AVX2_FN LLM__INLINE void llm__panel_prefetch(const void *next, int rows, int64_t row_bytes, int64_t kc_bytes,
                                                        int64_t tile, int64_t n_tiles) {
    int64_t L = LLM__MIN(n_tiles, LLM__PANEL_TILES), i = tile - (n_tiles - L);
    if (i < 0) return;
    int64_t per_row = (kc_bytes + 63) / 64, n = rows * per_row;
    for (int64_t l = n * i / L; l < n * (i + 1) / L; l++)
        _mm_prefetch((const char *)next + l / per_row * row_bytes + l % per_row * 64, _MM_HINT_T0);
}
#undef LLM__PANEL_TILES

/* The matmul kernels: one token -> matvec; more -> for each KC block of k, for each 16-row
   panel: pack it, run every token tile (prefetching the next tile's y and x). */
#define LLM__MATMUL_AVX2(NAME, WT, MATVEC, PACK)                                                       \
    static LLM__AVX2_FN void NAME(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {     \
        (void)scratch;                                                                                 \
        const WT *w = (const WT *)a->w;                                                                \
        int64_t k = a->k;                                                                              \
        if (a->n_tok == 1) { MATVEC(a->y, a->x, w, k, r0, r1); return; }                               \
        _Alignas(64) float P[LLM__KC * LLM__MR];                                                       \
        for (int64_t k0 = 0; k0 < k; k0 += LLM__KC) {                                                  \
            int64_t kc = LLM__MIN(LLM__KC, k - k0);                                                    \
            for (int64_t r = r0; r < r1; r += LLM__MR) {                                               \
                int nr = (int)LLM__MIN(LLM__MR, r1 - r);                                               \
                PACK(P, w + r * k + k0, k, nr, kc);                                                    \
                for (int64_t t = 0; t < a->n_tok; t += LLM__NR) {                                      \
                    llm__tile_prefetch(a, t + LLM__NR, r, k0);                                         \
                    llm__panel_prefetch(w + (r + LLM__MR) * k + k0, LLM__MR, k * (int64_t)sizeof(WT), kc * (int64_t)sizeof(WT), \
                                        t / LLM__NR, (a->n_tok + LLM__NR - 1) / LLM__NR);              \
                    llm__tile_any_avx2(P, kc, a->x + t * k + k0, k, a->y + t * a->ldy + r, a->ldy,     \
                                       (int)LLM__MIN(LLM__NR, a->n_tok - t), nr, k0 > 0);              \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }
LLM__MATMUL_AVX2(llm__matmul_f32_avx2, float, llm__matvec_f32_avx2, llm__pack_f32_avx2)
LLM__MATMUL_AVX2(llm__matmul_f16_avx2, uint16_t, llm__matvec_f16_avx2, llm__pack_f16_avx2)
LLM__MATMUL_AVX2(llm__matmul_bf16_avx2, uint16_t, llm__matvec_bf16_avx2, llm__pack_bf16_avx2)
#undef LLM__MATMUL_AVX2

static LLM__AVX2_FN void llm__axpy_f32_avx2(float *y, float alpha, const float *x, int64_t n) {
    __m256 va = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += alpha * x[i];
}
/* Scores: each query against the block's rows, 4 rows per pass (the block is in L1). */
static LLM__AVX2_FN void llm__dots_f32_avx2(float *S, int64_t lds, const float *const *q, int nq, const float *K, int64_t k, int64_t n) {
    for (int g = 0; g < nq; g++) llm__matvec_f32_avx2(S + g * lds, q[g], K, k, 0, n);
}

/* Weighted sums: 16 outputs of 4 queries stay in 8 registers while j runs; per row j, 2 loads
   of V serve 8 FMAs. Each output is a chain of FMAs in j order, as in llm__axpy_f32_avx2. */
#define LLM__AX_LOAD(g) if (ng > g) { y##g##0 = _mm256_loadu_ps(out[g] + i); y##g##1 = _mm256_loadu_ps(out[g] + i + 8); }
#define LLM__AX_FMA(g)                                                                                 \
    if (ng > g) {                                                                                      \
        __m256 a = _mm256_broadcast_ss(A + g * lda + j);                                               \
        y##g##0 = _mm256_fmadd_ps(a, v0, y##g##0);                                                     \
        y##g##1 = _mm256_fmadd_ps(a, v1, y##g##1);                                                     \
    }
#define LLM__AX_STORE(g) if (ng > g) { _mm256_storeu_ps(out[g] + i, y##g##0); _mm256_storeu_ps(out[g] + i + 8, y##g##1); }
static LLM__AVX2_FN LLM__INLINE void llm__axpys16_avx2(float *const *out, int ng, const float *A, int64_t lda, const float *V,
                                                      int64_t n, int64_t d, int64_t i) {
    __m256 z = _mm256_setzero_ps(), y00 = z, y01 = z, y10 = z, y11 = z, y20 = z, y21 = z, y30 = z, y31 = z;
    LLM__AX_LOAD(0) LLM__AX_LOAD(1) LLM__AX_LOAD(2) LLM__AX_LOAD(3)
    for (int64_t j = 0; j < n; j++) {
        __m256 v0 = _mm256_loadu_ps(V + j * d + i), v1 = _mm256_loadu_ps(V + j * d + i + 8);
        LLM__AX_FMA(0) LLM__AX_FMA(1) LLM__AX_FMA(2) LLM__AX_FMA(3)
    }
    LLM__AX_STORE(0) LLM__AX_STORE(1) LLM__AX_STORE(2) LLM__AX_STORE(3)
}
#undef LLM__AX_LOAD
#undef LLM__AX_FMA
#undef LLM__AX_STORE

static LLM__AVX2_FN void llm__axpys_f32_avx2(float *const *out, int nq, const float *A, int64_t lda, const float *V, int64_t n, int64_t d) {
    for (int g0 = 0; g0 < nq; g0 += 4) {
        int ng = nq - g0 < 4 ? nq - g0 : 4;
        const float *Ag = A + g0 * lda;
        int64_t i = 0;
        for (; i + 16 <= d; i += 16) switch (ng) {   /* each query count compiled with its tests folded */
            case 4: llm__axpys16_avx2(out + g0, 4, Ag, lda, V, n, d, i); break;
            case 3: llm__axpys16_avx2(out + g0, 3, Ag, lda, V, n, d, i); break;
            case 2: llm__axpys16_avx2(out + g0, 2, Ag, lda, V, n, d, i); break;
            default: llm__axpys16_avx2(out + g0, 1, Ag, lda, V, n, d, i); break;
            }
        for (int g = 0; i < d && g < ng; g++)
            for (int64_t j = 0; j < n; j++) llm__axpy_f32_avx2(out[g0 + g] + i, Ag[g * lda + j], V + j * d + i, d - i);
    }
}

static LLM__AVX2_FN void llm__scale_f32_avx2(float *y, float sc, int64_t n) {
    __m256 vs = _mm256_set1_ps(sc);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(vs, _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] *= sc;
}

/* exp(x) for 8 lanes, within 2 ulp of expf (Cephes' expf): x = n ln2 + r with |r| <= ln2/2,
   exp(r) by a degree-6 polynomial, 2^n built in the exponent bits. Below ln(FLT_MIN) =
   -87.3365 the result is 0 (no denormals). */
static LLM__AVX2_FN __m256 llm__exp8_avx2(__m256 x) {
    __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.37f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

static LLM__AVX2_FN float llm__exp_sum_f32_avx2(float *x, int64_t n, float m) {
    __m256 vm = _mm256_set1_ps(m), acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = llm__exp8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = llm__hsum256(acc);
    for (; i < n; i++) sum += x[i] = expf(x[i] - m);
    return sum;
}

/* SiLU and tanh-GELU in 8 lanes (the others fall back to the scalar loop):
   silu(g) = g / (1 + exp(-g)); gelu_tanh(g) = g * sigmoid(2u), u = sqrt(2/pi) (g + 0.044715 g^3),
   since 0.5 (1 + tanh(u)) = sigmoid(2u). */
static LLM__AVX2_FN void llm__act_mul_avx2(llm__act act, float *y, const float *gate, int64_t n) {
    if (act != LLM__ACT_SILU && act != LLM__ACT_GELU_TANH) { llm__act_mul_scalar(act, y, gate, n); return; }
    __m256 one = _mm256_set1_ps(1.0f), c1 = _mm256_set1_ps(-2.0f * 0.79788456080286536f), c3 = _mm256_set1_ps(0.044715f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate ? gate + i : y + i);
        __m256 z = act == LLM__ACT_SILU ? _mm256_sub_ps(_mm256_setzero_ps(), g)
                                        : _mm256_mul_ps(c1, _mm256_fmadd_ps(_mm256_mul_ps(c3, g), _mm256_mul_ps(g, g), g));
        __m256 a = _mm256_div_ps(g, _mm256_add_ps(one, llm__exp8_avx2(z)));
        _mm256_storeu_ps(y + i, gate ? _mm256_mul_ps(_mm256_loadu_ps(y + i), a) : a);
    }
    llm__act_mul_scalar(act, y + i, gate ? gate + i : NULL, n - i);
}
#endif
/* ==== end llm_impl/22_kernels_avx2.c ==== */
/* ==== begin llm_impl/22_kernels_avx512.c ==== */
/* ---- >>kernels_avx512: bf16 prefill on AVX512-BF16 pair dot products ----
   vdpbf16ps multiplies 32 pairs of bf16 and adds each pair into one of 16 f32 sums: twice
   the multiply-adds per instruction of an f32 FMA, and the weights need no widening. Prefill
   with bf16 weights is compute-bound, so there the activations are rounded to bf16 once per
   matmul (llm__bf16_prepare; llama.cpp does the same, and PyTorch and MLX run bf16 models
   in bf16 throughout: ~3 significant digits per activation, sums stay f32). Decoding keeps
   the exact f32 matvec of 22_kernels_avx2.c: it is memory-bound, rounding would buy nothing.

   The GEMM is the AVX2 one with pairs for elements: a panel of 32 weight rows x KC columns
   is packed as P[KC/2][32] dwords (a dword is a row's pair k, k+1 as it lies in memory, so
   packing is a plain 8x8 dword transpose), and a 32-row x 8-token tile of y lives in 16
   zmm registers: per pair, 2 loads of P, 8 broadcasts of x, 16 pair dot products.
   Each output is summed pair by pair in k order whatever the tile or thread it falls in. */
/* #include "10_internal.h" (already above) */

#ifdef LLM__AVX512BF16
#define LLM__BMR 32     /* weight rows per panel: two 16-lane vectors */
#define LLM__BNR 8      /* tokens per tile: 8 x 2 accumulators */
#define LLM__BKC 512    /* columns per panel: 256 pairs x 32 rows x 4 bytes = 32 KB */

/* What the kernel gets as a->w (llm__matmul wraps the weights). */
typedef struct llm__bf16_mm {
    const uint16_t *w;        /* [n_rows, k] bf16 weights */
    const uint32_t *x;        /* [n_tok, ldx] the activations as pairs of bf16, zero-padded; NULL: decoding */
    int64_t ldx;
} llm__bf16_mm;

typedef struct {
    const float *x;
    int64_t n_tok, k, ldx;
    uint16_t *out;
} llm__bf16_prep_task;

static void llm__bf16_prep_worker(void *ctx, int ith, int nth) {
    const llm__bf16_prep_task *p = (const llm__bf16_prep_task *)ctx;
    int64_t t0, t1;
    llm__split(p->n_tok, ith, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
        const float *x = p->x + t * p->k;
        uint16_t *o = p->out + t * 2 * p->ldx;
        int64_t i = 0;
        for (; i + 16 <= p->k; i += 16)   /* round to nearest even, as llm__f32_to_bf16 */
            _mm256_storeu_si256((__m256i *)(o + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + i)));
        for (; i < p->k; i++) o[i] = llm__f32_to_bf16(x[i]);
        for (; i < 2 * p->ldx; i++) o[i] = 0;
    }
}

/* The kernel's a->w for x [n_tok, k] and bf16 weights w. round: x rounded to bf16 into act
   (n_tok * (2 k + 64) bytes at most), the threads splitting the tokens; else (decoding, or
   llm_set_exact_bf16) the kernel runs the f32 one. */
LLM_PRIVATE llm__bf16_mm llm__bf16_prepare(llm_pool *pool, const float *x, int64_t n_tok, int64_t k, void *act,
                                          const void *w, bool round) {
    llm__bf16_mm m = { (const uint16_t *)w, NULL, (k + 31) / 32 * 16 };   /* rows of whole cache lines */
    if (round) {
        llm__bf16_prep_task p = { x, n_tok, k, m.ldx, (uint16_t *)act };
        llm__parallel_for(pool, llm__bf16_prep_worker, &p);
        m.x = (const uint32_t *)act;
    }
    return m;
}

/* P[q*32 + j] = pair q of row j (W: row stride k bf16) for q < (kc+1)/2, j < nr; rows >= nr,
   and the half pair past an odd kc, are 0. */
static void llm__pack_bf16_pairs(uint32_t *P, const uint16_t *w, int64_t k, int nr, int64_t kc) {
    int64_t q = 0;
    for (; q + 8 <= kc / 2; q += 8)
        for (int h = 0; h < 4; h++) {
            __m256 r[8];   /* float vectors only to reuse llm__transpose8: the bits just move */
            for (int j = 0; j < 8; j++)
                r[j] = h * 8 + j < nr ? _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(w + (h * 8 + j) * k + 2 * q)))
                                      : _mm256_setzero_ps();
            llm__transpose8(r);
            for (int c = 0; c < 8; c++) _mm256_storeu_si256((__m256i *)(P + (q + c) * LLM__BMR + h * 8), _mm256_castps_si256(r[c]));
        }
    for (; q < (kc + 1) / 2; q++)
        for (int j = 0; j < LLM__BMR; j++) {
            uint32_t lo = j < nr ? w[j * k + 2 * q] : 0, hi = j < nr && 2 * q + 1 < kc ? w[j * k + 2 * q + 1] : 0;
            P[q * LLM__BMR + j] = lo | hi << 16;
        }
}

/* y[t][0..nr) (+)= sum over pairs q < np of P[q][0..nr) . x[t][q], t < nt <= 8 (x: ldx
   pairs apart); masks keep a partial panel's stores inside its rows. */
#define LLM__BT_LOAD(j)                                                                                \
    if (nt > j) {                                                                                      \
        c##j##0 = add ? _mm512_maskz_loadu_ps(m0, y + j * ldy) : z;                                    \
        c##j##1 = add ? _mm512_maskz_loadu_ps(m1, y + j * ldy + 16) : z;                               \
    }
#define LLM__BT_DOT(j)                                                                                 \
    if (nt > j) {                                                                                      \
        __m512bh b = (__m512bh)_mm512_set1_epi32((int)x[j * ldx + q]);                                 \
        c##j##0 = _mm512_dpbf16_ps(c##j##0, w0, b);                                                    \
        c##j##1 = _mm512_dpbf16_ps(c##j##1, w1, b);                                                    \
    }
#define LLM__BT_STORE(j)                                                                               \
    if (nt > j) {                                                                                      \
        _mm512_mask_storeu_ps(y + j * ldy, m0, c##j##0);                                               \
        _mm512_mask_storeu_ps(y + j * ldy + 16, m1, c##j##1);                                          \
    }
static LLM__INLINE void llm__tile_bf16_avx512(const uint32_t *P, int64_t np, const uint32_t *x, int64_t ldx, float *y,
                                             int64_t ldy, int nt, int nr, bool add) {
    __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1), m1 = (__mmask16)(nr <= 16 ? 0 : (1u << (nr - 16)) - 1);
    __m512 z = _mm512_setzero_ps(), c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z,
           c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
    LLM__BT_LOAD(0) LLM__BT_LOAD(1) LLM__BT_LOAD(2) LLM__BT_LOAD(3) LLM__BT_LOAD(4) LLM__BT_LOAD(5) LLM__BT_LOAD(6) LLM__BT_LOAD(7)
    for (int64_t q = 0; q < np; q++) {
        __m512bh w0 = (__m512bh)_mm512_loadu_si512(P + q * LLM__BMR), w1 = (__m512bh)_mm512_loadu_si512(P + q * LLM__BMR + 16);
        LLM__BT_DOT(0) LLM__BT_DOT(1) LLM__BT_DOT(2) LLM__BT_DOT(3) LLM__BT_DOT(4) LLM__BT_DOT(5) LLM__BT_DOT(6) LLM__BT_DOT(7)
    }
    LLM__BT_STORE(0) LLM__BT_STORE(1) LLM__BT_STORE(2) LLM__BT_STORE(3) LLM__BT_STORE(4) LLM__BT_STORE(5) LLM__BT_STORE(6) LLM__BT_STORE(7)
}
#undef LLM__BT_LOAD
#undef LLM__BT_DOT
#undef LLM__BT_STORE

static void llm__tile_bf16_any(const uint32_t *P, int64_t np, const uint32_t *x, int64_t ldx, float *y, int64_t ldy, int nt,
                               int nr, bool add) {
    switch (nt) {
#define LLM__BT_CASE(n) case n: llm__tile_bf16_avx512(P, np, x, ldx, y, ldy, n, nr, add); break;
    LLM__BT_CASE(8) LLM__BT_CASE(7) LLM__BT_CASE(6) LLM__BT_CASE(5) LLM__BT_CASE(4) LLM__BT_CASE(3) LLM__BT_CASE(2)
    default: llm__tile_bf16_avx512(P, np, x, ldx, y, ldy, 1, nr, add); break;
#undef LLM__BT_CASE
    }
}

/* x not rounded -> the f32 kernel; else for each KC block, for each 32-row panel: pack it,
   run every token tile, asking for the next tile's y and x and the next panel's weights. */
static void llm__matmul_bf16_avx512(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {
    const llm__bf16_mm *m = (const llm__bf16_mm *)a->w;
    int64_t k = a->k, n_tiles = (a->n_tok + LLM__BNR - 1) / LLM__BNR;
    if (!m->x) {   /* decoding, or exact */
        llm__mm_args f32 = *a;
        f32.w = m->w;
        llm__matmul_bf16_avx2(&f32, r0, r1, scratch);
        return;
    }
    _Alignas(64) uint32_t P[LLM__BKC / 2 * LLM__BMR];
    for (int64_t k0 = 0; k0 < k; k0 += LLM__BKC) {
        int64_t kc = LLM__MIN(LLM__BKC, k - k0);
        for (int64_t r = r0; r < r1; r += LLM__BMR) {
            int nr = (int)LLM__MIN(LLM__BMR, r1 - r);
            llm__pack_bf16_pairs(P, m->w + r * k + k0, k, nr, kc);
            for (int64_t t = 0; t < a->n_tok; t += LLM__BNR) {
                for (int64_t j = t + LLM__BNR; j < LLM__MIN(t + 2 * LLM__BNR, a->n_tok); j++) {
                    _mm_prefetch((const char *)(a->y + j * a->ldy + r), _MM_HINT_T0);
                    _mm_prefetch((const char *)(a->y + j * a->ldy + r + LLM__BMR - 1), _MM_HINT_T0);
                    _mm_prefetch((const char *)(m->x + j * m->ldx + k0 / 2), _MM_HINT_T0);
                }
                llm__panel_prefetch(m->w + (r + LLM__BMR) * k + k0, LLM__BMR, k * 2, kc * 2, t / LLM__BNR, n_tiles);
                llm__tile_bf16_any(P, (kc + 1) / 2, m->x + t * m->ldx + k0 / 2, m->ldx, a->y + t * a->ldy + r, a->ldy,
                                   (int)LLM__MIN(LLM__BNR, a->n_tok - t), nr, k0 > 0);
            }
        }
    }
}
#undef LLM__BMR
#undef LLM__BNR
#undef LLM__BKC
#endif
/* ==== end llm_impl/22_kernels_avx512.c ==== */
/* ==== begin llm_impl/23_kernels_ggml.c ==== */
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
/* #include "10_internal.h" (already above) */

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
/* ==== end llm_impl/23_kernels_ggml.c ==== */
/* ==== begin llm_impl/23_kernels_neon.c ==== */
/* ---- >>kernels_neon: AArch64 NEON versions of the scalar kernels ----
   Same contracts and the same two matmul shapes as 22_kernels_avx2.c, with 4-lane vectors:
   - decode: 4 rows share each load of x, 2 accumulators per row (8 FMA chains);
   - prefill: a 16-row panel widened and transposed once into P[KC][16], then a 4-token x
     16-row tile of y in 16 registers (of 32) while k runs: per k, 4 loads of P, and per
     token one broadcast of x and 4 FMAs.
   f16 widens with vcvt_f32_f16 (every AArch64 CPU has it); bf16 by a 16-bit shift. Every
   output is summed in plain k order whatever its tile: thread splits do not change bits. */
/* #include "10_internal.h" (already above) */

#ifdef LLM__NEON
static inline float32x4_t llm__load4_f32(const float *p) { return vld1q_f32(p); }
static inline float32x4_t llm__load4_f16(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
static inline float32x4_t llm__load4_bf16(const uint16_t *p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }

static float llm__dot_f32_neon(const float *a, const float *b, int64_t n) {
    float32x4_t acc0 = vdupq_n_f32(0), acc1 = acc0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
        acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    if (i + 4 <= n) { acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i)); i += 4; }
    float s = vaddvq_f32(vaddq_f32(acc0, acc1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- decode: nr <= 4 rows of W against one x; the same sum order for any nr ----
   As on AVX2, the 4 rows come from the four quarters of the range: four sequential streams
   far apart keep four misses in flight. */
#define LLM__MATVEC_NEON(NAME, WT, LOAD, SCALAR)                                                       \
    static LLM__INLINE void NAME##_rows(float *y, int64_t ystep, const float *x, const WT *w, int64_t step, int64_t k, \
                                        int nr) {                                                      \
        float32x4_t acc[4][2];                                                                         \
        for (int r = 0; r < nr; r++) acc[r][0] = acc[r][1] = vdupq_n_f32(0);                           \
        int64_t i = 0;                                                                                 \
        for (; i + 8 <= k; i += 8) {                                                                   \
            float32x4_t x0 = vld1q_f32(x + i), x1 = vld1q_f32(x + i + 4);                              \
            for (int r = 0; r < nr; r++) {                                                             \
                acc[r][0] = vfmaq_f32(acc[r][0], x0, LOAD(w + r * step + i));                          \
                acc[r][1] = vfmaq_f32(acc[r][1], x1, LOAD(w + r * step + i + 4));                      \
            }                                                                                          \
        }                                                                                              \
        for (; i + 4 <= k; i += 4)                                                                     \
            for (int r = 0; r < nr; r++) acc[r][0] = vfmaq_f32(acc[r][0], vld1q_f32(x + i), LOAD(w + r * step + i)); \
        for (int r = 0; r < nr; r++) {                                                                 \
            float s = vaddvq_f32(vaddq_f32(acc[r][0], acc[r][1]));                                     \
            for (int64_t j = i; j < k; j++) s += x[j] * SCALAR(w[r * step + j]);                       \
            y[r * ystep] = s;                                                                          \
        }                                                                                              \
    }                                                                                                  \
    static void NAME(float *y, const float *x, const WT *w, int64_t k, int64_t r0, int64_t r1) {       \
        int64_t q = (r1 - r0) / 4, r;                                                                  \
        for (r = r0; r < r0 + q; r++) NAME##_rows(y + r, q, x, w + r * k, q * k, k, 4);                \
        for (r = r0 + 4 * q; r < r1; r++) NAME##_rows(y + r, 0, x, w + r * k, 0, k, 1);                \
    }
static inline float llm__id_f32_neon(float v) { return v; }
LLM__MATVEC_NEON(llm__matvec_f32_neon, float, llm__load4_f32, llm__id_f32_neon)
LLM__MATVEC_NEON(llm__matvec_f16_neon, uint16_t, llm__load4_f16, llm__f16_to_f32)
LLM__MATVEC_NEON(llm__matvec_bf16_neon, uint16_t, llm__load4_bf16, llm__bf16_to_f32)
#undef LLM__MATVEC_NEON

/* ---- prefill ---- */
#define LLM__NMR 16    /* weight rows per panel: four 4-lane vectors */
#define LLM__NNR 4     /* tokens per register tile: 4 x 4 accumulators */
#define LLM__NKC 256   /* columns per packed panel: 16 KB */

/* P[p*16 + j] = W[j][p] as f32 for j < nr (W: row stride k), p < kc; rows >= nr are 0.
   Each 4x4 block is transposed by trn1/trn2 on 32-bit, then on 64-bit lanes. */
#define LLM__PACK_NEON(NAME, WT, LOAD, SCALAR)                                                         \
    static void NAME(float *P, const WT *w, int64_t k, int nr, int64_t kc) {                          \
        int64_t p = 0;                                                                                 \
        for (; p + 4 <= kc; p += 4)                                                                    \
            for (int h = 0; h < 4; h++) {                                                              \
                float32x4_t r[4];                                                                      \
                for (int j = 0; j < 4; j++) r[j] = h * 4 + j < nr ? LOAD(w + (h * 4 + j) * k + p) : vdupq_n_f32(0); \
                float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);                  \
                float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);                  \
                float64x2_t u0 = vreinterpretq_f64_f32(t0), u1 = vreinterpretq_f64_f32(t1);            \
                float64x2_t u2 = vreinterpretq_f64_f32(t2), u3 = vreinterpretq_f64_f32(t3);            \
                vst1q_f32(P + (p + 0) * LLM__NMR + h * 4, vreinterpretq_f32_f64(vtrn1q_f64(u0, u2)));  \
                vst1q_f32(P + (p + 1) * LLM__NMR + h * 4, vreinterpretq_f32_f64(vtrn1q_f64(u1, u3)));  \
                vst1q_f32(P + (p + 2) * LLM__NMR + h * 4, vreinterpretq_f32_f64(vtrn2q_f64(u0, u2)));  \
                vst1q_f32(P + (p + 3) * LLM__NMR + h * 4, vreinterpretq_f32_f64(vtrn2q_f64(u1, u3)));  \
            }                                                                                          \
        for (; p < kc; p++)                                                                            \
            for (int j = 0; j < LLM__NMR; j++) P[p * LLM__NMR + j] = j < nr ? SCALAR(w[j * k + p]) : 0.0f; \
    }
LLM__PACK_NEON(llm__pack_f32_neon, float, llm__load4_f32, llm__id_f32_neon)
LLM__PACK_NEON(llm__pack_f16_neon, uint16_t, llm__load4_f16, llm__f16_to_f32)
LLM__PACK_NEON(llm__pack_bf16_neon, uint16_t, llm__load4_bf16, llm__bf16_to_f32)
#undef LLM__PACK_NEON

/* y[t][0..nr) (+)= sum_p P[p][0..nr) * x[t][p] for nt <= 4 tokens; add: continue y's sums.
   32 registers: the 16 accumulators stay in registers as an array once nt is a constant. */
static LLM__INLINE void llm__tile_neon(const float *P, int64_t kc, const float *x, int64_t ldx, float *y, int64_t ldy,
                                       int nt, int nr, bool add) {
    float32x4_t c[LLM__NNR][4];
    float tmp[LLM__NMR];
    for (int t = 0; t < nt; t++) {
        const float *src = y + t * ldy;
        if (add && nr < LLM__NMR) { memset(tmp, 0, sizeof tmp); memcpy(tmp, src, (size_t)nr * sizeof(float)); src = tmp; }
        for (int v = 0; v < 4; v++) c[t][v] = add ? vld1q_f32(src + 4 * v) : vdupq_n_f32(0);
    }
    for (int64_t p = 0; p < kc; p++) {
        float32x4_t w0 = vld1q_f32(P + p * LLM__NMR), w1 = vld1q_f32(P + p * LLM__NMR + 4);
        float32x4_t w2 = vld1q_f32(P + p * LLM__NMR + 8), w3 = vld1q_f32(P + p * LLM__NMR + 12);
        for (int t = 0; t < nt; t++) {
            float32x4_t b = vdupq_n_f32(x[t * ldx + p]);
            c[t][0] = vfmaq_f32(c[t][0], w0, b);
            c[t][1] = vfmaq_f32(c[t][1], w1, b);
            c[t][2] = vfmaq_f32(c[t][2], w2, b);
            c[t][3] = vfmaq_f32(c[t][3], w3, b);
        }
    }
    for (int t = 0; t < nt; t++) {
        float *dst = nr < LLM__NMR ? tmp : y + t * ldy;
        for (int v = 0; v < 4; v++) vst1q_f32(dst + 4 * v, c[t][v]);
        if (nr < LLM__NMR) memcpy(y + t * ldy, tmp, (size_t)nr * sizeof(float));
    }
}

static void llm__tile_any_neon(const float *P, int64_t kc, const float *x, int64_t ldx, float *y, int64_t ldy, int nt,
                               int nr, bool add) {
    switch (nt) {
    case 4: llm__tile_neon(P, kc, x, ldx, y, ldy, 4, nr, add); break;
    case 3: llm__tile_neon(P, kc, x, ldx, y, ldy, 3, nr, add); break;
    case 2: llm__tile_neon(P, kc, x, ldx, y, ldy, 2, nr, add); break;
    default: llm__tile_neon(P, kc, x, ldx, y, ldy, 1, nr, add); break;
    }
}

#define LLM__MATMUL_NEON(NAME, WT, MATVEC, PACK)                                                       \
    static void NAME(const llm__mm_args *a, int64_t r0, int64_t r1, float *scratch) {                  \
        (void)scratch;                                                                                 \
        const WT *w = (const WT *)a->w;                                                                \
        int64_t k = a->k;                                                                              \
        if (a->n_tok == 1) { MATVEC(a->y, a->x, w, k, r0, r1); return; }                               \
        _Alignas(64) float P[LLM__NKC * LLM__NMR];                                                     \
        for (int64_t k0 = 0; k0 < k; k0 += LLM__NKC) {                                                 \
            int64_t kc = LLM__MIN(LLM__NKC, k - k0);                                                   \
            for (int64_t r = r0; r < r1; r += LLM__NMR) {                                              \
                int nr = (int)LLM__MIN(LLM__NMR, r1 - r);                                              \
                PACK(P, w + r * k + k0, k, nr, kc);                                                    \
                for (int64_t t = 0; t < a->n_tok; t += LLM__NNR)                                       \
                    llm__tile_any_neon(P, kc, a->x + t * k + k0, k, a->y + t * a->ldy + r, a->ldy,     \
                                       (int)LLM__MIN(LLM__NNR, a->n_tok - t), nr, k0 > 0);             \
            }                                                                                          \
        }                                                                                              \
    }
LLM__MATMUL_NEON(llm__matmul_f32_neon, float, llm__matvec_f32_neon, llm__pack_f32_neon)
LLM__MATMUL_NEON(llm__matmul_f16_neon, uint16_t, llm__matvec_f16_neon, llm__pack_f16_neon)
LLM__MATMUL_NEON(llm__matmul_bf16_neon, uint16_t, llm__matvec_bf16_neon, llm__pack_bf16_neon)
#undef LLM__MATMUL_NEON

static void llm__axpy_f32_neon(float *y, float alpha, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), alpha));
    for (; i < n; i++) y[i] += alpha * x[i];
}

static void llm__dots_f32_neon(float *S, int64_t lds, const float *const *q, int nq, const float *K, int64_t k, int64_t n) {
    for (int g = 0; g < nq; g++) llm__matvec_f32_neon(S + g * lds, q[g], K, k, 0, n);
}

/* out[g] += sum_j A[g][j] V[j]: 16 outputs of one query at a time stay in 4 registers while j runs. */
static void llm__axpys_f32_neon(float *const *out, int nq, const float *A, int64_t lda, const float *V, int64_t n, int64_t d) {
    for (int g = 0; g < nq; g++) {
        float *y = out[g];
        const float *a = A + g * lda;
        int64_t i = 0;
        for (; i + 16 <= d; i += 16) {
            float32x4_t y0 = vld1q_f32(y + i), y1 = vld1q_f32(y + i + 4), y2 = vld1q_f32(y + i + 8), y3 = vld1q_f32(y + i + 12);
            for (int64_t j = 0; j < n; j++) {
                const float *vj = V + j * d + i;
                y0 = vfmaq_n_f32(y0, vld1q_f32(vj), a[j]);
                y1 = vfmaq_n_f32(y1, vld1q_f32(vj + 4), a[j]);
                y2 = vfmaq_n_f32(y2, vld1q_f32(vj + 8), a[j]);
                y3 = vfmaq_n_f32(y3, vld1q_f32(vj + 12), a[j]);
            }
            vst1q_f32(y + i, y0); vst1q_f32(y + i + 4, y1); vst1q_f32(y + i + 8, y2); vst1q_f32(y + i + 12, y3);
        }
        for (int64_t j = 0; i < d && j < n; j++) llm__axpy_f32_neon(y + i, a[j], V + j * d + i, d - i);
    }
}

static void llm__scale_f32_neon(float *y, float s, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(y + i), s));
    for (; i < n; i++) y[i] *= s;
}

/* exp(x) for 4 lanes: the same range reduction and polynomial as llm__exp8_avx2. */
static float32x4_t llm__exp4_neon(float32x4_t x) {
    uint32x4_t tiny = vcltq_f32(x, vdupq_n_f32(-87.33654f));
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.33654f)), vdupq_n_f32(88.37f));
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    float32x4_t v = vmulq_f32(p, vreinterpretq_f32_s32(e));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), tiny));
}

static float llm__exp_sum_f32_neon(float *x, int64_t n, float m) {
    float32x4_t acc = vdupq_n_f32(0), vm = vdupq_n_f32(m);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t e = llm__exp4_neon(vsubq_f32(vld1q_f32(x + i), vm));
        vst1q_f32(x + i, e);
        acc = vaddq_f32(acc, e);
    }
    float sum = vaddvq_f32(acc);
    for (; i < n; i++) sum += x[i] = expf(x[i] - m);
    return sum;
}

/* SiLU and tanh-GELU as in llm__act_mul_avx2; the others fall back to the scalar loop. */
static void llm__act_mul_neon(llm__act act, float *y, const float *gate, int64_t n) {
    if (act != LLM__ACT_SILU && act != LLM__ACT_GELU_TANH) { llm__act_mul_scalar(act, y, gate, n); return; }
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t g = vld1q_f32(gate ? gate + i : y + i);
        float32x4_t z = act == LLM__ACT_SILU ? vnegq_f32(g)
                        : vmulq_n_f32(vfmaq_f32(g, vmulq_n_f32(g, 0.044715f), vmulq_f32(g, g)), -2.0f * 0.79788456080286536f);
        float32x4_t a = vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), llm__exp4_neon(z)));
        vst1q_f32(y + i, gate ? vmulq_f32(vld1q_f32(y + i), a) : a);
    }
    llm__act_mul_scalar(act, y + i, gate ? gate + i : NULL, n - i);
}
/* ---- regrouped block formats (23_kernels_ggml.c): q4_0_r8, q8_0_r8 ----
   A 32-byte chunk holds 4 bytes of each of 8 rows: two 16-byte halves of 4 rows, each
   a 4-lane int32 dot product with the token's 4 bytes (sdot where the CPU has it, else
   widening multiplies and pairwise adds: |w x| <= 128 x 127, a pair fits in int16). The
   codes are made signed first (q4_0: u - 8), so no offset is left to pay. */
static inline int32x4_t llm__dot4_neon(int32x4_t acc, int8x16_t w, int8x16_t x) {
#ifdef __ARM_FEATURE_DOTPROD
    return vdotq_s32(acc, w, x);
#else
    int16x8_t p = vpaddq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(x)), vmull_high_s8(w, x));
    return vpadalq_s16(acc, p);
#endif
}

static inline int8x16_t llm__bcast4_neon(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

/* One group of 8 rows x RN tokens; the same operations per output whatever RN. */
static LLM__INLINE void llm__tile_r8_neon(bool q8, int RN, const uint8_t *g, const llm__q8_act *x, int64_t k, float *y, int64_t ldy) {
    const int n_chunks = q8 ? 8 : 4;
    float32x4_t acc[4][2];
    LLM__UNROLL for (int t = 0; t < RN; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0);
    for (int64_t b = 0; b < k / 32; b++, g += q8 ? 272 : 144) {
        int32x4_t sum[4][2];
        LLM__UNROLL for (int t = 0; t < RN; t++) sum[t][0] = sum[t][1] = vdupq_n_s32(0);
        LLM__UNROLL for (int c = 0; c < n_chunks; c++)
            LLM__UNROLL for (int h = 0; h < 2; h++) {
                uint8x16_t raw = vld1q_u8(g + 16 + 32 * c + 16 * h);
                if (q8) {
                    LLM__UNROLL for (int t = 0; t < RN; t++)
                        sum[t][h] = llm__dot4_neon(sum[t][h], vreinterpretq_s8_u8(raw), llm__bcast4_neon(x[t].q + 32 * b + 4 * c));
                    continue;
                }
                int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(15))), vdupq_n_s8(8));
                int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), vdupq_n_s8(8));
                LLM__UNROLL for (int t = 0; t < RN; t++) {
                    sum[t][h] = llm__dot4_neon(sum[t][h], lo, llm__bcast4_neon(x[t].q + 32 * b + 4 * c));
                    sum[t][h] = llm__dot4_neon(sum[t][h], hi, llm__bcast4_neon(x[t].q + 32 * b + 16 + 4 * c));
                }
            }
        float32x4_t d[2] = { llm__load4_f16((const uint16_t *)g), llm__load4_f16((const uint16_t *)g + 4) };
        LLM__UNROLL for (int t = 0; t < RN; t++)
            LLM__UNROLL for (int h = 0; h < 2; h++)
                acc[t][h] = vfmaq_f32(acc[t][h], vcvtq_f32_s32(sum[t][h]), vmulq_n_f32(d[h], x[t].d[b]));
    }
    LLM__UNROLL for (int t = 0; t < RN; t++) { vst1q_f32(y + t * ldy, acc[t][0]); vst1q_f32(y + t * ldy + 4, acc[t][1]); }
}

static void llm__r8_tile_neon(llm_dtype dt, int rn, const uint8_t *g, const llm__q8_act *x, int64_t k, float *y, int64_t ldy) {
#define LLM__T4_0(n) llm__tile_r8_neon(false, n, g, x, k, y, ldy)
#define LLM__T8_0(n) llm__tile_r8_neon(true, n, g, x, k, y, ldy)
    if (dt == LLM_DTYPE_Q4_0_R8) { LLM__BY_RN(rn, LLM__T4_0) }
    else { LLM__BY_RN(rn, LLM__T8_0) }
#undef LLM__T4_0
#undef LLM__T8_0
}
static void llm__matmul_q4_0_r8_neon(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { (void)s; llm__matmul_r8(LLM_DTYPE_Q4_0_R8, llm__r8_tile_neon, a, r0, r1); }
static void llm__matmul_q8_0_r8_neon(const llm__mm_args *a, int64_t r0, int64_t r1, float *s) { (void)s; llm__matmul_r8(LLM_DTYPE_Q8_0_R8, llm__r8_tile_neon, a, r0, r1); }
#endif
/* ==== end llm_impl/23_kernels_neon.c ==== */
/* ==== begin llm_impl/24_kernels.c ==== */
/* ---- >>kernels: the kernel table and the threaded matmul ----
   All model code calls kernels through llm__k, filled once at start-up: the AVX2 versions
   when the build targets AVX2+FMA (or, with LLM_RUNTIME_DISPATCH, when CPUID says the CPU has
   them), the NEON versions on AArch64, else the scalar references. llm_set_reference_kernels
   (true) forces the references at run time (debugging, and the tests that compare the two). */
/* #include "10_internal.h" (already above) */

typedef struct llm__kernels {
    const char *name;                         /* "scalar", "avx2", "neon" */
    llm__matmul_fn matmul[LLM_DTYPE_COUNT];   /* NULL: no kernel for that weight dtype */
    bool matmul_q8[LLM_DTYPE_COUNT];          /* the kernel reads a->w as a llm__q8_mm (23_kernels_ggml.c) */
    bool bf16_acts;                           /* the BF16 kernel rounds prefill activations to bf16 and reads
                                                 a->w as a llm__bf16_mm (22_kernels_avx512.c) */
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*axpy_f32)(float *y, float alpha, const float *x, int64_t n);
    void (*dots_f32)(float *S, int64_t lds, const float *const *q, int nq, const float *K, int64_t k, int64_t n);
    void (*axpys_f32)(float *const *out, int nq, const float *A, int64_t lda, const float *V, int64_t n, int64_t d);
    void (*scale_f32)(float *y, float s, int64_t n);
    float (*exp_sum_f32)(float *x, int64_t n, float m);
    void (*act_mul)(llm__act act, float *y, const float *gate, int64_t n);
} llm__kernels;

static const llm__kernels llm__kernels_scalar = {
    .name = "scalar",
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_scalar, [LLM_DTYPE_F16] = llm__matmul_f16_scalar,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_scalar,
                [LLM_DTYPE_Q4_0] = llm__matmul_q4_0_scalar, [LLM_DTYPE_Q4_1] = llm__matmul_q4_1_scalar,
                [LLM_DTYPE_Q5_0] = llm__matmul_q5_0_scalar, [LLM_DTYPE_Q5_1] = llm__matmul_q5_1_scalar,
                [LLM_DTYPE_Q8_0] = llm__matmul_q8_0_scalar, [LLM_DTYPE_Q2_K] = llm__matmul_q2_K_scalar,
                [LLM_DTYPE_Q3_K] = llm__matmul_q3_K_scalar, [LLM_DTYPE_Q4_K] = llm__matmul_q4_K_scalar,
                [LLM_DTYPE_Q5_K] = llm__matmul_q5_K_scalar, [LLM_DTYPE_Q6_K] = llm__matmul_q6_K_scalar,
                [LLM_DTYPE_Q8_K] = llm__matmul_q8_K_scalar, [LLM_DTYPE_MXFP4] = llm__matmul_mxfp4_scalar,
                [LLM_DTYPE_Q4_0_R8] = llm__matmul_q4_0_r8_scalar,
                [LLM_DTYPE_Q8_0_R8] = llm__matmul_q8_0_r8_scalar,
                [LLM_DTYPE_Q4_K_R8] = llm__matmul_q4_K_r8_scalar,
                [LLM_DTYPE_Q6_K_R8] = llm__matmul_q6_K_r8_scalar },
    .dot_f32 = llm__dot_f32_scalar, .axpy_f32 = llm__axpy_f32_scalar, .scale_f32 = llm__scale_f32_scalar,
    .dots_f32 = llm__dots_f32_scalar, .axpys_f32 = llm__axpys_f32_scalar,
    .exp_sum_f32 = llm__exp_sum_f32_scalar, .act_mul = llm__act_mul_scalar,
};

#ifdef LLM__AVX2
static const llm__kernels llm__kernels_avx2 = {
#ifdef LLM__AVX512BF16
    .name = "avx2+avx512bf16",
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_avx2, [LLM_DTYPE_F16] = llm__matmul_f16_avx2,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_avx512,
#else
    .name = "avx2",
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_avx2, [LLM_DTYPE_F16] = llm__matmul_f16_avx2,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_avx2,
#endif
                [LLM_DTYPE_Q4_0] = llm__matmul_q4_0_avx2, [LLM_DTYPE_Q4_1] = llm__matmul_q4_1_avx2,
                [LLM_DTYPE_Q5_0] = llm__matmul_q5_0_avx2, [LLM_DTYPE_Q5_1] = llm__matmul_q5_1_avx2,
                [LLM_DTYPE_Q8_0] = llm__matmul_q8_0_avx2, [LLM_DTYPE_Q2_K] = llm__matmul_q2_K_scalar,
                [LLM_DTYPE_Q3_K] = llm__matmul_q3_K_scalar, [LLM_DTYPE_Q4_K] = llm__matmul_q4_K_avx2,
                [LLM_DTYPE_Q5_K] = llm__matmul_q5_K_avx2, [LLM_DTYPE_Q6_K] = llm__matmul_q6_K_avx2,
                [LLM_DTYPE_Q8_K] = llm__matmul_q8_K_scalar, [LLM_DTYPE_MXFP4] = llm__matmul_mxfp4_scalar,
                [LLM_DTYPE_Q4_0_R8] = llm__matmul_q4_0_r8_avx2,
                [LLM_DTYPE_Q8_0_R8] = llm__matmul_q8_0_r8_avx2,
                [LLM_DTYPE_Q4_K_R8] = llm__matmul_q4_K_r8_avx2,
                [LLM_DTYPE_Q6_K_R8] = llm__matmul_q6_K_r8_avx2 },
    .matmul_q8 = { [LLM_DTYPE_Q4_0] = true, [LLM_DTYPE_Q4_0_R8] = true, [LLM_DTYPE_Q8_0_R8] = true, [LLM_DTYPE_Q4_K_R8] = true, [LLM_DTYPE_Q6_K_R8] = true, [LLM_DTYPE_Q4_1] = true, [LLM_DTYPE_Q5_0] = true, [LLM_DTYPE_Q5_1] = true,
                   [LLM_DTYPE_Q8_0] = true, [LLM_DTYPE_Q4_K] = true, [LLM_DTYPE_Q5_K] = true, [LLM_DTYPE_Q6_K] = true },
#ifdef LLM__AVX512BF16
    .bf16_acts = true,
#endif
    .dot_f32 = llm__dot_f32_avx2, .axpy_f32 = llm__axpy_f32_avx2, .scale_f32 = llm__scale_f32_avx2,
    .dots_f32 = llm__dots_f32_avx2, .axpys_f32 = llm__axpys_f32_avx2,
    .exp_sum_f32 = llm__exp_sum_f32_avx2, .act_mul = llm__act_mul_avx2,
};
#endif
#ifdef LLM__NEON
static const llm__kernels llm__kernels_neon = {
    .name = "neon",
    .matmul = { [LLM_DTYPE_F32] = llm__matmul_f32_neon, [LLM_DTYPE_F16] = llm__matmul_f16_neon,
                [LLM_DTYPE_BF16] = llm__matmul_bf16_neon,
                [LLM_DTYPE_Q4_0] = llm__matmul_q4_0_scalar, [LLM_DTYPE_Q4_1] = llm__matmul_q4_1_scalar,
                [LLM_DTYPE_Q5_0] = llm__matmul_q5_0_scalar, [LLM_DTYPE_Q5_1] = llm__matmul_q5_1_scalar,
                [LLM_DTYPE_Q8_0] = llm__matmul_q8_0_scalar, [LLM_DTYPE_Q2_K] = llm__matmul_q2_K_scalar,
                [LLM_DTYPE_Q3_K] = llm__matmul_q3_K_scalar, [LLM_DTYPE_Q4_K] = llm__matmul_q4_K_scalar,
                [LLM_DTYPE_Q5_K] = llm__matmul_q5_K_scalar, [LLM_DTYPE_Q6_K] = llm__matmul_q6_K_scalar,
                [LLM_DTYPE_Q8_K] = llm__matmul_q8_K_scalar, [LLM_DTYPE_MXFP4] = llm__matmul_mxfp4_scalar,
                [LLM_DTYPE_Q4_0_R8] = llm__matmul_q4_0_r8_neon, [LLM_DTYPE_Q8_0_R8] = llm__matmul_q8_0_r8_neon,
                [LLM_DTYPE_Q4_K_R8] = llm__matmul_q4_K_r8_scalar,
                [LLM_DTYPE_Q6_K_R8] = llm__matmul_q6_K_r8_scalar },   /* NEON block kernels: regrouped q4_0 and q8_0 */
    .matmul_q8 = { [LLM_DTYPE_Q4_0_R8] = true, [LLM_DTYPE_Q8_0_R8] = true },
    .dot_f32 = llm__dot_f32_neon, .axpy_f32 = llm__axpy_f32_neon, .scale_f32 = llm__scale_f32_neon,
    .dots_f32 = llm__dots_f32_neon, .axpys_f32 = llm__axpys_f32_neon,
    .exp_sum_f32 = llm__exp_sum_f32_neon, .act_mul = llm__act_mul_neon,
};
#endif

#ifdef LLM__AVX2_RUNTIME
/* CPUID leaf 1: FMA (ecx 12), OSXSAVE (27), AVX (28), F16C (29); leaf 7: AVX2 (ebx 5); and
   XGETBV: the OS saves the ymm registers (bits 1, 2). */
static bool llm__cpu_has_avx2(void) {
    unsigned a, b, c, d, lo, hi;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!(c >> 12 & 1) || !(c >> 27 & 1) || !(c >> 28 & 1) || !(c >> 29 & 1)) return false;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return false;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    return b >> 5 & 1;
}
#endif

/* The fastest kernels this build and this CPU support. */
static const llm__kernels *llm__kernels_best(void) {
#if defined(LLM__AVX2_RUNTIME)
    static int has = -1;   /* racy but idempotent: every thread computes the same answer */
    if (has < 0) has = llm__cpu_has_avx2();
    return has ? &llm__kernels_avx2 : &llm__kernels_scalar;
#elif defined(LLM__AVX2)
    return &llm__kernels_avx2;
#elif defined(LLM__NEON)
    return &llm__kernels_neon;
#else
    return &llm__kernels_scalar;
#endif
}

/* The table in use: the best one known at compile time, or chosen before main() by CPUID. */
#if defined(LLM__AVX2) && !defined(LLM__AVX2_RUNTIME)
static const llm__kernels *llm__k = &llm__kernels_avx2;
#elif defined(LLM__NEON)
static const llm__kernels *llm__k = &llm__kernels_neon;
#else
static const llm__kernels *llm__k = &llm__kernels_scalar;
#endif
#ifdef LLM__AVX2_RUNTIME
__attribute__((constructor)) static void llm__kernels_init(void) { llm__k = llm__kernels_best(); }
#endif

/* Use the scalar reference kernels everywhere (true) or the fastest ones (false).
   Not thread-safe: call before creating sessions. */
LLM_API void llm_set_reference_kernels(bool reference) {
    llm__k = reference ? &llm__kernels_scalar : llm__kernels_best();
}

static bool llm__bf16_exact = false;
LLM_API void llm_set_exact_bf16(bool exact) { llm__bf16_exact = exact; }

/* ---- threaded matmul: y[T, n_out] = x[T, k] . W^T, rows of W split between threads ----
   The scratch has two parts: k floats per thread (the reference kernels unpack a row
   there), then, shared, every token's activations in the form the kernel reads (int8 for
   the block formats and MLX's affine ones: quantized once per matmul, not once per thread
   or per tile). llm__matmul_scratch_bytes says how much. */

typedef struct {
    llm__mm_args args;
    llm__matmul_fn fn;
    int64_t n_rows;
    float *scratch;           /* [nth, k] */
    int64_t scratch_stride;
    int64_t chunk;            /* decoding: panels per claim (0: a fixed share per thread) */
    atomic_llong next;        /* the next panel to claim */
} llm__mm_task;

/* Rows go in whole 16-row panels (the AVX2 GEMM packs 16 rows at a time, the regrouped
   formats need groups of 8). Prefill gives each thread one share: a second range would
   read the activations again. Decoding reads only the weights, so threads claim chunks of
   panels until none is left: one slowed down (a busy core, a small core) takes fewer.
   Either way a row is computed the same way by whichever thread. */
static void llm__mm_worker(void *ctx, int ith, int nth) {
    llm__mm_task *t = (llm__mm_task *)ctx;
    int64_t n_panels = (t->n_rows + 15) / 16, p0, p1;
    float *scratch = t->scratch + ith * t->scratch_stride;
    if (!t->chunk) {
        llm__split(n_panels, ith, nth, &p0, &p1);
        if (p0 < p1) t->fn(&t->args, 16 * p0, LLM__MIN(16 * p1, t->n_rows), scratch);
        return;
    }
    while ((p0 = atomic_fetch_add_explicit(&t->next, t->chunk, memory_order_relaxed)) < n_panels)
        t->fn(&t->args, 16 * p0, LLM__MIN(16 * (p0 + t->chunk), t->n_rows), scratch);
}

/* Shared scratch bytes per token: at least what any kernel's quantized activations take
   (block formats 1.25 k + 64; MLX 1.5 k + 4 k / group + 64). */
static size_t llm__mm_token_bytes(int64_t k) { return 2 * (size_t)k + 128; }

/* Scratch bytes for llm__matmul of n_tok tokens of k inputs on n_threads threads. */
LLM_PRIVATE size_t llm__matmul_scratch_bytes(int n_threads, int64_t n_tok, int64_t k) {
    return (size_t)n_threads * (size_t)k * sizeof(float) + (size_t)n_tok * llm__mm_token_bytes(k);
}

/* >>mlx-model: MLX-quantized matrices have their own kernel (27_kernels_mlx.c) */
typedef struct llm__qmat llm__qmat;
LLM_PRIVATE void llm__matmul_mlx(llm_pool *pool, void *scratch, size_t scratch_bytes, float *y, int64_t ldy,
                                 const float *x, int64_t n_tok, const llm__qmat *q);

/* y[t*ldy + r] = dot(x[t], w[r]) for every token t < n_tok and row r of w ([n_rows, k]).
   scratch: llm__matmul_scratch_bytes(n_threads, n_tok, k) bytes, float-aligned (the float
   kernels use only the first n_threads * k floats). */
LLM_PRIVATE void llm__matmul(llm_pool *pool, float *scratch, float *y, int64_t ldy, const float *x, int64_t n_tok,
                             const llm_tensor *w) {
    int nth = llm_pool_n_threads(pool);
    int64_t k = w->shape[1];
    if (w->dtype == LLM_DTYPE_MLX_AFFINE) {   /* >>mlx-model */
        llm__matmul_mlx(pool, scratch, llm__matmul_scratch_bytes(nth, n_tok, k), y, ldy, x, n_tok, (const llm__qmat *)w->data);
        return;
    }
    llm__mm_task t = {
        .args = { .y = y, .ldy = ldy, .x = x, .n_tok = n_tok, .k = k, .w = w->data },
        .fn = llm__k->matmul[w->dtype],
        .n_rows = w->shape[0],
        .scratch = scratch,
        .scratch_stride = k,
        .chunk = n_tok < 4 && nth > 1 ? LLM__MAX(1, (w->shape[0] + 15) / 16 / (4 * nth)) : 0,   /* about 4 claims per thread */
    };
    atomic_init(&t.next, 0);
    LLM_ASSERT(t.fn && w->n_dims == 2);
#if defined(LLM__AVX2) || defined(LLM__NEON)
    llm__q8_mm q8;
    if (llm__k->matmul_q8[w->dtype]) {        /* the activations, once, after the per-thread part */
        q8 = llm__q8_prepare(pool, x, n_tok, k, (int)llm__dtypes[w->dtype].block_elems, scratch + nth * k, w->data);
        t.args.w = &q8;
    }
#endif
#ifdef LLM__AVX512BF16
    llm__bf16_mm bf;
    if (w->dtype == LLM_DTYPE_BF16 && llm__k->bf16_acts) {
        bf = llm__bf16_prepare(pool, x, n_tok, k, scratch + nth * k, w->data, n_tok > 1 && !llm__bf16_exact);
        t.args.w = &bf;
    }
#endif
    llm__parallel_for(pool, llm__mm_worker, &t);
}
/* ==== end llm_impl/24_kernels.c ==== */
/* ==== begin llm_impl/25_ops.c ==== */
/* ---- >>ops: norms, rotary embeddings, softmax ----
   The small per-row operations of a transformer, in plain C (they are a few percent of the
   time next to the matmuls; activations are kernels, llm__k->act_mul). Shapes: one row of n floats unless stated. Sums are taken in
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
   (YaRN's attention factor; 1 otherwise). Every head of a position turns by the same
   angles: llm__rope_table computes them once, cs = [cos x n_rot/2, sin x n_rot/2], and
   llm__rope_apply rotates a head with them (llm__rope: both, for one head). */
static void llm__rope_table(float *cs, int64_t pos, const float *inv_freq, int64_t n_rot, float mscale) {
    int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        float angle = (float)pos * inv_freq[i];
        cs[i] = cosf(angle) * mscale;
        cs[half + i] = sinf(angle) * mscale;
    }
}

/* Turn the pair (v[a], v[b]) by the angle whose cos and sin are c, s. */
static inline void llm__rope_pair(float *v, int64_t a, int64_t b, float c, float s) {
    float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x1 * c + x0 * s;
}

static void llm__rope_apply(float *v, const float *cs, int64_t n_rot, bool interleaved) {
    int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++)
        llm__rope_pair(v, interleaved ? 2 * i : i, interleaved ? 2 * i + 1 : i + half, cs[i], cs[half + i]);
}

static void llm__rope(float *v, int64_t pos, const float *inv_freq, int64_t n_rot, bool interleaved, float mscale) {
    int64_t half = n_rot / 2;
    for (int64_t i = 0; i < half; i++) {   /* one pair at a time: no table buffer needed */
        float cs[2];
        llm__rope_table(cs, pos, inv_freq + i, 2, mscale);
        llm__rope_pair(v, interleaved ? 2 * i : i, interleaved ? 2 * i + 1 : i + half, cs[0], cs[1]);
    }
}
/* ==== end llm_impl/25_ops.c ==== */
/* ==== begin llm_impl/26_attention.c ==== */
/* ---- >>attention: query rows against the KV cache, in one streaming pass ----
   out[Dv] = softmax_j(q . K[j] * scale) V[j] over n cached positions (K: [n, Dk], V: [n, Dv],
   rows contiguous; GQA callers point K and V at the shared kv head, no copy). softcap > 0
   squashes scores as softcap * tanh(s / softcap) (Gemma 2).
   Online softmax (Milakov & Gimelshein 2018, as in FlashAttention): keys are taken in blocks
   of up to LLM__ATT_BLOCK; each block's scores are exponentiated against the running max m,
   and when a block raises m, the sum l and the output so far are rescaled by exp(m_old -
   m_new). No [n] or [T, T] score buffer: memory is one block, and K and V are read once.
   Several queries that read the same rows (the query heads of one kv head, consecutive
   positions) go through them in one pass, sharing the loads; each gets the same bits as
   alone. The caller picks the rows the mask allows (causal, sliding window). */
/* #include "10_internal.h" (already above) */

#define LLM__ATT_BLOCK 64
#define LLM__ATT_MAXQ 16    /* queries folded into one pass: e.g. 4 positions x a GQA group of 4 */

typedef struct llm__attn_params {
    float scale;
    float softcap;
} llm__attn_params;

/* Running state of one online softmax: the max so far and the sum of exp(score - max). */
typedef struct llm__attn_acc { float m, l; } llm__attn_acc;

/* One query of a pass: it sees the first n of the rows the pass reads (causal prefill: the
   queries of consecutive positions see one row more each). out is unnormalized until
   llm__attn_finish. */
typedef struct llm__attn_q {
    const float *q;     /* [Dk] */
    float *out;         /* [Dv] */
    int64_t n;
    llm__attn_acc acc;
} llm__attn_q;

static void llm__attn_begin(llm__attn_q *qs, int nq, int64_t Dv) {
    for (int g = 0; g < nq; g++) {
        qs[g].acc = (llm__attn_acc){ -INFINITY, 0 };
        memset(qs[g].out, 0, (size_t)Dv * sizeof(float));
    }
}

static void llm__attn_finish(llm__attn_q *qs, int nq, int64_t Dv) {
    for (int g = 0; g < nq; g++) llm__k->scale_f32(qs[g].out, 1.0f / qs[g].acc.l, Dv);
}

/* One query's block scores s[0..nb) -> softmax numerators against its running max, for the
   n <= nb rows it sees; the others become 0, so the shared weighted sum adds nothing for
   them (an FMA with 0 leaves the sum as it was: the result is the same as alone). */
static void llm__attn_probs(llm__attn_q *qq, float *s, int64_t n, int64_t nb, int64_t Dv, const llm__attn_params *p) {
    float bmax = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        float sc = s[j] * p->scale;
        if (p->softcap > 0) sc = p->softcap * tanhf(sc / p->softcap);
        s[j] = sc;
        bmax = sc > bmax ? sc : bmax;
    }
    if (n > 0 && bmax > qq->acc.m) {   /* a new maximum: rescale what was summed against the old one */
        float alpha = expf(qq->acc.m - bmax);   /* 0 on the first block (m = -inf) */
        llm__k->scale_f32(qq->out, alpha, Dv);
        qq->acc.l *= alpha;
        qq->acc.m = bmax;
    }
    if (n > 0) qq->acc.l += llm__k->exp_sum_f32(s, n, qq->acc.m);
    for (int64_t j = n; j < nb; j++) s[j] = 0;
}

/* Fold rows [0, n) of K [n, Dk] and V [n, Dv] into nq <= LLM__ATT_MAXQ queries, each limited
   to its own qs[g].n <= n rows; one load of a block of K and V serves them all.
   scratch: nq * LLM__ATT_BLOCK floats. */
static void llm__attend_rows(llm__attn_q *qs, int nq, const float *K, const float *V, int64_t n, int64_t Dk, int64_t Dv,
                             const llm__attn_params *p, float *scratch) {
    const float *qp[LLM__ATT_MAXQ];
    float *op[LLM__ATT_MAXQ];
    LLM_ASSERT(nq <= LLM__ATT_MAXQ);
    for (int g = 0; g < nq; g++) qp[g] = qs[g].q, op[g] = qs[g].out;
    for (int64_t j0 = 0; j0 < n; j0 += LLM__ATT_BLOCK) {
        int64_t nb = LLM__MIN(LLM__ATT_BLOCK, n - j0);
        llm__k->dots_f32(scratch, LLM__ATT_BLOCK, qp, nq, K + j0 * Dk, Dk, nb);
        for (int g = 0; g < nq; g++)
            llm__attn_probs(&qs[g], scratch + g * LLM__ATT_BLOCK, LLM__MAX(0, LLM__MIN(nb, qs[g].n - j0)), nb, Dv, p);
        llm__k->axpys_f32(op, nq, scratch, LLM__ATT_BLOCK, V + j0 * Dv, nb, Dv);
    }
}

/* One query over all n rows. scratch: LLM__ATT_BLOCK floats. */
LLM_PRIVATE void llm__attend(float *out, const float *q, const float *K, const float *V, int64_t n, int64_t Dk, int64_t Dv,
                             const llm__attn_params *p, float *scratch) {
    llm__attn_q one = { .q = q, .out = out, .n = n };
    llm__attn_begin(&one, 1, Dv);
    llm__attend_rows(&one, 1, K, V, n, Dk, Dv, p, scratch);
    llm__attn_finish(&one, 1, Dv);
}
/* ==== end llm_impl/26_attention.c ==== */
/* ==== begin llm_impl/27_kernels_mlx.c ==== */
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
/* #include "10_internal.h" (already above) */
/* #include "08_api_quant.h" (already above) */

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
/* ==== end llm_impl/27_kernels_mlx.c ==== */
/* ==== begin llm_impl/30_gguf.c ==== */
/* ---- >>gguf: validated mmap reader and atomic writer for GGUF v2/v3 ----
   Layout (all little-endian; spec: ggml/docs/gguf.md, reference: ggml/src/gguf.cpp):
     "GGUF" u32 version, u64 n_tensors, u64 n_kv
     n_kv x   { string key, u32 value_type, value }          string = u64 len + bytes
     n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
     padding to `alignment` (general.alignment, default 32), then the data section;
     offsets are relative to it and multiples of the alignment.
   Reading walks the metadata twice: a first pass checks that every length and count fits
   in the file and adds up the bytes needed to copy keys, strings and arrays out of it; then
   one allocation (the arena) holds them all and a second pass fills it. Nothing is
   allocated from a count before the bytes behind it were seen, so a count near 2^64 fails
   as "runs past the end of the file". Not here: model loading, v1 files, big-endian files. */
/* #include "10_internal.h" (already above) */
/* #include "07_api_gguf.h" (already above) */

#define LLM__GGUF_ALIGNMENT 32

/* ggml type ids (ggml.h enum ggml_type) -> our dtypes; -1 = a ggml type we do not
   support (named in the error), NULL name = an id ggml never used or removed. */
static const struct { int dtype; const char *name; } llm__ggml_types[] = {
    [0]  = { LLM_DTYPE_F32, "f32" },   [1]  = { LLM_DTYPE_F16, "f16" },
    [2]  = { LLM_DTYPE_Q4_0, "q4_0" }, [3]  = { LLM_DTYPE_Q4_1, "q4_1" },
    [6]  = { LLM_DTYPE_Q5_0, "q5_0" }, [7]  = { LLM_DTYPE_Q5_1, "q5_1" },
    [8]  = { LLM_DTYPE_Q8_0, "q8_0" }, [9]  = { -1, "q8_1" },
    [10] = { LLM_DTYPE_Q2_K, "q2_K" }, [11] = { LLM_DTYPE_Q3_K, "q3_K" },
    [12] = { LLM_DTYPE_Q4_K, "q4_K" }, [13] = { LLM_DTYPE_Q5_K, "q5_K" },
    [14] = { LLM_DTYPE_Q6_K, "q6_K" }, [15] = { LLM_DTYPE_Q8_K, "q8_K" },
    [16] = { -1, "iq2_xxs" }, [17] = { -1, "iq2_xs" }, [18] = { -1, "iq3_xxs" },
    [19] = { -1, "iq1_s" },   [20] = { -1, "iq4_nl" }, [21] = { -1, "iq3_s" },
    [22] = { -1, "iq2_s" },   [23] = { -1, "iq4_xs" },
    [24] = { LLM_DTYPE_I8, "i8" },     [25] = { LLM_DTYPE_I16, "i16" },
    [26] = { LLM_DTYPE_I32, "i32" },   [27] = { LLM_DTYPE_I64, "i64" },
    [28] = { LLM_DTYPE_F64, "f64" },   [29] = { -1, "iq1_m" },
    [30] = { LLM_DTYPE_BF16, "bf16" }, [34] = { -1, "tq1_0" }, [35] = { -1, "tq2_0" },
    [39] = { LLM_DTYPE_MXFP4, "mxfp4" },
};

/* GGUF value type -> size in bytes (0: string and array, which have their own layout). */
static const uint8_t llm__gguf_type_size[LLM_GGUF_TYPE_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
static const char *const llm__gguf_type_names[LLM_GGUF_TYPE_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64" };

struct llm_gguf {
    char *path;
    llm__mapping map;
    bool owns_map;                 /* false for llm_gguf_open_memory */
    uint32_t version, alignment;
    int64_t n_kv, n_tensors;
    llm_gguf_kv *kvs;              /* file order */
    const llm_gguf_kv **kv_by_key; /* sorted by key, for lookups */
    llm_tensor *tensors;           /* file order; data points into map */
    const llm_tensor **by_name;    /* sorted by name */
    uint8_t *arena;                /* keys, names, strings and arrays copied out of the file */
};

/* ---- reading primitives ---- */

typedef struct llm__gguf_rd {
    const uint8_t *base;
    size_t size, pos;
    const char *path;
    char name[128];   /* while measuring: the current key or tensor name, for error messages */
} llm__gguf_rd;

/* The arena: measuring when base is NULL (only `used` grows), filling otherwise. */
typedef struct llm__gguf_arena {
    uint8_t *base;
    size_t used;
} llm__gguf_arena;

static void *llm__gguf_take(llm__gguf_arena *ar, size_t n, size_t align) {
    ar->used = (ar->used + align - 1) / align * align;
    void *p = ar->base ? ar->base + ar->used : NULL;
    ar->used += n;
    return p;
}

static llm_status llm__gguf_need(llm__gguf_rd *r, uint64_t n, const char *what, const char *name) {
    if (n <= r->size - r->pos) return LLM_OK;
    return llm__fail(LLM_ERR_FORMAT, "%s: %s%s%s runs past the end of the file (needs %llu bytes at offset %zu, file has %zu)",
                     r->path, what, name ? " " : "", name ? name : "", (unsigned long long)n, r->pos, r->size);
}

static uint64_t llm__le(const uint8_t *p, int n_bytes) {
    uint64_t v = 0;
    for (int i = n_bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Read an n_bytes little-endian unsigned integer. `what`/`name` describe it for errors. */
static llm_status llm__gguf_uint(llm__gguf_rd *r, int n_bytes, uint64_t *out, const char *what, const char *name) {
    llm_status s = llm__gguf_need(r, (uint64_t)n_bytes, what, name);
    if (s) return s;
    *out = llm__le(r->base + r->pos, n_bytes);
    r->pos += (size_t)n_bytes;
    return LLM_OK;
}

/* A GGUF string, copied NUL-terminated into the arena when filling. A key or tensor name
   (is_name) is also copied, shortened, into r->name while measuring, for error messages. */
static llm_status llm__gguf_string(llm__gguf_rd *r, llm__gguf_arena *ar, llm_gguf_str *out, bool is_name,
                                   const char *what, const char *name) {
    uint64_t len;
    llm_status s = llm__gguf_uint(r, 8, &len, what, name);
    if (!s) s = llm__gguf_need(r, len, what, name);
    if (s) return s;
    const char *src = (const char *)r->base + r->pos;
    char *dst = (char *)llm__gguf_take(ar, (size_t)len + 1, 1);
    if (dst) {
        memcpy(dst, src, (size_t)len);
        dst[len] = 0;
        out->str = dst;
        out->len = len;
    } else if (is_name) {
        snprintf(r->name, sizeof r->name, "%.*s", (int)LLM__MIN(len, sizeof r->name - 1), src);
        out->str = r->name;
        out->len = strlen(r->name);
    }
    r->pos += (size_t)len;
    return LLM_OK;
}

/* ---- metadata ---- */

/* An array value: u32 element type, u64 count, elements. Arrays of scalars are copied into
   aligned arena memory (the file gives no alignment); bools become 0/1. */
static llm_status llm__gguf_array(llm__gguf_rd *r, llm__gguf_arena *ar, llm_gguf_kv *kv) {
    uint64_t type, n;
    llm_status s = llm__gguf_uint(r, 4, &type, "array type of", kv->key);
    if (!s) s = llm__gguf_uint(r, 8, &n, "array length of", kv->key);
    if (s) return s;
    if (type == LLM_GGUF_ARRAY)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: metadata '%s' is an array of arrays (not supported)", r->path, kv->key);
    if (type >= LLM_GGUF_TYPE_COUNT)
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is an array of unknown value type %llu", r->path, kv->key,
                         (unsigned long long)type);
    size_t elem = type == LLM_GGUF_STRING ? 8 : llm__gguf_type_size[type];   /* a string takes at least 8 */
    if (n > (r->size - r->pos) / elem)
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' claims %llu elements, which run past the end of the file",
                         r->path, kv->key, (unsigned long long)n);
    kv->arr_type = (llm_gguf_type)type;
    kv->n = (int64_t)n;
    if (type == LLM_GGUF_STRING) {
        llm_gguf_str *strs = (llm_gguf_str *)llm__gguf_take(ar, (size_t)n * sizeof *strs, sizeof(void *));
        kv->v.arr = strs;
        llm_gguf_str dummy;
        for (uint64_t i = 0; i < n && !s; i++) s = llm__gguf_string(r, ar, strs ? &strs[i] : &dummy, false, "string array", kv->key);
        return s;
    }
    uint8_t *dst = (uint8_t *)llm__gguf_take(ar, (size_t)n * elem, 8);
    kv->v.arr = dst;
    if (dst && type == LLM_GGUF_BOOL)
        for (uint64_t i = 0; i < n; i++) ((bool *)dst)[i] = r->base[r->pos + i] != 0;
    else if (dst)
        memcpy(dst, r->base + r->pos, (size_t)n * elem);   /* GGUF and the host are little-endian */
    r->pos += (size_t)n * elem;
    return LLM_OK;
}

/* One key/value entry into kv (a scratch entry when measuring). */
static llm_status llm__gguf_kv(llm__gguf_rd *r, llm__gguf_arena *ar, llm_gguf_kv *kv, int64_t index) {
    char what[64];
    snprintf(what, sizeof what, "key of metadata entry %lld", (long long)index);
    llm_gguf_str key = { "", 0 };
    uint64_t type;
    llm_status s = llm__gguf_string(r, ar, &key, true, what, NULL);
    memset(kv, 0, sizeof *kv);
    kv->key = key.str;
    kv->n = 1;
    if (!s) s = llm__gguf_uint(r, 4, &type, "value type of", kv->key);
    if (s) return s;
    if (type >= LLM_GGUF_TYPE_COUNT)
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' has unknown value type %llu", r->path, kv->key, (unsigned long long)type);
    kv->type = (llm_gguf_type)type;
    if (type == LLM_GGUF_ARRAY) return llm__gguf_array(r, ar, kv);
    if (type == LLM_GGUF_STRING) return llm__gguf_string(r, ar, &kv->v.str, false, "string value of", kv->key);
    uint64_t v;
    s = llm__gguf_uint(r, llm__gguf_type_size[type], &v, "value of", kv->key);
    if (s) return s;
    switch (kv->type) {
    case LLM_GGUF_U8:   kv->v.u8 = (uint8_t)v; break;
    case LLM_GGUF_I8:   kv->v.i8 = (int8_t)v; break;
    case LLM_GGUF_U16:  kv->v.u16 = (uint16_t)v; break;
    case LLM_GGUF_I16:  kv->v.i16 = (int16_t)v; break;
    case LLM_GGUF_U32:  kv->v.u32 = (uint32_t)v; break;
    case LLM_GGUF_I32:  kv->v.i32 = (int32_t)v; break;
    case LLM_GGUF_U64:  kv->v.u64 = v; break;
    case LLM_GGUF_I64:  kv->v.i64 = (int64_t)v; break;
    case LLM_GGUF_BOOL: kv->v.b = v != 0; break;
    case LLM_GGUF_F32:  { uint32_t u = (uint32_t)v; memcpy(&kv->v.f32, &u, 4); break; }
    default:            memcpy(&kv->v.f64, &v, 8); break;   /* f64 */
    }
    return LLM_OK;
}

/* ---- tensor infos ---- */

typedef struct llm__gguf_info {
    llm_gguf_str name;
    uint32_t n_dims, type;
    uint64_t ne[LLM_MAX_DIMS], offset;
} llm__gguf_info;

static llm_status llm__gguf_info_read(llm__gguf_rd *r, llm__gguf_arena *ar, llm__gguf_info *t, int64_t index) {
    char what[64];
    snprintf(what, sizeof what, "name of tensor %lld", (long long)index);
    uint64_t v;
    memset(t, 0, sizeof *t);
    t->name.str = "";
    llm_status s = llm__gguf_string(r, ar, &t->name, true, what, NULL);
    if (!s) s = llm__gguf_uint(r, 4, &v, "n_dims of tensor", t->name.str);
    if (s) return s;
    if (v > LLM_MAX_DIMS)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has %llu dims (at most %d)", r->path, t->name.str,
                         (unsigned long long)v, LLM_MAX_DIMS);
    t->n_dims = (uint32_t)v;
    for (uint32_t d = 0; d < t->n_dims && !s; d++) s = llm__gguf_uint(r, 8, &t->ne[d], "dims of tensor", t->name.str);
    if (!s) s = llm__gguf_uint(r, 4, &v, "type of tensor", t->name.str);
    t->type = (uint32_t)v;
    if (!s) s = llm__gguf_uint(r, 8, &t->offset, "offset of tensor", t->name.str);
    return s;
}

/* Check one tensor info and turn it into a view: known type, dims product without
   overflow, rows of whole blocks, an aligned data range inside the file. */
static llm_status llm__gguf_info_tensor(llm_gguf *g, const llm__gguf_info *in, size_t data_start, llm_tensor *t) {
    const char *path = g->path, *name = in->name.str;
    bool known = in->type < (uint32_t)LLM__COUNT(llm__ggml_types) && llm__ggml_types[in->type].name;
    if (!known) return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has unknown ggml type %u", path, name, in->type);
    if (llm__ggml_types[in->type].dtype < 0)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has ggml type %s, which llm.h does not support", path, name,
                         llm__ggml_types[in->type].name);
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = (llm_dtype)llm__ggml_types[in->type].dtype;
    t->n_dims = (int32_t)in->n_dims;
    size_t n_elems = 1;
    for (uint32_t d = 0; d < in->n_dims; d++) {
        if (in->ne[d] > (uint64_t)INT64_MAX || !llm__mul_ok(n_elems, (size_t)in->ne[d], &n_elems) || n_elems > (size_t)INT64_MAX)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has dims whose product overflows", path, name);
        t->shape[in->n_dims - 1 - d] = (int64_t)in->ne[d];   /* ggml ne[0] is innermost: reverse */
    }
    const llm_dtype_info *di = llm_dtype_get(t->dtype);
    uint64_t row = in->n_dims > 0 ? in->ne[0] : 1;   /* a scalar is one row of one element */
    if (row % (uint64_t)di->block_elems)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has rows of %llu elements, not a multiple of the %s block size %d",
                         path, name, (unsigned long long)row, di->name, di->block_elems);
    t->n_bytes = llm_dtype_n_bytes(t->dtype, (int64_t)n_elems);
    if (n_elems && !t->n_bytes)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is too large (%zu elements)", path, name, n_elems);
    if (in->offset % g->alignment)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has offset %llu, not a multiple of the alignment %u", path, name,
                         (unsigned long long)in->offset, g->alignment);
    size_t room = data_start <= g->map.size ? g->map.size - data_start : 0;
    if (in->offset > room || t->n_bytes > room - in->offset)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' (%zu bytes at data offset %llu) runs past the end of the file (%zu bytes)",
                         path, name, t->n_bytes, (unsigned long long)in->offset, g->map.size);
    t->data = (void *)(g->map.data + data_start + in->offset);
    return LLM_OK;
}

static int llm__gguf_by_data(const void *a, const void *b) {
    const uint8_t *x = (const uint8_t *)(*(const llm_tensor *const *)a)->data;
    const uint8_t *y = (const uint8_t *)(*(const llm_tensor *const *)b)->data;
    return (x > y) - (x < y);
}
static int llm__gguf_by_name(const void *a, const void *b) {
    return strcmp((*(const llm_tensor *const *)a)->name, (*(const llm_tensor *const *)b)->name);
}
static int llm__gguf_by_key(const void *a, const void *b) {
    return strcmp((*(const llm_gguf_kv *const *)a)->key, (*(const llm_gguf_kv *const *)b)->key);
}

/* Tensors must not overlap and names/keys must be unique: sort, then compare neighbours.
   by_name is used as scratch for the overlap check before it is sorted by name. */
static llm_status llm__gguf_index(llm_gguf *g) {
    for (int64_t i = 0; i < g->n_tensors; i++) g->by_name[i] = &g->tensors[i];
    qsort(g->by_name, (size_t)g->n_tensors, sizeof *g->by_name, llm__gguf_by_data);
    for (int64_t i = 1; i < g->n_tensors; i++) {
        const llm_tensor *a = g->by_name[i - 1], *b = g->by_name[i];
        if ((const uint8_t *)a->data + a->n_bytes > (const uint8_t *)b->data)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", g->path, a->name, b->name);
    }
    qsort(g->by_name, (size_t)g->n_tensors, sizeof *g->by_name, llm__gguf_by_name);
    for (int64_t i = 1; i < g->n_tensors; i++)
        if (strcmp(g->by_name[i - 1]->name, g->by_name[i]->name) == 0)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' appears twice", g->path, g->by_name[i]->name);
    for (int64_t i = 0; i < g->n_kv; i++) g->kv_by_key[i] = &g->kvs[i];
    qsort(g->kv_by_key, (size_t)g->n_kv, sizeof *g->kv_by_key, llm__gguf_by_key);
    for (int64_t i = 1; i < g->n_kv; i++)
        if (strcmp(g->kv_by_key[i - 1]->key, g->kv_by_key[i]->key) == 0)
            return llm__fail(LLM_ERR_FORMAT, "%s: metadata key '%s' appears twice", g->path, g->kv_by_key[i]->key);
    return LLM_OK;
}

/* ---- opening ---- */

/* Magic, version and the two counts; the counts are checked against the bytes left (an
   entry takes at least 13 bytes, a tensor info at least 24) before anything trusts them. */
static llm_status llm__gguf_header(llm_gguf *g, llm__gguf_rd *r) {
    if (r->size < 4 || memcmp(r->base, "GGUF", 4) != 0)
        return llm__fail(LLM_ERR_FORMAT, "%s: not a GGUF file (it does not start with \"GGUF\")", r->path);
    r->pos = 4;
    uint64_t version, n_tensors, n_kv;
    llm_status s = llm__gguf_uint(r, 4, &version, "version", NULL);
    if (s) return s;
    if (version == 1)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: GGUF v1 is not supported (convert the model again with a current llama.cpp)", r->path);
    if (version > 0xffff && (version & 0xffff) == 0)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: big-endian GGUF files are not supported", r->path);
    if (version != 2 && version != 3)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: GGUF version %llu (llm.h reads v2 and v3)", r->path, (unsigned long long)version);
    s = llm__gguf_uint(r, 8, &n_tensors, "tensor count", NULL);
    if (!s) s = llm__gguf_uint(r, 8, &n_kv, "metadata count", NULL);
    if (s) return s;
    if (n_kv > (r->size - r->pos) / 13 || n_tensors > (r->size - r->pos) / 24)
        return llm__fail(LLM_ERR_FORMAT, "%s: header claims %llu metadata entries and %llu tensors, more than the file's %zu bytes can hold",
                         r->path, (unsigned long long)n_kv, (unsigned long long)n_tensors, r->size);
    g->version = (uint32_t)version;
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    return LLM_OK;
}

/* Walk all metadata and tensor infos: measuring (ar->base NULL, entries go to scratch)
   or filling g->kvs and infos. */
static llm_status llm__gguf_walk(llm_gguf *g, llm__gguf_rd *r, llm__gguf_arena *ar, llm__gguf_info *infos) {
    llm_gguf_kv kv;
    llm__gguf_info info;
    llm_status s = LLM_OK;
    for (int64_t i = 0; i < g->n_kv && !s; i++) s = llm__gguf_kv(r, ar, ar->base ? &g->kvs[i] : &kv, i);
    for (int64_t i = 0; i < g->n_tensors && !s; i++) s = llm__gguf_info_read(r, ar, ar->base ? &infos[i] : &info, i);
    return s;
}

/* general.alignment, when present: a u32 power of two and a multiple of 8 (the spec's
   rule; tensor views need their elements naturally aligned). */
static llm_status llm__gguf_alignment(llm_gguf *g) {
    g->alignment = LLM__GGUF_ALIGNMENT;
    for (int64_t i = 0; i < g->n_kv; i++) {
        const llm_gguf_kv *kv = &g->kvs[i];
        if (strcmp(kv->key, "general.alignment") != 0) continue;
        if (kv->type != LLM_GGUF_U32)
            return llm__fail(LLM_ERR_FORMAT, "%s: general.alignment is %s, expected u32", g->path, llm__gguf_type_names[kv->type]);
        if (kv->v.u32 < 8 || (kv->v.u32 & (kv->v.u32 - 1)))
            return llm__fail(LLM_ERR_FORMAT, "%s: general.alignment %u is not a power of two >= 8", g->path, kv->v.u32);
        g->alignment = kv->v.u32;
    }
    return LLM_OK;
}

static llm_status llm__gguf_load(llm_gguf *g) {
    llm__gguf_rd r = { g->map.data, g->map.size, 0, g->path, { 0 } };
    llm_status s = llm__gguf_header(g, &r);
    if (s) return s;
    size_t start = r.pos;
    llm__gguf_arena ar = { NULL, 0 };
    if ((s = llm__gguf_walk(g, &r, &ar, NULL))) return s;
    llm__gguf_info *infos = (llm__gguf_info *)llm__calloc(NULL, (size_t)g->n_tensors, sizeof *infos);
    g->arena = (uint8_t *)llm__alloc(NULL, ar.used);
    g->kvs = (llm_gguf_kv *)llm__calloc(NULL, (size_t)g->n_kv, sizeof *g->kvs);
    g->kv_by_key = (const llm_gguf_kv **)llm__calloc(NULL, (size_t)g->n_kv, sizeof *g->kv_by_key);
    g->tensors = (llm_tensor *)llm__calloc(NULL, (size_t)g->n_tensors, sizeof *g->tensors);
    g->by_name = (const llm_tensor **)llm__calloc(NULL, (size_t)g->n_tensors, sizeof *g->by_name);
    if (!infos || !g->arena || !g->kvs || !g->kv_by_key || !g->tensors || !g->by_name) {
        llm__free(NULL, infos);
        return llm__fail(LLM_ERR_NOMEM, "%s: out of memory for the metadata (%zu bytes)", g->path, ar.used);
    }
    r.pos = start;
    ar = (llm__gguf_arena){ g->arena, 0 };
    s = llm__gguf_walk(g, &r, &ar, infos);   /* cannot fail: the same bytes passed the first walk */
    if (!s) s = llm__gguf_alignment(g);
    size_t data_start = (r.pos + g->alignment - 1) / g->alignment * g->alignment;
    for (int64_t i = 0; i < g->n_tensors && !s; i++) s = llm__gguf_info_tensor(g, &infos[i], data_start, &g->tensors[i]);
    if (!s) s = llm__gguf_index(g);
    llm__free(NULL, infos);
    return s;
}

/* Open from a file (data NULL: map it) or from memory the caller keeps. */
static llm_status llm__gguf_open(const char *path, const void *data, size_t size, llm_gguf **out_gguf) {
    llm_gguf *g = (llm_gguf *)llm__calloc(NULL, 1, sizeof *g);
    if (!g || !(g->path = llm__strdup(NULL, path))) {
        llm__free(NULL, g);
        return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    }
    llm_status s = LLM_OK;
    if (data) {
        g->map.data = (const uint8_t *)data;
        g->map.size = size;
    } else {
        s = llm__map_file(path, &g->map);
        g->owns_map = true;
    }
    if (!s) s = llm__gguf_load(g);
    if (s) { llm_gguf_close(g); return s; }
    *out_gguf = g;
    return LLM_OK;
}

LLM_API llm_status llm_gguf_open(const char *path, llm_gguf **out_gguf) {
    return llm__gguf_open(path, NULL, 0, out_gguf);
}

LLM_API llm_status llm_gguf_open_memory(const void *data, size_t n_bytes, const char *name, llm_gguf **out_gguf) {
    static const uint8_t empty[1];
    return llm__gguf_open(name ? name : "<memory>", data ? data : empty, data ? n_bytes : 0, out_gguf);
}

LLM_API void llm_gguf_close(llm_gguf *g) {
    if (!g) return;
    if (g->owns_map) llm__unmap(&g->map);
    llm__free(NULL, g->path);
    llm__free(NULL, g->arena);
    llm__free(NULL, g->kvs);
    llm__free(NULL, g->kv_by_key);
    llm__free(NULL, g->tensors);
    llm__free(NULL, g->by_name);
    llm__free(NULL, g);
}

LLM_API uint32_t llm_gguf_version(const llm_gguf *g) { return g->version; }
LLM_API uint32_t llm_gguf_alignment(const llm_gguf *g) { return g->alignment; }

/* ---- metadata lookups ---- */

LLM_API int64_t llm_gguf_n_kv(const llm_gguf *g) { return g->n_kv; }

LLM_API const llm_gguf_kv *llm_gguf_kv_at(const llm_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

LLM_API const llm_gguf_kv *llm_gguf_find_kv(const llm_gguf *g, const char *key) {
    int64_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->kv_by_key[mid]->key, key);
        if (c == 0) return g->kv_by_key[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

/* The entry for key with one of the accepted types (a bit mask of 1 << llm_gguf_type). */
static llm_status llm__gguf_typed(const llm_gguf *g, const char *key, unsigned accept, const char *expected,
                                  const llm_gguf_kv **out) {
    const llm_gguf_kv *kv = llm_gguf_find_kv(g, key);
    if (!kv) return llm__fail(LLM_ERR_NOT_FOUND, "%s: no metadata '%s'", g->path, key);
    if (!(accept & (1u << kv->type)))
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is %s, expected %s", g->path, key, llm__gguf_type_names[kv->type], expected);
    *out = kv;
    return LLM_OK;
}

#define LLM__GGUF_INTS ((1u << LLM_GGUF_U8) | (1u << LLM_GGUF_I8) | (1u << LLM_GGUF_U16) | (1u << LLM_GGUF_I16) | \
                        (1u << LLM_GGUF_U32) | (1u << LLM_GGUF_I32) | (1u << LLM_GGUF_U64) | (1u << LLM_GGUF_I64))

/* Element i of n values of integer type `type` at p, as int64_t; false if it does not fit. */
static bool llm__gguf_int_at(llm_gguf_type type, const void *p, int64_t i, int64_t *out) {
    switch (type) {
    case LLM_GGUF_U8:  *out = ((const uint8_t *)p)[i]; return true;
    case LLM_GGUF_I8:  *out = ((const int8_t *)p)[i]; return true;
    case LLM_GGUF_U16: *out = ((const uint16_t *)p)[i]; return true;
    case LLM_GGUF_I16: *out = ((const int16_t *)p)[i]; return true;
    case LLM_GGUF_U32: *out = ((const uint32_t *)p)[i]; return true;
    case LLM_GGUF_I32: *out = ((const int32_t *)p)[i]; return true;
    case LLM_GGUF_I64: *out = ((const int64_t *)p)[i]; return true;
    case LLM_GGUF_U64: *out = (int64_t)((const uint64_t *)p)[i]; return ((const uint64_t *)p)[i] <= (uint64_t)INT64_MAX;
    default: return false;
    }
}

LLM_API llm_status llm_gguf_get_int(const llm_gguf *g, const char *key, int64_t *out) {
    const llm_gguf_kv *kv = NULL;
    llm_status s = llm__gguf_typed(g, key, LLM__GGUF_INTS, "an integer", &kv);
    if (s) return s;
    int64_t v;
    if (!llm__gguf_int_at(kv->type, &kv->v, 0, &v))
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' = %llu does not fit in int64", g->path, key, (unsigned long long)kv->v.u64);
    *out = v;
    return LLM_OK;
}

LLM_API llm_status llm_gguf_get_f32(const llm_gguf *g, const char *key, float *out) {
    const llm_gguf_kv *kv = NULL;
    llm_status s = llm__gguf_typed(g, key, (1u << LLM_GGUF_F32) | (1u << LLM_GGUF_F64), "f32", &kv);
    if (!s) *out = kv->type == LLM_GGUF_F32 ? kv->v.f32 : (float)kv->v.f64;
    return s;
}

LLM_API llm_status llm_gguf_get_bool(const llm_gguf *g, const char *key, bool *out) {
    const llm_gguf_kv *kv = NULL;
    llm_status s = llm__gguf_typed(g, key, 1u << LLM_GGUF_BOOL, "bool", &kv);
    if (!s) *out = kv->v.b;
    return s;
}

LLM_API llm_status llm_gguf_get_str(const llm_gguf *g, const char *key, const char **out) {
    const llm_gguf_kv *kv = NULL;
    llm_status s = llm__gguf_typed(g, key, 1u << LLM_GGUF_STRING, "string", &kv);
    if (!s) *out = kv->v.str.str;
    return s;
}

LLM_API llm_status llm_gguf_get_arr(const llm_gguf *g, const char *key, llm_gguf_type arr_type,
                                    int64_t *out_n, const void **out_data) {
    const llm_gguf_kv *kv = NULL;
    llm_status s = llm__gguf_typed(g, key, 1u << LLM_GGUF_ARRAY, "array", &kv);
    if (s) return s;
    if (kv->arr_type != arr_type)
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is an array of %s, expected %s", g->path, key,
                         llm__gguf_type_names[kv->arr_type],
                         (unsigned)arr_type < LLM_GGUF_TYPE_COUNT ? llm__gguf_type_names[arr_type] : "?");
    *out_n = kv->n;
    *out_data = kv->v.arr;
    return LLM_OK;
}

LLM_API llm_status llm_gguf_arr_int(const llm_gguf_kv *kv, int64_t i, int64_t *out) {
    if (kv->type != LLM_GGUF_ARRAY || !(LLM__GGUF_INTS & (1u << kv->arr_type)))
        return llm__fail(LLM_ERR_FORMAT, "metadata '%s' is not an array of integers", kv->key);
    if (i < 0 || i >= kv->n)
        return llm__fail(LLM_ERR_INVALID_ARG, "metadata '%s': index %lld out of range (%lld elements)", kv->key, (long long)i, (long long)kv->n);
    if (!llm__gguf_int_at(kv->arr_type, kv->v.arr, i, out))
        return llm__fail(LLM_ERR_FORMAT, "metadata '%s'[%lld] does not fit in int64", kv->key, (long long)i);
    return LLM_OK;
}

/* ---- tensors ---- */

LLM_API int64_t llm_gguf_n_tensors(const llm_gguf *g) { return g->n_tensors; }

LLM_API const llm_tensor *llm_gguf_tensor(const llm_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

LLM_API const llm_tensor *llm_gguf_find_tensor(const llm_gguf *g, const char *name) {
    int64_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->by_name[mid]->name, name);
        if (c == 0) return g->by_name[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

LLM_API llm_status llm_gguf_get_tensor(const llm_gguf *g, const char *name, const llm_tensor **out) {
    const llm_tensor *t = llm_gguf_find_tensor(g, name);
    if (!t) return llm__fail(LLM_ERR_NOT_FOUND, "%s: no tensor '%s'", g->path, name);
    *out = t;
    return LLM_OK;
}

/* ---- >>gguf_write: the writer ----
   Everything is validated before the temp file is created; then the header, metadata and
   tensor infos are streamed out, followed by the tensors, each padded to the alignment. */

static int llm__ggml_type_of(llm_dtype dtype) {
    for (int i = 0; i < (int)LLM__COUNT(llm__ggml_types); i++)
        if (llm__ggml_types[i].name && llm__ggml_types[i].dtype == (int)dtype) return i;
    return -1;
}

static llm_status llm__gguf_check_kv(const char *path, const llm_gguf_kv *kvs, int64_t i) {
    const llm_gguf_kv *kv = &kvs[i];
    if (!kv->key) return llm__fail(LLM_ERR_INVALID_ARG, "%s: metadata entry %lld has no key", path, (long long)i);
    if ((unsigned)kv->type >= LLM_GGUF_TYPE_COUNT)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: metadata '%s' has unknown type %d", path, kv->key, (int)kv->type);
    bool is_arr = kv->type == LLM_GGUF_ARRAY;
    if (is_arr && ((unsigned)kv->arr_type >= LLM_GGUF_TYPE_COUNT || kv->arr_type == LLM_GGUF_ARRAY || kv->n < 0 || (kv->n && !kv->v.arr)))
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: metadata '%s' is not a valid array (element type, count, data)", path, kv->key);
    if (kv->type == LLM_GGUF_STRING && !kv->v.str.str && kv->v.str.len)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: metadata '%s' is a string without data", path, kv->key);
    if (strcmp(kv->key, "general.alignment") == 0 && (kv->type != LLM_GGUF_U32 || kv->v.u32 < 8 || (kv->v.u32 & (kv->v.u32 - 1))))
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: general.alignment must be a u32 power of two >= 8", path);
    for (int64_t j = 0; j < i; j++)   /* metadata is small (tens of keys): quadratic is fine */
        if (strcmp(kvs[j].key, kv->key) == 0) return llm__fail(LLM_ERR_INVALID_ARG, "%s: metadata key '%s' given twice", path, kv->key);
    return LLM_OK;
}

static llm_status llm__gguf_check_tensor(const char *path, const llm_tensor *ts, int64_t i) {
    const llm_tensor *t = &ts[i];
    const char *name = t->name ? t->name : "?";
    const llm_dtype_info *di = llm_dtype_get(t->dtype);
    if (!t->name || t->n_dims < 0 || t->n_dims > LLM_MAX_DIMS || !di)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor %lld ('%s') needs a name, a known dtype and 0..%d dims", path, (long long)i, name, LLM_MAX_DIMS);
    if (llm__ggml_type_of(t->dtype) < 0)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s has no GGUF form", path, name, di->name);
    for (int d = 0; d < t->n_dims; d++)
        if (t->shape[d] < 0) return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor '%s' has a negative dim", path, name);
    int64_t row = t->n_dims > 0 ? t->shape[t->n_dims - 1] : 1;
    if (row % di->block_elems)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor '%s' has rows of %lld elements, not a multiple of the %s block size %d",
                         path, name, (long long)row, di->name, di->block_elems);
    int64_t n = llm_tensor_n_elems(t);
    size_t want = llm_dtype_n_bytes(t->dtype, n);
    if (want != t->n_bytes || (want && !t->data))
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor '%s' has %zu bytes, its shape needs %zu", path, name, t->n_bytes, want);
    for (int64_t j = 0; j < i; j++)
        if (strcmp(ts[j].name, t->name) == 0) return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor '%s' given twice", path, name);
    return LLM_OK;
}

typedef struct llm__gguf_w {
    llm__atomic_file af;
    uint64_t pos;
    llm_status s;   /* sticky: the first error; later writes do nothing */
} llm__gguf_w;

static void llm__gguf_put(llm__gguf_w *w, const void *p, size_t n) {
    if (w->s) return;
    w->s = llm__atomic_write(&w->af, p, n);
    w->pos += n;
}

static void llm__gguf_put_uint(llm__gguf_w *w, uint64_t v, int n_bytes) {
    uint8_t b[8];
    for (int i = 0; i < n_bytes; i++) b[i] = (uint8_t)(v >> (8 * i));
    llm__gguf_put(w, b, (size_t)n_bytes);
}

static void llm__gguf_put_str(llm__gguf_w *w, const char *s, uint64_t len) {
    llm__gguf_put_uint(w, len, 8);
    llm__gguf_put(w, s, (size_t)len);
}

static void llm__gguf_pad(llm__gguf_w *w, uint32_t alignment) {
    static const uint8_t zeros[64];
    while (!w->s && w->pos % alignment) llm__gguf_put(w, zeros, (size_t)LLM__MIN(alignment - w->pos % alignment, sizeof zeros));
}

/* One value of a non-array type stored as its C type at p (host little-endian). */
static void llm__gguf_put_value(llm__gguf_w *w, llm_gguf_type type, const void *p) {
    if (type == LLM_GGUF_STRING) {
        const llm_gguf_str *s = (const llm_gguf_str *)p;
        llm__gguf_put_str(w, s->str, s->len);
    } else if (type == LLM_GGUF_BOOL) {
        llm__gguf_put_uint(w, *(const bool *)p ? 1 : 0, 1);
    } else {
        llm__gguf_put(w, p, llm__gguf_type_size[type]);
    }
}

static void llm__gguf_put_kv(llm__gguf_w *w, const llm_gguf_kv *kv) {
    llm__gguf_put_str(w, kv->key, strlen(kv->key));
    llm__gguf_put_uint(w, (uint64_t)kv->type, 4);
    if (kv->type != LLM_GGUF_ARRAY) { llm__gguf_put_value(w, kv->type, &kv->v); return; }
    llm__gguf_put_uint(w, (uint64_t)kv->arr_type, 4);
    llm__gguf_put_uint(w, (uint64_t)kv->n, 8);
    size_t elem = kv->arr_type == LLM_GGUF_STRING ? sizeof(llm_gguf_str) : llm__gguf_type_size[kv->arr_type];
    for (int64_t i = 0; i < kv->n && !w->s; i++) llm__gguf_put_value(w, kv->arr_type, (const uint8_t *)kv->v.arr + (size_t)i * elem);
}

static void llm__gguf_put_info(llm__gguf_w *w, const llm_tensor *t, uint64_t offset) {
    llm__gguf_put_str(w, t->name, strlen(t->name));
    llm__gguf_put_uint(w, (uint64_t)t->n_dims, 4);
    for (int d = t->n_dims - 1; d >= 0; d--) llm__gguf_put_uint(w, (uint64_t)t->shape[d], 8);   /* ggml order */
    llm__gguf_put_uint(w, (uint64_t)llm__ggml_type_of(t->dtype), 4);
    llm__gguf_put_uint(w, offset, 8);
}

LLM_API llm_status llm_gguf_write(const char *path, const llm_gguf_kv *kvs, int64_t n_kv,
                                  const llm_tensor *tensors, int64_t n_tensors) {
    LLM_ASSERT(path && n_kv >= 0 && n_tensors >= 0 && (kvs || !n_kv) && (tensors || !n_tensors));
    uint32_t alignment = LLM__GGUF_ALIGNMENT;
    llm_status s = LLM_OK;
    for (int64_t i = 0; i < n_kv && !s; i++) {
        s = llm__gguf_check_kv(path, kvs, i);
        if (!s && strcmp(kvs[i].key, "general.alignment") == 0) alignment = kvs[i].v.u32;
    }
    for (int64_t i = 0; i < n_tensors && !s; i++) s = llm__gguf_check_tensor(path, tensors, i);
    if (s) return s;

    llm__gguf_w w;
    memset(&w, 0, sizeof w);
    if ((w.s = llm__atomic_open(&w.af, path))) return w.s;
    llm__gguf_put(&w, "GGUF", 4);
    llm__gguf_put_uint(&w, 3, 4);
    llm__gguf_put_uint(&w, (uint64_t)n_tensors, 8);
    llm__gguf_put_uint(&w, (uint64_t)n_kv, 8);
    for (int64_t i = 0; i < n_kv; i++) llm__gguf_put_kv(&w, &kvs[i]);
    uint64_t offset = 0;
    for (int64_t i = 0; i < n_tensors; i++) {
        llm__gguf_put_info(&w, &tensors[i], offset);
        offset += (tensors[i].n_bytes + alignment - 1) / alignment * alignment;
    }
    for (int64_t i = 0; i < n_tensors; i++) {   /* no data section at all without tensors, as gguf-py writes */
        llm__gguf_pad(&w, alignment);
        llm__gguf_put(&w, tensors[i].data, tensors[i].n_bytes);
        if (i == n_tensors - 1) llm__gguf_pad(&w, alignment);
    }
    llm_status c = llm__atomic_close(&w.af, w.s == LLM_OK);
    return w.s ? w.s : c;
}

/* ---- kv builders ---- */

static llm_gguf_kv llm__gguf_kv_new(const char *key, llm_gguf_type type) {
    llm_gguf_kv kv;
    memset(&kv, 0, sizeof kv);
    kv.key = key;
    kv.type = type;
    kv.n = 1;
    return kv;
}

LLM_API llm_gguf_kv llm_gguf_kv_u32(const char *key, uint32_t v) { llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_U32); kv.v.u32 = v; return kv; }
LLM_API llm_gguf_kv llm_gguf_kv_i32(const char *key, int32_t v) { llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_I32); kv.v.i32 = v; return kv; }
LLM_API llm_gguf_kv llm_gguf_kv_f32(const char *key, float v) { llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_F32); kv.v.f32 = v; return kv; }
LLM_API llm_gguf_kv llm_gguf_kv_bool(const char *key, bool v) { llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_BOOL); kv.v.b = v; return kv; }

LLM_API llm_gguf_kv llm_gguf_kv_str(const char *key, const char *v) {
    llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_STRING);
    kv.v.str.str = v;
    kv.v.str.len = strlen(v);
    return kv;
}

LLM_API llm_gguf_kv llm_gguf_kv_arr(const char *key, llm_gguf_type arr_type, int64_t n, const void *data) {
    llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_ARRAY);
    kv.arr_type = arr_type;
    kv.n = n;
    kv.v.arr = data;
    return kv;
}
/* ==== end llm_impl/30_gguf.c ==== */
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
    llm_status s = llm__map_file_zstd(path, (size_t)1 << 40, &f->map);   /* zstd-compressed files too */
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
/* ==== begin llm_impl/32_ggml_quants.c ==== */
/* ---- >>quants: llama.cpp's block-quantized formats, scalar reference code ----
   Block layouts as in ggml (ggml-common.h), dequantization for every format we know and
   quantization for all of them, bit-identical to ggml's quantize_row_*_ref and to gguf-py's
   numpy port (gguf/quants.py), which the tests compare against. Not here: SIMD dot
   products (the kernels); importance-matrix (imatrix) weighted quantization.

   Exactness: every product and sum is its own statement, so no compiler fuses them into
   an FMA (clang contracts only within one expression; GCC not at all in ISO C mode, as
   our Makefile builds; with GCC -std=gnu* and FMA enabled add -ffp-contract=off).
   f16 fields are read and written with the round-to-nearest-even converters of 20_tensor.c.
   Blocks must be 2-byte aligned (4 for q8_K), as they are in GGUF files. */
/* #include "10_internal.h" (already above) */
/* #include "07_api_gguf.h" (already above) */

#define LLM__QK   32    /* elements per block of q4_0 .. q8_0 */
#define LLM__QK_K 256   /* elements per k-quant super-block */

/* Element j of a 32-block sits in nibble j / 16 of qs[j % 16]: low nibbles hold
   elements 0..15, high nibbles 16..31. The q5 formats keep bit 4 of element j in bit j
   of the little-endian u32 qh. */
typedef struct { uint16_t d; uint8_t qs[16]; } llm__block_q4_0;                    /* x = d * (q - 8) */
typedef struct { uint16_t d, m; uint8_t qs[16]; } llm__block_q4_1;                 /* x = d * q + m */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } llm__block_q5_0;     /* x = d * (q - 16) */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } llm__block_q5_1;  /* x = d * q + m */
typedef struct { uint16_t d; int8_t qs[32]; } llm__block_q8_0;                     /* x = d * q */

/* K-quants: a super-block of 256 elements in sub-blocks of 16 or 32, each with its own
   small integer scale (and min) multiplied by the f16 super-block d (and dmin). */
typedef struct {                 /* 16 x 16: x = d * (sc & 15) * q - dmin * (sc >> 4), q 2-bit */
    uint8_t scales[16], qs[64];
    uint16_t d, dmin;
} llm__block_q2_K;
typedef struct {                 /* 16 x 16: x = d * (sc - 32) * (q - (hmask bit ? 0 : 4)), sc 6-bit */
    uint8_t hmask[32], qs[64], scales[12];
    uint16_t d;
} llm__block_q3_K;
typedef struct {                 /* 8 x 32: x = d * sc * q - dmin * m, sc and m 6-bit, q 4-bit */
    uint16_t d, dmin;
    uint8_t scales[12], qs[128];
} llm__block_q4_K;
typedef struct {                 /* as q4_K with a fifth bit per element in qh */
    uint16_t d, dmin;
    uint8_t scales[12], qh[32], qs[128];
} llm__block_q5_K;
typedef struct {                 /* 16 x 16: x = d * sc * (q - 32), sc int8, q 6-bit */
    uint8_t ql[128], qh[64];
    int8_t scales[16];
    uint16_t d;
} llm__block_q6_K;
typedef struct {                 /* x = d * q; bsums (sums of 16 q) speed up dot products */
    float d;
    int8_t qs[256];
    int16_t bsums[16];
} llm__block_q8_K;

_Static_assert(sizeof(llm__block_q4_0) == 18 && sizeof(llm__block_q4_1) == 20 && sizeof(llm__block_q5_0) == 22 &&
               sizeof(llm__block_q5_1) == 24 && sizeof(llm__block_q8_0) == 34, "ggml block sizes");
_Static_assert(sizeof(llm__block_q2_K) == 84 && sizeof(llm__block_q3_K) == 110 && sizeof(llm__block_q4_K) == 144 &&
               sizeof(llm__block_q5_K) == 176 && sizeof(llm__block_q6_K) == 210 && sizeof(llm__block_q8_K) == 292,
               "ggml k-quant block sizes");

/* ---- dequantization: nb blocks from vx into y ---- */

static void llm__dequant_q4_0(const void *vx, float *y, int64_t nb) {
    const llm__block_q4_0 *x = (const llm__block_q4_0 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = llm__f16_to_f32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)((x[i].qs[j] & 15) - 8);
            y[j + 16] = d * (float)((x[i].qs[j] >> 4) - 8);
        }
    }
}

static void llm__dequant_q4_1(const void *vx, float *y, int64_t nb) {
    const llm__block_q4_1 *x = (const llm__block_q4_1 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = llm__f16_to_f32(x[i].d), m = llm__f16_to_f32(x[i].m);
        for (int j = 0; j < 32; j++) {
            float v = d * (float)((x[i].qs[j % 16] >> (4 * (j / 16))) & 15);
            y[j] = v + m;
        }
    }
}

/* The 5-bit value of element j of a q5 block. */
static inline int llm__q5(const uint8_t qs[16], const uint8_t qh[4], int j) {
    int lo = (qs[j % 16] >> (4 * (j / 16))) & 15;
    return lo | (((qh[j / 8] >> (j % 8)) & 1) << 4);
}

static void llm__dequant_q5_0(const void *vx, float *y, int64_t nb) {
    const llm__block_q5_0 *x = (const llm__block_q5_0 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = llm__f16_to_f32(x[i].d);
        for (int j = 0; j < 32; j++) y[j] = d * (float)(llm__q5(x[i].qs, x[i].qh, j) - 16);
    }
}

static void llm__dequant_q5_1(const void *vx, float *y, int64_t nb) {
    const llm__block_q5_1 *x = (const llm__block_q5_1 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = llm__f16_to_f32(x[i].d), m = llm__f16_to_f32(x[i].m);
        for (int j = 0; j < 32; j++) {
            float v = d * (float)llm__q5(x[i].qs, x[i].qh, j);
            y[j] = v + m;
        }
    }
}

static void llm__dequant_q8_0(const void *vx, float *y, int64_t nb) {
    const llm__block_q8_0 *x = (const llm__block_q8_0 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = llm__f16_to_f32(x[i].d);
        for (int j = 0; j < 32; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

/* In q2_K, q3_K and q6_K the 256 elements are two halves of 128; within a half, element
   k takes its low bits from byte k % 32 (of that half's 32 bytes) at shift 2 * (k / 32). */
static void llm__dequant_q2_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q2_K *x = (const llm__block_q2_K *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK_K) {
        float d = llm__f16_to_f32(x[i].d), dmin = llm__f16_to_f32(x[i].dmin);
        for (int j = 0; j < LLM__QK_K; j++) {
            int half = j / 128, k = j % 128, sc = x[i].scales[j / 16];
            int q = (x[i].qs[half * 32 + k % 32] >> (2 * (k / 32))) & 3;
            float dl = d * (float)(sc & 15), ml = dmin * (float)(sc >> 4);
            float v = dl * (float)q;
            y[j] = v - ml;
        }
    }
}

/* q3_K's sixteen 6-bit scales: low 4 bits of scale s in nibble s / 8 of scales[s % 8],
   high 2 bits at shift 2 * (s / 4) of scales[8 + s % 4]; stored plus 32. */
static inline int llm__q3_K_scale(const uint8_t sc[12], int s) {
    int lo = (sc[s % 8] >> (4 * (s / 8))) & 15, hi = (sc[8 + s % 4] >> (2 * (s / 4))) & 3;
    return (lo | hi << 4) - 32;
}

static void llm__dequant_q3_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q3_K *x = (const llm__block_q3_K *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK_K) {
        float d = llm__f16_to_f32(x[i].d);
        for (int j = 0; j < LLM__QK_K; j++) {
            int half = j / 128, k = j % 128;
            int lo = (x[i].qs[half * 32 + k % 32] >> (2 * (k / 32))) & 3;
            int high_set = (x[i].hmask[j % 32] >> (j / 32)) & 1;   /* set means no offset */
            float dl = d * (float)llm__q3_K_scale(x[i].scales, j / 16);
            y[j] = dl * (float)(lo - (high_set ? 0 : 4));
        }
    }
}

/* q4_K and q5_K: sub-block s (32 elements) uses nibble s % 2 of qs[32 * (s / 2) ..], and
   q5_K adds bit s of qh[j % 32] as bit 4. qh NULL means q4_K. */
static void llm__dequant_k4(const uint16_t *dd, const uint8_t *scales, const uint8_t *qh, const uint8_t *qs, float *y) {
    float d = llm__f16_to_f32(dd[0]), dmin = llm__f16_to_f32(dd[1]);
    uint8_t sc[8], m[8];
    llm__k4_scales(scales, sc, m);              /* 23_kernels_ggml.c */
    for (int s = 0; s < 8; s++) {
        float d1 = d * (float)sc[s], m1 = dmin * (float)m[s];
        for (int l = 0; l < 32; l++) {
            int q = (qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 15;
            if (qh) q |= ((qh[l] >> s) & 1) << 4;
            float v = d1 * (float)q;
            y[32 * s + l] = v - m1;
        }
    }
}

static void llm__dequant_q4_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q4_K *x = (const llm__block_q4_K *)vx;
    for (int64_t i = 0; i < nb; i++) llm__dequant_k4(&x[i].d, x[i].scales, NULL, x[i].qs, y + i * LLM__QK_K);
}

static void llm__dequant_q5_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q5_K *x = (const llm__block_q5_K *)vx;
    for (int64_t i = 0; i < nb; i++) llm__dequant_k4(&x[i].d, x[i].scales, x[i].qh, x[i].qs, y + i * LLM__QK_K);
}

/* q6_K: within a half of 128, element k has its low 4 bits in nibble k / 64 of
   ql[64 * half + k % 64] and its high 2 bits at shift 2 * (k / 32) of qh[32 * half + k % 32]. */
static void llm__dequant_q6_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q6_K *x = (const llm__block_q6_K *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK_K) {
        float d = llm__f16_to_f32(x[i].d);
        for (int j = 0; j < LLM__QK_K; j++) {
            int half = j / 128, k = j % 128;
            int lo = (x[i].ql[64 * half + k % 64] >> (4 * (k / 64))) & 15;
            int hi = (x[i].qh[32 * half + k % 32] >> (2 * (k / 32))) & 3;
            float ds = d * (float)x[i].scales[j / 16];
            y[j] = ds * (float)((lo | hi << 4) - 32);
        }
    }
}

static void llm__dequant_q8_K(const void *vx, float *y, int64_t nb) {
    const llm__block_q8_K *x = (const llm__block_q8_K *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK_K)
        for (int j = 0; j < LLM__QK_K; j++) y[j] = x[i].d * (float)x[i].qs[j];
}

/* ---- quantization: nb blocks of x into vy ----
   The rounding follows the references exactly: q8_0 rounds half away from zero; the
   4- and 5-bit formats truncate x * id + offset and clamp; the scale d is computed in
   f32 and only then stored as f16 (so id = 1 / d uses the unrounded d). */

/* The element of largest magnitude, with its sign (the first one on ties). */
static float llm__signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
    return max;
}

static void llm__min_max(const float *x, int n, float *out_min, float *out_max) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < n; j++) { lo = x[j] < lo ? x[j] : lo; hi = x[j] > hi ? x[j] : hi; }
    *out_min = lo;
    *out_max = hi;
}

/* trunc(x * id + offset) clamped to [0, hi] (NaN gives 0). */
static inline int llm__q_trunc(float x, float id, float offset, int hi) {
    float v = x * id;
    v = v + offset;
    return v >= 0.0f ? (v < (float)hi ? (int)v : hi) : 0;
}

static void llm__quant_q8_0(const float *x, void *vy, int64_t nb) {
    llm__block_q8_0 *y = (llm__block_q8_0 *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = LLM__MAX(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = llm__f32_to_f16(d);
        for (int j = 0; j < 32; j++) {
            float v = x[j] * id;   /* |v| <= 127 unless x holds inf or NaN */
            y[i].qs[j] = (int8_t)(v == v ? roundf(LLM__MAX(-127.0f, LLM__MIN(127.0f, v))) : 0.0f);
        }
    }
}

static void llm__quant_q4_0(const float *x, void *vy, int64_t nb) {
    llm__block_q4_0 *y = (llm__block_q4_0 *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK) {
        float d = llm__signed_absmax(x, 32) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = llm__f32_to_f16(d);
        for (int j = 0; j < 16; j++)
            y[i].qs[j] = (uint8_t)(llm__q_trunc(x[j], id, 8.5f, 15) | llm__q_trunc(x[j + 16], id, 8.5f, 15) << 4);
    }
}

static void llm__quant_q4_1(const float *x, void *vy, int64_t nb) {
    llm__block_q4_1 *y = (llm__block_q4_1 *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK) {
        float min, max;
        llm__min_max(x, 32, &min, &max);
        float d = (max - min) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = llm__f32_to_f16(d);
        y[i].m = llm__f32_to_f16(min);
        for (int j = 0; j < 16; j++)
            y[i].qs[j] = (uint8_t)(llm__q_trunc(x[j] - min, id, 0.5f, 15) | llm__q_trunc(x[j + 16] - min, id, 0.5f, 15) << 4);
    }
}

/* Pack 32 5-bit values: low nibbles as in q4, bit 4 of q[j] into bit j of qh. */
static void llm__pack_q5(const int q[32], uint8_t qs[16], uint8_t qh[4]) {
    memset(qh, 0, 4);
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
    for (int j = 0; j < 32; j++) qh[j / 8] |= (uint8_t)((q[j] >> 4) << (j % 8));
}

static void llm__quant_q5_0(const float *x, void *vy, int64_t nb) {
    llm__block_q5_0 *y = (llm__block_q5_0 *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK) {
        float d = llm__signed_absmax(x, 32) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int q[32];
        for (int j = 0; j < 32; j++) q[j] = llm__q_trunc(x[j], id, 16.5f, 31);
        y[i].d = llm__f32_to_f16(d);
        llm__pack_q5(q, y[i].qs, y[i].qh);
    }
}

static void llm__quant_q5_1(const float *x, void *vy, int64_t nb) {
    llm__block_q5_1 *y = (llm__block_q5_1 *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK) {
        float min, max;
        llm__min_max(x, 32, &min, &max);
        float d = (max - min) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int q[32];
        for (int j = 0; j < 32; j++) q[j] = llm__q_trunc(x[j] - min, id, 0.5f, 31);
        y[i].d = llm__f32_to_f16(d);
        y[i].m = llm__f32_to_f16(min);
        llm__pack_q5(q, y[i].qs, y[i].qh);
    }
}

/* ---- k-quant quantization ----
   ggml's reference search (quantize_row_q*_K_ref in ggml-quants.c): fit each sub-block's
   scale (and min) over a few candidate grids, quantize those scales to 4, 6 or 8 bits
   against one f16 scale per super-block, then round every element again against its
   final scale. The float operations are the reference's, in its order, so the bytes are
   identical to it (built without FMA contraction). Sub-blocks whose final scale is 0 keep
   the codes of the fit, as in the reference. */

/* Round half to even, as ggml's nearest_int (which is only used for |x| < 2^22). */
static inline int llm__nearest_int(float x) {
    if (!(fabsf(x) <= 4194303.0f)) return x > 0 ? 4194303 : -4194303;
    return (int)rintf(x);
}

static inline int llm__clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The affine fit x ~ scale * L + min of q2_K, q4_K and q5_K (ggml's make_qkx2_quants):
   n elements, codes 0..nmax, nstep + 1 stretched grids of nmax + rmin + 0.1 k levels,
   weighted squared (or, with mad, absolute) error. */
typedef struct { int n, nmax, nstep; float rmin; bool mad; } llm__kfit;
static const llm__kfit llm__kfit_q2 = { 16, 3, 15, -0.5f, true };
static const llm__kfit llm__kfit_q4 = { 32, 15, 20, -1.0f, false };
static const llm__kfit llm__kfit_q5 = { 32, 31, 15, -0.5f, false };

static float llm__kfit_error(const llm__kfit *f, const float *x, const float *w, const uint8_t *L, float scale, float min) {
    float err = 0;
    for (int i = 0; i < f->n; i++) {
        float diff = scale * (float)L[i];
        diff = diff + min;
        diff = diff - x[i];
        diff = f->mad ? fabsf(diff) : diff * diff;
        float wd = w[i] * diff;
        err += wd;
    }
    return err;
}

/* Codes of x - min on a grid of iscale, with their weighted least-squares sums. */
static void llm__kfit_grid(const llm__kfit *f, const float *x, const float *w, float min, float iscale, uint8_t *L,
                           float *sum_l, float *sum_l2, float *sum_xl) {
    *sum_l = *sum_l2 = *sum_xl = 0;
    for (int i = 0; i < f->n; i++) {
        int l = llm__clamp_int(llm__nearest_int(iscale * (x[i] - min)), 0, f->nmax);
        L[i] = (uint8_t)l;
        float wl = w[i] * (float)l, wll = wl * (float)l, wlx = wl * x[i];
        *sum_l += wl;
        *sum_l2 += wll;
        *sum_xl += wlx;
    }
}

/* Fit L[0..n) in [0, nmax] and min <= 0: the full-range grid first, then the stretched
   grids with their least-squares scale and min. Returns scale; *out_min = -min. */
static float llm__kfit_run(const llm__kfit *f, const float *x, const float *w, uint8_t *L, float *out_min) {
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < f->n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        float wx = w[i] * x[i];
        sum_x += wx;
    }
    if (min > 0) min = 0;
    if (max == min) { memset(L, 0, (size_t)f->n); *out_min = -min; return 0.0f; }
    float iscale = (float)f->nmax / (max - min), scale = 1 / iscale;
    for (int i = 0; i < f->n; i++) L[i] = (uint8_t)llm__clamp_int(llm__nearest_int(iscale * (x[i] - min)), 0, f->nmax);
    float best = llm__kfit_error(f, x, w, L, scale, min);
    for (int k = 0; k <= f->nstep; k++) {
        float levels = 0.1f * (float)k;
        levels = f->rmin + levels;
        levels = levels + (float)f->nmax;
        uint8_t Lk[32];
        float sum_l, sum_l2, sum_xl;
        llm__kfit_grid(f, x, w, min, levels / (max - min), Lk, &sum_l, &sum_l2, &sum_xl);
        float a = sum_w * sum_l2, b = sum_l * sum_l, D = a - b;
        if (!(D > 0)) continue;
        a = sum_w * sum_xl; b = sum_x * sum_l;
        float this_scale = (a - b) / D;
        a = sum_l2 * sum_x; b = sum_l * sum_xl;
        float this_min = (a - b) / D;
        if (this_min > 0) { this_min = 0; this_scale = sum_xl / sum_l2; }
        float err = llm__kfit_error(f, x, w, Lk, this_scale, this_min);
        if (err < best) { memcpy(L, Lk, (size_t)f->n); best = err; scale = this_scale; min = this_min; }
    }
    *out_min = -min;
    return scale;
}

/* q2_K: 16 sub-blocks of 16, 2-bit codes, 4-bit scale and min per sub-block. */
static void llm__quant_q2_K(const float *x, void *vy, int64_t nb) {
    llm__block_q2_K *y = (llm__block_q2_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        uint8_t L[LLM__QK_K];
        float scales[16], mins[16], max_scale = 0, max_min = 0, w[16];
        for (int s = 0; s < 16; s++) {
            for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * s + l]);
            scales[s] = llm__kfit_run(&llm__kfit_q2, x + 16 * s, w, L + 16 * s, &mins[s]);
            if (scales[s] > max_scale) max_scale = scales[s];
            if (mins[s] > max_min) max_min = mins[s];
        }
        memset(y[i].scales, 0, 16);
        float inv = max_scale > 0 ? 15.0f / max_scale : 0.0f, inv_min = max_min > 0 ? 15.0f / max_min : 0.0f;
        for (int s = 0; s < 16 && max_scale > 0; s++) y[i].scales[s] = (uint8_t)llm__nearest_int(inv * scales[s]);
        for (int s = 0; s < 16 && max_min > 0; s++) y[i].scales[s] |= (uint8_t)((unsigned)llm__nearest_int(inv_min * mins[s]) << 4);
        y[i].d = llm__f32_to_f16(max_scale > 0 ? max_scale / 15.0f : 0.0f);
        y[i].dmin = llm__f32_to_f16(max_min > 0 ? max_min / 15.0f : 0.0f);
        for (int s = 0; s < 16; s++) {
            float d = llm__f16_to_f32(y[i].d) * (float)(y[i].scales[s] & 15);
            if (!d) continue;
            float dm = llm__f16_to_f32(y[i].dmin) * (float)(y[i].scales[s] >> 4);
            for (int l = 0; l < 16; l++) L[16 * s + l] = (uint8_t)llm__clamp_int(llm__nearest_int((x[16 * s + l] + dm) / d), 0, 3);
        }
        for (int half = 0; half < 2; half++)   /* the layout of llm__dequant_q2_K */
            for (int l = 0; l < 32; l++) {
                const uint8_t *Lh = L + 128 * half + l;
                y[i].qs[32 * half + l] = (uint8_t)(Lh[0] | Lh[32] << 2 | Lh[64] << 4 | Lh[96] << 6);
            }
    }
}

/* A 6-bit code for v * inv, as the reference computes it (through uint8_t). */
static uint8_t llm__code6(float v, float inv) {
    uint8_t c = (uint8_t)llm__nearest_int(inv * v);
    return c < 63 ? c : 63;
}

/* The shared part of q4_K and q5_K: 8 sub-blocks of 32 with 6-bit scales and mins
   (weights: |x| plus the sub-block's rms); L gets the codes 0..nmax. */
static void llm__quant_k4(const llm__kfit *f, const float *x, uint16_t *d_out, uint16_t *dmin_out, uint8_t packed[12], uint8_t L[256]) {
    float scales[8], mins[8], max_scale = 0, max_min = 0, w[32];
    for (int s = 0; s < 8; s++) {
        const float *xs = x + 32 * s;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) { float sq = xs[l] * xs[l]; sum_x2 += sq; }
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
        scales[s] = llm__kfit_run(f, xs, w, L + 32 * s, &mins[s]);
        if (scales[s] > max_scale) max_scale = scales[s];
        if (mins[s] > max_min) max_min = mins[s];
    }
    float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f, inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    for (int s = 0; s < 8; s++) llm__q4_K_put_scale_min(packed, s, llm__code6(scales[s], inv_scale), llm__code6(mins[s], inv_min));
    *d_out = llm__f32_to_f16(max_scale / 63.0f);
    *dmin_out = llm__f32_to_f16(max_min / 63.0f);
    uint8_t sc[8], m[8];
    llm__k4_scales(packed, sc, m);
    for (int s = 0; s < 8; s++) {
        float d = llm__f16_to_f32(*d_out) * (float)sc[s];
        if (!d) continue;
        float dm = llm__f16_to_f32(*dmin_out) * (float)m[s];
        for (int l = 0; l < 32; l++) L[32 * s + l] = (uint8_t)llm__clamp_int(llm__nearest_int((x[32 * s + l] + dm) / d), 0, f->nmax);
    }
}

static void llm__quant_q4_K(const float *x, void *vy, int64_t nb) {
    llm__block_q4_K *y = (llm__block_q4_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        uint8_t L[LLM__QK_K];
        llm__quant_k4(&llm__kfit_q4, x, &y[i].d, &y[i].dmin, y[i].scales, L);
        for (int s = 0; s < 8; s += 2)
            for (int l = 0; l < 32; l++) y[i].qs[16 * s + l] = (uint8_t)(L[32 * s + l] | L[32 * s + 32 + l] << 4);
    }
}

static void llm__quant_q5_K(const float *x, void *vy, int64_t nb) {
    llm__block_q5_K *y = (llm__block_q5_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        uint8_t L[LLM__QK_K];
        llm__quant_k4(&llm__kfit_q5, x, &y[i].d, &y[i].dmin, y[i].scales, L);
        memset(y[i].qh, 0, 32);
        for (int s = 0; s < 8; s++)
            for (int l = 0; l < 32; l++) y[i].qh[l] |= (uint8_t)((L[32 * s + l] >> 4) << s);
        for (int s = 0; s < 8; s += 2)
            for (int l = 0; l < 32; l++) y[i].qs[16 * s + l] = (uint8_t)((L[32 * s + l] & 15) | (L[32 * s + 32 + l] & 15) << 4);
    }
}

/* q3_K's fit of x[0..16) ~ scale * l, l in [-4, 3] (ggml's make_q3_quants with rmse):
   round on the grid through the largest magnitude, then up to 5 passes that move single
   codes to their least-squares value while that improves sumlx^2 / suml2 (weights x^2).
   L gets l + 4. */
static float llm__q3_fit(const float *x, int8_t L[16]) {
    float amax = 0, max = 0, sumlx = 0, suml2 = 0;
    for (int i = 0; i < 16; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax < 1e-15f) { memset(L, 0, 16); return 0.0f; }
    float iscale = -4.0f / max;
    for (int i = 0; i < 16; i++) {
        int l = llm__clamp_int(llm__nearest_int(iscale * x[i]), -4, 3);
        L[i] = (int8_t)l;
        float w = x[i] * x[i], t = w * x[i], u = w * (float)l;
        t = t * (float)l;
        u = u * (float)l;
        sumlx += t;
        suml2 += u;
    }
    for (int pass = 0; pass < 5; pass++) {
        int n_changed = 0;
        for (int i = 0; i < 16; i++) {
            float w = x[i] * x[i], wx = w * x[i], t = wx * (float)L[i];
            float slx = sumlx - t;
            if (!(slx > 0)) continue;
            float u = w * (float)L[i];
            u = u * (float)L[i];
            float sl2 = suml2 - u, v = x[i] * sl2;
            int new_l = llm__clamp_int(llm__nearest_int(v / slx), -4, 3);
            if (new_l == L[i]) continue;
            t = wx * (float)new_l;
            slx = slx + t;
            u = w * (float)new_l;
            u = u * (float)new_l;
            sl2 = sl2 + u;
            float gain = slx * slx, cur = sumlx * sumlx;
            gain = gain * suml2;
            cur = cur * sl2;
            if (sl2 > 0 && gain > cur) { L[i] = (int8_t)new_l; sumlx = slx; suml2 = sl2; n_changed++; }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < 16; i++) L[i] = (int8_t)(L[i] + 4);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* q3_K: 16 sub-blocks of 16, 3-bit codes (2 low bits in qs, the third in hmask), signed
   6-bit scales. */
static void llm__quant_q3_K(const float *x, void *vy, int64_t nb) {
    llm__block_q3_K *y = (llm__block_q3_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        int8_t L[LLM__QK_K];
        float scales[16], max_scale = 0, amax = 0;
        for (int s = 0; s < 16; s++) {
            scales[s] = llm__q3_fit(x + 16 * s, L + 16 * s);
            if (fabsf(scales[s]) > amax) { amax = fabsf(scales[s]); max_scale = scales[s]; }
        }
        memset(y[i].scales, 0, 12);
        float iscale = max_scale != 0 ? -32.0f / max_scale : 0.0f;
        for (int s = 0; s < 16 && max_scale != 0; s++) {   /* the layout of llm__q3_K_scale */
            int l = llm__clamp_int((int8_t)llm__nearest_int(iscale * scales[s]), -32, 31) + 32;
            y[i].scales[s % 8] |= (uint8_t)((l & 15) << (4 * (s / 8)));
            y[i].scales[8 + s % 4] |= (uint8_t)((l >> 4) << (2 * (s / 4)));
        }
        y[i].d = llm__f32_to_f16(max_scale != 0 ? 1 / iscale : 0.0f);
        for (int s = 0; s < 16; s++) {
            float d = llm__f16_to_f32(y[i].d) * (float)llm__q3_K_scale(y[i].scales, s);
            if (!d) continue;
            for (int l = 0; l < 16; l++) L[16 * s + l] = (int8_t)(llm__clamp_int(llm__nearest_int(x[16 * s + l] / d), -4, 3) + 4);
        }
        memset(y[i].hmask, 0, 32);
        for (int j = 0; j < LLM__QK_K; j++)   /* a set bit means "no -4 offset" */
            if (L[j] > 3) { y[i].hmask[j % 32] |= (uint8_t)(1 << (j / 32)); L[j] = (int8_t)(L[j] - 4); }
        for (int half = 0; half < 2; half++)
            for (int l = 0; l < 32; l++) {
                const int8_t *Lh = L + 128 * half + l;
                y[i].qs[32 * half + l] = (uint8_t)(Lh[0] | Lh[32] << 2 | Lh[64] << 4 | Lh[96] << 6);
            }
    }
}

/* Weighted sums for x ~ scale * l, l = round(iscale * x) in [-32, 31], weights x^2;
   stores l + 32 into L when L is not NULL. */
static void llm__k6_sums(const float *x, float iscale, int8_t *L, float *sumlx, float *suml2) {
    *sumlx = *suml2 = 0;
    for (int i = 0; i < 16; i++) {
        int l = llm__clamp_int(llm__nearest_int(iscale * x[i]), -32, 31);
        if (L) L[i] = (int8_t)(l + 32);
        float w = x[i] * x[i], t = w * x[i], u = w * (float)l;
        t = t * (float)l;
        u = u * (float)l;
        *sumlx += t;
        *suml2 += u;
    }
}

/* Fit x[0..16) ~ scale * l with l in [-32, 31] (ggml's make_qx_quants, rmse_type 1):
   the grid through the largest magnitude, then 18 neighbouring grids, keeping the best
   least-squares scale. L gets l + 32. */
static float llm__k6_fit(const float *x, int8_t L[16]) {
    float amax = 0, max = 0;
    for (int i = 0; i < 16; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax < 1e-15f) { memset(L, 0, 16); return 0.0f; }
    float sumlx, suml2;
    llm__k6_sums(x, -32.0f / max, L, &sumlx, &suml2);
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int k = -9; k <= 9; k++) {
        if (k == 0) continue;
        float levels = 0.1f * (float)k;
        levels = 32.0f + levels;
        float iscale = -levels / max;
        llm__k6_sums(x, iscale, NULL, &sumlx, &suml2);
        float gain = sumlx * sumlx, cur = best * suml2;
        if (suml2 > 0 && gain > cur) {
            llm__k6_sums(x, iscale, L, &sumlx, &suml2);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

static void llm__quant_q6_K(const float *x, void *vy, int64_t nb) {
    llm__block_q6_K *y = (llm__block_q6_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        int8_t L[LLM__QK_K];
        float scales[16], max_scale = 0, max_abs = 0;
        for (int s = 0; s < 16; s++) {
            scales[s] = llm__k6_fit(x + 16 * s, L + 16 * s);
            if (fabsf(scales[s]) > max_abs) { max_abs = fabsf(scales[s]); max_scale = scales[s]; }
        }
        memset(&y[i], 0, sizeof y[i]);
        if (max_abs < 1e-15f) continue;   /* an all-zero block */
        float iscale = -128.0f / max_scale;
        y[i].d = llm__f32_to_f16(1 / iscale);
        for (int s = 0; s < 16; s++) y[i].scales[s] = (int8_t)LLM__MIN(127, llm__nearest_int(iscale * scales[s]));
        for (int s = 0; s < 16; s++) {   /* round again against the stored scales */
            float d = llm__f16_to_f32(y[i].d) * (float)y[i].scales[s];
            if (!d) continue;   /* keeps the fit's L, as the reference does */
            for (int l = 0; l < 16; l++) L[16 * s + l] = (int8_t)(llm__clamp_int(llm__nearest_int(x[16 * s + l] / d), -32, 31) + 32);
        }
        for (int half = 0; half < 2; half++) {   /* the layout of llm__dequant_q6_K */
            const int8_t *Lh = L + 128 * half;
            uint8_t *ql = y[i].ql + 64 * half, *qh = y[i].qh + 32 * half;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((Lh[l] & 15) | (Lh[l + 64] & 15) << 4);
                ql[l + 32] = (uint8_t)((Lh[l + 32] & 15) | (Lh[l + 96] & 15) << 4);
                qh[l] = (uint8_t)((Lh[l] >> 4) | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 | (Lh[l + 96] >> 4) << 6);
            }
        }
    }
}

/* q8_K (the activations' format in k-quant dot products): one f32 scale, codes in
   [-127, 127] through the largest magnitude, and the sums of each 16 codes. */
static void llm__quant_q8_K(const float *x, void *vy, int64_t nb) {
    llm__block_q8_K *y = (llm__block_q8_K *)vy;
    for (int64_t i = 0; i < nb; i++, x += LLM__QK_K) {
        memset(&y[i], 0, sizeof y[i]);
        float max = llm__signed_absmax(x, LLM__QK_K);
        if (max == 0) continue;
        float iscale = -127.0f / max;
        for (int j = 0; j < LLM__QK_K; j++) y[i].qs[j] = (int8_t)LLM__MIN(127, llm__nearest_int(iscale * x[j]));
        for (int j = 0; j < LLM__QK_K; j++) y[i].bsums[j / 16] = (int16_t)(y[i].bsums[j / 16] + y[i].qs[j]);
        y[i].d = 1 / iscale;
    }
}

/* MXFP4 (GGUF type 39, as gpt-oss uses; the OCP microscaling format): 32 e2m1 values with
   a shared e8m0 exponent e, the nibbles ordered as q4_0's. ggml stores the e2m1 values
   doubled (kvalues_mxfp4) and halves the scale: x = kv[q] * 2^(e - 128) (both zero codes +0).
   Dequantization only: no quantizer, no matmul kernel. */
typedef struct { uint8_t e; uint8_t qs[16]; } llm__block_mxfp4;
static const int8_t llm__kvalues_mxfp4[16] = { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 };

static void llm__dequant_mxfp4(const void *vx, float *y, int64_t nb) {
    const llm__block_mxfp4 *x = (const llm__block_mxfp4 *)vx;
    for (int64_t i = 0; i < nb; i++, y += LLM__QK) {
        float d = ldexpf(1.0f, (int)x[i].e - 128);          /* exact, subnormal for e < 2 */
        for (int j = 0; j < 16; j++) {
            y[j] = (float)llm__kvalues_mxfp4[x[i].qs[j] & 15] * d;
            y[j + 16] = (float)llm__kvalues_mxfp4[x[i].qs[j] >> 4] * d;
        }
    }
}

/* ---- public entry points ---- */

typedef void (*llm__dequant_fn)(const void *src, float *dst, int64_t n_blocks);
typedef void (*llm__quant_fn)(const float *src, void *dst, int64_t n_blocks);

static const struct { llm__dequant_fn dequant; llm__quant_fn quant; } llm__quants[LLM_DTYPE_COUNT] = {
    [LLM_DTYPE_Q4_0] = { llm__dequant_q4_0, llm__quant_q4_0 },
    [LLM_DTYPE_Q4_1] = { llm__dequant_q4_1, llm__quant_q4_1 },
    [LLM_DTYPE_Q5_0] = { llm__dequant_q5_0, llm__quant_q5_0 },
    [LLM_DTYPE_Q5_1] = { llm__dequant_q5_1, llm__quant_q5_1 },
    [LLM_DTYPE_Q8_0] = { llm__dequant_q8_0, llm__quant_q8_0 },
    [LLM_DTYPE_Q2_K] = { llm__dequant_q2_K, llm__quant_q2_K },
    [LLM_DTYPE_Q3_K] = { llm__dequant_q3_K, llm__quant_q3_K },
    [LLM_DTYPE_Q4_K] = { llm__dequant_q4_K, llm__quant_q4_K },
    [LLM_DTYPE_Q5_K] = { llm__dequant_q5_K, llm__quant_q5_K },
    [LLM_DTYPE_Q6_K] = { llm__dequant_q6_K, llm__quant_q6_K },
    [LLM_DTYPE_Q8_K] = { llm__dequant_q8_K, llm__quant_q8_K },
    [LLM_DTYPE_MXFP4] = { llm__dequant_mxfp4, NULL },
};

static bool llm__is_float(llm_dtype t) { return t == LLM_DTYPE_F32 || t == LLM_DTYPE_F16 || t == LLM_DTYPE_BF16; }

/* n whole blocks of a dtype that `fn` handles? Sets the error otherwise. */
static llm_status llm__quant_check(const char *who, llm_dtype dtype, int64_t n, bool supported) {
    const llm_dtype_info *di = llm_dtype_get(dtype);
    if (!di) return llm__fail(LLM_ERR_INVALID_ARG, "%s: unknown dtype %d", who, (int)dtype);
    if (!supported) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: dtype %s is not supported", who, di->name);
    if (n < 0 || n % di->block_elems)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: %lld elements are not whole %s blocks of %d", who, (long long)n, di->name, di->block_elems);
    return LLM_OK;
}

LLM_API llm_status llm_dequantize(llm_dtype dtype, const void *src, float *dst, int64_t n) {
    bool known = (unsigned)dtype < LLM_DTYPE_COUNT && (llm__is_float(dtype) || llm__quants[dtype].dequant);
    llm_status s = llm__quant_check("llm_dequantize", dtype, n, known);
    if (s) return s;
    if (llm__is_float(dtype)) llm_convert(LLM_DTYPE_F32, dst, dtype, src, n);
    else llm__quants[dtype].dequant(src, dst, n / llm__dtypes[dtype].block_elems);
    return LLM_OK;
}

LLM_API llm_status llm_quantize(llm_dtype dtype, const float *src, void *dst, int64_t n) {
    bool known = (unsigned)dtype < LLM_DTYPE_COUNT && (llm__is_float(dtype) || llm__quants[dtype].quant);
    llm_status s = llm__quant_check("llm_quantize", dtype, n, known);
    if (s) return s;
    if (llm__is_float(dtype)) llm_convert(dtype, dst, LLM_DTYPE_F32, src, n);
    else llm__quants[dtype].quant(src, dst, n / llm__dtypes[dtype].block_elems);
    return LLM_OK;
}
/* ==== end llm_impl/32_ggml_quants.c ==== */
/* ==== begin llm_impl/33_mlx_quant.c ==== */
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
/* #include "10_internal.h" (already above) */
/* #include "08_api_quant.h" (already above) */

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
/* ==== end llm_impl/33_mlx_quant.c ==== */
/* ==== begin llm_impl/40_utf8.c ==== */
/* ---- >>utf8: UTF-8, Unicode categories, and the tables tokenizers are built from ----
   Tokenizers see text as UTF-8 bytes and reason about code points: a BPE word starts as
   one symbol per code point, the pre-tokenizer regexes ask "is this a letter (\p{L})?",
   byte-level BPE renames every byte to a printable code point. This part holds those
   helpers (categories come from libutf8proc), a growable byte buffer, and two open-
   addressing hash maps: string -> id (the vocabulary) and 64-bit key -> value (merges). */
/* #include "10_internal.h" (already above) */
#include <utf8proc.h>

/* ---- decoding and encoding code points ---- */

/* Decode one code point at s[0..n). Returns its length in bytes (1..4) and stores the code
   point, or returns 0 for an invalid or truncated sequence (overlong forms, surrogates and
   values above U+10FFFF are invalid, as in Rust's and Python's strict decoders). The
   number of leading bytes that form a valid prefix is stored in *valid_prefix for the
   "maximal subpart" replacement rule. */
static int llm__utf8_decode(const uint8_t *s, size_t n, int32_t *cp, int *valid_prefix) {
    uint8_t c = s[0];
    int len, k;
    int32_t v;
    uint8_t lo = 0x80, hi = 0xbf;                 /* allowed range of the second byte */
    *valid_prefix = 0;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xc2 && c <= 0xdf) { len = 2; v = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; v = c & 0x0f; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; v = c & 0x07; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }
    else return 0;
    for (k = 1; k < len; k++) {
        if ((size_t)k >= n) { *valid_prefix = k; return 0; }
        uint8_t b = s[k];
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) { *valid_prefix = k; return 0; }
        v = (v << 6) | (b & 0x3f);
    }
    *cp = v;
    return len;
}

/* Length of the UTF-8 sequence that starts with byte c, 1 for a stray byte. Used to walk
   text already known to be valid. */
static inline int llm__utf8_len(uint8_t c) {
    return c < 0x80 ? 1 : c < 0xe0 ? (c >= 0xc0 ? 2 : 1) : c < 0xf0 ? 3 : c < 0xf8 ? 4 : 1;
}

/* Decode the code point at s (valid UTF-8, at least one byte). */
static inline int32_t llm__utf8_cp(const uint8_t *s, int *len) {
    int n = llm__utf8_len(s[0]);
    int32_t v = n == 1 ? s[0] : n == 2 ? s[0] & 0x1f : n == 3 ? s[0] & 0x0f : s[0] & 0x07;
    for (int k = 1; k < n; k++) v = (v << 6) | (s[k] & 0x3f);
    *len = n;
    return v;
}

static int llm__utf8_encode(int32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xc0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---- Unicode categories (what \p{L}, \p{N}, \p{P}, \s ask) ----
   A category is utf8proc's number (UTF8PROC_CATEGORY_LU = 1 ...); a set of categories is a
   bit mask over those numbers, so \p{L} is one AND. */
#define LLM__CATBIT(c) (1u << UTF8PROC_CATEGORY_##c)
#define LLM__CATS_L (LLM__CATBIT(LU) | LLM__CATBIT(LL) | LLM__CATBIT(LT) | LLM__CATBIT(LM) | LLM__CATBIT(LO))
#define LLM__CATS_M (LLM__CATBIT(MN) | LLM__CATBIT(MC) | LLM__CATBIT(ME))
#define LLM__CATS_N (LLM__CATBIT(ND) | LLM__CATBIT(NL) | LLM__CATBIT(NO))
#define LLM__CATS_P (LLM__CATBIT(PC) | LLM__CATBIT(PD) | LLM__CATBIT(PS) | LLM__CATBIT(PE) | LLM__CATBIT(PI) | \
                     LLM__CATBIT(PF) | LLM__CATBIT(PO))
#define LLM__CATS_S (LLM__CATBIT(SM) | LLM__CATBIT(SC) | LLM__CATBIT(SK) | LLM__CATBIT(SO))
#define LLM__CATS_Z (LLM__CATBIT(ZS) | LLM__CATBIT(ZL) | LLM__CATBIT(ZP))
#define LLM__CATS_C (LLM__CATBIT(CC) | LLM__CATBIT(CF) | LLM__CATBIT(CS) | LLM__CATBIT(CO) | LLM__CATBIT(CN))

/* White_Space, the set Oniguruma and Rust's regex mean by \s (wider than category Z). */
static bool llm__is_space_cp(int32_t c) {
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
           c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* The category bit of a code point. */
static inline uint32_t llm__catbit(int32_t c) { return 1u << utf8proc_category(c); }

/* ---- growable byte buffer ---- */

typedef struct llm__buf {
    char *data;
    size_t len, cap;
    bool oom;                          /* a failed append: checked once at the end */
} llm__buf;

static bool llm__buf_reserve(llm__buf *b, size_t extra) {
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) { b->oom = true; return false; }
        cap *= 2;
    }
    char *d = (char *)realloc(b->data, cap);
    if (!d) { b->oom = true; return false; }
    b->data = d;
    b->cap = cap;
    return true;
}

static void llm__buf_put(llm__buf *b, const void *p, size_t n) {
    if (!llm__buf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

static void llm__buf_free(llm__buf *b) { free(b->data); memset(b, 0, sizeof *b); }

/* Append s[0..n) with every maximal invalid UTF-8 subsequence replaced by U+FFFD (the
   rule of Python's errors="replace" and Rust's from_utf8_lossy). */
static void llm__buf_put_lossy(llm__buf *b, const char *s, size_t n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        int32_t cp;
        int pre, k = llm__utf8_decode(u + i, n - i, &cp, &pre);
        if (k) { i += (size_t)k; continue; }
        llm__buf_put(b, s + run, i - run);
        llm__buf_put(b, "\xef\xbf\xbd", 3);
        i += pre ? (size_t)pre : 1;
        run = i;
    }
    llm__buf_put(b, s + run, n - run);
}

static bool llm__utf8_valid(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int pre, k = llm__utf8_decode((const uint8_t *)s + i, n - i, &cp, &pre);
        if (!k) return false;
        i += (size_t)k;
    }
    return true;
}

/* ---- hash maps ----
   Both maps use open addressing with linear probing in a power-of-two table kept at most
   half full, so a lookup is a hash and a probe or two. */

static inline uint64_t llm__hash_bytes(const void *p, size_t n) {
    const uint8_t *s = (const uint8_t *)p;
    uint64_t h = (uint64_t)n * 0x9e3779b97f4a7c15ull, w;
    for (; n >= 8; s += 8, n -= 8) {                  /* eight bytes a step, then a multiply-xorshift mix */
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    w = 0;
    if (n) memcpy(&w, s, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
    return h ^ (h >> 29);
}

static inline uint64_t llm__hash_u64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

/* string -> int32 id. Keys are borrowed (they live in the tokenizer's string pool). A slot
   holds everything a probe looks at, including a key's first 8 bytes, so a lookup of a
   short key (most tokens) touches one cache line and never the pool. */
typedef struct llm__strslot {
    const char *key;                   /* NULL: empty */
    uint64_t head;                     /* the key's first (up to) 8 bytes, zero-padded */
    uint32_t len, hash;                /* hash: top bits of the key's hash */
    int32_t val;
} llm__strslot;

typedef struct llm__strmap {
    llm__strslot *slots;
    size_t mask;                       /* capacity - 1 */
} llm__strmap;

static bool llm__strmap_init(llm__strmap *m, size_t n_expected) {
    size_t cap = 16;
    while (cap < 2 * n_expected + 2) cap *= 2;
    m->slots = (llm__strslot *)calloc(cap, sizeof *m->slots);
    m->mask = cap - 1;
    return m->slots != NULL;
}

static void llm__strmap_free(llm__strmap *m) { free(m->slots); memset(m, 0, sizeof *m); }

static inline uint64_t llm__str_head(const char *s, size_t n) {
    uint64_t h = 0;
    memcpy(&h, s, n < 8 ? n : 8);
    return h;
}

static inline bool llm__strslot_is(const llm__strslot *e, const char *s, size_t n, uint64_t h, uint64_t head) {
    return e->hash == (uint32_t)(h >> 32) && e->len == n && e->head == head && (n <= 8 || memcmp(e->key + 8, s + 8, n - 8) == 0);
}

static int32_t llm__strmap_get(const llm__strmap *m, const char *s, size_t n) {
    if (!m->slots) return -1;
    uint64_t h = llm__hash_bytes(s, n), head = llm__str_head(s, n);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const llm__strslot *e = &m->slots[i];
        if (!e->key) return -1;
        if (llm__strslot_is(e, s, n, h, head)) return e->val;
    }
}

/* Insert unless present (the first id of a duplicated string wins). The map was sized for
   at most n_expected keys; returns false when it is full. */
static bool llm__strmap_put(llm__strmap *m, const char *s, size_t n, int32_t v) {
    uint64_t h = llm__hash_bytes(s, n), head = llm__str_head(s, n);
    for (size_t i = h & m->mask, probes = 0; probes <= m->mask; i = (i + 1) & m->mask, probes++) {
        llm__strslot *e = &m->slots[i];
        if (!e->key) { *e = (llm__strslot){ s, head, (uint32_t)n, (uint32_t)(h >> 32), v }; return true; }
        if (llm__strslot_is(e, s, n, h, head)) return true;
    }
    return false;
}

/* uint64 key -> int64 value (merges: (left id, right id) -> (rank, merged id)). */
typedef struct llm__u64map {
    uint64_t *keys;                    /* key + 1, so 0 marks an empty slot */
    int64_t *vals;
    size_t mask, n;
} llm__u64map;

static bool llm__u64map_init(llm__u64map *m, size_t n_expected) {
    size_t cap = 16;
    while (cap < 2 * n_expected + 2) cap *= 2;
    m->keys = (uint64_t *)calloc(cap, sizeof *m->keys);
    m->vals = (int64_t *)calloc(cap, sizeof *m->vals);
    m->mask = cap - 1;
    m->n = 0;
    return m->keys && m->vals;
}

static void llm__u64map_free(llm__u64map *m) { free(m->keys); free(m->vals); memset(m, 0, sizeof *m); }

static bool llm__u64map_get(const llm__u64map *m, uint64_t key, int64_t *val) {
    if (!m->keys) return false;
    for (size_t i = llm__hash_u64(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == 0) return false;
        if (m->keys[i] == key + 1) { *val = m->vals[i]; return true; }
    }
}

/* Insert; an existing key keeps its first value. Grows when half full. */
static bool llm__u64map_put(llm__u64map *m, uint64_t key, int64_t val) {
    if (2 * (m->n + 1) > m->mask + 1) {
        llm__u64map big;
        if (!llm__u64map_init(&big, (m->mask + 1))) { llm__u64map_free(&big); return false; }
        for (size_t i = 0; i <= m->mask; i++)
            if (m->keys[i]) llm__u64map_put(&big, m->keys[i] - 1, m->vals[i]);
        llm__u64map_free(m);
        *m = big;
    }
    for (size_t i = llm__hash_u64(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == key + 1) return true;
        if (m->keys[i] == 0) { m->keys[i] = key + 1; m->vals[i] = val; m->n++; return true; }
    }
}

/* ---- byte-level BPE's byte <-> code point renaming (GPT-2's bytes_to_unicode) ----
   Printable Latin-1 bytes stand for themselves; the other 68 bytes, in order, get U+0100..
   U+0143, so a space is "Ġ" (U+0120) and a newline "Ċ" (U+010A). */
static const uint8_t llm__bytelevel_unprintable[68] = {
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 127,
        128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144,
        145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 173,
};

static inline bool llm__bytelevel_printable(int32_t c) {
    return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
}

static int32_t llm__bytelevel_cp(uint8_t b) {
    if (llm__bytelevel_printable(b)) return b;
    int k = 0;
    while (llm__bytelevel_unprintable[k] != b) k++;
    return 256 + k;
}

/* The byte a byte-level code point stands for, or -1. */
static int llm__bytelevel_byte(int32_t cp) {
    if (cp < 256) return llm__bytelevel_printable(cp) ? cp : -1;
    return cp < 256 + 68 ? llm__bytelevel_unprintable[cp - 256] : -1;
}

/* "<0x41>" -> 0x41, else -1 (the byte-fallback token spelling). */
static int llm__byte_token_value(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}
/* ==== end llm_impl/40_utf8.c ==== */
/* ==== begin llm_impl/41_regex.c ==== */
/* ---- >>regex: the small matcher behind Split pre-tokenizers ----
   Byte-level tokenizers cut text into words with a regex before BPE, e.g. Llama 3's
     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
   This is not a general regex engine: it knows what such patterns use - literals, classes
   with ranges and Unicode categories (\p{L} \p{N} \p{P} ... \s \d \w and negations),
   '.', alternation, groups ((...), (?:...), (?i:...)), greedy and lazy quantifiers
   (* + ? {n,m}), look-ahead (?=...) (?!...) and ^ $ - with Perl's leftmost-first semantics
   (the ones Oniguruma and fancy-regex give HF). Patterns are parsed to a tree, compiled to
   a tiny instruction list, and run by a backtracking machine over code points.
   Hostile patterns are bounded: a step budget per search and a nesting limit. */
/* #include "10_internal.h" (already above) */

enum { LLM__RE_CHAR, LLM__RE_CLASS, LLM__RE_ANY, LLM__RE_SPLIT, LLM__RE_JMP, LLM__RE_LOOK, LLM__RE_BOL, LLM__RE_EOL,
       LLM__RE_MATCH };

typedef struct llm__re_inst {
    uint8_t op;
    uint8_t flag;          /* CHAR: case-insensitive; CLASS: case-insensitive; LOOK: negative */
    int32_t x, y;          /* CHAR: code point, its lowercase; CLASS: class index; SPLIT: preferred, other; JMP: x; LOOK: end */
} llm__re_inst;

/* A class is a list of items; it matches if any item matches, then `neg` flips it. */
typedef struct llm__re_item { int32_t lo, hi; uint32_t cats; bool space, neg; } llm__re_item;
typedef struct llm__re_class {
    llm__re_item *items;
    int n;
    bool neg;
    uint64_t ascii[2][2];      /* [case-insensitive][cp >> 6]: the answer for ASCII, precomputed */
} llm__re_class;

/* Parse tree node. */
enum { LLM__RN_CHAR, LLM__RN_CLASS, LLM__RN_ANY, LLM__RN_CAT, LLM__RN_ALT, LLM__RN_REP, LLM__RN_LOOK, LLM__RN_BOL,
       LLM__RN_EOL, LLM__RN_EMPTY };
typedef struct llm__re_node {
    int type;
    int32_t cp;                      /* CHAR */
    int cls;                         /* CLASS */
    bool icase, greedy, neg;
    int min, max;                    /* REP; max -1 = unbounded */
    struct llm__re_node **kids;      /* CAT, ALT: n_kids; REP, LOOK: kids[0] */
    int n_kids;
} llm__re_node;

typedef struct llm__regex {
    llm__re_inst *code;
    int n_code, cap_code;
    llm__re_class *classes;
    int n_classes;
} llm__regex;

typedef struct llm__re_parser {
    const char *p, *end;
    llm__regex *re;
    const char *err;                 /* first error, NULL if none */
    int depth;
} llm__re_parser;

#define LLM__RE_MAX_DEPTH 64
#define LLM__RE_MAX_CODE 100000
#define LLM__RE_STEP_BUDGET 10000000

static void llm__re_node_free(llm__re_node *n) {
    if (!n) return;
    for (int i = 0; i < n->n_kids; i++) llm__re_node_free(n->kids[i]);
    free(n->kids);
    free(n);
}

static llm__re_node *llm__re_new(llm__re_parser *ps, int type) {
    llm__re_node *n = (llm__re_node *)calloc(1, sizeof *n);
    if (!n) { ps->err = "out of memory"; return NULL; }
    n->type = type;
    return n;
}

static bool llm__re_add_kid(llm__re_parser *ps, llm__re_node *n, llm__re_node *kid) {
    llm__re_node **k = (llm__re_node **)realloc(n->kids, (size_t)(n->n_kids + 1) * sizeof *k);
    if (!k) { ps->err = "out of memory"; llm__re_node_free(kid); return false; }
    n->kids = k;
    n->kids[n->n_kids++] = kid;
    return true;
}

static int32_t llm__re_next_cp(llm__re_parser *ps) {
    int32_t cp;
    int pre, k = llm__utf8_decode((const uint8_t *)ps->p, (size_t)(ps->end - ps->p), &cp, &pre);
    if (!k) { ps->err = "invalid UTF-8 in pattern"; ps->p = ps->end; return 0; }
    ps->p += k;
    return cp;
}

/* \p{Name} / \P{Name}: the category mask, 0 if unknown. */
static uint32_t llm__re_category(const char *name, size_t n) {
    static const struct { const char *name; uint32_t cats; } table[] = {
        { "L", LLM__CATS_L }, { "Letter", LLM__CATS_L }, { "N", LLM__CATS_N }, { "Number", LLM__CATS_N },
        { "P", LLM__CATS_P }, { "Punctuation", LLM__CATS_P }, { "S", LLM__CATS_S }, { "Symbol", LLM__CATS_S },
        { "M", LLM__CATS_M }, { "Mark", LLM__CATS_M }, { "Z", LLM__CATS_Z }, { "Separator", LLM__CATS_Z },
        { "C", LLM__CATS_C }, { "Other", LLM__CATS_C },
        { "Lu", LLM__CATBIT(LU) }, { "Ll", LLM__CATBIT(LL) }, { "Lt", LLM__CATBIT(LT) }, { "Lm", LLM__CATBIT(LM) },
        { "Lo", LLM__CATBIT(LO) }, { "Mn", LLM__CATBIT(MN) }, { "Mc", LLM__CATBIT(MC) }, { "Me", LLM__CATBIT(ME) },
        { "Nd", LLM__CATBIT(ND) }, { "Nl", LLM__CATBIT(NL) }, { "No", LLM__CATBIT(NO) }, { "Zs", LLM__CATBIT(ZS) },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strlen(table[i].name) == n && memcmp(table[i].name, name, n) == 0) return table[i].cats;
    return 0;
}

/* Parse an escape after '\' into a class item (for \p \s \d \w and friends) or a literal.
   Returns true and fills *item for a set, false and *cp for a literal. */
static bool llm__re_escape(llm__re_parser *ps, llm__re_item *item, int32_t *cp) {
    memset(item, 0, sizeof *item);
    if (ps->p >= ps->end) { ps->err = "pattern ends with '\\'"; return false; }
    char c = *ps->p++;
    switch (c) {
    case 'p': case 'P': {
        item->neg = c == 'P';
        const char *name = ps->p;
        size_t n = 1;
        if (ps->p < ps->end && *ps->p == '{') {
            const char *close = memchr(ps->p, '}', (size_t)(ps->end - ps->p));
            if (!close) { ps->err = "unterminated \\p{...}"; return false; }
            name = ps->p + 1;
            n = (size_t)(close - name);
            ps->p = close + 1;
        } else if (ps->p < ps->end) ps->p++;
        else { ps->err = "pattern ends after \\p"; return false; }
        item->cats = llm__re_category(name, n);
        if (!item->cats) ps->err = "unknown Unicode category in \\p{...}";
        return true;
    }
    case 's': case 'S': item->space = true; item->neg = c == 'S'; return true;
    case 'd': case 'D': item->cats = LLM__CATBIT(ND); item->neg = c == 'D'; return true;
    case 'w': case 'W':
        item->cats = LLM__CATS_L | LLM__CATS_M | LLM__CATBIT(ND) | LLM__CATBIT(PC);
        item->neg = c == 'W';
        return true;
    case 'n': *cp = '\n'; return false;
    case 'r': *cp = '\r'; return false;
    case 't': *cp = '\t'; return false;
    case 'f': *cp = '\f'; return false;
    case 'v': *cp = '\v'; return false;
    default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            ps->err = "unsupported escape in pattern";
            return false;
        }
        ps->p--;
        *cp = llm__re_next_cp(ps);    /* \. \( \\ \' ... stand for themselves */
        return false;
    }
}

static int llm__re_add_class(llm__re_parser *ps, llm__re_class cls) {
    llm__regex *re = ps->re;
    llm__re_class *c = (llm__re_class *)realloc(re->classes, (size_t)(re->n_classes + 1) * sizeof *c);
    if (!c) { ps->err = "out of memory"; free(cls.items); return 0; }
    re->classes = c;
    re->classes[re->n_classes] = cls;
    return re->n_classes++;
}

static bool llm__re_class_push(llm__re_parser *ps, llm__re_class *cls, llm__re_item it) {
    llm__re_item *items = (llm__re_item *)realloc(cls->items, (size_t)(cls->n + 1) * sizeof *items);
    if (!items) { ps->err = "out of memory"; return false; }
    cls->items = items;
    cls->items[cls->n++] = it;
    return true;
}

/* [...] after the '['. */
static llm__re_node *llm__re_parse_class(llm__re_parser *ps, bool icase) {
    llm__re_class cls = { 0 };
    if (ps->p < ps->end && *ps->p == '^') { cls.neg = true; ps->p++; }
    bool first = true;
    while (!ps->err) {
        if (ps->p >= ps->end) { ps->err = "unterminated [...]"; break; }
        if (*ps->p == ']' && !first) { ps->p++; break; }
        first = false;
        llm__re_item it = { 0 };
        int32_t lo;
        if (*ps->p == '\\') {
            ps->p++;
            if (llm__re_escape(ps, &it, &lo)) { llm__re_class_push(ps, &cls, it); continue; }
        } else lo = llm__re_next_cp(ps);
        int32_t hi = lo;
        if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
            ps->p++;
            if (*ps->p == '\\') { ps->p++; if (llm__re_escape(ps, &it, &hi)) { ps->err = "class range ends in a set"; break; } }
            else hi = llm__re_next_cp(ps);
            if (hi < lo) { ps->err = "reversed range in [...]"; break; }
        }
        it.lo = lo; it.hi = hi; it.neg = false; it.cats = 0; it.space = false;
        llm__re_class_push(ps, &cls, it);
    }
    if (ps->err) { free(cls.items); return NULL; }
    llm__re_node *n = llm__re_new(ps, LLM__RN_CLASS);
    if (!n) { free(cls.items); return NULL; }
    n->icase = icase;
    n->cls = llm__re_add_class(ps, cls);
    return n;
}

static llm__re_node *llm__re_parse_alt(llm__re_parser *ps, bool icase);

/* ( ... ) in its forms: (...), (?:...), (?i:...), (?i) (rest of group), (?=...), (?!...). */
static llm__re_node *llm__re_parse_group(llm__re_parser *ps, bool *icase) {
    bool look = false, neg = false, sub_icase = *icase;
    if (ps->p < ps->end && *ps->p == '?') {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '=' || *ps->p == '!')) { look = true; neg = *ps->p == '!'; ps->p++; }
        else {
            bool on = true;
            while (ps->p < ps->end && *ps->p != ':' && *ps->p != ')') {
                char f = *ps->p++;
                if (f == '-') on = false;
                else if (f == 'i') sub_icase = on;
                else { ps->err = "unsupported group flag"; return NULL; }
            }
            if (ps->p < ps->end && *ps->p == ')') { ps->p++; *icase = sub_icase; return llm__re_new(ps, LLM__RN_EMPTY); }
            if (ps->p >= ps->end) { ps->err = "unterminated group"; return NULL; }
            ps->p++;                                        /* ':' */
        }
    }
    llm__re_node *body = llm__re_parse_alt(ps, sub_icase);
    if (!body) return NULL;
    if (ps->p >= ps->end || *ps->p != ')') { llm__re_node_free(body); ps->err = "missing ')'"; return NULL; }
    ps->p++;
    if (!look) return body;
    llm__re_node *n = llm__re_new(ps, LLM__RN_LOOK);
    if (!n || !llm__re_add_kid(ps, n, body)) { llm__re_node_free(n); if (!n) llm__re_node_free(body); return NULL; }
    n->neg = neg;
    return n;
}

static llm__re_node *llm__re_parse_atom(llm__re_parser *ps, bool *icase) {
    char c = *ps->p;
    if (c == '(') {
        if (++ps->depth > LLM__RE_MAX_DEPTH) { ps->err = "pattern nests too deeply"; return NULL; }
        ps->p++;
        llm__re_node *n = llm__re_parse_group(ps, icase);
        ps->depth--;
        return n;
    }
    if (c == '[') { ps->p++; return llm__re_parse_class(ps, *icase); }
    if (c == '.') { ps->p++; return llm__re_new(ps, LLM__RN_ANY); }
    if (c == '^') { ps->p++; return llm__re_new(ps, LLM__RN_BOL); }
    if (c == '$') { ps->p++; return llm__re_new(ps, LLM__RN_EOL); }
    if (c == '*' || c == '+' || c == '?' || c == '{') { ps->err = "quantifier without an operand"; return NULL; }
    int32_t cp;
    if (c == '\\') {
        ps->p++;
        llm__re_item it;
        if (llm__re_escape(ps, &it, &cp)) {
            if (ps->err) return NULL;
            llm__re_class cls = { 0 };
            if (!llm__re_class_push(ps, &cls, it)) return NULL;
            llm__re_node *n = llm__re_new(ps, LLM__RN_CLASS);
            if (!n) { free(cls.items); return NULL; }
            n->cls = llm__re_add_class(ps, cls);
            return n;
        }
    } else cp = llm__re_next_cp(ps);
    if (ps->err) return NULL;
    llm__re_node *n = llm__re_new(ps, LLM__RN_CHAR);
    if (n) { n->cp = cp; n->icase = *icase; }
    return n;
}

/* Parse a quantifier after an atom into min/max/greedy; false if none follows. */
static bool llm__re_quantifier(llm__re_parser *ps, int *min, int *max, bool *greedy) {
    if (ps->p >= ps->end) return false;
    char c = *ps->p;
    if (c == '*') { *min = 0; *max = -1; }
    else if (c == '+') { *min = 1; *max = -1; }
    else if (c == '?') { *min = 0; *max = 1; }
    else if (c == '{') {
        const char *q = ps->p + 1;
        int a = 0, b;
        if (q >= ps->end || *q < '0' || *q > '9') return false;    /* a literal '{' */
        while (q < ps->end && *q >= '0' && *q <= '9' && a < 10000) a = a * 10 + (*q++ - '0');
        b = a;
        if (q < ps->end && *q == ',') {
            q++;
            b = -1;
            if (q < ps->end && *q >= '0' && *q <= '9') for (b = 0; q < ps->end && *q >= '0' && *q <= '9' && b < 10000;) b = b * 10 + (*q++ - '0');
        }
        if (q >= ps->end || *q != '}' || a > 1000 || b > 1000 || (b >= 0 && b < a)) { ps->err = "bad {m,n} quantifier"; return false; }
        *min = a; *max = b;
        ps->p = q;
    } else return false;
    ps->p++;
    *greedy = true;
    if (ps->p < ps->end && (*ps->p == '?' || *ps->p == '+')) *greedy = *ps->p++ != '?';   /* possessive ~ greedy */
    return true;
}

static llm__re_node *llm__re_parse_cat(llm__re_parser *ps, bool icase) {
    llm__re_node *cat = llm__re_new(ps, LLM__RN_CAT);
    while (cat && !ps->err && ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
        llm__re_node *atom = llm__re_parse_atom(ps, &icase);
        if (!atom) break;
        int min, max;
        bool greedy;
        while (!ps->err && llm__re_quantifier(ps, &min, &max, &greedy)) {
            llm__re_node *rep = llm__re_new(ps, LLM__RN_REP);
            if (!rep || !llm__re_add_kid(ps, rep, atom)) { if (!rep) llm__re_node_free(atom); llm__re_node_free(rep); atom = NULL; break; }
            rep->min = min; rep->max = max; rep->greedy = greedy;
            atom = rep;
        }
        if (!atom || ps->err) { llm__re_node_free(atom); break; }
        if (!llm__re_add_kid(ps, cat, atom)) break;
    }
    if (ps->err) { llm__re_node_free(cat); return NULL; }
    return cat;
}

static llm__re_node *llm__re_parse_alt(llm__re_parser *ps, bool icase) {
    llm__re_node *alt = llm__re_new(ps, LLM__RN_ALT);
    while (alt) {
        llm__re_node *cat = llm__re_parse_cat(ps, icase);
        if (!cat || !llm__re_add_kid(ps, alt, cat)) { llm__re_node_free(alt); return NULL; }
        if (ps->p < ps->end && *ps->p == '|') { ps->p++; continue; }
        break;
    }
    return alt;
}

/* ---- compiling the tree to instructions ---- */

static bool llm__re_nullable(const llm__re_node *n) {
    switch (n->type) {
    case LLM__RN_CHAR: case LLM__RN_CLASS: case LLM__RN_ANY: return false;
    case LLM__RN_CAT: for (int i = 0; i < n->n_kids; i++) if (!llm__re_nullable(n->kids[i])) return false; return true;
    case LLM__RN_ALT: for (int i = 0; i < n->n_kids; i++) if (llm__re_nullable(n->kids[i])) return true; return false;
    case LLM__RN_REP: return n->min == 0 || llm__re_nullable(n->kids[0]);
    default: return true;
    }
}

static int llm__re_emit(llm__regex *re, int op, int flag, int32_t x, int32_t y) {
    if (re->n_code >= LLM__RE_MAX_CODE) return -1;
    if (re->n_code == re->cap_code) {
        int cap = re->cap_code ? 2 * re->cap_code : 64;
        llm__re_inst *c = (llm__re_inst *)realloc(re->code, (size_t)cap * sizeof *c);
        if (!c) return -1;
        re->code = c;
        re->cap_code = cap;
    }
    re->code[re->n_code] = (llm__re_inst){ (uint8_t)op, (uint8_t)flag, x, y };
    return re->n_code++;
}

/* Emit code for n; false when the program would be too large (or no memory). */
static bool llm__re_gen(llm__regex *re, const llm__re_node *n) {
    int at;
    switch (n->type) {
    case LLM__RN_CHAR: return llm__re_emit(re, LLM__RE_CHAR, n->icase, n->cp, utf8proc_tolower(n->cp)) >= 0;
    case LLM__RN_CLASS: return llm__re_emit(re, LLM__RE_CLASS, n->icase, n->cls, 0) >= 0;
    case LLM__RN_ANY: return llm__re_emit(re, LLM__RE_ANY, 0, 0, 0) >= 0;
    case LLM__RN_BOL: return llm__re_emit(re, LLM__RE_BOL, 0, 0, 0) >= 0;
    case LLM__RN_EOL: return llm__re_emit(re, LLM__RE_EOL, 0, 0, 0) >= 0;
    case LLM__RN_EMPTY: return true;
    case LLM__RN_CAT:
        for (int i = 0; i < n->n_kids; i++) if (!llm__re_gen(re, n->kids[i])) return false;
        return true;
    case LLM__RN_ALT: {
        /* SPLIT k1, next; k1; JMP end; next: SPLIT k2, next2; ... ; last kid */
        int jumps[256], n_jumps = 0;
        if (n->n_kids > 256) return false;
        for (int i = 0; i < n->n_kids; i++) {
            int split = -1;
            if (i + 1 < n->n_kids && (split = llm__re_emit(re, LLM__RE_SPLIT, 0, re->n_code + 1, 0)) < 0) return false;
            if (!llm__re_gen(re, n->kids[i])) return false;
            if (i + 1 < n->n_kids) {
                if ((jumps[n_jumps++] = llm__re_emit(re, LLM__RE_JMP, 0, 0, 0)) < 0) return false;
                re->code[split].y = re->n_code;
            }
        }
        for (int i = 0; i < n_jumps; i++) re->code[jumps[i]].x = re->n_code;
        return true;
    }
    case LLM__RN_REP: {
        const llm__re_node *kid = n->kids[0];
        int max = n->max < 0 && llm__re_nullable(kid) ? n->min + 1 : n->max;   /* (x*)* would loop forever */
        for (int i = 0; i < n->min; i++) if (!llm__re_gen(re, kid)) return false;
        if (max < 0) {                                  /* L: SPLIT body, out; body; JMP L; out: */
            int loop = llm__re_emit(re, LLM__RE_SPLIT, 0, 0, 0);
            if (loop < 0 || !llm__re_gen(re, kid) || llm__re_emit(re, LLM__RE_JMP, 0, loop, 0) < 0) return false;
            re->code[loop].x = n->greedy ? loop + 1 : re->n_code;
            re->code[loop].y = n->greedy ? re->n_code : loop + 1;
            return true;
        }
        int splits[1001], n_splits = 0;                 /* (x(x)?)? : every optional copy exits to the end */
        for (int i = n->min; i < max; i++) {
            if ((splits[n_splits++] = llm__re_emit(re, LLM__RE_SPLIT, 0, 0, 0)) < 0 || !llm__re_gen(re, kid)) return false;
        }
        for (int i = 0; i < n_splits; i++) {
            int s = splits[i];
            re->code[s].x = n->greedy ? s + 1 : re->n_code;
            re->code[s].y = n->greedy ? re->n_code : s + 1;
        }
        return true;
    }
    case LLM__RN_LOOK:
        at = llm__re_emit(re, LLM__RE_LOOK, n->neg, 0, 0);
        if (at < 0 || !llm__re_gen(re, n->kids[0]) || llm__re_emit(re, LLM__RE_MATCH, 0, 0, 0) < 0) return false;
        re->code[at].y = re->n_code;
        return true;
    }
    return false;
}

LLM_PRIVATE void llm__regex_free(llm__regex *re) {
    if (!re) return;
    for (int i = 0; i < re->n_classes; i++) free(re->classes[i].items);
    free(re->classes);
    free(re->code);
    free(re);
}

static bool llm__re_class_match(const llm__re_class *c, int32_t cp);
static bool llm__re_class_match_icase(const llm__re_class *c, int32_t cp);

/* Compile `pattern` (UTF-8). `what` names the source in errors. Free with llm__regex_free. */
LLM_PRIVATE llm_status llm__regex_compile(const char *pattern, const char *what, llm__regex **out) {
    llm__regex *re = (llm__regex *)calloc(1, sizeof *re);
    if (!re) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory compiling a regex", what);
    llm__re_parser ps = { pattern, pattern + strlen(pattern), re, NULL, 0 };
    llm__re_node *root = llm__re_parse_alt(&ps, false);
    if (root && ps.p != ps.end) ps.err = "unbalanced ')'";
    if (!ps.err && !(llm__re_gen(re, root) && llm__re_emit(re, LLM__RE_MATCH, 0, 0, 0) >= 0)) ps.err = "pattern too large";
    llm__re_node_free(root);
    for (int i = 0; i < re->n_classes; i++)
        for (int32_t cp = 0; cp < 128; cp++) {
            llm__re_class *c = &re->classes[i];
            if (llm__re_class_match(c, cp)) c->ascii[0][cp >> 6] |= 1ull << (cp & 63);
            if (llm__re_class_match_icase(c, cp)) c->ascii[1][cp >> 6] |= 1ull << (cp & 63);
        }
    if (ps.err) {
        llm__regex_free(re);
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: regex /%.200s/: %s", what, pattern, ps.err);
    }
    *out = re;
    return LLM_OK;
}

/* ---- matching ---- */

static bool llm__re_class_match(const llm__re_class *c, int32_t cp) {
    uint32_t bit = 0;
    for (int i = 0; i < c->n; i++) {
        const llm__re_item *it = &c->items[i];
        bool m;
        if (it->cats || it->space) {
            if (it->cats && !bit) bit = llm__catbit(cp);
            m = ((it->cats & bit) != 0 || (it->space && llm__is_space_cp(cp))) != it->neg;
        } else m = cp >= it->lo && cp <= it->hi;
        if (m) return !c->neg;
    }
    return c->neg;
}

static bool llm__re_class_match_icase(const llm__re_class *c, int32_t cp) {
    return llm__re_class_match(c, cp) || llm__re_class_match(c, utf8proc_tolower(cp)) ||
           llm__re_class_match(c, utf8proc_toupper(cp));
}

static inline int32_t llm__re_lower(int32_t cp) {
    return cp < 128 ? (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp) : utf8proc_tolower(cp);
}

static inline bool llm__re_match_cp(const llm__regex *re, const llm__re_inst *in, int32_t cp) {
    if (in->op == LLM__RE_CHAR) return cp == in->x || (in->flag && llm__re_lower(cp) == in->y);
    const llm__re_class *c = &re->classes[in->x];
    if (cp < 128) return (c->ascii[in->flag][cp >> 6] >> (cp & 63)) & 1;
    return in->flag ? llm__re_class_match_icase(c, cp) : llm__re_class_match(c, cp);
}

typedef struct llm__re_thread { int32_t pc; uint32_t pos; } llm__re_thread;

/* Run the program from pc at pos; true with *end on a match. The backtrack stack starts on
   the C stack and moves to the heap for long inputs (e.g. \s+ over a long run of blanks). */
static bool llm__re_run(const llm__regex *re, int pc, const uint8_t *s, size_t n, size_t pos, size_t *end, long *budget) {
    llm__re_thread local[64], *stack = local;
    size_t sp = 0, cap = 64;
    bool found = false;
    stack[sp++] = (llm__re_thread){ pc, (uint32_t)pos };
    while (sp && !found) {
        llm__re_thread t = stack[--sp];
        pc = t.pc;
        pos = t.pos;
        for (;;) {
            if (--*budget < 0) { sp = 0; break; }
            const llm__re_inst *in = &re->code[pc];
            if (in->op == LLM__RE_CHAR || in->op == LLM__RE_CLASS || in->op == LLM__RE_ANY) {
                if (pos >= n) break;
                int len;
                int32_t cp = llm__utf8_cp(s + pos, &len);
                if (pos + (size_t)len > n) break;
                if (in->op == LLM__RE_ANY ? cp == '\n' : !llm__re_match_cp(re, in, cp)) break;
                pos += (size_t)len;
                pc++;
            } else if (in->op == LLM__RE_SPLIT) {
                if (sp == cap) {
                    llm__re_thread *big = (llm__re_thread *)malloc(2 * cap * sizeof *big);
                    if (!big) { sp = 0; break; }
                    memcpy(big, stack, sp * sizeof *big);
                    if (stack != local) free(stack);
                    stack = big;
                    cap *= 2;
                }
                stack[sp++] = (llm__re_thread){ in->y, (uint32_t)pos };
                pc = in->x;
            } else if (in->op == LLM__RE_JMP) pc = in->x;
            else if (in->op == LLM__RE_LOOK) {
                size_t ignored;
                if (llm__re_run(re, pc + 1, s, n, pos, &ignored, budget) == (bool)in->flag) break;
                pc = in->y;
            } else if (in->op == LLM__RE_BOL) { if (pos != 0) break; pc++; }
            else if (in->op == LLM__RE_EOL) { if (pos != n) break; pc++; }
            else { *end = pos; found = true; break; }       /* MATCH */
        }
    }
    if (stack != local) free(stack);
    return found;
}

/* The leftmost match in s[from..n) (s is valid UTF-8): true with [*ms, *me). Empty matches
   count (callers skip them). A search that exceeds the step budget counts as no match. */
LLM_PRIVATE bool llm__regex_find(const llm__regex *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me) {
    const uint8_t *u = (const uint8_t *)s;
    /* one budget for the whole search, linear in the text: hostile patterns stay bounded */
    long budget = LLM__RE_STEP_BUDGET + 64 * (long)(n - from);
    for (size_t at = from; at <= n && budget > 0; at += at < n ? (size_t)llm__utf8_len(u[at]) : 1)
        if (llm__re_run(re, 0, u, n, at, me, &budget)) { *ms = at; return true; }
    return false;
}
/* ==== end llm_impl/41_regex.c ==== */
/* ==== begin llm_impl/42_tok_pipeline.c ==== */
/* ---- >>tokenizer: the tokenizer object and its text pipeline ----
   Hugging Face describes a tokenizer as a pipeline, and so do we:

     text -> added tokens split out ("<|eot_id|>" is never cut by BPE)
          -> normalizer (NFC, Replace " " by "▁", Prepend "▁", ...)
          -> pre-tokenizer (regex Split, ByteLevel, Metaspace, ...): a list of words
          -> model (BPE / Unigram / WordPiece): each word -> ids
          -> post-processor (BOS and friends, when add_special)

   and back: ids -> token strings -> decoder chain (ByteLevel, Replace "▁" by " ",
   ByteFallback "<0x0A>" -> "\n", Fuse, Strip) -> text.
   SentencePiece .model files and llama2.c .bin files load into the same object: the
   loader fills the same steps that their tokenizer.json conversion would have.
   This part holds the object and the text-to-text steps; the models are in the next part,
   the file loaders in the one after. */
/* #include "10_internal.h" (already above) */

#ifndef LLM_MAX_VOCAB
#define LLM_MAX_VOCAB (1 << 24)     /* ids from a file above this are refused */
#endif

enum { LLM__TOK_BPE, LLM__TOK_UNIGRAM, LLM__TOK_WORDPIECE, LLM__TOK_RUNC /* llama2.c run.c */ };

/* Per-id flags. SPECIAL: dropped by skip_special. NO_MODEL: never produced by the model's
   own search (SentencePiece control, unknown, byte and unused pieces). */
enum { LLM__TF_SPECIAL = 1, LLM__TF_NO_MODEL = 2 };

/* One step of a normalizer, pre-tokenizer or decoder chain (a Sequence is flattened). */
typedef enum {
    LLM__N_NFC, LLM__N_NFD, LLM__N_NFKC, LLM__N_NFKD, LLM__N_LOWERCASE, LLM__N_REPLACE, LLM__N_PREPEND, LLM__N_STRIP,
    LLM__P_BYTELEVEL, LLM__P_SPLIT, LLM__P_METASPACE, LLM__P_DIGITS, LLM__P_PUNCT, LLM__P_WHITESPACE, LLM__P_WSSPLIT,
    LLM__D_BYTELEVEL, LLM__D_METASPACE, LLM__D_BYTEFALLBACK, LLM__D_FUSE, LLM__D_STRIP, LLM__D_REPLACE, LLM__D_WORDPIECE
} llm__step_kind;

/* How a Split keeps what it matched (HF's SplitDelimiterBehavior). */
enum { LLM__SPLIT_REMOVED, LLM__SPLIT_ISOLATED, LLM__SPLIT_MERGED_PREV, LLM__SPLIT_MERGED_NEXT, LLM__SPLIT_CONTIGUOUS };
/* Metaspace's prepend_scheme. */
enum { LLM__PREPEND_ALWAYS, LLM__PREPEND_FIRST, LLM__PREPEND_NEVER };

typedef struct llm__step {
    llm__step_kind kind;
    char *pat, *content;       /* Replace/Split literal pattern; Replace/Prepend/Strip/Metaspace text */
    size_t pat_len, content_len;
    llm__regex *re;            /* Replace/Split regex pattern (instead of pat) */
    int behavior;              /* Split, Punctuation; Metaspace: prepend scheme */
    bool invert;               /* Split */
    bool a, b;                 /* ByteLevel: add_prefix_space, use_regex; Metaspace: split; Strip: left, right;
                                  Digits: individual_digits; WordPiece decoder: cleanup */
    int start, stop;           /* Strip decoder */
} llm__step;

typedef struct llm__added {
    const char *text;
    size_t len;
    llm_token id;
    bool special, lstrip, rstrip, single_word;
    bool normalized;           /* matched on normalized text (HF: and normalized itself first) */
    bool verbatim;             /* ... but kept as written (SentencePiece user-defined pieces) */
} llm__added;

/* A byte trie over the added tokens: node k's child for byte c is trie.map[(k << 8) | c];
   term[k] is the index of the added token ending at node k, or -1. Two tries: tokens
   matched on the raw text, and tokens matched after normalization. */
typedef struct llm__trie {
    llm__u64map map;
    int32_t *term;
    int32_t n_nodes;
    bool first[256];           /* bytes that start some token: the fast reject */
} llm__trie;

struct llm_tokenizer {
    int model;                 /* LLM__TOK_* */
    int64_t n_vocab;
    char **pieces;             /* id -> token string (NUL-terminated), "" for holes */
    uint32_t *piece_lens;
    uint8_t *flags;            /* LLM__TF_* per id */
    float *scores;             /* Unigram and run.c scores, else NULL */
    llm__strmap vocab;         /* token string -> id (model vocabulary and added tokens) */
    llm__u64map merges;        /* (left << 32 | right) -> (rank << 32 | merged id) */
    char **chunks;             /* the string pool: every string above lives here */
    int n_chunks;
    size_t chunk_used, chunk_cap;

    llm_token unk;             /* -1 if none */
    bool byte_fallback, fuse_unk, ignore_merges;
    llm_token byte_tok[256];   /* id of "<0xNN>", -1 if absent */
    char *wp_prefix;           /* WordPiece continuing_subword_prefix ("##") */
    int wp_max_chars;
    double unk_score;          /* Unigram: score of an unknown character */
    uint32_t max_piece_len;    /* longest vocabulary string in bytes */

    llm__added *added;
    int n_added;
    llm__trie trie[2];         /* [0]: matched on raw text, [1]: on normalized text */

    llm__step *norm, *pre, *dec;
    int n_norm, n_pre, n_dec;
    bool has_decoder;
    llm_token *post_ids;       /* post-processor: n_post_pre ids before, n_post_post after */
    int n_post_pre, n_post_post;
    llm_token bos, eos;
    char bytelevel[256][3];    /* byte-level spelling of each byte, bytelevel_len[b] bytes */
    uint8_t bytelevel_len[256];
};

/* ---- the string pool ---- */

/* Copy s[0..n) into the tokenizer's pool, NUL-terminated. NULL when out of memory. */
static char *llm__tok_intern(llm_tokenizer *t, const char *s, size_t n) {
    if (t->chunk_cap - t->chunk_used < n + 1) {
        size_t cap = LLM__MAX((size_t)1 << 20, n + 1);
        char **c = (char **)realloc(t->chunks, (size_t)(t->n_chunks + 1) * sizeof *c);
        if (!c) return NULL;
        t->chunks = c;
        if (!(t->chunks[t->n_chunks] = (char *)malloc(cap))) return NULL;
        t->n_chunks++;
        t->chunk_used = 0;
        t->chunk_cap = cap;
    }
    char *d = t->chunks[t->n_chunks - 1] + t->chunk_used;
    if (n) memcpy(d, s, n);
    d[n] = 0;
    t->chunk_used += n + 1;
    return d;
}

static void llm__step_free(llm__step *s) {
    llm__regex_free(s->re);
    s->re = NULL;
}

static void llm__trie_free(llm__trie *tr) {
    llm__u64map_free(&tr->map);
    free(tr->term);
    memset(tr, 0, sizeof *tr);
}

LLM_API void llm_tokenizer_free(llm_tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_norm; i++) llm__step_free(&t->norm[i]);
    for (int i = 0; i < t->n_pre; i++) llm__step_free(&t->pre[i]);
    for (int i = 0; i < t->n_dec; i++) llm__step_free(&t->dec[i]);
    free(t->norm); free(t->pre); free(t->dec);
    for (int i = 0; i < t->n_chunks; i++) free(t->chunks[i]);
    free(t->chunks);
    free(t->pieces); free(t->piece_lens); free(t->flags); free(t->scores);
    llm__strmap_free(&t->vocab);
    llm__u64map_free(&t->merges);
    llm__trie_free(&t->trie[0]);
    llm__trie_free(&t->trie[1]);
    free(t->added);
    free(t->post_ids);
    free(t);
}

/* ---- added tokens: trie building and matching ---- */

static bool llm__trie_add(llm__trie *tr, const char *s, size_t n, int32_t index) {
    if (!tr->term) {
        if (!llm__u64map_init(&tr->map, 64) || !(tr->term = (int32_t *)malloc(sizeof *tr->term))) return false;
        tr->term[0] = -1;
        tr->n_nodes = 1;
    }
    int64_t node = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = ((uint64_t)node << 8) | (uint8_t)s[i];
        int64_t child;
        if (!llm__u64map_get(&tr->map, key, &child)) {
            if ((tr->n_nodes & (tr->n_nodes - 1)) == 0) {      /* capacity: the next power of two */
                int32_t *term = (int32_t *)realloc(tr->term, 2 * (size_t)tr->n_nodes * sizeof *term);
                if (!term) return false;
                tr->term = term;
            }
            child = tr->n_nodes++;
            tr->term[child] = -1;
            if (!llm__u64map_put(&tr->map, key, child)) return false;
        }
        node = child;
    }
    if (tr->term[node] < 0) tr->term[node] = index;     /* the first of two equal tokens wins */
    tr->first[(uint8_t)s[0]] = true;
    return true;
}

/* Word characters for single_word (HF: alphanumeric or '_'). */
static bool llm__is_word_at(const char *s, size_t n, size_t at, bool before) {
    const uint8_t *u = (const uint8_t *)s;
    if (before) {
        if (at == 0) return false;
        size_t i = at - 1;
        while (i > 0 && (u[i] & 0xc0) == 0x80) i--;
        at = i;
    } else if (at >= n) return false;
    int len;
    int32_t cp = llm__utf8_cp(u + at, &len);
    return cp == '_' || (llm__catbit(cp) & (LLM__CATS_L | LLM__CATS_N)) != 0;
}

/* The leftmost-longest added token in s[from..n) from trie `which`: true with the span
   [*ms, *me) it covers (widened by lstrip/rstrip over whitespace) and its id. */
static bool llm__added_find(const llm_tokenizer *t, int which, const char *s, size_t n, size_t from,
                            size_t *ms, size_t *me, llm_token *id) {
    const llm__trie *tr = &t->trie[which];
    if (!tr->term) return false;
    for (size_t i = from; i < n; i++) {
        if (!tr->first[(uint8_t)s[i]]) continue;
        int64_t node = 0;
        int32_t best = -1;
        size_t best_end = 0;
        for (size_t j = i; j < n; j++) {
            if (!llm__u64map_get(&tr->map, ((uint64_t)node << 8) | (uint8_t)s[j], &node)) break;
            const int32_t k = tr->term[node];
            if (k >= 0 && !(t->added[k].single_word && (llm__is_word_at(s, n, i, true) || llm__is_word_at(s, n, j + 1, false)))) {
                best = k;
                best_end = j + 1;
            }
        }
        if (best < 0) continue;
        const llm__added *a = &t->added[best];
        size_t b = i, e = best_end;
        if (a->lstrip) while (b > from && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\n' || s[b - 1] == '\r')) b--;
        if (a->rstrip) while (e < n && (s[e] == ' ' || s[e] == '\t' || s[e] == '\n' || s[e] == '\r')) e++;
        *ms = b; *me = e; *id = a->id;
        return true;
    }
    return false;
}

/* ---- normalizers: text -> text ---- */

/* Replace every occurrence of the step's pattern in s by its content, into out. */
static void llm__replace_all(const llm__step *st, const char *s, size_t n, llm__buf *out) {
    size_t at = 0;
    while (at < n) {
        size_t ms, me;
        bool found;
        if (st->re) found = llm__regex_find(st->re, s, n, at, &ms, &me) && me > ms;
        else {
            found = false;
            for (ms = at; st->pat_len && ms + st->pat_len <= n; ms++)
                if (memcmp(s + ms, st->pat, st->pat_len) == 0) { found = true; break; }
            me = ms + st->pat_len;
        }
        if (!found) break;
        llm__buf_put(out, s + at, ms - at);
        llm__buf_put(out, st->content, st->content_len);
        at = me;
    }
    llm__buf_put(out, s + at, n - at);
}

static void llm__unicode_normalize(llm__step_kind kind, const char *s, size_t n, llm__buf *out) {
    int opt = UTF8PROC_STABLE | (kind == LLM__N_NFC || kind == LLM__N_NFKC ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE) |
              (kind == LLM__N_NFKC || kind == LLM__N_NFKD ? UTF8PROC_COMPAT : 0);
    utf8proc_uint8_t *r = NULL;
    utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &r, (utf8proc_option_t)opt);
    if (len < 0) { llm__buf_put(out, s, n); return; }     /* cannot happen for valid UTF-8 */
    llm__buf_put(out, r, (size_t)len);
    free(r);
}

static void llm__normalize_step(const llm__step *st, const char *s, size_t n, llm__buf *out) {
    switch (st->kind) {
    case LLM__N_NFC: case LLM__N_NFD: case LLM__N_NFKC: case LLM__N_NFKD:
        llm__unicode_normalize(st->kind, s, n, out);
        return;
    case LLM__N_LOWERCASE:
        for (size_t i = 0; i < n;) {
            int len;
            char enc[4];
            int32_t cp = llm__utf8_cp((const uint8_t *)s + i, &len);
            if (cp == 0x130) llm__buf_put(out, "i\xcc\x87", 3);   /* İ: the one lowercase of two characters */
            else llm__buf_put(out, enc, (size_t)llm__utf8_encode(utf8proc_tolower(cp), enc));
            i += (size_t)len;
        }
        return;
    case LLM__N_REPLACE: llm__replace_all(st, s, n, out); return;
    case LLM__N_PREPEND:
        if (n) llm__buf_put(out, st->content, st->content_len);
        llm__buf_put(out, s, n);
        return;
    case LLM__N_STRIP: {
        size_t b = 0, e = n;
        int len;
        while (st->a && b < e && llm__is_space_cp(llm__utf8_cp((const uint8_t *)s + b, &len))) b += (size_t)len;
        while (st->b && e > b) {
            size_t k = e - 1;
            while (k > b && ((uint8_t)s[k] & 0xc0) == 0x80) k--;
            if (!llm__is_space_cp(llm__utf8_cp((const uint8_t *)s + k, &len))) break;
            e = k;
        }
        llm__buf_put(out, s + b, e - b);
        return;
    }
    default: llm__buf_put(out, s, n); return;
    }
}

/* Run the normalizer chain over s; the result is in *a (the other buffer is scratch). */
static void llm__normalize(const llm_tokenizer *t, const char *s, size_t n, llm__buf *a, llm__buf *b) {
    a->len = 0;
    llm__buf_put(a, s, n);
    for (int i = 0; i < t->n_norm; i++) {
        b->len = 0;
        llm__buf_put(b, "", 0);
        llm__normalize_step(&t->norm[i], a->data, a->len, b);
        llm__buf tmp = *a; *a = *b; *b = tmp;
    }
}

/* ---- pre-tokenizers: text -> words ----
   A word ("piece") is a byte range of a buffer. Each step reads the pieces of one buffer
   and writes new pieces, with their bytes, to the other. `first` marks a piece that begins
   the input text (Metaspace's prepend_scheme "first" asks). */

typedef struct llm__piece { size_t off, len; bool first; } llm__piece;
typedef struct llm__pieces { llm__piece *v; size_t n, cap; bool oom; } llm__pieces;
typedef struct llm__spans { size_t *v; size_t n, cap; bool oom; } llm__spans;    /* (start, end) pairs */

static void llm__pieces_push(llm__pieces *p, size_t off, size_t len, bool first) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        llm__piece *v = (llm__piece *)realloc(p->v, cap * sizeof *v);
        if (!v) { p->oom = true; return; }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (llm__piece){ off, len, first };
}

static void llm__spans_push(llm__spans *s, size_t b, size_t e) {
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        size_t *v = (size_t *)realloc(s->v, cap * sizeof *v);
        if (!v) { s->oom = true; return; }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = b;
    s->v[s->n++] = e;
}

/* Copy s[0..n) to out and cut it at the matches (sorted (start, end) pairs) as `behavior`
   says, appending the pieces. */
static void llm__split_emit(const char *s, size_t n, bool first, const llm__spans *m, int behavior, bool invert,
                            llm__buf *out, llm__pieces *pv) {
    size_t base = out->len;
    llm__buf_put(out, s, n);
    size_t pos = 0, k = 0;
    bool prev_match = false, any = false;
    while (pos < n) {
        size_t b = pos, e;
        bool is_match;
        if (k < m->n && m->v[k] == pos) { e = m->v[k + 1]; k += 2; is_match = true; }
        else { e = k < m->n ? m->v[k] : n; is_match = false; }
        pos = e;
        if (e == b) continue;
        if (invert) is_match = !is_match;
        /* HF: a match joins the piece before it only if that piece is no match, and the
           piece after it only if that one is no match ("▁▁a" -> "▁", "▁a") */
        bool extend = any && ((behavior == LLM__SPLIT_MERGED_PREV && is_match && !prev_match) ||
                              (behavior == LLM__SPLIT_MERGED_NEXT && prev_match && !is_match) ||
                              (behavior == LLM__SPLIT_CONTIGUOUS && is_match == prev_match));
        prev_match = is_match;
        if (behavior == LLM__SPLIT_REMOVED && is_match) continue;
        if (extend) pv->v[pv->n - 1].len = base + e - pv->v[pv->n - 1].off;
        else llm__pieces_push(pv, base + b, e - b, first && b == 0);
        any = true;
    }
}

/* All non-empty matches of a Split/ByteLevel regex or literal pattern in s[0..n). */
static void llm__find_all(const llm__regex *re, const char *pat, size_t pat_len, const char *s, size_t n, llm__spans *m) {
    m->n = 0;
    for (size_t at = 0; at < n;) {
        size_t ms, me;
        if (re) {
            if (!llm__regex_find(re, s, n, at, &ms, &me)) break;
            if (me == ms) { at = ms + (size_t)llm__utf8_len((uint8_t)s[ms]); continue; }
        } else {
            const char *hit = NULL;
            for (size_t i = at; pat_len && i + pat_len <= n && !hit; i++) if (memcmp(s + i, pat, pat_len) == 0) hit = s + i;
            if (!hit) break;
            ms = (size_t)(hit - s);
            me = ms + pat_len;
        }
        llm__spans_push(m, ms, me);
        at = me;
    }
}

/* Character classes the fixed pre-tokenizers split on. */
enum { LLM__CC_OTHER, LLM__CC_SPACE, LLM__CC_WORD, LLM__CC_PUNCT, LLM__CC_DIGIT };

static int llm__char_class(int32_t cp, int kind) {
    uint32_t bit = llm__catbit(cp);
    if (kind == LLM__P_DIGITS) return (bit & LLM__CATS_N) ? LLM__CC_DIGIT : LLM__CC_OTHER;   /* Rust's is_numeric */
    if (kind == LLM__P_PUNCT)
        return ((cp < 128 && cp > 32 && cp != 127 && !(llm__catbit(cp) & (LLM__CATS_L | LLM__CATS_N))) || (bit & LLM__CATS_P)) ? LLM__CC_PUNCT : LLM__CC_OTHER;
    if (llm__is_space_cp(cp)) return LLM__CC_SPACE;
    if (kind == LLM__P_WSSPLIT) return LLM__CC_OTHER;
    return (bit & (LLM__CATS_L | LLM__CATS_M | LLM__CATBIT(ND) | LLM__CATBIT(NL) | LLM__CATBIT(PC))) ? LLM__CC_WORD
                                                                                                     : LLM__CC_PUNCT;
}

/* Matches for Digits, Punctuation, Whitespace, WhitespaceSplit: runs of one class
   (`single`: each character alone). Whitespace keeps word runs and symbol runs; the
   others match what they split on. */
static void llm__class_spans(const llm__step *st, const char *s, size_t n, llm__spans *m) {
    bool single = (st->kind == LLM__P_DIGITS && st->a) || st->kind == LLM__P_PUNCT;
    int want = st->kind == LLM__P_DIGITS ? LLM__CC_DIGIT : st->kind == LLM__P_PUNCT ? LLM__CC_PUNCT : LLM__CC_SPACE;
    m->n = 0;
    int prev = -1;
    for (size_t i = 0; i < n;) {
        int len;
        int c = llm__char_class(llm__utf8_cp((const uint8_t *)s + i, &len), st->kind);
        bool hit = st->kind == LLM__P_WHITESPACE ? c != LLM__CC_SPACE : c == want;
        if (hit && !single && c == prev && m->n) m->v[m->n - 1] = i + (size_t)len;
        else if (hit) llm__spans_push(m, i, i + (size_t)len);
        prev = hit ? c : -1;
        i += (size_t)len;
    }
}

/* ByteLevel: optional prefix space, optional GPT-2 regex split, then every byte renamed. */
static void llm__pretok_bytelevel(const llm_tokenizer *t, const llm__step *st, const char *s, size_t n, bool first,
                                  llm__buf *tmp, llm__spans *m, llm__buf *out, llm__pieces *pv) {
    tmp->len = 0;
    if (st->a && (n == 0 || s[0] != ' ')) llm__buf_put(tmp, " ", 1);
    llm__buf_put(tmp, s, n);
    if (st->b) llm__find_all(st->re, NULL, 0, tmp->data, tmp->len, m);
    else { m->n = 0; llm__spans_push(m, 0, tmp->len); }
    size_t pos = 0;
    for (size_t k = 0; k <= m->n; k += 2) {        /* matches and the gaps between them */
        size_t b = k < m->n ? m->v[k] : tmp->len, e = k < m->n ? m->v[k + 1] : tmp->len;
        for (int part = 0; part < 2; part++) {
            size_t pb = part ? b : pos, pe = part ? e : b;
            if (pe <= pb) continue;
            size_t off = out->len;
            for (size_t i = pb; i < pe; i++) {
                uint8_t c = (uint8_t)tmp->data[i];
                llm__buf_put(out, t->bytelevel[c], t->bytelevel_len[c]);
            }
            llm__pieces_push(pv, off, out->len - off, first && pb == 0);
        }
        pos = e;
    }
}

/* Metaspace: spaces become the replacement ("▁"), which is prepended as the scheme says;
   with split, each "▁" starts a new word. */
static void llm__pretok_metaspace(const llm__step *st, const char *s, size_t n, bool first, llm__buf *tmp,
                                  llm__spans *m, llm__buf *out, llm__pieces *pv) {
    tmp->len = 0;
    bool prepend = st->behavior == LLM__PREPEND_ALWAYS || (st->behavior == LLM__PREPEND_FIRST && first);
    if (prepend && !(n >= st->content_len && memcmp(s, st->content, st->content_len) == 0) &&
        !(n && s[0] == ' '))
        llm__buf_put(tmp, st->content, st->content_len);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') llm__buf_put(tmp, st->content, st->content_len);
        else llm__buf_put(tmp, s + i, 1);
    }
    if (st->a) llm__find_all(NULL, st->content, st->content_len, tmp->data, tmp->len, m);
    else m->n = 0;
    llm__split_emit(tmp->data, tmp->len, first, m, LLM__SPLIT_MERGED_NEXT, false, out, pv);
}

typedef struct llm__pretok_scratch {
    llm__buf a, b, tmp;
    llm__pieces pa, pb;
    llm__spans m;
} llm__pretok_scratch;

/* Run the pre-tokenizer chain over s: the words end up in sc->pa over buffer sc->a. */
static void llm__pretokenize(const llm_tokenizer *t, const char *s, size_t n, bool first, llm__pretok_scratch *sc) {
    sc->a.len = 0;
    sc->pa.n = 0;
    llm__buf_put(&sc->a, s, n);
    llm__pieces_push(&sc->pa, 0, n, first);
    for (int i = 0; i < t->n_pre; i++) {
        const llm__step *st = &t->pre[i];
        sc->b.len = 0;
        sc->pb.n = 0;
        for (size_t k = 0; k < sc->pa.n; k++) {
            const char *w = sc->a.data + sc->pa.v[k].off;
            size_t wn = sc->pa.v[k].len;
            bool wf = sc->pa.v[k].first;
            if (st->kind == LLM__P_BYTELEVEL) llm__pretok_bytelevel(t, st, w, wn, wf, &sc->tmp, &sc->m, &sc->b, &sc->pb);
            else if (st->kind == LLM__P_METASPACE) llm__pretok_metaspace(st, w, wn, wf, &sc->tmp, &sc->m, &sc->b, &sc->pb);
            else {
                if (st->kind == LLM__P_SPLIT) llm__find_all(st->re, st->pat, st->pat_len, w, wn, &sc->m);
                else llm__class_spans(st, w, wn, &sc->m);
                int behavior = st->kind == LLM__P_SPLIT || st->kind == LLM__P_PUNCT ? st->behavior
                             : st->kind == LLM__P_DIGITS ? LLM__SPLIT_ISOLATED : LLM__SPLIT_REMOVED;
                bool invert = st->kind == LLM__P_SPLIT ? st->invert : st->kind == LLM__P_WHITESPACE;
                llm__split_emit(w, wn, wf, &sc->m, behavior, invert, &sc->b, &sc->pb);
            }
        }
        llm__buf t1 = sc->a; sc->a = sc->b; sc->b = t1;
        llm__pieces t2 = sc->pa; sc->pa = sc->pb; sc->pb = t2;
    }
}

static void llm__pretok_scratch_free(llm__pretok_scratch *sc) {
    llm__buf_free(&sc->a); llm__buf_free(&sc->b); llm__buf_free(&sc->tmp);
    free(sc->pa.v); free(sc->pb.v); free(sc->m.v);
}

/* ---- building the vocabulary (every loader) and looking it up ---- */

/* Append a step to a chain (it owns st.re from here on, also on failure). */
static llm_status llm__tok_push_step(llm__step **arr, int *n, llm__step st, const char *path) {
    llm__step *v = (llm__step *)realloc(*arr, (size_t)(*n + 1) * sizeof *v);
    if (!v) { llm__regex_free(st.re); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); }
    *arr = v;
    v[(*n)++] = st;
    return LLM_OK;
}

/* Allocate the id-indexed arrays for n ids (holes read as ""). */
static llm_status llm__tok_alloc_vocab(llm_tokenizer *t, int64_t n, bool scores, const char *path) {
    t->n_vocab = n;
    t->pieces = (char **)calloc((size_t)n + 1, sizeof *t->pieces);
    t->piece_lens = (uint32_t *)calloc((size_t)n + 1, sizeof *t->piece_lens);
    t->flags = (uint8_t *)calloc((size_t)n + 1, 1);
    if (scores) t->scores = (float *)calloc((size_t)n + 1, sizeof *t->scores);
    if (!t->pieces || !t->piece_lens || !t->flags || (scores && !t->scores) || !llm__strmap_init(&t->vocab, (size_t)n))
        return llm__fail(LLM_ERR_NOMEM, "%s: out of memory for %lld tokens", path, (long long)n);
    static char empty[1];
    for (int64_t i = 0; i < n; i++) t->pieces[i] = empty;
    return LLM_OK;
}

/* Give id its string (the first string given to an id wins) and, if `lookup`, enter it
   into the model vocabulary. */
static llm_status llm__tok_set_piece(llm_tokenizer *t, llm_token id, const char *s, size_t n, bool lookup, const char *path) {
    if (id < 0 || id >= t->n_vocab) return llm__fail(LLM_ERR_FORMAT, "%s: token id %d out of range", path, id);
    if (n > UINT32_MAX / 2) return llm__fail(LLM_ERR_FORMAT, "%s: token %d is too long", path, id);
    if (t->piece_lens[id] == 0) {
        char *d = llm__tok_intern(t, s, n);
        if (!d) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
        t->pieces[id] = d;
        t->piece_lens[id] = (uint32_t)n;
    }
    if (lookup && !llm__strmap_put(&t->vocab, t->pieces[id], t->piece_lens[id], id))
        return llm__fail(LLM_ERR_FORMAT, "%s: more vocabulary strings than ids", path);
    return LLM_OK;
}

/* Register an added token (already given its piece); tries are built by llm__tok_finish. */
static llm_status llm__tok_add_token(llm_tokenizer *t, const llm__added *a, const char *path) {
    if ((t->n_added & (t->n_added - 1)) == 0) {            /* capacity: the next power of two */
        llm__added *v = (llm__added *)realloc(t->added, (size_t)(t->n_added ? 2 * t->n_added : 1) * sizeof *v);
        if (!v) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
        t->added = v;
    }
    t->added[t->n_added++] = *a;
    if (a->special) t->flags[a->id] |= LLM__TF_SPECIAL;
    return LLM_OK;
}

/* The added-token tries. A "normalized" token is matched on normalized text, so it enters
   its trie normalized too (as HF does): with a Lowercase normalizer "[MASK]" is "[mask]". */
static llm_status llm__tok_build_tries(llm_tokenizer *t, const char *path) {
    llm__buf a = { 0 }, b = { 0 };
    bool ok = true;
    for (int i = 0; i < t->n_added && ok; i++) {
        const llm__added *ad = &t->added[i];
        const char *s = ad->text;
        size_t n = ad->len;
        if (ad->normalized && !ad->verbatim && t->n_norm) {
            llm__normalize(t, s, n, &a, &b);
            s = a.data;
            n = a.len;
        }
        ok = !a.oom && !b.oom && (n == 0 || llm__trie_add(&t->trie[ad->normalized ? 1 : 0], s, n, i));
    }
    llm__buf_free(&a);
    llm__buf_free(&b);
    return ok ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
}

/* What every loader does last: byte-token and byte-level tables, lengths, unk score, tries. */
static llm_status llm__tok_finish(llm_tokenizer *t, const char *path) {
    char name[8];
    for (int b = 0; b < 256; b++) {
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_tok[b] = llm__strmap_get(&t->vocab, name, 6);
        t->bytelevel_len[b] = (uint8_t)llm__utf8_encode(llm__bytelevel_cp((uint8_t)b), t->bytelevel[b]);
    }
    double min_score = 0;
    for (int64_t i = 0; i < t->n_vocab; i++) {
        t->max_piece_len = LLM__MAX(t->max_piece_len, t->piece_lens[i]);
        if (t->scores) min_score = LLM__MIN(min_score, (double)t->scores[i]);
    }
    t->unk_score = min_score - 10.0;                   /* HF's and SentencePiece's unknown penalty */
    return llm__tok_build_tries(t, path);
}

LLM_API llm_token llm_tokenizer_find(const llm_tokenizer *t, const char *piece) {
    LLM_ASSERT(t && piece);
    size_t n = strlen(piece);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && memcmp(t->added[i].text, piece, n) == 0) return t->added[i].id;
    return llm__strmap_get(&t->vocab, piece, n);
}

LLM_API int64_t llm_tokenizer_n_vocab(const llm_tokenizer *t) { return t->n_vocab; }
LLM_API llm_token llm_tokenizer_bos(const llm_tokenizer *t) { return t->bos; }
LLM_API llm_token llm_tokenizer_eos(const llm_tokenizer *t) { return t->eos; }
LLM_API bool llm_tokenizer_is_special(const llm_tokenizer *t, llm_token id) {
    return id >= 0 && id < t->n_vocab && (t->flags[id] & LLM__TF_SPECIAL);
}
LLM_API const char *llm_tokenizer_piece(const llm_tokenizer *t, llm_token id) {
    return id >= 0 && id < t->n_vocab ? t->pieces[id] : NULL;
}
/* ==== end llm_impl/42_tok_pipeline.c ==== */
/* ==== begin llm_impl/43_tok_models.c ==== */
/* ---- >>tokenizer models: BPE, Unigram, WordPiece, and encoding/decoding ----
   A model turns one word (bytes after normalization and pre-tokenization) into ids.
   - BPE starts from one symbol per character and applies merges, lowest rank first; the
     merges live in a hash map (left id, right id) -> (rank, merged id), and a heap of
     candidate pairs keeps a long word (SentencePiece-style BPE has no pre-tokenizer, so a
     "word" can be a whole line) at O(n log n). SentencePiece and llama2.c BPE merge by the
     score of the merged piece instead; their loaders turn scores into ranks, so one loop
     serves all three.
   - Unigram picks the segmentation with the best total score (Viterbi).
   - WordPiece takes the longest vocabulary prefix, then "##"-prefixed continuations. */
/* #include "10_internal.h" (already above) */

typedef struct llm__ids { llm_token *v; size_t n, cap; bool oom; } llm__ids;

static void llm__ids_push(llm__ids *a, llm_token id) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        llm_token *v = (llm_token *)realloc(a->v, cap * sizeof *v);
        if (!v) { a->oom = true; return; }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = id;
}

/* ---- BPE ---- */

typedef struct llm__sym { llm_token id; int32_t prev, next; uint32_t len; } llm__sym;   /* len 0: merged away */
typedef struct llm__cand { uint32_t rank; int32_t pos; llm_token merged; } llm__cand;

typedef struct llm__bpe_scratch {
    llm__sym *syms;
    llm__cand *heap;
    size_t cap_syms, cap_heap, n_heap;
    bool oom;
} llm__bpe_scratch;

static bool llm__cand_less(const llm__cand *a, const llm__cand *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void llm__heap_push(llm__bpe_scratch *s, llm__cand c) {
    if (s->n_heap == s->cap_heap) {
        size_t cap = s->cap_heap ? 2 * s->cap_heap : 256;
        llm__cand *h = (llm__cand *)realloc(s->heap, cap * sizeof *h);
        if (!h) { s->oom = true; return; }
        s->heap = h;
        s->cap_heap = cap;
    }
    size_t i = s->n_heap++;
    while (i > 0 && llm__cand_less(&c, &s->heap[(i - 1) / 2])) { s->heap[i] = s->heap[(i - 1) / 2]; i = (i - 1) / 2; }
    s->heap[i] = c;
}

static llm__cand llm__heap_pop(llm__bpe_scratch *s) {
    llm__cand top = s->heap[0], last = s->heap[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && llm__cand_less(&s->heap[c + 1], &s->heap[c])) c++;
        if (!llm__cand_less(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

/* Queue the pair starting at symbol `pos` if a merge exists for it. */
static void llm__bpe_queue(const llm_tokenizer *t, llm__bpe_scratch *s, int32_t pos) {
    if (pos < 0 || s->syms[pos].next < 0) return;
    int32_t next = s->syms[pos].next;
    int64_t v;
    uint64_t key = ((uint64_t)(uint32_t)s->syms[pos].id << 32) | (uint32_t)s->syms[next].id;
    if (llm__u64map_get(&t->merges, key, &v)) llm__heap_push(s, (llm__cand){ (uint32_t)(v >> 32), pos, (llm_token)(v & 0xffffffff) });
}

static void llm__bpe_add_sym(llm__bpe_scratch *s, size_t *n, llm_token id, uint32_t len) {
    if (*n == s->cap_syms) {
        size_t cap = s->cap_syms ? 2 * s->cap_syms : 256;
        llm__sym *v = (llm__sym *)realloc(s->syms, cap * sizeof *v);
        if (!v) { s->oom = true; return; }
        s->syms = v;
        s->cap_syms = cap;
    }
    s->syms[*n] = (llm__sym){ id, (int32_t)*n - 1, (int32_t)*n + 1, len };
    (*n)++;
}

/* The initial symbols: one per character; an unknown character becomes its <0xNN> byte
   tokens (byte_fallback), else the unk token (consecutive ones fused with fuse_unk), else
   nothing - HF's BPE drops what it cannot represent. */
static size_t llm__bpe_init(const llm_tokenizer *t, llm__bpe_scratch *s, const char *w, size_t n) {
    size_t n_syms = 0;
    bool prev_unk = false;
    for (size_t i = 0; i < n && !s->oom;) {
        uint32_t len = (uint32_t)LLM__MIN((size_t)llm__utf8_len((uint8_t)w[i]), n - i);
        llm_token id = llm__strmap_get(&t->vocab, w + i, len);
        bool unk = false;
        if (id < 0 && t->byte_fallback) {
            bool all = true;
            for (uint32_t k = 0; k < len; k++) all = all && t->byte_tok[(uint8_t)w[i + k]] >= 0;
            if (all) for (uint32_t k = 0; k < len; k++) llm__bpe_add_sym(s, &n_syms, t->byte_tok[(uint8_t)w[i + k]], 1);
            if (all) { i += len; prev_unk = false; continue; }
        }
        if (id < 0) { id = t->unk; unk = true; }
        if (id >= 0 && unk && prev_unk && t->fuse_unk) s->syms[n_syms - 1].len += len;
        else if (id >= 0) llm__bpe_add_sym(s, &n_syms, id, len);
        prev_unk = unk;
        i += len;
    }
    if (n_syms) s->syms[n_syms - 1].next = -1;
    return n_syms;
}

/* Apply merges to the n_syms symbols in s->syms until none applies; append the ids. */
static void llm__bpe_merge(const llm_tokenizer *t, llm__bpe_scratch *s, size_t n_syms, llm__ids *out) {
    s->n_heap = 0;
    for (size_t i = 0; i + 1 < n_syms; i++) llm__bpe_queue(t, s, (int32_t)i);
    while (s->n_heap && !s->oom) {
        llm__cand c = llm__heap_pop(s);
        llm__sym *a = &s->syms[c.pos];
        if (a->len == 0 || a->next < 0) continue;                 /* stale: merged away meanwhile */
        llm__sym *b = &s->syms[a->next];
        int64_t v;
        uint64_t key = ((uint64_t)(uint32_t)a->id << 32) | (uint32_t)b->id;
        if (!llm__u64map_get(&t->merges, key, &v) || (llm_token)(v & 0xffffffff) != c.merged) continue;
        a->id = c.merged;
        a->len += b->len;
        b->len = 0;
        a->next = b->next;
        if (a->next >= 0) s->syms[a->next].prev = c.pos;
        llm__bpe_queue(t, s, a->prev);
        llm__bpe_queue(t, s, c.pos);
    }
    for (int32_t i = n_syms ? 0 : -1; i >= 0; i = s->syms[i].next) llm__ids_push(out, s->syms[i].id);
}

static void llm__bpe_word(const llm_tokenizer *t, llm__bpe_scratch *s, const char *w, size_t n, llm__ids *out) {
    if (t->ignore_merges) {
        llm_token id = llm__strmap_get(&t->vocab, w, n);
        if (id >= 0) { llm__ids_push(out, id); return; }
    }
    llm__bpe_merge(t, s, llm__bpe_init(t, s, w, n), out);
}

/* llama2.c's encode(): a " " token first (the dummy prefix) when the text is not empty,
   then one symbol per UTF-8 sequence (at most 4 bytes, as run.c cuts them), unknown ones
   as byte tokens id = byte + 3, then merges by score (the loader ranked them). */
static void llm__runc_encode(const llm_tokenizer *t, llm__bpe_scratch *s, const char *w, size_t n, llm__ids *out) {
    size_t n_syms = 0;
    llm_token space = llm__strmap_get(&t->vocab, " ", 1);
    if (n && space >= 0) llm__bpe_add_sym(s, &n_syms, space, 1);
    for (size_t i = 0; i < n && !s->oom;) {
        size_t len = 1;
        while (i + len < n && ((uint8_t)w[i + len] & 0xc0) == 0x80 && len < 4) len++;
        llm_token id = llm__strmap_get(&t->vocab, w + i, len);
        if (id >= 0) llm__bpe_add_sym(s, &n_syms, id, (uint32_t)len);
        else for (size_t k = 0; k < len; k++)
            if ((uint8_t)w[i + k] + 3 < t->n_vocab) llm__bpe_add_sym(s, &n_syms, (uint8_t)w[i + k] + 3, 1);
        i += len;
    }
    if (n_syms) s->syms[n_syms - 1].next = -1;
    llm__bpe_merge(t, s, n_syms, out);
}

/* ---- Unigram (Viterbi over character boundaries) ---- */

static void llm__unigram_word(const llm_tokenizer *t, const char *w, size_t n, llm__ids *out) {
    double *best = (double *)malloc((n + 1) * sizeof *best);
    int32_t *from = (int32_t *)malloc((n + 1) * sizeof *from);
    llm_token *ids = (llm_token *)malloc((n + 1) * sizeof *ids);
    size_t *path = (size_t *)malloc((n + 1) * sizeof *path);
    if (!best || !from || !ids || !path) { out->oom = true; goto done; }
    for (size_t i = 0; i <= n; i++) { best[i] = -INFINITY; from[i] = -1; }
    best[0] = 0;
    for (size_t i = 0; i < n; i = i + (size_t)llm__utf8_len((uint8_t)w[i])) {
        if (best[i] == -INFINITY) continue;
        size_t clen = LLM__MIN((size_t)llm__utf8_len((uint8_t)w[i]), n - i);
        bool single = false;
        for (size_t e = i + 1; e <= n && e - i <= t->max_piece_len; e++) {
            if (e < n && ((uint8_t)w[e] & 0xc0) == 0x80) continue;     /* not a character boundary */
            llm_token id = llm__strmap_get(&t->vocab, w + i, e - i);
            if (id < 0 || (t->flags[id] & LLM__TF_NO_MODEL)) continue;
            if (e - i == clen) single = true;
            double sc = best[i] + t->scores[id];
            if (sc > best[e]) { best[e] = sc; from[e] = (int32_t)i; ids[e] = id; }
        }
        if (!single && best[i] + t->unk_score > best[i + clen]) {
            best[i + clen] = best[i] + t->unk_score;
            from[i + clen] = (int32_t)i;
            ids[i + clen] = -1;
        }
    }
    /* walk back, then emit in order (unknowns: byte fallback, or one unk per run) */
    size_t n_path = 0;
    for (size_t e = n; e > 0 && from[e] >= 0; e = (size_t)from[e]) path[n_path++] = e;
    bool prev_unk = false;
    for (size_t k = n_path; k-- > 0;) {
        size_t e = path[k], b = (size_t)from[e];
        llm_token id = ids[e];
        if (id >= 0) { llm__ids_push(out, id); prev_unk = false; continue; }
        bool all = t->byte_fallback;
        for (size_t i = b; i < e && all; i++) all = t->byte_tok[(uint8_t)w[i]] >= 0;
        if (all) { for (size_t i = b; i < e; i++) llm__ids_push(out, t->byte_tok[(uint8_t)w[i]]); prev_unk = false; continue; }
        if (t->unk >= 0 && !(prev_unk && t->fuse_unk)) llm__ids_push(out, t->unk);
        prev_unk = true;
    }
done:
    free(best); free(from); free(ids); free(path);
}

/* ---- WordPiece ---- */

static void llm__wordpiece_word(const llm_tokenizer *t, const char *w, size_t n, llm__buf *tmp, llm__ids *out) {
    size_t n_chars = 0, mark = out->n;
    for (size_t i = 0; i < n; i += (size_t)llm__utf8_len((uint8_t)w[i])) n_chars++;
    if (n_chars > (size_t)t->wp_max_chars) goto unknown;
    size_t plen = t->wp_prefix ? strlen(t->wp_prefix) : 0;
    for (size_t start = 0; start < n;) {
        llm_token found = -1;
        size_t end = n;
        while (end > start) {
            tmp->len = 0;
            if (start > 0) llm__buf_put(tmp, t->wp_prefix, plen);
            llm__buf_put(tmp, w + start, end - start);
            if (!tmp->oom && (found = llm__strmap_get(&t->vocab, tmp->data, tmp->len)) >= 0) break;
            do end--; while (end > start && ((uint8_t)w[end] & 0xc0) == 0x80);
        }
        if (found < 0) goto unknown;
        llm__ids_push(out, found);
        start = end;
    }
    return;
unknown:
    out->n = mark;
    if (t->unk >= 0) llm__ids_push(out, t->unk);
}

/* ---- encoding: the whole pipeline ---- */

/* Words repeat ("the", " and", "Ġ="...), so one tokenize call remembers what BPE made of
   each short word: a small open-addressing table keyed by the word's bytes, which live in
   `keys`, with their ids in `ids`. It lives for one call, so the tokenizer stays immutable
   and shareable between threads. */
#define LLM__CACHE_WORD_MAX 64         /* longer words are not cached */
#define LLM__CACHE_MAX_SLOTS 65536

typedef struct llm__cslot { uint64_t hash; uint32_t key_off, key_len, ids_off, n_ids; } llm__cslot;  /* key_len 0: empty */

typedef struct llm__wcache {
    llm__cslot *slots;
    size_t cap, n;
    llm__buf keys;
    llm__ids ids;
} llm__wcache;

static llm__cslot *llm__wcache_find(llm__wcache *c, const char *w, size_t n, uint64_t h) {
    for (size_t i = h & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
        llm__cslot *e = &c->slots[i];
        if (!e->key_len || (e->hash == h && e->key_len == n && memcmp(c->keys.data + e->key_off, w, n) == 0)) return e;
    }
}

static bool llm__wcache_grow(llm__wcache *c) {
    size_t cap = c->cap ? 2 * c->cap : 256;
    llm__cslot *old = c->slots, *slots = (llm__cslot *)calloc(cap, sizeof *slots);
    if (!slots) return false;
    size_t old_cap = c->cap;
    c->slots = slots;
    c->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key_len) *llm__wcache_find(c, c->keys.data + old[i].key_off, old[i].key_len, old[i].hash) = old[i];
    free(old);
    return true;
}

/* Remember that word w encodes to ids[0..n_ids) (when there is room). */
static void llm__wcache_put(llm__wcache *c, const char *w, size_t n, uint64_t h, const llm_token *ids, size_t n_ids) {
    if (2 * (c->n + 1) > c->cap && (c->cap >= LLM__CACHE_MAX_SLOTS || !llm__wcache_grow(c))) return;
    llm__cslot *e = llm__wcache_find(c, w, n, h);
    *e = (llm__cslot){ h, (uint32_t)c->keys.len, (uint32_t)n, (uint32_t)c->ids.n, (uint32_t)n_ids };
    llm__buf_put(&c->keys, w, n);
    for (size_t i = 0; i < n_ids; i++) llm__ids_push(&c->ids, ids[i]);
    if (c->keys.oom || c->ids.oom) { e->key_len = 0; return; }    /* cannot keep it: forget it */
    c->n++;
}

typedef struct llm__enc {
    llm__buf text, na, nb, tmp;
    llm__pretok_scratch pre;
    llm__bpe_scratch bpe;
    llm__wcache cache;
    llm__ids ids;
} llm__enc;

static void llm__enc_free(llm__enc *e) {
    llm__buf_free(&e->text); llm__buf_free(&e->na); llm__buf_free(&e->nb); llm__buf_free(&e->tmp);
    llm__pretok_scratch_free(&e->pre);
    free(e->bpe.syms); free(e->bpe.heap);
    free(e->cache.slots); llm__buf_free(&e->cache.keys); free(e->cache.ids.v);
    free(e->ids.v);
}

static void llm__encode_word(const llm_tokenizer *t, llm__enc *e, const char *w, size_t n) {
    if (n == 0) return;
    if (t->model == LLM__TOK_BPE && n <= LLM__CACHE_WORD_MAX) {
        uint64_t h = llm__hash_bytes(w, n);
        llm__cslot *hit = e->cache.cap ? llm__wcache_find(&e->cache, w, n, h) : NULL;
        if (hit && hit->key_len) {
            for (uint32_t i = 0; i < hit->n_ids; i++) llm__ids_push(&e->ids, e->cache.ids.v[hit->ids_off + i]);
            return;
        }
        size_t mark = e->ids.n;
        llm__bpe_word(t, &e->bpe, w, n, &e->ids);
        if (!e->ids.oom) llm__wcache_put(&e->cache, w, n, h, e->ids.v + mark, e->ids.n - mark);
    } else if (t->model == LLM__TOK_BPE) llm__bpe_word(t, &e->bpe, w, n, &e->ids);
    else if (t->model == LLM__TOK_UNIGRAM) llm__unigram_word(t, w, n, &e->ids);
    else llm__wordpiece_word(t, w, n, &e->tmp, &e->ids);
}

static void llm__encode_words(const llm_tokenizer *t, llm__enc *e, const char *s, size_t n, bool first) {
    if (n == 0) return;                               /* HF makes no split here: nothing to prepend to */
    if (t->n_pre == 0) { llm__encode_word(t, e, s, n); return; }
    llm__pretokenize(t, s, n, first, &e->pre);
    for (size_t k = 0; k < e->pre.pa.n; k++) llm__encode_word(t, e, e->pre.a.data + e->pre.pa.v[k].off, e->pre.pa.v[k].len);
}

/* A stretch of text between raw added tokens: normalize, split out the added tokens that
   match normalized text, encode the rest. */
static void llm__encode_segment(const llm_tokenizer *t, llm__enc *e, const char *s, size_t n, bool first) {
    if (t->n_norm) {
        llm__normalize(t, s, n, &e->na, &e->nb);
        s = e->na.data;
        n = e->na.len;
    }
    size_t at = 0, ms, me;
    llm_token id;
    while (llm__added_find(t, 1, s, n, at, &ms, &me, &id)) {
        llm__encode_words(t, e, s + at, ms - at, first && at == 0);
        llm__ids_push(&e->ids, id);
        at = me;
    }
    llm__encode_words(t, e, s + at, n - at, first && at == 0);
}

LLM_API llm_status llm_tokenize(const llm_tokenizer *t, const char *text, size_t len, bool add_special,
                                llm_token *out, int64_t cap, int64_t *out_n) {
    LLM_ASSERT(t && (text || len == 0) && out_n && (out || cap <= 0));
    if (len > (size_t)INT32_MAX / 4)                  /* symbol positions are 32-bit */
        return llm__fail(LLM_ERR_INVALID_ARG, "tokenize: text of %zu bytes is too long (split it)", len);
    llm__enc e;
    memset(&e, 0, sizeof e);
    if (add_special) for (int i = 0; i < t->n_post_pre; i++) llm__ids_push(&e.ids, t->post_ids[i]);
    if (t->model == LLM__TOK_RUNC) llm__runc_encode(t, &e.bpe, text, len, &e.ids);
    else {
        llm__buf_put_lossy(&e.text, text, len);
        const char *s = e.text.data ? e.text.data : "";
        size_t n = e.text.len, at = 0, ms, me;
        llm_token id;
        while (llm__added_find(t, 0, s, n, at, &ms, &me, &id)) {
            llm__encode_segment(t, &e, s + at, ms - at, at == 0);
            llm__ids_push(&e.ids, id);
            at = me;
        }
        llm__encode_segment(t, &e, s + at, n - at, at == 0);
    }
    if (add_special) for (int i = 0; i < t->n_post_post; i++) llm__ids_push(&e.ids, t->post_ids[t->n_post_pre + i]);
    bool oom = e.ids.oom || e.bpe.oom || e.text.oom || e.na.oom || e.nb.oom || e.tmp.oom || e.pre.a.oom ||
               e.pre.b.oom || e.pre.tmp.oom || e.pre.pa.oom || e.pre.pb.oom || e.pre.m.oom;
    if (!oom) {
        if (cap > 0 && e.ids.n) memcpy(out, e.ids.v, (size_t)LLM__MIN((int64_t)e.ids.n, cap) * sizeof *out);
        *out_n = (int64_t)e.ids.n;
    }
    llm__enc_free(&e);
    return oom ? llm__fail(LLM_ERR_NOMEM, "tokenize: out of memory") : LLM_OK;
}

/* ---- decoding: ids -> token strings -> decoder chain -> text ----
   Decoders work on a list of strings, as HF's decode_chain does: some rewrite each token
   (Replace, Strip, Metaspace), some join tokens (Fuse, ByteLevel, runs of byte tokens). */

typedef struct llm__toks { llm__buf buf; llm__pieces p; } llm__toks;

static void llm__toks_put(llm__toks *o, const char *s, size_t n) {
    size_t off = o->buf.len;
    llm__buf_put(&o->buf, s, n);
    llm__pieces_push(&o->p, off, n, false);
}

static void llm__toks_reset(llm__toks *o) {
    o->buf.len = 0;
    o->p.n = 0;
    llm__buf_put(&o->buf, "", 0);
}

/* ByteLevel: every token's code points back to bytes (a token with a code point outside the
   table keeps its UTF-8), all joined, then invalid UTF-8 replaced. */
static void llm__dec_bytelevel(const llm__toks *in, llm__buf *tmp, llm__toks *out) {
    tmp->len = 0;
    for (size_t k = 0; k < in->p.n; k++) {
        const uint8_t *s = (const uint8_t *)in->buf.data + in->p.v[k].off;
        size_t n = in->p.v[k].len, mark = tmp->len;
        for (size_t i = 0; i < n;) {
            int len, b = llm__bytelevel_byte(llm__utf8_cp(s + i, &len));
            if (b < 0) { tmp->len = mark; llm__buf_put(tmp, s, n); break; }
            uint8_t c = (uint8_t)b;
            llm__buf_put(tmp, &c, 1);
            i += (size_t)len;
        }
    }
    size_t off = out->buf.len;
    llm__buf_put_lossy(&out->buf, tmp->data ? tmp->data : "", tmp->len);
    llm__pieces_push(&out->p, off, out->buf.len - off, false);
}

/* ByteFallback: a run of <0xNN> tokens becomes its bytes when they are valid UTF-8, else
   one U+FFFD per byte. */
static void llm__dec_bytefallback(const llm__toks *in, llm__buf *tmp, llm__toks *out) {
    tmp->len = 0;
    for (size_t k = 0; k <= in->p.n; k++) {
        int b = k < in->p.n ? llm__byte_token_value(in->buf.data + in->p.v[k].off, in->p.v[k].len) : -1;
        if (b >= 0) { uint8_t c = (uint8_t)b; llm__buf_put(tmp, &c, 1); continue; }
        if (tmp->len && llm__utf8_valid(tmp->data, tmp->len)) llm__toks_put(out, tmp->data, tmp->len);
        else for (size_t i = 0; i < tmp->len; i++) llm__toks_put(out, "\xef\xbf\xbd", 3);
        tmp->len = 0;
        if (k < in->p.n) llm__toks_put(out, in->buf.data + in->p.v[k].off, in->p.v[k].len);
    }
}

/* Strip: up to `start` leading and `stop` trailing copies of the content character. */
static void llm__dec_strip(const llm__step *st, const char *s, size_t n, llm__toks *out) {
    size_t c = st->content_len;
    for (int i = 0; i < st->start && c && n >= c && memcmp(s, st->content, c) == 0; i++) { s += c; n -= c; }
    for (int i = 0; i < st->stop && c && n >= c && memcmp(s + n - c, st->content, c) == 0; i++) n -= c;
    llm__toks_put(out, s, n);
}

/* Metaspace: "▁" becomes " ", except in the first token, where it is dropped (it was the
   prepended one) unless the scheme is "never". */
static void llm__dec_metaspace(const llm__step *st, size_t k, const char *s, size_t n, llm__buf *tmp, llm__toks *out) {
    tmp->len = 0;
    for (size_t i = 0; i < n;) {
        if (st->content_len && i + st->content_len <= n && memcmp(s + i, st->content, st->content_len) == 0) {
            if (!(k == 0 && st->behavior != LLM__PREPEND_NEVER)) llm__buf_put(tmp, " ", 1);
            i += st->content_len;
        } else llm__buf_put(tmp, s + i++, 1);
    }
    llm__toks_put(out, tmp->data ? tmp->data : "", tmp->len);
}

/* WordPiece: "##" continuations glue to the previous token, others get a space; cleanup
   then undoes the spaces English tokenization put before punctuation and contractions. */
static void llm__dec_wordpiece(const llm__step *st, size_t k, const char *s, size_t n, llm__buf *tmp, llm__toks *out) {
    static const char *const cleanup[][2] = {
        { " .", "." }, { " ?", "?" }, { " !", "!" }, { " ,", "," }, { " ' ", "'" }, { " n't", "n't" },
        { " 'm", "'m" }, { " do not", " don't" }, { " 's", "'s" }, { " 've", "'ve" }, { " 're", "'re" },
    };
    tmp->len = 0;
    if (k > 0) {
        if (n >= st->content_len && memcmp(s, st->content, st->content_len) == 0) { s += st->content_len; n -= st->content_len; }
        else llm__buf_put(tmp, " ", 1);
    }
    llm__buf_put(tmp, s, n);
    for (size_t r = 0; st->b && r < sizeof cleanup / sizeof cleanup[0]; r++) {
        llm__step rep = { .kind = LLM__D_REPLACE, .pat = (char *)cleanup[r][0], .pat_len = strlen(cleanup[r][0]),
                          .content = (char *)cleanup[r][1], .content_len = strlen(cleanup[r][1]) };
        llm__buf done = { 0 };
        llm__replace_all(&rep, tmp->data ? tmp->data : "", tmp->len, &done);
        tmp->len = 0;
        llm__buf_put(tmp, done.data ? done.data : "", done.len);
        llm__buf_free(&done);
    }
    llm__toks_put(out, tmp->data ? tmp->data : "", tmp->len);
}

static void llm__decode_step(const llm__step *st, const llm__toks *in, llm__buf *tmp, llm__toks *out) {
    if (st->kind == LLM__D_BYTELEVEL) { llm__dec_bytelevel(in, tmp, out); return; }
    if (st->kind == LLM__D_BYTEFALLBACK) { llm__dec_bytefallback(in, tmp, out); return; }
    if (st->kind == LLM__D_FUSE) {
        size_t off = out->buf.len;
        for (size_t k = 0; k < in->p.n; k++) llm__buf_put(&out->buf, in->buf.data + in->p.v[k].off, in->p.v[k].len);
        llm__pieces_push(&out->p, off, out->buf.len - off, false);
        return;
    }
    for (size_t k = 0; k < in->p.n; k++) {
        const char *s = in->buf.data + in->p.v[k].off;
        size_t n = in->p.v[k].len;
        if (st->kind == LLM__D_STRIP) llm__dec_strip(st, s, n, out);
        else if (st->kind == LLM__D_METASPACE) llm__dec_metaspace(st, k, s, n, tmp, out);
        else if (st->kind == LLM__D_WORDPIECE) llm__dec_wordpiece(st, k, s, n, tmp, out);
        else {                                                   /* LLM__D_REPLACE */
            tmp->len = 0;
            llm__replace_all(st, s, n, tmp);
            llm__toks_put(out, tmp->data ? tmp->data : "", tmp->len);
        }
    }
}

/* llama2.c's decode(): a leading space is dropped after BOS, <0xNN> is the raw byte. */
static void llm__runc_decode(const llm_tokenizer *t, const llm_token *ids, int64_t n, bool skip_special, llm__buf *out) {
    llm_token prev = -1;
    for (int64_t i = 0; i < n; prev = ids[i], i++) {
        llm_token id = ids[i];
        if (id < 0 || id >= t->n_vocab || (skip_special && (t->flags[id] & LLM__TF_SPECIAL))) continue;
        const char *s = t->pieces[id];
        size_t len = t->piece_lens[id];
        if (prev == t->bos && len && s[0] == ' ') { s++; len--; }
        int b = llm__byte_token_value(s, len);
        if (b >= 0) { uint8_t c = (uint8_t)b; llm__buf_put(out, &c, 1); }
        else llm__buf_put(out, s, len);
    }
}

/* Decode into out (appending). */
static void llm__decode(const llm_tokenizer *t, const llm_token *ids, int64_t n, bool skip_special, llm__buf *out) {
    if (t->model == LLM__TOK_RUNC) { llm__runc_decode(t, ids, n, skip_special, out); return; }
    llm__toks a = { 0 }, b = { 0 };
    llm__buf tmp = { 0 };
    llm__toks_reset(&a);
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab || (skip_special && (t->flags[ids[i]] & LLM__TF_SPECIAL))) continue;
        llm__toks_put(&a, t->pieces[ids[i]], t->piece_lens[ids[i]]);
    }
    for (int i = 0; i < t->n_dec; i++) {
        llm__toks_reset(&b);
        llm__decode_step(&t->dec[i], &a, &tmp, &b);
        llm__toks x = a; a = b; b = x;
    }
    for (size_t k = 0; k < a.p.n; k++) {
        if (k && !t->has_decoder) llm__buf_put(out, " ", 1);       /* HF joins with spaces without a decoder */
        llm__buf_put(out, a.buf.data + a.p.v[k].off, a.p.v[k].len);
    }
    if (a.buf.oom || b.buf.oom || tmp.oom || a.p.oom || b.p.oom) out->oom = true;
    llm__buf_free(&a.buf); llm__buf_free(&b.buf); llm__buf_free(&tmp);
    free(a.p.v); free(b.p.v);
}

LLM_API int64_t llm_detokenize(const llm_tokenizer *t, const llm_token *ids, int64_t n, bool skip_special,
                               char *buf, int64_t cap) {
    LLM_ASSERT(t && (ids || n <= 0) && (buf || cap <= 0));
    llm__buf out = { 0 };
    llm__decode(t, ids, n, skip_special, &out);
    if (out.oom) { llm__buf_free(&out); return -1; }
    int64_t len = (int64_t)out.len;
    if (cap > 0) {
        size_t k = (size_t)LLM__MIN(len, cap - 1);
        if (k) memcpy(buf, out.data, k);
        buf[k] = 0;
    }
    llm__buf_free(&out);
    return len;
}

/* ---- streaming detokenizer ----
   HF's DecodeStream idea: keep a small window of ids - the ones not yet emitted plus one
   already emitted id for context - and the text that window's emitted part decodes to
   (`prefix`). After a push, decode the window; if it grew past the prefix and does not end
   in something the next id may still change (U+FFFD, a cut UTF-8 sequence from raw-byte
   decoders, a run of <0xNN> tokens), the extra text is final. Because the context token is decoded along with the new ones,
   context-dependent decoders (Strip of the first space, Metaspace's first "▁", byte runs)
   give exactly what decoding the whole sequence gives. */
struct llm_detok {
    const llm_tokenizer *tok;
    bool skip_special;
    llm__ids ids;              /* the window */
    size_t prefix_index;       /* ids[0..prefix_index) decode to `prefix` */
    llm__buf prefix, text, out;
};

LLM_API llm_status llm_detok_create(const llm_tokenizer *tok, bool skip_special, llm_detok **out_detok) {
    LLM_ASSERT(tok && out_detok);
    llm_detok *d = (llm_detok *)calloc(1, sizeof *d);
    if (!d) return llm__fail(LLM_ERR_NOMEM, "detokenizer: out of memory");
    d->tok = tok;
    d->skip_special = skip_special;
    *out_detok = d;
    return LLM_OK;
}

LLM_API void llm_detok_destroy(llm_detok *d) {
    if (!d) return;
    free(d->ids.v);
    llm__buf_free(&d->prefix); llm__buf_free(&d->text); llm__buf_free(&d->out);
    free(d);
}

/* Text that may still change when more ids come: it ends in U+FFFD or a cut sequence. */
static bool llm__text_unfinished(const char *s, size_t n) {
    if (n >= 3 && memcmp(s + n - 3, "\xef\xbf\xbd", 3) == 0) return true;
    size_t i = n;
    while (i > 0 && n - i < 4 && ((uint8_t)s[i - 1] & 0xc0) == 0x80) i--;
    if (i == 0 || ((uint8_t)s[i - 1] & 0xc0) != 0xc0) return false;   /* ends in ASCII or a stray byte */
    return (size_t)llm__utf8_len((uint8_t)s[i - 1]) > n - i + 1;
}

/* With a ByteFallback decoder a run of <0xNN> tokens is decoded as a whole - and replaced
   as a whole when invalid, even its ASCII bytes - so text ending in one is never final. */
static bool llm__detok_in_byte_run(const llm_tokenizer *t, llm_token id) {
    if (id < 0 || id >= t->n_vocab || llm__byte_token_value(t->pieces[id], t->piece_lens[id]) < 0) return false;
    for (int i = 0; i < t->n_dec; i++) if (t->dec[i].kind == LLM__D_BYTEFALLBACK) return true;
    return false;
}

static void llm__detok_decode(llm_detok *d, size_t from, size_t to, llm__buf *b) {
    b->len = 0;
    llm__buf_put(b, "", 0);
    if (to > from) llm__decode(d->tok, d->ids.v + from, (int64_t)(to - from), d->skip_special, b);
}

static llm_status llm__detok_result(llm_detok *d, const char **out_text, size_t *out_len) {
    if (d->ids.oom || d->prefix.oom || d->text.oom || d->out.oom) return llm__fail(LLM_ERR_NOMEM, "detokenizer: out of memory");
    *out_text = d->out.data ? d->out.data : "";
    *out_len = d->out.len;
    return LLM_OK;
}

LLM_API llm_status llm_detok_push(llm_detok *d, llm_token id, const char **out_text, size_t *out_len) {
    LLM_ASSERT(d && out_text && out_len);
    d->out.len = 0;
    llm__buf_put(&d->out, "", 0);
    llm__ids_push(&d->ids, id);
    if (llm__detok_in_byte_run(d->tok, id)) return llm__detok_result(d, out_text, out_len);
    llm__detok_decode(d, 0, d->ids.n, &d->text);
    if (d->text.len > d->prefix.len && !llm__text_unfinished(d->text.data, d->text.len) &&
        memcmp(d->text.data, d->prefix.data ? d->prefix.data : "", d->prefix.len) == 0) {
        llm__buf_put(&d->out, d->text.data + d->prefix.len, d->text.len - d->prefix.len);
        size_t keep_from = d->prefix_index, new_index = d->ids.n - d->prefix_index;
        memmove(d->ids.v, d->ids.v + keep_from, (d->ids.n - keep_from) * sizeof *d->ids.v);
        d->ids.n -= keep_from;
        llm__detok_decode(d, 0, d->prefix_index = new_index, &d->prefix);
    }
    return llm__detok_result(d, out_text, out_len);
}

LLM_API llm_status llm_detok_flush(llm_detok *d, const char **out_text, size_t *out_len) {
    LLM_ASSERT(d && out_text && out_len);
    d->out.len = 0;
    llm__buf_put(&d->out, "", 0);
    llm__detok_decode(d, 0, d->ids.n, &d->text);
    size_t skip = d->text.len >= d->prefix.len && memcmp(d->text.data, d->prefix.data ? d->prefix.data : "", d->prefix.len) == 0
                ? d->prefix.len : 0;
    llm__buf_put(&d->out, d->text.data + skip, d->text.len - skip);
    d->ids.n = 0;
    d->prefix_index = 0;
    d->prefix.len = 0;
    return llm__detok_result(d, out_text, out_len);
}
/* ==== end llm_impl/43_tok_models.c ==== */
/* ==== begin llm_impl/44_tok_json.c ==== */
/* ---- >>tokenizer.json: Hugging Face's tokenizer file ----
   {"model": {"type": "BPE", "vocab": {"a": 0, ...}, "merges": ["a b", ...] or [["a","b"], ...]},
    "added_tokens": [{"id": 128000, "content": "<|begin_of_text|>", "special": true, ...}],
    "normalizer": ..., "pre_tokenizer": ..., "post_processor": ..., "decoder": ...}
   Each pipeline entry is {"type": ..., fields} or a Sequence of them; we flatten Sequences
   into arrays of llm__step. Anything we do not implement is refused with its name
   (LLM_ERR_UNSUPPORTED) rather than silently tokenizing differently. bos/eos come from
   tokenizer_config.json next to the file. */
/* #include "10_internal.h" (already above) */

#ifndef LLM_NO_CJSON

/* GPT-2's pre-tokenizer regex, used by ByteLevel with use_regex. */
#define LLM__GPT2_PATTERN "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef struct llm__tj {               /* loading context */
    llm_tokenizer *t;
    const char *path;
} llm__tj;

/* Copy a JSON string field into the pool; *out stays NULL when absent. */
static llm_status llm__tj_str(llm__tj *c, const cJSON *obj, const char *key, const char *dflt, char **out, size_t *out_len) {
    const char *s = llm__json_str(obj, key, dflt);
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!s) return LLM_OK;
    size_t n = strlen(s);
    if (!(*out = llm__tok_intern(c->t, s, n))) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    if (out_len) *out_len = n;
    return LLM_OK;
}

/* "pattern": {"String": "x"} or {"Regex": "..."} into st->pat or st->re. */
static llm_status llm__tj_pattern(llm__tj *c, const cJSON *obj, const char *what, llm__step *st) {
    const cJSON *p = llm__json_get(obj, "pattern");
    if (llm__json_str(p, "String", NULL)) return llm__tj_str(c, p, "String", NULL, &st->pat, &st->pat_len);
    const char *re = llm__json_str(p, "Regex", NULL);
    if (!re) return llm__fail(LLM_ERR_FORMAT, "%s: %s needs a pattern {\"String\"|\"Regex\": ...}", c->path, what);
    return llm__regex_compile(re, c->path, &st->re);
}

static int llm__tj_behavior(const char *s, int dflt) {
    static const char *const names[] = { "Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous" };
    for (int i = 0; s && i < 5; i++) if (!strcmp(s, names[i])) return i;
    return dflt;
}

static int llm__tj_prepend_scheme(const cJSON *obj) {
    const char *s = llm__json_str(obj, "prepend_scheme", NULL);
    if (s) return !strcmp(s, "first") ? LLM__PREPEND_FIRST : !strcmp(s, "never") ? LLM__PREPEND_NEVER : LLM__PREPEND_ALWAYS;
    return llm__json_bool(obj, "add_prefix_space", true) ? LLM__PREPEND_ALWAYS : LLM__PREPEND_NEVER;
}

static llm_status llm__tj_normalizer(llm__tj *c, const cJSON *j) {
    if (!j || cJSON_IsNull(j)) return LLM_OK;
    const char *type = llm__json_str(j, "type", "");
    llm__step st;
    memset(&st, 0, sizeof st);
    llm_status s = LLM_OK;
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, llm__json_get(j, "normalizers")) if ((s = llm__tj_normalizer(c, it))) return s;
        return LLM_OK;
    }
    if (!strcmp(type, "NFC")) st.kind = LLM__N_NFC;
    else if (!strcmp(type, "NFD")) st.kind = LLM__N_NFD;
    else if (!strcmp(type, "NFKC")) st.kind = LLM__N_NFKC;
    else if (!strcmp(type, "NFKD")) st.kind = LLM__N_NFKD;
    else if (!strcmp(type, "Lowercase")) st.kind = LLM__N_LOWERCASE;
    else if (!strcmp(type, "Prepend")) { st.kind = LLM__N_PREPEND; s = llm__tj_str(c, j, "prepend", "", &st.content, &st.content_len); }
    else if (!strcmp(type, "Replace")) {
        st.kind = LLM__N_REPLACE;
        if (!(s = llm__tj_pattern(c, j, "Replace", &st))) s = llm__tj_str(c, j, "content", "", &st.content, &st.content_len);
    } else if (!strcmp(type, "Strip")) {
        st.kind = LLM__N_STRIP;
        st.a = llm__json_bool(j, "strip_left", true);
        st.b = llm__json_bool(j, "strip_right", true);
    } else if (!strcmp(type, "Precompiled") && !llm__json_has(j, "precompiled_charsmap")) return LLM_OK;
    else return llm__fail(LLM_ERR_UNSUPPORTED, "%s: normalizer type '%s' is not supported", c->path, type);
    if (s) { llm__regex_free(st.re); return s; }
    return llm__tok_push_step(&c->t->norm, &c->t->n_norm, st, c->path);
}

static llm_status llm__tj_pretokenizer(llm__tj *c, const cJSON *j) {
    if (!j || cJSON_IsNull(j)) return LLM_OK;
    const char *type = llm__json_str(j, "type", "");
    llm__step st;
    memset(&st, 0, sizeof st);
    llm_status s = LLM_OK;
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, llm__json_get(j, "pretokenizers")) if ((s = llm__tj_pretokenizer(c, it))) return s;
        return LLM_OK;
    }
    if (!strcmp(type, "ByteLevel")) {
        st.kind = LLM__P_BYTELEVEL;
        st.a = llm__json_bool(j, "add_prefix_space", true);
        st.b = llm__json_bool(j, "use_regex", true);
        if (st.b) s = llm__regex_compile(LLM__GPT2_PATTERN, c->path, &st.re);
    } else if (!strcmp(type, "Split")) {
        st.kind = LLM__P_SPLIT;
        st.behavior = llm__tj_behavior(llm__json_str(j, "behavior", NULL), -1);
        st.invert = llm__json_bool(j, "invert", false);
        if (st.behavior < 0) return llm__fail(LLM_ERR_FORMAT, "%s: Split has an unknown behavior", c->path);
        s = llm__tj_pattern(c, j, "Split", &st);
    } else if (!strcmp(type, "Metaspace")) {
        st.kind = LLM__P_METASPACE;
        st.behavior = llm__tj_prepend_scheme(j);
        st.a = llm__json_bool(j, "split", true);
        s = llm__tj_str(c, j, "replacement", "\xe2\x96\x81", &st.content, &st.content_len);
    } else if (!strcmp(type, "Digits")) { st.kind = LLM__P_DIGITS; st.a = llm__json_bool(j, "individual_digits", false); }
    else if (!strcmp(type, "Punctuation")) {
        st.kind = LLM__P_PUNCT;
        st.behavior = llm__tj_behavior(llm__json_str(j, "behavior", NULL), LLM__SPLIT_ISOLATED);
    } else if (!strcmp(type, "Whitespace")) st.kind = LLM__P_WHITESPACE;
    else if (!strcmp(type, "WhitespaceSplit")) st.kind = LLM__P_WSSPLIT;
    else if (!strcmp(type, "BertPreTokenizer")) {
        st.kind = LLM__P_WSSPLIT;
        if ((s = llm__tok_push_step(&c->t->pre, &c->t->n_pre, st, c->path))) return s;
        st.kind = LLM__P_PUNCT;
        st.behavior = LLM__SPLIT_ISOLATED;
    } else return llm__fail(LLM_ERR_UNSUPPORTED, "%s: pre-tokenizer type '%s' is not supported", c->path, type);
    if (s) { llm__regex_free(st.re); return s; }
    return llm__tok_push_step(&c->t->pre, &c->t->n_pre, st, c->path);
}

static llm_status llm__tj_decoder(llm__tj *c, const cJSON *j) {
    if (!j || cJSON_IsNull(j)) return LLM_OK;
    const char *type = llm__json_str(j, "type", "");
    llm__step st;
    memset(&st, 0, sizeof st);
    llm_status s = LLM_OK;
    c->t->has_decoder = true;
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, llm__json_get(j, "decoders")) if ((s = llm__tj_decoder(c, it))) return s;
        return LLM_OK;
    }
    if (!strcmp(type, "ByteLevel")) st.kind = LLM__D_BYTELEVEL;
    else if (!strcmp(type, "ByteFallback")) st.kind = LLM__D_BYTEFALLBACK;
    else if (!strcmp(type, "Fuse")) st.kind = LLM__D_FUSE;
    else if (!strcmp(type, "Metaspace")) {
        st.kind = LLM__D_METASPACE;
        st.behavior = llm__tj_prepend_scheme(j);
        s = llm__tj_str(c, j, "replacement", "\xe2\x96\x81", &st.content, &st.content_len);
    } else if (!strcmp(type, "Strip")) {
        st.kind = LLM__D_STRIP;
        st.start = (int)llm__json_int(j, "start", 0);
        st.stop = (int)llm__json_int(j, "stop", 0);
        s = llm__tj_str(c, j, "content", " ", &st.content, &st.content_len);
    } else if (!strcmp(type, "Replace")) {
        st.kind = LLM__D_REPLACE;
        if (!(s = llm__tj_pattern(c, j, "Replace", &st))) s = llm__tj_str(c, j, "content", "", &st.content, &st.content_len);
    } else if (!strcmp(type, "WordPiece")) {
        st.kind = LLM__D_WORDPIECE;
        st.b = llm__json_bool(j, "cleanup", true);
        s = llm__tj_str(c, j, "prefix", "##", &st.content, &st.content_len);
    } else return llm__fail(LLM_ERR_UNSUPPORTED, "%s: decoder type '%s' is not supported", c->path, type);
    if (s) { llm__regex_free(st.re); return s; }
    return llm__tok_push_step(&c->t->dec, &c->t->n_dec, st, c->path);
}

/* A JSON number as a token id, -1 unless it is an integer in [0, LLM_MAX_VOCAB). */
static llm_token llm__tj_id(const cJSON *v) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < LLM_MAX_VOCAB)) return -1;
    return v->valuedouble == (double)(llm_token)v->valuedouble ? (llm_token)v->valuedouble : -1;
}

/* Collect the ids the post-processor puts before (pre) and after (post) the text. */
typedef struct llm__post { llm_token ids[64]; int n_pre, n_post; } llm__post;

static llm_status llm__tj_post_add(llm__tj *c, llm__post *p, bool before, llm_token id) {
    if (p->n_pre + p->n_post >= 64) return llm__fail(LLM_ERR_FORMAT, "%s: post_processor adds too many tokens", c->path);
    if (id < 0 || id >= c->t->n_vocab) return llm__fail(LLM_ERR_FORMAT, "%s: post_processor token id out of range", c->path);
    if (before) {
        memmove(p->ids + p->n_pre + 1, p->ids + p->n_pre, (size_t)p->n_post * sizeof *p->ids);
        p->ids[p->n_pre++] = id;
    } else p->ids[p->n_pre + p->n_post++] = id;
    return LLM_OK;
}

static llm_status llm__tj_template(llm__tj *c, const cJSON *j, llm__post *p) {
    const cJSON *it, *specials = llm__json_get(j, "special_tokens");
    bool before = true;
    llm_status s;
    cJSON_ArrayForEach(it, llm__json_get(j, "single")) {
        if (llm__json_has(it, "Sequence")) { before = false; continue; }
        const char *name = llm__json_str(llm__json_get(it, "SpecialToken"), "id", NULL);
        const cJSON *ids = llm__json_get(llm__json_get(specials, name ? name : ""), "ids"), *id;
        if (!name || !cJSON_IsArray(ids)) return llm__fail(LLM_ERR_FORMAT, "%s: TemplateProcessing item without ids", c->path);
        cJSON_ArrayForEach(id, ids) {
            if ((s = llm__tj_post_add(c, p, before, llm__tj_id(id)))) return s;
        }
    }
    return LLM_OK;
}

static llm_status llm__tj_post(llm__tj *c, const cJSON *j, llm__post *p) {
    if (!j || cJSON_IsNull(j)) return LLM_OK;
    const char *type = llm__json_str(j, "type", "");
    llm_status s;
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, llm__json_get(j, "processors")) if ((s = llm__tj_post(c, it, p))) return s;
        return LLM_OK;
    }
    if (!strcmp(type, "ByteLevel")) return LLM_OK;           /* only adjusts offsets */
    if (!strcmp(type, "TemplateProcessing")) return llm__tj_template(c, j, p);
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        const cJSON *cls = cJSON_GetArrayItem(llm__json_get(j, "cls"), 1), *sep = cJSON_GetArrayItem(llm__json_get(j, "sep"), 1);
        if (!cJSON_IsNumber(cls) || !cJSON_IsNumber(sep)) return llm__fail(LLM_ERR_FORMAT, "%s: %s needs cls and sep", c->path, type);
        if ((s = llm__tj_post_add(c, p, true, llm__tj_id(cls)))) return s;
        return llm__tj_post_add(c, p, false, llm__tj_id(sep));
    }
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: post_processor type '%s' is not supported", c->path, type);
}

/* ---- the model section ---- */

/* ---- the big arrays, scanned directly ----
   cJSON makes a node per value: for gemma3's 262k vocabulary entries and 515k merges that
   is millions of allocations, most of the loading time. So before cJSON sees the file we
   cut model.vocab (when it is an object) and model.merges out of the text (blanking them
   to `0`) and read them here with a small scanner that decodes strings into one buffer. */

typedef struct llm__js { const char *p, *end; } llm__js;

static void llm__js_ws(llm__js *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

static bool llm__js_lit(llm__js *j, char c) {
    llm__js_ws(j);
    if (j->p < j->end && *j->p == c) { j->p++; return true; }
    return false;
}

static int llm__js_hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A JSON string at j (after blanks) decoded into out (replacing its contents). */
static bool llm__js_string(llm__js *j, llm__buf *out) {
    out->len = 0;
    if (!llm__js_lit(j, '"')) return false;
    while (j->p < j->end && *j->p != '"') {
        const char *run = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\') j->p++;
        llm__buf_put(out, run, (size_t)(j->p - run));
        if (j->p >= j->end || *j->p == '"') break;
        if (j->end - j->p < 2) return false;
        char e = j->p[1], c;
        j->p += 2;
        if (e == 'u') {
            int32_t cp = j->end - j->p >= 4 ? llm__js_hex4(j->p) : -1;
            if (cp < 0) return false;
            j->p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
                int lo = llm__js_hex4(j->p + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); j->p += 6; }
            }
            if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;                  /* lone surrogate */
            char enc[4];
            llm__buf_put(out, enc, (size_t)llm__utf8_encode(cp, enc));
            continue;
        }
        c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
        if (!strchr("\"\\/nrtbf", e)) return false;
        llm__buf_put(out, &c, 1);
    }
    if (j->p >= j->end) return false;
    j->p++;
    llm__buf_put(out, "", 0);
    return !out->oom;
}

/* Skip one JSON value (balanced brackets, strings with escapes). */
static bool llm__js_skip(llm__js *j) {
    llm__js_ws(j);
    int depth = 0;
    do {
        if (j->p >= j->end) return false;
        char c = *j->p++;
        if (c == '"') {                                 /* to the next quote not escaped */
            for (;;) {
                const char *q = (const char *)memchr(j->p, '"', (size_t)(j->end - j->p));
                if (!q) return false;
                size_t slashes = 0;
                while (q - slashes > j->p && q[-1 - (ptrdiff_t)slashes] == '\\') slashes++;
                j->p = q + 1;
                if (slashes % 2 == 0) break;
            }
        } else if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') depth--;
        else if (depth == 0) while (j->p < j->end && !strchr(",}] \t\r\n", *j->p)) j->p++;
    } while (depth > 0);
    return depth == 0;
}

/* Find model.vocab and model.merges in the text: their [start, end) spans (empty if absent). */
static bool llm__js_find_model_arrays(llm__js j, llm__buf *key, llm__js *vocab, llm__js *merges) {
    vocab->p = vocab->end = merges->p = merges->end = NULL;
    if (!llm__js_lit(&j, '{')) return false;
    while (!llm__js_lit(&j, '}')) {
        if (!llm__js_string(&j, key) || !llm__js_lit(&j, ':')) return false;
        llm__js_ws(&j);
        if (strcmp(key->data, "model") || !llm__js_lit(&j, '{')) { if (!llm__js_skip(&j)) return false; }
        else while (!llm__js_lit(&j, '}')) {
            if (!llm__js_string(&j, key) || !llm__js_lit(&j, ':')) return false;
            llm__js_ws(&j);
            llm__js *span = !strcmp(key->data, "vocab") && j.p < j.end && *j.p == '{' ? vocab : !strcmp(key->data, "merges") ? merges : NULL;
            const char *start = j.p;
            if (!llm__js_skip(&j)) return false;
            if (span) { span->p = start; span->end = j.p; }
            llm__js_lit(&j, ',');
        }
        llm__js_lit(&j, ',');
    }
    return true;
}

/* model.vocab {"piece": id, ...}: with fill, give each id its piece; else only the max id. */
static llm_status llm__tj_vocab_scan(llm__tj *c, llm__js j, bool fill, int64_t *n_ids, llm__buf *key) {
    llm_status s;
    if (!llm__js_lit(&j, '{')) goto bad;
    while (!llm__js_lit(&j, '}')) {
        llm__js_ws(&j);
        if (fill ? !llm__js_string(&j, key) : (j.p >= j.end || *j.p != '"' || !llm__js_skip(&j))) goto bad;  /* counting: keys unread */
        if (!llm__js_lit(&j, ':')) goto bad;
        llm__js_ws(&j);
        char *end;
        double v = j.p < j.end ? strtod(j.p, &end) : -1;
        if (j.p >= j.end || end > j.end || end == j.p || !(v >= 0 && v < LLM_MAX_VOCAB) || v != (double)(llm_token)v)
            return llm__fail(LLM_ERR_FORMAT, "%s: model.vocab['%.100s'] is not a valid id", c->path, fill ? key->data : "?");
        j.p = end;
        if (!fill) *n_ids = LLM__MAX(*n_ids, (int64_t)v + 1);
        else if ((s = llm__tok_set_piece(c->t, (llm_token)v, key->data, key->len, true, c->path))) return s;
        if (!llm__js_lit(&j, ',') && (llm__js_ws(&j), j.p >= j.end || *j.p != '}')) goto bad;
    }
    return LLM_OK;
bad:
    return llm__fail(LLM_ERR_FORMAT, "%s: model.vocab is not a valid {\"piece\": id} object", c->path);
}

/* Enter merge number `rank` of a and b: the pair's ids -> (rank, merged id). */
static llm_status llm__tj_merge(llm__tj *c, const char *a, size_t na, const char *b, size_t nb, int64_t rank, llm__buf *tmp) {
    tmp->len = 0;
    llm__buf_put(tmp, a, na);
    llm__buf_put(tmp, b, nb);
    if (tmp->oom) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    llm_token ia = llm__strmap_get(&c->t->vocab, a, na), ib = llm__strmap_get(&c->t->vocab, b, nb);
    llm_token im = llm__strmap_get(&c->t->vocab, tmp->data, tmp->len);
    if (ia < 0 || ib < 0 || im < 0)
        return llm__fail(LLM_ERR_FORMAT, "%s: merges[%lld] '%.*s' + '%.*s': %s not in the vocabulary", c->path, (long long)rank,
                         (int)LLM__MIN(na, 100), a, (int)LLM__MIN(nb, 100), b, im >= 0 ? "a part is" : "the merged token is");
    uint64_t key = ((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib;
    if (!llm__u64map_put(&c->t->merges, key, (rank << 32) | (uint32_t)im)) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    return LLM_OK;
}

/* model.merges: ["a b", ...] or [["a", "b"], ...]; rank = position. */
static llm_status llm__tj_merges_scan(llm__tj *c, llm__js j, llm__buf *a, llm__buf *b, llm__buf *tmp) {
    llm_status s;
    if (!llm__u64map_init(&c->t->merges, (size_t)(j.end - j.p) / 16)) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    if (!llm__js_lit(&j, '[')) goto bad;
    for (int64_t rank = 0; !llm__js_lit(&j, ']'); rank++) {
        size_t na, nb;
        const char *pa = NULL, *pb = NULL;
        llm__js_ws(&j);
        if (j.p < j.end && *j.p == '[') {
            j.p++;
            if (!llm__js_string(&j, a) || !llm__js_lit(&j, ',') || !llm__js_string(&j, b) || !llm__js_lit(&j, ']')) goto bad;
            pa = a->data; na = a->len; pb = b->data; nb = b->len;
        } else {
            if (!llm__js_string(&j, a)) goto bad;
            const char *sp = memchr(a->data, ' ', a->len);
            if (!sp) return llm__fail(LLM_ERR_FORMAT, "%s: merges[%lld] '%.100s' is not \"a b\"", c->path, (long long)rank, a->data);
            pa = a->data; na = (size_t)(sp - a->data); pb = sp + 1; nb = a->len - na - 1;
        }
        if ((s = llm__tj_merge(c, pa, na, pb, nb, rank, tmp))) return s;
        if (!llm__js_lit(&j, ',') && (llm__js_ws(&j), j.p >= j.end || *j.p != ']')) goto bad;
    }
    return LLM_OK;
bad:
    return llm__fail(LLM_ERR_FORMAT, "%s: model.merges is not an array of \"a b\" or [\"a\", \"b\"]", c->path);
}

/* Largest id + 1 over the model vocabulary and the added tokens. */
static llm_status llm__tj_count_ids(llm__tj *c, const cJSON *model, const cJSON *added, bool unigram, llm__js vocab, int64_t *n) {
    const cJSON *it;
    llm_status s = LLM_OK;
    *n = 0;
    if (unigram) *n = cJSON_GetArraySize(llm__json_get(model, "vocab"));
    else if (vocab.p) {
        llm__buf key = { 0 };
        s = llm__tj_vocab_scan(c, vocab, false, n, &key);
        llm__buf_free(&key);
    }
    cJSON_ArrayForEach(it, added) *n = LLM__MAX(*n, (int64_t)llm__tj_id(llm__json_get(it, "id")) + 1);
    return s;
}

static llm_status llm__tj_vocab(llm__tj *c, const cJSON *model, bool unigram, llm__js vocab) {
    const cJSON *it, *arr = llm__json_get(model, "vocab");
    llm_status s;
    if (!unigram) {
        llm__buf key = { 0 };
        s = vocab.p ? llm__tj_vocab_scan(c, vocab, true, NULL, &key) : llm__fail(LLM_ERR_FORMAT, "%s: model.vocab must be an object", c->path);
        llm__buf_free(&key);
        return s;
    }
    if (!cJSON_IsArray(arr)) return llm__fail(LLM_ERR_FORMAT, "%s: Unigram model.vocab must be an array", c->path);
    llm_token id = 0;
    cJSON_ArrayForEach(it, arr) {
        const cJSON *a = cJSON_GetArrayItem(it, 0), *b = cJSON_GetArrayItem(it, 1);
        if (!cJSON_IsString(a) || !cJSON_IsNumber(b)) return llm__fail(LLM_ERR_FORMAT, "%s: model.vocab[%d] is not [piece, score]", c->path, id);
        c->t->scores[id] = (float)b->valuedouble;
        if ((s = llm__tok_set_piece(c->t, id, a->valuestring, strlen(a->valuestring), true, c->path))) return s;
        id++;
    }
    return LLM_OK;
}

static llm_status llm__tj_merges(llm__tj *c, llm__js merges) {
    if (!merges.p) return llm__fail(LLM_ERR_FORMAT, "%s: BPE model has no merges", c->path);
    llm__buf a = { 0 }, b = { 0 }, tmp = { 0 };
    llm_status s = llm__tj_merges_scan(c, merges, &a, &b, &tmp);
    llm__buf_free(&a); llm__buf_free(&b); llm__buf_free(&tmp);
    return s;
}

/* The unk token by name ("unk_token") or id ("unk_id"), -1 if none. */
static llm_status llm__tj_unk(llm__tj *c, const cJSON *model) {
    const char *name = llm__json_str(model, "unk_token", NULL);
    c->t->unk = -1;
    if (name && (c->t->unk = llm__strmap_get(&c->t->vocab, name, strlen(name))) < 0)
        return llm__fail(LLM_ERR_FORMAT, "%s: unk_token '%.100s' is not in the vocabulary", c->path, name);
    if (llm__json_has(model, "unk_id") && ((c->t->unk = llm__tj_id(llm__json_get(model, "unk_id"))) < 0 || c->t->unk >= c->t->n_vocab))
        return llm__fail(LLM_ERR_FORMAT, "%s: unk_id out of range", c->path);
    return LLM_OK;
}

static llm_status llm__tj_model(llm__tj *c, const cJSON *model, const cJSON *added, llm__js vocab, llm__js merges) {
    const char *type = llm__json_str(model, "type", NULL);
    if (!cJSON_IsObject(model)) return llm__fail(LLM_ERR_FORMAT, "%s: no \"model\" object", c->path);
    if (!type) type = merges.p ? "BPE" : cJSON_IsArray(llm__json_get(model, "vocab")) ? "Unigram" : "WordPiece";
    llm_tokenizer *t = c->t;
    bool unigram = !strcmp(type, "Unigram");
    if (!strcmp(type, "BPE")) t->model = LLM__TOK_BPE;
    else if (unigram) t->model = LLM__TOK_UNIGRAM;
    else if (!strcmp(type, "WordPiece")) t->model = LLM__TOK_WORDPIECE;
    else return llm__fail(LLM_ERR_UNSUPPORTED, "%s: model type '%s' is not supported", c->path, type);
    if (llm__json_str(model, "continuing_subword_prefix", "")[0] && t->model == LLM__TOK_BPE)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: BPE continuing_subword_prefix is not supported", c->path);
    if (llm__json_str(model, "end_of_word_suffix", "")[0])
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: BPE end_of_word_suffix is not supported", c->path);
    int64_t n;
    llm_status s = llm__tj_count_ids(c, model, added, unigram, vocab, &n);
    if (!s && n <= 0) s = llm__fail(LLM_ERR_FORMAT, "%s: empty or invalid model.vocab", c->path);
    if (!s) s = llm__tok_alloc_vocab(t, n, unigram, c->path);
    if (!s) s = llm__tj_vocab(c, model, unigram, vocab);
    if (!s && t->model == LLM__TOK_BPE) s = llm__tj_merges(c, merges);
    if (!s) s = llm__tj_unk(c, model);
    if (s) return s;
    t->byte_fallback = llm__json_bool(model, "byte_fallback", false);
    t->fuse_unk = llm__json_bool(model, "fuse_unk", unigram);
    t->ignore_merges = llm__json_bool(model, "ignore_merges", false);
    t->wp_max_chars = (int)llm__json_int(model, "max_input_chars_per_word", 100);
    if (t->model == LLM__TOK_WORDPIECE) return llm__tj_str(c, model, "continuing_subword_prefix", "##", &t->wp_prefix, NULL);
    return LLM_OK;
}

static llm_status llm__tj_added(llm__tj *c, const cJSON *added) {
    const cJSON *it;
    llm_status s;
    cJSON_ArrayForEach(it, added) {
        const char *content = llm__json_str(it, "content", NULL);
        llm__added a = { 0 };
        a.id = llm__tj_id(llm__json_get(it, "id"));
        if (!content || a.id < 0) return llm__fail(LLM_ERR_FORMAT, "%s: added_tokens entry without content or valid id", c->path);
        a.len = strlen(content);
        if (a.id >= c->t->n_vocab || a.len > UINT32_MAX / 2) return llm__fail(LLM_ERR_FORMAT, "%s: added token id %d out of range", c->path, a.id);
        if (!(a.text = llm__tok_intern(c->t, content, a.len))) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
        /* HF re-adds these by content: one the model vocabulary already has keeps the
           model's id, whatever the file says */
        llm_token model_id = llm__strmap_get(&c->t->vocab, content, a.len);
        if (model_id >= 0) a.id = model_id;
        else {
            c->t->pieces[a.id] = (char *)a.text;      /* HF decodes an added token's id to its content */
            c->t->piece_lens[a.id] = (uint32_t)a.len;
        }
        a.special = llm__json_bool(it, "special", false);
        a.lstrip = llm__json_bool(it, "lstrip", false);
        a.rstrip = llm__json_bool(it, "rstrip", false);
        a.single_word = llm__json_bool(it, "single_word", false);
        a.normalized = llm__json_bool(it, "normalized", !a.special);
        if ((s = llm__tok_add_token(c->t, &a, c->path))) return s;
    }
    return LLM_OK;
}

/* bos_token / eos_token of tokenizer_config.json: "<s>" or {"content": "<s>", ...}. */
static llm_token llm__tj_config_token(const llm_tokenizer *t, const cJSON *cfg, const char *key) {
    const cJSON *v = llm__json_get(cfg, key);
    const char *s = cJSON_IsString(v) ? v->valuestring : llm__json_str(v, "content", NULL);
    return s ? llm_tokenizer_find(t, s) : -1;
}

/* bos/eos from tokenizer_config.json in dir (absent file: BOS from the post-processor). */
static void llm__tj_config(llm_tokenizer *t, const char *dir) {
    char path[4096];
    cJSON *cfg = NULL;
    t->bos = t->n_post_pre == 1 ? t->post_ids[0] : -1;
    t->eos = -1;
    if (!llm__path_join(path, sizeof path, dir, "tokenizer_config.json") || !llm__file_exists(path)) return;
    if (llm__json_load(path, &cfg) != LLM_OK) { llm__log(LLM_LOG_WARN, "%s: ignored: %s", path, llm_last_error()); return; }
    if (llm__json_has(cfg, "bos_token")) t->bos = llm__tj_config_token(t, cfg, "bos_token");
    t->eos = llm__tj_config_token(t, cfg, "eos_token");
    /* transformers rebuilds the post-processor from add_bos_token / add_eos_token; honour
       them when tokenizer.json's own post-processor does not add those tokens */
    bool add_bos = llm__json_bool(cfg, "add_bos_token", false) && t->bos >= 0 && t->n_post_pre == 0;
    bool add_eos = llm__json_bool(cfg, "add_eos_token", false) && t->eos >= 0 && t->n_post_post == 0;
    llm_token *ids = add_bos || add_eos ? (llm_token *)realloc(t->post_ids, (size_t)(t->n_post_pre + t->n_post_post + 2) * sizeof *ids) : NULL;
    if (ids) {
        if (add_bos) { memmove(ids + 1, ids, (size_t)(t->n_post_pre + t->n_post_post) * sizeof *ids); ids[0] = t->bos; t->n_post_pre++; }
        if (add_eos) ids[t->n_post_pre + t->n_post_post++] = t->eos;
        t->post_ids = ids;
    }
    cJSON_Delete(cfg);
}

static llm_status llm__tj_pipeline(llm__tj *c, const cJSON *root) {
    llm__post post = { { 0 }, 0, 0 };
    llm_status s = llm__tj_normalizer(c, llm__json_get(root, "normalizer"));
    if (!s) s = llm__tj_pretokenizer(c, llm__json_get(root, "pre_tokenizer"));
    if (!s) s = llm__tj_decoder(c, llm__json_get(root, "decoder"));
    if (!s) s = llm__tj_post(c, llm__json_get(root, "post_processor"), &post);
    if (s) return s;
    int n = post.n_pre + post.n_post;
    if (n && !(c->t->post_ids = (llm_token *)malloc((size_t)n * sizeof(llm_token)))) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    if (n) memcpy(c->t->post_ids, post.ids, (size_t)n * sizeof(llm_token));
    c->t->n_post_pre = post.n_pre;
    c->t->n_post_post = post.n_post;
    return LLM_OK;
}

/* Load a tokenizer.json (and tokenizer_config.json beside it). */
static llm_status llm__tokenizer_load_json(const char *path, llm_tokenizer **out) {
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    llm_tokenizer *t = NULL;
    llm__buf key = { 0 };
    llm__js vocab, merges;
    llm_status s = llm__read_file(NULL, path, &text, &len);
    if (s) return s;
    if (!llm__js_find_model_arrays((llm__js){ text, text + len }, &key, &vocab, &merges)) {
        s = llm__json_parse(text, len, path, &root);                     /* for its line:column message */
        if (!s) s = llm__fail(LLM_ERR_FORMAT, "%s: not a JSON object", path);
        goto done;
    }
    /* cJSON parses a copy with the two big values blanked out */
    char *rest = (char *)malloc(len + 1);
    if (!rest) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    memcpy(rest, text, len + 1);
    llm__js spans[2] = { vocab, merges };
    for (int i = 0; i < 2; i++)
        if (spans[i].p) { size_t at = (size_t)(spans[i].p - text); memset(rest + at, ' ', (size_t)(spans[i].end - spans[i].p)); rest[at] = '0'; }
    s = llm__json_parse(rest, len, path, &root);
    free(rest);
    if (s) goto done;
    if (!(t = (llm_tokenizer *)calloc(1, sizeof *t))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    llm__tj c = { t, path };
    const cJSON *added = llm__json_get(root, "added_tokens");
    s = llm__tj_model(&c, llm__json_get(root, "model"), added, vocab, merges);
    if (!s) s = llm__tj_added(&c, added);
    if (!s) s = llm__tj_pipeline(&c, root);
    if (!s) s = llm__tok_finish(t, path);
done:
    cJSON_Delete(root);
    llm__free(NULL, text);
    llm__buf_free(&key);
    if (s) { llm_tokenizer_free(t); return s; }
    char dir[4096];
    llm__path_dir(dir, sizeof dir, path);
    llm__tj_config(t, dir);
    *out = t;
    return LLM_OK;
}
#endif /* LLM_NO_CJSON */
/* ==== end llm_impl/44_tok_json.c ==== */
/* ==== begin llm_impl/44_tok_spm.c ==== */
/* ---- >>tokenizer.model and tokenizer.bin: SentencePiece and llama2.c ----
   tokenizer.model is a protobuf ModelProto; the few fields we read:
     ModelProto     { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
                      NormalizerSpec normalizer_spec = 3; }
     SentencePiece  { string piece = 1; float score = 2; Type type = 3; }
                      (type NORMAL=1 UNKNOWN=2 CONTROL=3 USER_DEFINED=4 UNUSED=5 BYTE=6)
     TrainerSpec    { ModelType model_type = 3 (UNIGRAM=1, BPE=2); bool byte_fallback = 35;
                      int32 unk_id = 40, bos_id = 41, eos_id = 42; }
     NormalizerSpec { string name = 1; bytes precompiled_charsmap = 2; bool add_dummy_prefix = 3;
                      bool remove_extra_whitespaces = 4; bool escape_whitespaces = 5; }
   A protobuf message is a list of (key varint = field << 3 | wire type, value) records:
   wire 0 varint, 1 eight bytes, 2 length-delimited (strings, nested messages), 5 four bytes.
   The loader fills the same pipeline that HF's conversion of the file would give.
   tokenizer.bin is llama2.c's export: int32 max_token_length, then per token float score,
   int32 length, bytes; it encodes and decodes like run.c (see 43_tok_models.c). */
/* #include "10_internal.h" (already above) */
#include <dirent.h>

typedef struct llm__pb { const uint8_t *p, *end; } llm__pb;

static bool llm__pb_varint(llm__pb *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

/* The next field of a message: its number, wire type, and value (varint/fixed in *v,
   length-delimited in data). False at the end or on a malformed record (*bad). */
static bool llm__pb_next(llm__pb *r, uint32_t *field, uint32_t *wire, uint64_t *v, llm__pb *data, bool *bad) {
    uint64_t key, len;
    if (r->p >= r->end) return false;
    if (!llm__pb_varint(r, &key)) { *bad = true; return false; }
    *field = (uint32_t)(key >> 3);
    *wire = (uint32_t)(key & 7);
    switch (*wire) {
    case 0: if (!llm__pb_varint(r, v)) { *bad = true; return false; } return true;
    case 1: case 5: {
        size_t n = *wire == 1 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) { *bad = true; return false; }
        *v = 0;
        for (size_t i = 0; i < n; i++) *v |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        return true;
    }
    case 2:
        if (!llm__pb_varint(r, &len) || len > (uint64_t)(r->end - r->p)) { *bad = true; return false; }
        data->p = r->p;
        data->end = r->p + len;
        r->p += len;
        return true;
    default: *bad = true; return false;                /* groups (3, 4) are not used by ModelProto */
    }
}

static float llm__pb_float(uint64_t v) {
    uint32_t u = (uint32_t)v;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

enum { LLM__SP_NORMAL = 1, LLM__SP_UNKNOWN = 2, LLM__SP_CONTROL = 3, LLM__SP_USER = 4, LLM__SP_UNUSED = 5, LLM__SP_BYTE = 6 };

typedef struct llm__spm {
    int model_type;                          /* 1 unigram, 2 BPE */
    bool byte_fallback, add_dummy_prefix, remove_extra_ws, escape_ws, has_charsmap;
    int64_t unk_id, bos_id, eos_id;
    int64_t n_pieces;
} llm__spm;

/* First pass over the top-level message: counts pieces, reads both specs. */
static llm_status llm__spm_specs(const char *path, llm__pb r, llm__spm *sp) {
    uint32_t field, wire, f2, w2;
    uint64_t v;
    llm__pb data, sub;
    bool bad = false;
    *sp = (llm__spm){ 1, false, true, true, true, false, 0, 1, 2, 0 };
    while (llm__pb_next(&r, &field, &wire, &v, &data, &bad)) {
        if (field == 1 && wire == 2) sp->n_pieces++;
        if (field == 2 && wire == 2)
            while (llm__pb_next(&data, &f2, &w2, &v, &sub, &bad)) {
                if (w2 != 0) continue;
                if (f2 == 3) sp->model_type = (int)v;
                else if (f2 == 35) sp->byte_fallback = v != 0;
                else if (f2 == 40) sp->unk_id = (int32_t)v;
                else if (f2 == 41) sp->bos_id = (int32_t)v;
                else if (f2 == 42) sp->eos_id = (int32_t)v;
            }
        if (field == 3 && wire == 2)
            while (llm__pb_next(&data, &f2, &w2, &v, &sub, &bad)) {
                if (f2 == 2 && w2 == 2) sp->has_charsmap = sub.end > sub.p;
                else if (f2 == 3 && w2 == 0) sp->add_dummy_prefix = v != 0;
                else if (f2 == 4 && w2 == 0) sp->remove_extra_ws = v != 0;
                else if (f2 == 5 && w2 == 0) sp->escape_ws = v != 0;
            }
    }
    if (bad) return llm__fail(LLM_ERR_FORMAT, "%s: malformed protobuf (truncated or corrupt)", path);
    if (sp->n_pieces == 0) return llm__fail(LLM_ERR_FORMAT, "%s: no pieces (not a SentencePiece model?)", path);
    if (sp->n_pieces > LLM_MAX_VOCAB) return llm__fail(LLM_ERR_FORMAT, "%s: too many pieces", path);
    if (sp->model_type != 1 && sp->model_type != 2)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: SentencePiece model_type %d (only UNIGRAM=1 and BPE=2)", path, sp->model_type);
    return LLM_OK;
}

/* Second pass: the pieces. User-defined pieces become added tokens; control, unknown,
   byte and unused pieces never come out of the model's own search. */
static llm_status llm__spm_pieces(llm_tokenizer *t, const char *path, llm__pb r, int *types) {
    uint32_t field, wire, f2, w2;
    uint64_t v;
    llm__pb data, sub;
    bool bad = false;
    llm_token id = 0;
    llm_status s;
    while (llm__pb_next(&r, &field, &wire, &v, &data, &bad)) {
        if (field != 1 || wire != 2) continue;
        llm__pb text = { NULL, NULL };
        int type = LLM__SP_NORMAL;
        while (llm__pb_next(&data, &f2, &w2, &v, &sub, &bad)) {
            if (f2 == 1 && w2 == 2) text = sub;
            else if (f2 == 2 && w2 == 5) t->scores[id] = llm__pb_float(v);
            else if (f2 == 3 && w2 == 0) type = (int)v;
        }
        size_t n = (size_t)(text.end - text.p);
        if (bad || !text.p) return llm__fail(LLM_ERR_FORMAT, "%s: piece %d is malformed", path, id);
        if ((s = llm__tok_set_piece(t, id, (const char *)text.p, n, true, path))) return s;
        types[id] = type;
        if (type != LLM__SP_NORMAL && type != LLM__SP_USER) t->flags[id] |= LLM__TF_NO_MODEL;
        if (type == LLM__SP_CONTROL) t->flags[id] |= LLM__TF_SPECIAL;
        if (type == LLM__SP_USER && n) {
            llm__added a = { t->pieces[id], n, id, false, false, false, false, true, true };
            if ((s = llm__tok_add_token(t, &a, path))) return s;
        }
        id++;
    }
    if (bad) return llm__fail(LLM_ERR_FORMAT, "%s: malformed protobuf (truncated or corrupt)", path);
    return LLM_OK;
}

/* Score-ordered merges: every way to write a mergeable piece as two pieces becomes a merge
   whose rank is the piece's place among distinct scores (higher score = merged first;
   equal scores tie and the leftmost pair wins, as in SentencePiece and run.c). */
typedef struct llm__scored { float score; llm_token id; } llm__scored;

static int llm__scored_cmp(const void *a, const void *b) {
    float x = ((const llm__scored *)a)->score, y = ((const llm__scored *)b)->score;
    return x > y ? -1 : x < y ? 1 : 0;
}

static llm_status llm__merges_from_scores(llm_tokenizer *t, const bool *mergeable, const char *path) {
    llm__scored *order = (llm__scored *)malloc((size_t)t->n_vocab * sizeof *order);
    int64_t n = 0;
    if (!order || !llm__u64map_init(&t->merges, (size_t)t->n_vocab)) { free(order); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); }
    for (llm_token id = 0; id < t->n_vocab; id++)
        if (mergeable[id] && t->piece_lens[id] > 1) order[n++] = (llm__scored){ t->scores[id], id };
    qsort(order, (size_t)n, sizeof *order, llm__scored_cmp);
    int64_t rank = 0;
    for (int64_t k = 0; k < n; k++) {
        if (k && order[k].score != order[k - 1].score) rank++;
        const char *s = t->pieces[order[k].id];
        uint32_t len = t->piece_lens[order[k].id];
        llm_token merged = llm__strmap_get(&t->vocab, s, len);          /* the first of equal strings */
        for (uint32_t cut = 1; cut < len; cut++) {
            llm_token a = llm__strmap_get(&t->vocab, s, cut), b = llm__strmap_get(&t->vocab, s + cut, len - cut);
            if (a < 0 || b < 0) continue;
            if (!llm__u64map_put(&t->merges, ((uint64_t)(uint32_t)a << 32) | (uint32_t)b, (rank << 32) | (uint32_t)merged)) {
                free(order);
                return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
            }
        }
    }
    free(order);
    return LLM_OK;
}

/* The normalizer and decoder SentencePiece applies: (collapse spaces), " " -> "▁",
   prepend "▁"; and back: "▁" -> " ", byte runs, join, drop the first space. */
static llm_status llm__spm_pipeline(llm_tokenizer *t, const llm__spm *sp, const char *path) {
    static char meta[] = "\xe2\x96\x81", space[] = " ", empty[] = "";
    llm_status s = LLM_OK;
    if (sp->has_charsmap) {
        llm__log(LLM_LOG_WARN, "%s: precompiled normalization rules approximated by NFKC", path);
        s = llm__tok_push_step(&t->norm, &t->n_norm, (llm__step){ .kind = LLM__N_NFKC }, path);
    }
    if (!s && sp->remove_extra_ws) {
        llm__step strip = { .kind = LLM__N_REPLACE, .content = empty }, collapse = { .kind = LLM__N_REPLACE, .content = space, .content_len = 1 };
        if (!(s = llm__regex_compile("^ +| +$", path, &strip.re)) && !(s = llm__tok_push_step(&t->norm, &t->n_norm, strip, path)) &&
            !(s = llm__regex_compile(" {2,}", path, &collapse.re)))
            s = llm__tok_push_step(&t->norm, &t->n_norm, collapse, path);
    }
    if (!s && sp->escape_ws)
        s = llm__tok_push_step(&t->norm, &t->n_norm, (llm__step){ .kind = LLM__N_REPLACE, .pat = space, .pat_len = 1, .content = meta, .content_len = 3 }, path);
    if (!s && sp->add_dummy_prefix)
        s = llm__tok_push_step(&t->norm, &t->n_norm, (llm__step){ .kind = LLM__N_PREPEND, .content = meta, .content_len = 3 }, path);
    const llm__step dec[] = {
        { .kind = LLM__D_REPLACE, .pat = meta, .pat_len = 3, .content = space, .content_len = 1 },
        { .kind = LLM__D_BYTEFALLBACK }, { .kind = LLM__D_FUSE },
        { .kind = LLM__D_STRIP, .content = space, .content_len = 1, .start = 1 },
    };
    for (int i = 0; i < 4 && !s; i++)
        if (i < 3 || sp->add_dummy_prefix) s = llm__tok_push_step(&t->dec, &t->n_dec, dec[i], path);
    t->has_decoder = true;
    return s;
}

static llm_status llm__tokenizer_load_spm(const char *path, llm_tokenizer **out) {
    llm__mapping map;
    llm_status s = llm__map_file(path, &map);
    if (s) return s;
    if (!map.size) return llm__fail(LLM_ERR_FORMAT, "%s: empty file", path);
    llm__pb r = { map.data, map.data + map.size };
    llm__spm sp;
    llm_tokenizer *t = NULL;
    int *types = NULL;
    bool *mergeable = NULL;
    if ((s = llm__spm_specs(path, r, &sp))) goto done;
    if (!(t = (llm_tokenizer *)calloc(1, sizeof *t)) || !(types = (int *)calloc((size_t)sp.n_pieces, sizeof *types)) ||
        !(mergeable = (bool *)calloc((size_t)sp.n_pieces, sizeof *mergeable))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    if ((s = llm__tok_alloc_vocab(t, sp.n_pieces, true, path)) || (s = llm__spm_pieces(t, path, r, types))) goto done;
    t->model = sp.model_type == 2 ? LLM__TOK_BPE : LLM__TOK_UNIGRAM;
    t->byte_fallback = sp.byte_fallback;
    t->fuse_unk = true;
    t->unk = sp.unk_id >= 0 && sp.unk_id < t->n_vocab ? (llm_token)sp.unk_id : -1;
    t->bos = sp.bos_id >= 0 && sp.bos_id < t->n_vocab ? (llm_token)sp.bos_id : -1;
    t->eos = sp.eos_id >= 0 && sp.eos_id < t->n_vocab ? (llm_token)sp.eos_id : -1;
    for (int64_t i = 0; i < sp.n_pieces; i++) mergeable[i] = types[i] == LLM__SP_NORMAL || types[i] == LLM__SP_USER;
    if (t->model == LLM__TOK_BPE && (s = llm__merges_from_scores(t, mergeable, path))) goto done;
    if ((s = llm__spm_pipeline(t, &sp, path))) goto done;
    if (t->bos >= 0) {
        if (!(t->post_ids = (llm_token *)malloc(sizeof *t->post_ids))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
        t->post_ids[0] = t->bos;
        t->n_post_pre = 1;
    }
    s = llm__tok_finish(t, path);
done:
    free(types);
    free(mergeable);
    llm__unmap(&map);
    if (s) llm_tokenizer_free(t);
    else *out = t;
    return s;
}

/* llama2.c tokenizer.bin. The file does not store the vocabulary size: records run to the
   end of the file, and a record cut short is an error. */
static llm_status llm__tokenizer_load_bin(const char *path, llm_tokenizer **out) {
    llm__mapping map;
    llm_status s = llm__map_file(path, &map);
    if (s) return s;
    if (map.size < 4) { llm__unmap(&map); return llm__fail(LLM_ERR_FORMAT, "%s: too short for a tokenizer.bin header", path); }
    const uint8_t *p = map.data, *end = map.data + map.size;
    int64_t n = 0;
    llm_tokenizer *t = NULL;
    bool *all = NULL;
    for (const uint8_t *q = p + 4; q < end; n++) {                  /* count and validate the records */
        int32_t len;
        if (end - q < 8) { s = llm__fail(LLM_ERR_FORMAT, "%s: token %lld: truncated record", path, (long long)n); goto done; }
        memcpy(&len, q + 4, 4);
        if (len < 0 || len > end - q - 8) { s = llm__fail(LLM_ERR_FORMAT, "%s: token %lld: length %d runs past the end of the file", path, (long long)n, len); goto done; }
        q += 8 + len;
        if (n >= LLM_MAX_VOCAB) { s = llm__fail(LLM_ERR_FORMAT, "%s: too many tokens", path); goto done; }
    }
    if (n < 3 + 256) { s = llm__fail(LLM_ERR_FORMAT, "%s: %lld tokens, fewer than llama2.c's 3 specials + 256 bytes", path, (long long)n); goto done; }
    if (!(t = (llm_tokenizer *)calloc(1, sizeof *t)) || !(all = (bool *)malloc((size_t)n))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    if ((s = llm__tok_alloc_vocab(t, n, true, path))) goto done;
    p += 4;
    for (llm_token id = 0; id < n; id++) {
        int32_t len;
        memcpy(&t->scores[id], p, 4);
        memcpy(&len, p + 4, 4);
        if ((s = llm__tok_set_piece(t, id, (const char *)p + 8, (size_t)len, true, path))) goto done;
        p += 8 + len;
    }
    memset(all, 1, (size_t)n);
    if ((s = llm__merges_from_scores(t, all, path))) goto done;
    if (!(t->post_ids = (llm_token *)malloc(sizeof *t->post_ids))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    t->model = LLM__TOK_RUNC;
    t->unk = 0;
    t->bos = t->post_ids[0] = 1;                        /* llama2.c's fixed ids: 0 <unk>, 1 <s>, 2 </s> */
    t->eos = 2;
    t->n_post_pre = 1;
    for (int i = 0; i < 3; i++) t->flags[i] |= LLM__TF_SPECIAL;
    s = llm__tok_finish(t, path);
done:
    free(all);
    llm__unmap(&map);
    if (s) llm_tokenizer_free(t);
    else *out = t;
    return s;
}

/* llama2.c names its tokenizers tok512.bin, tok4096.bin...: the first such file in dir
   (in name order) into file, for a directory without the standard names. */
static bool llm__find_llama2c_tokenizer(const char *dir, char *file, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return false;
    char best[256] = "";
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const char *n = e->d_name;
        if (!strncmp(n, "tok", 3) && llm__ends_with(n, ".bin") && strlen(n) < sizeof best && (!best[0] || strcmp(n, best) < 0))
            snprintf(best, sizeof best, "%s", n);
    }
    closedir(d);
    return best[0] && llm__path_join(file, cap, dir, best) && llm__file_exists(file);
}

static llm_status llm__tokenizer_load_gguf(const char *path, llm_tokenizer **out);   /* 48_tok_gguf.c */

LLM_API llm_status llm_tokenizer_load(const char *path, llm_tokenizer **out_tok) {
    LLM_ASSERT(path && out_tok);
    static const char *const names[] = { "tokenizer.json", "tokenizer.model", "tokenizer.bin" };
    char file[4096];
    const char *use = path;
    if (llm__is_dir(path)) {
        use = NULL;
        for (int i = 0; i < 3 && !use; i++)
            if (llm__path_join(file, sizeof file, path, names[i]) && llm__file_exists(file)) use = file;
        if (!use && llm__find_llama2c_tokenizer(path, file, sizeof file)) use = file;
        if (!use) return llm__fail(LLM_ERR_NOT_FOUND, "%s: no tokenizer.json, tokenizer.model, tokenizer.bin or tok*.bin", path);
    }
#ifndef LLM_NO_CJSON
    if (llm__ends_with(use, ".json")) return llm__tokenizer_load_json(use, out_tok);
#else
    if (llm__ends_with(use, ".json")) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: built with LLM_NO_CJSON", use);
#endif
    if (llm__ends_with(use, ".model")) return llm__tokenizer_load_spm(use, out_tok);
    if (llm__ends_with(use, ".bin")) return llm__tokenizer_load_bin(use, out_tok);
    if (llm__ends_with(use, ".gguf")) return llm__tokenizer_load_gguf(use, out_tok);
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: unknown tokenizer file (expected tokenizer.json, .model or .bin)", use);
}
/* ==== end llm_impl/44_tok_spm.c ==== */
/* ==== begin llm_impl/45_jinja_core.c ==== */
/* ---- >>jinja: values, arena and errors of the chat-template interpreter ----
   A Jinja2 subset interpreter for chat templates, in four parts:
     45_jinja_core.c      values (Python semantics), the arena, errors, str()/repr()/json
     45_jinja_parse.c     lexer (trim_blocks, lstrip_blocks, {%- -%}) and parser to an AST
     46_jinja_builtins.c  filters, tests, str/dict methods and global functions
     46_jinja_eval.c      the tree-walking evaluator and the render entry point
   Design: every value, AST node and string lives in an arena that is freed in one go
   (the template's arena for the AST, a render arena for one rendering). So values are
   plain structs copied freely, and errors can leave with longjmp from any depth without
   leaking: llm__jfail() jumps back to the parse or render entry, which frees the arena.
   Hostile templates are bounded: recursion depth, loop steps, memory and output size.
   Not here: autoescaping/Markup, template inheritance and includes, recursive loops. */
/* #include "10_internal.h" (already above) */
/* #include "06_api_chat.h" (already above) */
#include <setjmp.h>
#include <time.h>
#ifndef LLM_NO_UTF8PROC
#include <utf8proc.h>                 /* case mapping of str.upper() & co. */
#endif

#ifndef LLM_JINJA_MAX_MEMORY
#define LLM_JINJA_MAX_MEMORY ((size_t)512 << 20)  /* arena bytes per parse or render */
#endif
#ifndef LLM_JINJA_MAX_OUTPUT
#define LLM_JINJA_MAX_OUTPUT ((size_t)64 << 20)   /* bytes of any one string */
#endif
#ifndef LLM_JINJA_MAX_STEPS
#define LLM_JINJA_MAX_STEPS 10000000              /* loop iterations + macro calls */
#endif
#if defined(__GNUC__) || defined(__clang__)
#define LLM__NORETURN __attribute__((noreturn))
#else
#define LLM__NORETURN _Noreturn
#endif
#define LLM__JMAX_DEPTH 200                       /* nesting of tags, expressions, calls, values */
#define LLM__JMAX_RANGE 100000                    /* Jinja's sandbox limit for range() */

typedef enum {
    LLM__JV_UNDEF, LLM__JV_NONE, LLM__JV_BOOL, LLM__JV_INT, LLM__JV_FLOAT, LLM__JV_STR,
    LLM__JV_LIST, LLM__JV_DICT, LLM__JV_NS, LLM__JV_FUNC, LLM__JV_METHOD, LLM__JV_MACRO
} llm__jtype;

struct llm__jlist;
struct llm__jdict;
struct llm__jbuiltin;
struct llm__jmethod;
struct llm__jmacro;

/* One value. Strings are (pointer, length) and need not be NUL-terminated. An undefined
   value keeps the name it came from in `s`, for the error when it is used. A tuple is a
   list with `tuple` set (it differs only in repr). A namespace is a mutable dict. */
typedef struct llm__jv {
    uint8_t t;                                  /* llm__jtype */
    bool tuple;
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *p; size_t n; } s;
        struct llm__jlist *l;
        struct llm__jdict *d;                   /* DICT and NS */
        const struct llm__jbuiltin *fn;         /* FUNC: a global function */
        const struct llm__jmethod *m;           /* METHOD: a bound str/dict/list method */
        const struct llm__jmacro *mac;
    };
} llm__jv;

typedef struct llm__jlist { llm__jv *v; size_t n, cap; } llm__jlist;
typedef struct llm__jdict { llm__jv *k, *v; size_t n, cap; } llm__jdict;   /* insertion order */

/* A variable scope: the render globals, one per loop iteration, one per macro call. */
typedef struct llm__jframe { llm__jdict vars; struct llm__jframe *parent; } llm__jframe;

typedef struct llm__jchunk { struct llm__jchunk *next; size_t used, cap, pad; } llm__jchunk;  /* 32 bytes: data stays 16-aligned */

/* A growable string in the arena. */
typedef struct llm__jbuf { char *p; size_t n, cap; } llm__jbuf;

/* Interpreter state for one parse or one render. */
typedef struct llm__jctx {
    llm__jchunk *chunks;       /* the arena */
    size_t arena_bytes;
    jmp_buf jmp;               /* llm__jfail jumps here */
    char err[768];
    int line;                  /* template line being parsed or run, for errors */
    int depth;                 /* current nesting, checked against LLM__JMAX_DEPTH */
    long steps;
    llm__jbuf *out;            /* where output goes (swapped for macros and block sets) */
    llm__jframe *globals, *frame;
    const struct llm__jnode *loop_ctl;   /* set by break/continue while unwinding a body */
} llm__jctx;

/* Arguments of a call: positional values, then keyword values with their names. */
typedef struct llm__jargs {
    const llm__jv *pos; int n_pos;
    const llm__jv *kw; const char *const *kw_names; int n_kw;
} llm__jargs;

typedef llm__jv (*llm__jfn)(llm__jctx *c, llm__jv self, const llm__jargs *a);
typedef struct llm__jbuiltin { const char *name; llm__jfn fn; } llm__jbuiltin;
typedef struct llm__jmethod { llm__jv self; const char *name; } llm__jmethod;   /* `s.strip` */

/* ---- errors and the arena ---- */

LLM_PRIVATE LLM__NORETURN void llm__jfail(llm__jctx *c, const char *fmt, ...) LLM__PRINTF(2, 3);
LLM_PRIVATE LLM__NORETURN void llm__jfail(llm__jctx *c, const char *fmt, ...) {
    int n = snprintf(c->err, sizeof c->err, "line %d: ", c->line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, sizeof c->err - (size_t)n, fmt, ap);
    va_end(ap);
    longjmp(c->jmp, 1);
}

LLM_PRIVATE void *llm__jalloc(llm__jctx *c, size_t n) {
    n = (n + 15) & ~(size_t)15;
    llm__jchunk *h = c->chunks;
    if (!h || h->cap - h->used < n) {
        size_t cap = LLM__MAX(n, (size_t)64 << 10);
        if (n > LLM_JINJA_MAX_MEMORY || c->arena_bytes + cap > LLM_JINJA_MAX_MEMORY)
            llm__jfail(c, "template needs more than %zu MiB of memory", (size_t)LLM_JINJA_MAX_MEMORY >> 20);
        h = (llm__jchunk *)llm__alloc(NULL, sizeof(llm__jchunk) + cap);
        if (!h) llm__jfail(c, "out of memory");
        h->next = c->chunks; h->used = 0; h->cap = cap;
        c->chunks = h;
        c->arena_bytes += cap;
    }
    void *p = (char *)(h + 1) + h->used;
    h->used += n;
    return p;
}

LLM_PRIVATE void llm__jarena_free(llm__jctx *c) {
    while (c->chunks) { llm__jchunk *next = c->chunks->next; llm__free(NULL, c->chunks); c->chunks = next; }
    c->arena_bytes = 0;
}

/* ---- strings ---- */

LLM_PRIVATE void llm__jbuf_put(llm__jctx *c, llm__jbuf *b, const char *s, size_t n) {
    if (b->cap - b->n < n + 1) {
        if (n > LLM_JINJA_MAX_OUTPUT || b->n + n > LLM_JINJA_MAX_OUTPUT)
            llm__jfail(c, "output longer than %zu MiB", (size_t)LLM_JINJA_MAX_OUTPUT >> 20);
        size_t cap = LLM__MAX(b->cap * 2, b->n + n + 1);
        cap = LLM__MAX(cap, (size_t)64);
        char *p = (char *)llm__jalloc(c, cap);
        if (b->n) memcpy(p, b->p, b->n);
        b->p = p; b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

LLM_PRIVATE void llm__jbuf_puts(llm__jctx *c, llm__jbuf *b, const char *s) { llm__jbuf_put(c, b, s, strlen(s)); }

LLM_PRIVATE void llm__jbuf_printf(llm__jctx *c, llm__jbuf *b, const char *fmt, ...) LLM__PRINTF(3, 4);
LLM_PRIVATE void llm__jbuf_printf(llm__jctx *c, llm__jbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    llm__jbuf_put(c, b, tmp, (size_t)LLM__MAX(0, LLM__MIN(n, (int)sizeof tmp - 1)));
}

LLM_PRIVATE llm__jv llm__jstr(const char *p, size_t n) { llm__jv v = { .t = LLM__JV_STR }; v.s.p = p; v.s.n = n; return v; }
LLM_PRIVATE llm__jv llm__jstrz(const char *p) { return llm__jstr(p, strlen(p)); }
LLM_PRIVATE llm__jv llm__jbuf_val(llm__jbuf *b) { return llm__jstr(b->p ? b->p : "", b->n); }

LLM_PRIVATE llm__jv llm__jstr_copy(llm__jctx *c, const char *p, size_t n) {
    char *d = (char *)llm__jalloc(c, n + 1);
    if (n) memcpy(d, p, n);
    d[n] = 0;
    return llm__jstr(d, n);
}

LLM_PRIVATE bool llm__jstr_eq(llm__jv v, const char *s) {
    return v.t == LLM__JV_STR && v.s.n == strlen(s) && memcmp(v.s.p, s, v.s.n) == 0;
}

/* Decode the code point at s[*i] (advancing *i); invalid bytes decode as themselves, so
   that indexing and length never fail on broken UTF-8. */
LLM_PRIVATE uint32_t llm__jutf8_next(const char *s, size_t n, size_t *i) {
    const uint8_t *u = (const uint8_t *)s;
    uint32_t c = u[*i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len <= 1 || *i + (size_t)len > n) { (*i)++; return c; }
    uint32_t cp = c & (0x7f >> len);
    for (int k = 1; k < len; k++) {
        if ((u[*i + k] & 0xc0) != 0x80) { (*i)++; return c; }
        cp = (cp << 6) | (u[*i + k] & 0x3f);
    }
    *i += (size_t)len;
    return cp;
}

LLM_PRIVATE void llm__jutf8_put(llm__jctx *c, llm__jbuf *b, uint32_t cp) {
    char t[4];
    size_t n;
    if (cp < 0x80) { t[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xc0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 63)); n = 2; }
    else if (cp < 0x10000) { t[0] = (char)(0xe0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 63)); t[2] = (char)(0x80 | (cp & 63)); n = 3; }
    else { t[0] = (char)(0xf0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 63)); t[2] = (char)(0x80 | ((cp >> 6) & 63)); t[3] = (char)(0x80 | (cp & 63)); n = 4; }
    llm__jbuf_put(c, b, t, n);
}

/* Byte offsets of the code points of a string, plus one past the end: Python indexes
   and slices strings by code point. */
LLM_PRIVATE size_t *llm__jutf8_offsets(llm__jctx *c, llm__jv s, size_t *out_n) {
    size_t *off = (size_t *)llm__jalloc(c, (s.s.n + 1) * sizeof(size_t)), k = 0;
    for (size_t i = 0; i < s.s.n;) { off[k++] = i; llm__jutf8_next(s.s.p, s.s.n, &i); }
    off[k] = s.s.n;
    *out_n = k;
    return off;
}

/* ---- lists and dicts ---- */

LLM_PRIVATE llm__jv llm__jlist_new(llm__jctx *c) {
    llm__jv v = { .t = LLM__JV_LIST };
    v.l = (llm__jlist *)llm__jalloc(c, sizeof(llm__jlist));
    memset(v.l, 0, sizeof *v.l);
    return v;
}

LLM_PRIVATE void llm__jlist_push(llm__jctx *c, llm__jlist *l, llm__jv x) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        llm__jv *v = (llm__jv *)llm__jalloc(c, cap * sizeof(llm__jv));
        if (l->n) memcpy(v, l->v, l->n * sizeof(llm__jv));
        l->v = v; l->cap = cap;
    }
    l->v[l->n++] = x;
}

LLM_PRIVATE llm__jv llm__jdict_new(llm__jctx *c, llm__jtype t) {
    llm__jv v = { .t = (uint8_t)t };
    v.d = (llm__jdict *)llm__jalloc(c, sizeof(llm__jdict));
    memset(v.d, 0, sizeof *v.d);
    return v;
}

LLM_PRIVATE bool llm__jeq(llm__jctx *c, llm__jv a, llm__jv b);

LLM_PRIVATE llm__jv *llm__jdict_find(llm__jctx *c, const llm__jdict *d, llm__jv key) {
    for (size_t i = 0; i < d->n; i++) {
        if (key.t == LLM__JV_STR && d->k[i].t == LLM__JV_STR) {
            if (d->k[i].s.n == key.s.n && memcmp(d->k[i].s.p, key.s.p, key.s.n) == 0) return &d->v[i];
        } else if (llm__jeq(c, d->k[i], key)) return &d->v[i];
    }
    return NULL;
}

LLM_PRIVATE void llm__jdict_set(llm__jctx *c, llm__jdict *d, llm__jv key, llm__jv val) {
    llm__jv *slot = llm__jdict_find(c, d, key);
    if (slot) { *slot = val; return; }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        llm__jv *k = (llm__jv *)llm__jalloc(c, cap * sizeof(llm__jv)), *v = (llm__jv *)llm__jalloc(c, cap * sizeof(llm__jv));
        if (d->n) { memcpy(k, d->k, d->n * sizeof(llm__jv)); memcpy(v, d->v, d->n * sizeof(llm__jv)); }
        d->k = k; d->v = v; d->cap = cap;
    }
    d->k[d->n] = key;
    d->v[d->n++] = val;
}

LLM_PRIVATE llm__jv llm__jundef(const char *name, size_t n) { llm__jv v = { .t = LLM__JV_UNDEF }; v.s.p = name; v.s.n = n; return v; }
LLM_PRIVATE llm__jv llm__jnone(void) { llm__jv v = { .t = LLM__JV_NONE }; return v; }
LLM_PRIVATE llm__jv llm__jbool(bool b) { llm__jv v = { .t = LLM__JV_BOOL }; v.b = b; return v; }
LLM_PRIVATE llm__jv llm__jint(int64_t i) { llm__jv v = { .t = LLM__JV_INT }; v.i = i; return v; }
LLM_PRIVATE llm__jv llm__jfloat(double f) { llm__jv v = { .t = LLM__JV_FLOAT }; v.f = f; return v; }

/* Python's type names, for error messages. */
LLM_PRIVATE const char *llm__jtype_name(llm__jv v) {
    static const char *const names[] = { "undefined", "NoneType", "bool", "int", "float", "str",
                                         "list", "dict", "Namespace", "function", "method", "macro" };
    return v.t == LLM__JV_LIST && v.tuple ? "tuple" : names[v.t];
}

/* Python truthiness. */
LLM_PRIVATE bool llm__jtruthy(llm__jv v) {
    switch (v.t) {
    case LLM__JV_UNDEF: case LLM__JV_NONE: return false;
    case LLM__JV_BOOL: return v.b;
    case LLM__JV_INT: return v.i != 0;
    case LLM__JV_FLOAT: return v.f != 0;
    case LLM__JV_STR: return v.s.n > 0;
    case LLM__JV_LIST: return v.l->n > 0;
    case LLM__JV_DICT: return v.d->n > 0;
    default: return true;
    }
}

LLM_PRIVATE bool llm__jis_num(llm__jv v) { return v.t == LLM__JV_INT || v.t == LLM__JV_FLOAT || v.t == LLM__JV_BOOL; }
LLM_PRIVATE double llm__jnum(llm__jv v) { return v.t == LLM__JV_FLOAT ? v.f : v.t == LLM__JV_INT ? (double)v.i : v.b; }

/* Python ==, recursive over lists and dicts (dicts compare regardless of order). */
LLM_PRIVATE bool llm__jeq(llm__jctx *c, llm__jv a, llm__jv b) {
    if (llm__jis_num(a) && llm__jis_num(b)) {
        if (a.t != LLM__JV_FLOAT && b.t != LLM__JV_FLOAT) return (a.t == LLM__JV_INT ? a.i : a.b) == (b.t == LLM__JV_INT ? b.i : b.b);
        return llm__jnum(a) == llm__jnum(b);
    }
    if (a.t != b.t) return false;
    if (++c->depth > LLM__JMAX_DEPTH) llm__jfail(c, "values nested too deeply");
    bool eq = true;
    switch (a.t) {
    case LLM__JV_STR: eq = a.s.n == b.s.n && memcmp(a.s.p, b.s.p, a.s.n) == 0; break;
    case LLM__JV_LIST:
        eq = a.tuple == b.tuple && a.l->n == b.l->n;
        for (size_t i = 0; eq && i < a.l->n; i++) eq = llm__jeq(c, a.l->v[i], b.l->v[i]);
        break;
    case LLM__JV_DICT:
        eq = a.d->n == b.d->n;
        for (size_t i = 0; eq && i < a.d->n; i++) {
            llm__jv *o = llm__jdict_find(c, b.d, a.d->k[i]);
            eq = o && llm__jeq(c, a.d->v[i], *o);
        }
        break;
    case LLM__JV_NS: eq = a.d == b.d; break;
    case LLM__JV_FUNC: eq = a.fn == b.fn; break;
    case LLM__JV_METHOD: case LLM__JV_MACRO: eq = a.m == b.m; break;
    default: break;                              /* undefined == undefined, None == None */
    }
    c->depth--;
    return eq;
}

/* ---- printing values: Python str(), repr() and json.dumps() ---- */

/* Python's repr(float): the shortest digits that read back to the same double, in
   positional notation for exponents -4..15 and "1e-05" style otherwise. */
LLM_PRIVATE void llm__jput_float(llm__jctx *c, llm__jbuf *b, double x, bool json) {
    if (isnan(x)) { llm__jbuf_puts(c, b, json ? "NaN" : "nan"); return; }
    if (isinf(x)) { llm__jbuf_puts(c, b, x < 0 ? (json ? "-Infinity" : "-inf") : (json ? "Infinity" : "inf")); return; }
    char tmp[40], digits[24];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, fabs(x));
        if (strtod(tmp, NULL) == fabs(x)) break;
    }
    int nd = 0, exp = atoi(strchr(tmp, 'e') + 1);
    for (const char *s = tmp; *s != 'e'; s++) if (*s != '.') digits[nd++] = *s;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    if (signbit(x)) llm__jbuf_puts(c, b, "-");
    if (exp < -4 || exp >= 16) {
        llm__jbuf_put(c, b, digits, 1);
        if (nd > 1) { llm__jbuf_puts(c, b, "."); llm__jbuf_put(c, b, digits + 1, (size_t)nd - 1); }
        llm__jbuf_printf(c, b, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    } else if (exp < 0) {
        llm__jbuf_puts(c, b, "0.");
        for (int i = 0; i < -exp - 1; i++) llm__jbuf_puts(c, b, "0");
        llm__jbuf_put(c, b, digits, (size_t)nd);
    } else {
        for (int i = 0; i <= exp; i++) llm__jbuf_put(c, b, i < nd ? digits + i : "0", 1);
        llm__jbuf_puts(c, b, ".");
        if (nd > exp + 1) llm__jbuf_put(c, b, digits + exp + 1, (size_t)(nd - exp - 1));
        else llm__jbuf_puts(c, b, "0");
    }
}

/* Python repr() of a string: single quotes unless it holds ' and no ". */
LLM_PRIVATE void llm__jput_repr_str(llm__jctx *c, llm__jbuf *b, const char *s, size_t n) {
    char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    llm__jbuf_put(c, b, &q, 1);
    for (size_t i = 0; i < n;) {
        size_t start = i;
        uint32_t cp = llm__jutf8_next(s, n, &i);
        if (cp == '\\' || cp == (uint32_t)q) { llm__jbuf_puts(c, b, "\\"); llm__jbuf_put(c, b, s + start, 1); }
        else if (cp == '\n') llm__jbuf_puts(c, b, "\\n");
        else if (cp == '\r') llm__jbuf_puts(c, b, "\\r");
        else if (cp == '\t') llm__jbuf_puts(c, b, "\\t");
        else if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad) llm__jbuf_printf(c, b, "\\x%02x", cp);
        else if (cp == 0x2028 || cp == 0x2029) llm__jbuf_printf(c, b, "\\u%04x", cp);
        else llm__jbuf_put(c, b, s + start, i - start);
    }
    llm__jbuf_put(c, b, &q, 1);
}

LLM_PRIVATE void llm__jput_repr(llm__jctx *c, llm__jbuf *b, llm__jv v);

/* Python str(): strings as they are, everything else as repr(); undefined prints nothing. */
LLM_PRIVATE void llm__jput_str(llm__jctx *c, llm__jbuf *b, llm__jv v) {
    if (v.t == LLM__JV_STR) llm__jbuf_put(c, b, v.s.p, v.s.n);
    else if (v.t != LLM__JV_UNDEF) llm__jput_repr(c, b, v);
}

LLM_PRIVATE void llm__jput_repr(llm__jctx *c, llm__jbuf *b, llm__jv v) {
    if (++c->depth > LLM__JMAX_DEPTH) llm__jfail(c, "values nested too deeply to print");
    switch (v.t) {
    case LLM__JV_UNDEF: break;
    case LLM__JV_NONE: llm__jbuf_puts(c, b, "None"); break;
    case LLM__JV_BOOL: llm__jbuf_puts(c, b, v.b ? "True" : "False"); break;
    case LLM__JV_INT: llm__jbuf_printf(c, b, "%lld", (long long)v.i); break;
    case LLM__JV_FLOAT: llm__jput_float(c, b, v.f, false); break;
    case LLM__JV_STR: llm__jput_repr_str(c, b, v.s.p, v.s.n); break;
    case LLM__JV_LIST:
        llm__jbuf_puts(c, b, v.tuple ? "(" : "[");
        for (size_t i = 0; i < v.l->n; i++) {
            if (i) llm__jbuf_puts(c, b, ", ");
            llm__jput_repr(c, b, v.l->v[i]);
        }
        llm__jbuf_puts(c, b, v.tuple ? (v.l->n == 1 ? ",)" : ")") : "]");
        break;
    case LLM__JV_DICT: case LLM__JV_NS:
        llm__jbuf_puts(c, b, v.t == LLM__JV_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < v.d->n; i++) {
            if (i) llm__jbuf_puts(c, b, ", ");
            llm__jput_repr(c, b, v.d->k[i]);
            llm__jbuf_puts(c, b, ": ");
            llm__jput_repr(c, b, v.d->v[i]);
        }
        llm__jbuf_puts(c, b, v.t == LLM__JV_NS ? "}>" : "}");
        break;
    default: llm__jbuf_printf(c, b, "<%s>", llm__jtype_name(v)); break;
    }
    c->depth--;
}

LLM_PRIVATE llm__jv llm__jto_str(llm__jctx *c, llm__jv v) {
    if (v.t == LLM__JV_STR) return v;
    llm__jbuf b = { 0 };
    llm__jput_str(c, &b, v);
    return llm__jbuf_val(&b);
}

LLM_PRIVATE void llm__jput_json_str(llm__jctx *c, llm__jbuf *b, const char *s, size_t n, bool ascii) {
    llm__jbuf_puts(c, b, "\"");
    for (size_t i = 0; i < n;) {
        size_t start = i;
        uint32_t cp = llm__jutf8_next(s, n, &i);
        switch (cp) {
        case '"': llm__jbuf_puts(c, b, "\\\""); break;
        case '\\': llm__jbuf_puts(c, b, "\\\\"); break;
        case '\n': llm__jbuf_puts(c, b, "\\n"); break;
        case '\r': llm__jbuf_puts(c, b, "\\r"); break;
        case '\t': llm__jbuf_puts(c, b, "\\t"); break;
        case '\b': llm__jbuf_puts(c, b, "\\b"); break;
        case '\f': llm__jbuf_puts(c, b, "\\f"); break;
        default:
            if (cp < 0x20 || (ascii && cp >= 0x7f)) {
                if (cp >= 0x10000) llm__jbuf_printf(c, b, "\\u%04x\\u%04x", 0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
                else llm__jbuf_printf(c, b, "\\u%04x", cp);
            } else llm__jbuf_put(c, b, s + start, i - start);
        }
    }
    llm__jbuf_puts(c, b, "\"");
}

/* json.dumps(v, ensure_ascii=ascii, indent=indent) as transformers' tojson calls it:
   separators ", " and ": " without indent, "," + newline with it; keys in insertion order.
   indent < 0 means none. */
LLM_PRIVATE void llm__jput_json(llm__jctx *c, llm__jbuf *b, llm__jv v, int indent, bool ascii, int level) {
    if (level > LLM__JMAX_DEPTH) llm__jfail(c, "values nested too deeply for tojson");
    bool isdict = v.t == LLM__JV_DICT;
    switch (v.t) {
    case LLM__JV_NONE: llm__jbuf_puts(c, b, "null"); return;
    case LLM__JV_BOOL: llm__jbuf_puts(c, b, v.b ? "true" : "false"); return;
    case LLM__JV_INT: llm__jbuf_printf(c, b, "%lld", (long long)v.i); return;
    case LLM__JV_FLOAT: llm__jput_float(c, b, v.f, true); return;
    case LLM__JV_STR: llm__jput_json_str(c, b, v.s.p, v.s.n, ascii); return;
    case LLM__JV_LIST: case LLM__JV_DICT: break;
    default: llm__jfail(c, "Object of type %s is not JSON serializable", llm__jtype_name(v));
    }
    size_t n = isdict ? v.d->n : v.l->n;
    llm__jbuf_puts(c, b, isdict ? "{" : "[");
    for (size_t i = 0; i < n; i++) {
        if (i) llm__jbuf_puts(c, b, indent >= 0 ? "," : ", ");
        if (indent >= 0) {
            llm__jbuf_puts(c, b, "\n");
            for (int k = 0; k < indent * (level + 1); k++) llm__jbuf_puts(c, b, " ");
        }
        if (isdict) {
            llm__jv k = v.d->k[i];
            if (k.t == LLM__JV_STR) llm__jput_json_str(c, b, k.s.p, k.s.n, ascii);
            else { llm__jbuf_puts(c, b, "\""); llm__jput_json(c, b, k, -1, ascii, level + 1); llm__jbuf_puts(c, b, "\""); }
            llm__jbuf_puts(c, b, ": ");
        }
        llm__jput_json(c, b, isdict ? v.d->v[i] : v.l->v[i], indent, ascii, level + 1);
    }
    if (indent >= 0 && n) {
        llm__jbuf_puts(c, b, "\n");
        for (int k = 0; k < indent * level; k++) llm__jbuf_puts(c, b, " ");
    }
    llm__jbuf_puts(c, b, isdict ? "}" : "]");
}

/* ---- JSON text -> values ----
   Our own small reader rather than cJSON, because templates see Python's json.loads
   types: "1" is an int and "1.0" a float, and tojson must print them back that way. */

typedef struct { llm__jctx *c; const char *begin, *s, *end; const char *what; } llm__jjson;

LLM_PRIVATE void llm__jjson_ws(llm__jjson *j) {
    while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')) j->s++;
}

LLM_PRIVATE LLM__NORETURN void llm__jjson_fail(llm__jjson *j, const char *why) {
    j->c->line = 0;
    snprintf(j->c->err, sizeof j->c->err, "%s: invalid JSON at byte %zu: %s", j->what, (size_t)(j->s - j->begin), why);
    longjmp(j->c->jmp, 2);
}

LLM_PRIVATE unsigned llm__jjson_hex4(llm__jjson *j) {
    unsigned u = 0;
    for (int k = 0; k < 4; k++) {
        char ch = j->s < j->end ? *j->s++ : 0;
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0) llm__jjson_fail(j, "bad \\u escape");
        u = u * 16 + (unsigned)d;
    }
    return u;
}

LLM_PRIVATE llm__jv llm__jjson_string(llm__jjson *j) {
    llm__jbuf b = { 0 };
    j->s++;                                           /* opening quote */
    for (;;) {
        const char *run = j->s;
        while (j->s < j->end && *j->s != '"' && *j->s != '\\') j->s++;
        llm__jbuf_put(j->c, &b, run, (size_t)(j->s - run));
        if (j->s >= j->end) llm__jjson_fail(j, "unterminated string");
        if (*j->s++ == '"') return llm__jbuf_val(&b);
        char e = j->s < j->end ? *j->s++ : 0;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) { llm__jbuf_put(j->c, &b, &"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"], 1); continue; }
        if (e != 'u') llm__jjson_fail(j, "bad escape");
        unsigned u = llm__jjson_hex4(j);
        if (u >= 0xd800 && u < 0xdc00 && j->end - j->s >= 6 && j->s[0] == '\\' && j->s[1] == 'u') {
            const char *save = j->s;
            j->s += 2;
            unsigned lo = llm__jjson_hex4(j);
            if (lo >= 0xdc00 && lo < 0xe000) u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            else j->s = save;
        }
        llm__jutf8_put(j->c, &b, u);
    }
}

LLM_PRIVATE llm__jv llm__jjson_value(llm__jjson *j, int depth) {
    llm__jjson_ws(j);
    if (j->s >= j->end) llm__jjson_fail(j, "unexpected end");
    if (depth > LLM__JMAX_DEPTH) llm__jjson_fail(j, "nested too deeply");
    char ch = *j->s;
    if (ch == '"') return llm__jjson_string(j);
    if (ch == '[' || ch == '{') {
        bool obj = ch == '{';
        llm__jv v = obj ? llm__jdict_new(j->c, LLM__JV_DICT) : llm__jlist_new(j->c);
        j->s++;
        llm__jjson_ws(j);
        if (j->s < j->end && *j->s == (obj ? '}' : ']')) { j->s++; return v; }
        for (;;) {
            llm__jjson_ws(j);
            if (obj) {
                if (j->s >= j->end || *j->s != '"') llm__jjson_fail(j, "expected a key");
                llm__jv k = llm__jjson_string(j);
                llm__jjson_ws(j);
                if (j->s >= j->end || *j->s++ != ':') llm__jjson_fail(j, "expected ':'");
                llm__jdict_set(j->c, v.d, k, llm__jjson_value(j, depth + 1));
            } else llm__jlist_push(j->c, v.l, llm__jjson_value(j, depth + 1));
            llm__jjson_ws(j);
            char sep = j->s < j->end ? *j->s++ : 0;
            if (sep == (obj ? '}' : ']')) return v;
            if (sep != ',') llm__jjson_fail(j, "expected ',' or a closing bracket");
        }
    }
    static const char *const words[] = { "true", "false", "null" };
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(words[k]);
        if ((size_t)(j->end - j->s) >= n && memcmp(j->s, words[k], n) == 0) {
            j->s += n;
            return k == 2 ? llm__jnone() : llm__jbool(k == 0);
        }
    }
    const char *start = j->s;
    bool is_float = false;
    if (j->s < j->end && *j->s == '-') j->s++;
    while (j->s < j->end && strchr("0123456789.eE+-", *j->s)) { is_float |= *j->s < '0' || *j->s > '9'; j->s++; }
    if (j->s == start || (j->s - start == 1 && *start == '-')) llm__jjson_fail(j, "unexpected character");
    char num[64];
    snprintf(num, sizeof num, "%.*s", (int)LLM__MIN(j->s - start, 63), start);
    errno = 0;
    if (!is_float) {
        long long i = strtoll(num, NULL, 10);
        if (errno == 0) return llm__jint(i);
    }
    return llm__jfloat(strtod(num, NULL));
}

/* Parse JSON text into a value; a syntax error fails the render naming `what`. */
LLM_PRIVATE llm__jv llm__jjson_parse(llm__jctx *c, const char *text, const char *what) {
    llm__jjson j = { c, text, text, text + strlen(text), what };
    llm__jv v = llm__jjson_value(&j, 0);
    llm__jjson_ws(&j);
    if (j.s != j.end) llm__jjson_fail(&j, "trailing characters");
    return v;
}
/* ==== end llm_impl/45_jinja_core.c ==== */
/* ==== begin llm_impl/45_jinja_parse.c ==== */
/* ---- >>jinja_parse: lexer and parser of the Jinja subset ----
   Source -> tokens -> AST, with transformers' environment: trim_blocks (drop the newline
   after a block or comment tag), lstrip_blocks (drop the indentation before one), `{%-`
   / `-%}` whitespace control, newlines normalized to \n and one trailing newline dropped
   (keep_trailing_newline=False). The grammar follows jinja2/parser.py: a precedence
   ladder  ternary < or < and < not < compare < + - < ~ < * / // % < ** < unary,
   and postfix `.attr`, `[item]`, `[a:b:c]`, `(call)`, `|filter`, `is test` on primaries. */
/* #include "10_internal.h" (already above) */


typedef enum { LLM__TK_TEXT, LLM__TK_VAR_BEGIN, LLM__TK_VAR_END, LLM__TK_BLOCK_BEGIN, LLM__TK_BLOCK_END,
               LLM__TK_NAME, LLM__TK_STRING, LLM__TK_INT, LLM__TK_FLOAT, LLM__TK_OP, LLM__TK_EOF } llm__jtok_type;

typedef struct llm__jtok {
    uint8_t t;
    int line;
    const char *p; size_t n;   /* the token's text (NAME, OP) */
    llm__jv v;                 /* TEXT, STRING, INT, FLOAT */
} llm__jtok;

typedef enum {
    /* expressions */
    LLM__J_LIT, LLM__J_NAME, LLM__J_ATTR, LLM__J_ITEM, LLM__J_SLICE, LLM__J_CALL, LLM__J_FILTER, LLM__J_TEST,
    LLM__J_NEG, LLM__J_POS, LLM__J_NOT, LLM__J_BIN, LLM__J_AND, LLM__J_OR, LLM__J_COND,
    LLM__J_LIST, LLM__J_TUPLE, LLM__J_DICT, LLM__J_KWARG,
    /* statements */
    LLM__S_BODY, LLM__S_TEXT, LLM__S_OUT, LLM__S_IF, LLM__S_FOR, LLM__S_SET, LLM__S_SETBLOCK,
    LLM__S_MACRO, LLM__S_CALLBLOCK, LLM__S_FILTERBLOCK, LLM__S_BREAK, LLM__S_CONTINUE
} llm__jkind;

/* One AST node. Fields by kind:
     LIT lit | NAME name | ATTR a.name | ITEM a[b] | SLICE a[kids 0..2], each may be NULL
     CALL a(kids; KWARG name=a) | FILTER a|name(kids), a NULL in a filter block
     TEST a is [not: neg] name(kids) | NEG/POS/NOT a | BIN a name b (name = "+", "in", "==", ...)
     AND/OR a b | COND b if a else c | LIST/TUPLE kids | DICT kids = k0, v0, k1, v1, ...
     BODY kids | TEXT lit | OUT a | IF a body else_body | FOR a in b if c body else_body
     SET a = b | SETBLOCK a = body | MACRO name(kids: NAME with default a) body
     CALLBLOCK a (a CALL) with caller(kids) = body | FILTERBLOCK a (FILTER chain) body */
typedef struct llm__jnode {
    uint8_t kind;
    bool neg;
    int line;
    const char *name;
    llm__jv lit;
    struct llm__jnode *a, *b, *c, *body, *else_body;
    struct llm__jnode **kids;
    int n_kids;
} llm__jnode;

typedef struct llm__jmacro { const llm__jnode *node; llm__jframe *frame; const struct llm__jmacro *caller; } llm__jmacro;

/* ---- lexer ---- */

typedef struct llm__jlex {
    llm__jctx *c;
    const char *src; size_t n, pos;
    int line;
    llm__jtok *toks; size_t n_toks, cap;
} llm__jlex;

LLM_PRIVATE void llm__jlex_push(llm__jlex *L, llm__jtok t) {
    if (L->n_toks == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        llm__jtok *nt = (llm__jtok *)llm__jalloc(L->c, cap * sizeof(llm__jtok));
        if (L->n_toks) memcpy(nt, L->toks, L->n_toks * sizeof(llm__jtok));
        L->toks = nt; L->cap = cap;
    }
    L->toks[L->n_toks++] = t;
}

LLM_PRIVATE bool llm__jspace(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'; }
LLM_PRIVATE bool llm__jalpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
LLM_PRIVATE bool llm__jdigit(char ch) { return ch >= '0' && ch <= '9'; }

LLM_PRIVATE int llm__jlines(const char *p, size_t n) { int k = 0; for (size_t i = 0; i < n; i++) k += p[i] == '\n'; return k; }

/* A string literal with Python's escapes (\n, \t, \xNN, \uNNNN, \ooo, backslash-newline;
   unknown ones are kept with their backslash). */
LLM_PRIVATE void llm__jlex_string(llm__jlex *L) {
    llm__jctx *c = L->c;
    char q = L->src[L->pos++];
    llm__jbuf b = { 0 };
    int line = L->line;
    for (;;) {
        if (L->pos >= L->n) { c->line = line; llm__jfail(c, "unterminated string"); }
        char ch = L->src[L->pos++];
        if (ch == q) break;
        if (ch == '\n') L->line++;
        if (ch != '\\' || L->pos >= L->n) { llm__jbuf_put(c, &b, &ch, 1); continue; }
        char e = L->src[L->pos++];
        const char *simple = strchr("nrtabfv\\'\"", e);
        if (e && simple) { llm__jbuf_put(c, &b, &"\n\r\t\a\b\f\v\\'\""[simple - "nrtabfv\\'\""], 1); continue; }
        if (e == '\n') { L->line++; continue; }          /* backslash-newline continues the line */
        if (e >= '0' && e <= '7') {                      /* octal \ooo */
            uint32_t cp = (uint32_t)(e - '0');
            for (int k = 0; k < 2 && L->pos < L->n && L->src[L->pos] >= '0' && L->src[L->pos] <= '7'; k++) cp = cp * 8 + (uint32_t)(L->src[L->pos++] - '0');
            llm__jutf8_put(c, &b, cp);
            continue;
        }
        int hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        uint32_t cp = 0;
        for (int k = 0; k < hex; k++) {
            char h = L->pos < L->n ? L->src[L->pos++] : 0;
            int d = llm__jdigit(h) ? h - '0' : (h | 32) >= 'a' && (h | 32) <= 'f' ? (h | 32) - 'a' + 10 : -1;
            if (d < 0) llm__jfail(c, "bad \\%c escape in string", e);
            cp = cp * 16 + (uint32_t)d;
        }
        if (hex) { llm__jutf8_put(c, &b, cp > 0x10ffff ? 0xfffd : cp); continue; }
        llm__jbuf_put(c, &b, "\\", 1);
        llm__jbuf_put(c, &b, &e, 1);
    }
    llm__jlex_push(L, (llm__jtok){ .t = LLM__TK_STRING, .line = line, .v = llm__jbuf_val(&b) });
}

LLM_PRIVATE void llm__jlex_number(llm__jlex *L) {
    size_t s = L->pos;
    bool is_float = false;
    while (L->pos < L->n && (llm__jdigit(L->src[L->pos]) || L->src[L->pos] == '_')) L->pos++;
    if (L->pos + 1 < L->n && L->src[L->pos] == '.' && llm__jdigit(L->src[L->pos + 1])) {
        is_float = true;
        for (L->pos++; L->pos < L->n && (llm__jdigit(L->src[L->pos]) || L->src[L->pos] == '_');) L->pos++;
    }
    if (L->pos < L->n && (L->src[L->pos] | 32) == 'e') {
        size_t e = L->pos + 1;
        if (e < L->n && (L->src[e] == '+' || L->src[e] == '-')) e++;
        if (e < L->n && llm__jdigit(L->src[e])) {
            is_float = true;
            for (L->pos = e; L->pos < L->n && llm__jdigit(L->src[L->pos]);) L->pos++;
        }
    }
    char num[64];
    size_t k = 0;
    for (size_t i = s; i < L->pos && k < sizeof num - 1; i++) if (L->src[i] != '_') num[k++] = L->src[i];
    num[k] = 0;
    errno = 0;
    llm__jtok t = { .t = is_float ? LLM__TK_FLOAT : LLM__TK_INT, .line = L->line };
    if (is_float) t.v = llm__jfloat(strtod(num, NULL));
    else {
        t.v = llm__jint(strtoll(num, NULL, 10));
        if (errno) llm__jfail(L->c, "integer literal %s too large", num);
    }
    llm__jlex_push(L, t);
}

/* The tokens of one {{ }} or {% %} up to its closing delimiter. Returns true when the
   closing delimiter asks to strip the whitespace after it (`-}}`, `-%}`), and sets
   *plus for `+%}`. */
LLM_PRIVATE bool llm__jlex_tag(llm__jlex *L, bool block, bool *plus) {
    static const char *const ops[] = { "**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~",
                                       "<", ">", "=", ".", ",", ":", "|", "(", ")", "[", "]", "{", "}" };
    const char *end = block ? "%}" : "}}";
    int balance = 0;
    *plus = false;
    for (;;) {
        while (L->pos < L->n && llm__jspace(L->src[L->pos])) L->line += L->src[L->pos++] == '\n';
        if (L->pos >= L->n) llm__jfail(L->c, "unterminated %s tag", block ? "{% %}" : "{{ }}");
        const char *s = L->src + L->pos;
        size_t left = L->n - L->pos;
        if (balance == 0) {
            bool minus = left >= 3 && s[0] == '-' && memcmp(s + 1, end, 2) == 0;
            *plus = block && left >= 3 && s[0] == '+' && memcmp(s + 1, end, 2) == 0;
            if (minus || *plus || (left >= 2 && memcmp(s, end, 2) == 0)) {
                L->pos += (minus || *plus) ? 3 : 2;
                llm__jlex_push(L, (llm__jtok){ .t = block ? LLM__TK_BLOCK_END : LLM__TK_VAR_END, .line = L->line });
                return minus;
            }
        }
        if (s[0] == '\'' || s[0] == '"') { llm__jlex_string(L); continue; }
        if (llm__jdigit(s[0])) { llm__jlex_number(L); continue; }
        if (llm__jalpha(s[0])) {
            size_t k = 1;
            while (k < left && (llm__jalpha(s[k]) || llm__jdigit(s[k]))) k++;
            llm__jlex_push(L, (llm__jtok){ .t = LLM__TK_NAME, .line = L->line, .p = s, .n = k });
            L->pos += k;
            continue;
        }
        size_t k = 0;
        for (size_t i = 0; i < sizeof ops / sizeof ops[0] && !k; i++)
            if (strlen(ops[i]) <= left && memcmp(s, ops[i], strlen(ops[i])) == 0) k = strlen(ops[i]);
        if (!k) llm__jfail(L->c, "unexpected character '%c'", s[0]);
        if (k == 1 && strchr("([{", s[0])) balance++;
        if (k == 1 && strchr(")]}", s[0]) && --balance < 0) llm__jfail(L->c, "unbalanced '%c'", s[0]);
        llm__jlex_push(L, (llm__jtok){ .t = LLM__TK_OP, .line = L->line, .p = s, .n = k });
        L->pos += k;
    }
}

/* Text up to the next tag, with the whitespace rules applied to both of its ends. */
LLM_PRIVATE void llm__jlex_text(llm__jlex *L, size_t tag, bool lstrip_ws, bool trim_nl, bool line_start) {
    const char *s = L->src + L->pos;
    size_t n = tag - L->pos;
    int line = L->line;
    L->line += llm__jlines(s, n);
    if (trim_nl && n && s[0] == '\n') { s++; n--; line++; }
    if (lstrip_ws) while (n && llm__jspace(*s)) { line += *s == '\n'; s++; n--; }
    if (tag < L->n) {
        char kind = L->src[tag + 1], mod = tag + 2 < L->n ? L->src[tag + 2] : 0;
        if (mod == '-') while (n && llm__jspace(s[n - 1])) n--;
        else if (mod != '+' && kind != '{') {          /* lstrip_blocks: not for {{ */
            size_t ls = n;
            while (ls && s[ls - 1] != '\n') ls--;
            bool blank = true;
            for (size_t i = ls; i < n && blank; i++) blank = llm__jspace(s[i]);
            if ((ls > 0 || line_start) && blank) n = ls;
        }
    }
    if (n) llm__jlex_push(L, (llm__jtok){ .t = LLM__TK_TEXT, .line = line, .v = llm__jstr(s, n) });
}

LLM_PRIVATE void llm__jlex_all(llm__jlex *L) {
    bool lstrip_ws = false, trim_nl = false, line_start = true;
    for (;;) {
        size_t tag = L->pos;
        while (tag + 1 < L->n && !(L->src[tag] == '{' && strchr("{%#", L->src[tag + 1]))) tag++;
        if (tag + 1 >= L->n) tag = L->n;
        llm__jlex_text(L, tag, lstrip_ws, trim_nl, line_start);
        L->pos = tag;
        if (tag >= L->n) break;
        char kind = L->src[tag + 1];
        L->pos += 2;
        if (L->pos < L->n && (L->src[L->pos] == '-' || L->src[L->pos] == '+')) L->pos++;
        L->c->line = L->line;
        bool plus = false;
        if (kind == '#') {
            const char *e = NULL;
            for (size_t i = L->pos; i + 1 < L->n && !e; i++) if (L->src[i] == '#' && L->src[i + 1] == '}') e = L->src + i;
            if (!e) llm__jfail(L->c, "unterminated comment");
            lstrip_ws = e > L->src + L->pos && e[-1] == '-';
            plus = e > L->src + L->pos && e[-1] == '+';
            L->line += llm__jlines(L->src + L->pos, (size_t)(e - L->src) - L->pos);
            L->pos = (size_t)(e - L->src) + 2;
        } else {
            llm__jlex_push(L, (llm__jtok){ .t = kind == '%' ? LLM__TK_BLOCK_BEGIN : LLM__TK_VAR_BEGIN, .line = L->line });
            lstrip_ws = llm__jlex_tag(L, kind == '%', &plus);
        }
        trim_nl = kind != '{' && !lstrip_ws && !plus;    /* trim_blocks */
        /* lstrip_blocks applies at a line start: after a tag whose match ended in a newline */
        size_t after = L->pos;
        if (lstrip_ws) while (after < L->n && llm__jspace(L->src[after])) after++;
        else if (trim_nl && after < L->n && L->src[after] == '\n') after++;
        line_start = after > L->pos && L->src[after - 1] == '\n';
    }
    llm__jlex_push(L, (llm__jtok){ .t = LLM__TK_EOF, .line = L->line });
}

/* ---- parser ---- */

typedef struct llm__jparser { llm__jctx *c; const llm__jtok *t; size_t i; } llm__jparser;

LLM_PRIVATE const llm__jtok *llm__jp_peek(llm__jparser *p) { return &p->t[p->i]; }

LLM_PRIVATE const llm__jtok *llm__jp_next(llm__jparser *p) {
    const llm__jtok *t = &p->t[p->i];
    if (t->t != LLM__TK_EOF) p->i++;
    p->c->line = t->line;
    return t;
}

/* Is the next token this operator or name? */
LLM_PRIVATE bool llm__jp_is(llm__jparser *p, const char *s) {
    const llm__jtok *t = llm__jp_peek(p);
    return (t->t == LLM__TK_OP || t->t == LLM__TK_NAME) && t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

LLM_PRIVATE bool llm__jp_accept(llm__jparser *p, const char *s) {
    if (!llm__jp_is(p, s)) return false;
    llm__jp_next(p);
    return true;
}

LLM_PRIVATE const char *llm__jtok_desc(llm__jparser *p, const llm__jtok *t) {
    switch (t->t) {
    case LLM__TK_EOF: return "end of template";
    case LLM__TK_VAR_END: case LLM__TK_BLOCK_END: return "end of tag";
    case LLM__TK_STRING: return "a string";
    case LLM__TK_INT: case LLM__TK_FLOAT: return "a number";
    case LLM__TK_TEXT: case LLM__TK_VAR_BEGIN: case LLM__TK_BLOCK_BEGIN: return "template text";
    default: { llm__jv s = llm__jstr_copy(p->c, t->p, t->n); return s.s.p; }
    }
}

LLM_PRIVATE void llm__jp_expect(llm__jparser *p, const char *s) {
    if (!llm__jp_accept(p, s)) {
        p->c->line = llm__jp_peek(p)->line;
        llm__jfail(p->c, "expected '%s', found %s", s, llm__jtok_desc(p, llm__jp_peek(p)));
    }
}

LLM_PRIVATE void llm__jp_expect_type(llm__jparser *p, llm__jtok_type type, const char *what) {
    if (llm__jp_peek(p)->t != type) {
        p->c->line = llm__jp_peek(p)->line;
        llm__jfail(p->c, "expected %s, found %s", what, llm__jtok_desc(p, llm__jp_peek(p)));
    }
    llm__jp_next(p);
}

LLM_PRIVATE const char *llm__jp_name(llm__jparser *p) {
    const llm__jtok *t = llm__jp_peek(p);
    if (t->t != LLM__TK_NAME) { p->c->line = t->line; llm__jfail(p->c, "expected a name, found %s", llm__jtok_desc(p, t)); }
    llm__jp_next(p);
    return llm__jstr_copy(p->c, t->p, t->n).s.p;
}

LLM_PRIVATE llm__jnode *llm__jnode_new(llm__jparser *p, llm__jkind kind, int line) {
    llm__jnode *n = (llm__jnode *)llm__jalloc(p->c, sizeof(llm__jnode));
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->line = line;
    return n;
}

LLM_PRIVATE void llm__jnode_add(llm__jparser *p, llm__jnode *n, llm__jnode *kid) {
    if ((n->n_kids & (n->n_kids - 1)) == 0) {          /* grow at powers of two */
        llm__jnode **k = (llm__jnode **)llm__jalloc(p->c, (size_t)(n->n_kids ? n->n_kids * 2 : 1) * sizeof(llm__jnode *));
        if (n->n_kids) memcpy(k, n->kids, (size_t)n->n_kids * sizeof(llm__jnode *));
        n->kids = k;
    }
    n->kids[n->n_kids++] = kid;
}

LLM_PRIVATE llm__jnode *llm__jnode2(llm__jparser *p, llm__jkind kind, int line, const char *name, llm__jnode *a, llm__jnode *b) {
    llm__jnode *n = llm__jnode_new(p, kind, line);
    n->name = name; n->a = a; n->b = b;
    return n;
}

LLM_PRIVATE void llm__jp_enter(llm__jparser *p) {
    if (++p->c->depth > LLM__JMAX_DEPTH) llm__jfail(p->c, "template nested too deeply");
}

LLM_PRIVATE llm__jnode *llm__jp_expr(llm__jparser *p);
LLM_PRIVATE llm__jnode *llm__jp_unary(llm__jparser *p, bool with_filter);
LLM_PRIVATE llm__jnode *llm__jp_or(llm__jparser *p);

/* Call arguments after '(': positional expressions and name=value keywords. */
LLM_PRIVATE void llm__jp_args(llm__jparser *p, llm__jnode *call) {
    while (!llm__jp_accept(p, ")")) {
        if (call->n_kids) llm__jp_expect(p, ",");
        if (llm__jp_accept(p, ")")) break;                 /* trailing comma */
        const llm__jtok *t = llm__jp_peek(p);
        if (t->t == LLM__TK_NAME && p->t[p->i + 1].t == LLM__TK_OP && p->t[p->i + 1].n == 1 && p->t[p->i + 1].p[0] == '=') {
            const char *name = llm__jp_name(p);
            llm__jp_next(p);
            llm__jnode_add(p, call, llm__jnode2(p, LLM__J_KWARG, t->line, name, llm__jp_expr(p), NULL));
        } else llm__jnode_add(p, call, llm__jp_expr(p));
    }
}

/* [a:b:c] after '[' (already consumed), or a plain subscript. */
LLM_PRIVATE llm__jnode *llm__jp_subscript(llm__jparser *p, llm__jnode *obj, int line) {
    llm__jnode *part[3] = { NULL, NULL, NULL };
    int k = 0;
    bool slice = false;
    for (;;) {
        if (!llm__jp_is(p, ":") && !llm__jp_is(p, "]")) part[k] = llm__jp_expr(p);
        if (k < 2 && llm__jp_accept(p, ":")) { slice = true; k++; continue; }
        break;
    }
    llm__jp_expect(p, "]");
    if (!slice) return llm__jnode2(p, LLM__J_ITEM, line, NULL, obj, part[0]);
    llm__jnode *n = llm__jnode2(p, LLM__J_SLICE, line, NULL, obj, NULL);
    for (int i = 0; i < 3; i++) llm__jnode_add(p, n, part[i]);
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_postfix(llm__jparser *p, llm__jnode *n) {
    for (;;) {
        int line = llm__jp_peek(p)->line;
        if (llm__jp_accept(p, ".")) {
            const llm__jtok *t = llm__jp_peek(p);
            if (t->t == LLM__TK_INT) { llm__jp_next(p); n = llm__jnode2(p, LLM__J_ITEM, line, NULL, n, llm__jnode_new(p, LLM__J_LIT, line)); n->b->lit = t->v; }
            else n = llm__jnode2(p, LLM__J_ATTR, line, llm__jp_name(p), n, NULL);
        } else if (llm__jp_accept(p, "[")) n = llm__jp_subscript(p, n, line);
        else if (llm__jp_accept(p, "(")) { n = llm__jnode2(p, LLM__J_CALL, line, NULL, n, NULL); llm__jp_args(p, n); }
        else return n;
    }
}

/* `| name(args)` filters and `is [not] name args` tests after a unary expression. */
LLM_PRIVATE llm__jnode *llm__jp_filters(llm__jparser *p, llm__jnode *n) {
    for (;;) {
        int line = llm__jp_peek(p)->line;
        if (llm__jp_accept(p, "|")) {
            n = llm__jnode2(p, LLM__J_FILTER, line, llm__jp_name(p), n, NULL);
            if (llm__jp_accept(p, "(")) llm__jp_args(p, n);
        } else if (llm__jp_accept(p, "is")) {
            bool neg = llm__jp_accept(p, "not");
            n = llm__jnode2(p, LLM__J_TEST, line, llm__jp_name(p), n, NULL);
            n->neg = neg;
            const llm__jtok *t = llm__jp_peek(p);
            if (llm__jp_accept(p, "(")) llm__jp_args(p, n);
            else if ((t->t == LLM__TK_NAME && !llm__jp_is(p, "else") && !llm__jp_is(p, "or") && !llm__jp_is(p, "and") &&
                      !llm__jp_is(p, "if") && !llm__jp_is(p, "is") && !llm__jp_is(p, "in") && !llm__jp_is(p, "not")) ||
                     t->t == LLM__TK_STRING || t->t == LLM__TK_INT || t->t == LLM__TK_FLOAT || llm__jp_is(p, "[") || llm__jp_is(p, "{"))
                llm__jnode_add(p, n, llm__jp_unary(p, false));   /* `is divisibleby 3`, `is sameas none` */
        } else return n;
    }
}

LLM_PRIVATE llm__jnode *llm__jp_literal_seq(llm__jparser *p, llm__jkind kind, const char *close, int line) {
    llm__jnode *n = llm__jnode_new(p, kind, line);
    while (!llm__jp_accept(p, close)) {
        if (n->n_kids) llm__jp_expect(p, ",");
        if (llm__jp_accept(p, close)) break;
        llm__jnode_add(p, n, llm__jp_expr(p));
        if (kind == LLM__J_DICT) { llm__jp_expect(p, ":"); llm__jnode_add(p, n, llm__jp_expr(p)); }
    }
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_primary(llm__jparser *p) {
    const llm__jtok *t = llm__jp_next(p);
    int line = t->line;
    llm__jnode *n;
    if (t->t == LLM__TK_STRING || t->t == LLM__TK_INT || t->t == LLM__TK_FLOAT) {
        n = llm__jnode_new(p, LLM__J_LIT, line);
        n->lit = t->v;
        if (t->t == LLM__TK_STRING && llm__jp_peek(p)->t == LLM__TK_STRING) {   /* "a" "b" concatenates */
            llm__jbuf b = { 0 };
            llm__jbuf_put(p->c, &b, t->v.s.p, t->v.s.n);
            while (llm__jp_peek(p)->t == LLM__TK_STRING) { t = llm__jp_next(p); llm__jbuf_put(p->c, &b, t->v.s.p, t->v.s.n); }
            n->lit = llm__jbuf_val(&b);
        }
        return n;
    }
    if (t->t == LLM__TK_NAME) {
        static const char *const consts[] = { "true", "True", "false", "False", "none", "None" };
        for (int k = 0; k < 6; k++)
            if (t->n == strlen(consts[k]) && memcmp(t->p, consts[k], t->n) == 0) {
                n = llm__jnode_new(p, LLM__J_LIT, line);
                n->lit = k < 4 ? llm__jbool(k < 2) : llm__jnone();
                return n;
            }
        return llm__jnode2(p, LLM__J_NAME, line, llm__jstr_copy(p->c, t->p, t->n).s.p, NULL, NULL);
    }
    if (t->t == LLM__TK_OP && t->p[0] == '(' ) {
        if (llm__jp_accept(p, ")")) return llm__jnode_new(p, LLM__J_TUPLE, line);
        n = llm__jp_expr(p);
        if (!llm__jp_is(p, ",")) { llm__jp_expect(p, ")"); return n; }
        llm__jnode *tup = llm__jnode_new(p, LLM__J_TUPLE, line);
        llm__jnode_add(p, tup, n);
        while (llm__jp_accept(p, ",") && !llm__jp_is(p, ")")) llm__jnode_add(p, tup, llm__jp_expr(p));
        llm__jp_expect(p, ")");
        return tup;
    }
    if (t->t == LLM__TK_OP && t->p[0] == '[') return llm__jp_literal_seq(p, LLM__J_LIST, "]", line);
    if (t->t == LLM__TK_OP && t->p[0] == '{') return llm__jp_literal_seq(p, LLM__J_DICT, "}", line);
    p->c->line = line;
    llm__jfail(p->c, "unexpected %s", llm__jtok_desc(p, t));
}

LLM_PRIVATE llm__jnode *llm__jp_unary(llm__jparser *p, bool with_filter) {
    llm__jp_enter(p);
    int line = llm__jp_peek(p)->line;
    llm__jnode *n;
    if (llm__jp_accept(p, "-")) n = llm__jnode2(p, LLM__J_NEG, line, NULL, llm__jp_unary(p, false), NULL);
    else if (llm__jp_accept(p, "+")) n = llm__jnode2(p, LLM__J_POS, line, NULL, llm__jp_unary(p, false), NULL);
    else n = llm__jp_primary(p);
    n = llm__jp_postfix(p, n);
    if (with_filter) n = llm__jp_filters(p, n);
    p->c->depth--;
    return n;
}

/* One level of left-associative binary operators. */
LLM_PRIVATE llm__jnode *llm__jp_binary(llm__jparser *p, int level) {
    static const char *const ops[][5] = { { "+", "-" }, { "~" }, { "*", "/", "//", "%" }, { "**" } };
    if (level == 4) return llm__jp_unary(p, true);
    llm__jnode *n = llm__jp_binary(p, level + 1);
    for (;;) {
        const char *op = NULL;
        for (int k = 0; k < 5 && ops[level][k] && !op; k++) if (llm__jp_is(p, ops[level][k])) op = ops[level][k];
        if (!op) return n;
        int line = llm__jp_next(p)->line;
        n = llm__jnode2(p, LLM__J_BIN, line, op, n, llm__jp_binary(p, level + 1));
    }
}

/* a < b < c is (a < b) and (b < c), as in Python. */
LLM_PRIVATE llm__jnode *llm__jp_compare(llm__jparser *p) {
    static const char *const ops[] = { "==", "!=", "<", ">", "<=", ">=", "in" };
    llm__jnode *left = llm__jp_binary(p, 0), *result = NULL;
    for (;;) {
        const char *op = NULL;
        int line = llm__jp_peek(p)->line;
        for (int k = 0; k < 7 && !op; k++) if (llm__jp_is(p, ops[k])) op = ops[k];
        if (!op && llm__jp_is(p, "not") && p->t[p->i + 1].t == LLM__TK_NAME && p->t[p->i + 1].n == 2 && !memcmp(p->t[p->i + 1].p, "in", 2)) {
            llm__jp_next(p);
            op = "not in";
        }
        if (!op) return result ? result : left;
        llm__jp_next(p);
        llm__jnode *right = llm__jp_binary(p, 0), *cmp = llm__jnode2(p, LLM__J_BIN, line, op, left, right);
        result = result ? llm__jnode2(p, LLM__J_AND, line, NULL, result, cmp) : cmp;
        left = right;
    }
}

LLM_PRIVATE llm__jnode *llm__jp_not(llm__jparser *p) {
    int line = llm__jp_peek(p)->line;
    if (llm__jp_accept(p, "not")) {
        llm__jp_enter(p);
        llm__jnode *n = llm__jnode2(p, LLM__J_NOT, line, NULL, llm__jp_not(p), NULL);
        p->c->depth--;
        return n;
    }
    return llm__jp_compare(p);
}

LLM_PRIVATE llm__jnode *llm__jp_and(llm__jparser *p) {
    llm__jnode *n = llm__jp_not(p);
    while (llm__jp_is(p, "and")) { int line = llm__jp_next(p)->line; n = llm__jnode2(p, LLM__J_AND, line, NULL, n, llm__jp_not(p)); }
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_or(llm__jparser *p) {
    llm__jnode *n = llm__jp_and(p);
    while (llm__jp_is(p, "or")) { int line = llm__jp_next(p)->line; n = llm__jnode2(p, LLM__J_OR, line, NULL, n, llm__jp_and(p)); }
    return n;
}

/* expr := or ['if' or ['else' expr]] */
LLM_PRIVATE llm__jnode *llm__jp_expr(llm__jparser *p) {
    llm__jp_enter(p);
    llm__jnode *n = llm__jp_or(p);
    while (llm__jp_is(p, "if")) {
        int line = llm__jp_next(p)->line;
        llm__jnode *cond = llm__jnode2(p, LLM__J_COND, line, NULL, llm__jp_or(p), n);
        if (llm__jp_accept(p, "else")) cond->c = llm__jp_expr(p);
        n = cond;
    }
    p->c->depth--;
    return n;
}

/* expr or a bare tuple `a, b` (set and for targets and values). */
LLM_PRIVATE llm__jnode *llm__jp_tuple(llm__jparser *p, bool names_only) {
    int line = llm__jp_peek(p)->line;
    llm__jnode *first = names_only ? llm__jp_primary(p) : llm__jp_expr(p);
    if (names_only && first->kind == LLM__J_NAME && llm__jp_is(p, ".")) {   /* ns.attr */
        llm__jp_next(p);
        first = llm__jnode2(p, LLM__J_ATTR, line, llm__jp_name(p), first, NULL);
    }
    if (!llm__jp_is(p, ",")) return first;
    llm__jnode *tup = llm__jnode_new(p, LLM__J_TUPLE, line);
    llm__jnode_add(p, tup, first);
    while (llm__jp_accept(p, ",")) llm__jnode_add(p, tup, names_only ? llm__jp_primary(p) : llm__jp_expr(p));
    return tup;
}

/* ---- statements ---- */

LLM_PRIVATE llm__jnode *llm__jp_body(llm__jparser *p, const char *const *ends, const char *opener);

LLM_PRIVATE void llm__jp_end_tag(llm__jparser *p) { llm__jp_expect_type(p, LLM__TK_BLOCK_END, "'%}'"); }

/* Parse a body up to one of `ends`; returns which end tag stopped it (consumed with its %}). */
LLM_PRIVATE const char *llm__jp_block(llm__jparser *p, llm__jnode **body, const char *const *ends, const char *opener) {
    *body = llm__jp_body(p, ends, opener);
    const char *end = llm__jp_name(p);
    return end;
}

LLM_PRIVATE llm__jnode *llm__jp_if(llm__jparser *p, int line) {
    static const char *const ends[] = { "elif", "else", "endif", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_IF, line);
    n->a = llm__jp_expr(p);
    llm__jp_end_tag(p);
    const char *end = llm__jp_block(p, &n->body, ends, "if");
    if (!strcmp(end, "elif")) {
        llm__jnode *els = llm__jnode_new(p, LLM__S_BODY, llm__jp_peek(p)->line);
        llm__jnode_add(p, els, llm__jp_if(p, llm__jp_peek(p)->line));
        n->else_body = els;
        return n;                                   /* the nested if consumed endif */
    }
    if (!strcmp(end, "else")) {
        static const char *const endif[] = { "endif", NULL };
        llm__jp_end_tag(p);
        llm__jp_block(p, &n->else_body, endif, "if");
    }
    llm__jp_end_tag(p);
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_for(llm__jparser *p, int line) {
    static const char *const ends[] = { "else", "endfor", NULL }, *const endfor[] = { "endfor", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_FOR, line);
    n->a = llm__jp_tuple(p, true);
    llm__jp_expect(p, "in");
    /* the iterable is an `or` expression: a trailing `if` filters items, as in Jinja */
    n->b = llm__jp_or(p);
    if (llm__jp_is(p, ",")) {                      /* for x in a, b */
        llm__jnode *t = llm__jnode_new(p, LLM__J_TUPLE, line);
        llm__jnode_add(p, t, n->b);
        while (llm__jp_accept(p, ",")) llm__jnode_add(p, t, llm__jp_or(p));
        n->b = t;
    }
    if (llm__jp_accept(p, "if")) n->c = llm__jp_expr(p);
    if (llm__jp_is(p, "recursive")) llm__jfail(p->c, "recursive loops are not supported");
    llm__jp_end_tag(p);
    if (!strcmp(llm__jp_block(p, &n->body, ends, "for"), "else")) {
        llm__jp_end_tag(p);
        llm__jp_block(p, &n->else_body, endfor, "for");
    }
    llm__jp_end_tag(p);
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_set(llm__jparser *p, int line) {
    static const char *const endset[] = { "endset", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_SET, line);
    n->a = llm__jp_tuple(p, true);
    if (llm__jp_accept(p, "=")) {
        n->b = llm__jp_tuple(p, false);
        llm__jp_end_tag(p);
        return n;
    }
    n->kind = LLM__S_SETBLOCK;                     /* {% set x %}...{% endset %} */
    if (n->a->kind != LLM__J_NAME) llm__jfail(p->c, "a block set needs a plain name");
    if (llm__jp_is(p, "|")) llm__jfail(p->c, "filters on a block set are not supported");
    llm__jp_end_tag(p);
    llm__jp_block(p, &n->body, endset, "set");
    llm__jp_end_tag(p);
    return n;
}

/* Parameters `(a, b='x')` of a macro or a call block's caller. */
LLM_PRIVATE void llm__jp_params(llm__jparser *p, llm__jnode *n) {
    llm__jp_expect(p, "(");
    while (!llm__jp_accept(p, ")")) {
        if (n->n_kids) llm__jp_expect(p, ",");
        int line = llm__jp_peek(p)->line;
        llm__jnode *param = llm__jnode2(p, LLM__J_NAME, line, llm__jp_name(p), NULL, NULL);
        if (llm__jp_accept(p, "=")) param->a = llm__jp_expr(p);
        llm__jnode_add(p, n, param);
    }
}

LLM_PRIVATE llm__jnode *llm__jp_macro(llm__jparser *p, int line) {
    static const char *const ends[] = { "endmacro", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_MACRO, line);
    n->name = llm__jp_name(p);
    llm__jp_params(p, n);
    llm__jp_end_tag(p);
    llm__jp_block(p, &n->body, ends, "macro");
    if (llm__jp_peek(p)->t == LLM__TK_NAME) llm__jp_next(p);   /* {% endmacro name %} */
    llm__jp_end_tag(p);
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_callblock(llm__jparser *p, int line) {
    static const char *const ends[] = { "endcall", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_CALLBLOCK, line);
    if (llm__jp_is(p, "(")) llm__jp_params(p, n);
    n->a = llm__jp_expr(p);
    if (n->a->kind != LLM__J_CALL) llm__jfail(p->c, "expected a macro call after 'call'");
    llm__jp_end_tag(p);
    llm__jp_block(p, &n->body, ends, "call");
    llm__jp_end_tag(p);
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_filterblock(llm__jparser *p, int line) {
    static const char *const ends[] = { "endfilter", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_FILTERBLOCK, line), *f = NULL;
    do {
        f = llm__jnode2(p, LLM__J_FILTER, llm__jp_peek(p)->line, llm__jp_name(p), f, NULL);
        if (llm__jp_accept(p, "(")) llm__jp_args(p, f);
    } while (llm__jp_accept(p, "|"));
    n->a = f;
    llm__jp_end_tag(p);
    llm__jp_block(p, &n->body, ends, "filter");
    llm__jp_end_tag(p);
    return n;
}

/* One {% tag %} after its '{%'. */
LLM_PRIVATE llm__jnode *llm__jp_stmt(llm__jparser *p) {
    int line = llm__jp_peek(p)->line;
    const char *tag = llm__jp_name(p);
    if (!strcmp(tag, "if")) return llm__jp_if(p, line);
    if (!strcmp(tag, "for")) return llm__jp_for(p, line);
    if (!strcmp(tag, "set")) return llm__jp_set(p, line);
    if (!strcmp(tag, "macro")) return llm__jp_macro(p, line);
    if (!strcmp(tag, "call")) return llm__jp_callblock(p, line);
    if (!strcmp(tag, "filter")) return llm__jp_filterblock(p, line);
    if (!strcmp(tag, "break") || !strcmp(tag, "continue")) {
        llm__jp_end_tag(p);
        return llm__jnode_new(p, tag[0] == 'b' ? LLM__S_BREAK : LLM__S_CONTINUE, line);
    }
    if (!strcmp(tag, "generation")) {              /* transformers' assistant-mask marker */
        static const char *const ends[] = { "endgeneration", NULL };
        llm__jnode *body;
        llm__jp_end_tag(p);
        llm__jp_block(p, &body, ends, "generation");
        llm__jp_end_tag(p);
        return body;
    }
    p->c->line = line;
    llm__jfail(p->c, "unknown tag '%s'", tag);
}

/* Statements until a {% tag %} named in `ends` (NULL-terminated; NULL = the whole
   template). The end tag's name is left for the caller to read. */
LLM_PRIVATE llm__jnode *llm__jp_body(llm__jparser *p, const char *const *ends, const char *opener) {
    int open_line = p->c->line;
    llm__jp_enter(p);
    llm__jnode *body = llm__jnode_new(p, LLM__S_BODY, llm__jp_peek(p)->line);
    for (;;) {
        const llm__jtok *t = llm__jp_peek(p);
        if (t->t == LLM__TK_EOF) {
            if (!ends) break;
            p->c->line = open_line;
            llm__jfail(p->c, "'%s' tag is never closed (expected '%s' before the end of the template)", opener, ends[0]);
        }
        llm__jp_next(p);
        if (t->t == LLM__TK_TEXT) {
            llm__jnode *n = llm__jnode_new(p, LLM__S_TEXT, t->line);
            n->lit = t->v;
            llm__jnode_add(p, body, n);
        } else if (t->t == LLM__TK_VAR_BEGIN) {
            llm__jnode_add(p, body, llm__jnode2(p, LLM__S_OUT, t->line, NULL, llm__jp_expr(p), NULL));
            llm__jp_expect_type(p, LLM__TK_VAR_END, "'}}'");
        } else if (t->t == LLM__TK_BLOCK_BEGIN) {
            const llm__jtok *name = llm__jp_peek(p);
            bool is_end = false;
            for (int k = 0; ends && ends[k] && !is_end; k++)
                is_end = name->t == LLM__TK_NAME && name->n == strlen(ends[k]) && !memcmp(name->p, ends[k], name->n);
            if (is_end) break;
            if (name->t == LLM__TK_NAME && (name->n >= 3 && (!memcmp(name->p, "end", 3) || (name->n == 4 && !memcmp(name->p, "elif", 4)) || (name->n == 4 && !memcmp(name->p, "else", 4))))) {
                p->c->line = name->line;
                llm__jfail(p->c, "unexpected '%.*s'%s%s%s", (int)name->n, name->p, ends ? " (expected '" : "", ends ? ends[0] : "", ends ? "')" : "");
            }
            llm__jnode_add(p, body, llm__jp_stmt(p));
        } else {
            p->c->line = t->line;
            llm__jfail(p->c, "unexpected %s", llm__jtok_desc(p, t));
        }
    }
    p->c->depth--;
    return body;
}

/* Normalize newlines (\r\n and \r -> \n) and drop one trailing newline, as Jinja does. */
LLM_PRIVATE llm__jv llm__jnormalize_source(llm__jctx *c, const char *src) {
    size_t n = strlen(src), k = 0;
    char *d = (char *)llm__jalloc(c, n + 1);
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') { d[k++] = '\n'; if (i + 1 < n && src[i + 1] == '\n') i++; }
        else d[k++] = src[i];
    }
    if (k && d[k - 1] == '\n') k--;
    d[k] = 0;
    return llm__jstr(d, k);
}

/* Source -> AST in c's arena. Errors longjmp to the caller's setjmp. */
LLM_PRIVATE llm__jnode *llm__jparse(llm__jctx *c, const char *source) {
    llm__jv src = llm__jnormalize_source(c, source);
    llm__jlex L = { .c = c, .src = src.s.p, .n = src.s.n, .line = 1 };
    c->line = 1;
    llm__jlex_all(&L);
    llm__jparser p = { .c = c, .t = L.toks };
    return llm__jp_body(&p, NULL, NULL);
}
/* ==== end llm_impl/45_jinja_parse.c ==== */
/* ==== begin llm_impl/46_jinja_builtins.c ==== */
/* ---- >>jinja_builtins: filters, tests, methods and global functions ----
   What templates call, with Python's and Jinja's semantics: `x | trim`, `x is string`,
   `s.startswith('a')`, `d.items()`, `range(3)`, `namespace(a=1)`, `raise_exception(msg)`.
   Each builtin is an llm__jfn: (ctx, self, args) -> value, where self is the filtered or
   tested value, or the receiver of a method. Attribute and item lookup live here too,
   because `obj.name` yields a bound method when name is one. Case mapping is ASCII only. */
/* #include "10_internal.h" (already above) */

/* Argument i (positional) or `name` (keyword), else dflt. */
LLM_PRIVATE llm__jv llm__jarg(const llm__jargs *a, int i, const char *name, llm__jv dflt) {
    if (i >= 0 && i < a->n_pos) return a->pos[i];
    for (int k = 0; k < a->n_kw; k++) if (!strcmp(a->kw_names[k], name)) return a->kw[k];
    return dflt;
}

LLM_PRIVATE llm__jv llm__jarg_str(llm__jctx *c, const llm__jargs *a, int i, const char *name, const char *dflt) {
    llm__jv v = llm__jarg(a, i, name, dflt ? llm__jstrz(dflt) : llm__jnone());
    if (v.t != LLM__JV_STR && v.t != LLM__JV_NONE) llm__jfail(c, "argument '%s' must be a string, not %s", name, llm__jtype_name(v));
    return v;
}

LLM_PRIVATE int64_t llm__jarg_int(llm__jctx *c, const llm__jargs *a, int i, const char *name, int64_t dflt) {
    llm__jv v = llm__jarg(a, i, name, llm__jint(dflt));
    if (v.t == LLM__JV_NONE) return dflt;
    if (v.t != LLM__JV_INT && v.t != LLM__JV_BOOL) llm__jfail(c, "argument '%s' must be an integer, not %s", name, llm__jtype_name(v));
    return v.t == LLM__JV_INT ? v.i : v.b;
}

LLM_PRIVATE void llm__jneed_str(llm__jctx *c, llm__jv v, const char *what) {
    if (v.t != LLM__JV_STR) llm__jfail(c, "%s needs a string, got %s", what, llm__jtype_name(v));
}

/* The items a for loop sees: list items, dict keys, string characters; undefined is empty. */
LLM_PRIVATE llm__jlist llm__jiter(llm__jctx *c, llm__jv v) {
    llm__jlist out = { 0 };
    if (v.t == LLM__JV_LIST) return *v.l;
    if (v.t == LLM__JV_DICT) { out.v = v.d->k; out.n = v.d->n; return out; }
    if (v.t == LLM__JV_STR) {
        size_t n, *off = llm__jutf8_offsets(c, v, &n);
        out.v = (llm__jv *)llm__jalloc(c, (n + 1) * sizeof(llm__jv));
        for (size_t i = 0; i < n; i++) out.v[i] = llm__jstr(v.s.p + off[i], off[i + 1] - off[i]);
        out.n = n;
        return out;
    }
    if (v.t == LLM__JV_UNDEF) return out;
    llm__jfail(c, "'%s' object is not iterable", llm__jtype_name(v));
}

LLM_PRIVATE llm__jv llm__jlist_of(llm__jctx *c, llm__jlist items) {
    llm__jv v = llm__jlist_new(c);
    for (size_t i = 0; i < items.n; i++) llm__jlist_push(c, v.l, items.v[i]);
    return v;
}

LLM_PRIVATE llm__jv llm__jpair(llm__jctx *c, llm__jv a, llm__jv b) {
    llm__jv t = llm__jlist_new(c);
    t.tuple = true;
    llm__jlist_push(c, t.l, a);
    llm__jlist_push(c, t.l, b);
    return t;
}

/* Python ordering (<) for sorting and comparisons: numbers, strings, lists. */
LLM_PRIVATE int llm__jcmp(llm__jctx *c, llm__jv a, llm__jv b) {
    if (llm__jis_num(a) && llm__jis_num(b)) {
        if (a.t != LLM__JV_FLOAT && b.t != LLM__JV_FLOAT) {
            int64_t x = a.t == LLM__JV_INT ? a.i : a.b, y = b.t == LLM__JV_INT ? b.i : b.b;
            return (x > y) - (x < y);
        }
        double x = llm__jnum(a), y = llm__jnum(b);
        return (x > y) - (x < y);
    }
    if (a.t == LLM__JV_STR && b.t == LLM__JV_STR) {
        int r = memcmp(a.s.p, b.s.p, LLM__MIN(a.s.n, b.s.n));
        return r ? (r > 0) - (r < 0) : (a.s.n > b.s.n) - (a.s.n < b.s.n);
    }
    if (a.t == LLM__JV_LIST && b.t == LLM__JV_LIST) {
        for (size_t i = 0; i < a.l->n && i < b.l->n; i++) {
            int r = llm__jcmp(c, a.l->v[i], b.l->v[i]);
            if (r) return r;
        }
        return (a.l->n > b.l->n) - (a.l->n < b.l->n);
    }
    llm__jfail(c, "'<' not supported between instances of '%s' and '%s'", llm__jtype_name(a), llm__jtype_name(b));
}

/* ---- strings ---- */

LLM_PRIVATE bool llm__jpy_space(uint32_t cp) {   /* str.isspace / str.split() whitespace */
    return (cp >= 9 && cp <= 13) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

LLM_PRIVATE bool llm__jin_chars(uint32_t cp, llm__jv chars) {
    if (chars.t != LLM__JV_STR) return llm__jpy_space(cp);
    for (size_t i = 0; i < chars.s.n;) if (llm__jutf8_next(chars.s.p, chars.s.n, &i) == cp) return true;
    return false;
}

/* str.strip/lstrip/rstrip(chars): chars none = whitespace. */
LLM_PRIVATE llm__jv llm__jstrip(llm__jctx *c, llm__jv s, llm__jv chars, bool left, bool right) {
    size_t n, *off = llm__jutf8_offsets(c, s, &n), b = 0, e = n;
    while (left && b < e) { size_t i = off[b]; if (!llm__jin_chars(llm__jutf8_next(s.s.p, s.s.n, &i), chars)) break; b++; }
    while (right && e > b) { size_t i = off[e - 1]; if (!llm__jin_chars(llm__jutf8_next(s.s.p, s.s.n, &i), chars)) break; e--; }
    return llm__jstr(s.s.p + off[b], off[e] - off[b]);
}

/* Python's per-character case mapping (utf8proc; ASCII only under LLM_NO_UTF8PROC). */
LLM_PRIVATE uint32_t llm__jcase_cp(uint32_t cp, bool upper) {
#ifndef LLM_NO_UTF8PROC
    if (cp >= 0x80) return (uint32_t)(upper ? utf8proc_toupper((utf8proc_int32_t)cp) : utf8proc_tolower((utf8proc_int32_t)cp));
#endif
    if (upper && cp >= 'a' && cp <= 'z') return cp - 32;
    if (!upper && cp >= 'A' && cp <= 'Z') return cp + 32;
    return cp;
}

LLM_PRIVATE bool llm__jcased(uint32_t cp) {
#ifndef LLM_NO_UTF8PROC
    if (cp >= 0x80) { utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp); return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT; }
#endif
    return ((cp | 32) >= 'a' && (cp | 32) <= 'z');
}

/* mode: 'u' upper, 'l' lower, 'c' capitalize, 't' str.title (words = runs of cased
   letters), 'T' Jinja's title filter (words start after whitespace, '-', '(', '{', '[' or '<'). */
LLM_PRIVATE llm__jv llm__jcase(llm__jctx *c, llm__jv s, char mode) {
    llm__jbuf b = { 0 };
    bool start = true;
    for (size_t i = 0, k = 0; i < s.s.n; k++) {
        uint32_t cp = llm__jutf8_next(s.s.p, s.s.n, &i);
        bool up;
        switch (mode) {
        case 'u': up = true; break;
        case 'l': up = false; break;
        case 'c': up = k == 0; break;
        case 't': up = start; start = !llm__jcased(cp); break;
        default: {
            bool sep = cp < 0x80 && (llm__jspace((char)cp) || strchr("-({[<", (int)cp));
            if (sep) { start = true; llm__jutf8_put(c, &b, cp); continue; }
            up = start;
            start = false;
        }
        }
        llm__jutf8_put(c, &b, llm__jcase_cp(cp, up));
    }
    return b.p ? llm__jbuf_val(&b) : llm__jstr("", 0);
}

LLM_PRIVATE const char *llm__jmemmem(const char *h, size_t hn, const char *n, size_t nn) {
    if (nn == 0) return h;
    for (size_t i = 0; i + nn <= hn; i++) if (h[i] == n[0] && memcmp(h + i, n, nn) == 0) return h + i;
    return NULL;
}

LLM_PRIVATE llm__jv llm__jreplace(llm__jctx *c, llm__jv s, llm__jv old, llm__jv new_, int64_t count) {
    llm__jneed_str(c, old, "replace"); llm__jneed_str(c, new_, "replace");
    llm__jbuf b = { 0 };
    size_t i = 0;
    if (old.s.n == 0) {                              /* Python inserts between characters */
        for (int64_t k = 0; i <= s.s.n && (count < 0 || k < count); k++) {
            llm__jbuf_put(c, &b, new_.s.p, new_.s.n);
            if (i == s.s.n) { i++; break; }
            size_t j = i; llm__jutf8_next(s.s.p, s.s.n, &j);
            llm__jbuf_put(c, &b, s.s.p + i, j - i);
            i = j;
        }
        if (i < s.s.n) llm__jbuf_put(c, &b, s.s.p + i, s.s.n - i);
        return llm__jbuf_val(&b);
    }
    for (int64_t k = 0; count < 0 || k < count; k++) {
        const char *hit = llm__jmemmem(s.s.p + i, s.s.n - i, old.s.p, old.s.n);
        if (!hit) break;
        llm__jbuf_put(c, &b, s.s.p + i, (size_t)(hit - s.s.p) - i);
        llm__jbuf_put(c, &b, new_.s.p, new_.s.n);
        i = (size_t)(hit - s.s.p) + old.s.n;
    }
    llm__jbuf_put(c, &b, s.s.p + i, s.s.n - i);
    return llm__jbuf_val(&b);
}

/* str.split(sep=None, maxsplit=-1) and rsplit. */
LLM_PRIVATE llm__jv llm__jsplit(llm__jctx *c, llm__jv s, llm__jv sep, int64_t maxsplit, bool from_right) {
    llm__jv out = llm__jlist_new(c);
    if (sep.t == LLM__JV_STR && sep.s.n == 0) llm__jfail(c, "empty separator");
    if (sep.t == LLM__JV_STR) {
        if (from_right && maxsplit >= 0) {
            size_t end = s.s.n;
            llm__jlist parts = { 0 };
            for (int64_t k = 0; k < maxsplit; k++) {
                const char *hit = NULL;
                for (size_t i = end; i >= sep.s.n && !hit; i--) if (!memcmp(s.s.p + i - sep.s.n, sep.s.p, sep.s.n)) hit = s.s.p + i - sep.s.n;
                if (!hit) break;
                llm__jlist_push(c, &parts, llm__jstr(hit + sep.s.n, (size_t)(s.s.p + end - hit) - sep.s.n));
                end = (size_t)(hit - s.s.p);
            }
            llm__jlist_push(c, out.l, llm__jstr(s.s.p, end));
            for (size_t k = parts.n; k-- > 0;) llm__jlist_push(c, out.l, parts.v[k]);
            return out;
        }
        size_t i = 0;
        for (int64_t k = 0; maxsplit < 0 || k < maxsplit; k++) {
            const char *hit = llm__jmemmem(s.s.p + i, s.s.n - i, sep.s.p, sep.s.n);
            if (!hit) break;
            llm__jlist_push(c, out.l, llm__jstr(s.s.p + i, (size_t)(hit - s.s.p) - i));
            i = (size_t)(hit - s.s.p) + sep.s.n;
        }
        llm__jlist_push(c, out.l, llm__jstr(s.s.p + i, s.s.n - i));
        return out;
    }
    if (from_right && maxsplit >= 0) llm__jfail(c, "rsplit() with maxsplit and no separator is not supported");
    size_t i = 0;
    for (int64_t k = 0;; k++) {                      /* runs of whitespace separate */
        while (i < s.s.n) { size_t j = i; if (!llm__jpy_space(llm__jutf8_next(s.s.p, s.s.n, &j))) break; i = j; }
        if (i >= s.s.n) break;
        if (maxsplit >= 0 && k >= maxsplit) {
            llm__jlist_push(c, out.l, llm__jstrip(c, llm__jstr(s.s.p + i, s.s.n - i), llm__jnone(), false, true));
            break;
        }
        size_t w = i;
        while (w < s.s.n) { size_t j = w; if (llm__jpy_space(llm__jutf8_next(s.s.p, s.s.n, &j))) break; w = j; }
        llm__jlist_push(c, out.l, llm__jstr(s.s.p + i, w - i));
        i = w;
    }
    return out;
}

/* str.format with {} {0} {name} fields and {{ }}; no format specs. */
LLM_PRIVATE llm__jv llm__jformat(llm__jctx *c, llm__jv s, const llm__jargs *a) {
    llm__jbuf b = { 0 };
    int auto_idx = 0;
    for (size_t i = 0; i < s.s.n; i++) {
        char ch = s.s.p[i];
        if ((ch == '{' || ch == '}') && i + 1 < s.s.n && s.s.p[i + 1] == ch) { llm__jbuf_put(c, &b, &ch, 1); i++; continue; }
        if (ch != '{') { llm__jbuf_put(c, &b, &ch, 1); continue; }
        const char *close = memchr(s.s.p + i, '}', s.s.n - i);
        if (!close) llm__jfail(c, "format string has an unmatched '{'");
        const char *f = s.s.p + i + 1;
        size_t fn = (size_t)(close - f);
        if (memchr(f, ':', fn) || memchr(f, '!', fn) || memchr(f, '.', fn) || memchr(f, '[', fn)) llm__jfail(c, "format specs are not supported");
        llm__jv v;
        if (fn == 0) v = llm__jarg(a, auto_idx++, "", llm__jundef("format", 6));
        else if (llm__jdigit(f[0])) v = llm__jarg(a, atoi(f), "", llm__jundef("format", 6));
        else { char name[64]; snprintf(name, sizeof name, "%.*s", (int)LLM__MIN(fn, 63), f); v = llm__jarg(a, -1, name, llm__jundef("format", 6)); }
        if (v.t == LLM__JV_UNDEF) llm__jfail(c, "format field '%.*s' has no argument", (int)fn, f);
        llm__jput_str(c, &b, v);
        i = (size_t)(close - s.s.p);
    }
    return llm__jbuf_val(&b);
}

LLM_PRIVATE bool llm__jaffix(llm__jctx *c, llm__jv s, llm__jv x, bool end) {
    if (x.t == LLM__JV_LIST) {                       /* a tuple of prefixes */
        for (size_t i = 0; i < x.l->n; i++) if (llm__jaffix(c, s, x.l->v[i], end)) return true;
        return false;
    }
    llm__jneed_str(c, x, end ? "endswith" : "startswith");
    return x.s.n <= s.s.n && memcmp(s.s.p + (end ? s.s.n - x.s.n : 0), x.s.p, x.s.n) == 0;
}

LLM_PRIVATE int64_t llm__jcp_index(llm__jctx *c, llm__jv s, size_t byte) {
    int64_t k = 0;
    for (size_t i = 0; i < byte;) { llm__jutf8_next(s.s.p, s.s.n, &i); k++; }
    (void)c;
    return k;
}

LLM_PRIVATE llm__jv llm__jstr_method(llm__jctx *c, llm__jv s, const char *m, const llm__jargs *a) {
    llm__jv none = llm__jnone();
    if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip"))
        return llm__jstrip(c, s, llm__jarg(a, 0, "chars", none), m[0] != 'r', m[0] != 'l');
    if (!strcmp(m, "split") || !strcmp(m, "rsplit"))
        return llm__jsplit(c, s, llm__jarg(a, 0, "sep", none), llm__jarg_int(c, a, 1, "maxsplit", -1), m[0] == 'r');
    if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) return llm__jbool(llm__jaffix(c, s, llm__jarg(a, 0, "prefix", none), m[0] == 'e'));
    if (!strcmp(m, "upper") || !strcmp(m, "lower") || !strcmp(m, "capitalize")) return llm__jcase(c, s, m[0] == 'u' ? 'u' : m[0] == 'l' ? 'l' : 'c');
    if (!strcmp(m, "title")) return llm__jcase(c, s, 't');
    if (!strcmp(m, "replace"))
        return llm__jreplace(c, s, llm__jarg(a, 0, "old", none), llm__jarg(a, 1, "new", none), llm__jarg_int(c, a, 2, "count", -1));
    if (!strcmp(m, "format")) return llm__jformat(c, s, a);
    if (!strcmp(m, "find") || !strcmp(m, "rfind") || !strcmp(m, "count")) {
        llm__jv x = llm__jarg(a, 0, "sub", none);
        llm__jneed_str(c, x, m);
        int64_t count = 0, found = -1;
        for (size_t i = 0; i + x.s.n <= s.s.n;) {
            const char *hit = llm__jmemmem(s.s.p + i, s.s.n - i, x.s.p, x.s.n);
            if (!hit) break;
            if (found < 0 || m[0] == 'r') found = (int64_t)(hit - s.s.p);
            count++;
            i = (size_t)(hit - s.s.p) + (x.s.n ? x.s.n : 1);
            if (m[0] == 'f') break;
        }
        if (m[0] == 'c') return llm__jint(count);
        return llm__jint(found < 0 ? -1 : llm__jcp_index(c, s, (size_t)found));
    }
    if (!strcmp(m, "join")) {
        llm__jlist items = llm__jiter(c, llm__jarg(a, 0, "iterable", none));
        llm__jbuf b = { 0 };
        for (size_t i = 0; i < items.n; i++) {
            if (i) llm__jbuf_put(c, &b, s.s.p, s.s.n);
            llm__jneed_str(c, items.v[i], "join");
            llm__jbuf_put(c, &b, items.v[i].s.p, items.v[i].s.n);
        }
        return llm__jbuf_val(&b);
    }
    if (!strcmp(m, "isdigit") || !strcmp(m, "isalpha") || !strcmp(m, "isalnum") || !strcmp(m, "isspace") ||
        !strcmp(m, "islower") || !strcmp(m, "isupper")) {
        bool ok = s.s.n > 0, cased = false;
        for (size_t i = 0; i < s.s.n && ok; i++) {
            char ch = s.s.p[i];
            bool dig = llm__jdigit(ch), up = ch >= 'A' && ch <= 'Z', lo = ch >= 'a' && ch <= 'z';
            cased |= up || lo;
            if (!strcmp(m, "isdigit")) ok = dig;
            else if (!strcmp(m, "isalpha")) ok = up || lo;
            else if (!strcmp(m, "isalnum")) ok = up || lo || dig;
            else if (!strcmp(m, "isspace")) ok = llm__jspace(ch);
            else ok = m[2] == 'l' ? !up : !lo;
        }
        return llm__jbool(ok && (m[2] == 'd' || m[2] == 'a' || m[2] == 's' || cased));
    }
    return llm__jundef(m, strlen(m));
}

LLM_PRIVATE llm__jv llm__jdict_method(llm__jctx *c, llm__jv d, const char *m, const llm__jargs *a) {
    if (!strcmp(m, "get")) {
        llm__jv *v = llm__jdict_find(c, d.d, llm__jarg(a, 0, "key", llm__jnone()));
        return v ? *v : llm__jarg(a, 1, "default", llm__jnone());
    }
    llm__jv out = llm__jlist_new(c);
    for (size_t i = 0; i < d.d->n; i++)
        llm__jlist_push(c, out.l, m[0] == 'k' ? d.d->k[i] : m[0] == 'v' ? d.d->v[i] : llm__jpair(c, d.d->k[i], d.d->v[i]));
    return out;
}

/* Method names per receiver type; calling one goes through llm__jcall_method. */
static const char *const llm__jstr_methods[] = { "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith",
    "upper", "lower", "capitalize", "title", "replace", "format", "find", "rfind", "count", "join", "isdigit", "isalpha",
    "isalnum", "isspace", "islower", "isupper", NULL };
static const char *const llm__jdict_methods[] = { "items", "keys", "values", "get", NULL };
/* Mutating methods: transformers renders in Jinja's ImmutableSandboxedEnvironment, which refuses them. */
static const char *const llm__jmutators[] = { "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
    "update", "setdefault", "popitem", NULL };

LLM_PRIVATE bool llm__jname_in(const char *name, const char *const *names) {
    for (int i = 0; names[i]; i++) if (!strcmp(names[i], name)) return true;
    return false;
}

LLM_PRIVATE llm__jv llm__jcall_method(llm__jctx *c, llm__jv self, const char *name, const llm__jargs *a) {
    if (self.t == LLM__JV_STR) return llm__jstr_method(c, self, name, a);
    if (self.t == LLM__JV_DICT) return llm__jdict_method(c, self, name, a);
    llm__jfail(c, "access to attribute '%s' of '%s' object is unsafe", name, llm__jtype_name(self));
}

LLM_PRIVATE llm__jv llm__jbind(llm__jctx *c, llm__jv self, const char *name) {
    llm__jmethod *m = (llm__jmethod *)llm__jalloc(c, sizeof(llm__jmethod));
    m->self = self; m->name = name;
    llm__jv v = { .t = LLM__JV_METHOD };
    v.m = m;
    return v;
}

/* ---- attribute and item access (Jinja's getattr / getitem: missing -> undefined) ---- */

LLM_PRIVATE LLM__NORETURN void llm__jundef_use(llm__jctx *c, llm__jv v) {
    llm__jfail(c, "'%.*s' is undefined", (int)v.s.n, v.s.p);
}

/* obj.name */
LLM_PRIVATE llm__jv llm__jgetattr(llm__jctx *c, llm__jv obj, const char *name) {
    if (obj.t == LLM__JV_UNDEF) llm__jundef_use(c, obj);
    if ((obj.t == LLM__JV_STR && llm__jname_in(name, llm__jstr_methods)) ||
        (obj.t == LLM__JV_DICT && llm__jname_in(name, llm__jdict_methods)) ||
        ((obj.t == LLM__JV_DICT || obj.t == LLM__JV_LIST) && llm__jname_in(name, llm__jmutators)))
        return llm__jbind(c, obj, name);
    if (obj.t == LLM__JV_DICT || obj.t == LLM__JV_NS) {
        llm__jv *v = llm__jdict_find(c, obj.d, llm__jstrz(name));
        if (v) return *v;
    }
    return llm__jundef(name, strlen(name));
}

/* Python index -> position in [0, n), or false when out of range. */
LLM_PRIVATE bool llm__jindex(int64_t i, size_t n, size_t *out) {
    if (i < 0) i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n) return false;
    *out = (size_t)i;
    return true;
}

/* obj[key] */
LLM_PRIVATE llm__jv llm__jgetitem(llm__jctx *c, llm__jv obj, llm__jv key) {
    if (obj.t == LLM__JV_UNDEF) llm__jundef_use(c, obj);
    size_t at;
    if (obj.t == LLM__JV_DICT || obj.t == LLM__JV_NS) {
        llm__jv *v = llm__jdict_find(c, obj.d, key);
        if (v) return *v;
    } else if ((obj.t == LLM__JV_LIST || obj.t == LLM__JV_STR) && (key.t == LLM__JV_INT || key.t == LLM__JV_BOOL)) {
        int64_t i = key.t == LLM__JV_INT ? key.i : key.b;
        if (obj.t == LLM__JV_LIST) return llm__jindex(i, obj.l->n, &at) ? obj.l->v[at] : llm__jundef("[index]", 7);
        size_t n, *off = llm__jutf8_offsets(c, obj, &n);
        return llm__jindex(i, n, &at) ? llm__jstr(obj.s.p + off[at], off[at + 1] - off[at]) : llm__jundef("[index]", 7);
    }
    if (key.t == LLM__JV_STR && obj.t != LLM__JV_DICT && obj.t != LLM__JV_NS)
        return llm__jgetattr(c, obj, llm__jstr_copy(c, key.s.p, key.s.n).s.p);
    if (key.t == LLM__JV_STR && obj.t == LLM__JV_DICT && llm__jname_in(llm__jstr_copy(c, key.s.p, key.s.n).s.p, llm__jdict_methods))
        return llm__jbind(c, obj, llm__jstr_copy(c, key.s.p, key.s.n).s.p);
    return llm__jundef("[key]", 5);
}

/* "a.b.0" attribute paths of map/selectattr/sort/join (integer parts index). */
LLM_PRIVATE llm__jv llm__jattr_path(llm__jctx *c, llm__jv v, llm__jv path) {
    if (path.t == LLM__JV_INT) return llm__jgetitem(c, v, path);
    llm__jneed_str(c, path, "attribute");
    for (size_t i = 0; i <= path.s.n;) {
        const char *dot = memchr(path.s.p + i, '.', path.s.n - i);
        size_t e = dot ? (size_t)(dot - path.s.p) : path.s.n;
        llm__jv part = llm__jstr_copy(c, path.s.p + i, e - i);
        bool num = part.s.n > 0;
        for (size_t k = 0; k < part.s.n; k++) num &= llm__jdigit(part.s.p[k]);
        v = num ? llm__jgetitem(c, v, llm__jint(atoll(part.s.p))) : llm__jgetitem(c, v, part);
        if (v.t == LLM__JV_UNDEF) return v;
        i = e + 1;
    }
    return v;
}

/* `item in container` */
LLM_PRIVATE bool llm__jcontains(llm__jctx *c, llm__jv container, llm__jv item) {
    switch (container.t) {
    case LLM__JV_STR:
        if (item.t != LLM__JV_STR) llm__jfail(c, "'in <string>' requires string as left operand, not %s", llm__jtype_name(item));
        return llm__jmemmem(container.s.p, container.s.n, item.s.p, item.s.n) != NULL;
    case LLM__JV_LIST:
        for (size_t i = 0; i < container.l->n; i++) if (llm__jeq(c, container.l->v[i], item)) return true;
        return false;
    case LLM__JV_DICT: case LLM__JV_NS: return llm__jdict_find(c, container.d, item) != NULL;
    case LLM__JV_UNDEF: return false;
    default: llm__jfail(c, "argument of type '%s' is not iterable", llm__jtype_name(container));
    }
}

/* ---- tests: `x is name(args)` ---- */

LLM_PRIVATE llm__jv llm__jt_type(llm__jctx *c, llm__jv v, const llm__jargs *a, const char *name) {
    static const char *const cmp_names[][2] = { { "eq", "==" }, { "equalto", "==" }, { "==", "==" }, { "ne", "!=" }, { "!=", "!=" },
        { "lt", "<" }, { "<", "<" }, { "lessthan", "<" }, { "le", "<=" }, { "<=", "<=" }, { "gt", ">" }, { ">", ">" },
        { "greaterthan", ">" }, { "ge", ">=" }, { ">=", ">=" } };
    llm__jv x = llm__jarg(a, 0, "other", llm__jundef("other", 5));
    for (size_t k = 0; k < sizeof cmp_names / sizeof cmp_names[0]; k++) {
        if (strcmp(name, cmp_names[k][0])) continue;
        const char *op = cmp_names[k][1];
        if (op[0] == '=') return llm__jbool(llm__jeq(c, v, x));
        if (op[0] == '!') return llm__jbool(!llm__jeq(c, v, x));
        int r = llm__jcmp(c, v, x);
        return llm__jbool(op[0] == '<' ? (op[1] ? r <= 0 : r < 0) : (op[1] ? r >= 0 : r > 0));
    }
    if (!strcmp(name, "odd") || !strcmp(name, "even") || !strcmp(name, "divisibleby")) {
        if (v.t != LLM__JV_INT && v.t != LLM__JV_BOOL) llm__jfail(c, "test '%s' needs an integer, got %s", name, llm__jtype_name(v));
        int64_t i = v.t == LLM__JV_INT ? v.i : v.b, d = name[0] == 'd' ? llm__jarg_int(c, a, 0, "num", 1) : 2;
        if (d == 0) llm__jfail(c, "integer division or modulo by zero");
        int64_t r = ((i % d) + d) % d;
        return llm__jbool(name[0] == 'o' ? r == 1 : r == 0);
    }
    if (!strcmp(name, "in")) return llm__jbool(llm__jcontains(c, llm__jarg(a, 0, "seq", llm__jundef("seq", 3)), v));
    if (!strcmp(name, "sameas")) return llm__jbool(v.t == x.t && llm__jeq(c, v, x));
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        llm__jargs none = { 0 };
        return v.t == LLM__JV_STR ? llm__jstr_method(c, v, name[0] == 'l' ? "islower" : "isupper", &none) : llm__jbool(false);
    }
    llm__jfail(c, "no test named '%s'", name);
}

/* The answer of test `name` for v. */
LLM_PRIVATE bool llm__jtest(llm__jctx *c, const char *name, llm__jv v, const llm__jargs *a) {
    uint8_t t = v.t;
    if (!strcmp(name, "defined")) return t != LLM__JV_UNDEF;
    if (!strcmp(name, "undefined")) return t == LLM__JV_UNDEF;
    if (!strcmp(name, "none")) return t == LLM__JV_NONE;
    if (!strcmp(name, "string")) return t == LLM__JV_STR;
    if (!strcmp(name, "mapping")) return t == LLM__JV_DICT;
    if (!strcmp(name, "iterable")) return t == LLM__JV_STR || t == LLM__JV_LIST || t == LLM__JV_DICT || t == LLM__JV_UNDEF;
    if (!strcmp(name, "sequence")) return t == LLM__JV_STR || t == LLM__JV_LIST || t == LLM__JV_DICT;
    if (!strcmp(name, "number")) return t == LLM__JV_INT || t == LLM__JV_FLOAT || t == LLM__JV_BOOL;
    if (!strcmp(name, "integer")) return t == LLM__JV_INT;
    if (!strcmp(name, "float")) return t == LLM__JV_FLOAT;
    if (!strcmp(name, "boolean")) return t == LLM__JV_BOOL;
    if (!strcmp(name, "true")) return t == LLM__JV_BOOL && v.b;
    if (!strcmp(name, "false")) return t == LLM__JV_BOOL && !v.b;
    if (!strcmp(name, "callable")) return t == LLM__JV_FUNC || t == LLM__JV_METHOD || t == LLM__JV_MACRO;
    if (!strcmp(name, "escaped")) return false;
    return llm__jt_type(c, v, a, name).b;
}

/* ---- sorting (stable, as Python's sorted) ---- */

typedef struct { llm__jv key, val; } llm__jsort_item;

LLM_PRIVATE void llm__jmerge_sort(llm__jctx *c, llm__jsort_item *x, llm__jsort_item *tmp, size_t n, bool reverse) {
    if (n < 2) return;
    size_t h = n / 2, i = 0, j = h, k = 0;
    llm__jmerge_sort(c, x, tmp, h, reverse);
    llm__jmerge_sort(c, x + h, tmp, n - h, reverse);
    while (i < h && j < n) {
        int r = llm__jcmp(c, x[j].key, x[i].key);
        tmp[k++] = (reverse ? r > 0 : r < 0) ? x[j++] : x[i++];
    }
    while (i < h) tmp[k++] = x[i++];
    while (j < n) tmp[k++] = x[j++];
    memcpy(x, tmp, n * sizeof *x);
}

/* Sort key: optional attribute path, lower-cased strings unless case_sensitive. */
LLM_PRIVATE llm__jv llm__jsort_key(llm__jctx *c, llm__jv v, llm__jv attribute, bool case_sensitive) {
    if (attribute.t != LLM__JV_NONE) v = llm__jattr_path(c, v, attribute);
    return !case_sensitive && v.t == LLM__JV_STR ? llm__jcase(c, v, 'l') : v;
}

LLM_PRIVATE llm__jsort_item *llm__jsorted(llm__jctx *c, llm__jlist items, llm__jv attribute, bool case_sensitive, bool reverse) {
    llm__jsort_item *x = (llm__jsort_item *)llm__jalloc(c, (items.n + 1) * sizeof *x), *tmp = (llm__jsort_item *)llm__jalloc(c, (items.n + 1) * sizeof *x);
    for (size_t i = 0; i < items.n; i++) { x[i].val = items.v[i]; x[i].key = llm__jsort_key(c, items.v[i], attribute, case_sensitive); }
    llm__jmerge_sort(c, x, tmp, items.n, reverse);
    return x;
}

/* ---- filters: `x | name(args)` ---- */

#define LLM__JNONE llm__jnone()

LLM_PRIVATE llm__jv llm__jfilter(llm__jctx *c, const char *name, llm__jv v, const llm__jargs *a);

LLM_PRIVATE llm__jv llm__jf_trim(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    return llm__jstrip(c, llm__jto_str(c, v), llm__jarg(a, 0, "chars", LLM__JNONE), true, true);
}

/* transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) */
LLM_PRIVATE llm__jv llm__jf_tojson(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv indent = llm__jarg(a, 1, "indent", LLM__JNONE);
    if (indent.t != LLM__JV_NONE && (indent.t != LLM__JV_INT || indent.i < 0 || indent.i > 64)) llm__jfail(c, "tojson: indent must be a small integer");
    if (llm__jtruthy(llm__jarg(a, 3, "sort_keys", LLM__JNONE)) || llm__jarg(a, 2, "separators", LLM__JNONE).t != LLM__JV_NONE)
        llm__jfail(c, "tojson: sort_keys and separators are not supported");
    llm__jbuf b = { 0 };
    llm__jput_json(c, &b, v, indent.t == LLM__JV_INT ? (int)indent.i : -1, llm__jtruthy(llm__jarg(a, 0, "ensure_ascii", LLM__JNONE)), 0);
    return llm__jbuf_val(&b);
}

LLM_PRIVATE llm__jv llm__jf_length(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    size_t n;
    switch (v.t) {
    case LLM__JV_STR: llm__jutf8_offsets(c, v, &n); return llm__jint((int64_t)n);
    case LLM__JV_LIST: return llm__jint((int64_t)v.l->n);
    case LLM__JV_DICT: return llm__jint((int64_t)v.d->n);
    case LLM__JV_UNDEF: return llm__jint(0);
    default: llm__jfail(c, "object of type '%s' has no len()", llm__jtype_name(v));
    }
}

LLM_PRIVATE llm__jv llm__jf_items(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    if (v.t == LLM__JV_UNDEF) return llm__jlist_new(c);
    if (v.t != LLM__JV_DICT) llm__jfail(c, "items filter needs a mapping, got %s", llm__jtype_name(v));
    return llm__jdict_method(c, v, "items", a);
}

LLM_PRIVATE llm__jv llm__jf_case(llm__jctx *c, llm__jv v, char mode) { return llm__jcase(c, llm__jto_str(c, v), mode); }
LLM_PRIVATE llm__jv llm__jf_string(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jto_str(c, v); }
LLM_PRIVATE llm__jv llm__jf_lower(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jf_case(c, v, 'l'); }
LLM_PRIVATE llm__jv llm__jf_upper(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jf_case(c, v, 'u'); }
LLM_PRIVATE llm__jv llm__jf_capitalize(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jf_case(c, v, 'c'); }
LLM_PRIVATE llm__jv llm__jf_title(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jf_case(c, v, 'T'); }
LLM_PRIVATE llm__jv llm__jf_safe(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)c; (void)a; return v; }
LLM_PRIVATE llm__jv llm__jf_list(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jlist_of(c, llm__jiter(c, v)); }

LLM_PRIVATE llm__jv llm__jf_replace(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    return llm__jreplace(c, llm__jto_str(c, v), llm__jarg(a, 0, "old", LLM__JNONE), llm__jarg(a, 1, "new", LLM__JNONE), llm__jarg_int(c, a, 2, "count", -1));
}

LLM_PRIVATE llm__jv llm__jf_join(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv sep = llm__jarg_str(c, a, 0, "d", ""), attr = llm__jarg(a, 1, "attribute", LLM__JNONE);
    llm__jlist items = llm__jiter(c, v);
    llm__jbuf b = { 0 };
    for (size_t i = 0; i < items.n; i++) {
        if (i) llm__jbuf_put(c, &b, sep.s.p, sep.s.n);
        llm__jput_str(c, &b, attr.t == LLM__JV_NONE ? items.v[i] : llm__jattr_path(c, items.v[i], attr));
    }
    return llm__jbuf_val(&b);
}

LLM_PRIVATE llm__jv llm__jf_default(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)c;
    bool boolean = llm__jtruthy(llm__jarg(a, 1, "boolean", LLM__JNONE));
    if (v.t == LLM__JV_UNDEF || (boolean && !llm__jtruthy(v))) return llm__jarg(a, 0, "default_value", llm__jstr("", 0));
    return v;
}

LLM_PRIVATE llm__jv llm__jf_first(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    llm__jlist items = llm__jiter(c, v);
    return items.n ? items.v[0] : llm__jundef("first", 5);
}

LLM_PRIVATE llm__jv llm__jf_last(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    llm__jlist items = llm__jiter(c, v);
    return items.n ? items.v[items.n - 1] : llm__jundef("last", 4);
}

/* Jinja's int filter: int(x), else int(float(x)), else the default. */
LLM_PRIVATE llm__jv llm__jf_int(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv dflt = llm__jarg(a, 0, "default", llm__jint(0));
    if (v.t == LLM__JV_INT) return v;
    if (v.t == LLM__JV_BOOL) return llm__jint(v.b);
    if (v.t == LLM__JV_FLOAT) return isfinite(v.f) && fabs(v.f) < 9.2e18 ? llm__jint((int64_t)v.f) : dflt;
    if (v.t != LLM__JV_STR) return dflt;
    llm__jv s = llm__jstrip(c, v, LLM__JNONE, true, true);
    s = llm__jstr_copy(c, s.s.p, s.s.n);
    char *end;
    errno = 0;
    long long i = strtoll(s.s.p, &end, (int)llm__jarg_int(c, a, 1, "base", 10));
    if (s.s.n && !*end && !errno) return llm__jint(i);
    double f = strtod(s.s.p, &end);
    return s.s.n && !*end && isfinite(f) && fabs(f) < 9.2e18 ? llm__jint((int64_t)f) : dflt;
}

LLM_PRIVATE llm__jv llm__jf_float(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv dflt = llm__jarg(a, 0, "default", llm__jfloat(0));
    if (llm__jis_num(v)) return llm__jfloat(llm__jnum(v));
    if (v.t != LLM__JV_STR) return dflt;
    llm__jv s = llm__jstrip(c, v, LLM__JNONE, true, true);
    s = llm__jstr_copy(c, s.s.p, s.s.n);
    char *end;
    double f = strtod(s.s.p, &end);
    return s.s.n && !*end ? llm__jfloat(f) : dflt;
}

LLM_PRIVATE llm__jv llm__jf_abs(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    if (v.t == LLM__JV_INT) { if (v.i == INT64_MIN) llm__jfail(c, "integer overflow"); return llm__jint(v.i < 0 ? -v.i : v.i); }
    if (v.t == LLM__JV_BOOL) return llm__jint(v.b);
    if (v.t == LLM__JV_FLOAT) return llm__jfloat(fabs(v.f));
    llm__jfail(c, "bad operand type for abs(): '%s'", llm__jtype_name(v));
}

/* round(value, precision=0, method='common'): Python's round (half to even, on the exact
   binary value, which is what printf's rounding does too), floor or ceil. */
LLM_PRIVATE llm__jv llm__jf_round(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    int64_t prec = llm__jarg_int(c, a, 0, "precision", 0);
    llm__jv method = llm__jarg_str(c, a, 1, "method", "common");
    if (!llm__jis_num(v)) llm__jfail(c, "round needs a number, got %s", llm__jtype_name(v));
    if (prec < 0 || prec > 15) llm__jfail(c, "round: precision %lld is not supported", (long long)prec);
    double x = llm__jnum(v), scale = pow(10, (double)prec);
    if (llm__jstr_eq(method, "floor")) return llm__jfloat(floor(x * scale) / scale);
    if (llm__jstr_eq(method, "ceil")) return llm__jfloat(ceil(x * scale) / scale);
    if (!llm__jstr_eq(method, "common")) llm__jfail(c, "round: method must be common, ceil or floor");
    if (v.t != LLM__JV_FLOAT) return llm__jint(v.t == LLM__JV_INT ? v.i : v.b);   /* round(int) stays int */
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%.*f", (int)prec, x);
    return llm__jfloat(strtod(tmp, NULL));
}

LLM_PRIVATE llm__jv llm__jf_unique(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    bool cs = llm__jtruthy(llm__jarg(a, 0, "case_sensitive", LLM__JNONE));
    llm__jv attr = llm__jarg(a, 1, "attribute", LLM__JNONE), out = llm__jlist_new(c), seen = llm__jlist_new(c);
    llm__jlist items = llm__jiter(c, v);
    for (size_t i = 0; i < items.n; i++) {
        llm__jv key = llm__jsort_key(c, items.v[i], attr, cs);
        if (llm__jcontains(c, seen, key)) continue;
        llm__jlist_push(c, seen.l, key);
        llm__jlist_push(c, out.l, items.v[i]);
    }
    return out;
}

/* Arguments after the first `skip` positional ones (the rest go to a test or filter). */
LLM_PRIVATE llm__jargs llm__jargs_tail(const llm__jargs *a, int skip) {
    llm__jargs t = *a;
    t.pos = a->pos + LLM__MIN(skip, a->n_pos);
    t.n_pos = LLM__MAX(0, a->n_pos - skip);
    return t;
}

/* map(attribute='x', default=...) or map('filter', args...) */
LLM_PRIVATE llm__jv llm__jf_map(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv attr = llm__jarg(a, -1, "attribute", LLM__JNONE), dflt = llm__jarg(a, -1, "default", llm__jundef("default", 7));
    llm__jv out = llm__jlist_new(c), fname = llm__jarg(a, 0, "", LLM__JNONE);
    llm__jlist items = llm__jiter(c, v);
    llm__jargs rest = llm__jargs_tail(a, 1);
    if (attr.t == LLM__JV_NONE) {
        llm__jneed_str(c, fname, "map");
        fname = llm__jstr_copy(c, fname.s.p, fname.s.n);
        rest.n_kw = 0;
    }
    for (size_t i = 0; i < items.n; i++) {
        llm__jv x;
        if (attr.t != LLM__JV_NONE) { x = llm__jattr_path(c, items.v[i], attr); if (x.t == LLM__JV_UNDEF) x = dflt; }
        else x = llm__jfilter(c, fname.s.p, items.v[i], &rest);
        llm__jlist_push(c, out.l, x);
    }
    return out;
}

/* select/reject(test, args...) and selectattr/rejectattr(attr, test, args...). */
LLM_PRIVATE llm__jv llm__jselect(llm__jctx *c, llm__jv v, const llm__jargs *a, bool keep, bool by_attr) {
    llm__jv attr = by_attr ? llm__jarg(a, 0, "attr", LLM__JNONE) : LLM__JNONE, test = llm__jarg(a, by_attr, "", LLM__JNONE);
    llm__jargs rest = llm__jargs_tail(a, by_attr + 1);
    if (test.t != LLM__JV_NONE) { llm__jneed_str(c, test, "select"); test = llm__jstr_copy(c, test.s.p, test.s.n); }
    llm__jv out = llm__jlist_new(c);
    llm__jlist items = llm__jiter(c, v);
    for (size_t i = 0; i < items.n; i++) {
        llm__jv x = by_attr ? llm__jattr_path(c, items.v[i], attr) : items.v[i];
        bool ok = test.t == LLM__JV_NONE ? llm__jtruthy(x) : llm__jtest(c, test.s.p, x, &rest);
        if (ok == keep) llm__jlist_push(c, out.l, items.v[i]);
    }
    return out;
}

LLM_PRIVATE llm__jv llm__jf_select(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jselect(c, v, a, true, false); }
LLM_PRIVATE llm__jv llm__jf_reject(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jselect(c, v, a, false, false); }
LLM_PRIVATE llm__jv llm__jf_selectattr(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jselect(c, v, a, true, true); }
LLM_PRIVATE llm__jv llm__jf_rejectattr(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jselect(c, v, a, false, true); }

LLM_PRIVATE llm__jv llm__jf_dictsort(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    if (v.t != LLM__JV_DICT) llm__jfail(c, "dictsort needs a mapping, got %s", llm__jtype_name(v));
    bool cs = llm__jtruthy(llm__jarg(a, 0, "case_sensitive", LLM__JNONE));
    llm__jv by = llm__jarg_str(c, a, 1, "by", "key");
    llm__jv pairs = llm__jdict_method(c, v, "items", a);
    llm__jsort_item *x = llm__jsorted(c, *pairs.l, llm__jint(llm__jstr_eq(by, "value")), cs, llm__jtruthy(llm__jarg(a, 2, "reverse", LLM__JNONE)));
    for (size_t i = 0; i < pairs.l->n; i++) pairs.l->v[i] = x[i].val;
    return pairs;
}

LLM_PRIVATE llm__jv llm__jf_sort(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jlist items = llm__jiter(c, v);
    llm__jsort_item *x = llm__jsorted(c, items, llm__jarg(a, 2, "attribute", LLM__JNONE), llm__jtruthy(llm__jarg(a, 1, "case_sensitive", LLM__JNONE)),
                                      llm__jtruthy(llm__jarg(a, 0, "reverse", LLM__JNONE)));
    llm__jv out = llm__jlist_new(c);
    for (size_t i = 0; i < items.n; i++) llm__jlist_push(c, out.l, x[i].val);
    return out;
}

LLM_PRIVATE llm__jv llm__jf_minmax(llm__jctx *c, llm__jv v, const llm__jargs *a, bool max) {
    llm__jlist items = llm__jiter(c, v);
    if (!items.n) return llm__jundef(max ? "max" : "min", 3);
    llm__jsort_item *x = llm__jsorted(c, items, llm__jarg(a, 1, "attribute", LLM__JNONE), llm__jtruthy(llm__jarg(a, 0, "case_sensitive", LLM__JNONE)), false);
    return max ? x[items.n - 1].val : x[0].val;
}
LLM_PRIVATE llm__jv llm__jf_min(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jf_minmax(c, v, a, false); }
LLM_PRIVATE llm__jv llm__jf_max(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jf_minmax(c, v, a, true); }

LLM_PRIVATE llm__jv llm__jf_reverse(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    llm__jlist items = llm__jiter(c, v);
    if (v.t == LLM__JV_STR) {
        llm__jbuf b = { 0 };
        for (size_t i = items.n; i-- > 0;) llm__jbuf_put(c, &b, items.v[i].s.p, items.v[i].s.n);
        return llm__jbuf_val(&b);
    }
    llm__jv out = llm__jlist_new(c);
    for (size_t i = items.n; i-- > 0;) llm__jlist_push(c, out.l, items.v[i]);
    return out;
}

LLM_PRIVATE llm__jv llm__jadd(llm__jctx *c, llm__jv x, llm__jv y);

LLM_PRIVATE llm__jv llm__jf_sum(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv attr = llm__jarg(a, 0, "attribute", LLM__JNONE), total = llm__jarg(a, 1, "start", llm__jint(0));
    llm__jlist items = llm__jiter(c, v);
    for (size_t i = 0; i < items.n; i++) total = llm__jadd(c, total, attr.t == LLM__JV_NONE ? items.v[i] : llm__jattr_path(c, items.v[i], attr));
    return total;
}

/* indent(width=4, first=False, blank=False), Jinja 3.1 */
LLM_PRIVATE llm__jv llm__jf_indent(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv w = llm__jarg(a, 0, "width", llm__jint(4));
    bool first = llm__jtruthy(llm__jarg(a, 1, "first", LLM__JNONE)), blank = llm__jtruthy(llm__jarg(a, 2, "blank", LLM__JNONE));
    llm__jbuf ind = { 0 }, b = { 0 };
    if (w.t == LLM__JV_STR) llm__jbuf_put(c, &ind, w.s.p, w.s.n);
    else for (int64_t k = 0, n = llm__jarg_int(c, a, 0, "width", 4); k < n && k < 256; k++) llm__jbuf_puts(c, &ind, " ");
    llm__jv s = llm__jto_str(c, v);
    if (first) llm__jbuf_put(c, &b, ind.p, ind.n);
    for (size_t i = 0, line = 0; i < s.s.n; line++) {      /* lines as str.splitlines() of s + "\n" */
        size_t e = i;
        while (e < s.s.n && !strchr("\n\r\v\f\x1c\x1d\x1e", s.s.p[e])) e++;
        bool empty = e == i;
        if (line) { llm__jbuf_puts(c, &b, "\n"); if (blank || !empty) llm__jbuf_put(c, &b, ind.p, ind.n); }
        llm__jbuf_put(c, &b, s.s.p + i, e - i);
        i = e + (e < s.s.n && s.s.p[e] == '\r' && e + 1 < s.s.n && s.s.p[e + 1] == '\n' ? 2 : 1);
    }
    return llm__jbuf_val(&b);
}

LLM_PRIVATE llm__jv llm__jf_escape(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    llm__jv s = llm__jto_str(c, v);
    llm__jbuf b = { 0 };
    for (size_t i = 0; i < s.s.n; i++) {
        const char *e = s.s.p[i] == '&' ? "&amp;" : s.s.p[i] == '<' ? "&lt;" : s.s.p[i] == '>' ? "&gt;" :
                        s.s.p[i] == '"' ? "&#34;" : s.s.p[i] == '\'' ? "&#39;" : NULL;
        if (e) llm__jbuf_puts(c, &b, e); else llm__jbuf_put(c, &b, s.s.p + i, 1);
    }
    return llm__jbuf_val(&b);
}

LLM_PRIVATE llm__jv llm__jf_attr(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv name = llm__jarg(a, 0, "name", LLM__JNONE);
    llm__jneed_str(c, name, "attr");
    return llm__jgetattr(c, v, llm__jstr_copy(c, name.s.p, name.s.n).s.p);
}

static const llm__jbuiltin llm__jfilters[] = {
    { "abs", llm__jf_abs }, { "attr", llm__jf_attr }, { "capitalize", llm__jf_capitalize }, { "count", llm__jf_length },
    { "d", llm__jf_default }, { "default", llm__jf_default }, { "dictsort", llm__jf_dictsort }, { "e", llm__jf_escape },
    { "escape", llm__jf_escape }, { "first", llm__jf_first }, { "float", llm__jf_float }, { "indent", llm__jf_indent },
    { "int", llm__jf_int }, { "items", llm__jf_items }, { "join", llm__jf_join }, { "last", llm__jf_last },
    { "length", llm__jf_length }, { "list", llm__jf_list }, { "lower", llm__jf_lower }, { "map", llm__jf_map },
    { "max", llm__jf_max }, { "min", llm__jf_min }, { "reject", llm__jf_reject }, { "rejectattr", llm__jf_rejectattr },
    { "replace", llm__jf_replace }, { "reverse", llm__jf_reverse }, { "round", llm__jf_round }, { "safe", llm__jf_safe },
    { "select", llm__jf_select }, { "selectattr", llm__jf_selectattr }, { "sort", llm__jf_sort }, { "string", llm__jf_string },
    { "sum", llm__jf_sum }, { "title", llm__jf_title }, { "tojson", llm__jf_tojson }, { "trim", llm__jf_trim },
    { "unique", llm__jf_unique }, { "upper", llm__jf_upper },
};

LLM_PRIVATE llm__jv llm__jfilter(llm__jctx *c, const char *name, llm__jv v, const llm__jargs *a) {
    for (size_t i = 0; i < sizeof llm__jfilters / sizeof llm__jfilters[0]; i++)
        if (!strcmp(llm__jfilters[i].name, name)) return llm__jfilters[i].fn(c, v, a);
    llm__jfail(c, "no filter named '%s'", name);
}

/* ---- global functions ---- */

LLM_PRIVATE llm__jv llm__jg_range(llm__jctx *c, llm__jv self, const llm__jargs *a) {
    (void)self;
    int64_t start = 0, stop, step = 1;
    if (a->n_pos == 1) stop = llm__jarg_int(c, a, 0, "stop", 0);
    else {
        start = llm__jarg_int(c, a, 0, "start", 0);
        stop = llm__jarg_int(c, a, 1, "stop", 0);
        step = llm__jarg_int(c, a, 2, "step", 1);
    }
    if (step == 0) llm__jfail(c, "range() arg 3 must not be zero");
    llm__jv out = llm__jlist_new(c);
    for (int64_t i = start, k = 0; step > 0 ? i < stop : i > stop; i += step, k++) {
        if (k >= LLM__JMAX_RANGE) llm__jfail(c, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", LLM__JMAX_RANGE);
        llm__jlist_push(c, out.l, llm__jint(i));
    }
    return out;
}

/* namespace(dict?, **kw) and dict(dict?, **kw) */
LLM_PRIVATE llm__jv llm__jmake_dict(llm__jctx *c, const llm__jargs *a, llm__jtype t) {
    llm__jv d = llm__jdict_new(c, t);
    if (a->n_pos > 1) llm__jfail(c, "expected at most 1 positional argument, got %d", a->n_pos);
    if (a->n_pos == 1) {
        if (a->pos[0].t != LLM__JV_DICT) llm__jfail(c, "cannot convert %s to a dict", llm__jtype_name(a->pos[0]));
        for (size_t i = 0; i < a->pos[0].d->n; i++) llm__jdict_set(c, d.d, a->pos[0].d->k[i], a->pos[0].d->v[i]);
    }
    for (int k = 0; k < a->n_kw; k++) llm__jdict_set(c, d.d, llm__jstrz(a->kw_names[k]), a->kw[k]);
    return d;
}
LLM_PRIVATE llm__jv llm__jg_namespace(llm__jctx *c, llm__jv self, const llm__jargs *a) { (void)self; return llm__jmake_dict(c, a, LLM__JV_NS); }
LLM_PRIVATE llm__jv llm__jg_dict(llm__jctx *c, llm__jv self, const llm__jargs *a) { (void)self; return llm__jmake_dict(c, a, LLM__JV_DICT); }

LLM_PRIVATE llm__jv llm__jg_raise(llm__jctx *c, llm__jv self, const llm__jargs *a) {
    (void)self;
    llm__jv msg = llm__jto_str(c, llm__jarg(a, 0, "message", llm__jstr("", 0)));
    llm__jfail(c, "raise_exception: %.*s", (int)LLM__MIN(msg.s.n, 600), msg.s.p);
}

/* datetime.now().strftime(format) */
LLM_PRIVATE llm__jv llm__jg_strftime_now(llm__jctx *c, llm__jv self, const llm__jargs *a) {
    (void)self;
    llm__jv fmt = llm__jarg(a, 0, "format", LLM__JNONE);
    llm__jneed_str(c, fmt, "strftime_now");
    fmt = llm__jstr_copy(c, fmt.s.p, fmt.s.n);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char out[512];
    size_t n = strftime(out, sizeof out, fmt.s.p, &tm);
    return llm__jstr_copy(c, out, n);
}

static const llm__jbuiltin llm__jglobals[] = {
    { "range", llm__jg_range }, { "namespace", llm__jg_namespace }, { "dict", llm__jg_dict },
    { "raise_exception", llm__jg_raise }, { "strftime_now", llm__jg_strftime_now },
};
/* ==== end llm_impl/46_jinja_builtins.c ==== */
/* ==== begin llm_impl/46_jinja_eval.c ==== */
/* ---- >>jinja_eval: the evaluator ----
   Walks the AST of 45_jinja_parse.c. Scoping as in Jinja: `set` at the top level sets a
   template variable; inside a for loop it lives for one iteration (hence namespace()
   for values carried across iterations); inside a macro it is local to the call; `if`
   opens no scope. Expressions follow Python: `a or b` yields a or b, `/` is true
   division, `//` and `%` round toward negative infinity, + on str and list concatenates. */
/* #include "10_internal.h" (already above) */

enum { LLM__JFLOW_NEXT, LLM__JFLOW_BREAK, LLM__JFLOW_CONTINUE };

LLM_PRIVATE llm__jv llm__jeval(llm__jctx *c, const llm__jnode *n);
LLM_PRIVATE int llm__jexec(llm__jctx *c, const llm__jnode *n);

LLM_PRIVATE llm__jv llm__jlookup(llm__jctx *c, const char *name) {
    llm__jv key = llm__jstrz(name);
    for (llm__jframe *f = c->frame; f; f = f->parent) {
        llm__jv *v = llm__jdict_find(c, &f->vars, key);
        if (v) return *v;
    }
    for (size_t i = 0; i < sizeof llm__jglobals / sizeof llm__jglobals[0]; i++)
        if (!strcmp(llm__jglobals[i].name, name)) { llm__jv v = { .t = LLM__JV_FUNC }; v.fn = &llm__jglobals[i]; return v; }
    return llm__jundef(name, strlen(name));
}

LLM_PRIVATE void llm__jstep(llm__jctx *c) {
    if (++c->steps > LLM_JINJA_MAX_STEPS) llm__jfail(c, "template runs more than %d loop iterations and calls", LLM_JINJA_MAX_STEPS);
}

/* ---- operators ---- */

LLM_PRIVATE void llm__jcheck_defined(llm__jctx *c, llm__jv v) { if (v.t == LLM__JV_UNDEF) llm__jundef_use(c, v); }

LLM_PRIVATE void llm__jbad_operands(llm__jctx *c, const char *op, llm__jv x, llm__jv y) {
    llm__jcheck_defined(c, x);
    llm__jcheck_defined(c, y);
    llm__jfail(c, "unsupported operand type(s) for %s: '%s' and '%s'", op, llm__jtype_name(x), llm__jtype_name(y));
}

LLM_PRIVATE bool llm__jis_intlike(llm__jv v) { return v.t == LLM__JV_INT || v.t == LLM__JV_BOOL; }
LLM_PRIVATE int64_t llm__jto_int(llm__jv v) { return v.t == LLM__JV_INT ? v.i : v.b; }

/* seq * n for strings and lists */
LLM_PRIVATE llm__jv llm__jrepeat(llm__jctx *c, llm__jv seq, int64_t n) {
    if (seq.t == LLM__JV_STR) {
        llm__jbuf b = { 0 };
        for (int64_t k = 0; k < n; k++) llm__jbuf_put(c, &b, seq.s.p, seq.s.n);
        return b.p ? llm__jbuf_val(&b) : llm__jstr("", 0);
    }
    llm__jv out = llm__jlist_new(c);
    for (int64_t k = 0; k < n; k++) { llm__jstep(c); for (size_t i = 0; i < seq.l->n; i++) llm__jlist_push(c, out.l, seq.l->v[i]); }
    return out;
}

LLM_PRIVATE llm__jv llm__jadd(llm__jctx *c, llm__jv x, llm__jv y) {
    if (llm__jis_intlike(x) && llm__jis_intlike(y)) {
        int64_t r;
        if (__builtin_add_overflow(llm__jto_int(x), llm__jto_int(y), &r)) llm__jfail(c, "integer overflow");
        return llm__jint(r);
    }
    if (llm__jis_num(x) && llm__jis_num(y)) return llm__jfloat(llm__jnum(x) + llm__jnum(y));
    if (x.t == LLM__JV_STR && y.t == LLM__JV_STR) {
        llm__jbuf b = { 0 };
        llm__jbuf_put(c, &b, x.s.p, x.s.n);
        llm__jbuf_put(c, &b, y.s.p, y.s.n);
        return llm__jbuf_val(&b);
    }
    if (x.t == LLM__JV_LIST && y.t == LLM__JV_LIST) {
        llm__jv out = llm__jlist_of(c, *x.l);
        for (size_t i = 0; i < y.l->n; i++) llm__jlist_push(c, out.l, y.l->v[i]);
        out.tuple = x.tuple;
        return out;
    }
    if (x.t == LLM__JV_STR && y.t != LLM__JV_UNDEF) llm__jfail(c, "can only concatenate str (not \"%s\") to str", llm__jtype_name(y));
    llm__jbad_operands(c, "+", x, y);
    return x;
}

/* - * / // % ** */
LLM_PRIVATE llm__jv llm__jarith(llm__jctx *c, char op, bool twice, llm__jv x, llm__jv y) {
    const char *name = op == '-' ? "-" : op == '%' ? "%" : op == '*' ? (twice ? "**" : "*") : (twice ? "//" : "/");
    if (op == '*' && !twice && (x.t == LLM__JV_STR || x.t == LLM__JV_LIST) && llm__jis_intlike(y)) return llm__jrepeat(c, x, llm__jto_int(y));
    if (op == '*' && !twice && (y.t == LLM__JV_STR || y.t == LLM__JV_LIST) && llm__jis_intlike(x)) return llm__jrepeat(c, y, llm__jto_int(x));
    if (!llm__jis_num(x) || !llm__jis_num(y)) llm__jbad_operands(c, name, x, y);
    if (llm__jis_intlike(x) && llm__jis_intlike(y) && !(op == '/' && !twice)) {
        int64_t a = llm__jto_int(x), b = llm__jto_int(y), r = 0;
        bool ovf = false;
        if (op == '-') ovf = __builtin_sub_overflow(a, b, &r);
        else if (op == '*' && !twice) ovf = __builtin_mul_overflow(a, b, &r);
        else if (op == '*') {                            /* ** */
            if (b < 0) return llm__jfloat(pow((double)a, (double)b));
            r = 1;
            for (int64_t k = 0; k < b && !ovf; k++) ovf = __builtin_mul_overflow(r, a, &r);
        } else {
            if (b == 0) llm__jfail(c, "integer division or modulo by zero");
            if (a == INT64_MIN && b == -1) llm__jfail(c, "integer overflow");
            r = op == '/' ? a / b : a % b;              /* Python floors; C truncates: */
            if ((a % b != 0) && ((a < 0) != (b < 0))) r = op == '/' ? r - 1 : r + b;
        }
        if (ovf) llm__jfail(c, "integer overflow");
        return llm__jint(r);
    }
    double a = llm__jnum(x), b = llm__jnum(y);
    switch (op) {
    case '-': return llm__jfloat(a - b);
    case '*': return llm__jfloat(twice ? pow(a, b) : a * b);
    default:
        if (b == 0) llm__jfail(c, "float division by zero");
        if (op == '/' && !twice) return llm__jfloat(a / b);
        double q = floor(a / b), m = fmod(a, b);
        if (m != 0 && ((m < 0) != (b < 0))) m += b;
        return llm__jfloat(op == '%' ? m : q);
    }
}

LLM_PRIVATE llm__jv llm__jbinary(llm__jctx *c, const char *op, llm__jv x, llm__jv y) {
    if (!strcmp(op, "+")) return llm__jadd(c, x, y);
    if (!strcmp(op, "~")) {
        llm__jbuf b = { 0 };
        llm__jput_str(c, &b, x);
        llm__jput_str(c, &b, y);
        return b.p ? llm__jbuf_val(&b) : llm__jstr("", 0);
    }
    if (!strcmp(op, "==")) return llm__jbool(llm__jeq(c, x, y));
    if (!strcmp(op, "!=")) return llm__jbool(!llm__jeq(c, x, y));
    if (!strcmp(op, "in")) return llm__jbool(llm__jcontains(c, y, x));
    if (!strcmp(op, "not in")) return llm__jbool(!llm__jcontains(c, y, x));
    if (op[0] == '<' || op[0] == '>') {
        if (x.t == LLM__JV_UNDEF || y.t == LLM__JV_UNDEF) llm__jbad_operands(c, op, x, y);
        int r = llm__jcmp(c, x, y);
        return llm__jbool(op[0] == '<' ? (op[1] ? r <= 0 : r < 0) : (op[1] ? r >= 0 : r > 0));
    }
    return llm__jarith(c, op[0], op[1] != 0, x, y);
}

/* seq[start:stop:step] with Python's clamping, by code point for strings. */
LLM_PRIVATE llm__jv llm__jslice(llm__jctx *c, llm__jv seq, const llm__jnode *n) {
    llm__jcheck_defined(c, seq);
    int64_t idx[3];
    bool given[3];
    for (int k = 0; k < 3; k++) {
        llm__jv v = n->kids[k] ? llm__jeval(c, n->kids[k]) : llm__jnone();
        given[k] = v.t != LLM__JV_NONE;
        if (given[k] && !llm__jis_intlike(v)) llm__jfail(c, "slice indices must be integers or None");
        idx[k] = given[k] ? llm__jto_int(v) : 0;
    }
    int64_t step = given[2] ? idx[2] : 1;
    if (step == 0) llm__jfail(c, "slice step cannot be zero");
    size_t *off = NULL, count;
    if (seq.t == LLM__JV_STR) off = llm__jutf8_offsets(c, seq, &count);
    else if (seq.t == LLM__JV_LIST) count = seq.l->n;
    else llm__jfail(c, "'%s' object is not subscriptable", llm__jtype_name(seq));
    int64_t len = (int64_t)count, lo = step < 0 ? -1 : 0, hi = step < 0 ? len - 1 : len, b[2];
    for (int k = 0; k < 2; k++) {
        int64_t i = idx[k];
        if (!given[k]) { b[k] = k == 0 ? (step > 0 ? 0 : len - 1) : (step > 0 ? len : -1); continue; }
        if (i < 0) i += len;
        b[k] = i < lo ? lo : i > hi ? hi : i;
    }
    llm__jv out = off ? llm__jstr("", 0) : llm__jlist_new(c);
    llm__jbuf buf = { 0 };
    for (int64_t i = b[0]; step > 0 ? i < b[1] : i > b[1]; i += step) {
        if (off) llm__jbuf_put(c, &buf, seq.s.p + off[i], off[i + 1] - off[i]);
        else llm__jlist_push(c, out.l, seq.l->v[i]);
    }
    if (off && buf.p) out = llm__jbuf_val(&buf);
    if (!off) out.tuple = seq.tuple;
    return out;
}

/* ---- calls ---- */

/* Evaluate call arguments (positional, then name=value) of node n. */
LLM_PRIVATE llm__jargs llm__jeval_args(llm__jctx *c, const llm__jnode *n) {
    llm__jv *pos = (llm__jv *)llm__jalloc(c, (size_t)(n->n_kids + 1) * sizeof(llm__jv));
    llm__jv *kw = (llm__jv *)llm__jalloc(c, (size_t)(n->n_kids + 1) * sizeof(llm__jv));
    const char **names = (const char **)llm__jalloc(c, (size_t)(n->n_kids + 1) * sizeof(char *));
    llm__jargs a = { pos, 0, kw, names, 0 };
    for (int i = 0; i < n->n_kids; i++) {
        const llm__jnode *k = n->kids[i];
        if (k->kind == LLM__J_KWARG) { names[a.n_kw] = k->name; kw[a.n_kw++] = llm__jeval(c, k->a); }
        else pos[a.n_pos++] = llm__jeval(c, k);
    }
    return a;
}

/* Run the body of a macro (or a call block's caller) with arguments bound to its
   parameters; extra arguments land in `varargs` and `kwargs`. Returns its output. */
LLM_PRIVATE llm__jv llm__jcall_macro(llm__jctx *c, const llm__jmacro *m, const llm__jargs *a) {
    llm__jstep(c);
    if (++c->depth > LLM__JMAX_DEPTH) llm__jfail(c, "macro calls nested too deeply");
    llm__jframe *saved_frame = c->frame, *f = (llm__jframe *)llm__jalloc(c, sizeof(llm__jframe));
    memset(f, 0, sizeof *f);
    f->parent = m->frame;
    c->frame = f;
    const llm__jnode *def = m->node;
    llm__jv varargs = llm__jlist_new(c), kwargs = llm__jdict_new(c, LLM__JV_DICT);
    varargs.tuple = true;
    for (int i = 0; i < def->n_kids; i++) {
        const llm__jnode *p = def->kids[i];
        llm__jv v = llm__jarg(a, i, p->name, llm__jundef(p->name, strlen(p->name)));
        if (v.t == LLM__JV_UNDEF && p->a) v = llm__jeval(c, p->a);
        llm__jdict_set(c, &f->vars, llm__jstrz(p->name), v);
    }
    for (int i = def->n_kids; i < a->n_pos; i++) llm__jlist_push(c, varargs.l, a->pos[i]);
    for (int k = 0; k < a->n_kw; k++)
        if (!llm__jdict_find(c, &f->vars, llm__jstrz(a->kw_names[k]))) llm__jdict_set(c, kwargs.d, llm__jstrz(a->kw_names[k]), a->kw[k]);
    llm__jdict_set(c, &f->vars, llm__jstrz("varargs"), varargs);
    llm__jdict_set(c, &f->vars, llm__jstrz("kwargs"), kwargs);
    if (m->caller) { llm__jv cv = { .t = LLM__JV_MACRO }; cv.mac = m->caller; llm__jdict_set(c, &f->vars, llm__jstrz("caller"), cv); }
    llm__jbuf *saved_out = c->out, out = { 0 };
    c->out = &out;
    llm__jexec(c, def->body);
    c->out = saved_out;
    c->frame = saved_frame;
    c->depth--;
    return llm__jbuf_val(&out);
}

LLM_PRIVATE llm__jv llm__jcall(llm__jctx *c, llm__jv fn, const llm__jargs *a, const llm__jmacro *caller) {
    switch (fn.t) {
    case LLM__JV_FUNC: return fn.fn->fn(c, llm__jnone(), a);
    case LLM__JV_METHOD: return llm__jcall_method(c, fn.m->self, fn.m->name, a);
    case LLM__JV_MACRO:
        if (caller) { llm__jmacro *m = (llm__jmacro *)llm__jalloc(c, sizeof *m); *m = *fn.mac; m->caller = caller; return llm__jcall_macro(c, m, a); }
        return llm__jcall_macro(c, fn.mac, a);
    case LLM__JV_UNDEF: llm__jundef_use(c, fn); break;
    default: break;
    }
    llm__jfail(c, "'%s' object is not callable", llm__jtype_name(fn));
}

/* ---- expressions ---- */

LLM_PRIVATE llm__jv llm__jeval_seq(llm__jctx *c, const llm__jnode *n) {
    if (n->kind == LLM__J_DICT) {
        llm__jv d = llm__jdict_new(c, LLM__JV_DICT);
        for (int i = 0; i + 1 < n->n_kids; i += 2) llm__jdict_set(c, d.d, llm__jeval(c, n->kids[i]), llm__jeval(c, n->kids[i + 1]));
        return d;
    }
    llm__jv l = llm__jlist_new(c);
    l.tuple = n->kind == LLM__J_TUPLE;
    for (int i = 0; i < n->n_kids; i++) llm__jlist_push(c, l.l, llm__jeval(c, n->kids[i]));
    return l;
}

/* Apply filter node n to v. */
LLM_PRIVATE llm__jv llm__japply_filter(llm__jctx *c, const llm__jnode *n, llm__jv v) {
    llm__jargs a = llm__jeval_args(c, n);
    c->line = n->line;
    return llm__jfilter(c, n->name, v, &a);
}

LLM_PRIVATE llm__jv llm__jeval(llm__jctx *c, const llm__jnode *n) {
    c->line = n->line;
    llm__jv x;
    switch (n->kind) {
    case LLM__J_LIT: return n->lit;
    case LLM__J_NAME: return llm__jlookup(c, n->name);
    case LLM__J_ATTR: x = llm__jeval(c, n->a); c->line = n->line; return llm__jgetattr(c, x, n->name);
    case LLM__J_ITEM: { x = llm__jeval(c, n->a); llm__jv k = llm__jeval(c, n->b); c->line = n->line; return llm__jgetitem(c, x, k); }
    case LLM__J_SLICE: return llm__jslice(c, llm__jeval(c, n->a), n);
    case LLM__J_CALL: { x = llm__jeval(c, n->a); llm__jargs a = llm__jeval_args(c, n); c->line = n->line; return llm__jcall(c, x, &a, NULL); }
    case LLM__J_FILTER: return llm__japply_filter(c, n, llm__jeval(c, n->a));
    case LLM__J_TEST: {
        x = llm__jeval(c, n->a);
        llm__jargs a = llm__jeval_args(c, n);
        c->line = n->line;
        return llm__jbool(llm__jtest(c, n->name, x, &a) != n->neg);
    }
    case LLM__J_NEG: case LLM__J_POS:
        x = llm__jeval(c, n->a);
        if (!llm__jis_num(x)) { llm__jcheck_defined(c, x); llm__jfail(c, "bad operand type for unary %c: '%s'", n->kind == LLM__J_NEG ? '-' : '+', llm__jtype_name(x)); }
        if (x.t == LLM__JV_BOOL) x = llm__jint(x.b);
        if (n->kind == LLM__J_POS) return x;
        if (x.t == LLM__JV_FLOAT) return llm__jfloat(-x.f);
        if (x.i == INT64_MIN) llm__jfail(c, "integer overflow");
        return llm__jint(-x.i);
    case LLM__J_NOT: return llm__jbool(!llm__jtruthy(llm__jeval(c, n->a)));
    case LLM__J_AND: x = llm__jeval(c, n->a); return llm__jtruthy(x) ? llm__jeval(c, n->b) : x;
    case LLM__J_OR: x = llm__jeval(c, n->a); return llm__jtruthy(x) ? x : llm__jeval(c, n->b);
    case LLM__J_COND:
        if (llm__jtruthy(llm__jeval(c, n->a))) return llm__jeval(c, n->b);
        return n->c ? llm__jeval(c, n->c) : llm__jundef("else", 4);
    case LLM__J_BIN: { x = llm__jeval(c, n->a); llm__jv y = llm__jeval(c, n->b); c->line = n->line; return llm__jbinary(c, n->name, x, y); }
    case LLM__J_LIST: case LLM__J_TUPLE: case LLM__J_DICT: return llm__jeval_seq(c, n);
    default: llm__jfail(c, "internal error: node %d is not an expression", n->kind);
    }
}

/* ---- statements ---- */

LLM_PRIVATE void llm__jassign(llm__jctx *c, const llm__jnode *target, llm__jv v) {
    if (target->kind == LLM__J_NAME) { llm__jdict_set(c, &c->frame->vars, llm__jstrz(target->name), v); return; }
    if (target->kind == LLM__J_ATTR) {                 /* {% set ns.x = ... %} */
        llm__jv obj = llm__jeval(c, target->a);
        if (obj.t != LLM__JV_NS) llm__jfail(c, "cannot assign attribute on non-namespace object");
        llm__jdict_set(c, obj.d, llm__jstrz(target->name), v);
        return;
    }
    if (target->kind != LLM__J_TUPLE && target->kind != LLM__J_LIST) llm__jfail(c, "cannot assign to this expression");
    llm__jlist items = llm__jiter(c, v);
    if (items.n != (size_t)target->n_kids)
        llm__jfail(c, "cannot unpack %zu values into %d names", items.n, target->n_kids);
    for (int i = 0; i < target->n_kids; i++) llm__jassign(c, target->kids[i], items.v[i]);
}

/* The `loop` object's fields, in the order of its dict. */
enum { LLM__JLOOP_INDEX, LLM__JLOOP_INDEX0, LLM__JLOOP_REVINDEX, LLM__JLOOP_REVINDEX0, LLM__JLOOP_FIRST, LLM__JLOOP_LAST,
       LLM__JLOOP_LENGTH, LLM__JLOOP_PREVITEM, LLM__JLOOP_NEXTITEM, LLM__JLOOP_DEPTH, LLM__JLOOP_DEPTH0, LLM__JLOOP_N };

LLM_PRIVATE llm__jv llm__jloop_new(llm__jctx *c) {
    static const char *const names[] = { "index", "index0", "revindex", "revindex0", "first", "last", "length",
                                         "previtem", "nextitem", "depth", "depth0" };
    llm__jv loop = llm__jdict_new(c, LLM__JV_DICT);
    for (int k = 0; k < LLM__JLOOP_N; k++) llm__jdict_set(c, loop.d, llm__jstrz(names[k]), llm__jnone());
    return loop;
}

/* One `loop` object per loop, updated in place: like Jinja's LoopContext, a saved
   reference (`{% set outer = loop %}`) follows the loop. */
LLM_PRIVATE void llm__jloop_set(llm__jv loop, llm__jlist items, size_t i, int depth) {
    llm__jv *f = loop.d->v;
    int64_t n = (int64_t)items.n, k = (int64_t)i;
    f[LLM__JLOOP_INDEX] = llm__jint(k + 1);
    f[LLM__JLOOP_INDEX0] = llm__jint(k);
    f[LLM__JLOOP_REVINDEX] = llm__jint(n - k);
    f[LLM__JLOOP_REVINDEX0] = llm__jint(n - k - 1);
    f[LLM__JLOOP_FIRST] = llm__jbool(k == 0);
    f[LLM__JLOOP_LAST] = llm__jbool(k == n - 1);
    f[LLM__JLOOP_LENGTH] = llm__jint(n);
    f[LLM__JLOOP_PREVITEM] = i > 0 ? items.v[i - 1] : llm__jundef("previtem", 8);
    f[LLM__JLOOP_NEXTITEM] = i + 1 < items.n ? items.v[i + 1] : llm__jundef("nextitem", 8);
    f[LLM__JLOOP_DEPTH] = llm__jint(depth + 1);
    f[LLM__JLOOP_DEPTH0] = llm__jint(depth);
}

LLM_PRIVATE void llm__jexec_for(llm__jctx *c, const llm__jnode *n) {
    llm__jv seq = llm__jeval(c, n->b);
    c->line = n->line;
    if (seq.t == LLM__JV_DICT || seq.t == LLM__JV_STR) seq = llm__jlist_of(c, llm__jiter(c, seq));
    llm__jlist all = llm__jiter(c, seq), items = all;
    llm__jframe *saved = c->frame, *f = (llm__jframe *)llm__jalloc(c, sizeof(llm__jframe));
    memset(f, 0, sizeof *f);
    f->parent = saved;
    c->frame = f;
    if (n->c) {                                        /* {% for x in xs if cond %}: filter first */
        items = (llm__jlist){ 0 };
        for (size_t i = 0; i < all.n; i++) {
            f->vars.n = 0;
            llm__jassign(c, n->a, all.v[i]);
            if (llm__jtruthy(llm__jeval(c, n->c))) llm__jlist_push(c, &items, all.v[i]);
        }
    }
    int depth = 0;
    for (llm__jframe *p = saved; p; p = p->parent) depth += llm__jdict_find(c, &p->vars, llm__jstrz("loop")) != NULL;
    llm__jv loop = llm__jloop_new(c);
    for (size_t i = 0; i < items.n; i++) {
        llm__jstep(c);
        f->vars.n = 0;                                 /* a fresh scope per iteration */
        llm__jloop_set(loop, items, i, depth);
        llm__jdict_set(c, &f->vars, llm__jstrz("loop"), loop);
        llm__jassign(c, n->a, items.v[i]);
        if (llm__jexec(c, n->body) == LLM__JFLOW_BREAK) break;
    }
    c->frame = saved;
    if (items.n == 0 && n->else_body) llm__jexec(c, n->else_body);
}

/* A filter block's chain `a | b(x)`: FILTER nodes whose innermost operand is NULL. */
LLM_PRIVATE llm__jv llm__jfilter_chain(llm__jctx *c, const llm__jnode *n, llm__jv input) {
    return llm__japply_filter(c, n, n->a ? llm__jfilter_chain(c, n->a, input) : input);
}

/* Run a body with its output captured into a string. */
LLM_PRIVATE llm__jv llm__jcapture(llm__jctx *c, const llm__jnode *body) {
    llm__jbuf *saved = c->out, out = { 0 };
    c->out = &out;
    llm__jexec(c, body);
    c->out = saved;
    return llm__jbuf_val(&out);
}

LLM_PRIVATE int llm__jexec(llm__jctx *c, const llm__jnode *n) {
    c->line = n->line;
    switch (n->kind) {
    case LLM__S_BODY:
        for (int i = 0; i < n->n_kids; i++) {
            int flow = llm__jexec(c, n->kids[i]);
            if (flow != LLM__JFLOW_NEXT) return flow;
        }
        return LLM__JFLOW_NEXT;
    case LLM__S_TEXT: llm__jbuf_put(c, c->out, n->lit.s.p, n->lit.s.n); break;
    case LLM__S_OUT: llm__jput_str(c, c->out, llm__jeval(c, n->a)); break;
    case LLM__S_IF:
        if (llm__jtruthy(llm__jeval(c, n->a))) return llm__jexec(c, n->body);
        return n->else_body ? llm__jexec(c, n->else_body) : LLM__JFLOW_NEXT;
    case LLM__S_FOR: llm__jexec_for(c, n); break;
    case LLM__S_SET: llm__jassign(c, n->a, llm__jeval(c, n->b)); break;
    case LLM__S_SETBLOCK: llm__jassign(c, n->a, llm__jcapture(c, n->body)); break;
    case LLM__S_MACRO: {
        llm__jmacro *m = (llm__jmacro *)llm__jalloc(c, sizeof *m);
        m->node = n; m->frame = c->frame; m->caller = NULL;
        llm__jv v = { .t = LLM__JV_MACRO };
        v.mac = m;
        llm__jdict_set(c, &c->frame->vars, llm__jstrz(n->name), v);
        break;
    }
    case LLM__S_CALLBLOCK: {                           /* {% call m(args) %}body{% endcall %} */
        llm__jmacro *caller = (llm__jmacro *)llm__jalloc(c, sizeof *caller);
        caller->node = n; caller->frame = c->frame; caller->caller = NULL;
        llm__jv fn = llm__jeval(c, n->a->a);
        llm__jargs a = llm__jeval_args(c, n->a);
        c->line = n->line;
        if (fn.t != LLM__JV_MACRO) llm__jfail(c, "{%% call %%} needs a macro");
        llm__jput_str(c, c->out, llm__jcall(c, fn, &a, caller));
        break;
    }
    case LLM__S_FILTERBLOCK: llm__jput_str(c, c->out, llm__jfilter_chain(c, n->a, llm__jcapture(c, n->body))); break;
    case LLM__S_BREAK: return LLM__JFLOW_BREAK;
    case LLM__S_CONTINUE: return LLM__JFLOW_CONTINUE;
    default: llm__jfail(c, "internal error: node %d is not a statement", n->kind);
    }
    return LLM__JFLOW_NEXT;
}
/* ==== end llm_impl/46_jinja_eval.c ==== */
/* ==== begin llm_impl/47_chat.c ==== */
/* ---- >>chat: chat templates from model folders, and the public chat-template API ----
   Where transformers finds a model's template: `chat_template.jinja` next to the
   tokenizer (newer models), else `chat_template` in tokenizer_config.json, which is a
   string or a list of {"name", "template"} (the unnamed choice is "default"), else
   chat_template.json ({"chat_template": ...}, older processors). Named templates may also
   be `additional_chat_templates/<name>.jinja`. Rendering passes the variables
   apply_chat_template passes: messages, tools (none if absent), documents (none),
   add_generation_prompt, bos_token and eos_token when the config has them, then the
   caller's extra kwargs. */
/* #include "10_internal.h" (already above) */

struct llm_chat_template {
    llm__jctx parse;                 /* owns the arena holding the AST */
    const llm__jnode *root;
    char *source, *bos, *eos;        /* bos/eos NULL when the tokenizer has none */
};


LLM_API void llm_chat_template_free(llm_chat_template *t) {
    if (!t) return;
    llm__jarena_free(&t->parse);
    llm__free(NULL, t->source);
    llm__free(NULL, t->bos);
    llm__free(NULL, t->eos);
    llm__free(NULL, t);
}

LLM_API const char *llm_chat_template_source(const llm_chat_template *t) { return t->source; }

/* The setjmp of a parse: llm__jfail lands here. */
LLM_PRIVATE int llm__chat_compile(llm_chat_template *t) {
    if (setjmp(t->parse.jmp)) return 1;
    t->root = llm__jparse(&t->parse, t->source);
    return 0;
}

LLM_PRIVATE llm_status llm__chat_parse(const char *what, const char *source, const char *bos, const char *eos, llm_chat_template **out) {
    llm_chat_template *t = (llm_chat_template *)llm__calloc(NULL, 1, sizeof *t);
    if (!t) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", what);
    t->source = llm__strdup(NULL, source);
    t->bos = bos ? llm__strdup(NULL, bos) : NULL;
    t->eos = eos ? llm__strdup(NULL, eos) : NULL;
    if (!t->source || (bos && !t->bos) || (eos && !t->eos)) {
        llm_chat_template_free(t);
        return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", what);
    }
    if (llm__chat_compile(t)) {
        llm_status s = llm__fail(LLM_ERR_FORMAT, "%s: %s", what, t->parse.err);
        llm_chat_template_free(t);
        return s;
    }
    t->parse.depth = 0;
    *out = t;
    return LLM_OK;
}

LLM_API llm_status llm_chat_template_parse(const char *source, const char *bos_token, const char *eos_token, llm_chat_template **out_template) {
    LLM_ASSERT(source && out_template);
    return llm__chat_parse("chat template", source, bos_token, eos_token, out_template);
}

/* ---- rendering ---- */

typedef struct llm__chat_input {
    const llm_chat_template *t;
    const char *messages, *tools, *kwargs;
    bool add_generation_prompt;
} llm__chat_input;

LLM_PRIVATE void llm__chat_var(llm__jctx *c, const char *name, llm__jv v) { llm__jdict_set(c, &c->globals->vars, llm__jstrz(name), v); }

/* The setjmp of a render: returns 0, or 1 for a template error, 2 for bad JSON input. */
LLM_PRIVATE int llm__chat_run(llm__jctx *c, const llm__chat_input *in) {
    int jumped = setjmp(c->jmp);
    if (jumped) return jumped;
    c->globals = c->frame = (llm__jframe *)llm__jalloc(c, sizeof(llm__jframe));
    memset(c->globals, 0, sizeof *c->globals);
    c->out = (llm__jbuf *)llm__jalloc(c, sizeof(llm__jbuf));
    memset(c->out, 0, sizeof *c->out);
    llm__jv messages = llm__jjson_parse(c, in->messages, "messages");
    if (messages.t != LLM__JV_LIST) llm__jfail(c, "messages must be a JSON array");
    llm__jv tools = in->tools ? llm__jjson_parse(c, in->tools, "tools") : llm__jnone();
    llm__jv kwargs = in->kwargs ? llm__jjson_parse(c, in->kwargs, "kwargs") : llm__jdict_new(c, LLM__JV_DICT);
    if (kwargs.t != LLM__JV_DICT) { snprintf(c->err, sizeof c->err, "kwargs must be a JSON object"); return 2; }
    llm__chat_var(c, "messages", messages);
    llm__chat_var(c, "tools", tools);
    llm__chat_var(c, "documents", llm__jnone());
    llm__chat_var(c, "add_generation_prompt", llm__jbool(in->add_generation_prompt));
    if (in->t->bos) llm__chat_var(c, "bos_token", llm__jstrz(in->t->bos));
    if (in->t->eos) llm__chat_var(c, "eos_token", llm__jstrz(in->t->eos));
    for (size_t i = 0; i < kwargs.d->n; i++) llm__jdict_set(c, &c->globals->vars, kwargs.d->k[i], kwargs.d->v[i]);
    llm__jexec(c, in->t->root);
    return 0;
}

LLM_API llm_status llm_chat_template_render(const llm_chat_template *t, const char *messages_json, const char *tools_json,
                                            bool add_generation_prompt, const char *kwargs_json,
                                            char **out_text, size_t *out_len) {
    LLM_ASSERT(t && messages_json && out_text);
    llm__chat_input in = { t, messages_json, tools_json, kwargs_json, add_generation_prompt };
    llm__jctx *c = (llm__jctx *)llm__calloc(NULL, 1, sizeof *c);
    if (!c) return llm__fail(LLM_ERR_NOMEM, "chat template: out of memory");
    int r = llm__chat_run(c, &in);
    llm_status s = LLM_OK;
    if (r == 1) s = llm__fail(LLM_ERR_FORMAT, "chat template: %s", c->err);
    else if (r) s = llm__fail(LLM_ERR_INVALID_ARG, "chat template: %s", c->err);
    else {
        char *text = (char *)llm__alloc(NULL, c->out->n + 1);
        if (!text) s = llm__fail(LLM_ERR_NOMEM, "chat template: out of memory for %zu bytes of output", c->out->n);
        else {
            if (c->out->n) memcpy(text, c->out->p, c->out->n);
            text[c->out->n] = 0;
            *out_text = text;
            if (out_len) *out_len = c->out->n;
        }
    }
    llm__jarena_free(c);
    llm__free(NULL, c);
    return s;
}

/* ---- loading from a model folder ---- */

#ifndef LLM_NO_CJSON
/* bos_token / eos_token: "<s>", {"content": "<s>", ...} (AddedToken) or null. */
LLM_PRIVATE const char *llm__chat_token(const cJSON *cfg, const char *key) {
    const cJSON *v = llm__json_get(cfg, key);
    if (cJSON_IsString(v)) return v->valuestring;
    return llm__json_str(v, "content", NULL);
}

/* The template called `name` ("default" when name is NULL) from a chat_template value. */
LLM_PRIVATE const char *llm__chat_pick(const cJSON *tmpl, const char *name) {
    if (cJSON_IsString(tmpl)) return name ? NULL : tmpl->valuestring;
    const cJSON *item;
    cJSON_ArrayForEach(item, tmpl) {
        const char *n = llm__json_str(item, "name", NULL);
        if (n && !strcmp(n, name ? name : "default")) return llm__json_str(item, "template", NULL);
    }
    return NULL;
}

/* Read a .jinja file if it exists: LLM_OK with *out set, LLM_OK with *out NULL, or an error. */
LLM_PRIVATE llm_status llm__chat_read_jinja(const char *path, char **out) {
    *out = NULL;
    return llm__file_exists(path) ? llm__read_file(NULL, path, out, NULL) : LLM_OK;
}
#endif

/* ---- loading from a GGUF file ----
   tokenizer.chat_template (a named one: tokenizer.chat_template.<name>, as llama.cpp
   writes them); bos/eos are the strings of tokenizer.ggml.tokens[bos/eos_token_id]. */

/* The string of the token whose id is metadata `key`, or NULL. */
static const char *llm__chat_gguf_token(const llm_gguf *g, const char *key) {
    int64_t id = -1, n = 0;
    const void *tokens = NULL;
    if (llm_gguf_get_int(g, key, &id) || llm_gguf_get_arr(g, "tokenizer.ggml.tokens", LLM_GGUF_STRING, &n, &tokens)) return NULL;
    return id >= 0 && id < n ? ((const llm_gguf_str *)tokens)[id].str : NULL;
}

static llm_status llm__chat_load_gguf(const char *path, const char *name, llm_chat_template **out) {
    llm_gguf *g = NULL;
    char key[256];
    const char *source = NULL;
    llm_status s = llm_gguf_open(path, &g);
    if (s) return s;
    snprintf(key, sizeof key, "tokenizer.chat_template%s%.200s", name ? "." : "", name ? name : "");
    if ((s = llm_gguf_get_str(g, key, &source)) == LLM_ERR_NOT_FOUND)
        s = name ? llm__fail(LLM_ERR_NOT_FOUND, "%s: no chat template named '%s' (no %s)", path, name, key)
                 : llm__fail(LLM_ERR_NOT_FOUND, "%s: no chat template (no tokenizer.chat_template)", path);
    if (!s) s = llm__chat_parse(path, source, llm__chat_gguf_token(g, "tokenizer.ggml.bos_token_id"),
                                llm__chat_gguf_token(g, "tokenizer.ggml.eos_token_id"), out);
    llm_gguf_close(g);
    return s;
}

LLM_API llm_status llm_chat_template_load(const char *path, const char *name, llm_chat_template **out_template) {
    LLM_ASSERT(path && out_template);
    if (llm__ends_with(path, ".gguf") && !llm__is_dir(path)) return llm__chat_load_gguf(path, name, out_template);
#ifdef LLM_NO_CJSON
    (void)name;
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: chat templates need JSON: built with LLM_NO_CJSON", path);
#else
    char dir[4096], cfg_path[4096], file[4096 + 64];
    bool is_dir = llm__is_dir(path);
    if (is_dir) { snprintf(dir, sizeof dir, "%s", path); if (!llm__path_join(cfg_path, sizeof cfg_path, path, "tokenizer_config.json")) return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", path); }
    else { llm__path_dir(dir, sizeof dir, path); snprintf(cfg_path, sizeof cfg_path, "%s", path); }
    cJSON *cfg = NULL;
    llm_status s = LLM_OK;
    if (llm__file_exists(cfg_path) && (s = llm__json_load(cfg_path, &cfg)) != LLM_OK) return s;
    if (!is_dir && !cfg) return llm__fail(LLM_ERR_IO, "%s: cannot open", path);
    char *jinja = NULL;
    const char *source = NULL, *what = cfg_path;
    if (name) {
        snprintf(file, sizeof file, "%s/additional_chat_templates/%s.jinja", dir, name);
        if (!strchr(name, '/')) s = llm__chat_read_jinja(file, &jinja);
        source = jinja ? jinja : llm__chat_pick(llm__json_get(cfg, "chat_template"), name);
        if (jinja) what = file;
    } else {
        snprintf(file, sizeof file, "%s/chat_template.jinja", dir);
        s = llm__chat_read_jinja(file, &jinja);
        if (jinja) { source = jinja; what = file; }
        else source = llm__chat_pick(llm__json_get(cfg, "chat_template"), NULL);
    }
    cJSON *legacy = NULL;
    snprintf(file, sizeof file, "%s/chat_template.json", dir);
    if (s == LLM_OK && !source && !name && llm__file_exists(file) && (s = llm__json_load(file, &legacy)) == LLM_OK) {
        source = llm__json_str(legacy, "chat_template", NULL);
        what = file;
    }
    if (s == LLM_OK && !source)
        s = name ? llm__fail(LLM_ERR_NOT_FOUND, "%s: no chat template named '%s'", path, name)
                 : llm__fail(LLM_ERR_NOT_FOUND, "%s: no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json)", path);
    if (s == LLM_OK) s = llm__chat_parse(what, source, llm__chat_token(cfg, "bos_token"), llm__chat_token(cfg, "eos_token"), out_template);
    llm__free(NULL, jinja);
    cJSON_Delete(legacy);
    cJSON_Delete(cfg);
    return s;
#endif
}
/* ==== end llm_impl/47_chat.c ==== */
/* ==== begin llm_impl/48_tok_gguf.c ==== */
/* ---- >>GGUF vocabularies: llama.cpp's tokenizer.ggml.* metadata ----
   A GGUF file carries its tokenizer as metadata:
     tokenizer.ggml.model       "llama" (SentencePiece BPE: scores), "gpt2" (byte-level BPE:
                                merges), "bert" (WordPiece), "t5" (SentencePiece Unigram)
     tokenizer.ggml.pre         which pre-tokenizer regexes a "gpt2" vocabulary uses
     tokenizer.ggml.tokens      [string]  id -> piece
     tokenizer.ggml.scores      [f32]     SentencePiece scores (merge order for "llama")
     tokenizer.ggml.token_type  [i32]     1 normal 2 unknown 3 control 4 user-defined
                                          5 unused 6 byte (SentencePiece's own numbers)
     tokenizer.ggml.merges      [string]  "a b", in rank order ("gpt2")
     tokenizer.ggml.{bos,eos,unknown,seperator,padding}_token_id, add_bos_token,
     add_eos_token, add_space_prefix
   The loader fills the same tokenizer object as tokenizer.json / tokenizer.model would:
   "llama" and "t5" are the SentencePiece paths of 44_tok_spm.c, "gpt2" the byte-level BPE of a
   tokenizer.json with one Split step per llama.cpp regex, "bert" WordPiece with the
   pieces turned back into HF's spelling. Control and user-defined tokens become added
   tokens, so "<|im_start|>" in text is one token as with HF. */
/* #include "10_internal.h" (already above) */

enum { LLM__GG_LLAMA, LLM__GG_GPT2, LLM__GG_BERT, LLM__GG_T5 };

typedef struct llm__gg {                 /* the arrays, borrowed from the open file */
    const char *path;
    int kind;                            /* LLM__GG_* */
    int64_t n;                           /* tokens */
    const llm_gguf_str *tokens;
    const float *scores;                 /* NULL if absent */
    const int32_t *types;                /* NULL if absent: all normal */
} llm__gg;

/* tokens, and scores / token_type when present: same length, or an error naming both. */
static llm_status llm__gg_arrays(const llm_gguf *g, llm__gg *c) {
    int64_t n_scores = 0, n_types = 0;
    const void *p = NULL;
    llm_status s = llm_gguf_get_arr(g, "tokenizer.ggml.tokens", LLM_GGUF_STRING, &c->n, &p);
    if (s) return s;
    c->tokens = (const llm_gguf_str *)p;
    if (c->n <= 0 || c->n > LLM_MAX_VOCAB) return llm__fail(LLM_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %lld entries", c->path, (long long)c->n);
    if ((s = llm_gguf_get_arr(g, "tokenizer.ggml.scores", LLM_GGUF_F32, &n_scores, &p)) == LLM_OK) c->scores = (const float *)p;
    else if (s != LLM_ERR_NOT_FOUND) return s;
    if ((s = llm_gguf_get_arr(g, "tokenizer.ggml.token_type", LLM_GGUF_I32, &n_types, &p)) == LLM_OK) c->types = (const int32_t *)p;
    else if (s != LLM_ERR_NOT_FOUND) return s;
    if (c->scores && n_scores != c->n)
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld tokens but %lld scores", c->path, (long long)c->n, (long long)n_scores);
    if (c->types && n_types != c->n)
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld tokens but %lld token types", c->path, (long long)c->n, (long long)n_types);
    if ((c->kind == LLM__GG_LLAMA || c->kind == LLM__GG_T5) && !c->scores)
        return llm__fail(LLM_ERR_FORMAT, "%s: a SentencePiece vocabulary needs tokenizer.ggml.scores", c->path);
    return LLM_OK;
}

/* BERT GGUFs spell word-initial pieces "▁word" and continuations "word" (llama.cpp's
   converter); HF's WordPiece wants "word" and "##word". "[CLS]"-style pieces stay. */
static llm_status llm__gg_bert_piece(llm_tokenizer *t, llm_token id, const llm_gguf_str *s, llm__buf *tmp, const char *path) {
    const char *p = s->str;
    size_t n = (size_t)s->len;
    tmp->len = 0;
    if (n >= 3 && !memcmp(p, "\xe2\x96\x81", 3)) llm__buf_put(tmp, p + 3, n - 3);
    else if (n >= 2 && p[0] == '[' && p[n - 1] == ']') llm__buf_put(tmp, p, n);
    else { llm__buf_put(tmp, "##", 2); llm__buf_put(tmp, p, n); }
    llm__buf_put(tmp, "", 0);
    if (tmp->oom) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    return llm__tok_set_piece(t, id, tmp->data, tmp->len, true, path);
}

/* The pieces and their types. Control and user-defined tokens are added tokens (control
   ones special); unknown, byte and unused ones never come out of the model's search. */
static llm_status llm__gg_vocab(llm_tokenizer *t, const llm__gg *c) {
    llm__buf tmp = { 0 };
    llm_status s = llm__tok_alloc_vocab(t, c->n, c->scores != NULL, c->path);
    for (llm_token id = 0; id < c->n && !s; id++) {
        const llm_gguf_str *p = &c->tokens[id];
        int type = c->types ? c->types[id] : LLM__SP_NORMAL;
        if (type < LLM__SP_NORMAL || type > LLM__SP_BYTE) type = LLM__SP_NORMAL;  /* llama.cpp: undefined = normal */
        if (t->scores) t->scores[id] = c->scores[id];
        bool added = type == LLM__SP_CONTROL || type == LLM__SP_USER;
        if (c->kind == LLM__GG_BERT && !added) s = llm__gg_bert_piece(t, id, p, &tmp, c->path);
        else s = llm__tok_set_piece(t, id, p->str, (size_t)p->len, true, c->path);
        if (s) break;
        if (type != LLM__SP_NORMAL && type != LLM__SP_USER) t->flags[id] |= LLM__TF_NO_MODEL;
        if (added && p->len) {
            bool spm_user = (c->kind == LLM__GG_LLAMA || c->kind == LLM__GG_T5) && type == LLM__SP_USER;  /* as tokenizer.model's */
            llm__added a = { t->pieces[id], t->piece_lens[id], id, type == LLM__SP_CONTROL, false, false, false, spm_user, spm_user };
            s = llm__tok_add_token(t, &a, c->path);
        }
    }
    llm__buf_free(&tmp);
    return s;
}

/* Merge `rank` "a b": the pair's ids -> (rank, id of "ab"), as tokenizer.json's model.merges. */
static llm_status llm__gg_merge(llm_tokenizer *t, const llm_gguf_str *m, int64_t rank, llm__buf *tmp, const char *path) {
    const char *a = m->str, *sp = (const char *)memchr(a, ' ', (size_t)m->len);
    if (!sp) return llm__fail(LLM_ERR_FORMAT, "%s: merges[%lld] '%.100s' is not \"a b\"", path, (long long)rank, a);
    size_t na = (size_t)(sp - a), nb = (size_t)m->len - na - 1;
    tmp->len = 0;
    llm__buf_put(tmp, a, na);
    llm__buf_put(tmp, sp + 1, nb);
    if (tmp->oom) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    llm_token ia = llm__strmap_get(&t->vocab, a, na), ib = llm__strmap_get(&t->vocab, sp + 1, nb);
    llm_token im = llm__strmap_get(&t->vocab, tmp->data, tmp->len);
    if (ia < 0 || ib < 0 || im < 0)
        return llm__fail(LLM_ERR_FORMAT, "%s: merges[%lld] '%.100s': a part or the result is not in the vocabulary", path, (long long)rank, a);
    if (!llm__u64map_put(&t->merges, ((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib, ((uint64_t)rank << 32) | (uint32_t)im))
        return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    return LLM_OK;
}

static llm_status llm__gg_merges(llm_tokenizer *t, const llm_gguf *g, const char *path) {
    int64_t n = 0;
    const void *p = NULL;
    llm_status s = llm_gguf_get_arr(g, "tokenizer.ggml.merges", LLM_GGUF_STRING, &n, &p);
    if (s) return s;
    if (!llm__u64map_init(&t->merges, (size_t)n + 1)) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    llm__buf tmp = { 0 };
    for (int64_t rank = 0; rank < n && !s; rank++) s = llm__gg_merge(t, (const llm_gguf_str *)p + rank, rank, &tmp, path);
    llm__buf_free(&tmp);
    return s;
}

/* llama.cpp's pre-tokenizer regexes per tokenizer.ggml.pre (llama-vocab.cpp). Each regex
   is one Split(Isolated) step: matches and the text between them become words, and the
   next regex cuts those further. Literal non-ASCII characters are written as UTF-8 (and
   must stay un-normalized: deepseek-llm's class holds U+1F7D, U+1FBE, U+1FD3, U+1FDB,
   U+2126, U+212A, which NFC would turn into other letters). */
#define LLM__GG_GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define LLM__GG_LLAMA3_RE(num) "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" num \
                               "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define LLM__GG_CASED_RE(contractions) \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" contractions \
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" contractions
#define LLM__GG_BLOOM_RE " ?[^(\\s|.,!?…。，、।۔،)]+"
static const struct { const char *names; const char *re[6]; } llm__gg_pre[] = {
    { " default ", { "[\\p{P}\\$\\+<=>\\^~\\|]+", LLM__GG_GPT2_RE, "\\p{N}+", "[0-9][0-9][0-9]" } },
    { " gpt-2 mpt olmo jais ", { LLM__GG_GPT2_RE } },
    { " llama3 llama-v3 llama-bpe dbrx smaug-bpe falcon3 pixtral chatglm-bpe ", { LLM__GG_LLAMA3_RE("\\p{N}{1,3}") } },
    { " qwen2 stablelm2 ", { LLM__GG_LLAMA3_RE("\\p{N}") } },
    { " deepseek-llm ", { "[\r\n]", "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌ"
                          "ῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
                          "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+" } },
    { " deepseek-v3 ", { "\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
                         "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
                         "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+" } },
    { " deepseek-coder ", { "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}" } },
    { " falcon ", { "[\\p{P}\\$\\+<=>\\^~\\|`]+", LLM__GG_GPT2_RE, "[0-9][0-9][0-9]" } },
    { " starcoder refact command-r smollm codeshell exaone minerva ", { "\\p{N}", LLM__GG_GPT2_RE } },
    { " poro-chat bloom gpt3-finnish ", { LLM__GG_BLOOM_RE } },
    { " viking ", { LLM__GG_BLOOM_RE, "\\p{N}" } },
    { " tekken ", { LLM__GG_CASED_RE("") "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" } },
    { " gpt-4o ", { LLM__GG_CASED_RE("(?i:'s|'t|'re|'ve|'m|'ll|'d)?")
                    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" } },
};

static llm_status llm__gg_pretokenizer(llm_tokenizer *t, const llm_gguf *g, const char *path) {
    const char *pre = "default";
    llm_status s = llm_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    if (s && s != LLM_ERR_NOT_FOUND) return s;
    char key[128];
    snprintf(key, sizeof key, " %.120s ", pre);
    size_t k = 0, n = sizeof llm__gg_pre / sizeof llm__gg_pre[0];
    while (k < n && !strstr(llm__gg_pre[k].names, key)) k++;
    if (k == n) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tokenizer.ggml.pre '%.100s' is not supported", path, pre);
    for (int i = 0; i < 6 && llm__gg_pre[k].re[i]; i++) {
        llm__step st = { .kind = LLM__P_SPLIT, .behavior = LLM__SPLIT_ISOLATED };
        if ((s = llm__regex_compile(llm__gg_pre[k].re[i], path, &st.re))) return s;
        if ((s = llm__tok_push_step(&t->pre, &t->n_pre, st, path))) { llm__regex_free(st.re); return s; }
    }
    const llm__step bytelevel = { .kind = LLM__P_BYTELEVEL }, dec = { .kind = LLM__D_BYTELEVEL };
    if ((s = llm__tok_push_step(&t->pre, &t->n_pre, bytelevel, path))) return s;
    t->has_decoder = true;
    return llm__tok_push_step(&t->dec, &t->n_dec, dec, path);
}

/* HF's BERT "Chinese character" blocks: U+4E00-9FFF 3400-4DBF 20000-2A6DF 2A700-2B73F
   2B740-2B81F 2B820-2CEAF F900-FAFF 2F800-2FA1F, as UTF-8 */
#define LLM__GG_CJK "[" \
    "\xe4\xb8\x80-\xe9\xbf\xbf" "\xe3\x90\x80-\xe4\xb6\xbf" "\xf0\xa0\x80\x80-\xf0\xaa\x9b\x9f" "\xf0\xaa\x9c\x80-\xf0\xab\x9c\xbf" \
    "\xf0\xab\x9d\x80-\xf0\xab\xa0\x9f" "\xf0\xab\xa0\xa0-\xf0\xac\xba\xaf" "\xef\xa4\x80-\xef\xab\xbf" "\xf0\xaf\xa0\x80-\xf0\xaf\xa8\x9f" "]"

/* HF's BertNormalizer (lowercase, strip accents) and BertPreTokenizer, WordPiece decoder. */
static llm_status llm__gg_bert_pipeline(llm_tokenizer *t, const char *path) {
    static char empty[] = "", prefix[] = "##";
    llm__step mn = { .kind = LLM__N_REPLACE, .content = empty };
    llm_status s = llm__tok_push_step(&t->norm, &t->n_norm, (llm__step){ .kind = LLM__N_NFD }, path);
    if (!s) s = llm__regex_compile("\\p{Mn}", path, &mn.re);
    if (!s && (s = llm__tok_push_step(&t->norm, &t->n_norm, mn, path))) llm__regex_free(mn.re);
    if (s) return s;
    const llm__step steps[] = {
        { .kind = LLM__N_LOWERCASE }, { .kind = LLM__P_WSSPLIT }, { .kind = LLM__P_PUNCT, .behavior = LLM__SPLIT_ISOLATED },
        { .kind = LLM__D_WORDPIECE, .content = prefix, .content_len = 2, .b = true },
    };
    if ((s = llm__tok_push_step(&t->norm, &t->n_norm, steps[0], path)) || (s = llm__tok_push_step(&t->pre, &t->n_pre, steps[1], path)) ||
        (s = llm__tok_push_step(&t->pre, &t->n_pre, steps[2], path)) || (s = llm__tok_push_step(&t->dec, &t->n_dec, steps[3], path))) return s;
    /* BertNormalizer puts spaces around each CJK ideograph: the same as cutting it out */
    llm__step cjk = { .kind = LLM__P_SPLIT, .behavior = LLM__SPLIT_ISOLATED };
    if ((s = llm__regex_compile(LLM__GG_CJK, path, &cjk.re))) return s;
    if ((s = llm__tok_push_step(&t->pre, &t->n_pre, cjk, path))) llm__regex_free(cjk.re);
    if (s) return s;
    t->has_decoder = true;
    if (!(t->wp_prefix = llm__tok_intern(t, prefix, 2))) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    t->wp_max_chars = 100;
    return LLM_OK;
}

/* A special-token id from the metadata: -1 when absent or out of range (llama.cpp ignores
   an out-of-range id with a warning; so do we). */
static llm_token llm__gg_id(const llm_gguf *g, const llm_tokenizer *t, const char *key, llm_token dflt) {
    int64_t v = dflt;
    if (llm_gguf_get_int(g, key, &v) == LLM_ERR_FORMAT) llm__log(LLM_LOG_WARN, "%s", llm_last_error());
    if (v >= t->n_vocab || v < -1) { llm__log(LLM_LOG_WARN, "%s: %lld out of range, ignored", key, (long long)v); v = -1; }
    return (llm_token)v;
}

static bool llm__gg_flag(const llm_gguf *g, const char *key, bool dflt) {
    bool v = dflt;
    llm_gguf_get_bool(g, key, &v);
    return v;
}

/* Special ids and what add_special puts around the text. */
static llm_status llm__gg_specials(llm_tokenizer *t, const llm_gguf *g, int kind, const char *path) {
    bool spm = kind == LLM__GG_LLAMA, bert = kind == LLM__GG_BERT, t5 = kind == LLM__GG_T5;
    t->bos = llm__gg_id(g, t, "tokenizer.ggml.bos_token_id", spm ? 1 : -1);
    if (bert) t->bos = llm__gg_id(g, t, "tokenizer.ggml.cls_token_id", t->bos);    /* [CLS] opens the text */
    t->eos = llm__gg_id(g, t, "tokenizer.ggml.eos_token_id", spm ? 2 : -1);
    t->unk = llm__gg_id(g, t, "tokenizer.ggml.unknown_token_id", spm ? 0 : t5 ? 2 : -1);
    llm_token sep = llm__gg_id(g, t, "tokenizer.ggml.seperator_token_id", -1);
    bool add_bos = llm__gg_flag(g, "tokenizer.ggml.add_bos_token", spm || bert) && t->bos >= 0;
    bool add_eos = llm__gg_flag(g, "tokenizer.ggml.add_eos_token", t5) && t->eos >= 0;       /* T5 ends with </s> */
    if (bert) { add_eos = sep >= 0 || add_eos; if (sep < 0) sep = t->eos; }  /* [CLS] text [SEP] */
    if (!(t->post_ids = (llm_token *)malloc(2 * sizeof *t->post_ids))) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (add_bos) t->post_ids[t->n_post_pre++] = t->bos;
    if (add_eos) t->post_ids[t->n_post_pre + t->n_post_post++] = bert ? sep : t->eos;
    return LLM_OK;
}

static llm_status llm__gg_kind(const llm_gguf *g, llm__gg *c) {
    const char *model = NULL;
    llm_status s = llm_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (s) return s;
    if (!strcmp(model, "llama")) c->kind = LLM__GG_LLAMA;
    else if (!strcmp(model, "gpt2")) c->kind = LLM__GG_GPT2;
    else if (!strcmp(model, "bert")) c->kind = LLM__GG_BERT;
    else if (!strcmp(model, "t5")) c->kind = LLM__GG_T5;
    else return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model '%.100s' is not supported (llama, gpt2, bert, t5)", c->path, model);
    return LLM_OK;
}

/* The model-specific part: merges and pipeline. */
static llm_status llm__gg_model(llm_tokenizer *t, const llm_gguf *g, const llm__gg *c) {
    llm_status s = LLM_OK;
    if (c->kind == LLM__GG_GPT2) {
        t->model = LLM__TOK_BPE;
        if (!(s = llm__gg_merges(t, g, c->path))) s = llm__gg_pretokenizer(t, g, c->path);
        return s;
    }
    if (c->kind == LLM__GG_BERT) {
        t->model = LLM__TOK_WORDPIECE;
        return llm__gg_bert_pipeline(t, c->path);
    }
    /* llama.cpp's SentencePiece: " " -> "▁", a leading "▁" unless add_space_prefix is false;
       T5 (Unigram) also collapses spaces and has a precompiled charsmap */
    bool t5 = c->kind == LLM__GG_T5;
    llm__spm sp = { t5 ? 1 : 2, !t5, llm__gg_flag(g, "tokenizer.ggml.add_space_prefix", true),
                    llm__gg_flag(g, "tokenizer.ggml.remove_extra_whitespaces", t5), true,
                    llm_gguf_find_kv(g, "tokenizer.ggml.precompiled_charsmap") != NULL, 0, 1, 2, c->n };
    t->byte_fallback = sp.byte_fallback;
    t->fuse_unk = true;
    if (t5) {
        t->model = LLM__TOK_UNIGRAM;
        return llm__spm_pipeline(t, &sp, c->path);
    }
    t->model = LLM__TOK_BPE;
    bool *mergeable = (bool *)malloc((size_t)c->n);
    if (!mergeable) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    for (int64_t i = 0; i < c->n; i++) mergeable[i] = !(t->flags[i] & LLM__TF_NO_MODEL);
    if (!(s = llm__merges_from_scores(t, mergeable, c->path))) s = llm__spm_pipeline(t, &sp, c->path);
    free(mergeable);
    return s;
}

static llm_status llm__tokenizer_load_gguf(const char *path, llm_tokenizer **out) {
    llm_gguf *g = NULL;
    llm_tokenizer *t = NULL;
    llm__gg c = { path, 0, 0, NULL, NULL, NULL };
    llm_status s = llm_gguf_open(path, &g);
    if (s) return s;
    if ((s = llm__gg_kind(g, &c)) || (s = llm__gg_arrays(g, &c))) goto done;
    if (!(t = (llm_tokenizer *)calloc(1, sizeof *t))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    if ((s = llm__gg_vocab(t, &c)) || (s = llm__gg_specials(t, g, c.kind, path)) || (s = llm__gg_model(t, g, &c))) goto done;
    s = llm__tok_finish(t, path);
done:
    llm_gguf_close(g);
    if (s) llm_tokenizer_free(t);
    else *out = t;
    return s;
}
/* ==== end llm_impl/48_tok_gguf.c ==== */
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
    double attn_factor;                 /* yarn / longrope cos-sin scale override (0 = from factor) */
    double mscale, mscale_all_dim;      /* yarn (DeepSeek): attention factor from two mscales */
    bool truncate;                      /* yarn: round the correction range to integers */
    float *short_factor, *long_factor;  /* longrope: [n_factors] per-frequency divisors, or NULL */
    int64_t n_factors;                  /* n_rot/2 when the config was read (a family may change n_rot later) */
} llm__rope_cfg;

typedef enum { LLM__NORM_RMS, LLM__NORM_LAYER } llm__norm_kind;
typedef enum { LLM__ROUTER_SOFTMAX, LLM__ROUTER_SIGMOID_GROUPED } llm__router_kind;

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
    bool round_embed_scale;             /* ... after rounding it to the embedding's dtype (Gemma) */
    bool learned_pos;                   /* add learned position embeddings (GPT-2) */
    float norm_add_one;                 /* RMSNorm weight offset: 1 where checkpoints store w - 1 */
    uint8_t *layer_sliding;             /* [L] 1 = sliding-window attention */
    uint8_t *layer_rope;                /* [L] 1 = apply rope (0 = NoPE layer) */
    /* block structure */
    llm__norm_kind norm;                /* RMSNorm, or LayerNorm (with a bias where the checkpoint has one) */
    bool parallel_block;                /* x + attn(norm1(x)) + ffn(norm2(x)) (Phi, Cohere, GPT-NeoX) */
    float residual_scale;               /* block outputs are scaled before the residual add (Granite) */
    float attn_softcap, final_softcap;  /* Gemma 2: s -> cap * tanh(s / cap); 0 = off */
    float logit_scale;                  /* logits are multiplied by this (Cohere; Granite 1/logits_scaling) */
    bool qk_norm_full;                  /* OLMo 2: q/k norm over the whole projection, not per head */
    /* mixture of experts (n_experts = 0: dense feed-forward everywhere) */
    int64_t n_experts, n_experts_used;  /* E, K experts per token */
    int64_t n_ff_expert, n_ff_shared;   /* hidden width of a routed / the shared expert (0: none) */
    llm__router_kind router;
    bool moe_norm_topk;                 /* renormalise the top-k weights to sum to 1 */
    float routed_scale;                 /* routed_scaling_factor (DeepSeek) */
    int64_t n_group, topk_group;        /* DeepSeek V3 group-limited routing */
    uint8_t *layer_moe;                 /* [L] 1 = MoE feed-forward */
    /* multi-head latent attention (DeepSeek V2/V3); kv_lora_rank > 0 turns it on */
    int64_t q_lora_rank, kv_lora_rank;  /* 0 q_lora_rank: a plain q_proj */
    int64_t qk_nope_dim, qk_rope_dim, v_head_dim;
    llm_token bos;
    llm_token eos[LLM__MAX_EOS];
    int32_t n_eos;
} llm__hparams;

/* Defaults that make every option a no-op (a plain pre-norm Llama block). */
static void llm__hparams_init(llm__hparams *hp) {
    memset(hp, 0, sizeof *hp);
    hp->bos = -1;
    hp->embed_scale = hp->residual_scale = hp->logit_scale = hp->routed_scale = 1.0f;
    hp->n_group = hp->topk_group = 1;
}

static void llm__hparams_free(llm__hparams *hp) {
    if (hp->rope_local.short_factor != hp->rope.short_factor) free(hp->rope_local.short_factor);
    if (hp->rope_local.long_factor != hp->rope.long_factor) free(hp->rope_local.long_factor);
    free(hp->rope.short_factor);
    free(hp->rope.long_factor);
    free(hp->layer_sliding);
    free(hp->layer_rope);
    free(hp->layer_moe);
    hp->layer_sliding = hp->layer_rope = hp->layer_moe = NULL;
    hp->rope.short_factor = hp->rope.long_factor = hp->rope_local.short_factor = hp->rope_local.long_factor = NULL;
}

#ifndef LLM_NO_CJSON
static llm_status llm__rope_type_parse(const char *path, const char *name, llm__rope_type *out) {
    static const struct { const char *name; llm__rope_type type; } types[] = {
        { "default", LLM__ROPE_DEFAULT }, { "linear", LLM__ROPE_LINEAR }, { "llama3", LLM__ROPE_LLAMA3 },
        { "yarn", LLM__ROPE_YARN }, { "dynamic", LLM__ROPE_DYNAMIC }, { "longrope", LLM__ROPE_LONGROPE },
        { "su", LLM__ROPE_LONGROPE },   /* early Phi-3 configs' name for longrope */
    };
    for (int i = 0; i < LLM__COUNT(types); i++)
        if (!strcmp(types[i].name, name)) { *out = types[i].type; return LLM_OK; }
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: rope type '%s' is not supported", path, name);
}

/* longrope's per-frequency divisors: a list of n_rot/2 numbers. */
static llm_status llm__rope_factors(const char *path, const cJSON *params, const char *key, int64_t n_rot, float **out) {
    const cJSON *a = llm__json_get(params, key);
    if (!cJSON_IsArray(a)) return llm__fail(LLM_ERR_FORMAT, "%s: longrope needs a list \"%s\"", path, key);
    if (cJSON_GetArraySize(a) != n_rot / 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: \"%s\" has %d entries, expected %lld", path, key, cJSON_GetArraySize(a), (long long)n_rot / 2);
    float *f = (float *)malloc((size_t)(n_rot / 2) * sizeof *f + 1);
    if (!f) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    int64_t i = 0;
    for (const cJSON *x = a->child; x; x = x->next) f[i++] = cJSON_IsNumber(x) ? (float)x->valuedouble : 1.0f;
    *out = f;
    return LLM_OK;
}

/* Read one rope description: `params` holds rope_type/type and its factors (v4 rope_scaling
   or v5 rope_parameters); theta comes from params or the fallback; the original context
   from params or the config's top level (Phi-3 keeps it there). */
static llm_status llm__rope_parse(const char *path, const cJSON *cfg, const cJSON *params, double theta, const llm__hparams *hp,
                                  llm__rope_cfg *r) {
    memset(r, 0, sizeof *r);
    r->theta = llm__json_num(params, "rope_theta", theta);
    r->factor = llm__json_num(params, "factor", 1.0);
    r->low_freq_factor = llm__json_num(params, "low_freq_factor", 1.0);
    r->high_freq_factor = llm__json_num(params, "high_freq_factor", 4.0);
    double orig = llm__json_num(cfg, "original_max_position_embeddings", (double)hp->n_ctx_train);
    r->orig_ctx = llm__json_num(params, "original_max_position_embeddings", orig);
    r->beta_fast = llm__json_num(params, "beta_fast", 32.0);
    r->beta_slow = llm__json_num(params, "beta_slow", 1.0);
    r->attn_factor = llm__json_num(params, "attention_factor", 0.0);
    r->mscale = llm__json_num(params, "mscale", 0.0);
    r->mscale_all_dim = llm__json_num(params, "mscale_all_dim", 0.0);
    r->truncate = llm__json_bool(params, "truncate", true);
    const char *type = llm__json_str(params, "rope_type", llm__json_str(params, "type", "default"));
    llm_status s = llm__rope_type_parse(path, type, &r->type);
    if (!s && (r->type == LLM__ROPE_YARN || r->type == LLM__ROPE_LONGROPE) && !llm__json_has(params, "factor") && r->orig_ctx > 0)
        r->factor = (double)hp->n_ctx_train / r->orig_ctx;
    if (!s && r->type == LLM__ROPE_LONGROPE) s = llm__rope_factors(path, params, "short_factor", hp->n_rot, &r->short_factor);
    if (!s && r->type == LLM__ROPE_LONGROPE) s = llm__rope_factors(path, params, "long_factor", hp->n_rot, &r->long_factor);
    r->n_factors = hp->n_rot / 2;
    return s;
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

/* Rotary dims per head: partial_rotary_factor (v5: inside rope_parameters; v4: top level),
   or GPT-NeoX's v4 rotary_pct. */
static void llm__cfg_n_rot(const cJSON *cfg, llm__hparams *hp) {
    const cJSON *rp = llm__json_get(cfg, "rope_parameters");
    if (cJSON_IsObject(llm__json_get(rp, "full_attention"))) rp = llm__json_get(rp, "full_attention");
    double f = llm__json_num(cfg, "partial_rotary_factor", llm__json_num(cfg, "rotary_pct", 1.0));
    f = llm__json_num(rp, "partial_rotary_factor", f);
    hp->n_rot = (int64_t)((double)hp->head_dim * f) / 2 * 2;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim) hp->n_rot = hp->head_dim;
}

/* The v5 form keeps rope settings in rope_parameters, either directly or per layer type
   ({"full_attention": {...}, "sliding_attention": {...}}); the v4 form has rope_theta and
   rope_scaling at the top (rope_local_base_freq for Gemma 3's sliding layers,
   rotary_emb_base for GPT-NeoX). */
static llm_status llm__cfg_rope(const char *path, const cJSON *cfg, llm__hparams *hp) {
    const cJSON *rp = llm__json_get(cfg, "rope_parameters");
    double theta = llm__json_num(cfg, "rope_theta", llm__json_num(cfg, "rotary_emb_base", 10000.0));
    llm_status s;
    llm__cfg_n_rot(cfg, hp);
    if (cJSON_IsObject(rp) && cJSON_IsObject(llm__json_get(rp, "full_attention"))) {
        const cJSON *full = llm__json_get(rp, "full_attention"), *local = llm__json_get(rp, "sliding_attention");
        s = llm__rope_parse(path, cfg, full, theta, hp, &hp->rope);
        if (!s) s = llm__rope_parse(path, cfg, cJSON_IsObject(local) ? local : full, theta, hp, &hp->rope_local);
        return s;
    }
    const cJSON *params = cJSON_IsObject(rp) ? rp : llm__json_get(cfg, "rope_scaling");
    s = llm__rope_parse(path, cfg, params, theta, hp, &hp->rope);
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

/* An integer under the first of several names (configs of different eras spell them
   differently: hidden_size / n_embd); dflt when none is present. */
static int64_t llm__cfg_alias(const cJSON *cfg, const char *const *keys, int64_t dflt) {
    for (; *keys; keys++)
        if (cJSON_IsNumber(llm__json_get(cfg, *keys))) return llm__json_int(cfg, *keys, dflt);
    return dflt;
}

static llm_status llm__cfg_required(const char *path, const cJSON *cfg, const char *const *keys, int64_t *out) {
    int64_t v = llm__cfg_alias(cfg, keys, -1);
    if (v <= 0 || v > (1 << 30))
        return llm__fail(LLM_ERR_FORMAT, "%s: field \"%s\" is missing or not a positive integer", path, keys[0]);
    *out = v;
    return LLM_OK;
}

/* Mixture of experts: which layers route, how many experts and how wide. Layer il is sparse
   unless it is one of the first_k_dense_replace (DeepSeek) or listed in mlp_only_layers,
   and (il + 1) is a multiple of decoder_sparse_step (Qwen MoE). */
static llm_status llm__cfg_moe(const char *path, const cJSON *cfg, llm__hparams *hp) {
    static const char *const experts[] = { "num_experts", "num_local_experts", "n_routed_experts", NULL };
    static const char *const ff[] = { "moe_intermediate_size", "intermediate_size", NULL };
    hp->n_experts = llm__cfg_alias(cfg, experts, 0);
    hp->layer_moe = (uint8_t *)calloc((size_t)hp->n_layers, 1);
    if (!hp->layer_moe) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (hp->n_experts <= 0) { hp->n_experts = 0; return LLM_OK; }
    hp->n_experts_used = llm__json_int(cfg, "num_experts_per_tok", 2);
    if (hp->n_experts > 4096 || hp->n_experts_used <= 0 || hp->n_experts_used > hp->n_experts)
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld experts with %lld per token do not fit together", path,
                         (long long)hp->n_experts, (long long)hp->n_experts_used);
    hp->n_ff_expert = llm__cfg_alias(cfg, ff, hp->n_ff);
    hp->n_ff_shared = llm__json_int(cfg, "shared_expert_intermediate_size", hp->n_ff_expert * llm__json_int(cfg, "n_shared_experts", 0));
    if (hp->n_ff_expert <= 0 || hp->n_ff_expert > (1 << 30) || hp->n_ff_shared < 0 || hp->n_ff_shared > (1 << 30))
        return llm__fail(LLM_ERR_FORMAT, "%s: expert widths %lld / %lld are not plausible", path, (long long)hp->n_ff_expert,
                         (long long)hp->n_ff_shared);
    hp->moe_norm_topk = llm__json_bool(cfg, "norm_topk_prob", true);
    hp->routed_scale = (float)llm__json_num(cfg, "routed_scaling_factor", 1.0);
    int64_t first_dense = llm__json_int(cfg, "first_k_dense_replace", 0), step = llm__json_int(cfg, "decoder_sparse_step", 1);
    for (int64_t il = 0; il < hp->n_layers; il++) hp->layer_moe[il] = il >= first_dense && (il + 1) % LLM__MAX(step, 1) == 0;
    const cJSON *dense = llm__json_get(cfg, "mlp_only_layers");
    for (const cJSON *x = cJSON_IsArray(dense) ? dense->child : NULL; x; x = x->next)
        if (cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble < (double)hp->n_layers) hp->layer_moe[(int64_t)x->valuedouble] = 0;
    return LLM_OK;
}

/* The fields every decoder-only transformer config has. Family quirks are applied after
   this by the architecture's own configure function (52_load.c). */
static llm_status llm__hparams_parse(const char *path, const cJSON *cfg, llm__hparams *hp) {
    static const char *const vocab[] = { "vocab_size", NULL }, *const embd[] = { "hidden_size", "n_embd", NULL };
    static const char *const layers[] = { "num_hidden_layers", "n_layer", NULL }, *const heads[] = { "num_attention_heads", "n_head", NULL };
    static const char *const ff[] = { "intermediate_size", "n_inner", NULL };
    static const char *const ctx[] = { "max_position_embeddings", "n_positions", NULL };
    llm_status s;
    llm__hparams_init(hp);
    snprintf(hp->arch, sizeof hp->arch, "%s", llm__json_str(cfg, "model_type", ""));
    if ((s = llm__cfg_required(path, cfg, vocab, &hp->n_vocab)) || (s = llm__cfg_required(path, cfg, embd, &hp->n_embd)) ||
        (s = llm__cfg_required(path, cfg, layers, &hp->n_layers)) || (s = llm__cfg_required(path, cfg, heads, &hp->n_heads)))
        return s;
    hp->n_ff = llm__cfg_alias(cfg, ff, 4 * hp->n_embd);              /* GPT-2: n_inner null = 4 C */
    hp->n_kv_heads = llm__json_int(cfg, "num_key_value_heads", hp->n_heads);
    hp->head_dim = llm__json_int(cfg, "head_dim", hp->n_embd / hp->n_heads);
    if (hp->n_kv_heads <= 0 || hp->n_heads % hp->n_kv_heads || hp->head_dim <= 0 || hp->head_dim > 4096 || hp->head_dim % 2 ||
        hp->n_ff <= 0 || hp->n_ff > (1 << 30))
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld heads, %lld kv heads, head_dim %lld and %lld ff do not fit together", path,
                         (long long)hp->n_heads, (long long)hp->n_kv_heads, (long long)hp->head_dim, (long long)hp->n_ff);
    hp->n_ctx_train = llm__cfg_alias(cfg, ctx, 0);
    hp->norm_eps = llm__json_num(cfg, "rms_norm_eps", llm__json_num(cfg, "layer_norm_eps", 1e-5));
    hp->norm_eps = llm__json_num(cfg, "layer_norm_epsilon", llm__json_num(cfg, "norm_epsilon", hp->norm_eps));
    hp->tie_embeddings = llm__json_bool(cfg, "tie_word_embeddings", false);
    hp->attn_scale = (float)(1.0 / sqrt((double)hp->head_dim));
    const char *act = llm__json_str(cfg, "hidden_act", llm__json_str(cfg, "hidden_activation", llm__json_str(cfg, "activation_function", "silu")));
    if ((s = llm__cfg_act(path, act, &hp->act))) return s;
    if ((s = llm__cfg_rope(path, cfg, hp))) return s;
    if ((s = llm__cfg_layers(path, cfg, hp))) return s;
    if ((s = llm__cfg_moe(path, cfg, hp))) return s;
    llm__cfg_eos(cfg, hp);
    return LLM_OK;
}
#endif
/* ==== end llm_impl/50_hparams.c ==== */
/* ==== begin llm_impl/51_model.c ==== */
/* ---- >>model: the weights of the generic transformer, and loading them ----
   A model is hyperparameters (50_hparams.c) plus one llm__layer per layer. Matrices stay
   where the file put them (llm_tensor views into the mapping, f32/f16/bf16 or a GGUF
   block type); the small 1-D parameters (norms, biases) are converted to f32 once, so the
   forward pass reads floats.
   Optional tensors (biases, q/k norms) are bound when the checkpoint has them: a family
   whose config says attention_bias gets its biases without a flag of its own. Fused
   matrices (Phi-3's qkv_proj) and stacked experts ([E, F, C]) become row views without a
   copy; only GPT-2's transposed Conv1D weights are copied (llm__bind_transposed says why). */
/* #include "10_internal.h" (already above) */

/* One gated MLP: the dense feed-forward, a routed expert or the shared expert. */
typedef struct llm__mlp_w {
    const llm_tensor *gate, *up, *down;            /* [F, C] [F, C] [C, F]; gate NULL: down(act(up(h))) */
} llm__mlp_w;

typedef struct llm__layer {
    const float *attn_norm, *attn_norm_b;          /* [C] pre-attention norm (bias: LayerNorm); NULL: none (OLMo 2) */
    const llm_tensor *wq, *wk, *wv, *wo;           /* [H*D, C] [Hkv*D, C] [Hkv*D, C] [C, H*D] */
    const llm_tensor *wqkv;                        /* [H*3*D, C] q,k,v interleaved per head (GPT-NeoX), or NULL */
    const float *bq, *bk, *bv, *bo, *bqkv;         /* [H*D] [Hkv*D] [Hkv*D] [C] [H*3*D] or NULL */
    const float *q_norm, *k_norm;                  /* [D] per head, or [H*D] [Hkv*D] (qk_norm_full) or NULL */
    const float *post_attn_norm;                   /* [C] norm of the attention output (Gemma 2/3, OLMo 2) */
    const float *ffn_norm, *ffn_norm_b;            /* [C] pre-feed-forward norm; NULL: none */
    llm__mlp_w ffn;                                /* dense feed-forward (layers without experts) */
    const float *b_up, *b_down;                    /* [F] [C] or NULL */
    const float *post_ffn_norm;                    /* [C] norm of the feed-forward output */
    /* mixture of experts */
    const llm_tensor *router;                      /* [E, C] */
    const float *router_bias;                      /* [E] added to the scores for the choice only (DeepSeek V3) */
    llm__mlp_w *experts;                           /* [E] views, per-expert tensors or slices of a stacked [E, F, C] */
    llm__mlp_w shared;                             /* shared expert, or all NULL */
    const llm_tensor *shared_gate;                 /* [1, C] sigmoid gate of the shared expert (Qwen2-MoE), or NULL */
    /* multi-head latent attention */
    const llm_tensor *wq_a, *wq_b;                 /* [q_lora, C] [H*(nope+rope), q_lora] (no q_lora: wq) */
    const llm_tensor *wkv_a, *wkv_b;               /* [rank+rope, C] [H*(nope+v), rank] */
    const float *q_a_norm, *kv_a_norm;             /* [q_lora] [rank] */
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
    void **owned;                       /* blocks the model allocated (f32 vectors, views, transposes) */
    int64_t n_owned, cap_owned;
    bool repack;                        /* regroup q4_0/q8_0 matrices for the kernels (llm_model_desc.no_repack) */
    llm_pool *load_pool;                /* threads that regroup them, while loading */
    const llm_tensor *tok_embd;         /* [V, C] */
    const llm_tensor *pos_embd;         /* [n_ctx_train, C] learned positions (GPT-2), or NULL */
    const llm_tensor *output;           /* [V, C] (= tok_embd when tied) */
    const float *output_b;              /* [V] or NULL (Phi) */
    const float *out_norm, *out_norm_b; /* [C] */
    llm__layer *layers;                 /* [L] */
    float *inv_freq, *inv_freq_local;   /* [n_rot/2] rope frequencies: full / sliding layers */
    float rope_mscale, rope_mscale_local;
    const char *const *renames[2];      /* alternative tensor names: the family's, a wrapper's (llm__model_tensor) */
};

/* ---- rope frequencies ----
   inv_freq[i] = theta^(-2i/n_rot), then rescaled by the rope type's rule (formulas as in
   transformers' modeling_rope_utils.py). mscale scales cos/sin (YaRN, LongRoPE). Two types
   depend on how long the sequence has grown (seq_len = last position + 1 of the current
   forward call, as transformers' dynamic_rope_update computes it): dynamic NTK raises the
   base past the trained context, LongRoPE switches from short to long factors past the
   original context. 0 = not past either. One difference remains: transformers' dynamic
   rope keeps the largest base it has seen until the length drops below the trained
   context, so after a rewind that stays above it, it uses a longer length than we do. */
static double llm__yarn_mscale(double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * log(scale) + 1.0; }

static void llm__rope_yarn(const llm__rope_cfg *r, int64_t n_rot, float *inv_freq, float *mscale) {
    double d = (double)n_rot, base = r->theta;
    double lo = d * log(r->orig_ctx / (r->beta_fast * 2 * M_PI)) / (2 * log(base));
    double hi = d * log(r->orig_ctx / (r->beta_slow * 2 * M_PI)) / (2 * log(base));
    if (r->truncate) { lo = floor(lo); hi = ceil(hi); }
    lo = LLM__MAX(lo, 0);
    hi = LLM__MIN(hi, d - 1);
    if (lo == hi) hi += 0.001;
    for (int64_t i = 0; i < n_rot / 2; i++) {   /* ramp 0: extrapolate (keep), 1: interpolate (divide) */
        float ramp = (float)LLM__MIN(LLM__MAX(((double)i - lo) / (hi - lo), 0.0), 1.0), extrap = 1.0f - ramp;
        inv_freq[i] = inv_freq[i] / (float)r->factor * (1.0f - extrap) + inv_freq[i] * extrap;
    }
    double a = r->attn_factor;
    if (a <= 0) a = r->mscale && r->mscale_all_dim ? llm__yarn_mscale(r->factor, r->mscale) / llm__yarn_mscale(r->factor, r->mscale_all_dim)
                                                   : llm__yarn_mscale(r->factor, 1.0);
    *mscale = (float)a;
}

static void llm__rope_llama3(const llm__rope_cfg *r, int64_t n_rot, float *inv_freq) {
    double low_wavelen = r->orig_ctx / r->low_freq_factor, high_wavelen = r->orig_ctx / r->high_freq_factor;
    for (int64_t i = 0; i < n_rot / 2; i++) {   /* slow down low frequencies, keep high ones, blend between */
        double f = inv_freq[i], wavelen = 2 * M_PI / f;
        if (wavelen > low_wavelen) f = f / r->factor;
        else if (wavelen >= high_wavelen) {
            double smooth = (r->orig_ctx / wavelen - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
            f = (1 - smooth) * f / r->factor + smooth * f;
        }
        inv_freq[i] = (float)f;
    }
}

static void llm__rope_inv_freq(const llm__rope_cfg *r, int64_t n_rot, int64_t n_ctx_train, int64_t seq_len, float *inv_freq,
                               float *mscale) {
    int64_t half = n_rot / 2;
    double theta = r->theta;
    *mscale = 1.0f;
    if (r->type == LLM__ROPE_DYNAMIC && n_ctx_train > 0 && seq_len > n_ctx_train)   /* NTK-aware base growth */
        theta *= pow(r->factor * (double)seq_len / (double)n_ctx_train - (r->factor - 1), (double)n_rot / (double)(n_rot - 2));
    for (int64_t i = 0; i < half; i++) inv_freq[i] = 1.0f / powf((float)theta, (float)(2 * i) / (float)n_rot);
    switch (r->type) {
    case LLM__ROPE_DEFAULT:
    case LLM__ROPE_DYNAMIC:
        break;
    case LLM__ROPE_LINEAR:
        for (int64_t i = 0; i < half; i++) inv_freq[i] /= (float)r->factor;
        break;
    case LLM__ROPE_LLAMA3:
        llm__rope_llama3(r, n_rot, inv_freq);
        break;
    case LLM__ROPE_YARN:
        llm__rope_yarn(r, n_rot, inv_freq, mscale);
        break;
    case LLM__ROPE_LONGROPE: {  /* Phi-3: per-frequency divisors, short or long by sequence length */
        const float *ext = seq_len > r->orig_ctx ? r->long_factor : r->short_factor;
        for (int64_t i = 0; i < half; i++) inv_freq[i] /= i < r->n_factors ? ext[i] : 1.0f;
        double a = r->attn_factor;
        if (a <= 0) a = r->factor <= 1 ? 1.0 : sqrt(1 + log(r->factor) / log(r->orig_ctx));
        *mscale = (float)a;
        break;
    }
    }
}

/* Whether a rope's frequencies change with the sequence length (then the forward pass
   recomputes them per call). */
static bool llm__rope_dynamic(const llm__rope_cfg *r) { return r->type == LLM__ROPE_DYNAMIC || r->type == LLM__ROPE_LONGROPE; }

/* ---- binding tensors by name ---- */

static const llm_tensor *llm__model_find(const llm_model *m, const char *name) {
    if (m->st) return llm_safetensors_find(m->st, name);
    for (int64_t i = 0; i < m->n_views; i++) if (!strcmp(m->views[i].name, name)) return &m->views[i];
    return NULL;
}

/* By name, else under the names the model's rename rules give it: pairs (from, to), a
   name starting with `from` may be stored as `to` + the rest (GPT-2 without "transformer.",
   a multimodal checkpoint's language model under "language_model."). */
static const llm_tensor *llm__model_tensor(const llm_model *m, const char *name) {
    const llm_tensor *t = llm__model_find(m, name);
    for (int r = 0; r < 2 && !t; r++)
        for (const char *const *p = m->renames[r]; p && p[0] && !t; p += 2) {
            size_t n = strlen(p[0]);
            char alt[512];
            if (!strncmp(name, p[0], n) && (size_t)snprintf(alt, sizeof alt, "%s%s", p[1], name + n) < sizeof alt) t = llm__model_find(m, alt);
        }
    return t;
}

/* Zeroed memory owned by the model (freed with it). */
static void *llm__model_own_raw(llm_model *m, size_t bytes) {
    if (m->n_owned == m->cap_owned) {
        int64_t cap = m->cap_owned ? 2 * m->cap_owned : 64;
        void **p = (void **)realloc(m->owned, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        m->owned = p;
        m->cap_owned = cap;
    }
    void *v = llm__alloc(&m->alloc, bytes ? bytes : 1);
    if (v) m->owned[m->n_owned++] = v;
    return v;
}

static void *llm__model_own(llm_model *m, size_t bytes) {
    void *v = llm__model_own_raw(m, bytes);
    if (v) memset(v, 0, bytes);
    return v;
}

static bool llm__float_dtype(llm_dtype d) { return d == LLM_DTYPE_F32 || d == LLM_DTYPE_F16 || d == LLM_DTYPE_BF16; }

/* >>mlx-model: MLX-quantized matrices (packed u32 weights beside .scales/.biases), 53_mlx_model.c */
static llm_status llm__bind_mlx(llm_model *m, const char *name, const llm_tensor *w, int64_t rows, int64_t cols, const llm_tensor **out);
static llm_status llm__bind_mlx_expert(llm_model *m, const char *name, const llm_tensor *w, int64_t e, int64_t rows, int64_t cols,
                                       const llm_tensor **out);
static const llm_tensor *llm__mlx_rows(llm_model *m, const llm_tensor *t, int64_t row0, int64_t n_rows);

/* Matrices may be in any dtype with a matmul kernel (the float ones, GGUF's block types);
   the reference table is asked so that a forced switch to it finds every kernel. */
static bool llm__matmul_dtype(llm_dtype d) { return (unsigned)d < LLM_DTYPE_COUNT && llm__kernels_scalar.matmul[d]; }

/* A matrix [rows, cols] in a dtype the matmul kernels take; NULL (and LLM_OK) when absent and optional. */
static llm_status llm__bind_mat(llm_model *m, const char *name, int64_t rows, int64_t cols, bool required, const llm_tensor **out) {
    const llm_tensor *t = llm__model_tensor(m, name);
    *out = NULL;
    if (!t) return required ? llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing", m->path, name) : LLM_OK;
    if (t->dtype == LLM_DTYPE_U32) return llm__bind_mlx(m, name, t, rows, cols, out);   /* >>mlx-model */
    if (t->n_dims == 1 && rows == 1 && t->shape[0] == cols) {   /* a vector as the one-row matrix (GGUF's Qwen2-MoE shared gate) */
        llm_tensor *v = (llm_tensor *)llm__model_own(m, sizeof *v);
        if (!v) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
        *v = *t;
        v->n_dims = 2, v->shape[0] = 1, v->shape[1] = cols;
        t = v;
    }
    if (t->n_dims != 2 || t->shape[0] != rows || t->shape[1] != cols)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]", m->path, name,
                         (long long)t->shape[0], (long long)(t->n_dims > 1 ? t->shape[1] : 0), (long long)rows, (long long)cols);
    if (!llm__matmul_dtype(t->dtype))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, which no matmul kernel takes", m->path, name, llm__dtypes[t->dtype].name);
    *out = t;
    return LLM_OK;
}

/* A q4_0, q8_0, q4_K or q6_K matrix or stack whose slices (experts, fused parts) are whole
   groups of `slice_rows` rows, 8 dividing them, becomes q4_0_r8 ... q6_K_r8 (23_kernels_ggml.c)
   when the kernels in use read that faster: a copy the model owns, made once (by all cores);
   the file's pages are let go. */
typedef struct {
    llm_dtype base;
    const uint8_t *src;
    uint8_t *dst;
    int64_t n_groups, k;
    size_t src_group, dst_group;   /* bytes of 8 rows */
} llm__repack_task;

static void llm__repack_worker(void *ctx, int ith, int nth) {
    const llm__repack_task *r = (const llm__repack_task *)ctx;
    int64_t g0, g1;
    llm__split(r->n_groups, ith, nth, &g0, &g1);
    for (int64_t g = g0; g < g1; g++) llm__r8_pack(r->base, r->src + g * r->src_group, r->dst + g * r->dst_group, r->k);
}

static llm_status llm__repack(llm_model *m, const llm_tensor **t, int64_t slice_rows) {
    const llm_tensor *src = *t;
    llm_dtype r8 = llm__r8_of(src->dtype);
    if (!m->repack || r8 == LLM_DTYPE_COUNT || !llm__k->matmul_q8[r8] || slice_rows % 8) return LLM_OK;
    int64_t k = src->shape[src->n_dims - 1];
    llm__repack_task task = { src->dtype, (const uint8_t *)src->data, NULL, llm_tensor_n_elems(src) / k / 8, k,
                              8 * llm_dtype_n_bytes(src->dtype, k), 8 * llm_dtype_n_bytes(r8, k) };
    llm_tensor *v = (llm_tensor *)llm__model_own(m, sizeof *v);
    task.dst = (uint8_t *)llm__model_own_raw(m, (size_t)task.n_groups * task.dst_group);
    if (!v || !task.dst) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory regrouping '%s'", m->path, src->name);
    if (!m->load_pool && llm_pool_create(0, &m->load_pool)) m->load_pool = NULL;   /* no threads: one does it all */
    llm__parallel_for(m->load_pool, llm__repack_worker, &task);
    *v = *src;
    v->dtype = r8;
    v->data = task.dst;
    v->n_bytes = (size_t)task.n_groups * task.dst_group;
    llm__map_release(&m->bin, src->data, (size_t)task.n_groups * task.src_group);
    *t = v;
    return LLM_OK;
}

/* Row r of a bound matrix as f32: float, GGUF blocks, regrouped or MLX-quantized. */
static void llm__mat_row_f32(const llm_tensor *w, int64_t r, float *out) {
    int64_t k = w->shape[w->n_dims - 1];
    if (w->dtype == LLM_DTYPE_MLX_AFFINE) llm__mlx_row_f32((const llm__qmat *)w->data, r, out);   /* >>mlx-model */
    else if (llm__is_r8(w->dtype)) llm__r8_row_f32(w->dtype, (const uint8_t *)w->data, k, r, out);
    else (void)llm_dequantize(w->dtype, (const uint8_t *)w->data + (size_t)r * llm_dtype_n_bytes(w->dtype, k), out, k);
}

/* A vector [n], converted to f32 and owned by the model. */
static llm_status llm__bind_vec(llm_model *m, const char *name, int64_t n, bool required, const float **out) {
    const llm_tensor *t = llm__model_tensor(m, name);
    *out = NULL;
    if (!t) return required ? llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing", m->path, name) : LLM_OK;
    if (t->n_dims != 1 || t->shape[0] != n)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has %d dims of which the first is %lld, expected [%lld]", m->path, name,
                         t->n_dims, (long long)(t->n_dims ? t->shape[0] : 0), (long long)n);
    if (!llm__float_dtype(t->dtype))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, not f32/f16/bf16", m->path, name, llm__dtypes[t->dtype].name);
    float *v = (float *)llm__model_own(m, (size_t)n * sizeof *v);
    if (!v) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    llm_convert(LLM_DTYPE_F32, v, t->dtype, t->data, n);
    *out = v;
    return LLM_OK;
}

/* A view of rows [row0, row0 + n_rows) of a matrix (or of matrix `index` of a stack
   [E, rows, cols]): the weights stay where they are, only the description is new. */
static const llm_tensor *llm__model_view(llm_model *m, const llm_tensor *t, int64_t index, int64_t row0, int64_t n_rows) {
    if (t->dtype == LLM_DTYPE_MLX_AFFINE) return llm__mlx_rows(m, t, row0, n_rows);   /* >>mlx-model (never a stack) */
    llm_tensor *v = (llm_tensor *)llm__model_own(m, sizeof *v);
    if (!v) return NULL;
    int64_t rows = t->shape[t->n_dims - 2], cols = t->shape[t->n_dims - 1];
    size_t row_bytes = llm_dtype_n_bytes(t->dtype, cols);
    v->name = t->name;
    v->dtype = t->dtype;
    v->n_dims = 2;
    v->shape[0] = n_rows;
    v->shape[1] = cols;
    v->data = (uint8_t *)t->data + ((size_t)index * (size_t)rows + (size_t)row0) * row_bytes;
    v->n_bytes = (size_t)n_rows * row_bytes;
    return v;
}

/* GPT-2's Conv1D keeps weights as [in, out]; the matmul kernels want rows of the output, so
   this is the one place a matrix is copied: transposed once into memory the model owns (in
   its own dtype). A strided kernel for every dtype would cost more than the copy does. */
static llm_status llm__bind_transposed(llm_model *m, const char *name, int64_t rows, int64_t cols, const llm_tensor **out) {
    const llm_tensor *t;
    llm_status s = llm__bind_mat(m, name, cols, rows, true, &t);
    if (s) return s;
    size_t es = llm__dtypes[t->dtype].block_bytes;
    llm_tensor *v = (llm_tensor *)llm__model_own(m, sizeof *v);
    uint8_t *d = (uint8_t *)llm__model_own(m, (size_t)(rows * cols) * es);
    if (!v || !d) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) memcpy(d + (size_t)(r * cols + c) * es, (const uint8_t *)t->data + (size_t)(c * rows + r) * es, es);
    *v = *t;
    v->shape[0] = rows;
    v->shape[1] = cols;
    v->data = d;
    *out = v;
    return LLM_OK;
}

/* ---- weight tables ----
   A family's weights are described by data, not code: each entry names a tensor (after
   the layer prefix), its shape in symbols resolved per model, and the llm__layer slot it
   fills. Other loaders (GGUF) can map their own names onto the same slots. */
typedef enum {
    LLM__DIM_NONE, LLM__DIM_C, LLM__DIM_Q, LLM__DIM_KV, LLM__DIM_QKV, LLM__DIM_HD, LLM__DIM_F, LLM__DIM_F2, LLM__DIM_FS,
    LLM__DIM_E, LLM__DIM_SG, LLM__DIM_QA, LLM__DIM_QB, LLM__DIM_QP, LLM__DIM_KVA, LLM__DIM_KVR, LLM__DIM_KVB, LLM__DIM_OV
} llm__dim;

/* Sizes of each symbol. A symbol that is 0 in a model (no shared expert, no q_lora) makes
   its entries absent: they are skipped, not looked up. */

static int64_t llm__dim_size(const llm__hparams *hp, llm__dim d) {
    int64_t H = hp->n_heads, D = hp->head_dim, Q = H * D, KV = hp->n_kv_heads * D;
    switch (d) {
    case LLM__DIM_NONE: return 0;
    case LLM__DIM_C:    return hp->n_embd;
    case LLM__DIM_Q:    return Q;
    case LLM__DIM_KV:   return KV;
    case LLM__DIM_QKV:  return Q + 2 * KV;
    case LLM__DIM_HD:   return D;
    case LLM__DIM_F:    return hp->n_ff;
    case LLM__DIM_F2:   return 2 * hp->n_ff;
    case LLM__DIM_FS:   return hp->n_ff_shared;
    case LLM__DIM_E:    return hp->n_experts;
    case LLM__DIM_SG:   return hp->n_ff_shared ? 1 : 0;      /* the shared expert's gate */
    case LLM__DIM_QA:   return hp->q_lora_rank;
    case LLM__DIM_QB:   return H * (hp->qk_nope_dim + hp->qk_rope_dim);
    case LLM__DIM_QP:   return hp->q_lora_rank ? 0 : H * (hp->qk_nope_dim + hp->qk_rope_dim);   /* MLA without q_lora */
    case LLM__DIM_KVA:  return hp->kv_lora_rank + hp->qk_rope_dim;
    case LLM__DIM_KVR:  return hp->kv_lora_rank;
    case LLM__DIM_KVB:  return H * (hp->qk_nope_dim + hp->v_head_dim);
    case LLM__DIM_OV:   return H * hp->v_head_dim;
    }
    return 0;
}

enum { LLM__W_REQUIRED, LLM__W_OPTIONAL, LLM__W_DENSE, LLM__W_MOE };   /* when an entry must be present */

typedef struct llm__wspec {
    const char *name;            /* NULL ends a table */
    uint8_t when;                /* LLM__W_*: DENSE / MOE entries are required in those layers only */
    uint8_t rows, cols;          /* llm__dim; cols NONE: a vector [rows] */
    bool transposed;             /* stored [cols, rows] (Conv1D) */
    uint16_t slot[3];            /* offsetof(llm__layer, ...) of each part */
    uint8_t part[3];             /* rows of each part: a fused matrix is split into row views (Phi-3 qkv_proj) */
} llm__wspec;

#define LLM__WMAT(name, when, slot, r, c) { name, when, r, c, false, { offsetof(llm__layer, slot) }, { r } }
#define LLM__WVEC(name, when, slot, n)    { name, when, n, LLM__DIM_NONE, false, { offsetof(llm__layer, slot) }, { n } }
#define LLM__WEND                         { NULL, 0, 0, 0, false, { 0 }, { 0 } }

/* Names of a family: the layer prefix (printf pattern of the layer index), the global
   tensors, the per-layer table, and where MoE experts live: per expert (expert pattern of
   the expert index + gate/up/down names) or stacked [E, F, C] (MLX switch_mlp). */
typedef struct llm__names {
    const char *layer;
    const char *embed, *pos_embed, *out_norm, *out_norm_b, *output, *output_b;
    const llm__wspec *w[6];      /* tables, each ended by a NULL name */
    const char *expert;          /* e.g. "mlp.experts.%lld." */
    const char *expert_w[3];     /* gate, up, down after the expert prefix */
    const char *stacked[3];      /* gate, up, down stacks after the layer prefix */
    const char *const *renames;  /* alternative names (llm__model_tensor), NULL-terminated pairs */
} llm__names;

static llm_status llm__bind_entry(llm_model *m, const llm__wspec *w, const char *name, bool moe_layer, llm__layer *l) {
    const llm__hparams *hp = &m->hp;
    bool required = w->when == LLM__W_REQUIRED || (w->when == LLM__W_DENSE && !moe_layer) || (w->when == LLM__W_MOE && moe_layer);
    if ((w->when == LLM__W_DENSE && moe_layer) || (w->when == LLM__W_MOE && !moe_layer)) return LLM_OK;
    int64_t rows = llm__dim_size(hp, (llm__dim)w->rows), cols = llm__dim_size(hp, (llm__dim)w->cols);
    if (!rows || (w->cols && !cols)) return LLM_OK;
    if (!cols) {   /* a vector, possibly fused (GPT-2's c_attn bias): parts point into it */
        const float *v;
        llm_status s = llm__bind_vec(m, name, rows, required, &v);
        for (int64_t i = 0, at = 0; i < 3 && v && w->part[i]; at += llm__dim_size(hp, (llm__dim)w->part[i]), i++)
            *(const float **)((char *)l + w->slot[i]) = v + at;
        return s;
    }
    const llm_tensor *t;
    llm_status s = w->transposed ? llm__bind_transposed(m, name, rows, cols, &t) : llm__bind_mat(m, name, rows, cols, required, &t);
    if (s || !t) return s;
    int64_t slice_rows = rows;   /* the fused parts must be whole groups too */
    for (int i = 0; i < 3 && w->part[1] && w->part[i]; i++) slice_rows = llm__dim_size(hp, (llm__dim)w->part[i]) % 8 ? 1 : slice_rows;
    if ((s = llm__repack(m, &t, slice_rows))) return s;
    if (!w->part[1]) { *(const llm_tensor **)((char *)l + w->slot[0]) = t; return LLM_OK; }
    for (int64_t i = 0, row0 = 0; i < 3 && w->part[i]; row0 += llm__dim_size(hp, (llm__dim)w->part[i]), i++) {
        const llm_tensor *v = llm__model_view(m, t, 0, row0, llm__dim_size(hp, (llm__dim)w->part[i]));
        if (!v) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
        *(const llm_tensor **)((char *)l + w->slot[i]) = v;
    }
    return LLM_OK;
}

/* The routed experts of one layer: per-expert tensors, else slices of stacked ones. */
static llm_status llm__bind_experts(llm_model *m, const llm__names *nm, const char *prefix, llm__layer *l) {
    const llm__hparams *hp = &m->hp;
    int64_t E = hp->n_experts, F = hp->n_ff_expert, C = hp->n_embd;
    char n[512], ep[256];
    l->experts = (llm__mlp_w *)llm__model_own(m, (size_t)E * sizeof *l->experts);
    if (!l->experts) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    snprintf(ep, sizeof ep, nm->expert, 0LL);
    snprintf(n, sizeof n, "%s%s%s", prefix, ep, nm->expert_w[0]);
    bool stacked = !llm__model_tensor(m, n) && nm->stacked[0];
    for (int j = 0; j < 3; j++) {
        int64_t rows = j == 2 ? C : F, cols = j == 2 ? F : C;
        const llm_tensor *st = NULL;
        if (stacked) {
            snprintf(n, sizeof n, "%s%s", prefix, nm->stacked[j]);
            st = llm__model_tensor(m, n);
            if (!st) return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing (and so are per-expert tensors)", m->path, n);
            bool packed = st->dtype == LLM_DTYPE_U32;         /* >>mlx-model: quantized stack, checked per expert */
            if (st->n_dims != 3 || st->shape[0] != E || st->shape[1] != rows || (!packed && (st->shape[2] != cols || !llm__matmul_dtype(st->dtype))))
                return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is not a stack [%lld, %lld, %lld]", m->path, n, (long long)E,
                                 (long long)rows, (long long)cols);
            llm_status s = llm__repack(m, &st, rows);
            if (s) return s;
        }
        for (int64_t e = 0; e < E; e++) {
            const llm_tensor **slot = j == 0 ? &l->experts[e].gate : j == 1 ? &l->experts[e].up : &l->experts[e].down;
            llm_status s = LLM_OK;
            if (st && st->dtype == LLM_DTYPE_U32) {
                s = llm__bind_mlx_expert(m, n, st, e, rows, cols, slot);   /* >>mlx-model */
            } else if (st) {
                if (!(*slot = llm__model_view(m, st, e, 0, rows))) s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
            } else {
                snprintf(ep, sizeof ep, nm->expert, (long long)e);
                char en[512];
                snprintf(en, sizeof en, "%s%s%s", prefix, ep, nm->expert_w[j]);
                s = llm__bind_mat(m, en, rows, cols, true, slot);
                if (!s) s = llm__repack(m, slot, rows);
            }
            if (s) return s;
        }
    }
    return LLM_OK;
}

static llm_status llm__bind_names(llm_model *m, const llm__names *nm) {
    const llm__hparams *hp = &m->hp;
    int64_t C = hp->n_embd, V = hp->n_vocab;
    m->renames[0] = nm->renames;
    if (!nm->expert) m->hp.n_experts = 0;   /* expert counts in the config of a family without experts mean nothing */
    llm_status s = llm__bind_mat(m, nm->embed, V, C, true, &m->tok_embd);
    if (!s && nm->pos_embed) s = llm__bind_mat(m, nm->pos_embed, hp->n_ctx_train, C, true, &m->pos_embd);
    if (!s) s = llm__bind_vec(m, nm->out_norm, C, true, &m->out_norm);
    if (!s && nm->out_norm_b) s = llm__bind_vec(m, nm->out_norm_b, C, false, &m->out_norm_b);
    if (!s) s = llm__bind_mat(m, nm->output, V, C, !hp->tie_embeddings, &m->output);
    if (!s && m->output) s = llm__repack(m, &m->output, V);
    if (!s && nm->output_b) s = llm__bind_vec(m, nm->output_b, V, false, &m->output_b);
    if (!s && !m->output && !(s = llm__repack(m, &m->tok_embd, V))) m->output = m->tok_embd;   /* tied: rows for the embedding too */
    for (int64_t il = 0; il < hp->n_layers && !s; il++) {
        char prefix[256], n[512];
        bool moe = hp->n_experts && hp->layer_moe[il];
        snprintf(prefix, sizeof prefix, nm->layer, (long long)il);
        for (int i = 0; i < LLM__COUNT(nm->w) && nm->w[i]; i++)
            for (const llm__wspec *w = nm->w[i]; w->name && !s; w++) {
                snprintf(n, sizeof n, "%s%s", prefix, w->name);
                s = llm__bind_entry(m, w, n, moe, &m->layers[il]);
            }
        if (!s && moe) s = llm__bind_experts(m, nm, prefix, &m->layers[il]);
    }
    return s;
}
/* ==== end llm_impl/51_model.c ==== */
/* ==== begin llm_impl/52_load.c ==== */
/* ---- >>load: the architecture table and llm_model_load ----
   One place lists the supported architectures. An entry is a model_type, a configure
   function where the family's quirks are not in config.json's common fields (NULL: none),
   and the names of its tensors: weight tables mapping Hugging Face names onto llm__layer
   slots. A new family is a table entry, perhaps a small configure function, and perhaps a
   weight table; the forward pass is shared. */
/* #include "10_internal.h" (already above) */

/* ---- weight tables (51_model.c explains the format) ---- */
#define LLM__R LLM__W_REQUIRED
#define LLM__O LLM__W_OPTIONAL
#define LLM__D LLM__W_DENSE
#define LLM__M LLM__W_MOE

static const llm__wspec llm__w_attn[] = {      /* separate q/k/v/o, optional biases and per-head q/k norms */
    LLM__WMAT("self_attn.q_proj.weight", LLM__R, wq, LLM__DIM_Q, LLM__DIM_C),
    LLM__WMAT("self_attn.k_proj.weight", LLM__R, wk, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.v_proj.weight", LLM__R, wv, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.o_proj.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    LLM__WVEC("self_attn.q_proj.bias", LLM__O, bq, LLM__DIM_Q), LLM__WVEC("self_attn.k_proj.bias", LLM__O, bk, LLM__DIM_KV),
    LLM__WVEC("self_attn.v_proj.bias", LLM__O, bv, LLM__DIM_KV), LLM__WVEC("self_attn.o_proj.bias", LLM__O, bo, LLM__DIM_C),
    LLM__WVEC("self_attn.q_norm.weight", LLM__O, q_norm, LLM__DIM_HD), LLM__WVEC("self_attn.k_norm.weight", LLM__O, k_norm, LLM__DIM_HD),
    LLM__WEND,
};
static const llm__wspec llm__w_norms[] = {     /* pre-norms; LayerNorm biases where the checkpoint has them */
    LLM__WVEC("input_layernorm.weight", LLM__R, attn_norm, LLM__DIM_C), LLM__WVEC("input_layernorm.bias", LLM__O, attn_norm_b, LLM__DIM_C),
    LLM__WVEC("post_attention_layernorm.weight", LLM__R, ffn_norm, LLM__DIM_C),
    LLM__WVEC("post_attention_layernorm.bias", LLM__O, ffn_norm_b, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_mlp[] = {       /* gated MLP of dense layers */
    LLM__WMAT("mlp.gate_proj.weight", LLM__D, ffn.gate, LLM__DIM_F, LLM__DIM_C),
    LLM__WMAT("mlp.up_proj.weight", LLM__D, ffn.up, LLM__DIM_F, LLM__DIM_C),
    LLM__WMAT("mlp.down_proj.weight", LLM__D, ffn.down, LLM__DIM_C, LLM__DIM_F),
    LLM__WVEC("mlp.up_proj.bias", LLM__O, b_up, LLM__DIM_F), LLM__WVEC("mlp.down_proj.bias", LLM__O, b_down, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_gemma2_norms[] = {   /* Gemma 2/3: a norm before and after each block */
    LLM__WVEC("input_layernorm.weight", LLM__R, attn_norm, LLM__DIM_C),
    LLM__WVEC("post_attention_layernorm.weight", LLM__R, post_attn_norm, LLM__DIM_C),
    LLM__WVEC("pre_feedforward_layernorm.weight", LLM__R, ffn_norm, LLM__DIM_C),
    LLM__WVEC("post_feedforward_layernorm.weight", LLM__R, post_ffn_norm, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_olmo2[] = {     /* OLMo 2: norms after the blocks only; q/k norm over all heads */
    LLM__WVEC("post_attention_layernorm.weight", LLM__R, post_attn_norm, LLM__DIM_C),
    LLM__WVEC("post_feedforward_layernorm.weight", LLM__R, post_ffn_norm, LLM__DIM_C),
    LLM__WMAT("self_attn.q_proj.weight", LLM__R, wq, LLM__DIM_Q, LLM__DIM_C),
    LLM__WMAT("self_attn.k_proj.weight", LLM__R, wk, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.v_proj.weight", LLM__R, wv, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.o_proj.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    LLM__WVEC("self_attn.q_norm.weight", LLM__R, q_norm, LLM__DIM_Q), LLM__WVEC("self_attn.k_norm.weight", LLM__R, k_norm, LLM__DIM_KV),
    LLM__WEND,
};
static const llm__wspec llm__w_input_norm[] = {   /* one norm feeding both branches of a parallel block */
    LLM__WVEC("input_layernorm.weight", LLM__R, attn_norm, LLM__DIM_C), LLM__WVEC("input_layernorm.bias", LLM__O, attn_norm_b, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_phi[] = {
    LLM__WMAT("self_attn.q_proj.weight", LLM__R, wq, LLM__DIM_Q, LLM__DIM_C),
    LLM__WMAT("self_attn.k_proj.weight", LLM__R, wk, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.v_proj.weight", LLM__R, wv, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("self_attn.dense.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    LLM__WVEC("self_attn.q_proj.bias", LLM__O, bq, LLM__DIM_Q), LLM__WVEC("self_attn.k_proj.bias", LLM__O, bk, LLM__DIM_KV),
    LLM__WVEC("self_attn.v_proj.bias", LLM__O, bv, LLM__DIM_KV), LLM__WVEC("self_attn.dense.bias", LLM__O, bo, LLM__DIM_C),
    LLM__WMAT("mlp.fc1.weight", LLM__R, ffn.up, LLM__DIM_F, LLM__DIM_C), LLM__WVEC("mlp.fc1.bias", LLM__O, b_up, LLM__DIM_F),
    LLM__WMAT("mlp.fc2.weight", LLM__R, ffn.down, LLM__DIM_C, LLM__DIM_F), LLM__WVEC("mlp.fc2.bias", LLM__O, b_down, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_starcoder2_mlp[] = {
    LLM__WMAT("mlp.c_fc.weight", LLM__R, ffn.up, LLM__DIM_F, LLM__DIM_C), LLM__WVEC("mlp.c_fc.bias", LLM__O, b_up, LLM__DIM_F),
    LLM__WMAT("mlp.c_proj.weight", LLM__R, ffn.down, LLM__DIM_C, LLM__DIM_F), LLM__WVEC("mlp.c_proj.bias", LLM__O, b_down, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_phi3[] = {      /* fused projections, split into row views */
    { "self_attn.qkv_proj.weight", LLM__R, LLM__DIM_QKV, LLM__DIM_C, false,
      { offsetof(llm__layer, wq), offsetof(llm__layer, wk), offsetof(llm__layer, wv) }, { LLM__DIM_Q, LLM__DIM_KV, LLM__DIM_KV } },
    LLM__WMAT("self_attn.o_proj.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    { "mlp.gate_up_proj.weight", LLM__R, LLM__DIM_F2, LLM__DIM_C, false,
      { offsetof(llm__layer, ffn.gate), offsetof(llm__layer, ffn.up) }, { LLM__DIM_F, LLM__DIM_F } },
    LLM__WMAT("mlp.down_proj.weight", LLM__R, ffn.down, LLM__DIM_C, LLM__DIM_F),
    LLM__WEND,
};
static const llm__wspec llm__w_gpt_neox[] = {  /* q, k, v interleaved per head: one matmul, split per head later */
    LLM__WMAT("attention.query_key_value.weight", LLM__R, wqkv, LLM__DIM_QKV, LLM__DIM_C),
    LLM__WVEC("attention.query_key_value.bias", LLM__O, bqkv, LLM__DIM_QKV),
    LLM__WMAT("attention.dense.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q), LLM__WVEC("attention.dense.bias", LLM__O, bo, LLM__DIM_C),
    LLM__WMAT("mlp.dense_h_to_4h.weight", LLM__R, ffn.up, LLM__DIM_F, LLM__DIM_C),
    LLM__WVEC("mlp.dense_h_to_4h.bias", LLM__O, b_up, LLM__DIM_F),
    LLM__WMAT("mlp.dense_4h_to_h.weight", LLM__R, ffn.down, LLM__DIM_C, LLM__DIM_F),
    LLM__WVEC("mlp.dense_4h_to_h.bias", LLM__O, b_down, LLM__DIM_C),
    LLM__WEND,
};
#define LLM__WT(name, slot, r, c) { name, LLM__R, r, c, true, { offsetof(llm__layer, slot) }, { r } }
static const llm__wspec llm__w_gpt2[] = {      /* Conv1D weights are [in, out]: transposed at load */
    LLM__WVEC("ln_1.weight", LLM__R, attn_norm, LLM__DIM_C), LLM__WVEC("ln_1.bias", LLM__O, attn_norm_b, LLM__DIM_C),
    LLM__WVEC("ln_2.weight", LLM__R, ffn_norm, LLM__DIM_C), LLM__WVEC("ln_2.bias", LLM__O, ffn_norm_b, LLM__DIM_C),
    { "attn.c_attn.weight", LLM__R, LLM__DIM_QKV, LLM__DIM_C, true,
      { offsetof(llm__layer, wq), offsetof(llm__layer, wk), offsetof(llm__layer, wv) }, { LLM__DIM_Q, LLM__DIM_KV, LLM__DIM_KV } },
    { "attn.c_attn.bias", LLM__O, LLM__DIM_QKV, LLM__DIM_NONE, false,
      { offsetof(llm__layer, bq), offsetof(llm__layer, bk), offsetof(llm__layer, bv) }, { LLM__DIM_Q, LLM__DIM_KV, LLM__DIM_KV } },
    LLM__WT("attn.c_proj.weight", wo, LLM__DIM_C, LLM__DIM_Q), LLM__WVEC("attn.c_proj.bias", LLM__O, bo, LLM__DIM_C),
    LLM__WT("mlp.c_fc.weight", ffn.up, LLM__DIM_F, LLM__DIM_C), LLM__WVEC("mlp.c_fc.bias", LLM__O, b_up, LLM__DIM_F),
    LLM__WT("mlp.c_proj.weight", ffn.down, LLM__DIM_C, LLM__DIM_F), LLM__WVEC("mlp.c_proj.bias", LLM__O, b_down, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_router[] = {    /* Qwen MoE, DeepSeek */
    LLM__WMAT("mlp.gate.weight", LLM__M, router, LLM__DIM_E, LLM__DIM_C),
    LLM__WVEC("mlp.gate.e_score_correction_bias", LLM__O, router_bias, LLM__DIM_E),
    LLM__WEND,
};
static const llm__wspec llm__w_qwen_shared[] = {   /* Qwen2-MoE's shared expert and its sigmoid gate */
    LLM__WMAT("mlp.shared_expert.gate_proj.weight", LLM__M, shared.gate, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("mlp.shared_expert.up_proj.weight", LLM__M, shared.up, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("mlp.shared_expert.down_proj.weight", LLM__M, shared.down, LLM__DIM_C, LLM__DIM_FS),
    LLM__WMAT("mlp.shared_expert_gate.weight", LLM__M, shared_gate, LLM__DIM_SG, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__w_deepseek[] = {  /* MLA; shared experts under their DeepSeek name */
    LLM__WMAT("self_attn.q_proj.weight", LLM__R, wq, LLM__DIM_QP, LLM__DIM_C),
    LLM__WMAT("self_attn.q_a_proj.weight", LLM__R, wq_a, LLM__DIM_QA, LLM__DIM_C),
    LLM__WVEC("self_attn.q_a_layernorm.weight", LLM__R, q_a_norm, LLM__DIM_QA),
    LLM__WMAT("self_attn.q_b_proj.weight", LLM__R, wq_b, LLM__DIM_QB, LLM__DIM_QA),
    LLM__WMAT("self_attn.kv_a_proj_with_mqa.weight", LLM__R, wkv_a, LLM__DIM_KVA, LLM__DIM_C),
    LLM__WVEC("self_attn.kv_a_layernorm.weight", LLM__R, kv_a_norm, LLM__DIM_KVR),
    LLM__WMAT("self_attn.kv_b_proj.weight", LLM__O, wkv_b, LLM__DIM_KVB, LLM__DIM_KVR),
    LLM__WMAT("self_attn.o_proj.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_OV),
    LLM__WMAT("mlp.shared_experts.gate_proj.weight", LLM__M, shared.gate, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("mlp.shared_experts.up_proj.weight", LLM__M, shared.up, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("mlp.shared_experts.down_proj.weight", LLM__M, shared.down, LLM__DIM_C, LLM__DIM_FS),
    LLM__WEND,
};
static const llm__wspec llm__w_mixtral[] = {
    LLM__WMAT("block_sparse_moe.gate.weight", LLM__M, router, LLM__DIM_E, LLM__DIM_C),
    LLM__WEND,
};
#undef LLM__WT

#define LLM__HF_GLOBALS .layer = "model.layers.%lld.", .embed = "model.embed_tokens.weight", .out_norm = "model.norm.weight", \
    .out_norm_b = "model.norm.bias", .output = "lm_head.weight"
#define LLM__HF_EXPERTS .expert = "mlp.experts.%lld.", .expert_w = { "gate_proj.weight", "up_proj.weight", "down_proj.weight" }, \
    .stacked = { "mlp.switch_mlp.gate_proj.weight", "mlp.switch_mlp.up_proj.weight", "mlp.switch_mlp.down_proj.weight" }

static const llm__names llm__names_llama = { LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_norms, llm__w_mlp } };
static const llm__names llm__names_gemma2 = { LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_gemma2_norms, llm__w_mlp } };
static const llm__names llm__names_olmo2 = { LLM__HF_GLOBALS, .w = { llm__w_olmo2, llm__w_mlp } };
static const llm__names llm__names_cohere = { LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_input_norm, llm__w_mlp } };
static const llm__names llm__names_starcoder2 = { LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_norms, llm__w_starcoder2_mlp } };
static const llm__names llm__names_phi3 = { LLM__HF_GLOBALS, .w = { llm__w_phi3, llm__w_norms } };
static const llm__names llm__names_phi = {
    .layer = "model.layers.%lld.", .embed = "model.embed_tokens.weight", .out_norm = "model.final_layernorm.weight",
    .out_norm_b = "model.final_layernorm.bias", .output = "lm_head.weight", .output_b = "lm_head.bias", .w = { llm__w_phi, llm__w_input_norm },
};
static const llm__names llm__names_moe = {
    LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_norms, llm__w_mlp, llm__w_router, llm__w_qwen_shared }, LLM__HF_EXPERTS,
};
static const llm__names llm__names_mixtral = {
    LLM__HF_GLOBALS, .w = { llm__w_attn, llm__w_norms, llm__w_mixtral },
    .expert = "block_sparse_moe.experts.%lld.", .expert_w = { "w1.weight", "w3.weight", "w2.weight" },
    .stacked = { "block_sparse_moe.switch_mlp.gate_proj.weight", "block_sparse_moe.switch_mlp.up_proj.weight",
                 "block_sparse_moe.switch_mlp.down_proj.weight" },
};
static const llm__names llm__names_deepseek = {
    LLM__HF_GLOBALS, .w = { llm__w_deepseek, llm__w_norms, llm__w_mlp, llm__w_router }, LLM__HF_EXPERTS,
};
static const llm__names llm__names_gpt_neox = {
    .layer = "gpt_neox.layers.%lld.", .embed = "gpt_neox.embed_in.weight", .out_norm = "gpt_neox.final_layer_norm.weight",
    .out_norm_b = "gpt_neox.final_layer_norm.bias", .output = "embed_out.weight", .w = { llm__w_gpt_neox, llm__w_norms },
};
static const char *const llm__gpt2_renames[] = { "transformer.", "", NULL };   /* saved as GPT2Model: "h.0.", "wte." */
static const llm__names llm__names_gpt2 = {
    .layer = "transformer.h.%lld.", .embed = "transformer.wte.weight", .pos_embed = "transformer.wpe.weight",
    .out_norm = "transformer.ln_f.weight", .out_norm_b = "transformer.ln_f.bias", .output = "lm_head.weight", .w = { llm__w_gpt2 },
    .renames = llm__gpt2_renames,
};
#undef LLM__R
#undef LLM__O
#undef LLM__D
#undef LLM__M

/* llama.c's loader and the Llama-shaped families bind through this. */
static llm_status llm__bind_hf(llm_model *m) { return llm__bind_names(m, &llm__names_llama); }

/* ---- family quirks: what config.json alone does not say ---- */

/* Gemma: RMSNorm scales by (1 + w); embeddings times sqrt(C), a scale rounded to the
   weights' dtype as transformers does (modeling_gemma.py: "sqrt(3072)=55.4256 becomes 55.5").
   The activation is hidden_activation, approximate GELU when absent: early Gemma configs say
   "hidden_act": "gelu", which transformers 4 ignored for this reason. */
static llm_status llm__cfg_gemma(llm__hparams *hp, const cJSON *cfg, const char *path) {
    llm_status s = llm__cfg_act(path, llm__json_str(cfg, "hidden_activation", "gelu_pytorch_tanh"), &hp->act);
    if (s) return s;
    hp->norm_add_one = 1.0f;
    hp->embed_scale = sqrtf((float)hp->n_embd);
    hp->round_embed_scale = true;
    return LLM_OK;
}

/* Gemma 2/3: query scale from query_pre_attn_scalar, soft-capping, and (v4 configs without
   layer_types) which layers slide: every other one (Gemma 2), all but every
   sliding_window_pattern-th (Gemma 3). */
static llm_status llm__cfg_gemma2(llm__hparams *hp, const cJSON *cfg, const char *path) {
    llm_status s = llm__cfg_gemma(hp, cfg, path);
    if (s) return s;
    hp->attn_scale = (float)(1.0 / sqrt(llm__json_num(cfg, "query_pre_attn_scalar", (double)hp->head_dim)));
    hp->attn_softcap = (float)llm__json_num(cfg, "attn_logit_softcapping", 0.0);
    hp->final_softcap = (float)llm__json_num(cfg, "final_logit_softcapping", 0.0);
    if (!llm__json_has(cfg, "layer_types") && hp->sliding_window > 0) {
        int64_t pattern = llm__json_int(cfg, "sliding_window_pattern", llm__json_int(cfg, "_sliding_window_pattern", 0));
        for (int64_t il = 0; il < hp->n_layers; il++) hp->layer_sliding[il] = pattern > 0 ? (il + 1) % pattern != 0 : il % 2 == 0;
    }
    return LLM_OK;
}

static llm_status llm__cfg_layernorm(llm__hparams *hp, const cJSON *cfg, const char *path) {
    (void)cfg; (void)path;
    hp->norm = LLM__NORM_LAYER;
    return LLM_OK;
}

/* Phi: attention and MLP side by side on one LayerNorm. */
static llm_status llm__cfg_phi(llm__hparams *hp, const cJSON *cfg, const char *path) {
    if (llm__json_bool(cfg, "qk_layernorm", false)) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: phi with qk_layernorm is not supported", path);
    hp->norm = LLM__NORM_LAYER;
    hp->parallel_block = true;
    return LLM_OK;
}

/* Cohere: parallel block on a LayerNorm without bias, logits scaled, rope on interleaved
   pairs (modeling_cohere.py rotate_half takes x[..., ::2] and x[..., 1::2]). */
static llm_status llm__cfg_cohere(llm__hparams *hp, const cJSON *cfg, const char *path) {
    if (llm__json_bool(cfg, "use_qk_norm", false)) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: cohere with use_qk_norm is not supported", path);
    hp->norm = LLM__NORM_LAYER;
    hp->parallel_block = true;
    hp->rope_interleaved = true;
    hp->logit_scale = (float)llm__json_num(cfg, "logit_scale", 1.0);
    return LLM_OK;
}

static llm_status llm__cfg_gpt_neox(llm__hparams *hp, const cJSON *cfg, const char *path) {
    (void)path;
    hp->norm = LLM__NORM_LAYER;
    hp->parallel_block = llm__json_bool(cfg, "use_parallel_residual", true);
    return LLM_OK;
}

/* GPT-2: learned positions instead of rope, LayerNorm everywhere. */
static llm_status llm__cfg_gpt2(llm__hparams *hp, const cJSON *cfg, const char *path) {
    if (llm__json_bool(cfg, "scale_attn_by_inverse_layer_idx", false) || llm__json_bool(cfg, "reorder_and_upcast_attn", false))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: gpt2 with scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn is not supported", path);
    hp->norm = LLM__NORM_LAYER;
    hp->learned_pos = true;
    memset(hp->layer_rope, 0, (size_t)hp->n_layers);
    if (hp->n_ctx_train <= 0) return llm__fail(LLM_ERR_FORMAT, "%s: gpt2 needs n_positions", path);
    return LLM_OK;
}

static llm_status llm__cfg_olmo2(llm__hparams *hp, const cJSON *cfg, const char *path) {
    (void)cfg; (void)path;
    hp->qk_norm_full = true;
    return LLM_OK;
}

/* Granite: muP-style multipliers on embeddings, residual branches, attention and logits. */
static llm_status llm__cfg_granite(llm__hparams *hp, const cJSON *cfg, const char *path) {
    (void)path;
    hp->embed_scale = (float)llm__json_num(cfg, "embedding_multiplier", 1.0);
    hp->residual_scale = (float)llm__json_num(cfg, "residual_multiplier", 1.0);
    hp->attn_scale = (float)llm__json_num(cfg, "attention_multiplier", hp->attn_scale);
    hp->logit_scale = (float)(1.0 / llm__json_num(cfg, "logits_scaling", 1.0));
    return LLM_OK;
}

/* DeepSeek V2/V3: multi-head latent attention (the rope part of a head is qk_rope_head_dim
   wide, on interleaved pairs), sigmoid-scored group-limited routing. The query scale grows
   with YaRN's mscale_all_dim (modeling_deepseek_v3.py yarn_apply_mscale). */
static llm_status llm__cfg_deepseek(llm__hparams *hp, const cJSON *cfg, const char *path) {
    hp->kv_lora_rank = llm__json_int(cfg, "kv_lora_rank", 0);
    hp->q_lora_rank = llm__json_int(cfg, "q_lora_rank", 0);
    hp->qk_nope_dim = llm__json_int(cfg, "qk_nope_head_dim", 0);
    hp->qk_rope_dim = llm__json_int(cfg, "qk_rope_head_dim", 0);
    hp->v_head_dim = llm__json_int(cfg, "v_head_dim", 0);
    if (hp->kv_lora_rank <= 0 || hp->q_lora_rank < 0 || hp->q_lora_rank > 65536 || hp->qk_nope_dim <= 0 || hp->qk_rope_dim <= 0 || hp->qk_rope_dim % 2 ||
        hp->v_head_dim <= 0 || hp->kv_lora_rank > 65536 || hp->qk_nope_dim > 4096 || hp->qk_rope_dim > 4096 || hp->v_head_dim > 4096)
        return llm__fail(LLM_ERR_FORMAT, "%s: implausible MLA sizes (kv_lora_rank, qk_nope/rope_head_dim, v_head_dim)", path);
    hp->n_kv_heads = hp->n_heads;
    hp->head_dim = hp->n_rot = hp->qk_rope_dim;
    hp->rope_interleaved = llm__json_bool(cfg, "rope_interleave", true);
    double scale = 1.0 / sqrt((double)(hp->qk_nope_dim + hp->qk_rope_dim));
    if (hp->rope.type != LLM__ROPE_DEFAULT && hp->rope.mscale_all_dim) {
        double m = llm__yarn_mscale(hp->rope.factor, hp->rope.mscale_all_dim);
        scale *= m * m;
    }
    hp->attn_scale = (float)scale;
    hp->router = LLM__ROUTER_SIGMOID_GROUPED;
    hp->n_group = llm__json_int(cfg, "n_group", 1);
    hp->topk_group = llm__json_int(cfg, "topk_group", 1);
    if (hp->n_experts && (hp->n_group <= 0 || hp->n_group > 64 || hp->n_experts % hp->n_group || hp->topk_group <= 0 || hp->topk_group > hp->n_group ||
                          hp->n_experts / hp->n_group < 2 || hp->topk_group * (hp->n_experts / hp->n_group) < hp->n_experts_used))
        return llm__fail(LLM_ERR_FORMAT, "%s: n_group %lld / topk_group %lld do not fit %lld experts", path, (long long)hp->n_group,
                         (long long)hp->topk_group, (long long)hp->n_experts);
    return LLM_OK;
}

/* ---- the architecture table ---- */
typedef struct llm__arch {
    const char *name;                                                     /* config model_type */
    llm_status (*configure)(llm__hparams *hp, const cJSON *cfg, const char *path);   /* NULL: none */
    const llm__names *names;                                              /* tensor names and slots */
    const char *defaults;        /* JSON: transformers' defaults for fields a config may omit, or NULL */
} llm__arch;

/* Gemma 3 text configs nested in a multimodal config list only what differs from
   Gemma3TextConfig's defaults (configuration_gemma3.py), so those are needed here. */
static const char llm__gemma3_defaults[] =
    "{\"vocab_size\": 262208, \"hidden_size\": 2304, \"intermediate_size\": 9216, \"num_hidden_layers\": 26,"
    " \"num_attention_heads\": 8, \"num_key_value_heads\": 4, \"head_dim\": 256, \"max_position_embeddings\": 131072,"
    " \"rms_norm_eps\": 1e-6, \"query_pre_attn_scalar\": 256, \"sliding_window\": 4096, \"sliding_window_pattern\": 6,"
    " \"rope_theta\": 1000000.0, \"rope_local_base_freq\": 10000.0, \"tie_word_embeddings\": true,"
    " \"bos_token_id\": 2, \"eos_token_id\": 1}";

static const llm__arch llm__archs[] = {
    { "llama",      NULL,               &llm__names_llama,      NULL },                  /* incl. Llama 3.1 rope (rope_type "llama3") */
    { "mistral",    NULL,               &llm__names_llama,      NULL },                  /* sliding_window on every layer */
    { "qwen2",      NULL,               &llm__names_llama,      NULL },                  /* q/k/v biases (bound when present) */
    { "qwen3",      NULL,               &llm__names_llama,      NULL },                  /* per-head q/k RMSNorm */
    { "smollm3",    NULL,               &llm__names_llama,      NULL },                  /* NoPE layers (no_rope_layers) */
    { "gemma",      llm__cfg_gemma,     &llm__names_llama,      NULL },
    { "gemma2",     llm__cfg_gemma2,    &llm__names_gemma2,     NULL },
    { "gemma3_text", llm__cfg_gemma2,    &llm__names_gemma2,     llm__gemma3_defaults }, /* + q/k norm, rope per layer type */
    { "phi3",       NULL,               &llm__names_phi3,       NULL },                  /* fused qkv_proj / gate_up_proj */
    { "phi",        llm__cfg_phi,       &llm__names_phi,        NULL },                  /* partial rotary, parallel block, biases */
    { "mixtral",    NULL,               &llm__names_mixtral,    NULL },                  /* top-2 of 8, softmax then renormalised */
    { "qwen2_moe",  NULL,               &llm__names_moe,        NULL },                  /* + shared expert with a sigmoid gate */
    { "qwen3_moe",  NULL,               &llm__names_moe,        NULL },
    { "starcoder2", llm__cfg_layernorm, &llm__names_starcoder2, NULL },                  /* LayerNorm, biases, plain GELU MLP */
    { "olmo2",      llm__cfg_olmo2,     &llm__names_olmo2,      NULL },                  /* norms after the blocks */
    { "granite",    llm__cfg_granite,   &llm__names_llama,      NULL },
    { "cohere",     llm__cfg_cohere,    &llm__names_cohere,     NULL },
    { "gpt_neox",   llm__cfg_gpt_neox,  &llm__names_gpt_neox,   NULL },
    { "gpt2",       llm__cfg_gpt2,      &llm__names_gpt2,       NULL },
    { "deepseek_v3", llm__cfg_deepseek,  &llm__names_deepseek,   NULL },                 /* MLA + MoE with shared experts */
};

/* Multimodal checkpoints whose language model is a supported family: its config is the
   text_config, its tensors carry a prefix (transformers 4: "language_model.model.",
   transformers 5: "model.language_model."). The vision tower is not loaded. */
typedef struct llm__wrapper {
    const char *name, *text_arch;                   /* model_type of the wrapper, of its text_config */
    const char *const *renames;
} llm__wrapper;

static const char *const llm__gemma3_renames[] = {
    "model.", "language_model.model.", "model.", "model.language_model.", "lm_head.", "language_model.lm_head.", NULL,
};
static const llm__wrapper llm__wrappers[] = {
    { "gemma3", "gemma3_text", llm__gemma3_renames },
};

/* The families, then the multimodal wrappers around them (model_types a config may name). */
LLM_API const char *const *llm_architectures(void) {
    static const char *names[LLM__COUNT(llm__archs) + LLM__COUNT(llm__wrappers) + 1];
    for (int i = 0; i < LLM__COUNT(llm__archs); i++) names[i] = llm__archs[i].name;
    for (int i = 0; i < LLM__COUNT(llm__wrappers); i++) names[LLM__COUNT(llm__archs) + i] = llm__wrappers[i].name;
    return names;
}

static const llm__arch *llm__arch_find(const char *name) {
    for (int i = 0; i < LLM__COUNT(llm__archs); i++) if (!strcmp(llm__archs[i].name, name)) return &llm__archs[i];
    return NULL;
}

static llm_status llm__arch_unsupported(const char *path, const char *name) {
    char list[1024] = "";
    int i = 0;
    for (const char *const *a = llm_architectures(); *a; a++, i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", *a);
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (supported: %s)", path, name, list);
}

LLM_API void llm_model_free(llm_model *m) {
    if (!m) return;
    llm_pool_destroy(m->load_pool);
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
    llm__rope_inv_freq(&hp->rope, hp->n_rot, hp->n_ctx_train, 0, m->inv_freq, &m->rope_mscale);
    llm__rope_inv_freq(&hp->rope_local, hp->n_rot, hp->n_ctx_train, 0, m->inv_freq_local, &m->rope_mscale_local);
    llm_dtype ed = m->tok_embd->dtype;
    if (ed == LLM_DTYPE_MLX_AFFINE) {   /* >>mlx-model: an MLX-quantized embedding computes in its scales' dtype */
        ed = ((const llm__qmat *)m->tok_embd->data)->sdtype;
        if (ed != LLM_DTYPE_F16 && ed != LLM_DTYPE_BF16) ed = LLM_DTYPE_F32;
    }
    if (hp->round_embed_scale && ed != LLM_DTYPE_F32) {
        uint16_t r;
        llm_convert(ed, &r, LLM_DTYPE_F32, &hp->embed_scale, 1);
        llm_convert(LLM_DTYPE_F32, &hp->embed_scale, ed, &r, 1);
    }
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
    m->repack = !desc || !desc->no_repack;
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

/* Add the family's defaults for the fields cfg lacks (a field set to null stays null). */
static llm_status llm__cfg_defaults(const char *path, cJSON *cfg, const char *defaults) {
    cJSON *d = defaults ? cJSON_Parse(defaults) : NULL;
    LLM_ASSERT(!defaults || cJSON_IsObject(d));
    for (const cJSON *x = d ? d->child : NULL; x; x = x->next) {
        cJSON *v = llm__json_get(cfg, x->string) ? NULL : cJSON_Duplicate(x, true);
        if (v && !cJSON_AddItemToObject(cfg, x->string, v)) { cJSON_Delete(v); v = NULL; }
        if (!v && !llm__json_get(cfg, x->string)) { cJSON_Delete(d); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); }
    }
    cJSON_Delete(d);
    return LLM_OK;
}

/* The language model's config (the file's, or a wrapper's text_config) and its family. */
static llm_status llm__cfg_arch(const char *path, cJSON *root, llm_model *m, cJSON **out_cfg, const llm__arch **out_arch) {
    cJSON *cfg = root;
    const char *type = llm__json_str(root, "model_type", "");
    for (int i = 0; i < LLM__COUNT(llm__wrappers); i++)
        if (!strcmp(type, llm__wrappers[i].name) && cJSON_IsObject(llm__json_get(root, "text_config"))) {
            cfg = (cJSON *)llm__json_get(root, "text_config");
            type = llm__json_str(cfg, "model_type", llm__wrappers[i].text_arch);
            m->renames[1] = llm__wrappers[i].renames;
        }
    *out_cfg = cfg;
    *out_arch = llm__arch_find(type);
    if (!*out_arch && *type) return llm__arch_unsupported(path, type);
    if (!*out_arch) return LLM_OK;                  /* no model_type: parsing says what is missing */
    if (cfg != root && !llm__json_get(cfg, "model_type")) cJSON_AddStringToObject(cfg, "model_type", type);
    return llm__cfg_defaults(path, cfg, (*out_arch)->defaults);
}

/* A Hugging Face / MLX directory, or a weights file inside one. */
LLM_PRIVATE llm_status llm__mla_bind(llm_model *m);   /* 57_mla.c: kv_b from its MLX forms (optional in the table) */

static llm_status llm__load_hf(llm_model *m, const char *path, const llm_model_desc *desc) {
    char dir[4096], cfg_path[4096];
    if (llm__is_dir(path)) snprintf(dir, sizeof dir, "%s", path);
    else llm__path_dir(dir, sizeof dir, path);
    const char *cfg_name = desc && desc->config_file ? desc->config_file : "config.json";
    if (!llm__path_join(cfg_path, sizeof cfg_path, dir, cfg_name)) return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", path);
    cJSON *root = NULL, *cfg = NULL;
    const llm__arch *arch = NULL;
    llm_status s = llm__json_load(cfg_path, &root);
    if (s) return s;
    s = llm__cfg_arch(cfg_path, root, m, &cfg, &arch);
    if (!s) s = llm__hparams_parse(cfg_path, cfg, &m->hp);
    if (!s && !arch) s = llm__arch_unsupported(cfg_path, m->hp.arch);
    if (!s && arch->configure) s = arch->configure(&m->hp, cfg, cfg_path);
    cJSON_Delete(root);
    if (s) return s;
    llm__read_generation_config(dir, &m->hp);
    if ((s = llm_safetensors_open(path, &m->st))) return s;
    if ((s = llm__model_alloc_layers(m)) || (s = llm__bind_names(m, arch->names))) return s;
    return llm__mla_bind(m);
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
    llm__hparams_init(hp);
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
/* ==== begin llm_impl/53_mlx_model.c ==== */
/* ---- >>mlx-model: MLX-quantized matrices in the model ----
   mlx_lm.convert -q replaces a module's <name>.weight [rows, cols] by three tensors
   (08_api_quant.h has the layout):
     <name>.weight  u32 [rows, cols*bits/32]     (a stack of experts: [E, rows, cols*bits/32])
     <name>.scales  [rows, cols/group_size]      f32/f16/bf16 (affine) or u8 (mxfp4/nvfp4/mxfp8)
     <name>.biases  like the scales              (affine only)
   A module is quantized iff its .scales exist (mlx_lm's own rule when it loads a model), and
   bits and group size follow from the shapes once the logical [rows, cols] is known: they
   are the values config.json's "quantization" block gives the module (the global ones or a
   mixed recipe's per-module override), so binding needs no config. The mode is affine when
   biases exist, else the fp mode with those bits and group size.
   Each such matrix becomes an llm_tensor of dtype LLM_DTYPE_MLX_AFFINE whose data is an
   llm__qmat owned by the model and whose shape is the logical [rows, cols]: llm__matmul
   sends it to llm__matmul_mlx, the embedding lookup dequantizes one row (llm__mlx_row_f32),
   and tied embeddings share the tensor as the output matrix. */
/* #include "10_internal.h" (already above) */

static const char *llm__mlx_mode_of(const llm_tensor *scales, const llm_tensor *biases, int bits, int group_size) {
    if (biases || scales->dtype != LLM_DTYPE_U8) return "affine";
    if (bits == 8) return "mxfp8";
    return group_size == 16 ? "nvfp4" : "mxfp4";
}

/* Bits and group size a 2-D weight [rows, cols*bits/32] and scales [rows, cols/G] imply;
   0 where they do not divide (llm__mlx_qmat_init then rejects the tensors with a reason). */
static void llm__mlx_infer(const llm_tensor *w, const llm_tensor *scales, int64_t cols, int *bits, int *group_size) {
    int64_t wc = w->n_dims == 2 ? w->shape[1] : 0, sc = scales->n_dims == 2 ? scales->shape[1] : 0;
    *bits = wc > 0 && wc <= ((int64_t)1 << 40) && (wc * 32) % cols == 0 ? (int)LLM__MIN(wc * 32 / cols, 64) : 0;
    *group_size = sc > 0 && cols % sc == 0 ? (int)LLM__MIN(cols / sc, 1 << 20) : 0;
}

/* The tensor of dtype LLM_DTYPE_MLX_AFFINE for the (2-D) w, scales, biases of module `base`. */
static llm_status llm__mlx_make(llm_model *m, const char *base, const llm_tensor *w, const llm_tensor *scales,
                                const llm_tensor *biases, int64_t rows, int64_t cols, const llm_tensor **out) {
    int bits, gs;
    llm__mlx_infer(w, scales, cols, &bits, &gs);
    llm__qmat q;
    llm_status s = llm__mlx_qmat_init(m->path, base, w, scales, biases, llm__mlx_mode_of(scales, biases, bits, gs), bits, gs,
                                      rows, cols, &q);
    if (s) return s;
    llm__qmat *qp = (llm__qmat *)llm__model_own(m, sizeof *qp);
    llm_tensor *t = (llm_tensor *)llm__model_own(m, sizeof *t);
    if (!qp || !t) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    *qp = q;
    *t = (llm_tensor){ .name = w->name, .dtype = LLM_DTYPE_MLX_AFFINE, .n_dims = 2, .shape = { rows, cols }, .data = qp,
                       .n_bytes = w->n_bytes + scales->n_bytes + (biases ? biases->n_bytes : 0) };
    *out = t;
    return LLM_OK;
}

/* Split "<base>.weight" into base; false when the name does not end so. */
static bool llm__mlx_base(const char *name, char *base, size_t cap) {
    size_t n = strlen(name);
    if (n < 7 || strcmp(name + n - 7, ".weight") || n - 7 >= cap) return false;
    memcpy(base, name, n - 7);
    base[n - 7] = '\0';
    return true;
}

/* The scales and biases beside <base>.weight; NULL when absent. */
static void llm__mlx_params_of(const llm_model *m, const char *base, const llm_tensor **scales, const llm_tensor **biases) {
    char n[600];
    snprintf(n, sizeof n, "%s.scales", base);
    *scales = llm__model_tensor(m, n);
    snprintf(n, sizeof n, "%s.biases", base);
    *biases = llm__model_tensor(m, n);
}

/* Called by llm__bind_mat for a u32 tensor `name` (w): the quantized matrix [rows, cols]. */
static llm_status llm__bind_mlx(llm_model *m, const char *name, const llm_tensor *w, int64_t rows, int64_t cols,
                                const llm_tensor **out) {
    char base[512];
    const llm_tensor *scales, *biases;
    if (!llm__mlx_base(name, base, sizeof base))
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is u32, which only MLX-quantized '.weight' tensors may be", m->path, name);
    llm__mlx_params_of(m, base, &scales, &biases);
    if (!scales)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is u32 but '%s.scales' is missing (not an MLX-quantized matrix)",
                         m->path, name, base);
    return llm__mlx_make(m, base, w, scales, biases, rows, cols, out);
}

/* A 2-D view of matrix e of a stack [E, r, c] (any dtype with a flat layout). */
static llm_tensor llm__mlx_slice(const llm_tensor *t, int64_t e) {
    llm_tensor v = *t;
    size_t bytes = t->n_bytes / (size_t)t->shape[0];
    v.n_dims = 2;
    v.shape[0] = t->shape[1];
    v.shape[1] = t->shape[2];
    v.data = (uint8_t *)t->data + (size_t)e * bytes;
    v.n_bytes = bytes;
    return v;
}

/* Expert e of a quantized stack `name` (mlx_lm's switch_mlp: weight u32 [E, rows, cols*bits/32],
   scales and biases [E, rows, cols/G]) as a [rows, cols] matrix. */
static llm_status llm__bind_mlx_expert(llm_model *m, const char *name, const llm_tensor *w, int64_t e, int64_t rows, int64_t cols,
                                       const llm_tensor **out) {
    char base[512];
    const llm_tensor *scales, *biases;
    if (!llm__mlx_base(name, base, sizeof base)) return llm__fail(LLM_ERR_FORMAT, "%s: '%s' is not a .weight", m->path, name);
    llm__mlx_params_of(m, base, &scales, &biases);
    int64_t E = w->shape[0];
    if (!scales || scales->n_dims != 3 || scales->shape[0] != E || (biases && (biases->n_dims != 3 || biases->shape[0] != E)))
        return llm__fail(LLM_ERR_FORMAT, "%s: the quantized stack '%s' needs '%s.scales' (and biases) [%lld, rows, groups]",
                         m->path, name, base, (long long)E);
    llm_tensor ws = llm__mlx_slice(w, e), ss = llm__mlx_slice(scales, e), bs = biases ? llm__mlx_slice(biases, e) : ws;
    return llm__mlx_make(m, base, &ws, &ss, biases ? &bs : NULL, rows, cols, out);
}

/* Rows [row0, row0 + n_rows) of a quantized matrix (a fused qkv split into its parts). */
static const llm_tensor *llm__mlx_rows(llm_model *m, const llm_tensor *t, int64_t row0, int64_t n_rows) {
    const llm__qmat *q = (const llm__qmat *)t->data;
    llm__qmat *v = (llm__qmat *)llm__model_own(m, sizeof *v);
    llm_tensor *vt = (llm_tensor *)llm__model_own(m, sizeof *vt);
    if (!v || !vt) return NULL;
    int64_t ng = q->cols / q->group_size;
    size_t ps = (size_t)llm__dtypes[q->sdtype].block_bytes;
    *v = *q;
    v->rows = n_rows;
    v->w = q->w + (size_t)row0 * (size_t)(q->cols * q->bits / 8);
    v->scales = (const uint8_t *)q->scales + (size_t)(row0 * ng) * ps;
    v->biases = q->biases ? (const uint8_t *)q->biases + (size_t)(row0 * ng) * ps : NULL;
    *vt = *t;
    vt->shape[0] = n_rows;
    vt->data = v;
    return vt;
}
/* ==== end llm_impl/53_mlx_model.c ==== */
/* ==== begin llm_impl/54_gguf_model.c ==== */
/* ---- >>gguf_model: llama.cpp's GGUF model files on the generic transformer ----
   Hyperparameters come from the "<arch>.*" metadata (llama.block_count, ...), tensors keep
   llama.cpp's names (token_embd, blk.N.attn_q, ffn_gate_exps, ...) and are bound by the
   same data-driven binder as Hugging Face checkpoints (51_model.c), in place: weights stay
   in the mapping, block-quantized or not (23_kernels_ggml.c multiplies them).

   What llama.cpp's converter changed on the way, and how we follow it without a copy:
   - Llama-family Wq/Wk rows are permuted so that ggml's "normal" rope, on pairs (2i, 2i+1),
     applies: we rope interleaved pairs (rope_interleaved). Families ggml ropes NEOX-style
     (qwen2/3, gemma*, phi3) keep Hugging Face's rotate-half layout
     (llama_model_rope_type in llama.cpp's llama-model.cpp).
   - Gemma's RMSNorm weights are stored with the +1 already added: norm_add_one stays 0.
   - Llama 3 rope scaling is a tensor of per-frequency divisors (rope_freqs), Phi-3's
     LongRoPE two of them (rope_factors_short/long): both become longrope factors.
   - MoE experts are stacked [E, F, C] (ffn_gate_exps ...) and bound as row views. */
/* #include "10_internal.h" (already above) */

#define LLM__R LLM__W_REQUIRED
#define LLM__O LLM__W_OPTIONAL
#define LLM__D LLM__W_DENSE
#define LLM__M LLM__W_MOE
static const llm__wspec llm__gguf_w_attn[] = {   /* q/k/v/o, optional biases and per-head q/k norms */
    LLM__WMAT("attn_q.weight", LLM__R, wq, LLM__DIM_Q, LLM__DIM_C), LLM__WMAT("attn_k.weight", LLM__R, wk, LLM__DIM_KV, LLM__DIM_C),
    LLM__WMAT("attn_v.weight", LLM__R, wv, LLM__DIM_KV, LLM__DIM_C), LLM__WMAT("attn_output.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    LLM__WVEC("attn_q.bias", LLM__O, bq, LLM__DIM_Q), LLM__WVEC("attn_k.bias", LLM__O, bk, LLM__DIM_KV),
    LLM__WVEC("attn_v.bias", LLM__O, bv, LLM__DIM_KV), LLM__WVEC("attn_output.bias", LLM__O, bo, LLM__DIM_C),
    LLM__WVEC("attn_q_norm.weight", LLM__O, q_norm, LLM__DIM_HD), LLM__WVEC("attn_k_norm.weight", LLM__O, k_norm, LLM__DIM_HD),
    LLM__WEND,
};
static const llm__wspec llm__gguf_w_norms[] = {  /* pre-norms; Gemma 2/3 add norms after each block */
    LLM__WVEC("attn_norm.weight", LLM__R, attn_norm, LLM__DIM_C), LLM__WVEC("ffn_norm.weight", LLM__R, ffn_norm, LLM__DIM_C),
    LLM__WVEC("post_attention_norm.weight", LLM__O, post_attn_norm, LLM__DIM_C),
    LLM__WVEC("post_ffw_norm.weight", LLM__O, post_ffn_norm, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__gguf_w_mlp[] = {    /* dense gated MLP, and the router of MoE layers */
    LLM__WMAT("ffn_gate.weight", LLM__D, ffn.gate, LLM__DIM_F, LLM__DIM_C), LLM__WMAT("ffn_up.weight", LLM__D, ffn.up, LLM__DIM_F, LLM__DIM_C),
    LLM__WMAT("ffn_down.weight", LLM__D, ffn.down, LLM__DIM_C, LLM__DIM_F),
    LLM__WMAT("ffn_gate_inp.weight", LLM__M, router, LLM__DIM_E, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__gguf_w_shexp[] = {  /* Qwen2-MoE's shared expert; its gate is a vector [C] */
    LLM__WMAT("ffn_gate_shexp.weight", LLM__M, shared.gate, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("ffn_up_shexp.weight", LLM__M, shared.up, LLM__DIM_FS, LLM__DIM_C),
    LLM__WMAT("ffn_down_shexp.weight", LLM__M, shared.down, LLM__DIM_C, LLM__DIM_FS),
    LLM__WMAT("ffn_gate_inp_shexp.weight", LLM__M, shared_gate, LLM__DIM_SG, LLM__DIM_C),
    LLM__WEND,
};
static const llm__wspec llm__gguf_w_phi3[] = {   /* fused qkv and gate|up, split into row views */
    { "attn_qkv.weight", LLM__R, LLM__DIM_QKV, LLM__DIM_C, false,
      { offsetof(llm__layer, wq), offsetof(llm__layer, wk), offsetof(llm__layer, wv) }, { LLM__DIM_Q, LLM__DIM_KV, LLM__DIM_KV } },
    LLM__WMAT("attn_output.weight", LLM__R, wo, LLM__DIM_C, LLM__DIM_Q),
    { "ffn_up.weight", LLM__R, LLM__DIM_F2, LLM__DIM_C, false,
      { offsetof(llm__layer, ffn.gate), offsetof(llm__layer, ffn.up) }, { LLM__DIM_F, LLM__DIM_F } },
    LLM__WMAT("ffn_down.weight", LLM__R, ffn.down, LLM__DIM_C, LLM__DIM_F),
    LLM__WEND,
};
#undef LLM__R
#undef LLM__O
#undef LLM__D
#undef LLM__M

/* GGUF stacks each layer's experts (ffn_gate_exps [E, F, C]); the per-expert pattern is
   only the binder's probe for the other layout and never matches. */
#define LLM__GGUF_GLOBALS .layer = "blk.%lld.", .embed = "token_embd.weight", .out_norm = "output_norm.weight", .output = "output.weight", \
    .expert = "ffn_expert.%lld.", .expert_w = { "gate", "up", "down" },                                                       \
    .stacked = { "ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight" }
static const llm__names llm__gguf_names = { LLM__GGUF_GLOBALS, .w = { llm__gguf_w_attn, llm__gguf_w_norms, llm__gguf_w_mlp } };
static const llm__names llm__gguf_names_shexp = { LLM__GGUF_GLOBALS, .w = { llm__gguf_w_attn, llm__gguf_w_norms, llm__gguf_w_mlp, llm__gguf_w_shexp } };
static const llm__names llm__gguf_names_phi3 = { LLM__GGUF_GLOBALS, .w = { llm__gguf_w_phi3, llm__gguf_w_norms } };
#undef LLM__GGUF_GLOBALS

typedef struct llm__gguf_ctx {
    const llm_gguf *g;
    const char *path, *arch;
} llm__gguf_ctx;

/* "<arch>.<key>" as an integer: a scalar, or an array of per-layer values that must all be
   equal (the generic transformer has one value for all layers). */
static llm_status llm__gguf_hp_int(const llm__gguf_ctx *c, const char *key, bool required, int64_t *out) {
    char k[160];
    snprintf(k, sizeof k, "%s.%s", c->arch, key);
    const llm_gguf_kv *kv = llm_gguf_find_kv(c->g, k);
    if (!kv) return required ? llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is missing", c->path, k) : LLM_OK;
    if (kv->type != LLM_GGUF_ARRAY) {
        llm_status s = llm_gguf_get_int(c->g, k, out);
        return s ? llm__fail(s, "%s: metadata '%s' is not an integer", c->path, k) : LLM_OK;
    }
    int64_t first = 0, v = 0;
    for (int64_t i = 0; i < kv->n; i++) {
        if (llm_gguf_arr_int(kv, i, &v)) return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is not an integer array", c->path, k);
        if (i == 0) first = v;
        if (v != first) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: '%s' differs between layers", c->path, k);
    }
    if (kv->n == 0) return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is an empty array", c->path, k);
    *out = first;
    return LLM_OK;
}

static float llm__gguf_hp_f32(const llm__gguf_ctx *c, const char *key, float dflt) {
    char k[160];
    snprintf(k, sizeof k, "%s.%s", c->arch, key);
    llm_gguf_get_f32(c->g, k, &dflt);   /* absent or mistyped: the default */
    return dflt;
}

/* A per-frequency factor tensor [n_rot/2] as longrope factors (owned by hp, freed with it). */
static llm_status llm__gguf_factors(const llm__gguf_ctx *c, const char *name, int64_t n_rot, float **out) {
    const llm_tensor *t = llm_gguf_find_tensor(c->g, name);
    if (!t) return LLM_OK;
    if (t->dtype != LLM_DTYPE_F32 || llm_tensor_n_elems(t) != n_rot / 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: '%s' should be %lld f32 values", c->path, name, (long long)n_rot / 2);
    *out = (float *)malloc((size_t)(n_rot / 2) * sizeof(float) + 1);
    if (!*out) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    memcpy(*out, t->data, (size_t)(n_rot / 2) * sizeof(float));
    return LLM_OK;
}

/* rope.freq_base, rope.scaling.* and the factor tensors. */
static llm_status llm__gguf_rope(const llm__gguf_ctx *c, llm__hparams *hp) {
    llm__rope_cfg *r = &hp->rope;
    char k[160];
    const char *type = "none";
    snprintf(k, sizeof k, "%s.rope.scaling.type", c->arch);
    llm_gguf_get_str(c->g, k, &type);
    r->theta = llm__gguf_hp_f32(c, "rope.freq_base", 10000.0f);
    r->factor = llm__gguf_hp_f32(c, "rope.scaling.factor", 1.0f);
    r->orig_ctx = (double)hp->n_ctx_train;
    int64_t orig = 0;
    llm_status s = llm__gguf_hp_int(c, "rope.scaling.original_context_length", false, &orig);
    if (s) return s;
    if (orig > 0) r->orig_ctx = (double)orig;
    r->beta_fast = 32.0, r->beta_slow = 1.0, r->truncate = true;
    r->attn_factor = llm__gguf_hp_f32(c, "rope.scaling.attn_factor", 0.0f);
    if (!strcmp(type, "linear")) r->type = LLM__ROPE_LINEAR;
    else if (!strcmp(type, "yarn")) r->type = LLM__ROPE_YARN;
    else if (strcmp(type, "none")) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: rope scaling '%s' is not supported", c->path, type);
    if (r->factor <= 0) r->factor = 1.0;
    /* Llama 3: one table of divisors, no extra scale; Phi-3 LongRoPE: short and long tables */
    bool llama3 = llm_gguf_find_tensor(c->g, "rope_freqs.weight") != NULL;
    if ((s = llm__gguf_factors(c, llama3 ? "rope_freqs.weight" : "rope_factors_short.weight", hp->n_rot, &r->short_factor)) ||
        (s = llm__gguf_factors(c, llama3 ? "rope_freqs.weight" : "rope_factors_long.weight", hp->n_rot, &r->long_factor)))
        return s;
    if (!r->short_factor != !r->long_factor)
        return llm__fail(LLM_ERR_FORMAT, "%s: only one of rope_factors_short/long is present", c->path);
    if (r->short_factor) r->type = LLM__ROPE_LONGROPE;
    if (llama3) r->attn_factor = 1.0, r->factor = 1.0;
    r->n_factors = hp->n_rot / 2;
    hp->rope_local = *r;
    return LLM_OK;
}

/* ---- families: what the metadata leaves implicit ---- */

/* Gemma: approximate GELU, embeddings times sqrt(C) (llama.cpp does not round it to the
   weights' dtype), norms with the +1 stored. Gemma 2 slides every other layer, Gemma 3
   all but every 6th, whose local rope is plain with base 10000. The 27B models scale the
   queries by 1/sqrt(C/H) instead of 1/sqrt(D), as llama.cpp decides by size. */
static llm_status llm__gguf_gemma(const llm__gguf_ctx *c, llm__hparams *hp) {
    int version = !strcmp(c->arch, "gemma2") ? 2 : !strcmp(c->arch, "gemma3") ? 3 : 1;
    hp->act = LLM__ACT_GELU_TANH;
    hp->embed_scale = sqrtf((float)hp->n_embd);
    if (version == 1) return LLM_OK;
    hp->attn_softcap = llm__gguf_hp_f32(c, "attn_logit_softcapping", 0.0f);
    hp->final_softcap = llm__gguf_hp_f32(c, "final_logit_softcapping", 0.0f);
    if ((version == 2 && hp->n_layers == 46) || (version == 3 && hp->n_layers == 62))
        hp->attn_scale = (float)(1.0 / sqrt((double)hp->n_embd / (double)hp->n_heads));
    llm_status s = llm__gguf_hp_int(c, "attention.sliding_window", false, &hp->sliding_window);
    if (s) return s;
    for (int64_t il = 0; il < hp->n_layers && hp->sliding_window > 0; il++)
        hp->layer_sliding[il] = version == 2 ? il % 2 == 0 : (il + 1) % 6 != 0;
    char k[160];                  /* another pattern, per layer (llm convert writes it then) */
    snprintf(k, sizeof k, "%s.attention.sliding_window_pattern", c->arch);
    const llm_gguf_kv *pat = llm_gguf_find_kv(c->g, k);
    if (pat && (pat->type != LLM_GGUF_ARRAY || pat->arr_type != LLM_GGUF_BOOL || pat->n != hp->n_layers))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: '%s' is not one bool per layer", c->path, k);
    for (int64_t il = 0; pat && il < hp->n_layers && hp->sliding_window > 0; il++) hp->layer_sliding[il] = ((const uint8_t *)pat->v.arr)[il] != 0;
    if (version == 3) {
        memset(&hp->rope_local, 0, sizeof hp->rope_local);
        hp->rope_local.theta = 10000.0, hp->rope_local.factor = 1.0;
    }
    return LLM_OK;
}

/* Qwen2-MoE: a shared expert beside the routed ones; the chosen weights are not renormalised. */
static llm_status llm__gguf_qwen2moe(const llm__gguf_ctx *c, llm__hparams *hp) {
    hp->moe_norm_topk = false;
    llm_status s = llm__gguf_hp_int(c, "expert_shared_feed_forward_length", false, &hp->n_ff_shared);
    if (!s && (hp->n_ff_shared < 0 || hp->n_ff_shared > (1 << 30)))
        return llm__fail(LLM_ERR_FORMAT, "%s: shared expert width %lld is implausible", c->path, (long long)hp->n_ff_shared);
    return s;
}

typedef struct llm__gguf_arch {
    const char *name;                 /* general.architecture */
    bool interleaved;                 /* ggml's "normal" rope: the converter permuted Wq/Wk */
    const llm__names *names;
    llm_status (*configure)(const llm__gguf_ctx *c, llm__hparams *hp);   /* NULL: none */
} llm__gguf_arch;

static const llm__gguf_arch llm__gguf_archs[] = {
    { "llama",    true,  &llm__gguf_names,      NULL },   /* also Mistral, Mixtral (experts), SmolLM */
    { "qwen2",    false, &llm__gguf_names,      NULL },
    { "qwen3",    false, &llm__gguf_names,      NULL },
    { "qwen2moe", false, &llm__gguf_names_shexp, llm__gguf_qwen2moe },
    { "qwen3moe", false, &llm__gguf_names,      NULL },
    { "gemma",    false, &llm__gguf_names,      llm__gguf_gemma },
    { "gemma2",   false, &llm__gguf_names,      llm__gguf_gemma },
    { "gemma3",   false, &llm__gguf_names,      llm__gguf_gemma },
    { "phi3",     false, &llm__gguf_names_phi3, NULL },
};

/* The shapes every family has, then MoE. */
static llm_status llm__gguf_hparams(const llm__gguf_ctx *c, llm__hparams *hp) {
    llm_status s;
    llm__hparams_init(hp);
    snprintf(hp->arch, sizeof hp->arch, "%s", c->arch);
    if ((s = llm__gguf_hp_int(c, "embedding_length", true, &hp->n_embd)) || (s = llm__gguf_hp_int(c, "block_count", true, &hp->n_layers)) ||
        (s = llm__gguf_hp_int(c, "attention.head_count", true, &hp->n_heads)) || (s = llm__gguf_hp_int(c, "feed_forward_length", true, &hp->n_ff)))
        return s;
    if (hp->n_embd <= 0 || hp->n_embd > 1 << 20 || hp->n_layers <= 0 || hp->n_layers > 4096 || hp->n_heads <= 0 || hp->n_heads > 4096)
        return llm__fail(LLM_ERR_FORMAT, "%s: implausible sizes (embedding %lld, %lld blocks, %lld heads)", c->path, (long long)hp->n_embd,
                         (long long)hp->n_layers, (long long)hp->n_heads);
    hp->n_kv_heads = hp->n_heads, hp->head_dim = hp->n_embd / hp->n_heads;
    int64_t vdim = 0;
    if ((s = llm__gguf_hp_int(c, "attention.head_count_kv", false, &hp->n_kv_heads)) ||
        (s = llm__gguf_hp_int(c, "attention.key_length", false, &hp->head_dim)) || (s = llm__gguf_hp_int(c, "attention.value_length", false, &vdim)) ||
        (s = llm__gguf_hp_int(c, "context_length", false, &hp->n_ctx_train)))
        return s;
    if (hp->n_kv_heads <= 0 || hp->n_heads % hp->n_kv_heads || hp->head_dim <= 0 || hp->head_dim > 4096 || hp->head_dim % 2 ||
        (vdim && vdim != hp->head_dim) || hp->n_ff <= 0 || hp->n_ff > (1 << 30))
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld heads, %lld kv heads, head dims %lld/%lld and %lld ff do not fit together", c->path,
                         (long long)hp->n_heads, (long long)hp->n_kv_heads, (long long)hp->head_dim, (long long)vdim, (long long)hp->n_ff);
    hp->n_rot = hp->head_dim;
    if ((s = llm__gguf_hp_int(c, "rope.dimension_count", false, &hp->n_rot))) return s;
    if (hp->n_rot <= 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: rope.dimension_count %lld does not fit head dim %lld", c->path, (long long)hp->n_rot, (long long)hp->head_dim);
    hp->norm_eps = llm__gguf_hp_f32(c, "attention.layer_norm_rms_epsilon", 1e-5f);
    hp->attn_scale = (float)(1.0 / sqrt((double)hp->head_dim));
    hp->act = LLM__ACT_SILU;
    hp->layer_sliding = (uint8_t *)calloc((size_t)hp->n_layers, 1);
    hp->layer_rope = (uint8_t *)malloc((size_t)hp->n_layers);
    hp->layer_moe = (uint8_t *)calloc((size_t)hp->n_layers, 1);
    if (!hp->layer_sliding || !hp->layer_rope || !hp->layer_moe) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    memset(hp->layer_rope, 1, (size_t)hp->n_layers);
    if ((s = llm__gguf_hp_int(c, "expert_count", false, &hp->n_experts)) || (s = llm__gguf_hp_int(c, "expert_used_count", false, &hp->n_experts_used)))
        return s;
    if (hp->n_experts > 0) {
        hp->n_ff_expert = hp->n_ff;
        if ((s = llm__gguf_hp_int(c, "expert_feed_forward_length", false, &hp->n_ff_expert))) return s;
        if (hp->n_experts > 4096 || hp->n_experts_used <= 0 || hp->n_experts_used > hp->n_experts || hp->n_ff_expert <= 0 || hp->n_ff_expert > (1 << 30))
            return llm__fail(LLM_ERR_FORMAT, "%s: %lld experts (%lld per token, width %lld) do not fit together", c->path,
                             (long long)hp->n_experts, (long long)hp->n_experts_used, (long long)hp->n_ff_expert);
        hp->moe_norm_topk = true;              /* Mixtral and Qwen3-MoE renormalise the chosen weights */
        memset(hp->layer_moe, 1, (size_t)hp->n_layers);
    } else {
        hp->n_experts = 0;
    }
    return llm__gguf_rope(c, hp);
}

/* bos and the end tokens (eos, end of turn, end of message) from the tokenizer metadata. */
static void llm__gguf_special(const llm_gguf *g, llm__hparams *hp) {
    static const char *const ends[] = { "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id" };
    int64_t v = -1;
    if (!llm_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &v) && v >= 0 && v <= INT32_MAX) hp->bos = (llm_token)v;
    for (int i = 0; i < LLM__COUNT(ends); i++) {
        v = -1;
        if (llm_gguf_get_int(g, ends[i], &v) || v < 0 || v > INT32_MAX) continue;
        bool seen = false;
        for (int j = 0; j < hp->n_eos; j++) seen |= hp->eos[j] == (llm_token)v;
        if (!seen && hp->n_eos < LLM__MAX_EOS) hp->eos[hp->n_eos++] = (llm_token)v;
    }
}

/* The file's tensors as the model's views (names copied: the llm_gguf is closed after
   loading, the mapping stays). */
static llm_status llm__gguf_views(llm_model *m, const llm_gguf *g) {
    int64_t n = llm_gguf_n_tensors(g);
    size_t names = 0;
    for (int64_t i = 0; i < n; i++) names += strlen(llm_gguf_tensor(g, i)->name) + 1;
    m->views = (llm_tensor *)calloc(1, (size_t)n * sizeof *m->views + names);
    if (!m->views) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    char *at = (char *)(m->views + n);
    for (int64_t i = 0; i < n; i++) {
        m->views[i] = *llm_gguf_tensor(g, i);
        size_t len = strlen(m->views[i].name) + 1;
        memcpy(at, m->views[i].name, len);
        m->views[i].name = at;
        at += len;
    }
    m->n_views = n;
    return LLM_OK;
}

static llm_status llm__gguf_load_model(llm_model *m, const char *path, const llm_gguf *g) {
    llm__gguf_ctx c = { g, path, "" };
    llm_status s = llm_gguf_get_str(g, "general.architecture", &c.arch);
    if (s) return llm__fail(LLM_ERR_FORMAT, "%s: general.architecture is missing", path);
    const llm__gguf_arch *arch = NULL;
    for (int i = 0; i < LLM__COUNT(llm__gguf_archs); i++) if (!strcmp(llm__gguf_archs[i].name, c.arch)) arch = &llm__gguf_archs[i];
    if (!arch) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: GGUF architecture '%s' is not supported", path, c.arch);
    if ((s = llm__gguf_hparams(&c, &m->hp))) return s;
    m->hp.rope_interleaved = arch->interleaved;
    if (arch->configure && (s = arch->configure(&c, &m->hp))) return s;
    llm__gguf_special(g, &m->hp);
    const llm_tensor *emb = llm_gguf_find_tensor(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2) return llm__fail(LLM_ERR_FORMAT, "%s: token_embd.weight is missing or not a matrix", path);
    m->hp.n_vocab = emb->shape[0];
    m->hp.tie_embeddings = !llm_gguf_find_tensor(g, "output.weight");
    if ((s = llm__gguf_views(m, g)) || (s = llm__model_alloc_layers(m))) return s;
    return llm__bind_names(m, arch->names);
}

/* A .gguf file: mapped once; the reader validates it and describes its tensors. */
static llm_status llm__load_gguf(llm_model *m, const char *path) {
    llm_gguf *g;
    llm_status s = llm__map_file(path, &m->bin);
    if (s) return s;
    if ((s = llm_gguf_open_memory(m->bin.data, m->bin.size, path, &g))) return s;
    s = llm__gguf_load_model(m, path, g);
    llm_gguf_close(g);
    return s;
}
/* ==== end llm_impl/54_gguf_model.c ==== */
/* ==== begin llm_impl/54_kvcache.c ==== */
/* ---- >>kvcache: where keys and values live, and attention over them ----
   One llm__kv per layer. Rows are [Hkv, n_slots, D]: a kv head's positions are contiguous,
   so attention streams them. Three options change where a position lives or how:
   - a ring (rotating cache, mlx-lm's RotatingKVCache; also bounded sliding-window layers):
     positions < keep stay in slots 0..keep-1, later ones cycle through the remaining
     slots. The ring has window + n_batch - 1 slots, so while a chunk of up to n_batch
     tokens is written, every position any of its queries may see is still there: each
     query attends exactly to [0, keep) and the last `window` positions up to itself.
   - quantized rows (--kv-bits): per group of `group` values an affine 8- or 4-bit code,
     x ~ scale * q + bias, with K and V widths chosen separately. Until the cache holds
     quantized_start positions rows stay f32 (mlx-lm's quantized_kv_start); the first
     chunk that crosses it converts the f32 rows and from then on everything is quantized.
   - MLA layers keep one latent row per position instead (57_mla.c), never quantized.
   Attention reads the visible positions as at most three slot ranges and runs one online
   softmax over them in blocks (dequantizing a block at a time when rows are quantized). */
/* #include "10_internal.h" (already above) */

typedef struct llm__kv {             /* one layer's cache */
    float *k, *v;                    /* f32 rows [Hkv, n_slots, D] (MLA: k = [n_slots, A], v unused) */
    uint8_t *kq, *vq;                /* quantized rows [Hkv, n_slots, D * bits / 8] */
    float *kp, *vp;                  /* [Hkv, n_slots, 2 * D / group] scale, bias pairs */
    int64_t n_slots;                 /* rows per kv head */
    int64_t n_f32;                   /* rows of k/v (n_slots, or quantized_start when quantizing) */
    int64_t keep, window;            /* window > 0: a query sees [0, keep) and its last `window` positions */
    bool ring;                       /* positions >= keep cycle through slots keep..n_slots-1 */
} llm__kv;

typedef struct llm__kv_fmt {
    int bits_k, bits_v;              /* 0 (f32), 8 or 4 */
    int64_t group;                   /* values per scale/bias pair */
    int64_t quant_start;             /* positions held in f32 before quantizing */
    bool quantized;                  /* rows are read from kq/vq */
} llm__kv_fmt;

/* The slot of position pos. */
static inline int64_t llm__kv_slot(const llm__kv *c, int64_t pos) {
    if (!c->ring || pos < c->keep) return pos;
    return c->keep + (pos - c->keep) % (c->n_slots - c->keep);
}

/* ---- quantized rows ---- */

static size_t llm__kv_row_bytes(int bits, int64_t D) { return (size_t)(D * bits / 8); }

static void llm__kv_quantize_row(const float *x, int64_t D, int bits, int64_t group, uint8_t *q, float *sb) {
    int levels = (1 << bits) - 1;
    memset(q, 0, llm__kv_row_bytes(bits, D));
    for (int64_t g = 0; g < D / group; g++) {
        const float *xg = x + g * group;
        float lo = xg[0], hi = xg[0];
        for (int64_t i = 1; i < group; i++) { lo = xg[i] < lo ? xg[i] : lo; hi = xg[i] > hi ? xg[i] : hi; }
        float scale = (hi - lo) / (float)levels, inv = scale > 0 ? 1.0f / scale : 0.0f;
        sb[2 * g] = scale;
        sb[2 * g + 1] = lo;
        for (int64_t i = 0; i < group; i++) {
            int64_t j = g * group + i;
            int v = (int)lrintf((xg[i] - lo) * inv);
            v = v < 0 ? 0 : v > levels ? levels : v;
            if (bits == 8) q[j] = (uint8_t)v;
            else q[j / 2] |= (uint8_t)(v << (4 * (j & 1)));
        }
    }
}

static void llm__kv_dequantize_row(const uint8_t *q, const float *sb, int64_t D, int bits, int64_t group, float *x) {
    for (int64_t j = 0; j < D; j++) {
        int v = bits == 8 ? q[j] : (q[j / 2] >> (4 * (j & 1))) & 15;
        const float *p = sb + 2 * (j / group);
        x[j] = p[0] * (float)v + p[1];
    }
}

/* Store one kv head's key and value row of position pos. */
static void llm__kv_store(llm__kv *c, const llm__kv_fmt *f, int64_t kvh, int64_t pos, const float *k, const float *v, int64_t D) {
    int64_t row = kvh * c->n_slots + llm__kv_slot(c, pos);
    if (!f->quantized) {
        memcpy(c->k + (kvh * c->n_f32 + llm__kv_slot(c, pos)) * D, k, (size_t)D * sizeof(float));
        memcpy(c->v + (kvh * c->n_f32 + llm__kv_slot(c, pos)) * D, v, (size_t)D * sizeof(float));
        return;
    }
    int64_t ng = D / f->group;
    llm__kv_quantize_row(k, D, f->bits_k, f->group, c->kq + (size_t)row * llm__kv_row_bytes(f->bits_k, D), c->kp + row * 2 * ng);
    llm__kv_quantize_row(v, D, f->bits_v, f->group, c->vq + (size_t)row * llm__kv_row_bytes(f->bits_v, D), c->vp + row * 2 * ng);
}

/* The first chunk past quant_start: quantize the f32 rows held so far (n_rows slots per head). */
static void llm__kv_convert(llm__kv *c, llm__kv_fmt *f, int64_t Hkv, int64_t D, int64_t n_rows) {
    int64_t ng = D / f->group;
    for (int64_t h = 0; h < Hkv; h++)
        for (int64_t r = 0; r < n_rows; r++) {
            int64_t row = h * c->n_slots + r;
            llm__kv_quantize_row(c->k + (h * c->n_f32 + r) * D, D, f->bits_k, f->group,
                                 c->kq + (size_t)row * llm__kv_row_bytes(f->bits_k, D), c->kp + row * 2 * ng);
            llm__kv_quantize_row(c->v + (h * c->n_f32 + r) * D, D, f->bits_v, f->group,
                                 c->vq + (size_t)row * llm__kv_row_bytes(f->bits_v, D), c->vp + row * 2 * ng);
        }
}

/* ---- what a query sees ---- */

typedef struct { int64_t slot, n; } llm__kv_span;

/* The positions a query at pos sees, as slot ranges, oldest first: [lo, pos] without a
   ring; with one, the kept positions [0, keep) and the last `window` positions. */
static int llm__kv_spans(const llm__kv *c, int64_t lo, int64_t pos, llm__kv_span out[3]) {
    if (!c->window) { out[0] = (llm__kv_span){ lo, pos - lo + 1 }; return 1; }
    int n = 0;
    int64_t sinks = LLM__MIN(c->keep, pos + 1);
    if (sinks > 0) out[n++] = (llm__kv_span){ 0, sinks };
    lo = LLM__MAX(LLM__MAX(lo, c->keep), pos - c->window + 1);
    if (lo > pos) return n;
    int64_t s0 = llm__kv_slot(c, lo), s1 = llm__kv_slot(c, pos);
    if (s0 <= s1) out[n++] = (llm__kv_span){ s0, s1 - s0 + 1 };     /* always so without a ring */
    else {                                                            /* wrapped around the ring */
        out[n++] = (llm__kv_span){ s0, c->n_slots - s0 };
        out[n++] = (llm__kv_span){ c->keep, s1 - c->keep + 1 };
    }
    return n;
}

#define LLM__KV_BLOCK 64

/* Scratch floats one thread needs for llm__kv_attend(_shared): scores, and a dequantized block. */
static int64_t llm__kv_scratch(int64_t D) { return LLM__ATT_MAXQ * LLM__ATT_BLOCK + 2 * LLM__KV_BLOCK * D; }

/* out[D] = attention of query q (kv head kvh) over the visible positions: one online softmax
   across all spans, f32 rows read in place, quantized rows dequantized a block at a time. */
static void llm__kv_attend(float *out, const float *q, const llm__kv *c, const llm__kv_fmt *f, int64_t kvh, int64_t D,
                           const llm__kv_span *spans, int n_spans, const llm__attn_params *p, float *scratch) {
    float *sc = scratch, *kb = scratch + LLM__ATT_MAXQ * LLM__ATT_BLOCK, *vb = kb + LLM__KV_BLOCK * D;
    llm__attn_q one = { .q = q, .out = out };
    int64_t ng = D / (f->group ? f->group : 1);
    llm__attn_begin(&one, 1, D);
    for (int i = 0; i < n_spans; i++) {
        if (!f->quantized) {
            const float *K = c->k + (kvh * c->n_f32 + spans[i].slot) * D, *V = c->v + (kvh * c->n_f32 + spans[i].slot) * D;
            one.n = spans[i].n;
            llm__attend_rows(&one, 1, K, V, spans[i].n, D, D, p, sc);
            continue;
        }
        for (int64_t j0 = 0; j0 < spans[i].n; j0 += LLM__KV_BLOCK) {
            int64_t nb = LLM__MIN(LLM__KV_BLOCK, spans[i].n - j0), row = kvh * c->n_slots + spans[i].slot + j0;
            for (int64_t j = 0; j < nb; j++) {
                llm__kv_dequantize_row(c->kq + (size_t)(row + j) * llm__kv_row_bytes(f->bits_k, D), c->kp + (row + j) * 2 * ng, D,
                                       f->bits_k, f->group, kb + j * D);
                llm__kv_dequantize_row(c->vq + (size_t)(row + j) * llm__kv_row_bytes(f->bits_v, D), c->vp + (row + j) * 2 * ng, D,
                                       f->bits_v, f->group, vb + j * D);
            }
            one.n = nb;
            llm__attend_rows(&one, 1, kb, vb, nb, D, D, p, sc);
        }
    }
    llm__attn_finish(&one, 1, D);
}

/* Queries of kv head kvh that all see f32 slots [slot, slot + qs[g].n): one pass over the
   rows serves them all (each result is the bits llm__kv_attend gives it). */
static void llm__kv_attend_shared(llm__attn_q *qs, int nq, const llm__kv *c, int64_t kvh, int64_t D, int64_t slot,
                                  const llm__attn_params *p, float *scratch) {
    int64_t n = 0;
    for (int g = 0; g < nq; g++) n = LLM__MAX(n, qs[g].n);
    const float *K = c->k + (kvh * c->n_f32 + slot) * D, *V = c->v + (kvh * c->n_f32 + slot) * D;
    llm__attn_begin(qs, nq, D);
    llm__attend_rows(qs, nq, K, V, n, D, D, p, scratch);
    llm__attn_finish(qs, nq, D);
}
/* ==== end llm_impl/54_kvcache.c ==== */
/* ==== begin llm_impl/55_forward.c ==== */
/* ---- >>forward: the blocks of the generic decoder-only transformer ----
   One forward pass over a chunk of T tokens at positions n_past .. n_past+T-1, for every
   architecture: each family is a set of options in llm__hparams and the tensors it binds.
   The recipe (Llama; "Attention Is All You Need" with the pre-norm, RoPE, SwiGLU and GQA
   changes; 58_transformer.c strings the blocks together):
       x = embed(tokens) * embed_scale (+ learned positions)       [T, C]
       for each layer:
           h = norm(x);  q, k, v = h Wq, h Wk, h Wv (+ biases)      [T, H*D], [T, Hkv*D]
           q, k = qk_norm(q, k);  q, k = rope(q, k, positions)
           cache k, v;  a = softmax(q k^T * scale + causal mask) v  [T, H*D]
           x = x + a Wo
           h = norm(x);  x = x + (act(h Wgate) * h Wup) Wdown       [T, F] -> [T, C]
       logits = norm(x) Wout                                       [T, V]
   Variations: post-norms (Gemma 2/3, OLMo 2), parallel blocks (Phi, Cohere, GPT-NeoX),
   soft-capping, multipliers (Granite), MoE feed-forward (56_moe.c), latent attention
   (57_mla.c). Each block is a function of the session's named buffers, so a backward pass
   can find every activation. */
/* #include "10_internal.h" (already above) */

struct llm_session {
    const llm_model *m;
    llm_allocator alloc;
    llm_pool *pool;
    bool own_pool;
    int64_t n_ctx, n_batch, n_past;
    int n_threads;
    llm_token *tokens;             /* [cap_tokens] every token evaluated, in order */
    int64_t cap_tokens;
    llm__kv *kv;                   /* [L], pointing into block */
    llm__kv_fmt kvf;               /* f32 or quantized rows */
    bool rotating;                 /* positions may pass n_ctx: the cache drops the oldest */
    int64_t n_written;             /* highest position written + 1 since the cache was empty */
    float *attn_scratch;           /* [n_threads, llm__kv_scratch(D)] */
    /* which sequence each row of a chunk belongs to: this session's own positions, or one
       token from each of several sessions (llm_session_eval_batch) */
    int64_t *row_pos;              /* [B] position of row t */
    llm_session **row_seq;         /* [B] the session whose cache row t reads and extends */
    /* activations of the current chunk (B = n_batch rows) */
    float *x;                      /* [B, C] residual stream */
    float *h, *h2;                 /* [B, C] normalized input of attention / feed-forward */
    float *q, *k, *v;              /* [B, H*D] [B, Hkv*D] [B, Hkv*D] (MLA: [B, H*(nope+rope)] [B, rank+rope]) */
    float *qkv;                    /* [B, (H+2Hkv)*D] fused projection (GPT-NeoX) */
    float *att;                    /* [B, H*Dv] attention output, before Wo */
    float *attn_out, *ffn_out;     /* [B, C] block outputs before the residual add */
    float *gate, *up;              /* [B, F] (F: widest feed-forward of dense, expert and shared) */
    float *router;                 /* [B, E] router logits / scores */
    float *topk_w, *rows_w;        /* [B, K] routing weights; [B] weights of one expert's rows */
    int32_t *topk, *rows;          /* [B, K] chosen experts; [B] tokens of one expert */
    float *xe, *ye;                /* [B, C] one expert's gathered inputs / outputs */
    float *mla_qa;                 /* [B, q_lora_rank] */
    float *mla_q;                  /* [B, H*(rank+rope)] queries absorbed into the latent space */
    float *mla_lat;                /* [H, B, rank] attention output in the latent space */
    float *logits;                 /* [V] of the last position */
    float *scores;                 /* [n_threads, n_ctx] attention scores */
    float *mm_scratch;             /* [n_threads, mm_stride], then the activations quantized once per matmul (llm__matmul_scratch_bytes) */
    int64_t mm_stride;             /* widest matmul input */
    float *freq_buf;               /* [2, n_rot/2] rope frequencies that change with the length */
    const float *freq, *freq_local;/* [n_rot/2] this chunk's frequencies: full / sliding layers */
    float mscale, mscale_local;
    void *block;                   /* one allocation backing everything above */
};

/* out[t] = norm(x[t]) over n columns: RMSNorm (Gemma: w + 1) or LayerNorm (bias optional).
   No weight and no bias: no norm (OLMo 2 has none before its blocks). In place is fine. */
static void llm__norm_n(const llm__hparams *hp, float *out, const float *x, int64_t T, int64_t n, const float *w, const float *b) {
    for (int64_t t = 0; t < T; t++) {
        if (!w && !b) memmove(out + t * n, x + t * n, (size_t)n * sizeof(float));
        else if (hp->norm == LLM__NORM_LAYER) llm__layernorm(out + t * n, x + t * n, w, b, n, (float)hp->norm_eps);
        else llm__rmsnorm(out + t * n, x + t * n, w, n, (float)hp->norm_eps, hp->norm_add_one);
    }
}

static void llm__norm_rows(const llm_session *s, float *out, const float *x, int64_t T, const float *w, const float *b) {
    llm__norm_n(&s->m->hp, out, x, T, s->m->hp.n_embd, w, b);
}

/* y[t] = x[t] W^T + bias for t < T. */
static void llm__linear(llm_session *s, float *y, const float *x, int64_t T, const llm_tensor *w, const float *bias) {
    llm__matmul(s->pool, s->mm_scratch, y, w->shape[0], x, T, w);
    if (bias)
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < w->shape[0]; i++) y[t * w->shape[0] + i] += bias[i];
}

/* The rope frequencies of one evaluation call that ends at position end - 1: the model's,
   or recomputed where they depend on how long the sequence has grown (dynamic NTK,
   LongRoPE; 51_model.c). As in transformers, one call (a whole prompt, even when it is
   split into chunks) uses one set; keys already cached keep the rotation they got. */
static void llm__rope_prepare(llm_session *s, int64_t end) {
    const llm_model *m = s->m;
    const llm__hparams *hp = &m->hp;
    int64_t half = hp->n_rot / 2;
    s->freq = m->inv_freq, s->mscale = m->rope_mscale;
    s->freq_local = m->inv_freq_local, s->mscale_local = m->rope_mscale_local;
    if (llm__rope_dynamic(&hp->rope)) {
        llm__rope_inv_freq(&hp->rope, hp->n_rot, hp->n_ctx_train, end, s->freq_buf, &s->mscale);
        s->freq = s->freq_buf;
    }
    if (llm__rope_dynamic(&hp->rope_local)) {
        llm__rope_inv_freq(&hp->rope_local, hp->n_rot, hp->n_ctx_train, end, s->freq_buf + half, &s->mscale_local);
        s->freq_local = s->freq_buf + half;
    }
}

/* GPT-NeoX: the fused projection is [T, H, 3, D]; spread it into q, k, v [T, H*D]. */
static void llm__split_qkv_per_head(llm_session *s, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    int64_t H = hp->n_heads, D = hp->head_dim;
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) {
            const float *src = s->qkv + (t * H + h) * 3 * D;
            memcpy(s->q + (t * H + h) * D, src, (size_t)D * sizeof(float));
            memcpy(s->k + (t * H + h) * D, src + D, (size_t)D * sizeof(float));
            memcpy(s->v + (t * H + h) * D, src + 2 * D, (size_t)D * sizeof(float));
        }
}

typedef struct { llm_session *s; int64_t il, T; } llm__layer_task;

/* Rows [lo, hi) of llm__qk_prepare: per-head q/k norms, rope (angles computed once per row,
   in the thread's attention scratch, which is free until attention runs), cache k and v. */
static void llm__qk_rows(llm_session *s, int64_t il, int64_t lo, int64_t hi, float *cs) {
    const llm_model *m = s->m;
    const llm__hparams *hp = &m->hp;
    const llm__layer *l = &m->layers[il];
    int64_t D = hp->head_dim, H = hp->n_heads, Hkv = hp->n_kv_heads;
    bool sliding = hp->layer_sliding[il], rope = hp->layer_rope[il];
    const float *qn = hp->qk_norm_full ? NULL : l->q_norm, *kn = hp->qk_norm_full ? NULL : l->k_norm;
    for (int64_t t = lo; t < hi; t++) {
        int64_t pos = s->row_pos[t];
        llm_session *seq = s->row_seq[t];
        if (rope) llm__rope_table(cs, pos, sliding ? s->freq_local : s->freq, hp->n_rot, sliding ? s->mscale_local : s->mscale);
        for (int64_t h = 0; h < H; h++) {
            float *qh = s->q + (t * H + h) * D;
            if (qn) llm__rmsnorm(qh, qh, qn, D, (float)hp->norm_eps, hp->norm_add_one);
            if (rope) llm__rope_apply(qh, cs, hp->n_rot, hp->rope_interleaved);
        }
        for (int64_t h = 0; h < Hkv; h++) {
            float *kh = s->k + (t * Hkv + h) * D;
            if (kn) llm__rmsnorm(kh, kh, kn, D, (float)hp->norm_eps, hp->norm_add_one);
            if (rope) llm__rope_apply(kh, cs, hp->n_rot, hp->rope_interleaved);
            llm__kv_store(&seq->kv[il], &seq->kvf, h, pos, kh, s->v + (t * Hkv + h) * D, D);
        }
    }
}

static void llm__qk_worker(void *ctx, int ith, int nth) {
    const llm__layer_task *a = (const llm__layer_task *)ctx;
    int64_t lo, hi;
    llm__split(a->T, ith, nth, &lo, &hi);
    llm__qk_rows(a->s, a->il, lo, hi, a->s->attn_scratch + (int64_t)ith * llm__kv_scratch(a->s->m->hp.head_dim));
}

/* q/k norms (per head: Qwen3, Gemma 3; over all heads: OLMo 2) and rope, then append k and v
   to the cache (rows of a chunk hold distinct positions, so distinct cache slots: threads
   take rows; a single row is not worth a dispatch). */
static void llm__qk_prepare(llm_session *s, int64_t il, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    const llm__layer *l = &s->m->layers[il];
    if (hp->qk_norm_full) {
        llm__norm_n(hp, s->q, s->q, T, hp->n_heads * hp->head_dim, l->q_norm, NULL);
        llm__norm_n(hp, s->k, s->k, T, hp->n_kv_heads * hp->head_dim, l->k_norm, NULL);
    }
    llm__layer_task task = { s, il, T };
    if (T > 1) llm__parallel_for(s->pool, llm__qk_worker, &task);
    else llm__qk_worker(&task, 0, 1);
}

/* First cached position token pos may attend to: 0, or the start of its sliding window. */
static int64_t llm__attn_start(const llm__hparams *hp, int64_t il, int64_t pos) {
    return hp->layer_sliding[il] && hp->sliding_window ? LLM__MAX(0, pos - hp->sliding_window + 1) : 0;
}

#define LLM__ATT_TQ 4   /* consecutive rows of a chunk whose queries go through the cache together */

/* A group of queries that read the same f32 slots of one cache (slot0 on). */
typedef struct {
    llm__attn_q qs[LLM__ATT_MAXQ];
    int nq;
    const llm__kv *c;
    int64_t slot0;
} llm__attn_group;

static void llm__attn_flush(llm__attn_group *g, int64_t kvh, int64_t D, const llm__attn_params *p, float *scratch) {
    if (g->nq) llm__kv_attend_shared(g->qs, g->nq, g->c, kvh, D, g->slot0, p, scratch);
    g->nq = 0;
}

/* The queries of rows [t0, t0 + LLM__ATT_TQ) for the query heads of kv head kvh (GQA: query
   head h reads kv head h / (H / Hkv), with no copy of K or V). Those that see one f32 slot
   range from the same first slot of the same cache (the heads of a row; consecutive
   positions, causal) share one pass over it; the others (ring, quantized rows) go alone.
   Either way each query gets the same result. */
static void llm__attn_unit(const llm__layer_task *a, int64_t t0, int64_t kvh, float *scratch) {
    llm_session *s = a->s;
    const llm__hparams *hp = &s->m->hp;
    int64_t D = hp->head_dim, H = hp->n_heads, group = H / hp->n_kv_heads;
    llm__attn_params params = { .scale = hp->attn_scale, .softcap = hp->attn_softcap };
    llm__attn_group g = { .nq = 0 };
    for (int64_t t = t0; t < LLM__MIN(t0 + LLM__ATT_TQ, a->T); t++) {
        const llm_session *seq = s->row_seq[t];
        const llm__kv *c = &seq->kv[a->il];
        llm__kv_span spans[3];
        int n = llm__kv_spans(c, llm__attn_start(hp, a->il, s->row_pos[t]), s->row_pos[t], spans);
        bool shared = n == 1 && !seq->kvf.quantized;
        if (shared && (g.c != c || g.slot0 != spans[0].slot)) {
            llm__attn_flush(&g, kvh, D, &params, scratch);
            g.c = c, g.slot0 = spans[0].slot;
        }
        for (int64_t h = kvh * group; h < (kvh + 1) * group; h++) {
            float *out = s->att + (t * H + h) * D;
            const float *q = s->q + (t * H + h) * D;
            if (!shared) { llm__kv_attend(out, q, c, &seq->kvf, kvh, D, spans, n, &params, scratch); continue; }
            if (g.nq == LLM__ATT_MAXQ) llm__attn_flush(&g, kvh, D, &params, scratch);
            g.qs[g.nq++] = (llm__attn_q){ .q = q, .out = out, .n = spans[0].n };
        }
    }
    llm__attn_flush(&g, kvh, D, &params, scratch);
}

/* Attention for the units (LLM__ATT_TQ rows x kv head) this thread owns, dealt round-robin:
   under a causal mask later rows cost more, so contiguous ranges would leave a thread idle. */
static void llm__attn_worker(void *ctx, int ith, int nth) {
    const llm__layer_task *a = (const llm__layer_task *)ctx;
    const llm__hparams *hp = &a->s->m->hp;
    int64_t Hkv = hp->n_kv_heads, n_units = (a->T + LLM__ATT_TQ - 1) / LLM__ATT_TQ * Hkv;
    float *scratch = a->s->attn_scratch + (int64_t)ith * llm__kv_scratch(hp->head_dim);
    for (int64_t u = ith; u < n_units; u += nth) llm__attn_unit(a, u / Hkv * LLM__ATT_TQ, u % Hkv, scratch);
}

/* out[T, C] = attention(h) Wo (+ bias). */
static void llm__attention_block(llm_session *s, int64_t il, const float *h, float *out, int64_t T) {
    const llm__layer *l = &s->m->layers[il];
    if (l->wqkv) {
        llm__linear(s, s->qkv, h, T, l->wqkv, l->bqkv);
        llm__split_qkv_per_head(s, T);
    } else {
        llm__linear(s, s->q, h, T, l->wq, l->bq);
        llm__linear(s, s->k, h, T, l->wk, l->bk);
        llm__linear(s, s->v, h, T, l->wv, l->bv);
    }
    llm__qk_prepare(s, il, T);
    llm__layer_task task = { s, il, T };
    llm__parallel_for(s->pool, llm__attn_worker, &task);
    llm__linear(s, out, s->att, T, l->wo, l->bo);
}

/* out[T, C] = gated MLP down(act(gate(h)) * up(h)); without a gate: down(act(up(h))).
   Used for the dense feed-forward, each routed expert and the shared expert. */
static void llm__mlp(llm_session *s, float *out, const float *h, int64_t T, const llm__mlp_w *w, const float *b_up, const float *b_down) {
    const llm__hparams *hp = &s->m->hp;
    int64_t F = w->up->shape[0];
    llm__linear(s, s->up, h, T, w->up, b_up);
    if (w->gate) llm__linear(s, s->gate, h, T, w->gate, NULL);
    llm__k->act_mul(hp->act, s->up, w->gate ? s->gate : NULL, T * F);
    llm__linear(s, out, s->up, T, w->down, b_down);
}

/* x[t] = embedding row of tokens[t], dequantized to f32 and scaled (+ the learned position row). */
static void llm__embed(llm_session *s, const llm_token *tokens, int64_t T) {
    const llm_model *m = s->m;
    int64_t C = m->hp.n_embd;
    for (int64_t t = 0; t < T; t++) {
        float *x = s->x + t * C;
        llm__mat_row_f32(m->tok_embd, tokens[t], x);
        if (m->hp.embed_scale != 1.0f)
            for (int64_t i = 0; i < C; i++) x[i] *= m->hp.embed_scale;
        if (m->pos_embd) {
            size_t pos_bytes = llm_dtype_n_bytes(m->pos_embd->dtype, C);
            llm_convert(LLM_DTYPE_F32, s->h, m->pos_embd->dtype, (const uint8_t *)m->pos_embd->data + (size_t)s->row_pos[t] * pos_bytes, C);
            for (int64_t i = 0; i < C; i++) x[i] += s->h[i];
        }
    }
}
/* ==== end llm_impl/55_forward.c ==== */
/* ==== begin llm_impl/56_moe.c ==== */
/* ---- >>moe: mixture-of-experts feed-forward ----
   A router scores E experts per token, the K best run, their outputs are summed with the
   routing weights; a shared expert (Qwen2-MoE, DeepSeek) runs on every token. Only chosen
   experts are computed: tokens are grouped by expert and each expert's matmuls run once
   over its tokens. Routing rules (transformers' modeling files):
     softmax (Mixtral, Qwen MoE): p = softmax(logits); top-k of p; renormalised to sum 1
       when norm_topk_prob (Mixtral always, Qwen2-MoE not).
     sigmoid grouped (DeepSeek V3): s = sigmoid(logits); choose by s + bias within the
       topk_group groups whose two best experts score highest; weights are s (without the
       bias), renormalised, times routed_scaling_factor.
   Not here: capacity limits, token dropping, the auxiliary loss (training only). */
/* #include "10_internal.h" (already above) */

static float llm__sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* DeepSeek V3 group limit: a bitmask of the topk_group groups with the highest sum of
   their two best choice scores. */
static uint64_t llm__route_groups(const llm__hparams *hp, const float *score, const float *bias) {
    int64_t per = hp->n_experts / hp->n_group;
    float gs[64];
    for (int64_t g = 0; g < hp->n_group; g++) {
        float b1 = -INFINITY, b2 = -INFINITY;
        for (int64_t e = g * per; e < (g + 1) * per; e++) {
            float c = score[e] + (bias ? bias[e] : 0);
            if (c > b1) { b2 = b1; b1 = c; } else if (c > b2) b2 = c;
        }
        gs[g] = b1 + b2;
    }
    uint64_t mask = 0;
    for (int64_t k = 0; k < hp->topk_group; k++) {
        int64_t best = -1;
        for (int64_t g = 0; g < hp->n_group; g++)
            if (!(mask >> g & 1) && (best < 0 || gs[g] > gs[best])) best = g;
        mask |= 1ull << best;
    }
    return mask;
}

/* One token: logits[E] (overwritten with scores) -> idx[K], w[K]. */
static void llm__route_token(const llm__hparams *hp, const float *bias, float *logits, int32_t *idx, float *w) {
    int64_t E = hp->n_experts, K = hp->n_experts_used, per = E / hp->n_group;
    bool sigmoid = hp->router == LLM__ROUTER_SIGMOID_GROUPED;
    uint64_t groups = ~0ull;
    if (sigmoid) {
        for (int64_t e = 0; e < E; e++) logits[e] = llm__sigmoid(logits[e]);
        if (hp->n_group > 1) groups = llm__route_groups(hp, logits, bias);
    } else {
        llm__softmax(logits, E);
        bias = NULL;
    }
    double sum = 0;
    for (int64_t k = 0; k < K; k++) {   /* K passes of argmax: K is small */
        int64_t best = -1;
        for (int64_t e = 0; e < E; e++) {
            bool taken = !(groups >> (e / per) & 1);
            for (int64_t j = 0; j < k && !taken; j++) taken = idx[j] == e;
            if (!taken && (best < 0 || logits[e] + (bias ? bias[e] : 0) > logits[best] + (bias ? bias[best] : 0))) best = e;
        }
        idx[k] = (int32_t)best;
        w[k] = logits[best];
        sum += w[k];
    }
    float norm = hp->moe_norm_topk ? (float)(1.0 / (sum + (sigmoid ? 1e-20 : 0))) : 1.0f;
    for (int64_t k = 0; k < K; k++) w[k] *= norm * hp->routed_scale;
}

/* out[T, C] = sum over chosen experts of weight * expert(h) (+ the shared expert). */
static void llm__moe_block(llm_session *s, const llm__layer *l, const float *h, float *out, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    int64_t E = hp->n_experts, K = hp->n_experts_used, C = hp->n_embd;
    llm__linear(s, s->router, h, T, l->router, NULL);
    for (int64_t t = 0; t < T; t++) llm__route_token(hp, l->router_bias, s->router + t * E, s->topk + t * K, s->topk_w + t * K);
    memset(out, 0, (size_t)(T * C) * sizeof(float));
    for (int64_t e = 0; e < E; e++) {
        int64_t n = 0;                   /* gather the tokens routed to e */
        for (int64_t i = 0; i < T * K; i++)
            if (s->topk[i] == e) {
                s->rows[n] = (int32_t)(i / K);
                s->rows_w[n] = s->topk_w[i];
                memcpy(s->xe + n * C, h + (i / K) * C, (size_t)C * sizeof(float));
                n++;
            }
        if (!n) continue;
        llm__mlp(s, s->ye, s->xe, n, &l->experts[e], NULL, NULL);
        for (int64_t r = 0; r < n; r++) llm__k->axpy_f32(out + s->rows[r] * C, s->rows_w[r], s->ye + r * C, C);
    }
    if (!l->shared.up) return;
    llm__mlp(s, s->ye, h, T, &l->shared, NULL, NULL);
    if (l->shared_gate) llm__linear(s, s->router, h, T, l->shared_gate, NULL);   /* [T, 1] */
    for (int64_t t = 0; t < T; t++) llm__k->axpy_f32(out + t * C, l->shared_gate ? llm__sigmoid(s->router[t]) : 1.0f, s->ye + t * C, C);
}
/* ==== end llm_impl/56_moe.c ==== */
/* ==== begin llm_impl/57_mla.c ==== */
/* ---- >>mla: multi-head latent attention (DeepSeek V2/V3, arXiv:2405.04434) ----
   Keys and values of all heads come from one compressed latent c = norm(h Wkv_a)[:rank]
   per token, plus one rope key kr shared by the heads:
       k_h = [Wuk_h c, kr],  v_h = Wuv_h c        (Wuk_h [nope, rank], Wuv_h [v, rank]: rows of kv_b)
   The cache holds only [c, kr] per token (rank + rope floats instead of 2 H D). The
   up-projections are absorbed into the query and the output instead of expanding every
   cached row:
       q_h . k_h,j = (Wuk_h^T q_nope_h) . c_j + q_rope_h . kr_j
       out_h = Wuv_h (sum_j p_j c_j)
   so attention runs in the latent space: one dot of rank + rope per cached token and head.
   Layout note: transformers rotates DeepSeek's interleaved pairs and writes them back
   de-interleaved; the dot products (all that attention sees) are the same. */
/* #include "10_internal.h" (already above) */

/* Row r of w as f32: in place for f32 weights, else widened into tmp. */
static const float *llm__row_f32(const llm_tensor *w, int64_t r, float *tmp) {
    int64_t cols = w->shape[1];
    const uint8_t *row = (const uint8_t *)w->data + (size_t)r * llm_dtype_n_bytes(w->dtype, cols);
    if (w->dtype == LLM_DTYPE_F32) return (const float *)row;
    llm_convert(LLM_DTYPE_F32, tmp, w->dtype, row, cols);
    return tmp;
}

typedef struct { llm_session *s; int64_t il, T; } llm__mla_task;

/* Per (token, head): absorbed query [Wuk_h^T q_nope, rope(q_rope)], then attention over the
   cached latent rows; the weighted latent goes to mla_lat[h, t]. */
static void llm__mla_worker(void *ctx, int ith, int nth) {
    llm__mla_task *a = (llm__mla_task *)ctx;
    llm_session *s = a->s;
    const llm__hparams *hp = &s->m->hp;
    const llm__layer *l = &s->m->layers[a->il];
    int64_t H = hp->n_heads, nope = hp->qk_nope_dim, rope = hp->qk_rope_dim, R = hp->kv_lora_rank, A = R + rope;
    int64_t QK = nope + rope, per_head = nope + hp->v_head_dim;
    float *scores = s->scores + (int64_t)ith * s->n_ctx, *tmp = s->mm_scratch + (int64_t)ith * s->mm_stride;
    int64_t lo, hi;
    llm__split(a->T * H, ith, nth, &lo, &hi);
    for (int64_t idx = lo; idx < hi; idx++) {
        int64_t t = idx / H, h = idx % H, pos = s->row_pos[t];
        const float *q = s->q + (t * H + h) * QK;
        float *qa = s->mla_q + (t * H + h) * A, *lat = s->mla_lat + (h * a->T + t) * R;
        memset(qa, 0, (size_t)R * sizeof(float));
        for (int64_t i = 0; i < nope; i++) llm__k->axpy_f32(qa, q[i], llm__row_f32(l->wkv_b, h * per_head + i, tmp), R);
        memcpy(qa + R, q + nope, (size_t)rope * sizeof(float));
        llm__rope(qa + R, pos, s->freq, rope, hp->rope_interleaved, s->mscale);
        const float *cache = s->row_seq[t]->kv[a->il].k;
        for (int64_t j = 0; j <= pos; j++) scores[j] = llm__k->dot_f32(qa, cache + j * A, A) * hp->attn_scale;
        llm__softmax(scores, pos + 1);
        memset(lat, 0, (size_t)R * sizeof(float));
        for (int64_t j = 0; j <= pos; j++) llm__k->axpy_f32(lat, scores[j], cache + j * A, R);
    }
}

/* Queries [T, H*(nope+rope)]: h Wq, or through the low-rank q_a -> norm -> q_b. */
static void llm__mla_queries(llm_session *s, const llm__layer *l, const float *h, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    if (!l->wq_a) { llm__linear(s, s->q, h, T, l->wq, NULL); return; }
    llm__linear(s, s->mla_qa, h, T, l->wq_a, NULL);
    llm__norm_n(hp, s->mla_qa, s->mla_qa, T, hp->q_lora_rank, l->q_a_norm, NULL);
    llm__linear(s, s->q, s->mla_qa, T, l->wq_b, NULL);
}

/* out[T, C] = MLA(h) Wo. */
static void llm__mla_block(llm_session *s, int64_t il, const float *h, float *out, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    const llm__layer *l = &s->m->layers[il];
    int64_t H = hp->n_heads, nope = hp->qk_nope_dim, rope = hp->qk_rope_dim, R = hp->kv_lora_rank, A = R + rope, Dv = hp->v_head_dim;
    llm__mla_queries(s, l, h, T);
    llm__linear(s, s->k, h, T, l->wkv_a, NULL);            /* [T, rank + rope]: latent and rope key */
    for (int64_t t = 0; t < T; t++) {
        float *row = s->row_seq[t]->kv[il].k + s->row_pos[t] * A;
        llm__norm_n(hp, row, s->k + t * A, 1, R, l->kv_a_norm, NULL);
        memcpy(row + R, s->k + t * A + R, (size_t)rope * sizeof(float));
        llm__rope(row + R, s->row_pos[t], s->freq, rope, hp->rope_interleaved, s->mscale);
    }
    llm__mla_task task = { s, il, T };
    llm__parallel_for(s->pool, llm__mla_worker, &task);
    for (int64_t hh = 0; hh < H; hh++) {                    /* att[:, h] = lat[h] Wuv_h^T: a view of kv_b's rows */
        llm_tensor wuv = *l->wkv_b;
        size_t row_bytes = llm_dtype_n_bytes(wuv.dtype, R);
        wuv.shape[0] = Dv;
        wuv.data = (uint8_t *)l->wkv_b->data + (size_t)(hh * (nope + Dv) + nope) * row_bytes;
        llm__matmul(s->pool, s->mm_scratch, s->att + hh * Dv, H * Dv, s->mla_lat + hh * T * R, T, &wuv);
    }
    llm__linear(s, out, s->att, T, l->wo, l->bo);
}

/* ---- kv_b in the forms files store it ----
   The code above reads Wuk_h and Wuv_h as rows of a float kv_b_proj [H (nope + Dv), rank].
   MLX files may hold it quantized instead, or split per head as mlx_lm's DeepseekV3 does:
   embed_q [H, rank, nope] (Wuk_h transposed) and unembed_out [H, Dv, rank] (Wuv_h), each
   float or quantized. These become one f32 kv_b owned by the model, the dequantized values
   exactly (mlx_lm re-quantizes the split of a quantized kv_b_proj; we keep the file's
   values), at 4 bytes per weight (DeepSeek-V3: 64 MiB per layer, 1/6 of its MoE layer at 4 bits). */

/* Head h of the stack "<prefix><part>.weight" [H, rows, cols]: a view, float or quantized. */
static llm_status llm__mla_head(llm_model *m, const char *prefix, const char *part, int64_t h, int64_t rows, int64_t cols,
                                const llm_tensor **out) {
    char name[512];
    snprintf(name, sizeof name, "%s%s.weight", prefix, part);
    const llm_tensor *t = llm__model_tensor(m, name);
    if (!t) return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%skv_b_proj.weight' is missing (and so is its split form '%s')", m->path, prefix, name);
    int64_t H = m->hp.n_heads;
    if (t->dtype == LLM_DTYPE_U32 && t->n_dims == 3 && t->shape[0] == H) return llm__bind_mlx_expert(m, name, t, h, rows, cols, out);
    if (t->n_dims != 3 || t->shape[0] != H || t->shape[1] != rows || t->shape[2] != cols || !llm__float_dtype(t->dtype))
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' should be a float or MLX-quantized [%lld, %lld, %lld]", m->path, name,
                         (long long)H, (long long)rows, (long long)cols);
    *out = llm__model_view(m, t, h, 0, rows);
    return *out ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
}

/* kv_b of layer il as f32 rows [H (nope + Dv), rank]: from a quantized kv_b_proj or from embed_q and unembed_out. */
static llm_status llm__mla_kv_b(llm_model *m, int64_t il) {
    const llm__hparams *hp = &m->hp;
    llm__layer *l = &m->layers[il];
    int64_t H = hp->n_heads, nope = hp->qk_nope_dim, Dv = hp->v_head_dim, R = hp->kv_lora_rank, per = nope + Dv;
    if (l->wkv_b && l->wkv_b->dtype != LLM_DTYPE_MLX_AFFINE) return LLM_OK;
    float *kv = (float *)llm__model_own(m, (size_t)(H * per * R + nope) * sizeof(float)), *tmp = kv + H * per * R;
    llm_tensor *t = (llm_tensor *)llm__model_own(m, sizeof *t);
    if (!kv || !t) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", m->path);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "model.layers.%lld.self_attn.", (long long)il);
    for (int64_t r = 0; l->wkv_b && r < H * per; r++) llm__mat_row_f32(l->wkv_b, r, kv + r * R);
    for (int64_t h = 0; !l->wkv_b && h < H; h++) {
        const llm_tensor *e, *u;
        llm_status s = llm__mla_head(m, prefix, "embed_q", h, R, nope, &e);
        if (!s) s = llm__mla_head(m, prefix, "unembed_out", h, Dv, R, &u);
        if (s) return s;
        for (int64_t r = 0; r < R; r++) {              /* embed_q row r holds column r of Wuk_h */
            llm__mat_row_f32(e, r, tmp);
            for (int64_t i = 0; i < nope; i++) kv[(h * per + i) * R + r] = tmp[i];
        }
        for (int64_t j = 0; j < Dv; j++) llm__mat_row_f32(u, j, kv + (h * per + nope + j) * R);
    }
    *t = (llm_tensor){ .name = "kv_b_proj", .dtype = LLM_DTYPE_F32, .n_dims = 2, .shape = { H * per, R }, .data = kv,
                       .n_bytes = (size_t)(H * per * R) * sizeof(float) };
    l->wkv_b = t;
    return LLM_OK;
}

/* After binding: every MLA layer's kv_b in the form the attention reads. */
LLM_PRIVATE llm_status llm__mla_bind(llm_model *m) {
    llm_status s = LLM_OK;
    for (int64_t il = 0; il < m->hp.n_layers && !s && m->hp.kv_lora_rank; il++) s = llm__mla_kv_b(m, il);
    return s;
}
/* ==== end llm_impl/57_mla.c ==== */
/* ==== begin llm_impl/58_transformer.c ==== */
/* ---- >>transformer: a layer and a whole chunk, from the blocks of 55-57 ----
   Sequential block (most families; Gemma 2/3 and OLMo 2 also norm each block's output):
       x = x + post_norm(attn(norm(x))) * residual_scale
       x = x + post_norm(ffn(norm(x))) * residual_scale
   Parallel block (GPT-J style: Phi and Cohere share one norm, GPT-NeoX has two):
       x = x + attn(norm1(x)) + ffn(norm2(x)) */
/* #include "10_internal.h" (already above) */

static void llm__attn_any(llm_session *s, int64_t il, const float *h, float *out, int64_t T) {
    if (s->m->hp.kv_lora_rank) llm__mla_block(s, il, h, out, T);
    else llm__attention_block(s, il, h, out, T);
}

static void llm__ffn_any(llm_session *s, int64_t il, const float *h, float *out, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    const llm__layer *l = &s->m->layers[il];
    if (hp->n_experts && hp->layer_moe[il]) llm__moe_block(s, l, h, out, T);
    else llm__mlp(s, out, h, T, &l->ffn, l->b_up, l->b_down);
}

/* x += scale * (post_norm ? post_norm(y) : y) over T rows. */
static void llm__residual(llm_session *s, float *y, int64_t T, const float *post_norm) {
    const llm__hparams *hp = &s->m->hp;
    if (post_norm) llm__norm_rows(s, y, y, T, post_norm, NULL);
    for (int64_t i = 0; i < T * hp->n_embd; i++) s->x[i] += hp->residual_scale * y[i];
}

static void llm__layer_forward(llm_session *s, int64_t il, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    const llm__layer *l = &s->m->layers[il];
    llm__norm_rows(s, s->h, s->x, T, l->attn_norm, l->attn_norm_b);
    llm__attn_any(s, il, s->h, s->attn_out, T);
    if (hp->parallel_block) {
        const float *hf = s->h;
        if (l->ffn_norm) { llm__norm_rows(s, s->h2, s->x, T, l->ffn_norm, l->ffn_norm_b); hf = s->h2; }
        llm__ffn_any(s, il, hf, s->ffn_out, T);
        for (int64_t i = 0; i < T * hp->n_embd; i++) s->x[i] += s->attn_out[i] + s->ffn_out[i];
        return;
    }
    llm__residual(s, s->attn_out, T, l->post_attn_norm);
    llm__norm_rows(s, s->h, s->x, T, l->ffn_norm, l->ffn_norm_b);
    llm__ffn_any(s, il, s->h, s->ffn_out, T);
    llm__residual(s, s->ffn_out, T, l->post_ffn_norm);
}

/* logits[n, V] = norm(x) Wout (+ bias), scaled (Cohere, Granite) and soft-capped (Gemma 2). */
static void llm__logits(llm_session *s, const float *x, int64_t n, float *logits) {
    const llm_model *m = s->m;
    const llm__hparams *hp = &m->hp;
    llm__norm_rows(s, s->h, x, n, m->out_norm, m->out_norm_b);
    llm__linear(s, logits, s->h, n, m->output, m->output_b);
    if (hp->logit_scale == 1.0f && hp->final_softcap <= 0) return;
    for (int64_t i = 0; i < n * hp->n_vocab; i++) {
        float z = logits[i] * hp->logit_scale;
        logits[i] = hp->final_softcap > 0 ? hp->final_softcap * tanhf(z / hp->final_softcap) : z;
    }
}

/* One chunk (T <= n_batch) through the whole network, at the positions and caches that
   s->row_pos / s->row_seq name. logits_all: [T, V] or NULL (then only the last row's logits
   are computed, into s->logits). */
static void llm__forward_chunk(llm_session *s, const llm_token *tokens, int64_t T, float *logits_all) {
    const llm_model *m = s->m;
    int64_t C = m->hp.n_embd, V = m->hp.n_vocab;
    llm__embed(s, tokens, T);
    for (int64_t il = 0; il < m->hp.n_layers; il++) llm__layer_forward(s, il, T);
    int64_t first = logits_all ? 0 : T - 1;
    llm__logits(s, s->x + first * C, T - first, logits_all ? logits_all : s->logits);
    if (logits_all) memcpy(s->logits, logits_all + (T - 1) * V, (size_t)V * sizeof(float));
}
/* ==== end llm_impl/58_transformer.c ==== */
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
    } else if (llm__ends_with(path, ".gguf") && llm__file_exists(path)) {
        s = llm__load_gguf(m, path);
    } else {
#ifndef LLM_NO_CJSON
        s = llm__load_hf(m, path, desc);
#else
        s = llm__fail(LLM_ERR_UNSUPPORTED, "%s: Hugging Face models need cJSON (built with LLM_NO_CJSON)", path);
#endif
    }
    if (!s) s = llm__model_finish(m);
    if (s) { llm_model_free(m); return s; }
    llm_pool_destroy(m->load_pool);   /* the regrouping threads are done */
    m->load_pool = NULL;
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

/* Widest row each buffer must hold, over the model's options (MLA, fused qkv, experts). */
typedef struct llm__widths {
    int64_t q, k, v, qkv, att, ff, mm;
} llm__widths;

static llm__widths llm__session_widths(const llm_model *m) {
    const llm__hparams *hp = &m->hp;
    int64_t H = hp->n_heads, D = hp->head_dim, kv = hp->n_kv_heads * D;
    int64_t qb = H * (hp->qk_nope_dim + hp->qk_rope_dim), latent = hp->kv_lora_rank + hp->qk_rope_dim, hv = H * hp->v_head_dim;
    llm__widths w = { .q = LLM__MAX(H * D, qb), .k = LLM__MAX(kv, latent), .v = kv, .att = LLM__MAX(H * D, hv) };
    w.qkv = m->layers[0].wqkv ? H * D + 2 * kv : 0;
    w.ff = LLM__MAX(hp->n_ff, LLM__MAX(hp->n_ff_expert, hp->n_ff_shared));
    w.mm = LLM__MAX(LLM__MAX(hp->n_embd, w.ff), LLM__MAX(w.att, LLM__MAX(hp->q_lora_rank, hp->kv_lora_rank)));
    return w;
}

/* Floats one cached position takes in layer il, for keys and for values: Hkv*D each, or
   MLA's latent and rope key (and no values). */
static void llm__layer_cache_width(const llm__hparams *hp, int64_t il, int64_t *k, int64_t *v) {
    (void)il;
    *k = hp->kv_lora_rank ? hp->kv_lora_rank + hp->qk_rope_dim : hp->n_kv_heads * hp->head_dim;
    *v = hp->kv_lora_rank ? 0 : hp->n_kv_heads * hp->head_dim;
}

/* How layer il keeps its positions. A rotating session shows every layer [0, keep) and the
   last n_ctx - keep positions; a sliding-window layer sees its window. Either is stored as a
   ring when that takes fewer rows than n_ctx (window + n_batch - 1 rows past keep). */
static void llm__layer_cache_shape(const llm_session *s, int64_t il, int64_t keep, llm__kv *c) {
    const llm__hparams *hp = &s->m->hp;
    int64_t W = hp->layer_sliding[il] && hp->sliding_window ? hp->sliding_window : 0;
    *c = (llm__kv){ .n_slots = s->n_ctx };
    if (s->rotating) { c->keep = keep; c->window = s->n_ctx - keep; }
    if (W && (!c->window || W <= c->window)) { c->keep = 0; c->window = W; }
    int64_t ring = c->keep + c->window + s->n_batch - 1;
    if (c->window && (s->rotating || ring < s->n_ctx)) { c->ring = true; c->n_slots = ring; }
    c->n_f32 = s->kvf.bits_k ? LLM__MIN(s->kvf.quant_start, c->n_slots) : c->n_slots;
}

/* Carve the session's one block: every buffer, in floats (int32 buffers have the same size),
   each rounded up to a cache line. With block NULL only the total is computed. */
static size_t llm__session_carve(llm_session *s, char *block) {
    const llm__hparams *hp = &s->m->hp;
    llm__widths w = llm__session_widths(s->m);
    int64_t B = s->n_batch, C = hp->n_embd, E = hp->n_experts, K = hp->n_experts_used, H = hp->n_heads, L = hp->n_layers;
    int64_t cache = 0, ck, cv, mla = hp->kv_lora_rank ? B * H * (hp->kv_lora_rank + hp->qk_rope_dim) : 0;
    int64_t qbytes = 0, D = hp->head_dim, ng = s->kvf.group ? D / s->kvf.group : 0;
    for (int64_t il = 0; il < L; il++) {
        llm__layer_cache_width(hp, il, &ck, &cv);
        llm__kv *c = &s->kv[il];
        cache += c->n_f32 * (ck + cv);
        if (s->kvf.bits_k)      /* codes in bytes, counted here as floats: 4 per float, rounded up */
            qbytes += c->n_slots * hp->n_kv_heads * ((int64_t)llm__kv_row_bytes(s->kvf.bits_k, D) + (int64_t)llm__kv_row_bytes(s->kvf.bits_v, D) + 3) / 4
                      + c->n_slots * hp->n_kv_heads * 4 * ng;
    }
    struct { void *slot; int64_t n; } bufs[] = {
        { &s->x, B * C }, { &s->h, B * C }, { &s->h2, B * C }, { &s->q, B * w.q }, { &s->k, B * w.k }, { &s->v, B * w.v },
        { &s->qkv, B * w.qkv }, { &s->att, B * w.att }, { &s->attn_out, B * C }, { &s->ffn_out, B * C }, { &s->gate, B * w.ff },
        { &s->up, B * w.ff }, { &s->router, B * LLM__MAX(E, 1) }, { &s->topk_w, B * K }, { &s->rows_w, E ? B : 0 },
        { &s->topk, B * K }, { &s->rows, E ? B : 0 }, { &s->xe, E ? B * C : 0 }, { &s->ye, E ? B * C : 0 },
        { &s->mla_qa, B * hp->q_lora_rank }, { &s->mla_q, mla }, { &s->mla_lat, B * H * hp->kv_lora_rank },
        { &s->logits, hp->n_vocab }, { &s->scores, s->n_threads * s->n_ctx }, { &s->mm_scratch, (int64_t)(llm__matmul_scratch_bytes(s->n_threads, B, w.mm) + 3) / 4 },
        { &s->freq_buf, hp->n_rot }, { &s->row_pos, 2 * B }, { &s->attn_scratch, s->n_threads * llm__kv_scratch(LLM__MAX(D, 1)) },
        { &s->kv[0].k, cache }, { &s->kv[0].kq, qbytes },
    };
    size_t total = 0;
    for (int i = 0; i < LLM__COUNT(bufs); i++) {
        if (block) *(float **)bufs[i].slot = (float *)(block + total);
        total += ((size_t)bufs[i].n * sizeof(float) + 63) / 64 * 64;
    }
    s->mm_stride = w.mm;
    float *at = s->kv[0].k, *qat = (float *)s->kv[0].kq;
    for (int64_t il = 0; block && il < L; il++) {      /* per layer: k [.., n_f32, ..] then v; codes likewise */
        llm__layer_cache_width(hp, il, &ck, &cv);
        llm__kv *c = &s->kv[il];
        c->k = at;
        c->v = cv ? at + c->n_f32 * ck : NULL;
        at += c->n_f32 * (ck + cv);
        if (!s->kvf.bits_k) continue;
        int64_t rows = c->n_slots * hp->n_kv_heads;
        c->kp = qat;
        c->vp = qat + rows * 2 * ng;
        c->kq = (uint8_t *)(qat + rows * 4 * ng);
        c->vq = c->kq + (size_t)rows * llm__kv_row_bytes(s->kvf.bits_k, D);
        qat += rows * 4 * ng + (rows * ((int64_t)llm__kv_row_bytes(s->kvf.bits_k, D) + (int64_t)llm__kv_row_bytes(s->kvf.bits_v, D)) + 3) / 4;
    }
    return total;
}

/* Check and record the rotating and quantized cache options. */
static llm_status llm__session_cache_config(llm_session *s, const llm_session_desc *d) {
    const llm__hparams *hp = &s->m->hp;
    bool q = d->kv_bits_k || d->kv_bits_v;
    s->rotating = d->rotating;
    if ((q || d->rotating) && hp->kv_lora_rank)
        return llm__fail(LLM_ERR_UNSUPPORTED, "session: rotating and quantized caches are not supported for latent attention (%s)", hp->arch);
    if (d->rotating && hp->learned_pos)
        return llm__fail(LLM_ERR_UNSUPPORTED, "session: a rotating cache needs rotary positions (%s has learned ones)", hp->arch);
    if (d->rotating && (d->n_keep >= d->n_ctx || d->n_ctx <= 0))
        return llm__fail(LLM_ERR_INVALID_ARG, "session: a rotating cache needs n_ctx > n_keep (%lld, %d)", (long long)d->n_ctx, (int)d->n_keep);
    if (!q) return LLM_OK;
    int bk = d->kv_bits_k ? d->kv_bits_k : d->kv_bits_v, bv = d->kv_bits_v ? d->kv_bits_v : d->kv_bits_k;
    if ((bk != 4 && bk != 8) || (bv != 4 && bv != 8))
        return llm__fail(LLM_ERR_INVALID_ARG, "session: kv bits must be 4 or 8 (got %d and %d)", bk, bv);
    int64_t g = d->kv_group_size > 0 ? d->kv_group_size : 64;
    g = LLM__MIN(g, hp->head_dim);
    if (hp->head_dim % g || g % 2)
        return llm__fail(LLM_ERR_INVALID_ARG, "session: kv group size %lld does not divide head_dim %lld", (long long)g, (long long)hp->head_dim);
    s->kvf = (llm__kv_fmt){ .bits_k = bk, .bits_v = bv, .group = g, .quant_start = LLM__MAX(d->quantized_kv_start, 0) };
    s->kvf.quantized = s->kvf.quant_start == 0;
    return LLM_OK;
}

LLM_API llm_status llm_session_create(const llm_model *m, const llm_session_desc *desc, llm_session **out) {
    llm_session_desc d = desc ? *desc : (llm_session_desc){ 0 };
    const llm__hparams *hp = &m->hp;
    *out = NULL;
    if (d.n_ctx <= 0) d.n_ctx = hp->n_ctx_train > 0 ? LLM__MIN(hp->n_ctx_train, 4096) : 4096;
    if (hp->learned_pos && d.n_ctx > hp->n_ctx_train)
        return llm__fail(LLM_ERR_INVALID_ARG, "session: n_ctx %lld exceeds the %lld learned positions", (long long)d.n_ctx,
                         (long long)hp->n_ctx_train);
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
    if ((st = llm__session_cache_config(s, &d))) { llm_session_destroy(s); return st; }
    s->kv = (llm__kv *)calloc((size_t)hp->n_layers, sizeof *s->kv);
    for (int64_t il = 0; s->kv && il < hp->n_layers; il++)
        llm__layer_cache_shape(s, il, d.n_keep == 0 ? 4 : d.n_keep < 0 ? 0 : d.n_keep, &s->kv[il]);
    size_t total = s->kv ? llm__session_carve(s, NULL) : 0;
    s->cap_tokens = s->n_ctx;
    s->row_seq = (llm_session **)calloc((size_t)s->n_batch, sizeof *s->row_seq);
    s->tokens = (llm_token *)calloc((size_t)s->cap_tokens, sizeof *s->tokens);
    s->block = s->kv && s->tokens && s->row_seq ? llm__alloc(&s->alloc, total) : NULL;
    if (!s->block) {
        llm_session_destroy(s);
        return llm__fail(LLM_ERR_NOMEM, "session: cannot allocate %zu bytes (n_ctx %lld)", total, (long long)d.n_ctx);
    }
    llm__session_carve(s, (char *)s->block);
    memset(s->logits, 0, (size_t)hp->n_vocab * sizeof(float));
    llm__rope_prepare(s, 0);                 /* valid frequencies for callers of llm__forward_chunk too */
    *out = s;
    return LLM_OK;
}

LLM_API void llm_session_destroy(llm_session *s) {
    if (!s) return;
    if (s->own_pool) llm_pool_destroy(s->pool);
    llm__free(&s->alloc, s->block);
    free(s->tokens);
    free(s->row_seq);
    free(s->kv);
    free(s);
}

/* Room in the token history for n more (a rotating session's history outgrows n_ctx). */
static llm_status llm__session_reserve_tokens(llm_session *s, int64_t n) {
    if (s->n_past + n <= s->cap_tokens) return LLM_OK;
    int64_t cap = LLM__MAX(2 * s->cap_tokens, s->n_past + n);
    llm_token *t = (llm_token *)realloc(s->tokens, (size_t)cap * sizeof *t);
    if (!t) return llm__fail(LLM_ERR_NOMEM, "eval: out of memory for the token history");
    s->tokens = t;
    s->cap_tokens = cap;
    return LLM_OK;
}

/* The chunk about to be written crosses quantized_kv_start: quantize what is cached. */
static void llm__session_maybe_quantize(llm_session *s, int64_t T) {
    const llm__hparams *hp = &s->m->hp;
    if (!s->kvf.bits_k || s->kvf.quantized || s->n_past + T <= s->kvf.quant_start) return;
    for (int64_t il = 0; il < hp->n_layers; il++)
        llm__kv_convert(&s->kv[il], &s->kvf, hp->n_kv_heads, hp->head_dim, LLM__MIN(s->n_past, s->kv[il].n_slots));
    s->kvf.quantized = true;
}

LLM_API llm_status llm_session_eval(llm_session *s, const llm_token *tokens, int64_t n, float *out_logits) {
    const llm__hparams *hp = &s->m->hp;
    if (n <= 0) return llm__fail(LLM_ERR_INVALID_ARG, "eval: no tokens");
    if (!s->rotating && n > s->n_ctx - s->n_past)
        return llm__fail(LLM_ERR_CONTEXT_FULL, "eval: %lld tokens after %lld do not fit the context of %lld", (long long)n,
                         (long long)s->n_past, (long long)s->n_ctx);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return llm__fail(LLM_ERR_INVALID_ARG, "eval: token id %d is outside the vocabulary (0..%lld)", (int)tokens[i],
                             (long long)hp->n_vocab - 1);
    llm_status st = llm__session_reserve_tokens(s, n);
    if (st) return st;
    llm__rope_prepare(s, s->n_past + n);
    for (int64_t done = 0; done < n; done += s->n_batch) {
        int64_t T = LLM__MIN(s->n_batch, n - done);
        memcpy(s->tokens + s->n_past, tokens + done, (size_t)T * sizeof *tokens);
        llm__session_maybe_quantize(s, T);
        for (int64_t t = 0; t < T; t++) { s->row_pos[t] = s->n_past + t; s->row_seq[t] = s; }
        llm__forward_chunk(s, tokens + done, T, out_logits ? out_logits + done * hp->n_vocab : NULL);
        s->n_past += T;
        s->n_written = LLM__MAX(s->n_written, s->n_past);
    }
    return LLM_OK;
}

/* Sessions that can share one forward pass: the same model, the same cache layout, rope
   that does not depend on the length (dynamic NTK / longrope would differ per sequence). */
static llm_status llm__batch_check(llm_session *const *ss, int64_t n) {
    const llm_session *lead = ss[0];
    const llm__hparams *hp = &lead->m->hp;
    if (n > lead->n_batch) return llm__fail(LLM_ERR_INVALID_ARG, "eval_batch: %lld sessions, the first has n_batch %lld", (long long)n, (long long)lead->n_batch);
    if (llm__rope_dynamic(&hp->rope) || llm__rope_dynamic(&hp->rope_local))
        return llm__fail(LLM_ERR_UNSUPPORTED, "eval_batch: %s's rope depends on the sequence length", hp->arch);
    for (int64_t i = 0; i < n; i++) {
        const llm_session *s = ss[i];
        if (s->m != lead->m || s->kvf.bits_k != lead->kvf.bits_k || s->kvf.bits_v != lead->kvf.bits_v || s->kvf.group != lead->kvf.group)
            return llm__fail(LLM_ERR_INVALID_ARG, "eval_batch: session %lld has another model or cache format", (long long)i);
        for (int64_t j = 0; j < i; j++)
            if (ss[j] == s) return llm__fail(LLM_ERR_INVALID_ARG, "eval_batch: session %lld appears twice", (long long)i);
        if (llm_session_room(s) < 1) return llm__fail(LLM_ERR_CONTEXT_FULL, "eval_batch: session %lld is full", (long long)i);
        if (ss[i]->n_past + 1 > s->cap_tokens && llm__session_reserve_tokens(ss[i], 1)) return LLM_ERR_NOMEM;
    }
    return LLM_OK;
}

LLM_API llm_status llm_session_eval_batch(llm_session *const *ss, const llm_token *tokens, int64_t n, float *logits) {
    if (n <= 0) return llm__fail(LLM_ERR_INVALID_ARG, "eval_batch: no sessions");
    llm_session *lead = ss[0];
    int64_t V = lead->m->hp.n_vocab;
    llm_status st = llm__batch_check(ss, n);
    for (int64_t i = 0; i < n && !st; i++)
        if (tokens[i] < 0 || tokens[i] >= V) st = llm__fail(LLM_ERR_INVALID_ARG, "eval_batch: token id %d is outside the vocabulary", (int)tokens[i]);
    if (st) return st;
    llm__rope_prepare(lead, 0);
    for (int64_t i = 0; i < n; i++) {
        llm__session_maybe_quantize(ss[i], 1);
        lead->row_pos[i] = ss[i]->n_past;
        lead->row_seq[i] = ss[i];
    }
    llm__forward_chunk(lead, tokens, n, logits);
    for (int64_t i = 0; i < n; i++) {
        llm_session *s = ss[i];
        memcpy(s->logits, logits + i * V, (size_t)V * sizeof(float));
        s->tokens[s->n_past++] = tokens[i];
        s->n_written = LLM__MAX(s->n_written, s->n_past);
    }
    return LLM_OK;
}

LLM_API const float *llm_session_logits(const llm_session *s) { return s->logits; }
LLM_API int64_t llm_session_n_past(const llm_session *s) { return s->n_past; }
LLM_API int64_t llm_session_n_ctx(const llm_session *s) { return s->n_ctx; }
LLM_API int64_t llm_session_room(const llm_session *s) { return s->rotating ? INT64_MAX : s->n_ctx - s->n_past; }
LLM_API const llm_token *llm_session_tokens(const llm_session *s) { return s->tokens; }
LLM_API const llm_model *llm_session_model(const llm_session *s) { return s->m; }

/* Can layer c still show every position a query at n_past needs after rewinding there?
   Its ring holds the last n_slots - keep positions written. */
static bool llm__kv_rewind_ok(const llm__kv *c, int64_t n_past, int64_t n_written) {
    if (!c->ring || n_past == 0) return true;
    int64_t oldest = n_written - (c->n_slots - c->keep);        /* oldest position still in the ring */
    return LLM__MAX(c->keep, n_past - c->window) >= oldest;
}

LLM_API llm_status llm_session_rewind(llm_session *s, int64_t n_past) {
    if (n_past < 0 || n_past > s->n_past)
        return llm__fail(LLM_ERR_INVALID_ARG, "rewind: %lld is outside 0..%lld", (long long)n_past, (long long)s->n_past);
    for (int64_t il = 0; il < s->m->hp.n_layers; il++)
        if (!llm__kv_rewind_ok(&s->kv[il], n_past, s->n_written))
            return llm__fail(LLM_ERR_INVALID_ARG, "rewind: position %lld has been dropped from layer %lld's cache (ring of %lld)",
                             (long long)n_past, (long long)il, (long long)s->kv[il].n_slots);
    s->n_past = n_past;
    if (n_past == 0) {
        s->n_written = 0;
        s->kvf.quantized = s->kvf.bits_k && s->kvf.quant_start == 0;
    }
    return LLM_OK;
}
/* ==== end llm_impl/60_session.c ==== */
/* ==== begin llm_impl/61_sampler.c ==== */
/* ---- >>sampler: logits processors, RNG, token selection ----
   Here: the xoshiro256** RNG, each logits processor over one row, and llm_sampler, which
   chains them the way mlx-lm's generate_step does (order and semantics: 06_api_sample.h).
   Not here: the generation loop (it calls llm_sampler_accept/llm_sampler_sample).
   Speed: a sample is a few linear passes over the V logits, written so that compilers
   vectorise them (one exp pass serves every filter), and nothing sorts the vocabulary:
   top-k, min_tokens_to_keep and the top-N report select with a size-m heap, top-p
   bounds its candidates by mass and then selects among them like quickselect.
   -inf marks a filtered token everywhere, so build without -ffinite-math-only (which
   -ffast-math implies); the rest of -ffast-math is fine.
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

/* Passes over V floats are the cost of a sample. They run in blocks of LLM__LANES
   independent lanes, a shape GCC -O2 and clang vectorise without -ffast-math (a single
   running max or sum is a serial dependency chain, 4-8x slower); lane order is fixed,
   so results do not depend on the vector width. Bits are read with memcpy and selected
   with integer masks: float compares in ?: stay branches under GCC -O2. */
#define LLM__LANES 8
#ifndef LLM__RESTRICT                  /* no aliasing: lets the compiler vectorise without checks */
#ifdef __cplusplus
#define LLM__RESTRICT __restrict
#else
#define LLM__RESTRICT restrict
#endif
#endif

/* ---- ranking keys ----
   A token's rank as one uint64: the float's bits made order-preserving in the high half,
   ~id in the low half. A larger key means a larger logit, and among equal logits a lower
   id, so every ordering in this file is total and deterministic, and sorting needs no
   comparison context (C11 qsort has none). */

/* The float's bits as an unsigned integer that orders like the float: negatives
   reversed below the positives (-0 just below +0). */
static uint32_t llm__order_bits(uint32_t u) {
    return u ^ ((uint32_t)((int32_t)u >> 31) | 0x80000000u);
}

static uint64_t llm__rank_key(float v, int64_t id) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return ((uint64_t)llm__order_bits(u) << 32) | (uint32_t)(UINT32_MAX - (uint32_t)id);
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
        float weakest = x[llm__key_id(keys[0])];   /* the heap's smallest value */
        for (int64_t i = m; i < n; i += LLM__LANES) {
            int64_t end = LLM__MIN(i + LLM__LANES, n);
            uint32_t any = end - i < LLM__LANES;   /* most full blocks hold no contender */
            if (!any)
                for (int j = 0; j < LLM__LANES; j++) any |= (uint32_t)(x[i + j] >= weakest);
            for (int64_t j = i; any && j < end; j++) {
                uint64_t k = llm__rank_key(x[j], j);
                if (k <= keys[0]) continue;
                keys[0] = k;
                llm__heap_sift_down(keys, m, 0);
                weakest = x[llm__key_id(keys[0])];
            }
        }
    }
    qsort(keys, (size_t)n_sorted, sizeof *keys, llm__key_cmp_desc);
    return m;
}

/* ---- >>processors: the filters over one row ----
   A row being filtered: x[n] the logits; e[n], where a filter needs probabilities,
   e[i] = exp(x[i] - max) for the row's max before filtering (0 once a token is removed),
   so the one exp pass of a sample serves every filter; keys[n] ranking scratch.
   Every filter keeps x and e in step. */
typedef struct llm__row { float *x; float *e; uint64_t *keys; int64_t n; } llm__row;

/* ---- row loops ---- */
static float llm__max_f32(const float *x, int64_t n) {
    float m[LLM__LANES];
    for (int j = 0; j < LLM__LANES; j++) m[j] = -INFINITY;
    int64_t i = 0;
    for (; i < n - n % LLM__LANES; i += LLM__LANES)
        for (int j = 0; j < LLM__LANES; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
    for (int j = 1; j < LLM__LANES; j++) m[0] = m[j] > m[0] ? m[j] : m[0];
    return m[0];
}

/* The first i with x[i] == v (v must occur). */
static int64_t llm__find_f32(const float *x, int64_t n, float v) {
    int64_t i = 0;
    for (; i < n - n % LLM__LANES; i += LLM__LANES) {
        uint32_t any = 0;
        for (int j = 0; j < LLM__LANES; j++) any |= (uint32_t)(x[i + j] == v);
        if (any) break;
    }
    while (x[i] != v) i++;
    return i;
}

static double llm__sum_f32(const float *x, int64_t n) {   /* accumulated in double */
    double acc[LLM__LANES] = { 0 };
    int64_t i = 0;
    for (; i < n - n % LLM__LANES; i += LLM__LANES)
        for (int j = 0; j < LLM__LANES; j++) acc[j] += x[i + j];
    for (; i < n; i++) acc[0] += x[i];
    double sum = 0;
    for (int j = 0; j < LLM__LANES; j++) sum += acc[j];
    return sum;
}

/* exp(x) for x <= 0, branch-free so that it vectorises (libm's expf is a call per
   element): x = k ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to r^7
   (truncation < 6e-9), times 2^k built in the exponent bits. Relative error <= 1.1e-7.
   Returns 0 for x <= -87 (where exp underflows anyway) and for -inf; x > 0 (and NaN)
   count as 0, so no input reaches an undefined float-to-int conversion. */
static inline float llm__exp_neg(float x) {
    uint32_t u, lim = 0xc2ae0000u;              /* -87.0f; for negatives, bigger bits = smaller */
    memcpy(&u, &x, 4);
    u = u < 0x80000000u ? 0x80000000u : u;      /* positive or +NaN -> -0 */
    uint32_t in_range = 0u - (uint32_t)(u < lim);
    u = u < lim ? u : lim;
    float xc;
    memcpy(&xc, &u, 4);
    int32_t k = (int32_t)(xc * 1.44269504f - 0.5f);            /* round(x / ln2): x <= 0, trunc */
    float r = xc - (float)k * 0.693145752f - (float)k * 1.42860677e-6f;   /* ln2 in two parts */
    float q = 1.0f / 5040;
    q = q * r + 1.0f / 720; q = q * r + 1.0f / 120; q = q * r + 1.0f / 24;
    q = q * r + 1.0f / 6;   q = q * r + 0.5f;       q = q * r + 1.0f;  q = q * r + 1.0f;
    uint32_t bits = ((uint32_t)(k + 127) << 23) & in_range;
    float scale;
    memcpy(&scale, &bits, 4);
    return q * scale;
}

/* e[i] = exp((x[i] - m) * scale) for x[i] <= m; returns sum(e). */
static double llm__exp_sum(float *LLM__RESTRICT e, const float *LLM__RESTRICT x, float m, float scale, int64_t n) {
    int64_t i = 0;
    for (; i < n - n % LLM__LANES; i += LLM__LANES)
        for (int j = 0; j < LLM__LANES; j++) e[i + j] = llm__exp_neg((x[i + j] - m) * scale);
    for (; i < n; i++) e[i] = llm__exp_neg((x[i] - m) * scale);
    return llm__sum_f32(e, n);
}

/* Recompute e[i] = exp((x[i] - m) * scale) only in blocks holding a token still in the
   row: e is already 0 for removed tokens, and after top-p or top-k few blocks are left. */
static void llm__exp_live(float *LLM__RESTRICT e, const float *LLM__RESTRICT x, float m, float scale, int64_t n) {
    int64_t i = 0;
    for (; i < n - n % LLM__LANES; i += LLM__LANES) {
        uint32_t live = 0;
        for (int j = 0; j < LLM__LANES; j++) live |= (uint32_t)(x[i + j] != -INFINITY);
        if (live)
            for (int j = 0; j < LLM__LANES; j++) e[i + j] = llm__exp_neg((x[i + j] - m) * scale);
    }
    for (; i < n; i++) e[i] = llm__exp_neg((x[i] - m) * scale);
}

/* Fill e for the row's current max and return sum(e). */
static double llm__row_exp(llm__row *r, float *out_max) {
    *out_max = llm__max_f32(r->x, r->n);
    return llm__exp_sum(r->e, r->x, *out_max, 1.0f, r->n);
}

/* e[i] = 0 wherever x[i] is -inf. */
static void llm__sync_e(const float *LLM__RESTRICT x, float *LLM__RESTRICT e, int64_t n) {
    int64_t i = 0;
    for (; i < n - n % LLM__LANES; i += LLM__LANES)
        for (int j = 0; j < LLM__LANES; j++) {
            uint32_t u, v;
            memcpy(&u, &x[i + j], 4);
            memcpy(&v, &e[i + j], 4);
            v &= 0u - (uint32_t)(u != 0xff800000u);
            memcpy(&e[i + j], &v, 4);
        }
    for (; i < n; i++)
        if (x[i] == -INFINITY) e[i] = 0;
}

/* Remove every token ranked below `last_kept`: a smaller value, or the same value and a
   larger id. Integer masks instead of branches, so that it vectorises. */
static void llm__row_keep_from(llm__row *r, uint64_t last_kept) {
    const uint32_t cut = (uint32_t)(last_kept >> 32);
    const int64_t cut_id = llm__key_id(last_kept);
    float *x = r->x;
    int64_t i = 0;
    for (; i < r->n - r->n % LLM__LANES; i += LLM__LANES)
        for (int j = 0; j < LLM__LANES; j++) {
            uint32_t u;
            memcpy(&u, &x[i + j], 4);
            uint32_t o = llm__order_bits(u);
            uint32_t drop = 0u - ((uint32_t)(o < cut) | ((uint32_t)(o == cut) & (uint32_t)(i + j > cut_id)));
            u = (u & ~drop) | (0xff800000u & drop);            /* -inf where dropped */
            memcpy(&x[i + j], &u, 4);
        }
    for (; i < r->n; i++)
        if (llm__rank_key(x[i], i) < last_kept) x[i] = -INFINITY;
    if (r->e) llm__sync_e(r->x, r->e, r->n);
}

static void llm__top_k(llm__row *r, int64_t k) {
    if (k <= 0 || k >= r->n) return;
    llm__top_keys(r->x, r->n, k, r->keys);
    llm__row_keep_from(r, r->keys[k - 1]);
}

/* Split keys[lo..hi) (hi - lo >= 3) around the median of three: keys >= pivot first.
   Returns the split point; *out_mass = sum of e over the upper part. With distinct keys
   the pivot is neither the least nor the greatest key, so both parts are non-empty. */
static int64_t llm__partition_mass(uint64_t *k, int64_t lo, int64_t hi, const float *e, double *out_mass) {
    uint64_t a = k[lo], b = k[lo + (hi - lo) / 2], c = k[hi - 1];
    uint64_t pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    double mass = 0;
    int64_t p = lo;
    for (int64_t i = lo; i < hi; i++) {
        if (k[i] < pivot) continue;
        uint64_t t = k[i]; k[i] = k[p]; k[p++] = t;
        mass += e[llm__key_id(t)];
    }
    *out_mass = mass;
    return p;
}

/* Mass of the tokens with e > tau. e, tau >= 0 order like their bits, so the test is an
   integer compare, which vectorises. */
static double llm__mass_above(const float *e, int64_t n, float tau) {
    uint32_t t;
    memcpy(&t, &tau, 4);
    double acc[LLM__LANES] = { 0 };
    int64_t i = 0;
    for (; i < n - n % LLM__LANES; i += LLM__LANES)
        for (int j = 0; j < LLM__LANES; j++) {
            uint32_t u;
            float v;
            memcpy(&u, &e[i + j], 4);
            u &= 0u - (uint32_t)(u > t);
            memcpy(&v, &u, 4);
            acc[j] += v;
        }
    for (; i < n; i++) acc[0] += e[i] > tau ? e[i] : 0;
    double sum = 0;
    for (int j = 0; j < LLM__LANES; j++) sum += acc[j];
    return sum;
}

/* transformers' rule: sort ascending, keep tokens whose cumulative probability is
   > 1 - top_p. Counted from the top instead: the K most likely tokens survive, K the
   smallest count whose mass reaches top_p. Two steps, neither sorts the vocabulary:
   1. Candidates: a token is certainly removed when the tokens ranked above it already
      hold the target mass, so for any tau with mass(e > tau) >= target only e > tau
      can survive. tau = e_max/16, /256, ...: one cheap pass each; for the peaked
      distributions of language models the first leaves a few dozen tokens.
   2. K among them like quickselect's k-th element: split by rank and go to the side
      where the mass crosses the target: O(candidates) expected. `sum` = sum(e). */
static void llm__top_p(llm__row *r, double sum, float top_p, int64_t min_keep) {
    if (!(top_p > 0 && top_p < 1) || !(sum > 0)) return;
    double target = (double)top_p * sum;
    float tau = llm__max_f32(r->e, r->n);
    do tau *= 0.0625f; while (tau > 0 && llm__mass_above(r->e, r->n, tau) < target);
    uint64_t *k = r->keys;
    int64_t lo = 0, hi = 0;                          /* K is in (lo, hi] */
    for (int64_t i = 0; i < r->n; i += LLM__LANES) { /* e <= tau ranks below every e > tau */
        int64_t end = LLM__MIN(i + LLM__LANES, r->n);
        uint32_t any = end - i < LLM__LANES;         /* most full blocks hold no candidate */
        if (!any)
            for (int j = 0; j < LLM__LANES; j++) any |= (uint32_t)(r->e[i + j] > tau);
        for (int64_t j = i; any && j < end; j++)
            if (r->e[j] > tau) k[hi++] = llm__rank_key(r->x[j], j);
    }
    double above = 0;                                /* mass ranked before lo */
    while (hi - lo > 32) {
        double mass;
        int64_t p = llm__partition_mass(k, lo, hi, r->e, &mass);
        if (above + mass >= target) hi = p;
        else { above += mass; lo = p; }
    }
    qsort(k + lo, (size_t)(hi - lo), sizeof *k, llm__key_cmp_desc);
    int64_t keep = hi;
    for (int64_t j = lo; j < hi; j++) {
        above += r->e[llm__key_id(k[j])];
        if (above >= target) { keep = j + 1; break; }
    }
    uint64_t last_kept = k[keep - 1];
    if (keep < min_keep) last_kept = k[llm__top_keys(r->x, r->n, min_keep, k) - 1];
    llm__row_keep_from(r, last_kept);
}

/* mlx-lm's form: p_i < min_p * p_max  <=>  x_i < x_max + log(min_p). Both the tokens
   with x >= cut and the min_keep best are top slices of the ranking, so what survives
   is the longer of the two. */
static void llm__min_p(llm__row *r, float min_p, int64_t min_keep) {
    if (!(min_p > 0) || r->n <= 0) return;
    float cut = llm__max_f32(r->x, r->n) + logf(min_p < 1 ? min_p : 1);
    uint32_t u;
    if (cut == 0) cut = -0.0f;                       /* so that x = -0 passes as in x >= cut */
    memcpy(&u, &cut, 4);
    uint64_t last_kept = (uint64_t)llm__order_bits(u) << 32;   /* the lowest key with x >= cut */
    if (min_keep > 1) last_kept = LLM__MIN(last_kept, r->keys[llm__top_keys(r->x, r->n, min_keep, r->keys) - 1]);
    llm__row_keep_from(r, last_kept);
}

static bool llm__token_in(int64_t id, const llm_token *ids, int64_t n_ids) {
    for (int64_t j = 0; j < n_ids; j++)
        if (ids[j] == id) return true;
    return false;
}

/* mlx-lm apply_xtc: probabilities renormalised over the tokens still in the row. */
static void llm__xtc(llm__row *r, float threshold, const llm_token *protected_ids, int64_t n_protected) {
    float cut = (float)(threshold * llm__sum_f32(r->e, r->n)), least = INFINITY;   /* p_i > threshold <=> e_i > cut */
    int64_t n_above = 0;
    for (int64_t i = 0; i < r->n; i++)
        if (r->e[i] > cut) { n_above++; least = r->x[i] < least ? r->x[i] : least; }
    if (n_above < 2) return;
    for (int64_t i = 0; i < r->n; i++) {
        if (r->x[i] <= least || llm__token_in(i, protected_ids, n_protected)) continue;
        r->x[i] = -INFINITY;
        r->e[i] = 0;
    }
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

/* A row over the caller's x with freshly allocated scratch (keys, and e when asked). */
static llm_status llm__row_open(llm__row *r, float *x, int64_t n, bool with_e) {
    size_t v = (size_t)(n > 0 ? n : 1);
    r->x = x;
    r->n = n;
    r->keys = (uint64_t *)llm__alloc(NULL, v * (sizeof(uint64_t) + (with_e ? sizeof(float) : 0)));
    r->e = with_e && r->keys ? (float *)(r->keys + v) : NULL;
    return r->keys ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "sampler: no memory for %lld scratch entries", (long long)n);
}

LLM_API llm_status llm_logits_top_k(float *x, int64_t n, int64_t k, int64_t min_keep) {
    llm__row r;
    if (k <= 0 || LLM__MAX(k, min_keep) >= n) return LLM_OK;
    llm_status st = llm__row_open(&r, x, n, false);
    if (st) return st;
    llm__top_k(&r, LLM__MAX(k, min_keep));
    llm__free(NULL, r.keys);
    return LLM_OK;
}

LLM_API llm_status llm_logits_top_p(float *x, int64_t n, float top_p, int64_t min_keep) {
    llm__row r;
    float m;
    if (!(top_p > 0 && top_p < 1)) return LLM_OK;
    llm_status st = llm__row_open(&r, x, n, true);
    if (st) return st;
    llm__top_p(&r, llm__row_exp(&r, &m), top_p, min_keep);
    llm__free(NULL, r.keys);
    return LLM_OK;
}

LLM_API llm_status llm_logits_min_p(float *x, int64_t n, float min_p, int64_t min_keep) {
    llm__row r;
    if (!(min_p > 0)) return LLM_OK;
    llm_status st = llm__row_open(&r, x, n, false);
    if (st) return st;
    llm__min_p(&r, min_p, min_keep);
    llm__free(NULL, r.keys);
    return LLM_OK;
}

LLM_API llm_status llm_logits_xtc(float *x, int64_t n, float threshold,
                                  const llm_token *protected_ids, int64_t n_protected) {
    llm__row r;
    float m;
    llm_status st = llm__row_open(&r, x, n, true);
    if (st) return st;
    llm__row_exp(&r, &m);
    llm__xtc(&r, threshold, protected_ids, n_protected);
    llm__free(NULL, r.keys);
    return LLM_OK;
}

static llm_status llm__penalty_public(float *x, int64_t n, const llm_token *ctx, int64_t n_ctx,
                                      llm__penalty kind, float penalty) {
    int32_t *count = (int32_t *)llm__calloc(NULL, (size_t)(n > 0 ? n : 1), sizeof *count);
    if (!count) return llm__fail(LLM_ERR_NOMEM, "sampler: no memory for %lld counts", (long long)n);
    llm__penalize(x, n, ctx, n_ctx, kind, penalty, count);
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
    float             *weight;    /* [V] exp(x - max), then the sampling weights */
    uint64_t          *keys;      /* [V] ranking scratch */
    int32_t           *count;     /* [V] penalty counts, zero between calls */
    llm_token         *hist;      /* [cap_hist] the history the penalties read */
    int64_t            n_hist, cap_hist;   /* cap grows to 2 x need_hist, then the window slides */
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
    else if (!isfinite(p->temperature)) bad = "temperature";
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
    int64_t need = llm__history_need(params), cap = need == 0 ? 0 : need > 0 && need <= 512 ? 2 * need : 1024;
    uint64_t total = sizeof(llm_sampler) + (uint64_t)n_vocab * (2 * sizeof(float) + sizeof(uint64_t) + sizeof(int32_t))
        + (uint64_t)params->n_xtc_protected * sizeof(llm_token) + (uint64_t)params->n_logit_bias * sizeof(llm_logit_bias);
    if (total > SIZE_MAX / 2)                   /* only reachable where size_t is 32 bits */
        return llm__fail(LLM_ERR_NOMEM, "sampler: a vocabulary of %lld does not fit in memory", (long long)n_vocab);
    size_t v = (size_t)n_vocab, bytes = (size_t)total;
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
        if (s->need_hist > 0 && s->cap_hist >= 2 * s->need_hist) {   /* slide the window down */
            memmove(s->hist, s->hist + s->n_hist - s->need_hist, (size_t)s->need_hist * sizeof *s->hist);
            s->n_hist = s->need_hist;
        } else {                                /* grow (to 2 x window, or without end) */
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

/* NaN -> -inf and +inf -> FLT_MAX (so that x - max stays defined), on the bits. */
static uint32_t llm__sane_bits(uint32_t u) {
    u = (u & 0x7fffffffu) > 0x7f800000u ? 0xff800000u : u;   /* NaN */
    return u == 0x7f800000u ? 0x7f7fffffu : u;               /* +inf */
}

static void llm__sanitize(float *x, int64_t n) {
    int64_t i = 0;
    for (; i < n - n % LLM__LANES; i += LLM__LANES)
        for (int j = 0; j < LLM__LANES; j++) {
            uint32_t u;
            memcpy(&u, &x[i + j], 4);
            u = llm__sane_bits(u);
            memcpy(&x[i + j], &u, 4);
        }
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        u = llm__sane_bits(u);
        memcpy(&x[i], &u, 4);
    }
}

/* Copy the row and run mlx-lm's logits processors (bias, repetition, presence,
   frequency), then make it safe for the filters (NaN, +inf). */
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
    llm__sanitize(x, n);
}

/* Draw from softmax(x / temperature) over the tokens left in the row: one uniform
   number, then a walk along the cumulative weights (inverse CDF). At temperature 1 the
   weights are e itself, otherwise they are recomputed for the survivors. */
static int64_t llm__sample_categorical(llm__row *r, float temperature, llm_rng *rng) {
    const float *x = r->x;
    float *w = r->e;                            /* mlx-lm: logits * (1 / temp) */
    if (temperature != 1.0f) llm__exp_live(w, x, llm__max_f32(x, r->n), 1.0f / temperature, r->n);
    double total = llm__sum_f32(w, r->n);
    double u = llm_rng_uniform(rng) * total, acc = 0;
    int64_t i = 0;
    for (; i + 64 <= r->n; i += 64) {           /* skip whole blocks of 64 first */
        double b = llm__sum_f32(w + i, 64);
        if (acc + b > u) break;
        acc += b;
    }
    for (; i < r->n; i++) {
        acc += w[i];
        if (u < acc && x[i] > -INFINITY) return i;
    }
    for (i = r->n - 1; x[i] == -INFINITY; i--) {}   /* u rounded up to the total: the last */
    return i;
}

/* mlx-lm's make_sampler filters: top-p -> min-p -> XTC -> top-k (the categorical draw
   follows). sum = sum(r->e) over the whole processed row. */
static void llm__sampler_filter(llm_sampler *s, llm__row *r, double sum) {
    const llm_sampler_params *p = &s->p;
    llm__top_p(r, sum, p->top_p, 1);
    llm__min_p(r, p->min_p, LLM__MAX(p->min_tokens_to_keep, 1));
    if (p->xtc_probability > 0 && llm_rng_uniform(&s->rng) < p->xtc_probability)
        llm__xtc(r, p->xtc_threshold, p->xtc_protected, p->n_xtc_protected);
    llm__top_k(r, p->top_k);
}

/* Check the row size, run the processors into s->work and find its max (-inf: nothing left). */
static llm_status llm__sampler_begin(llm_sampler *s, const float *logits, int64_t n_vocab, llm__row *r, float *out_max) {
    if (n_vocab <= 0 || n_vocab > s->n_vocab)
        return llm__fail(LLM_ERR_INVALID_ARG, "sampler: row of %lld logits, sampler made for 1..%lld",
                         (long long)n_vocab, (long long)s->n_vocab);
    llm__sampler_process(s, logits, n_vocab);
    *r = (llm__row){ s->work, s->weight, s->keys, n_vocab };
    *out_max = llm__max_f32(r->x, n_vocab);
    if (*out_max == -INFINITY) return llm__fail(LLM_ERR_INVALID_ARG, "sampler: every logit is -inf or NaN");
    return LLM_OK;
}

LLM_API llm_status llm_sampler_sample(llm_sampler *s, const float *logits, int64_t n_vocab,
                                      llm_token *out_token, float *out_logprob,
                                      llm_token_logprob *out_top) {
    llm__row r;
    float m;
    llm_status st = llm__sampler_begin(s, logits, n_vocab, &r, &m);
    if (st) return st;
    int64_t tok = llm__find_f32(r.x, n_vocab, m);   /* argmax: the lowest id holding the max */
    bool sampling = s->p.temperature > 0;
    if (!sampling && !out_logprob && !out_top) {    /* plain greedy needs no exp at all */
        *out_token = (llm_token)tok;
        return LLM_OK;
    }
    double sum = llm__row_exp(&r, &m);
    float lse = m + (float)log(sum);            /* logprob_i = x_i - lse */
    if (out_top) {
        int64_t got = llm__top_keys(r.x, n_vocab, s->p.n_logprobs, r.keys);
        for (int64_t j = 0; j < got; j++) {
            int64_t id = llm__key_id(r.keys[j]);
            out_top[j] = (llm_token_logprob){ (llm_token)id, r.x[id] - lse };
        }
    }
    if (sampling) {
        llm__sampler_filter(s, &r, sum);
        tok = llm__sample_categorical(&r, s->p.temperature, &s->rng);
    }
    *out_token = (llm_token)tok;
    if (out_logprob) *out_logprob = r.x[tok] - lse;   /* filters keep the chosen value */
    return LLM_OK;
}
/* ==== end llm_impl/61_sampler.c ==== */
/* ==== begin llm_impl/61_sampler_probs.c ==== */
/* ---- >>sampler_probs: the distribution itself, for speculative decoding ----
   Rejection sampling needs the probabilities the sampler would draw from, not one draw:
   the same processors and filters as llm_sampler_sample, then softmax(x / temperature)
   over the survivors (one-hot on the argmax at temperature 0). */
/* #include "10_internal.h" (already above) */

LLM_API llm_status llm_sampler_probs(llm_sampler *s, const float *logits, int64_t n_vocab, float *probs) {
    llm__row r;
    float m;
    llm_status st = llm__sampler_begin(s, logits, n_vocab, &r, &m);
    if (st) return st;
    if (s->p.temperature <= 0) {
        memset(probs, 0, (size_t)n_vocab * sizeof *probs);
        probs[llm__find_f32(r.x, n_vocab, m)] = 1;
        return LLM_OK;
    }
    llm__sampler_filter(s, &r, llm__row_exp(&r, &m));
    llm__exp_live(probs, r.x, llm__max_f32(r.x, n_vocab), 1.0f / s->p.temperature, n_vocab);
    llm__sync_e(r.x, probs, n_vocab);
    float inv = (float)(1.0 / llm__sum_f32(probs, n_vocab));
    for (int64_t i = 0; i < n_vocab; i++) probs[i] *= inv;
    return LLM_OK;
}

LLM_API llm_rng *llm_sampler_rng(llm_sampler *s) { return &s->rng; }

LLM_API llm_token llm_sample_probs(const float *probs, int64_t n, llm_rng *rng) {
    double total = 0;
    for (int64_t i = 0; i < n; i++) total += probs[i];
    double u = llm_rng_uniform(rng) * total, acc = 0;
    int64_t last = 0;
    for (int64_t i = 0; i < n; i++) {
        if (probs[i] <= 0) continue;
        acc += probs[i];
        last = i;
        if (u < acc) return (llm_token)i;
    }
    return (llm_token)last;                        /* u rounded up to the total */
}
/* ==== end llm_impl/61_sampler_probs.c ==== */
/* ==== begin llm_impl/62_generate.c ==== */
/* ---- >>generate: the decoding loop, stop conditions and text streaming ----
   Per step: sample from the last logits, record the token for the penalties, check the
   end-of-sequence ids, turn the token into final text (streaming detokenizer), hold back
   text that could still become a stop string, hand the rest to the callback, then run the
   token through the model. Nothing is allocated per step. */
/* #include "10_internal.h" (already above) */
#include <time.h>

static double llm__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    const llm_generate_params *p;
    char *pending;             /* final text not yet emitted: it may be the start of a stop string */
    size_t n_pending, cap;
    bool stopped_by_string;
} llm__stream;

/* Append text; emit what can no longer be part of a stop string. Returns the number of
   bytes that may be emitted from the front of pending now. */
static size_t llm__stream_push(llm__stream *st, const char *text, size_t len) {
    if (st->n_pending + len + 1 > st->cap) {
        size_t cap = LLM__MAX(st->cap * 2, st->n_pending + len + 256);
        char *p = (char *)realloc(st->pending, cap);
        if (!p) return SIZE_MAX;
        st->pending = p;
        st->cap = cap;
    }
    memcpy(st->pending + st->n_pending, text, len);
    st->n_pending += len;
    st->pending[st->n_pending] = 0;
    size_t safe = st->n_pending;
    for (int32_t i = 0; i < st->p->n_stop_strings; i++) {
        const char *stop = st->p->stop_strings[i];
        size_t m = strlen(stop);
        if (!m) continue;
        const char *hit = strstr(st->pending, stop);     /* text with NUL bytes ends the search early: fine */
        if (hit) { st->stopped_by_string = true; safe = LLM__MIN(safe, (size_t)(hit - st->pending)); continue; }
        /* the longest suffix of pending that is a proper prefix of stop must wait */
        for (size_t k = LLM__MIN(m - 1, st->n_pending); k > 0; k--)
            if (!memcmp(st->pending + st->n_pending - k, stop, k)) { safe = LLM__MIN(safe, st->n_pending - k); break; }
    }
    return safe;
}

static void llm__stream_consume(llm__stream *st, size_t n) {
    memmove(st->pending, st->pending + n, st->n_pending - n);
    st->n_pending -= n;
}

static bool llm__is_eos(const llm_model_info *info, const llm_generate_params *p, llm_token t) {
    for (int32_t i = 0; i < info->n_eos; i++) if (info->eos[i] == t) return true;
    for (int32_t i = 0; i < p->n_extra_eos; i++) if (p->extra_eos[i] == t) return true;
    return false;
}

/* Keep the longest common prefix of the session and the prompt (at least one prompt token
   is always evaluated, so there are fresh logits), then evaluate the rest. */
static llm_status llm__generate_prefill(llm_session *s, const llm_token *prompt, int64_t n, int64_t *out_evaluated) {
    const llm_token *have = llm_session_tokens(s);
    int64_t keep = 0, n_past = llm_session_n_past(s);
    while (keep < n_past && keep < n - 1 && have[keep] == prompt[keep]) keep++;
    llm_status st = llm_session_rewind(s, keep);
    if (st) { keep = 0; st = llm_session_rewind(s, 0); }    /* a ring dropped what we would keep: start over */
    if (!st) st = llm_session_eval(s, prompt + keep, n - keep, NULL);
    *out_evaluated = n - keep;
    return st;
}

/* Everything one generation call carries around. */
typedef struct llm__gen {
    llm_session *s;
    const llm_generate_params *p;
    const llm_model_info *info;
    llm_sampler *sampler;
    llm_detok *detok;
    llm_token_logprob *top;         /* [n_logprobs] or NULL */
    llm__stream stream;
    llm_generate_result r;
} llm__gen;

static void llm__gen_free(llm__gen *g) {
    llm_sampler_destroy(g->sampler);
    if (g->detok) llm_detok_destroy(g->detok);
    free(g->top);
    free(g->stream.pending);
}

static llm_status llm__gen_init(llm__gen *g, llm_session *s, const llm_tokenizer *tok, const llm_token *prompt, int64_t n_prompt,
                                const llm_generate_params *p) {
    memset(g, 0, sizeof *g);
    g->s = s;
    g->p = p;
    g->stream.p = p;
    g->info = llm_model_get_info(llm_session_model(s));
    g->r.n_prompt = n_prompt;
    g->r.stop = LLM_STOP_MAX_TOKENS;
    if (n_prompt <= 0) return llm__fail(LLM_ERR_INVALID_ARG, "generate: empty prompt");
    llm_status st = llm_sampler_create(&p->sampler, g->info->n_vocab, NULL, &g->sampler);
    if (!st && tok) st = llm_detok_create(tok, !p->keep_special_text, &g->detok);
    if (!st && g->detok) {   /* prime with the prompt's last token: the text continues it (no stray leading space) */
        const char *text;
        size_t len;
        st = llm_detok_push(g->detok, prompt[n_prompt - 1], &text, &len);
    }
    if (!st && p->sampler.n_logprobs > 0 && !(g->top = (llm_token_logprob *)calloc((size_t)p->sampler.n_logprobs, sizeof *g->top)))
        st = llm__fail(LLM_ERR_NOMEM, "generate: out of memory");
    for (int64_t i = 0; i < n_prompt && !st; i++) st = llm_sampler_accept(g->sampler, prompt[i]);
    return st;
}

/* One chosen token: record it for the penalties, check end of sequence, stream its text,
   ask the callback. Returns false when generation ends here (g->r.stop says why). The
   token is not yet in the session. */
static bool llm__gen_take(llm__gen *g, llm_token tok, float logprob) {
    const llm_generate_params *p = g->p;
    if (llm_sampler_accept(g->sampler, tok) != LLM_OK) { g->r.stop = LLM_STOP_CALLBACK; return false; }
    g->r.n_generated++;
    if (llm__is_eos(g->info, p, tok)) { g->r.stop = LLM_STOP_EOS; return false; }
    const char *text = NULL;
    size_t len = 0, emit = 0;
    if (g->detok && llm_detok_push(g->detok, tok, &text, &len) == LLM_OK) {
        emit = llm__stream_push(&g->stream, text, len);
        if (emit == SIZE_MAX) emit = 0;
    }
    llm_gen_token ev = { tok, logprob, g->top, g->top ? p->sampler.n_logprobs : 0, g->stream.pending, emit };
    bool go_on = p->on_token ? p->on_token(&ev, p->user) : true;
    if (g->stream.pending) llm__stream_consume(&g->stream, emit);
    if (g->stream.stopped_by_string) { g->r.stop = LLM_STOP_STRING; return false; }
    if (!go_on) { g->r.stop = LLM_STOP_CALLBACK; return false; }
    if (p->max_tokens > 0 && g->r.n_generated >= p->max_tokens) { g->r.stop = LLM_STOP_MAX_TOKENS; return false; }
    if (llm_session_room(g->s) <= 0) { g->r.stop = LLM_STOP_CONTEXT; return false; }
    return true;
}

/* After the last token: whatever the detokenizer still holds (unless a stop string ended it). */
static void llm__gen_finish(llm__gen *g) {
    const char *text;
    size_t len;
    if (!g->detok || g->r.stop == LLM_STOP_STRING || llm_detok_flush(g->detok, &text, &len) != LLM_OK || !len) return;
    size_t emit = llm__stream_push(&g->stream, text, len);
    if (emit != SIZE_MAX && emit && g->p->on_token) {
        llm_gen_token ev = { -1, 0, NULL, 0, g->stream.pending, emit };
        g->p->on_token(&ev, g->p->user);
    }
}

/* The plain loop: sample from the last logits, take the token, run it through the model. */
static llm_status llm__generate_plain(llm__gen *g) {
    llm_status st = LLM_OK;
    if (g->p->max_tokens > 0 && g->r.n_generated >= g->p->max_tokens) return LLM_OK;
    while (!st) {
        llm_token t;
        float logprob = 0;
        if ((st = llm_sampler_sample(g->sampler, llm_session_logits(g->s), g->info->n_vocab, &t, &logprob, g->top))) break;
        if (!llm__gen_take(g, t, logprob)) break;
        st = llm_session_eval(g->s, &t, 1, NULL);
    }
    return st;
}

/* ==== end llm_impl/62_generate.c ==== */
/* ==== begin llm_impl/63_speculative.c ==== */
/* ---- >>speculative: draft, verify several tokens in one pass, keep what the model agrees with ----
   Each round: the last chosen token t (not yet in the model's cache) and k guesses
   d0..dk-1 run through the model in one batch, giving the model's distribution after
   each of them. Guess j is kept while the model agrees; the first disagreement is
   replaced by a token of the model's own choosing, and if all k are kept the last row
   gives one more token for free.
   Agreement: at temperature 0, the model's argmax equals the guess (so the output is
   exactly plain greedy decoding). Above it, rejection sampling (Leviathan et al. 2023,
   Chen et al. 2023): keep d with probability min(1, p(d) / q(d)), else draw from
   normalize(max(0, p - q)); p is the model's distribution, q the drafter's (one-hot for
   prompt lookup). The accepted tokens are then distributed exactly as the model's.
   Guesses come from a draft model's session (kept in step with the model's tokens), or
   from prompt lookup: the continuation of the most recent earlier occurrence of the
   context's last n tokens. */
/* #include "10_internal.h" (already above) */

typedef struct llm__spec {
    llm__gen *g;
    int64_t V;
    int32_t k;
    float *rows;                /* [k + 1, V] the model's logits for the batch */
    float *p, *q;               /* [V] the model's and the drafter's distributions */
    float *q_draft;             /* [k, V] the drafter's distribution for each guess */
    llm_sampler *draft_sampler; /* the drafter's own chain (same parameters) */
    llm_token *batch;           /* [k + 1] t, d0..dk-1 */
} llm__spec;

/* Bring the draft session to hold exactly `tokens` (prefix reuse), leaving its logits at the end. */
static llm_status llm__spec_sync_draft(llm_session *d, const llm_token *tokens, int64_t n) {
    const llm_token *have = llm_session_tokens(d);
    int64_t keep = 0, n_past = llm_session_n_past(d);
    while (keep < n_past && keep < n - 1 && have[keep] == tokens[keep]) keep++;
    llm_status st = llm_session_rewind(d, keep);
    return st ? st : llm_session_eval(d, tokens + keep, n - keep, NULL);
}

/* Guesses from the draft model; returns how many (<= k), with q_draft filled. */
static int32_t llm__spec_draft_model(llm__spec *sp, const llm_token *ctx, int64_t n_ctx) {
    llm_session *d = sp->g->p->draft;
    int32_t k = (int32_t)LLM__MIN(sp->k, llm_session_room(d) - (n_ctx - llm_session_n_past(d)) - 1);
    if (k <= 0 || llm__spec_sync_draft(d, ctx, n_ctx)) return 0;
    for (int32_t j = 0; j < k; j++) {
        float *q = sp->q_draft + (int64_t)j * sp->V;
        if (llm_sampler_probs(sp->draft_sampler, llm_session_logits(d), sp->V, q)) return j;
        llm_token t = llm_sample_probs(q, sp->V, llm_sampler_rng(sp->draft_sampler));
        sp->batch[1 + j] = t;
        if (j + 1 < k && llm_session_eval(d, &t, 1, NULL)) return j + 1;
    }
    return k;
}

/* Guesses by prompt lookup: find the latest earlier occurrence of the last n tokens. */
static int32_t llm__spec_lookup(llm__spec *sp, const llm_token *ctx, int64_t n_ctx) {
    for (int64_t n = LLM__MIN(sp->g->p->prompt_lookup, n_ctx - 1); n >= 1; n--) {
        const llm_token *tail = ctx + n_ctx - n;
        for (int64_t at = n_ctx - n - 1; at >= 0; at--) {
            if (memcmp(ctx + at, tail, (size_t)n * sizeof *ctx)) continue;
            int32_t k = (int32_t)LLM__MIN(sp->k, n_ctx - (at + n));
            for (int32_t j = 0; j < k; j++) {
                sp->batch[1 + j] = ctx[at + n + j];
                float *q = sp->q_draft + (int64_t)j * sp->V;          /* a deterministic guess: one-hot */
                memset(q, 0, (size_t)sp->V * sizeof *q);
                q[ctx[at + n + j]] = 1;
            }
            return k;
        }
    }
    return 0;
}

/* Decide guess j with the model's distribution p (row j). Returns the guess when kept,
   else a replacement token and sets *rejected. */
static llm_token llm__spec_judge(llm__spec *sp, llm_token guess, const float *q, bool *rejected) {
    llm_rng *rng = llm_sampler_rng(sp->g->sampler);
    float pg = sp->p[guess], qg = q[guess];
    if (qg > 0 && llm_rng_uniform(rng) * qg < pg) { *rejected = false; return guess; }   /* u < p/q */
    *rejected = true;
    double total = 0;
    for (int64_t i = 0; i < sp->V; i++) { sp->q[i] = LLM__MAX(sp->p[i] - q[i], 0.0f); total += sp->q[i]; }
    return total > 0 ? llm_sample_probs(sp->q, sp->V, rng) : llm_sample_probs(sp->p, sp->V, rng);
}

/* log softmax(row)[tok]: the model's own log-probability of a token. */
static float llm__row_logprob(const float *row, int64_t V, llm_token tok) {
    float m = row[0];
    for (int64_t i = 1; i < V; i++) m = row[i] > m ? row[i] : m;
    double z = 0;
    for (int64_t i = 0; i < V; i++) z += exp((double)row[i] - m);
    return row[tok] - m - (float)log(z);
}

/* Take the token chosen at batch row j. On a stop, forget the batch past what was taken. */
static bool llm__spec_take(llm__spec *sp, int64_t n_past, int32_t j, llm_token next) {
    if (llm__gen_take(sp->g, next, llm__row_logprob(sp->rows + (int64_t)j * sp->V, sp->V, next))) return true;
    llm_session_rewind(sp->g->s, n_past + 1 + j);
    return false;
}

/* One round; returns false when generation ends. *t: the pending token, in and out. */
static bool llm__spec_round(llm__spec *sp, llm_token *t, llm_status *st) {
    llm__gen *g = sp->g;
    llm_session *s = g->s;
    llm_rng *rng = llm_sampler_rng(g->sampler);
    int64_t n_past = llm_session_n_past(s);
    llm_token *full = (llm_token *)malloc((size_t)(n_past + 1) * sizeof *full);   /* the context, t included */
    if (!full) { *st = llm__fail(LLM_ERR_NOMEM, "generate: out of memory"); return false; }
    memcpy(full, llm_session_tokens(s), (size_t)n_past * sizeof *full);
    full[n_past] = *t;
    int32_t k = g->p->draft ? llm__spec_draft_model(sp, full, n_past + 1) : llm__spec_lookup(sp, full, n_past + 1);
    free(full);
    k = (int32_t)LLM__MAX(0, LLM__MIN(k, llm_session_room(s) - 1));
    sp->batch[0] = *t;
    if ((*st = llm_session_eval(s, sp->batch, 1 + k, sp->rows))) return false;
    g->r.n_drafted += k;
    for (int32_t j = 0; j < k; j++) {
        if ((*st = llm_sampler_probs(g->sampler, sp->rows + (int64_t)j * sp->V, sp->V, sp->p))) return false;
        bool rejected;
        llm_token next = llm__spec_judge(sp, sp->batch[1 + j], sp->q_draft + (int64_t)j * sp->V, &rejected);
        if (!llm__spec_take(sp, n_past, j, next)) return false;
        if (rejected) {                                  /* forget the guesses from j on */
            *t = next;
            return !(*st = llm_session_rewind(s, n_past + 1 + j));
        }
        g->r.n_accepted++;
    }
    /* every guess was kept: the last row gives one more token */
    if ((*st = llm_sampler_probs(g->sampler, sp->rows + (int64_t)k * sp->V, sp->V, sp->p))) return false;
    *t = llm_sample_probs(sp->p, sp->V, rng);
    return llm__spec_take(sp, n_past, k, *t);
}

static void llm__spec_free(llm__spec *sp) {
    free(sp->rows); free(sp->p); free(sp->q); free(sp->q_draft); free(sp->batch);
    llm_sampler_destroy(sp->draft_sampler);
}

/* The speculative loop: the first token from the prompt's logits, then rounds. */
static llm_status llm__generate_speculative(llm__gen *g) {
    const llm_generate_params *p = g->p;
    llm__spec sp = { .g = g, .V = g->info->n_vocab, .k = p->n_draft > 0 ? p->n_draft : 3 };
    if (p->draft && llm_model_get_info(llm_session_model(p->draft))->n_vocab < sp.V)
        return llm__fail(LLM_ERR_INVALID_ARG, "generate: the draft model's vocabulary is smaller than the model's");
    size_t V = (size_t)sp.V, k = (size_t)sp.k;
    sp.rows = (float *)malloc((k + 1) * V * sizeof(float));
    sp.p = (float *)malloc(V * sizeof(float));
    sp.q = (float *)malloc(V * sizeof(float));
    sp.q_draft = (float *)malloc(k * V * sizeof(float));
    sp.batch = (llm_token *)malloc((k + 1) * sizeof(llm_token));
    llm_status st = sp.rows && sp.p && sp.q && sp.q_draft && sp.batch ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "generate: out of memory");
    if (!st && p->draft) st = llm_sampler_create(&p->sampler, sp.V, NULL, &sp.draft_sampler);
    llm_token t;
    float logprob = 0;
    if (!st && p->max_tokens > 0 && g->r.n_generated >= p->max_tokens) { llm__spec_free(&sp); return LLM_OK; }
    if (!st) st = llm_sampler_sample(g->sampler, llm_session_logits(g->s), sp.V, &t, &logprob, g->top);
    if (!st && llm__gen_take(g, t, logprob))
        while (llm__spec_round(&sp, &t, &st)) {}
    llm__spec_free(&sp);
    return st;
}
/* ==== end llm_impl/63_speculative.c ==== */
/* ==== begin llm_impl/64_generate_api.c ==== */
/* ---- >>generate_api: llm_generate and llm_generate_text ---- */
/* #include "10_internal.h" (already above) */

LLM_API llm_status llm_generate(llm_session *s, const llm_tokenizer *tok, const llm_token *prompt, int64_t n_prompt,
                                const llm_generate_params *params, llm_generate_result *out) {
    llm_generate_params p = params ? *params : (llm_generate_params){ 0 };
    llm__gen g;
    llm_status st = llm__gen_init(&g, s, tok, prompt, n_prompt, &p);
    double t0 = llm__now();
    if (!st) st = llm__generate_prefill(s, prompt, n_prompt, &g.r.n_prompt_evaluated);
    double t1 = llm__now();
    g.r.prompt_seconds = t1 - t0;
    if (!st) st = p.draft || p.prompt_lookup > 0 ? llm__generate_speculative(&g) : llm__generate_plain(&g);
    if (!st) llm__gen_finish(&g);
    g.r.gen_seconds = llm__now() - t1;
    if (out) *out = g.r;
    llm__gen_free(&g);
    return st;
}

typedef struct { char *buf; size_t len, cap; bool oom; } llm__text_sink;

static bool llm__collect_text(const llm_gen_token *t, void *user) {
    llm__text_sink *k = (llm__text_sink *)user;
    if (k->len + t->text_len + 1 > k->cap) {
        size_t cap = LLM__MAX(2 * k->cap, k->len + t->text_len + 256);
        char *b = (char *)realloc(k->buf, cap);
        if (!b) { k->oom = true; return false; }
        k->buf = b;
        k->cap = cap;
    }
    memcpy(k->buf + k->len, t->text, t->text_len);
    k->len += t->text_len;
    k->buf[k->len] = 0;
    return true;
}

LLM_API llm_status llm_generate_text(llm_session *s, const llm_tokenizer *tok, const llm_token *prompt, int64_t n_prompt,
                                     const llm_generate_params *params, char **out_text, llm_generate_result *out) {
    llm_generate_params p = params ? *params : (llm_generate_params){ 0 };
    llm__text_sink k = { (char *)calloc(1, 256), 0, 256, false };
    if (!k.buf) return llm__fail(LLM_ERR_NOMEM, "generate: out of memory");
    p.on_token = llm__collect_text;
    p.user = &k;
    llm_status st = llm_generate(s, tok, prompt, n_prompt, &p, out);
    if (!st && k.oom) st = llm__fail(LLM_ERR_NOMEM, "generate: out of memory");
    if (st) { free(k.buf); return st; }
    *out_text = k.buf;
    return LLM_OK;
}

/* Several sequences at once: each is prefilled on its own, then every step samples one
   token per live sequence and runs them all through one batched forward pass. */
LLM_API llm_status llm_generate_batch(llm_session *const *sessions, int64_t n, const llm_tokenizer *tok,
                                      const llm_token *const *prompts, const int64_t *n_prompts,
                                      const llm_generate_params *params, llm_generate_result *out) {
    if (n <= 0) return llm__fail(LLM_ERR_INVALID_ARG, "generate_batch: no sequences");
    int64_t V = llm_model_get_info(llm_session_model(sessions[0]))->n_vocab;
    llm__gen *g = (llm__gen *)calloc((size_t)n, sizeof *g);
    llm_session **live = (llm_session **)calloc((size_t)n, sizeof *live);
    llm_token *next = (llm_token *)calloc((size_t)n, sizeof *next);
    float *logits = (float *)malloc((size_t)(n * V) * sizeof *logits);
    bool *done = (bool *)calloc((size_t)n, sizeof *done);
    llm_status st = g && live && next && logits && done ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "generate_batch: out of memory");
    for (int64_t i = 0; i < n && !st; i++) {
        if (params[i].draft || params[i].prompt_lookup) st = llm__fail(LLM_ERR_UNSUPPORTED, "generate_batch: no speculative decoding");
        double t0 = llm__now();
        if (!st) st = llm__gen_init(&g[i], sessions[i], tok, prompts[i], n_prompts[i], &params[i]);
        if (!st) st = llm__generate_prefill(sessions[i], prompts[i], n_prompts[i], &g[i].r.n_prompt_evaluated);
        g[i].r.prompt_seconds = llm__now() - t0;
        done[i] = params[i].max_tokens > 0 && g[i].r.n_generated >= params[i].max_tokens;
    }
    double t1 = llm__now();
    while (!st) {
        int64_t k = 0;
        for (int64_t i = 0; i < n && !st; i++) {
            if (done[i]) continue;
            float logprob = 0;
            st = llm_sampler_sample(g[i].sampler, llm_session_logits(sessions[i]), V, &next[k], &logprob, g[i].top);
            if (!st && !llm__gen_take(&g[i], next[k], logprob)) done[i] = true;
            else if (!st) live[k++] = sessions[i];
        }
        if (st || k == 0) break;
        st = llm_session_eval_batch(live, next, k, logits);
    }
    for (int64_t i = 0; i < n && g; i++) {
        if (!st) llm__gen_finish(&g[i]);
        g[i].r.gen_seconds = llm__now() - t1;
        if (out) out[i] = g[i].r;
        llm__gen_free(&g[i]);
    }
    free(g); free(live); free(next); free(logits); free(done);
    return st;
}
/* ==== end llm_impl/64_generate_api.c ==== */
/* ==== begin llm_impl/65_prompt_cache.c ==== */
/* ---- >>prompt_cache: saving a session's cache to a file and loading it back ----
   A prefilled prompt (a long system prompt, a document) is computed once and reused. The
   file is safetensors: the token history, the last logits, and per layer the cached rows
   (f32 rows of the positions so far, or the whole store of a ring / a quantized cache), with
   metadata naming the model (a fingerprint of its shape and weights), the cache layout and
   anything the caller adds (the tokenizer, the template). Compressed, it is one zstd frame
   of those bytes (the safetensors reader opens both). A cache is only loaded into a session
   over the same model with the same cache layout; anything else is refused by name. */
/* #include "10_internal.h" (already above) */

/* FNV-1a over the shape and the first bytes of the embedding and output weights: enough to
   tell models apart, cheap enough to compute on every load. */
static uint64_t llm__model_fingerprint(const llm_model *m) {
    const llm__hparams *hp = &m->hp;
    uint64_t h = 1469598103934665603ull;
    int64_t shape[] = { hp->n_vocab, hp->n_embd, hp->n_layers, hp->n_heads, hp->n_kv_heads, hp->head_dim, hp->n_ff };
    const void *parts[] = { hp->arch, shape, m->tok_embd->data, m->output->data };
    size_t sizes[] = { strlen(hp->arch), sizeof shape, LLM__MIN(m->tok_embd->n_bytes, (size_t)65536),
                       LLM__MIN(m->output->n_bytes, (size_t)65536) };
    for (int p = 0; p < 4; p++)
        for (size_t i = 0; i < sizes[p]; i++) h = (h ^ ((const uint8_t *)parts[p])[i]) * 1099511628211ull;
    return h;
}

/* The cache layout as a string: two sessions can exchange caches iff these are equal. */
static void llm__cache_layout(const llm_session *s, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "kv %d/%d g%lld", s->kvf.bits_k, s->kvf.bits_v, (long long)s->kvf.group);
    for (int64_t il = 0; il < s->m->hp.n_layers && n > 0 && (size_t)n < cap; il++) {
        const llm__kv *c = &s->kv[il];
        n += snprintf(buf + n, cap - (size_t)n, c->ring ? "|r%lld,%lld,%lld,%lld" : "|%lld",
                      (long long)c->n_slots, (long long)c->n_f32, (long long)c->keep, (long long)c->window);
    }
}

/* One layer's arrays. A plain f32 store keeps only rows < n_past of each head (gathered
   into `tmp`); a ring or a quantized store is saved whole. dir: true = session -> file. */
typedef struct { char name[48]; llm_dtype dtype; int64_t n; void *data; } llm__cache_part;

static int64_t llm__cache_part_rows(const llm_session *s, const llm__kv *c) {
    return !c->ring && !s->kvf.bits_k ? s->n_past : c->n_f32;
}

/* Copy the first `rows` of each of `heads` heads between the store (stride n_f32 rows) and a
   packed buffer [heads, rows, w]. */
static void llm__cache_copy_rows(float *store, float *packed, int64_t heads, int64_t rows, int64_t n_f32, int64_t w, bool to_packed) {
    for (int64_t h = 0; h < heads; h++) {
        float *a = store + h * n_f32 * w, *b = packed + h * rows * w;
        memcpy(to_packed ? b : a, to_packed ? a : b, (size_t)(rows * w) * sizeof(float));
    }
}

static int llm__cache_parts(const llm_session *s, int64_t il, llm__cache_part out[4]) {
    const llm__hparams *hp = &s->m->hp;
    const llm__kv *c = &s->kv[il];
    int64_t ck, cv, n = 0, rows = llm__cache_part_rows(s, c);
    llm__layer_cache_width(hp, il, &ck, &cv);
    out[n++] = (llm__cache_part){ "", LLM_DTYPE_F32, rows * ck, c->k };
    if (cv) out[n++] = (llm__cache_part){ "", LLM_DTYPE_F32, rows * cv, c->v };
    if (s->kvf.bits_k) {
        int64_t R = c->n_slots * hp->n_kv_heads, D = hp->head_dim, ng = D / s->kvf.group;
        out[n++] = (llm__cache_part){ "", LLM_DTYPE_F32, R * 4 * ng, c->kp };     /* scales: kp then vp */
        out[n++] = (llm__cache_part){ "", LLM_DTYPE_U8,                             /* codes: kq then vq */
                                      R * (int64_t)(llm__kv_row_bytes(s->kvf.bits_k, D) + llm__kv_row_bytes(s->kvf.bits_v, D)), c->kq };
    }
    for (int i = 0; i < n; i++) snprintf(out[i].name, sizeof out[i].name, "layers.%lld.%d", (long long)il, i);
    return (int)n;
}

/* Move f32 part i of layer il between the session and `packed` (heads laid out [heads, rows, w]). */
static void llm__cache_move(llm_session *s, int64_t il, int i, float *packed, bool to_packed) {
    const llm__hparams *hp = &s->m->hp;
    llm__kv *c = &s->kv[il];
    int64_t ck, cv, rows = llm__cache_part_rows(s, c);
    llm__layer_cache_width(hp, il, &ck, &cv);
    int64_t heads = hp->kv_lora_rank ? 1 : hp->n_kv_heads;
    llm__cache_copy_rows(i == 0 ? c->k : c->v, packed, heads, rows, c->n_f32, (i == 0 ? ck : cv) / heads, to_packed);
}

LLM_API llm_status llm_session_save(llm_session *s, const char *path, const char *const *meta, int64_t n_meta, bool compress) {
    const llm__hparams *hp = &s->m->hp;
    int64_t max_parts = 2 + 4 * hp->n_layers, nt = 0;
    llm_tensor *ts = (llm_tensor *)calloc((size_t)max_parts, sizeof *ts);
    llm__cache_part *parts = (llm__cache_part *)calloc((size_t)max_parts, sizeof *parts);
    float **packed = (float **)calloc((size_t)max_parts, sizeof *packed);
    const char **kv = (const char **)calloc((size_t)(2 * n_meta + 16), sizeof *kv);
    char fp[32], npast[32], layout[4096], quantized[8], tmp[4200];
    llm_status st = ts && parts && packed && kv ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    llm_tensor tok = { "tokens", LLM_DTYPE_I32, 1, { s->n_past }, s->tokens, (size_t)s->n_past * sizeof(llm_token) };
    llm_tensor lg = { "logits", LLM_DTYPE_F32, 1, { hp->n_vocab }, s->logits, (size_t)hp->n_vocab * sizeof(float) };
    if (!st) { ts[nt++] = tok; ts[nt++] = lg; }
    for (int64_t il = 0; il < hp->n_layers && !st; il++) {
        int np = llm__cache_parts(s, il, parts + nt);
        for (int i = 0; i < np && !st; i++, nt++) {
            llm__cache_part *p = &parts[nt];
            void *data = p->data;
            if (i < 2 && p->dtype == LLM_DTYPE_F32 && (i == 0 || !hp->kv_lora_rank)) {   /* f32 rows: gather per head */
                if (!(packed[nt] = (float *)malloc((size_t)p->n * sizeof(float) + 1))) { st = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); break; }
                llm__cache_move(s, il, i, packed[nt], true);
                data = packed[nt];
            }
            ts[nt] = (llm_tensor){ p->name, p->dtype, 1, { p->n }, data, llm_dtype_n_bytes(p->dtype, p->n) };
        }
    }
    llm__cache_layout(s, layout, sizeof layout);
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)llm__model_fingerprint(s->m));
    snprintf(npast, sizeof npast, "%lld", (long long)s->n_past);
    snprintf(quantized, sizeof quantized, "%d", s->kvf.quantized);
    int64_t nm = 0;
    const char *fixed[] = { "format", "llm.h prompt cache", "version", "1", "model", fp, "arch", hp->arch,
                            "n_past", npast, "cache_layout", layout, "kv_quantized", quantized };
    for (int i = 0; kv && i < LLM__COUNT(fixed); i++) kv[nm++] = fixed[i];
    for (int64_t i = 0; kv && i < 2 * n_meta; i++) kv[nm++] = meta[i];
    snprintf(tmp, sizeof tmp, "%s.raw.%ld", path, (long)getpid());
    if (!st) st = llm_safetensors_write(compress ? tmp : path, ts, nt, kv, nm / 2);
    if (!st && compress) st = llm__compress_file(tmp, path);
    if (compress) remove(tmp);
    for (int64_t i = 0; i < max_parts && packed; i++) free(packed[i]);
    free(ts); free(parts); free(packed); free(kv);
    return st;
}

/* Check a saved cache's metadata against this session; the message names the difference. */
static llm_status llm__cache_check(const llm_session *s, const llm_safetensors *st, const char *path) {
    char fp[32], layout[4096];
    const char *fmt = llm_safetensors_metadata(st, "format"), *model = llm_safetensors_metadata(st, "model");
    const char *lay = llm_safetensors_metadata(st, "cache_layout"), *np = llm_safetensors_metadata(st, "n_past");
    if (!fmt || strcmp(fmt, "llm.h prompt cache") || !model || !lay || !np)
        return llm__fail(LLM_ERR_FORMAT, "%s: not an llm.h prompt cache", path);
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)llm__model_fingerprint(s->m));
    if (strcmp(model, fp))
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: made by another model (%s, fingerprint %s; this one is %s, %s)", path,
                         llm_safetensors_metadata(st, "arch") ? llm_safetensors_metadata(st, "arch") : "?", model, s->m->hp.arch, fp);
    llm__cache_layout(s, layout, sizeof layout);
    if (strcmp(lay, layout))
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: saved with cache layout '%s', this session has '%s'", path, lay, layout);
    return LLM_OK;
}

LLM_API llm_status llm_session_load(llm_session *s, const char *path) {
    const llm__hparams *hp = &s->m->hp;
    llm_safetensors *st = NULL;
    llm_status e = llm_safetensors_open(path, &st);
    if (!e) e = llm__cache_check(s, st, path);
    const llm_tensor *tok = e ? NULL : llm_safetensors_find(st, "tokens"), *lg = e ? NULL : llm_safetensors_find(st, "logits");
    int64_t n_past = tok ? tok->shape[0] : 0;
    if (!e && (!tok || !lg || tok->dtype != LLM_DTYPE_I32 || lg->n_bytes != (size_t)hp->n_vocab * sizeof(float)))
        e = llm__fail(LLM_ERR_FORMAT, "%s: tokens or logits missing or malformed", path);
    if (!e && !s->rotating && n_past > s->n_ctx)
        e = llm__fail(LLM_ERR_CONTEXT_FULL, "%s: %lld cached tokens do not fit this session's %lld", path, (long long)n_past, (long long)s->n_ctx);
    if (!e) { s->n_past = 0; e = llm__session_reserve_tokens(s, n_past); }
    if (e) { llm_safetensors_close(st); return e; }
    s->n_past = n_past;                               /* part sizes depend on n_past */
    llm__cache_part parts[4];
    for (int64_t il = 0; il < hp->n_layers && !e; il++) {
        int np = llm__cache_parts(s, il, parts);
        for (int i = 0; i < np && !e; i++) {
            const llm_tensor *t = llm_safetensors_find(st, parts[i].name);
            if (!t || t->dtype != parts[i].dtype || t->n_bytes != llm_dtype_n_bytes(parts[i].dtype, parts[i].n))
                e = llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing or has the wrong size", path, parts[i].name);
            else if (i < 2 && parts[i].dtype == LLM_DTYPE_F32 && (i == 0 || !hp->kv_lora_rank)) llm__cache_move(s, il, i, (float *)t->data, false);
            else memcpy(parts[i].data, t->data, t->n_bytes);
        }
    }
    if (!e) {
        memcpy(s->tokens, tok->data, (size_t)n_past * sizeof(llm_token));
        memcpy(s->logits, lg->data, lg->n_bytes);
        s->n_written = n_past;
        s->kvf.quantized = s->kvf.bits_k && atoi(llm_safetensors_metadata(st, "kv_quantized") ? llm_safetensors_metadata(st, "kv_quantized") : "1");
        llm__rope_prepare(s, n_past);
    } else {
        s->n_past = 0;
        s->n_written = 0;
    }
    llm_safetensors_close(st);
    return e;
}

LLM_API llm_status llm_prompt_cache_metadata(const char *path, const char *key, char *buf, size_t cap) {
    llm_safetensors *st = NULL;
    llm_status e = llm_safetensors_open(path, &st);
    if (e) return e;
    const char *v = llm_safetensors_metadata(st, key);
    if (!v) e = llm__fail(LLM_ERR_NOT_FOUND, "%s: no metadata '%s'", path, key);
    else snprintf(buf, cap, "%s", v);
    llm_safetensors_close(st);
    return e;
}
/* ==== end llm_impl/65_prompt_cache.c ==== */
/* ==== begin llm_impl/70_convert.c ==== */
/* ---- >>convert: writing an MLX model directory (08_api_convert.h) ---- */
/* #include "10_internal.h" (already above) */
/* #include "08_api_convert.h" (already above) */

#ifndef LLM_NO_CJSON
/* Files mlx_lm copies beside the weights, when the source has them. */
static const char *const llm__convert_files[] = {
    "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "generation_config.json",
    "chat_template.jinja", "chat_template.json", "added_tokens.json", "vocab.json", "merges.txt",
};

static bool llm__convert_quantizable(const llm_tensor *t, int group_size) {
    size_t n = strlen(t->name);
    return (t->n_dims == 2 || t->n_dims == 3) && llm__is_float(t->dtype) && n > 7 && !strcmp(t->name + n - 7, ".weight") &&
           t->shape[t->n_dims - 1] % group_size == 0 && !strstr(t->name, "norm");
}

/* One source tensor -> 1 (kept or cast) or 3 (quantized) output tensors in out; data they
   own is recorded in owned[*n_owned] for the caller to free. */
static llm_status llm__convert_tensor(const llm_convert_params *p, const llm_tensor *t, int bits, llm_tensor *out, void **owned,
                                      int64_t *n_owned, int64_t *n_out) {
    llm_dtype dt = p->set_dtype && llm__is_float(t->dtype) ? p->dtype : t->dtype;
    int64_t n = llm_tensor_n_elems(t);
    *n_out = 1;
    out[0] = *t;
    if (!(p->quantize && llm__convert_quantizable(t, p->group_size))) {
        if (dt == t->dtype) return LLM_OK;                 /* a view of the mapping */
        void *d = owned[(*n_owned)++] = malloc(llm_dtype_n_bytes(dt, n));
        if (!d) return llm__fail(LLM_ERR_NOMEM, "out of memory");
        llm_convert(dt, d, t->dtype, t->data, n);
        out[0].dtype = dt; out[0].data = d; out[0].n_bytes = llm_dtype_n_bytes(dt, n);
        return LLM_OK;
    }
    /* affine: .weight, .scales, .biases (scales and biases in dt); fp modes: .weight, u8 .scales */
    int fp = llm__mlx_mode(p->q_mode), n_q = fp >= 0 ? 2 : 3;
    llm_dtype sdt = fp >= 0 ? LLM_DTYPE_U8 : dt;
    int64_t cols = t->shape[t->n_dims - 1], rows = n / cols, ng = n / p->group_size;
    size_t wb = llm_mlx_weight_bytes(rows, cols, bits), pb = llm_dtype_n_bytes(sdt, ng);
    float *f = (float *)malloc((size_t)n * sizeof *f);
    void *data[3] = { owned[(*n_owned)++] = malloc(wb), owned[(*n_owned)++] = malloc(pb), NULL };
    if (fp < 0) data[2] = owned[(*n_owned)++] = malloc(pb);
    if (!f || !data[0] || !data[1] || (fp < 0 && !data[2])) { free(f); return llm__fail(LLM_ERR_NOMEM, "out of memory"); }
    llm_convert(LLM_DTYPE_F32, f, t->dtype, t->data, n);
    for (int64_t i = 0; i < n; i++) f[i] = llm__mlx_round(f[i], dt);   /* the values of mlx's array of dtype dt */
    llm_status s = fp >= 0 ? llm__mlx_quantize_fp_dt((llm_mlx_fp_mode)fp, f, rows, cols, dt, data[0], (uint8_t *)data[1])
                           : llm_mlx_quantize(f, rows, cols, bits, p->group_size, dt, data[0], data[1], data[2]);
    free(f);
    if (s) return s;
    const char *suffix[3] = { "weight", "scales", "biases" };
    size_t base = strlen(t->name) - 6;                     /* "<module>." */
    for (int i = 0; i < n_q; i++) {
        out[i] = *t;
        if (i) {
            char *nm = (char *)(owned[(*n_owned)++] = malloc(base + 7));
            if (!nm) return llm__fail(LLM_ERR_NOMEM, "out of memory");
            memcpy(nm, t->name, base);
            memcpy(nm + base, suffix[i], 7);
            out[i].name = nm;
        }
        out[i].dtype = i ? sdt : LLM_DTYPE_U32;
        out[i].shape[t->n_dims - 1] = i ? cols / p->group_size : cols * bits / 32;
        out[i].data = data[i];
        out[i].n_bytes = i ? pb : wb;
    }
    *n_out = n_q;
    return LLM_OK;
}

/* ---- sources: a float tensor or an MLX-quantized matrix, read as rows of f32 ---- */

typedef struct llm__convert_src {
    const llm_tensor *t;       /* the float tensor, or the packed u32 .weight */
    bool mlx;
    llm__qmat q;               /* MLX: views of .weight/.scales/.biases as [rows, cols] */
    int n_dims;
    int64_t shape[LLM_MAX_DIMS];   /* logical shape (an MLX matrix's unpacked) */
    int64_t rows, cols;        /* all but the last dim, and the last */
} llm__convert_src;

/* rows [r0, r0 + n) as f32 into out [n, cols] */
static void llm__convert_src_rows(const llm__convert_src *s, int64_t r0, int64_t n, float *out) {
    if (!s->mlx) {
        llm_convert(LLM_DTYPE_F32, out, s->t->dtype, (const uint8_t *)s->t->data + llm_dtype_n_bytes(s->t->dtype, r0 * s->cols), n * s->cols);
        return;
    }
    for (int64_t i = 0; i < n; i++) llm__mlx_row_f32(&s->q, r0 + i, out + i * s->cols);
}

/* t viewed as a matrix [rows, last dim] (stacked experts [E, R, C] are E*R rows) */
static llm_tensor llm__convert_flat(const llm_tensor *t) {
    llm_tensor f = *t;
    f.n_dims = 2;
    f.shape[1] = t->shape[t->n_dims - 1];
    f.shape[0] = f.shape[1] ? llm_tensor_n_elems(t) / f.shape[1] : 0;
    return f;
}

/* The source for tensor t (name "<module>.weight" when quantized: its .scales tell). */
static llm_status llm__convert_src_init(const char *path, llm_safetensors *st, const cJSON *cfg, const llm_tensor *t, llm__convert_src *s) {
    memset(s, 0, sizeof *s);
    s->t = t;
    s->n_dims = t->n_dims ? t->n_dims : 1;
    memcpy(s->shape, t->shape, sizeof s->shape);
    if (!t->n_dims) s->shape[0] = 1;
    char module[600], nm[620];
    size_t n = strlen(t->name);
    const llm_tensor *scales = NULL;
    if (n > 7 && n < sizeof module && !strcmp(t->name + n - 7, ".weight")) {
        snprintf(module, sizeof module, "%.*s", (int)(n - 7), t->name);
        snprintf(nm, sizeof nm, "%s.scales", module);
        scales = llm_safetensors_find(st, nm);
    }
    if (!scales) {
        if (!llm__is_float(t->dtype)) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' is %s, not a float", path, t->name, llm_dtype_get(t->dtype)->name);
        s->cols = s->shape[s->n_dims - 1];
        s->rows = s->cols ? llm_tensor_n_elems(t) / s->cols : 0;
        return LLM_OK;
    }
    bool quantized;
    int bits, gs;
    const char *mode;
    llm__mlx_quant_params(cfg, module, &quantized, &bits, &gs, &mode);
    if (!quantized || bits <= 0 || t->n_dims < 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: '%s' has scales but config.json does not quantize it", path, module);
    snprintf(nm, sizeof nm, "%s.biases", module);
    const llm_tensor *biases = llm_safetensors_find(st, nm);
    llm_tensor w2 = llm__convert_flat(t), s2 = llm__convert_flat(scales), b2 = biases ? llm__convert_flat(biases) : w2;
    s->cols = w2.shape[1] * 32 / bits, s->rows = w2.shape[0];
    s->shape[s->n_dims - 1] = s->cols;
    s->mlx = true;
    return llm__mlx_qmat_init(path, module, &w2, &s2, biases ? &b2 : NULL, mode, bits, gs, s->rows, s->cols, &s->q);
}

/* .scales / .biases of a quantized module: read with its .weight */
static bool llm__convert_is_qparam(llm_safetensors *st, const char *name) {
    size_t n = strlen(name);
    char w[600];
    if (n < 7 || n >= sizeof w || (strcmp(name + n - 7, ".scales") && strcmp(name + n - 7, ".biases"))) return false;
    snprintf(w, sizeof w, "%.*s.weight", (int)(n - 7), name);
    return llm_safetensors_find(st, w) != NULL;
}

/* Is name "<module>.weight" with "<module>.scales" beside it (an MLX-quantized weight)? */
static bool llm__convert_is_qparam_of(llm_safetensors *st, const char *name) {
    size_t n = strlen(name);
    char sc[600];
    if (n < 7 || n >= sizeof sc || strcmp(name + n - 7, ".weight")) return false;
    snprintf(sc, sizeof sc, "%.*s.scales", (int)(n - 7), name);
    return llm_safetensors_find(st, sc) != NULL;
}

/* -d: an MLX-quantized module's .weight t -> a float tensor in the scales' dtype (or
   --dtype), mlx.core.dequantize's values, as mlx_lm's dequantize_model. */
static llm_status llm__convert_dequant(const llm_convert_params *p, llm_safetensors *st, const cJSON *cfg, const llm_tensor *t,
                                       llm_tensor *out, void **owned, int64_t *n_owned) {
    llm__convert_src src;
    llm_status s = llm__convert_src_init(p->src, st, cfg, t, &src);
    if (s) return s;
    llm_dtype dt = p->set_dtype ? p->dtype : src.q.fp_mode >= 0 ? LLM_DTYPE_BF16 : src.q.sdtype;
    int64_t n = src.rows * src.cols;
    float *f = (float *)malloc((size_t)n * sizeof *f + 1);
    void *d = owned[(*n_owned)++] = malloc(llm_dtype_n_bytes(dt, n) + 1);
    if (!f || !d) { free(f); return llm__fail(LLM_ERR_NOMEM, "out of memory"); }
    llm__convert_src_rows(&src, 0, src.rows, f);
    llm_convert(dt, d, LLM_DTYPE_F32, f, n);
    free(f);
    *out = *t;
    out->dtype = dt, out->data = d, out->n_bytes = llm_dtype_n_bytes(dt, n);
    memcpy(out->shape, src.shape, sizeof out->shape);
    return LLM_OK;
}

/* ---- mixed-precision recipes: mlx_lm convert.py's mixed_quant_predicate ----
   "mixed_L_H" quantizes to L bits, except at H bits: lm_head, and v_proj and down_proj in
   the layers llama.cpp's Q4_K_M favours (the first and last eighth, and every third one
   between). Each quantized module gets its own {"group_size", "bits", "mode"} entry in
   config.json's "quantization", as mlx_lm writes them. */
typedef struct llm__convert_mix {
    int low, high;            /* 0: no recipe */
    int layer_at;             /* which '.'-separated part of a module path is the layer index */
    int64_t n_layers;
    cJSON *per;               /* module path -> its entry, for config.json */
} llm__convert_mix;

static llm_status llm__convert_mix_init(const llm_convert_params *p, llm_safetensors *st, const cJSON *cfg, llm__convert_mix *mx) {
    static const struct { const char *name; int low, high; } recipes[] = {
        { "mixed_2_6", 2, 6 }, { "mixed_3_4", 3, 4 }, { "mixed_3_6", 3, 6 }, { "mixed_4_6", 4, 6 },
    };
    memset(mx, 0, sizeof *mx);
    if (!p->quant_predicate) return LLM_OK;
    for (int i = 0; i < LLM__COUNT(recipes); i++)
        if (!strcmp(p->quant_predicate, recipes[i].name)) mx->low = recipes[i].low, mx->high = recipes[i].high;
    if (!mx->low) return llm__fail(LLM_ERR_INVALID_ARG, "quant predicate '%s' is unknown (mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6)", p->quant_predicate);
    const char *down = NULL;
    for (int64_t i = 0; i < llm_safetensors_n_tensors(st) && !down; i++)
        if (strstr(llm_safetensors_tensor(st, i)->name, "down_proj")) down = llm_safetensors_tensor(st, i)->name;
    if (!down) return llm__fail(LLM_ERR_INVALID_ARG, "%s: the model has no down_proj, which mixed quantization needs", p->src);
    for (const char *c = down; *c; mx->layer_at++) {           /* the first all-digit part */
        size_t n = strcspn(c, ".");
        if (n && strspn(c, "0123456789") >= n) break;
        c += n + (c[n] == '.');
    }
    const cJSON *text = llm__json_get(cfg, "text_config");
    mx->n_layers = llm__json_int(cfg, "num_hidden_layers", llm__json_int(text, "num_hidden_layers", 0));
    mx->per = cJSON_CreateObject();
    return mx->per ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "out of memory");
}

/* The bits of module `path` ("model.layers.3.mlp.down_proj"), recorded for config.json. */
static int llm__convert_mix_bits(const llm_convert_params *p, const llm__convert_mix *mx, const char *path) {
    if (!mx->low) return p->bits;
    const char *c = path;
    for (int i = 0; i < mx->layer_at && c; i++) c = strchr(c, '.') ? strchr(c, '.') + 1 : NULL;
    int64_t L = mx->n_layers, il = c ? strtoll(c, NULL, 10) : 0;
    bool more = il < L / 8 || il >= 7 * L / 8 || (il - L / 8) % 3 == 2;
    bool v = strstr(path, "v_proj") || strstr(path, "v_a_proj") || strstr(path, "v_b_proj");
    int bits = ((v || strstr(path, "down_proj")) && more) || strstr(path, "lm_head") ? mx->high : mx->low;
    cJSON *e = cJSON_CreateObject();
    if (e) {
        cJSON_AddNumberToObject(e, "group_size", p->group_size);
        cJSON_AddNumberToObject(e, "bits", bits);
        cJSON_AddStringToObject(e, "mode", "affine");
        cJSON_AddItemToObject(mx->per, path, e);
    }
    return bits;
}

/* config.json of src with the quantization blocks mlx_lm writes (both names). */
static llm_status llm__convert_config(const llm_convert_params *p, const cJSON *per, const char *src_dir, const char *dst_dir) {
    char path[4096];
    cJSON *cfg = NULL;
    if (!llm__path_join(path, sizeof path, src_dir, "config.json")) return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", src_dir);
    llm_status s = llm__json_load(path, &cfg);
    if (s) return s;
    if (p->quantize || p->dequantize) {                   /* else the source's own blocks stay */
        cJSON_DeleteItemFromObject(cfg, "quantization");
        cJSON_DeleteItemFromObject(cfg, "quantization_config");
    }
    for (int i = 0; i < 2 && p->quantize; i++) {
        cJSON *q = cJSON_AddObjectToObject(cfg, i ? "quantization_config" : "quantization");
        if (q) { cJSON_AddNumberToObject(q, "group_size", p->group_size); cJSON_AddNumberToObject(q, "bits", p->bits); cJSON_AddStringToObject(q, "mode", p->q_mode); }
        for (const cJSON *e = per ? per->child : NULL; q && e; e = e->next) cJSON_AddItemToObject(q, e->string, cJSON_Duplicate(e, true));
    }
    char *text = cJSON_Print(cfg);
    cJSON_Delete(cfg);
    if (!text) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    llm__atomic_file af;
    if (!llm__path_join(path, sizeof path, dst_dir, "config.json")) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", dst_dir);
    if (!s) s = llm__atomic_open(&af, path);
    if (!s) { s = llm__atomic_write(&af, text, strlen(text)); llm_status c = llm__atomic_close(&af, !s); if (!s) s = c; }
    free(text);
    return s;
}

/* The tokenizer and generation files, copied as they are. */
static llm_status llm__convert_copy_files(const char *src_dir, const char *dst_dir) {
    for (int i = 0; i < LLM__COUNT(llm__convert_files); i++) {
        char from[4096], to[4096], *data = NULL;
        size_t len = 0;
        if (!llm__path_join(from, sizeof from, src_dir, llm__convert_files[i]) || !llm__path_join(to, sizeof to, dst_dir, llm__convert_files[i]))
            return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", src_dir);
        if (access(from, R_OK)) continue;
        llm_status s = llm__read_file(NULL, from, &data, &len);
        llm__atomic_file af;
        if (!s) s = llm__atomic_open(&af, to);
        if (!s) { s = llm__atomic_write(&af, data, len); llm_status c = llm__atomic_close(&af, !s); if (!s) s = c; }
        llm__free(NULL, data);
        if (s) return s;
    }
    return LLM_OK;
}

/* ---- experts stacked as mlx_lm stacks them (its models' sanitize) ----
   "<p>.experts.<e>.<w>.weight" (E of them) -> "<p>.switch_mlp.<w'>.weight" [E, rows, cols],
   with Mixtral's w1/w2/w3 named gate_proj/down_proj/up_proj. */
static const char *const llm__convert_expert_names[][2] = {
    { "gate_proj", "gate_proj" }, { "up_proj", "up_proj" }, { "down_proj", "down_proj" },
    { "w1", "gate_proj" }, { "w2", "down_proj" }, { "w3", "up_proj" },
};

/* If t is expert 0 of a stack: the stack's name in out and the count of experts (else 0). */
static int64_t llm__convert_expert0(llm_safetensors *st, const llm_tensor *t, char *out, size_t cap, char *fmt, size_t fcap) {
    const char *at = strstr(t->name, ".experts.0.");
    if (!at || t->n_dims != 2) return 0;
    const char *w = at + 11;
    for (int i = 0; i < LLM__COUNT(llm__convert_expert_names); i++) {
        size_t n = strlen(llm__convert_expert_names[i][0]);
        if (strncmp(w, llm__convert_expert_names[i][0], n) || strcmp(w + n, ".weight")) continue;
        int pre = (int)(at - t->name);
        snprintf(out, cap, "%.*s.switch_mlp.%s.weight", pre, t->name, llm__convert_expert_names[i][1]);
        snprintf(fmt, fcap, "%.*s.experts.%%lld.%s", pre, t->name, w);
        int64_t E = 0;
        char en[600];
        for (;; E++) {
            snprintf(en, sizeof en, fmt, (long long)E);
            const llm_tensor *e = llm_safetensors_find(st, en);
            if (!e || e->dtype != t->dtype || e->shape[0] != t->shape[0] || e->shape[1] != t->shape[1]) break;
        }
        return E;
    }
    return 0;
}

static bool llm__convert_is_expert(const char *name) {
    const char *at = strstr(name, ".experts.");
    if (!at) return false;
    at += 9;
    while (*at >= '0' && *at <= '9') at++;
    for (int i = 0; i < LLM__COUNT(llm__convert_expert_names); i++) {
        size_t n = strlen(llm__convert_expert_names[i][0]);
        if (*at == '.' && !strncmp(at + 1, llm__convert_expert_names[i][0], n) && !strcmp(at + 1 + n, ".weight")) return true;
    }
    return false;
}

/* The stack [E, rows, cols] of expert 0's tensor t, in memory recorded in owned. */
static llm_status llm__convert_stack(llm_safetensors *st, const llm_tensor *t, int64_t E, const char *name, const char *fmt,
                                     llm_tensor *out, void **owned, int64_t *n_owned) {
    char *nm = (char *)(owned[(*n_owned)++] = malloc(strlen(name) + 1));
    uint8_t *d = (uint8_t *)(owned[(*n_owned)++] = malloc((size_t)E * t->n_bytes));
    if (!nm || !d) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    strcpy(nm, name);
    for (int64_t e = 0; e < E; e++) {
        char en[600];
        snprintf(en, sizeof en, fmt, (long long)e);
        memcpy(d + (size_t)e * t->n_bytes, llm_safetensors_find(st, en)->data, t->n_bytes);
    }
    *out = (llm_tensor){ .name = nm, .dtype = t->dtype, .n_dims = 3, .shape = { E, t->shape[0], t->shape[1] }, .data = d,
                         .n_bytes = (size_t)E * t->n_bytes };
    return LLM_OK;
}

/* The converted tensors and the memory they own. */
typedef struct llm__convert_out {
    llm_tensor *t;
    int64_t n;
    void **owned;
    int64_t n_owned;
} llm__convert_out;

/* Source tensor i (expert 0 stands for its stack) into o. */
static llm_status llm__convert_one(const llm_convert_params *p, llm_safetensors *st, const cJSON *cfg, llm__convert_mix *mx, int64_t i,
                                   llm__convert_out *o) {
    const llm_tensor *t = llm_safetensors_tensor(st, i);
    char name[600], fmt[600];
    llm_tensor stack = { 0 };
    int64_t m = 0, E = llm__convert_expert0(st, t, name, sizeof name, fmt, sizeof fmt);
    llm_status s = LLM_OK;
    bool qw = t->dtype == LLM_DTYPE_U32 && llm__convert_is_qparam_of(st, t->name);
    if (qw && p->quantize) return llm__fail(LLM_ERR_INVALID_ARG, "%s: the model is already quantized ('%s'); -d dequantizes it", p->src, t->name);
    if (qw && p->dequantize) return llm__convert_dequant(p, st, cfg, t, o->t + o->n++, o->owned, &o->n_owned);
    if (p->dequantize && llm__convert_is_qparam(st, t->name)) return LLM_OK;   /* read with the weight */
    if (E) {
        if ((s = llm__convert_stack(st, t, E, name, fmt, &stack, o->owned, &o->n_owned))) return s;
        t = &stack;
    } else if (llm__convert_is_expert(t->name)) {
        return LLM_OK;                                      /* in its stack */
    }
    int bits = p->bits;
    if (p->quantize && llm__convert_quantizable(t, p->group_size)) {
        snprintf(name, sizeof name, "%.*s", (int)strlen(t->name) - 7, t->name);   /* the module's path */
        bits = llm__convert_mix_bits(p, mx, name);
    }
    s = llm__convert_tensor(p, t, bits, o->t + o->n, o->owned, &o->n_owned, &m);
    o->n += m;
    return s;
}

/* ---- saving as mlx_lm's save_model: shards of at most max_shard_bytes ----
   Tensors go in order into the current shard until the next would overflow it (a larger
   tensor gets a shard of its own). One shard: model.safetensors; more:
   model-0000i-of-0000N.safetensors and model.safetensors.index.json ("metadata":
   total_size, total_parameters; "weight_map" sorted by name). */
static int llm__convert_by_name(const void *a, const void *b) {
    return strcmp((*(llm_tensor *const *)a)->name, (*(llm_tensor *const *)b)->name);
}

/* mlx_lm's get_total_parameters: a quantized matrix counts its logical elements (rows *
   scale groups * group size), its scales and biases nothing. */
static int64_t llm__convert_n_params(const llm__convert_out *o, int group_size) {
    int64_t total = 0;
    for (int64_t i = 0; i < o->n; i++) {
        const llm_tensor *t = &o->t[i], *sc = NULL;
        size_t len = strlen(t->name);
        char nm[620];
        if (len > 7 && (!strcmp(t->name + len - 7, ".scales") || !strcmp(t->name + len - 7, ".biases"))) continue;
        if (t->dtype == LLM_DTYPE_U32 && len > 7 && len < 600) {
            snprintf(nm, sizeof nm, "%.*s.scales", (int)len - 7, t->name);
            for (int64_t j = 0; j < o->n && !sc; j++) sc = strcmp(o->t[j].name, nm) ? NULL : &o->t[j];
        }
        total += sc ? llm_tensor_n_elems(sc) * group_size : llm_tensor_n_elems(t);
    }
    return total;
}

static llm_status llm__convert_index(const llm__convert_out *o, const int64_t *shard_of, int64_t n_shards,
                                     int64_t total_params, const char *dst_dir) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "metadata"), *map = cJSON_AddObjectToObject(root, "weight_map");
    size_t total = 0;
    llm_tensor **order = (llm_tensor **)malloc((size_t)o->n * sizeof *order + 1);
    llm_status s = root && meta && map && order ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; !s && i < o->n; i++) total += o->t[i].n_bytes, order[i] = &o->t[i];
    if (!s) {
        cJSON_AddNumberToObject(meta, "total_size", (double)total);
        cJSON_AddNumberToObject(meta, "total_parameters", (double)total_params);
        qsort(order, (size_t)o->n, sizeof *order, llm__convert_by_name);
        for (int64_t i = 0; i < o->n; i++) {
            char shard[64];
            snprintf(shard, sizeof shard, "model-%05lld-of-%05lld.safetensors", (long long)shard_of[order[i] - o->t] + 1, (long long)n_shards);
            cJSON_AddStringToObject(map, order[i]->name, shard);
        }
    }
    char *text = s ? NULL : cJSON_Print(root), path[4200];
    if (!s && !text) s = llm__fail(LLM_ERR_NOMEM, "out of memory");
    if (!s && !llm__path_join(path, sizeof path, dst_dir, "model.safetensors.index.json")) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", dst_dir);
    llm__atomic_file af;
    if (!s && !(s = llm__atomic_open(&af, path))) { s = llm__atomic_write(&af, text, strlen(text)); llm_status c = llm__atomic_close(&af, !s); if (!s) s = c; }
    free(text);
    free(order);
    cJSON_Delete(root);
    return s;
}
/* o's tensors into dst_dir as one file or as shards with an index. */
static llm_status llm__convert_save(const llm_convert_params *p, const llm__convert_out *o, const char *dst_dir) {
    int64_t *shard_of = (int64_t *)malloc((size_t)o->n * sizeof *shard_of + 1), n_shards = 0;
    if (!shard_of) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    size_t max = p->max_shard_bytes ? p->max_shard_bytes : (size_t)5 << 30, size = 0;
    for (int64_t i = 0; i < o->n; i++) {
        if (!n_shards || size + o->t[i].n_bytes > max) n_shards++, size = 0;
        shard_of[i] = n_shards - 1;
        size += o->t[i].n_bytes;
    }
    const char *meta[] = { "format", "mlx" };
    llm_status s = LLM_OK;
    for (int64_t k = 0, i0 = 0; k < LLM__MAX(n_shards, 1) && !s; k++) {
        int64_t i1 = i0;
        while (i1 < o->n && shard_of[i1] == k) i1++;
        char name[64], path[4200];
        if (n_shards > 1) snprintf(name, sizeof name, "model-%05lld-of-%05lld.safetensors", (long long)k + 1, (long long)n_shards);
        else snprintf(name, sizeof name, "model.safetensors");
        if (!llm__path_join(path, sizeof path, dst_dir, name)) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", dst_dir);
        if (!s) s = llm_safetensors_write(path, o->t + i0, i1 - i0, meta, 1);
        i0 = i1;
    }
    if (!s && n_shards > 1) s = llm__convert_index(o, shard_of, n_shards, llm__convert_n_params(o, p->group_size), dst_dir);
    free(shard_of);
    return s;
}

/* The weights: every tensor of src converted into dst. */
static llm_status llm__convert_weights(const llm_convert_params *p, llm_safetensors *st, const cJSON *cfg, llm__convert_mix *mx,
                                       const char *dst_dir) {
    int64_t n = llm_safetensors_n_tensors(st);
    llm__convert_out o = { (llm_tensor *)calloc((size_t)(3 * n + 1), sizeof *o.t), 0,
                           (void **)calloc((size_t)(7 * n + 1), sizeof *o.owned), 0 };   /* up to 3 tensors, 7 blocks each */
    llm_status s = o.t && o.owned ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n && !s; i++) {
        s = llm__convert_one(p, st, cfg, mx, i, &o);
        if (!s && p->progress) p->progress(p->progress_user, i + 1, n);
    }
    if (!s) s = llm__convert_save(p, &o, dst_dir);
    for (int64_t i = 0; o.owned && i < o.n_owned; i++) free(o.owned[i]);
    free(o.owned);
    free(o.t);
    return s;
}

static llm_status llm__convert_gguf(const llm_convert_params *p);   /* 72_convert_gguf_meta.c */

/* p's quantization mode: q_mode "affine" when unset, and bits and group size from the mode
   when 0 (affine 4 and 64); an fp mode accepts only its own (mlx's quantize refuses others)
   and no mixed recipe (mlx_lm convert refuses them: "only 'affine'"). */
static llm_status llm__convert_mode(llm_convert_params *p) {
    if (!p->q_mode) p->q_mode = "affine";
    int fp = llm__mlx_mode(p->q_mode), gs, bits;
    if (fp == -2) return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: q_mode '%s' is unknown (affine, mxfp4, nvfp4, mxfp8)", p->q_mode);
    llm__mlx_mode_defaults(p->q_mode, &gs, &bits);
    if (fp >= 0 && ((p->bits && p->bits != bits) || (p->group_size && p->group_size != gs)))
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: mode %s takes %d bits and groups of %d, not %d and %d", p->q_mode,
                         bits, gs, p->bits ? p->bits : bits, p->group_size ? p->group_size : gs);
    if (fp >= 0 && p->quant_predicate)
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: mixed recipes ('%s') support only the affine mode", p->quant_predicate);
    if (!p->bits) p->bits = bits;
    if (!p->group_size) p->group_size = gs;
    return LLM_OK;
}

LLM_API llm_status llm_convert_model(const llm_convert_params *params) {
    if (params->gguf) return llm__convert_gguf(params);
    llm_convert_params p = *params;
    llm_status s = llm__convert_mode(&p);
    if (s) return s;
    if (!p.src || !p.dst) return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: src and dst are required");
    if (p.set_dtype && !llm__is_float(p.dtype)) return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: dtype must be f32, f16 or bf16");
    char src_dir[4096];
    if (llm__is_dir(p.src)) snprintf(src_dir, sizeof src_dir, "%s", p.src);
    else llm__path_dir(src_dir, sizeof src_dir, p.src);
    if (!llm__is_dir(p.dst) && mkdir(p.dst, 0777)) return llm__fail(LLM_ERR_IO, "%s: cannot create the directory: %s", p.dst, strerror(errno));
    if (p.quantize && p.dequantize) return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: quantize and dequantize exclude each other");
    llm_safetensors *st = NULL;
    cJSON *cfg = NULL;
    char path[4200];
    s = llm__path_join(path, sizeof path, src_dir, "config.json") ? llm__json_load(path, &cfg) : llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", src_dir);
    llm__convert_mix mx = { 0 };
    if (!s) s = llm_safetensors_open(p.src, &st);
    if (!s && p.quantize) s = llm__convert_mix_init(&p, st, cfg, &mx);
    if (!s) s = llm__convert_weights(&p, st, cfg, &mx, p.dst);
    llm_safetensors_close(st);
    cJSON_Delete(cfg);
    if (!s) s = llm__convert_config(&p, mx.per, src_dir, p.dst);
    cJSON_Delete(mx.per);
    if (!s) s = llm__convert_copy_files(src_dir, p.dst);
    return s;
}
#endif
/* ==== end llm_impl/70_convert.c ==== */
/* ==== begin llm_impl/71_convert_gguf.c ==== */
/* ---- >>convert-gguf: a Hugging Face / MLX directory -> one GGUF file (08_api_convert.h) ----
   The model is opened twice: llm_model_load gives the hyperparameters (every config form
   our loader reads), the safetensors reader the tensors as stored. Each tensor becomes rows
   of f32 (a cast, or mlx's dequantization), gets llama.cpp's name, layout and type, and is
   quantized with our ggml quantizers into a buffer the writer owns; llm_gguf_write then
   writes everything atomically. */
/* #include "10_internal.h" (already above) */
/* #include "08_api_convert.h" (already above) */

#ifndef LLM_NO_CJSON

/* ---- the file being assembled: metadata, tensors, and the memory they point to ---- */

typedef struct llm__gw {
    llm_gguf_kv *kv;
    int64_t n_kv, cap_kv;
    llm_tensor *t;
    int64_t n_t, cap_t;
    void **own;
    int64_t n_own, cap_own;
    bool oom;
    const char *arch;        /* llama.cpp's architecture name, the prefix of the hparam keys */
    cJSON *docs[4];          /* parsed JSON whose strings the metadata borrows */
    int n_docs;
} llm__gw;

static bool llm__gw_grow(void **p, int64_t *cap, int64_t n, size_t elem) {
    if (n < *cap) return true;
    int64_t c = *cap ? 2 * *cap : 64;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return false;
    *p = q, *cap = c;
    return true;
}

/* p, freed with the writer; NULL (a failed allocation) marks the writer out of memory. */
static void *llm__gw_own(llm__gw *w, void *p) {
    if (!p || !llm__gw_grow((void **)&w->own, &w->cap_own, w->n_own, sizeof *w->own)) {
        free(p);
        w->oom = true;
        return NULL;
    }
    return w->own[w->n_own++] = p;
}

static const char *llm__gw_str(llm__gw *w, const char *fmt, ...) LLM__PRINTF(2, 3);
static const char *llm__gw_str(llm__gw *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n < 0 ? NULL : (char *)llm__gw_own(w, malloc((size_t)n + 1));
    if (!s) return "";
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void llm__gw_kv(llm__gw *w, llm_gguf_kv kv) {
    if (!llm__gw_grow((void **)&w->kv, &w->cap_kv, w->n_kv, sizeof *w->kv)) { w->oom = true; return; }
    w->kv[w->n_kv++] = kv;
}

/* "<arch>.<key>" */
static const char *llm__gw_key(llm__gw *w, const char *key) { return llm__gw_str(w, "%s.%s", w->arch, key); }

static void llm__gw_free(llm__gw *w) {
    for (int64_t i = 0; i < w->n_own; i++) free(w->own[i]);
    free(w->own);
    free(w->kv);
    free(w->t);
    for (int i = 0; i < w->n_docs; i++) cJSON_Delete(w->docs[i]);
}

/* ---- names: Hugging Face -> llama.cpp ---- */

/* Per-layer modules "model.layers.N.<hf>" -> "blk.N.<gguf>", the ".weight"/".bias" kept;
   an entry with families applies to those only and comes before the general one. Experts
   are stacked first (70_convert.c), into mlx_lm's switch_mlp names. */
static const char *const llm__gguf_layer_names[][3] = {
    { " gemma2 gemma3 ", "post_attention_layernorm", "post_attention_norm" },
    { " gemma2 gemma3 ", "pre_feedforward_layernorm", "ffn_norm" },
    { " gemma2 gemma3 ", "post_feedforward_layernorm", "post_ffw_norm" },
    { "", "input_layernorm", "attn_norm" }, { "", "post_attention_layernorm", "ffn_norm" },
    { "", "self_attn.q_proj", "attn_q" }, { "", "self_attn.k_proj", "attn_k" }, { "", "self_attn.v_proj", "attn_v" },
    { "", "self_attn.o_proj", "attn_output" }, { "", "self_attn.qkv_proj", "attn_qkv" },
    { "", "self_attn.q_norm", "attn_q_norm" }, { "", "self_attn.k_norm", "attn_k_norm" },
    { "", "mlp.gate_proj", "ffn_gate" }, { "", "mlp.up_proj", "ffn_up" }, { "", "mlp.down_proj", "ffn_down" },
    { "", "mlp.gate_up_proj", "ffn_up" },                   /* Phi-3: gate and up fused, as llama.cpp keeps them */
    { "", "mlp.gate", "ffn_gate_inp" }, { "", "block_sparse_moe.gate", "ffn_gate_inp" },
    { "", "mlp.shared_expert.gate_proj", "ffn_gate_shexp" }, { "", "mlp.shared_expert.up_proj", "ffn_up_shexp" },
    { "", "mlp.shared_expert.down_proj", "ffn_down_shexp" }, { "", "mlp.shared_expert_gate", "ffn_gate_inp_shexp" },
    { "", "mlp.switch_mlp.gate_proj", "ffn_gate_exps" }, { "", "mlp.switch_mlp.up_proj", "ffn_up_exps" },
    { "", "mlp.switch_mlp.down_proj", "ffn_down_exps" },
    { "", "block_sparse_moe.switch_mlp.gate_proj", "ffn_gate_exps" }, { "", "block_sparse_moe.switch_mlp.up_proj", "ffn_up_exps" },
    { "", "block_sparse_moe.switch_mlp.down_proj", "ffn_down_exps" },
};

/* config model_type -> llama.cpp architecture; permute: ggml ropes it on interleaved pairs,
   so convert_hf_to_gguf.py permutes the Wq/Wk rows (llama_model_rope_type). */
static const struct { const char *hf, *gguf; bool permute; } llm__gguf_archs_hf[] = {
    { "llama", "llama", true }, { "mistral", "llama", true }, { "mixtral", "llama", true },
    { "qwen2", "qwen2", false }, { "qwen3", "qwen3", false }, { "qwen2_moe", "qwen2moe", false }, { "qwen3_moe", "qwen3moe", false },
    { "gemma", "gemma", false }, { "gemma2", "gemma2", false }, { "gemma3", "gemma3", false },
    { "gemma3_text", "gemma3", false }, { "phi3", "phi3", false },
};

/* The llama.cpp name of a source tensor into out; false when it has none. */
static bool llm__gguf_name(const char *arch, const char *name, char *out, size_t cap) {
    static const char *const globals[][2] = {
        { "model.embed_tokens.weight", "token_embd.weight" }, { "model.norm.weight", "output_norm.weight" },
        { "lm_head.weight", "output.weight" },
    };
    for (int i = 0; i < LLM__COUNT(globals); i++)
        if (!strcmp(name, globals[i][0])) return snprintf(out, cap, "%s", globals[i][1]) > 0;
    int il = -1, used = 0;
    if (sscanf(name, "model.layers.%d.%n", &il, &used) != 1 || !used || il < 0) return false;
    const char *mod = name + used, *dot = strrchr(mod, '.');
    if (!dot || (strcmp(dot, ".weight") && strcmp(dot, ".bias"))) return false;
    char fam[40];
    snprintf(fam, sizeof fam, " %s ", arch);
    for (int k = 0; k < LLM__COUNT(llm__gguf_layer_names); k++) {
        const char *const *e = llm__gguf_layer_names[k];
        if ((*e[0] && !strstr(e[0], fam)) || strlen(e[1]) != (size_t)(dot - mod) || strncmp(mod, e[1], (size_t)(dot - mod))) continue;
        return snprintf(out, cap, "blk.%d.%s%s", il, e[2], dot) < (int)cap;
    }
    return false;
}

/* ---- MLX blocks that are already ggml blocks ----
   A group of 32 4-bit values w = scale * q + bias is a q4_1 block (d, m, qs[16]: q[j] in the
   low nibble of qs[j], q[j+16] in the high one) with d = scale, m = bias; an 8-bit group
   with bias = -128 * scale is a q8_0 block (d, qs[32] signed) with qs = q - 128. Exact when
   d and m are f16 values. */
static bool llm__gguf_f16_exact(float v) { return llm__f16_to_f32(llm__f32_to_f16(v)) == v || v != v; }

static bool llm__gguf_mlx_exact(const llm__convert_src *s, llm_dtype to) {
    const llm__qmat *q = &s->q;
    if (!s->mlx || q->fp_mode >= 0 || q->group_size != 32 || !((to == LLM_DTYPE_Q4_1 && q->bits == 4) || (to == LLM_DTYPE_Q8_0 && q->bits == 8)))
        return false;
    for (int64_t g = 0, ng = s->rows * s->cols / 32; g < ng; g++) {
        float sc = llm__mlx_param(q->scales, q->sdtype, g), bi = llm__mlx_param(q->biases, q->sdtype, g);
        if (!llm__gguf_f16_exact(sc) || !llm__gguf_f16_exact(bi) || (to == LLM_DTYPE_Q8_0 && bi != -128.0f * sc)) return false;
    }
    return true;
}

static void llm__gguf_mlx_blocks(const llm__convert_src *s, llm_dtype to, uint8_t *out) {
    const llm__qmat *q = &s->q;
    int64_t gpr = s->cols / 32, bb = llm_dtype_get(to)->block_bytes;
    for (int64_t g = 0; g < s->rows * gpr; g++) {
        const uint8_t *row = q->w + g / gpr * (s->cols * q->bits / 8);
        int64_t i0 = g % gpr * 32;
        uint8_t *b = out + g * bb;
        uint16_t d = llm__f32_to_f16(llm__mlx_param(q->scales, q->sdtype, g)), m = llm__f32_to_f16(llm__mlx_param(q->biases, q->sdtype, g));
        memcpy(b, &d, 2);
        if (to == LLM_DTYPE_Q4_1) {
            memcpy(b + 2, &m, 2);
            for (int j = 0; j < 16; j++) b[4 + j] = (uint8_t)(llm__mlx_get(row, i0 + j, 4) | llm__mlx_get(row, i0 + j + 16, 4) << 4);
        } else {
            for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)((int)llm__mlx_get(row, i0 + j, 8) - 128);
        }
    }
}

/* ---- which type each matrix gets: llama-quantize's rules (llama_tensor_get_type) ----
   A llama-quantize file type ("Q4_K_M") names a base block type for most matrices and gives
   a few more bits: the attention values (attn_v) and the feed-forward output (ffn_down) of
   some layers, the attention output, Phi-3's fused attn_qkv. A plain type (q4_0, q4_K) is
   the same rules with no such bumps. Every type keeps these: the output matrix (the token
   table when tied) q6_K (q8_0 stays q8_0; q8_0 also when its rows are not whole 256-blocks),
   models of 8 experts attn_v/attn_k q8_0, 70B-class models (80 layers, grouped KV heads)
   attn_v q5_K where it would be q3_K/q4_K. Which layers get a bump: */
enum { LLM__L_ALL = 1, LLM__L_FIRST2, LLM__L_FIRST4, LLM__L_EIGHTH, LLM__L_SIXTEENTH, LLM__L_MORE_BITS, LLM__L_GQA4 };

/* hi in the layers `when` selects, lo in the others (F32, the zero value: the base type) */
typedef struct llm__gguf_bump { llm_dtype hi; uint8_t when; llm_dtype lo; } llm__gguf_bump;

typedef struct llm__gguf_mix {
    const char *name;         /* llama-quantize's */
    uint32_t ftype;           /* general.file_type (llama_ftype) */
    llm_dtype base;
    llm__gguf_bump attn_v, ffn_down;
    llm_dtype attn_out, attn_out_moe8, attn_qkv;   /* F32: the base; moe8: models of 8 experts */
} llm__gguf_mix;

#define LLM__T(x) LLM_DTYPE_##x
static const llm__gguf_mix llm__gguf_mixes[] = {
    { "Q2_K", 10, LLM__T(Q2_K), { LLM__T(Q4_K), LLM__L_GQA4, LLM__T(Q3_K) }, { LLM__T(Q3_K), LLM__L_ALL, 0 }, LLM__T(Q3_K), LLM__T(Q5_K), 0 },
    { "Q3_K_S", 11, LLM__T(Q3_K), { 0 }, { 0 }, 0, LLM__T(Q5_K), 0 },
    { "Q3_K_M", 12, LLM__T(Q3_K), { LLM__T(Q5_K), LLM__L_FIRST2, LLM__T(Q4_K) }, { LLM__T(Q5_K), LLM__L_SIXTEENTH, LLM__T(Q4_K) },
      LLM__T(Q4_K), LLM__T(Q5_K), LLM__T(Q4_K) },
    { "Q3_K_L", 13, LLM__T(Q3_K), { LLM__T(Q5_K), LLM__L_ALL, 0 }, { LLM__T(Q5_K), LLM__L_ALL, 0 }, LLM__T(Q5_K), 0, LLM__T(Q4_K) },
    { "Q4_K_S", 14, LLM__T(Q4_K), { LLM__T(Q5_K), LLM__L_FIRST4, 0 }, { LLM__T(Q5_K), LLM__L_EIGHTH, 0 }, 0, LLM__T(Q5_K), 0 },
    { "Q4_K_M", 15, LLM__T(Q4_K), { LLM__T(Q6_K), LLM__L_MORE_BITS, 0 }, { LLM__T(Q6_K), LLM__L_MORE_BITS, 0 }, 0, LLM__T(Q5_K), LLM__T(Q5_K) },
    { "Q5_K_S", 16, LLM__T(Q5_K), { 0 }, { 0 }, 0, 0, 0 },
    { "Q5_K_M", 17, LLM__T(Q5_K), { LLM__T(Q6_K), LLM__L_MORE_BITS, 0 }, { LLM__T(Q6_K), LLM__L_MORE_BITS, 0 }, 0, 0, LLM__T(Q6_K) },
    { "Q6_K", 18, LLM__T(Q6_K), { 0 }, { 0 }, 0, 0, 0 },
};
#undef LLM__T

/* The file type called `name` (any case), or NULL. */
static const llm__gguf_mix *llm__gguf_mix_find(const char *name) {
    for (int i = 0; name && i < LLM__COUNT(llm__gguf_mixes); i++) {
        const char *a = llm__gguf_mixes[i].name, *b = name;
        while (*a && (*a | 32) == (*b | 32)) a++, b++;
        if (!*a && !*b) return &llm__gguf_mixes[i];
    }
    return NULL;
}

/* What the rules need to know of the model. */
typedef struct llm__gguf_dims { int64_t n_layer, n_gqa, n_expert; bool is_70b; } llm__gguf_dims;

static llm__gguf_dims llm__gguf_dims_of(const char *arch, int64_t n_layer, int64_t n_head, int64_t n_head_kv, int64_t n_expert) {
    llm__gguf_dims d = { n_layer, n_head_kv > 0 ? n_head / n_head_kv : 0, n_expert, false };
    d.is_70b = n_layer == 80 && ((!strcmp(arch, "llama") && n_head != n_head_kv) || !strcmp(arch, "qwen2"));
    return d;
}

/* Whether layer il of n gets bump b's hi type. MORE_BITS: the first and last eighth and
   every third layer between them. */
static bool llm__gguf_layer_bumped(uint8_t when, int64_t il, const llm__gguf_dims *d) {
    int64_t n = d->n_layer;
    switch (when) {
    case LLM__L_ALL: return true;
    case LLM__L_FIRST2: return il < 2;
    case LLM__L_FIRST4: return il < 4;
    case LLM__L_EIGHTH: return il < n / 8;
    case LLM__L_SIXTEENTH: return il < n / 16;
    case LLM__L_MORE_BITS: return il < n / 8 || il >= 7 * n / 8 || (il - n / 8) % 3 == 2;
    case LLM__L_GQA4: return d->n_gqa >= 4;
    default: return false;
    }
}

static llm_dtype llm__gguf_bumped(const llm__gguf_bump *b, llm_dtype base, int64_t il, const llm__gguf_dims *d) {
    if (!b->when) return base;
    return llm__gguf_layer_bumped(b->when, il, d) ? b->hi : b->lo ? b->lo : base;
}

/* A type whose blocks do not divide the rows' length gives way as in llama-quantize; it
   takes iq4_nl for q2_K/q3_K, a type we do not write: q4_0 has its 4.5 bits per weight. */
static llm_dtype llm__gguf_fallback(llm_dtype t, int64_t cols) {
    if (cols % llm_dtype_get(t)->block_elems == 0) return t;
    switch (t) {
    case LLM_DTYPE_Q2_K: case LLM_DTYPE_Q3_K: t = LLM_DTYPE_Q4_0; break;
    case LLM_DTYPE_Q4_K: t = LLM_DTYPE_Q5_0; break;
    case LLM_DTYPE_Q5_K: t = LLM_DTYPE_Q5_1; break;
    case LLM_DTYPE_Q6_K: t = LLM_DTYPE_Q8_0; break;
    default: return LLM_DTYPE_F16;
    }
    return cols % llm_dtype_get(t)->block_elems ? LLM_DTYPE_F16 : t;
}

/* The type of matrix `name` (llama.cpp's name, blk.N.*) under mix m for a model of dims d,
   its rows of `cols` values; tied: the token table is also the output matrix. */
static llm_dtype llm__gguf_mix_type(const llm__gguf_mix *m, const llm__gguf_dims *d, bool tied, const char *name, int64_t cols) {
    llm_dtype to = m->base;
    int64_t il = strncmp(name, "blk.", 4) ? -1 : (int64_t)strtoll(name + 4, NULL, 10);   /* saturates: no overflow */
    bool moe8 = d->n_expert == 8;
    if (!strcmp(name, "output.weight") || (tied && !strcmp(name, "token_embd.weight"))) {
        if (cols % llm_dtype_get(to)->block_elems) to = LLM_DTYPE_Q8_0;
        else if (to != LLM_DTYPE_Q8_0) to = LLM_DTYPE_Q6_K;
    } else if (strstr(name, "attn_v.weight")) {
        to = llm__gguf_bumped(&m->attn_v, to, il, d);
        if (d->is_70b && (to == LLM_DTYPE_Q3_K || to == LLM_DTYPE_Q4_K)) to = LLM_DTYPE_Q5_K;
        if (moe8) to = LLM_DTYPE_Q8_0;
    } else if (strstr(name, "attn_k.weight")) {
        if (moe8) to = LLM_DTYPE_Q8_0;
    } else if (strstr(name, "ffn_down")) {                        /* also ffn_down_exps, ffn_down_shexp */
        to = llm__gguf_bumped(&m->ffn_down, to, il, d);
    } else if (strstr(name, "attn_output.weight")) {
        llm_dtype o = moe8 ? m->attn_out_moe8 : m->attn_out;
        if (o) to = o;
    } else if (strstr(name, "attn_qkv.weight") && m->attn_qkv) {
        to = m->attn_qkv;
    }
    return llm__gguf_fallback(to, cols);
}

/* ---- one output tensor ---- */

typedef struct llm__gconv {
    const llm_convert_params *p;
    const char *path;          /* the source, for messages */
    const llm__hparams *hp;
    llm__gguf_mix mix;         /* the file type (a plain type: no bumps) */
    llm__gguf_dims dims;
    bool permute, tied;
    llm__gw w;
    int64_t n_requant;         /* MLX matrices dequantized and quantized again */
} llm__gconv;

static bool llm__ends(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The type of tensor `name`: vectors, norms and routers f32, float files as they are. */
static llm_dtype llm__gguf_pick(const llm__gconv *c, const char *name, const llm__convert_src *s) {
    if (s->n_dims < 2 || strstr(name, "ffn_gate_inp") || llm__ends(name, "norm.weight")) return LLM_DTYPE_F32;
    if (llm__is_float(c->mix.base)) return c->mix.base;
    return llm__gguf_mix_type(&c->mix, &c->dims, c->tied, name, s->cols);
}

/* convert_hf_to_gguf.py's LlamaModel.permute on whole rows (any row layout): per head of
   D rows, row (j, i) (half j, index i) moves to 2i + j. */
static llm_status llm__gguf_permute(uint8_t *data, int64_t rows, size_t row_bytes, int64_t n_head, const char *name) {
    int64_t D = n_head > 0 ? rows / n_head : 0;
    if (D <= 0 || D % 2 || rows % n_head) return llm__fail(LLM_ERR_FORMAT, "'%s': %lld rows do not split into %lld heads", name, (long long)rows, (long long)n_head);
    uint8_t *tmp = (uint8_t *)malloc((size_t)rows * row_bytes);
    if (!tmp) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (int64_t h = 0; h < n_head; h++)
        for (int64_t j = 0; j < 2; j++)
            for (int64_t i = 0; i < D / 2; i++)
                memcpy(tmp + (size_t)(h * D + 2 * i + j) * row_bytes, data + (size_t)(h * D + j * D / 2 + i) * row_bytes, row_bytes);
    memcpy(data, tmp, (size_t)rows * row_bytes);
    free(tmp);
    return LLM_OK;
}

/* f32 rows of s -> out in type `to`, 64 rows at a time; Gemma's norms get their 1. */
static llm_status llm__gguf_quantize(const llm__gconv *c, const char *name, const llm__convert_src *s, llm_dtype to, uint8_t *out) {
    int64_t chunk = LLM__MAX(1, LLM__MIN(s->rows, 64));
    float *f = (float *)malloc((size_t)(chunk * s->cols) * sizeof *f + 1);
    if (!f) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    bool add_one = c->hp->norm_add_one != 0 && llm__ends(name, "norm.weight");
    llm_status st = LLM_OK;
    for (int64_t r0 = 0; r0 < s->rows && !st; r0 += chunk) {
        int64_t n = LLM__MIN(chunk, s->rows - r0);
        llm__convert_src_rows(s, r0, n, f);
        for (int64_t i = 0; add_one && i < n * s->cols; i++) f[i] += c->hp->norm_add_one;
        st = llm_quantize(to, f, out + llm_dtype_n_bytes(to, r0 * s->cols), n * s->cols);
    }
    free(f);
    return st;
}

static llm_status llm__gw_tensor(llm__gw *w, const char *name, llm_dtype dt, int n_dims, const int64_t *shape, void *data, size_t n_bytes) {
    const char *nm = llm__gw_str(w, "%s", name);
    if (w->oom || !llm__gw_grow((void **)&w->t, &w->cap_t, w->n_t, sizeof *w->t)) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    llm_tensor *t = &w->t[w->n_t++];
    *t = (llm_tensor){ .name = nm, .dtype = dt, .n_dims = n_dims, .data = data, .n_bytes = n_bytes };
    memcpy(t->shape, shape, sizeof t->shape);
    return LLM_OK;
}

/* The tensor `name` from source s, in the type llama.cpp would give it. */
static llm_status llm__gguf_emit(llm__gconv *c, const char *name, const llm__convert_src *s) {
    llm_dtype to = llm__gguf_pick(c, name, s);
    size_t nb = llm_dtype_n_bytes(to, s->rows * s->cols);
    uint8_t *out = (uint8_t *)llm__gw_own(&c->w, malloc(nb + 1));
    if (!out) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    llm_status st = LLM_OK;
    if (llm__gguf_mlx_exact(s, to)) {
        llm__gguf_mlx_blocks(s, to, out);
    } else {
        if (s->mlx && !llm__is_float(to)) {
            c->n_requant++;
            llm__log(LLM_LOG_INFO, "%s: '%s': MLX %d-bit g%d dequantized and quantized again to %s", c->path, s->t->name, s->q.bits,
                     s->q.group_size, llm_dtype_get(to)->name);
        }
        st = llm__gguf_quantize(c, name, s, to, out);
    }
    bool q = strstr(name, ".attn_q.") != NULL, k = strstr(name, ".attn_k.") != NULL;
    if (!st && c->permute && (q || k)) st = llm__gguf_permute(out, s->shape[0], nb / (size_t)s->shape[0], q ? c->hp->n_heads : c->hp->n_kv_heads, name);
    return st ? st : llm__gw_tensor(&c->w, name, to, s->n_dims, s->shape, out, nb);
}

/* ---- the tensors ---- */

/* Source tensor t (expert 0 of a stack stands for the stack) into the file. */
static llm_status llm__gguf_one(llm__gconv *c, llm_safetensors *st, const cJSON *cfg, const llm_tensor *t) {
    char stacked[600], fmt[600], name[640];
    void *owned[2] = { NULL, NULL };
    int64_t n_owned = 0;
    llm_tensor stack;
    llm_status s = LLM_OK;
    int64_t E = llm__convert_expert0(st, t, stacked, sizeof stacked, fmt, sizeof fmt);
    if (E) {
        s = llm__convert_stack(st, t, E, stacked, fmt, &stack, owned, &n_owned);
        for (int64_t i = 0; i < n_owned; i++) llm__gw_own(&c->w, owned[i]);
        if (s || c->w.oom) return s ? s : llm__fail(LLM_ERR_NOMEM, "out of memory");
        t = &stack;
    }
    if (!llm__gguf_name(c->w.arch, t->name, name, sizeof name))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has no llama.cpp name in architecture %s", c->path, t->name, c->w.arch);
    llm__convert_src src;
    if ((s = llm__convert_src_init(c->path, st, cfg, t, &src))) return s;
    return llm__gguf_emit(c, name, &src);
}

/* A per-frequency f32 table [n] as tensor `name` (rope_freqs, rope_factors_*). */
static llm_status llm__gguf_table(llm__gconv *c, const char *name, const float *v, int64_t n) {
    float *d = (float *)llm__gw_own(&c->w, malloc((size_t)n * sizeof *d + 1));
    if (!d) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    memcpy(d, v, (size_t)n * sizeof *d);
    int64_t shape[LLM_MAX_DIMS] = { n };
    return llm__gw_tensor(&c->w, name, LLM_DTYPE_F32, 1, shape, d, (size_t)n * sizeof *d);
}

/* Rope scaling that llama.cpp keeps in tensors: Llama 3's divisors (default inverse
   frequencies / scaled ones, as convert_hf_to_gguf.py's generate_extra_tensors) and
   Phi-3 LongRoPE's short and long factors. */
static llm_status llm__gguf_rope_tensors(llm__gconv *c) {
    const llm__hparams *hp = c->hp;
    int64_t half = hp->n_rot / 2;
    if (hp->rope.type == LLM__ROPE_LONGROPE && hp->rope.short_factor && hp->rope.long_factor && hp->rope.n_factors == half) {
        llm_status s = llm__gguf_table(c, "rope_factors_short.weight", hp->rope.short_factor, half);
        return s ? s : llm__gguf_table(c, "rope_factors_long.weight", hp->rope.long_factor, half);
    }
    if (hp->rope.type != LLM__ROPE_LLAMA3) return LLM_OK;
    float *base = (float *)malloc((size_t)half * 2 * sizeof *base + 1), ms;
    if (!base) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    llm__rope_cfg plain = hp->rope;
    plain.type = LLM__ROPE_DEFAULT;
    llm__rope_inv_freq(&plain, hp->n_rot, hp->n_ctx_train, 0, base, &ms);
    llm__rope_inv_freq(&hp->rope, hp->n_rot, hp->n_ctx_train, 0, base + half, &ms);
    for (int64_t i = 0; i < half; i++) base[i] /= base[half + i];
    llm_status s = llm__gguf_table(c, "rope_freqs.weight", base, half);
    free(base);
    return s;
}

static llm_status llm__gguf_tensors(llm__gconv *c, llm_safetensors *st, const cJSON *cfg) {
    int64_t n = llm_safetensors_n_tensors(st);
    llm_status s = LLM_OK;
    for (int64_t i = 0; i < n && !s; i++) {
        const llm_tensor *t = llm_safetensors_tensor(st, i);
        if (llm__convert_is_expert(t->name) && !strstr(t->name, ".experts.0.")) continue;   /* in expert 0's stack */
        if (llm__convert_is_qparam(st, t->name) || llm__ends(t->name, "rotary_emb.inv_freq")) continue;
        s = llm__gguf_one(c, st, cfg, t);
        if (!s && c->p->progress) c->p->progress(c->p->progress_user, i + 1, n);
    }
    if (!s) s = llm__gguf_rope_tensors(c);
    if (!s && c->n_requant)
        llm__log(LLM_LOG_WARN, "%s: %lld MLX-quantized matrices were dequantized and quantized again (not lossless; "
                 "only 4-bit and 8-bit groups of 32 with f16 scales map to q4_1 / q8_0 as they are)", c->path, (long long)c->n_requant);
    return s;
}
#endif
/* ==== end llm_impl/71_convert_gguf.c ==== */
/* ==== begin llm_impl/72_convert_gguf_meta.c ==== */
/* ---- >>convert-gguf: metadata (general.*, <arch>.*, tokenizer.ggml.*) and the entry point ----
   The keys convert_hf_to_gguf.py writes for the families we convert and that llama.cpp (and
   our 54_gguf_model.c / 48_tok_gguf.c) read back. */
/* #include "10_internal.h" (already above) */
/* #include "08_api_convert.h" (already above) */

#ifndef LLM_NO_CJSON

/* ---- hyperparameters ---- */

static void llm__gw_u32(llm__gw *w, const char *key, int64_t v) {
    if (v > 0 && v <= UINT32_MAX) llm__gw_kv(w, llm_gguf_kv_u32(llm__gw_key(w, key), (uint32_t)v));
}

static void llm__gw_f32(llm__gw *w, const char *key, double v) { llm__gw_kv(w, llm_gguf_kv_f32(llm__gw_key(w, key), (float)v)); }

/* Gemma 2/3 layers that slide: llama.cpp assumes every other layer (Gemma 2) or all but
   every 6th (Gemma 3); another pattern (config.json's layer_types) is written per layer as
   <arch>.attention.sliding_window_pattern, bools (llama.cpp's key for it). */
static void llm__gguf_sliding_pattern(llm__gw *w, const llm__hparams *hp) {
    int version = !strcmp(w->arch, "gemma2") ? 2 : !strcmp(w->arch, "gemma3") ? 3 : 0;
    bool same = true;
    for (int64_t il = 0; il < hp->n_layers && version && hp->sliding_window > 0; il++)
        same &= !hp->layer_sliding[il] == !(version == 2 ? il % 2 == 0 : (il + 1) % 6 != 0);
    if (same) return;
    uint8_t *b = (uint8_t *)llm__gw_own(w, malloc((size_t)hp->n_layers + 1));
    for (int64_t il = 0; b && il < hp->n_layers; il++) b[il] = hp->layer_sliding[il] != 0;
    if (b) llm__gw_kv(w, llm_gguf_kv_arr(llm__gw_key(w, "attention.sliding_window_pattern"), LLM_GGUF_BOOL, hp->n_layers, b));
}

static void llm__gguf_write_hparams(llm__gw *w, const llm__hparams *hp) {
    llm__gw_u32(w, "vocab_size", hp->n_vocab);
    llm__gw_u32(w, "context_length", hp->n_ctx_train);
    llm__gw_u32(w, "embedding_length", hp->n_embd);
    llm__gw_u32(w, "block_count", hp->n_layers);
    llm__gw_u32(w, "feed_forward_length", hp->n_ff);
    llm__gw_u32(w, "attention.head_count", hp->n_heads);
    llm__gw_u32(w, "attention.head_count_kv", hp->n_kv_heads);
    llm__gw_u32(w, "attention.key_length", hp->head_dim);
    llm__gw_u32(w, "attention.value_length", hp->head_dim);
    llm__gw_u32(w, "rope.dimension_count", hp->n_rot);
    llm__gw_f32(w, "rope.freq_base", hp->rope.theta);
    llm__gw_f32(w, "attention.layer_norm_rms_epsilon", hp->norm_eps);
    if (hp->n_experts) {
        llm__gw_u32(w, "expert_count", hp->n_experts);
        llm__gw_u32(w, "expert_used_count", hp->n_experts_used);
        llm__gw_u32(w, "expert_feed_forward_length", hp->n_ff_expert);
        if (hp->n_ff_shared) llm__gw_u32(w, "expert_shared_feed_forward_length", hp->n_ff_shared);
    }
    llm__gw_u32(w, "attention.sliding_window", hp->sliding_window);
    if (!strcmp(w->arch, "phi3") && hp->sliding_window <= 0)      /* llama.cpp needs the key: 0 is none (Phi-4) */
        llm__gw_kv(w, llm_gguf_kv_u32(llm__gw_key(w, "attention.sliding_window"), 0));
    llm__gguf_sliding_pattern(w, hp);
    if (hp->attn_softcap) llm__gw_f32(w, "attn_logit_softcapping", hp->attn_softcap);
    if (hp->final_softcap) llm__gw_f32(w, "final_logit_softcapping", hp->final_softcap);
    if (hp->rope.type == LLM__ROPE_LINEAR || hp->rope.type == LLM__ROPE_YARN) {
        llm__gw_kv(w, llm_gguf_kv_str(llm__gw_key(w, "rope.scaling.type"), hp->rope.type == LLM__ROPE_LINEAR ? "linear" : "yarn"));
        llm__gw_f32(w, "rope.scaling.factor", hp->rope.factor);
        llm__gw_u32(w, "rope.scaling.original_context_length", (int64_t)hp->rope.orig_ctx);
    }
}

/* llama.cpp's llama_ftype of a file whose matrices are mostly `dt` */
static uint32_t llm__gguf_ftype(llm_dtype dt) {
    static const struct { llm_dtype dt; uint32_t ftype; } map[] = {
        { LLM_DTYPE_F32, 0 }, { LLM_DTYPE_F16, 1 }, { LLM_DTYPE_Q4_0, 2 }, { LLM_DTYPE_Q4_1, 3 }, { LLM_DTYPE_Q8_0, 7 },
        { LLM_DTYPE_Q5_0, 8 }, { LLM_DTYPE_Q5_1, 9 }, { LLM_DTYPE_Q2_K, 10 }, { LLM_DTYPE_Q3_K, 11 }, { LLM_DTYPE_Q4_K, 14 },
        { LLM_DTYPE_Q5_K, 16 }, { LLM_DTYPE_Q6_K, 18 }, { LLM_DTYPE_BF16, 32 },
    };
    for (int i = 0; i < LLM__COUNT(map); i++) if (map[i].dt == dt) return map[i].ftype;
    return UINT32_MAX;
}

/* The file type of p: a llama-quantize one by name (gguf_mix), or gguf_type for every
   matrix (no bumps); false when p names neither. */
static bool llm__gguf_mix_of(const llm_convert_params *p, llm__gguf_mix *out) {
    const llm__gguf_mix *m = llm__gguf_mix_find(p->gguf_mix);
    if (p->gguf_mix) return m ? (*out = *m, true) : false;
    *out = (llm__gguf_mix){ .name = "", .ftype = llm__gguf_ftype(p->gguf_type), .base = p->gguf_type };
    return (unsigned)p->gguf_type < LLM_DTYPE_COUNT && p->gguf_type != LLM_DTYPE_F64 && out->ftype != UINT32_MAX;
}

/* general.file_type as llama-quantize writes it, and the quantization version with blocks */
static void llm__gguf_file_type(llm__gw *w, const llm__gguf_mix *m) {
    llm__gw_kv(w, llm_gguf_kv_u32("general.file_type", m->ftype));
    if (!llm__is_float(m->base)) llm__gw_kv(w, llm_gguf_kv_u32("general.quantization_version", 2));
}

static void llm__gguf_general(llm__gw *w, const char *src_dir, const llm__gguf_mix *m) {
    const char *slash = strrchr(src_dir, '/'), *name = slash && slash[1] ? slash + 1 : src_dir;
    llm__gw_kv(w, llm_gguf_kv_str("general.architecture", w->arch));
    llm__gw_kv(w, llm_gguf_kv_str("general.name", llm__gw_str(w, "%s", name)));
    llm__gguf_file_type(w, m);
}

/* ---- the tokenizer: tokenizer.json (+ tokenizer_config.json) -> tokenizer.ggml.* ----
   Two kinds, as convert_hf_to_gguf.py chooses them:
   - "gpt2": byte-level BPE (Llama 3, Qwen, SmolLM): tokens, types, merges "a b" in rank
     order, and the pre-tokenizer by name (llama.cpp knows each by its regexes).
   - "llama": SentencePiece BPE with byte fallback (Llama 2, Mistral, Gemma): tokens, types
     and scores: a piece's score is minus the rank of the first merge that makes it, so
     the highest-scoring pair (SentencePiece's rule) is the lowest-ranked merge (HF's);
     pieces no merge makes rank after all merges. Byte pieces <0xXX> are type 6.
   Ids without a piece (the model's vocabulary can be larger) are "[PADn]", type unused.
   Token types: 1 normal, 2 unknown, 3 control (special added tokens), 4 user-defined
   (other added tokens), 5 unused, 6 byte. */
enum { LLM__TT_NORMAL = 1, LLM__TT_UNKNOWN, LLM__TT_CONTROL, LLM__TT_USER, LLM__TT_UNUSED, LLM__TT_BYTE };

typedef struct llm__ggv {
    const cJSON *tok, *tcfg;     /* tokenizer.json, tokenizer_config.json (or NULL) */
    bool spm;
    int64_t n;
    llm_gguf_str *pieces;
    int32_t *types;
    llm_gguf_str *merges;        /* "a b" in rank order */
    int64_t n_merges;
} llm__ggv;

static bool llm__ggv_put(llm__ggv *v, int64_t id, const char *s, int32_t type) {
    if (id < 0 || id >= v->n || !s) return false;
    v->pieces[id] = (llm_gguf_str){ s, strlen(s) };
    v->types[id] = type;
    return true;
}

static llm_status llm__ggv_tokens(llm__gw *w, llm__ggv *v, int64_t n_model, const char *path) {
    const cJSON *vocab = llm__json_get(llm__json_get(v->tok, "model"), "vocab"), *added = llm__json_get(v->tok, "added_tokens");
    v->n = n_model;
    for (const cJSON *e = cJSON_IsObject(vocab) ? vocab->child : NULL; e; e = e->next) v->n = LLM__MAX(v->n, (int64_t)e->valuedouble + 1);
    for (const cJSON *e = cJSON_IsArray(added) ? added->child : NULL; e; e = e->next) v->n = LLM__MAX(v->n, llm__json_int(e, "id", 0) + 1);
    if (!cJSON_IsObject(vocab) || v->n > LLM_MAX_VOCAB) return llm__fail(LLM_ERR_FORMAT, "%s: model.vocab is missing or too large", path);
    v->pieces = (llm_gguf_str *)llm__gw_own(w, calloc((size_t)v->n, sizeof *v->pieces));
    v->types = (int32_t *)llm__gw_own(w, calloc((size_t)v->n, sizeof *v->types));
    if (!v->pieces || !v->types) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (const cJSON *e = vocab->child; e; e = e->next) {
        bool byte = v->spm && strlen(e->string) == 6 && !strncmp(e->string, "<0x", 3) && e->string[5] == '>';
        if (!cJSON_IsNumber(e) || !llm__ggv_put(v, (int64_t)e->valuedouble, e->string, byte ? LLM__TT_BYTE : LLM__TT_NORMAL))
            return llm__fail(LLM_ERR_FORMAT, "%s: model.vocab entry '%.100s' has no valid id", path, e->string);
    }
    for (const cJSON *e = cJSON_IsArray(added) ? added->child : NULL; e; e = e->next)
        if (!llm__ggv_put(v, llm__json_int(e, "id", -1), llm__json_str(e, "content", NULL), llm__json_bool(e, "special", false) ? LLM__TT_CONTROL : LLM__TT_USER))
            return llm__fail(LLM_ERR_FORMAT, "%s: an added token has no valid id or content", path);
    for (int64_t i = 0; i < v->n; i++)
        if (!v->pieces[i].str) llm__ggv_put(v, i, llm__gw_str(w, "[PAD%lld]", (long long)i), LLM__TT_UNUSED);
    llm__gw_kv(w, llm_gguf_kv_arr("tokenizer.ggml.tokens", LLM_GGUF_STRING, v->n, v->pieces));
    llm__gw_kv(w, llm_gguf_kv_arr("tokenizer.ggml.token_type", LLM_GGUF_I32, v->n, v->types));
    return w->oom ? llm__fail(LLM_ERR_NOMEM, "out of memory") : LLM_OK;
}

/* merges as "a b" strings (tokenizer.json has them so, or as pairs) into v */
static llm_status llm__ggv_merges(llm__gw *w, llm__ggv *v, const char *path) {
    const cJSON *m = llm__json_get(llm__json_get(v->tok, "model"), "merges");
    int64_t n = cJSON_GetArraySize(m), i = 0;
    llm_gguf_str *out = (llm_gguf_str *)llm__gw_own(w, malloc((size_t)n * sizeof *out + 1));
    if (!out) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (const cJSON *e = cJSON_IsArray(m) ? m->child : NULL; e; e = e->next, i++) {
        const char *s = cJSON_IsString(e) ? e->valuestring : NULL;
        if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) && cJSON_IsString(e->child->next))
            s = llm__gw_str(w, "%s %s", e->child->valuestring, e->child->next->valuestring);
        if (!s) return llm__fail(LLM_ERR_FORMAT, "%s: model.merges[%lld] is not a merge", path, (long long)i);
        out[i] = (llm_gguf_str){ s, strlen(s) };
    }
    v->merges = out, v->n_merges = n;
    return LLM_OK;
}

/* The pre-tokenizer's llama.cpp name, from its Split regexes and ByteLevel settings. */
static const char *llm__ggv_pre(const cJSON *pre) {
    static const char *const known[][2] = {
        { "llama-bpe", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" },
        { "qwen2", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" },
    };
    const cJSON *steps = llm__json_get(pre, "pretokenizers");
    const cJSON *first = cJSON_IsArray(steps) ? steps->child : pre;
    const char *type = llm__json_str(first, "type", ""), *re = llm__json_str(llm__json_get(first, "pattern"), "Regex", "");
    for (int i = 0; i < LLM__COUNT(known); i++) if (!strcmp(type, "Split") && !strcmp(re, known[i][1])) return known[i][0];
    if (!strcmp(type, "ByteLevel") && llm__json_bool(first, "use_regex", true)) return "gpt-2";
    if (!strcmp(type, "Digits") && llm__json_bool(first, "individual_digits", false)) return "smollm";
    return NULL;
}

/* A special token named in tokenizer_config.json (a string or {"content": ...}) -> its id. */
static int64_t llm__ggv_special(const llm__ggv *v, const char *key) {
    const cJSON *e = llm__json_get(v->tcfg, key);
    const char *s = cJSON_IsString(e) ? e->valuestring : llm__json_str(e, "content", NULL);
    for (int64_t i = 0; s && i < v->n; i++) if (!strcmp(v->pieces[i].str, s)) return i;
    return -1;
}

/* Whether the post-processor puts a special token first (TemplateProcessing "single"). */
static bool llm__ggv_adds_bos(const cJSON *post) {
    const cJSON *steps = llm__json_get(post, "processors");
    for (const cJSON *p = cJSON_IsArray(steps) ? steps->child : post; p; p = cJSON_IsArray(steps) ? p->next : NULL) {
        const cJSON *single = llm__json_get(p, "single");
        if (cJSON_IsArray(single) && single->child && llm__json_has(single->child, "SpecialToken")) return true;
    }
    return false;
}

/* bos/eos/unk/pad ids, add_bos/add_eos, and the chat template. */
static void llm__ggv_specials(llm__gw *w, const llm__ggv *v, const llm__hparams *hp, const char *src_dir) {
    static const char *const names[][2] = {
        { "bos_token", "tokenizer.ggml.bos_token_id" }, { "eos_token", "tokenizer.ggml.eos_token_id" },
        { "unk_token", "tokenizer.ggml.unknown_token_id" }, { "pad_token", "tokenizer.ggml.padding_token_id" },
    };
    for (int i = 0; i < LLM__COUNT(names); i++) {
        int64_t id = llm__ggv_special(v, names[i][0]);
        if (id < 0 && i == 0) id = hp->bos;                   /* else config.json's */
        if (id < 0 && i == 1 && hp->n_eos) id = hp->eos[0];
        if (id >= 0) llm__gw_kv(w, llm_gguf_kv_u32(names[i][1], (uint32_t)id));
    }
    const cJSON *ab = llm__json_get(v->tcfg, "add_bos_token"), *ae = llm__json_get(v->tcfg, "add_eos_token");
    llm__gw_kv(w, llm_gguf_kv_bool("tokenizer.ggml.add_bos_token", cJSON_IsBool(ab) ? cJSON_IsTrue(ab) : llm__ggv_adds_bos(llm__json_get(v->tok, "post_processor"))));
    if (cJSON_IsBool(ae)) llm__gw_kv(w, llm_gguf_kv_bool("tokenizer.ggml.add_eos_token", cJSON_IsTrue(ae)));
    const cJSON *tpl = llm__json_get(v->tcfg, "chat_template");
    const char *text = cJSON_IsString(tpl) ? tpl->valuestring : NULL;
    for (const cJSON *e = cJSON_IsArray(tpl) ? tpl->child : NULL; e && !text; e = e->next)   /* named templates: the default */
        if (!strcmp(llm__json_str(e, "name", ""), "default")) text = llm__json_str(e, "template", NULL);
    char path[4096], *file = NULL;
    size_t len = 0;
    if (!text && llm__path_join(path, sizeof path, src_dir, "chat_template.jinja") && !access(path, R_OK) && !llm__read_file(NULL, path, &file, &len))
        text = (const char *)llm__gw_own(w, file);
    if (text) llm__gw_kv(w, llm_gguf_kv_str("tokenizer.ggml.chat_template", text));
}

/* The scores of a SentencePiece vocabulary (see above); 0 for special pieces. */
static llm_status llm__ggv_scores(llm__gw *w, const llm__ggv *v) {
    float *scores = (float *)llm__gw_own(w, malloc((size_t)v->n * sizeof *scores));
    llm__strmap ids = { 0 };
    char *buf = NULL;
    size_t cap = 0;
    if (!scores || !llm__strmap_init(&ids, (size_t)v->n)) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < v->n; i++) {
        scores[i] = v->types[i] == LLM__TT_NORMAL ? -(float)(v->n_merges + i) : 0.0f;
        llm__strmap_put(&ids, v->pieces[i].str, (size_t)v->pieces[i].len, (int32_t)i);
    }
    for (int64_t r = 0; r < v->n_merges; r++) {                  /* "a b" -> "ab" */
        const llm_gguf_str *m = &v->merges[r];
        const char *sp = (const char *)memchr(m->str, ' ', (size_t)m->len);
        if (!sp) continue;
        if (cap < m->len) { free(buf); buf = (char *)malloc(cap = (size_t)m->len * 2); }
        if (!buf) { llm__strmap_free(&ids); return llm__fail(LLM_ERR_NOMEM, "out of memory"); }
        size_t na = (size_t)(sp - m->str);
        memcpy(buf, m->str, na);
        memcpy(buf + na, sp + 1, (size_t)m->len - na - 1);
        int32_t id = llm__strmap_get(&ids, buf, (size_t)m->len - 1);
        if (id >= 0 && v->types[id] == LLM__TT_NORMAL && scores[id] < -(float)r) scores[id] = -(float)r;
    }
    free(buf);
    llm__strmap_free(&ids);
    llm__gw_kv(w, llm_gguf_kv_arr("tokenizer.ggml.scores", LLM_GGUF_F32, v->n, scores));
    return LLM_OK;
}

/* The src_dir's tokenizer as metadata; without tokenizer.json only bos/eos from config.json. */
static llm_status llm__gguf_vocab(llm__gw *w, const char *src_dir, const llm__hparams *hp) {
    char path[4096];
    llm__ggv v = { 0 };
    if (!llm__path_join(path, sizeof path, src_dir, "tokenizer.json") || access(path, R_OK)) {
        if (hp->bos >= 0) llm__gw_kv(w, llm_gguf_kv_u32("tokenizer.ggml.bos_token_id", (uint32_t)hp->bos));
        if (hp->n_eos) llm__gw_kv(w, llm_gguf_kv_u32("tokenizer.ggml.eos_token_id", (uint32_t)hp->eos[0]));
        return LLM_OK;
    }
    llm_status s = llm__json_load(path, &w->docs[w->n_docs]);
    if (s) return s;
    v.tok = w->docs[w->n_docs++];
    if (llm__path_join(path, sizeof path, src_dir, "tokenizer_config.json") && !access(path, R_OK)) {
        if ((s = llm__json_load(path, &w->docs[w->n_docs]))) return s;
        v.tcfg = w->docs[w->n_docs++];
    }
    const cJSON *model = llm__json_get(v.tok, "model");
    if (strcmp(llm__json_str(model, "type", ""), "BPE"))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: only BPE tokenizers can be written to GGUF, not '%s'", src_dir, llm__json_str(model, "type", "?"));
    v.spm = llm__json_bool(model, "byte_fallback", false);
    if ((s = llm__ggv_tokens(w, &v, hp->n_vocab, src_dir)) || (s = llm__ggv_merges(w, &v, src_dir))) return s;
    llm__gw_kv(w, llm_gguf_kv_str("tokenizer.ggml.model", v.spm ? "llama" : "gpt2"));
    if (v.spm) {
        const char *norm = cJSON_PrintUnformatted(llm__json_get(v.tok, "normalizer"));
        llm__gw_kv(w, llm_gguf_kv_bool("tokenizer.ggml.add_space_prefix", norm && strstr(norm, "\"Prepend\"")));
        free((void *)norm);
        s = llm__ggv_scores(w, &v);
    } else {
        const char *pre = llm__ggv_pre(llm__json_get(v.tok, "pre_tokenizer"));
        if (!pre) llm__log(LLM_LOG_WARN, "%s: unknown pre-tokenizer, written as llama.cpp's \"default\"", src_dir);
        llm__gw_kv(w, llm_gguf_kv_str("tokenizer.ggml.pre", pre ? pre : "default"));
        llm__gw_kv(w, llm_gguf_kv_arr("tokenizer.ggml.merges", LLM_GGUF_STRING, v.n_merges, v.merges));
    }
    if (!s) llm__ggv_specials(w, &v, hp, src_dir);
    return s;
}

/* ---- GGUF -> GGUF (llama-quantize): the metadata copied, the matrices re-typed ---- */

/* Tensor t (any ggml type) into c's file in the type the rules give it: copied when it has
   that type already, else dequantized and quantized. Names and layouts are llama.cpp's. */
static llm_status llm__gguf_requant(llm__gconv *c, const llm_tensor *t) {
    llm__convert_src shape = { .t = t, .n_dims = t->n_dims ? t->n_dims : 1, .cols = t->n_dims ? t->shape[t->n_dims - 1] : 1 };
    memcpy(shape.shape, t->shape, sizeof shape.shape);
    shape.rows = shape.cols ? llm_tensor_n_elems(t) / shape.cols : 0;
    llm_dtype to = llm__gguf_pick(c, t->name, &shape);
    size_t nb = llm_dtype_n_bytes(to, shape.rows * shape.cols);
    uint8_t *out = (uint8_t *)llm__gw_own(&c->w, malloc(nb + 1));
    float *f = (float *)malloc((size_t)shape.cols * sizeof *f + 1);
    llm_status s = out && f ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "out of memory");
    if (!s && to == t->dtype) memcpy(out, t->data, nb);
    for (int64_t r = 0; !s && to != t->dtype && r < shape.rows; r++) {
        s = llm_dequantize(t->dtype, (const uint8_t *)t->data + llm_dtype_n_bytes(t->dtype, r * shape.cols), f, shape.cols);
        if (!s) s = llm_quantize(to, f, out + llm_dtype_n_bytes(to, r * shape.cols), shape.cols);
    }
    free(f);
    return s ? s : llm__gw_tensor(&c->w, t->name, to, shape.n_dims, shape.shape, out, nb);
}

static llm_status llm__convert_gguf_file(const llm_convert_params *p) {
    llm_gguf *g = NULL;
    llm_status s = llm_gguf_open(p->src, &g);
    if (s) return s;
    llm__gconv c = { .p = p, .path = p->src, .hp = NULL };
    llm__gguf_mix_of(p, &c.mix);
    c.w.arch = "";
    llm_gguf_get_str(g, "general.architecture", &c.w.arch);
    c.tied = !llm_gguf_find_tensor(g, "output.weight");
    int64_t hp[4] = { 0, 0, -1, 0 };                     /* block_count, head_count, head_count_kv, expert_count */
    static const char *const keys[] = { "block_count", "attention.head_count", "attention.head_count_kv", "expert_count" };
    for (int i = 0; i < 4; i++) llm_gguf_get_int(g, llm__gw_key(&c.w, keys[i]), &hp[i]);
    c.dims = llm__gguf_dims_of(c.w.arch, hp[0], hp[1], hp[2] < 0 ? hp[1] : hp[2], hp[3]);
    for (int64_t i = 0; i < llm_gguf_n_kv(g); i++) {
        const llm_gguf_kv *kv = llm_gguf_kv_at(g, i);
        if (strcmp(kv->key, "general.file_type") && strcmp(kv->key, "general.quantization_version")) llm__gw_kv(&c.w, *kv);
    }
    llm__gguf_file_type(&c.w, &c.mix);
    int64_t n = llm_gguf_n_tensors(g);
    for (int64_t i = 0; i < n && !s; i++) {
        s = llm__gguf_requant(&c, llm_gguf_tensor(g, i));
        if (!s && p->progress) p->progress(p->progress_user, i + 1, n);
    }
    if (!s && c.w.oom) s = llm__fail(LLM_ERR_NOMEM, "out of memory");
    if (!s) s = llm_gguf_write(p->gguf, c.w.kv, c.w.n_kv, c.w.t, c.w.n_t);
    llm__gw_free(&c.w);
    llm_gguf_close(g);
    return s;
}

/* ---- the entry point (llm_convert_model with params->gguf) ---- */

static llm_status llm__gguf_check_params(const llm_convert_params *p) {
    llm_dtype t = p->gguf_type;
    llm__gguf_mix m;
    if (!p->src) return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: src is required");
    if (p->gguf_mix && !llm__gguf_mix_find(p->gguf_mix))
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: GGUF file type '%s' is not one of llama-quantize's Q2_K Q3_K_S Q3_K_M Q3_K_L "
                         "Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K", p->gguf_mix);
    if (!llm__gguf_mix_of(p, &m))
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: GGUF type %s is not one llama.cpp stores (f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K q4_K q5_K q6_K)",
                         llm_dtype_get(t) ? llm_dtype_get(t)->name : "?");
    if (llm__is_dir(p->gguf)) return llm__fail(LLM_ERR_INVALID_ARG, "%s: is a directory, not a .gguf path", p->gguf);
    return LLM_OK;
}

static llm_status llm__convert_gguf(const llm_convert_params *p) {
    llm_status s = llm__gguf_check_params(p);
    if (s) return s;
    size_t n = strlen(p->src);
    if (n > 5 && !strcmp(p->src + n - 5, ".gguf")) return llm__convert_gguf_file(p);
    char src_dir[4096], path[4200];
    if (llm__is_dir(p->src)) snprintf(src_dir, sizeof src_dir, "%s", p->src);
    else llm__path_dir(src_dir, sizeof src_dir, p->src);
    llm_model *m = NULL;
    if ((s = llm_model_load(p->src, NULL, &m))) return s;
    llm__gconv c = { .p = p, .path = src_dir, .hp = &m->hp };
    llm__gguf_mix_of(p, &c.mix);
    for (int i = 0; i < LLM__COUNT(llm__gguf_archs_hf); i++)
        if (!strcmp(llm__gguf_archs_hf[i].hf, m->hp.arch)) c.w.arch = llm__gguf_archs_hf[i].gguf, c.permute = llm__gguf_archs_hf[i].permute;
    cJSON *cfg = NULL;
    if (!m->st) s = llm__fail(LLM_ERR_UNSUPPORTED, "%s: only safetensors models can be converted to GGUF", p->src);
    else if (!c.w.arch) s = llm__fail(LLM_ERR_UNSUPPORTED, "%s: model type '%s' cannot be written to GGUF (llama, mistral, mixtral, qwen2, qwen3, qwen2_moe, qwen3_moe, gemma, gemma2, gemma3, phi3)", p->src, m->hp.arch);
    else if (!llm__path_join(path, sizeof path, src_dir, "config.json")) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", src_dir);
    else s = llm__json_load(path, &cfg);
    if (!s) {
        c.tied = !llm_safetensors_find(m->st, "lm_head.weight");
        c.dims = llm__gguf_dims_of(c.w.arch, m->hp.n_layers, m->hp.n_heads, m->hp.n_kv_heads, m->hp.n_experts);
        llm__gguf_general(&c.w, src_dir, &c.mix);
        llm__gguf_write_hparams(&c.w, &m->hp);
        s = llm__gguf_vocab(&c.w, src_dir, &m->hp);
    }
    if (!s) s = llm__gguf_tensors(&c, m->st, cfg);
    if (!s && c.w.oom) s = llm__fail(LLM_ERR_NOMEM, "out of memory");
    if (!s) s = llm_gguf_write(p->gguf, c.w.kv, c.w.n_kv, c.w.t, c.w.n_t);
    cJSON_Delete(cfg);
    llm__gw_free(&c.w);
    llm_model_free(m);
    return s;
}
#endif
/* ==== end llm_impl/72_convert_gguf_meta.c ==== */
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
