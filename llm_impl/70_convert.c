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
static llm_status llm__convert_tensor(const llm_convert_params *p, const llm_tensor *t, int bits, llm_tensor *out, void **owned,
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
    /* affine: .weight, .scales, .biases (scales and biases in dt); fp modes: .weight, u8 .scales */
    int fp = llm__mlx_mode(p->q_mode), n_q = fp >= 0 ? 2 : 3;
    llm_dtype sdt = fp >= 0 ? LLM_DTYPE_U8 : dt;
    int64_t cols = t->shape[t->n_dims - 1], rows = n / cols, ng = n / p->group_size;
    size_t wb = llm_mlx_weight_bytes(rows, cols, bits), pb = llm_dtype_n_bytes(sdt, ng);
    float *f = (float *)malloc((size_t)n * sizeof *f);
    void *data[3] = { owned[(*n_owned)++] = malloc(wb), owned[(*n_owned)++] = malloc(pb), NULL };
    if (fp < 0) data[2] = owned[(*n_owned)++] = malloc(pb);
    if (!f || !data[0] || !data[1] || (fp < 0 && !data[2])) { free(f); return llm__fail(LLM_ERR_NOMEM, "out of memory"); }
    llm_convert(LLM_DTYPE_F32, f, t->dtype, t->data, n);
    for (int64_t i = 0; i < n; i++) f[i] = llm__mlx_round(f[i], dt);   /* the values of mlx's array of dtype dt */
    llm_status s = fp >= 0 ? llm__mlx_quantize_fp_dt((llm_mlx_fp_mode)fp, f, rows, cols, dt, data[0], (uint8_t *)data[1])
                           : llm_mlx_quantize(f, rows, cols, bits, p->group_size, dt, data[0], data[1], data[2]);
    free(f);
    if (s) return s;
    const char *suffix[3] = { "weight", "scales", "biases" };
    size_t base = strlen(t->name) - 6;                     /* "<module>." */
    for (int i = 0; i < n_q; i++) {
        out[i] = *t;
        if (i) {
            char *nm = (char *)(owned[(*n_owned)++] = malloc(base + 7));
            if (!nm) return llm__fail(LLM_ERR_NOMEM, "out of memory");
            memcpy(nm, t->name, base);
            memcpy(nm + base, suffix[i], 7);
            out[i].name = nm;
        }
        out[i].dtype = i ? sdt : LLM_DTYPE_U32;
        out[i].shape[t->n_dims - 1] = i ? cols / p->group_size : cols * bits / 32;
        out[i].data = data[i];
        out[i].n_bytes = i ? pb : wb;
    }
    *n_out = n_q;
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

/* ---- mixed-precision recipes: mlx_lm convert.py's mixed_quant_predicate ----
   "mixed_L_H" quantizes to L bits, except at H bits: lm_head, and v_proj and down_proj in
   the layers llama.cpp's Q4_K_M favours (the first and last eighth, and every third one
   between). Each quantized module gets its own {"group_size", "bits", "mode"} entry in
   config.json's "quantization", as mlx_lm writes them. */
typedef struct llm__convert_mix {
    int low, high;            /* 0: no recipe */
    int layer_at;             /* which '.'-separated part of a module path is the layer index */
    int64_t n_layers;
    cJSON *per;               /* module path -> its entry, for config.json */
} llm__convert_mix;

static llm_status llm__convert_mix_init(const llm_convert_params *p, llm_safetensors *st, const cJSON *cfg, llm__convert_mix *mx) {
    static const struct { const char *name; int low, high; } recipes[] = {
        { "mixed_2_6", 2, 6 }, { "mixed_3_4", 3, 4 }, { "mixed_3_6", 3, 6 }, { "mixed_4_6", 4, 6 },
    };
    memset(mx, 0, sizeof *mx);
    if (!p->quant_predicate) return LLM_OK;
    for (int i = 0; i < LLM__COUNT(recipes); i++)
        if (!strcmp(p->quant_predicate, recipes[i].name)) mx->low = recipes[i].low, mx->high = recipes[i].high;
    if (!mx->low) return llm__fail(LLM_ERR_INVALID_ARG, "quant predicate '%s' is unknown (mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6)", p->quant_predicate);
    const char *down = NULL;
    for (int64_t i = 0; i < llm_safetensors_n_tensors(st) && !down; i++)
        if (strstr(llm_safetensors_tensor(st, i)->name, "down_proj")) down = llm_safetensors_tensor(st, i)->name;
    if (!down) return llm__fail(LLM_ERR_INVALID_ARG, "%s: the model has no down_proj, which mixed quantization needs", p->src);
    for (const char *c = down; *c; mx->layer_at++) {           /* the first all-digit part */
        size_t n = strcspn(c, ".");
        if (n && strspn(c, "0123456789") >= n) break;
        c += n + (c[n] == '.');
    }
    const cJSON *text = llm__json_get(cfg, "text_config");
    mx->n_layers = llm__json_int(cfg, "num_hidden_layers", llm__json_int(text, "num_hidden_layers", 0));
    mx->per = cJSON_CreateObject();
    return mx->per ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "out of memory");
}

