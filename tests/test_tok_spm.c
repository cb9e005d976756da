/* SentencePiece tokenizer.model and llama2.c tokenizer.bin: the Llama 2 vocabulary against
   Debian's spm_encode, and stories260K's tok512.bin against llama2.c's run.c algorithm. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

static bool encode_matches(const llm_tokenizer *t, const char *text, bool special, const cJSON *want, bool verbose) {
    llm_token ids[1024];
    int64_t n = 0;
    if (llm_tokenize(t, text, strlen(text), special, ids, 1024, &n) != LLM_OK || n > 1024) return false;
    bool ok = n == cJSON_GetArraySize(want);
    int64_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, want) if (ok && ids[i++] != (llm_token)v->valuedouble) ok = false;
    if (!ok && verbose) {
        printf("    \"%s\": got", text);
        for (i = 0; i < n; i++) printf(" %d", ids[i]);
        printf("\n");
    }
    return ok;
}

/* Decode through the streaming detokenizer and check it equals llm_detokenize. */
static void check_stream(const llm_tokenizer *t, const llm_token *ids, int64_t n) {
    char full[4096], all[4096] = "";
    llm_detokenize(t, ids, n, false, full, sizeof full);
    llm_detok *d;
    const char *piece;
    size_t len, at = 0;
    CHECK_OK(llm_detok_create(t, false, &d));
    for (int64_t i = 0; i <= n; i++) {
        CHECK_OK(i < n ? llm_detok_push(d, ids[i], &piece, &len) : llm_detok_flush(d, &piece, &len));
        if (at + len < sizeof all) { memcpy(all + at, piece, len); at += len; all[at] = 0; }
    }
    llm_detok_destroy(d);
    CHECK_STR(all, full);
}

static void check_spm_cases(const char *file, int *n_failed) {
    cJSON *cases = NULL;
    llm_tokenizer *t = NULL;
    CHECK_OK(llm__json_load(fixture("tokenizers/spm-llama2/cases.json"), &cases));
    CHECK_OK(llm_tokenizer_load(fixture(file), &t));
    if (!t || !cases) { cJSON_Delete(cases); llm_tokenizer_free(t); return; }
    CHECK_EQ_INT(llm_tokenizer_n_vocab(t), 32000);
    CHECK_EQ_INT(llm_tokenizer_bos(t), 1);
    CHECK_EQ_INT(llm_tokenizer_eos(t), 2);
    const cJSON *c;
    int n = 0;
    *n_failed = 0;
    cJSON_ArrayForEach(c, llm__json_get(cases, "cases")) {
        const char *text = llm__json_str(c, "text", "");
        if (!encode_matches(t, text, false, llm__json_get(c, "ids"), true)) (*n_failed)++;
        llm_token ids[1024];
        int64_t k;
        CHECK_OK(llm_tokenize(t, text, strlen(text), true, ids, 1024, &k));
        CHECK(k > 0 && ids[0] == 1);                                 /* add_special: BOS */
        char back[4096];
        llm_detokenize(t, ids, k, true, back, sizeof back);
        CHECK_STR(back, text);                                       /* lossless for these texts */
        check_stream(t, ids, k);
        n++;
    }
    uint32_t x = 7;                                                  /* random ids: byte runs, specials */
    for (int round = 0; round < 200; round++) {
        llm_token ids[16];
        for (int i = 0; i < 16; i++) { x = x * 1664525u + 1013904223u; ids[i] = (llm_token)((x >> 8) % (x & 1 ? 300u : 32000u)); }
        check_stream(t, ids, 1 + round % 16);
    }
    printf("  %s: %d cases, %d differ from spm_encode\n", file, n, *n_failed);
    cJSON_Delete(cases);
    llm_tokenizer_free(t);
}

static void test_spm_model(void) {
    int failed;
    check_spm_cases("tokenizers/spm-llama2/tokenizer.model", &failed);
    CHECK_EQ_INT(failed, 0);
}

static void test_llama2c_bin(void) {
    int failed;
    check_spm_cases("tokenizers/spm-llama2/tokenizer.bin", &failed);
    CHECK_EQ_INT(failed, 0);
}

/* stories260K: ids computed by a direct port of run.c's encode() (BOS, dummy prefix " ",
   greedy best-score merges); decode strips the space after BOS like run.c. */
static void test_stories260k(void) {
    llm_tokenizer *t = NULL;
    CHECK_OK(llm_tokenizer_load(fixture("models/stories260K/tok512.bin"), &t));
    if (!t) return;
    CHECK_EQ_INT(llm_tokenizer_n_vocab(t), 512);
    llm_token ids[16];
    int64_t n;
    const llm_token want[] = { 1, 403, 407, 261, 378 };
    CHECK_OK(llm_tokenize(t, "Once upon a time", 16, true, ids, 16, &n));
    CHECK_EQ_INT(n, 5);
    for (int i = 0; i < 5 && n == 5; i++) CHECK_EQ_INT(ids[i], want[i]);
    char text[64];
    CHECK_EQ_INT(llm_detokenize(t, ids, n, true, text, sizeof text), 16);
    CHECK_STR(text, "Once upon a time");
    CHECK_OK(llm_tokenize(t, "", 0, true, ids, 16, &n));
    CHECK_EQ_INT(n, 1);                                              /* no dummy prefix for "" */
    const llm_token odd[] = { 1, 403, 407, 261, 378, 432 };
    check_stream(t, odd, 6);
    llm_tokenizer_free(t);
}


