/* ---- >>utf8: UTF-8, Unicode categories, and the tables tokenizers are built from ----
   Tokenizers see text as UTF-8 bytes and reason about code points: a BPE word starts as
   one symbol per code point, the pre-tokenizer regexes ask "is this a letter (\p{L})?",
   byte-level BPE renames every byte to a printable code point. This part holds those
   helpers (categories come from libutf8proc), a growable byte buffer, and two open-
   addressing hash maps: string -> id (the vocabulary) and 64-bit key -> value (merges). */
#include "10_internal.h"
#include <utf8proc.h>

/* ---- decoding and encoding code points ---- */

/* Decode one code point at s[0..n). Returns its length in bytes (1..4) and stores the code
   point, or returns 0 for an invalid or truncated sequence (overlong forms, surrogates and
   values above U+10FFFF are invalid, as in Rust's and Python's strict decoders). The
   number of leading bytes that form a valid prefix is stored in *valid_prefix for the
   "maximal subpart" replacement rule. */
static int llm__utf8_decode(const uint8_t *s, size_t n, int32_t *cp, int *valid_prefix) {
    uint8_t c = s[0];
    int len, k;
    int32_t v;
    uint8_t lo = 0x80, hi = 0xbf;                 /* allowed range of the second byte */
    *valid_prefix = 0;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xc2 && c <= 0xdf) { len = 2; v = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; v = c & 0x0f; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; v = c & 0x07; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }
    else return 0;
    for (k = 1; k < len; k++) {
        if ((size_t)k >= n) { *valid_prefix = k; return 0; }
        uint8_t b = s[k];
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) { *valid_prefix = k; return 0; }
        v = (v << 6) | (b & 0x3f);
    }
    *cp = v;
    return len;
}

/* Length of the UTF-8 sequence that starts with byte c, 1 for a stray byte. Used to walk
   text already known to be valid. */
static inline int llm__utf8_len(uint8_t c) {
    return c < 0x80 ? 1 : c < 0xe0 ? (c >= 0xc0 ? 2 : 1) : c < 0xf0 ? 3 : c < 0xf8 ? 4 : 1;
}

/* Decode the code point at s (valid UTF-8, at least one byte). */
static inline int32_t llm__utf8_cp(const uint8_t *s, int *len) {
    int n = llm__utf8_len(s[0]);
    int32_t v = n == 1 ? s[0] : n == 2 ? s[0] & 0x1f : n == 3 ? s[0] & 0x0f : s[0] & 0x07;
    for (int k = 1; k < n; k++) v = (v << 6) | (s[k] & 0x3f);
    *len = n;
    return v;
}

static int llm__utf8_encode(int32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xc0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---- Unicode categories (what \p{L}, \p{N}, \p{P}, \s ask) ----
   A category is utf8proc's number (UTF8PROC_CATEGORY_LU = 1 ...); a set of categories is a
   bit mask over those numbers, so \p{L} is one AND. */
#define LLM__CATBIT(c) (1u << UTF8PROC_CATEGORY_##c)
#define LLM__CATS_L (LLM__CATBIT(LU) | LLM__CATBIT(LL) | LLM__CATBIT(LT) | LLM__CATBIT(LM) | LLM__CATBIT(LO))
#define LLM__CATS_M (LLM__CATBIT(MN) | LLM__CATBIT(MC) | LLM__CATBIT(ME))
#define LLM__CATS_N (LLM__CATBIT(ND) | LLM__CATBIT(NL) | LLM__CATBIT(NO))
#define LLM__CATS_P (LLM__CATBIT(PC) | LLM__CATBIT(PD) | LLM__CATBIT(PS) | LLM__CATBIT(PE) | LLM__CATBIT(PI) | \
                     LLM__CATBIT(PF) | LLM__CATBIT(PO))
#define LLM__CATS_S (LLM__CATBIT(SM) | LLM__CATBIT(SC) | LLM__CATBIT(SK) | LLM__CATBIT(SO))
#define LLM__CATS_Z (LLM__CATBIT(ZS) | LLM__CATBIT(ZL) | LLM__CATBIT(ZP))
#define LLM__CATS_C (LLM__CATBIT(CC) | LLM__CATBIT(CF) | LLM__CATBIT(CS) | LLM__CATBIT(CO) | LLM__CATBIT(CN))

