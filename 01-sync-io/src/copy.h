/* A blocking file copy: the calling thread waits inside every ReadFile and WriteFile. */
#ifndef STEP01_COPY_H
#define STEP01_COPY_H

#include <windows.h>

/* What a copy did: how many bytes, and how many calls it took to move them. */
typedef struct copy_result {
    ULONGLONG bytes;
    unsigned long reads;  /* ReadFile calls, the last one being the 0-byte end of file */
    unsigned long writes; /* WriteFile calls                                         */
} copy_result;

enum { COPY_DEFAULT_CHUNK = 64 * 1024 };

/* Copies the file `from` to `to` (created, or truncated when it exists) in chunks of
 * chunk_size bytes. Returns ERROR_SUCCESS or the Windows error code of the call that
 * failed; *result holds what was done up to then. */
DWORD copy_file(const char *from, const char *to, DWORD chunk_size, copy_result *result);

#endif
