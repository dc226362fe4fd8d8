#include "server.h"

#include <stdlib.h>
#include <string.h>

#include "tutorial/errors.h"
#include "tutorial/net.h"

enum { BUFFER_SIZE = 64 * 1024 };

typedef enum { OP_RECEIVE, OP_SEND } operation;

/* One connection and its one operation in flight. While that operation is pending, the
 * system owns `overlapped` and `buffer`: the client is freed only after its event is
 * signalled (or after the operation failed at once, when nothing was started). */
typedef struct client {
    SOCKET socket;
    WSAOVERLAPPED overlapped; /* hEvent: the client's event, also in server.events */
    operation op;
    DWORD filled;             /* bytes the last receive brought, to echo   */
    DWORD sent;               /* bytes of those sent back so far           */
    char buffer[BUFFER_SIZE];
} client;

struct server {
    SOCKET listener;
    unsigned short port;
    int max_clients;
    HANDLE thread;
    /* Two parallel arrays: events[SERVER_FIRST_CLIENT_SLOT + k] is clients[k]'s event. */
    WSAEVENT events[WSA_MAXIMUM_WAIT_EVENTS];
    client *clients[SERVER_MAX_CLIENTS];
    int client_count;
    volatile LONG accepted, refused, live_clients;
    volatile LONG64 bytes_echoed;
};

/* ---- operations -------------------------------------------------------------------- */

/* snippet:begin start_helpers */
/* A fresh OVERLAPPED for the next operation; the event stays. */
static void reuse_overlapped(client *c)
{
    WSAEVENT event = c->overlapped.hEvent;
    memset(&c->overlapped, 0, sizeof c->overlapped);
    c->overlapped.hEvent = event;
}

/* The three outcomes of starting an overlapped operation, in one place. */
static bool started(int result)
{
    if (result == 0)
        return true; /* done at once, and the event is signalled all the same */
    /* WSA_IO_PENDING: started, the event is signalled when it completes. Anything else:
     * it failed at once, the event will never be signalled and nothing refers to the
     * OVERLAPPED: the caller closes the client now, or nobody ever will. */
    return WSAGetLastError() == WSA_IO_PENDING;
}
/* snippet:end start_helpers */

/* snippet:begin post_receive */
static bool post_receive(client *c)
{
    WSABUF whole = {(ULONG)sizeof c->buffer, c->buffer};
    DWORD flags = 0;
    reuse_overlapped(c);
    c->op = OP_RECEIVE;
    return started(WSARecv(c->socket, &whole, 1, NULL, &flags, &c->overlapped, NULL));
}
/* snippet:end post_receive */

static bool post_send(client *c)
{
    WSABUF rest = {c->filled - c->sent, c->buffer + c->sent};
    reuse_overlapped(c);
    c->op = OP_SEND;
    return started(WSASend(c->socket, &rest, 1, NULL, 0, &c->overlapped, NULL));
}

/* ---- the client table -------------------------------------------------------------- */

static void free_client(client *c)
{
    closesocket(c->socket);
    WSACloseEvent(c->overlapped.hEvent);
    free(c);
}

/* Only for a client with no operation pending. The last client moves into the freed
 * slot, so the events stay contiguous for the next wait: this is the bookkeeping that
 * one event per operation costs. */
static void close_client(server *srv, int k)
{
    client *c = srv->clients[k];
    int last = srv->client_count - 1;
    srv->clients[k] = srv->clients[last];
    srv->events[SERVER_FIRST_CLIENT_SLOT + k] = srv->events[SERVER_FIRST_CLIENT_SLOT + last];
    srv->client_count--;
    InterlockedDecrement(&srv->live_clients);
    free_client(c);
}

