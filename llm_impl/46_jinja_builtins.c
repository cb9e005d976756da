/* ---- >>jinja_builtins: filters, tests, methods and global functions ----
   What templates call, with Python's and Jinja's semantics: `x | trim`, `x is string`,
   `s.startswith('a')`, `d.items()`, `range(3)`, `namespace(a=1)`, `raise_exception(msg)`.
   Each builtin is an llm__jfn: (ctx, self, args) -> value, where self is the filtered or
   tested value, or the receiver of a method. Attribute and item lookup live here too,
   because `obj.name` yields a bound method when name is one. Case mapping is ASCII only. */
#include "10_internal.h"

/* Argument i (positional) or `name` (keyword), else dflt. */
LLM_PRIVATE llm__jv llm__jarg(const llm__jargs *a, int i, const char *name, llm__jv dflt) {
    if (i >= 0 && i < a->n_pos) return a->pos[i];
    for (int k = 0; k < a->n_kw; k++) if (!strcmp(a->kw_names[k], name)) return a->kw[k];
    return dflt;
}

LLM_PRIVATE llm__jv llm__jarg_str(llm__jctx *c, const llm__jargs *a, int i, const char *name, const char *dflt) {
    llm__jv v = llm__jarg(a, i, name, dflt ? llm__jstrz(dflt) : llm__jnone());
    if (v.t != LLM__JV_STR && v.t != LLM__JV_NONE) llm__jfail(c, "argument '%s' must be a string, not %s", name, llm__jtype_name(v));
    return v;
}

LLM_PRIVATE int64_t llm__jarg_int(llm__jctx *c, const llm__jargs *a, int i, const char *name, int64_t dflt) {
    llm__jv v = llm__jarg(a, i, name, llm__jint(dflt));
    if (v.t == LLM__JV_NONE) return dflt;
    if (v.t != LLM__JV_INT && v.t != LLM__JV_BOOL) llm__jfail(c, "argument '%s' must be an integer, not %s", name, llm__jtype_name(v));
    return v.t == LLM__JV_INT ? v.i : v.b;
}

LLM_PRIVATE void llm__jneed_str(llm__jctx *c, llm__jv v, const char *what) {
    if (v.t != LLM__JV_STR) llm__jfail(c, "%s needs a string, got %s", what, llm__jtype_name(v));
}

/* The items a for loop sees: list items, dict keys, string characters; undefined is empty. */
LLM_PRIVATE llm__jlist llm__jiter(llm__jctx *c, llm__jv v) {
    llm__jlist out = { 0 };
    if (v.t == LLM__JV_LIST) return *v.l;
    if (v.t == LLM__JV_DICT) { out.v = v.d->k; out.n = v.d->n; return out; }
    if (v.t == LLM__JV_STR) {
        size_t n, *off = llm__jutf8_offsets(c, v, &n);
        out.v = (llm__jv *)llm__jalloc(c, (n + 1) * sizeof(llm__jv));
        for (size_t i = 0; i < n; i++) out.v[i] = llm__jstr(v.s.p + off[i], off[i + 1] - off[i]);
        out.n = n;
        return out;
    }
    if (v.t == LLM__JV_UNDEF) return out;
    llm__jfail(c, "'%s' object is not iterable", llm__jtype_name(v));
}

LLM_PRIVATE llm__jv llm__jlist_of(llm__jctx *c, llm__jlist items) {
    llm__jv v = llm__jlist_new(c);
    for (size_t i = 0; i < items.n; i++) llm__jlist_push(c, v.l, items.v[i]);
    return v;
}

LLM_PRIVATE llm__jv llm__jpair(llm__jctx *c, llm__jv a, llm__jv b) {
    llm__jv t = llm__jlist_new(c);
    t.tuple = true;
    llm__jlist_push(c, t.l, a);
    llm__jlist_push(c, t.l, b);
    return t;
}

/* Python ordering (<) for sorting and comparisons: numbers, strings, lists. */
LLM_PRIVATE int llm__jcmp(llm__jctx *c, llm__jv a, llm__jv b) {
    if (llm__jis_num(a) && llm__jis_num(b)) {
        if (a.t != LLM__JV_FLOAT && b.t != LLM__JV_FLOAT) {
            int64_t x = a.t == LLM__JV_INT ? a.i : a.b, y = b.t == LLM__JV_INT ? b.i : b.b;
            return (x > y) - (x < y);
        }
        double x = llm__jnum(a), y = llm__jnum(b);
        return (x > y) - (x < y);
    }
    if (a.t == LLM__JV_STR && b.t == LLM__JV_STR) {
        int r = memcmp(a.s.p, b.s.p, LLM__MIN(a.s.n, b.s.n));
        return r ? (r > 0) - (r < 0) : (a.s.n > b.s.n) - (a.s.n < b.s.n);
    }
    if (a.t == LLM__JV_LIST && b.t == LLM__JV_LIST) {
        for (size_t i = 0; i < a.l->n && i < b.l->n; i++) {
            int r = llm__jcmp(c, a.l->v[i], b.l->v[i]);
            if (r) return r;
        }
        return (a.l->n > b.l->n) - (a.l->n < b.l->n);
    }
    llm__jfail(c, "'<' not supported between instances of '%s' and '%s'", llm__jtype_name(a), llm__jtype_name(b));
}

/* ---- strings ---- */

LLM_PRIVATE bool llm__jpy_space(uint32_t cp) {   /* str.isspace / str.split() whitespace */
    return (cp >= 9 && cp <= 13) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

LLM_PRIVATE bool llm__jin_chars(uint32_t cp, llm__jv chars) {
    if (chars.t != LLM__JV_STR) return llm__jpy_space(cp);
    for (size_t i = 0; i < chars.s.n;) if (llm__jutf8_next(chars.s.p, chars.s.n, &i) == cp) return true;
    return false;
}

/* str.strip/lstrip/rstrip(chars): chars none = whitespace. */
LLM_PRIVATE llm__jv llm__jstrip(llm__jctx *c, llm__jv s, llm__jv chars, bool left, bool right) {
    size_t n, *off = llm__jutf8_offsets(c, s, &n), b = 0, e = n;
    while (left && b < e) { size_t i = off[b]; if (!llm__jin_chars(llm__jutf8_next(s.s.p, s.s.n, &i), chars)) break; b++; }
    while (right && e > b) { size_t i = off[e - 1]; if (!llm__jin_chars(llm__jutf8_next(s.s.p, s.s.n, &i), chars)) break; e--; }
    return llm__jstr(s.s.p + off[b], off[e] - off[b]);
}

/* Python's per-character case mapping (utf8proc; ASCII only under LLM_NO_UTF8PROC). */
LLM_PRIVATE uint32_t llm__jcase_cp(uint32_t cp, bool upper) {
#ifndef LLM_NO_UTF8PROC
    if (cp >= 0x80) return (uint32_t)(upper ? utf8proc_toupper((utf8proc_int32_t)cp) : utf8proc_tolower((utf8proc_int32_t)cp));
#endif
    if (upper && cp >= 'a' && cp <= 'z') return cp - 32;
    if (!upper && cp >= 'A' && cp <= 'Z') return cp + 32;
    return cp;
}

LLM_PRIVATE bool llm__jcased(uint32_t cp) {
#ifndef LLM_NO_UTF8PROC
    if (cp >= 0x80) { utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp); return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT; }
#endif
    return ((cp | 32) >= 'a' && (cp | 32) <= 'z');
}

