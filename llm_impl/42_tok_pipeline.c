/* ---- >>tokenizer: the tokenizer object and its text pipeline ----
   Hugging Face describes a tokenizer as a pipeline, and so do we:

     text -> added tokens split out ("<|eot_id|>" is never cut by BPE)
          -> normalizer (NFC, Replace " " by "▁", Prepend "▁", ...)
          -> pre-tokenizer (regex Split, ByteLevel, Metaspace, ...): a list of words
          -> model (BPE / Unigram / WordPiece): each word -> ids
          -> post-processor (BOS and friends, when add_special)

   and back: ids -> token strings -> decoder chain (ByteLevel, Replace "▁" by " ",
   ByteFallback "<0x0A>" -> "\n", Fuse, Strip) -> text.
   SentencePiece .model files and llama2.c .bin files load into the same object: the
   loader fills the same steps that their tokenizer.json conversion would have.
   This part holds the object and the text-to-text steps; the models are in the next part,
   the file loaders in the one after. */
#include "10_internal.h"

#ifndef LLM_MAX_VOCAB
#define LLM_MAX_VOCAB (1 << 24)     /* ids from a file above this are refused */
#endif

enum { LLM__TOK_BPE, LLM__TOK_UNIGRAM, LLM__TOK_WORDPIECE, LLM__TOK_RUNC /* llama2.c run.c */ };

/* Per-id flags. SPECIAL: dropped by skip_special. NO_MODEL: never produced by the model's
   own search (SentencePiece control, unknown, byte and unused pieces). */
enum { LLM__TF_SPECIAL = 1, LLM__TF_NO_MODEL = 2 };

/* One step of a normalizer, pre-tokenizer or decoder chain (a Sequence is flattened). */
typedef enum {
    LLM__N_NFC, LLM__N_NFD, LLM__N_NFKC, LLM__N_NFKD, LLM__N_LOWERCASE, LLM__N_REPLACE, LLM__N_PREPEND, LLM__N_STRIP,
    LLM__P_BYTELEVEL, LLM__P_SPLIT, LLM__P_METASPACE, LLM__P_DIGITS, LLM__P_PUNCT, LLM__P_WHITESPACE, LLM__P_WSSPLIT,
    LLM__D_BYTELEVEL, LLM__D_METASPACE, LLM__D_BYTEFALLBACK, LLM__D_FUSE, LLM__D_STRIP, LLM__D_REPLACE, LLM__D_WORDPIECE
} llm__step_kind;

/* How a Split keeps what it matched (HF's SplitDelimiterBehavior). */
enum { LLM__SPLIT_REMOVED, LLM__SPLIT_ISOLATED, LLM__SPLIT_MERGED_PREV, LLM__SPLIT_MERGED_NEXT, LLM__SPLIT_CONTIGUOUS };
/* Metaspace's prepend_scheme. */
enum { LLM__PREPEND_ALWAYS, LLM__PREPEND_FIRST, LLM__PREPEND_NEVER };

typedef struct llm__step {
    llm__step_kind kind;
    char *pat, *content;       /* Replace/Split literal pattern; Replace/Prepend/Strip/Metaspace text */
    size_t pat_len, content_len;
    llm__regex *re;            /* Replace/Split regex pattern (instead of pat) */
    int behavior;              /* Split, Punctuation; Metaspace: prepend scheme */
    bool invert;               /* Split */
    bool a, b;                 /* ByteLevel: add_prefix_space, use_regex; Metaspace: split; Strip: left, right;
                                  Digits: individual_digits; WordPiece decoder: cleanup */
    int start, stop;           /* Strip decoder */
} llm__step;

typedef struct llm__added {
    const char *text;
    size_t len;
    llm_token id;
    bool special, lstrip, rstrip, single_word;
    bool normalized;           /* matched on normalized text (HF: and normalized itself first) */
    bool verbatim;             /* ... but kept as written (SentencePiece user-defined pieces) */
} llm__added;

