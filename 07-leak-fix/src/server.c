#include "server.h"

#include <stdlib.h>
#include <string.h>

#include "async_socket.h"
#include "tutorial/errors.h"
#include "tutorial/net.h"

enum { FRAME_HEADER = 4, DRAIN_MS = 5000 };

/* The server's state for one connection, in the async_socket's user area. */
typedef struct connection {
    async_socket *socket;           /* the object whose user area this is      */
    struct connection *prev, *next; /* the server's list of open connections */
    bool listed;
    DWORD filled;         /* bytes at the start of the IN buffer, not yet answered */
    DWORD sent, to_send;  /* progress of the reply                               */
} connection;

struct server {
    server_config config;
    SOCKET listener;          /* INVALID_SOCKET once closed; see listener_lock     */
    SRWLOCK listener_lock;    /* shared: a call that uses the listener; exclusive: closing it */
    unsigned short port;
    HANDLE completion_port;
    HANDLE *workers;
    HANDLE sweeper;
    HANDLE sweeper_stop;
    volatile LONG stopping;
    volatile LONG accepts_outstanding;
    volatile LONG io_pending; /* operations started that still owe a completion */
    SRWLOCK list_lock;
    connection list;          /* sentinel of the open connections */
    long list_length;
    server_counters counters; /* Interlocked */
};

static connection *connection_of(async_socket *s)
{
    return s->user;
}

static void count(volatile long *counter)
{
    InterlockedIncrement((volatile LONG *)counter);
}

/* ---- the list of open connections ---------------------------------------------------- */

static bool list_add(server *srv, async_socket *s)
{
    connection *c = connection_of(s);
    bool added = false;
    AcquireSRWLockExclusive(&srv->list_lock);
    if (!srv->stopping) {
        c->next = &srv->list;
        c->prev = srv->list.prev;
        srv->list.prev->next = c;
        srv->list.prev = c;
        c->listed = added = true;
        srv->list_length++;
        async_socket_retain(s); /* the list's reference */
    }
    ReleaseSRWLockExclusive(&srv->list_lock);
    return added;
}

static bool list_remove(server *srv, async_socket *s)
{
    connection *c = connection_of(s);
    bool removed = false;
    AcquireSRWLockExclusive(&srv->list_lock);
    if (c->listed) {
        c->prev->next = c->next;
        c->next->prev = c->prev;
        c->listed = false;
        srv->list_length--;
        removed = true;
    }
    ReleaseSRWLockExclusive(&srv->list_lock);
    return removed;
}

/* Every listed socket, each with a reference the caller releases. */
static async_socket **list_snapshot(server *srv, long *length)
{
    AcquireSRWLockShared(&srv->list_lock);
    async_socket **all = malloc(sizeof *all * (size_t)(srv->list_length + 1));
    long n = 0;
    for (connection *c = srv->list.next; all != NULL && c != &srv->list; c = c->next) {
        all[n] = c->socket;
        async_socket_retain(all[n++]);
    }
    ReleaseSRWLockShared(&srv->list_lock);
    *length = n;
    return all;
}

/* ---- closing ------------------------------------------------------------------------- */

/* snippet:begin close_connection */
/* The one way a connection ends; the caller holds the socket's lock. */
static void close_connection(server *srv, async_socket *s)
{
    bool was_listed = list_remove(srv, s);
    async_socket_dispose(s);
    if (was_listed)
        async_socket_release(s); /* the list's reference */
}

/* An operation that failed at once: no completion will come for it. Like AsyncIO, the
 * error goes to the caller, which disposes the socket. */
static void on_immediate_failure(server *srv, async_socket *s)
{
    InterlockedDecrement(&srv->io_pending); /* it never started */
    count(&srv->counters.immediate_failures);
    count(&srv->counters.resets);
    close_connection(srv, s);
}
/* snippet:end close_connection */

/* ---- starting operations (the caller holds the socket's lock) -------------------------- */

