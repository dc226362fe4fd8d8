#include "apc_file.h"

#include <stdlib.h>

/* The whole state of a copy. While a read or write is pending the system owns
 * `overlapped` and `buffer`; the copy ends (and the job may be freed) only after the last
 * routine has run. */
typedef struct copy_job {
    OVERLAPPED overlapped; /* hEvent is unused: the routine is the notification */
    HANDLE from, to;
    ULONGLONG offset, size;
    DWORD error;
    bool done;
    unsigned long routines_run;
    unsigned char buffer[APC_COPY_CHUNK];
} copy_job;

/* snippet:begin helpers */
static void at_offset(OVERLAPPED *overlapped, ULONGLONG offset)
{
    ZeroMemory(overlapped, sizeof *overlapped);
    overlapped->Offset = (DWORD)offset;
    overlapped->OffsetHigh = (DWORD)(offset >> 32);
}

static void finish(copy_job *job, DWORD error)
{
    job->error = error;
    job->done = true;
}
/* snippet:end helpers */

static void CALLBACK on_read(DWORD error, DWORD bytes, OVERLAPPED *overlapped);
static void CALLBACK on_written(DWORD error, DWORD bytes, OVERLAPPED *overlapped);

/* snippet:begin start_read */
static void start_read(copy_job *job)
{
    if (job->offset == job->size) {
        finish(job, ERROR_SUCCESS);
        return;
    }
    ULONGLONG left = job->size - job->offset;
    DWORD length = left < APC_COPY_CHUNK ? (DWORD)left : APC_COPY_CHUNK;
    at_offset(&job->overlapped, job->offset);
    /* TRUE: on_read is queued to this thread, even if the read is done already.
     * FALSE: nothing was started and on_read will never run. */
    if (!ReadFileEx(job->from, job->buffer, length, &job->overlapped, on_read))
        finish(job, GetLastError());
}
/* snippet:end start_read */

/* snippet:begin on_read */
/* Runs on the copying thread, inside its SleepEx. */
static void CALLBACK on_read(DWORD error, DWORD bytes, OVERLAPPED *overlapped)
{
    copy_job *job = CONTAINING_RECORD(overlapped, copy_job, overlapped);
    job->routines_run++;
    if (error == ERROR_SUCCESS && bytes == 0)
        error = ERROR_HANDLE_EOF; /* the file shrank while we copied it */
    if (error != ERROR_SUCCESS) {
        finish(job, error);
        return;
    }
    at_offset(&job->overlapped, job->offset); /* the same place in the new file */
    if (!WriteFileEx(job->to, job->buffer, bytes, &job->overlapped, on_written))
        finish(job, GetLastError());
}
/* snippet:end on_read */

/* snippet:begin on_written */
static void CALLBACK on_written(DWORD error, DWORD bytes, OVERLAPPED *overlapped)
{
    copy_job *job = CONTAINING_RECORD(overlapped, copy_job, overlapped);
    job->routines_run++;
    if (error != ERROR_SUCCESS) {
        finish(job, error);
        return;
    }
    job->offset += bytes;
    start_read(job);
}
/* snippet:end on_written */

static bool open_both(copy_job *job, const char *from, const char *to)
{
    job->to = INVALID_HANDLE_VALUE;
    job->from = CreateFileA(from, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                            FILE_FLAG_OVERLAPPED, NULL);
    if (job->from == INVALID_HANDLE_VALUE)
        return false;
    job->to = CreateFileA(to, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_FLAG_OVERLAPPED,
                          NULL);
    LARGE_INTEGER size;
    if (job->to == INVALID_HANDLE_VALUE || !GetFileSizeEx(job->from, &size))
        return false;
    job->size = (ULONGLONG)size.QuadPart;
    return true;
}

/* snippet:begin copy_loop */
bool apc_copy_file(const char *from, const char *to, unsigned long *routines_run)
{
    copy_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return false;
    }
    bool opened = open_both(job, from, to);
    DWORD error = opened ? ERROR_SUCCESS : GetLastError();
    if (opened) {
        start_read(job);
        while (!job->done)
            SleepEx(INFINITE, TRUE); /* returns WAIT_IO_COMPLETION after a routine ran */
        error = job->error;
    }
    if (routines_run != NULL)
        *routines_run = job->routines_run;
    if (job->from != INVALID_HANDLE_VALUE)
        CloseHandle(job->from);
    if (job->to != INVALID_HANDLE_VALUE)
        CloseHandle(job->to);
    free(job);
    SetLastError(error);
    return error == ERROR_SUCCESS;
}
/* snippet:end copy_loop */
