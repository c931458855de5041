# The integration-test harness (tests/harness/harness.h): a static library
# that every integration and end-to-end test links, and th-env, which runs
# a shell or Node test with throwaway servers.
#
# To use it from any module.mk (whatever its include order), list the
# archive among the sources and add its libraries:
#   $(eval $(call program,tests/integration/foo,tests/integration/foo.c \
#       $(BUILD)/tests/harness/libharness.a,$(call libs,libpq libcurl) -lcmocka))
# Modules included after this one may use $(TH_LIB) and $(TH_LIBS).
TH_SRCS := tests/harness/th_core.c tests/harness/th_proc.c \
           tests/harness/th_pg.c tests/harness/th_nats.c \
           tests/harness/th_http.c
TH_LIB  := $(BUILD)/tests/harness/libharness.a
TH_LIBS := $(call libs,libpq libcurl)

$(TH_LIB): $(TH_SRCS:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^
ALL_TARGETS += $(TH_LIB)

$(eval $(call program,tests/harness/th-env,tests/harness/th_env.c $(TH_LIB),$(TH_LIBS)))

# The harness's own integration tests (tests/integration/harness_*.test).
$(eval $(call program,tests/integration/harness_servers,tests/integration/harness_servers.c $(TH_LIB),$(TH_LIBS) $(call libs,libnats) -lcmocka))
$(eval $(call program,tests/integration/harness_child,tests/integration/harness_child.c $(TH_LIB),$(TH_LIBS) -lcmocka))
$(eval $(call program,tests/integration/harness_cleanup,tests/integration/harness_cleanup.c $(TH_LIB),$(TH_LIBS) -lcmocka))
