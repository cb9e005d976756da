/* llama.cpp's own tokenizer test vectors (fixtures/tokenizers/ggml-vocab/X.gguf.inp holds
   texts separated by "\n__ggml_vocab_test__\n", X.gguf.out the ids, one line per text),
   checked against the same vocabularies in the forms we read: llama-spm against the Llama 2
   tokenizer.model and llama2.c's tokenizer.bin, llama-bpe against the Llama 3 tokenizer.json, qwen2 against Qwen3's. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

static void check_vectors(const char *vectors, const char *tokenizer, int *n_cases) {
    char rel[256], *inp = NULL, *out = NULL;
    size_t n_inp, n_out;
    llm_tokenizer *t = NULL;
    snprintf(rel, sizeof rel, "tokenizers/ggml-vocab/%s.inp", vectors);
    CHECK_OK(llm__read_file(NULL, fixture(rel), &inp, &n_inp));
    snprintf(rel, sizeof rel, "tokenizers/ggml-vocab/%s.out", vectors);
    CHECK_OK(llm__read_file(NULL, fixture(rel), &out, &n_out));
    CHECK_OK(llm_tokenizer_load(fixture(tokenizer), &t));
    const char *sep = "\n__ggml_vocab_test__\n";
    char *text = inp, *line = out;
    *n_cases = 0;
    while (t && inp && out && *text && *line) {
        char *end = strstr(text, sep), *eol = strchr(line, '\n');
        if (!end || !eol) break;
        llm_token ids[512];
        int64_t n = 0;
        CHECK_OK(llm_tokenize(t, text, (size_t)(end - text), false, ids, 512, &n));
        char got[4096] = "";
        size_t len = 0;
        for (int64_t i = 0; i < n && len < sizeof got - 16; i++) len += (size_t)snprintf(got + len, sizeof got - len, " %d", ids[i]);
        *eol = 0;
        if (strcmp(got, line) != 0) {
            CHECK_STR(got, line);
            printf("    text: \"%.*s\"\n", (int)(end - text), text);
        }
        (*n_cases)++;
        text = end + strlen(sep);
        line = eol + 1;
    }
    llm__free(NULL, inp);
    llm__free(NULL, out);
    llm_tokenizer_free(t);
}

static void test_llama_spm(void) {
    int n;
    check_vectors("ggml-vocab-llama-spm.gguf", "tokenizers/spm-llama2/tokenizer.model", &n);
    printf("  %d llama-spm vectors\n", n);
    CHECK(n > 30);
}

/* llama2.c's run.c algorithm on the same vocabulary agrees with llama.cpp too */
static void test_llama_spm_bin(void) {
    int n;
    check_vectors("ggml-vocab-llama-spm.gguf", "tokenizers/spm-llama2/tokenizer.bin", &n);
    CHECK(n > 30);
}

static void test_llama_bpe(void) {
    int n;
    check_vectors("ggml-vocab-llama-bpe.gguf", "tokenizers/llama3", &n);
    printf("  %d llama-bpe vectors\n", n);
    CHECK(n > 30);
}

static void test_qwen2(void) {
    int n;
    check_vectors("ggml-vocab-qwen2.gguf", "tokenizers/qwen3", &n);
    printf("  %d qwen2 vectors\n", n);
    CHECK(n > 30);
}

int main(void) {
    RUN(test_llama_spm);
    RUN(test_llama_spm_bin);
    RUN(test_llama_bpe);
    RUN(test_qwen2);
    return TEST_MAIN_END();
}
