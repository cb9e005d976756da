/* ---- >>tokenizer models: BPE, Unigram, WordPiece, and encoding/decoding ----
   A model turns one word (bytes after normalization and pre-tokenization) into ids.
   - BPE starts from one symbol per character and applies merges, lowest rank first; the
     merges live in a hash map (left id, right id) -> (rank, merged id), and a heap of
     candidate pairs keeps a long word (SentencePiece-style BPE has no pre-tokenizer, so a
     "word" can be a whole line) at O(n log n). SentencePiece and llama2.c BPE merge by the
     score of the merged piece instead; their loaders turn scores into ranks, so one loop
     serves all three.
   - Unigram picks the segmentation with the best total score (Viterbi).
   - WordPiece takes the longest vocabulary prefix, then "##"-prefixed continuations. */
#include "10_internal.h"

typedef struct llm__ids { llm_token *v; size_t n, cap; bool oom; } llm__ids;

static void llm__ids_push(llm__ids *a, llm_token id) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        llm_token *v = (llm_token *)realloc(a->v, cap * sizeof *v);
        if (!v) { a->oom = true; return; }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = id;
}

/* ---- BPE ---- */

typedef struct llm__sym { llm_token id; int32_t prev, next; uint32_t len; } llm__sym;   /* len 0: merged away */
typedef struct llm__cand { uint32_t rank; int32_t pos; llm_token merged; } llm__cand;

typedef struct llm__bpe_scratch {
    llm__sym *syms;
    llm__cand *heap;
    size_t cap_syms, cap_heap, n_heap;
    bool oom;
} llm__bpe_scratch;

