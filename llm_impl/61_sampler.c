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
#include "10_internal.h"
#include "06_api_sample.h"

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
