/* The fix as first published completed m_outOverlapped, the SEND context, in the receive
 * path. Built with PUBLISHED_FIX_SLIP, this library does the same. Two consequences, shown
 * without letting the kernel write into freed memory: the receive context still leaks,
 * and a send still in flight is marked "not in progress", so dispose would free it under
 * the kernel's feet. */
#include "support.h"

static void the_slip_keeps_the_receive_leak_and_unprotects_a_send_in_flight(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer;
    async_socket *s = connected_socket(&peer, 65536);
    fill_until_sends_wait(s->handle);
    assert_int_equal(async_socket_send(s, 0, 65536), 0);
    assert_false(HasOverlappedIoCompleted(&s->out->overlapped)); /* the kernel holds it */

    assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);
    tk_assert_error(async_socket_receive(s, 0, 16), WSAESHUTDOWN); /* fails at once */

    /* Slip 1: the receive context was not completed; after dispose it will leak. */
    assert_true(context_state(s->in) & CONTEXT_IN_PROGRESS);
    /* Slip 2: the send context reads "not in progress" while its WSASend is pending, so
     * dispose would free its OVERLAPPED and buffer now: a use-after-free in waiting. */
    assert_false(context_state(s->out) & CONTEXT_IN_PROGRESS);
    assert_false(HasOverlappedIoCompleted(&s->out->overlapped));

    /* Let the send finish before dispose, so this test frees nothing the kernel holds. */
    let_the_send_complete(s, peer);
    assert_false(context_complete(s->out, 0));
    async_socket_dispose(s);

    registry_totals after = totals();
    assert_int_equal(after.contexts - before.contexts, 1); /* the receive context */
    assert_int_equal(after.disposed_in_progress - before.disposed_in_progress, 1);
    closesocket(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_slip_keeps_the_receive_leak_and_unprotects_a_send_in_flight),
    };
    return cmocka_run_group_tests_name("published_slip", tests, test_port_and_winsock_up,
                                       test_port_and_winsock_down);
}
