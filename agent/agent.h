/*
 * Entry points of the agent processes, run by `localai -P agent` (the
 * frontend's NATS agent) and `localai -P worker-agent` (a worker node's
 * agent).
 */
#ifndef LOCALAI_AGENT_H
#define LOCALAI_AGENT_H

#include "supervisor/config.h"

int agent_main(enum conf_role role); /* proto/proc.h */
int worker_agent_main(void); /* worker node agent */

#endif