/* snippet:begin receive_more */
/* One receive for whatever has arrived, as much as fits after the bytes already buffered.
 * There is always room: what stays buffered is never a whole frame, and a frame (with its
 * header) fits in the buffer, so a receive never asks for 0 bytes (its 0-byte completion
 * would read as the peer's orderly end). */
static void receive_more(server *srv, async_socket *s)
{
    connection *c = connection_of(s);
    if (srv->stopping) {
        close_connection(srv, s);
        return;
    }
    InterlockedIncrement(&srv->io_pending);
    if (async_socket_receive(s, c->filled, s->in->capacity - c->filled) != 0)
        on_immediate_failure(srv, s);
}
/* snippet:end receive_more */

static void send_more(server *srv, async_socket *s)
{
    connection *c = connection_of(s);
    InterlockedIncrement(&srv->io_pending);
    if (async_socket_send(s, c->sent, c->to_send - c->sent) != 0)
        on_immediate_failure(srv, s);
}

/* Starts the accept of s on the listener, unless the shutdown has closed it. The listener
 * is read and used under listener_lock held shared, and closed under it held exclusive: no
 * AcceptEx can run on a listener being closed, or on a handle value reused since. */
static bool start_accept(server *srv, async_socket *s)
{
    AcquireSRWLockShared(&srv->listener_lock);
    bool listening = srv->listener != INVALID_SOCKET;
    DWORD error = 0;
    if (listening) {
        InterlockedIncrement(&srv->io_pending);
        error = async_socket_accept(s, srv->listener);
    }
    ReleaseSRWLockShared(&srv->listener_lock);
    if (!listening)
        close_connection(srv, s); /* the shutdown came first */
    else if (error != 0)
        on_immediate_failure(srv, s);
    return listening && error == 0;
}

/* snippet:begin post_accept */
static bool post_accept(server *srv)
{
    if (srv->stopping)
        return false;
    async_socket *s = async_socket_open(FRAME_HEADER + (DWORD)srv->config.max_frame,
                                        sizeof(connection));
    if (s == NULL)
        return false;
    connection_of(s)->socket = s;
    /* A reference of our own, and the lock, BEFORE list_add makes the socket visible: from
     * then on close_everything may dispose it, and an immediate failure below disposes it
     * too. Dispose drops the socket's other references, so without ours the last release
     * could free it while we still hold its lock. With the lock taken first, nobody else
     * can have disposed it before we start the accept. */
    async_socket_retain(s);
    async_socket_lock(s);
    bool started = false;
    if (async_socket_attach(s, srv->completion_port, 0) && list_add(srv, s)) {
        fault_plan_pause(fault_plan_take("published")); /* test-only: widens the window */
        started = start_accept(srv, s);
    } else {
        async_socket_dispose(s);
    }
    async_socket_unlock(s);
    async_socket_release(s); /* ours: may free the socket */
    return started;
}
/* snippet:end post_accept */

static void refill_accepts(server *srv)
{
    for (;;) {
        LONG outstanding = InterlockedIncrement(&srv->accepts_outstanding);
        if (outstanding > srv->config.accepts || !post_accept(srv)) {
            InterlockedDecrement(&srv->accepts_outstanding);
            return;
        }
    }
}

/* ---- completions (the caller holds the socket's lock) ---------------------------------- */

static void on_accepted(server *srv, async_socket *s, DWORD error)
{
    if (error != 0) {
        if (!srv->stopping) { /* else it is the shutdown's own abort, not a client's doing */
            count(&srv->counters.failed_accepts); /* e.g. the client reset in the backlog */
            count(&srv->counters.resets);
        }
        close_connection(srv, s);
        return;
    }
    count(&srv->counters.accepted);
    /* Makes getpeername, shutdown and friends work on the accepted socket. */
    AcquireSRWLockShared(&srv->listener_lock);
    setsockopt(s->handle, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&srv->listener,
               sizeof srv->listener);
    ReleaseSRWLockShared(&srv->listener_lock);
    /* A pause point for tests ("accepted" in a fault plan): the time between the accept and
     * the first receive, which the incident's server spent sending NetMQ's greeting. */
    fault_plan_pause(fault_plan_take("accepted"));
    receive_more(srv, s); /* into the empty buffer: filled is 0 */
}

