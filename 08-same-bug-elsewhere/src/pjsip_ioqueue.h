/* pjsip's IOCP ioqueue (pjlib's ioqueue_winnt.c), reduced: a key registers a socket with
 * the completion port and carries the OVERLAPPED of the receive it has started; the
 * dispatcher finds the key from the OVERLAPPED a packet brings back; unregistering closes
 * the socket and gives the key's memory back. */
#ifndef PJSIP_IOQUEUE_H
#define PJSIP_IOQUEUE_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

typedef struct pj_key {
    OVERLAPPED receive; /* first: a packet's OVERLAPPED pointer is the key */
    SOCKET socket;
    volatile LONG references; /* the registration, plus one per operation started */
    long received;            /* bytes the dispatcher has seen for this key */
    char buffer[256];
} pj_key;

/* A key for s, associated with port (its packets carry the key as completion key). */
pj_key *pj_key_register(HANDLE port, SOCKET s);

/* Starts a receive into the key's buffer: ERROR_IO_PENDING or 0 (its packet will come),
 * or the error of a call that failed at once (no packet comes). */
DWORD pj_key_start_receive(pj_key *key);

/* Closes the socket, which cancels what is pending, and gives the key back. */
void pj_key_unregister(pj_key *key);

/* One packet from port within timeout_ms, handed to its key; false when none came.
 * *error is the packet's error (0 for a success). */
bool pj_ioqueue_poll(HANDLE port, DWORD timeout_ms, DWORD *error);

#endif
