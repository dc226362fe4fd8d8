#include "server.h"

#include <stdio.h>
#include <stdlib.h>

#include "tutorial/errors.h"
#include "tutorial/net.h"

enum { ECHO_CHUNK = 16 * 1024 };

typedef struct client {
    struct client *next;
    server *owner;
    SOCKET socket; /* INVALID_SOCKET once closed; read and written under owner->lock */
} client;

struct server {
    server_config config;
    SOCKET listener;
    unsigned short port;
    HANDLE acceptor;

    CRITICAL_SECTION lock; /* guards everything below */
    CONDITION_VARIABLE changed;
    bool stopping;
    client *clients;
    server_counters counters;

    /* The stopper and every client thread hold a reference; the last one to let go
     * signals all_done, after which nothing touches the server any more. */
    volatile LONG references;
    HANDLE all_done;
};

/* ---- bookkeeping (every function here runs with srv->lock held) ------------------- */

static void counters_changed(server *srv)
{
    if (srv->counters.threads > srv->counters.peak_threads)
        srv->counters.peak_threads = srv->counters.threads;
    WakeAllConditionVariable(&srv->changed);
    if (srv->config.on_change != NULL)
        srv->config.on_change(&srv->counters, srv->config.context);
}

static void link_client(server *srv, client *c)
{
    c->next = srv->clients;
    srv->clients = c;
    srv->counters.clients++;
    srv->counters.threads++;
    srv->counters.clients_served++;
    counters_changed(srv);
}

static void unlink_client(server *srv, client *c)
{
    client **link = &srv->clients;
    while (*link != c)
        link = &(*link)->next;
    *link = c->next;
    srv->counters.clients--;
    srv->counters.threads--;
    counters_changed(srv);
}

static void release_reference(server *srv)
{
    /* Read the handle before the decrement: once the count is 0 the stopper may free srv. */
    HANDLE all_done = srv->all_done;
    if (InterlockedDecrement(&srv->references) == 0)
        SetEvent(all_done);
}

/* ---- one thread per client ---------------------------------------------------------- */

/* snippet:begin current_socket */
/* The socket to use next, or INVALID_SOCKET once server_stop has closed it. */
static SOCKET current_socket(client *c)
{
    EnterCriticalSection(&c->owner->lock);
    SOCKET s = c->socket;
    LeaveCriticalSection(&c->owner->lock);
    return s;
}
/* snippet:end current_socket */

static void add_echoed(server *srv, int bytes)
{
    EnterCriticalSection(&srv->lock);
    srv->counters.bytes_echoed += bytes;
    LeaveCriticalSection(&srv->lock);
}

/* snippet:begin serve_client */
static DWORD WINAPI serve_client(void *argument)
{
    client *c = argument;
    server *srv = c->owner;
    char buffer[ECHO_CHUNK];
    SOCKET s;
    while ((s = current_socket(c)) != INVALID_SOCKET) {
        /* The thread spends its life here, asleep until bytes, an end or an error come. */
        int got = recv(s, buffer, (int)sizeof buffer, 0);
        if (got <= 0)
            break; /* 0: the client closed its side; SOCKET_ERROR: reset, or closed by stop */
        if (!net_send_all(s, buffer, (size_t)got))
            break;
        add_echoed(srv, got);
    }
    EnterCriticalSection(&srv->lock);
    if (c->socket != INVALID_SOCKET)
        closesocket(c->socket); /* unless server_stop already did */
    unlink_client(srv, c);
    LeaveCriticalSection(&srv->lock);
    free(c);
    release_reference(srv); /* the last touch of srv */
    return 0;
}
/* snippet:end serve_client */

/* ---- the accepting thread ----------------------------------------------------------- */

/* snippet:begin start_client_thread */
static void start_client_thread(server *srv, SOCKET s)
{
    client *c = calloc(1, sizeof *c);
    HANDLE thread = NULL;
    /* Stack size 0: the size in the program's header, reserved for every thread. Created
     * suspended: it already exists when the counters count it, and it cannot run before
     * its record is in the list. */
    if (c != NULL)
        thread = CreateThread(NULL, 0, serve_client, c, CREATE_SUSPENDED, NULL);
    if (thread == NULL) {
        fprintf(stderr, "no thread for a new client: closing it\n");
        free(c);
        closesocket(s);
        return;
    }
    c->owner = srv;
    c->socket = s;
    InterlockedIncrement(&srv->references); /* released by the thread as it ends */
    EnterCriticalSection(&srv->lock);
    link_client(srv, c);
    LeaveCriticalSection(&srv->lock);
    ResumeThread(thread);
    CloseHandle(thread); /* the thread runs on; the references tell us when it is done */
}
/* snippet:end start_client_thread */

