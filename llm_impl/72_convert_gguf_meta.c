/* ---- >>convert-gguf: metadata (general.*, <arch>.*, tokenizer.ggml.*) and the entry point ----
   The keys convert_hf_to_gguf.py writes for the families we convert and that llama.cpp (and
   our 54_gguf_model.c / 48_tok_gguf.c) read back. */
#include "10_internal.h"
#include "08_api_convert.h"

#ifndef LLM_NO_CJSON

/* ---- hyperparameters ---- */

static void llm__gw_u32(llm__gw *w, const char *key, int64_t v) {
    if (v > 0 && v <= UINT32_MAX) llm__gw_kv(w, llm_gguf_kv_u32(llm__gw_key(w, key), (uint32_t)v));
}

static void llm__gw_f32(llm__gw *w, const char *key, double v) { llm__gw_kv(w, llm_gguf_kv_f32(llm__gw_key(w, key), (float)v)); }

/* Gemma 2/3 layers that slide: llama.cpp assumes every other layer (Gemma 2) or all but
   every 6th (Gemma 3); another pattern (config.json's layer_types) is written per layer as
   <arch>.attention.sliding_window_pattern, bools (llama.cpp's key for it). */
static void llm__gguf_sliding_pattern(llm__gw *w, const llm__hparams *hp) {
    int version = !strcmp(w->arch, "gemma2") ? 2 : !strcmp(w->arch, "gemma3") ? 3 : 0;
    bool same = true;
    for (int64_t il = 0; il < hp->n_layers && version && hp->sliding_window > 0; il++)
        same &= !hp->layer_sliding[il] == !(version == 2 ? il % 2 == 0 : (il + 1) % 6 != 0);
    if (same) return;
    uint8_t *b = (uint8_t *)llm__gw_own(w, malloc((size_t)hp->n_layers + 1));
    for (int64_t il = 0; b && il < hp->n_layers; il++) b[il] = hp->layer_sliding[il] != 0;
    if (b) llm__gw_kv(w, llm_gguf_kv_arr(llm__gw_key(w, "attention.sliding_window_pattern"), LLM_GGUF_BOOL, hp->n_layers, b));
}

static void llm__gguf_write_hparams(llm__gw *w, const llm__hparams *hp) {
    llm__gw_u32(w, "vocab_size", hp->n_vocab);
    llm__gw_u32(w, "context_length", hp->n_ctx_train);
    llm__gw_u32(w, "embedding_length", hp->n_embd);
    llm__gw_u32(w, "block_count", hp->n_layers);
    llm__gw_u32(w, "feed_forward_length", hp->n_ff);
    llm__gw_u32(w, "attention.head_count", hp->n_heads);
    llm__gw_u32(w, "attention.head_count_kv", hp->n_kv_heads);
    llm__gw_u32(w, "attention.key_length", hp->head_dim);
    llm__gw_u32(w, "attention.value_length", hp->head_dim);
    llm__gw_u32(w, "rope.dimension_count", hp->n_rot);
    llm__gw_f32(w, "rope.freq_base", hp->rope.theta);
    llm__gw_f32(w, "attention.layer_norm_rms_epsilon", hp->norm_eps);
    if (hp->n_experts) {
        llm__gw_u32(w, "expert_count", hp->n_experts);
        llm__gw_u32(w, "expert_used_count", hp->n_experts_used);
        llm__gw_u32(w, "expert_feed_forward_length", hp->n_ff_expert);
        if (hp->n_ff_shared) llm__gw_u32(w, "expert_shared_feed_forward_length", hp->n_ff_shared);
    }
    llm__gw_u32(w, "attention.sliding_window", hp->sliding_window);
    if (!strcmp(w->arch, "phi3") && hp->sliding_window <= 0)      /* llama.cpp needs the key: 0 is none (Phi-4) */
        llm__gw_kv(w, llm_gguf_kv_u32(llm__gw_key(w, "attention.sliding_window"), 0));
    llm__gguf_sliding_pattern(w, hp);
    if (hp->attn_softcap) llm__gw_f32(w, "attn_logit_softcapping", hp->attn_softcap);
    if (hp->final_softcap) llm__gw_f32(w, "final_logit_softcapping", hp->final_softcap);
    if (hp->rope.type == LLM__ROPE_LINEAR || hp->rope.type == LLM__ROPE_YARN) {
        llm__gw_kv(w, llm_gguf_kv_str(llm__gw_key(w, "rope.scaling.type"), hp->rope.type == LLM__ROPE_LINEAR ? "linear" : "yarn"));
        llm__gw_f32(w, "rope.scaling.factor", hp->rope.factor);
        llm__gw_u32(w, "rope.scaling.original_context_length", (int64_t)hp->rope.orig_ctx);
    }
}

