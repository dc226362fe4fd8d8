/* The reproduction tools keep the CLI contract and really end their connections with a
 * reset: the listening side sees WSAECONNRESET, not an orderly end. */
#include <stdio.h>
#include <string.h>

#include "reset_storm.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

static void both_tools_reject_a_bad_flag_with_status_2(void **state)
{
    (void)state;
    const char *programs[] = {"reset-storm", "probe"};
    for (int i = 0; i < 2; i++) {
        tk_process *p = tk_spawn(programs[i], "--port 7 --bogus");
        assert_int_equal(tk_wait_exit(p, 20000), 2);
        assert_non_null(strstr(tk_stderr(p), "usage: "));
        tk_process_free(p);
    }
}

static void reset_one_ends_the_connection_with_a_reset(void **state)
{
    (void)state;
    unsigned short port;
    SOCKET listener = net_listen_loopback(0, &port);
    assert_true(listener != INVALID_SOCKET);
    struct in_addr any, loopback;
    any.s_addr = htonl(INADDR_ANY);
    loopback.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(reset_one(any, loopback, port, false));
    tk_wait_readable(listener, TK_PROMPT_MS);
    SOCKET accepted = accept(listener, NULL, NULL);
    assert_true(accepted != INVALID_SOCKET);
    tk_wait_readable(accepted, TK_PROMPT_MS);
    /* A send reports the reset at once (a receive may read it as an end under Wine). */
    assert_int_equal(send(accepted, "x", 1, 0), SOCKET_ERROR);
    tk_assert_error(WSAGetLastError(), WSAECONNRESET);
    closesocket(accepted);
    closesocket(listener);
}

static void the_storm_program_resets_every_connection_it_was_asked_for(void **state)
{
    (void)state;
    unsigned short port;
    SOCKET listener = net_listen_loopback(0, &port);
    assert_true(listener != INVALID_SOCKET);
    char args[64];
    snprintf(args, sizeof args, "--port %u --count 20 --parallel 2", (unsigned)port);
    tk_process *p = tk_spawn("reset-storm", args);
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    assert_non_null(strstr(tk_stdout(p), "reset-storm: 20 connections reset, 0 failed"));
    tk_process_free(p);
    closesocket(listener);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_tools_reject_a_bad_flag_with_status_2),
        cmocka_unit_test(reset_one_ends_the_connection_with_a_reset),
        cmocka_unit_test(the_storm_program_resets_every_connection_it_was_asked_for),
    };
    return cmocka_run_group_tests_name("tools", tests, tk_winsock_up, tk_winsock_down);
}
