/* Checker of exercise 05.1 (extend): with server_config.max_accepts M (step05-server
 * --max-accepts M), the server posts more AcceptEx calls when a burst of clients finds none
 * waiting, up to M accept contexts in all.
 *
 * The checker runs the server in-process, under the page heap, and watches its AcceptEx
 * calls through the program's imports (tutorial/import_hook.h): when the server asks
 * WSAIoctl for AcceptEx's address, it gets one that records every call and its OVERLAPPED
 * (each accept context has its own, and the page heap never hands an address out twice);
 * the watched GetQueuedCompletionStatus sees when each accept's packet is dequeued. So it
 * knows how many AcceptEx calls wait on the listener at any moment, and how many accept
 * contexts the server made. To make a burst outrun the accepts the way a busy server's does,
 * its watched setsockopt keeps a worker 20 ms on each accepted socket
 * (SO_UPDATE_ACCEPT_CONTEXT). It counts the new accept contexts each worker posts per accept
 * packet it took (growth is one at a time), and forces two workers to grow the accepts at
 * once (two_workers_growing_at_once_never_pass_the_maximum). Sizes and client counts come
 * from the run's seed. */
#include <stdio.h>
#include <string.h>

#include "server.h"
#include "tutorial/checkkit.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

#include <mswsock.h>

enum { MESSAGE = 512, MAX_CLIENTS = 160, MAX_TRACKED = 4096, HOLD_MS = 20, QUIET_MS = 5000 };

/* ---- watching the accepts ---------------------------------------------------------------- */

typedef BOOL(WINAPI *gqcs_function)(HANDLE, LPDWORD, PULONG_PTR, LPOVERLAPPED *, DWORD);
typedef int(WSAAPI *setsockopt_function)(SOCKET, int, int, const char *, int);
static gqcs_function real_gqcs;
static setsockopt_function real_setsockopt;
static tk_accept_ex_function real_accept_ex;

typedef struct accepts_seen {
    SRWLOCK lock;
    OVERLAPPED *waiting[MAX_TRACKED]; /* posted, packet not dequeued yet */
    int waiting_count, most_waiting;
    OVERLAPPED *contexts[MAX_TRACKED]; /* every OVERLAPPED an AcceptEx was given */
    int context_count;
    long calls;
    volatile LONG hold_ms;
} accepts_seen;

static accepts_seen seen = {SRWLOCK_INIT};

/* What each worker did since it last took a packet off the port: whether that packet was
 * an accept's, how many new accept contexts (an AcceptEx with an OVERLAPPED never seen
 * before) it has posted since, and whether it is still between that packet and its accepted
 * socket's SO_UPDATE_ACCEPT_CONTEXT, its first allocation or its first lock (where a worker
 * decides whether to grow the accepts). */
enum { MAX_WORKERS = 64 };
typedef struct worker_record {
    DWORD thread;
    bool accept_in_hand;
    bool deciding;
    int new_contexts;
} worker_record;
static worker_record workers[MAX_WORKERS]; /* under seen.lock */
static int worker_count;
static int most_new_per_accept; /* the most new contexts one worker posted for one accept */

/* The record of the calling thread (seen.lock held); NULL when it has none and make is
 * false, or when the table is full. */
static worker_record *worker_of_caller(bool make)
{
    DWORD me = GetCurrentThreadId();
    for (int i = 0; i < worker_count; i++)
        if (workers[i].thread == me)
            return &workers[i];
    if (!make || worker_count == MAX_WORKERS)
        return NULL;
    workers[worker_count] = (worker_record){me, false, false, 0};
    return &workers[worker_count++];
}

/* The forced race (two_workers_growing_at_once_never_pass_the_maximum): the first worker
 * that allocates memory while deciding, after an accept's packet, is held there until a
 * second one does the same or the test lets it go; a worker that takes a lock while deciding
 * can be held before it (the gate), to keep its accept in its hands. Every hold is bounded. */
enum { RACE_HOLD_MS = 4 * TK_PROMPT_MS };
static struct {
    volatile LONG armed, arrived, at_gate;
    HANDLE second, release, gate_open; /* manual-reset events */
} race;

