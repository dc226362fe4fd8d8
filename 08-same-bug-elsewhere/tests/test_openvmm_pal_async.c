/* openvmm's pal_async read an operation's result from the OVERLAPPED, also after the call
 * had failed at once, when the kernel writes nothing there: it saw STATUS_PENDING, a
 * "not done" in a state where no packet was coming, and panicked. Built twice: as it was
 * (the poll finds the impossible state) and with PR #608 (the call's own error is kept). */
#include "case_support.h"
#include "case_kit.h"
#include "openvmm_pal_async.h"
#include "tutorial/testkit.h"

static void a_receive_that_fails_at_once_is_polled_for_its_error(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_WITH_SERVER);
    assert_int_equal(shutdown(server, SD_RECEIVE), 0); /* a receive now fails at once */

    pal_io io = {0};
    pal_issue_receive(&io, server);
    tk_assert_no_completion(port, 100); /* failed at once: no packet comes */
    assert_int_equal(io.overlapped.Internal, STATUS_PENDING); /* and nothing was written */

    DWORD error = 0, bytes = 0;
    pal_poll_result polled = pal_poll(&io, &error, &bytes);
#ifdef WITH_FIX
    assert_int_equal(polled, PAL_READY);
    tk_assert_error(error, WSAESHUTDOWN);
#else
    assert_int_equal(polled, PAL_PANIC); /* "not done", with nothing in flight */
#endif
    CloseHandle(port);
    closesocket(client);
    closesocket(server);
}

/* The same in both builds: a receive that goes pending reads "not done" until its packet
 * has come, then its bytes. */
static void a_pending_receive_is_polled_until_its_packet(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_WITH_SERVER);

    pal_io io = {0};
    pal_issue_receive(&io, server);
    DWORD error = 0, bytes = 0;
    assert_int_equal(pal_poll(&io, &error, &bytes), PAL_PENDING);
    assert_int_equal(send(client, "vmbus", 5, 0), 5);
    OVERLAPPED *done;
    assert_true(kit_dequeue(port, TK_PROMPT_MS, &done, &bytes, &error));
    assert_ptr_equal(done, &io.overlapped);
    pal_completed(&io);
    assert_int_equal(pal_poll(&io, &error, &bytes), PAL_READY);
    assert_int_equal(error, 0);
    assert_int_equal(bytes, 5);

    CloseHandle(port);
    closesocket(client);
    closesocket(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_receive_that_fails_at_once_is_polled_for_its_error),
        cmocka_unit_test(a_pending_receive_is_polled_until_its_packet),
    };
    return cmocka_run_group_tests_name("openvmm_pal_async", tests, tk_winsock_up,
                                       tk_winsock_down);
}
