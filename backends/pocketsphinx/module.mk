# pocketsphinx backend: speech to text (AudioTranscription).
PS_CFLAGS := $(shell pkg-config --cflags pocketsphinx)
$(BUILD)/obj/backends/pocketsphinx/%.o: CFLAGS += $(PS_CFLAGS)

$(eval $(call unit_test,test_resample,tests/unit/test_resample.c backends/pocketsphinx/resample.c,))
$(eval $(call unit_test,test_split,tests/unit/test_split.c backends/pocketsphinx/split.c,))
