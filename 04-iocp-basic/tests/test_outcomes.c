/* Step 04's outcome matrix, under the page heap. The real server runs in-process on port 0
 * with real loopback clients, and the import layer (tutorial/faults.h) stands between it
 * and Windows: the fault plan makes one call or one completion end the way Windows can end
 * it (at once or pending, failed at once, short, lost, dequeued before its call returns,
 * completed with an error or with 0 bytes; an accept(), an allocation or a tie to the port
 * that fails), at the first receive, a later receive, a send, while the server accepts, and
 * while server_stop closes connections with receives pending. For every case: the process
 * survives (a use-after-free would end it with the page heap's status 3), the faulted
 * connection is served or closed as the outcome says, a new client is still served after
 * it, the rule fired, and every context is freed. */
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tutorial/errors.h"
#include "tutorial/fault_plan.h"
#include "tutorial/net.h"
#include "tutorial/page_heap.h"
#include "tutorial/testkit.h"

enum {
    GOOD_CLIENTS = 3,
    SMALL = 64,           /* one segment, one receive: the victim's call numbers hold */
    PAYLOAD = 3000,       /* a good client's message: less than one receive buffer  */
    STOP_MS = 15000,      /* server_stop must return within this (its drain: 5 s)  */
    IDLE_AT_STOP = 2,     /* clients left with a receive pending at server_stop   */
    RESTART_ROUNDS = 20,
    IN_A_ROW = 5          /* immediate failures in a row, each on its own client  */
};

/* Where in a connection's life the faulted call or packet comes. */
typedef enum { ACCEPTING, FIRST_RECEIVE, LATER_RECEIVE, SEND } life_point;

/* What the faulted client (the victim) sees: its echo; the end of its connection, after
 * the server took it (CLOSED) or before (REFUSED: not counted as accepted). */
typedef enum { SERVED, CLOSED, REFUSED } verdict;

typedef struct outcome_case {
    const char *plan;
    const char *operation; /* the operation whose rule must fire */
    life_point point;
    verdict victim;
    char name[96];
} outcome_case;

#define CASE(plan, operation, point, victim) {plan, operation, point, victim, ""}

/* The plan is set once the server runs, so the calls it counts are the clients' own: the
 * victim's first receive is receive #1, its first echo send #1, its accept() accept #1,
 * its two allocations (the connection, then its context) alloc #1 and #2. */
