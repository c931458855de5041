/*
 * Parsing of backend listen addresses.  LocalAI starts a backend as
 * `run --addr 0.0.0.0:PORT`; we also accept Unix sockets, which the worker
 * prefers when the frontend is on the same machine, and normalise every
 * form into the target string gRPC's bind takes.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/common/addr.h"

static int
addr_fail(char *err, size_t errlen, const char *why, const char *s)
{
	snprintf(err, errlen, "%s: \"%s\"", why, s);
	return -1;
}

/* A decimal port 0..65535 with no sign, spaces or leading junk. */
static int
addr_port(const char *p, int *port)
{
	long v = 0;

	if (*p == '\0' || strlen(p) > 5)
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

static int
addr_unix(const char *s, const char *path, enum be_addr_kind kind,
    struct be_addr *a, char *err, size_t errlen)
{
	if (*path == '\0')
		return addr_fail(err, errlen, "empty socket path", s);
	if (strlen(path) >= sizeof(a->path))
		return addr_fail(err, errlen, "socket path too long", s);
	a->kind = kind;
	strcpy(a->path, path);
	snprintf(a->target, sizeof(a->target), "%s:%s",
	    kind == BE_ADDR_UNIX ? "unix" : "unix-abstract", path);
	return 0;
}

/* The host part of HOST:PORT or [V6]:PORT; sets *portp to the port text. */
static int
addr_host(const char *s, struct be_addr *a, const char **portp, char *err,
    size_t errlen)
{
	const char *colon, *end;
	size_t n;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return addr_fail(err, errlen, "bad IPv6 address", s);
		colon = end + 1;
		s++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return addr_fail(err, errlen, "missing :PORT", s);
		end = colon;
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return addr_fail(err, errlen,
			    "IPv6 address needs brackets", s);
	}
	n = (size_t)(end - s);
	if (n >= sizeof(a->host))
		return addr_fail(err, errlen, "host name too long", s);
	if (memchr(s, ' ', n) != NULL || memchr(s, '/', n) != NULL)
		return addr_fail(err, errlen, "bad host name", s);
	memcpy(a->host, s, n);
	a->host[n] = '\0';
	*portp = colon + 1;
	return 0;
}

int
be_addr_parse(const char *s, struct be_addr *a, char *err, size_t errlen)
{
	const char *port;
	int v6;

	memset(a, 0, sizeof(*a));
	if (s == NULL || *s == '\0')
		return addr_fail(err, errlen, "empty address", "");
	if (strncmp(s, "unix://", 7) == 0)
		return addr_unix(s, s + 7, BE_ADDR_UNIX, a, err, errlen);
	if (strncmp(s, "unix:", 5) == 0)
		return addr_unix(s, s + 5, BE_ADDR_UNIX, a, err, errlen);
	if (strncmp(s, "unix-abstract:", 14) == 0)
		return addr_unix(s, s + 14, BE_ADDR_ABSTRACT, a, err, errlen);
	v6 = s[0] == '[';
	if (addr_host(s, a, &port, err, errlen) == -1)
		return -1;
	if (addr_port(port, &a->port) == -1)
		return addr_fail(err, errlen, "bad port", s);
	if (a->host[0] == '\0') {
		if (v6)
			return addr_fail(err, errlen, "empty host", s);
		strcpy(a->host, "0.0.0.0");	/* ":PORT" means every address */
	}
	a->kind = BE_ADDR_TCP;
	snprintf(a->target, sizeof(a->target), v6 ? "[%s]:%d" : "%s:%d",
	    a->host, a->port);
	return 0;
}

int
be_parse_num(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
be_conf_init(struct be_conf *conf, const char *env_max_msg,
    const char *env_grace, char *err, size_t errlen)
{
	memset(conf, 0, sizeof(*conf));
	conf->max_msg = BE_DEFAULT_MAX_MSG;
	conf->grace_ms = BE_DEFAULT_GRACE_MS;
	conf->max_calls = BE_DEFAULT_MAX_CALLS;
	if (env_max_msg != NULL && be_parse_num(env_max_msg, 1024,
	    INT_MAX, &conf->max_msg) == -1)
		return addr_fail(err, errlen,
		    "bad LOCALAI_GRPC_MAX_MESSAGE_SIZE", env_max_msg);
	if (env_grace != NULL && be_parse_num(env_grace, 0, 3600000,
	    &conf->grace_ms) == -1)
		return addr_fail(err, errlen, "bad LOCALAI_BACKEND_GRACE_MS",
		    env_grace);
	return 0;
}

/*
 * The value of option name at argv[*i], as "--name VALUE" or
 * "--name=VALUE"; NULL when argv[*i] is another option.  *missing is set
 * when the option matched but has no value.
 */
static const char *
be_optval(int argc, char **argv, int *i, const char *name, int *missing)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

/* One numeric option; 1 if argv[*i] was it, 0 if not, -1 on error. */
static int
be_numopt(int argc, char **argv, int *i, const char *name, long min,
    long max, long *out, char *err, size_t errlen)
{
	const char *v;
	int missing = 0;

	if ((v = be_optval(argc, argv, i, name, &missing)) == NULL) {
		if (missing)
			return addr_fail(err, errlen, "missing value", name);
		return 0;
	}
	if (be_parse_num(v, min, max, out) == -1)
		return addr_fail(err, errlen, "bad value", argv[*i]);
	return 1;
}

static int
be_conf_one(struct be_conf *conf, int argc, char **argv, int *i, char *err,
    size_t errlen)
{
	const char *a = argv[*i], *v;
	int missing = 0, rc;

	if (strcmp(a, "-v") == 0 || strcmp(a, "-d") == 0) {
		conf->verbose = a[1] == 'd' ? 2 : conf->verbose + 1;
		return 0;
	}
	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
		return 1;
	if ((v = be_optval(argc, argv, i, "--addr", &missing)) != NULL) {
		conf->addr = v;
		return 0;
	}
	if (!missing && (v = be_optval(argc, argv, i, "--port-file",
	    &missing)) != NULL) {
		conf->port_file = v;
		return 0;
	}
	if (missing)
		return addr_fail(err, errlen, "missing value", a);
	if ((rc = be_numopt(argc, argv, i, "--max-msg-size", 1024, INT_MAX,
	    &conf->max_msg, err, errlen)) != 0 ||
	    (rc = be_numopt(argc, argv, i, "--grace-ms", 0, 3600000,
	    &conf->grace_ms, err, errlen)) != 0 ||
	    (rc = be_numopt(argc, argv, i, "--max-calls", 1, 4096,
	    &conf->max_calls, err, errlen)) != 0)
		return rc == -1 ? -1 : 0;
	return addr_fail(err, errlen, "unknown option", a);
}

int
be_conf_args(struct be_conf *conf, int argc, char **argv, char *err,
    size_t errlen)
{
	struct be_addr a;
	int i, rc;

	for (i = 1; i < argc; i++)
		if ((rc = be_conf_one(conf, argc, argv, &i, err, errlen)) != 0)
			return rc;
	if (conf->addr == NULL)
		return addr_fail(err, errlen, "missing --addr", "");
	return be_addr_parse(conf->addr, &a, err, errlen);
}