/* llama.cpp's llama_ftype of a file whose matrices are mostly `dt` */
static uint32_t llm__gguf_ftype(llm_dtype dt) {
    static const struct { llm_dtype dt; uint32_t ftype; } map[] = {
        { LLM_DTYPE_F32, 0 }, { LLM_DTYPE_F16, 1 }, { LLM_DTYPE_Q4_0, 2 }, { LLM_DTYPE_Q4_1, 3 }, { LLM_DTYPE_Q8_0, 7 },
        { LLM_DTYPE_Q5_0, 8 }, { LLM_DTYPE_Q5_1, 9 }, { LLM_DTYPE_Q2_K, 10 }, { LLM_DTYPE_Q3_K, 11 }, { LLM_DTYPE_Q4_K, 14 },
        { LLM_DTYPE_Q5_K, 16 }, { LLM_DTYPE_Q6_K, 18 }, { LLM_DTYPE_BF16, 32 },
    };
    for (int i = 0; i < LLM__COUNT(map); i++) if (map[i].dt == dt) return map[i].ftype;
    return UINT32_MAX;
}

/* The file type of p: a llama-quantize one by name (gguf_mix), or gguf_type for every
   matrix (no bumps); false when p names neither. */
static bool llm__gguf_mix_of(const llm_convert_params *p, llm__gguf_mix *out) {
    const llm__gguf_mix *m = llm__gguf_mix_find(p->gguf_mix);
    if (p->gguf_mix) return m ? (*out = *m, true) : false;
    *out = (llm__gguf_mix){ .name = "", .ftype = llm__gguf_ftype(p->gguf_type), .base = p->gguf_type };
    return (unsigned)p->gguf_type < LLM_DTYPE_COUNT && p->gguf_type != LLM_DTYPE_F64 && out->ftype != UINT32_MAX;
}

/* general.file_type as llama-quantize writes it, and the quantization version with blocks */
static void llm__gguf_file_type(llm__gw *w, const llm__gguf_mix *m) {
    llm__gw_kv(w, llm_gguf_kv_u32("general.file_type", m->ftype));
    if (!llm__is_float(m->base)) llm__gw_kv(w, llm_gguf_kv_u32("general.quantization_version", 2));
}

static void llm__gguf_general(llm__gw *w, const char *src_dir, const llm__gguf_mix *m) {
    const char *slash = strrchr(src_dir, '/'), *name = slash && slash[1] ? slash + 1 : src_dir;
    llm__gw_kv(w, llm_gguf_kv_str("general.architecture", w->arch));
    llm__gw_kv(w, llm_gguf_kv_str("general.name", llm__gw_str(w, "%s", name)));
    llm__gguf_file_type(w, m);
}

/* ---- the tokenizer: tokenizer.json (+ tokenizer_config.json) -> tokenizer.ggml.* ----
   Two kinds, as convert_hf_to_gguf.py chooses them:
   - "gpt2": byte-level BPE (Llama 3, Qwen, SmolLM): tokens, types, merges "a b" in rank
     order, and the pre-tokenizer by name (llama.cpp knows each by its regexes).
   - "llama": SentencePiece BPE with byte fallback (Llama 2, Mistral, Gemma): tokens, types
     and scores: a piece's score is minus the rank of the first merge that makes it, so
     the highest-scoring pair (SentencePiece's rule) is the lowest-ranked merge (HF's);
     pieces no merge makes rank after all merges. Byte pieces <0xXX> are type 6.
   Ids without a piece (the model's vocabulary can be larger) are "[PADn]", type unused.
   Token types: 1 normal, 2 unknown, 3 control (special added tokens), 4 user-defined
   (other added tokens), 5 unused, 6 byte. */
