# espeak backend: text to speech (TTS).
$(eval $(call unit_test,test_wav,tests/unit/test_wav.c backends/espeak/wav.c backends/pocketsphinx/wavread.c,))