/* White_Space, the set Oniguruma and Rust's regex mean by \s (wider than category Z). */
static bool llm__is_space_cp(int32_t c) {
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
           c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* The category bit of a code point. */
static inline uint32_t llm__catbit(int32_t c) { return 1u << utf8proc_category(c); }

/* ---- growable byte buffer ---- */

typedef struct llm__buf {
    char *data;
    size_t len, cap;
    bool oom;                          /* a failed append: checked once at the end */
} llm__buf;

static bool llm__buf_reserve(llm__buf *b, size_t extra) {
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) { b->oom = true; return false; }
        cap *= 2;
    }
    char *d = (char *)realloc(b->data, cap);
    if (!d) { b->oom = true; return false; }
    b->data = d;
    b->cap = cap;
    return true;
}

static void llm__buf_put(llm__buf *b, const void *p, size_t n) {
    if (!llm__buf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

static void llm__buf_free(llm__buf *b) { free(b->data); memset(b, 0, sizeof *b); }

/* Append s[0..n) with every maximal invalid UTF-8 subsequence replaced by U+FFFD (the
   rule of Python's errors="replace" and Rust's from_utf8_lossy). */
static void llm__buf_put_lossy(llm__buf *b, const char *s, size_t n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        int32_t cp;
        int pre, k = llm__utf8_decode(u + i, n - i, &cp, &pre);
        if (k) { i += (size_t)k; continue; }
        llm__buf_put(b, s + run, i - run);
        llm__buf_put(b, "\xef\xbf\xbd", 3);
        i += pre ? (size_t)pre : 1;
        run = i;
    }
    llm__buf_put(b, s + run, n - run);
}

static bool llm__utf8_valid(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int pre, k = llm__utf8_decode((const uint8_t *)s + i, n - i, &cp, &pre);
        if (!k) return false;
        i += (size_t)k;
    }
    return true;
}

/* ---- hash maps ----
   Both maps use open addressing with linear probing in a power-of-two table kept at most
   half full, so a lookup is a hash and a probe or two. */

static inline uint64_t llm__hash_bytes(const void *p, size_t n) {
    const uint8_t *s = (const uint8_t *)p;
    uint64_t h = (uint64_t)n * 0x9e3779b97f4a7c15ull, w;
    for (; n >= 8; s += 8, n -= 8) {                  /* eight bytes a step, then a multiply-xorshift mix */
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    w = 0;
    if (n) memcpy(&w, s, n);
    h = (h ^ w) * 0x94d049bb133111ebull;
    return h ^ (h >> 29);
}

static inline uint64_t llm__hash_u64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

/* string -> int32 id. Keys are borrowed (they live in the tokenizer's string pool). A slot
   holds everything a probe looks at, including a key's first 8 bytes, so a lookup of a
   short key (most tokens) touches one cache line and never the pool. */
typedef struct llm__strslot {
    const char *key;                   /* NULL: empty */
    uint64_t head;                     /* the key's first (up to) 8 bytes, zero-padded */
    uint32_t len, hash;                /* hash: top bits of the key's hash */
    int32_t val;
} llm__strslot;

typedef struct llm__strmap {
    llm__strslot *slots;
    size_t mask;                       /* capacity - 1 */
} llm__strmap;

static bool llm__strmap_init(llm__strmap *m, size_t n_expected) {
    size_t cap = 16;
    while (cap < 2 * n_expected + 2) cap *= 2;
    m->slots = (llm__strslot *)calloc(cap, sizeof *m->slots);
    m->mask = cap - 1;
    return m->slots != NULL;
}

static void llm__strmap_free(llm__strmap *m) { free(m->slots); memset(m, 0, sizeof *m); }

static inline uint64_t llm__str_head(const char *s, size_t n) {
    uint64_t h = 0;
    memcpy(&h, s, n < 8 ? n : 8);
    return h;
}

static inline bool llm__strslot_is(const llm__strslot *e, const char *s, size_t n, uint64_t h, uint64_t head) {
    return e->hash == (uint32_t)(h >> 32) && e->len == n && e->head == head && (n <= 8 || memcmp(e->key + 8, s + 8, n - 8) == 0);
}

static int32_t llm__strmap_get(const llm__strmap *m, const char *s, size_t n) {
    if (!m->slots) return -1;
    uint64_t h = llm__hash_bytes(s, n), head = llm__str_head(s, n);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const llm__strslot *e = &m->slots[i];
        if (!e->key) return -1;
        if (llm__strslot_is(e, s, n, h, head)) return e->val;
    }
}

