# backends/common: the backend runtime every backend links, the gRPC client
# library (bclient) the api process and the tests use, the test-only fake
# backend, the conformance test programs and the gRPC benchmark.
#
# A shipped backend's module.mk is one line (module.mk files are included
# in name order, so backends/<name>/module.mk sees these definitions):
#   $(call be_backend,espeak,backends/espeak/espeak.c,$(call libs,espeak-ng))
# It builds $(BUILD)/backends/espeak/run (+ metadata.json beside it) from the
# backend's own sources plus the runtime, and makes the backend's objects
# wait for the generated protobuf header.  Do not list the runtime's sources
# (or proto/log.c) yourself: the linker would see them twice.
#
# Anything else that calls backends with the client library adds
#   $(BCLIENT_SRCS) to its sources and $(BCLIENT_LIBS) to its libraries
# (literal: backends/common/bclient.c gen/backend.pb-c.c and
#  $(call libs,grpc libprotobuf-c)) and an order-only prerequisite on
# $(BUILD)/gen/backend.pb-c.h for its own objects (see proto/module.mk).

BE_RUNTIME_SRCS := backends/common/server.c backends/common/server_call.c \
                   backends/common/gate.c backends/common/addr.c \
                   gen/backend.pb-c.c proto/log.c
BE_RUNTIME_LIBS := $(call libs,grpc libprotobuf-c libcrypto libsystemd)
BCLIENT_SRCS    := backends/common/bclient.c gen/backend.pb-c.c
BCLIENT_LIBS    := $(call libs,grpc libprotobuf-c)

# $(call be_backend,NAME,SOURCES,LIBS): a shipped backend on the runtime.
be_backend = $(eval $(call backend,$(1),$(2) $(BE_RUNTIME_SRCS),$(3) \
    $(BE_RUNTIME_LIBS)))$(eval $(patsubst %.c,$(BUILD)/obj/%.o,$(2)): | \
    $(BUILD)/gen/backend.pb-c.h)

# Objects of ours that include the generated header (directly or not).
BE_COMMON_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,backends/common/server.c \
    backends/common/server_call.c backends/common/bclient.c \
    tests/fakes/fakebackend.c tests/integration/be_conform.c \
    tests/bench/bench_grpc.c)
$(BE_COMMON_OBJS): | $(BUILD)/gen/backend.pb-c.h

# The test-only fake backend (never in BACKENDS, never packaged).
$(eval $(call program,tests/fakes/fakebackend,tests/fakes/fakebackend.c \
    $(BE_RUNTIME_SRCS),$(BE_RUNTIME_LIBS)))

# The conformance client the backend_*.test scripts drive.
$(eval $(call program,tests/integration/be_conform, \
    tests/integration/be_conform.c $(BCLIENT_SRCS) proto/log.c, \
    $(BCLIENT_LIBS) $(call libs,libsystemd)))

# The gRPC benchmark (make bench runs it).
$(eval $(call program,tests/bench/bench_grpc,tests/bench/bench_grpc.c \
    $(BCLIENT_SRCS) proto/log.c,$(BCLIENT_LIBS) $(call libs,libsystemd)))

# Unit tests of the runtime's pure parts.
$(eval $(call unit_test,test_be_addr,tests/unit/test_be_addr.c \
    backends/common/addr.c))
$(eval $(call unit_test,test_be_gate,tests/unit/test_be_gate.c \
    backends/common/gate.c proto/log.c,$(call libs,libsystemd)))

.PHONY: bench-grpc
bench: bench-grpc
bench-grpc: $(BUILD)/tests/bench/bench_grpc $(BUILD)/tests/fakes/fakebackend
	$(BUILD)/tests/bench/bench_grpc $(BUILD)/tests/fakes/fakebackend
