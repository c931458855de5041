# Test-only programs.  fakeproc stands in for the core processes and for
# backends in the supervisor tests (LOCALAI_TEST_CHILD_EXEC).
$(eval $(call program,tests/fakes/fakeproc,tests/fakes/fakeproc.c proto/proc.c proto/msgbuf.c proto/log.c,$(call libs,libsystemd)))
