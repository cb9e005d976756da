# llm.h - build, test and run.   `make run` = the main job, `make test` = the test suite.
#   make llm.h               regenerate the single header from llm_impl/
#   make check-amalgamation  fail if the committed llm.h is stale
#   make CC=clang SAN=1 test build and test with AddressSanitizer + UBSan
CC      ?= cc
BUILD   ?= build
FIXTURES ?= ../shared/fixtures
MODEL   ?= $(FIXTURES)/models/stories260K/stories260K.bin
TOKENIZER ?= $(if $(filter %stories260K.bin,$(MODEL)),$(FIXTURES)/models/stories260K/tok512.bin)
PROMPT  ?= Once upon a time
OPT     ?= -O2 -march=native
WARN    := -Wall -Wextra -Wshadow -Wno-unused-function
CFLAGS  ?= $(OPT) -g -std=c11 $(WARN) $(EXTRA_CFLAGS)
LIBS    := -lutf8proc -lzstd -lcjson -lpthread -lm
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

IMPL     := $(sort $(wildcard llm_impl/*.h llm_impl/*.c))
TESTS    := $(patsubst tests/%.c,$(BUILD)/%,$(sort $(wildcard tests/test_*.c)))
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/example_%,$(sort $(wildcard examples/*.c)))
DEPS_PKGS := libutf8proc-dev libzstd-dev libcjson-dev

.PHONY: all run test tests examples check-amalgamation check-compile deps clean stats cross-neon
all: $(BUILD)/llm $(EXAMPLES)

llm.h: $(IMPL) llm_impl/amalgamate.sh
	sh llm_impl/amalgamate.sh > $@.tmp && mv $@.tmp $@

check-amalgamation:
	@sh llm_impl/amalgamate.sh > $(BUILD).llm.h.fresh && cmp -s $(BUILD).llm.h.fresh llm.h \
	  && rm -f $(BUILD).llm.h.fresh && echo "llm.h is fresh" \
	  || { rm -f $(BUILD).llm.h.fresh; echo "llm.h is stale: run 'make llm.h' and commit"; exit 1; }

# What users compile: the implementation with -Wall -Wextra -Werror under gcc and clang, plain,
# on plain AVX2 (x86-64-v3: no AVX-512),
# without SIMD and with runtime dispatch on a baseline x86-64 target; a second translation unit
# linked to it; the API from C++.
CHECK_WARN := -std=c11 -Wall -Wextra -Wshadow -Werror -O1 -I.
check-compile: llm.h | $(BUILD)
	@set -e; for cc in gcc clang; do \
	  for cfg in "-march=native" "-march=native -DLLM_NO_SIMD" "-march=x86-64-v3" "-march=x86-64 -DLLM_RUNTIME_DISPATCH"; do \
	    echo "  $$cc $$cfg"; $$cc $(CHECK_WARN) $$cfg -c tests/compile/impl.c -o $(BUILD)/compile_impl.o; done; \
	  $$cc $(CHECK_WARN) -c tests/compile/user.c -o $(BUILD)/compile_user.o; \
	  $$cc -o $(BUILD)/compile_two $(BUILD)/compile_impl.o $(BUILD)/compile_user.o $(LIBS); $(BUILD)/compile_two; done
	@g++ -std=c++17 -Wall -Wextra -Werror -I. -c tests/compile/api.cpp -o $(BUILD)/compile_api.o && echo "  g++: the API compiles as C++"

$(BUILD):
	@mkdir -p $(BUILD)

$(BUILD)/llm: cli/cli.c llm.h | $(BUILD)
	$(CC) $(CFLAGS) -I. -o $@ cli/cli.c $(LDFLAGS) $(LIBS)

$(BUILD)/test_%: tests/test_%.c tests/test.h llm.h | $(BUILD)
	$(CC) $(CFLAGS) -I. -o $@ $< $(LDFLAGS) $(LIBS) -lutil

$(BUILD)/example_%: examples/%.c llm.h | $(BUILD)
	$(CC) $(CFLAGS) -I. -o $@ $< $(LDFLAGS) $(LIBS)

tests: $(TESTS) $(BUILD)/llm
examples: $(EXAMPLES)

test: deps tests
	@LLM_FIXTURES=$(FIXTURES) LLM_BIN=$(BUILD)/llm sh tests/run_tests.sh $(TESTS)

run: deps $(BUILD)/llm
	@printf '%s' "$(PROMPT)"
	@$(BUILD)/llm generate --model $(MODEL) $(if $(TOKENIZER),--tokenizer $(TOKENIZER)) --prompt "$(PROMPT)" \
	  --max-tokens 256 --temp 0 --verbose

# Install the three libraries when missing (apt-get as root), else print the line to run.
deps:
	@missing=""; for p in $(DEPS_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; (apt-get install -y -q $$missing || { apt-get update -q && apt-get install -y -q $$missing; }) >/dev/null; \
	  else echo "missing packages; run: sudo apt-get install -y$$missing"; exit 1; fi; \
	fi

# Benchmarks (not tests): the STREAM-like read probe, and the NEON kernels under qemu.
$(BUILD)/membw: tests/bench/membw.c | $(BUILD)
	$(CC) -O3 -march=native -o $@ $< -lpthread

cross-neon:
	sh tests/cross_neon.sh

stats:
	@for f in $(IMPL); do printf '%6d %s\n' $$(wc -l < $$f) $$f; done; wc -l llm.h cli/cli.c

clean:
	rm -rf $(BUILD)