static void reset_seen(DWORD hold_ms)
{
    AcquireSRWLockExclusive(&seen.lock);
    seen.waiting_count = seen.most_waiting = seen.context_count = 0;
    seen.calls = 0;
    seen.hold_ms = (LONG)hold_ms;
    worker_count = 0;
    most_new_per_accept = 0;
    ReleaseSRWLockExclusive(&seen.lock);
}

static void posted(OVERLAPPED *overlapped)
{
    AcquireSRWLockExclusive(&seen.lock);
    seen.calls++;
    bool known = false;
    for (int i = 0; i < seen.context_count && !known; i++)
        known = seen.contexts[i] == overlapped;
    if (!known && seen.context_count < MAX_TRACKED)
        seen.contexts[seen.context_count++] = overlapped;
    worker_record *w = known ? NULL : worker_of_caller(false);
    if (w != NULL && w->accept_in_hand && ++w->new_contexts > most_new_per_accept)
        most_new_per_accept = w->new_contexts;
    if (seen.waiting_count < MAX_TRACKED)
        seen.waiting[seen.waiting_count++] = overlapped;
    if (seen.waiting_count > seen.most_waiting)
        seen.most_waiting = seen.waiting_count;
    ReleaseSRWLockExclusive(&seen.lock);
}

/* A worker took overlapped's packet off the port. */
static void taken_by_worker(OVERLAPPED *overlapped)
{
    AcquireSRWLockExclusive(&seen.lock);
    bool accept = false;
    for (int i = 0; i < seen.context_count && !accept; i++)
        accept = seen.contexts[i] == overlapped;
    worker_record *w = worker_of_caller(true);
    if (w != NULL)
        *w = (worker_record){w->thread, accept, accept, 0};
    ReleaseSRWLockExclusive(&seen.lock);
}

/* The calling worker has reached the accepted socket's SO_UPDATE_ACCEPT_CONTEXT, allocated
 * memory or taken a lock since its accept's packet: true when it was still deciding until
 * now. */
static bool done_deciding(void)
{
    AcquireSRWLockExclusive(&seen.lock);
    worker_record *w = worker_of_caller(false);
    bool was = w != NULL && w->deciding;
    if (w != NULL)
        w->deciding = false;
    ReleaseSRWLockExclusive(&seen.lock);
    return was;
}

static void dequeued(OVERLAPPED *overlapped)
{
    AcquireSRWLockExclusive(&seen.lock);
    for (int i = 0; i < seen.waiting_count; i++)
        if (seen.waiting[i] == overlapped) {
            seen.waiting[i] = seen.waiting[--seen.waiting_count];
            break;
        }
    ReleaseSRWLockExclusive(&seen.lock);
}

static int waiting_now(void)
{
    AcquireSRWLockShared(&seen.lock);
    int n = seen.waiting_count;
    ReleaseSRWLockShared(&seen.lock);
    return n;
}

static BOOL WINAPI watching_accept_ex(SOCKET listener, SOCKET accepted, PVOID buffer,
                                      DWORD receive_length, DWORD local_length,
                                      DWORD remote_length, LPDWORD bytes,
                                      LPOVERLAPPED overlapped)
{
    /* Counted before the call: its packet may be dequeued before the call returns. */
    posted(overlapped);
    BOOL done = real_accept_ex(listener, accepted, buffer, receive_length, local_length,
                               remote_length, bytes, overlapped);
    int error = WSAGetLastError();
    if (!done && error != WSA_IO_PENDING)
        dequeued(overlapped); /* failed at once: no packet will come */
    WSASetLastError(error);
    return done;
}

static BOOL WINAPI watching_gqcs(HANDLE port, LPDWORD bytes, PULONG_PTR key,
                                 LPOVERLAPPED *overlapped, DWORD ms)
{
    BOOL ok = real_gqcs(port, bytes, key, overlapped, ms);
    DWORD error = GetLastError();
    if (*overlapped != NULL) {
        dequeued(*overlapped);
        taken_by_worker(*overlapped);
    }
    SetLastError(error);
    return ok;
}

