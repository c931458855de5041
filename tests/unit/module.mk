# Unit tests: one cmocka binary per module, linking only what it tests.
$(eval $(call unit_test,test_log,tests/unit/test_log.c proto/log.c,$(call libs,libsystemd)))
