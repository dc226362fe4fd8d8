/* mio's selector: a poll submission takes a reference for the packet; when the submission
 * fails at once, no packet brings it back, so it must be dropped there. Built as it was
 * (the state of every socket whose poll failed leaks) and with the fix (none leaks). */
#include "case_support.h"
#include "case_kit.h"
#include "mio_afd_poll.h"
#include "tutorial/testkit.h"

#ifdef WITH_FIX
enum { LEAKED_PER_FAILURE = 0 };
#else
enum { LEAKED_PER_FAILURE = 1 }; /* the socket's state, kept alive by a lost reference */
#endif

static void a_poll_on_a_closed_socket_leaks_its_state_unless_fixed(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_WITH_SERVER);
    long before = kit_live();

    sock_state *st = sock_state_register(server);
    closesocket(server); /* the user closed it while it was still registered */
    assert_int_equal(sock_state_update(st), 0); /* the submission fails at once... */
    assert_true(st->delete_pending);             /* ...and the state is marked for deletion */
    assert_false(st->poll_pending);
    assert_null(selector_step(port, 200)); /* no packet will ever drop its reference */
    sock_state_deregister(st);

    assert_int_equal(kit_live() - before, LEAKED_PER_FAILURE);
    CloseHandle(port);
    closesocket(client);
}

/* The control, the same in both builds: a poll that starts returns its reference with the
 * packet that says the socket is readable. */
static void a_poll_that_starts_gives_its_reference_back_in_both_builds(void **state)
{
    (void)state;
    SOCKET client, server;
    HANDLE port = case_pair_on_port(&client, &server, PORT_WITH_SERVER);
    long before = kit_live();

    sock_state *st = sock_state_register(server);
    assert_int_equal(sock_state_update(st), 0);
    assert_true(st->poll_pending);
    assert_int_equal(st->references, 2); /* the registry's and the poll's */
    assert_int_equal(send(client, "x", 1, 0), 1);
    assert_ptr_equal(selector_step(port, TK_PROMPT_MS), st);
    assert_int_equal(st->references, 1);
    sock_state_deregister(st);

    assert_int_equal(kit_live() - before, 0);
    CloseHandle(port);
    closesocket(client);
    closesocket(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_poll_on_a_closed_socket_leaks_its_state_unless_fixed),
        cmocka_unit_test(a_poll_that_starts_gives_its_reference_back_in_both_builds),
    };
    return cmocka_run_group_tests_name("mio_afd_poll", tests, tk_winsock_up, tk_winsock_down);
}
