/*
 * Unit tests for the worker agent's pure helpers: meminfo parsing, safe
 * names, NATS subject tokens, JSON → ModelOptions, and backend package
 * installation from local tarballs (good, corrupt, hostile).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/bus.h"
#include "agent/install.h"
#include "agent/pbjson.h"
#include "agent/sysinfo.h"
#include "agent/util.h"
#include "proto/hash.h"
#include "backend.pb-c.h"

static void
test_meminfo(void **state)
{
	const char *t = "MemTotal:       24576000 kB\nMemFree:  100 kB\n"
	                "MemAvailable:   20000000 kB\nBuffers: 1 kB\n";
	const char *old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\n"
	                  "Cached: 30 kB\n";
	uint64_t total, avail;

	assert_int_equal(sysinfo_parse_meminfo(t, &total, &avail), 0);
	assert_int_equal(total, 24576000ULL * 1024);
	assert_int_equal(avail, 20000000ULL * 1024);
	assert_int_equal(sysinfo_parse_meminfo(old, &total, &avail), 0);
	assert_int_equal(avail, 150ULL * 1024);
	assert_int_equal(
	    sysinfo_parse_meminfo("nothing\n", &total, &avail), -1);
}

static void
test_names(void **state)
{
	assert_true(name_ok("llama-3.2_1b.Q4_K_M.gguf"));
	assert_true(name_ok("espeak"));
	assert_false(name_ok(""));
	assert_false(name_ok("."));
	assert_false(name_ok(".."));
	assert_false(name_ok(".hidden"));
	assert_false(name_ok("a/b"));
	assert_false(name_ok("a..b"));
	assert_false(name_ok("../etc/passwd"));
	assert_false(name_ok("sp ace"));
}

static void
test_subject_token(void **state)
{
	char t[64];

	assert_string_equal(
	    bus_token(t, sizeof(t), "node.1*>x y"), "node-1--x-y");
	assert_string_equal(bus_token(t, sizeof(t), "abc"), "abc");
}

static void
test_pbjson(void **state)
{
	json_t *o = json_pack("{s:s,s:i,s:b,s:f,s:[s,s],s:i}", "Model",
	    "m.gguf", "ContextSize", 2048, "Embeddings", 1, "RopeFreqBase",
	    10000.0, "Options", "tokens=5", "rate_ms=1", "Threads", 2);
	Backend__ModelOptions *m;
	char err[256];

	m = (Backend__ModelOptions *)pbjson_to_message(
	    &backend__model_options__descriptor, o, err, sizeof(err));
	assert_non_null(m);
	assert_string_equal(m->model, "m.gguf");
	assert_int_equal(m->contextsize, 2048);
	assert_true(m->embeddings);
	assert_true(m->ropefreqbase == 10000.0f);
	assert_int_equal(m->n_options, 2);
	assert_string_equal(m->options[1], "rate_ms=1");
	assert_int_equal(m->threads, 2);
	protobuf_c_message_free_unpacked(&m->base, NULL);
	json_decref(o);

	o = json_pack("{s:s}", "Modle", "typo");
	assert_null(pbjson_to_message(
	    &backend__model_options__descriptor, o, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown field \"Modle\""));
	json_decref(o);
	o = json_pack("{s:s}", "ContextSize", "big");
	assert_null(pbjson_to_message(
	    &backend__model_options__descriptor, o, err, sizeof(err)));
	assert_non_null(strstr(err, "ContextSize"));
	json_decref(o);
}

/* Build a tar.gz from a directory with tar(1) (the test may fork). */
static void
make_tarball(const char *dir, const char *out, const char *members)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "tar -C %s -czf %s %s", dir, out, members);
	assert_int_equal(system(cmd), 0);
}

static void
test_install_package(void **state)
{
	char tmp[] = "/tmp/test-agent-XXXXXX", src[256], pkg[256], be[256];
	char run[512], hex[65], err[256], cmd[600], evil[256];

	assert_non_null(mkdtemp(tmp));
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(be, sizeof(be), "%s/backends", tmp);
	snprintf(pkg, sizeof(pkg), "%s/fake.tar.gz", tmp);
	snprintf(cmd, sizeof(cmd),
	    "mkdir -p %s && printf '#!/bin/sh\\n' > "
	    "%s/run && chmod +x %s/run && echo '{}' > %s/metadata.json",
	    src, src, src, src);
	assert_int_equal(system(cmd), 0);
	make_tarball(src, pkg, "run metadata.json");
	assert_int_equal(hash_sha256_file(pkg, hex), 0);

	/* A wrong hash is refused and leaves nothing behind. */
	assert_int_equal(install_package(be, "fake", pkg,
	                     "0000000000000000000000000000000000000000000000000"
	                     "000000000000000",
	                     err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "mismatch"));
	assert_int_equal(install_find(be, "fake", run, sizeof(run)), -1);

	assert_int_equal(
	    install_package(be, "fake", pkg, hex, err, sizeof(err)), 0);
	assert_int_equal(install_find(be, "fake", run, sizeof(run)), 0);

	/* A package escaping its directory is refused. */
	snprintf(evil, sizeof(evil), "%s/evil.tar.gz", tmp);
	snprintf(cmd, sizeof(cmd),
	    "tar -C %s -czf %s -P --transform "
	    "'s,^,../../,' run",
	    src, evil);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(hash_sha256_file(evil, hex), 0);
	assert_int_equal(
	    install_package(be, "evil", evil, hex, err, sizeof(err)), -1);
	assert_int_equal(install_find(be, "evil", run, sizeof(run)), -1);
	snprintf(cmd, sizeof(cmd), "%s/../run", be);
	assert_int_equal(access(cmd, F_OK), -1);

	/* Path-traversal names are refused outright. */
	assert_int_equal(
	    install_package(be, "../x", pkg, hex, err, sizeof(err)), -1);
	assert_int_equal(install_remove(be, "fake", err, sizeof(err)), 0);
	assert_int_equal(install_find(be, "fake", run, sizeof(run)), -1);
	assert_int_equal(remove_tree(tmp), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_meminfo),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_subject_token),
	    cmocka_unit_test(test_pbjson),
	    cmocka_unit_test(test_install_package),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
