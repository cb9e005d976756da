/* ---- >>chat: chat templates from model folders, and the public chat-template API ----
   Where transformers finds a model's template: `chat_template.jinja` next to the
   tokenizer (newer models), else `chat_template` in tokenizer_config.json, which is a
   string or a list of {"name", "template"} (the unnamed choice is "default"), else
   chat_template.json ({"chat_template": ...}, older processors). Named templates may also
   be `additional_chat_templates/<name>.jinja`. Rendering passes the variables
   apply_chat_template passes: messages, tools (none if absent), documents (none),
   add_generation_prompt, bos_token and eos_token when the config has them, then the
   caller's extra kwargs. */
#include "10_internal.h"

struct llm_chat_template {
    llm__jctx parse;                 /* owns the arena holding the AST */
    const llm__jnode *root;
    char *source, *bos, *eos;        /* bos/eos NULL when the tokenizer has none */
};


LLM_API void llm_chat_template_free(llm_chat_template *t) {
    if (!t) return;
    llm__jarena_free(&t->parse);
    llm__free(NULL, t->source);
    llm__free(NULL, t->bos);
    llm__free(NULL, t->eos);
    llm__free(NULL, t);
}

LLM_API const char *llm_chat_template_source(const llm_chat_template *t) { return t->source; }

/* The setjmp of a parse: llm__jfail lands here. */
LLM_PRIVATE int llm__chat_compile(llm_chat_template *t) {
    if (setjmp(t->parse.jmp)) return 1;
    t->root = llm__jparse(&t->parse, t->source);
    return 0;
}

LLM_PRIVATE llm_status llm__chat_parse(const char *what, const char *source, const char *bos, const char *eos, llm_chat_template **out) {
    llm_chat_template *t = (llm_chat_template *)llm__calloc(NULL, 1, sizeof *t);
    if (!t) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", what);
    t->source = llm__strdup(NULL, source);
    t->bos = bos ? llm__strdup(NULL, bos) : NULL;
    t->eos = eos ? llm__strdup(NULL, eos) : NULL;
    if (!t->source || (bos && !t->bos) || (eos && !t->eos)) {
        llm_chat_template_free(t);
        return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", what);
    }
    if (llm__chat_compile(t)) {
        llm_status s = llm__fail(LLM_ERR_FORMAT, "%s: %s", what, t->parse.err);
        llm_chat_template_free(t);
        return s;
    }
    t->parse.depth = 0;
    *out = t;
    return LLM_OK;
}

LLM_API llm_status llm_chat_template_parse(const char *source, const char *bos_token, const char *eos_token, llm_chat_template **out_template) {
    LLM_ASSERT(source && out_template);
    return llm__chat_parse("chat template", source, bos_token, eos_token, out_template);
}

/* ---- rendering ---- */

typedef struct llm__chat_input {
    const llm_chat_template *t;
    const char *messages, *tools, *kwargs;
    bool add_generation_prompt;
} llm__chat_input;

LLM_PRIVATE void llm__chat_var(llm__jctx *c, const char *name, llm__jv v) { llm__jdict_set(c, &c->globals->vars, llm__jstrz(name), v); }

/* The setjmp of a render: returns 0, or 1 for a template error, 2 for bad JSON input. */
LLM_PRIVATE int llm__chat_run(llm__jctx *c, const llm__chat_input *in) {
    int jumped = setjmp(c->jmp);
    if (jumped) return jumped;
    c->globals = c->frame = (llm__jframe *)llm__jalloc(c, sizeof(llm__jframe));
    memset(c->globals, 0, sizeof *c->globals);
    c->out = (llm__jbuf *)llm__jalloc(c, sizeof(llm__jbuf));
    memset(c->out, 0, sizeof *c->out);
    llm__jv messages = llm__jjson_parse(c, in->messages, "messages");
    if (messages.t != LLM__JV_LIST) llm__jfail(c, "messages must be a JSON array");
    llm__jv tools = in->tools ? llm__jjson_parse(c, in->tools, "tools") : llm__jnone();
    llm__jv kwargs = in->kwargs ? llm__jjson_parse(c, in->kwargs, "kwargs") : llm__jdict_new(c, LLM__JV_DICT);
    if (kwargs.t != LLM__JV_DICT) { snprintf(c->err, sizeof c->err, "kwargs must be a JSON object"); return 2; }
    llm__chat_var(c, "messages", messages);
    llm__chat_var(c, "tools", tools);
    llm__chat_var(c, "documents", llm__jnone());
    llm__chat_var(c, "add_generation_prompt", llm__jbool(in->add_generation_prompt));
    if (in->t->bos) llm__chat_var(c, "bos_token", llm__jstrz(in->t->bos));
    if (in->t->eos) llm__chat_var(c, "eos_token", llm__jstrz(in->t->eos));
    for (size_t i = 0; i < kwargs.d->n; i++) llm__jdict_set(c, &c->globals->vars, kwargs.d->k[i], kwargs.d->v[i]);
    llm__jexec(c, in->t->root);
    return 0;
}

