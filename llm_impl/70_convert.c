/* ---- >>convert: writing an MLX model directory (08_api_convert.h) ---- */
#include "10_internal.h"
#include "08_api_convert.h"

#ifndef LLM_NO_CJSON
/* Files mlx_lm copies beside the weights, when the source has them. */
static const char *const llm__convert_files[] = {
    "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "generation_config.json",
    "chat_template.jinja", "chat_template.json", "added_tokens.json", "vocab.json", "merges.txt",
};

static bool llm__convert_quantizable(const llm_tensor *t, int group_size) {
    size_t n = strlen(t->name);
    return (t->n_dims == 2 || t->n_dims == 3) && llm__is_float(t->dtype) && n > 7 && !strcmp(t->name + n - 7, ".weight") &&
           t->shape[t->n_dims - 1] % group_size == 0 && !strstr(t->name, "norm");
}

/* One source tensor -> 1 (kept or cast) or 3 (quantized) output tensors in out; data they
   own is recorded in owned[*n_owned] for the caller to free. */
static llm_status llm__convert_tensor(const llm_convert_params *p, const llm_tensor *t, llm_tensor *out, void **owned,
                                      int64_t *n_owned, int64_t *n_out) {
    llm_dtype dt = p->set_dtype && llm__is_float(t->dtype) ? p->dtype : t->dtype;
    int64_t n = llm_tensor_n_elems(t);
    *n_out = 1;
    out[0] = *t;
    if (!(p->quantize && llm__convert_quantizable(t, p->group_size))) {
        if (dt == t->dtype) return LLM_OK;                 /* a view of the mapping */
        void *d = owned[(*n_owned)++] = malloc(llm_dtype_n_bytes(dt, n));
        if (!d) return llm__fail(LLM_ERR_NOMEM, "out of memory");
        llm_convert(dt, d, t->dtype, t->data, n);
        out[0].dtype = dt; out[0].data = d; out[0].n_bytes = llm_dtype_n_bytes(dt, n);
        return LLM_OK;
    }
    int64_t cols = t->shape[t->n_dims - 1], rows = n / cols, ng = n / p->group_size;
    size_t wb = llm_mlx_weight_bytes(rows, cols, p->bits), pb = llm_dtype_n_bytes(dt, ng);
    float *f = (float *)malloc((size_t)n * sizeof *f);
    void *w = owned[(*n_owned)++] = malloc(wb), *sc = owned[(*n_owned)++] = malloc(pb), *bi = owned[(*n_owned)++] = malloc(pb);
    if (!f || !w || !sc || !bi) { free(f); return llm__fail(LLM_ERR_NOMEM, "out of memory"); }
    llm_convert(LLM_DTYPE_F32, f, t->dtype, t->data, n);   /* round to the output dtype first, as mlx holds it */
    for (int64_t i = 0; i < n; i += ng) {
        int64_t k = LLM__MIN(ng, n - i);
        llm_convert(dt, sc, LLM_DTYPE_F32, f + i, k);
        llm_convert(LLM_DTYPE_F32, f + i, dt, sc, k);
    }
    llm_status s = llm_mlx_quantize(f, rows, cols, p->bits, p->group_size, dt, w, sc, bi);
    free(f);
    if (s) return s;
    void *data[3] = { w, sc, bi };
    const char *suffix[3] = { "weight", "scales", "biases" };
    size_t base = strlen(t->name) - 6;                     /* "<module>." */
    for (int i = 0; i < 3; i++) {
        out[i] = *t;
        if (i) {
            char *nm = (char *)(owned[(*n_owned)++] = malloc(base + 7));
            if (!nm) return llm__fail(LLM_ERR_NOMEM, "out of memory");
            memcpy(nm, t->name, base);
            memcpy(nm + base, suffix[i], 7);
            out[i].name = nm;
        }
        out[i].dtype = i ? dt : LLM_DTYPE_U32;
        out[i].shape[t->n_dims - 1] = i ? cols / p->group_size : cols * p->bits / 32;
        out[i].data = data[i];
        out[i].n_bytes = i ? pb : wb;
    }
    *n_out = 3;
    return LLM_OK;
}

