/*
 * POST /v1/audio/speech and POST /v1/audio/transcriptions.
 *
 * Audio files travel through the worker's file endpoint (agent/whttp.c),
 * never through the backend call itself, as in LocalAI's distributed mode:
 *   speech:	POST <http_address>/v1/files/temp -> {key, local_path};
 *		TTS with dst = local_path; GET /v1/files/<key> -> the WAV.
 *   transcription: the upload is streamed to an anonymous temporary file
 *		while it arrives (never held in memory);
 *		PUT /v1/files/<key> (the file) -> {local_path};
 *		AudioTranscription with dst = local_path.
 * Every file request carries the node token as Bearer.  A worker endpoint
 * that cannot be reached counts as an unreachable replica (retried on
 * another one, like a failed gRPC call).  Segment times from the backend
 * are nanoseconds (LocalAI's time.Duration).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api/api.h"
#include "proto/log.h"

#define WF_CONNECT_MS 5000

/* One exchange with a worker's file endpoint. */
struct wf_io {
	struct api_req *r;
	int in_fd; /* upload from, or -1 */
	uint64_t in_off;
	struct openai_buf *out;
	uint64_t max;
	int too_big;
};

static size_t
wf_read(char *buf, size_t size, size_t n, void *arg)
{
	struct wf_io *io = arg;
	ssize_t got;

	got = pread(io->in_fd, buf, size * n, (off_t)io->in_off);
	if (got < 0)
		return CURL_READFUNC_ABORT;
	io->in_off += (uint64_t)got;
	return (size_t)got;
}

static size_t
wf_write(char *data, size_t size, size_t n, void *arg)
{
	struct wf_io *io = arg;

	if (io->out->len + size * n > io->max) {
		io->too_big = 1;
		return 0;
	}
	if (openai_buf_append(io->out, data, size * n) == -1)
		return 0;
	return size * n;
}

static int
wf_progress(
    void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct wf_io *io = arg;

	return api_req_stopped(io->r) ? 1 : 0;
}

static void
wf_url(char *buf, size_t len, const char *http_address, const char *path)
{
	snprintf(buf, len, "%s%s%s",
	    strstr(http_address, "://") != NULL ? "" : "http://", http_address,
	    path);
}

/* Map a curl failure to what the data plane understands. */
static void
wf_curl_error(
    CURLcode cc, const struct wf_io *io, const char *url, struct bc_error *err)
{
	err->grpc_status = -1;
	if (cc == CURLE_ABORTED_BY_CALLBACK)
		err->kind = BC_ECANCELLED;
	else if (cc == CURLE_COULDNT_CONNECT ||
	         cc == CURLE_COULDNT_RESOLVE_HOST)
		err->kind = BC_ECONNREFUSED;
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		err->kind = BC_EDEADLINE;
	else if (io->too_big)
		err->kind = BC_ETOOBIG;
	else
		err->kind = BC_EUNAVAILABLE;
	snprintf(err->msg, sizeof(err->msg), "worker file endpoint %s: %s", url,
	    io->too_big ? "answer too large" : curl_easy_strerror(cc));
}

static void
wf_setup(CURL *h, const char *url, struct curl_slist *hdrs, struct wf_io *io)
{
	uint64_t now = api_now_us();
	long ms =
	    io->r->deadline > now ? (long)((io->r->deadline - now) / 1000) : 1;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)WF_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, wf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, io);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, wf_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, io);
}

/*
 * method "GET", "POST" (empty body) or "PUT" (the file in_fd, in_size
 * bytes).  The answer goes to *out (at most max bytes).  0 for a 2xx
 * answer, else -1 with *err.
 */
static int
wf_call(struct api_req *r, const struct msg_place_ok *ok, const char *method,
    const char *path, int in_fd, uint64_t in_size, struct openai_buf *out,
    uint64_t max, struct bc_error *err)
{
	struct wf_io io = {r, in_fd, 0, out, max, 0};
	struct curl_slist *hdrs = NULL, *h2;
	char url[512], auth[200];
	CURLcode cc;
	CURL *h;
	long status = 0;

	openai_buf_reset(out);
	wf_url(url, sizeof(url), ok->http_address, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", ok->token);
	if ((h = curl_easy_init()) == NULL ||
	    (hdrs = curl_slist_append(NULL, auth)) == NULL ||
	    (h2 = curl_slist_append(hdrs, "Expect:")) == NULL) {
		curl_slist_free_all(hdrs);
		curl_easy_cleanup(h);
		err->kind = BC_ELOCAL;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -1;
	}
	hdrs = h2;
	wf_setup(h, url, hdrs, &io);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, wf_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &io);
		curl_easy_setopt(
		    h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)in_size);
	}
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK) {
		wf_curl_error(cc, &io, url, err);
		return -1;
	}
	if (status < 200 || status > 299) {
		err->kind = status == 503 ? BC_EUNAVAILABLE : BC_EBACKEND;
		err->grpc_status = -1;
		snprintf(err->msg, sizeof(err->msg),
		    "worker file endpoint %s "
		    "answered %ld",
		    url, status);
		return -1;
	}
	return 0;
}

