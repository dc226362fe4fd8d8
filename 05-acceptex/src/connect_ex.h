/* Step 05, the client's side: ConnectEx and DisconnectEx on a completion port.
 *
 * AcceptEx is the overlapped accept; ConnectEx is the overlapped connect (on Linux: a
 * non-blocking connect, then EPOLLOUT), and DisconnectEx ends a connection without
 * closing the socket, so that the same socket can connect again. A connector owns one
 * completion port; every socket it makes is bound, associated with that port, and each
 * ConnectEx or DisconnectEx started on it gets its own context, which the kernel holds
 * until connector_wait dequeues its packet. The tests (tests/test_connect_ex.c) and the
 * chapter (docs/05-acceptex.md, "The client's side") use it.
 */
#ifndef STEP05_CONNECT_EX_H
#define STEP05_CONNECT_EX_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

typedef struct connector connector;

typedef enum { CONNECTOR_CONNECT, CONNECTOR_DISCONNECT } connector_operation;

/* What one dequeued packet says. */
typedef struct connector_result {
    connector_operation operation; /* which call the packet finishes              */
    SOCKET socket;                 /* the socket it ran on (still open: yours)     */
    DWORD error;                   /* 0, or why it failed (see connector_refused)  */
} connector_result;

/* A new completion port and the two extension functions. Winsock must be started
 * (net_startup). Returns NULL after reporting the error. */
connector *connector_create(void);

/* An overlapped TCP socket, bound to INADDR_ANY port 0 and associated with the
 * connector's port: what ConnectEx needs. INVALID_SOCKET after reporting the error. */
SOCKET connector_new_socket(connector *c);

/* Starts ConnectEx on s to `to`. Returns 0 when a packet will come for it (the call
 * pended, or finished at once: on a port, both queue one); otherwise the error of a call
 * that failed at once, after which nothing is pending and the context is already freed.
 * *done_at_once (unless NULL) says which of the two a 0 was: TRUE or ERROR_IO_PENDING. */
int connector_start_connect(connector *c, SOCKET s, const struct sockaddr_in *to,
                            bool *done_at_once);

/* Starts DisconnectEx(TF_REUSE_SOCKET) on s, with the same return rule. */
int connector_start_disconnect(connector *c, SOCKET s, bool *done_at_once);

/* Dequeues one packet (waiting at most timeout_ms), frees its context and fills *result.
 * A ConnectEx that succeeded has had SO_UPDATE_CONNECT_CONTEXT set; if that fails, the
 * result carries its error. Returns false when no packet came in time. */
bool connector_wait(connector *c, DWORD timeout_ms, connector_result *result);

/* True for the error of a connection refused: WSAECONNREFUSED from a call that failed at
 * once, ERROR_CONNECTION_REFUSED from a packet. */
bool connector_refused(DWORD error);

/* Contexts allocated and not yet freed: 0 when nothing is pending. */
LONG connector_live_contexts(connector *c);

/* Closes the port and frees the connector. Every started operation must have been
 * dequeued first (connector_live_contexts is 0): the caller closes its sockets, and
 * waits for the aborted operations' packets. */
void connector_destroy(connector *c);

#endif
