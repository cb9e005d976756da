/* ---- >>gguf: validated mmap reader and atomic writer for GGUF v2/v3 ----
   Layout (all little-endian; spec: ggml/docs/gguf.md, reference: ggml/src/gguf.cpp):
     "GGUF" u32 version, u64 n_tensors, u64 n_kv
     n_kv x   { string key, u32 value_type, value }          string = u64 len + bytes
     n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
     padding to `alignment` (general.alignment, default 32), then the data section;
     offsets are relative to it and multiples of the alignment.
   Reading walks the metadata twice: a first pass checks that every length and count fits
   in the file and adds up the bytes needed to copy keys, strings and arrays out of it; then
   one allocation (the arena) holds them all and a second pass fills it. Nothing is
   allocated from a count before the bytes behind it were seen, so a count near 2^64 fails
   as "runs past the end of the file". Not here: model loading, v1 files, big-endian files. */
#include "10_internal.h"
#include "07_api_gguf.h"

#define LLM__GGUF_ALIGNMENT 32

/* ggml type ids (ggml.h enum ggml_type) -> our dtypes; -1 = a ggml type we do not
   support (named in the error), NULL name = an id ggml never used or removed. */
static const struct { int dtype; const char *name; } llm__ggml_types[] = {
    [0]  = { LLM_DTYPE_F32, "f32" },   [1]  = { LLM_DTYPE_F16, "f16" },
    [2]  = { LLM_DTYPE_Q4_0, "q4_0" }, [3]  = { LLM_DTYPE_Q4_1, "q4_1" },
    [6]  = { LLM_DTYPE_Q5_0, "q5_0" }, [7]  = { LLM_DTYPE_Q5_1, "q5_1" },
    [8]  = { LLM_DTYPE_Q8_0, "q8_0" }, [9]  = { -1, "q8_1" },
    [10] = { LLM_DTYPE_Q2_K, "q2_K" }, [11] = { LLM_DTYPE_Q3_K, "q3_K" },
    [12] = { LLM_DTYPE_Q4_K, "q4_K" }, [13] = { LLM_DTYPE_Q5_K, "q5_K" },
    [14] = { LLM_DTYPE_Q6_K, "q6_K" }, [15] = { LLM_DTYPE_Q8_K, "q8_K" },
    [16] = { -1, "iq2_xxs" }, [17] = { -1, "iq2_xs" }, [18] = { -1, "iq3_xxs" },
    [19] = { -1, "iq1_s" },   [20] = { -1, "iq4_nl" }, [21] = { -1, "iq3_s" },
    [22] = { -1, "iq2_s" },   [23] = { -1, "iq4_xs" },
    [24] = { LLM_DTYPE_I8, "i8" },     [25] = { LLM_DTYPE_I16, "i16" },
    [26] = { LLM_DTYPE_I32, "i32" },   [27] = { LLM_DTYPE_I64, "i64" },
    [28] = { LLM_DTYPE_F64, "f64" },   [29] = { -1, "iq1_m" },
    [30] = { LLM_DTYPE_BF16, "bf16" }, [34] = { -1, "tq1_0" }, [35] = { -1, "tq2_0" },
    [39] = { LLM_DTYPE_MXFP4, "mxfp4" },
};