static bool llm__cand_less(const llm__cand *a, const llm__cand *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void llm__heap_push(llm__bpe_scratch *s, llm__cand c) {
    if (s->n_heap == s->cap_heap) {
        size_t cap = s->cap_heap ? 2 * s->cap_heap : 256;
        llm__cand *h = (llm__cand *)realloc(s->heap, cap * sizeof *h);
        if (!h) { s->oom = true; return; }
        s->heap = h;
        s->cap_heap = cap;
    }
    size_t i = s->n_heap++;
    while (i > 0 && llm__cand_less(&c, &s->heap[(i - 1) / 2])) { s->heap[i] = s->heap[(i - 1) / 2]; i = (i - 1) / 2; }
    s->heap[i] = c;
}

static llm__cand llm__heap_pop(llm__bpe_scratch *s) {
    llm__cand top = s->heap[0], last = s->heap[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && llm__cand_less(&s->heap[c + 1], &s->heap[c])) c++;
        if (!llm__cand_less(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

/* Queue the pair starting at symbol `pos` if a merge exists for it. */
static void llm__bpe_queue(const llm_tokenizer *t, llm__bpe_scratch *s, int32_t pos) {
    if (pos < 0 || s->syms[pos].next < 0) return;
    int32_t next = s->syms[pos].next;
    int64_t v;
    uint64_t key = ((uint64_t)(uint32_t)s->syms[pos].id << 32) | (uint32_t)s->syms[next].id;
    if (llm__u64map_get(&t->merges, key, &v)) llm__heap_push(s, (llm__cand){ (uint32_t)(v >> 32), pos, (llm_token)(v & 0xffffffff) });
}

static void llm__bpe_add_sym(llm__bpe_scratch *s, size_t *n, llm_token id, uint32_t len) {
    if (*n == s->cap_syms) {
        size_t cap = s->cap_syms ? 2 * s->cap_syms : 256;
        llm__sym *v = (llm__sym *)realloc(s->syms, cap * sizeof *v);
        if (!v) { s->oom = true; return; }
        s->syms = v;
        s->cap_syms = cap;
    }
    s->syms[*n] = (llm__sym){ id, (int32_t)*n - 1, (int32_t)*n + 1, len };
    (*n)++;
}

/* The initial symbols: one per character; an unknown character becomes its <0xNN> byte
   tokens (byte_fallback), else the unk token (consecutive ones fused with fuse_unk), else
   nothing - HF's BPE drops what it cannot represent. */
static size_t llm__bpe_init(const llm_tokenizer *t, llm__bpe_scratch *s, const char *w, size_t n) {
    size_t n_syms = 0;
    bool prev_unk = false;
    for (size_t i = 0; i < n && !s->oom;) {
        uint32_t len = (uint32_t)LLM__MIN((size_t)llm__utf8_len((uint8_t)w[i]), n - i);
        llm_token id = llm__strmap_get(&t->vocab, w + i, len);
        bool unk = false;
        if (id < 0 && t->byte_fallback) {
            bool all = true;
            for (uint32_t k = 0; k < len; k++) all = all && t->byte_tok[(uint8_t)w[i + k]] >= 0;
            if (all) for (uint32_t k = 0; k < len; k++) llm__bpe_add_sym(s, &n_syms, t->byte_tok[(uint8_t)w[i + k]], 1);
            if (all) { i += len; prev_unk = false; continue; }
        }
        if (id < 0) { id = t->unk; unk = true; }
        if (id >= 0 && unk && prev_unk && t->fuse_unk) s->syms[n_syms - 1].len += len;
        else if (id >= 0) llm__bpe_add_sym(s, &n_syms, id, len);
        prev_unk = unk;
        i += len;
    }
    if (n_syms) s->syms[n_syms - 1].next = -1;
    return n_syms;
}

/* Apply merges to the n_syms symbols in s->syms until none applies; append the ids. */
static void llm__bpe_merge(const llm_tokenizer *t, llm__bpe_scratch *s, size_t n_syms, llm__ids *out) {
    s->n_heap = 0;
    for (size_t i = 0; i + 1 < n_syms; i++) llm__bpe_queue(t, s, (int32_t)i);
    while (s->n_heap && !s->oom) {
        llm__cand c = llm__heap_pop(s);
        llm__sym *a = &s->syms[c.pos];
        if (a->len == 0 || a->next < 0) continue;                 /* stale: merged away meanwhile */
        llm__sym *b = &s->syms[a->next];
        int64_t v;
        uint64_t key = ((uint64_t)(uint32_t)a->id << 32) | (uint32_t)b->id;
        if (!llm__u64map_get(&t->merges, key, &v) || (llm_token)(v & 0xffffffff) != c.merged) continue;
        a->id = c.merged;
        a->len += b->len;
        b->len = 0;
        a->next = b->next;
        if (a->next >= 0) s->syms[a->next].prev = c.pos;
        llm__bpe_queue(t, s, a->prev);
        llm__bpe_queue(t, s, c.pos);
    }
    for (int32_t i = n_syms ? 0 : -1; i >= 0; i = s->syms[i].next) llm__ids_push(out, s->syms[i].id);
}

static void llm__bpe_word(const llm_tokenizer *t, llm__bpe_scratch *s, const char *w, size_t n, llm__ids *out) {
    if (t->ignore_merges) {
        llm_token id = llm__strmap_get(&t->vocab, w, n);
        if (id >= 0) { llm__ids_push(out, id); return; }
    }
    llm__bpe_merge(t, s, llm__bpe_init(t, s, w, n), out);
}

/* llama2.c's encode(): a " " token first (the dummy prefix) when the text is not empty,
   then one symbol per UTF-8 sequence (at most 4 bytes, as run.c cuts them), unknown ones
   as byte tokens id = byte + 3, then merges by score (the loader ranked them). */
static void llm__runc_encode(const llm_tokenizer *t, llm__bpe_scratch *s, const char *w, size_t n, llm__ids *out) {
    size_t n_syms = 0;
    llm_token space = llm__strmap_get(&t->vocab, " ", 1);
    if (n && space >= 0) llm__bpe_add_sym(s, &n_syms, space, 1);
    for (size_t i = 0; i < n && !s->oom;) {
        size_t len = 1;
        while (i + len < n && ((uint8_t)w[i + len] & 0xc0) == 0x80 && len < 4) len++;
        llm_token id = llm__strmap_get(&t->vocab, w + i, len);
        if (id >= 0) llm__bpe_add_sym(s, &n_syms, id, (uint32_t)len);
        else for (size_t k = 0; k < len; k++)
            if ((uint8_t)w[i + k] + 3 < t->n_vocab) llm__bpe_add_sym(s, &n_syms, (uint8_t)w[i + k] + 3, 1);
        i += len;
    }
    if (n_syms) s->syms[n_syms - 1].next = -1;
    llm__bpe_merge(t, s, n_syms, out);
}

/* ---- Unigram (Viterbi over character boundaries) ---- */

static void llm__unigram_word(const llm_tokenizer *t, const char *w, size_t n, llm__ids *out) {
    double *best = (double *)malloc((n + 1) * sizeof *best);
    int32_t *from = (int32_t *)malloc((n + 1) * sizeof *from);
    llm_token *ids = (llm_token *)malloc((n + 1) * sizeof *ids);
    size_t *path = (size_t *)malloc((n + 1) * sizeof *path);
    if (!best || !from || !ids || !path) { out->oom = true; goto done; }
    for (size_t i = 0; i <= n; i++) { best[i] = -INFINITY; from[i] = -1; }
    best[0] = 0;
    for (size_t i = 0; i < n; i = i + (size_t)llm__utf8_len((uint8_t)w[i])) {
        if (best[i] == -INFINITY) continue;
        size_t clen = LLM__MIN((size_t)llm__utf8_len((uint8_t)w[i]), n - i);
        bool single = false;
        for (size_t e = i + 1; e <= n && e - i <= t->max_piece_len; e++) {
            if (e < n && ((uint8_t)w[e] & 0xc0) == 0x80) continue;     /* not a character boundary */
            llm_token id = llm__strmap_get(&t->vocab, w + i, e - i);
            if (id < 0 || (t->flags[id] & LLM__TF_NO_MODEL)) continue;
            if (e - i == clen) single = true;
            double sc = best[i] + t->scores[id];
            if (sc > best[e]) { best[e] = sc; from[e] = (int32_t)i; ids[e] = id; }
        }
        if (!single && best[i] + t->unk_score > best[i + clen]) {
            best[i + clen] = best[i] + t->unk_score;
            from[i + clen] = (int32_t)i;
            ids[i + clen] = -1;
        }
    }
    /* walk back, then emit in order (unknowns: byte fallback, or one unk per run) */
    size_t n_path = 0;
    for (size_t e = n; e > 0 && from[e] >= 0; e = (size_t)from[e]) path[n_path++] = e;
    bool prev_unk = false;
    for (size_t k = n_path; k-- > 0;) {
        size_t e = path[k], b = (size_t)from[e];
        llm_token id = ids[e];
        if (id >= 0) { llm__ids_push(out, id); prev_unk = false; continue; }
        bool all = t->byte_fallback;
        for (size_t i = b; i < e && all; i++) all = t->byte_tok[(uint8_t)w[i]] >= 0;
        if (all) { for (size_t i = b; i < e; i++) llm__ids_push(out, t->byte_tok[(uint8_t)w[i]]); prev_unk = false; continue; }
        if (t->unk >= 0 && !(prev_unk && t->fuse_unk)) llm__ids_push(out, t->unk);
        prev_unk = true;
    }
done:
    free(best); free(from); free(ids); free(path);
}

/* ---- WordPiece ---- */

static void llm__wordpiece_word(const llm_tokenizer *t, const char *w, size_t n, llm__buf *tmp, llm__ids *out) {
    size_t n_chars = 0, mark = out->n;
    for (size_t i = 0; i < n; i += (size_t)llm__utf8_len((uint8_t)w[i])) n_chars++;
    if (n_chars > (size_t)t->wp_max_chars) goto unknown;
    size_t plen = t->wp_prefix ? strlen(t->wp_prefix) : 0;
    for (size_t start = 0; start < n;) {
        llm_token found = -1;
        size_t end = n;
        while (end > start) {
            tmp->len = 0;
            if (start > 0) llm__buf_put(tmp, t->wp_prefix, plen);
            llm__buf_put(tmp, w + start, end - start);
            if (!tmp->oom && (found = llm__strmap_get(&t->vocab, tmp->data, tmp->len)) >= 0) break;
            do end--; while (end > start && ((uint8_t)w[end] & 0xc0) == 0x80);
        }
        if (found < 0) goto unknown;
        llm__ids_push(out, found);
        start = end;
    }
    return;
unknown:
    out->n = mark;
    if (t->unk >= 0) llm__ids_push(out, t->unk);
}

/* ---- encoding: the whole pipeline ---- */

/* Words repeat ("the", " and", "Ġ="...), so one tokenize call remembers what BPE made of
   each short word: a small open-addressing table keyed by the word's bytes, which live in
   `keys`, with their ids in `ids`. It lives for one call, so the tokenizer stays immutable
   and shareable between threads. */
#define LLM__CACHE_WORD_MAX 64         /* longer words are not cached */
#define LLM__CACHE_MAX_SLOTS 65536

typedef struct llm__cslot { uint64_t hash; uint32_t key_off, key_len, ids_off, n_ids; } llm__cslot;  /* key_len 0: empty */

typedef struct llm__wcache {
    llm__cslot *slots;
    size_t cap, n;
    llm__buf keys;
    llm__ids ids;
} llm__wcache;

static llm__cslot *llm__wcache_find(llm__wcache *c, const char *w, size_t n, uint64_t h) {
    for (size_t i = h & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
        llm__cslot *e = &c->slots[i];
        if (!e->key_len || (e->hash == h && e->key_len == n && memcmp(c->keys.data + e->key_off, w, n) == 0)) return e;
    }
}

static bool llm__wcache_grow(llm__wcache *c) {
    size_t cap = c->cap ? 2 * c->cap : 256;
    llm__cslot *old = c->slots, *slots = (llm__cslot *)calloc(cap, sizeof *slots);
    if (!slots) return false;
    size_t old_cap = c->cap;
    c->slots = slots;
    c->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key_len) *llm__wcache_find(c, c->keys.data + old[i].key_off, old[i].key_len, old[i].hash) = old[i];
    free(old);
    return true;
}

/* Remember that word w encodes to ids[0..n_ids) (when there is room). */
static void llm__wcache_put(llm__wcache *c, const char *w, size_t n, uint64_t h, const llm_token *ids, size_t n_ids) {
    if (2 * (c->n + 1) > c->cap && (c->cap >= LLM__CACHE_MAX_SLOTS || !llm__wcache_grow(c))) return;
    llm__cslot *e = llm__wcache_find(c, w, n, h);
    *e = (llm__cslot){ h, (uint32_t)c->keys.len, (uint32_t)n, (uint32_t)c->ids.n, (uint32_t)n_ids };
    llm__buf_put(&c->keys, w, n);
    for (size_t i = 0; i < n_ids; i++) llm__ids_push(&c->ids, ids[i]);
    if (c->keys.oom || c->ids.oom) { e->key_len = 0; return; }    /* cannot keep it: forget it */
    c->n++;
}

typedef struct llm__enc {
    llm__buf text, na, nb, tmp;
    llm__pretok_scratch pre;
    llm__bpe_scratch bpe;
    llm__wcache cache;
    llm__ids ids;
} llm__enc;

static void llm__enc_free(llm__enc *e) {
    llm__buf_free(&e->text); llm__buf_free(&e->na); llm__buf_free(&e->nb); llm__buf_free(&e->tmp);
    llm__pretok_scratch_free(&e->pre);
    free(e->bpe.syms); free(e->bpe.heap);
    free(e->cache.slots); llm__buf_free(&e->cache.keys); free(e->cache.ids.v);
    free(e->ids.v);
}

static void llm__encode_word(const llm_tokenizer *t, llm__enc *e, const char *w, size_t n) {
    if (n == 0) return;
    if (t->model == LLM__TOK_BPE && n <= LLM__CACHE_WORD_MAX) {
        uint64_t h = llm__hash_bytes(w, n);
        llm__cslot *hit = e->cache.cap ? llm__wcache_find(&e->cache, w, n, h) : NULL;
        if (hit && hit->key_len) {
            for (uint32_t i = 0; i < hit->n_ids; i++) llm__ids_push(&e->ids, e->cache.ids.v[hit->ids_off + i]);
            return;
        }
        size_t mark = e->ids.n;
        llm__bpe_word(t, &e->bpe, w, n, &e->ids);
        if (!e->ids.oom) llm__wcache_put(&e->cache, w, n, h, e->ids.v + mark, e->ids.n - mark);
    } else if (t->model == LLM__TOK_BPE) llm__bpe_word(t, &e->bpe, w, n, &e->ids);
    else if (t->model == LLM__TOK_UNIGRAM) llm__unigram_word(t, w, n, &e->ids);
    else llm__wordpiece_word(t, w, n, &e->tmp, &e->ids);
}

static void llm__encode_words(const llm_tokenizer *t, llm__enc *e, const char *s, size_t n, bool first) {
    if (n == 0) return;                               /* HF makes no split here: nothing to prepend to */
    if (t->n_pre == 0) { llm__encode_word(t, e, s, n); return; }
    llm__pretokenize(t, s, n, first, &e->pre);
    for (size_t k = 0; k < e->pre.pa.n; k++) llm__encode_word(t, e, e->pre.a.data + e->pre.pa.v[k].off, e->pre.pa.v[k].len);
}

/* A stretch of text between raw added tokens: normalize, split out the added tokens that
   match normalized text, encode the rest. */
static void llm__encode_segment(const llm_tokenizer *t, llm__enc *e, const char *s, size_t n, bool first) {
    if (t->n_norm) {
        llm__normalize(t, s, n, &e->na, &e->nb);
        s = e->na.data;
        n = e->na.len;
    }
    size_t at = 0, ms, me;
    llm_token id;
    while (llm__added_find(t, 1, s, n, at, &ms, &me, &id)) {
        llm__encode_words(t, e, s + at, ms - at, first && at == 0);
        llm__ids_push(&e->ids, id);
        at = me;
    }
    llm__encode_words(t, e, s + at, n - at, first && at == 0);
}

LLM_API llm_status llm_tokenize(const llm_tokenizer *t, const char *text, size_t len, bool add_special,
                                llm_token *out, int64_t cap, int64_t *out_n) {
    LLM_ASSERT(t && (text || len == 0) && out_n && (out || cap <= 0));
    if (len > (size_t)INT32_MAX / 4)                  /* symbol positions are 32-bit */
        return llm__fail(LLM_ERR_INVALID_ARG, "tokenize: text of %zu bytes is too long (split it)", len);
    llm__enc e;
    memset(&e, 0, sizeof e);
    if (add_special) for (int i = 0; i < t->n_post_pre; i++) llm__ids_push(&e.ids, t->post_ids[i]);
    if (t->model == LLM__TOK_RUNC) llm__runc_encode(t, &e.bpe, text, len, &e.ids);
    else {
        llm__buf_put_lossy(&e.text, text, len);
        const char *s = e.text.data ? e.text.data : "";
        size_t n = e.text.len, at = 0, ms, me;
        llm_token id;
        while (llm__added_find(t, 0, s, n, at, &ms, &me, &id)) {
            llm__encode_segment(t, &e, s + at, ms - at, at == 0);
            llm__ids_push(&e.ids, id);
            at = me;
        }
        llm__encode_segment(t, &e, s + at, n - at, at == 0);
    }
    if (add_special) for (int i = 0; i < t->n_post_post; i++) llm__ids_push(&e.ids, t->post_ids[t->n_post_pre + i]);
    bool oom = e.ids.oom || e.bpe.oom || e.text.oom || e.na.oom || e.nb.oom || e.tmp.oom || e.pre.a.oom ||
               e.pre.b.oom || e.pre.tmp.oom || e.pre.pa.oom || e.pre.pb.oom || e.pre.m.oom;
    if (!oom) {
        if (cap > 0 && e.ids.n) memcpy(out, e.ids.v, (size_t)LLM__MIN((int64_t)e.ids.n, cap) * sizeof *out);
        *out_n = (int64_t)e.ids.n;
    }
    llm__enc_free(&e);
    return oom ? llm__fail(LLM_ERR_NOMEM, "tokenize: out of memory") : LLM_OK;
}

/* ---- decoding: ids -> token strings -> decoder chain -> text ----
   Decoders work on a list of strings, as HF's decode_chain does: some rewrite each token
   (Replace, Strip, Metaspace), some join tokens (Fuse, ByteLevel, runs of byte tokens). */

typedef struct llm__toks { llm__buf buf; llm__pieces p; } llm__toks;

static void llm__toks_put(llm__toks *o, const char *s, size_t n) {
    size_t off = o->buf.len;
    llm__buf_put(&o->buf, s, n);
    llm__pieces_push(&o->p, off, n, false);
}

static void llm__toks_reset(llm__toks *o) {
    o->buf.len = 0;
    o->p.n = 0;
    llm__buf_put(&o->buf, "", 0);
}

/* ByteLevel: every token's code points back to bytes (a token with a code point outside the
   table keeps its UTF-8), all joined, then invalid UTF-8 replaced. */
static void llm__dec_bytelevel(const llm__toks *in, llm__buf *tmp, llm__toks *out) {
    tmp->len = 0;
    for (size_t k = 0; k < in->p.n; k++) {
        const uint8_t *s = (const uint8_t *)in->buf.data + in->p.v[k].off;
        size_t n = in->p.v[k].len, mark = tmp->len;
        for (size_t i = 0; i < n;) {
            int len, b = llm__bytelevel_byte(llm__utf8_cp(s + i, &len));
            if (b < 0) { tmp->len = mark; llm__buf_put(tmp, s, n); break; }
            uint8_t c = (uint8_t)b;
            llm__buf_put(tmp, &c, 1);
            i += (size_t)len;
        }
    }
    size_t off = out->buf.len;
    llm__buf_put_lossy(&out->buf, tmp->data ? tmp->data : "", tmp->len);
    llm__pieces_push(&out->p, off, out->buf.len - off, false);
}

/* ByteFallback: a run of <0xNN> tokens becomes its bytes when they are valid UTF-8, else
   one U+FFFD per byte. */
static void llm__dec_bytefallback(const llm__toks *in, llm__buf *tmp, llm__toks *out) {
    tmp->len = 0;
    for (size_t k = 0; k <= in->p.n; k++) {
        int b = k < in->p.n ? llm__byte_token_value(in->buf.data + in->p.v[k].off, in->p.v[k].len) : -1;
        if (b >= 0) { uint8_t c = (uint8_t)b; llm__buf_put(tmp, &c, 1); continue; }
        if (tmp->len && llm__utf8_valid(tmp->data, tmp->len)) llm__toks_put(out, tmp->data, tmp->len);
        else for (size_t i = 0; i < tmp->len; i++) llm__toks_put(out, "\xef\xbf\xbd", 3);
        tmp->len = 0;
        if (k < in->p.n) llm__toks_put(out, in->buf.data + in->p.v[k].off, in->p.v[k].len);
    }
}

/* Strip: up to `start` leading and `stop` trailing copies of the content character. */
static void llm__dec_strip(const llm__step *st, const char *s, size_t n, llm__toks *out) {
    size_t c = st->content_len;
    for (int i = 0; i < st->start && c && n >= c && memcmp(s, st->content, c) == 0; i++) { s += c; n -= c; }
    for (int i = 0; i < st->stop && c && n >= c && memcmp(s + n - c, st->content, c) == 0; i++) n -= c;
    llm__toks_put(out, s, n);
}

/* Metaspace: "▁" becomes " ", except in the first token, where it is dropped (it was the
   prepended one) unless the scheme is "never". */
static void llm__dec_metaspace(const llm__step *st, size_t k, const char *s, size_t n, llm__buf *tmp, llm__toks *out) {
    tmp->len = 0;
    for (size_t i = 0; i < n;) {
        if (st->content_len && i + st->content_len <= n && memcmp(s + i, st->content, st->content_len) == 0) {
            if (!(k == 0 && st->behavior != LLM__PREPEND_NEVER)) llm__buf_put(tmp, " ", 1);
            i += st->content_len;
        } else llm__buf_put(tmp, s + i++, 1);
    }
    llm__toks_put(out, tmp->data ? tmp->data : "", tmp->len);
}

/* WordPiece: "##" continuations glue to the previous token, others get a space; cleanup
   then undoes the spaces English tokenization put before punctuation and contractions. */
static void llm__dec_wordpiece(const llm__step *st, size_t k, const char *s, size_t n, llm__buf *tmp, llm__toks *out) {
    static const char *const cleanup[][2] = {
        { " .", "." }, { " ?", "?" }, { " !", "!" }, { " ,", "," }, { " ' ", "'" }, { " n't", "n't" },
        { " 'm", "'m" }, { " do not", " don't" }, { " 's", "'s" }, { " 've", "'ve" }, { " 're", "'re" },
    };
    tmp->len = 0;
    if (k > 0) {
        if (n >= st->content_len && memcmp(s, st->content, st->content_len) == 0) { s += st->content_len; n -= st->content_len; }
        else llm__buf_put(tmp, " ", 1);
    }
    llm__buf_put(tmp, s, n);
    for (size_t r = 0; st->b && r < sizeof cleanup / sizeof cleanup[0]; r++) {
        llm__step rep = { .kind = LLM__D_REPLACE, .pat = (char *)cleanup[r][0], .pat_len = strlen(cleanup[r][0]),
                          .content = (char *)cleanup[r][1], .content_len = strlen(cleanup[r][1]) };
        llm__buf done = { 0 };
        llm__replace_all(&rep, tmp->data ? tmp->data : "", tmp->len, &done);
        tmp->len = 0;
        llm__buf_put(tmp, done.data ? done.data : "", done.len);
        llm__buf_free(&done);
    }
    llm__toks_put(out, tmp->data ? tmp->data : "", tmp->len);
}

static void llm__decode_step(const llm__step *st, const llm__toks *in, llm__buf *tmp, llm__toks *out) {
    if (st->kind == LLM__D_BYTELEVEL) { llm__dec_bytelevel(in, tmp, out); return; }
    if (st->kind == LLM__D_BYTEFALLBACK) { llm__dec_bytefallback(in, tmp, out); return; }
    if (st->kind == LLM__D_FUSE) {
        size_t off = out->buf.len;
        for (size_t k = 0; k < in->p.n; k++) llm__buf_put(&out->buf, in->buf.data + in->p.v[k].off, in->p.v[k].len);
        llm__pieces_push(&out->p, off, out->buf.len - off, false);
        return;
    }
    for (size_t k = 0; k < in->p.n; k++) {
        const char *s = in->buf.data + in->p.v[k].off;
        size_t n = in->p.v[k].len;
        if (st->kind == LLM__D_STRIP) llm__dec_strip(st, s, n, out);
        else if (st->kind == LLM__D_METASPACE) llm__dec_metaspace(st, k, s, n, tmp, out);
        else if (st->kind == LLM__D_WORDPIECE) llm__dec_wordpiece(st, k, s, n, tmp, out);
        else {                                                   /* LLM__D_REPLACE */
            tmp->len = 0;
            llm__replace_all(st, s, n, tmp);
            llm__toks_put(out, tmp->data ? tmp->data : "", tmp->len);
        }
    }
}

/* llama2.c's decode(): a leading space is dropped after BOS, <0xNN> is the raw byte. */
static void llm__runc_decode(const llm_tokenizer *t, const llm_token *ids, int64_t n, bool skip_special, llm__buf *out) {
    llm_token prev = -1;
    for (int64_t i = 0; i < n; prev = ids[i], i++) {
        llm_token id = ids[i];
        if (id < 0 || id >= t->n_vocab || (skip_special && (t->flags[id] & LLM__TF_SPECIAL))) continue;
        const char *s = t->pieces[id];
        size_t len = t->piece_lens[id];
        if (prev == t->bos && len && s[0] == ' ') { s++; len--; }
        int b = llm__byte_token_value(s, len);
        if (b >= 0) { uint8_t c = (uint8_t)b; llm__buf_put(out, &c, 1); }
        else llm__buf_put(out, s, len);
    }
}

/* Decode into out (appending). */
static void llm__decode(const llm_tokenizer *t, const llm_token *ids, int64_t n, bool skip_special, llm__buf *out) {
    if (t->model == LLM__TOK_RUNC) { llm__runc_decode(t, ids, n, skip_special, out); return; }
    llm__toks a = { 0 }, b = { 0 };
    llm__buf tmp = { 0 };
    llm__toks_reset(&a);
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab || (skip_special && (t->flags[ids[i]] & LLM__TF_SPECIAL))) continue;
        llm__toks_put(&a, t->pieces[ids[i]], t->piece_lens[ids[i]]);
    }
    for (int i = 0; i < t->n_dec; i++) {
        llm__toks_reset(&b);
        llm__decode_step(&t->dec[i], &a, &tmp, &b);
        llm__toks x = a; a = b; b = x;
    }
    for (size_t k = 0; k < a.p.n; k++) {
        if (k && !t->has_decoder) llm__buf_put(out, " ", 1);       /* HF joins with spaces without a decoder */
        llm__buf_put(out, a.buf.data + a.p.v[k].off, a.p.v[k].len);
    }
    if (a.buf.oom || b.buf.oom || tmp.oom || a.p.oom || b.p.oom) out->oom = true;
    llm__buf_free(&a.buf); llm__buf_free(&b.buf); llm__buf_free(&tmp);
    free(a.p.v); free(b.p.v);
}

LLM_API int64_t llm_detokenize(const llm_tokenizer *t, const llm_token *ids, int64_t n, bool skip_special,
                               char *buf, int64_t cap) {
    LLM_ASSERT(t && (ids || n <= 0) && (buf || cap <= 0));
    llm__buf out = { 0 };
    llm__decode(t, ids, n, skip_special, &out);
    if (out.oom) { llm__buf_free(&out); return -1; }
    int64_t len = (int64_t)out.len;
    if (cap > 0) {
        size_t k = (size_t)LLM__MIN(len, cap - 1);
        if (k) memcpy(buf, out.data, k);
        buf[k] = 0;
    }
    llm__buf_free(&out);
    return len;
}

/* ---- streaming detokenizer ----
   HF's DecodeStream idea: keep a small window of ids - the ones not yet emitted plus one
   already emitted id for context - and the text that window's emitted part decodes to
   (`prefix`). After a push, decode the window; if it grew past the prefix and does not end
   in something the next id may still change (U+FFFD, a cut UTF-8 sequence from raw-byte
   decoders, a run of <0xNN> tokens), the extra text is final. Because the context token is decoded along with the new ones,
   context-dependent decoders (Strip of the first space, Metaspace's first "▁", byte runs)
   give exactly what decoding the whole sequence gives. */
struct llm_detok {
    const llm_tokenizer *tok;
    bool skip_special;
    llm__ids ids;              /* the window */
    size_t prefix_index;       /* ids[0..prefix_index) decode to `prefix` */
    llm__buf prefix, text, out;
};

LLM_API llm_status llm_detok_create(const llm_tokenizer *tok, bool skip_special, llm_detok **out_detok) {
    LLM_ASSERT(tok && out_detok);
    llm_detok *d = (llm_detok *)calloc(1, sizeof *d);
    if (!d) return llm__fail(LLM_ERR_NOMEM, "detokenizer: out of memory");
    d->tok = tok;
    d->skip_special = skip_special;
    *out_detok = d;
    return LLM_OK;
}

LLM_API void llm_detok_destroy(llm_detok *d) {
    if (!d) return;
    free(d->ids.v);
    llm__buf_free(&d->prefix); llm__buf_free(&d->text); llm__buf_free(&d->out);
    free(d);
}

/* Text that may still change when more ids come: it ends in U+FFFD or a cut sequence. */
static bool llm__text_unfinished(const char *s, size_t n) {
    if (n >= 3 && memcmp(s + n - 3, "\xef\xbf\xbd", 3) == 0) return true;
    size_t i = n;
    while (i > 0 && n - i < 4 && ((uint8_t)s[i - 1] & 0xc0) == 0x80) i--;
    if (i == 0 || ((uint8_t)s[i - 1] & 0xc0) != 0xc0) return false;   /* ends in ASCII or a stray byte */
    return (size_t)llm__utf8_len((uint8_t)s[i - 1]) > n - i + 1;
}

/* With a ByteFallback decoder a run of <0xNN> tokens is decoded as a whole - and replaced
   as a whole when invalid, even its ASCII bytes - so text ending in one is never final. */
static bool llm__detok_in_byte_run(const llm_tokenizer *t, llm_token id) {
    if (id < 0 || id >= t->n_vocab || llm__byte_token_value(t->pieces[id], t->piece_lens[id]) < 0) return false;
    for (int i = 0; i < t->n_dec; i++) if (t->dec[i].kind == LLM__D_BYTEFALLBACK) return true;
    return false;
}

static void llm__detok_decode(llm_detok *d, size_t from, size_t to, llm__buf *b) {
    b->len = 0;
    llm__buf_put(b, "", 0);
    if (to > from) llm__decode(d->tok, d->ids.v + from, (int64_t)(to - from), d->skip_special, b);
}

static llm_status llm__detok_result(llm_detok *d, const char **out_text, size_t *out_len) {
    if (d->ids.oom || d->prefix.oom || d->text.oom || d->out.oom) return llm__fail(LLM_ERR_NOMEM, "detokenizer: out of memory");
    *out_text = d->out.data ? d->out.data : "";
    *out_len = d->out.len;
    return LLM_OK;
}

LLM_API llm_status llm_detok_push(llm_detok *d, llm_token id, const char **out_text, size_t *out_len) {
    LLM_ASSERT(d && out_text && out_len);
    d->out.len = 0;
    llm__buf_put(&d->out, "", 0);
    llm__ids_push(&d->ids, id);
    if (llm__detok_in_byte_run(d->tok, id)) return llm__detok_result(d, out_text, out_len);
    llm__detok_decode(d, 0, d->ids.n, &d->text);
    if (d->text.len > d->prefix.len && !llm__text_unfinished(d->text.data, d->text.len) &&
        memcmp(d->text.data, d->prefix.data ? d->prefix.data : "", d->prefix.len) == 0) {
        llm__buf_put(&d->out, d->text.data + d->prefix.len, d->text.len - d->prefix.len);
        size_t keep_from = d->prefix_index, new_index = d->ids.n - d->prefix_index;
        memmove(d->ids.v, d->ids.v + keep_from, (d->ids.n - keep_from) * sizeof *d->ids.v);
        d->ids.n -= keep_from;
        llm__detok_decode(d, 0, d->prefix_index = new_index, &d->prefix);
    }
    return llm__detok_result(d, out_text, out_len);
}

LLM_API llm_status llm_detok_flush(llm_detok *d, const char **out_text, size_t *out_len) {
    LLM_ASSERT(d && out_text && out_len);
    d->out.len = 0;
    llm__buf_put(&d->out, "", 0);
    llm__detok_decode(d, 0, d->ids.n, &d->text);
    size_t skip = d->text.len >= d->prefix.len && memcmp(d->text.data, d->prefix.data ? d->prefix.data : "", d->prefix.len) == 0
                ? d->prefix.len : 0;
    llm__buf_put(&d->out, d->text.data + skip, d->text.len - skip);
    d->ids.n = 0;
    d->prefix_index = 0;
    d->prefix.len = 0;
    return llm__detok_result(d, out_text, out_len);
}