/* mode: 'u' upper, 'l' lower, 'c' capitalize, 't' str.title (words = runs of cased
   letters), 'T' Jinja's title filter (words start after whitespace, '-', '(', '{', '[' or '<'). */
LLM_PRIVATE llm__jv llm__jcase(llm__jctx *c, llm__jv s, char mode) {
    llm__jbuf b = { 0 };
    bool start = true;
    for (size_t i = 0, k = 0; i < s.s.n; k++) {
        uint32_t cp = llm__jutf8_next(s.s.p, s.s.n, &i);
        bool up;
        switch (mode) {
        case 'u': up = true; break;
        case 'l': up = false; break;
        case 'c': up = k == 0; break;
        case 't': up = start; start = !llm__jcased(cp); break;
        default: {
            bool sep = cp < 0x80 && (llm__jspace((char)cp) || strchr("-({[<", (int)cp));
            if (sep) { start = true; llm__jutf8_put(c, &b, cp); continue; }
            up = start;
            start = false;
        }
        }
        llm__jutf8_put(c, &b, llm__jcase_cp(cp, up));
    }
    return b.p ? llm__jbuf_val(&b) : llm__jstr("", 0);
}

LLM_PRIVATE const char *llm__jmemmem(const char *h, size_t hn, const char *n, size_t nn) {
    if (nn == 0) return h;
    for (size_t i = 0; i + nn <= hn; i++) if (h[i] == n[0] && memcmp(h + i, n, nn) == 0) return h + i;
    return NULL;
}

LLM_PRIVATE llm__jv llm__jreplace(llm__jctx *c, llm__jv s, llm__jv old, llm__jv new_, int64_t count) {
    llm__jneed_str(c, old, "replace"); llm__jneed_str(c, new_, "replace");
    llm__jbuf b = { 0 };
    size_t i = 0;
    if (old.s.n == 0) {                              /* Python inserts between characters */
        for (int64_t k = 0; i <= s.s.n && (count < 0 || k < count); k++) {
            llm__jbuf_put(c, &b, new_.s.p, new_.s.n);
            if (i == s.s.n) { i++; break; }
            size_t j = i; llm__jutf8_next(s.s.p, s.s.n, &j);
            llm__jbuf_put(c, &b, s.s.p + i, j - i);
            i = j;
        }
        if (i < s.s.n) llm__jbuf_put(c, &b, s.s.p + i, s.s.n - i);
        return llm__jbuf_val(&b);
    }
    for (int64_t k = 0; count < 0 || k < count; k++) {
        const char *hit = llm__jmemmem(s.s.p + i, s.s.n - i, old.s.p, old.s.n);
        if (!hit) break;
        llm__jbuf_put(c, &b, s.s.p + i, (size_t)(hit - s.s.p) - i);
        llm__jbuf_put(c, &b, new_.s.p, new_.s.n);
        i = (size_t)(hit - s.s.p) + old.s.n;
    }
    llm__jbuf_put(c, &b, s.s.p + i, s.s.n - i);
    return llm__jbuf_val(&b);
}

/* str.split(sep=None, maxsplit=-1) and rsplit. */
LLM_PRIVATE llm__jv llm__jsplit(llm__jctx *c, llm__jv s, llm__jv sep, int64_t maxsplit, bool from_right) {
    llm__jv out = llm__jlist_new(c);
    if (sep.t == LLM__JV_STR && sep.s.n == 0) llm__jfail(c, "empty separator");
    if (sep.t == LLM__JV_STR) {
        if (from_right && maxsplit >= 0) {
            size_t end = s.s.n;
            llm__jlist parts = { 0 };
            for (int64_t k = 0; k < maxsplit; k++) {
                const char *hit = NULL;
                for (size_t i = end; i >= sep.s.n && !hit; i--) if (!memcmp(s.s.p + i - sep.s.n, sep.s.p, sep.s.n)) hit = s.s.p + i - sep.s.n;
                if (!hit) break;
                llm__jlist_push(c, &parts, llm__jstr(hit + sep.s.n, (size_t)(s.s.p + end - hit) - sep.s.n));
                end = (size_t)(hit - s.s.p);
            }
            llm__jlist_push(c, out.l, llm__jstr(s.s.p, end));
            for (size_t k = parts.n; k-- > 0;) llm__jlist_push(c, out.l, parts.v[k]);
            return out;
        }
        size_t i = 0;
        for (int64_t k = 0; maxsplit < 0 || k < maxsplit; k++) {
            const char *hit = llm__jmemmem(s.s.p + i, s.s.n - i, sep.s.p, sep.s.n);
            if (!hit) break;
            llm__jlist_push(c, out.l, llm__jstr(s.s.p + i, (size_t)(hit - s.s.p) - i));
            i = (size_t)(hit - s.s.p) + sep.s.n;
        }
        llm__jlist_push(c, out.l, llm__jstr(s.s.p + i, s.s.n - i));
        return out;
    }
    if (from_right && maxsplit >= 0) llm__jfail(c, "rsplit() with maxsplit and no separator is not supported");
    size_t i = 0;
    for (int64_t k = 0;; k++) {                      /* runs of whitespace separate */
        while (i < s.s.n) { size_t j = i; if (!llm__jpy_space(llm__jutf8_next(s.s.p, s.s.n, &j))) break; i = j; }
        if (i >= s.s.n) break;
        if (maxsplit >= 0 && k >= maxsplit) {
            llm__jlist_push(c, out.l, llm__jstrip(c, llm__jstr(s.s.p + i, s.s.n - i), llm__jnone(), false, true));
            break;
        }
        size_t w = i;
        while (w < s.s.n) { size_t j = w; if (llm__jpy_space(llm__jutf8_next(s.s.p, s.s.n, &j))) break; w = j; }
        llm__jlist_push(c, out.l, llm__jstr(s.s.p + i, w - i));
        i = w;
    }
    return out;
}

/* str.format with {} {0} {name} fields and {{ }}; no format specs. */
LLM_PRIVATE llm__jv llm__jformat(llm__jctx *c, llm__jv s, const llm__jargs *a) {
    llm__jbuf b = { 0 };
    int auto_idx = 0;
    for (size_t i = 0; i < s.s.n; i++) {
        char ch = s.s.p[i];
        if ((ch == '{' || ch == '}') && i + 1 < s.s.n && s.s.p[i + 1] == ch) { llm__jbuf_put(c, &b, &ch, 1); i++; continue; }
        if (ch != '{') { llm__jbuf_put(c, &b, &ch, 1); continue; }
        const char *close = memchr(s.s.p + i, '}', s.s.n - i);
        if (!close) llm__jfail(c, "format string has an unmatched '{'");
        const char *f = s.s.p + i + 1;
        size_t fn = (size_t)(close - f);
        if (memchr(f, ':', fn) || memchr(f, '!', fn) || memchr(f, '.', fn) || memchr(f, '[', fn)) llm__jfail(c, "format specs are not supported");
        llm__jv v;
        if (fn == 0) v = llm__jarg(a, auto_idx++, "", llm__jundef("format", 6));
        else if (llm__jdigit(f[0])) v = llm__jarg(a, atoi(f), "", llm__jundef("format", 6));
        else { char name[64]; snprintf(name, sizeof name, "%.*s", (int)LLM__MIN(fn, 63), f); v = llm__jarg(a, -1, name, llm__jundef("format", 6)); }
        if (v.t == LLM__JV_UNDEF) llm__jfail(c, "format field '%.*s' has no argument", (int)fn, f);
        llm__jput_str(c, &b, v);
        i = (size_t)(close - s.s.p);
    }
    return llm__jbuf_val(&b);
}

