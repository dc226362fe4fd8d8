/* Checker of exercise 07.2 (extend): with routed_start.c, every started operation ends in
 * exactly one completion packet, immediate failures included, that reads like the kernel's
 * (the socket's key, no bytes for a failure, the error where the handler looks), and the
 * completion handler below is the one place where contexts are completed and sockets
 * disposed on an error; when the packet cannot be posted, the start function says so and
 * its caller disposes. Packets are counted per OVERLAPPED before the handler sees them, so
 * a second packet for one operation is caught before anything touches its context. One test
 * has a worker thread take each posted packet off the port and handle it before
 * PostQueuedCompletionStatus returns to the start function, as a worker on another
 * processor can, and checks the error it read. Each run picks its own completion keys (the
 * seed is printed) and runs under the page heap. */
#include <stdio.h>
#include <string.h>

#include "routed_start.h"
#include "support.h"
#include "tutorial/checkkit.h"
#include "tutorial/fault_plan.h"
#include "tutorial/import_hook.h"
#include "tutorial/net.h"

enum { QUIET_MS = 300 };

/* What the packets of one operation looked like. */
typedef struct outcome {
    OVERLAPPED *overlapped;
    ULONG_PTR key; /* the socket's */
    int packets;
    DWORD bytes;
    DWORD error;
} outcome;

/* The server side of a loopback connection on test_port, with a completion key of this
 * run's choosing (a constant in the solution cannot pass). */
static async_socket *keyed_socket(SOCKET *peer, outcome *o, bool receive)
{
    SOCKET mine;
    tk_socket_pair(peer, &mine);
    async_socket *s = async_socket_wrap(mine, 4096, 0);
    assert_non_null(s);
    ULONG_PTR key = (ULONG_PTR)ck_random(1, 1 << 30);
    assert_true(async_socket_attach(s, test_port, key));
    memset(o, 0, sizeof *o);
    o->overlapped = receive ? &s->in->overlapped : &s->out->overlapped;
    o->key = key;
    return s;
}

/* The completion handler: the one place that completes a context, and disposes its socket
 * when the operation failed. */
static void on_packet(io_context *context, BOOL ok, DWORD bytes, outcome *o)
{
    DWORD error = ok ? context->last_error : GetLastError();
    o->bytes = bytes;
    o->error = error;
    async_socket *s = context->owner;
    async_socket_retain(s); /* the context's reference may go with the free */
    bool freed = context_complete(context, error);
    if (!freed && error != 0)
        async_socket_dispose(s);
    async_socket_release(s);
}

/* One packet off test_port, as GetQueuedCompletionStatus gives it: overlapped is NULL when
 * none came within timeout_ms. */
typedef struct packet {
    BOOL ok;
    DWORD bytes, error;
    ULONG_PTR key;
    OVERLAPPED *overlapped;
} packet;

static packet take_packet(DWORD timeout_ms)
{
    packet p = {FALSE, 0, 0, 0, NULL};
    SetLastError(0);
    p.ok = GetQueuedCompletionStatus(test_port, &p.bytes, &p.key, &p.overlapped, timeout_ms);
    p.error = GetLastError();
    return p;
}

/* Dequeues packets for the operations in outcomes[0..count): each must come once within
 * TK_PROMPT_MS with its socket's key, and nothing more may come within QUIET_MS after. */
static void handle_packets(outcome *outcomes, int count, const char *what)
{
    int handled = 0;
    for (;;) {
        packet p = take_packet(handled < count ? TK_PROMPT_MS : QUIET_MS);
        if (p.overlapped == NULL) {
            if (handled < count)
                fail_msg("expected %d completion packet(s), one per operation (%s); %d "
                         "came within %d ms. An operation that fails at once gets no packet "
                         "from the kernel: who queues one?", count, what, handled,
                         TK_PROMPT_MS);
            return;
        }
        outcome *o = NULL;
        for (int i = 0; i < count; i++)
            if (outcomes[i].overlapped == p.overlapped)
                o = &outcomes[i];
        if (o == NULL)
            fail_msg("expected packets only for the %s; one came for an OVERLAPPED the checker "
                     "did not start", what);
        if (++o->packets > 1)
            fail_msg("expected exactly one completion packet per operation (%s); a second "
                     "one came for the same operation: it completes twice", what);
        if (p.key != o->key)
            fail_msg("expected the packet of %s to carry its socket's completion key (%lu, "
                     "the one the socket was associated with); it carried %lu. A handler "
                     "that finds its connection by the key would look up the wrong one",
                     what, (unsigned long)o->key, (unsigned long)p.key);
        SetLastError(p.error);
        on_packet((io_context *)p.overlapped, p.ok, p.bytes, o);
        handled++;
    }
}

