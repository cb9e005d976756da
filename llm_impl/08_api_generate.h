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
