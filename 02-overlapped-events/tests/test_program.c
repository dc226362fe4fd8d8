/* step02-server as a learner runs it: the contract every server keeps. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "tutorial/testkit.h"

/* Each of the count argument lines makes program exit with status 2 and print usage. */
static void expect_usage_errors(const char *program, const char *const *bad, size_t count,
                                const char *usage)
{
    for (size_t i = 0; i < count; i++) {
        tk_process *p = tk_spawn(program, bad[i]);
        assert_int_equal(tk_wait_exit(p, 20000), 2);
        assert_non_null(strstr(tk_stderr(p), usage));
        tk_process_free(p);
    }
}

static void a_bad_flag_or_value_exits_with_status_2_and_usage(void **state)
{
    (void)state;
    static const char *const bad[] = {"--bogus", "--max-clients 63", "--port"};
    expect_usage_errors("step02-server", bad, sizeof bad / sizeof bad[0], "usage: step02-server");
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

/* step02-read-once, the chapter's first program, on a file of `size` bytes: its status,
 * with the child's output left in *p (freed by the caller). */
static int read_once_on(size_t size, tk_process **p)
{
    char path[MAX_PATH];
    tk_temp_file(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc('a' + (int)(i % 26), f);
    fclose(f);
    char args[MAX_PATH + 4];
    snprintf(args, sizeof args, "\"%s\"", path);
    *p = tk_spawn("step02-read-once", args);
    int status = tk_wait_exit(*p, 20000);
    DeleteFileA(path);
    return status;
}

static void read_once_reads_a_file_and_says_how_the_read_started(void **state)
{
    (void)state;
    tk_process *p;
    assert_int_equal(read_once_on(5000, &p), 0);
    assert_true(strstr(tk_stdout(p), "ReadFile: done at once") != NULL ||
                strstr(tk_stdout(p), "ReadFile: started") != NULL);
    assert_non_null(strstr(tk_stdout(p), "read 5000 bytes"));
    tk_process_free(p);
    assert_int_equal(read_once_on(100000, &p), 0); /* more than its 64 KiB buffer */
    assert_non_null(strstr(tk_stdout(p), "read 65536 bytes"));
    tk_process_free(p);
}

/* At the end of the file a read has nothing to give: ERROR_HANDLE_EOF, at once or through
 * GetOverlappedResult. That is 0 bytes, not a failure. */
static void read_once_reads_0_bytes_from_an_empty_file(void **state)
{
    (void)state;
    tk_process *p;
    assert_int_equal(read_once_on(0, &p), 0);
    assert_string_equal(tk_stderr(p), "");
    tk_process_free(p);
}

static void read_once_without_a_file_exits_with_status_2_and_usage(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "--bogus", "a b"};
    expect_usage_errors("step02-read-once", bad, sizeof bad / sizeof bad[0],
                        "usage: step02-read-once FILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_bad_flag_or_value_exits_with_status_2_and_usage),
        cmocka_unit_test(it_echoes_then_stops_by_itself_after_seconds),
        cmocka_unit_test(read_once_reads_a_file_and_says_how_the_read_started),
        cmocka_unit_test(read_once_reads_0_bytes_from_an_empty_file),
        cmocka_unit_test(read_once_without_a_file_exits_with_status_2_and_usage),
    };
    return cmocka_run_group_tests_name("step02 program", tests, tk_winsock_up, tk_winsock_down);
}
