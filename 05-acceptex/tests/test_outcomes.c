/* Step 05's outcome matrix, under the page heap. The real server runs in-process on port 0
 * with real loopback clients, and the import layer (tutorial/faults.h) stands between it
 * and Windows: the fault plan makes one call or one completion end the way Windows can end
 * it (at once or pending, failed at once, in a row, short, lost, dequeued before its call
 * returns, completed with an error or with 0 bytes; a socket, an allocation or the accept
 * context's update that fails), at the accept, the first receive, a later receive, a send,
 * and while server_stop closes the listener and the connections with accepts and receives
 * pending. For every case: the process survives (a use-after-free would end it with the
 * page heap's status 3), the faulted connection is served or closed as the outcome says,
 * new clients are still served after it, the accept pool is whole again, the rule fired,
 * and every context is freed. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "server.h"
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
    RESTART_ROUNDS = 20
};

/* Where in a connection's life the faulted call or packet comes. */
typedef enum { ACCEPT, FIRST_RECEIVE, LATER_RECEIVE, SEND } life_point;

/* What the faulted client (the victim) sees: its echo, or the end of its connection
 * (DROPPED: the server counted it as accepted, then closed it before its first receive). */
typedef enum { SERVED, CLOSED, DROPPED } verdict;

typedef struct outcome_case {
    const char *plan;
    const char *operation; /* the operation whose rule must fire */
    life_point point;
    verdict victim;
    int accepts;           /* AcceptEx calls outstanding: 1 keeps the call numbers plain */
    bool after_start;      /* the plan counts from the server's start (else from before) */
    char name[96];
} outcome_case;

#define CASE(plan, operation, point, victim) {plan, operation, point, victim, 1, false, ""}
/* A plan set once the server runs: its alloc #1 and #2 are the victim's connection and
 * context, its socket, accept and update-context calls those made after the victim's
 * accept. */
#define LATER(plan, operation, point, victim) {plan, operation, point, victim, 1, true, ""}

static outcome_case cases[] = {
    /* The accept of the first client (one AcceptEx outstanding: its call is #1, and the
     * one posted in its place is #2). WSAECONNRESET at once means "that client reset
     * first": the server tries again at once. Another error at once leaves the slot to
     * the accept pool's timer, which posts it again (twice as late each time it fails):
     * with one AcceptEx, nobody is accepted until it does. */
    CASE("accept#1=now", "accept", ACCEPT, SERVED),
    CASE("accept#1=pending", "accept", ACCEPT, SERVED),
    CASE("accept#1=fail:WSAECONNRESET", "accept", ACCEPT, SERVED),
    CASE("accept#2=fail:WSAECONNRESET", "accept", ACCEPT, SERVED),
    CASE("accept#2-5=fail:WSAECONNRESET", "accept", ACCEPT, SERVED),
    {"accept#3=fail:WSAENOBUFS", "accept", ACCEPT, SERVED, 2, false, ""},
    CASE("accept#2-9=fail:WSAENOBUFS", "accept", ACCEPT, SERVED),
    CASE("accept#2=delay:100", "accept", ACCEPT, SERVED),
    LATER("socket#1=fail:WSAEMFILE", "socket", ACCEPT, SERVED),
    LATER("socket#1-3=fail:WSAENOBUFS", "socket", ACCEPT, SERVED),
    LATER("alloc#1=fail", "alloc", ACCEPT, CLOSED),         /* the connection */
    LATER("alloc#2=fail", "alloc", ACCEPT, DROPPED),        /* its context    */
    LATER("update-context#1=fail:WSAENOTCONN", "update-context", ACCEPT, CLOSED),
    CASE("accept-done#1=error:ERROR_NETNAME_DELETED", "accept-done", ACCEPT, CLOSED),
    CASE("accept-done#1=error:ERROR_OPERATION_ABORTED", "accept-done", ACCEPT, CLOSED),
    CASE("accept-done#1=error:WSAECONNRESET", "accept-done", ACCEPT, CLOSED),
    CASE("accept-done#1=error:ERROR_CONNECTION_ABORTED", "accept-done", ACCEPT, CLOSED),
    /* The first receive of a connection: started when a worker takes the socket. */
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
    /* The first dequeue of all, so the worker that ends has started nothing: a thread's exit
     * may end the I/O it started (see step 06's matrix). */
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
    CASE("send#1=short:5,send#2=fail:WSAENOBUFS", "send", SEND, CLOSED),
    CASE("send-done#1=error:64", "send-done", SEND, CLOSED),
    CASE("send-done#1=error:995", "send-done", SEND, CLOSED),
    CASE("send-done#1=error:10054", "send-done", SEND, CLOSED),
    CASE("send-done#1=error:1236", "send-done", SEND, CLOSED),
};

/* Shutdown with accepts and receives pending: IDLE_AT_STOP clients were accepted and
 * served once each (accept packets #1 and #2, receive packets #1 and #2), so the packets
 * of the accepts and receives server_stop aborts are #3 and later; the quit packets are
 * the "post" calls. */