/* GGUF value type -> size in bytes (0: string and array, which have their own layout). */
static const uint8_t llm__gguf_type_size[LLM_GGUF_TYPE_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
static const char *const llm__gguf_type_names[LLM_GGUF_TYPE_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64" };

struct llm_gguf {
    char *path;
    llm__mapping map;
    bool owns_map;                 /* false for llm_gguf_open_memory */
    uint32_t version, alignment;
    int64_t n_kv, n_tensors;
    llm_gguf_kv *kvs;              /* file order */
    const llm_gguf_kv **kv_by_key; /* sorted by key, for lookups */
    llm_tensor *tensors;           /* file order; data points into map */
    const llm_tensor **by_name;    /* sorted by name */
    uint8_t *arena;                /* keys, names, strings and arrays copied out of the file */
};

/* ---- reading primitives ---- */

typedef struct llm__gguf_rd {
    const uint8_t *base;
    size_t size, pos;
    const char *path;
    char name[128];   /* while measuring: the current key or tensor name, for error messages */
} llm__gguf_rd;

/* The arena: measuring when base is NULL (only `used` grows), filling otherwise. */
typedef struct llm__gguf_arena {
    uint8_t *base;
    size_t used;
} llm__gguf_arena;

static void *llm__gguf_take(llm__gguf_arena *ar, size_t n, size_t align) {
    ar->used = (ar->used + align - 1) / align * align;
    void *p = ar->base ? ar->base + ar->used : NULL;
    ar->used += n;
    return p;
}

static llm_status llm__gguf_need(llm__gguf_rd *r, uint64_t n, const char *what, const char *name) {
    if (n <= r->size - r->pos) return LLM_OK;
    return llm__fail(LLM_ERR_FORMAT, "%s: %s%s%s runs past the end of the file (needs %llu bytes at offset %zu, file has %zu)",
                     r->path, what, name ? " " : "", name ? name : "", (unsigned long long)n, r->pos, r->size);
}

static uint64_t llm__le(const uint8_t *p, int n_bytes) {
    uint64_t v = 0;
    for (int i = n_bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Read an n_bytes little-endian unsigned integer. `what`/`name` describe it for errors. */
static llm_status llm__gguf_uint(llm__gguf_rd *r, int n_bytes, uint64_t *out, const char *what, const char *name) {
    llm_status s = llm__gguf_need(r, (uint64_t)n_bytes, what, name);
    if (s) return s;
    *out = llm__le(r->base + r->pos, n_bytes);
    r->pos += (size_t)n_bytes;
    return LLM_OK;
}

/* A GGUF string, copied NUL-terminated into the arena when filling. A key or tensor name
   (is_name) is also copied, shortened, into r->name while measuring, for error messages. */
static llm_status llm__gguf_string(llm__gguf_rd *r, llm__gguf_arena *ar, llm_gguf_str *out, bool is_name,
                                   const char *what, const char *name) {
    uint64_t len;
    llm_status s = llm__gguf_uint(r, 8, &len, what, name);
    if (!s) s = llm__gguf_need(r, len, what, name);
    if (s) return s;
    const char *src = (const char *)r->base + r->pos;
    char *dst = (char *)llm__gguf_take(ar, (size_t)len + 1, 1);
    if (dst) {
        memcpy(dst, src, (size_t)len);
        dst[len] = 0;
        out->str = dst;
        out->len = len;
    } else if (is_name) {
        snprintf(r->name, sizeof r->name, "%.*s", (int)LLM__MIN(len, sizeof r->name - 1), src);
        out->str = r->name;
        out->len = strlen(r->name);
    }
    r->pos += (size_t)len;
    return LLM_OK;
}

/* ---- metadata ---- */

/* An array value: u32 element type, u64 count, elements. Arrays of scalars are copied into
   aligned arena memory (the file gives no alignment); bools become 0/1. */
static llm_status llm__gguf_array(llm__gguf_rd *r, llm__gguf_arena *ar, llm_gguf_kv *kv) {
    uint64_t type, n;
    llm_status s = llm__gguf_uint(r, 4, &type, "array type of", kv->key);
    if (!s) s = llm__gguf_uint(r, 8, &n, "array length of", kv->key);
    if (s) return s;
    if (type == LLM_GGUF_ARRAY)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: metadata '%s' is an array of arrays (not supported)", r->path, kv->key);
    if (type >= LLM_GGUF_TYPE_COUNT)
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is an array of unknown value type %llu", r->path, kv->key,
                         (unsigned long long)type);
    size_t elem = type == LLM_GGUF_STRING ? 8 : llm__gguf_type_size[type];   /* a string takes at least 8 */
    if (n > (r->size - r->pos) / elem)
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' claims %llu elements, which run past the end of the file",
                         r->path, kv->key, (unsigned long long)n);
    kv->arr_type = (llm_gguf_type)type;
    kv->n = (int64_t)n;
    if (type == LLM_GGUF_STRING) {
        llm_gguf_str *strs = (llm_gguf_str *)llm__gguf_take(ar, (size_t)n * sizeof *strs, sizeof(void *));
        kv->v.arr = strs;
        llm_gguf_str dummy;
        for (uint64_t i = 0; i < n && !s; i++) s = llm__gguf_string(r, ar, strs ? &strs[i] : &dummy, false, "string array", kv->key);
        return s;
    }
    uint8_t *dst = (uint8_t *)llm__gguf_take(ar, (size_t)n * elem, 8);
    kv->v.arr = dst;
    if (dst && type == LLM_GGUF_BOOL)
        for (uint64_t i = 0; i < n; i++) ((bool *)dst)[i] = r->base[r->pos + i] != 0;
    else if (dst)
        memcpy(dst, r->base + r->pos, (size_t)n * elem);   /* GGUF and the host are little-endian */
    r->pos += (size_t)n * elem;
    return LLM_OK;
}

/* One key/value entry into kv (a scratch entry when measuring). */
static llm_status llm__gguf_kv(llm__gguf_rd *r, llm__gguf_arena *ar, llm_gguf_kv *kv, int64_t index) {
    char what[64];
    snprintf(what, sizeof what, "key of metadata entry %lld", (long long)index);
    llm_gguf_str key = { "", 0 };
    uint64_t type;
    llm_status s = llm__gguf_string(r, ar, &key, true, what, NULL);
    memset(kv, 0, sizeof *kv);
    kv->key = key.str;
    kv->n = 1;
    if (!s) s = llm__gguf_uint(r, 4, &type, "value type of", kv->key);
    if (s) return s;
    if (type >= LLM_GGUF_TYPE_COUNT)
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' has unknown value type %llu", r->path, kv->key, (unsigned long long)type);
    kv->type = (llm_gguf_type)type;
    if (type == LLM_GGUF_ARRAY) return llm__gguf_array(r, ar, kv);
    if (type == LLM_GGUF_STRING) return llm__gguf_string(r, ar, &kv->v.str, false, "string value of", kv->key);
    uint64_t v;
    s = llm__gguf_uint(r, llm__gguf_type_size[type], &v, "value of", kv->key);
    if (s) return s;
    switch (kv->type) {
    case LLM_GGUF_U8:   kv->v.u8 = (uint8_t)v; break;
    case LLM_GGUF_I8:   kv->v.i8 = (int8_t)v; break;
    case LLM_GGUF_U16:  kv->v.u16 = (uint16_t)v; break;
    case LLM_GGUF_I16:  kv->v.i16 = (int16_t)v; break;
    case LLM_GGUF_U32:  kv->v.u32 = (uint32_t)v; break;
    case LLM_GGUF_I32:  kv->v.i32 = (int32_t)v; break;
    case LLM_GGUF_U64:  kv->v.u64 = v; break;
    case LLM_GGUF_I64:  kv->v.i64 = (int64_t)v; break;
    case LLM_GGUF_BOOL: kv->v.b = v != 0; break;
    case LLM_GGUF_F32:  { uint32_t u = (uint32_t)v; memcpy(&kv->v.f32, &u, 4); break; }
    default:            memcpy(&kv->v.f64, &v, 8); break;   /* f64 */
    }
    return LLM_OK;
}

/* ---- tensor infos ---- */

typedef struct llm__gguf_info {
    llm_gguf_str name;
    uint32_t n_dims, type;
    uint64_t ne[LLM_MAX_DIMS], offset;
} llm__gguf_info;

static llm_status llm__gguf_info_read(llm__gguf_rd *r, llm__gguf_arena *ar, llm__gguf_info *t, int64_t index) {
    char what[64];
    snprintf(what, sizeof what, "name of tensor %lld", (long long)index);
    uint64_t v;
    memset(t, 0, sizeof *t);
    t->name.str = "";
    llm_status s = llm__gguf_string(r, ar, &t->name, true, what, NULL);
    if (!s) s = llm__gguf_uint(r, 4, &v, "n_dims of tensor", t->name.str);
    if (s) return s;
    if (v > LLM_MAX_DIMS)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has %llu dims (at most %d)", r->path, t->name.str,
                         (unsigned long long)v, LLM_MAX_DIMS);
    t->n_dims = (uint32_t)v;
    for (uint32_t d = 0; d < t->n_dims && !s; d++) s = llm__gguf_uint(r, 8, &t->ne[d], "dims of tensor", t->name.str);
    if (!s) s = llm__gguf_uint(r, 4, &v, "type of tensor", t->name.str);
    t->type = (uint32_t)v;
    if (!s) s = llm__gguf_uint(r, 8, &t->offset, "offset of tensor", t->name.str);
    return s;
}

/* Check one tensor info and turn it into a view: known type, dims product without
   overflow, rows of whole blocks, an aligned data range inside the file. */
static llm_status llm__gguf_info_tensor(llm_gguf *g, const llm__gguf_info *in, size_t data_start, llm_tensor *t) {
    const char *path = g->path, *name = in->name.str;
    bool known = in->type < (uint32_t)LLM__COUNT(llm__ggml_types) && llm__ggml_types[in->type].name;
    if (!known) return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has unknown ggml type %u", path, name, in->type);
    if (llm__ggml_types[in->type].dtype < 0)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s' has ggml type %s, which llm.h does not support", path, name,
                         llm__ggml_types[in->type].name);
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = (llm_dtype)llm__ggml_types[in->type].dtype;
    t->n_dims = (int32_t)in->n_dims;
    size_t n_elems = 1;
    for (uint32_t d = 0; d < in->n_dims; d++) {
        if (in->ne[d] > (uint64_t)INT64_MAX || !llm__mul_ok(n_elems, (size_t)in->ne[d], &n_elems) || n_elems > (size_t)INT64_MAX)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has dims whose product overflows", path, name);
        t->shape[in->n_dims - 1 - d] = (int64_t)in->ne[d];   /* ggml ne[0] is innermost: reverse */
    }
    const llm_dtype_info *di = llm_dtype_get(t->dtype);
    uint64_t row = in->n_dims > 0 ? in->ne[0] : 1;   /* a scalar is one row of one element */
    if (row % (uint64_t)di->block_elems)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has rows of %llu elements, not a multiple of the %s block size %d",
                         path, name, (unsigned long long)row, di->name, di->block_elems);
    t->n_bytes = llm_dtype_n_bytes(t->dtype, (int64_t)n_elems);
    if (n_elems && !t->n_bytes)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is too large (%zu elements)", path, name, n_elems);
    if (in->offset % g->alignment)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has offset %llu, not a multiple of the alignment %u", path, name,
                         (unsigned long long)in->offset, g->alignment);
    size_t room = data_start <= g->map.size ? g->map.size - data_start : 0;
    if (in->offset > room || t->n_bytes > room - in->offset)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' (%zu bytes at data offset %llu) runs past the end of the file (%zu bytes)",
                         path, name, t->n_bytes, (unsigned long long)in->offset, g->map.size);
    t->data = (void *)(g->map.data + data_start + in->offset);
    return LLM_OK;
}

