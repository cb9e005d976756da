/* sampler: each logits processor against transformers' outputs (fixtures/sampling),
   the RNG and the llm_sampler chain (determinism, distribution, XTC, penalties, edge
   cases), and the fast selection paths against a brute-force sort on a 128k vocabulary. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

#define V 512   /* the fixture's vocabulary */

/* Same -inf set and every finite value within 1e-6. */
static void check_row(const float *got, const float *want, int64_t n, const char *what, int row) {
    int64_t bad_inf = 0;
    double diff = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isinf(got[i]) != isinf(want[i]) || isnan(got[i])) bad_inf++;
        else if (!isinf(want[i])) diff = fmax(diff, fabs((double)got[i] - want[i]));
    }
    if (bad_inf || diff > 1e-6) printf("  %s row %d: %lld -inf mismatches, max diff %g\n", what, row, (long long)bad_inf, diff);
    CHECK_EQ_INT(bad_inf, 0);
    CHECK(diff <= 1e-6);
}

static const float *find_f32(llm_safetensors *st, const char *name) {
    const llm_tensor *t = llm_safetensors_find(st, name);
    CHECK(t && t->dtype == LLM_DTYPE_F32 && t->n_dims == 2 && t->shape[0] == 4 && t->shape[1] == V);
    return t && t->dtype == LLM_DTYPE_F32 ? (const float *)t->data : NULL;
}

/* transformers' processors, one at a time and chained in its own order. */
static void test_fixture(void) {
    llm_safetensors *st = NULL;
    CHECK_OK(llm_safetensors_open(fixture("sampling/ref.safetensors"), &st));
    if (!st) return;
    const float *logits = find_f32(st, "logits");
    const llm_tensor *ctx_t = llm_safetensors_find(st, "context_ids");
    CHECK(ctx_t && ctx_t->dtype == LLM_DTYPE_I32 && ctx_t->shape[1] == 30);
    const float *want_temp = find_f32(st, "out.temp_0.7"), *want_topk = find_f32(st, "out.topk_20"),
                *want_topp = find_f32(st, "out.topp_0.9"), *want_minp = find_f32(st, "out.minp_0.05"),
                *want_rep = find_f32(st, "out.reppen_1.3"),
                *want_combo = find_f32(st, "out.combo_rep1.1_temp0.8_topk50_topp0.95_minp0.02");
    if (!logits || !ctx_t || !want_temp || !want_topk || !want_topp || !want_minp || !want_rep || !want_combo) {
        llm_safetensors_close(st);
        return;
    }
    for (int r = 0; r < 4; r++) {
        const float *row = logits + r * V;
        const llm_token *ctx = (const llm_token *)ctx_t->data + r * 30;
        float x[V];
        memcpy(x, row, sizeof x); llm_logits_temperature(x, V, 0.7f);              check_row(x, want_temp + r * V, V, "temp", r);
        memcpy(x, row, sizeof x); CHECK_OK(llm_logits_top_k(x, V, 20, 1));         check_row(x, want_topk + r * V, V, "top_k", r);
        memcpy(x, row, sizeof x); CHECK_OK(llm_logits_top_p(x, V, 0.9f, 1));       check_row(x, want_topp + r * V, V, "top_p", r);
        memcpy(x, row, sizeof x); CHECK_OK(llm_logits_min_p(x, V, 0.05f, 1));      check_row(x, want_minp + r * V, V, "min_p", r);
        memcpy(x, row, sizeof x); CHECK_OK(llm_logits_repetition_penalty(x, V, ctx, 30, 1.3f));
        check_row(x, want_rep + r * V, V, "repetition", r);
        memcpy(x, row, sizeof x);
        CHECK_OK(llm_logits_repetition_penalty(x, V, ctx, 30, 1.1f));
        llm_logits_temperature(x, V, 0.8f);
        CHECK_OK(llm_logits_top_k(x, V, 50, 1));
        CHECK_OK(llm_logits_top_p(x, V, 0.95f, 1));
        CHECK_OK(llm_logits_min_p(x, V, 0.02f, 1));
        check_row(x, want_combo + r * V, V, "combo", r);
    }
    llm_safetensors_close(st);
}