static outcome_case cases[] = {
    /* Taking the client: accept() and what start_connection needs. */
    CASE("accept#1=fail:WSAEMFILE", "accept", ACCEPTING, SERVED),
    CASE("accept#1-6=fail:WSAENOBUFS", "accept", ACCEPTING, SERVED),
    CASE("accept#1=fail:WSAECONNRESET", "accept", ACCEPTING, SERVED),
    CASE("alloc#1=fail", "alloc", ACCEPTING, REFUSED),
    CASE("alloc#2=fail", "alloc", ACCEPTING, CLOSED),
    CASE("attach#1=fail:ERROR_INVALID_PARAMETER", "attach", ACCEPTING, REFUSED),
    /* The first receive of a connection: started when the listener takes the socket. */
    CASE("receive#1=now", "receive", FIRST_RECEIVE, SERVED),
    CASE("receive#1=pending", "receive", FIRST_RECEIVE, SERVED),
    CASE("receive#1=early", "receive", FIRST_RECEIVE, SERVED),
    CASE("receive#1=short:10", "receive", FIRST_RECEIVE, SERVED),
    CASE("receive#1=fail:WSAECONNRESET", "receive", FIRST_RECEIVE, CLOSED),
    CASE("receive#1=fail:WSAENOTCONN", "receive", FIRST_RECEIVE, CLOSED),
    CASE("receive#1=fail:WSAECONNABORTED", "receive", FIRST_RECEIVE, CLOSED),
    CASE("receive-done#1=error:ERROR_NETNAME_DELETED", "receive-done", FIRST_RECEIVE, CLOSED),
    CASE("receive-done#1=error:ERROR_OPERATION_ABORTED", "receive-done", FIRST_RECEIVE, CLOSED),
    CASE("receive-done#1=error:WSAECONNRESET", "receive-done", FIRST_RECEIVE, CLOSED),
    CASE("receive-done#1=error:ERROR_CONNECTION_ABORTED", "receive-done", FIRST_RECEIVE,
         CLOSED),
    CASE("receive-done#1=eof", "receive-done", FIRST_RECEIVE, CLOSED),
    CASE("dequeue#1=fail:ERROR_ABANDONED_WAIT_0", "dequeue", FIRST_RECEIVE, SERVED),
    /* A later receive: the one posted after the first echo was sent. */
    CASE("receive#2=now", "receive", LATER_RECEIVE, SERVED),
    CASE("receive#2=pending", "receive", LATER_RECEIVE, SERVED),
    CASE("receive#2=early", "receive", LATER_RECEIVE, SERVED),
    CASE("receive@1#2=fail:WSAECONNRESET", "receive", LATER_RECEIVE, CLOSED),
    CASE("receive#2=fail:WSAENOTCONN", "receive", LATER_RECEIVE, CLOSED),
    CASE("receive#2=fail:WSAECONNABORTED", "receive", LATER_RECEIVE, CLOSED),
    CASE("receive-done#2=error:64", "receive-done", LATER_RECEIVE, CLOSED),
    CASE("receive-done#2=error:995", "receive-done", LATER_RECEIVE, CLOSED),
    CASE("receive-done#2=error:10054", "receive-done", LATER_RECEIVE, CLOSED),
    CASE("receive-done#2=error:1236", "receive-done", LATER_RECEIVE, CLOSED),
    CASE("receive-done@1#2=eof", "receive-done", LATER_RECEIVE, CLOSED),
    /* The sends of the first echo. A short send moves part of the bytes: on_sent sends
     * the rest (its sent < filled branch), as often as the rule says. */
    CASE("send#1=now", "send", SEND, SERVED),
    CASE("send#1=pending", "send", SEND, SERVED),
    CASE("send#1=early", "send", SEND, SERVED),
    CASE("send#1=delay:50", "send", SEND, SERVED),
    CASE("send#1=short:1", "send", SEND, SERVED),
    CASE("send#*=short:7", "send", SEND, SERVED),
    CASE("send#1=fail:WSAECONNRESET", "send", SEND, CLOSED),
    CASE("send#1=fail:WSAENOTCONN", "send", SEND, CLOSED),
    CASE("send#1=fail:WSAESHUTDOWN", "send", SEND, CLOSED),
    CASE("send#2=fail:WSAENOBUFS,send#1=short:5", "send", SEND, CLOSED),
    CASE("send-done#1=error:64", "send-done", SEND, CLOSED),
    CASE("send-done#1=error:995", "send-done", SEND, CLOSED),
    CASE("send-done#1=error:10054", "send-done", SEND, CLOSED),
    CASE("send-done#1=error:1236", "send-done", SEND, CLOSED),
};

/* Shutdown with receives pending: IDLE_AT_STOP clients were served once each (receive
 * packets #1 and #2), so the packets of the receives server_stop aborts are #3 and later;
 * the quit packets are the "post" calls. A lost receive (the second client's second
 * receive, #4) never completes: server_stop waits DRAIN_MS for it, and leaves its
 * context allocated. */
typedef struct stop_case {
    const char *plan;
    const char *operation;
    long left_allocated;
    char name[96];
} stop_case;

static stop_case stop_cases[] = {
    {"receive-done#3+=error:ERROR_NETNAME_DELETED", "receive-done", 0, ""},
    {"receive-done#3+=error:ERROR_OPERATION_ABORTED", "receive-done", 0, ""},
    {"receive-done#3+=error:WSAECONNRESET", "receive-done", 0, ""},
    {"receive-done#3+=error:ERROR_CONNECTION_ABORTED", "receive-done", 0, ""},
    {"receive-done#3+=eof", "receive-done", 0, ""},
    {"receive-done#3=delay:300", "receive-done", 0, ""},
    {"post#1=fail:1450", "post", 0, ""},      /* ERROR_NO_SYSTEM_RESOURCES for a quit packet */
    {"post%2=fail:1450", "post", 0, ""},
    {"post#1-4=fail:ERROR_NOT_ENOUGH_MEMORY", "post", 0, ""},
    {"receive#4=lost", "receive", 1, ""},
};

/* ---- helpers ------------------------------------------------------------------------- */

static void set_plan(const char *plan)
{
    char why[160] = "";
    if (!fault_plan_set(plan, why, sizeof why))
        fail_msg("not a plan: %s (%s)", plan != NULL ? plan : "(none)", why);
}

/* Sends length bytes of pattern seed and expects exactly them back. */
static void echo_exact(SOCKET s, size_t length, unsigned seed)
{
    static unsigned char sent[PAYLOAD], got[PAYLOAD];
    assert_true(length <= sizeof sent);
    tk_fill_pattern(sent, length, seed);
    assert_true(net_send_all(s, sent, length));
    assert_true(net_recv_all(s, got, length));
    assert_memory_equal(got, sent, length);
}

