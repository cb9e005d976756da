/* Hostile tokenizer files: malformed tokenizer.json (no model, bad merges, ids out of range,
   truncated at every length), truncated and corrupted tokenizer.model / tokenizer.bin.
   Each must load with a clear error or load cleanly - never crash (run under ASan).
   Also the `llm tokenize` CLI when $LLM_BIN is set. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"
#include <sys/wait.h>

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/llm_test_tokh_%d_%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
    return b;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

/* Load from bytes; returns the status and, when it loaded, encodes a text to exercise it. */
static llm_status load_bytes(const char *name, const void *data, size_t n) {
    const char *p = tmp_path(name);
    write_file(p, data, n);
    llm_tokenizer *t = NULL;
    llm_status s = llm_tokenizer_load(p, &t);
    remove(p);
    if (s == LLM_OK) {
        llm_token ids[256];
        int64_t k;
        CHECK_OK(llm_tokenize(t, "Hello <s> wörld 123 \xff\xfe!", 24, true, ids, 256, &k));
        char buf[256];
        llm_detokenize(t, ids, LLM__MIN(k, 256), false, buf, sizeof buf);
        llm_tokenizer_free(t);
    } else CHECK(strlen(llm_last_error()) > 0);
    return s;
}

static const char good_json[] =
    "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"unk_token\": \"<unk>\","
    " \"vocab\": {\"<unk>\": 0, \"a\": 1, \"b\": 2, \"ab\": 3, \"<0x21>\": 4},"
    " \"merges\": [\"a b\"]},"
    " \"added_tokens\": [{\"id\": 5, \"content\": \"<s>\", \"special\": true}],"
    " \"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"a\"},"
    " \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a+|b\"}, \"behavior\": \"Isolated\"},"
    " \"decoder\": {\"type\": \"ByteFallback\"}}";

static void test_good_json(void) {
    CHECK_OK(load_bytes("good.json", good_json, sizeof good_json - 1));
}

static void test_bad_json(void) {
    static const struct { const char *json; llm_status want; } cases[] = {
        { "{}", LLM_ERR_FORMAT },                                                        /* no model */
        { "[1, 2]", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"ab\"]}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1e12}, \"merges\": []}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0.5}, \"merges\": []}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}}}", LLM_ERR_UNSUPPORTED },
        { "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\"]]}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0]], \"unk_id\": 7}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
          " \"added_tokens\": [{\"id\": 99999999999, \"content\": \"x\"}]}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
          " \"added_tokens\": [{\"content\": \"x\"}]}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
          " \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": \"Isolated\"}}", LLM_ERR_UNSUPPORTED },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
          " \"normalizer\": {\"type\": \"BertNormalizerX\"}}", LLM_ERR_UNSUPPORTED },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
          " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}],"
          " \"special_tokens\": {\"<s>\": {\"ids\": [5]}}}}", LLM_ERR_FORMAT },
        { "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]", LLM_ERR_FORMAT },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llm_status s = load_bytes("bad.json", cases[i].json, strlen(cases[i].json));
        if (s != cases[i].want) printf("  case %d: got %s (%s)\n", (int)i, llm_status_str(s), llm_last_error());
        CHECK_EQ_INT(s, cases[i].want);
    }
}

static void test_truncated_json(void) {
    size_t n = sizeof good_json - 1;
    for (size_t cut = 0; cut < n; cut++) CHECK(load_bytes("cut.json", good_json, cut) != LLM_OK);
}

/* Prefixes of a real file at many lengths, and a few corrupted copies. */
static void cut_and_corrupt(const char *fixture_rel, const char *name) {
    char *data = NULL;
    size_t n = 0;
    CHECK_OK(llm__read_file(NULL, fixture(fixture_rel), &data, &n));
    if (!data) return;
    size_t cuts[] = { 0, 1, 3, 4, 5, 9, 17, 100, 1000, 4095, n / 3, n / 2, n - 7, n - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        if (cuts[i] < n) CHECK(load_bytes(name, data, cuts[i]) != LLM_OK || cuts[i] > 4096);
    uint32_t x = 12345;
    for (int round = 0; round < 40; round++) {                   /* flip bytes in the first 8 KB */
        char *copy = (char *)malloc(n);
        memcpy(copy, data, n);
        for (int k = 0; k < 8; k++) { x = x * 1664525u + 1013904223u; copy[(x >> 8) % LLM__MIN(n, (size_t)8192)] ^= (char)(x >> 24 | 1); }
        load_bytes(name, copy, n);
        free(copy);
    }
    llm__free(NULL, data);
}

static void test_truncated_model(void) { cut_and_corrupt("tokenizers/spm-llama2/tokenizer.model", "t.model"); }
static void test_truncated_bin(void) { cut_and_corrupt("models/stories260K/tok512.bin", "t.bin"); }

static void test_missing(void) {
    llm_tokenizer *t = NULL;
    CHECK(llm_tokenizer_load(tmp_path("does-not-exist.json"), &t) == LLM_ERR_IO);
    CHECK(llm_tokenizer_load(fixture("models/dev/llama"), &t) == LLM_ERR_NOT_FOUND);
    CHECK(llm_tokenizer_load(fixture("models/dev/llama/config.json"), &t) != LLM_OK);
    CHECK(t == NULL);
}

/* Run the CLI; returns its exit code and its stdout in out. */
static int run_cli(const char *args, char *out, size_t cap) {
    const char *bin = getenv("LLM_BIN");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s tokenize %s 2>/dev/null", bin, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_cli(void) {
    if (!getenv("LLM_BIN")) SKIP("LLM_BIN not set");
    char out[4096], args[1024];
    const char *dir = fixture("tokenizers/llama3");
    snprintf(args, sizeof args, "--model %s --text 'Hello world'", dir);
    CHECK_EQ_INT(run_cli(args, out, sizeof out), 0);
    CHECK_STR(out, "9906 1917\n");
    const char *p = tmp_path("cli.txt");
    write_file(p, "Hello world\n", 12);                          /* the newline is part of the text */
    snprintf(args, sizeof args, "--model %s/tokenizer.json --file %s --json", dir, p);
    CHECK_EQ_INT(run_cli(args, out, sizeof out), 0);
    CHECK_STR(out, "[9906, 1917, 198]\n");
    remove(p);
    snprintf(args, sizeof args, "-m %s --text 'Once upon a time' --add-special", fixture("models/stories260K"));   /* finds tok512.bin */
    CHECK_EQ_INT(run_cli(args, out, sizeof out), 0);
    CHECK_STR(out, "1 403 407 261 378\n");
    CHECK_EQ_INT(run_cli("--model x --bogus", out, sizeof out), 2);
    CHECK_EQ_INT(run_cli("--text x", out, sizeof out), 2);
    CHECK_EQ_INT(run_cli("--model /nonexistent --text x", out, sizeof out), 1);
}

int main(void) {
    RUN(test_good_json);
    RUN(test_bad_json);
    RUN(test_truncated_json);
    RUN(test_truncated_model);
    RUN(test_truncated_bin);
    RUN(test_missing);
    RUN(test_cli);
    return TEST_MAIN_END();
}
