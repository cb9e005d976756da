/* ---- >>tokenizer.model and tokenizer.bin: SentencePiece and llama2.c ----
   tokenizer.model is a protobuf ModelProto; the few fields we read:
     ModelProto     { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
                      NormalizerSpec normalizer_spec = 3; }
     SentencePiece  { string piece = 1; float score = 2; Type type = 3; }
                      (type NORMAL=1 UNKNOWN=2 CONTROL=3 USER_DEFINED=4 UNUSED=5 BYTE=6)
     TrainerSpec    { ModelType model_type = 3 (UNIGRAM=1, BPE=2); bool byte_fallback = 35;
                      int32 unk_id = 40, bos_id = 41, eos_id = 42; }
     NormalizerSpec { string name = 1; bytes precompiled_charsmap = 2; bool add_dummy_prefix = 3;
                      bool remove_extra_whitespaces = 4; bool escape_whitespaces = 5; }
   A protobuf message is a list of (key varint = field << 3 | wire type, value) records:
   wire 0 varint, 1 eight bytes, 2 length-delimited (strings, nested messages), 5 four bytes.
   The loader fills the same pipeline that HF's conversion of the file would give.
   tokenizer.bin is llama2.c's export: int32 max_token_length, then per token float score,
   int32 length, bytes; it encodes and decodes like run.c (see 43_tok_models.c). */
#include "10_internal.h"
#include <dirent.h>

typedef struct llm__pb { const uint8_t *p, *end; } llm__pb;

static bool llm__pb_varint(llm__pb *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

/* The next field of a message: its number, wire type, and value (varint/fixed in *v,
   length-delimited in data). False at the end or on a malformed record (*bad). */
static bool llm__pb_next(llm__pb *r, uint32_t *field, uint32_t *wire, uint64_t *v, llm__pb *data, bool *bad) {
    uint64_t key, len;
    if (r->p >= r->end) return false;
    if (!llm__pb_varint(r, &key)) { *bad = true; return false; }
    *field = (uint32_t)(key >> 3);
    *wire = (uint32_t)(key & 7);
    switch (*wire) {
    case 0: if (!llm__pb_varint(r, v)) { *bad = true; return false; } return true;
    case 1: case 5: {
        size_t n = *wire == 1 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) { *bad = true; return false; }
        *v = 0;
        for (size_t i = 0; i < n; i++) *v |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        return true;
    }
    case 2:
        if (!llm__pb_varint(r, &len) || len > (uint64_t)(r->end - r->p)) { *bad = true; return false; }
        data->p = r->p;
        data->end = r->p + len;
        r->p += len;
        return true;
    default: *bad = true; return false;                /* groups (3, 4) are not used by ModelProto */
    }
}

