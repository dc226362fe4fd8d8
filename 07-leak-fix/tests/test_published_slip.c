/* The fix as first published completed m_outOverlapped, the SEND context, in the receive
 * path. Built with PUBLISHED_FIX_SLIP, this library does the same. Two consequences, shown
 * without letting the kernel write into freed memory: the receive context still leaks,
 * and a send still in flight is marked "not in progress", so dispose would free it under
 * the kernel's feet. */
#include "async_socket.h"
#include "registry.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

static HANDLE port;

static int set_up(void **state)
{
    port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    return port != NULL ? tk_winsock_up(state) : -1;
}

static int tear_down(void **state)
{
    CloseHandle(port);
    return tk_winsock_down(state);
}

static registry_totals totals(void)
{
    registry_totals t;
    registry_get_totals(&t);
    return t;
}

/* Fills the connection until the peer's window and our send buffer are full (the peer
 * reads nothing), so that the next overlapped send has to wait. */
static void fill_until_sends_wait(SOCKET s)
{
    static char chunk[65536];
    u_long non_blocking = 1, blocking = 0;
    assert_int_equal(ioctlsocket(s, FIONBIO, &non_blocking), 0);
    while (send(s, chunk, sizeof chunk, 0) > 0)
        ;
    assert_int_equal(WSAGetLastError(), WSAEWOULDBLOCK);
    assert_int_equal(ioctlsocket(s, FIONBIO, &blocking), 0);
}

/* The peer reads until the pending send has completed. */
static void read_until_send_completes(SOCKET peer, OVERLAPPED *send_overlapped)
{
    static char sink[65536];
    assert_true(net_set_recv_timeout(peer, TK_PROMPT_MS));
    while (!HasOverlappedIoCompleted(send_overlapped))
        assert_true(recv(peer, sink, sizeof sink, 0) > 0);
}

static void the_slip_keeps_the_receive_leak_and_unprotects_a_send_in_flight(void **state)
{
    (void)state;
    registry_totals before = totals();
    SOCKET peer, mine;
    tk_socket_pair(&peer, &mine);
    async_socket *s = async_socket_wrap(mine, 65536, 0);
    assert_non_null(s);
    assert_true(async_socket_attach(s, port, 0));
    fill_until_sends_wait(s->handle);
    assert_int_equal(async_socket_send(s, 0, 65536), 0);
    assert_false(HasOverlappedIoCompleted(&s->out->overlapped)); /* the kernel holds it */

    assert_int_equal(shutdown(s->handle, SD_RECEIVE), 0);
    assert_int_equal(async_socket_receive(s, 0, 16), WSAESHUTDOWN); /* fails at once */

    /* Slip 1: the receive context was not completed; after dispose it will leak. */
    assert_true(context_state(s->in) & CONTEXT_IN_PROGRESS);
    /* Slip 2: the send context reads "not in progress" while its WSASend is pending, so
     * dispose would free its OVERLAPPED and buffer now: a use-after-free in waiting. */
    assert_false(context_state(s->out) & CONTEXT_IN_PROGRESS);
    assert_false(HasOverlappedIoCompleted(&s->out->overlapped));

    /* Let the send finish before dispose, so this test frees nothing the kernel holds. */
    read_until_send_completes(peer, &s->out->overlapped);
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    assert_true(GetQueuedCompletionStatus(port, &bytes, &key, &overlapped, TK_PROMPT_MS));
    assert_ptr_equal(overlapped, &s->out->overlapped);
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
    return cmocka_run_group_tests_name("published_slip", tests, set_up, tear_down);
}