/* ---- llm_sampler ---- */

static llm_sampler *make(const llm_sampler_params *p, int64_t n) {
    llm_sampler *s = NULL;
    CHECK_OK(llm_sampler_create(p, n, NULL, &s));
    return s;
}

/* Sample n_tok tokens from a fixed pseudo-random logits stream, accepting each. */
static void run_seq(const llm_sampler_params *p, llm_token *out, int n_tok) {
    enum { N = 2000 };
    static float x[N];
    llm_sampler *s = make(p, N);
    if (!s) return;
    llm_rng g;
    llm_rng_seed(&g, 7);
    for (int t = 0; t < n_tok; t++) {
        for (int i = 0; i < N; i++) x[i] = (float)(llm_rng_uniform(&g) * 8.0);
        CHECK_OK(llm_sampler_sample(s, x, N, &out[t], NULL, NULL));
        CHECK_OK(llm_sampler_accept(s, out[t]));
    }
    llm_sampler_destroy(s);
}

static void test_seed(void) {
    llm_sampler_params p = llm_sampler_default_params();
    p.temperature = 1.0f; p.top_p = 0.95f; p.min_p = 0.01f; p.top_k = 200;
    p.repetition_penalty = 1.2f; p.xtc_probability = 0.5f; p.seed = 42;
    llm_token a[100], b[100], c[100];
    run_seq(&p, a, 100);
    run_seq(&p, b, 100);
    p.seed = 43;
    run_seq(&p, c, 100);
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < 100; i++) { same_ab += a[i] == b[i]; same_ac += a[i] == c[i]; }
    CHECK_EQ_INT(same_ab, 100);
    CHECK(same_ac < 20);                       /* ~200 candidates per step: chance agreement is rare */
    /* reset forgets the history and replays the random stream */
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = (float)(i % 7);
    llm_sampler *s = make(&p, 64);
    if (!s) return;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 50; i++) {
            CHECK_OK(llm_sampler_sample(s, x, 64, &c[i], NULL, NULL));
            CHECK_OK(llm_sampler_accept(s, c[i]));
            if (round == 1) CHECK_EQ_INT(c[i], a[i]);
            else a[i] = c[i];
        }
        llm_sampler_reset(s);
    }
    llm_sampler_destroy(s);
}

/* Frequencies of N = 20000 draws match softmax(x / T) within 4.5 sigma per token
   (deterministic given the seed, so this never flakes). */
static void check_distribution(float temperature) {
    enum { K = 11, N = 20000 };                /* one block of 8 lanes and a tail */
    const float x[K] = { 1.0f, 2.0f, 0.5f, -1.0f, 2.0f, 0.0f, -INFINITY, 1.5f, -0.5f, 2.5f, -INFINITY };
    llm_sampler_params p = llm_sampler_default_params();
    p.temperature = temperature; p.seed = 1234;
    llm_sampler *s = make(&p, K);
    if (!s) return;
    int hits[K] = { 0 };
    for (int i = 0; i < N; i++) {
        llm_token t = -1;
        CHECK_OK(llm_sampler_sample(s, x, K, &t, NULL, NULL));
        if (t >= 0 && t < K) hits[t]++;
    }
    double z = 0, prob[K];
    for (int i = 0; i < K; i++) z += exp(x[i] / temperature);
    for (int i = 0; i < K; i++) {
        prob[i] = exp(x[i] / temperature) / z;
        double sigma = sqrt(prob[i] * (1 - prob[i]) / N), f = (double)hits[i] / N;
        if (fabs(f - prob[i]) > 4.5 * sigma) printf("  T=%g token %d: freq %.4f, softmax %.4f\n", temperature, i, f, prob[i]);
        CHECK(fabs(f - prob[i]) <= 4.5 * sigma);
    }
    llm_sampler_destroy(s);
}

static void test_distribution(void) {
    check_distribution(1.0f);
    check_distribution(0.5f);
}

