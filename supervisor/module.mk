# The localai binary: supervisor, and (in their own module.mk files) the
# api, router and agent processes it re-executes itself as.
LOCALAI_SRCS += supervisor/main.c supervisor/proc.c supervisor/spawn.c \
                supervisor/backend.c supervisor/child.c supervisor/notify.c \
                supervisor/stop.c supervisor/standalone.c supervisor/svc.c \
                supervisor/ctl.c \
                proto/log.c proto/msgbuf.c proto/proc.c
LOCALAI_LIBS += $(call libs,libsystemd libconfig)

# IPC framing, over real socketpairs.
$(eval $(call unit_test,test_msgbuf,tests/unit/test_msgbuf.c proto/msgbuf.c proto/log.c,$(call libs,libsystemd)))

# The child state machine (restart backoff, crash loops): pure logic.
$(eval $(call unit_test,test_child,tests/unit/test_child.c supervisor/child.c,))
