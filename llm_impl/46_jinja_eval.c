/* ---- >>jinja_eval: the evaluator ----
   Walks the AST of 45_jinja_parse.c. Scoping as in Jinja: `set` at the top level sets a
   template variable; inside a for loop it lives for one iteration (hence namespace()
   for values carried across iterations); inside a macro it is local to the call; `if`
   opens no scope. Expressions follow Python: `a or b` yields a or b, `/` is true
   division, `//` and `%` round toward negative infinity, + on str and list concatenates. */
#include "10_internal.h"

enum { LLM__JFLOW_NEXT, LLM__JFLOW_BREAK, LLM__JFLOW_CONTINUE };

LLM_PRIVATE llm__jv llm__jeval(llm__jctx *c, const llm__jnode *n);
LLM_PRIVATE int llm__jexec(llm__jctx *c, const llm__jnode *n);

LLM_PRIVATE llm__jv llm__jlookup(llm__jctx *c, const char *name) {
    llm__jv key = llm__jstrz(name);
    for (llm__jframe *f = c->frame; f; f = f->parent) {
        llm__jv *v = llm__jdict_find(c, &f->vars, key);
        if (v) return *v;
    }
    for (size_t i = 0; i < sizeof llm__jglobals / sizeof llm__jglobals[0]; i++)
        if (!strcmp(llm__jglobals[i].name, name)) { llm__jv v = { .t = LLM__JV_FUNC }; v.fn = &llm__jglobals[i]; return v; }
    return llm__jundef(name, strlen(name));
}

LLM_PRIVATE void llm__jstep(llm__jctx *c) {
    if (++c->steps > LLM_JINJA_MAX_STEPS) llm__jfail(c, "template runs more than %d loop iterations and calls", LLM_JINJA_MAX_STEPS);
}

/* ---- operators ---- */

LLM_PRIVATE void llm__jcheck_defined(llm__jctx *c, llm__jv v) { if (v.t == LLM__JV_UNDEF) llm__jundef_use(c, v); }

LLM_PRIVATE void llm__jbad_operands(llm__jctx *c, const char *op, llm__jv x, llm__jv y) {
    llm__jcheck_defined(c, x);
    llm__jcheck_defined(c, y);
    llm__jfail(c, "unsupported operand type(s) for %s: '%s' and '%s'", op, llm__jtype_name(x), llm__jtype_name(y));
}

LLM_PRIVATE bool llm__jis_intlike(llm__jv v) { return v.t == LLM__JV_INT || v.t == LLM__JV_BOOL; }
LLM_PRIVATE int64_t llm__jto_int(llm__jv v) { return v.t == LLM__JV_INT ? v.i : v.b; }

/* seq * n for strings and lists */
LLM_PRIVATE llm__jv llm__jrepeat(llm__jctx *c, llm__jv seq, int64_t n) {
    if (seq.t == LLM__JV_STR) {
        llm__jbuf b = { 0 };
        for (int64_t k = 0; k < n; k++) llm__jbuf_put(c, &b, seq.s.p, seq.s.n);
        return b.p ? llm__jbuf_val(&b) : llm__jstr("", 0);
    }
    llm__jv out = llm__jlist_new(c);
    for (int64_t k = 0; k < n; k++) { llm__jstep(c); for (size_t i = 0; i < seq.l->n; i++) llm__jlist_push(c, out.l, seq.l->v[i]); }
    return out;
}

