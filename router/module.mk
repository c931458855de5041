# Router pure logic: the cluster view, placement, admission and node
# health, with their unit tests and the placement benchmark.  No I/O here:
# the router process sources (loop, PostgreSQL, NATS glue) are added to
# LOCALAI_SRCS by their authors and link these files in.
ROUTER_PURE := router/map.c router/nodestate.c router/view.c \
               router/inflight.c router/place.c

$(eval $(call unit_test,test_nodestate,tests/unit/test_nodestate.c router/nodestate.c,))
$(eval $(call unit_test,test_view,tests/unit/test_view.c $(ROUTER_PURE),))
$(eval $(call unit_test,test_place,tests/unit/test_place.c $(ROUTER_PURE),))
$(eval $(call unit_test,test_admit,tests/unit/test_admit.c router/admit.c router/map.c,))
$(eval $(call program,tests/bench/bench_place,tests/bench/bench_place.c $(ROUTER_PURE),))
