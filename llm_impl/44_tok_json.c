/* ---- >>tokenizer.json: Hugging Face's tokenizer file ----
   {"model": {"type": "BPE", "vocab": {"a": 0, ...}, "merges": ["a b", ...] or [["a","b"], ...]},
    "added_tokens": [{"id": 128000, "content": "<|begin_of_text|>", "special": true, ...}],
    "normalizer": ..., "pre_tokenizer": ..., "post_processor": ..., "decoder": ...}
   Each pipeline entry is {"type": ..., fields} or a Sequence of them; we flatten Sequences
   into arrays of llm__step. Anything we do not implement is refused with its name
   (LLM_ERR_UNSUPPORTED) rather than silently tokenizing differently. bos/eos come from
   tokenizer_config.json next to the file. */
#include "10_internal.h"

#ifndef LLM_NO_CJSON

/* GPT-2's pre-tokenizer regex, used by ByteLevel with use_regex. */
#define LLM__GPT2_PATTERN "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef struct llm__tj {               /* loading context */
    llm_tokenizer *t;
    const char *path;
} llm__tj;

/* Copy a JSON string field into the pool; *out stays NULL when absent. */
static llm_status llm__tj_str(llm__tj *c, const cJSON *obj, const char *key, const char *dflt, char **out, size_t *out_len) {
    const char *s = llm__json_str(obj, key, dflt);
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!s) return LLM_OK;
    size_t n = strlen(s);
    if (!(*out = llm__tok_intern(c->t, s, n))) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    if (out_len) *out_len = n;
    return LLM_OK;
}

/* "pattern": {"String": "x"} or {"Regex": "..."} into st->pat or st->re. */
static llm_status llm__tj_pattern(llm__tj *c, const cJSON *obj, const char *what, llm__step *st) {
    const cJSON *p = llm__json_get(obj, "pattern");
    if (llm__json_str(p, "String", NULL)) return llm__tj_str(c, p, "String", NULL, &st->pat, &st->pat_len);
    const char *re = llm__json_str(p, "Regex", NULL);
    if (!re) return llm__fail(LLM_ERR_FORMAT, "%s: %s needs a pattern {\"String\"|\"Regex\": ...}", c->path, what);
    return llm__regex_compile(re, c->path, &st->re);
}

static int llm__tj_behavior(const char *s, int dflt) {
    static const char *const names[] = { "Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous" };
    for (int i = 0; s && i < 5; i++) if (!strcmp(s, names[i])) return i;
    return dflt;
}

static int llm__tj_prepend_scheme(const cJSON *obj) {
    const char *s = llm__json_str(obj, "prepend_scheme", NULL);
    if (s) return !strcmp(s, "first") ? LLM__PREPEND_FIRST : !strcmp(s, "never") ? LLM__PREPEND_NEVER : LLM__PREPEND_ALWAYS;
    return llm__json_bool(obj, "add_prefix_space", true) ? LLM__PREPEND_ALWAYS : LLM__PREPEND_NEVER;
}

static llm_status llm__tj_normalizer(llm__tj *c, const cJSON *j) {
    if (!j || cJSON_IsNull(j)) return LLM_OK;
    const char *type = llm__json_str(j, "type", "");
    llm__step st;
    memset(&st, 0, sizeof st);
    llm_status s = LLM_OK;
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, llm__json_get(j, "normalizers")) if ((s = llm__tj_normalizer(c, it))) return s;
        return LLM_OK;
    }
    if (!strcmp(type, "NFC")) st.kind = LLM__N_NFC;
    else if (!strcmp(type, "NFD")) st.kind = LLM__N_NFD;
    else if (!strcmp(type, "NFKC")) st.kind = LLM__N_NFKC;
    else if (!strcmp(type, "NFKD")) st.kind = LLM__N_NFKD;
    else if (!strcmp(type, "Lowercase")) st.kind = LLM__N_LOWERCASE;
    else if (!strcmp(type, "Prepend")) { st.kind = LLM__N_PREPEND; s = llm__tj_str(c, j, "prepend", "", &st.content, &st.content_len); }
    else if (!strcmp(type, "Replace")) {
        st.kind = LLM__N_REPLACE;
        if (!(s = llm__tj_pattern(c, j, "Replace", &st))) s = llm__tj_str(c, j, "content", "", &st.content, &st.content_len);
    } else if (!strcmp(type, "Strip")) {
        st.kind = LLM__N_STRIP;
        st.a = llm__json_bool(j, "strip_left", true);
        st.b = llm__json_bool(j, "strip_right", true);
    } else if (!strcmp(type, "Precompiled") && !llm__json_has(j, "precompiled_charsmap")) return LLM_OK;
    else return llm__fail(LLM_ERR_UNSUPPORTED, "%s: normalizer type '%s' is not supported", c->path, type);
    if (s) { llm__regex_free(st.re); return s; }
    return llm__tok_push_step(&c->t->norm, &c->t->n_norm, st, c->path);
}

