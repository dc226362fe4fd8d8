/* The outcome matrix: the whole server, real loopback clients, and every outcome Windows
 * can give each call that starts an operation (immediate success, pending, immediate
 * failure) and each completion (an error, an orderly end), forced through the outcome seam
 * at each point of a connection's life, under the page heap (a use-after-free anywhere
 * stops the process with a report). After each case: the rule really fired, a good client
 * still gets its frames back byte-exact, and the leak report says what the step promises:
 * step 06 one leaked context for each immediate failure and none otherwise, step 07 none.
 * The same file runs in 06 and 07; LEAK_FIXED says which. */
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tutorial/fault_plan.h"
#include "tutorial/net.h"
#include "tutorial/page_heap.h"
#include "tutorial/testkit.h"

#if LEAK_FIXED
enum { LEAKED_PER_IMMEDIATE_FAILURE = 0 };
#else
enum { LEAKED_PER_IMMEDIATE_FAILURE = 1 };
#endif

/* ---- a framed client on a blocking socket -------------------------------------------- */

static SOCKET client_connect(unsigned short port)
{
    SOCKET s = net_connect_loopback(port);
    assert_true(s != INVALID_SOCKET);
    assert_true(net_set_recv_timeout(s, TK_PROMPT_MS));
    return s;
}

/* Sends one frame, header and payload in one send, and reads the reply: true when it is
 * the same frame, false when the server ended the connection instead. */
static bool exchange(SOCKET s, const unsigned char *payload, size_t length)
{
    unsigned char frame[4 + 4096], header[4], reply[4096];
    assert_true(length <= sizeof reply);
    net_put_frame_length(frame, (unsigned long)length);
    memcpy(frame + 4, payload, length);
    if (!net_send_all(s, frame, 4 + length))
        return false;
    if (!net_recv_all(s, header, 4) || net_get_frame_length(header) != length ||
        !net_recv_all(s, reply, length))
        return false;
    assert_memory_equal(reply, payload, length); /* a reply, when it comes, is exact */
    return true;
}

/* A client that the server must serve: three frames (empty, one byte, 4 KiB), exact. */
static void a_good_client_is_served(unsigned short port)
{
    static const size_t sizes[] = {0, 1, 4096};
    unsigned char payload[4096];
    SOCKET s = client_connect(port);
    for (size_t i = 0; i < 3; i++) {
        tk_fill_pattern(payload, sizes[i], (unsigned)(i + 7));
        assert_true(exchange(s, payload, sizes[i]));
    }
    closesocket(s);
}

/* ---- the server ---------------------------------------------------------------------- */

static server *start_with(const char *plan)
{
    char why[128];
    assert_true(fault_plan_set(plan, why, sizeof why));
    server_config config = {0, 2, 8, 4096, 0};
    server *srv = server_start(&config);
    assert_non_null(srv);
    return srv;
}

static bool fired(void *operation)
{
    return fault_plan_fired(operation) > 0;
}

/* ---- the matrix ---------------------------------------------------------------------- */

typedef enum {
    SERVED,  /* the victim's two frames come back: the outcome changes nothing visible */
    DROPPED  /* the server ends the victim's connection (and must free all of it)      */
} victim_fate;

typedef struct outcome_case {
    const char *name;
    const char *plan;
    const char *operation;     /* the plan's operation: its rule must have fired */
    victim_fate fate;
    long immediate_failures;   /* operations that fail at once (06 leaks one each) */
    long victim_frames;        /* the victim's frames the server took (and answered or not) */
    DWORD receive_at_most;     /* a cap on every receive (0: none), to cut a frame */
} outcome_case;

