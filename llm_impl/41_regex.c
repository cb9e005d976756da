/* ---- >>regex: the small matcher behind Split pre-tokenizers ----
   Byte-level tokenizers cut text into words with a regex before BPE, e.g. Llama 3's
     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
   This is not a general regex engine: it knows what such patterns use - literals, classes
   with ranges and Unicode categories (\p{L} \p{N} \p{P} ... \s \d \w and negations),
   '.', alternation, groups ((...), (?:...), (?i:...)), greedy and lazy quantifiers
   (* + ? {n,m}), look-ahead (?=...) (?!...) and ^ $ - with Perl's leftmost-first semantics
   (the ones Oniguruma and fancy-regex give HF). Patterns are parsed to a tree, compiled to
   a tiny instruction list, and run by a backtracking machine over code points.
   Hostile patterns are bounded: a step budget per search and a nesting limit. */
#include "10_internal.h"

enum { LLM__RE_CHAR, LLM__RE_CLASS, LLM__RE_ANY, LLM__RE_SPLIT, LLM__RE_JMP, LLM__RE_LOOK, LLM__RE_BOL, LLM__RE_EOL,
       LLM__RE_MATCH };

typedef struct llm__re_inst {
    uint8_t op;
    uint8_t flag;          /* CHAR: case-insensitive; CLASS: case-insensitive; LOOK: negative */
    int32_t x, y;          /* CHAR: code point, its lowercase; CLASS: class index; SPLIT: preferred, other; JMP: x; LOOK: end */
} llm__re_inst;

/* A class is a list of items; it matches if any item matches, then `neg` flips it. */
typedef struct llm__re_item { int32_t lo, hi; uint32_t cats; bool space, neg; } llm__re_item;
typedef struct llm__re_class {
    llm__re_item *items;
    int n;
    bool neg;
    uint64_t ascii[2][2];      /* [case-insensitive][cp >> 6]: the answer for ASCII, precomputed */
} llm__re_class;

/* Parse tree node. */
enum { LLM__RN_CHAR, LLM__RN_CLASS, LLM__RN_ANY, LLM__RN_CAT, LLM__RN_ALT, LLM__RN_REP, LLM__RN_LOOK, LLM__RN_BOL,
       LLM__RN_EOL, LLM__RN_EMPTY };
typedef struct llm__re_node {
    int type;
    int32_t cp;                      /* CHAR */
    int cls;                         /* CLASS */
    bool icase, greedy, neg;
    int min, max;                    /* REP; max -1 = unbounded */
    struct llm__re_node **kids;      /* CAT, ALT: n_kids; REP, LOOK: kids[0] */
    int n_kids;
} llm__re_node;

typedef struct llm__regex {
    llm__re_inst *code;
    int n_code, cap_code;
    llm__re_class *classes;
    int n_classes;
} llm__regex;

typedef struct llm__re_parser {
    const char *p, *end;
    llm__regex *re;
    const char *err;                 /* first error, NULL if none */
    int depth;
} llm__re_parser;

#define LLM__RE_MAX_DEPTH 64
#define LLM__RE_MAX_CODE 100000
#define LLM__RE_STEP_BUDGET 10000000

static void llm__re_node_free(llm__re_node *n) {
    if (!n) return;
    for (int i = 0; i < n->n_kids; i++) llm__re_node_free(n->kids[i]);
    free(n->kids);
    free(n);
}

static llm__re_node *llm__re_new(llm__re_parser *ps, int type) {
    llm__re_node *n = (llm__re_node *)calloc(1, sizeof *n);
    if (!n) { ps->err = "out of memory"; return NULL; }
    n->type = type;
    return n;
}

static bool llm__re_add_kid(llm__re_parser *ps, llm__re_node *n, llm__re_node *kid) {
    llm__re_node **k = (llm__re_node **)realloc(n->kids, (size_t)(n->n_kids + 1) * sizeof *k);
    if (!k) { ps->err = "out of memory"; llm__re_node_free(kid); return false; }
    n->kids = k;
    n->kids[n->n_kids++] = kid;
    return true;
}