static llm_status llm__tj_pretokenizer(llm__tj *c, const cJSON *j) {
    if (!j || cJSON_IsNull(j)) return LLM_OK;
    const char *type = llm__json_str(j, "type", "");
    llm__step st;
    memset(&st, 0, sizeof st);
    llm_status s = LLM_OK;
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, llm__json_get(j, "pretokenizers")) if ((s = llm__tj_pretokenizer(c, it))) return s;
        return LLM_OK;
    }
    if (!strcmp(type, "ByteLevel")) {
        st.kind = LLM__P_BYTELEVEL;
        st.a = llm__json_bool(j, "add_prefix_space", true);
        st.b = llm__json_bool(j, "use_regex", true);
        if (st.b) s = llm__regex_compile(LLM__GPT2_PATTERN, c->path, &st.re);
    } else if (!strcmp(type, "Split")) {
        st.kind = LLM__P_SPLIT;
        st.behavior = llm__tj_behavior(llm__json_str(j, "behavior", NULL), -1);
        st.invert = llm__json_bool(j, "invert", false);
        if (st.behavior < 0) return llm__fail(LLM_ERR_FORMAT, "%s: Split has an unknown behavior", c->path);
        s = llm__tj_pattern(c, j, "Split", &st);
    } else if (!strcmp(type, "Metaspace")) {
        st.kind = LLM__P_METASPACE;
        st.behavior = llm__tj_prepend_scheme(j);
        st.a = llm__json_bool(j, "split", true);
        s = llm__tj_str(c, j, "replacement", "\xe2\x96\x81", &st.content, &st.content_len);
    } else if (!strcmp(type, "Digits")) { st.kind = LLM__P_DIGITS; st.a = llm__json_bool(j, "individual_digits", false); }
    else if (!strcmp(type, "Punctuation")) {
        st.kind = LLM__P_PUNCT;
        st.behavior = llm__tj_behavior(llm__json_str(j, "behavior", NULL), LLM__SPLIT_ISOLATED);
    } else if (!strcmp(type, "Whitespace")) st.kind = LLM__P_WHITESPACE;
    else if (!strcmp(type, "WhitespaceSplit")) st.kind = LLM__P_WSSPLIT;
    else if (!strcmp(type, "BertPreTokenizer")) {
        st.kind = LLM__P_WSSPLIT;
        if ((s = llm__tok_push_step(&c->t->pre, &c->t->n_pre, st, c->path))) return s;
        st.kind = LLM__P_PUNCT;
        st.behavior = LLM__SPLIT_ISOLATED;
    } else return llm__fail(LLM_ERR_UNSUPPORTED, "%s: pre-tokenizer type '%s' is not supported", c->path, type);
    if (s) { llm__regex_free(st.re); return s; }
    return llm__tok_push_step(&c->t->pre, &c->t->n_pre, st, c->path);
}

