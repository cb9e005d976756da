#!/bin/sh
# Build tests/test_kernels.c and tests/test_ggml_kernels.c for AArch64 (the NEON kernels
# against the scalar ones, the fixture models at 1/2/3 threads, the regrouped q4_0/q8_0
# kernels with and without the dot-product instructions) and run them under qemu-user. Needs, on Debian:
#   apt-get install gcc-aarch64-linux-gnu qemu-user
#   dpkg --add-architecture arm64 && apt-get update &&
#   apt-get install libcjson-dev:arm64 libutf8proc-dev:arm64 libzstd-dev:arm64
# Usage: sh tests/cross_neon.sh   (skips with a message when the tools are missing)
set -e
CC_AARCH64=${CC_AARCH64:-aarch64-linux-gnu-gcc}
BUILD=${BUILD:-build}
command -v "$CC_AARCH64" >/dev/null || { echo "cross_neon: $CC_AARCH64 not found (apt-get install gcc-aarch64-linux-gnu)"; exit 0; }
command -v qemu-aarch64 >/dev/null || { echo "cross_neon: qemu-aarch64 not found (apt-get install qemu-user)"; exit 0; }
make -s llm.h
mkdir -p "$BUILD"
"$CC_AARCH64" -O2 -g -std=c11 -Wall -Wextra -Wshadow -Wno-unused-function -I. \
    -o "$BUILD/test_kernels.aarch64" tests/test_kernels.c -lutf8proc -lzstd -lcjson -lpthread -lm
# The arm64 libraries come with their own libc (multiarch): run with that loader (-L /); mixing
# the cross toolchain's loader with the multiarch libc hangs in pthread_create.
LLM_FIXTURES=${LLM_FIXTURES:-../shared/fixtures} qemu-aarch64 -L / "$BUILD/test_kernels.aarch64"
for march in armv8-a armv8.2-a+dotprod; do
    "$CC_AARCH64" -O2 -g -march=$march -std=c11 -Wall -Wextra -Wshadow -Wno-unused-function -I. \
        -o "$BUILD/test_ggml_kernels.aarch64" tests/test_ggml_kernels.c -lutf8proc -lzstd -lcjson -lpthread -lm
    echo "test_ggml_kernels, -march=$march:"
    qemu-aarch64 -cpu max -L / "$BUILD/test_ggml_kernels.aarch64"
done
