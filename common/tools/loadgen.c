/* loadgen: the bench's load generator. It plays many clients at once against a server on
 * 127.0.0.1 and says, on one line, what the server managed (cmake/bench reads that line).
 *
 *   loadgen --port 7004 --connections 64 --size 512 --ms 3000
 *   -> result mode=pingpong connections=64 connected=64 size=512 requests=41234 ms=3004
 *      msgs_per_s=13726 p50_us=4410 p99_us=9120 refused=0 closed=0 wrong=0 stalled=0 late=0
 *      away=0 verdict=ok
 *   loadgen --port 7004 --idle --connections 1000 --ms 20000
 *   -> holding connected=1000 connections=1000
 *   -> result mode=idle connections=1000 connected=1000 refused=0 closed=0 verdict=ok
 *
 * Ping-pong: every connection sends a frame (a 4-byte length in network byte order, then
 * --size bytes: the protocol of steps 06 and 07) and waits for the whole echo before it
 * sends the next. The echo servers of steps 01 to 05 send any bytes back as they came, so
 * the same frame measures them too. --greeting reads the greeting frame the servers of
 * steps 06 and 07 send first on every connection, before anything else. The clock starts once every connection has had its
 * first echo (a warm-up: step 01 starts a thread per client, AcceptEx servers take the
 * backlog a few at a time), or after WARMUP_MS. The run then ends after --ms milliseconds
 * or --requests round trips, whichever comes first; every connection finishes the round
 * trip it is in. Only the round trips that end while the clock runs are counted.
 *
 * It must not be the bottleneck it measures, so it does what it teaches: one completion
 * port, two worker threads (--threads), a context per connection with one operation in
 * flight, the OVERLAPPED first in it. Nothing in it blocks on a server, and every wait has
 * a bound: a server that stops answering, or turns clients away (step 02 serves 62 at
 * once), gives a result line that says so (verdict=overloaded), never a hang.
 *
 * Exit status: 0 when it measured something (whatever the verdict), 1 when it could not
 * run or not a single connection got through (no server there), 2 on bad usage.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutorial/cli.h"
#include "tutorial/errors.h"
#include "tutorial/net.h"
#include "tutorial/stop.h"

enum {
    HEADER = 4,
    FINE = 65536,          /* round trips up to 65,536 µs are counted to the microsecond, */
    COARSE_STEP = 64,      /* longer ones in 64 µs steps, up to about 4.3 s               */
    BUCKETS = 2 * FINE,
    WARMUP_MS = 5000,      /* the longest wait for every connection's first echo         */
    GRACE_MS = 3000,       /* how long past --ms a round trip may take before it is stalled */
    CANCEL_MS = 2000,      /* how long the cancelled operations get to come back           */
    MAX_WORKERS = 16
};

/* How a connection ended; the result line counts each. */
typedef enum { RUNNING, DONE, CLOSED, WRONG, STALLED, ENDINGS } ending;

typedef struct connection {
    OVERLAPPED overlapped; /* first: the completion hands back its address, which is ours */
    SOCKET socket;
    bool receiving;        /* the operation in flight: the echo's receive, or the send   */
    DWORD done;            /* bytes of the frame sent, or of its echo received, so far   */
    LARGE_INTEGER sent_at; /* when this round trip began                                 */
    unsigned char *echo;   /* where the echo lands (frame_size bytes)                    */
    volatile LONG ended;   /* an ending; RUNNING until then                              */
    bool warm;             /* has had its first echo                                     */
    bool late;             /* had it only after WARMUP_MS, when the clock was running    */
} connection;

typedef struct run {
    HANDLE port;
    connection *connections;
    int connected;
    const unsigned char *frame; /* the frame every connection sends */
    DWORD frame_size;
    LARGE_INTEGER frequency, started;
    volatile LONG64 deadline;   /* when no new round trip starts; far away until warm */
    volatile LONG measuring;    /* set when the clock starts                         */
    volatile LONG cold;         /* connections still waiting for their first echo    */
    HANDLE warm;                /* set when the last one has had it                  */
    LONG request_limit;
    volatile LONG issued;       /* round trips begun, all connections together */
    volatile LONG active;       /* connections not yet ended                   */
    volatile LONG stopping;     /* set when the run is past its bound          */
    volatile LONG endings[ENDINGS];
    LARGE_INTEGER finished_at;
    HANDLE finished;            /* set when the last connection has ended      */
} run;

