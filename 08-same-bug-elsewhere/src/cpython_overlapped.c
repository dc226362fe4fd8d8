#include "cpython_overlapped.h"

#include <string.h>

#include "case_kit.h"

pyov *pyov_new(void)
{
    return kit_alloc(sizeof(pyov));
}

/* What the object holds, released by its type; afterwards it holds nothing. */
static void pyov_clear(pyov *ov)
{
    if (ov->type == PYOV_READ || ov->type == PYOV_WRITE) {
        kit_free(ov->buffer);
        ov->buffer = NULL;
    }
    ov->type = PYOV_NOT_STARTED;
}

/* snippet:begin read_file */
DWORD pyov_read_file(pyov *ov, HANDLE file, DWORD size)
{
    ov->type = PYOV_READ; /* from here on, dealloc knows there is a buffer to free */
    ov->handle = file;
    ov->buffer = kit_alloc(size);
    ov->size = size;
    DWORD error = ReadFile(file, ov->buffer, size, NULL, &ov->overlapped) ? 0 : GetLastError();
    if (error == 0 || error == ERROR_IO_PENDING)
        return error; /* the kernel holds the buffer until the packet comes */
    /* Failed at once: no packet will come, so nothing else will ever free the buffer. */
#ifdef WITH_FIX
    pyov_clear(ov); /* free it now, and forget it */
#else
    ov->type = PYOV_NOT_STARTED; /* "nothing to wait for" - and nothing to free: leaked */
#endif
    return error;
}
/* snippet:end read_file */

/* snippet:begin wsa_send_to */
DWORD pyov_wsa_send_to(pyov *ov, SOCKET s, const char *data, DWORD size,
                       const struct sockaddr_in *to)
{
    ov->type = PYOV_WRITE;
    ov->handle = (HANDLE)s;
    ov->buffer = kit_alloc(size); /* CPython pins the caller's buffer; here, a copy */
    memcpy(ov->buffer, data, size);
    ov->size = size;
    WSABUF chunk = {size, ov->buffer};
    int answer = WSASendTo(s, &chunk, 1, NULL, 0, (const struct sockaddr *)to, sizeof *to,
                           &ov->overlapped, NULL);
    DWORD error = answer == 0 ? 0 : (DWORD)WSAGetLastError();
    if (error == 0 || error == WSA_IO_PENDING)
        return error;
#ifdef WITH_FIX
    pyov_clear(ov);
#else
    ov->type = PYOV_NOT_STARTED; /* merged after the 2019 fix, without it: leaked again */
#endif
    return error;
}
/* snippet:end wsa_send_to */

DWORD pyov_result(pyov *ov, DWORD *bytes)
{
    *bytes = 0;
    return GetOverlappedResult(ov->handle, &ov->overlapped, bytes, FALSE) ? 0 : GetLastError();
}

/* snippet:begin dealloc */
void pyov_dealloc(pyov *ov)
{
    if (ov->type != PYOV_NOT_STARTED && !HasOverlappedIoCompleted(&ov->overlapped)) {
        /* Still the kernel's: cancel, and wait until it lets go of the buffer. */
        DWORD bytes;
        CancelIoEx(ov->handle, &ov->overlapped);
        GetOverlappedResult(ov->handle, &ov->overlapped, &bytes, TRUE);
    }
    pyov_clear(ov); /* frees what the type says: NOT_STARTED says "nothing" */
    kit_free(ov);
}
/* snippet:end dealloc */
