/* Checker of exercise 07.2 (redesign): with routed_start.c, every started operation ends in
 * exactly one completion packet, immediate failures included, and the completion handler
 * below is the one place where contexts are completed and sockets disposed on an error.
 * Packets are counted per OVERLAPPED before the handler sees them, so a second packet for
 * one operation is caught before anything touches its context. */
#include <string.h>

#include "routed_start.h"
#include "support.h"
#include "tutorial/net.h"

enum { QUIET_MS = 300, MAX_OPERATIONS = 8 };

/* What the packets of one operation looked like. */
typedef struct outcome {
    OVERLAPPED *overlapped;
    int packets;
    DWORD bytes;
    DWORD error;
} outcome;

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

/* Dequeues packets for the operations in outcomes[0..count): each must come once within
 * TK_PROMPT_MS, and nothing more may come within QUIET_MS after that. */
static void handle_packets(outcome *outcomes, int count, const char *what)
{
    int handled = 0;
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *overlapped = NULL;
        SetLastError(0);
        BOOL ok = GetQueuedCompletionStatus(test_port, &bytes, &key, &overlapped,
                                            handled < count ? TK_PROMPT_MS : QUIET_MS);
        DWORD error = GetLastError();
        if (overlapped == NULL) {
            if (handled < count)
                fail_msg("expected %d completion packet(s), one per operation (%s); %d "
                         "came within %d ms. An operation that fails at once gets no packet "
                         "from the kernel: who queues one?", count, what, handled,
                         TK_PROMPT_MS);
            return;
        }
        outcome *o = NULL;
        for (int i = 0; i < count; i++)
            if (outcomes[i].overlapped == overlapped)
                o = &outcomes[i];
        if (o == NULL)
            fail_msg("expected packets only for the %s; one came for an OVERLAPPED the checker "
                     "did not start", what);
        if (++o->packets > 1)
            fail_msg("expected exactly one completion packet per operation (%s); a second "
                     "one came for the same operation: it completes twice",
                     what);
        SetLastError(error);
        on_packet((io_context *)overlapped, ok, bytes, o);
        handled++;
    }
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

static void receives_that_fail_at_once_each_come_back_once_with_their_error(void **state)
{
    (void)state;
    registry_totals before = totals();
    enum { N = 3 };
    SOCKET peers[N];
    outcome outcomes[N];
    memset(outcomes, 0, sizeof outcomes);
    for (int i = 0; i < N; i++) {
        async_socket *s = connected_socket(&peers[i], 4096);
        assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);
        outcomes[i].overlapped = &s->in->overlapped;
        routed_receive(s, test_port, 16); /* fails at once with WSAESHUTDOWN */
        assert_still_in_progress(s->in, "a receive that failed at once");
    }
    handle_packets(outcomes, N, "receives that failed at once");
    for (int i = 0; i < N; i++) {
        tk_assert_error(outcomes[i].error, WSAESHUTDOWN);
        closesocket(peers[i]);
    }
    assert_nothing_left(before); /* the handler disposed each socket */
}

static void a_send_that_fails_at_once_comes_back_once_with_wsaeconnreset(void **state)
{
    (void)state;
    registry_totals before = totals();
    async_socket *s = connection_reset_by_peer(); /* the reset has arrived */
    outcome o = {&s->out->overlapped, 0, 0, 0};
    routed_send(s, test_port, 1); /* fails at once with WSAECONNRESET */
    assert_still_in_progress(s->out, "a send that failed at once");
    handle_packets(&o, 1, "a send that failed at once");
    tk_assert_error(o.error, WSAECONNRESET);
    assert_nothing_left(before);
}

/* The incident's failure, through the step's seam (Wine cannot be made to return it). */
static void the_incidents_wsaeconnreset_comes_back_once_through_the_port(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    winsock.receive = receive_fails_with_wsaeconnreset;
    outcome o = {&s->in->overlapped, 0, 0, 0};
    routed_receive(s, test_port, 16);
    winsock_restore();
    assert_still_in_progress(s->in, "a receive that failed at once");
    handle_packets(&o, 1, "a receive that failed at once");
    tk_assert_error(o.error, WSAECONNRESET);
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
    async_socket *s = connected_socket(&peer, 4096);
    assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);
    outcome o = {&s->in->overlapped, 0, 0, 0};
    routed_receive(s, test_port, 16);
    async_socket_dispose(s);
    if (totals().contexts - before.contexts != 1)
        fail_msg("expected dispose to leave the failed receive's context alive until its "
                 "packet is handled (1 context alive); %ld were alive, so the packet on its "
                 "way would name freed memory", totals().contexts - before.contexts);
    handle_packets(&o, 1, "a receive that failed at once");
    assert_nothing_left(before);
    closesocket(peer);
}

static void a_receive_that_succeeds_at_once_comes_back_once_not_twice(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket_with_data(&peer, "abc"); /* there before the call */
    outcome o = {&s->in->overlapped, 0, 0, 0};
    routed_receive(s, test_port, 16);
    handle_packets(&o, 1, "a receive that succeeded at once");
    assert_int_equal(o.error, 0);
    assert_int_equal(o.bytes, 3);
    assert_memory_equal(s->in->buffer, "abc", 3);
    async_socket_dispose(s); /* the server's own decision: nothing is in flight */
    assert_nothing_left(before);
    closesocket(peer);
}

static void a_receive_that_waits_comes_back_once_when_the_data_arrives(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    outcome o = {&s->in->overlapped, 0, 0, 0};
    routed_receive(s, test_port, 16);
    assert_still_in_progress(s->in, "a pending receive");
    assert_true(net_send_all(peer, "hello", 5));
    handle_packets(&o, 1, "a receive that waited");
    assert_int_equal(o.error, 0);
    assert_int_equal(o.bytes, 5);
    async_socket_dispose(s);
    assert_nothing_left(before);
    closesocket(peer);
}

/* One port per test: a packet a failed test left behind cannot reach the next test. */
#define ON_ITS_OWN_PORT(test) cmocka_unit_test_setup_teardown(test, test_port_open, test_port_close)

int main(void)
{
    const struct CMUnitTest tests[] = {
        ON_ITS_OWN_PORT(receives_that_fail_at_once_each_come_back_once_with_their_error),
        ON_ITS_OWN_PORT(a_send_that_fails_at_once_comes_back_once_with_wsaeconnreset),
        ON_ITS_OWN_PORT(the_incidents_wsaeconnreset_comes_back_once_through_the_port),
        ON_ITS_OWN_PORT(a_socket_disposed_before_its_failure_packet_is_freed_by_that_packet),
        ON_ITS_OWN_PORT(a_receive_that_succeeds_at_once_comes_back_once_not_twice),
        ON_ITS_OWN_PORT(a_receive_that_waits_comes_back_once_when_the_data_arrives),
    };
    return cmocka_run_group_tests_name("exercise 07.2", tests, tk_winsock_up, tk_winsock_down);
}
