/* ---- >>text: tokenizers ----
   One tokenizer type reads the three common formats:
     - Hugging Face tokenizer.json (BPE, byte-level BPE, Unigram, WordPiece models with their
       normalizers, pre-tokenizers, post-processors, decoders and added tokens), plus
       tokenizer_config.json next to it for bos/eos;
     - SentencePiece tokenizer.model (BPE and Unigram);
     - llama2.c tokenizer.bin (encodes and decodes exactly like llama2.c's run.c);
     - a GGUF file's tokenizer.ggml.* metadata ("llama", "gpt2", "bert" vocabularies).
   Encoding matches Hugging Face `tokenizers` token for token. Text in and out is UTF-8.
   Invalid UTF-8 input is not rejected: each maximal invalid subsequence becomes U+FFFD,
   as Python's bytes.decode(errors="replace") does before HF sees the text (tokenizer.bin
   is the exception: it feeds raw bytes to byte fallback, as run.c does).
   A tokenizer is immutable after loading and may be shared between threads. */

typedef struct llm_tokenizer llm_tokenizer;

/* Load from `path`: a directory holding tokenizer.json (+ tokenizer_config.json),
   tokenizer.model, tokenizer.bin or llama2.c's tok*.bin (tried in that order), or the path
   of such a file or of a .gguf file.
   Free with llm_tokenizer_free(). Errors: LLM_ERR_IO, LLM_ERR_FORMAT (with the file and
   field), LLM_ERR_UNSUPPORTED (a model/normalizer/... type not implemented), LLM_ERR_NOMEM. */
LLM_API llm_status llm_tokenizer_load(const char *path, llm_tokenizer **out_tok);
LLM_API void       llm_tokenizer_free(llm_tokenizer *tok);

LLM_API int64_t    llm_tokenizer_n_vocab(const llm_tokenizer *tok);   /* largest id + 1 */
LLM_API llm_token  llm_tokenizer_bos(const llm_tokenizer *tok);       /* -1 if none */
LLM_API llm_token  llm_tokenizer_eos(const llm_tokenizer *tok);       /* -1 if none */
/* True for special added tokens (and SentencePiece control tokens): the ones
   skip_special drops. */
LLM_API bool       llm_tokenizer_is_special(const llm_tokenizer *tok, llm_token id);
/* The token's string as stored in the vocabulary ("Ġhello", "▁the", "<0x0A>", "<|eot_id|>"),
   NUL-terminated; NULL for an id out of range. Valid until the tokenizer is freed. */
LLM_API const char *llm_tokenizer_piece(const llm_tokenizer *tok, llm_token id);
/* The id of a token string (exact match of the vocabulary or an added token), -1 if none. */
LLM_API llm_token  llm_tokenizer_find(const llm_tokenizer *tok, const char *piece);

/* Encode `len` bytes of text. add_special applies the post-processor (BOS etc.) as HF's
   add_special_tokens=True does. Writes at most `cap` ids to `out`; *out_n = the number of
   ids the text needs (call with cap 0 to size, then again). */
LLM_API llm_status llm_tokenize(const llm_tokenizer *tok, const char *text, size_t len, bool add_special,
                                llm_token *out, int64_t cap, int64_t *out_n);

/* Decode ids as HF decode(ids, skip_special_tokens=skip_special). Returns the number of
   bytes of the text (excluding the NUL); writes at most cap bytes including a NUL when
   cap > 0 (the text is cut if it does not fit). Out-of-range ids are skipped. Returns -1
   when out of memory. */
LLM_API int64_t    llm_detokenize(const llm_tokenizer *tok, const llm_token *ids, int64_t n, bool skip_special,
                                  char *buf, int64_t cap);

/* Streaming detokenizer: feed generated ids one at a time and print what each push
   returns. A push returns only text that is final: it never splits a UTF-8 sequence (byte
   tokens <0xNN>, byte-level tokens) and resolves context such as a leading space that the
   decoder strips. The concatenation of all pushes and the final flush equals
   llm_detokenize() of the whole sequence. Create with llm_detok_create(), free with
   llm_detok_destroy(); the tokenizer must outlive it. Not thread-safe (one per stream). */
typedef struct llm_detok llm_detok;
LLM_API llm_status llm_detok_create(const llm_tokenizer *tok, bool skip_special, llm_detok **out_detok);
LLM_API void       llm_detok_destroy(llm_detok *d);
/* Push one id. *out_text (NUL-terminated, *out_len bytes, possibly "") is valid until the
   next call on d. */
LLM_API llm_status llm_detok_push(llm_detok *d, llm_token id, const char **out_text, size_t *out_len);
/* Emit whatever is still held back (an unfinished UTF-8 sequence becomes U+FFFD) and start
   a new stream. */
LLM_API llm_status llm_detok_flush(llm_detok *d, const char **out_text, size_t *out_len);