LLM_PRIVATE bool llm__jaffix(llm__jctx *c, llm__jv s, llm__jv x, bool end) {
    if (x.t == LLM__JV_LIST) {                       /* a tuple of prefixes */
        for (size_t i = 0; i < x.l->n; i++) if (llm__jaffix(c, s, x.l->v[i], end)) return true;
        return false;
    }
    llm__jneed_str(c, x, end ? "endswith" : "startswith");
    return x.s.n <= s.s.n && memcmp(s.s.p + (end ? s.s.n - x.s.n : 0), x.s.p, x.s.n) == 0;
}

LLM_PRIVATE int64_t llm__jcp_index(llm__jctx *c, llm__jv s, size_t byte) {
    int64_t k = 0;
    for (size_t i = 0; i < byte;) { llm__jutf8_next(s.s.p, s.s.n, &i); k++; }
    (void)c;
    return k;
}

LLM_PRIVATE llm__jv llm__jstr_method(llm__jctx *c, llm__jv s, const char *m, const llm__jargs *a) {
    llm__jv none = llm__jnone();
    if (!strcmp(m, "strip") || !strcmp(m, "lstrip") || !strcmp(m, "rstrip"))
        return llm__jstrip(c, s, llm__jarg(a, 0, "chars", none), m[0] != 'r', m[0] != 'l');
    if (!strcmp(m, "split") || !strcmp(m, "rsplit"))
        return llm__jsplit(c, s, llm__jarg(a, 0, "sep", none), llm__jarg_int(c, a, 1, "maxsplit", -1), m[0] == 'r');
    if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) return llm__jbool(llm__jaffix(c, s, llm__jarg(a, 0, "prefix", none), m[0] == 'e'));
    if (!strcmp(m, "upper") || !strcmp(m, "lower") || !strcmp(m, "capitalize")) return llm__jcase(c, s, m[0] == 'u' ? 'u' : m[0] == 'l' ? 'l' : 'c');
    if (!strcmp(m, "title")) return llm__jcase(c, s, 't');
    if (!strcmp(m, "replace"))
        return llm__jreplace(c, s, llm__jarg(a, 0, "old", none), llm__jarg(a, 1, "new", none), llm__jarg_int(c, a, 2, "count", -1));
    if (!strcmp(m, "format")) return llm__jformat(c, s, a);
    if (!strcmp(m, "find") || !strcmp(m, "rfind") || !strcmp(m, "count")) {
        llm__jv x = llm__jarg(a, 0, "sub", none);
        llm__jneed_str(c, x, m);
        int64_t count = 0, found = -1;
        for (size_t i = 0; i + x.s.n <= s.s.n;) {
            const char *hit = llm__jmemmem(s.s.p + i, s.s.n - i, x.s.p, x.s.n);
            if (!hit) break;
            if (found < 0 || m[0] == 'r') found = (int64_t)(hit - s.s.p);
            count++;
            i = (size_t)(hit - s.s.p) + (x.s.n ? x.s.n : 1);
            if (m[0] == 'f') break;
        }
        if (m[0] == 'c') return llm__jint(count);
        return llm__jint(found < 0 ? -1 : llm__jcp_index(c, s, (size_t)found));
    }
    if (!strcmp(m, "join")) {
        llm__jlist items = llm__jiter(c, llm__jarg(a, 0, "iterable", none));
        llm__jbuf b = { 0 };
        for (size_t i = 0; i < items.n; i++) {
            if (i) llm__jbuf_put(c, &b, s.s.p, s.s.n);
            llm__jneed_str(c, items.v[i], "join");
            llm__jbuf_put(c, &b, items.v[i].s.p, items.v[i].s.n);
        }
        return llm__jbuf_val(&b);
    }
    if (!strcmp(m, "isdigit") || !strcmp(m, "isalpha") || !strcmp(m, "isalnum") || !strcmp(m, "isspace") ||
        !strcmp(m, "islower") || !strcmp(m, "isupper")) {
        bool ok = s.s.n > 0, cased = false;
        for (size_t i = 0; i < s.s.n && ok; i++) {
            char ch = s.s.p[i];
            bool dig = llm__jdigit(ch), up = ch >= 'A' && ch <= 'Z', lo = ch >= 'a' && ch <= 'z';
            cased |= up || lo;
            if (!strcmp(m, "isdigit")) ok = dig;
            else if (!strcmp(m, "isalpha")) ok = up || lo;
            else if (!strcmp(m, "isalnum")) ok = up || lo || dig;
            else if (!strcmp(m, "isspace")) ok = llm__jspace(ch);
            else ok = m[2] == 'l' ? !up : !lo;
        }
        return llm__jbool(ok && (m[2] == 'd' || m[2] == 'a' || m[2] == 's' || cased));
    }
    return llm__jundef(m, strlen(m));
}

LLM_PRIVATE llm__jv llm__jdict_method(llm__jctx *c, llm__jv d, const char *m, const llm__jargs *a) {
    if (!strcmp(m, "get")) {
        llm__jv *v = llm__jdict_find(c, d.d, llm__jarg(a, 0, "key", llm__jnone()));
        return v ? *v : llm__jarg(a, 1, "default", llm__jnone());
    }
    llm__jv out = llm__jlist_new(c);
    for (size_t i = 0; i < d.d->n; i++)
        llm__jlist_push(c, out.l, m[0] == 'k' ? d.d->k[i] : m[0] == 'v' ? d.d->v[i] : llm__jpair(c, d.d->k[i], d.d->v[i]));
    return out;
}

/* Method names per receiver type; calling one goes through llm__jcall_method. */
static const char *const llm__jstr_methods[] = { "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith",
    "upper", "lower", "capitalize", "title", "replace", "format", "find", "rfind", "count", "join", "isdigit", "isalpha",
    "isalnum", "isspace", "islower", "isupper", NULL };
static const char *const llm__jdict_methods[] = { "items", "keys", "values", "get", NULL };
/* Mutating methods: transformers renders in Jinja's ImmutableSandboxedEnvironment, which refuses them. */
static const char *const llm__jmutators[] = { "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
    "update", "setdefault", "popitem", NULL };

LLM_PRIVATE bool llm__jname_in(const char *name, const char *const *names) {
    for (int i = 0; names[i]; i++) if (!strcmp(names[i], name)) return true;
    return false;
}

