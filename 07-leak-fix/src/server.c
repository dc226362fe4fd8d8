#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "async_socket.h"
#include "tutorial/errors.h"
#include "tutorial/net.h"

enum {
    FRAME_HEADER = 4,
    DRAIN_MS = 5000,       /* how long server_stop waits for the packets still owed   */
    REFILL_FIRST_MS = 10,  /* the first pause before posting missing accepts again    */
    REFILL_MAX_MS = 1000   /* the longest, however long the failures last            */
};

/* The server's state for one connection, in the async_socket's user area. */
typedef struct connection {
    async_socket *socket;           /* the object whose user area this is      */
    struct connection *prev, *next; /* the server's list of open connections */
    bool listed;
    DWORD filled;         /* bytes at the start of the IN buffer, not yet answered */
    DWORD sent, to_send;  /* progress of the reply                               */
    ULONGLONG frame_started_ms; /* when the first bytes of the frame being read came
                                 * (0: the buffer holds none) */
} connection;

struct server {
    server_config config;
    SOCKET listener;          /* INVALID_SOCKET once closed; see listener_lock     */
    SRWLOCK listener_lock;    /* shared: a call that uses the listener; exclusive: closing
                               * it, and arming the accept pool's timer */
    LPFN_ACCEPTEX accept_ex;  /* as WSAIoctl hands it out for the listener */
    unsigned short port;
    HANDLE completion_port;
    HANDLE *workers;
    HANDLE sweeper;
    HANDLE sweeper_stop;
    volatile LONG stopping;
    volatile LONG accepts_outstanding;
    volatile LONG io_pending; /* operations started that still owe a completion */
    PTP_TIMER refill_timer;   /* posts missing accepts again (see refill_later) */
    bool refill_armed;        /* the timer is set and has not fired (listener_lock) */
    DWORD refill_ms;          /* the next pause (listener_lock)                     */
    long refill_failures;     /* failed refills in a row (listener_lock)            */
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
 * AcceptEx can run on a listener being closed, or on a handle value reused since. Returns
 * 0, or why no accept started (ERROR_OPERATION_ABORTED: the shutdown came first). */
static DWORD start_accept(server *srv, async_socket *s)
{
    AcquireSRWLockShared(&srv->listener_lock);
    bool listening = srv->listener != INVALID_SOCKET;
    DWORD error = ERROR_OPERATION_ABORTED;
    if (listening) {
        InterlockedIncrement(&srv->io_pending);
        error = async_socket_accept(s, srv->listener, srv->accept_ex);
    }
    ReleaseSRWLockShared(&srv->listener_lock);
    if (!listening)
        close_connection(srv, s); /* the shutdown came first */
    else if (error != 0)
        on_immediate_failure(srv, s);
    return error;
}

/* snippet:begin post_accept */
/* Returns 0 when an accept started, else why not (ERROR_OPERATION_ABORTED: the server is
 * stopping). */
static DWORD post_accept(server *srv)
{
    if (srv->stopping)
        return ERROR_OPERATION_ABORTED;
    async_socket *s = async_socket_open(FRAME_HEADER + (DWORD)srv->config.max_frame,
                                        sizeof(connection));
    if (s == NULL)
        return WSAGetLastError() != 0 ? (DWORD)WSAGetLastError() : ERROR_NOT_ENOUGH_MEMORY;
    connection_of(s)->socket = s;
    /* A reference of our own, and the lock, BEFORE list_add makes the socket visible: from
     * then on close_everything may dispose it, and an immediate failure below disposes it
     * too. Dispose drops the socket's other references, so without ours the last release
     * could free it while we still hold its lock. With the lock taken first, nobody else
     * can have disposed it before we start the accept. */
    async_socket_retain(s);
    async_socket_lock(s);
    DWORD error = ERROR_OPERATION_ABORTED;
    if (!list_add(srv, s)) {
        async_socket_dispose(s); /* the shutdown came first */
    } else if (!async_socket_attach(s, srv->completion_port, 0)) {
        error = GetLastError();
        close_connection(srv, s);
    } else {
        error = start_accept(srv, s);
    }
    async_socket_unlock(s);
    async_socket_release(s); /* ours: may free the socket */
    return error;
}
/* snippet:end post_accept */

/* snippet:begin accept_pool */
/* Sets the accept pool's timer, unless it is set already or the listener is closed: under
 * the lock the shutdown closes the listener with, so a timer set before that is cancelled
 * by the shutdown, and none is set after it. Each time it is set while accepts keep
 * failing, it waits twice as long, up to REFILL_MAX_MS. */
static void refill_later(server *srv, DWORD error)
{
    AcquireSRWLockExclusive(&srv->listener_lock);
    if (!srv->refill_armed && srv->listener != INVALID_SOCKET) {
        if (srv->refill_failures++ == 0) /* once per run of failures, not once per try */
            report_error("posting an accept (trying again later, more slowly each time)",
                         error);
        srv->refill_armed = true;
        ULARGE_INTEGER due;
        due.QuadPart = (ULONGLONG)(-(LONGLONG)srv->refill_ms * 10000); /* relative, 100 ns */
        FILETIME when = {due.LowPart, due.HighPart};
        SetThreadpoolTimer(srv->refill_timer, &when, 0, 0);
        srv->refill_ms = srv->refill_ms * 2 > REFILL_MAX_MS ? REFILL_MAX_MS : srv->refill_ms * 2;
    }
    ReleaseSRWLockExclusive(&srv->listener_lock);
}

static void refilled(server *srv)
{
    AcquireSRWLockExclusive(&srv->listener_lock);
    if (srv->refill_failures > 0 && !srv->refill_armed) {
        fprintf(stderr, "accepting again after %ld failed rounds\n", srv->refill_failures);
        srv->refill_failures = 0;
        srv->refill_ms = REFILL_FIRST_MS;
    }
    ReleaseSRWLockExclusive(&srv->listener_lock);
}

/* Posts accepts until --accepts are outstanding, trying each missing one once. The pool is
 * refilled as each accept completes; an accept that cannot be posted (clients that reset
 * in the backlog, no free socket, no memory) queues no packet, so nothing would ever refill
 * its place: a run of such failures would leave the server listening, with no accept
 * outstanding, deaf to every client. So a failure leaves the rest to the pool's timer
 * (refill_later). */
static void refill_accepts(server *srv)
{
    DWORD error = 0;
    for (int tries = 0; tries < srv->config.accepts; tries++) {
        LONG outstanding = InterlockedIncrement(&srv->accepts_outstanding);
        if (outstanding > srv->config.accepts) {
            InterlockedDecrement(&srv->accepts_outstanding);
            break;
        }
        DWORD failed = post_accept(srv);
        if (failed != 0) {
            InterlockedDecrement(&srv->accepts_outstanding);
            if (failed == ERROR_OPERATION_ABORTED)
                return; /* the shutdown's own doing: nothing to refill */
            error = failed;
        }
    }
    if (error != 0)
        refill_later(srv, error);
    else
        refilled(srv);
}

static void CALLBACK refill_when_due(PTP_CALLBACK_INSTANCE instance, void *argument,
                                     PTP_TIMER timer)
{
    (void)instance, (void)timer;
    server *srv = argument;
    AcquireSRWLockExclusive(&srv->listener_lock);
    srv->refill_armed = false;
    ReleaseSRWLockExclusive(&srv->listener_lock);
    refill_accepts(srv);
}
/* snippet:end accept_pool */

/* ---- completions (the caller holds the socket's lock) ---------------------------------- */

/* Makes getpeername, shutdown and friends work on the accepted socket. */
static bool update_accept_context(server *srv, async_socket *s)
{
    AcquireSRWLockShared(&srv->listener_lock);
    bool updated = srv->listener != INVALID_SOCKET &&
                   setsockopt(s->handle, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                              (const char *)&srv->listener, sizeof srv->listener) == 0;
    ReleaseSRWLockShared(&srv->listener_lock);
    return updated;
}

/* snippet:begin greeting */
/* The first frame on every connection, as NetMQ's engine sent its greeting before its first
 * receive: on_sent starts the receive once the greeting has gone out. */
static void send_greeting(server *srv, async_socket *s)
{
    connection *c = connection_of(s);
    net_put_frame_length((unsigned char *)s->out->buffer, NET_GREETING_LENGTH);
    memcpy(s->out->buffer + FRAME_HEADER, NET_GREETING, NET_GREETING_LENGTH);
    c->sent = 0;
    c->to_send = FRAME_HEADER + NET_GREETING_LENGTH;
    send_more(srv, s);
}
/* snippet:end greeting */

static void on_accepted(server *srv, async_socket *s, DWORD error)
{
    if (error == 0 && !update_accept_context(srv, s))
        error = (DWORD)WSAGetLastError(); /* a socket we cannot use: close it as a failure */
    if (error != 0) {
        if (!srv->stopping) { /* else it is the shutdown's own abort, not a client's doing */
            count(&srv->counters.failed_accepts); /* e.g. the client reset in the backlog */
            count(&srv->counters.resets);
        }
        close_connection(srv, s);
        return;
    }
    count(&srv->counters.accepted);
    send_greeting(srv, s);
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
    c->frame_started_ms = c->filled > 0 ? GetTickCount64() : 0; /* the next frame's start */
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
    if (c->filled == 0)
        c->frame_started_ms = GetTickCount64();
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
        on_completion(srv, (io_context *)overlapped, bytes, error);
    }
}