/* Each worker counts its own round trips: no two threads ever write one counter. */
typedef struct worker {
    run *r;
    HANDLE thread;
    unsigned long *buckets; /* BUCKETS counts */
} worker;

static LARGE_INTEGER now(void)
{
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    return t;
}

static unsigned long long microseconds(const run *r, LONGLONG ticks)
{
    return (unsigned long long)(ticks * 1000000 / r->frequency.QuadPart);
}

static size_t bucket_of(unsigned long long us)
{
    if (us < FINE)
        return (size_t)us;
    unsigned long long coarse = (us - FINE) / COARSE_STEP;
    return FINE + (size_t)(coarse < FINE ? coarse : FINE - 1);
}

static unsigned long long value_of(size_t bucket)
{
    if (bucket < FINE)
        return bucket;
    return FINE + (unsigned long long)(bucket - FINE) * COARSE_STEP + COARSE_STEP / 2;
}

/* ---- one connection's round trips (on a worker, or on main for the first) ------------- */

static void end_connection(run *r, connection *c, ending how)
{
    if (InterlockedCompareExchange(&c->ended, (LONG)how, RUNNING) != RUNNING)
        return;
    InterlockedIncrement(&r->endings[how]);
    if (!c->warm && InterlockedDecrement(&r->cold) == 0)
        SetEvent(r->warm); /* it will never have its first echo: the clock need not wait */
    if (InterlockedDecrement(&r->active) == 0) {
        r->finished_at = now();
        SetEvent(r->finished);
    }
}

/* Starts the operation the connection is at. A call that fails at once queues no
 * completion, so the connection ends here. */
static void start_operation(run *r, connection *c)
{
    DWORD flags = 0;
    WSABUF buffer;
    int answer;
    ZeroMemory(&c->overlapped, sizeof c->overlapped);
    if (c->receiving) {
        buffer.buf = (char *)c->echo + c->done;
        buffer.len = r->frame_size - c->done;
        answer = WSARecv(c->socket, &buffer, 1, NULL, &flags, &c->overlapped, NULL);
    } else {
        buffer.buf = (char *)r->frame + c->done;
        buffer.len = r->frame_size - c->done;
        answer = WSASend(c->socket, &buffer, 1, NULL, 0, &c->overlapped, NULL);
    }
    if (answer != 0 && WSAGetLastError() != WSA_IO_PENDING)
        end_connection(r, c, CLOSED);
}

/* The next round trip, unless the run is over. */
static void next_round_trip(run *r, connection *c)
{
    if (r->stopping || now().QuadPart >= InterlockedCompareExchange64(&r->deadline, 0, 0) ||
        InterlockedIncrement(&r->issued) > r->request_limit) {
        end_connection(r, c, DONE);
        return;
    }
    c->receiving = false;
    c->done = 0;
    c->sent_at = now();
    start_operation(r, c);
}

static void on_completion(worker *w, connection *c, BOOL ok, DWORD bytes)
{
    run *r = w->r;
    if (!ok || bytes == 0) { /* reset, closed, or cancelled by us at the bound */
        end_connection(r, c, r->stopping ? STALLED : CLOSED);
        return;
    }
    if (c->receiving && memcmp(c->echo + c->done, r->frame + c->done, bytes) != 0) {
        end_connection(r, c, WRONG); /* e.g. step 02's "server full" */
        return;
    }
    c->done += bytes;
    if (c->done < r->frame_size) {
        start_operation(r, c); /* the rest of the send, or of the echo */
        return;
    }
    if (!c->receiving) {
        c->receiving = true;
        c->done = 0;
        start_operation(r, c);
        return;
    }
    if (!c->warm) {
        c->warm = true;
        c->late = r->measuring != 0;
        if (InterlockedDecrement(&r->cold) == 0)
            SetEvent(r->warm);
    } else if (r->measuring) {
        w->buckets[bucket_of(microseconds(r, now().QuadPart - c->sent_at.QuadPart))]++;
    }
    next_round_trip(r, c);
}