LLM_PRIVATE llm__jv llm__jcall_method(llm__jctx *c, llm__jv self, const char *name, const llm__jargs *a) {
    if (self.t == LLM__JV_STR) return llm__jstr_method(c, self, name, a);
    if (self.t == LLM__JV_DICT) return llm__jdict_method(c, self, name, a);
    llm__jfail(c, "access to attribute '%s' of '%s' object is unsafe", name, llm__jtype_name(self));
}

LLM_PRIVATE llm__jv llm__jbind(llm__jctx *c, llm__jv self, const char *name) {
    llm__jmethod *m = (llm__jmethod *)llm__jalloc(c, sizeof(llm__jmethod));
    m->self = self; m->name = name;
    llm__jv v = { .t = LLM__JV_METHOD };
    v.m = m;
    return v;
}

/* ---- attribute and item access (Jinja's getattr / getitem: missing -> undefined) ---- */

LLM_PRIVATE LLM__NORETURN void llm__jundef_use(llm__jctx *c, llm__jv v) {
    llm__jfail(c, "'%.*s' is undefined", (int)v.s.n, v.s.p);
}

/* obj.name */
LLM_PRIVATE llm__jv llm__jgetattr(llm__jctx *c, llm__jv obj, const char *name) {
    if (obj.t == LLM__JV_UNDEF) llm__jundef_use(c, obj);
    if ((obj.t == LLM__JV_STR && llm__jname_in(name, llm__jstr_methods)) ||
        (obj.t == LLM__JV_DICT && llm__jname_in(name, llm__jdict_methods)) ||
        ((obj.t == LLM__JV_DICT || obj.t == LLM__JV_LIST) && llm__jname_in(name, llm__jmutators)))
        return llm__jbind(c, obj, name);
    if (obj.t == LLM__JV_DICT || obj.t == LLM__JV_NS) {
        llm__jv *v = llm__jdict_find(c, obj.d, llm__jstrz(name));
        if (v) return *v;
    }
    return llm__jundef(name, strlen(name));
}

/* Python index -> position in [0, n), or false when out of range. */
LLM_PRIVATE bool llm__jindex(int64_t i, size_t n, size_t *out) {
    if (i < 0) i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n) return false;
    *out = (size_t)i;
    return true;
}

/* obj[key] */
LLM_PRIVATE llm__jv llm__jgetitem(llm__jctx *c, llm__jv obj, llm__jv key) {
    if (obj.t == LLM__JV_UNDEF) llm__jundef_use(c, obj);
    size_t at;
    if (obj.t == LLM__JV_DICT || obj.t == LLM__JV_NS) {
        llm__jv *v = llm__jdict_find(c, obj.d, key);
        if (v) return *v;
    } else if ((obj.t == LLM__JV_LIST || obj.t == LLM__JV_STR) && (key.t == LLM__JV_INT || key.t == LLM__JV_BOOL)) {
        int64_t i = key.t == LLM__JV_INT ? key.i : key.b;
        if (obj.t == LLM__JV_LIST) return llm__jindex(i, obj.l->n, &at) ? obj.l->v[at] : llm__jundef("[index]", 7);
        size_t n, *off = llm__jutf8_offsets(c, obj, &n);
        return llm__jindex(i, n, &at) ? llm__jstr(obj.s.p + off[at], off[at + 1] - off[at]) : llm__jundef("[index]", 7);
    }
    if (key.t == LLM__JV_STR && obj.t != LLM__JV_DICT && obj.t != LLM__JV_NS)
        return llm__jgetattr(c, obj, llm__jstr_copy(c, key.s.p, key.s.n).s.p);
    if (key.t == LLM__JV_STR && obj.t == LLM__JV_DICT && llm__jname_in(llm__jstr_copy(c, key.s.p, key.s.n).s.p, llm__jdict_methods))
        return llm__jbind(c, obj, llm__jstr_copy(c, key.s.p, key.s.n).s.p);
    return llm__jundef("[key]", 5);
}

/* "a.b.0" attribute paths of map/selectattr/sort/join (integer parts index). */
LLM_PRIVATE llm__jv llm__jattr_path(llm__jctx *c, llm__jv v, llm__jv path) {
    if (path.t == LLM__JV_INT) return llm__jgetitem(c, v, path);
    llm__jneed_str(c, path, "attribute");
    for (size_t i = 0; i <= path.s.n;) {
        const char *dot = memchr(path.s.p + i, '.', path.s.n - i);
        size_t e = dot ? (size_t)(dot - path.s.p) : path.s.n;
        llm__jv part = llm__jstr_copy(c, path.s.p + i, e - i);
        bool num = part.s.n > 0;
        for (size_t k = 0; k < part.s.n; k++) num &= llm__jdigit(part.s.p[k]);
        v = num ? llm__jgetitem(c, v, llm__jint(atoll(part.s.p))) : llm__jgetitem(c, v, part);
        if (v.t == LLM__JV_UNDEF) return v;
        i = e + 1;
    }
    return v;
}

/* `item in container` */
LLM_PRIVATE bool llm__jcontains(llm__jctx *c, llm__jv container, llm__jv item) {
    switch (container.t) {
    case LLM__JV_STR:
        if (item.t != LLM__JV_STR) llm__jfail(c, "'in <string>' requires string as left operand, not %s", llm__jtype_name(item));
        return llm__jmemmem(container.s.p, container.s.n, item.s.p, item.s.n) != NULL;
    case LLM__JV_LIST:
        for (size_t i = 0; i < container.l->n; i++) if (llm__jeq(c, container.l->v[i], item)) return true;
        return false;
    case LLM__JV_DICT: case LLM__JV_NS: return llm__jdict_find(c, container.d, item) != NULL;
    case LLM__JV_UNDEF: return false;
    default: llm__jfail(c, "argument of type '%s' is not iterable", llm__jtype_name(container));
    }
}

/* ---- tests: `x is name(args)` ---- */

LLM_PRIVATE llm__jv llm__jt_type(llm__jctx *c, llm__jv v, const llm__jargs *a, const char *name) {
    static const char *const cmp_names[][2] = { { "eq", "==" }, { "equalto", "==" }, { "==", "==" }, { "ne", "!=" }, { "!=", "!=" },
        { "lt", "<" }, { "<", "<" }, { "lessthan", "<" }, { "le", "<=" }, { "<=", "<=" }, { "gt", ">" }, { ">", ">" },
        { "greaterthan", ">" }, { "ge", ">=" }, { ">=", ">=" } };
    llm__jv x = llm__jarg(a, 0, "other", llm__jundef("other", 5));
    for (size_t k = 0; k < sizeof cmp_names / sizeof cmp_names[0]; k++) {
        if (strcmp(name, cmp_names[k][0])) continue;
        const char *op = cmp_names[k][1];
        if (op[0] == '=') return llm__jbool(llm__jeq(c, v, x));
        if (op[0] == '!') return llm__jbool(!llm__jeq(c, v, x));
        int r = llm__jcmp(c, v, x);
        return llm__jbool(op[0] == '<' ? (op[1] ? r <= 0 : r < 0) : (op[1] ? r >= 0 : r > 0));
    }
    if (!strcmp(name, "odd") || !strcmp(name, "even") || !strcmp(name, "divisibleby")) {
        if (v.t != LLM__JV_INT && v.t != LLM__JV_BOOL) llm__jfail(c, "test '%s' needs an integer, got %s", name, llm__jtype_name(v));
        int64_t i = v.t == LLM__JV_INT ? v.i : v.b, d = name[0] == 'd' ? llm__jarg_int(c, a, 0, "num", 1) : 2;
        if (d == 0) llm__jfail(c, "integer division or modulo by zero");
        int64_t r = ((i % d) + d) % d;
        return llm__jbool(name[0] == 'o' ? r == 1 : r == 0);
    }
    if (!strcmp(name, "in")) return llm__jbool(llm__jcontains(c, llm__jarg(a, 0, "seq", llm__jundef("seq", 3)), v));
    if (!strcmp(name, "sameas")) return llm__jbool(v.t == x.t && llm__jeq(c, v, x));
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        llm__jargs none = { 0 };
        return v.t == LLM__JV_STR ? llm__jstr_method(c, v, name[0] == 'l' ? "islower" : "isupper", &none) : llm__jbool(false);
    }
    llm__jfail(c, "no test named '%s'", name);
}

