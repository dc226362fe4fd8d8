/* Step 02's echo server: one thread, overlapped WSARecv/WSASend, one event per operation,
 * and one WSAWaitForMultipleEvents call that waits on all of them.
 *
 * Each client has exactly one operation in flight (a receive, or the send that echoes
 * it), so it needs one event. The wait also watches the stop event and the listener's
 * accept event, and it takes at most WSA_MAXIMUM_WAIT_EVENTS (64) events: 62 clients is
 * the most this design serves. A client beyond that gets "server full" and is closed. */
#ifndef STEP02_SERVER_H
#define STEP02_SERVER_H

#include <stdbool.h>
#include <winsock2.h>

enum {
    SERVER_STOP_SLOT,   /* events[0]: server_stop signals it                       */
    SERVER_ACCEPT_SLOT, /* events[1]: the listener has connections to accept       */
    SERVER_FIRST_CLIENT_SLOT,
    SERVER_MAX_CLIENTS = WSA_MAXIMUM_WAIT_EVENTS - SERVER_FIRST_CLIENT_SLOT, /* 62 */
    SERVER_DEFAULT_PORT = 7002
};

/* What a client beyond the limit receives before the server closes the connection. */
#define SERVER_FULL_MESSAGE "server full\n"

typedef struct server_config {
    unsigned short port;  /* 0: any free port */
    int max_clients;      /* 1..SERVER_MAX_CLIENTS; 0 means SERVER_MAX_CLIENTS */
} server_config;

typedef struct server_counters {
    long accepted;       /* connections served                              */
    long refused;        /* connections turned away: every slot was taken   */
    long clients;        /* clients being served now (their contexts alive) */
    long long bytes_echoed;
} server_counters;

typedef struct server server;

/* Listens on 127.0.0.1 and serves on a thread of its own. Returns NULL after reporting
 * the error. Winsock must be started. */
server *server_start(const server_config *config);

unsigned short server_port(const server *s);

/* A snapshot of the counters (safe while the server runs). */
server_counters server_counters_now(server *s);

/* Stops serving, closes every client (waiting for each one's operation to end before
 * freeing it), frees the server and stores the last counters in *final (may be NULL). */
void server_stop(server *s, server_counters *final);

#endif