/* A failure's packet: no bytes moved, and the operation's own error reached the handler. */
static void assert_failure_packet(const outcome *o, DWORD expected, const char *what)
{
    if (o->bytes != 0)
        fail_msg("expected the packet of %s to say 0 bytes, as the kernel's would for an "
                 "operation that moved none; it said %lu", what, (unsigned long)o->bytes);
    if (o->error != expected)
        fail_msg("expected the handler to read the error of %s (%lu) from its packet; it "
                 "read %lu", what, (unsigned long)expected, (unsigned long)o->error);
}

static void assert_still_in_progress(io_context *context, const char *what)
{
    if (!(context_state(context) & CONTEXT_IN_PROGRESS))
        fail_msg("expected the context of %s to stay \"in progress\" until its packet is "
                 "handled: a packet is on its way to it, and dispose must not free it before "
                 "then. It was no longer in progress", what);
}

static void assert_nothing_left(registry_totals before)
{
    registry_totals after = totals();
    if (after.contexts != before.contexts || after.sockets != before.sockets)
        fail_msg("expected every context and socket object to be freed; %ld context(s) and "
                 "%ld socket object(s) were left", after.contexts - before.contexts,
                 after.sockets - before.sockets);
}

static void expect_started(DWORD answer, const char *what)
{
    if (answer != 0)
        fail_msg("expected the start of %s to return 0 (a packet will come); it returned %lu",
                 what, (unsigned long)answer);
}

static void receives_that_fail_at_once_each_come_back_once_with_their_error(void **state)
{
    (void)state;
    registry_totals before = totals();
    enum { N = 3 };
    SOCKET peers[N];
    outcome outcomes[N];
    for (int i = 0; i < N; i++) {
        async_socket *s = keyed_socket(&peers[i], &outcomes[i], true);
        assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);
        expect_started(routed_receive(s, test_port, outcomes[i].key, 16), /* WSAESHUTDOWN */
                       "a receive that failed at once, whose packet was posted");
        assert_still_in_progress(s->in, "a receive that failed at once");
    }
    if (fault_plan_calls("post") != N)
        fail_msg("expected each of the %d failed receives to post its packet with "
                 "PostQueuedCompletionStatus; it was called %ld time(s)", N,
                 fault_plan_calls("post"));
    handle_packets(outcomes, N, "receives that failed at once");
    for (int i = 0; i < N; i++) {
        assert_failure_packet(&outcomes[i], WSAESHUTDOWN, "a receive that failed at once");
        closesocket(peers[i]);
    }
    assert_nothing_left(before); /* the handler disposed each socket */
}

static void a_send_that_fails_at_once_comes_back_once_with_wsaeconnreset(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    outcome o;
    async_socket *s = keyed_socket(&peer, &o, false);
    net_hard_reset(peer);
    tk_wait_readable(s->handle, TK_PROMPT_MS); /* the reset has arrived */
    DWORD length = (DWORD)ck_random(1, 4096);
    expect_started(routed_send(s, test_port, o.key, length), /* WSAECONNRESET */
                   "a send that failed at once, whose packet was posted");
    assert_still_in_progress(s->out, "a send that failed at once");
    handle_packets(&o, 1, "a send that failed at once");
    assert_failure_packet(&o, WSAECONNRESET, "a send that failed at once");
    assert_nothing_left(before);
}

/* Errors of the incident's kind, from outside (the fault plan's "receive" rule: Wine
 * cannot be made to return most of them). */
static void any_immediate_failure_comes_back_once_through_the_port(void **state)
{
    (void)state;
    static const DWORD errors[] = {WSAECONNRESET, WSAECONNABORTED, WSAENETRESET, WSAENOTCONN};
    DWORD planned = errors[ck_random(0, 3)];
    char plan[64], why[128];
    snprintf(plan, sizeof plan, "receive#1=fail:%lu", (unsigned long)planned);
    assert_true(fault_plan_set(plan, why, sizeof why));
    registry_totals before = totals();
    SOCKET peer;
    outcome o;
    async_socket *s = keyed_socket(&peer, &o, true);
    expect_started(routed_receive(s, test_port, o.key, 16),
                   "a receive that failed at once, whose packet was posted");
    assert_still_in_progress(s->in, "a receive that failed at once");
    handle_packets(&o, 1, "a receive that failed at once");
    fault_plan_set(NULL, why, sizeof why);
    assert_failure_packet(&o, planned, "a receive that failed at once");
    assert_nothing_left(before);
    closesocket(peer);
}

