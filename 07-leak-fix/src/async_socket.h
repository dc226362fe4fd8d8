/* A socket object built like the one in the incident's library (AsyncIO's Windows.Socket),
 * in C. It owns two contexts: IN (accept, then receives) and OUT (sends). A context is the
 * OVERLAPPED of one operation plus what that operation needs until its completion arrives.
 *
 * Lifetime rules (the whole point of steps 06 and 07):
 * - Starting an operation marks its context IN_PROGRESS *before* the Winsock call, as
 *   AsyncIO's StartOperation does: the completion may be dequeued on another thread before
 *   the call even returns.
 * - While a context is in progress the kernel owns its OVERLAPPED and buffer. Dispose must
 *   not free it: it marks it DISPOSED and the completion handler frees it later.
 * - A context that is not in progress is freed by dispose at once.
 * Both flags live in one LONG changed only with Interlocked operations, so whichever of
 * "complete" and "dispose" comes second sees the other's bit and frees: exactly once.
 */
#ifndef ASYNC_SOCKET_H
#define ASYNC_SOCKET_H

#include <winsock2.h>
#include <mswsock.h>
#include <windows.h>

#include <stdbool.h>

#include "registry.h"

typedef enum { OP_NONE, OP_ACCEPT, OP_RECEIVE, OP_SEND } io_operation;

const char *operation_name(io_operation operation);

/* The bits of io_context.state. */
enum { CONTEXT_IN_PROGRESS = 1, CONTEXT_DISPOSED = 2 };

typedef struct async_socket async_socket;

typedef struct io_context {
    OVERLAPPED overlapped; /* first: the OVERLAPPED* a completion hands back is the context */
    io_operation operation;
    volatile LONG state;   /* CONTEXT_IN_PROGRESS | CONTEXT_DISPOSED, Interlocked only */
    DWORD last_error;
    async_socket *owner;   /* kept alive by this context's reference */
    WSABUF wsabuf;
    char *buffer;
    DWORD capacity;
    ULONGLONG created_ms;
    ULONGLONG started_ms;  /* when the current operation started */
    tracked node;
} io_context;

struct async_socket {
    SOCKET handle;
    io_context *in;  /* accept and receive */
    io_context *out; /* send */
    /* One reference until dispose, plus one per live context, plus one per thread that
     * works on the socket: the object outlives every completion that can name it. */
    volatile LONG references;
    volatile LONG disposed;
    CRITICAL_SECTION lock; /* serialises completion handling and dispose */
    ULONGLONG created_ms;
    tracked node;
    void *user; /* the server's per-connection state, freed with the socket */
};

/* The smallest buffer a context gets: AcceptEx writes two addresses into the IN buffer. */
enum { ACCEPT_ADDRESS_SPACE = sizeof(SOCKADDR_STORAGE) + 16 };

/* Wraps an open socket (taking it over) or a new overlapped TCP socket (for AcceptEx), which
 * no child process inherits. Each context gets a buffer of buffer_size bytes; user_size
 * zeroed bytes go to ->user. Returns NULL when out of memory or sockets (an open handle is
 * then closed). */
async_socket *async_socket_wrap(SOCKET handle, DWORD buffer_size, size_t user_size);
async_socket *async_socket_open(DWORD buffer_size, size_t user_size);

/* Associates the socket with a completion port; completions carry key. */
bool async_socket_attach(async_socket *s, HANDLE port, ULONG_PTR key);

void async_socket_retain(async_socket *s);
void async_socket_release(async_socket *s);
void async_socket_lock(async_socket *s);
void async_socket_unlock(async_socket *s);
bool async_socket_is_disposed(async_socket *s);

/* Start an operation. 0: it started, and a completion packet will come (also when it
 * finished at once: no FILE_SKIP_COMPLETION_PORT_ON_SUCCESS here). Otherwise the error of
 * an immediate failure, for the caller to handle (AsyncIO threw a SocketException).
 * accept_ex is AcceptEx as WSAIoctl hands it out (async_socket_load_accept_ex). */
bool async_socket_load_accept_ex(SOCKET listener, LPFN_ACCEPTEX *accept_ex);
DWORD async_socket_accept(async_socket *accepted, SOCKET listener, LPFN_ACCEPTEX accept_ex);
DWORD async_socket_receive(async_socket *s, DWORD offset, DWORD length);
DWORD async_socket_send(async_socket *s, DWORD offset, DWORD length);

/* Frees the contexts that are idle, marks the others disposed, cancels what is pending and
 * closes the handle. Runs once; the caller holds the lock or is the socket's only user. */
void async_socket_dispose(async_socket *s);

/* The completion handler's first step: marks the operation complete and records its
 * error. Returns true when the context had been disposed and was freed now (the deferred
 * free): the caller must not touch it again. */
bool context_complete(io_context *context, DWORD error);

LONG context_state(io_context *context);

#endif
