# localai-c — top-level build.
#
# One non-recursive make: every component adds its sources, programs and
# tests in its own module.mk, included below.  Objects go under $(BUILD);
# `make SAN=1` builds the AddressSanitizer/UBSan variant into build-asan/.
#
#   make            build/bin/localai and every shipped backend
#   make deps       install the Debian packages the project needs (idempotent)
#   make test       deps, build (plain and ASan/UBSan), run every test
#   make demo       deps, build, run the embedded default with demo models
#   make lint       clang-format check
#   make bench      build and run the benchmarks in tests/bench

SAN      ?=
ifeq ($(SAN),1)
BUILD    ?= build-asan
else
BUILD    ?= build
endif
PREFIX   ?= /usr/local
DESTDIR  ?=
WERROR   ?= 1

CC       ?= cc
PROTOC_C ?= protoc-c

PKGS     := libconfig libsystemd jansson libcrypto libssl libmicrohttpd \
            libcurl libnats libpq grpc libprotobuf-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wcast-qual -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN     += -Werror
endif
CFLAGS   ?= -O2 -g
# gcc only (clang, used for the fuzz targets, does not know it).
CFLAGS   += -Wno-format-truncation
CFLAGS   += -std=c17 -D_GNU_SOURCE -pthread $(WARN) -MMD -MP \
            -I. -I$(BUILD)/gen $(PKG_CFLAGS)
LDFLAGS  += -pthread
ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

# Library flags by name, for module.mk files: $(call libs,libpq jansson).
libs = $(shell pkg-config --libs $(1))

# Filled in by the module.mk files.
LOCALAI_SRCS :=
LOCALAI_LIBS :=
BACKENDS     :=
UNIT_TESTS   :=
PROGRAMS     :=
ALL_TARGETS  :=

# $(call unit_test,NAME,SOURCES,LIBS): a cmocka binary $(BUILD)/tests/unit/NAME
# linking only SOURCES (the module under test and what it cannot do without).
define unit_test
UNIT_TESTS += $(BUILD)/tests/unit/$(1)
$(BUILD)/tests/unit/$(1): $$(patsubst %.c,$(BUILD)/obj/%.o,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $(3) -lcmocka -lm
endef

# $(call program,PATH,SOURCES,LIBS): any other executable under $(BUILD).
define program
PROGRAMS += $(BUILD)/$(1)
$(BUILD)/$(1): $$(patsubst %.c,$(BUILD)/obj/%.o,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $(3) -lm
endef

# $(call backend,NAME,SOURCES,LIBS): a shipped backend,
# $(BUILD)/backends/NAME/run plus its metadata.json.
define backend
BACKENDS += $(1)
$(BUILD)/backends/$(1)/run: $$(patsubst %.c,$(BUILD)/obj/%.o,$(2))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $(3) -lm
$(BUILD)/backends/$(1)/metadata.json: backends/$(1)/metadata.json
	@mkdir -p $$(@D)
	cp $$< $$@
ALL_TARGETS += $(BUILD)/backends/$(1)/run $(BUILD)/backends/$(1)/metadata.json
endef

.PHONY: all deps test test-run build-asan lint format bench demo demo-check \
        clean install
all:

include $(sort $(wildcard */module.mk backends/*/module.mk tests/*/module.mk))

# ---- the localai binary ---------------------------------------------------
LOCALAI_OBJS := $(LOCALAI_SRCS:%.c=$(BUILD)/obj/%.o)
$(BUILD)/bin/localai: $(LOCALAI_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LOCALAI_LIBS) -lm

all: $(BUILD)/bin/localai $(ALL_TARGETS) $(UNIT_TESTS) $(PROGRAMS)

# ---- generic rules ----------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- dependencies -------------------------------------------------------------
deps:
	@sh tests/tools/deps.sh

# ---- tests --------------------------------------------------------------------
# `make test` builds both variants and runs the suite against each; the
# summary line counts every test run.  CI sets CI=true.
test: deps
	$(MAKE) all
	$(MAKE) SAN=1 all
	$(MAKE) test-run

test-run:
	@sh tests/run.sh

bench: all
	@sh tests/bench/run.sh

lint:
	@files=$$(git ls-files '*.c' '*.h' | grep -v '^tests/fuzz/corpus'); \
	clang-format --dry-run --Werror $$files

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan
