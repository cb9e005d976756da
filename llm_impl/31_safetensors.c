/* ---- >>safetensors: validated mmap reader, sharded models, atomic writer ----
   Format: u64 little-endian header length N, N bytes of JSON
   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
   then the data region; offsets are relative to it. We accept a header only when every
   tensor has a known dtype, a shape of at most LLM_MAX_DIMS non-negative dims, and
   end - begin == bytes(dtype, shape), and the tensors tile the data region exactly
   (sorted by offset: no gap, no overlap, nothing past the end), as the reference
   implementation requires. Sharded models list their files in model.safetensors.index.json. */
#include "10_internal.h"

#define LLM__ST_MAX_HEADER (100u << 20)   /* the reference implementation's limit */

typedef struct llm__st_file {
    char *path;
    llm__mapping map;
} llm__st_file;

struct llm_safetensors {
    llm__st_file *files;
    int n_files;
    llm_tensor *tensors;        /* all shards, file order */
    int64_t n_tensors;
    int64_t *by_name;           /* indices into tensors, sorted by name */
    char **names;               /* owned names (tensors[i].name points here) */
    cJSON *metadata;            /* first file's __metadata__, owned */
};

static llm_status llm__st_dtype(const char *s, llm_dtype *out) {
    for (int i = 0; i < LLM_DTYPE_COUNT; i++)
        if (llm__dtypes[i].st_name && strcmp(llm__dtypes[i].st_name, s) == 0) { *out = (llm_dtype)i; return LLM_OK; }
    return LLM_ERR_UNSUPPORTED;
}

typedef struct { uint64_t begin, end; int64_t idx; } llm__st_span;

