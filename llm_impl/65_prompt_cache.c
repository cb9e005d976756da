/* ---- >>prompt_cache: saving a session's cache to a file and loading it back ----
   A prefilled prompt (a long system prompt, a document) is computed once and reused. The
   file is safetensors: the token history, the last logits, and per layer the cached rows
   (f32 rows of the positions so far, or the whole store of a ring / a quantized cache), with
   metadata naming the model (a fingerprint of its shape and weights), the cache layout and
   anything the caller adds (the tokenizer, the template). Compressed, it is one zstd frame
   of those bytes (the safetensors reader opens both). A cache is only loaded into a session
   over the same model with the same cache layout; anything else is refused by name. */
#include "10_internal.h"

/* FNV-1a over the shape and the first bytes of the embedding and output weights: enough to
   tell models apart, cheap enough to compute on every load. */
static uint64_t llm__model_fingerprint(const llm_model *m) {
    const llm__hparams *hp = &m->hp;
    uint64_t h = 1469598103934665603ull;
    int64_t shape[] = { hp->n_vocab, hp->n_embd, hp->n_layers, hp->n_heads, hp->n_kv_heads, hp->head_dim, hp->n_ff };
    const void *parts[] = { hp->arch, shape, m->tok_embd->data, m->output->data };
    size_t sizes[] = { strlen(hp->arch), sizeof shape, LLM__MIN(m->tok_embd->n_bytes, (size_t)65536),
                       LLM__MIN(m->output->n_bytes, (size_t)65536) };
    for (int p = 0; p < 4; p++)
        for (size_t i = 0; i < sizes[p]; i++) h = (h ^ ((const uint8_t *)parts[p])[i]) * 1099511628211ull;
    return h;
}

/* The cache layout as a string: two sessions can exchange caches iff these are equal. */
static void llm__cache_layout(const llm_session *s, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "kv %d/%d g%lld", s->kvf.bits_k, s->kvf.bits_v, (long long)s->kvf.group);
    for (int64_t il = 0; il < s->m->hp.n_layers && n > 0 && (size_t)n < cap; il++) {
        const llm__kv *c = &s->kv[il];
        n += snprintf(buf + n, cap - (size_t)n, c->ring ? "|r%lld,%lld,%lld,%lld" : "|%lld",
                      (long long)c->n_slots, (long long)c->n_f32, (long long)c->keep, (long long)c->window);
    }
}

/* One layer's arrays. A plain f32 store keeps only rows < n_past of each head (gathered
   into `tmp`); a ring or a quantized store is saved whole. dir: true = session -> file. */
typedef struct { char name[48]; llm_dtype dtype; int64_t n; void *data; } llm__cache_part;

static int64_t llm__cache_part_rows(const llm_session *s, const llm__kv *c) {
    return !c->ring && !s->kvf.bits_k ? s->n_past : c->n_f32;
}

/* Copy the first `rows` of each of `heads` heads between the store (stride n_f32 rows) and a
   packed buffer [heads, rows, w]. */
static void llm__cache_copy_rows(float *store, float *packed, int64_t heads, int64_t rows, int64_t n_f32, int64_t w, bool to_packed) {
    for (int64_t h = 0; h < heads; h++) {
        float *a = store + h * n_f32 * w, *b = packed + h * rows * w;
        memcpy(to_packed ? b : a, to_packed ? a : b, (size_t)(rows * w) * sizeof(float));
    }
}

static int llm__cache_parts(const llm_session *s, int64_t il, llm__cache_part out[4]) {
    const llm__hparams *hp = &s->m->hp;
    const llm__kv *c = &s->kv[il];
    int64_t ck, cv, n = 0, rows = llm__cache_part_rows(s, c);
    llm__layer_cache_width(hp, il, &ck, &cv);
    out[n++] = (llm__cache_part){ "", LLM_DTYPE_F32, rows * ck, c->k };
    if (cv) out[n++] = (llm__cache_part){ "", LLM_DTYPE_F32, rows * cv, c->v };
    if (s->kvf.bits_k) {
        int64_t R = c->n_slots * hp->n_kv_heads, D = hp->head_dim, ng = D / s->kvf.group;
        out[n++] = (llm__cache_part){ "", LLM_DTYPE_F32, R * 4 * ng, c->kp };     /* scales: kp then vp */
        out[n++] = (llm__cache_part){ "", LLM_DTYPE_U8,                             /* codes: kq then vq */
                                      R * (int64_t)(llm__kv_row_bytes(s->kvf.bits_k, D) + llm__kv_row_bytes(s->kvf.bits_v, D)), c->kq };
    }
    for (int i = 0; i < n; i++) snprintf(out[i].name, sizeof out[i].name, "layers.%lld.%d", (long long)il, i);
    return (int)n;
}

