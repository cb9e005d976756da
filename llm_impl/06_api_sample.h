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