static int llm__st_span_cmp(const void *a, const void *b) {
    const llm__st_span *x = (const llm__st_span *)a, *y = (const llm__st_span *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Parse one tensor entry of the header into t (name not set). */
static llm_status llm__st_parse_entry(const char *path, const cJSON *e, const uint8_t *data, uint64_t data_size,
                                      llm_tensor *t, llm__st_span *span) {
    const char *name = e->string;
    const cJSON *dt = llm__json_get(e, "dtype"), *shape = llm__json_get(e, "shape");
    const cJSON *offs = llm__json_get(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' needs dtype, shape and data_offsets [begin, end]", path, name);
    if (llm__st_dtype(dt->valuestring, &t->dtype))
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", path, name, dt->valuestring);
    int n_dims = cJSON_GetArraySize(shape);
    if (n_dims > LLM_MAX_DIMS)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has %d dims (at most %d)", path, name, n_dims, LLM_MAX_DIMS);
    t->n_dims = n_dims;
    size_t n_elems = 1;
    for (int i = 0; i < n_dims; i++) {
        const cJSON *d = cJSON_GetArrayItem(shape, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 9.0e15 || d->valuedouble != (double)(int64_t)d->valuedouble)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has a bad shape entry", path, name);
        t->shape[i] = (int64_t)d->valuedouble;
        if (!llm__mul_ok(n_elems, (size_t)t->shape[i], &n_elems) || n_elems > (size_t)INT64_MAX)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has a shape whose size overflows", path, name);
    }
    const cJSON *b = cJSON_GetArrayItem(offs, 0), *en = cJSON_GetArrayItem(offs, 1);
    if (!cJSON_IsNumber(b) || !cJSON_IsNumber(en) || b->valuedouble < 0 || en->valuedouble < b->valuedouble ||
        en->valuedouble > (double)data_size)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' has data_offsets outside the file's %llu data bytes",
                         path, name, (unsigned long long)data_size);
    span->begin = (uint64_t)b->valuedouble;
    span->end = (uint64_t)en->valuedouble;
    size_t want = llm_dtype_n_bytes(t->dtype, (int64_t)n_elems);
    if ((n_elems && !want) || span->end - span->begin != want)
        return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is %s %s with %zu elements = %zu bytes, but data_offsets span %llu bytes",
                         path, name, dt->valuestring, n_dims ? "array" : "scalar", n_elems, want,
                         (unsigned long long)(span->end - span->begin));
    t->data = (void *)(data + span->begin);
    t->n_bytes = want;
    return LLM_OK;
}

/* Map one file and append its tensors (names owned by st). */
static llm_status llm__st_open_file(llm_safetensors *st, const char *path) {
    llm__st_file *f = &st->files[st->n_files];
    llm_status s = llm__map_file_zstd(path, (size_t)1 << 40, &f->map);   /* zstd-compressed files too */
    if (s) return s;
    f->path = llm__strdup(NULL, path);
    st->n_files++;
    if (!f->path) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (f->map.size < 8) return llm__fail(LLM_ERR_FORMAT, "%s: file too short for a safetensors header (%zu bytes)", path, f->map.size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f->map.data[i];
    if (hlen > f->map.size - 8)
        return llm__fail(LLM_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                         (unsigned long long)hlen, f->map.size);
    if (hlen > LLM__ST_MAX_HEADER) return llm__fail(LLM_ERR_FORMAT, "%s: header of %llu bytes is too large", path, (unsigned long long)hlen);
    const uint8_t *data = f->map.data + 8 + hlen;
    uint64_t data_size = f->map.size - 8 - hlen;

    cJSON *hdr = NULL;
    s = llm__json_parse((const char *)f->map.data + 8, (size_t)hlen, path, &hdr);
    if (s) return s;
    if (!cJSON_IsObject(hdr)) { cJSON_Delete(hdr); return llm__fail(LLM_ERR_FORMAT, "%s: header is not a JSON object", path); }

    int64_t n_new = 0;
    for (const cJSON *e = hdr->child; e; e = e->next) n_new += strcmp(e->string, "__metadata__") != 0;
    llm_tensor *nt = (llm_tensor *)realloc(st->tensors, (size_t)(st->n_tensors + n_new) * sizeof *nt + 1);
    char **nn = (char **)realloc(st->names, (size_t)(st->n_tensors + n_new) * sizeof *nn + 1);
    llm__st_span *spans = (llm__st_span *)calloc((size_t)n_new + 1, sizeof *spans);
    if (nt) st->tensors = nt;
    if (nn) st->names = nn;
    if (!nt || !nn || !spans) { free(spans); cJSON_Delete(hdr); return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); }

    int64_t k = 0;
    for (const cJSON *e = hdr->child; e && !s; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) s = llm__fail(LLM_ERR_FORMAT, "%s: __metadata__ is not an object", path);
            else if (!st->metadata) st->metadata = cJSON_Duplicate(e, true);
            continue;
        }
        llm_tensor *t = &st->tensors[st->n_tensors];
        memset(t, 0, sizeof *t);
        s = llm__st_parse_entry(path, e, data, data_size, t, &spans[k]);
        if (s) break;
        st->names[st->n_tensors] = llm__strdup(NULL, e->string);
        if (!st->names[st->n_tensors]) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); break; }
        t->name = st->names[st->n_tensors];
        spans[k].idx = st->n_tensors++;
        k++;
    }
    if (!s) {   /* the tensors must tile the data region exactly */
        qsort(spans, (size_t)k, sizeof *spans, llm__st_span_cmp);
        uint64_t at = 0;
        for (int64_t i = 0; i < k && !s; i++) {
            if (spans[i].begin != at)
                s = llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' at data offset %llu %s the previous tensor (which ends at %llu)",
                              path, st->tensors[spans[i].idx].name, (unsigned long long)spans[i].begin,
                              spans[i].begin < at ? "overlaps" : "leaves a gap after", (unsigned long long)at);
            at = spans[i].end;
        }
        if (!s && at != data_size)
            s = llm__fail(LLM_ERR_FORMAT, "%s: tensors cover %llu of the %llu data bytes", path,
                          (unsigned long long)at, (unsigned long long)data_size);
    }
    free(spans);
    cJSON_Delete(hdr);
    return s;
}

