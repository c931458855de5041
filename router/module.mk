# The router process (`localai -P router`): the frontend's control plane.
# place.c, view.c, admit.c… are pure logic (unit-tested alone); the rest is
# the process: loop, database thread, registry, HTTP API, NATS relay.
ROUTER_SRCS := router/router.c router/rdb.c router/rnodes.c router/rplace.c \
    router/rbus.c router/rhttp.c router/rhttp_node.c router/rhttp_admin.c \
    router/rsql.c router/view.c router/place.c router/map.c \
    router/nodestate.c router/inflight.c router/admit.c \
    agent/bus.c gen/migrations.c
LOCALAI_SRCS += $(ROUTER_SRCS)
LOCALAI_LIBS += $(call libs,libpq jansson libcrypto)

# db/migrations/*.sql are embedded in the binary, so a frontend never
# depends on where the share directory was installed.
$(BUILD)/gen/migrations.c: $(sort $(wildcard db/migrations/*.sql)) tools/embed-sql.sh
	@mkdir -p $(@D)
	sh tools/embed-sql.sh $(sort $(wildcard db/migrations/*.sql)) >$@
