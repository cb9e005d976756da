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