static int llm__gguf_by_data(const void *a, const void *b) {
    const uint8_t *x = (const uint8_t *)(*(const llm_tensor *const *)a)->data;
    const uint8_t *y = (const uint8_t *)(*(const llm_tensor *const *)b)->data;
    return (x > y) - (x < y);
}
static int llm__gguf_by_name(const void *a, const void *b) {
    return strcmp((*(const llm_tensor *const *)a)->name, (*(const llm_tensor *const *)b)->name);
}
static int llm__gguf_by_key(const void *a, const void *b) {
    return strcmp((*(const llm_gguf_kv *const *)a)->key, (*(const llm_gguf_kv *const *)b)->key);
}

/* Tensors must not overlap and names/keys must be unique: sort, then compare neighbours.
   by_name is used as scratch for the overlap check before it is sorted by name. */
static llm_status llm__gguf_index(llm_gguf *g) {
    for (int64_t i = 0; i < g->n_tensors; i++) g->by_name[i] = &g->tensors[i];
    qsort(g->by_name, (size_t)g->n_tensors, sizeof *g->by_name, llm__gguf_by_data);
    for (int64_t i = 1; i < g->n_tensors; i++) {
        const llm_tensor *a = g->by_name[i - 1], *b = g->by_name[i];
        if ((const uint8_t *)a->data + a->n_bytes > (const uint8_t *)b->data)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", g->path, a->name, b->name);
    }
    qsort(g->by_name, (size_t)g->n_tensors, sizeof *g->by_name, llm__gguf_by_name);
    for (int64_t i = 1; i < g->n_tensors; i++)
        if (strcmp(g->by_name[i - 1]->name, g->by_name[i]->name) == 0)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' appears twice", g->path, g->by_name[i]->name);
    for (int64_t i = 0; i < g->n_kv; i++) g->kv_by_key[i] = &g->kvs[i];
    qsort(g->kv_by_key, (size_t)g->n_kv, sizeof *g->kv_by_key, llm__gguf_by_key);
    for (int64_t i = 1; i < g->n_kv; i++)
        if (strcmp(g->kv_by_key[i - 1]->key, g->kv_by_key[i]->key) == 0)
            return llm__fail(LLM_ERR_FORMAT, "%s: metadata key '%s' appears twice", g->path, g->kv_by_key[i]->key);
    return LLM_OK;
}

