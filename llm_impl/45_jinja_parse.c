/* ---- >>jinja_parse: lexer and parser of the Jinja subset ----
   Source -> tokens -> AST, with transformers' environment: trim_blocks (drop the newline
   after a block or comment tag), lstrip_blocks (drop the indentation before one), `{%-`
   / `-%}` whitespace control, newlines normalized to \n and one trailing newline dropped
   (keep_trailing_newline=False). The grammar follows jinja2/parser.py: a precedence
   ladder  ternary < or < and < not < compare < + - < ~ < * / // % < ** < unary,
   and postfix `.attr`, `[item]`, `[a:b:c]`, `(call)`, `|filter`, `is test` on primaries. */
#include "10_internal.h"


typedef enum { LLM__TK_TEXT, LLM__TK_VAR_BEGIN, LLM__TK_VAR_END, LLM__TK_BLOCK_BEGIN, LLM__TK_BLOCK_END,
               LLM__TK_NAME, LLM__TK_STRING, LLM__TK_INT, LLM__TK_FLOAT, LLM__TK_OP, LLM__TK_EOF } llm__jtok_type;

typedef struct llm__jtok {
    uint8_t t;
    int line;
    const char *p; size_t n;   /* the token's text (NAME, OP) */
    llm__jv v;                 /* TEXT, STRING, INT, FLOAT */
} llm__jtok;

typedef enum {
    /* expressions */
    LLM__J_LIT, LLM__J_NAME, LLM__J_ATTR, LLM__J_ITEM, LLM__J_SLICE, LLM__J_CALL, LLM__J_FILTER, LLM__J_TEST,
    LLM__J_NEG, LLM__J_POS, LLM__J_NOT, LLM__J_BIN, LLM__J_AND, LLM__J_OR, LLM__J_COND,
    LLM__J_LIST, LLM__J_TUPLE, LLM__J_DICT, LLM__J_KWARG,
    /* statements */
    LLM__S_BODY, LLM__S_TEXT, LLM__S_OUT, LLM__S_IF, LLM__S_FOR, LLM__S_SET, LLM__S_SETBLOCK,
    LLM__S_MACRO, LLM__S_CALLBLOCK, LLM__S_FILTERBLOCK, LLM__S_BREAK, LLM__S_CONTINUE
} llm__jkind;

/* One AST node. Fields by kind:
     LIT lit | NAME name | ATTR a.name | ITEM a[b] | SLICE a[kids 0..2], each may be NULL
     CALL a(kids; KWARG name=a) | FILTER a|name(kids), a NULL in a filter block
     TEST a is [not: neg] name(kids) | NEG/POS/NOT a | BIN a name b (name = "+", "in", "==", ...)
     AND/OR a b | COND b if a else c | LIST/TUPLE kids | DICT kids = k0, v0, k1, v1, ...
     BODY kids | TEXT lit | OUT a | IF a body else_body | FOR a in b if c body else_body
     SET a = b | SETBLOCK a = body | MACRO name(kids: NAME with default a) body
     CALLBLOCK a (a CALL) with caller(kids) = body | FILTERBLOCK a (FILTER chain) body */
typedef struct llm__jnode {
    uint8_t kind;
    bool neg;
    int line;
    const char *name;
    llm__jv lit;
    struct llm__jnode *a, *b, *c, *body, *else_body;
    struct llm__jnode **kids;
    int n_kids;
} llm__jnode;

typedef struct llm__jmacro { const llm__jnode *node; llm__jframe *frame; const struct llm__jmacro *caller; } llm__jmacro;

/* ---- lexer ---- */

typedef struct llm__jlex {
    llm__jctx *c;
    const char *src; size_t n, pos;
    int line;
    llm__jtok *toks; size_t n_toks, cap;
} llm__jlex;

LLM_PRIVATE void llm__jlex_push(llm__jlex *L, llm__jtok t) {
    if (L->n_toks == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        llm__jtok *nt = (llm__jtok *)llm__jalloc(L->c, cap * sizeof(llm__jtok));
        if (L->n_toks) memcpy(nt, L->toks, L->n_toks * sizeof(llm__jtok));
        L->toks = nt; L->cap = cap;
    }
    L->toks[L->n_toks++] = t;
}