/* A byte trie over the added tokens: node k's child for byte c is trie.map[(k << 8) | c];
   term[k] is the index of the added token ending at node k, or -1. Two tries: tokens
   matched on the raw text, and tokens matched after normalization. */
typedef struct llm__trie {
    llm__u64map map;
    int32_t *term;
    int32_t n_nodes;
    bool first[256];           /* bytes that start some token: the fast reject */
} llm__trie;

struct llm_tokenizer {
    int model;                 /* LLM__TOK_* */
    int64_t n_vocab;
    char **pieces;             /* id -> token string (NUL-terminated), "" for holes */
    uint32_t *piece_lens;
    uint8_t *flags;            /* LLM__TF_* per id */
    float *scores;             /* Unigram and run.c scores, else NULL */
    llm__strmap vocab;         /* token string -> id (model vocabulary and added tokens) */
    llm__u64map merges;        /* (left << 32 | right) -> (rank << 32 | merged id) */
    char **chunks;             /* the string pool: every string above lives here */
    int n_chunks;
    size_t chunk_used, chunk_cap;

    llm_token unk;             /* -1 if none */
    bool byte_fallback, fuse_unk, ignore_merges;
    llm_token byte_tok[256];   /* id of "<0xNN>", -1 if absent */
    char *wp_prefix;           /* WordPiece continuing_subword_prefix ("##") */
    int wp_max_chars;
    double unk_score;          /* Unigram: score of an unknown character */
    uint32_t max_piece_len;    /* longest vocabulary string in bytes */

    llm__added *added;
    int n_added;
    llm__trie trie[2];         /* [0]: matched on raw text, [1]: on normalized text */

    llm__step *norm, *pre, *dec;
    int n_norm, n_pre, n_dec;
    bool has_decoder;
    llm_token *post_ids;       /* post-processor: n_post_pre ids before, n_post_post after */
    int n_post_pre, n_post_post;
    llm_token bos, eos;
    char bytelevel[256][3];    /* byte-level spelling of each byte, bytelevel_len[b] bytes */
    uint8_t bytelevel_len[256];
};

/* ---- the string pool ---- */

/* Copy s[0..n) into the tokenizer's pool, NUL-terminated. NULL when out of memory. */
static char *llm__tok_intern(llm_tokenizer *t, const char *s, size_t n) {
    if (t->chunk_cap - t->chunk_used < n + 1) {
        size_t cap = LLM__MAX((size_t)1 << 20, n + 1);
        char **c = (char **)realloc(t->chunks, (size_t)(t->n_chunks + 1) * sizeof *c);
        if (!c) return NULL;
        t->chunks = c;
        if (!(t->chunks[t->n_chunks] = (char *)malloc(cap))) return NULL;
        t->n_chunks++;
        t->chunk_used = 0;
        t->chunk_cap = cap;
    }
    char *d = t->chunks[t->n_chunks - 1] + t->chunk_used;
    if (n) memcpy(d, s, n);
    d[n] = 0;
    t->chunk_used += n + 1;
    return d;
}

static void llm__step_free(llm__step *s) {
    llm__regex_free(s->re);
    s->re = NULL;
}

static void llm__trie_free(llm__trie *tr) {
    llm__u64map_free(&tr->map);
    free(tr->term);
    memset(tr, 0, sizeof *tr);
}

LLM_API void llm_tokenizer_free(llm_tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_norm; i++) llm__step_free(&t->norm[i]);
    for (int i = 0; i < t->n_pre; i++) llm__step_free(&t->pre[i]);
    for (int i = 0; i < t->n_dec; i++) llm__step_free(&t->dec[i]);
    free(t->norm); free(t->pre); free(t->dec);
    for (int i = 0; i < t->n_chunks; i++) free(t->chunks[i]);
    free(t->chunks);
    free(t->pieces); free(t->piece_lens); free(t->flags); free(t->scores);
    llm__strmap_free(&t->vocab);
    llm__u64map_free(&t->merges);
    llm__trie_free(&t->trie[0]);
    llm__trie_free(&t->trie[1]);
    free(t->added);
    free(t->post_ids);
    free(t);
}

