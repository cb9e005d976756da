/* gguf: llama.cpp's vocab files (values checked with gguf-py's GGUFReader), write + read
   back, truncation at every byte, and hand-made hostile headers. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/llm_test_gguf_%d_%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
    return b;
}

/* ---- llama.cpp's vocab-only files ---- */

typedef struct {
    const char *file, *model, *tok0, *tok_last, *merge0;
    int64_t n_kv, n_tokens, n_merges, bos, eos, unk;   /* -1: absent */
    int32_t type0;
} vocab_case;

static const vocab_case vocab_cases[] = {
    { "bert-bge", "bert", "[PAD]", "\xef\xbd\x9e", NULL, 20, 30522, 0, -1, -1, 100, 3 },
    { "deepseek-coder", "gpt2", "!", "[PAD32255]", "\xc4\xa0 \xc4\xa0", 25, 32256, 31757, 32013, 32014, -1, 1 },
    { "falcon", "gpt2", ">>TITLE<<", "\xc4\xa0victoria", "\xc4\xa0 t", 18, 65024, 64784, 11, 11, -1, 3 },
    { "gpt-2", "gpt2", "!", "<|endoftext|>", "\xc4\xa0 t", 16, 50257, 50000, 50256, 50256, -1, 1 },
    { "llama-spm", "llama", "<unk>", "\xe7\xbb\x99", NULL, 22, 32000, 0, 1, 2, 0, 2 },
    { "phi-3", "llama", "<unk>", "[PAD32063]", NULL, 26, 32064, 0, 1, 32000, 0, 3 },
    { "starcoder", "gpt2", "<|endoftext|>", "sdb", "\xc4\xa0 \xc4\xa0", 19, 49152, 48872, 0, 0, 0, 3 },
};

static void check_id(const llm_gguf *g, const char *key, int64_t want) {
    int64_t v = -1;
    llm_status s = llm_gguf_get_int(g, key, &v);
    CHECK(want < 0 ? s == LLM_ERR_NOT_FOUND : s == LLM_OK);
    CHECK_EQ_INT(v, want);
}

static void check_vocab(const vocab_case *c) {
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizers/ggml-vocab/ggml-vocab-%s.gguf", c->file);
    llm_gguf *g = NULL;
    CHECK_OK(llm_gguf_open(fixture(rel), &g));
    if (!g) return;
    CHECK_EQ_INT(llm_gguf_version(g), 3);
    CHECK_EQ_INT(llm_gguf_n_kv(g), c->n_kv);
    CHECK_EQ_INT(llm_gguf_n_tensors(g), 0);
    const char *model = NULL;
    CHECK_OK(llm_gguf_get_str(g, "tokenizer.ggml.model", &model));
    CHECK_STR(model, c->model);
    int64_t n = 0;
    const llm_gguf_str *toks = NULL;
    CHECK_OK(llm_gguf_get_arr(g, "tokenizer.ggml.tokens", LLM_GGUF_STRING, &n, (const void **)&toks));
    CHECK_EQ_INT(n, c->n_tokens);
    if (toks && n == c->n_tokens) { CHECK_STR(toks[0].str, c->tok0); CHECK_STR(toks[n - 1].str, c->tok_last); }
    const int32_t *types = NULL;
    CHECK_OK(llm_gguf_get_arr(g, "tokenizer.ggml.token_type", LLM_GGUF_I32, &n, (const void **)&types));
    CHECK(types && n == c->n_tokens && types[0] == c->type0);
    const llm_gguf_str *merges = NULL;
    llm_status s = llm_gguf_get_arr(g, "tokenizer.ggml.merges", LLM_GGUF_STRING, &n, (const void **)&merges);
    if (c->merge0) { CHECK_OK(s); CHECK_EQ_INT(n, c->n_merges); if (merges) CHECK_STR(merges[0].str, c->merge0); }
    else CHECK(s == LLM_ERR_NOT_FOUND);
    const float *scores = NULL;   /* SentencePiece vocabularies carry scores, BPE ones merges */
    s = llm_gguf_get_arr(g, "tokenizer.ggml.scores", LLM_GGUF_F32, &n, (const void **)&scores);
    if (strcmp(c->model, "llama") == 0) { CHECK_OK(s); CHECK_EQ_INT(n, c->n_tokens); }
    else CHECK(s == LLM_ERR_NOT_FOUND);
    check_id(g, "tokenizer.ggml.bos_token_id", c->bos);
    check_id(g, "tokenizer.ggml.eos_token_id", c->eos);
    check_id(g, "tokenizer.ggml.unknown_token_id", c->unk);
    llm_gguf_close(g);
}