/* The bits of module `path` ("model.layers.3.mlp.down_proj"), recorded for config.json. */
static int llm__convert_mix_bits(const llm_convert_params *p, const llm__convert_mix *mx, const char *path) {
    if (!mx->low) return p->bits;
    const char *c = path;
    for (int i = 0; i < mx->layer_at && c; i++) c = strchr(c, '.') ? strchr(c, '.') + 1 : NULL;
    int64_t L = mx->n_layers, il = c ? strtoll(c, NULL, 10) : 0;
    bool more = il < L / 8 || il >= 7 * L / 8 || (il - L / 8) % 3 == 2;
    bool v = strstr(path, "v_proj") || strstr(path, "v_a_proj") || strstr(path, "v_b_proj");
    int bits = ((v || strstr(path, "down_proj")) && more) || strstr(path, "lm_head") ? mx->high : mx->low;
    cJSON *e = cJSON_CreateObject();
    if (e) {
        cJSON_AddNumberToObject(e, "group_size", p->group_size);
        cJSON_AddNumberToObject(e, "bits", bits);
        cJSON_AddStringToObject(e, "mode", "affine");
        cJSON_AddItemToObject(mx->per, path, e);
    }
    return bits;
}

/* config.json of src with the quantization blocks mlx_lm writes (both names). */
static llm_status llm__convert_config(const llm_convert_params *p, const cJSON *per, const char *src_dir, const char *dst_dir) {
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
        if (q) { cJSON_AddNumberToObject(q, "group_size", p->group_size); cJSON_AddNumberToObject(q, "bits", p->bits); cJSON_AddStringToObject(q, "mode", p->q_mode); }
        for (const cJSON *e = per ? per->child : NULL; q && e; e = e->next) cJSON_AddItemToObject(q, e->string, cJSON_Duplicate(e, true));
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

/* The converted tensors and the memory they own. */
typedef struct llm__convert_out {
    llm_tensor *t;
    int64_t n;
    void **owned;
    int64_t n_owned;
} llm__convert_out;

/* Source tensor i (expert 0 stands for its stack) into o. */
static llm_status llm__convert_one(const llm_convert_params *p, llm_safetensors *st, const cJSON *cfg, llm__convert_mix *mx, int64_t i,
                                   llm__convert_out *o) {
    const llm_tensor *t = llm_safetensors_tensor(st, i);
    char name[600], fmt[600];
    llm_tensor stack = { 0 };
    int64_t m = 0, E = llm__convert_expert0(st, t, name, sizeof name, fmt, sizeof fmt);
    llm_status s = LLM_OK;
    bool qw = t->dtype == LLM_DTYPE_U32 && llm__convert_is_qparam_of(st, t->name);
    if (qw && p->quantize) return llm__fail(LLM_ERR_INVALID_ARG, "%s: the model is already quantized ('%s'); -d dequantizes it", p->src, t->name);
    if (qw && p->dequantize) return llm__convert_dequant(p, st, cfg, t, o->t + o->n++, o->owned, &o->n_owned);
    if (p->dequantize && llm__convert_is_qparam(st, t->name)) return LLM_OK;   /* read with the weight */
    if (E) {
        if ((s = llm__convert_stack(st, t, E, name, fmt, &stack, o->owned, &o->n_owned))) return s;
        t = &stack;
    } else if (llm__convert_is_expert(t->name)) {
        return LLM_OK;                                      /* in its stack */
    }
    int bits = p->bits;
    if (p->quantize && llm__convert_quantizable(t, p->group_size)) {
        snprintf(name, sizeof name, "%.*s", (int)strlen(t->name) - 7, t->name);   /* the module's path */
        bits = llm__convert_mix_bits(p, mx, name);
    }
    s = llm__convert_tensor(p, t, bits, o->t + o->n, o->owned, &o->n_owned, &m);
    o->n += m;
    return s;
}

/* ---- saving as mlx_lm's save_model: shards of at most max_shard_bytes ----
   Tensors go in order into the current shard until the next would overflow it (a larger
   tensor gets a shard of its own). One shard: model.safetensors; more:
   model-0000i-of-0000N.safetensors and model.safetensors.index.json ("metadata":
   total_size, total_parameters; "weight_map" sorted by name). */
static int llm__convert_by_name(const void *a, const void *b) {
    return strcmp((*(llm_tensor *const *)a)->name, (*(llm_tensor *const *)b)->name);
}

/* mlx_lm's get_total_parameters: a quantized matrix counts its logical elements (rows *
   scale groups * group size), its scales and biases nothing. */
static int64_t llm__convert_n_params(const llm__convert_out *o, int group_size) {
    int64_t total = 0;
    for (int64_t i = 0; i < o->n; i++) {
        const llm_tensor *t = &o->t[i], *sc = NULL;
        size_t len = strlen(t->name);
        char nm[620];
        if (len > 7 && (!strcmp(t->name + len - 7, ".scales") || !strcmp(t->name + len - 7, ".biases"))) continue;
        if (t->dtype == LLM_DTYPE_U32 && len > 7 && len < 600) {
            snprintf(nm, sizeof nm, "%.*s.scales", (int)len - 7, t->name);
            for (int64_t j = 0; j < o->n && !sc; j++) sc = strcmp(o->t[j].name, nm) ? NULL : &o->t[j];
        }
        total += sc ? llm_tensor_n_elems(sc) * group_size : llm_tensor_n_elems(t);
    }
    return total;
}

static llm_status llm__convert_index(const llm__convert_out *o, const int64_t *shard_of, int64_t n_shards,
                                     int64_t total_params, const char *dst_dir) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "metadata"), *map = cJSON_AddObjectToObject(root, "weight_map");
    size_t total = 0;
    llm_tensor **order = (llm_tensor **)malloc((size_t)o->n * sizeof *order + 1);
    llm_status s = root && meta && map && order ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; !s && i < o->n; i++) total += o->t[i].n_bytes, order[i] = &o->t[i];
    if (!s) {
        cJSON_AddNumberToObject(meta, "total_size", (double)total);
        cJSON_AddNumberToObject(meta, "total_parameters", (double)total_params);
        qsort(order, (size_t)o->n, sizeof *order, llm__convert_by_name);
        for (int64_t i = 0; i < o->n; i++) {
            char shard[64];
            snprintf(shard, sizeof shard, "model-%05lld-of-%05lld.safetensors", (long long)shard_of[order[i] - o->t] + 1, (long long)n_shards);
            cJSON_AddStringToObject(map, order[i]->name, shard);
        }
    }
    char *text = s ? NULL : cJSON_Print(root), path[4200];
    if (!s && !text) s = llm__fail(LLM_ERR_NOMEM, "out of memory");
    if (!s && !llm__path_join(path, sizeof path, dst_dir, "model.safetensors.index.json")) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", dst_dir);
    llm__atomic_file af;
    if (!s && !(s = llm__atomic_open(&af, path))) { s = llm__atomic_write(&af, text, strlen(text)); llm_status c = llm__atomic_close(&af, !s); if (!s) s = c; }
    free(text);
    free(order);
    cJSON_Delete(root);
    return s;
}
/* o's tensors into dst_dir as one file or as shards with an index. */
static llm_status llm__convert_save(const llm_convert_params *p, const llm__convert_out *o, const char *dst_dir) {
    int64_t *shard_of = (int64_t *)malloc((size_t)o->n * sizeof *shard_of + 1), n_shards = 0;
    if (!shard_of) return llm__fail(LLM_ERR_NOMEM, "out of memory");
    size_t max = p->max_shard_bytes ? p->max_shard_bytes : (size_t)5 << 30, size = 0;
    for (int64_t i = 0; i < o->n; i++) {
        if (!n_shards || size + o->t[i].n_bytes > max) n_shards++, size = 0;
        shard_of[i] = n_shards - 1;
        size += o->t[i].n_bytes;
    }
    const char *meta[] = { "format", "mlx" };
    llm_status s = LLM_OK;
    for (int64_t k = 0, i0 = 0; k < LLM__MAX(n_shards, 1) && !s; k++) {
        int64_t i1 = i0;
        while (i1 < o->n && shard_of[i1] == k) i1++;
        char name[64], path[4200];
        if (n_shards > 1) snprintf(name, sizeof name, "model-%05lld-of-%05lld.safetensors", (long long)k + 1, (long long)n_shards);
        else snprintf(name, sizeof name, "model.safetensors");
        if (!llm__path_join(path, sizeof path, dst_dir, name)) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", dst_dir);
        if (!s) s = llm_safetensors_write(path, o->t + i0, i1 - i0, meta, 1);
        i0 = i1;
    }
    if (!s && n_shards > 1) s = llm__convert_index(o, shard_of, n_shards, llm__convert_n_params(o, p->group_size), dst_dir);
    free(shard_of);
    return s;
}