/* ---- the deadlines ------------------------------------------------------------------ */

typedef enum { IN_TIME, RECEIVE_WAITED, SEND_WAITED, FRAME_DRAGGED } missed_deadline_kind;

/* snippet:begin deadlines */
/* Which deadline, if any, a connection has missed; called with the socket's lock held.
 * Three ways a client can hold a connection, and the buffers and the kernel's socket
 * behind it, for ever: send nothing (its receive waits), read nothing (the echo's send
 * waits once the kernel's buffers are full, and no receive is posted meanwhile), or
 * trickle a frame a byte at a time (every receive completes, no frame ever does). The
 * clock is read here, under the lock, and not once per sweep: an operation started after
 * an earlier reading would have started "in the future", and the unsigned difference
 * would wrap round to an age of centuries. */
static missed_deadline_kind missed_deadline(server *srv, async_socket *s)
{
    if (async_socket_is_disposed(s))
        return IN_TIME;
    ULONGLONG now = GetTickCount64(), limit = (ULONGLONG)srv->config.idle_ms;
    const io_context *in = s->in, *out = s->out;
    const connection *c = connection_of(s);
    if (in->operation == OP_RECEIVE && (context_state(s->in) & CONTEXT_IN_PROGRESS) &&
        now - in->started_ms > limit)
        return RECEIVE_WAITED;
    if (out->operation == OP_SEND && (context_state(s->out) & CONTEXT_IN_PROGRESS) &&
        now - out->started_ms > limit)
        return SEND_WAITED;
    if (c->frame_started_ms != 0 && now - c->frame_started_ms > limit)
        return FRAME_DRAGGED;
    return IN_TIME;
}
/* snippet:end deadlines */