static const llm_safetensors *llm__st_sort_ctx;   /* qsort has no context argument */
static int llm__st_name_cmp(const void *a, const void *b) {
    return strcmp(llm__st_sort_ctx->tensors[*(const int64_t *)a].name, llm__st_sort_ctx->tensors[*(const int64_t *)b].name);
}

static llm_status llm__st_index(llm_safetensors *st) {
    st->by_name = (int64_t *)malloc((size_t)st->n_tensors * sizeof *st->by_name + 1);
    if (!st->by_name) return llm__fail(LLM_ERR_NOMEM, "safetensors: out of memory");
    for (int64_t i = 0; i < st->n_tensors; i++) st->by_name[i] = i;
    llm__st_sort_ctx = st;
    qsort(st->by_name, (size_t)st->n_tensors, sizeof *st->by_name, llm__st_name_cmp);
    for (int64_t i = 1; i < st->n_tensors; i++)
        if (strcmp(st->tensors[st->by_name[i]].name, st->tensors[st->by_name[i - 1]].name) == 0)
            return llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' appears twice", st->files[0].path, st->tensors[st->by_name[i]].name);
    return LLM_OK;
}

/* Open the shards listed by an index file, then check every listed tensor is where the
   index says. */
static llm_status llm__st_open_index(llm_safetensors *st, const char *index_path) {
    cJSON *idx = NULL;
    llm_status s = llm__json_load(index_path, &idx);
    if (s) return s;
    const cJSON *map = llm__json_get(idx, "weight_map");
    char dir[4096], path[4096];
    llm__path_dir(dir, sizeof dir, index_path);
    if (!cJSON_IsObject(map)) s = llm__fail(LLM_ERR_FORMAT, "%s: no \"weight_map\" object", index_path);
    int n_files = 0;
    for (const cJSON *e = map ? map->child : NULL; e && !s; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !llm__ends_with(e->valuestring, ".safetensors")) {
            s = llm__fail(LLM_ERR_FORMAT, "%s: weight_map entry '%s' does not name a .safetensors file in the same folder", index_path, e->string);
            break;
        }
        n_files++;
    }
    if (!s) {
        st->files = (llm__st_file *)calloc((size_t)n_files + 1, sizeof *st->files);
        if (!st->files) s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", index_path);
    }
    for (const cJSON *e = map ? map->child : NULL; e && !s; e = e->next) {
        bool seen = false;
        for (int i = 0; i < st->n_files && !seen; i++) seen = strcmp(strrchr(st->files[i].path, '/') + 1, e->valuestring) == 0;
        if (seen) continue;
        if (!llm__path_join(path, sizeof path, dir, e->valuestring)) s = llm__fail(LLM_ERR_INVALID_ARG, "%s: path too long", index_path);
        else s = llm__st_open_file(st, path);
    }
    if (!s) s = llm__st_index(st);
    for (const cJSON *e = map ? map->child : NULL; e && !s; e = e->next) {
        const llm_tensor *t = llm_safetensors_find(st, e->string);
        if (!t) s = llm__fail(LLM_ERR_FORMAT, "%s: tensor '%s' is listed in the index but missing from %s", index_path, e->string, e->valuestring);
    }
    cJSON_Delete(idx);
    return s;
}

LLM_API llm_status llm_safetensors_open(const char *path, llm_safetensors **out_st) {
    char buf[4096];
    llm_safetensors *st = (llm_safetensors *)calloc(1, sizeof *st);
    if (!st) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    llm_status s;
    if (llm__is_dir(path)) {
        if (llm__path_join(buf, sizeof buf, path, "model.safetensors.index.json") && llm__file_exists(buf)) path = buf;
        else if (llm__path_join(buf, sizeof buf, path, "model.safetensors") && llm__file_exists(buf)) path = buf;
        else { free(st); return llm__fail(LLM_ERR_NOT_FOUND, "%s: no model.safetensors or model.safetensors.index.json", path); }
    }
    if (llm__ends_with(path, ".json")) {
        s = llm__st_open_index(st, path);
    } else {
        st->files = (llm__st_file *)calloc(1, sizeof *st->files);
        s = st->files ? llm__st_open_file(st, path) : llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
        if (!s) s = llm__st_index(st);
    }
    if (s) { llm_safetensors_close(st); return s; }
    *out_st = st;
    return LLM_OK;
}