LLM_PRIVATE llm__jv llm__jadd(llm__jctx *c, llm__jv x, llm__jv y) {
    if (llm__jis_intlike(x) && llm__jis_intlike(y)) {
        int64_t r;
        if (__builtin_add_overflow(llm__jto_int(x), llm__jto_int(y), &r)) llm__jfail(c, "integer overflow");
        return llm__jint(r);
    }
    if (llm__jis_num(x) && llm__jis_num(y)) return llm__jfloat(llm__jnum(x) + llm__jnum(y));
    if (x.t == LLM__JV_STR && y.t == LLM__JV_STR) {
        llm__jbuf b = { 0 };
        llm__jbuf_put(c, &b, x.s.p, x.s.n);
        llm__jbuf_put(c, &b, y.s.p, y.s.n);
        return llm__jbuf_val(&b);
    }
    if (x.t == LLM__JV_LIST && y.t == LLM__JV_LIST) {
        llm__jv out = llm__jlist_of(c, *x.l);
        for (size_t i = 0; i < y.l->n; i++) llm__jlist_push(c, out.l, y.l->v[i]);
        out.tuple = x.tuple;
        return out;
    }
    if (x.t == LLM__JV_STR && y.t != LLM__JV_UNDEF) llm__jfail(c, "can only concatenate str (not \"%s\") to str", llm__jtype_name(y));
    llm__jbad_operands(c, "+", x, y);
    return x;
}

/* - * / // % ** */
LLM_PRIVATE llm__jv llm__jarith(llm__jctx *c, char op, bool twice, llm__jv x, llm__jv y) {
    const char *name = op == '-' ? "-" : op == '%' ? "%" : op == '*' ? (twice ? "**" : "*") : (twice ? "//" : "/");
    if (op == '*' && !twice && (x.t == LLM__JV_STR || x.t == LLM__JV_LIST) && llm__jis_intlike(y)) return llm__jrepeat(c, x, llm__jto_int(y));
    if (op == '*' && !twice && (y.t == LLM__JV_STR || y.t == LLM__JV_LIST) && llm__jis_intlike(x)) return llm__jrepeat(c, y, llm__jto_int(x));
    if (!llm__jis_num(x) || !llm__jis_num(y)) llm__jbad_operands(c, name, x, y);
    if (llm__jis_intlike(x) && llm__jis_intlike(y) && !(op == '/' && !twice)) {
        int64_t a = llm__jto_int(x), b = llm__jto_int(y), r = 0;
        bool ovf = false;
        if (op == '-') ovf = __builtin_sub_overflow(a, b, &r);
        else if (op == '*' && !twice) ovf = __builtin_mul_overflow(a, b, &r);
        else if (op == '*') {                            /* ** */
            if (b < 0) return llm__jfloat(pow((double)a, (double)b));
            r = 1;
            for (int64_t k = 0; k < b && !ovf; k++) ovf = __builtin_mul_overflow(r, a, &r);
        } else {
            if (b == 0) llm__jfail(c, "integer division or modulo by zero");
            if (a == INT64_MIN && b == -1) llm__jfail(c, "integer overflow");
            r = op == '/' ? a / b : a % b;              /* Python floors; C truncates: */
            if ((a % b != 0) && ((a < 0) != (b < 0))) r = op == '/' ? r - 1 : r + b;
        }
        if (ovf) llm__jfail(c, "integer overflow");
        return llm__jint(r);
    }
    double a = llm__jnum(x), b = llm__jnum(y);
    switch (op) {
    case '-': return llm__jfloat(a - b);
    case '*': return llm__jfloat(twice ? pow(a, b) : a * b);
    default:
        if (b == 0) llm__jfail(c, "float division by zero");
        if (op == '/' && !twice) return llm__jfloat(a / b);
        double q = floor(a / b), m = fmod(a, b);
        if (m != 0 && ((m < 0) != (b < 0))) m += b;
        return llm__jfloat(op == '%' ? m : q);
    }
}

