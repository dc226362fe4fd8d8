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
    /* The tutorial's own words, for when the system has none: Wine 8's FormatMessage has no
     * text for the Winsock codes (on Windows it has, as Microsoft's WSAGetLastError page
     * says, and error_message prefers it). */
    const char *words;
} named_code;

static const named_code known_codes[] = {
    {ERROR_SUCCESS, "ERROR_SUCCESS", NULL},
    {ERROR_FILE_NOT_FOUND, "ERROR_FILE_NOT_FOUND", NULL},
    {ERROR_PATH_NOT_FOUND, "ERROR_PATH_NOT_FOUND", NULL},
    {ERROR_ACCESS_DENIED, "ERROR_ACCESS_DENIED", NULL},
    {ERROR_HANDLE_EOF, "ERROR_HANDLE_EOF", NULL},
    {ERROR_INVALID_HANDLE, "ERROR_INVALID_HANDLE", NULL},
    {ERROR_INVALID_PARAMETER, "ERROR_INVALID_PARAMETER", NULL},
    {ERROR_NOT_FOUND, "ERROR_NOT_FOUND", NULL},
    {ERROR_IO_PENDING, "ERROR_IO_PENDING", NULL},
    {ERROR_IO_INCOMPLETE, "ERROR_IO_INCOMPLETE", NULL},
    {ERROR_OPERATION_ABORTED, "ERROR_OPERATION_ABORTED", NULL},
    {ERROR_NETNAME_DELETED, "ERROR_NETNAME_DELETED", NULL},
    {ERROR_UNEXP_NET_ERR, "ERROR_UNEXP_NET_ERR", NULL},
    {ERROR_HANDLES_CLOSED, "ERROR_HANDLES_CLOSED", NULL},
    {ERROR_CONNECTION_ABORTED, "ERROR_CONNECTION_ABORTED", NULL},
    {ERROR_CONNECTION_REFUSED, "ERROR_CONNECTION_REFUSED", NULL},
    {ERROR_ABANDONED_WAIT_0, "ERROR_ABANDONED_WAIT_0", NULL},
    {ERROR_NOT_ENOUGH_MEMORY, "ERROR_NOT_ENOUGH_MEMORY", NULL},
    {ERROR_NO_SYSTEM_RESOURCES, "ERROR_NO_SYSTEM_RESOURCES", NULL},
    {ERROR_NOACCESS, "ERROR_NOACCESS", NULL},
    {WAIT_TIMEOUT, "WAIT_TIMEOUT", NULL},
    {WAIT_IO_COMPLETION, "WAIT_IO_COMPLETION", NULL},
    {WSAEINTR, "WSAEINTR", "a blocking call was interrupted"},
    {WSAEWOULDBLOCK, "WSAEWOULDBLOCK", "not ready yet on a non-blocking socket; try again later"},
    {WSAEFAULT, "WSAEFAULT", "a pointer or length given to the call is not valid"},
    {WSAEINVAL, "WSAEINVAL", "an argument is not valid for this socket in its present state"},
    {WSAENOTSOCK, "WSAENOTSOCK", "the handle is not an open socket"},
    {WSAEADDRINUSE, "WSAEADDRINUSE", "the address is already in use"},
    {WSAECONNABORTED, "WSAECONNABORTED", "the connection was ended on this side"},
    {WSAECONNRESET, "WSAECONNRESET", "the peer reset the connection"},
    {WSAENOTCONN, "WSAENOTCONN", "the socket is not connected"},
    {WSAESHUTDOWN, "WSAESHUTDOWN", "that direction of the socket was shut down"},
    {WSAETIMEDOUT, "WSAETIMEDOUT", "the peer did not answer in time"},
    {WSAECONNREFUSED, "WSAECONNREFUSED", "nothing listens there: the connection was refused"},
    {WSAEISCONN, "WSAEISCONN", "the socket is already connected"},
    {WSAENOBUFS, "WSAENOBUFS", "no buffer space left for the socket"},
    {WSAENETDOWN, "WSAENETDOWN", "the network is down"},
    {WSAENETRESET, "WSAENETRESET", "the connection was broken by a network failure"},
    {WSAEMFILE, "WSAEMFILE", "no more sockets can be opened"},
    {WSAEINPROGRESS, "WSAEINPROGRESS", "a blocking call is still running"},
    {WSAEOPNOTSUPP, "WSAEOPNOTSUPP", "the socket does not support that operation"},
    {WSAEMSGSIZE, "WSAEMSGSIZE", "the message did not fit the buffer"},
    {WSAEDISCON, "WSAEDISCON", "the peer is closing the connection gracefully"},
    {WSANOTINITIALISED, "WSANOTINITIALISED", "WSAStartup has not been called"},
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

static const char *words_of(DWORD code, char *buf, size_t size)
{
    for (size_t i = 0; i < sizeof known_codes / sizeof known_codes[0]; i++) {
        if (known_codes[i].code == code && known_codes[i].words != NULL)
            return known_codes[i].words;
    }
    snprintf(buf, size, "the system has no message for this code");
    return buf;
}

const char *error_message(DWORD code, char *buf, size_t size)
{
    DWORD length = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                                  NULL, code, 0, buf, (DWORD)size, NULL);
    if (length == 0)
        return words_of(code, buf, size);
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