static void test_vocab_files(void) {
    for (int i = 0; i < (int)(sizeof vocab_cases / sizeof vocab_cases[0]); i++) check_vocab(&vocab_cases[i]);
}

/* Details of two files: scores, types, non-ASCII tokens, the chat template, wrong-type errors. */
static void test_vocab_details(void) {
    llm_gguf *g = NULL;
    CHECK_OK(llm_gguf_open(fixture("tokenizers/ggml-vocab/ggml-vocab-phi-3.gguf"), &g));
    if (!g) return;
    int64_t n = 0;
    const float *scores = NULL;
    CHECK_OK(llm_gguf_get_arr(g, "tokenizer.ggml.scores", LLM_GGUF_F32, &n, (const void **)&scores));
    CHECK(scores && n == 32064 && scores[0] == -1000.0f && scores[300] == -41.0f);
    const llm_gguf_str *toks = NULL;
    CHECK_OK(llm_gguf_get_arr(g, "tokenizer.ggml.tokens", LLM_GGUF_STRING, &n, (const void **)&toks));
    if (toks) { CHECK_STR(toks[301].str, "\xe2\x96\x81l"); CHECK_EQ_INT(toks[301].len, 4); }
    const char *tmpl = NULL;
    CHECK_OK(llm_gguf_get_str(g, "tokenizer.chat_template", &tmpl));
    CHECK(tmpl && strlen(tmpl) == 269 && strncmp(tmpl, "{{ bos_token }}{% for message in message", 40) == 0);
    bool add_bos = false;
    CHECK_OK(llm_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos));
    CHECK(add_bos);
    float eps = 0, base = 0;
    CHECK_OK(llm_gguf_get_f32(g, "phi3.attention.layer_norm_rms_epsilon", &eps));
    CHECK_OK(llm_gguf_get_f32(g, "phi3.rope.freq_base", &base));
    CHECK(eps == 1e-5f && base == 10000.0f);
    int64_t ctx = 0;
    CHECK_OK(llm_gguf_get_int(g, "phi3.context_length", &ctx));
    CHECK_EQ_INT(ctx, 4096);
    CHECK(llm_gguf_get_int(g, "tokenizer.ggml.model", &ctx) == LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), "ggml-vocab-phi-3.gguf") && strstr(llm_last_error(), "is string, expected an integer"));
    CHECK(llm_gguf_get_arr(g, "tokenizer.ggml.scores", LLM_GGUF_I32, &n, (const void **)&scores) == LLM_ERR_FORMAT);
    CHECK_STR(llm_gguf_kv_at(g, 0)->key, "general.architecture");
    CHECK(llm_gguf_find_kv(g, "nope") == NULL);
    const llm_tensor *t = NULL;
    CHECK(llm_gguf_get_tensor(g, "token_embd.weight", &t) == LLM_ERR_NOT_FOUND && t == NULL);
    llm_gguf_close(g);
}

static uint8_t *read_all(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = (uint8_t *)malloc(*n + 1);
    if (b && fread(b, 1, *n, f) != *n) { free(b); b = NULL; }
    fclose(f);
    return b;
}