enum { ACCEPTS_AT_STOP = 4 };

typedef struct stop_case {
    const char *plan;
    const char *operation, *also; /* whose rules must fire (also: NULL, or a second) */
    long left_allocated;          /* contexts whose packet never comes (server_stop waits
                                   * DRAIN_MS for them, then leaves them allocated) */
    char name[128];
} stop_case;

static stop_case stop_cases[] = {
    {"accept-done#3+=error:64,receive-done#3+=error:64", "accept-done", "receive-done", 0, ""},
    {"accept-done#3+=error:995,receive-done#3+=error:995", "accept-done", "receive-done", 0, ""},
    {"accept-done#3+=error:10054,receive-done#3+=error:10054", "accept-done", "receive-done",
     0, ""},
    {"accept-done#3+=error:1236,receive-done#3+=error:1236", "accept-done", "receive-done", 0, ""},
    {"receive-done#3+=eof", "receive-done", NULL, 0, ""},
    {"receive#4=lost", "receive", NULL, 1, ""},
    {"post#1=fail:1450", "post", NULL, 0, ""}, /* ERROR_NO_SYSTEM_RESOURCES for a quit packet */
    {"post%2=fail:1450", "post", NULL, 0, ""},
    {"accept-done#3=delay:300", "accept-done", NULL, 0, ""},
};

/* ---- helpers ------------------------------------------------------------------------- */

static void set_plan(const char *plan)
{
    char why[160] = "";
    if (!fault_plan_set(plan, why, sizeof why))
        fail_msg("not a plan: %s (%s)", plan != NULL ? plan : "(none)", why);
}

static server *start(int accepts)
{
    server_config config = {0, 2, accepts};
    server *srv = server_start(&config);
    assert_non_null(srv);
    return srv;
}

