/* test_chat_template.c - the Jinja chat-template interpreter against real Jinja2.
   - every chat[] case of the llama3/qwen3/gemma3 tokenizer fixtures (rendered by
     transformers' apply_chat_template), byte for byte;
   - tests/data/chat_template_cases.json (made by tests/tools/gen_chat_cases.py with
     Jinja2 in transformers' environment): one small template per feature, and extra
     conversations (tools, thinking, content parts, errors) for the fixture templates;
   - syntax errors name their line; hostile templates fail cleanly within the limits. */
#define LLM_JINJA_MAX_STEPS 200000       /* keep the runaway-loop test fast */
#define LLM_IMPLEMENTATION
#include "llm.h"
#include "test.h"

static const char *data_cases = "tests/data/chat_template_cases.json";

static char *render(const llm_chat_template *t, const char *msgs, const char *tools, bool agp, const char *kwargs, llm_status *st) {
    char *out = NULL;
    size_t n = 0;
    *st = llm_chat_template_render(t, msgs, tools, agp, kwargs, &out, &n);
    if (*st == LLM_OK && strlen(out) != n) { printf("  length mismatch\n"); *st = LLM_ERR_FORMAT; }
    return out;
}

/* Print where two renderings first differ. */
static void show_diff(const char *name, const char *got, const char *want) {
    size_t i = 0;
    while (got[i] && got[i] == want[i]) i++;
    size_t from = i > 40 ? i - 40 : 0;
    printf("  %s: differs at byte %zu\n    got:  \"%.80s\"\n    want: \"%.80s\"\n", name, i, got + from, want + from);
}

static llm_chat_template *fixture_template(const char *fx) {
    char rel[256];
    snprintf(rel, sizeof rel, "tokenizers/%s", fx);
    llm_chat_template *t = NULL;
    llm_status s = llm_chat_template_load(fixture(rel), NULL, &t);
    if (s != LLM_OK) printf("  %s: %s\n", fx, llm_last_error());
    return t;
}

/* The acceptance test: transformers' own renderings in the tokenizer fixtures. */
static void test_fixture_cases(void) {
    static const char *const fxs[] = { "llama3", "qwen3", "gemma3" };
    int n_cases = 0;
    for (int f = 0; f < 3; f++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tokenizers/%s/cases.json", fxs[f]);
        cJSON *root = NULL;
        if (llm__json_load(fixture(rel), &root) != LLM_OK) SKIP("tokenizer fixtures not found");
        llm_chat_template *t = fixture_template(fxs[f]);
        CHECK(t != NULL);
        const cJSON *c;
        cJSON_ArrayForEach(c, llm__json_get(root, "chat")) {
            const cJSON *args = llm__json_get(c, "case");
            char *msgs = cJSON_PrintUnformatted(llm__json_get(args, "messages"));
            char *tools = llm__json_has(args, "tools") ? cJSON_PrintUnformatted(llm__json_get(args, "tools")) : NULL;
            llm_status st;
            char *out = t ? render(t, msgs, tools, llm__json_bool(args, "add_generation_prompt", false), NULL, &st) : NULL;
            const char *want = llm__json_str(c, "rendered", NULL);
            if (want) {
                CHECK_OK(st);
                if (out && strcmp(out, want)) { show_diff(llm__json_str(c, "name", "?"), out, want); CHECK(0); }
            } else CHECK(st != LLM_OK);
            n_cases++;
            llm_free(out);
            free(msgs);
            free(tools);
        }
        llm_chat_template_free(t);
        cJSON_Delete(root);
    }
    printf("  %d fixture chat cases\n", n_cases);
    CHECK(n_cases >= 12);
}