/* ---- added tokens: trie building and matching ---- */

static bool llm__trie_add(llm__trie *tr, const char *s, size_t n, int32_t index) {
    if (!tr->term) {
        if (!llm__u64map_init(&tr->map, 64) || !(tr->term = (int32_t *)malloc(sizeof *tr->term))) return false;
        tr->term[0] = -1;
        tr->n_nodes = 1;
    }
    int64_t node = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = ((uint64_t)node << 8) | (uint8_t)s[i];
        int64_t child;
        if (!llm__u64map_get(&tr->map, key, &child)) {
            if ((tr->n_nodes & (tr->n_nodes - 1)) == 0) {      /* capacity: the next power of two */
                int32_t *term = (int32_t *)realloc(tr->term, 2 * (size_t)tr->n_nodes * sizeof *term);
                if (!term) return false;
                tr->term = term;
            }
            child = tr->n_nodes++;
            tr->term[child] = -1;
            if (!llm__u64map_put(&tr->map, key, child)) return false;
        }
        node = child;
    }
    if (tr->term[node] < 0) tr->term[node] = index;     /* the first of two equal tokens wins */
    tr->first[(uint8_t)s[0]] = true;
    return true;
}

/* Word characters for single_word (HF: alphanumeric or '_'). */
static bool llm__is_word_at(const char *s, size_t n, size_t at, bool before) {
    const uint8_t *u = (const uint8_t *)s;
    if (before) {
        if (at == 0) return false;
        size_t i = at - 1;
        while (i > 0 && (u[i] & 0xc0) == 0x80) i--;
        at = i;
    } else if (at >= n) return false;
    int len;
    int32_t cp = llm__utf8_cp(u + at, &len);
    return cp == '_' || (llm__catbit(cp) & (LLM__CATS_L | LLM__CATS_N)) != 0;
}

/* The leftmost-longest added token in s[from..n) from trie `which`: true with the span
   [*ms, *me) it covers (widened by lstrip/rstrip over whitespace) and its id. */
static bool llm__added_find(const llm_tokenizer *t, int which, const char *s, size_t n, size_t from,
                            size_t *ms, size_t *me, llm_token *id) {
    const llm__trie *tr = &t->trie[which];
    if (!tr->term) return false;
    for (size_t i = from; i < n; i++) {
        if (!tr->first[(uint8_t)s[i]]) continue;
        int64_t node = 0;
        int32_t best = -1;
        size_t best_end = 0;
        for (size_t j = i; j < n; j++) {
            if (!llm__u64map_get(&tr->map, ((uint64_t)node << 8) | (uint8_t)s[j], &node)) break;
            const int32_t k = tr->term[node];
            if (k >= 0 && !(t->added[k].single_word && (llm__is_word_at(s, n, i, true) || llm__is_word_at(s, n, j + 1, false)))) {
                best = k;
                best_end = j + 1;
            }
        }
        if (best < 0) continue;
        const llm__added *a = &t->added[best];
        size_t b = i, e = best_end;
        if (a->lstrip) while (b > from && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\n' || s[b - 1] == '\r')) b--;
        if (a->rstrip) while (e < n && (s[e] == ' ' || s[e] == '\t' || s[e] == '\n' || s[e] == '\r')) e++;
        *ms = b; *me = e; *id = a->id;
        return true;
    }
    return false;
}

/* ---- normalizers: text -> text ---- */

/* Replace every occurrence of the step's pattern in s by its content, into out. */
static void llm__replace_all(const llm__step *st, const char *s, size_t n, llm__buf *out) {
    size_t at = 0;
    while (at < n) {
        size_t ms, me;
        bool found;
        if (st->re) found = llm__regex_find(st->re, s, n, at, &ms, &me) && me > ms;
        else {
            found = false;
            for (ms = at; st->pat_len && ms + st->pat_len <= n; ms++)
                if (memcmp(s + ms, st->pat, st->pat_len) == 0) { found = true; break; }
            me = ms + st->pat_len;
        }
        if (!found) break;
        llm__buf_put(out, s + at, ms - at);
        llm__buf_put(out, st->content, st->content_len);
        at = me;
    }
    llm__buf_put(out, s + at, n - at);
}

static void llm__unicode_normalize(llm__step_kind kind, const char *s, size_t n, llm__buf *out) {
    int opt = UTF8PROC_STABLE | (kind == LLM__N_NFC || kind == LLM__N_NFKC ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE) |
              (kind == LLM__N_NFKC || kind == LLM__N_NFKD ? UTF8PROC_COMPAT : 0);
    utf8proc_uint8_t *r = NULL;
    utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &r, (utf8proc_option_t)opt);
    if (len < 0) { llm__buf_put(out, s, n); return; }     /* cannot happen for valid UTF-8 */
    llm__buf_put(out, r, (size_t)len);
    free(r);
}

