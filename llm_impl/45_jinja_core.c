/* ---- >>jinja: values, arena and errors of the chat-template interpreter ----
   A Jinja2 subset interpreter for chat templates, in four parts:
     45_jinja_core.c      values (Python semantics), the arena, errors, str()/repr()/json
     45_jinja_parse.c     lexer (trim_blocks, lstrip_blocks, {%- -%}) and parser to an AST
     46_jinja_builtins.c  filters, tests, str/dict methods and global functions
     46_jinja_eval.c      the tree-walking evaluator and the render entry point
   Design: every value, AST node and string lives in an arena that is freed in one go
   (the template's arena for the AST, a render arena for one rendering). So values are
   plain structs copied freely, and errors can leave with longjmp from any depth without
   leaking: llm__jfail() jumps back to the parse or render entry, which frees the arena.
   Hostile templates are bounded: recursion depth, loop steps, memory and output size.
   Not here: autoescaping/Markup, template inheritance and includes, recursive loops. */
#include "10_internal.h"
#include "06_api_chat.h"
#include <setjmp.h>
#include <time.h>
#ifndef LLM_NO_UTF8PROC
#include <utf8proc.h>                 /* case mapping of str.upper() & co. */
#endif

#ifndef LLM_JINJA_MAX_MEMORY
#define LLM_JINJA_MAX_MEMORY ((size_t)512 << 20)  /* arena bytes per parse or render */
#endif
#ifndef LLM_JINJA_MAX_OUTPUT
#define LLM_JINJA_MAX_OUTPUT ((size_t)64 << 20)   /* bytes of any one string */
#endif
#ifndef LLM_JINJA_MAX_STEPS
#define LLM_JINJA_MAX_STEPS 10000000              /* loop iterations + macro calls */
#endif
#if defined(__GNUC__) || defined(__clang__)
#define LLM__NORETURN __attribute__((noreturn))
#else
#define LLM__NORETURN _Noreturn
#endif
#define LLM__JMAX_DEPTH 200                       /* nesting of tags, expressions, calls, values */
#define LLM__JMAX_RANGE 100000                    /* Jinja's sandbox limit for range() */

typedef enum {
    LLM__JV_UNDEF, LLM__JV_NONE, LLM__JV_BOOL, LLM__JV_INT, LLM__JV_FLOAT, LLM__JV_STR,
    LLM__JV_LIST, LLM__JV_DICT, LLM__JV_NS, LLM__JV_FUNC, LLM__JV_METHOD, LLM__JV_MACRO
} llm__jtype;

struct llm__jlist;
struct llm__jdict;
struct llm__jbuiltin;
struct llm__jmethod;
struct llm__jmacro;

/* One value. Strings are (pointer, length) and need not be NUL-terminated. An undefined
   value keeps the name it came from in `s`, for the error when it is used. A tuple is a
   list with `tuple` set (it differs only in repr). A namespace is a mutable dict. */
typedef struct llm__jv {
    uint8_t t;                                  /* llm__jtype */
    bool tuple;
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *p; size_t n; } s;
        struct llm__jlist *l;
        struct llm__jdict *d;                   /* DICT and NS */
        const struct llm__jbuiltin *fn;         /* FUNC: a global function */
        const struct llm__jmethod *m;           /* METHOD: a bound str/dict/list method */
        const struct llm__jmacro *mac;
    };
} llm__jv;

typedef struct llm__jlist { llm__jv *v; size_t n, cap; } llm__jlist;
typedef struct llm__jdict { llm__jv *k, *v; size_t n, cap; } llm__jdict;   /* insertion order */

/* A variable scope: the render globals, one per loop iteration, one per macro call. */
typedef struct llm__jframe { llm__jdict vars; struct llm__jframe *parent; } llm__jframe;

typedef struct llm__jchunk { struct llm__jchunk *next; size_t used, cap, pad; } llm__jchunk;  /* 32 bytes: data stays 16-aligned */

/* A growable string in the arena. */
typedef struct llm__jbuf { char *p; size_t n, cap; } llm__jbuf;