/* Between the failure and its packet, the socket may be disposed (the idle timeout, the
 * shutdown). The context must survive until the packet that names it has been handled. */
static void a_socket_disposed_before_its_failure_packet_is_freed_by_that_packet(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    outcome o;
    async_socket *s = keyed_socket(&peer, &o, true);
    assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);
    expect_started(routed_receive(s, test_port, o.key, 16),
                   "a receive that failed at once, whose packet was posted");
    async_socket_dispose(s);
    if (totals().contexts - before.contexts != 1)
        fail_msg("expected dispose to leave the failed receive's context alive until its "
                 "packet is handled (1 context alive); %ld were alive, so the packet on its "
                 "way would name freed memory", totals().contexts - before.contexts);
    handle_packets(&o, 1, "a receive that failed at once");
    assert_nothing_left(before);
    closesocket(peer);
}

/* The system cannot queue the packet (the fault plan's "post" rule fails
 * PostQueuedCompletionStatus, from outside): no
 * packet will come, so the start function must complete the context and say so, and its
 * caller disposes the socket. Nothing may be left and no packet may come. */
static void a_failure_whose_packet_cannot_be_posted_is_returned_to_the_caller(void **state)
{
    (void)state;
    static const DWORD post_errors[] = {ERROR_NO_SYSTEM_RESOURCES, ERROR_NOT_ENOUGH_MEMORY,
                                        ERROR_INVALID_HANDLE};
    DWORD post_error = post_errors[ck_random(0, 2)];
    for (int receive = 0; receive <= 1; receive++) {
        const char *what = receive ? "a receive" : "a send";
        char plan[64], why[128];
        snprintf(plan, sizeof plan, "post#*=fail:%lu", (unsigned long)post_error);
        assert_true(fault_plan_set(plan, why, sizeof why));
        registry_totals before = totals();
        SOCKET peer;
        outcome o;
        async_socket *s = keyed_socket(&peer, &o, receive != 0);
        DWORD expected;
        DWORD answer;
        if (receive) {
            assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);
            expected = WSAESHUTDOWN;
            answer = routed_receive(s, test_port, o.key, 16);
        } else {
            net_hard_reset(peer);
            tk_wait_readable(s->handle, TK_PROMPT_MS);
            expected = WSAECONNRESET;
            answer = routed_send(s, test_port, o.key, 1);
        }
        long fired = fault_plan_fired("post");
        fault_plan_set(NULL, why, sizeof why);
        if (fired != 1)
            fail_msg("expected %s that failed at once to post its packet with "
                     "PostQueuedCompletionStatus once; %ld call(s) were made", what, fired);
        if (answer != expected && answer != post_error)
            fail_msg("%s failed at once (%lu) and its packet could not be posted (%lu): no "
                     "packet will ever come, so the start must return an error for its caller "
                     "to dispose the socket; it returned %lu, and the error is lost",
                     what, (unsigned long)expected, (unsigned long)post_error,
                     (unsigned long)answer);
        io_context *context = receive ? s->in : s->out;
        if (context_state(context) & CONTEXT_IN_PROGRESS)
            fail_msg("%s's packet could not be posted, and its context still read \"in "
                     "progress\": dispose would leave it to a packet that will never come",
                     what);
        async_socket_dispose(s); /* the caller's part, after an error */
        handle_packets(&o, 0, "an operation whose packet could not be posted");
        assert_nothing_left(before);
        closesocket(peer);
    }
}

static void a_receive_that_succeeds_at_once_comes_back_once_not_twice(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    outcome o;
    async_socket *s = keyed_socket(&peer, &o, true);
    char data[16];
    int length = ck_random(1, (int)sizeof data);
    for (int i = 0; i < length; i++)
        data[i] = (char)ck_random('a', 'z');
    assert_true(net_send_all(peer, data, length));
    tk_wait_readable(s->handle, TK_PROMPT_MS); /* there before the call */
    expect_started(routed_receive(s, test_port, o.key, 16), "a receive that succeeded at once");
    handle_packets(&o, 1, "a receive that succeeded at once");
    assert_int_equal(o.error, 0);
    assert_int_equal(o.bytes, length);
    assert_memory_equal(s->in->buffer, data, length);
    if (fault_plan_calls("post") != 0)
        fail_msg("expected no posted packet for a receive that succeeded at once (the kernel "
                 "queues its packet); PostQueuedCompletionStatus was called");
    async_socket_dispose(s); /* the server's own decision: nothing is in flight */
    assert_nothing_left(before);
    closesocket(peer);
}