/* {"key": …, "local_path": …} from the endpoint; 0 or -1 with *err. */
static int
wf_paths(const struct openai_buf *b, char *key, size_t klen, char *path,
    size_t plen, struct bc_error *err)
{
	const char *k = NULL, *p = NULL;
	json_t *o;
	int rc = -1;

	if ((o = json_loadb(b->data != NULL ? b->data : "", b->len, 0, NULL)) !=
	        NULL &&
	    json_unpack(o, "{s?s,s:s}", "key", &k, "local_path", &p) == 0 &&
	    p[0] != '\0') {
		if (key != NULL)
			snprintf(key, klen, "%s", k != NULL ? k : "");
		snprintf(path, plen, "%s", p);
		rc = 0;
	} else {
		err->kind = BC_EPROTO;
		err->grpc_status = -1;
		snprintf(err->msg, sizeof(err->msg),
		    "malformed answer from the "
		    "worker file endpoint");
	}
	json_decref(o);
	return rc;
}

/* ---- speech ------------------------------------------------------------- */

struct tts_work {
	struct openai_speech req;
	char model_file[256];
	struct openai_buf io;
	struct openai_buf wav;
};

static void
tts_free(void *arg)
{
	struct tts_work *w = arg;

	openai_speech_free(&w->req);
	openai_buf_free(&w->io);
	openai_buf_free(&w->wav);
	free(w);
}

static int
tts_run(struct api_call *c, const struct msg_place_ok *ok, struct bc_error *err)
{
	struct tts_work *w = c->arg;
	Backend__TTSRequest q = BACKEND__TTSREQUEST__INIT;
	char key[128], path[512], get[160];
	struct bc_opts o;

	if (wf_call(c->r, ok, "POST", "/v1/files/temp", -1, 0, &w->io,
	        64 * 1024, err) == -1 ||
	    wf_paths(&w->io, key, sizeof(key), path, sizeof(path), err) == -1)
		return -1;
	q.text = w->req.input;
	q.model = w->model_file;
	q.dst = path;
	q.voice = w->req.voice;
	api_dp_opts(c->r, ok, &o);
	if (bc_tts(ok->address, &o, &q, err) == -1)
		return -1;
	snprintf(get, sizeof(get), "/v1/files/%s", key);
	return wf_call(c->r, ok, "GET", get, -1, 0, &w->wav,
	    c->r->cfg->conf.frontend.upload_max, err);
}

static void
tts_work(struct api_req *r)
{
	struct tts_work *w = r->state;
	struct api_call c;

	memset(&c, 0, sizeof(c));
	c.r = r;
	c.endpoint = "tts";
	c.arg = w;
	c.run = tts_run;
	if (api_dp_call(&c) == -1) {
		api_dp_reply_error(&c);
		return;
	}
	api_reply_buf(r, 200, openai_speech_content_type(), &w->wav);
}

void
api_h_speech(struct api_req *r)
{
	const struct conf_model *cm;
	struct openai_error e;
	struct tts_work *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
		return;
	}
	openai_buf_init(&w->io);
	openai_buf_init(&w->wav);
	r->state = w;
	r->state_free = tts_free;
	if (openai_speech_parse(r->body.data, r->body.len, &r->cfg->limits,
	        &w->req, &e) == -1) {
		api_reply_error(r, &e);
		return;
	}
	if ((cm = api_req_model(r, w->req.model)) == NULL)
		return;
	snprintf(w->model_file, sizeof(w->model_file), "%s", cm->model);
	(void)api_async(r, tts_work);
}

/* ---- transcription -------------------------------------------------------- */

struct stt_work {
	struct openai_form *form;
	int fd;
	uint64_t size;
	struct openai_transcription tr;
	Backend__TranscriptResult *res;
	uint32_t threads;
	struct api_req *r; /* for the logs */
	struct openai_buf io;
};

static void
stt_free(void *arg)
{
	struct stt_work *w = arg;

	openai_form_free(w->form);
	if (w->fd != -1)
		close(w->fd);
	openai_transcription_free(&w->tr);
	bc_free(w->res);
	openai_buf_free(&w->io);
	free(w);
}

/* An anonymous file for the upload (gone when closed); -1 on failure. */
static int
stt_tmpfile(void)
{
	const char *dir = getenv("TMPDIR");
	char path[512];
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) != -1)
		return fd;
	snprintf(path, sizeof(path), "%s/localai-upload-XXXXXX", dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
		return -1;
	(void)unlink(path);
	return fd;
}

