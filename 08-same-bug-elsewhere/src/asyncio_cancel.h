/* The incident's library, AsyncIO (C#), as its fork's second fix left it (GuojieLin/AsyncIO
 * 613232a), reduced: a socket owns two overlapped contexts, one for receives and one for
 * sends. A context is "in progress" from the call that starts an operation until its
 * packet is handled; dispose frees a context that is not in progress and leaves one that
 * is to its packet. The fix under study: when CancelIoEx fails, dispose marks both
 * contexts complete, so both are freed at once. */
#ifndef ASYNCIO_CANCEL_H
#define ASYNCIO_CANCEL_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

typedef struct aio_context {
    OVERLAPPED overlapped; /* first: a packet's OVERLAPPED pointer is the context */
    volatile LONG in_progress;
    volatile LONG disposed;
    DWORD bytes; /* what the last packet said */
    char buffer[64];
} aio_context;

typedef struct aio_socket {
    SOCKET handle;
    aio_context *in;  /* receives */
    aio_context *out; /* sends */
} aio_socket;

/* A socket object for s, associated with port. */
aio_socket *aio_socket_new(HANDLE port, SOCKET s);

/* Starts a receive: 0 (done at once; the packet still comes), WSA_IO_PENDING, or the
 * error of a call that failed at once (the context is completed again: no packet comes). */
DWORD aio_receive(aio_socket *s);

/* Cancels what is pending, gives back the contexts that may go, closes the socket. */
void aio_dispose(aio_socket *s);

/* One packet from port within timeout_ms, handed to its context (which is freed if its
 * socket was disposed meanwhile); false when none came. */
bool aio_handle_completion(HANDLE port, DWORD timeout_ms);

#endif
