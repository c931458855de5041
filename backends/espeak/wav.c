/*
 * WAV writer: see wav.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/espeak/wav.h"

static void
put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

int
wav_header_encode(uint8_t out[WAV_HEADER_SIZE], uint32_t rate,
    uint16_t channels, uint16_t bits, uint64_t data_bytes)
{
	uint32_t block_align, byte_rate;

	if (rate == 0 || channels == 0 || bits == 0 || bits % 8 != 0 ||
	    data_bytes > WAV_MAX_DATA_BYTES)
		return -1;
	block_align = (uint32_t)channels * (bits / 8);
	if (block_align > UINT16_MAX ||
	    (uint64_t)rate * block_align > UINT32_MAX)
		return -1;
	byte_rate = rate * block_align;

	memcpy(out, "RIFF", 4);
	put_le32(out + 4, (uint32_t)(WAV_HEADER_SIZE - 8 + data_bytes));
	memcpy(out + 8, "WAVE", 4);
	memcpy(out + 12, "fmt ", 4);
	put_le32(out + 16, 16); /* fmt chunk size */
	put_le16(out + 20, 1); /* WAVE_FORMAT_PCM */
	put_le16(out + 22, channels);
	put_le32(out + 24, rate);
	put_le32(out + 28, byte_rate);
	put_le16(out + 32, (uint16_t)block_align);
	put_le16(out + 34, bits);
	memcpy(out + 36, "data", 4);
	put_le32(out + 40, (uint32_t)data_bytes);
	return 0;
}

/* write(2) until everything is written or an error other than EINTR. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The samples are converted to little-endian in a bounded scratch buffer
 * so the function is correct on any host byte order without copying the
 * whole signal.
 */
static int
write_samples(int fd, const int16_t *pcm, size_t nsamples)
{
	uint8_t chunk[8192];
	size_t i, n;

	while (nsamples > 0) {
		n = nsamples < sizeof(chunk) / 2 ? nsamples : sizeof(chunk) / 2;
		for (i = 0; i < n; i++)
			put_le16(chunk + 2 * i, (uint16_t)pcm[i]);
		if (write_all(fd, chunk, 2 * n) == -1)
			return -1;
		pcm += n;
		nsamples -= n;
	}
	return 0;
}

int
wav_write_file(
    const char *path, const int16_t *pcm, size_t nsamples, uint32_t rate)
{
	uint8_t hdr[WAV_HEADER_SIZE];
	int fd, saved;

	if (nsamples > WAV_MAX_DATA_BYTES / 2) {
		errno = EFBIG;
		return -1;
	}
	if (wav_header_encode(hdr, rate, 1, 16, (uint64_t)nsamples * 2) == -1) {
		errno = EINVAL;
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	if (write_all(fd, hdr, sizeof(hdr)) == -1 ||
	    write_samples(fd, pcm, nsamples) == -1)
		goto fail;
	if (close(fd) == -1) {
		saved = errno;
		unlink(path);
		errno = saved;
		return -1;
	}
	return 0;
fail:
	saved = errno;
	close(fd);
	unlink(path);
	errno = saved;
	return -1;
}
