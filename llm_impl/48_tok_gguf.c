/* ---- >>GGUF vocabularies: llama.cpp's tokenizer.ggml.* metadata ----
   A GGUF file carries its tokenizer as metadata:
     tokenizer.ggml.model       "llama" (SentencePiece BPE: scores), "gpt2" (byte-level BPE:
                                merges), "bert" (WordPiece), "t5" (SentencePiece Unigram)
     tokenizer.ggml.pre         which pre-tokenizer regexes a "gpt2" vocabulary uses
     tokenizer.ggml.tokens      [string]  id -> piece
     tokenizer.ggml.scores      [f32]     SentencePiece scores (merge order for "llama")
     tokenizer.ggml.token_type  [i32]     1 normal 2 unknown 3 control 4 user-defined
                                          5 unused 6 byte (SentencePiece's own numbers)
     tokenizer.ggml.merges      [string]  "a b", in rank order ("gpt2")
     tokenizer.ggml.{bos,eos,unknown,seperator,padding}_token_id, add_bos_token,
     add_eos_token, add_space_prefix
   The loader fills the same tokenizer object as tokenizer.json / tokenizer.model would:
   "llama" and "t5" are the SentencePiece paths of 44_tok_spm.c, "gpt2" the byte-level BPE of a
   tokenizer.json with one Split step per llama.cpp regex, "bert" WordPiece with the
   pieces turned back into HF's spelling. Control and user-defined tokens become added
   tokens, so "<|im_start|>" in text is one token as with HF. */
#include "10_internal.h"

enum { LLM__GG_LLAMA, LLM__GG_GPT2, LLM__GG_BERT, LLM__GG_T5 };

typedef struct llm__gg {                 /* the arrays, borrowed from the open file */
    const char *path;
    int kind;                            /* LLM__GG_* */
    int64_t n;                           /* tokens */
    const llm_gguf_str *tokens;
    const float *scores;                 /* NULL if absent */
    const int32_t *types;                /* NULL if absent: all normal */
} llm__gg;

