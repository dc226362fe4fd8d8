#include "asyncio_cancel.h"

#include "case_kit.h"
#include "tutorial/fault_plan.h"

/* The outcome seam for CancelIoEx, operation "cancel": "fail:ERROR" fails it at once
 * without making it. Windows fails CancelIoEx(handle, NULL) with ERROR_NOT_FOUND when the
 * socket's operations have all finished, even while a packet is still queued; Wine 8
 * returns TRUE there, so the test plans Windows' answer. */
static BOOL planned_cancel_io_ex(HANDLE handle, OVERLAPPED *overlapped)
{
    fault_outcome outcome = fault_plan_take("cancel");
    if (outcome.kind == FAULT_FAIL) {
        SetLastError(outcome.value);
        return FALSE;
    }
    return CancelIoEx(handle, overlapped);
}

aio_socket *aio_socket_new(HANDLE port, SOCKET s)
{
    aio_socket *socket = kit_alloc(sizeof *socket);
    aio_context *in = kit_alloc(sizeof *in);
    aio_context *out = kit_alloc(sizeof *out);
    if (socket == NULL || in == NULL || out == NULL ||
        CreateIoCompletionPort((HANDLE)s, port, 0, 0) == NULL) {
        kit_free(socket);
        kit_free(in);
        kit_free(out);
        return NULL;
    }
    socket->handle = s;
    socket->in = in;
    socket->out = out;
    return socket;
}

static void context_complete(aio_context *context)
{
    InterlockedExchange(&context->in_progress, 0);
}

DWORD aio_receive(aio_socket *s)
{
    WSABUF chunk = {sizeof s->in->buffer, s->in->buffer};
    DWORD flags = 0;
    ZeroMemory(&s->in->overlapped, sizeof s->in->overlapped);
    InterlockedExchange(&s->in->in_progress, 1); /* before the call: the packet may come first */
    if (kit_wsarecv(s->handle, &chunk, &flags, &s->in->overlapped) == 0)
        return 0;
    DWORD error = (DWORD)WSAGetLastError();
    if (error != WSA_IO_PENDING)
        context_complete(s->in); /* the fork's first fix: no packet will come */
    return error;
}

/* Frees a context that is not in progress; one that is waits for its packet. */
static void context_dispose(aio_context *context)
{
    InterlockedExchange(&context->disposed, 1);
    if (InterlockedCompareExchange(&context->in_progress, 0, 0) == 0)
        kit_free(context);
}

/* snippet:begin dispose */
void aio_dispose(aio_socket *s)
{
    BOOL cancelled = planned_cancel_io_ex((HANDLE)s->handle, NULL);
#ifdef WITH_FIX
    (void)cancelled; /* no answer of CancelIoEx says that no packet is coming */
#else
    if (!cancelled) {
        /* ERROR_NOT_FOUND read as "nothing is pending": both may be freed. But an
         * operation that has finished has no request left to cancel either, and its
         * packet may still be in the queue. */
        context_complete(s->in);
        context_complete(s->out);
    }
#endif
    context_dispose(s->in);
    context_dispose(s->out);
    closesocket(s->handle);
    kit_free(s);
}
/* snippet:end dispose */

/* snippet:begin handle_completion */
bool aio_handle_completion(HANDLE port, DWORD timeout_ms)
{
    OVERLAPPED *done;
    DWORD bytes, error;
    if (!kit_dequeue(port, timeout_ms, &done, &bytes, &error))
        return false;
    aio_context *context = CONTAINING_RECORD(done, aio_context, overlapped);
    context->bytes = bytes; /* a context freed by dispose: the page heap stops here */
    context_complete(context);
    if (InterlockedCompareExchange(&context->disposed, 0, 0))
        kit_free(context); /* its socket is gone: the packet was the last one to wait for */
    return true;
}
/* snippet:end handle_completion */
