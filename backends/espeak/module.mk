# espeak backend: text to speech (TTS).  Builds
# $(BUILD)/backends/espeak/run on the backend runtime, and the unit test of
# the WAV writer (with the pocketsphinx backend's reader, to read back what
# it writes).
ESPEAK_SRCS := backends/espeak/main.c backends/espeak/synth.c \
               backends/espeak/wav.c

$(call be_backend,espeak,$(ESPEAK_SRCS),$(call libs,espeak-ng))

$(eval $(call unit_test,test_wav,tests/unit/test_wav.c backends/espeak/wav.c backends/pocketsphinx/wavread.c,))