/* The victim connects and exchanges two frames of 5 bytes, each sent in one send (9 bytes),
 * which the loopback delivers whole. Counted from the server's start: accept #1-#8 are
 * posted by server_start, #9 when the victim's accept completes; the victim's receives are
 * #1 (its first frame), #2 (its second frame), #3 (the end), its sends #1 and #2. A frame
 * costs one receive, so a receive in the middle of one exists only when a cap cuts it
 * (support.h, receive_at_most): with at most 4 bytes a receive, #1 takes the first header
 * and #2 the middle of the first frame; with at most 2, #2 the middle of the header.
 * victim_frames checks where the rule met the victim: 0 when in its first frame, 1 in its
 * second, 2 when it did not end it. */
static const outcome_case cases[] = {
    {"accept: immediate success", "accept#1+=now", "accept", SERVED, 0, 2, 0},
    {"accept: pending", "accept#1+=pending", "accept", SERVED, 0, 2, 0},
    {"accept: fails at once (a reset in the backlog)", "accept#9=fail:WSAECONNRESET", "accept",
     SERVED, 1, 2, 0},
    {"accept: fails at once while starting", "accept#3=fail:WSAECONNRESET", "accept", SERVED, 1,
     2, 0},
    {"accept completes with ERROR_NETNAME_DELETED", "accept-done#1=error:64", "accept-done",
     DROPPED, 0, 0, 0},
    {"accept completes with ERROR_OPERATION_ABORTED", "accept-done#1=error:995", "accept-done",
     DROPPED, 0, 0, 0},
    {"first receive: immediate success", "receive#1=now", "receive", SERVED, 0, 2, 0},
    {"first receive: pending", "receive#1=pending", "receive", SERVED, 0, 2, 0},
    {"every receive: immediate success", "receive#1+=now", "receive", SERVED, 0, 2, 0},
    {"every receive of a cut frame: immediate success", "receive#1+=now", "receive", SERVED, 0,
     2, 3},
    {"first receive fails at once with WSAECONNRESET (the incident)",
     "receive#1=fail:WSAECONNRESET", "receive", DROPPED, 1, 0, 0},
    {"mid-header receive fails at once with WSAECONNRESET", "receive#2=fail:WSAECONNRESET",
     "receive", DROPPED, 1, 0, 2},
    {"mid-frame receive fails at once with WSAECONNRESET", "receive#2=fail:WSAECONNRESET",
     "receive", DROPPED, 1, 0, 4},
    {"second frame's receive fails at once with WSAENOTCONN", "receive#2=fail:WSAENOTCONN",
     "receive", DROPPED, 1, 1, 0},
    {"first receive completes with ERROR_NETNAME_DELETED", "receive-done#1=error:64",
     "receive-done", DROPPED, 0, 0, 0},
    {"mid-frame receive completes with WSAECONNRESET", "receive-done#2=error:10054",
     "receive-done", DROPPED, 0, 0, 4},
    {"first receive completes with ERROR_CONNECTION_ABORTED", "receive-done#1=error:1236",
     "receive-done", DROPPED, 0, 0, 0},
    {"second frame's receive completes with ERROR_OPERATION_ABORTED",
     "receive-done#2=error:995", "receive-done", DROPPED, 0, 1, 0},
    {"first receive completes with 0 bytes (an orderly end)", "receive-done#1=eof",
     "receive-done", DROPPED, 0, 0, 0},
    {"mid-header receive completes with 0 bytes", "receive-done#2=eof", "receive-done",
     DROPPED, 0, 0, 2},
    {"mid-frame receive completes with 0 bytes", "receive-done#2=eof", "receive-done", DROPPED,
     0, 0, 4},
    {"send: immediate success", "send#1+=now", "send", SERVED, 0, 2, 0},
    {"send: pending", "send#1+=pending", "send", SERVED, 0, 2, 0},
    {"send fails at once with WSAECONNRESET", "send#1=fail:WSAECONNRESET", "send", DROPPED, 1,
     1, 0},
    {"send completes with ERROR_NETNAME_DELETED", "send-done#1=error:64", "send-done", DROPPED,
     0, 1, 0},
    {"send completes with ERROR_CONNECTION_ABORTED", "send-done#1=error:1236", "send-done",
     DROPPED, 0, 1, 0},
};

