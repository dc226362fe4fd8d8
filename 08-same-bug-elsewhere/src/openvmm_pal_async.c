#include "openvmm_pal_async.h"

#include <stdbool.h>

#include "case_kit.h"

/* snippet:begin issue */
void pal_issue_receive(pal_io *io, SOCKET s)
{
    WSABUF chunk = {sizeof io->buffer, io->buffer};
    DWORD flags = 0;
    ZeroMemory(&io->overlapped, sizeof io->overlapped);
    /* "Not done yet" until the kernel writes the end, as the system's own wrappers mark it
     * (Wine's ReadFile, DeviceIoControl and WSARecv, measured). */
    io->overlapped.Internal = STATUS_PENDING;
    io->state = PAL_ISSUED;
    io->handle = (HANDLE)s;
    int answer = kit_wsarecv(s, &chunk, &flags, &io->overlapped);
    DWORD error = answer == 0 ? 0 : (DWORD)WSAGetLastError();
    if (error == WSA_IO_PENDING || error == 0)
        return; /* no skip mode: a packet comes either way */
    /* Failed at once: no packet, and the kernel has written nothing into the OVERLAPPED. */
#ifdef WITH_FIX
    io->state = PAL_SYNC_ERROR;
    io->sync_error = error; /* the only place the result exists */
#else
    io->state = PAL_IDLE; /* "done": the result is in the OVERLAPPED, it assumes */
#endif
}
/* snippet:end issue */

void pal_completed(pal_io *io)
{
    io->state = PAL_IDLE;
}

/* The result, if the OVERLAPPED says the operation has ended. */
static bool try_complete(pal_io *io, DWORD *error, DWORD *bytes)
{
#ifdef WITH_FIX
    if (io->state == PAL_SYNC_ERROR) {
        *error = io->sync_error;
        *bytes = 0;
        io->state = PAL_IDLE;
        return true;
    }
#endif
    if (io->overlapped.Internal == STATUS_PENDING)
        return false;
    *error = GetOverlappedResult(io->handle, &io->overlapped, bytes, FALSE) ? 0 : GetLastError();
    return true;
}

/* snippet:begin poll */
pal_poll_result pal_poll(pal_io *io, DWORD *error, DWORD *bytes)
{
    if (try_complete(io, error, bytes))
        return PAL_READY;
    /* Not done, says the OVERLAPPED. If no packet is coming, nothing ever will be. */
    return io->state == PAL_ISSUED ? PAL_PENDING : PAL_PANIC;
}
/* snippet:end poll */