static int WSAAPI watching_setsockopt(SOCKET s, int level, int name, const char *value,
                                      int length)
{
    if (level == SOL_SOCKET && name == SO_UPDATE_ACCEPT_CONTEXT) {
        done_deciding();
        if (seen.hold_ms > 0)
            Sleep((DWORD)seen.hold_ms); /* a worker busy with the client it has just taken */
    }
    return real_setsockopt(s, level, name, value, length);
}

/* The gate: a worker that takes a lock, after its accept's packet, without having allocated
 * anything first has decided not to grow the accepts; while the gate is shut it waits
 * before the lock, with its accept still in its hands. */
typedef void(WINAPI *enter_function)(LPCRITICAL_SECTION);
static enter_function real_enter;

static void WINAPI watching_enter(LPCRITICAL_SECTION section)
{
    DWORD error = GetLastError();
    if (InterlockedCompareExchange(&race.armed, 0, 0) != 0 && done_deciding()) {
        InterlockedIncrement(&race.at_gate);
        WaitForSingleObject(race.gate_open, RACE_HOLD_MS);
        InterlockedDecrement(&race.at_gate);
    }
    SetLastError(error);
    real_enter(section);
}

typedef void *(__cdecl *calloc_function)(size_t, size_t);
static calloc_function real_calloc;

static void *__cdecl watching_calloc(size_t count, size_t size)
{
    DWORD error = GetLastError();
    if (InterlockedCompareExchange(&race.armed, 0, 0) != 0 && done_deciding()) {
        if (InterlockedIncrement(&race.arrived) == 1) {
            HANDLE either[2] = {race.second, race.release};
            WaitForMultipleObjects(2, either, FALSE, RACE_HOLD_MS);
        } else {
            SetEvent(race.second);
        }
    }
    SetLastError(error);
    return real_calloc(count, size);
}

static int hook_up(void **state)
{
    bool accept_ex_watched = tk_hook_accept_ex(watching_accept_ex, &real_accept_ex);
    real_gqcs = (gqcs_function)tk_hook_import("GetQueuedCompletionStatus",
                                              (tk_function)watching_gqcs);
    real_setsockopt =
        (setsockopt_function)tk_hook_import("setsockopt", (tk_function)watching_setsockopt);
    real_calloc = (calloc_function)tk_hook_import("calloc", (tk_function)watching_calloc);
    real_enter =
        (enter_function)tk_hook_import("EnterCriticalSection", (tk_function)watching_enter);
    race.second = CreateEventW(NULL, TRUE, FALSE, NULL);
    race.release = CreateEventW(NULL, TRUE, FALSE, NULL);
    race.gate_open = CreateEventW(NULL, TRUE, TRUE, NULL);
    if (!accept_ex_watched || real_gqcs == NULL || real_setsockopt == NULL ||
        real_calloc == NULL || real_enter == NULL || race.second == NULL || race.release == NULL ||
        race.gate_open == NULL) {
        print_error("could not watch WSAIoctl, GetQueuedCompletionStatus, setsockopt, calloc "
                    "and EnterCriticalSection in the checker's imports\n");
        return -1;
    }
    ck_seed();
    return tk_winsock_up(state);
}

/* ---- the server under a burst -------------------------------------------------------- */

typedef struct outcome {
    int waiting_at_the_end; /* AcceptEx calls waiting once every client had gone */
    int contexts;           /* accept contexts the server made                 */
    int most_waiting;       /* the most AcceptEx calls waiting at one moment     */
    int most_new_per_accept; /* the most new contexts a worker made for one accept */
} outcome;

/* `clients` connect at once (a connect completes in the TCP backlog, before any AcceptEx
 * takes it), then each echoes one message and closes. */