/* Interpreter state for one parse or one render. */
typedef struct llm__jctx {
    llm__jchunk *chunks;       /* the arena */
    size_t arena_bytes;
    jmp_buf jmp;               /* llm__jfail jumps here */
    char err[768];
    int line;                  /* template line being parsed or run, for errors */
    int depth;                 /* current nesting, checked against LLM__JMAX_DEPTH */
    long steps;
    llm__jbuf *out;            /* where output goes (swapped for macros and block sets) */
    llm__jframe *globals, *frame;
    const struct llm__jnode *loop_ctl;   /* set by break/continue while unwinding a body */
} llm__jctx;

/* Arguments of a call: positional values, then keyword values with their names. */
typedef struct llm__jargs {
    const llm__jv *pos; int n_pos;
    const llm__jv *kw; const char *const *kw_names; int n_kw;
} llm__jargs;

typedef llm__jv (*llm__jfn)(llm__jctx *c, llm__jv self, const llm__jargs *a);
typedef struct llm__jbuiltin { const char *name; llm__jfn fn; } llm__jbuiltin;
typedef struct llm__jmethod { llm__jv self; const char *name; } llm__jmethod;   /* `s.strip` */

/* ---- errors and the arena ---- */

LLM_PRIVATE LLM__NORETURN void llm__jfail(llm__jctx *c, const char *fmt, ...) LLM__PRINTF(2, 3);
LLM_PRIVATE LLM__NORETURN void llm__jfail(llm__jctx *c, const char *fmt, ...) {
    int n = snprintf(c->err, sizeof c->err, "line %d: ", c->line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, sizeof c->err - (size_t)n, fmt, ap);
    va_end(ap);
    longjmp(c->jmp, 1);
}

LLM_PRIVATE void *llm__jalloc(llm__jctx *c, size_t n) {
    n = (n + 15) & ~(size_t)15;
    llm__jchunk *h = c->chunks;
    if (!h || h->cap - h->used < n) {
        size_t cap = LLM__MAX(n, (size_t)64 << 10);
        if (n > LLM_JINJA_MAX_MEMORY || c->arena_bytes + cap > LLM_JINJA_MAX_MEMORY)
            llm__jfail(c, "template needs more than %zu MiB of memory", (size_t)LLM_JINJA_MAX_MEMORY >> 20);
        h = (llm__jchunk *)llm__alloc(NULL, sizeof(llm__jchunk) + cap);
        if (!h) llm__jfail(c, "out of memory");
        h->next = c->chunks; h->used = 0; h->cap = cap;
        c->chunks = h;
        c->arena_bytes += cap;
    }
    void *p = (char *)(h + 1) + h->used;
    h->used += n;
    return p;
}

LLM_PRIVATE void llm__jarena_free(llm__jctx *c) {
    while (c->chunks) { llm__jchunk *next = c->chunks->next; llm__free(NULL, c->chunks); c->chunks = next; }
    c->arena_bytes = 0;
}

/* ---- strings ---- */

