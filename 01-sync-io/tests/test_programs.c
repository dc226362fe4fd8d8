/* The real programs, started as processes: the contract every step's server keeps, and
 * the copy program. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "tutorial/testkit.h"

static void the_server_rejects_a_bad_flag_with_status_2_and_usage(void **state)
{
    (void)state;
    tk_process *p = tk_spawn("step01-server", "--bogus");
    assert_int_equal(tk_wait_exit(p, 20000), 2);
    assert_non_null(strstr(tk_stderr(p), "unknown option --bogus"));
    assert_non_null(strstr(tk_stderr(p), "usage: step01-server"));
    tk_process_free(p);
}

static void the_server_serves_for_the_given_seconds_then_exits_cleanly(void **state)
{
    (void)state;
    tk_process *p;
    tk_start_server(&p, "step01-server", "--port 0 --seconds 1");
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    assert_non_null(strstr(tk_stdout(p), "served 0 clients"));
    assert_string_equal(tk_stderr(p), "");
    tk_process_free(p);
}

/* The line a learner watches: one more client, one more thread. */
static void the_server_prints_clients_and_threads_as_a_client_comes_and_goes(void **state)
{
    (void)state;
    tk_process *p;
    unsigned short port = tk_start_server(&p, "step01-server", "--port 0 --seconds 30");
    char line[256];
    client_buffer reply;
    assert_true(client_exchange_stream(port, "hi", 2, TK_PROMPT_MS, &reply));
    assert_string_equal((char *)reply.data, "hi");
    client_buffer_free(&reply);
    assert_true(tk_wait_for_line(p, "clients=1 threads=2 ", TK_PROMPT_MS, line, sizeof line));
    assert_true(tk_wait_for_line(p, "clients=0 threads=1 ", TK_PROMPT_MS, line, sizeof line));
    assert_non_null(strstr(line, "process_threads="));
    tk_process_free(p);
}

static void the_copy_program_rejects_a_missing_destination_with_status_2(void **state)
{
    (void)state;
    tk_process *p = tk_spawn("step01-copy", "--from somewhere");
    assert_int_equal(tk_wait_exit(p, 20000), 2);
    assert_non_null(strstr(tk_stderr(p), "usage: step01-copy"));
    tk_process_free(p);
}

static void the_copy_program_copies_a_file_and_says_how(void **state)
{
    (void)state;
    char from[MAX_PATH], to[MAX_PATH];
    tk_temp_file(from);
    tk_temp_file(to);
    HANDLE file = CreateFileA(from, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, 0, NULL);
    assert_true(file != INVALID_HANDLE_VALUE);
    DWORD written = 0;
    assert_true(WriteFile(file, "twelve bytes", 12, &written, NULL));
    CloseHandle(file);

    char args[3 * MAX_PATH];
    snprintf(args, sizeof args, "--from \"%s\" --to \"%s\" --chunk 5", from, to);
    tk_process *p = tk_spawn("step01-copy", args);
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    assert_non_null(strstr(tk_stdout(p), "copied 12 bytes in 4 reads and 3 writes"));
    tk_process_free(p);

    WIN32_FILE_ATTRIBUTE_DATA copied;
    assert_true(GetFileAttributesExA(to, GetFileExInfoStandard, &copied));
    assert_int_equal(copied.nFileSizeLow, 12);
    DeleteFileA(from);
    DeleteFileA(to);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_server_rejects_a_bad_flag_with_status_2_and_usage),
        cmocka_unit_test(the_server_serves_for_the_given_seconds_then_exits_cleanly),
        cmocka_unit_test(the_server_prints_clients_and_threads_as_a_client_comes_and_goes),
        cmocka_unit_test(the_copy_program_rejects_a_missing_destination_with_status_2),
        cmocka_unit_test(the_copy_program_copies_a_file_and_says_how),
    };
    return cmocka_run_group_tests_name("step01 programs", tests, tk_winsock_up, tk_winsock_down);
}
