/* Test support of step 05, shared by its tests (tests/) and its exercise checkers
 * (exercises/): a listening socket on its own completion port, and sockets for AcceptEx. */
#ifndef STEP05_TEST_SUPPORT_H
#define STEP05_TEST_SUPPORT_H

#include "tutorial/testkit.h"

/* A loopback listener on a free port (its number goes to *port_number), associated with a
 * new completion port (*port) under key. */
SOCKET listen_on_new_port(unsigned short *port_number, HANDLE *port, ULONG_PTR key);

/* A fresh overlapped TCP socket, as AcceptEx needs for the connection it accepts. */
SOCKET new_overlapped_socket(void);

#endif