/* The weights: every tensor of src converted into dst. */
static llm_status llm__convert_weights(const llm_convert_params *p, llm_safetensors *st, const cJSON *cfg, llm__convert_mix *mx,
                                       const char *dst_dir) {
    int64_t n = llm_safetensors_n_tensors(st);
    llm__convert_out o = { (llm_tensor *)calloc((size_t)(3 * n + 1), sizeof *o.t), 0,
                           (void **)calloc((size_t)(7 * n + 1), sizeof *o.owned), 0 };   /* up to 3 tensors, 7 blocks each */
    llm_status s = o.t && o.owned ? LLM_OK : llm__fail(LLM_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n && !s; i++) {
        s = llm__convert_one(p, st, cfg, mx, i, &o);
        if (!s && p->progress) p->progress(p->progress_user, i + 1, n);
    }
    if (!s) s = llm__convert_save(p, &o, dst_dir);
    for (int64_t i = 0; o.owned && i < o.n_owned; i++) free(o.owned[i]);
    free(o.owned);
    free(o.t);
    return s;
}

static llm_status llm__convert_gguf(const llm_convert_params *p);   /* 72_convert_gguf_meta.c */

/* p's quantization mode: q_mode "affine" when unset, and bits and group size from the mode
   when 0 (affine 4 and 64); an fp mode accepts only its own (mlx's quantize refuses others)
   and no mixed recipe (mlx_lm convert refuses them: "only 'affine'"). */
