/*
 * The names of cluster events.  One word per event, used alike by
 *	- the events table (`kind`) and GET /api/events,
 *	- the journal: a record with LOCALAI_EVENT=<name> (log_fields(),
 *	  struct log_fields.event) plus NODE_ID, MODEL and, when a request
 *	  caused it, REQUEST_ID, so `journalctl LOCALAI_EVENT=node_offline`
 *	  finds them,
 *	- the Nodes page's events view and `localai events`,
 *	- docs/operations.md (a unit test checks it lists every one).
 * Whoever records an event writes both the row and the log record.
 */
#ifndef LOCALAI_EVENT_CATALOG_H
#define LOCALAI_EVENT_CATALOG_H

/* Nodes (router, from registrations, heartbeats and admin actions). */
#define EVENT_NODE_REGISTERED "node_registered" /* new or again */
#define EVENT_NODE_APPROVED "node_approved" /* by an admin */
#define EVENT_NODE_DRAINING "node_draining" /* admin or node */
#define EVENT_NODE_RESUMED "node_resumed" /* drain undone */
#define EVENT_NODE_REMOVED "node_removed" /* admin delete */
#define EVENT_NODE_LABELS "node_labels" /* labels changed */
#define EVENT_NODE_SUSPECT "node_suspect" /* call failed */
#define EVENT_NODE_HEALTHY "node_healthy" /* back to normal */
#define EVENT_NODE_OFFLINE "node_offline" /* heartbeats lost */

/* Replicas (router; crashes reported by the worker). */
#define EVENT_REPLICA_LOADING "replica_loading" /* load placed */
#define EVENT_REPLICA_READY "replica_ready"
#define EVENT_REPLICA_FAILED "replica_failed" /* load failed */
#define EVENT_REPLICA_EVICTED "replica_evicted" /* room for another */
#define EVENT_REPLICA_UNLOADED "replica_unloaded" /* admin unload */
#define EVENT_REPLICA_CRASHED "replica_crashed" /* process died */
#define EVENT_REPLICA_CRASH_LOOP "replica_crash_loop" /* 5 in 120 s */

/* Backends on workers. */
#define EVENT_BACKEND_INSTALLED "backend_installed"
#define EVENT_BACKEND_INSTALL_FAILED "backend_install_failed"

#ifdef EVENT_CATALOG_TABLE
static const char *const event_names[] = {EVENT_NODE_REGISTERED,
    EVENT_NODE_APPROVED, EVENT_NODE_DRAINING, EVENT_NODE_RESUMED,
    EVENT_NODE_REMOVED, EVENT_NODE_LABELS, EVENT_NODE_SUSPECT,
    EVENT_NODE_HEALTHY, EVENT_NODE_OFFLINE, EVENT_REPLICA_LOADING,
    EVENT_REPLICA_READY, EVENT_REPLICA_FAILED, EVENT_REPLICA_EVICTED,
    EVENT_REPLICA_UNLOADED, EVENT_REPLICA_CRASHED, EVENT_REPLICA_CRASH_LOOP,
    EVENT_BACKEND_INSTALLED, EVENT_BACKEND_INSTALL_FAILED, NULL};
#endif

#endif