static void burst_of_clients(unsigned short port, int clients)
{
    static SOCKET sockets[MAX_CLIENTS];
    static unsigned char sent[MESSAGE], back[MESSAGE];
    for (int i = 0; i < clients; i++) {
        sockets[i] = net_connect_loopback(port);
        assert_true(sockets[i] != INVALID_SOCKET);
        assert_true(net_set_recv_timeout(sockets[i], 2 * TK_PROMPT_MS));
    }
    for (int i = 0; i < clients; i++) {
        tk_fill_pattern(sent, MESSAGE, (unsigned)i);
        assert_true(net_send_all(sockets[i], sent, MESSAGE));
        assert_int_equal(shutdown(sockets[i], SD_SEND), 0);
    }
    for (int i = 0; i < clients; i++) {
        tk_fill_pattern(sent, MESSAGE, (unsigned)i);
        char end;
        if (!net_recv_all(sockets[i], back, MESSAGE) || memcmp(back, sent, MESSAGE) != 0 ||
            recv(sockets[i], &end, 1, 0) != 0)
            fail_msg("expected client %d's %d bytes echoed, then the server's close; they "
                     "did not come within %d ms",
                     i, MESSAGE, 2 * TK_PROMPT_MS);
        closesocket(sockets[i]);
    }
}

static bool all_closed(void *context)
{
    server *srv = context;
    server_counters c;
    server_read_counters(srv, &c);
    return c.closed == c.accepted;
}

static bool accepts_waiting_again(void *context)
{
    return waiting_now() >= *(const int *)context;
}

/* One client after the other, each served and gone, and its accept posted again, before
 * the next connects: then `accepts` AcceptEx calls wait whenever a client comes. */
static void trickle_of_clients(server *srv, int clients, int accepts)
{
    for (int i = 0; i < clients; i++) {
        if (!tk_wait_until(accepts_waiting_again, &accepts, TK_PROMPT_MS))
            fail_msg("expected the server to post its %d accepts again within %d ms of a "
                     "client's end; %d were waiting",
                     accepts, TK_PROMPT_MS, waiting_now());
        SOCKET s = net_connect_loopback(server_port(srv));
        assert_true(s != INVALID_SOCKET);
        assert_true(net_set_recv_timeout(s, TK_PROMPT_MS));
        unsigned char sent[MESSAGE], back[MESSAGE];
        tk_fill_pattern(sent, MESSAGE, (unsigned)i);
        char end;
        if (!net_send_all(s, sent, MESSAGE) || shutdown(s, SD_SEND) != 0 ||
            !net_recv_all(s, back, MESSAGE) || memcmp(back, sent, MESSAGE) != 0 ||
            recv(s, &end, 1, 0) != 0)
            fail_msg("expected client %d's %d bytes echoed, then the server's close", i,
                     MESSAGE);
        closesocket(s);
    }
}

typedef enum { BURST, TRICKLE } arrival;

/* Every accept that has come back has been posted again once the workers are done with
 * their clients, unless a worker is still on its way there: waits until the count of
 * waiting accepts stops moving (the same count five looks in a row, 20 ms apart), for at
 * most QUIET_MS; the checks that follow judge the count it ends with. */
static void wait_until_waiting_settles(void)
{
    ULONGLONG deadline = GetTickCount64() + QUIET_MS;
    int last = -1;
    for (int still = 0; still < 5 && GetTickCount64() < deadline; Sleep(20)) {
        int now = waiting_now();
        still = now == last ? still + 1 : 0;
        last = now;
    }
}

static outcome run_with(int threads, int accepts, int max_accepts, int clients, arrival how)
{
    reset_seen(HOLD_MS);
    server_config config = {0, threads, accepts, max_accepts};
    server *srv = server_start(&config);
    if (srv == NULL)
        fail_msg("expected server_start to start (%d threads, %d accepts, max %d); it failed",
                 threads, accepts, max_accepts);
    if (clients > 0 && how == BURST)
        burst_of_clients(server_port(srv), clients);
    if (clients > 0 && how == TRICKLE)
        trickle_of_clients(srv, clients, accepts);
    if (!tk_wait_until(all_closed, srv, QUIET_MS))
        fail_msg("expected the server to close every connection within %d ms of its client "
                 "leaving", QUIET_MS);
    wait_until_waiting_settles();
    outcome o = {waiting_now(), 0, 0, 0};
    AcquireSRWLockShared(&seen.lock);
    o.contexts = seen.context_count;
    o.most_waiting = seen.most_waiting;
    o.most_new_per_accept = most_new_per_accept;
    ReleaseSRWLockShared(&seen.lock);
    server_counters final;
    server_stop(srv, &final);
    print_message("measured: %d threads, --accepts %d --max-accepts %d, %d clients %s: %d "
                  "accept contexts made, %d AcceptEx waiting at the end, at most %d at once\n",
                  threads, accepts, max_accepts, clients,
                  how == BURST ? "at once" : "one after the other", o.contexts,
                  o.waiting_at_the_end, o.most_waiting);
    if (final.live_contexts != 0 || final.accepted != clients)
        fail_msg("expected %d clients accepted and no context left after server_stop; %ld "
                 "accepted, %ld contexts left",
                 clients, final.accepted, final.live_contexts);
    return o;
}

