/* GGUF vocabularies (tokenizer.ggml.* metadata) against llama.cpp's own test vectors:
   fixtures/tokenizers/ggml-vocab/X.gguf with X.gguf.inp (texts separated by
   "\n__ggml_vocab_test__\n") and X.gguf.out (the ids, one line per text), tokenized
   without BOS as llama.cpp's test-tokenizer-0 does. Byte-level and SentencePiece
   vocabularies also decode each text back to itself. Then hostile GGUF files. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"
#include <unistd.h>

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/llm_test_tok_gguf_%d_%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
    return b;
}

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

/* phi-3: BOS from add_bos_token, "<|user|>" (a control token) is one token, the chat
   template comes from tokenizer.chat_template with bos_token = tokens[bos_token_id]. */
static void test_phi3_specials_and_template(void) {
    const char *path = fixture("tokenizers/ggml-vocab/ggml-vocab-phi-3.gguf");
    llm_tokenizer *t = NULL;
    CHECK_OK(llm_tokenizer_load(path, &t));
    if (!t) return;
    CHECK_EQ_INT(llm_tokenizer_bos(t), 1);
    CHECK_EQ_INT(llm_tokenizer_eos(t), llm_tokenizer_find(t, "<|endoftext|>"));
    llm_token user = llm_tokenizer_find(t, "<|user|>");
    CHECK(user > 0 && llm_tokenizer_is_special(t, user));
    llm_token ids[16];
    int64_t n = 0;
    CHECK_OK(llm_tokenize(t, "<|user|>\nHi", 11, true, ids, 16, &n));
    CHECK(n >= 3 && ids[0] == 1 && ids[1] == user);
    llm_chat_template *ct = NULL;
    CHECK_OK(llm_chat_template_load(path, NULL, &ct));
    char *text = NULL;
    size_t len = 0;
    if (ct) CHECK_OK(llm_chat_template_render(ct, "[{\"role\":\"user\",\"content\":\"Hi\"}]", NULL, true, NULL, &text, &len));
    CHECK(text && !strncmp(text, "<s><|user|>\nHi<|end|>\n<|assistant|>\n", 35));
    llm_free(text);
    llm_chat_template_free(ct);
    CHECK(llm_chat_template_load(path, "tool_use", &ct) == LLM_ERR_NOT_FOUND);
    llm_tokenizer_free(t);
}

/* BERT: add_special gives [CLS] text [SEP] (cls_token_id, seperator_token_id), and
   decoding joins "##" pieces */
static void test_bert_specials(void) {
    llm_tokenizer *t = NULL;
    CHECK_OK(llm_tokenizer_load(fixture("tokenizers/ggml-vocab/ggml-vocab-bert-bge.gguf"), &t));
    if (!t) return;
    llm_token ids[16];
    int64_t n = 0;
    CHECK_OK(llm_tokenize(t, "Hello, Tokenizers", 17, true, ids, 16, &n));
    CHECK(n >= 4 && ids[0] == 101 && ids[n - 1] == 102);
    char text[64];
    llm_detokenize(t, ids, n, true, text, sizeof text);
    CHECK_STR(text, "hello, tokenizers");
    llm_tokenizer_free(t);
}

/* A tiny T5 (Unigram) vocabulary: spaces collapse, the best-scoring segmentation wins,
   add_special appends </s> (no fixture has one: llama.cpp's vectors cover no t5 file). */
