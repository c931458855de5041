/*
 * The /v1/audio/transcriptions upload: multipart/form-data parsed as it
 * streams in.  The part named "file" goes to the caller's sink piece by
 * piece (never held here); the other parts are small text fields, collected
 * and validated by openai_transcription_field().  Parts with a filename but
 * another name are skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/multipart.h"
#include "api/oa_internal.h"

/* Field values beyond this are refused even when string_max is larger. */
#define FORM_FIELD_MAX (64u * 1024)

/* What the part being received is. */
enum form_part {
	FORM_SKIP,
	FORM_FIELD,
	FORM_FILE,
};

struct openai_form {
	struct multipart *mp;
	struct openai_limits limits;
	const struct openai_file_sink *sink;
	void *arg;
	struct openai_transcription req;
	enum form_part part;
	char field[MULTIPART_NAME_MAX];
	struct openai_buf value;
	size_t field_max;
	int failed; /* err is set */
	struct openai_error err;
};

static int
form_fail(struct openai_form *f, int status, const char *code,
    const char *param, const char *message)
{
	openai_error_set(&f->err, status,
	    status >= 500 ? "server_error" : "invalid_request_error", code,
	    param, "%s", message);
	f->failed = 1;
	return -1;
}

static int
file_begin(struct openai_form *f, const struct multipart_part *part)
{
	if (f->req.have_file)
		return form_fail(f, 400, "invalid_value", "file",
		    "Invalid 'file': only one file may be uploaded.");
	f->req.have_file = 1;
	if (part->filename != NULL &&
	    (f->req.filename = strdup(part->filename)) == NULL)
		return form_fail(f, 500, NULL, NULL, "Out of memory.");
	f->part = FORM_FILE;
	if (f->sink != NULL && f->sink->begin != NULL &&
	    f->sink->begin(f->arg, part->filename, part->content_type) != 0)
		return form_fail(
		    f, 500, NULL, NULL, "The upload could not be stored.");
	return 0;
}

static int
on_part_begin(void *arg, const struct multipart_part *part)
{
	struct openai_form *f = arg;

	if (strcmp(part->name, "file") == 0)
		return file_begin(f, part);
	if (part->filename != NULL) {
		f->part = FORM_SKIP;
		return 0;
	}
	f->part = FORM_FIELD;
	snprintf(f->field, sizeof(f->field), "%s", part->name);
	openai_buf_reset(&f->value);
	return 0;
}

static int
on_part_data(void *arg, const char *data, size_t len)
{
	struct openai_form *f = arg;

	switch (f->part) {
	case FORM_SKIP:
		return 0;
	case FORM_FILE:
		f->req.file_size += len;
		if (f->req.file_size > f->limits.upload_max) {
			openai_error_too_large(&f->err, f->limits.upload_max);
			f->failed = 1;
			return -1;
		}
		if (f->sink != NULL && f->sink->data != NULL &&
		    f->sink->data(f->arg, data, len) != 0)
			return form_fail(f, 500, NULL, NULL,
			    "The upload could not be stored.");
		return 0;
	case FORM_FIELD:
		if (f->value.len + len > f->field_max) {
			openai_error_set(&f->err, 400, "invalid_request_error",
			    "string_above_max_length", f->field,
			    "Invalid "
			    "'%s': longer than %zu bytes.",
			    f->field, f->field_max);
			f->failed = 1;
			return -1;
		}
		if (openai_buf_append(&f->value, data, len) == -1)
			return form_fail(f, 500, NULL, NULL, "Out of memory.");
		return 0;
	}
	return 0;
}

