#include "buggy_reader.h"

#include <string.h>

/* A reader is its own per-I/O context: it holds the OVERLAPPED and the buffer of its one
 * pending receive. */
struct reader {
    OVERLAPPED overlapped; /* first: the checker watches it */
    SOCKET socket; /* INVALID_SOCKET once reader_stop has closed it */
    long bytes;
    char buffer[512];
};

/* Posts the next receive. Returns false when it failed at once: no packet will come. */
static bool post_receive(reader *r)
{
    memset(&r->overlapped, 0, sizeof r->overlapped);
    WSABUF wsabuf = {(ULONG)sizeof r->buffer, r->buffer};
    DWORD flags = 0;
    if (WSARecv(r->socket, &wsabuf, 1, NULL, &flags, &r->overlapped, NULL) == 0)
        return true; /* done at once: its packet is queued all the same */
    return WSAGetLastError() == WSA_IO_PENDING;
}

reader *reader_start(SOCKET s, HANDLE port)
{
    reader *r = reader_memory_alloc(sizeof *r);
    if (r == NULL) {
        closesocket(s);
        return NULL;
    }
    memset(r, 0, sizeof *r);
    r->socket = s;
    if (CreateIoCompletionPort((HANDLE)s, port, 0, 0) == NULL || !post_receive(r)) {
        closesocket(s);
        reader_memory_free(r); /* nothing was started: nobody else will free it */
        return NULL;
    }
    return r;
}

long reader_bytes(const reader *r)
{
    return r->bytes;
}

void reader_stop(reader *r)
{
    /* Cancel the pending receive and close the socket: the receive ends at once. */
    CancelIoEx((HANDLE)r->socket, &r->overlapped);
    closesocket(r->socket);
    r->socket = INVALID_SOCKET;
    reader_memory_free(r);
}

void reader_on_packet(OVERLAPPED *overlapped, BOOL ok, DWORD bytes)
{
    reader *r = CONTAINING_RECORD(overlapped, reader, overlapped);
    if (ok && bytes > 0) {
        r->bytes += (long)bytes;
        if (post_receive(r))
            return; /* pending again: the next packet brings r back */
    }
    /* The client closed its side or reset, the receive was cancelled, or the next one
     * failed at once: nothing is pending on r any more, so it ends here. */
    if (r->socket != INVALID_SOCKET)
        closesocket(r->socket);
    reader_memory_free(r);
}