static int32_t llm__re_next_cp(llm__re_parser *ps) {
    int32_t cp;
    int pre, k = llm__utf8_decode((const uint8_t *)ps->p, (size_t)(ps->end - ps->p), &cp, &pre);
    if (!k) { ps->err = "invalid UTF-8 in pattern"; ps->p = ps->end; return 0; }
    ps->p += k;
    return cp;
}

/* \p{Name} / \P{Name}: the category mask, 0 if unknown. */
static uint32_t llm__re_category(const char *name, size_t n) {
    static const struct { const char *name; uint32_t cats; } table[] = {
        { "L", LLM__CATS_L }, { "Letter", LLM__CATS_L }, { "N", LLM__CATS_N }, { "Number", LLM__CATS_N },
        { "P", LLM__CATS_P }, { "Punctuation", LLM__CATS_P }, { "S", LLM__CATS_S }, { "Symbol", LLM__CATS_S },
        { "M", LLM__CATS_M }, { "Mark", LLM__CATS_M }, { "Z", LLM__CATS_Z }, { "Separator", LLM__CATS_Z },
        { "C", LLM__CATS_C }, { "Other", LLM__CATS_C },
        { "Lu", LLM__CATBIT(LU) }, { "Ll", LLM__CATBIT(LL) }, { "Lt", LLM__CATBIT(LT) }, { "Lm", LLM__CATBIT(LM) },
        { "Lo", LLM__CATBIT(LO) }, { "Mn", LLM__CATBIT(MN) }, { "Mc", LLM__CATBIT(MC) }, { "Me", LLM__CATBIT(ME) },
        { "Nd", LLM__CATBIT(ND) }, { "Nl", LLM__CATBIT(NL) }, { "No", LLM__CATBIT(NO) }, { "Zs", LLM__CATBIT(ZS) },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strlen(table[i].name) == n && memcmp(table[i].name, name, n) == 0) return table[i].cats;
    return 0;
}

/* Parse an escape after '\' into a class item (for \p \s \d \w and friends) or a literal.
   Returns true and fills *item for a set, false and *cp for a literal. */
static bool llm__re_escape(llm__re_parser *ps, llm__re_item *item, int32_t *cp) {
    memset(item, 0, sizeof *item);
    if (ps->p >= ps->end) { ps->err = "pattern ends with '\\'"; return false; }
    char c = *ps->p++;
    switch (c) {
    case 'p': case 'P': {
        item->neg = c == 'P';
        const char *name = ps->p;
        size_t n = 1;
        if (ps->p < ps->end && *ps->p == '{') {
            const char *close = memchr(ps->p, '}', (size_t)(ps->end - ps->p));
            if (!close) { ps->err = "unterminated \\p{...}"; return false; }
            name = ps->p + 1;
            n = (size_t)(close - name);
            ps->p = close + 1;
        } else if (ps->p < ps->end) ps->p++;
        else { ps->err = "pattern ends after \\p"; return false; }
        item->cats = llm__re_category(name, n);
        if (!item->cats) ps->err = "unknown Unicode category in \\p{...}";
        return true;
    }
    case 's': case 'S': item->space = true; item->neg = c == 'S'; return true;
    case 'd': case 'D': item->cats = LLM__CATBIT(ND); item->neg = c == 'D'; return true;
    case 'w': case 'W':
        item->cats = LLM__CATS_L | LLM__CATS_M | LLM__CATBIT(ND) | LLM__CATBIT(PC);
        item->neg = c == 'W';
        return true;
    case 'n': *cp = '\n'; return false;
    case 'r': *cp = '\r'; return false;
    case 't': *cp = '\t'; return false;
    case 'f': *cp = '\f'; return false;
    case 'v': *cp = '\v'; return false;
    default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            ps->err = "unsupported escape in pattern";
            return false;
        }
        ps->p--;
        *cp = llm__re_next_cp(ps);    /* \. \( \\ \' ... stand for themselves */
        return false;
    }
}