static int
stt_sink_begin(void *arg, const char *filename, const char *ctype)
{
	struct stt_work *w = arg;

	w->size = 0;
	return ftruncate(w->fd, 0) == -1 ? -1 : 0;
}

static int
stt_sink_data(void *arg, const void *data, size_t len)
{
	struct stt_work *w = arg;
	struct api_req *r = w->r;
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		if ((n = write(w->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			log_fields(LOG_WARNING,
			    &(struct log_fields){.request_id = r->request_id},
			    "upload file: %s", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
		w->size += (uint64_t)n;
	}
	return 0;
}

static int
stt_sink_end(void *arg)
{
	return 0;
}

static const struct openai_file_sink stt_sink = {
    stt_sink_begin,
    stt_sink_data,
    stt_sink_end,
};

int
api_h_form_begin(struct api_req *r)
{
	const char *ct = api_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	struct openai_error e;
	struct stt_work *w;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->fd = stt_tmpfile()) == -1) {
		free(w);
		log_fields(LOG_WARNING,
		    &(struct log_fields){.request_id = r->request_id},
		    "cannot create an upload file: %s", strerror(errno));
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "cannot store the upload");
		return -1;
	}
	openai_buf_init(&w->io);
	w->r = r;
	r->state = w;
	r->state_free = stt_free;
	if ((w->form = openai_form_new(ct != NULL ? ct : "", &r->cfg->limits,
	         &stt_sink, w, &e)) == NULL) {
		api_reply_error(r, &e);
		return -1;
	}
	return 0;
}

int
api_h_form_feed(struct api_req *r, const char *data, size_t len)
{
	struct stt_work *w = r->state;

	return openai_form_feed(w->form, data, len, &r->err);
}

static int
stt_run(struct api_call *c, const struct msg_place_ok *ok, struct bc_error *err)
{
	struct stt_work *w = c->arg;
	Backend__TranscriptRequest q = BACKEND__TRANSCRIPT_REQUEST__INIT;
	char path[512], put[160], hex[33];
	uint8_t rnd[16];
	struct bc_opts o;
	size_t i;

	api_random(rnd, sizeof(rnd));
	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	snprintf(put, sizeof(put), "/v1/files/up-%s", hex);
	if (wf_call(c->r, ok, "PUT", put, w->fd, w->size, &w->io, 64 * 1024,
	        err) == -1 ||
	    wf_paths(&w->io, NULL, 0, path, sizeof(path), err) == -1)
		return -1;
	q.dst = path;
	if (w->tr.language != NULL)
		q.language = w->tr.language;
	if (w->tr.prompt != NULL)
		q.prompt = w->tr.prompt;
	q.threads = w->threads;
	api_dp_opts(c->r, ok, &o);
	bc_free(w->res);
	w->res = NULL;
	return bc_transcribe(ok->address, &o, &q, &w->res, err);
}

/* The backend's result in the requested format. */
static void
stt_reply(struct api_req *r, struct stt_work *w)
{
	struct openai_segment *seg;
	struct openai_transcript t;
	struct openai_buf out;
	size_t i, n = w->res->n_segments;

	memset(&t, 0, sizeof(t));
	if ((seg = calloc(n + 1, sizeof(*seg))) == NULL) {
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		seg[i].id = w->res->segments[i]->id;
		seg[i].start = (double)w->res->segments[i]->start / 1e9;
		seg[i].end = (double)w->res->segments[i]->end / 1e9;
		seg[i].text = w->res->segments[i]->text;
		if (seg[i].end > t.duration)
			t.duration = seg[i].end;
	}
	t.text = w->res->text;
	t.language = w->tr.language;
	t.segments = seg;
	t.n_segments = n;
	openai_buf_init(&out);
	if (openai_transcript_response(&out, w->tr.format, &t) == -1)
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
	else
		api_reply_buf(
		    r, 200, openai_transcript_content_type(w->tr.format), &out);
	openai_buf_free(&out);
	free(seg);
}

static void
stt_work(struct api_req *r)
{
	struct stt_work *w = r->state;
	struct api_call c;

	memset(&c, 0, sizeof(c));
	c.r = r;
	c.endpoint = "transcriptions";
	c.arg = w;
	c.run = stt_run;
	if (api_dp_call(&c) == -1) {
		api_dp_reply_error(&c);
		return;
	}
	stt_reply(r, w);
}

void
api_h_transcriptions(struct api_req *r)
{
	struct stt_work *w = r->state;
	const struct conf_model *cm;
	struct openai_error e;

	if (openai_form_finish(w->form, &w->tr, &e) == -1) {
		api_reply_error(r, &e);
		return;
	}
	if ((cm = api_req_model(r, w->tr.model)) == NULL)
		return;
	w->threads = cm->threads;
	(void)api_async(r, stt_work);
}