/* Cases generated with Jinja2: expected output, or an error where Jinja2 raised. */
static void test_jinja2_cases(void) {
    cJSON *root = NULL;
    CHECK_OK(llm__json_load(data_cases, &root));
    if (!root) return;
    llm_chat_template *fx[3] = { fixture_template("llama3"), fixture_template("qwen3"), fixture_template("gemma3") };
    int n = 0, n_err = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, llm__json_get(root, "cases")) {
        const char *name = llm__json_str(c, "name", "?"), *fxname = llm__json_str(c, "fixture", NULL);
        llm_chat_template *own = NULL, *t = NULL;
        llm_status st = LLM_OK;
        if (fxname) t = fx[!strcmp(fxname, "qwen3") ? 1 : !strcmp(fxname, "gemma3") ? 2 : 0];
        else st = llm_chat_template_parse(llm__json_str(c, "template", ""), "<s>", "</s>", &own), t = own;
        const char *want = llm__json_str(c, "expected", NULL);
        char *out = NULL;
        if (t) out = render(t, llm__json_str(c, "messages", "[]"), llm__json_str(c, "tools", NULL),
                            llm__json_bool(c, "add_generation_prompt", false), llm__json_str(c, "kwargs", NULL), &st);
        if (want && (st != LLM_OK || !out)) { printf("  %s: failed: %s\n", name, llm_last_error()); CHECK(0); }
        else if (want && strcmp(out, want)) { show_diff(name, out, want); CHECK(0); }
        else if (!want && st == LLM_OK) { printf("  %s: rendered, but Jinja2 raised %s\n", name, llm__json_str(c, "error", "")); CHECK(0); }
        n_err += !want;
        n++;
        llm_free(out);
        llm_chat_template_free(own);
    }
    printf("  %d cases from Jinja2 %s (%d of them errors)\n", n, llm__json_str(root, "jinja2", "?"), n_err);
    CHECK(n >= 80);
    for (int i = 0; i < 3; i++) llm_chat_template_free(fx[i]);
    cJSON_Delete(root);
}

/* raise_exception's text reaches llm_last_error(). */
static void test_raise_message(void) {
    llm_chat_template *t = fixture_template("gemma3");
    if (!t) return;
    char *out = NULL;
    llm_status s = llm_chat_template_render(t, "[{\"role\":\"assistant\",\"content\":\"x\"}]", NULL, true, NULL, &out, NULL);
    CHECK_EQ_INT(s, LLM_ERR_FORMAT);
    CHECK(strstr(llm_last_error(), "Conversation roles must alternate") != NULL);
    CHECK(out == NULL);
    s = llm_chat_template_render(t, "[{\"role\":", NULL, true, NULL, &out, NULL);
    CHECK_EQ_INT(s, LLM_ERR_INVALID_ARG);
    CHECK(strstr(llm_last_error(), "messages") != NULL);
    llm_chat_template_free(t);
}

