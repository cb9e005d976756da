/* Tokenizer models and steps the big fixtures do not use (WordPiece with a BERT-like
   pipeline, Unigram with Metaspace), on tiny tokenizers made with HF tokenizers 0.23 (the
   expected ids and texts are its output); and the regex matcher on its own. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/llm_test_tokm_%d_%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
    return b;
}

static llm_tokenizer *load_text(const char *name, const char *json) {
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    if (!f) return NULL;
    fputs(json, f);
    fclose(f);
    llm_tokenizer *t = NULL;
    CHECK_OK(llm_tokenizer_load(p, &t));
    remove(p);
    return t;
}

static void check_encode(const llm_tokenizer *t, const char *text, bool special, const llm_token *want, int n_want) {
    llm_token ids[64];
    int64_t n = 0;
    CHECK_OK(llm_tokenize(t, text, strlen(text), special, ids, 64, &n));
    CHECK_EQ_INT(n, n_want);
    for (int i = 0; i < n_want && i < n; i++) CHECK_EQ_INT(ids[i], want[i]);
}

static void check_decode(const llm_tokenizer *t, const llm_token *ids, int n, const char *want) {
    char buf[256];
    llm_detokenize(t, ids, n, false, buf, sizeof buf);
    CHECK_STR(buf, want);
}

static const char wordpiece_json[] =
    "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [], \"normalizer\""
    ": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFD\"}, {\"type\": \"Lowercase\"}]}, \"pre"
    "_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"WhitespaceSplit\"}, {\"type\""
    ": \"Punctuation\", \"behavior\": \"Isolated\"}, {\"type\": \"Digits\", \"individual_digits\": true}]"
    "}, \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \""
    "[CLS]\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id"
    "\": \"[SEP]\", \"type_id\": 0}}], \"pair\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"Seq"
    "uence\": {\"id\": \"B\", \"type_id\": 1}}], \"special_tokens\": {\"[CLS]\": {\"id\": \"[CLS]\", \"id"
    "s\": [1], \"tokens\": [\"[CLS]\"]}, \"[SEP]\": {\"id\": \"[SEP]\", \"ids\": [2], \"tokens\": [\"[SEP"
    "]\"]}}}, \"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\", \"cleanup\": true}, \"model\": {"
    "\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"##\", \"max_inpu"
    "t_chars_per_word\": 100, \"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, \"[SEP]\": 2, \"hello\": 3, \"world"
    "\": 4, \"##s\": 5, \"un\": 6, \"##aff\": 7, \"##able\": 8, \",\": 9, \"!\": 10, \"the\": 11, \"1\": "
    "12, \"2\": 13}}}";

static const char unigram_json[] =
    "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [], \"normalizer\""
    ": null, \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", \"prepend_scheme\""
    ": \"always\", \"split\": true}, \"post_processor\": null, \"decoder\": {\"type\": \"Metaspace\", \"r"
    "eplacement\": \"\\u2581\", \"prepend_scheme\": \"always\", \"split\": true}, \"model\": {\"type\": \""
    "Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0], [\"\\u2581\", -2.0], [\"\\u2581hello\", -3.0"
    "], [\"\\u2581he\", -4.0], [\"llo\", -4.5], [\"h\", -5.0], [\"e\", -5.0], [\"l\", -5.0], [\"o\", -5.0"
    "], [\"\\u2581world\", -3.5], [\"w\", -6.0], [\"r\", -6.0], [\"d\", -6.0], [\"\\u2581wor\", -5.0], [\""
    "ld\", -5.0]], \"byte_fallback\": false}}";

/* NFD + Lowercase, WhitespaceSplit + Punctuation + Digits, "##" continuations, [UNK], CLS/SEP */
static void test_wordpiece(void) {
    llm_tokenizer *t = load_text("wp.json", wordpiece_json);
    if (!t) return;
    const llm_token a[] = { 1, 3, 9, 4, 5, 10, 6, 7, 8, 12, 13, 11, 0, 2 }, b[] = { 1, 3, 4, 2 };
    check_encode(t, "Hello, worlds! unaffable 12 the xyz", true, a, 14);
    check_encode(t, "Hello, worlds! unaffable 12 the xyz", false, a + 1, 12);
    check_encode(t, "HELLO world", true, b, 4);
    check_decode(t, a, 14, "[CLS] hello, worlds! unaffable 1 2 the [UNK] [SEP]");
    llm_tokenizer_free(t);
}