LLM_PRIVATE void llm__jbuf_put(llm__jctx *c, llm__jbuf *b, const char *s, size_t n) {
    if (b->cap - b->n < n + 1) {
        if (n > LLM_JINJA_MAX_OUTPUT || b->n + n > LLM_JINJA_MAX_OUTPUT)
            llm__jfail(c, "output longer than %zu MiB", (size_t)LLM_JINJA_MAX_OUTPUT >> 20);
        size_t cap = LLM__MAX(b->cap * 2, b->n + n + 1);
        cap = LLM__MAX(cap, (size_t)64);
        char *p = (char *)llm__jalloc(c, cap);
        if (b->n) memcpy(p, b->p, b->n);
        b->p = p; b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

LLM_PRIVATE void llm__jbuf_puts(llm__jctx *c, llm__jbuf *b, const char *s) { llm__jbuf_put(c, b, s, strlen(s)); }

LLM_PRIVATE void llm__jbuf_printf(llm__jctx *c, llm__jbuf *b, const char *fmt, ...) LLM__PRINTF(3, 4);
LLM_PRIVATE void llm__jbuf_printf(llm__jctx *c, llm__jbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    llm__jbuf_put(c, b, tmp, (size_t)LLM__MAX(0, LLM__MIN(n, (int)sizeof tmp - 1)));
}

LLM_PRIVATE llm__jv llm__jstr(const char *p, size_t n) { llm__jv v = { .t = LLM__JV_STR }; v.s.p = p; v.s.n = n; return v; }
LLM_PRIVATE llm__jv llm__jstrz(const char *p) { return llm__jstr(p, strlen(p)); }
LLM_PRIVATE llm__jv llm__jbuf_val(llm__jbuf *b) { return llm__jstr(b->p ? b->p : "", b->n); }

LLM_PRIVATE llm__jv llm__jstr_copy(llm__jctx *c, const char *p, size_t n) {
    char *d = (char *)llm__jalloc(c, n + 1);
    if (n) memcpy(d, p, n);
    d[n] = 0;
    return llm__jstr(d, n);
}

LLM_PRIVATE bool llm__jstr_eq(llm__jv v, const char *s) {
    return v.t == LLM__JV_STR && v.s.n == strlen(s) && memcmp(v.s.p, s, v.s.n) == 0;
}

/* Decode the code point at s[*i] (advancing *i); invalid bytes decode as themselves, so
   that indexing and length never fail on broken UTF-8. */
LLM_PRIVATE uint32_t llm__jutf8_next(const char *s, size_t n, size_t *i) {
    const uint8_t *u = (const uint8_t *)s;
    uint32_t c = u[*i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len <= 1 || *i + (size_t)len > n) { (*i)++; return c; }
    uint32_t cp = c & (0x7f >> len);
    for (int k = 1; k < len; k++) {
        if ((u[*i + k] & 0xc0) != 0x80) { (*i)++; return c; }
        cp = (cp << 6) | (u[*i + k] & 0x3f);
    }
    *i += (size_t)len;
    return cp;
}

LLM_PRIVATE void llm__jutf8_put(llm__jctx *c, llm__jbuf *b, uint32_t cp) {
    char t[4];
    size_t n;
    if (cp < 0x80) { t[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { t[0] = (char)(0xc0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 63)); n = 2; }
    else if (cp < 0x10000) { t[0] = (char)(0xe0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 63)); t[2] = (char)(0x80 | (cp & 63)); n = 3; }
    else { t[0] = (char)(0xf0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 63)); t[2] = (char)(0x80 | ((cp >> 6) & 63)); t[3] = (char)(0x80 | (cp & 63)); n = 4; }
    llm__jbuf_put(c, b, t, n);
}

/* Byte offsets of the code points of a string, plus one past the end: Python indexes
   and slices strings by code point. */
LLM_PRIVATE size_t *llm__jutf8_offsets(llm__jctx *c, llm__jv s, size_t *out_n) {
    size_t *off = (size_t *)llm__jalloc(c, (s.s.n + 1) * sizeof(size_t)), k = 0;
    for (size_t i = 0; i < s.s.n;) { off[k++] = i; llm__jutf8_next(s.s.p, s.s.n, &i); }
    off[k] = s.s.n;
    *out_n = k;
    return off;
}

/* ---- lists and dicts ---- */

LLM_PRIVATE llm__jv llm__jlist_new(llm__jctx *c) {
    llm__jv v = { .t = LLM__JV_LIST };
    v.l = (llm__jlist *)llm__jalloc(c, sizeof(llm__jlist));
    memset(v.l, 0, sizeof *v.l);
    return v;
}

LLM_PRIVATE void llm__jlist_push(llm__jctx *c, llm__jlist *l, llm__jv x) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        llm__jv *v = (llm__jv *)llm__jalloc(c, cap * sizeof(llm__jv));
        if (l->n) memcpy(v, l->v, l->n * sizeof(llm__jv));
        l->v = v; l->cap = cap;
    }
    l->v[l->n++] = x;
}

LLM_PRIVATE llm__jv llm__jdict_new(llm__jctx *c, llm__jtype t) {
    llm__jv v = { .t = (uint8_t)t };
    v.d = (llm__jdict *)llm__jalloc(c, sizeof(llm__jdict));
    memset(v.d, 0, sizeof *v.d);
    return v;
}