static void add_client(server *srv, SOCKET s)
{
    client *c = calloc(1, sizeof *c);
    WSAEVENT event = WSACreateEvent(); /* manual reset, unsignalled */
    if (c == NULL || event == WSA_INVALID_EVENT) {
        free(c);
        if (event != WSA_INVALID_EVENT)
            WSACloseEvent(event);
        closesocket(s);
        return;
    }
    c->socket = s;
    c->overlapped.hEvent = event;
    int k = srv->client_count++;
    srv->clients[k] = c;
    srv->events[SERVER_FIRST_CLIENT_SLOT + k] = event;
    InterlockedIncrement(&srv->accepted);
    InterlockedIncrement(&srv->live_clients);
    if (!post_receive(c))
        close_client(srv, k); /* failed at once: no event will come, close it now */
}

/* snippet:begin refuse */
/* Every slot is taken: a 63rd client would need a 65th event in the wait. Tell the client and close
 * at once, rather than leave it hanging in the listen backlog with no answer. */
static void refuse(server *srv, SOCKET s)
{
    InterlockedIncrement(&srv->refused);
    send(s, SERVER_FULL_MESSAGE, (int)strlen(SERVER_FULL_MESSAGE), 0);
    shutdown(s, SD_SEND);
    closesocket(s);
}
/* snippet:end refuse */

/* A socket accept() returns inherits the listener's WSAEventSelect and its non-blocking
 * mode; the client's own operations need neither. */
/* snippet:begin make_plain */
static void make_plain(SOCKET s)
{
    u_long blocking = 0;
    WSAEventSelect(s, NULL, 0);          /* first: no event selection any more */
    ioctlsocket(s, FIONBIO, &blocking); /* then: blocking again, as its calls expect */
}
/* snippet:end make_plain */

static void accept_clients(server *srv)
{
    WSANETWORKEVENTS happened;
    WSAEnumNetworkEvents(srv->listener, srv->events[SERVER_ACCEPT_SLOT], &happened);
    for (;;) {
        SOCKET s = accept(srv->listener, NULL, NULL); /* non-blocking: WSAEWOULDBLOCK ends it */
        if (s == INVALID_SOCKET)
            return;
        make_plain(s);
        if (srv->client_count == srv->max_clients)
            refuse(srv, s);
        else
            add_client(srv, s);
    }
}

/* ---- the loop ---------------------------------------------------------------------- */

/* snippet:begin on_completed */
static void on_completed(server *srv, int k)
{
    client *c = srv->clients[k];
    DWORD bytes = 0, flags = 0;
    BOOL ok = WSAGetOverlappedResult(c->socket, &c->overlapped, &bytes, FALSE, &flags);
    WSAResetEvent(c->overlapped.hEvent); /* manual reset: it stays signalled otherwise */
    bool again;
    if (!ok || (c->op == OP_RECEIVE && bytes == 0)) {
        again = false; /* an error, or the client closed its side: all echoed, close */
    } else if (c->op == OP_RECEIVE) {
        c->filled = bytes;
        c->sent = 0;
        again = post_send(c);
    } else {
        c->sent += bytes;
        InterlockedExchangeAdd64(&srv->bytes_echoed, bytes);
        again = c->sent < c->filled ? post_send(c) : post_receive(c);
    }
    if (!again)
        close_client(srv, k);
}
/* snippet:end on_completed */

/* snippet:begin is_signalled */
static bool is_signalled(WSAEVENT event)
{
    return WSAWaitForMultipleEvents(1, &event, FALSE, 0, FALSE) == WSA_WAIT_EVENT_0;
}
/* snippet:end is_signalled */

/* How often the server looks at its listener even with no FD_ACCEPT (see serve). */
enum { ACCEPT_RECHECK_MS = 100 };

