/* Test support of step 02, shared by its tests (tests/) and its exercise checkers
 * (exercises/): the echo server started in-process, and clients that come and go. */
#ifndef STEP02_TEST_SUPPORT_H
#define STEP02_TEST_SUPPORT_H

#include "server.h"
#include "tutorial/testkit.h"

/* Starts the server in-process on a free port, for at most max_clients clients at once. */
server *start_server(int max_clients);

/* A client connected to srv whose receives give up after TK_PROMPT_MS. */
SOCKET connect_client(server *srv);

/* Half-closes s and waits until the server closes too (then its slot is free); closes s. */
void leave(SOCKET s);

#endif