LLM_PRIVATE llm__jv llm__jbinary(llm__jctx *c, const char *op, llm__jv x, llm__jv y) {
    if (!strcmp(op, "+")) return llm__jadd(c, x, y);
    if (!strcmp(op, "~")) {
        llm__jbuf b = { 0 };
        llm__jput_str(c, &b, x);
        llm__jput_str(c, &b, y);
        return b.p ? llm__jbuf_val(&b) : llm__jstr("", 0);
    }
    if (!strcmp(op, "==")) return llm__jbool(llm__jeq(c, x, y));
    if (!strcmp(op, "!=")) return llm__jbool(!llm__jeq(c, x, y));
    if (!strcmp(op, "in")) return llm__jbool(llm__jcontains(c, y, x));
    if (!strcmp(op, "not in")) return llm__jbool(!llm__jcontains(c, y, x));
    if (op[0] == '<' || op[0] == '>') {
        if (x.t == LLM__JV_UNDEF || y.t == LLM__JV_UNDEF) llm__jbad_operands(c, op, x, y);
        int r = llm__jcmp(c, x, y);
        return llm__jbool(op[0] == '<' ? (op[1] ? r <= 0 : r < 0) : (op[1] ? r >= 0 : r > 0));
    }
    return llm__jarith(c, op[0], op[1] != 0, x, y);
}

/* seq[start:stop:step] with Python's clamping, by code point for strings. */
LLM_PRIVATE llm__jv llm__jslice(llm__jctx *c, llm__jv seq, const llm__jnode *n) {
    llm__jcheck_defined(c, seq);
    int64_t idx[3];
    bool given[3];
    for (int k = 0; k < 3; k++) {
        llm__jv v = n->kids[k] ? llm__jeval(c, n->kids[k]) : llm__jnone();
        given[k] = v.t != LLM__JV_NONE;
        if (given[k] && !llm__jis_intlike(v)) llm__jfail(c, "slice indices must be integers or None");
        idx[k] = given[k] ? llm__jto_int(v) : 0;
    }
    int64_t step = given[2] ? idx[2] : 1;
    if (step == 0) llm__jfail(c, "slice step cannot be zero");
    size_t *off = NULL, count;
    if (seq.t == LLM__JV_STR) off = llm__jutf8_offsets(c, seq, &count);
    else if (seq.t == LLM__JV_LIST) count = seq.l->n;
    else llm__jfail(c, "'%s' object is not subscriptable", llm__jtype_name(seq));
    int64_t len = (int64_t)count, lo = step < 0 ? -1 : 0, hi = step < 0 ? len - 1 : len, b[2];
    for (int k = 0; k < 2; k++) {
        int64_t i = idx[k];
        if (!given[k]) { b[k] = k == 0 ? (step > 0 ? 0 : len - 1) : (step > 0 ? len : -1); continue; }
        if (i < 0) i += len;
        b[k] = i < lo ? lo : i > hi ? hi : i;
    }
    llm__jv out = off ? llm__jstr("", 0) : llm__jlist_new(c);
    llm__jbuf buf = { 0 };
    for (int64_t i = b[0]; step > 0 ? i < b[1] : i > b[1]; i += step) {
        if (off) llm__jbuf_put(c, &buf, seq.s.p + off[i], off[i + 1] - off[i]);
        else llm__jlist_push(c, out.l, seq.l->v[i]);
    }
    if (off && buf.p) out = llm__jbuf_val(&buf);
    if (!off) out.tuple = seq.tuple;
    return out;
}

/* ---- calls ---- */

/* Evaluate call arguments (positional, then name=value) of node n. */
LLM_PRIVATE llm__jargs llm__jeval_args(llm__jctx *c, const llm__jnode *n) {
    llm__jv *pos = (llm__jv *)llm__jalloc(c, (size_t)(n->n_kids + 1) * sizeof(llm__jv));
    llm__jv *kw = (llm__jv *)llm__jalloc(c, (size_t)(n->n_kids + 1) * sizeof(llm__jv));
    const char **names = (const char **)llm__jalloc(c, (size_t)(n->n_kids + 1) * sizeof(char *));
    llm__jargs a = { pos, 0, kw, names, 0 };
    for (int i = 0; i < n->n_kids; i++) {
        const llm__jnode *k = n->kids[i];
        if (k->kind == LLM__J_KWARG) { names[a.n_kw] = k->name; kw[a.n_kw++] = llm__jeval(c, k->a); }
        else pos[a.n_pos++] = llm__jeval(c, k);
    }
    return a;
}