/* snippet:begin serve */
static DWORD WINAPI serve(void *argument)
{
    server *srv = argument;
    for (;;) {
        DWORD count = (DWORD)(SERVER_FIRST_CLIENT_SLOT + srv->client_count);
        /* The timeout is for Wine 8, which can lose an FD_ACCEPT; on Windows it only costs
         * a non-blocking accept that finds nobody, ten times a second. */
        DWORD first = WSAWaitForMultipleEvents(count, srv->events, FALSE, ACCEPT_RECHECK_MS,
                                               FALSE);
        if (first == WSA_WAIT_FAILED) {
            report_error("WSAWaitForMultipleEvents", (DWORD)WSAGetLastError());
            break;
        }
        if (first == WSA_WAIT_TIMEOUT) {
            accept_clients(srv);
            continue;
        }
        if (first - WSA_WAIT_EVENT_0 == SERVER_STOP_SLOT)
            break;
        /* The wait names only the lowest signalled event. Serving just that one would
         * starve the clients in higher slots, so look at every slot. Downwards, because
         * closing slot k moves the last client into it, one already looked at. */
        for (int k = srv->client_count - 1; k >= 0; k--) {
            if (is_signalled(srv->events[SERVER_FIRST_CLIENT_SLOT + k]))
                on_completed(srv, k);
        }
        if (is_signalled(srv->events[SERVER_ACCEPT_SLOT]))
            accept_clients(srv);
    }
    return 0;
}
/* snippet:end serve */

/* snippet:begin close_all */
/* Runs after the loop has ended, on the calling thread. Every client has one operation
 * pending (or just completed): cancel it and wait for its event before freeing, because
 * until then the system may still write into the client's OVERLAPPED and buffer. */
static void close_all_clients(server *srv)
{
    while (srv->client_count > 0) {
        client *c = srv->clients[srv->client_count - 1];
        DWORD bytes, flags;
        CancelIoEx((HANDLE)c->socket, &c->overlapped); /* ERROR_NOT_FOUND if it completed */
        WSAGetOverlappedResult(c->socket, &c->overlapped, &bytes, TRUE, &flags);
        close_client(srv, srv->client_count - 1);
    }
}
/* snippet:end close_all */

/* ---- start and stop ---------------------------------------------------------------- */

static void free_server(server *srv)
{
    if (srv->listener != INVALID_SOCKET)
        closesocket(srv->listener);
    for (int i = 0; i < SERVER_FIRST_CLIENT_SLOT; i++) {
        if (srv->events[i] != NULL)
            WSACloseEvent(srv->events[i]);
    }
    free(srv);
}

server *server_start(const server_config *config)
{
    server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    srv->max_clients = config->max_clients >= 1 && config->max_clients <= SERVER_MAX_CLIENTS
                           ? config->max_clients
                           : SERVER_MAX_CLIENTS;
    srv->events[SERVER_STOP_SLOT] = WSACreateEvent();
    srv->events[SERVER_ACCEPT_SLOT] = WSACreateEvent();
    srv->listener = net_listen_loopback(config->port, &srv->port);
    if (srv->listener == INVALID_SOCKET || srv->events[SERVER_STOP_SLOT] == WSA_INVALID_EVENT ||
        srv->events[SERVER_ACCEPT_SLOT] == WSA_INVALID_EVENT) {
        free_server(srv);
        return NULL;
    }
    /* The listener signals its event when a connection waits to be accepted. */
    if (WSAEventSelect(srv->listener, srv->events[SERVER_ACCEPT_SLOT], FD_ACCEPT) != 0) {
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
    now.refused = InterlockedCompareExchange(&srv->refused, 0, 0);
    now.clients = InterlockedCompareExchange(&srv->live_clients, 0, 0);
    now.bytes_echoed = InterlockedCompareExchange64(&srv->bytes_echoed, 0, 0);
    return now;
}

void server_stop(server *srv, server_counters *final)
{
    WSASetEvent(srv->events[SERVER_STOP_SLOT]);
    WaitForSingleObject(srv->thread, INFINITE);
    CloseHandle(srv->thread);
    close_all_clients(srv);
    if (final != NULL)
        *final = server_counters_now(srv);
    free_server(srv);
}