static void run_case(const outcome_case *c)
{
    print_message("case: %s (%s%s)\n", c->name, c->plan,
                  c->receive_at_most > 0 ? ", receives cut" : "");
    registry_totals before = totals();
    server *srv = start_with(c->plan);
    if (c->receive_at_most > 0)
        receive_at_most(c->receive_at_most);
    unsigned short port = server_port(srv);

    SOCKET victim = client_connect(port);
    unsigned char payload[5] = {'h', 'e', 'l', 'l', 'o'};
    bool first = exchange(victim, payload, sizeof payload);
    bool second = first && exchange(victim, payload, sizeof payload);
    closesocket(victim);
    if (c->fate == SERVED) {
        assert_true(second);
    } else {
        assert_false(second); /* the server ended it: the reply never came */
    }
    /* the victim's connection, whichever way it ended; then the good client's */
    assert_true(wait_until_ended(srv, 1, TK_PROMPT_MS));
    assert_int_equal(counters_of(srv).frames, c->victim_frames); /* where the rule met it */
    a_good_client_is_served(port);
    assert_true(wait_until_ended(srv, 2, TK_PROMPT_MS));
    assert_true(fired((void *)c->operation)); /* the outcome really was forced */

    server_counters counters;
    server_stop(srv, &counters);
    winsock_restore();
    fault_plan_set(NULL, NULL, 0);
    registry_totals after = totals();
    assert_int_equal(counters.immediate_failures, c->immediate_failures);
    assert_int_equal(after.contexts - before.contexts,
                     c->immediate_failures * LEAKED_PER_IMMEDIATE_FAILURE);
    assert_int_equal(after.sockets - before.sockets,
                     c->immediate_failures * LEAKED_PER_IMMEDIATE_FAILURE);
}

static void every_outcome_at_every_call_site_frees_what_it_should(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
#if defined(__GNUC__)
    assert_true(page_heap_blocks() > 0); /* it really ran under the page heap */
#endif
}

/* ---- the shutdown -------------------------------------------------------------------- */

/* Starts the server with plan, connects a client that exchanges one frame (so that its next
 * receive is pending and the ninth accept, the refill, has been posted) or, when the rule
 * for operation is a pause, waits until that pause is under way; then stops the server. The
 * rule must have fired, nothing may fail at once, and nothing may be left, in 06 as in 07. */
static void stop_with_a_client(const char *plan, const char *operation, bool pause)
{
    registry_totals before = totals();
    server *srv = start_with(plan);
    SOCKET client = client_connect(server_port(srv));
    if (pause) {
        assert_true(tk_wait_until(fired, (void *)operation, TK_PROMPT_MS));
    } else {
        unsigned char byte = 1;
        assert_true(exchange(client, &byte, 1)); /* served: its next receive is pending now */
    }
    server_counters counters;
    server_stop(srv, &counters);
    assert_true(operation == NULL || fault_plan_fired(operation) > 0);
    fault_plan_set(NULL, NULL, 0);
    closesocket(client);
    registry_totals after = totals();
    assert_int_equal(counters.immediate_failures, 0);
    assert_int_equal(after.contexts, before.contexts);
    assert_int_equal(after.sockets, before.sockets);
}

/* Stop with eight accepts pending on the listener and a receive pending on an idle
 * client: closing the listener aborts the accepts, dispose's CancelIoEx aborts the
 * receive, and each aborted completion frees its context. */
static void stopping_with_accepts_and_a_receive_pending_frees_everything(void **state)
{
    (void)state;
    stop_with_a_client(NULL, NULL, false);
}

/* The post_accept window: the ninth accept (the refill after the first client) pauses
 * just after its socket joined the list, and server_stop runs meanwhile. close_everything
 * then finds the socket in the list; post_accept's own reference and lock keep it alive and
 * whole until the accept is started, or the page heap reports the touch of freed memory. */