/* Viterbi over scores, Metaspace pre-tokenizer and decoder, unknown characters */
static void test_unigram(void) {
    llm_tokenizer *t = load_text("uni.json", unigram_json);
    if (!t) return;
    const llm_token a[] = { 2, 9 }, b[] = { 2, 12, 9, 0 }, c[] = { 2 };
    check_encode(t, "hello world", false, a, 2);
    check_encode(t, "hellod worldx", false, b, 4);
    check_encode(t, " hello", false, c, 1);
    check_decode(t, a, 2, "hello world");
    check_decode(t, b, 4, "hellod world<unk>");
    llm_tokenizer_free(t);
}

/* Added tokens on the WordPiece tokenizer: "[MASK]" normalized (so "[mask]" matches after
   Lowercase), "<x>" raw with lstrip/rstrip eating the blanks around it. */
static void test_added_tokens(void) {
    const char *from = "\"added_tokens\": []", *at = strstr(wordpiece_json, from);
    if (!at) { CHECK(at != NULL); return; }
    char json[4096];
    snprintf(json, sizeof json, "%.*s\"added_tokens\": [{\"id\": 14, \"content\": \"[MASK]\", \"normalized\": true, \"special\": false},"
             " {\"id\": 15, \"content\": \"<x>\", \"lstrip\": true, \"rstrip\": true, \"normalized\": false, \"special\": false}]%s",
             (int)(at - wordpiece_json), wordpiece_json, at + strlen(from));
    llm_tokenizer *t = load_text("wp2.json", json);
    if (!t) return;
    const llm_token a[] = { 3, 14, 4 }, b[] = { 3, 15, 4 }, c[] = { 3, 0, 0, 0 };
    check_encode(t, "Hello [MASK] world", false, a, 3);
    check_encode(t, "hello [mask] world", false, a, 3);
    check_encode(t, "hello   <x>  world", false, b, 3);
    check_encode(t, "hello<x>world", false, b, 3);
    check_encode(t, "HELLO<X>", false, c, 4);
    CHECK_EQ_INT(llm_tokenizer_find(t, "<x>"), 15);
    CHECK_EQ_INT(llm_tokenizer_find(t, "##aff"), 7);
    CHECK_EQ_INT(llm_tokenizer_find(t, "nope"), -1);
    CHECK(!llm_tokenizer_is_special(t, 15) && llm_tokenizer_is_special(t, 1) == false);
    CHECK_STR(llm_tokenizer_piece(t, 14), "[MASK]");
    CHECK(llm_tokenizer_piece(t, 16) == NULL);
    llm_tokenizer_free(t);
}

/* Metaspace prepend_scheme "first": "▁" only before the text's first word, not after an
   added token. */
static void test_metaspace_first(void) {
    char json[4096];
    const char *from = "\"added_tokens\": []", *at = strstr(unigram_json, from);
    if (!at) { CHECK(at != NULL); return; }
    snprintf(json, sizeof json, "%.*s\"added_tokens\": [{\"id\": 15, \"content\": \"<x>\", \"normalized\": false}]%s",
             (int)(at - unigram_json), unigram_json, at + strlen(from));
    for (char *p = strstr(json, "\"always\""); p; p = strstr(p, "\"always\"")) memcpy(p, "\"first\" ", 8);
    llm_tokenizer *t = load_text("uni2.json", json);
    if (!t) return;
    const llm_token a[] = { 2, 9 }, b[] = { 15, 5, 6, 4, 9 }, c[] = { 2, 15, 5, 6, 4 };
    check_encode(t, "hello world", false, a, 2);
    check_encode(t, "<x>hello world", false, b, 5);
    check_encode(t, "hello<x>hello", false, c, 5);
    check_decode(t, b, 5, "<x>hello world");
    llm_tokenizer_free(t);
}

/* Split behaviors (with and without invert) and the fixed pre-tokenizers, as "|"-joined
   pieces; expectations from HF's pre_tokenize_str. */