/* Syntax errors: LLM_ERR_FORMAT naming the line and the problem. */
static void test_syntax_errors(void) {
    static const struct { const char *src, *line, *what; } cases[] = {
        { "a\n{% if x %}\nb", "line 2", "never closed" },
        { "{% for x in y %}{% endif %}", "line 1", "endif" },
        { "a\nb\n{{ x + }}", "line 3", "unexpected" },
        { "{{ x", "line 1", "unterminated" },
        { "\n\n{% foo %}", "line 3", "unknown tag 'foo'" },
        { "{# never closed", "line 1", "comment" },
        { "{{ 'abc }}", "line 1", "string" },
        { "{% if %}{% endif %}", "line 1", "unexpected" },
        { "{{ a ]] }}", "line 1", "unbalanced" },
        { "{% endfor %}", "line 1", "endfor" },
        { "{% set x = 1 %}\n{% else %}", "line 2", "else" },
        { "{{ x | }}", "line 1", "name" },
        { "{% macro m(a %}{% endmacro %}", "line 1", "unterminated" },
        { "{% macro m(a b) %}{% endmacro %}", "line 1", "expected ','" },
        { "{{ 99999999999999999999 }}", "line 1", "too large" },
        { "{{ x @ y }}", "line 1", "unexpected character" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llm_chat_template *t = NULL;
        llm_status s = llm_chat_template_parse(cases[i].src, NULL, NULL, &t);
        CHECK_EQ_INT(s, LLM_ERR_FORMAT);
        CHECK(t == NULL);
        if (!strstr(llm_last_error(), cases[i].line) || !strstr(llm_last_error(), cases[i].what)) {
            printf("  template %zu: \"%s\" does not mention %s / %s\n", i, llm_last_error(), cases[i].line, cases[i].what);
            CHECK(0);
        }
    }
}

/* Hostile templates: deep nesting, runaway loops and recursion, huge output. */
static void test_hostile(void) {
    static char deep[20000];
    const char *parse_bad[] = { NULL, NULL, NULL };
    size_t k = 0;
    for (int i = 0; i < 1000; i++) k += (size_t)sprintf(deep + k, "{%% if x %%}");
    parse_bad[0] = deep;
    static char parens[4000];
    memset(parens, '(', 3000);
    memcpy(parens, "{{ ", 3);
    parse_bad[1] = parens;
    parse_bad[2] = "{{ [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ }}";
    for (int i = 0; i < 3; i++) {
        llm_chat_template *t = NULL;
        CHECK_EQ_INT(llm_chat_template_parse(parse_bad[i], NULL, NULL, &t), LLM_ERR_FORMAT);
    }
    const char *run_bad[] = {
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",   /* steps */
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",                            /* recursion */
        "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",  /* size */
        "{% set ns = namespace() %}{% set ns.self = ns %}{{ ns }}",                           /* cyclic value */
        "{{ 'x' * 100000000000 }}",
    };
    for (size_t i = 0; i < sizeof run_bad / sizeof run_bad[0]; i++) {
        llm_chat_template *t = NULL;
        CHECK_OK(llm_chat_template_parse(run_bad[i], NULL, NULL, &t));
        if (!t) continue;
        char *out = NULL;
        CHECK_EQ_INT(llm_chat_template_render(t, "[]", NULL, false, NULL, &out, NULL), LLM_ERR_FORMAT);
        llm_chat_template_free(t);
    }
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) { fputs(text, f); fclose(f); }
}

static void expect_render(const char *path, const char *name, const char *want) {
    llm_chat_template *t = NULL;
    CHECK_OK(llm_chat_template_load(path, name, &t));
    if (!t) return;
    llm_status st;
    char *out = render(t, "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL, false, NULL, &st);
    CHECK_OK(st);
    CHECK_STR(out, want);
    llm_free(out);
    llm_chat_template_free(t);
}

/* Where templates come from: named lists, AddedToken objects, chat_template.jinja. */
static void test_load(void) {
    char dir[] = "/tmp/llm_chat_XXXXXX";
    if (!mkdtemp(dir)) SKIP("no temp dir");
    write_file(dir, "tokenizer_config.json",
               "{\"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<B>\"}, \"eos_token\": \"<E>\", \"chat_template\": ["
               "{\"name\": \"default\", \"template\": \"D{{ bos_token }}{{ messages[0].content }}{{ eos_token }}\"},"
               "{\"name\": \"tool_use\", \"template\": \"T{{ tools }}\"}]}");
    expect_render(dir, NULL, "D<B>hi<E>");
    expect_render(dir, "tool_use", "TNone");
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
    expect_render(cfg, NULL, "D<B>hi<E>");
    llm_chat_template *t = NULL;
    CHECK_EQ_INT(llm_chat_template_load(dir, "nope", &t), LLM_ERR_NOT_FOUND);
    write_file(dir, "chat_template.jinja", "J{{ messages | length }}{{ bos_token }}\n");
    expect_render(dir, NULL, "J1<B>");
    CHECK(strstr(llm_last_error(), "") != NULL);
    char sub[600];
    snprintf(sub, sizeof sub, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(sub), 0);
    CHECK(llm_chat_template_load(dir, NULL, &t) != LLM_OK);
}

int main(void) {
    RUN(test_fixture_cases);
    RUN(test_jinja2_cases);
    RUN(test_raise_message);
    RUN(test_syntax_errors);
    RUN(test_hostile);
    RUN(test_load);
    return TEST_MAIN_END();
}