static outcome run(int threads, int accepts, int max_accepts, int clients)
{
    return run_with(threads, accepts, max_accepts, clients, BURST);
}

/* ---- the tests -------------------------------------------------------------------------- */

static void a_burst_grows_the_accepts_up_to_the_maximum(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        /* Room for two steps at least: a jump to the maximum is then more than one. */
        int accepts = ck_random(1, 2), max_accepts = ck_random(accepts + 2, 6);
        /* More workers than the maximum: enough of them to be busy with clients at once. */
        outcome o = run(max_accepts + 2, accepts, max_accepts, ck_random(100, MAX_CLIENTS));
        if (o.contexts > max_accepts || o.waiting_at_the_end > max_accepts)
            fail_msg("expected at most %d accept contexts (--max-accepts %d); the server made "
                     "%d, and %d AcceptEx calls were waiting at the end. Rule: the maximum "
                     "bounds the contexts, checked and raised in one step.",
                     max_accepts, max_accepts, o.contexts, o.waiting_at_the_end);
        if (o.most_new_per_accept > 1)
            fail_msg("expected the accepts to grow one at a time, from %d towards %d: one new "
                     "accept context for an AcceptEx that completed with none left waiting. "
                     "A worker posted AcceptEx calls with %d new contexts between taking one "
                     "accept's packet off the port and taking the next one",
                     accepts, max_accepts, o.most_new_per_accept);
        if (o.waiting_at_the_end != o.contexts)
            fail_msg("expected every accept context to have its AcceptEx waiting again once "
                     "the clients had gone; %d contexts, %d waiting",
                     o.contexts, o.waiting_at_the_end);
        if (o.contexts < max_accepts)
            fail_msg("expected the burst to grow the accepts from %d to the maximum, %d (the "
                     "workers were busy with clients, so accepts found none waiting); they "
                     "grew to %d. Rule: when an AcceptEx completes and none is left waiting, "
                     "post one more.",
                     accepts, max_accepts, o.contexts);
    }
}

/* Two workers grow the accepts at once, with the maximum one above them. The checker makes
 * the interleaving happen (every hold bounded):
 * 1. --accepts A, --max-accepts A + 1; A clients connect with the gate shut (a worker that
 *    takes a lock after its accept's packet without allocating first waits before it): all A
 *    accepts end up in workers' hands, and the last worker to take one finds none waiting
 *    and grows them. It is held in its first allocation (calloc) after its accept's packet:
 *    for a worker that grows, that is after it has checked the maximum and before its new
 *    AcceptEx.
 * 2. The others are let go and post their accepts again; then A - 1 more clients connect,
 *    held as before, so that again every accept is in a worker's hands when the last of them
 *    is taken: that worker finds none waiting, unless the count of accept contexts already
 *    says A + 1.
 * 3. Everyone goes on; the checker counts the contexts made. */
typedef struct race_point {
    int growers, held, all;
} race_point;

/* Reached: two workers grow at once; or one is held growing and `held` others at the gate;
 * or `all` of them wait at the gate (a server that takes a lock before it decides: the
 * interleaving cannot be made there, and the test goes on without it). */
static bool race_reached(void *context)
{
    const race_point *p = context;
    return race.arrived >= 2 || (race.arrived >= p->growers && race.at_gate >= p->held) ||
           race.at_gate >= p->all;
}