/* The answer of test `name` for v. */
LLM_PRIVATE bool llm__jtest(llm__jctx *c, const char *name, llm__jv v, const llm__jargs *a) {
    uint8_t t = v.t;
    if (!strcmp(name, "defined")) return t != LLM__JV_UNDEF;
    if (!strcmp(name, "undefined")) return t == LLM__JV_UNDEF;
    if (!strcmp(name, "none")) return t == LLM__JV_NONE;
    if (!strcmp(name, "string")) return t == LLM__JV_STR;
    if (!strcmp(name, "mapping")) return t == LLM__JV_DICT;
    if (!strcmp(name, "iterable")) return t == LLM__JV_STR || t == LLM__JV_LIST || t == LLM__JV_DICT || t == LLM__JV_UNDEF;
    if (!strcmp(name, "sequence")) return t == LLM__JV_STR || t == LLM__JV_LIST || t == LLM__JV_DICT;
    if (!strcmp(name, "number")) return t == LLM__JV_INT || t == LLM__JV_FLOAT || t == LLM__JV_BOOL;
    if (!strcmp(name, "integer")) return t == LLM__JV_INT;
    if (!strcmp(name, "float")) return t == LLM__JV_FLOAT;
    if (!strcmp(name, "boolean")) return t == LLM__JV_BOOL;
    if (!strcmp(name, "true")) return t == LLM__JV_BOOL && v.b;
    if (!strcmp(name, "false")) return t == LLM__JV_BOOL && !v.b;
    if (!strcmp(name, "callable")) return t == LLM__JV_FUNC || t == LLM__JV_METHOD || t == LLM__JV_MACRO;
    if (!strcmp(name, "escaped")) return false;
    return llm__jt_type(c, v, a, name).b;
}

/* ---- sorting (stable, as Python's sorted) ---- */

typedef struct { llm__jv key, val; } llm__jsort_item;

LLM_PRIVATE void llm__jmerge_sort(llm__jctx *c, llm__jsort_item *x, llm__jsort_item *tmp, size_t n, bool reverse) {
    if (n < 2) return;
    size_t h = n / 2, i = 0, j = h, k = 0;
    llm__jmerge_sort(c, x, tmp, h, reverse);
    llm__jmerge_sort(c, x + h, tmp, n - h, reverse);
    while (i < h && j < n) {
        int r = llm__jcmp(c, x[j].key, x[i].key);
        tmp[k++] = (reverse ? r > 0 : r < 0) ? x[j++] : x[i++];
    }
    while (i < h) tmp[k++] = x[i++];
    while (j < n) tmp[k++] = x[j++];
    memcpy(x, tmp, n * sizeof *x);
}

/* Sort key: optional attribute path, lower-cased strings unless case_sensitive. */
LLM_PRIVATE llm__jv llm__jsort_key(llm__jctx *c, llm__jv v, llm__jv attribute, bool case_sensitive) {
    if (attribute.t != LLM__JV_NONE) v = llm__jattr_path(c, v, attribute);
    return !case_sensitive && v.t == LLM__JV_STR ? llm__jcase(c, v, 'l') : v;
}

LLM_PRIVATE llm__jsort_item *llm__jsorted(llm__jctx *c, llm__jlist items, llm__jv attribute, bool case_sensitive, bool reverse) {
    llm__jsort_item *x = (llm__jsort_item *)llm__jalloc(c, (items.n + 1) * sizeof *x), *tmp = (llm__jsort_item *)llm__jalloc(c, (items.n + 1) * sizeof *x);
    for (size_t i = 0; i < items.n; i++) { x[i].val = items.v[i]; x[i].key = llm__jsort_key(c, items.v[i], attribute, case_sensitive); }
    llm__jmerge_sort(c, x, tmp, items.n, reverse);
    return x;
}

/* ---- filters: `x | name(args)` ---- */

#define LLM__JNONE llm__jnone()

LLM_PRIVATE llm__jv llm__jfilter(llm__jctx *c, const char *name, llm__jv v, const llm__jargs *a);

LLM_PRIVATE llm__jv llm__jf_trim(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    return llm__jstrip(c, llm__jto_str(c, v), llm__jarg(a, 0, "chars", LLM__JNONE), true, true);
}

/* transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) */
LLM_PRIVATE llm__jv llm__jf_tojson(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv indent = llm__jarg(a, 1, "indent", LLM__JNONE);
    if (indent.t != LLM__JV_NONE && (indent.t != LLM__JV_INT || indent.i < 0 || indent.i > 64)) llm__jfail(c, "tojson: indent must be a small integer");
    if (llm__jtruthy(llm__jarg(a, 3, "sort_keys", LLM__JNONE)) || llm__jarg(a, 2, "separators", LLM__JNONE).t != LLM__JV_NONE)
        llm__jfail(c, "tojson: sort_keys and separators are not supported");
    llm__jbuf b = { 0 };
    llm__jput_json(c, &b, v, indent.t == LLM__JV_INT ? (int)indent.i : -1, llm__jtruthy(llm__jarg(a, 0, "ensure_ascii", LLM__JNONE)), 0);
    return llm__jbuf_val(&b);
}

LLM_PRIVATE llm__jv llm__jf_length(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    size_t n;
    switch (v.t) {
    case LLM__JV_STR: llm__jutf8_offsets(c, v, &n); return llm__jint((int64_t)n);
    case LLM__JV_LIST: return llm__jint((int64_t)v.l->n);
    case LLM__JV_DICT: return llm__jint((int64_t)v.d->n);
    case LLM__JV_UNDEF: return llm__jint(0);
    default: llm__jfail(c, "object of type '%s' has no len()", llm__jtype_name(v));
    }
}

LLM_PRIVATE llm__jv llm__jf_items(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    if (v.t == LLM__JV_UNDEF) return llm__jlist_new(c);
    if (v.t != LLM__JV_DICT) llm__jfail(c, "items filter needs a mapping, got %s", llm__jtype_name(v));
    return llm__jdict_method(c, v, "items", a);
}