static DWORD WINAPI worker_main(void *argument)
{
    worker *w = argument;
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *overlapped = NULL;
        BOOL ok = GetQueuedCompletionStatus(w->r->port, &bytes, &key, &overlapped, INFINITE);
        if (overlapped == NULL)
            return 0; /* our quit packet (or the port is gone) */
        on_completion(w, (connection *)overlapped, ok, bytes);
    }
}

/* ---- connecting, and the two modes ----------------------------------------------------- */

/* Connects up to count sockets, one after another, until connect_ms have passed; with
 * greeting, each reads the server's greeting first (a connection whose greeting does not
 * come in time is not counted). A loopback connect is answered at once (the listen backlog
 * takes it, or nobody listens); the bound is for a machine where it is not. Returns how
 * many connected. */
static int connect_all(unsigned short port, SOCKET *sockets, int count, DWORD connect_ms,
                       bool greeting)
{
    ULONGLONG until = GetTickCount64() + connect_ms;
    int connected = 0;
    for (int i = 0; i < count && GetTickCount64() < until; i++) {
        SOCKET s = net_connect_loopback(port);
        if (s == INVALID_SOCKET)
            continue;
        if (greeting && (!net_set_recv_timeout(s, connect_ms) || !net_read_greeting(s))) {
            closesocket(s);
            continue;
        }
        BOOL no_delay = TRUE; /* a frame goes out as one segment, now */
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&no_delay, sizeof no_delay);
        sockets[connected++] = s;
    }
    return connected;
}

/* Has the server ended s (an orderly close or a reset waiting to be read, or bytes it
 * should not have sent an idle client)? */
static bool ended_by_server(SOCKET s)
{
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(s, &readable);
    struct timeval at_once = {0, 0};
    return select(0, &readable, NULL, NULL, &at_once) == 1;
}

static int idle(unsigned short port, int count, int ms, bool greeting)
{
    SOCKET *sockets = calloc((size_t)count, sizeof *sockets);
    if (sockets == NULL)
        return 1;
    int connected = connect_all(port, sockets, count, 10000, greeting);
    printf("holding connected=%d connections=%d\n", connected, count);
    fflush(stdout);
    /* The hold itself: until --ms pass, or Ctrl-C (the bench ends it once it has measured). */
    WaitForSingleObject(stop_event(), (DWORD)ms);
    int closed = 0;
    for (int i = 0; i < connected; i++) {
        closed += ended_by_server(sockets[i]);
        closesocket(sockets[i]);
    }
    bool whole = connected == count && closed == 0;
    printf("result mode=idle connections=%d connected=%d refused=%d closed=%d verdict=%s\n",
           count, connected, count - connected, closed, whole ? "ok" : "overloaded");
    fflush(stdout);
    free(sockets);
    return connected > 0 ? 0 : 1;
}

static unsigned long long percentile(const unsigned long *counts, unsigned long long total,
                                     unsigned percent)
{
    if (total == 0)
        return 0;
    unsigned long long rank = (total * percent + 99) / 100, seen = 0; /* the rank-th smallest */
    for (size_t i = 0; i < BUCKETS; i++) {
        seen += counts[i];
        if (seen >= rank)
            return value_of(i);
    }
    return value_of(BUCKETS - 1);
}

typedef struct pingpong_args {
    unsigned short port;
    int connections, size, ms, requests, threads;
    bool greeting;
} pingpong_args;

static unsigned char *make_frame(int size)
{
    unsigned char *frame = malloc(HEADER + (size_t)size);
    if (frame == NULL)
        return NULL;
    net_put_frame_length(frame, (unsigned long)size);
    for (int i = 0; i < size; i++)
        frame[HEADER + i] = (unsigned char)('a' + i % 26);
    return frame;
}