/* Greedy: argmax of the processed logits, ties to the lowest id; logprob and top-N from
   log_softmax of the processed logits, sorted. */
static void test_greedy_logprobs(void) {
    const float x[5] = { 0.5f, 3.0f, -2.0f, 3.0f, 1.0f };
    llm_sampler_params p = { 0 };              /* zero = greedy, nothing else */
    p.n_logprobs = 7;                          /* more than V: only 5 are filled */
    llm_sampler *s = make(&p, 5);
    if (!s) return;
    llm_token t = -1;
    float lp = 0;
    llm_token_logprob top[7];
    memset(top, 0xff, sizeof top);
    CHECK_OK(llm_sampler_sample(s, x, 5, &t, &lp, top));
    double lse = 0;
    for (int i = 0; i < 5; i++) lse += exp(x[i]);
    lse = log(lse);
    CHECK_EQ_INT(t, 1);
    CHECK_NEAR(lp, 3.0 - lse, 1e-6);
    const int order[5] = { 1, 3, 4, 0, 2 };
    for (int j = 0; j < 5; j++) {
        CHECK_EQ_INT(top[j].token, order[j]);
        CHECK_NEAR(top[j].logprob, x[order[j]] - lse, 1e-6);
    }
    CHECK_EQ_INT(top[5].token, -1);            /* untouched */
    llm_sampler_destroy(s);
}

/* Probabilities 0.4, 0.3, 0.2, 0.05, 0.05 as logits. */
static void xtc_row(float *x) {
    const double pr[5] = { 0.4, 0.3, 0.2, 0.05, 0.05 };
    for (int i = 0; i < 5; i++) x[i] = (float)log(pr[i]);
}

static int count_inf(const float *x, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += isinf(x[i]) && x[i] < 0;
    return k;
}

static void test_xtc(void) {
    float x[5], y[5];
    xtc_row(x); memcpy(y, x, sizeof x);
    CHECK_OK(llm_logits_xtc(x, 5, 0.1f, NULL, 0)); /* 0, 1, 2 are above: all but the least (2) go */
    CHECK(isinf(x[0]) && isinf(x[1]) && x[2] == y[2] && x[3] == y[3] && x[4] == y[4]);
    const llm_token prot[2] = { 0, 99 };
    xtc_row(x);
    CHECK_OK(llm_logits_xtc(x, 5, 0.1f, prot, 2)); /* protected ids stay */
    CHECK(x[0] == y[0] && isinf(x[1]) && x[2] == y[2]);
    xtc_row(x);
    CHECK_OK(llm_logits_xtc(x, 5, 0.45f, NULL, 0)); /* threshold above the max probability */
    CHECK_EQ_INT(count_inf(x, 5), 0);
    CHECK_OK(llm_logits_xtc(x, 5, 0.35f, NULL, 0)); /* one token above: it is the least, stays */
    CHECK_EQ_INT(count_inf(x, 5), 0);

    /* the chain: probability 1 always excludes, 0 never (and draws no random number) */
    llm_sampler_params p = llm_sampler_default_params();
    p.temperature = 1; p.seed = 5; p.xtc_threshold = 0.1f; p.xtc_probability = 1;
    p.xtc_protected = prot; p.n_xtc_protected = 1;
    llm_sampler *s1 = make(&p, 5);
    p.xtc_probability = 0;
    llm_sampler *s0 = make(&p, 5);
    p.xtc_probability = 0.5f;
    llm_sampler *sh = make(&p, 5);
    p.n_xtc_protected = 0; p.xtc_probability = 0;
    llm_sampler *plain = make(&p, 5);
    if (!s1 || !s0 || !sh || !plain) return;
    int hits1[5] = { 0 }, hitsh[5] = { 0 }, differ = 0;
    xtc_row(x);
    for (int i = 0; i < 2000; i++) {
        llm_token a, b, c, d;
        CHECK_OK(llm_sampler_sample(s1, x, 5, &a, NULL, NULL));
        CHECK_OK(llm_sampler_sample(s0, x, 5, &b, NULL, NULL));
        CHECK_OK(llm_sampler_sample(plain, x, 5, &c, NULL, NULL));
        CHECK_OK(llm_sampler_sample(sh, x, 5, &d, NULL, NULL));
        hits1[a]++; hitsh[d]++;
        differ += b != c;
    }
    CHECK_EQ_INT(hits1[1], 0);                 /* removed every time */
    CHECK(hits1[0] > 0 && hits1[2] > 0);       /* protected 0 and the least-above 2 remain */
    CHECK_EQ_INT(differ, 0);                   /* probability 0 == no XTC */
    CHECK(hitsh[1] > 100 && hitsh[1] < 500);   /* half the time: ~0.5 * 0.3 * 2000 = 300 */
    llm_sampler_destroy(s1); llm_sampler_destroy(s0); llm_sampler_destroy(sh); llm_sampler_destroy(plain);
}

