/*
 * Utterance splitting for long audio: see split.h.
 */
#include "backends/pocketsphinx/split.h"

size_t
split_next(const int16_t *pcm, size_t n, size_t start, uint32_t rate)
{
	size_t win = rate / 10, hop = rate / 100, lo, hi, pos, i, best;
	uint64_t energy, best_energy = UINT64_MAX;

	if (start >= n || n - start <= (size_t)SPLIT_MAX_SEC * rate)
		return n;
	if (hop == 0)
		hop = 1;
	lo = start + (size_t)SPLIT_MIN_SEC * rate;
	hi = start + (size_t)SPLIT_MAX_SEC * rate - win;
	best = start + (size_t)SPLIT_MAX_SEC * rate;
	/* Windows every 10 ms; the first quietest one wins. */
	for (pos = lo; pos <= hi; pos += hop) {
		energy = 0;
		for (i = pos; i < pos + win; i++)
			energy += (uint64_t)((int64_t)pcm[i] * pcm[i]);
		if (energy < best_energy) {
			best_energy = energy;
			best = pos + win / 2;
		}
	}
	return best;
}