LLM_PRIVATE llm__jv llm__jf_case(llm__jctx *c, llm__jv v, char mode) { return llm__jcase(c, llm__jto_str(c, v), mode); }
LLM_PRIVATE llm__jv llm__jf_string(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jto_str(c, v); }
LLM_PRIVATE llm__jv llm__jf_lower(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jf_case(c, v, 'l'); }
LLM_PRIVATE llm__jv llm__jf_upper(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jf_case(c, v, 'u'); }
LLM_PRIVATE llm__jv llm__jf_capitalize(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jf_case(c, v, 'c'); }
LLM_PRIVATE llm__jv llm__jf_title(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jf_case(c, v, 'T'); }
LLM_PRIVATE llm__jv llm__jf_safe(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)c; (void)a; return v; }
LLM_PRIVATE llm__jv llm__jf_list(llm__jctx *c, llm__jv v, const llm__jargs *a) { (void)a; return llm__jlist_of(c, llm__jiter(c, v)); }

LLM_PRIVATE llm__jv llm__jf_replace(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    return llm__jreplace(c, llm__jto_str(c, v), llm__jarg(a, 0, "old", LLM__JNONE), llm__jarg(a, 1, "new", LLM__JNONE), llm__jarg_int(c, a, 2, "count", -1));
}

LLM_PRIVATE llm__jv llm__jf_join(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv sep = llm__jarg_str(c, a, 0, "d", ""), attr = llm__jarg(a, 1, "attribute", LLM__JNONE);
    llm__jlist items = llm__jiter(c, v);
    llm__jbuf b = { 0 };
    for (size_t i = 0; i < items.n; i++) {
        if (i) llm__jbuf_put(c, &b, sep.s.p, sep.s.n);
        llm__jput_str(c, &b, attr.t == LLM__JV_NONE ? items.v[i] : llm__jattr_path(c, items.v[i], attr));
    }
    return llm__jbuf_val(&b);
}

LLM_PRIVATE llm__jv llm__jf_default(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)c;
    bool boolean = llm__jtruthy(llm__jarg(a, 1, "boolean", LLM__JNONE));
    if (v.t == LLM__JV_UNDEF || (boolean && !llm__jtruthy(v))) return llm__jarg(a, 0, "default_value", llm__jstr("", 0));
    return v;
}

LLM_PRIVATE llm__jv llm__jf_first(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    llm__jlist items = llm__jiter(c, v);
    return items.n ? items.v[0] : llm__jundef("first", 5);
}

LLM_PRIVATE llm__jv llm__jf_last(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    llm__jlist items = llm__jiter(c, v);
    return items.n ? items.v[items.n - 1] : llm__jundef("last", 4);
}

/* Jinja's int filter: int(x), else int(float(x)), else the default. */
LLM_PRIVATE llm__jv llm__jf_int(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv dflt = llm__jarg(a, 0, "default", llm__jint(0));
    if (v.t == LLM__JV_INT) return v;
    if (v.t == LLM__JV_BOOL) return llm__jint(v.b);
    if (v.t == LLM__JV_FLOAT) return isfinite(v.f) && fabs(v.f) < 9.2e18 ? llm__jint((int64_t)v.f) : dflt;
    if (v.t != LLM__JV_STR) return dflt;
    llm__jv s = llm__jstrip(c, v, LLM__JNONE, true, true);
    s = llm__jstr_copy(c, s.s.p, s.s.n);
    char *end;
    errno = 0;
    long long i = strtoll(s.s.p, &end, (int)llm__jarg_int(c, a, 1, "base", 10));
    if (s.s.n && !*end && !errno) return llm__jint(i);
    double f = strtod(s.s.p, &end);
    return s.s.n && !*end && isfinite(f) && fabs(f) < 9.2e18 ? llm__jint((int64_t)f) : dflt;
}

LLM_PRIVATE llm__jv llm__jf_float(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv dflt = llm__jarg(a, 0, "default", llm__jfloat(0));
    if (llm__jis_num(v)) return llm__jfloat(llm__jnum(v));
    if (v.t != LLM__JV_STR) return dflt;
    llm__jv s = llm__jstrip(c, v, LLM__JNONE, true, true);
    s = llm__jstr_copy(c, s.s.p, s.s.n);
    char *end;
    double f = strtod(s.s.p, &end);
    return s.s.n && !*end ? llm__jfloat(f) : dflt;
}

LLM_PRIVATE llm__jv llm__jf_abs(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    if (v.t == LLM__JV_INT) { if (v.i == INT64_MIN) llm__jfail(c, "integer overflow"); return llm__jint(v.i < 0 ? -v.i : v.i); }
    if (v.t == LLM__JV_BOOL) return llm__jint(v.b);
    if (v.t == LLM__JV_FLOAT) return llm__jfloat(fabs(v.f));
    llm__jfail(c, "bad operand type for abs(): '%s'", llm__jtype_name(v));
}

/* round(value, precision=0, method='common'): Python's round (half to even, on the exact
   binary value, which is what printf's rounding does too), floor or ceil. */
LLM_PRIVATE llm__jv llm__jf_round(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    int64_t prec = llm__jarg_int(c, a, 0, "precision", 0);
    llm__jv method = llm__jarg_str(c, a, 1, "method", "common");
    if (!llm__jis_num(v)) llm__jfail(c, "round needs a number, got %s", llm__jtype_name(v));
    if (prec < 0 || prec > 15) llm__jfail(c, "round: precision %lld is not supported", (long long)prec);
    double x = llm__jnum(v), scale = pow(10, (double)prec);
    if (llm__jstr_eq(method, "floor")) return llm__jfloat(floor(x * scale) / scale);
    if (llm__jstr_eq(method, "ceil")) return llm__jfloat(ceil(x * scale) / scale);
    if (!llm__jstr_eq(method, "common")) llm__jfail(c, "round: method must be common, ceil or floor");
    if (v.t != LLM__JV_FLOAT) return llm__jint(v.t == LLM__JV_INT ? v.i : v.b);   /* round(int) stays int */
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%.*f", (int)prec, x);
    return llm__jfloat(strtod(tmp, NULL));
}

LLM_PRIVATE llm__jv llm__jf_unique(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    bool cs = llm__jtruthy(llm__jarg(a, 0, "case_sensitive", LLM__JNONE));
    llm__jv attr = llm__jarg(a, 1, "attribute", LLM__JNONE), out = llm__jlist_new(c), seen = llm__jlist_new(c);
    llm__jlist items = llm__jiter(c, v);
    for (size_t i = 0; i < items.n; i++) {
        llm__jv key = llm__jsort_key(c, items.v[i], attr, cs);
        if (llm__jcontains(c, seen, key)) continue;
        llm__jlist_push(c, seen.l, key);
        llm__jlist_push(c, out.l, items.v[i]);
    }
    return out;
}

/* Arguments after the first `skip` positional ones (the rest go to a test or filter). */
LLM_PRIVATE llm__jargs llm__jargs_tail(const llm__jargs *a, int skip) {
    llm__jargs t = *a;
    t.pos = a->pos + LLM__MIN(skip, a->n_pos);
    t.n_pos = LLM__MAX(0, a->n_pos - skip);
    return t;
}

