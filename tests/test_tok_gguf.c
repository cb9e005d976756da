/* GGUF vocabularies (tokenizer.ggml.* metadata) against llama.cpp's own test vectors:
   fixtures/tokenizers/ggml-vocab/X.gguf with X.gguf.inp (texts separated by
   "\n__ggml_vocab_test__\n") and X.gguf.out (the ids, one line per text), tokenized
   without BOS as llama.cpp's test-tokenizer-0 does. Byte-level and SentencePiece
   vocabularies also decode each text back to itself. Then hostile GGUF files. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

/* Run every vector of `name`; *n_cases texts, *n_roundtrip of them decoded back exactly
   (those that are not are shown when `roundtrip` is expected). */
static void check_vectors(const char *name, bool roundtrip, int *n_cases, int *n_roundtrip) {
    char rel[256], *inp = NULL, *out = NULL;
    size_t n_inp, n_out;
    llm_tokenizer *t = NULL;
    snprintf(rel, sizeof rel, "tokenizers/ggml-vocab/%s.gguf.inp", name);
    CHECK_OK(llm__read_file(NULL, fixture(rel), &inp, &n_inp));
    snprintf(rel, sizeof rel, "tokenizers/ggml-vocab/%s.gguf.out", name);
    CHECK_OK(llm__read_file(NULL, fixture(rel), &out, &n_out));
    snprintf(rel, sizeof rel, "tokenizers/ggml-vocab/%s.gguf", name);
    CHECK_OK(llm_tokenizer_load(fixture(rel), &t));
    const char *sep = "\n__ggml_vocab_test__\n";
    char *text = inp, *line = out;
    *n_cases = *n_roundtrip = 0;
    while (t && inp && out && *text && *line) {
        char *end = strstr(text, sep), *eol = strchr(line, '\n');
        if (!end || !eol) break;
        llm_token ids[512];
        int64_t n = 0;
        CHECK_OK(llm_tokenize(t, text, (size_t)(end - text), false, ids, 512, &n));
        char got[4096] = "", back[4096];
        size_t len = 0;
        for (int64_t i = 0; i < n && len < sizeof got - 16; i++) len += (size_t)snprintf(got + len, sizeof got - len, " %d", ids[i]);
        *eol = 0;
        if (strcmp(got, line) != 0) {
            CHECK_STR(got, line);
            printf("    text: \"%.*s\"\n", (int)(end - text), text);
        }
        int64_t nb = llm_detokenize(t, ids, n, false, back, sizeof back);
        if (nb == end - text && memcmp(back, text, (size_t)nb) == 0) (*n_roundtrip)++;
        else if (roundtrip) printf("    decodes to \"%s\", not \"%.*s\"\n", back, (int)(end - text), text);
        (*n_cases)++;
        text = end + strlen(sep);
        line = eol + 1;
    }
    llm__free(NULL, inp);
    llm__free(NULL, out);
    llm_tokenizer_free(t);
}

/* unround: how many texts do not decode back (the 46 texts of each file) */
#define VOCAB_TEST(fn, name, unround) \
    static void fn(void) { \
        int n, nr; \
        check_vectors(name, (unround) == 0, &n, &nr); \
        printf("  %s: %d vectors, %d decoded back\n", name, n, nr); \
        CHECK(n == 46); \
        CHECK_EQ_INT(nr, n - (unround)); \
    }
VOCAB_TEST(test_llama_spm, "ggml-vocab-llama-spm", 0)
VOCAB_TEST(test_phi3, "ggml-vocab-phi-3", 0)
VOCAB_TEST(test_gpt2, "ggml-vocab-gpt-2", 0)
VOCAB_TEST(test_starcoder, "ggml-vocab-starcoder", 0)
VOCAB_TEST(test_falcon, "ggml-vocab-falcon", 0)
/* deepseek-coder has user-defined tokens such as "\u00fc" that are byte-level spellings:
   HF's decoder maps them to the byte 0xFC, so "F\u00fchrer" decodes to "F\ufffdhrer" */
VOCAB_TEST(test_deepseek_coder, "ggml-vocab-deepseek-coder", 1)
/* BERT lowercases and strips accents and spaces */
VOCAB_TEST(test_bert_bge, "ggml-vocab-bert-bge", 32)

int main(void) {
    RUN(test_llama_spm);
    RUN(test_phi3);
    RUN(test_gpt2);
    RUN(test_starcoder);
    RUN(test_falcon);
    RUN(test_deepseek_coder);
    RUN(test_bert_bge);
    return TEST_MAIN_END();
}
