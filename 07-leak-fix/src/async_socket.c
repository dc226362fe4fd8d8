#include "async_socket.h"

#include <stdlib.h>

const char *operation_name(io_operation operation)
{
    switch (operation) {
    case OP_ACCEPT: return "accept";
    case OP_RECEIVE: return "receive";
    case OP_SEND: return "send";
    default: return "none";
    }
}

/* ---- contexts ------------------------------------------------------------------------ */

static io_context *context_new(async_socket *owner, DWORD buffer_size)
{
    io_context *context = calloc(1, sizeof *context);
    char *buffer = malloc(buffer_size);
    if (context == NULL || buffer == NULL) {
        free(context);
        free(buffer);
        return NULL;
    }
    context->owner = owner;
    context->buffer = buffer;
    context->capacity = buffer_size;
    context->created_ms = GetTickCount64();
    registry_add(&context->node, TRACKED_CONTEXT, sizeof *context + buffer_size);
    return context;
}

static void context_free(io_context *context)
{
    async_socket *owner = context->owner;
    registry_remove(&context->node);
    free(context->buffer);
    free(context);
    async_socket_release(owner); /* the context's reference */
}

LONG context_state(io_context *context)
{
    return InterlockedCompareExchange(&context->state, 0, 0); /* an atomic read */
}

/* snippet:begin start_operation */
/* AsyncIO's StartOperation: the flag goes up BEFORE the Winsock call, because once the
 * call is made the completion can be dequeued on another thread at any moment. */
static void context_start(io_context *context, io_operation operation)
{
    context->operation = operation;
    context->last_error = 0;
    context->started_ms = GetTickCount64();
    ZeroMemory(&context->overlapped, sizeof context->overlapped);
    InterlockedOr(&context->state, CONTEXT_IN_PROGRESS);
}
/* snippet:end start_operation */

/* snippet:begin complete_and_dispose */
bool context_complete(io_context *context, DWORD error)
{
    context->last_error = error;
    LONG before = InterlockedAnd(&context->state, ~CONTEXT_IN_PROGRESS);
    if (before & CONTEXT_DISPOSED) {
        context_free(context); /* dispose came first and left the free to us */
        return true;
    }
    return false;
}

static void context_dispose(io_context *context)
{
    LONG before = InterlockedOr(&context->state, CONTEXT_DISPOSED);
    if (!(before & CONTEXT_IN_PROGRESS))
        context_free(context); /* nothing in flight: nobody else will touch it */
    /* else: the kernel still owns it; context_complete frees it when its packet arrives */
}
/* snippet:end complete_and_dispose */

/* ---- sockets ------------------------------------------------------------------------- */

async_socket *async_socket_wrap(SOCKET handle, DWORD buffer_size, size_t user_size)
{
    if (buffer_size < 2 * ACCEPT_ADDRESS_SPACE)
        buffer_size = 2 * ACCEPT_ADDRESS_SPACE;
    async_socket *s = calloc(1, sizeof *s + user_size);
    if (s == NULL) {
        closesocket(handle);
        return NULL;
    }
    s->handle = handle;
    s->references = 1; /* the "not yet disposed" reference */
    s->created_ms = GetTickCount64();
    s->user = s + 1;
    InitializeCriticalSection(&s->lock);
    registry_add(&s->node, TRACKED_SOCKET, sizeof *s + user_size);
    async_socket_retain(s); /* one reference per context */
    async_socket_retain(s);
    s->in = context_new(s, buffer_size);
    s->out = context_new(s, buffer_size);
    if (s->in == NULL || s->out == NULL) {
        if (s->in == NULL)
            async_socket_release(s);
        if (s->out == NULL)
            async_socket_release(s);
        async_socket_dispose(s); /* frees the context that exists, then the socket */
        return NULL;
    }
    return s;
}

async_socket *async_socket_open(DWORD buffer_size, size_t user_size)
{
    SOCKET handle = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                               WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (handle == INVALID_SOCKET)
        return NULL;
    return async_socket_wrap(handle, buffer_size, user_size);
}

bool async_socket_attach(async_socket *s, HANDLE port, ULONG_PTR key)
{
    return CreateIoCompletionPort((HANDLE)s->handle, port, key, 0) == port;
}

void async_socket_retain(async_socket *s)
{
    InterlockedIncrement(&s->references);
}

