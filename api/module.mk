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

# ---- the api process (HTTP glue, router link, data plane, handlers) ----
# Pure helpers (requtil.c) are unit-tested alone.  bclient is listed here
# literally (backends/common/module.mk is included after this file); a
# source listed twice in LOCALAI_SRCS is linked once ($^ drops duplicates).
API_SRCS := api/api.c api/h_ops.c api/http.c api/rlink.c api/dataplane.c \
            api/generate.c api/h_chat.c api/h_completions.c \
            api/h_embeddings.c api/h_audio.c api/h_models.c api/h_health.c \
            api/h_nodes.c api/h_files.c api/requtil.c
LOCALAI_SRCS += $(API_SRCS) $(OPENAI_SRCS) backends/common/bclient.c \
                gen/backend.pb-c.c
LOCALAI_LIBS += $(call libs,jansson libmicrohttpd libcurl grpc libprotobuf-c)
$(patsubst %.c,$(BUILD)/obj/%.o,$(API_SRCS)): | $(BUILD)/gen/backend.pb-c.h

$(eval $(call unit_test,test_api_util,tests/unit/test_api_util.c api/requtil.c,))

# Integration tests of the api process (tests/integration/api_*.test): the
# test program plays supervisor and router; api_contbe is a test-only
# backend that continues its prompt (mid-stream failover).
API_TLIB := tests/integration/api_tlib.c supervisor/config.c \
            supervisor/conf_apply.c supervisor/conf_model.c \
            supervisor/conf_parse.c supervisor/conf_print.c proto/msgbuf.c \
            proto/log.c
$(eval $(call program,tests/integration/api_dataplane, \
    tests/integration/api_dataplane.c $(API_TLIB), \
    $(call libs,libcurl jansson libmicrohttpd libconfig libcrypto libsystemd)))
$(eval $(call program,tests/integration/api_contbe, \
    tests/integration/api_contbe.c backends/common/server.c \
    backends/common/server_call.c backends/common/gate.c \
    backends/common/addr.c gen/backend.pb-c.c proto/log.c, \
    $(call libs,grpc libprotobuf-c libcrypto libsystemd)))
$(BUILD)/obj/tests/integration/api_contbe.o: | $(BUILD)/gen/backend.pb-c.h

# The api's own header parsers, fuzzed (clang only; FUZZ_* from above).
ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
$(BUILD)/tests/fuzz/fuzz_api_http: tests/fuzz/fuzz_api_http.c api/requtil.c api/requtil.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_api_http.c api/requtil.c
ALL_TARGETS += $(BUILD)/tests/fuzz/fuzz_api_http
endif

# The api's figures (make bench): added latency, throughput, TTFT, RSS.
$(eval $(call program,tests/bench/bench_api,tests/bench/bench_api.c \
    $(API_TLIB) backends/common/bclient.c gen/backend.pb-c.c, \
    $(call libs,libcurl jansson libmicrohttpd libconfig libcrypto \
    libsystemd grpc libprotobuf-c)))
$(BUILD)/obj/tests/bench/bench_api.o: CFLAGS += -Itests/integration
$(BUILD)/obj/tests/bench/bench_api.o: | $(BUILD)/gen/backend.pb-c.h
.PHONY: bench-api
bench: bench-api
bench-api: $(BUILD)/tests/bench/bench_api $(BUILD)/bin/localai \
    $(BUILD)/tests/fakes/fakebackend
	$(BUILD)/tests/bench/bench_api $(BUILD)
