/* Step 05: an echo server on an I/O completion port that accepts with AcceptEx.
 *
 * A number of AcceptEx calls wait on the listening socket, each with a socket created
 * ahead of time; their completions arrive on the same port as every receive and send, so
 * the pool of worker threads does all the work: it takes over each accepted socket, posts
 * a new AcceptEx in place of the one that completed, and echoes every connection until
 * the client closes its side. The server runs in-process (tests start it on port 0 and
 * read its counters) or behind main.c (the step05-server program).
 */
#ifndef STEP05_SERVER_H
#define STEP05_SERVER_H

#include <winsock2.h>
#include <windows.h>

typedef struct server_config {
    unsigned short port; /* 127.0.0.1:port; 0 picks a free port             */
    int threads;         /* worker threads; 0: one per processor            */
    int accepts;         /* AcceptEx calls kept waiting; 0: the default     */
} server_config;

enum { SERVER_DEFAULT_ACCEPTS = 8 };

/* What the server has done so far; all counts since server_start. */
typedef struct server_counters {
    LONG accepted;        /* connections handed to the completion port       */
    LONG closed;          /* connections closed (client done, error or stop) */
    LONG live_contexts;   /* per-I/O contexts allocated and not yet freed    */
    LONG aborted;         /* completions of operations a close/cancel ended  */
    LONG failed_at_once;  /* AcceptEx, WSARecv, WSASend calls failed at once */
    LONG64 bytes_echoed;  /* bytes sent back                                 */
    LONG last_peer_port;  /* latest client's port (GetAcceptExSockaddrs)    */
} server_counters;

typedef struct server server;

/* Listens on 127.0.0.1, creates the port, starts the threads and posts the AcceptEx
 * calls. Returns NULL after reporting the error. Winsock must be started (net_startup). */
server *server_start(const server_config *config);

/* The port the server listens on (the real one when config->port was 0). */
unsigned short server_port(const server *srv);

/* The number of worker threads that wait on the completion port. */
int server_worker_count(const server *srv);

/* A snapshot of the counters (each read atomically, not all at one instant). */
void server_read_counters(server *srv, server_counters *counters);

/* Closes the listening socket (which aborts the outstanding AcceptEx calls) and every
 * connection, waits until the completion of every operation still pending has been
 * dequeued and its context freed, stops the workers and frees the server. The last
 * counters go to *final (live_contexts is 0 unless there is a bug). */
void server_stop(server *srv, server_counters *final);

#endif