LLM_API llm_status llm_chat_template_render(const llm_chat_template *t, const char *messages_json, const char *tools_json,
                                            bool add_generation_prompt, const char *kwargs_json,
                                            char **out_text, size_t *out_len) {
    LLM_ASSERT(t && messages_json && out_text);
    llm__chat_input in = { t, messages_json, tools_json, kwargs_json, add_generation_prompt };
    llm__jctx *c = (llm__jctx *)llm__calloc(NULL, 1, sizeof *c);
    if (!c) return llm__fail(LLM_ERR_NOMEM, "chat template: out of memory");
    int r = llm__chat_run(c, &in);
    llm_status s = LLM_OK;
    if (r == 1) s = llm__fail(LLM_ERR_FORMAT, "chat template: %s", c->err);
    else if (r) s = llm__fail(LLM_ERR_INVALID_ARG, "chat template: %s", c->err);
    else {
        char *text = (char *)llm__alloc(NULL, c->out->n + 1);
        if (!text) s = llm__fail(LLM_ERR_NOMEM, "chat template: out of memory for %zu bytes of output", c->out->n);
        else {
            if (c->out->n) memcpy(text, c->out->p, c->out->n);
            text[c->out->n] = 0;
            *out_text = text;
            if (out_len) *out_len = c->out->n;
        }
    }
    llm__jarena_free(c);
    llm__free(NULL, c);
    return s;
}

/* ---- loading from a model folder ---- */

#ifndef LLM_NO_CJSON
/* bos_token / eos_token: "<s>", {"content": "<s>", ...} (AddedToken) or null. */
LLM_PRIVATE const char *llm__chat_token(const cJSON *cfg, const char *key) {
    const cJSON *v = llm__json_get(cfg, key);
    if (cJSON_IsString(v)) return v->valuestring;
    return llm__json_str(v, "content", NULL);
}

/* The template called `name` ("default" when name is NULL) from a chat_template value. */
LLM_PRIVATE const char *llm__chat_pick(const cJSON *tmpl, const char *name) {
    if (cJSON_IsString(tmpl)) return name ? NULL : tmpl->valuestring;
    const cJSON *item;
    cJSON_ArrayForEach(item, tmpl) {
        const char *n = llm__json_str(item, "name", NULL);
        if (n && !strcmp(n, name ? name : "default")) return llm__json_str(item, "template", NULL);
    }
    return NULL;
}

/* Read a .jinja file if it exists: LLM_OK with *out set, LLM_OK with *out NULL, or an error. */
LLM_PRIVATE llm_status llm__chat_read_jinja(const char *path, char **out) {
    *out = NULL;
    return llm__file_exists(path) ? llm__read_file(NULL, path, out, NULL) : LLM_OK;
}
#endif

/* ---- loading from a GGUF file ----
   tokenizer.chat_template (a named one: tokenizer.chat_template.<name>, as llama.cpp
   writes them); bos/eos are the strings of tokenizer.ggml.tokens[bos/eos_token_id]. */

