/* Exercise 08.2 (find the bug): a watch freed while its packet is still to come. */
#include "buggy_watch.h"

#include "case_kit.h"

static void watch_free(watch *w)
{
    closesocket(w->socket);
    kit_free(w);
}

static void watch_start(watch *w)
{
    WSABUF chunk = {sizeof w->buffer, w->buffer};
    DWORD flags = 0;
    ZeroMemory(&w->overlapped, sizeof w->overlapped);
    w->running = true; /* before the call: a packet may be dequeued before it returns */
    if (WSARecv(w->socket, &chunk, 1, NULL, &flags, &w->overlapped, NULL) != 0 &&
        WSAGetLastError() != WSA_IO_PENDING)
        w->running = false; /* failed at once: no packet will come */
}

watch *watch_open(HANDLE port, SOCKET s)
{
    watch *w = kit_alloc(sizeof *w);
    if (w == NULL)
        return NULL;
    w->socket = s;
    if (CreateIoCompletionPort((HANDLE)s, port, 0, 0) == NULL) {
        kit_free(w);
        return NULL;
    }
    watch_start(w);
    return w;
}

void watch_on_packet(watch *w, DWORD bytes, DWORD error)
{
    w->running = false;
    if (w->closing) {
        watch_free(w); /* the packet close was waiting for */
        return;
    }
    if (error == 0 && bytes > 0) {
        w->notifications++;
        watch_start(w);
    }
}

void watch_close(watch *w)
{
    w->closing = true;
    if (CancelIoEx((HANDLE)w->socket, &w->overlapped))
        return; /* the cancelled receive ends with a packet, and its handler frees */
    /* Nothing to cancel, so nothing is running and no packet will come: free it now. */
    watch_free(w);
}