/* The server has closed s: recv ends with an orderly end or a reset, not the timeout.
 * Bytes before the end (an echo the server sent before its fault) are drained. */
static void expect_end(SOCKET s)
{
    char sink[4096];
    int got;
    while ((got = recv(s, sink, sizeof sink, 0)) > 0)
        continue;
    if (got == SOCKET_ERROR)
        assert_int_not_equal(WSAGetLastError(), WSAETIMEDOUT);
}

/* Counter conditions for tk_wait_until: nothing announces them. */
typedef struct expectation {
    server *srv;
    const char *operation;
    long at_least;
} expectation;

static bool calls_reached(void *context)
{
    const expectation *e = context;
    return fault_plan_calls(e->operation) >= e->at_least;
}

static bool accepted_reached(void *context)
{
    const expectation *e = context;
    server_counters c;
    server_read_counters(e->srv, &c);
    return c.accepted >= e->at_least;
}

static bool all_closed_and_freed(void *context)
{
    const expectation *e = context;
    server_counters c;
    server_read_counters(e->srv, &c);
    return c.accepted == e->at_least && c.closed == c.accepted && c.live_contexts == 0;
}

static void wait_for_calls(const char *operation, long at_least)
{
    expectation e = {NULL, operation, at_least};
    assert_true(tk_wait_until(calls_reached, &e, TK_PROMPT_MS));
}

/* server_stop, bounded: it runs on a thread, and a stop that hangs ends the test program
 * (it cannot be abandoned safely while it still uses the server). */
typedef struct stop_job {
    server *srv;
    server_counters final;
} stop_job;

static DWORD WINAPI run_stop(void *argument)
{
    stop_job *job = argument;
    server_stop(job->srv, &job->final);
    return 0;
}

static void stop_within(server *srv, server_counters *final)
{
    stop_job job = {srv, {0}};
    HANDLE thread = CreateThread(NULL, 0, run_stop, &job, 0, NULL);
    assert_non_null(thread);
    if (WaitForSingleObject(thread, STOP_MS) != WAIT_OBJECT_0) {
        print_error("server_stop did not return within %d ms: it hangs\n", STOP_MS);
        ExitProcess(4);
    }
    CloseHandle(thread);
    *final = job.final;
}

/* ---- the matrix ---------------------------------------------------------------------- */

/* The victim's part of a case: it is the only client until it is done, so the plan's
 * call numbers are its own. */
static void drive_victim(const outcome_case *c, server *srv, SOCKET victim)
{
    if (c->victim == REFUSED) { /* the server closes it before it is counted */
        expect_end(victim);
        closesocket(victim);
        return;
    }
    expectation first = {srv, NULL, 1};
    assert_true(tk_wait_until(accepted_reached, &first, TK_PROMPT_MS));
    if (c->victim == CLOSED && c->point == ACCEPTING) {
        expect_end(victim);
        closesocket(victim);
        return;
    }
    wait_for_calls("receive", 1); /* its first receive has been asked for */
    if (c->point == LATER_RECEIVE) {
        echo_exact(victim, SMALL, 100); /* served once; the fault is in what comes next */
        wait_for_calls("receive", 2);
    }
    if (c->victim == SERVED) {
        echo_exact(victim, SMALL, 101);
        echo_exact(victim, PAYLOAD, 102); /* and the connection still works */
        closesocket(victim);
        return;
    }
    /* The send may already fail: the server may have closed the connection at accept. */
    unsigned char bytes[SMALL];
    tk_fill_pattern(bytes, sizeof bytes, 103);
    send(victim, (const char *)bytes, (int)sizeof bytes, 0);
    expect_end(victim);
    closesocket(victim);
}

/* After every case, whatever happened: a new client is served, byte-exact. */
static void good_clients_are_served(server *srv, unsigned seed)
{
    for (unsigned i = 0; i < GOOD_CLIENTS; i++) {
        SOCKET good = connect_to(srv);
        echo_exact(good, PAYLOAD, seed + 2 * i);
        echo_exact(good, PAYLOAD, seed + 1 + 2 * i);
        closesocket(good);
    }
}

