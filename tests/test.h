/* test.h - the tiny harness every tests/test_*.c uses.
   CHECK(cond), CHECK_EQ_INT(a, b), CHECK_NEAR(a, b, tol), CHECK_OK(status) record a failure
   with file:line and keep going; RUN(fn) runs one test function; SKIP("why") inside a test
   skips the rest of it; TEST_MAIN_END() prints "N passed, N failed, N skipped" and returns
   the exit code. fixture("models/dev/llama") gives a path under $LLM_FIXTURES
   (default ../shared/fixtures). */
#ifndef LLM_TEST_H
#define LLM_TEST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static int test__passed, test__failed, test__skipped, test__cur_failed, test__cur_skipped;

#define CHECK(cond) do { if (!(cond)) { test__cur_failed++; \
    printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); if (a_ != b_) { test__cur_failed++; \
    printf("  %s:%d: CHECK_EQ_INT(%s, %s) failed: got %lld, want %lld\n", __FILE__, __LINE__, #a, #b, a_, b_); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double a_ = (double)(a), b_ = (double)(b); if (!(fabs(a_ - b_) <= (tol))) { test__cur_failed++; \
    printf("  %s:%d: CHECK_NEAR(%s, %s, %g) failed: got %.9g, want %.9g\n", __FILE__, __LINE__, #a, #b, (double)(tol), a_, b_); } } while (0)
#define CHECK_OK(expr) do { llm_status s_ = (expr); if (s_ != LLM_OK) { test__cur_failed++; \
    printf("  %s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #expr, llm_status_str(s_), llm_last_error()); } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); if (!a_ || !b_ || strcmp(a_, b_) != 0) { test__cur_failed++; \
    printf("  %s:%d: CHECK_STR(%s, %s) failed: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } } while (0)
#define SKIP(why) do { test__cur_skipped = 1; printf("  skipped: %s\n", why); return; } while (0)

#define RUN(fn) do { test__cur_failed = 0; test__cur_skipped = 0; fn(); \
    if (test__cur_failed) { test__failed++; printf("FAIL %s\n", #fn); } \
    else if (test__cur_skipped) { test__skipped++; printf("skip %s\n", #fn); } \
    else { test__passed++; printf("ok   %s\n", #fn); } fflush(stdout); } while (0)

#define TEST_MAIN_END() (printf("%d passed, %d failed, %d skipped\n", test__passed, test__failed, test__skipped), test__failed != 0)

static const char *fixture(const char *rel) {
    static char buf[8][4096];
    static int k;
    const char *root = getenv("LLM_FIXTURES");
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", root && *root ? root : "../shared/fixtures", rel);
    return b;
}


/* Largest |a[i] - b[i]|. */
static double max_abs_diff(const float *a, const float *b, long n) {
    double m = 0;
    for (long i = 0; i < n; i++) { double d = fabs((double)a[i] - (double)b[i]); if (d > m || d != d) m = d; }
    return m;
}

#ifdef LLM_H_INCLUDED
/* A fixture model of ../shared/fixtures/models/dev/<family> (NULL, and a failed check, if it does not load). */
static llm_model *dev_model(const char *family) {
    llm_model *m = NULL;
    char dir[512];
    snprintf(dir, sizeof dir, "%s%s", fixture("models/dev/"), family);
    CHECK_OK(llm_model_load(dir, NULL, &m));
    return m;
}

/* max |logits - reference| of the model at path over the prompt of models/dev/<ref_family>/ref.safetensors
   (1e9 when something does not load). */
static double ref_logits_err(const char *path, const char *ref_family) {
    char refp[1024];
    snprintf(refp, sizeof refp, "%s%s/ref.safetensors", fixture("models/dev/"), ref_family);
    llm_safetensors *ref = NULL;
    llm_model *m = NULL;
    llm_session *s = NULL;
    double err = 1e9;
    CHECK_OK(llm_safetensors_open(refp, &ref));
    CHECK_OK(llm_model_load(path, NULL, &m));
    llm_session_desc sd = { .n_ctx = 64, .n_threads = 2 };
    if (m) CHECK_OK(llm_session_create(m, &sd, &s));
    if (ref && s) {
        const llm_tensor *ids = llm_safetensors_find(ref, "input_ids"), *want = llm_safetensors_find(ref, "logits");
        float *l = (float *)malloc(want->n_bytes);
        CHECK_OK(llm_session_eval(s, (const llm_token *)ids->data, ids->shape[0], l));
        err = max_abs_diff(l, (const float *)want->data, (long)(want->n_bytes / sizeof(float)));
        free(l);
    }
    llm_session_destroy(s);
    llm_model_free(m);
    llm_safetensors_close(ref);
    return err;
}
#endif
#endif
