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