static void test_penalty_functions(void) {
    const llm_token ctx[6] = { 3, 3, 3, 4, -1, 1000 };    /* out-of-range ids are ignored */
    float x[6] = { 1, 1, 1, 2.0f, -2.0f, 0 }, y[6];
    memcpy(y, x, sizeof x);
    CHECK_OK(llm_logits_repetition_penalty(y, 6, ctx, 6, 2.0f));
    CHECK(y[3] == 1.0f && y[4] == -4.0f && y[0] == 1 && y[5] == 0);   /* once per token, sign-aware */
    memcpy(y, x, sizeof x);
    CHECK_OK(llm_logits_presence_penalty(y, 6, ctx, 6, 0.5f));
    CHECK(y[3] == 1.5f && y[4] == -2.5f && y[0] == 1);
    memcpy(y, x, sizeof x);
    CHECK_OK(llm_logits_frequency_penalty(y, 6, ctx, 6, 0.25f));
    CHECK(y[3] == 1.25f && y[4] == -2.25f && y[0] == 1);
    const llm_logit_bias b[4] = { { 0, 1.0f }, { 0, 0.5f }, { 5, -INFINITY }, { 6, 3.0f } };
    memcpy(y, x, sizeof x);
    llm_logits_bias(y, 6, b, 4);
    CHECK(y[0] == 2.5f && isinf(y[5]) && y[1] == 1);
}

/* Greedy pick after a history of n_five 5s then n_after 7s: token 5 (2.0) beats
   6 (1.9) unless penalised. */
static llm_token pick_after(llm_sampler_params p, int n_five, int n_after) {
    float x[8] = { 0, 0, 0, 0, 0, 2.0f, 1.9f, 0 };
    llm_sampler *s = make(&p, 8);
    llm_token t = -1;
    if (!s) return t;
    for (int i = 0; i < n_five; i++) CHECK_OK(llm_sampler_accept(s, 5));
    for (int i = 0; i < n_after; i++) CHECK_OK(llm_sampler_accept(s, 7));
    CHECK_OK(llm_sampler_sample(s, x, 8, &t, NULL, NULL));
    llm_sampler_destroy(s);
    return t;
}

static void test_penalty_windows(void) {
    llm_sampler_params p = llm_sampler_default_params();
    p.repetition_penalty = 1.5f;               /* context 20 */
    CHECK_EQ_INT(pick_after(p, 1, 19), 6);        /* 5 is inside the last 20 */
    CHECK_EQ_INT(pick_after(p, 1, 20), 5);        /* ... and now outside */
    CHECK_EQ_INT(pick_after(p, 1, 300), 5);       /* the bounded history slides */
    p.repetition_context_size = 0;             /* whole history: grows past its first buffer */
    CHECK_EQ_INT(pick_after(p, 1, 3000), 6);
    p.repetition_context_size = 1500;          /* a long window: grows, then slides */
    CHECK_EQ_INT(pick_after(p, 1, 1499), 6);
    CHECK_EQ_INT(pick_after(p, 1, 1500), 5);
    CHECK_EQ_INT(pick_after(p, 1, 5000), 5);
    p.repetition_context_size = INT32_MAX;     /* allocates nothing up front */
    CHECK_EQ_INT(pick_after(p, 1, 10), 6);
    p = llm_sampler_default_params();
    p.presence_penalty = 0.2f; p.presence_context_size = 5;
    CHECK_EQ_INT(pick_after(p, 1, 4), 6);
    CHECK_EQ_INT(pick_after(p, 1, 5), 5);
    p = llm_sampler_default_params();
    p.frequency_penalty = 0.06f; p.frequency_context_size = 0;
    CHECK_EQ_INT(pick_after(p, 1, 3), 5);      /* 2.0 - 0.06 > 1.9 */
    CHECK_EQ_INT(pick_after(p, 2, 3), 6);      /* 2.0 - 2 * 0.06 < 1.9 */
}