void async_socket_release(async_socket *s)
{
    if (InterlockedDecrement(&s->references) != 0)
        return;
    DeleteCriticalSection(&s->lock);
    registry_remove(&s->node);
    free(s);
}

void async_socket_lock(async_socket *s)
{
    EnterCriticalSection(&s->lock);
}

void async_socket_unlock(async_socket *s)
{
    LeaveCriticalSection(&s->lock);
}

bool async_socket_is_disposed(async_socket *s)
{
    return InterlockedCompareExchange(&s->disposed, 0, 0) != 0;
}

/* ---- starting operations ------------------------------------------------------------- */

/* AcceptEx is a Microsoft extension to Winsock: the provider behind the socket hands out
 * its address. */
bool async_socket_load_accept_ex(SOCKET listener, LPFN_ACCEPTEX *accept_ex)
{
    GUID id = WSAID_ACCEPTEX;
    DWORD bytes = 0;
    return WSAIoctl(listener, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, accept_ex,
                    sizeof *accept_ex, &bytes, NULL, NULL) == 0;
}

DWORD async_socket_accept(async_socket *accepted, SOCKET listener, LPFN_ACCEPTEX accept_ex)
{
    io_context *in = accepted->in;
    context_start(in, OP_ACCEPT);
    DWORD received = 0;
    /* No receive data (0): a client that connects and sends nothing still completes the
     * accept. TRUE means it finished at once; its packet is queued all the same. */
    if (accept_ex(listener, accepted->handle, in->buffer, 0, ACCEPT_ADDRESS_SPACE,
                  ACCEPT_ADDRESS_SPACE, &received, &in->overlapped))
        return 0;
    DWORD error = (DWORD)WSAGetLastError();
    if (error == ERROR_IO_PENDING)
        return 0;
    in->last_error = error;
    context_complete(in, error); /* the fix: no completion will ever do it */
    return error;
}

/* snippet:begin receive */
DWORD async_socket_receive(async_socket *s, DWORD offset, DWORD length)
{
    io_context *in = s->in;
    context_start(in, OP_RECEIVE);
    in->wsabuf.buf = in->buffer + offset;
    in->wsabuf.len = length;
    DWORD flags = 0;
    if (WSARecv(s->handle, &in->wsabuf, 1, NULL, &flags, &in->overlapped, NULL) == 0)
        return 0; /* done at once; the completion packet is queued anyway */
    DWORD error = (DWORD)WSAGetLastError();
    if (error == WSA_IO_PENDING)
        return 0; /* started; the completion packet comes later */
    /* Any other error: the operation never started and no packet will ever come (for a
     * TCP socket: a datagram's WSAEMSGSIZE is a warning that still queues one). */
    in->last_error = error;
    /* The fix: nothing else will ever mark this operation complete, so do it here,
     * before the caller disposes the socket; dispose then frees the context. */
#ifdef PUBLISHED_FIX_SLIP
    context_complete(s->out, error); /* the published fix's slip: the SEND context */
#else
    context_complete(in, error);
#endif
    return error; /* the caller disposes the socket */
}
/* snippet:end receive */

DWORD async_socket_send(async_socket *s, DWORD offset, DWORD length)
{
    io_context *out = s->out;
    context_start(out, OP_SEND);
    out->wsabuf.buf = out->buffer + offset;
    out->wsabuf.len = length;
    if (WSASend(s->handle, &out->wsabuf, 1, NULL, 0, &out->overlapped, NULL) == 0)
        return 0;
    DWORD error = (DWORD)WSAGetLastError();
    if (error == WSA_IO_PENDING)
        return 0;
    out->last_error = error;
    context_complete(out, error); /* the fix */
    return error;
}

/* snippet:begin dispose */
void async_socket_dispose(async_socket *s)
{
    if (InterlockedExchange(&s->disposed, 1) != 0)
        return;
    if (s->in != NULL)
        context_dispose(s->in);
    if (s->out != NULL)
        context_dispose(s->out);
    /* Cancels what the kernel holds: each pending operation still completes, as cancelled
     * (ERROR_OPERATION_ABORTED) or, when it finished first, with its own result (Microsoft's
     * CancelIoEx page), and that completion frees its context. An operation that failed
     * at once is not held by the kernel: there is nothing to cancel. */
    CancelIoEx((HANDLE)s->handle, NULL);
    closesocket(s->handle);
    s->handle = INVALID_SOCKET;
    async_socket_release(s); /* the "not yet disposed" reference */
}
/* snippet:end dispose */