/* Move f32 part i of layer il between the session and `packed` (heads laid out [heads, rows, w]). */
static void llm__cache_move(llm_session *s, int64_t il, int i, float *packed, bool to_packed) {
    const llm__hparams *hp = &s->m->hp;
    llm__kv *c = &s->kv[il];
    int64_t ck, cv, rows = llm__cache_part_rows(s, c);
    llm__layer_cache_width(hp, il, &ck, &cv);
    int64_t heads = hp->kv_lora_rank ? 1 : hp->n_kv_heads;
    llm__cache_copy_rows(i == 0 ? c->k : c->v, packed, heads, rows, c->n_f32, (i == 0 ? ck : cv) / heads, to_packed);
}

LLM_API llm_status llm_session_save(llm_session *s, const char *path, const char *const *meta, int64_t n_meta, bool compress) {
    const llm__hparams *hp = &s->m->hp;
    int64_t max_parts = 2 + 4 * hp->n_layers, nt = 0;
    llm_tensor *ts = (llm_tensor *)calloc((size_t)max_parts, sizeof *ts);
    llm__cache_part *parts = (llm__cache_part *)calloc((size_t)max_parts, sizeof *parts);
    float **packed = (float **)calloc((size_t)max_parts, sizeof *packed);
    const char **kv = (const char **)calloc((size_t)(2 * n_meta + 16), sizeof *kv);
    char fp[32], npast[32], layout[4096], quantized[8], tmp[4200];
    llm_status st = ts && parts && packed && kv ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    llm_tensor tok = { "tokens", LLM_DTYPE_I32, 1, { s->n_past }, s->tokens, (size_t)s->n_past * sizeof(llm_token) };
    llm_tensor lg = { "logits", LLM_DTYPE_F32, 1, { hp->n_vocab }, s->logits, (size_t)hp->n_vocab * sizeof(float) };
    if (!st) { ts[nt++] = tok; ts[nt++] = lg; }
    for (int64_t il = 0; il < hp->n_layers && !st; il++) {
        int np = llm__cache_parts(s, il, parts + nt);
        for (int i = 0; i < np && !st; i++, nt++) {
            llm__cache_part *p = &parts[nt];
            void *data = p->data;
            if (i < 2 && p->dtype == LLM_DTYPE_F32 && (i == 0 || !hp->kv_lora_rank)) {   /* f32 rows: gather per head */
                if (!(packed[nt] = (float *)malloc((size_t)p->n * sizeof(float) + 1))) { st = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); break; }
                llm__cache_move(s, il, i, packed[nt], true);
                data = packed[nt];
            }
            ts[nt] = (llm_tensor){ p->name, p->dtype, 1, { p->n }, data, llm_dtype_n_bytes(p->dtype, p->n) };
        }
    }
    llm__cache_layout(s, layout, sizeof layout);
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)llm__model_fingerprint(s->m));
    snprintf(npast, sizeof npast, "%lld", (long long)s->n_past);
    snprintf(quantized, sizeof quantized, "%d", s->kvf.quantized);
    int64_t nm = 0;
    const char *fixed[] = { "format", "llm.h prompt cache", "version", "1", "model", fp, "arch", hp->arch,
                            "n_past", npast, "cache_layout", layout, "kv_quantized", quantized };
    for (int i = 0; kv && i < LLM__COUNT(fixed); i++) kv[nm++] = fixed[i];
    for (int64_t i = 0; kv && i < 2 * n_meta; i++) kv[nm++] = meta[i];
    snprintf(tmp, sizeof tmp, "%s.raw.%ld", path, (long)getpid());
    if (!st) st = llm_safetensors_write(compress ? tmp : path, ts, nt, kv, nm / 2);
    if (!st && compress) st = llm__compress_file(tmp, path);
    if (compress) remove(tmp);
    for (int64_t i = 0; i < max_parts && packed; i++) free(packed[i]);
    free(ts); free(parts); free(packed); free(kv);
    return st;
}