static int llm__re_add_class(llm__re_parser *ps, llm__re_class cls) {
    llm__regex *re = ps->re;
    llm__re_class *c = (llm__re_class *)realloc(re->classes, (size_t)(re->n_classes + 1) * sizeof *c);
    if (!c) { ps->err = "out of memory"; free(cls.items); return 0; }
    re->classes = c;
    re->classes[re->n_classes] = cls;
    return re->n_classes++;
}

static bool llm__re_class_push(llm__re_parser *ps, llm__re_class *cls, llm__re_item it) {
    llm__re_item *items = (llm__re_item *)realloc(cls->items, (size_t)(cls->n + 1) * sizeof *items);
    if (!items) { ps->err = "out of memory"; return false; }
    cls->items = items;
    cls->items[cls->n++] = it;
    return true;
}

/* [...] after the '['. */
static llm__re_node *llm__re_parse_class(llm__re_parser *ps, bool icase) {
    llm__re_class cls = { 0 };
    if (ps->p < ps->end && *ps->p == '^') { cls.neg = true; ps->p++; }
    bool first = true;
    while (!ps->err) {
        if (ps->p >= ps->end) { ps->err = "unterminated [...]"; break; }
        if (*ps->p == ']' && !first) { ps->p++; break; }
        first = false;
        llm__re_item it = { 0 };
        int32_t lo;
        if (*ps->p == '\\') {
            ps->p++;
            if (llm__re_escape(ps, &it, &lo)) { llm__re_class_push(ps, &cls, it); continue; }
        } else lo = llm__re_next_cp(ps);
        int32_t hi = lo;
        if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
            ps->p++;
            if (*ps->p == '\\') { ps->p++; if (llm__re_escape(ps, &it, &hi)) { ps->err = "class range ends in a set"; break; } }
            else hi = llm__re_next_cp(ps);
            if (hi < lo) { ps->err = "reversed range in [...]"; break; }
        }
        it.lo = lo; it.hi = hi; it.neg = false; it.cats = 0; it.space = false;
        llm__re_class_push(ps, &cls, it);
    }
    if (ps->err) { free(cls.items); return NULL; }
    llm__re_node *n = llm__re_new(ps, LLM__RN_CLASS);
    if (!n) { free(cls.items); return NULL; }
    n->icase = icase;
    n->cls = llm__re_add_class(ps, cls);
    return n;
}

static llm__re_node *llm__re_parse_alt(llm__re_parser *ps, bool icase);

/* ( ... ) in its forms: (...), (?:...), (?i:...), (?i) (rest of group), (?=...), (?!...). */
static llm__re_node *llm__re_parse_group(llm__re_parser *ps, bool *icase) {
    bool look = false, neg = false, sub_icase = *icase;
    if (ps->p < ps->end && *ps->p == '?') {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '=' || *ps->p == '!')) { look = true; neg = *ps->p == '!'; ps->p++; }
        else {
            bool on = true;
            while (ps->p < ps->end && *ps->p != ':' && *ps->p != ')') {
                char f = *ps->p++;
                if (f == '-') on = false;
                else if (f == 'i') sub_icase = on;
                else { ps->err = "unsupported group flag"; return NULL; }
            }
            if (ps->p < ps->end && *ps->p == ')') { ps->p++; *icase = sub_icase; return llm__re_new(ps, LLM__RN_EMPTY); }
            if (ps->p >= ps->end) { ps->err = "unterminated group"; return NULL; }
            ps->p++;                                        /* ':' */
        }
    }
    llm__re_node *body = llm__re_parse_alt(ps, sub_icase);
    if (!body) return NULL;
    if (ps->p >= ps->end || *ps->p != ')') { llm__re_node_free(body); ps->err = "missing ')'"; return NULL; }
    ps->p++;
    if (!look) return body;
    llm__re_node *n = llm__re_new(ps, LLM__RN_LOOK);
    if (!n || !llm__re_add_kid(ps, n, body)) { llm__re_node_free(n); if (!n) llm__re_node_free(body); return NULL; }
    n->neg = neg;
    return n;
}

static llm__re_node *llm__re_parse_atom(llm__re_parser *ps, bool *icase) {
    char c = *ps->p;
    if (c == '(') {
        if (++ps->depth > LLM__RE_MAX_DEPTH) { ps->err = "pattern nests too deeply"; return NULL; }
        ps->p++;
        llm__re_node *n = llm__re_parse_group(ps, icase);
        ps->depth--;
        return n;
    }
    if (c == '[') { ps->p++; return llm__re_parse_class(ps, *icase); }
    if (c == '.') { ps->p++; return llm__re_new(ps, LLM__RN_ANY); }
    if (c == '^') { ps->p++; return llm__re_new(ps, LLM__RN_BOL); }
    if (c == '$') { ps->p++; return llm__re_new(ps, LLM__RN_EOL); }
    if (c == '*' || c == '+' || c == '?' || c == '{') { ps->err = "quantifier without an operand"; return NULL; }
    int32_t cp;
    if (c == '\\') {
        ps->p++;
        llm__re_item it;
        if (llm__re_escape(ps, &it, &cp)) {
            if (ps->err) return NULL;
            llm__re_class cls = { 0 };
            if (!llm__re_class_push(ps, &cls, it)) return NULL;
            llm__re_node *n = llm__re_new(ps, LLM__RN_CLASS);
            if (!n) { free(cls.items); return NULL; }
            n->cls = llm__re_add_class(ps, cls);
            return n;
        }
    } else cp = llm__re_next_cp(ps);
    if (ps->err) return NULL;
    llm__re_node *n = llm__re_new(ps, LLM__RN_CHAR);
    if (n) { n->cp = cp; n->icase = *icase; }
    return n;
}

/* Parse a quantifier after an atom into min/max/greedy; false if none follows. */
static bool llm__re_quantifier(llm__re_parser *ps, int *min, int *max, bool *greedy) {
    if (ps->p >= ps->end) return false;
    char c = *ps->p;
    if (c == '*') { *min = 0; *max = -1; }
    else if (c == '+') { *min = 1; *max = -1; }
    else if (c == '?') { *min = 0; *max = 1; }
    else if (c == '{') {
        const char *q = ps->p + 1;
        int a = 0, b;
        if (q >= ps->end || *q < '0' || *q > '9') return false;    /* a literal '{' */
        while (q < ps->end && *q >= '0' && *q <= '9' && a < 10000) a = a * 10 + (*q++ - '0');
        b = a;
        if (q < ps->end && *q == ',') {
            q++;
            b = -1;
            if (q < ps->end && *q >= '0' && *q <= '9') for (b = 0; q < ps->end && *q >= '0' && *q <= '9' && b < 10000;) b = b * 10 + (*q++ - '0');
        }
        if (q >= ps->end || *q != '}' || a > 1000 || b > 1000 || (b >= 0 && b < a)) { ps->err = "bad {m,n} quantifier"; return false; }
        *min = a; *max = b;
        ps->p = q;
    } else return false;
    ps->p++;
    *greedy = true;
    if (ps->p < ps->end && (*ps->p == '?' || *ps->p == '+')) *greedy = *ps->p++ != '?';   /* possessive ~ greedy */
    return true;
}

static llm__re_node *llm__re_parse_cat(llm__re_parser *ps, bool icase) {
    llm__re_node *cat = llm__re_new(ps, LLM__RN_CAT);
    while (cat && !ps->err && ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
        llm__re_node *atom = llm__re_parse_atom(ps, &icase);
        if (!atom) break;
        int min, max;
        bool greedy;
        while (!ps->err && llm__re_quantifier(ps, &min, &max, &greedy)) {
            llm__re_node *rep = llm__re_new(ps, LLM__RN_REP);
            if (!rep || !llm__re_add_kid(ps, rep, atom)) { if (!rep) llm__re_node_free(atom); llm__re_node_free(rep); atom = NULL; break; }
            rep->min = min; rep->max = max; rep->greedy = greedy;
            atom = rep;
        }
        if (!atom || ps->err) { llm__re_node_free(atom); break; }
        if (!llm__re_add_kid(ps, cat, atom)) break;
    }
    if (ps->err) { llm__re_node_free(cat); return NULL; }
    return cat;
}