/* Ends the connections still running once the bound has passed: a cancelled operation
 * completes with ERROR_OPERATION_ABORTED, which ends its connection as stalled. A worker
 * may start a connection's next operation just after our cancel, so we cancel again until
 * every connection has ended, or CANCEL_MS have passed. */
static void cancel_the_rest(run *r)
{
    InterlockedExchange(&r->stopping, 1);
    for (int waited = 0; waited < CANCEL_MS && r->active > 0; waited += 50) {
        for (int i = 0; i < r->connected; i++) {
            if (r->connections[i].ended == RUNNING)
                CancelIoEx((HANDLE)r->connections[i].socket, NULL);
        }
        WaitForSingleObject(r->finished, 50);
    }
}

static int pingpong(const pingpong_args *a)
{
    run r = {0};
    worker workers[MAX_WORKERS] = {0};
    SOCKET *sockets = calloc((size_t)a->connections, sizeof *sockets);
    unsigned char *frame = make_frame(a->size);
    r.connections = calloc((size_t)a->connections, sizeof *r.connections);
    r.finished = CreateEventW(NULL, TRUE, FALSE, NULL);
    r.warm = CreateEventW(NULL, TRUE, FALSE, NULL);
    r.port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, (DWORD)a->threads);
    if (sockets == NULL || frame == NULL || r.connections == NULL || r.finished == NULL ||
        r.warm == NULL || r.port == NULL) {
        report_error("loadgen: setting up", GetLastError());
        return 1;
    }
    r.frame = frame;
    r.frame_size = HEADER + (DWORD)a->size;
    r.request_limit = a->requests;
    QueryPerformanceFrequency(&r.frequency);

    r.connected = connect_all(a->port, sockets, a->connections, 10000, a->greeting);
    for (int i = 0; i < r.connected; i++) {
        connection *c = &r.connections[i];
        c->socket = sockets[i];
        c->echo = malloc(r.frame_size);
        if (c->echo == NULL || CreateIoCompletionPort((HANDLE)c->socket, r.port, 0, 0) == NULL) {
            report_error("loadgen: a connection's buffer or its completion port", GetLastError());
            return 1;
        }
    }
    for (int i = 0; i < a->threads; i++) {
        workers[i].r = &r;
        workers[i].buckets = calloc(BUCKETS, sizeof *workers[i].buckets);
        workers[i].thread = workers[i].buckets == NULL
                                ? NULL
                                : CreateThread(NULL, 0, worker_main, &workers[i], 0, NULL);
        if (workers[i].thread == NULL) {
            report_error("loadgen: starting a worker", GetLastError());
            return 1;
        }
    }

    /* Every connection starts its first round trip now; the clock starts when all have had
     * their first echo. */
    r.active = r.cold = r.connected;
    r.deadline = MAXLONGLONG;
    if (r.connected == 0) {
        SetEvent(r.finished);
        SetEvent(r.warm);
    }
    for (int i = 0; i < r.connected; i++)
        next_round_trip(&r, &r.connections[i]);
    WaitForSingleObject(r.warm, WARMUP_MS); /* a connection still cold then is late */
    r.started = now();
    /* Only main writes the deadline: one compare-exchange against its current value sets it. */
    LONG64 deadline = r.started.QuadPart + r.frequency.QuadPart * a->ms / 1000;
    InterlockedCompareExchange64(&r.deadline, deadline, MAXLONGLONG);
    InterlockedExchange(&r.measuring, 1);
    if (WaitForSingleObject(r.finished, (DWORD)a->ms + GRACE_MS) != WAIT_OBJECT_0)
        cancel_the_rest(&r);
    if (r.active > 0)
        r.finished_at = now(); /* some never came back, even cancelled: counted as stalled */

    /* One quit packet per worker (a NULL OVERLAPPED), then the counts are all theirs. */
    for (int i = 0; i < a->threads; i++)
        PostQueuedCompletionStatus(r.port, 0, 0, NULL);
    bool joined = true;
    static unsigned long counts[BUCKETS];
    unsigned long long total = 0;
    for (int i = 0; i < a->threads; i++) {
        joined = WaitForSingleObject(workers[i].thread, 5000) == WAIT_OBJECT_0 && joined;
        for (size_t b = 0; b < BUCKETS; b++) {
            counts[b] += workers[i].buckets[b];
            total += workers[i].buckets[b];
        }
    }

    LONGLONG measured = r.finished_at.QuadPart - r.started.QuadPart; /* < 0: all ended cold */
    unsigned long long elapsed_us = measured > 0 ? microseconds(&r, measured) : 0;
    long stalled = r.endings[STALLED] + (r.active > 0 ? r.active : 0);
    /* Turned away: every connection that did not take part in the whole run, once each. */
    long late = 0, away = a->connections - r.connected;
    for (int i = 0; i < r.connected; i++) {
        late += r.connections[i].ended == DONE && r.connections[i].late;
        away += r.connections[i].ended != DONE || r.connections[i].late;
    }
    printf("result mode=pingpong connections=%d connected=%d size=%d requests=%llu ms=%llu "
           "msgs_per_s=%.0f p50_us=%llu p99_us=%llu refused=%d closed=%ld wrong=%ld stalled=%ld "
           "late=%ld away=%ld verdict=%s\n",
           a->connections, r.connected, a->size, total, elapsed_us / 1000,
           elapsed_us ? (double)total * 1e6 / (double)elapsed_us : 0.0,
           percentile(counts, total, 50), percentile(counts, total, 99),
           a->connections - r.connected, (long)r.endings[CLOSED], (long)r.endings[WRONG],
           stalled, late, away, away == 0 ? "ok" : "overloaded");
    fflush(stdout);

    for (int i = 0; i < r.connected; i++)
        closesocket(r.connections[i].socket);
    if (joined && r.active == 0) { /* else a worker or an operation may still use them */
        for (int i = 0; i < r.connected; i++)
            free(r.connections[i].echo);
        for (int i = 0; i < a->threads; i++) {
            CloseHandle(workers[i].thread);
            free(workers[i].buckets);
        }
        free(r.connections);
        free(frame);
        CloseHandle(r.port);
        CloseHandle(r.warm);
        CloseHandle(r.finished);
    }
    free(sockets);
    return r.connected > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    pingpong_args a = {0, 1, 512, 3000, 100000000, 2, false};
    int port = 0;
    bool idle_mode = false;
    const cli_option options[] = {
        {"--port", CLI_INT, "N", 1, 65535, &port, "the server's port on 127.0.0.1 (required)"},
        {"--connections", CLI_INT, "N", 1, 10000, &a.connections,
         "connections at once (default 1)"},
        {"--size", CLI_INT, "BYTES", 0, 65536, &a.size,
         "payload of each frame, after its 4-byte length (default 512)"},
        {"--ms", CLI_INT, "N", 1, 600000, &a.ms,
         "how long the run lasts, or the idle connections are held (default 3000)"},
        {"--requests", CLI_INT, "N", 1, 2000000000, &a.requests,
         "at most N round trips in all (default 100000000)"},
        {"--threads", CLI_INT, "N", 1, MAX_WORKERS, &a.threads,
         "worker threads on the completion port (default 2)"},
        {"--idle", CLI_FLAG, NULL, 0, 0, &idle_mode,
         "hold the connections open and send nothing, instead of ping-pong"},
        {"--greeting", CLI_FLAG, NULL, 0, 0, &a.greeting,
         "read the greeting frame of steps 06 and 07 on every connection first"},
    };
    const cli_program program = {"loadgen",
                                 "ping-pong or idle clients against a server, one result line",
                                 options, sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);
    if (port == 0) {
        fprintf(stderr, "loadgen: --port is required\n");
        cli_print_usage(&program);
        return CLI_EXIT_USAGE;
    }
    if (!net_startup())
        return 1;
    a.port = (unsigned short)port;
    int status = idle_mode ? idle(a.port, a.connections, a.ms, a.greeting) : pingpong(&a);
    WSACleanup();
    return status;
}