/* ---- opening ---- */

/* Magic, version and the two counts; the counts are checked against the bytes left (an
   entry takes at least 13 bytes, a tensor info at least 24) before anything trusts them. */
static llm_status llm__gguf_header(llm_gguf *g, llm__gguf_rd *r) {
    if (r->size < 4 || memcmp(r->base, "GGUF", 4) != 0)
        return llm__fail(LLM_ERR_FORMAT, "%s: not a GGUF file (it does not start with \"GGUF\")", r->path);
    r->pos = 4;
    uint64_t version, n_tensors, n_kv;
    llm_status s = llm__gguf_uint(r, 4, &version, "version", NULL);
    if (s) return s;
    if (version == 1)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: GGUF v1 is not supported (convert the model again with a current llama.cpp)", r->path);
    if (version > 0xffff && (version & 0xffff) == 0)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: big-endian GGUF files are not supported", r->path);
    if (version != 2 && version != 3)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: GGUF version %llu (llm.h reads v2 and v3)", r->path, (unsigned long long)version);
    s = llm__gguf_uint(r, 8, &n_tensors, "tensor count", NULL);
    if (!s) s = llm__gguf_uint(r, 8, &n_kv, "metadata count", NULL);
    if (s) return s;
    if (n_kv > (r->size - r->pos) / 13 || n_tensors > (r->size - r->pos) / 24)
        return llm__fail(LLM_ERR_FORMAT, "%s: header claims %llu metadata entries and %llu tensors, more than the file's %zu bytes can hold",
                         r->path, (unsigned long long)n_kv, (unsigned long long)n_tensors, r->size);
    g->version = (uint32_t)version;
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    return LLM_OK;
}

/* Walk all metadata and tensor infos: measuring (ar->base NULL, entries go to scratch)
   or filling g->kvs and infos. */
static llm_status llm__gguf_walk(llm_gguf *g, llm__gguf_rd *r, llm__gguf_arena *ar, llm__gguf_info *infos) {
    llm_gguf_kv kv;
    llm__gguf_info info;
    llm_status s = LLM_OK;
    for (int64_t i = 0; i < g->n_kv && !s; i++) s = llm__gguf_kv(r, ar, ar->base ? &g->kvs[i] : &kv, i);
    for (int64_t i = 0; i < g->n_tensors && !s; i++) s = llm__gguf_info_read(r, ar, ar->base ? &infos[i] : &info, i);
    return s;
}

/* general.alignment, when present: a u32 power of two and a multiple of 8 (the spec's
   rule; tensor views need their elements naturally aligned). */
static llm_status llm__gguf_alignment(llm_gguf *g) {
    g->alignment = LLM__GGUF_ALIGNMENT;
    for (int64_t i = 0; i < g->n_kv; i++) {
        const llm_gguf_kv *kv = &g->kvs[i];
        if (strcmp(kv->key, "general.alignment") != 0) continue;
        if (kv->type != LLM_GGUF_U32)
            return llm__fail(LLM_ERR_FORMAT, "%s: general.alignment is %s, expected u32", g->path, llm__gguf_type_names[kv->type]);
        if (kv->v.u32 < 8 || (kv->v.u32 & (kv->v.u32 - 1)))
            return llm__fail(LLM_ERR_FORMAT, "%s: general.alignment %u is not a power of two >= 8", g->path, kv->v.u32);
        g->alignment = kv->v.u32;
    }
    return LLM_OK;
}

