/*
 * Unit tests for the configuration loader (supervisor/config.c and
 * conf_*.c): duration and size parsing and printing, names and addresses,
 * the 32-bit overflow scan, precedence of flags over the environment over
 * the file over defaults, derived defaults, key hashing, and model
 * configs (validation, duplicates, defaults, revisions).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/conf_impl.h"

static char tmpdir[64];

/* Write text to tmpdir/name and return the path (static buffer). */
static const char *
write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void
clear_env(void)
{
	size_t i;

	for (i = 0; i < conf_main_nkeys; i++)
		unsetenv(conf_main_keys[i].env);
}

static int
setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	clear_env();
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	clear_env();
	return 0;
}

static uint64_t
dur(const char *s)
{
	uint64_t v = 0xdeadbeef;

	assert_int_equal(conf_parse_duration(s, &v), 0);
	return v;
}

static void
test_duration_parse(void **state)
{
	uint64_t v;

	assert_int_equal(dur("0"), 0);
	assert_int_equal(dur("1500"), 1500);
	assert_int_equal(dur("500ms"), 500);
	assert_int_equal(dur("10s"), 10000);
	assert_int_equal(dur("1m"), 60000);
	assert_int_equal(dur("1m30s"), 90000);
	assert_int_equal(dur("1.5s"), 1500);
	assert_int_equal(dur("2h"), 7200000);
	assert_int_equal(dur("1h1m1s1ms"), 3661001);
	assert_int_equal(dur("0.25m"), 15000);
	assert_int_equal(conf_parse_duration("", &v), -1);
	assert_int_equal(conf_parse_duration("10x", &v), -1);
	assert_int_equal(conf_parse_duration("s", &v), -1);
	assert_int_equal(conf_parse_duration("1.5ms", &v), -1);
	assert_int_equal(conf_parse_duration("-1s", &v), -1);
	assert_int_equal(conf_parse_duration("10 s", &v), -1);
	assert_int_equal(conf_parse_duration("1..5s", &v), -1);
	assert_int_equal(conf_parse_duration("10us", &v), -1);
	assert_int_equal(conf_parse_duration("99999999999999999999", &v), -1);
	assert_int_equal(conf_parse_duration("99999999999999999h", &v), -1);
}