static void stopping_while_an_accept_is_being_posted_touches_nothing_freed(void **state)
{
    (void)state;
    stop_with_a_client("published#9=delay:300", "published", true);
}

/* The listener's rule: the ninth AcceptEx pauses just before the call, holding the
 * listener shared, while server_stop closes it. The close waits, so the AcceptEx runs on
 * the open listener and is aborted by the close like the others: no AcceptEx on a closed
 * (or reused) handle, no immediate failure. */
static void stopping_while_accept_ex_is_called_waits_for_it(void **state)
{
    (void)state;
    stop_with_a_client("accept#9=delay:300", "accept", true);
}

/* A quit packet that cannot be posted (ERROR_NO_SYSTEM_RESOURCES): the shutdown tries
 * again, and every worker still gets its packet and ends, or server_stop would never
 * return. */
static void stopping_when_a_quit_packet_cannot_be_posted_still_ends_every_worker(void **state)
{
    (void)state;
    stop_with_a_client("post#1=fail:1450", "post", false);
}

/* Repeated start and stop while clients connect and reset, with every third published
 * accept paused a little: the shutdown meets accepts at every stage. */
typedef struct connector {
    unsigned short port;
    volatile LONG stop, made;
} connector;

static DWORD WINAPI connect_and_reset_until_stopped(void *argument)
{
    connector *c = argument;
    while (!InterlockedCompareExchange(&c->stop, 0, 0)) {
        SOCKET s = net_connect_loopback(c->port);
        if (s == INVALID_SOCKET)
            continue;
        net_hard_reset(s);
        InterlockedIncrement(&c->made);
    }
    return 0;
}

static bool some_clients_came(void *argument)
{
    connector *c = argument;
    return InterlockedCompareExchange(&c->made, 0, 0) >= 10 && fault_plan_fired("published") > 1;
}

static void repeated_start_and_stop_under_connecting_clients_is_clean(void **state)
{
    (void)state;
    registry_totals before = totals();
    long immediate_failures = 0, made = 0;
    for (int round = 0; round < 20; round++) {
        server *srv = start_with("published%3=delay:2");
        connector c = {server_port(srv), 0, 0};
        HANDLE thread = CreateThread(NULL, 0, connect_and_reset_until_stopped, &c, 0, NULL);
        assert_non_null(thread);
        assert_true(tk_wait_until(some_clients_came, &c, TK_PROMPT_MS));
        server_counters counters;
        server_stop(srv, &counters); /* while they still connect */
        InterlockedExchange(&c.stop, 1);
        tk_assert_wait(WaitForSingleObject(thread, TK_PROMPT_MS), WAIT_OBJECT_0);
        CloseHandle(thread);
        fault_plan_set(NULL, NULL, 0);
        immediate_failures += counters.immediate_failures;
        made += c.made;
    }
    registry_totals after = totals();
    print_message("20 rounds, %ld connections, %ld immediate failures, %ld leaked contexts\n",
                  made, immediate_failures, after.contexts - before.contexts);
    assert_int_equal(after.contexts - before.contexts,
                     immediate_failures * LEAKED_PER_IMMEDIATE_FAILURE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_outcome_at_every_call_site_frees_what_it_should),
        cmocka_unit_test(stopping_with_accepts_and_a_receive_pending_frees_everything),
        cmocka_unit_test(stopping_while_an_accept_is_being_posted_touches_nothing_freed),
        cmocka_unit_test(stopping_while_accept_ex_is_called_waits_for_it),
        cmocka_unit_test(stopping_when_a_quit_packet_cannot_be_posted_still_ends_every_worker),
        cmocka_unit_test(repeated_start_and_stop_under_connecting_clients_is_clean),
    };
    return cmocka_run_group_tests_name("outcomes", tests, tk_winsock_up, tk_winsock_down);
}
