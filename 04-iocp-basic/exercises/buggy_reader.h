/* Exercise 04.3 (find the bug): a reader keeps one receive pending on a socket associated
 * with a completion port and counts the bytes that arrive, the way step04-server's
 * contexts do. Whoever owns the port dequeues the packets and hands each one to
 * reader_on_packet. Stopping a reader sometimes hands the kernel memory that is already
 * freed. Fix it in buggy_reader.c. */
#ifndef BUGGY_READER_H
#define BUGGY_READER_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>
#include <stddef.h>

typedef struct reader reader;

/* Takes over s (connected, overlapped), associates it with port and posts the first
 * receive. Returns NULL when that failed (s is closed then). */
reader *reader_start(SOCKET s, HANDLE port);

/* The bytes received so far. */
long reader_bytes(const reader *r);

/* Ends a reader that is still running (its client has not closed): closes its socket.
 * After this call the caller never touches r again; r's memory must be freed exactly once,
 * at a moment when the kernel no longer holds any part of it, and the socket closed
 * exactly once. The packet that ends the receive may be handed to reader_on_packet on
 * another thread as soon as the receive has ended, even before reader_stop returns. */
void reader_stop(reader *r);

/* One packet dequeued from the port for a reader: its OVERLAPPED, what
 * GetQueuedCompletionStatus returned, and the byte count. */
void reader_on_packet(OVERLAPPED *overlapped, BOOL ok, DWORD bytes);

/* The allocator for readers, provided by whoever links this file (the checker: it keeps
 * freed blocks aside and can tell when a packet points into one). */
void *reader_memory_alloc(size_t size);
void reader_memory_free(void *block);

#endif