/* Run the body of a macro (or a call block's caller) with arguments bound to its
   parameters; extra arguments land in `varargs` and `kwargs`. Returns its output. */
LLM_PRIVATE llm__jv llm__jcall_macro(llm__jctx *c, const llm__jmacro *m, const llm__jargs *a) {
    llm__jstep(c);
    if (++c->depth > LLM__JMAX_DEPTH) llm__jfail(c, "macro calls nested too deeply");
    llm__jframe *saved_frame = c->frame, *f = (llm__jframe *)llm__jalloc(c, sizeof(llm__jframe));
    memset(f, 0, sizeof *f);
    f->parent = m->frame;
    c->frame = f;
    const llm__jnode *def = m->node;
    llm__jv varargs = llm__jlist_new(c), kwargs = llm__jdict_new(c, LLM__JV_DICT);
    varargs.tuple = true;
    for (int i = 0; i < def->n_kids; i++) {
        const llm__jnode *p = def->kids[i];
        llm__jv v = llm__jarg(a, i, p->name, llm__jundef(p->name, strlen(p->name)));
        if (v.t == LLM__JV_UNDEF && p->a) v = llm__jeval(c, p->a);
        llm__jdict_set(c, &f->vars, llm__jstrz(p->name), v);
    }
    for (int i = def->n_kids; i < a->n_pos; i++) llm__jlist_push(c, varargs.l, a->pos[i]);
    for (int k = 0; k < a->n_kw; k++)
        if (!llm__jdict_find(c, &f->vars, llm__jstrz(a->kw_names[k]))) llm__jdict_set(c, kwargs.d, llm__jstrz(a->kw_names[k]), a->kw[k]);
    llm__jdict_set(c, &f->vars, llm__jstrz("varargs"), varargs);
    llm__jdict_set(c, &f->vars, llm__jstrz("kwargs"), kwargs);
    if (m->caller) { llm__jv cv = { .t = LLM__JV_MACRO }; cv.mac = m->caller; llm__jdict_set(c, &f->vars, llm__jstrz("caller"), cv); }
    llm__jbuf *saved_out = c->out, out = { 0 };
    c->out = &out;
    llm__jexec(c, def->body);
    c->out = saved_out;
    c->frame = saved_frame;
    c->depth--;
    return llm__jbuf_val(&out);
}

LLM_PRIVATE llm__jv llm__jcall(llm__jctx *c, llm__jv fn, const llm__jargs *a, const llm__jmacro *caller) {
    switch (fn.t) {
    case LLM__JV_FUNC: return fn.fn->fn(c, llm__jnone(), a);
    case LLM__JV_METHOD: return llm__jcall_method(c, fn.m->self, fn.m->name, a);
    case LLM__JV_MACRO:
        if (caller) { llm__jmacro *m = (llm__jmacro *)llm__jalloc(c, sizeof *m); *m = *fn.mac; m->caller = caller; return llm__jcall_macro(c, m, a); }
        return llm__jcall_macro(c, fn.mac, a);
    case LLM__JV_UNDEF: llm__jundef_use(c, fn); break;
    default: break;
    }
    llm__jfail(c, "'%s' object is not callable", llm__jtype_name(fn));
}

/* ---- expressions ---- */

LLM_PRIVATE llm__jv llm__jeval_seq(llm__jctx *c, const llm__jnode *n) {
    if (n->kind == LLM__J_DICT) {
        llm__jv d = llm__jdict_new(c, LLM__JV_DICT);
        for (int i = 0; i + 1 < n->n_kids; i += 2) llm__jdict_set(c, d.d, llm__jeval(c, n->kids[i]), llm__jeval(c, n->kids[i + 1]));
        return d;
    }
    llm__jv l = llm__jlist_new(c);
    l.tuple = n->kind == LLM__J_TUPLE;
    for (int i = 0; i < n->n_kids; i++) llm__jlist_push(c, l.l, llm__jeval(c, n->kids[i]));
    return l;
}