/* Insert unless present (the first id of a duplicated string wins). The map was sized for
   at most n_expected keys; returns false when it is full. */
static bool llm__strmap_put(llm__strmap *m, const char *s, size_t n, int32_t v) {
    uint64_t h = llm__hash_bytes(s, n), head = llm__str_head(s, n);
    for (size_t i = h & m->mask, probes = 0; probes <= m->mask; i = (i + 1) & m->mask, probes++) {
        llm__strslot *e = &m->slots[i];
        if (!e->key) { *e = (llm__strslot){ s, head, (uint32_t)n, (uint32_t)(h >> 32), v }; return true; }
        if (llm__strslot_is(e, s, n, h, head)) return true;
    }
    return false;
}

/* uint64 key -> int64 value (merges: (left id, right id) -> (rank, merged id)). */
typedef struct llm__u64map {
    uint64_t *keys;                    /* key + 1, so 0 marks an empty slot */
    int64_t *vals;
    size_t mask, n;
} llm__u64map;

static bool llm__u64map_init(llm__u64map *m, size_t n_expected) {
    size_t cap = 16;
    while (cap < 2 * n_expected + 2) cap *= 2;
    m->keys = (uint64_t *)calloc(cap, sizeof *m->keys);
    m->vals = (int64_t *)calloc(cap, sizeof *m->vals);
    m->mask = cap - 1;
    m->n = 0;
    return m->keys && m->vals;
}

static void llm__u64map_free(llm__u64map *m) { free(m->keys); free(m->vals); memset(m, 0, sizeof *m); }

static bool llm__u64map_get(const llm__u64map *m, uint64_t key, int64_t *val) {
    if (!m->keys) return false;
    for (size_t i = llm__hash_u64(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == 0) return false;
        if (m->keys[i] == key + 1) { *val = m->vals[i]; return true; }
    }
}

/* Insert; an existing key keeps its first value. Grows when half full. */
static bool llm__u64map_put(llm__u64map *m, uint64_t key, int64_t val) {
    if (2 * (m->n + 1) > m->mask + 1) {
        llm__u64map big;
        if (!llm__u64map_init(&big, (m->mask + 1))) { llm__u64map_free(&big); return false; }
        for (size_t i = 0; i <= m->mask; i++)
            if (m->keys[i]) llm__u64map_put(&big, m->keys[i] - 1, m->vals[i]);
        llm__u64map_free(m);
        *m = big;
    }
    for (size_t i = llm__hash_u64(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == key + 1) return true;
        if (m->keys[i] == 0) { m->keys[i] = key + 1; m->vals[i] = val; m->n++; return true; }
    }
}

/* ---- byte-level BPE's byte <-> code point renaming (GPT-2's bytes_to_unicode) ----
   Printable Latin-1 bytes stand for themselves; the other 68 bytes, in order, get U+0100..
   U+0143, so a space is "Ġ" (U+0120) and a newline "Ċ" (U+010A). */
static const uint8_t llm__bytelevel_unprintable[68] = {
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 127,
        128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144,
        145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 173,
};

static inline bool llm__bytelevel_printable(int32_t c) {
    return (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
}

static int32_t llm__bytelevel_cp(uint8_t b) {
    if (llm__bytelevel_printable(b)) return b;
    int k = 0;
    while (llm__bytelevel_unprintable[k] != b) k++;
    return 256 + k;
}

/* The byte a byte-level code point stands for, or -1. */
static int llm__bytelevel_byte(int32_t cp) {
    if (cp < 256) return llm__bytelevel_printable(cp) ? cp : -1;
    return cp < 256 + 68 ? llm__bytelevel_unprintable[cp - 256] : -1;
}

/* "<0x41>" -> 0x41, else -1 (the byte-fallback token spelling). */
static int llm__byte_token_value(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}