/* ---- a tiny tokenizer.model written here, checked against the sentencepiece library ----
   (ids from sentencepiece 0.2's Python encode() on the same bytes) */

static void pb_varint(llm__buf *b, uint64_t v) {
    do { uint8_t c = (uint8_t)(v & 0x7f); v >>= 7; if (v) c |= 0x80; llm__buf_put(b, &c, 1); } while (v);
}

static void pb_bytes(llm__buf *b, int field, const void *p, size_t n) {
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    llm__buf_put(b, p, n);
}

static void write_tiny_model(const char *path, int model_type) {
    static const struct { const char *piece; float score; int type; } pieces[] = {
        { "<unk>", 0, 2 }, { "<s>", 0, 3 }, { "</s>", 0, 3 }, { "\xe2\x96\x81", -2, 1 }, { "\xe2\x96\x81hello", -3, 1 },
        { "\xe2\x96\x81he", -4, 1 }, { "llo", -4.5f, 1 }, { "h", -5, 1 }, { "e", -5, 1 }, { "l", -5, 1 }, { "o", -5, 1 },
        { "\xe2\x96\x81world", -3.5f, 1 }, { "w", -6, 1 }, { "r", -6, 1 }, { "d", -6, 1 }, { "\xe2\x96\x81wor", -5, 1 },
        { "ld", -5, 1 }, { "<sep>", 0, 4 },
    };
    llm__buf m = { 0 }, p = { 0 }, spec = { 0 };
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        p.len = 0;
        pb_bytes(&p, 1, pieces[i].piece, strlen(pieces[i].piece));
        pb_varint(&p, 2 << 3 | 5);
        llm__buf_put(&p, &pieces[i].score, 4);                /* little-endian float */
        pb_varint(&p, 3 << 3 | 0);
        pb_varint(&p, (uint64_t)pieces[i].type);
        pb_bytes(&m, 1, p.data, p.len);
    }
    const uint64_t trainer[][2] = { { 3, (uint64_t)model_type }, { 40, 0 }, { 41, 1 }, { 42, 2 } };
    for (int i = 0; i < 4; i++) { pb_varint(&spec, trainer[i][0] << 3); pb_varint(&spec, trainer[i][1]); }
    pb_bytes(&m, 2, spec.data, spec.len);
    spec.len = 0;
    pb_bytes(&spec, 1, "identity", 8);
    for (int f = 3; f <= 5; f++) { pb_varint(&spec, (uint64_t)f << 3); pb_varint(&spec, 1); }
    pb_bytes(&m, 3, spec.data, spec.len);
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(m.data, 1, m.len, f); fclose(f); }
    llm__buf_free(&m); llm__buf_free(&p); llm__buf_free(&spec);
}

static void check_ids(const llm_tokenizer *t, const char *text, const llm_token *want, int n_want) {
    llm_token ids[64];
    int64_t n = 0;
    CHECK_OK(llm_tokenize(t, text, strlen(text), false, ids, 64, &n));
    CHECK_EQ_INT(n, n_want);
    for (int i = 0; i < n && i < n_want; i++) CHECK_EQ_INT(ids[i], want[i]);
}

static void test_tiny_spm(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/llm_test_spm_%d.model", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    llm_tokenizer *t = NULL;
    write_tiny_model(path, 1);                                       /* Unigram */
    CHECK_OK(llm_tokenizer_load(path, &t));
    if (t) {
        const llm_token a[] = { 4, 11 }, b[] = { 4, 14, 11, 0 }, c[] = { 4, 17, 12, 10, 13, 16 }, d[] = { 3, 0 };
        check_ids(t, "hello world", a, 2);
        check_ids(t, "hellod  worldx", b, 4);                        /* extra spaces removed, x unknown */
        check_ids(t, " hello<sep>world", c, 6);                      /* user-defined piece */
        check_ids(t, "x", d, 2);
        char text[64];
        llm_detokenize(t, c, 6, false, text, sizeof text);
        CHECK_STR(text, "hello<sep>world");
        llm_tokenizer_free(t);
    }
    write_tiny_model(path, 2);                                       /* BPE over the same pieces */
    CHECK_OK(llm_tokenizer_load(path, &t));
    if (t) {
        const llm_token a[] = { 3, 7, 8, 9, 9, 10, 3, 12, 10, 13, 16 }, c[] = { 3, 7, 8, 9, 9, 10, 17, 12, 10, 13, 16 };
        check_ids(t, "hello world", a, 11);
        check_ids(t, " hello<sep>world", c, 11);
        llm_tokenizer_free(t);
    }
    remove(path);
}

int main(void) {
    RUN(test_spm_model);
    RUN(test_llama2c_bin);
    RUN(test_stories260k);
    RUN(test_tiny_spm);
    return TEST_MAIN_END();
}