static llm__re_node *llm__re_parse_alt(llm__re_parser *ps, bool icase) {
    llm__re_node *alt = llm__re_new(ps, LLM__RN_ALT);
    while (alt) {
        llm__re_node *cat = llm__re_parse_cat(ps, icase);
        if (!cat || !llm__re_add_kid(ps, alt, cat)) { llm__re_node_free(alt); return NULL; }
        if (ps->p < ps->end && *ps->p == '|') { ps->p++; continue; }
        break;
    }
    return alt;
}

/* ---- compiling the tree to instructions ---- */

static bool llm__re_nullable(const llm__re_node *n) {
    switch (n->type) {
    case LLM__RN_CHAR: case LLM__RN_CLASS: case LLM__RN_ANY: return false;
    case LLM__RN_CAT: for (int i = 0; i < n->n_kids; i++) if (!llm__re_nullable(n->kids[i])) return false; return true;
    case LLM__RN_ALT: for (int i = 0; i < n->n_kids; i++) if (llm__re_nullable(n->kids[i])) return true; return false;
    case LLM__RN_REP: return n->min == 0 || llm__re_nullable(n->kids[0]);
    default: return true;
    }
}

static int llm__re_emit(llm__regex *re, int op, int flag, int32_t x, int32_t y) {
    if (re->n_code >= LLM__RE_MAX_CODE) return -1;
    if (re->n_code == re->cap_code) {
        int cap = re->cap_code ? 2 * re->cap_code : 64;
        llm__re_inst *c = (llm__re_inst *)realloc(re->code, (size_t)cap * sizeof *c);
        if (!c) return -1;
        re->code = c;
        re->cap_code = cap;
    }
    re->code[re->n_code] = (llm__re_inst){ (uint8_t)op, (uint8_t)flag, x, y };
    return re->n_code++;
}

/* Emit code for n; false when the program would be too large (or no memory). */
static bool llm__re_gen(llm__regex *re, const llm__re_node *n) {
    int at;
    switch (n->type) {
    case LLM__RN_CHAR: return llm__re_emit(re, LLM__RE_CHAR, n->icase, n->cp, utf8proc_tolower(n->cp)) >= 0;
    case LLM__RN_CLASS: return llm__re_emit(re, LLM__RE_CLASS, n->icase, n->cls, 0) >= 0;
    case LLM__RN_ANY: return llm__re_emit(re, LLM__RE_ANY, 0, 0, 0) >= 0;
    case LLM__RN_BOL: return llm__re_emit(re, LLM__RE_BOL, 0, 0, 0) >= 0;
    case LLM__RN_EOL: return llm__re_emit(re, LLM__RE_EOL, 0, 0, 0) >= 0;
    case LLM__RN_EMPTY: return true;
    case LLM__RN_CAT:
        for (int i = 0; i < n->n_kids; i++) if (!llm__re_gen(re, n->kids[i])) return false;
        return true;
    case LLM__RN_ALT: {
        /* SPLIT k1, next; k1; JMP end; next: SPLIT k2, next2; ... ; last kid */
        int jumps[256], n_jumps = 0;
        if (n->n_kids > 256) return false;
        for (int i = 0; i < n->n_kids; i++) {
            int split = -1;
            if (i + 1 < n->n_kids && (split = llm__re_emit(re, LLM__RE_SPLIT, 0, re->n_code + 1, 0)) < 0) return false;
            if (!llm__re_gen(re, n->kids[i])) return false;
            if (i + 1 < n->n_kids) {
                if ((jumps[n_jumps++] = llm__re_emit(re, LLM__RE_JMP, 0, 0, 0)) < 0) return false;
                re->code[split].y = re->n_code;
            }
        }
        for (int i = 0; i < n_jumps; i++) re->code[jumps[i]].x = re->n_code;
        return true;
    }
    case LLM__RN_REP: {
        const llm__re_node *kid = n->kids[0];
        int max = n->max < 0 && llm__re_nullable(kid) ? n->min + 1 : n->max;   /* (x*)* would loop forever */
        for (int i = 0; i < n->min; i++) if (!llm__re_gen(re, kid)) return false;
        if (max < 0) {                                  /* L: SPLIT body, out; body; JMP L; out: */
            int loop = llm__re_emit(re, LLM__RE_SPLIT, 0, 0, 0);
            if (loop < 0 || !llm__re_gen(re, kid) || llm__re_emit(re, LLM__RE_JMP, 0, loop, 0) < 0) return false;
            re->code[loop].x = n->greedy ? loop + 1 : re->n_code;
            re->code[loop].y = n->greedy ? re->n_code : loop + 1;
            return true;
        }
        int splits[1001], n_splits = 0;                 /* (x(x)?)? : every optional copy exits to the end */
        for (int i = n->min; i < max; i++) {
            if ((splits[n_splits++] = llm__re_emit(re, LLM__RE_SPLIT, 0, 0, 0)) < 0 || !llm__re_gen(re, kid)) return false;
        }
        for (int i = 0; i < n_splits; i++) {
            int s = splits[i];
            re->code[s].x = n->greedy ? s + 1 : re->n_code;
            re->code[s].y = n->greedy ? re->n_code : s + 1;
        }
        return true;
    }
    case LLM__RN_LOOK:
        at = llm__re_emit(re, LLM__RE_LOOK, n->neg, 0, 0);
        if (at < 0 || !llm__re_gen(re, n->kids[0]) || llm__re_emit(re, LLM__RE_MATCH, 0, 0, 0) < 0) return false;
        re->code[at].y = re->n_code;
        return true;
    }
    return false;
}

