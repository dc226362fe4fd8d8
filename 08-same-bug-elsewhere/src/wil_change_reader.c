#include "wil_change_reader.h"

#include "case_kit.h"

/* The read, started again after each packet. The event is there for the destructor's wait
 * (GetOverlappedResult waits on it), and is reset before each start. The OVERLAPPED reads
 * "pending" from before the call until the kernel writes the read's end into it, as the
 * system's own wrappers leave it (Wine's ReadFile and WSARecv, measured): a call that
 * fails at once writes nothing, so it stays "pending". */
static DWORD start_io(wil_reader *reader)
{
    WSABUF chunk = {sizeof reader->buffer, reader->buffer};
    DWORD flags = 0;
    HANDLE event = reader->overlapped.hEvent;
    ZeroMemory(&reader->overlapped, sizeof reader->overlapped);
    reader->overlapped.hEvent = event;
    reader->overlapped.Internal = STATUS_PENDING;
    ResetEvent(event);
    if (kit_wsarecv(reader->watched, &chunk, &flags, &reader->overlapped) == 0)
        return 0;
    return (DWORD)WSAGetLastError();
}

static void reader_free(wil_reader *reader)
{
    if (reader->port != NULL)
        CloseHandle(reader->port);
    if (reader->overlapped.hEvent != NULL)
        CloseHandle(reader->overlapped.hEvent);
    kit_free(reader);
}

wil_reader *wil_reader_new(SOCKET s)
{
    wil_reader *reader = kit_alloc(sizeof *reader);
    if (reader == NULL)
        return NULL;
    reader->watched = s;
    reader->port = kit_port((HANDLE)s, 0);
    reader->overlapped.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    DWORD started = reader->port == NULL || reader->overlapped.hEvent == NULL
                        ? ERROR_INVALID_HANDLE
                        : start_io(reader);
    if (started != 0 && started != WSA_IO_PENDING) {
        reader_free(reader);
        return NULL;
    }
    return reader;
}

/* snippet:begin dispatch */
bool wil_reader_dispatch(wil_reader *reader, DWORD timeout_ms)
{
    OVERLAPPED *done;
    DWORD bytes, error;
    if (!kit_dequeue(reader->port, timeout_ms, &done, &bytes, &error))
        return false;
    if (error == 0 && bytes > 0) {
        reader->notifications++; /* the callback */
        start_io(reader);        /* "ignoring failure here": no read runs after a failure */
    }
    return true;
}
/* snippet:end dispatch */

/* snippet:begin close */
bool wil_reader_close(wil_reader *reader, DWORD patience_ms)
{
    bool finished = true;
    BOOL cancelled = CancelIoEx((HANDLE)reader->watched, &reader->overlapped);
#ifdef WITH_FIX
    /* ERROR_NOT_FOUND: no read of ours is running. Its last start failed at once, or it
     * has finished and its packet is queued (collected below): no packet is still to come. */
    if (cancelled || GetLastError() != ERROR_NOT_FOUND)
#else
    (void)cancelled;
#endif
    {
        /* Wait until the cancelled read lets go of the OVERLAPPED: for ever, in WIL. */
        DWORD bytes;
        if (!GetOverlappedResultEx((HANDLE)reader->watched, &reader->overlapped, &bytes,
                                   patience_ms, FALSE))
            finished = GetLastError() != WAIT_TIMEOUT;
    }
    /* Take the packets already queued (WIL has its thread pool wait for, or cancel, the
     * callbacks not yet run: WaitForThreadpoolIoCallbacks). */
    OVERLAPPED *done;
    DWORD bytes, error;
    while (kit_dequeue(reader->port, 0, &done, &bytes, &error))
        continue;
    closesocket(reader->watched);
    reader_free(reader);
    return finished;
}
/* snippet:end close */