static void llm__normalize_step(const llm__step *st, const char *s, size_t n, llm__buf *out) {
    switch (st->kind) {
    case LLM__N_NFC: case LLM__N_NFD: case LLM__N_NFKC: case LLM__N_NFKD:
        llm__unicode_normalize(st->kind, s, n, out);
        return;
    case LLM__N_LOWERCASE:
        for (size_t i = 0; i < n;) {
            int len;
            char enc[4];
            int32_t cp = llm__utf8_cp((const uint8_t *)s + i, &len);
            if (cp == 0x130) llm__buf_put(out, "i\xcc\x87", 3);   /* İ: the one lowercase of two characters */
            else llm__buf_put(out, enc, (size_t)llm__utf8_encode(utf8proc_tolower(cp), enc));
            i += (size_t)len;
        }
        return;
    case LLM__N_REPLACE: llm__replace_all(st, s, n, out); return;
    case LLM__N_PREPEND:
        if (n) llm__buf_put(out, st->content, st->content_len);
        llm__buf_put(out, s, n);
        return;
    case LLM__N_STRIP: {
        size_t b = 0, e = n;
        int len;
        while (st->a && b < e && llm__is_space_cp(llm__utf8_cp((const uint8_t *)s + b, &len))) b += (size_t)len;
        while (st->b && e > b) {
            size_t k = e - 1;
            while (k > b && ((uint8_t)s[k] & 0xc0) == 0x80) k--;
            if (!llm__is_space_cp(llm__utf8_cp((const uint8_t *)s + k, &len))) break;
            e = k;
        }
        llm__buf_put(out, s + b, e - b);
        return;
    }
    default: llm__buf_put(out, s, n); return;
    }
}

/* Run the normalizer chain over s; the result is in *a (the other buffer is scratch). */
static void llm__normalize(const llm_tokenizer *t, const char *s, size_t n, llm__buf *a, llm__buf *b) {
    a->len = 0;
    llm__buf_put(a, s, n);
    for (int i = 0; i < t->n_norm; i++) {
        b->len = 0;
        llm__buf_put(b, "", 0);
        llm__normalize_step(&t->norm[i], a->data, a->len, b);
        llm__buf tmp = *a; *a = *b; *b = tmp;
    }
}

/* ---- pre-tokenizers: text -> words ----
   A word ("piece") is a byte range of a buffer. Each step reads the pieces of one buffer
   and writes new pieces, with their bytes, to the other. `first` marks a piece that begins
   the input text (Metaspace's prepend_scheme "first" asks). */

typedef struct llm__piece { size_t off, len; bool first; } llm__piece;
typedef struct llm__pieces { llm__piece *v; size_t n, cap; bool oom; } llm__pieces;
typedef struct llm__spans { size_t *v; size_t n, cap; bool oom; } llm__spans;    /* (start, end) pairs */

static void llm__pieces_push(llm__pieces *p, size_t off, size_t len, bool first) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        llm__piece *v = (llm__piece *)realloc(p->v, cap * sizeof *v);
        if (!v) { p->oom = true; return; }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (llm__piece){ off, len, first };
}

