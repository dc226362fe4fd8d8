/* Twisted's iocpsupport: an OVERLAPPED whose call failed at once is never dequeued, so the
 * call that allocated it must free it. Built as it was (each failure leaks one) and with
 * the fix (none leaks). */
#include "case_support.h"
#include "case_kit.h"
#include "twisted_iocpsupport.h"
#include "tutorial/testkit.h"

#ifdef WITH_FIX
enum { LEAKED_PER_FAILURE = 0 };
#else
enum { LEAKED_PER_FAILURE = 1 }; /* the OVERLAPPED */
#endif

static int callback_object; /* what the reactor would call; only its address matters */

static void failures_at_once_free_their_overlapped_only_when_fixed(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_WITH_SERVER);
    char bytes[16];
    WSABUF buffer = {sizeof bytes, bytes};
    long before = kit_live();

    /* Both directions shut: each call fails at once with WSAESHUTDOWN, on Wine as on
     * Windows. */
    assert_int_equal(shutdown(server, SD_BOTH), 0);
    tk_assert_error(tw_recv(server, &buffer, &callback_object), WSAESHUTDOWN);
    tk_assert_error(tw_send(server, &buffer, &callback_object), WSAESHUTDOWN);
    assert_null(tw_reactor_step(port, 200)); /* no packet for either */

    assert_int_equal(kit_live() - before, 2 * LEAKED_PER_FAILURE);
    CloseHandle(port);
    closesocket(client);
    closesocket(server);
}

/* The control, the same in both builds: a receive that starts is freed by the reactor. */
static void a_receive_that_starts_is_freed_by_the_reactor_in_both_builds(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_WITH_SERVER);
    char bytes[16];
    WSABUF buffer = {sizeof bytes, bytes};
    long before = kit_live();

    assert_int_equal(tw_recv(server, &buffer, &callback_object), 0);
    assert_int_equal(send(client, "ping", 4, 0), 4);
    assert_ptr_equal(tw_reactor_step(port, TK_PROMPT_MS), &callback_object);

    assert_int_equal(kit_live() - before, 0);
    CloseHandle(port);
    closesocket(client);
    closesocket(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failures_at_once_free_their_overlapped_only_when_fixed),
        cmocka_unit_test(a_receive_that_starts_is_freed_by_the_reactor_in_both_builds),
    };
    return cmocka_run_group_tests_name("twisted_iocpsupport", tests, tk_winsock_up,
                                       tk_winsock_down);
}