/* snippet:begin take_frames */
/* The whole frames at the start of the buffer: their bytes and their number. False when a
 * length is over max_frame, e.g. "GET " read as a length: not our protocol. */
static bool whole_frames(const server *srv, const unsigned char *data, DWORD filled,
                         DWORD *bytes, long *frames)
{
    DWORD at = 0;
    *frames = 0;
    while (filled - at >= FRAME_HEADER) {
        unsigned long length = net_get_frame_length(data + at);
        if (length > srv->config.max_frame)
            return false;
        if (filled - at - FRAME_HEADER < length)
            break; /* the rest of this frame is still on its way */
        at += FRAME_HEADER + (DWORD)length;
        (*frames)++;
    }
    *bytes = at;
    return true;
}

/* Answers every whole frame with one send: an echo's replies are the frames themselves, in
 * order. The start of the next frame, if any, moves to the front of the buffer. */
static void echo_frames(server *srv, async_socket *s, DWORD bytes, long frames)
{
    connection *c = connection_of(s);
    InterlockedExchangeAdd((volatile LONG *)&srv->counters.frames, frames);
    memcpy(s->out->buffer, s->in->buffer, bytes);
    memmove(s->in->buffer, s->in->buffer + bytes, c->filled - bytes);
    c->filled -= bytes;
    c->sent = 0;
    c->to_send = bytes;
    send_more(srv, s);
}

static void on_received(server *srv, async_socket *s, DWORD bytes, DWORD error)
{
    connection *c = connection_of(s);
    if (error != 0 || bytes == 0) {
        count(error != 0 ? &srv->counters.resets : &srv->counters.closed);
        close_connection(srv, s);
        return;
    }
    c->filled += bytes;
    DWORD whole = 0;
    long frames = 0;
    if (!whole_frames(srv, (const unsigned char *)s->in->buffer, c->filled, &whole, &frames)) {
        count(&srv->counters.oversized); /* the frames before it go unanswered */
        close_connection(srv, s);
    } else if (frames == 0) {
        receive_more(srv, s); /* not one whole frame yet */
    } else {
        echo_frames(srv, s, whole, frames);
    }
}
/* snippet:end take_frames */

static void on_sent(server *srv, async_socket *s, DWORD bytes, DWORD error)
{
    connection *c = connection_of(s);
    if (error != 0) {
        count(&srv->counters.resets);
        close_connection(srv, s);
        return;
    }
    c->sent += bytes;
    if (c->sent < c->to_send)
        send_more(srv, s);
    else
        receive_more(srv, s); /* what is buffered is less than a frame: receive the rest */
}

/* snippet:begin on_completion */
static void on_completion(server *srv, io_context *context, DWORD bytes, DWORD error)
{
    async_socket *s = context->owner;  /* alive: the context is still in progress */
    io_operation operation = context->operation;
    async_socket_retain(s);             /* ours until the end of this function */
    bool freed = context_complete(context, error);
    if (!freed) {
        async_socket_lock(s);
        if (!async_socket_is_disposed(s)) { /* else dispose ran meanwhile (and freed it) */
            if (operation == OP_ACCEPT)
                on_accepted(srv, s, error);
            else if (operation == OP_RECEIVE)
                on_received(srv, s, bytes, error);
            else
                on_sent(srv, s, bytes, error);
        }
        async_socket_unlock(s);
    }
    async_socket_release(s);
    InterlockedDecrement(&srv->io_pending);
    if (operation == OP_ACCEPT) {
        InterlockedDecrement(&srv->accepts_outstanding);
        refill_accepts(srv);
    }
}
/* snippet:end on_completion */

