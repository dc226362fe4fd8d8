/* mio's Windows selector (Rust, under tokio), reduced: each registered socket has a state
 * object shared by reference count. Submitting a readiness poll hands one reference to
 * the kernel, as the OVERLAPPED pointer; the selector takes it back from the packet. mio
 * polls through the AFD driver's IOCTL_AFD_POLL; a zero-byte WSARecv, which also
 * completes when the socket becomes readable, stands in for it here. */
#ifndef MIO_AFD_POLL_H
#define MIO_AFD_POLL_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

typedef struct sock_state {
    OVERLAPPED overlapped; /* first: the packet's OVERLAPPED pointer is the state */
    volatile LONG references;
    SOCKET socket;
    bool poll_pending;
    bool delete_pending; /* the socket is gone: deregister it */
} sock_state;

/* A state for s, holding the registry's reference. */
sock_state *sock_state_register(SOCKET s);

/* Submits a readiness poll unless one is pending: 0 (submitted, or the socket found
 * closed and marked for deletion) or the error of a submission that failed otherwise. */
int sock_state_update(sock_state *state);

/* The selector: one packet from port within timeout_ms; the poll it ends is no longer
 * pending and its reference is dropped. Returns the state, or NULL when none came. */
sock_state *selector_step(HANDLE port, DWORD timeout_ms);

/* Drops the registry's reference. */
void sock_state_deregister(sock_state *state);

#endif
