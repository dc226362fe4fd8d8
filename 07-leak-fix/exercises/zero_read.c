/* Exercise 07.4 (extend): zero-byte receives, as libuv does (see zero_read.h). Today
 * nothing waits for bytes and nothing reads them: write both functions. */
#include "zero_read.h"

#include <stdlib.h>

/* Posts a WSARecv of zero bytes on s's IN context, under step 07's rules (the context is
 * "in progress" before the call; a failure at once leaves nothing in progress). */
DWORD zero_read_start(async_socket *s)
{
    (void)s;
    return ERROR_CALL_NOT_IMPLEMENTED;
}

/* The packet came: complete the context first (it may be freed now); then read what has
 * arrived with recv, deliver it, and post the next zero read, or dispose. */
bool zero_read_completed(io_context *in, DWORD bytes, DWORD error)
{
    (void)bytes;
    context_complete(in, error);
    return false;
}