static void test_t5_unigram(void) {
    llm_gguf_str toks[] = { { "<pad>", 5 }, { "</s>", 4 }, { "<unk>", 5 }, { "\xe2\x96\x81", 3 }, { "a", 1 }, { "b", 1 },
                            { "\xe2\x96\x81" "ab", 5 }, { "ab", 2 }, { "\xe2\x96\x81" "a", 4 } };
    float scores[9] = { 0, 0, 0, -2, -3, -3, -1, -2, -2 };
    int32_t types[9] = { 3, 3, 2, 1, 1, 1, 1, 1, 1 };
    llm_gguf_kv kv[] = {
        llm_gguf_kv_str("tokenizer.ggml.model", "t5"), llm_gguf_kv_arr("tokenizer.ggml.tokens", LLM_GGUF_STRING, 9, toks),
        llm_gguf_kv_arr("tokenizer.ggml.scores", LLM_GGUF_F32, 9, scores), llm_gguf_kv_arr("tokenizer.ggml.token_type", LLM_GGUF_I32, 9, types),
        llm_gguf_kv_u32("tokenizer.ggml.eos_token_id", 1), llm_gguf_kv_u32("tokenizer.ggml.unknown_token_id", 2),
    };
    const char *path = tmp_path("t5.gguf");
    llm_tokenizer *t = NULL;
    CHECK_OK(llm_gguf_write(path, kv, 6, NULL, 0));
    CHECK_OK(llm_tokenizer_load(path, &t));
    remove(path);
    if (!t) return;
    llm_token ids[8];
    int64_t n = 0;
    CHECK_OK(llm_tokenize(t, "ab  ab a", 8, true, ids, 8, &n));
    CHECK(n == 4 && ids[0] == 6 && ids[1] == 6 && ids[2] == 8 && ids[3] == 1);
    char text[32];
    llm_detokenize(t, ids, n, true, text, sizeof text);
    CHECK_STR(text, "ab ab a");
    llm_tokenizer_free(t);
}

/* ---- hostile files, written with our GGUF writer ---- */

/* A small gpt2 vocabulary: "a" "b" "ab" and the merge "a b", pre-tokenizer `pre`; `edit`
   1..9 changes one thing (0: nothing; -1: nothing, and the file stays as full.gguf). */
static llm_status load_edited(int edit, const char *pre, llm_tokenizer **t) {
    llm_gguf_str toks[] = { { "a", 1 }, { "b", 1 }, { "ab", 2 } }, merges[] = { { "a b", 3 } }, bad_merge[] = { { "ab", 2 } };
    float scores[2] = { 0, 0 };
    int32_t types[3] = { 1, 9, -4 };          /* undefined types count as normal */
    llm_gguf_kv kv[8];
    int n = 0;
    kv[n++] = llm_gguf_kv_str("tokenizer.ggml.model", edit == 1 ? "sentencepiece9" : "gpt2");
    kv[n++] = llm_gguf_kv_str("tokenizer.ggml.pre", pre);
    if (edit != 3) kv[n++] = llm_gguf_kv_arr("tokenizer.ggml.tokens", edit == 4 ? LLM_GGUF_F32 : LLM_GGUF_STRING, edit == 4 ? 2 : 3, edit == 4 ? (void *)scores : (void *)toks);
    if (edit == 5) kv[n++] = llm_gguf_kv_arr("tokenizer.ggml.scores", LLM_GGUF_F32, 2, scores);
    kv[n++] = llm_gguf_kv_arr("tokenizer.ggml.token_type", LLM_GGUF_I32, edit == 6 ? 2 : 3, types);
    if (edit != 7) kv[n++] = llm_gguf_kv_arr("tokenizer.ggml.merges", LLM_GGUF_STRING, 1, edit == 8 ? bad_merge : merges);
    kv[n++] = llm_gguf_kv_i32("tokenizer.ggml.bos_token_id", edit == 9 ? 1000 : 2);
    kv[n++] = llm_gguf_kv_i32("tokenizer.ggml.eos_token_id", edit == 9 ? -7 : 0);
    const char *path = tmp_path(edit < 0 ? "full.gguf" : "edit.gguf");
    llm_status s = llm_gguf_write(path, kv, n, NULL, 0);
    if (s) return s;
    s = llm_tokenizer_load(path, t);
    if (edit >= 0) remove(path);
    return s;
}

