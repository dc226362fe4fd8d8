#include "copy.h"

#include <stdlib.h>

/* snippet:begin open_files */
/* No FILE_FLAG_OVERLAPPED: these handles are synchronous. Every ReadFile/WriteFile on
 * them returns only when the device has finished, and the system keeps the file
 * position for us. */
static HANDLE open_source(const char *path)
{
    return CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                       FILE_FLAG_SEQUENTIAL_SCAN, NULL);
}

static HANDLE create_destination(const char *path)
{
    return CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL,
                       NULL);
}
/* snippet:end open_files */

/* A synchronous WriteFile to a disk file writes everything or fails; the loop is for
 * devices (pipes, consoles) that may take less. */
static DWORD write_all(HANDLE file, const unsigned char *data, DWORD length,
                       copy_result *result)
{
    while (length > 0) {
        DWORD written = 0;
        result->writes++;
        if (!WriteFile(file, data, length, &written, NULL))
            return GetLastError();
        data += written;
        length -= written;
    }
    return ERROR_SUCCESS;
}

/* snippet:begin copy_loop */
static DWORD copy_contents(HANDLE source, HANDLE destination, unsigned char *buffer,
                           DWORD chunk_size, copy_result *result)
{
    for (;;) {
        DWORD got = 0;
        result->reads++;
        /* Does not return before the data is in `buffer`: copied from the file cache,
         * or read from the disk while the thread sleeps. */
        if (!ReadFile(source, buffer, chunk_size, &got, NULL))
            return GetLastError();
        if (got == 0)
            return ERROR_SUCCESS; /* a synchronous read at end of file: TRUE, 0 bytes */
        DWORD error = write_all(destination, buffer, got, result);
        if (error != ERROR_SUCCESS)
            return error;
        result->bytes += got;
    }
}
/* snippet:end copy_loop */

DWORD copy_file(const char *from, const char *to, DWORD chunk_size, copy_result *result)
{
    *result = (copy_result){0};
    unsigned char *buffer = malloc(chunk_size);
    if (buffer == NULL)
        return ERROR_NOT_ENOUGH_MEMORY;

    DWORD error = ERROR_SUCCESS;
    HANDLE source = open_source(from);
    if (source == INVALID_HANDLE_VALUE) {
        error = GetLastError(); /* the destination is not touched */
    } else {
        HANDLE destination = create_destination(to);
        if (destination == INVALID_HANDLE_VALUE) {
            error = GetLastError();
        } else {
            error = copy_contents(source, destination, buffer, chunk_size, result);
            CloseHandle(destination);
        }
        CloseHandle(source);
    }
    free(buffer);
    return error;
}