static float llm__pb_float(uint64_t v) {
    uint32_t u = (uint32_t)v;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

enum { LLM__SP_NORMAL = 1, LLM__SP_UNKNOWN = 2, LLM__SP_CONTROL = 3, LLM__SP_USER = 4, LLM__SP_UNUSED = 5, LLM__SP_BYTE = 6 };

typedef struct llm__spm {
    int model_type;                          /* 1 unigram, 2 BPE */
    bool byte_fallback, add_dummy_prefix, remove_extra_ws, escape_ws, has_charsmap;
    int64_t unk_id, bos_id, eos_id;
    int64_t n_pieces;
} llm__spm;

/* First pass over the top-level message: counts pieces, reads both specs. */
static llm_status llm__spm_specs(const char *path, llm__pb r, llm__spm *sp) {
    uint32_t field, wire, f2, w2;
    uint64_t v;
    llm__pb data, sub;
    bool bad = false;
    *sp = (llm__spm){ 1, false, true, true, true, false, 0, 1, 2, 0 };
    while (llm__pb_next(&r, &field, &wire, &v, &data, &bad)) {
        if (field == 1 && wire == 2) sp->n_pieces++;
        if (field == 2 && wire == 2)
            while (llm__pb_next(&data, &f2, &w2, &v, &sub, &bad)) {
                if (w2 != 0) continue;
                if (f2 == 3) sp->model_type = (int)v;
                else if (f2 == 35) sp->byte_fallback = v != 0;
                else if (f2 == 40) sp->unk_id = (int32_t)v;
                else if (f2 == 41) sp->bos_id = (int32_t)v;
                else if (f2 == 42) sp->eos_id = (int32_t)v;
            }
        if (field == 3 && wire == 2)
            while (llm__pb_next(&data, &f2, &w2, &v, &sub, &bad)) {
                if (f2 == 2 && w2 == 2) sp->has_charsmap = sub.end > sub.p;
                else if (f2 == 3 && w2 == 0) sp->add_dummy_prefix = v != 0;
                else if (f2 == 4 && w2 == 0) sp->remove_extra_ws = v != 0;
                else if (f2 == 5 && w2 == 0) sp->escape_ws = v != 0;
            }
    }
    if (bad) return llm__fail(LLM_ERR_FORMAT, "%s: malformed protobuf (truncated or corrupt)", path);
    if (sp->n_pieces == 0) return llm__fail(LLM_ERR_FORMAT, "%s: no pieces (not a SentencePiece model?)", path);
    if (sp->n_pieces > LLM_MAX_VOCAB) return llm__fail(LLM_ERR_FORMAT, "%s: too many pieces", path);
    if (sp->model_type != 1 && sp->model_type != 2)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: SentencePiece model_type %d (only UNIGRAM=1 and BPE=2)", path, sp->model_type);
    return LLM_OK;
}

/* Second pass: the pieces. User-defined pieces become added tokens; control, unknown,
   byte and unused pieces never come out of the model's own search. */
static llm_status llm__spm_pieces(llm_tokenizer *t, const char *path, llm__pb r, int *types) {
    uint32_t field, wire, f2, w2;
    uint64_t v;
    llm__pb data, sub;
    bool bad = false;
    llm_token id = 0;
    llm_status s;
    while (llm__pb_next(&r, &field, &wire, &v, &data, &bad)) {
        if (field != 1 || wire != 2) continue;
        llm__pb text = { NULL, NULL };
        int type = LLM__SP_NORMAL;
        while (llm__pb_next(&data, &f2, &w2, &v, &sub, &bad)) {
            if (f2 == 1 && w2 == 2) text = sub;
            else if (f2 == 2 && w2 == 5) t->scores[id] = llm__pb_float(v);
            else if (f2 == 3 && w2 == 0) type = (int)v;
        }
        size_t n = (size_t)(text.end - text.p);
        if (bad || !text.p) return llm__fail(LLM_ERR_FORMAT, "%s: piece %d is malformed", path, id);
        if ((s = llm__tok_set_piece(t, id, (const char *)text.p, n, true, path))) return s;
        types[id] = type;
        if (type != LLM__SP_NORMAL && type != LLM__SP_USER) t->flags[id] |= LLM__TF_NO_MODEL;
        if (type == LLM__SP_CONTROL) t->flags[id] |= LLM__TF_SPECIAL;
        if (type == LLM__SP_USER && n) {
            llm__added a = { t->pieces[id], n, id, false, false, false, false, true, true };
            if ((s = llm__tok_add_token(t, &a, path))) return s;
        }
        id++;
    }
    if (bad) return llm__fail(LLM_ERR_FORMAT, "%s: malformed protobuf (truncated or corrupt)", path);
    return LLM_OK;
}

/* Score-ordered merges: every way to write a mergeable piece as two pieces becomes a merge
   whose rank is the piece's place among distinct scores (higher score = merged first;
   equal scores tie and the leftmost pair wins, as in SentencePiece and run.c). */
typedef struct llm__scored { float score; llm_token id; } llm__scored;

static int llm__scored_cmp(const void *a, const void *b) {
    float x = ((const llm__scored *)a)->score, y = ((const llm__scored *)b)->score;
    return x > y ? -1 : x < y ? 1 : 0;
}

static llm_status llm__merges_from_scores(llm_tokenizer *t, const bool *mergeable, const char *path) {
    llm__scored *order = (llm__scored *)malloc((size_t)t->n_vocab * sizeof *order);
    int64_t n = 0;
    if (!order || !llm__u64map_init(&t->merges, (size_t)t->n_vocab)) { free(order); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); }
    for (llm_token id = 0; id < t->n_vocab; id++)
        if (mergeable[id] && t->piece_lens[id] > 1) order[n++] = (llm__scored){ t->scores[id], id };
    qsort(order, (size_t)n, sizeof *order, llm__scored_cmp);
    int64_t rank = 0;
    for (int64_t k = 0; k < n; k++) {
        if (k && order[k].score != order[k - 1].score) rank++;
        const char *s = t->pieces[order[k].id];
        uint32_t len = t->piece_lens[order[k].id];
        llm_token merged = llm__strmap_get(&t->vocab, s, len);          /* the first of equal strings */
        for (uint32_t cut = 1; cut < len; cut++) {
            llm_token a = llm__strmap_get(&t->vocab, s, cut), b = llm__strmap_get(&t->vocab, s + cut, len - cut);
            if (a < 0 || b < 0) continue;
            if (!llm__u64map_put(&t->merges, ((uint64_t)(uint32_t)a << 32) | (uint32_t)b, (rank << 32) | (uint32_t)merged)) {
                free(order);
                return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
            }
        }
    }
    free(order);
    return LLM_OK;
}