static void write_bytes(const char *p, const void *data, size_t n) {
    FILE *f = fopen(p, "wb");
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

/* ---- write + read back ---- */

static uint8_t q8[2 * 2 * 34], q4k[144];
static uint16_t h5[5] = { 0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000 };
static float f64x3[3 * 64], scalar = 2.5f;
static int32_t i4d[16];

/* Tensors of several dtypes and ranks; the last one fills whole 64-byte blocks, so a
   file written with alignment 64 ends exactly where its data ends. */
static int make_tensors(llm_tensor *ts) {
    for (int i = 0; i < (int)sizeof q8; i++) q8[i] = (uint8_t)(i * 37 + 11);
    for (int i = 0; i < (int)sizeof q4k; i++) q4k[i] = (uint8_t)(i * 101 + 3);
    for (int i = 0; i < 3 * 64; i++) f64x3[i] = (float)i * 0.25f - 7.0f;
    for (int i = 0; i < 16; i++) i4d[i] = i * i - 50;
    llm_tensor t[] = {
        { .name = "q8", .dtype = LLM_DTYPE_Q8_0, .n_dims = 2, .shape = { 2, 64 }, .data = q8, .n_bytes = sizeof q8 },
        { .name = "h", .dtype = LLM_DTYPE_F16, .n_dims = 1, .shape = { 5 }, .data = h5, .n_bytes = sizeof h5 },
        { .name = "k", .dtype = LLM_DTYPE_Q4_K, .n_dims = 3, .shape = { 1, 1, 256 }, .data = q4k, .n_bytes = sizeof q4k },
        { .name = "i4", .dtype = LLM_DTYPE_I32, .n_dims = 4, .shape = { 2, 2, 2, 2 }, .data = i4d, .n_bytes = sizeof i4d },
        { .name = "s", .dtype = LLM_DTYPE_F32, .n_dims = 0, .data = &scalar, .n_bytes = 4 },
        { .name = "blk.0.ffn_up.weight", .dtype = LLM_DTYPE_F32, .n_dims = 2, .shape = { 3, 64 }, .data = f64x3, .n_bytes = sizeof f64x3 },
    };
    memcpy(ts, t, sizeof t);
    return (int)(sizeof t / sizeof t[0]);
}

static const llm_gguf_str strs[3] = { { "a", 1 }, { "", 0 }, { "\xc3\xbcn\xc3\xaf", 5 } };
static const int32_t ints[3] = { 1, -2, 3 };
static const bool bools[3] = { true, false, true };
static const double doubles[2] = { 0.1, -1e300 };

static int make_kvs(llm_gguf_kv *kv) {
    int n = 0;
    kv[n++] = llm_gguf_kv_str("general.architecture", "llama");
    kv[n++] = llm_gguf_kv_u32("general.alignment", 64);
    kv[n] = llm_gguf_kv_u32("u8", 0); kv[n].type = LLM_GGUF_U8; kv[n++].v.u8 = 200;
    kv[n] = llm_gguf_kv_u32("i8", 0); kv[n].type = LLM_GGUF_I8; kv[n++].v.i8 = -5;
    kv[n] = llm_gguf_kv_u32("u16", 0); kv[n].type = LLM_GGUF_U16; kv[n++].v.u16 = 60000;
    kv[n] = llm_gguf_kv_u32("i16", 0); kv[n].type = LLM_GGUF_I16; kv[n++].v.i16 = -30000;
    kv[n++] = llm_gguf_kv_u32("u32", 4000000000u);
    kv[n++] = llm_gguf_kv_i32("i32", -2000000000);
    kv[n++] = llm_gguf_kv_f32("f32", -3.75f);
    kv[n++] = llm_gguf_kv_bool("bool", true);
    kv[n] = llm_gguf_kv_u32("u64", 0); kv[n].type = LLM_GGUF_U64; kv[n++].v.u64 = 0x8000000000000005ull;
    kv[n] = llm_gguf_kv_u32("i64", 0); kv[n].type = LLM_GGUF_I64; kv[n++].v.i64 = -1099511627776ll;
    kv[n] = llm_gguf_kv_u32("f64", 0); kv[n].type = LLM_GGUF_F64; kv[n++].v.f64 = 1.0 / 3.0;
    kv[n++] = llm_gguf_kv_str("tokenizer.chat_template", "{{ x }}\n\xe2\x96\x81");
    kv[n++] = llm_gguf_kv_arr("tokenizer.ggml.tokens", LLM_GGUF_STRING, 3, strs);
    kv[n++] = llm_gguf_kv_arr("ints", LLM_GGUF_I32, 3, ints);
    kv[n++] = llm_gguf_kv_arr("bools", LLM_GGUF_BOOL, 3, bools);
    kv[n++] = llm_gguf_kv_arr("doubles", LLM_GGUF_F64, 2, doubles);
    kv[n++] = llm_gguf_kv_arr("empty", LLM_GGUF_U8, 0, NULL);
    return n;
}

static size_t value_size(llm_gguf_type t) {
    static const size_t sz[LLM_GGUF_TYPE_COUNT] = { 1, 1, 2, 2, 4, 4, 4, sizeof(bool), sizeof(llm_gguf_str), 0, 8, 8, 8 };
    return sz[t];
}

static bool same_value(llm_gguf_type t, const void *a, const void *b) {
    if (t != LLM_GGUF_STRING) return memcmp(a, b, value_size(t)) == 0;
    const llm_gguf_str *x = (const llm_gguf_str *)a, *y = (const llm_gguf_str *)b;
    return x->len == y->len && memcmp(x->str, y->str, x->len) == 0 && x->str[x->len] == 0;
}

static bool same_kv(const llm_gguf_kv *a, const llm_gguf_kv *b) {
    if (strcmp(a->key, b->key) || a->type != b->type || a->n != b->n) return false;
    if (a->type != LLM_GGUF_ARRAY) return same_value(a->type, &a->v, &b->v);
    if (a->arr_type != b->arr_type) return false;
    for (int64_t i = 0; i < a->n; i++) {
        size_t off = (size_t)i * value_size(a->arr_type);
        if (!same_value(a->arr_type, (const uint8_t *)a->v.arr + off, (const uint8_t *)b->v.arr + off)) return false;
    }
    return true;
}

static void test_write_roundtrip(void) {
    llm_gguf_kv kvs[32];
    llm_tensor ts[8];
    int n_kv = make_kvs(kvs), n_t = make_tensors(ts);
    const char *p = tmp_path("rt.gguf");
    CHECK_OK(llm_gguf_write(p, kvs, n_kv, ts, n_t));
    llm_gguf *g = NULL;
    CHECK_OK(llm_gguf_open(p, &g));
    if (!g) return;
    CHECK_EQ_INT(llm_gguf_alignment(g), 64);
    CHECK_EQ_INT(llm_gguf_n_kv(g), n_kv);
    for (int i = 0; i < n_kv && i < llm_gguf_n_kv(g); i++) {
        if (!same_kv(llm_gguf_kv_at(g, i), &kvs[i])) printf("  kv '%s' differs\n", kvs[i].key);
        CHECK(same_kv(llm_gguf_kv_at(g, i), &kvs[i]));
    }
    CHECK_EQ_INT(llm_gguf_n_tensors(g), n_t);
    for (int i = 0; i < n_t; i++) {
        const llm_tensor *t = llm_gguf_find_tensor(g, ts[i].name);
        CHECK(t == llm_gguf_tensor(g, i));
        if (!t) continue;
        CHECK(t->dtype == ts[i].dtype && t->n_dims == ts[i].n_dims && t->n_bytes == ts[i].n_bytes);
        CHECK(memcmp(t->shape, ts[i].shape, sizeof t->shape) == 0);
        CHECK(memcmp(t->data, ts[i].data, t->n_bytes) == 0);
        CHECK((uintptr_t)t->data % 64 == 0);   /* the mapping is page-aligned */
    }
    int64_t v = 0;
    CHECK(llm_gguf_get_int(g, "u64", &v) == LLM_ERR_FORMAT);   /* 2^63 + 5 does not fit */
    CHECK_OK(llm_gguf_arr_int(llm_gguf_find_kv(g, "ints"), 1, &v));
    CHECK_EQ_INT(v, -2);
    llm_gguf_close(g);
    if (!getenv("LLM_TEST_KEEP")) remove(p);
}

/* A reader's entries can be handed to the writer as they are: copying a real vocab file
   (written by llama.cpp's gguf-py) gives the same bytes. */
static void test_copy_vocab(void) {
    llm_gguf *a = NULL, *b = NULL;
    CHECK_OK(llm_gguf_open(fixture("tokenizers/ggml-vocab/ggml-vocab-llama-spm.gguf"), &a));
    if (!a) return;
    const char *p = tmp_path("copy.gguf");
    CHECK_OK(llm_gguf_write(p, llm_gguf_kv_at(a, 0), llm_gguf_n_kv(a), NULL, 0));
    CHECK_OK(llm_gguf_open(p, &b));
    if (b) {
        CHECK_EQ_INT(llm_gguf_n_kv(b), llm_gguf_n_kv(a));
        for (int64_t i = 0; i < llm_gguf_n_kv(a) && i < llm_gguf_n_kv(b); i++) CHECK(same_kv(llm_gguf_kv_at(a, i), llm_gguf_kv_at(b, i)));
    }
    size_t n_a = 0, n_b = 0;
    uint8_t *bytes_a = read_all(fixture("tokenizers/ggml-vocab/ggml-vocab-llama-spm.gguf"), &n_a), *bytes_b = read_all(p, &n_b);
    CHECK(bytes_a && bytes_b && n_a == n_b && memcmp(bytes_a, bytes_b, n_a) == 0);
    free(bytes_a);
    free(bytes_b);
    llm_gguf_close(a);
    llm_gguf_close(b);
    if (!getenv("LLM_TEST_KEEP")) remove(p);
}

/* The writer refuses bad input before creating anything. */
static void test_write_invalid(void) {
    llm_gguf_kv kvs[2] = { llm_gguf_kv_u32("a", 1), llm_gguf_kv_u32("a", 2) };
    const char *p = tmp_path("inv.gguf");
    CHECK(llm_gguf_write(p, kvs, 2, NULL, 0) == LLM_ERR_INVALID_ARG);
    kvs[1] = llm_gguf_kv_u32("general.alignment", 12);
    CHECK(llm_gguf_write(p, kvs, 2, NULL, 0) == LLM_ERR_INVALID_ARG);
    uint8_t q[18] = { 0 };
    llm_tensor t = { .name = "w", .dtype = LLM_DTYPE_Q4_0, .n_dims = 2, .shape = { 32, 1 }, .data = q, .n_bytes = 18 };
    CHECK(llm_gguf_write(p, kvs, 1, &t, 1) == LLM_ERR_INVALID_ARG);
    CHECK(strstr(llm_last_error(), "not a multiple of the q4_0 block size 32") != NULL);
    t.dtype = LLM_DTYPE_BOOL;
    CHECK(llm_gguf_write(p, kvs, 1, &t, 1) == LLM_ERR_UNSUPPORTED);
    CHECK(access(p, F_OK) != 0);
}

/* ---- hostile files ---- */

/* Every proper prefix of a valid file fails cleanly (its last tensor ends the file).
   In memory, so that thousands of opens stay fast; the bytes are copied to an exact-size
   buffer so that ASan sees any read past the end. */
static void test_truncated(void) {
    llm_gguf_kv kvs[32];
    llm_tensor ts[8];
    int n_kv = make_kvs(kvs), n_t = make_tensors(ts);
    const char *p = tmp_path("full.gguf");
    CHECK_OK(llm_gguf_write(p, kvs, n_kv, ts, n_t));
    size_t n = 0;
    uint8_t *all = read_all(p, &n);
    CHECK(all != NULL && n > 1000);
    int n_ok = 0, n_bad_msg = 0;
    for (size_t len = 0; all && len <= n; len++) {
        uint8_t *cut = (uint8_t *)malloc(len ? len : 1);
        memcpy(cut, all, len);
        llm_gguf *g = NULL;
        llm_status s = llm_gguf_open_memory(cut, len, "cut.gguf", &g);
        if (s == LLM_OK) { n_ok++; llm_gguf_close(g); }
        else if ((s != LLM_ERR_FORMAT || !strstr(llm_last_error(), "cut.gguf")) && n_bad_msg++ < 3)
            printf("  length %zu: %s: %s\n", len, llm_status_str(s), llm_last_error());
        free(cut);
    }
    CHECK_EQ_INT(n_ok, 1);        /* only the whole file */
    CHECK_EQ_INT(n_bad_msg, 0);
    free(all);
    remove(p);
}

/* Walk everything an opened file exposes (ASan checks the reads). */
static uint64_t touch_all(const llm_gguf *g) {
    uint64_t sum = 0;
    for (int64_t i = 0; i < llm_gguf_n_kv(g); i++) {
        const llm_gguf_kv *kv = llm_gguf_kv_at(g, i);
        sum += strlen(kv->key);
        if (kv->type == LLM_GGUF_STRING) sum += strlen(kv->v.str.str);
        if (kv->type == LLM_GGUF_ARRAY && kv->arr_type == LLM_GGUF_STRING)
            for (int64_t j = 0; j < kv->n; j++) sum += strlen(((const llm_gguf_str *)kv->v.arr)[j].str);
        CHECK(llm_gguf_find_kv(g, kv->key) == kv);
    }
    for (int64_t i = 0; i < llm_gguf_n_tensors(g); i++) {
        const llm_tensor *t = llm_gguf_tensor(g, i);
        for (size_t j = 0; j < t->n_bytes; j++) sum += ((const uint8_t *)t->data)[j];
        CHECK(llm_gguf_find_tensor(g, t->name) == t);
    }
    return sum;
}

/* Random byte changes in the header of a valid file (in memory): every open either
   succeeds (and everything it exposes is readable) or fails with a message naming it. */
static void test_mutations(void) {
    llm_gguf_kv kvs[32];
    llm_tensor ts[8];
    int n_kv = make_kvs(kvs), n_t = make_tensors(ts);
    const char *p = tmp_path("orig.gguf");
    CHECK_OK(llm_gguf_write(p, kvs, n_kv, ts, n_t));
    size_t n = 0;
    uint8_t *all = read_all(p, &n), *buf = (uint8_t *)malloc(n);
    static const uint8_t special[] = { 0x00, 0x01, 0x07, 0x08, 0x09, 0x0d, 0x20, 0x7f, 0x80, 0xfe, 0xff };
    uint64_t rng = 12345;
    int n_ok = 0, n_bad_msg = 0;
    for (int it = 0; all && buf && it < 3000; it++) {
        memcpy(buf, all, n);
        for (int k = 0; k <= it % 3; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(rng >> 33) % (n < 1024 ? n : 1024);
            buf[pos] = (rng >> 20) & 1 ? special[(rng >> 24) % sizeof special] : (uint8_t)(rng >> 12);
        }
        llm_gguf *g = NULL;
        if (llm_gguf_open_memory(buf, n, "mut.gguf", &g) == LLM_OK) { n_ok++; touch_all(g); llm_gguf_close(g); }
        else if (!strstr(llm_last_error(), "mut.gguf") && n_bad_msg++ < 3) printf("  message: %s\n", llm_last_error());
    }
    CHECK_EQ_INT(n_bad_msg, 0);
    CHECK(n_ok > 0 && n_ok < 3000);   /* some mutations hit only values, most break the structure */
    free(all);
    free(buf);
    remove(p);
}

typedef struct { uint8_t b[1024]; size_t n; } bytes;
static void put(bytes *b, const void *p, size_t n) { memcpy(b->b + b->n, p, n); b->n += n; }
static void u32(bytes *b, uint32_t v) { put(b, &v, 4); }
static void u64(bytes *b, uint64_t v) { put(b, &v, 8); }
static void str(bytes *b, const char *s) { u64(b, strlen(s)); put(b, s, strlen(s)); }
static void header(bytes *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b->n = 0;
    put(b, "GGUF", 4); u32(b, version); u64(b, n_tensors); u64(b, n_kv);
}
/* A tensor info with up to 2 dims (ggml order). */
static void info(bytes *b, const char *name, uint32_t n_dims, uint64_t ne0, uint64_t ne1, uint32_t type, uint64_t off) {
    str(b, name); u32(b, n_dims);
    if (n_dims > 0) u64(b, ne0);
    if (n_dims > 1) u64(b, ne1);
    u32(b, type); u64(b, off);
}
static void pad_data(bytes *b, size_t data_bytes) {
    while (b->n % 32) b->b[b->n++] = 0;
    memset(b->b + b->n, 0, data_bytes);
    b->n += data_bytes;
}

static void expect_bad(const bytes *b, llm_status want, const char *needle) {
    const char *p = tmp_path("bad.gguf");
    write_bytes(p, b->b, b->n);
    llm_gguf *g = NULL;
    llm_status s = llm_gguf_open(p, &g);
    bool ok = s == want && strstr(llm_last_error(), needle) && strstr(llm_last_error(), "bad.gguf");
    if (!ok) printf("  want '%s', got %s: %s\n", needle, llm_status_str(s), llm_last_error());
    CHECK(ok);
    CHECK(g == NULL);
    if (g) llm_gguf_close(g);
    remove(p);
}

static void test_hostile_header(void) {
    bytes b;
    header(&b, 3, 0, 0); b.b[0] = 'X';
    expect_bad(&b, LLM_ERR_FORMAT, "not a GGUF file");
    llm_gguf *g = NULL;
    CHECK(llm_gguf_open_memory(NULL, 0, NULL, &g) == LLM_ERR_FORMAT && g == NULL);
    CHECK_STR(llm_last_error(), "<memory>: not a GGUF file (it does not start with \"GGUF\")");
    CHECK(llm_gguf_open(tmp_path("missing.gguf"), &g) == LLM_ERR_IO && strstr(llm_last_error(), "missing.gguf: cannot open"));
    header(&b, 1, 0, 0);
    expect_bad(&b, LLM_ERR_UNSUPPORTED, "GGUF v1 is not supported");
    header(&b, 0x03000000u, 0, 0);
    expect_bad(&b, LLM_ERR_UNSUPPORTED, "big-endian");
    header(&b, 4, 0, 0);
    expect_bad(&b, LLM_ERR_UNSUPPORTED, "GGUF version 4");
    header(&b, 3, 0, UINT64_MAX);
    expect_bad(&b, LLM_ERR_FORMAT, "more than the file");
    header(&b, 3, UINT64_MAX - 1, 1); str(&b, "k"); u32(&b, LLM_GGUF_U8); put(&b, "x", 1);
    expect_bad(&b, LLM_ERR_FORMAT, "more than the file");
    header(&b, 2, 0, 1); u64(&b, UINT64_MAX); put(&b, "abcdefghijklmnop", 16);
    expect_bad(&b, LLM_ERR_FORMAT, "key of metadata entry 0 runs past the end");
    header(&b, 3, 0, 1); str(&b, "k"); u32(&b, LLM_GGUF_STRING); u64(&b, 1ull << 62); put(&b, "abc", 3);
    expect_bad(&b, LLM_ERR_FORMAT, "string value of k runs past the end");
    header(&b, 3, 0, 1); str(&b, "k"); u32(&b, 13); u32(&b, 0);
    expect_bad(&b, LLM_ERR_FORMAT, "'k' has unknown value type 13");
    header(&b, 3, 0, 1); str(&b, "arr"); u32(&b, LLM_GGUF_ARRAY); u32(&b, LLM_GGUF_U32); u64(&b, UINT64_MAX / 4 + 1); u32(&b, 0);
    expect_bad(&b, LLM_ERR_FORMAT, "'arr' claims 4611686018427387904 elements");
    header(&b, 3, 0, 1); str(&b, "arr"); u32(&b, LLM_GGUF_ARRAY); u32(&b, LLM_GGUF_STRING); u64(&b, UINT64_MAX); u64(&b, 0);
    expect_bad(&b, LLM_ERR_FORMAT, "claims 18446744073709551615 elements");
    header(&b, 3, 0, 1); str(&b, "arr"); u32(&b, LLM_GGUF_ARRAY); u32(&b, LLM_GGUF_ARRAY); u64(&b, 1); u64(&b, 0);
    expect_bad(&b, LLM_ERR_UNSUPPORTED, "'arr' is an array of arrays");
    header(&b, 3, 0, 1); str(&b, "arr"); u32(&b, LLM_GGUF_ARRAY); u32(&b, 99); u64(&b, 1); u64(&b, 0);
    expect_bad(&b, LLM_ERR_FORMAT, "array of unknown value type 99");
    header(&b, 3, 0, 2); str(&b, "k"); u32(&b, LLM_GGUF_U8); put(&b, "x", 1); str(&b, "k"); u32(&b, LLM_GGUF_U8); put(&b, "y", 1);
    expect_bad(&b, LLM_ERR_FORMAT, "key 'k' appears twice");
    header(&b, 3, 0, 1); str(&b, "general.alignment"); u32(&b, LLM_GGUF_U32); u32(&b, 48);
    expect_bad(&b, LLM_ERR_FORMAT, "general.alignment 48 is not a power of two");
    header(&b, 3, 0, 1); str(&b, "general.alignment"); u32(&b, LLM_GGUF_U64); u64(&b, 32);
    expect_bad(&b, LLM_ERR_FORMAT, "general.alignment is u64, expected u32");
}

static void test_hostile_tensors(void) {
    bytes b;
    header(&b, 3, 1, 0); info(&b, "w", 2, 32, 2, 77, 0); pad_data(&b, 64);
    expect_bad(&b, LLM_ERR_FORMAT, "tensor 'w' has unknown ggml type 77");
    header(&b, 3, 1, 0); info(&b, "w", 2, 256, 1, 16, 0); pad_data(&b, 66);
    expect_bad(&b, LLM_ERR_UNSUPPORTED, "ggml type iq2_xxs, which llm.h does not support");
    header(&b, 3, 1, 0); str(&b, "w"); u32(&b, 5); pad_data(&b, 64);
    expect_bad(&b, LLM_ERR_FORMAT, "tensor 'w' has 5 dims");
    header(&b, 3, 1, 0); info(&b, "w", 2, 1ull << 32, 1ull << 32, 0, 0); pad_data(&b, 32);
    expect_bad(&b, LLM_ERR_FORMAT, "dims whose product overflows");
    header(&b, 3, 1, 0); info(&b, "w", 1, 1ull << 62, 0, 0, 0); pad_data(&b, 32);
    expect_bad(&b, LLM_ERR_FORMAT, "too large");
    header(&b, 3, 1, 0); info(&b, "w", 2, 8, 2, 0, 0); pad_data(&b, 60);
    expect_bad(&b, LLM_ERR_FORMAT, "tensor 'w' (64 bytes at data offset 0) runs past the end of the file");
    header(&b, 3, 1, 0); info(&b, "w", 1, 8, 0, 0, UINT64_MAX - 31); pad_data(&b, 64);
    expect_bad(&b, LLM_ERR_FORMAT, "runs past the end of the file");
    header(&b, 3, 1, 0); info(&b, "w", 1, 8, 0, 0, 16); pad_data(&b, 64);
    expect_bad(&b, LLM_ERR_FORMAT, "offset 16, not a multiple of the alignment 32");
    header(&b, 3, 1, 0); info(&b, "w", 2, 33, 1, 2, 0); pad_data(&b, 64);
    expect_bad(&b, LLM_ERR_FORMAT, "rows of 33 elements, not a multiple of the q4_0 block size 32");
    header(&b, 3, 1, 0); info(&b, "w", 0, 0, 0, 8, 0); pad_data(&b, 64);
    expect_bad(&b, LLM_ERR_FORMAT, "rows of 1 elements, not a multiple of the q8_0 block size 32");
    header(&b, 3, 2, 0); info(&b, "a", 1, 16, 0, 0, 0); info(&b, "b", 1, 8, 0, 0, 32); pad_data(&b, 96);
    expect_bad(&b, LLM_ERR_FORMAT, "tensors 'a' and 'b' overlap");
    header(&b, 3, 2, 0); info(&b, "a", 1, 8, 0, 0, 0); info(&b, "a", 1, 8, 0, 0, 32); pad_data(&b, 64);
    expect_bad(&b, LLM_ERR_FORMAT, "tensor 'a' appears twice");
    /* and a well-formed one of the same shape opens */
    header(&b, 3, 2, 0); info(&b, "a", 1, 8, 0, 0, 0); info(&b, "b", 2, 32, 1, 8, 32); pad_data(&b, 32 + 34);
    b.b[4] = 2;   /* as GGUF v2, which has the same layout */
    const char *p = tmp_path("good.gguf");
    write_bytes(p, b.b, b.n);
    llm_gguf *g = NULL;
    CHECK_OK(llm_gguf_open(p, &g));
    if (g) CHECK_EQ_INT(llm_gguf_version(g), 2);
    const llm_tensor *t = NULL;
    if (g) CHECK_OK(llm_gguf_get_tensor(g, "b", &t));
    CHECK(t && t->dtype == LLM_DTYPE_Q8_0 && t->n_dims == 2 && t->shape[0] == 1 && t->shape[1] == 32 && t->n_bytes == 34);
    llm_gguf_close(g);
    remove(p);
}

int main(void) {
    RUN(test_vocab_files);
    RUN(test_vocab_details);
    RUN(test_write_roundtrip);
    RUN(test_copy_vocab);
    RUN(test_write_invalid);
    RUN(test_truncated);
    RUN(test_mutations);
    RUN(test_hostile_header);
    RUN(test_hostile_tensors);
    return TEST_MAIN_END();
}