static void llm__spans_push(llm__spans *s, size_t b, size_t e) {
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        size_t *v = (size_t *)realloc(s->v, cap * sizeof *v);
        if (!v) { s->oom = true; return; }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = b;
    s->v[s->n++] = e;
}

/* Copy s[0..n) to out and cut it at the matches (sorted (start, end) pairs) as `behavior`
   says, appending the pieces. */
static void llm__split_emit(const char *s, size_t n, bool first, const llm__spans *m, int behavior, bool invert,
                            llm__buf *out, llm__pieces *pv) {
    size_t base = out->len;
    llm__buf_put(out, s, n);
    size_t pos = 0, k = 0;
    bool prev_match = false, any = false;
    while (pos < n) {
        size_t b = pos, e;
        bool is_match;
        if (k < m->n && m->v[k] == pos) { e = m->v[k + 1]; k += 2; is_match = true; }
        else { e = k < m->n ? m->v[k] : n; is_match = false; }
        pos = e;
        if (e == b) continue;
        if (invert) is_match = !is_match;
        /* HF: a match joins the piece before it only if that piece is no match, and the
           piece after it only if that one is no match ("▁▁a" -> "▁", "▁a") */
        bool extend = any && ((behavior == LLM__SPLIT_MERGED_PREV && is_match && !prev_match) ||
                              (behavior == LLM__SPLIT_MERGED_NEXT && prev_match && !is_match) ||
                              (behavior == LLM__SPLIT_CONTIGUOUS && is_match == prev_match));
        prev_match = is_match;
        if (behavior == LLM__SPLIT_REMOVED && is_match) continue;
        if (extend) pv->v[pv->n - 1].len = base + e - pv->v[pv->n - 1].off;
        else llm__pieces_push(pv, base + b, e - b, first && b == 0);
        any = true;
    }
}

/* All non-empty matches of a Split/ByteLevel regex or literal pattern in s[0..n). */
static void llm__find_all(const llm__regex *re, const char *pat, size_t pat_len, const char *s, size_t n, llm__spans *m) {
    m->n = 0;
    for (size_t at = 0; at < n;) {
        size_t ms, me;
        if (re) {
            if (!llm__regex_find(re, s, n, at, &ms, &me)) break;
            if (me == ms) { at = ms + (size_t)llm__utf8_len((uint8_t)s[ms]); continue; }
        } else {
            const char *hit = NULL;
            for (size_t i = at; pat_len && i + pat_len <= n && !hit; i++) if (memcmp(s + i, pat, pat_len) == 0) hit = s + i;
            if (!hit) break;
            ms = (size_t)(hit - s);
            me = ms + pat_len;
        }
        llm__spans_push(m, ms, me);
        at = me;
    }
}

/* Character classes the fixed pre-tokenizers split on. */
enum { LLM__CC_OTHER, LLM__CC_SPACE, LLM__CC_WORD, LLM__CC_PUNCT, LLM__CC_DIGIT };

static int llm__char_class(int32_t cp, int kind) {
    uint32_t bit = llm__catbit(cp);
    if (kind == LLM__P_DIGITS) return (bit & LLM__CATS_N) ? LLM__CC_DIGIT : LLM__CC_OTHER;   /* Rust's is_numeric */
    if (kind == LLM__P_PUNCT)
        return ((cp < 128 && cp > 32 && cp != 127 && !(llm__catbit(cp) & (LLM__CATS_L | LLM__CATS_N))) || (bit & LLM__CATS_P)) ? LLM__CC_PUNCT : LLM__CC_OTHER;
    if (llm__is_space_cp(cp)) return LLM__CC_SPACE;
    if (kind == LLM__P_WSSPLIT) return LLM__CC_OTHER;
    return (bit & (LLM__CATS_L | LLM__CATS_M | LLM__CATBIT(ND) | LLM__CATBIT(NL) | LLM__CATBIT(PC))) ? LLM__CC_WORD
                                                                                                     : LLM__CC_PUNCT;
}

/* Matches for Digits, Punctuation, Whitespace, WhitespaceSplit: runs of one class
   (`single`: each character alone). Whitespace keeps word runs and symbol runs; the
   others match what they split on. */
