# The agent processes: the worker agent (registration, heartbeats, NATS
# commands, backend installs, model files, the node's HTTP endpoint) and
# the frontend agent (the frontend's NATS link).
AGENT_SRCS := agent/sysinfo.c agent/hclient.c agent/util.c proto/hash.c \
              agent/install.c agent/fetch.c agent/pbjson.c agent/wcmd.c \
              agent/wregister.c agent/whttp.c agent/wmetrics.c agent/wpoll.c agent/wload.c agent/fagent.c agent/agent.c agent/worker.c agent/wgrpc.c
LOCALAI_SRCS += $(AGENT_SRCS) backends/common/bclient.c gen/backend.pb-c.c
LOCALAI_LIBS += $(call libs,libnats jansson libcrypto libcurl libarchive \
    libmicrohttpd grpc libprotobuf-c)
$(patsubst %.c,$(BUILD)/obj/%.o,$(AGENT_SRCS)): | $(BUILD)/gen/backend.pb-c.h

$(eval $(call unit_test,test_agent,tests/unit/test_agent.c agent/sysinfo.c \
    agent/util.c proto/hash.c agent/bus.c agent/install.c agent/hclient.c agent/pbjson.c \
    gen/backend.pb-c.c proto/log.c,$(call libs,libnats jansson libcrypto \
    libcurl libarchive libprotobuf-c libsystemd)))
$(BUILD)/obj/tests/unit/test_agent.o: | $(BUILD)/gen/backend.pb-c.h

# The worker tests' gRPC client (tests/integration/worker_*.test).
$(eval $(call program,tests/integration/wk_client,tests/integration/wk_client.c \
    backends/common/bclient.c gen/backend.pb-c.c proto/log.c, \
    $(call libs,grpc libprotobuf-c libsystemd)))
$(BUILD)/obj/tests/integration/wk_client.o: | $(BUILD)/gen/backend.pb-c.h

# The worker's figures (make bench): install -> ready, unload, idle cost.
.PHONY: bench-worker
bench: bench-worker
bench-worker: $(BUILD)/bin/localai $(BUILD)/tests/fakes/fakebackend \
    $(BUILD)/tests/harness/th-env
	BUILD=$(BUILD) TOP=$(CURDIR) tests/bench/bench_worker $(BUILD)

# libFuzzer target for the NATS command payloads (clang only; a bounded
# run is tests/integration/worker_fuzz.test).
WK_FUZZ_CC := $(shell command -v clang 2>/dev/null)
ifneq ($(WK_FUZZ_CC),)
ALL_TARGETS += $(BUILD)/tests/fuzz/fuzz_worker_cmd
$(BUILD)/tests/fuzz/fuzz_worker_cmd: tests/fuzz/fuzz_worker_cmd.c agent/pbjson.c \
    agent/util.c $(BUILD)/gen/backend.pb-c.c agent/pbjson.h agent/util.h
	@mkdir -p $(@D)
	$(WK_FUZZ_CC) -g -O1 -std=c17 -D_GNU_SOURCE -I. -I$(BUILD)/gen \
	    -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
	    -o $@ tests/fuzz/fuzz_worker_cmd.c agent/pbjson.c agent/util.c \
	    $(BUILD)/gen/backend.pb-c.c $(call libs,jansson libprotobuf-c libcrypto)
endif