static int
on_part_end(void *arg)
{
	struct openai_form *f = arg;

	switch (f->part) {
	case FORM_SKIP:
		return 0;
	case FORM_FILE:
		f->part = FORM_SKIP;
		if (f->sink != NULL && f->sink->end != NULL &&
		    f->sink->end(f->arg) != 0)
			return form_fail(f, 500, NULL, NULL,
			    "The upload could not be stored.");
		return 0;
	case FORM_FIELD:
		f->part = FORM_SKIP;
		if (openai_transcription_field(&f->req, f->field,
		        f->value.data != NULL ? f->value.data : "",
		        f->value.len, &f->limits, &f->err) == -1) {
			f->failed = 1;
			return -1;
		}
		return 0;
	}
	return 0;
}

/* A parser error as the client sees it (unless a callback already set it). */
static void
parser_error(
    struct openai_form *f, enum multipart_errcode code, const char *text)
{
	if (f->failed)
		return;
	f->failed = 1;
	if (code == MULTIPART_ERR_BODY_SIZE)
		openai_error_too_large(&f->err, f->limits.upload_max);
	else if (code == MULTIPART_ERR_NOMEM)
		openai_error_internal(&f->err, "Out of memory.");
	else
		openai_error_set(&f->err, 400, "invalid_request_error",
		    "invalid_multipart", NULL,
		    "Invalid multipart/form-data "
		    "body: %s.",
		    text);
}

struct openai_form *
openai_form_new(const char *content_type, const struct openai_limits *limits,
    const struct openai_file_sink *sink, void *arg, struct openai_error *err)
{
	static const struct multipart_callbacks cb = {
	    on_part_begin,
	    on_part_data,
	    on_part_end,
	};
	struct multipart_limits ml;
	struct openai_form *f;
	enum multipart_errcode code;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		openai_error_internal(err, "Out of memory.");
		return NULL;
	}
	oa_limits_resolve(&f->limits, limits);
	f->field_max = f->limits.string_max < FORM_FIELD_MAX
	                   ? (size_t)f->limits.string_max
	                   : FORM_FIELD_MAX;
	f->sink = sink;
	f->arg = arg;
	openai_buf_init(&f->value);
	ml.parts_max = f->limits.form_parts_max;
	ml.header_max = f->limits.form_header_max;
	/* The file, plus room for every other part at its largest. */
	ml.body_max = f->limits.upload_max +
	              (uint64_t)ml.parts_max * (ml.header_max + f->field_max +
	                                           2 * MULTIPART_BOUNDARY_MAX);
	f->mp = multipart_new(content_type, &ml, &cb, f, &code);
	if (f->mp == NULL) {
		openai_error_set(err, code == MULTIPART_ERR_NOMEM ? 500 : 400,
		    code == MULTIPART_ERR_NOMEM ? "server_error"
		                                : "invalid_request_error",
		    code == MULTIPART_ERR_NOMEM ? NULL : "invalid_multipart",
		    NULL, "Invalid request: %s.", multipart_strerror(code));
		free(f);
		return NULL;
	}
	return f;
}

int
openai_form_feed(struct openai_form *f, const void *data, size_t len,
    struct openai_error *err)
{
	if (!f->failed && multipart_feed(f->mp, data, len) == -1)
		parser_error(
		    f, multipart_error(f->mp), multipart_error_text(f->mp));
	if (f->failed) {
		*err = f->err;
		return -1;
	}
	return 0;
}

int
openai_form_finish(struct openai_form *f, struct openai_transcription *out,
    struct openai_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!f->failed && multipart_finish(f->mp) == -1)
		parser_error(
		    f, multipart_error(f->mp), multipart_error_text(f->mp));
	if (!f->failed && openai_transcription_check(&f->req, 1, &f->err) == -1)
		f->failed = 1;
	if (f->failed) {
		*err = f->err;
		return -1;
	}
	*out = f->req;
	memset(&f->req, 0, sizeof(f->req));
	return 0;
}

void
openai_form_free(struct openai_form *f)
{
	if (f == NULL)
		return;
	multipart_free(f->mp);
	openai_transcription_free(&f->req);
	openai_buf_free(&f->value);
	free(f);
}