/* map(attribute='x', default=...) or map('filter', args...) */
LLM_PRIVATE llm__jv llm__jf_map(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv attr = llm__jarg(a, -1, "attribute", LLM__JNONE), dflt = llm__jarg(a, -1, "default", llm__jundef("default", 7));
    llm__jv out = llm__jlist_new(c), fname = llm__jarg(a, 0, "", LLM__JNONE);
    llm__jlist items = llm__jiter(c, v);
    llm__jargs rest = llm__jargs_tail(a, 1);
    if (attr.t == LLM__JV_NONE) {
        llm__jneed_str(c, fname, "map");
        fname = llm__jstr_copy(c, fname.s.p, fname.s.n);
        rest.n_kw = 0;
    }
    for (size_t i = 0; i < items.n; i++) {
        llm__jv x;
        if (attr.t != LLM__JV_NONE) { x = llm__jattr_path(c, items.v[i], attr); if (x.t == LLM__JV_UNDEF) x = dflt; }
        else x = llm__jfilter(c, fname.s.p, items.v[i], &rest);
        llm__jlist_push(c, out.l, x);
    }
    return out;
}

/* select/reject(test, args...) and selectattr/rejectattr(attr, test, args...). */
LLM_PRIVATE llm__jv llm__jselect(llm__jctx *c, llm__jv v, const llm__jargs *a, bool keep, bool by_attr) {
    llm__jv attr = by_attr ? llm__jarg(a, 0, "attr", LLM__JNONE) : LLM__JNONE, test = llm__jarg(a, by_attr, "", LLM__JNONE);
    llm__jargs rest = llm__jargs_tail(a, by_attr + 1);
    if (test.t != LLM__JV_NONE) { llm__jneed_str(c, test, "select"); test = llm__jstr_copy(c, test.s.p, test.s.n); }
    llm__jv out = llm__jlist_new(c);
    llm__jlist items = llm__jiter(c, v);
    for (size_t i = 0; i < items.n; i++) {
        llm__jv x = by_attr ? llm__jattr_path(c, items.v[i], attr) : items.v[i];
        bool ok = test.t == LLM__JV_NONE ? llm__jtruthy(x) : llm__jtest(c, test.s.p, x, &rest);
        if (ok == keep) llm__jlist_push(c, out.l, items.v[i]);
    }
    return out;
}

LLM_PRIVATE llm__jv llm__jf_select(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jselect(c, v, a, true, false); }
LLM_PRIVATE llm__jv llm__jf_reject(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jselect(c, v, a, false, false); }
LLM_PRIVATE llm__jv llm__jf_selectattr(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jselect(c, v, a, true, true); }
LLM_PRIVATE llm__jv llm__jf_rejectattr(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jselect(c, v, a, false, true); }

LLM_PRIVATE llm__jv llm__jf_dictsort(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    if (v.t != LLM__JV_DICT) llm__jfail(c, "dictsort needs a mapping, got %s", llm__jtype_name(v));
    bool cs = llm__jtruthy(llm__jarg(a, 0, "case_sensitive", LLM__JNONE));
    llm__jv by = llm__jarg_str(c, a, 1, "by", "key");
    llm__jv pairs = llm__jdict_method(c, v, "items", a);
    llm__jsort_item *x = llm__jsorted(c, *pairs.l, llm__jint(llm__jstr_eq(by, "value")), cs, llm__jtruthy(llm__jarg(a, 2, "reverse", LLM__JNONE)));
    for (size_t i = 0; i < pairs.l->n; i++) pairs.l->v[i] = x[i].val;
    return pairs;
}

LLM_PRIVATE llm__jv llm__jf_sort(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jlist items = llm__jiter(c, v);
    llm__jsort_item *x = llm__jsorted(c, items, llm__jarg(a, 2, "attribute", LLM__JNONE), llm__jtruthy(llm__jarg(a, 1, "case_sensitive", LLM__JNONE)),
                                      llm__jtruthy(llm__jarg(a, 0, "reverse", LLM__JNONE)));
    llm__jv out = llm__jlist_new(c);
    for (size_t i = 0; i < items.n; i++) llm__jlist_push(c, out.l, x[i].val);
    return out;
}

LLM_PRIVATE llm__jv llm__jf_minmax(llm__jctx *c, llm__jv v, const llm__jargs *a, bool max) {
    llm__jlist items = llm__jiter(c, v);
    if (!items.n) return llm__jundef(max ? "max" : "min", 3);
    llm__jsort_item *x = llm__jsorted(c, items, llm__jarg(a, 1, "attribute", LLM__JNONE), llm__jtruthy(llm__jarg(a, 0, "case_sensitive", LLM__JNONE)), false);
    return max ? x[items.n - 1].val : x[0].val;
}
LLM_PRIVATE llm__jv llm__jf_min(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jf_minmax(c, v, a, false); }
LLM_PRIVATE llm__jv llm__jf_max(llm__jctx *c, llm__jv v, const llm__jargs *a) { return llm__jf_minmax(c, v, a, true); }

LLM_PRIVATE llm__jv llm__jf_reverse(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    llm__jlist items = llm__jiter(c, v);
    if (v.t == LLM__JV_STR) {
        llm__jbuf b = { 0 };
        for (size_t i = items.n; i-- > 0;) llm__jbuf_put(c, &b, items.v[i].s.p, items.v[i].s.n);
        return llm__jbuf_val(&b);
    }
    llm__jv out = llm__jlist_new(c);
    for (size_t i = items.n; i-- > 0;) llm__jlist_push(c, out.l, items.v[i]);
    return out;
}

LLM_PRIVATE llm__jv llm__jadd(llm__jctx *c, llm__jv x, llm__jv y);

LLM_PRIVATE llm__jv llm__jf_sum(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv attr = llm__jarg(a, 0, "attribute", LLM__JNONE), total = llm__jarg(a, 1, "start", llm__jint(0));
    llm__jlist items = llm__jiter(c, v);
    for (size_t i = 0; i < items.n; i++) total = llm__jadd(c, total, attr.t == LLM__JV_NONE ? items.v[i] : llm__jattr_path(c, items.v[i], attr));
    return total;
}

/* indent(width=4, first=False, blank=False), Jinja 3.1 */
LLM_PRIVATE llm__jv llm__jf_indent(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv w = llm__jarg(a, 0, "width", llm__jint(4));
    bool first = llm__jtruthy(llm__jarg(a, 1, "first", LLM__JNONE)), blank = llm__jtruthy(llm__jarg(a, 2, "blank", LLM__JNONE));
    llm__jbuf ind = { 0 }, b = { 0 };
    if (w.t == LLM__JV_STR) llm__jbuf_put(c, &ind, w.s.p, w.s.n);
    else for (int64_t k = 0, n = llm__jarg_int(c, a, 0, "width", 4); k < n && k < 256; k++) llm__jbuf_puts(c, &ind, " ");
    llm__jv s = llm__jto_str(c, v);
    if (first) llm__jbuf_put(c, &b, ind.p, ind.n);
    for (size_t i = 0, line = 0; i < s.s.n; line++) {      /* lines as str.splitlines() of s + "\n" */
        size_t e = i;
        while (e < s.s.n && !strchr("\n\r\v\f\x1c\x1d\x1e", s.s.p[e])) e++;
        bool empty = e == i;
        if (line) { llm__jbuf_puts(c, &b, "\n"); if (blank || !empty) llm__jbuf_put(c, &b, ind.p, ind.n); }
        llm__jbuf_put(c, &b, s.s.p + i, e - i);
        i = e + (e < s.s.n && s.s.p[e] == '\r' && e + 1 < s.s.n && s.s.p[e + 1] == '\n' ? 2 : 1);
    }
    return llm__jbuf_val(&b);
}