LLM_PRIVATE bool llm__jspace(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'; }
LLM_PRIVATE bool llm__jalpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
LLM_PRIVATE bool llm__jdigit(char ch) { return ch >= '0' && ch <= '9'; }

LLM_PRIVATE int llm__jlines(const char *p, size_t n) { int k = 0; for (size_t i = 0; i < n; i++) k += p[i] == '\n'; return k; }

/* A string literal with Python's escapes (\n, \t, \xNN, \uNNNN, \ooo, backslash-newline;
   unknown ones are kept with their backslash). */
LLM_PRIVATE void llm__jlex_string(llm__jlex *L) {
    llm__jctx *c = L->c;
    char q = L->src[L->pos++];
    llm__jbuf b = { 0 };
    int line = L->line;
    for (;;) {
        if (L->pos >= L->n) { c->line = line; llm__jfail(c, "unterminated string"); }
        char ch = L->src[L->pos++];
        if (ch == q) break;
        if (ch == '\n') L->line++;
        if (ch != '\\' || L->pos >= L->n) { llm__jbuf_put(c, &b, &ch, 1); continue; }
        char e = L->src[L->pos++];
        const char *simple = strchr("nrtabfv\\'\"", e);
        if (e && simple) { llm__jbuf_put(c, &b, &"\n\r\t\a\b\f\v\\'\""[simple - "nrtabfv\\'\""], 1); continue; }
        if (e == '\n') { L->line++; continue; }          /* backslash-newline continues the line */
        if (e >= '0' && e <= '7') {                      /* octal \ooo */
            uint32_t cp = (uint32_t)(e - '0');
            for (int k = 0; k < 2 && L->pos < L->n && L->src[L->pos] >= '0' && L->src[L->pos] <= '7'; k++) cp = cp * 8 + (uint32_t)(L->src[L->pos++] - '0');
            llm__jutf8_put(c, &b, cp);
            continue;
        }
        int hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        uint32_t cp = 0;
        for (int k = 0; k < hex; k++) {
            char h = L->pos < L->n ? L->src[L->pos++] : 0;
            int d = llm__jdigit(h) ? h - '0' : (h | 32) >= 'a' && (h | 32) <= 'f' ? (h | 32) - 'a' + 10 : -1;
            if (d < 0) llm__jfail(c, "bad \\%c escape in string", e);
            cp = cp * 16 + (uint32_t)d;
        }
        if (hex) { llm__jutf8_put(c, &b, cp > 0x10ffff ? 0xfffd : cp); continue; }
        llm__jbuf_put(c, &b, "\\", 1);
        llm__jbuf_put(c, &b, &e, 1);
    }
    llm__jlex_push(L, (llm__jtok){ .t = LLM__TK_STRING, .line = line, .v = llm__jbuf_val(&b) });
}

LLM_PRIVATE void llm__jlex_number(llm__jlex *L) {
    size_t s = L->pos;
    bool is_float = false;
    while (L->pos < L->n && (llm__jdigit(L->src[L->pos]) || L->src[L->pos] == '_')) L->pos++;
    if (L->pos + 1 < L->n && L->src[L->pos] == '.' && llm__jdigit(L->src[L->pos + 1])) {
        is_float = true;
        for (L->pos++; L->pos < L->n && (llm__jdigit(L->src[L->pos]) || L->src[L->pos] == '_');) L->pos++;
    }
    if (L->pos < L->n && (L->src[L->pos] | 32) == 'e') {
        size_t e = L->pos + 1;
        if (e < L->n && (L->src[e] == '+' || L->src[e] == '-')) e++;
        if (e < L->n && llm__jdigit(L->src[e])) {
            is_float = true;
            for (L->pos = e; L->pos < L->n && llm__jdigit(L->src[L->pos]);) L->pos++;
        }
    }
    char num[64];
    size_t k = 0;
    for (size_t i = s; i < L->pos && k < sizeof num - 1; i++) if (L->src[i] != '_') num[k++] = L->src[i];
    num[k] = 0;
    errno = 0;
    llm__jtok t = { .t = is_float ? LLM__TK_FLOAT : LLM__TK_INT, .line = L->line };
    if (is_float) t.v = llm__jfloat(strtod(num, NULL));
    else {
        t.v = llm__jint(strtoll(num, NULL, 10));
        if (errno) llm__jfail(L->c, "integer literal %s too large", num);
    }
    llm__jlex_push(L, t);
}

/* The tokens of one {{ }} or {% %} up to its closing delimiter. Returns true when the
   closing delimiter asks to strip the whitespace after it (`-}}`, `-%}`), and sets
   *plus for `+%}`. */
LLM_PRIVATE bool llm__jlex_tag(llm__jlex *L, bool block, bool *plus) {
    static const char *const ops[] = { "**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~",
                                       "<", ">", "=", ".", ",", ":", "|", "(", ")", "[", "]", "{", "}" };
    const char *end = block ? "%}" : "}}";
    int balance = 0;
    *plus = false;
    for (;;) {
        while (L->pos < L->n && llm__jspace(L->src[L->pos])) L->line += L->src[L->pos++] == '\n';
        if (L->pos >= L->n) llm__jfail(L->c, "unterminated %s tag", block ? "{% %}" : "{{ }}");
        const char *s = L->src + L->pos;
        size_t left = L->n - L->pos;
        if (balance == 0) {
            bool minus = left >= 3 && s[0] == '-' && memcmp(s + 1, end, 2) == 0;
            *plus = block && left >= 3 && s[0] == '+' && memcmp(s + 1, end, 2) == 0;
            if (minus || *plus || (left >= 2 && memcmp(s, end, 2) == 0)) {
                L->pos += (minus || *plus) ? 3 : 2;
                llm__jlex_push(L, (llm__jtok){ .t = block ? LLM__TK_BLOCK_END : LLM__TK_VAR_END, .line = L->line });
                return minus;
            }
        }
        if (s[0] == '\'' || s[0] == '"') { llm__jlex_string(L); continue; }
        if (llm__jdigit(s[0])) { llm__jlex_number(L); continue; }
        if (llm__jalpha(s[0])) {
            size_t k = 1;
            while (k < left && (llm__jalpha(s[k]) || llm__jdigit(s[k]))) k++;
            llm__jlex_push(L, (llm__jtok){ .t = LLM__TK_NAME, .line = L->line, .p = s, .n = k });
            L->pos += k;
            continue;
        }
        size_t k = 0;
        for (size_t i = 0; i < sizeof ops / sizeof ops[0] && !k; i++)
            if (strlen(ops[i]) <= left && memcmp(s, ops[i], strlen(ops[i])) == 0) k = strlen(ops[i]);
        if (!k) llm__jfail(L->c, "unexpected character '%c'", s[0]);
        if (k == 1 && strchr("([{", s[0])) balance++;
        if (k == 1 && strchr(")]}", s[0]) && --balance < 0) llm__jfail(L->c, "unbalanced '%c'", s[0]);
        llm__jlex_push(L, (llm__jtok){ .t = LLM__TK_OP, .line = L->line, .p = s, .n = k });
        L->pos += k;
    }
}

/* Text up to the next tag, with the whitespace rules applied to both of its ends. */
LLM_PRIVATE void llm__jlex_text(llm__jlex *L, size_t tag, bool lstrip_ws, bool trim_nl, bool line_start) {
    const char *s = L->src + L->pos;
    size_t n = tag - L->pos;
    int line = L->line;
    L->line += llm__jlines(s, n);
    if (trim_nl && n && s[0] == '\n') { s++; n--; line++; }
    if (lstrip_ws) while (n && llm__jspace(*s)) { line += *s == '\n'; s++; n--; }
    if (tag < L->n) {
        char kind = L->src[tag + 1], mod = tag + 2 < L->n ? L->src[tag + 2] : 0;
        if (mod == '-') while (n && llm__jspace(s[n - 1])) n--;
        else if (mod != '+' && kind != '{') {          /* lstrip_blocks: not for {{ */
            size_t ls = n;
            while (ls && s[ls - 1] != '\n') ls--;
            bool blank = true;
            for (size_t i = ls; i < n && blank; i++) blank = llm__jspace(s[i]);
            if ((ls > 0 || line_start) && blank) n = ls;
        }
    }
    if (n) llm__jlex_push(L, (llm__jtok){ .t = LLM__TK_TEXT, .line = line, .v = llm__jstr(s, n) });
}

LLM_PRIVATE void llm__jlex_all(llm__jlex *L) {
    bool lstrip_ws = false, trim_nl = false, line_start = true;
    for (;;) {
        size_t tag = L->pos;
        while (tag + 1 < L->n && !(L->src[tag] == '{' && strchr("{%#", L->src[tag + 1]))) tag++;
        if (tag + 1 >= L->n) tag = L->n;
        llm__jlex_text(L, tag, lstrip_ws, trim_nl, line_start);
        L->pos = tag;
        if (tag >= L->n) break;
        char kind = L->src[tag + 1];
        L->pos += 2;
        if (L->pos < L->n && (L->src[L->pos] == '-' || L->src[L->pos] == '+')) L->pos++;
        L->c->line = L->line;
        bool plus = false;
        if (kind == '#') {
            const char *e = NULL;
            for (size_t i = L->pos; i + 1 < L->n && !e; i++) if (L->src[i] == '#' && L->src[i + 1] == '}') e = L->src + i;
            if (!e) llm__jfail(L->c, "unterminated comment");
            lstrip_ws = e > L->src + L->pos && e[-1] == '-';
            plus = e > L->src + L->pos && e[-1] == '+';
            L->line += llm__jlines(L->src + L->pos, (size_t)(e - L->src) - L->pos);
            L->pos = (size_t)(e - L->src) + 2;
        } else {
            llm__jlex_push(L, (llm__jtok){ .t = kind == '%' ? LLM__TK_BLOCK_BEGIN : LLM__TK_VAR_BEGIN, .line = L->line });
            lstrip_ws = llm__jlex_tag(L, kind == '%', &plus);
        }
        trim_nl = kind != '{' && !lstrip_ws && !plus;    /* trim_blocks */
        /* lstrip_blocks applies at a line start: after a tag whose match ended in a newline */
        size_t after = L->pos;
        if (lstrip_ws) while (after < L->n && llm__jspace(L->src[after])) after++;
        else if (trim_nl && after < L->n && L->src[after] == '\n') after++;
        line_start = after > L->pos && L->src[after - 1] == '\n';
    }
    llm__jlex_push(L, (llm__jtok){ .t = LLM__TK_EOF, .line = L->line });
}

/* ---- parser ---- */

typedef struct llm__jparser { llm__jctx *c; const llm__jtok *t; size_t i; } llm__jparser;

LLM_PRIVATE const llm__jtok *llm__jp_peek(llm__jparser *p) { return &p->t[p->i]; }

LLM_PRIVATE const llm__jtok *llm__jp_next(llm__jparser *p) {
    const llm__jtok *t = &p->t[p->i];
    if (t->t != LLM__TK_EOF) p->i++;
    p->c->line = t->line;
    return t;
}

/* Is the next token this operator or name? */
LLM_PRIVATE bool llm__jp_is(llm__jparser *p, const char *s) {
    const llm__jtok *t = llm__jp_peek(p);
    return (t->t == LLM__TK_OP || t->t == LLM__TK_NAME) && t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

LLM_PRIVATE bool llm__jp_accept(llm__jparser *p, const char *s) {
    if (!llm__jp_is(p, s)) return false;
    llm__jp_next(p);
    return true;
}

LLM_PRIVATE const char *llm__jtok_desc(llm__jparser *p, const llm__jtok *t) {
    switch (t->t) {
    case LLM__TK_EOF: return "end of template";
    case LLM__TK_VAR_END: case LLM__TK_BLOCK_END: return "end of tag";
    case LLM__TK_STRING: return "a string";
    case LLM__TK_INT: case LLM__TK_FLOAT: return "a number";
    case LLM__TK_TEXT: case LLM__TK_VAR_BEGIN: case LLM__TK_BLOCK_BEGIN: return "template text";
    default: { llm__jv s = llm__jstr_copy(p->c, t->p, t->n); return s.s.p; }
    }
}

LLM_PRIVATE void llm__jp_expect(llm__jparser *p, const char *s) {
    if (!llm__jp_accept(p, s)) {
        p->c->line = llm__jp_peek(p)->line;
        llm__jfail(p->c, "expected '%s', found %s", s, llm__jtok_desc(p, llm__jp_peek(p)));
    }
}

LLM_PRIVATE void llm__jp_expect_type(llm__jparser *p, llm__jtok_type type, const char *what) {
    if (llm__jp_peek(p)->t != type) {
        p->c->line = llm__jp_peek(p)->line;
        llm__jfail(p->c, "expected %s, found %s", what, llm__jtok_desc(p, llm__jp_peek(p)));
    }
    llm__jp_next(p);
}

LLM_PRIVATE const char *llm__jp_name(llm__jparser *p) {
    const llm__jtok *t = llm__jp_peek(p);
    if (t->t != LLM__TK_NAME) { p->c->line = t->line; llm__jfail(p->c, "expected a name, found %s", llm__jtok_desc(p, t)); }
    llm__jp_next(p);
    return llm__jstr_copy(p->c, t->p, t->n).s.p;
}

LLM_PRIVATE llm__jnode *llm__jnode_new(llm__jparser *p, llm__jkind kind, int line) {
    llm__jnode *n = (llm__jnode *)llm__jalloc(p->c, sizeof(llm__jnode));
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->line = line;
    return n;
}

LLM_PRIVATE void llm__jnode_add(llm__jparser *p, llm__jnode *n, llm__jnode *kid) {
    if ((n->n_kids & (n->n_kids - 1)) == 0) {          /* grow at powers of two */
        llm__jnode **k = (llm__jnode **)llm__jalloc(p->c, (size_t)(n->n_kids ? n->n_kids * 2 : 1) * sizeof(llm__jnode *));
        if (n->n_kids) memcpy(k, n->kids, (size_t)n->n_kids * sizeof(llm__jnode *));
        n->kids = k;
    }
    n->kids[n->n_kids++] = kid;
}

LLM_PRIVATE llm__jnode *llm__jnode2(llm__jparser *p, llm__jkind kind, int line, const char *name, llm__jnode *a, llm__jnode *b) {
    llm__jnode *n = llm__jnode_new(p, kind, line);
    n->name = name; n->a = a; n->b = b;
    return n;
}

LLM_PRIVATE void llm__jp_enter(llm__jparser *p) {
    if (++p->c->depth > LLM__JMAX_DEPTH) llm__jfail(p->c, "template nested too deeply");
}

LLM_PRIVATE llm__jnode *llm__jp_expr(llm__jparser *p);
LLM_PRIVATE llm__jnode *llm__jp_unary(llm__jparser *p, bool with_filter);
LLM_PRIVATE llm__jnode *llm__jp_or(llm__jparser *p);

/* Call arguments after '(': positional expressions and name=value keywords. */
LLM_PRIVATE void llm__jp_args(llm__jparser *p, llm__jnode *call) {
    while (!llm__jp_accept(p, ")")) {
        if (call->n_kids) llm__jp_expect(p, ",");
        if (llm__jp_accept(p, ")")) break;                 /* trailing comma */
        const llm__jtok *t = llm__jp_peek(p);
        if (t->t == LLM__TK_NAME && p->t[p->i + 1].t == LLM__TK_OP && p->t[p->i + 1].n == 1 && p->t[p->i + 1].p[0] == '=') {
            const char *name = llm__jp_name(p);
            llm__jp_next(p);
            llm__jnode_add(p, call, llm__jnode2(p, LLM__J_KWARG, t->line, name, llm__jp_expr(p), NULL));
        } else llm__jnode_add(p, call, llm__jp_expr(p));
    }
}

/* [a:b:c] after '[' (already consumed), or a plain subscript. */
LLM_PRIVATE llm__jnode *llm__jp_subscript(llm__jparser *p, llm__jnode *obj, int line) {
    llm__jnode *part[3] = { NULL, NULL, NULL };
    int k = 0;
    bool slice = false;
    for (;;) {
        if (!llm__jp_is(p, ":") && !llm__jp_is(p, "]")) part[k] = llm__jp_expr(p);
        if (k < 2 && llm__jp_accept(p, ":")) { slice = true; k++; continue; }
        break;
    }
    llm__jp_expect(p, "]");
    if (!slice) return llm__jnode2(p, LLM__J_ITEM, line, NULL, obj, part[0]);
    llm__jnode *n = llm__jnode2(p, LLM__J_SLICE, line, NULL, obj, NULL);
    for (int i = 0; i < 3; i++) llm__jnode_add(p, n, part[i]);
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_postfix(llm__jparser *p, llm__jnode *n) {
    for (;;) {
        int line = llm__jp_peek(p)->line;
        if (llm__jp_accept(p, ".")) {
            const llm__jtok *t = llm__jp_peek(p);
            if (t->t == LLM__TK_INT) { llm__jp_next(p); n = llm__jnode2(p, LLM__J_ITEM, line, NULL, n, llm__jnode_new(p, LLM__J_LIT, line)); n->b->lit = t->v; }
            else n = llm__jnode2(p, LLM__J_ATTR, line, llm__jp_name(p), n, NULL);
        } else if (llm__jp_accept(p, "[")) n = llm__jp_subscript(p, n, line);
        else if (llm__jp_accept(p, "(")) { n = llm__jnode2(p, LLM__J_CALL, line, NULL, n, NULL); llm__jp_args(p, n); }
        else return n;
    }
}

/* `| name(args)` filters and `is [not] name args` tests after a unary expression. */
LLM_PRIVATE llm__jnode *llm__jp_filters(llm__jparser *p, llm__jnode *n) {
    for (;;) {
        int line = llm__jp_peek(p)->line;
        if (llm__jp_accept(p, "|")) {
            n = llm__jnode2(p, LLM__J_FILTER, line, llm__jp_name(p), n, NULL);
            if (llm__jp_accept(p, "(")) llm__jp_args(p, n);
        } else if (llm__jp_accept(p, "is")) {
            bool neg = llm__jp_accept(p, "not");
            n = llm__jnode2(p, LLM__J_TEST, line, llm__jp_name(p), n, NULL);
            n->neg = neg;
            const llm__jtok *t = llm__jp_peek(p);
            if (llm__jp_accept(p, "(")) llm__jp_args(p, n);
            else if ((t->t == LLM__TK_NAME && !llm__jp_is(p, "else") && !llm__jp_is(p, "or") && !llm__jp_is(p, "and") &&
                      !llm__jp_is(p, "if") && !llm__jp_is(p, "is") && !llm__jp_is(p, "in") && !llm__jp_is(p, "not")) ||
                     t->t == LLM__TK_STRING || t->t == LLM__TK_INT || t->t == LLM__TK_FLOAT || llm__jp_is(p, "[") || llm__jp_is(p, "{"))
                llm__jnode_add(p, n, llm__jp_unary(p, false));   /* `is divisibleby 3`, `is sameas none` */
        } else return n;
    }
}

LLM_PRIVATE llm__jnode *llm__jp_literal_seq(llm__jparser *p, llm__jkind kind, const char *close, int line) {
    llm__jnode *n = llm__jnode_new(p, kind, line);
    while (!llm__jp_accept(p, close)) {
        if (n->n_kids) llm__jp_expect(p, ",");
        if (llm__jp_accept(p, close)) break;
        llm__jnode_add(p, n, llm__jp_expr(p));
        if (kind == LLM__J_DICT) { llm__jp_expect(p, ":"); llm__jnode_add(p, n, llm__jp_expr(p)); }
    }
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_primary(llm__jparser *p) {
    const llm__jtok *t = llm__jp_next(p);
    int line = t->line;
    llm__jnode *n;
    if (t->t == LLM__TK_STRING || t->t == LLM__TK_INT || t->t == LLM__TK_FLOAT) {
        n = llm__jnode_new(p, LLM__J_LIT, line);
        n->lit = t->v;
        if (t->t == LLM__TK_STRING && llm__jp_peek(p)->t == LLM__TK_STRING) {   /* "a" "b" concatenates */
            llm__jbuf b = { 0 };
            llm__jbuf_put(p->c, &b, t->v.s.p, t->v.s.n);
            while (llm__jp_peek(p)->t == LLM__TK_STRING) { t = llm__jp_next(p); llm__jbuf_put(p->c, &b, t->v.s.p, t->v.s.n); }
            n->lit = llm__jbuf_val(&b);
        }
        return n;
    }
    if (t->t == LLM__TK_NAME) {
        static const char *const consts[] = { "true", "True", "false", "False", "none", "None" };
        for (int k = 0; k < 6; k++)
            if (t->n == strlen(consts[k]) && memcmp(t->p, consts[k], t->n) == 0) {
                n = llm__jnode_new(p, LLM__J_LIT, line);
                n->lit = k < 4 ? llm__jbool(k < 2) : llm__jnone();
                return n;
            }
        return llm__jnode2(p, LLM__J_NAME, line, llm__jstr_copy(p->c, t->p, t->n).s.p, NULL, NULL);
    }
    if (t->t == LLM__TK_OP && t->p[0] == '(' ) {
        if (llm__jp_accept(p, ")")) return llm__jnode_new(p, LLM__J_TUPLE, line);
        n = llm__jp_expr(p);
        if (!llm__jp_is(p, ",")) { llm__jp_expect(p, ")"); return n; }
        llm__jnode *tup = llm__jnode_new(p, LLM__J_TUPLE, line);
        llm__jnode_add(p, tup, n);
        while (llm__jp_accept(p, ",") && !llm__jp_is(p, ")")) llm__jnode_add(p, tup, llm__jp_expr(p));
        llm__jp_expect(p, ")");
        return tup;
    }
    if (t->t == LLM__TK_OP && t->p[0] == '[') return llm__jp_literal_seq(p, LLM__J_LIST, "]", line);
    if (t->t == LLM__TK_OP && t->p[0] == '{') return llm__jp_literal_seq(p, LLM__J_DICT, "}", line);
    p->c->line = line;
    llm__jfail(p->c, "unexpected %s", llm__jtok_desc(p, t));
}

LLM_PRIVATE llm__jnode *llm__jp_unary(llm__jparser *p, bool with_filter) {
    llm__jp_enter(p);
    int line = llm__jp_peek(p)->line;
    llm__jnode *n;
    if (llm__jp_accept(p, "-")) n = llm__jnode2(p, LLM__J_NEG, line, NULL, llm__jp_unary(p, false), NULL);
    else if (llm__jp_accept(p, "+")) n = llm__jnode2(p, LLM__J_POS, line, NULL, llm__jp_unary(p, false), NULL);
    else n = llm__jp_primary(p);
    n = llm__jp_postfix(p, n);
    if (with_filter) n = llm__jp_filters(p, n);
    p->c->depth--;
    return n;
}

/* One level of left-associative binary operators. */
LLM_PRIVATE llm__jnode *llm__jp_binary(llm__jparser *p, int level) {
    static const char *const ops[][5] = { { "+", "-" }, { "~" }, { "*", "/", "//", "%" }, { "**" } };
    if (level == 4) return llm__jp_unary(p, true);
    llm__jnode *n = llm__jp_binary(p, level + 1);
    for (;;) {
        const char *op = NULL;
        for (int k = 0; k < 5 && ops[level][k] && !op; k++) if (llm__jp_is(p, ops[level][k])) op = ops[level][k];
        if (!op) return n;
        int line = llm__jp_next(p)->line;
        n = llm__jnode2(p, LLM__J_BIN, line, op, n, llm__jp_binary(p, level + 1));
    }
}

/* a < b < c is (a < b) and (b < c), as in Python. */
LLM_PRIVATE llm__jnode *llm__jp_compare(llm__jparser *p) {
    static const char *const ops[] = { "==", "!=", "<", ">", "<=", ">=", "in" };
    llm__jnode *left = llm__jp_binary(p, 0), *result = NULL;
    for (;;) {
        const char *op = NULL;
        int line = llm__jp_peek(p)->line;
        for (int k = 0; k < 7 && !op; k++) if (llm__jp_is(p, ops[k])) op = ops[k];
        if (!op && llm__jp_is(p, "not") && p->t[p->i + 1].t == LLM__TK_NAME && p->t[p->i + 1].n == 2 && !memcmp(p->t[p->i + 1].p, "in", 2)) {
            llm__jp_next(p);
            op = "not in";
        }
        if (!op) return result ? result : left;
        llm__jp_next(p);
        llm__jnode *right = llm__jp_binary(p, 0), *cmp = llm__jnode2(p, LLM__J_BIN, line, op, left, right);
        result = result ? llm__jnode2(p, LLM__J_AND, line, NULL, result, cmp) : cmp;
        left = right;
    }
}

LLM_PRIVATE llm__jnode *llm__jp_not(llm__jparser *p) {
    int line = llm__jp_peek(p)->line;
    if (llm__jp_accept(p, "not")) {
        llm__jp_enter(p);
        llm__jnode *n = llm__jnode2(p, LLM__J_NOT, line, NULL, llm__jp_not(p), NULL);
        p->c->depth--;
        return n;
    }
    return llm__jp_compare(p);
}

LLM_PRIVATE llm__jnode *llm__jp_and(llm__jparser *p) {
    llm__jnode *n = llm__jp_not(p);
    while (llm__jp_is(p, "and")) { int line = llm__jp_next(p)->line; n = llm__jnode2(p, LLM__J_AND, line, NULL, n, llm__jp_not(p)); }
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_or(llm__jparser *p) {
    llm__jnode *n = llm__jp_and(p);
    while (llm__jp_is(p, "or")) { int line = llm__jp_next(p)->line; n = llm__jnode2(p, LLM__J_OR, line, NULL, n, llm__jp_and(p)); }
    return n;
}

/* expr := or ['if' or ['else' expr]] */
LLM_PRIVATE llm__jnode *llm__jp_expr(llm__jparser *p) {
    llm__jp_enter(p);
    llm__jnode *n = llm__jp_or(p);
    while (llm__jp_is(p, "if")) {
        int line = llm__jp_next(p)->line;
        llm__jnode *cond = llm__jnode2(p, LLM__J_COND, line, NULL, llm__jp_or(p), n);
        if (llm__jp_accept(p, "else")) cond->c = llm__jp_expr(p);
        n = cond;
    }
    p->c->depth--;
    return n;
}

/* expr or a bare tuple `a, b` (set and for targets and values). */
LLM_PRIVATE llm__jnode *llm__jp_tuple(llm__jparser *p, bool names_only) {
    int line = llm__jp_peek(p)->line;
    llm__jnode *first = names_only ? llm__jp_primary(p) : llm__jp_expr(p);
    if (names_only && first->kind == LLM__J_NAME && llm__jp_is(p, ".")) {   /* ns.attr */
        llm__jp_next(p);
        first = llm__jnode2(p, LLM__J_ATTR, line, llm__jp_name(p), first, NULL);
    }
    if (!llm__jp_is(p, ",")) return first;
    llm__jnode *tup = llm__jnode_new(p, LLM__J_TUPLE, line);
    llm__jnode_add(p, tup, first);
    while (llm__jp_accept(p, ",")) llm__jnode_add(p, tup, names_only ? llm__jp_primary(p) : llm__jp_expr(p));
    return tup;
}

/* ---- statements ---- */

LLM_PRIVATE llm__jnode *llm__jp_body(llm__jparser *p, const char *const *ends, const char *opener);

LLM_PRIVATE void llm__jp_end_tag(llm__jparser *p) { llm__jp_expect_type(p, LLM__TK_BLOCK_END, "'%}'"); }

/* Parse a body up to one of `ends`; returns which end tag stopped it (consumed with its %}). */
LLM_PRIVATE const char *llm__jp_block(llm__jparser *p, llm__jnode **body, const char *const *ends, const char *opener) {
    *body = llm__jp_body(p, ends, opener);
    const char *end = llm__jp_name(p);
    return end;
}

LLM_PRIVATE llm__jnode *llm__jp_if(llm__jparser *p, int line) {
    static const char *const ends[] = { "elif", "else", "endif", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_IF, line);
    n->a = llm__jp_expr(p);
    llm__jp_end_tag(p);
    const char *end = llm__jp_block(p, &n->body, ends, "if");
    if (!strcmp(end, "elif")) {
        llm__jnode *els = llm__jnode_new(p, LLM__S_BODY, llm__jp_peek(p)->line);
        llm__jnode_add(p, els, llm__jp_if(p, llm__jp_peek(p)->line));
        n->else_body = els;
        return n;                                   /* the nested if consumed endif */
    }
    if (!strcmp(end, "else")) {
        static const char *const endif[] = { "endif", NULL };
        llm__jp_end_tag(p);
        llm__jp_block(p, &n->else_body, endif, "if");
    }
    llm__jp_end_tag(p);
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_for(llm__jparser *p, int line) {
    static const char *const ends[] = { "else", "endfor", NULL }, *const endfor[] = { "endfor", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_FOR, line);
    n->a = llm__jp_tuple(p, true);
    llm__jp_expect(p, "in");
    /* the iterable is an `or` expression: a trailing `if` filters items, as in Jinja */
    n->b = llm__jp_or(p);
    if (llm__jp_is(p, ",")) {                      /* for x in a, b */
        llm__jnode *t = llm__jnode_new(p, LLM__J_TUPLE, line);
        llm__jnode_add(p, t, n->b);
        while (llm__jp_accept(p, ",")) llm__jnode_add(p, t, llm__jp_or(p));
        n->b = t;
    }
    if (llm__jp_accept(p, "if")) n->c = llm__jp_expr(p);
    if (llm__jp_is(p, "recursive")) llm__jfail(p->c, "recursive loops are not supported");
    llm__jp_end_tag(p);
    if (!strcmp(llm__jp_block(p, &n->body, ends, "for"), "else")) {
        llm__jp_end_tag(p);
        llm__jp_block(p, &n->else_body, endfor, "for");
    }
    llm__jp_end_tag(p);
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_set(llm__jparser *p, int line) {
    static const char *const endset[] = { "endset", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_SET, line);
    n->a = llm__jp_tuple(p, true);
    if (llm__jp_accept(p, "=")) {
        n->b = llm__jp_tuple(p, false);
        llm__jp_end_tag(p);
        return n;
    }
    n->kind = LLM__S_SETBLOCK;                     /* {% set x %}...{% endset %} */
    if (n->a->kind != LLM__J_NAME) llm__jfail(p->c, "a block set needs a plain name");
    if (llm__jp_is(p, "|")) llm__jfail(p->c, "filters on a block set are not supported");
    llm__jp_end_tag(p);
    llm__jp_block(p, &n->body, endset, "set");
    llm__jp_end_tag(p);
    return n;
}

/* Parameters `(a, b='x')` of a macro or a call block's caller. */
LLM_PRIVATE void llm__jp_params(llm__jparser *p, llm__jnode *n) {
    llm__jp_expect(p, "(");
    while (!llm__jp_accept(p, ")")) {
        if (n->n_kids) llm__jp_expect(p, ",");
        int line = llm__jp_peek(p)->line;
        llm__jnode *param = llm__jnode2(p, LLM__J_NAME, line, llm__jp_name(p), NULL, NULL);
        if (llm__jp_accept(p, "=")) param->a = llm__jp_expr(p);
        llm__jnode_add(p, n, param);
    }
}

LLM_PRIVATE llm__jnode *llm__jp_macro(llm__jparser *p, int line) {
    static const char *const ends[] = { "endmacro", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_MACRO, line);
    n->name = llm__jp_name(p);
    llm__jp_params(p, n);
    llm__jp_end_tag(p);
    llm__jp_block(p, &n->body, ends, "macro");
    if (llm__jp_peek(p)->t == LLM__TK_NAME) llm__jp_next(p);   /* {% endmacro name %} */
    llm__jp_end_tag(p);
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_callblock(llm__jparser *p, int line) {
    static const char *const ends[] = { "endcall", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_CALLBLOCK, line);
    if (llm__jp_is(p, "(")) llm__jp_params(p, n);
    n->a = llm__jp_expr(p);
    if (n->a->kind != LLM__J_CALL) llm__jfail(p->c, "expected a macro call after 'call'");
    llm__jp_end_tag(p);
    llm__jp_block(p, &n->body, ends, "call");
    llm__jp_end_tag(p);
    return n;
}

LLM_PRIVATE llm__jnode *llm__jp_filterblock(llm__jparser *p, int line) {
    static const char *const ends[] = { "endfilter", NULL };
    llm__jnode *n = llm__jnode_new(p, LLM__S_FILTERBLOCK, line), *f = NULL;
    do {
        f = llm__jnode2(p, LLM__J_FILTER, llm__jp_peek(p)->line, llm__jp_name(p), f, NULL);
        if (llm__jp_accept(p, "(")) llm__jp_args(p, f);
    } while (llm__jp_accept(p, "|"));
    n->a = f;
    llm__jp_end_tag(p);
    llm__jp_block(p, &n->body, ends, "filter");
    llm__jp_end_tag(p);
    return n;
}

/* One {% tag %} after its '{%'. */
LLM_PRIVATE llm__jnode *llm__jp_stmt(llm__jparser *p) {
    int line = llm__jp_peek(p)->line;
    const char *tag = llm__jp_name(p);
    if (!strcmp(tag, "if")) return llm__jp_if(p, line);
    if (!strcmp(tag, "for")) return llm__jp_for(p, line);
    if (!strcmp(tag, "set")) return llm__jp_set(p, line);
    if (!strcmp(tag, "macro")) return llm__jp_macro(p, line);
    if (!strcmp(tag, "call")) return llm__jp_callblock(p, line);
    if (!strcmp(tag, "filter")) return llm__jp_filterblock(p, line);
    if (!strcmp(tag, "break") || !strcmp(tag, "continue")) {
        llm__jp_end_tag(p);
        return llm__jnode_new(p, tag[0] == 'b' ? LLM__S_BREAK : LLM__S_CONTINUE, line);
    }
    if (!strcmp(tag, "generation")) {              /* transformers' assistant-mask marker */
        static const char *const ends[] = { "endgeneration", NULL };
        llm__jnode *body;
        llm__jp_end_tag(p);
        llm__jp_block(p, &body, ends, "generation");
        llm__jp_end_tag(p);
        return body;
    }
    p->c->line = line;
    llm__jfail(p->c, "unknown tag '%s'", tag);
}

/* Statements until a {% tag %} named in `ends` (NULL-terminated; NULL = the whole
   template). The end tag's name is left for the caller to read. */
LLM_PRIVATE llm__jnode *llm__jp_body(llm__jparser *p, const char *const *ends, const char *opener) {
    int open_line = p->c->line;
    llm__jp_enter(p);
    llm__jnode *body = llm__jnode_new(p, LLM__S_BODY, llm__jp_peek(p)->line);
    for (;;) {
        const llm__jtok *t = llm__jp_peek(p);
        if (t->t == LLM__TK_EOF) {
            if (!ends) break;
            p->c->line = open_line;
            llm__jfail(p->c, "'%s' tag is never closed (expected '%s' before the end of the template)", opener, ends[0]);
        }
        llm__jp_next(p);
        if (t->t == LLM__TK_TEXT) {
            llm__jnode *n = llm__jnode_new(p, LLM__S_TEXT, t->line);
            n->lit = t->v;
            llm__jnode_add(p, body, n);
        } else if (t->t == LLM__TK_VAR_BEGIN) {
            llm__jnode_add(p, body, llm__jnode2(p, LLM__S_OUT, t->line, NULL, llm__jp_expr(p), NULL));
            llm__jp_expect_type(p, LLM__TK_VAR_END, "'}}'");
        } else if (t->t == LLM__TK_BLOCK_BEGIN) {
            const llm__jtok *name = llm__jp_peek(p);
            bool is_end = false;
            for (int k = 0; ends && ends[k] && !is_end; k++)
                is_end = name->t == LLM__TK_NAME && name->n == strlen(ends[k]) && !memcmp(name->p, ends[k], name->n);
            if (is_end) break;
            if (name->t == LLM__TK_NAME && (name->n >= 3 && (!memcmp(name->p, "end", 3) || (name->n == 4 && !memcmp(name->p, "elif", 4)) || (name->n == 4 && !memcmp(name->p, "else", 4))))) {
                p->c->line = name->line;
                llm__jfail(p->c, "unexpected '%.*s'%s%s%s", (int)name->n, name->p, ends ? " (expected '" : "", ends ? ends[0] : "", ends ? "')" : "");
            }
            llm__jnode_add(p, body, llm__jp_stmt(p));
        } else {
            p->c->line = t->line;
            llm__jfail(p->c, "unexpected %s", llm__jtok_desc(p, t));
        }
    }
    p->c->depth--;
    return body;
}

/* Normalize newlines (\r\n and \r -> \n) and drop one trailing newline, as Jinja does. */
LLM_PRIVATE llm__jv llm__jnormalize_source(llm__jctx *c, const char *src) {
    size_t n = strlen(src), k = 0;
    char *d = (char *)llm__jalloc(c, n + 1);
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') { d[k++] = '\n'; if (i + 1 < n && src[i + 1] == '\n') i++; }
        else d[k++] = src[i];
    }
    if (k && d[k - 1] == '\n') k--;
    d[k] = 0;
    return llm__jstr(d, k);
}

/* Source -> AST in c's arena. Errors longjmp to the caller's setjmp. */
LLM_PRIVATE llm__jnode *llm__jparse(llm__jctx *c, const char *source) {
    llm__jv src = llm__jnormalize_source(c, source);
    llm__jlex L = { .c = c, .src = src.s.p, .n = src.s.n, .line = 1 };
    c->line = 1;
    llm__jlex_all(&L);
    llm__jparser p = { .c = c, .t = L.toks };
    return llm__jp_body(&p, NULL, NULL);
}
