/* CPython's proactor event loop (Modules/overlapped.c), reduced: an overlapped object
 * that remembers which operation it started (its type) and the buffer that operation
 * uses, and frees that buffer, by type, when it is deallocated. */
#ifndef CPYTHON_OVERLAPPED_H
#define CPYTHON_OVERLAPPED_H

#include <winsock2.h>
#include <windows.h>

typedef enum { PYOV_NOT_STARTED, PYOV_READ, PYOV_WRITE } pyov_type;

typedef struct pyov {
    OVERLAPPED overlapped; /* first: the packet's OVERLAPPED pointer is the object */
    pyov_type type;
    HANDLE handle;
    char *buffer; /* READ: the bytes read into; WRITE: the bytes being sent */
    DWORD size;
} pyov;

pyov *pyov_new(void);

/* Start an operation: 0 (done at once; the packet still comes), ERROR_IO_PENDING (the
 * packet comes later) or the error of a call that failed at once (no packet comes). */
DWORD pyov_read_file(pyov *ov, HANDLE file, DWORD size);            /* the 2019 leak */
DWORD pyov_wsa_send_to(pyov *ov, SOCKET s, const char *data, DWORD size,
                       const struct sockaddr_in *to);               /* the 2025 leak */

/* What the packet said, once it has come (GetOverlappedResult, without waiting). */
DWORD pyov_result(pyov *ov, DWORD *bytes);

/* Deallocation: an operation still in flight is cancelled and waited for, then the
 * buffer its type says it holds is freed, then the object. */
void pyov_dealloc(pyov *ov);

#endif
