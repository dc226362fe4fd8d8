/* Step 03's echo server: one thread, overlapped WSARecv/WSASend with completion routines.
 *
 * Nothing waits on a per-client event any more: each operation names a routine, and the
 * system queues it to the thread that started the operation. The server's thread waits
 * alertably on the one event of the listener, so the routines run inside that wait. There
 * is no 62-client limit, but every routine runs on that one thread. */
#ifndef STEP03_SERVER_H
#define STEP03_SERVER_H

#include <winsock2.h>

enum { SERVER_DEFAULT_PORT = 7003 };

typedef struct server_config {
    unsigned short port; /* 0: any free port */
} server_config;

typedef struct server_counters {
    long accepted;          /* connections served                               */
    long clients;           /* clients being served now (their contexts alive)  */
    long routines_run;      /* completion routines run on the server's thread   */
    long long bytes_echoed;
} server_counters;

typedef struct server server;

/* Listens on 127.0.0.1 and serves on a thread of its own. Returns NULL after reporting
 * the error. Winsock must be started. */
server *server_start(const server_config *config);

unsigned short server_port(const server *s);

/* A snapshot of the counters (safe while the server runs). */
server_counters server_counters_now(server *s);

/* Queues the stop to the server's thread (QueueUserAPC), waits until that thread has
 * closed every client, freed it, and ended; frees the server and stores the last counters
 * in *final (may be NULL). */
void server_stop(server *s, server_counters *final);

#endif
