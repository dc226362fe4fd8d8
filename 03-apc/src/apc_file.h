/* A file copy driven by completion routines: ReadFileEx and WriteFileEx.
 *
 * Instead of an event to wait for, each operation names a function for the system to call
 * when it is done. The system queues that call to the thread that started the operation,
 * and the thread runs it the next time it waits alertably (SleepEx(..., TRUE) here). */
#ifndef STEP03_APC_FILE_H
#define STEP03_APC_FILE_H

#include <stdbool.h>
#include <windows.h>

enum { APC_COPY_CHUNK = 64 * 1024 };

/* Copies the file at from to a new file at to (replaced if it exists), one chunk at a
 * time: each read's routine starts the write, each write's routine starts the next read.
 * Returns false with GetLastError set on failure. *routines_run (may be NULL) counts the
 * completion routines that ran. */
bool apc_copy_file(const char *from, const char *to, unsigned long *routines_run);

#endif
