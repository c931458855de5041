/*
 * Entry points of the agent processes, run by `localai -P agent` (the
 * frontend's NATS agent) and `localai -P worker-agent` (a worker node's
 * agent).
 */
#ifndef LOCALAI_AGENT_H
#define LOCALAI_AGENT_H

int	agent_main(void);		/* frontend NATS agent */
int	worker_agent_main(void);	/* worker node agent */

#endif
