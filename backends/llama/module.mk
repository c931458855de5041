# The llama backend: a native GGUF inference engine (see docs/DESIGN.md).
#
# Float results must not depend on the compiler contracting a*b+c into one
# fused operation differently in the SIMD and portable kernels, so the
# engine's objects are built with -ffp-contract=off.
$(BUILD)/obj/backends/llama/%.o: CFLAGS += -ffp-contract=off
$(BUILD)/obj/tests/unit/test_llama_%.o: CFLAGS += -ffp-contract=off

LLAMA_GGUF := backends/llama/gguf.c

$(eval $(call unit_test,test_gguf,tests/unit/test_gguf.c $(LLAMA_GGUF),))

# libFuzzer target for the GGUF reader (clang only).
ifneq ($(shell command -v clang 2>/dev/null),)
$(BUILD)/tests/fuzz/fuzz_gguf: tests/fuzz/fuzz_gguf.c $(LLAMA_GGUF)
	@mkdir -p $(@D)
	clang -std=c17 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined \
	    -o $@ tests/fuzz/fuzz_gguf.c $(LLAMA_GGUF)
ALL_TARGETS += $(BUILD)/tests/fuzz/fuzz_gguf
endif

LLAMA_QUANT := backends/llama/quant.c backends/llama/quant_x86.c
$(eval $(call unit_test,test_llama_quant,tests/unit/test_llama_quant.c \
    $(LLAMA_QUANT) $(LLAMA_GGUF),))

LLAMA_MODEL := backends/llama/model.c backends/llama/eval.c \
    backends/llama/pool.c $(LLAMA_QUANT) $(LLAMA_GGUF)
$(eval $(call unit_test,test_llama_model,tests/unit/test_llama_model.c \
    tests/unit/test_llama_common.c $(LLAMA_MODEL),-lpthread))

LLAMA_TOK := backends/llama/tok.c $(LLAMA_GGUF)
$(eval $(call unit_test,test_tok,tests/unit/test_tok.c \
    tests/unit/test_llama_common.c $(LLAMA_TOK),$(call libs,libpcre2-8)))

# Test tool for the differential test against llama.cpp.
$(eval $(call program,tests/tools/llama_probe,tests/tools/llama_probe.c \
    backends/llama/tok.c $(LLAMA_MODEL),$(call libs,libpcre2-8)))

LLAMA_ENGINE := backends/llama/llm.c backends/llama/sample.c \
    backends/llama/chat.c backends/llama/tok.c $(LLAMA_MODEL)
LLAMA_ENGINE_LIBS := $(call libs,libpcre2-8) -lpthread
$(eval $(call unit_test,test_llama_gen,tests/unit/test_llama_gen.c \
    tests/unit/test_llama_common.c $(LLAMA_ENGINE),$(LLAMA_ENGINE_LIBS)))

# The shipped backend: build/backends/llama/run.
$(call be_backend,llama,backends/llama/main.c $(LLAMA_ENGINE),$(LLAMA_ENGINE_LIBS))

# The gRPC client that drives the backend in tests/integration/llama_rpc.test.
$(eval $(call program,tests/integration/llama_client, \
    tests/integration/llama_client.c $(BCLIENT_SRCS) proto/log.c, \
    $(BCLIENT_LIBS) $(call libs,libsystemd)))
$(BUILD)/obj/tests/integration/llama_client.o: | $(BUILD)/gen/backend.pb-c.h

# Benchmark (make bench runs it; models are generated under /tmp).
$(eval $(call program,tests/bench/bench_llama,tests/bench/bench_llama.c \
    $(LLAMA_MODEL),-lpthread))
.PHONY: bench-llama
bench: bench-llama
bench-llama: $(BUILD)/tests/bench/bench_llama
	$(BUILD)/tests/bench/bench_llama