/* Apply filter node n to v. */
LLM_PRIVATE llm__jv llm__japply_filter(llm__jctx *c, const llm__jnode *n, llm__jv v) {
    llm__jargs a = llm__jeval_args(c, n);
    c->line = n->line;
    return llm__jfilter(c, n->name, v, &a);
}

LLM_PRIVATE llm__jv llm__jeval(llm__jctx *c, const llm__jnode *n) {
    c->line = n->line;
    llm__jv x;
    switch (n->kind) {
    case LLM__J_LIT: return n->lit;
    case LLM__J_NAME: return llm__jlookup(c, n->name);
    case LLM__J_ATTR: x = llm__jeval(c, n->a); c->line = n->line; return llm__jgetattr(c, x, n->name);
    case LLM__J_ITEM: { x = llm__jeval(c, n->a); llm__jv k = llm__jeval(c, n->b); c->line = n->line; return llm__jgetitem(c, x, k); }
    case LLM__J_SLICE: return llm__jslice(c, llm__jeval(c, n->a), n);
    case LLM__J_CALL: { x = llm__jeval(c, n->a); llm__jargs a = llm__jeval_args(c, n); c->line = n->line; return llm__jcall(c, x, &a, NULL); }
    case LLM__J_FILTER: return llm__japply_filter(c, n, llm__jeval(c, n->a));
    case LLM__J_TEST: {
        x = llm__jeval(c, n->a);
        llm__jargs a = llm__jeval_args(c, n);
        c->line = n->line;
        return llm__jbool(llm__jtest(c, n->name, x, &a) != n->neg);
    }
    case LLM__J_NEG: case LLM__J_POS:
        x = llm__jeval(c, n->a);
        if (!llm__jis_num(x)) { llm__jcheck_defined(c, x); llm__jfail(c, "bad operand type for unary %c: '%s'", n->kind == LLM__J_NEG ? '-' : '+', llm__jtype_name(x)); }
        if (x.t == LLM__JV_BOOL) x = llm__jint(x.b);
        if (n->kind == LLM__J_POS) return x;
        if (x.t == LLM__JV_FLOAT) return llm__jfloat(-x.f);
        if (x.i == INT64_MIN) llm__jfail(c, "integer overflow");
        return llm__jint(-x.i);
    case LLM__J_NOT: return llm__jbool(!llm__jtruthy(llm__jeval(c, n->a)));
    case LLM__J_AND: x = llm__jeval(c, n->a); return llm__jtruthy(x) ? llm__jeval(c, n->b) : x;
    case LLM__J_OR: x = llm__jeval(c, n->a); return llm__jtruthy(x) ? x : llm__jeval(c, n->b);
    case LLM__J_COND:
        if (llm__jtruthy(llm__jeval(c, n->a))) return llm__jeval(c, n->b);
        return n->c ? llm__jeval(c, n->c) : llm__jundef("else", 4);
    case LLM__J_BIN: { x = llm__jeval(c, n->a); llm__jv y = llm__jeval(c, n->b); c->line = n->line; return llm__jbinary(c, n->name, x, y); }
    case LLM__J_LIST: case LLM__J_TUPLE: case LLM__J_DICT: return llm__jeval_seq(c, n);
    default: llm__jfail(c, "internal error: node %d is not an expression", n->kind);
    }
}

/* ---- statements ---- */

LLM_PRIVATE void llm__jassign(llm__jctx *c, const llm__jnode *target, llm__jv v) {
    if (target->kind == LLM__J_NAME) { llm__jdict_set(c, &c->frame->vars, llm__jstrz(target->name), v); return; }
    if (target->kind == LLM__J_ATTR) {                 /* {% set ns.x = ... %} */
        llm__jv obj = llm__jeval(c, target->a);
        if (obj.t != LLM__JV_NS) llm__jfail(c, "cannot assign attribute on non-namespace object");
        llm__jdict_set(c, obj.d, llm__jstrz(target->name), v);
        return;
    }
    if (target->kind != LLM__J_TUPLE && target->kind != LLM__J_LIST) llm__jfail(c, "cannot assign to this expression");
    llm__jlist items = llm__jiter(c, v);
    if (items.n != (size_t)target->n_kids)
        llm__jfail(c, "cannot unpack %zu values into %d names", items.n, target->n_kids);
    for (int i = 0; i < target->n_kids; i++) llm__jassign(c, target->kids[i], items.v[i]);
}