/* The normalizer and decoder SentencePiece applies: (collapse spaces), " " -> "▁",
   prepend "▁"; and back: "▁" -> " ", byte runs, join, drop the first space. */
static llm_status llm__spm_pipeline(llm_tokenizer *t, const llm__spm *sp, const char *path) {
    static char meta[] = "\xe2\x96\x81", space[] = " ", empty[] = "";
    llm_status s = LLM_OK;
    if (sp->has_charsmap) {
        llm__log(LLM_LOG_WARN, "%s: precompiled normalization rules approximated by NFKC", path);
        s = llm__tok_push_step(&t->norm, &t->n_norm, (llm__step){ .kind = LLM__N_NFKC }, path);
    }
    if (!s && sp->remove_extra_ws) {
        llm__step strip = { .kind = LLM__N_REPLACE, .content = empty }, collapse = { .kind = LLM__N_REPLACE, .content = space, .content_len = 1 };
        if (!(s = llm__regex_compile("^ +| +$", path, &strip.re)) && !(s = llm__tok_push_step(&t->norm, &t->n_norm, strip, path)) &&
            !(s = llm__regex_compile(" {2,}", path, &collapse.re)))
            s = llm__tok_push_step(&t->norm, &t->n_norm, collapse, path);
    }
    if (!s && sp->escape_ws)
        s = llm__tok_push_step(&t->norm, &t->n_norm, (llm__step){ .kind = LLM__N_REPLACE, .pat = space, .pat_len = 1, .content = meta, .content_len = 3 }, path);
    if (!s && sp->add_dummy_prefix)
        s = llm__tok_push_step(&t->norm, &t->n_norm, (llm__step){ .kind = LLM__N_PREPEND, .content = meta, .content_len = 3 }, path);
    const llm__step dec[] = {
        { .kind = LLM__D_REPLACE, .pat = meta, .pat_len = 3, .content = space, .content_len = 1 },
        { .kind = LLM__D_BYTEFALLBACK }, { .kind = LLM__D_FUSE },
        { .kind = LLM__D_STRIP, .content = space, .content_len = 1, .start = 1 },
    };
    for (int i = 0; i < 4 && !s; i++)
        if (i < 3 || sp->add_dummy_prefix) s = llm__tok_push_step(&t->dec, &t->n_dec, dec[i], path);
    t->has_decoder = true;
    return s;
}

