#include "server.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tutorial/errors.h"
#include "tutorial/net.h"

enum { BUFFER_SIZE = 64 * 1024 };

/* One connection and its one operation in flight. While it is pending, the system owns
 * `overlapped` and `buffer`; the routine that ends it is the only place that may free
 * the client (or the caller, when the operation failed at once and nothing started). */
typedef struct client {
    WSAOVERLAPPED overlapped; /* hEvent unused: the routine is the notification */
    SOCKET socket;
    struct server *owner;
    struct client *previous, *next; /* the server's list, for the shutdown */
    DWORD filled;                   /* bytes the last receive brought, to echo */
    DWORD sent;                     /* bytes of those sent back so far */
    char buffer[BUFFER_SIZE];
} client;

/* Everything but the counters is touched only by the server's thread: the routines and
 * the stop APC run on it, so they need no locks. */
struct server {
    SOCKET listener;
    unsigned short port;
    WSAEVENT accept_event;
    HANDLE thread;
    bool stopping;
    client *clients;
    volatile LONG accepted, live_clients, routines_run;
    volatile LONG64 bytes_echoed;
};

static void CALLBACK on_received(DWORD error, DWORD bytes, WSAOVERLAPPED *overlapped,
                                 DWORD flags);
static void CALLBACK on_sent(DWORD error, DWORD bytes, WSAOVERLAPPED *overlapped, DWORD flags);

/* ---- operations -------------------------------------------------------------------- */

/* snippet:begin started */
/* The three outcomes of starting an operation with a completion routine. */
static bool started(int result)
{
    if (result == 0)
        return true; /* done at once, and the routine is queued all the same */
    /* WSA_IO_PENDING: the routine runs when it completes. Anything else: it failed at
     * once, the routine will never run, and the caller must clean up now. */
    return WSAGetLastError() == WSA_IO_PENDING;
}
/* snippet:end started */

/* snippet:begin post_receive */
static bool post_receive(client *c)
{
    WSABUF whole = {(ULONG)sizeof c->buffer, c->buffer};
    DWORD flags = 0;
    memset(&c->overlapped, 0, sizeof c->overlapped);
    return started(WSARecv(c->socket, &whole, 1, NULL, &flags, &c->overlapped, on_received));
}
/* snippet:end post_receive */

static bool post_send(client *c)
{
    WSABUF rest = {c->filled - c->sent, c->buffer + c->sent};
    memset(&c->overlapped, 0, sizeof c->overlapped);
    return started(WSASend(c->socket, &rest, 1, NULL, 0, &c->overlapped, on_sent));
}

/* ---- the client list --------------------------------------------------------------- */

/* Only for a client with no operation pending. */
static void close_client(client *c)
{
    server *srv = c->owner;
    if (c->previous != NULL)
        c->previous->next = c->next;
    else
        srv->clients = c->next;
    if (c->next != NULL)
        c->next->previous = c->previous;
    InterlockedDecrement(&srv->live_clients);
    closesocket(c->socket);
    free(c);
}

static void add_client(server *srv, SOCKET s)
{
    client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        closesocket(s);
        return;
    }
    c->socket = s;
    c->owner = srv;
    c->next = srv->clients;
    if (srv->clients != NULL)
        srv->clients->previous = c;
    srv->clients = c;
    InterlockedIncrement(&srv->accepted);
    InterlockedIncrement(&srv->live_clients);
    if (!post_receive(c))
        close_client(c); /* failed at once: no routine will ever run for it */
}

/* ---- the routines ------------------------------------------------------------------ */

/* snippet:begin ending */
/* Both routines start the same way: find the client, count, and stop early when the
 * operation failed or the server is shutting down. */
static client *ending(WSAOVERLAPPED *overlapped, DWORD error, bool *go_on)
{
    client *c = CONTAINING_RECORD(overlapped, client, overlapped);
    InterlockedIncrement(&c->owner->routines_run);
    *go_on = error == 0 && !c->owner->stopping;
    return c;
}
/* snippet:end ending */

/* snippet:begin on_received */
/* Runs on the server's thread, inside its alertable wait. */
static void CALLBACK on_received(DWORD error, DWORD bytes, WSAOVERLAPPED *overlapped,
                                 DWORD flags)
{
    (void)flags;
    bool go_on;
    client *c = ending(overlapped, error, &go_on);
    if (!go_on || bytes == 0) { /* failed, stopping, or the client closed its side */
        close_client(c);
        return;
    }
    c->filled = bytes;
    c->sent = 0;
    if (!post_send(c))
        close_client(c);
}
/* snippet:end on_received */

static void CALLBACK on_sent(DWORD error, DWORD bytes, WSAOVERLAPPED *overlapped, DWORD flags)
{
    (void)flags;
    bool go_on;
    client *c = ending(overlapped, error, &go_on);
    if (!go_on) {
        close_client(c);
        return;
    }
    c->sent += bytes;
    InterlockedExchangeAdd64(&c->owner->bytes_echoed, bytes);
    bool again = c->sent < c->filled ? post_send(c) : post_receive(c);
    if (!again)
        close_client(c);
}