static void run_outcome_case(void **state)
{
    const outcome_case *c = *state;
    server *srv = start_server(2);
    set_plan(c->plan);
    drive_victim(c, srv, connect_to(srv));
    good_clients_are_served(srv, 200);

    /* Every connection ends and frees its context while the server runs, without a stop. */
    long accepted = (c->victim == REFUSED ? 0 : 1) + GOOD_CLIENTS;
    expectation everyone = {srv, NULL, accepted};
    assert_true(tk_wait_until(all_closed_and_freed, &everyone, TK_PROMPT_MS));
    assert_true(fault_plan_fired(c->operation) > 0); /* the fault really happened */
    print_message("%s: %ld calls of %s, %ld changed\n", c->name, fault_plan_calls(c->operation),
                  c->operation, fault_plan_fired(c->operation));

    server_counters final;
    stop_within(srv, &final);
    assert_int_equal(final.live_contexts, 0);
    assert_int_equal(final.accepted, accepted);
    assert_int_equal(final.closed, final.accepted);
#if defined(__GNUC__) /* MSVC: no page heap (tutorial/page_heap.h) */
    assert_true(page_heap_blocks() > 0); /* and under the page heap */
#endif
    set_plan(NULL);
}

/* Immediate failures in a row, each on a client of its own: every one is closed and
 * freed where it failed, and the next client is still served. */
static void immediate_failures_in_a_row_leave_the_server_serving(void **state)
{
    (void)state;
    server *srv = start_server(2);
    set_plan("receive#1-5=fail:WSAECONNRESET");
    for (unsigned i = 0; i < IN_A_ROW; i++) {
        SOCKET victim = connect_to(srv);
        expect_end(victim);
        closesocket(victim);
    }
    good_clients_are_served(srv, 400);
    expectation everyone = {srv, NULL, IN_A_ROW + GOOD_CLIENTS};
    assert_true(tk_wait_until(all_closed_and_freed, &everyone, TK_PROMPT_MS));
    server_counters final;
    stop_within(srv, &final);
    assert_int_equal(final.failed_at_once, IN_A_ROW);
    assert_int_equal(final.live_contexts, 0);
    set_plan(NULL);
}

static bool accept_failed_five_times(void *context)
{
    (void)context;
    return fault_plan_fired("accept") >= 5;
}

/* accept() keeps failing (no buffers, no handles): the listener tries again after 10 ms,
 * then 20, 40, 80..., instead of spinning on the client it cannot take, and takes it once
 * it can. Five tries take at least 10 + 20 + 40 + 80 ms (a busy machine only adds time);
 * a loop that retried at once would make them within a millisecond. */
static void a_persistent_accept_failure_backs_off_instead_of_spinning(void **state)
{
    (void)state;
    server *srv = start_server(2);
    set_plan("accept#*=fail:WSAENOBUFS");
    SOCKET waiting = connect_to(srv);
    ULONGLONG started = GetTickCount64();
    assert_true(tk_wait_until(accept_failed_five_times, NULL, TK_PROMPT_MS));
    ULONGLONG elapsed = GetTickCount64() - started;
    print_message("5 failed accept() calls in %llu ms\n", elapsed);
    assert_true(elapsed >= 150);
    set_plan(NULL); /* the failure passes: the waiting client is taken and served */
    echo_exact(waiting, PAYLOAD, 600);
    closesocket(waiting);
    server_counters final;
    stop_within(srv, &final);
    assert_int_equal(final.accepted, 1);
    assert_int_equal(final.live_contexts, 0);
}

/* The port cannot be made, or no thread started: server_start says so and returns NULL,
 * and nothing is left behind. */
static void a_server_that_cannot_start_says_so_and_leaves_nothing(void **state)
{
    (void)state;
    set_plan("port#1=fail:ERROR_NOT_ENOUGH_MEMORY");
    server_config config = {0, 2};
    assert_null(server_start(&config));
    assert_int_equal(fault_plan_fired("port"), 1);
    set_plan(NULL);
    server *srv = start_server(2); /* and the next start works */
    good_clients_are_served(srv, 500);
    server_counters final;
    stop_within(srv, &final);
    assert_int_equal(final.live_contexts, 0);
}

/* server_stop while every client has a receive pending; the aborted receives (and the
 * quit packets) end as the plan says. */