LLM_PRIVATE void llm__regex_free(llm__regex *re) {
    if (!re) return;
    for (int i = 0; i < re->n_classes; i++) free(re->classes[i].items);
    free(re->classes);
    free(re->code);
    free(re);
}

static bool llm__re_class_match(const llm__re_class *c, int32_t cp);
static bool llm__re_class_match_icase(const llm__re_class *c, int32_t cp);

/* Compile `pattern` (UTF-8). `what` names the source in errors. Free with llm__regex_free. */
LLM_PRIVATE llm_status llm__regex_compile(const char *pattern, const char *what, llm__regex **out) {
    llm__regex *re = (llm__regex *)calloc(1, sizeof *re);
    if (!re) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory compiling a regex", what);
    llm__re_parser ps = { pattern, pattern + strlen(pattern), re, NULL, 0 };
    llm__re_node *root = llm__re_parse_alt(&ps, false);
    if (root && ps.p != ps.end) ps.err = "unbalanced ')'";
    if (!ps.err && !(llm__re_gen(re, root) && llm__re_emit(re, LLM__RE_MATCH, 0, 0, 0) >= 0)) ps.err = "pattern too large";
    llm__re_node_free(root);
    for (int i = 0; i < re->n_classes; i++)
        for (int32_t cp = 0; cp < 128; cp++) {
            llm__re_class *c = &re->classes[i];
            if (llm__re_class_match(c, cp)) c->ascii[0][cp >> 6] |= 1ull << (cp & 63);
            if (llm__re_class_match_icase(c, cp)) c->ascii[1][cp >> 6] |= 1ull << (cp & 63);
        }
    if (ps.err) {
        llm__regex_free(re);
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: regex /%.200s/: %s", what, pattern, ps.err);
    }
    *out = re;
    return LLM_OK;
}

/* ---- matching ---- */

static bool llm__re_class_match(const llm__re_class *c, int32_t cp) {
    uint32_t bit = 0;
    for (int i = 0; i < c->n; i++) {
        const llm__re_item *it = &c->items[i];
        bool m;
        if (it->cats || it->space) {
            if (it->cats && !bit) bit = llm__catbit(cp);
            m = ((it->cats & bit) != 0 || (it->space && llm__is_space_cp(cp))) != it->neg;
        } else m = cp >= it->lo && cp <= it->hi;
        if (m) return !c->neg;
    }
    return c->neg;
}

