/* The page heap turns misuse of memory into a stop with a report: a read after free, a
 * write past the end, a double free, and a touch after free on another thread each end the
 * process with PAGE_HEAP_FAULT_EXIT and say what was touched. Correct use runs through. */
#include <string.h>

#include "tutorial/page_heap.h"
#include "tutorial/testkit.h"

static void run_child(const char *what, int expected_status, const char *expected_text)
{
    tk_process *child = tk_spawn("page-heap-child", what);
    assert_non_null(child);
    int status = tk_wait_exit(child, TK_PROMPT_MS);
    print_message("%s: exit %d\n%s", what, status, tk_stderr(child));
    assert_int_equal(status, expected_status);
    if (expected_text != NULL)
        assert_non_null(strstr(tk_stderr(child), expected_text));
    assert_null(strstr(tk_stdout(child), "not stopped"));
    tk_process_free(child);
}

static void correct_use_runs_through_the_page_heap(void **state)
{
    (void)state;
    run_child("fine", 0, NULL);
}

static void a_read_after_free_is_stopped_and_reported(void **state)
{
    (void)state;
    run_child("use-after-free", PAGE_HEAP_FAULT_EXIT, "block that was FREED (use after free)");
}

static void a_write_past_the_end_is_stopped_and_reported(void **state)
{
    (void)state;
    run_child("overrun", PAGE_HEAP_FAULT_EXIT, "past the end of a 16-byte block");
}

static void a_double_free_is_stopped_and_reported(void **state)
{
    (void)state;
    run_child("double-free", PAGE_HEAP_FAULT_EXIT, "DOUBLE FREE");
}

static void a_touch_after_free_on_another_thread_is_stopped_too(void **state)
{
    (void)state;
    run_child("thread-use-after-free", PAGE_HEAP_FAULT_EXIT, "(use after free)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(correct_use_runs_through_the_page_heap),
        cmocka_unit_test(a_read_after_free_is_stopped_and_reported),
        cmocka_unit_test(a_write_past_the_end_is_stopped_and_reported),
        cmocka_unit_test(a_double_free_is_stopped_and_reported),
        cmocka_unit_test(a_touch_after_free_on_another_thread_is_stopped_too),
    };
    return cmocka_run_group_tests_name("page_heap", tests, NULL, NULL);
}
