/* ---- >>gguf: GGUF reading and writing, llama.cpp block quantization ----
   GGUF (llama.cpp's format, v2 and v3, little-endian): a header, typed key/value metadata
   ("general.architecture", "llama.block_count", "tokenizer.ggml.tokens", ...), tensor
   infos, then the aligned tensor data. Reading maps the file read-only; every header field
   is validated before anything is handed out (offsets and sizes inside the file, aligned,
   not overlapping, known types, rows a whole number of blocks).

   Shapes: GGUF stores dims innermost-first (ne[0] is the row length, ggml order); an
   llm_tensor's shape is outermost-first (numpy order). The reader and writer convert:
   GGUF ne = [4096, 11008] <-> llm_tensor shape = [11008, 4096] (a Linear weight [out, in]).

   Example (a tokenizer reading its vocabulary; error handling shortened):
       llm_gguf *g;
       if (llm_gguf_open(path, &g) != LLM_OK) return fail(llm_last_error());
       const llm_gguf_str *tokens;   // tokens[i].str, NUL-terminated, tokens[i].len bytes
       int64_t n_vocab, bos = -1;
       llm_gguf_get_arr(g, "tokenizer.ggml.tokens", LLM_GGUF_STRING, &n_vocab, (const void **)&tokens);
       llm_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &bos);      // stays -1 when absent
       const llm_tensor *emb = llm_gguf_find_tensor(g, "token_embd.weight");   // [n_vocab, n_embd]
       llm_gguf_close(g);   // tokens, emb and every string die here */

/* Metadata value types; the numbers are GGUF's own. */
typedef enum llm_gguf_type {
    LLM_GGUF_U8 = 0, LLM_GGUF_I8 = 1, LLM_GGUF_U16 = 2, LLM_GGUF_I16 = 3,
    LLM_GGUF_U32 = 4, LLM_GGUF_I32 = 5, LLM_GGUF_F32 = 6, LLM_GGUF_BOOL = 7,
    LLM_GGUF_STRING = 8, LLM_GGUF_ARRAY = 9, LLM_GGUF_U64 = 10, LLM_GGUF_I64 = 11,
    LLM_GGUF_F64 = 12,
    LLM_GGUF_TYPE_COUNT
} llm_gguf_type;

/* A string: `str` is NUL-terminated (the reader adds the NUL; GGUF strings may in principle
   hold a NUL, so `len` is the true length). The writer uses only the first `len` bytes. */
typedef struct llm_gguf_str {
    const char *str;
    uint64_t    len;
} llm_gguf_str;

/* One metadata entry. For arrays, `arr` points to n elements of arr_type, stored as the
   matching C type (uint8_t, int8_t, ... float, bool, uint64_t, int64_t, double) and
   suitably aligned; arrays of strings are n llm_gguf_str. Arrays of arrays are rejected. */
typedef struct llm_gguf_kv {
    const char   *key;
    llm_gguf_type type;
    llm_gguf_type arr_type;     /* element type when type == LLM_GGUF_ARRAY */
    int64_t       n;            /* element count for arrays, else 1 */
    union {
        uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
        uint64_t u64; int64_t i64; float f32; double f64; bool b;
        llm_gguf_str str;
        const void  *arr;
    } v;
} llm_gguf_kv;

typedef struct llm_gguf llm_gguf;

/* Open and validate a GGUF file. Free with llm_gguf_close(). Errors: LLM_ERR_IO (cannot
   open/map), LLM_ERR_FORMAT (malformed, with the file and the problem), LLM_ERR_UNSUPPORTED
   (GGUF v1, big-endian files, tensor types we cannot represent), LLM_ERR_NOMEM. */
LLM_API llm_status llm_gguf_open(const char *path, llm_gguf **out_gguf);
/* The same for a GGUF image in memory, which must stay unchanged until llm_gguf_close()
   (tensors point into it; 8-byte alignment keeps their elements aligned). `name` (may
   be NULL) stands for the file in error messages. */
LLM_API llm_status llm_gguf_open_memory(const void *data, size_t n_bytes, const char *name, llm_gguf **out_gguf);
LLM_API void       llm_gguf_close(llm_gguf *g);
LLM_API uint32_t   llm_gguf_version(const llm_gguf *g);
LLM_API uint32_t   llm_gguf_alignment(const llm_gguf *g);   /* general.alignment or 32 */

/* Metadata in file order: i in [0, llm_gguf_n_kv). Entries are valid until close and
   contiguous, so llm_gguf_write(path, llm_gguf_kv_at(g, 0), llm_gguf_n_kv(g), ...) copies
   them (likewise the tensors). */
LLM_API int64_t            llm_gguf_n_kv(const llm_gguf *g);
LLM_API const llm_gguf_kv *llm_gguf_kv_at(const llm_gguf *g, int64_t i);
/* The entry for `key`, or NULL. */
LLM_API const llm_gguf_kv *llm_gguf_find_kv(const llm_gguf *g, const char *key);

