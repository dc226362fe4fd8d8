#include "tutorial/errors.h"

#include <stdio.h>
#include <string.h>
#include <winsock2.h>

#ifndef ERROR_HANDLES_CLOSED
#define ERROR_HANDLES_CLOSED 676L /* Wine ends I/O on a closed socket with it; old SDKs lack it */
#endif

typedef struct {
    DWORD code;
    const char *name;
} named_code;

static const named_code known_codes[] = {
    {ERROR_SUCCESS, "ERROR_SUCCESS"},
    {ERROR_FILE_NOT_FOUND, "ERROR_FILE_NOT_FOUND"},
    {ERROR_PATH_NOT_FOUND, "ERROR_PATH_NOT_FOUND"},
    {ERROR_ACCESS_DENIED, "ERROR_ACCESS_DENIED"},
    {ERROR_HANDLE_EOF, "ERROR_HANDLE_EOF"},
    {ERROR_INVALID_HANDLE, "ERROR_INVALID_HANDLE"},
    {ERROR_INVALID_PARAMETER, "ERROR_INVALID_PARAMETER"},
    {ERROR_NOT_FOUND, "ERROR_NOT_FOUND"},
    {ERROR_IO_PENDING, "ERROR_IO_PENDING"},
    {ERROR_IO_INCOMPLETE, "ERROR_IO_INCOMPLETE"},
    {ERROR_OPERATION_ABORTED, "ERROR_OPERATION_ABORTED"},
    {ERROR_NETNAME_DELETED, "ERROR_NETNAME_DELETED"},
    {ERROR_UNEXP_NET_ERR, "ERROR_UNEXP_NET_ERR"},
    {ERROR_HANDLES_CLOSED, "ERROR_HANDLES_CLOSED"},
    {ERROR_CONNECTION_ABORTED, "ERROR_CONNECTION_ABORTED"},
    {ERROR_CONNECTION_REFUSED, "ERROR_CONNECTION_REFUSED"},
    {ERROR_ABANDONED_WAIT_0, "ERROR_ABANDONED_WAIT_0"},
    {ERROR_NOT_ENOUGH_MEMORY, "ERROR_NOT_ENOUGH_MEMORY"},
    {ERROR_NO_SYSTEM_RESOURCES, "ERROR_NO_SYSTEM_RESOURCES"},
    {ERROR_NOACCESS, "ERROR_NOACCESS"},
    {WAIT_TIMEOUT, "WAIT_TIMEOUT"},
    {WAIT_IO_COMPLETION, "WAIT_IO_COMPLETION"},
    {WSAEINTR, "WSAEINTR"},
    {WSAEWOULDBLOCK, "WSAEWOULDBLOCK"},
    {WSAEFAULT, "WSAEFAULT"},
    {WSAEINVAL, "WSAEINVAL"},
    {WSAENOTSOCK, "WSAENOTSOCK"},
    {WSAEADDRINUSE, "WSAEADDRINUSE"},
    {WSAECONNABORTED, "WSAECONNABORTED"},
    {WSAECONNRESET, "WSAECONNRESET"},
    {WSAENOTCONN, "WSAENOTCONN"},
    {WSAESHUTDOWN, "WSAESHUTDOWN"},
    {WSAETIMEDOUT, "WSAETIMEDOUT"},
    {WSAECONNREFUSED, "WSAECONNREFUSED"},
    {WSAEISCONN, "WSAEISCONN"},
    {WSAENOBUFS, "WSAENOBUFS"},
    {WSAENETDOWN, "WSAENETDOWN"},
    {WSAENETRESET, "WSAENETRESET"},
    {WSAEMFILE, "WSAEMFILE"},
    {WSAEINPROGRESS, "WSAEINPROGRESS"},
    {WSAEOPNOTSUPP, "WSAEOPNOTSUPP"},
    {WSAEMSGSIZE, "WSAEMSGSIZE"},
    {WSAEDISCON, "WSAEDISCON"},
    {WSANOTINITIALISED, "WSANOTINITIALISED"},
};

const char *error_name(DWORD code, char *buf, size_t size)
{
    /* ERROR_IO_PENDING and WSA_IO_PENDING are the same number (997), as are
     * ERROR_OPERATION_ABORTED and WSA_OPERATION_ABORTED (995). */
    for (size_t i = 0; i < sizeof known_codes / sizeof known_codes[0]; i++) {
        if (known_codes[i].code == code)
            return known_codes[i].name;
    }
    snprintf(buf, size, "error %lu", (unsigned long)code);
    return buf;
}

bool error_code_of(const char *name, DWORD *code)
{
    for (size_t i = 0; i < sizeof known_codes / sizeof known_codes[0]; i++) {
        if (strcmp(known_codes[i].name, name) == 0) {
            *code = known_codes[i].code;
            return true;
        }
    }
    return false;
}

const char *error_message(DWORD code, char *buf, size_t size)
{
    DWORD length = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                                  NULL, code, 0, buf, (DWORD)size, NULL);
    if (length == 0) {
        snprintf(buf, size, "unknown error");
        return buf;
    }
    while (length > 0 && (buf[length - 1] == '\n' || buf[length - 1] == '\r' ||
                          buf[length - 1] == ' ' || buf[length - 1] == '.'))
        buf[--length] = '\0';
    return buf;
}

void report_error(const char *what, DWORD code)
{
    char name[32], message[256];
    fprintf(stderr, "%s failed: %s (%lu): %s\n", what, error_name(code, name, sizeof name),
            (unsigned long)code, error_message(code, message, sizeof message));
}
