/* Exercise 06.2 (find the bug): the receive path of step 06, with its leak. Fix it here. */
#include "receive_path.h"

/* context_start of src/async_socket.c (static there): the flag goes up BEFORE the call,
 * because the completion can be dequeued on another thread before the call returns. */
static void start_receive(io_context *in)
{
    in->operation = OP_RECEIVE;
    in->last_error = 0;
    in->started_ms = GetTickCount64();
    ZeroMemory(&in->overlapped, sizeof in->overlapped);
    InterlockedOr(&in->state, CONTEXT_IN_PROGRESS);
}

DWORD receive_path_start(async_socket *s, DWORD offset, DWORD length)
{
    io_context *in = s->in;
    start_receive(in);
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
    return error; /* the caller disposes the socket */
}
