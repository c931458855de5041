/*
 * The frontend agent's NATS relay (see fagent.c).  The process loop calls
 * these; everything else runs on nats.c's and request threads.
 */
#ifndef LOCALAI_FAGENT_H
#define LOCALAI_FAGENT_H

#include "supervisor/config.h"

int fagent_start(const struct conf *c);
void fagent_stop(void);
void fagent_set_router(int fd);
int fagent_router_fd(void);
int fagent_router_readable(void);

#endif