/* This is the path where dispose meets an operation the kernel still holds: the context is
 * marked disposed, CancelIoEx makes the operation complete, and that completion frees it. */
static void close_late_connections(server *srv)
{
    long length = 0;
    async_socket **all = list_snapshot(srv, &length);
    for (long i = 0; i < length; i++) {
        async_socket *s = all[i];
        async_socket_lock(s);
        missed_deadline_kind missed = missed_deadline(srv, s);
        if (missed != IN_TIME) {
            count(missed == RECEIVE_WAITED ? &srv->counters.idle_timeouts
                  : missed == SEND_WAITED  ? &srv->counters.stalled_sends
                                           : &srv->counters.slow_frames);
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
        close_late_connections(srv);
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

/* What is wrong with a config, or NULL: the command line checks its flags, and a caller
 * in the same process gets the same limits (a max_frame near 4 GiB would wrap the size of
 * every buffer). */
static const char *config_problem(const server_config *config)
{
    if (config->threads > SERVER_MAX_THREADS)
        return "threads: more than SERVER_MAX_THREADS";
    if (config->accepts > SERVER_MAX_ACCEPTS)
        return "accepts: more than SERVER_MAX_ACCEPTS";
    if (config->max_frame > SERVER_MAX_FRAME)
        return "max_frame: more than SERVER_MAX_FRAME";
    if (config->idle_ms < 0)
        return "idle_ms: below 0";
    return NULL;
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

/* The listener, its port, AcceptEx and the pool's timer; false after reporting why not. */
static bool open_listener(server *srv, unsigned short port)
{
    srv->listener = net_listen_loopback(port, &srv->port);
    if (srv->listener == INVALID_SOCKET)
        return false; /* reported */
    if (!async_socket_load_accept_ex(srv->listener, &srv->accept_ex)) {
        report_error("WSAIoctl (AcceptEx)", (DWORD)WSAGetLastError());
        return false;
    }
    srv->completion_port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    if (srv->completion_port == NULL ||
        CreateIoCompletionPort((HANDLE)srv->listener, srv->completion_port, 0, 0) == NULL) {
        report_error("CreateIoCompletionPort", GetLastError());
        return false;
    }
    srv->refill_timer = CreateThreadpoolTimer(refill_when_due, srv, NULL);
    if (srv->refill_timer == NULL) {
        report_error("CreateThreadpoolTimer", GetLastError());
        return false;
    }
    return true;
}

server *server_start(const server_config *config)
{
    const char *problem = config_problem(config);
    if (problem != NULL) {
        fprintf(stderr, "server_start: %s\n", problem);
        return NULL;
    }
    server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    srv->config = *config;
    apply_defaults(&srv->config);
    srv->listener = INVALID_SOCKET;
    srv->refill_ms = REFILL_FIRST_MS;
    InitializeSRWLock(&srv->list_lock);
    InitializeSRWLock(&srv->listener_lock);
    srv->list.next = srv->list.prev = &srv->list;
    if (!open_listener(srv, config->port) || !start_threads(srv)) {
        report_error("starting the server", GetLastError());
        server_stop(srv, NULL);
        return NULL;
    }
    refill_accepts(srv);
    if (InterlockedCompareExchange(&srv->accepts_outstanding, 0, 0) == 0) {
        fprintf(stderr, "server_start: not one AcceptEx could be posted\n");
        server_stop(srv, NULL);
        return NULL;
    }
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
    counters->accepts_pending = InterlockedCompareExchange(&srv->accepts_outstanding, 0, 0);
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
    /* No refill after this: the pool's timer is off, its callback finished if it ran. */
    if (srv->refill_timer != NULL) {
        SetThreadpoolTimer(srv->refill_timer, NULL, 0, 0);
        WaitForThreadpoolTimerCallbacks(srv->refill_timer, TRUE);
    }
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

/* snippet:begin drain_completions */
/* Waits, bounded, until every operation the kernel accepted has delivered its completion:
 * only then may the workers stop. Operations that failed at once were never counted. */
static void drain_completions(server *srv)
{
    ULONGLONG deadline = GetTickCount64() + DRAIN_MS;
    while (InterlockedCompareExchange(&srv->io_pending, 0, 0) > 0 &&
           GetTickCount64() < deadline)
        Sleep(10);
}
/* snippet:end drain_completions */

/* One quit packet for a worker (a packet with no OVERLAPPED). A worker whose packet is
 * missing would wait on the port for ever, and server_stop with it, so a post that fails
 * is tried again, after a pause that doubles each time (Microsoft's page does not say when
 * PostQueuedCompletionStatus fails; libuv treats a failure as fatal instead). */
static void post_quit(server *srv)
{
    DWORD pause_ms = 10;
    while (!PostQueuedCompletionStatus(srv->completion_port, 0, 0, NULL)) {
        if (pause_ms == 10)
            report_error("PostQueuedCompletionStatus (retrying)", GetLastError());
        Sleep(pause_ms);
        pause_ms = pause_ms < 1000 ? pause_ms * 2 : 1000;
    }
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
        if (srv->workers[i] != NULL)
            post_quit(srv);
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
    if (srv->refill_timer != NULL)
        CloseThreadpoolTimer(srv->refill_timer);
    free(srv);
}