enum { LLM__TT_NORMAL = 1, LLM__TT_UNKNOWN, LLM__TT_CONTROL, LLM__TT_USER, LLM__TT_UNUSED, LLM__TT_BYTE };

typedef struct llm__ggv {
    const cJSON *tok, *tcfg;     /* tokenizer.json, tokenizer_config.json (or NULL) */
    bool spm;
    int64_t n;
    llm_gguf_str *pieces;
    int32_t *types;
    llm_gguf_str *merges;        /* "a b" in rank order */
    int64_t n_merges;
} llm__ggv;

static bool llm__ggv_put(llm__ggv *v, int64_t id, const char *s, int32_t type) {
    if (id < 0 || id >= v->n || !s) return false;
    v->pieces[id] = (llm_gguf_str){ s, strlen(s) };
    v->types[id] = type;
    return true;
}

static llm_status llm__ggv_tokens(llm__gw *w, llm__ggv *v, int64_t n_model, const char *path) {
    const cJSON *vocab = llm__json_get(llm__json_get(v->tok, "model"), "vocab"), *added = llm__json_get(v->tok, "added_tokens");
    v->n = n_model;
    for (const cJSON *e = cJSON_IsObject(vocab) ? vocab->child : NULL; e; e = e->next) v->n = LLM__MAX(v->n, (int64_t)e->valuedouble + 1);
    for (const cJSON *e = cJSON_IsArray(added) ? added->child : NULL; e; e = e->next) v->n = LLM__MAX(v->n, llm__json_int(e, "id", 0) + 1);
    if (!cJSON_IsObject(vocab) || v->n > LLM_MAX_VOCAB) return llm__fail(LLM_ERR_FORMAT, "%s: model.vocab is missing or too large", path);
    v->pieces = (llm_gguf_str *)llm__gw_own(w, calloc((size_t)v->n, sizeof *v->pieces));
    v->types = (int32_t *)llm__gw_own(w, calloc((size_t)v->n, sizeof *v->types));
    if (!v->pieces || !v->types) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (const cJSON *e = vocab->child; e; e = e->next) {
        bool byte = v->spm && strlen(e->string) == 6 && !strncmp(e->string, "<0x", 3) && e->string[5] == '>';
        if (!cJSON_IsNumber(e) || !llm__ggv_put(v, (int64_t)e->valuedouble, e->string, byte ? LLM__TT_BYTE : LLM__TT_NORMAL))
            return llm__fail(LLM_ERR_FORMAT, "%s: model.vocab entry '%.100s' has no valid id", path, e->string);
    }
    for (const cJSON *e = cJSON_IsArray(added) ? added->child : NULL; e; e = e->next)
        if (!llm__ggv_put(v, llm__json_int(e, "id", -1), llm__json_str(e, "content", NULL), llm__json_bool(e, "special", false) ? LLM__TT_CONTROL : LLM__TT_USER))
            return llm__fail(LLM_ERR_FORMAT, "%s: an added token has no valid id or content", path);
    for (int64_t i = 0; i < v->n; i++)
        if (!v->pieces[i].str) llm__ggv_put(v, i, llm__gw_str(w, "[PAD%lld]", (long long)i), LLM__TT_UNUSED);
    llm__gw_kv(w, llm_gguf_kv_arr("tokenizer.ggml.tokens", LLM_GGUF_STRING, v->n, v->pieces));
    llm__gw_kv(w, llm_gguf_kv_arr("tokenizer.ggml.token_type", LLM_GGUF_I32, v->n, v->types));
    return w->oom ? llm__fail(LLM_ERR_NOMEM, "out of memory") : LLM_OK;
}

/* merges as "a b" strings (tokenizer.json has them so, or as pairs) into v */
static llm_status llm__ggv_merges(llm__gw *w, llm__ggv *v, const char *path) {
    const cJSON *m = llm__json_get(llm__json_get(v->tok, "model"), "merges");
    int64_t n = cJSON_GetArraySize(m), i = 0;
    llm_gguf_str *out = (llm_gguf_str *)llm__gw_own(w, malloc((size_t)n * sizeof *out + 1));
    if (!out) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (const cJSON *e = cJSON_IsArray(m) ? m->child : NULL; e; e = e->next, i++) {
        const char *s = cJSON_IsString(e) ? e->valuestring : NULL;
        if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) && cJSON_IsString(e->child->next))
            s = llm__gw_str(w, "%s %s", e->child->valuestring, e->child->next->valuestring);
        if (!s) return llm__fail(LLM_ERR_FORMAT, "%s: model.merges[%lld] is not a merge", path, (long long)i);
        out[i] = (llm_gguf_str){ s, strlen(s) };
    }
    v->merges = out, v->n_merges = n;
    return LLM_OK;
}