static llm_status llm__gguf_load(llm_gguf *g) {
    llm__gguf_rd r = { g->map.data, g->map.size, 0, g->path, { 0 } };
    llm_status s = llm__gguf_header(g, &r);
    if (s) return s;
    size_t start = r.pos;
    llm__gguf_arena ar = { NULL, 0 };
    if ((s = llm__gguf_walk(g, &r, &ar, NULL))) return s;
    llm__gguf_info *infos = (llm__gguf_info *)llm__calloc(NULL, (size_t)g->n_tensors, sizeof *infos);
    g->arena = (uint8_t *)llm__alloc(NULL, ar.used);
    g->kvs = (llm_gguf_kv *)llm__calloc(NULL, (size_t)g->n_kv, sizeof *g->kvs);
    g->kv_by_key = (const llm_gguf_kv **)llm__calloc(NULL, (size_t)g->n_kv, sizeof *g->kv_by_key);
    g->tensors = (llm_tensor *)llm__calloc(NULL, (size_t)g->n_tensors, sizeof *g->tensors);
    g->by_name = (const llm_tensor **)llm__calloc(NULL, (size_t)g->n_tensors, sizeof *g->by_name);
    if (!infos || !g->arena || !g->kvs || !g->kv_by_key || !g->tensors || !g->by_name) {
        llm__free(NULL, infos);
        return llm__fail(LLM_ERR_NOMEM, "%s: out of memory for the metadata (%zu bytes)", g->path, ar.used);
    }
    r.pos = start;
    ar = (llm__gguf_arena){ g->arena, 0 };
    s = llm__gguf_walk(g, &r, &ar, infos);   /* cannot fail: the same bytes passed the first walk */
    if (!s) s = llm__gguf_alignment(g);
    size_t data_start = (r.pos + g->alignment - 1) / g->alignment * g->alignment;
    for (int64_t i = 0; i < g->n_tensors && !s; i++) s = llm__gguf_info_tensor(g, &infos[i], data_start, &g->tensors[i]);
    if (!s) s = llm__gguf_index(g);
    llm__free(NULL, infos);
    return s;
}

/* Open from a file (data NULL: map it) or from memory the caller keeps. */
static llm_status llm__gguf_open(const char *path, const void *data, size_t size, llm_gguf **out_gguf) {
    llm_gguf *g = (llm_gguf *)llm__calloc(NULL, 1, sizeof *g);
    if (!g || !(g->path = llm__strdup(NULL, path))) {
        llm__free(NULL, g);
        return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    }
    llm_status s = LLM_OK;
    if (data) {
        g->map.data = (const uint8_t *)data;
        g->map.size = size;
    } else {
        s = llm__map_file(path, &g->map);
        g->owns_map = true;
    }
    if (!s) s = llm__gguf_load(g);
    if (s) { llm_gguf_close(g); return s; }
    *out_gguf = g;
    return LLM_OK;
}

LLM_API llm_status llm_gguf_open(const char *path, llm_gguf **out_gguf) {
    return llm__gguf_open(path, NULL, 0, out_gguf);
}

LLM_API llm_status llm_gguf_open_memory(const void *data, size_t n_bytes, const char *name, llm_gguf **out_gguf) {
    static const uint8_t empty[1];
    return llm__gguf_open(name ? name : "<memory>", data ? data : empty, data ? n_bytes : 0, out_gguf);
}

LLM_API void llm_gguf_close(llm_gguf *g) {
    if (!g) return;
    if (g->owns_map) llm__unmap(&g->map);
    llm__free(NULL, g->path);
    llm__free(NULL, g->arena);
    llm__free(NULL, g->kvs);
    llm__free(NULL, g->kv_by_key);
    llm__free(NULL, g->tensors);
    llm__free(NULL, g->by_name);
    llm__free(NULL, g);
}

LLM_API uint32_t llm_gguf_version(const llm_gguf *g) { return g->version; }
LLM_API uint32_t llm_gguf_alignment(const llm_gguf *g) { return g->alignment; }

/* ---- metadata lookups ---- */

LLM_API int64_t llm_gguf_n_kv(const llm_gguf *g) { return g->n_kv; }

