/* Generation end to end on karpathy's stories260K, a real pretrained model, against
   llama2.c's own outputs; the loop's stop conditions and streaming; greedy through
   llm_generate on the fixture models equals transformers' greedy ids. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

static llm_model *model;
static llm_tokenizer *tok;

static bool load_stories(void) {
    if (model) return true;
    CHECK_OK(llm_model_load(fixture("models/stories260K/stories260K.bin"), NULL, &model));
    CHECK_OK(llm_tokenizer_load(fixture("models/stories260K/tok512.bin"), &tok));
    return model && tok;
}

/* llama2.c: ./run stories260K.bin -z tok512.bin -t 0.0 -n 200 (from BOS, 200 steps incl. BOS) */
static const char expect_200[] =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red "
    "ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the park.\" Lily was sad and "
    "didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"\nLily was sad and didn't know "
    "what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\nLily didn't want to help her mom, so she";

static char *greedy_text(const llm_token *prompt, int64_t n, int64_t max_tokens, const char *const *stops, int n_stops) {
    llm_session *s = NULL;
    char *text = NULL;
    CHECK_OK(llm_session_create(model, NULL, &s));
    llm_generate_params p = { .max_tokens = max_tokens, .stop_strings = stops, .n_stop_strings = n_stops };
    CHECK_OK(llm_generate_text(s, tok, prompt, n, &p, &text, NULL));
    llm_session_destroy(s);
    return text;
}

static void test_stories_from_bos(void) {
    if (!load_stories()) return;
    llm_token bos = 1;
    char *text = greedy_text(&bos, 1, 200, NULL, 0);   /* run.c: -n 200 samples 200 tokens after BOS */
    CHECK_STR(text, expect_200);
    llm_free(text);
}

static void test_stories_prompt(void) {
    if (!load_stories()) return;
    llm_token ids[32];
    int64_t n = 0;
    CHECK_OK(llm_tokenize(tok, "Once upon a time", 16, true, ids, 32, &n));
    /* the probabilities after "Once upon a time" (BOS + 4 tokens) */
    llm_session *s = NULL;
    CHECK_OK(llm_session_create(model, NULL, &s));
    CHECK_OK(llm_session_eval(s, ids, n, NULL));
    const float *l = llm_session_logits(s);
    double m = -1e30, z = 0;
    for (int i = 0; i < 512; i++) m = l[i] > m ? l[i] : m;
    for (int i = 0; i < 512; i++) z += exp(l[i] - m);
    CHECK_EQ_INT(n, 5);
    CHECK_NEAR(exp(l[432] - m) / z, 0.968794408386273, 1e-5);
    CHECK_NEAR(exp(l[383] - m) / z, 0.028729185862016914, 1e-5);
    CHECK_NEAR(exp(l[322] - m) / z, 0.0002970977544748733, 1e-5);
    CHECK_NEAR(exp(l[353] - m) / z, 0.0002628806274529076, 1e-5);
    llm_session_destroy(s);
    /* run stories260K.bin -z tok512.bin -t 0 -n 64 -i "Once upon a time" */
    char *text = greedy_text(ids, n, 64 - (n - 1), NULL, 0);   /* run.c: 64 positions, the first n-1 forced */
    const char *want = ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red "
                       "ball. She wanted to play with it, but it was too high.\nLily";
    CHECK_STR(text, want);
    llm_free(text);
}

static void test_stop_strings(void) {
    if (!load_stories()) return;
    llm_token bos = 1;
    const char *stops[] = { "red ball", "zzz" };
    char *text = greedy_text(&bos, 1, 200, stops, 2);
    const char *want_end = strstr(expect_200, "red ball");
    CHECK(text && strlen(text) == (size_t)(want_end - expect_200) && !strncmp(text, expect_200, strlen(text)));
    llm_free(text);
}

typedef struct { char buf[4096]; size_t n; int calls; int stop_after; } sink;
static bool on_token(const llm_gen_token *t, void *user) {
    sink *k = user;
    memcpy(k->buf + k->n, t->text, t->text_len);
    k->n += t->text_len;
    k->buf[k->n] = 0;
    return ++k->calls != k->stop_after;
}

static void test_streaming_and_callback_stop(void) {
    if (!load_stories()) return;
    llm_session *s = NULL;
    CHECK_OK(llm_session_create(model, NULL, &s));
    llm_token bos = 1;
    sink k = { .stop_after = 10 };
    llm_generate_params p = { .max_tokens = 100, .on_token = on_token, .user = &k };
    llm_generate_result r;
    CHECK_OK(llm_generate(s, tok, &bos, 1, &p, &r));
    CHECK_EQ_INT(r.stop, LLM_STOP_CALLBACK);
    CHECK_EQ_INT(r.n_generated, 10);
    CHECK(!strncmp(k.buf, expect_200, k.n) && k.n > 20);
    /* continuing the same conversation reuses the cache: only the new suffix is evaluated */
    llm_token more[12];
    memcpy(more, llm_session_tokens(s), (size_t)llm_session_n_past(s) * sizeof *more);
    int64_t n = llm_session_n_past(s);
    p.on_token = NULL;
    p.max_tokens = 1;
    CHECK_OK(llm_generate(s, tok, more, n, &p, &r));
    CHECK_EQ_INT(r.n_prompt_evaluated, 1);
    llm_session_destroy(s);
}