/* ---- sources: a float tensor or an MLX-quantized matrix, read as rows of f32 ---- */

typedef struct llm__convert_src {
    const llm_tensor *t;       /* the float tensor, or the packed u32 .weight */
    bool mlx;
    llm__qmat q;               /* MLX: views of .weight/.scales/.biases as [rows, cols] */
    int n_dims;
    int64_t shape[LLM_MAX_DIMS];   /* logical shape (an MLX matrix's unpacked) */
    int64_t rows, cols;        /* all but the last dim, and the last */
} llm__convert_src;

/* rows [r0, r0 + n) as f32 into out [n, cols] */
static void llm__convert_src_rows(const llm__convert_src *s, int64_t r0, int64_t n, float *out) {
    if (!s->mlx) {
        llm_convert(LLM_DTYPE_F32, out, s->t->dtype, (const uint8_t *)s->t->data + llm_dtype_n_bytes(s->t->dtype, r0 * s->cols), n * s->cols);
        return;
    }
    for (int64_t i = 0; i < n; i++) llm__mlx_row_f32(&s->q, r0 + i, out + i * s->cols);
}

/* t viewed as a matrix [rows, last dim] (stacked experts [E, R, C] are E*R rows) */
static llm_tensor llm__convert_flat(const llm_tensor *t) {
    llm_tensor f = *t;
    f.n_dims = 2;
    f.shape[1] = t->shape[t->n_dims - 1];
    f.shape[0] = f.shape[1] ? llm_tensor_n_elems(t) / f.shape[1] : 0;
    return f;
}

