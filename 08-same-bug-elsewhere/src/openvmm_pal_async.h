/* openvmm's pal_async (support/pal/pal_async, overlapped I/O on Windows), reduced: an I/O
 * object issues one overlapped operation and is polled for its result. The result is read
 * from the OVERLAPPED, whose Internal field holds the operation's status: STATUS_PENDING
 * until the kernel writes the end into it. */
#ifndef OPENVMM_PAL_ASYNC_H
#define OPENVMM_PAL_ASYNC_H

#include <winsock2.h>
#include <windows.h>

typedef enum {
    PAL_IDLE,      /* nothing issued, or done: the result is to be read */
    PAL_ISSUED,    /* the kernel has it: its packet will come */
    PAL_SYNC_ERROR /* the fix's state: the call failed at once, with sync_error */
} pal_state;

typedef struct pal_io {
    OVERLAPPED overlapped;
    HANDLE handle;
    pal_state state;
    DWORD sync_error;
    char buffer[64];
} pal_io;

typedef enum {
    PAL_READY,   /* *error and *bytes hold the result */
    PAL_PENDING, /* wait for the packet, then poll again */
    PAL_PANIC    /* openvmm: try_complete().unwrap() on "not done" in a done state */
} pal_poll_result;

/* Issues a receive on s (a socket associated with a port). */
void pal_issue_receive(pal_io *io, SOCKET s);

/* The packet of the operation has been dequeued: it is done. */
void pal_completed(pal_io *io);

/* Polls the operation. */
pal_poll_result pal_poll(pal_io *io, DWORD *error, DWORD *bytes);

#endif
