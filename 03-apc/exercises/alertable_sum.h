/* Exercise 03.3 (extend): sum the bytes of a file with ReadFileEx, two reads at a time.
 *
 * The contract of sum_file_alertably, which the checker watches through the program's
 * imports (it does not read anything the function prints):
 * - the file is opened with FILE_FLAG_OVERLAPPED and closed before the function returns;
 * - every read is a ReadFileEx with a completion routine, of at most SUM_CHUNK bytes at
 *   its own offset (no ReadFile, no GetOverlappedResult);
 * - TWO reads are in flight whenever the file has bytes not yet asked for: two are started
 *   before the first wait, each with its own OVERLAPPED and its own buffer, and each
 *   routine that runs while bytes are left starts the next read before it returns (as
 *   apc_copy_file's routines do in step 03);
 * - the bytes are added up in the routines, which run on the calling thread;
 * - the calling thread waits only alertably and with no timeout (SleepEx(INFINITE, TRUE) or
 *   WaitForSingleObjectEx(..., INFINITE, TRUE)): a routine wakes it when there is work. It
 *   never waits while no read is in flight: no routine would ever wake it;
 * - on a failure the function returns the first error: a ReadFileEx that returned FALSE
 *   (its routine will never run), or the error a routine was called with. The other read
 *   may still be in flight then: its routine still writes into its OVERLAPPED and buffer,
 *   so the function returns only once every routine of a read it started has run. */
#ifndef ALERTABLE_SUM_H
#define ALERTABLE_SUM_H

#include <windows.h>

/* snippet:begin sum_file_alertably */
enum { SUM_CHUNK = 4096 };

/* Adds up the bytes of the file at path (each byte as a number from 0 to 255) into *sum.
 * Returns ERROR_SUCCESS, or the first error (then *sum is not meaningful). */
DWORD sum_file_alertably(const char *path, ULONGLONG *sum);
/* snippet:end sum_file_alertably */

#endif