/* The `loop` object's fields, in the order of its dict. */
enum { LLM__JLOOP_INDEX, LLM__JLOOP_INDEX0, LLM__JLOOP_REVINDEX, LLM__JLOOP_REVINDEX0, LLM__JLOOP_FIRST, LLM__JLOOP_LAST,
       LLM__JLOOP_LENGTH, LLM__JLOOP_PREVITEM, LLM__JLOOP_NEXTITEM, LLM__JLOOP_DEPTH, LLM__JLOOP_DEPTH0, LLM__JLOOP_N };

LLM_PRIVATE llm__jv llm__jloop_new(llm__jctx *c) {
    static const char *const names[] = { "index", "index0", "revindex", "revindex0", "first", "last", "length",
                                         "previtem", "nextitem", "depth", "depth0" };
    llm__jv loop = llm__jdict_new(c, LLM__JV_DICT);
    for (int k = 0; k < LLM__JLOOP_N; k++) llm__jdict_set(c, loop.d, llm__jstrz(names[k]), llm__jnone());
    return loop;
}

/* One `loop` object per loop, updated in place: like Jinja's LoopContext, a saved
   reference (`{% set outer = loop %}`) follows the loop. */
LLM_PRIVATE void llm__jloop_set(llm__jv loop, llm__jlist items, size_t i, int depth) {
    llm__jv *f = loop.d->v;
    int64_t n = (int64_t)items.n, k = (int64_t)i;
    f[LLM__JLOOP_INDEX] = llm__jint(k + 1);
    f[LLM__JLOOP_INDEX0] = llm__jint(k);
    f[LLM__JLOOP_REVINDEX] = llm__jint(n - k);
    f[LLM__JLOOP_REVINDEX0] = llm__jint(n - k - 1);
    f[LLM__JLOOP_FIRST] = llm__jbool(k == 0);
    f[LLM__JLOOP_LAST] = llm__jbool(k == n - 1);
    f[LLM__JLOOP_LENGTH] = llm__jint(n);
    f[LLM__JLOOP_PREVITEM] = i > 0 ? items.v[i - 1] : llm__jundef("previtem", 8);
    f[LLM__JLOOP_NEXTITEM] = i + 1 < items.n ? items.v[i + 1] : llm__jundef("nextitem", 8);
    f[LLM__JLOOP_DEPTH] = llm__jint(depth + 1);
    f[LLM__JLOOP_DEPTH0] = llm__jint(depth);
}

LLM_PRIVATE void llm__jexec_for(llm__jctx *c, const llm__jnode *n) {
    llm__jv seq = llm__jeval(c, n->b);
    c->line = n->line;
    if (seq.t == LLM__JV_DICT || seq.t == LLM__JV_STR) seq = llm__jlist_of(c, llm__jiter(c, seq));
    llm__jlist all = llm__jiter(c, seq), items = all;
    llm__jframe *saved = c->frame, *f = (llm__jframe *)llm__jalloc(c, sizeof(llm__jframe));
    memset(f, 0, sizeof *f);
    f->parent = saved;
    c->frame = f;
    if (n->c) {                                        /* {% for x in xs if cond %}: filter first */
        items = (llm__jlist){ 0 };
        for (size_t i = 0; i < all.n; i++) {
            f->vars.n = 0;
            llm__jassign(c, n->a, all.v[i]);
            if (llm__jtruthy(llm__jeval(c, n->c))) llm__jlist_push(c, &items, all.v[i]);
        }
    }
    int depth = 0;
    for (llm__jframe *p = saved; p; p = p->parent) depth += llm__jdict_find(c, &p->vars, llm__jstrz("loop")) != NULL;
    llm__jv loop = llm__jloop_new(c);
    for (size_t i = 0; i < items.n; i++) {
        llm__jstep(c);
        f->vars.n = 0;                                 /* a fresh scope per iteration */
        llm__jloop_set(loop, items, i, depth);
        llm__jdict_set(c, &f->vars, llm__jstrz("loop"), loop);
        llm__jassign(c, n->a, items.v[i]);
        if (llm__jexec(c, n->body) == LLM__JFLOW_BREAK) break;
    }
    c->frame = saved;
    if (items.n == 0 && n->else_body) llm__jexec(c, n->else_body);
}

