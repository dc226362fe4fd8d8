/* What the cases' tests share (plumbing, like case_kit.h for the reductions). */
#ifndef CASE_SUPPORT_H
#define CASE_SUPPORT_H

#include <winsock2.h>
#include <windows.h>

/* A fresh temporary file holding content, opened for overlapped I/O with access (plus
 * the right to delete it, which closing its handle does). Fails the test otherwise. */
HANDLE case_overlapped_file(const char *content, DWORD access);

/* Which side of case_pair_on_port's pair is tied to the port from the start. */
typedef enum { PORT_ALONE, PORT_WITH_SERVER, PORT_WITH_CLIENT } case_port_tie;

/* What a socket case's test starts from: a connected loopback pair (the server side for the
 * reduction, the client side for the test) and a new completion port (kit_port), with the
 * side `tie` names already associated with it (completion key 1). Fails the test otherwise. */
HANDLE case_pair_on_port(SOCKET *client, SOCKET *server, case_port_tie tie);

#endif