static void test_min_keep_and_big_k(void) {
    const float x[6] = { 3.0f, 0.0f, 2.5f, -1.0f, 2.0f, 1.0f };
    float y[6];
    memcpy(y, x, sizeof x);
    CHECK_OK(llm_logits_min_p(y, 6, 0.9f, 1));  /* only the max survives ... */
    CHECK_EQ_INT(count_inf(y, 6), 5);
    memcpy(y, x, sizeof x);
    CHECK_OK(llm_logits_min_p(y, 6, 0.9f, 3));  /* ... unless 3 are kept: 0, 2, 4 */
    CHECK(count_inf(y, 6) == 3 && !isinf(y[0]) && !isinf(y[2]) && !isinf(y[4]));
    memcpy(y, x, sizeof x);
    CHECK_OK(llm_logits_top_p(y, 6, 0.01f, 4));
    CHECK(count_inf(y, 6) == 2 && isinf(y[1]) && isinf(y[3]));
    memcpy(y, x, sizeof x);
    CHECK_OK(llm_logits_top_k(y, 6, 2, 3));     /* transformers: k = max(k, min_keep) */
    CHECK_EQ_INT(count_inf(y, 6), 3);
    memcpy(y, x, sizeof x);
    CHECK_OK(llm_logits_top_k(y, 6, 100, 1));   /* k >= V: nothing to do */
    CHECK_OK(llm_logits_top_p(y, 6, 1.0f, 1));
    CHECK_OK(llm_logits_min_p(y, 6, 0.0f, 1));
    CHECK_EQ_INT(count_inf(y, 6), 0);
    const float tie[4] = { 1, 2, 2, 2 };        /* ties at the k-th value: lowest ids */
    memcpy(y, tie, sizeof tie);
    CHECK_OK(llm_logits_top_k(y, 4, 2, 1));
    CHECK(isinf(y[0]) && !isinf(y[1]) && !isinf(y[2]) && isinf(y[3]));

    /* the chain: min-p keeps 3, top_k beyond V is off; only 0, 2, 4 are ever drawn */
    llm_sampler_params p = llm_sampler_default_params();
    p.temperature = 2; p.min_p = 1.0f; p.min_tokens_to_keep = 3; p.top_k = 1000; p.seed = 9;
    llm_sampler *s = make(&p, 6);
    if (!s) return;
    int hits[6] = { 0 };
    for (int i = 0; i < 600; i++) {
        llm_token t;
        CHECK_OK(llm_sampler_sample(s, x, 6, &t, NULL, NULL));
        hits[t]++;
    }
    CHECK(hits[0] > 0 && hits[2] > 0 && hits[4] > 0 && hits[0] + hits[2] + hits[4] == 600);
    llm_sampler_destroy(s);
}

static bool has_nan(const float *x, int n) {
    for (int i = 0; i < n; i++) if (isnan(x[i])) return true;
    return false;
}

