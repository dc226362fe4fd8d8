/* Exercise 07.3 (find the bug): one receive, two completions. */
#include "buggy_quick_receive.h"

bool quick_receive_attach(SOCKET s, HANDLE port)
{
    return CreateIoCompletionPort((HANDLE)s, port, (ULONG_PTR)s, 0) == port;
}

DWORD quick_receive_start(SOCKET s, HANDLE port, quick_receive *op)
{
    ZeroMemory(&op->overlapped, sizeof op->overlapped);
    op->wsabuf.buf = op->buffer;
    op->wsabuf.len = sizeof op->buffer;
    DWORD received = 0, flags = 0;
    if (WSARecv(s, &op->wsabuf, 1, &received, &flags, &op->overlapped, NULL) == 0) {
        /* The data was already there and the receive is done: hand the result to the
         * completion handler now, as a pending receive's packet would. */
        if (!PostQueuedCompletionStatus(port, received, (ULONG_PTR)s, &op->overlapped))
            return GetLastError();
        return 0;
    }
    DWORD error = (DWORD)WSAGetLastError();
    return error == WSA_IO_PENDING ? 0 : error;
}