/* The source for tensor t (name "<module>.weight" when quantized: its .scales tell). */
static llm_status llm__convert_src_init(const char *path, llm_safetensors *st, const cJSON *cfg, const llm_tensor *t, llm__convert_src *s) {
    memset(s, 0, sizeof *s);
    s->t = t;
    s->n_dims = t->n_dims ? t->n_dims : 1;
    memcpy(s->shape, t->shape, sizeof s->shape);
    if (!t->n_dims) s->shape[0] = 1;
    char module[600], nm[620];
    size_t n = strlen(t->name);
    const llm_tensor *scales = NULL;
    if (n > 7 && n < sizeof module && !strcmp(t->name + n - 7, ".weight")) {
        snprintf(module, sizeof module, "%.*s", (int)(n - 7), t->name);
        snprintf(nm, sizeof nm, "%s.scales", module);
        scales = llm_safetensors_find(st, nm);
    }
    if (!scales) {
        if (!llm__is_float(t->dtype)) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' is %s, not a float", path, t->name, llm_dtype_get(t->dtype)->name);
        s->cols = s->shape[s->n_dims - 1];
        s->rows = s->cols ? llm_tensor_n_elems(t) / s->cols : 0;
        return LLM_OK;
    }
    bool quantized;
    int bits, gs;
    const char *mode;
    llm__mlx_quant_params(cfg, module, &quantized, &bits, &gs, &mode);
    if (!quantized || bits <= 0 || t->n_dims < 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: '%s' has scales but config.json does not quantize it", path, module);
    snprintf(nm, sizeof nm, "%s.biases", module);
    const llm_tensor *biases = llm_safetensors_find(st, nm);
    llm_tensor w2 = llm__convert_flat(t), s2 = llm__convert_flat(scales), b2 = biases ? llm__convert_flat(biases) : w2;
    s->cols = w2.shape[1] * 32 / bits, s->rows = w2.shape[0];
    s->shape[s->n_dims - 1] = s->cols;
    s->mlx = true;
    return llm__mlx_qmat_init(path, module, &w2, &s2, biases ? &b2 : NULL, mode, bits, gs, s->rows, s->cols, &s->q);
}

/* .scales / .biases of a quantized module: read with its .weight */
static bool llm__convert_is_qparam(llm_safetensors *st, const char *name) {
    size_t n = strlen(name);
    char w[600];
    if (n < 7 || n >= sizeof w || (strcmp(name + n - 7, ".scales") && strcmp(name + n - 7, ".biases"))) return false;
    snprintf(w, sizeof w, "%.*s.weight", (int)(n - 7), name);
    return llm_safetensors_find(st, w) != NULL;
}

/* Is name "<module>.weight" with "<module>.scales" beside it (an MLX-quantized weight)? */
static bool llm__convert_is_qparam_of(llm_safetensors *st, const char *name) {
    size_t n = strlen(name);
    char sc[600];
    if (n < 7 || n >= sizeof sc || strcmp(name + n - 7, ".weight")) return false;
    snprintf(sc, sizeof sc, "%.*s.scales", (int)(n - 7), name);
    return llm_safetensors_find(st, sc) != NULL;
}

/* -d: an MLX-quantized module's .weight t -> a float tensor in the scales' dtype (or
   --dtype), mlx.core.dequantize's values, as mlx_lm's dequantize_model. */
static llm_status llm__convert_dequant(const llm_convert_params *p, llm_safetensors *st, const cJSON *cfg, const llm_tensor *t,
                                       llm_tensor *out, void **owned, int64_t *n_owned) {
    llm__convert_src src;
    llm_status s = llm__convert_src_init(p->src, st, cfg, t, &src);
    if (s) return s;
    llm_dtype dt = p->set_dtype ? p->dtype : src.q.fp_mode >= 0 ? LLM_DTYPE_BF16 : src.q.sdtype;
    int64_t n = src.rows * src.cols;
    float *f = (float *)malloc((size_t)n * sizeof *f + 1);
    void *d = owned[(*n_owned)++] = malloc(llm_dtype_n_bytes(dt, n) + 1);
    if (!f || !d) { free(f); return llm__fail(LLM_ERR_NOMEM, "out of memory"); }
    llm__convert_src_rows(&src, 0, src.rows, f);
    llm_convert(dt, d, LLM_DTYPE_F32, f, n);
    free(f);
    *out = *t;
    out->dtype = dt, out->data = d, out->n_bytes = llm_dtype_n_bytes(dt, n);
    memcpy(out->shape, src.shape, sizeof out->shape);
    return LLM_OK;
}

/* config.json of src with the quantization blocks mlx_lm writes (both names). */
static llm_status llm__convert_config(const llm_convert_params *p, const char *src_dir, const char *dst_dir) {
    char path[4096];
    cJSON *cfg = NULL;
    if (!llm__path_join(path, sizeof path, src_dir, "config.json")) return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", src_dir);
    llm_status s = llm__json_load(path, &cfg);
    if (s) return s;
    if (p->quantize || p->dequantize) {                   /* else the source's own blocks stay */
        cJSON_DeleteItemFromObject(cfg, "quantization");
        cJSON_DeleteItemFromObject(cfg, "quantization_config");
    }
    for (int i = 0; i < 2 && p->quantize; i++) {
        cJSON *q = cJSON_AddObjectToObject(cfg, i ? "quantization_config" : "quantization");
        if (q) { cJSON_AddNumberToObject(q, "group_size", p->group_size); cJSON_AddNumberToObject(q, "bits", p->bits); cJSON_AddStringToObject(q, "mode", "affine"); }
    }
    char *text = cJSON_Print(cfg);
    cJSON_Delete(cfg);
    if (!text) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    llm__atomic_file af;
    if (!llm__path_join(path, sizeof path, dst_dir, "config.json")) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", dst_dir);
    if (!s) s = llm__atomic_open(&af, path);
    if (!s) { s = llm__atomic_write(&af, text, strlen(text)); llm_status c = llm__atomic_close(&af, !s); if (!s) s = c; }
    free(text);
    return s;
}

/* The tokenizer and generation files, copied as they are. */
static llm_status llm__convert_copy_files(const char *src_dir, const char *dst_dir) {
    for (int i = 0; i < LLM__COUNT(llm__convert_files); i++) {
        char from[4096], to[4096], *data = NULL;
        size_t len = 0;
        if (!llm__path_join(from, sizeof from, src_dir, llm__convert_files[i]) || !llm__path_join(to, sizeof to, dst_dir, llm__convert_files[i]))
            return llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", src_dir);
        if (access(from, R_OK)) continue;
        llm_status s = llm__read_file(NULL, from, &data, &len);
        llm__atomic_file af;
        if (!s) s = llm__atomic_open(&af, to);
        if (!s) { s = llm__atomic_write(&af, data, len); llm_status c = llm__atomic_close(&af, !s); if (!s) s = c; }
        llm__free(NULL, data);
        if (s) return s;
    }
    return LLM_OK;
}

/* ---- experts stacked as mlx_lm stacks them (its models' sanitize) ----
   "<p>.experts.<e>.<w>.weight" (E of them) -> "<p>.switch_mlp.<w'>.weight" [E, rows, cols],
   with Mixtral's w1/w2/w3 named gate_proj/down_proj/up_proj. */
static const char *const llm__convert_expert_names[][2] = {
    { "gate_proj", "gate_proj" }, { "up_proj", "up_proj" }, { "down_proj", "down_proj" },
    { "w1", "gate_proj" }, { "w2", "down_proj" }, { "w3", "up_proj" },
};

/* If t is expert 0 of a stack: the stack's name in out and the count of experts (else 0). */
static int64_t llm__convert_expert0(llm_safetensors *st, const llm_tensor *t, char *out, size_t cap, char *fmt, size_t fcap) {
    const char *at = strstr(t->name, ".experts.0.");
    if (!at || t->n_dims != 2) return 0;
    const char *w = at + 11;
    for (int i = 0; i < LLM__COUNT(llm__convert_expert_names); i++) {
        size_t n = strlen(llm__convert_expert_names[i][0]);
        if (strncmp(w, llm__convert_expert_names[i][0], n) || strcmp(w + n, ".weight")) continue;
        int pre = (int)(at - t->name);
        snprintf(out, cap, "%.*s.switch_mlp.%s.weight", pre, t->name, llm__convert_expert_names[i][1]);
        snprintf(fmt, fcap, "%.*s.experts.%%lld.%s", pre, t->name, w);
        int64_t E = 0;
        char en[600];
        for (;; E++) {
            snprintf(en, sizeof en, fmt, (long long)E);
            const llm_tensor *e = llm_safetensors_find(st, en);
            if (!e || e->dtype != t->dtype || e->shape[0] != t->shape[0] || e->shape[1] != t->shape[1]) break;
        }
        return E;
    }
    return 0;
}

static bool llm__convert_is_expert(const char *name) {
    const char *at = strstr(name, ".experts.");
    if (!at) return false;
    at += 9;
    while (*at >= '0' && *at <= '9') at++;
    for (int i = 0; i < LLM__COUNT(llm__convert_expert_names); i++) {
        size_t n = strlen(llm__convert_expert_names[i][0]);
        if (*at == '.' && !strncmp(at + 1, llm__convert_expert_names[i][0], n) && !strcmp(at + 1 + n, ".weight")) return true;
    }
    return false;
}

/* The stack [E, rows, cols] of expert 0's tensor t, in memory recorded in owned. */
static llm_status llm__convert_stack(llm_safetensors *st, const llm_tensor *t, int64_t E, const char *name, const char *fmt,
                                     llm_tensor *out, void **owned, int64_t *n_owned) {
    char *nm = (char *)(owned[(*n_owned)++] = malloc(strlen(name) + 1));
    uint8_t *d = (uint8_t *)(owned[(*n_owned)++] = malloc((size_t)E * t->n_bytes));
    if (!nm || !d) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    strcpy(nm, name);
    for (int64_t e = 0; e < E; e++) {
        char en[600];
        snprintf(en, sizeof en, fmt, (long long)e);
        memcpy(d + (size_t)e * t->n_bytes, llm_safetensors_find(st, en)->data, t->n_bytes);
    }
    *out = (llm_tensor){ .name = nm, .dtype = t->dtype, .n_dims = 3, .shape = { E, t->shape[0], t->shape[1] }, .data = d,
                         .n_bytes = (size_t)E * t->n_bytes };
    return LLM_OK;
}

/* The weights: every tensor of src converted into dst/model.safetensors. */
static llm_status llm__convert_weights(const llm_convert_params *p, llm_safetensors *st, const cJSON *cfg, const char *dst_dir) {
    int64_t n = llm_safetensors_n_tensors(st), k = 0, n_owned = 0;
    llm_tensor *out = (llm_tensor *)calloc((size_t)(3 * n + 1), sizeof *out);   /* owned: up to 7 blocks per tensor */
    void **owned = (void **)calloc((size_t)(7 * n + 1), sizeof *owned);
    llm_status s = out && owned ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n && !s; i++) {
        const llm_tensor *t = llm_safetensors_tensor(st, i);
        char name[600], fmt[600];
        llm_tensor stack = { 0 };
        int64_t m = 0, E = llm__convert_expert0(st, t, name, sizeof name, fmt, sizeof fmt);
        bool qw = t->dtype == LLM_DTYPE_U32 && llm__convert_is_qparam_of(st, t->name);
        if (qw && p->quantize) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: the model is already quantized ('%s'); -d dequantizes it", p->src, t->name);
        if (s) break;
        if (qw && p->dequantize) {
            s = llm__convert_dequant(p, st, cfg, t, out + k++, owned, &n_owned);
            continue;
        }
        if (p->dequantize && llm__convert_is_qparam(st, t->name)) continue;   /* read with the weight */
        if (E) {
            s = llm__convert_stack(st, t, E, name, fmt, &stack, owned, &n_owned);
            t = &stack;
        } else if (llm__convert_is_expert(t->name)) {
            continue;                                       /* in its stack */
        }
        if (!s) s = llm__convert_tensor(p, t, out + k, owned, &n_owned, &m);
        k += m;
    }
    char path[4096];
    if (!s && !llm__path_join(path, sizeof path, dst_dir, "model.safetensors")) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", dst_dir);
    const char *meta[] = { "format", "mlx" };
    if (!s) s = llm_safetensors_write(path, out, k, meta, 1);
    if (!s && p->progress) p->progress(p->progress_user, n, n);
    for (int64_t i = 0; owned && i < n_owned; i++) free(owned[i]);
    free(owned);
    free(out);
    return s;
}