static llm_status llm__tj_decoder(llm__tj *c, const cJSON *j) {
    if (!j || cJSON_IsNull(j)) return LLM_OK;
    const char *type = llm__json_str(j, "type", "");
    llm__step st;
    memset(&st, 0, sizeof st);
    llm_status s = LLM_OK;
    c->t->has_decoder = true;
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, llm__json_get(j, "decoders")) if ((s = llm__tj_decoder(c, it))) return s;
        return LLM_OK;
    }
    if (!strcmp(type, "ByteLevel")) st.kind = LLM__D_BYTELEVEL;
    else if (!strcmp(type, "ByteFallback")) st.kind = LLM__D_BYTEFALLBACK;
    else if (!strcmp(type, "Fuse")) st.kind = LLM__D_FUSE;
    else if (!strcmp(type, "Metaspace")) {
        st.kind = LLM__D_METASPACE;
        st.behavior = llm__tj_prepend_scheme(j);
        s = llm__tj_str(c, j, "replacement", "\xe2\x96\x81", &st.content, &st.content_len);
    } else if (!strcmp(type, "Strip")) {
        st.kind = LLM__D_STRIP;
        st.start = (int)llm__json_int(j, "start", 0);
        st.stop = (int)llm__json_int(j, "stop", 0);
        s = llm__tj_str(c, j, "content", " ", &st.content, &st.content_len);
    } else if (!strcmp(type, "Replace")) {
        st.kind = LLM__D_REPLACE;
        if (!(s = llm__tj_pattern(c, j, "Replace", &st))) s = llm__tj_str(c, j, "content", "", &st.content, &st.content_len);
    } else if (!strcmp(type, "WordPiece")) {
        st.kind = LLM__D_WORDPIECE;
        st.b = llm__json_bool(j, "cleanup", true);
        s = llm__tj_str(c, j, "prefix", "##", &st.content, &st.content_len);
    } else return llm__fail(LLM_ERR_UNSUPPORTED, "%s: decoder type '%s' is not supported", c->path, type);
    if (s) { llm__regex_free(st.re); return s; }
    return llm__tok_push_step(&c->t->dec, &c->t->n_dec, st, c->path);
}

/* A JSON number as a token id, -1 unless it is an integer in [0, LLM_MAX_VOCAB). */
static llm_token llm__tj_id(const cJSON *v) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < LLM_MAX_VOCAB)) return -1;
    return v->valuedouble == (double)(llm_token)v->valuedouble ? (llm_token)v->valuedouble : -1;
}

/* Collect the ids the post-processor puts before (pre) and after (post) the text. */
typedef struct llm__post { llm_token ids[64]; int n_pre, n_post; } llm__post;

static llm_status llm__tj_post_add(llm__tj *c, llm__post *p, bool before, llm_token id) {
    if (p->n_pre + p->n_post >= 64) return llm__fail(LLM_ERR_FORMAT, "%s: post_processor adds too many tokens", c->path);
    if (id < 0 || id >= c->t->n_vocab) return llm__fail(LLM_ERR_FORMAT, "%s: post_processor token id out of range", c->path);
    if (before) {
        memmove(p->ids + p->n_pre + 1, p->ids + p->n_pre, (size_t)p->n_post * sizeof *p->ids);
        p->ids[p->n_pre++] = id;
    } else p->ids[p->n_pre + p->n_post++] = id;
    return LLM_OK;
}

static llm_status llm__tj_template(llm__tj *c, const cJSON *j, llm__post *p) {
    const cJSON *it, *specials = llm__json_get(j, "special_tokens");
    bool before = true;
    llm_status s;
    cJSON_ArrayForEach(it, llm__json_get(j, "single")) {
        if (llm__json_has(it, "Sequence")) { before = false; continue; }
        const char *name = llm__json_str(llm__json_get(it, "SpecialToken"), "id", NULL);
        const cJSON *ids = llm__json_get(llm__json_get(specials, name ? name : ""), "ids"), *id;
        if (!name || !cJSON_IsArray(ids)) return llm__fail(LLM_ERR_FORMAT, "%s: TemplateProcessing item without ids", c->path);
        cJSON_ArrayForEach(id, ids) {
            if ((s = llm__tj_post_add(c, p, before, llm__tj_id(id)))) return s;
        }
    }
    return LLM_OK;
}

static llm_status llm__tj_post(llm__tj *c, const cJSON *j, llm__post *p) {
    if (!j || cJSON_IsNull(j)) return LLM_OK;
    const char *type = llm__json_str(j, "type", "");
    llm_status s;
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, llm__json_get(j, "processors")) if ((s = llm__tj_post(c, it, p))) return s;
        return LLM_OK;
    }
    if (!strcmp(type, "ByteLevel")) return LLM_OK;           /* only adjusts offsets */
    if (!strcmp(type, "TemplateProcessing")) return llm__tj_template(c, j, p);
    if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
        const cJSON *cls = cJSON_GetArrayItem(llm__json_get(j, "cls"), 1), *sep = cJSON_GetArrayItem(llm__json_get(j, "sep"), 1);
        if (!cJSON_IsNumber(cls) || !cJSON_IsNumber(sep)) return llm__fail(LLM_ERR_FORMAT, "%s: %s needs cls and sep", c->path, type);
        if ((s = llm__tj_post_add(c, p, true, llm__tj_id(cls)))) return s;
        return llm__tj_post_add(c, p, false, llm__tj_id(sep));
    }
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: post_processor type '%s' is not supported", c->path, type);
}

