/* step02-server as a learner runs it: the contract every server keeps. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "tutorial/testkit.h"

static void a_bad_flag_or_value_exits_with_status_2_and_usage(void **state)
{
    (void)state;
    const char *bad[] = {"--bogus", "--max-clients 63", "--port"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tk_process *p = tk_spawn("step02-server", bad[i]);
        assert_int_equal(tk_wait_exit(p, 20000), 2);
        assert_non_null(strstr(tk_stderr(p), "usage: step02-server"));
        tk_process_free(p);
    }
}

static void it_echoes_then_stops_by_itself_after_seconds(void **state)
{
    (void)state;
    tk_process *p;
    unsigned short port = tk_start_server(&p, "step02-server", "--port 0 --seconds 1");
    client_buffer reply;
    assert_true(client_exchange_stream(port, "hi there", 8, TK_PROMPT_MS, &reply));
    assert_int_equal(reply.length, 8);
    assert_memory_equal(reply.data, "hi there", 8);
    client_buffer_free(&reply);
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    assert_true(strncmp(tk_stdout(p), "listening on 127.0.0.1:", 23) == 0);
    assert_non_null(strstr(tk_stdout(p), "served 1 clients, refused 0"));
    assert_non_null(strstr(tk_stdout(p), "clients left at exit: 0"));
    tk_process_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_bad_flag_or_value_exits_with_status_2_and_usage),
        cmocka_unit_test(it_echoes_then_stops_by_itself_after_seconds),
    };
    return cmocka_run_group_tests_name("step02 program", tests, tk_winsock_up, tk_winsock_down);
}