/* Greedy ids through llm_generate (no tokenizer) equal transformers' on the fixture. */
static void test_fixture_greedy(void) {
    llm_model *m = NULL;
    llm_safetensors *ref = NULL;
    char p[600];
    snprintf(p, sizeof p, "%s/ref.safetensors", fixture("models/dev/qwen3"));
    CHECK_OK(llm_model_load(fixture("models/dev/qwen3"), NULL, &m));
    CHECK_OK(llm_safetensors_open(p, &ref));
    if (!m || !ref) return;
    const llm_tensor *ids = llm_safetensors_find(ref, "input_ids"), *g = llm_safetensors_find(ref, "greedy_ids");
    llm_session *s = NULL;
    CHECK_OK(llm_session_create(m, NULL, &s));
    llm_generate_params gp = { .max_tokens = g->shape[0], .extra_eos = NULL };
    llm_generate_result r;
    CHECK_OK(llm_generate(s, NULL, (const llm_token *)ids->data, ids->shape[0], &gp, &r));
    int64_t base = ids->shape[0];
    const llm_token *have = llm_session_tokens(s);
    for (int64_t i = 0; i + 1 < r.n_generated; i++) CHECK_EQ_INT(have[base + i], ((const int32_t *)g->data)[i]);
    llm_session_destroy(s);
    llm_model_free(m);
    llm_safetensors_close(ref);
}

/* Speculative decoding at temperature 0 is plain greedy decoding, with either drafter. */
static void test_speculative_greedy(void) {
    if (!load_stories()) return;
    llm_token bos = 1;
    llm_session *s = NULL, *d = NULL;
    char *text = NULL;
    CHECK_OK(llm_session_create(model, NULL, &s));
    llm_generate_params p = { .max_tokens = 200, .prompt_lookup = 3, .n_draft = 4 };
    llm_generate_result r;
    CHECK_OK(llm_generate_text(s, tok, &bos, 1, &p, &text, &r));
    CHECK_STR(text, expect_200);
    CHECK(r.n_accepted > 50 && r.n_drafted >= r.n_accepted);     /* the story repeats itself: lookups pay */
    printf("  prompt lookup: %lld of %lld guesses kept\n", (long long)r.n_accepted, (long long)r.n_drafted);
    llm_free(text);
    /* a draft model: the fixture llama drafting for the fixture mistral (same 512 vocabulary) */
    llm_model *target = NULL, *draft = NULL;
    llm_safetensors *ref = NULL;
    char refp[600];
    snprintf(refp, sizeof refp, "%s/ref.safetensors", fixture("models/dev/mistral"));
    CHECK_OK(llm_model_load(fixture("models/dev/mistral"), NULL, &target));
    CHECK_OK(llm_model_load(fixture("models/dev/llama"), NULL, &draft));
    CHECK_OK(llm_safetensors_open(refp, &ref));
    llm_session_destroy(s);
    s = NULL;
    if (!target || !draft || !ref) goto done;
    CHECK_OK(llm_session_create(target, NULL, &s));
    CHECK_OK(llm_session_create(draft, NULL, &d));
    const llm_tensor *ids = llm_safetensors_find(ref, "input_ids"), *g = llm_safetensors_find(ref, "greedy_ids");
    llm_generate_params dp = { .max_tokens = g->shape[0], .draft = d, .n_draft = 3 };
    CHECK_OK(llm_generate(s, NULL, (const llm_token *)ids->data, ids->shape[0], &dp, &r));
    const llm_token *have = llm_session_tokens(s) + ids->shape[0];
    for (int64_t i = 0; i + 1 < r.n_generated; i++) CHECK_EQ_INT(have[i], ((const int32_t *)g->data)[i]);
    CHECK_EQ_INT(r.n_generated, g->shape[0]);
    printf("  draft model: %lld of %lld guesses kept\n", (long long)r.n_accepted, (long long)r.n_drafted);
done:
    llm_session_destroy(s);
    llm_session_destroy(d);
    llm_model_free(target);
    llm_model_free(draft);
    llm_safetensors_close(ref);
}

/* Above temperature 0, rejection sampling keeps the model's distribution. Prompt lookup
   guesses deterministically (q one-hot), so its guesses are often rejected and replaced
   from max(0, p - q): the second generated token, sampled 400 times with and without
   speculation, must have the same distribution (small total variation distance). */
typedef struct { llm_token ids[4]; int n; } two_tokens;
static bool record(const llm_gen_token *t, void *user) {
    two_tokens *k = user;
    if (t->token >= 0 && k->n < 4) k->ids[k->n++] = t->token;
    return true;
}

