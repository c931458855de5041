/*
 * Unit tests for backends/common/addr.c: the backend's --addr forms, the
 * target strings handed to gRPC, and the command line and environment
 * settings with their bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "backends/common/addr.h"

static void
parse_ok(const char *in, enum be_addr_kind kind, const char *target)
{
	struct be_addr a;
	char err[128];

	if (be_addr_parse(in, &a, err, sizeof(err)) != 0)
		fail_msg("%s: %s", in, err);
	assert_int_equal(a.kind, kind);
	assert_string_equal(a.target, target);
}

static void
parse_bad(const char *in)
{
	struct be_addr a;
	char err[128] = "";

	if (be_addr_parse(in, &a, err, sizeof(err)) != -1)
		fail_msg("accepted \"%s\"", in != NULL ? in : "(null)");
	assert_true(err[0] != '\0');
}

static void
test_tcp(void **state)
{
	struct be_addr a;
	char err[64];

	parse_ok("0.0.0.0:50051", BE_ADDR_TCP, "0.0.0.0:50051");
	parse_ok("127.0.0.1:0", BE_ADDR_TCP, "127.0.0.1:0");
	parse_ok("localhost:65535", BE_ADDR_TCP, "localhost:65535");
	parse_ok(":50052", BE_ADDR_TCP, "0.0.0.0:50052");
	parse_ok("[::1]:7", BE_ADDR_TCP, "[::1]:7");
	parse_ok("[::]:50051", BE_ADDR_TCP, "[::]:50051");
	assert_int_equal(be_addr_parse("worker-1.example:123", &a, err,
	    sizeof(err)), 0);
	assert_string_equal(a.host, "worker-1.example");
	assert_int_equal(a.port, 123);
}

static void
test_tcp_bad(void **state)
{
	parse_bad(NULL);
	parse_bad("");
	parse_bad("localhost");
	parse_bad("localhost:");
	parse_bad("localhost:65536");
	parse_bad("localhost:-1");
	parse_bad("localhost:+80");
	parse_bad("localhost:80x");
	parse_bad("localhost:123456");
	parse_bad("::1:80");
	parse_bad("[::1]80");
	parse_bad("[::1");
	parse_bad("[]:80");
	parse_bad("a b:80");
	parse_bad("a/b:80");
}

static void
test_unix(void **state)
{
	char longpath[200];

	parse_ok("unix:/run/localai/be.sock", BE_ADDR_UNIX,
	    "unix:/run/localai/be.sock");
	parse_ok("unix:///tmp/x.sock", BE_ADDR_UNIX, "unix:/tmp/x.sock");
	parse_ok("unix:rel.sock", BE_ADDR_UNIX, "unix:rel.sock");
	parse_ok("unix-abstract:localai-7", BE_ADDR_ABSTRACT,
	    "unix-abstract:localai-7");
	parse_bad("unix:");
	parse_bad("unix-abstract:");
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	memcpy(longpath, "unix:/", 6);
	parse_bad(longpath);
}

static int
args(struct be_conf *c, const char *const *argv, char *err)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	assert_int_equal(be_conf_init(c, NULL, NULL, err, 128), 0);
	return be_conf_args(c, argc, (char **)(uintptr_t)argv, err, 128);
}

static void
test_args(void **state)
{
	const char *a1[] = { "run", "--addr", "0.0.0.0:50051", NULL };
	const char *a2[] = { "run", "--addr=unix:/s", "--grace-ms", "250",
	    "--max-msg-size=2048", "--max-calls", "3", "--port-file", "/p",
	    "-v", NULL };
	const char *a3[] = { "run", "-d", "--addr", "x:1", NULL };
	struct be_conf c;
	char err[128];

	assert_int_equal(args(&c, a1, err), 0);
	assert_string_equal(c.addr, "0.0.0.0:50051");
	assert_int_equal(c.max_msg, 50L * 1024 * 1024);
	assert_int_equal(c.grace_ms, 10000);
	assert_int_equal(c.max_calls, 256);
	assert_null(c.port_file);
	assert_int_equal(args(&c, a2, err), 0);
	assert_string_equal(c.addr, "unix:/s");
	assert_int_equal(c.grace_ms, 250);
	assert_int_equal(c.max_msg, 2048);
	assert_int_equal(c.max_calls, 3);
	assert_string_equal(c.port_file, "/p");
	assert_int_equal(c.verbose, 1);
	assert_int_equal(args(&c, a3, err), 0);
	assert_int_equal(c.verbose, 2);
}

static void
test_args_bad(void **state)
{
	const char *none[] = { "run", NULL };
	const char *noval[] = { "run", "--addr", NULL };
	const char *unknown[] = { "run", "--addr", "a:1", "--bogus", NULL };
	const char *small[] = { "run", "--addr", "a:1", "--max-msg-size",
	    "10", NULL };
	const char *neg[] = { "run", "--addr", "a:1", "--grace-ms", "-5",
	    NULL };
	const char *junk[] = { "run", "--addr", "a:1", "--max-calls", "2x",
	    NULL };
	const char *zero[] = { "run", "--addr", "a:1", "--max-calls", "0",
	    NULL };
	const char *badaddr[] = { "run", "--addr", "nowhere", NULL };
	const char *help[] = { "run", "-h", NULL };
	const char *nopf[] = { "run", "--addr", "a:1", "--port-file", NULL };
	struct be_conf c;
	char err[128];

	assert_int_equal(args(&c, none, err), -1);
	assert_non_null(strstr(err, "--addr"));
	assert_int_equal(args(&c, noval, err), -1);
	assert_int_equal(args(&c, unknown, err), -1);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(args(&c, small, err), -1);
	assert_int_equal(args(&c, neg, err), -1);
	assert_int_equal(args(&c, junk, err), -1);
	assert_int_equal(args(&c, zero, err), -1);
	assert_int_equal(args(&c, badaddr, err), -1);
	assert_int_equal(args(&c, help, err), 1);
	assert_int_equal(args(&c, nopf, err), -1);
}

static void
test_env(void **state)
{
	struct be_conf c;
	char err[128];

	assert_int_equal(be_conf_init(&c, "1048576", "0", err, 128), 0);
	assert_int_equal(c.max_msg, 1048576);
	assert_int_equal(c.grace_ms, 0);
	assert_int_equal(be_conf_init(&c, "big", NULL, err, 128), -1);
	assert_non_null(strstr(err, "LOCALAI_GRPC_MAX_MESSAGE_SIZE"));
	assert_int_equal(be_conf_init(&c, "4294967296", NULL, err, 128), -1);
	assert_int_equal(be_conf_init(&c, NULL, "9999999", err, 128), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_tcp_bad),
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_args_bad),
		cmocka_unit_test(test_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