static SOCKET connect_to(server *srv)
{
    SOCKET s = net_connect_loopback(server_port(srv));
    assert_true(s != INVALID_SOCKET);
    assert_true(net_set_recv_timeout(s, TK_PROMPT_MS));
    return s;
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
    LONG accept_contexts; /* the contexts of the AcceptEx calls still outstanding */
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
    return c.accepted == e->at_least && c.closed == c.accepted &&
           c.live_contexts == e->accept_contexts;
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

/* Does the victim's connection reach start_connection (and the accepted count)? Not when
 * its accept completed with an error: the server closes the socket made for it. */
static bool is_taken(const outcome_case *c)
{
    return !(c->point == ACCEPT && c->victim == CLOSED);
}

static bool pool_is_whole(void *context)
{
    const expectation *e = context;
    server_counters c;
    server_read_counters(e->srv, &c);
    return c.live_contexts == e->accept_contexts;
}

/* After every case, whatever happened: new clients are served, byte-exact. */
static void good_clients_are_served(server *srv, unsigned seed)
{
    for (unsigned i = 0; i < GOOD_CLIENTS; i++) {
        SOCKET good = connect_to(srv);
        echo_exact(good, PAYLOAD, seed + 2 * i);
        echo_exact(good, PAYLOAD, seed + 1 + 2 * i);
        closesocket(good);
    }
}

/* The victim's part of a case: it is the only client until it is done, so the plan's
 * call numbers are its own. */
static void drive_victim(const outcome_case *c, server *srv, SOCKET victim)
{
    if (is_taken(c)) {
        expectation first = {srv, NULL, 1};
        assert_true(tk_wait_until(accepted_reached, &first, TK_PROMPT_MS));
    }
    if (is_taken(c) && c->victim != DROPPED)
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

static void run_outcome_case(void **state)
{
    const outcome_case *c = *state;
    if (!c->after_start)
        set_plan(c->plan);
    server *srv = start(c->accepts);
    if (c->after_start)
        set_plan(c->plan);
    drive_victim(c, srv, connect_to(srv));
    LONG clients = (is_taken(c) ? 1 : 0) + GOOD_CLIENTS;
    good_clients_are_served(srv, 200);

    /* Every connection ends and frees its context while the server runs, without a stop:
     * what stays is one context per AcceptEx outstanding, the pool whole again. */
    expectation everyone = {srv, NULL, clients, c->accepts};
    assert_true(tk_wait_until(all_closed_and_freed, &everyone, TK_PROMPT_MS));

    server_counters final;
    stop_within(srv, &final);
    assert_int_equal(final.live_contexts, 0);
    assert_int_equal(final.accepted, clients);
    assert_int_equal(final.closed, final.accepted);
    assert_true(fault_plan_fired(c->operation) > 0); /* the fault really happened */
    print_message("%s: %ld calls of %s, %ld changed\n", c->name, fault_plan_calls(c->operation),
                  c->operation, fault_plan_fired(c->operation));
#if defined(__GNUC__) /* MSVC: no page heap (tutorial/page_heap.h) */
    assert_true(page_heap_blocks() > 0); /* and under the page heap */
#endif
    set_plan(NULL);
}

/* server_stop while accepts are pending and every client has a receive pending; the
 * aborted accepts and receives (and the quit packets) end as the plan says. */
static void run_stop_case(void **state)
{
    const stop_case *c = *state;
    set_plan(c->plan);
    server *srv = start(ACCEPTS_AT_STOP);
    SOCKET idle[IDLE_AT_STOP];
    for (unsigned i = 0; i < IDLE_AT_STOP; i++) {
        idle[i] = connect_to(srv);
        echo_exact(idle[i], SMALL, 300 + i);
    }
    wait_for_calls("receive", 2 * IDLE_AT_STOP); /* each has its second receive pending */
    wait_for_calls("accept", ACCEPTS_AT_STOP + IDLE_AT_STOP); /* and the accepts are back */

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
    if (c->also != NULL)
        assert_true(fault_plan_fired(c->also) > 0);
    set_plan(NULL);
}

/* While server_start posts its accepts: one that fails at once leaves its slot to the
 * pool's timer, and the server starts; when not one can be posted, server_start says so
 * and fails, after the accepts already tried have left nothing behind. */
static void an_accept_failing_at_once_during_the_start(void **state)
{
    (void)state;
    static const struct {
        const char *plan;
        int accepts;
        bool starts;
    } starts[] = {{"accept#1=fail:WSAENOBUFS", 1, false},
                  {"accept#*=fail:WSAENOBUFS", 4, false},
                  {"accept#1-4=fail:WSAECONNRESET", 1, false},
                  {"socket#*=fail:WSAEMFILE", 3, false},
                  {"accept#3=fail:WSAEINVAL", 4, true},
                  {"accept#1-3=fail:WSAENOBUFS", 4, true}};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        print_message("start with %s, %d accepts\n", starts[i].plan, starts[i].accepts);
        set_plan(starts[i].plan);
        server_config config = {0, 2, starts[i].accepts};
        server *srv = server_start(&config);
        assert_true((srv != NULL) == starts[i].starts);
        assert_true(fault_plan_fired("accept") + fault_plan_fired("socket") > 0);
        set_plan(NULL);
        if (srv == NULL)
            continue;
        good_clients_are_served(srv, 700);
        expectation whole = {srv, NULL, 0, starts[i].accepts};
        assert_true(tk_wait_until(pool_is_whole, &whole, TK_PROMPT_MS));
        server_counters final;
        stop_within(srv, &final);
        assert_int_equal(final.live_contexts, 0);
    }
}

/* Twice as many AcceptEx failures in a row as the server keeps outstanding, then ten
 * clients one after another: the pool's timer posts the missing accepts again, so each
 * client is served, within 2 s of its connect. */
static void twice_the_pool_failing_at_once_then_ten_clients_each_served_within_2_s(void **state)
{
    (void)state;
    static const char *const plans[] = {"accept#1-16=fail:WSAENOBUFS",
                                        "accept#1-16=fail:WSAECONNRESET"};
    for (size_t p = 0; p < 2; p++) {
        server *srv = start(8);
        set_plan(plans[p]);
        for (unsigned i = 0; i < 10; i++) {
            ULONGLONG connected = GetTickCount64();
            SOCKET client = connect_to(srv);
            echo_exact(client, SMALL, 800 + i);
            ULONGLONG took = GetTickCount64() - connected;
            closesocket(client);
            print_message("%s: client %u echoed after %llu ms\n", plans[p], i + 1, took);
            assert_true(took <= 2000);
        }
        assert_int_equal(fault_plan_fired("accept"), 16);
        set_plan(NULL);
        server_counters final;
        stop_within(srv, &final);
        assert_int_equal(final.accepted, 10);
        assert_int_equal(final.live_contexts, 0);
    }
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
    set_plan("accept%7=fail:WSAECONNRESET,accept-done%6=error:64,receive%5=fail:WSAECONNRESET,"
             "receive-done%4=error:64,send%3=pending");
    for (int round = 0; round < RESTART_ROUNDS; round++) {
        server *srv = start(0);
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
    assert_true(fault_plan_fired("accept") + fault_plan_fired("accept-done") > 0);
    assert_true(fault_plan_fired("receive") + fault_plan_fired("receive-done") > 0);
    set_plan(NULL);
}

int main(void)
{
    enum {
        CASES = sizeof cases / sizeof cases[0],
        STOPS = sizeof stop_cases / sizeof stop_cases[0]
    };
    static const char *const points[] = {"accept", "first receive", "later receive", "send"};
    struct CMUnitTest tests[CASES + STOPS + 3];
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
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(an_accept_failing_at_once_during_the_start);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        twice_the_pool_failing_at_once_then_ten_clients_each_served_within_2_s);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(
        starting_and_stopping_while_clients_connect_frees_everything);
    return _cmocka_run_group_tests("step05 outcomes", tests, n, tk_faults_up, tk_winsock_down);
}
