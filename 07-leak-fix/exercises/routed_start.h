/* Exercise 07.2 (redesign): immediate failures routed through the completion port, as
 * libuv does, instead of being completed where they happen as step 07 does.
 *
 * The contract: every call of routed_receive or routed_send ends in EXACTLY ONE completion
 * packet on the port, and nothing else completes the operation:
 * - the call returned WSA_IO_PENDING, or succeeded at once: the kernel queues the packet
 *   (no FILE_SKIP_COMPLETION_PORT_ON_SUCCESS here);
 * - the call failed at once: no packet will come from the kernel, so the start function
 *   must make one, and the context stays "in progress" until that packet is handled.
 * The completion handler is then the one place that completes contexts and disposes
 * sockets (in the checker: it calls context_complete, and disposes the socket on an error).
 *
 * How the handler reads a packet's error: when GetQueuedCompletionStatus returns FALSE, from
 * GetLastError(); when it returns TRUE, from the context's last_error (starting an operation
 * sets it to 0). A posted packet always comes back TRUE, whatever it stands for. */
#ifndef ROUTED_START_H
#define ROUTED_START_H

#include "async_socket.h"

/* Start a receive (into the IN context's buffer) or a send (from the OUT context's buffer)
 * of length bytes on s, which is associated with port with the key 0. */
void routed_receive(async_socket *s, HANDLE port, DWORD length);
void routed_send(async_socket *s, HANDLE port, DWORD length);

#endif