/* A filter block's chain `a | b(x)`: FILTER nodes whose innermost operand is NULL. */
LLM_PRIVATE llm__jv llm__jfilter_chain(llm__jctx *c, const llm__jnode *n, llm__jv input) {
    return llm__japply_filter(c, n, n->a ? llm__jfilter_chain(c, n->a, input) : input);
}

/* Run a body with its output captured into a string. */
LLM_PRIVATE llm__jv llm__jcapture(llm__jctx *c, const llm__jnode *body) {
    llm__jbuf *saved = c->out, out = { 0 };
    c->out = &out;
    llm__jexec(c, body);
    c->out = saved;
    return llm__jbuf_val(&out);
}

LLM_PRIVATE int llm__jexec(llm__jctx *c, const llm__jnode *n) {
    c->line = n->line;
    switch (n->kind) {
    case LLM__S_BODY:
        for (int i = 0; i < n->n_kids; i++) {
            int flow = llm__jexec(c, n->kids[i]);
            if (flow != LLM__JFLOW_NEXT) return flow;
        }
        return LLM__JFLOW_NEXT;
    case LLM__S_TEXT: llm__jbuf_put(c, c->out, n->lit.s.p, n->lit.s.n); break;
    case LLM__S_OUT: llm__jput_str(c, c->out, llm__jeval(c, n->a)); break;
    case LLM__S_IF:
        if (llm__jtruthy(llm__jeval(c, n->a))) return llm__jexec(c, n->body);
        return n->else_body ? llm__jexec(c, n->else_body) : LLM__JFLOW_NEXT;
    case LLM__S_FOR: llm__jexec_for(c, n); break;
    case LLM__S_SET: llm__jassign(c, n->a, llm__jeval(c, n->b)); break;
    case LLM__S_SETBLOCK: llm__jassign(c, n->a, llm__jcapture(c, n->body)); break;
    case LLM__S_MACRO: {
        llm__jmacro *m = (llm__jmacro *)llm__jalloc(c, sizeof *m);
        m->node = n; m->frame = c->frame; m->caller = NULL;
        llm__jv v = { .t = LLM__JV_MACRO };
        v.mac = m;
        llm__jdict_set(c, &c->frame->vars, llm__jstrz(n->name), v);
        break;
    }
    case LLM__S_CALLBLOCK: {                           /* {% call m(args) %}body{% endcall %} */
        llm__jmacro *caller = (llm__jmacro *)llm__jalloc(c, sizeof *caller);
        caller->node = n; caller->frame = c->frame; caller->caller = NULL;
        llm__jv fn = llm__jeval(c, n->a->a);
        llm__jargs a = llm__jeval_args(c, n->a);
        c->line = n->line;
        if (fn.t != LLM__JV_MACRO) llm__jfail(c, "{%% call %%} needs a macro");
        llm__jput_str(c, c->out, llm__jcall(c, fn, &a, caller));
        break;
    }
    case LLM__S_FILTERBLOCK: llm__jput_str(c, c->out, llm__jfilter_chain(c, n->a, llm__jcapture(c, n->body))); break;
    case LLM__S_BREAK: return LLM__JFLOW_BREAK;
    case LLM__S_CONTINUE: return LLM__JFLOW_CONTINUE;
    default: llm__jfail(c, "internal error: node %d is not a statement", n->kind);
    }
    return LLM__JFLOW_NEXT;
}
