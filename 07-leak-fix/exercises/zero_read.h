/* Exercise 07.4 (extend), the course's capstone: zero-byte receives, as libuv does.
 *
 * A receive that waits holds its buffer: the kernel may write into it at any moment, so it
 * must exist until the packet comes. With a 4 KiB buffer per connection, 10,000 idle
 * connections hold 40 MiB that nobody reads. libuv (src/win/tcp.c) waits differently: it
 * posts a WSARecv of ZERO bytes, whose packet says only "something has arrived", and then
 * reads what is there with a non-blocking receive into a buffer it takes for that moment.
 * An idle connection holds no receive buffer at all.
 *
 * The contract (the checker drives every outcome of every call below):
 * - zero_read_start posts a WSARecv with one empty buffer (length 0) on s's IN context,
 *   under step 07's rules: the context is "in progress" BEFORE the call (its packet may be
 *   dequeued on another thread before the call returns); done at once or pending: 0, and
 *   the packet comes; failed at once: no packet will ever come, so the context must end
 *   idle (complete it) and the error goes back to the caller, who disposes the socket.
 * - zero_read_completed handles that packet. First, as every completion in step 07, it
 *   completes the context: when the socket was disposed while the receive waited, that
 *   frees the context (and maybe the socket), and nothing may be touched after. Otherwise:
 *   - the packet's error is not 0: the connection is over: dispose it;
 *   - it succeeded: its byte count is 0, ALWAYS (nothing was asked for): it is no end of
 *     stream. Read what has arrived with recv() on s->handle, which is non-blocking
 *     (ioctlsocket FIONBIO, set by whoever wrapped the socket, as libuv does), into a
 *     buffer of ZERO_READ_CHUNK bytes that exists only while it holds bytes: the socket
 *     object keeps no receive buffer, and nothing allocated here outlives the call. Hand
 *     each read's bytes on with zero_read_deliver, in order. Then:
 *       recv returned ZERO_READ_CHUNK bytes   more may be waiting: read again;
 *       fewer (a short read)                  all there was: post the next zero read
 *                                             (libuv does the same);
 *       WSAEWOULDBLOCK                        nothing (left) to read: a wake-up with
 *                                             nothing in it is normal; post the next
 *                                             zero read;
 *       0                                     the peer closed: dispose;
 *       any other error                       dispose.
 *     The next zero read can fail at once too: dispose then.
 * Returns true when the connection lives on with its next zero read pending, false when it
 * is gone (disposed here, or before: the packet freed it). After false the caller must not
 * touch the socket; the checker compares the answer with what is alive. */
#ifndef ZERO_READ_H
#define ZERO_READ_H

#include "async_socket.h"

/* How many bytes one non-blocking read asks for (libuv asks for 64 KiB). */
enum { ZERO_READ_CHUNK = 4096 };

/* Starts waiting for bytes on s (attached to a completion port). Returns 0 when a packet
 * will come, or the error of a call that failed at once (nothing is then in progress). */
DWORD zero_read_start(async_socket *s);

/* The packet of a zero-byte receive: in is the context it names, bytes and error what the
 * packet says (error 0: it succeeded). See above. */
bool zero_read_completed(io_context *in, DWORD bytes, DWORD error);

/* Given by the program (in the exercise: the checker): takes length bytes that arrived on
 * s, in order. It copies what it keeps: bytes need to live only during the call. */
void zero_read_deliver(async_socket *s, const char *bytes, DWORD length);

#endif