LLM_API const llm_gguf_kv *llm_gguf_kv_at(const llm_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

LLM_API const llm_gguf_kv *llm_gguf_find_kv(const llm_gguf *g, const char *key) {
    int64_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->kv_by_key[mid]->key, key);
        if (c == 0) return g->kv_by_key[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

/* The entry for key with one of the accepted types (a bit mask of 1 << llm_gguf_type). */
static llm_status llm__gguf_typed(const llm_gguf *g, const char *key, unsigned accept, const char *expected,
                                  const llm_gguf_kv **out) {
    const llm_gguf_kv *kv = llm_gguf_find_kv(g, key);
    if (!kv) return llm__fail(LLM_ERR_NOT_FOUND, "%s: no metadata '%s'", g->path, key);
    if (!(accept & (1u << kv->type)))
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is %s, expected %s", g->path, key, llm__gguf_type_names[kv->type], expected);
    *out = kv;
    return LLM_OK;
}

#define LLM__GGUF_INTS ((1u << LLM_GGUF_U8) | (1u << LLM_GGUF_I8) | (1u << LLM_GGUF_U16) | (1u << LLM_GGUF_I16) | \
                        (1u << LLM_GGUF_U32) | (1u << LLM_GGUF_I32) | (1u << LLM_GGUF_U64) | (1u << LLM_GGUF_I64))

/* Element i of n values of integer type `type` at p, as int64_t; false if it does not fit. */
static bool llm__gguf_int_at(llm_gguf_type type, const void *p, int64_t i, int64_t *out) {
    switch (type) {
    case LLM_GGUF_U8:  *out = ((const uint8_t *)p)[i]; return true;
    case LLM_GGUF_I8:  *out = ((const int8_t *)p)[i]; return true;
    case LLM_GGUF_U16: *out = ((const uint16_t *)p)[i]; return true;
    case LLM_GGUF_I16: *out = ((const int16_t *)p)[i]; return true;
    case LLM_GGUF_U32: *out = ((const uint32_t *)p)[i]; return true;
    case LLM_GGUF_I32: *out = ((const int32_t *)p)[i]; return true;
    case LLM_GGUF_I64: *out = ((const int64_t *)p)[i]; return true;
    case LLM_GGUF_U64: *out = (int64_t)((const uint64_t *)p)[i]; return ((const uint64_t *)p)[i] <= (uint64_t)INT64_MAX;
    default: return false;
    }
}

LLM_API llm_status llm_gguf_get_int(const llm_gguf *g, const char *key, int64_t *out) {
    const llm_gguf_kv *kv = NULL;
    llm_status s = llm__gguf_typed(g, key, LLM__GGUF_INTS, "an integer", &kv);
    if (s) return s;
    int64_t v;
    if (!llm__gguf_int_at(kv->type, &kv->v, 0, &v))
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' = %llu does not fit in int64", g->path, key, (unsigned long long)kv->v.u64);
    *out = v;
    return LLM_OK;
}

LLM_API llm_status llm_gguf_get_f32(const llm_gguf *g, const char *key, float *out) {
    const llm_gguf_kv *kv = NULL;
    llm_status s = llm__gguf_typed(g, key, (1u << LLM_GGUF_F32) | (1u << LLM_GGUF_F64), "f32", &kv);
    if (!s) *out = kv->type == LLM_GGUF_F32 ? kv->v.f32 : (float)kv->v.f64;
    return s;
}

LLM_API llm_status llm_gguf_get_bool(const llm_gguf *g, const char *key, bool *out) {
    const llm_gguf_kv *kv = NULL;
    llm_status s = llm__gguf_typed(g, key, 1u << LLM_GGUF_BOOL, "bool", &kv);
    if (!s) *out = kv->v.b;
    return s;
}

LLM_API llm_status llm_gguf_get_str(const llm_gguf *g, const char *key, const char **out) {
    const llm_gguf_kv *kv = NULL;
    llm_status s = llm__gguf_typed(g, key, 1u << LLM_GGUF_STRING, "string", &kv);
    if (!s) *out = kv->v.str.str;
    return s;
}

LLM_API llm_status llm_gguf_get_arr(const llm_gguf *g, const char *key, llm_gguf_type arr_type,
                                    int64_t *out_n, const void **out_data) {
    const llm_gguf_kv *kv = NULL;
    llm_status s = llm__gguf_typed(g, key, 1u << LLM_GGUF_ARRAY, "array", &kv);
    if (s) return s;
    if (kv->arr_type != arr_type)
        return llm__fail(LLM_ERR_FORMAT, "%s: metadata '%s' is an array of %s, expected %s", g->path, key,
                         llm__gguf_type_names[kv->arr_type],
                         (unsigned)arr_type < LLM_GGUF_TYPE_COUNT ? llm__gguf_type_names[arr_type] : "?");
    *out_n = kv->n;
    *out_data = kv->v.arr;
    return LLM_OK;
}

LLM_API llm_status llm_gguf_arr_int(const llm_gguf_kv *kv, int64_t i, int64_t *out) {
    if (kv->type != LLM_GGUF_ARRAY || !(LLM__GGUF_INTS & (1u << kv->arr_type)))
        return llm__fail(LLM_ERR_FORMAT, "metadata '%s' is not an array of integers", kv->key);
    if (i < 0 || i >= kv->n)
        return llm__fail(LLM_ERR_INVALID_ARG, "metadata '%s': index %lld out of range (%lld elements)", kv->key, (long long)i, (long long)kv->n);
    if (!llm__gguf_int_at(kv->arr_type, kv->v.arr, i, out))
        return llm__fail(LLM_ERR_FORMAT, "metadata '%s'[%lld] does not fit in int64", kv->key, (long long)i);
    return LLM_OK;
}

/* ---- tensors ---- */

LLM_API int64_t llm_gguf_n_tensors(const llm_gguf *g) { return g->n_tensors; }

LLM_API const llm_tensor *llm_gguf_tensor(const llm_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

LLM_API const llm_tensor *llm_gguf_find_tensor(const llm_gguf *g, const char *name) {
    int64_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->by_name[mid]->name, name);
        if (c == 0) return g->by_name[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

LLM_API llm_status llm_gguf_get_tensor(const llm_gguf *g, const char *name, const llm_tensor **out) {
    const llm_tensor *t = llm_gguf_find_tensor(g, name);
    if (!t) return llm__fail(LLM_ERR_NOT_FOUND, "%s: no tensor '%s'", g->path, name);
    *out = t;
    return LLM_OK;
}

/* ---- >>gguf_write: the writer ----
   Everything is validated before the temp file is created; then the header, metadata and
   tensor infos are streamed out, followed by the tensors, each padded to the alignment. */

static int llm__ggml_type_of(llm_dtype dtype) {
    for (int i = 0; i < (int)LLM__COUNT(llm__ggml_types); i++)
        if (llm__ggml_types[i].name && llm__ggml_types[i].dtype == (int)dtype) return i;
    return -1;
}

static llm_status llm__gguf_check_kv(const char *path, const llm_gguf_kv *kvs, int64_t i) {
    const llm_gguf_kv *kv = &kvs[i];
    if (!kv->key) return llm__fail(LLM_ERR_INVALID_ARG, "%s: metadata entry %lld has no key", path, (long long)i);
    if ((unsigned)kv->type >= LLM_GGUF_TYPE_COUNT)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: metadata '%s' has unknown type %d", path, kv->key, (int)kv->type);
    bool is_arr = kv->type == LLM_GGUF_ARRAY;
    if (is_arr && ((unsigned)kv->arr_type >= LLM_GGUF_TYPE_COUNT || kv->arr_type == LLM_GGUF_ARRAY || kv->n < 0 || (kv->n && !kv->v.arr)))
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: metadata '%s' is not a valid array (element type, count, data)", path, kv->key);
    if (kv->type == LLM_GGUF_STRING && !kv->v.str.str && kv->v.str.len)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: metadata '%s' is a string without data", path, kv->key);
    if (strcmp(kv->key, "general.alignment") == 0 && (kv->type != LLM_GGUF_U32 || kv->v.u32 < 8 || (kv->v.u32 & (kv->v.u32 - 1))))
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: general.alignment must be a u32 power of two >= 8", path);
    for (int64_t j = 0; j < i; j++)   /* metadata is small (tens of keys): quadratic is fine */
        if (strcmp(kvs[j].key, kv->key) == 0) return llm__fail(LLM_ERR_INVALID_ARG, "%s: metadata key '%s' given twice", path, kv->key);
    return LLM_OK;
}

static llm_status llm__gguf_check_tensor(const char *path, const llm_tensor *ts, int64_t i) {
    const llm_tensor *t = &ts[i];
    const char *name = t->name ? t->name : "?";
    const llm_dtype_info *di = llm_dtype_get(t->dtype);
    if (!t->name || t->n_dims < 0 || t->n_dims > LLM_MAX_DIMS || !di)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor %lld ('%s') needs a name, a known dtype and 0..%d dims", path, (long long)i, name, LLM_MAX_DIMS);
    if (llm__ggml_type_of(t->dtype) < 0)
        return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s has no GGUF form", path, name, di->name);
    for (int d = 0; d < t->n_dims; d++)
        if (t->shape[d] < 0) return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor '%s' has a negative dim", path, name);
    int64_t row = t->n_dims > 0 ? t->shape[t->n_dims - 1] : 1;
    if (row % di->block_elems)
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor '%s' has rows of %lld elements, not a multiple of the %s block size %d",
                         path, name, (long long)row, di->name, di->block_elems);
    int64_t n = llm_tensor_n_elems(t);
    size_t want = llm_dtype_n_bytes(t->dtype, n);
    if (want != t->n_bytes || (want && !t->data))
        return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor '%s' has %zu bytes, its shape needs %zu", path, name, t->n_bytes, want);
    for (int64_t j = 0; j < i; j++)
        if (strcmp(ts[j].name, t->name) == 0) return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor '%s' given twice", path, name);
    return LLM_OK;
}

typedef struct llm__gguf_w {
    llm__atomic_file af;
    uint64_t pos;
    llm_status s;   /* sticky: the first error; later writes do nothing */
} llm__gguf_w;

static void llm__gguf_put(llm__gguf_w *w, const void *p, size_t n) {
    if (w->s) return;
    w->s = llm__atomic_write(&w->af, p, n);
    w->pos += n;
}

static void llm__gguf_put_uint(llm__gguf_w *w, uint64_t v, int n_bytes) {
    uint8_t b[8];
    for (int i = 0; i < n_bytes; i++) b[i] = (uint8_t)(v >> (8 * i));
    llm__gguf_put(w, b, (size_t)n_bytes);
}

static void llm__gguf_put_str(llm__gguf_w *w, const char *s, uint64_t len) {
    llm__gguf_put_uint(w, len, 8);
    llm__gguf_put(w, s, (size_t)len);
}

static void llm__gguf_pad(llm__gguf_w *w, uint32_t alignment) {
    static const uint8_t zeros[64];
    while (!w->s && w->pos % alignment) llm__gguf_put(w, zeros, (size_t)LLM__MIN(alignment - w->pos % alignment, sizeof zeros));
}

/* One value of a non-array type stored as its C type at p (host little-endian). */
static void llm__gguf_put_value(llm__gguf_w *w, llm_gguf_type type, const void *p) {
    if (type == LLM_GGUF_STRING) {
        const llm_gguf_str *s = (const llm_gguf_str *)p;
        llm__gguf_put_str(w, s->str, s->len);
    } else if (type == LLM_GGUF_BOOL) {
        llm__gguf_put_uint(w, *(const bool *)p ? 1 : 0, 1);
    } else {
        llm__gguf_put(w, p, llm__gguf_type_size[type]);
    }
}

static void llm__gguf_put_kv(llm__gguf_w *w, const llm_gguf_kv *kv) {
    llm__gguf_put_str(w, kv->key, strlen(kv->key));
    llm__gguf_put_uint(w, (uint64_t)kv->type, 4);
    if (kv->type != LLM_GGUF_ARRAY) { llm__gguf_put_value(w, kv->type, &kv->v); return; }
    llm__gguf_put_uint(w, (uint64_t)kv->arr_type, 4);
    llm__gguf_put_uint(w, (uint64_t)kv->n, 8);
    size_t elem = kv->arr_type == LLM_GGUF_STRING ? sizeof(llm_gguf_str) : llm__gguf_type_size[kv->arr_type];
    for (int64_t i = 0; i < kv->n && !w->s; i++) llm__gguf_put_value(w, kv->arr_type, (const uint8_t *)kv->v.arr + (size_t)i * elem);
}

static void llm__gguf_put_info(llm__gguf_w *w, const llm_tensor *t, uint64_t offset) {
    llm__gguf_put_str(w, t->name, strlen(t->name));
    llm__gguf_put_uint(w, (uint64_t)t->n_dims, 4);
    for (int d = t->n_dims - 1; d >= 0; d--) llm__gguf_put_uint(w, (uint64_t)t->shape[d], 8);   /* ggml order */
    llm__gguf_put_uint(w, (uint64_t)llm__ggml_type_of(t->dtype), 4);
    llm__gguf_put_uint(w, offset, 8);
}

LLM_API llm_status llm_gguf_write(const char *path, const llm_gguf_kv *kvs, int64_t n_kv,
                                  const llm_tensor *tensors, int64_t n_tensors) {
    LLM_ASSERT(path && n_kv >= 0 && n_tensors >= 0 && (kvs || !n_kv) && (tensors || !n_tensors));
    uint32_t alignment = LLM__GGUF_ALIGNMENT;
    llm_status s = LLM_OK;
    for (int64_t i = 0; i < n_kv && !s; i++) {
        s = llm__gguf_check_kv(path, kvs, i);
        if (!s && strcmp(kvs[i].key, "general.alignment") == 0) alignment = kvs[i].v.u32;
    }
    for (int64_t i = 0; i < n_tensors && !s; i++) s = llm__gguf_check_tensor(path, tensors, i);
    if (s) return s;

    llm__gguf_w w;
    memset(&w, 0, sizeof w);
    if ((w.s = llm__atomic_open(&w.af, path))) return w.s;
    llm__gguf_put(&w, "GGUF", 4);
    llm__gguf_put_uint(&w, 3, 4);
    llm__gguf_put_uint(&w, (uint64_t)n_tensors, 8);
    llm__gguf_put_uint(&w, (uint64_t)n_kv, 8);
    for (int64_t i = 0; i < n_kv; i++) llm__gguf_put_kv(&w, &kvs[i]);
    uint64_t offset = 0;
    for (int64_t i = 0; i < n_tensors; i++) {
        llm__gguf_put_info(&w, &tensors[i], offset);
        offset += (tensors[i].n_bytes + alignment - 1) / alignment * alignment;
    }
    for (int64_t i = 0; i < n_tensors; i++) {   /* no data section at all without tensors, as gguf-py writes */
        llm__gguf_pad(&w, alignment);
        llm__gguf_put(&w, tensors[i].data, tensors[i].n_bytes);
        if (i == n_tensors - 1) llm__gguf_pad(&w, alignment);
    }
    llm_status c = llm__atomic_close(&w.af, w.s == LLM_OK);
    return w.s ? w.s : c;
}

/* ---- kv builders ---- */

static llm_gguf_kv llm__gguf_kv_new(const char *key, llm_gguf_type type) {
    llm_gguf_kv kv;
    memset(&kv, 0, sizeof kv);
    kv.key = key;
    kv.type = type;
    kv.n = 1;
    return kv;
}

LLM_API llm_gguf_kv llm_gguf_kv_u32(const char *key, uint32_t v) { llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_U32); kv.v.u32 = v; return kv; }
LLM_API llm_gguf_kv llm_gguf_kv_i32(const char *key, int32_t v) { llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_I32); kv.v.i32 = v; return kv; }
LLM_API llm_gguf_kv llm_gguf_kv_f32(const char *key, float v) { llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_F32); kv.v.f32 = v; return kv; }
LLM_API llm_gguf_kv llm_gguf_kv_bool(const char *key, bool v) { llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_BOOL); kv.v.b = v; return kv; }

LLM_API llm_gguf_kv llm_gguf_kv_str(const char *key, const char *v) {
    llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_STRING);
    kv.v.str.str = v;
    kv.v.str.len = strlen(v);
    return kv;
}

LLM_API llm_gguf_kv llm_gguf_kv_arr(const char *key, llm_gguf_type arr_type, int64_t n, const void *data) {
    llm_gguf_kv kv = llm__gguf_kv_new(key, LLM_GGUF_ARRAY);
    kv.arr_type = arr_type;
    kv.n = n;
    kv.v.arr = data;
    return kv;
}
