#include "dotnet_filestream.h"

#include "case_kit.h"

/* Whichever owner lets go last frees the operation. */
static void release(fs_operation *operation)
{
    if (InterlockedDecrement(&operation->owners) == 0) {
        CloseHandle(operation->overlapped.hEvent);
        kit_free(operation);
    }
}

/* snippet:begin read_sync */
DWORD fs_read_sync(HANDLE file, void *buffer, DWORD size, DWORD *read)
{
    fs_operation *operation = kit_alloc(sizeof *operation);
    operation->owners = 2; /* this call, and the packet the thread pool will dequeue */
    operation->overlapped.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
    DWORD error = 0;
    *read = 0;
    if (ReadFile(file, buffer, size, NULL, &operation->overlapped)
        || GetLastError() == ERROR_IO_PENDING) {
        /* Started: wait for it here; its packet still goes to the port. */
        if (!GetOverlappedResult(file, &operation->overlapped, read, TRUE))
            error = GetLastError();
    } else {
        error = GetLastError();
        /* Failed at once: no packet will come, so the thread pool will never release its
         * share. */
#ifdef WITH_FIX
        release(operation); /* release it here, for the packet that never comes */
#endif
    }
    release(operation); /* this call's share */
    return error;
}
/* snippet:end read_sync */

bool fs_thread_pool_step(HANDLE port, DWORD timeout_ms)
{
    OVERLAPPED *packet;
    DWORD bytes, error;
    if (!kit_dequeue(port, timeout_ms, &packet, &bytes, &error))
        return false;
    release((fs_operation *)packet); /* the packet's share */
    return true;
}