/* ---- the loop ---------------------------------------------------------------------- */

/* A socket accept() returns inherits the listener's WSAEventSelect and its non-blocking
 * mode; the client's own operations need neither. */
static void make_plain(SOCKET s)
{
    u_long blocking = 0;
    WSAEventSelect(s, NULL, 0);
    ioctlsocket(s, FIONBIO, &blocking);
}

static void accept_clients(server *srv)
{
    WSANETWORKEVENTS happened;
    WSAEnumNetworkEvents(srv->listener, srv->accept_event, &happened); /* resets the event */
    for (;;) {
        SOCKET s = accept(srv->listener, NULL, NULL); /* non-blocking: WSAEWOULDBLOCK ends it */
        if (s == INVALID_SOCKET)
            return;
        make_plain(s);
        add_client(srv, s);
    }
}

/* snippet:begin stop_apc */
/* Queued by server_stop with QueueUserAPC; runs on the server's thread in its wait. */
static void CALLBACK stop_serving(ULONG_PTR argument)
{
    server *srv = (server *)argument;
    srv->stopping = true;
}
/* snippet:end stop_apc */

/* snippet:begin close_all */
/* Cancels every client's operation, then waits alertably until each one's routine has run
 * and freed it. Only this thread can do it: the routines of its I/O run nowhere else. */
static void close_all_clients(server *srv)
{
    for (client *c = srv->clients; c != NULL; c = c->next)
        CancelIoEx((HANDLE)c->socket, &c->overlapped); /* its routine runs with an error */
    while (srv->clients != NULL)
        SleepEx(INFINITE, TRUE);
}
/* snippet:end close_all */

/* How often an idle server looks at its listener even with no FD_ACCEPT (see serve). */
enum { ACCEPT_RECHECK_MS = 100 };

/* snippet:begin serve */
static DWORD WINAPI serve(void *argument)
{
    server *srv = argument;
    while (!srv->stopping) {
        /* fAlertable TRUE: queued routines (and the stop APC) run inside this call. The
         * timeout is for Wine 8, which can lose an FD_ACCEPT when many clients connect at
         * once; a non-blocking accept with nobody waiting costs one call. */
        DWORD woke = WSAWaitForMultipleEvents(1, &srv->accept_event, FALSE, ACCEPT_RECHECK_MS,
                                              TRUE);
        if (woke == WSA_WAIT_EVENT_0 || woke == WSA_WAIT_TIMEOUT) {
            accept_clients(srv);
        } else if (woke != WSA_WAIT_IO_COMPLETION) {
            report_error("WSAWaitForMultipleEvents", (DWORD)WSAGetLastError());
            break;
        }
    }
    close_all_clients(srv);
    return 0;
}
/* snippet:end serve */

/* ---- start and stop ---------------------------------------------------------------- */

static void free_server(server *srv)
{
    if (srv->listener != INVALID_SOCKET)
        closesocket(srv->listener);
    if (srv->accept_event != WSA_INVALID_EVENT)
        WSACloseEvent(srv->accept_event);
    free(srv);
}

server *server_start(const server_config *config)
{
    server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    srv->accept_event = WSACreateEvent();
    srv->listener = net_listen_loopback(config->port, &srv->port);
    if (srv->listener == INVALID_SOCKET || srv->accept_event == WSA_INVALID_EVENT) {
        free_server(srv);
        return NULL;
    }
    if (WSAEventSelect(srv->listener, srv->accept_event, FD_ACCEPT) != 0) {
        report_error("WSAEventSelect", (DWORD)WSAGetLastError());
        free_server(srv);
        return NULL;
    }
    srv->thread = CreateThread(NULL, 0, serve, srv, 0, NULL);
    if (srv->thread == NULL) {
        report_error("CreateThread", GetLastError());
        free_server(srv);
        return NULL;
    }
    return srv;
}

unsigned short server_port(const server *srv)
{
    return srv->port;
}

server_counters server_counters_now(server *srv)
{
    server_counters now;
    now.accepted = InterlockedCompareExchange(&srv->accepted, 0, 0);
    now.clients = InterlockedCompareExchange(&srv->live_clients, 0, 0);
    now.routines_run = InterlockedCompareExchange(&srv->routines_run, 0, 0);
    now.bytes_echoed = InterlockedCompareExchange64(&srv->bytes_echoed, 0, 0);
    return now;
}

/* snippet:begin server_stop */
void server_stop(server *srv, server_counters *final)
{
    QueueUserAPC(stop_serving, srv->thread, (ULONG_PTR)srv);
    WaitForSingleObject(srv->thread, INFINITE); /* it closes and frees every client */
    CloseHandle(srv->thread);
    if (final != NULL)
        *final = server_counters_now(srv);
    free_server(srv);
}
/* snippet:end server_stop */
