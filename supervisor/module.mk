# The localai binary: supervisor, and (in their own module.mk files) the
# api, router and agent processes it re-executes itself as.
LOCALAI_SRCS += supervisor/main.c proto/log.c
LOCALAI_LIBS += $(call libs,libsystemd)