/* Typed getters by key. LLM_OK; LLM_ERR_NOT_FOUND when the key is absent (out untouched,
   so preset defaults survive); LLM_ERR_FORMAT when it has another type. get_int accepts
   every integer type whose value fits in int64_t; get_f32 accepts f32 and f64. */
LLM_API llm_status llm_gguf_get_int(const llm_gguf *g, const char *key, int64_t *out);
LLM_API llm_status llm_gguf_get_f32(const llm_gguf *g, const char *key, float *out);
LLM_API llm_status llm_gguf_get_bool(const llm_gguf *g, const char *key, bool *out);
LLM_API llm_status llm_gguf_get_str(const llm_gguf *g, const char *key, const char **out);
/* An array whose elements have type arr_type: *out_data points to *out_n elements (see
   llm_gguf_kv). E.g. tokens: llm_gguf_get_arr(g, "tokenizer.ggml.tokens", LLM_GGUF_STRING,
   &n, (const void **)&strs) gives n llm_gguf_str. */
LLM_API llm_status llm_gguf_get_arr(const llm_gguf *g, const char *key, llm_gguf_type arr_type,
                                    int64_t *out_n, const void **out_data);
/* Element i of an integer array (any integer element type) as int64_t: for per-layer
   hyperparameters such as head_count_kv, which some files store as an array. */
LLM_API llm_status llm_gguf_arr_int(const llm_gguf_kv *kv, int64_t i, int64_t *out);

/* Tensors in file order; views into the mapping, valid until close. */
LLM_API int64_t           llm_gguf_n_tensors(const llm_gguf *g);
LLM_API const llm_tensor *llm_gguf_tensor(const llm_gguf *g, int64_t i);
/* Tensor by name, or NULL. */
LLM_API const llm_tensor *llm_gguf_find_tensor(const llm_gguf *g, const char *name);
/* Tensor by name with a clear LLM_ERR_NOT_FOUND message naming the file when absent. */
LLM_API llm_status        llm_gguf_get_tensor(const llm_gguf *g, const char *name, const llm_tensor **out);

/* Write a GGUF v3 file atomically (temp file + rename). kvs are written in the order given
   (keys must be unique); tensors likewise, each padded to the alignment, which is the
   u32 "general.alignment" among kvs if present (a power of two, multiple of 8), else 32.
   Tensor shapes are in our order and converted to ggml order on the way out; a row
   (the last dim) must be a whole number of blocks. The reader gives back the same
   metadata and bytes. */
LLM_API llm_status llm_gguf_write(const char *path, const llm_gguf_kv *kvs, int64_t n_kv,
                                  const llm_tensor *tensors, int64_t n_tensors);

/* Helpers to build llm_gguf_kv values for llm_gguf_write (pointers are borrowed). */
LLM_API llm_gguf_kv llm_gguf_kv_u32(const char *key, uint32_t v);
LLM_API llm_gguf_kv llm_gguf_kv_i32(const char *key, int32_t v);
LLM_API llm_gguf_kv llm_gguf_kv_f32(const char *key, float v);
LLM_API llm_gguf_kv llm_gguf_kv_bool(const char *key, bool v);
LLM_API llm_gguf_kv llm_gguf_kv_str(const char *key, const char *v);
/* An array of n elements of arr_type at data (llm_gguf_str for strings). */
LLM_API llm_gguf_kv llm_gguf_kv_arr(const char *key, llm_gguf_type arr_type, int64_t n, const void *data);

/* ---- llama.cpp block quantization ----
   The q* dtypes are llama.cpp's: blocks of 32 (q4_0 q4_1 q5_0 q5_1 q8_0) or 256 (k-quants)
   elements with f16 scales; the exact layouts are described with the code. Results are
   bit-identical to the reference implementation (ggml, and gguf-py's numpy port).
   n must be a multiple of the dtype's block_elems; quantized data must be 2-byte aligned
   (4 for q8_K), as it is in GGUF files. */

/* dst[0..n) = the values of n elements of src (f32, f16, bf16 or any q* dtype).
   LLM_ERR_UNSUPPORTED for other dtypes, LLM_ERR_INVALID_ARG when n is not whole blocks. */
LLM_API llm_status llm_dequantize(llm_dtype dtype, const void *src, float *dst, int64_t n);
/* Quantize n floats into llm_dtype_n_bytes(dtype, n) bytes at dst: f32, f16, bf16 and
   every q* dtype, with ggml's reference algorithms (no importance matrix). The k-quants
   search for their scales and are slow (about 5M elements/s). LLM_ERR_UNSUPPORTED for
   other dtypes. */
LLM_API llm_status llm_quantize(llm_dtype dtype, const float *src, void *dst, int64_t n);