LLM_API void llm_safetensors_close(llm_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n_files; i++) { llm__unmap(&st->files[i].map); free(st->files[i].path); }
    for (int64_t i = 0; i < st->n_tensors; i++) free(st->names[i]);
    free(st->files); free(st->tensors); free(st->names); free(st->by_name);
    cJSON_Delete(st->metadata);
    free(st);
}

LLM_API int64_t llm_safetensors_n_tensors(const llm_safetensors *st) { return st->n_tensors; }

LLM_API const llm_tensor *llm_safetensors_tensor(const llm_safetensors *st, int64_t i) {
    return i >= 0 && i < st->n_tensors ? &st->tensors[i] : NULL;
}

LLM_API const llm_tensor *llm_safetensors_find(const llm_safetensors *st, const char *name) {
    int64_t lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        int c = strcmp(st->tensors[st->by_name[mid]].name, name);
        if (c == 0) return &st->tensors[st->by_name[mid]];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

LLM_API const char *llm_safetensors_metadata(const llm_safetensors *st, const char *key) {
    return llm__json_str(st->metadata, key, NULL);
}

LLM_API llm_status llm_safetensors_write(const char *path, const llm_tensor *tensors, int64_t n_tensors,
                                         const char *const *meta, int64_t n_meta) {
    cJSON *hdr = cJSON_CreateObject();
    if (!hdr) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(hdr, "__metadata__");
        for (int64_t i = 0; m && i < n_meta; i++) cJSON_AddStringToObject(m, meta[2 * i], meta[2 * i + 1]);
    }
    size_t off = 0;
    for (int64_t i = 0; i < n_tensors; i++) {
        const llm_tensor *t = &tensors[i];
        size_t want = llm_dtype_n_bytes(t->dtype, llm_tensor_n_elems(t));
        if (!llm_dtype_get(t->dtype) || !llm__dtypes[t->dtype].st_name) {
            cJSON_Delete(hdr);
            return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tensor '%s': dtype has no safetensors form", path, t->name ? t->name : "?");
        }
        if (want != t->n_bytes || !t->name) {
            cJSON_Delete(hdr);
            return llm__fail(LLM_ERR_INVALID_ARG, "%s: tensor '%s' has %zu bytes, its shape needs %zu", path,
                             t->name ? t->name : "?", t->n_bytes, want);
        }
        cJSON *e = cJSON_AddObjectToObject(hdr, t->name);
        double shape[LLM_MAX_DIMS], offs[2] = { (double)off, (double)(off + t->n_bytes) };
        for (int d = 0; d < t->n_dims; d++) shape[d] = (double)t->shape[d];
        if (e) {
            cJSON_AddStringToObject(e, "dtype", llm__dtypes[t->dtype].st_name);
            cJSON_AddItemToObject(e, "shape", cJSON_CreateDoubleArray(shape, t->n_dims));
            cJSON_AddItemToObject(e, "data_offsets", cJSON_CreateDoubleArray(offs, 2));
        }
        off += t->n_bytes;
    }
    char *json = cJSON_PrintUnformatted(hdr);
    cJSON_Delete(hdr);
    if (!json) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    llm__atomic_file af;
    llm_status s = llm__atomic_open(&af, path);
    if (!s) s = llm__atomic_write(&af, len8, 8);
    if (!s) s = llm__atomic_write(&af, json, jlen);
    if (!s) s = llm__atomic_write(&af, "        ", hlen - jlen);
    for (int64_t i = 0; i < n_tensors && !s; i++) s = llm__atomic_write(&af, tensors[i].data, tensors[i].n_bytes);
    free(json);
    if (af.f) { llm_status c = llm__atomic_close(&af, s == LLM_OK); if (!s) s = c; }
    return s;
}