static void
test_duration_format(void **state)
{
	char buf[32];

	conf_format_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	conf_format_duration(30000, buf, sizeof(buf));
	assert_string_equal(buf, "30s");
	conf_format_duration(90000, buf, sizeof(buf));
	assert_string_equal(buf, "90s");
	conf_format_duration(600000, buf, sizeof(buf));
	assert_string_equal(buf, "10m");
	conf_format_duration(7200000, buf, sizeof(buf));
	assert_string_equal(buf, "2h");
	conf_format_duration(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1500ms");
	/* What is printed parses back to the same value. */
	assert_int_equal(dur("1500ms"), 1500);
}

static void
test_size_parse(void **state)
{
	uint64_t v;

	assert_int_equal(conf_parse_size("100", &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(conf_parse_size("8MiB", &v), 0);
	assert_int_equal(v, 8 << 20);
	assert_int_equal(conf_parse_size("8 MiB", &v), 0);
	assert_int_equal(v, 8 << 20);
	assert_int_equal(conf_parse_size("16KiB", &v), 0);
	assert_int_equal(v, 16384);
	assert_int_equal(conf_parse_size("1.5GiB", &v), 0);
	assert_int_equal(v, 3ULL << 29);
	assert_int_equal(conf_parse_size("2TiB", &v), 0);
	assert_int_equal(v, 2ULL << 40);
	assert_int_equal(conf_parse_size("512B", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(conf_parse_size("8MB", &v), -1);
	assert_int_equal(conf_parse_size("8mib", &v), -1);
	assert_int_equal(conf_parse_size("", &v), -1);
	assert_int_equal(conf_parse_size("KiB", &v), -1);
	assert_int_equal(conf_parse_size("-5", &v), -1);
	assert_int_equal(conf_parse_size("1.0001KiB", &v), -1);
	assert_int_equal(conf_parse_size("18446744073709551616", &v), -1);
	assert_int_equal(conf_parse_size("99999999999TiB", &v), -1);
}

static void
test_size_format(void **state)
{
	char buf[32];

	conf_format_size(8 << 20, buf, sizeof(buf));
	assert_string_equal(buf, "8MiB");
	conf_format_size(3 << 10, buf, sizeof(buf));
	assert_string_equal(buf, "3KiB");
	conf_format_size(1536, buf, sizeof(buf));
	assert_string_equal(buf, "1536");
	conf_format_size(1ULL << 40, buf, sizeof(buf));
	assert_string_equal(buf, "1TiB");
	conf_format_size(1000, buf, sizeof(buf));
	assert_string_equal(buf, "1000");
}

static void
test_bool(void **state)
{
	const char *yes[] = {"1", "true", "TRUE", "yes", "on"};
	const char *no[] = {"0", "false", "No", "off"};
	size_t i;
	int v;

	for (i = 0; i < 5; i++) {
		assert_int_equal(conf_parse_bool(yes[i], &v), 0);
		assert_int_equal(v, 1);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(conf_parse_bool(no[i], &v), 0);
		assert_int_equal(v, 0);
	}
	assert_int_equal(conf_parse_bool("2", &v), -1);
	assert_int_equal(conf_parse_bool("", &v), -1);
}

static void
test_names(void **state)
{
	char long_name[80];

	assert_true(conf_valid_name("llama-3.1_8b"));
	assert_true(conf_valid_name("a"));
	assert_false(conf_valid_name(""));
	assert_false(conf_valid_name("a/b"));
	assert_false(conf_valid_name(".."));
	assert_false(conf_valid_name("."));
	assert_false(conf_valid_name("a..b"));
	assert_false(conf_valid_name("a b"));
	memset(long_name, 'x', 63);
	long_name[63] = '\0';
	assert_true(conf_valid_name(long_name));
	long_name[63] = 'x';
	long_name[64] = '\0';
	assert_false(conf_valid_name(long_name));
	assert_null(conf_check_relpath("models/tiny.gguf"));
	assert_non_null(conf_check_relpath("/etc/passwd"));
	assert_non_null(conf_check_relpath("../x"));
	assert_non_null(conf_check_relpath("a/../../x"));
	assert_non_null(conf_check_relpath("a/.."));
	assert_null(conf_check_relpath("a..b"));
}

static void
test_addr(void **state)
{
	char host[64];
	uint16_t port;

	assert_int_equal(
	    conf_addr_split(":8080", host, sizeof(host), &port), 0);
	assert_string_equal(host, "");
	assert_int_equal(port, 8080);
	assert_int_equal(
	    conf_addr_split("0.0.0.0:50051", host, sizeof(host), &port), 0);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(
	    conf_addr_split("[::1]:80", host, sizeof(host), &port), 0);
	assert_string_equal(host, "[::1]");
	assert_int_equal(conf_addr_split("h:0", host, sizeof(host), &port), -1);
	assert_int_equal(
	    conf_addr_split("h:65536", host, sizeof(host), &port), -1);
	assert_int_equal(
	    conf_addr_split("host", host, sizeof(host), &port), -1);
	assert_int_equal(
	    conf_addr_split("a b:80", host, sizeof(host), &port), -1);
}

static void
test_mask_url(void **state)
{
	char out[256];

	conf_mask_url(
	    "postgresql://localai:s3cret@db:5432/localai", out, sizeof(out));
	assert_string_equal(
	    out, "postgresql://localai:********@db:5432/localai");
	conf_mask_url(
	    "host=db user=x password=s3cret dbname=y", out, sizeof(out));
	assert_string_equal(out, "host=db user=x password=******** dbname=y");
	conf_mask_url("postgres://db/x?user=u&password=p&sslmode=disable", out,
	    sizeof(out));
	assert_string_equal(
	    out, "postgres://db/x?user=u&password=********&sslmode=disable");
	conf_mask_url(
	    "nats://a:1@n1:4222,nats://n2,tls://b:2@n3", out, sizeof(out));
	assert_string_equal(
	    out, "nats://a:********@n1:4222,nats://n2,tls://b:********@n3");
	conf_mask_url("http://user@host/x:y@z", out, sizeof(out));
	assert_string_equal(out, "http://user@host/x:y@z");
	conf_mask_url("password=a password=b", out, sizeof(out));
	assert_string_equal(out, "password=******** password=********");
	conf_mask_url("postgresql://u:p@h/db", out, 20);
	assert_string_equal(out, "postgresql://u:****");
	conf_mask_url("nats://127.0.0.1:4222", out, sizeof(out));
	assert_string_equal(out, "nats://127.0.0.1:4222");
	assert_null(strstr(out, "********"));
}

static void
test_scan_ints(void **state)
{
	static const struct {
		const char *text;
		unsigned line; /* 0: nothing found */
	} cases[] = {
	    {"a = 5000000000;", 1},
	    {"a = 5000000000L;", 0},
	    {"a = 2147483647;", 0},
	    {"a = 2147483648;", 1},
	    {"a = -2147483648;", 0},
	    {"a = -2147483649;", 1},
	    {"a = 0x7FFFFFFF;", 0},
	    {"a = 0xFFFFFFFF;", 1},
	    {"# 5000000000\nb = 1;", 0},
	    {"// 5000000000\nb = 1;", 0},
	    {"/* 5000000000\n */ b = 5000000000;", 2},
	    {"s = \"5000000000\";", 0},
	    {"s = \"a\\\"5000000000\";", 0},
	    {"f = 5000000000.0;", 0},
	    {"f = 5e10;", 0},
	    {"top_k5000000000 = 1;", 0},
	    {"a = 1;\n\n\nb = 99999999999999999999999;", 4},
	};
	unsigned line;
	char lit[48];
	size_t i, r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		line = 0;
		r = conf_scan_ints(cases[i].text, strlen(cases[i].text), &line,
		    lit, sizeof(lit));
		if (cases[i].line == 0)
			assert_int_equal(r, 0);
		else {
			assert_int_not_equal(r, 0);
			assert_int_equal(line, cases[i].line);
		}
	}
}

static void
test_hash_key(void **state)
{
	static const uint8_t abc[CONF_SHA256_LEN] = {
	    0xba,
	    0x78,
	    0x16,
	    0xbf,
	    0x8f,
	    0x01,
	    0xcf,
	    0xea,
	    0x41,
	    0x41,
	    0x40,
	    0xde,
	    0x5d,
	    0xae,
	    0x22,
	    0x23,
	    0xb0,
	    0x03,
	    0x61,
	    0xa3,
	    0x96,
	    0x17,
	    0x7a,
	    0x9c,
	    0xb4,
	    0x10,
	    0xff,
	    0x61,
	    0xf2,
	    0x00,
	    0x15,
	    0xad,
	};
	uint8_t h[CONF_SHA256_LEN];
	struct conf c;
	struct conf_error err;
	const char *path;

	conf_hash_key("abc", 3, h);
	assert_memory_equal(h, abc, sizeof(h));

	path = write_file("keys.conf", "frontend = { api_keys = [ \"k1\" ]; "
	                               "admin_key = \"adm\"; };\n");
	setenv("LOCALAI_API_KEYS", " sk-one , sk-two,", 1);
	assert_int_equal(conf_load(path, 1, &c, &err), 0);
	assert_int_equal(c.frontend.n_api_keys, 2);
	assert_true(conf_api_key_ok(&c.frontend, "sk-two", 6));
	assert_true(conf_api_key_ok(&c.frontend, "sk-one", 6));
	assert_false(conf_api_key_ok(&c.frontend, "k1", 2));
	assert_false(conf_api_key_ok(&c.frontend, "sk-one ", 7));
	assert_true(conf_admin_key_ok(&c.frontend, "adm", 3));
	assert_false(conf_admin_key_ok(&c.frontend, "adm2", 4));
	/* Only digests are kept: the raw key is nowhere in the struct. */
	assert_null(memmem(&c, sizeof(c), "sk-one", 6));
	assert_null(memmem(&c, sizeof(c), "adm", 3));
	unsetenv("LOCALAI_API_KEYS");
	assert_int_equal(conf_load(path, 1, &c, &err), 0);
	assert_int_equal(c.frontend.n_api_keys, 1);
	assert_true(conf_api_key_ok(&c.frontend, "k1", 2));
}

static void
test_precedence(void **state)
{
	struct conf c;
	struct conf_error err;
	struct conf_flags fl;
	const char *path;

	path =
	    write_file("p.conf", "frontend = { body_max = \"2MiB\"; "
	                         "listen = \"127.0.0.1:9000\"; };\n"
	                         "worker = { heartbeat_interval = 5000; };\n");
	conf_flags_init(&fl);
	assert_int_equal(conf_flags_add(&fl, "frontend.body_max=6MiB"), 0);
	fl.verbose = 2;
	setenv("LOCALAI_BODY_MAX", "4MiB", 1);
	setenv("LOCALAI_HEARTBEAT_INTERVAL", "10s", 1);
	setenv("LOCALAI_LOG_LEVEL", "verbose", 1);

	/* flag > environment > file > default */
	assert_int_equal(
	    conf_load_flags(path, 1, &fl, &c, &err, NULL, NULL), 0);
	assert_int_equal(c.frontend.body_max, 6 << 20);
	assert_int_equal(c.verbose, 2);
	assert_int_equal(conf_load(path, 1, &c, &err), 0);
	assert_int_equal(c.frontend.body_max, 4 << 20);
	assert_int_equal(c.worker.heartbeat_interval_ms, 10000);
	assert_int_equal(c.verbose, 1);
	assert_string_equal(c.frontend.listen, "127.0.0.1:9000");
	unsetenv("LOCALAI_BODY_MAX");
	unsetenv("LOCALAI_HEARTBEAT_INTERVAL");
	assert_int_equal(conf_load(path, 1, &c, &err), 0);
	assert_int_equal(c.frontend.body_max, 2 << 20);
	assert_int_equal(c.worker.heartbeat_interval_ms, 5000);
	conf_defaults(&c);
	assert_int_equal(c.frontend.body_max, 8 << 20);
	assert_int_equal(c.worker.heartbeat_interval_ms, 1000);

	/* An empty variable counts as unset. */
	setenv("LOCALAI_BODY_MAX", "", 1);
	assert_int_equal(conf_load(path, 1, &c, &err), 0);
	assert_int_equal(c.frontend.body_max, 2 << 20);
}

static void
test_env_errors(void **state)
{
	struct conf c;
	struct conf_error err;
	struct conf_flags fl;

	setenv("LOCALAI_API_WORKERS", "many", 1);
	assert_int_equal(
	    conf_load("/nonexistent/localai.conf", 0, &c, &err), -1);
	assert_string_equal(err.text,
	    "LOCALAI_API_WORKERS: setting "
	    "\"frontend.api_workers\" must be an integer");
	setenv("LOCALAI_API_WORKERS", "0", 1);
	setenv("LOCALAI_AUTO_APPROVE_NODES", "maybe", 1);
	assert_int_equal(
	    conf_load("/nonexistent/localai.conf", 0, &c, &err), -1);
	assert_int_equal(err.count, 2);
	assert_string_equal(err.text,
	    "LOCALAI_API_WORKERS: setting "
	    "\"frontend.api_workers\" must be between 1 and 256");
	clear_env();

	conf_flags_init(&fl);
	conf_flags_add(&fl, "frontend.nope=1");
	assert_int_equal(
	    conf_load_flags("/nonexistent/x", 0, &fl, &c, &err, NULL, NULL),
	    -1);
	assert_string_equal(
	    err.text, "flag frontend.nope: unknown setting \"frontend.nope\"");
}

static void
test_files(void **state)
{
	struct conf c, before;
	struct conf_error err;
	const char *path;

	/* A missing default file means defaults; a missing given one fails. */
	assert_int_equal(
	    conf_load("/nonexistent/localai.conf", 0, &c, &err), 0);
	assert_int_equal(c.have_file, 0);
	assert_int_equal(
	    conf_load("/nonexistent/localai.conf", 1, &c, &err), -1);
	assert_string_equal(
	    err.text, "/nonexistent/localai.conf: No such file or directory");

	/* A failed load leaves the running configuration untouched. */
	path = write_file("good.conf", "frontend = { retries = 5; };\n");
	assert_int_equal(conf_load(path, 1, &c, &err), 0);
	assert_int_equal(c.have_file, 1);
	memcpy(&before, &c, sizeof(c));
	path = write_file("bad.conf", "frontend = { retries = \"5\"; };\n");
	assert_int_equal(conf_load(path, 1, &c, &err), -1);
	assert_non_null(
	    strstr(err.text, "bad.conf:1: setting "
	                     "\"frontend.retries\" must be an integer"));
	assert_memory_equal(&before, &c, sizeof(c));
}

static void
test_env_names(void **state)
{
	char want[80];
	const char *last;
	size_t i, j, n;

	for (i = 0; i < conf_main_nkeys; i++) {
		const struct conf_key *k = &conf_main_keys[i];

		assert_non_null(k->env);
		last = strrchr(k->path, '.');
		last = last != NULL ? last + 1 : k->path;
		n = (size_t)snprintf(want, sizeof(want), "LOCALAI_%s", last);
		for (j = 8; j < n; j++)
			want[j] = (char)toupper((unsigned char)want[j]);
		if (strcmp(k->path, "frontend.listen") == 0)
			assert_string_equal(k->env, "LOCALAI_ADDRESS");
		else
			assert_string_equal(k->env, want);
		for (j = 0; j < i; j++)
			assert_string_not_equal(k->env, conf_main_keys[j].env);
	}
}

static void
test_derived(void **state)
{
	struct conf c;
	struct conf_error err;
	struct conf_flags fl;
	const char *path;

	conf_defaults(&c);
	assert_string_equal(c.worker.http_addr, "0.0.0.0:50050");
	assert_string_equal(c.models_path, "/var/lib/localai/models");
	assert_true(c.frontend.api_workers >= 1);

	path = write_file("d.conf",
	    "state_dir = \"/srv/l\";\n"
	    "worker = { register_to = \"http://fe:8080/\"; "
	    "advertise_addr = \"w1:6000\"; };\n");
	conf_flags_init(&fl);
	conf_flags_add(&fl, "worker.serve_addr=10.0.0.1:6000");
	assert_int_equal(
	    conf_load_flags(path, 1, &fl, &c, &err, NULL, NULL), 0);
	assert_string_equal(c.models_path, "/srv/l/models");
	assert_string_equal(c.backends_path, "/srv/l/backends");
	assert_string_equal(c.worker.http_addr, "10.0.0.1:5999");
	assert_string_equal(c.worker.advertise_http_addr, "w1:5999");
	assert_string_equal(c.worker.gallery_url, "http://fe:8080/api/gallery");

	/* The HTTP port must not fall among the backend ports. */
	setenv("LOCALAI_HTTP_ADDR", "0.0.0.0:50060", 1);
	assert_int_equal(conf_load(path, 1, &c, &err), -1);
	assert_string_equal(err.text,
	    "LOCALAI_HTTP_ADDR: worker.http_addr "
	    "port 50060 lies in the backend ports 50051-50150");
}

static void
test_check_role(void **state)
{
	struct conf c;
	struct conf_error err;

	conf_defaults(&c);
	assert_int_equal(conf_check_role(&c, ROLE_STANDALONE, &err), 0);
	assert_int_equal(conf_check_role(&c, ROLE_FRONTEND, &err), -1);
	assert_non_null(strstr(err.text, "frontend.database_url"));
	snprintf(c.frontend.database_url, sizeof(c.frontend.database_url),
	    "postgresql://db/x");
	assert_int_equal(conf_check_role(&c, ROLE_FRONTEND, &err), -1);
	assert_non_null(strstr(err.text, "registration_token"));
	c.insecure = 1;
	assert_int_equal(conf_check_role(&c, ROLE_FRONTEND, &err), 0);
	assert_int_equal(conf_check_role(&c, ROLE_WORKER, &err), -1);
	assert_non_null(strstr(err.text, "worker.register_to"));
}

static void
test_uuid(void **state)
{
	char a[37], b[37];

	assert_int_equal(conf_random_uuid(a, sizeof(a)), 0);
	assert_int_equal(conf_random_uuid(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[14], '4');
	assert_string_not_equal(a, b);
	assert_int_equal(conf_random_uuid(a, 10), -1);
}

static void
collect(const char *text, void *arg)
{
	char *buf = arg;

	strncat(buf, text, 4095 - strlen(buf));
	strncat(buf, "\n", 4095 - strlen(buf));
}

/* Load the models of tmpdir/md with models_path tmpdir/mp. */
static int
load_models(struct conf_models *m, char *errors)
{
	struct conf c;

	conf_defaults(&c);
	snprintf(
	    c.models_config_dir, sizeof(c.models_config_dir), "%s/md", tmpdir);
	snprintf(c.models_path, sizeof(c.models_path), "%s/mp", tmpdir);
	errors[0] = '\0';
	return conf_load_models_report(&c, m, collect, errors);
}

static void
test_models(void **state)
{
	struct conf_models m;
	const struct conf_model *mod;
	char errors[4096], dir[128];
	uint32_t rev;

	snprintf(dir, sizeof(dir), "%s/md", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/mp", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_file("md/a-voice.conf",
	    "name = \"voice\"; backend = \"espeak\";"
	    " model = \"en-us\";\nparameters = { temperature = 0.5; };\n");
	write_file("md/b-bad.conf", "name = \"bad\"; backend = \"espeak\";\n"
	                            "model = \"en\"; colour = \"red\";\n");
	write_file("mp/c-dup.conf", "name = \"voice\"; backend = \"x\"; "
	                            "model = \"y\";\n");
	write_file("mp/d-path.conf", "name = \"../etc\"; backend = \"x\"; "
	                             "model = \"y\";\n");
	write_file("mp/e-llm.conf",
	    "name = \"llm\"; backend = \"llama\"; "
	    "model = \"tiny.bin\";\nresources = { vram = \"1GiB\"; };\n");
	write_file("mp/tiny.bin", "0123456789");
	write_file("mp/notes.txt", "not a config");

	assert_int_equal(load_models(&m, errors), 3);
	assert_int_equal(m.n, 2);
	assert_non_null(strstr(errors, "md/b-bad.conf:2: unknown setting "
	                               "\"colour\""));
	assert_non_null(strstr(errors, "mp/c-dup.conf:1: duplicate model "
	                               "\"voice\" (first defined at "));
	assert_non_null(strstr(errors, "mp/d-path.conf:1: setting \"name\""));
	mod = conf_model_find(&m, "voice");
	assert_non_null(mod);
	assert_true(mod->have_temperature);
	assert_false(mod->have_top_p);
	assert_int_equal(mod->replicas_max, 1);
	assert_int_equal(mod->max_concurrency, 1);
	assert_non_null(strstr(mod->source, "md/a-voice.conf:1"));
	rev = mod->revision;
	mod = conf_model_find(&m, "llm");
	assert_non_null(mod);
	assert_int_equal(mod->ram, 10); /* the file's size */
	assert_int_equal(mod->vram, 1 << 30); /* as configured */
	assert_null(conf_model_find(&m, "bad"));
	conf_models_free(&m);

	/* The revision is stable, and follows the effective settings. */
	assert_int_equal(load_models(&m, errors), 3);
	assert_int_equal(conf_model_find(&m, "voice")->revision, rev);
	conf_models_free(&m);
	write_file("md/a-voice.conf",
	    "name = \"voice\"; backend = \"espeak\";"
	    " model = \"en-us\";\nparameters = { temperature = 0.6; };\n");
	assert_int_equal(load_models(&m, errors), 3);
	assert_int_not_equal(conf_model_find(&m, "voice")->revision, rev);
	conf_models_free(&m);
}

static void
test_model_values(void **state)
{
	struct conf_models m;
	char errors[4096], dir[128];

	snprintf(dir, sizeof(dir), "%s/md", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_file("md/a.conf",
	    "name = \"a\"; backend = \"b\"; model = \"m\";\n"
	    "parameters = { top_p = 1.5; top_k = -1; };\n"
	    "replicas = { min = 3; max = 2; };\n"
	    "sha256 = \"abc\";\n"
	    "stop = [ \"\" ];\n");
	write_file("md/b.conf", "backend = \"b\"; model = \"/abs\";\n");
	assert_int_equal(load_models(&m, errors), 2);
	assert_int_equal(m.n, 0);
	assert_non_null(strstr(errors, "a.conf:2: setting \"parameters.top_p\" "
	                               "must be between 0 and 1"));
	assert_non_null(strstr(errors, "a.conf:2: setting \"parameters.top_k\" "
	                               "must be between 0 and 1000000"));
	assert_non_null(strstr(errors, "a.conf:3: replicas.min (3) must not "
	                               "exceed replicas.max (2)"));
	assert_non_null(strstr(errors, "a.conf:4: setting \"sha256\" must be "
	                               "64 hexadecimal digits"));
	assert_non_null(strstr(errors, "a.conf:5: setting \"stop\" must not "
	                               "contain empty strings"));
	assert_non_null(strstr(errors, "b.conf: missing setting \"name\""));
	assert_non_null(strstr(errors, "b.conf:1: setting \"model\" must be "
	                               "relative to models_path"));
	conf_models_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_parse),
	    cmocka_unit_test(test_duration_format),
	    cmocka_unit_test(test_size_parse),
	    cmocka_unit_test(test_size_format),
	    cmocka_unit_test(test_bool),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_addr),
	    cmocka_unit_test(test_mask_url),
	    cmocka_unit_test(test_scan_ints),
	    cmocka_unit_test_setup_teardown(test_hash_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_files, setup, teardown),
	    cmocka_unit_test(test_env_names),
	    cmocka_unit_test_setup_teardown(test_derived, setup, teardown),
	    cmocka_unit_test(test_check_role),
	    cmocka_unit_test(test_uuid),
	    cmocka_unit_test_setup_teardown(test_models, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_model_values, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
