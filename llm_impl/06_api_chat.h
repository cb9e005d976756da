/* ---- >>chat: chat templates (the Jinja `chat_template` of tokenizer_config.json) ----
   Hugging Face models ship their prompt format as a Jinja2 template. llm.h renders it with
   its own interpreter of the Jinja subset these templates use, byte for byte as
   transformers' apply_chat_template(..., tokenize=False) does (same environment:
   trim_blocks, lstrip_blocks, loop controls, tojson as Python json.dumps,
   raise_exception, strftime_now).

       llm_chat_template *t;
       if (llm_chat_template_load("models/qwen3", NULL, &t)) die();
       char *prompt; size_t n;
       llm_chat_template_render(t, "[{\"role\":\"user\",\"content\":\"Hi\"}]", NULL, true, NULL, &prompt, &n);
       ...; llm_free(prompt); llm_chat_template_free(t);
*/
typedef struct llm_chat_template llm_chat_template;

/* Load a chat template. path: a model or tokenizer directory (chat_template.jinja and/or
   tokenizer_config.json), a tokenizer_config.json file, or a .gguf file
   (tokenizer.chat_template, named ones tokenizer.chat_template.<name>; bos/eos are the
   strings of its bos/eos token ids). A chat_template.jinja next to
   the config wins over the config's own template, as in transformers. name: NULL for
   the default template, or one of a named list ("tool_use", "rag").
   bos_token/eos_token come from the config (strings or {"content": ...} objects).
   Errors: LLM_ERR_IO, LLM_ERR_FORMAT (bad JSON, template syntax error with its line),
   LLM_ERR_NOT_FOUND (no template, or no template of that name).
   Free with llm_chat_template_free(). */
LLM_API llm_status llm_chat_template_load(const char *path, const char *name, llm_chat_template **out_template);

/* Compile a template from source. bos_token/eos_token may be NULL (then undefined in the
   template). Errors: LLM_ERR_FORMAT with the line of the syntax error. */
LLM_API llm_status llm_chat_template_parse(const char *source, const char *bos_token, const char *eos_token,
                                           llm_chat_template **out_template);

LLM_API void llm_chat_template_free(llm_chat_template *t);

/* The template's source text (valid until the template is freed). */
LLM_API const char *llm_chat_template_source(const llm_chat_template *t);

/* Render a conversation into a prompt.
     t                      [in]  the template; may be used from several threads at once
     messages_json          [in]  JSON array of {"role", "content", ...}; content may be a string
                                  or a list of parts; other keys (tool_calls, reasoning_content)
                                  are passed through
     tools_json             [in, optional] NULL or a JSON array of tool schemas (`tools` is
                                  none when NULL, as in transformers)
     add_generation_prompt  [in]  open an assistant turn at the end
     kwargs_json            [in, optional] NULL or a JSON object of extra variables,
                                  e.g. {"enable_thinking": false}
     out_text, out_len      [out] the prompt, NUL-terminated; free with llm_free()
   Errors: LLM_ERR_INVALID_ARG (bad JSON), LLM_ERR_FORMAT (the template failed: an
   undefined value used, a type error, raise_exception("...") whose text is the message,
   or a limit on output size, memory, steps or recursion). */
LLM_API llm_status llm_chat_template_render(const llm_chat_template *t, const char *messages_json, const char *tools_json,
                                            bool add_generation_prompt, const char *kwargs_json,
                                            char **out_text, size_t *out_len);