/* One finite logit, NaNs, +inf biases, every logit -inf: no NaN ever comes out. */
static void test_degenerate(void) {
    float x[7];
    for (int i = 0; i < 7; i++) x[i] = -INFINITY;
    x[3] = -5.0f;
    llm_sampler_params p = llm_sampler_default_params();
    p.temperature = 0.7f; p.top_p = 0.5f; p.min_p = 0.2f; p.top_k = 2; p.xtc_probability = 1;
    p.repetition_penalty = 1.3f; p.presence_penalty = 0.5f; p.n_logprobs = 3; p.seed = 3;
    llm_sampler *s = make(&p, 7);
    if (!s) return;
    llm_token t = -1;
    float lp = 1;
    llm_token_logprob top[3];
    for (int i = 0; i < 20; i++) {
        CHECK_OK(llm_sampler_sample(s, x, 7, &t, &lp, top));
        CHECK_EQ_INT(t, 3);
        CHECK(lp == 0.0f && top[0].token == 3 && top[0].logprob == 0.0f && isinf(top[1].logprob));
        CHECK_OK(llm_sampler_accept(s, t));
    }
    float y[7];                                 /* the single filters keep it too */
    memcpy(y, x, sizeof y); CHECK_OK(llm_logits_top_p(y, 7, 0.5f, 1)); CHECK(y[3] == -5.0f && !has_nan(y, 7));
    memcpy(y, x, sizeof y); CHECK_OK(llm_logits_min_p(y, 7, 0.5f, 2)); CHECK(y[3] == -5.0f && !has_nan(y, 7));
    memcpy(y, x, sizeof y); CHECK_OK(llm_logits_xtc(y, 7, 0.0f, NULL, 0)); CHECK(y[3] == -5.0f && !has_nan(y, 7));
    memcpy(y, x, sizeof y); CHECK_OK(llm_logits_top_k(y, 7, 3, 1));    CHECK(y[3] == -5.0f && !has_nan(y, 7));
    x[3] = -INFINITY;                           /* nothing left to choose */
    CHECK(llm_sampler_sample(s, x, 7, &t, &lp, top) == LLM_ERR_INVALID_ARG);
    x[1] = NAN; x[2] = 1.0f; x[5] = NAN;        /* NaN counts as -inf */
    for (int i = 0; i < 20; i++) {
        CHECK_OK(llm_sampler_sample(s, x, 7, &t, &lp, top));
        CHECK(t == 2 && lp == 0.0f && !isnan(top[1].logprob) && !isnan(top[2].logprob));
    }
    CHECK(llm_sampler_sample(s, x, 8, &t, &lp, top) == LLM_ERR_INVALID_ARG);   /* row too long */
    llm_sampler_destroy(s);

    const llm_logit_bias force = { 4, INFINITY };   /* +inf: forced */
    p = llm_sampler_default_params();
    p.temperature = 1; p.top_p = 0.9f; p.logit_bias = &force; p.n_logit_bias = 1; p.n_logprobs = 2;
    s = make(&p, 7);
    if (!s) return;
    for (int i = 0; i < 7; i++) x[i] = (float)i;
    CHECK_OK(llm_sampler_sample(s, x, 7, &t, &lp, top));
    CHECK(t == 4 && lp == 0.0f && !isnan(top[1].logprob));
    llm_sampler_destroy(s);
    const llm_logit_bias ban = { 6, -INFINITY };   /* -inf on the argmax: the runner-up */
    p.temperature = 0;
    p.logit_bias = &ban;
    s = make(&p, 7);
    if (!s) return;
    CHECK_OK(llm_sampler_sample(s, x, 7, &t, &lp, top));
    CHECK_EQ_INT(t, 5);
    llm_sampler_destroy(s);

    llm_sampler *bad = NULL;                    /* params are checked */
    p = llm_sampler_default_params();
    p.min_p = 2;
    CHECK(llm_sampler_create(&p, 7, NULL, &bad) == LLM_ERR_INVALID_ARG && bad == NULL);
    CHECK(strstr(llm_last_error(), "min_p") != NULL);
    p.min_p = 0;
    CHECK(llm_sampler_create(&p, 0, NULL, &bad) == LLM_ERR_INVALID_ARG);
    p.temperature = INFINITY;
    CHECK(llm_sampler_create(&p, 7, NULL, &bad) == LLM_ERR_INVALID_ARG);
}