static DWORD WINAPI worker(void *argument)
{
    server *srv = argument;
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *overlapped = NULL;
        BOOL ok = GetQueuedCompletionStatus(srv->completion_port, &bytes, &key, &overlapped,
                                            INFINITE);
        if (overlapped == NULL)
            return 0; /* the quit packet server_stop posts (or the port is gone) */
        /* FALSE with an OVERLAPPED: the operation failed; its error is the thread's. */
        DWORD error = ok ? 0 : GetLastError();
        io_context *context = (io_context *)overlapped;
        completion_as_planned(context, &bytes, &error); /* the outcome seam */
        on_completion(srv, context, bytes, error);
    }
}

/* ---- the idle timeout ---------------------------------------------------------------- */

/* Called with the socket's lock held. The clock is read here, under the lock, and not once
 * per sweep: a receive started after an earlier reading would have started "in the future",
 * and the unsigned difference would wrap round to an age of centuries. */
static bool waits_too_long(server *srv, async_socket *s)
{
    if (async_socket_is_disposed(s))
        return false;
    io_context *in = s->in;
    return in->operation == OP_RECEIVE && (context_state(in) & CONTEXT_IN_PROGRESS) &&
           GetTickCount64() - in->started_ms > (ULONGLONG)srv->config.idle_ms;
}

/* This is the path where dispose meets a receive the kernel still holds: the context is
 * marked disposed, CancelIoEx makes the receive complete with ERROR_OPERATION_ABORTED, and
 * that completion frees it. */
static void close_idle_connections(server *srv)
{
    long length = 0;
    async_socket **all = list_snapshot(srv, &length);
    for (long i = 0; i < length; i++) {
        async_socket *s = all[i];
        async_socket_lock(s);
        if (waits_too_long(srv, s)) {
            count(&srv->counters.idle_timeouts);
            close_connection(srv, s);
        }
        async_socket_unlock(s);
        async_socket_release(s);
    }
    free(all);
}

static DWORD WINAPI sweeper(void *argument)
{
    server *srv = argument;
    DWORD period = (DWORD)srv->config.idle_ms / 4 + 1;
    while (WaitForSingleObject(srv->sweeper_stop, period) == WAIT_TIMEOUT)
        close_idle_connections(srv);
    return 0;
}

/* ---- start and stop ------------------------------------------------------------------ */

static void apply_defaults(server_config *config)
{
    if (config->threads <= 0)
        config->threads = 2;
    if (config->accepts <= 0)
        config->accepts = 8;
    if (config->max_frame == 0)
        config->max_frame = 65536;
}

static bool start_threads(server *srv)
{
    srv->workers = calloc((size_t)srv->config.threads, sizeof *srv->workers);
    if (srv->workers == NULL)
        return false;
    for (int i = 0; i < srv->config.threads; i++) {
        srv->workers[i] = CreateThread(NULL, 0, worker, srv, 0, NULL);
        if (srv->workers[i] == NULL)
            return false;
    }
    if (srv->config.idle_ms > 0) {
        srv->sweeper_stop = CreateEventA(NULL, TRUE, FALSE, NULL);
        srv->sweeper = CreateThread(NULL, 0, sweeper, srv, 0, NULL);
        if (srv->sweeper_stop == NULL || srv->sweeper == NULL)
            return false;
    }
    return true;
}

server *server_start(const server_config *config)
{
    server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    srv->config = *config;
    apply_defaults(&srv->config);
    InitializeSRWLock(&srv->list_lock);
    InitializeSRWLock(&srv->listener_lock);
    srv->list.next = srv->list.prev = &srv->list;
    srv->listener = net_listen_loopback(config->port, &srv->port);
    srv->completion_port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    if (srv->listener == INVALID_SOCKET || srv->completion_port == NULL ||
        CreateIoCompletionPort((HANDLE)srv->listener, srv->completion_port, 0, 0) == NULL ||
        !start_threads(srv)) {
        report_error("starting the server", GetLastError());
        server_stop(srv, NULL);
        return NULL;
    }
    refill_accepts(srv);
    return srv;
}

