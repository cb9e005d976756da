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