static llm_status llm__convert_mode(llm_convert_params *p) {
    if (!p->q_mode) p->q_mode = "affine";
    int fp = llm__mlx_mode(p->q_mode), gs, bits;
    if (fp == -2) return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: q_mode '%s' is unknown (affine, mxfp4, nvfp4, mxfp8)", p->q_mode);
    llm__mlx_mode_defaults(p->q_mode, &gs, &bits);
    if (fp >= 0 && ((p->bits && p->bits != bits) || (p->group_size && p->group_size != gs)))
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: mode %s takes %d bits and groups of %d, not %d and %d", p->q_mode,
                         bits, gs, p->bits ? p->bits : bits, p->group_size ? p->group_size : gs);
    if (fp >= 0 && p->quant_predicate)
        return llm__fail(LLM_ERR_INVALID_ARG, "llm_convert_model: mixed recipes ('%s') support only the affine mode", p->quant_predicate);
    if (!p->bits) p->bits = bits;
    if (!p->group_size) p->group_size = gs;
    return LLM_OK;
}

LLM_API llm_status llm_convert_model(const llm_convert_params *params) {
    if (params->gguf) return llm__convert_gguf(params);
    llm_convert_params p = *params;
    llm_status s = llm__convert_mode(&p);
    if (s) return s;
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
    s = llm__path_join(path, sizeof path, src_dir, "config.json") ? llm__json_load(path, &cfg) : llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", src_dir);
    llm__convert_mix mx = { 0 };
    if (!s) s = llm_safetensors_open(p.src, &st);
    if (!s && p.quantize) s = llm__convert_mix_init(&p, st, cfg, &mx);
    if (!s) s = llm__convert_weights(&p, st, cfg, &mx, p.dst);
    llm_safetensors_close(st);
    cJSON_Delete(cfg);
    if (!s) s = llm__convert_config(&p, mx.per, src_dir, p.dst);
    cJSON_Delete(mx.per);
    if (!s) s = llm__convert_copy_files(src_dir, p.dst);
    return s;
}
#endif