static void run_stop_case(void **state)
{
    const stop_case *c = *state;
    server *srv = start_server(2);
    set_plan(c->plan);
    SOCKET idle[IDLE_AT_STOP];
    for (unsigned i = 0; i < IDLE_AT_STOP; i++) {
        idle[i] = connect_to(srv);
        echo_exact(idle[i], SMALL, 300 + i);
    }
    wait_for_calls("receive", 2 * IDLE_AT_STOP); /* each has its second receive pending */

    server_counters final;
    stop_within(srv, &final);
    assert_int_equal(final.live_contexts, c->left_allocated);
    assert_int_equal(final.accepted, IDLE_AT_STOP);
    assert_int_equal(final.closed, IDLE_AT_STOP - c->left_allocated);
    for (unsigned i = 0; i < IDLE_AT_STOP; i++) {
        expect_end(idle[i]);
        closesocket(idle[i]);
    }
    assert_true(fault_plan_fired(c->operation) > 0);
    set_plan(NULL);
}

/* ---- repeated start and stop while clients connect ------------------------------------ */

typedef struct connector {
    unsigned short port;
    volatile LONG quit;
} connector;

/* Connects again and again: some clients send and leave, some reset, some stay open (so
 * that server_stop finds receives pending), until told to quit. */
static DWORD WINAPI keep_connecting(void *argument)
{
    connector *job = argument;
    SOCKET kept[4] = {INVALID_SOCKET, INVALID_SOCKET, INVALID_SOCKET, INVALID_SOCKET};
    for (unsigned n = 0; InterlockedCompareExchange(&job->quit, 0, 0) == 0; n++) {
        SOCKET s = net_connect_loopback(job->port);
        if (s == INVALID_SOCKET) {
            Sleep(1); /* refused: the server is stopping; not a synchronisation */
            continue;
        }
        send(s, "ping", 4, 0);
        if (n % 3 == 0) {
            net_hard_reset(s);
        } else if (n % 3 == 1) {
            closesocket(s);
        } else {
            if (kept[n % 4] != INVALID_SOCKET)
                closesocket(kept[n % 4]);
            kept[n % 4] = s;
        }
    }
    for (int i = 0; i < 4; i++) {
        if (kept[i] != INVALID_SOCKET)
            closesocket(kept[i]);
    }
    return 0;
}

static void starting_and_stopping_while_clients_connect_frees_everything(void **state)
{
    (void)state;
    /* Faults on top of the churn, the same plan across every round. */
    set_plan("receive%5=fail:WSAECONNRESET,receive-done%4=error:64,send%3=pending");
    for (int round = 0; round < RESTART_ROUNDS; round++) {
        server *srv = start_server(2);
        connector job = {server_port(srv), 0};
        HANDLE thread = CreateThread(NULL, 0, keep_connecting, &job, 0, NULL);
        assert_non_null(thread);
        expectation some = {srv, NULL, 3};
        assert_true(tk_wait_until(accepted_reached, &some, TK_PROMPT_MS));

        server_counters final;
        stop_within(srv, &final); /* the connector keeps going during the stop */
        InterlockedExchange(&job.quit, 1);
        tk_assert_wait(WaitForSingleObject(thread, TK_PROMPT_MS), WAIT_OBJECT_0);
        CloseHandle(thread);
        assert_int_equal(final.live_contexts, 0);
        assert_int_equal(final.closed, final.accepted);
    }
    assert_true(fault_plan_fired("receive") + fault_plan_fired("receive-done") > 0);
    set_plan(NULL);
}

int main(void)
{
    enum {
        CASES = sizeof cases / sizeof cases[0],
        STOPS = sizeof stop_cases / sizeof stop_cases[0]
    };
    static const char *const points[] = {"accepting", "first receive", "later receive",
                                         "send"};
    struct CMUnitTest tests[CASES + STOPS + 4];
    size_t n = 0;
    for (size_t i = 0; i < CASES; i++) {
        snprintf(cases[i].name, sizeof cases[i].name, "%s (%s)", cases[i].plan,
                 points[cases[i].point]);
        tests[n++] =
            (struct CMUnitTest){cases[i].name, run_outcome_case, NULL, NULL, &cases[i]};
    }
    for (size_t i = 0; i < STOPS; i++) {
        snprintf(stop_cases[i].name, sizeof stop_cases[i].name, "%s (server_stop)",
                 stop_cases[i].plan);
        tests[n++] = (struct CMUnitTest){stop_cases[i].name, run_stop_case, NULL, NULL,
                                         &stop_cases[i]};
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        immediate_failures_in_a_row_leave_the_server_serving);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        a_persistent_accept_failure_backs_off_instead_of_spinning);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        a_server_that_cannot_start_says_so_and_leaves_nothing);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        starting_and_stopping_while_clients_connect_frees_everything);
    return _cmocka_run_group_tests("step04 outcomes", tests, n, tk_faults_up, tk_winsock_down);
}
