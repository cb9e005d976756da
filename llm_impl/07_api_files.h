/* ---- >>files: safetensors reading and writing ----
   Reading maps the file(s) read-only; tensors are views into the mapping and stay valid
   until llm_safetensors_close(). Every header is validated before any tensor is handed
   out: offsets inside the file, sorted and non-overlapping, byte length == dtype size x
   shape, known dtypes. */
typedef struct llm_safetensors llm_safetensors;

/* Open `path`: one .safetensors file, a sharded model's model.safetensors.index.json,
   or a directory holding either. Free with llm_safetensors_close().
   Errors: LLM_ERR_IO (cannot open/map), LLM_ERR_FORMAT (bad header, with details),
   LLM_ERR_NOMEM. */
LLM_API llm_status llm_safetensors_open(const char *path, llm_safetensors **out_st);
LLM_API void       llm_safetensors_close(llm_safetensors *st);

LLM_API int64_t           llm_safetensors_n_tensors(const llm_safetensors *st);
/* i-th tensor (in file order, shard by shard); valid until close. */
LLM_API const llm_tensor *llm_safetensors_tensor(const llm_safetensors *st, int64_t i);
/* Tensor by name, or NULL. */
LLM_API const llm_tensor *llm_safetensors_find(const llm_safetensors *st, const char *name);
/* A "__metadata__" string of the (first) file, or NULL. */
LLM_API const char       *llm_safetensors_metadata(const llm_safetensors *st, const char *key);

/* Write tensors to `path` atomically (a temp file in the same folder, then rename):
   a killed process never leaves a half-written file under `path`.
   meta: n_meta key/value pairs for "__metadata__" (meta[2*i] = key, meta[2*i+1] = value).
   Tensors are written in the order given, back to back after an 8-byte aligned header. */
LLM_API llm_status llm_safetensors_write(const char *path, const llm_tensor *tensors, int64_t n_tensors,
                                         const char *const *meta, int64_t n_meta);
