/* Test support of step 04, shared by its server-level tests: the server on a free port, and
 * a client connection to it. */
#ifndef STEP04_TEST_SUPPORT_H
#define STEP04_TEST_SUPPORT_H

#include "server.h"
#include "tutorial/testkit.h"

/* The server on 127.0.0.1 and a free port, with `threads` workers (0: one per processor);
 * the test fails when it does not start. */
server *start_server(int threads);

/* A blocking client connection to srv, whose receives give up after TK_PROMPT_MS. */
SOCKET connect_to(server *srv);

#endif