static void check_pretok(const llm__step *st, const char *text, const char *want) {
    llm_tokenizer t;
    memset(&t, 0, sizeof t);
    t.pre = (llm__step *)st;
    t.n_pre = 1;
    llm__pretok_scratch sc;
    memset(&sc, 0, sizeof sc);
    llm__pretokenize(&t, text, strlen(text), true, &sc);
    char out[512] = "";
    size_t len = 0;
    for (size_t k = 0; k < sc.pa.n; k++)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%.*s", k ? "|" : "", (int)sc.pa.v[k].len, sc.a.data + sc.pa.v[k].off);
    CHECK_STR(out, want);
    llm__pretok_scratch_free(&sc);
}

static void test_pretokenizers(void) {
    static const char *const want[5][2] = {
        { "x|b", "-|aa|-|a|-|-|-" },
        { "-|aa|-|x|a|-|-|b|-", "-|aa|-|x|a|-|-|b|-" },
        { "-|aa|-|xa|-|-|b-", "-|aa|-x|a|-|-b|-" },
        { "-|aa|-x|a|-|-b|-", "-|aa|-|xa|-|-|b-" },
        { "-aa-|x|a--|b|-", "-aa-|x|a--|b|-" },
    };
    llm__step st = { .kind = LLM__P_SPLIT };
    CHECK_OK(llm__regex_compile("a+|-", "test", &st.re));
    for (int b = 0; b < 5 && st.re; b++)
        for (int inv = 0; inv < 2; inv++) {
            st.behavior = b;
            st.invert = inv;
            check_pretok(&st, "-aa-xa--b-", want[b][inv]);
        }
    llm__regex_free(st.re);
    check_pretok(&(llm__step){ .kind = LLM__P_DIGITS }, "x12\xe2\x85\xab\xc2\xbdy3", "x|12\xe2\x85\xab\xc2\xbd|y|3");
    check_pretok(&(llm__step){ .kind = LLM__P_PUNCT, .behavior = LLM__SPLIT_ISOLATED }, "a,b!!c", "a|,|b|!|!|c");
    check_pretok(&(llm__step){ .kind = LLM__P_WHITESPACE }, "hi, you!! x_y", "hi|,|you|!!|x_y");
}

/* All matches of a pattern, as "|"-joined pieces. */
static void check_regex(const char *pattern, const char *text, const char *want) {
    llm__regex *re = NULL;
    CHECK_OK(llm__regex_compile(pattern, "test", &re));
    if (!re) return;
    char out[512] = "";
    size_t at = 0, n = strlen(text), ms, me, len = 0;
    while (at < n && llm__regex_find(re, text, n, at, &ms, &me)) {
        if (me == ms) { at = ms + 1; continue; }
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%.*s", len ? "|" : "", (int)(me - ms), text + ms);
        at = me;
    }
    CHECK_STR(out, want);
    llm__regex_free(re);
}

static void test_regex(void) {
    const char *llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    check_regex(llama3, "HE'S 12345 a  b\n\n c", "HE|'S| |123|45| a| | b|\n\n| c");
    check_regex("\\s+(?!\\S)|\\s+", "a   b ", "  | | ");
    check_regex("[a-c]+|x{2,3}?", "abcxxxxd", "abc|xx|xx");
    check_regex("(?:ab)+|\\d", "ababa1", "abab|1");
    check_regex("^a|b$", "aab", "a|b");
    check_regex("\\p{Lu}\\p{Ll}*", "Hello World", "Hello|World");
    check_regex("[^\\s]+", "a\u00a0b c", "a|b|c");   /* NBSP is \\s */
    llm__regex *re = NULL;
    const char *bad[] = { "(", "[a", "a{3,1}", "\\q", "*a", "(?<=a)" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(llm__regex_compile(bad[i], "test", &re) != LLM_OK);
        re = NULL;
    }
    CHECK_OK(llm__regex_compile("(a*)*b", "test", &re));           /* nullable loop: must terminate */
    size_t ms, me;
    if (re) CHECK(!llm__regex_find(re, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", 32, 0, &ms, &me));
    llm__regex_free(re);
}

int main(void) {
    RUN(test_wordpiece);
    RUN(test_unigram);
    RUN(test_added_tokens);
    RUN(test_metaspace_first);
    RUN(test_pretokenizers);
    RUN(test_regex);
    return TEST_MAIN_END();
}