/* tokens, and scores / token_type when present: same length, or an error naming both. */
static llm_status llm__gg_arrays(const llm_gguf *g, llm__gg *c) {
    int64_t n_scores = 0, n_types = 0;
    const void *p = NULL;
    llm_status s = llm_gguf_get_arr(g, "tokenizer.ggml.tokens", LLM_GGUF_STRING, &c->n, &p);
    if (s) return s;
    c->tokens = (const llm_gguf_str *)p;
    if (c->n <= 0 || c->n > LLM_MAX_VOCAB) return llm__fail(LLM_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %lld entries", c->path, (long long)c->n);
    if ((s = llm_gguf_get_arr(g, "tokenizer.ggml.scores", LLM_GGUF_F32, &n_scores, &p)) == LLM_OK) c->scores = (const float *)p;
    else if (s != LLM_ERR_NOT_FOUND) return s;
    if ((s = llm_gguf_get_arr(g, "tokenizer.ggml.token_type", LLM_GGUF_I32, &n_types, &p)) == LLM_OK) c->types = (const int32_t *)p;
    else if (s != LLM_ERR_NOT_FOUND) return s;
    if (c->scores && n_scores != c->n)
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld tokens but %lld scores", c->path, (long long)c->n, (long long)n_scores);
    if (c->types && n_types != c->n)
        return llm__fail(LLM_ERR_FORMAT, "%s: %lld tokens but %lld token types", c->path, (long long)c->n, (long long)n_types);
    if ((c->kind == LLM__GG_LLAMA || c->kind == LLM__GG_T5) && !c->scores)
        return llm__fail(LLM_ERR_FORMAT, "%s: a SentencePiece vocabulary needs tokenizer.ggml.scores", c->path);
    return LLM_OK;
}

/* BERT GGUFs spell word-initial pieces "▁word" and continuations "word" (llama.cpp's
   converter); HF's WordPiece wants "word" and "##word". "[CLS]"-style pieces stay. */
static llm_status llm__gg_bert_piece(llm_tokenizer *t, llm_token id, const llm_gguf_str *s, llm__buf *tmp, const char *path) {
    const char *p = s->str;
    size_t n = (size_t)s->len;
    tmp->len = 0;
    if (n >= 3 && !memcmp(p, "\xe2\x96\x81", 3)) llm__buf_put(tmp, p + 3, n - 3);
    else if (n >= 2 && p[0] == '[' && p[n - 1] == ']') llm__buf_put(tmp, p, n);
    else { llm__buf_put(tmp, "##", 2); llm__buf_put(tmp, p, n); }
    llm__buf_put(tmp, "", 0);
    if (tmp->oom) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    return llm__tok_set_piece(t, id, tmp->data, tmp->len, true, path);
}

/* The pieces and their types. Control and user-defined tokens are added tokens (control
   ones special); unknown, byte and unused ones never come out of the model's search. */
static llm_status llm__gg_vocab(llm_tokenizer *t, const llm__gg *c) {
    llm__buf tmp = { 0 };
    llm_status s = llm__tok_alloc_vocab(t, c->n, c->scores != NULL, c->path);
    for (llm_token id = 0; id < c->n && !s; id++) {
        const llm_gguf_str *p = &c->tokens[id];
        int type = c->types ? c->types[id] : LLM__SP_NORMAL;
        if (type < LLM__SP_NORMAL || type > LLM__SP_BYTE) type = LLM__SP_NORMAL;  /* llama.cpp: undefined = normal */
        if (t->scores) t->scores[id] = c->scores[id];
        bool added = type == LLM__SP_CONTROL || type == LLM__SP_USER;
        if (c->kind == LLM__GG_BERT && !added) s = llm__gg_bert_piece(t, id, p, &tmp, c->path);
        else s = llm__tok_set_piece(t, id, p->str, (size_t)p->len, true, c->path);
        if (s) break;
        if (type != LLM__SP_NORMAL && type != LLM__SP_USER) t->flags[id] |= LLM__TF_NO_MODEL;
        if (added && p->len) {
            bool spm_user = (c->kind == LLM__GG_LLAMA || c->kind == LLM__GG_T5) && type == LLM__SP_USER;  /* as tokenizer.model's */
            llm__added a = { t->pieces[id], t->piece_lens[id], id, type == LLM__SP_CONTROL, false, false, false, spm_user, spm_user };
            s = llm__tok_add_token(t, &a, c->path);
        }
    }
    llm__buf_free(&tmp);
    return s;
}

/* Merge `rank` "a b": the pair's ids -> (rank, id of "ab"), as tokenizer.json's model.merges. */
static llm_status llm__gg_merge(llm_tokenizer *t, const llm_gguf_str *m, int64_t rank, llm__buf *tmp, const char *path) {
    const char *a = m->str, *sp = (const char *)memchr(a, ' ', (size_t)m->len);
    if (!sp) return llm__fail(LLM_ERR_FORMAT, "%s: merges[%lld] '%.100s' is not \"a b\"", path, (long long)rank, a);
    size_t na = (size_t)(sp - a), nb = (size_t)m->len - na - 1;
    tmp->len = 0;
    llm__buf_put(tmp, a, na);
    llm__buf_put(tmp, sp + 1, nb);
    if (tmp->oom) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    llm_token ia = llm__strmap_get(&t->vocab, a, na), ib = llm__strmap_get(&t->vocab, sp + 1, nb);
    llm_token im = llm__strmap_get(&t->vocab, tmp->data, tmp->len);
    if (ia < 0 || ib < 0 || im < 0)
        return llm__fail(LLM_ERR_FORMAT, "%s: merges[%lld] '%.100s': a part or the result is not in the vocabulary", path, (long long)rank, a);
    if (!llm__u64map_put(&t->merges, ((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib, ((uint64_t)rank << 32) | (uint32_t)im))
        return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    return LLM_OK;
}

static llm_status llm__gg_merges(llm_tokenizer *t, const llm_gguf *g, const char *path) {
    int64_t n = 0;
    const void *p = NULL;
    llm_status s = llm_gguf_get_arr(g, "tokenizer.ggml.merges", LLM_GGUF_STRING, &n, &p);
    if (s) return s;
    if (!llm__u64map_init(&t->merges, (size_t)n + 1)) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    llm__buf tmp = { 0 };
    for (int64_t rank = 0; rank < n && !s; rank++) s = llm__gg_merge(t, (const llm_gguf_str *)p + rank, rank, &tmp, path);
    llm__buf_free(&tmp);
    return s;
}

/* llama.cpp's pre-tokenizer regexes per tokenizer.ggml.pre (llama-vocab.cpp). Each regex
   is one Split(Isolated) step: matches and the text between them become words, and the
   next regex cuts those further. Literal non-ASCII characters are written as UTF-8 (and
   must stay un-normalized: deepseek-llm's class holds U+1F7D, U+1FBE, U+1FD3, U+1FDB,
   U+2126, U+212A, which NFC would turn into other letters). */
#define LLM__GG_GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define LLM__GG_LLAMA3_RE(num) "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" num \
                               "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define LLM__GG_CASED_RE(contractions) \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" contractions \
    "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" contractions
#define LLM__GG_BLOOM_RE " ?[^(\\s|.,!?…。，、।۔،)]+"
static const struct { const char *names; const char *re[6]; } llm__gg_pre[] = {
    { " default ", { "[\\p{P}\\$\\+<=>\\^~\\|]+", LLM__GG_GPT2_RE, "\\p{N}+", "[0-9][0-9][0-9]" } },
    { " gpt-2 mpt olmo jais ", { LLM__GG_GPT2_RE } },
    { " llama3 llama-v3 llama-bpe dbrx smaug-bpe falcon3 pixtral chatglm-bpe ", { LLM__GG_LLAMA3_RE("\\p{N}{1,3}") } },
    { " qwen2 stablelm2 ", { LLM__GG_LLAMA3_RE("\\p{N}") } },
    { " deepseek-llm ", { "[\r\n]", "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌ"
                          "ῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
                          "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+" } },
    { " deepseek-v3 ", { "\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+",
                         "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
                         "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+" } },
    { " deepseek-coder ", { "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}" } },
    { " falcon ", { "[\\p{P}\\$\\+<=>\\^~\\|`]+", LLM__GG_GPT2_RE, "[0-9][0-9][0-9]" } },
    { " starcoder refact command-r smollm codeshell exaone minerva ", { "\\p{N}", LLM__GG_GPT2_RE } },
    { " poro-chat bloom gpt3-finnish ", { LLM__GG_BLOOM_RE } },
    { " viking ", { LLM__GG_BLOOM_RE, "\\p{N}" } },
    { " tekken ", { LLM__GG_CASED_RE("") "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" } },
    { " gpt-4o ", { LLM__GG_CASED_RE("(?i:'s|'t|'re|'ve|'m|'ll|'d)?")
                    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" } },
};

static llm_status llm__gg_pretokenizer(llm_tokenizer *t, const llm_gguf *g, const char *path) {
    const char *pre = "default";
    llm_status s = llm_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    if (s && s != LLM_ERR_NOT_FOUND) return s;
    char key[128];
    snprintf(key, sizeof key, " %.120s ", pre);
    size_t k = 0, n = sizeof llm__gg_pre / sizeof llm__gg_pre[0];
    while (k < n && !strstr(llm__gg_pre[k].names, key)) k++;
    if (k == n) return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tokenizer.ggml.pre '%.100s' is not supported", path, pre);
    for (int i = 0; i < 6 && llm__gg_pre[k].re[i]; i++) {
        llm__step st = { .kind = LLM__P_SPLIT, .behavior = LLM__SPLIT_ISOLATED };
        if ((s = llm__regex_compile(llm__gg_pre[k].re[i], path, &st.re))) return s;
        if ((s = llm__tok_push_step(&t->pre, &t->n_pre, st, path))) { llm__regex_free(st.re); return s; }
    }
    const llm__step bytelevel = { .kind = LLM__P_BYTELEVEL }, dec = { .kind = LLM__D_BYTELEVEL };
    if ((s = llm__tok_push_step(&t->pre, &t->n_pre, bytelevel, path))) return s;
    t->has_decoder = true;
    return llm__tok_push_step(&t->dec, &t->n_dec, dec, path);
}

/* HF's BERT "Chinese character" blocks: U+4E00-9FFF 3400-4DBF 20000-2A6DF 2A700-2B73F
   2B740-2B81F 2B820-2CEAF F900-FAFF 2F800-2FA1F, as UTF-8 */
#define LLM__GG_CJK "[" \
    "\xe4\xb8\x80-\xe9\xbf\xbf" "\xe3\x90\x80-\xe4\xb6\xbf" "\xf0\xa0\x80\x80-\xf0\xaa\x9b\x9f" "\xf0\xaa\x9c\x80-\xf0\xab\x9c\xbf" \
    "\xf0\xab\x9d\x80-\xf0\xab\xa0\x9f" "\xf0\xab\xa0\xa0-\xf0\xac\xba\xaf" "\xef\xa4\x80-\xef\xab\xbf" "\xf0\xaf\xa0\x80-\xf0\xaf\xa8\x9f" "]"

/* HF's BertNormalizer (lowercase, strip accents) and BertPreTokenizer, WordPiece decoder. */
static llm_status llm__gg_bert_pipeline(llm_tokenizer *t, const char *path) {
    static char empty[] = "", prefix[] = "##";
    llm__step mn = { .kind = LLM__N_REPLACE, .content = empty };
    llm_status s = llm__tok_push_step(&t->norm, &t->n_norm, (llm__step){ .kind = LLM__N_NFD }, path);
    if (!s) s = llm__regex_compile("\\p{Mn}", path, &mn.re);
    if (!s && (s = llm__tok_push_step(&t->norm, &t->n_norm, mn, path))) llm__regex_free(mn.re);
    if (s) return s;
    const llm__step steps[] = {
        { .kind = LLM__N_LOWERCASE }, { .kind = LLM__P_WSSPLIT }, { .kind = LLM__P_PUNCT, .behavior = LLM__SPLIT_ISOLATED },
        { .kind = LLM__D_WORDPIECE, .content = prefix, .content_len = 2, .b = true },
    };
    if ((s = llm__tok_push_step(&t->norm, &t->n_norm, steps[0], path)) || (s = llm__tok_push_step(&t->pre, &t->n_pre, steps[1], path)) ||
        (s = llm__tok_push_step(&t->pre, &t->n_pre, steps[2], path)) || (s = llm__tok_push_step(&t->dec, &t->n_dec, steps[3], path))) return s;
    /* BertNormalizer puts spaces around each CJK ideograph: the same as cutting it out */
    llm__step cjk = { .kind = LLM__P_SPLIT, .behavior = LLM__SPLIT_ISOLATED };
    if ((s = llm__regex_compile(LLM__GG_CJK, path, &cjk.re))) return s;
    if ((s = llm__tok_push_step(&t->pre, &t->n_pre, cjk, path))) llm__regex_free(cjk.re);
    if (s) return s;
    t->has_decoder = true;
    if (!(t->wp_prefix = llm__tok_intern(t, prefix, 2))) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    t->wp_max_chars = 100;
    return LLM_OK;
}

/* A special-token id from the metadata: -1 when absent or out of range (llama.cpp ignores
   an out-of-range id with a warning; so do we). */
static llm_token llm__gg_id(const llm_gguf *g, const llm_tokenizer *t, const char *key, llm_token dflt) {
    int64_t v = dflt;
    if (llm_gguf_get_int(g, key, &v) == LLM_ERR_FORMAT) llm__log(LLM_LOG_WARN, "%s", llm_last_error());
    if (v >= t->n_vocab || v < -1) { llm__log(LLM_LOG_WARN, "%s: %lld out of range, ignored", key, (long long)v); v = -1; }
    return (llm_token)v;
}

static bool llm__gg_flag(const llm_gguf *g, const char *key, bool dflt) {
    bool v = dflt;
    llm_gguf_get_bool(g, key, &v);
    return v;
}

/* Special ids and what add_special puts around the text. */
static llm_status llm__gg_specials(llm_tokenizer *t, const llm_gguf *g, int kind, const char *path) {
    bool spm = kind == LLM__GG_LLAMA, bert = kind == LLM__GG_BERT, t5 = kind == LLM__GG_T5;
    t->bos = llm__gg_id(g, t, "tokenizer.ggml.bos_token_id", spm ? 1 : -1);
    if (bert) t->bos = llm__gg_id(g, t, "tokenizer.ggml.cls_token_id", t->bos);    /* [CLS] opens the text */
    t->eos = llm__gg_id(g, t, "tokenizer.ggml.eos_token_id", spm ? 2 : -1);
    t->unk = llm__gg_id(g, t, "tokenizer.ggml.unknown_token_id", spm ? 0 : t5 ? 2 : -1);
    llm_token sep = llm__gg_id(g, t, "tokenizer.ggml.seperator_token_id", -1);
    bool add_bos = llm__gg_flag(g, "tokenizer.ggml.add_bos_token", spm || bert) && t->bos >= 0;
    bool add_eos = llm__gg_flag(g, "tokenizer.ggml.add_eos_token", t5) && t->eos >= 0;       /* T5 ends with </s> */
    if (bert) { add_eos = sep >= 0 || add_eos; if (sep < 0) sep = t->eos; }  /* [CLS] text [SEP] */
    if (!(t->post_ids = (llm_token *)malloc(2 * sizeof *t->post_ids))) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path);
    if (add_bos) t->post_ids[t->n_post_pre++] = t->bos;
    if (add_eos) t->post_ids[t->n_post_pre + t->n_post_post++] = bert ? sep : t->eos;
    return LLM_OK;
}

static llm_status llm__gg_kind(const llm_gguf *g, llm__gg *c) {
    const char *model = NULL;
    llm_status s = llm_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (s) return s;
    if (!strcmp(model, "llama")) c->kind = LLM__GG_LLAMA;
    else if (!strcmp(model, "gpt2")) c->kind = LLM__GG_GPT2;
    else if (!strcmp(model, "bert")) c->kind = LLM__GG_BERT;
    else if (!strcmp(model, "t5")) c->kind = LLM__GG_T5;
    else return llm__fail(LLM_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model '%.100s' is not supported (llama, gpt2, bert, t5)", c->path, model);
    return LLM_OK;
}

/* The model-specific part: merges and pipeline. */
static llm_status llm__gg_model(llm_tokenizer *t, const llm_gguf *g, const llm__gg *c) {
    llm_status s = LLM_OK;
    if (c->kind == LLM__GG_GPT2) {
        t->model = LLM__TOK_BPE;
        if (!(s = llm__gg_merges(t, g, c->path))) s = llm__gg_pretokenizer(t, g, c->path);
        return s;
    }
    if (c->kind == LLM__GG_BERT) {
        t->model = LLM__TOK_WORDPIECE;
        return llm__gg_bert_pipeline(t, c->path);
    }
    /* llama.cpp's SentencePiece: " " -> "▁", a leading "▁" unless add_space_prefix is false;
       T5 (Unigram) also collapses spaces and has a precompiled charsmap */
    bool t5 = c->kind == LLM__GG_T5;
    llm__spm sp = { t5 ? 1 : 2, !t5, llm__gg_flag(g, "tokenizer.ggml.add_space_prefix", true),
                    llm__gg_flag(g, "tokenizer.ggml.remove_extra_whitespaces", t5), true,
                    llm_gguf_find_kv(g, "tokenizer.ggml.precompiled_charsmap") != NULL, 0, 1, 2, c->n };
    t->byte_fallback = sp.byte_fallback;
    t->fuse_unk = true;
    if (t5) {
        t->model = LLM__TOK_UNIGRAM;
        return llm__spm_pipeline(t, &sp, c->path);
    }
    t->model = LLM__TOK_BPE;
    bool *mergeable = (bool *)malloc((size_t)c->n);
    if (!mergeable) return llm__fail(LLM_ERR_NOMEM, "%s: out of memory", c->path);
    for (int64_t i = 0; i < c->n; i++) mergeable[i] = !(t->flags[i] & LLM__TF_NO_MODEL);
    if (!(s = llm__merges_from_scores(t, mergeable, c->path))) s = llm__spm_pipeline(t, &sp, c->path);
    free(mergeable);
    return s;
}

static llm_status llm__tokenizer_load_gguf(const char *path, llm_tokenizer **out) {
    llm_gguf *g = NULL;
    llm_tokenizer *t = NULL;
    llm__gg c = { path, 0, 0, NULL, NULL, NULL };
    llm_status s = llm_gguf_open(path, &g);
    if (s) return s;
    if ((s = llm__gg_kind(g, &c)) || (s = llm__gg_arrays(g, &c))) goto done;
    if (!(t = (llm_tokenizer *)calloc(1, sizeof *t))) { s = llm__fail(LLM_ERR_NOMEM, "%s: out of memory", path); goto done; }
    if ((s = llm__gg_vocab(t, &c)) || (s = llm__gg_specials(t, g, c.kind, path)) || (s = llm__gg_model(t, g, &c))) goto done;
    s = llm__tok_finish(t, path);
done:
    llm_gguf_close(g);
    if (s) llm_tokenizer_free(t);
    else *out = t;
    return s;
}
