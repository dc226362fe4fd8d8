/* A framed echo server on an I/O completion port, built like the incident's service: a pool
 * of worker threads, several AcceptEx calls outstanding, and async_socket objects whose
 * contexts follow AsyncIO's lifetime rules. Each request is a frame (4-byte big-endian
 * length, then the payload); the answer is the same frame. On every connection the server
 * first sends its greeting frame (NET_GREETING), as NetMQ's engine did, and starts reading
 * once it has gone out. One receive takes whatever has arrived into the connection's
 * buffer, and one send answers every whole frame in it. */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>

typedef struct server_config {
    unsigned short port;   /* 0: any free port                                  */
    int threads;           /* worker threads (0: 2)                             */
    int accepts;           /* AcceptEx calls kept outstanding (0: 8)             */
    unsigned long max_frame; /* a longer frame closes the connection (0: 65536;
                              * at most SERVER_MAX_FRAME) */
    int idle_ms;           /* the deadlines (0: none): dispose a connection whose receive or
                            * send waits longer, or whose frame is not whole this long
                            * after its first byte came */
} server_config;

enum { SERVER_MAX_THREADS = 64, SERVER_MAX_ACCEPTS = 256, SERVER_MAX_FRAME = 16 << 20 };

typedef struct server_counters {
    long accepted;           /* connections accepted                              */
    long failed_accepts;     /* accepts that completed with an error (reset in the backlog) */
    long resets;             /* connections that ended by a reset or an error     */
    long closed;             /* connections the client closed in order            */
    long frames;             /* frames echoed                                     */
    long oversized;          /* frames over max_frame (closed)                    */
    long idle_timeouts;      /* connections disposed because a receive waited too long */
    long stalled_sends;      /* ... because a send waited too long (a peer that does not read) */
    long slow_frames;        /* ... because a frame was not whole in time (a trickle) */
    long immediate_failures; /* operations that failed at once (no completion)    */
    long accepts_pending;    /* AcceptEx calls outstanding now (not a count: the pool) */
} server_counters;

typedef struct server server;

/* Listens on 127.0.0.1, starts the workers and posts the accepts; NULL after reporting an
 * error (a config out of range, or not one AcceptEx that could be posted). */
server *server_start(const server_config *config);
unsigned short server_port(const server *srv);
void server_get_counters(server *srv, server_counters *counters);

/* Closes the listener and every connection, waits (bounded) for the completions the
 * kernel still owes, stops the workers and frees the server. The counters as they stand
 * at the end go to *final (when not NULL). What it could not free is left in the
 * registry: the leak report. */
void server_stop(server *srv, server_counters *final);

#endif
