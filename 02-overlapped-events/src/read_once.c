/* step02-read-once: one overlapped read, whole, before the chapter takes it apart.
 *
 *   step02-read-once FILE
 *
 * It opens FILE for overlapped I/O, starts one read of up to 64 KiB at offset 0, is free
 * while the read runs, then waits for the read's event and takes its result. */
#include <stdio.h>

#include <windows.h>

#include "tutorial/errors.h"

/* snippet:begin read_once */
static char buffer[64 * 1024]; /* the system's from ReadFile until the event is signalled */

static int read_once(HANDLE file)
{
    OVERLAPPED overlapped = {0};                              /* offset 0 */
    overlapped.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL); /* manual reset, unsignalled */
    if (overlapped.hEvent == NULL) {
        report_error("CreateEvent", GetLastError());
        return 1;
    }
    DWORD got = 0;
    BOOL ok = ReadFile(file, buffer, (DWORD)sizeof buffer, NULL, &overlapped);
    if (ok) {
        printf("ReadFile: done at once (its event is signalled all the same)\n");
    } else if (GetLastError() == ERROR_IO_PENDING) {
        printf("ReadFile: started; this thread is free until the event is signalled\n");
    } else {
        DWORD error = GetLastError(); /* it never started: no event will come */
        if (error != ERROR_HANDLE_EOF)
            report_error("ReadFile", error);
        CloseHandle(overlapped.hEvent);
        return error == ERROR_HANDLE_EOF ? 0 : 1;
    }
    /* TRUE: wait for the event. Only then are `overlapped` and `buffer` ours again. */
    ok = GetOverlappedResult(file, &overlapped, &got, TRUE);
    DWORD error = ok ? ERROR_SUCCESS : GetLastError();
    CloseHandle(overlapped.hEvent);
    if (!ok && error != ERROR_HANDLE_EOF) { /* the read started, and then failed */
        report_error("the read", error);
        return 1;
    }
    printf("read %lu bytes\n", (unsigned long)got);
    return 0;
}
/* snippet:end read_once */

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "step02-read-once: %s\nusage: step02-read-once FILE\n",
                argc != 2 ? "expected one argument, the file to read" : "takes no options");
        return 2;
    }
    HANDLE file = CreateFileA(argv[1], GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                              FILE_FLAG_OVERLAPPED, NULL); /* ReadFile on it never blocks */
    if (file == INVALID_HANDLE_VALUE) {
        report_error(argv[1], GetLastError());
        return 1;
    }
    int status = read_once(file);
    CloseHandle(file);
    return status;
}