unsigned short server_port(const server *srv)
{
    return srv->port;
}

void server_get_counters(server *srv, server_counters *counters)
{
    MemoryBarrier();
    *counters = srv->counters;
}

static void close_everything(server *srv)
{
    AcquireSRWLockExclusive(&srv->list_lock);
    InterlockedExchange(&srv->stopping, 1); /* no new connection joins the list after this */
    ReleaseSRWLockExclusive(&srv->list_lock);
    /* Pending AcceptEx calls complete with ERROR_OPERATION_ABORTED: they were issued on the
     * listener, so closing it is what cancels them (CancelIoEx on an accept socket does
     * not). Under the lock exclusive: no start_accept is using it meanwhile. */
    AcquireSRWLockExclusive(&srv->listener_lock);
    if (srv->listener != INVALID_SOCKET)
        closesocket(srv->listener);
    srv->listener = INVALID_SOCKET;
    ReleaseSRWLockExclusive(&srv->listener_lock);
    long length = 0;
    async_socket **all = list_snapshot(srv, &length);
    for (long i = 0; i < length; i++) {
        async_socket_lock(all[i]);
        close_connection(srv, all[i]);
        async_socket_unlock(all[i]);
        async_socket_release(all[i]);
    }
    free(all);
}

/* Waits, bounded, until every operation the kernel accepted has delivered its completion:
 * only then may the workers stop. Operations that failed at once were never counted. */
static void drain_completions(server *srv)
{
    ULONGLONG deadline = GetTickCount64() + DRAIN_MS;
    while (InterlockedCompareExchange(&srv->io_pending, 0, 0) > 0 &&
           GetTickCount64() < deadline)
        Sleep(10);
}

/* One quit packet for a worker (a packet with no OVERLAPPED), through the outcome seam
 * ("post" in a fault plan). PostQueuedCompletionStatus fails only when the system cannot
 * allocate the packet, a shortage that passes, so the caller tries again. */
static bool post_quit(server *srv)
{
    fault_outcome planned = fault_plan_take("post");
    if (planned.kind == FAULT_FAIL) {
        SetLastError(planned.value);
        return false;
    }
    return PostQueuedCompletionStatus(srv->completion_port, 0, 0, NULL) != FALSE;
}

static void stop_threads(server *srv)
{
    if (srv->sweeper != NULL) {
        SetEvent(srv->sweeper_stop);
        WaitForSingleObject(srv->sweeper, INFINITE);
        CloseHandle(srv->sweeper);
    }
    if (srv->sweeper_stop != NULL)
        CloseHandle(srv->sweeper_stop);
    for (int i = 0; srv->workers != NULL && i < srv->config.threads; i++) {
        while (!post_quit(srv)) { /* a worker without its packet would never end */
            report_error("PostQueuedCompletionStatus", GetLastError());
            Sleep(10);
        }
    }
    for (int i = 0; srv->workers != NULL && i < srv->config.threads; i++) {
        if (srv->workers[i] != NULL) {
            WaitForSingleObject(srv->workers[i], INFINITE);
            CloseHandle(srv->workers[i]);
        }
    }
    free(srv->workers);
}

void server_stop(server *srv, server_counters *final)
{
    if (srv == NULL)
        return;
    if (srv->sweeper != NULL) {
        SetEvent(srv->sweeper_stop); /* no idle sweep races the shutdown */
        WaitForSingleObject(srv->sweeper, INFINITE);
        CloseHandle(srv->sweeper);
        srv->sweeper = NULL;
    }
    close_everything(srv);
    drain_completions(srv);
    stop_threads(srv);
    if (final != NULL)
        server_get_counters(srv, final);
    if (srv->completion_port != NULL)
        CloseHandle(srv->completion_port);
    free(srv);
}
