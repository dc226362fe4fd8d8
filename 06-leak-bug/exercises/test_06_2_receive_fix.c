/* Checker of exercise 06.2 (find the bug): receive_path_start (receive_path.c) must leave
 * nothing behind when WSARecv fails at once, and must still leave a receive that did start
 * to its completion. It runs on step 06's real socket objects and their real dispose. */
#include "receive_path.h"
#include "support.h"
#include "tutorial/net.h"

/* Disposes s, as the server does after an immediate failure, and expects nothing left. */
static void assert_dispose_leaves_nothing(async_socket *s, registry_totals before,
                                          const char *failure)
{
    async_socket_dispose(s);
    registry_totals after = totals();
    if (after.contexts != before.contexts || after.sockets != before.sockets)
        fail_msg("expected dispose to free both contexts and the socket object after WSARecv "
                 "failed at once with %s; %ld context(s) (%ld of them disposed and still "
                 "\"in progress\") and %ld socket object(s) were left. No completion will "
                 "ever come for that receive: who clears its flag?",
                 failure, after.contexts - before.contexts,
                 after.disposed_in_progress - before.disposed_in_progress,
                 after.sockets - before.sockets);
}

static void a_receive_failing_with_wsaeshutdown_leaves_nothing_after_dispose(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);

    DWORD error = receive_path_start(s, 0, 16);
    if (error != WSAESHUTDOWN)
        fail_msg("expected receive_path_start to return WSAESHUTDOWN (10058) after "
                 "shutdown(SD_RECEIVE): the caller needs the error to dispose the socket; "
                 "it returned %lu", (unsigned long)error);
    assert_dispose_leaves_nothing(s, before, "WSAESHUTDOWN");
    closesocket(peer);
}

static void a_receive_failing_with_wsaeconnreset_leaves_nothing_after_dispose(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    /* The incident's error, through the step's seam: WSARecv fails the way it does on
     * Windows when the reset has already arrived. */
    winsock.receive = receive_fails_with_wsaeconnreset;
    DWORD error = receive_path_start(s, 0, 16);
    winsock_restore();
    if (error != WSAECONNRESET)
        fail_msg("expected receive_path_start to return WSAECONNRESET (10054) when WSARecv "
                 "fails with it; it returned %lu", (unsigned long)error);
    assert_dispose_leaves_nothing(s, before, "WSAECONNRESET");
    closesocket(peer);
}

/* The opposite mistake: a receive that did start belongs to the kernel until its packet
 * comes, so dispose must not free it. */
static void a_pending_receive_is_freed_by_its_aborted_completion_not_by_dispose(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 4096);
    io_context *in = s->in;
    assert_int_equal(receive_path_start(s, 0, 16), 0); /* pending: the peer sends nothing */
    if (!(context_state(in) & CONTEXT_IN_PROGRESS))
        fail_msg("expected a pending receive's context to be \"in progress\"; it was not, so "
                 "dispose would free it while the kernel still owns it");
    async_socket_dispose(s);
    if (totals().contexts - before.contexts != 1)
        fail_msg("expected dispose to leave the pending receive's context to its "
                 "completion (1 context alive); %ld were alive",
                 totals().contexts - before.contexts);

    assert_the_aborted_completion_frees(in, before);
    closesocket(peer);
}

static void a_receive_that_succeeds_at_once_stays_in_progress_until_its_packet(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket_with_data(&peer, "abc"); /* there before the call */

    assert_int_equal(receive_path_start(s, 0, 16), 0);
    if (!(context_state(s->in) & CONTEXT_IN_PROGRESS))
        fail_msg("expected a receive that succeeded at once to stay \"in progress\" until "
                 "its packet is handled (the packet is queued anyway); it was not");
    assert_the_receive_completes_with(s, peer, "abc", before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_receive_failing_with_wsaeshutdown_leaves_nothing_after_dispose),
        cmocka_unit_test(a_receive_failing_with_wsaeconnreset_leaves_nothing_after_dispose),
        cmocka_unit_test(a_pending_receive_is_freed_by_its_aborted_completion_not_by_dispose),
        cmocka_unit_test(a_receive_that_succeeds_at_once_stays_in_progress_until_its_packet),
    };
    return cmocka_run_group_tests_name("exercise 06.2", tests, test_port_and_winsock_up,
                                       test_port_and_winsock_down);
}