/* The pre-tokenizer's llama.cpp name, from its Split regexes and ByteLevel settings. */
static const char *llm__ggv_pre(const cJSON *pre) {
    static const char *const known[][2] = {
        { "llama-bpe", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" },
        { "qwen2", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" },
    };
    const cJSON *steps = llm__json_get(pre, "pretokenizers");
    const cJSON *first = cJSON_IsArray(steps) ? steps->child : pre;
    const char *type = llm__json_str(first, "type", ""), *re = llm__json_str(llm__json_get(first, "pattern"), "Regex", "");
    for (int i = 0; i < LLM__COUNT(known); i++) if (!strcmp(type, "Split") && !strcmp(re, known[i][1])) return known[i][0];
    if (!strcmp(type, "ByteLevel") && llm__json_bool(first, "use_regex", true)) return "gpt-2";
    if (!strcmp(type, "Digits") && llm__json_bool(first, "individual_digits", false)) return "smollm";
    return NULL;
}

/* A special token named in tokenizer_config.json (a string or {"content": ...}) -> its id. */
static int64_t llm__ggv_special(const llm__ggv *v, const char *key) {
    const cJSON *e = llm__json_get(v->tcfg, key);
    const char *s = cJSON_IsString(e) ? e->valuestring : llm__json_str(e, "content", NULL);
    for (int64_t i = 0; s && i < v->n; i++) if (!strcmp(v->pieces[i].str, s)) return i;
    return -1;
}

/* Whether the post-processor puts a special token first (TemplateProcessing "single"). */
static bool llm__ggv_adds_bos(const cJSON *post) {
    const cJSON *steps = llm__json_get(post, "processors");
    for (const cJSON *p = cJSON_IsArray(steps) ? steps->child : post; p; p = cJSON_IsArray(steps) ? p->next : NULL) {
        const cJSON *single = llm__json_get(p, "single");
        if (cJSON_IsArray(single) && single->child && llm__json_has(single->child, "SpecialToken")) return true;
    }
    return false;
}

/* bos/eos/unk/pad ids, add_bos/add_eos, and the chat template. */
static void llm__ggv_specials(llm__gw *w, const llm__ggv *v, const llm__hparams *hp, const char *src_dir) {
    static const char *const names[][2] = {
        { "bos_token", "tokenizer.ggml.bos_token_id" }, { "eos_token", "tokenizer.ggml.eos_token_id" },
        { "unk_token", "tokenizer.ggml.unknown_token_id" }, { "pad_token", "tokenizer.ggml.padding_token_id" },
    };
    for (int i = 0; i < LLM__COUNT(names); i++) {
        int64_t id = llm__ggv_special(v, names[i][0]);
        if (id < 0 && i == 0) id = hp->bos;                   /* else config.json's */
        if (id < 0 && i == 1 && hp->n_eos) id = hp->eos[0];
        if (id >= 0) llm__gw_kv(w, llm_gguf_kv_u32(names[i][1], (uint32_t)id));
    }
    const cJSON *ab = llm__json_get(v->tcfg, "add_bos_token"), *ae = llm__json_get(v->tcfg, "add_eos_token");
    llm__gw_kv(w, llm_gguf_kv_bool("tokenizer.ggml.add_bos_token", cJSON_IsBool(ab) ? cJSON_IsTrue(ab) : llm__ggv_adds_bos(llm__json_get(v->tok, "post_processor"))));
    if (cJSON_IsBool(ae)) llm__gw_kv(w, llm_gguf_kv_bool("tokenizer.ggml.add_eos_token", cJSON_IsTrue(ae)));
    const cJSON *tpl = llm__json_get(v->tcfg, "chat_template");
    const char *text = cJSON_IsString(tpl) ? tpl->valuestring : NULL;
    for (const cJSON *e = cJSON_IsArray(tpl) ? tpl->child : NULL; e && !text; e = e->next)   /* named templates: the default */
        if (!strcmp(llm__json_str(e, "name", ""), "default")) text = llm__json_str(e, "template", NULL);
    char path[4096], *file = NULL;
    size_t len = 0;
    if (!text && llm__path_join(path, sizeof path, src_dir, "chat_template.jinja") && !access(path, R_OK) && !llm__read_file(NULL, path, &file, &len))
        text = (const char *)llm__gw_own(w, file);
    if (text) llm__gw_kv(w, llm_gguf_kv_str("tokenizer.ggml.chat_template", text));
}

/* The scores of a SentencePiece vocabulary (see above); 0 for special pieces. */
static llm_status llm__ggv_scores(llm__gw *w, const llm__ggv *v) {
    float *scores = (float *)llm__gw_own(w, malloc((size_t)v->n * sizeof *scores));
    llm__strmap ids = { 0 };
    char *buf = NULL;
    size_t cap = 0;
    if (!scores || !llm__strmap_init(&ids, (size_t)v->n)) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < v->n; i++) {
        scores[i] = v->types[i] == LLM__TT_NORMAL ? -(float)(v->n_merges + i) : 0.0f;
        llm__strmap_put(&ids, v->pieces[i].str, (size_t)v->pieces[i].len, (int32_t)i);
    }
    for (int64_t r = 0; r < v->n_merges; r++) {                  /* "a b" -> "ab" */
        const llm_gguf_str *m = &v->merges[r];
        const char *sp = (const char *)memchr(m->str, ' ', (size_t)m->len);
        if (!sp) continue;
        if (cap < m->len) { free(buf); buf = (char *)malloc(cap = (size_t)m->len * 2); }
        if (!buf) { llm__strmap_free(&ids); return llm__fail(LLM_ERR_NOMEM, "out of memory"); }
        size_t na = (size_t)(sp - m->str);
        memcpy(buf, m->str, na);
        memcpy(buf + na, sp + 1, (size_t)m->len - na - 1);
        int32_t id = llm__strmap_get(&ids, buf, (size_t)m->len - 1);
        if (id >= 0 && v->types[id] == LLM__TT_NORMAL && scores[id] < -(float)r) scores[id] = -(float)r;
    }
    free(buf);
    llm__strmap_free(&ids);
    llm__gw_kv(w, llm_gguf_kv_arr("tokenizer.ggml.scores", LLM_GGUF_F32, v->n, scores));
    return LLM_OK;
}

/* The src_dir's tokenizer as metadata; without tokenizer.json only bos/eos from config.json. */
static llm_status llm__gguf_vocab(llm__gw *w, const char *src_dir, const llm__hparams *hp) {
    char path[4096];
    llm__ggv v = { 0 };
    if (!llm__path_join(path, sizeof path, src_dir, "tokenizer.json") || access(path, R_OK)) {
        if (hp->bos >= 0) llm__gw_kv(w, llm_gguf_kv_u32("tokenizer.ggml.bos_token_id", (uint32_t)hp->bos));
        if (hp->n_eos) llm__gw_kv(w, llm_gguf_kv_u32("tokenizer.ggml.eos_token_id", (uint32_t)hp->eos[0]));
        return LLM_OK;
    }
    llm_status s = llm__json_load(path, &w->docs[w->n_docs]);
    if (s) return s;
    v.tok = w->docs[w->n_docs++];
    if (llm__path_join(path, sizeof path, src_dir, "tokenizer_config.json") && !access(path, R_OK)) {
        if ((s = llm__json_load(path, &w->docs[w->n_docs]))) return s;
        v.tcfg = w->docs[w->n_docs++];
    }
    const cJSON *model = llm__json_get(v.tok, "model");
    if (strcmp(llm__json_str(model, "type", ""), "BPE"))
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: only BPE tokenizers can be written to GGUF, not '%s'", src_dir, llm__json_str(model, "type", "?"));
    v.spm = llm__json_bool(model, "byte_fallback", false);
    if ((s = llm__ggv_tokens(w, &v, hp->n_vocab, src_dir)) || (s = llm__ggv_merges(w, &v, src_dir))) return s;
    llm__gw_kv(w, llm_gguf_kv_str("tokenizer.ggml.model", v.spm ? "llama" : "gpt2"));
    if (v.spm) {
        const char *norm = cJSON_PrintUnformatted(llm__json_get(v.tok, "normalizer"));
        llm__gw_kv(w, llm_gguf_kv_bool("tokenizer.ggml.add_space_prefix", norm && strstr(norm, "\"Prepend\"")));
        free((void *)norm);
        s = llm__ggv_scores(w, &v);
    } else {
        const char *pre = llm__ggv_pre(llm__json_get(v.tok, "pre_tokenizer"));
        if (!pre) llm__log(LLM_LOG_WARN, "%s: unknown pre-tokenizer, written as llama.cpp's \"default\"", src_dir);
        llm__gw_kv(w, llm_gguf_kv_str("tokenizer.ggml.pre", pre ? pre : "default"));
        llm__gw_kv(w, llm_gguf_kv_arr("tokenizer.ggml.merges", LLM_GGUF_STRING, v.n_merges, v.merges));
    }
    if (!s) llm__ggv_specials(w, &v, hp, src_dir);
    return s;
}

/* ---- GGUF -> GGUF (llama-quantize): the metadata copied, the matrices re-typed ---- */

/* Tensor t (any ggml type) into c's file in the type the rules give it: copied when it has
   that type already, else dequantized and quantized. Names and layouts are llama.cpp's. */
static llm_status llm__gguf_requant(llm__gconv *c, const llm_tensor *t) {
    llm__convert_src shape = { .t = t, .n_dims = t->n_dims ? t->n_dims : 1, .cols = t->n_dims ? t->shape[t->n_dims - 1] : 1 };
    memcpy(shape.shape, t->shape, sizeof shape.shape);
    shape.rows = shape.cols ? llm_tensor_n_elems(t) / shape.cols : 0;
    llm_dtype to = llm__gguf_pick(c, t->name, &shape);
    size_t nb = llm_dtype_n_bytes(to, shape.rows * shape.cols);
    uint8_t *out = (uint8_t *)llm__gw_own(&c->w, malloc(nb + 1));
    float *f = (float *)malloc((size_t)shape.cols * sizeof *f + 1);
    llm_status s = out && f ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "out of memory");
    if (!s && to == t->dtype) memcpy(out, t->data, nb);
    for (int64_t r = 0; !s && to != t->dtype && r < shape.rows; r++) {
        s = llm_dequantize(t->dtype, (const uint8_t *)t->data + llm_dtype_n_bytes(t->dtype, r * shape.cols), f, shape.cols);
        if (!s) s = llm_quantize(to, f, out + llm_dtype_n_bytes(to, r * shape.cols), shape.cols);
    }
    free(f);
    return s ? s : llm__gw_tensor(&c->w, t->name, to, shape.n_dims, shape.shape, out, nb);
}