static void llm__class_spans(const llm__step *st, const char *s, size_t n, llm__spans *m) {
    bool single = (st->kind == LLM__P_DIGITS && st->a) || st->kind == LLM__P_PUNCT;
    int want = st->kind == LLM__P_DIGITS ? LLM__CC_DIGIT : st->kind == LLM__P_PUNCT ? LLM__CC_PUNCT : LLM__CC_SPACE;
    m->n = 0;
    int prev = -1;
    for (size_t i = 0; i < n;) {
        int len;
        int c = llm__char_class(llm__utf8_cp((const uint8_t *)s + i, &len), st->kind);
        bool hit = st->kind == LLM__P_WHITESPACE ? c != LLM__CC_SPACE : c == want;
        if (hit && !single && c == prev && m->n) m->v[m->n - 1] = i + (size_t)len;
        else if (hit) llm__spans_push(m, i, i + (size_t)len);
        prev = hit ? c : -1;
        i += (size_t)len;
    }
}

/* ByteLevel: optional prefix space, optional GPT-2 regex split, then every byte renamed. */
static void llm__pretok_bytelevel(const llm_tokenizer *t, const llm__step *st, const char *s, size_t n, bool first,
                                  llm__buf *tmp, llm__spans *m, llm__buf *out, llm__pieces *pv) {
    tmp->len = 0;
    if (st->a && (n == 0 || s[0] != ' ')) llm__buf_put(tmp, " ", 1);
    llm__buf_put(tmp, s, n);
    if (st->b) llm__find_all(st->re, NULL, 0, tmp->data, tmp->len, m);
    else { m->n = 0; llm__spans_push(m, 0, tmp->len); }
    size_t pos = 0;
    for (size_t k = 0; k <= m->n; k += 2) {        /* matches and the gaps between them */
        size_t b = k < m->n ? m->v[k] : tmp->len, e = k < m->n ? m->v[k + 1] : tmp->len;
        for (int part = 0; part < 2; part++) {
            size_t pb = part ? b : pos, pe = part ? e : b;
            if (pe <= pb) continue;
            size_t off = out->len;
            for (size_t i = pb; i < pe; i++) {
                uint8_t c = (uint8_t)tmp->data[i];
                llm__buf_put(out, t->bytelevel[c], t->bytelevel_len[c]);
            }
            llm__pieces_push(pv, off, out->len - off, first && pb == 0);
        }
        pos = e;
    }
}

/* Metaspace: spaces become the replacement ("▁"), which is prepended as the scheme says;
   with split, each "▁" starts a new word. */
static void llm__pretok_metaspace(const llm__step *st, const char *s, size_t n, bool first, llm__buf *tmp,
                                  llm__spans *m, llm__buf *out, llm__pieces *pv) {
    tmp->len = 0;
    bool prepend = st->behavior == LLM__PREPEND_ALWAYS || (st->behavior == LLM__PREPEND_FIRST && first);
    if (prepend && !(n >= st->content_len && memcmp(s, st->content, st->content_len) == 0) &&
        !(n && s[0] == ' '))
        llm__buf_put(tmp, st->content, st->content_len);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') llm__buf_put(tmp, st->content, st->content_len);
        else llm__buf_put(tmp, s + i, 1);
    }
    if (st->a) llm__find_all(NULL, st->content, st->content_len, tmp->data, tmp->len, m);
    else m->n = 0;
    llm__split_emit(tmp->data, tmp->len, first, m, LLM__SPLIT_MERGED_NEXT, false, out, pv);
}

typedef struct llm__pretok_scratch {
    llm__buf a, b, tmp;
    llm__pieces pa, pb;
    llm__spans m;
} llm__pretok_scratch;