/* Check a saved cache's metadata against this session; the message names the difference. */
static llm_status llm__cache_check(const llm_session *s, const llm_safetensors *st, const char *path) {
    char fp[32], layout[4096];
    const char *fmt = llm_safetensors_metadata(st, "format"), *model = llm_safetensors_metadata(st, "model");
    const char *lay = llm_safetensors_metadata(st, "cache_layout"), *np = llm_safetensors_metadata(st, "n_past");
    if (!fmt || strcmp(fmt, "llm.h prompt cache") || !model || !lay || !np)
        return llm__fail(LLM_ERR_FORMAT, "%s: not an llm.h prompt cache", path);
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)llm__model_fingerprint(s->m));
    if (strcmp(model, fp))
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: made by another model (%s, fingerprint %s; this one is %s, %s)", path,
                         llm_safetensors_metadata(st, "arch") ? llm_safetensors_metadata(st, "arch") : "?", model, s->m->hp.arch, fp);
    llm__cache_layout(s, layout, sizeof layout);
    if (strcmp(lay, layout))
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: saved with cache layout '%s', this session has '%s'", path, lay, layout);
    return LLM_OK;
}

LLM_API llm_status llm_session_load(llm_session *s, const char *path) {
    const llm__hparams *hp = &s->m->hp;
    llm_safetensors *st = NULL;
    llm_status e = llm_safetensors_open(path, &st);
    if (!e) e = llm__cache_check(s, st, path);
    const llm_tensor *tok = e ? NULL : llm_safetensors_find(st, "tokens"), *lg = e ? NULL : llm_safetensors_find(st, "logits");
    int64_t n_past = tok ? tok->shape[0] : 0;
    if (!e && (!tok || !lg || tok->dtype != LLM_DTYPE_I32 || lg->n_bytes != (size_t)hp->n_vocab * sizeof(float)))
        e = llm__fail(LLM_ERR_FORMAT, "%s: tokens or logits missing or malformed", path);
    if (!e && !s->rotating && n_past > s->n_ctx)
        e = llm__fail(LLM_ERR_CONTEXT_FULL, "%s: %lld cached tokens do not fit this session's %lld", path, (long long)n_past, (long long)s->n_ctx);
    if (!e) { s->n_past = 0; e = llm__session_reserve_tokens(s, n_past); }
    if (e) { llm_safetensors_close(st); return e; }
    s->n_past = n_past;                               /* part sizes depend on n_past */
    llm__cache_part parts[4];
    for (int64_t il = 0; il < hp->n_layers && !e; il++) {
        int np = llm__cache_parts(s, il, parts);
        for (int i = 0; i < np && !e; i++) {
            const llm_tensor *t = llm_safetensors_find(st, parts[i].name);
            if (!t || t->dtype != parts[i].dtype || t->n_bytes != llm_dtype_n_bytes(parts[i].dtype, parts[i].n))
                e = llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is missing or has the wrong size", path, parts[i].name);
            else if (i < 2 && parts[i].dtype == LLM_DTYPE_F32 && (i == 0 || !hp->kv_lora_rank)) llm__cache_move(s, il, i, (float *)t->data, false);
            else memcpy(parts[i].data, t->data, t->n_bytes);
        }
    }
    if (!e) {
        memcpy(s->tokens, tok->data, (size_t)n_past * sizeof(llm_token));
        memcpy(s->logits, lg->data, lg->n_bytes);
        s->n_written = n_past;
        s->kvf.quantized = s->kvf.bits_k && atoi(llm_safetensors_metadata(st, "kv_quantized") ? llm_safetensors_metadata(st, "kv_quantized") : "1");
        llm__rope_prepare(s, n_past);
    } else {
        s->n_past = 0;
        s->n_written = 0;
    }
    llm_safetensors_close(st);
    return e;
}

LLM_API llm_status llm_prompt_cache_metadata(const char *path, const char *key, char *buf, size_t cap) {
    llm_safetensors *st = NULL;
    llm_status e = llm_safetensors_open(path, &st);
    if (e) return e;
    const char *v = llm_safetensors_metadata(st, key);
    if (!v) e = llm__fail(LLM_ERR_NOT_FOUND, "%s: no metadata '%s'", path, key);
    else snprintf(buf, cap, "%s", v);
    llm_safetensors_close(st);
    return e;
}
