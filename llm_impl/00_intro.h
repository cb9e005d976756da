/* llm.h - v0.1.0 - large language models on the CPU, in one C header - MIT license
   Generated from llm_impl/ - edit there, then run `make llm.h`.

   QUICK START
   -----------
   In exactly one C file:

       #define LLM_IMPLEMENTATION
       #include "llm.h"

       llm_model *model;   llm_tokenizer *tok;   llm_session *s;
       llm_model_load("stories260K.bin", NULL, &model);          // or a HF/MLX directory
       llm_tokenizer_load("tok512.bin", &tok);                    // or the same directory
       llm_session_create(model, NULL, &s);
       llm_token ids[64];  int64_t n;
       llm_tokenize(tok, "Once upon a time", 16, true, ids, 64, &n);
       char *text;
       llm_generate_params p = { .max_tokens = 100 };            // zero sampler = greedy
       llm_generate_text(s, tok, ids, n, &p, &text, NULL);
       puts(text);
       llm_free(text); llm_session_destroy(s); llm_tokenizer_free(tok); llm_model_free(model);

   Build: cc -O2 -march=native app.c -lutf8proc -lzstd -lcjson -lpthread -lm
   (examples/generate.c is the same program with error checks.)

   CONTENTS (grep for the anchors)
   --------
   >>core       status codes, llm_last_error, allocator and log hooks, thread pool
   >>tensor     dtypes (float and block-quantized) and tensor views
   >>model      llm_model_load and what a model tells about itself
   >>text       tokenizers and streaming detokenization
   >>chat       chat templates (a Jinja subset)
   >>session    the KV cache and the forward pass
   >>sample     logits processors and the sampler
   >>files      safetensors and GGUF, reading and writing
   >>generate   the decoding loop
   Implementation, in the order data flows: >>base >>threads >>json >>kernels >>ops
   >>safetensors >>gguf >>tokenizer >>jinja >>hparams >>model >>load >>forward >>session
   >>sample >>generate

   CONCEPTS
   --------
   Tensors. A tensor is a typed, row-major view: shape[0] is the outermost dimension, as
   in numpy and safetensors (a Linear weight is [out, in]). Every dtype is stored in
   blocks (1 element of 4 bytes for f32, 32 elements of 34 bytes for q8_0).

   Models. llm_model_load reads a Hugging Face or MLX directory (config.json +
   safetensors, sharded or not; MLX affine-quantized weights included), a llama2.c
   checkpoint, or a GGUF file (F32/F16/BF16 and the ggml block types). Weights are
   memory-mapped and used in place (GGUF q4_0/q8_0/q4_K/q6_K matrices excepted: they are
   regrouped once, 8 rows interleaved, for kernels twice as fast; llm_model_desc says how
   to keep them in place); activations are f32. One generic decoder-only
   transformer serves every architecture; a family is a set of options, listed by
   llm_architectures(). A model is immutable and may be shared between threads.

   Sessions. A session holds one sequence: its KV cache, scratch memory and a thread
   pool. llm_session_eval runs tokens and appends them; llm_session_rewind forgets the
   tail. The cache may rotate (bounded memory), store 8/4-bit rows, and be saved to a
   file (llm_session_save/load). llm_session_eval_batch decodes several sessions in one
   pass. One thread at a time per session.

   Tokenizers. tokenizer.json (BPE, Unigram, WordPiece with their normalizers,
   pre-tokenizers and decoders), SentencePiece tokenizer.model, llama2.c tokenizer.bin
   and GGUF vocabularies, matching Hugging Face tokenizers id for id.

   Sampling. llm_sampler applies mlx-lm's chain (penalties, top-p, min-p, XTC, top-k,
   temperature) with a seedable RNG per sequence; each processor is also a function.
   llm_generate adds stop strings, streaming text, speculative decoding (a draft model
   or prompt lookup) and batches (llm_generate_batch).

   Quantization. llm_mlx_quantize/dequantize are bit-exact with mlx; llm_quantize /
   llm_dequantize cover the ggml block types; llm_convert_model writes MLX models.

   Threads. Sessions make a pool of n_threads (0: all online cores) unless given one.
   The library never reads environment variables; the CLI maps LLM_THREADS and -t.

   Memory and ownership. Whoever creates, frees: each function that hands you something
   names its release function. Getters return borrowed pointers valid until the parent
   is freed. Text the library returns is freed with llm_free().

   Errors. Fallible functions return llm_status (LLM_OK = 0) and leave a message naming
   the file, tensor or field and the problem in llm_last_error() (thread-local). Asserts
   are only for programmer misuse, never for file contents.

   COMPILE-TIME OPTIONS (define before including llm.h)
   --------------------
   LLM_IMPLEMENTATION     emit the implementation in this file (include llm.h first here)
   LLM_STATIC             make every API function static
   LLM_SHARED, LLM_BUILD  visibility / dllexport for a shared library
   LLM_ASSERT(x)          invariant checks (default: assert)
   LLM_THREADS            default pool size (0: online cores)
   LLM_NO_THREADS         no pthreads: everything runs on the calling thread
   LLM_NO_SIMD, LLM_NO_AVX2  scalar kernels only / no AVX2 kernels
   LLM_NO_AVX512          no AVX512-BF16 prefill for bf16 weights (see llm_set_exact_bf16)
   LLM_NO_ERROR_STRINGS   llm_last_error gives only the status text
   LLM_NO_STDIO           no default stderr logging
   LLM_MAX_DIMS           tensor rank limit (4)
   LLM_RUNTIME_DISPATCH   compile AVX2 kernels with target attributes, pick them by CPUID
   LLM_JINJA_MAX_MEMORY, LLM_JINJA_MAX_OUTPUT, LLM_JINJA_MAX_STEPS   chat template limits

   RECENT CHANGES
   --------------
   0.1.0  first version: safetensors, GGUF, MLX quantization, llama2.c; 21 architectures;
          tokenizers and chat templates; sampling, caches, speculative and batched generation
*/