/* ---- the model section ---- */

/* ---- the big arrays, scanned directly ----
   cJSON makes a node per value: for gemma3's 262k vocabulary entries and 515k merges that
   is millions of allocations, most of the loading time. So before cJSON sees the file we
   cut model.vocab (when it is an object) and model.merges out of the text (blanking them
   to `0`) and read them here with a small scanner that decodes strings into one buffer. */

typedef struct llm__js { const char *p, *end; } llm__js;

static void llm__js_ws(llm__js *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

static bool llm__js_lit(llm__js *j, char c) {
    llm__js_ws(j);
    if (j->p < j->end && *j->p == c) { j->p++; return true; }
    return false;
}

static int llm__js_hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A JSON string at j (after blanks) decoded into out (replacing its contents). */
static bool llm__js_string(llm__js *j, llm__buf *out) {
    out->len = 0;
    if (!llm__js_lit(j, '"')) return false;
    while (j->p < j->end && *j->p != '"') {
        const char *run = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\') j->p++;
        llm__buf_put(out, run, (size_t)(j->p - run));
        if (j->p >= j->end || *j->p == '"') break;
        if (j->end - j->p < 2) return false;
        char e = j->p[1], c;
        j->p += 2;
        if (e == 'u') {
            int32_t cp = j->end - j->p >= 4 ? llm__js_hex4(j->p) : -1;
            if (cp < 0) return false;
            j->p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
                int lo = llm__js_hex4(j->p + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); j->p += 6; }
            }
            if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;                  /* lone surrogate */
            char enc[4];
            llm__buf_put(out, enc, (size_t)llm__utf8_encode(cp, enc));
            continue;
        }
        c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
        if (!strchr("\"\\/nrtbf", e)) return false;
        llm__buf_put(out, &c, 1);
    }
    if (j->p >= j->end) return false;
    j->p++;
    llm__buf_put(out, "", 0);
    return !out->oom;
}

/* Skip one JSON value (balanced brackets, strings with escapes). */
static bool llm__js_skip(llm__js *j) {
    llm__js_ws(j);
    int depth = 0;
    do {
        if (j->p >= j->end) return false;
        char c = *j->p++;
        if (c == '"') {                                 /* to the next quote not escaped */
            for (;;) {
                const char *q = (const char *)memchr(j->p, '"', (size_t)(j->end - j->p));
                if (!q) return false;
                size_t slashes = 0;
                while (q - slashes > j->p && q[-1 - (ptrdiff_t)slashes] == '\\') slashes++;
                j->p = q + 1;
                if (slashes % 2 == 0) break;
            }
        } else if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') depth--;
        else if (depth == 0) while (j->p < j->end && !strchr(",}] \t\r\n", *j->p)) j->p++;
    } while (depth > 0);
    return depth == 0;
}

/* Find model.vocab and model.merges in the text: their [start, end) spans (empty if absent). */
static bool llm__js_find_model_arrays(llm__js j, llm__buf *key, llm__js *vocab, llm__js *merges) {
    vocab->p = vocab->end = merges->p = merges->end = NULL;
    if (!llm__js_lit(&j, '{')) return false;
    while (!llm__js_lit(&j, '}')) {
        if (!llm__js_string(&j, key) || !llm__js_lit(&j, ':')) return false;
        llm__js_ws(&j);
        if (strcmp(key->data, "model") || !llm__js_lit(&j, '{')) { if (!llm__js_skip(&j)) return false; }
        else while (!llm__js_lit(&j, '}')) {
            if (!llm__js_string(&j, key) || !llm__js_lit(&j, ':')) return false;
            llm__js_ws(&j);
            llm__js *span = !strcmp(key->data, "vocab") && j.p < j.end && *j.p == '{' ? vocab : !strcmp(key->data, "merges") ? merges : NULL;
            const char *start = j.p;
            if (!llm__js_skip(&j)) return false;
            if (span) { span->p = start; span->end = j.p; }
            llm__js_lit(&j, ',');
        }
        llm__js_lit(&j, ',');
    }
    return true;
}

