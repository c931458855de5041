# The router process (`localai -P router`): the frontend's control plane.
# Pure logic (cluster view, placement, admission, node health) lives in
# ROUTER_PURE, unit-tested alone; the rest is the process: loop, database
# thread, registry, HTTP API, NATS relay.
ROUTER_PURE := router/map.c router/nodestate.c router/view.c \
               router/inflight.c router/place.c
ROUTER_SRCS := router/router.c router/rdb.c router/rnodes.c router/rplace.c \
    router/rlerr.c \
    router/rbus.c router/rhttp.c router/rhttp_node.c router/rhttp_admin.c \
    router/rsql.c router/rmetrics.c router/admit.c $(ROUTER_PURE) agent/bus.c gen/migrations.c \
    db/db.c db/db_names.c proto/hash.c
LOCALAI_SRCS += $(ROUTER_SRCS)
LOCALAI_LIBS += $(call libs,libpq jansson libcrypto)

# db/migrations/*.sql are embedded in the binary, so a frontend never
# depends on where the share directory was installed.
$(BUILD)/gen/migrations.c: $(sort $(wildcard db/migrations/*.sql)) tools/embed-sql.sh
	@mkdir -p $(@D)
	sh tools/embed-sql.sh $(sort $(wildcard db/migrations/*.sql)) >$@

$(eval $(call unit_test,test_nodestate,tests/unit/test_nodestate.c router/nodestate.c,))
$(eval $(call unit_test,test_view,tests/unit/test_view.c $(ROUTER_PURE),))
$(eval $(call unit_test,test_place,tests/unit/test_place.c $(ROUTER_PURE),))
$(eval $(call unit_test,test_admit,tests/unit/test_admit.c router/admit.c router/map.c,))
$(eval $(call program,tests/bench/bench_place,tests/bench/bench_place.c $(ROUTER_PURE),))

# The router's figures (make bench-router): the PLACE round trip over the
# api socket, pipelined PLACE+DONE throughput, with 1 and 100 replicas.
$(eval $(call program,tests/bench/bench_router,tests/bench/bench_router.c \
    supervisor/config.c supervisor/conf_apply.c supervisor/conf_model.c \
    supervisor/conf_parse.c supervisor/conf_print.c proto/msgbuf.c \
    proto/log.c $(BUILD)/tests/harness/libharness.a, \
    $(call libs,libpq libcurl libconfig libcrypto libsystemd)))
.PHONY: bench-router
bench: bench-router
bench-router: $(BUILD)/tests/bench/bench_router $(BUILD)/bin/localai
	$(BUILD)/tests/bench/bench_router $(BUILD)
	python3 tests/bench/bench_cluster.py