LLM_PRIVATE llm__jv llm__jf_escape(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    (void)a;
    llm__jv s = llm__jto_str(c, v);
    llm__jbuf b = { 0 };
    for (size_t i = 0; i < s.s.n; i++) {
        const char *e = s.s.p[i] == '&' ? "&amp;" : s.s.p[i] == '<' ? "&lt;" : s.s.p[i] == '>' ? "&gt;" :
                        s.s.p[i] == '"' ? "&#34;" : s.s.p[i] == '\'' ? "&#39;" : NULL;
        if (e) llm__jbuf_puts(c, &b, e); else llm__jbuf_put(c, &b, s.s.p + i, 1);
    }
    return llm__jbuf_val(&b);
}

LLM_PRIVATE llm__jv llm__jf_attr(llm__jctx *c, llm__jv v, const llm__jargs *a) {
    llm__jv name = llm__jarg(a, 0, "name", LLM__JNONE);
    llm__jneed_str(c, name, "attr");
    return llm__jgetattr(c, v, llm__jstr_copy(c, name.s.p, name.s.n).s.p);
}

static const llm__jbuiltin llm__jfilters[] = {
    { "abs", llm__jf_abs }, { "attr", llm__jf_attr }, { "capitalize", llm__jf_capitalize }, { "count", llm__jf_length },
    { "d", llm__jf_default }, { "default", llm__jf_default }, { "dictsort", llm__jf_dictsort }, { "e", llm__jf_escape },
    { "escape", llm__jf_escape }, { "first", llm__jf_first }, { "float", llm__jf_float }, { "indent", llm__jf_indent },
    { "int", llm__jf_int }, { "items", llm__jf_items }, { "join", llm__jf_join }, { "last", llm__jf_last },
    { "length", llm__jf_length }, { "list", llm__jf_list }, { "lower", llm__jf_lower }, { "map", llm__jf_map },
    { "max", llm__jf_max }, { "min", llm__jf_min }, { "reject", llm__jf_reject }, { "rejectattr", llm__jf_rejectattr },
    { "replace", llm__jf_replace }, { "reverse", llm__jf_reverse }, { "round", llm__jf_round }, { "safe", llm__jf_safe },
    { "select", llm__jf_select }, { "selectattr", llm__jf_selectattr }, { "sort", llm__jf_sort }, { "string", llm__jf_string },
    { "sum", llm__jf_sum }, { "title", llm__jf_title }, { "tojson", llm__jf_tojson }, { "trim", llm__jf_trim },
    { "unique", llm__jf_unique }, { "upper", llm__jf_upper },
};

LLM_PRIVATE llm__jv llm__jfilter(llm__jctx *c, const char *name, llm__jv v, const llm__jargs *a) {
    for (size_t i = 0; i < sizeof llm__jfilters / sizeof llm__jfilters[0]; i++)
        if (!strcmp(llm__jfilters[i].name, name)) return llm__jfilters[i].fn(c, v, a);
    llm__jfail(c, "no filter named '%s'", name);
}

/* ---- global functions ---- */

LLM_PRIVATE llm__jv llm__jg_range(llm__jctx *c, llm__jv self, const llm__jargs *a) {
    (void)self;
    int64_t start = 0, stop, step = 1;
    if (a->n_pos == 1) stop = llm__jarg_int(c, a, 0, "stop", 0);
    else {
        start = llm__jarg_int(c, a, 0, "start", 0);
        stop = llm__jarg_int(c, a, 1, "stop", 0);
        step = llm__jarg_int(c, a, 2, "step", 1);
    }
    if (step == 0) llm__jfail(c, "range() arg 3 must not be zero");
    llm__jv out = llm__jlist_new(c);
    for (int64_t i = start, k = 0; step > 0 ? i < stop : i > stop; i += step, k++) {
        if (k >= LLM__JMAX_RANGE) llm__jfail(c, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", LLM__JMAX_RANGE);
        llm__jlist_push(c, out.l, llm__jint(i));
    }
    return out;
}

/* namespace(dict?, **kw) and dict(dict?, **kw) */
LLM_PRIVATE llm__jv llm__jmake_dict(llm__jctx *c, const llm__jargs *a, llm__jtype t) {
    llm__jv d = llm__jdict_new(c, t);
    if (a->n_pos > 1) llm__jfail(c, "expected at most 1 positional argument, got %d", a->n_pos);
    if (a->n_pos == 1) {
        if (a->pos[0].t != LLM__JV_DICT) llm__jfail(c, "cannot convert %s to a dict", llm__jtype_name(a->pos[0]));
        for (size_t i = 0; i < a->pos[0].d->n; i++) llm__jdict_set(c, d.d, a->pos[0].d->k[i], a->pos[0].d->v[i]);
    }
    for (int k = 0; k < a->n_kw; k++) llm__jdict_set(c, d.d, llm__jstrz(a->kw_names[k]), a->kw[k]);
    return d;
}
LLM_PRIVATE llm__jv llm__jg_namespace(llm__jctx *c, llm__jv self, const llm__jargs *a) { (void)self; return llm__jmake_dict(c, a, LLM__JV_NS); }
LLM_PRIVATE llm__jv llm__jg_dict(llm__jctx *c, llm__jv self, const llm__jargs *a) { (void)self; return llm__jmake_dict(c, a, LLM__JV_DICT); }

LLM_PRIVATE llm__jv llm__jg_raise(llm__jctx *c, llm__jv self, const llm__jargs *a) {
    (void)self;
    llm__jv msg = llm__jto_str(c, llm__jarg(a, 0, "message", llm__jstr("", 0)));
    llm__jfail(c, "raise_exception: %.*s", (int)LLM__MIN(msg.s.n, 600), msg.s.p);
}

/* datetime.now().strftime(format) */
LLM_PRIVATE llm__jv llm__jg_strftime_now(llm__jctx *c, llm__jv self, const llm__jargs *a) {
    (void)self;
    llm__jv fmt = llm__jarg(a, 0, "format", LLM__JNONE);
    llm__jneed_str(c, fmt, "strftime_now");
    fmt = llm__jstr_copy(c, fmt.s.p, fmt.s.n);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char out[512];
    size_t n = strftime(out, sizeof out, fmt.s.p, &tm);
    return llm__jstr_copy(c, out, n);
}

static const llm__jbuiltin llm__jglobals[] = {
    { "range", llm__jg_range }, { "namespace", llm__jg_namespace }, { "dict", llm__jg_dict },
    { "raise_exception", llm__jg_raise }, { "strftime_now", llm__jg_strftime_now },
};