static llm_status llm__convert_gguf_file(const llm_convert_params *p) {
    llm_gguf *g = NULL;
    llm_status s = llm_gguf_open(p->src, &g);
    if (s) return s;
    llm__gconv c = { .p = p, .path = p->src, .hp = NULL };
    llm__gguf_mix_of(p, &c.mix);
    c.w.arch = "";
    llm_gguf_get_str(g, "general.architecture", &c.w.arch);
    c.tied = !llm_gguf_find_tensor(g, "output.weight");
    int64_t hp[4] = { 0, 0, -1, 0 };                     /* block_count, head_count, head_count_kv, expert_count */
    static const char *const keys[] = { "block_count", "attention.head_count", "attention.head_count_kv", "expert_count" };
    for (int i = 0; i < 4; i++) llm_gguf_get_int(g, llm__gw_key(&c.w, keys[i]), &hp[i]);
    c.dims = llm__gguf_dims_of(c.w.arch, hp[0], hp[1], hp[2] < 0 ? hp[1] : hp[2], hp[3]);
    for (int64_t i = 0; i < llm_gguf_n_kv(g); i++) {
        const llm_gguf_kv *kv = llm_gguf_kv_at(g, i);
        if (strcmp(kv->key, "general.file_type") && strcmp(kv->key, "general.quantization_version")) llm__gw_kv(&c.w, *kv);
    }
    llm__gguf_file_type(&c.w, &c.mix);
    int64_t n = llm_gguf_n_tensors(g);
    for (int64_t i = 0; i < n && !s; i++) {
        s = llm__gguf_requant(&c, llm_gguf_tensor(g, i));
        if (!s && p->progress) p->progress(p->progress_user, i + 1, n);
    }
    if (!s && c.w.oom) s = llm__fail(LLM_ERR_NOMEM, "out of memory");
    if (!s) s = llm_gguf_write(p->gguf, c.w.kv, c.w.n_kv, c.w.t, c.w.n_t);
    llm__gw_free(&c.w);
    llm_gguf_close(g);
    return s;
}

