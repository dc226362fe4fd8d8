#include "overlapped_file.h"

HANDLE file_open_overlapped(const char *path)
{
    return CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                       FILE_FLAG_OVERLAPPED, NULL);
}

/* An OVERLAPPED for a new operation: zeroed, with the file offset split in two halves and
 * the event the operation is to signal. */
static void prepare_overlapped(OVERLAPPED *overlapped, ULONGLONG offset, HANDLE event)
{
    ZeroMemory(overlapped, sizeof *overlapped);
    overlapped->Offset = (DWORD)offset;
    overlapped->OffsetHigh = (DWORD)(offset >> 32);
    overlapped->hEvent = event;
}

/* snippet:begin read_at */
bool file_read_at(HANDLE file, ULONGLONG offset, void *buffer, DWORD length, DWORD *got)
{
    HANDLE done = CreateEventA(NULL, TRUE, FALSE, NULL); /* manual reset, unsignalled */
    if (done == NULL)
        return false;
    OVERLAPPED overlapped;
    prepare_overlapped(&overlapped, offset, done);

    /* TRUE: finished already; FALSE with ERROR_IO_PENDING: started. Either way the event
     * is signalled when the read is done, so both cases go on the same way. */
    BOOL ok = ReadFile(file, buffer, length, NULL, &overlapped);
    if (ok || GetLastError() == ERROR_IO_PENDING) {
        /* bWait TRUE waits on overlapped.hEvent. Until it is signalled the system owns
         * `overlapped` and `buffer`: neither may go out of scope before this returns. */
        ok = GetOverlappedResult(file, &overlapped, got, TRUE);
    }
    DWORD error = GetLastError();
    CloseHandle(done);
    SetLastError(error);
    return ok != FALSE;
}
/* snippet:end read_at */

typedef struct read_slot {
    OVERLAPPED overlapped; /* hEvent: this slot's own event */
    bool busy;
} read_slot;

static bool start_read(HANDLE file, read_slot *slot, unsigned char *buffer, size_t size,
                       size_t *next_offset, DWORD chunk)
{
    size_t offset = *next_offset;
    DWORD length = size - offset < chunk ? (DWORD)(size - offset) : chunk;
    prepare_overlapped(&slot->overlapped, offset, slot->overlapped.hEvent);
    /* ReadFile resets the event as it starts the read. */
    if (!ReadFile(file, buffer + offset, length, NULL, &slot->overlapped) &&
        GetLastError() != ERROR_IO_PENDING)
        return false; /* failed at once: the event will never be signalled */
    slot->busy = true;
    *next_offset = offset + length;
    return true;
}

/* snippet:begin drain */
/* Waits for the reads still in flight: their buffers must not be freed before. */
static void drain(HANDLE file, read_slot *slots, int count)
{
    for (int i = 0; i < count; i++) {
        DWORD ignored;
        if (slots[i].busy)
            GetOverlappedResult(file, &slots[i].overlapped, &ignored, TRUE);
    }
}
/* snippet:end drain */

static int clamp_in_flight(int in_flight)
{
    if (in_flight < 1)
        return 1;
    return in_flight > FILE_MAX_READS_IN_FLIGHT ? FILE_MAX_READS_IN_FLIGHT : in_flight;
}

/* snippet:begin read_whole */
bool file_read_whole(HANDLE file, unsigned char *buffer, size_t size, DWORD chunk,
                     int in_flight)
{
    read_slot slots[FILE_MAX_READS_IN_FLIGHT] = {0};
    HANDLE events[FILE_MAX_READS_IN_FLIGHT];
    int count = clamp_in_flight(in_flight), busy = 0;
    size_t next_offset = 0;
    bool ok = true;
    for (int i = 0; i < count; i++) {
        events[i] = CreateEventA(NULL, TRUE, FALSE, NULL);
        slots[i].overlapped.hEvent = events[i];
        ok = ok && events[i] != NULL;
    }
    for (int i = 0; ok && i < count && next_offset < size; i++) {
        ok = start_read(file, &slots[i], buffer, size, &next_offset, chunk);
        busy += ok;
    }
    while (ok && busy > 0) {
        /* Which read finished? The index of the signalled event: events[i] is slots[i]'s. */
        DWORD which = WaitForMultipleObjects((DWORD)count, events, FALSE, INFINITE);
        if (which >= WAIT_OBJECT_0 + (DWORD)count)
            break; /* WAIT_FAILED */
        read_slot *slot = &slots[which - WAIT_OBJECT_0];
        DWORD got = 0;
        ok = GetOverlappedResult(file, &slot->overlapped, &got, FALSE) != FALSE;
        slot->busy = false;
        busy--;
        /* The next read on this slot resets the event as it starts; a slot left idle
         * must be reset here, or it would win every later wait. */
        ResetEvent(slot->overlapped.hEvent);
        if (ok && next_offset < size) {
            ok = start_read(file, slot, buffer, size, &next_offset, chunk);
            busy += ok;
        }
    }
    DWORD error = GetLastError();
    drain(file, slots, count);
    for (int i = 0; i < count; i++) {
        if (events[i] != NULL)
            CloseHandle(events[i]);
    }
    SetLastError(error);
    return ok && busy == 0;
}
/* snippet:end read_whole */