LLM_PRIVATE bool llm__jeq(llm__jctx *c, llm__jv a, llm__jv b);

LLM_PRIVATE llm__jv *llm__jdict_find(llm__jctx *c, const llm__jdict *d, llm__jv key) {
    for (size_t i = 0; i < d->n; i++) {
        if (key.t == LLM__JV_STR && d->k[i].t == LLM__JV_STR) {
            if (d->k[i].s.n == key.s.n && memcmp(d->k[i].s.p, key.s.p, key.s.n) == 0) return &d->v[i];
        } else if (llm__jeq(c, d->k[i], key)) return &d->v[i];
    }
    return NULL;
}

LLM_PRIVATE void llm__jdict_set(llm__jctx *c, llm__jdict *d, llm__jv key, llm__jv val) {
    llm__jv *slot = llm__jdict_find(c, d, key);
    if (slot) { *slot = val; return; }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        llm__jv *k = (llm__jv *)llm__jalloc(c, cap * sizeof(llm__jv)), *v = (llm__jv *)llm__jalloc(c, cap * sizeof(llm__jv));
        if (d->n) { memcpy(k, d->k, d->n * sizeof(llm__jv)); memcpy(v, d->v, d->n * sizeof(llm__jv)); }
        d->k = k; d->v = v; d->cap = cap;
    }
    d->k[d->n] = key;
    d->v[d->n++] = val;
}

LLM_PRIVATE llm__jv llm__jundef(const char *name, size_t n) { llm__jv v = { .t = LLM__JV_UNDEF }; v.s.p = name; v.s.n = n; return v; }
LLM_PRIVATE llm__jv llm__jnone(void) { llm__jv v = { .t = LLM__JV_NONE }; return v; }
LLM_PRIVATE llm__jv llm__jbool(bool b) { llm__jv v = { .t = LLM__JV_BOOL }; v.b = b; return v; }
LLM_PRIVATE llm__jv llm__jint(int64_t i) { llm__jv v = { .t = LLM__JV_INT }; v.i = i; return v; }
LLM_PRIVATE llm__jv llm__jfloat(double f) { llm__jv v = { .t = LLM__JV_FLOAT }; v.f = f; return v; }

/* Python's type names, for error messages. */
LLM_PRIVATE const char *llm__jtype_name(llm__jv v) {
    static const char *const names[] = { "undefined", "NoneType", "bool", "int", "float", "str",
                                         "list", "dict", "Namespace", "function", "method", "macro" };
    return v.t == LLM__JV_LIST && v.tuple ? "tuple" : names[v.t];
}

/* Python truthiness. */
LLM_PRIVATE bool llm__jtruthy(llm__jv v) {
    switch (v.t) {
    case LLM__JV_UNDEF: case LLM__JV_NONE: return false;
    case LLM__JV_BOOL: return v.b;
    case LLM__JV_INT: return v.i != 0;
    case LLM__JV_FLOAT: return v.f != 0;
    case LLM__JV_STR: return v.s.n > 0;
    case LLM__JV_LIST: return v.l->n > 0;
    case LLM__JV_DICT: return v.d->n > 0;
    default: return true;
    }
}

LLM_PRIVATE bool llm__jis_num(llm__jv v) { return v.t == LLM__JV_INT || v.t == LLM__JV_FLOAT || v.t == LLM__JV_BOOL; }
LLM_PRIVATE double llm__jnum(llm__jv v) { return v.t == LLM__JV_FLOAT ? v.f : v.t == LLM__JV_INT ? (double)v.i : v.b; }