/* ---- the entry point (llm_convert_model with params->gguf) ---- */

static llm_status llm__gguf_check_params(const llm_convert_params *p) {
    llm_dtype t = p->gguf_type;
    llm__gguf_mix m;
    if (!p->src) return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: src is required");
    if (p->gguf_mix && !llm__gguf_mix_find(p->gguf_mix))
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: GGUF file type '%s' is not one of llama-quantize's Q2_K Q3_K_S Q3_K_M Q3_K_L "
                         "Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K", p->gguf_mix);
    if (!llm__gguf_mix_of(p, &m))
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: GGUF type %s is not one llama.cpp stores (f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K q4_K q5_K q6_K)",
                         llm_dtype_get(t) ? llm_dtype_get(t)->name : "?");
    if (llm__is_dir(p->gguf)) return llm__fail(LLM_ERR_INVALID_ARG, "%s: is a directory, not a .gguf path", p->gguf);
    return LLM_OK;
}

static llm_status llm__convert_gguf(const llm_convert_params *p) {
    llm_status s = llm__gguf_check_params(p);
    if (s) return s;
    size_t n = strlen(p->src);
    if (n > 5 && !strcmp(p->src + n - 5, ".gguf")) return llm__convert_gguf_file(p);
    char src_dir[4096], path[4200];
    if (llm__is_dir(p->src)) snprintf(src_dir, sizeof src_dir, "%s", p->src);
    else llm__path_dir(src_dir, sizeof src_dir, p->src);
    llm_model *m = NULL;
    if ((s = llm_model_load(p->src, NULL, &m))) return s;
    llm__gconv c = { .p = p, .path = src_dir, .hp = &m->hp };
    llm__gguf_mix_of(p, &c.mix);
    for (int i = 0; i < LLM__COUNT(llm__gguf_archs_hf); i++)
        if (!strcmp(llm__gguf_archs_hf[i].hf, m->hp.arch)) c.w.arch = llm__gguf_archs_hf[i].gguf, c.permute = llm__gguf_archs_hf[i].permute;
    cJSON *cfg = NULL;
    if (!m->st) s = llm__fail(LLM_ERR_UNSUPPORTED, "%s: only safetensors models can be converted to GGUF", p->src);
    else if (!c.w.arch) s = llm__fail(LLM_ERR_UNSUPPORTED, "%s: model type '%s' cannot be written to GGUF (llama, mistral, mixtral, qwen2, qwen3, qwen2_moe, qwen3_moe, gemma, gemma2, gemma3, phi3)", p->src, m->hp.arch);
    else if (!llm__path_join(path, sizeof path, src_dir, "config.json")) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", src_dir);
    else s = llm__json_load(path, &cfg);
    if (!s) {
        c.tied = !llm_safetensors_find(m->st, "lm_head.weight");
        c.dims = llm__gguf_dims_of(c.w.arch, m->hp.n_layers, m->hp.n_heads, m->hp.n_kv_heads, m->hp.n_experts);
        llm__gguf_general(&c.w, src_dir, &c.mix);
        llm__gguf_write_hparams(&c.w, &m->hp);
        s = llm__gguf_vocab(&c.w, src_dir, &m->hp);
    }
    if (!s) s = llm__gguf_tensors(&c, m->st, cfg);
    if (!s && c.w.oom) s = llm__fail(LLM_ERR_NOMEM, "out of memory");
    if (!s) s = llm_gguf_write(p->gguf, c.w.kv, c.w.n_kv, c.w.t, c.w.n_t);
    cJSON_Delete(cfg);
    llm__gw_free(&c.w);
    llm_model_free(m);
    return s;
}
#endif
