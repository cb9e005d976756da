/* ---- >>json: reading JSON files with cJSON ----
   Config files, tokenizer files and safetensors headers are JSON. These helpers parse with
   a clear error (file, line, column) and read typed fields with defaults, so that a parser
   of a config reads as a list of fields. */
#include "10_internal.h"

#ifndef LLM_NO_CJSON
/* Parse `len` bytes of JSON. `what` names the source in errors (a path). */
LLM_PRIVATE llm_status llm__json_parse(const char *text, size_t len, const char *what, cJSON **out) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!j) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        int line = 1, col = 1;
        for (size_t i = 0; i < at; i++) { if (text[i] == '\n') { line++; col = 1; } else col++; }
        return llm__fail(LLM_ERR_FORMAT, "%s: invalid JSON at line %d, column %d", what, line, col);
    }
    *out = j;
    return LLM_OK;
}

LLM_PRIVATE llm_status llm__json_load(const char *path, cJSON **out) {
    char *text = NULL;
    size_t len = 0;
    llm_status s = llm__read_file(NULL, path, &text, &len);
    if (s) return s;
    s = llm__json_parse(text, len, path, out);
    llm__free(NULL, text);
    return s;
}

LLM_PRIVATE const cJSON *llm__json_get(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

LLM_PRIVATE bool llm__json_has(const cJSON *obj, const char *key) {
    const cJSON *v = llm__json_get(obj, key);
    return v && !cJSON_IsNull(v);
}

LLM_PRIVATE double llm__json_num(const cJSON *obj, const char *key, double dflt) {
    const cJSON *v = llm__json_get(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

LLM_PRIVATE int64_t llm__json_int(const cJSON *obj, const char *key, int64_t dflt) {
    const cJSON *v = llm__json_get(obj, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= -9.0e15 && v->valuedouble <= 9.0e15)) return dflt;
    return (int64_t)v->valuedouble;
}

LLM_PRIVATE bool llm__json_bool(const cJSON *obj, const char *key, bool dflt) {
    const cJSON *v = llm__json_get(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

LLM_PRIVATE const char *llm__json_str(const cJSON *obj, const char *key, const char *dflt) {
    const cJSON *v = llm__json_get(obj, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}
#endif
