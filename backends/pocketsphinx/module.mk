# pocketsphinx backend: speech to text (AudioTranscription).
# Builds $(BUILD)/backends/pocketsphinx/run on the backend runtime, and the
# unit tests of its pure parts (resampler, utterance splitter).
PS_SRCS := backends/pocketsphinx/main.c backends/pocketsphinx/decode.c \
           backends/pocketsphinx/wavread.c backends/pocketsphinx/resample.c \
           backends/pocketsphinx/split.c
PS_MODELDIR := $(shell pkg-config --variable=modeldir pocketsphinx)/en-us
$(BUILD)/obj/backends/pocketsphinx/%.o: CFLAGS += \
    $(shell pkg-config --cflags pocketsphinx)
$(BUILD)/obj/backends/pocketsphinx/main.o: CFLAGS += \
    -DPS_DEFAULT_MODELDIR='"$(PS_MODELDIR)"'

$(call be_backend,pocketsphinx,$(PS_SRCS),$(call libs,pocketsphinx))

$(eval $(call unit_test,test_resample,tests/unit/test_resample.c backends/pocketsphinx/resample.c,))
$(eval $(call unit_test,test_split,tests/unit/test_split.c backends/pocketsphinx/split.c,))

# The command-line client of the speech integration tests
# (tests/integration/speech_*.test): one RPC per run, plus WAV helpers.
SPEECH_CLIENT_SRCS := tests/integration/speech_client.c \
    backends/espeak/wav.c backends/pocketsphinx/wavread.c \
    backends/pocketsphinx/resample.c $(BCLIENT_SRCS) proto/log.c
$(eval $(call program,tests/integration/speech_client,$(SPEECH_CLIENT_SRCS),\
    $(BCLIENT_LIBS) $(call libs,libsystemd)))
$(BUILD)/obj/tests/integration/speech_client.o: | $(BUILD)/gen/backend.pb-c.h

# libFuzzer target for the WAV reader and resampler (clang only; its own
# flags: libFuzzer needs -fsanitize=fuzzer).  speech_fuzz_wav.test runs it
# for a bounded number of inputs.
ifneq ($(shell command -v clang 2>/dev/null),)
$(BUILD)/tests/fuzz/fuzz_wav: tests/fuzz/fuzz_wav.c \
    backends/pocketsphinx/wavread.c backends/pocketsphinx/resample.c
	@mkdir -p $(@D)
	clang -g -O1 -std=c17 -D_GNU_SOURCE -I. \
	    -fsanitize=fuzzer,address,undefined -o $@ $^ -lm -lpthread
ALL_TARGETS += $(BUILD)/tests/fuzz/fuzz_wav
endif
