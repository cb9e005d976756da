/* tokenizers: every case of the HF reference fixtures (llama2, llama3, qwen3, gemma3):
   ids, ids with special tokens, decode, round trip, streaming decode, and the rendered chat
   templates (added-token matching); SentencePiece .model and llama2.c .bin against spm_encode
   and run.c. Hostile files are in test_tok_hostile.c. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"
#include <time.h>

/* Load times are checked (a guard against a quadratic loader), except under sanitizers. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Encode text; returns a malloc'd array and its length in *n (NULL on failure). */
static llm_token *encode(const llm_tokenizer *t, const char *text, size_t len, bool special, int64_t *n) {
    if (llm_tokenize(t, text, len, special, NULL, 0, n) != LLM_OK) return NULL;
    llm_token *ids = (llm_token *)malloc((size_t)(*n + 1) * sizeof *ids);
    int64_t n2 = 0;
    if (llm_tokenize(t, text, len, special, ids, *n, &n2) != LLM_OK || n2 != *n) { free(ids); return NULL; }
    return ids;
}

static char *decode(const llm_tokenizer *t, const llm_token *ids, int64_t n, bool skip) {
    int64_t need = llm_detokenize(t, ids, n, skip, NULL, 0);
    char *buf = (char *)malloc((size_t)need + 1);
    int64_t got = llm_detokenize(t, ids, n, skip, buf, need + 1);
    CHECK_EQ_INT(got, need);
    return buf;
}

/* Streaming decode of ids, pieces concatenated; each piece must be whole UTF-8. */
static char *decode_stream(const llm_tokenizer *t, const llm_token *ids, int64_t n, bool skip) {
    llm_detok *d;
    llm__buf all = { 0 };
    const char *piece;
    size_t len;
    llm__buf_put(&all, "", 0);
    CHECK_OK(llm_detok_create(t, skip, &d));
    for (int64_t i = 0; i <= n; i++) {
        CHECK_OK(i < n ? llm_detok_push(d, ids[i], &piece, &len) : llm_detok_flush(d, &piece, &len));
        if (i < n && !llm__utf8_valid(piece, len) && !llm__utf8_valid(all.data, all.len)) CHECK(!"piece splits UTF-8");
        llm__buf_put(&all, piece, len);
    }
    llm_detok_destroy(d);
    return all.data;
}

static bool ids_equal(const llm_token *a, int64_t na, const cJSON *want) {
    if (!a || na != cJSON_GetArraySize(want)) return false;
    int64_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, want) if (a[i++] != (llm_token)v->valuedouble) return false;
    return true;
}

static void print_ids(const char *what, const llm_token *a, int64_t n, const cJSON *want) {
    printf("    %s: got", what);
    for (int64_t i = 0; a && i < n && i < 40; i++) printf(" %d", a[i]);
    printf("\n    want");
    const cJSON *v;
    int k = 0;
    cJSON_ArrayForEach(v, want) if (k++ < 40) printf(" %d", (int)v->valuedouble);
    printf("\n");
}

/* One case: ids, ids with specials, decode, round trip, streaming. */
static void check_case(const llm_tokenizer *t, const cJSON *c, bool lossless) {
    const char *text = llm__json_str(c, "text", ""), *decoded = llm__json_str(c, "decoded", "");
    int64_t n, ns;
    llm_token *ids = encode(t, text, strlen(text), false, &n), *ids_s = encode(t, text, strlen(text), true, &ns);
    bool ok_ids = ids_equal(ids, n, llm__json_get(c, "ids")), ok_s = ids_equal(ids_s, ns, llm__json_get(c, "ids_with_special"));
    CHECK(ok_ids);
    CHECK(ok_s);
    if (!ok_ids || !ok_s) {
        printf("    text: \"%s\"\n", text);
        if (!ok_ids) print_ids("ids", ids, n, llm__json_get(c, "ids"));
        if (!ok_s) print_ids("ids_with_special", ids_s, ns, llm__json_get(c, "ids_with_special"));
    }
    /* decode HF's ids (so a wrong encoding does not hide a decoding bug) */
    int64_t nw = cJSON_GetArraySize(llm__json_get(c, "ids")), k = 0;
    llm_token *want = (llm_token *)malloc((size_t)(nw + 1) * sizeof *want);
    const cJSON *v;
    cJSON_ArrayForEach(v, llm__json_get(c, "ids")) want[k++] = (llm_token)v->valuedouble;
    char *dec = decode(t, want, nw, false);
    CHECK_STR(dec, decoded);
    if (lossless || !strcmp(decoded, text)) {
        char *rt = decode(t, ids, n, false);
        CHECK_STR(rt, text);
        free(rt);
    }
    char *st = decode_stream(t, want, nw, false);
    CHECK_STR(st, dec);
    char *st2 = decode_stream(t, ids_s, ns, true), *full2 = decode(t, ids_s, ns, true);
    CHECK_STR(st2, full2);
    free(st); free(st2); free(full2); free(dec); free(want); free(ids); free(ids_s);
}

/* Streaming equals whole decoding also for arbitrary id sequences: random ids (biased to
   byte tokens and special tokens) make cut UTF-8, stray bytes and U+FFFD at every place. */
static void check_stream_random(const llm_tokenizer *t) {
    uint32_t x = 2024;
    int64_t n_vocab = llm_tokenizer_n_vocab(t);
    for (int round = 0; round < 300; round++) {
        llm_token ids[24];
        int n = 1 + (int)(round % 24);
        for (int i = 0; i < n; i++) {
            x = x * 1664525u + 1013904223u;
            uint32_t r = x >> 8;
            ids[i] = r % 4 == 0 ? (llm_token)(r / 4 % 300) : (llm_token)(r / 4 % (uint32_t)n_vocab);
        }
        for (int skip = 0; skip < 2; skip++) {
            char *full = decode(t, ids, n, skip), *st = decode_stream(t, ids, n, skip);
            CHECK_STR(st, full);
            free(full);
            free(st);
        }
    }
}

static void check_tokenizer(const char *name, bool lossless, double max_load_s) {
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizers/%s/cases.json", name);
    cJSON *cases = NULL;
    llm_tokenizer *t = NULL;
    CHECK_OK(llm__json_load(fixture(rel), &cases));
    snprintf(rel, sizeof rel, "tokenizers/%s", name);
    double t0 = now_s();
    CHECK_OK(llm_tokenizer_load(fixture(rel), &t));
    double dt = now_s() - t0;
    printf("  %s: loaded in %.3f s, %lld ids\n", name, dt, t ? (long long)llm_tokenizer_n_vocab(t) : 0LL);
    if (!t || !cases) { cJSON_Delete(cases); llm_tokenizer_free(t); return; }
    CHECK(SANITIZED || dt < max_load_s);
    const cJSON *c;
    int n_cases = 0, n_chat = 0;
    cJSON_ArrayForEach(c, llm__json_get(cases, "cases")) { check_case(t, c, lossless); n_cases++; }
    cJSON_ArrayForEach(c, llm__json_get(cases, "chat")) {       /* rendered templates: added-token matching */
        const char *r = llm__json_str(c, "rendered", NULL);
        if (!r || !llm__json_has(c, "ids")) continue;
        int64_t n;
        llm_token *ids = encode(t, r, strlen(r), false, &n);
        bool ok = ids_equal(ids, n, llm__json_get(c, "ids"));
        CHECK(ok);
        if (!ok) print_ids(llm__json_str(c, "name", "chat"), ids, n, llm__json_get(c, "ids"));
        free(ids);
        n_chat++;
    }
    check_stream_random(t);
    printf("  %s: %d cases, %d chat renderings\n", name, n_cases, n_chat);
    cJSON_Delete(cases);
    llm_tokenizer_free(t);
}

static void test_llama3(void) { check_tokenizer("llama3", true, 2.0); }
static void test_llama2(void) { check_tokenizer("llama2", false, 2.0); }
static void test_qwen3(void) { check_tokenizer("qwen3", false, 2.0); }
static void test_gemma3(void) { check_tokenizer("gemma3", false, 5.0); }

int main(void) {
    RUN(test_llama3);
    RUN(test_llama2);
    RUN(test_qwen3);
    RUN(test_gemma3);
    return TEST_MAIN_END();
}
