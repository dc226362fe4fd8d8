/* Exercise 07.2 (extend): immediate failures routed through the completion port, as libuv
 * does, instead of being completed where they happen as step 07 does.
 *
 * The contract: every call of routed_receive or routed_send that returns 0 ends in EXACTLY
 * ONE completion packet on the port, and nothing else completes the operation:
 * - the call returned WSA_IO_PENDING, or succeeded at once: the kernel queues the packet
 *   (no FILE_SKIP_COMPLETION_PORT_ON_SUCCESS here);
 * - the call failed at once: no packet will come from the kernel, so the start function
 *   posts one (PostQueuedCompletionStatus), and the context stays "in progress" until that
 *   packet is handled. The packet must read like the kernel's packet for that socket: the
 *   socket's key, and the bytes a failed operation moved.
 * The completion handler is then the one place that completes contexts and disposes
 * sockets (in the checker: it calls context_complete, and disposes the socket on an error).
 *
 * Posting can fail too (the system is out of resources; the checker makes it fail from
 * outside, through the import layer's "post" rule). Then no packet comes at all, and
 * the start function must not leave the operation hanging: it completes the context itself
 * and returns the error, and its caller disposes the socket (the one case where the caller,
 * not the handler, cleans up).
 *
 * How the handler reads a packet's error: when GetQueuedCompletionStatus returns FALSE, from
 * GetLastError(); when it returns TRUE, from the context's last_error (starting an operation
 * sets it to 0). A posted packet always comes back TRUE, whatever it stands for. */
#ifndef ROUTED_START_H
#define ROUTED_START_H

#include "async_socket.h"

/* Start a receive (into the IN context's buffer) or a send (from the OUT context's buffer)
 * of length bytes on s, which is associated with port with the completion key key.
 * Returns 0 when one packet will come for the operation, or an error when none will (it
 * failed at once and its packet could not be posted; the context is complete then). */
DWORD routed_receive(async_socket *s, HANDLE port, ULONG_PTR key, DWORD length);
DWORD routed_send(async_socket *s, HANDLE port, ULONG_PTR key, DWORD length);

#endif