/* Python ==, recursive over lists and dicts (dicts compare regardless of order). */
LLM_PRIVATE bool llm__jeq(llm__jctx *c, llm__jv a, llm__jv b) {
    if (llm__jis_num(a) && llm__jis_num(b)) {
        if (a.t != LLM__JV_FLOAT && b.t != LLM__JV_FLOAT) return (a.t == LLM__JV_INT ? a.i : a.b) == (b.t == LLM__JV_INT ? b.i : b.b);
        return llm__jnum(a) == llm__jnum(b);
    }
    if (a.t != b.t) return false;
    if (++c->depth > LLM__JMAX_DEPTH) llm__jfail(c, "values nested too deeply");
    bool eq = true;
    switch (a.t) {
    case LLM__JV_STR: eq = a.s.n == b.s.n && memcmp(a.s.p, b.s.p, a.s.n) == 0; break;
    case LLM__JV_LIST:
        eq = a.tuple == b.tuple && a.l->n == b.l->n;
        for (size_t i = 0; eq && i < a.l->n; i++) eq = llm__jeq(c, a.l->v[i], b.l->v[i]);
        break;
    case LLM__JV_DICT:
        eq = a.d->n == b.d->n;
        for (size_t i = 0; eq && i < a.d->n; i++) {
            llm__jv *o = llm__jdict_find(c, b.d, a.d->k[i]);
            eq = o && llm__jeq(c, a.d->v[i], *o);
        }
        break;
    case LLM__JV_NS: eq = a.d == b.d; break;
    case LLM__JV_FUNC: eq = a.fn == b.fn; break;
    case LLM__JV_METHOD: case LLM__JV_MACRO: eq = a.m == b.m; break;
    default: break;                              /* undefined == undefined, None == None */
    }
    c->depth--;
    return eq;
}

/* ---- printing values: Python str(), repr() and json.dumps() ---- */

/* Python's repr(float): the shortest digits that read back to the same double, in
   positional notation for exponents -4..15 and "1e-05" style otherwise. */
LLM_PRIVATE void llm__jput_float(llm__jctx *c, llm__jbuf *b, double x, bool json) {
    if (isnan(x)) { llm__jbuf_puts(c, b, json ? "NaN" : "nan"); return; }
    if (isinf(x)) { llm__jbuf_puts(c, b, x < 0 ? (json ? "-Infinity" : "-inf") : (json ? "Infinity" : "inf")); return; }
    char tmp[40], digits[24];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, fabs(x));
        if (strtod(tmp, NULL) == fabs(x)) break;
    }
    int nd = 0, exp = atoi(strchr(tmp, 'e') + 1);
    for (const char *s = tmp; *s != 'e'; s++) if (*s != '.') digits[nd++] = *s;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    if (signbit(x)) llm__jbuf_puts(c, b, "-");
    if (exp < -4 || exp >= 16) {
        llm__jbuf_put(c, b, digits, 1);
        if (nd > 1) { llm__jbuf_puts(c, b, "."); llm__jbuf_put(c, b, digits + 1, (size_t)nd - 1); }
        llm__jbuf_printf(c, b, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    } else if (exp < 0) {
        llm__jbuf_puts(c, b, "0.");
        for (int i = 0; i < -exp - 1; i++) llm__jbuf_puts(c, b, "0");
        llm__jbuf_put(c, b, digits, (size_t)nd);
    } else {
        for (int i = 0; i <= exp; i++) llm__jbuf_put(c, b, i < nd ? digits + i : "0", 1);
        llm__jbuf_puts(c, b, ".");
        if (nd > exp + 1) llm__jbuf_put(c, b, digits + exp + 1, (size_t)(nd - exp - 1));
        else llm__jbuf_puts(c, b, "0");
    }
}

/* Python repr() of a string: single quotes unless it holds ' and no ". */
LLM_PRIVATE void llm__jput_repr_str(llm__jctx *c, llm__jbuf *b, const char *s, size_t n) {
    char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    llm__jbuf_put(c, b, &q, 1);
    for (size_t i = 0; i < n;) {
        size_t start = i;
        uint32_t cp = llm__jutf8_next(s, n, &i);
        if (cp == '\\' || cp == (uint32_t)q) { llm__jbuf_puts(c, b, "\\"); llm__jbuf_put(c, b, s + start, 1); }
        else if (cp == '\n') llm__jbuf_puts(c, b, "\\n");
        else if (cp == '\r') llm__jbuf_puts(c, b, "\\r");
        else if (cp == '\t') llm__jbuf_puts(c, b, "\\t");
        else if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad) llm__jbuf_printf(c, b, "\\x%02x", cp);
        else if (cp == 0x2028 || cp == 0x2029) llm__jbuf_printf(c, b, "\\u%04x", cp);
        else llm__jbuf_put(c, b, s + start, i - start);
    }
    llm__jbuf_put(c, b, &q, 1);
}

