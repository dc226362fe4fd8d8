/* Twisted's IOCP reactor support module (iocpsupport), reduced: every operation gets a
 * freshly allocated OVERLAPPED that carries the Python object to call back; the reactor
 * frees it when it dequeues its packet. */
#ifndef TWISTED_IOCPSUPPORT_H
#define TWISTED_IOCPSUPPORT_H

#include <winsock2.h>
#include <windows.h>

typedef struct tw_overlapped {
    OVERLAPPED overlapped;
    void *callback_object; /* what the reactor calls when the packet comes */
} tw_overlapped;

/* Start a receive or a send; returns 0 or WSA_IO_PENDING (a packet will come) or the
 * error of a call that failed at once. */
int tw_recv(SOCKET s, WSABUF *buffer, void *callback_object);
int tw_send(SOCKET s, WSABUF *buffer, void *callback_object);

/* The reactor: one packet from port within timeout_ms, its OVERLAPPED freed; returns
 * the callback object it carried, or NULL when no packet came. */
void *tw_reactor_step(HANDLE port, DWORD timeout_ms);

#endif
