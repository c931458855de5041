# libFuzzer targets, built with clang into $(BUILD)/tests/fuzz/ (only when
# clang is installed; gcc has no libFuzzer).  Each target is one
# LLVMFuzzerTestOneInput file plus the sources it exercises:
#   $(eval $(call fuzz_target,NAME,SOURCES,LIBS))
# A short bounded run of each belongs in an integration test.
FUZZ_CC     := $(shell command -v clang 2>/dev/null)
FUZZ_CFLAGS := -g -O1 -std=c17 -D_GNU_SOURCE $(WARN) \
               -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
               -I. -I$(BUILD)/gen $(PKG_CFLAGS)

define fuzz_target
ifneq ($(FUZZ_CC),)
ALL_TARGETS += $(BUILD)/tests/fuzz/$(1)
$(BUILD)/tests/fuzz/$(1): $(2) $$(foreach d,$$(sort $$(dir $(2))),$$(wildcard $$(d)*.h))
	@mkdir -p $$(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $$@ $(2) $(3)
endif
endef

$(eval $(call fuzz_target,fuzz_msgbuf,tests/fuzz/fuzz_msgbuf.c proto/msgbuf.c proto/log.c,$(call libs,libsystemd)))