LLM_PRIVATE void llm__jput_repr(llm__jctx *c, llm__jbuf *b, llm__jv v);

/* Python str(): strings as they are, everything else as repr(); undefined prints nothing. */
LLM_PRIVATE void llm__jput_str(llm__jctx *c, llm__jbuf *b, llm__jv v) {
    if (v.t == LLM__JV_STR) llm__jbuf_put(c, b, v.s.p, v.s.n);
    else if (v.t != LLM__JV_UNDEF) llm__jput_repr(c, b, v);
}

LLM_PRIVATE void llm__jput_repr(llm__jctx *c, llm__jbuf *b, llm__jv v) {
    if (++c->depth > LLM__JMAX_DEPTH) llm__jfail(c, "values nested too deeply to print");
    switch (v.t) {
    case LLM__JV_UNDEF: break;
    case LLM__JV_NONE: llm__jbuf_puts(c, b, "None"); break;
    case LLM__JV_BOOL: llm__jbuf_puts(c, b, v.b ? "True" : "False"); break;
    case LLM__JV_INT: llm__jbuf_printf(c, b, "%lld", (long long)v.i); break;
    case LLM__JV_FLOAT: llm__jput_float(c, b, v.f, false); break;
    case LLM__JV_STR: llm__jput_repr_str(c, b, v.s.p, v.s.n); break;
    case LLM__JV_LIST:
        llm__jbuf_puts(c, b, v.tuple ? "(" : "[");
        for (size_t i = 0; i < v.l->n; i++) {
            if (i) llm__jbuf_puts(c, b, ", ");
            llm__jput_repr(c, b, v.l->v[i]);
        }
        llm__jbuf_puts(c, b, v.tuple ? (v.l->n == 1 ? ",)" : ")") : "]");
        break;
    case LLM__JV_DICT: case LLM__JV_NS:
        llm__jbuf_puts(c, b, v.t == LLM__JV_NS ? "<Namespace {" : "{");
        for (size_t i = 0; i < v.d->n; i++) {
            if (i) llm__jbuf_puts(c, b, ", ");
            llm__jput_repr(c, b, v.d->k[i]);
            llm__jbuf_puts(c, b, ": ");
            llm__jput_repr(c, b, v.d->v[i]);
        }
        llm__jbuf_puts(c, b, v.t == LLM__JV_NS ? "}>" : "}");
        break;
    default: llm__jbuf_printf(c, b, "<%s>", llm__jtype_name(v)); break;
    }
    c->depth--;
}

LLM_PRIVATE llm__jv llm__jto_str(llm__jctx *c, llm__jv v) {
    if (v.t == LLM__JV_STR) return v;
    llm__jbuf b = { 0 };
    llm__jput_str(c, &b, v);
    return llm__jbuf_val(&b);
}

LLM_PRIVATE void llm__jput_json_str(llm__jctx *c, llm__jbuf *b, const char *s, size_t n, bool ascii) {
    llm__jbuf_puts(c, b, "\"");
    for (size_t i = 0; i < n;) {
        size_t start = i;
        uint32_t cp = llm__jutf8_next(s, n, &i);
        switch (cp) {
        case '"': llm__jbuf_puts(c, b, "\\\""); break;
        case '\\': llm__jbuf_puts(c, b, "\\\\"); break;
        case '\n': llm__jbuf_puts(c, b, "\\n"); break;
        case '\r': llm__jbuf_puts(c, b, "\\r"); break;
        case '\t': llm__jbuf_puts(c, b, "\\t"); break;
        case '\b': llm__jbuf_puts(c, b, "\\b"); break;
        case '\f': llm__jbuf_puts(c, b, "\\f"); break;
        default:
            if (cp < 0x20 || (ascii && cp >= 0x7f)) {
                if (cp >= 0x10000) llm__jbuf_printf(c, b, "\\u%04x\\u%04x", 0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
                else llm__jbuf_printf(c, b, "\\u%04x", cp);
            } else llm__jbuf_put(c, b, s + start, i - start);
        }
    }
    llm__jbuf_puts(c, b, "\"");
}

/* json.dumps(v, ensure_ascii=ascii, indent=indent) as transformers' tojson calls it:
   separators ", " and ": " without indent, "," + newline with it; keys in insertion order.
   indent < 0 means none. */
LLM_PRIVATE void llm__jput_json(llm__jctx *c, llm__jbuf *b, llm__jv v, int indent, bool ascii, int level) {
    if (level > LLM__JMAX_DEPTH) llm__jfail(c, "values nested too deeply for tojson");
    bool isdict = v.t == LLM__JV_DICT;
    switch (v.t) {
    case LLM__JV_NONE: llm__jbuf_puts(c, b, "null"); return;
    case LLM__JV_BOOL: llm__jbuf_puts(c, b, v.b ? "true" : "false"); return;
    case LLM__JV_INT: llm__jbuf_printf(c, b, "%lld", (long long)v.i); return;
    case LLM__JV_FLOAT: llm__jput_float(c, b, v.f, true); return;
    case LLM__JV_STR: llm__jput_json_str(c, b, v.s.p, v.s.n, ascii); return;
    case LLM__JV_LIST: case LLM__JV_DICT: break;
    default: llm__jfail(c, "Object of type %s is not JSON serializable", llm__jtype_name(v));
    }
    size_t n = isdict ? v.d->n : v.l->n;
    llm__jbuf_puts(c, b, isdict ? "{" : "[");
    for (size_t i = 0; i < n; i++) {
        if (i) llm__jbuf_puts(c, b, indent >= 0 ? "," : ", ");
        if (indent >= 0) {
            llm__jbuf_puts(c, b, "\n");
            for (int k = 0; k < indent * (level + 1); k++) llm__jbuf_puts(c, b, " ");
        }
        if (isdict) {
            llm__jv k = v.d->k[i];
            if (k.t == LLM__JV_STR) llm__jput_json_str(c, b, k.s.p, k.s.n, ascii);
            else { llm__jbuf_puts(c, b, "\""); llm__jput_json(c, b, k, -1, ascii, level + 1); llm__jbuf_puts(c, b, "\""); }
            llm__jbuf_puts(c, b, ": ");
        }
        llm__jput_json(c, b, isdict ? v.d->v[i] : v.l->v[i], indent, ascii, level + 1);
    }
    if (indent >= 0 && n) {
        llm__jbuf_puts(c, b, "\n");
        for (int k = 0; k < indent * level; k++) llm__jbuf_puts(c, b, " ");
    }
    llm__jbuf_puts(c, b, isdict ? "}" : "]");
}

/* ---- JSON text -> values ----
   Our own small reader rather than cJSON, because templates see Python's json.loads
   types: "1" is an int and "1.0" a float, and tojson must print them back that way. */

typedef struct { llm__jctx *c; const char *begin, *s, *end; const char *what; } llm__jjson;

LLM_PRIVATE void llm__jjson_ws(llm__jjson *j) {
    while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')) j->s++;
}

LLM_PRIVATE LLM__NORETURN void llm__jjson_fail(llm__jjson *j, const char *why) {
    j->c->line = 0;
    snprintf(j->c->err, sizeof j->c->err, "%s: invalid JSON at byte %zu: %s", j->what, (size_t)(j->s - j->begin), why);
    longjmp(j->c->jmp, 2);
}

LLM_PRIVATE unsigned llm__jjson_hex4(llm__jjson *j) {
    unsigned u = 0;
    for (int k = 0; k < 4; k++) {
        char ch = j->s < j->end ? *j->s++ : 0;
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0) llm__jjson_fail(j, "bad \\u escape");
        u = u * 16 + (unsigned)d;
    }
    return u;
}