static void a_receive_that_waits_comes_back_once_when_the_data_arrives(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    outcome o;
    async_socket *s = keyed_socket(&peer, &o, true);
    expect_started(routed_receive(s, test_port, o.key, 16), "a pending receive");
    assert_still_in_progress(s->in, "a pending receive");
    assert_true(net_send_all(peer, "hello", 5));
    handle_packets(&o, 1, "a receive that waited");
    assert_int_equal(o.error, 0);
    assert_int_equal(o.bytes, 5);
    async_socket_dispose(s);
    assert_nothing_left(before);
    closesocket(peer);
}

/* ---- a worker that takes the packet before the start function returns -------------------
 *
 * On a server, workers wait on the port while other threads start operations: a posted
 * packet can be dequeued and handled on another processor before PostQueuedCompletionStatus
 * has even returned. The checker makes that happen every time: its own
 * PostQueuedCompletionStatus (through the program's imports, tutorial/import_hook.h) posts
 * the packet, then waits, bounded, until a worker thread blocked on the port has taken it
 * off and handled it, and only then returns to the start function. */

enum { EARLY_HANDLE_MS = 4 * TK_PROMPT_MS };

typedef BOOL(WINAPI *post_function)(HANDLE, DWORD, ULONG_PTR, LPOVERLAPPED);
static post_function real_post;

static struct {
    volatile LONG armed;  /* the next post waits for its packet to be handled     */
    HANDLE handled;       /* set by the worker once it has handled a packet       */
    volatile LONG posts;  /* posts that waited                                    */
    volatile LONG handled_inside; /* of those, handled before the post returned   */
} early;

static BOOL WINAPI post_handled_at_once(HANDLE port, DWORD bytes, ULONG_PTR key,
                                        LPOVERLAPPED overlapped)
{
    BOOL ok = real_post(port, bytes, key, overlapped);
    DWORD error = GetLastError();
    if (ok && InterlockedCompareExchange(&early.armed, 0, 0) != 0) {
        InterlockedIncrement(&early.posts);
        if (WaitForSingleObject(early.handled, EARLY_HANDLE_MS) == WAIT_OBJECT_0)
            InterlockedIncrement(&early.handled_inside);
    }
    SetLastError(error);
    return ok;
}

/* What the worker saw. It cannot fail the test itself (cmocka's failures belong to the
 * test's own thread): it records, and the test reads after joining it. */
typedef struct worker_log {
    outcome *outcome;
    int strangers;     /* packets for an OVERLAPPED the checker did not start */
    ULONG_PTR wrong_key;
    int wrong_keys;
} worker_log;

/* The worker: handles the packets of one operation as on_packet does, until the test's
 * packet with no OVERLAPPED (or, bounded, until none comes). */
static DWORD WINAPI worker(void *argument)
{
    worker_log *log = argument;
    outcome *o = log->outcome;
    for (;;) {
        packet p = take_packet(EARLY_HANDLE_MS + QUIET_MS);
        if (p.overlapped == NULL)
            return 0;
        if (p.overlapped != o->overlapped) {
            log->strangers++;
            continue;
        }
        if (++o->packets > 1)
            continue; /* counted, not handled: the context may be gone */
        if (p.key != o->key) {
            log->wrong_keys++;
            log->wrong_key = p.key;
        }
        SetLastError(p.error);
        on_packet((io_context *)p.overlapped, p.ok, p.bytes, o);
        SetEvent(early.handled);
    }
}

static void install_post_handled_at_once(void)
{
    if (real_post != NULL)
        return;
    early.handled = CreateEventW(NULL, FALSE, FALSE, NULL);
    assert_non_null(early.handled);
    real_post = (post_function)tk_hook_import("PostQueuedCompletionStatus",
                                              (tk_function)post_handled_at_once);
    if (real_post == NULL)
        fail_msg("could not watch PostQueuedCompletionStatus in the checker's imports");
}