/* Run the pre-tokenizer chain over s: the words end up in sc->pa over buffer sc->a. */
static void llm__pretokenize(const llm_tokenizer *t, const char *s, size_t n, bool first, llm__pretok_scratch *sc) {
    sc->a.len = 0;
    sc->pa.n = 0;
    llm__buf_put(&sc->a, s, n);
    llm__pieces_push(&sc->pa, 0, n, first);
    for (int i = 0; i < t->n_pre; i++) {
        const llm__step *st = &t->pre[i];
        sc->b.len = 0;
        sc->pb.n = 0;
        for (size_t k = 0; k < sc->pa.n; k++) {
            const char *w = sc->a.data + sc->pa.v[k].off;
            size_t wn = sc->pa.v[k].len;
            bool wf = sc->pa.v[k].first;
            if (st->kind == LLM__P_BYTELEVEL) llm__pretok_bytelevel(t, st, w, wn, wf, &sc->tmp, &sc->m, &sc->b, &sc->pb);
            else if (st->kind == LLM__P_METASPACE) llm__pretok_metaspace(st, w, wn, wf, &sc->tmp, &sc->m, &sc->b, &sc->pb);
            else {
                if (st->kind == LLM__P_SPLIT) llm__find_all(st->re, st->pat, st->pat_len, w, wn, &sc->m);
                else llm__class_spans(st, w, wn, &sc->m);
                int behavior = st->kind == LLM__P_SPLIT || st->kind == LLM__P_PUNCT ? st->behavior
                             : st->kind == LLM__P_DIGITS ? LLM__SPLIT_ISOLATED : LLM__SPLIT_REMOVED;
                bool invert = st->kind == LLM__P_SPLIT ? st->invert : st->kind == LLM__P_WHITESPACE;
                llm__split_emit(w, wn, wf, &sc->m, behavior, invert, &sc->b, &sc->pb);
            }
        }
        llm__buf t1 = sc->a; sc->a = sc->b; sc->b = t1;
        llm__pieces t2 = sc->pa; sc->pa = sc->pb; sc->pb = t2;
    }
}

static void llm__pretok_scratch_free(llm__pretok_scratch *sc) {
    llm__buf_free(&sc->a); llm__buf_free(&sc->b); llm__buf_free(&sc->tmp);
    free(sc->pa.v); free(sc->pb.v); free(sc->m.v);
}

/* ---- building the vocabulary (every loader) and looking it up ---- */

/* Append a step to a chain (it owns st.re from here on, also on failure). */
static llm_status llm__tok_push_step(llm__step **arr, int *n, llm__step st, const char *path) {
    llm__step *v = (llm__step *)realloc(*arr, (size_t)(*n + 1) * sizeof *v);
    if (!v) { llm__regex_free(st.re); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); }
    *arr = v;
    v[(*n)++] = st;
    return LLM_OK;
}

/* Allocate the id-indexed arrays for n ids (holes read as ""). */
static llm_status llm__tok_alloc_vocab(llm_tokenizer *t, int64_t n, bool scores, const char *path) {
    t->n_vocab = n;
    t->pieces = (char **)calloc((size_t)n + 1, sizeof *t->pieces);
    t->piece_lens = (uint32_t *)calloc((size_t)n + 1, sizeof *t->piece_lens);
    t->flags = (uint8_t *)calloc((size_t)n + 1, 1);
    if (scores) t->scores = (float *)calloc((size_t)n + 1, sizeof *t->scores);
    if (!t->pieces || !t->piece_lens || !t->flags || (scores && !t->scores) || !llm__strmap_init(&t->vocab, (size_t)n))
        return llm__fail(LLM_ERR_NOMEM, "%s: out of memory for %lld tokens", path, (long long)n);
    static char empty[1];
    for (int64_t i = 0; i < n; i++) t->pieces[i] = empty;
    return LLM_OK;
}

/* Give id its string (the first string given to an id wins) and, if `lookup`, enter it
   into the model vocabulary. */