static void test_hostile(void) {
    static const struct { int edit; llm_status want; const char *says; } cases[] = {
        { 1, LLM_ERR_UNSUPPORTED, "sentencepiece9" }, { 2, LLM_ERR_UNSUPPORTED, "no-such-pre" },
        { 3, LLM_ERR_NOT_FOUND, "tokenizer.ggml.tokens" }, { 4, LLM_ERR_FORMAT, "tokenizer.ggml.tokens" },
        { 5, LLM_ERR_FORMAT, "3 tokens but 2 scores" }, { 6, LLM_ERR_FORMAT, "3 tokens but 2 token types" },
        { 7, LLM_ERR_NOT_FOUND, "tokenizer.ggml.merges" }, { 8, LLM_ERR_FORMAT, "merges[0]" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llm_tokenizer *t = NULL;
        llm_status s = load_edited(cases[i].edit, cases[i].edit == 2 ? "no-such-pre" : "gpt-2", &t);
        CHECK_EQ_INT(s, cases[i].want);
        if (!strstr(llm_last_error(), cases[i].says)) printf("  edit %d: message '%s' lacks '%s'\n", cases[i].edit, llm_last_error(), cases[i].says);
        CHECK(strstr(llm_last_error(), cases[i].says) != NULL);
        llm_tokenizer_free(t);
    }
    llm_tokenizer *t = NULL;
    CHECK_OK(load_edited(0, "gpt-2", &t));
    llm_token ids[4];
    int64_t n = 0;
    if (t) CHECK_OK(llm_tokenize(t, "ab", 2, false, ids, 4, &n));
    CHECK(n == 1 && ids[0] == 2);
    CHECK(t && llm_tokenizer_bos(t) == 2 && llm_tokenizer_eos(t) == 0);
    llm_tokenizer_free(t);
    t = NULL;
    CHECK_OK(load_edited(9, "gpt-2", &t));                      /* out-of-range special ids are dropped */
    CHECK(t && llm_tokenizer_bos(t) == -1 && llm_tokenizer_eos(t) == -1);
    if (t) CHECK_OK(llm_tokenize(t, "ab", 2, true, ids, 4, &n));
    CHECK(n == 1);
    llm_tokenizer_free(t);
}

/* The small vocabulary cut short at every length: an error each time, never a crash. */
static void test_truncated(void) {
    llm_tokenizer *t = NULL;
    const char *full = tmp_path("full.gguf"), *cut = tmp_path("cut.gguf");
    char *data = NULL;
    size_t n = 0;
    CHECK_OK(load_edited(-1, "gpt-2", &t));               /* edit -1: keep the file */
    llm_tokenizer_free(t);
    CHECK_OK(llm__read_file(NULL, full, &data, &n));
    for (size_t len = 0; data && len < n; len++) {
        FILE *f = fopen(cut, "wb");
        if (!f) break;
        fwrite(data, 1, len, f);
        fclose(f);
        t = NULL;
        CHECK(llm_tokenizer_load(cut, &t) != LLM_OK && t == NULL);
    }
    remove(cut);
    remove(full);
    llm__free(NULL, data);
}

/* Every pre-tokenizer name we know compiles its regexes and runs them over a mixed text
   (the tiny vocabulary has no byte tokens: only the leading "ab" has ids). */
static void test_pre_types(void) {
    static const char *const names[] = { "default", "gpt-2", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-v3", "deepseek-coder",
                                         "falcon", "starcoder", "bloom", "viking", "tekken", "gpt-4o", "chatglm-bpe" };
    const char *text = "ab, y'all! Hello 3333 ÄÖ 我想 \n\n  ab";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        llm_tokenizer *t = NULL;
        llm_token ids[128];
        int64_t n = 0;
        CHECK_OK(load_edited(0, names[i], &t));
        if (t) CHECK_OK(llm_tokenize(t, text, strlen(text), false, ids, 128, &n));
        CHECK(n >= 1 && ids[0] == 2);
        llm_tokenizer_free(t);
    }
}

int main(void) {
    RUN(test_llama_spm);
    RUN(test_phi3);
    RUN(test_gpt2);
    RUN(test_starcoder);
    RUN(test_falcon);
    RUN(test_deepseek_coder);
    RUN(test_bert_bge);
    RUN(test_phi3_specials_and_template);
    RUN(test_bert_specials);
    RUN(test_t5_unigram);
    RUN(test_hostile);
    RUN(test_pre_types);
    RUN(test_truncated);
    return TEST_MAIN_END();
}
