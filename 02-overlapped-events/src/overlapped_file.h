/* Overlapped file reads, each with its own event.
 *
 * A handle opened with FILE_FLAG_OVERLAPPED never blocks in ReadFile: the call starts the
 * read and returns. The OVERLAPPED says where in the file to read (there is no file
 * position any more) and which event to signal when the read is done. */
#ifndef STEP02_OVERLAPPED_FILE_H
#define STEP02_OVERLAPPED_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <windows.h>

/* Opens an existing file for overlapped reading, or returns INVALID_HANDLE_VALUE. */
HANDLE file_open_overlapped(const char *path);

/* Reads up to length bytes at offset with one overlapped ReadFile and an event of its own,
 * then waits for that event and asks GetOverlappedResult for the outcome. Returns false
 * (GetLastError tells why) when the read fails. */
bool file_read_at(HANDLE file, ULONGLONG offset, void *buffer, DWORD length, DWORD *got);

/* The most reads file_read_whole keeps in flight: WaitForMultipleObjects watches at most
 * MAXIMUM_WAIT_OBJECTS (64) handles. */
enum { FILE_MAX_READS_IN_FLIGHT = MAXIMUM_WAIT_OBJECTS };

/* Reads the first size bytes of file into buffer in chunks of chunk bytes, keeping up to
 * in_flight reads outstanding at once, each with its own event. Returns false on a failed
 * read (GetLastError tells why). */
bool file_read_whole(HANDLE file, unsigned char *buffer, size_t size, DWORD chunk,
                     int in_flight);

#endif