static llm_status llm__tok_set_piece(llm_tokenizer *t, llm_token id, const char *s, size_t n, bool lookup, const char *path) {
    if (id < 0 || id >= t->n_vocab) return llm__fail(LLM_ERR_FORMAT, "%s: token id %d out of range", path, id);
    if (n > UINT32_MAX / 2) return llm__fail(LLM_ERR_FORMAT, "%s: token %d is too long", path, id);
    if (t->piece_lens[id] == 0) {
        char *d = llm__tok_intern(t, s, n);
        if (!d) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
        t->pieces[id] = d;
        t->piece_lens[id] = (uint32_t)n;
    }
    if (lookup && !llm__strmap_put(&t->vocab, t->pieces[id], t->piece_lens[id], id))
        return llm__fail(LLM_ERR_FORMAT, "%s: more vocabulary strings than ids", path);
    return LLM_OK;
}

/* Register an added token (already given its piece); tries are built by llm__tok_finish. */
static llm_status llm__tok_add_token(llm_tokenizer *t, const llm__added *a, const char *path) {
    if ((t->n_added & (t->n_added - 1)) == 0) {            /* capacity: the next power of two */
        llm__added *v = (llm__added *)realloc(t->added, (size_t)(t->n_added ? 2 * t->n_added : 1) * sizeof *v);
        if (!v) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
        t->added = v;
    }
    t->added[t->n_added++] = *a;
    if (a->special) t->flags[a->id] |= LLM__TF_SPECIAL;
    return LLM_OK;
}

/* The added-token tries. A "normalized" token is matched on normalized text, so it enters
   its trie normalized too (as HF does): with a Lowercase normalizer "[MASK]" is "[mask]". */
static llm_status llm__tok_build_tries(llm_tokenizer *t, const char *path) {
    llm__buf a = { 0 }, b = { 0 };
    bool ok = true;
    for (int i = 0; i < t->n_added && ok; i++) {
        const llm__added *ad = &t->added[i];
        const char *s = ad->text;
        size_t n = ad->len;
        if (ad->normalized && !ad->verbatim && t->n_norm) {
            llm__normalize(t, s, n, &a, &b);
            s = a.data;
            n = a.len;
        }
        ok = !a.oom && !b.oom && (n == 0 || llm__trie_add(&t->trie[ad->normalized ? 1 : 0], s, n, i));
    }
    llm__buf_free(&a);
    llm__buf_free(&b);
    return ok ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
}

/* What every loader does last: byte-token and byte-level tables, lengths, unk score, tries. */
static llm_status llm__tok_finish(llm_tokenizer *t, const char *path) {
    char name[8];
    for (int b = 0; b < 256; b++) {
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_tok[b] = llm__strmap_get(&t->vocab, name, 6);
        t->bytelevel_len[b] = (uint8_t)llm__utf8_encode(llm__bytelevel_cp((uint8_t)b), t->bytelevel[b]);
    }
    double min_score = 0;
    for (int64_t i = 0; i < t->n_vocab; i++) {
        t->max_piece_len = LLM__MAX(t->max_piece_len, t->piece_lens[i]);
        if (t->scores) min_score = LLM__MIN(min_score, (double)t->scores[i]);
    }
    t->unk_score = min_score - 10.0;                   /* HF's and SentencePiece's unknown penalty */
    return llm__tok_build_tries(t, path);
}

LLM_API llm_token llm_tokenizer_find(const llm_tokenizer *t, const char *piece) {
    LLM_ASSERT(t && piece);
    size_t n = strlen(piece);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && memcmp(t->added[i].text, piece, n) == 0) return t->added[i].id;
    return llm__strmap_get(&t->vocab, piece, n);
}

LLM_API int64_t llm_tokenizer_n_vocab(const llm_tokenizer *t) { return t->n_vocab; }
LLM_API llm_token llm_tokenizer_bos(const llm_tokenizer *t) { return t->bos; }
LLM_API llm_token llm_tokenizer_eos(const llm_tokenizer *t) { return t->eos; }
LLM_API bool llm_tokenizer_is_special(const llm_tokenizer *t, llm_token id) {
    return id >= 0 && id < t->n_vocab && (t->flags[id] & LLM__TF_SPECIAL);
}
LLM_API const char *llm_tokenizer_piece(const llm_tokenizer *t, llm_token id) {
    return id >= 0 && id < t->n_vocab ? t->pieces[id] : NULL;
}
