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

int main(void) {
    RUN(test_spm_model);
    RUN(test_llama2c_bin);
    RUN(test_stories260k);
    return TEST_MAIN_END();
}