static bool is_stopping(server *srv)
{
    EnterCriticalSection(&srv->lock);
    bool stopping = srv->stopping;
    LeaveCriticalSection(&srv->lock);
    return stopping;
}

/* snippet:begin accept_loop */
static DWORD WINAPI accept_clients(void *argument)
{
    server *srv = argument;
    for (;;) {
        SOCKET s = accept(srv->listener, NULL, NULL); /* waits for the next client */
        if (s == INVALID_SOCKET) {
            if (is_stopping(srv))
                return 0; /* server_stop closed the listener under us */
            report_error("accept", (DWORD)WSAGetLastError());
            continue;
        }
        start_client_thread(srv, s);
    }
}
/* snippet:end accept_loop */

/* ---- the API ------------------------------------------------------------------------ */

server *server_start(const server_config *config)
{
    server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    srv->config = *config;
    InitializeCriticalSection(&srv->lock);
    InitializeConditionVariable(&srv->changed);
    srv->references = 1; /* the stopper's */
    srv->all_done = CreateEventA(NULL, TRUE, FALSE, NULL);
    srv->listener = net_listen_loopback(config->port, &srv->port);
    if (srv->all_done == NULL || srv->listener == INVALID_SOCKET) {
        if (srv->listener != INVALID_SOCKET)
            closesocket(srv->listener);
        if (srv->all_done != NULL)
            CloseHandle(srv->all_done);
        DeleteCriticalSection(&srv->lock);
        free(srv);
        return NULL;
    }
    srv->counters.threads = 1; /* the acceptor, started next */
    srv->counters.peak_threads = 1;
    srv->acceptor = CreateThread(NULL, 0, accept_clients, srv, 0, NULL);
    if (srv->acceptor == NULL) {
        report_error("CreateThread", GetLastError());
        closesocket(srv->listener);
        CloseHandle(srv->all_done);
        DeleteCriticalSection(&srv->lock);
        free(srv);
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
    EnterCriticalSection(&srv->lock);
    server_counters now = srv->counters;
    LeaveCriticalSection(&srv->lock);
    return now;
}

bool server_wait_for_threads(server *srv, long threads, DWORD timeout_ms)
{
    ULONGLONG deadline = GetTickCount64() + timeout_ms;
    EnterCriticalSection(&srv->lock);
    while (srv->counters.threads != threads) {
        ULONGLONG now = GetTickCount64();
        if (now >= deadline)
            break;
        SleepConditionVariableCS(&srv->changed, &srv->lock, (DWORD)(deadline - now));
    }
    bool reached = srv->counters.threads == threads;
    LeaveCriticalSection(&srv->lock);
    return reached;
}

/* snippet:begin close_every_client */
/* A thread blocked in recv() cannot be asked to stop: it is asleep in the kernel. Closing
 * its socket wakes it (the Winsock 2 specification: a blocking call on a socket that
 * another thread closes fails, with WSAEINTR on Windows).
 *
 * The price: closing frees the handle value while the client thread may be about to pass
 * it to recv or send again; were the value reused for a new handle in between, that call
 * would act on the wrong object. Stopping the acceptor first (no new sockets) and having
 * each thread reread its socket under the lock before every call narrows the window, but
 * blocking I/O cannot shut it. Overlapped I/O can: an operation in progress is cancelled
 * with CancelIoEx while the handle stays valid. */
static void close_every_client(server *srv)
{
    EnterCriticalSection(&srv->lock);
    for (client *c = srv->clients; c != NULL; c = c->next) {
        closesocket(c->socket);
        c->socket = INVALID_SOCKET; /* its thread sees this and does not close it again */
    }
    LeaveCriticalSection(&srv->lock);
}
/* snippet:end close_every_client */

/* snippet:begin stop */
void server_stop(server *srv, server_counters *last)
{
    EnterCriticalSection(&srv->lock);
    srv->stopping = true;
    LeaveCriticalSection(&srv->lock);
    closesocket(srv->listener); /* wakes the acceptor from accept() */
    WaitForSingleObject(srv->acceptor, INFINITE);
    CloseHandle(srv->acceptor);
    EnterCriticalSection(&srv->lock);
    srv->counters.threads--; /* the acceptor has ended */
    counters_changed(srv);
    LeaveCriticalSection(&srv->lock);

    close_every_client(srv);
    /* Every client thread frees its own record and then lets go of its reference. */
    if (InterlockedDecrement(&srv->references) != 0)
        WaitForSingleObject(srv->all_done, INFINITE);

    if (last != NULL)
        *last = srv->counters;
    CloseHandle(srv->all_done);
    DeleteCriticalSection(&srv->lock);
    free(srv);
}
/* snippet:end stop */
