/* The real program, spawned as a learner runs it: the CLI contract and the leak report. */
#include <stdio.h>
#include <string.h>

#include "tutorial/testkit.h"

/* The program refuses args with status 2, a line that says what is wrong, and the usage. */
static void assert_refused(const char *args, const char *problem)
{
    tk_process *p = tk_spawn(SERVER_PROGRAM, args);
    assert_int_equal(tk_wait_exit(p, 20000), 2);
    assert_non_null(strstr(tk_stderr(p), problem));
    assert_non_null(strstr(tk_stderr(p), "usage: " SERVER_PROGRAM));
    tk_process_free(p);
}

static void a_bad_flag_exits_with_status_2_and_the_usage(void **state)
{
    (void)state;
    assert_refused("--port 0 --max-frame lots", "--max-frame wants a whole number");
}

static void a_bad_fault_plan_exits_with_status_2_the_reason_and_the_usage(void **state)
{
    (void)state;
    assert_refused("--port 0 --faults receive#0=fail:64", "--faults: \"#0\": not #N");
    /* and an outcome Windows cannot produce: a failure "with" ERROR_IO_PENDING */
    assert_refused("--port 0 --faults receive#1=fail:997", "not a failure");
}

/* Under Wine the server says on its error stream which reset behaviour it runs with. */
static void assert_reset_label(tk_process *p, const char *label)
{
    if (tk_under_wine())
        assert_non_null(strstr(tk_stderr(p), label));
    else
        assert_null(strstr(tk_stderr(p), "under Wine"));
}

static const char *last_line(const char *text, char *line, size_t size)
{
    size_t length = strlen(text);
    while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == '\r'))
        length--;
    size_t start = length;
    while (start > 0 && text[start - 1] != '\n')
        start--;
    snprintf(line, size, "%.*s", (int)(length - start), text + start);
    return line;
}

static void one_second_of_serving_ends_cleanly_with_an_empty_leak_report(void **state)
{
    (void)state;
    tk_process *p;
    tk_start_server(&p, SERVER_PROGRAM, "--port 0 --seconds 1");
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    char line[128];
    assert_string_equal(last_line(tk_stdout(p), line, sizeof line), "leaked: 0 contexts, 0 bytes");
    assert_reset_label(p, "under Wine: resets behave as on Windows"); /* the default */
    tk_process_free(p);
}

static void stats_lines_have_the_keys_the_demo_parses_and_wine_resets_is_labelled(void **state)
{
    (void)state;
    tk_process *p;
    tk_start_server(&p, SERVER_PROGRAM, "--port 0 --seconds 2 --stats --wine-resets");
    char line[256];
    assert_true(tk_wait_for_line(p, "stats: ", 20000, line, sizeof line));
    int seconds;
    long accepted, resets, frames, live, disposed;
    unsigned long long bytes, private_bytes;
    int matched = sscanf(line,
                         "stats: seconds=%d accepted=%ld resets=%ld frames=%ld live_contexts=%ld "
                         "disposed_in_progress=%ld context_bytes=%llu private_bytes=%llu",
                         &seconds, &accepted, &resets, &frames, &live, &disposed, &bytes,
                         &private_bytes);
    assert_int_equal(matched, 8);
    assert_int_equal(seconds, 1);
    assert_int_equal(live, 2 * 8); /* the 8 outstanding accepts: an IN and an OUT context each */
    assert_true(private_bytes > 0);
    assert_int_equal(tk_wait_exit(p, 20000), 0);
    assert_reset_label(p, "under Wine: Wine's own resets"); /* --wine-resets */
    tk_process_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_bad_flag_exits_with_status_2_and_the_usage),
        cmocka_unit_test(a_bad_fault_plan_exits_with_status_2_the_reason_and_the_usage),
        cmocka_unit_test(one_second_of_serving_ends_cleanly_with_an_empty_leak_report),
        cmocka_unit_test(stats_lines_have_the_keys_the_demo_parses_and_wine_resets_is_labelled),
    };
    return cmocka_run_group_tests_name("program", tests, NULL, NULL);
}
