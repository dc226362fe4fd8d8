/* A blocking echo server with one thread per client.
 *
 * One thread waits in accept(); every connection gets a thread of its own that waits in
 * recv(), sends back what came, and ends when the client closes its side. Simple, and
 * each client costs a whole thread (a stack, a kernel object, scheduling). */
#ifndef STEP01_SERVER_H
#define STEP01_SERVER_H

#include <stdbool.h>
#include <windows.h>

typedef struct server_counters {
    long clients;        /* connected now                                          */
    long threads;        /* threads the server runs now: the acceptor + one per client */
    long peak_threads;   /* the most it ever ran at once                           */
    long clients_served; /* connections accepted since the start                   */
    LONGLONG bytes_echoed;
} server_counters;

typedef struct server_config {
    unsigned short port; /* 0: any free port */
    /* Called whenever a client arrives or leaves (with the server's lock held, so the
     * calls come in order); may be NULL. */
    void (*on_change)(const server_counters *now, void *context);
    void *context;
} server_config;

typedef struct server server;

/* Listens on 127.0.0.1 and starts the accepting thread. NULL after reporting an error.
 * Winsock must be started (net_startup). */
server *server_start(const server_config *config);

unsigned short server_port(const server *srv);

server_counters server_counters_now(server *srv);

/* Waits until the server runs exactly `threads` threads; false after timeout_ms. */
bool server_wait_for_threads(server *srv, long threads, DWORD timeout_ms);

/* Stops accepting, closes every client's connection (which wakes its thread from recv),
 * waits for every thread to finish and frees everything. The counters as they were at
 * the end go to *last (may be NULL). */
void server_stop(server *srv, server_counters *last);

#endif