/* model.vocab {"piece": id, ...}: with fill, give each id its piece; else only the max id. */
static llm_status llm__tj_vocab_scan(llm__tj *c, llm__js j, bool fill, int64_t *n_ids, llm__buf *key) {
    llm_status s;
    if (!llm__js_lit(&j, '{')) goto bad;
    while (!llm__js_lit(&j, '}')) {
        llm__js_ws(&j);
        if (fill ? !llm__js_string(&j, key) : (j.p >= j.end || *j.p != '"' || !llm__js_skip(&j))) goto bad;  /* counting: keys unread */
        if (!llm__js_lit(&j, ':')) goto bad;
        llm__js_ws(&j);
        char *end;
        double v = j.p < j.end ? strtod(j.p, &end) : -1;
        if (j.p >= j.end || end > j.end || end == j.p || !(v >= 0 && v < LLM_MAX_VOCAB) || v != (double)(llm_token)v)
            return llm__fail(LLM_ERR_FORMAT, "%s: model.vocab['%.100s'] is not a valid id", c->path, fill ? key->data : "?");
        j.p = end;
        if (!fill) *n_ids = LLM__MAX(*n_ids, (int64_t)v + 1);
        else if ((s = llm__tok_set_piece(c->t, (llm_token)v, key->data, key->len, true, c->path))) return s;
        if (!llm__js_lit(&j, ',') && (llm__js_ws(&j), j.p >= j.end || *j.p != '}')) goto bad;
    }
    return LLM_OK;
bad:
    return llm__fail(LLM_ERR_FORMAT, "%s: model.vocab is not a valid {\"piece\": id} object", c->path);
}