static void a_failure_handled_before_its_start_returns_carries_its_error(void **state)
{
    (void)state;
    install_post_handled_at_once();
    static const DWORD errors[] = {WSAECONNRESET, WSAECONNABORTED, WSAENETRESET, WSAENOTCONN,
                                   WSAESHUTDOWN};
    for (int receive = 0; receive <= 1; receive++) {
        const char *what = receive ? "routed_receive" : "routed_send";
        DWORD planned = errors[ck_random(0, 4)];
        char plan[64], why[128];
        snprintf(plan, sizeof plan, "%s#1=fail:%lu", receive ? "receive" : "send",
                 (unsigned long)planned);
        assert_true(fault_plan_set(plan, why, sizeof why));
        registry_totals before = totals();
        SOCKET peer;
        outcome o;
        async_socket *s = keyed_socket(&peer, &o, receive != 0);
        worker_log log = {&o, 0, 0, 0};
        HANDLE thread = CreateThread(NULL, 0, worker, &log, 0, NULL);
        assert_non_null(thread);
        ResetEvent(early.handled);
        early.posts = early.handled_inside = 0;
        InterlockedExchange(&early.armed, 1);
        DWORD answer = receive ? routed_receive(s, test_port, o.key, 16)
                               : routed_send(s, test_port, o.key, (DWORD)ck_random(1, 4096));
        InterlockedExchange(&early.armed, 0);
        /* s may be gone now: the worker's handler disposes it on the error. A packet with
         * no OVERLAPPED, after anything the start posted, sends the worker home. */
        assert_true(real_post(test_port, 0, 0, NULL));
        bool joined = WaitForSingleObject(thread, EARLY_HANDLE_MS + 2 * QUIET_MS) ==
                      WAIT_OBJECT_0;
        CloseHandle(thread);
        fault_plan_set(NULL, why, sizeof why);
        if (!joined)
            fail_msg("expected the checker's worker to be done with the port within %d ms; "
                     "it was still waiting", EARLY_HANDLE_MS + 2 * QUIET_MS);
        if (answer != 0)
            fail_msg("expected %s, whose call failed at once (%lu, from the fault plan) and "
                     "whose packet could be posted, to return 0; it returned %lu", what,
                     (unsigned long)planned, (unsigned long)answer);
        if (o.packets != 1 || early.posts != 1)
            fail_msg("expected %s that failed at once (%lu) to post exactly one packet, "
                     "which the worker takes; %ld post(s) were made, %d packet(s) came for "
                     "its OVERLAPPED", what, (unsigned long)planned, (long)early.posts,
                     o.packets);
        if (log.strangers != 0 || log.wrong_keys != 0)
            fail_msg("expected the packet of %s to name its OVERLAPPED and its socket's key "
                     "(%lu); %d packet(s) named another OVERLAPPED, %d carried the key %lu",
                     what, (unsigned long)o.key, log.strangers, log.wrong_keys,
                     (unsigned long)log.wrong_key);
        if (early.handled_inside != 1)
            fail_msg("expected a worker waiting on the port to take the posted packet of %s "
                     "and handle it within %d ms, before PostQueuedCompletionStatus returned; "
                     "it had not", what, EARLY_HANDLE_MS);
        if (o.error != planned)
            fail_msg("a worker took the packet of %s off the port and handled it before "
                     "PostQueuedCompletionStatus had returned (as a worker on another "
                     "processor can): expected the handler to read the operation's error "
                     "(%lu) from it, it read %lu. Everything the handler reads must be in "
                     "place before the packet is posted", what, (unsigned long)planned,
                     (unsigned long)o.error);
        if (o.bytes != 0)
            fail_msg("expected the packet of %s to say 0 bytes; it said %lu", what,
                     (unsigned long)o.bytes);
        assert_nothing_left(before); /* the handler disposed the socket */
        closesocket(peer);
    }
}

/* One port per test, and no fault plan: a packet or a rule a failed test left behind cannot
 * reach the next test. */
static int fresh_port(void **state)
{
    char why[128];
    fault_plan_set(NULL, why, sizeof why);
    return test_port_open(state);
}
#define ON_ITS_OWN_PORT(test) cmocka_unit_test_setup_teardown(test, fresh_port, test_port_close)

int main(void)
{
    ck_seed();
    const struct CMUnitTest tests[] = {
        ON_ITS_OWN_PORT(receives_that_fail_at_once_each_come_back_once_with_their_error),
        ON_ITS_OWN_PORT(a_send_that_fails_at_once_comes_back_once_with_wsaeconnreset),
        ON_ITS_OWN_PORT(any_immediate_failure_comes_back_once_through_the_port),
        ON_ITS_OWN_PORT(a_socket_disposed_before_its_failure_packet_is_freed_by_that_packet),
        ON_ITS_OWN_PORT(a_failure_whose_packet_cannot_be_posted_is_returned_to_the_caller),
        ON_ITS_OWN_PORT(a_receive_that_succeeds_at_once_comes_back_once_not_twice),
        ON_ITS_OWN_PORT(a_receive_that_waits_comes_back_once_when_the_data_arrives),
        ON_ITS_OWN_PORT(a_failure_handled_before_its_start_returns_carries_its_error),
    };
    return CK_RUN_CHECKER("exercise 07.2", tests, tk_faults_up, tk_winsock_down);
}
