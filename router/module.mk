ROUTER_SRCS := router/router.c router/rdb.c router/rnodes.c router/rplace.c \
    router/rbus.c router/rhttp.c router/rhttp_node.c router/rhttp_admin.c \
    router/rsql.c router/view.c router/place.c router/map.c router/nodestate.c \
    router/inflight.c router/admit.c agent/bus.c
router-objs: $(patsubst %.c,$(BUILD)/obj/%.o,$(ROUTER_SRCS))
