/* The real step05-server.exe: the server contract (usage errors, --seconds, the
 * listening line) and an echo through it from the project's client code. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

/* The program refuses args with status 2, a line naming the problem, and the usage line. */
static void assert_refused(const char *args, const char *problem)
{
    tk_process *p = tk_spawn("step05-server", args);
    assert_int_equal(tk_wait_exit(p, 20000), 2);
    assert_non_null(strstr(tk_stderr(p), problem));
    assert_non_null(strstr(tk_stderr(p), "usage: step05-server"));
    tk_process_free(p);
}

static void a_bad_flag_gets_status_2_and_the_usage_line(void **state)
{
    (void)state;
    assert_refused("--port 0 --bogus", "unknown option --bogus");
}

static void a_thread_count_out_of_range_gets_status_2(void **state)
{
    (void)state;
    assert_refused("--port 0 --threads -1", "--threads");
}

static void an_accept_count_of_zero_gets_status_2(void **state)
{
    (void)state;
    assert_refused("--port 0 --accepts 0", "--accepts");
}

static void it_serves_for_the_given_seconds_then_exits_cleanly(void **state)
{
    (void)state;
    tk_process *p;
    tk_start_server(&p, "step05-server", "--port 0 --seconds 1 --threads 3 --accepts 5");
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    assert_non_null(strstr(tk_stderr(p), "3 worker threads"));
    assert_non_null(strstr(tk_stderr(p), "5 accepts outstanding"));
    assert_non_null(strstr(tk_stdout(p), "operations aborted at shutdown: 5,"));
    assert_non_null(strstr(tk_stdout(p), "live contexts at exit: 0"));
    tk_process_free(p);
}

static void the_real_program_echoes_and_reports_what_it_served(void **state)
{
    (void)state;
    tk_process *p;
    unsigned short port = tk_start_server(&p, "step05-server", "--port 0 --seconds 2");
    for (int i = 0; i < 3; i++) {
        client_buffer reply;
        assert_true(client_exchange_stream(port, "echo me", 7, TK_PROMPT_MS, &reply));
        assert_int_equal(reply.length, 7);
        assert_memory_equal(reply.data, "echo me", 7);
        client_buffer_free(&reply);
    }
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    assert_non_null(strstr(tk_stdout(p), "3 accepted, 3 closed; bytes echoed: 21"));
    assert_non_null(strstr(tk_stdout(p), "live contexts at exit: 0"));
    tk_process_free(p);
}

static void a_bad_fault_plan_gets_status_2_the_reason_and_the_usage_line(void **state)
{
    (void)state;
    assert_refused("--port 0 --faults receive#2=explode", "--faults: \"explode\"");
}

/* The chapter's "Driving the outcomes Wine does not produce", by hand. */
static void a_fault_plan_replays_an_outcome_by_hand(void **state)
{
    (void)state;
    tk_process *p;
    unsigned short port = tk_start_server(
        &p, "step05-server", "--port 0 --seconds 2 --faults \"accept-done#1=error:64\"");

    /* The first client's accept comes back failed: the server closes the socket it made for
     * it, and the client reads the end of the connection, no echo. It sends nothing: bytes
     * that reached that socket before the close would turn the close into a reset (see
     * step05.acceptex_rules), so a client that sends sees an end or a reset by timing. */
    SOCKET first = net_connect_loopback(port);
    assert_true(first != INVALID_SOCKET);
    assert_true(net_set_recv_timeout(first, TK_PROMPT_MS));
    char byte;
    assert_int_equal(recv(first, &byte, 1, 0), 0);
    closesocket(first);

    client_buffer reply;
    assert_true(client_exchange_stream(port, "again", 5, TK_PROMPT_MS, &reply));
    assert_int_equal(reply.length, 5);
    assert_memory_equal(reply.data, "again", 5);
    client_buffer_free(&reply);
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    assert_non_null(strstr(tk_stdout(p), "1 accepted, 1 closed"));
    assert_non_null(strstr(tk_stdout(p), "live contexts at exit: 0"));
    tk_process_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_bad_flag_gets_status_2_and_the_usage_line),
        cmocka_unit_test(a_thread_count_out_of_range_gets_status_2),
        cmocka_unit_test(an_accept_count_of_zero_gets_status_2),
        cmocka_unit_test(it_serves_for_the_given_seconds_then_exits_cleanly),
        cmocka_unit_test(the_real_program_echoes_and_reports_what_it_served),
        cmocka_unit_test(a_bad_fault_plan_gets_status_2_the_reason_and_the_usage_line),
        cmocka_unit_test(a_fault_plan_replays_an_outcome_by_hand),
    };
    return cmocka_run_group_tests_name("step05 program", tests, tk_winsock_up, tk_winsock_down);
}
