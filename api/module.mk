# The api process's OpenAI layer: pure code (no HTTP, no sockets), unit
# tested and fuzzed on its own.  The api process engineer adds these
# sources to LOCALAI_SRCS (with jansson in LOCALAI_LIBS) together with the
# HTTP glue.
OPENAI_SRCS := api/openai.c api/oa_fields.c api/oa_request.c \
               api/oa_response.c api/oa_template.c api/oa_form.c \
               api/multipart.c
OPENAI_LIBS  = $(call libs,jansson)

$(eval $(call unit_test,test_openai,tests/unit/test_openai.c $(OPENAI_SRCS),$(OPENAI_LIBS)))
$(eval $(call unit_test,test_openai_resp,tests/unit/test_openai_resp.c api/openai.c api/oa_response.c,$(OPENAI_LIBS)))
$(eval $(call unit_test,test_openai_form,tests/unit/test_openai_form.c $(OPENAI_SRCS),$(OPENAI_LIBS)))
$(eval $(call unit_test,test_template,tests/unit/test_template.c api/openai.c api/oa_template.c,))
$(eval $(call unit_test,test_multipart,tests/unit/test_multipart.c api/multipart.c,))

# The figures of the hot path (chunk building, request parsing).
$(eval $(call program,tests/bench/bench_openai,tests/bench/bench_openai.c $(OPENAI_SRCS),$(OPENAI_LIBS)))

# libFuzzer targets, built with clang when it is installed.  They compile
# the sources themselves (instrumented), apart from the normal objects.
FUZZ_CC     ?= clang
FUZZ_CFLAGS := -g -O1 -std=c17 -D_GNU_SOURCE -I. \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
$(BUILD)/tests/fuzz/fuzz_openai: tests/fuzz/fuzz_openai.c $(OPENAI_SRCS) api/openai.h api/oa_internal.h api/multipart.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_openai.c $(OPENAI_SRCS) $(OPENAI_LIBS)
$(BUILD)/tests/fuzz/fuzz_multipart: tests/fuzz/fuzz_multipart.c api/multipart.c api/multipart.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_multipart.c api/multipart.c
ALL_TARGETS += $(BUILD)/tests/fuzz/fuzz_openai $(BUILD)/tests/fuzz/fuzz_multipart
endif
