/*
 * speech_client: a command-line gRPC client for the speech backends'
 * integration tests (tests/integration/speech_*.test), built on bclient.
 * One invocation makes one call and prints what a user would see:
 *
 *	speech_client health ADDR			wait until Health answers
 *	speech_client status ADDR			"state NAME memory BYTES"
 *	speech_client load ADDR MODEL [-f FILE] [-p PATH] [-o OPT]...
 *	speech_client free ADDR
 *	speech_client tts ADDR TEXT DST [-v VOICE] [-l LANGUAGE]
 *	speech_client transcribe ADDR FILE [-l LANGUAGE]
 *		"text: …" then "segment ID START_NS END_NS TEXT" lines
 *	speech_client wavinfo FILE			(no gRPC) format, length,
 *		RMS and peak of a WAV file, read with wavread.c
 *	speech_client wavconv IN.raw OUT.wav RATE CHANNELS BITS
 *		(no gRPC) 16 kHz mono s16le raw audio to a WAV file of
 *		another rate (windowed-sinc resampler), channel count
 *		(copies) and sample size (8 or 16 bits)
 *
 * A failed call prints "error CODE_NAME (KIND): MESSAGE" and exits 1;
 * usage errors exit 2.  The deadline of every call is
 * $SPEECH_TIMEOUT_MS (default 120000: decoding under ASan is slow).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/common/bclient.h"
#include "backends/espeak/wav.h"
#include "backends/pocketsphinx/resample.h"
#include "backends/pocketsphinx/wavread.h"
#include "proto/log.h"

static struct bc_opts opts;

static const char *
code_name(int code)
{
	static const char *names[] = {"OK", "CANCELLED", "UNKNOWN",
	    "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	    "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};

	if (code >= 0 && code < (int)(sizeof(names) / sizeof(names[0])))
		return names[code];
	return "LOCAL";
}

static int
fail(const struct bc_error *err)
{
	printf("error %s (%s): %s\n", code_name(err->grpc_status),
	    bc_strerror(err->kind), err->msg);
	return 1;
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: speech_client health|status|load|free|tts|"
	    "transcribe ADDR ... | wavinfo FILE | wavconv IN OUT RATE CH "
	    "BITS\n");
	return 2;
}

static int
cmd_load(int argc, char **argv)
{
	Backend__ModelOptions mo = BACKEND__MODEL_OPTIONS__INIT;
	struct bc_error err;
	char *options[16];
	int c;

	if (argc < 3)
		return usage();
	mo.model = argv[2];
	mo.n_options = 0;
	optind = 3;
	while ((c = getopt(argc, argv, "f:p:o:")) != -1) {
		if (c == 'f')
			mo.modelfile = optarg;
		else if (c == 'p')
			mo.modelpath = optarg;
		else if (c == 'o' && mo.n_options < 16)
			options[mo.n_options++] = optarg;
		else
			return usage();
	}
	mo.options = options;
	if (bc_load_model(argv[1], &opts, &mo, &err) == -1)
		return fail(&err);
	printf("ok\n");
	return 0;
}

static int
cmd_tts(int argc, char **argv)
{
	Backend__TTSRequest req = BACKEND__TTSREQUEST__INIT;
	struct bc_error err;
	int c;

	if (argc < 4)
		return usage();
	req.text = argv[2];
	req.dst = argv[3];
	optind = 4;
	while ((c = getopt(argc, argv, "v:l:")) != -1) {
		if (c == 'v')
			req.voice = optarg;
		else if (c == 'l')
			req.language = optarg;
		else
			return usage();
	}
	if (bc_tts(argv[1], &opts, &req, &err) == -1)
		return fail(&err);
	printf("ok\n");
	return 0;
}

static int
cmd_transcribe(int argc, char **argv)
{
	Backend__TranscriptRequest req = BACKEND__TRANSCRIPT_REQUEST__INIT;
	Backend__TranscriptResult *res;
	struct bc_error err;
	size_t i;
	int c;

	if (argc < 3)
		return usage();
	req.dst = argv[2];
	optind = 3;
	while ((c = getopt(argc, argv, "l:")) != -1) {
		if (c == 'l')
			req.language = optarg;
		else
			return usage();
	}
	if (bc_transcribe(argv[1], &opts, &req, &res, &err) == -1)
		return fail(&err);
	printf("text: %s\n", res->text);
	for (i = 0; i < res->n_segments; i++)
		printf("segment %d %lld %lld %s\n", res->segments[i]->id,
		    (long long)res->segments[i]->start,
		    (long long)res->segments[i]->end, res->segments[i]->text);
	bc_free(res);
	return 0;
}

static int
cmd_status(const char *addr)
{
	Backend__StatusResponse *st;
	struct bc_error err;
	const char *name;

	if (bc_status(addr, &opts, &st, &err) == -1)
		return fail(&err);
	switch (st->state) {
	case BACKEND__STATUS_RESPONSE__STATE__READY:
		name = "READY";
		break;
	case BACKEND__STATUS_RESPONSE__STATE__BUSY:
		name = "BUSY";
		break;
	case BACKEND__STATUS_RESPONSE__STATE__ERROR:
		name = "ERROR";
		break;
	default:
		name = "UNINITIALIZED";
	}
	printf("state %s memory %llu\n", name,
	    st->memory ? (unsigned long long)st->memory->total : 0ULL);
	bc_free(st);
	return 0;
}

/* Reads a whole file into a malloc'ed buffer. */
static uint8_t *
read_file(const char *path, size_t *len)
{
	uint8_t *buf = NULL, *p;
	size_t cap = 0, n = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((p = realloc(buf, cap)) == NULL)
				break;
			buf = p;
		}
		r = read(fd, buf + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

static int
cmd_wavinfo(const char *path)
{
	struct wav_info wi;
	double acc = 0, peak = 0;
	uint8_t *buf;
	size_t len, i;
	char err[200];
	float *mono;

	if ((buf = read_file(path, &len)) == NULL) {
		printf("error: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (wav_parse(buf, len, &wi, err, sizeof(err)) == -1 ||
	    (mono = wav_to_mono_float(&wi)) == NULL) {
		printf("error: %s\n", err);
		free(buf);
		return 1;
	}
	for (i = 0; i < wi.frames; i++) {
		acc += (double)mono[i] * mono[i];
		if (fabs(mono[i]) > peak)
			peak = fabs(mono[i]);
	}
	printf("rate %u channels %u bits %u float %d frames %zu duration %.3f "
	       "rms %.4f peak %.4f\n",
	    wi.rate, wi.channels, wi.bits, wi.is_float, wi.frames,
	    (double)wi.frames / wi.rate, sqrt(acc / wi.frames), peak);
	free(mono);
	free(buf);
	return 0;
}

/* Interleaves channel copies of pcm at the given sample size into out. */
static void
pack_samples(const int16_t *pcm, size_t n, int channels, int bits, uint8_t *out)
{
	size_t i;
	int c;

	for (i = 0; i < n; i++)
		for (c = 0; c < channels; c++) {
			if (bits == 8) {
				*out++ = (uint8_t)((pcm[i] >> 8) + 128);
			} else {
				*out++ = (uint8_t)(pcm[i] & 0xff);
				*out++ = (uint8_t)((uint16_t)pcm[i] >> 8);
			}
		}
}

static int
cmd_wavconv(char **argv)
{
	int rate = atoi(argv[3]), channels = atoi(argv[4]),
	    bits = atoi(argv[5]);
	size_t len, n, i, out_n, bytes;
	uint8_t hdr[WAV_HEADER_SIZE], *raw, *data;
	float *in, *rs;
	int16_t *pcm;
	FILE *f;

	if ((bits != 8 && bits != 16) || channels < 1 || channels > 8 ||
	    (raw = read_file(argv[1], &len)) == NULL)
		return usage();
	n = len / 2;
	in = malloc(n * sizeof(*in));
	for (i = 0; i < n; i++)
		in[i] = (int16_t)(raw[2 * i] | raw[2 * i + 1] << 8) / 32768.0f;
	rs = resample(in, n, 16000, (uint32_t)rate, &out_n);
	pcm = malloc(out_n * sizeof(*pcm));
	bytes = out_n * (size_t)channels * (size_t)(bits / 8);
	data = malloc(bytes);
	if (rs == NULL || pcm == NULL || data == NULL)
		return 1;
	resample_to_s16(rs, out_n, pcm);
	pack_samples(pcm, out_n, channels, bits, data);
	wav_header_encode(
	    hdr, (uint32_t)rate, (uint16_t)channels, (uint16_t)bits, bytes);
	if ((f = fopen(argv[2], "wb")) == NULL ||
	    fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
	    fwrite(data, 1, bytes, f) != bytes || fclose(f) != 0)
		return 1;
	free(raw);
	free(in);
	free(rs);
	free(pcm);
	free(data);
	return 0;
}

/* Runs one gRPC subcommand; bc_init()/bc_shutdown() around it. */
static int
run_rpc(int argc, char **argv)
{
	const char *cmd = argv[0], *addr = argv[1];
	struct bc_error err;
	int rc;

	if (bc_init() == -1)
		return 1;
	if (strcmp(cmd, "health") == 0) {
		opts.wait_ready = 1;
		rc = bc_health(addr, &opts, &err) == -1 ? fail(&err) : 0;
	} else if (strcmp(cmd, "status") == 0)
		rc = cmd_status(addr);
	else if (strcmp(cmd, "load") == 0)
		rc = cmd_load(argc, argv);
	else if (strcmp(cmd, "free") == 0)
		rc = bc_free_model(addr, &opts, &err) == -1 ? fail(&err) : 0;
	else if (strcmp(cmd, "tts") == 0)
		rc = cmd_tts(argc, argv);
	else if (strcmp(cmd, "transcribe") == 0)
		rc = cmd_transcribe(argc, argv);
	else
		rc = usage();
	bc_shutdown();
	return rc;
}

int
main(int argc, char **argv)
{
	const char *t = getenv("SPEECH_TIMEOUT_MS");

	log_init(0);
	log_procinit("speech_client");
	opts.timeout_ms = t != NULL ? atoll(t) : 120000;
	opts.token = getenv("SPEECH_TOKEN");
	if (argc >= 3 && strcmp(argv[1], "wavinfo") == 0)
		return cmd_wavinfo(argv[2]);
	if (argc == 7 && strcmp(argv[1], "wavconv") == 0)
		return cmd_wavconv(argv + 1);
	if (argc < 3)
		return usage();
	return run_rpc(argc - 1, argv + 1);
}