/* mlx-lm's order: the filters see the untempered distribution, XTC comes before top-k. */
static void test_chain_order(void) {
    /* probabilities 0.6, 0.3, 0.1: top_p 0.55 keeps token 0 alone; at temperature 3 the
       tempered distribution (0.43, 0.34, 0.24) would need two tokens */
    const float x[3] = { logf(0.6f), logf(0.3f), logf(0.1f) };
    llm_sampler_params p = llm_sampler_default_params();
    p.temperature = 3; p.top_p = 0.55f; p.seed = 17;
    llm_sampler *s = make(&p, 3);
    int other = 0;
    for (int i = 0; s && i < 500; i++) {
        llm_token t;
        CHECK_OK(llm_sampler_sample(s, x, 3, &t, NULL, NULL));
        other += t != 0;
    }
    CHECK_EQ_INT(other, 0);
    llm_sampler_destroy(s);
    /* XTC (always) then top_k 1: the least likely token above the threshold wins; top_k
       first would have left token 0 alone and XTC nothing to do */
    float y[5];
    xtc_row(y);
    p = llm_sampler_default_params();
    p.temperature = 1; p.xtc_probability = 1; p.xtc_threshold = 0.1f; p.top_k = 1;
    s = make(&p, 5);
    for (int i = 0; s && i < 50; i++) {
        llm_token t;
        float lp;
        CHECK_OK(llm_sampler_sample(s, y, 5, &t, &lp, NULL));
        CHECK_EQ_INT(t, 2);
        CHECK_NEAR(lp, log(0.2), 1e-6);        /* logprob from before the filters */
    }
    llm_sampler_destroy(s);
}

/* The chain against a numpy port of mlx-lm's sample_utils (repetition penalty 1.3 over the
   last 20 context ids -> log_softmax -> top_p 0.8 -> min_p 0.1 -> top_k 10 ->
   softmax(/ 0.8)) on the fixture's logits: the survivors and their tempered probabilities. */
static const struct { int n; int ids[10]; double prob[10]; } mlx_chain[4] = {
    { 10, { 16, 58, 143, 200, 229, 316, 326, 437, 442, 499 },
         { 0.28029, 0.02785, 0.10657, 0.02406, 0.37140, 0.02247, 0.06312, 0.02692, 0.04830, 0.02903 } },
    { 2, { 32, 492 },
         { 0.15891, 0.84109 } },
    { 10, { 8, 88, 119, 133, 181, 183, 272, 350, 467, 470 },
         { 0.04029, 0.09498, 0.07210, 0.41526, 0.03678, 0.08741, 0.08746, 0.05390, 0.05975, 0.05207 } },
    { 5, { 173, 240, 356, 369, 509 },
         { 0.09541, 0.08752, 0.66280, 0.04225, 0.11203 } },
};

static void test_mlx_chain(void) {
    llm_safetensors *st = NULL;
    CHECK_OK(llm_safetensors_open(fixture("sampling/ref.safetensors"), &st));
    if (!st) return;
    const float *logits = find_f32(st, "logits");
    const llm_tensor *ctx_t = llm_safetensors_find(st, "context_ids");
    llm_sampler_params p = llm_sampler_default_params();
    p.temperature = 0.8f; p.top_p = 0.8f; p.min_p = 0.1f; p.top_k = 10;
    p.repetition_penalty = 1.3f; p.seed = 99;
    for (int r = 0; logits && ctx_t && r < 4; r++) {
        enum { N = 4000 };
        llm_sampler *s = make(&p, V);
        if (!s) break;
        for (int j = 0; j < 30; j++) CHECK_OK(llm_sampler_accept(s, ((const llm_token *)ctx_t->data)[r * 30 + j]));
        int hits[V] = { 0 };
        for (int i = 0; i < N; i++) {
            llm_token t = 0;
            CHECK_OK(llm_sampler_sample(s, logits + r * V, V, &t, NULL, NULL));
            hits[t]++;
        }
        int inside = 0;
        for (int j = 0; j < mlx_chain[r].n; j++) {
            double pr = mlx_chain[r].prob[j], f = (double)hits[mlx_chain[r].ids[j]] / N;
            CHECK(fabs(f - pr) <= 4.5 * sqrt(pr * (1 - pr) / N));
            inside += hits[mlx_chain[r].ids[j]];
        }
        CHECK_EQ_INT(inside, N);                 /* nothing outside the survivors */
        llm_sampler_destroy(s);
    }
    llm_safetensors_close(st);
}

