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