static bool llm__re_class_match_icase(const llm__re_class *c, int32_t cp) {
    return llm__re_class_match(c, cp) || llm__re_class_match(c, utf8proc_tolower(cp)) ||
           llm__re_class_match(c, utf8proc_toupper(cp));
}

static inline int32_t llm__re_lower(int32_t cp) {
    return cp < 128 ? (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp) : utf8proc_tolower(cp);
}

static inline bool llm__re_match_cp(const llm__regex *re, const llm__re_inst *in, int32_t cp) {
    if (in->op == LLM__RE_CHAR) return cp == in->x || (in->flag && llm__re_lower(cp) == in->y);
    const llm__re_class *c = &re->classes[in->x];
    if (cp < 128) return (c->ascii[in->flag][cp >> 6] >> (cp & 63)) & 1;
    return in->flag ? llm__re_class_match_icase(c, cp) : llm__re_class_match(c, cp);
}

typedef struct llm__re_thread { int32_t pc; uint32_t pos; } llm__re_thread;

/* Run the program from pc at pos; true with *end on a match. The backtrack stack starts on
   the C stack and moves to the heap for long inputs (e.g. \s+ over a long run of blanks). */
static bool llm__re_run(const llm__regex *re, int pc, const uint8_t *s, size_t n, size_t pos, size_t *end, long *budget) {
    llm__re_thread local[64], *stack = local;
    size_t sp = 0, cap = 64;
    bool found = false;
    stack[sp++] = (llm__re_thread){ pc, (uint32_t)pos };
    while (sp && !found) {
        llm__re_thread t = stack[--sp];
        pc = t.pc;
        pos = t.pos;
        for (;;) {
            if (--*budget < 0) { sp = 0; break; }
            const llm__re_inst *in = &re->code[pc];
            if (in->op == LLM__RE_CHAR || in->op == LLM__RE_CLASS || in->op == LLM__RE_ANY) {
                if (pos >= n) break;
                int len;
                int32_t cp = llm__utf8_cp(s + pos, &len);
                if (pos + (size_t)len > n) break;
                if (in->op == LLM__RE_ANY ? cp == '\n' : !llm__re_match_cp(re, in, cp)) break;
                pos += (size_t)len;
                pc++;
            } else if (in->op == LLM__RE_SPLIT) {
                if (sp == cap) {
                    llm__re_thread *big = (llm__re_thread *)malloc(2 * cap * sizeof *big);
                    if (!big) { sp = 0; break; }
                    memcpy(big, stack, sp * sizeof *big);
                    if (stack != local) free(stack);
                    stack = big;
                    cap *= 2;
                }
                stack[sp++] = (llm__re_thread){ in->y, (uint32_t)pos };
                pc = in->x;
            } else if (in->op == LLM__RE_JMP) pc = in->x;
            else if (in->op == LLM__RE_LOOK) {
                size_t ignored;
                if (llm__re_run(re, pc + 1, s, n, pos, &ignored, budget) == (bool)in->flag) break;
                pc = in->y;
            } else if (in->op == LLM__RE_BOL) { if (pos != 0) break; pc++; }
            else if (in->op == LLM__RE_EOL) { if (pos != n) break; pc++; }
            else { *end = pos; found = true; break; }       /* MATCH */
        }
    }
    if (stack != local) free(stack);
    return found;
}

/* The leftmost match in s[from..n) (s is valid UTF-8): true with [*ms, *me). Empty matches
   count (callers skip them). A search that exceeds the step budget counts as no match. */
LLM_PRIVATE bool llm__regex_find(const llm__regex *re, const char *s, size_t n, size_t from, size_t *ms, size_t *me) {
    const uint8_t *u = (const uint8_t *)s;
    /* one budget for the whole search, linear in the text: hostile patterns stay bounded */
    long budget = LLM__RE_STEP_BUDGET + 64 * (long)(n - from);
    for (size_t at = from; at <= n && budget > 0; at += at < n ? (size_t)llm__utf8_len(u[at]) : 1)
        if (llm__re_run(re, 0, u, n, at, me, &budget)) { *ms = at; return true; }
    return false;
}