LLM_PRIVATE llm__jv llm__jjson_string(llm__jjson *j) {
    llm__jbuf b = { 0 };
    j->s++;                                           /* opening quote */
    for (;;) {
        const char *run = j->s;
        while (j->s < j->end && *j->s != '"' && *j->s != '\\') j->s++;
        llm__jbuf_put(j->c, &b, run, (size_t)(j->s - run));
        if (j->s >= j->end) llm__jjson_fail(j, "unterminated string");
        if (*j->s++ == '"') return llm__jbuf_val(&b);
        char e = j->s < j->end ? *j->s++ : 0;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) { llm__jbuf_put(j->c, &b, &"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"], 1); continue; }
        if (e != 'u') llm__jjson_fail(j, "bad escape");
        unsigned u = llm__jjson_hex4(j);
        if (u >= 0xd800 && u < 0xdc00 && j->end - j->s >= 6 && j->s[0] == '\\' && j->s[1] == 'u') {
            const char *save = j->s;
            j->s += 2;
            unsigned lo = llm__jjson_hex4(j);
            if (lo >= 0xdc00 && lo < 0xe000) u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            else j->s = save;
        }
        llm__jutf8_put(j->c, &b, u);
    }
}

LLM_PRIVATE llm__jv llm__jjson_value(llm__jjson *j, int depth) {
    llm__jjson_ws(j);
    if (j->s >= j->end) llm__jjson_fail(j, "unexpected end");
    if (depth > LLM__JMAX_DEPTH) llm__jjson_fail(j, "nested too deeply");
    char ch = *j->s;
    if (ch == '"') return llm__jjson_string(j);
    if (ch == '[' || ch == '{') {
        bool obj = ch == '{';
        llm__jv v = obj ? llm__jdict_new(j->c, LLM__JV_DICT) : llm__jlist_new(j->c);
        j->s++;
        llm__jjson_ws(j);
        if (j->s < j->end && *j->s == (obj ? '}' : ']')) { j->s++; return v; }
        for (;;) {
            llm__jjson_ws(j);
            if (obj) {
                if (j->s >= j->end || *j->s != '"') llm__jjson_fail(j, "expected a key");
                llm__jv k = llm__jjson_string(j);
                llm__jjson_ws(j);
                if (j->s >= j->end || *j->s++ != ':') llm__jjson_fail(j, "expected ':'");
                llm__jdict_set(j->c, v.d, k, llm__jjson_value(j, depth + 1));
            } else llm__jlist_push(j->c, v.l, llm__jjson_value(j, depth + 1));
            llm__jjson_ws(j);
            char sep = j->s < j->end ? *j->s++ : 0;
            if (sep == (obj ? '}' : ']')) return v;
            if (sep != ',') llm__jjson_fail(j, "expected ',' or a closing bracket");
        }
    }
    static const char *const words[] = { "true", "false", "null" };
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(words[k]);
        if ((size_t)(j->end - j->s) >= n && memcmp(j->s, words[k], n) == 0) {
            j->s += n;
            return k == 2 ? llm__jnone() : llm__jbool(k == 0);
        }
    }
    const char *start = j->s;
    bool is_float = false;
    if (j->s < j->end && *j->s == '-') j->s++;
    while (j->s < j->end && strchr("0123456789.eE+-", *j->s)) { is_float |= *j->s < '0' || *j->s > '9'; j->s++; }
    if (j->s == start || (j->s - start == 1 && *start == '-')) llm__jjson_fail(j, "unexpected character");
    char num[64];
    snprintf(num, sizeof num, "%.*s", (int)LLM__MIN(j->s - start, 63), start);
    errno = 0;
    if (!is_float) {
        long long i = strtoll(num, NULL, 10);
        if (errno == 0) return llm__jint(i);
    }
    return llm__jfloat(strtod(num, NULL));
}

/* Parse JSON text into a value; a syntax error fails the render naming `what`. */
LLM_PRIVATE llm__jv llm__jjson_parse(llm__jctx *c, const char *text, const char *what) {
    llm__jjson j = { c, text, text, text + strlen(text), what };
    llm__jv v = llm__jjson_value(&j, 0);
    llm__jjson_ws(&j);
    if (j.s != j.end) llm__jjson_fail(&j, "trailing characters");
    return v;
}
