#include "extension.h"

#include <mswsock.h>

#include "tutorial/errors.h"

/* snippet:begin load_extension */
/* AcceptEx, ConnectEx and the rest are Microsoft extensions to Winsock: the provider behind
 * the socket hands out their addresses. */
bool load_extension(SOCKET s, GUID id, void *function, size_t size)
{
    DWORD bytes = 0;
    if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, function,
                 (DWORD)size, &bytes, NULL, NULL) != 0) {
        report_error("WSAIoctl (SIO_GET_EXTENSION_FUNCTION_POINTER)", (DWORD)WSAGetLastError());
        return false;
    }
    return true;
}
/* snippet:end load_extension */