/* ---- the fast paths against a full sort, on a Llama 3 sized vocabulary ---- */

#define BIG 128256
static const float *sort_x;
static int cmp_desc(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    if (sort_x[i] != sort_x[j]) return sort_x[i] > sort_x[j] ? -1 : 1;
    return i - j;
}

/* Gaussian-ish logits with spread `scale` (larger = more peaked distribution). */
static void big_logits(float *x, float scale, uint64_t seed) {
    llm_rng g;
    llm_rng_seed(&g, seed);
    for (int i = 0; i < BIG; i++)
        x[i] = scale * (float)(llm_rng_uniform(&g) + llm_rng_uniform(&g) + llm_rng_uniform(&g) - 1.5);
}

/* The number of tokens transformers' rule keeps: ascending cumulative mass > 1 - p. */
static int ref_top_p_count(const float *x, const int *order, float top_p) {
    double z = 0, cum = 0;
    for (int i = 0; i < BIG; i++) z += exp((double)x[order[i]] - x[order[0]]);
    int kept = 0;
    for (int i = BIG - 1; i >= 0; i--) {
        cum += exp((double)x[order[i]] - x[order[0]]) / z;
        kept += cum > 1 - (double)top_p;
    }
    return kept;
}

static void test_big_vocab(void) {
    float *x = (float *)malloc(BIG * sizeof *x), *y = (float *)malloc(BIG * sizeof *y);
    int *order = (int *)malloc(BIG * sizeof *order);
    const float scales[2] = { 20.0f, 0.5f };   /* peaked, and nearly flat (top-p needs ~all) */
    for (int c = 0; c < 2; c++) {
        big_logits(x, scales[c], 11 + c);
        for (int i = 0; i < BIG; i++) order[i] = i;
        sort_x = x;
        qsort(order, BIG, sizeof *order, cmp_desc);
        const int ks[2] = { 40, 50000 };       /* the heap path and the full-sort path */
        for (int j = 0; j < 2; j++) {
            memcpy(y, x, BIG * sizeof *y);
            CHECK_OK(llm_logits_top_k(y, BIG, ks[j], 1));
            CHECK_EQ_INT(BIG - count_inf(y, BIG), ks[j]);
            CHECK(!isinf(y[order[ks[j] - 1]]) && isinf(y[order[ks[j]]]));
        }
        memcpy(y, x, BIG * sizeof *y);
        CHECK_OK(llm_logits_top_p(y, BIG, 0.9f, 1));
        int kept = BIG - count_inf(y, BIG), want = ref_top_p_count(x, order, 0.9f);
        CHECK_EQ_INT(kept, want);
        CHECK(!isinf(y[order[want - 1]]));
        llm_sampler_params p = llm_sampler_default_params();
        p.n_logprobs = 20;
        llm_sampler *s = make(&p, BIG);
        llm_token t;
        llm_token_logprob top[20];
        if (s) CHECK_OK(llm_sampler_sample(s, x, BIG, &t, NULL, top));
        for (int j = 0; s && j < 20; j++) CHECK_EQ_INT(top[j].token, order[j]);
        if (s) CHECK_EQ_INT(t, order[0]);
        llm_sampler_destroy(s);
    }
    free(x); free(y); free(order);
}

int main(void) {
    RUN(test_fixture);
    RUN(test_seed);
    RUN(test_distribution);
    RUN(test_greedy_logprobs);
    RUN(test_xtc);
    RUN(test_penalty_functions);
    RUN(test_penalty_windows);
    RUN(test_min_keep_and_big_k);
    RUN(test_degenerate);
    RUN(test_chain_order);
    RUN(test_mlx_chain);
    RUN(test_big_vocab);
    return TEST_MAIN_END();
}
