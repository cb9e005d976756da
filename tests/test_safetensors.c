/* safetensors: reading the fixtures, writing + reading back, and hostile files. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/llm_test_st_%d_%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
    return b;
}

static void test_read_fixture(void) {
    llm_safetensors *st;
    CHECK_OK(llm_safetensors_open(fixture("models/dev/llama/model.safetensors"), &st));
    if (!st) return;
    CHECK_EQ_INT(llm_safetensors_n_tensors(st), 21);
    const llm_tensor *t = llm_safetensors_find(st, "model.layers.0.self_attn.k_proj.weight");
    CHECK(t != NULL);
    if (t) { CHECK_EQ_INT(t->n_dims, 2); CHECK_EQ_INT(t->shape[0], 32); CHECK_EQ_INT(t->shape[1], 64); CHECK_EQ_INT(t->dtype, LLM_DTYPE_F32); }
    CHECK(llm_safetensors_find(st, "nope") == NULL);
    llm_safetensors_close(st);
}

static void test_read_sharded(void) {
    llm_safetensors *a, *b;
    CHECK_OK(llm_safetensors_open(fixture("models/dev/llama_sharded"), &a));
    CHECK_OK(llm_safetensors_open(fixture("models/dev/llama"), &b));
    if (!a || !b) return;
    CHECK_EQ_INT(llm_safetensors_n_tensors(a), llm_safetensors_n_tensors(b));
    for (int64_t i = 0; i < llm_safetensors_n_tensors(b); i++) {
        const llm_tensor *tb = llm_safetensors_tensor(b, i), *ta = llm_safetensors_find(a, tb->name);
        CHECK(ta && ta->n_bytes == tb->n_bytes && ta->shape[0] == tb->shape[0]);   /* same names and shapes (values differ) */
    }
    llm_safetensors_close(a);
    llm_safetensors_close(b);
}

static void test_write_roundtrip(void) {
    float x[6] = { 1, 2, 3, 4, 5, 6 };
    uint16_t h[3] = { 0x3c00, 0x4000, 0xc000 };
    llm_tensor ts[2] = {
        { .name = "a.weight", .dtype = LLM_DTYPE_F32, .n_dims = 2, .shape = { 2, 3 }, .data = x, .n_bytes = sizeof x },
        { .name = "b", .dtype = LLM_DTYPE_F16, .n_dims = 1, .shape = { 3 }, .data = h, .n_bytes = sizeof h },
    };
    const char *meta[] = { "format", "pt" };
    const char *p = tmp_path("rt.safetensors");
    CHECK_OK(llm_safetensors_write(p, ts, 2, meta, 1));
    llm_safetensors *st;
    CHECK_OK(llm_safetensors_open(p, &st));
    if (!st) return;
    const llm_tensor *a = llm_safetensors_find(st, "a.weight"), *b = llm_safetensors_find(st, "b");
    CHECK(a && a->shape[1] == 3 && memcmp(a->data, x, sizeof x) == 0);
    CHECK(b && b->dtype == LLM_DTYPE_F16 && memcmp(b->data, h, sizeof h) == 0);
    CHECK_STR(llm_safetensors_metadata(st, "format"), "pt");
    llm_safetensors_close(st);
    remove(p);
}

/* Write header JSON + n data bytes, try to open, expect LLM_ERR_FORMAT and `needle` in the message. */
static void expect_bad(const char *json, size_t data_bytes, long hlen_override, const char *needle) {
    const char *p = tmp_path("bad.safetensors");
    FILE *f = fopen(p, "wb");
    uint64_t n = hlen_override >= 0 ? (uint64_t)hlen_override : strlen(json);
    fwrite(&n, 8, 1, f);
    fwrite(json, 1, strlen(json), f);
    for (size_t i = 0; i < data_bytes; i++) fputc(0, f);
    fclose(f);
    llm_safetensors *st = NULL;
    llm_status s = llm_safetensors_open(p, &st);
    CHECK(s == LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), needle) != NULL);
    CHECK(strstr(llm_last_error(), "bad.safetensors") != NULL);
    if (s != LLM_ERR_FORMAT || !strstr(llm_last_error(), needle)) printf("  message was: %s\n", llm_last_error());
    if (st) llm_safetensors_close(st);
    remove(p);
}

static void test_hostile(void) {
    expect_bad("{}", 0, 1000, "past the end");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, -1, "invalid JSON");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, -1, "outside the file");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, -1, "bytes");
    expect_bad("{\"a\":{\"dtype\":\"Q9\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1, "unknown dtype");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, -1, "overlaps");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, -1, "gap");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, -1, "dims");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, -1, "overflow");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, -1, "bad shape");
    expect_bad("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, -1, "needs dtype");
    expect_bad("[1,2]", 0, -1, "not a JSON object");
    /* truncated: a real file cut in half */
    llm__mapping m;
    CHECK_OK(llm__map_file(fixture("models/dev/llama/model.safetensors"), &m));
    const char *p = tmp_path("trunc.safetensors");
    FILE *f = fopen(p, "wb");
    fwrite(m.data, 1, m.size / 2, f);
    fclose(f);
    llm__unmap(&m);
    llm_safetensors *st = NULL;
    CHECK(llm_safetensors_open(p, &st) == LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), "trunc.safetensors") != NULL);
    remove(p);
    CHECK(llm_safetensors_open(tmp_path("missing.safetensors"), &st) == LLM_ERR_IO);
}

int main(void) {
    RUN(test_read_fixture);
    RUN(test_read_sharded);
    RUN(test_write_roundtrip);
    RUN(test_hostile);
    return TEST_MAIN_END();
}
