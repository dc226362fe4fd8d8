/* The reproduction tools keep the CLI contract and really end their connections with a
 * reset: the listening side sees WSAECONNRESET, not an orderly end. */
#include <stdio.h>
#include <string.h>

#include "reset_storm.h"
#include "tutorial/net.h"
#include "tutorial/testkit.h"

static void the_tools_reject_a_bad_flag_with_status_2(void **state)
{
    (void)state;
    const char *programs[] = {"reset-storm", "probe", "proc-stats"};
    for (int i = 0; i < 3; i++) {
        tk_process *p = tk_spawn(programs[i], "--port 7 --bogus");
        assert_int_equal(tk_wait_exit(p, 20000), 2);
        assert_non_null(strstr(tk_stderr(p), "usage: "));
        tk_process_free(p);
    }
}

/* proc-stats measures a running program from outside: this test program, which has this
 * thread and a helper thread of its own, and memory committed. */
static DWORD WINAPI wait_for_event(void *event)
{
    return WaitForSingleObject(event, TK_PROMPT_MS * 4);
}

static void proc_stats_counts_the_threads_and_memory_of_a_running_program(void **state)
{
    (void)state;
    HANDLE release = CreateEventA(NULL, TRUE, FALSE, NULL);
    HANDLE helper = CreateThread(NULL, 0, wait_for_event, release, 0, NULL);
    assert_non_null(helper);
    char self[MAX_PATH], args[MAX_PATH + 16];
    GetModuleFileNameA(NULL, self, sizeof self);
    snprintf(args, sizeof args, "--name %s", strrchr(self, '\\') + 1);
    tk_process *p = tk_spawn("proc-stats", args);
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    long threads = 0;
    unsigned long long kib = 0;
    assert_int_equal(sscanf(tk_stdout(p), "threads=%ld committed_private_kib=%llu", &threads, &kib), 2);
    assert_true(threads >= 2); /* this thread and the helper, at least */
    assert_true(kib > 0);
    tk_process_free(p);
    SetEvent(release);
    tk_assert_wait(WaitForSingleObject(helper, TK_PROMPT_MS), WAIT_OBJECT_0);
    CloseHandle(helper);
    CloseHandle(release);
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
        cmocka_unit_test(the_tools_reject_a_bad_flag_with_status_2),
        cmocka_unit_test(proc_stats_counts_the_threads_and_memory_of_a_running_program),
        cmocka_unit_test(reset_one_ends_the_connection_with_a_reset),
        cmocka_unit_test(the_storm_program_resets_every_connection_it_was_asked_for),
    };
    return cmocka_run_group_tests_name("tools", tests, tk_winsock_up, tk_winsock_down);
}