static void connect_clients(unsigned short port, SOCKET *sockets, int from, int to)
{
    unsigned char sent[MESSAGE];
    for (int i = from; i < to; i++) {
        sockets[i] = net_connect_loopback(port);
        assert_true(sockets[i] != INVALID_SOCKET);
        assert_true(net_set_recv_timeout(sockets[i], 2 * RACE_HOLD_MS));
        tk_fill_pattern(sent, MESSAGE, (unsigned)i);
        assert_true(net_send_all(sockets[i], sent, MESSAGE));
        assert_int_equal(shutdown(sockets[i], SD_SEND), 0);
    }
}

static void two_workers_growing_at_once_never_pass_the_maximum(void **state)
{
    (void)state;
    int accepts = ck_random(2, 4), max_accepts = accepts + 1;
    reset_seen(0);
    race.arrived = race.at_gate = 0;
    ResetEvent(race.second);
    ResetEvent(race.release);
    ResetEvent(race.gate_open); /* shut */
    InterlockedExchange(&race.armed, 1);
    server_config config = {0, accepts + 3, accepts, max_accepts};
    server *srv = server_start(&config);
    if (srv == NULL)
        fail_msg("expected server_start to start (%d threads, %d accepts, max %d); it failed",
                 accepts + 3, accepts, max_accepts);
    if (!tk_wait_until(accepts_waiting_again, &accepts, TK_PROMPT_MS))
        fail_msg("expected the server to post its %d accepts within %d ms; %d were waiting",
                 accepts, TK_PROMPT_MS, waiting_now());
    SOCKET sockets[16];
    int clients = accepts;
    connect_clients(server_port(srv), sockets, 0, clients);
    race_point first = {1, accepts - 1, accepts};
    tk_wait_until(race_reached, &first, 2 * TK_PROMPT_MS);
    if (race.arrived == 1) {
        SetEvent(race.gate_open); /* the others post their accepts again */
        int others = accepts - 1;
        if (!tk_wait_until(accepts_waiting_again, &others, TK_PROMPT_MS))
            fail_msg("expected the %d accepts not in the growing worker's hands to be posted "
                     "again within %d ms; %d were waiting", others, TK_PROMPT_MS,
                     waiting_now());
        ResetEvent(race.gate_open);
        connect_clients(server_port(srv), sockets, clients, clients + accepts - 1);
        clients += accepts - 1;
        race_point second = {1, accepts - 1, accepts - 1};
        tk_wait_until(race_reached, &second, 2 * TK_PROMPT_MS);
    }
    long arrived = race.arrived;
    InterlockedExchange(&race.armed, 0);
    SetEvent(race.gate_open);
    SetEvent(race.release);
    for (int i = 0; i < clients; i++) {
        unsigned char sent[MESSAGE], back[MESSAGE];
        tk_fill_pattern(sent, MESSAGE, (unsigned)i);
        char end;
        if (!net_recv_all(sockets[i], back, MESSAGE) || memcmp(back, sent, MESSAGE) != 0 ||
            recv(sockets[i], &end, 1, 0) != 0)
            fail_msg("expected client %d's %d bytes echoed, then the server's close", i,
                     MESSAGE);
        closesocket(sockets[i]);
    }
    if (!tk_wait_until(all_closed, srv, QUIET_MS))
        fail_msg("expected the server to close every connection within %d ms of its client "
                 "leaving", QUIET_MS);
    wait_until_waiting_settles();
    AcquireSRWLockShared(&seen.lock);
    int contexts = seen.context_count, most_new = most_new_per_accept;
    ReleaseSRWLockShared(&seen.lock);
    server_counters final;
    server_stop(srv, &final);
    print_message("measured: --accepts %d --max-accepts %d, %d clients: %ld worker(s) held "
                  "while growing the accepts, %d accept contexts made\n",
                  accepts, max_accepts, clients, arrived, contexts);
    if (contexts > max_accepts)
        fail_msg("expected at most %d accept contexts (--max-accepts %d) when two workers grow "
                 "the accepts at once: the checker held the first worker that grew them after "
                 "its check of the maximum, before its new AcceptEx, while a second accept "
                 "completed with none waiting (%ld worker(s) went on to grow them). The server "
                 "made %d accept contexts. Rule: the maximum bounds the contexts, checked and "
                 "raised in one step.", max_accepts, max_accepts, arrived, contexts);
    if (contexts != max_accepts || most_new > 1)
        fail_msg("expected the accepts to grow by one, from %d to %d, when %d clients found "
                 "none waiting; the server made %d accept contexts, at most %d for one accept",
                 accepts, max_accepts, accepts, contexts, most_new);
    if (final.live_contexts != 0 || final.accepted != clients)
        fail_msg("expected %d clients accepted and no context left after server_stop; %ld "
                 "accepted, %ld contexts left", clients, final.accepted, final.live_contexts);
}