static void test_speculative_distribution(void) {
    if (!load_stories()) return;
    enum { N = 400 };
    static int counts[2][512];
    llm_token ids[32];
    int64_t n;
    const char *prompt = "Once upon a time, a cat sat. Once upon a time";
    CHECK_OK(llm_tokenize(tok, prompt, strlen(prompt), true, ids, 32, &n));
    llm_session *s = NULL;
    CHECK_OK(llm_session_create(model, NULL, &s));
    memset(counts, 0, sizeof counts);
    int64_t drafted = 0, kept = 0;
    for (int mode = 0; mode < 2; mode++)
        for (int i = 0; i < N; i++) {
            two_tokens k = { .n = 0 };
            llm_generate_params p = { .max_tokens = 2, .sampler = { .temperature = 1.0f, .seed = (uint64_t)i * 7919 + (uint64_t)mode },
                                      .on_token = record, .user = &k, .prompt_lookup = mode ? 3 : 0, .n_draft = 2 };
            llm_generate_result r;
            CHECK_OK(llm_generate(s, NULL, ids, n, &p, &r));
            drafted += r.n_drafted;
            kept += r.n_accepted;
            if (k.n == 2) counts[mode][k.ids[1]]++;
        }
    double tv = 0;
    for (int i = 0; i < 512; i++) tv += fabs((double)counts[0][i] - counts[1][i]) / N;
    tv /= 2;
    printf("  second token: total variation plain vs speculative %.3f (%lld of %lld guesses kept)\n", tv,
           (long long)kept, (long long)drafted);
    CHECK(drafted > N / 2 && kept < drafted);   /* guesses were made and some were rejected */
    CHECK(tv < 0.1);
    llm_session_destroy(s);
}

/* Batched generation: three prompts of different lengths, decoded together, give at
   temperature 0 exactly what each gives alone; sampled runs repeat with the same seeds. */
typedef struct { llm_token ids[64]; int n; } id_sink;
static bool collect_ids(const llm_gen_token *t, void *user) {
    id_sink *k = user;
    if (t->token >= 0 && k->n < 64) k->ids[k->n++] = t->token;
    return true;
}

static void run_batch(llm_session **ss, llm_token (*prompts)[16], const int64_t *np, float temp, id_sink *out) {
    const llm_token *ps[3] = { prompts[0], prompts[1], prompts[2] };
    llm_generate_params gp[3];
    for (int i = 0; i < 3; i++) {
        out[i].n = 0;
        gp[i] = (llm_generate_params){ .max_tokens = 24 + 4 * i, .on_token = collect_ids, .user = &out[i],
                                       .sampler = { .temperature = temp, .seed = 100u + (uint64_t)i } };
        llm_session_rewind(ss[i], 0);
    }
    CHECK_OK(llm_generate_batch(ss, 3, tok, ps, np, gp, NULL));
}

static void test_batch_equals_single(void) {
    if (!load_stories()) return;
    const char *texts[3] = { "Once upon a time", "The little dog", "Lily and Ben went to the park. They" };
    llm_token prompts[3][16];
    int64_t np[3];
    llm_session *ss[3] = { NULL, NULL, NULL };
    for (int i = 0; i < 3; i++) {
        CHECK_OK(llm_tokenize(tok, texts[i], strlen(texts[i]), true, prompts[i], 16, &np[i]));
        llm_session_desc d = { .n_ctx = 128, .n_threads = 2 };
        CHECK_OK(llm_session_create(model, &d, &ss[i]));
    }
    if (!ss[0] || !ss[1] || !ss[2]) return;
    id_sink batch[3], again[3], single;
    run_batch(ss, prompts, np, 0.0f, batch);
    for (int i = 0; i < 3; i++) {
        single.n = 0;
        llm_generate_params gp = { .max_tokens = 24 + 4 * i, .on_token = collect_ids, .user = &single };
        llm_session_rewind(ss[i], 0);
        CHECK_OK(llm_generate(ss[i], tok, prompts[i], np[i], &gp, NULL));
        CHECK_EQ_INT(batch[i].n, single.n);
        CHECK(memcmp(batch[i].ids, single.ids, (size_t)single.n * sizeof(llm_token)) == 0);
    }
    run_batch(ss, prompts, np, 0.9f, batch);
    run_batch(ss, prompts, np, 0.9f, again);
    for (int i = 0; i < 3; i++)
        CHECK(batch[i].n == again[i].n && memcmp(batch[i].ids, again[i].ids, (size_t)batch[i].n * sizeof(llm_token)) == 0);
    for (int i = 0; i < 3; i++) llm_session_destroy(ss[i]);
}

int main(void) {
    RUN(test_stories_from_bos);
    RUN(test_stories_prompt);
    RUN(test_stop_strings);
    RUN(test_streaming_and_callback_stop);
    RUN(test_fixture_greedy);
    RUN(test_speculative_greedy);
    RUN(test_speculative_distribution);
    RUN(test_batch_equals_single);
    llm_tokenizer_free(tok);
    llm_model_free(model);
    return TEST_MAIN_END();
}