/* The string of the token whose id is metadata `key`, or NULL. */
static const char *llm__chat_gguf_token(const llm_gguf *g, const char *key) {
    int64_t id = -1, n = 0;
    const void *tokens = NULL;
    if (llm_gguf_get_int(g, key, &id) || llm_gguf_get_arr(g, "tokenizer.ggml.tokens", LLM_GGUF_STRING, &n, &tokens)) return NULL;
    return id >= 0 && id < n ? ((const llm_gguf_str *)tokens)[id].str : NULL;
}

static llm_status llm__chat_load_gguf(const char *path, const char *name, llm_chat_template **out) {
    llm_gguf *g = NULL;
    char key[256];
    const char *source = NULL;
    llm_status s = llm_gguf_open(path, &g);
    if (s) return s;
    snprintf(key, sizeof key, "tokenizer.chat_template%s%.200s", name ? "." : "", name ? name : "");
    if ((s = llm_gguf_get_str(g, key, &source)) == LLM_ERR_NOT_FOUND)
        s = name ? llm__fail(LLM_ERR_NOT_FOUND, "%s: no chat template named '%s' (no %s)", path, name, key)
                 : llm__fail(LLM_ERR_NOT_FOUND, "%s: no chat template (no tokenizer.chat_template)", path);
    if (!s) s = llm__chat_parse(path, source, llm__chat_gguf_token(g, "tokenizer.ggml.bos_token_id"),
                                llm__chat_gguf_token(g, "tokenizer.ggml.eos_token_id"), out);
    llm_gguf_close(g);
    return s;
}

LLM_API llm_status llm_chat_template_load(const char *path, const char *name, llm_chat_template **out_template) {
    LLM_ASSERT(path && out_template);
    if (llm__ends_with(path, ".gguf") && !llm__is_dir(path)) return llm__chat_load_gguf(path, name, out_template);
#ifdef LLM_NO_CJSON
    (void)name;
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: chat templates need JSON: built with LLM_NO_CJSON", path);
#else
    char dir[4096], cfg_path[4096], file[4096 + 64];
    bool is_dir = llm__is_dir(path);
    if (is_dir) { snprintf(dir, sizeof dir, "%s", path); if (!llm__path_join(cfg_path, sizeof cfg_path, path, "tokenizer_config.json")) return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", path); }
    else { llm__path_dir(dir, sizeof dir, path); snprintf(cfg_path, sizeof cfg_path, "%s", path); }
    cJSON *cfg = NULL;
    llm_status s = LLM_OK;
    if (llm__file_exists(cfg_path) && (s = llm__json_load(cfg_path, &cfg)) != LLM_OK) return s;
    if (!is_dir && !cfg) return llm__fail(LLM_ERR_IO, "%s: cannot open", path);
    char *jinja = NULL;
    const char *source = NULL, *what = cfg_path;
    if (name) {
        snprintf(file, sizeof file, "%s/additional_chat_templates/%s.jinja", dir, name);
        if (!strchr(name, '/')) s = llm__chat_read_jinja(file, &jinja);
        source = jinja ? jinja : llm__chat_pick(llm__json_get(cfg, "chat_template"), name);
        if (jinja) what = file;
    } else {
        snprintf(file, sizeof file, "%s/chat_template.jinja", dir);
        s = llm__chat_read_jinja(file, &jinja);
        if (jinja) { source = jinja; what = file; }
        else source = llm__chat_pick(llm__json_get(cfg, "chat_template"), NULL);
    }
    cJSON *legacy = NULL;
    snprintf(file, sizeof file, "%s/chat_template.json", dir);
    if (s == LLM_OK && !source && !name && llm__file_exists(file) && (s = llm__json_load(file, &legacy)) == LLM_OK) {
        source = llm__json_str(legacy, "chat_template", NULL);
        what = file;
    }
    if (s == LLM_OK && !source)
        s = name ? llm__fail(LLM_ERR_NOT_FOUND, "%s: no chat template named '%s'", path, name)
                 : llm__fail(LLM_ERR_NOT_FOUND, "%s: no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json)", path);
    if (s == LLM_OK) s = llm__chat_parse(what, source, llm__chat_token(cfg, "bos_token"), llm__chat_token(cfg, "eos_token"), out_template);
    llm__free(NULL, jinja);
    cJSON_Delete(legacy);
    cJSON_Delete(cfg);
    return s;
#endif
}
