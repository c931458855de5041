/*
 * libFuzzer target for the WAV reader and the resampler of the
 * pocketsphinx backend: the audio file AudioTranscription reads comes from
 * users (uploaded through the API), so arbitrary bytes must give either a
 * clean refusal or audio that is safe to decode.  When wav_parse() accepts
 * the input, the samples it describes must lie inside the buffer, convert
 * to finite values in [-1, 1], and resample to 16 kHz into finite values.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "backends/pocketsphinx/resample.h"
#include "backends/pocketsphinx/wavread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wav_info wi;
	char err[200];
	float *mono, *rs;
	size_t i, n;

	if (wav_parse(data, size, &wi, err, sizeof(err)) == -1)
		return 0;
	if (wi.data < data ||
	    (size_t)(wi.data - data) + wi.frames * wi.channels * (wi.bits / 8) >
	        size)
		abort();
	if ((mono = wav_to_mono_float(&wi)) == NULL)
		return 0;
	for (i = 0; i < wi.frames; i++)
		if (!isfinite(mono[i]) || mono[i] < -1.0f || mono[i] > 1.0f)
			abort();
	rs = resample(mono, wi.frames, wi.rate, 16000, &n);
	if (rs == NULL)
		abort();
	for (i = 0; i < n; i++)
		if (!isfinite(rs[i]))
			abort();
	free(rs);
	free(mono);
	return 0;
}
