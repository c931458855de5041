# Configuration loading (supervisor/config.c and supervisor/conf_*.c): part
# of the localai binary, plus its unit test.  Listed here because etc/
# (the example configs) belongs to the same component.
CONF_SRCS := supervisor/config.c supervisor/conf_apply.c \
             supervisor/conf_model.c supervisor/conf_parse.c \
             supervisor/conf_print.c
LOCALAI_SRCS += $(CONF_SRCS)
LOCALAI_LIBS += $(call libs,libconfig libcrypto)
$(eval $(call unit_test,test_config,tests/unit/test_config.c $(CONF_SRCS) proto/log.c,$(call libs,libconfig libcrypto libsystemd)))