static void without_a_larger_maximum_the_accepts_stay_as_they_started(void **state)
{
    (void)state;
    int accepts = ck_random(1, 4);
    int maxima[] = {0, accepts, ck_random(1, accepts)};
    for (int i = 0; i < 3; i++) {
        outcome o = run(accepts + 2, accepts, maxima[i], ck_random(60, 100));
        if (o.contexts != accepts || o.waiting_at_the_end != accepts)
            fail_msg("expected --accepts %d with --max-accepts %d to keep %d accepts; the "
                     "server made %d accept contexts, %d waiting at the end",
                     accepts, maxima[i], accepts, o.contexts, o.waiting_at_the_end);
    }
}

/* Clients one at a time, each after the accepts are all posted again: while a worker
 * handles one, the other accepts still wait, so nothing calls for more. */
static void clients_one_at_a_time_do_not_grow_the_accepts(void **state)
{
    (void)state;
    int accepts = ck_random(2, 3), max_accepts = ck_random(accepts + 2, 8);
    outcome o = run_with(max_accepts + 2, accepts, max_accepts, ck_random(8, 16), TRICKLE);
    if (o.contexts != accepts)
        fail_msg("expected clients that come one at a time to leave the %d accepts as they "
                 "were (--max-accepts %d): an AcceptEx was still waiting every time one "
                 "completed. The server made %d accept contexts. Rule: grow only when an "
                 "AcceptEx completes and none is left waiting.",
                 accepts, max_accepts, o.contexts);
}

static void without_clients_the_accepts_stay_as_many_as_at_the_start(void **state)
{
    (void)state;
    int accepts = ck_random(1, 4);
    outcome o = run(2, accepts, ck_random(accepts + 1, 16), 0);
    if (o.contexts != accepts || o.waiting_at_the_end != accepts)
        fail_msg("expected the %d accepts to stay %d while no client comes; the server made "
                 "%d accept contexts, %d waiting",
                 accepts, accepts, o.contexts, o.waiting_at_the_end);
}

static void the_program_takes_max_accepts_from_1_to_1024(void **state)
{
    (void)state;
    const char *refused[] = {"--port 0 --max-accepts 0", "--port 0 --max-accepts 1025"};
    for (int i = 0; i < 2; i++) {
        tk_process *p = tk_spawn("step05-server", refused[i]);
        int status = tk_wait_exit(p, 20000);
        if (status != 2 || strstr(tk_stderr(p), "--max-accepts") == NULL)
            fail_msg("expected step05-server %s to be refused as a usage error (status 2, "
                     "naming --max-accepts); it exited with %d", refused[i], status);
        tk_process_free(p);
    }
    char args[64];
    snprintf(args, sizeof args, "--port 0 --seconds 1 --accepts 2 --max-accepts %d",
             ck_random(2, 1024));
    tk_process *p;
    tk_start_server(&p, "step05-server", args);
    if (tk_wait_exit(p, 20000) != 0)
        fail_msg("expected step05-server %s to run and stop with status 0; it said:\n%s",
                 args, tk_stderr(p));
    tk_process_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_burst_grows_the_accepts_up_to_the_maximum),
        cmocka_unit_test(two_workers_growing_at_once_never_pass_the_maximum),
        cmocka_unit_test(without_a_larger_maximum_the_accepts_stay_as_they_started),
        cmocka_unit_test(clients_one_at_a_time_do_not_grow_the_accepts),
        cmocka_unit_test(without_clients_the_accepts_stay_as_many_as_at_the_start),
        cmocka_unit_test(the_program_takes_max_accepts_from_1_to_1024),
    };
    return CK_RUN_CHECKER("exercise 05.1", tests, hook_up, tk_winsock_down);
}
