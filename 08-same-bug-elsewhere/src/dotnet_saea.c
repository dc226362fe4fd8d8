#include "dotnet_saea.h"

#include "case_kit.h"

saea *saea_new(SOCKET s)
{
    saea *e = kit_alloc(sizeof *e);
    e->socket = s;
    e->preallocated = kit_alloc(sizeof *e->preallocated);
    SetFileCompletionNotificationModes((HANDLE)s, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS);
    return e;
}

static void free_everything(saea *e)
{
    kit_free(e->preallocated);
    kit_free(e);
}

void saea_dispose(saea *e)
{
    e->dispose_called = true;
    if (InterlockedCompareExchange(&e->operating, 0, 0) == 0)
        free_everything(e);
    /* else: in flight; complete() will free it */
}

/* The operation is over: from here on, a pending dispose may free e. */
static void complete(saea *e, DWORD bytes)
{
    e->bytes = bytes;
    InterlockedExchange(&e->operating, 0);
    if (e->dispose_called)
        free_everything(e);
}

/* Gives the OVERLAPPED back to the preallocated object (.NET: FreeNativeOverlapped). */
static void free_native_overlapped(saea *e)
{
    e->preallocated->in_use = false;
}

void saea_on_packet(saea *e, DWORD bytes, DWORD error)
{
    (void)error;
    free_native_overlapped(e); /* this path always had the order right */
    complete(e, bytes);
}

/* snippet:begin send */
bool saea_send(saea *e, const char *data, DWORD size, DWORD *error)
{
    InterlockedExchange(&e->operating, 1);
    e->preallocated->in_use = true;
    ZeroMemory(&e->preallocated->overlapped, sizeof e->preallocated->overlapped);
    WSABUF chunk = {size, (char *)data};
    DWORD sent = 0;
    int answer = WSASend(e->socket, &chunk, 1, &sent, 0, &e->preallocated->overlapped, NULL);
    *error = answer == 0 ? 0 : (DWORD)WSAGetLastError();
    if (e->in_flight_hook != NULL)
        e->in_flight_hook(e); /* the owner disposes while the send is in flight */
    if (*error == WSA_IO_PENDING)
        return true; /* the packet completes it: saea_on_packet */
    /* Done (or failed) at once, and skip mode queues no packet: complete it here. */
#ifdef WITH_FIX
    free_native_overlapped(e); /* first give the OVERLAPPED back... */
    complete(e, sent);         /* ...then complete: e may be freed from here on */
#else
    complete(e, sent);         /* frees e if a dispose is pending... */
    free_native_overlapped(e); /* ...and this reads e->preallocated: use after free */
#endif
    return false;
}
/* snippet:end send */
