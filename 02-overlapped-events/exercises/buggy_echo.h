/* Exercise 02.2 (find the bug): an echo of one connection with an overlapped WSARecv and
 * its event, as step02-server receives. Some bytes come back twice. Fix it in
 * buggy_echo.c. */
#ifndef BUGGY_ECHO_H
#define BUGGY_ECHO_H

#include <stdbool.h>
#include <winsock2.h>

/* Echoes every byte that arrives on s back to the peer, until the peer closes its side.
 * Returns true then, false on an error. Does not close s. */
bool echo_session(SOCKET s);

#endif
