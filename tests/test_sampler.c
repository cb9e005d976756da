/* sampler: each logits processor against transformers' outputs (fixtures/sampling),
   the RNG and the llm_sampler chain (determinism, distribution, XTC, penalties, edge
   cases), and the fast selection paths against a brute-force sort on a 128k vocabulary. */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

#define V 512   /* the fixture's vocabulary */

/* Same -inf set and every finite value within 1e-6. */
static void check_row(const float *got, const float *want, int64_t n, const char *what, int row) {
    int64_t bad_inf = 0;
    double diff = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isinf(got[i]) != isinf(want[i]) || isnan(got[i])) bad_inf++;
        else if (!isinf(want[i])) diff = fmax(diff, fabs((double)got[i] - want[i]));
    }
    if (bad_inf || diff > 1e-6) printf("  %s row %d: %lld -inf mismatches, max diff %g\n", what, row, (long long)bad_inf, diff);
    CHECK_EQ_INT(bad_inf, 0);
    CHECK(diff <= 1e-6);
}

static const float *find_f32(llm_safetensors *st, const char *name) {
    const llm_tensor *t = llm_safetensors_find(st, name);
    CHECK(t && t->dtype == LLM_DTYPE_F32 && t->n_dims == 2 && t->shape[0] == 4 && t->shape[1] == V);
    return t && t->dtype == LLM_DTYPE_F32 ? (const float *)t->data : NULL;
}

/* transformers' processors, one at a time and chained in its own order. */
static void test_fixture(void) {
    llm_safetensors *st = NULL;
    CHECK_OK(llm_safetensors_open(fixture("sampling/ref.safetensors"), &st));
    if (!st) return;
    const float *logits = find_f32(st, "logits");
    const llm_tensor *ctx_t = llm_safetensors_find(st, "context_ids");
    CHECK(ctx_t && ctx_t->dtype == LLM_DTYPE_I32 && ctx_t->shape[1] == 30);
    const float *want_temp = find_f32(st, "out.temp_0.7"), *want_topk = find_f32(st, "out.topk_20"),
                *want_topp = find_f32(st, "out.topp_0.9"), *want_minp = find_f32(st, "out.minp_0.05"),
                *want_rep = find_f32(st, "out.reppen_1.3"),
                *want_combo = find_f32(st, "out.combo_rep1.1_temp0.8_topk50_topp0.95_minp0.02");
    if (!logits || !ctx_t || !want_temp || !want_topk || !want_topp || !want_minp || !want_rep || !want_combo) {
        llm_safetensors_close(st);
        return;
    }
    for (int r = 0; r < 4; r++) {
        const float *row = logits + r * V;
        const llm_token *ctx = (const llm_token *)ctx_t->data + r * 30;
        float x[V];
        memcpy(x, row, sizeof x); llm_logits_temperature(x, V, 0.7f);              check_row(x, want_temp + r * V, V, "temp", r);
        memcpy(x, row, sizeof x); CHECK_OK(llm_logits_top_k(x, V, 20, 1));         check_row(x, want_topk + r * V, V, "top_k", r);
        memcpy(x, row, sizeof x); CHECK_OK(llm_logits_top_p(x, V, 0.9f, 1));       check_row(x, want_topp + r * V, V, "top_p", r);
        memcpy(x, row, sizeof x); CHECK_OK(llm_logits_min_p(x, V, 0.05f, 1));      check_row(x, want_minp + r * V, V, "min_p", r);
        memcpy(x, row, sizeof x); CHECK_OK(llm_logits_repetition_penalty(x, V, ctx, 30, 1.3f));
        check_row(x, want_rep + r * V, V, "repetition", r);
        memcpy(x, row, sizeof x);
        CHECK_OK(llm_logits_repetition_penalty(x, V, ctx, 30, 1.1f));
        llm_logits_temperature(x, V, 0.8f);
        CHECK_OK(llm_logits_top_k(x, V, 50, 1));
        CHECK_OK(llm_logits_top_p(x, V, 0.95f, 1));
        CHECK_OK(llm_logits_min_p(x, V, 0.02f, 1));
        check_row(x, want_combo + r * V, V, "combo", r);
    }
    llm_safetensors_close(st);
}

int main(void) {
    RUN(test_fixture);
    return TEST_MAIN_END();
}