static llm_status llm__tokenizer_load_spm(const char *path, llm_tokenizer **out) {
    llm__mapping map;
    llm_status s = llm__map_file(path, &map);
    if (s) return s;
    if (!map.size) return llm__fail(LLM_ERR_FORMAT, "%s: empty file", path);
    llm__pb r = { map.data, map.data + map.size };
    llm__spm sp;
    llm_tokenizer *t = NULL;
    int *types = NULL;
    bool *mergeable = NULL;
    if ((s = llm__spm_specs(path, r, &sp))) goto done;
    if (!(t = (llm_tokenizer *)calloc(1, sizeof *t)) || !(types = (int *)calloc((size_t)sp.n_pieces, sizeof *types)) ||
        !(mergeable = (bool *)calloc((size_t)sp.n_pieces, sizeof *mergeable))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    if ((s = llm__tok_alloc_vocab(t, sp.n_pieces, true, path)) || (s = llm__spm_pieces(t, path, r, types))) goto done;
    t->model = sp.model_type == 2 ? LLM__TOK_BPE : LLM__TOK_UNIGRAM;
    t->byte_fallback = sp.byte_fallback;
    t->fuse_unk = true;
    t->unk = sp.unk_id >= 0 && sp.unk_id < t->n_vocab ? (llm_token)sp.unk_id : -1;
    t->bos = sp.bos_id >= 0 && sp.bos_id < t->n_vocab ? (llm_token)sp.bos_id : -1;
    t->eos = sp.eos_id >= 0 && sp.eos_id < t->n_vocab ? (llm_token)sp.eos_id : -1;
    for (int64_t i = 0; i < sp.n_pieces; i++) mergeable[i] = types[i] == LLM__SP_NORMAL || types[i] == LLM__SP_USER;
    if (t->model == LLM__TOK_BPE && (s = llm__merges_from_scores(t, mergeable, path))) goto done;
    if ((s = llm__spm_pipeline(t, &sp, path))) goto done;
    if (t->bos >= 0) {
        if (!(t->post_ids = (llm_token *)malloc(sizeof *t->post_ids))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
        t->post_ids[0] = t->bos;
        t->n_post_pre = 1;
    }
    s = llm__tok_finish(t, path);
done:
    free(types);
    free(mergeable);
    llm__unmap(&map);
    if (s) llm_tokenizer_free(t);
    else *out = t;
    return s;
}

/* llama2.c tokenizer.bin. The file does not store the vocabulary size: records run to the
   end of the file, and a record cut short is an error. */
static llm_status llm__tokenizer_load_bin(const char *path, llm_tokenizer **out) {
    llm__mapping map;
    llm_status s = llm__map_file(path, &map);
    if (s) return s;
    if (map.size < 4) { llm__unmap(&map); return llm__fail(LLM_ERR_FORMAT, "%s: too short for a tokenizer.bin header", path); }
    const uint8_t *p = map.data, *end = map.data + map.size;
    int64_t n = 0;
    llm_tokenizer *t = NULL;
    bool *all = NULL;
    for (const uint8_t *q = p + 4; q < end; n++) {                  /* count and validate the records */
        int32_t len;
        if (end - q < 8) { s = llm__fail(LLM_ERR_FORMAT, "%s: token %lld: truncated record", path, (long long)n); goto done; }
        memcpy(&len, q + 4, 4);
        if (len < 0 || len > end - q - 8) { s = llm__fail(LLM_ERR_FORMAT, "%s: token %lld: length %d runs past the end of the file", path, (long long)n, len); goto done; }
        q += 8 + len;
        if (n >= LLM_MAX_VOCAB) { s = llm__fail(LLM_ERR_FORMAT, "%s: too many tokens", path); goto done; }
    }
    if (n < 3 + 256) { s = llm__fail(LLM_ERR_FORMAT, "%s: %lld tokens, fewer than llama2.c's 3 specials + 256 bytes", path, (long long)n); goto done; }
    if (!(t = (llm_tokenizer *)calloc(1, sizeof *t)) || !(all = (bool *)malloc((size_t)n))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    if ((s = llm__tok_alloc_vocab(t, n, true, path))) goto done;
    p += 4;
    for (llm_token id = 0; id < n; id++) {
        int32_t len;
        memcpy(&t->scores[id], p, 4);
        memcpy(&len, p + 4, 4);
        if ((s = llm__tok_set_piece(t, id, (const char *)p + 8, (size_t)len, true, path))) goto done;
        p += 8 + len;
    }
    memset(all, 1, (size_t)n);
    if ((s = llm__merges_from_scores(t, all, path))) goto done;
    if (!(t->post_ids = (llm_token *)malloc(sizeof *t->post_ids))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    t->model = LLM__TOK_RUNC;
    t->unk = 0;
    t->bos = t->post_ids[0] = 1;                        /* llama2.c's fixed ids: 0 <unk>, 1 <s>, 2 </s> */
    t->eos = 2;
    t->n_post_pre = 1;
    for (int i = 0; i < 3; i++) t->flags[i] |= LLM__TF_SPECIAL;
    s = llm__tok_finish(t, path);
done:
    free(all);
    llm__unmap(&map);
    if (s) llm_tokenizer_free(t);
    else *out = t;
    return s;
}

/* llama2.c names its tokenizers tok512.bin, tok4096.bin...: the first such file in dir
   (in name order) into file, for a directory without the standard names. */
static bool llm__find_llama2c_tokenizer(const char *dir, char *file, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return false;
    char best[256] = "";
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const char *n = e->d_name;
        if (!strncmp(n, "tok", 3) && llm__ends_with(n, ".bin") && strlen(n) < sizeof best && (!best[0] || strcmp(n, best) < 0))
            snprintf(best, sizeof best, "%s", n);
    }
    closedir(d);
    return best[0] && llm__path_join(file, cap, dir, best) && llm__file_exists(file);
}

static llm_status llm__tokenizer_load_gguf(const char *path, llm_tokenizer **out);   /* 48_tok_gguf.c */

LLM_API llm_status llm_tokenizer_load(const char *path, llm_tokenizer **out_tok) {
    LLM_ASSERT(path && out_tok);
    static const char *const names[] = { "tokenizer.json", "tokenizer.model", "tokenizer.bin" };
    char file[4096];
    const char *use = path;
    if (llm__is_dir(path)) {
        use = NULL;
        for (int i = 0; i < 3 && !use; i++)
            if (llm__path_join(file, sizeof file, path, names[i]) && llm__file_exists(file)) use = file;
        if (!use && llm__find_llama2c_tokenizer(path, file, sizeof file)) use = file;
        if (!use) return llm__fail(LLM_ERR_NOT_FOUND, "%s: no tokenizer.json, tokenizer.model, tokenizer.bin or tok*.bin", path);
    }
#ifndef LLM_NO_CJSON
    if (llm__ends_with(use, ".json")) return llm__tokenizer_load_json(use, out_tok);
#else
    if (llm__ends_with(use, ".json")) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: built with LLM_NO_CJSON", use);
#endif
    if (llm__ends_with(use, ".model")) return llm__tokenizer_load_spm(use, out_tok);
    if (llm__ends_with(use, ".bin")) return llm__tokenizer_load_bin(use, out_tok);
    if (llm__ends_with(use, ".gguf")) return llm__tokenizer_load_gguf(use, out_tok);
    return llm__fail(LLM_ERR_UNSUPPORTED, "%s: unknown tokenizer file (expected tokenizer.json, .model or .bin)", use);
}