static llm_status llm__convert_gguf(const llm_convert_params *p);   /* 72_convert_gguf_meta.c */

LLM_API llm_status llm_convert_model(const llm_convert_params *params) {
    if (params->gguf) return llm__convert_gguf(params);
    llm_convert_params p = *params;
    if (!p.bits) p.bits = 4;
    if (!p.group_size) p.group_size = 64;
    if (!p.src || !p.dst) return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: src and dst are required");
    if (p.set_dtype && !llm__is_float(p.dtype)) return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: dtype must be f32, f16 or bf16");
    char src_dir[4096];
    if (llm__is_dir(p.src)) snprintf(src_dir, sizeof src_dir, "%s", p.src);
    else llm__path_dir(src_dir, sizeof src_dir, p.src);
    if (!llm__is_dir(p.dst) && mkdir(p.dst, 0777)) return llm__fail(LLM_ERR_IO, "%s: cannot create the directory: %s", p.dst, strerror(errno));
    if (p.quantize && p.dequantize) return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: quantize and dequantize exclude each other");
    llm_safetensors *st = NULL;
    cJSON *cfg = NULL;
    char path[4200];
    llm_status s = llm__path_join(path, sizeof path, src_dir, "config.json") ? llm__json_load(path, &cfg) : llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", src_dir);
    if (!s) s = llm_safetensors_open(p.src, &st);
    if (!s) s = llm__convert_weights(&p, st, cfg, p.dst);
    llm_safetensors_close(st);
    cJSON_Delete(cfg);
    if (!s) s = llm__convert_config(&p, src_dir, p.dst);
    if (!s) s = llm__convert_copy_files(src_dir, p.dst);
    return s;
}
#endif