/* Enter merge number `rank` of a and b: the pair's ids -> (rank, merged id). */
static llm_status llm__tj_merge(llm__tj *c, const char *a, size_t na, const char *b, size_t nb, int64_t rank, llm__buf *tmp) {
    tmp->len = 0;
    llm__buf_put(tmp, a, na);
    llm__buf_put(tmp, b, nb);
    if (tmp->oom) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    llm_token ia = llm__strmap_get(&c->t->vocab, a, na), ib = llm__strmap_get(&c->t->vocab, b, nb);
    llm_token im = llm__strmap_get(&c->t->vocab, tmp->data, tmp->len);
    if (ia < 0 || ib < 0 || im < 0)
        return llm__fail(LLM_ERR_FORMAT, "%s: merges[%lld] '%.*s' + '%.*s': %s not in the vocabulary", c->path, (long long)rank,
                         (int)LLM__MIN(na, 100), a, (int)LLM__MIN(nb, 100), b, im >= 0 ? "a part is" : "the merged token is");
    uint64_t key = ((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib;
    if (!llm__u64map_put(&c->t->merges, key, (rank << 32) | (uint32_t)im)) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    return LLM_OK;
}

/* model.merges: ["a b", ...] or [["a", "b"], ...]; rank = position. */
static llm_status llm__tj_merges_scan(llm__tj *c, llm__js j, llm__buf *a, llm__buf *b, llm__buf *tmp) {
    llm_status s;
    if (!llm__u64map_init(&c->t->merges, (size_t)(j.end - j.p) / 16)) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    if (!llm__js_lit(&j, '[')) goto bad;
    for (int64_t rank = 0; !llm__js_lit(&j, ']'); rank++) {
        size_t na, nb;
        const char *pa = NULL, *pb = NULL;
        llm__js_ws(&j);
        if (j.p < j.end && *j.p == '[') {
            j.p++;
            if (!llm__js_string(&j, a) || !llm__js_lit(&j, ',') || !llm__js_string(&j, b) || !llm__js_lit(&j, ']')) goto bad;
            pa = a->data; na = a->len; pb = b->data; nb = b->len;
        } else {
            if (!llm__js_string(&j, a)) goto bad;
            const char *sp = memchr(a->data, ' ', a->len);
            if (!sp) return llm__fail(LLM_ERR_FORMAT, "%s: merges[%lld] '%.100s' is not \"a b\"", c->path, (long long)rank, a->data);
            pa = a->data; na = (size_t)(sp - a->data); pb = sp + 1; nb = a->len - na - 1;
        }
        if ((s = llm__tj_merge(c, pa, na, pb, nb, rank, tmp))) return s;
        if (!llm__js_lit(&j, ',') && (llm__js_ws(&j), j.p >= j.end || *j.p != ']')) goto bad;
    }
    return LLM_OK;
bad:
    return llm__fail(LLM_ERR_FORMAT, "%s: model.merges is not an array of \"a b\" or [\"a\", \"b\"]", c->path);
}

/* Largest id + 1 over the model vocabulary and the added tokens. */
static llm_status llm__tj_count_ids(llm__tj *c, const cJSON *model, const cJSON *added, bool unigram, llm__js vocab, int64_t *n) {
    const cJSON *it;
    llm_status s = LLM_OK;
    *n = 0;
    if (unigram) *n = cJSON_GetArraySize(llm__json_get(model, "vocab"));
    else if (vocab.p) {
        llm__buf key = { 0 };
        s = llm__tj_vocab_scan(c, vocab, false, n, &key);
        llm__buf_free(&key);
    }
    cJSON_ArrayForEach(it, added) *n = LLM__MAX(*n, (int64_t)llm__tj_id(llm__json_get(it, "id")) + 1);
    return s;
}

static llm_status llm__tj_vocab(llm__tj *c, const cJSON *model, bool unigram, llm__js vocab) {
    const cJSON *it, *arr = llm__json_get(model, "vocab");
    llm_status s;
    if (!unigram) {
        llm__buf key = { 0 };
        s = vocab.p ? llm__tj_vocab_scan(c, vocab, true, NULL, &key) : llm__fail(LLM_ERR_FORMAT, "%s: model.vocab must be an object", c->path);
        llm__buf_free(&key);
        return s;
    }
    if (!cJSON_IsArray(arr)) return llm__fail(LLM_ERR_FORMAT, "%s: Unigram model.vocab must be an array", c->path);
    llm_token id = 0;
    cJSON_ArrayForEach(it, arr) {
        const cJSON *a = cJSON_GetArrayItem(it, 0), *b = cJSON_GetArrayItem(it, 1);
        if (!cJSON_IsString(a) || !cJSON_IsNumber(b)) return llm__fail(LLM_ERR_FORMAT, "%s: model.vocab[%d] is not [piece, score]", c->path, id);
        c->t->scores[id] = (float)b->valuedouble;
        if ((s = llm__tok_set_piece(c->t, id, a->valuestring, strlen(a->valuestring), true, c->path))) return s;
        id++;
    }
    return LLM_OK;
}

static llm_status llm__tj_merges(llm__tj *c, llm__js merges) {
    if (!merges.p) return llm__fail(LLM_ERR_FORMAT, "%s: BPE model has no merges", c->path);
    llm__buf a = { 0 }, b = { 0 }, tmp = { 0 };
    llm_status s = llm__tj_merges_scan(c, merges, &a, &b, &tmp);
    llm__buf_free(&a); llm__buf_free(&b); llm__buf_free(&tmp);
    return s;
}

/* The unk token by name ("unk_token") or id ("unk_id"), -1 if none. */
static llm_status llm__tj_unk(llm__tj *c, const cJSON *model) {
    const char *name = llm__json_str(model, "unk_token", NULL);
    c->t->unk = -1;
    if (name && (c->t->unk = llm__strmap_get(&c->t->vocab, name, strlen(name))) < 0)
        return llm__fail(LLM_ERR_FORMAT, "%s: unk_token '%.100s' is not in the vocabulary", c->path, name);
    if (llm__json_has(model, "unk_id") && ((c->t->unk = llm__tj_id(llm__json_get(model, "unk_id"))) < 0 || c->t->unk >= c->t->n_vocab))
        return llm__fail(LLM_ERR_FORMAT, "%s: unk_id out of range", c->path);
    return LLM_OK;
}

static llm_status llm__tj_model(llm__tj *c, const cJSON *model, const cJSON *added, llm__js vocab, llm__js merges) {
    const char *type = llm__json_str(model, "type", NULL);
    if (!cJSON_IsObject(model)) return llm__fail(LLM_ERR_FORMAT, "%s: no \"model\" object", c->path);
    if (!type) type = merges.p ? "BPE" : cJSON_IsArray(llm__json_get(model, "vocab")) ? "Unigram" : "WordPiece";
    llm_tokenizer *t = c->t;
    bool unigram = !strcmp(type, "Unigram");
    if (!strcmp(type, "BPE")) t->model = LLM__TOK_BPE;
    else if (unigram) t->model = LLM__TOK_UNIGRAM;
    else if (!strcmp(type, "WordPiece")) t->model = LLM__TOK_WORDPIECE;
    else return llm__fail(LLM_ERR_UNSUPPORTED, "%s: model type '%s' is not supported", c->path, type);
    if (llm__json_str(model, "continuing_subword_prefix", "")[0] && t->model == LLM__TOK_BPE)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: BPE continuing_subword_prefix is not supported", c->path);
    if (llm__json_str(model, "end_of_word_suffix", "")[0])
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: BPE end_of_word_suffix is not supported", c->path);
    int64_t n;
    llm_status s = llm__tj_count_ids(c, model, added, unigram, vocab, &n);
    if (!s && n <= 0) s = llm__fail(LLM_ERR_FORMAT, "%s: empty or invalid model.vocab", c->path);
    if (!s) s = llm__tok_alloc_vocab(t, n, unigram, c->path);
    if (!s) s = llm__tj_vocab(c, model, unigram, vocab);
    if (!s && t->model == LLM__TOK_BPE) s = llm__tj_merges(c, merges);
    if (!s) s = llm__tj_unk(c, model);
    if (s) return s;
    t->byte_fallback = llm__json_bool(model, "byte_fallback", false);
    t->fuse_unk = llm__json_bool(model, "fuse_unk", unigram);
    t->ignore_merges = llm__json_bool(model, "ignore_merges", false);
    t->wp_max_chars = (int)llm__json_int(model, "max_input_chars_per_word", 100);
    if (t->model == LLM__TOK_WORDPIECE) return llm__tj_str(c, model, "continuing_subword_prefix", "##", &t->wp_prefix, NULL);
    return LLM_OK;
}

static llm_status llm__tj_added(llm__tj *c, const cJSON *added) {
    const cJSON *it;
    llm_status s;
    cJSON_ArrayForEach(it, added) {
        const char *content = llm__json_str(it, "content", NULL);
        llm__added a = { 0 };
        a.id = llm__tj_id(llm__json_get(it, "id"));
        if (!content || a.id < 0) return llm__fail(LLM_ERR_FORMAT, "%s: added_tokens entry without content or valid id", c->path);
        a.len = strlen(content);
        if (a.id >= c->t->n_vocab || a.len > UINT32_MAX / 2) return llm__fail(LLM_ERR_FORMAT, "%s: added token id %d out of range", c->path, a.id);
        if (!(a.text = llm__tok_intern(c->t, content, a.len))) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
        /* HF re-adds these by content: one the model vocabulary already has keeps the
           model's id, whatever the file says */
        llm_token model_id = llm__strmap_get(&c->t->vocab, content, a.len);
        if (model_id >= 0) a.id = model_id;
        else {
            c->t->pieces[a.id] = (char *)a.text;      /* HF decodes an added token's id to its content */
            c->t->piece_lens[a.id] = (uint32_t)a.len;
        }
        a.special = llm__json_bool(it, "special", false);
        a.lstrip = llm__json_bool(it, "lstrip", false);
        a.rstrip = llm__json_bool(it, "rstrip", false);
        a.single_word = llm__json_bool(it, "single_word", false);
        a.normalized = llm__json_bool(it, "normalized", !a.special);
        if ((s = llm__tok_add_token(c->t, &a, c->path))) return s;
    }
    return LLM_OK;
}

/* bos_token / eos_token of tokenizer_config.json: "<s>" or {"content": "<s>", ...}. */
static llm_token llm__tj_config_token(const llm_tokenizer *t, const cJSON *cfg, const char *key) {
    const cJSON *v = llm__json_get(cfg, key);
    const char *s = cJSON_IsString(v) ? v->valuestring : llm__json_str(v, "content", NULL);
    return s ? llm_tokenizer_find(t, s) : -1;
}

/* bos/eos from tokenizer_config.json in dir (absent file: BOS from the post-processor). */
static void llm__tj_config(llm_tokenizer *t, const char *dir) {
    char path[4096];
    cJSON *cfg = NULL;
    t->bos = t->n_post_pre == 1 ? t->post_ids[0] : -1;
    t->eos = -1;
    if (!llm__path_join(path, sizeof path, dir, "tokenizer_config.json") || !llm__file_exists(path)) return;
    if (llm__json_load(path, &cfg) != LLM_OK) { llm__log(LLM_LOG_WARN, "%s: ignored: %s", path, llm_last_error()); return; }
    if (llm__json_has(cfg, "bos_token")) t->bos = llm__tj_config_token(t, cfg, "bos_token");
    t->eos = llm__tj_config_token(t, cfg, "eos_token");
    /* transformers rebuilds the post-processor from add_bos_token / add_eos_token; honour
       them when tokenizer.json's own post-processor does not add those tokens */
    bool add_bos = llm__json_bool(cfg, "add_bos_token", false) && t->bos >= 0 && t->n_post_pre == 0;
    bool add_eos = llm__json_bool(cfg, "add_eos_token", false) && t->eos >= 0 && t->n_post_post == 0;
    llm_token *ids = add_bos || add_eos ? (llm_token *)realloc(t->post_ids, (size_t)(t->n_post_pre + t->n_post_post + 2) * sizeof *ids) : NULL;
    if (ids) {
        if (add_bos) { memmove(ids + 1, ids, (size_t)(t->n_post_pre + t->n_post_post) * sizeof *ids); ids[0] = t->bos; t->n_post_pre++; }
        if (add_eos) ids[t->n_post_pre + t->n_post_post++] = t->eos;
        t->post_ids = ids;
    }
    cJSON_Delete(cfg);
}

static llm_status llm__tj_pipeline(llm__tj *c, const cJSON *root) {
    llm__post post = { { 0 }, 0, 0 };
    llm_status s = llm__tj_normalizer(c, llm__json_get(root, "normalizer"));
    if (!s) s = llm__tj_pretokenizer(c, llm__json_get(root, "pre_tokenizer"));
    if (!s) s = llm__tj_decoder(c, llm__json_get(root, "decoder"));
    if (!s) s = llm__tj_post(c, llm__json_get(root, "post_processor"), &post);
    if (s) return s;
    int n = post.n_pre + post.n_post;
    if (n && !(c->t->post_ids = (llm_token *)malloc((size_t)n * sizeof(llm_token)))) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    if (n) memcpy(c->t->post_ids, post.ids, (size_t)n * sizeof(llm_token));
    c->t->n_post_pre = post.n_pre;
    c->t->n_post_post = post.n_post;
    return LLM_OK;
}

/* Load a tokenizer.json (and tokenizer_config.json beside it). */
static llm_status llm__tokenizer_load_json(const char *path, llm_tokenizer **out) {
    char *text = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    llm_tokenizer *t = NULL;
    llm__buf key = { 0 };
    llm__js vocab, merges;
    llm_status s = llm__read_file(NULL, path, &text, &len);
    if (s) return s;
    if (!llm__js_find_model_arrays((llm__js){ text, text + len }, &key, &vocab, &merges)) {
        s = llm__json_parse(text, len, path, &root);                     /* for its line:column message */
        if (!s) s = llm__fail(LLM_ERR_FORMAT, "%s: not a JSON object", path);
        goto done;
    }
    /* cJSON parses a copy with the two big values blanked out */
    char *rest = (char *)malloc(len + 1);
    if (!rest) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    memcpy(rest, text, len + 1);
    llm__js spans[2] = { vocab, merges };
    for (int i = 0; i < 2; i++)
        if (spans[i].p) { size_t at = (size_t)(spans[i].p - text); memset(rest + at, ' ', (size_t)(spans[i].end - spans[i].p)); rest[at] = '0'; }
    s = llm__json_parse(rest, len, path, &root);
    free(rest);
    if (s) goto done;
    if (!(t = (llm_tokenizer *)calloc(1, sizeof *t))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    llm__tj c = { t, path };
    const cJSON *added = llm__json_get(root, "added_tokens");
    s = llm__tj_model(&c, llm__json_get(root, "model"), added, vocab, merges);
    if (!s) s = llm__tj_added(&c, added);
    if (!s) s = llm__tj_pipeline(&c, root);
    if (!s) s = llm__tok_finish(t, path);
done:
    cJSON_Delete(root);
    llm__free(NULL, text);
    llm__buf_free(&key);
    if (s) { llm_tokenizer_free(t); return s; }
    char dir[4096];
    llm__path_dir(dir, sizeof dir, path);
    llm__tj_config(t, dir);
    *out = t;
    return LLM_OK;
}
#endif /* LLM_NO_CJSON */
