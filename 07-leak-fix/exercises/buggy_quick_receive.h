/* Exercise 07.3 (find the bug): receives started the way AsyncIO starts AcceptEx and
 * ConnectEx. When the call finishes at once, the result is posted to the completion port
 * by hand, "so the completion handler runs without waiting". Yet the handler sometimes
 * sees one receive complete twice. Fix it in buggy_quick_receive.c. */
#ifndef BUGGY_QUICK_RECEIVE_H
#define BUGGY_QUICK_RECEIVE_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

typedef struct quick_receive {
    OVERLAPPED overlapped; /* first: the OVERLAPPED* a packet hands back is the receive */
    WSABUF wsabuf;
    char buffer[64];
} quick_receive;

/* Associates the connected, overlapped socket s with port (packets carry s as their key).
 * Returns false when that failed. */
bool quick_receive_attach(SOCKET s, HANDLE port);

/* Starts a receive into op->buffer. Returns 0 when exactly one completion packet will come
 * for it, or the error of an immediate failure (then no packet comes). */
DWORD quick_receive_start(SOCKET s, HANDLE port, quick_receive *op);

#endif
